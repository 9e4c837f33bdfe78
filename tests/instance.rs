//! End-to-end tests of `instance` and `reconfigure` against the real Docker
//! engine, the real loopback registry (localhost:5000) and a real private
//! nginx. `scripts/test.sh` starts them (scripts/services.sh) and builds the
//! test images (scripts/images.sh); a test fails, never skips, when they
//! are missing.
//!
//! Each test has its own root, its own free ports and container names
//! prefixed with a tag of its own, so tests run in parallel; a guard removes
//! its containers and stops its nginx even when the test fails.

mod common;

use common::site::Site;
use common::{docker, free_port, get};

use std::process::Command as Proc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Requests `urls` in a loop until stopped; returns (requests, failures).
fn hammer(
    urls: Vec<String>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(usize, Vec<String>)> {
    std::thread::spawn(move || {
        let mut n = 0;
        let mut failures = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            for u in &urls {
                n += 1;
                if let Err(e) = get(u) {
                    failures.push(format!("{u}: {e}"));
                }
            }
        }
        (n, failures)
    })
}

fn three(site: &Site) -> (u16, u16, u16) {
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    site.set("nombre_conteneur", &["3"]);
    site.container(1, "web", "web", "1.0", p1);
    site.container(2, "notes", "notes", "1.0", p2);
    site.container(3, "wiki", "wiki", "1.0", p3);
    (p1, p2, p3)
}

#[test]
fn instance_then_reconfigure_without_change_then_one_tag_change() {
    let site = Site::new("i1");
    three(&site);
    // reconfigure before instance is refused.
    let out = site.run("reconfigure");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `instance` first"));

    let text = site.run_ok("instance");
    assert!(text.contains("3 created"), "{text}");
    assert_eq!(get(&site.url("web")).unwrap().trim(), "web 1.0");
    assert_eq!(get(&site.url("notes")).unwrap().trim(), "notes 1.0");
    assert_eq!(get(&site.url("wiki")).unwrap().trim(), "wiki 1.0");
    // /name redirects to /name/.
    let out = Proc::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .arg(format!(
            "http://127.0.0.1:{}/{}",
            site.http_port,
            site.name("web")
        ))
        .output()
        .unwrap();
    let r = String::from_utf8_lossy(&out.stdout);
    assert!(
        r.starts_with("301") && r.ends_with(&format!("/{}/", site.name("web"))),
        "{r}"
    );

    // No change: nothing recreated, nothing restarted (same id, same start).
    let before: Vec<_> = ["web", "notes", "wiki"]
        .iter()
        .map(|c| site.identity(c))
        .collect();
    let text = site.run_ok("reconfigure");
    assert!(
        text.contains("0 created, 0 replaced, 0 started, 0 removed, 3 unchanged"),
        "{text}"
    );
    let after: Vec<_> = ["web", "notes", "wiki"]
        .iter()
        .map(|c| site.identity(c))
        .collect();
    assert_eq!(before, after);

    // One tag changed: only that container is recreated, and the others
    // keep serving during the run.
    site.set("conteneur1_tag", &["2.0"]);
    let stop = Arc::new(AtomicBool::new(false));
    let h = hammer(vec![site.url("notes"), site.url("wiki")], stop.clone());
    std::thread::sleep(Duration::from_millis(200));
    let text = site.run_ok("reconfigure");
    stop.store(true, Ordering::Relaxed);
    let (requests, failures) = h.join().unwrap();
    assert!(requests > 4, "the load loop did not run");
    assert!(
        failures.is_empty(),
        "requests failed during the run: {failures:?}"
    );
    assert!(
        text.contains("1 replaced") && text.contains("2 unchanged"),
        "{text}"
    );
    assert_eq!(get(&site.url("web")).unwrap().trim(), "web 2.0");
    assert_ne!(site.identity("web"), before[0]);
    assert_eq!(site.identity("notes"), before[1]);
    assert_eq!(site.identity("wiki"), before[2]);

    // plan --json: nothing to do now.
    let out = site.cmd(&["plan", "--json"]).output().unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = plan["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    assert!(steps.iter().all(|s| s["action"] == "leave"), "{plan}");
    // status --json: three running and healthy, with their routes.
    let out = site.cmd(&["status", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cs = status["containers"].as_array().unwrap();
    assert_eq!(cs.len(), 3);
    for c in cs {
        assert_eq!(c["actual"], "running");
        assert_eq!(c["health"], "healthy");
        assert!(
            c["route"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/{}/", c["name"].as_str().unwrap()))
        );
    }
    assert_eq!(status["proxy_running"], true);
}

#[test]
fn failures_leave_the_old_container_serving() {
    let site = Site::new("i2");
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", free_port());
    site.run_ok("instance");
    let before = site.identity("web");

    // A tag missing from the registry: non-zero, names image and tag, the
    // old container serves, nginx untouched.
    site.set("conteneur1_tag", &["9.9"]);
    let site_conf = site.path("var/lib/conteneur/nginx-private/conf/conteneur.conf");
    let nginx_before = std::fs::read(&site_conf).unwrap();
    let out = site.run("reconfigure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(err.contains("localhost:5000/demo/web:9.9"), "{err}");
    assert!(err.contains("no container was changed"), "{err}");
    assert_eq!(get(&site.url("web")).unwrap().trim(), "web 1.0");
    assert_eq!(site.identity("web"), before);
    assert_eq!(std::fs::read(&site_conf).unwrap(), nginx_before);

    // A new container that never becomes healthy is rolled back.
    site.set("conteneur1_tag", &["1.0"]);
    site.set("conteneur1_url", &["localhost:5000/demo/broken"]);
    let out = site.run("reconfigure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains(&format!("container '{}'", site.name("web"))),
        "{err}"
    );
    assert!(err.contains("previous container keeps serving"), "{err}");
    assert_eq!(get(&site.url("web")).unwrap().trim(), "web 1.0");
    assert_eq!(site.identity("web").0, before.0);
    assert!(
        !docker(&["inspect", &format!("{}.next", site.name("web"))])
            .status
            .success()
    );

    // The engine unreachable: a clear error, and nothing changes.
    let before = site.identity("web");
    site.set("conteneur1_url", &["localhost:5000/demo/web"]);
    site.set("conteneur1_tag", &["2.0"]);
    let launch = site.path("var/lib/conteneur/launch.json");
    let launch_before = std::fs::read(&launch).unwrap();
    let out = site
        .cmd(&["reconfigure", "--quiet"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains("cannot reach the Docker engine") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(std::fs::read(&launch).unwrap(), launch_before);
    assert_eq!(site.identity("web"), before);
}

#[test]
fn lowering_the_count_removes_the_container_and_keeps_its_data() {
    let site = Site::new("i3");
    site.set("nombre_conteneur", &["2"]);
    site.container(1, "web", "web", "1.0", free_port());
    site.container(2, "notes", "notes", "1.0", free_port());
    // notes serves a host folder (a bind mount, created by conteneur).
    site.set("conteneur2_mountpoint_in", &["/www/data"]);
    site.set("conteneur2_mountpoint_out", &["/srv/notes"]);
    site.run_ok("instance");
    let data = site.path("srv/notes");
    assert!(
        data.is_dir(),
        "the host folder was not created under the root"
    );
    std::fs::write(data.join("page.txt"), "kept\n").unwrap();
    assert_eq!(
        get(&format!("{}data/page.txt", site.url("notes"))).unwrap(),
        "kept\n"
    );

    site.set("nombre_conteneur", &["1"]);
    let text = site.run_ok("reconfigure");
    assert!(text.contains("1 removed"), "{text}");
    assert!(!site.exists("notes"));
    assert!(site.exists("web"));
    assert_eq!(
        std::fs::read_to_string(data.join("page.txt")).unwrap(),
        "kept\n"
    );
    // Its route is gone from nginx.
    assert!(get(&site.url("notes")).is_err());
}

#[test]
fn concurrent_runs_and_kill_minus_nine() {
    let site = Site::new("i4");
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", free_port());
    site.run_ok("instance");

    // A slow run (a broken image waits for its health check) holds the lock.
    site.set("conteneur1_url", &["localhost:5000/demo/broken"]);
    let mut slow = std::process::Command::new(assert_cmd::cargo::cargo_bin("conteneur"))
        .arg("--root")
        .arg(site.root.path())
        .args(["reconfigure", "--quiet"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = site.path("var/lib/conteneur/run.holder");
    let t0 = Instant::now();
    while std::fs::read_to_string(&lock)
        .map(|s| !s.contains(&slow.id().to_string()))
        .unwrap_or(true)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the slow run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = site.run("reconfigure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "{err}");
    assert!(
        err.contains("holds the lock") && err.contains(&format!("pid {}", slow.id())),
        "{err}"
    );

    // kill -9 in the middle of that run, then reconfigure converges.
    std::thread::sleep(Duration::from_millis(800));
    slow.kill().unwrap();
    slow.wait().unwrap();
    site.set("conteneur1_url", &["localhost:5000/demo/web"]);
    site.set("conteneur1_tag", &["2.0"]);
    site.run_ok("reconfigure");
    assert_eq!(get(&site.url("web")).unwrap().trim(), "web 2.0");
    assert!(
        !docker(&["inspect", &format!("{}.next", site.name("web"))])
            .status
            .success()
    );
    let text = site.run_ok("reconfigure");
    assert!(
        text.contains("0 created, 0 replaced, 0 started, 0 removed, 1 unchanged"),
        "{text}"
    );
}

#[test]
fn foreign_containers_and_system_mounts_are_refused_before_any_change() {
    let site = Site::new("i5");
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", free_port());
    // Someone else's container holds the name.
    let out = docker(&[
        "create",
        "--name",
        &site.name("web"),
        "localhost:5000/demo/web:1.0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = site.run("instance");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains("not created by conteneur") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(!site.path("etc/eole/.instance").exists());
    assert!(!site.path("var/lib/conteneur/launch.json").exists());
    docker(&["rm", "-f", &site.name("web")]);

    site.set("conteneur1_mountpoint_in", &["/host-etc"]);
    site.set("conteneur1_mountpoint_out", &["/etc"]);
    let out = site.run("instance");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("would expose the system") && err.contains("conteneur_allow_system_mounts"),
        "{err}"
    );
    assert!(!site.exists("web"));
}

/// The address of 127.0.0.1:`port`.
fn local(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// Loops on /NAME/ through nginx and on port_out directly, 60 requests a
/// second each, bounded at `max`.
fn loads(site: &Site, short: &str, port_out: u16, max: Duration) -> [common::load::Load; 2] {
    let path = format!("/{}/", site.name(short));
    [
        common::load::start(local(site.http_port), &path, 60, max),
        common::load::start(local(port_out), "/", 60, max),
    ]
}

/// Five containers, the first one (web) on `tag`; grace `grace` s.
fn five(site: &Site, grace: &str) -> u16 {
    site.set("conteneur_drain_grace", &[grace]);
    site.set("nombre_conteneur", &["5"]);
    let web = free_port();
    site.container(1, "web", "web", "1.0", web);
    site.container(2, "notes", "notes", "1.0", free_port());
    site.container(3, "wiki", "wiki", "1.0", free_port());
    site.container(4, "web-b", "web", "1.0", free_port());
    site.container(5, "web-c", "web", "2.0", free_port());
    site.set("conteneur1_health_path", &["/health/"]);
    site.run_ok("instance");
    web
}

#[test]
fn twenty_tag_changes_under_load_fail_no_request() {
    let site = Site::new("u1");
    let web = five(&site, "1");
    let [front, direct] = loads(&site, "web", web, Duration::from_secs(120));
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..20 {
        let tag = if i % 2 == 0 { "2.0" } else { "1.0" };
        site.set("conteneur1_tag", &[tag]);
        let text = site.run_ok("reconfigure");
        assert!(
            text.contains("1 replaced") && text.contains("4 unchanged"),
            "{text}"
        );
        // The new version answers once reconfigure is done.
        let (status, body) = common::load::get_once(local(web), "/").unwrap();
        assert_eq!(
            (status.as_str(), body.as_str()),
            ("200", format!("web {tag}").as_str())
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let (front, direct) = (front.finish(), direct.finish());
    eprintln!("through nginx: {front}\nport_out: {direct}");
    for t in [&front, &direct] {
        assert_eq!(t.failed(), 0, "{t}");
        assert!(t.only(&["web 1.0", "web 2.0"]), "{t}");
        assert!(t.rate() >= 50.0, "{t}");
        assert!(t.by_body.len() == 2, "both versions answered: {t}");
    }
    // The replaced ones are gone once drained (grace 1 s) by `conteneur
    // drain`, which conteneur-drain.timer runs on a server (no systemd
    // here: the test is the timer).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let _ = site.cmd(&["drain"]).output();
        let out = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("name=^{}-web.old", site.tag),
        ]);
        if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replaced containers still there after 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_crashing_or_never_healthy_update_fails_no_request() {
    let site = Site::new("u2");
    let web = five(&site, "1");
    for (image, within) in [
        ("crash", Duration::from_secs(4)),
        ("broken", Duration::from_secs(20)),
    ] {
        let [front, direct] = loads(&site, "web", web, Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(300));
        site.set("conteneur1_url", &[&format!("localhost:5000/demo/{image}")]);
        let begin = Instant::now();
        let out = site.run("reconfigure");
        let took = begin.elapsed();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(8), "{image}: {err}");
        assert!(
            err.contains("previous container keeps serving"),
            "{image}: {err}"
        );
        if image == "crash" {
            // Noticed as a crash loop, long before the health timeout (5 s).
            assert!(
                err.contains("crashes in a loop") || err.contains("stopped"),
                "{err}"
            );
        }
        assert!(took < within, "{image}: {took:?}");
        std::thread::sleep(Duration::from_millis(300));
        let (front, direct) = (front.finish(), direct.finish());
        eprintln!("{image}: through nginx: {front}\n{image}: port_out: {direct}");
        for t in [&front, &direct] {
            assert_eq!(t.failed(), 0, "{image}: {t}");
            assert!(
                t.only(&["web 1.0"]),
                "{image}: the old version answers throughout: {t}"
            );
            assert!(t.rate() >= 50.0, "{t}");
        }
        site.set("conteneur1_url", &["localhost:5000/demo/web"]);
    }
    // Nothing of the failed ones is left.
    let out = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("name=^{}-web.next", site.tag),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}

/// A websocket to /NAME/ through nginx, and its first message.
fn ws_open(site: &Site, short: &str) -> (tungstenite::WebSocket<std::net::TcpStream>, String) {
    ws_open_at(site.http_port, &format!("/{}/", site.name(short)))
}

/// A websocket to 127.0.0.1:`port` at `path`, and its first message.
fn ws_open_at(port: u16, path: &str) -> (tungstenite::WebSocket<std::net::TcpStream>, String) {
    let stream = std::net::TcpStream::connect(local(port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let url = format!("ws://127.0.0.1:{port}{path}");
    let (mut ws, _) = tungstenite::client(url.as_str(), stream).expect("websocket handshake");
    let first = match ws.read().expect("a first message") {
        tungstenite::Message::Text(t) => t.to_string(),
        other => panic!("not a text message: {other:?}"),
    };
    (ws, first)
}

#[test]
fn an_open_websocket_drains_for_the_grace_period_then_gets_a_close_frame() {
    let site = Site::new("u3");
    let grace = 4;
    site.set("conteneur_drain_grace", &[&grace.to_string()]);
    site.set("nombre_conteneur", &["1"]);
    let port = free_port();
    site.container(1, "ws", "ws", "1.0", port);
    site.set("conteneur1_websocket", &["oui"]);
    site.set("conteneur1_stop_timeout", &["5"]);
    site.run_ok("instance");
    let (mut old, first) = ws_open(&site, "ws");
    assert_eq!(first, "ws 1.0");

    site.set("conteneur1_tag", &["2.0"]);
    let begin = Instant::now();
    site.run_ok("reconfigure");
    let switched = begin.elapsed();
    // What conteneur-drain.timer does on a server (no systemd here: the
    // test is the timer): `conteneur drain` about every second until the
    // drain is done.
    let timer = {
        let bin = assert_cmd::cargo::cargo_bin("conteneur");
        let root = site.path("");
        std::thread::spawn(move || {
            for _ in 0..(grace + 10) {
                std::thread::sleep(Duration::from_secs(1));
                let _ = std::process::Command::new(&bin)
                    .arg("--root")
                    .arg(&root)
                    .arg("drain")
                    .env_remove("DOCKER_HOST")
                    .output();
            }
        })
    };
    // New websockets reach the new version at once.
    let (mut new, first) = ws_open(&site, "ws");
    assert_eq!(first, "ws 2.0");
    // The old one stays open until the grace period ends, then closes
    // cleanly, with a close frame (code 1000).
    let closed = loop {
        match old.read() {
            Ok(tungstenite::Message::Close(frame)) => break (begin.elapsed(), frame),
            Ok(tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_)) => {}
            Ok(other) => panic!("unexpected message on the old websocket: {other:?}"),
            Err(e) => panic!(
                "the old websocket ended without a close frame after {:?}: {e}",
                begin.elapsed()
            ),
        }
    };
    let (at, frame) = closed;
    eprintln!("switched after {switched:?}, old websocket closed after {at:?}: {frame:?}");
    assert!(
        at >= Duration::from_secs(grace - 1),
        "closed before the grace period ended: {at:?}"
    );
    assert!(at < Duration::from_secs(grace + 8), "closed late: {at:?}");
    assert_eq!(
        frame.map(|f| u16::from(f.code)),
        Some(1000),
        "a normal closure"
    );
    // The new one is still open.
    new.send(tungstenite::Message::Ping(Vec::new().into()))
        .unwrap();
    let _ = new.close(None);
    let _ = timer.join();
}

#[test]
fn each_port_has_its_route_http_at_the_root_and_websockets_at_ws() {
    let site = Site::new("u4");
    site.set("conteneur_drain_grace", &["1"]);
    site.set("nombre_conteneur", &["1"]);
    let (http, ws) = (free_port(), free_port());
    let n = |v: &str| format!("conteneur1_{v}");
    site.set(&n("name"), &[&site.name("app")]);
    site.set(&n("url"), &["localhost:5000/demo/app"]);
    site.set(&n("tag"), &["1.0"]);
    site.set(&n("port_in"), &["80", "81"]);
    site.set(&n("port_out"), &[&http.to_string(), &ws.to_string()]);
    site.set(&n("port_path"), &["/", "/ws"]);
    site.set(&n("env"), &["HTTP_PORT=80", "WS_PORT=81"]);
    site.set(&n("websocket"), &["oui"]);
    site.set(&n("health_path"), &["/health/"]);
    site.run_ok("instance");
    let base = format!("/{}", site.name("app"));
    let front = local(site.http_port);
    assert_eq!(
        common::load::get_once(front, &format!("{base}/")).unwrap(),
        ("200".to_string(), "app 1.0".to_string())
    );
    // The redirect rule of every route: /NAME/ws → /NAME/ws/.
    let (status, _) = common::load::get_once(front, &format!("{base}/ws")).unwrap();
    assert_eq!(status, "301");
    assert_eq!(
        ws_open_at(site.http_port, &format!("{base}/ws/")).1,
        "app 1.0"
    );
    // Both port_out answer directly.
    assert_eq!(ws_open_at(ws, "/").1, "app 1.0");
    assert_eq!(
        common::load::get_once(local(http), "/").unwrap().1,
        "app 1.0"
    );

    // An update under load: both routes move to the new version.
    let load = common::load::start(front, &format!("{base}/"), 60, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(300));
    site.set(&n("tag"), &["2.0"]);
    site.run_ok("reconfigure");
    std::thread::sleep(Duration::from_millis(300));
    let t = load.finish();
    assert_eq!(t.failed(), 0, "{t}");
    assert!(t.only(&["app 1.0", "app 2.0"]), "{t}");
    assert_eq!(
        ws_open_at(site.http_port, &format!("{base}/ws/")).1,
        "app 2.0"
    );
    assert_eq!(ws_open_at(ws, "/").1, "app 2.0");
}

/// The mount check at the right depth, on the real engine: each spelling
/// of a system folder, a symbolic link to the host's /etc made after `set`,
/// and a symlinked parent folder are refused, naming the path and where it
/// leads, and nothing changes.
#[test]
fn host_folders_are_checked_where_they_really_lead() {
    let site = Site::new("i6");
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", free_port());
    site.set("conteneur1_mountpoint_in", &["/www/data"]);
    site.set("conteneur1_mountpoint_out", &["/srv/web"]);
    site.run_ok("instance");
    let before = site.identity("web");
    let launch = site.path("var/lib/conteneur/launch.json");
    let launch_before = std::fs::read(&launch).unwrap();
    let nothing_changed = |what: &str, out: &std::process::Output, given: &str, leads: &str| {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(8), "{what}: {err}");
        assert!(
            err.contains(&format!("container '{}'", site.name("web")))
                && err.contains("conteneur1_mountpoint_out")
                && err.contains(&format!("'{given}'"))
                && err.contains(leads)
                && err.contains("nothing was changed"),
            "{what}: {err}"
        );
        assert_eq!(site.identity("web"), before, "{what}");
        assert_eq!(std::fs::read(&launch).unwrap(), launch_before, "{what}");
    };

    for spelling in ["//etc", "/./etc", "/etc/../etc"] {
        site.set("conteneur1_mountpoint_out", &[spelling]);
        let out = site.run("reconfigure");
        nothing_changed(spelling, &out, spelling, "resolves to '/etc'");
        let out = site.cmd(&["plan"]).output().unwrap();
        assert_eq!(out.status.code(), Some(8), "plan {spelling}");
    }

    // A link to the host's /etc, made after `set` (set saw no link).
    site.set("conteneur1_mountpoint_out", &["/srv/shared"]);
    std::os::unix::fs::symlink("/etc", site.path("srv/shared")).unwrap();
    let out = site.run("reconfigure");
    nothing_changed("link to /etc", &out, "/srv/shared", "resolves to '/etc'");

    // A symlinked parent: nothing is created outside the root.
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), site.path("srv/parent")).unwrap();
    site.set("conteneur1_mountpoint_out", &["/srv/parent/data"]);
    let out = site.run("reconfigure");
    let leads = std::fs::canonicalize(outside.path()).unwrap();
    nothing_changed(
        "symlinked parent",
        &out,
        "/srv/parent/data",
        &format!("resolves to '{}/data'", leads.display()),
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);

    // Each protected folder, under the root.
    for folder in [
        "/var/lib/lxc",
        "/var/lib/containerd",
        "/var/lib/conteneur",
        "/var/spool/cron",
        "/home",
        "/var/log",
    ] {
        site.set("conteneur1_mountpoint_out", &[folder]);
        let out = site.run("reconfigure");
        nothing_changed(folder, &out, folder, "would expose the system");
    }

    // A link that stays under the root, to a folder of its own, is fine:
    // the engine is given the folder it leads to.
    std::fs::create_dir_all(site.path("data/web")).unwrap();
    std::fs::write(site.path("data/web/page.txt"), "linked\n").unwrap();
    std::os::unix::fs::symlink(site.path("data"), site.path("srv/data")).unwrap();
    site.set("conteneur1_mountpoint_out", &["/srv/data/web"]);
    site.run_ok("reconfigure");
    assert_eq!(
        get(&format!("{}data/page.txt", site.url("web"))).unwrap(),
        "linked\n"
    );
}

/// No environment value (a password) in the labels the engine shows to
/// whoever may `docker inspect`; a changed value still replaces the
/// container, and `plan` names the variable without its value.
#[test]
fn secrets_stay_out_of_the_labels() {
    let site = Site::new("i7");
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", free_port());
    site.set(
        "conteneur1_env",
        &["DB_PASSWORD=hunter2-very-secret", "MODE=abc"],
    );
    site.run_ok("instance");
    let labels = docker(&[
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &site.name("web"),
    ]);
    let labels = String::from_utf8_lossy(&labels.stdout);
    assert!(labels.contains("DB_PASSWORD="), "{labels}");
    assert!(!labels.contains("hunter2"), "{labels}");
    assert!(!labels.contains("MODE=abc"), "{labels}");
    // The key is the server's own, root's only.
    let key = site.path("var/lib/conteneur/label.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    let before = site.identity("web");
    site.set(
        "conteneur1_env",
        &["DB_PASSWORD=hunter3-very-secret", "MODE=abc"],
    );
    let out = site.cmd(&["plan"]).output().unwrap();
    let text = common::text(&out);
    assert!(text.contains("env DB_PASSWORD changed"), "{text}");
    assert!(!text.contains("hunter") && !text.contains("MODE"), "{text}");
    let text = site.run_ok("reconfigure");
    assert!(text.contains("1 replaced"), "{text}");
    assert_ne!(site.identity("web"), before);
    let env = docker(&[
        "inspect",
        "--format",
        "{{json .Config.Env}}",
        &site.name("web"),
    ]);
    assert!(String::from_utf8_lossy(&env.stdout).contains("DB_PASSWORD=hunter3-very-secret"));
}

#[test]
fn a_name_taken_by_another_root_names_that_root() {
    let a = Site::new("i6");
    a.set("nombre_conteneur", &["1"]);
    a.container(1, "web", "web", "1.0", free_port());
    a.run_ok("instance");
    // Another server root on the same engine wants the same name.
    let b = Site::new("i6b");
    b.set("nombre_conteneur", &["1"]);
    b.container(1, "web", "web", "1.0", free_port());
    b.set("conteneur1_name", &[&a.name("web")]);
    let out = b.run("instance");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    let a_root = std::fs::canonicalize(a.root.path()).unwrap();
    assert!(
        err.contains(&a_root.display().to_string())
            && !err.contains("not created by conteneur")
            && err.contains("nothing was changed"),
        "{err}"
    );
}

/// The files a run renders, as bytes.
fn rendered_files(site: &Site) -> Vec<(String, Vec<u8>)> {
    [
        "var/lib/conteneur/launch.json",
        "etc/eole/conteneur-vars.conf",
    ]
    .iter()
    .map(|p| {
        let bytes = std::fs::read(site.path(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        (p.to_string(), bytes)
    })
    .collect()
}

#[test]
fn a_pull_that_fails_writes_no_file() {
    let site = Site::new("i7");
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", free_port());
    site.run_ok("instance");
    let before = rendered_files(&site);
    site.set("conteneur1_tag", &["9.9"]);
    let out = site.run("reconfigure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(err.contains("localhost:5000/demo/web:9.9"), "{err}");
    assert_eq!(rendered_files(&site), before, "files were rewritten: {err}");
    assert_eq!(get(&site.url("web")).unwrap().trim(), "web 1.0");
}

/// A "registry" on 127.0.0.1 that accepts connections and never answers;
/// the connections are held until the guard is dropped.
struct StalledRegistry {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl StalledRegistry {
    fn start() -> StalledRegistry {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => held.push(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        StalledRegistry { port, stop }
    }
}

impl Drop for StalledRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn a_stalled_registry_is_named_with_the_image_and_the_step() {
    let registry = StalledRegistry::start();
    let site = Site::new("i8");
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", free_port());
    let host = format!("127.0.0.1:{}", registry.port);
    site.set("conteneur1_url", &[&format!("{host}/demo/web")]);
    site.set("conteneur_pull_timeout", &["3"]);
    let t0 = Instant::now();
    let out = site.run("instance");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        t0.elapsed() < Duration::from_secs(60),
        "took {:?}",
        t0.elapsed()
    );
    assert!(
        err.contains(&format!("from the registry {host} stalled"))
            && err.contains(&format!("{host}/demo/web:1.0"))
            && err.contains("no progress for 3 s")
            && err.contains("conteneur_pull_timeout")
            && err.contains("no container was changed"),
        "{err}"
    );
    assert!(!site.exists("web"));
    assert!(!site.path("var/lib/conteneur/launch.json").exists());
}
