//! `status`: per container, what is wanted and what is, and the proxy.

use std::time::Duration;

use serde::Serialize;

use std::collections::BTreeMap;

use crate::backend::{Backends, Kind, Observed, ObservedContainer, short_id};
use crate::config::Config;
use crate::paths::Paths;
use crate::plan::launch::Launch;
use crate::proxy;

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
    pub image: String,
    /// healthy, unhealthy (with why), or unknown (not running).
    pub health: String,
    /// Its address through the web front, if published.
    pub route: Option<String>,
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
    /// The named volumes conteneur created for this server: kept when
    /// their containers go.
    pub volumes: Vec<VolumeStatus>,
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

fn var(cfg: &Config, name: &str) -> Option<String> {
    cfg.get(name)
        .ok()
        .and_then(|v| v.first().map(str::to_string))
}

/// The base URL containers are published under.
pub fn base_url(cfg: &Config) -> String {
    let host = var(cfg, "conteneur_server_name").unwrap_or_else(|| "localhost".into());
    let https = var(cfg, "conteneur_https").as_deref() == Some("oui");
    if https {
        let port = var(cfg, "conteneur_https_port").unwrap_or_else(|| "443".into());
        if port == "443" {
            format!("https://{host}")
        } else {
            format!("https://{host}:{port}")
        }
    } else {
        let port = var(cfg, "conteneur_http_port").unwrap_or_else(|| "80".into());
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
        .filter(|c| c.is_ours(server) && c.name == d.name)
        .collect();
    mine.sort_by_key(|c| Some(c.backend) != kind);
    mine.first().copied()
}

/// Gathers the status. `desired` are the launch plans of the configuration.
pub async fn gather(paths: &Paths, cfg: &Config, desired: &[Launch]) -> Status {
    let mut backends = Backends::connect(&paths.state).await;
    let observed = backends.inspect().await;
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
    let server = super::server_id(paths);
    let base = base_url(cfg);
    let mut containers = Vec::new();
    for d in desired {
        let c = find(&observed, &server, d);
        let health = match c {
            // An in-container check: the engine's word.
            Some(c) if c.running && d.health.command.is_some() => {
                match backends.get(c.backend).map(|b| b.health(&c.id)) {
                    Some(h) => match h.await {
                        Ok(Some((status, _))) if status == "healthy" => status,
                        Ok(Some((status, output))) => format!("{status}: {output}"),
                        Ok(None) => "unknown: the engine runs no health check".into(),
                        Err(e) => format!("unknown: {e}"),
                    },
                    None => "unknown".into(),
                }
            }
            Some(c) if c.running => {
                match tokio::time::timeout(Duration::from_secs(3), probe(d)).await {
                    Ok(Ok(())) => "healthy".to_string(),
                    Ok(Err(e)) => format!("unhealthy: {e}"),
                    Err(_) => "unhealthy: no answer within 3 s".to_string(),
                }
            }
            _ => "unknown".to_string(),
        };
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
            image: format!("{}:{}", d.image, d.tag),
            health,
            route: (d.publish && !d.ports.is_empty()).then(|| format!("{base}/{}/", d.name)),
        });
    }
    for c in observed.containers.iter().filter(|c| {
        c.is_ours(&server)
            && !desired
                .iter()
                .any(|d| d.name == c.name && find(&observed, &server, d) == Some(*c))
    }) {
        containers.push(ContainerStatus {
            name: c.name.clone(),
            backend: c.backend.name().to_string(),
            desired: "absent".into(),
            actual: c.state.clone(),
            id: Some(short_id(&c.id).to_string()),
            image: c.image.clone(),
            health: "unknown".into(),
            route: None,
        });
    }
    let (proxy_text, proxy_running) =
        match proxy::Mode::from_config(cfg).and_then(|m| proxy::status(paths, m)) {
            Ok(s) => (
                s.to_string().trim_end().replace('\n', "; "),
                s.pid.is_some(),
            ),
            Err(e) => (e.to_string(), false),
        };
    Status {
        containers,
        engine,
        engines,
        proxy: proxy_text,
        proxy_running,
        volumes: volumes(&observed, &server, desired),
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
            }
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
