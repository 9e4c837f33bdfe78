//! The replace protocol (kamal-proxy's and Dokku's), as the plan spells it
//! out: each replace carries its [`Strategy`], whose phases this module
//! carries out in their order, deciding nothing. For the usual one
//! (`beside`: nginx routes to the container):
//!
//! 1. `create-next`: the new instance is created beside the old one, on
//!    host ports of its own (127.0.0.1, chosen here: see [`PortPool`]), so
//!    both run at once;
//! 2. `wait-healthy`: it is started and waited for until healthy (a crash
//!    loop is told apart from a slow start);
//! 3. `switch`: nginx is switched to it, once for the whole run
//!    ([`super::Switch`]), after the drains are in the journal;
//! 4. `rename-old`: the old one becomes `NAME.old.ID` and is retired
//!    ([`Backend::retire`]: restart policy `no`, no network alias);
//! 5. `rename-next`: the new one takes the name;
//! 6. `retire-old`: the old one drains; the caller's journal says until
//!    when, and whoever comes next stops and removes it.
//!
//! A failure before 3 never touches the old instance: it goes on serving
//! behind the routes nginx already has, so a failed update costs no request.
//! `take-ports` (a container made by an older conteneur, which holds
//! `port_out` itself) stops the old one once the new one is healthy and
//! before the switch (nginx needs `port_out`). `in-wave` (no `port_out`:
//! nothing to switch) stops and removes the old one within its wave
//! ([`settle`]), so the containers that depend on it start against the new
//! one alone; `stop-first` (no `port_out`, and data in folders or volumes
//! that two instances cannot share) stops the old one before the new one
//! is created, and starts it again when the new one does not come up.
//! `in-place` (snap) changes the container itself and reverts it on
//! failure.
//!
//! Network aliases during the overlap: the new instance joins its networks
//! with the container's name as alias from its creation (Docker sets
//! aliases when a container connects, not later), so for the short overlap
//! both instances answer the name and Docker's DNS picks either, as nginx
//! does between old and new workers; at `rename-old` the old one loses the
//! alias (it joins its networks again without it) and keeps draining what
//! its clients already opened.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use super::{
    ContainerFailure, ImageIds, Routes, Settings, apps, image_id, replace_in_place, wait_healthy,
};
use crate::backend::{Backend, Backends};
use crate::plan::launch::{Health, Launch};
use crate::plan::observed::{HostPorts, Kind, labels, old_name};
use crate::plan::{Action, Plan, Strategy, container_labels, direct_ports, next_name};

/// A replaced container handed over to drain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draining {
    pub backend: Kind,
    pub id: String,
    /// Its name while it drains (`NAME.old.ID`).
    pub name: String,
    /// Seconds it is given to stop.
    pub stop_timeout: u32,
}

/// Host ports for new instances. The executor chooses them (the plan stays
/// a function of the configuration and the engine): the kernel's choice of
/// a free port on 127.0.0.1 (bind to port 0, read it, let it go), never
/// one given twice in a run, never a configured `port_out`.
pub struct PortPool {
    given: Mutex<HashSet<u16>>,
}

impl PortPool {
    /// Never the configured ports, nor the host ports of the instances the
    /// plan keeps (a stopped one's is free now but taken once it starts).
    pub fn new(desired: &[Launch], plan: &Plan) -> PortPool {
        let mut reserved: HashSet<u16> = desired
            .iter()
            .flat_map(|l| l.ports.iter().map(|p| p.host))
            .collect();
        for s in &plan.steps {
            match &s.action {
                Action::Leave { ports, .. } | Action::Start { ports, .. } => {
                    reserved.extend(ports.0.values());
                }
                Action::Replace {
                    old_ports: Some(p), ..
                } => reserved.extend(p.0.values()),
                _ => {}
            }
        }
        PortPool {
            given: Mutex::new(reserved),
        }
    }

    /// One host port for each of `launch`'s ports.
    pub fn take(&self, launch: &Launch) -> Result<HostPorts, String> {
        let mut out = BTreeMap::new();
        for p in &launch.ports {
            out.insert(p.host, self.one()?);
        }
        Ok(HostPorts(out))
    }

    fn one(&self) -> Result<u16, String> {
        for _ in 0..20 {
            let port = std::net::TcpListener::bind(("127.0.0.1", 0))
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .map_err(|e| format!("no free host port on 127.0.0.1: {e}"))?;
            let mut given = self
                .given
                .lock()
                .map_err(|_| "port pool poisoned".to_string())?;
            if given.insert(port) {
                return Ok(port);
            }
        }
        Err("no free host port on 127.0.0.1 after 20 tries".into())
    }
}

/// The launch plan as this instance runs it: each port on its host port,
/// on 127.0.0.1 (nginx alone reaches it), and the health check there.
pub fn instance_launch(launch: &Launch, ports: &HostPorts) -> Launch {
    let mut l = launch.clone();
    for p in &mut l.ports {
        if let Some(h) = ports.0.get(&p.host) {
            p.host = *h;
            p.address = "127.0.0.1".into();
        }
    }
    if let Some(hp) = l.health.port {
        l.health.port = ports.0.get(&hp).copied().or(Some(hp));
    }
    l
}

/// The labels of an instance: the plan's (which describe the configured
/// launch, not this instance's ports) and where its ports are.
fn instance_labels(
    launch: &Launch,
    images: &ImageIds,
    settings: &Settings,
    ports: &HostPorts,
) -> BTreeMap<String, String> {
    let (server, label_key) = (&settings.server, &settings.label_key);
    let mut l = container_labels(launch, &image_id(launch, images), server, label_key);
    l.insert(labels::HOST_PORTS.into(), ports.label());
    l
}

/// What [`up`] needs.
pub struct Ctx<'a> {
    pub images: &'a ImageIds,
    pub backends: &'a Backends,
    pub root: &'a Path,
    pub settings: &'a Settings,
    pub ports: &'a PortPool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpKind {
    Created,
    Replaced,
    Started,
}

/// The instance that replaces another, once it is up.
#[derive(Debug, Clone)]
pub struct Old {
    pub backend: Kind,
    pub id: String,
    pub stop_timeout: u32,
    /// It was stopped already (stop-first, or stop-old before the switch).
    pub stopped: bool,
    /// The plan's strategy for this replace.
    pub strategy: Strategy,
}

/// A container whose new (or restarted) instance is up and healthy.
#[derive(Debug, Clone)]
pub struct Up {
    pub name: String,
    pub kind: UpKind,
    pub backend: Kind,
    pub id: String,
    pub ports: HostPorts,
    /// Its engine name until it is switched in (`NAME.next`).
    pub temp_name: Option<String>,
    pub old: Option<Old>,
}

fn fail(name: &str, cause: String, restored: bool) -> ContainerFailure {
    ContainerFailure::new(name, cause, restored)
}

/// Steps 1 and 2 of one Create, Replace or Start step.
pub async fn up(
    action: &Action,
    launch: Option<&Launch>,
    ctx: &Ctx<'_>,
) -> Result<Up, ContainerFailure> {
    let name = action.container().unwrap_or_default();
    let Some(launch) = launch else {
        return Err(fail(name, "no launch plan for it".into(), false));
    };
    let settings = ctx.settings;
    let engine = |kind: Kind, restored: bool| {
        ctx.backends
            .require(kind)
            .map_err(|e| fail(name, e.to_string(), restored))
    };
    match action {
        Action::Start {
            id, backend, ports, ..
        } => {
            let b = engine(*backend, false)?;
            b.start(id)
                .await
                .map_err(|e| fail(name, e.to_string(), false))?;
            let health = instance_launch(launch, ports).health;
            wait_healthy(b, id, &health, settings.health_timeout)
                .await
                .map_err(|e| fail(name, e, false))?;
            Ok(Up {
                name: name.to_string(),
                kind: UpKind::Started,
                backend: *backend,
                id: id.clone(),
                ports: ports.clone(),
                temp_name: None,
                old: None,
            })
        }
        Action::Create { backend, .. } => {
            let b = engine(*backend, false)?;
            let (id, ports) = create_healthy(name, name, launch, b, ctx, false).await?;
            Ok(Up {
                name: name.to_string(),
                kind: UpKind::Created,
                backend: *backend,
                id,
                ports,
                temp_name: None,
                old: None,
            })
        }
        Action::Replace {
            old_id,
            old_backend,
            backend,
            old_health,
            strategy,
            ..
        } => {
            // The plan chose the strategy, and so these steps
            // (`Strategy::phases`): this carries them out in order.
            let old = engine(*old_backend, true)?;
            let new = engine(*backend, true)?;
            let next = next_name(name);
            let replaced = |id: String, ports: HostPorts, stopped: bool, temp: bool| Up {
                name: name.to_string(),
                kind: UpKind::Replaced,
                backend: *backend,
                id,
                ports,
                temp_name: temp.then(|| next.clone()),
                old: Some(Old {
                    backend: *old_backend,
                    id: old_id.clone(),
                    stop_timeout: launch.stop_timeout,
                    stopped,
                    strategy: *strategy,
                }),
            };
            match strategy {
                Strategy::InPlace => {
                    // update, wait-healthy (snap: it listens on port_out
                    // itself).
                    let l = instance_labels(launch, ctx.images, settings, &direct_ports(launch));
                    replace_in_place(name, old_id, old_health.as_ref(), launch, &l, new, settings)
                        .await?;
                    Ok(Up {
                        name: name.to_string(),
                        kind: UpKind::Replaced,
                        backend: *backend,
                        id: old_id.clone(),
                        ports: direct_ports(launch),
                        temp_name: None,
                        old: None,
                    })
                }
                Strategy::StopFirst => {
                    // stop-first, create-next, wait-healthy (remove-old
                    // and rename-next in `settle`).
                    let was = Was {
                        backend: old,
                        id: old_id,
                        health: old_health.as_ref(),
                    };
                    let id = replace_exclusive(name, &next, launch, was, new, ctx).await?;
                    Ok(replaced(id, HostPorts::default(), true, true))
                }
                Strategy::Beside | Strategy::InWave => {
                    // create-next, wait-healthy (the rest after the switch,
                    // or in `settle` for in-wave).
                    let (id, ports) = create_healthy(name, &next, launch, new, ctx, true).await?;
                    Ok(replaced(id, ports, false, true))
                }
                Strategy::TakePorts => {
                    // create-next, wait-healthy, stop-old: an older
                    // conteneur's container holds port_out, which nginx
                    // takes at the switch.
                    let (id, ports) = create_healthy(name, &next, launch, new, ctx, true).await?;
                    if let Err(e) = old.stop(old_id, launch.stop_timeout).await {
                        let _ = new.stop(&id, 1).await;
                        let _ = new.remove(&id).await;
                        return Err(fail(
                            name,
                            format!("stopping the previous container failed: {e}"),
                            true,
                        ));
                    }
                    Ok(replaced(id, ports, true, true))
                }
            }
        }
        _ => Err(fail(
            name,
            "not a step that starts a container".into(),
            false,
        )),
    }
}

/// Creates `engine_name` for `launch` on host ports of its own, starts it
/// and waits until healthy; on failure removes it, leaving nothing behind.
async fn create_healthy(
    name: &str,
    engine_name: &str,
    launch: &Launch,
    b: &dyn Backend,
    ctx: &Ctx<'_>,
    restored: bool,
) -> Result<(String, HostPorts), ContainerFailure> {
    let settings = ctx.settings;
    let mounts = apps::mounts(b, launch, ctx.root, settings)
        .await
        .map_err(|e| fail(name, e, restored))?;
    let ports = if b.kind() == Kind::Snap {
        direct_ports(launch)
    } else {
        ctx.ports
            .take(launch)
            .map_err(|e| fail(name, e, restored))?
    };
    let instance = instance_launch(launch, &ports);
    let l = instance_labels(launch, ctx.images, settings, &ports);
    let id = b
        .create(engine_name, &instance, &mounts, &l)
        .await
        .map_err(|e| fail(name, e.to_string(), restored))?;
    crate::timing::mark(&format!("{engine_name} created"));
    let started = match apps::own_secrets(b, &id, launch, settings).await {
        Err(e) => Err(e),
        Ok(()) => match b.start(&id).await {
            Ok(()) => {
                crate::timing::mark(&format!("{engine_name} started"));
                wait_healthy(b, &id, &instance.health, settings.health_timeout).await
            }
            Err(e) => Err(e.to_string()),
        },
    };
    if let Err(cause) = started {
        let _ = b.stop(&id, 1).await;
        let _ = b.remove(&id).await;
        if !restored {
            // A new container: nothing ran before, leave nothing behind.
            apps::forget_secrets(name, None, settings);
        }
        let cause = if restored {
            format!("the new container did not come up: {cause}")
        } else {
            cause
        };
        return Err(fail(name, cause, restored));
    }
    Ok((id, ports))
}

/// The instance being replaced, for [`replace_exclusive`].
struct Was<'a> {
    backend: &'a dyn Backend,
    id: &'a str,
    health: Option<&'a Health>,
}

/// The replace of a container that nginx does not route to and whose data
/// a second instance cannot share: the old one stops, then the new one is
/// created (`next`), started and waited for; when it does not come up it
/// goes, and the old one is started again and waited for. Returns the new
/// instance's id (the old one, stopped, is removed by [`settle`]).
async fn replace_exclusive(
    name: &str,
    next: &str,
    launch: &Launch,
    was: Was<'_>,
    new: &dyn Backend,
    ctx: &Ctx<'_>,
) -> Result<String, ContainerFailure> {
    if let Err(e) = was.backend.stop(was.id, launch.stop_timeout).await {
        return Err(fail(
            name,
            format!("stopping the previous container failed: {e}"),
            true,
        ));
    }
    match create_healthy(name, next, launch, new, ctx, true).await {
        Ok((id, _)) => Ok(id),
        Err(mut f) => {
            // Back to the old one, and wait until it serves again, so that
            // the run ends with the service up.
            let health = was.health.unwrap_or(&launch.health);
            f.restored = match was.backend.start(was.id).await {
                Ok(()) => wait_healthy(was.backend, was.id, health, ctx.settings.health_timeout)
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            Err(f.left_down())
        }
    }
}

/// What a container's step gave in its wave.
pub enum Waved {
    /// Its new instance is up; nginx is switched to it after the waves.
    Up(Up),
    /// Done already: nothing routes to it.
    Done(Finished),
}

/// The end of a step within its wave. A replaced container nginx does not
/// route to has no switch to wait for: its old instance is stopped (when
/// it still runs) and removed and the new one takes the name, now.
pub async fn settle(
    mut up: Up,
    launch: Option<&Launch>,
    ctx: &Ctx<'_>,
) -> Result<Waved, ContainerFailure> {
    let _ = launch;
    let Some(old) = up.old.clone().filter(|o| !o.strategy.switched()) else {
        return Ok(Waved::Up(up));
    };
    if !old.stopped {
        let stopped = match ctx.backends.require(old.backend) {
            Ok(b) => b
                .stop(&old.id, old.stop_timeout)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = stopped {
            // The old one still runs: the new one goes again.
            undo(&up, ctx.backends).await;
            return Err(fail(
                &up.name,
                format!("stopping the previous container failed: {e}"),
                true,
            ));
        }
        if let Some(o) = up.old.as_mut() {
            o.stopped = true;
        }
    }
    finish(up, ctx.backends).await.map(Waved::Done)
}

/// Where every configured container's ports are once the new instances
/// are switched in: the new instance's when it came up, else the one it
/// had (a failed replace keeps its old one), else none (a failed create).
pub fn routes(plan: &Plan, desired: &[Launch], ups: &[Up]) -> Routes {
    let mut out = Routes::new();
    for s in &plan.steps {
        let (name, ports) = match &s.action {
            Action::Leave { name, ports, .. } | Action::Start { name, ports, .. } => {
                (name, ports.clone())
            }
            Action::Replace {
                name, old_ports, ..
            } => {
                let direct = desired
                    .iter()
                    .find(|d| &d.name == name)
                    .map(direct_ports)
                    .unwrap_or_default();
                (name, old_ports.clone().unwrap_or(direct))
            }
            _ => continue,
        };
        if desired.iter().any(|d| &d.name == name) {
            out.insert(name.clone(), ports);
        }
    }
    for up in ups {
        out.insert(up.name.clone(), up.ports.clone());
    }
    out
}

/// Takes a new instance away again (the switch failed): the old one was
/// never touched, unless it held `port_out` itself, then it starts again.
pub async fn undo(up: &Up, backends: &Backends) {
    let Some(old) = &up.old else { return };
    if let Ok(b) = backends.require(up.backend) {
        let _ = b.stop(&up.id, 1).await;
        let _ = b.remove(&up.id).await;
    }
    if old.stopped
        && let Ok(b) = backends.require(old.backend)
    {
        let _ = b.start(&old.id).await;
    }
}

/// What [`finish`] did.
pub struct Finished {
    pub name: String,
    pub kind: UpKind,
    pub draining: Option<Draining>,
}

/// Steps 4 and 5, after the switch: the old instance out of the way
/// (renamed to drain, or removed when it was already stopped), the new one
/// under its name.
/// The replaced instance `up` hands over to drain once nginx is switched
/// away from it (as [`finish`] renames it), if any.
pub fn to_drain(up: &Up) -> Option<Draining> {
    let old = up.old.as_ref().filter(|o| !o.stopped)?;
    Some(Draining {
        backend: old.backend,
        id: old.id.clone(),
        name: old_name(&up.name, &old.id),
        stop_timeout: old.stop_timeout,
    })
}

pub async fn finish(up: Up, backends: &Backends) -> Result<Finished, ContainerFailure> {
    let name = up.name.clone();
    let mut draining = None;
    let mut retiring = None;
    if let Some(old) = &up.old {
        let b = backends
            .require(old.backend)
            .map_err(|e| fail(&name, e.to_string(), false))?;
        if old.stopped {
            b.remove(&old.id).await.map_err(|e| {
                fail(
                    &name,
                    format!("the new container serves, but removing the previous one failed: {e}"),
                    false,
                )
            })?;
        } else {
            // rename-old: out of the name's way, and out of service for
            // good (a reboot during its drain brings back only the new
            // one).
            let drain_name = old_name(&name, &old.id);
            b.rename(&old.id, &drain_name).await.map_err(|e| {
                fail(
                    &name,
                    format!("the new container serves, but renaming the previous one failed: {e}"),
                    false,
                )
            })?;
            retiring = Some((b, old.id.clone(), drain_name.clone()));
            draining = Some(Draining {
                backend: old.backend,
                id: old.id.clone(),
                name: drain_name,
                stop_timeout: old.stop_timeout,
            });
        }
    }
    // rename-next, and the old one retired at the same time (they touch
    // two different containers).
    let rename_next = async {
        let Some(temp) = &up.temp_name else {
            return Ok(());
        };
        let b = backends
            .require(up.backend)
            .map_err(|e| fail(&name, e.to_string(), false))?;
        b.rename(&up.id, &name).await.map_err(|e| {
            fail(
                &name,
                format!("the new container serves as '{temp}', but renaming it failed: {e}"),
                false,
            )
        })
    };
    let retire = async {
        let (b, id, drain_name) = retiring.as_ref()?;
        b.retire(id).await.err().map(|e| {
            fail(
                &name,
                format!(
                    "the new container serves, but the previous one ({drain_name}) could not \
                     be retired, so a reboot would start it again: {e}"
                ),
                false,
            )
        })
    };
    let (renamed, retire_failed) = tokio::join!(rename_next, retire);
    renamed?;
    if let Some(f) = retire_failed {
        return Err(f);
    }
    Ok(Finished {
        name,
        kind: up.kind,
        draining,
    })
}
