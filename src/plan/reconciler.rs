//! The planner itself (docker compose's reconcile.go is the model):
//! [`reconcile`] turns the desired containers and one snapshot of the
//! engines into the ordered steps of a run, each with its cause, together
//! with the choices the admin makes for a run ([`Options`]) and the small
//! helpers it shares with the executor. Its own file because it is the one
//! place where the decisions are made; the types it returns, the checks it
//! runs first and the labels it reads live beside it.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::apps;
use super::check::{PlanError, check_mount, check_type};
use super::identity::{describe_change, old_base, plan_hash};
use super::launch::{Launch, MountKind};
use super::redact::LabelKey;
use super::step::{Action, Plan, Step, Strategy, short_commit};
use crate::plan::observed::{HostPorts, Kind, Observed, ObservedContainer, labels, short_id};

/// Choices the admin makes for a run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// This server's identity (see [`labels::SERVER`]).
    pub server: String,
    /// Pull moving tags (latest…) again even when present.
    pub pull_moving: bool,
    /// Allow bind mounts of system folders.
    pub allow_system_mounts: bool,
    /// The key environment values are sealed with in the plan label.
    pub label_key: LabelKey,
    /// How long a retired instance drains (`conteneur_drain_grace`), in
    /// seconds: said in the plan's retire-old steps.
    pub drain_grace: u64,
}

/// Tags that move: pulling them again may bring another image.
pub fn is_moving_tag(tag: &str) -> bool {
    matches!(
        tag,
        "latest" | "stable" | "edge" | "main" | "master" | "dev" | "nightly"
    )
}

/// The image reference a container's engine must hold, if it needs one:
/// none for snaps (snapd brings them) and LXC templates.
fn image_need(d: &Launch, kind: Kind) -> Option<String> {
    match kind {
        Kind::Snap => None,
        Kind::Lxc if super::launch::is_template(&d.image) => None,
        _ => Some(format!("{}:{}", d.image, d.tag)),
    }
}

/// Volume mounts of a launch plan.
fn volumes(l: &Launch) -> impl Iterator<Item = &str> {
    l.mounts
        .iter()
        .filter(|m| m.kind == MountKind::Volume)
        .map(|m| m.host.as_str())
}

/// Turns the desired containers and one snapshot of the engines into a
/// plan.
pub fn reconcile(
    desired: &[Launch],
    observed: &Observed,
    opts: &Options,
) -> Result<Plan, PlanError> {
    let server = opts.server.as_str();
    let mut steps = Vec::new();
    let mut seen = HashSet::new();
    let mut kinds: HashMap<&str, Kind> = HashMap::new();
    let mut snaps: HashMap<&str, &str> = HashMap::new();
    for d in desired {
        if !seen.insert(d.name.as_str()) {
            return Err(PlanError::DuplicateName(d.name.clone()));
        }
        let kind = check_type(d)?;
        kinds.insert(d.name.as_str(), kind);
        if kind == Kind::Snap
            && let Some(other) = snaps.insert(d.image.as_str(), d.name.as_str())
        {
            return Err(PlanError::SnapTaken {
                name: d.name.clone(),
                snap: d.image.clone(),
                owner: format!("container '{other}' wants it too: a snap is installed once"),
            });
        }
        for m in d.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
            check_mount(d, &m.host, opts.allow_system_mounts)?;
        }
    }
    super::check::check_nested_mounts(desired)?;
    apps::check(desired)?;
    let (network_creates, network_removes) = apps::network_steps(desired, observed, server)?;
    let kind_of = |d: &Launch| kinds.get(d.name.as_str()).copied().unwrap_or(Kind::Docker);

    // Images first: once per engine, image and tag.
    let mut prepared = HashSet::new();
    let mut built = HashSet::new();
    for d in desired {
        let kind = kind_of(d);
        let Some(reference) = image_need(d, kind) else {
            continue;
        };
        if !prepared.insert((kind, reference.clone())) {
            continue;
        }
        let present = observed.image(kind, &reference);
        if d.backend == "docker+git" {
            let key = (d.repository.clone(), d.tag.clone());
            let Some(commit) = observed.sources.get(&key) else {
                return Err(PlanError::UnknownSource {
                    name: d.name.clone(),
                    repository: d.repository.clone(),
                    tag: d.tag.clone(),
                });
            };
            let had = present.and_then(|i| i.labels.get(labels::GIT_COMMIT));
            let cause = match had {
                None if present.is_none() => format!(
                    "not built yet ('{}' is commit {})",
                    d.tag,
                    short_commit(commit)
                ),
                None => "the image present was not built by conteneur".to_string(),
                Some(old) if old != commit => format!(
                    "'{}' moved: commit {} → {}",
                    d.tag,
                    short_commit(old),
                    short_commit(commit)
                ),
                Some(_) => continue,
            };
            built.insert(reference);
            steps.push(Step {
                action: Action::Build {
                    image: d.image.clone(),
                    tag: d.tag.clone(),
                    repository: d.repository.clone(),
                    commit: commit.clone(),
                },
                cause,
            });
            continue;
        }
        let cause = if present.is_none() {
            "not present on this server".to_string()
        } else if opts.pull_moving && is_moving_tag(&d.tag) {
            format!("'{}' is a moving tag and a pull was asked for", d.tag)
        } else {
            continue;
        };
        steps.push(Step {
            action: Action::Pull {
                backend: kind,
                image: d.image.clone(),
                tag: d.tag.clone(),
            },
            cause,
        });
    }

    // Replaced containers draining: the drain journal says until when
    // (see `run::drain`); those it does not hold (an interrupted run),
    // those whose grace period is over and those no longer running (a
    // reboot stopped them: their restart policy is `no`) go now.
    for c in observed
        .containers
        .iter()
        .filter(|c| c.is_ours(server) && c.is_old())
    {
        // A container no longer configured has nothing to drain to: its
        // replaced instance goes now too (and leaves its networks free).
        let configured = desired.iter().any(|d| d.name == old_base(&c.name));
        let left = observed.draining.get(&c.id).copied();
        let remove = |cause: String| Step {
            action: Action::Remove {
                name: c.name.clone(),
                id: c.id.clone(),
                backend: c.backend,
            },
            cause,
        };
        steps.push(match left {
            _ if !configured => remove("replaced, and no longer in the configuration".into()),
            None => remove(
                "replaced, left over by an interrupted drain (not in the drain journal)".into(),
            ),
            Some(0) => remove("replaced, left over: its drain is over".into()),
            Some(_) if !c.running => remove(format!(
                "replaced, left over: {} before its drain ended",
                c.state
            )),
            Some(left) => Step {
                action: Action::Leave {
                    name: c.name.clone(),
                    id: c.id.clone(),
                    backend: c.backend,
                    ports: c.host_ports().unwrap_or_default(),
                },
                cause: format!("replaced, draining, {left} s left (drain journal)"),
            },
        });
    }

    // Leftovers of an interrupted run go first: their names are needed.
    for c in observed
        .containers
        .iter()
        .filter(|c| c.is_ours(server) && c.is_next())
    {
        steps.push(Step {
            action: Action::Remove {
                name: c.name.clone(),
                id: c.id.clone(),
                backend: c.backend,
            },
            cause: "replacement left over by an interrupted run".into(),
        });
    }

    steps.extend(network_creates);
    // Each container after the ones it depends on.
    for d in apps::start_order(desired) {
        let kind = kind_of(d);
        let hash = plan_hash(d, &opts.label_key);
        // Someone else's container holding the name (or the snap) on the
        // engine it must run on.
        let foreign = observed.containers.iter().find(|c| {
            c.backend == kind
                && !c.is_ours(server)
                && if kind == Kind::Snap {
                    c.id == d.image
                } else {
                    c.name == d.name
                }
        });
        if let Some(c) = foreign {
            return Err(if kind == Kind::Snap {
                PlanError::SnapTaken {
                    name: d.name.clone(),
                    snap: d.image.clone(),
                    owner: "it has no conteneur marker for this server".into(),
                }
            } else if let Some(root) = c.labels.get(labels::SERVER).filter(|_| c.is_managed()) {
                PlanError::OtherRoot {
                    name: d.name.clone(),
                    id: short_id(&c.id).to_string(),
                    root: root.clone(),
                }
            } else {
                PlanError::NameClash {
                    name: d.name.clone(),
                    id: short_id(&c.id).to_string(),
                }
            });
        }
        if kind == Kind::Snap
            && let Some(c) = observed.containers.iter().find(|c| {
                c.backend == Kind::Snap && c.is_ours(server) && c.id == d.image && c.name != d.name
            })
        {
            return Err(PlanError::SnapTaken {
                name: d.name.clone(),
                snap: d.image.clone(),
                owner: format!(
                    "conteneur installed it for container '{}'; remove that one first",
                    c.name
                ),
            });
        }
        // Ours under this name, on this engine first.
        let mut mine: Vec<&ObservedContainer> = observed
            .containers
            .iter()
            .filter(|c| c.is_ours(server) && !c.is_next() && !c.is_old() && c.name == d.name)
            .collect();
        mine.sort_by_key(|c| c.backend != kind);
        let Some((c, extra)) = mine.split_first() else {
            steps.push(Step {
                action: Action::Create {
                    name: d.name.clone(),
                    backend: kind,
                },
                cause: "not running yet".into(),
            });
            continue;
        };
        for x in extra {
            steps.push(Step {
                action: Action::Remove {
                    name: x.name.clone(),
                    id: x.id.clone(),
                    backend: x.backend,
                },
                cause: format!(
                    "a second container for '{}' (on {}; the configuration wants {kind})",
                    d.name, x.backend
                ),
            });
        }
        let old_launch = c
            .labels
            .get(labels::PLAN)
            .and_then(|t| serde_json::from_str::<Launch>(t).ok());
        let reference = image_need(d, kind);
        let current_image = reference
            .as_ref()
            .and_then(|r| observed.image(kind, r))
            .map(|i| &i.id);
        let image_changed = c.backend == kind
            && current_image
                .is_some_and(|id| c.labels.get(labels::IMAGE_ID).is_some_and(|old| old != id));
        let rebuilt = reference.as_ref().is_some_and(|r| built.contains(r));
        let host_ports = c.host_ports();
        let cause = if c.plan_hash() != Some(hash.as_str()) {
            Some(describe_change(
                c.labels.get(labels::PLAN).map(String::as_str),
                d,
                &opts.label_key,
            ))
        } else if rebuilt {
            Some(format!(
                "its image {} is built again",
                reference.clone().unwrap_or_default()
            ))
        } else if image_changed {
            Some(format!(
                "the image {} changed",
                reference.clone().unwrap_or_default()
            ))
        } else if host_ports.is_none() && !d.ports.is_empty() && kind != Kind::Snap {
            Some(
                "it holds its ports itself (made by an older conteneur): \
                 replaced once so that nginx forwards them"
                    .to_string(),
            )
        } else if let Some(net) = apps::missing_network(d, observed, server)
            && c.backend == kind
        {
            Some(format!(
                "its network {net} is missing: made again to join it"
            ))
        } else {
            None
        };
        if cause.is_some() && c.backend != kind {
            let old_volumes: Vec<&str> = old_launch
                .as_ref()
                .map(|l| volumes(l).collect())
                .unwrap_or_else(|| volumes(d).collect());
            if let Some(v) = old_volumes.first() {
                return Err(PlanError::VolumeSwitch {
                    name: d.name.clone(),
                    from: c.backend,
                    to: kind,
                    volume: v.to_string(),
                });
            }
        }
        steps.push(match cause {
            Some(cause) => Step {
                action: Action::Replace {
                    name: d.name.clone(),
                    old_id: c.id.clone(),
                    old_backend: c.backend,
                    backend: kind,
                    old_health: old_launch.map(|l| l.health),
                    strategy: strategy(d, c.backend, kind, host_ports.is_some()),
                    old_ports: host_ports,
                },
                cause,
            },
            None if !c.running => Step {
                action: Action::Start {
                    name: d.name.clone(),
                    id: c.id.clone(),
                    backend: c.backend,
                    ports: host_ports.unwrap_or_else(|| direct_ports(d)),
                },
                cause: format!("unchanged but {}", c.state),
            },
            None => Step {
                action: Action::Leave {
                    name: d.name.clone(),
                    id: c.id.clone(),
                    backend: c.backend,
                    ports: host_ports.unwrap_or_else(|| direct_ports(d)),
                },
                cause: "unchanged".into(),
            },
        });
    }

    let wanted: HashSet<&str> = desired.iter().map(|d| d.name.as_str()).collect();
    let unwanted = |c: &&ObservedContainer| {
        c.is_ours(server) && !c.is_next() && !c.is_old() && !wanted.contains(c.name.as_str())
    };
    for c in observed.containers.iter().filter(unwanted) {
        steps.push(Step {
            action: Action::Remove {
                name: c.name.clone(),
                id: c.id.clone(),
                backend: c.backend,
            },
            cause: "no longer in the configuration (its volumes and folders are kept)".into(),
        });
    }
    steps.extend(network_removes);
    Ok(Plan {
        steps,
        after: apps::waits(desired),
        drain_grace: opts.drain_grace,
    })
}

/// How a changed container is replaced (see [`Strategy`]): in place on an
/// engine that changes containers in place; else, when nginx routes to it,
/// beside the old instance and switched (the old one stopping before the
/// switch when it holds `port_out` itself: `old_routed` false); else within
/// its wave, the old instance first when it keeps data.
pub fn strategy(d: &Launch, old_kind: Kind, kind: Kind, old_routed: bool) -> Strategy {
    if old_kind == kind && kind == Kind::Snap {
        Strategy::InPlace
    } else if !d.ports.is_empty() {
        if old_routed {
            Strategy::Beside
        } else {
            Strategy::TakePorts
        }
    } else if !d.mounts.is_empty() {
        Strategy::StopFirst
    } else {
        Strategy::InWave
    }
}

/// The engines the desired containers run on.
pub fn kinds_needed(desired: &[Launch]) -> BTreeMap<Kind, Vec<String>> {
    let mut out: BTreeMap<Kind, Vec<String>> = BTreeMap::new();
    for d in desired {
        if let Some(k) = Kind::of_type(&d.backend) {
            out.entry(k).or_default().push(d.name.clone());
        }
    }
    out
}

/// Host ports that are `port_out` itself: a snap's (it listens where it
/// wants), or a container without ports.
pub fn direct_ports(d: &Launch) -> HostPorts {
    HostPorts(d.ports.iter().map(|p| (p.host, p.host)).collect())
}

#[cfg(test)]
mod strategies;
#[cfg(test)]
mod tests;
