//! The Docker engine dying in the middle of a run, on a dockerd of the
//! test's own (tests/common/dockerd.rs: its own socket, data root and
//! bridge), so that the other tests keep the machine's engine.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::dockerd::Dockerd;
use common::site::Site;
use common::{free_port, get};

#[test]
fn the_engine_killed_mid_replace_is_said_and_the_next_reconfigure_repairs() {
    let mut engine = Dockerd::start();
    engine.pull("localhost:5000/demo/web:1.0");
    engine.pull("localhost:5000/demo/broken:1.0");
    let site = Site::on("e1", Some(engine.host.clone()));
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", free_port());
    // A wide window: the broken image never becomes healthy.
    site.set("conteneur_health_timeout", &["60"]);
    site.run_ok("instance");
    assert_eq!(get(&site.url("web")).unwrap().trim(), "web 1.0");

    site.set("conteneur1_url", &["localhost:5000/demo/broken"]);
    let mut run = std::process::Command::new(assert_cmd::cargo::cargo_bin("conteneur"))
        .arg("--root")
        .arg(site.root.path())
        .args(["reconfigure", "--quiet"])
        .env("DOCKER_HOST", &engine.host)
        .env_remove("CONTENEUR_ROOT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-replace: the new one runs as NAME.next, the old one is stopped.
    let next = format!("{}.next", site.name("web"));
    let begin = Instant::now();
    loop {
        let ps = engine.docker(&["ps", "--format", "{{.Names}}"]);
        let running = String::from_utf8_lossy(&ps.stdout).to_string();
        if running.lines().any(|l| l == next) && !running.lines().any(|l| l == site.name("web")) {
            break;
        }
        assert!(
            begin.elapsed() < Duration::from_secs(30) && matches!(run.try_wait(), Ok(None)),
            "the run never reached the middle of the replace: {running}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    engine.kill();
    let begin = Instant::now();
    while matches!(run.try_wait(), Ok(None)) {
        if begin.elapsed() > Duration::from_secs(90) {
            let _ = run.kill();
            panic!("the run did not end after the engine died");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = run.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    let socket = engine.host.trim_start_matches("unix://");
    assert!(
        err.contains("the engine went away in the middle of the run")
            && err.contains(&format!("cannot reach the Docker engine at {socket}"))
            && err.contains(&format!("containers left stopped: {}", site.name("web")))
            && err.contains("`conteneur reconfigure` repairs them")
            && err.contains(&format!("the routes of {} answer 502", site.name("web"))),
        "{err}"
    );
    assert!(
        !err.contains("keeps serving the previous routes") && !err.contains("hyper"),
        "{err}"
    );

    // The engine back: the next reconfigure repairs.
    engine.spawn();
    site.set("conteneur1_url", &["localhost:5000/demo/web"]);
    let text = site.run_ok("reconfigure");
    assert!(text.contains("reconfigure:"), "{text}");
    assert_eq!(get(&site.url("web")).unwrap().trim(), "web 1.0");
    assert!(!site.exists(&format!("{}.next", "web")));
}
