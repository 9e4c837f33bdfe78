//! Volumes of this server, of another root, of nobody.

use std::collections::BTreeMap;

use super::super::launch::{Launch, Mount, MountKind};
use super::super::tests::{launch, running};
use super::super::{Options, apps, reconcile};
use super::*;

fn with_volume(name: &str, volume: &str) -> Launch {
    let mut l = launch(name, "1.0");
    l.mounts = vec![Mount {
        container: "/data".into(),
        host: volume.into(),
        kind: MountKind::Volume,
    }];
    l
}

fn volume(name: &str, labels: BTreeMap<String, String>) -> ObservedResource {
    ObservedResource {
        backend: Kind::Docker,
        id: name.into(),
        name: name.into(),
        labels,
    }
}

fn plan_error(desired: &[Launch], observed: &Observed, adopt: bool) -> Option<String> {
    let opts = Options {
        server: "/srv/b".into(),
        adopt_volumes: adopt,
        ..Default::default()
    };
    reconcile(desired, observed, &opts)
        .err()
        .map(|e| e.to_string())
}

#[test]
fn another_roots_volume_is_refused_naming_the_root() {
    let d = [with_volume("db", "wpdb")];
    let observed = Observed {
        volumes: vec![volume("wpdb", apps::volume_labels("/srv/a", "wpdb"))],
        ..Default::default()
    };
    for adopt in [false, true] {
        let e = plan_error(&d, &observed, adopt).expect("refused");
        assert!(
            e.contains("container 'db': the volume 'wpdb' belongs to another server, the one under --root /srv/a"),
            "{e}"
        );
        assert!(e.contains("choose another volume name"), "{e}");
    }
    // Its own: used.
    let observed = Observed {
        volumes: vec![volume("wpdb", apps::volume_labels("/srv/b", "wpdb"))],
        ..Default::default()
    };
    assert_eq!(plan_error(&d, &observed, false), None);
    // Not there yet: created by the run.
    assert_eq!(plan_error(&d, &Observed::default(), false), None);
}

#[test]
fn an_unlabelled_volume_is_adopted_only_when_asked() {
    let d = [with_volume("db", "handmade")];
    let observed = Observed {
        volumes: vec![volume("handmade", BTreeMap::new())],
        ..Default::default()
    };
    let e = plan_error(&d, &observed, false).expect("refused");
    assert!(
        e.contains("the volume 'handmade' exists and was not created by conteneur for this server")
            && e.contains("conteneur_adopt_volumes"),
        "{e}"
    );
    assert_eq!(plan_error(&d, &observed, true), None);
}

#[test]
fn an_unlabelled_volume_one_of_our_containers_mounts_is_ours() {
    // Made by a conteneur that did not label volumes (60d4e92).
    let d = with_volume("db", "old");
    let mut c = running(&d, "cccc");
    c.labels.insert(
        crate::plan::observed::labels::SERVER.into(),
        "/srv/b".into(),
    );
    let observed = Observed {
        containers: vec![c],
        volumes: vec![volume("old", BTreeMap::new())],
        ..Default::default()
    };
    assert_eq!(plan_error(&[d], &observed, false), None);
}
