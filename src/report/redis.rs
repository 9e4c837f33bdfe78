//! The Redis target: one hash per container, and the set of the server's
//! containers, each key living three intervals (docs/monitoring.md).
//!
//! ```text
//! conteneur:SERVER:ID          hash: name, engine, id, desired, state,
//!                              running, health, healthy, restarts, image,
//!                              tag, image_id, drift, cpu_seconds,
//!                              cpu_percent, memory_bytes, processes,
//!                              replicas_running, replicas_desired, updated
//! conteneur:SERVER:containers  set of the IDs above
//! ```
//!
//! Every wait is bounded ([`CONNECT_TIMEOUT`], [`RESPONSE_TIMEOUT`], and
//! [`ROUND_TIMEOUT`] for the whole push): a Redis that is down, refuses the
//! password or stalls costs a round its Redis part, never the reporter.

use std::time::{Duration, SystemTime};

use redis::{AsyncConnectionConfig, IntoConnectionInfo};

use super::{ContainerReport, RedisTarget, Snapshot};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
pub const ROUND_TIMEOUT: Duration = Duration::from_secs(5);

/// The key of a container's hash.
pub fn container_key(server: &str, id: &str) -> String {
    format!("conteneur:{server}:{id}")
}

/// The key of the set of the server's containers.
pub fn set_key(server: &str) -> String {
    format!("conteneur:{server}:containers")
}

/// The fields of a container's hash (absent facts are left out).
pub fn fields(c: &ContainerReport, now: SystemTime) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("name", c.name.clone()),
        ("engine", c.engine.clone()),
        ("id", c.id.clone().unwrap_or_default()),
        ("desired", c.desired.clone()),
        ("state", c.state.clone()),
        ("running", u8::from(c.running).to_string()),
        ("health", c.health.clone()),
        ("healthy", u8::from(c.healthy).to_string()),
        ("restarts", c.restarts.to_string()),
        ("image", c.image.clone()),
        ("tag", c.tag.clone()),
        ("image_id", c.image_id.clone()),
        ("drift", c.drift.clone().unwrap_or_default()),
        (
            "updated",
            now.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
                .to_string(),
        ),
    ];
    if let Some(v) = c.cpu_seconds {
        f.push(("cpu_seconds", format!("{v:.3}")));
    }
    if let Some(v) = c.cpu_percent {
        f.push(("cpu_percent", format!("{v:.2}")));
    }
    if let Some(v) = c.memory_bytes {
        f.push(("memory_bytes", v.to_string()));
    }
    if let Some(v) = c.processes {
        f.push(("processes", v.to_string()));
    }
    if let Some((running, desired)) = c.replicas {
        f.push(("replicas_running", running.to_string()));
        f.push(("replicas_desired", desired.to_string()));
    }
    f
}

/// Why a push failed, without the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedisError {
    #[error("Redis at {url}: {message}")]
    Failed { url: String, message: String },
    #[error("Redis at {url}: no answer within {seconds} s")]
    Stalled { url: String, seconds: u64 },
}

/// Writes `snap`'s containers (those with an id) to the Redis `target`,
/// each key expiring after `ttl`, in one transaction.
pub async fn push(
    target: &RedisTarget,
    server: &str,
    snap: &Snapshot,
    ttl: Duration,
) -> Result<usize, RedisError> {
    match tokio::time::timeout(ROUND_TIMEOUT, push_inner(target, server, snap, ttl)).await {
        Ok(r) => r,
        Err(_) => Err(RedisError::Stalled {
            url: target.shown.clone(),
            seconds: ROUND_TIMEOUT.as_secs(),
        }),
    }
}

async fn push_inner(
    target: &RedisTarget,
    server: &str,
    snap: &Snapshot,
    ttl: Duration,
) -> Result<usize, RedisError> {
    let fail = |e: redis::RedisError| RedisError::Failed {
        url: target.shown.clone(),
        message: message(&e),
    };
    let mut info = target.url.as_str().into_connection_info().map_err(fail)?;
    if let Some(p) = &target.password {
        let settings = info.redis_settings().clone().set_password(p);
        info = info.set_redis_settings(settings);
    }
    let client = redis::Client::open(info).map_err(fail)?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let mut con = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(fail)?;
    let now = snap.time.unwrap_or_else(SystemTime::now);
    let ttl = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
    let set = set_key(server);
    let mut pipe = redis::pipe();
    pipe.atomic();
    let mut ids = Vec::new();
    for c in &snap.containers {
        let Some(id) = &c.id else { continue };
        let key = container_key(server, id);
        pipe.del(&key).ignore();
        pipe.hset_multiple(&key, &fields(c, now)).ignore();
        pipe.expire(&key, ttl).ignore();
        ids.push(id.clone());
    }
    pipe.del(&set).ignore();
    if !ids.is_empty() {
        pipe.sadd(&set, &ids).ignore();
        pipe.expire(&set, ttl).ignore();
    }
    pipe.query_async::<()>(&mut con).await.map_err(fail)?;
    Ok(ids.len())
}

/// Redis's message, without anything of the connection (its URL could
/// hold a user name; the password is never in it).
fn message(e: &redis::RedisError) -> String {
    let text = e.to_string();
    if e.kind() == redis::ErrorKind::AuthenticationFailed
        || text.contains("WRONGPASS")
        || text.contains("NOAUTH")
    {
        return format!("the password was refused (conteneur_report_redis_password): {text}");
    }
    text
}
