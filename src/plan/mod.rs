//! `plan`: the desired state (launch plans) against one snapshot of the
//! engine, as a list of atomic steps, each with its cause. It computes and
//! never acts: [`reconcile`] is a pure function, so every decision can be
//! tested without an engine, and `conteneur plan` shows exactly what
//! `reconfigure` would do.

pub mod launch;

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::backend::{NEXT_SUFFIX, Observed, ObservedContainer, labels, short_id};
use launch::{Launch, MountKind};

/// What to do, and to which container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    /// Bring an image to the engine.
    Pull { image: String, tag: String },
    /// A new container.
    Create { name: String },
    /// A changed container: created anew, switched in once healthy.
    Replace {
        name: String,
        old_id: String,
        /// How to tell the old container serves again after a rollback.
        #[serde(skip)]
        old_health: Option<launch::Health>,
    },
    /// An unchanged container that is not running.
    Start { name: String, id: String },
    /// A container no longer wanted (its volumes and folders are kept).
    Remove { name: String, id: String },
    /// Nothing to do.
    Leave { name: String, id: String },
}

/// One atomic step and why it is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub action: Action,
    pub cause: String,
}

/// The ordered steps of a run: pulls first, then containers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    /// Pulls only.
    pub fn pulls(&self) -> impl Iterator<Item = (&str, &str)> {
        self.steps.iter().filter_map(|s| match &s.action {
            Action::Pull { image, tag } => Some((image.as_str(), tag.as_str())),
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
                Action::Pull { image, tag } => ("pull", format!("{image}:{tag}")),
                Action::Create { name } => ("create", name.clone()),
                Action::Replace { name, old_id, .. } => {
                    ("replace", format!("{name} ({})", short_id(old_id)))
                }
                Action::Start { name, id } => ("start", format!("{name} ({})", short_id(id))),
                Action::Remove { name, id } => ("remove", format!("{name} ({})", short_id(id))),
                Action::Leave { name, id } => ("leave", format!("{name} ({})", short_id(id))),
            };
            writeln!(f, "{verb:<8} {what:<40} {}", s.cause)?;
        }
        Ok(())
    }
}

/// Why no plan can be made. Nothing has been changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "container '{name}': a container of that name already exists ({id}) and was not created by conteneur; \
         conteneur never touches it: rename or remove it (docker rm), or choose another name"
    )]
    NameClash { name: String, id: String },
    #[error("container '{name}': type '{backend}' is not supported yet{hint}")]
    Unsupported {
        name: String,
        backend: String,
        hint: String,
    },
    #[error(
        "container '{name}': the host folder '{path}' would expose the system to the container; \
         set conteneur_allow_system_mounts to oui to allow it"
    )]
    SystemMount { name: String, path: String },
    #[error("container '{name}': mount '{path}': {reason}")]
    BadMount {
        name: String,
        path: String,
        reason: String,
    },
    #[error("two containers are named '{0}'")]
    DuplicateName(String),
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
}

/// Tags that move: pulling them again may bring another image.
pub fn is_moving_tag(tag: &str) -> bool {
    matches!(
        tag,
        "latest" | "stable" | "edge" | "main" | "master" | "dev" | "nightly"
    )
}

/// The canonical text of a launch plan: what the hash covers and the label
/// keeps, so the next run can say what changed.
pub fn plan_text(launch: &Launch) -> String {
    serde_json::to_string(launch).unwrap_or_default()
}

/// The hash stored on the container: any change of its plan replaces it.
pub fn plan_hash(launch: &Launch) -> String {
    let digest = Sha256::digest(plan_text(launch).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Host folders that must not be handed to a container unless allowed.
const SYSTEM_PATHS: &[&str] = &[
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/root",
    "/var/lib/docker",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run",
    "/run",
];

/// Checks a host folder of a bind mount: absolute, no `..`, and not a
/// system folder (nor the root, nor a parent of a system folder).
pub fn check_mount(name: &str, host: &str, allow_system: bool) -> Result<(), PlanError> {
    let bad = |reason: &str| PlanError::BadMount {
        name: name.to_string(),
        path: host.to_string(),
        reason: reason.to_string(),
    };
    if !host.starts_with('/') {
        return Err(bad("a host folder must be an absolute path"));
    }
    if host.split('/').any(|c| c == "..") {
        return Err(bad("'..' is not allowed in a host folder"));
    }
    if allow_system {
        return Ok(());
    }
    let norm = {
        let t = host.trim_end_matches('/');
        if t.is_empty() { "/" } else { t }
    };
    let exposes = norm == "/"
        || SYSTEM_PATHS.iter().any(|s| {
            norm == *s || norm.starts_with(&format!("{s}/")) || s.starts_with(&format!("{norm}/"))
        });
    if exposes {
        return Err(PlanError::SystemMount {
            name: name.to_string(),
            path: host.to_string(),
        });
    }
    Ok(())
}

/// Describes what changed between two launch plans, for the step's cause.
fn describe_change(old: Option<&str>, new: &Launch) -> String {
    let Some(old) = old.and_then(|t| serde_json::from_str::<Launch>(t).ok()) else {
        return "its launch plan changed".to_string();
    };
    let mut parts = Vec::new();
    if old.image != new.image {
        parts.push(format!("image {} → {}", old.image, new.image));
    }
    if old.tag != new.tag {
        parts.push(format!("tag {} → {}", old.tag, new.tag));
    }
    let fields: [(&str, bool); 8] = [
        ("ports", old.ports != new.ports),
        ("mounts", old.mounts != new.mounts),
        ("environment", old.env != new.env),
        ("memory limit", old.memory != new.memory),
        ("restart policy", old.restart != new.restart),
        ("stop timeout", old.stop_timeout != new.stop_timeout),
        ("health check", old.health != new.health),
        ("labels", old.labels != new.labels),
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
pub fn container_labels(launch: &Launch, image_id: &str, server: &str) -> BTreeMap<String, String> {
    let mut l = launch.labels.clone();
    l.insert(labels::MANAGED.into(), "true".into());
    l.insert(labels::SERVER.into(), server.to_string());
    l.insert(labels::NAME.into(), launch.name.clone());
    l.insert(labels::PLAN_HASH.into(), plan_hash(launch));
    l.insert(labels::PLAN.into(), plan_text(launch));
    l.insert(labels::IMAGE_ID.into(), image_id.to_string());
    l
}

/// Turns the desired containers and one snapshot of the engine into a plan.
pub fn reconcile(
    desired: &[Launch],
    observed: &Observed,
    opts: &Options,
) -> Result<Plan, PlanError> {
    let mut steps = Vec::new();
    let mut seen = HashSet::new();
    for d in desired {
        if !seen.insert(d.name.as_str()) {
            return Err(PlanError::DuplicateName(d.name.clone()));
        }
        match d.backend.as_str() {
            "docker" => {}
            "snapcraft" | "vagrant" => {
                return Err(PlanError::Unsupported {
                    name: d.name.clone(),
                    backend: d.backend.clone(),
                    hint: ": it cannot be built on this system; choose docker, lxc or snap".into(),
                });
            }
            other => {
                return Err(PlanError::Unsupported {
                    name: d.name.clone(),
                    backend: other.to_string(),
                    hint: " by this version of conteneur; choose docker".into(),
                });
            }
        }
        for m in d.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
            check_mount(&d.name, &m.host, opts.allow_system_mounts)?;
        }
    }

    // Pulls: once per image and tag.
    let mut pulled = HashSet::new();
    for d in desired {
        let reference = format!("{}:{}", d.image, d.tag);
        if !pulled.insert(reference.clone()) {
            continue;
        }
        let present = observed.images.contains_key(&reference);
        if !present {
            steps.push(Step {
                action: Action::Pull {
                    image: d.image.clone(),
                    tag: d.tag.clone(),
                },
                cause: "not present on this server".into(),
            });
        } else if opts.pull_moving && is_moving_tag(&d.tag) {
            steps.push(Step {
                action: Action::Pull {
                    image: d.image.clone(),
                    tag: d.tag.clone(),
                },
                cause: format!("'{}' is a moving tag and a pull was asked for", d.tag),
            });
        }
    }

    // Leftovers of an interrupted run go first: their names are needed.
    let server = opts.server.as_str();
    for c in observed
        .containers
        .iter()
        .filter(|c| c.is_ours(server) && c.is_next())
    {
        steps.push(Step {
            action: Action::Remove {
                name: c.name.clone(),
                id: c.id.clone(),
            },
            cause: "replacement left over by an interrupted run".into(),
        });
    }

    let by_name = |n: &str| observed.containers.iter().find(|c| c.name == n);
    for d in desired {
        let hash = plan_hash(d);
        let reference = format!("{}:{}", d.image, d.tag);
        let current_image = observed.images.get(&reference);
        match by_name(&d.name) {
            None => steps.push(Step {
                action: Action::Create {
                    name: d.name.clone(),
                },
                cause: "not running yet".into(),
            }),
            Some(c) if !c.is_ours(server) => {
                return Err(PlanError::NameClash {
                    name: d.name.clone(),
                    id: short_id(&c.id).to_string(),
                });
            }
            Some(c) => {
                let image_changed = current_image
                    .is_some_and(|id| c.labels.get(labels::IMAGE_ID).is_some_and(|old| old != id));
                let cause = if c.plan_hash() != Some(hash.as_str()) {
                    Some(describe_change(
                        c.labels.get(labels::PLAN).map(String::as_str),
                        d,
                    ))
                } else if image_changed {
                    Some(format!("the image {reference} changed"))
                } else {
                    None
                };
                steps.push(match cause {
                    Some(cause) => Step {
                        action: Action::Replace {
                            name: d.name.clone(),
                            old_id: c.id.clone(),
                            old_health: c
                                .labels
                                .get(labels::PLAN)
                                .and_then(|t| serde_json::from_str::<Launch>(t).ok())
                                .map(|l| l.health),
                        },
                        cause,
                    },
                    None if !c.running => Step {
                        action: Action::Start {
                            name: d.name.clone(),
                            id: c.id.clone(),
                        },
                        cause: format!("unchanged but {}", c.state),
                    },
                    None => Step {
                        action: Action::Leave {
                            name: d.name.clone(),
                            id: c.id.clone(),
                        },
                        cause: "unchanged".into(),
                    },
                });
            }
        }
    }

    let wanted: HashSet<&str> = desired.iter().map(|d| d.name.as_str()).collect();
    let unwanted = |c: &&ObservedContainer| {
        c.is_ours(server) && !c.is_next() && !wanted.contains(c.name.as_str())
    };
    for c in observed.containers.iter().filter(unwanted) {
        steps.push(Step {
            action: Action::Remove {
                name: c.name.clone(),
                id: c.id.clone(),
            },
            cause: "no longer in the configuration (its volumes and folders are kept)".into(),
        });
    }
    Ok(Plan { steps })
}

/// The name a replacement container has until it is switched in.
pub fn next_name(name: &str) -> String {
    format!("{name}{NEXT_SUFFIX}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use launch::{Health, Mount, Port};

    fn launch(name: &str, tag: &str) -> Launch {
        Launch {
            name: name.into(),
            index: 1,
            backend: "docker".into(),
            image: "localhost:5000/demo/web".into(),
            tag: tag.into(),
            repository: String::new(),
            ports: vec![Port {
                container: 80,
                host: 8080,
                address: "127.0.0.1".into(),
            }],
            mounts: vec![],
            env: vec![],
            memory: String::new(),
            restart: "unless-stopped".into(),
            stop_timeout: 10,
            health: Health {
                path: None,
                port: Some(8080),
            },
            publish: true,
            websocket: false,
            labels: BTreeMap::new(),
        }
    }

    fn running(l: &Launch, id: &str) -> ObservedContainer {
        ObservedContainer {
            id: id.into(),
            name: l.name.clone(),
            labels: container_labels(l, "sha256:img1", ""),
            running: true,
            state: "running".into(),
            image: format!("{}:{}", l.image, l.tag),
            image_id: "sha256:img1".into(),
        }
    }

    fn images(refs: &[&str]) -> std::collections::HashMap<String, String> {
        refs.iter()
            .map(|r| (r.to_string(), "sha256:img1".to_string()))
            .collect()
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
    fn unchanged_is_left_and_changed_tag_replaces_only_that_one() {
        let a = launch("a", "1.0");
        let b = launch("b", "1.0");
        let observed = Observed {
            containers: vec![running(&a, "aaaa"), running(&b, "bbbb")],
            images: images(&["localhost:5000/demo/web:1.0"]),
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
        };
        let e = reconcile(&[a], &observed, &Options::default()).unwrap_err();
        assert!(matches!(e, PlanError::NameClash { .. }), "{e}");
        assert!(e.to_string().contains("not created by conteneur"));
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
}
