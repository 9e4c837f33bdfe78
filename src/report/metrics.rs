//! The Prometheus text of a [`Snapshot`] (text format 0.0.4, which
//! node_exporter's textfile collector reads), with OpenMetrics names:
//! counters end in `_total`, units are suffixes (`_seconds`, `_bytes`),
//! the image's facts are labels of an `_info` gauge of value 1.
//!
//! Labels carry names, engines, images and tags only: never a value of the
//! configuration, so never a secret.

use std::time::SystemTime;

use prometheus::{CounterVec, Encoder, Gauge, GaugeVec, Opts, Registry, TextEncoder};

use super::Snapshot;

/// How the round that made the snapshot went, for the last-run metrics.
#[derive(Debug, Clone, Copy)]
pub struct RunOutcome {
    pub time: SystemTime,
    pub success: bool,
}

/// Why the text could not be made (a programming error: a metric named
/// twice, a wrong label count).
#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> Result<GaugeVec, MetricsError> {
    let g = GaugeVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn single(r: &Registry, name: &str, help: &str) -> Result<Gauge, MetricsError> {
    let g = Gauge::with_opts(Opts::new(name, help))?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn counter(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<CounterVec, MetricsError> {
    let c = CounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The text of `snap`, with the last run's outcome.
pub fn render(snap: &Snapshot, run: RunOutcome) -> Result<String, MetricsError> {
    let r = Registry::new();
    const C: &[&str] = &["name", "engine"];
    let up = gauge(
        &r,
        "conteneur_container_up",
        "1 when the container runs, 0 when it is stopped or missing.",
        C,
    )?;
    let healthy = gauge(
        &r,
        "conteneur_container_healthy",
        "1 when the container answers its health check.",
        C,
    )?;
    let restarts = counter(
        &r,
        "conteneur_container_restarts_total",
        "Times the engine restarted the container.",
        C,
    )?;
    let cpu = counter(
        &r,
        "conteneur_container_cpu_seconds_total",
        "CPU time the container used since it started.",
        C,
    )?;
    let memory = gauge(
        &r,
        "conteneur_container_memory_bytes",
        "Memory the container uses (without the page cache the kernel may take back).",
        C,
    )?;
    let processes = gauge(
        &r,
        "conteneur_container_processes",
        "Processes (tasks) running in the container.",
        C,
    )?;
    let info = gauge(
        &r,
        "conteneur_container_info",
        "The container's image, tag and engine, as labels (value 1).",
        &["name", "engine", "image", "tag", "desired"],
    )?;
    let replicas = gauge(
        &r,
        "conteneur_service_replicas",
        "A swarm service's replicas: running and desired.",
        &["name", "state"],
    )?;
    let engine_up = gauge(
        &r,
        "conteneur_engine_up",
        "1 when the engine answers.",
        &["engine"],
    )?;
    let last_time = single(
        &r,
        "conteneur_last_run_timestamp_seconds",
        "When the reporter last took the state (Unix time).",
    )?;
    let last_ok = single(
        &r,
        "conteneur_last_run_success",
        "1 when the last round read every engine and wrote every target.",
    )?;
    for c in &snap.containers {
        let l = [c.name.as_str(), c.engine.as_str()];
        up.with_label_values(&l).set(flag(c.running));
        healthy.with_label_values(&l).set(flag(c.healthy));
        restarts.with_label_values(&l).inc_by(c.restarts as f64);
        if let Some(s) = c.cpu_seconds {
            cpu.with_label_values(&l).inc_by(s.max(0.0));
        }
        if let Some(m) = c.memory_bytes {
            memory.with_label_values(&l).set(m as f64);
        }
        if let Some(p) = c.processes {
            processes.with_label_values(&l).set(p as f64);
        }
        info.with_label_values(&[
            c.name.as_str(),
            c.engine.as_str(),
            c.image.as_str(),
            c.tag.as_str(),
            c.desired.as_str(),
        ])
        .set(1.0);
        if let Some((running, desired)) = c.replicas {
            replicas
                .with_label_values(&[c.name.as_str(), "running"])
                .set(running as f64);
            replicas
                .with_label_values(&[c.name.as_str(), "desired"])
                .set(desired as f64);
        }
    }
    for (engine, down) in &snap.engines {
        engine_up
            .with_label_values(&[engine.as_str()])
            .set(flag(down.is_none()));
    }
    let secs = run
        .time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    last_time.set(secs);
    last_ok.set(flag(run.success));
    let mut buf = Vec::new();
    TextEncoder::new().encode(&r.gather(), &mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Writes `text` as `dir/conteneur.prom` atomically (a temporary file in
/// the same folder, then a rename), readable by node_exporter. The folder
/// must exist: it is node_exporter's, not ours.
pub fn write_textfile(dir: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    if !dir.is_dir() {
        return Err(format!(
            "the textfile folder {} does not exist (conteneur_report_textfile; is prometheus-node-exporter installed?)",
            dir.display()
        ));
    }
    let path = dir.join(super::TEXTFILE);
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    // node_exporter reads only *.prom: the temporary file is not one.
    let mut tmp = tempfile::Builder::new()
        .prefix(".conteneur.prom.")
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(fail)?;
    tmp.persist(&path).map_err(|e| fail(e.error))?;
    Ok(())
}
