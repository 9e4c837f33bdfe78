//! `conteneur logs NAME`: a container's logs whatever its engine (Docker's
//! logs, an LXC container's console log, a snap's journal, the tasks of a
//! swarm service), with its draining `.old` instances when asked.

use std::io::Write;

use clap::Args;

use crate::backend::swarm::SwarmBackend;
use crate::backend::{Backends, LogRequest};
use crate::exit::{EXIT_PROBLEMS, EXIT_RUN_FAILED, EXIT_USAGE, Failure};
use crate::paths::Paths;
use crate::plan::observed::ObservedContainer;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The container (its configured name).
    pub name: String,
    /// Keep printing as it writes (until it stops, or Ctrl-C).
    #[arg(long, short)]
    pub follow: bool,
    /// Only what it wrote since then: a time (2026-12-07T10:00:00Z), a date
    /// or a duration before now (10m, 2h). An LXC console has no times:
    /// all of it is printed.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
    /// Also the replaced instances still draining (NAME.old.ID).
    #[arg(long)]
    pub old: bool,
}

/// What logs are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Container(ObservedContainer),
    /// A swarm service: its id and name.
    Service {
        id: String,
        name: String,
    },
}

impl Source {
    fn label(&self) -> String {
        match self {
            Source::Container(c) => c.name.clone(),
            Source::Service { name, .. } => format!("{name} (swarm)"),
        }
    }
}

/// The containers of `name` among `containers` of this server: the
/// current one, the draining ones when `old` (never a half-made `.next`).
pub fn pick<'a>(
    containers: &'a [ObservedContainer],
    server: &str,
    name: &str,
    old: bool,
) -> Vec<&'a ObservedContainer> {
    let mut v: Vec<&ObservedContainer> = containers
        .iter()
        .filter(|c| c.is_ours(server))
        .filter(|c| c.conf_name() == Some(name) || c.name == name)
        .filter(|c| !c.is_next() && (old || !c.is_old()))
        .collect();
    // The draining ones first: they are the older logs.
    v.sort_by_key(|c| !c.is_old());
    v
}

pub fn cmd_logs(paths: &Paths, a: LogsArgs) -> Result<u8, Failure> {
    let since = match &a.since {
        Some(s) => {
            let t = crate::audit::parse_since(s, std::time::SystemTime::now()).map_err(|e| {
                Failure {
                    code: EXIT_USAGE,
                    message: e.to_string(),
                }
            })?;
            let secs = t
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            Some(i64::try_from(secs).unwrap_or(i64::MAX))
        }
        None => None,
    };
    let request = LogRequest {
        follow: a.follow,
        since,
        tail: a.tail,
    };
    let rt = crate::run::cli::runtime()?;
    rt.block_on(logs(paths, &a, &request))
}

async fn logs(paths: &Paths, a: &LogsArgs, request: &LogRequest) -> Result<u8, Failure> {
    let server = crate::paths::server_id(paths);
    let mut backends = Backends::connect(&paths.state).await;
    let observed = backends.inspect().await;
    let mut sources: Vec<Source> = pick(&observed.containers, &server, &a.name, a.old)
        .into_iter()
        .cloned()
        .map(Source::Container)
        .collect();
    let swarm = SwarmBackend::connect().await.ok();
    if let Some(s) = &swarm
        && let Ok(o) = s.observe(&server).await
    {
        for svc in o.services.iter().filter(|svc| svc.is_ours(&server)) {
            let conf = svc.labels.get(crate::plan::observed::labels::NAME);
            if conf.map(String::as_str) == Some(a.name.as_str()) || svc.name == a.name {
                sources.push(Source::Service {
                    id: svc.id.clone(),
                    name: svc.name.clone(),
                });
            }
        }
    }
    if sources.is_empty() {
        let down: Vec<String> = crate::plan::observed::Kind::ALL
            .iter()
            .filter_map(|k| backends.unreachable(*k).map(|e| format!("{k}: {e}")))
            .collect();
        return Err(Failure {
            code: EXIT_PROBLEMS,
            message: format!(
                "no container '{}' of this server on any engine (`conteneur status` lists them){}{}",
                a.name,
                if a.old {
                    ""
                } else {
                    "; --old adds the draining ones"
                },
                if down.is_empty() {
                    String::new()
                } else {
                    format!("; engines not reachable: {}", down.join("; "))
                }
            ),
        });
    }
    let several = sources.len() > 1;
    let backends = &backends;
    let swarm = swarm.as_ref();
    // Followed together; else one after the other, the oldest first.
    let one = |src: Source| async move {
        let label = src.label();
        let prefix = if several {
            format!("{label} | ")
        } else {
            String::new()
        };
        let sink = move |err: bool, bytes: &[u8]| write_prefixed(err, &prefix, bytes);
        let r = match &src {
            Source::Container(c) => match backends.require(c.backend) {
                Ok(b) => b.logs(&c.id, request, &sink).await,
                Err(e) => Err(e),
            },
            Source::Service { id, .. } => match swarm {
                Some(s) => s.service_logs(id, request, &sink).await,
                None => Ok(()),
            },
        };
        r.map_err(|e| format!("{label}: {e}"))
    };
    let results: Vec<Result<(), String>> = if request.follow {
        futures_util::future::join_all(sources.into_iter().map(one)).await
    } else {
        let mut v = Vec::new();
        for s in sources {
            v.push(one(s).await);
        }
        v
    };
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(Failure {
            code: EXIT_RUN_FAILED,
            message: errors.join("; "),
        })
    }
}

/// Writes `bytes` to stdout or stderr, each line after `prefix`.
fn write_prefixed(err: bool, prefix: &str, bytes: &[u8]) {
    let mut text = Vec::with_capacity(bytes.len() + prefix.len());
    if prefix.is_empty() {
        text.extend_from_slice(bytes);
    } else {
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            text.extend_from_slice(prefix.as_bytes());
            text.extend_from_slice(line);
        }
    }
    // A closed pipe (`logs | head`) is not an error worth a panic.
    let _ = if err {
        std::io::stderr().lock().write_all(&text)
    } else {
        std::io::stdout().lock().write_all(&text)
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::observed::{Kind, labels};

    fn c(name: &str, conf: &str, server: &str) -> ObservedContainer {
        let mut l = BTreeMap::new();
        l.insert(labels::MANAGED.to_string(), "true".to_string());
        l.insert(labels::SERVER.to_string(), server.to_string());
        l.insert(labels::NAME.to_string(), conf.to_string());
        ObservedContainer {
            backend: Kind::Docker,
            id: format!("id-{name}"),
            name: name.into(),
            labels: l,
            running: true,
            state: "running".into(),
            image: "img:1".into(),
            image_id: "sha256:1".into(),
        }
    }

    #[test]
    fn pick_takes_ours_and_the_draining_ones_only_when_asked() {
        let all = vec![
            c("web", "web", "/srv"),
            c("web.old.abc", "web", "/srv"),
            c("web.next", "web", "/srv"),
            c("web", "web", "/other"),
            c("db", "db", "/srv"),
        ];
        let names =
            |v: Vec<&ObservedContainer>| v.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(pick(&all, "/srv", "web", false)), ["web"]);
        assert_eq!(
            names(pick(&all, "/srv", "web", true)),
            ["web.old.abc", "web"]
        );
        assert!(pick(&all, "/srv", "nope", true).is_empty());
    }
}
