//! Data that belongs to one server: the named volumes the desired
//! containers mount, checked against the engine's before any step.
//!
//! A volume conteneur creates carries the labels of its server
//! ([`super::apps::volume_labels`]). Several roots (a demo, tests, two
//! checkouts) may share one engine, and a volume holds data one server made
//! (a database initialised with that server's generated password), so:
//!
//! - a volume labelled for another server root is refused, naming that
//!   root (as its containers are);
//! - a volume without conteneur's label (made by hand, by compose) is used
//!   only when the admin says so (`conteneur_adopt_volumes`), or when a
//!   container of this server already mounts it (made by a conteneur that
//!   did not label volumes yet: an upgrade must not stop it);
//! - a volume that does not exist yet is created, labelled, by the run.

use super::PlanError;
use super::launch::{Launch, MountKind};
use super::upgrade;
use crate::plan::observed::{Kind, Observed, ObservedResource, labels};

/// Checks every named volume of `desired` on the engines of `observed`.
pub fn check(
    desired: &[Launch],
    observed: &Observed,
    server: &str,
    adopt: bool,
) -> Result<(), PlanError> {
    for d in desired {
        let kind = Kind::of_type(&d.backend).unwrap_or(Kind::Docker);
        for m in d.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
            let Some(v) = observed
                .volumes
                .iter()
                .find(|v| v.backend == kind && v.name == m.host)
            else {
                continue;
            };
            check_one(d, v, observed, server, adopt)?;
        }
    }
    Ok(())
}

fn check_one(
    d: &Launch,
    v: &ObservedResource,
    observed: &Observed,
    server: &str,
    adopt: bool,
) -> Result<(), PlanError> {
    if v.is_ours(server) {
        return Ok(());
    }
    let managed = v.labels.get(labels::MANAGED).map(String::as_str) == Some("true");
    if let Some(root) = v.labels.get(labels::SERVER).filter(|_| managed) {
        return Err(PlanError::VolumeOtherRoot {
            name: d.name.clone(),
            volume: v.name.clone(),
            root: root.clone(),
        });
    }
    if adopt || mounted_by_ours(v, observed, server) {
        return Ok(());
    }
    Err(PlanError::VolumeNotOurs {
        name: d.name.clone(),
        volume: v.name.clone(),
    })
}

/// Whether a container of this server mounts `v` by its plan label (its
/// volume was made before volumes were labelled).
fn mounted_by_ours(v: &ObservedResource, observed: &Observed, server: &str) -> bool {
    observed
        .containers
        .iter()
        .filter(|c| c.backend == v.backend && c.is_ours(server))
        .filter_map(|c| upgrade::label_plan_unsealed(&c.labels))
        .any(|l| {
            l.mounts
                .iter()
                .any(|m| m.kind == MountKind::Volume && m.host == v.name)
        })
}

#[cfg(test)]
mod tests;
