//! A container that reaches the host's `/` through a host folder, on the
//! real engine (docs/security.md, "Nested host folders"):
//!
//! - one container's host folder inside another's (`pra` mounts `/srv/pa`,
//!   `prb` mounts `/srv/pa/sub`, or the reverse, or two folders of one
//!   container) is refused by `lint`, `plan` and `instance`, naming both,
//!   and nothing is created;
//! - a host folder swapped for a link to `/` after its container was
//!   created, then `docker restart`: `status` names the container and
//!   stops it (exit 8), and so does a run.
//!
//! In the field, the swap was made by root inside `pra`, whose folder held
//! `prb`'s. That configuration is refused now, so the swap here is made
//! from the host, as a process that may write under the root would: what
//! the engine does at the restart is the same.

mod common;

use common::site::Site;
use common::{free_port, text as said};

/// Two containers of `site`, `pra` and `prb`, with these host folders.
fn two(site: &Site, pa: &str, pb: &str) {
    site.set("nombre_conteneur", &["2"]);
    site.container(1, "pra", "web", "1.0", free_port());
    site.container(2, "prb", "web", "1.0", free_port());
    site.set("conteneur1_mountpoint_in", &["/www/data"]);
    site.set("conteneur1_mountpoint_out", &[pa]);
    site.set("conteneur2_mountpoint_in", &["/www/data"]);
    site.set("conteneur2_mountpoint_out", &[pb]);
}

#[test]
fn nested_host_folders_are_refused_in_both_directions() {
    let site = Site::new("esc1");
    for (pa, pb, inner, outer) in [
        ("/srv/pa", "/srv/pa/sub", "prb", "pra"),
        ("/srv/pa/sub", "/srv/pa", "pra", "prb"),
        ("/srv/pa", "/srv//pa/./sub/", "prb", "pra"),
    ] {
        two(&site, pa, pb);
        let names = |text: &str| {
            text.contains(&format!("container '{}'", site.name(inner)))
                && text.contains(&format!("container '{}'", site.name(outer)))
                && text.contains(&format!("'{pa}'"))
                && text.contains(&format!("'{pb}'"))
                && text.contains("symbolic link")
        };
        let lint = site.cmd(&["lint"]).output().unwrap();
        assert!(
            !lint.status.success() && names(&said(&lint)),
            "lint {pa} {pb}: {}",
            said(&lint)
        );
        let plan = site.cmd(&["plan"]).output().unwrap();
        assert_eq!(plan.status.code(), Some(8), "plan: {}", said(&plan));
        assert!(names(&said(&plan)), "plan {pa} {pb}: {}", said(&plan));
        let run = site.run("instance");
        assert_eq!(run.status.code(), Some(8), "instance: {}", said(&run));
        assert!(
            names(&said(&run)) && said(&run).contains("nothing was changed"),
            "{}",
            said(&run)
        );
        assert!(!site.exists("pra") && !site.exists("prb"));
        assert!(!site.path("srv/pa").exists(), "a folder was created");
    }
    // Two folders of one container, one inside the other.
    site.set("nombre_conteneur", &["1"]);
    site.set("conteneur1_mountpoint_in", &["/www/data", "/www/more"]);
    site.set("conteneur1_mountpoint_out", &["/srv/pa", "/srv/pa/more"]);
    let plan = site.cmd(&["plan"]).output().unwrap();
    assert_eq!(plan.status.code(), Some(8), "plan: {}", said(&plan));
    assert!(said(&plan).contains("'/srv/pa/more'"), "{}", said(&plan));
    // Folders side by side, or the same folder twice, are fine.
    two(&site, "/srv/pa", "/srv/pab");
    site.run_ok("instance");
    two(&site, "/srv/pa", "/srv/pa");
    site.run_ok("reconfigure");
}

/// `docker inspect` of `site`'s container `short`: running?
fn running(site: &Site, short: &str) -> bool {
    let out = site.docker(&[
        "inspect",
        "--format",
        "{{.State.Running}}",
        &site.name(short),
    ]);
    String::from_utf8_lossy(&out.stdout).trim() == "true"
}

/// Whether the container sees the host's root at its shared folder.
fn sees_host_root(site: &Site, short: &str, marker: &str) -> bool {
    site.docker(&[
        "exec",
        &site.name(short),
        "ls",
        &format!("/www/data{marker}"),
    ])
    .status
    .success()
}

#[test]
fn a_host_folder_swapped_for_a_link_stops_its_container() {
    let site = Site::new("esc2");
    two(&site, "/srv/pa", "/srv/pb");
    site.run_ok("instance");
    let pb = site.path("srv/pb");
    // A file only the host's root holds, under the test's root: the
    // container sees it when it mounts the host's `/`.
    let marker = site.root.path().join("marker-of-the-host");
    std::fs::write(&marker, "host\n").unwrap();
    assert!(!sees_host_root(&site, "prb", &marker.display().to_string()));
    let status = site.cmd(&["status"]).output().unwrap();
    assert!(status.status.success(), "{}", said(&status));

    // Swapped for a link to /, then the engine starts it again.
    let swap = || {
        std::fs::remove_dir_all(&pb).unwrap();
        std::os::unix::fs::symlink("/", &pb).unwrap();
        let out = site.docker(&["restart", "-t", "1", &site.name("prb")]);
        assert!(out.status.success(), "{}", said(&out));
        assert!(
            sees_host_root(&site, "prb", &marker.display().to_string()),
            "the premise: after the restart prb has the host's /"
        );
    };
    swap();
    let out = site.cmd(&["status"]).output().unwrap();
    let text = said(&out);
    assert_eq!(out.status.code(), Some(8), "{text}");
    assert!(
        text.contains(&format!("container '{}'", site.name("prb")))
            && text.contains(&format!("'{}' now leads to '/'", pb.display()))
            && text.contains("it was stopped"),
        "{text}"
    );
    assert!(!running(&site, "prb") && running(&site, "pra"), "{text}");
    // `status --json` says it too.
    let json = site.cmd(&["status", "--json"]).output().unwrap();
    assert!(json.status.success() || json.status.code() == Some(8));

    // The folder put back, but the container restarted while the link was
    // there: the engine's mount is still the host's /.
    std::fs::remove_file(&pb).unwrap();
    std::os::unix::fs::symlink("/", &pb).unwrap();
    site.docker(&["start", &site.name("prb")]);
    std::fs::remove_file(&pb).unwrap();
    std::fs::create_dir(&pb).unwrap();
    assert!(sees_host_root(&site, "prb", &marker.display().to_string()));
    let out = site.cmd(&["status"]).output().unwrap();
    let text = said(&out);
    assert_eq!(out.status.code(), Some(8), "{text}");
    assert!(
        text.contains("what is mounted at /www/data is not its host folder")
            && text.contains("it was stopped"),
        "{text}"
    );
    assert!(!running(&site, "prb"));

    // A run stops it too, and goes no further.
    site.run_ok("reconfigure");
    assert!(running(&site, "prb") && !sees_host_root(&site, "prb", &marker.display().to_string()));
    swap();
    let out = site.run("reconfigure");
    let text = said(&out);
    assert_eq!(out.status.code(), Some(8), "{text}");
    assert!(
        text.contains(&format!("container '{}'", site.name("prb")))
            && text.contains("it was stopped"),
        "{text}"
    );
    assert!(!running(&site, "prb") && running(&site, "pra"));
}
