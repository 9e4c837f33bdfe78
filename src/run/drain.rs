//! Draining replaced containers: once nginx sends a container's new
//! requests to its new instance, the old one is given a grace period
//! (`conteneur_drain_grace`) for what it still serves (requests in flight
//! in nginx's old workers, open websockets, clients of `port_out`), then
//! stopped (SIGTERM, its stop timeout, then killed) and removed.
//!
//! The run does not wait for it: it hands the containers to a drainer, a
//! detached `conteneur drain JOB` process, and returns once the new
//! instances serve. The job file (`STATE/drain/*.json`) says which
//! containers and until when, and which process holds them, so that the
//! next run's plan leaves them alone while the drainer lives
//! ([`draining`]), and removes them when it died. A grace period of 0
//! stops them within the run instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::backend::Backends;
use crate::converge::Draining;
use crate::paths::Paths;
use crate::plan::observed::Kind;

/// The drainers' folder, under the state folder.
pub const DRAIN_DIR: &str = "drain";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Container {
    backend: Kind,
    id: String,
    name: String,
    stop_timeout: u32,
}

/// One drainer's work.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    /// When the containers are stopped (seconds since the epoch).
    until: u64,
    containers: Vec<Container>,
    /// The drainer's pid, once started.
    #[serde(default)]
    pid: Option<u32>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A time of day (UTC) for the plan's cause.
fn clock(t: u64) -> String {
    format!(
        "{:02}:{:02}:{:02} UTC",
        (t / 3600) % 24,
        (t / 60) % 60,
        t % 60
    )
}

fn dir(paths: &Paths) -> PathBuf {
    paths.state.join(DRAIN_DIR)
}

fn is_drainer(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            let c = String::from_utf8_lossy(&c);
            c.contains("conteneur") && c.contains("drain")
        })
        .unwrap_or(false)
}

/// The containers a living drainer holds: id → when it stops them.
pub fn draining(paths: &Paths) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir(paths)) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let Some(job) = std::fs::read(&p)
            .ok()
            .and_then(|b| serde_json::from_slice::<Job>(&b).ok())
        else {
            continue;
        };
        if job.pid.is_some_and(is_drainer) {
            for c in job.containers {
                out.insert(c.id, clock(job.until));
            }
        }
    }
    out
}

/// A job of `containers` draining `grace` from now.
fn job_of(containers: &[Draining], grace: Duration) -> Job {
    Job {
        until: now() + grace.as_secs(),
        containers: containers
            .iter()
            .map(|d| Container {
                backend: d.backend,
                id: d.id.clone(),
                name: d.name.clone(),
                stop_timeout: d.stop_timeout,
            })
            .collect(),
        pid: None,
    }
}

/// Writes the job of the containers that will drain, before nginx is
/// switched away from them: when it cannot be written (the drain folder
/// full, or not writable), the run stops before the switch, and the old
/// containers keep serving, never left running with no drainer. Returns
/// its file; none when nothing drains, or when `grace` is zero (they are
/// stopped within the run).
pub fn prepare(
    paths: &Paths,
    containers: &[Draining],
    grace: Duration,
) -> Result<Option<PathBuf>, String> {
    if containers.is_empty() || grace.is_zero() {
        return Ok(None);
    }
    let d = dir(paths);
    // Jobs name the containers only: root's, but nothing secret in them.
    crate::folders::create_dir_all(&d, crate::folders::PUBLIC)
        .map_err(|e| format!("{}: {e}", d.display()))?;
    let file = d.join(format!("{}-{}.json", now(), std::process::id()));
    write_job(&file, &job_of(containers, grace))?;
    Ok(Some(file))
}

/// Hands `containers` over: stopped within the run when `grace` is zero,
/// else by a detached drainer when it ends, from the job [`prepare`] wrote
/// (`job`; written now when there is none). Returns what it says of it.
pub async fn hand_over(
    paths: &Paths,
    backends: &Backends,
    containers: &[Draining],
    grace: Duration,
    job: Option<&Path>,
) -> Result<String, String> {
    if containers.is_empty() {
        // The switch did not happen: nothing drains.
        if let Some(file) = job {
            let _ = std::fs::remove_file(file);
        }
        return Ok(String::new());
    }
    let mut job_now = job_of(containers, grace);
    if grace.is_zero() {
        stop_all(backends, &job_now).await;
        return Ok(format!(
            "stopped {} replaced container(s)",
            containers.len()
        ));
    }
    let file = match job {
        Some(f) => f.to_path_buf(),
        None => match prepare(paths, containers, grace) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(String::new()),
            Err(e) => {
                // No job, no drainer: stop them now rather than leave them
                // running.
                stop_all(backends, &job_now).await;
                return Err(format!(
                    "the drain job could not be written ({e}): the replaced containers were stopped at once"
                ));
            }
        },
    };
    match spawn(paths, &file) {
        Ok(pid) => {
            job_now.pid = Some(pid);
            // The drainer has its job already; the pid tells the next run
            // that someone holds these containers.
            write_job(&file, &job_now).map_err(|e| {
                format!(
                    "the drainer (pid {pid}) runs, but its pid could not be recorded ({e}): \
                     the next run may stop the replaced containers before their grace period ends"
                )
            })?;
            Ok(format!(
                "{} replaced container(s) drain until {} (conteneur drain, pid {pid})",
                containers.len(),
                clock(job_now.until)
            ))
        }
        Err(e) => {
            // No drainer: stop them now rather than leave them running.
            let _ = std::fs::remove_file(&file);
            stop_all(backends, &job_now).await;
            Err(format!(
                "the drainer could not start ({e}): the replaced containers were stopped at once"
            ))
        }
    }
}

/// Writes `job` to `file` through a temporary file renamed over it; a
/// failure leaves no temporary file behind.
fn write_job(file: &Path, job: &Job) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(job).unwrap_or_default();
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, file))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: {e}", file.display())
        })
}

/// Starts `conteneur --root ROOT drain FILE` in a session of its own, so
/// that it outlives the run (and a terminal that closes), with its output
/// in `drain.log`.
fn spawn(paths: &Paths, file: &Path) -> Result<u32, String> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir(paths).join("drain.log"))
        .map_err(|e| e.to_string())?;
    let mut c = std::process::Command::new(exe);
    c.arg("--root")
        .arg(&paths.root)
        .arg("drain")
        .arg(file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    c.process_group(0);
    let child = c.spawn().map_err(|e| e.to_string())?;
    Ok(child.id())
}

async fn stop_all(backends: &Backends, job: &Job) {
    let stops = job.containers.iter().map(|c| async move {
        let Ok(b) = backends.require(c.backend) else {
            return;
        };
        if let Err(e) = b.stop(&c.id, c.stop_timeout).await {
            eprintln!("conteneur drain: stopping {}: {e}", c.name);
        }
        if let Err(e) = b.remove(&c.id).await {
            eprintln!("conteneur drain: removing {}: {e}", c.name);
        }
    });
    futures_util::future::join_all(stops).await;
}

/// `conteneur drain FILE`: waits for the job's end of grace, then stops and
/// removes its containers, and its job file.
pub async fn drain_main(paths: &Paths, file: &Path) -> Result<(), String> {
    let job: Job = std::fs::read(file)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let wait = job.until.saturating_sub(now());
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let backends = Backends::connect(&paths.state).await;
    stop_all(&backends, &job).await;
    let _ = std::fs::remove_file(file);
    Ok(())
}
