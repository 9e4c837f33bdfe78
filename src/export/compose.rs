//! `conteneur export compose`: the current configuration's containers as a
//! compose file, for admins who hand it to a colleague, to `docker stack`, or
//! who want to compare conteneur with `docker-compose up -d` on the same
//! services (BENCHMARKS.md does exactly that).
//!
//! The file is built from the same launch plans `instance`/`reconfigure`
//! converge (the rendered `conteneur-launch.json`), so each service is the
//! container conteneur would create: same image and tag, same name
//! (`container_name`), same port bindings (`ADDRESS:HOST:CONTAINER`, i.e.
//! 127.0.0.1 by default), bind mounts resolved under `--root` as conteneur
//! resolves them, named volumes under their own names, environment, memory
//! limit, restart policy, stop timeout (`stop_grace_period`), `init: true`,
//! and the engine's default bridge network (`network_mode: bridge`, as
//! conteneur creates its containers without a network of their own).
//!
//! Choices, and why:
//!
//! - **JSON, written as compose's YAML.** JSON is YAML, and Debian's
//!   docker-compose 1.29 reads it with PyYAML, a YAML 1.1 parser. In YAML 1.1
//!   an unquoted `no` is `false`, `20:80` a base-60 integer, `0755` octal: a
//!   YAML writer must quote exactly the right strings, and the maintained
//!   serde YAML crates follow YAML 1.2 (serde_yaml is deprecated, serde_yml
//!   unmaintained). In JSON every string is double-quoted, so nothing can be
//!   reinterpreted; serde_json is already a dependency. The few characters
//!   PyYAML refuses or folds even inside quotes (DEL, C1 controls, U+2028…)
//!   are written as `\uXXXX` escapes, valid in both languages.
//! - **`$` is doubled**: compose substitutes `${VAR}` in every value; `$$` is
//!   its escape for a literal `$` (an environment value `a$b` stays `a$b`).
//! - **Memory: `deploy.resources.limits.memory`**, not `mem_limit`. Both are
//!   honoured by docker-compose 1.29 without swarm (1.27 and later translate
//!   `deploy.resources` into the container's limit, `compose/project.py`
//!   `translate_deploy_keys_to_container_config`), but only the `deploy` key
//!   is honoured by `docker stack deploy` too, and by compose v2.
//! - **Restart: `restart:`**, not `deploy.restart_policy`, whose conditions
//!   (`none`, `on-failure`, `any`) cannot say `unless-stopped`.
//! - **Health check inside the container.** conteneur probes the published
//!   port from the host (HTTP GET of the health path, else a TCP connection);
//!   compose can only run a command in the container: `wget` of the same path
//!   on the container port, else `nc` connecting to it (`-e true`: success as
//!   soon as the connection is made). Both tools are in busybox images; for an
//!   image without them, edit the `test`. compose does not wait for health
//!   (1.29 has no `up --wait`); conteneur does.
//! - Version `"3.7"`: the first 3.x with `init`; `docker stack deploy` on
//!   Debian's engine (20.10) reads it.
//! - conteneur's own labels (`fr.eole.conteneur.*`) are left out: they mark a
//!   container conteneur manages, and a compose container is not one.
//!   Other labels of the launch plan are kept.
//! - **Applications.** A container on private networks joins them
//!   (`networks:` with its name as alias, instead of `network_mode:
//!   bridge`); compose names them `PROJECT_NET`, conteneur
//!   `conteneur-HASH-NET`: each tool has its own. `depends_on` waits for
//!   `service_healthy` (docker-compose 1.27+ reads it in 3.x files), so a
//!   dependency needs a health check, which every exported service has.
//!   An in-container health check is written as is (`CMD-SHELL`, with its
//!   interval, timeout, retries and start period); user, command (already
//!   split into words), `no-new-privileges`, read-only root and tmpfs too.
//! - **Secrets as files**: compose's top-level `secrets:` name the files
//!   conteneur writes at `instance` (`/var/lib/conteneur/secrets/…`,
//!   root-only): the value itself is never in the compose file, and export
//!   writes no secret. Run `instance` (or `reconfigure`) first. Each
//!   container has its own file (owned by its user): a secret name two
//!   containers use is exported once per container (`CONTAINER_NAME`),
//!   still mounted at `/run/secrets/NAME`.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::{ExportError, Ordered, bind_host, check_binds, desired, lit, to_text, write_atomic};
use crate::exit::{EXIT_INVALID_CONFIG, EXIT_SYSTEM, Failure};
use crate::paths::Paths;
use crate::plan;
use crate::plan::launch::{Launch, MountKind};
use crate::plan::redact::LabelKey;

/// The compose file format written (see the module docs).
pub const COMPOSE_VERSION: &str = "3.7";

#[derive(Debug, Args)]
pub struct ComposeArgs {
    /// Write the file here (replaced atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Leave out containers that are not Docker containers (lxc, snap…)
    /// instead of refusing to export.
    #[arg(long)]
    pub docker_only: bool,
}

/// A compose file (the subset conteneur writes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComposeFile {
    pub version: &'static str,
    /// Where it came from (an extension field: compose ignores `x-` keys).
    #[serde(rename = "x-conteneur")]
    pub origin: Origin,
    pub services: Ordered<Service>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub volumes: Ordered<Volume>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub networks: Ordered<Empty>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub secrets: Ordered<SecretFile>,
}

/// A network with compose's defaults (`{}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Empty {}

/// A secret read from a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecretFile {
    pub file: String,
}

/// A service's secret: by its name, or (when another container of the file
/// has a secret of that name too: each container has its own file, owned
/// by its user) a file of its own mounted at `/run/secrets/NAME`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ServiceSecret {
    Name(String),
    Own { source: String, target: String },
}

/// A service's endpoint on a network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Endpoint {
    pub aliases: Vec<String>,
}

/// `depends_on: {NAME: {condition: service_healthy}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub condition: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Origin {
    pub generated_by: String,
    pub config: String,
    pub root: String,
}

/// One service: one container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub image: String,
    pub container_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub networks: Ordered<Endpoint>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub depends_on: Ordered<Condition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<ServiceSecret>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<String>,
    pub restart: String,
    pub stop_grace_period: String,
    pub init: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Healthcheck {
    pub test: Vec<String>,
    pub interval: String,
    pub timeout: String,
    pub retries: u32,
    pub start_period: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deploy {
    pub resources: Resources,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resources {
    pub limits: Limits,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limits {
    pub memory: String,
}

/// A named volume, under its own engine name: the one conteneur mounts
/// (compose would otherwise prefix it with the project name).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Volume {
    pub name: String,
}

/// The port binding in compose's short syntax; an IPv6 address in brackets.
fn port_spec(address: &str, host: u16, container: u16) -> String {
    if address.is_empty() {
        format!("{host}:{container}")
    } else if address.contains(':') {
        format!("[{address}]:{host}:{container}")
    } else {
        format!("{address}:{host}:{container}")
    }
}

/// The health check run inside the container (see the module docs): the
/// same path as conteneur's probe, on the container side of the probed port.
fn healthcheck(launch: &Launch) -> Option<Healthcheck> {
    if let Some(h) = &launch.health.command {
        return Some(Healthcheck {
            test: vec!["CMD-SHELL".into(), lit(&h.command)],
            interval: format!("{}s", h.interval),
            timeout: format!("{}s", h.timeout),
            retries: h.retries,
            start_period: format!("{}s", h.start_period),
        });
    }
    let host_port = launch.health.port?;
    let port = launch
        .ports
        .iter()
        .find(|p| p.host == host_port)
        .or(launch.ports.first())?
        .container;
    let test = match &launch.health.path {
        Some(path) => {
            let path = if path.starts_with('/') {
                path.clone()
            } else {
                format!("/{path}")
            };
            // No `-T`: busybox 1.35's static wget crashes on it (exit 139);
            // the check's own timeout bounds it instead.
            vec![
                "CMD".into(),
                "wget".into(),
                "-q".into(),
                "-O".into(),
                "/dev/null".into(),
                lit(&format!("http://127.0.0.1:{port}{path}")),
            ]
        }
        // busybox nc: run `true` once connected, so success means "the
        // port accepts connections" whatever the server says or waits for.
        None => vec![
            "CMD".into(),
            "nc".into(),
            "-w".into(),
            "5".into(),
            "127.0.0.1".into(),
            port.to_string(),
            "-e".into(),
            "true".into(),
        ],
    };
    Some(Healthcheck {
        test,
        interval: "30s".into(),
        timeout: "10s".into(),
        retries: 3,
        start_period: "10s".into(),
    })
}

/// The compose service of one launch plan.
pub fn service(launch: &Launch, root: &Path) -> Service {
    let ports = launch
        .ports
        .iter()
        .map(|p| lit(&port_spec(&p.address, p.host, p.container)))
        .collect();
    let volumes = launch
        .mounts
        .iter()
        .map(|m| {
            let host = match m.kind {
                MountKind::Bind => bind_host(root, &m.host).display().to_string(),
                MountKind::Volume => m.host.clone(),
            };
            lit(&format!("{host}:{}", m.container))
        })
        .collect();
    let memory = launch.memory.text().trim();
    let app = &launch.app;
    let nonempty = |s: &str| (!s.is_empty()).then(|| lit(s));
    Service {
        image: lit(&format!("{}:{}", launch.image, launch.tag)),
        container_name: lit(&launch.name),
        network_mode: app.networks.is_empty().then_some("bridge"),
        networks: Ordered(
            app.networks
                .iter()
                .map(|n| {
                    (
                        lit(n),
                        Endpoint {
                            aliases: vec![lit(&launch.name)],
                        },
                    )
                })
                .collect(),
        ),
        depends_on: Ordered(
            app.depends_on
                .iter()
                .map(|d| {
                    (
                        lit(d),
                        Condition {
                            condition: "service_healthy",
                        },
                    )
                })
                .collect(),
        ),
        user: nonempty(&app.user),
        command: app
            .command
            .words()
            .ok()
            .filter(|w| !w.is_empty())
            .map(|w| w.iter().map(|s| lit(s)).collect()),
        security_opt: if app.no_new_privileges {
            vec!["no-new-privileges:true".into()]
        } else {
            Vec::new()
        },
        read_only: app.read_only,
        // As the Docker backend: writable by the container's user.
        tmpfs: app
            .tmpfs
            .iter()
            .map(|t| lit(&format!("{t}:mode=1777")))
            .collect(),
        secrets: app
            .secrets
            .iter()
            .map(|s| ServiceSecret::Name(lit(&s.name)))
            .collect(),
        ports,
        volumes,
        environment: launch.env.iter().map(|e| lit(e)).collect(),
        // As the Docker backend: anything else is "no".
        restart: match launch.restart.as_str() {
            r @ ("always" | "unless-stopped" | "on-failure") => r.to_string(),
            _ => "no".to_string(),
        },
        stop_grace_period: format!("{}s", launch.stop_timeout),
        init: true,
        healthcheck: healthcheck(launch),
        deploy: (!memory.is_empty()).then(|| Deploy {
            resources: Resources {
                limits: Limits {
                    memory: lit(memory),
                },
            },
        }),
        labels: launch
            .labels
            .iter()
            .filter(|(k, _)| !k.starts_with("fr.eole.conteneur."))
            .map(|(k, v)| (lit(k), lit(v)))
            .collect(),
    }
}

/// The compose file of `launches` (all Docker containers); `key` names
/// the secret files' folders as a run does.
pub fn compose_file(launches: &[Launch], paths: &Paths, label_key: &LabelKey) -> ComposeFile {
    let mut services = Ordered::default();
    let mut volumes: Ordered<Volume> = Ordered::default();
    let mut networks: Ordered<Empty> = Ordered::default();
    let mut secrets: Ordered<SecretFile> = Ordered::default();
    // A secret name two containers use: each gets its own file's key.
    let mut users: HashMap<&str, usize> = HashMap::new();
    for l in launches {
        for s in &l.app.secrets {
            *users.entry(s.name.as_str()).or_default() += 1;
        }
    }
    for l in launches {
        let mut svc = service(l, &paths.root);
        for (s, entry) in l.app.secrets.iter().zip(svc.secrets.iter_mut()) {
            if users.get(s.name.as_str()).is_some_and(|n| *n > 1) {
                *entry = ServiceSecret::Own {
                    source: lit(&format!("{}_{}", l.name, s.name)),
                    target: lit(&s.name),
                };
            }
            let key = match entry {
                ServiceSecret::Own { source, .. } => source.clone(),
                ServiceSecret::Name(name) => name.clone(),
            };
            if secrets.get(&key).is_none() {
                let file =
                    plan::apps::secret_path(&paths.state.join("secrets"), l, &s.name, label_key);
                secrets.0.push((
                    key,
                    SecretFile {
                        file: lit(&std::path::absolute(&file)
                            .unwrap_or(file)
                            .display()
                            .to_string()),
                    },
                ));
            }
        }
        services.0.push((l.name.clone(), svc));
        for n in &l.app.networks {
            if networks.get(&lit(n)).is_none() {
                networks.0.push((lit(n), Empty {}));
            }
        }
        for m in l.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
            if volumes.get(&m.host).is_none() {
                volumes
                    .0
                    .push((m.host.clone(), Volume { name: lit(&m.host) }));
            }
        }
    }
    ComposeFile {
        version: COMPOSE_VERSION,
        origin: Origin {
            generated_by: format!(
                "conteneur {} export compose: do not edit, export again",
                env!("CARGO_PKG_VERSION")
            ),
            config: lit(&paths.config.display().to_string()),
            root: lit(&std::path::absolute(&paths.root)
                .unwrap_or_else(|_| paths.root.clone())
                .display()
                .to_string()),
        },
        services,
        volumes,
        networks,
        secrets,
    }
}

/// Checks what a run would refuse too (system folders mounted), keeps the
/// Docker containers, and builds the file.
pub fn export(paths: &Paths, docker_only: bool) -> Result<ComposeFile, ExportError> {
    let (cfg, launches) = desired(paths)?;
    let allow_system = crate::plan::desired::allow_system_mounts(&cfg);
    let (docker, other): (Vec<Launch>, Vec<Launch>) =
        launches.into_iter().partition(|l| l.backend == "docker");
    if !other.is_empty() && !docker_only {
        return Err(ExportError::NotDocker(
            other.into_iter().map(|l| (l.name, l.backend)).collect(),
        ));
    }
    check_binds(&docker, paths, allow_system)?;
    // The secret files a run wrote are in folders named with the key.
    let key = crate::label_key::load(paths).map_err(|e| ExportError::Write {
        path: crate::label_key::path(paths),
        message: e.to_string(),
    })?;
    Ok(compose_file(&docker, paths, &key.key))
}

/// `conteneur export compose [-o FILE] [--docker-only]`.
pub fn cmd(paths: &Paths, a: ComposeArgs) -> Result<u8, Failure> {
    let file = export(paths, a.docker_only).map_err(|e| match e {
        ExportError::Config(c) => Failure::from(c),
        ExportError::Write { .. } => Failure {
            code: EXIT_SYSTEM,
            message: e.to_string(),
        },
        other => Failure {
            code: EXIT_INVALID_CONFIG,
            message: other.to_string(),
        },
    })?;
    let text = to_text(&file);
    match &a.output {
        Some(path) => {
            write_atomic(path, &text).map_err(|e| Failure {
                code: EXIT_SYSTEM,
                message: e.to_string(),
            })?;
            eprintln!(
                "conteneur: {} service(s) written to {}; run them with: docker-compose -f {} up -d",
                file.services.0.len(),
                path.display(),
                path.display()
            );
        }
        None => {
            let mut out = io::stdout().lock();
            // A closed pipe (| head) is not an error worth a message.
            let _ = out.write_all(text.as_bytes());
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::launch::{Health, Mount, SecretRef};

    fn launch() -> Launch {
        let mut l = crate::plan::launch::sample("web", "1.0", 20001);
        l.mounts = vec![
            Mount {
                container: "/data".into(),
                host: "/srv/web".into(),
                kind: MountKind::Bind,
            },
            Mount {
                container: "/cache".into(),
                host: "webcache".into(),
                kind: MountKind::Volume,
            },
        ];
        l.env = vec!["A=1".into(), "PASS=a$b".into()];
        l.memory = "64m".into();
        l.stop_timeout = 7;
        l.health.path = Some("/health/".into());
        l.labels = [
            ("fr.eole.conteneur.managed".to_string(), "true".to_string()),
            ("team".to_string(), "web".to_string()),
        ]
        .into_iter()
        .collect();
        l
    }

    #[test]
    fn service_is_the_container() {
        let s = service(&launch(), Path::new("/r"));
        assert_eq!(s.image, "localhost:5000/demo/web:1.0");
        assert_eq!(s.container_name, "web");
        assert_eq!(s.ports, ["127.0.0.1:20001:80"]);
        assert_eq!(s.volumes, ["/r/srv/web:/data", "webcache:/cache"]);
        assert_eq!(s.environment, ["A=1", "PASS=a$$b"]);
        assert_eq!(s.restart, "unless-stopped");
        assert_eq!(s.stop_grace_period, "7s");
        assert!(s.init);
        assert_eq!(
            s.deploy.map(|d| d.resources.limits.memory).as_deref(),
            Some("64m")
        );
        let test = s.healthcheck.map(|h| h.test).unwrap_or_default();
        assert_eq!(
            test.last().map(String::as_str),
            Some("http://127.0.0.1:80/health/")
        );
        assert_eq!(s.labels.len(), 1, "conteneur's own labels are left out");
    }

    #[test]
    fn an_application_keeps_its_wiring_and_no_secret_value() {
        use crate::plan::launch::HealthCommand;
        let mut db = launch();
        db.name = "db".into();
        db.ports.clear();
        db.health = Health {
            path: None,
            port: None,
            command: Some(HealthCommand {
                command: "mysqladmin ping".into(),
                interval: 2,
                timeout: 5,
                retries: 3,
                start_period: 1,
            }),
        };
        db.app.networks = vec!["wp".into()];
        db.app.no_new_privileges = true;
        db.app.user = "mysql".into();
        db.app.command = "mariadbd --skip-name-resolve 'a b'".into();
        db.app.secrets = vec![SecretRef {
            name: "db_password".into(),
            hash: Some("h".into()),
        }];
        let mut wp = launch();
        wp.name = "wordpress".into();
        wp.app.networks = vec!["wp".into()];
        wp.app.depends_on = vec!["db".into()];
        let paths = Paths::new(Path::new("/r"));
        let file = compose_file(&[db, wp], &paths, &LabelKey::default());
        let v = serde_json::to_value(&file).unwrap();
        let db = &v["services"]["db"];
        assert_eq!(db["networks"]["wp"]["aliases"][0], "db");
        assert!(db.get("network_mode").is_none());
        assert_eq!(db["healthcheck"]["test"][1], "mysqladmin ping");
        assert_eq!(db["healthcheck"]["interval"], "2s");
        assert_eq!(db["user"], "mysql");
        assert_eq!(db["command"][2], "a b");
        assert_eq!(db["security_opt"][0], "no-new-privileges:true");
        assert_eq!(db["secrets"][0], "db_password");
        assert_eq!(
            v["services"]["wordpress"]["depends_on"]["db"]["condition"],
            "service_healthy"
        );
        assert_eq!(v["networks"]["wp"], serde_json::json!({}));
        let f = v["secrets"]["db_password"]["file"].as_str().unwrap();
        assert!(f.starts_with("/r/var/lib/conteneur/secrets/db/"), "{f}");
    }

    #[test]
    fn two_containers_with_a_secret_of_one_name_each_mount_their_own_file() {
        let secret = || SecretRef {
            name: "db_password".into(),
            hash: Some("h".into()),
        };
        let mut db = launch();
        db.name = "db".into();
        db.app.secrets = vec![secret()];
        let mut wp = launch();
        wp.name = "wordpress".into();
        wp.app.secrets = vec![secret()];
        let file = compose_file(
            &[db, wp],
            &Paths::new(Path::new("/r")),
            &LabelKey::default(),
        );
        let v = serde_json::to_value(&file).unwrap();
        for name in ["db", "wordpress"] {
            let key = format!("{name}_db_password");
            assert_eq!(
                v["services"][name]["secrets"][0],
                serde_json::json!({"source": key, "target": "db_password"})
            );
            let f = v["secrets"][&key]["file"].as_str().unwrap();
            assert!(
                f.starts_with(&format!("/r/var/lib/conteneur/secrets/{name}/")),
                "{f}"
            );
        }
        assert!(v["secrets"].get("db_password").is_none());
    }

    #[test]
    fn tcp_check_and_no_check() {
        let mut l = launch();
        l.health.path = None;
        let t = healthcheck(&l).map(|h| h.test).unwrap_or_default();
        assert_eq!(t[..2], ["CMD", "nc"]);
        assert!(t.contains(&"80".to_string()));
        l.health.port = None;
        l.ports.clear();
        assert!(healthcheck(&l).is_none());
        l.restart = "whatever".into();
        l.memory = Default::default();
        let s = service(&l, Path::new("/"));
        assert_eq!(s.restart, "no");
        assert!(s.deploy.is_none());
    }

    #[test]
    fn ipv6_port() {
        assert_eq!(port_spec("::1", 8080, 80), "[::1]:8080:80");
        assert_eq!(port_spec("", 8080, 80), "8080:80");
    }

    #[test]
    fn yaml_unsafe_characters_are_escaped() {
        let mut l = launch();
        l.env = vec!["X=a\u{85}b\u{2028}c\u{7f}é".into()];
        let paths = Paths::new(Path::new("/r"));
        let text = to_text(&compose_file(&[l], &paths, &LabelKey::default()));
        assert!(text.contains(r#""X=a\u0085b\u2028c\u007fé""#), "{text}");
        // Still JSON, and the value reads back the same.
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            v["services"]["web"]["environment"][0],
            "X=a\u{85}b\u{2028}c\u{7f}é"
        );
        assert_eq!(v["volumes"]["webcache"]["name"], "webcache");
        assert_eq!(v["version"], COMPOSE_VERSION);
    }
}
