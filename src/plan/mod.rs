//! `plan`: the desired state (launch plans) against one snapshot of the
//! engine, as a list of atomic steps, each with its cause. It computes and
//! never acts: [`reconcile`] is a pure function, so every decision can be
//! tested without an engine, and `conteneur plan` shows exactly what
//! `reconfigure` would do.

pub mod apps;
pub mod launch;
pub mod redact;
pub mod swarm;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::backend::{HostPorts, Kind, NEXT_SUFFIX, Observed, ObservedContainer, labels, short_id};
use launch::{Launch, MountKind};
use redact::LabelKey;

/// What to do, and to which container, on which engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    /// Bring an image to an engine (Docker's image store, the LXC image
    /// cache).
    Pull {
        backend: Kind,
        image: String,
        tag: String,
    },
    /// Build an image from a git repository (docker+git), tagged
    /// `image:tag` and labelled with the commit.
    Build {
        image: String,
        tag: String,
        repository: String,
        commit: String,
    },
    /// A new container.
    Create { name: String, backend: Kind },
    /// A changed container: created anew (on `backend`, which may differ
    /// from the old one's), switched in once healthy. On an engine that
    /// changes containers in place (snap), changed in place.
    Replace {
        name: String,
        old_id: String,
        old_backend: Kind,
        backend: Kind,
        /// How to tell the old container serves again after a rollback.
        #[serde(skip)]
        old_health: Option<launch::Health>,
        /// Where the old one's ports are; None when it holds `port_out`
        /// itself (made by an older conteneur): it must stop before nginx
        /// can forward `port_out`, once.
        old_ports: Option<HostPorts>,
    },
    /// An unchanged container that is not running.
    Start {
        name: String,
        id: String,
        backend: Kind,
        ports: HostPorts,
    },
    /// A container no longer wanted (its volumes and folders are kept).
    Remove {
        name: String,
        id: String,
        backend: Kind,
    },
    /// Nothing to do.
    Leave {
        name: String,
        id: String,
        backend: Kind,
        ports: HostPorts,
    },
    /// A private network a container joins, missing (before any container
    /// step).
    #[serde(rename = "create-network")]
    CreateNetwork {
        /// Its name in the configuration.
        network: String,
        /// Its name on the engine (see [`apps::network_name`]).
        engine_name: String,
        backend: Kind,
    },
    /// A private network of ours that no container uses any more (after
    /// every container step).
    #[serde(rename = "remove-network")]
    RemoveNetwork {
        network: String,
        id: String,
        backend: Kind,
    },
}

impl Action {
    /// The container a step is about (none for pulls and builds).
    pub fn container(&self) -> Option<&str> {
        match self {
            Action::Pull { .. }
            | Action::Build { .. }
            | Action::CreateNetwork { .. }
            | Action::RemoveNetwork { .. } => None,
            Action::Create { name, .. }
            | Action::Replace { name, .. }
            | Action::Start { name, .. }
            | Action::Remove { name, .. }
            | Action::Leave { name, .. } => Some(name),
        }
    }

    /// Is it a step that brings an image (pull or build)?
    pub fn is_prepare(&self) -> bool {
        matches!(self, Action::Pull { .. } | Action::Build { .. })
    }

    /// Is it a network step?
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            Action::CreateNetwork { .. } | Action::RemoveNetwork { .. }
        )
    }
}

/// One atomic step and why it is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub action: Action,
    pub cause: String,
}

/// The ordered steps of a run: pulls and builds first, then containers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    /// Pulls only: (engine, image, tag).
    pub fn pulls(&self) -> impl Iterator<Item = (Kind, &str, &str)> {
        self.steps.iter().filter_map(|s| match &s.action {
            Action::Pull {
                backend,
                image,
                tag,
            } => Some((*backend, image.as_str(), tag.as_str())),
            _ => None,
        })
    }

    /// True when the run changes nothing.
    pub fn is_noop(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s.action, Action::Leave { .. }))
    }

    /// How many containers are (re)created.
    pub fn recreated(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.action, Action::Create { .. } | Action::Replace { .. }))
            .count()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return writeln!(f, "nothing to do: no container is configured or running");
        }
        for s in &self.steps {
            let (verb, what) = match &s.action {
                Action::Pull {
                    backend,
                    image,
                    tag,
                } => ("pull", format!("{image}:{tag} for {backend}")),
                Action::Build {
                    image,
                    tag,
                    repository,
                    commit,
                } => (
                    "build",
                    format!("{image}:{tag} from {repository} {}", short_commit(commit)),
                ),
                Action::Create { name, backend } => ("create", format!("{name} on {backend}")),
                Action::Replace {
                    name,
                    old_id,
                    old_backend,
                    backend,
                    ..
                } => (
                    "replace",
                    if old_backend == backend {
                        format!("{name} ({}) on {backend}", short_id(old_id))
                    } else {
                        format!("{name} ({}) {old_backend} → {backend}", short_id(old_id))
                    },
                ),
                Action::Start {
                    name, id, backend, ..
                } => ("start", format!("{name} ({}) on {backend}", short_id(id))),
                Action::Remove { name, id, backend } => {
                    ("remove", format!("{name} ({}) on {backend}", short_id(id)))
                }
                Action::Leave {
                    name, id, backend, ..
                } => ("leave", format!("{name} ({}) on {backend}", short_id(id))),
                Action::CreateNetwork {
                    network,
                    engine_name,
                    backend,
                } => (
                    "create",
                    format!("network {network} ({engine_name}) on {backend}"),
                ),
                Action::RemoveNetwork {
                    network,
                    id,
                    backend,
                } => (
                    "remove",
                    format!("network {network} ({}) on {backend}", short_id(id)),
                ),
            };
            let ports = match &s.action {
                Action::Start { ports, .. } | Action::Leave { ports, .. }
                    if !ports.0.is_empty() =>
                {
                    format!(" [ports {}]", ports.display())
                }
                Action::Replace {
                    old_ports: Some(p), ..
                } if !p.0.is_empty() => format!(" [old ports {}]", p.display()),
                _ => String::new(),
            };
            writeln!(f, "{verb:<8} {what:<40} {}{ports}", s.cause)?;
        }
        Ok(())
    }
}

/// The configured name of a replaced container draining (`NAME.old.ID`).
pub fn old_base(name: &str) -> &str {
    name.split(crate::backend::OLD_MARK).next().unwrap_or(name)
}

/// A commit as git shows it short.
fn short_commit(c: &str) -> &str {
    c.get(..10).unwrap_or(c)
}

/// Why no plan can be made. Nothing has been changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "container '{name}': a container of that name already exists ({id}) and was not created by conteneur; \
         conteneur never touches it: rename or remove it (docker rm), or choose another name"
    )]
    NameClash { name: String, id: String },
    #[error(
        "container '{name}': a container of that name already exists ({id}), made by conteneur for \
         another server, the one under --root {root}; conteneur never touches another root's containers: \
         choose another name here, or remove the container from that server's configuration"
    )]
    OtherRoot {
        name: String,
        id: String,
        root: String,
    },
    #[error("container '{name}': type '{backend}' is not supported yet{hint}")]
    Unsupported {
        name: String,
        backend: String,
        hint: String,
    },
    #[error(transparent)]
    Mount(#[from] crate::mounts::MountError),
    #[error("two containers are named '{0}'")]
    DuplicateName(String),
    #[error("container '{name}': type '{backend}' {expected}, found {found}")]
    Setting {
        name: String,
        backend: String,
        expected: String,
        found: String,
    },
    #[error(
        "container '{name}': the snap '{snap}' is already installed and conteneur did not install it for this container \
         ({owner}); conteneur never touches it: remove it (snap remove {snap}) or choose another snap"
    )]
    SnapTaken {
        name: String,
        snap: String,
        owner: String,
    },
    #[error(
        "container '{name}': switching from {from} to {to} would leave the data of its volume '{volume}' behind \
         (a volume belongs to one engine); share a host folder (an absolute path) instead, or switch by hand"
    )]
    VolumeSwitch {
        name: String,
        from: Kind,
        to: Kind,
        volume: String,
    },
    #[error("container '{name}': {variable}: {why}")]
    AppSetting {
        name: String,
        variable: String,
        why: String,
    },
    #[error(
        "container '{name}': {variable} names '{dependency}', which is not a configured container (conteneurN_name)"
    )]
    UnknownDependency {
        name: String,
        variable: String,
        dependency: String,
    },
    #[error(
        "the containers {cycle} depend on each other in a cycle, so none can start first; remove one of these dependencies ({})",
        .variables.join(", ")
    )]
    DependencyCycle {
        cycle: String,
        variables: Vec<String>,
    },
    #[error(
        "container '{name}': the secret '{secret}' is not declared: add it to conteneur_secret_name"
    )]
    UnknownSecret { name: String, secret: String },
    #[error(
        "network '{network}': a network named {engine_name} ({id}) already exists and was not created by conteneur for this server; \
         conteneur never touches it: remove it (docker network rm) or choose another network name"
    )]
    NetworkClash {
        network: String,
        engine_name: String,
        id: String,
    },
    #[error(
        "container '{name}': where the tag '{tag}' of {repository} points is unknown (the repository was not read)"
    )]
    UnknownSource {
        name: String,
        repository: String,
        tag: String,
    },
}

/// Choices the admin makes for a run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// This server's identity (see [`labels::SERVER`]).
    pub server: String,
    /// Pull moving tags (latest…) again even when present.
    pub pull_moving: bool,
    /// Allow bind mounts of system folders.
    pub allow_system_mounts: bool,
    /// The key environment values are sealed with in the plan label.
    pub label_key: LabelKey,
}

/// Tags that move: pulling them again may bring another image.
pub fn is_moving_tag(tag: &str) -> bool {
    matches!(
        tag,
        "latest" | "stable" | "edge" | "main" | "master" | "dev" | "nightly"
    )
}

/// The canonical text of a launch plan: what the hash covers and the label
/// keeps, so the next run can say what changed. Environment values are
/// sealed ([`redact`]): the label never holds a secret.
pub fn plan_text(launch: &Launch, key: &LabelKey) -> String {
    serde_json::to_string(&redact::redacted(launch, key)).unwrap_or_default()
}

/// The hash stored on the container: any change of its plan (an
/// environment value included) replaces it.
pub fn plan_hash(launch: &Launch, key: &LabelKey) -> String {
    let digest = Sha256::digest(plan_text(launch, key).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks the host folder `host` of a bind mount of `launch` as text (see
/// [`crate::mounts`]): absolute, and not a protected folder once
/// normalised. Where it really leads is checked at use time
/// ([`crate::mounts::resolve`]).
pub fn check_mount(launch: &Launch, host: &str, allow_system: bool) -> Result<(), PlanError> {
    crate::mounts::check(mount_given(launch, host), allow_system)?;
    Ok(())
}

/// A bind mount of `launch`, as the mount checks name it.
pub fn mount_given<'a>(launch: &'a Launch, host: &'a str) -> crate::mounts::Given<'a> {
    crate::mounts::Given {
        container: &launch.name,
        index: launch.index,
        path: host,
    }
}

/// Describes what changed between two launch plans, for the step's cause.
fn describe_change(old: Option<&str>, new: &Launch, key: &LabelKey) -> String {
    let Some(old) = old.and_then(|t| serde_json::from_str::<Launch>(t).ok()) else {
        return "its launch plan changed".to_string();
    };
    // The label holds sealed values: compare like with like.
    let new = &redact::redacted(new, key);
    let mut parts = Vec::new();
    if old.image != new.image {
        parts.push(format!("image {} → {}", old.image, new.image));
    }
    if old.tag != new.tag {
        parts.push(format!("tag {} → {}", old.tag, new.tag));
    }
    parts.extend(redact::env_changes(&old.env, &new.env));
    let app_rest = |a: &launch::App| launch::App {
        secrets: Vec::new(),
        ..a.clone()
    };
    let fields: [(&str, bool); 9] = [
        ("ports", old.ports != new.ports),
        ("mounts", old.mounts != new.mounts),
        ("memory limit", old.memory != new.memory),
        ("restart policy", old.restart != new.restart),
        ("stop timeout", old.stop_timeout != new.stop_timeout),
        ("health check", old.health != new.health),
        ("labels", old.labels != new.labels),
        // Names and hashes only: which value changed is not said.
        ("secrets", old.app.secrets != new.app.secrets),
        (
            "application settings",
            app_rest(&old.app) != app_rest(&new.app),
        ),
    ];
    parts.extend(
        fields
            .iter()
            .filter(|(_, changed)| *changed)
            .map(|(n, _)| format!("{n} changed")),
    );
    if old.backend != new.backend {
        parts.push(format!("type {} → {}", old.backend, new.backend));
    }
    if parts.is_empty() {
        "its launch plan changed".to_string()
    } else {
        parts.join(", ")
    }
}

/// The labels a container of `launch` carries on server `server`.
pub fn container_labels(
    launch: &Launch,
    image_id: &str,
    server: &str,
    key: &LabelKey,
) -> BTreeMap<String, String> {
    let mut l = launch.labels.clone();
    l.insert(labels::MANAGED.into(), "true".into());
    l.insert(labels::SERVER.into(), server.to_string());
    l.insert(labels::NAME.into(), launch.name.clone());
    l.insert(labels::PLAN_HASH.into(), plan_hash(launch, key));
    l.insert(labels::PLAN.into(), plan_text(launch, key));
    l.insert(labels::IMAGE_ID.into(), image_id.to_string());
    l
}

/// The hint given for a type conteneur cannot run.
fn unsupported_hint(backend: &str) -> String {
    match backend {
        "snapcraft" | "vagrant" => {
            ": it cannot be built on this system; choose docker, docker+git, lxc or snap".into()
        }
        _ => " by this version of conteneur; choose docker, docker+git, lxc or snap".into(),
    }
}

/// Checks one container's type and the settings its engine cannot take.
/// Pure; [`reconcile`] calls it for every container before planning.
pub fn check_type(d: &Launch) -> Result<Kind, PlanError> {
    let Some(kind) = Kind::of_type(&d.backend) else {
        return Err(PlanError::Unsupported {
            name: d.name.clone(),
            backend: d.backend.clone(),
            hint: unsupported_hint(&d.backend),
        });
    };
    let setting = |expected: &str, found: String| PlanError::Setting {
        name: d.name.clone(),
        backend: d.backend.clone(),
        expected: expected.to_string(),
        found,
    };
    // A size that does not fit in 64 bits used to become "no limit".
    if !d.memory.is_empty() && crate::backend::docker::parse_size(&d.memory).is_none() {
        return Err(setting(
            "expected a memory limit such as 512m or 1g that counts in bytes on 64 bits",
            format!("'{}'", d.memory),
        ));
    }
    match d.backend.as_str() {
        "docker+git" if d.repository.trim().is_empty() => {
            return Err(setting(
                "is built from a git repository: expected its URL in conteneurX_repository",
                "none".into(),
            ));
        }
        "snap" => {
            if !crate::backend::snap::valid_snap_name(&d.image) {
                return Err(setting(
                    "expected a snap name in conteneurX_url (lowercase letters, digits, '-')",
                    format!("'{}'", d.image),
                ));
            }
            if let Some(m) = d.mounts.first() {
                return Err(setting(
                    "cannot share folders (a snap keeps its data in /var/snap/NAME): expected no mount",
                    format!("'{}'", m.container),
                ));
            }
            if let Some(e) = d.env.first() {
                return Err(setting(
                    "takes no environment (a snap is configured with snap set): expected none",
                    format!("'{e}'"),
                ));
            }
        }
        _ => {}
    }
    Ok(kind)
}

/// The `lint` side of [`check_type`]: every configured container whose
/// type conteneur cannot run (snapcraft, vagrant), as a problem naming the
/// container, so that the admin hears it before any run.
pub fn lint_types(cfg: &crate::config::Config) -> Vec<crate::config::Problem> {
    use crate::config::{Problem, ProblemKind, Severity};
    let first = |name: &str| {
        cfg.get(name)
            .ok()
            .and_then(|v| v.first().map(str::to_string))
    };
    let count: usize = first("nombre_conteneur")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut out = Vec::new();
    for x in 1..=count {
        let var = format!("conteneur{x}_type");
        let Some(t) = first(&var) else { continue };
        if Kind::of_type(&t).is_some() {
            continue;
        }
        let name = first(&format!("conteneur{x}_name")).unwrap_or_else(|| format!("conteneur{x}"));
        out.push(Problem {
            severity: Severity::Error,
            kind: ProblemKind::Unsupported,
            variable: Some(var),
            loc: None,
            message: format!(
                "container '{name}': type '{t}' is not supported yet{}",
                unsupported_hint(&t)
            ),
        });
    }
    out
}

/// The image reference a container's engine must hold, if it needs one:
/// none for snaps (snapd brings them) and LXC templates.
fn image_need(d: &Launch, kind: Kind) -> Option<String> {
    match kind {
        Kind::Snap => None,
        Kind::Lxc if crate::backend::lxc::is_template(&d.image) => None,
        _ => Some(format!("{}:{}", d.image, d.tag)),
    }
}

/// Volume mounts of a launch plan.
fn volumes(l: &Launch) -> impl Iterator<Item = &str> {
    l.mounts
        .iter()
        .filter(|m| m.kind == MountKind::Volume)
        .map(|m| m.host.as_str())
}

/// Turns the desired containers and one snapshot of the engines into a
/// plan.
pub fn reconcile(
    desired: &[Launch],
    observed: &Observed,
    opts: &Options,
) -> Result<Plan, PlanError> {
    let server = opts.server.as_str();
    let mut steps = Vec::new();
    let mut seen = HashSet::new();
    let mut kinds: HashMap<&str, Kind> = HashMap::new();
    let mut snaps: HashMap<&str, &str> = HashMap::new();
    for d in desired {
        if !seen.insert(d.name.as_str()) {
            return Err(PlanError::DuplicateName(d.name.clone()));
        }
        let kind = check_type(d)?;
        kinds.insert(d.name.as_str(), kind);
        if kind == Kind::Snap
            && let Some(other) = snaps.insert(d.image.as_str(), d.name.as_str())
        {
            return Err(PlanError::SnapTaken {
                name: d.name.clone(),
                snap: d.image.clone(),
                owner: format!("container '{other}' wants it too: a snap is installed once"),
            });
        }
        for m in d.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
            check_mount(d, &m.host, opts.allow_system_mounts)?;
        }
    }
    apps::check(desired)?;
    let (network_creates, network_removes) = apps::network_steps(desired, observed, server)?;
    let kind_of = |d: &Launch| kinds.get(d.name.as_str()).copied().unwrap_or(Kind::Docker);

    // Images first: once per engine, image and tag.
    let mut prepared = HashSet::new();
    let mut built = HashSet::new();
    for d in desired {
        let kind = kind_of(d);
        let Some(reference) = image_need(d, kind) else {
            continue;
        };
        if !prepared.insert((kind, reference.clone())) {
            continue;
        }
        let present = observed.image(kind, &reference);
        if d.backend == "docker+git" {
            let key = (d.repository.clone(), d.tag.clone());
            let Some(commit) = observed.sources.get(&key) else {
                return Err(PlanError::UnknownSource {
                    name: d.name.clone(),
                    repository: d.repository.clone(),
                    tag: d.tag.clone(),
                });
            };
            let had = present.and_then(|i| i.labels.get(labels::GIT_COMMIT));
            let cause = match had {
                None if present.is_none() => format!(
                    "not built yet ('{}' is commit {})",
                    d.tag,
                    short_commit(commit)
                ),
                None => "the image present was not built by conteneur".to_string(),
                Some(old) if old != commit => format!(
                    "'{}' moved: commit {} → {}",
                    d.tag,
                    short_commit(old),
                    short_commit(commit)
                ),
                Some(_) => continue,
            };
            built.insert(reference);
            steps.push(Step {
                action: Action::Build {
                    image: d.image.clone(),
                    tag: d.tag.clone(),
                    repository: d.repository.clone(),
                    commit: commit.clone(),
                },
                cause,
            });
            continue;
        }
        let cause = if present.is_none() {
            "not present on this server".to_string()
        } else if opts.pull_moving && is_moving_tag(&d.tag) {
            format!("'{}' is a moving tag and a pull was asked for", d.tag)
        } else {
            continue;
        };
        steps.push(Step {
            action: Action::Pull {
                backend: kind,
                image: d.image.clone(),
                tag: d.tag.clone(),
            },
            cause,
        });
    }

    // Replaced containers draining: a drainer started by an earlier run
    // stops them when their grace period ends; those it no longer holds
    // (interrupted) go now.
    for c in observed
        .containers
        .iter()
        .filter(|c| c.is_ours(server) && c.is_old())
    {
        // A container no longer configured has nothing to drain to: its
        // replaced instance goes now too (and leaves its networks free).
        let configured = desired.iter().any(|d| d.name == old_base(&c.name));
        steps.push(match observed.draining.get(&c.id).filter(|_| configured) {
            Some(until) => Step {
                action: Action::Leave {
                    name: c.name.clone(),
                    id: c.id.clone(),
                    backend: c.backend,
                    ports: c.host_ports().unwrap_or_default(),
                },
                cause: format!(
                    "replaced, draining until {until} (then stopped by `conteneur drain`)"
                ),
            },
            None => Step {
                action: Action::Remove {
                    name: c.name.clone(),
                    id: c.id.clone(),
                    backend: c.backend,
                },
                cause: if configured {
                    "replaced, left over by an interrupted drain".into()
                } else {
                    "replaced, and no longer in the configuration".into()
                },
            },
        });
    }

    // Leftovers of an interrupted run go first: their names are needed.
    for c in observed
        .containers
        .iter()
        .filter(|c| c.is_ours(server) && c.is_next())
    {
        steps.push(Step {
            action: Action::Remove {
                name: c.name.clone(),
                id: c.id.clone(),
                backend: c.backend,
            },
            cause: "replacement left over by an interrupted run".into(),
        });
    }

    steps.extend(network_creates);
    // Each container after the ones it depends on.
    for d in apps::start_order(desired) {
        let kind = kind_of(d);
        let hash = plan_hash(d, &opts.label_key);
        // Someone else's container holding the name (or the snap) on the
        // engine it must run on.
        let foreign = observed.containers.iter().find(|c| {
            c.backend == kind
                && !c.is_ours(server)
                && if kind == Kind::Snap {
                    c.id == d.image
                } else {
                    c.name == d.name
                }
        });
        if let Some(c) = foreign {
            return Err(if kind == Kind::Snap {
                PlanError::SnapTaken {
                    name: d.name.clone(),
                    snap: d.image.clone(),
                    owner: "it has no conteneur marker for this server".into(),
                }
            } else if let Some(root) = c.labels.get(labels::SERVER).filter(|_| c.is_managed()) {
                PlanError::OtherRoot {
                    name: d.name.clone(),
                    id: short_id(&c.id).to_string(),
                    root: root.clone(),
                }
            } else {
                PlanError::NameClash {
                    name: d.name.clone(),
                    id: short_id(&c.id).to_string(),
                }
            });
        }
        if kind == Kind::Snap
            && let Some(c) = observed.containers.iter().find(|c| {
                c.backend == Kind::Snap && c.is_ours(server) && c.id == d.image && c.name != d.name
            })
        {
            return Err(PlanError::SnapTaken {
                name: d.name.clone(),
                snap: d.image.clone(),
                owner: format!(
                    "conteneur installed it for container '{}'; remove that one first",
                    c.name
                ),
            });
        }
        // Ours under this name, on this engine first.
        let mut mine: Vec<&ObservedContainer> = observed
            .containers
            .iter()
            .filter(|c| c.is_ours(server) && !c.is_next() && !c.is_old() && c.name == d.name)
            .collect();
        mine.sort_by_key(|c| c.backend != kind);
        let Some((c, extra)) = mine.split_first() else {
            steps.push(Step {
                action: Action::Create {
                    name: d.name.clone(),
                    backend: kind,
                },
                cause: "not running yet".into(),
            });
            continue;
        };
        for x in extra {
            steps.push(Step {
                action: Action::Remove {
                    name: x.name.clone(),
                    id: x.id.clone(),
                    backend: x.backend,
                },
                cause: format!(
                    "a second container for '{}' (on {}; the configuration wants {kind})",
                    d.name, x.backend
                ),
            });
        }
        let old_launch = c
            .labels
            .get(labels::PLAN)
            .and_then(|t| serde_json::from_str::<Launch>(t).ok());
        let reference = image_need(d, kind);
        let current_image = reference
            .as_ref()
            .and_then(|r| observed.image(kind, r))
            .map(|i| &i.id);
        let image_changed = c.backend == kind
            && current_image
                .is_some_and(|id| c.labels.get(labels::IMAGE_ID).is_some_and(|old| old != id));
        let rebuilt = reference.as_ref().is_some_and(|r| built.contains(r));
        let host_ports = c.host_ports();
        let cause = if c.plan_hash() != Some(hash.as_str()) {
            Some(describe_change(
                c.labels.get(labels::PLAN).map(String::as_str),
                d,
                &opts.label_key,
            ))
        } else if rebuilt {
            Some(format!(
                "its image {} is built again",
                reference.clone().unwrap_or_default()
            ))
        } else if image_changed {
            Some(format!(
                "the image {} changed",
                reference.clone().unwrap_or_default()
            ))
        } else if host_ports.is_none() && !d.ports.is_empty() && kind != Kind::Snap {
            Some(
                "it holds its ports itself (made by an older conteneur): \
                 replaced once so that nginx forwards them"
                    .to_string(),
            )
        } else if let Some(net) = apps::missing_network(d, observed, server)
            && c.backend == kind
        {
            Some(format!(
                "its network {net} is missing: made again to join it"
            ))
        } else {
            None
        };
        if cause.is_some() && c.backend != kind {
            let old_volumes: Vec<&str> = old_launch
                .as_ref()
                .map(|l| volumes(l).collect())
                .unwrap_or_else(|| volumes(d).collect());
            if let Some(v) = old_volumes.first() {
                return Err(PlanError::VolumeSwitch {
                    name: d.name.clone(),
                    from: c.backend,
                    to: kind,
                    volume: v.to_string(),
                });
            }
        }
        steps.push(match cause {
            Some(cause) => Step {
                action: Action::Replace {
                    name: d.name.clone(),
                    old_id: c.id.clone(),
                    old_backend: c.backend,
                    backend: kind,
                    old_health: old_launch.map(|l| l.health),
                    old_ports: host_ports,
                },
                cause,
            },
            None if !c.running => Step {
                action: Action::Start {
                    name: d.name.clone(),
                    id: c.id.clone(),
                    backend: c.backend,
                    ports: host_ports.unwrap_or_else(|| direct_ports(d)),
                },
                cause: format!("unchanged but {}", c.state),
            },
            None => Step {
                action: Action::Leave {
                    name: d.name.clone(),
                    id: c.id.clone(),
                    backend: c.backend,
                    ports: host_ports.unwrap_or_else(|| direct_ports(d)),
                },
                cause: "unchanged".into(),
            },
        });
    }

    let wanted: HashSet<&str> = desired.iter().map(|d| d.name.as_str()).collect();
    let unwanted = |c: &&ObservedContainer| {
        c.is_ours(server) && !c.is_next() && !c.is_old() && !wanted.contains(c.name.as_str())
    };
    for c in observed.containers.iter().filter(unwanted) {
        steps.push(Step {
            action: Action::Remove {
                name: c.name.clone(),
                id: c.id.clone(),
                backend: c.backend,
            },
            cause: "no longer in the configuration (its volumes and folders are kept)".into(),
        });
    }
    steps.extend(network_removes);
    Ok(Plan { steps })
}

/// The engines the desired containers run on.
pub fn kinds_needed(desired: &[Launch]) -> BTreeMap<Kind, Vec<String>> {
    let mut out: BTreeMap<Kind, Vec<String>> = BTreeMap::new();
    for d in desired {
        if let Some(k) = Kind::of_type(&d.backend) {
            out.entry(k).or_default().push(d.name.clone());
        }
    }
    out
}

/// Host ports that are `port_out` itself: a snap's (it listens where it
/// wants), or a container without ports.
pub fn direct_ports(d: &Launch) -> HostPorts {
    HostPorts(d.ports.iter().map(|p| (p.host, p.host)).collect())
}

/// The name a replacement container has until it is switched in.
pub fn next_name(name: &str) -> String {
    format!("{name}{NEXT_SUFFIX}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::backend::ObservedImage;
    use launch::Mount;

    pub(crate) fn launch(name: &str, tag: &str) -> Launch {
        launch::sample(name, tag, 8080)
    }

    pub(crate) fn running(l: &Launch, id: &str) -> ObservedContainer {
        let mut labels = container_labels(l, "sha256:img1", "", &LabelKey::default());
        let ports = HostPorts(l.ports.iter().map(|p| (p.host, p.host + 30000)).collect());
        labels.insert(labels::HOST_PORTS.into(), ports.label());
        ObservedContainer {
            backend: Kind::of_type(&l.backend).unwrap_or(Kind::Docker),
            id: id.into(),
            name: l.name.clone(),
            labels,
            running: true,
            state: "running".into(),
            image: format!("{}:{}", l.image, l.tag),
            image_id: "sha256:img1".into(),
        }
    }

    pub(crate) fn images(refs: &[&str]) -> BTreeMap<Kind, HashMap<String, ObservedImage>> {
        let mut m = BTreeMap::new();
        m.insert(
            Kind::Docker,
            refs.iter()
                .map(|r| {
                    (
                        r.to_string(),
                        ObservedImage {
                            id: "sha256:img1".to_string(),
                            labels: BTreeMap::new(),
                        },
                    )
                })
                .collect(),
        );
        m
    }

    #[test]
    fn fresh_server_pulls_once_per_tag_then_creates() {
        let a = launch("a", "1.0");
        let mut b = launch("b", "1.0");
        b.ports[0].host = 8081;
        let plan = reconcile(&[a, b], &Observed::default(), &Options::default()).unwrap();
        let text = plan.to_string();
        assert_eq!(plan.pulls().count(), 1, "{text}");
        assert!(text.contains("create   a"), "{text}");
        assert!(text.contains("create   b"), "{text}");
        assert_eq!(plan.recreated(), 2);
    }

    #[test]
    fn host_ports_are_shown_and_a_container_holding_port_out_is_moved_once() {
        let a = launch("a", "1.0");
        let mut legacy = running(&a, "aaaa");
        let images = images(&["localhost:5000/demo/web:1.0"]);
        let observed = Observed {
            containers: vec![legacy.clone()],
            images: images.clone(),
            ..Default::default()
        };
        let plan = reconcile(std::slice::from_ref(&a), &observed, &Options::default()).unwrap();
        assert!(plan.to_string().contains("[ports 8080→38080]"), "{plan}");
        legacy.labels.remove(labels::HOST_PORTS);
        let observed = Observed {
            containers: vec![legacy],
            images,
            ..Default::default()
        };
        let plan = reconcile(std::slice::from_ref(&a), &observed, &Options::default()).unwrap();
        let text = plan.to_string();
        assert!(
            text.contains("replace  a (aaaa)") && text.contains("holds its ports itself"),
            "{text}"
        );
        assert!(
            matches!(
                &plan.steps[0].action,
                Action::Replace {
                    old_ports: None,
                    ..
                }
            ),
            "{text}"
        );
    }

    #[test]
    fn a_draining_container_is_left_to_its_drainer_and_removed_when_it_died() {
        let a = launch("a", "1.0");
        let mut old = running(&a, "oooo");
        old.name = crate::backend::old_name("a", "oooo");
        let mut observed = Observed {
            containers: vec![running(&a, "aaaa"), old],
            images: images(&["localhost:5000/demo/web:1.0"]),
            ..Default::default()
        };
        let plan = reconcile(std::slice::from_ref(&a), &observed, &Options::default()).unwrap();
        let text = plan.to_string();
        assert!(
            text.contains("remove   a.old.oooo (oooo)") && text.contains("interrupted drain"),
            "{text}"
        );
        assert!(text.contains("leave    a (aaaa)"), "{text}");
        observed
            .draining
            .insert("oooo".into(), "10:00:00 UTC".into());
        let plan = reconcile(std::slice::from_ref(&a), &observed, &Options::default()).unwrap();
        let text = plan.to_string();
        assert!(plan.is_noop(), "{text}");
        assert!(text.contains("draining until 10:00:00 UTC"), "{text}");
    }

    #[test]
    fn unchanged_is_left_and_changed_tag_replaces_only_that_one() {
        let a = launch("a", "1.0");
        let b = launch("b", "1.0");
        let observed = Observed {
            containers: vec![running(&a, "aaaa"), running(&b, "bbbb")],
            images: images(&["localhost:5000/demo/web:1.0"]),
            ..Default::default()
        };
        let plan = reconcile(&[a.clone(), b.clone()], &observed, &Options::default()).unwrap();
        assert!(plan.is_noop(), "{plan}");
        let b2 = launch("b", "2.0");
        let plan = reconcile(&[a, b2], &observed, &Options::default()).unwrap();
        let text = plan.to_string();
        assert_eq!(plan.recreated(), 1, "{text}");
        assert!(
            text.contains("pull     localhost:5000/demo/web:2.0"),
            "{text}"
        );
        assert!(
            text.contains("replace  b (bbbb)") && text.contains("tag 1.0 → 2.0"),
            "{text}"
        );
        assert!(text.contains("leave    a (aaaa)"), "{text}");
    }

    #[test]
    fn the_plan_label_holds_no_environment_value() {
        let mut a = launch("a", "1.0");
        a.env = vec!["DB_PASSWORD=hunter2".into(), "MODE=prod".into()];
        let key = LabelKey::new([7; 32]);
        let labels = container_labels(&a, "sha256:img1", "", &key);
        for (k, v) in &labels {
            assert!(!v.contains("hunter2") && !v.contains("prod"), "{k}={v}");
        }
        assert!(labels[labels::PLAN].contains("DB_PASSWORD="));
        let mut c = running(&a, "aaaa");
        let host_ports = c.labels[labels::HOST_PORTS].clone();
        c.labels = labels;
        c.labels.insert(labels::HOST_PORTS.into(), host_ports);
        let observed = Observed {
            containers: vec![c],
            images: images(&["localhost:5000/demo/web:1.0"]),
            ..Default::default()
        };
        let opts = Options {
            label_key: key,
            ..Default::default()
        };
        let plan = reconcile(std::slice::from_ref(&a), &observed, &opts).unwrap();
        assert!(plan.is_noop(), "{plan}");
        // Another value: replaced, named, not shown.
        a.env[0] = "DB_PASSWORD=hunter3".into();
        let plan = reconcile(std::slice::from_ref(&a), &observed, &opts).unwrap();
        let text = plan.to_string();
        assert!(text.contains("replace  a (aaaa)"), "{text}");
        assert!(text.contains("env DB_PASSWORD changed"), "{text}");
        assert!(!text.contains("hunter") && !text.contains("MODE"), "{text}");
        assert_ne!(
            plan_hash(&a, &opts.label_key),
            plan_hash(&launch("a", "1.0"), &opts.label_key)
        );
    }

    #[test]
    fn removes_unwanted_and_leftovers_never_others() {
        let a = launch("a", "1.0");
        let mut old = running(&launch("gone", "1.0"), "gggg");
        old.name = "gone".into();
        let mut next = running(&a, "nnnn");
        next.name = next_name("a");
        let mut foreign = running(&launch("x", "1.0"), "ffff");
        foreign.labels.clear();
        foreign.name = "someone-elses".into();
        // Managed by conteneur, but for another root: not ours either.
        let mut other_root = running(&launch("other-root-app", "1.0"), "oooo");
        other_root
            .labels
            .insert(labels::SERVER.into(), "/elsewhere".into());
        let other_root_name = other_root.name.clone();
        let observed = Observed {
            containers: vec![old, next, foreign, other_root, running(&a, "aaaa")],
            images: images(&["localhost:5000/demo/web:1.0"]),
            ..Default::default()
        };
        let plan = reconcile(&[a], &observed, &Options::default()).unwrap();
        let text = plan.to_string();
        assert!(text.contains("remove   a.next (nnnn)"), "{text}");
        assert!(text.contains("remove   gone (gggg)"), "{text}");
        assert!(!text.contains("someone-elses"), "{text}");
        assert!(!text.contains(&other_root_name), "{text}");
    }

    #[test]
    fn name_clash_with_a_foreign_container_is_an_error() {
        let a = launch("a", "1.0");
        let mut foreign = running(&a, "ffff");
        foreign.labels.clear();
        let observed = Observed {
            containers: vec![foreign],
            images: images(&[]),
            ..Default::default()
        };
        let e = reconcile(&[a], &observed, &Options::default()).unwrap_err();
        assert!(matches!(e, PlanError::NameClash { .. }), "{e}");
        assert!(e.to_string().contains("not created by conteneur"));
    }

    #[test]
    fn name_clash_with_another_roots_container_names_that_root() {
        let a = launch("a", "1.0");
        let mut other = running(&a, "ffff");
        other
            .labels
            .insert(labels::SERVER.into(), "/srv/other-root".into());
        let observed = Observed {
            containers: vec![other],
            images: images(&[]),
            ..Default::default()
        };
        let e = reconcile(&[a], &observed, &Options::default()).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, PlanError::OtherRoot { .. }), "{e}");
        assert!(
            text.contains("/srv/other-root") && !text.contains("not created by conteneur"),
            "{text}"
        );
    }

    #[test]
    fn stopped_unchanged_is_started_and_moving_tags_pull_on_request() {
        let a = launch("a", "latest");
        let mut c = running(&a, "aaaa");
        c.running = false;
        c.state = "exited".into();
        let observed = Observed {
            containers: vec![c],
            images: images(&["localhost:5000/demo/web:latest"]),
            ..Default::default()
        };
        let plan = reconcile(std::slice::from_ref(&a), &observed, &Options::default()).unwrap();
        assert!(plan.to_string().contains("start    a"), "{plan}");
        let opts = Options {
            pull_moving: true,
            ..Default::default()
        };
        let plan = reconcile(&[a], &observed, &opts).unwrap();
        assert_eq!(plan.pulls().count(), 1);
    }

    #[test]
    fn system_mounts_and_unsupported_types_are_refused() {
        let mut a = launch("a", "1.0");
        for bad in [
            "/",
            "/etc",
            "/etc/ssl",
            "/var/run/docker.sock",
            "/var",
            "/srv/../etc",
            "//etc",
            "/./etc",
            "/etc/../etc",
            "/home",
            "/var/log",
        ] {
            a.mounts = vec![Mount {
                container: "/data".into(),
                host: bad.into(),
                kind: MountKind::Bind,
            }];
            assert!(
                reconcile(
                    std::slice::from_ref(&a),
                    &Observed::default(),
                    &Options::default()
                )
                .is_err(),
                "{bad}"
            );
        }
        a.mounts[0].host = "/srv/a".into();
        assert!(
            reconcile(
                std::slice::from_ref(&a),
                &Observed::default(),
                &Options::default()
            )
            .is_ok()
        );
        a.mounts[0].host = "/etc".into();
        let allow = Options {
            allow_system_mounts: true,
            ..Default::default()
        };
        assert!(reconcile(std::slice::from_ref(&a), &Observed::default(), &allow).is_ok());
        let mut v = launch("v", "1.0");
        v.backend = "vagrant".into();
        let e = reconcile(&[v], &Observed::default(), &Options::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("container 'v': type 'vagrant' is not supported yet"),
            "{e}"
        );
    }

    fn on(mut l: Launch, t: &str) -> Launch {
        l.backend = t.into();
        l
    }

    #[test]
    fn a_type_switch_replaces_across_engines_and_pulls_for_the_new_one() {
        let a = launch("a", "1.0");
        let observed = Observed {
            containers: vec![running(&a, "aaaa")],
            images: images(&["localhost:5000/demo/web:1.0"]),
            ..Default::default()
        };
        let to_lxc = on(a.clone(), "lxc");
        let plan = reconcile(
            std::slice::from_ref(&to_lxc),
            &observed,
            &Options::default(),
        )
        .unwrap();
        let text = plan.to_string();
        // The docker image is there, the LXC cache does not have it yet.
        assert!(
            text.contains("pull     localhost:5000/demo/web:1.0 for lxc"),
            "{text}"
        );
        assert!(text.contains("replace  a (aaaa) docker → lxc"), "{text}");
        assert!(text.contains("type docker → lxc"), "{text}");
        let step = plan
            .steps
            .iter()
            .find(|s| matches!(s.action, Action::Replace { .. }))
            .unwrap();
        assert!(matches!(
            step.action,
            Action::Replace {
                old_backend: Kind::Docker,
                backend: Kind::Lxc,
                ..
            }
        ));
        // JSON names the engines.
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["steps"][1]["old_backend"], "docker");
        assert_eq!(json["steps"][1]["backend"], "lxc");

        // Back on LXC, unchanged: left alone, on its engine.
        let mut c = running(&to_lxc, "a.next");
        c.name = "a".into();
        let mut imgs = images(&[]);
        imgs.insert(
            Kind::Lxc,
            [(
                "localhost:5000/demo/web:1.0".to_string(),
                ObservedImage {
                    id: "sha256:img1".into(),
                    labels: BTreeMap::new(),
                },
            )]
            .into(),
        );
        let observed = Observed {
            containers: vec![c],
            images: imgs,
            ..Default::default()
        };
        let plan = reconcile(
            std::slice::from_ref(&to_lxc),
            &observed,
            &Options::default(),
        )
        .unwrap();
        assert!(plan.is_noop(), "{plan}");
        assert!(
            plan.to_string().contains("leave    a (a.next) on lxc"),
            "{plan}"
        );
    }

    #[test]
    fn a_foreign_container_only_clashes_on_its_own_engine() {
        let a = on(launch("a", "1.0"), "lxc");
        let mut foreign = running(&launch("a", "1.0"), "ffff");
        foreign.labels.clear();
        let observed = Observed {
            containers: vec![foreign.clone()],
            ..Default::default()
        };
        // A docker container named 'a' that is not ours: no clash for LXC.
        let plan = reconcile(std::slice::from_ref(&a), &observed, &Options::default()).unwrap();
        assert!(plan.to_string().contains("create   a on lxc"), "{plan}");
        assert!(!plan.to_string().contains("ffff"), "{plan}");
        foreign.backend = Kind::Lxc;
        let observed = Observed {
            containers: vec![foreign],
            ..Default::default()
        };
        let e = reconcile(&[a], &observed, &Options::default()).unwrap_err();
        assert!(matches!(e, PlanError::NameClash { .. }), "{e}");
    }

    #[test]
    fn lxc_templates_need_no_pull_and_volumes_do_not_switch() {
        let mut t = on(launch("t", "1"), "lxc");
        t.image = "busybox".into();
        let plan = reconcile(&[t], &Observed::default(), &Options::default()).unwrap();
        assert_eq!(plan.pulls().count(), 0, "{plan}");
        let mut a = launch("a", "1.0");
        a.mounts = vec![Mount {
            container: "/data".into(),
            host: "appdata".into(),
            kind: MountKind::Volume,
        }];
        let observed = Observed {
            containers: vec![running(&a, "aaaa")],
            images: images(&["localhost:5000/demo/web:1.0"]),
            ..Default::default()
        };
        let e = reconcile(&[on(a, "lxc")], &observed, &Options::default()).unwrap_err();
        assert!(
            matches!(e, PlanError::VolumeSwitch { .. }) && e.to_string().contains("'appdata'"),
            "{e}"
        );
    }

    fn git(name: &str, tag: &str) -> Launch {
        let mut l = on(launch(name, tag), "docker+git");
        l.image = "local/site".into();
        l.repository = "file:///srv/site.git".into();
        l
    }

    fn built(commit: &str) -> BTreeMap<Kind, HashMap<String, ObservedImage>> {
        let mut m = BTreeMap::new();
        m.insert(
            Kind::Docker,
            [(
                "local/site:v1".to_string(),
                ObservedImage {
                    id: "sha256:img1".into(),
                    labels: [(labels::GIT_COMMIT.to_string(), commit.to_string())].into(),
                },
            )]
            .into(),
        );
        m
    }

    #[test]
    fn git_builds_only_when_the_tag_or_its_commit_changes() {
        let s = git("s", "v1");
        let sources: HashMap<(String, String), String> =
            [(("file:///srv/site.git".into(), "v1".into()), "c1".into())].into();
        // Nothing built yet: build, then create.
        let observed = Observed {
            sources: sources.clone(),
            ..Default::default()
        };
        let plan = reconcile(std::slice::from_ref(&s), &observed, &Options::default()).unwrap();
        let text = plan.to_string();
        assert!(
            text.contains("build    local/site:v1 from file:///srv/site.git c1")
                && text.contains("not built yet"),
            "{text}"
        );
        // Built from that commit, running: nothing to do.
        let observed = Observed {
            containers: vec![running(&s, "ssss")],
            images: built("c1"),
            sources: sources.clone(),
            ..Default::default()
        };
        let plan = reconcile(std::slice::from_ref(&s), &observed, &Options::default()).unwrap();
        assert!(plan.is_noop(), "{plan}");
        // The tag moved: built again, and the container replaced.
        let observed = Observed {
            containers: vec![running(&s, "ssss")],
            images: built("c0"),
            sources,
            ..Default::default()
        };
        let plan = reconcile(std::slice::from_ref(&s), &observed, &Options::default()).unwrap();
        let text = plan.to_string();
        assert!(text.contains("'v1' moved: commit c0 → c1"), "{text}");
        assert!(
            text.contains("replace  s (ssss)") && text.contains("built again"),
            "{text}"
        );
        // Where the tag points unknown, or no repository: refused.
        let e = reconcile(
            std::slice::from_ref(&s),
            &Observed::default(),
            &Options::default(),
        )
        .unwrap_err();
        assert!(matches!(e, PlanError::UnknownSource { .. }), "{e}");
        let mut s = s;
        s.repository.clear();
        let e = reconcile(&[s], &Observed::default(), &Options::default()).unwrap_err();
        assert!(
            e.to_string().contains("container 's': type 'docker+git'")
                && e.to_string().contains("conteneurX_repository"),
            "{e}"
        );
    }

    #[test]
    fn snaps_are_checked_and_never_taken_from_others() {
        let mut s = on(launch("s", "stable"), "snap");
        s.image = "hello-web".into();
        let plan = reconcile(
            std::slice::from_ref(&s),
            &Observed::default(),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(plan.pulls().count(), 0, "{plan}");
        assert!(plan.to_string().contains("create   s on snap"), "{plan}");
        // Installed by someone else.
        let foreign = ObservedContainer {
            backend: Kind::Snap,
            id: "hello-web".into(),
            name: "hello-web".into(),
            labels: BTreeMap::new(),
            running: true,
            state: "running".into(),
            image: String::new(),
            image_id: String::new(),
        };
        let observed = Observed {
            containers: vec![foreign],
            ..Default::default()
        };
        let e = reconcile(std::slice::from_ref(&s), &observed, &Options::default()).unwrap_err();
        assert!(matches!(e, PlanError::SnapTaken { .. }), "{e}");
        // Settings a snap cannot take.
        let mut m = s.clone();
        m.mounts = vec![Mount {
            container: "/data".into(),
            host: "/srv/x".into(),
            kind: MountKind::Bind,
        }];
        let e = reconcile(&[m], &Observed::default(), &Options::default()).unwrap_err();
        assert!(e.to_string().contains("cannot share folders"), "{e}");
        let mut bad = s.clone();
        bad.image = "localhost:5000/demo/web".into();
        assert!(reconcile(&[bad], &Observed::default(), &Options::default()).is_err());
        // Twice the same snap.
        let mut t = s.clone();
        t.name = "t".into();
        let e = reconcile(&[s, t], &Observed::default(), &Options::default()).unwrap_err();
        assert!(e.to_string().contains("a snap is installed once"), "{e}");
    }

    #[test]
    fn a_memory_limit_past_64_bits_is_refused_not_dropped() {
        let mut a = launch("a", "1.0");
        a.memory = "512m".into();
        assert!(check_type(&a).is_ok());
        a.memory = "99999999999999999999g".into();
        let e = check_type(&a).unwrap_err().to_string();
        assert!(
            e.contains("container 'a'") && e.contains("'99999999999999999999g'"),
            "{e}"
        );
    }

    #[test]
    fn snapcraft_and_vagrant_name_the_container() {
        for t in ["snapcraft", "vagrant"] {
            let v = on(launch("legacy", "1"), t);
            let e = check_type(&v).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "container 'legacy': type '{t}' is not supported yet: it cannot be built on this system; \
                     choose docker, docker+git, lxc or snap"
                )
            );
        }
    }
}
