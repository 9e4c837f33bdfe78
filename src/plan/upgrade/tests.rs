//! Older label formats read by this conteneur.

use std::collections::BTreeMap;

use super::super::tests::launch;
use super::*;
use crate::plan::observed::labels;

/// Labels as conteneur of format 1 (60d4e92) wrote them for `l`: the plan
/// in clear, no `app`, no host ports, no format label.
fn format1(l: &Launch) -> BTreeMap<String, String> {
    let mut v = serde_json::to_value(l).unwrap();
    v.as_object_mut().unwrap().remove("app");
    let text = v.to_string();
    [
        (labels::MANAGED, "true".to_string()),
        (labels::NAME, l.name.clone()),
        (labels::PLAN_HASH, "0".repeat(64)),
        (labels::PLAN, text),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn key() -> LabelKey {
    LabelKey::new([3; 32])
}

#[test]
fn formats_are_told_apart() {
    let mut old = launch("a", "1.0");
    old.env = vec!["P=secret".into()];
    assert_eq!(format_of(&format1(&old)), 1);
    let now = identity::container_labels(&old, "sha256:i", "", &key());
    assert_eq!(format_of(&now), FORMAT);
    let mut v2 = now.clone();
    v2.remove(FORMAT_LABEL);
    v2.insert(labels::HOST_PORTS.into(), String::new());
    assert_eq!(format_of(&v2), 2);
}

#[test]
fn values_in_clear_are_the_same_values_sealed() {
    let mut l = launch("a", "1.0");
    l.env = vec!["A=1".into(), "DB_PASSWORD=hunter2".into()];
    // The label of 60d4e92 held the value in clear: same, not "changed".
    assert_eq!(compare(&format1(&l), &l, &key(), false), Verdict::Same);
    // A value that really changed is said, by name only.
    let mut new = l.clone();
    new.env[1] = "DB_PASSWORD=hunter3".into();
    match compare(&format1(&l), &new, &key(), false) {
        Verdict::Changed(cause) => {
            assert_eq!(cause, "env DB_PASSWORD changed");
        }
        v => panic!("{v:?}"),
    }
}

#[test]
fn a_new_default_is_named_and_applied_only_when_asked() {
    let mut old = launch("a", "1.0");
    old.app.no_new_privileges = false;
    let mut new = old.clone();
    new.app.no_new_privileges = true;
    let labels = format1(&old);
    let v = compare(&labels, &new, &key(), false);
    assert_eq!(v, Verdict::NewDefaults(vec![&NEW_DEFAULTS[0]]));
    assert_eq!(
        compare(&labels, &new, &key(), true),
        Verdict::Changed(
            "new default of conteneur 0.2: no-new-privileges (conteneurX_no_new_privileges)".into()
        )
    );
    // With another change, the default comes along and is said.
    new.tag = "2.0".into();
    assert_eq!(
        compare(&labels, &new, &key(), false),
        Verdict::Changed(
            "tag 1.0 → 2.0, and new default of conteneur 0.2: no-new-privileges \
             (conteneurX_no_new_privileges)"
                .into()
        )
    );
}

#[test]
fn a_setting_changed_on_a_newer_format_is_a_change() {
    // Format 2 knew no-new-privileges: turning it on is the admin's doing.
    let mut old = launch("a", "1.0");
    old.app.no_new_privileges = false;
    let mut labels = identity::container_labels(&old, "sha256:i", "", &key());
    labels.remove(FORMAT_LABEL);
    labels.insert(
        crate::plan::observed::labels::HOST_PORTS.into(),
        "8080=38080".into(),
    );
    let mut new = old.clone();
    new.app.no_new_privileges = true;
    assert_eq!(
        compare(&labels, &new, &key(), false),
        Verdict::Changed("application settings changed".into())
    );
}
