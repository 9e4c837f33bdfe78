//! `backend`: the engines containers run on. Backends act and never decide:
//! [`crate::plan`] says what to do, a backend does it and reports.
//!
//! Ownership is carried by labels on the containers themselves (the engine
//! is the source of truth, as in docker compose): a container is ours when
//! it has [`MANAGED`](crate::plan::observed::labels::MANAGED); anything
//! else is never touched. Engines without labels keep the same labels in a
//! marker of their own: a file in the LXC container's folder ([`lxc`]), a
//! file per snap in conteneur's state folder ([`snap`], as snapd keeps no
//! user data on a snap).
//!
//! Several engines serve one server: every container observed carries its
//! [`Kind`], and [`Backends`] holds one backend per kind, so the plan can
//! move a container from one engine to another. The snapshot's types, the
//! labels and the names a replace gives belong to the plan
//! ([`crate::plan::observed`]): the plan reads them, a backend fills them.

pub mod docker;
pub mod git;
pub mod lxc;
pub mod snap;
pub mod swarm;
pub mod vm;

use std::collections::BTreeMap;

use crate::plan::launch::Launch;
use crate::plan::observed::{Kind, Observed};

/// What the engine says of a container's process, to tell a crash loop from
/// a slow start: an engine that restarts a crashing container (Docker's
/// restart policy) keeps it "running" between restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Liveness {
    pub running: bool,
    /// The engine is restarting it, or has restarted it this many times.
    pub restarting: bool,
    pub restarts: u64,
    /// When its process last started (engine's text).
    pub started_at: String,
}

/// What a container uses, from the engine's stats (or its cgroup).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// CPU time used since it started, in seconds.
    pub cpu_seconds: f64,
    pub memory_bytes: u64,
    /// Processes (or threads, as the pids cgroup counts them) inside it.
    pub processes: Option<u64>,
}

/// What `conteneur logs` asks an engine for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRequest {
    /// Keep reading as the container writes.
    pub follow: bool,
    /// Only what was written since then (Unix time, seconds); engines
    /// without timestamps (an LXC console) ignore it.
    pub since: Option<i64>,
    /// Only the last lines.
    pub tail: Option<u64>,
}

/// Where an engine sends log output: `(from stderr, bytes)`.
pub type LogSink<'a> = &'a (dyn Fn(bool, &[u8]) + Send + Sync);

/// The bind mounts of a running container ([`Backend::binds`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Binds {
    /// Its main process, on the host.
    pub pid: u32,
    /// (host folder as given to the engine, path inside the container).
    pub mounts: Vec<(String, String)>,
}

/// What the engine keeps of one container ([`Backend::record`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub live: Liveness,
    pub binds: Option<Binds>,
    /// Its addresses on the engine's networks, reachable from the host
    /// (none when the engine does not say).
    pub addresses: Vec<std::net::IpAddr>,
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
    #[error(
        "pulling {image}:{tag} from the registry {registry} stalled: no progress for {seconds} s \
         ({step}); the pull was abandoned. Check that {registry} answers, or give pulls more \
         time with conteneur_pull_timeout"
    )]
    PullStalled {
        registry: String,
        image: String,
        tag: String,
        seconds: u64,
        /// Where the pull was when it stalled.
        step: String,
    },
    #[error("building {image}:{tag} from {repository} failed: {message}")]
    Build {
        image: String,
        tag: String,
        repository: String,
        message: String,
    },
    #[error("{engine} is not usable here: {message}")]
    Unavailable {
        engine: &'static str,
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

impl BackendError {
    /// A failed pull of `image:tag`, with what the engine or registry said.
    pub fn pull(image: &str, tag: &str, message: String) -> BackendError {
        BackendError::Pull {
            image: image.to_string(),
            tag: tag.to_string(),
            message,
        }
    }
}

/// The registry an image reference is pulled from, as Docker reads it: the
/// first component when it names a host (a '.' or a ':', or `localhost`),
/// else Docker Hub.
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((host, _)) if host.contains(['.', ':']) || host == "localhost" => host.to_string(),
        _ => "docker.io".to_string(),
    }
}

/// A mount as the engine must see it: the host side resolved under the
/// root (bind) or a volume name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMount {
    pub host: String,
    pub container: String,
    pub bind: bool,
    /// Mounted read-only (secret files).
    pub read_only: bool,
}

/// Progress of a pull or a build, for display.
pub trait Progress: Send + Sync {
    /// A new status line for `image` (layer downloads, extraction, build
    /// steps…).
    fn update(&self, image: &str, status: &str);
    /// The pull (or build) of `image` ended.
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
    /// Which engine this is.
    fn kind(&self) -> Kind;
    /// One snapshot of containers and images, each tagged with [`Self::kind`].
    async fn inspect(&self) -> Result<Observed, BackendError>;
    /// Makes `image:tag` present locally; returns its image id.
    async fn prepare(
        &self,
        image: &str,
        tag: &str,
        progress: &dyn Progress,
    ) -> Result<String, BackendError>;
    /// Builds `image:tag` from the tar of a source tree whose root holds a
    /// Dockerfile, with `labels` on the image; returns its image id. Only
    /// engines that build images implement it.
    async fn build(
        &self,
        image: &str,
        tag: &str,
        context: Vec<u8>,
        labels: &BTreeMap<String, String>,
        progress: &dyn Progress,
    ) -> Result<String, BackendError> {
        let _ = (tag, context, labels, progress);
        Err(BackendError::Other(format!(
            "{}: the {} engine does not build images",
            image,
            self.kind()
        )))
    }
    /// A replaced instance leaves service (the plan's rename-old step):
    /// it no longer comes back by itself (restart policy `no`, no start at
    /// boot) and no longer answers its network aliases, so that a reboot
    /// during its drain brings back only the new version. It keeps running
    /// for what it still serves.
    async fn retire(&self, id: &str) -> Result<(), BackendError> {
        let _ = id;
        Ok(())
    }
    /// Starts again the containers that should run and do not, for engines
    /// that no supervisor brings back (VMs after a reboot). Each failure by
    /// container name (empty: the engine could not be listed).
    async fn revive(&self) -> Vec<(String, BackendError)> {
        Vec::new()
    }
    /// True for engines where a container cannot exist twice (a snap is
    /// installed once per system): a change is made in place by
    /// [`Self::update`], and undone by [`Self::revert`].
    fn in_place(&self) -> bool {
        false
    }
    /// Changes container `id` in place to `launch` (in-place engines only).
    async fn update(
        &self,
        id: &str,
        launch: &Launch,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        let _ = (launch, labels);
        Err(BackendError::Other(format!(
            "{id}: the {} engine does not change containers in place",
            self.kind()
        )))
    }
    /// Undoes the last [`Self::update`] of `id`.
    async fn revert(&self, id: &str) -> Result<(), BackendError> {
        Err(BackendError::Other(format!(
            "{id}: the {} engine does not change containers in place",
            self.kind()
        )))
    }
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
    /// Running, and whether the engine restarts it (crash loop). Engines
    /// without a supervisor only say whether it runs.
    async fn liveness(&self, id: &str) -> Result<Liveness, BackendError> {
        Ok(Liveness {
            running: self.running(id).await?,
            ..Liveness::default()
        })
    }
    /// The bind mounts of running container `id` as the engine keeps them
    /// (the host folder it was given, the path inside) and the host pid of
    /// its main process; None when the engine does not say (not running,
    /// engines without such records).
    async fn binds(&self, id: &str) -> Result<Option<Binds>, BackendError> {
        let _ = id;
        Ok(None)
    }
    /// [`Backend::liveness`] and [`Backend::binds`] together, with the
    /// container's addresses when the engine knows them: the reporter asks
    /// them of every container at each round, and an engine that answers
    /// from one record overrides this to ask once.
    async fn record(&self, id: &str) -> Result<Record, BackendError> {
        Ok(Record {
            live: self.liveness(id).await?,
            binds: self.binds(id).await?,
            addresses: Vec::new(),
        })
    }
    /// The containers (full ids) whose [`Backend::record`] the engine
    /// changed between `since` and `until` (both past), from its own log
    /// of events: one question instead of a record per container. An error
    /// when the engine keeps no such log or cannot say every change of the
    /// window (then every record must be asked again).
    async fn changed(
        &self,
        since: std::time::SystemTime,
        until: std::time::SystemTime,
    ) -> Result<std::collections::BTreeSet<String>, BackendError> {
        let _ = (since, until);
        Err(self.no_apps("changes", "log of events"))
    }
    /// The engine's health status of the container's in-container check
    /// (`starting`, `healthy`, `unhealthy`) and the last check's output;
    /// None when it has no such check.
    async fn health(&self, id: &str) -> Result<Option<(String, String)>, BackendError> {
        let _ = id;
        Ok(None)
    }
    /// What keeps container `id` from serving that its engine knows and a
    /// probe may not see (an LXC container's port forwarder that cannot
    /// accept connections now); None when nothing.
    fn trouble(&self, id: &str) -> Option<String> {
        let _ = id;
        None
    }
    /// What container `id` uses now; None when the engine cannot say
    /// (not running, or an engine without stats).
    async fn usage(&self, id: &str) -> Result<Option<Usage>, BackendError> {
        let _ = id;
        Ok(None)
    }
    /// Sends container `id`'s logs to `sink` (until it stops, with
    /// `follow`).
    async fn logs(
        &self,
        id: &str,
        request: &LogRequest,
        sink: LogSink<'_>,
    ) -> Result<(), BackendError> {
        let _ = (request, sink);
        Err(self.no_apps(id, "logs"))
    }
    /// Creates the private network `name` with `labels`; returns its id.
    async fn create_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<String, BackendError> {
        let _ = labels;
        Err(self.no_apps(name, "private networks"))
    }
    async fn remove_network(&self, id: &str) -> Result<(), BackendError> {
        Err(self.no_apps(id, "private networks"))
    }
    /// Makes the named volume `name` exist, labelled when it is created.
    async fn ensure_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        let _ = (name, labels);
        Ok(())
    }
    /// The numeric uid and gid container `id` runs as (its configured user,
    /// else its image's), read from its own /etc/passwd and /etc/group.
    async fn user_ids(&self, id: &str) -> Result<(u32, u32), BackendError> {
        Err(self.no_apps(id, "secrets"))
    }
    /// The error of an engine that has no such thing.
    fn no_apps(&self, what: &str, feature: &str) -> BackendError {
        BackendError::Other(format!(
            "{what}: the {} engine has no {feature}",
            self.kind()
        ))
    }
}

/// The engines of one run, one backend per [`Kind`]. An engine that cannot
/// be reached is kept with the reason: it is an error only when the
/// configuration needs it (a server without LXC containers needs no LXC).
#[derive(Default)]
pub struct Backends {
    backends: BTreeMap<Kind, Box<dyn Backend>>,
    unreachable: BTreeMap<Kind, BackendError>,
}

impl Backends {
    /// An empty set, to [`Self::insert`] into (tests bring their own).
    pub fn new() -> Backends {
        Backends::default()
    }

    pub fn insert(&mut self, backend: Box<dyn Backend>) {
        self.unreachable.remove(&backend.kind());
        self.backends.insert(backend.kind(), backend);
    }

    /// Records why the engine `kind` cannot be used.
    pub fn set_unreachable(&mut self, kind: Kind, why: BackendError) {
        self.backends.remove(&kind);
        self.unreachable.insert(kind, why);
    }

    /// Connects to every engine of this machine (`state` is conteneur's
    /// state folder, where the LXC image cache, the snap markers and the
    /// VMs live), VMs on KVM where it works ([`vm::AccelChoice::Auto`]).
    pub async fn connect(state: &std::path::Path) -> Backends {
        Self::connect_with(state, vm::AccelChoice::Auto).await
    }

    /// As [`Self::connect`], VMs started on `accel` (`conteneur_vm_accel`).
    pub async fn connect_with(state: &std::path::Path, accel: vm::AccelChoice) -> Backends {
        // Each engine is asked at once: the LXC probe runs two tools, and
        // none of them needs another's answer.
        let (docker, lxc, snap) = tokio::join!(
            docker::DockerBackend::connect(),
            lxc::LxcBackend::detect(state),
            snap::SnapBackend::connect(state),
        );
        // VMs pull through the Docker engine already connected: one
        // engine, asked once.
        let qemu = docker
            .as_ref()
            .map_err(Clone::clone)
            .map(|d| vm::VmEngine::with_tools(state, d.clone(), accel, vm::Tools::find()));
        let mut set = Backends::new();
        match docker {
            Ok(b) => set.insert(Box::new(b)),
            Err(e) => set.set_unreachable(Kind::Docker, e),
        }
        match lxc {
            Ok(b) => set.insert(Box::new(b)),
            Err(e) => set.set_unreachable(Kind::Lxc, e),
        }
        match snap {
            Ok(b) => set.insert(Box::new(b)),
            Err(e) => set.set_unreachable(Kind::Snap, e),
        }
        match qemu {
            Ok(engine) => set.insert(Box::new(vm::VmBackend::new(engine, Kind::Vm))),
            Err(e) => set.set_unreachable(Kind::Vm, e),
        }
        set
    }

    /// Starts again what should run and does not, on every engine without
    /// a supervisor of its own (VMs after a reboot: [`Backend::revive`]).
    /// A run calls it once, before its snapshot. Each failure, by engine
    /// and container name.
    pub async fn revive(&self) -> Vec<(Kind, String, BackendError)> {
        let mut out = Vec::new();
        for (kind, b) in &self.backends {
            out.extend(b.revive().await.into_iter().map(|(n, e)| (*kind, n, e)));
        }
        out
    }

    pub fn get(&self, kind: Kind) -> Option<&dyn Backend> {
        self.backends.get(&kind).map(|b| b.as_ref())
    }

    /// The engine `kind`, or why it cannot be used.
    pub fn require(&self, kind: Kind) -> Result<&dyn Backend, BackendError> {
        match (self.get(kind), self.unreachable.get(&kind)) {
            (Some(b), _) => Ok(b),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Err(BackendError::Unavailable {
                engine: kind.name(),
                message: "no backend was set up for it".into(),
            }),
        }
    }

    /// Why `kind` cannot be used, when it cannot.
    pub fn unreachable(&self, kind: Kind) -> Option<&BackendError> {
        self.unreachable.get(&kind)
    }

    /// One snapshot of every reachable engine. An engine that cannot be
    /// listed counts as unreachable from then on: an error for the runs
    /// that need it only, so a broken LXC never stops a Docker-only server.
    pub async fn inspect(&mut self) -> Observed {
        let mut all = Observed::default();
        let mut failed = Vec::new();
        // Concurrently, merged in the engines' order.
        let answers = futures_util::future::join_all(
            self.backends
                .iter()
                .map(|(kind, b)| async move { (*kind, b.inspect().await) }),
        )
        .await;
        for (kind, answer) in answers {
            match answer {
                Ok(o) => all.merge(o),
                Err(e) => failed.push((kind, e)),
            }
        }
        for (kind, e) in failed {
            self.set_unreachable(kind, e);
        }
        all
    }
}

/// Sets `contents` as the marker file `path` ([`crate::atomic`]), only
/// root's (0600), making its folder: a marker is never seen half-written.
pub fn write_atomic(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a marker path has a parent folder"))?;
    crate::folders::create_dir_all(dir, crate::folders::PUBLIC)?;
    crate::atomic::write(path, contents, 0o600)
}
