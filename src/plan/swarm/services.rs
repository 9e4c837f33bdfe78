//! What each (docker-type) container becomes as a Swarm service, and the
//! front that publishes their ports: [`desired`] and the pieces it is made
//! of (restart condition, health command, secret names, the front's nginx
//! configuration), with the errors that refuse a configuration the swarm
//! cannot take. Its own file because it reads the launch plans and never
//! the swarm, unlike [`super::reconcile`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::want::{
    Desired, Endpoint, FileRef, HostPort, ObjectWant, SecretWant, ServiceWant, Settings, WantMount,
    hex,
};
use super::{FRONT, FRONT_CONF_PATH, FRONT_NETWORK};
use crate::plan::launch::{App, Launch, MountKind};
use crate::plan::redact::LabelKey;

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
///
/// Swarm refuses a name longer than [`OBJECT_NAME_MAX`]: a longer one is
/// cut to fit, its readable part shortened, and the whole of the service's
/// and the secret's names mixed into its hash (so two cut names differ).
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
    let name = format!("{service}-{secret}-{}", &d[..12]);
    if name.len() <= OBJECT_NAME_MAX {
        return name;
    }
    let mut h = Sha256::new();
    for part in [d.as_str(), service, secret] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let d = hex(&h.finalize());
    let mut head = format!("{service}-{secret}");
    let mut cut = OBJECT_NAME_MAX - 13;
    while !head.is_char_boundary(cut) {
        cut -= 1;
    }
    head.truncate(cut);
    format!("{head}-{}", &d[..12])
}

/// The longest name Swarm takes for a secret or a config.
pub const OBJECT_NAME_MAX: usize = 64;

/// The owner Swarm gives a service's secret files, from its user
/// (`conteneurX_user`), as the local secret files are given to the user a
/// container runs as: the numeric uid and gid (`[0, 0]` for no user and
/// `root`; `UID` alone: gid UID, as for a user the image does not list).
/// `None` for a user or group *name*: Swarm mounts a secret under a number,
/// and only the image's /etc/passwd knows the name's.
pub fn secret_owner(user: &str) -> Option<[u32; 2]> {
    let id = |s: &str| match s {
        "" | "root" => Some(0),
        n => n.parse::<u32>().ok(),
    };
    match user.split_once(':') {
        Some((u, g)) => Some([id(u)?, id(g)?]),
        None => id(user).map(|u| [u, u]),
    }
}

/// The settings of an application that Swarm services do not take (yet),
/// and why; [`desired`] refuses them, naming the variable.
/// `lint` and `set` ask the same of the values ([`crate::plan::apps::lint`]).
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
    if !a.secrets.is_empty() && secret_owner(&a.user).is_none() {
        return Some((
            "user",
            "a container with secrets runs under a numeric user on the swarm (Swarm gives a \
             secret file to a uid, and does not read the image's /etc/passwd): give it as UID or \
             UID:GID (`id NAME` in the image says them)",
        ));
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
            command: l
                .app
                .command
                .words()
                .map(<[String]>::to_vec)
                .map_err(|why| SwarmPlanError::Unsupported {
                    name: l.name.clone(),
                    variable: format!("conteneur{}_command", l.index),
                    why: why.to_string(),
                })?,
            env: l.env.clone(),
            mounts,
            memory: l.memory.bytes(),
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
            // Checked by `unsupported` above.
            secret_owner: secret_owner(&l.app.user).filter(|o| *o != [0, 0]),
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
            secret_owner: None,
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
