//! `report`: the containers' state seen from outside. `conteneur watch`
//! takes it every `conteneur_report_interval` seconds and sends it to the
//! targets the configuration names (Redis, node_exporter's textfile
//! collector); `conteneur metrics` prints it as Prometheus text.
//!
//! It reads what `status` reads of the containers
//! ([`crate::run::status::gather_containers`]) and
//! asks the engines for more (restarts, CPU, memory, processes); nothing
//! below it imports it. Key layout and metric names: docs/monitoring.md.

pub mod cli;
pub mod metrics;
pub mod prepared;
pub mod probe;
pub mod records;
pub mod redis;
pub mod watch;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::backend::{Backends, Binds, Record, Usage};
use crate::config::Config;
use crate::paths::Paths;
use crate::plan::launch::Launch;
use crate::plan::observed::{Kind, Observed, ObservedContainer, short_id};
use prepared::Prepared;
use records::{Changes, Records};

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
/// [`Snapshot::problem`] and [`Snapshot::engines`]. The settings are None
/// when the configuration cannot be read.
pub async fn collect(paths: &Paths) -> (Snapshot, Option<Settings>) {
    collect_kept(paths, &mut None, &mut Records::new()).await
}

/// [`collect`], keeping what was read from the configuration's files in
/// `kept` for the next round, and reading them again only when they
/// changed, and the engines' records of the containers in `records`,
/// asked again only when they may have changed ([`records`]; `conteneur
/// watch`).
pub async fn collect_kept(
    paths: &Paths,
    kept: &mut Option<Prepared>,
    records: &mut Records,
) -> (Snapshot, Option<Settings>) {
    let time = SystemTime::now();
    let server = crate::paths::server_id(paths);
    // The configuration is read (when it changed) while the engines are
    // asked: one is work for this process, the other waiting for theirs.
    let reading = async {
        if kept.as_ref().is_some_and(|p| p.fresh(paths)) {
            return None;
        }
        // Dropped first: two configurations are never held at once.
        *kept = None;
        let p = paths.clone();
        Some(
            tokio::task::spawn_blocking(move || Prepared::read(&p))
                .await
                .unwrap_or_else(|e| Err(format!("the configuration could not be read: {e}"))),
        )
    };
    let engines = async {
        let mut backends = Backends::connect(&paths.state).await;
        let observed = backends.inspect().await;
        (backends, observed)
    };
    let (read, (backends, observed)) = tokio::join!(reading, engines);
    crate::timing::mark("report: configuration ready, engines listed");
    match read {
        Some(Ok(p)) => *kept = Some(p),
        Some(Err(problem)) => {
            let s = Snapshot {
                problem: Some(problem),
                time: Some(time),
                // The engines are still worth a word.
                engines: engine_words(&backends),
                ..Snapshot::default()
            };
            return (s, None);
        }
        None => {}
    }
    let Some(prepared) = kept.as_ref() else {
        return (Snapshot::default(), None);
    };
    let settings = Settings::from_config(&prepared.cfg, paths);
    let engines = Engines {
        backends,
        observed,
        server,
    };
    let snap = collect_config(paths, prepared, engines, records, time).await;
    (snap, Some(settings))
}

/// What the engines said at the start of a round.
struct Engines {
    backends: Backends,
    observed: Observed,
    server: String,
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

/// What the engine says of one container of ours beyond its listing.
#[derive(Default)]
struct Asked {
    record: Option<Record>,
    usage: Option<Usage>,
    /// Its health by the quicker probe ([`probe::quick_health`]), when
    /// that can tell.
    health: Option<String>,
}

/// The record (restarts, bind mounts, addresses: the one kept from the
/// last round when nothing says it changed) and the usage of every
/// container of ours, asked together, each bounded, and the quicker probe
/// of each as soon as its record is in: (engine, id) → answers.
async fn ask_all(
    backends: &Backends,
    observed: &Observed,
    server: &str,
    desired: &[Launch],
    (records, changes): (&Records, &Changes),
) -> HashMap<(Kind, String), Asked> {
    stream::iter(observed.containers.iter().filter(|c| c.is_ours(server)))
        .map(|o| async move {
            let key = (o.backend, o.id.clone());
            let Some(b) = backends.get(o.backend) else {
                return (key, Asked::default());
            };
            // What it must run, when it runs on the engine it must.
            let wanted = desired
                .iter()
                .find(|d| d.name == o.name && Kind::of_type(&d.backend) == Some(o.backend));
            let kept = records.current(o, changes).cloned();
            let record = async {
                match kept {
                    Some(r) => Some(r),
                    None => tokio::time::timeout(ASK_TIMEOUT, b.record(&o.id))
                        .await
                        .ok()
                        .and_then(Result::ok),
                }
            };
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
            let (record, usage) = tokio::join!(record, usage);
            let health = match (&record, wanted) {
                (Some(r), Some(d)) if o.running && r.live.running => {
                    probe::quick_health(d, &r.addresses).await
                }
                _ => None,
            };
            (
                key,
                Asked {
                    record,
                    usage,
                    health,
                },
            )
        })
        .buffer_unordered(PARALLEL_ASKS)
        .collect()
        .await
}

/// What `status` looks at first (swapped host folders, git repositories),
/// from the records already asked, and the quicker TCP probes
/// ([`probe::quick_health`]) of the containers whose addresses are known.
async fn look(
    paths: &Paths,
    prepared: &Prepared,
    backends: &Backends,
    observed: &mut Observed,
    asked: &HashMap<(Kind, String), Asked>,
    server: &str,
) -> crate::run::status::Looked {
    let binds: HashMap<String, Binds> = asked
        .iter()
        .filter_map(|((_, id), a)| Some((id.clone(), a.record.as_ref()?.binds.clone()?)))
        .collect();
    let swapped =
        crate::run::swapped::stop_swapped_with(backends, observed, server, &paths.state, &binds)
            .await;
    let desired = &prepared.desired;
    // A round must end well within the keys' lifetime: an unreachable git
    // host (docker+git) is not waited for as a run waits for it.
    let cred = crate::run::git_credentials(&prepared.cfg);
    let notes = match tokio::time::timeout(
        LOOK_TIMEOUT,
        crate::run::status::read_sources(desired, observed, &cred),
    )
    .await
    {
        Ok(notes) => notes,
        Err(_) => desired
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
    };
    // The quicker probes' answers, for the container each `d` finds.
    let health: HashMap<String, String> = desired
        .iter()
        .filter_map(|d| {
            let kind = Kind::of_type(&d.backend)?;
            let o = observed
                .containers
                .iter()
                .find(|c| c.backend == kind && c.name == d.name && c.is_ours(server))?;
            let h = asked.get(&(kind, o.id.clone()))?.health.clone()?;
            Some((d.name.clone(), h))
        })
        .collect();
    crate::run::status::Looked {
        notes,
        swapped,
        health,
    }
}

async fn collect_config(
    paths: &Paths,
    prepared: &Prepared,
    engines: Engines,
    records: &mut Records,
    time: SystemTime,
) -> Snapshot {
    let Prepared {
        cfg,
        desired,
        on_swarm,
        render_problem,
        ..
    } = prepared;
    let Engines {
        backends,
        mut observed,
        server,
    } = engines;
    let changes = records.changes(&backends, time).await;
    crate::timing::mark(&format!(
        "report: engines' events read ({} records kept; changed: {changes})",
        records.len()
    ));
    let asked = ask_all(&backends, &observed, &server, desired, (records, &changes)).await;
    records.keep(
        asked
            .iter()
            .filter_map(|(k, a)| Some((k.clone(), a.record.clone()?)))
            .collect(),
        time,
    );
    crate::timing::mark("report: records, usage and quick probes");
    let looked = look(paths, prepared, &backends, &mut observed, &asked, &server).await;
    let status =
        crate::run::status::gather_containers(paths, cfg, desired, &backends, &observed, looked)
            .await;
    crate::timing::mark("report: status gathered");
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
    let mut containers = Vec::new();
    for c in &status.containers {
        let found =
            c.id.as_ref()
                .and_then(|id| mine.get(&(c.backend.clone(), id.clone())).copied());
        let asked = found.and_then(|o| asked.get(&(o.backend, o.id.clone())));
        let live = asked.and_then(|a| a.record.as_ref()).map(|r| &r.live);
        let usage = asked.and_then(|a| a.usage.as_ref());
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
            cpu_seconds: usage.map(|u| u.cpu_seconds),
            cpu_percent: None,
            memory_bytes: usage.map(|u| u.memory_bytes),
            processes: usage.and_then(|u| u.processes),
            replicas: None,
        });
    }
    let mut problems: Vec<String> = status.engine.iter().cloned().collect();
    if *on_swarm {
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
        problems.push(e.clone());
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
