//! The Docker backend, over the engine's API through bollard.
//!
//! The API version is always negotiated, as the docker CLI does it (from
//! `GET /_ping`'s `Api-Version` header): bollard speaks a newer API than
//! Debian's engine (1.41), an unversioned or too-new request is refused by
//! engines that check, and a fixed old one by engines that dropped it
//! (Docker 29 requires 1.44 or later).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, HostConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    BuildImageOptions, CreateContainerOptions, CreateImageOptions, ListContainersOptions,
    ListImagesOptions, RemoveContainerOptions, RenameContainerOptions, StopContainerOptions,
};
use futures_util::StreamExt;

use super::{Backend, BackendError, HostMount, Progress};
use crate::plan::launch::Launch;
use crate::plan::observed::{Kind, Observed, ObservedContainer, ObservedImage};

pub(crate) mod apps;
pub mod cgroup;
mod events;

/// The engine's socket, as Docker's own tools default to it.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Cheap to clone: the clients share the engine's connection pool (the
/// VM engine pulls through the same one, [`super::vm::VmEngine`]).
#[derive(Clone)]
pub struct DockerBackend {
    docker: Docker,
    /// The socket it talks to, for messages.
    socket: String,
    /// The same engine, for pulls: a pull is watched for stalls by the
    /// executor (conteneur_pull_timeout), which may allow more than the
    /// client's 2 minutes per request.
    pulls: Docker,
}

/// The bound on the first request, which tells whether the engine answers.
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `GET /_ping` on the engine's socket: the engine's API version from the
/// `Api-Version` header, `None` when it sends none (an engine older than
/// API 1.25), or why the engine cannot be reached.
async fn ping_api_version(socket: &str) -> Result<Option<bollard::ClientVersion>, String> {
    use http_body_util::Empty;
    use hyper::body::Bytes;
    let ask = async {
        let stream = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(|e| e.to_string())?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let conn = tokio::spawn(conn);
        let req = hyper::Request::get("/_ping")
            .header(hyper::header::HOST, "docker")
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| format!("GET /_ping: {e}"));
        conn.abort();
        res
    };
    let res = tokio::time::timeout(PING_TIMEOUT, ask)
        .await
        .map_err(|_| {
            format!(
                "no answer to GET /_ping within {} s",
                PING_TIMEOUT.as_secs()
            )
        })??;
    if !res.status().is_success() {
        return Err(format!("GET /_ping answered {}", res.status()));
    }
    Ok(res
        .headers()
        .get("api-version")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_api_version))
}

/// "1.41" as a version bollard can speak.
fn parse_api_version(text: &str) -> Option<bollard::ClientVersion> {
    let (major, minor) = text.trim().split_once('.')?;
    Some(bollard::ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

/// The bound on any other request to the engine.
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// How long past a container's own stop timeout the engine may take to
/// answer its stop (the SIGKILL, the end of its processes, the answer).
const STOP_MARGIN: Duration = Duration::from_secs(30);

/// The bound on a pull request as the client sees it; the executor's stall
/// watch (at most conteneur_pull_timeout's 3600 s of silence) ends it first.
const PULL_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3700);

impl DockerBackend {
    /// Connects to the local engine and negotiates the API version. Fails
    /// with a clear message when the engine is not there.
    pub async fn connect() -> Result<DockerBackend, BackendError> {
        let socket = std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|h| h.strip_prefix("unix://").map(str::to_string))
            .unwrap_or_else(|| DEFAULT_SOCKET.to_string());
        let down = |message: String| BackendError::EngineDown {
            socket: socket.clone(),
            message,
        };
        // The docker CLI's negotiation: `GET /_ping` proves the engine
        // answers and names its API version in a header. bollard's own
        // (`GET /version`) costs a second request, and a slow one: the
        // engine asks containerd for its version first (about 15 ms here,
        // on every command).
        let docker = match ping_api_version(&socket).await.map_err(down)? {
            Some(engine) => {
                let ours = *bollard::API_DEFAULT_VERSION;
                let version = if engine < ours { engine } else { ours };
                Docker::connect_with_unix(&socket, REQUEST_TIMEOUT_SECS, &version)
                    .map_err(|e| down(e.to_string()))?
            }
            None => Docker::connect_with_unix(
                &socket,
                REQUEST_TIMEOUT_SECS,
                bollard::API_DEFAULT_VERSION,
            )
            .map_err(|e| down(e.to_string()))?
            .negotiate_version()
            .await
            .map_err(|e| down(e.to_string()))?,
        };
        let pulls = docker.clone().with_timeout(PULL_REQUEST_TIMEOUT);
        Ok(DockerBackend {
            docker,
            pulls,
            socket,
        })
    }

    /// The engine's API client (the swarm backend drives the same engine).
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    /// The engine's id of a local image (after a pull or a build), or the
    /// engine's own message.
    async fn image_id(&self, reference: &str) -> Result<String, String> {
        self.docker
            .inspect_image(reference)
            .await
            .map(|i| i.id.unwrap_or_default())
            .map_err(|e| engine_message(&e))
    }

    /// The engine's record of container `id`.
    pub(super) async fn inspect_one(
        &self,
        id: &str,
    ) -> Result<bollard::models::ContainerInspectResponse, BackendError> {
        self.docker
            .inspect_container(id, None)
            .await
            .map_err(|e| self.container_err(id, "inspect", e))
    }

    fn container_err(
        &self,
        name: &str,
        action: &'static str,
        e: bollard::errors::Error,
    ) -> BackendError {
        BackendError::Container {
            name: name.to_string(),
            action,
            message: self.message(&e),
        }
    }

    fn listing_err(&self, what: &str, e: &bollard::errors::Error) -> BackendError {
        if engine_gone(e) {
            BackendError::EngineDown {
                socket: self.socket.clone(),
                message: root_cause(e),
            }
        } else {
            BackendError::Other(format!("listing {what} failed: {}", engine_message(e)))
        }
    }

    /// The engine's own message; when the engine itself is gone (the
    /// socket refused or closed mid-request), that, with the socket.
    fn message(&self, e: &bollard::errors::Error) -> String {
        if engine_gone(e) {
            format!(
                "the Docker engine at {} does not answer ({})",
                self.socket,
                root_cause(e)
            )
        } else {
            engine_message(e)
        }
    }
}

/// The innermost cause of a transport error (`Connection refused`,
/// `connection closed before message completed`): the client library's
/// own wrapping says nothing to an admin.
fn root_cause(e: &bollard::errors::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// Whether the error is the connection to the engine failing (dockerd
/// stopped or killed), not the engine answering with an error.
fn engine_gone(e: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    matches!(
        e,
        E::HyperLegacyError { .. }
            | E::HyperResponseError { .. }
            | E::IOError { .. }
            | E::SocketNotFoundError(_)
    )
}

/// The engine's own message, without bollard's wrapping.
pub(crate) fn engine_message(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        // bollard's own words are a bare "Timeout error".
        bollard::errors::Error::RequestTimeoutError => {
            format!("the engine did not answer within {REQUEST_TIMEOUT_SECS} s")
        }
        other => other.to_string(),
    }
}

/// What [`Backend::liveness`] says, from the engine's record.
fn liveness_of(c: &bollard::models::ContainerInspectResponse) -> super::Liveness {
    let state = c.state.as_ref();
    super::Liveness {
        running: state.and_then(|s| s.running).unwrap_or(false),
        restarting: state.and_then(|s| s.restarting).unwrap_or(false),
        restarts: c
            .restart_count
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0),
        started_at: state.and_then(|s| s.started_at.clone()).unwrap_or_default(),
    }
}

/// What [`Backend::binds`] says, from the engine's record.
fn binds_of(c: bollard::models::ContainerInspectResponse) -> Option<super::Binds> {
    let state = c.state.unwrap_or_default();
    let pid = state.pid.and_then(|p| u32::try_from(p).ok()).unwrap_or(0);
    if !state.running.unwrap_or(false) || pid == 0 {
        return None;
    }
    let mounts = c
        .mounts
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.typ.as_deref() == Some("bind"))
        .filter_map(|m| Some((m.source?, m.destination?)))
        .collect();
    Some(super::Binds { pid, mounts })
}

fn restart_policy(name: &str) -> RestartPolicyNameEnum {
    match name {
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        _ => RestartPolicyNameEnum::NO,
    }
}

/// The engine's create body for a launch plan.
pub fn create_body(
    launch: &Launch,
    mounts: &[HostMount],
    labels: &BTreeMap<String, String>,
) -> ContainerCreateBody {
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    let mut exposed = Vec::new();
    for p in &launch.ports {
        let key = format!("{}/tcp", p.container);
        exposed.push(key.clone());
        port_bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(p.address.clone()),
                host_port: Some(p.host.to_string()),
            });
    }
    let binds: Vec<String> = mounts
        .iter()
        .map(|m| {
            if m.read_only {
                format!("{}:{}:ro", m.host, m.container)
            } else {
                format!("{}:{}", m.host, m.container)
            }
        })
        .collect();
    let mut body = ContainerCreateBody {
        image: Some(format!("{}:{}", launch.image, launch.tag)),
        env: Some(launch.env.clone()),
        labels: Some(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        exposed_ports: Some(exposed),
        stop_timeout: Some(i64::from(launch.stop_timeout)),
        host_config: Some(HostConfig {
            port_bindings: Some(port_bindings),
            binds: Some(binds),
            memory: launch.memory.bytes(),
            nano_cpus: launch.cpus.map(|c| i64::from(c) * 1_000_000_000),
            restart_policy: Some(RestartPolicy {
                name: Some(restart_policy(&launch.restart)),
                maximum_retry_count: None,
            }),
            // A tiny init as PID 1 forwards SIGTERM: servers such as busybox
            // httpd ignore it as PID 1, and every stop would take the full
            // timeout.
            init: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    apps::apply(&mut body, launch, labels);
    body
}

#[async_trait::async_trait]
impl Backend for DockerBackend {
    fn kind(&self) -> Kind {
        Kind::Docker
    }

    async fn inspect(&self) -> Result<Observed, BackendError> {
        // Four independent lists: asked together.
        let containers = async {
            self.docker
                .list_containers(Some(ListContainersOptions {
                    all: true,
                    ..Default::default()
                }))
                .await
                .map_err(|e| self.listing_err("containers", &e))
        };
        let images = async {
            self.docker
                .list_images(Some(ListImagesOptions::default()))
                .await
                .map_err(|e| self.listing_err("images", &e))
        };
        let (containers, images, resources) =
            tokio::try_join!(containers, images, self.inspect_resources())?;
        let mut observed = Observed::default();
        (observed.networks, observed.volumes) = resources;
        for c in containers {
            let name = c
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default();
            let state = c.state.map(|s| s.to_string()).unwrap_or_default();
            observed.containers.push(ObservedContainer {
                backend: Kind::Docker,
                id: c.id.unwrap_or_default(),
                name,
                labels: c.labels.unwrap_or_default().into_iter().collect(),
                running: state == "running",
                state,
                image: c.image.unwrap_or_default(),
                image_id: c.image_id.unwrap_or_default(),
            });
        }
        for img in images {
            let labels: BTreeMap<String, String> = img.labels.into_iter().collect();
            for tag in img.repo_tags {
                observed.add_image(
                    Kind::Docker,
                    tag,
                    ObservedImage {
                        id: img.id.clone(),
                        labels: labels.clone(),
                    },
                );
            }
        }
        Ok(observed)
    }

    async fn prepare(
        &self,
        image: &str,
        tag: &str,
        progress: &dyn Progress,
    ) -> Result<String, BackendError> {
        let reference = format!("{image}:{tag}");
        let fail = |message: String| BackendError::pull(image, tag, message);
        let mut stream = self.pulls.create_image(
            Some(CreateImageOptions {
                from_image: Some(image.to_string()),
                tag: Some(tag.to_string()),
                ..Default::default()
            }),
            None,
            None,
        );
        let mut result = Ok(String::new());
        // A failed pull shows up either as an HTTP error or as an error item
        // in the progress stream: both are failures.
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(err) = info.error_detail.and_then(|d| d.message) {
                        result = Err(fail(err));
                        break;
                    }
                    let mut status = [info.id, info.status]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    if let Some(d) = info.progress_detail
                        && let (Some(cur), Some(total)) = (d.current, d.total)
                    {
                        status.push_str(&format!(" {}/{} kB", cur / 1024, total / 1024));
                    }
                    progress.update(&reference, &status);
                }
                Err(e) => {
                    result = Err(fail(self.message(&e)));
                    break;
                }
            }
        }
        if result.is_ok() {
            result = self
                .image_id(&reference)
                .await
                .map_err(|e| fail(format!("the image is not there after the pull: {e}")));
        }
        progress.done(&reference, &result);
        result
    }

    /// The engine's build API (the classic builder, which Debian's engine
    /// runs): the context is the tar of the checkout, the image is tagged
    /// `image:tag` and carries `labels`. Each build step is reported as
    /// progress, like the layers of a pull.
    async fn build(
        &self,
        image: &str,
        tag: &str,
        context: Vec<u8>,
        labels: &BTreeMap<String, String>,
        progress: &dyn Progress,
    ) -> Result<String, BackendError> {
        let reference = format!("{image}:{tag}");
        let fail = |message: String| BackendError::Build {
            image: image.to_string(),
            tag: tag.to_string(),
            repository: labels
                .get(crate::plan::observed::labels::GIT_URL)
                .cloned()
                .unwrap_or_default(),
            message,
        };
        let options = BuildImageOptions {
            dockerfile: "Dockerfile".into(),
            t: Some(reference.clone()),
            rm: true,
            forcerm: true,
            labels: Some(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            ..Default::default()
        };
        let mut stream = self.docker.build_image(
            options,
            None,
            Some(bollard::body_full(hyper::body::Bytes::from(context))),
        );
        let mut result = Ok(String::new());
        let mut last = String::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(err) = info.error_detail.and_then(|d| d.message) {
                        result = Err(fail(err));
                        break;
                    }
                    if let Some(line) = info.stream.or(info.status) {
                        let line = line.trim();
                        if !line.is_empty() {
                            last = line.to_string();
                            progress.update(&reference, line);
                        }
                    }
                }
                Err(e) => {
                    result = Err(fail(engine_message(&e)));
                    break;
                }
            }
        }
        if result.is_ok() {
            result = self.image_id(&reference).await.map_err(|e| {
                fail(format!(
                    "the image is not there after the build ({last}): {e}"
                ))
            });
        }
        progress.done(&reference, &result);
        result
    }

    async fn create(
        &self,
        name: &str,
        launch: &Launch,
        mounts: &[HostMount],
        labels: &BTreeMap<String, String>,
    ) -> Result<String, BackendError> {
        let body = create_body(launch, mounts, labels);
        let r = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.to_string()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .map_err(|e| self.container_err(name, "create", e))?;
        if let Err(e) = self.connect_others(&r.id, launch, labels).await {
            let _ = self.remove(&r.id).await;
            return Err(e);
        }
        Ok(r.id)
    }

    async fn start(&self, id: &str) -> Result<(), BackendError> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| self.container_err(id, "start", e))
    }

    async fn stop(&self, id: &str, timeout: u32) -> Result<(), BackendError> {
        // The engine answers once the container is gone: after its own stop
        // timeout at most (then SIGKILL), which may pass the client's bound
        // on other requests. Waited for that long, and a margin.
        let bound = (Duration::from_secs(u64::from(timeout)) + STOP_MARGIN)
            .max(Duration::from_secs(REQUEST_TIMEOUT_SECS));
        match self
            .docker
            .clone()
            .with_timeout(bound)
            .stop_container(
                id,
                Some(StopContainerOptions {
                    t: Some(i32::try_from(timeout).unwrap_or(i32::MAX)),
                    ..Default::default()
                }),
            )
            .await
        {
            Ok(()) => Ok(()),
            // 304: already stopped.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(self.container_err(id, "stop", e)),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), BackendError> {
        match self
            .docker
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: false,
                    ..Default::default()
                }),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(self.container_err(id, "remove", e)),
        }
    }

    async fn rename(&self, id: &str, name: &str) -> Result<(), BackendError> {
        self.docker
            .rename_container(
                id,
                RenameContainerOptions {
                    name: name.to_string(),
                },
            )
            .await
            .map_err(|e| self.container_err(id, "rename", e))
    }

    async fn retire(&self, id: &str) -> Result<(), BackendError> {
        self.retire_instance(id).await
    }

    async fn running(&self, id: &str) -> Result<bool, BackendError> {
        let c = self.inspect_one(id).await?;
        Ok(c.state.and_then(|s| s.running).unwrap_or(false))
    }

    async fn liveness(&self, id: &str) -> Result<super::Liveness, BackendError> {
        Ok(liveness_of(&self.inspect_one(id).await?))
    }

    async fn record(&self, id: &str) -> Result<super::Record, BackendError> {
        let c = self.inspect_one(id).await?;
        let addresses = c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .map(|n| {
                n.values()
                    .filter_map(|e| e.ip_address.as_deref()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        Ok(super::Record {
            live: liveness_of(&c),
            binds: binds_of(c),
            addresses,
        })
    }

    async fn changed(
        &self,
        since: std::time::SystemTime,
        until: std::time::SystemTime,
    ) -> Result<std::collections::BTreeSet<String>, BackendError> {
        events::changed(&self.docker, since, until)
            .await
            .map_err(|m| BackendError::Other(format!("the engine's events: {m}")))
    }

    async fn health(&self, id: &str) -> Result<Option<(String, String)>, BackendError> {
        self.health_of(id).await
    }

    async fn binds(&self, id: &str) -> Result<Option<super::Binds>, BackendError> {
        Ok(binds_of(self.inspect_one(id).await?))
    }

    async fn logs(
        &self,
        id: &str,
        request: &super::LogRequest,
        sink: super::LogSink<'_>,
    ) -> Result<(), BackendError> {
        let stream = self.docker.logs(id, Some(log_options(request)));
        pump_logs(stream, sink)
            .await
            .map_err(|e| self.container_err(id, "logs", e))
    }

    async fn usage(&self, id: &str) -> Result<Option<super::Usage>, BackendError> {
        // The cgroup's files when they are there (microseconds, where the
        // engine's stats take about 100 ms a container).
        if let Some(u) = cgroup::usage(std::path::Path::new(cgroup::ROOT), id) {
            return Ok(Some(u));
        }
        // One sample, without the second one `docker stats` waits a second
        // for: the CPU time is a counter, its rate is the reader's.
        let opts = bollard::query_parameters::StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stream = self.docker.stats(id, Some(opts));
        let Some(answer) = stream.next().await else {
            return Ok(None);
        };
        let s = answer.map_err(|e| self.container_err(id, "stats", e))?;
        let cpu = s
            .cpu_stats
            .as_ref()
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage);
        let Some(cpu) = cpu else {
            // A stopped container has no stats.
            return Ok(None);
        };
        let memory = s.memory_stats.as_ref();
        // As `docker stats`: the page cache the kernel may take back is not
        // counted (inactive_file on cgroup v2, total_inactive_file on v1).
        let cache = memory
            .and_then(|m| m.stats.as_ref())
            .and_then(|st| {
                st.get("inactive_file")
                    .or_else(|| st.get("total_inactive_file"))
            })
            .copied()
            .unwrap_or(0);
        let used = memory.and_then(|m| m.usage).unwrap_or(0);
        Ok(Some(super::Usage {
            cpu_seconds: cpu as f64 / 1e9,
            memory_bytes: used.saturating_sub(cache),
            processes: s.pids_stats.and_then(|p| p.current),
        }))
    }

    async fn create_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<String, BackendError> {
        self.network_create(name, labels).await
    }

    async fn remove_network(&self, id: &str) -> Result<(), BackendError> {
        self.network_remove(id).await
    }

    async fn ensure_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        self.volume_ensure(name, labels).await
    }

    async fn user_ids(&self, id: &str) -> Result<(u32, u32), BackendError> {
        self.ids_of_user(id).await
    }
}

/// The engine's log options for `request` (stdout and stderr both).
pub(crate) fn log_options(request: &super::LogRequest) -> bollard::query_parameters::LogsOptions {
    bollard::query_parameters::LogsOptions {
        follow: request.follow,
        stdout: true,
        stderr: true,
        since: request
            .since
            .and_then(|s| i32::try_from(s).ok())
            .unwrap_or(0),
        until: 0,
        timestamps: false,
        tail: request
            .tail
            .map(|n| n.to_string())
            .unwrap_or_else(|| "all".into()),
    }
}

/// Sends a container's or a service's log stream to `sink`.
pub(crate) async fn pump_logs(
    stream: impl futures_util::Stream<
        Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
    >,
    sink: super::LogSink<'_>,
) -> Result<(), bollard::errors::Error> {
    use bollard::container::LogOutput;
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        match item? {
            LogOutput::StdErr { message } => sink(true, &message),
            LogOutput::StdOut { message } | LogOutput::Console { message } => sink(false, &message),
            LogOutput::StdIn { .. } => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_from_the_ping_header() {
        let v = parse_api_version("1.41").unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        assert!(v < *bollard::API_DEFAULT_VERSION);
        assert!(parse_api_version("").is_none());
        assert!(parse_api_version("1").is_none());
        assert!(parse_api_version("one.two").is_none());
    }
}
