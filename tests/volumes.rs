//! Data that belongs to one server, on the real engine: a named volume
//! labelled for another server root is refused, naming that root, and
//! nothing changes; a volume without conteneur's label is used only when
//! `conteneur_adopt_volumes` says so.

mod common;

use common::site::Site;
use common::{docker, free_port};

/// Removes the test's volumes, whatever the test's outcome.
struct Volumes(Vec<String>);

impl Drop for Volumes {
    fn drop(&mut self) {
        for v in &self.0 {
            docker(&["volume", "rm", "-f", v]);
        }
    }
}

fn with_volume(site: &Site, short: &str, volume: &str) {
    site.set("nombre_conteneur", &["1"]);
    site.container(1, short, "notes", "1.0", free_port());
    site.set("conteneur1_mountpoint_in", &["/www/data"]);
    site.set("conteneur1_mountpoint_out", &[volume]);
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn labels_of(volume: &str) -> String {
    let out = docker(&["volume", "inspect", "--format", "{{json .Labels}}", volume]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn another_roots_volume_is_refused_and_nothing_changes() {
    let a = Site::new("vol1a");
    let volume = format!("{}-data", a.name("v"));
    let _cleanup = Volumes(vec![volume.clone()]);
    with_volume(&a, "notes", &volume);
    a.run_ok("instance");
    let a_identity = a.identity("notes");
    let a_labels = labels_of(&volume);
    let a_root = std::fs::canonicalize(a.root.path()).unwrap();
    assert!(
        a_labels.contains(&a_root.display().to_string()),
        "{a_labels}"
    );

    // A second server root on the same engine configures the same volume.
    let b = Site::new("vol1b");
    with_volume(&b, "notes", &volume);
    for what in [&["plan"][..], &["instance", "--quiet"]] {
        let out = b.cmd(what).output().unwrap();
        let err = stderr(&out);
        assert_ne!(out.status.code(), Some(0), "{what:?}: {err}");
        assert!(
            err.contains(&format!(
                "the volume '{volume}' belongs to another server, the one under --root {}",
                a_root.display()
            )) && err.contains("choose another volume name"),
            "{what:?}: {err}"
        );
    }
    // Nothing changed: b made no container and wrote no launch plan, a's
    // container and volume are as they were.
    assert!(!b.exists("notes"));
    assert!(!b.path("var/lib/conteneur/launch.json").exists());
    assert!(!b.path("etc/eole/.instance").exists());
    assert_eq!(a.identity("notes"), a_identity);
    assert_eq!(labels_of(&volume), a_labels);
}

#[test]
fn an_unlabelled_volume_is_used_only_when_adopted() {
    let site = Site::new("vol2");
    let volume = format!("{}-hand", site.name("v"));
    let _cleanup = Volumes(vec![volume.clone()]);
    assert!(docker(&["volume", "create", &volume]).status.success());
    with_volume(&site, "notes", &volume);
    let out = site.run("instance");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains(&format!(
            "the volume '{volume}' exists and was not created by conteneur for this server"
        )) && err.contains("conteneur_adopt_volumes"),
        "{err}"
    );
    assert!(!site.exists("notes"));
    site.set("conteneur_adopt_volumes", &["oui"]);
    site.run_ok("instance");
    assert!(site.exists("notes"));
}
