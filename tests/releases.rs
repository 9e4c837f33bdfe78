//! Releases on the real engine: each successful run records one, and
//! `conteneur releases` lists them with what changed, by name only.

mod common;

use common::free_port;
use common::site::Site;

#[test]
fn each_run_is_a_release_listed_with_what_changed() {
    let site = Site::new("rel");
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", free_port());
    site.set("conteneur_secret_name", &["token"]);
    site.set("conteneur_secret_value", &["a-secret-of-the-release-test"]);
    site.run_ok("instance");
    site.set("conteneur1_tag", &["2.0"]);
    site.run_ok("reconfigure");
    site.set("conteneur_secret_value", &["another-secret-of-the-test"]);
    site.run_ok("reconfigure");
    let out = site.cmd(&["releases"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("instance") && lines[0].contains("first release kept"));
    assert!(
        lines[1].contains("conteneur1_tag changed") && lines[1].contains("demo/web:2.0"),
        "{text}"
    );
    assert!(
        lines[2].contains("conteneur_secret_value changed"),
        "{text}"
    );
    // No secret in clear: not listed, not in the files.
    for dir in std::fs::read_dir(site.path("var/lib/conteneur/releases")).unwrap() {
        let raw = std::fs::read_to_string(dir.unwrap().path()).unwrap();
        assert!(!raw.contains("secret-of-the"), "{raw}");
    }
    assert!(!text.contains("secret-of-the"), "{text}");
}
