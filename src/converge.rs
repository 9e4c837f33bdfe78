//! The executor: carries out a [`Plan`] on a backend. It takes no decision
//! of its own; it only knows how to do each step safely:
//!
//! - pulls come first, all of them, in parallel with a bound; one failed
//!   pull stops the run before any container is touched;
//! - a changed container is replaced without being lost: the new one is
//!   created beside it (`NAME.next`), the old one stopped, the new one
//!   started and waited for until healthy, and only then is the old one
//!   removed and the new one renamed. On any failure the new one goes and
//!   the old one is started again;
//! - containers converge in parallel, at most `parallel` at a time; each
//!   container's change is all or nothing, and every failure is reported.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use http_body_util::Empty;
use hyper::body::Bytes;
use tokio::net::TcpStream;

use crate::backend::{Backend, BackendError, HostMount, Progress};
use crate::plan::launch::{Health, Launch, MountKind};
use crate::plan::{Action, Plan, container_labels, next_name};

/// How the executor works.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This server's identity, set as a label on its containers.
    pub server: String,
    /// Containers (and pulls) handled at the same time.
    pub parallel: usize,
    /// How long a started container has to become healthy.
    pub health_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: String::new(),
            parallel: 4,
            health_timeout: Duration::from_secs(30),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub pulled: Vec<String>,
    pub created: Vec<String>,
    pub replaced: Vec<String>,
    pub started: Vec<String>,
    pub removed: Vec<String>,
    pub left: Vec<String>,
}

/// Why a run failed. What could be kept running was.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConvergeError {
    #[error("{0}; no container was changed")]
    Pull(BackendError),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Containers(Vec<ContainerFailure>),
    #[error("container '{name}': cannot create the host folder {path}: {message}")]
    Folder {
        name: String,
        path: String,
        message: String,
    },
}

/// One container that could not converge, and what became of it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("container '{name}': {cause}{}", if *.restored { "; the previous container was started again and keeps serving" } else { "" })]
pub struct ContainerFailure {
    pub name: String,
    pub cause: String,
    /// The previous container runs again.
    pub restored: bool,
}

/// The engine-side mounts of a launch: bind folders under `root`, created
/// if missing; volume names as they are.
pub fn host_mounts(launch: &Launch, root: &Path) -> Result<Vec<HostMount>, ConvergeError> {
    let mut out = Vec::new();
    for m in &launch.mounts {
        match m.kind {
            MountKind::Volume => out.push(HostMount {
                host: m.host.clone(),
                container: m.container.clone(),
                bind: false,
            }),
            MountKind::Bind => {
                let path = root.join(m.host.trim_start_matches('/'));
                std::fs::create_dir_all(&path).map_err(|e| ConvergeError::Folder {
                    name: launch.name.clone(),
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                out.push(HostMount {
                    host: path.display().to_string(),
                    container: m.container.clone(),
                    bind: true,
                });
            }
        }
    }
    Ok(out)
}

/// Carries out `plan`. `desired` holds the launch plans the plan refers to;
/// `images` the image ids already known (reference → id).
pub async fn execute(
    plan: &Plan,
    desired: &[Launch],
    images: &HashMap<String, String>,
    backend: &dyn Backend,
    root: &Path,
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<Report, ConvergeError> {
    let parallel = settings.parallel.max(1);
    let mut report = Report::default();
    let mut images = images.clone();

    // 1. Every pull, before any container is touched.
    let pulls: Vec<(String, String)> = plan
        .pulls()
        .map(|(i, t)| (i.to_string(), t.to_string()))
        .collect();
    let results: Vec<(String, Result<String, BackendError>)> = stream::iter(pulls)
        .map(|(image, tag)| async move {
            let r = backend.prepare(&image, &tag, progress).await;
            (format!("{image}:{tag}"), r)
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    for (reference, r) in results {
        match r {
            Ok(id) => {
                images.insert(reference.clone(), id);
                report.pulled.push(reference);
            }
            Err(e) => return Err(ConvergeError::Pull(e)),
        }
    }

    // 2. Leftovers of an interrupted run, which hold the `.next` names.
    for step in &plan.steps {
        if let Action::Remove { name, id } = &step.action
            && name.ends_with(crate::backend::NEXT_SUFFIX)
        {
            let _ = backend.stop(id, 1).await;
            if let Err(e) = backend.remove(id).await {
                return Err(ConvergeError::Containers(vec![ContainerFailure {
                    name: name.clone(),
                    cause: e.to_string(),
                    restored: false,
                }]));
            }
        }
    }

    // 3. Containers, in parallel with a bound.
    let by_name: HashMap<&str, &Launch> = desired.iter().map(|l| (l.name.as_str(), l)).collect();
    let images = &images;
    let jobs = plan.steps.iter().filter(|s| {
        !matches!(&s.action, Action::Pull { .. })
            && !matches!(&s.action, Action::Remove { name, .. } if name.ends_with(crate::backend::NEXT_SUFFIX))
    });
    let outcomes: Vec<Result<(Action, String), ContainerFailure>> = stream::iter(jobs)
        .map(|step| {
            let by_name = &by_name;
            async move {
                let name = match &step.action {
                    Action::Create { name }
                    | Action::Replace { name, .. }
                    | Action::Start { name, .. }
                    | Action::Remove { name, .. }
                    | Action::Leave { name, .. } => name.clone(),
                    Action::Pull { .. } => String::new(),
                };
                let launch = by_name.get(name.as_str()).copied();
                let r = run_step(&step.action, launch, images, backend, root, settings).await;
                r.map(|()| (step.action.clone(), name))
            }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    let mut failures = Vec::new();
    for o in outcomes {
        match o {
            Ok((action, name)) => match action {
                Action::Create { .. } => report.created.push(name),
                Action::Replace { .. } => report.replaced.push(name),
                Action::Start { .. } => report.started.push(name),
                Action::Remove { .. } => report.removed.push(name),
                Action::Leave { .. } => report.left.push(name),
                Action::Pull { .. } => {}
            },
            Err(f) => failures.push(f),
        }
    }
    if failures.is_empty() {
        Ok(report)
    } else {
        failures.sort_by(|a, b| a.name.cmp(&b.name));
        Err(ConvergeError::Containers(failures))
    }
}

async fn run_step(
    action: &Action,
    launch: Option<&Launch>,
    images: &HashMap<String, String>,
    backend: &dyn Backend,
    root: &Path,
    settings: &Settings,
) -> Result<(), ContainerFailure> {
    let fail = |name: &str, cause: String, restored: bool| ContainerFailure {
        name: name.to_string(),
        cause,
        restored,
    };
    match action {
        Action::Pull { .. } | Action::Leave { .. } => Ok(()),
        Action::Remove { name, id } => {
            let timeout = 10;
            backend
                .stop(id, timeout)
                .await
                .map_err(|e| fail(name, e.to_string(), false))?;
            backend
                .remove(id)
                .await
                .map_err(|e| fail(name, e.to_string(), false))
        }
        Action::Start { name, id } => {
            let Some(launch) = launch else {
                return Err(fail(name, "no launch plan for it".into(), false));
            };
            backend
                .start(id)
                .await
                .map_err(|e| fail(name, e.to_string(), false))?;
            wait_healthy(backend, id, &launch.health, settings.health_timeout)
                .await
                .map_err(|e| fail(name, e, false))
        }
        Action::Create { name } => {
            let Some(launch) = launch else {
                return Err(fail(name, "no launch plan for it".into(), false));
            };
            let mounts = host_mounts(launch, root).map_err(|e| fail(name, e.to_string(), false))?;
            let image_id = images
                .get(&format!("{}:{}", launch.image, launch.tag))
                .cloned()
                .unwrap_or_default();
            let labels = container_labels(launch, &image_id, &settings.server);
            let id = backend
                .create(name, launch, &mounts, &labels)
                .await
                .map_err(|e| fail(name, e.to_string(), false))?;
            let started = match backend.start(&id).await {
                Ok(()) => wait_healthy(backend, &id, &launch.health, settings.health_timeout).await,
                Err(e) => Err(e.to_string()),
            };
            if let Err(cause) = started {
                // Nothing ran before: leave nothing half-made behind.
                let _ = backend.stop(&id, 1).await;
                let _ = backend.remove(&id).await;
                return Err(fail(name, cause, false));
            }
            Ok(())
        }
        Action::Replace {
            name,
            old_id,
            old_health,
        } => {
            let Some(launch) = launch else {
                return Err(fail(name, "no launch plan for it".into(), false));
            };
            replace(
                name,
                old_id,
                old_health.as_ref(),
                launch,
                images,
                backend,
                root,
                settings,
            )
            .await
        }
    }
}

/// The replace protocol (see the module docs).
#[allow(clippy::too_many_arguments)]
async fn replace(
    name: &str,
    old_id: &str,
    old_health: Option<&Health>,
    launch: &Launch,
    images: &HashMap<String, String>,
    backend: &dyn Backend,
    root: &Path,
    settings: &Settings,
) -> Result<(), ContainerFailure> {
    let fail = |cause: String, restored: bool| ContainerFailure {
        name: name.to_string(),
        cause,
        restored,
    };
    let mounts = host_mounts(launch, root).map_err(|e| fail(e.to_string(), false))?;
    let image_id = images
        .get(&format!("{}:{}", launch.image, launch.tag))
        .cloned()
        .unwrap_or_default();
    let labels = container_labels(launch, &image_id, &settings.server);
    let next = next_name(name);
    // 1. Create beside the old one: nothing stops yet.
    let new_id = backend
        .create(&next, launch, &mounts, &labels)
        .await
        .map_err(|e| fail(e.to_string(), false))?;
    // 2. Stop the old one (its ports are needed by the new one).
    let old_timeout = launch.stop_timeout;
    if let Err(e) = backend.stop(old_id, old_timeout).await {
        let _ = backend.remove(&new_id).await;
        return Err(fail(
            format!("stopping the previous container failed: {e}"),
            false,
        ));
    }
    // 3. Start the new one and 4. wait until it is healthy.
    let outcome = match backend.start(&new_id).await {
        Ok(()) => wait_healthy(backend, &new_id, &launch.health, settings.health_timeout).await,
        Err(e) => Err(e.to_string()),
    };
    if let Err(cause) = outcome {
        let _ = backend.stop(&new_id, 1).await;
        let _ = backend.remove(&new_id).await;
        // Back to the old one, and wait until it serves again, so that the
        // run ends with the service up.
        let restored = match backend.start(old_id).await {
            Ok(()) => {
                let health = old_health.unwrap_or(&launch.health);
                wait_healthy(backend, old_id, health, settings.health_timeout)
                    .await
                    .is_ok()
            }
            Err(_) => false,
        };
        return Err(fail(
            format!("the new container did not come up: {cause}"),
            restored,
        ));
    }
    // 5. Only now remove the old one, and give the new one its name.
    if let Err(e) = backend.remove(old_id).await {
        return Err(fail(
            format!(
                "the new container runs as '{next}', but removing the previous one failed: {e}"
            ),
            false,
        ));
    }
    backend.rename(&new_id, name).await.map_err(|e| {
        fail(
            format!("the new container runs as '{next}', but renaming it failed: {e}"),
            false,
        )
    })
}

/// Waits until the container answers its health check, fails fast when it
/// stops, and gives up after `timeout`.
pub async fn wait_healthy(
    backend: &dyn Backend,
    id: &str,
    health: &Health,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        match backend.running(id).await {
            Ok(true) => {}
            Ok(false) => return Err("it stopped right after starting (see `docker logs`)".into()),
            Err(e) => return Err(e.to_string()),
        }
        let probe = match (&health.path, health.port) {
            (_, None) => Ok(()),
            (Some(path), Some(port)) => http_probe(port, path).await,
            (None, Some(port)) => tcp_probe(port).await,
        };
        let last = match probe {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(format!("not healthy after {} s: {last}", timeout.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A TCP probe of 127.0.0.1:`port`. Accepting the connection is not
/// enough: Docker's userland proxy accepts on the host port even when
/// nothing listens in the container, then closes at once. So the probe
/// also waits a moment: a server keeps the connection open (or speaks
/// first), the proxy of a dead port hangs up.
pub async fn tcp_probe(port: u16) -> Result<(), String> {
    use tokio::io::AsyncReadExt;
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("port {port} does not accept connections: {e}"))?;
    let mut buf = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Err(format!(
            "port {port} accepts connections but closes them at once: nothing listens in the container"
        )),
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

/// An HTTP GET of `path` on 127.0.0.1:`port`: healthy on 2xx or 3xx.
pub async fn http_probe(port: u16, path: &str) -> Result<(), String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("port {port} does not accept connections: {e}"))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
        .await
        .map_err(|e| format!("HTTP on port {port}: {e}"))?;
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, format!("127.0.0.1:{port}"))
        .body(Empty::new())
        .map_err(|e| format!("bad health path {path}: {e}"))?;
    let status = tokio::time::timeout(Duration::from_secs(5), sender.send_request(req))
        .await
        .map_err(|_| format!("GET {path} on port {port}: no answer within 5 s"))?
        .map_err(|e| format!("GET {path} on port {port}: {e}"))?
        .status();
    conn.abort();
    if status.is_success() || status.is_redirection() {
        Ok(())
    } else {
        Err(format!("GET {path} on port {port} answered {status}"))
    }
}
