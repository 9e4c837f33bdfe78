//! `conteneur_orchestrator` = `swarm` in a run: the docker containers go to
//! the swarm ([`crate::plan::swarm`] plans, [`crate::backend::swarm`] acts),
//! the others (lxc, snap) stay on this server's engines as before.
//!
//! Order of a run, so that a container switching between the local engine
//! and the swarm finds its port and volume free: the swarm's removals
//! (`before_local`), then the local engines, then the swarm's creations,
//! updates and scales, each waited for (bounded by
//! `conteneur_swarm_wait`) until it converged or Swarm rolled it back, and
//! last the secrets, configs and networks no longer used.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::backend::BackendError;
use crate::backend::swarm::{Outcome, ServiceStatus, SwarmBackend, front_image_ref};
use crate::config::Config;
use crate::paths::Paths;
use crate::plan::launch::{Launch, MountKind};
use crate::plan::redact::LabelKey;
use crate::plan::swarm::{self as plan, Desired, FRONT, SwarmAction, SwarmObserved, SwarmPlan};

use super::{RunError, number};

/// Is the configuration's orchestrator the swarm?
pub fn is_swarm(cfg: &Config) -> bool {
    cfg.first("conteneur_orchestrator").as_deref() == Some("swarm")
}

/// Everything a swarm run needs, checked before anything changes.
pub struct SwarmRun {
    pub backend: SwarmBackend,
    pub desired: Desired,
    pub observed: SwarmObserved,
    pub plan: SwarmPlan,
    pub server: String,
    pub wait: Duration,
    /// The containers it runs, the root and the mount rule: their host
    /// folders are created right before their service is.
    launches: Vec<Launch>,
    root: std::path::PathBuf,
    allow_system: bool,
    /// The secrets' values, read from the configuration as the local
    /// executor reads them for its secret files: only the engine gets them.
    secret_values: crate::converge::SecretValues,
}

/// Connects to the swarm, snapshots it and plans; changes nothing.
pub async fn prepare(
    cfg: &Config,
    paths: &Paths,
    launches: &[Launch],
    label_key: &LabelKey,
) -> Result<SwarmRun, RunError> {
    let backend = SwarmBackend::connect().await.map_err(RunError::Engine)?;
    let server = super::server_id(paths);
    let pin = format!("node.id=={}", backend.node_id());
    let front_image = if plan::needs_front(launches) {
        front_image_ref().map_err(RunError::Engine)?
    } else {
        String::new()
    };
    let settings = plan::settings(cfg, &server, pin, front_image, label_key);
    // Host folders resolved as for local containers (links followed, the
    // real folder checked); created right before their service is.
    let allow_system = super::allow_system_mounts(cfg);
    let mut binds = std::collections::HashMap::new();
    for l in launches {
        for m in l.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
            let path = crate::mounts::resolve(
                &paths.root,
                crate::plan::mount_given(l, &m.host),
                allow_system,
            )
            .map_err(|e| RunError::Plan(e.into()))?;
            binds.insert((l.name.clone(), m.host.clone()), path.display().to_string());
        }
    }
    let bind = |l: &Launch, host: &str| {
        binds
            .get(&(l.name.clone(), host.to_string()))
            .cloned()
            .unwrap_or_default()
    };
    let desired = plan::desired(launches, &bind, &settings).map_err(RunError::Swarm)?;
    let observed = backend.observe(&server).await.map_err(RunError::Engine)?;
    let plan = plan::reconcile(&desired, &observed, &server).map_err(RunError::Swarm)?;
    Ok(SwarmRun {
        backend,
        desired,
        observed,
        plan,
        server,
        launches: launches.to_vec(),
        root: paths.root.clone(),
        allow_system,
        secret_values: super::secret_values(cfg),
        wait: Duration::from_secs(number(cfg, "conteneur_swarm_wait", 300).max(10)),
    })
}

/// Under `local`: when this server's engine manages a swarm holding
/// services of this server (the orchestrator was swarm), the plan that
/// removes them; else nothing (an engine outside a swarm is the usual
/// case, and no error).
pub async fn leftovers(
    cfg: &Config,
    paths: &Paths,
    label_key: &LabelKey,
) -> Result<Option<SwarmRun>, RunError> {
    if SwarmBackend::connect().await.is_err() {
        return Ok(None);
    }
    let run = prepare(cfg, paths, &[], label_key).await?;
    Ok((!run.plan.is_noop()).then_some(run))
}

/// What the swarm's part of a run did.
#[derive(Debug, Default)]
pub struct SwarmReport {
    pub converged: Vec<String>,
    /// Services Swarm rolled back: (name, what Swarm said).
    pub rolled_back: Vec<(String, String)>,
    pub notes: Vec<String>,
}

fn engine(e: BackendError) -> RunError {
    RunError::SwarmStep(e)
}

/// The swarm's removals, before the local engines converge.
pub async fn before_local(s: &SwarmRun, log: &mut dyn Write) -> Result<(), RunError> {
    for step in &s.plan.before_local {
        let _ = writeln!(log, "swarm: {}", step.to_line().trim_end());
        s.backend
            .apply(&step.action, &s.desired, &s.server, &s.secret_values.0)
            .await
            .map_err(engine)?;
    }
    Ok(())
}

fn is_cleanup(a: &SwarmAction) -> bool {
    matches!(
        a,
        SwarmAction::RemoveSecret { .. }
            | SwarmAction::RemoveConfig { .. }
            | SwarmAction::RemoveNetwork { .. }
    )
}

/// The swarm's creations, updates and scales, each waited for, then the
/// clean-up of what no service uses any more.
pub async fn after_local(s: &SwarmRun, log: &mut dyn Write) -> Result<SwarmReport, RunError> {
    let mut report = SwarmReport::default();
    if let Some(front) = s.desired.service(FRONT)
        && s.plan.steps.iter().any(|st| {
            matches!(&st.action, SwarmAction::CreateService { name, .. } | SwarmAction::UpdateService { name, .. } if name == FRONT)
        })
    {
        s.backend
            .ensure_front_image(&front.image)
            .await
            .map_err(engine)?;
    }
    let mut waits = Vec::new();
    for step in s.plan.steps.iter().filter(|st| !is_cleanup(&st.action)) {
        if matches!(step.action, SwarmAction::Leave { .. }) {
            continue;
        }
        let _ = writeln!(log, "swarm: {}", step.to_line().trim_end());
        let before = match &step.action {
            SwarmAction::UpdateService { name, .. } => {
                Some(s.observed.service(name).and_then(|o| o.update.clone()))
            }
            SwarmAction::CreateService { .. } | SwarmAction::Scale { .. } => Some(None),
            _ => None,
        };
        if let Some(l) =
            service_name(&step.action).and_then(|n| s.launches.iter().find(|l| l.name == n))
        {
            for m in l.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
                crate::mounts::prepare(
                    &s.root,
                    crate::plan::mount_given(l, &m.host),
                    s.allow_system,
                )
                .map_err(|e| RunError::Plan(e.into()))?;
            }
        }
        s.backend
            .apply(&step.action, &s.desired, &s.server, &s.secret_values.0)
            .await
            .map_err(engine)?;
        if let (Some(before), Some(name)) = (before, service_name(&step.action)) {
            let rollout = matches!(step.action, SwarmAction::UpdateService { .. });
            waits.push((name.to_string(), before, rollout));
        }
    }
    let deadline = Instant::now() + s.wait;
    for (name, before, rollout) in waits {
        let _ = writeln!(log, "swarm: waiting for {name}…");
        let left = deadline.saturating_duration_since(Instant::now());
        match s
            .backend
            .wait(
                &name,
                before.as_ref(),
                rollout,
                left.max(Duration::from_secs(1)),
            )
            .await
            .map_err(engine)?
        {
            Outcome::Converged => {
                let _ = writeln!(log, "swarm: {name} converged");
                report.converged.push(name);
            }
            Outcome::RolledBack(why) => {
                let _ = writeln!(
                    log,
                    "swarm: {name} was ROLLED BACK by Swarm ({why}): its previous version serves"
                );
                report.rolled_back.push((name, why));
            }
        }
    }
    for step in s.plan.steps.iter().filter(|st| is_cleanup(&st.action)) {
        let _ = writeln!(log, "swarm: {}", step.to_line().trim_end());
        if let Some(note) = s
            .backend
            .apply(&step.action, &s.desired, &s.server, &s.secret_values.0)
            .await
            .map_err(engine)?
        {
            let _ = writeln!(log, "swarm: {note}");
            report.notes.push(note);
        }
    }
    Ok(report)
}

fn service_name(a: &SwarmAction) -> Option<&str> {
    match a {
        SwarmAction::CreateService { name, .. }
        | SwarmAction::UpdateService { name, .. }
        | SwarmAction::Scale { name, .. } => Some(name),
        _ => None,
    }
}

/// The swarm's part of `status`: per service, replicas running/desired,
/// per node, and the state of its last update. The bool says all is well.
pub async fn status(paths: &Paths) -> (Result<Vec<ServiceStatus>, BackendError>, bool) {
    let server = super::server_id(paths);
    let backend = match SwarmBackend::connect().await {
        Ok(b) => b,
        Err(e) => return (Err(e), false),
    };
    match backend.status(&server).await {
        Ok(list) => {
            // A completed rollback is the old version serving: shown, not
            // a failure; a paused or running update is not settled.
            let ok = list.iter().all(|s| {
                s.running == s.desired
                    && !s.update.as_ref().is_some_and(|u| {
                        matches!(
                            u.state.as_str(),
                            "paused" | "rollback_paused" | "updating" | "rollback_started"
                        )
                    })
            });
            (Ok(list), ok)
        }
        Err(e) => (Err(e), false),
    }
}

/// The status lines of the swarm's services.
pub fn status_text(list: &[ServiceStatus]) -> String {
    let mut out = String::from("swarm services:\n");
    if list.is_empty() {
        out.push_str("  (none)\n");
    }
    for s in list {
        let update = s
            .update
            .as_ref()
            .map(|u| {
                if u.message.is_empty() {
                    format!("update {}", u.state)
                } else {
                    format!("update {}: {}", u.state, u.message)
                }
            })
            .unwrap_or_else(|| "no update yet".into());
        out.push_str(&format!(
            "  {:<20} {}/{} running  {}  {}\n",
            s.name, s.running, s.desired, s.image, update
        ));
        for n in &s.nodes {
            out.push_str(&format!(
                "    node {} ({} {}, {}): {} running\n",
                crate::plan::observed::short_id(&n.node),
                n.hostname,
                n.role,
                n.availability,
                n.running
            ));
        }
    }
    out
}
