//! The planner's output: the steps of a run (what to do, to which
//! container, on which engine, and why) and their text form, the one
//! `conteneur plan` prints. Its own file because every other part of the
//! planner (checks, identity, reconcile, apps) produces or reads these types
//! and none of them needs to see how the others decide.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::launch;
use crate::plan::observed::{HostPorts, Kind, short_id};

/// What to do, and to which container, on which engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    /// Bring an image to an engine (Docker's image store, the LXC image
    /// cache).
    Pull {
        backend: Kind,
        image: String,
        tag: String,
    },
    /// Build an image from a git repository (docker+git), tagged
    /// `image:tag` and labelled with the commit.
    Build {
        image: String,
        tag: String,
        repository: String,
        commit: String,
    },
    /// A new container.
    Create { name: String, backend: Kind },
    /// A changed container: created anew (on `backend`, which may differ
    /// from the old one's), switched in once healthy. On an engine that
    /// changes containers in place (snap), changed in place.
    Replace {
        name: String,
        old_id: String,
        old_backend: Kind,
        backend: Kind,
        /// How to tell the old container serves again after a rollback.
        #[serde(skip)]
        old_health: Option<launch::Health>,
        /// Where the old one's ports are; None when it holds `port_out`
        /// itself (made by an older conteneur): it must stop before nginx
        /// can forward `port_out`, once.
        old_ports: Option<HostPorts>,
        /// How it is replaced, and so the steps the executor takes (see
        /// [`Strategy::phases`]).
        #[serde(serialize_with = "strategy_json")]
        strategy: Strategy,
    },
    /// An unchanged container that is not running.
    Start {
        name: String,
        id: String,
        backend: Kind,
        ports: HostPorts,
    },
    /// A container no longer wanted (its volumes and folders are kept).
    Remove {
        name: String,
        id: String,
        backend: Kind,
    },
    /// Nothing to do.
    Leave {
        name: String,
        id: String,
        backend: Kind,
        ports: HostPorts,
    },
    /// A private network a container joins, missing (before any container
    /// step).
    #[serde(rename = "create-network")]
    CreateNetwork {
        /// Its name in the configuration.
        network: String,
        /// Its name on the engine (see [`super::apps::network_name`]).
        engine_name: String,
        backend: Kind,
    },
    /// A private network of ours that no container uses any more (after
    /// every container step).
    #[serde(rename = "remove-network")]
    RemoveNetwork {
        network: String,
        id: String,
        backend: Kind,
    },
}

impl Action {
    /// The container a step is about (none for pulls and builds).
    pub fn container(&self) -> Option<&str> {
        match self {
            Action::Pull { .. }
            | Action::Build { .. }
            | Action::CreateNetwork { .. }
            | Action::RemoveNetwork { .. } => None,
            Action::Create { name, .. }
            | Action::Replace { name, .. }
            | Action::Start { name, .. }
            | Action::Remove { name, .. }
            | Action::Leave { name, .. } => Some(name),
        }
    }

    /// Is it a step that brings an image (pull or build)?
    pub fn is_prepare(&self) -> bool {
        matches!(self, Action::Pull { .. } | Action::Build { .. })
    }

    /// Is it a network step?
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            Action::CreateNetwork { .. } | Action::RemoveNetwork { .. }
        )
    }
}

/// How a changed container is replaced. The plan decides it from the
/// launch plan and the snapshot; the executor carries out its
/// [`Strategy::phases`] in their order and decides nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// nginx routes to it: the new instance starts beside the old one on
    /// host ports of its own, nginx is switched to it once healthy, and
    /// the old one is renamed and retired (it drains, then stops).
    Beside,
    /// As [`Strategy::Beside`], but the old instance holds `port_out`
    /// itself (made by an older conteneur): it stops once the new one is
    /// healthy, just before the switch, so that nginx can take the port.
    TakePorts,
    /// nginx does not route to it and it keeps no data: the new instance
    /// starts beside the old one, which is stopped and removed within its
    /// wave once the new one is healthy (its dependents then find the new
    /// one alone behind the network alias).
    InWave,
    /// nginx does not route to it and it keeps data in folders or
    /// volumes, which a second instance cannot share (a database's file
    /// locks): the old instance stops first; when the new one does not
    /// come up, the old one starts again.
    StopFirst,
    /// An engine that changes containers in place (snap: a refresh,
    /// reverted when the new revision is not healthy).
    InPlace,
}

/// One engine or nginx operation of a replace, in the order
/// [`Strategy::phases`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The old instance stops before the new one is created.
    StopFirst,
    /// The new instance is created as `NAME.next`.
    CreateNext,
    /// The engine changes the container in place.
    Update,
    /// The new instance is started and waited for until healthy; a failure
    /// here removes it and leaves the old one serving.
    WaitHealthy,
    /// The old instance stops (after the new one is healthy).
    StopOld,
    /// nginx is switched to the new instances, once for the whole run,
    /// after the last wave; the retirements are in the drain journal
    /// before it.
    Switch,
    /// The old instance becomes `NAME.old.ID`, with restart policy `no`
    /// and without network aliases: a reboot brings back only the new one.
    RenameOld,
    /// The new instance takes the name.
    RenameNext,
    /// The old instance drains for the grace period, then is stopped and
    /// removed by whoever comes next (see the drain journal).
    RetireOld,
    /// The old instance, stopped, is removed.
    RemoveOld,
}

impl Strategy {
    /// The replace's steps, in the order the executor takes them.
    pub fn phases(self) -> &'static [Phase] {
        use Phase::*;
        match self {
            Strategy::Beside => &[
                CreateNext,
                WaitHealthy,
                Switch,
                RenameOld,
                RenameNext,
                RetireOld,
            ],
            Strategy::TakePorts => &[
                CreateNext,
                WaitHealthy,
                StopOld,
                Switch,
                RemoveOld,
                RenameNext,
            ],
            Strategy::InWave => &[CreateNext, WaitHealthy, StopOld, RemoveOld, RenameNext],
            Strategy::StopFirst => &[StopFirst, CreateNext, WaitHealthy, RemoveOld, RenameNext],
            Strategy::InPlace => &[Update, WaitHealthy],
        }
    }

    /// Does nginx switch to the new instance (rather than the replace
    /// ending within its wave)?
    pub fn switched(self) -> bool {
        matches!(self, Strategy::Beside | Strategy::TakePorts)
    }

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Beside => "beside",
            Strategy::TakePorts => "take-ports",
            Strategy::InWave => "in-wave",
            Strategy::StopFirst => "stop-first",
            Strategy::InPlace => "in-place",
        }
    }
}

/// A strategy in `plan --json`: its name and its phases in order.
fn strategy_json<S: serde::Serializer>(s: &Strategy, ser: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = ser.serialize_struct("Strategy", 2)?;
    st.serialize_field("name", s.name())?;
    st.serialize_field("phases", s.phases())?;
    st.end()
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::StopFirst => "stop-first",
            Phase::CreateNext => "create-next",
            Phase::Update => "update",
            Phase::WaitHealthy => "wait-healthy",
            Phase::StopOld => "stop-old",
            Phase::Switch => "switch",
            Phase::RenameOld => "rename-old",
            Phase::RenameNext => "rename-next",
            Phase::RetireOld => "retire-old",
            Phase::RemoveOld => "remove-old",
        }
    }

    /// What the phase does to container `name` (old instance `old_id`),
    /// as `conteneur plan` says it.
    fn describe(self, name: &str, old_id: &str, strategy: Strategy, grace: u64) -> String {
        let routed = strategy.switched();
        let old = super::observed::old_name(name, old_id);
        let next = super::identity::next_name(name);
        match self {
            Phase::StopFirst => format!(
                "{name} ({}) stops first: its data cannot be shared with a second instance",
                short_id(old_id)
            ),
            Phase::CreateNext if routed => format!("{next}, on host ports of its own"),
            Phase::CreateNext => next,
            Phase::Update => format!("{name} changed in place"),
            Phase::WaitHealthy => match strategy {
                Strategy::InPlace => "started, healthy (else reverted, and waited for)".into(),
                Strategy::StopFirst => {
                    "started, healthy (else removed, and the old one started again)".into()
                }
                _ => "started, healthy (else removed, and the old one as it was)".into(),
            },
            Phase::StopOld => format!("{name} ({}) stops", short_id(old_id)),
            Phase::Switch => {
                "nginx to the new instance (once for the run, after the last wave)".to_string()
            }
            Phase::RenameOld => {
                format!("{name} → {old}, restart policy no, no network alias")
            }
            Phase::RenameNext => format!("{next} → {name}"),
            Phase::RetireOld => {
                format!("{old} drains {grace} s (drain journal), then stops and goes")
            }
            Phase::RemoveOld => format!("{name} ({}) goes", short_id(old_id)),
        }
    }
}

/// One atomic step and why it is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub action: Action,
    pub cause: String,
}

/// The ordered steps of a run: pulls and builds first, then containers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// The waves: each container's step starts once the steps of these
    /// containers are done (healthy); one whose dependency failed does
    /// not start.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub after: BTreeMap<String, Vec<String>>,
    /// How long a retired instance drains (`conteneur_drain_grace`), in
    /// seconds.
    pub drain_grace: u64,
}

impl Plan {
    /// Pulls only: (engine, image, tag).
    pub fn pulls(&self) -> impl Iterator<Item = (Kind, &str, &str)> {
        self.steps.iter().filter_map(|s| match &s.action {
            Action::Pull {
                backend,
                image,
                tag,
            } => Some((*backend, image.as_str(), tag.as_str())),
            _ => None,
        })
    }

    /// True when the run changes nothing.
    pub fn is_noop(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s.action, Action::Leave { .. }))
    }

    /// How many containers are (re)created.
    pub fn recreated(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.action, Action::Create { .. } | Action::Replace { .. }))
            .count()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return writeln!(f, "nothing to do: no container is configured or running");
        }
        for s in &self.steps {
            let (verb, what) = match &s.action {
                Action::Pull {
                    backend,
                    image,
                    tag,
                } => ("pull", format!("{image}:{tag} for {backend}")),
                Action::Build {
                    image,
                    tag,
                    repository,
                    commit,
                } => (
                    "build",
                    format!("{image}:{tag} from {repository} {}", short_commit(commit)),
                ),
                Action::Create { name, backend } => ("create", format!("{name} on {backend}")),
                Action::Replace {
                    name,
                    old_id,
                    old_backend,
                    backend,
                    ..
                } => (
                    "replace",
                    if old_backend == backend {
                        format!("{name} ({}) on {backend}", short_id(old_id))
                    } else {
                        format!("{name} ({}) {old_backend} → {backend}", short_id(old_id))
                    },
                ),
                Action::Start {
                    name, id, backend, ..
                } => ("start", format!("{name} ({}) on {backend}", short_id(id))),
                Action::Remove { name, id, backend } => {
                    ("remove", format!("{name} ({}) on {backend}", short_id(id)))
                }
                Action::Leave {
                    name, id, backend, ..
                } => ("leave", format!("{name} ({}) on {backend}", short_id(id))),
                Action::CreateNetwork {
                    network,
                    engine_name,
                    backend,
                } => (
                    "create",
                    format!("network {network} ({engine_name}) on {backend}"),
                ),
                Action::RemoveNetwork {
                    network,
                    id,
                    backend,
                } => (
                    "remove",
                    format!("network {network} ({}) on {backend}", short_id(id)),
                ),
            };
            let ports = match &s.action {
                Action::Start { ports, .. } | Action::Leave { ports, .. }
                    if !ports.0.is_empty() =>
                {
                    format!(" [ports {}]", ports.display())
                }
                Action::Replace {
                    old_ports: Some(p), ..
                } if !p.0.is_empty() => format!(" [old ports {}]", p.display()),
                _ => String::new(),
            };
            let acts = matches!(
                s.action,
                Action::Create { .. } | Action::Replace { .. } | Action::Start { .. }
            );
            let after = s
                .action
                .container()
                .filter(|_| acts)
                .and_then(|n| self.after.get(n))
                .filter(|a| !a.is_empty())
                .map(|a| format!(" [after {}]", a.join(", ")))
                .unwrap_or_default();
            writeln!(f, "{verb:<8} {what:<40} {}{ports}{after}", s.cause)?;
            if let Action::Replace {
                name,
                old_id,
                strategy,
                ..
            } = &s.action
            {
                writeln!(f, "           ({}):", strategy.name())?;
                for (i, p) in strategy.phases().iter().enumerate() {
                    writeln!(
                        f,
                        "           {}. {:<13} {}",
                        i + 1,
                        p.name(),
                        p.describe(name, old_id, *strategy, self.drain_grace)
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// A commit as git shows it short.
pub(super) fn short_commit(c: &str) -> &str {
    c.get(..10).unwrap_or(c)
}
