//! End-to-end tests of what becomes of replaced containers, against the
//! real Docker engine, the loopback registry and a private nginx: the
//! drainer's job, the leftovers of a drainer that died, and stops that
//! take long. Each test has its own root, ports and names; the site's
//! guard removes its containers and stops its nginx even when it fails.

mod common;

use common::free_port;
use common::site::Site;

use std::time::{Duration, Instant};

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
