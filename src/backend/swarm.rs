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
    ConfigSpec, LocalNodeState, NetworkCreateRequest, SecretSpec, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, TaskState,
};
use bollard::query_parameters::{
    InspectServiceOptions, ListConfigsOptions, ListContainersOptions, ListNetworksOptions,
    ListNodesOptions, ListSecretsOptions, ListServicesOptions, ListTasksOptions,
    UpdateServiceOptions,
};

use super::BackendError;
use super::docker::{DockerBackend, engine_message};
use crate::plan::observed::labels;
use crate::plan::swarm::{
    Desired, ObservedObject, ObservedService, ServiceWant, SwarmAction, SwarmObserved, UpdateState,
};

mod front;
mod spec;

pub use front::{FRONT_IMAGE, front_image_ref};
pub use spec::service_spec;

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
    /// `secret_values` holds the value of each of the configuration's
    /// secrets by name (read from the configuration by the caller: the
    /// plan holds none).
    pub async fn apply(
        &self,
        action: &SwarmAction,
        desired: &Desired,
        server: &str,
        secret_values: &BTreeMap<String, String>,
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
                // The plan refused undeclared secrets; a value missing here
                // is a configuration changed under our feet.
                let Some(value) = secret_values.get(&s.secret) else {
                    return Err(BackendError::Other(format!(
                        "container '{service}': the secret '{}' has no value",
                        s.secret
                    )));
                };
                let spec = SecretSpec {
                    name: Some(name.clone()),
                    labels: Some(Self::object_labels(server, service)),
                    data: Some(base64::engine::general_purpose::STANDARD.encode(value)),
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
                    data: Some(base64::engine::general_purpose::STANDARD.encode(&c.data)),
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

    /// Sends the logs of every task of service `id` to `sink`.
    pub async fn service_logs(
        &self,
        id: &str,
        request: &super::LogRequest,
        sink: super::LogSink<'_>,
    ) -> Result<(), BackendError> {
        let stream = self
            .docker
            .service_logs(id, Some(super::docker::log_options(request)));
        super::docker::pump_logs(stream, sink)
            .await
            .map_err(|e| err("logs", id, e))
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
}
