//! The Swarm side of the plan (`conteneur_orchestrator` = `swarm`): what
//! the docker containers must be as Swarm services, against one snapshot
//! of the swarm, as steps with their causes. Pure, like [`super::reconcile`]:
//! the backend ([`crate::backend::swarm`]) turns a [`ServiceWant`] into the
//! engine's service spec and acts; nothing here talks to an engine.
//!
//! What a container becomes (docs/swarm.md says why):
//! - a replicated service named after the container, `endpoint_mode`
//!   dnsrr (no IPVS on these kernels) or vip (a setting), no published
//!   port of its own;
//! - rolling updates one replica at a time (`parallelism` 1), a delay
//!   between replicas, a health monitor, `failure_action: rollback`,
//!   start-first (the services publish no host-mode port, so moby#36934
//!   cannot deadlock them);
//! - the server's secrets it receives (`conteneurX_secrets`, declared once
//!   in `conteneur_secret_name`) as swarm secrets named by a keyed hash of
//!   their value (swarm secrets are immutable, moby#33808): a new value is
//!   a new secret, the service rolls onto it, and the old one is removed
//!   once unused. The plan holds no value: the executor reads it from the
//!   configuration, as for the local secret files;
//! - its networks (`conteneurX_networks`) as overlay networks; every
//!   service with a port also on [`FRONT_NETWORK`], where the front
//!   ([`FRONT`]) reaches its tasks.
//!
//! The front is one nginx service, pinned to the node conteneur drives,
//! publishing each container's `port_out` in host mode (no routing mesh),
//! and proxying it to `tasks.NAME:port_in` through Docker's DNS, resolved
//! again every second, so replicas come and go without a reload. The
//! host's nginx keeps routing `/NAME/` to `127.0.0.1:port_out` as for a
//! local container.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::launch::{App, Launch, MountKind};
use super::redact::{self, LabelKey};
use crate::backend::labels;

/// The front's service name. A container cannot be named so under swarm.
pub const FRONT: &str = "conteneur-front";
/// The overlay network the front shares with every service it publishes.
pub const FRONT_NETWORK: &str = "conteneur-front";
/// Label of a service: its [`ServiceWant`] as JSON, so the next run can say
/// what changed.
pub const SPEC_LABEL: &str = "fr.eole.conteneur.swarm-spec";
/// Label of a secret or config: the service it belongs to.
pub const OWNER_LABEL: &str = "fr.eole.conteneur.name";
/// Where the front's nginx reads its configuration.
pub const FRONT_CONF_PATH: &str = "/etc/nginx/nginx.conf";

/// How the services are reached on their networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// Each task by its own address, from Docker's DNS (`tasks.NAME`): no
    /// IPVS needed.
    #[default]
    Dnsrr,
    /// One virtual IP balanced by IPVS in the kernel.
    Vip,
}

impl Endpoint {
    pub fn parse(s: &str) -> Endpoint {
        if s == "vip" {
            Endpoint::Vip
        } else {
            Endpoint::Dnsrr
        }
    }
}

/// The settings of a swarm run.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// This server's identity (label [`labels::SERVER`]).
    pub server: String,
    /// Seconds between the update of two replicas.
    pub update_delay: u64,
    /// Seconds each new replica is watched for a failure (Swarm then rolls
    /// the service back; it does not hold the next replica back).
    pub monitor: u64,
    pub endpoint: Endpoint,
    /// Seconds a new replica has to become healthy (its start period).
    pub start_period: u64,
    /// The constraint that pins bind mounts and the front to the node of
    /// the engine conteneur drives (`node.id==ID`).
    pub pin: String,
    /// The front's image, built on that node.
    pub front_image: String,
    /// The key environment values are sealed with in the labels.
    pub label_key: LabelKey,
}

/// A mount of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantMount {
    /// The volume name, or the host folder (bind).
    pub source: String,
    pub target: String,
    pub bind: bool,
}

/// A swarm secret or config handed to a service as a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// The swarm object's name.
    pub object: String,
    /// The file: a name under /run/secrets (secret), a path (config).
    pub target: String,
}

/// A port published in host mode on the node of the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPort {
    pub published: u16,
    pub target: u16,
}

/// What one service must be. Replicas aside, any change is an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceWant {
    pub name: String,
    /// `image:tag`.
    pub image: String,
    /// Not in the spec's hash: a change of it alone is a scale.
    #[serde(skip)]
    pub replicas: u32,
    /// The command (empty: the image's).
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub mounts: Vec<WantMount>,
    pub memory: Option<i64>,
    /// Swarm's restart condition: none, on-failure or any.
    pub restart: String,
    pub stop_grace: u32,
    /// The health check run inside each task (`CMD-SHELL`), if any.
    pub health: Option<String>,
    /// Its interval, timeout and retries (seconds, seconds, count) when the
    /// admin set them (`conteneurX_health_command` and its settings);
    /// `None`: conteneur's own probe, every second, 3 s, 3 tries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_timing: Option<[u32; 3]>,
    pub start_period: u64,
    /// The user the tasks run as (empty: the image's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default)]
    pub constraints: Vec<String>,
    #[serde(default)]
    pub networks: Vec<String>,
    #[serde(default)]
    pub secrets: Vec<FileRef>,
    #[serde(default)]
    pub configs: Vec<FileRef>,
    #[serde(default)]
    pub ports: Vec<HostPort>,
    /// start-first (the new replica before the old one stops) or
    /// stop-first (a host-mode port cannot be held twice, moby#36934).
    pub start_first: bool,
    pub update_delay: u64,
    pub monitor: u64,
    pub endpoint: Endpoint,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl ServiceWant {
    /// The canonical text of the spec as its label keeps it (without
    /// replicas, environment values sealed under `key` as for local
    /// containers: see [`crate::plan::redact`]).
    pub fn text(&self, key: &LabelKey) -> String {
        let mut sealed = self.clone();
        sealed.env = redact::sealed_env(&self.env, key);
        serde_json::to_string(&sealed).unwrap_or_default()
    }

    pub fn hash(&self, key: &LabelKey) -> String {
        hex(&Sha256::digest(self.text(key).as_bytes()))
    }

    /// The labels the service carries on server `server`.
    pub fn service_labels(&self, server: &str, key: &LabelKey) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        l.insert(labels::MANAGED.into(), "true".into());
        l.insert(labels::SERVER.into(), server.to_string());
        l.insert(labels::NAME.into(), self.name.clone());
        l.insert(labels::PLAN_HASH.into(), self.hash(key));
        l.insert(SPEC_LABEL.into(), self.text(key));
        l
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A config to create: its swarm name, the service it is for, and its
/// content (the front's nginx configuration: nothing secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectWant {
    pub name: String,
    pub service: String,
    pub data: String,
}

/// A swarm secret to create: its swarm name, the service it is for, and
/// the configuration's secret (`conteneur_secret_name`) whose value it
/// holds. The value is not here: the executor reads it from the
/// configuration when it creates the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretWant {
    pub name: String,
    pub service: String,
    pub secret: String,
}

/// Everything the swarm must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    /// The applications' services, then the front (if any container has a
    /// port).
    pub services: Vec<ServiceWant>,
    pub secrets: Vec<SecretWant>,
    pub configs: Vec<ObjectWant>,
    pub networks: Vec<String>,
    /// The key of the labels (from [`Settings`]).
    pub label_key: LabelKey,
}

impl Desired {
    pub fn service(&self, name: &str) -> Option<&ServiceWant> {
        self.services.iter().find(|s| s.name == name)
    }

    pub fn secret(&self, name: &str) -> Option<&SecretWant> {
        self.secrets.iter().find(|s| s.name == name)
    }

    pub fn config(&self, name: &str) -> Option<&ObjectWant> {
        self.configs.iter().find(|s| s.name == name)
    }
}

/// Why the swarm cannot take the configuration. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwarmPlanError {
    #[error(
        "container '{name}': type docker+git cannot run under conteneur_orchestrator swarm: its image is built on this \
         server only, and the other nodes cannot pull it; push the image to a registry and use type docker, or set \
         conteneur_orchestrator to local"
    )]
    Built { name: String },
    #[error(
        "container '{name}': the name '{name}' is conteneur's own under swarm (its web front); choose another"
    )]
    Reserved { name: String },
    #[error(
        "container '{name}': a swarm service of that name already exists ({id}) and was not created by conteneur for \
         this server; conteneur never touches it: remove it (docker service rm {name}) or choose another name"
    )]
    NameClash { name: String, id: String },
    #[error(
        "network '{name}': a network of that name already exists ({id}) and was not created by conteneur for this \
         server; remove it (docker network rm {name}) or choose another network name"
    )]
    NetworkClash { name: String, id: String },
    #[error(
        "container '{name}': {variable} is not supported under conteneur_orchestrator swarm: {why}"
    )]
    Unsupported {
        name: String,
        variable: String,
        why: String,
    },
    #[error(
        "container '{name}': conteneur{index}_secrets names '{secret}', which is not declared in conteneur_secret_name \
         (with a value)"
    )]
    UnknownSecret {
        name: String,
        index: u32,
        secret: String,
    },
}

/// The swarm restart condition of a container's restart policy (swarm has
/// no `unless-stopped`: a service is stopped by scaling it to 0).
pub fn restart_condition(restart: &str) -> &'static str {
    match restart {
        "no" => "none",
        "on-failure" => "on-failure",
        _ => "any",
    }
}

/// The health check of a container, run inside each task: the HTTP GET of
/// its health path (2xx/3xx), else a TCP connection, on the container's
/// first port. Only the shell and `nc` are used (busybox's `wget` crashes
/// in the demo images), and the status line is read by the shell itself.
pub fn health_command(launch: &Launch) -> Option<String> {
    let port = launch.ports.first()?.container;
    Some(match &launch.health.path {
        Some(path) => format!(
            "printf 'GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' | nc -w 3 127.0.0.1 {port} | \
             {{ read -r v c r; case \"$c\" in 2??|3??) exit 0;; esac; exit 1; }}"
        ),
        None => format!("nc -w 3 127.0.0.1 {port} </dev/null"),
    })
}

/// The swarm name of secret `secret` of service `service`, from `hash`,
/// the salted hash of its value the launch plan carries: swarm secrets
/// cannot change, so a new value is a new name. The hash is sealed under
/// the server's label key first (the name shows in `docker secret ls`,
/// and the plain hash of a short password could be found again by
/// hashing guesses), and mixed with the server, so two servers sharing a
/// swarm never share one.
pub fn secret_object(
    server: &str,
    service: &str,
    secret: &str,
    hash: &str,
    key: &LabelKey,
) -> String {
    let mut h = Sha256::new();
    h.update(server.as_bytes());
    h.update([0]);
    h.update(key.seal(hash).as_bytes());
    let d = hex(&h.finalize());
    format!("{service}-{secret}-{}", &d[..12])
}

/// The settings of an application that Swarm services do not take (yet),
/// and why; [`desired`] refuses them, naming the variable.
/// `lint` and `set` ask the same of the values ([`super::apps::lint`]).
pub fn unsupported(a: &App) -> Option<(&'static str, &'static str)> {
    if !a.depends_on.is_empty() {
        return Some((
            "depends_on",
            "Swarm starts services in no order and waits for none; remove it (a service whose \
             dependency is not ready yet is restarted by Swarm until it is)",
        ));
    }
    let not_yet = "not supported by conteneur's Swarm services yet; empty it, or set \
                   conteneur_orchestrator to local";
    if a.read_only {
        return Some(("read_only", not_yet));
    }
    if !a.tmpfs.is_empty() {
        return Some(("tmpfs", not_yet));
    }
    None
}

/// The front's nginx configuration: one server per published port, each
/// proxying to the tasks of its service (named `PREFIX` + its name: a
/// stack prefixes its services with the stack's name).
pub fn front_conf(launches: &[&Launch], endpoint: Endpoint, prefix: &str) -> String {
    let mut out = String::from(
        "# conteneur's swarm front, written by conteneur: each port of a service, published in host mode,\n\
         # proxied to its tasks through Docker's DNS (re-resolved each second: no reload on an update).\n\
         worker_processes 1;\nerror_log stderr warn;\npid /run/nginx.pid;\nevents { worker_connections 1024; }\n\
         http {\n    resolver 127.0.0.11 valid=1s ipv6=off;\n    resolver_timeout 2s;\n    access_log off;\n\
         \x20   map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n",
    );
    for l in launches {
        let host = match endpoint {
            Endpoint::Dnsrr => format!("tasks.{prefix}{}", l.name),
            Endpoint::Vip => format!("{prefix}{}", l.name),
        };
        for p in &l.ports {
            out.push_str(&format!(
                "    server {{\n        listen {out};\n        location / {{\n            set $u {host};\n\
                 \x20           proxy_pass http://$u:{inp};\n            proxy_set_header Host $http_host;\n\
                 \x20           proxy_http_version 1.1;\n            proxy_set_header Upgrade $http_upgrade;\n\
                 \x20           proxy_set_header Connection $connection_upgrade;\n\
                 \x20           proxy_connect_timeout 2s;\n            proxy_read_timeout 3600s;\n\
                 \x20           # A replica going away: the next one answers.\n\
                 \x20           proxy_next_upstream error timeout http_502 http_503;\n        }}\n    }}\n",
                out = p.host,
                inp = p.container,
            ));
        }
    }
    out.push_str("}\n");
    out
}

/// How the host folder of a bind mount becomes the path the engine mounts:
/// the run resolves it as for local containers ([`crate::mounts::resolve`],
/// symbolic links followed, checked); [`under_root`] is the plain join.
pub type BindSource<'a> = &'a dyn Fn(&Launch, &str) -> String;

/// `host` under `root`, as written (no link followed).
pub fn under_root(root: &Path) -> impl Fn(&Launch, &str) -> String + '_ {
    move |_, host| {
        root.join(host.trim_start_matches('/'))
            .display()
            .to_string()
    }
}

/// What the swarm must hold for the (docker-type) containers `launches`;
/// `bind` gives the engine's path of each host folder.
pub fn desired(
    launches: &[Launch],
    bind: BindSource<'_>,
    s: &Settings,
) -> Result<Desired, SwarmPlanError> {
    let mut d = Desired::default();
    let mut networks = BTreeSet::new();
    for l in launches {
        if l.backend == "docker+git" {
            return Err(SwarmPlanError::Built {
                name: l.name.clone(),
            });
        }
        if l.name == FRONT {
            return Err(SwarmPlanError::Reserved {
                name: l.name.clone(),
            });
        }
        if let Some((setting, why)) = unsupported(&l.app) {
            return Err(SwarmPlanError::Unsupported {
                name: l.name.clone(),
                variable: format!("conteneur{}_{setting}", l.index),
                why: why.into(),
            });
        }
        let mut constraints = l.placement.clone();
        let mut mounts = Vec::new();
        for m in &l.mounts {
            let is_bind = m.kind == MountKind::Bind;
            let source = if is_bind {
                bind(l, &m.host)
            } else {
                m.host.clone()
            };
            mounts.push(WantMount {
                source,
                target: m.container.clone(),
                bind: is_bind,
            });
        }
        // A host folder exists on this node only: its tasks are pinned here.
        if mounts.iter().any(|m| m.bind) {
            constraints.push(s.pin.clone());
        }
        let mut nets = l.app.networks.clone();
        if !l.ports.is_empty() {
            nets.insert(0, FRONT_NETWORK.to_string());
        }
        networks.extend(nets.iter().cloned());
        let mut secrets = Vec::new();
        for sec in &l.app.secrets {
            let Some(hash) = &sec.hash else {
                return Err(SwarmPlanError::UnknownSecret {
                    name: l.name.clone(),
                    index: l.index,
                    secret: sec.name.clone(),
                });
            };
            let object = secret_object(&s.server, &l.name, &sec.name, hash, &s.label_key);
            d.secrets.push(SecretWant {
                name: object.clone(),
                service: l.name.clone(),
                secret: sec.name.clone(),
            });
            secrets.push(FileRef {
                object,
                target: sec.name.clone(),
            });
        }
        d.services.push(ServiceWant {
            name: l.name.clone(),
            image: format!("{}:{}", l.image, l.tag),
            replicas: l.replicas,
            command: super::apps::split_command(&l.app.command).map_err(|why| {
                SwarmPlanError::Unsupported {
                    name: l.name.clone(),
                    variable: format!("conteneur{}_command", l.index),
                    why,
                }
            })?,
            env: l.env.clone(),
            mounts,
            memory: crate::backend::docker::parse_size(&l.memory),
            restart: restart_condition(&l.restart).to_string(),
            stop_grace: l.stop_timeout,
            // The admin's in-container check, else conteneur's probe.
            health: match &l.health.command {
                Some(h) => Some(h.command.clone()),
                None => health_command(l),
            },
            health_timing: l
                .health
                .command
                .as_ref()
                .map(|h| [h.interval, h.timeout, h.retries]),
            start_period: l
                .health
                .command
                .as_ref()
                .map_or(s.start_period, |h| u64::from(h.start_period)),
            user: l.app.user.clone(),
            constraints,
            networks: nets,
            secrets,
            configs: Vec::new(),
            ports: Vec::new(),
            start_first: true,
            update_delay: s.update_delay,
            monitor: s.monitor,
            endpoint: s.endpoint,
            labels: l.labels.clone(),
        });
    }
    let published: Vec<&Launch> = launches.iter().filter(|l| !l.ports.is_empty()).collect();
    if !published.is_empty() {
        let conf = front_conf(&published, s.endpoint, "");
        let object = format!("{FRONT}-{}", &hex(&Sha256::digest(conf.as_bytes()))[..12]);
        d.configs.push(ObjectWant {
            name: object.clone(),
            service: FRONT.into(),
            data: conf,
        });
        d.services.push(ServiceWant {
            name: FRONT.into(),
            image: s.front_image.clone(),
            replicas: 1,
            command: vec!["/usr/sbin/nginx".into(), "-g".into(), "daemon off;".into()],
            env: Vec::new(),
            mounts: Vec::new(),
            memory: None,
            restart: "any".into(),
            stop_grace: 5,
            health: None,
            health_timing: None,
            start_period: 0,
            user: String::new(),
            constraints: vec![s.pin.clone()],
            networks: vec![FRONT_NETWORK.into()],
            secrets: Vec::new(),
            configs: vec![FileRef {
                object,
                target: FRONT_CONF_PATH.into(),
            }],
            ports: published
                .iter()
                .flat_map(|l| l.ports.iter())
                .map(|p| HostPort {
                    published: p.host,
                    target: p.host,
                })
                .collect(),
            // Host-mode ports: the old task must free them first.
            start_first: false,
            update_delay: 0,
            monitor: s.monitor,
            endpoint: Endpoint::Dnsrr,
            labels: BTreeMap::new(),
        });
    }
    d.networks = networks.into_iter().collect();
    d.label_key = s.label_key.clone();
    Ok(d)
}

/// The state of a service's last update, as Swarm reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateState {
    /// updating, paused, completed, rollback_started, rollback_paused,
    /// rollback_completed.
    pub state: String,
    pub message: String,
    /// When it started (RFC 3339), to tell a new update from the last one.
    pub started_at: String,
}

/// Labels of an object conteneur made for the server `server`.
fn ours(l: &BTreeMap<String, String>, server: &str) -> bool {
    l.get(labels::MANAGED).map(String::as_str) == Some("true")
        && l.get(labels::SERVER).map(String::as_str) == Some(server)
}

/// A service as the swarm reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedService {
    pub id: String,
    pub name: String,
    pub version: u64,
    pub labels: BTreeMap<String, String>,
    pub replicas: u64,
    pub running: u64,
    pub update: Option<UpdateState>,
}

impl ObservedService {
    pub fn is_ours(&self, server: &str) -> bool {
        ours(&self.labels, server)
    }

    fn spec(&self) -> Option<ServiceWant> {
        serde_json::from_str(self.labels.get(SPEC_LABEL)?).ok()
    }
}

/// A secret, config or network as the swarm reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedObject {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl ObservedObject {
    pub fn is_ours(&self, server: &str) -> bool {
        ours(&self.labels, server)
    }
}

/// One snapshot of the swarm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmObserved {
    pub services: Vec<ObservedService>,
    pub secrets: Vec<ObservedObject>,
    pub configs: Vec<ObservedObject>,
    pub networks: Vec<ObservedObject>,
}

impl SwarmObserved {
    pub fn service(&self, name: &str) -> Option<&ObservedService> {
        self.services.iter().find(|s| s.name == name)
    }
}

/// What to do on the swarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SwarmAction {
    CreateNetwork {
        name: String,
    },
    CreateSecret {
        name: String,
        service: String,
    },
    CreateConfig {
        name: String,
        service: String,
    },
    CreateService {
        name: String,
        replicas: u32,
    },
    /// A changed spec: Swarm rolls the replicas one by one.
    UpdateService {
        name: String,
        id: String,
    },
    /// Only the number of replicas changes.
    Scale {
        name: String,
        id: String,
        from: u64,
        to: u32,
    },
    RemoveService {
        name: String,
        id: String,
    },
    Leave {
        name: String,
        id: String,
    },
    RemoveSecret {
        name: String,
        id: String,
    },
    RemoveConfig {
        name: String,
        id: String,
    },
    RemoveNetwork {
        name: String,
        id: String,
    },
}

/// One step and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwarmStep {
    #[serde(flatten)]
    pub action: SwarmAction,
    pub cause: String,
}

/// The swarm's steps: `before_local` runs before the local engines
/// converge (it frees names and ports a container moving to the local
/// engine needs), `steps` after them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SwarmPlan {
    pub before_local: Vec<SwarmStep>,
    pub steps: Vec<SwarmStep>,
}

impl SwarmPlan {
    pub fn all(&self) -> impl Iterator<Item = &SwarmStep> {
        self.before_local.iter().chain(self.steps.iter())
    }

    pub fn is_noop(&self) -> bool {
        self.all()
            .all(|s| matches!(s.action, SwarmAction::Leave { .. }))
    }
}

impl fmt::Display for SwarmAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = |id: &str| crate::backend::short_id(id).to_string();
        let (verb, what) = match self {
            SwarmAction::CreateNetwork { name } => ("create", format!("network {name} (overlay)")),
            SwarmAction::CreateSecret { name, .. } => ("create", format!("secret {name}")),
            SwarmAction::CreateConfig { name, .. } => ("create", format!("config {name}")),
            SwarmAction::CreateService { name, replicas } => (
                "create",
                format!(
                    "{name} on swarm ({replicas} replica{})",
                    plural(*replicas as u64)
                ),
            ),
            SwarmAction::UpdateService { name, id } => {
                ("update", format!("{name} ({}) on swarm", short(id)))
            }
            SwarmAction::Scale { name, id, from, to } => (
                "scale",
                format!("{name} ({}) on swarm {from} → {to}", short(id)),
            ),
            SwarmAction::RemoveService { name, id } => {
                ("remove", format!("{name} ({}) on swarm", short(id)))
            }
            SwarmAction::Leave { name, id } => {
                ("leave", format!("{name} ({}) on swarm", short(id)))
            }
            SwarmAction::RemoveSecret { name, .. } => ("remove", format!("secret {name}")),
            SwarmAction::RemoveConfig { name, .. } => ("remove", format!("config {name}")),
            SwarmAction::RemoveNetwork { name, .. } => ("remove", format!("network {name}")),
        };
        write!(f, "{verb:<8} {what:<40}")
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl SwarmStep {
    /// The step as `plan` prints it.
    pub fn to_line(&self) -> String {
        format!("{} {}", self.action, self.cause)
    }
}

impl fmt::Display for SwarmPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in self.all() {
            writeln!(f, "{}", s.to_line())?;
        }
        Ok(())
    }
}

/// What changed between two specs of a service, for the step's cause.
/// `old` is the spec read back from the label (values sealed), `new` the
/// wanted one, sealed under `key` to compare.
fn describe_change(
    old: Option<&ServiceWant>,
    new: &ServiceWant,
    old_replicas: u64,
    key: &LabelKey,
) -> String {
    let mut parts = Vec::new();
    let Some(old) = old else {
        return "its spec was not written by this version of conteneur".into();
    };
    if old.image != new.image {
        parts.push(format!("image {} → {}", old.image, new.image));
    }
    parts.extend(redact::env_changes(
        &old.env,
        &redact::sealed_env(&new.env, key),
    ));
    if old_replicas != u64::from(new.replicas) {
        parts.push(format!("replicas {old_replicas} → {}", new.replicas));
    }
    let secret_names = |w: &ServiceWant| -> BTreeSet<String> {
        w.secrets.iter().map(|s| s.target.clone()).collect()
    };
    for (n, s) in &new
        .secrets
        .iter()
        .map(|s| (&s.target, s))
        .collect::<Vec<_>>()
    {
        match old.secrets.iter().find(|o| &o.target == *n) {
            Some(o) if o.object != s.object => parts.push(format!("secret {n} changed")),
            None => parts.push(format!("secret {n} added")),
            _ => {}
        }
    }
    for n in secret_names(old).difference(&secret_names(new)) {
        parts.push(format!("secret {n} removed"));
    }
    let update = |w: &ServiceWant| (w.start_first, w.update_delay, w.monitor, w.endpoint);
    let fields: [(&str, bool); 11] = [
        ("command", old.command != new.command),
        ("mounts", old.mounts != new.mounts),
        ("memory limit", old.memory != new.memory),
        ("restart policy", old.restart != new.restart),
        ("stop timeout", old.stop_grace != new.stop_grace),
        (
            "health check",
            (&old.health, old.start_period) != (&new.health, new.start_period),
        ),
        ("placement", old.constraints != new.constraints),
        ("networks", old.networks != new.networks),
        ("nginx configuration", old.configs != new.configs),
        ("published ports", old.ports != new.ports),
        ("update policy", update(old) != update(new)),
    ];
    parts.extend(
        fields
            .iter()
            .filter(|(_, c)| *c)
            .map(|(n, _)| format!("{n} changed")),
    );
    if old.labels != new.labels {
        parts.push("labels changed".into());
    }
    if parts.is_empty() {
        "its spec changed".into()
    } else {
        parts.join(", ")
    }
}

/// The desired swarm against one snapshot of it.
pub fn reconcile(
    desired: &Desired,
    observed: &SwarmObserved,
    server: &str,
) -> Result<SwarmPlan, SwarmPlanError> {
    let mut plan = SwarmPlan::default();
    for name in &desired.networks {
        match observed.networks.iter().find(|n| &n.name == name) {
            Some(n) if !n.is_ours(server) => {
                return Err(SwarmPlanError::NetworkClash {
                    name: name.clone(),
                    id: n.id.clone(),
                });
            }
            Some(_) => {}
            None => plan.steps.push(SwarmStep {
                action: SwarmAction::CreateNetwork { name: name.clone() },
                cause: format!(
                    "used by {}",
                    users(desired, |w| w.networks.contains(name)).join(", ")
                ),
            }),
        }
    }
    for s in &desired.secrets {
        if !observed.secrets.iter().any(|o| o.name == s.name) {
            plan.steps.push(SwarmStep {
                action: SwarmAction::CreateSecret {
                    name: s.name.clone(),
                    service: s.service.clone(),
                },
                cause: format!("a secret of {} (new value)", s.service),
            });
        }
    }
    for c in &desired.configs {
        if !observed.configs.iter().any(|o| o.name == c.name) {
            plan.steps.push(SwarmStep {
                action: SwarmAction::CreateConfig {
                    name: c.name.clone(),
                    service: c.service.clone(),
                },
                cause: format!("the nginx configuration of {}", c.service),
            });
        }
    }
    // Services no longer wanted go first: a container moving to the local
    // engine needs its port.
    for o in observed.services.iter().filter(|o| o.is_ours(server)) {
        if desired.service(&o.name).is_none() {
            plan.before_local.push(SwarmStep {
                action: SwarmAction::RemoveService {
                    name: o.name.clone(),
                    id: o.id.clone(),
                },
                cause: if o.name == FRONT {
                    "no service publishes a port any more".into()
                } else {
                    "no longer configured on the swarm (removed, or moved to the local engine)"
                        .into()
                },
            });
        }
    }
    for w in &desired.services {
        let Some(o) = observed.service(&w.name) else {
            plan.steps.push(SwarmStep {
                action: SwarmAction::CreateService {
                    name: w.name.clone(),
                    replicas: w.replicas,
                },
                cause: "not on the swarm yet".into(),
            });
            continue;
        };
        if !o.is_ours(server) {
            return Err(SwarmPlanError::NameClash {
                name: w.name.clone(),
                id: o.id.clone(),
            });
        }
        let old = o.spec();
        let same_spec = o.labels.get(labels::PLAN_HASH) == Some(&w.hash(&desired.label_key));
        // The front's host-mode ports: changed, it is removed before the
        // local engines converge (they may take or free those ports) and
        // created again after.
        if w.name == FRONT && !same_spec && old.as_ref().map(|s| &s.ports) != Some(&w.ports) {
            plan.before_local.push(SwarmStep {
                action: SwarmAction::RemoveService {
                    name: w.name.clone(),
                    id: o.id.clone(),
                },
                cause: "its published ports change: removed before the local containers change, created again after"
                    .into(),
            });
            plan.steps.push(SwarmStep {
                action: SwarmAction::CreateService {
                    name: w.name.clone(),
                    replicas: w.replicas,
                },
                cause: describe_change(old.as_ref(), w, o.replicas, &desired.label_key),
            });
            continue;
        }
        let action = if !same_spec {
            SwarmAction::UpdateService {
                name: w.name.clone(),
                id: o.id.clone(),
            }
        } else if o.replicas != u64::from(w.replicas) {
            SwarmAction::Scale {
                name: w.name.clone(),
                id: o.id.clone(),
                from: o.replicas,
                to: w.replicas,
            }
        } else {
            SwarmAction::Leave {
                name: w.name.clone(),
                id: o.id.clone(),
            }
        };
        let cause = match &action {
            SwarmAction::UpdateService { .. } => {
                describe_change(old.as_ref(), w, o.replicas, &desired.label_key)
            }
            SwarmAction::Scale { from, to, .. } => format!("replicas {from} → {to}"),
            _ if o.running < o.replicas => format!(
                "unchanged ({} of {} replicas running: Swarm is starting the others)",
                o.running, o.replicas
            ),
            _ => "unchanged".into(),
        };
        plan.steps.push(SwarmStep { action, cause });
    }
    // Old secrets and configs once the services moved off them, then
    // networks no service joins.
    for o in observed.secrets.iter().filter(|o| o.is_ours(server)) {
        if desired.secret(&o.name).is_none() {
            plan.steps.push(SwarmStep {
                action: SwarmAction::RemoveSecret {
                    name: o.name.clone(),
                    id: o.id.clone(),
                },
                cause: "no longer used (a secret's new value is a new secret)".into(),
            });
        }
    }
    for o in observed.configs.iter().filter(|o| o.is_ours(server)) {
        if desired.config(&o.name).is_none() {
            plan.steps.push(SwarmStep {
                action: SwarmAction::RemoveConfig {
                    name: o.name.clone(),
                    id: o.id.clone(),
                },
                cause: "no longer used (the front's configuration changed)".into(),
            });
        }
    }
    // The local engine's private networks (labelled with their name in the
    // configuration) are the local plan's, not the swarm's.
    for o in observed
        .networks
        .iter()
        .filter(|o| o.is_ours(server) && !o.labels.contains_key(labels::NETWORK))
    {
        if !desired.networks.contains(&o.name) {
            plan.steps.push(SwarmStep {
                action: SwarmAction::RemoveNetwork {
                    name: o.name.clone(),
                    id: o.id.clone(),
                },
                cause: "no service joins it any more".into(),
            });
        }
    }
    Ok(plan)
}

/// The names of the services `pred` holds for.
fn users(d: &Desired, pred: impl Fn(&ServiceWant) -> bool) -> Vec<String> {
    d.services
        .iter()
        .filter(|w| pred(w))
        .map(|w| w.name.clone())
        .collect()
}

#[cfg(test)]
mod tests;
