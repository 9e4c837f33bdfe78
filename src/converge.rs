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
use std::time::Duration;

use crate::backend::{Backend, BackendError, Backends, HostMount, Kind, Progress};
use crate::mounts;
use crate::plan::launch::{Health, Launch, MountKind};
use crate::plan::redact::LabelKey;
use crate::plan::{Action, Plan, container_labels, mount_given, next_name};

pub mod apps;
pub use apps::SecretValues;
mod health;
mod images;

pub use health::{http_probe, tcp_probe, wait_healthy};
pub use images::{Images, prepare_images};

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
    /// Where the secret files given to containers are written.
    pub secrets_dir: PathBuf,
    /// The secrets' values (never shown: see [`SecretValues`]).
    pub secret_values: SecretValues,
    /// How long a pull may go without any progress from the engine (the
    /// registry stalled) before it is abandoned.
    pub pull_timeout: Duration,
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
            secrets_dir: PathBuf::from("/var/lib/conteneur/secrets"),
            secret_values: SecretValues::default(),
            pull_timeout: Duration::from_secs(60),
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
    /// An engine stopped answering in the middle of the run.
    #[error("{}", engine_gone(why, failures))]
    EngineGone {
        /// Why the engine does not answer now.
        why: String,
        failures: Vec<ContainerFailure>,
    },
}

/// One container that could not converge, and what became of it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("container '{name}': {cause}{}", if *.restored { "; the previous container was started again and keeps serving" } else if *.down { "; it is left stopped" } else { "" })]
pub struct ContainerFailure {
    pub name: String,
    pub cause: String,
    /// The previous container runs again.
    pub restored: bool,
    /// No container serves under this name now (the previous one was
    /// stopped and could not be started again): its route answers 502.
    pub down: bool,
}

impl ContainerFailure {
    fn new(name: &str, cause: String, restored: bool) -> ContainerFailure {
        ContainerFailure {
            name: name.to_string(),
            cause,
            restored,
            down: false,
        }
    }

    /// Marks it as left stopped unless it was restored.
    fn left_down(mut self) -> ContainerFailure {
        self.down = !self.restored;
        self
    }
}

impl ConvergeError {
    /// The containers no longer served (their routes answer 502).
    pub fn down(&self) -> Vec<&str> {
        match self {
            ConvergeError::Containers(f) | ConvergeError::EngineGone { failures: f, .. } => f
                .iter()
                .filter(|f| f.down)
                .map(|f| f.name.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The message of [`ConvergeError::EngineGone`].
fn engine_gone(why: &str, failures: &[ContainerFailure]) -> String {
    let names = |down: bool| {
        failures
            .iter()
            .filter(|f| f.down == down)
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!("the engine went away in the middle of the run: {why}\n");
    for (list, what) in [
        (names(true), "containers left stopped"),
        (
            names(false),
            "containers that could not be changed (as they were)",
        ),
    ] {
        if !list.is_empty() {
            text.push_str(&format!("{what}: {list}\n"));
        }
    }
    for f in failures {
        text.push_str(&format!("  {f}\n"));
    }
    text.push_str(
        "once the engine is back, `conteneur reconfigure` repairs them (it starts what is \
         stopped and removes what was half-made)",
    );
    text
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
                read_only: false,
            }),
            MountKind::Bind => {
                let path = mounts::prepare(root, mount_given(launch, &m.host), allow_system)?;
                out.push(HostMount {
                    host: path.display().to_string(),
                    container: m.container.clone(),
                    bind: true,
                    read_only: false,
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

/// Carries out `plan`: its pulls and builds, then its containers.
/// `desired` holds the launch plans the plan refers to; `images` the image
/// ids already known.
pub async fn execute(
    plan: &Plan,
    desired: &[Launch],
    images: &ImageIds,
    backends: &Backends,
    root: &Path,
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<Report, ConvergeError> {
    let images = prepare_images(plan, images, backends, settings, progress).await?;
    converge_containers(plan, desired, &images, backends, root, settings).await
}

/// Steps 2 and 3 of a plan, once [`prepare_images`] brought its images:
/// leftovers removed, then every container, in parallel with a bound.
pub async fn converge_containers(
    plan: &Plan,
    desired: &[Launch],
    prepared: &Images,
    backends: &Backends,
    root: &Path,
    settings: &Settings,
) -> Result<Report, ConvergeError> {
    let parallel = settings.parallel.max(1);
    let mut report = Report {
        pulled: prepared.pulled.clone(),
        built: prepared.built.clone(),
        ..Report::default()
    };

    // 2. Leftovers of an interrupted run, which hold the `.next` names.
    for step in &plan.steps {
        if let Action::Remove { name, id, backend } = &step.action
            && name.ends_with(crate::backend::NEXT_SUFFIX)
        {
            let fail = |cause: String| {
                ConvergeError::Containers(vec![ContainerFailure::new(name, cause, false)])
            };
            let b = backends
                .require(*backend)
                .map_err(|e| fail(e.to_string()))?;
            let _ = b.stop(id, 1).await;
            b.remove(id).await.map_err(|e| fail(e.to_string()))?;
        }
    }

    // 3. Private networks, before the containers that join them.
    apps::create_networks(plan, backends, &settings.server)
        .await
        .map_err(|cause| {
            ConvergeError::Containers(vec![ContainerFailure::new("networks", cause, false)])
        })?;

    // 4. Containers, in parallel with a bound, in waves: a container starts
    // only once those it depends on are healthy.
    let by_name: HashMap<&str, &Launch> = desired.iter().map(|l| (l.name.as_str(), l)).collect();
    let images = &prepared.ids;
    let by_name = &by_name;
    let outcomes = apps::in_waves(
        apps::container_steps(plan),
        &apps::dependencies(desired),
        parallel,
        |step| async move {
            let name = step.action.container().unwrap_or_default().to_string();
            let launch = by_name.get(name.as_str()).copied();
            let r = run_step(&step.action, launch, images, backends, root, settings).await;
            r.map(|()| (step.action.clone(), name))
        },
    )
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
                Action::Pull { .. }
                | Action::Build { .. }
                | Action::CreateNetwork { .. }
                | Action::RemoveNetwork { .. } => {}
            },
            Err(f) => failures.push(f),
        }
    }
    // 5. Networks no container uses any more.
    failures.extend(apps::remove_networks(plan, backends).await);
    if failures.is_empty() {
        return Ok(report);
    }
    failures.sort_by(|a, b| a.name.cmp(&b.name));
    // An engine that no longer answers explains every failure on it: say
    // so, rather than the client library's words for a closed socket.
    let touched: std::collections::BTreeSet<Kind> = plan
        .steps
        .iter()
        .filter(|s| {
            s.action
                .container()
                .is_some_and(|n| failures.iter().any(|f| f.name == n))
        })
        .flat_map(|s| step_kinds(&s.action))
        .collect();
    for kind in touched {
        if let Some(b) = backends.get(kind)
            && let Err(e) = b.inspect().await
        {
            return Err(ConvergeError::EngineGone {
                why: e.to_string(),
                failures,
            });
        }
    }
    Err(ConvergeError::Containers(failures))
}

/// The engines a step works on.
fn step_kinds(a: &Action) -> Vec<Kind> {
    match a {
        Action::Pull { backend, .. } => vec![*backend],
        Action::Build { .. } => vec![Kind::Docker],
        Action::Create { backend, .. }
        | Action::Start { backend, .. }
        | Action::Remove { backend, .. }
        | Action::Leave { backend, .. } => vec![*backend],
        Action::Replace {
            old_backend,
            backend,
            ..
        } => vec![*old_backend, *backend],
        Action::CreateNetwork { backend, .. } | Action::RemoveNetwork { backend, .. } => {
            vec![*backend]
        }
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
    let fail = ContainerFailure::new;
    let engine = |name: &str, kind: Kind| {
        backends
            .require(kind)
            .map_err(|e| fail(name, e.to_string(), false))
    };
    match action {
        Action::Pull { .. }
        | Action::Build { .. }
        | Action::Leave { .. }
        | Action::CreateNetwork { .. }
        | Action::RemoveNetwork { .. } => Ok(()),
        Action::Remove { name, id, backend } => {
            let b = engine(name, *backend)?;
            let timeout = 10;
            b.stop(id, timeout)
                .await
                .map_err(|e| fail(name, e.to_string(), false))?;
            b.remove(id)
                .await
                .map_err(|e| fail(name, e.to_string(), false))?;
            // A container no longer configured: its secret files go too
            // (a second one of a configured name leaves the name's files).
            if launch.is_none() {
                apps::forget_secrets(name, None, settings);
            }
            Ok(())
        }
        Action::Start { name, id, backend } => {
            let Some(launch) = launch else {
                return Err(fail(name, "no launch plan for it".into(), false));
            };
            let b = engine(name, *backend)?;
            b.start(id)
                .await
                .map_err(|e| fail(name, e.to_string(), false).left_down())?;
            wait_healthy(b, id, &launch.health, settings.health_timeout)
                .await
                .map_err(|e| fail(name, e, false).left_down())
        }
        Action::Create { name, backend } => {
            let Some(launch) = launch else {
                return Err(fail(name, "no launch plan for it".into(), false));
            };
            let b = engine(name, *backend)?;
            let mounts = apps::mounts(b, launch, root, settings)
                .await
                .map_err(|e| fail(name, e, false))?;
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
            let started = match apps::own_secrets(b, &id, launch, settings).await {
                Err(e) => Err(e),
                Ok(()) => match b.start(&id).await {
                    Ok(()) => wait_healthy(b, &id, &launch.health, settings.health_timeout).await,
                    Err(e) => Err(e.to_string()),
                },
            };
            if let Err(cause) = started {
                // Nothing ran before: leave nothing half-made behind.
                let _ = b.stop(&id, 1).await;
                let _ = b.remove(&id).await;
                apps::forget_secrets(name, None, settings);
                return Err(fail(name, cause, false));
            }
            apps::forget_secrets(name, Some(launch), settings);
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
    let fail = |cause: String, restored: bool| ContainerFailure::new(name, cause, restored);
    let mounts = apps::mounts(new, launch, root, settings)
        .await
        .map_err(|e| fail(e, false))?;
    let next = next_name(name);
    // 1. Create beside the old one: nothing stops yet.
    let new_id = new
        .create(&next, launch, &mounts, labels)
        .await
        .map_err(|e| fail(e.to_string(), false))?;
    if let Err(e) = apps::own_secrets(new, &new_id, launch, settings).await {
        let _ = new.remove(&new_id).await;
        return Err(fail(e, false));
    }
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
        )
        .left_down());
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
    })?;
    apps::forget_secrets(name, Some(launch), settings);
    Ok(())
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
    let fail = |cause: String, restored: bool| ContainerFailure::new(name, cause, restored);
    let health = old_health.unwrap_or(&launch.health);
    if let Err(e) = b.update(id, launch, labels).await {
        let restored = wait_healthy(b, id, health, settings.health_timeout)
            .await
            .is_ok();
        return Err(fail(format!("the change failed: {e}"), restored).left_down());
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
        )
        .left_down());
    }
    Ok(())
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
        /// The engine no longer answers `inspect`.
        gone: bool,
    }

    impl Fake {
        fn new(kind: Kind, log: &std::sync::Arc<Mutex<Vec<String>>>) -> Fake {
            Fake {
                kind,
                in_place: kind == Kind::Snap,
                log: log.clone(),
                fail_start: Mutex::new(Vec::new()),
                running: Mutex::new(Vec::new()),
                gone: false,
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
            if self.gone {
                return Err(BackendError::EngineDown {
                    socket: "/run/test.sock".into(),
                    message: "connection refused".into(),
                });
            }
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
                command: None,
            },
            publish: true,
            websocket: false,
            labels: BTreeMap::new(),
            replicas: 1,
            placement: vec![],
            app: Default::default(),
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

    #[test]
    fn an_engine_gone_mid_replace_says_so_and_which_containers_are_left_stopped() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut docker = Fake::new(Kind::Docker, &log);
        docker.gone = true;
        docker
            .fail_start
            .lock()
            .unwrap()
            .extend(["web.next".to_string(), "old".to_string()]);
        let mut set = Backends::new();
        set.insert(Box::new(docker));
        let root = tempfile::tempdir().unwrap();
        let l = launch("docker");
        let e = rt()
            .block_on(execute(
                &replace_step(Kind::Docker, Kind::Docker),
                std::slice::from_ref(&l),
                &ImageIds::new(),
                &set,
                root.path(),
                &settings(),
                &NoProgress,
            ))
            .unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, ConvergeError::EngineGone { .. }), "{text}");
        assert!(
            text.contains("the engine went away")
                && text.contains("containers left stopped: web")
                && text.contains("cannot reach the Docker engine at /run/test.sock")
                && text.contains("`conteneur reconfigure` repairs them"),
            "{text}"
        );
        assert_eq!(e.down(), ["web"]);
    }
}
