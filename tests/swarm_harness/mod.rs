//! Private Docker engines in network namespaces of the test's own, made
//! into a swarm, for tests/swarm.rs (and nothing else: swarm mode never
//! touches the machine's engine).
//!
//! Why a network namespace even for one node: a second dockerd in the
//! host's namespace would rewrite the host's iptables chains (DOCKER,
//! DOCKER-USER…) that the machine's engine, shared by everyone, relies on.
//! Inside its own namespace an engine has its own loopback, firewall and
//! bridges; its unix socket is reachable from the host all the same. So
//! conteneur runs inside the namespace (`nsenter --net`, which switches
//! the network namespace only: `ip netns exec` remounts /sys and dockerd
//! then fails), and so does the private nginx it starts; the test's
//! requests go to 127.0.0.1 of that namespace from a thread that entered
//! it (setns applies to one thread).
//!
//! Everything is undone by Drop, even when the test fails: the swarm left,
//! the engines stopped (pidfile), their folders removed, the namespaces
//! deleted.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The images the tests use, taken from the machine's engine (the
/// namespaces have no route to the loopback registry).
pub const IMAGES: &[&str] = &[
    "localhost:5000/demo/web:1.0",
    "localhost:5000/demo/web:2.0",
    "localhost:5000/demo/notes:1.0",
    "localhost:5000/demo/broken:1.0",
];

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed: {e}"))
}

fn ok(program: &str, args: &[&str]) -> String {
    let o = run(program, args);
    assert!(
        o.status.success(),
        "{program} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// One engine in its namespace.
pub struct Engine {
    pub netns: String,
    pub dir: PathBuf,
    /// The namespace's address on the veth (two-node swarms), or 127.0.0.1.
    pub addr: String,
    /// `nsenter … dockerd`, reaped when the engine stops.
    child: std::sync::Mutex<Option<std::process::Child>>,
}

impl Engine {
    pub fn socket(&self) -> String {
        format!("unix://{}", self.dir.join("sock").display())
    }

    /// `docker -H SOCKET ARGS…`, asserted to succeed; its stdout.
    pub fn docker(&self, args: &[&str]) -> String {
        let mut a = vec!["-H".to_string(), self.socket()];
        a.extend(args.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        ok("docker", &a)
    }

    /// The same, not asserted.
    pub fn docker_raw(&self, args: &[&str]) -> Output {
        let mut a = vec!["-H".to_string(), self.socket()];
        a.extend(args.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run("docker", &a)
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    fn start(&self) {
        let log = std::fs::File::create(self.dir.join("log")).expect("engine log");
        let netns = format!("--net=/run/netns/{}", self.netns);
        let d = |n: &str| self.dir.join(n).display().to_string();
        let mut child = Command::new("nsenter")
            .args([
                netns.as_str(),
                "dockerd",
                "--data-root",
                &d("data"),
                "--exec-root",
                &d("exec"),
                "--pidfile",
                &d("pid"),
                "-H",
                &self.socket(),
            ])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("nsenter and dockerd must be installed");
        match self.child.lock() {
            Ok(mut c) => *c = Some(child),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the engine's handle is poisoned");
            }
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(40) {
            if self.docker_raw(&["version"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!(
            "the test's engine did not start within 40 s: {}",
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
    }

    fn stop(&self) {
        let _ = self.docker_raw(&["swarm", "leave", "--force"]);
        if let Some(pid) = self.pid() {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(20)
                && nix::sys::signal::kill(pid, None).is_ok()
            {
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
        if let Some(mut c) = self.child.lock().ok().and_then(|mut c| c.take()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A swarm of one or two engines, each in its namespace.
pub struct Swarm {
    pub nodes: Vec<Engine>,
    _dir: tempfile::TempDir,
}

impl Swarm {
    /// One manager in a namespace with only its loopback, advertised on
    /// 127.0.0.1.
    pub fn single(tag: &str) -> Swarm {
        Self::make(tag, 1)
    }

    /// A manager and a worker, joined over a veth pair 10.231.N.1/.2.
    pub fn two(tag: &str) -> Swarm {
        Self::make(tag, 2)
    }

    fn make(tag: &str, n: usize) -> Swarm {
        let dir = tempfile::Builder::new()
            .prefix("csw")
            .tempdir_in("/tmp")
            .expect("a folder for the engines");
        let id = std::process::id() % 100_000;
        let mut nodes = Vec::new();
        for i in 0..n {
            let netns = format!("csw{tag}{id}{i}");
            let _ = run("ip", &["netns", "del", &netns]);
            ok("ip", &["netns", "add", &netns]);
            ok("ip", &["-n", &netns, "link", "set", "lo", "up"]);
            let edir = dir.path().join(format!("n{i}"));
            std::fs::create_dir_all(&edir).expect("engine folder");
            nodes.push(Engine {
                netns,
                dir: edir,
                addr: if n == 1 {
                    "127.0.0.1".into()
                } else {
                    format!("10.231.{}.{}", id % 250, i + 1)
                },
                child: std::sync::Mutex::new(None),
            });
        }
        let swarm = Swarm { nodes, _dir: dir };
        if n == 2 {
            let (a, b) = (&swarm.nodes[0], &swarm.nodes[1]);
            let (va, vb) = (format!("cva{id}"), format!("cvb{id}"));
            ok(
                "ip",
                &["link", "add", &va, "type", "veth", "peer", "name", &vb],
            );
            ok("ip", &["link", "set", &va, "netns", &a.netns]);
            ok("ip", &["link", "set", &vb, "netns", &b.netns]);
            for (e, v) in [(a, &va), (b, &vb)] {
                let cidr = format!("{}/24", e.addr);
                ok("ip", &["-n", &e.netns, "addr", "add", &cidr, "dev", v]);
                ok("ip", &["-n", &e.netns, "link", "set", v, "up"]);
            }
        }
        // From here on Drop cleans up whatever fails.
        std::thread::scope(|s| {
            for e in &swarm.nodes {
                s.spawn(|| e.start());
            }
        });
        let m = &swarm.nodes[0];
        m.docker(&["swarm", "init", "--advertise-addr", &m.addr]);
        if n == 2 {
            let token = m.docker(&["swarm", "join-token", "-q", "worker"]);
            let at = format!("{}:2377", m.addr);
            swarm.nodes[1].docker(&["swarm", "join", "--token", &token, &at]);
        }
        swarm.load_images();
        swarm
    }

    /// Copies the test images from the machine's engine into every node.
    fn load_images(&self) {
        let tar = self._dir.path().join("images.tar");
        let mut args = vec!["-H", "unix:///var/run/docker.sock", "save", "-o"];
        let t = tar.display().to_string();
        args.push(&t);
        args.extend_from_slice(IMAGES);
        ok("docker", &args);
        std::thread::scope(|s| {
            for e in &self.nodes {
                let t = &t;
                s.spawn(move || e.docker(&["load", "-q", "-i", t]));
            }
        });
    }

    pub fn manager(&self) -> &Engine {
        &self.nodes[0]
    }

    /// The swarm node id of engine `i`.
    pub fn node_id(&self, i: usize) -> String {
        self.nodes[i].docker(&["info", "--format", "{{.Swarm.NodeID}}"])
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        for e in self.nodes.iter().rev() {
            e.stop();
        }
        for e in &self.nodes {
            let _ = run("ip", &["netns", "del", &e.netns]);
        }
        // Mounts an engine killed hard left behind would keep the folder.
        for e in &self.nodes {
            let _ = run(
                "sh",
                &[
                    "-c",
                    &format!(
                        "grep -o ' {}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l",
                        e.dir.display()
                    ),
                ],
            );
        }
    }
}

/// An HTTP GET of 127.0.0.1:PORT/PATH inside namespace `netns`: the status
/// code and body, or why it failed.
pub fn get_in(netns: &str, port: u16, path: &str) -> Result<(u16, String), String> {
    let ns = netns.to_string();
    let path = path.to_string();
    std::thread::spawn(move || {
        enter(&ns)?;
        get_here(port, &path)
    })
    .join()
    .map_err(|_| "the request thread panicked".to_string())?
}

fn enter(netns: &str) -> Result<(), String> {
    let f = std::fs::File::open(Path::new("/run/netns").join(netns)).map_err(|e| e.to_string())?;
    nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| e.to_string())
}

fn get_here(port: u16, path: &str) -> Result<(u16, String), String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").map_err(|e| e.to_string())?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).map_err(|e| e.to_string())?;
    let code = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {buf:?}"))?;
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    Ok((code, body))
}

/// A request loop in a namespace, counting the answers that are not a 200
/// with `expect` in the body. Bounded: it stops when told, or after
/// `limit`.
pub struct Load {
    stop: Arc<AtomicBool>,
    pub ok: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
    errors: Arc<std::sync::Mutex<Vec<String>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    pub fn start(netns: &str, port: u16, path: &str, expect: &[&str], limit: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let okc = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (ns, path) = (netns.to_string(), path.to_string());
        let expect: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
        let (s2, o2, f2, e2) = (stop.clone(), okc.clone(), failed.clone(), errors.clone());
        let handle = std::thread::spawn(move || {
            if let Err(e) = enter(&ns) {
                e2.lock().unwrap().push(e);
                f2.fetch_add(1, Ordering::SeqCst);
                return;
            }
            let start = Instant::now();
            while !s2.load(Ordering::SeqCst) && start.elapsed() < limit {
                match get_here(port, &path) {
                    Ok((200, body)) if expect.iter().any(|e| body.contains(e.as_str())) => {
                        o2.fetch_add(1, Ordering::SeqCst);
                    }
                    other => {
                        f2.fetch_add(1, Ordering::SeqCst);
                        let mut e = e2.lock().unwrap();
                        if e.len() < 10 {
                            e.push(format!("{:?}", other));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Load {
            stop,
            ok: okc,
            failed,
            errors,
            handle: Some(handle),
        }
    }

    /// Stops the loop: (answered, failed, the first failures).
    pub fn finish(mut self) -> (u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        (
            self.ok.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
            self.errors.lock().unwrap().clone(),
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// conteneur under `root`, inside the manager's namespace, driving its
/// engine.
pub struct Site {
    pub root: tempfile::TempDir,
    pub netns: String,
    pub socket: String,
    pub http_port: u16,
}

impl Site {
    pub fn new(swarm: &Swarm) -> Site {
        let root = tempfile::tempdir().expect("root");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (from, to) in [
            ("dicos", "usr/share/eole/creole/dicos"),
            ("templates", "usr/share/eole/creole/distrib"),
        ] {
            let dest = root.path().join(to);
            std::fs::create_dir_all(&dest).expect("EOLE folders");
            for e in std::fs::read_dir(repo.join(from)).expect("repository") {
                let p = e.expect("repository").path();
                if let Some(name) = p.file_name().filter(|_| p.is_file()) {
                    std::fs::copy(&p, dest.join(name)).expect("copy");
                }
            }
        }
        let site = Site {
            root,
            netns: swarm.manager().netns.clone(),
            socket: swarm.manager().socket(),
            // The namespace is the test's own: any port is free there.
            http_port: 18000,
        };
        site.set("conteneur_proxy_mode", &["private"]);
        site.set("conteneur_proxy_listen", &["127.0.0.1"]);
        site.set("conteneur_http_port", &["18000"]);
        site.set("conteneur_health_timeout", &["6"]);
        site.set("conteneur_orchestrator", &["swarm"]);
        site.set("conteneur_swarm_update_delay", &["1"]);
        site.set("conteneur_swarm_monitor", &["3"]);
        site.set("conteneur_swarm_wait", &["120"]);
        site
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        let bin = assert_cmd::cargo::cargo_bin("conteneur");
        let netns = format!("--net=/run/netns/{}", self.netns);
        Command::new("timeout")
            .arg("300")
            .arg("nsenter")
            .arg(netns)
            .arg(bin)
            .arg("--root")
            .arg(self.root.path())
            .args(args)
            .env("DOCKER_HOST", &self.socket)
            .env_remove("CONTENEUR_ROOT")
            .output()
            .expect("nsenter runs conteneur")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "conteneur {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn set(&self, var: &str, values: &[&str]) {
        let mut args = vec!["set", var];
        args.extend_from_slice(values);
        self.ok(&args);
    }

    /// Container X: name, demo image, tag, host port.
    pub fn container(&self, x: u32, name: &str, image: &str, tag: &str, port: u16) {
        let n = |v: &str| format!("conteneur{x}_{v}");
        self.set(&n("name"), &[name]);
        self.set(&n("url"), &[&format!("localhost:5000/demo/{image}")]);
        self.set(&n("tag"), &[tag]);
        self.set(&n("port_in"), &["80"]);
        self.set(&n("port_out"), &[&port.to_string()]);
        self.set(&n("health_path"), &["/health/"]);
    }

    pub fn get(&self, path: &str) -> Result<(u16, String), String> {
        get_in(&self.netns, self.http_port, path)
    }

    /// Waits (bounded) until `path` answers 200 with `expect` in it.
    pub fn wait_for(&self, path: &str, expect: &str) {
        let start = Instant::now();
        let mut last = Err(String::new());
        while start.elapsed() < Duration::from_secs(30) {
            last = self.get(path);
            if matches!(&last, Ok((200, b)) if b.contains(expect)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!("{path} did not answer '{expect}' within 30 s: {last:?}");
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        crate::common::stop_private_nginx(self.root.path());
    }
}
