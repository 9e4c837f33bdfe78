//! The command-line side of `plan`, `instance`, `reconfigure` and `status`.

use clap::Args;

use super::rollback::RollbackError;
use super::{Mode, Options, RunError, prepare, run};
use crate::exit::{
    EXIT_INVALID_CONFIG, EXIT_LOCKED, EXIT_REFUSED, EXIT_RUN_FAILED, EXIT_SYSTEM, Failure,
};
use crate::paths::Paths;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Plan pulls of moving tags (latest…) too.
    #[arg(long)]
    pub pull: bool,
    /// What `rollback N` would do: the plan against release N's values
    /// (config.eol is not changed).
    #[arg(long, value_name = "N")]
    pub release: Option<u64>,
}

/// `rollback`: a release's values back, then a reconfigure.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The release (`conteneur releases`); default: the one before the
    /// newest.
    pub release: Option<u64>,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Pull moving tags (latest…) again even when present.
    #[arg(long)]
    pub pull: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `reconfigure`: a run, and what another package's maintainer script needs.
#[derive(Debug, Args)]
pub struct ReconfigureArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Do nothing and exit 0 on a server never instantiated (for other
    /// packages' postinst: `conteneur reconfigure --if-instantiated`).
    #[arg(long)]
    pub if_instantiated: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
    /// First complete what is due: the replaced containers whose drain is
    /// over are stopped and removed (as `conteneur drain` does).
    #[arg(long)]
    pub repair: bool,
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            code: EXIT_SYSTEM,
            message: format!("cannot start the async runtime: {e}"),
        })
}

fn failure(e: RunError) -> Failure {
    let code = match &e {
        RunError::Locked { .. } => EXIT_LOCKED,
        RunError::Config(_) | RunError::Desired(_) => EXIT_INVALID_CONFIG,
        _ => EXIT_RUN_FAILED,
    };
    Failure {
        code,
        message: e.to_string(),
    }
}

/// `conteneur drain`: completes the drains that are due (see
/// [`super::drain`]); what `conteneur-drain.timer` runs.
pub fn cmd_drain(paths: &Paths) -> Result<u8, Failure> {
    let rt = runtime()?;
    match rt.block_on(super::drain::drain_main(paths)) {
        Ok(said) => {
            if !said.is_empty() {
                println!("{said}");
            }
            Ok(0)
        }
        Err(message) => Err(Failure {
            code: EXIT_RUN_FAILED,
            message,
        }),
    }
}

pub fn cmd_plan(paths: &Paths, a: PlanArgs) -> Result<u8, Failure> {
    let rt = runtime()?;
    let opts = Options {
        pull: a.pull,
        quiet: true,
        stop_swapped: false,
    };
    let prepared = match a.release {
        Some(n) => {
            let (restored, prepared) = rt
                .block_on(super::rollback::plan(paths, n, &opts))
                .map_err(rollback_failure)?;
            if !a.json {
                print!("{}", restored.text());
            }
            prepared
        }
        None => rt.block_on(prepare(paths, &opts)).map_err(failure)?,
    };
    let swarm = prepared.swarm.as_ref().map(|s| &s.plan);
    if a.json {
        let mut value = serde_json::to_value(&prepared.plan).unwrap_or_default();
        if let (Some(p), Some(obj)) = (swarm, value.as_object_mut()) {
            obj.insert("swarm".into(), serde_json::to_value(p).unwrap_or_default());
        }
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        println!("{text}");
    } else {
        if swarm.is_none() || !prepared.plan.steps.is_empty() {
            print!("{}", prepared.plan);
        }
        if let Some(p) = swarm {
            print!("{p}");
        }
    }
    Ok(0)
}

fn rollback_failure(e: RollbackError) -> Failure {
    match e {
        RollbackError::Run(e) => failure(*e),
        RollbackError::Value { .. } => Failure {
            code: EXIT_INVALID_CONFIG,
            message: e.to_string(),
        },
        e => Failure {
            code: EXIT_REFUSED,
            message: e.to_string(),
        },
    }
}

/// `conteneur rollback [N]`: see [`super::rollback`].
pub fn cmd_rollback(paths: &Paths, a: RollbackArgs) -> Result<u8, Failure> {
    let rt = runtime()?;
    let opts = Options {
        pull: false,
        quiet: a.quiet,
        stop_swapped: true,
    };
    let mut out = std::io::stdout();
    let (restored, report) = rt
        .block_on(super::rollback::rollback(paths, a.release, &opts, &mut out))
        .map_err(rollback_failure)?;
    crate::audit::note("release", restored.number);
    crate::audit::note("variables", restored.changed.clone());
    crate::audit::note("secrets_kept", restored.secrets_kept.clone());
    summary(Mode::Rollback(restored.number), &report);
    Ok(0)
}

pub fn cmd_run(paths: &Paths, mode: Mode, a: RunArgs) -> Result<u8, Failure> {
    let rt = runtime()?;
    let opts = Options {
        pull: a.pull,
        quiet: a.quiet,
        stop_swapped: true,
    };
    let mut out = std::io::stdout();
    let report = rt
        .block_on(run(paths, mode, &opts, &mut out))
        .map_err(failure)?;
    summary(mode, &report);
    Ok(0)
}

/// What a run did: into the audit trail, and one line (two under swarm).
fn summary(mode: Mode, report: &super::RunReport) {
    audit_run(report);
    let c = &report.converged;
    println!(
        "{}: {} created, {} replaced, {} started, {} removed, {} unchanged; {} file(s) rewritten; nginx {}",
        mode.name(),
        c.created.len(),
        c.replaced.len(),
        c.started.len(),
        c.removed.len(),
        c.left.len(),
        report.files_changed.len(),
        if report.proxy_changed {
            "reloaded"
        } else {
            "unchanged"
        }
    );
    if let Some(s) = &report.swarm {
        println!(
            "{}: swarm: {} service(s) converged{}",
            mode.name(),
            s.converged.len(),
            if s.converged.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.converged.join(", "))
            }
        );
    }
}

/// What a run changed, for the audit trail: the plan's steps (those that
/// do something), what was done, the image ids. The plan's text never holds
/// a secret.
fn audit_run(report: &super::RunReport) {
    let steps: Vec<String> = report
        .plan
        .to_string()
        .lines()
        .filter(|l| !l.starts_with("leave") && !l.starts_with("nothing to do"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let c = &report.converged;
    crate::audit::note("steps", steps);
    crate::audit::note(
        "done",
        serde_json::json!({
            "created": c.created, "replaced": c.replaced, "started": c.started,
            "removed": c.removed, "pulled": c.pulled, "built": c.built,
        }),
    );
    crate::audit::note(
        "files",
        report
            .files_changed
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>(),
    );
    crate::audit::note(
        "images",
        serde_json::to_value(&report.images).unwrap_or_default(),
    );
    if let Some(s) = &report.swarm {
        crate::audit::note("swarm_services", s.converged.clone());
    }
}

pub fn cmd_reconfigure(paths: &Paths, a: ReconfigureArgs) -> Result<u8, Failure> {
    if a.if_instantiated && !paths.instance_marker.exists() {
        // Nothing is done: nothing to audit (and nothing written).
        crate::audit::skip();
        println!(
            "reconfigure: this server was never instantiated ({} is missing): nothing to do",
            paths.instance_marker.display()
        );
        return Ok(0);
    }
    cmd_run(paths, Mode::Reconfigure, a.run)
}

pub fn cmd_status(paths: &Paths, a: StatusArgs) -> Result<u8, Failure> {
    let rt = runtime()?;
    if a.repair {
        match rt.block_on(super::drain::drain_main(paths)) {
            Ok(said) if !said.is_empty() => eprintln!("{said}"),
            Ok(_) => {}
            Err(e) => eprintln!("conteneur: {e}"),
        }
    }
    let cfg = crate::config::Config::load(paths).map_err(Failure::from)?;
    // What the configuration wants now; if it cannot be rendered, what the
    // last run wrote.
    let (rendered, desired) = match super::desired(&cfg, paths) {
        Ok(d) => d,
        Err(_) => (
            Vec::new(),
            super::read_launch(&super::launch_path(paths)).unwrap_or_default(),
        ),
    };
    // Under swarm the docker containers are services: shown apart.
    let on_swarm = super::swarm::is_swarm(&cfg);
    let desired = if on_swarm {
        crate::plan::swarm::split(desired).0
    } else {
        desired
    };
    let status = rt.block_on(super::status::gather(paths, &cfg, &desired, &rendered));
    let (swarm, swarm_well) = if on_swarm {
        let (list, ok) = rt.block_on(super::swarm::status(paths));
        (Some(list), ok)
    } else {
        (None, true)
    };
    if a.json {
        let mut value = serde_json::to_value(&status).unwrap_or_default();
        if let (Some(list), Some(obj)) = (&swarm, value.as_object_mut()) {
            let v = match list {
                Ok(l) => serde_json::to_value(l).unwrap_or_default(),
                Err(e) => serde_json::Value::String(e.to_string()),
            };
            obj.insert("swarm".into(), v);
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        print!("{status}");
        match &swarm {
            Some(Ok(list)) => print!("{}", super::swarm::status_text(list)),
            Some(Err(e)) => println!("swarm: {e}"),
            None => {}
        }
    }
    Ok(if swarm_well && status.all_well() {
        0
    } else {
        EXIT_RUN_FAILED
    })
}
