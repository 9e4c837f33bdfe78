//! Health checks: when a started container counts as up.

use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::body::Bytes;
use tokio::net::TcpStream;

use crate::backend::Backend;
use crate::plan::launch::Health;

/// Waits until the container answers its health check, fails fast when it
/// stops, and gives up after `timeout`.
pub async fn wait_healthy(
    backend: &dyn Backend,
    id: &str,
    health: &Health,
    timeout: Duration,
) -> Result<(), String> {
    // An in-container check: the engine's health status says.
    if health.command.is_some() {
        return super::apps::wait_engine_health(backend, id, timeout).await;
    }
    let deadline = Instant::now() + timeout;
    // Most services answer within a few tens of milliseconds: poll soon,
    // then back off to 200 ms so a slow one does not cost engine calls.
    let mut pause = Duration::from_millis(20);
    let mut first: Option<crate::backend::Liveness> = None;
    // The probes overlap: a new one starts every pause while earlier ones
    // still wait. A port whose connection hangs instead of being refused
    // (QEMU's user-mode forward accepts at once, then retries its SYN to a
    // guest still booting with TCP's backoff: 1 s, 3 s, 7 s) would
    // otherwise make the check late by that backoff; a fresh probe reaches
    // the guest as soon as it listens. Each probe has its own bound.
    let mut probes = futures_util::stream::FuturesUnordered::new();
    let mut last = String::from("no health probe has answered yet (each waits up to 5 s)");
    loop {
        let now = backend.liveness(id).await.map_err(|e| e.to_string())?;
        if !now.running && !now.restarting {
            return Err(
                "it stopped right after starting (see `docker logs`, or lxc-info and the LXC log)"
                    .into(),
            );
        }
        // Under a restart policy a crashing container stays "running"
        // between restarts: a restart is a crash, not a slow start.
        let base = first.get_or_insert_with(|| now.clone());
        if now.restarting || now.restarts > base.restarts || now.started_at != base.started_at {
            return Err(format!(
                "it exits and the engine restarts it (restarted {} time(s) so far): it crashes in a loop (see `docker logs`)",
                now.restarts.max(1)
            ));
        }
        if probes.len() < MAX_PROBES {
            probes.push(probe(health));
        }
        let pause_over = tokio::time::sleep(pause);
        tokio::pin!(pause_over);
        loop {
            tokio::select! {
                Some(result) = futures_util::StreamExt::next(&mut probes) => match result {
                    Ok(()) => return Ok(()),
                    Err(e) => last = e,
                },
                () = &mut pause_over => break,
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("not healthy after {} s: {last}", timeout.as_secs()));
        }
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// At most this many health probes wait at once. A probe is bounded (5 s
/// for an HTTP answer), so with a new one every 200 ms at most 26 wait:
/// the cap is never what holds a fresh probe back (with 8, eight probes
/// stuck in QEMU's SYN backoff held the check 3.5 s past the guest's
/// httpd), it only bounds the sockets.
const MAX_PROBES: usize = 32;

/// One health probe, as `health` says.
async fn probe(health: &Health) -> Result<(), String> {
    match (&health.path, health.port) {
        (_, None) => Ok(()),
        (Some(path), Some(port)) => http_probe(port, path).await,
        (None, Some(port)) => tcp_probe(port).await,
    }
}

/// A TCP probe of 127.0.0.1:`port`. Accepting the connection is not
/// enough: Docker's userland proxy accepts on the host port even when
/// nothing listens in the container, then closes at once. So the probe
/// also waits a moment: a server keeps the connection open (or speaks
/// first), the proxy of a dead port hangs up.
pub async fn tcp_probe(port: u16) -> Result<(), String> {
    use tokio::io::AsyncReadExt;
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("port {port} does not accept connections: {e}"))?;
    let mut buf = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Err(format!(
            "port {port} accepts connections but closes them at once: nothing listens in the container"
        )),
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

/// An HTTP GET of `path` on 127.0.0.1:`port`: healthy on 2xx or 3xx.
pub async fn http_probe(port: u16, path: &str) -> Result<(), String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("port {port} does not accept connections: {e}"))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
        .await
        .map_err(|e| format!("HTTP on port {port}: {e}"))?;
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, format!("127.0.0.1:{port}"))
        .body(Empty::new())
        .map_err(|e| format!("bad health path {path}: {e}"))?;
    let status = tokio::time::timeout(Duration::from_secs(5), sender.send_request(req))
        .await
        .map_err(|_| format!("GET {path} on port {port}: no answer within 5 s"))?
        .map_err(|e| format!("GET {path} on port {port}: {e}"))?
        .status();
    conn.abort();
    if status.is_success() || status.is_redirection() {
        Ok(())
    } else {
        Err(format!("GET {path} on port {port} answered {status}"))
    }
}
