//! What the swarm must hold: the services, secrets, configs and networks
//! wanted ([`Desired`]), the settings of a run, and the canonical text and
//! hash of a service's spec that its label keeps. Its own file because
//! these are the types both the planner and the backend read, apart from
//! how they are derived from the launch plans ([`super::desired`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SPEC_LABEL;
use crate::plan::observed::labels;
use crate::plan::redact::{self, LabelKey};

/// How the services are reached on their networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// Each task by its own address, from Docker's DNS (`tasks.NAME`): no
    /// IPVS needed.
    #[default]
    Dnsrr,
    /// One virtual IP balanced by IPVS in the kernel.
    Vip,
}

impl Endpoint {
    pub fn parse(s: &str) -> Endpoint {
        if s == "vip" {
            Endpoint::Vip
        } else {
            Endpoint::Dnsrr
        }
    }
}

/// The settings of a swarm run.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// This server's identity (label [`labels::SERVER`]).
    pub server: String,
    /// Seconds between the update of two replicas.
    pub update_delay: u64,
    /// Seconds each new replica is watched for a failure (Swarm then rolls
    /// the service back; it does not hold the next replica back).
    pub monitor: u64,
    pub endpoint: Endpoint,
    /// Seconds a new replica has to become healthy (its start period).
    pub start_period: u64,
    /// The constraint that pins bind mounts and the front to the node of
    /// the engine conteneur drives (`node.id==ID`).
    pub pin: String,
    /// The front's image, built on that node.
    pub front_image: String,
    /// The key environment values are sealed with in the labels.
    pub label_key: LabelKey,
}

/// A mount of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantMount {
    /// The volume name, or the host folder (bind).
    pub source: String,
    pub target: String,
    pub bind: bool,
}

/// A swarm secret or config handed to a service as a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// The swarm object's name.
    pub object: String,
    /// The file: a name under /run/secrets (secret), a path (config).
    pub target: String,
}

/// A port published in host mode on the node of the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPort {
    pub published: u16,
    pub target: u16,
}

/// What one service must be. Replicas aside, any change is an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceWant {
    pub name: String,
    /// `image:tag`.
    pub image: String,
    /// Not in the spec's hash: a change of it alone is a scale.
    #[serde(skip)]
    pub replicas: u32,
    /// The command (empty: the image's).
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub mounts: Vec<WantMount>,
    pub memory: Option<i64>,
    /// Swarm's restart condition: none, on-failure or any.
    pub restart: String,
    pub stop_grace: u32,
    /// The health check run inside each task (`CMD-SHELL`), if any.
    pub health: Option<String>,
    /// Its interval, timeout and retries (seconds, seconds, count) when the
    /// admin set them (`conteneurX_health_command` and its settings);
    /// `None`: conteneur's own probe, every second, 3 s, 3 tries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_timing: Option<[u32; 3]>,
    pub start_period: u64,
    /// The user the tasks run as (empty: the image's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default)]
    pub constraints: Vec<String>,
    #[serde(default)]
    pub networks: Vec<String>,
    #[serde(default)]
    pub secrets: Vec<FileRef>,
    /// The uid and gid its secret files are given to (readable by that
    /// user only), from [`super::secret_owner`]; `None`: root's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_owner: Option<[u32; 2]>,
    #[serde(default)]
    pub configs: Vec<FileRef>,
    #[serde(default)]
    pub ports: Vec<HostPort>,
    /// start-first (the new replica before the old one stops) or
    /// stop-first (a host-mode port cannot be held twice, moby#36934).
    pub start_first: bool,
    pub update_delay: u64,
    pub monitor: u64,
    pub endpoint: Endpoint,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl ServiceWant {
    /// The health check's interval, timeout and retries, conteneur's own
    /// (1 s, 3 s, 3 tries) when the admin set none: one place, so that the
    /// swarm's services and `export stack` cannot drift apart.
    pub fn health_timing(&self) -> [u32; 3] {
        self.health_timing.unwrap_or([1, 3, 3])
    }

    /// The canonical text of the spec as its label keeps it (without
    /// replicas, environment values sealed under `key` as for local
    /// containers: see [`crate::plan::redact`]).
    pub fn text(&self, key: &LabelKey) -> String {
        let mut sealed = self.clone();
        sealed.env = redact::sealed_env(&self.env, key);
        serde_json::to_string(&sealed).unwrap_or_default()
    }

    pub fn hash(&self, key: &LabelKey) -> String {
        hex(&Sha256::digest(self.text(key).as_bytes()))
    }

    /// The labels the service carries on server `server`.
    pub fn service_labels(&self, server: &str, key: &LabelKey) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        l.insert(labels::MANAGED.into(), "true".into());
        l.insert(labels::SERVER.into(), server.to_string());
        l.insert(labels::NAME.into(), self.name.clone());
        l.insert(labels::PLAN_HASH.into(), self.hash(key));
        l.insert(SPEC_LABEL.into(), self.text(key));
        l
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A config to create: its swarm name, the service it is for, and its
/// content (the front's nginx configuration: nothing secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectWant {
    pub name: String,
    pub service: String,
    pub data: String,
}

/// A swarm secret to create: its swarm name, the service it is for, and
/// the configuration's secret (`conteneur_secret_name`) whose value it
/// holds. The value is not here: the executor reads it from the
/// configuration when it creates the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretWant {
    pub name: String,
    pub service: String,
    pub secret: String,
}

/// Everything the swarm must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    /// The applications' services, then the front (if any container has a
    /// port).
    pub services: Vec<ServiceWant>,
    pub secrets: Vec<SecretWant>,
    pub configs: Vec<ObjectWant>,
    pub networks: Vec<String>,
    /// The key of the labels (from [`Settings`]).
    pub label_key: LabelKey,
}

impl Desired {
    pub fn service(&self, name: &str) -> Option<&ServiceWant> {
        self.services.iter().find(|s| s.name == name)
    }

    pub fn secret(&self, name: &str) -> Option<&SecretWant> {
        self.secrets.iter().find(|s| s.name == name)
    }

    pub fn config(&self, name: &str) -> Option<&ObjectWant> {
        self.configs.iter().find(|s| s.name == name)
    }
}
