//! `status`: per container, what is wanted and what is, and the proxy.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::backend::Backends;
use crate::config::Config;
use crate::paths::Paths;
use crate::plan::launch::Launch;
use crate::plan::observed::{Kind, Observed, ObservedContainer, short_id};
use crate::plan::{self, Action};
use crate::proxy;
use crate::template::{Action as TemplateAction, Rendered};

/// Health probes run at the same time. A probe is one connection to
/// 127.0.0.1 held at most [`PROBE_TIMEOUT`]; a TCP probe of a healthy
/// server that does not speak first takes its whole 300 ms wait, so the
/// rounds, not the work, make the time: 256 at once make 200 containers one
/// round (0.3 s, not 60 s one by one), and stay well below the usual limit
/// of 1024 open files.
pub const PARALLEL_PROBES: usize = 256;

/// How long one container has to answer its health probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// One container's line.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerStatus {
    pub name: String,
    /// The engine it runs on (or must run on).
    pub backend: String,
    /// `running` when configured, `absent` when it should not exist.
    pub desired: String,
    /// The engine's state, or `missing`.
    pub actual: String,
    pub id: Option<String>,
    /// The image the container runs (as the engine says), or the one it
    /// must run when there is none.
    pub image: String,
    /// The image the configuration asks for (empty for a container that
    /// should not exist).
    pub wanted: String,
    /// What differs from the configuration and what the next `reconfigure`
    /// will do about it; None when the container is as configured.
    pub drift: Option<String>,
    /// healthy, unhealthy (with why), or unknown (not running).
    pub health: String,
    /// Its address through the web front, if published.
    pub route: Option<String>,
    /// Where its ports really are: `port_out→host port` (nginx forwards
    /// `port_out` there).
    pub ports: Option<String>,
    /// What status could not find out, and what it did instead (a
    /// docker+git repository that could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What keeps it from serving that its engine knows (an LXC port
    /// forwarder that cannot accept connections now): not as wanted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trouble: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub containers: Vec<ContainerStatus>,
    /// None when every engine the configuration needs answered; else why
    /// they did not.
    pub engine: Option<String>,
    /// Every engine of the machine: `ok`, or why it cannot be used.
    pub engines: BTreeMap<String, String>,
    pub proxy: String,
    pub proxy_running: bool,
    /// Why no plan could be made (a name clash…): the next run would fail.
    pub plan_error: Option<String>,
    /// Files whose content is not what the configuration renders (a
    /// change not applied yet, or a live nginx site that is not the staged
    /// one).
    pub files_not_applied: Vec<String>,
    /// The named volumes conteneur created for this server: kept when
    /// their containers go.
    pub volumes: Vec<VolumeStatus>,
    /// Containers stopped because a host folder of theirs no longer leads
    /// where it did (see [`super::swapped`]).
    pub swapped: Vec<String>,
}

impl Status {
    /// Everything as wanted: every engine answered, every container runs
    /// what is configured and is healthy, nothing is left to apply, and the
    /// proxy runs. Anything else is exit 8.
    pub fn all_well(&self) -> bool {
        self.engine.is_none()
            && self.swapped.is_empty()
            && self.plan_error.is_none()
            && self.files_not_applied.is_empty()
            && self.proxy_running
            && self.containers.iter().all(|c| {
                let draining = c.desired == "draining" && c.drift.is_none();
                (draining || (c.desired == "running" && c.health == "healthy"))
                    && c.actual == "running"
                    && c.drift.is_none()
                    && c.trouble.is_none()
            })
    }
}

/// A named volume of ours.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeStatus {
    pub name: String,
    pub backend: String,
    /// The configured containers that mount it (none: kept, unused).
    pub used_by: Vec<String>,
}

/// Our named volumes and who uses them.
fn volumes(observed: &Observed, server: &str, desired: &[Launch]) -> Vec<VolumeStatus> {
    observed
        .volumes
        .iter()
        .filter(|v| v.is_ours(server))
        .map(|v| VolumeStatus {
            name: v.name.clone(),
            backend: v.backend.name().to_string(),
            used_by: desired
                .iter()
                .filter(|d| {
                    d.mounts.iter().any(|m| {
                        m.kind == crate::plan::launch::MountKind::Volume && m.host == v.name
                    })
                })
                .map(|d| d.name.clone())
                .collect(),
        })
        .collect()
}

/// The base URL containers are published under.
pub fn base_url(cfg: &Config) -> String {
    let host = cfg
        .first("conteneur_server_name")
        .unwrap_or_else(|| "localhost".into());
    let https = cfg.first("conteneur_https").as_deref() == Some("oui");
    if https {
        let port = cfg
            .first("conteneur_https_port")
            .unwrap_or_else(|| "443".into());
        if port == "443" {
            format!("https://{host}")
        } else {
            format!("https://{host}:{port}")
        }
    } else {
        let port = cfg
            .first("conteneur_http_port")
            .unwrap_or_else(|| "80".into());
        if port == "80" {
            format!("http://{host}")
        } else {
            format!("http://{host}:{port}")
        }
    }
}

/// The container of `d` among ours: on the engine it must run on first.
fn find<'a>(observed: &'a Observed, server: &str, d: &Launch) -> Option<&'a ObservedContainer> {
    let kind = Kind::of_type(&d.backend);
    let mut mine: Vec<&ObservedContainer> = observed
        .containers
        .iter()
        // The name first: it is cheap, and rules out all but one or two
        // (200 containers: 40 000 label lookups a status otherwise).
        .filter(|c| c.name == d.name && c.is_ours(server))
        .collect();
    mine.sort_by_key(|c| Some(c.backend) != kind);
    mine.first().copied()
}

/// The verb of a step, as `plan` prints it.
fn verb(a: &Action) -> &'static str {
    match a {
        Action::Pull { .. } => "pull",
        Action::Build { .. } => "build",
        Action::Create { .. } => "create",
        Action::Replace { .. } => "replace",
        Action::Start { .. } => "start",
        Action::Remove { .. } => "remove",
        Action::Leave { .. } => "leave",
        Action::CreateNetwork { .. } => "create network",
        Action::RemoveNetwork { .. } => "remove network",
    }
}

/// The files `rendered` would change, and the live nginx site when it is
/// not the staged one.
pub fn files_not_applied(paths: &Paths, cfg: &Config, rendered: &[Rendered]) -> Vec<String> {
    let mut out: Vec<String> = rendered
        .iter()
        .filter(|r| match &r.action {
            TemplateAction::Write(text) => {
                std::fs::read(&r.dest).ok().as_deref() != Some(text.as_bytes())
            }
            TemplateAction::Remove => r.dest.exists(),
            TemplateAction::Keep(_) => false,
        })
        .map(|r| r.dest.display().to_string())
        .collect();
    if let Ok(mode) = proxy::Mode::from_config(cfg) {
        let staged = proxy::staged_site(paths);
        let live = proxy::Layout::new(paths, mode).site;
        if staged.exists() && std::fs::read(&staged).ok() != std::fs::read(&live).ok() {
            out.push(live.display().to_string());
        }
    }
    out
}

/// Gathers the status. `desired` are the launch plans of the configuration,
/// `rendered` its files (empty when they cannot be rendered).
pub async fn gather(
    paths: &Paths,
    cfg: &Config,
    desired: &[Launch],
    rendered: &[Rendered],
) -> Status {
    let mut backends = Backends::connect(&paths.state).await;
    let mut observed = backends.inspect().await;
    let looked = look(paths, cfg, desired, &backends, &mut observed).await;
    gather_with(paths, cfg, desired, rendered, &backends, &observed, looked).await
}

/// What `status` finds in a fresh snapshot before it reports, and the
/// reporter (`conteneur watch`) too: the containers whose host folder was
/// swapped for a link (stopped, see [`super::swapped`]), and where the git
/// tags of docker+git containers point (read into `observed`; notes for
/// those that could not be read, see [`read_sources`]).
pub struct Looked {
    pub notes: HashMap<String, String>,
    pub swapped: Vec<String>,
    /// Health already found (container → health), not probed again: the
    /// reporter's quicker look (`report::probe`).
    pub health: HashMap<String, String>,
}

/// See [`Looked`].
pub async fn look(
    paths: &Paths,
    cfg: &Config,
    desired: &[Launch],
    backends: &Backends,
    observed: &mut Observed,
) -> Looked {
    let server = super::server_id(paths);
    // The drain journal: a draining instance is as wanted until it is due.
    observed.draining = super::drain::draining(paths);
    let swapped = super::swapped::stop_swapped(backends, observed, &server, &paths.state).await;
    let notes = read_sources(desired, observed, &super::git_credentials(cfg)).await;
    Looked {
        notes,
        swapped,
        health: HashMap::new(),
    }
}

/// [`gather`] from engines already connected and a snapshot already taken
/// (and looked at: [`look`]).
pub async fn gather_with(
    paths: &Paths,
    cfg: &Config,
    desired: &[Launch],
    rendered: &[Rendered],
    backends: &Backends,
    observed: &Observed,
    looked: Looked,
) -> Status {
    let mut status = gather_containers(paths, cfg, desired, backends, observed, looked).await;
    status.files_not_applied = files_not_applied(paths, cfg, rendered);
    (status.proxy, status.proxy_running) =
        match proxy::Mode::from_config(cfg).and_then(|m| proxy::status(paths, m)) {
            Ok(s) => (
                s.to_string().trim_end().replace('\n', "; "),
                s.pid.is_some(),
            ),
            Err(e) => (e.to_string(), false),
        };
    status
}

/// [`gather_with`] without the files and the web front (empty in the
/// answer): the containers, the engines and the plan's drift. The
/// reporter, `conteneur watch`, reads that much at every round, from the
/// snapshot it reads for more; the web front's status scans every process
/// of the machine for nginx orphans.
pub async fn gather_containers(
    paths: &Paths,
    cfg: &Config,
    desired: &[Launch],
    backends: &Backends,
    observed: &Observed,
    looked: Looked,
) -> Status {
    let Looked {
        notes,
        swapped,
        health: known,
    } = looked;
    let server = super::server_id(paths);
    let mut problems = Vec::new();
    let mut engines = BTreeMap::new();
    let needed = crate::plan::kinds_needed(desired);
    for kind in Kind::ALL {
        match backends.unreachable(kind) {
            Some(e) => {
                engines.insert(kind.name().to_string(), e.to_string());
                if needed.contains_key(&kind) {
                    problems.push(e.to_string());
                }
            }
            None => {
                engines.insert(kind.name().to_string(), "ok".to_string());
            }
        }
    }
    let engine = (!problems.is_empty()).then(|| problems.join("; "));
    let base = base_url(cfg);
    // What the next run would do, per container: the drift from what is
    // configured. Without an engine there is nothing to compare with.
    let (drifts, plan_error) = if engine.is_some() {
        (HashMap::new(), None)
    } else {
        // The saved key: with a fresh one every container would look changed.
        let key = super::label_key::load(paths).map(|l| l.key);
        match key.map_err(|e| e.to_string()).and_then(|key| {
            plan::reconcile(
                desired,
                observed,
                &super::plan_options(cfg, paths, false, &key),
            )
            .map_err(|e| e.to_string())
        }) {
            Ok(p) => (
                p.steps
                    .iter()
                    .filter(|s| !matches!(s.action, Action::Leave { .. }))
                    .filter_map(|s| {
                        let name = s.action.container()?.to_string();
                        Some((name, format!("{}: {}", verb(&s.action), s.cause)))
                    })
                    .collect::<HashMap<String, String>>(),
                None,
            ),
            Err(e) => (HashMap::new(), Some(e)),
        }
    };
    // Every probe at once, with a bound; `buffered` keeps the order.
    let found: Vec<Option<&ObservedContainer>> =
        desired.iter().map(|d| find(observed, &server, d)).collect();
    let known = &known;
    let healths: Vec<String> = stream::iter(desired.iter().zip(&found))
        .map(|(d, c)| async move {
            if let Some(h) = known.get(&d.name) {
                return h.clone();
            }
            match c {
                // An in-container check: the engine's word.
                Some(c) if c.running && d.health.command.is_some() => {
                    engine_health(backends.get(c.backend), &c.id).await
                }
                Some(c) if c.running => match tokio::time::timeout(PROBE_TIMEOUT, probe(d)).await {
                    Ok(Ok(())) => "healthy".to_string(),
                    Ok(Err(e)) => format!("unhealthy: {e}"),
                    Err(_) => format!("unhealthy: no answer within {} s", PROBE_TIMEOUT.as_secs()),
                },
                _ => "unknown".to_string(),
            }
        })
        .buffered(PARALLEL_PROBES)
        .collect()
        .await;
    let mut containers = Vec::new();
    for ((d, c), health) in desired.iter().zip(&found).zip(healths) {
        let wanted = format!("{}:{}", d.image, d.tag);
        containers.push(ContainerStatus {
            name: d.name.clone(),
            backend: c
                .map(|c| c.backend.name().to_string())
                .unwrap_or_else(|| d.backend.clone()),
            desired: "running".into(),
            actual: c
                .map(|c| c.state.clone())
                .unwrap_or_else(|| "missing".into()),
            id: c.map(|c| short_id(&c.id).to_string()),
            image: c.map(running_image).unwrap_or_else(|| wanted.clone()),
            wanted,
            drift: drifts.get(&d.name).cloned(),
            health,
            route: (d.publish && !d.ports.is_empty()).then(|| format!("{base}/{}/", d.name)),
            ports: c.and_then(|c| c.host_ports()).map(|p| p.display()),
            note: notes.get(&d.name).cloned(),
            trouble: c.and_then(|c| backends.get(c.backend)?.trouble(&c.id)),
        });
    }
    // Ours, and the container of no configured one.
    for c in observed
        .containers
        .iter()
        .filter(|c| c.is_ours(&server) && !found.contains(&Some(*c)))
    {
        containers.push(ContainerStatus {
            name: c.name.clone(),
            backend: c.backend.name().to_string(),
            // A replaced one, drained before it goes.
            desired: if c.is_old() { "draining" } else { "absent" }.into(),
            actual: c.state.clone(),
            id: Some(short_id(&c.id).to_string()),
            image: running_image(c),
            wanted: String::new(),
            // A drain with time left is as wanted (the plan leaves it).
            drift: match drifts.get(&c.name) {
                Some(d) => Some(d.clone()),
                None if c.is_old() && observed.draining.get(&c.id).is_some_and(|l| *l > 0) => None,
                None => Some("remove: no longer configured".into()),
            },
            // The drain journal's word (the plan leaves it until due).
            health: match observed.draining.get(&c.id) {
                Some(left) if c.is_old() && c.running && *left > 0 => {
                    format!("draining, {left} s left")
                }
                _ => "unknown".into(),
            },
            route: None,
            ports: c.host_ports().map(|p| p.display()),
            note: None,
            trouble: None,
        });
    }
    Status {
        containers,
        engine,
        engines,
        proxy: String::new(),
        proxy_running: false,
        plan_error,
        files_not_applied: Vec::new(),
        volumes: volumes(observed, &server, desired),
        swapped,
    }
}

/// Where the git tags of the docker+git containers point now, read as a
/// run reads them, into `observed`. A repository that cannot be read does
/// not fail the status: its container is compared with the commit its
/// image was built from, and a note says why (container → note).
pub(crate) async fn read_sources(
    desired: &[Launch],
    observed: &mut Observed,
    cred: &crate::converge::GitCredentials,
) -> HashMap<String, String> {
    let mut notes = HashMap::new();
    for (d, commit) in super::read_sources(desired, observed, cred).await {
        let key = (d.repository.clone(), d.tag.clone());
        let commit = match commit {
            Ok(c) => Some(c),
            Err(e) => {
                let built = observed
                    .image(Kind::Docker, &format!("{}:{}", d.image, d.tag))
                    .and_then(|i| i.labels.get(crate::plan::observed::labels::GIT_COMMIT))
                    .cloned();
                notes.insert(
                    d.name.clone(),
                    format!(
                        "the repository was not read ({e}): {}",
                        if built.is_some() {
                            "compared with the commit its image was built from"
                        } else {
                            "no image of it was built yet"
                        }
                    ),
                );
                built
            }
        };
        if let Some(c) = commit {
            observed.sources.insert(key, c);
        }
    }
    notes
}

/// The image a container runs, as its engine reports it; the plan label's
/// image and tag when the engine gives only an id (a tag since moved).
fn running_image(c: &ObservedContainer) -> String {
    if !c.image.is_empty() && !c.image.starts_with("sha256:") {
        return c.image.clone();
    }
    c.labels
        .get(crate::plan::observed::labels::PLAN)
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .and_then(|v| {
            Some(format!(
                "{}:{}",
                v.get("image")?.as_str()?,
                v.get("tag")?.as_str()?
            ))
        })
        .unwrap_or_else(|| c.image.clone())
}

/// The engine's health status of a container with an in-container check.
async fn engine_health(b: Option<&dyn crate::backend::Backend>, id: &str) -> String {
    let Some(b) = b else {
        return "unknown".into();
    };
    match tokio::time::timeout(PROBE_TIMEOUT, b.health(id)).await {
        Ok(Ok(Some((status, _)))) if status == "healthy" => status,
        Ok(Ok(Some((status, output)))) if output.is_empty() => status,
        Ok(Ok(Some((status, output)))) => format!("{status}: {output}"),
        Ok(Ok(None)) => "unknown: the engine runs no health check".into(),
        Ok(Err(e)) => format!("unknown: {e}"),
        Err(_) => format!("unknown: no answer within {} s", PROBE_TIMEOUT.as_secs()),
    }
}

async fn probe(d: &Launch) -> Result<(), String> {
    match (&d.health.path, d.health.port) {
        (_, None) => Ok(()),
        (Some(path), Some(port)) => crate::converge::http_probe(port, path).await,
        (None, Some(port)) => crate::converge::tcp_probe(port).await,
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(e) = &self.engine {
            writeln!(f, "engine: {e}")?;
        }
        if self.containers.is_empty() {
            writeln!(f, "no container is configured or running")?;
        } else {
            writeln!(
                f,
                "{:<20} {:<10} {:<8} {:<10} {:<13} {:<40} {:<10} ROUTE",
                "NAME", "ENGINE", "DESIRED", "ACTUAL", "ID", "IMAGE", "HEALTH"
            )?;
            for c in &self.containers {
                writeln!(
                    f,
                    "{:<20} {:<10} {:<8} {:<10} {:<13} {:<40} {:<10} {}",
                    c.name,
                    c.backend,
                    c.desired,
                    c.actual,
                    c.id.as_deref().unwrap_or("-"),
                    c.image,
                    c.health,
                    c.route.as_deref().unwrap_or("-")
                )?;
                if let Some(p) = c.ports.as_deref().filter(|p| !p.is_empty()) {
                    writeln!(f, "{:<20} host ports: {p}", "")?;
                }
                if let Some(n) = &c.note {
                    writeln!(f, "{:<20} note: {n}", "")?;
                }
                if let Some(t) = &c.trouble {
                    writeln!(f, "{:<20} trouble: {t}", "")?;
                }
            }
        }
        let drifts: Vec<&ContainerStatus> = self
            .containers
            .iter()
            .filter(|c| c.drift.is_some())
            .collect();
        if !drifts.is_empty() {
            writeln!(f, "not as configured (`reconfigure` applies it):")?;
            for c in drifts {
                let runs = if c.wanted.is_empty() || c.wanted == c.image {
                    String::new()
                } else {
                    format!("runs {}, configured {}; ", c.image, c.wanted)
                };
                writeln!(
                    f,
                    "  {}: {runs}{}",
                    c.name,
                    c.drift.as_deref().unwrap_or_default()
                )?;
            }
        }
        if !self.files_not_applied.is_empty() {
            writeln!(
                f,
                "files not as configured (`reconfigure` writes them): {}",
                self.files_not_applied.join(", ")
            )?;
        }
        for s in &self.swapped {
            writeln!(f, "host folder swapped: {s}")?;
        }
        if let Some(e) = &self.plan_error {
            writeln!(f, "the next run would fail: {e}")?;
        }
        for v in &self.volumes {
            if v.used_by.is_empty() {
                writeln!(
                    f,
                    "volume {} on {}: kept, used by no container",
                    v.name, v.backend
                )?;
            } else {
                writeln!(
                    f,
                    "volume {} on {}: used by {}",
                    v.name,
                    v.backend,
                    v.used_by.join(", ")
                )?;
            }
        }
        writeln!(f, "proxy: {}", self.proxy)
    }
}
