//! `instance` and `reconfigure`: EOLE's steps, in EOLE's order, around the
//! planner and the executor.
//!
//! Everything that can be checked is checked before anything changes: the
//! values, the templates (rendered in memory), the launch plans, the engine
//! (one snapshot), and the plan (name clashes, mounts, unsupported types).
//! Only then do the steps run:
//!
//! 0. images pulled and built (nothing else changes until they are there),
//! 1. preservice hooks, 2. pretemplate hooks, 3. templates written,
//! 4. posttemplate hooks, 5. containers converged, 6. nginx applied,
//! 7. postservice hooks.
//!
//! A failed convergence stops the run before nginx: the proxy keeps the
//! routes it had. One run at a time: a second one says who holds the lock.

use std::collections::HashMap;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use crate::backend::git::GitError;
use crate::backend::{BackendError, Backends, Progress};
use crate::config::{Config, ConfigError};
use crate::converge::{self, ConvergeError, Report, Settings};
use crate::hooks::{self, HookError};
use crate::label_key;
use crate::paths::Paths;
use crate::paths::server_id;
use crate::plan::desired::{
    DesiredError, allow_system_mounts, desired, launch_path, read_launch, resolve_binds,
};
use crate::plan::launch::Launch;
use crate::plan::observed::Observed;
use crate::plan::{self, Plan, PlanError};
use crate::proxy::{self, ProxyError};
use crate::template;

pub mod cli;
pub mod drain;
pub mod release;
pub mod rollback;
pub mod status;
pub mod swapped;
pub mod swarm;

/// `instance` (first configuration), `reconfigure`, or `rollback` (a
/// reconfigure with a release's values: [`rollback`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Instance,
    Reconfigure,
    /// To the release of this number.
    Rollback(u64),
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Instance => "instance",
            Mode::Reconfigure => "reconfigure",
            Mode::Rollback(_) => "rollback",
        }
    }

    /// The argument the hooks receive: EOLE's hooks know only `instance`
    /// and `reconfigure`, and a rollback is a reconfigure.
    fn hook_arg(self) -> &'static str {
        match self {
            Mode::Instance => "instance",
            Mode::Reconfigure | Mode::Rollback(_) => "reconfigure",
        }
    }
}

/// The admin's choices for one run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Pull moving tags (latest…) again.
    pub pull: bool,
    /// Only progress lines, no bars (also when stderr is not a terminal).
    pub quiet: bool,
    /// Stop the running containers whose host folder was swapped
    /// ([`swapped`]) before anything else: a run does, `plan` only says.
    pub stop_swapped: bool,
}

/// Why a run stopped. Each says what was left as it was.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("another conteneur run holds the lock {path}: {holder}; wait for it to end")]
    Locked { path: PathBuf, holder: String },
    #[error(
        "this server has never been instantiated: run `instance` first (reconfigure re-applies a configuration that instance set up)"
    )]
    NotInstantiated,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}\nnothing was changed")]
    Desired(#[from] DesiredError),
    #[error("{0}; nothing was changed")]
    Engine(BackendError),
    #[error("container '{name}': {error}; nothing was changed")]
    Source { name: String, error: GitError },
    #[error("{0}; nothing was changed")]
    Plan(PlanError),
    #[error("{0}; nothing was changed")]
    Swarm(plan::swarm::SwarmPlanError),
    #[error("{0}\nnginx was not touched: it keeps serving the previous routes")]
    SwarmStep(BackendError),
    #[error(
        "{}\nthe previous version of each serves; fix its configuration (tag, health check…) and run reconfigure again",
        .0.iter().map(|(n, why)| format!("container '{n}': Swarm rolled its update back ({why})")).collect::<Vec<_>>().join("\n")
    )]
    RolledBack(Vec<(String, String)>),
    #[error("{}\nnothing else was changed", .0.join("\n"))]
    Swapped(Vec<String>),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error("writing the rendered files failed: {0}")]
    Write(String),
    #[error("{err}\n{note}", err = .0, note = nginx_note(.0))]
    Converge(ConvergeError),
    #[error("{0}")]
    Proxy(ProxyError),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
}

impl From<label_key::KeyError> for RunError {
    fn from(e: label_key::KeyError) -> RunError {
        RunError::Io {
            path: e.path,
            message: e.message,
        }
    }
}

/// What a failed convergence means for the web front, which was not
/// touched: its routes still point where they did, and those of containers
/// left stopped answer 502.
fn nginx_note(e: &ConvergeError) -> String {
    let down = e.down();
    if matches!(e, ConvergeError::Pull(_) | ConvergeError::Switch { .. }) {
        "nginx was not touched: it keeps serving the previous routes".into()
    } else if down.is_empty() {
        "nginx serves the containers that came up; the others keep their previous routes".into()
    } else {
        format!(
            "the routes of {} answer 502 (Bad Gateway) until their containers run again; \
             nginx serves the others",
            down.join(", ")
        )
    }
}

/// The exclusive lock of a run: a `flock` on `run.lock`, and who holds it
/// in `run.holder`. The holder is written to a temporary file renamed into
/// place once the lock is taken, so a loser never reads it half-written,
/// and removed before the lock is let go. A holder left by a run killed
/// with -9 names a dead process: it is never reported.
pub struct RunLock {
    holder: PathBuf,
    _lock: Flock<File>,
}

/// How long a loser waits for a winner that has just taken the lock to say
/// who it is.
const HOLDER_WAIT: Duration = Duration::from_millis(300);

impl RunLock {
    pub fn path(paths: &Paths) -> PathBuf {
        paths.state.join("run.lock")
    }

    /// The file naming the run that holds the lock.
    pub fn holder_path(paths: &Paths) -> PathBuf {
        paths.state.join("run.holder")
    }

    /// Takes the lock or says who has it.
    pub fn acquire(paths: &Paths, what: &str) -> Result<RunLock, RunError> {
        let path = Self::path(paths);
        let holder_path = Self::holder_path(paths);
        let io = |p: &Path, e: std::io::Error| RunError::Io {
            path: p.to_path_buf(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            crate::folders::create_dir_all(dir, crate::folders::PUBLIC).map_err(|e| io(dir, e))?;
        }
        let file = crate::folders::open_lock(&path).map_err(|e| io(&path, e))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => {
                let me = std::process::id();
                let text = format!(
                    "pid {me} running `{what}` since {}\nstart {}\n",
                    humantime_now(),
                    start_time(me).unwrap_or_default()
                );
                crate::backend::write_atomic(&holder_path, text.as_bytes())
                    .map_err(|e| io(&holder_path, e))?;
                Ok(RunLock {
                    holder: holder_path,
                    _lock: lock,
                })
            }
            Err(_) => {
                let begin = std::time::Instant::now();
                let holder = loop {
                    if let Some(h) = live_holder(&holder_path) {
                        break h;
                    }
                    if begin.elapsed() >= HOLDER_WAIT {
                        break "a run that is starting or ending (it has not said who it is)"
                            .to_string();
                    }
                    std::thread::sleep(Duration::from_millis(20));
                };
                Err(RunError::Locked { path, holder })
            }
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Before the lock goes (the field drops after this): the next
        // winner's holder is never removed by this one.
        let _ = std::fs::remove_file(&self.holder);
    }
}

/// When process `pid` started (field 22 of `/proc/PID/stat`, in clock
/// ticks since boot): a pid reused by another process has another one.
fn start_time(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // After the state come ppid (4th field) … starttime (22nd).
    fields.nth(22 - 4)?.parse().ok()
}

/// The holder line of `path` when it names a live process (the one that
/// wrote it, not a later one with the same pid).
fn live_holder(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let line = lines.next()?.trim().to_string();
    let pid: u32 = line.strip_prefix("pid ")?.split(' ').next()?.parse().ok()?;
    let recorded: u64 = lines
        .find_map(|l| l.strip_prefix("start "))
        .and_then(|s| s.trim().parse().ok())?;
    (start_time(pid)? == recorded).then_some(line)
}

/// The time of day, for the lock's holder line.
fn humantime_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    format!("{h:02}:{m:02}:{s:02} UTC")
}

/// What a successful run did.
#[derive(Debug, Default)]
pub struct RunReport {
    pub plan: Plan,
    pub converged: Report,
    pub files_changed: Vec<PathBuf>,
    pub proxy_changed: bool,
    /// Under swarm: what the swarm's part did.
    pub swarm: Option<swarm::SwarmReport>,
    /// The image id of each configured `image:tag`, for the audit trail.
    pub images: std::collections::BTreeMap<String, String>,
}

/// Everything checked before a run changes anything.
pub struct Prepared {
    pub cfg: Config,
    pub rendered: Vec<template::Rendered>,
    pub desired: Vec<Launch>,
    pub observed: Observed,
    pub plan: Plan,
    /// Every engine of the machine; those the configuration needs are
    /// reachable.
    pub backends: Backends,
    /// Under `conteneur_orchestrator` swarm: the swarm's part.
    pub swarm: Option<swarm::SwarmRun>,
    /// The key of this server's plan labels (not saved yet on a server
    /// that never ran: `plan` changes nothing).
    pub label_key: label_key::Loaded,
}

/// Loads, checks, renders in memory, snapshots the engine and plans.
pub async fn prepare(paths: &Paths, opts: &Options) -> Result<Prepared, RunError> {
    prepare_with(Config::load(paths)?, paths, opts).await
}

/// [`prepare`] with a configuration already loaded (a rollback's: a
/// release's values, not saved yet).
pub async fn prepare_with(
    cfg: Config,
    paths: &Paths,
    opts: &Options,
) -> Result<Prepared, RunError> {
    let (rendered, desired) = desired(&cfg, paths)?;
    crate::timing::mark("configuration loaded and rendered");
    // Under swarm the docker containers are the swarm's; the local engines
    // keep the others (and lose the docker ones, which move).
    let (desired, on_swarm) = if swarm::is_swarm(&cfg) {
        plan::swarm::split(desired)
    } else {
        (desired, Vec::new())
    };
    // Types conteneur cannot run (snapcraft, vagrant), and settings an
    // engine cannot take, are refused before any engine is even asked.
    for d in desired.iter().chain(&on_swarm) {
        plan::check_type(d).map_err(RunError::Plan)?;
    }
    // Applications are checked whole: a container on the swarm may depend
    // on one the local engine keeps.
    let all: Vec<Launch> = desired.iter().chain(&on_swarm).cloned().collect();
    plan::apps::check(&all).map_err(RunError::Plan)?;
    // Where each host folder really leads, symbolic links followed, before
    // anything changes (and again right before its container is created).
    let mounts_checked = resolve_binds(
        &paths.root,
        desired.iter().chain(&on_swarm),
        allow_system_mounts(&cfg),
    )
    .map_err(|e| RunError::Plan(e.into()));
    // A run first stops the containers whose folder was swapped (below).
    let mounts_checked = if opts.stop_swapped {
        Some(mounts_checked)
    } else {
        mounts_checked?;
        None
    };
    let label_key = label_key::load(paths)?;
    // The engines' snapshot and, off the swarm, what this server left on
    // one: independent questions, asked together.
    let accel = vm_accel(&cfg);
    let engines = async {
        let mut backends = Backends::connect_with(&paths.state, accel).await;
        // A run (not `plan`, which only says) first brings back what should
        // run and no supervisor restarts: VMs after a reboot.
        if opts.stop_swapped {
            for (kind, name, e) in backends.revive().await {
                eprintln!("conteneur: {kind} '{name}' could not be started again: {e}");
            }
        }
        let observed = backends.inspect().await;
        (backends, observed)
    };
    let leftovers = async {
        if swarm::is_swarm(&cfg) {
            Ok(None)
        } else {
            // Back to local: services this server left on the swarm go.
            swarm::leftovers(&cfg, paths, &label_key.key).await
        }
    };
    let ((backends, mut observed), leftovers) = tokio::join!(engines, leftovers);
    crate::timing::mark("engines connected and listed");
    if let Some(checked) = mounts_checked {
        // A running container handed another folder than it was given
        // since: stopped, and the run goes no further.
        let swapped =
            swapped::stop_swapped(&backends, &observed, &server_id(paths), &paths.state).await;
        if !swapped.is_empty() {
            return Err(RunError::Swapped(swapped));
        }
        checked?;
    }
    observed.draining = drain::draining(paths);
    // An engine no container needs may be missing (a server without LXC
    // containers needs no LXC); one that is needed may not.
    for kind in plan::kinds_needed(&desired).keys() {
        if let Some(e) = backends.unreachable(*kind) {
            return Err(RunError::Engine(e.clone()));
        }
    }
    // Where the git tags of docker+git containers point now (read only).
    let cred = git_credentials(&cfg);
    for (d, commit) in read_sources(&desired, &observed, &cred).await {
        let commit = commit.map_err(|error| RunError::Source {
            name: d.name.clone(),
            error,
        })?;
        observed
            .sources
            .insert((d.repository.clone(), d.tag.clone()), commit);
    }
    let plan_opts = plan_options(&cfg, paths, opts.pull, &label_key.key);
    let plan = plan::reconcile(&desired, &observed, &plan_opts).map_err(RunError::Plan)?;
    let swarm = if swarm::is_swarm(&cfg) {
        Some(swarm::prepare(&cfg, paths, &on_swarm, &label_key.key).await?)
    } else {
        leftovers?
    };
    Ok(Prepared {
        cfg,
        rendered,
        desired,
        observed,
        plan,
        backends,
        swarm,
        label_key,
    })
}

/// Where the git tags of the docker+git containers of `desired` point now,
/// those `observed` does not know yet: each repository and tag read once
/// (read only), all at once.
pub(crate) async fn read_sources<'a>(
    desired: &'a [Launch],
    observed: &Observed,
    cred: &converge::GitCredentials,
) -> Vec<(&'a Launch, Result<String, GitError>)> {
    let mut asked = std::collections::HashSet::new();
    let todo: Vec<&Launch> = desired
        .iter()
        .filter(|d| d.backend == "docker+git" && !d.repository.trim().is_empty())
        .filter(|d| {
            let key = (d.repository.clone(), d.tag.clone());
            !observed.sources.contains_key(&key) && asked.insert(key)
        })
        .collect();
    let commits = futures_util::future::join_all(
        todo.iter()
            .map(|d| crate::backend::git::resolve(&d.repository, &d.tag, cred.get(&d.repository))),
    )
    .await;
    todo.into_iter().zip(commits).collect()
}

/// `conteneur_vm_accel`: how VMs run (the dictionary's check refuses any
/// other word; unset: auto).
pub fn vm_accel(cfg: &Config) -> crate::backend::vm::AccelChoice {
    cfg.first("conteneur_vm_accel")
        .and_then(|t| crate::backend::vm::AccelChoice::parse(t.trim()))
        .unwrap_or_default()
}

/// The planner's settings for this server (`pull`: pull moving tags again;
/// `label_key`: the key the plan labels are sealed with).
pub fn plan_options(
    cfg: &Config,
    paths: &Paths,
    pull: bool,
    label_key: &plan::redact::LabelKey,
) -> plan::Options {
    plan::Options {
        server: server_id(paths),
        pull_moving: pull,
        allow_system_mounts: allow_system_mounts(cfg),
        label_key: label_key.clone(),
        drain_grace: number(cfg, "conteneur_drain_grace", 30),
        new_defaults: cfg.first("conteneur_new_defaults").as_deref() == Some("oui"),
        adopt_volumes: cfg.first("conteneur_adopt_volumes").as_deref() == Some("oui"),
    }
}

/// A numeric setting, `default` when unset or not a number.
pub(super) fn number(cfg: &Config, name: &str, default: u64) -> u64 {
    cfg.first(name)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// `instance` or `reconfigure`, start to end. `log` receives the lines an
/// admin reads as the run goes.
pub async fn run(
    paths: &Paths,
    mode: Mode,
    opts: &Options,
    log: &mut dyn Write,
) -> Result<RunReport, RunError> {
    let _lock = RunLock::acquire(paths, mode.name())?;
    crate::timing::mark("run lock taken");
    if mode != Mode::Instance && !paths.instance_marker.exists() {
        return Err(RunError::NotInstantiated);
    }
    let prepared = prepare(paths, opts).await?;
    execute(paths, mode, opts, prepared, log).await
}

/// A run once prepared, under the run lock its caller holds.
pub(crate) async fn execute(
    paths: &Paths,
    mode: Mode,
    opts: &Options,
    prepared: Prepared,
    log: &mut dyn Write,
) -> Result<RunReport, RunError> {
    let Prepared {
        mut cfg,
        rendered,
        desired,
        observed,
        plan,
        backends,
        swarm,
        label_key,
    } = prepared;
    crate::timing::mark("planned");
    // The first run keeps the key its plan was made with.
    label_key.store(paths)?;
    if swarm.is_none() || !plan.steps.is_empty() {
        let _ = write!(log, "{plan}");
    }
    if let Some(s) = &swarm {
        let _ = write!(log, "{}", s.plan);
    }
    let arg = mode.hook_arg();
    let root = paths.root.display().to_string();
    let env = [("CONTENEUR_ROOT", root.as_str())];
    let hook_timeout =
        Duration::from_secs(number(&cfg, "conteneur_hook_timeout", hooks::DEFAULT_TIMEOUT).max(1));
    // Hooks not root's alone are refused before anything is pulled or run.
    hooks::check(&paths.hooks)?;

    let settings = Settings {
        server: server_id(paths),
        parallel: number(&cfg, "conteneur_parallel", 4).clamp(1, 64) as usize,
        health_timeout: Duration::from_secs(number(&cfg, "conteneur_health_timeout", 30).max(1)),
        git_cache: paths.state.join("git"),
        pull_timeout: Duration::from_secs(number(&cfg, "conteneur_pull_timeout", 60).max(1)),
        build_timeout: Duration::from_secs(number(&cfg, "conteneur_build_timeout", 600).max(1)),
        allow_system_mounts: allow_system_mounts(&cfg),
        label_key: label_key.key,
        secrets_dir: paths.state.join("secrets"),
        secret_values: secret_values(&cfg),
        git_credentials: git_credentials(&cfg),
    };
    // Images first: a pull that fails leaves every file as it was (the
    // templates would otherwise name a tag that does not run).
    let progress = make_progress(opts.quiet);
    let images = converge::prepare_images(
        &plan,
        &observed.image_ids(),
        &backends,
        &settings,
        progress.as_ref(),
    )
    .await
    .map_err(RunError::Converge)?;
    crate::timing::mark("images present");

    hooks::run_phase(&paths.hooks, "preservice", arg, &env, hook_timeout)?;
    hooks::run_phase(&paths.hooks, "pretemplate", arg, &env, hook_timeout)?;
    let changes = template::write_all(&rendered).map_err(|e| RunError::Write(e.to_string()))?;
    let files_changed: Vec<PathBuf> = changes.changed().cloned().collect();
    hooks::run_phase(&paths.hooks, "posttemplate", arg, &env, hook_timeout)?;

    // Generated values (a secret's gen_random) are kept before any
    // container receives them: a database initialised with a password
    // must find the same one at the next run, even if this one fails.
    cfg.persist_computed("auto");
    if cfg.is_dirty() {
        cfg.save(paths, None)
            .map_err(|e| RunError::Config(e.into()))?;
    }
    if let Some(s) = &swarm {
        swarm::before_local(s, log).await?;
    }
    let proxy_mode = proxy::Mode::from_config(&cfg).map_err(RunError::Proxy)?;
    let grace = Duration::from_secs(number(&cfg, "conteneur_drain_grace", 30));
    let switch = ProxySwitch {
        paths,
        mode: proxy_mode,
        desired: &desired,
        changed: std::sync::atomic::AtomicBool::new(false),
        retired: std::sync::Mutex::new(Vec::new()),
        grace,
        recorded: std::sync::Mutex::new(Vec::new()),
    };
    // Always: the switch also publishes a site that changed alone.
    crate::timing::mark("files written, hooks run");
    let converged = converge::converge_containers(
        &plan,
        &desired,
        &images,
        &backends,
        &paths.root,
        &settings,
        &switch,
    )
    .await;
    let recorded = switch
        .recorded
        .lock()
        .map(|d| d.clone())
        .unwrap_or_default();
    match &converged {
        // No switch: the instances recorded to drain still serve.
        Err(converge::ConvergeError::Switch { .. }) => {
            if let Err(e) = drain::forget(paths, &recorded) {
                eprintln!("conteneur: {e}");
            }
        }
        // The plan removed instances whose drain was over (or
        // interrupted): out of the journal.
        Ok(report) => {
            let gone = drained_ids(&plan, &report.removed);
            if let Err(e) = drain::forget(paths, &gone) {
                eprintln!("conteneur: {e}");
            }
        }
        Err(_) => {}
    }
    // Replaced containers drain even when another container failed.
    let draining = switch.retired.lock().map(|d| d.clone()).unwrap_or_default();
    match drain::hand_over(paths, &backends, &draining, grace).await {
        Ok(said) if !said.is_empty() => {
            let _ = writeln!(log, "{said}");
        }
        Ok(_) => {}
        Err(e) => eprintln!("conteneur: {e}"),
    }
    let converged = converged.map_err(RunError::Converge)?;
    // The swarm's services are reached through its own front on their
    // port_out: the site's backends without a local route go there
    // (proxy::forward), so the switch above already covers them.
    let swarm_report = match &swarm {
        Some(s) => Some(swarm::after_local(s, log).await?),
        None => None,
    };
    if proxy_mode == proxy::Mode::Private {
        proxy::ensure_started(paths).map_err(RunError::Proxy)?;
    }
    hooks::run_phase(&paths.hooks, "postservice", arg, &env, hook_timeout)?;

    if mode == Mode::Instance {
        if let Some(dir) = paths.instance_marker.parent() {
            let _ = crate::folders::create_dir_all(dir, crate::folders::PUBLIC);
        }
        std::fs::write(&paths.instance_marker, b"").map_err(|e| RunError::Io {
            path: paths.instance_marker.clone(),
            message: e.to_string(),
        })?;
    }
    // Values computed once (gen_random, auto_save) are kept from now on.
    cfg.persist_computed("auto");
    if cfg.is_dirty() {
        cfg.save(paths, None)
            .map_err(|e| RunError::Config(e.into()))?;
    }
    if let Some(r) = &swarm_report
        && !r.rolled_back.is_empty()
    {
        return Err(RunError::RolledBack(r.rolled_back.clone()));
    }
    let images: std::collections::BTreeMap<String, String> = desired
        .iter()
        .filter_map(|d| {
            let reference = format!("{}:{}", d.image, d.tag);
            let kind = crate::plan::observed::Kind::of_type(&d.backend)?;
            let id = images.ids.get(&(kind, reference.clone()))?;
            Some((reference, id.clone()))
        })
        .collect();
    // A release of what is in place now (conteneur releases).
    let kept = number(&cfg, "conteneur_releases_kept", release::DEFAULT_KEPT);
    if let Err(e) = release::record(
        paths,
        mode.name(),
        release::values(&cfg, &settings.label_key),
        images.clone(),
        release::files_hash(&rendered),
        kept,
        match mode {
            Mode::Rollback(n) => Some(n),
            _ => None,
        },
    ) {
        let _ = writeln!(
            log,
            "warning: the release could not be recorded under {}: {e}",
            release::dir(paths).display()
        );
    }
    crate::timing::mark("run done");
    Ok(RunReport {
        plan,
        converged,
        files_changed,
        proxy_changed: switch.changed.load(std::sync::atomic::Ordering::Relaxed),
        swarm: swarm_report,
        images,
    })
}

/// The executor's switch: nginx is pointed at the new instances (site and
/// stream forwards checked, swapped in, reloaded) by [`proxy::apply_with`].
struct ProxySwitch<'a> {
    paths: &'a Paths,
    mode: proxy::Mode,
    desired: &'a [Launch],
    changed: std::sync::atomic::AtomicBool,
    /// What the executor handed over to drain.
    retired: std::sync::Mutex<Vec<converge::Draining>>,
    /// `conteneur_drain_grace`.
    grace: Duration,
    /// The instances recorded in the drain journal before the switch.
    recorded: std::sync::Mutex<Vec<String>>,
}

/// The ids of the replaced instances (`NAME.old.ID`) the plan removed and
/// the run did remove.
fn drained_ids(plan: &plan::Plan, removed: &[String]) -> Vec<String> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.action {
            plan::Action::Remove { name, id, .. }
                if name.contains(crate::plan::observed::OLD_MARK) && removed.contains(name) =>
            {
                Some(id.clone())
            }
            _ => None,
        })
        .collect()
}

/// Where nginx sends each configured port: the routes the executor gives,
/// with each port's publish address from the launch plans.
pub fn proxy_routes(desired: &[Launch], routes: &converge::Routes) -> proxy::Routes {
    let mut forwards = Vec::new();
    for d in desired {
        let Some(ports) = routes.get(&d.name) else {
            continue;
        };
        for p in &d.ports {
            if let Some(host) = ports.0.get(&p.host) {
                forwards.push(proxy::Forward {
                    name: d.name.clone(),
                    out: p.host,
                    listen: p.address.clone(),
                    host: *host,
                });
            }
        }
    }
    proxy::Routes { forwards }
}

#[async_trait::async_trait]
impl converge::Switch for ProxySwitch<'_> {
    async fn switch(&self, routes: &converge::Routes) -> Result<(), String> {
        let opts = proxy::Options {
            routes: Some(proxy_routes(self.desired, routes)),
            ..proxy::Options::default()
        };
        let (paths, mode) = (self.paths.clone(), self.mode);
        // nginx -T and the wait for new workers block: off the runtime.
        let applied = tokio::task::spawn_blocking(move || {
            proxy::apply_with(&paths, mode, &proxy::staged_site(&paths), &opts)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        if !applied.unchanged() {
            self.changed
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    fn retire(&self, draining: &[converge::Draining]) {
        if let Ok(mut r) = self.retired.lock() {
            r.extend_from_slice(draining);
        }
    }

    fn before_switch(&self, draining: &[converge::Draining]) -> Result<(), String> {
        drain::record(self.paths, draining, self.grace)?;
        if let Ok(mut r) = self.recorded.lock() {
            r.extend(draining.iter().map(|d| d.id.clone()));
        }
        Ok(())
    }
}

/// The secrets' values, for the executor (they never reach a file other
/// than the secret files, nor a log).
/// The credentials of the docker+git repositories (`conteneurX_repository`
/// = `http://user:TOKEN@…`), by their URL without them: what the launch
/// plans carry (docs/security.md, "Credentials in URLs").
pub fn git_credentials(cfg: &Config) -> converge::GitCredentials {
    let count = number(cfg, "nombre_conteneur", 0);
    (1..=count)
        .filter_map(|x| cfg.first(&format!("conteneur{x}_repository")))
        .filter_map(|url| match crate::userinfo::split(&url) {
            (public, Some(c)) => Some((public, c)),
            _ => None,
        })
        .collect()
}

pub fn secret_values(cfg: &Config) -> converge::SecretValues {
    let items = |name: &str| -> Vec<Option<String>> {
        cfg.get(name)
            .map(|v| {
                v.items()
                    .into_iter()
                    .map(|i| i.map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let values = items("conteneur_secret_value");
    converge::SecretValues(
        items("conteneur_secret_name")
            .into_iter()
            .enumerate()
            .filter_map(|(i, n)| Some((n?, values.get(i).cloned().flatten()?)))
            .collect(),
    )
}

/// Pull progress: bars on a terminal, one line per image otherwise.
fn make_progress(quiet: bool) -> Box<dyn Progress> {
    if !quiet && std::io::stderr().is_terminal() {
        Box::new(BarProgress::default())
    } else {
        Box::new(LineProgress)
    }
}

/// One line per image, for logs and pipes.
struct LineProgress;

impl Progress for LineProgress {
    fn update(&self, _image: &str, _status: &str) {}
    fn done(&self, image: &str, result: &Result<String, BackendError>) {
        match result {
            Ok(id) if id.is_empty() => {}
            Ok(id) => eprintln!("ready: {image} ({})", crate::plan::observed::short_id(id)),
            Err(e) => eprintln!("failed: {e}"),
        }
    }
}

/// A spinner per image on a terminal.
#[derive(Default)]
struct BarProgress {
    multi: indicatif::MultiProgress,
    bars: std::sync::Mutex<HashMap<String, indicatif::ProgressBar>>,
}

impl BarProgress {
    fn bar(&self, image: &str) -> Option<indicatif::ProgressBar> {
        let mut bars = self.bars.lock().ok()?;
        Some(
            bars.entry(image.to_string())
                .or_insert_with(|| {
                    let b = self.multi.add(indicatif::ProgressBar::new_spinner());
                    b.set_prefix(image.to_string());
                    if let Ok(style) =
                        indicatif::ProgressStyle::with_template("{spinner} {prefix}: {wide_msg}")
                    {
                        b.set_style(style);
                    }
                    b.enable_steady_tick(Duration::from_millis(120));
                    b
                })
                .clone(),
        )
    }
}

impl Progress for BarProgress {
    fn update(&self, image: &str, status: &str) {
        if let Some(b) = self.bar(image) {
            b.set_message(status.to_string());
        }
    }
    fn done(&self, image: &str, result: &Result<String, BackendError>) {
        if let Some(b) = self.bar(image) {
            match result {
                Ok(id) => b.finish_with_message(format!(
                    "ready ({})",
                    crate::plan::observed::short_id(id)
                )),
                Err(e) => b.abandon_with_message(format!("failed: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_names_its_live_holder_and_forgets_it_when_let_go() {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::new(root.path());
        let lock = RunLock::acquire(&paths, "instance").unwrap();
        let holder = std::fs::read_to_string(RunLock::holder_path(&paths)).unwrap();
        assert!(holder.starts_with(&format!("pid {} running `instance`", std::process::id())));
        let e = RunLock::acquire(&paths, "reconfigure").err().unwrap();
        let text = e.to_string();
        assert!(
            text.contains(&format!("pid {} running `instance`", std::process::id()))
                && !text.contains("start "),
            "{text}"
        );
        drop(lock);
        assert!(!RunLock::holder_path(&paths).exists());
        assert!(RunLock::acquire(&paths, "reconfigure").is_ok());
    }

    #[test]
    fn a_dead_pid_is_never_reported_as_the_holder() {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::new(root.path());
        // A process that has ended, whose holder text was left behind (a
        // run killed with -9), while someone holds the lock.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let lock = RunLock::acquire(&paths, "instance").unwrap();
        std::fs::write(
            RunLock::holder_path(&paths),
            format!("pid {dead} running `reconfigure` since 00:00:00 UTC\nstart 1\n"),
        )
        .unwrap();
        let text = RunLock::acquire(&paths, "reconfigure")
            .err()
            .unwrap()
            .to_string();
        assert!(
            !text.contains(&format!("pid {dead}")) && text.contains("has not said who it is"),
            "{text}"
        );
        drop(lock);
    }
}
