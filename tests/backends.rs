//! End-to-end tests of the other container types against the real engines:
//! LXC (Debian's lxc 5.0, containers made from the loopback registry's
//! images with `lxc-create -t oci`), docker+git (a git repository the test
//! makes, built by the real Docker engine), a switch docker → lxc → docker,
//! and the types that are refused (snapcraft, vagrant). The snap backend is
//! tested in tests/snap.rs, against a stand-in for snapd.
//!
//! `scripts/test.sh` starts the services (scripts/services.sh installs lxc,
//! skopeo, umoci and jq) and builds the images; a test fails, never skips,
//! when they are missing. Each test has its own root, free ports and names
//! prefixed with a tag of its own; a guard removes its Docker and LXC
//! containers, its built images and stops its nginx even when it fails.

mod common;

use common::{docker, free_port, get, run, text};

use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Output};
use std::time::Duration;

use assert_cmd::Command;

/// LXC's own containers folder (lxc-config lxc.lxcpath).
const LXC_PATH: &str = "/var/lib/lxc";

/// Fails (never skips) when the engine, the registry or LXC is missing.
fn require_services() {
    let out = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert!(
        out.status.success(),
        "the Docker engine is not reachable: run scripts/services.sh first ({})",
        text(&out)
    );
    let reg = run(
        "curl",
        &["-fsS", "http://127.0.0.1:5000/v2/demo/web/tags/list"],
    );
    assert!(
        reg.status.success(),
        "the loopback registry or its demo images are missing: run scripts/services.sh and scripts/images.sh"
    );
    for tool in ["lxc-create", "skopeo", "umoci", "jq", "git"] {
        assert!(
            Proc::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .unwrap()
                .status
                .success(),
            "{tool} is missing: run scripts/services.sh"
        );
    }
}

/// A server under a temporary root (as tests/instance.rs), with our
/// dictionaries and templates, a private nginx on a free port.
struct Site {
    root: tempfile::TempDir,
    tag: String,
    http_port: u16,
    /// Images the test built, removed at the end.
    images: Vec<String>,
}

impl Site {
    fn new(tag: &str) -> Site {
        require_services();
        let root = tempfile::tempdir().unwrap();
        common::install_eole_layout(root.path());
        let site = Site {
            root,
            tag: format!("{tag}{}", std::process::id() % 100000),
            http_port: free_port(),
            images: Vec::new(),
        };
        site.clean_engines();
        let port = site.http_port.to_string();
        site.set("conteneur_proxy_mode", &["private"]);
        site.set("conteneur_proxy_listen", &["127.0.0.1"]);
        site.set("conteneur_http_port", &[&port]);
        site.set("conteneur_health_timeout", &["10"]);
        // These tests look at the engines right after each run: replaced
        // containers are stopped within it (tests/update.rs covers drains).
        site.set("conteneur_drain_grace", &["0"]);
        site
    }

    fn name(&self, short: &str) -> String {
        format!("{}-{short}", self.tag)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("conteneur").unwrap();
        c.arg("--root").arg(self.root.path()).args(args);
        c.env_remove("CONTENEUR_ROOT")
            .env_remove("DOCKER_HOST")
            .env_remove("CONTENEUR_LXC_PATH")
            .env_remove("CONTENEUR_SNAPD_SOCKET");
        c.timeout(Duration::from_secs(300));
        c
    }

    fn set(&self, var: &str, values: &[&str]) {
        let mut args = vec!["set", var];
        args.extend_from_slice(values);
        let out = self.cmd(&args).output().unwrap();
        assert!(out.status.success(), "set {var}: {}", text(&out));
    }

    /// Container X: name, type, image, tag, port 80 inside, `port` outside.
    fn container(&self, x: u32, short: &str, kind: &str, image: &str, tag: &str, port: u16) {
        let n = |v: &str| format!("conteneur{x}_{v}");
        self.set(&n("name"), &[&self.name(short)]);
        self.set(&n("type"), &[kind]);
        self.set(&n("url"), &[image]);
        self.set(&n("tag"), &[tag]);
        self.set(&n("port_in"), &["80"]);
        self.set(&n("port_out"), &[&port.to_string()]);
    }

    fn run(&self, what: &str) -> Output {
        self.cmd(&[what, "--quiet"]).output().unwrap()
    }

    fn run_ok(&self, what: &str) -> String {
        let out = self.run(what);
        assert!(out.status.success(), "{what} failed:\n{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn url(&self, short: &str) -> String {
        format!("http://127.0.0.1:{}/{}/", self.http_port, self.name(short))
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.path().join(p)
    }

    /// The LXC container conteneur made for `short` (its LXC name is the
    /// container's name, or that name with .next after a replacement).
    fn lxc(&self, short: &str) -> Option<String> {
        let name = self.name(short);
        [name.clone(), format!("{name}.next")]
            .into_iter()
            .find(|n| {
                std::fs::read_to_string(Path::new(LXC_PATH).join(n).join("conteneur.json"))
                    .is_ok_and(|m| m.contains(&format!("\"name\": \"{name}\"")))
            })
    }

    /// LXC name, state and init pid: a restart changes the pid.
    fn lxc_identity(&self, short: &str) -> (String, String) {
        let n = self
            .lxc(short)
            .unwrap_or_else(|| panic!("no LXC container for {}", self.name(short)));
        let out = run("lxc-info", &["-n", &n, "-s", "-p", "-H"]);
        (n, String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn docker_exists(&self, short: &str) -> bool {
        docker(&["inspect", &self.name(short)]).status.success()
    }

    fn docker_identity(&self, short: &str) -> String {
        let out = docker(&[
            "inspect",
            "--format",
            "{{.Id}} {{.State.StartedAt}}",
            &self.name(short),
        ]);
        assert!(out.status.success(), "{} is missing", self.name(short));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn clean_engines(&self) {
        let out = docker(&["ps", "-aq", "--filter", &format!("name=^{}-", self.tag)]);
        for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            docker(&["rm", "-f", id]);
        }
        if let Ok(dir) = std::fs::read_dir(LXC_PATH) {
            for e in dir.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with(&format!("{}-", self.tag)) {
                    run("lxc-destroy", &["-n", &n, "-f"]);
                }
            }
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        common::stop_private_nginx(self.root.path());
        self.clean_engines();
        for i in &self.images {
            docker(&["rmi", "-f", i]);
        }
    }
}

const UNCHANGED: &str = "0 created, 0 replaced, 0 started, 0 removed, 1 unchanged";

#[test]
fn lxc_from_the_loopback_registry_behind_nginx() {
    let site = Site::new("l1");
    let port = free_port();
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "lxc", "localhost:5000/demo/web", "1.0", port);
    // A host folder shared with the container (an lxc.mount.entry).
    site.set("conteneur1_mountpoint_in", &["/www/data"]);
    site.set("conteneur1_mountpoint_out", &["/srv/web"]);
    site.set("conteneur1_memory", &["64m"]);
    site.set("conteneur1_env", &["GREETING=hello world"]);

    let plan = site.cmd(&["plan"]).output().unwrap();
    let plan = text(&plan);
    assert!(
        plan.contains("pull     localhost:5000/demo/web:1.0 for lxc")
            && plan.contains(&format!("create   {} on lxc", site.name("web"))),
        "{plan}"
    );
    let out = site.run_ok("instance");
    assert!(out.contains("1 created"), "{out}");
    assert_eq!(get(&site.url("web")).unwrap().trim(), "web 1.0");
    // The container's port 80 is published on 127.0.0.1:port only.
    assert_eq!(
        get(&format!("http://127.0.0.1:{port}/")).unwrap().trim(),
        "web 1.0"
    );
    let data = site.path("srv/web");
    std::fs::write(data.join("page.txt"), "kept\n").unwrap();
    assert_eq!(
        get(&format!("{}data/page.txt", site.url("web"))).unwrap(),
        "kept\n"
    );
    // Ours, said in its folder; settings mapped into its configuration.
    let lxc = site.lxc("web").expect("the LXC container");
    let config = std::fs::read_to_string(Path::new(LXC_PATH).join(&lxc).join("config")).unwrap();
    assert!(config.contains("# conteneur: managed server="), "{config}");
    assert!(config.contains("lxc.start.auto = 1"), "{config}");
    assert!(config.contains("memory"), "{config}");
    assert!(config.contains("lxc.mount.entry = "), "{config}");
    // Under LXC's init, startable by lxc-start (and lxc-autostart at boot).
    assert!(
        config.contains("lxc.init.cmd = /.conteneur-init -n "),
        "{config}"
    );

    // The memory limit and the environment are in force.
    let v2 = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .is_ok_and(|c| c.split_whitespace().any(|w| w == "memory"));
    let key = if v2 {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    let limit = run("lxc-cgroup", &["-n", &lxc, key]);
    assert_eq!(
        String::from_utf8_lossy(&limit.stdout).trim(),
        "67108864",
        "{}",
        text(&limit)
    );
    let pid = run("lxc-info", &["-n", &lxc, "-p", "-H"]);
    let pid = String::from_utf8_lossy(&pid.stdout).trim().to_string();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|e| e == b"GREETING=hello world"),
        "{}",
        String::from_utf8_lossy(&environ)
    );

    // No change: nothing restarted (same LXC container, same init pid).
    let before = site.lxc_identity("web");
    assert!(before.1.contains("RUNNING"), "{before:?}");
    let out = site.run_ok("reconfigure");
    assert!(out.contains(UNCHANGED), "{out}");
    assert_eq!(site.lxc_identity("web"), before);

    // plan and status show the LXC container on its engine.
    let plan = site.cmd(&["plan", "--json"]).output().unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(plan["steps"][0]["action"], "leave", "{plan}");
    assert_eq!(plan["steps"][0]["backend"], "lxc", "{plan}");
    let status = site.cmd(&["status", "--json"]).output().unwrap();
    assert!(status.status.success(), "{}", text(&status));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let c = &status["containers"][0];
    assert_eq!(c["backend"], "lxc", "{status}");
    assert_eq!(c["actual"], "running", "{status}");
    assert_eq!(c["health"], "healthy", "{status}");

    // A tag change replaces it; the data stays.
    site.set("conteneur1_tag", &["2.0"]);
    let out = site.run_ok("reconfigure");
    assert!(out.contains("1 replaced"), "{out}");
    assert_eq!(get(&site.url("web")).unwrap().trim(), "web 2.0");
    assert_ne!(site.lxc_identity("web"), before);
    assert_eq!(
        get(&format!("{}data/page.txt", site.url("web"))).unwrap(),
        "kept\n"
    );
    let after = site.lxc_identity("web");
    let out = site.run_ok("reconfigure");
    assert!(out.contains(UNCHANGED), "{out}");
    assert_eq!(site.lxc_identity("web"), after);

    // A tag missing from the registry: the pull fails, nothing changes.
    site.set("conteneur1_tag", &["9.9"]);
    let out = site.run("reconfigure");
    let err = text(&out);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains("localhost:5000/demo/web:9.9") && err.contains("no container was changed"),
        "{err}"
    );
    assert_eq!(get(&site.url("web")).unwrap().trim(), "web 2.0");
    assert_eq!(site.lxc_identity("web"), after);

    // An image that never answers is rolled back: the old one serves.
    site.set("conteneur1_tag", &["1.0"]);
    site.set("conteneur1_url", &["localhost:5000/demo/broken"]);
    site.set("conteneur_health_timeout", &["3"]);
    let out = site.run("reconfigure");
    let err = text(&out);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(err.contains("previous container keeps serving"), "{err}");
    assert_eq!(get(&site.url("web")).unwrap().trim(), "web 2.0");
    assert_eq!(site.lxc_identity("web").0, after.0);

    // Stopped behind conteneur's back: started again by the next run.
    let lxc = site.lxc("web").unwrap();
    let out = run("lxc-stop", &["-n", &lxc, "-t", "5"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(get(&site.url("web")).is_err());
    site.set("conteneur1_url", &["localhost:5000/demo/web"]);
    site.set("conteneur1_tag", &["2.0"]);
    let out = site.run_ok("reconfigure");
    assert!(out.contains("1 started"), "{out}");
    assert_eq!(get(&site.url("web")).unwrap().trim(), "web 2.0");
    // Started by hand as lxc-autostart does at boot (lxc-start): its port
    // forward comes back with it.
    let out = run("lxc-stop", &["-n", &lxc, "-t", "5"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run("lxc-start", &["-n", &lxc]);
    assert!(out.status.success(), "{}", text(&out));
    let mut served = Err(String::new());
    for _ in 0..50 {
        served = get(&site.url("web"));
        if served.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(served.unwrap().trim(), "web 2.0");

    // Removed when no longer configured; the host data is kept.
    site.set("nombre_conteneur", &["0"]);
    let out = site.run_ok("reconfigure");
    assert!(out.contains("1 removed"), "{out}");
    assert!(site.lxc("web").is_none());
    assert_eq!(
        std::fs::read_to_string(data.join("page.txt")).unwrap(),
        "kept\n"
    );
}

#[test]
fn lxc_never_touches_a_container_that_is_not_ours() {
    let site = Site::new("l2");
    // Someone else's LXC container, with the name conteneur would use.
    let foreign = site.name("web");
    let out = run("lxc-create", &["-n", &foreign, "-t", "busybox"]);
    assert!(out.status.success(), "{}", text(&out));
    site.set("nombre_conteneur", &["1"]);
    site.container(
        1,
        "web",
        "lxc",
        "localhost:5000/demo/web",
        "1.0",
        free_port(),
    );
    let out = site.run("instance");
    let err = text(&out);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains("not created by conteneur") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(!site.path("etc/eole/.instance").exists());
    // Under another name, ours runs beside it and theirs is left alone.
    site.set("conteneur1_name", &[&site.name("mine")]);
    site.run_ok("instance");
    assert_eq!(get(&site.url("mine")).unwrap().trim(), "web 1.0");
    site.set("nombre_conteneur", &["0"]);
    site.run_ok("reconfigure");
    assert!(site.lxc("mine").is_none());
    assert!(
        Path::new(LXC_PATH).join(&foreign).join("config").exists(),
        "the foreign container was touched"
    );
}

/// `conteneur logs` of an LXC container is its console log; with `--old`,
/// the replaced one still draining too, each line after its name.
#[test]
fn lxc_logs_are_the_console_log_and_old_adds_the_draining_one() {
    let site = Site::new("lg");
    site.set("nombre_conteneur", &["1"]);
    site.container(
        1,
        "web",
        "lxc",
        "localhost:5000/demo/web",
        "1.0",
        free_port(),
    );
    site.run_ok("instance");
    // What the container writes on its console.
    let say = |short: &str, line: &str| {
        let lxc = site.lxc(short).expect("the LXC container");
        let out = run(
            "lxc-attach",
            &[
                "-n",
                &lxc,
                "--",
                "/bin/sh",
                "-c",
                &format!("echo {line} > /dev/console"),
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
    };
    let logs = |args: &[&str]| {
        let name = site.name("web");
        let mut all = vec!["logs", name.as_str()];
        all.extend_from_slice(args);
        let out = site.cmd(&all).output().unwrap();
        assert!(out.status.success(), "logs {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    say("web", "first-line-1.0");
    say("web", "second-line-1.0");
    // A console's lines end as a terminal's: CR LF (`lines` takes both).
    let all = logs(&[]);
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines, ["first-line-1.0", "second-line-1.0"], "{all}");
    let last = logs(&["--tail", "1"]);
    assert_eq!(last.lines().collect::<Vec<_>>(), ["second-line-1.0"]);

    // Replaced, the old one left to drain: only with --old, named.
    site.set("conteneur_drain_grace", &["20"]);
    site.set("conteneur1_tag", &["2.0"]);
    let out = site.run_ok("reconfigure");
    assert!(out.contains("1 replaced"), "{out}");
    say("web", "line-2.0");
    let now = logs(&[]);
    assert!(now.contains("line-2.0") && !now.contains("1.0"), "{now}");
    let with_old = logs(&["--old"]);
    let old = format!("{}.old.", site.name("web"));
    let lines: Vec<&str> = with_old.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&old) && l.ends_with("| second-line-1.0")),
        "{with_old}"
    );
    assert!(
        lines
            .iter()
            .any(|l| *l == format!("{} | line-2.0", site.name("web"))),
        "{with_old}"
    );
    // The draining one's lines come first: they are the older.
    let first_old = lines.iter().position(|l| l.starts_with(&old)).unwrap();
    let first_new = lines
        .iter()
        .position(|l| l.ends_with("| line-2.0"))
        .unwrap();
    assert!(first_old < first_new, "{with_old}");
}

/// Loops through nginx and on port_out, 60 requests a second each.
fn under_load(site: &Site, short: &str, port_out: u16) -> [common::load::Load; 2] {
    let at = |p: u16| std::net::SocketAddr::from(([127, 0, 0, 1], p));
    let path = format!("/{}/", site.name(short));
    let max = Duration::from_secs(90);
    let loads = [
        common::load::start(at(site.http_port), &path, 60, max),
        common::load::start(at(port_out), "/", 60, max),
    ];
    std::thread::sleep(Duration::from_millis(300));
    loads
}

/// Stops the loops: no failed request, only `versions` answered.
fn no_failed_request(loads: [common::load::Load; 2], versions: &[&str]) {
    std::thread::sleep(Duration::from_millis(300));
    for l in loads {
        let t = l.finish();
        eprintln!("{t}");
        assert_eq!(t.failed(), 0, "{t}");
        assert!(t.only(versions), "{t}");
        assert!(t.rate() >= 50.0, "{t}");
    }
}

/// Waits (bounded) until the drained container is gone, running
/// `conteneur drain` meanwhile, as `conteneur-drain.timer` does on a
/// server (no systemd here: the test is the timer).
fn drained(site: &Site, gone: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    // Renamed at once; gone once the drain journal no longer holds it.
    let journal = site.path("var/lib/conteneur/drain/journal.json");
    while !gone() || journal.exists() {
        let _ = site.cmd(&["drain"]).output();
        assert!(
            std::time::Instant::now() < deadline,
            "the replaced container is still there 30 s after the run"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn switching_docker_lxc_docker_keeps_the_route_and_the_data() {
    let site = Site::new("s1");
    // The same replace protocol across engines: measured under load.
    site.set("conteneur_drain_grace", &["1"]);
    site.set("nombre_conteneur", &["1"]);
    let port_out = free_port();
    site.container(
        1,
        "notes",
        "docker",
        "localhost:5000/demo/notes",
        "1.0",
        port_out,
    );
    site.set("conteneur1_mountpoint_in", &["/www/data"]);
    site.set("conteneur1_mountpoint_out", &["/srv/notes"]);
    site.run_ok("instance");
    std::fs::write(site.path("srv/notes/page.txt"), "kept\n").unwrap();
    let page = format!("{}data/page.txt", site.url("notes"));
    assert_eq!(get(&page).unwrap(), "kept\n");
    assert!(site.docker_exists("notes"));

    // docker → lxc: created on LXC, the docker one removed once it serves.
    site.set("conteneur1_type", &["lxc"]);
    let plan = text(&site.cmd(&["plan"]).output().unwrap());
    assert!(plan.contains("docker → lxc"), "{plan}");
    let loads = under_load(&site, "notes", port_out);
    let out = site.run_ok("reconfigure");
    no_failed_request(loads, &["notes 1.0"]);
    assert!(out.contains("1 replaced"), "{out}");
    drained(&site, || !site.docker_exists("notes"));
    assert!(site.lxc("notes").is_some());
    assert_eq!(get(&site.url("notes")).unwrap().trim(), "notes 1.0");
    assert_eq!(get(&page).unwrap(), "kept\n");
    let out = site.run_ok("reconfigure");
    assert!(out.contains(UNCHANGED), "{out}");

    // lxc → docker.
    site.set("conteneur1_type", &["docker"]);
    let loads = under_load(&site, "notes", port_out);
    let out = site.run_ok("reconfigure");
    no_failed_request(loads, &["notes 1.0"]);
    assert!(out.contains("1 replaced"), "{out}");
    drained(&site, || site.lxc("notes").is_none());
    assert!(site.docker_exists("notes"));
    assert_eq!(get(&site.url("notes")).unwrap().trim(), "notes 1.0");
    assert_eq!(get(&page).unwrap(), "kept\n");
    let before = site.docker_identity("notes");
    let out = site.run_ok("reconfigure");
    assert!(out.contains(UNCHANGED), "{out}");
    assert_eq!(site.docker_identity("notes"), before);
}

/// A git repository made by the test: a Dockerfile FROM scratch with
/// busybox, serving a page.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let r = Repo { dir };
        std::fs::create_dir_all(r.dir.path().join("www")).unwrap();
        std::fs::copy("/bin/busybox", r.dir.path().join("busybox"))
            .expect("/bin/busybox (busybox-static) is needed");
        r.write(
            "Dockerfile",
            "FROM scratch\n\
             COPY busybox /bin/busybox\n\
             COPY www /www\n\
             EXPOSE 80\n\
             CMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n",
        );
        r.git(&["init", "--quiet", "--initial-branch=main"]);
        r.git(&["config", "user.email", "test@conteneur.invalid"]);
        r.git(&["config", "user.name", "test"]);
        r
    }

    fn write(&self, file: &str, content: &str) {
        std::fs::write(self.dir.path().join(file), content).unwrap();
    }

    fn git(&self, args: &[&str]) {
        let out = Proc::new("git")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
    }

    /// Commits the page `page` and tags it `tag` (moving the tag if asked).
    fn release(&self, page: &str, tag: &str) {
        self.write("www/index.html", &format!("{page}\n"));
        self.git(&["add", "-A"]);
        self.git(&["commit", "--quiet", "-m", page]);
        self.git(&["tag", "-f", "-a", tag, "-m", page]);
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }
}

#[test]
fn docker_git_builds_once_per_commit_and_a_failed_build_keeps_the_old_one() {
    let mut site = Site::new("g1");
    let repo = Repo::new();
    repo.release("site v1", "v1");
    let image = format!("conteneur-test/{}-site", site.tag);
    site.images = vec![
        format!("{image}:v1"),
        format!("{image}:v2"),
        format!("{image}:v3"),
    ];
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "site", "docker+git", &image, "v1", free_port());
    site.set("conteneur1_repository", &[&repo.url()]);

    let plan = text(&site.cmd(&["plan"]).output().unwrap());
    assert!(
        plan.contains(&format!("build    {image}:v1 from {}", repo.url()))
            && plan.contains("not built yet"),
        "{plan}"
    );
    let out = site.run_ok("instance");
    assert!(out.contains("1 created"), "{out}");
    assert_eq!(get(&site.url("site")).unwrap().trim(), "site v1");
    // The image says which commit it was built from.
    let label = docker(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"fr.eole.conteneur.git-commit\"}}",
        &format!("{image}:v1"),
    ]);
    let head = Proc::new("git")
        .args(["rev-parse", "v1^{commit}"])
        .current_dir(repo.dir.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&label.stdout).trim(),
        String::from_utf8_lossy(&head.stdout).trim()
    );

    // Unchanged: no build, no restart.
    let before = site.docker_identity("site");
    let out = site.run_ok("reconfigure");
    assert!(out.contains(UNCHANGED) && !out.contains("build"), "{out}");
    assert_eq!(site.docker_identity("site"), before);

    // status reads the repository as a run does: as configured, exit 0.
    let st = site.cmd(&["status"]).output().unwrap();
    assert_eq!(st.status.code(), Some(0), "{}", text(&st));
    // A repository that cannot be read is said, without failing: the
    // container is compared with the commit its image was built from.
    let away = repo.dir.path().with_extension("away");
    std::fs::rename(repo.dir.path(), &away).unwrap();
    let st = site.cmd(&["status"]).output().unwrap();
    std::fs::rename(&away, repo.dir.path()).unwrap();
    let said = text(&st);
    assert_eq!(st.status.code(), Some(0), "{said}");
    assert!(
        said.contains("note: the repository was not read")
            && said.contains("compared with the commit its image was built from"),
        "{said}"
    );

    // A new tag: built and replaced.
    repo.release("site v2", "v2");
    site.set("conteneur1_tag", &["v2"]);
    let out = site.run_ok("reconfigure");
    assert!(
        out.contains("build ") && out.contains("1 replaced"),
        "{out}"
    );
    assert_eq!(get(&site.url("site")).unwrap().trim(), "site v2");

    // The same tag moved to another commit: built again, replaced.
    repo.release("site v2 fixed", "v2");
    let out = site.run_ok("reconfigure");
    assert!(
        out.contains("'v2' moved") && out.contains("1 replaced"),
        "{out}"
    );
    assert_eq!(get(&site.url("site")).unwrap().trim(), "site v2 fixed");
    let before = site.docker_identity("site");

    // A build that fails: the old container keeps serving.
    repo.write(
        "Dockerfile",
        "FROM scratch\nCOPY no-such-file /x\nCMD [\"/x\"]\n",
    );
    repo.release("site v3", "v3");
    site.set("conteneur1_tag", &["v3"]);
    let out = site.run("reconfigure");
    let err = text(&out);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains(&format!("building {image}:v3 from {}", repo.url()))
            && err.contains("no container was changed"),
        "{err}"
    );
    assert_eq!(get(&site.url("site")).unwrap().trim(), "site v2 fixed");
    assert_eq!(site.docker_identity("site"), before);

    // A tag the repository does not have: refused before anything.
    site.set("conteneur1_tag", &["v9"]);
    let out = site.run("reconfigure");
    let err = text(&out);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains(&format!("container '{}'", site.name("site")))
            && err.contains("no tag or branch 'v9'")
            && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(site.docker_identity("site"), before);
}

/// A build whose `RUN` hangs, printing nothing, is abandoned after
/// conteneur_build_timeout, as a stalled pull is: the run fails before
/// anything changed, naming the build and its step, and does not hang.
#[test]
fn a_build_that_hangs_is_abandoned_after_the_build_timeout() {
    let mut site = Site::new("g2");
    let repo = Repo::new();
    repo.write(
        "Dockerfile",
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sleep\", \"600\"]\n",
    );
    repo.release("hangs", "v1");
    let image = format!("conteneur-test/{}-hang", site.tag);
    site.images = vec![format!("{image}:v1")];
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "hang", "docker+git", &image, "v1", free_port());
    site.set("conteneur1_repository", &[&repo.url()]);
    site.set("conteneur_build_timeout", &["3"]);
    let begin = std::time::Instant::now();
    let out = site.run("instance");
    let took = begin.elapsed();
    let err = text(&out);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains(&format!("building {image}:v1 from {}", repo.url()))
            && err.contains("printed nothing for 3 s")
            && err.contains("(after '")
            && err.contains("no container was changed"),
        "{err}"
    );
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert!(!site.docker_exists("hang"));
}

#[test]
fn snapcraft_and_vagrant_are_refused_early_naming_the_container() {
    let site = Site::new("u1");
    site.set("nombre_conteneur", &["2"]);
    site.container(
        1,
        "web",
        "docker",
        "localhost:5000/demo/web",
        "1.0",
        free_port(),
    );
    for t in ["snapcraft", "vagrant"] {
        site.container(2, "legacy", t, "legacy/app", "1.0", free_port());
        let want = format!(
            "container '{}': type '{t}' is not supported yet",
            site.name("legacy")
        );
        // lint: a problem naming the container.
        let out = site.cmd(&["lint"]).output().unwrap();
        let out_text = text(&out);
        assert_eq!(out.status.code(), Some(1), "{out_text}");
        assert!(
            out_text.contains(&want) && out_text.contains("conteneur2_type"),
            "{out_text}"
        );
        // plan and instance: the same, and nothing done.
        for what in ["plan", "instance"] {
            let out = site.cmd(&[what]).output().unwrap();
            let err = text(&out);
            assert_eq!(out.status.code(), Some(8), "{what}: {err}");
            assert!(
                err.contains(&want) && err.contains("nothing was changed"),
                "{what}: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
        assert!(!site.path("etc/eole/.instance").exists());
        assert!(!site.path("var/lib/conteneur/launch.json").exists());
        assert!(!site.docker_exists("web"));
    }
}
