//! The executor: carries out a [`Plan`] on the engines. It takes no
//! decision of its own; it only knows how to do each step safely, each on
//! the engine the step names:
//!
//! - pulls and builds come first, all of them, in parallel with a bound;
//!   one that fails stops the run before any container is touched;
//! - a changed container is replaced as the plan's strategy for it says
//!   (`plan::Strategy`, whose phases `conteneur plan` prints; see
//!   `converge/replace.rs`), without a failed request: usually the new
//!   instance is created beside the old one (`NAME.next`, on the new
//!   engine when the type changed) on host ports of its own, started and
//!   waited for until healthy; then nginx is switched, once for the run
//!   ([`Switch`], after the drains are recorded); only then is the old one
//!   renamed and retired to drain ([`Draining`]) and the new one given its
//!   name. A failure before the switch removes the new one and never
//!   touches the old one. On an engine that changes containers in place
//!   (snap: a refresh), the change is undone (a revert) instead;
//! - containers converge in parallel, at most `parallel` at a time, in
//!   the plan's waves (`Plan::after`, run by `converge/apps.rs`): a
//!   container starts once those it depends on are healthy, and one
//!   whose dependency failed is not started; a container nginx does not
//!   route to (no `port_out`) finishes its
//!   replace within its wave, since it has no switch to wait for; private
//!   networks are created before the first wave and removed after the
//!   last container left them;
//! - each container's change is all or nothing, and every failure is
//!   reported.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use crate::backend::{Backend, BackendError, Backends, HostMount};
use crate::mounts;
use crate::plan::launch::{Health, Launch, MountKind};
use crate::plan::observed::{HostPorts, Kind};
use crate::plan::redact::LabelKey;
use crate::plan::{Action, Plan, Step, mount_given};

pub mod apps;
pub use apps::SecretValues;
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
    /// The containers that will drain once the switch is done, told before
    /// it: an error (their drain cannot be arranged: its job cannot be
    /// written) stops the run before the switch, and nothing serving is
    /// touched.
    fn before_switch(&self, _draining: &[Draining]) -> Result<(), String> {
        Ok(())
    }
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
    /// Where the secret files given to containers are written.
    pub secrets_dir: PathBuf,
    /// The secrets' values (never shown: see [`SecretValues`]).
    pub secret_values: SecretValues,
    /// How long a pull may go without any progress from the engine (the
    /// registry stalled) before it is abandoned.
    pub pull_timeout: Duration,
    /// How long an image build (docker+git) may go without any output from
    /// the engine (a step that hangs) before it is abandoned.
    pub build_timeout: Duration,
    /// The credentials of docker+git repositories, by URL without them
    /// (never shown: `Credentials`' `Debug` hides them).
    pub git_credentials: GitCredentials,
}

/// Credentials of repositories, by their URL without them.
pub type GitCredentials = BTreeMap<String, crate::userinfo::Credentials>;

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
            build_timeout: Duration::from_secs(600),
            git_credentials: GitCredentials::new(),
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
        "{}: {cause}; the new containers were removed and the previous ones keep serving{}",
        if *.drain { "the replaced containers' drain could not be arranged, so the web front was not switched" }
        else { "the web front could not be switched to the new containers" },
        settled_note(settled)
    )]
    Switch {
        /// The drain could not be arranged (before the switch), rather
        /// than the switch failing.
        drain: bool,
        cause: String,
        /// Containers nginx does not route to, whose replace was already
        /// done within its wave (see [`replace::settle`]): they run their
        /// new version.
        settled: Vec<String>,
    },
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
/// The containers a failed switch did not take back: their replace was
/// over before it (nothing routes to them through nginx).
fn settled_note(settled: &[String]) -> String {
    if settled.is_empty() {
        String::new()
    } else {
        format!(
            " (already replaced before the switch, as nginx does not route to them: {})",
            settled.join(", ")
        )
    }
}

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
    if kind == Kind::Lxc && crate::plan::launch::is_template(&launch.image) {
        return format!("template:{}", launch.image);
    }
    images
        .get(&(kind, format!("{}:{}", launch.image, launch.tag)))
        .cloned()
        .unwrap_or_default()
}

/// Carries out `plan`: its pulls and builds, then its containers (a run
/// calls the two halves itself, with its templates in between: see
/// `run::run`; the executor's tests use this whole).
#[cfg(test)]
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
    progress: &dyn crate::backend::Progress,
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
            report.removed.push(name.clone());
        }
    }

    // 3. Private networks, before the containers that join them.
    apps::create_networks(plan, backends, &settings.server)
        .await
        .map_err(|cause| {
            ConvergeError::Containers(vec![ContainerFailure::new("networks", cause, false)])
        })?;

    // 4. New instances up, in parallel with a bound, in waves: a container
    //    starts only once those it depends on are healthy. Each is created
    //    beside the one it replaces, on host ports of its own, and waited
    //    for until healthy; nothing that nginx routes to is touched yet.
    //    A container nginx does not route to (no port_out: a database on a
    //    private network) has nothing to switch, so its replace ends within
    //    its wave (see [`replace::settle`]): its dependents, in the next
    //    waves, find the new one alone behind its network alias.
    let by_name: HashMap<&str, &Launch> = desired.iter().map(|l| (l.name.as_str(), l)).collect();
    let images = &prepared.ids;
    let ports = replace::PortPool::new(desired, plan);
    let (by_name, ports) = (&by_name, &ports);
    let jobs: Vec<&Step> = plan
        .steps
        .iter()
        .filter(|s| {
            matches!(
                &s.action,
                Action::Create { .. } | Action::Replace { .. } | Action::Start { .. }
            )
        })
        .collect();
    let outcomes = apps::in_waves(
        jobs,
        &apps::dependencies(plan),
        parallel,
        |step| async move {
            let name = step.action.container().unwrap_or_default();
            let launch = by_name.get(name).copied();
            let ctx = replace::Ctx {
                images,
                backends,
                root,
                settings,
                ports,
            };
            let up = replace::up(&step.action, launch, &ctx).await?;
            replace::settle(up, launch, &ctx).await
        },
    )
    .await;
    crate::timing::mark("new instances up and healthy");
    let mut failures = Vec::new();
    let mut ups = Vec::new();
    let mut done = Vec::new();
    for o in outcomes {
        match o {
            Ok(replace::Waved::Up(up)) => ups.push(up),
            Ok(replace::Waved::Done(f)) => done.push(Ok(f)),
            Err(f) => failures.push(f),
        }
    }

    // 4. One switch of nginx to what now serves: each container's new
    //    instance when it came up, else the one it had.
    let routes = replace::routes(plan, desired, &ups);
    let to_drain: Vec<Draining> = ups.iter().filter_map(replace::to_drain).collect();
    let ready = switch.before_switch(&to_drain).map_err(|c| (true, c));
    let switched = match ready {
        Ok(()) => switch.switch(&routes).await.map_err(|c| (false, c)),
        Err(e) => Err(e),
    };
    if let Err((drain, cause)) = switched {
        // Nothing serving was touched: the new instances go, the previous
        // ones keep serving behind the previous routes.
        for up in &ups {
            replace::undo(up, backends).await;
        }
        let mut settled = Vec::new();
        for f in done.iter().flatten() {
            apps::forget_secrets(&f.name, by_name.get(f.name.as_str()).copied(), settings);
            settled.push(f.name.clone());
        }
        return Err(ConvergeError::Switch {
            drain,
            cause,
            settled,
        });
    }
    report.switched = true;
    crate::timing::mark("nginx switched");

    // 5. The replaced ones leave the way: renamed to drain (or stopped at
    //    once, without a grace period, when asked), the new ones take
    //    their names.
    let finished: Vec<Result<replace::Finished, ContainerFailure>> = stream::iter(ups)
        .map(|up| replace::finish(up, backends))
        .buffer_unordered(parallel)
        .collect()
        .await;
    crate::timing::mark("renamed and retired");
    for f in done.into_iter().chain(finished) {
        match f {
            Ok(f) => {
                // The secret files of the previous version go (a draining
                // one keeps reading its own: a bind mount holds the file).
                // A container only started again keeps the folder it was
                // created with (made before its name was keyed, perhaps).
                if f.kind != replace::UpKind::Started {
                    apps::forget_secrets(&f.name, by_name.get(f.name.as_str()).copied(), settings);
                }
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
            // A container no longer configured: its secret files go too
            // (a second one of a configured name leaves the name's files).
            if !by_name.contains_key(name.as_str()) {
                apps::forget_secrets(name, None, settings);
            }
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
    // 7. Networks no container uses any more.
    failures.extend(apps::remove_networks(plan, backends).await);
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
    name.ends_with(crate::plan::observed::NEXT_SUFFIX)
        || name.contains(crate::plan::observed::OLD_MARK)
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
mod tests;
