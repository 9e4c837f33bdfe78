//! nginx workers whose master is gone.
//!
//! When an nginx master is killed with SIGKILL its workers live on: they
//! keep the listening sockets and keep serving the routes they loaded,
//! removed ones included, and every new master then fails with nginx's
//! "bind() ... Address already in use", which names no process. An orphan
//! is found by what it is (a process whose executable is nginx, not a
//! master, whose parent is no live nginx master) and by what makes it ours:
//! a file open under our private prefix (its logs), or a socket listening
//! on one of our ports.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use super::nginx;

/// An nginx process left by a master that died, and why it is ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub pid: u32,
    /// Its process title (`nginx: worker process`…).
    pub title: String,
    /// What it holds of ours: `port 8080`, `file /…/logs/error.log`.
    pub holds: Vec<String>,
}

impl fmt::Display for Orphan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} ({}), holding {}",
            self.pid,
            self.title,
            self.holds.join(", ")
        )
    }
}

/// The port of a `listen` directive's arguments (`127.0.0.1:8080`,
/// `[::]:443 ssl`, `80`).
pub fn listen_port(listen: &str) -> Option<u16> {
    let first = listen.split_whitespace().next()?;
    let port = first.rsplit_once(':').map_or(first, |(_, p)| p);
    port.parse().ok()
}

/// Socket inode → port of every TCP socket listening on one of `ports`.
fn listening_inodes(ports: &BTreeSet<u16>) -> HashMap<u64, u16> {
    let mut out = HashMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let port = f[1]
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if let (Some(port), Ok(inode)) = (port, f[9].parse::<u64>())
                && ports.contains(&port)
            {
                out.insert(inode, port);
            }
        }
    }
    out
}

fn pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// The nginx processes that are not masters and whose master is gone,
/// holding a file under `prefix` or a socket listening on one of `ports`.
pub fn find(prefix: Option<&Path>, ports: &BTreeSet<u16>) -> Vec<Orphan> {
    // The listening sockets are read only when there is an orphan to look
    // at: reading the kernel's tables costs milliseconds at every status
    // and reporter round, and orphans are rare.
    let mut sockets: Option<HashMap<u64, u16>> = None;
    let mut out = Vec::new();
    for pid in pids() {
        if !nginx::is_nginx_executable(pid) {
            continue;
        }
        // Workers and cache processes are renamed before anyone sees them;
        // a master being started still shows its command line.
        let title = nginx::cmdline(pid).trim().to_string();
        if !title.starts_with("nginx: ") || title.contains("master process") {
            continue;
        }
        match nginx::stat(pid) {
            Some((state, ppid)) if state != 'Z' && !nginx::master_alive(ppid) => {}
            _ => continue,
        }
        let sockets = sockets.get_or_insert_with(|| listening_inodes(ports));
        let mut holds = BTreeSet::new();
        if let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) {
            for fd in fds.filter_map(|e| e.ok()) {
                let Ok(target) = fs::read_link(fd.path()) else {
                    continue;
                };
                let text = target.to_string_lossy();
                if let Some(inode) = text
                    .strip_prefix("socket:[")
                    .and_then(|s| s.strip_suffix(']'))
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    if let Some(port) = sockets.get(&inode) {
                        holds.insert(format!("port {port}"));
                    }
                } else if prefix.is_some_and(|p| target.starts_with(p)) {
                    holds.insert(format!("file {}", target.display()));
                }
            }
        }
        if !holds.is_empty() {
            out.push(Orphan {
                pid,
                title,
                holds: holds.into_iter().collect(),
            });
        }
    }
    out
}

/// Ends `orphans`: SIGTERM (a worker's fast shutdown), then SIGKILL for
/// those still there after `timeout`. Returns those that would not go.
pub fn end(orphans: &[Orphan], timeout: Duration) -> Vec<Orphan> {
    let alive = |o: &Orphan| {
        nginx::stat(o.pid).is_some_and(|(s, _)| s != 'Z' && s != 'X')
            && nginx::is_nginx_executable(o.pid)
    };
    let send = |o: &Orphan, sig: Signal| {
        if let Ok(raw) = i32::try_from(o.pid) {
            let _ = signal::kill(Pid::from_raw(raw), sig);
        }
    };
    for sig in [Signal::SIGTERM, Signal::SIGKILL] {
        for o in orphans.iter().filter(|o| alive(o)) {
            send(o, sig);
        }
        let begin = Instant::now();
        while orphans.iter().any(alive) && begin.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    orphans.iter().filter(|o| alive(o)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_ports() {
        assert_eq!(listen_port("127.0.0.1:8080"), Some(8080));
        assert_eq!(listen_port("[::]:443 ssl"), Some(443));
        assert_eq!(listen_port("80"), Some(80));
        assert_eq!(listen_port("unix:/run/x.sock"), None);
    }

    #[test]
    fn this_process_is_no_orphan() {
        let ports: BTreeSet<u16> = [1].into_iter().collect();
        assert!(
            find(Some(Path::new("/")), &ports)
                .iter()
                .all(|o| o.pid != std::process::id())
        );
    }
}
