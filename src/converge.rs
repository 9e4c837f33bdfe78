//! The executor: carries out a [`Plan`] on the engines. It takes no
//! decision of its own; it only knows how to do each step safely, each on
//! the engine the step names:
//!
//! - pulls and builds come first, all of them, in parallel with a bound;
//!   one that fails stops the run before any container is touched;
//! - a changed container is replaced without a failed request (see
//!   `converge/replace.rs`): the new instance is created beside the old one
//!   (`NAME.next`, on the new engine when the type changed) on host ports
//!   of its own, started and waited for until healthy; then nginx is
//!   switched, once for the run ([`Switch`]); only then is the old one
//!   renamed to drain ([`Draining`], stopped later by the caller) and the
//!   new one given its name. A failure before the switch removes the new
//!   one and never touches the old one. On an engine that changes
//!   containers in place (snap: a refresh), the change is undone (a
//!   revert) instead;
//! - containers converge in parallel, at most `parallel` at a time; each
//!   container's change is all or nothing, and every failure is reported.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use crate::backend::{Backend, BackendError, Backends, HostMount, HostPorts, Kind, Progress};
use crate::mounts;
use crate::plan::launch::{Health, Launch, MountKind};
use crate::plan::redact::LabelKey;
use crate::plan::{Action, Plan, mount_given};

mod health;
mod images;

pub use health::{http_probe, tcp_probe, wait_healthy};
pub use images::{Images, prepare_images};

mod replace;
pub use replace::Draining;

/// What the executor asks of the web front, once per run, after every new
/// instance is up and before any replaced one is touched.
#[async_trait::async_trait]
pub trait Switch: Send + Sync {
    /// Points nginx at `routes`: each configured container's name → where
    /// its ports really are now. The new configuration is validated, then
    /// nginx is reloaded (its old workers finish the requests in flight);
    /// an error leaves nginx serving the previous routes.
    async fn switch(&self, routes: &Routes) -> Result<(), String>;
    /// Replaced containers nginx no longer sends new requests to, for the
    /// caller to drain: called once the switch is done, whether every
    /// other container converged or not.
    fn retire(&self, _draining: &[Draining]) {}
}

/// Container name → host ports, for [`Switch::switch`].
pub type Routes = BTreeMap<String, HostPorts>;

/// A web front that is not there (unit tests, tools that only converge).
pub struct NoSwitch;

#[async_trait::async_trait]
impl Switch for NoSwitch {
    async fn switch(&self, _: &Routes) -> Result<(), String> {
        Ok(())
    }
}

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
    /// nginx was switched to the new instances.
    pub switched: bool,
    /// Replaced containers to stop once their grace period is over.
    pub draining: Vec<Draining>,
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
    #[error(
        "the web front could not be switched to the new containers: {0}; \
         the new containers were removed and the previous ones keep serving"
    )]
    Switch(String),
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
#[error("container '{name}': {cause}{}", if *.restored { "; the previous container keeps serving" } else if *.down { "; it is left stopped" } else { "" })]
pub struct ContainerFailure {
    pub name: String,
    pub cause: String,
    /// The previous container serves (it was never stopped, or it runs
    /// again after a revert).
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

/// Carries out `plan`: its pulls and builds, then its containers.
/// `desired` holds the launch plans the plan refers to; `images` the image
/// ids already known.
// One argument per collaborator the run hands over; bundling them would only
// move the list elsewhere.
#[allow(clippy::too_many_arguments)]
pub async fn execute(
    plan: &Plan,
    desired: &[Launch],
    images: &ImageIds,
    backends: &Backends,
    root: &Path,
    settings: &Settings,
    progress: &dyn Progress,
    switch: &dyn Switch,
) -> Result<Report, ConvergeError> {
    let images = prepare_images(plan, images, backends, settings, progress).await?;
    converge_containers(plan, desired, &images, backends, root, settings, switch).await
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
    switch: &dyn Switch,
) -> Result<Report, ConvergeError> {
    let parallel = settings.parallel.max(1);
    let mut report = Report {
        pulled: prepared.pulled.clone(),
        built: prepared.built.clone(),
        ..Report::default()
    };

    // 2. Leftovers of an interrupted run, which hold the `.next` names, and
    //    replaced containers whose drain was interrupted.
    for step in &plan.steps {
        if let Action::Remove { name, id, backend } = &step.action
            && is_leftover(name)
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

    // 3. New instances up, in parallel with a bound: created beside the
    //    ones they replace, each on host ports of its own, and healthy.
    //    Nothing that serves is touched yet.
    let by_name: HashMap<&str, &Launch> = desired.iter().map(|l| (l.name.as_str(), l)).collect();
    let images = &prepared.ids;
    let ports = replace::PortPool::new(desired, plan);
    let jobs = plan.steps.iter().filter(|s| {
        matches!(
            &s.action,
            Action::Create { .. } | Action::Replace { .. } | Action::Start { .. }
        )
    });
    let outcomes: Vec<(String, Result<replace::Up, ContainerFailure>)> = stream::iter(jobs)
        .map(|step| {
            let by_name = &by_name;
            let ports = &ports;
            async move {
                let name = step.action.container().unwrap_or_default().to_string();
                let launch = by_name.get(name.as_str()).copied();
                let ctx = replace::Ctx {
                    images,
                    backends,
                    root,
                    settings,
                    ports,
                };
                let r = replace::up(&step.action, launch, &ctx).await;
                (name, r)
            }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    let mut failures = Vec::new();
    let mut ups = Vec::new();
    for (_, o) in outcomes {
        match o {
            Ok(up) => ups.push(up),
            Err(f) => failures.push(f),
        }
    }

    // 4. One switch of nginx to what now serves: each container's new
    //    instance when it came up, else the one it had.
    let routes = replace::routes(plan, desired, &ups);
    if let Err(cause) = switch.switch(&routes).await {
        // Nothing serving was touched: the new instances go, the previous
        // ones keep serving behind the previous routes.
        for up in &ups {
            replace::undo(up, backends).await;
        }
        return Err(ConvergeError::Switch(cause));
    }
    report.switched = true;

    // 5. The replaced ones leave the way: renamed to drain (or stopped at
    //    once, without a grace period, when asked), the new ones take
    //    their names.
    let finished: Vec<Result<replace::Finished, ContainerFailure>> = stream::iter(ups)
        .map(|up| replace::finish(up, backends))
        .buffer_unordered(parallel)
        .collect()
        .await;
    for f in finished {
        match f {
            Ok(f) => {
                match f.kind {
                    replace::UpKind::Created => report.created.push(f.name),
                    replace::UpKind::Replaced => report.replaced.push(f.name),
                    replace::UpKind::Started => report.started.push(f.name),
                }
                report.draining.extend(f.draining);
            }
            Err(e) => failures.push(e),
        }
    }

    // 6. Containers no longer wanted: nginx no longer routes to them.
    let removes = plan.steps.iter().filter_map(|s| match &s.action {
        Action::Remove { name, id, backend } if !is_leftover(name) => Some((name, id, *backend)),
        Action::Leave { name, .. } => {
            if !is_leftover(name) {
                report.left.push(name.clone());
            }
            None
        }
        _ => None,
    });
    let removed: Vec<Result<String, ContainerFailure>> = stream::iter(removes.collect::<Vec<_>>())
        .map(|(name, id, backend)| async move {
            let fail = |cause: String| ContainerFailure::new(name, cause, false);
            let b = backends.require(backend).map_err(|e| fail(e.to_string()))?;
            b.stop(id, 10).await.map_err(|e| fail(e.to_string()))?;
            b.remove(id).await.map_err(|e| fail(e.to_string()))?;
            Ok(name.clone())
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    for r in removed {
        match r {
            Ok(name) => report.removed.push(name),
            Err(f) => failures.push(f),
        }
    }
    switch.retire(&report.draining);
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

/// A container an interrupted run left (`NAME.next`), or a replaced one
/// whose drain was interrupted (`NAME.old.ID`).
fn is_leftover(name: &str) -> bool {
    name.ends_with(crate::backend::NEXT_SUFFIX) || name.contains(crate::backend::OLD_MARK)
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
    }
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
    use std::time::Instant;

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
        /// Containers that crash and are restarted by the engine.
        crash: Mutex<Vec<String>>,
    }

    impl Fake {
        fn new(kind: Kind, log: &std::sync::Arc<Mutex<Vec<String>>>) -> Fake {
            Fake {
                kind,
                in_place: kind == Kind::Snap,
                log: log.clone(),
                fail_start: Mutex::new(Vec::new()),
                running: Mutex::new(Vec::new()),
                crash: Mutex::new(Vec::new()),
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
        async fn liveness(&self, id: &str) -> Result<crate::backend::Liveness, BackendError> {
            // A crashing container: "running", restarted once more at each look.
            let crashes = self
                .crash
                .lock()
                .unwrap()
                .iter()
                .filter(|c| *c == id)
                .count() as u64;
            if crashes > 0 {
                self.crash.lock().unwrap().push(id.to_string());
            }
            Ok(crate::backend::Liveness {
                running: self.running(id).await?,
                restarts: crashes,
                ..Default::default()
            })
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
                    old_ports: Some(HostPorts([(8080, 40000)].into())),
                },
                cause: "test".into(),
            }],
        }
    }

    /// A web front that logs its switches (and refuses them when told).
    struct LogSwitch {
        log: std::sync::Arc<Mutex<Vec<String>>>,
        refuse: bool,
    }

    #[async_trait::async_trait]
    impl Switch for LogSwitch {
        async fn switch(&self, routes: &Routes) -> Result<(), String> {
            let text = routes
                .iter()
                .map(|(n, p)| format!("{n}={}", p.label()))
                .collect::<Vec<_>>()
                .join(" ");
            self.log.lock().unwrap().push(format!("switch {text}"));
            if self.refuse {
                Err("nginx refused".into())
            } else {
                Ok(())
            }
        }
        fn retire(&self, draining: &[Draining]) {
            for d in draining {
                self.log.lock().unwrap().push(format!("retire {}", d.name));
            }
        }
    }

    fn switch(log: &std::sync::Arc<Mutex<Vec<String>>>) -> LogSwitch {
        LogSwitch {
            log: log.clone(),
            refuse: false,
        }
    }

    fn settings() -> Settings {
        Settings {
            health_timeout: Duration::from_millis(300),
            ..Settings::default()
        }
    }

    /// Runs `plan` for `l` on `set` with `s`, switching through `sw`.
    fn run(
        plan: &Plan,
        l: &Launch,
        set: &Backends,
        s: &Settings,
        sw: &dyn Switch,
    ) -> Result<Report, ConvergeError> {
        let root = tempfile::tempdir().unwrap();
        rt().block_on(execute(
            plan,
            std::slice::from_ref(l),
            &ImageIds::new(),
            set,
            root.path(),
            s,
            &NoProgress,
            sw,
        ))
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_replace_starts_the_new_one_beside_the_old_one_and_switches_before_touching_it() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut set = Backends::new();
        set.insert(Box::new(Fake::new(Kind::Docker, &log)));
        set.insert(Box::new(Fake::new(Kind::Lxc, &log)));
        let l = launch("lxc");
        let plan = replace_step(Kind::Docker, Kind::Lxc);
        let report = run(&plan, &l, &set, &settings(), &switch(&log)).unwrap();
        let log = log.lock().unwrap();
        assert_eq!(
            log[..2],
            ["lxc create web.next", "lxc start web.next"],
            "{log:?}"
        );
        // The new instance's own host port, not the old one's, not port_out.
        assert!(
            log[2].starts_with("switch web=8080=") && !log[2].ends_with("=40000"),
            "{log:?}"
        );
        assert_eq!(
            log[3..],
            [
                "docker rename old web.old.old",
                "lxc rename web.next web",
                "retire web.old.old"
            ],
            "{log:?}"
        );
        // Not stopped here: handed over to drain.
        assert_eq!(
            report.draining,
            [Draining {
                backend: Kind::Docker,
                id: "old".into(),
                name: "web.old.old".into(),
                stop_timeout: 3
            }]
        );
    }

    #[test]
    fn a_new_one_that_fails_never_touches_the_old_one() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut set = Backends::new();
        set.insert(Box::new(Fake::new(Kind::Docker, &log)));
        let lxc = Fake::new(Kind::Lxc, &log);
        lxc.fail_start.lock().unwrap().push("web.next".into());
        set.insert(Box::new(lxc));
        let l = launch("lxc");
        let e = run(
            &replace_step(Kind::Docker, Kind::Lxc),
            &l,
            &set,
            &settings(),
            &switch(&log),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("the previous container keeps serving"),
            "{e}"
        );
        let log = log.lock().unwrap();
        assert!(log.contains(&"lxc remove web.next".to_string()), "{log:?}");
        assert!(log.iter().all(|l| !l.starts_with("docker")), "{log:?}");
        // nginx keeps the old instance's port.
        assert!(
            log.contains(&"switch web=8080=40000".to_string()),
            "{log:?}"
        );
    }

    #[test]
    fn a_failed_container_does_not_lose_the_drain_of_one_that_was_replaced() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut set = Backends::new();
        let docker = Fake::new(Kind::Docker, &log);
        docker.fail_start.lock().unwrap().push("api.next".into());
        set.insert(Box::new(docker));
        let web = launch("docker");
        let mut api = launch("docker");
        api.name = "api".into();
        api.ports[0].host = 8081;
        let mut plan = replace_step(Kind::Docker, Kind::Docker);
        let mut second = plan.steps[0].clone();
        if let Action::Replace { name, old_id, .. } = &mut second.action {
            *name = "api".into();
            *old_id = "oldapi".into();
        }
        plan.steps.push(second);
        let root = tempfile::tempdir().unwrap();
        let e = rt()
            .block_on(execute(
                &plan,
                &[web, api],
                &ImageIds::new(),
                &set,
                root.path(),
                &settings(),
                &NoProgress,
                &switch(&log),
            ))
            .unwrap_err();
        let ConvergeError::Containers(failures) = e else {
            panic!("{e}");
        };
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].name, "api");
        // Handed over to drain all the same.
        let log = log.lock().unwrap();
        assert!(log.contains(&"retire web.old.old".to_string()), "{log:?}");
        // Host ports never collide with a kept instance's.
        let switch = log.iter().find(|l| l.starts_with("switch")).unwrap();
        assert!(switch.contains("api=8080=40000"), "{switch}");
    }

    #[test]
    fn a_crash_loop_is_noticed_before_the_health_timeout() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut set = Backends::new();
        let docker = Fake::new(Kind::Docker, &log);
        docker.crash.lock().unwrap().push("web.next".into());
        set.insert(Box::new(docker));
        let mut l = launch("docker");
        l.restart = "unless-stopped".into();
        // Checked on its host port, where nothing answers.
        l.health.port = Some(8080);
        let mut s = settings();
        s.health_timeout = Duration::from_secs(30);
        let begin = Instant::now();
        let e = run(
            &replace_step(Kind::Docker, Kind::Docker),
            &l,
            &set,
            &s,
            &switch(&log),
        )
        .unwrap_err();
        assert!(e.to_string().contains("crashes in a loop"), "{e}");
        assert!(begin.elapsed() < Duration::from_secs(5));
        let log = log.lock().unwrap();
        assert!(!log.contains(&"docker stop old".to_string()), "{log:?}");
    }

    #[test]
    fn a_refused_switch_removes_the_new_ones_and_keeps_the_old_ones() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut set = Backends::new();
        set.insert(Box::new(Fake::new(Kind::Docker, &log)));
        let l = launch("docker");
        let e = run(
            &replace_step(Kind::Docker, Kind::Docker),
            &l,
            &set,
            &settings(),
            &LogSwitch {
                log: log.clone(),
                refuse: true,
            },
        )
        .unwrap_err();
        assert!(matches!(e, ConvergeError::Switch(_)), "{e}");
        let log = log.lock().unwrap();
        assert!(
            log.contains(&"docker remove web.next".to_string()),
            "{log:?}"
        );
        assert!(
            !log.iter().any(|l| l.contains(" old")),
            "the old one is never touched: {log:?}"
        );
    }

    #[test]
    fn a_container_holding_port_out_is_stopped_after_the_new_one_is_healthy() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut set = Backends::new();
        set.insert(Box::new(Fake::new(Kind::Docker, &log)));
        let l = launch("docker");
        let mut plan = replace_step(Kind::Docker, Kind::Docker);
        if let Action::Replace { old_ports, .. } = &mut plan.steps[0].action {
            *old_ports = None;
        }
        let report = run(&plan, &l, &set, &settings(), &switch(&log)).unwrap();
        let log = log.lock().unwrap();
        let at = |s: &str| log.iter().position(|l| l.starts_with(s)).unwrap();
        assert!(
            at("docker start web.next") < at("docker stop old"),
            "{log:?}"
        );
        assert!(at("docker stop old") < at("switch"), "{log:?}");
        assert!(at("switch") < at("docker remove old"), "{log:?}");
        assert!(report.draining.is_empty());
    }

    #[test]
    fn an_in_place_engine_is_reverted_when_the_change_does_not_come_up() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut set = Backends::new();
        set.insert(Box::new(Fake::new(Kind::Snap, &log)));
        let mut l = launch("snap");
        l.tag = "2".into();
        let e = run(
            &replace_step(Kind::Snap, Kind::Snap),
            &l,
            &set,
            &settings(),
            &switch(&log),
        )
        .unwrap_err();
        assert!(e.to_string().contains("keeps serving"), "{e}");
        assert_eq!(
            *log.lock().unwrap(),
            [
                "snap update old 2",
                "snap start old",
                "snap revert old",
                "snap start old",
                "switch web=8080=40000"
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
        let e = run(&plan, &l, &set, &settings(), &switch(&log)).unwrap_err();
        assert!(
            e.to_string().contains("the LXC tools are missing")
                && e.to_string().contains("no container was changed"),
            "{e}"
        );
        assert!(log.lock().unwrap().is_empty());
    }
}
