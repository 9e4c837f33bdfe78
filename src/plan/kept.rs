//! Secrets and kept data: a database keeps the password it was initialised
//! with. When a secret that a container with kept data (a volume or a host
//! folder) receives changes, replacing the container gives it the new value,
//! but the data in its volume still holds the old one: MariaDB's user keeps
//! its old password, and every client given the new one is refused. The
//! plan says so on the container's step, which `reconfigure` prints too,
//! and docs/applications.md ("Rotating a secret") says how to change it
//! inside first.

use std::collections::BTreeMap;

use super::launch::Launch;
use super::redact::{self, LabelKey};
use super::upgrade;

/// `cause`, with the warning when a secret of a container with kept data
/// changed since the plan its labels hold.
pub fn with_secret_warning(
    cause: String,
    labels: &BTreeMap<String, String>,
    desired: &Launch,
    key: &LabelKey,
) -> String {
    match upgrade::label_plan(labels, key)
        .and_then(|old| secret_warning(&old, &redact::redacted(desired, key)))
    {
        Some(w) => format!("{cause}; {w}"),
        None => cause,
    }
}

/// The warning for `new` (sealed) against `old` (sealed), if any.
pub fn secret_warning(old: &Launch, new: &Launch) -> Option<String> {
    if new.mounts.is_empty() {
        return None;
    }
    let changed: Vec<&str> = new
        .app
        .secrets
        .iter()
        .filter(|s| {
            old.app
                .secrets
                .iter()
                .any(|o| o.name == s.name && o.hash.is_some() && o.hash != s.hash)
        })
        .map(|s| s.name.as_str())
        .collect();
    if changed.is_empty() {
        return None;
    }
    let data: Vec<&str> = new.mounts.iter().map(|m| m.host.as_str()).collect();
    Some(format!(
        "WARNING: secret {} changed, and its data ({}) stays: a database initialised with \
         the old value keeps it, and refuses the new one (change it inside the database \
         first: docs/applications.md, \"Rotating a secret\")",
        changed.join(", "),
        data.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::super::launch::{Mount, MountKind, SecretRef};
    use super::super::tests::launch;
    use super::*;

    fn db(hash: &str, with_volume: bool) -> Launch {
        let mut l = launch("db", "10.11");
        l.app.secrets = vec![SecretRef {
            name: "db_password".into(),
            hash: Some(hash.into()),
        }];
        if with_volume {
            l.mounts = vec![Mount {
                container: "/var/lib/mysql".into(),
                host: "wpdb".into(),
                kind: MountKind::Volume,
            }];
        }
        l
    }

    #[test]
    fn a_changed_secret_of_a_container_with_data_is_warned_about() {
        let key = LabelKey::default();
        let old = db("h1", true);
        let labels = super::super::identity::container_labels(&old, "sha256:i", "", &key);
        let cause = with_secret_warning("secrets changed".into(), &labels, &db("h2", true), &key);
        assert!(
            cause.starts_with("secrets changed; WARNING: secret db_password changed")
                && cause.contains("(wpdb)")
                && cause.contains("a database initialised with the old value keeps it")
                && cause.contains("Rotating a secret"),
            "{cause}"
        );
        assert!(!cause.contains("h1") && !cause.contains("h2"), "{cause}");
        // Same value, or no kept data: nothing to say.
        let same = with_secret_warning("x".into(), &labels, &db("h1", true), &key);
        assert_eq!(same, "x");
        let old = db("h1", false);
        let labels = super::super::identity::container_labels(&old, "sha256:i", "", &key);
        assert_eq!(
            with_secret_warning("x".into(), &labels, &db("h2", false), &key),
            "x"
        );
    }
}
