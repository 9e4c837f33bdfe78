//! The Swarm backend: services, secrets, configs and overlay networks of an
//! EXISTING swarm, through the manager engine's API (bollard). conteneur
//! never makes a swarm: the engine it drives (`DOCKER_HOST`, else the
//! default socket) must be a manager (`docker swarm init`).
//!
//! It acts and reports; [`crate::plan::swarm`] decides. An update replaces
//! the whole spec, as the API wants: the service is inspected first and
//! its version index passed, and a concurrent change ("update out of
//! sequence") makes it inspect and try again.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bollard::Docker;
use bollard::models::{
    ConfigSpec, EndpointPortConfig, EndpointPortConfigProtocolEnum,
    EndpointPortConfigPublishModeEnum, EndpointSpec, EndpointSpecModeEnum, HealthConfig, Limit,
    LocalNodeState, Mount, MountType, NetworkAttachmentConfig, NetworkCreateRequest, SecretSpec,
    ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1,
    TaskSpecContainerSpecSecrets, TaskSpecPlacement, TaskSpecPlacementPreferences,
    TaskSpecPlacementSpread, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::query_parameters::{
    InspectServiceOptions, ListConfigsOptions, ListContainersOptions, ListNetworksOptions,
    ListNodesOptions, ListSecretsOptions, ListServicesOptions, ListTasksOptions,
    UpdateServiceOptions,
};

use super::docker::DockerBackend;
use super::{Backend, BackendError, NoProgress, labels};
use crate::plan::redact::LabelKey;
use crate::plan::swarm::{
    Desired, Endpoint, ObservedObject, ObservedService, ServiceWant, SwarmAction, SwarmObserved,
    UpdateState,
};

/// Seconds between two looks at a converging service.
const POLL: Duration = Duration::from_millis(500);
/// How many times a concurrent change of a service is retried.
const RETRIES: usize = 5;

pub struct SwarmBackend {
    docker: Docker,
    node_id: String,
    /// Kept for building the front's image.
    engine: DockerBackend,
}

/// How a service ended after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every replica runs the new spec.
    Converged,
    /// Swarm rolled the update back: the old spec runs again.
    RolledBack(String),
}

/// One service as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceStatus {
    pub name: String,
    pub image: String,
    pub running: u64,
    pub desired: u64,
    /// Running replicas per node: (node id, hostname, role, availability) → count.
    pub nodes: Vec<NodeCount>,
    pub update: Option<UpdateState>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeCount {
    pub node: String,
    pub hostname: String,
    pub role: String,
    pub availability: String,
    pub running: u64,
}

fn err(action: &'static str, name: &str, e: bollard::errors::Error) -> BackendError {
    BackendError::Container {
        name: name.to_string(),
        action,
        message: engine_message(&e),
    }
}

fn engine_message(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// A date of the API as text, whatever bollard's date type is.
fn date_text<T: serde::Serialize>(d: &Option<T>) -> String {
    d.as_ref()
        .and_then(|d| serde_json::to_value(d).ok())
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .unwrap_or_default()
}

fn label_filter(server: &str) -> HashMap<String, Vec<String>> {
    [(
        "label".to_string(),
        vec![format!("{}={server}", labels::SERVER)],
    )]
    .into()
}

fn to_map(l: &BTreeMap<String, String>) -> HashMap<String, String> {
    l.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn secs(n: u64) -> i64 {
    i64::try_from(n.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX)
}

/// The engine's service spec of `w`; `ids` gives the id of each secret and
/// config by name.
pub fn service_spec(
    w: &ServiceWant,
    server: &str,
    key: &LabelKey,
    ids: &HashMap<String, String>,
) -> ServiceSpec {
    let mounts = w
        .mounts
        .iter()
        .map(|m| Mount {
            target: Some(m.target.clone()),
            source: Some(m.source.clone()),
            typ: Some(if m.bind {
                MountType::BIND
            } else {
                MountType::VOLUME
            }),
            ..Default::default()
        })
        .collect();
    let secrets = w
        .secrets
        .iter()
        .map(|s| TaskSpecContainerSpecSecrets {
            file: Some(TaskSpecContainerSpecFile {
                name: Some(s.target.clone()),
                uid: Some("0".into()),
                gid: Some("0".into()),
                mode: Some(0o400),
            }),
            secret_id: ids.get(&s.object).cloned(),
            secret_name: Some(s.object.clone()),
        })
        .collect();
    let configs = w
        .configs
        .iter()
        .map(|c| TaskSpecContainerSpecConfigs {
            file: Some(TaskSpecContainerSpecFile1 {
                name: Some(c.target.clone()),
                uid: Some("0".into()),
                gid: Some("0".into()),
                mode: Some(0o444),
            }),
            config_id: ids.get(&c.object).cloned(),
            config_name: Some(c.object.clone()),
            ..Default::default()
        })
        .collect();
    let health = w.health.as_ref().map(|cmd| HealthConfig {
        test: Some(vec!["CMD-SHELL".into(), cmd.clone()]),
        interval: Some(secs(1)),
        timeout: Some(secs(3)),
        retries: Some(3),
        start_period: Some(secs(w.start_period)),
        ..Default::default()
    });
    let container = TaskSpecContainerSpec {
        image: Some(w.image.clone()),
        command: (!w.command.is_empty()).then(|| w.command.clone()),
        env: Some(w.env.clone()),
        mounts: Some(mounts),
        stop_grace_period: Some(secs(w.stop_grace.into())),
        health_check: health,
        secrets: Some(secrets),
        configs: Some(configs),
        // As local containers: a small init passes signals on.
        init: Some(true),
        ..Default::default()
    };
    let restart = match w.restart.as_str() {
        "none" => TaskSpecRestartPolicyConditionEnum::NONE,
        "on-failure" => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
        _ => TaskSpecRestartPolicyConditionEnum::ANY,
    };
    let (order, rorder) = if w.start_first {
        (
            ServiceSpecUpdateConfigOrderEnum::START_FIRST,
            ServiceSpecRollbackConfigOrderEnum::START_FIRST,
        )
    } else {
        (
            ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
            ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
        )
    };
    let ports: Vec<EndpointPortConfig> = w
        .ports
        .iter()
        .map(|p| EndpointPortConfig {
            protocol: Some(EndpointPortConfigProtocolEnum::TCP),
            target_port: Some(p.target.into()),
            published_port: Some(p.published.into()),
            publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
            ..Default::default()
        })
        .collect();
    ServiceSpec {
        name: Some(w.name.clone()),
        labels: Some(to_map(&w.service_labels(server, key))),
        task_template: Some(TaskSpec {
            container_spec: Some(container),
            resources: Some(TaskSpecResources {
                limits: w.memory.map(|m| Limit {
                    memory_bytes: Some(m),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(restart),
                delay: Some(secs(1)),
                ..Default::default()
            }),
            placement: Some(TaskSpecPlacement {
                constraints: Some(w.constraints.clone()),
                preferences: Some(vec![TaskSpecPlacementPreferences {
                    spread: Some(TaskSpecPlacementSpread {
                        spread_descriptor: Some("node.id".into()),
                    }),
                }]),
                ..Default::default()
            }),
            networks: Some(
                w.networks
                    .iter()
                    .map(|n| NetworkAttachmentConfig {
                        target: Some(n.clone()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(w.replicas.into()),
            }),
            ..Default::default()
        }),
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            delay: Some(secs(w.update_delay)),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
            monitor: Some(secs(w.monitor)),
            max_failure_ratio: Some(0.0),
            order: Some(order),
        }),
        rollback_config: Some(ServiceSpecRollbackConfig {
            parallelism: Some(1),
            delay: Some(0),
            failure_action: Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
            monitor: Some(secs(w.monitor)),
            max_failure_ratio: Some(0.0),
            order: Some(rorder),
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(match w.endpoint {
                Endpoint::Dnsrr => EndpointSpecModeEnum::DNSRR,
                Endpoint::Vip => EndpointSpecModeEnum::VIP,
            }),
            ports: Some(ports),
        }),
        ..Default::default()
    }
}

fn object(
    id: Option<String>,
    name: Option<String>,
    l: Option<HashMap<String, String>>,
) -> ObservedObject {
    ObservedObject {
        id: id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        labels: l.unwrap_or_default().into_iter().collect(),
    }
}

impl SwarmBackend {
    /// Connects to the engine and checks it manages a swarm.
    pub async fn connect() -> Result<SwarmBackend, BackendError> {
        let engine = DockerBackend::connect().await?;
        let docker = engine.client().clone();
        let info = docker.info().await.map_err(|e| BackendError::Unavailable {
            engine: "Docker Swarm",
            message: engine_message(&e),
        })?;
        let swarm = info.swarm.unwrap_or_default();
        let not = |why: &str| BackendError::Unavailable {
            engine: "Docker Swarm",
            message: format!(
                "conteneur_orchestrator is swarm but {why}; conteneur never makes a swarm: run `docker swarm init` \
                 (or join this engine to one as a manager), or set conteneur_orchestrator to local"
            ),
        };
        if swarm.local_node_state != Some(LocalNodeState::ACTIVE) {
            return Err(not("this server's Docker engine is not part of a swarm"));
        }
        if swarm.control_available != Some(true) {
            return Err(not(
                "this server's Docker engine is a swarm worker, not a manager",
            ));
        }
        Ok(SwarmBackend {
            docker,
            node_id: swarm.node_id.unwrap_or_default(),
            engine,
        })
    }

    /// The swarm node of this engine.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// One snapshot of this server's services, secrets, configs and
    /// networks (others' services too, by name, to refuse clashes).
    pub async fn observe(&self, server: &str) -> Result<SwarmObserved, BackendError> {
        let fail = |what: &'static str| {
            move |e: bollard::errors::Error| BackendError::Unavailable {
                engine: "Docker Swarm",
                message: format!("listing the swarm's {what} failed: {}", engine_message(&e)),
            }
        };
        let services = self
            .docker
            .list_services(Some(ListServicesOptions {
                status: Some(true),
                ..Default::default()
            }))
            .await
            .map_err(fail("services"))?;
        let mut out = SwarmObserved::default();
        for s in services {
            let spec = s.spec.unwrap_or_default();
            let status = s.service_status.unwrap_or_default();
            out.services.push(ObservedService {
                id: s.id.unwrap_or_default(),
                name: spec.name.unwrap_or_default(),
                version: s.version.and_then(|v| v.index).unwrap_or(0),
                labels: spec.labels.unwrap_or_default().into_iter().collect(),
                replicas: spec
                    .mode
                    .and_then(|m| m.replicated)
                    .and_then(|r| r.replicas)
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                running: status.running_tasks.unwrap_or(0),
                update: s.update_status.map(|u| UpdateState {
                    state: u.state.map(|s| s.to_string()).unwrap_or_default(),
                    message: u.message.unwrap_or_default(),
                    started_at: date_text(&u.started_at),
                }),
            });
        }
        (out.secrets, out.configs) = self.secrets_and_configs(server).await?;
        for n in self
            .docker
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(fail("networks"))?
        {
            out.networks.push(object(n.id, n.name, n.labels));
        }
        Ok(out)
    }

    fn object_labels(server: &str, owner: &str) -> HashMap<String, String> {
        [
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::SERVER.to_string(), server.to_string()),
            (labels::NAME.to_string(), owner.to_string()),
        ]
        .into()
    }

    /// The ids of this server's secrets and configs, by name.
    async fn object_ids(&self, server: &str) -> Result<HashMap<String, String>, BackendError> {
        let (secrets, configs) = self.secrets_and_configs(server).await?;
        Ok(secrets
            .into_iter()
            .chain(configs)
            .map(|x| (x.name, x.id))
            .collect())
    }

    /// This server's secrets and configs.
    async fn secrets_and_configs(
        &self,
        server: &str,
    ) -> Result<(Vec<ObservedObject>, Vec<ObservedObject>), BackendError> {
        let filters = Some(label_filter(server));
        let fail = |what: &str, e: bollard::errors::Error| BackendError::Unavailable {
            engine: "Docker Swarm",
            message: format!("listing the swarm's {what} failed: {}", engine_message(&e)),
        };
        let secrets = self
            .docker
            .list_secrets(Some(ListSecretsOptions {
                filters: filters.clone(),
            }))
            .await
            .map_err(|e| fail("secrets", e))?
            .into_iter()
            .map(|s| {
                let spec = s.spec.unwrap_or_default();
                object(s.id, spec.name, spec.labels)
            })
            .collect();
        let configs = self
            .docker
            .list_configs(Some(ListConfigsOptions { filters }))
            .await
            .map_err(|e| fail("configs", e))?
            .into_iter()
            .map(|c| {
                let spec = c.spec.unwrap_or_default();
                object(c.id, spec.name, spec.labels)
            })
            .collect();
        Ok((secrets, configs))
    }

    /// Runs one step. Returns a note for the admin when a removal was left
    /// for later (an old secret a rolled-back service still uses).
    pub async fn apply(
        &self,
        action: &SwarmAction,
        desired: &Desired,
        server: &str,
    ) -> Result<Option<String>, BackendError> {
        match action {
            SwarmAction::CreateNetwork { name } => {
                let req = NetworkCreateRequest {
                    name: name.clone(),
                    driver: Some("overlay".into()),
                    attachable: Some(true),
                    labels: Some(Self::object_labels(server, name)),
                    ..Default::default()
                };
                self.docker
                    .create_network(req)
                    .await
                    .map_err(|e| err("creating its network", name, e))?;
            }
            SwarmAction::CreateSecret { name, service } => {
                let Some(s) = desired.secret(name) else {
                    return Ok(None);
                };
                let spec = SecretSpec {
                    name: Some(name.clone()),
                    labels: Some(Self::object_labels(server, service)),
                    data: Some(base64::engine::general_purpose::STANDARD.encode(s.data.expose())),
                    ..Default::default()
                };
                // Never the value in an error: the engine's message only.
                self.docker
                    .create_secret(spec)
                    .await
                    .map_err(|e| err("creating its secret", service, e))?;
            }
            SwarmAction::CreateConfig { name, service } => {
                let Some(c) = desired.config(name) else {
                    return Ok(None);
                };
                let spec = ConfigSpec {
                    name: Some(name.clone()),
                    labels: Some(Self::object_labels(server, service)),
                    data: Some(base64::engine::general_purpose::STANDARD.encode(c.data.expose())),
                    ..Default::default()
                };
                self.docker
                    .create_config(spec)
                    .await
                    .map_err(|e| err("creating its configuration", service, e))?;
            }
            SwarmAction::CreateService { name, .. } => {
                let Some(w) = desired.service(name) else {
                    return Ok(None);
                };
                let ids = self.object_ids(server).await?;
                self.docker
                    .create_service(service_spec(w, server, &desired.label_key, &ids), None)
                    .await
                    .map_err(|e| err("creating its swarm service", name, e))?;
            }
            SwarmAction::UpdateService { name, .. } => {
                let Some(w) = desired.service(name) else {
                    return Ok(None);
                };
                let ids = self.object_ids(server).await?;
                let spec = service_spec(w, server, &desired.label_key, &ids);
                self.update(name, |_| spec.clone()).await?;
            }
            SwarmAction::Scale { name, to, .. } => {
                let to = i64::from(*to);
                self.update(name, |mut current| {
                    current.mode = Some(ServiceSpecMode {
                        replicated: Some(ServiceSpecModeReplicated { replicas: Some(to) }),
                        ..Default::default()
                    });
                    current
                })
                .await?;
            }
            SwarmAction::RemoveService { name, id } => {
                match self.docker.delete_service(id).await {
                    Ok(()) => {}
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => {}
                    Err(e) => return Err(err("removing its swarm service", name, e)),
                }
                self.wait_gone(name, id).await?;
            }
            SwarmAction::Leave { .. } => {}
            SwarmAction::RemoveSecret { name, id } => {
                if let Err(e) = self.docker.delete_secret(id).await {
                    return Ok(Some(format!(
                        "secret {name} kept for now: {} (it goes at a later run, once unused)",
                        engine_message(&e)
                    )));
                }
            }
            SwarmAction::RemoveConfig { name, id } => {
                if let Err(e) = self.docker.delete_config(id).await {
                    return Ok(Some(format!(
                        "config {name} kept for now: {}",
                        engine_message(&e)
                    )));
                }
            }
            SwarmAction::RemoveNetwork { name, id } => {
                // A task's network goes a moment after the task: a few tries.
                let mut last = String::new();
                for _ in 0..20 {
                    match self.docker.remove_network(id).await {
                        Ok(()) => return Ok(None),
                        Err(e) => last = engine_message(&e),
                    }
                    tokio::time::sleep(POLL).await;
                }
                return Ok(Some(format!("network {name} kept for now: {last}")));
            }
        }
        Ok(None)
    }

    /// Replaces the spec of service `name` by `change(current spec)`,
    /// passing the version just inspected; on a concurrent change, again.
    async fn update(
        &self,
        name: &str,
        change: impl Fn(ServiceSpec) -> ServiceSpec,
    ) -> Result<(), BackendError> {
        retry_out_of_sequence(name, || async {
            let current = self
                .docker
                .inspect_service(name, None::<InspectServiceOptions>)
                .await
                .map_err(|e| engine_message(&e))?;
            let version = current.version.and_then(|v| v.index).unwrap_or(0);
            let spec = change(current.spec.unwrap_or_default());
            let options = UpdateServiceOptions {
                version: i32::try_from(version).unwrap_or(i32::MAX),
                ..Default::default()
            };
            self.docker
                .update_service(name, spec, options, None)
                .await
                .map(|_| ())
                .map_err(|e| engine_message(&e))
        })
        .await
    }

    /// Waits (bounded) until the containers of a removed service are gone
    /// from this node, so its ports and volumes are free (the swarm
    /// forgets the tasks before their containers have stopped).
    async fn wait_gone(&self, name: &str, id: &str) -> Result<(), BackendError> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("com.docker.swarm.service.id={id}")],
        )]);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            let left = self
                .docker
                .list_containers(Some(ListContainersOptions {
                    all: true,
                    filters: Some(filters.clone()),
                    ..Default::default()
                }))
                .await
                .map_err(|e| err("removing its swarm service", name, e))?;
            if left.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
        Err(BackendError::Container {
            name: name.into(),
            action: "removing its swarm service",
            message: "its containers were still there after 60 s".into(),
        })
    }

    async fn tasks(
        &self,
        service: Option<&str>,
    ) -> Result<Vec<bollard::models::Task>, BackendError> {
        let filters =
            service.map(|s| HashMap::from([("service".to_string(), vec![s.to_string()])]));
        self.docker
            .list_tasks(Some(ListTasksOptions { filters }))
            .await
            .map_err(|e| BackendError::Other(engine_message(&e)))
    }

    /// How many tasks of `name` run, counted so that the service has
    /// settled (every task meant to run runs, and none that is going away
    /// still does: the smaller count), and the reason the last failed one
    /// gave.
    async fn running(&self, name: &str) -> Result<(u64, u64, String), BackendError> {
        let tasks = self.tasks(Some(name)).await?;
        let (mut wanted, mut leaving) = (0, 0);
        let mut why = String::new();
        for t in tasks {
            let status = t.status.unwrap_or_default();
            let desired_running = t.desired_state == Some(TaskState::RUNNING);
            if status.state == Some(TaskState::RUNNING) {
                if desired_running {
                    wanted += 1;
                } else {
                    leaving += 1;
                }
            }
            if matches!(status.state, Some(TaskState::FAILED | TaskState::REJECTED)) {
                why = status.err.or(status.message).unwrap_or_default();
            }
        }
        Ok((wanted, leaving, why))
    }

    /// The update state of `name` now.
    async fn update_state(&self, name: &str) -> Result<(Option<UpdateState>, u64), BackendError> {
        let s = self
            .docker
            .inspect_service(name, None::<InspectServiceOptions>)
            .await
            .map_err(|e| err("reading its swarm service", name, e))?;
        let replicas = s
            .spec
            .and_then(|s| s.mode)
            .and_then(|m| m.replicated)
            .and_then(|r| r.replicas)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0);
        let u = s.update_status.map(|u| UpdateState {
            state: u.state.map(|s| s.to_string()).unwrap_or_default(),
            message: u.message.unwrap_or_default(),
            started_at: date_text(&u.started_at),
        });
        Ok((u, replicas))
    }

    /// Waits until service `name` converged, or Swarm rolled it back, for
    /// at most `timeout`. `before` is its update state before the step:
    /// an update is recognised by a new start time.
    pub async fn wait(
        &self,
        name: &str,
        before: Option<&UpdateState>,
        rollout: bool,
        timeout: Duration,
    ) -> Result<Outcome, BackendError> {
        let start = Instant::now();
        // After a spec change Swarm starts a rolling update a moment later:
        // until it shows (or this long passed: a change of the service
        // alone, not of its tasks, rolls nothing), the old replicas
        // running must not count as converged.
        let rollout_shows = Duration::from_secs(10);
        // What Swarm said when it started the rollback, and why the new
        // replica failed, for the admin.
        let (mut cause, mut failure) = (String::new(), String::new());
        let before_start = before.map(|u| u.started_at.clone());
        loop {
            let (update, replicas) = self.update_state(name).await?;
            let fresh = update
                .as_ref()
                .filter(|u| Some(&u.started_at) != before_start.as_ref());
            let (running, leaving, why) = self.running(name).await?;
            let settled = running == replicas && leaving == 0;
            if let Some(u) = fresh
                && u.state == "rollback_started"
                && !u.message.is_empty()
            {
                cause = u.message.clone();
            }
            if !why.is_empty() {
                failure = why.clone();
            }
            match fresh.map(|u| u.state.as_str()) {
                Some("rollback_completed") => {
                    let mut u = if cause.is_empty() {
                        fresh.map(|u| u.message.clone()).unwrap_or_default()
                    } else {
                        cause
                    };
                    if !failure.is_empty() {
                        u = format!("{u}; the new replica: {failure}");
                    }
                    return Ok(Outcome::RolledBack(u));
                }
                Some("paused" | "rollback_paused") => {
                    let u = fresh.map(|u| u.message.clone()).unwrap_or_default();
                    return Err(BackendError::Container {
                        name: name.into(),
                        action: "its rolling update",
                        message: format!(
                            "Swarm paused it: {u}; see `docker service ps {name}`, then fix the configuration and reconfigure"
                        ),
                    });
                }
                Some("updating" | "rollback_started") => {}
                Some("completed") if settled => return Ok(Outcome::Converged),
                None if rollout && start.elapsed() < rollout_shows => {}
                _ if settled => return Ok(Outcome::Converged),
                _ => {}
            }
            if start.elapsed() > timeout {
                return Err(BackendError::Container {
                    name: name.into(),
                    action: "waiting for its swarm service",
                    message: format!(
                        "{running} of {replicas} replicas running ({leaving} old ones still stopping) after {} s{}",
                        timeout.as_secs(),
                        if why.is_empty() {
                            String::new()
                        } else {
                            format!(" (last failure: {why})")
                        }
                    ),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Per service of this server: replicas running/desired, per node, and
    /// the update state.
    pub async fn status(&self, server: &str) -> Result<Vec<ServiceStatus>, BackendError> {
        let observed = self.observe(server).await?;
        let nodes = self
            .docker
            .list_nodes(None::<ListNodesOptions>)
            .await
            .map_err(|e| BackendError::Other(engine_message(&e)))?;
        let node_info: HashMap<String, (String, String, String)> = nodes
            .into_iter()
            .map(|n| {
                let spec = n.spec.unwrap_or_default();
                (
                    n.id.unwrap_or_default(),
                    (
                        n.description.and_then(|d| d.hostname).unwrap_or_default(),
                        spec.role.map(|r| r.to_string()).unwrap_or_default(),
                        spec.availability.map(|a| a.to_string()).unwrap_or_default(),
                    ),
                )
            })
            .collect();
        let tasks = self.tasks(None).await?;
        let mut out = Vec::new();
        for s in observed.services.iter().filter(|s| s.is_ours(server)) {
            let mut per: BTreeMap<String, u64> = node_info.keys().map(|k| (k.clone(), 0)).collect();
            for t in tasks
                .iter()
                .filter(|t| t.service_id.as_deref() == Some(&s.id))
            {
                let st = t.status.as_ref().and_then(|s| s.state);
                if st == Some(TaskState::RUNNING) && t.desired_state == Some(TaskState::RUNNING) {
                    *per.entry(t.node_id.clone().unwrap_or_default())
                        .or_default() += 1;
                }
            }
            let image = s
                .labels
                .get(crate::plan::swarm::SPEC_LABEL)
                .and_then(|t| serde_json::from_str::<ServiceWant>(t).ok())
                .map(|w| w.image)
                .unwrap_or_default();
            out.push(ServiceStatus {
                name: s.name.clone(),
                image,
                running: s.running,
                desired: s.replicas,
                nodes: per
                    .into_iter()
                    .map(|(node, running)| {
                        let (hostname, role, availability) =
                            node_info.get(&node).cloned().unwrap_or_default();
                        NodeCount {
                            node,
                            hostname,
                            role,
                            availability,
                            running,
                        }
                    })
                    .collect(),
                update: s.update.clone(),
            });
        }
        Ok(out)
    }

    /// Builds the front's image `reference` (from [`front_image_ref`]) on
    /// this node unless it is there.
    pub async fn ensure_front_image(&self, reference: &str) -> Result<(), BackendError> {
        if self.docker.inspect_image(reference).await.is_ok() {
            return Ok(());
        }
        let tag = reference.rsplit(':').next().unwrap_or("latest");
        let context = front_context().await?;
        self.engine
            .build(FRONT_IMAGE, tag, context, &BTreeMap::new(), &NoProgress)
            .await?;
        Ok(())
    }
}

/// The front's image: this machine's nginx and the libraries it links, in
/// an image built on the manager (there is no registry of images to pull
/// an nginx from here). Named by a hash of the binary: a new nginx, a new
/// image.
pub fn front_image_ref() -> Result<String, BackendError> {
    use sha2::Digest;
    let binary = std::fs::read(NGINX).map_err(|e| BackendError::Unavailable {
        engine: "Docker Swarm",
        message: format!(
            "the swarm front is this machine's nginx in an image, and {NGINX} cannot be read ({e}); apt-get install nginx"
        ),
    })?;
    let d = sha2::Sha256::digest(&binary);
    let tag: String = d.iter().take(6).map(|b| format!("{b:02x}")).collect();
    Ok(format!("{FRONT_IMAGE}:{tag}"))
}

/// Runs `attempt` (inspect, then update with the version just read) until
/// it succeeds; "update out of sequence" (the service changed in between)
/// is tried again, [`RETRIES`] times at most; any other error is final.
async fn retry_out_of_sequence<F, Fut>(name: &str, attempt: F) -> Result<(), BackendError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let fail = |message: String| BackendError::Container {
        name: name.to_string(),
        action: "updating its swarm service",
        message,
    };
    let mut last = String::new();
    for _ in 0..RETRIES {
        match attempt().await {
            Ok(()) => return Ok(()),
            Err(e) if e.contains("out of sequence") => last = e,
            Err(e) => return Err(fail(e)),
        }
    }
    Err(fail(format!(
        "the service kept changing under conteneur ({RETRIES} tries): {last}"
    )))
}

/// The nginx the front's image is made of.
const NGINX: &str = "/usr/sbin/nginx";
/// The front's image name (never pushed).
pub const FRONT_IMAGE: &str = "conteneur/front";

/// The build context of the front's image: nginx, its libraries (`ldd`),
/// the folders it writes to, and a Dockerfile `FROM scratch`.
async fn front_context() -> Result<Vec<u8>, BackendError> {
    let fail = |m: String| BackendError::Build {
        image: FRONT_IMAGE.into(),
        tag: String::new(),
        repository: NGINX.into(),
        message: m,
    };
    let dir = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
    let root = dir.path();
    let ldd = tokio::process::Command::new("ldd")
        .arg(NGINX)
        .output()
        .await
        .map_err(|e| fail(format!("ldd: {e}")))?;
    let mut files = vec![NGINX.to_string()];
    files.extend(
        String::from_utf8_lossy(&ldd.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
            .map(str::to_string),
    );
    let io = |e: std::io::Error| fail(e.to_string());
    for f in &files {
        let dest = root.join(f.trim_start_matches('/'));
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p).map_err(io)?;
        }
        std::fs::copy(f, &dest).map_err(io)?;
    }
    for d in ["var/lib/nginx", "var/log/nginx", "run", "tmp", "etc/nginx"] {
        std::fs::create_dir_all(root.join(d)).map_err(io)?;
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/nonexistent:/nonexistent\n",
    )
    .map_err(io)?;
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").map_err(io)?;
    std::fs::write(
        root.join("Dockerfile"),
        "FROM scratch\nCOPY . /\nCMD [\"/usr/sbin/nginx\", \"-g\", \"daemon off;\"]\n",
    )
    .map_err(io)?;
    let tar = tokio::process::Command::new("tar")
        .arg("-C")
        .arg(root)
        .args(["-c", "."])
        .output()
        .await
        .map_err(|e| fail(format!("tar: {e}")))?;
    if !tar.status.success() {
        return Err(fail(String::from_utf8_lossy(&tar.stderr).into_owned()));
    }
    Ok(tar.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn an_update_out_of_sequence_is_inspected_and_sent_again() {
        let tries = AtomicUsize::new(0);
        let r = retry_out_of_sequence("web", || async {
            match tries.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err("rpc error: code = Unknown desc = update out of sequence".to_string()),
                _ => Ok(()),
            }
        })
        .await;
        assert!(r.is_ok());
        assert_eq!(tries.load(Ordering::SeqCst), 3);
        // Another error is final; endless races end too, saying so.
        let tries = AtomicUsize::new(0);
        let r = retry_out_of_sequence("web", || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>("no such image".to_string())
        })
        .await;
        assert_eq!(tries.load(Ordering::SeqCst), 1);
        assert!(r.expect_err("final").to_string().contains("no such image"));
        let r = retry_out_of_sequence("web", || async {
            Err::<(), _>("update out of sequence".to_string())
        })
        .await;
        assert!(r.expect_err("bounded").to_string().contains("5 tries"));
    }

    #[test]
    fn the_spec_carries_the_rolling_update_and_rollback_policy() {
        let w = ServiceWant {
            name: "web".into(),
            image: "i:1".into(),
            replicas: 3,
            command: vec![],
            env: vec![],
            mounts: vec![],
            memory: Some(64 << 20),
            restart: "any".into(),
            stop_grace: 10,
            health: Some("true".into()),
            start_period: 6,
            constraints: vec![],
            networks: vec!["conteneur-front".into()],
            secrets: vec![],
            configs: vec![],
            ports: vec![],
            start_first: true,
            update_delay: 2,
            monitor: 3,
            endpoint: Endpoint::Dnsrr,
            labels: BTreeMap::new(),
        };
        let spec = service_spec(&w, "/srv", &LabelKey::default(), &HashMap::new());
        let u = spec.update_config.expect("update config");
        assert_eq!(u.parallelism, Some(1));
        assert_eq!(u.delay, Some(2_000_000_000));
        assert_eq!(u.monitor, Some(3_000_000_000));
        assert_eq!(
            u.failure_action,
            Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK)
        );
        assert_eq!(u.order, Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST));
        assert_eq!(
            spec.endpoint_spec.and_then(|e| e.mode),
            Some(EndpointSpecModeEnum::DNSRR)
        );
        assert_eq!(
            spec.mode
                .and_then(|m| m.replicated)
                .and_then(|r| r.replicas),
            Some(3)
        );
        let labels = spec.labels.expect("labels");
        assert_eq!(labels.get(labels::SERVER).map(String::as_str), Some("/srv"));
        let task = spec.task_template.expect("task");
        let c = task.container_spec.expect("container");
        assert_eq!(
            c.health_check.and_then(|h| h.test),
            Some(vec!["CMD-SHELL".to_string(), "true".to_string()])
        );
        // conteneur's labels on the service, never on the task's containers.
        assert!(c.labels.is_none());
    }
}
