//! Unit tests of [`super::reconcile`]: each decision it makes, against
//! snapshots of the engines built by hand.

use std::collections::{BTreeMap, HashMap};

use super::super::next_name;
use super::super::tests::{images, launch, on, running};
use super::*;
use crate::plan::launch::Mount;
use crate::plan::observed::ObservedImage;

#[test]
fn fresh_server_pulls_once_per_tag_then_creates() {
    let a = launch("a", "1.0");
    let mut b = launch("b", "1.0");
    b.ports[0].host = 8081;
    let plan = reconcile(&[a, b], &Observed::default(), &Options::default()).unwrap();
    let text = plan.to_string();
    assert_eq!(plan.pulls().count(), 1, "{text}");
    assert!(text.contains("create   a"), "{text}");
    assert!(text.contains("create   b"), "{text}");
    assert_eq!(plan.recreated(), 2);
}

#[test]
fn host_ports_are_shown_and_a_container_holding_port_out_is_moved_once() {
    let a = launch("a", "1.0");
    let mut legacy = running(&a, "aaaa");
    let images = images(&["localhost:5000/demo/web:1.0"]);
    let observed = Observed {
        containers: vec![legacy.clone()],
        images: images.clone(),
        ..Default::default()
    };
    let plan = reconcile(std::slice::from_ref(&a), &observed, &Options::default()).unwrap();
    assert!(plan.to_string().contains("[ports 8080→38080]"), "{plan}");
    legacy.labels.remove(labels::HOST_PORTS);
    let observed = Observed {
        containers: vec![legacy],
        images,
        ..Default::default()
    };
    let plan = reconcile(std::slice::from_ref(&a), &observed, &Options::default()).unwrap();
    let text = plan.to_string();
    assert!(
        text.contains("replace  a (aaaa)") && text.contains("holds its ports itself"),
        "{text}"
    );
    assert!(
        matches!(
            &plan.steps[0].action,
            Action::Replace {
                old_ports: None,
                ..
            }
        ),
        "{text}"
    );
}

#[test]
fn a_draining_container_is_left_to_its_drainer_and_removed_when_it_died() {
    let a = launch("a", "1.0");
    let mut old = running(&a, "oooo");
    old.name = crate::plan::observed::old_name("a", "oooo");
    let mut observed = Observed {
        containers: vec![running(&a, "aaaa"), old],
        images: images(&["localhost:5000/demo/web:1.0"]),
        ..Default::default()
    };
    let plan = reconcile(std::slice::from_ref(&a), &observed, &Options::default()).unwrap();
    let text = plan.to_string();
    assert!(
        text.contains("remove   a.old.oooo (oooo)") && text.contains("interrupted drain"),
        "{text}"
    );
    assert!(text.contains("leave    a (aaaa)"), "{text}");
    observed.draining.insert("oooo".into(), 25);
    let plan = reconcile(std::slice::from_ref(&a), &observed, &Options::default()).unwrap();
    let text = plan.to_string();
    assert!(plan.is_noop(), "{text}");
    assert!(text.contains("draining, 25 s left"), "{text}");
}

#[test]
fn unchanged_is_left_and_changed_tag_replaces_only_that_one() {
    let a = launch("a", "1.0");
    let b = launch("b", "1.0");
    let observed = Observed {
        containers: vec![running(&a, "aaaa"), running(&b, "bbbb")],
        images: images(&["localhost:5000/demo/web:1.0"]),
        ..Default::default()
    };
    let plan = reconcile(&[a.clone(), b.clone()], &observed, &Options::default()).unwrap();
    assert!(plan.is_noop(), "{plan}");
    let b2 = launch("b", "2.0");
    let plan = reconcile(&[a, b2], &observed, &Options::default()).unwrap();
    let text = plan.to_string();
    assert_eq!(plan.recreated(), 1, "{text}");
    assert!(
        text.contains("pull     localhost:5000/demo/web:2.0"),
        "{text}"
    );
    assert!(
        text.contains("replace  b (bbbb)") && text.contains("tag 1.0 → 2.0"),
        "{text}"
    );
    assert!(text.contains("leave    a (aaaa)"), "{text}");
}

#[test]
fn removes_unwanted_and_leftovers_never_others() {
    let a = launch("a", "1.0");
    let mut old = running(&launch("gone", "1.0"), "gggg");
    old.name = "gone".into();
    let mut next = running(&a, "nnnn");
    next.name = next_name("a");
    let mut foreign = running(&launch("x", "1.0"), "ffff");
    foreign.labels.clear();
    foreign.name = "someone-elses".into();
    // Managed by conteneur, but for another root: not ours either.
    let mut other_root = running(&launch("other-root-app", "1.0"), "oooo");
    other_root
        .labels
        .insert(labels::SERVER.into(), "/elsewhere".into());
    let other_root_name = other_root.name.clone();
    let observed = Observed {
        containers: vec![old, next, foreign, other_root, running(&a, "aaaa")],
        images: images(&["localhost:5000/demo/web:1.0"]),
        ..Default::default()
    };
    let plan = reconcile(&[a], &observed, &Options::default()).unwrap();
    let text = plan.to_string();
    assert!(text.contains("remove   a.next (nnnn)"), "{text}");
    assert!(text.contains("remove   gone (gggg)"), "{text}");
    assert!(!text.contains("someone-elses"), "{text}");
    assert!(!text.contains(&other_root_name), "{text}");
}

#[test]
fn name_clash_with_a_foreign_container_is_an_error() {
    let a = launch("a", "1.0");
    let mut foreign = running(&a, "ffff");
    foreign.labels.clear();
    let observed = Observed {
        containers: vec![foreign],
        images: images(&[]),
        ..Default::default()
    };
    let e = reconcile(&[a], &observed, &Options::default()).unwrap_err();
    assert!(matches!(e, PlanError::NameClash { .. }), "{e}");
    assert!(e.to_string().contains("not created by conteneur"));
}

#[test]
fn name_clash_with_another_roots_container_names_that_root() {
    let a = launch("a", "1.0");
    let mut other = running(&a, "ffff");
    other
        .labels
        .insert(labels::SERVER.into(), "/srv/other-root".into());
    let observed = Observed {
        containers: vec![other],
        images: images(&[]),
        ..Default::default()
    };
    let e = reconcile(&[a], &observed, &Options::default()).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, PlanError::OtherRoot { .. }), "{e}");
    assert!(
        text.contains("/srv/other-root") && !text.contains("not created by conteneur"),
        "{text}"
    );
}

#[test]
fn stopped_unchanged_is_started_and_moving_tags_pull_on_request() {
    let a = launch("a", "latest");
    let mut c = running(&a, "aaaa");
    c.running = false;
    c.state = "exited".into();
    let observed = Observed {
        containers: vec![c],
        images: images(&["localhost:5000/demo/web:latest"]),
        ..Default::default()
    };
    let plan = reconcile(std::slice::from_ref(&a), &observed, &Options::default()).unwrap();
    assert!(plan.to_string().contains("start    a"), "{plan}");
    let opts = Options {
        pull_moving: true,
        ..Default::default()
    };
    let plan = reconcile(&[a], &observed, &opts).unwrap();
    assert_eq!(plan.pulls().count(), 1);
}

#[test]
fn a_type_switch_replaces_across_engines_and_pulls_for_the_new_one() {
    let a = launch("a", "1.0");
    let observed = Observed {
        containers: vec![running(&a, "aaaa")],
        images: images(&["localhost:5000/demo/web:1.0"]),
        ..Default::default()
    };
    let to_lxc = on(a.clone(), "lxc");
    let plan = reconcile(
        std::slice::from_ref(&to_lxc),
        &observed,
        &Options::default(),
    )
    .unwrap();
    let text = plan.to_string();
    // The docker image is there, the LXC cache does not have it yet.
    assert!(
        text.contains("pull     localhost:5000/demo/web:1.0 for lxc"),
        "{text}"
    );
    assert!(text.contains("replace  a (aaaa) docker → lxc"), "{text}");
    assert!(text.contains("type docker → lxc"), "{text}");
    let step = plan
        .steps
        .iter()
        .find(|s| matches!(s.action, Action::Replace { .. }))
        .unwrap();
    assert!(matches!(
        step.action,
        Action::Replace {
            old_backend: Kind::Docker,
            backend: Kind::Lxc,
            ..
        }
    ));
    // JSON names the engines.
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["steps"][1]["old_backend"], "docker");
    assert_eq!(json["steps"][1]["backend"], "lxc");

    // Back on LXC, unchanged: left alone, on its engine.
    let mut c = running(&to_lxc, "a.next");
    c.name = "a".into();
    let mut imgs = images(&[]);
    imgs.insert(
        Kind::Lxc,
        [(
            "localhost:5000/demo/web:1.0".to_string(),
            ObservedImage {
                id: "sha256:img1".into(),
                labels: BTreeMap::new(),
            },
        )]
        .into(),
    );
    let observed = Observed {
        containers: vec![c],
        images: imgs,
        ..Default::default()
    };
    let plan = reconcile(
        std::slice::from_ref(&to_lxc),
        &observed,
        &Options::default(),
    )
    .unwrap();
    assert!(plan.is_noop(), "{plan}");
    assert!(
        plan.to_string().contains("leave    a (a.next) on lxc"),
        "{plan}"
    );
}

#[test]
fn a_foreign_container_only_clashes_on_its_own_engine() {
    let a = on(launch("a", "1.0"), "lxc");
    let mut foreign = running(&launch("a", "1.0"), "ffff");
    foreign.labels.clear();
    let observed = Observed {
        containers: vec![foreign.clone()],
        ..Default::default()
    };
    // A docker container named 'a' that is not ours: no clash for LXC.
    let plan = reconcile(std::slice::from_ref(&a), &observed, &Options::default()).unwrap();
    assert!(plan.to_string().contains("create   a on lxc"), "{plan}");
    assert!(!plan.to_string().contains("ffff"), "{plan}");
    foreign.backend = Kind::Lxc;
    let observed = Observed {
        containers: vec![foreign],
        ..Default::default()
    };
    let e = reconcile(&[a], &observed, &Options::default()).unwrap_err();
    assert!(matches!(e, PlanError::NameClash { .. }), "{e}");
}

#[test]
fn lxc_templates_need_no_pull_and_volumes_do_not_switch() {
    let mut t = on(launch("t", "1"), "lxc");
    t.image = "busybox".into();
    let plan = reconcile(&[t], &Observed::default(), &Options::default()).unwrap();
    assert_eq!(plan.pulls().count(), 0, "{plan}");
    let mut a = launch("a", "1.0");
    a.mounts = vec![Mount {
        container: "/data".into(),
        host: "appdata".into(),
        kind: MountKind::Volume,
    }];
    let observed = Observed {
        containers: vec![running(&a, "aaaa")],
        images: images(&["localhost:5000/demo/web:1.0"]),
        ..Default::default()
    };
    let e = reconcile(&[on(a, "lxc")], &observed, &Options::default()).unwrap_err();
    assert!(
        matches!(e, PlanError::VolumeSwitch { .. }) && e.to_string().contains("'appdata'"),
        "{e}"
    );
}

fn git(name: &str, tag: &str) -> Launch {
    let mut l = on(launch(name, tag), "docker+git");
    l.image = "local/site".into();
    l.repository = "file:///srv/site.git".into();
    l
}

fn built(commit: &str) -> BTreeMap<Kind, HashMap<String, ObservedImage>> {
    let mut m = BTreeMap::new();
    m.insert(
        Kind::Docker,
        [(
            "local/site:v1".to_string(),
            ObservedImage {
                id: "sha256:img1".into(),
                labels: [(labels::GIT_COMMIT.to_string(), commit.to_string())].into(),
            },
        )]
        .into(),
    );
    m
}

#[test]
fn git_builds_only_when_the_tag_or_its_commit_changes() {
    let s = git("s", "v1");
    let sources: HashMap<(String, String), String> =
        [(("file:///srv/site.git".into(), "v1".into()), "c1".into())].into();
    // Nothing built yet: build, then create.
    let observed = Observed {
        sources: sources.clone(),
        ..Default::default()
    };
    let plan = reconcile(std::slice::from_ref(&s), &observed, &Options::default()).unwrap();
    let text = plan.to_string();
    assert!(
        text.contains("build    local/site:v1 from file:///srv/site.git c1")
            && text.contains("not built yet"),
        "{text}"
    );
    // Built from that commit, running: nothing to do.
    let observed = Observed {
        containers: vec![running(&s, "ssss")],
        images: built("c1"),
        sources: sources.clone(),
        ..Default::default()
    };
    let plan = reconcile(std::slice::from_ref(&s), &observed, &Options::default()).unwrap();
    assert!(plan.is_noop(), "{plan}");
    // The tag moved: built again, and the container replaced.
    let observed = Observed {
        containers: vec![running(&s, "ssss")],
        images: built("c0"),
        sources,
        ..Default::default()
    };
    let plan = reconcile(std::slice::from_ref(&s), &observed, &Options::default()).unwrap();
    let text = plan.to_string();
    assert!(text.contains("'v1' moved: commit c0 → c1"), "{text}");
    assert!(
        text.contains("replace  s (ssss)") && text.contains("built again"),
        "{text}"
    );
    // Where the tag points unknown, or no repository: refused.
    let e = reconcile(
        std::slice::from_ref(&s),
        &Observed::default(),
        &Options::default(),
    )
    .unwrap_err();
    assert!(matches!(e, PlanError::UnknownSource { .. }), "{e}");
    let mut s = s;
    s.repository.clear();
    let e = reconcile(&[s], &Observed::default(), &Options::default()).unwrap_err();
    assert!(
        e.to_string().contains("container 's': type 'docker+git'")
            && e.to_string().contains("conteneurX_repository"),
        "{e}"
    );
}

#[test]
fn snaps_are_checked_and_never_taken_from_others() {
    let mut s = on(launch("s", "stable"), "snap");
    s.image = "hello-web".into();
    let plan = reconcile(
        std::slice::from_ref(&s),
        &Observed::default(),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(plan.pulls().count(), 0, "{plan}");
    assert!(plan.to_string().contains("create   s on snap"), "{plan}");
    // Installed by someone else.
    let foreign = ObservedContainer {
        backend: Kind::Snap,
        id: "hello-web".into(),
        name: "hello-web".into(),
        labels: BTreeMap::new(),
        running: true,
        state: "running".into(),
        image: String::new(),
        image_id: String::new(),
    };
    let observed = Observed {
        containers: vec![foreign],
        ..Default::default()
    };
    let e = reconcile(std::slice::from_ref(&s), &observed, &Options::default()).unwrap_err();
    assert!(matches!(e, PlanError::SnapTaken { .. }), "{e}");
    // Settings a snap cannot take.
    let mut m = s.clone();
    m.mounts = vec![Mount {
        container: "/data".into(),
        host: "/srv/x".into(),
        kind: MountKind::Bind,
    }];
    let e = reconcile(&[m], &Observed::default(), &Options::default()).unwrap_err();
    assert!(e.to_string().contains("cannot share folders"), "{e}");
    let mut bad = s.clone();
    bad.image = "localhost:5000/demo/web".into();
    assert!(reconcile(&[bad], &Observed::default(), &Options::default()).is_err());
    // Twice the same snap.
    let mut t = s.clone();
    t.name = "t".into();
    let e = reconcile(&[s, t], &Observed::default(), &Options::default()).unwrap_err();
    assert!(e.to_string().contains("a snap is installed once"), "{e}");
}
