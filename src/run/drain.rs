//! Draining replaced containers: once nginx sends a container's new
//! requests to its new instance, the old one (`NAME.old.ID`, retired: no
//! restart policy, no network alias) is given a grace period
//! (`conteneur_drain_grace`) for what it still serves (requests in flight
//! in nginx's old workers, open websockets, clients of `port_out`), then
//! stopped (SIGTERM, its stop timeout, then killed) and removed.
//!
//! The retirements are kept in a journal, `STATE/drain/journal.json`, written
//! atomically *before* nginx is switched: when it cannot be written, the
//! run stops before the switch and the old containers keep serving. No
//! process holds a drain: whoever comes next completes the retirements
//! that are due ([`complete_due`]), under the run lock:
//!
//! - the next `instance` or `reconfigure` (its plan removes them);
//! - `conteneur status --repair`;
//! - `conteneur drain`, which the .deb's `conteneur-drain.timer` runs
//!   every 15 s.
//!
//! So a reboot, or a killed process, loses no drain: the journal is on
//! disk, and a retired instance the reboot stopped stays stopped (its
//! restart policy is `no`) until it is removed. A grace period of 0 stops
//! them within the run.
//!
//! Journals of older conteneur releases (`STATE/drain/*.json`, one per
//! detached `conteneur drain FILE` process) are read as well, so that an
//! upgrade during a drain loses nothing; they are removed once completed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::backend::Backends;
use crate::converge::Draining;
use crate::paths::Paths;
use crate::plan::observed::Kind;

/// The journal's folder, under the state folder (older releases kept their
/// jobs there too).
const DIR: &str = "drain";
/// The journal's file, in [`DIR`].
pub const JOURNAL: &str = "journal.json";
/// The journal's format.
const FORMAT: u32 = 1;

/// One replaced instance draining.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retirement {
    pub backend: Kind,
    pub id: String,
    /// Its name while it drains (`NAME.old.ID`).
    pub name: String,
    /// When it is stopped (seconds since the epoch).
    pub until: u64,
    /// Seconds it is given to stop.
    pub stop_timeout: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Journal {
    format: u32,
    retirements: Vec<Retirement>,
}

/// An older release's job file (`STATE/drain/*.json`).
#[derive(Debug, Clone, Deserialize)]
struct LegacyJob {
    until: u64,
    containers: Vec<LegacyContainer>,
}

#[derive(Debug, Clone, Deserialize)]
struct LegacyContainer {
    backend: Kind,
    id: String,
    name: String,
    stop_timeout: u32,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn journal_path(paths: &Paths) -> PathBuf {
    paths.state.join(DIR).join(JOURNAL)
}

/// The journal as it is on disk; an unreadable one is an error (never
/// taken for an empty one: its retirements would be left running).
fn read(paths: &Paths) -> Result<Journal, String> {
    let path = journal_path(paths);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not a drain journal: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Journal {
            format: FORMAT,
            ..Journal::default()
        }),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes the journal atomically (temporary file, fsync, rename, folder
/// fsync); an empty one is removed.
fn write(paths: &Paths, journal: &Journal) -> Result<(), String> {
    let path = journal_path(paths);
    if journal.retirements.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("{}: {e}", path.display()))
            }
            _ => Ok(()),
        };
    }
    let text = serde_json::to_vec_pretty(journal).map_err(|e| e.to_string())?;
    // Names and ids only: root's, but nothing secret in it.
    let dir = crate::atomic::folder_of(&path);
    crate::folders::create_dir_all(dir, crate::folders::PUBLIC)
        .and_then(|()| crate::atomic::write(&path, &text, 0o644))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Older releases' jobs: (file, retirements).
fn legacy(paths: &Paths) -> Vec<(PathBuf, Vec<Retirement>)> {
    let Ok(entries) = std::fs::read_dir(paths.state.join(DIR)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "json") || e.file_name() == JOURNAL {
            continue;
        }
        let Some(job) = std::fs::read(&p)
            .ok()
            .and_then(|b| serde_json::from_slice::<LegacyJob>(&b).ok())
        else {
            continue;
        };
        let r = job
            .containers
            .into_iter()
            .map(|c| Retirement {
                backend: c.backend,
                id: c.id,
                name: c.name,
                until: job.until,
                stop_timeout: c.stop_timeout,
            })
            .collect();
        out.push((p, r));
    }
    out
}

/// Every retirement recorded, the journal's and older releases'.
pub fn all(paths: &Paths) -> Vec<Retirement> {
    let mut out = read(paths).map(|j| j.retirements).unwrap_or_default();
    out.extend(legacy(paths).into_iter().flat_map(|(_, r)| r));
    out
}

/// The instances draining, as the plan and `status` read them: id →
/// seconds left (0: due).
pub fn draining(paths: &Paths) -> BTreeMap<String, u64> {
    let now = now();
    all(paths)
        .into_iter()
        .map(|r| (r.id, r.until.saturating_sub(now)))
        .collect()
}

/// Records the instances that will drain, `grace` from now, before nginx
/// is switched away from them. An error (the journal cannot be read or
/// written: the disk full, the folder not writable) stops the run before
/// the switch: the old instances keep serving, never left running with
/// nothing to stop them.
pub fn record(paths: &Paths, containers: &[Draining], grace: Duration) -> Result<(), String> {
    if containers.is_empty() {
        return Ok(());
    }
    let mut journal = read(paths)?;
    journal.format = FORMAT;
    let until = now() + grace.as_secs();
    for d in containers {
        journal.retirements.retain(|r| r.id != d.id);
        journal.retirements.push(Retirement {
            backend: d.backend,
            id: d.id.clone(),
            name: d.name.clone(),
            until,
            stop_timeout: d.stop_timeout,
        });
    }
    write(paths, &journal)
}

/// Takes back what [`record`] wrote for `ids` (the switch did not happen:
/// those instances still serve).
pub fn forget(paths: &Paths, ids: &[String]) -> Result<(), String> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut journal = read(paths)?;
    journal.retirements.retain(|r| !ids.contains(&r.id));
    write(paths, &journal)
}

/// Stops and removes the retirements that are due (all of them when
/// `all_now`), and those whose container is gone, then takes them out of
/// the journal. The caller holds the run lock. Returns what it says.
pub async fn complete_due(
    paths: &Paths,
    backends: &Backends,
    all_now: bool,
) -> Result<String, String> {
    let journal = read(paths)?;
    let legacy = legacy(paths);
    let now = now();
    let due = |r: &Retirement| all_now || r.until <= now;
    let mut todo: Vec<Retirement> = journal
        .retirements
        .iter()
        .filter(|r| due(r))
        .cloned()
        .collect();
    todo.extend(
        legacy
            .iter()
            .flat_map(|(_, r)| r.iter())
            .filter(|r| due(r))
            .cloned(),
    );
    if todo.is_empty() {
        return Ok(String::new());
    }
    let failed = stop_all(backends, &todo).await;
    let done = |r: &Retirement| due(r) && !failed.iter().any(|(id, _)| id == &r.id);
    let mut kept = journal.clone();
    kept.retirements.retain(|r| !done(r));
    kept.format = FORMAT;
    write(paths, &kept)?;
    for (file, rs) in legacy {
        if rs.iter().all(done) {
            let _ = std::fs::remove_file(file);
        }
    }
    let mut said = format!(
        "drained: {} replaced container(s) stopped and removed",
        todo.len() - failed.len()
    );
    for (id, e) in &failed {
        said.push_str(&format!("\n{id}: {e} (kept in the drain journal)"));
    }
    if failed.is_empty() {
        Ok(said)
    } else {
        Err(said)
    }
}

/// Stops and removes each one, in parallel; returns those that failed
/// (id, why). A container already gone is done.
async fn stop_all(backends: &Backends, todo: &[Retirement]) -> Vec<(String, String)> {
    let stops = todo.iter().map(|c| async move {
        let b = backends.require(c.backend).map_err(|e| e.to_string())?;
        match b.running(&c.id).await {
            // Gone already (removed by a run): nothing left to do. Were the
            // engine only unreachable, a container still there would be a
            // leftover the next run's plan removes.
            Err(_) => return Ok(()),
            // Stopped already (a reboot): only removed.
            Ok(false) => {}
            Ok(true) => {
                if let Err(e) = b.stop(&c.id, c.stop_timeout).await {
                    return Err(format!("stopping {}: {e}", c.name));
                }
            }
        }
        b.remove(&c.id)
            .await
            .map_err(|e| format!("removing {}: {e}", c.name))
    });
    futures_util::future::join_all(stops)
        .await
        .into_iter()
        .zip(todo)
        .filter_map(|(r, c)| r.err().map(|e| (c.id.clone(), e)))
        .collect()
}

/// After a run's switch: the retired instances stop now when there is no
/// grace period; else they drain, and the journal says until when.
pub async fn hand_over(
    paths: &Paths,
    backends: &Backends,
    containers: &[Draining],
    grace: Duration,
) -> Result<String, String> {
    if containers.is_empty() {
        return Ok(String::new());
    }
    if grace.is_zero() {
        return complete_due(paths, backends, false).await;
    }
    Ok(format!(
        "{} replaced container(s) drain until {} (drain journal {}; completed by \
         conteneur-drain.timer, `status --repair` or the next run)",
        containers.len(),
        clock(now() + grace.as_secs()),
        journal_path(paths).display()
    ))
}

/// A time of day (UTC).
fn clock(t: u64) -> String {
    format!(
        "{:02}:{:02}:{:02} UTC",
        (t / 3600) % 24,
        (t / 60) % 60,
        t % 60
    )
}

/// `conteneur drain`: completes the retirements that are due, under the
/// run lock (a run in progress completes them itself: nothing to do).
pub async fn drain_main(paths: &Paths) -> Result<String, String> {
    if all(paths).is_empty() {
        return Ok(String::new());
    }
    let _lock = match super::RunLock::acquire(paths, "drain") {
        Ok(l) => l,
        Err(super::RunError::Locked { .. }) => return Ok(String::new()),
        Err(e) => return Err(e.to_string()),
    };
    let backends = Backends::connect(&paths.state).await;
    complete_due(paths, &backends, false).await
}

/// The journal's path, for messages and tests.
pub fn path(paths: &Paths) -> PathBuf {
    journal_path(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        let p = Paths::new(dir.path());
        (dir, p)
    }

    fn draining(id: &str) -> Draining {
        Draining {
            backend: Kind::Docker,
            id: id.into(),
            name: format!("web.old.{id}"),
            stop_timeout: 10,
        }
    }

    #[test]
    fn recorded_then_forgotten() {
        let (_d, p) = paths();
        record(&p, &[draining("a"), draining("b")], Duration::from_secs(30)).unwrap();
        let left = super::draining(&p);
        assert_eq!(left.len(), 2);
        assert!(left["a"] > 25 && left["a"] <= 30, "{left:?}");
        forget(&p, &["a".into()]).unwrap();
        assert_eq!(super::draining(&p).len(), 1);
        forget(&p, &["b".into()]).unwrap();
        assert!(!path(&p).exists(), "an empty journal is removed");
    }

    #[test]
    fn an_unreadable_journal_stops_a_record() {
        let (_d, p) = paths();
        std::fs::create_dir_all(p.state.join(DIR)).unwrap();
        std::fs::write(path(&p), b"{not json").unwrap();
        let e = record(&p, &[draining("a")], Duration::from_secs(30)).unwrap_err();
        assert!(e.contains("not a drain journal"), "{e}");
    }

    #[test]
    fn a_journal_that_cannot_be_written_stops_a_record() {
        let (_d, p) = paths();
        std::fs::create_dir_all(&p.state).unwrap();
        // The journal's place is taken by a folder: no rename can land.
        std::fs::create_dir_all(path(&p).join("x")).unwrap();
        assert!(record(&p, &[draining("a")], Duration::from_secs(30)).is_err());
    }

    #[test]
    fn older_releases_jobs_are_read() {
        let (_d, p) = paths();
        let dir = p.state.join(DIR);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("1-2.json"),
            br#"{"until": 1, "pid": 4242, "containers": [{"backend": "docker", "id": "old1", "name": "w.old.old1", "stop_timeout": 10}]}"#,
        )
        .unwrap();
        assert_eq!(super::draining(&p).get("old1"), Some(&0));
    }
}
