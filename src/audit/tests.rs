use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use super::*;

fn paths(dir: &Path) -> Paths {
    Paths::new(dir)
}

fn entry(command: &str, time: &str) -> Entry {
    Entry {
        time: time.into(),
        uid: 0,
        sudo_user: Some("alice".into()),
        command: command.into(),
        changed: serde_json::Map::new(),
        exit: 0,
        duration_ms: 12,
    }
}

#[test]
fn record_appends_one_line_each_0640_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = paths(dir.path());
    record(&p, &entry("set", "2026-12-07T10:00:00Z"));
    record(&p, &entry("reconfigure", "2026-12-07T11:00:00Z"));
    let text = std::fs::read_to_string(log_path(&p)).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    let mode = std::fs::metadata(log_path(&p))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640);
    let mode_of = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode_of("var/log/conteneur"), DIR_MODE);
    assert_eq!(mode_of("var"), crate::folders::PUBLIC);
    assert_eq!(mode_of("var/log"), crate::folders::PUBLIC);
    let all = read(&p, None).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].command, "reconfigure");
    let since = parse_since("2026-12-07T10:30:00Z", SystemTime::now()).unwrap();
    let later = read(&p, Some(since)).unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].command, "reconfigure");
}

#[test]
fn a_wider_existing_file_is_narrowed() {
    let dir = tempfile::tempdir().unwrap();
    let p = paths(dir.path());
    let path = log_path(&p);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    record(&p, &entry("set", "2026-12-07T10:00:00Z"));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

#[test]
fn a_missing_trail_reads_empty_and_foreign_lines_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let p = paths(dir.path());
    assert!(read(&p, None).unwrap().is_empty());
    record(&p, &entry("set", "2026-12-07T10:00:00Z"));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(log_path(&p))
        .unwrap();
    f.write_all(b"not json\n").unwrap();
    assert_eq!(read(&p, None).unwrap().len(), 1);
}

#[test]
fn since_reads_times_dates_and_durations() {
    let now = humantime::parse_rfc3339("2026-12-07T12:00:00Z").unwrap();
    assert_eq!(
        parse_since("2h", now).unwrap(),
        now - Duration::from_secs(7200)
    );
    assert_eq!(
        parse_since("2026-12-07", now).unwrap(),
        humantime::parse_rfc3339("2026-12-07T00:00:00Z").unwrap()
    );
    assert_eq!(
        parse_since("2026-12-07T10:00:00Z", now).unwrap(),
        humantime::parse_rfc3339("2026-12-07T10:00:00Z").unwrap()
    );
    let e = parse_since("yesterday-ish", now).unwrap_err().to_string();
    assert!(e.contains("yesterday-ish") && e.contains("10m"), "{e}");
}

#[test]
fn the_line_goes_to_the_syslog_socket_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let p = paths(dir.path());
    let sock = dir.path().join(SYSLOG_SOCKET);
    std::fs::create_dir_all(sock.parent().unwrap()).unwrap();
    let server = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    record(&p, &entry("instance", "2026-12-07T10:00:00Z"));
    let mut buf = vec![0u8; 65536];
    let n = server.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]);
    assert!(msg.starts_with("<85>conteneur["), "{msg}");
    assert!(msg.contains("\"command\":\"instance\""), "{msg}");
}

#[test]
fn a_syslog_socket_nobody_reads_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let p = paths(dir.path());
    let sock = dir.path().join(SYSLOG_SOCKET);
    std::fs::create_dir_all(sock.parent().unwrap()).unwrap();
    // Bound and never read: its queue fills up.
    let _server = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
    let start = std::time::Instant::now();
    let mut big = entry("set", "2026-12-07T10:00:00Z");
    big.changed.insert(
        "steps".into(),
        serde_json::json!(vec!["x".repeat(100); 200]),
    );
    for _ in 0..200 {
        record(&p, &big);
    }
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(read(&p, None).unwrap().len(), 200);
}

#[test]
fn a_session_writes_its_notes_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let p = paths(dir.path());
    let mut start = serde_json::Map::new();
    start.insert(
        "variables".into(),
        serde_json::json!(["conteneur_report_redis"]),
    );
    let s = Session::begin("set", start);
    note("steps", serde_json::json!(["create web on docker"]));
    s.finish(&p, 3);
    let all = read(&p, None).unwrap();
    assert_eq!(all.len(), 1);
    let e = &all[0];
    assert_eq!(e.command, "set");
    assert_eq!(e.exit, 3);
    assert_eq!(e.changed["variables"][0], "conteneur_report_redis");
    assert_eq!(e.changed["steps"][0], "create web on docker");
    assert!(line(e).contains("set exit 3"), "{}", line(e));
    // No session open: a note is dropped.
    note("steps", serde_json::json!(["lost"]));
    assert!(NOTES.lock().unwrap().is_none());

    // A skipped session writes nothing. (In this test: NOTES is the
    // process's, the tests run in parallel.)
    let other = tempfile::tempdir().unwrap();
    let s = Session::begin("reconfigure", serde_json::Map::new());
    skip();
    s.finish(&paths(other.path()), 0);
    assert!(!other.path().join("var").exists());
}
