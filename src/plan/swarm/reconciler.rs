//! The swarm's planner: [`reconcile`] compares the desired swarm with one
//! snapshot of it and says what to create, update, scale or remove, and
//! why (what changed in a service's spec). Its own file because it is the
//! one place where the swarm's decisions are made.

use std::collections::BTreeSet;

use super::FRONT;
use super::observed::SwarmObserved;
use super::services::SwarmPlanError;
use super::step::{SwarmAction, SwarmPlan, SwarmStep};
use super::want::{Desired, ServiceWant};
use crate::plan::observed::labels;
use crate::plan::redact::{self, LabelKey};

/// What changed between two specs of a service, for the step's cause.
/// `old` is the spec read back from the label (values sealed), `new` the
/// wanted one, sealed under `key` to compare.
fn describe_change(
    old: Option<&ServiceWant>,
    new: &ServiceWant,
    old_replicas: u64,
    key: &LabelKey,
) -> String {
    let mut parts = Vec::new();
    let Some(old) = old else {
        return "its spec was not written by this version of conteneur".into();
    };
    if old.image != new.image {
        parts.push(format!("image {} → {}", old.image, new.image));
    }
    parts.extend(redact::env_changes(
        &old.env,
        &redact::sealed_env(&new.env, key),
    ));
    if old_replicas != u64::from(new.replicas) {
        parts.push(format!("replicas {old_replicas} → {}", new.replicas));
    }
    let secret_names = |w: &ServiceWant| -> BTreeSet<String> {
        w.secrets.iter().map(|s| s.target.clone()).collect()
    };
    for (n, s) in &new
        .secrets
        .iter()
        .map(|s| (&s.target, s))
        .collect::<Vec<_>>()
    {
        match old.secrets.iter().find(|o| &o.target == *n) {
            Some(o) if o.object != s.object => parts.push(format!("secret {n} changed")),
            None => parts.push(format!("secret {n} added")),
            _ => {}
        }
    }
    for n in secret_names(old).difference(&secret_names(new)) {
        parts.push(format!("secret {n} removed"));
    }
    let update = |w: &ServiceWant| (w.start_first, w.update_delay, w.monitor, w.endpoint);
    let fields: [(&str, bool); 12] = [
        ("command", old.command != new.command),
        ("user", old.user != new.user),
        ("mounts", old.mounts != new.mounts),
        ("memory limit", old.memory != new.memory),
        ("restart policy", old.restart != new.restart),
        ("stop timeout", old.stop_grace != new.stop_grace),
        (
            "health check",
            (&old.health, old.health_timing, old.start_period)
                != (&new.health, new.health_timing, new.start_period),
        ),
        ("placement", old.constraints != new.constraints),
        ("networks", old.networks != new.networks),
        ("nginx configuration", old.configs != new.configs),
        ("published ports", old.ports != new.ports),
        ("update policy", update(old) != update(new)),
    ];
    parts.extend(
        fields
            .iter()
            .filter(|(_, c)| *c)
            .map(|(n, _)| format!("{n} changed")),
    );
    if old.labels != new.labels {
        parts.push("labels changed".into());
    }
    if parts.is_empty() {
        "its spec changed".into()
    } else {
        parts.join(", ")
    }
}

/// The desired swarm against one snapshot of it.
pub fn reconcile(
    desired: &Desired,
    observed: &SwarmObserved,
    server: &str,
) -> Result<SwarmPlan, SwarmPlanError> {
    let mut plan = SwarmPlan::default();
    for name in &desired.networks {
        match observed.networks.iter().find(|n| &n.name == name) {
            Some(n) if !n.is_ours(server) => {
                return Err(SwarmPlanError::NetworkClash {
                    name: name.clone(),
                    id: n.id.clone(),
                });
            }
            Some(_) => {}
            None => plan.steps.push(SwarmStep {
                action: SwarmAction::CreateNetwork { name: name.clone() },
                cause: format!(
                    "used by {}",
                    users(desired, |w| w.networks.contains(name)).join(", ")
                ),
            }),
        }
    }
    for s in &desired.secrets {
        if !observed.secrets.iter().any(|o| o.name == s.name) {
            plan.steps.push(SwarmStep {
                action: SwarmAction::CreateSecret {
                    name: s.name.clone(),
                    service: s.service.clone(),
                },
                cause: format!("a secret of {} (new value)", s.service),
            });
        }
    }
    for c in &desired.configs {
        if !observed.configs.iter().any(|o| o.name == c.name) {
            plan.steps.push(SwarmStep {
                action: SwarmAction::CreateConfig {
                    name: c.name.clone(),
                    service: c.service.clone(),
                },
                cause: format!("the nginx configuration of {}", c.service),
            });
        }
    }
    // Services no longer wanted go first: a container moving to the local
    // engine needs its port.
    for o in observed.services.iter().filter(|o| o.is_ours(server)) {
        if desired.service(&o.name).is_none() {
            plan.before_local.push(SwarmStep {
                action: SwarmAction::RemoveService {
                    name: o.name.clone(),
                    id: o.id.clone(),
                },
                cause: if o.name == FRONT {
                    "no service publishes a port any more".into()
                } else {
                    "no longer configured on the swarm (removed, or moved to the local engine)"
                        .into()
                },
            });
        }
    }
    for w in &desired.services {
        let Some(o) = observed.service(&w.name) else {
            plan.steps.push(SwarmStep {
                action: SwarmAction::CreateService {
                    name: w.name.clone(),
                    replicas: w.replicas,
                },
                cause: "not on the swarm yet".into(),
            });
            continue;
        };
        if !o.is_ours(server) {
            return Err(SwarmPlanError::NameClash {
                name: w.name.clone(),
                id: o.id.clone(),
            });
        }
        let old = o.spec();
        let same_spec = o.labels.get(labels::PLAN_HASH) == Some(&w.hash(&desired.label_key));
        // The front's host-mode ports: changed, it is removed before the
        // local engines converge (they may take or free those ports) and
        // created again after.
        if w.name == FRONT && !same_spec && old.as_ref().map(|s| &s.ports) != Some(&w.ports) {
            plan.before_local.push(SwarmStep {
                action: SwarmAction::RemoveService {
                    name: w.name.clone(),
                    id: o.id.clone(),
                },
                cause: "its published ports change: removed before the local containers change, created again after"
                    .into(),
            });
            plan.steps.push(SwarmStep {
                action: SwarmAction::CreateService {
                    name: w.name.clone(),
                    replicas: w.replicas,
                },
                cause: describe_change(old.as_ref(), w, o.replicas, &desired.label_key),
            });
            continue;
        }
        let action = if !same_spec {
            SwarmAction::UpdateService {
                name: w.name.clone(),
                id: o.id.clone(),
            }
        } else if o.replicas != u64::from(w.replicas) {
            SwarmAction::Scale {
                name: w.name.clone(),
                id: o.id.clone(),
                from: o.replicas,
                to: w.replicas,
            }
        } else {
            SwarmAction::Leave {
                name: w.name.clone(),
                id: o.id.clone(),
            }
        };
        let cause = match &action {
            SwarmAction::UpdateService { .. } => {
                describe_change(old.as_ref(), w, o.replicas, &desired.label_key)
            }
            SwarmAction::Scale { from, to, .. } => format!("replicas {from} → {to}"),
            _ if o.running < o.replicas => format!(
                "unchanged ({} of {} replicas running: Swarm is starting the others)",
                o.running, o.replicas
            ),
            _ => "unchanged".into(),
        };
        plan.steps.push(SwarmStep { action, cause });
    }
    // Old secrets and configs once the services moved off them, then
    // networks no service joins.
    for o in observed.secrets.iter().filter(|o| o.is_ours(server)) {
        if desired.secret(&o.name).is_none() {
            plan.steps.push(SwarmStep {
                action: SwarmAction::RemoveSecret {
                    name: o.name.clone(),
                    id: o.id.clone(),
                },
                cause: "no longer used (a secret's new value is a new secret)".into(),
            });
        }
    }
    for o in observed.configs.iter().filter(|o| o.is_ours(server)) {
        if desired.config(&o.name).is_none() {
            plan.steps.push(SwarmStep {
                action: SwarmAction::RemoveConfig {
                    name: o.name.clone(),
                    id: o.id.clone(),
                },
                cause: "no longer used (the front's configuration changed)".into(),
            });
        }
    }
    // The local engine's private networks (labelled with their name in the
    // configuration) are the local plan's, not the swarm's.
    for o in observed
        .networks
        .iter()
        .filter(|o| o.is_ours(server) && !o.labels.contains_key(labels::NETWORK))
    {
        if !desired.networks.contains(&o.name) {
            plan.steps.push(SwarmStep {
                action: SwarmAction::RemoveNetwork {
                    name: o.name.clone(),
                    id: o.id.clone(),
                },
                cause: "no service joins it any more".into(),
            });
        }
    }
    Ok(plan)
}

/// The names of the services `pred` holds for.
fn users(d: &Desired, pred: impl Fn(&ServiceWant) -> bool) -> Vec<String> {
    d.services
        .iter()
        .filter(|w| pred(w))
        .map(|w| w.name.clone())
        .collect()
}
