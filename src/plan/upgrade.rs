//! Labels written by an older conteneur: a package upgrade must restart
//! nothing that did not change.
//!
//! Every container conteneur makes carries the version of its label format
//! ([`FORMAT_LABEL`]); containers made before that label existed are read
//! by what their labels hold. A newer conteneur reads every older format:
//!
//! - **format 1** (up to 60d4e92): the plan label holds environment values
//!   in clear, knows no application settings (no-new-privileges and the
//!   others) and no host ports of its own (the container holds `port_out`
//!   itself);
//! - **format 2** (e7045df): values sealed ([`super::redact`]), application
//!   settings, host ports; no format label;
//! - **format 3**: format 2 with the format label.
//!
//! A difference that comes only from a changed format (a value sealed now,
//! a field written another way) is no change. A default that a newer
//! conteneur brings and that really changes a running container (a
//! hardening default) is a [`NewDefault`]: `plan` names it, and it is only
//! applied when the admin says so (`conteneur_new_defaults`), never
//! silently on upgrade.

use std::collections::BTreeMap;

use super::identity;
use super::launch::Launch;
use super::redact::{self, LabelKey};

/// The label that says which format a container's labels are in.
pub const FORMAT_LABEL: &str = "fr.eole.conteneur.format";

/// The format this conteneur writes.
pub const FORMAT: u32 = 3;

/// The label value of [`FORMAT`].
pub fn format_value() -> String {
    FORMAT.to_string()
}

/// A default that changed between two conteneurs in a way that changes a
/// running container.
#[derive(Debug)]
pub struct NewDefault {
    /// The first label format whose containers have it.
    pub since_format: u32,
    /// The conteneur version that brought it (as `plan` names it).
    pub version: &'static str,
    /// What it is, in a few words.
    pub what: &'static str,
    /// The setting that chooses it for one container.
    pub setting: &'static str,
    /// Whether `new` has it where `old` did not.
    differs: fn(&Launch, &Launch) -> bool,
    /// Puts `old`'s behaviour back into `new`.
    keep_old: fn(&mut Launch, &Launch),
}

impl PartialEq for NewDefault {
    fn eq(&self, other: &Self) -> bool {
        (self.version, self.what) == (other.version, other.what)
    }
}

impl Eq for NewDefault {}

/// Every new default, oldest first.
pub const NEW_DEFAULTS: &[NewDefault] = &[NewDefault {
    since_format: 2,
    version: "0.2",
    what: "no-new-privileges",
    setting: "conteneurX_no_new_privileges",
    differs: |old, new| old.app.no_new_privileges != new.app.no_new_privileges,
    keep_old: |new, old| new.app.no_new_privileges = old.app.no_new_privileges,
}];

/// The label format of a container of ours from its labels.
pub fn format_of(labels: &BTreeMap<String, String>) -> u32 {
    if let Some(n) = labels.get(FORMAT_LABEL).and_then(|v| v.trim().parse().ok()) {
        return n;
    }
    // Before the format label: host ports and application settings came
    // with format 2 (a container of format 2 has the host-ports label even
    // without a port, and its plan the `app` part under the default
    // no-new-privileges).
    let has_app = labels
        .get(crate::plan::observed::labels::PLAN)
        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .is_some_and(|v| v.get("app").is_some());
    if labels.contains_key(crate::plan::observed::labels::HOST_PORTS) || has_app {
        2
    } else {
        1
    }
}

/// The launch plan a container's label holds, in the current form: values
/// an older format kept in clear are sealed as the current label seals
/// them (never shown). None when the label is missing or not a plan.
pub fn label_plan(labels: &BTreeMap<String, String>, key: &LabelKey) -> Option<Launch> {
    Some(redact::redacted(&label_plan_unsealed(labels)?, key))
}

/// The launch plan a container's label holds, as it is (its values may be
/// in clear in format 1: only for what holds no value, mounts and names).
pub fn label_plan_unsealed(labels: &BTreeMap<String, String>) -> Option<Launch> {
    serde_json::from_str(labels.get(crate::plan::observed::labels::PLAN)?).ok()
}

/// What the container's labels say against its launch plan now.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The same container (perhaps in an older format).
    Same,
    /// The same but for defaults of a newer conteneur, not applied.
    NewDefaults(Vec<&'static NewDefault>),
    /// Changed: the step's cause.
    Changed(String),
}

/// Compares the container whose labels are `labels` with `desired`.
/// `apply_new_defaults`: the admin asked for the new defaults, which are
/// then changes like any other (named as such).
pub fn compare(
    labels: &BTreeMap<String, String>,
    desired: &Launch,
    key: &LabelKey,
    apply_new_defaults: bool,
) -> Verdict {
    if labels.get(crate::plan::observed::labels::PLAN_HASH)
        == Some(&identity::plan_hash(desired, key))
    {
        return Verdict::Same;
    }
    let Some(old) = label_plan(labels, key) else {
        return Verdict::Changed(identity::describe_change(None, desired, key));
    };
    let format = format_of(labels);
    let mut new = redact::redacted(desired, key);
    let mut pending = Vec::new();
    for nd in NEW_DEFAULTS {
        if format < nd.since_format && (nd.differs)(&old, &new) {
            (nd.keep_old)(&mut new, &old);
            pending.push(nd);
        }
    }
    if old == new {
        if pending.is_empty() {
            return Verdict::Same;
        }
        if !apply_new_defaults {
            return Verdict::NewDefaults(pending);
        }
        return Verdict::Changed(new_defaults_text(&pending, true));
    }
    // A real change: said against the old plan in the current form, so a
    // value sealed since is not "changed". The new defaults come with it.
    let old_text = serde_json::to_string(&old).unwrap_or_default();
    // `new` is sealed already: sealing keeps a sealed value as it is.
    let mut cause = identity::describe_change(Some(&old_text), &new, key);
    if !pending.is_empty() {
        cause.push_str(", and ");
        cause.push_str(&new_defaults_text(&pending, true));
    }
    Verdict::Changed(cause)
}

/// "new default of conteneur 0.2: no-new-privileges (conteneurX_no_new_privileges)".
pub fn new_defaults_text(pending: &[&NewDefault], applied: bool) -> String {
    let list = pending
        .iter()
        .map(|nd| {
            format!(
                "new default of conteneur {}: {} ({})",
                nd.version, nd.what, nd.setting
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    if applied {
        list
    } else {
        format!("not applied: {list}; conteneur_new_defaults=oui applies it")
    }
}

#[cfg(test)]
mod tests;
