//! End-to-end test of `conteneur export compose` with the real client:
//! Debian's docker-compose (1.29) must accept the file (`config`), and
//! `docker-compose up -d` on it must run the containers conteneur runs for
//! the same configuration: the test runs `conteneur instance` first, records
//! what the engine says of each container, removes them, runs compose, and
//! compares field by field, then requests the same URLs on 127.0.0.1.
//!
//! It fails, never skips, when docker, docker-compose, the engine or the
//! loopback registry's test images are missing (scripts/services.sh installs
//! and starts them, scripts/images.sh builds the images). Names and ports are
//! unique to the test (other tests share the engine); a guard runs
//! `docker-compose down` and removes the containers even when it fails.

mod common;

use common::{free_port, run, text};

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;

/// Fails (never skips) when a tool or service is missing.
fn require_services() {
    let v = run("docker", &["version", "--format", "{{.Server.APIVersion}}"]);
    assert!(
        v.status.success(),
        "the Docker engine is not reachable: run scripts/services.sh first ({})",
        text(&v)
    );
    let c = run("docker-compose", &["version", "--short"]);
    assert!(
        c.status.success(),
        "docker-compose is missing: run scripts/services.sh"
    );
    let reg = run(
        "curl",
        &["-fsS", "http://127.0.0.1:5000/v2/demo/notes/tags/list"],
    );
    assert!(
        reg.status.success(),
        "the loopback registry or its demo images are missing: run scripts/services.sh and scripts/images.sh"
    );
}

/// A server under a temporary root, with our dictionaries and templates
/// where EOLE puts them, and the compose project made from it. Dropping it
/// takes everything down.
struct Site {
    root: tempfile::TempDir,
    tag: String,
    compose_file: PathBuf,
}

impl Site {
    fn new() -> Site {
        require_services();
        let root = tempfile::tempdir().expect("temp dir");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (from, to) in [
            ("dicos", "usr/share/eole/creole/dicos"),
            ("templates", "usr/share/eole/creole/distrib"),
        ] {
            let dest = root.path().join(to);
            std::fs::create_dir_all(&dest).expect("mkdir");
            for e in std::fs::read_dir(repo.join(from)).expect("read_dir") {
                let p = e.expect("entry").path();
                if let (true, Some(name)) = (p.is_file(), p.file_name()) {
                    std::fs::copy(&p, dest.join(name)).expect("copy");
                }
            }
        }
        let compose_file = root.path().join("compose.json");
        let site = Site {
            root,
            tag: format!("exp{}", std::process::id() % 100000),
            compose_file,
        };
        site.clean_engine();
        site
    }

    fn name(&self, short: &str) -> String {
        format!("{}-{short}", self.tag)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("conteneur").expect("binary");
        c.arg("--root").arg(self.root.path()).args(args);
        c.env_remove("CONTENEUR_ROOT").env_remove("DOCKER_HOST");
        c.timeout(Duration::from_secs(120));
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("run conteneur");
        assert!(out.status.success(), "{args:?} failed:\n{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn set(&self, var: &str, values: &[&str]) {
        let mut args = vec!["set", var];
        args.extend_from_slice(values);
        self.ok(&args);
    }

    fn compose(&self, args: &[&str]) -> Output {
        let file = self.compose_file.display().to_string();
        let mut all = vec!["-p", self.tag.as_str(), "-f", file.as_str()];
        all.extend_from_slice(args);
        run("docker-compose", &all)
    }

    fn clean_engine(&self) {
        let out = run(
            "docker",
            &["ps", "-aq", "--filter", &format!("name=^{}-", self.tag)],
        );
        for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            run("docker", &["rm", "-f", id]);
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        common::stop_private_nginx(self.root.path());
        if self.compose_file.exists() {
            let _ = self.compose(&["down", "--volumes", "--timeout", "1"]);
        }
        self.clean_engine();
        let _ = run("docker", &["volume", "rm", "-f", &self.name("cache")]);
    }
}

/// What the engine says of a container, for the fields both tools set.
fn facts(name: &str) -> serde_json::Value {
    let out = run("docker", &["inspect", name]);
    assert!(out.status.success(), "container {name}: {}", text(&out));
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect JSON");
    let c = &all[0];
    let h = &c["HostConfig"];
    // compose writes binds with an explicit ":rw", the engine's default,
    // and does not keep their order (a set): compare them sorted.
    let mut binds: Vec<String> = h["Binds"]
        .as_array()
        .map(|b| {
            b.iter()
                .filter_map(|v| v.as_str())
                .map(|s| s.trim_end_matches(":rw").to_string())
                .collect()
        })
        .unwrap_or_default();
    binds.sort();
    let mut env: Vec<String> = c["Config"]["Env"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    env.sort();
    // conteneur's instance listens on a host port of its own on 127.0.0.1
    // (nginx forwards port_out to it; the label says which): compared as
    // the port_out compose publishes directly.
    let mut ports = h["PortBindings"].clone();
    let host_ports = c["Config"]["Labels"]["fr.eole.conteneur.host-ports"]
        .as_str()
        .unwrap_or("");
    for pair in host_ports.split(',').filter(|p| !p.is_empty()) {
        let (out, host) = pair.split_once('=').expect("PORT_OUT=HOST");
        for bindings in ports
            .as_object_mut()
            .into_iter()
            .flat_map(|m| m.values_mut())
        {
            for b in bindings.as_array_mut().into_iter().flatten() {
                if b["HostPort"] == host {
                    b["HostPort"] = out.into();
                }
            }
        }
    }
    serde_json::json!({
        "image": c["Config"]["Image"],
        "env": env,
        "stop_timeout": c["Config"]["StopTimeout"],
        "ports": ports,
        "binds": binds,
        "memory": h["Memory"],
        "init": h["Init"],
        "restart": h["RestartPolicy"]["Name"],
        // Hardened by default (no-new-privileges), by both.
        "security": h["SecurityOpt"],
        // The networks joined (HostConfig.NetworkMode says "default" for
        // conteneur's and "bridge" for compose's: the same bridge network).
        "networks": c["NetworkSettings"]["Networks"]
            .as_object()
            .map(|n| n.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default(),
        "running": c["State"]["Running"],
    })
}

/// GET on 127.0.0.1, retried until `deadline` (a container takes a moment).
fn get_until(url: &str, deadline: Instant) -> String {
    loop {
        let out = run("curl", &["-sS", "-f", "--max-time", "3", url]);
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not answer: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn compose_runs_the_same_containers() {
    let site = Site::new();
    let (pa, pb, http) = (free_port(), free_port(), free_port());
    let (a, b) = (site.name("web"), site.name("notes"));
    let volume = site.name("cache");
    site.set("conteneur_proxy_mode", &["private"]);
    site.set("conteneur_proxy_listen", &["127.0.0.1"]);
    site.set("conteneur_http_port", &[&http.to_string()]);
    site.set("conteneur_health_timeout", &["10"]);
    site.set("nombre_conteneur", &["2"]);
    for (x, name, image, port) in [(1, &a, "web", pa), (2, &b, "notes", pb)] {
        let n = |v: &str| format!("conteneur{x}_{v}");
        site.set(&n("name"), &[name]);
        site.set(&n("url"), &[&format!("localhost:5000/demo/{image}")]);
        site.set(&n("tag"), &["1.0"]);
        site.set(&n("port_in"), &["80"]);
        site.set(&n("port_out"), &[&port.to_string()]);
    }
    // Web: an HTTP health path, an environment compose must not
    // interpolate, a memory limit, another restart policy and stop timeout.
    site.set("conteneur1_health_path", &["/health/"]);
    site.set(
        "conteneur1_env",
        &["GREETING=héllo", "PRICE=5$", "REF=${HOME}"],
    );
    site.set("conteneur1_memory", &["64m"]);
    site.set("conteneur1_restart", &["always"]);
    site.set("conteneur1_stop_timeout", &["3"]);
    // Notes: a bind mount (under the root) and a named volume; TCP check.
    site.set("conteneur2_mountpoint_in", &["/www/data", "/cache"]);
    site.set("conteneur2_mountpoint_out", &["/srv/notes", &volume]);

    // 1. conteneur's own containers, as the reference.
    site.ok(&["instance", "--quiet"]);
    let reference = [facts(&a), facts(&b)];
    site.clean_engine();
    // Its nginx forwards port_out: compose publishes port_out itself.
    site.ok(&["proxy", "stop"]);

    // 2. The compose file of the same configuration; compose accepts it.
    let out = site.ok(&["export", "compose"]);
    site.ok(&[
        "export",
        "compose",
        "--output",
        &site.compose_file.display().to_string(),
    ]);
    let written = std::fs::read_to_string(&site.compose_file).expect("file written");
    assert_eq!(out, written, "stdout and --output write the same file");
    let file: serde_json::Value = serde_json::from_str(&written).expect("the file is JSON");
    assert_eq!(file["version"], "3.7");
    let cfg = site.compose(&["config"]);
    assert!(
        cfg.status.success(),
        "docker-compose config refused it:\n{}",
        text(&cfg)
    );

    // 3. compose runs it: the same containers, field by field.
    let up = site.compose(&["up", "-d"]);
    assert!(up.status.success(), "docker-compose up -d:\n{}", text(&up));
    let got = [facts(&a), facts(&b)];
    assert_eq!(got[0], reference[0], "{a}: compose differs from conteneur");
    assert_eq!(got[1], reference[1], "{b}: compose differs from conteneur");
    assert_eq!(got[0]["memory"], 64 * 1024 * 1024);
    assert!(
        got[0]["env"]
            .as_array()
            .is_some_and(|e| e.iter().any(|v| v == "REF=${HOME}")),
        "compose interpolated a value: {}",
        got[0]["env"]
    );
    let bind = site.root.path().join("srv/notes");
    let binds = got[1]["binds"].as_array().cloned().unwrap_or_default();
    for want in [
        format!("{}:/www/data", bind.display()),
        format!("{volume}:/cache"),
    ] {
        assert!(binds.iter().any(|b| *b == want), "{want} not in {binds:?}");
    }

    // 4. The same URLs answer on 127.0.0.1, and the bind folder is served.
    std::fs::create_dir_all(&bind).expect("bind folder");
    std::fs::write(bind.join("hello.txt"), "from the host\n").expect("write");
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = |p: u16, path: &str| format!("http://127.0.0.1:{p}{path}");
    assert_eq!(get_until(&url(pa, "/"), deadline).trim(), "web 1.0");
    assert_eq!(get_until(&url(pb, "/"), deadline).trim(), "notes 1.0");
    assert_eq!(
        get_until(&url(pb, "/data/hello.txt"), deadline).trim(),
        "from the host"
    );

    // 5. Each health check command works in the image (run now rather than
    //    waiting for the engine's first interval).
    for (name, service) in [(&a, "web"), (&b, "notes")] {
        let test = &file["services"][name]["healthcheck"]["test"];
        let argv: Vec<&str> = test
            .as_array()
            .map(|t| t.iter().skip(1).filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        assert!(!argv.is_empty(), "{service}: no health check in {test}");
        let mut args = vec!["exec", name.as_str()];
        args.extend(argv);
        let o = run("docker", &args);
        assert!(
            o.status.success(),
            "{service}: health check failed: {}",
            text(&o)
        );
    }

    // 6. Running it again changes nothing (compose sees the same file).
    let again = site.compose(&["up", "-d"]);
    assert!(again.status.success(), "{}", text(&again));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        !err.contains("Recreating") && !err.contains("Creating"),
        "compose recreated containers on a second run:\n{err}"
    );
}

#[test]
fn export_refuses_an_invalid_configuration() {
    let site = Site::new();
    site.set("nombre_conteneur", &["1"]);
    // conteneur1_name etc. are mandatory and missing: nothing is exported.
    let out = site
        .cmd(&["export", "compose", "--output", "x.json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(!Path::new("x.json").exists(), "nothing is written");
}
