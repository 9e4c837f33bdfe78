//! `conteneur watch` against the real engine, Debian's real `redis-server`
//! and `prometheus-node-exporter`, each started by the test on a free
//! 127.0.0.1 port with folders of its own (killed by a guard); and the
//! audit trail of the same scenario.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::free_port;
use common::site::Site;

/// A child process killed (and resumed first, if stopped) when dropped.
struct Guard {
    child: Child,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-CONT", &pid]).output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn need(tool: &str) {
    assert!(
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false),
        "{tool} is missing: run scripts/services.sh (it installs redis-server and prometheus-node-exporter)"
    );
}

/// Waits (bounded) until `ok` holds.
fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within {} s", limit.as_secs());
}

/// A redis-server of the test's own.
struct Redis {
    port: u16,
    password: Option<String>,
    guard: Guard,
}

impl Redis {
    fn start(password: Option<&str>) -> Redis {
        need("redis-server");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path());
        if let Some(p) = password {
            cmd.args(["--requirepass", p]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let r = Redis {
            port,
            password: password.map(str::to_string),
            guard: Guard {
                child,
                _dir: Some(dir),
            },
        };
        wait_for("redis-server answers PING", Duration::from_secs(10), || {
            r.cli(&["PING"]).trim() == "PONG"
        });
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn cli(&self, args: &[&str]) -> String {
        let mut c = Command::new("redis-cli");
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(p) = &self.password {
            c.args(["--no-auth-warning", "-a", p]);
        }
        let out = c.args(args).output().expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn signal(&self, sig: &str) {
        let pid = self.guard.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        );
    }
}

/// A prometheus-node-exporter of the test's own, reading `dir` only.
fn node_exporter(dir: &Path) -> (u16, Guard) {
    need("prometheus-node-exporter");
    let port = free_port();
    let child = Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--collector.disable-defaults")
        .arg("--collector.textfile")
        .arg(format!("--collector.textfile.directory={}", dir.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus-node-exporter starts");
    let guard = Guard { child, _dir: None };
    wait_for("node_exporter answers", Duration::from_secs(10), || {
        !fetch(port).is_empty()
    });
    (port, guard)
}

fn fetch(port: u16) -> String {
    let out = Command::new("curl")
        .args(["-fsS", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{port}/metrics"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn watch_once(site: &Site) -> Output {
    site.cmd(&["watch", "--once"]).output().unwrap()
}

/// The binary, as `Site::cmd` runs it, but spawned: the long-running
/// reporter.
fn spawn_watch(site: &Site, docker_host: Option<&str>) -> Child {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("conteneur"));
    c.arg("--root").arg(site.root.path()).arg("watch");
    c.env_remove("CONTENEUR_ROOT").env_remove("DOCKER_HOST");
    if let Some(h) = docker_host {
        c.env("DOCKER_HOST", h);
    }
    c.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Lets the reporter run for `d`, checks it still runs, stops it; its
/// stderr.
fn run_for(mut child: Child, d: Duration) -> String {
    std::thread::sleep(d);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the reporter stopped by itself"
    );
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

fn short_id(site: &Site, short: &str) -> String {
    site.identity(short).0[..12].to_string()
}

fn audit_lines(site: &Site) -> Vec<serde_json::Value> {
    std::fs::read_to_string(site.path("var/log/conteneur/audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn prom_dir(site: &Site) -> PathBuf {
    let d = site.path("prom");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn watch_reports_every_container_to_redis_and_node_exporter() {
    let secret = format!("pw-{}-redis-secret", std::process::id());
    let redis = Redis::start(Some(&secret));
    let site = Site::new("wr");
    let prom = prom_dir(&site);
    let (np, _ne) = node_exporter(&prom);
    let before = audit_lines(&site).len();
    site.set("nombre_conteneur", &["2"]);
    site.container(1, "web", "web", "1.0", free_port());
    site.container(2, "api", "web", "1.0", free_port());
    // A killed container stays down (no restart policy brings it back).
    site.set("conteneur1_restart", &["no"]);
    site.set("conteneur_report_interval", &["1"]);
    site.set("conteneur_report_redis", &[&redis.url()]);
    site.set("conteneur_report_redis_password", &[&secret]);
    site.set("conteneur_report_textfile", &["/prom"]);
    site.run_ok("instance");

    let out = watch_once(&site);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(&secret));
    let (web, api) = (short_id(&site, "web"), short_id(&site, "api"));
    let members = redis.cli(&["SMEMBERS", "conteneur:localhost:containers"]);
    let mut members: Vec<&str> = members.split_whitespace().collect();
    members.sort();
    let mut want = vec![web.as_str(), api.as_str()];
    want.sort();
    assert_eq!(members, want);
    for (id, short) in [(&web, "web"), (&api, "api")] {
        let key = format!("conteneur:localhost:{id}");
        let h = redis.cli(&["HGETALL", &key]);
        let f: Vec<&str> = h.lines().collect();
        let get = |k: &str| {
            f.chunks(2)
                .find(|c| c[0] == k)
                .map(|c| c.get(1).copied().unwrap_or_default().to_string())
        };
        assert_eq!(get("name"), Some(site.name(short)), "{h}");
        assert_eq!(get("engine").as_deref(), Some("docker"), "{h}");
        assert_eq!(get("id").as_deref(), Some(id.as_str()), "{h}");
        assert_eq!(get("running").as_deref(), Some("1"), "{h}");
        assert_eq!(
            get("image").as_deref(),
            Some("localhost:5000/demo/web"),
            "{h}"
        );
        assert_eq!(get("tag").as_deref(), Some("1.0"), "{h}");
        assert!(get("image_id").unwrap().starts_with("sha256:"), "{h}");
        assert_eq!(get("restarts").as_deref(), Some("0"), "{h}");
        assert!(
            get("memory_bytes").is_some() && get("processes").is_some(),
            "{h}"
        );
        let ttl: i64 = redis.cli(&["TTL", &key]).trim().parse().unwrap();
        assert!((1..=3).contains(&ttl), "TTL {ttl}");
    }

    // node_exporter serves our metrics over HTTP.
    let page = fetch(np);
    let up = |name: &str, v: u8| {
        format!(
            "conteneur_container_up{{engine=\"docker\",name=\"{}\"}} {v}",
            site.name(name)
        )
    };
    assert!(page.contains(&up("web", 1)), "{page}");
    assert!(page.contains(&up("api", 1)), "{page}");
    assert!(page.contains("conteneur_last_run_success 1"), "{page}");
    assert!(
        page.contains("conteneur_engine_up{engine=\"docker\"} 1"),
        "{page}"
    );
    assert!(
        page.contains("conteneur_container_cpu_seconds_total{"),
        "{page}"
    );
    assert!(page.contains("conteneur_container_info{"), "{page}");
    assert!(!page.contains(&secret));
    // The same text from `metrics`.
    let m = site.cmd(&["metrics"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&m.stdout).contains(&up("web", 1)),
        "{}",
        text(&m)
    );

    // The long-running reporter keeps the engine's records between rounds
    // and asks again those its events name. Killed, web (restart policy
    // `no`) shows down. api's process is killed on the host (not `docker
    // kill`, after which the engine brings nothing back) while the
    // reporter is stopped, and the engine restarts it (`unless-stopped`):
    // running before and after, only the engine's events tell the
    // reporter its record changed, and it shows the restart.
    let prom_file = prom.join("conteneur.prom");
    let metric = |name: &str, short: &str, v: u8| {
        format!(
            "{name}{{engine=\"docker\",name=\"{}\"}} {v}",
            site.name(short)
        )
    };
    // Resumed and killed however the test ends.
    let mut watching = Guard {
        child: spawn_watch(&site, None),
        _dir: None,
    };
    let started = std::fs::metadata(&prom_file).unwrap().modified().unwrap();
    wait_for(
        "a round of the long-running reporter",
        Duration::from_secs(10),
        || {
            std::fs::metadata(&prom_file)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t > started)
        },
    );
    assert!(site.docker(&["kill", &site.name("web")]).status.success());
    let signal = |sig: &str, pid: &str| {
        let ok = Command::new("kill").args([sig, pid]).status().unwrap();
        assert!(ok.success(), "kill {sig} {pid}");
    };
    let reporter = watching.child.id().to_string();
    signal("-STOP", &reporter);
    let inspect = |format: &str| {
        let out = site.docker(&["inspect", "-f", format, &site.name("api")]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let pid = inspect("{{.State.Pid}}");
    signal("-KILL", &pid);
    wait_for("the engine restarts api", Duration::from_secs(10), || {
        inspect("{{.RestartCount}} {{.State.Running}}") == "1 true"
    });
    signal("-CONT", &reporter);
    let shown = || std::fs::read_to_string(&prom_file).unwrap_or_default();
    let start = Instant::now();
    while !{
        let t = shown();
        t.contains(&metric("conteneur_container_up", "web", 0))
            && t.contains(&metric("conteneur_container_up", "api", 1))
            && t.contains(&metric("conteneur_container_restarts_total", "api", 1))
    } {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the reporter does not show web down and api restarted within 15 s:\n{}",
            shown()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        watching.child.try_wait().unwrap().is_none(),
        "the reporter stopped by itself"
    );
    drop(watching);

    // Killed: down at the next round.
    let out = watch_once(&site);
    assert!(out.status.success(), "{}", text(&out));
    wait_for(
        "node_exporter shows web down",
        Duration::from_secs(5),
        || fetch(np).contains(&up("web", 0)),
    );
    let key = format!("conteneur:localhost:{web}");
    assert_eq!(redis.cli(&["HGET", &key, "running"]).trim(), "0");

    // Gone: its key is no longer refreshed and expires after the TTL.
    assert!(
        site.docker(&["rm", "-f", &site.name("web")])
            .status
            .success()
    );
    let out = watch_once(&site);
    assert!(
        !redis
            .cli(&["SMEMBERS", "conteneur:localhost:containers"])
            .contains(&web)
    );
    let _ = out;
    wait_for(
        "the gone container's key expires",
        Duration::from_secs(6),
        || redis.cli(&["EXISTS", &key]).trim() == "0",
    );
    assert_eq!(
        redis
            .cli(&["EXISTS", &format!("conteneur:localhost:{api}")])
            .trim(),
        "1"
    );

    // One audit line per command of the scenario (16 set, 1 instance), and
    // not one holds the password.
    let lines = audit_lines(&site);
    let ours = &lines[before..];
    let commands: Vec<&str> = ours
        .iter()
        .map(|l| l["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands.iter().filter(|c| **c == "set").count(),
        16,
        "{commands:?}"
    );
    assert_eq!(commands.iter().filter(|c| **c == "instance").count(), 1);
    assert_eq!(ours.len(), 17, "{commands:?}");
    let log = std::fs::read_to_string(site.path("var/log/conteneur/audit.log")).unwrap();
    assert!(!log.contains(&secret), "the password is in the audit trail");
    assert!(log.contains("conteneur_report_redis_password"));
    let instance = ours.iter().find(|l| l["command"] == "instance").unwrap();
    assert_eq!(instance["exit"], 0);
    assert!(
        instance["changed"]["steps"].to_string().contains("create"),
        "{instance}"
    );
    assert!(
        instance["changed"]["images"]["localhost:5000/demo/web:1.0"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sha256:"),
        "{instance}"
    );
    let audit = site.cmd(&["audit", "--since", "1h"]).output().unwrap();
    assert!(audit.status.success());
    assert_eq!(
        String::from_utf8_lossy(&audit.stdout).lines().count(),
        lines.len()
    );

    // Logs: the running one; an unknown name is named.
    let l = site
        .cmd(&["logs", &site.name("api"), "--tail", "5"])
        .output()
        .unwrap();
    assert!(l.status.success(), "{}", text(&l));
    let l = site.cmd(&["logs", "nope"]).output().unwrap();
    assert_eq!(l.status.code(), Some(1));
    assert!(text(&l).contains("no container 'nope'"), "{}", text(&l));
}

#[test]
fn watch_goes_on_through_redis_textfile_and_engine_faults() {
    let site = Site::new("wf");
    let prom = prom_dir(&site);
    site.set("conteneur_report_interval", &["1"]);
    site.set("conteneur_report_textfile", &["/prom"]);

    // Redis down, and the engine down: said once each in 3 rounds, the
    // reporter goes on and the metrics say the engine is down.
    let nobody = free_port();
    site.set(
        "conteneur_report_redis",
        &[&format!("redis://127.0.0.1:{nobody}/0")],
    );
    let err = run_for(
        spawn_watch(&site, Some("unix:///nonexistent/docker.sock")),
        Duration::from_millis(3500),
    );
    assert_eq!(err.matches("conteneur watch: redis:").count(), 1, "{err}");
    let prom_text = std::fs::read_to_string(prom.join("conteneur.prom")).unwrap();
    assert!(
        prom_text.contains("conteneur_engine_up{engine=\"docker\"} 0"),
        "{prom_text}"
    );
    assert!(
        prom_text.contains("conteneur_last_run_success 0"),
        "{prom_text}"
    );

    // Redis refusing the password: said, without the password.
    let redis = Redis::start(Some("the-right-one"));
    site.set("conteneur_report_redis", &[&redis.url()]);
    site.set(
        "conteneur_report_redis_password",
        &["a-wrong-password-value"],
    );
    let out = watch_once(&site);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(
        text(&out).contains("password was refused"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("a-wrong-password-value"));
    // The textfile was still written.
    assert!(
        std::fs::read_to_string(prom.join("conteneur.prom"))
            .unwrap()
            .contains("conteneur_last_run_success 0")
    );

    // Redis stalled (stopped with SIGSTOP): the round ends within its bound.
    site.set("conteneur_report_redis_password", &["the-right-one"]);
    assert!(watch_once(&site).status.success());
    redis.signal("-STOP");
    let start = Instant::now();
    let out = watch_once(&site);
    redis.signal("-CONT");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(text(&out).contains("Redis at"), "{}", text(&out));
    assert!(watch_once(&site).status.success());

    // The textfile folder missing: said; Redis is still written.
    redis.cli(&["FLUSHALL"]);
    site.set("conteneur_report_textfile", &["/missing"]);
    let out = watch_once(&site);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(text(&out).contains("does not exist"), "{}", text(&out));
    assert!(text(&out).contains("written to redis"), "{}", text(&out));

    // A read-only folder (a read-only tmpfs in a mount namespace of its
    // own, so that even root cannot write).
    site.set("conteneur_report_textfile", &["/prom"]);
    let bin = assert_cmd::cargo::cargo_bin("conteneur");
    let script = format!(
        "mount -t tmpfs -o ro tmpfs '{}' && exec '{}' --root '{}' watch --once",
        prom.display(),
        bin.display(),
        site.root.path().display()
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(
        text(&out).contains("Read-only file system"),
        "{}",
        text(&out)
    );

    // No folder set: node_exporter's Debian folder, when it exists.
    site.set("conteneur_report_textfile", &[""]);
    let debian = site.path("var/lib/prometheus/node-exporter");
    std::fs::create_dir_all(&debian).unwrap();
    let out = watch_once(&site);
    assert!(out.status.success(), "{}", text(&out));
    assert!(debian.join("conteneur.prom").exists());
}

#[test]
fn report_settings_are_checked_at_set_and_the_trail_keeps_no_value() {
    let s = common::Server::new();
    s.set("conteneur_report_redis", &["redis://127.0.0.1:6379/1"]);
    s.set(
        "conteneur_report_redis",
        &["redis://watch@redis.example.org"],
    );
    for (var, bad) in [
        (
            "conteneur_report_redis",
            "redis://:hunter2-in-url@127.0.0.1",
        ),
        ("conteneur_report_redis", "http://127.0.0.1:6379"),
        ("conteneur_report_redis", "redis://127.0.0.1:6379/db"),
        ("conteneur_report_interval", "0"),
        ("conteneur_report_textfile", "relative/prom"),
    ] {
        let out = s.cmd(&["set", var, bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{var}={bad}: {}", text(&out));
        assert!(text(&out).contains(var), "{}", text(&out));
    }
    let out = s
        .cmd(&["set", "conteneur_report_redis", "redis://:pw@h"])
        .output()
        .unwrap();
    assert!(
        text(&out).contains("conteneur_report_redis_password"),
        "{}",
        text(&out)
    );
    assert_eq!(
        s.get("conteneur_report_redis"),
        ["redis://watch@redis.example.org"]
    );
    s.set("conteneur_report_redis_password", &["hunter2-as-password"]);
    s.set("conteneur_report_interval", &["5"]);
    let log = std::fs::read_to_string(s.root.path().join("var/log/conteneur/audit.log")).unwrap();
    // One line per set (2 + 6 refused + 2), none with a value.
    assert_eq!(log.lines().count(), 10, "{log}");
    assert!(!log.contains("hunter2"), "{log}");
    assert!(!log.contains("redis.example.org"), "{log}");
    let refused: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &serde_json::Value| l["exit"] == 3)
        .collect();
    assert_eq!(refused.len(), 6);
}
