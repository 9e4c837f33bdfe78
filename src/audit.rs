//! The audit trail: one JSON line per command that changes the server
//! (`set`, `instance`, `reconfigure`, `rollback`, `backup`, `restore`),
//! appended to `ROOT/var/log/conteneur/audit.log`
//! (0640) and sent to syslog (or the journal, which reads the same
//! socket) when there is one.
//!
//! A line says who (uid, `SUDO_USER`), when, which command, what changed
//! (variable names, never their values; the plan's steps; image ids), the
//! exit code and the duration. Nothing that holds a value of the
//! configuration is ever written: a secret cannot show here.
//!
//! The API for a command: [`Session::begin`] when it starts, [`note`] what
//! it changes as it goes, [`Session::finish`] with its exit code; or
//! [`record`] for a whole [`Entry`] at once. Writing the trail never fails
//! the command: a trail that cannot be written is said on stderr.
//!
//! This module sits at the bottom (it needs only [`crate::paths`]): every
//! command may use it.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::paths::Paths;

/// The trail, relative to the root.
pub const LOG: &str = "var/log/conteneur/audit.log";
/// The syslog socket, relative to the root (journald listens on it too).
pub const SYSLOG_SOCKET: &str = "dev/log";
/// The file's mode: root writes, the adm group reads.
pub const MODE: u32 = 0o640;
/// The trail's folder: root enters, the adm group reads.
pub const DIR_MODE: u32 = 0o750;
/// The longest message sent to syslog: past it the line is cut (the file
/// keeps it whole). Many syslog daemons drop longer datagrams.
pub const SYSLOG_MAX: usize = 8 * 1024;

/// The trail's path under the root of `paths`.
pub fn log_path(paths: &Paths) -> PathBuf {
    paths.root.join(LOG)
}

/// One line of the trail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339, UTC, to the second.
    pub time: String,
    pub uid: u32,
    /// The admin behind sudo, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo_user: Option<String>,
    /// The command (`set`, `reconfigure`…).
    pub command: String,
    /// What changed: variable names, the plan's steps, image ids… Never a
    /// value of the configuration.
    #[serde(default)]
    pub changed: serde_json::Map<String, serde_json::Value>,
    pub exit: u8,
    pub duration_ms: u64,
}

/// What the running command noted (one command per process).
static NOTES: Mutex<Option<serde_json::Map<String, serde_json::Value>>> = Mutex::new(None);

/// Notes what the running command changed, under `key` (replacing an
/// earlier note of that key). Only names, steps and ids: never a value of
/// the configuration. Does nothing when no [`Session`] is open.
pub fn note(key: &str, value: impl Into<serde_json::Value>) {
    if let Ok(mut n) = NOTES.lock()
        && let Some(map) = n.as_mut()
    {
        map.insert(key.to_string(), value.into());
    }
}

/// The running command turned out to do nothing (`reconfigure
/// --if-instantiated` on a server never instantiated): no line is written
/// for it.
pub fn skip() {
    if let Ok(mut n) = NOTES.lock() {
        *n = None;
    }
}

/// A command being audited, from its start to its exit code.
pub struct Session {
    command: String,
    started: Instant,
    time: SystemTime,
}

impl Session {
    /// Starts auditing `command`, with what is known of the change at the
    /// start (the variable a `set` changes).
    pub fn begin(command: &str, changed: serde_json::Map<String, serde_json::Value>) -> Session {
        if let Ok(mut n) = NOTES.lock() {
            *n = Some(changed);
        }
        Session {
            command: command.to_string(),
            started: Instant::now(),
            time: SystemTime::now(),
        }
    }

    /// Ends the command with its exit code: the line is written.
    pub fn finish(self, paths: &Paths, exit: u8) {
        // None: skipped.
        let Some(changed) = NOTES.lock().ok().and_then(|mut n| n.take()) else {
            return;
        };
        let entry = Entry {
            time: rfc3339(self.time),
            uid: nix::unistd::getuid().as_raw(),
            sudo_user: std::env::var("SUDO_USER").ok().filter(|u| !u.is_empty()),
            command: self.command,
            changed,
            exit,
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        record(paths, &entry);
    }
}

/// Appends `entry` to the trail and sends it to syslog. A failure is said
/// on stderr, never returned: the command's own result stands.
pub fn record(paths: &Paths, entry: &Entry) {
    let line = match serde_json::to_string(entry) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("conteneur: audit: {e}");
            return;
        }
    };
    let path = log_path(paths);
    if let Err(e) = append(&path, &line) {
        eprintln!("conteneur: audit: cannot append to {}: {e}", path.display());
    }
    syslog(&paths.root.join(SYSLOG_SOCKET), &line);
}

/// One write of the whole line, in append mode: lines of concurrent
/// commands do not mix.
fn append(path: &Path, line: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        // Only the trail's own folder is closed: `var` and `var/log` are
        // the system's, which others (nginx's workers) must cross.
        if let Some(up) = dir.parent() {
            crate::folders::create_dir_all(up, crate::folders::PUBLIC)?;
        }
        crate::folders::create_dir_all(dir, DIR_MODE)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(MODE)
        .open(path)?;
    // An existing file keeps no wider mode than ours.
    let mode = f.metadata()?.permissions().mode() & 0o777;
    if mode & !MODE != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(MODE))?;
    }
    let mut buf = line.as_bytes().to_vec();
    buf.push(b'\n');
    f.write_all(&buf)
}

/// Sends `line` to the syslog socket when there is one: best effort, one
/// datagram, never blocking: a syslog that does not read (its queue full)
/// loses the line, the file keeps it.
fn syslog(socket: &Path, line: &str) {
    if !socket.exists() {
        return;
    }
    let Ok(s) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    if s.set_nonblocking(true).is_err() {
        return;
    }
    // facility auth-priv (10), severity notice (5).
    let mut msg = format!(
        "<{}>conteneur[{}]: audit {line}",
        10 * 8 + 5,
        std::process::id()
    );
    if msg.len() > SYSLOG_MAX {
        let mut cut = SYSLOG_MAX;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
    }
    let _ = s.send_to(msg.as_bytes(), socket);
}

/// `t` as RFC 3339 UTC, to the second.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Why `--since` was not understood.
#[derive(Debug, thiserror::Error)]
#[error(
    "--since '{0}': expected a time (2026-12-07T10:00:00Z, 2026-12-07) or a duration before now (10m, 2h, 3days)"
)]
pub struct SinceError(String);

/// Reads `--since`: an RFC 3339 time, a date, or a duration before `now`.
pub fn parse_since(text: &str, now: SystemTime) -> Result<SystemTime, SinceError> {
    let t = text.trim();
    if let Ok(d) = humantime::parse_duration(t) {
        return now
            .checked_sub(d)
            .ok_or_else(|| SinceError(text.to_string()));
    }
    if let Ok(time) = humantime::parse_rfc3339_weak(t) {
        return Ok(time);
    }
    if let Ok(time) = humantime::parse_rfc3339_weak(&format!("{t} 00:00:00")) {
        return Ok(time);
    }
    Err(SinceError(text.to_string()))
}

/// Why the trail could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read the audit trail {path}: {error}")]
    Io { path: String, error: std::io::Error },
}

/// The lines of the trail written at or after `since` (every line without
/// it), as written; lines that are not ours are named on stderr and left
/// out.
pub fn read(paths: &Paths, since: Option<SystemTime>) -> Result<Vec<Entry>, ReadError> {
    let path = log_path(paths);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(ReadError::Io {
                path: path.display().to_string(),
                error,
            });
        }
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = match serde_json::from_str(line) {
            Ok(e) => e,
            Err(e) => {
                eprintln!(
                    "conteneur: {}:{}: not an audit line: {e}",
                    path.display(),
                    n + 1
                );
                continue;
            }
        };
        if let Some(since) = since {
            match humantime::parse_rfc3339_weak(&entry.time) {
                Ok(t) if t >= since => {}
                _ => continue,
            }
        }
        out.push(entry);
    }
    Ok(out)
}

/// An entry as `conteneur audit` prints it.
pub fn line(e: &Entry) -> String {
    let who = match &e.sudo_user {
        Some(u) => format!("{u} (uid {})", e.uid),
        None => format!("uid {}", e.uid),
    };
    let changed = if e.changed.is_empty() {
        String::new()
    } else {
        format!(" {}", serde_json::Value::Object(e.changed.clone()))
    };
    format!(
        "{} {who} {} exit {} in {} ms{changed}",
        e.time, e.command, e.exit, e.duration_ms
    )
}

#[cfg(test)]
mod tests;
