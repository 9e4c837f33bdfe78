//! The snap backend end to end — against a STAND-IN for snapd, not snapd.
//!
//! snapd needs systemd and does not run on these machines, so this test
//! starts a stand-in server on a unix socket of its own (passed to
//! conteneur through `CONTENEUR_SNAPD_SOCKET`) that follows snapd's
//! documented REST API for what conteneur uses: `GET /v2/system-info`,
//! `GET /v2/snaps[/NAME]`, `POST /v2/snaps/NAME` (install, refresh, revert,
//! remove; channel or revision), `GET /v2/apps?select=service`,
//! `POST /v2/apps` (start, stop), `GET /v2/logs` (a JSON text sequence of
//! what the services wrote), the `sync`/`async`/`error` envelopes,
//! and asynchronous changes polled by id through `GET /v2/changes/ID`
//! (each stays `Doing` for a few polls before it is `Done` or `Error`).
//! Its one snap, `hello-web`, really serves HTTP on its port while its
//! service is active, so health checks and the nginx route are real; the
//! rest (conteneur, nginx) is the real thing.

mod common;

use common::{free_port, get, text};

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assert_cmd::Command;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};

/// A revision the stand-in's store offers: the page its service serves, or
/// none (a broken revision whose service never answers).
#[derive(Clone)]
struct Revision {
    number: u32,
    page: Option<String>,
}

/// A service that answers HTTP on 127.0.0.1:port until stopped.
struct Service {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    fn start(port: u16, page: Option<String>) -> Service {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            // A broken revision runs but never listens.
            let Some(page) = page else {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return;
            };
            let l = TcpListener::bind(("127.0.0.1", port)).expect("the snap's port");
            l.set_nonblocking(true).unwrap();
            while !flag.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 4096];
                        let mut got = Vec::new();
                        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => got.extend_from_slice(&buf[..n]),
                            }
                        }
                        let body = format!("{page}\n");
                        let _ = write!(
                            s,
                            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Service {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Service {
    /// Stopping a service frees its port before the change is done.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Installed {
    revision: Revision,
    channel: String,
    previous: Option<Revision>,
    active: bool,
    service: Option<Service>,
}

/// What a change does once it is done.
enum Effect {
    Install(String, Revision, String),
    Refresh(String, Revision, String),
    Revert(String),
    Remove(String),
    Services(String, bool),
    Fail(String),
}

struct Change {
    polls_left: u32,
    effect: Option<Effect>,
    status: &'static str,
    err: Option<String>,
}

#[derive(Default)]
struct State {
    /// The store: snap → channel or revision → revision.
    store: HashMap<String, HashMap<String, Revision>>,
    /// The port each snap's service listens on.
    ports: HashMap<String, u16>,
    installed: BTreeMap<String, Installed>,
    changes: HashMap<String, Change>,
    next_change: u32,
    /// Every request, as "METHOD path action", for the assertions.
    log: Vec<String>,
    /// What the snaps' services wrote (snap, RFC 3339 time, line), served
    /// by `GET /v2/logs`.
    journal: Vec<(String, String, String)>,
}

impl State {
    /// A service of `snap` started: its first line in the journal.
    fn started(&mut self, snap: &str) {
        let Some(i) = self.installed.get(snap) else {
            return;
        };
        let line = format!("started revision {}", i.revision.number);
        let time = humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string();
        self.journal.push((snap.to_string(), time, line));
    }

    fn apply(&mut self, effect: Effect) -> Result<(), String> {
        let started = match &effect {
            Effect::Install(snap, ..)
            | Effect::Refresh(snap, ..)
            | Effect::Revert(snap)
            | Effect::Services(snap, true) => Some(snap.clone()),
            _ => None,
        };
        self.apply_effect(effect)?;
        if let Some(snap) = started {
            self.started(&snap);
        }
        Ok(())
    }

    fn apply_effect(&mut self, effect: Effect) -> Result<(), String> {
        match effect {
            Effect::Install(snap, rev, channel) => {
                let port = self.ports[&snap];
                let service = Some(Service::start(port, rev.page.clone()));
                self.installed.insert(
                    snap,
                    Installed {
                        revision: rev,
                        channel,
                        previous: None,
                        active: true,
                        service,
                    },
                );
            }
            Effect::Refresh(snap, rev, channel) => {
                let port = self.ports[&snap];
                let i = self.installed.get_mut(&snap).ok_or("not installed")?;
                i.service = None;
                i.previous = Some(i.revision.clone());
                i.revision = rev;
                i.channel = channel;
                i.active = true;
                i.service = Some(Service::start(port, i.revision.page.clone()));
            }
            Effect::Revert(snap) => {
                let port = self.ports[&snap];
                let i = self.installed.get_mut(&snap).ok_or("not installed")?;
                let prev = i.previous.take().ok_or("no revision to revert to")?;
                i.service = None;
                i.revision = prev;
                i.active = true;
                i.service = Some(Service::start(port, i.revision.page.clone()));
            }
            Effect::Remove(snap) => {
                self.installed.remove(&snap);
            }
            Effect::Services(snap, on) => {
                let port = self.ports[&snap];
                let i = self.installed.get_mut(&snap).ok_or("not installed")?;
                i.service = None;
                i.active = on;
                if on {
                    i.service = Some(Service::start(port, i.revision.page.clone()));
                }
            }
            Effect::Fail(why) => return Err(why),
        }
        Ok(())
    }

    fn change(&mut self, effect: Effect) -> String {
        self.next_change += 1;
        let id = self.next_change.to_string();
        self.changes.insert(
            id.clone(),
            Change {
                polls_left: 2,
                effect: Some(effect),
                status: "Doing",
                err: None,
            },
        );
        id
    }
}

fn sync(result: Value) -> (u16, Value) {
    (
        200,
        json!({"type": "sync", "status-code": 200, "status": "OK", "result": result}),
    )
}

fn accepted(change: String) -> (u16, Value) {
    (
        202,
        json!({"type": "async", "status-code": 202, "status": "Accepted", "change": change}),
    )
}

fn error(code: u16, kind: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"type": "error", "status-code": code, "result": {"message": message, "kind": kind}}),
    )
}

fn snap_json(name: &str, i: &Installed) -> Value {
    json!({
        "name": name,
        "revision": i.revision.number.to_string(),
        "channel": i.channel,
        "tracking-channel": i.channel,
        "status": "active",
        "apps": [{"snap": name, "name": "daemon", "daemon": "simple", "active": i.active, "enabled": i.active}],
    })
}

fn handle(state: &Mutex<State>, method: &str, uri: &str, body: &[u8]) -> (u16, Value) {
    let mut s = state.lock().unwrap();
    let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let action = req["action"].as_str().unwrap_or("").to_string();
    s.log
        .push(format!("{method} {uri} {action}").trim().to_string());
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    match (method, path) {
        ("GET", "/v2/system-info") => sync(json!({"series": "16", "version": "stand-in"})),
        ("GET", "/v2/snaps") => {
            let all: Vec<Value> = s.installed.iter().map(|(n, i)| snap_json(n, i)).collect();
            sync(Value::Array(all))
        }
        ("GET", p) if p.starts_with("/v2/snaps/") => {
            let name = &p["/v2/snaps/".len()..];
            match s.installed.get(name) {
                Some(i) => sync(snap_json(name, i)),
                None => error(404, "snap-not-found", "snap not installed"),
            }
        }
        ("POST", p) if p.starts_with("/v2/snaps/") => {
            let name = p["/v2/snaps/".len()..].to_string();
            let wanted = req["revision"]
                .as_str()
                .or(req["channel"].as_str())
                .unwrap_or("stable")
                .to_string();
            let channel = req["channel"].as_str().unwrap_or("").to_string();
            let installed = s.installed.contains_key(&name);
            match action.as_str() {
                "install" | "refresh" => {
                    let Some(store) = s.store.get(&name) else {
                        return error(404, "snap-not-found", "snap not found");
                    };
                    if action == "install" && installed {
                        return error(400, "snap-already-installed", "snap is already installed");
                    }
                    if action == "refresh" && !installed {
                        return error(400, "snap-not-installed", "snap is not installed");
                    }
                    let Some(rev) = store.get(&wanted).cloned() else {
                        // Unknown channel or revision: snapd finds out
                        // while the change runs.
                        let id = s.change(Effect::Fail(format!(
                            "cannot install \"{name}\": no snap revision available as specified"
                        )));
                        return accepted(id);
                    };
                    if action == "refresh" && s.installed[&name].revision.number == rev.number {
                        return error(
                            400,
                            "snap-no-update-available",
                            "snap has no updates available",
                        );
                    }
                    let effect = if action == "install" {
                        Effect::Install(name, rev, channel)
                    } else {
                        Effect::Refresh(name, rev, channel)
                    };
                    accepted(s.change(effect))
                }
                "revert" if installed => accepted(s.change(Effect::Revert(name))),
                "remove" if installed => accepted(s.change(Effect::Remove(name))),
                _ => error(400, "", "cannot do that"),
            }
        }
        // snapd's journal of a snap's services: a JSON text sequence.
        ("GET", "/v2/logs") => {
            let arg = |k: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{k}=")[..]))
                    .map(str::to_string)
            };
            let Some(name) = arg("names") else {
                return error(400, "", "no names");
            };
            if !s.installed.contains_key(&name) {
                return error(404, "snap-not-found", "snap not found");
            }
            let lines: Vec<&(String, String, String)> =
                s.journal.iter().filter(|(n, ..)| *n == name).collect();
            let n = arg("n").and_then(|n| n.parse::<i64>().ok()).unwrap_or(10);
            let from = if n < 0 {
                0
            } else {
                lines.len().saturating_sub(n as usize)
            };
            let mut text = String::new();
            for (snap, time, line) in &lines[from..] {
                text.push('\x1e');
                text.push_str(
                    &json!({"timestamp": time, "message": line, "sid": format!("{snap}.daemon"), "pid": "42"})
                        .to_string(),
                );
                text.push('\n');
            }
            (200, Value::String(text))
        }
        ("GET", "/v2/apps") => {
            let only = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("names="))
                .map(str::to_string);
            if let Some(n) = &only
                && !s.installed.contains_key(n)
            {
                return error(404, "snap-not-found", "snap not found");
            }
            let apps: Vec<Value> = s
                .installed
                .iter()
                .filter(|(n, _)| only.as_ref().is_none_or(|o| o == *n))
                .map(|(n, i)| {
                    json!({"snap": n, "name": "daemon", "daemon": "simple", "active": i.active, "enabled": i.active})
                })
                .collect();
            sync(Value::Array(apps))
        }
        ("POST", "/v2/apps") => {
            let Some(name) = req["names"][0].as_str().map(str::to_string) else {
                return error(400, "", "no names");
            };
            if !s.installed.contains_key(&name) {
                return error(404, "snap-not-found", "snap not found");
            }
            let on = match action.as_str() {
                "start" => true,
                "stop" => false,
                _ => return error(400, "", "unknown action"),
            };
            accepted(s.change(Effect::Services(name, on)))
        }
        ("GET", p) if p.starts_with("/v2/changes/") => {
            let id = p["/v2/changes/".len()..].to_string();
            let effect = {
                let Some(c) = s.changes.get_mut(&id) else {
                    return error(404, "", "no such change");
                };
                if c.polls_left > 0 {
                    c.polls_left -= 1;
                    None
                } else {
                    c.effect.take()
                }
            };
            if let Some(effect) = effect {
                let r = s.apply(effect);
                if let Some(c) = s.changes.get_mut(&id) {
                    match r {
                        Ok(()) => c.status = "Done",
                        Err(e) => {
                            c.status = "Error";
                            c.err = Some(e);
                        }
                    }
                }
            }
            let c = &s.changes[&id];
            let ready = c.status != "Doing";
            let mut v = json!({"id": id, "kind": "stand-in", "status": c.status, "ready": ready});
            if let Some(e) = &c.err {
                v["err"] = Value::String(e.clone());
            }
            sync(v)
        }
        _ => error(404, "", "not found"),
    }
}

/// The stand-in for snapd, serving on `socket` until the test ends.
struct StandIn {
    state: Arc<Mutex<State>>,
    _rt: tokio::runtime::Runtime,
}

impl StandIn {
    fn start(socket: &Path, snap_port: u16) -> StandIn {
        let mut state = State::default();
        let rev = |number, page: Option<&str>| Revision {
            number,
            page: page.map(str::to_string),
        };
        let mut store = HashMap::new();
        store.insert("stable".to_string(), rev(10, Some("hello 10")));
        store.insert("10".to_string(), rev(10, Some("hello 10")));
        store.insert("edge".to_string(), rev(11, Some("hello 11")));
        store.insert("11".to_string(), rev(11, Some("hello 11")));
        // Installs fine, but its service never answers.
        store.insert("beta".to_string(), rev(12, None));
        state.store.insert("hello-web".to_string(), store);
        state.ports.insert("hello-web".to_string(), snap_port);
        // Someone else's snap, installed without conteneur.
        let mut other = HashMap::new();
        other.insert("stable".to_string(), rev(3, None));
        state.store.insert("other-snap".to_string(), other);
        state.ports.insert("other-snap".to_string(), free_port());
        state.installed.insert(
            "other-snap".to_string(),
            Installed {
                revision: rev(3, None),
                channel: "stable".into(),
                previous: None,
                active: true,
                service: None,
            },
        );
        let state = Arc::new(Mutex::new(state));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = {
            let _g = rt.enter();
            tokio::net::UnixListener::bind(socket).unwrap()
        };
        let st = state.clone();
        rt.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let st = st.clone();
                            async move {
                                let method = req.method().to_string();
                                let uri = req.uri().to_string();
                                let body = req.into_body().collect().await?.to_bytes();
                                let (code, v) = tokio::task::spawn_blocking(move || {
                                    handle(&st, &method, &uri, &body)
                                })
                                .await
                                .unwrap();
                                // The journal is a JSON text sequence.
                                let (kind, body) = match v {
                                    Value::String(seq) => ("application/json-seq", seq),
                                    v => ("application/json", v.to_string()),
                                };
                                Ok::<_, hyper::Error>(
                                    hyper::Response::builder()
                                        .status(code)
                                        .header("Content-Type", kind)
                                        .body(Full::new(Bytes::from(body)))
                                        .unwrap(),
                                )
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        StandIn { state, _rt: rt }
    }

    /// Requests since the last call.
    fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut self.state.lock().unwrap().log)
    }

    fn installed(&self, snap: &str) -> Option<u32> {
        self.state
            .lock()
            .unwrap()
            .installed
            .get(snap)
            .map(|i| i.revision.number)
    }
}

/// A server under a temporary root with a private nginx; no Docker needed.
struct Site {
    root: tempfile::TempDir,
    socket: std::path::PathBuf,
    http_port: u16,
}

impl Site {
    fn new() -> Site {
        let root = tempfile::tempdir().unwrap();
        common::install_eole_layout(root.path());
        let socket = root.path().join("snapd.socket");
        let site = Site {
            root,
            socket,
            http_port: free_port(),
        };
        site.set("conteneur_proxy_mode", &["private"]);
        site.set("conteneur_proxy_listen", &["127.0.0.1"]);
        site.set("conteneur_http_port", &[&site.http_port.to_string()]);
        site.set("conteneur_health_timeout", &["3"]);
        site
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("conteneur").unwrap();
        c.arg("--root").arg(self.root.path()).args(args);
        c.env_remove("CONTENEUR_ROOT")
            .env("CONTENEUR_SNAPD_SOCKET", &self.socket);
        c.timeout(Duration::from_secs(120));
        c
    }

    fn set(&self, var: &str, values: &[&str]) {
        let mut args = vec!["set", var];
        args.extend_from_slice(values);
        let out = self.cmd(&args).output().unwrap();
        assert!(out.status.success(), "set {var}: {}", text(&out));
    }

    fn run(&self, what: &str) -> Output {
        self.cmd(&[what, "--quiet"]).output().unwrap()
    }

    fn run_ok(&self, what: &str) -> String {
        let out = self.run(what);
        assert!(out.status.success(), "{what} failed:\n{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        common::stop_private_nginx(self.root.path());
    }
}

#[test]
fn snap_against_a_stand_in_for_snapd() {
    let site = Site::new();
    let port = free_port();
    let snapd = StandIn::start(&site.socket, port);
    site.set("nombre_conteneur", &["1"]);
    site.set("conteneur1_name", &["hello"]);
    site.set("conteneur1_type", &["snap"]);
    site.set("conteneur1_url", &["hello-web"]);
    site.set("conteneur1_tag", &["stable"]);
    site.set("conteneur1_port_in", &["80"]);
    site.set("conteneur1_port_out", &[&port.to_string()]);
    let url = format!("http://127.0.0.1:{}/hello/", site.http_port);

    let out = site.run_ok("instance");
    assert!(
        out.contains("create   hello on snap") && out.contains("1 created"),
        "{out}"
    );
    assert_eq!(get(&url).unwrap().trim(), "hello 10");
    let log = snapd.take_log();
    for want in [
        "POST /v2/snaps/hello-web install",
        "GET /v2/changes/1",
        "POST /v2/apps stop",
        "POST /v2/apps start",
    ] {
        assert!(log.iter().any(|l| l == want), "{want} not in {log:#?}");
    }
    // The change was polled until it was ready.
    assert!(
        log.iter().filter(|l| *l == "GET /v2/changes/1").count() >= 3,
        "{log:#?}"
    );
    // conteneur's marker for the snap.
    let marker = site
        .root
        .path()
        .join("var/lib/conteneur/snap/hello-web.json");
    assert!(
        std::fs::read_to_string(&marker)
            .unwrap()
            .contains("\"name\": \"hello\"")
    );

    // No change: nothing sent to snapd but reads.
    let out = site.run_ok("reconfigure");
    assert!(
        out.contains("0 created, 0 replaced, 0 started, 0 removed, 1 unchanged"),
        "{out}"
    );
    let log = snapd.take_log();
    assert!(log.iter().all(|l| l.starts_with("GET ")), "{log:#?}");
    let status = site.cmd(&["status", "--json"]).output().unwrap();
    assert!(status.status.success(), "{}", text(&status));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["containers"][0]["backend"], "snap", "{status}");
    assert_eq!(status["containers"][0]["health"], "healthy", "{status}");

    // Another channel: refreshed in place.
    site.set("conteneur1_tag", &["edge"]);
    let out = site.run_ok("reconfigure");
    assert!(out.contains("1 replaced"), "{out}");
    assert_eq!(get(&url).unwrap().trim(), "hello 11");
    assert!(
        snapd
            .take_log()
            .iter()
            .any(|l| l == "POST /v2/snaps/hello-web refresh")
    );

    // `logs` is snapd's journal of the snap's services (GET /v2/logs):
    // every line, or the last ones.
    let logs = |args: &[&str]| {
        let mut all = vec!["logs", "hello"];
        all.extend_from_slice(args);
        let out = site.cmd(&all).output().unwrap();
        assert!(out.status.success(), "logs {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let all = logs(&[]);
    let lines: Vec<&str> = all.lines().collect();
    assert!(
        lines.first() == Some(&"started revision 10")
            && lines.last() == Some(&"started revision 11"),
        "{all}"
    );
    assert_eq!(logs(&["--tail", "1"]), "started revision 11\n");
    assert_eq!(logs(&["--since", "1h"]), all);
    assert!(
        snapd
            .take_log()
            .iter()
            .any(|l| l == "GET /v2/logs?names=hello-web&n=1"),
    );

    // A revision whose service never answers: reverted, the old one serves.
    site.set("conteneur1_tag", &["beta"]);
    let out = site.run("reconfigure");
    let err = text(&out);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains("container 'hello'") && err.contains("previous container keeps serving"),
        "{err}"
    );
    let log = snapd.take_log();
    assert!(
        log.iter().any(|l| l == "POST /v2/snaps/hello-web revert"),
        "{log:#?}"
    );
    assert_eq!(snapd.installed("hello-web"), Some(11));
    assert_eq!(get(&url).unwrap().trim(), "hello 11");

    // A revision the store does not have: the change ends in error, snapd
    // keeps what it had.
    site.set("conteneur1_tag", &["99"]);
    let out = site.run("reconfigure");
    let err = text(&out);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(err.contains("no snap revision available"), "{err}");
    assert_eq!(get(&url).unwrap().trim(), "hello 11");

    // Someone else's snap is never taken.
    site.set("conteneur1_tag", &["edge"]);
    site.set("nombre_conteneur", &["2"]);
    site.set("conteneur2_name", &["other"]);
    site.set("conteneur2_type", &["snap"]);
    site.set("conteneur2_url", &["other-snap"]);
    site.set("conteneur2_tag", &["stable"]);
    let out = site.run("reconfigure");
    let err = text(&out);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(
        err.contains("container 'other': the snap 'other-snap' is already installed")
            && err.contains("nothing was changed"),
        "{err}"
    );

    // No longer configured: removed, and only ours.
    site.set("nombre_conteneur", &["0"]);
    let out = site.run_ok("reconfigure");
    assert!(out.contains("1 removed"), "{out}");
    assert_eq!(snapd.installed("hello-web"), None);
    assert_eq!(snapd.installed("other-snap"), Some(3));
    assert!(!marker.exists());
}
