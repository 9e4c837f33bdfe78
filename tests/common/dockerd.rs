//! A Docker engine of the test's own: its own socket, data root, exec root
//! (so its own containerd), pid file and bridge, so that a test may kill it
//! (or break it) while every other test keeps the machine's engine.
//!
//! Its containers reach the host through a bridge made for it (the
//! machine's docker0 belongs to the machine's engine) and publish their
//! ports through docker-proxy, without iptables, so the machine's firewall
//! rules are never touched. It needs root, as dockerd does.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::run;

/// How long dockerd has to answer on its socket after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Dockerd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// `unix://…/docker.sock`, for DOCKER_HOST.
    pub host: String,
    bridge: String,
}

impl Dockerd {
    /// Starts one and waits until it answers. Fails (never skips) when
    /// dockerd is missing or does not come up.
    pub fn start() -> Dockerd {
        let dir = tempfile::tempdir().expect("a temporary folder for dockerd");
        // A short, unique bridge name (IFNAMSIZ is 16) and subnet per
        // process, so that tests of several checkouts may run at once.
        let n = std::process::id();
        let bridge = format!("ctd{}", n % 1_000_000);
        let subnet = format!("10.{}.{}.1/24", 200 + (n / 256) % 50, n % 256);
        let ip = |args: &[&str]| {
            let out = run("ip", args);
            assert!(out.status.success(), "ip {args:?}: {}", super::text(&out));
        };
        let _ = run("ip", &["link", "del", &bridge]);
        ip(&["link", "add", "name", &bridge, "type", "bridge"]);
        ip(&["addr", "add", &subnet, "dev", &bridge]);
        ip(&["link", "set", &bridge, "up"]);
        let host = format!("unix://{}", dir.path().join("docker.sock").display());
        let mut d = Dockerd {
            dir,
            child: None,
            host,
            bridge,
        };
        d.spawn();
        d
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// The processes this engine left behind when it was killed: the
    /// containerd shims of its exec root, and their children (the
    /// containers' processes).
    fn leftovers(&self) -> Vec<u32> {
        let mark = self.path("exec").display().to_string();
        let procs: Vec<(u32, u32, String)> = std::fs::read_dir("/proc")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                    .filter_map(|pid| {
                        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                        let mut f = stat.rsplit_once(')')?.1.split_whitespace();
                        // A zombie is already gone (only its entry waits).
                        if f.next()? == "Z" {
                            return None;
                        }
                        let ppid = f.next()?.parse().ok()?;
                        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                        Some((pid, ppid, String::from_utf8_lossy(&cmd).replace('\0', " ")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let shims: Vec<u32> = procs
            .iter()
            .filter(|(_, _, cmd)| cmd.contains(&mark))
            .map(|(pid, _, _)| *pid)
            .collect();
        let mut out: Vec<u32> = procs
            .iter()
            .filter(|(_, ppid, _)| shims.contains(ppid))
            .map(|(pid, _, _)| *pid)
            .collect();
        out.extend(shims);
        out
    }

    /// Ends what a killed engine left running. A containerd started anew
    /// does not always take the old shims back in time (dockerd then gives
    /// up with "timeout waiting for containerd to start"); the containers
    /// are seen as exited and handled as after any crash.
    fn end_leftovers(&self) {
        let left = self.leftovers();
        for pid in &left {
            let _ = run("kill", &["-9", &pid.to_string()]);
        }
        let begin = Instant::now();
        while !self.leftovers().is_empty() && begin.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts dockerd on this engine's folders (again, after a kill).
    pub fn spawn(&mut self) {
        self.end_leftovers();
        // The containerd of a killed dockerd died with it (it is started with
        // a parent-death signal) but may linger as a zombie when nothing
        // reaps orphans (PID 1 of a container): its pid file would make the
        // new dockerd wait for it forever.
        let _ = std::fs::remove_file(self.path("exec/containerd/containerd.pid"));
        let log = std::fs::File::create(self.path("dockerd.log")).expect("dockerd's log");
        let child = Command::new("dockerd")
            .arg("--host")
            .arg(&self.host)
            .arg("--data-root")
            .arg(self.path("data"))
            .arg("--exec-root")
            .arg(self.path("exec"))
            .arg("--pidfile")
            .arg(self.path("docker.pid"))
            // No /etc/docker/daemon.json of the machine.
            .arg("--config-file")
            .arg(self.empty_config())
            .arg("--bridge")
            .arg(&self.bridge)
            .args([
                "--iptables=false",
                "--ip-masq=false",
                "--ip-forward=false",
                "--log-level=warn",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dockerd's log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("dockerd must be installed (apt-get install docker.io): {e}")
            });
        self.child = Some(child);
        let begin = Instant::now();
        while !self.docker(&["version"]).status.success() {
            assert!(
                begin.elapsed() < START_TIMEOUT,
                "the test's dockerd did not answer within {} s: {}",
                START_TIMEOUT.as_secs(),
                std::fs::read_to_string(self.path("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn empty_config(&self) -> PathBuf {
        let p = self.path("daemon.json");
        std::fs::write(&p, "{}\n").expect("dockerd's configuration");
        p
    }

    /// `docker -H SOCKET ARGS…`
    pub fn docker(&self, args: &[&str]) -> Output {
        let mut all = vec!["-H", self.host.as_str()];
        all.extend_from_slice(args);
        run("docker", &all)
    }

    /// Pulls `reference` (from the loopback registry) into this engine.
    pub fn pull(&self, reference: &str) {
        let out = self.docker(&["pull", "-q", reference]);
        assert!(
            out.status.success(),
            "pulling {reference} into the test's dockerd: {}",
            super::text(&out)
        );
    }

    /// Kills dockerd with SIGKILL, as a crash would, and waits until it is
    /// gone. Its containerd and containers live on, as they do then.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The engine's own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("dockerd.log")).unwrap_or_default()
    }

    pub fn data_root(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // A killed engine is started again to clean up after itself: its
        // containers removed, then a clean stop (unmounts, its containerd).
        if self.child.is_none() {
            self.spawn();
        }
        let ids = self.docker(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        if let Some(mut c) = self.child.take() {
            if let Ok(pid) = i32::try_from(c.id()) {
                let _ = run("kill", &["-TERM", &pid.to_string()]);
            }
            let begin = Instant::now();
            while matches!(c.try_wait(), Ok(None)) && begin.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        self.end_leftovers();
        // dockerd leaves its data root bind-mounted on itself, and a killed
        // one its overlays and network namespaces.
        let root = self.dir.path().display().to_string();
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let mut under: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&root))
            .collect();
        under.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in under {
            let _ = run("umount", &["-l", m]);
        }
        let _ = run("ip", &["link", "del", &self.bridge]);
    }
}
