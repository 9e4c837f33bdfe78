//! `conteneur export stack`: the docker containers as a stack file that
//! `docker stack deploy` accepts (compose 3.8), running the same services
//! conteneur runs under `conteneur_orchestrator` swarm. It is built from
//! the same [`crate::plan::swarm::Desired`] a swarm run converges, so the
//! two cannot drift: same images, replicas, update and rollback policy,
//! restart policy, memory limit, environment, health check, placement,
//! mounts, overlay networks, endpoint mode and front.
//!
//! Differences a stack imposes, and why:
//! - **Names.** `docker stack deploy -c FILE NAME` prefixes services and
//!   networks with `NAME_`; the front's nginx configuration is written
//!   for that name (`--name`, default `conteneur`), as it resolves
//!   `tasks.NAME_SERVICE`. Named volumes keep their own names (`name:`),
//!   so the data is the one conteneur's services use.
//! - **The front's configuration** is a file written beside the stack file
//!   (a stack reads swarm configs from files), so `--output` is required.
//! - **Secrets** are `external`, under the hashed names conteneur gives
//!   them: a stack can only read a secret's value from a file, and
//!   conteneur writes no secret into a file. Create one by hand with
//!   `printf %s VALUE | docker secret create NAME -`, or let conteneur
//!   create it (a swarm run).
//! - **Pinning**: bind mounts and the front are pinned to
//!   `node.role==manager` (the file does not know the node's id; the
//!   front's image, built by conteneur from the host's nginx, is on the
//!   manager where conteneur ran). A swarm of several managers needs a
//!   node label instead.
//! - JSON written as YAML, `$` doubled, as `export compose` does.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::{ExportError, Ordered, bind_host, check_binds, desired, lit, to_text, write_atomic};
use crate::backend::swarm::front_image_ref;
use crate::exit::{EXIT_INVALID_CONFIG, EXIT_SYSTEM, Failure};
use crate::paths::Paths;
use crate::plan::launch::Launch;
use crate::plan::swarm::{self as swarm, Desired, Endpoint, FRONT, ServiceWant};

/// The stack file format: 3.8 is the last `docker stack deploy` of Debian's
/// engine (20.10) reads fully (`endpoint_mode`, `rollback_config`,
/// `update_config.order`, `max_replicas_per_node`).
pub const STACK_VERSION: &str = "3.8";

#[derive(Debug, Args)]
pub struct StackArgs {
    /// Write the stack file here; the front's nginx configuration is
    /// written beside it (FILE.front.conf).
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// The stack's name, as given to `docker stack deploy -c FILE NAME`.
    #[arg(long, default_value = "conteneur", value_parser = stack_name)]
    pub name: String,
}

/// The longest service name Swarm takes (a DNS label).
const SERVICE_NAME_MAX: usize = 63;

/// A stack's name as Docker takes it in a service's name (`NAME_SERVICE`,
/// a DNS name component): letters, digits, `-` and `_`, starting and
/// ending with a letter or digit. It goes into the front's nginx
/// configuration (`tasks.NAME_SERVICE`), so nothing else may pass.
fn stack_name(s: &str) -> Result<String, String> {
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let ok = ends(s.chars().next())
        && ends(s.chars().last())
        && s.len() < SERVICE_NAME_MAX
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "'{}' is not a stack name: expected letters, digits, '-' and '_', starting and ending \
             with a letter or digit, shorter than {SERVICE_NAME_MAX} characters (Docker names each \
             service NAME_SERVICE)",
            s.escape_debug()
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackFile {
    pub version: &'static str,
    pub services: Ordered<StackService>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub networks: Ordered<StackNetwork>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub volumes: Ordered<StackVolume>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub secrets: Ordered<External>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub configs: Ordered<FileSource>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackService {
    pub image: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<StackMount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<StackPort>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileTarget>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileTarget>,
    pub stop_grace_period: String,
    /// The user the tasks run as (`conteneurX_user`), as a swarm run sets it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub init: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<StackHealth>,
    pub deploy: StackDeploy,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackMount {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub source: String,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackPort {
    pub target: u16,
    pub published: u16,
    pub protocol: &'static str,
    pub mode: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileTarget {
    pub source: String,
    pub target: String,
    /// The owner of a secret file, as a swarm run gives it
    /// ([`ServiceWant::secret_owner`]); root's when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackHealth {
    pub test: Vec<String>,
    pub interval: String,
    pub timeout: String,
    pub retries: u32,
    pub start_period: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackDeploy {
    pub replicas: u32,
    pub endpoint_mode: &'static str,
    pub update_config: Policy,
    pub rollback_config: Policy,
    pub restart_policy: Restart,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<StackResources>,
    pub placement: Placement,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub parallelism: u32,
    pub delay: String,
    pub failure_action: &'static str,
    pub monitor: String,
    pub max_failure_ratio: u32,
    pub order: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Restart {
    pub condition: String,
    pub delay: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackResources {
    pub limits: StackLimits,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackLimits {
    pub memory: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    pub preferences: Vec<Spread>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    pub spread: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackNetwork {
    pub driver: &'static str,
    pub attachable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackVolume {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct External {
    pub external: bool,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileSource {
    pub file: String,
}

/// The constraint a stack pins bind mounts and the front with.
const PIN: &str = "node.role==manager";

fn policy(w: &ServiceWant, rollback: bool) -> Policy {
    Policy {
        parallelism: 1,
        delay: format!("{}s", if rollback { 0 } else { w.update_delay }),
        failure_action: if rollback { "pause" } else { "rollback" },
        monitor: format!("{}s", w.monitor),
        max_failure_ratio: 0,
        order: if w.start_first {
            "start-first"
        } else {
            "stop-first"
        },
    }
}

/// The stack service of one service conteneur would run.
fn service(w: &ServiceWant, memory: Option<&str>) -> StackService {
    let files = |refs: &[swarm::FileRef], owner: Option<[u32; 2]>, mode: u32| {
        refs.iter()
            .map(|r| FileTarget {
                source: lit(&r.object),
                target: lit(&r.target),
                uid: owner.map(|[u, _]| u.to_string()),
                gid: owner.map(|[_, g]| g.to_string()),
                mode,
            })
            .collect()
    };
    StackService {
        image: lit(&w.image),
        command: w.command.iter().map(|c| lit(c)).collect(),
        environment: w.env.iter().map(|e| lit(e)).collect(),
        volumes: w
            .mounts
            .iter()
            .map(|m| StackMount {
                kind: if m.bind { "bind" } else { "volume" },
                source: lit(&m.source),
                target: lit(&m.target),
            })
            .collect(),
        ports: w
            .ports
            .iter()
            .map(|p| StackPort {
                target: p.target,
                published: p.published,
                protocol: "tcp",
                mode: "host",
            })
            .collect(),
        networks: w.networks.clone(),
        secrets: files(&w.secrets, w.secret_owner, 0o400),
        configs: files(&w.configs, None, 0o444),
        stop_grace_period: format!("{}s", w.stop_grace),
        user: (!w.user.is_empty()).then(|| lit(&w.user)),
        init: true,
        healthcheck: w.health.as_ref().map(|h| {
            let [interval, timeout, retries] = w.health_timing();
            StackHealth {
                test: vec!["CMD-SHELL".into(), lit(h)],
                interval: format!("{interval}s"),
                timeout: format!("{timeout}s"),
                retries,
                start_period: format!("{}s", w.start_period),
            }
        }),
        deploy: StackDeploy {
            replicas: w.replicas,
            endpoint_mode: match w.endpoint {
                Endpoint::Dnsrr => "dnsrr",
                Endpoint::Vip => "vip",
            },
            update_config: policy(w, false),
            rollback_config: policy(w, true),
            restart_policy: Restart {
                condition: w.restart.clone(),
                delay: "1s",
            },
            resources: memory.filter(|m| !m.is_empty()).map(|m| StackResources {
                limits: StackLimits { memory: lit(m) },
            }),
            placement: Placement {
                constraints: w.constraints.iter().map(|c| lit(c)).collect(),
                preferences: vec![Spread { spread: "node.id" }],
            },
            labels: w
                .labels
                .iter()
                .filter(|(k, _)| !k.starts_with("fr.eole.conteneur."))
                .map(|(k, v)| (lit(k), lit(v)))
                .collect(),
        },
    }
}

/// The stack of `desired` (built for the docker containers `launches`),
/// deployed as `stack`; `front_conf_file` is the name the front's
/// configuration is written under, beside the stack file. Returns the
/// file and the front's configuration text, if any.
pub fn stack_file(
    desired: &Desired,
    launches: &[Launch],
    stack: &str,
    front_conf_file: &str,
) -> (StackFile, Option<String>) {
    let mut file = StackFile {
        version: STACK_VERSION,
        services: Ordered::default(),
        networks: Ordered::default(),
        volumes: Ordered::default(),
        secrets: Ordered::default(),
        configs: Ordered::default(),
    };
    let memory = |name: &str| {
        launches
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.memory.text())
    };
    let mut front_conf = None;
    for w in &desired.services {
        let s = service(w, memory(&w.name));
        if w.name == FRONT {
            let published: Vec<&Launch> = launches.iter().filter(|l| !l.ports.is_empty()).collect();
            let endpoint = desired
                .services
                .iter()
                .find(|o| o.name != FRONT)
                .map(|o| o.endpoint)
                .unwrap_or_default();
            front_conf = Some(swarm::front_conf(
                &published,
                endpoint,
                &format!("{stack}_"),
            ));
            for c in &w.configs {
                file.configs.0.push((
                    lit(&c.object),
                    FileSource {
                        file: lit(&format!("./{front_conf_file}")),
                    },
                ));
            }
        }
        for m in w.mounts.iter().filter(|m| !m.bind) {
            if file.volumes.get(&m.source).is_none() {
                file.volumes.0.push((
                    lit(&m.source),
                    StackVolume {
                        name: lit(&m.source),
                    },
                ));
            }
        }
        for sec in &w.secrets {
            file.secrets.0.push((
                lit(&sec.object),
                External {
                    external: true,
                    name: lit(&sec.object),
                },
            ));
        }
        file.services.0.push((lit(&w.name), s));
    }
    for n in &desired.networks {
        file.networks.0.push((
            lit(n),
            StackNetwork {
                driver: "overlay",
                attachable: true,
            },
        ));
    }
    (file, front_conf)
}

/// `conteneur export stack -o FILE [--name STACK]`.
pub fn cmd(paths: &Paths, a: StackArgs) -> Result<u8, Failure> {
    let invalid = |e: ExportError| match e {
        ExportError::Config(c) => Failure::from(c),
        other => Failure {
            code: EXIT_INVALID_CONFIG,
            message: other.to_string(),
        },
    };
    let (cfg, launches) = desired(paths).map_err(invalid)?;
    let (left_out, docker) = swarm::split(launches);
    // Each service is named NAME_SERVICE by `docker stack deploy`.
    let too_long: Vec<String> = docker
        .iter()
        .map(|l| format!("{}_{}", a.name, l.name))
        .filter(|n| n.len() > SERVICE_NAME_MAX)
        .collect();
    if !too_long.is_empty() {
        return Err(Failure {
            code: EXIT_INVALID_CONFIG,
            message: format!(
                "with the stack name '{}', these service names pass Swarm's {SERVICE_NAME_MAX} \
                 characters: {}; choose a shorter --name\nnothing was exported",
                a.name,
                too_long.join(", ")
            ),
        });
    }
    let server = crate::paths::server_id(paths);
    // The server's label key: the secrets' names are those a swarm run of
    // conteneur creates (they hash the value's hash sealed under it).
    let key = crate::label_key::load(paths).map_err(|e| Failure {
        code: EXIT_SYSTEM,
        message: e.to_string(),
    })?;
    let front_image = if swarm::needs_front(&docker) {
        front_image_ref().map_err(|e| Failure {
            code: EXIT_SYSTEM,
            message: e.to_string(),
        })?
    } else {
        String::new()
    };
    let settings = swarm::settings(&cfg, &server, PIN.into(), front_image, &key.key);
    // Bind mounts checked and placed as `export compose` does.
    check_binds(
        &docker,
        paths,
        crate::plan::desired::allow_system_mounts(&cfg),
    )
    .map_err(|e| Failure {
        code: EXIT_INVALID_CONFIG,
        message: format!("{e}\nnothing was exported"),
    })?;
    let bind = |_: &Launch, host: &str| bind_host(&paths.root, host).display().to_string();
    let desired = swarm::desired(&docker, &bind, &settings).map_err(|e| Failure {
        code: EXIT_INVALID_CONFIG,
        message: format!("{e}\nnothing was exported"),
    })?;
    // Without the key a run keeps, the secrets' names would match nothing
    // a swarm run of this server creates: refused before anything is written.
    if !key.saved() && !desired.secrets.is_empty() {
        return Err(Failure {
            code: EXIT_INVALID_CONFIG,
            message: format!(
                "the stack's secrets ({}) are named after this server's label key ({}), which no run \
                 has made yet: run `conteneur instance` first (under swarm, it creates them)\n\
                 nothing was exported",
                desired
                    .secrets
                    .iter()
                    .map(|s| format!("'{}' of '{}'", s.secret, s.service))
                    .collect::<Vec<_>>()
                    .join(", "),
                crate::label_key::path(paths).display()
            ),
        });
    }
    if !left_out.is_empty() {
        eprintln!(
            "conteneur: left out of the stack (a stack runs Docker services only): {}",
            left_out
                .iter()
                .map(|l| format!("'{}' ({})", l.name, l.backend))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let conf_name = format!(
        "{}.front.conf",
        a.output
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "stack".into())
    );
    let (file, front) = stack_file(&desired, &docker, &a.name, &conf_name);
    let write = |path: &Path, text: &str| {
        write_atomic(path, text).map_err(|e| Failure {
            code: EXIT_SYSTEM,
            message: e.to_string(),
        })
    };
    if let Some(conf) = &front {
        write(&a.output.with_file_name(&conf_name), conf)?;
    }
    write(&a.output, &to_text(&file))?;
    let _ = writeln!(
        std::io::stderr(),
        "conteneur: {} service(s) written to {}; run them with: docker stack deploy -c {} {}",
        file.services.0.len(),
        a.output.display(),
        a.output.display(),
        a.name
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> Launch {
        let mut l = crate::plan::launch::sample("web", "1.0", 8081);
        l.env = vec!["A=$x".into()];
        l.memory = "64m".into();
        l.stop_timeout = 7;
        l.health.path = Some("/health/".into());
        l.replicas = 3;
        l
    }

    fn settings() -> swarm::Settings {
        swarm::Settings {
            server: "/r".into(),
            update_delay: 5,
            monitor: 5,
            endpoint: Endpoint::Dnsrr,
            start_period: 30,
            pin: PIN.into(),
            front_image: "conteneur/front:abc".into(),
            label_key: Default::default(),
        }
    }

    #[test]
    fn the_stack_keeps_the_user_and_the_admin_s_health_timing() {
        let mut l = launch();
        l.app.user = "999:998".into();
        l.app.secrets = vec![crate::plan::launch::SecretRef {
            name: "token".into(),
            hash: Some("h".into()),
        }];
        l.health.command = Some(crate::plan::launch::HealthCommand {
            command: "test -e /ready".into(),
            interval: 2,
            timeout: 4,
            retries: 5,
            start_period: 9,
        });
        let settings = settings();
        let d = swarm::desired(
            std::slice::from_ref(&l),
            &swarm::under_root(Path::new("/r")),
            &settings,
        )
        .expect("desired");
        let (file, _) = stack_file(&d, &[l], "demo", "s.json.front.conf");
        let v: serde_json::Value = serde_json::from_str(&to_text(&file)).expect("JSON");
        let web = &v["services"]["web"];
        assert_eq!(web["user"], "999:998");
        // Its secret file is its user's, as a swarm run gives it.
        let secret = &web["secrets"][0];
        assert_eq!(
            (&secret["target"], &secret["uid"], &secret["gid"]),
            (
                &serde_json::json!("token"),
                &serde_json::json!("999"),
                &serde_json::json!("998")
            )
        );
        let h = &web["healthcheck"];
        assert_eq!(
            (
                &h["test"][1],
                &h["interval"],
                &h["timeout"],
                &h["retries"],
                &h["start_period"]
            ),
            (
                &serde_json::json!("test -e /ready"),
                &serde_json::json!("2s"),
                &serde_json::json!("4s"),
                &serde_json::json!(5),
                &serde_json::json!("9s")
            )
        );
    }

    #[test]
    fn a_stack_name_is_a_dns_name_component() {
        for good in ["conteneur", "demo-1", "a_b", "x", &"s".repeat(62)] {
            assert_eq!(stack_name(good).as_deref(), Ok(good));
        }
        for bad in [
            "",
            "x;}",
            "a b",
            "-a",
            "a_",
            "tasks.x",
            "é",
            "a\nb",
            &"s".repeat(63),
        ] {
            let e = stack_name(bad).unwrap_err();
            assert!(e.contains("is not a stack name"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_stack_runs_the_services_a_swarm_run_would() {
        let settings = settings();
        let l = launch();
        let d = swarm::desired(
            std::slice::from_ref(&l),
            &swarm::under_root(Path::new("/r")),
            &settings,
        )
        .expect("desired");
        let (file, conf) = stack_file(&d, &[l], "demo", "s.json.front.conf");
        let text = to_text(&file);
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let web = &v["services"]["web"];
        assert_eq!(web["deploy"]["replicas"], 3);
        assert_eq!(web["deploy"]["endpoint_mode"], "dnsrr");
        assert_eq!(web["deploy"]["update_config"]["order"], "start-first");
        assert_eq!(web["deploy"]["update_config"]["failure_action"], "rollback");
        assert_eq!(web["deploy"]["restart_policy"]["condition"], "any");
        assert_eq!(web["deploy"]["resources"]["limits"]["memory"], "64m");
        assert_eq!(web["environment"][0], "A=$$x");
        assert_eq!(web["healthcheck"]["test"][0], "CMD-SHELL");
        assert_eq!(web["healthcheck"]["interval"], "1s");
        assert!(web.get("user").is_none(), "{web}");
        let front = &v["services"][FRONT];
        assert_eq!(front["ports"][0]["mode"], "host");
        assert_eq!(front["deploy"]["update_config"]["order"], "stop-first");
        assert_eq!(front["deploy"]["placement"]["constraints"][0], PIN);
        assert_eq!(v["networks"][swarm::FRONT_NETWORK]["driver"], "overlay");
        let conf = conf.expect("front configuration");
        assert!(conf.contains("set $u tasks.demo_web;"), "{conf}");
        let cfg_name = d.configs[0].name.as_str();
        assert_eq!(v["configs"][cfg_name]["file"], "./s.json.front.conf");
    }
}
