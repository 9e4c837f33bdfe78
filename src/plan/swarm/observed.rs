//! One snapshot of the swarm as the backend reads it: services (with the
//! state of their last update), secrets, configs and networks, and which of
//! them conteneur made for this server. Its own file because the backend
//! fills these types and the planner only reads them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::SPEC_LABEL;
use super::want::ServiceWant;
use crate::plan::observed::labels;

/// The state of a service's last update, as Swarm reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateState {
    /// updating, paused, completed, rollback_started, rollback_paused,
    /// rollback_completed.
    pub state: String,
    pub message: String,
    /// When it started (RFC 3339), to tell a new update from the last one.
    pub started_at: String,
}

/// Labels of an object conteneur made for the server `server`.
fn ours(l: &BTreeMap<String, String>, server: &str) -> bool {
    l.get(labels::MANAGED).map(String::as_str) == Some("true")
        && l.get(labels::SERVER).map(String::as_str) == Some(server)
}

/// A service as the swarm reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedService {
    pub id: String,
    pub name: String,
    pub version: u64,
    pub labels: BTreeMap<String, String>,
    pub replicas: u64,
    pub running: u64,
    pub update: Option<UpdateState>,
}

impl ObservedService {
    pub fn is_ours(&self, server: &str) -> bool {
        ours(&self.labels, server)
    }

    pub(super) fn spec(&self) -> Option<ServiceWant> {
        serde_json::from_str(self.labels.get(SPEC_LABEL)?).ok()
    }
}

/// A secret, config or network as the swarm reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedObject {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl ObservedObject {
    pub fn is_ours(&self, server: &str) -> bool {
        ours(&self.labels, server)
    }
}

/// One snapshot of the swarm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmObserved {
    pub services: Vec<ObservedService>,
    pub secrets: Vec<ObservedObject>,
    pub configs: Vec<ObservedObject>,
    pub networks: Vec<ObservedObject>,
}

impl SwarmObserved {
    pub fn service(&self, name: &str) -> Option<&ObservedService> {
        self.services.iter().find(|s| s.name == name)
    }
}
