//! `conteneur rollback` on the real engine and nginx: a tag change, then a
//! rollback under a request loop; the old version serves again with no
//! failed request, from the image still on the engine (no pull).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::free_port;
use common::site::Site;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_rollback_under_load_serves_the_old_version_without_a_pull() {
    let site = Site::new("rb");
    site.set("nombre_conteneur", &["1"]);
    let port = free_port();
    site.container(1, "web", "web", "1.0", port);
    site.set("conteneur_secret_name", &["token"]);
    site.set("conteneur_secret_value", &["a-secret-of-the-rollback-test"]);
    site.run_ok("instance");
    let image = "localhost:5000/demo/web:1.0";
    let image_id = |site: &Site| {
        let out = site.docker(&["image", "inspect", "--format", "{{.Id}}", image]);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let before = image_id(&site);
    let path = format!("/{}/", site.name("web"));
    let load = common::load::start(local(site.http_port), &path, 60, Duration::from_secs(90));
    std::thread::sleep(Duration::from_millis(300));

    site.set("conteneur1_tag", &["2.0"]);
    site.set("conteneur_secret_value", &["a-rotated-secret-of-the-test"]);
    site.run_ok("reconfigure");
    assert_eq!(
        common::load::get_once(local(site.http_port), &path)
            .unwrap()
            .1,
        "web 2.0"
    );

    // What a rollback would do, config.eol untouched.
    let config = std::fs::read(site.path("etc/eole/config.eol")).unwrap();
    let out = site.cmd(&["plan", "--release", "1"]).output().unwrap();
    let plan = text(&out);
    assert!(out.status.success(), "{plan}");
    assert!(
        plan.contains("restores conteneur1_tag") && plan.contains("replace"),
        "{plan}"
    );
    assert_eq!(
        std::fs::read(site.path("etc/eole/config.eol")).unwrap(),
        config
    );

    // Refused: an unknown release; nothing changes.
    let container = site.identity("web");
    let out = site.cmd(&["rollback", "9", "--quiet"]).output().unwrap();
    let err = text(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("release 9 is not kept (expected one of 1, 2;")
            && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(site.path("etc/eole/config.eol")).unwrap(),
        config
    );
    assert_eq!(site.identity("web"), container);

    let since = now();
    let out = site.cmd(&["rollback", "--quiet"]).output().unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let until = now() + 1;
    std::thread::sleep(Duration::from_millis(300));
    let t = load.finish();
    eprintln!("request loop: {t}");
    assert_eq!(t.failed(), 0, "{t}");
    assert!(t.only(&["web 1.0", "web 2.0"]), "{t}");
    assert_eq!(
        common::load::get_once(local(site.http_port), &path)
            .unwrap()
            .1,
        "web 1.0"
    );
    assert_eq!(
        common::load::get_once(local(port), "/").unwrap().1,
        "web 1.0"
    );
    assert!(
        said.contains("rollback to release 1: restores conteneur1_tag"),
        "{said}"
    );
    assert!(said.contains("1 replaced"), "{said}");
    // The rotated password is kept, and said (by name only).
    assert!(
        said.contains("password conteneur_secret_value changed since release 1: kept"),
        "{said}"
    );
    assert!(!said.contains("secret-of-the"), "{said}");
    let get = |var: &str| {
        let out = site.cmd(&["get", var]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(get("conteneur1_tag"), "1.0");
    assert_eq!(
        get("conteneur_secret_value"),
        "a-rotated-secret-of-the-test"
    );
    // config.eol saved through the config module: its .bak holds the
    // file as it was before the rollback.
    let bak = std::fs::read_to_string(site.path("etc/eole/config.eol.bak")).unwrap();
    assert!(bak.contains("\"2.0\""), "{bak}");

    // No pull: none in the plan, none on the engine, the same image.
    assert!(
        !said.lines().any(|l| l.trim_start().starts_with("pull")),
        "{said}"
    );
    let events = site.docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "type=image",
        "--filter",
        "event=pull",
        "--format",
        "{{.Actor.ID}}",
    ]);
    assert!(events.status.success(), "{}", text(&events));
    let pulls = String::from_utf8_lossy(&events.stdout);
    assert!(!pulls.contains("demo/web"), "pulled: {pulls}");
    assert_eq!(image_id(&site), before);
    assert!(!said.contains("on the engine now"), "{said}");

    // Three releases, the last a rollback to the first; the audit trail
    // has it.
    let out = site.cmd(&["releases"]).output().unwrap();
    let list = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(
        lines[2].contains("rollback") && lines[2].contains("to release 1: conteneur1_tag changed"),
        "{list}"
    );
    let audit = std::fs::read_to_string(site.path("var/log/conteneur/audit.log")).unwrap();
    let last = audit.lines().last().unwrap();
    assert!(
        last.contains("\"command\":\"rollback\"") && last.contains("\"release\":1"),
        "{last}"
    );
    assert!(!audit.contains("secret-of-the"), "{audit}");
}
