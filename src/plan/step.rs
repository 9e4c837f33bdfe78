//! The planner's output: the steps of a run (what to do, to which
//! container, on which engine, and why) and their text form, the one
//! `conteneur plan` prints. Its own file because every other part of the
//! planner (checks, identity, reconcile, apps) produces or reads these types
//! and none of them needs to see how the others decide.

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
            writeln!(f, "{verb:<8} {what:<40} {}{ports}", s.cause)?;
        }
        Ok(())
    }
}

/// A commit as git shows it short.
pub(super) fn short_commit(c: &str) -> &str {
    c.get(..10).unwrap_or(c)
}
