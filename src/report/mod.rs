//! `report`: the containers' state seen from outside. `conteneur watch`
//! takes it every `conteneur_report_interval` seconds and sends it to the
//! targets the configuration names (Redis, node_exporter's textfile
//! collector); `conteneur metrics` prints it as Prometheus text.
//!
//! It reads what `status` reads ([`crate::run::status::gather_with`]) and
//! asks the engines for more (restarts, CPU, memory, processes); nothing
//! below it imports it. Key layout and metric names: docs/monitoring.md.

pub mod cli;
pub mod metrics;
pub mod redis;
pub mod watch;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::backend::Backends;
use crate::config::Config;
use crate::paths::Paths;
use crate::plan::observed::{Kind, ObservedContainer, short_id};

/// node_exporter's textfile folder on Debian (prometheus-node-exporter).
pub const DEBIAN_TEXTFILE_DIR: &str = "var/lib/prometheus/node-exporter";
/// The file written there.
pub const TEXTFILE: &str = "conteneur.prom";
/// The interval when the configuration says none.
pub const DEFAULT_INTERVAL: u64 = 15;
/// How long one engine question (restarts, stats of one container) may
/// take.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(5);
/// Engine questions asked at the same time.
pub const PARALLEL_ASKS: usize = 32;

/// The Redis target: its URL (never with a password) and the password.
#[derive(Clone)]
pub struct RedisTarget {
    /// The URL as configured, to connect with: never shown (a hand-edited
    /// config.eol may hold a password in it, which `set` would refuse).
    pub url: String,
    /// The URL without its user and password: what messages show.
    pub shown: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password is a secret: never shown, even in a debug print.
        f.debug_struct("RedisTarget")
            .field("url", &self.shown)
            .field("password", &self.password.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

/// Where and how often the state goes.
#[derive(Debug, Clone)]
pub struct Settings {
    pub interval: Duration,
    /// The server's name in the Redis keys (`conteneur_server_name`).
    pub server: String,
    pub redis: Option<RedisTarget>,
    /// The textfile folder (under the root).
    pub textfile: Option<PathBuf>,
}

/// How long a round waits for what `status` looks at first (swapped host
/// folders, git repositories).
const LOOK_TIMEOUT: Duration = Duration::from_secs(10);

impl Settings {
    /// The report settings of `cfg`; the textfile folder is under the root
    /// of `paths`.
    pub fn from_config(cfg: &Config, paths: &Paths) -> Settings {
        let interval = cfg
            .first("conteneur_report_interval")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_INTERVAL)
            .max(1);
        let nonempty = |name: &str| cfg.first(name).filter(|v| !v.trim().is_empty());
        let redis = nonempty("conteneur_report_redis").map(|url| RedisTarget {
            shown: crate::userinfo::public(&url),
            url,
            password: nonempty("conteneur_report_redis_password"),
        });
        let textfile = match nonempty("conteneur_report_textfile") {
            Some(dir) => Some(under_root(&paths.root, &dir)),
            None => {
                let d = paths.root.join(DEBIAN_TEXTFILE_DIR);
                d.is_dir().then_some(d)
            }
        };
        Settings {
            interval: Duration::from_secs(interval),
            server: cfg
                .first("conteneur_server_name")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "localhost".into()),
            redis,
            textfile,
        }
    }

    /// The lifetime of every Redis key: three intervals.
    pub fn ttl(&self) -> Duration {
        self.interval.saturating_mul(3)
    }
}

/// An absolute path of the configuration, under the root.
fn under_root(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// One container's state, as it is reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContainerReport {
    /// Its name (a draining one: `NAME.old.ID`; a swarm service: its
    /// configured name).
    pub name: String,
    /// docker, lxc, snap, swarm.
    pub engine: String,
    /// The engine's id as `docker ps` shows it (12 characters), or the
    /// engine's name for LXC and snap; None when it does not exist.
    pub id: Option<String>,
    /// running, draining or absent: what the configuration wants.
    pub desired: String,
    /// The engine's state word, or `missing`.
    pub state: String,
    pub running: bool,
    pub health: String,
    pub healthy: bool,
    pub restarts: u64,
    /// Repository and tag, as the engine names them.
    pub image: String,
    pub tag: String,
    /// The engine's image id (a content digest).
    pub image_id: String,
    /// What differs from the configuration; None when as configured.
    pub drift: Option<String>,
    pub cpu_seconds: Option<f64>,
    /// CPU used since the previous round, in % of one core (`watch` only).
    pub cpu_percent: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub processes: Option<u64>,
    /// A swarm service's replicas: running and desired.
    pub replicas: Option<(u64, u64)>,
}

/// One round's state of the server.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub containers: Vec<ContainerReport>,
    /// Every engine of the machine: None when it answered, else why not.
    pub engines: BTreeMap<String, Option<String>>,
    /// Why the state is incomplete (the configuration cannot be read, an
    /// engine the configuration needs is down…).
    pub problem: Option<String>,
    pub time: Option<SystemTime>,
}

/// `repository:tag` split at the tag (a registry's port is not a tag).
pub fn split_image(image: &str) -> (String, String) {
    let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[slash..].rfind(':') {
        Some(i) => (
            image[..slash + i].to_string(),
            image[slash + i + 1..].to_string(),
        ),
        None => (image.to_string(), String::new()),
    }
}

/// Takes the state of every container of the configuration in `paths`,
/// on every engine. Never fails: what could not be read is said in
/// [`Snapshot::problem`] and [`Snapshot::engines`].
pub async fn collect(paths: &Paths) -> (Snapshot, Option<Config>) {
    let time = SystemTime::now();
    let cfg = match Config::load(paths) {
        Ok(c) => c,
        Err(e) => {
            let mut s = Snapshot {
                problem: Some(e.to_string()),
                time: Some(time),
                ..Snapshot::default()
            };
            // The engines are still worth a word.
            let backends = Backends::connect(&paths.state).await;
            s.engines = engine_words(&backends);
            return (s, None);
        }
    };
    let snap = collect_config(paths, &cfg, time).await;
    (snap, Some(cfg))
}

fn engine_words(backends: &Backends) -> BTreeMap<String, Option<String>> {
    Kind::ALL
        .iter()
        .map(|k| {
            (
                k.name().to_string(),
                backends.unreachable(*k).map(|e| e.to_string()),
            )
        })
        .collect()
}

async fn collect_config(paths: &Paths, cfg: &Config, time: SystemTime) -> Snapshot {
    // As `status`: what the configuration wants now; if it cannot be
    // rendered, what the last run wrote (and the reason, said).
    let (rendered, desired, render_problem) = match crate::plan::desired::desired(cfg, paths) {
        Ok((r, d)) => (r, d, None),
        Err(e) => (
            Vec::new(),
            crate::plan::desired::read_launch(&crate::plan::desired::launch_path(paths))
                .unwrap_or_default(),
            Some(e.to_string()),
        ),
    };
    // Under swarm the docker containers are services: reported apart.
    let on_swarm = crate::run::swarm::is_swarm(cfg);
    let desired = if on_swarm {
        crate::plan::swarm::split(desired).0
    } else {
        desired
    };
    let mut backends = Backends::connect(&paths.state).await;
    let mut observed = backends.inspect().await;
    // A round must end well within the keys' lifetime: an unreachable git
    // host (docker+git) is not waited for as a run waits for it.
    let looked = match tokio::time::timeout(
        LOOK_TIMEOUT,
        crate::run::status::look(paths, cfg, &desired, &backends, &mut observed),
    )
    .await
    {
        Ok(looked) => looked,
        Err(_) => crate::run::status::Looked {
            notes: desired
                .iter()
                .filter(|d| d.backend == "docker+git")
                .map(|d| {
                    (
                        d.name.clone(),
                        format!(
                            "its repository was not read within {} s",
                            LOOK_TIMEOUT.as_secs()
                        ),
                    )
                })
                .collect(),
            swapped: Vec::new(),
        },
    };
    let status = crate::run::status::gather_with(
        paths, cfg, &desired, &rendered, &backends, &observed, looked,
    )
    .await;
    let server = crate::paths::server_id(paths);
    // The engine's own container for each status line with an id.
    let mine: HashMap<(String, String), &ObservedContainer> = observed
        .containers
        .iter()
        .filter(|c| c.is_ours(&server))
        .map(|c| {
            (
                (c.backend.name().to_string(), short_id(&c.id).to_string()),
                c,
            )
        })
        .collect();
    let backends = &backends;
    let asked: Vec<(
        Option<crate::backend::Liveness>,
        Option<crate::backend::Usage>,
    )> = stream::iter(status.containers.iter())
        .map(|c| {
            let found =
                c.id.as_ref()
                    .and_then(|id| mine.get(&(c.backend.clone(), id.clone())).copied());
            async move {
                let Some(o) = found else {
                    return (None, None);
                };
                let Some(b) = backends.get(o.backend) else {
                    return (None, None);
                };
                let live = tokio::time::timeout(ASK_TIMEOUT, b.liveness(&o.id));
                let usage = async {
                    if o.running {
                        tokio::time::timeout(ASK_TIMEOUT, b.usage(&o.id))
                            .await
                            .ok()
                            .and_then(Result::ok)
                            .flatten()
                    } else {
                        None
                    }
                };
                let (live, usage) = tokio::join!(live, usage);
                (live.ok().and_then(Result::ok), usage)
            }
        })
        .buffered(PARALLEL_ASKS)
        .collect()
        .await;
    let mut containers = Vec::new();
    for (c, (live, usage)) in status.containers.iter().zip(asked) {
        let found =
            c.id.as_ref()
                .and_then(|id| mine.get(&(c.backend.clone(), id.clone())).copied());
        let (image, tag) = split_image(&c.image);
        containers.push(ContainerReport {
            name: c.name.clone(),
            engine: c.backend.clone(),
            id: c.id.clone(),
            desired: c.desired.clone(),
            state: c.actual.clone(),
            running: c.actual == "running",
            healthy: c.health == "healthy",
            health: c.health.clone(),
            restarts: live.map(|l| l.restarts).unwrap_or(0),
            image,
            tag,
            image_id: found.map(|o| o.image_id.clone()).unwrap_or_default(),
            drift: c.drift.clone(),
            cpu_seconds: usage.as_ref().map(|u| u.cpu_seconds),
            cpu_percent: None,
            memory_bytes: usage.as_ref().map(|u| u.memory_bytes),
            processes: usage.as_ref().and_then(|u| u.processes),
            replicas: None,
        });
    }
    let mut problems: Vec<String> = status.engine.iter().cloned().collect();
    if on_swarm {
        match crate::run::swarm::status(paths).await.0 {
            Ok(list) => {
                for s in list {
                    let (image, tag) = split_image(&s.image);
                    containers.push(ContainerReport {
                        name: s.name.clone(),
                        engine: "swarm".into(),
                        id: Some(s.name.clone()),
                        desired: "running".into(),
                        state: if s.running > 0 { "running" } else { "missing" }.into(),
                        running: s.running > 0,
                        health: if s.running >= s.desired {
                            "healthy".into()
                        } else {
                            format!("unhealthy: {}/{} replicas running", s.running, s.desired)
                        },
                        healthy: s.running >= s.desired,
                        image,
                        tag,
                        replicas: Some((s.running, s.desired)),
                        ..ContainerReport::default()
                    });
                }
            }
            Err(e) => problems.push(format!("swarm: {e}")),
        }
    }
    if let Some(e) = render_problem {
        problems.push(e);
    }
    Snapshot {
        containers,
        engines: status
            .engines
            .into_iter()
            .map(|(k, v)| {
                let down = (v != "ok").then_some(v);
                (k, down)
            })
            .collect(),
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
        time: Some(time),
    }
}

#[cfg(test)]
mod tests;
