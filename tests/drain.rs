//! End-to-end tests of what becomes of replaced containers, against the
//! real Docker engine, the loopback registry and a private nginx: the
//! drainer's job, the leftovers of a drainer that died, and stops that
//! take long. Each test has its own root, ports and names; the site's
//! guard removes its containers and stops its nginx even when it fails.

mod common;

use common::free_port;
use common::site::Site;

use std::time::{Duration, Instant};

/// A tmpfs of 16 KiB mounted on `dir` and filled: a drain folder with no
/// room left (a real full file system, bounded). Unmounted when dropped,
/// before the root goes (the test's failures too).
struct FullFolder(std::path::PathBuf);

impl FullFolder {
    fn mount(dir: std::path::PathBuf) -> FullFolder {
        std::fs::create_dir_all(&dir).unwrap();
        let out = common::run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                "size=16k",
                "tmpfs",
                &dir.display().to_string(),
            ],
        );
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root: {}",
            common::text(&out)
        );
        let full = FullFolder(dir);
        // Fill it: the write stops at ENOSPC.
        let _ = std::fs::write(full.0.join("fill"), vec![0u8; 64 * 1024]);
        assert!(
            std::fs::write(full.0.join("probe"), b"x").is_err(),
            "the tmpfs is not full"
        );
        full
    }
}

impl Drop for FullFolder {
    fn drop(&mut self) {
        let _ = common::run("umount", &["-l", &self.0.display().to_string()]);
    }
}

/// The files of `dir` but `fill` (FullFolder's).
fn job_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "fill" && n != "probe")
                .collect()
        })
        .unwrap_or_default()
}

/// A drain job that cannot be written (its folder full) stops the run
/// before nginx is switched: the old container keeps serving, with no
/// failed request, the new one goes, and no temporary file is left. (It
/// used to switch, exit 0, and leave `NAME.old.ID` running with no drainer
/// and a 0-byte `.tmp`.)
#[test]
fn a_drain_job_that_cannot_be_written_stops_the_run_before_the_switch() {
    let site = Site::new("dr3");
    site.set("nombre_conteneur", &["1"]);
    let port = free_port();
    site.container(1, "web", "web", "1.0", port);
    site.set("conteneur_drain_grace", &["2"]);
    site.run_ok("instance");
    let before = site.identity("web");
    let dir = site.path("var/lib/conteneur/drain");
    let full = FullFolder::mount(dir.clone());

    let front = std::net::SocketAddr::from(([127, 0, 0, 1], site.http_port));
    let load = common::load::start(
        front,
        &format!("/{}/", site.name("web")),
        60,
        Duration::from_secs(60),
    );
    std::thread::sleep(Duration::from_millis(300));
    site.set("conteneur1_tag", &["2.0"]);
    let out = site.run("reconfigure");
    std::thread::sleep(Duration::from_millis(300));
    let t = load.finish();
    let err = common::text(&out);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains("drain could not be arranged")
            && err.contains("No space left on device")
            && err.contains("previous ones keep serving"),
        "{err}"
    );
    assert_eq!(t.failed(), 0, "{t}");
    assert!(
        t.only(&["web 1.0"]),
        "the old version answers throughout: {t}"
    );
    assert_eq!(site.identity("web"), before);
    assert_eq!(names(&site), vec![site.name("web")]);
    assert!(job_files(&dir).is_empty(), "{:?}", job_files(&dir));

    // Room again: the same change goes through, and drains.
    drop(full);
    let text = site.run_ok("reconfigure");
    assert!(text.contains("1 replaced"), "{text}");
    assert!(
        job_files(&dir).iter().any(|f| f.ends_with(".json")),
        "{:?}",
        job_files(&dir)
    );
}

/// The pid in the one drain job under `site`'s state folder.
fn drainer_pid(site: &Site) -> u32 {
    let dir = site.path("var/lib/conteneur/drain");
    let jobs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job: serde_json::Value = serde_json::from_slice(&std::fs::read(&jobs[0]).unwrap()).unwrap();
    let pid = job["pid"].as_u64().expect("the drainer's pid in its job");
    u32::try_from(pid).unwrap()
}

/// The names of this site's containers, as the engine lists them.
fn names(site: &Site) -> Vec<String> {
    let out = site.docker(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("name=^{}-", site.tag),
    ]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// A replaced container whose drainer died (killed) is a leftover the next
/// run removes: it says so in its count ("1 removed"), not "0 removed".
#[test]
fn a_leftover_whose_drainer_died_is_removed_and_counted() {
    let site = Site::new("dr1");
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", free_port());
    site.set("conteneur_drain_grace", &["600"]);
    site.run_ok("instance");
    site.set("conteneur1_tag", &["2.0"]);
    site.run_ok("reconfigure");
    let pid = drainer_pid(&site);
    let old: Vec<String> = names(&site)
        .into_iter()
        .filter(|n| n.contains(".old."))
        .collect();
    assert_eq!(old.len(), 1, "one replaced container drains: {old:?}");
    // The drainer dies; its container is now a leftover.
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let t0 = Instant::now();
    while std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty()) {
        assert!(t0.elapsed() < Duration::from_secs(10), "the drainer lives");
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = site.run_ok("reconfigure");
    assert!(
        text.contains("0 created, 0 replaced, 0 started, 1 removed, 1 unchanged"),
        "{text}"
    );
    assert_eq!(names(&site), vec![site.name("web")]);
}

/// A stop that takes longer than the client's usual bound on a request
/// (120 s): stop_timeout 150 s and a process that ignores SIGTERM, so the
/// engine waits the whole 150 s before it kills it. The replace of a
/// container nginx does not route to stops the old one within the run: the
/// run waits for the engine and ends with the new one running (it used to
/// report the stop failed at 120 s, remove the new one, and leave both
/// down). About 150 s: it runs beside this file's other tests.
#[test]
fn a_stop_timeout_past_the_client_s_bound_is_waited_for() {
    let site = Site::new("dr2");
    site.set("nombre_conteneur", &["1"]);
    let n = |v: &str| format!("conteneur1_{v}");
    site.set(&n("name"), &[&site.name("slow")]);
    site.set(&n("url"), &["localhost:5000/demo/web"]);
    site.set(&n("tag"), &["1.0"]);
    site.set(
        &n("command"),
        &["/bin/sh -c \"trap '' TERM; exec /bin/httpd -f -p 80 -h /www\""],
    );
    site.set(&n("stop_timeout"), &["150"]);
    site.run_ok("instance");
    let old = site.identity("slow").0;

    site.set(&n("tag"), &["2.0"]);
    let begin = Instant::now();
    let out = site
        .cmd(&["reconfigure", "--quiet"])
        .timeout(Duration::from_secs(400))
        .output()
        .unwrap();
    let took = begin.elapsed();
    let all = common::text(&out);
    assert!(out.status.success(), "after {took:?}: {all}");
    assert!(all.contains("1 replaced"), "{all}");
    // The engine's SIGKILL came at 150 s, not the client's bound at 120 s.
    assert!(took >= Duration::from_secs(140), "{took:?}: {all}");
    let (new, _) = site.identity("slow");
    assert_ne!(new, old);
    let running = site.docker(&[
        "inspect",
        "--format",
        "{{.State.Running}} {{.Config.Image}}",
        &site.name("slow"),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&running.stdout).trim(),
        "true localhost:5000/demo/web:2.0"
    );
    assert_eq!(names(&site), vec![site.name("slow")]);
}
