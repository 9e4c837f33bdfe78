//! `status` against the real engine, registry and private nginx: it shows
//! what runs (not what is configured), marks the drift between the two,
//! and exits 8 whenever something is not as wanted.

mod common;

use common::free_port;
use common::site::Site;

/// `status --json`: the exit code and the document.
fn status(site: &Site) -> (Option<i32>, serde_json::Value) {
    let out = site.cmd(&["status", "--json"]).output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json is no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json)
}

#[test]
fn status_shows_the_running_image_and_exits_8_when_not_as_wanted() {
    let site = Site::new("s1");
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", free_port());
    site.run_ok("instance");
    let (code, st) = status(&site);
    assert_eq!(code, Some(0), "{st}");
    let web = &st["containers"][0];
    assert_eq!(web["image"], "localhost:5000/demo/web:1.0", "{st}");
    assert!(web["drift"].is_null(), "{st}");

    // A pull that fails: 1.0 keeps running, 9.9 is configured.
    site.set("conteneur1_tag", &["9.9"]);
    assert_eq!(site.run("reconfigure").status.code(), Some(8));
    let (code, st) = status(&site);
    assert_eq!(code, Some(8), "{st}");
    let web = &st["containers"][0];
    assert_eq!(web["image"], "localhost:5000/demo/web:1.0", "{st}");
    assert_eq!(web["wanted"], "localhost:5000/demo/web:9.9", "{st}");
    assert!(
        web["drift"]
            .as_str()
            .unwrap_or_default()
            .starts_with("replace"),
        "{st}"
    );
    let text = site.cmd(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("runs localhost:5000/demo/web:1.0, configured localhost:5000/demo/web:9.9"),
        "{text}"
    );

    // Back as configured.
    site.set("conteneur1_tag", &["1.0"]);
    assert_eq!(status(&site).0, Some(0));

    // A change that only touches a file (the nginx site): not applied yet.
    site.set("conteneur_proxy_body_size", &["20m"]);
    let (code, st) = status(&site);
    assert_eq!(code, Some(8), "{st}");
    let files = st["files_not_applied"].to_string();
    assert!(
        files.contains("var/lib/conteneur/nginx/conteneur.conf"),
        "{st}"
    );
    site.run_ok("reconfigure");
    assert_eq!(status(&site).0, Some(0));

    // The proxy down.
    site.cmd(&["proxy", "stop"]).assert().success();
    let (code, st) = status(&site);
    assert_eq!(code, Some(8), "{st}");
    assert_eq!(st["proxy_running"], false, "{st}");
}
