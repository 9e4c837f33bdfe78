//! `backend`: the engines containers run on. Backends act and never decide:
//! [`crate::plan`] says what to do, a backend does it and reports.
//!
//! Ownership is carried by labels on the containers themselves (the engine
//! is the source of truth, as in docker compose): a container is ours when
//! it has [`labels::MANAGED`]; anything else is never touched.

pub mod docker;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::plan::launch::Launch;

/// Label keys conteneur sets on its containers.
pub mod labels {
    /// "true" on every container conteneur manages.
    pub const MANAGED: &str = "fr.eole.conteneur.managed";
    /// The container's name in the configuration.
    pub const NAME: &str = "fr.eole.conteneur.name";
    /// Which server (root folder) it belongs to: several roots (tests, a
    /// demo) may share one engine, and each only ever touches its own.
    pub const SERVER: &str = "fr.eole.conteneur.server";
    /// A hash of the container's launch plan: changed plan, new container.
    pub const PLAN_HASH: &str = "fr.eole.conteneur.plan-hash";
    /// The launch plan itself (compact JSON), so a run can say what changed.
    pub const PLAN: &str = "fr.eole.conteneur.plan";
    /// The image the container was created from (engine image id).
    pub const IMAGE_ID: &str = "fr.eole.conteneur.image-id";
}

/// The suffix of a replacement container while it is being switched in.
pub const NEXT_SUFFIX: &str = ".next";

/// One container as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedContainer {
    pub id: String,
    /// The engine's name (without Docker's leading '/').
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub running: bool,
    /// The engine's state word (running, exited, created…).
    pub state: String,
    pub image: String,
    pub image_id: String,
}

impl ObservedContainer {
    /// Managed by conteneur (for this server or another root).
    pub fn is_managed(&self) -> bool {
        self.labels.get(labels::MANAGED).map(String::as_str) == Some("true")
    }

    /// Ours: managed by conteneur for the server `server`.
    pub fn is_ours(&self, server: &str) -> bool {
        self.is_managed() && self.labels.get(labels::SERVER).map(String::as_str) == Some(server)
    }

    /// The configuration name it belongs to (label), for ours.
    pub fn conf_name(&self) -> Option<&str> {
        self.labels.get(labels::NAME).map(String::as_str)
    }

    pub fn plan_hash(&self) -> Option<&str> {
        self.labels.get(labels::PLAN_HASH).map(String::as_str)
    }

    /// A replacement left over by an interrupted run: its engine name ends
    /// with [`NEXT_SUFFIX`], which a configured name cannot hold ('.' is not
    /// allowed in container names).
    pub fn is_next(&self) -> bool {
        self.name.ends_with(NEXT_SUFFIX)
    }
}

/// One snapshot of an engine, taken once per run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub containers: Vec<ObservedContainer>,
    /// Local images: `repository:tag` → image id.
    pub images: HashMap<String, String>,
}

/// How a backend failed, with what the engine said.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    #[error(
        "cannot reach the Docker engine at {socket}: {message}. Is dockerd running? (on Debian: apt-get install docker.io, then start dockerd)"
    )]
    EngineDown { socket: String, message: String },
    #[error("pulling {image}:{tag} failed: {message}")]
    Pull {
        image: String,
        tag: String,
        message: String,
    },
    #[error("container '{name}': {action} failed: {message}")]
    Container {
        name: String,
        action: &'static str,
        message: String,
    },
    #[error("{0}")]
    Other(String),
}

/// A mount as the engine must see it: the host side resolved under the
/// root (bind) or a volume name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMount {
    pub host: String,
    pub container: String,
    pub bind: bool,
}

/// Progress of a pull, for display.
pub trait Progress: Send + Sync {
    /// A new status line for `image` (layer downloads, extraction…).
    fn update(&self, image: &str, status: &str);
    /// The pull of `image` ended.
    fn done(&self, image: &str, result: &Result<String, BackendError>);
}

/// Progress that shows nothing (tests, `--quiet`).
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _image: &str, _status: &str) {}
    fn done(&self, _image: &str, _result: &Result<String, BackendError>) {}
}

/// What an engine must do for conteneur. Each call is one engine operation;
/// ordering, rollback and retries belong to the executor.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// A short name for messages ("docker").
    fn kind(&self) -> &'static str;
    /// One snapshot of containers and images.
    async fn inspect(&self) -> Result<Observed, BackendError>;
    /// Makes `image:tag` present locally; returns its image id.
    async fn prepare(
        &self,
        image: &str,
        tag: &str,
        progress: &dyn Progress,
    ) -> Result<String, BackendError>;
    /// Creates (not starts) a container named `name` for `launch`, with
    /// `labels`; returns its id.
    async fn create(
        &self,
        name: &str,
        launch: &Launch,
        mounts: &[HostMount],
        labels: &BTreeMap<String, String>,
    ) -> Result<String, BackendError>;
    async fn start(&self, id: &str) -> Result<(), BackendError>;
    /// Stops, giving the container `timeout` seconds before it is killed.
    async fn stop(&self, id: &str, timeout: u32) -> Result<(), BackendError>;
    /// Removes the container (never its volumes).
    async fn remove(&self, id: &str) -> Result<(), BackendError>;
    async fn rename(&self, id: &str, name: &str) -> Result<(), BackendError>;
    /// Is the container running now?
    async fn running(&self, id: &str) -> Result<bool, BackendError>;
}

impl fmt::Display for ObservedContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.name, short_id(&self.id), self.state)
    }
}

/// The first 12 characters of an id, as `docker ps` shows it.
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.get(..12).unwrap_or(id)
}
