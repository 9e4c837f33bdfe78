//! The swarm's steps ([`SwarmPlan`]), each with its cause, and their text
//! form as `conteneur plan` prints them. Its own file, as for the local
//! plan's steps: the planner makes them, the executor and the CLI read
//! them.

use std::fmt;

use serde::Serialize;

/// What to do on the swarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SwarmAction {
    CreateNetwork {
        name: String,
    },
    CreateSecret {
        name: String,
        service: String,
    },
    CreateConfig {
        name: String,
        service: String,
    },
    CreateService {
        name: String,
        replicas: u32,
    },
    /// A changed spec: Swarm rolls the replicas one by one.
    UpdateService {
        name: String,
        id: String,
    },
    /// Only the number of replicas changes.
    Scale {
        name: String,
        id: String,
        from: u64,
        to: u32,
    },
    RemoveService {
        name: String,
        id: String,
    },
    Leave {
        name: String,
        id: String,
    },
    RemoveSecret {
        name: String,
        id: String,
    },
    RemoveConfig {
        name: String,
        id: String,
    },
    RemoveNetwork {
        name: String,
        id: String,
    },
}

/// One step and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwarmStep {
    #[serde(flatten)]
    pub action: SwarmAction,
    pub cause: String,
}

/// The swarm's steps: `before_local` runs before the local engines
/// converge (it frees names and ports a container moving to the local
/// engine needs), `steps` after them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SwarmPlan {
    pub before_local: Vec<SwarmStep>,
    pub steps: Vec<SwarmStep>,
}

impl SwarmPlan {
    pub fn all(&self) -> impl Iterator<Item = &SwarmStep> {
        self.before_local.iter().chain(self.steps.iter())
    }

    pub fn is_noop(&self) -> bool {
        self.all()
            .all(|s| matches!(s.action, SwarmAction::Leave { .. }))
    }
}

impl fmt::Display for SwarmAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = |id: &str| crate::plan::observed::short_id(id).to_string();
        let (verb, what) = match self {
            SwarmAction::CreateNetwork { name } => ("create", format!("network {name} (overlay)")),
            SwarmAction::CreateSecret { name, .. } => ("create", format!("secret {name}")),
            SwarmAction::CreateConfig { name, .. } => ("create", format!("config {name}")),
            SwarmAction::CreateService { name, replicas } => (
                "create",
                format!(
                    "{name} on swarm ({replicas} replica{})",
                    plural(*replicas as u64)
                ),
            ),
            SwarmAction::UpdateService { name, id } => {
                ("update", format!("{name} ({}) on swarm", short(id)))
            }
            SwarmAction::Scale { name, id, from, to } => (
                "scale",
                format!("{name} ({}) on swarm {from} → {to}", short(id)),
            ),
            SwarmAction::RemoveService { name, id } => {
                ("remove", format!("{name} ({}) on swarm", short(id)))
            }
            SwarmAction::Leave { name, id } => {
                ("leave", format!("{name} ({}) on swarm", short(id)))
            }
            SwarmAction::RemoveSecret { name, .. } => ("remove", format!("secret {name}")),
            SwarmAction::RemoveConfig { name, .. } => ("remove", format!("config {name}")),
            SwarmAction::RemoveNetwork { name, .. } => ("remove", format!("network {name}")),
        };
        write!(f, "{verb:<8} {what:<40}")
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl SwarmStep {
    /// The step as `plan` prints it.
    pub fn to_line(&self) -> String {
        format!("{} {}", self.action, self.cause)
    }
}

impl fmt::Display for SwarmPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in self.all() {
            writeln!(f, "{}", s.to_line())?;
        }
        Ok(())
    }
}
