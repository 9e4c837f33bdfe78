//! How a container of ours is recognised and named on an engine: the labels
//! it carries (its launch plan, sealed, and that plan's hash), what changed
//! since the plan its label holds, and the names of its replacement and of
//! its replaced instance. Its own file because the executor writes these
//! labels and names and the planner reads them back: both sides must agree
//! on one definition.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::launch::{self, Launch};
use super::redact::{self, LabelKey};
use crate::plan::observed::{NEXT_SUFFIX, labels};

/// The configured name of a replaced container draining (`NAME.old.ID`).
pub fn old_base(name: &str) -> &str {
    name.split(crate::plan::observed::OLD_MARK)
        .next()
        .unwrap_or(name)
}

/// The name a replacement container has until it is switched in.
pub fn next_name(name: &str) -> String {
    format!("{name}{NEXT_SUFFIX}")
}

/// The canonical text of a launch plan: what the hash covers and the label
/// keeps, so the next run can say what changed. Environment values are
/// sealed ([`redact`]): the label never holds a secret.
pub fn plan_text(launch: &Launch, key: &LabelKey) -> String {
    serde_json::to_string(&redact::redacted(launch, key)).unwrap_or_default()
}

/// The hash stored on the container: any change of its plan (an
/// environment value included) replaces it.
pub fn plan_hash(launch: &Launch, key: &LabelKey) -> String {
    let digest = Sha256::digest(plan_text(launch, key).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Describes what changed between two launch plans, for the step's cause.
pub(super) fn describe_change(old: Option<&str>, new: &Launch, key: &LabelKey) -> String {
    let Some(old) = old.and_then(|t| serde_json::from_str::<Launch>(t).ok()) else {
        return "its launch plan changed".to_string();
    };
    // The label holds sealed values: compare like with like.
    let new = &redact::redacted(new, key);
    let mut parts = Vec::new();
    if old.image != new.image {
        parts.push(format!("image {} → {}", old.image, new.image));
    }
    if old.tag != new.tag {
        parts.push(format!("tag {} → {}", old.tag, new.tag));
    }
    parts.extend(redact::env_changes(&old.env, &new.env));
    let app_rest = |a: &launch::App| launch::App {
        secrets: Vec::new(),
        ..a.clone()
    };
    let fields: [(&str, bool); 9] = [
        ("ports", old.ports != new.ports),
        ("mounts", old.mounts != new.mounts),
        ("memory limit", old.memory != new.memory),
        ("restart policy", old.restart != new.restart),
        ("stop timeout", old.stop_timeout != new.stop_timeout),
        ("health check", old.health != new.health),
        ("labels", old.labels != new.labels),
        // Names and hashes only: which value changed is not said.
        ("secrets", old.app.secrets != new.app.secrets),
        (
            "application settings",
            app_rest(&old.app) != app_rest(&new.app),
        ),
    ];
    parts.extend(
        fields
            .iter()
            .filter(|(_, changed)| *changed)
            .map(|(n, _)| format!("{n} changed")),
    );
    if old.backend != new.backend {
        parts.push(format!("type {} → {}", old.backend, new.backend));
    }
    if parts.is_empty() {
        "its launch plan changed".to_string()
    } else {
        parts.join(", ")
    }
}

/// The labels a container of `launch` carries on server `server`.
pub fn container_labels(
    launch: &Launch,
    image_id: &str,
    server: &str,
    key: &LabelKey,
) -> BTreeMap<String, String> {
    let mut l = launch.labels.clone();
    l.insert(labels::MANAGED.into(), "true".into());
    l.insert(labels::SERVER.into(), server.to_string());
    l.insert(labels::NAME.into(), launch.name.clone());
    l.insert(labels::PLAN_HASH.into(), plan_hash(launch, key));
    l.insert(labels::PLAN.into(), plan_text(launch, key));
    l.insert(labels::IMAGE_ID.into(), image_id.to_string());
    l.insert(
        super::upgrade::FORMAT_LABEL.into(),
        super::upgrade::format_value(),
    );
    l
}

#[cfg(test)]
mod tests {
    use super::super::tests::{images, launch, running};
    use super::super::{Options, reconcile};
    use super::*;
    use crate::plan::observed::Observed;

    #[test]
    fn the_plan_label_holds_no_environment_value() {
        let mut a = launch("a", "1.0");
        a.env = vec!["DB_PASSWORD=hunter2".into(), "MODE=prod".into()];
        let key = LabelKey::new([7; 32]);
        let labels = container_labels(&a, "sha256:img1", "", &key);
        for (k, v) in &labels {
            assert!(!v.contains("hunter2") && !v.contains("prod"), "{k}={v}");
        }
        assert!(labels[labels::PLAN].contains("DB_PASSWORD="));
        let mut c = running(&a, "aaaa");
        let host_ports = c.labels[labels::HOST_PORTS].clone();
        c.labels = labels;
        c.labels.insert(labels::HOST_PORTS.into(), host_ports);
        let observed = Observed {
            containers: vec![c],
            images: images(&["localhost:5000/demo/web:1.0"]),
            ..Default::default()
        };
        let opts = Options {
            label_key: key,
            ..Default::default()
        };
        let plan = reconcile(std::slice::from_ref(&a), &observed, &opts).unwrap();
        assert!(plan.is_noop(), "{plan}");
        // Another value: replaced, named, not shown.
        a.env[0] = "DB_PASSWORD=hunter3".into();
        let plan = reconcile(std::slice::from_ref(&a), &observed, &opts).unwrap();
        let text = plan.to_string();
        assert!(text.contains("replace  a (aaaa)"), "{text}");
        assert!(text.contains("env DB_PASSWORD changed"), "{text}");
        assert!(!text.contains("hunter") && !text.contains("MODE"), "{text}");
        assert_ne!(
            plan_hash(&a, &opts.label_key),
            plan_hash(&launch("a", "1.0"), &opts.label_key)
        );
    }

    /// The plan label's text and hash of a launch with a memory limit and a
    /// command, as conteneur wrote them before these fields were typed: a
    /// changed form would make every container look changed after an
    /// upgrade (and be replaced for nothing).
    #[test]
    fn the_plan_text_and_hash_keep_their_form() {
        let mut a = launch("db", "10.11");
        a.memory = "512m".into();
        a.app.command = "mariadbd --skip-name-resolve 'a b'".into();
        let key = LabelKey::default();
        assert_eq!(
            plan_text(&a, &key),
            r#"{"name":"db","index":1,"backend":"docker","image":"localhost:5000/demo/web","tag":"10.11","repository":"","ports":[{"container":80,"host":8080,"address":"127.0.0.1"}],"mounts":[],"env":[],"memory":"512m","restart":"unless-stopped","stop_timeout":10,"health":{"path":null,"port":8080},"publish":true,"websocket":false,"labels":{},"app":{"command":"mariadbd --skip-name-resolve 'a b'"}}"#
        );
        assert_eq!(
            plan_hash(&a, &key),
            "6ee4528348886bee8b7166cc95a3a5784f1156018bc7dce2d413b403e2979dfb"
        );
        // Neither set: an empty memory text, no command at all.
        let b = launch("db", "10.11");
        assert_eq!(
            plan_text(&b, &key),
            r#"{"name":"db","index":1,"backend":"docker","image":"localhost:5000/demo/web","tag":"10.11","repository":"","ports":[{"container":80,"host":8080,"address":"127.0.0.1"}],"mounts":[],"env":[],"memory":"","restart":"unless-stopped","stop_timeout":10,"health":{"path":null,"port":8080},"publish":true,"websocket":false,"labels":{}}"#
        );
        assert_eq!(
            plan_hash(&b, &key),
            "ef62d23bdf53fce715054dc75433df7612659bce8e0646d71c03c8fabf0a5eb1"
        );
        // The label's text reads back as the same launch.
        let back: Launch = serde_json::from_str(&plan_text(&a, &key)).unwrap();
        assert_eq!(back, a);
    }
}
