//! The replace strategies in the plan's text form, the one `conteneur plan`
//! prints: each strategy, its steps and their order, pinned with insta
//! (`src/plan/reconciler/snapshots/`). The executor carries these steps out
//! as they are written (`converge/replace.rs`).

use super::super::tests::{images, launch, on, running};
use super::*;
use crate::plan::launch::Mount;

/// The plan of `desired` against `before` running (ids `old-NAME`), with
/// the images of both present on Docker and LXC.
fn plan_of(desired: &[Launch], before: &[Launch]) -> String {
    let refs: Vec<String> = desired
        .iter()
        .chain(before)
        .map(|l| format!("{}:{}", l.image, l.tag))
        .collect();
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
    let mut imgs = images(&refs);
    let docker = imgs.get(&Kind::Docker).cloned().unwrap_or_default();
    imgs.insert(Kind::Lxc, docker);
    let observed = Observed {
        containers: before
            .iter()
            .map(|l| running(l, &format!("old-{}", l.name)))
            .collect(),
        images: imgs,
        ..Default::default()
    };
    let opts = Options {
        drain_grace: 30,
        ..Options::default()
    };
    reconcile(desired, &observed, &opts)
        .map(|p| p.to_string())
        .unwrap_or_else(|e| format!("error: {e}"))
}

fn database(tag: &str) -> Launch {
    let mut db = launch("db", tag);
    db.ports.clear();
    db.health.port = None;
    db.mounts.push(Mount {
        container: "/var/lib/mysql".into(),
        host: "dbdata".into(),
        kind: MountKind::Volume,
    });
    db
}

#[test]
fn docker_with_ports_is_replaced_beside_and_retired() {
    let text = plan_of(&[launch("web", "2.0")], &[launch("web", "1.0")]);
    insta::assert_snapshot!(text);
}

#[test]
fn docker_with_data_and_no_ports_stops_first() {
    let text = plan_of(&[database("2.0")], &[database("1.0")]);
    insta::assert_snapshot!(text);
}

#[test]
fn lxc_is_replaced_beside() {
    let text = plan_of(
        &[on(launch("web", "2.0"), "lxc")],
        &[on(launch("web", "1.0"), "lxc")],
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_type_change_starts_on_the_new_engine_beside_the_old() {
    let text = plan_of(&[launch("web", "1.0")], &[on(launch("web", "1.0"), "lxc")]);
    insta::assert_snapshot!(text);
}

#[test]
fn an_old_port_holder_stops_before_the_switch() {
    let old = launch("web", "1.0");
    let mut c = running(&old, "old-web");
    c.labels.remove(labels::HOST_PORTS);
    let observed = Observed {
        containers: vec![c],
        images: images(&["localhost:5000/demo/web:2.0"]),
        ..Default::default()
    };
    let plan = reconcile(&[launch("web", "2.0")], &observed, &Options::default()).unwrap();
    insta::assert_snapshot!(plan.to_string());
}

#[test]
fn an_application_is_replaced_in_waves() {
    let mut cache = launch("cache", "2.0");
    cache.ports.clear();
    cache.health.port = None;
    let mut web = launch("web", "2.0");
    web.app.depends_on = vec!["db".into(), "cache".into()];
    let mut old_cache = cache.clone();
    old_cache.tag = "1.0".into();
    let mut old_web = web.clone();
    old_web.tag = "1.0".into();
    let text = plan_of(
        &[web, database("2.0"), cache],
        &[old_web, database("1.0"), old_cache],
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_snap_is_changed_in_place() {
    let mut s = on(launch("notes", "latest/stable"), "snap");
    s.image = "hello-world".into();
    let mut old = s.clone();
    old.tag = "latest/edge".into();
    let text = plan_of(&[s], &[old]);
    insta::assert_snapshot!(text);
}

#[test]
fn the_strategies_in_json_name_their_phases() {
    let observed = Observed {
        containers: vec![running(&launch("web", "1.0"), "old-web")],
        images: images(&["localhost:5000/demo/web:2.0"]),
        ..Default::default()
    };
    let plan = reconcile(&[launch("web", "2.0")], &observed, &Options::default()).unwrap();
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["steps"][0]["strategy"]["name"], "beside");
    assert_eq!(
        json["steps"][0]["strategy"]["phases"],
        serde_json::json!([
            "create-next",
            "wait-healthy",
            "switch",
            "rename-old",
            "rename-next",
            "retire-old"
        ])
    );
}
