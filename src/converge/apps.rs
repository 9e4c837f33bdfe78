//! The executor's side of applications: network steps, start order by
//! waves, secret files, labelled volumes and the engine's health status.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::future::Future;

use futures_util::stream::{self, StreamExt};

use crate::backend::{Backend, Backends, HostMount};
use crate::plan::launch::{Launch, MountKind};
use crate::plan::{Action, Plan, Step, apps};

use super::{ContainerFailure, Settings, host_mounts, unprefixed};

/// What one container step gave, or why it failed.
pub type Outcome<T> = Result<T, ContainerFailure>;

/// Every mount of a new container: its folders and volumes (the volumes
/// made to exist, labelled), and its secret files.
pub async fn mounts(
    b: &dyn Backend,
    launch: &Launch,
    root: &Path,
    settings: &Settings,
) -> Result<Vec<HostMount>, String> {
    let mut mounts = host_mounts(launch, root, settings.allow_system_mounts)
        .map_err(|e| unprefixed(&launch.name, &e))?;
    ensure_volumes(b, launch, settings).await?;
    mounts.extend(write_secrets(launch, settings)?);
    Ok(mounts)
}

/// Each container's dependencies, as the plan's waves give them.
pub fn dependencies(plan: &Plan) -> HashMap<&str, &[String]> {
    plan.after
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect()
}

/// Runs `steps` with `run`, at most `parallel` at a time, in waves: a step
/// starts once the containers its own depends on are done (healthy); a
/// step whose dependency failed is not run, and fails saying so.
pub async fn in_waves<'a, T, F, Fut>(
    mut pending: Vec<&'a Step>,
    deps: &HashMap<&str, &[String]>,
    parallel: usize,
    run: F,
) -> Vec<Outcome<T>>
where
    F: Fn(&'a Step) -> Fut,
    Fut: Future<Output = Outcome<T>>,
{
    let mut outcomes = Vec::new();
    let mut failed = HashSet::new();
    while !pending.is_empty() {
        let (wave, blocked) = next_wave(&mut pending, deps, &failed);
        for b in blocked {
            failed.insert(b.name.clone());
            outcomes.push(Err(b));
        }
        let done: Vec<Outcome<T>> = stream::iter(wave)
            .map(&run)
            .buffer_unordered(parallel)
            .collect()
            .await;
        for f in done.iter().filter_map(|d| d.as_ref().err()) {
            failed.insert(f.name.clone());
        }
        outcomes.extend(done);
    }
    outcomes
}

/// Secret values by name, for the executor only. Its `Debug` shows the
/// names, never a value, so a logged `Settings` leaks nothing.
#[derive(Clone, Default)]
pub struct SecretValues(pub BTreeMap<String, String>);

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.keys().map(|k| format!("{k}=<secret>")))
            .finish()
    }
}

/// The folder of the secret files of this version (plan) of a container.
fn secrets_folder(launch: &Launch, settings: &Settings) -> PathBuf {
    let file = apps::secret_path(&settings.secrets_dir, launch, "x", &settings.label_key);
    file.parent().map(Path::to_path_buf).unwrap_or(file)
}

/// Writes the secret files of `launch` (root-only until [`own_secrets`]
/// gives them to the container's user) and returns their read-only mounts
/// at /run/secrets/NAME.
pub fn write_secrets(launch: &Launch, settings: &Settings) -> Result<Vec<HostMount>, String> {
    if launch.app.secrets.is_empty() {
        return Ok(Vec::new());
    }
    let dir = secrets_folder(launch, settings);
    let io = |what: &str, p: &Path, e: std::io::Error| format!("{what} {}: {e}", p.display());
    std::fs::create_dir_all(&dir).map_err(|e| io("cannot create", &dir, e))?;
    for d in [&settings.secrets_dir, &dir] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io("cannot protect", d, e))?;
    }
    let mut out = Vec::new();
    for s in &launch.app.secrets {
        // The plan refused undeclared secrets; a value missing here is a
        // configuration read since: say which, never what.
        let value = settings
            .secret_values
            .0
            .get(&s.name)
            .ok_or_else(|| format!("the secret '{}' has no value", s.name))?;
        let path = dir.join(&s.name);
        let tmp = dir.join(format!(".{}.tmp", s.name));
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o400)
                .open(&tmp)
                .map_err(|e| io("cannot write", &tmp, e))?;
            f.write_all(value.as_bytes())
                .map_err(|e| io("cannot write", &tmp, e))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| io("cannot write", &path, e))?;
        out.push(HostMount {
            host: path.display().to_string(),
            container: format!("/run/secrets/{}", s.name),
            bind: true,
            read_only: true,
        });
    }
    Ok(out)
}

/// Gives the secret files of `launch` to the user container `id` runs as,
/// mode 0400: readable by that user only.
pub async fn own_secrets(
    b: &dyn Backend,
    id: &str,
    launch: &Launch,
    settings: &Settings,
) -> Result<(), String> {
    if launch.app.secrets.is_empty() {
        return Ok(());
    }
    let (uid, gid) = b.user_ids(id).await.map_err(|e| e.to_string())?;
    let dir = secrets_folder(launch, settings);
    for s in &launch.app.secrets {
        let path = dir.join(&s.name);
        nix::unistd::chown(
            &path,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        )
        .map_err(|e| {
            format!(
                "cannot give the secret file {} to uid {uid}: {e}",
                path.display()
            )
        })?;
    }
    Ok(())
}

/// Removes the secret files of container `name`, but those of `keep`'s
/// plan when given.
pub fn forget_secrets(name: &str, keep: Option<&Launch>, settings: &Settings) {
    let dir = settings.secrets_dir.join(name);
    let kept = keep.map(|l| secrets_folder(l, settings));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.flatten() {
        if Some(e.path()) != kept {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    if kept.is_none() {
        let _ = std::fs::remove_dir(&dir);
    }
}

/// Makes the named volumes of `launch` exist, labelled as ours: `status`
/// lists them once their container is gone.
pub async fn ensure_volumes(
    b: &dyn Backend,
    launch: &Launch,
    settings: &Settings,
) -> Result<(), String> {
    for m in launch.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
        b.ensure_volume(&m.host, &apps::volume_labels(&settings.server, &m.host))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The engine's health check: waits for `healthy`, fails when the
/// container stops, gives up after `timeout`. `unhealthy` is waited out
/// too: a database still initialising fails its first checks, and the
/// engine says `healthy` as soon as one passes.
pub async fn wait_engine_health(
    b: &dyn Backend,
    id: &str,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if !b.running(id).await.map_err(|e| e.to_string())? {
            return Err("it stopped right after starting (see `docker logs`)".into());
        }
        match b.health(id).await.map_err(|e| e.to_string())? {
            Some((status, _)) if status == "healthy" => return Ok(()),
            Some((status, output)) if Instant::now() >= deadline => {
                let said = if output.is_empty() {
                    "its health-check command printed nothing".to_string()
                } else {
                    format!("its health-check command said: {output}")
                };
                return Err(format!(
                    "not healthy after {} s: the engine reports it {status}; {said}",
                    timeout.as_secs()
                ));
            }
            Some(_) => {}
            None => return Err("the engine runs no health-check command for it".into()),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Carries out the network creates of `plan` for server `server` (before
/// any container step).
pub async fn create_networks(plan: &Plan, backends: &Backends, server: &str) -> Result<(), String> {
    for s in &plan.steps {
        if let Action::CreateNetwork {
            network,
            engine_name,
            backend,
        } = &s.action
        {
            let b = backends.require(*backend).map_err(|e| e.to_string())?;
            b.create_network(engine_name, &apps::network_labels(server, network))
                .await
                .map_err(|e| format!("network '{network}': {e}"))?;
        }
    }
    Ok(())
}

/// Carries out the network removes (after the containers); every failure.
pub async fn remove_networks(plan: &Plan, backends: &Backends) -> Vec<ContainerFailure> {
    let mut out = Vec::new();
    for s in &plan.steps {
        if let Action::RemoveNetwork {
            network,
            id,
            backend,
        } = &s.action
        {
            let r = match backends.require(*backend) {
                Ok(b) => b.remove_network(id).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(cause) = r {
                out.push(ContainerFailure::new(
                    &format!("network {network}"),
                    cause,
                    false,
                ));
            }
        }
    }
    out
}

/// The next wave of container steps: those whose dependencies have no
/// step left to run. Steps depending on a container that failed are taken
/// out as failures. Returns (ready, failed).
pub fn next_wave<'a>(
    pending: &mut Vec<&'a Step>,
    deps: &HashMap<&str, &[String]>,
    failed: &HashSet<String>,
) -> (Vec<&'a Step>, Vec<ContainerFailure>) {
    let mut blocked = Vec::new();
    let mut changed = true;
    let mut failed: HashSet<String> = failed.clone();
    // A failure makes its dependents fail, and theirs in turn.
    while changed {
        changed = false;
        pending.retain(|s| {
            let name = s.action.container().unwrap_or_default();
            let dead = deps
                .get(name)
                .and_then(|d| d.iter().find(|d| failed.contains(d.as_str())));
            match dead {
                Some(d) => {
                    blocked.push(ContainerFailure::new(
                        name,
                        format!(
                            "not started: container '{d}', which it depends on, did not come up"
                        ),
                        false,
                    ));
                    failed.insert(name.to_string());
                    changed = true;
                    false
                }
                None => true,
            }
        });
    }
    let waiting: HashSet<&str> = pending
        .iter()
        .filter_map(|s| s.action.container())
        .collect();
    let (ready, rest): (Vec<&Step>, Vec<&Step>) = pending.iter().partition(|s| {
        let name = s.action.container().unwrap_or_default();
        deps.get(name)
            .is_none_or(|d| d.iter().all(|d| d == name || !waiting.contains(d.as_str())))
    });
    // No cycle reaches here (the plan refuses them); if one did, run the
    // rest rather than loop.
    let (ready, rest) = if ready.is_empty() {
        (rest, Vec::new())
    } else {
        (ready, rest)
    };
    *pending = rest;
    (ready, blocked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::observed::Kind;

    fn step(name: &str) -> Step {
        Step {
            action: Action::Create {
                name: name.into(),
                backend: Kind::Docker,
            },
            cause: "test".into(),
        }
    }

    fn names(steps: &[&Step]) -> Vec<String> {
        steps
            .iter()
            .filter_map(|s| s.action.container().map(str::to_string))
            .collect()
    }

    #[test]
    fn waves_start_dependencies_first_and_skip_dependents_of_a_failure() {
        // site → app → db, cache alone.
        let steps = [step("site"), step("app"), step("db"), step("cache")];
        let (site, app) = (vec!["app".to_string()], vec!["db".to_string()]);
        let deps: HashMap<&str, &[String]> =
            [("site", site.as_slice()), ("app", app.as_slice())].into();
        let mut pending: Vec<&Step> = steps.iter().collect();
        let (w, blocked) = next_wave(&mut pending, &deps, &HashSet::new());
        assert_eq!(names(&w), ["db", "cache"]);
        assert!(blocked.is_empty());
        let (w, _) = next_wave(&mut pending, &deps, &HashSet::new());
        assert_eq!(names(&w), ["app"]);
        let (w, _) = next_wave(&mut pending, &deps, &HashSet::new());
        assert_eq!(names(&w), ["site"]);
        assert!(pending.is_empty());

        // db failed: app and site are not started, each saying why.
        let mut pending: Vec<&Step> = steps.iter().collect();
        let _ = next_wave(&mut pending, &deps, &HashSet::new());
        let failed: HashSet<String> = ["db".to_string()].into();
        let (w, blocked) = next_wave(&mut pending, &deps, &failed);
        assert!(w.is_empty() && pending.is_empty());
        let why: Vec<String> = blocked.iter().map(|b| b.to_string()).collect();
        assert_eq!(
            why,
            [
                "container 'app': not started: container 'db', which it depends on, did not come up",
                "container 'site': not started: container 'app', which it depends on, did not come up"
            ]
        );
    }

    #[test]
    fn secret_values_never_show_in_debug() {
        let v = SecretValues([("db_password".to_string(), "s3cr3t".to_string())].into());
        let shown = format!("{v:?}");
        assert!(
            shown.contains("db_password") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }
}
