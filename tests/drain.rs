//! End-to-end tests of what becomes of replaced containers, against the
//! real Docker engine, the loopback registry and a private nginx: the
//! drain journal, a reboot during a drain, drains completed when due, and
//! stops that take long. Each test has its own root, ports and names; the site's
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

/// A drain journal that cannot be written (its folder full) stops the run
/// before nginx is switched: the old container keeps serving, with no
/// failed request, the new one goes, and no temporary file is left. (It
/// used to switch, exit 0, and leave `NAME.old.ID` running with no drainer
/// and a 0-byte `.tmp`.)
#[test]
fn a_drain_journal_that_cannot_be_written_stops_the_run_before_the_switch() {
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

/// `docker inspect --format FORMAT NAME` of this site, trimmed.
fn inspect(site: &Site, format: &str, name: &str) -> String {
    let out = site.docker(&["inspect", "--format", format, name]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes a test's network when it ends (its containers go first).
struct NetworkGuard<'a>(&'a Site, String);

impl Drop for NetworkGuard<'_> {
    fn drop(&mut self) {
        self.0.clean_engine();
        self.0.docker(&["network", "rm", &self.1]);
    }
}

/// A drain survives a reboot: no process holds it (the journal on disk
/// does), the replaced instance is retired at rename (restart policy `no`,
/// no network alias), so a reboot during the grace period brings back only
/// the new version, by its route and by its name on the application's
/// network; `status` shows the drain (exit 0) before, the leftover after,
/// and the next run removes it. There is no drainer process to kill: the
/// journal is the drain. The reboot is the engine's: every container of
/// this root killed, then those whose restart policy brings them back at
/// boot started again (a real reboot of the test machine is not possible).
#[test]
fn a_reboot_during_a_drain_brings_back_only_the_new_version() {
    let site = Site::new("dr1");
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", free_port());
    site.set("conteneur1_networks", &["front"]);
    site.set("conteneur_drain_grace", &["600"]);
    site.run_ok("instance");
    site.set("conteneur1_tag", &["2.0"]);
    let text = site.run_ok("reconfigure");
    assert!(text.contains("drain journal"), "{text}");
    let journal = site.path("var/lib/conteneur/drain/journal.json");
    assert!(journal.exists(), "the drain is in the journal");
    let old: Vec<String> = names(&site)
        .into_iter()
        .filter(|n| n.contains(".old."))
        .collect();
    assert_eq!(old.len(), 1, "one replaced container drains: {old:?}");
    let old = &old[0];

    // During the grace period: as wanted, and said.
    let out = site.cmd(&["status"]).output().unwrap();
    let status = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{status}");
    assert!(
        status.contains("draining") && status.contains(" s left"),
        "{status}"
    );
    // Retired: never restarted, and not its name on the network any more.
    assert_eq!(
        inspect(&site, "{{.HostConfig.RestartPolicy.Name}}", old),
        "no"
    );
    let aliases = inspect(
        &site,
        "{{range .NetworkSettings.Networks}}{{.Aliases}}{{end}}",
        old,
    );
    assert!(!aliases.contains(&site.name("web")), "{aliases}");
    let network = inspect(
        &site,
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}",
        &site.name("web"),
    );
    assert!(network.starts_with("conteneur-"), "{network}");
    let _network = NetworkGuard(&site, network.clone());

    // The reboot.
    let all = names(&site);
    for n in &all {
        site.docker(&["kill", n]);
    }
    for n in &all {
        let policy = inspect(&site, "{{.HostConfig.RestartPolicy.Name}}", n);
        if policy != "no" && !policy.is_empty() {
            let out = site.docker(&["start", n]);
            assert!(out.status.success(), "{}", common::text(&out));
        }
    }
    assert_eq!(inspect(&site, "{{.State.Running}}", old), "false");
    // Only the new version answers: through nginx…
    let t0 = Instant::now();
    loop {
        let page = common::get(&site.url("web")).unwrap_or_else(|e| e);
        if page.contains("web 2.0") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{page}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // …and by its name on the application's network: Docker's DNS gives
    // the new instance's address alone (a Debian image for getent: the
    // static busybox of the demo images cannot resolve names).
    let out = site.docker(&[
        "run",
        "--rm",
        "--network",
        &network,
        "--entrypoint",
        "getent",
        "localhost:5000/apps/mariadb:10.11",
        "ahostsv4",
        &site.name("web"),
    ]);
    let found: std::collections::BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    let new_ip = inspect(
        &site,
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
        &site.name("web"),
    );
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        vec![new_ip.clone()],
        "{} on {network}: {}",
        site.name("web"),
        common::text(&out)
    );

    // The leftover is said, and the next run removes it.
    let out = site.cmd(&["status"]).output().unwrap();
    let status = common::text(&out);
    assert_eq!(out.status.code(), Some(8), "{status}");
    assert!(status.contains("left over"), "{status}");
    let text = site.run_ok("reconfigure");
    assert!(
        text.contains("0 created, 0 replaced, 0 started, 1 removed, 1 unchanged"),
        "{text}"
    );
    assert_eq!(names(&site), vec![site.name("web")]);
    assert!(!journal.exists(), "the journal is empty");
}

/// `status --repair` (what `conteneur-drain.timer` runs, as `conteneur
/// drain`) completes a drain that is due: the replaced instance stops and
/// goes, and the journal empties; before it is due, nothing happens.
#[test]
fn a_due_drain_is_completed_by_status_repair() {
    let site = Site::new("dr4");
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", free_port());
    site.set("conteneur_drain_grace", &["3"]);
    site.run_ok("instance");
    site.set("conteneur1_tag", &["2.0"]);
    site.run_ok("reconfigure");
    assert_eq!(names(&site).len(), 2, "{:?}", names(&site));
    let out = site.cmd(&["drain"]).output().unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(names(&site).len(), 2, "not due yet: {:?}", names(&site));
    std::thread::sleep(Duration::from_secs(4));
    let out = site.cmd(&["status", "--repair"]).output().unwrap();
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("drained: 1"), "{text}");
    assert_eq!(names(&site), vec![site.name("web")]);
    assert!(!site.path("var/lib/conteneur/drain/journal.json").exists());
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
