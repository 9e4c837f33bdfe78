//! The executor's unit tests, against a fake engine.

use std::sync::Mutex;
use std::time::Instant;

use super::*;
use crate::backend::{NoProgress, Progress};
use crate::plan::observed::Observed;
use crate::plan::{Options, Strategy, reconcile};

/// An engine that records what it is asked, and fails `start` when told.
struct Fake {
    kind: Kind,
    in_place: bool,
    log: std::sync::Arc<Mutex<Vec<String>>>,
    fail_start: Mutex<Vec<String>>,
    running: Mutex<Vec<String>>,
    /// Containers that crash and are restarted by the engine.
    crash: Mutex<Vec<String>>,
}

impl Fake {
    fn new(kind: Kind, log: &std::sync::Arc<Mutex<Vec<String>>>) -> Fake {
        Fake {
            kind,
            in_place: kind == Kind::Snap,
            log: log.clone(),
            fail_start: Mutex::new(Vec::new()),
            running: Mutex::new(Vec::new()),
            crash: Mutex::new(Vec::new()),
        }
    }
    fn note(&self, s: String) {
        self.log.lock().unwrap().push(format!("{} {s}", self.kind));
    }
}

#[async_trait::async_trait]
impl Backend for Fake {
    fn kind(&self) -> Kind {
        self.kind
    }
    async fn inspect(&self) -> Result<Observed, BackendError> {
        Ok(Observed::default())
    }
    async fn prepare(&self, i: &str, t: &str, _: &dyn Progress) -> Result<String, BackendError> {
        self.note(format!("prepare {i}:{t}"));
        Ok("id".into())
    }
    async fn create(
        &self,
        name: &str,
        _: &Launch,
        _: &[HostMount],
        _: &BTreeMap<String, String>,
    ) -> Result<String, BackendError> {
        self.note(format!("create {name}"));
        Ok(name.to_string())
    }
    async fn start(&self, id: &str) -> Result<(), BackendError> {
        self.note(format!("start {id}"));
        if self.fail_start.lock().unwrap().iter().any(|f| f == id) {
            return Err(BackendError::Other("refused".into()));
        }
        self.running.lock().unwrap().push(id.to_string());
        Ok(())
    }
    async fn stop(&self, id: &str, _: u32) -> Result<(), BackendError> {
        self.note(format!("stop {id}"));
        self.running.lock().unwrap().retain(|r| r != id);
        Ok(())
    }
    async fn remove(&self, id: &str) -> Result<(), BackendError> {
        self.note(format!("remove {id}"));
        Ok(())
    }
    async fn rename(&self, id: &str, name: &str) -> Result<(), BackendError> {
        self.note(format!("rename {id} {name}"));
        Ok(())
    }
    async fn running(&self, id: &str) -> Result<bool, BackendError> {
        Ok(self.running.lock().unwrap().iter().any(|r| r == id))
    }
    async fn liveness(&self, id: &str) -> Result<crate::backend::Liveness, BackendError> {
        // A crashing container: "running", restarted once more at each look.
        let crashes = self
            .crash
            .lock()
            .unwrap()
            .iter()
            .filter(|c| *c == id)
            .count() as u64;
        if crashes > 0 {
            self.crash.lock().unwrap().push(id.to_string());
        }
        Ok(crate::backend::Liveness {
            running: self.running(id).await?,
            restarts: crashes,
            ..Default::default()
        })
    }
    fn in_place(&self) -> bool {
        self.in_place
    }
    async fn update(
        &self,
        id: &str,
        l: &Launch,
        _: &BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        self.note(format!("update {id} {}", l.tag));
        self.fail_start.lock().unwrap().push(id.to_string());
        Ok(())
    }
    async fn revert(&self, id: &str) -> Result<(), BackendError> {
        self.note(format!("revert {id}"));
        self.fail_start.lock().unwrap().retain(|f| f != id);
        Ok(())
    }
}

fn launch(backend: &str) -> Launch {
    let mut l = crate::plan::launch::sample("web", "1.0", 8080);
    l.backend = backend.into();
    l.restart = "no".into();
    l.stop_timeout = 3;
    // The fake's containers answer no port: running is enough.
    l.health.port = None;
    l
}

fn replace_step(old: Kind, new: Kind) -> Plan {
    Plan {
        steps: vec![Step {
            action: Action::Replace {
                name: "web".into(),
                old_id: "old".into(),
                old_backend: old,
                backend: new,
                old_health: None,
                old_ports: Some(HostPorts([(8080, 40000)].into())),
                strategy: if old == Kind::Snap && new == Kind::Snap {
                    Strategy::InPlace
                } else {
                    Strategy::Beside
                },
            },
            cause: "test".into(),
        }],
        ..Plan::default()
    }
}

/// A web front that logs its switches (and refuses them when told).
struct LogSwitch {
    log: std::sync::Arc<Mutex<Vec<String>>>,
    refuse: bool,
    /// The drain cannot be arranged (its job cannot be written).
    refuse_drain: bool,
}

#[async_trait::async_trait]
impl Switch for LogSwitch {
    async fn switch(&self, routes: &Routes) -> Result<(), String> {
        let text = routes
            .iter()
            .map(|(n, p)| format!("{n}={}", p.label()))
            .collect::<Vec<_>>()
            .join(" ");
        self.log.lock().unwrap().push(format!("switch {text}"));
        if self.refuse {
            Err("nginx refused".into())
        } else {
            Ok(())
        }
    }
    fn retire(&self, draining: &[Draining]) {
        for d in draining {
            self.log.lock().unwrap().push(format!("retire {}", d.name));
        }
    }
    fn before_switch(&self, draining: &[Draining]) -> Result<(), String> {
        if !self.refuse_drain {
            return Ok(());
        }
        for d in draining {
            self.log
                .lock()
                .unwrap()
                .push(format!("will drain {}", d.name));
        }
        Err("no space left on device".into())
    }
}

fn switch(log: &std::sync::Arc<Mutex<Vec<String>>>) -> LogSwitch {
    LogSwitch {
        log: log.clone(),
        refuse: false,
        refuse_drain: false,
    }
}

fn settings() -> Settings {
    Settings {
        health_timeout: Duration::from_millis(300),
        ..Settings::default()
    }
}

/// Runs `plan` for `l` on `set` with `s`, switching through `sw`.
fn run(
    plan: &Plan,
    l: &Launch,
    set: &Backends,
    s: &Settings,
    sw: &dyn Switch,
) -> Result<Report, ConvergeError> {
    run_all(plan, std::slice::from_ref(l), set, s, sw)
}

/// A replace of `web` on the fake Docker engine whose switch refuses the
/// switch itself or the drain, as told: its error and the engine's log.
fn refused_replace(refuse: bool, refuse_drain: bool) -> (ConvergeError, Vec<String>) {
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let mut set = Backends::new();
    set.insert(Box::new(Fake::new(Kind::Docker, &log)));
    let l = launch("docker");
    let e = run(
        &replace_step(Kind::Docker, Kind::Docker),
        &l,
        &set,
        &settings(),
        &LogSwitch {
            log: log.clone(),
            refuse,
            refuse_drain,
        },
    )
    .unwrap_err();
    let log = log.lock().unwrap().clone();
    (e, log)
}

/// Runs `plan` for the launch plans `ls`.
fn run_all(
    plan: &Plan,
    ls: &[Launch],
    set: &Backends,
    s: &Settings,
    sw: &dyn Switch,
) -> Result<Report, ConvergeError> {
    let root = tempfile::tempdir().unwrap();
    rt().block_on(execute(
        plan,
        ls,
        &ImageIds::new(),
        set,
        root.path(),
        s,
        &NoProgress,
        sw,
    ))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_replace_starts_the_new_one_beside_the_old_one_and_switches_before_touching_it() {
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let mut set = Backends::new();
    set.insert(Box::new(Fake::new(Kind::Docker, &log)));
    set.insert(Box::new(Fake::new(Kind::Lxc, &log)));
    let l = launch("lxc");
    let plan = replace_step(Kind::Docker, Kind::Lxc);
    let report = run(&plan, &l, &set, &settings(), &switch(&log)).unwrap();
    let log = log.lock().unwrap();
    assert_eq!(
        log[..2],
        ["lxc create web.next", "lxc start web.next"],
        "{log:?}"
    );
    // The new instance's own host port, not the old one's, not port_out.
    assert!(
        log[2].starts_with("switch web=8080=") && !log[2].ends_with("=40000"),
        "{log:?}"
    );
    assert_eq!(
        log[3..],
        [
            "docker rename old web.old.old",
            "lxc rename web.next web",
            "retire web.old.old"
        ],
        "{log:?}"
    );
    // Not stopped here: handed over to drain.
    assert_eq!(
        report.draining,
        [Draining {
            backend: Kind::Docker,
            id: "old".into(),
            name: "web.old.old".into(),
            stop_timeout: 3
        }]
    );
}

#[test]
fn a_new_one_that_fails_never_touches_the_old_one() {
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let mut set = Backends::new();
    set.insert(Box::new(Fake::new(Kind::Docker, &log)));
    let lxc = Fake::new(Kind::Lxc, &log);
    lxc.fail_start.lock().unwrap().push("web.next".into());
    set.insert(Box::new(lxc));
    let l = launch("lxc");
    let e = run(
        &replace_step(Kind::Docker, Kind::Lxc),
        &l,
        &set,
        &settings(),
        &switch(&log),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("the previous container keeps serving"),
        "{e}"
    );
    let log = log.lock().unwrap();
    assert!(log.contains(&"lxc remove web.next".to_string()), "{log:?}");
    assert!(log.iter().all(|l| !l.starts_with("docker")), "{log:?}");
    // nginx keeps the old instance's port.
    assert!(
        log.contains(&"switch web=8080=40000".to_string()),
        "{log:?}"
    );
}

#[test]
fn a_failed_container_does_not_lose_the_drain_of_one_that_was_replaced() {
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let mut set = Backends::new();
    let docker = Fake::new(Kind::Docker, &log);
    docker.fail_start.lock().unwrap().push("api.next".into());
    set.insert(Box::new(docker));
    let web = launch("docker");
    let mut api = launch("docker");
    api.name = "api".into();
    api.ports[0].host = 8081;
    let mut plan = replace_step(Kind::Docker, Kind::Docker);
    let mut second = plan.steps[0].clone();
    if let Action::Replace { name, old_id, .. } = &mut second.action {
        *name = "api".into();
        *old_id = "oldapi".into();
    }
    plan.steps.push(second);
    let root = tempfile::tempdir().unwrap();
    let e = rt()
        .block_on(execute(
            &plan,
            &[web, api],
            &ImageIds::new(),
            &set,
            root.path(),
            &settings(),
            &NoProgress,
            &switch(&log),
        ))
        .unwrap_err();
    let ConvergeError::Containers(failures) = e else {
        panic!("{e}");
    };
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].name, "api");
    // Handed over to drain all the same.
    let log = log.lock().unwrap();
    assert!(log.contains(&"retire web.old.old".to_string()), "{log:?}");
    // Host ports never collide with a kept instance's.
    let switch = log.iter().find(|l| l.starts_with("switch")).unwrap();
    assert!(switch.contains("api=8080=40000"), "{switch}");
}

#[test]
fn a_crash_loop_is_noticed_before_the_health_timeout() {
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let mut set = Backends::new();
    let docker = Fake::new(Kind::Docker, &log);
    docker.crash.lock().unwrap().push("web.next".into());
    set.insert(Box::new(docker));
    let mut l = launch("docker");
    l.restart = "unless-stopped".into();
    // Checked on its host port, where nothing answers.
    l.health.port = Some(8080);
    let mut s = settings();
    s.health_timeout = Duration::from_secs(30);
    let begin = Instant::now();
    let e = run(
        &replace_step(Kind::Docker, Kind::Docker),
        &l,
        &set,
        &s,
        &switch(&log),
    )
    .unwrap_err();
    assert!(e.to_string().contains("crashes in a loop"), "{e}");
    assert!(begin.elapsed() < Duration::from_secs(5));
    let log = log.lock().unwrap();
    assert!(!log.contains(&"docker stop old".to_string()), "{log:?}");
}

#[test]
fn a_drain_that_cannot_be_arranged_stops_the_run_before_the_switch() {
    let (e, log) = refused_replace(false, true);
    let text = e.to_string();
    assert!(
        text.contains("drain could not be arranged")
            && text.contains("no space left on device")
            && text.contains("previous ones keep serving"),
        "{text}"
    );
    assert!(
        log.contains(&"will drain web.old.old".to_string()),
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.starts_with("switch")), "{log:?}");
    assert!(
        log.contains(&"docker remove web.next".to_string()),
        "{log:?}"
    );
    assert!(
        !log.iter().any(|l| l.contains(" old")),
        "the old one is never touched: {log:?}"
    );
}

#[test]
fn a_refused_switch_removes_the_new_ones_and_keeps_the_old_ones() {
    let (e, log) = refused_replace(true, false);
    assert!(matches!(e, ConvergeError::Switch { .. }), "{e}");
    assert!(
        log.contains(&"docker remove web.next".to_string()),
        "{log:?}"
    );
    assert!(
        !log.iter().any(|l| l.contains(" old")),
        "the old one is never touched: {log:?}"
    );
}

#[test]
fn a_container_holding_port_out_is_stopped_after_the_new_one_is_healthy() {
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let mut set = Backends::new();
    set.insert(Box::new(Fake::new(Kind::Docker, &log)));
    let l = launch("docker");
    let mut plan = replace_step(Kind::Docker, Kind::Docker);
    if let Action::Replace {
        old_ports,
        strategy,
        ..
    } = &mut plan.steps[0].action
    {
        *old_ports = None;
        *strategy = crate::plan::strategy(&l, Kind::Docker, Kind::Docker, false);
    }
    let report = run(&plan, &l, &set, &settings(), &switch(&log)).unwrap();
    let log = log.lock().unwrap();
    let at = |s: &str| log.iter().position(|l| l.starts_with(s)).unwrap();
    assert!(
        at("docker start web.next") < at("docker stop old"),
        "{log:?}"
    );
    assert!(at("docker stop old") < at("switch"), "{log:?}");
    assert!(at("switch") < at("docker remove old"), "{log:?}");
    assert!(report.draining.is_empty());
}

#[test]
fn an_in_place_engine_is_reverted_when_the_change_does_not_come_up() {
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let mut set = Backends::new();
    set.insert(Box::new(Fake::new(Kind::Snap, &log)));
    let mut l = launch("snap");
    l.tag = "2".into();
    let e = run(
        &replace_step(Kind::Snap, Kind::Snap),
        &l,
        &set,
        &settings(),
        &switch(&log),
    )
    .unwrap_err();
    assert!(e.to_string().contains("keeps serving"), "{e}");
    assert_eq!(
        *log.lock().unwrap(),
        [
            "snap update old 2",
            "snap start old",
            "snap revert old",
            "snap start old",
            "switch web=8080=40000"
        ]
    );
}

#[test]
fn a_missing_engine_stops_the_run_before_any_change() {
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let mut set = Backends::new();
    set.insert(Box::new(Fake::new(Kind::Docker, &log)));
    set.set_unreachable(
        Kind::Lxc,
        BackendError::Unavailable {
            engine: "lxc",
            message: "the LXC tools are missing".into(),
        },
    );
    let l = launch("lxc");
    let plan = reconcile(
        std::slice::from_ref(&l),
        &Observed::default(),
        &Options::default(),
    )
    .unwrap();
    let e = run(&plan, &l, &set, &settings(), &switch(&log)).unwrap_err();
    assert!(
        e.to_string().contains("the LXC tools are missing")
            && e.to_string().contains("no container was changed"),
        "{e}"
    );
    assert!(log.lock().unwrap().is_empty());
}

/// A database without port_out and the site that depends on it, both
/// replaced; `data`: the database keeps its data in a volume.
fn replace_pair(data: bool) -> Vec<String> {
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let mut set = Backends::new();
    set.insert(Box::new(Fake::new(Kind::Docker, &log)));
    let mut db = launch("docker");
    db.name = "db".into();
    db.ports.clear();
    if data {
        db.mounts.push(crate::plan::launch::Mount {
            container: "/var/lib/mysql".into(),
            host: "dbdata".into(),
            kind: MountKind::Volume,
        });
    }
    let mut web = launch("docker");
    web.app.depends_on = vec!["db".into()];
    let (w, d) = (web.clone(), db.clone());
    let step = |name: &str, old_ports: HostPorts| Step {
        action: Action::Replace {
            name: name.into(),
            old_id: format!("old-{name}"),
            old_backend: Kind::Docker,
            backend: Kind::Docker,
            old_health: None,
            old_ports: Some(old_ports),
            strategy: crate::plan::strategy(
                if name == "db" { &d } else { &w },
                Kind::Docker,
                Kind::Docker,
                true,
            ),
        },
        cause: "test".into(),
    };
    // The site configured first: the waves, not the order, start the db
    // first.
    let plan = Plan {
        steps: vec![
            step("web", HostPorts([(8080, 40000)].into())),
            step("db", HostPorts::default()),
        ],
        after: crate::plan::apps::waits(&[web.clone(), db.clone()]),
        ..Plan::default()
    };
    run_all(&plan, &[web, db], &set, &settings(), &switch(&log)).unwrap();
    let log = log.lock().unwrap();
    log.iter()
        .map(|l| l.strip_prefix("docker ").unwrap_or(l).to_string())
        .filter(|l| !l.starts_with("switch"))
        .collect()
}

#[test]
fn a_container_without_route_is_replaced_within_its_wave_before_its_dependents() {
    // Beside the old one, healthy, then the old one stops: all before the
    // site's new instance is created.
    assert_eq!(
        replace_pair(false),
        [
            "create db.next",
            "start db.next",
            "stop old-db",
            "remove old-db",
            "rename db.next db",
            "create web.next",
            "start web.next",
            "rename old-web web.old.old-web",
            "rename web.next web",
            "retire web.old.old-web",
        ]
    );
    // With its data in a volume, the old one stops first: two database
    // servers cannot share one data folder.
    assert_eq!(
        replace_pair(true)[..5],
        [
            "stop old-db",
            "create db.next",
            "start db.next",
            "remove old-db",
            "rename db.next db",
        ]
    );
}

#[test]
fn a_failed_switch_names_what_it_did_not_take_back() {
    let e = ConvergeError::Switch {
        drain: false,
        cause: "nginx refused".into(),
        settled: vec!["db".into()],
    };
    let text = e.to_string();
    assert!(text.contains("nginx refused"), "{text}");
    assert!(
        text.contains("already replaced before the switch"),
        "{text}"
    );
    assert!(text.contains("db"), "{text}");
    let plain = ConvergeError::Switch {
        drain: false,
        cause: "nginx refused".into(),
        settled: vec![],
    };
    assert!(!plain.to_string().contains("already replaced"));
}

/// A port whose first connection hangs (QEMU's user network while the
/// guest boots: the SYN waits for TCP's backoff) and whose later ones are
/// answered: the check does not wait for the hung probe's 5 s bound, a
/// later probe passes.
#[tokio::test]
async fn a_hung_probe_does_not_hold_the_health_check() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        let mut first = true;
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            if first {
                first = false;
                held.push(s);
                continue;
            }
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let fake = Fake::new(Kind::Vm, &log);
    fake.running.lock().unwrap().push("vm1".into());
    let health = crate::plan::launch::Health {
        path: Some("/health/".into()),
        port: Some(port),
        command: None,
    };
    let began = Instant::now();
    let r = wait_healthy(&fake, "vm1", &health, std::time::Duration::from_secs(20)).await;
    server.abort();
    assert_eq!(r, Ok(()));
    assert!(
        began.elapsed() < std::time::Duration::from_secs(2),
        "took {:?}: the hung probe held the check",
        began.elapsed()
    );
}
