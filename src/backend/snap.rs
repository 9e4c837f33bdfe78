//! The snap backend, through snapd's REST API on its unix socket
//! (`/run/snapd.socket`; `$CONTENEUR_SNAPD_SOCKET` moves it, for tests).
//!
//! A snap is not a container: it is installed once per system, under its
//! own name (`url`), at a channel or a revision (`tag`: digits are a
//! revision, anything else a channel such as `stable` or `2.0/edge`). So:
//!
//! - create installs it (then stops its services, so that the executor
//!   starts them when their port is free), start/stop start and stop its
//!   services (and enable/disable them, so a stopped snap stays stopped at
//!   boot), remove removes it;
//! - a change is made in place ([`Backend::in_place`]): a refresh to the
//!   new channel or revision, which snapd itself undoes when it fails, and
//!   which conteneur reverts when the snap does not become healthy;
//! - snapd's changes are asynchronous: every action returns a change id,
//!   polled until it is ready.
//!
//! Ownership: snapd keeps no user data on a snap, so the marker (the same
//! labels as a Docker container's) is a file per snap in conteneur's state
//! folder (`snap/<snap>.json`). A snap installed without it is not ours and
//! is never touched.
//!
//! Not mapped: host folders and environment (a snap keeps its data in
//! `/var/snap/<snap>` and takes settings through `snap set`; the plan
//! refuses them rather than drop them), the memory limit, the restart
//! policy and the stop timeout (the snap's own). Whether its service
//! answers on `port_out` is the snap's business; it is checked like any
//! other container's.

mod logs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::UnixStream;

use super::{Backend, BackendError, HostMount, Progress};
use crate::plan::launch::Launch;
use crate::plan::observed::{Kind, Observed, ObservedContainer};

/// snapd's socket.
pub const DEFAULT_SOCKET: &str = "/run/snapd.socket";
/// The environment variable that moves it.
pub const SOCKET_ENV: &str = "CONTENEUR_SNAPD_SOCKET";

/// How long a change may take before conteneur gives up waiting.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(600);

/// A snap's marker, in conteneur's state folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Before the last in-place change: its labels, and the revision it ran
    /// if the refresh changed it (what a revert goes back to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    pub labels: BTreeMap<String, String>,
    pub revision: Option<String>,
}

/// What the `tag` asks snapd for: a revision (digits) or a channel.
pub fn tag_request(tag: &str) -> (&'static str, String) {
    if !tag.is_empty() && tag.chars().all(|c| c.is_ascii_digit()) {
        ("revision", tag.to_string())
    } else {
        ("channel", tag.to_string())
    }
}

/// A snap as `GET /v2/snaps` lists it (the fields conteneur reads).
#[derive(Debug, Clone, Deserialize)]
struct SnapInfo {
    name: String,
    #[serde(default)]
    revision: Value,
    #[serde(default, rename = "tracking-channel")]
    tracking: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    status: String,
}

/// A service as `GET /v2/apps?select=service` lists it.
#[derive(Debug, Clone, Deserialize)]
struct AppInfo {
    snap: String,
    #[serde(default)]
    active: bool,
}

fn revision_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

pub struct SnapBackend {
    socket: PathBuf,
    markers: PathBuf,
}

fn snapd_err(message: String) -> BackendError {
    BackendError::Unavailable {
        engine: "snapd",
        message,
    }
}

fn err(name: &str, action: &'static str, message: impl Into<String>) -> BackendError {
    BackendError::Container {
        name: name.to_string(),
        action,
        message: message.into(),
    }
}

/// A snapd answer: sync result, async change id, or error.
enum Answer {
    Sync(Value),
    Async(String),
    Error {
        status: u16,
        kind: String,
        message: String,
    },
}

impl SnapBackend {
    /// Connects to snapd (`state`: conteneur's state folder, for markers).
    pub async fn connect(state: &Path) -> Result<SnapBackend, BackendError> {
        let socket = std::env::var_os(SOCKET_ENV)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
        let b = SnapBackend {
            socket,
            markers: state.join("snap"),
        };
        match b.call(Method::GET, "/v2/system-info", None).await? {
            Answer::Sync(_) => Ok(b),
            Answer::Error { message, .. } => Err(snapd_err(message)),
            Answer::Async(_) => Err(snapd_err("system-info answered with a change".into())),
        }
    }

    /// Whether conteneur holds markers of snaps (then snapd is needed to
    /// see them even when none is configured any more).
    pub fn has_markers(state: &Path) -> bool {
        std::fs::read_dir(state.join("snap"))
            .map(|mut d| {
                d.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json")))
            })
            .unwrap_or(false)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Answer, BackendError> {
        let down = |m: String| {
            snapd_err(format!(
                "cannot reach snapd at {} ({m}); snapd needs systemd",
                self.socket.display()
            ))
        };
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|e| down(e.to_string()))?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(io)
            .await
            .map_err(|e| down(e.to_string()))?;
        let conn = tokio::spawn(conn);
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, "localhost");
        if !payload.is_empty() {
            req = req.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(payload)))
            .map_err(|e| down(e.to_string()))?;
        let resp = tokio::time::timeout(Duration::from_secs(60), sender.send_request(req))
            .await
            .map_err(|_| down(format!("no answer to {path} within 60 s")))?
            .map_err(|e| down(e.to_string()))?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| down(e.to_string()))?
            .to_bytes();
        conn.abort();
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
            down(format!(
                "{path} answered {status} with something that is not JSON: {e}"
            ))
        })?;
        Ok(match v.get("type").and_then(Value::as_str) {
            Some("sync") => Answer::Sync(v.get("result").cloned().unwrap_or(Value::Null)),
            Some("async") => Answer::Async(
                v.get("change")
                    .map(|c| match c {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_default(),
            ),
            _ => {
                let r = v.get("result").cloned().unwrap_or(Value::Null);
                Answer::Error {
                    status: status.as_u16(),
                    kind: r
                        .get("kind")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    message: r
                        .get("message")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| {
                            StatusCode::from_u16(status.as_u16())
                                .map(|s| s.to_string())
                                .unwrap_or_default()
                        }),
                }
            }
        })
    }

    /// Sends an action and waits for its change to be ready.
    async fn act(
        &self,
        name: &str,
        action: &'static str,
        path: &str,
        body: Value,
    ) -> Result<(), BackendError> {
        match self.call(Method::POST, path, Some(body)).await? {
            Answer::Async(id) => self.wait_change(name, action, &id).await,
            Answer::Sync(_) => Ok(()),
            Answer::Error { kind, message, .. } => Err(err(
                name,
                action,
                if kind.is_empty() {
                    message
                } else {
                    format!("{message} ({kind})")
                },
            )),
        }
    }

    /// Polls change `id` until snapd says it is ready.
    async fn wait_change(
        &self,
        name: &str,
        action: &'static str,
        id: &str,
    ) -> Result<(), BackendError> {
        let deadline = Instant::now() + CHANGE_TIMEOUT;
        loop {
            match self
                .call(Method::GET, &format!("/v2/changes/{id}"), None)
                .await?
            {
                Answer::Sync(c) => {
                    let ready = c.get("ready").and_then(Value::as_bool).unwrap_or(false);
                    let status = c.get("status").and_then(Value::as_str).unwrap_or("");
                    if ready {
                        return if status == "Done" {
                            Ok(())
                        } else {
                            let why = c
                                .get("err")
                                .and_then(Value::as_str)
                                .unwrap_or("no reason given");
                            Err(err(
                                name,
                                action,
                                format!("snapd change {id} ended {status}: {why}"),
                            ))
                        };
                    }
                }
                Answer::Error { message, .. } => {
                    return Err(err(name, action, format!("snapd change {id}: {message}")));
                }
                Answer::Async(_) => {}
            }
            if Instant::now() >= deadline {
                return Err(err(
                    name,
                    action,
                    format!(
                        "snapd change {id} not ready after {} s",
                        CHANGE_TIMEOUT.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn marker_path(&self, snap: &str) -> PathBuf {
        self.markers.join(format!("{snap}.json"))
    }

    fn read_marker(&self, snap: &str) -> Option<Marker> {
        let text = std::fs::read_to_string(self.marker_path(snap)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn write_marker(&self, snap: &str, m: &Marker) -> Result<(), BackendError> {
        let text = serde_json::to_string_pretty(m).unwrap_or_default();
        super::write_atomic(&self.marker_path(snap), text.as_bytes())
            .map_err(|e| err(snap, "write its marker", e.to_string()))
    }

    async fn snap(&self, snap: &str) -> Result<Option<SnapInfo>, BackendError> {
        match self
            .call(Method::GET, &format!("/v2/snaps/{snap}"), None)
            .await?
        {
            Answer::Sync(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| err(snap, "inspect", e.to_string())),
            Answer::Error { status: 404, .. } => Ok(None),
            Answer::Error { message, .. } => Err(err(snap, "inspect", message)),
            Answer::Async(_) => Err(err(snap, "inspect", "answered with a change")),
        }
    }

    async fn services(&self, snap: Option<&str>) -> Result<Vec<AppInfo>, BackendError> {
        let path = match snap {
            Some(s) => format!("/v2/apps?select=service&names={s}"),
            None => "/v2/apps?select=service".to_string(),
        };
        match self.call(Method::GET, &path, None).await? {
            Answer::Sync(v) => serde_json::from_value(v)
                .map_err(|e| BackendError::Other(format!("snapd's list of services: {e}"))),
            // snapd answers 404 for a snap without services.
            Answer::Error { status: 404, .. } => Ok(Vec::new()),
            Answer::Error { message, .. } => Err(BackendError::Other(format!(
                "snapd's list of services: {message}"
            ))),
            Answer::Async(_) => Ok(Vec::new()),
        }
    }

    async fn services_action(&self, snap: &str, action: &'static str) -> Result<(), BackendError> {
        if self.services(Some(snap)).await?.is_empty() {
            return Ok(());
        }
        let body = match action {
            "start" => json!({"action": "start", "names": [snap], "enable": true}),
            _ => json!({"action": "stop", "names": [snap], "disable": true}),
        };
        self.act(snap, action, "/v2/apps", body).await
    }

    fn image_of(info: &SnapInfo) -> String {
        let channel = info
            .tracking
            .clone()
            .or_else(|| info.channel.clone())
            .unwrap_or_default();
        format!(
            "snap {} ({channel}, revision {})",
            info.name,
            revision_text(&info.revision)
        )
    }
}

#[async_trait::async_trait]
impl Backend for SnapBackend {
    fn kind(&self) -> Kind {
        Kind::Snap
    }

    async fn inspect(&self) -> Result<Observed, BackendError> {
        let snaps: Vec<SnapInfo> = match self.call(Method::GET, "/v2/snaps", None).await? {
            Answer::Sync(v) => serde_json::from_value(v)
                .map_err(|e| BackendError::Other(format!("snapd's list of snaps: {e}")))?,
            Answer::Error { message, .. } => {
                return Err(BackendError::Other(format!(
                    "snapd's list of snaps: {message}"
                )));
            }
            Answer::Async(_) => Vec::new(),
        };
        let services = self.services(None).await?;
        let mut observed = Observed::default();
        for s in snaps {
            let mine: Vec<&AppInfo> = services.iter().filter(|a| a.snap == s.name).collect();
            let running = s.status == "active" && mine.iter().all(|a| a.active);
            let marker = self.read_marker(&s.name);
            let (name, labels) = match marker {
                Some(m) => (m.name, m.labels),
                None => (s.name.clone(), BTreeMap::new()),
            };
            observed.containers.push(ObservedContainer {
                backend: Kind::Snap,
                id: s.name.clone(),
                name,
                image_id: format!("revision {}", revision_text(&s.revision)),
                labels,
                running,
                state: if running {
                    "running".into()
                } else {
                    "stopped".into()
                },
                image: Self::image_of(&s),
            });
        }
        Ok(observed)
    }

    /// snapd downloads as part of an install or refresh, and undoes either
    /// when it fails: there is nothing to bring beforehand.
    async fn prepare(
        &self,
        image: &str,
        tag: &str,
        progress: &dyn Progress,
    ) -> Result<String, BackendError> {
        let r = Ok(String::new());
        progress.done(&format!("{image}:{tag}"), &r);
        r
    }

    async fn create(
        &self,
        name: &str,
        launch: &Launch,
        _mounts: &[HostMount],
        labels: &BTreeMap<String, String>,
    ) -> Result<String, BackendError> {
        let snap = launch.image.as_str();
        if !crate::plan::launch::valid_snap_name(snap) {
            return Err(err(name, "create", format!("'{snap}' is not a snap name")));
        }
        let (key, value) = tag_request(&launch.tag);
        let mut body = json!({"action": "install"});
        body[key] = Value::String(value);
        self.act(snap, "install", &format!("/v2/snaps/{snap}"), body)
            .await?;
        let marker = Marker {
            name: name.to_string(),
            labels: labels.clone(),
            previous: None,
        };
        let done = match self.write_marker(snap, &marker) {
            Ok(()) => self.services_action(snap, "stop").await,
            Err(e) => Err(e),
        };
        if let Err(e) = done {
            let _ = self
                .act(
                    snap,
                    "remove",
                    &format!("/v2/snaps/{snap}"),
                    json!({"action": "remove"}),
                )
                .await;
            let _ = std::fs::remove_file(self.marker_path(snap));
            return Err(e);
        }
        Ok(snap.to_string())
    }

    async fn start(&self, id: &str) -> Result<(), BackendError> {
        self.services_action(id, "start").await
    }

    async fn stop(&self, id: &str, _timeout: u32) -> Result<(), BackendError> {
        self.services_action(id, "stop").await
    }

    async fn remove(&self, id: &str) -> Result<(), BackendError> {
        if self.read_marker(id).is_none() {
            return Err(err(
                id,
                "remove",
                "conteneur holds no marker for this snap: it is not ours, it was left as it is",
            ));
        }
        if self.snap(id).await?.is_some() {
            self.act(
                id,
                "remove",
                &format!("/v2/snaps/{id}"),
                json!({"action": "remove"}),
            )
            .await?;
        }
        let _ = std::fs::remove_file(self.marker_path(id));
        Ok(())
    }

    async fn rename(&self, id: &str, name: &str) -> Result<(), BackendError> {
        let mut m = self
            .read_marker(id)
            .ok_or_else(|| err(id, "rename", "its marker is missing"))?;
        m.name = name.to_string();
        self.write_marker(id, &m)
    }

    async fn running(&self, id: &str) -> Result<bool, BackendError> {
        let Some(info) = self.snap(id).await? else {
            return Ok(false);
        };
        let services = self.services(Some(id)).await?;
        Ok(info.status == "active" && services.iter().all(|a| a.active))
    }

    fn in_place(&self) -> bool {
        true
    }

    /// The journal of the snap's services, through `snap logs` (snapd's
    /// own reader; it has no `--since`).
    async fn logs(
        &self,
        id: &str,
        request: &super::LogRequest,
        sink: super::LogSink<'_>,
    ) -> Result<(), BackendError> {
        // snapd's own API, as `snap logs` (which may not be installed).
        let fail = |m: String| BackendError::Container {
            name: id.to_string(),
            action: "logs",
            message: m,
        };
        let path = logs::path(id, request);
        let stream = UnixStream::connect(&self.socket).await.map_err(|e| {
            fail(format!(
                "cannot reach snapd at {} ({e}); snapd needs systemd",
                self.socket.display()
            ))
        })?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(io)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let conn = tokio::spawn(conn);
        let req = hyper::Request::builder()
            .method(Method::GET)
            .uri(&path)
            .header(hyper::header::HOST, "localhost")
            .body(Full::new(Bytes::new()))
            .map_err(|e| fail(e.to_string()))?;
        let resp = tokio::time::timeout(Duration::from_secs(60), sender.send_request(req))
            .await
            .map_err(|_| fail(format!("no answer to {path} within 60 s")))?
            .map_err(|e| fail(e.to_string()))?;
        let status = resp.status();
        let mut body = resp.into_body();
        if !status.is_success() {
            let bytes = tokio::time::timeout(Duration::from_secs(60), body.collect())
                .await
                .ok()
                .and_then(Result::ok)
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            conn.abort();
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["result"]["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| status.to_string());
            return Err(fail(format!("snapd: {message}")));
        }
        let mut buf = Vec::new();
        let send = |lines: Vec<logs::Line>| {
            for l in lines.into_iter().filter(|l| logs::keep(l, request.since)) {
                sink(false, format!("{}\n", l.message).as_bytes());
            }
        };
        // Without --follow the answer ends; with it, until snapd ends it
        // (or the command is stopped).
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| fail(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                buf.extend_from_slice(&data);
                send(logs::take(&mut buf, false));
            }
        }
        send(logs::take(&mut buf, true));
        conn.abort();
        Ok(())
    }

    async fn update(
        &self,
        id: &str,
        launch: &Launch,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        let mut marker = self
            .read_marker(id)
            .ok_or_else(|| err(id, "refresh", "its marker is missing"))?;
        let before = self
            .snap(id)
            .await?
            .ok_or_else(|| err(id, "refresh", "it is not installed any more"))?;
        let (key, value) = tag_request(&launch.tag);
        let mut body = json!({"action": "refresh"});
        body[key] = Value::String(value);
        match self
            .act(id, "refresh", &format!("/v2/snaps/{id}"), body)
            .await
        {
            Ok(()) => {}
            // Same revision: only conteneur's settings changed.
            Err(BackendError::Container { message, .. })
                if message.contains("snap-no-update-available") => {}
            Err(e) => return Err(e),
        }
        let after = self.snap(id).await?;
        let changed = after.is_some_and(|a| a.revision != before.revision);
        marker.previous = Some(Previous {
            labels: marker.labels.clone(),
            revision: changed.then(|| revision_text(&before.revision)),
        });
        marker.labels = labels.clone();
        self.write_marker(id, &marker)
    }

    async fn revert(&self, id: &str) -> Result<(), BackendError> {
        let mut marker = self
            .read_marker(id)
            .ok_or_else(|| err(id, "revert", "its marker is missing"))?;
        let Some(previous) = marker.previous.take() else {
            return Ok(());
        };
        if let Some(rev) = &previous.revision {
            self.act(
                id,
                "revert",
                &format!("/v2/snaps/{id}"),
                json!({"action": "revert", "revision": rev}),
            )
            .await?;
        }
        marker.labels = previous.labels;
        self.write_marker(id, &marker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_revisions_or_channels() {
        assert_eq!(tag_request("42"), ("revision", "42".into()));
        assert_eq!(tag_request("stable"), ("channel", "stable".into()));
        assert_eq!(tag_request("2.0/edge"), ("channel", "2.0/edge".into()));
    }
}
