//! The executor: carries out a [`Plan`] on the engines. It takes no
//! decision of its own; it only knows how to do each step safely, each on
//! the engine the step names:
//!
//! - pulls and builds come first, all of them, in parallel with a bound;
//!   one that fails stops the run before any container is touched;
//! - a changed container is replaced without being lost: the new one is
//!   created beside it (`NAME.next`, on the new engine when the type
//!   changed), the old one stopped (its port is needed), the new one
//!   started and waited for until healthy, and only then is the old one
//!   removed and the new one renamed. On any failure the new one goes and
//!   the old one is started again. On an engine that changes containers in
//!   place (snap: a refresh), the change is undone (a revert) instead;
//! - containers converge in parallel, at most `parallel` at a time; each
//!   container's change is all or nothing, and every failure is reported.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use http_body_util::Empty;
use hyper::body::Bytes;
use tokio::net::TcpStream;

use crate::backend::{Backend, BackendError, Backends, HostMount, Kind, Progress, git, labels};
use crate::mounts;
use crate::plan::launch::{Health, Launch, MountKind};
use crate::plan::redact::LabelKey;
use crate::plan::{Action, Plan, container_labels, mount_given, next_name};

/// How the executor works.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This server's identity, set as a label on its containers.
    pub server: String,
    /// Containers (and pulls) handled at the same time.
    pub parallel: usize,
    /// How long a started container has to become healthy.
    pub health_timeout: Duration,
    /// Where git sources are fetched for docker+git builds.
    pub git_cache: PathBuf,
    /// `conteneur_allow_system_mounts`: protected host folders may be
    /// mounted.
    pub allow_system_mounts: bool,
    /// The key environment values are sealed with in the plan label.
    pub label_key: LabelKey,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: String::new(),
            parallel: 4,
            health_timeout: Duration::from_secs(30),
            git_cache: PathBuf::from("/var/lib/conteneur/git"),
            allow_system_mounts: false,
            label_key: LabelKey::default(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub pulled: Vec<String>,
    pub built: Vec<String>,
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
    #[error(transparent)]
    Mount(#[from] mounts::MountError),
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

/// The engine-side mounts of a launch: bind folders under `root`, checked
/// where they really lead at this moment (symbolic links followed) and
/// created if missing without following any link ([`mounts::prepare`]);
/// the engine gets the resolved path. Volume names as they are.
pub fn host_mounts(
    launch: &Launch,
    root: &Path,
    allow_system: bool,
) -> Result<Vec<HostMount>, ConvergeError> {
    let mut out = Vec::new();
    for m in &launch.mounts {
        match m.kind {
            MountKind::Volume => out.push(HostMount {
                host: m.host.clone(),
                container: m.container.clone(),
                bind: false,
            }),
            MountKind::Bind => {
                let path = mounts::prepare(root, mount_given(launch, &m.host), allow_system)?;
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

/// An error's text without the "container 'NAME': " it starts with: a
/// [`ContainerFailure`] says it once.
fn unprefixed(name: &str, e: &ConvergeError) -> String {
    let text = e.to_string();
    text.strip_prefix(&format!("container '{name}': "))
        .map(str::to_string)
        .unwrap_or(text)
}

/// Image ids known per engine: (engine, `image:tag`) → id.
pub type ImageIds = HashMap<(Kind, String), String>;

/// The engine of a launch plan (docker for what has none: the plan refused
/// those already).
fn kind_of(launch: &Launch) -> Kind {
    Kind::of_type(&launch.backend).unwrap_or(Kind::Docker)
}

/// The image id a new container of `launch` records.
fn image_id(launch: &Launch, images: &ImageIds) -> String {
    let kind = kind_of(launch);
    if kind == Kind::Lxc && crate::backend::lxc::is_template(&launch.image) {
        return format!("template:{}", launch.image);
    }
    images
        .get(&(kind, format!("{}:{}", launch.image, launch.tag)))
        .cloned()
        .unwrap_or_default()
}

/// What a pull or a build brought: (engine, `image:tag`, image id).
type Prepared = (Kind, String, String);

/// One pull or build, on its engine.
async fn prepare_one(
    action: &Action,
    backends: &Backends,
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<Prepared, BackendError> {
    match action {
        Action::Pull {
            backend,
            image,
            tag,
        } => {
            let id = backends
                .require(*backend)?
                .prepare(image, tag, progress)
                .await?;
            Ok((*backend, format!("{image}:{tag}"), id))
        }
        Action::Build {
            image,
            tag,
            repository,
            commit,
        } => {
            let docker = backends.require(Kind::Docker)?;
            let fail = |message: String| BackendError::Build {
                image: image.clone(),
                tag: tag.clone(),
                repository: repository.clone(),
                message,
            };
            let reference = format!("{image}:{tag}");
            progress.update(&reference, &format!("fetching {repository} {tag}"));
            let context = git::fetch_tree(&settings.git_cache, repository, tag, commit)
                .await
                .map_err(|e| {
                    let e = fail(e.to_string());
                    progress.done(&reference, &Err(e.clone()));
                    e
                })?;
            let mut l = BTreeMap::new();
            l.insert(labels::GIT_COMMIT.to_string(), commit.clone());
            l.insert(labels::GIT_URL.to_string(), repository.clone());
            let id = docker.build(image, tag, context, &l, progress).await?;
            Ok((Kind::Docker, reference, id))
        }
        _ => Err(BackendError::Other("not a pull or a build".into())),
    }
}

/// Carries out `plan`. `desired` holds the launch plans the plan refers to;
/// `images` the image ids already known.
pub async fn execute(
    plan: &Plan,
    desired: &[Launch],
    images: &ImageIds,
    backends: &Backends,
    root: &Path,
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<Report, ConvergeError> {
    let parallel = settings.parallel.max(1);
    let mut report = Report::default();
    let mut images = images.clone();

    // 1. Every pull and build, before any container is touched.
    let prepares: Vec<&Action> = plan
        .steps
        .iter()
        .map(|s| &s.action)
        .filter(|a| a.is_prepare())
        .collect();
    let results: Vec<(bool, Result<Prepared, BackendError>)> = stream::iter(prepares)
        .map(|a| async move {
            let is_build = matches!(a, Action::Build { .. });
            (is_build, prepare_one(a, backends, settings, progress).await)
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    let mut first_error = None;
    for (is_build, r) in results {
        match r {
            Ok((kind, reference, id)) => {
                images.insert((kind, reference.clone()), id);
                if is_build {
                    report.built.push(reference);
                } else {
                    report.pulled.push(reference);
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(ConvergeError::Pull(e));
    }

    // 2. Leftovers of an interrupted run, which hold the `.next` names.
    for step in &plan.steps {
        if let Action::Remove { name, id, backend } = &step.action
            && name.ends_with(crate::backend::NEXT_SUFFIX)
        {
            let fail = |cause: String| {
                ConvergeError::Containers(vec![ContainerFailure {
                    name: name.clone(),
                    cause,
                    restored: false,
                }])
            };
            let b = backends
                .require(*backend)
                .map_err(|e| fail(e.to_string()))?;
            let _ = b.stop(id, 1).await;
            b.remove(id).await.map_err(|e| fail(e.to_string()))?;
        }
    }

    // 3. Containers, in parallel with a bound.
    let by_name: HashMap<&str, &Launch> = desired.iter().map(|l| (l.name.as_str(), l)).collect();
    let images = &images;
    let jobs = plan.steps.iter().filter(|s| {
        !s.action.is_prepare()
            && !matches!(&s.action, Action::Remove { name, .. } if name.ends_with(crate::backend::NEXT_SUFFIX))
    });
    let outcomes: Vec<Result<(Action, String), ContainerFailure>> = stream::iter(jobs)
        .map(|step| {
            let by_name = &by_name;
            async move {
                let name = step.action.container().unwrap_or_default().to_string();
                let launch = by_name.get(name.as_str()).copied();
                let r = run_step(&step.action, launch, images, backends, root, settings).await;
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
                Action::Pull { .. } | Action::Build { .. } => {}
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
    images: &ImageIds,
    backends: &Backends,
    root: &Path,
    settings: &Settings,
) -> Result<(), ContainerFailure> {
    let fail = |name: &str, cause: String, restored: bool| ContainerFailure {
        name: name.to_string(),
        cause,
        restored,
    };
    let engine = |name: &str, kind: Kind| {
        backends
            .require(kind)
            .map_err(|e| fail(name, e.to_string(), false))
    };
    match action {
        Action::Pull { .. } | Action::Build { .. } | Action::Leave { .. } => Ok(()),
        Action::Remove { name, id, backend } => {
            let b = engine(name, *backend)?;
            let timeout = 10;
            b.stop(id, timeout)
                .await
                .map_err(|e| fail(name, e.to_string(), false))?;
            b.remove(id)
                .await
                .map_err(|e| fail(name, e.to_string(), false))
        }
        Action::Start { name, id, backend } => {
            let Some(launch) = launch else {
                return Err(fail(name, "no launch plan for it".into(), false));
            };
            let b = engine(name, *backend)?;
            b.start(id)
                .await
                .map_err(|e| fail(name, e.to_string(), false))?;
            wait_healthy(b, id, &launch.health, settings.health_timeout)
                .await
                .map_err(|e| fail(name, e, false))
        }
        Action::Create { name, backend } => {
            let Some(launch) = launch else {
                return Err(fail(name, "no launch plan for it".into(), false));
            };
            let b = engine(name, *backend)?;
            let mounts = host_mounts(launch, root, settings.allow_system_mounts)
                .map_err(|e| fail(name, unprefixed(name, &e), false))?;
            let labels = container_labels(
                launch,
                &image_id(launch, images),
                &settings.server,
                &settings.label_key,
            );
            let id = b
                .create(name, launch, &mounts, &labels)
                .await
                .map_err(|e| fail(name, e.to_string(), false))?;
            let started = match b.start(&id).await {
                Ok(()) => wait_healthy(b, &id, &launch.health, settings.health_timeout).await,
                Err(e) => Err(e.to_string()),
            };
            if let Err(cause) = started {
                // Nothing ran before: leave nothing half-made behind.
                let _ = b.stop(&id, 1).await;
                let _ = b.remove(&id).await;
                return Err(fail(name, cause, false));
            }
            Ok(())
        }
        Action::Replace {
            name,
            old_id,
            old_backend,
            backend,
            old_health,
        } => {
            let Some(launch) = launch else {
                return Err(fail(name, "no launch plan for it".into(), false));
            };
            let old = engine(name, *old_backend)?;
            let new = engine(name, *backend)?;
            let labels = container_labels(
                launch,
                &image_id(launch, images),
                &settings.server,
                &settings.label_key,
            );
            if old_backend == backend && new.in_place() {
                return replace_in_place(
                    name,
                    old_id,
                    old_health.as_ref(),
                    launch,
                    &labels,
                    new,
                    settings,
                )
                .await;
            }
            replace(
                name,
                Old {
                    id: old_id,
                    health: old_health.as_ref(),
                    backend: old,
                },
                launch,
                &labels,
                new,
                root,
                settings,
            )
            .await
        }
    }
}

/// The container being replaced.
struct Old<'a> {
    id: &'a str,
    health: Option<&'a Health>,
    backend: &'a dyn Backend,
}

/// The replace protocol (see the module docs). `new` may be another engine
/// than `old.backend`: a type switch is a replace like any other, and since
/// both engines publish on 127.0.0.1:port_out, the old one still stops
/// before the new one starts.
async fn replace(
    name: &str,
    old: Old<'_>,
    launch: &Launch,
    labels: &BTreeMap<String, String>,
    new: &dyn Backend,
    root: &Path,
    settings: &Settings,
) -> Result<(), ContainerFailure> {
    let fail = |cause: String, restored: bool| ContainerFailure {
        name: name.to_string(),
        cause,
        restored,
    };
    let mounts = host_mounts(launch, root, settings.allow_system_mounts)
        .map_err(|e| fail(unprefixed(name, &e), false))?;
    let next = next_name(name);
    // 1. Create beside the old one: nothing stops yet.
    let new_id = new
        .create(&next, launch, &mounts, labels)
        .await
        .map_err(|e| fail(e.to_string(), false))?;
    // 2. Stop the old one (its ports are needed by the new one).
    if let Err(e) = old.backend.stop(old.id, launch.stop_timeout).await {
        let _ = new.remove(&new_id).await;
        return Err(fail(
            format!("stopping the previous container failed: {e}"),
            false,
        ));
    }
    // 3. Start the new one and 4. wait until it is healthy.
    let outcome = match new.start(&new_id).await {
        Ok(()) => wait_healthy(new, &new_id, &launch.health, settings.health_timeout).await,
        Err(e) => Err(e.to_string()),
    };
    if let Err(cause) = outcome {
        let _ = new.stop(&new_id, 1).await;
        let _ = new.remove(&new_id).await;
        // Back to the old one, and wait until it serves again, so that the
        // run ends with the service up.
        let restored = match old.backend.start(old.id).await {
            Ok(()) => {
                let health = old.health.unwrap_or(&launch.health);
                wait_healthy(old.backend, old.id, health, settings.health_timeout)
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
    if let Err(e) = old.backend.remove(old.id).await {
        return Err(fail(
            format!(
                "the new container runs as '{next}', but removing the previous one failed: {e}"
            ),
            false,
        ));
    }
    new.rename(&new_id, name).await.map_err(|e| {
        fail(
            format!("the new container runs as '{next}', but renaming it failed: {e}"),
            false,
        )
    })
}

/// The replace protocol of an engine that changes containers in place
/// (snap): change it (a refresh, which the engine undoes itself when it
/// fails), start it, wait until healthy; when it is not, revert it and
/// wait until the old one serves again.
async fn replace_in_place(
    name: &str,
    id: &str,
    old_health: Option<&Health>,
    launch: &Launch,
    labels: &BTreeMap<String, String>,
    b: &dyn Backend,
    settings: &Settings,
) -> Result<(), ContainerFailure> {
    let fail = |cause: String, restored: bool| ContainerFailure {
        name: name.to_string(),
        cause,
        restored,
    };
    let health = old_health.unwrap_or(&launch.health);
    if let Err(e) = b.update(id, launch, labels).await {
        let restored = wait_healthy(b, id, health, settings.health_timeout)
            .await
            .is_ok();
        return Err(fail(format!("the change failed: {e}"), restored));
    }
    let outcome = match b.start(id).await {
        Ok(()) => wait_healthy(b, id, &launch.health, settings.health_timeout).await,
        Err(e) => Err(e.to_string()),
    };
    if let Err(cause) = outcome {
        let restored = match b.revert(id).await {
            Ok(()) => {
                let _ = b.start(id).await;
                wait_healthy(b, id, health, settings.health_timeout)
                    .await
                    .is_ok()
            }
            Err(_) => false,
        };
        return Err(fail(
            format!("the changed container did not come up: {cause}"),
            restored,
        ));
    }
    Ok(())
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
    // Most services answer within a few tens of milliseconds: poll soon,
    // then back off to 200 ms so a slow one does not cost engine calls.
    let mut pause = Duration::from_millis(20);
    loop {
        match backend.running(id).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(
                    "it stopped right after starting (see `docker logs`, or lxc-info and the LXC log)"
                        .into(),
                );
            }
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
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::backend::{NoProgress, Observed};
    use crate::plan::launch::Port;
    use crate::plan::{Options, Step, reconcile};

    /// An engine that records what it is asked, and fails `start` when told.
    struct Fake {
        kind: Kind,
        in_place: bool,
        log: std::sync::Arc<Mutex<Vec<String>>>,
        fail_start: Mutex<Vec<String>>,
        running: Mutex<Vec<String>>,
    }

    impl Fake {
        fn new(kind: Kind, log: &std::sync::Arc<Mutex<Vec<String>>>) -> Fake {
            Fake {
                kind,
                in_place: kind == Kind::Snap,
                log: log.clone(),
                fail_start: Mutex::new(Vec::new()),
                running: Mutex::new(Vec::new()),
            }
        }
        fn note(&self, s: String) {
            self.log.lock().unwrap().push(format!("{} {s}", self.kind));
        }
    }

    #[async_trait::async_trait]
    impl Backend for Fake {
        fn kind(&self) -> Kind {
            self.kind
        }
        async fn inspect(&self) -> Result<Observed, BackendError> {
            Ok(Observed::default())
        }
        async fn prepare(
            &self,
            i: &str,
            t: &str,
            _: &dyn Progress,
        ) -> Result<String, BackendError> {
            self.note(format!("prepare {i}:{t}"));
            Ok("id".into())
        }
        async fn create(
            &self,
            name: &str,
            _: &Launch,
            _: &[HostMount],
            _: &BTreeMap<String, String>,
        ) -> Result<String, BackendError> {
            self.note(format!("create {name}"));
            Ok(name.to_string())
        }
        async fn start(&self, id: &str) -> Result<(), BackendError> {
            self.note(format!("start {id}"));
            if self.fail_start.lock().unwrap().iter().any(|f| f == id) {
                return Err(BackendError::Other("refused".into()));
            }
            self.running.lock().unwrap().push(id.to_string());
            Ok(())
        }
        async fn stop(&self, id: &str, _: u32) -> Result<(), BackendError> {
            self.note(format!("stop {id}"));
            self.running.lock().unwrap().retain(|r| r != id);
            Ok(())
        }
        async fn remove(&self, id: &str) -> Result<(), BackendError> {
            self.note(format!("remove {id}"));
            Ok(())
        }
        async fn rename(&self, id: &str, name: &str) -> Result<(), BackendError> {
            self.note(format!("rename {id} {name}"));
            Ok(())
        }
        async fn running(&self, id: &str) -> Result<bool, BackendError> {
            Ok(self.running.lock().unwrap().iter().any(|r| r == id))
        }
        fn in_place(&self) -> bool {
            self.in_place
        }
        async fn update(
            &self,
            id: &str,
            l: &Launch,
            _: &BTreeMap<String, String>,
        ) -> Result<(), BackendError> {
            self.note(format!("update {id} {}", l.tag));
            self.fail_start.lock().unwrap().push(id.to_string());
            Ok(())
        }
        async fn revert(&self, id: &str) -> Result<(), BackendError> {
            self.note(format!("revert {id}"));
            self.fail_start.lock().unwrap().retain(|f| f != id);
            Ok(())
        }
    }

    fn launch(backend: &str) -> Launch {
        Launch {
            name: "web".into(),
            index: 1,
            backend: backend.into(),
            image: "localhost:5000/demo/web".into(),
            tag: "1.0".into(),
            repository: String::new(),
            ports: vec![Port {
                container: 80,
                host: 8080,
                address: "127.0.0.1".into(),
            }],
            mounts: vec![],
            env: vec![],
            memory: String::new(),
            restart: "no".into(),
            stop_timeout: 3,
            // The fake's containers answer no port: running is enough.
            health: Health {
                path: None,
                port: None,
            },
            publish: true,
            websocket: false,
            labels: BTreeMap::new(),
            replicas: 1,
            placement: vec![],
            networks: vec![],
            secrets: vec![],
        }
    }

    fn replace_step(old: Kind, new: Kind) -> Plan {
        Plan {
            steps: vec![Step {
                action: Action::Replace {
                    name: "web".into(),
                    old_id: "old".into(),
                    old_backend: old,
                    backend: new,
                    old_health: None,
                },
                cause: "test".into(),
            }],
        }
    }

    fn settings() -> Settings {
        Settings {
            health_timeout: Duration::from_millis(300),
            ..Settings::default()
        }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_switch_creates_on_the_new_engine_and_removes_the_old_one_last() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut set = Backends::new();
        set.insert(Box::new(Fake::new(Kind::Docker, &log)));
        set.insert(Box::new(Fake::new(Kind::Lxc, &log)));
        let root = tempfile::tempdir().unwrap();
        let l = launch("lxc");
        let plan = replace_step(Kind::Docker, Kind::Lxc);
        rt().block_on(execute(
            &plan,
            std::slice::from_ref(&l),
            &ImageIds::new(),
            &set,
            root.path(),
            &settings(),
            &NoProgress,
        ))
        .unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            [
                "lxc create web.next",
                "docker stop old",
                "lxc start web.next",
                "docker remove old",
                "lxc rename web.next web"
            ]
        );
    }

    #[test]
    fn a_switch_that_fails_starts_the_old_one_again() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut set = Backends::new();
        set.insert(Box::new(Fake::new(Kind::Docker, &log)));
        let lxc = Fake::new(Kind::Lxc, &log);
        lxc.fail_start.lock().unwrap().push("web.next".into());
        set.insert(Box::new(lxc));
        let root = tempfile::tempdir().unwrap();
        let l = launch("lxc");
        let e = rt()
            .block_on(execute(
                &replace_step(Kind::Docker, Kind::Lxc),
                std::slice::from_ref(&l),
                &ImageIds::new(),
                &set,
                root.path(),
                &settings(),
                &NoProgress,
            ))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("the previous container was started again"),
            "{e}"
        );
        let log = log.lock().unwrap();
        assert!(log.contains(&"docker start old".to_string()), "{log:?}");
        assert!(log.contains(&"lxc remove web.next".to_string()), "{log:?}");
        assert!(!log.contains(&"docker remove old".to_string()), "{log:?}");
    }

    #[test]
    fn an_in_place_engine_is_reverted_when_the_change_does_not_come_up() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut set = Backends::new();
        set.insert(Box::new(Fake::new(Kind::Snap, &log)));
        let root = tempfile::tempdir().unwrap();
        let mut l = launch("snap");
        l.tag = "2".into();
        let e = rt()
            .block_on(execute(
                &replace_step(Kind::Snap, Kind::Snap),
                std::slice::from_ref(&l),
                &ImageIds::new(),
                &set,
                root.path(),
                &settings(),
                &NoProgress,
            ))
            .unwrap_err();
        assert!(e.to_string().contains("started again"), "{e}");
        assert_eq!(
            *log.lock().unwrap(),
            [
                "snap update old 2",
                "snap start old",
                "snap revert old",
                "snap start old"
            ]
        );
    }

    #[test]
    fn a_missing_engine_stops_the_run_before_any_change() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut set = Backends::new();
        set.insert(Box::new(Fake::new(Kind::Docker, &log)));
        set.set_unreachable(
            Kind::Lxc,
            BackendError::Unavailable {
                engine: "lxc",
                message: "the LXC tools are missing".into(),
            },
        );
        let l = launch("lxc");
        let plan = reconcile(
            std::slice::from_ref(&l),
            &Observed::default(),
            &Options::default(),
        )
        .unwrap();
        let root = tempfile::tempdir().unwrap();
        let e = rt()
            .block_on(execute(
                &plan,
                std::slice::from_ref(&l),
                &ImageIds::new(),
                &set,
                root.path(),
                &settings(),
                &NoProgress,
            ))
            .unwrap_err();
        assert!(
            e.to_string().contains("the LXC tools are missing")
                && e.to_string().contains("no container was changed"),
            "{e}"
        );
        assert!(log.lock().unwrap().is_empty());
    }
}
