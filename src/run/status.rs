//! `status`: per container, what is wanted and what is, and the proxy.

use std::time::Duration;

use serde::Serialize;

use crate::backend::docker::DockerBackend;
use crate::backend::{Backend, Observed, short_id};
use crate::config::Config;
use crate::paths::Paths;
use crate::plan::launch::Launch;
use crate::proxy;

/// One container's line.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerStatus {
    pub name: String,
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
    /// None when the engine answered; else why it did not.
    pub engine: Option<String>,
    pub proxy: String,
    pub proxy_running: bool,
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

/// Gathers the status. `desired` are the launch plans of the configuration.
pub async fn gather(paths: &Paths, cfg: &Config, desired: &[Launch]) -> Status {
    let (observed, engine) = match DockerBackend::connect().await {
        Ok(b) => match b.inspect().await {
            Ok(o) => (o, None),
            Err(e) => (Observed::default(), Some(e.to_string())),
        },
        Err(e) => (Observed::default(), Some(e.to_string())),
    };
    let base = base_url(cfg);
    let mut containers = Vec::new();
    for d in desired {
        let c = observed.containers.iter().find(|c| c.name == d.name);
        let health = match c {
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
    let server = super::server_id(paths);
    for c in observed
        .containers
        .iter()
        .filter(|c| c.is_ours(&server) && !desired.iter().any(|d| d.name == c.name))
    {
        containers.push(ContainerStatus {
            name: c.name.clone(),
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
        proxy: proxy_text,
        proxy_running,
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
                "{:<20} {:<8} {:<10} {:<13} {:<40} {:<10} ROUTE",
                "NAME", "DESIRED", "ACTUAL", "ID", "IMAGE", "HEALTH"
            )?;
            for c in &self.containers {
                writeln!(
                    f,
                    "{:<20} {:<8} {:<10} {:<13} {:<40} {:<10} {}",
                    c.name,
                    c.desired,
                    c.actual,
                    c.id.as_deref().unwrap_or("-"),
                    c.image,
                    c.health,
                    c.route.as_deref().unwrap_or("-")
                )?;
            }
        }
        writeln!(f, "proxy: {}", self.proxy)
    }
}
