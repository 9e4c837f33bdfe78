//! A bounded request loop, to measure failed requests during an update:
//! plain HTTP/1.0 GETs to 127.0.0.1 at a steady rate, each answer counted
//! by status and by body (the demo images answer their version, "web 1.0").
//! Bounded in time and in count; every connect and read has a timeout.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a loop saw.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub total: usize,
    /// "200", "502", or "error: …" when no HTTP answer came.
    pub by_status: BTreeMap<String, usize>,
    /// The bodies of 2xx answers, trimmed.
    pub by_body: BTreeMap<String, usize>,
    /// The first failures, for the message.
    pub failures: Vec<String>,
    pub elapsed: Duration,
}

impl Tally {
    /// Requests without a 2xx answer.
    pub fn failed(&self) -> usize {
        self.by_status
            .iter()
            .filter(|(s, _)| !s.starts_with('2'))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn rate(&self) -> f64 {
        self.total as f64 / self.elapsed.as_secs_f64().max(0.001)
    }

    /// Every 2xx body is one of `allowed`.
    pub fn only(&self, allowed: &[&str]) -> bool {
        self.by_body.keys().all(|b| allowed.contains(&b.as_str()))
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests in {:.1} s ({:.0}/s), {} failed; status {:?}; answers {:?}; first failures {:?}",
            self.total,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.failed(),
            self.by_status,
            self.by_body,
            self.failures
        )
    }
}

/// One GET; (status, body) or why none came.
pub fn get_once(addr: SocketAddr, path: &str) -> Result<(String, String), String> {
    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: conteneur-load\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP answer")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .ok_or("no status line")?
        .to_string();
    Ok((status, body.trim().to_string()))
}

/// A running loop.
pub struct Load {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Tally>,
}

/// GETs `path` on `addr`, `rate` a second, until [`Load::finish`], at most
/// for `max` (and so at most `rate × max` requests).
pub fn start(addr: SocketAddr, path: &str, rate: u32, max: Duration) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let path = path.to_string();
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        let mut t = Tally::default();
        let begin = Instant::now();
        let period = Duration::from_secs(1) / rate.max(1);
        let limit = (f64::from(rate) * max.as_secs_f64()) as usize;
        while !flag.load(Ordering::Relaxed) && begin.elapsed() < max && t.total < limit {
            let next = begin + period * (t.total as u32 + 1);
            t.total += 1;
            match get_once(addr, &path) {
                Ok((status, body)) => {
                    if status.starts_with('2') {
                        *t.by_body.entry(body).or_default() += 1;
                    } else if t.failures.len() < 10 {
                        t.failures.push(format!(
                            "{status} at {:.2} s",
                            begin.elapsed().as_secs_f64()
                        ));
                    }
                    *t.by_status.entry(status).or_default() += 1;
                }
                Err(e) => {
                    if t.failures.len() < 10 {
                        t.failures
                            .push(format!("{e} at {:.2} s", begin.elapsed().as_secs_f64()));
                    }
                    *t.by_status.entry(format!("error: {e}")).or_default() += 1;
                }
            }
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        t.elapsed = begin.elapsed();
        t
    });
    Load { stop, handle }
}

impl Load {
    pub fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}
