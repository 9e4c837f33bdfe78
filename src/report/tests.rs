use std::time::{Duration, SystemTime};

use super::metrics::{RunOutcome, render, write_textfile};
use super::watch::Outages;
use super::*;

#[test]
fn images_split_at_the_tag_not_at_a_registry_port() {
    assert_eq!(
        split_image("localhost:5000/demo/web:1.2"),
        ("localhost:5000/demo/web".into(), "1.2".into())
    );
    assert_eq!(
        split_image("localhost:5000/demo/web"),
        ("localhost:5000/demo/web".into(), String::new())
    );
    assert_eq!(
        split_image("busybox:latest"),
        ("busybox".into(), "latest".into())
    );
    assert_eq!(split_image(""), (String::new(), String::new()));
}

fn sample() -> Snapshot {
    let mut engines = BTreeMap::new();
    engines.insert("docker".to_string(), None);
    engines.insert("lxc".to_string(), Some("lxc-ls is missing".to_string()));
    Snapshot {
        containers: vec![
            ContainerReport {
                name: "web".into(),
                engine: "docker".into(),
                id: Some("0123456789ab".into()),
                desired: "running".into(),
                state: "running".into(),
                running: true,
                health: "healthy".into(),
                healthy: true,
                restarts: 2,
                image: "localhost:5000/demo/web".into(),
                tag: "1.0".into(),
                image_id: "sha256:abc".into(),
                cpu_seconds: Some(1.5),
                memory_bytes: Some(4096),
                processes: Some(3),
                ..ContainerReport::default()
            },
            ContainerReport {
                name: "db".into(),
                engine: "docker".into(),
                desired: "running".into(),
                state: "missing".into(),
                health: "unknown".into(),
                image: "mariadb".into(),
                tag: "11".into(),
                ..ContainerReport::default()
            },
        ],
        engines,
        problem: None,
        time: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_765_000_000)),
    }
}

#[test]
fn metrics_text() {
    let snap = sample();
    let text = render(
        &snap,
        RunOutcome {
            time: snap.time.unwrap(),
            success: true,
        },
    )
    .unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn every_sample_line_is_prometheus_text() {
    let snap = sample();
    let text = render(
        &snap,
        RunOutcome {
            time: SystemTime::now(),
            success: false,
        },
    )
    .unwrap();
    let re = regex::Regex::new(r#"^[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? -?[0-9.e+]+$"#).unwrap();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(re.is_match(line), "{line}");
        assert!(line.starts_with("conteneur_"), "{line}");
    }
    assert!(text.contains("conteneur_last_run_success 0"));
    assert!(text.contains(r#"conteneur_engine_up{engine="lxc"} 0"#));
    assert!(text.contains(r#"conteneur_container_up{engine="docker",name="db"} 0"#));
}

#[test]
fn outages_are_said_once_and_their_end_too() {
    let mut o = Outages::default();
    let mut log = Vec::new();
    o.failed("redis", "connection refused", &mut log);
    o.failed("redis", "connection refused", &mut log);
    o.failed("redis", "timed out", &mut log);
    o.ok("textfile", &mut log);
    o.ok("redis", &mut log);
    o.ok("redis", &mut log);
    o.failed("redis", "refused again", &mut log);
    let text = String::from_utf8(log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("redis: connection refused"), "{text}");
    assert!(lines[1].ends_with("redis: back"), "{text}");
    assert!(lines[2].contains("refused again"), "{text}");
}

#[test]
fn the_textfile_is_replaced_whole_and_a_missing_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_textfile(dir.path(), "a 1\n").unwrap();
    write_textfile(dir.path(), "a 2\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join(TEXTFILE)).unwrap(),
        "a 2\n"
    );
    // Nothing else is left in node_exporter's folder.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let missing = dir.path().join("nope");
    let e = write_textfile(&missing, "a 1\n").unwrap_err();
    assert!(e.contains(&missing.display().to_string()), "{e}");
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn the_redis_password_never_shows_in_a_debug_print() {
    // A password in the URL too (a hand-edited config.eol: `set` refuses it).
    let url = "redis://:in-url-secret@127.0.0.1:6379/1";
    let t = RedisTarget {
        url: url.into(),
        shown: crate::userinfo::public(url),
        password: Some("hunter2-very-secret".into()),
    };
    let s = Settings {
        interval: Duration::from_secs(1),
        server: "srv".into(),
        redis: Some(t),
        textfile: None,
    };
    let text = format!("{s:?}");
    assert!(
        !text.contains("hunter2") && !text.contains("in-url-secret"),
        "{text}"
    );
    assert_eq!(s.ttl(), Duration::from_secs(3));
}

#[test]
fn redis_fields_and_keys() {
    let snap = sample();
    let f = super::redis::fields(&snap.containers[0], snap.time.unwrap());
    let get = |k: &str| f.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    assert_eq!(get("name").as_deref(), Some("web"));
    assert_eq!(get("running").as_deref(), Some("1"));
    assert_eq!(get("restarts").as_deref(), Some("2"));
    assert_eq!(get("memory_bytes").as_deref(), Some("4096"));
    assert_eq!(get("processes").as_deref(), Some("3"));
    assert_eq!(get("updated").as_deref(), Some("1765000000"));
    assert_eq!(get("cpu_percent"), None);
    assert_eq!(
        super::redis::container_key("srv.example", "0123456789ab"),
        "conteneur:srv.example:0123456789ab"
    );
    assert_eq!(
        super::redis::set_key("srv.example"),
        "conteneur:srv.example:containers"
    );
}
