//! Running the real nginx: checking a configuration (`nginx -T`), signals
//! to its master process, and what `/proc` says about it.
//!
//! Signals go straight to the master's pid (read from its pid file), as
//! `nginx -s reload` does: `nginx -s` parses the whole configuration first,
//! so it would refuse to stop an nginx whose files are broken on disk.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use super::error::ProxyError;

/// Debian's nginx, when nothing else is said.
pub const DEBIAN_NGINX: &str = "/usr/sbin/nginx";

/// The nginx binary conteneur runs.
#[derive(Debug, Clone)]
pub struct Nginx {
    pub bin: PathBuf,
}

/// What a configuration check said.
#[derive(Debug)]
pub enum Check {
    /// Valid; the text is `nginx -T`'s dump of every file it read.
    Valid(String),
    /// Refused; nginx's stderr.
    Refused(String),
}

/// What the check in a private mount namespace gave.
#[derive(Debug)]
pub enum Shadowed {
    /// Mount namespaces are not available (not root, or a container that
    /// forbids them).
    Unavailable,
    Ran(Check),
}

/// The exit code the shadow script uses when its bind mount fails, so that
/// it is told apart from nginx refusing the configuration.
const MOUNT_FAILED: i32 = 97;

impl Nginx {
    /// `explicit`, else `$CONTENEUR_NGINX`, else `nginx` on `$PATH`, else
    /// Debian's `/usr/sbin/nginx` (not on an ordinary user's `$PATH`).
    pub fn find(explicit: Option<&Path>) -> Result<Nginx, ProxyError> {
        let mut tried = Vec::new();
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(p) = explicit {
            candidates.push(p.to_path_buf());
        } else if let Some(p) = std::env::var_os("CONTENEUR_NGINX").filter(|p| !p.is_empty()) {
            candidates.push(PathBuf::from(p));
        } else {
            if let Some(path) = std::env::var_os("PATH") {
                candidates.extend(std::env::split_paths(&path).map(|d| d.join("nginx")));
            }
            candidates.push(PathBuf::from(DEBIAN_NGINX));
        }
        for c in candidates {
            if c.is_file() {
                return Ok(Nginx { bin: c });
            }
            tried.push(c.display().to_string());
        }
        tried.dedup();
        Err(ProxyError::NginxMissing {
            tried: tried.join(", "),
        })
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.stdin(Stdio::null());
        c
    }

    /// `nginx -T` on `main`: checks the full configuration and dumps every
    /// file it read (the dump tells whether a site file is really included).
    /// `prefix` and `error_log` are given for the private nginx, so that
    /// nothing outside its prefix is touched, not even the compiled-in log.
    pub fn check(
        &self,
        prefix: Option<&Path>,
        main: &Path,
        error_log: Option<&Path>,
    ) -> Result<Check, ProxyError> {
        let mut c = self.command();
        c.arg("-T");
        if let Some(p) = prefix {
            c.arg("-p").arg(dir_arg(p));
        }
        c.arg("-c").arg(main);
        if let Some(e) = error_log {
            c.arg("-e").arg(e);
        }
        let out = run(&mut c)?;
        Ok(check_result(out))
    }

    /// `nginx -T` on `main` with each `staged` file bind-mounted over its
    /// `live` one, in a private mount namespace that vanishes with the
    /// command: nginx reads the real main configuration and every real
    /// include, with the new files at their real places, while nothing
    /// changes on disk for anyone else. Each `live` must exist (a bind
    /// mount needs a target).
    pub fn check_shadowed(
        &self,
        main: &Path,
        pairs: &[(&Path, &Path)],
    ) -> Result<Shadowed, ProxyError> {
        // A cheap probe first: unshare fails the same way for any command.
        let probe = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !matches!(probe, Ok(s) if s.success()) {
            return Ok(Shadowed::Unavailable);
        }
        // Arguments: nginx, main, then staged/live pairs.
        let script = format!(
            "ngx=$1; main=$2; shift 2; while [ $# -gt 0 ]; do \
             mount --bind -- \"$1\" \"$2\" || exit {MOUNT_FAILED}; shift 2; done; \
             exec \"$ngx\" -T -c \"$main\""
        );
        let mut c = Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
            .arg(script)
            .arg("sh")
            .arg(&self.bin)
            .arg(main);
        for (staged, live) in pairs {
            c.arg(staged).arg(live);
        }
        c.stdin(Stdio::null());
        let out = run(&mut c)?;
        if out.status.code() == Some(MOUNT_FAILED) {
            return Ok(Shadowed::Unavailable);
        }
        Ok(Shadowed::Ran(check_result(out)))
    }

    /// Starts nginx as a daemon. It returns once the master has bound its
    /// sockets and forked away, so an error such as a port in use comes
    /// back here, with nginx's message.
    pub fn start(&self, prefix: &Path, main: &Path, error_log: &Path) -> Result<(), String> {
        let mut c = self.command();
        c.arg("-p")
            .arg(dir_arg(prefix))
            .arg("-c")
            .arg(main)
            .arg("-e")
            .arg(error_log);
        match run(&mut c) {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(stderr_text(&out)),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// nginx wants its prefix as a folder name ending with '/'.
fn dir_arg(p: &Path) -> OsString {
    let mut s = p.as_os_str().to_os_string();
    if !s.to_string_lossy().ends_with('/') {
        s.push("/");
    }
    s
}

fn run(c: &mut Command) -> Result<Output, ProxyError> {
    c.output().map_err(|source| ProxyError::Spawn {
        command: describe(c),
        source,
    })
}

fn describe(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn stderr_text(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if text.is_empty() {
        format!("nginx exited with {} and said nothing", out.status)
    } else {
        text
    }
}

fn check_result(out: Output) -> Check {
    if out.status.success() {
        Check::Valid(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Check::Refused(stderr_text(&out))
    }
}

/// Whether `nginx -T`'s dump shows that `file` was read.
pub fn dump_includes(dump: &str, file: &Path) -> bool {
    let header = format!("# configuration file {}:", file.display());
    dump.lines().any(|l| l == header)
}

// --- the running master --------------------------------------------------

/// The pid in a pid file, if the file holds one.
pub fn read_pid(pid_file: &Path) -> Option<u32> {
    fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

/// `/proc/PID/stat`'s state letter and parent pid.
pub(super) fn stat(pid: u32) -> Option<(char, u32)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let mut it = rest.split_whitespace();
    let state = it.next()?.chars().next()?;
    let ppid = it.next()?.parse().ok()?;
    Some((state, ppid))
}

pub(super) fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Whether `pid` is a live nginx master. A pid file can outlive its nginx
/// and the pid be reused: only an nginx master is ever signalled. A zombie
/// (an exited daemon its new parent has not reaped yet) is not alive.
///
/// Between writing its pid file and renaming itself "nginx: master
/// process", a starting master still shows the command line it was started
/// with; its executable is already nginx then, so that counts too (workers
/// and cache processes are always renamed before they exist to anyone).
pub fn master_alive(pid: u32) -> bool {
    match stat(pid) {
        Some((state, _)) if state != 'Z' && state != 'X' => {
            let cmd = cmdline(pid);
            cmd.contains("nginx: master process")
                || (!cmd.starts_with("nginx: ") && is_nginx_executable(pid))
        }
        _ => false,
    }
}

/// Whether the process runs an executable named nginx.
pub(super) fn is_nginx_executable(pid: u32) -> bool {
    fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n == "nginx"))
        .unwrap_or(false)
}

/// The running master named by `pid_file`.
pub fn running_master(pid_file: &Path) -> Option<u32> {
    read_pid(pid_file).filter(|&p| master_alive(p))
}

/// The worker processes of a master (its children: workers, and cache
/// processes when the configuration has caches).
///
/// Read from `/proc/PID/task/*/children`, a few small files, rather than by
/// scanning every process: a reload polls this every few milliseconds. A
/// kernel without that file (it needs `CONFIG_PROC_CHILDREN`) gets the scan.
pub fn workers(master: u32) -> BTreeSet<u32> {
    match children(master) {
        Some(c) => c
            .into_iter()
            .filter(|&p| matches!(stat(p), Some((s, ppid)) if ppid == master && s != 'Z'))
            .collect(),
        None => scan_children(master),
    }
}

/// The children the kernel lists for each thread of `pid`, or `None` when
/// it cannot tell.
fn children(pid: u32) -> Option<BTreeSet<u32>> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut out = BTreeSet::new();
    let mut any = false;
    for t in tasks.filter_map(|e| e.ok()) {
        let Ok(text) = fs::read_to_string(t.path().join("children")) else {
            continue;
        };
        any = true;
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    any.then_some(out)
}

fn scan_children(master: u32) -> BTreeSet<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return BTreeSet::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|&p| matches!(stat(p), Some((s, ppid)) if ppid == master && s != 'Z'))
        .collect()
}

pub fn send(pid: u32, sig: Signal, name: &'static str, pid_file: &Path) -> Result<(), ProxyError> {
    let raw = i32::try_from(pid).map_err(|_| ProxyError::Signal {
        signal: name,
        pid,
        pid_file: pid_file.to_path_buf(),
        source: nix::Error::ESRCH,
    })?;
    signal::kill(Pid::from_raw(raw), sig).map_err(|source| ProxyError::Signal {
        signal: name,
        pid,
        pid_file: pid_file.to_path_buf(),
        source,
    })
}

/// How a reload is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadBy {
    /// SIGHUP to the master, which is what `nginx -s reload` sends.
    Signal,
    /// `systemctl reload nginx`, so that systemd's view stays right.
    Systemctl,
}

/// The size of a log file now, to read only what a reload adds to it.
pub fn log_offset(log: Option<&Path>) -> u64 {
    log.and_then(|l| fs::metadata(l).ok())
        .map_or(0, |m| m.len())
}

/// The error lines (`[emerg]`, `[alert]`, `[crit]`) `log` gained after
/// `offset`, without their timestamps, each once.
fn new_errors(log: Option<&Path>, offset: u64) -> Vec<String> {
    let Some(log) = log else {
        return Vec::new();
    };
    let Ok(mut f) = fs::File::open(log) else {
        return Vec::new();
    };
    let mut text = String::new();
    if f.seek(SeekFrom::Start(offset)).is_err() || f.read_to_string(&mut text).is_err() {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(i) = ["[emerg]", "[alert]", "[crit]"]
            .iter()
            .filter_map(|m| line.find(m))
            .min()
        {
            let l = line[i..].to_string();
            if !out.contains(&l) {
                out.push(l);
            }
        }
    }
    out
}

/// Asks the master `pid` to reload and waits for the outcome.
///
/// `nginx -s reload` and `systemctl reload` only send a signal: nginx
/// checks the files afterwards, and when it cannot load them (a port in
/// use, say) it logs why and goes on with the old configuration. The sure
/// sign of success is a new generation of worker processes; a failure shows
/// as error lines in the log, or as no new workers before `timeout`.
pub fn reload(
    pid: u32,
    pid_file: &Path,
    by: ReloadBy,
    error_log: Option<&Path>,
    timeout: Duration,
) -> Result<(), ReloadFailure> {
    // The workers of a master that has just started may not be forked yet:
    // they would pass for the new generation.
    let begin = Instant::now();
    let mut before = workers(pid);
    while before.is_empty() && begin.elapsed() < timeout && master_alive(pid) {
        std::thread::sleep(Duration::from_millis(10));
        before = workers(pid);
    }
    let offset = log_offset(error_log);
    match by {
        ReloadBy::Signal => send(pid, Signal::SIGHUP, "SIGHUP (reload)", pid_file)
            .map_err(|e| ReloadFailure(e.to_string()))?,
        ReloadBy::Systemctl => {
            let mut c = Command::new("systemctl");
            c.args(["reload", "nginx"]).stdin(Stdio::null());
            let out = run(&mut c).map_err(|e| ReloadFailure(e.to_string()))?;
            if !out.status.success() {
                return Err(ReloadFailure(format!(
                    "`systemctl reload nginx` failed: {}",
                    stderr_text(&out)
                )));
            }
        }
    }
    let start = Instant::now();
    let mut quit_sent = false;
    loop {
        if !master_alive(pid) {
            let mut msg = format!("the nginx master (pid {pid}) exited during the reload");
            for l in new_errors(error_log, offset) {
                msg.push('\n');
                msg.push_str(&l);
            }
            return Err(ReloadFailure(msg));
        }
        let now = workers(pid);
        if !quit_sent && now.iter().any(|w| !before.contains(w)) {
            // The new configuration loaded: its workers are forked. The
            // master lets the old ones accept for another 100 ms before it
            // asks them to finish (nginx's `ngx_msleep(100)` after a
            // reconfiguration); asked now, they stop taking connections at
            // once and finish the requests they hold, as they would then.
            // Nothing is lost: both generations accept from the same
            // listening sockets, whose backlog keeps a connection until a
            // new worker takes it. nginx documents SIGQUIT to a worker as
            // its graceful shutdown.
            quit_old_workers(&before, &now);
            quit_sent = true;
        }
        if new_generation(&before, &now) {
            return Ok(());
        }
        let errors = new_errors(error_log, offset);
        // A port in use is retried for a while (5 × 500 ms) before nginx
        // gives up: only its last word ends the wait early.
        let final_word = errors
            .iter()
            .any(|l| !l.contains("bind() to") || l.contains("still could not bind"));
        if final_word {
            return Err(ReloadFailure(errors.join("\n")));
        }
        if start.elapsed() > timeout {
            let mut msg = format!(
                "nginx (pid {pid}) started no new worker processes within {} s of the reload request",
                timeout.as_secs()
            );
            if let Some(l) = error_log {
                msg.push_str(&format!("; see {}", l.display()));
            }
            for l in errors {
                msg.push('\n');
                msg.push_str(&l);
            }
            return Err(ReloadFailure(msg));
        }
        // A reload takes a few milliseconds: poll often, cheaply.
        std::thread::sleep(Duration::from_millis(3));
    }
}

/// SIGQUIT (graceful shutdown) to each worker of the previous generation
/// that still runs and is not shutting down already.
fn quit_old_workers(before: &BTreeSet<u32>, now: &BTreeSet<u32>) {
    for &w in before.iter().filter(|w| now.contains(w)) {
        if cmdline(w).contains("shutting down") {
            continue;
        }
        if let Ok(raw) = i32::try_from(w) {
            let _ = signal::kill(Pid::from_raw(raw), Signal::SIGQUIT);
        }
    }
}

/// Whether the reload is done: new workers run, and every old one has
/// exited or is shutting down (it stops accepting connections just then),
/// so that a request sent now meets the new configuration.
fn new_generation(before: &BTreeSet<u32>, now: &BTreeSet<u32>) -> bool {
    now.iter().any(|w| !before.contains(w))
        && before
            .iter()
            .all(|w| !now.contains(w) || cmdline(*w).contains("shutting down"))
}

/// Why a reload failed, in nginx's words where it gave any.
#[derive(Debug)]
pub struct ReloadFailure(pub String);

/// Waits until `pid` is no live nginx master, up to `timeout`.
pub fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let start = Instant::now();
    while master_alive(pid) {
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    true
}

/// Whether a program can be found for `name` on `$PATH` (for `systemctl`).
pub fn on_path(name: &OsStr) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_header_is_matched_exactly() {
        let dump = "# configuration file /etc/nginx/nginx.conf:\nhttp {}\n\n\
                    # configuration file /etc/nginx/conf.d/conteneur.conf:\nserver {}\n";
        assert!(dump_includes(
            dump,
            Path::new("/etc/nginx/conf.d/conteneur.conf")
        ));
        assert!(!dump_includes(
            dump,
            Path::new("/etc/nginx/conf.d/conteneur")
        ));
    }

    #[test]
    fn children_are_read_from_the_kernel_list_as_from_a_scan() {
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        let me = std::process::id();
        let listed = children(me).expect("/proc/PID/task/*/children");
        assert!(listed.contains(&child.id()), "{listed:?}");
        assert!(workers(me).contains(&child.id()));
        assert!(scan_children(me).contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!workers(me).contains(&child.id()));
    }

    #[test]
    fn our_own_pid_is_no_nginx_master() {
        assert!(!master_alive(std::process::id()));
        assert!(stat(std::process::id()).is_some());
    }
}
