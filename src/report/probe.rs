//! The reporter's quicker health probe of a TCP port.
//!
//! `status` probes a container's port on 127.0.0.1 (nginx's stream
//! listener for `port_out`, or the engine's published port) by connecting
//! and then waiting 300 ms ([`crate::converge::tcp_probe`]): nginx and
//! Docker's userland proxy accept the connection even when nothing listens
//! in the container, and hang up only once they found that out. A round of
//! the reporter knows more: the container's addresses on the engine's
//! networks (from the engine's record it asks anyway). So it asks both
//! ends at once: the host port must accept the connection, and the
//! container's port, at the container's own address, too. A port nothing
//! listens on refuses at once, so there is nothing to wait for (200
//! containers: the wait alone was most of a round). What it does not see
//! is the link between the two ends failing alone (the engine's port proxy
//! gone while its container runs): `status` does.

use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpStream;

use crate::plan::launch::Launch;
use crate::run::status::PROBE_TIMEOUT;

/// Whether a TCP connection to `addr` is accepted within the probe's
/// bound; why not otherwise.
async fn accepts(addr: SocketAddr) -> Result<(), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
    }
}

/// The health of `d`, whose container has `addresses` on its engine's
/// networks, when its check is a TCP probe and an address is known; None
/// otherwise (the usual probe is made then).
pub async fn quick_health(d: &Launch, addresses: &[IpAddr]) -> Option<String> {
    if d.health.command.is_some() || d.health.path.is_some() {
        return None;
    }
    let port = d.health.port?;
    let inside = d.ports.iter().find(|p| p.host == port)?.container;
    let address = *addresses.first()?;
    let host = accepts(SocketAddr::from(([127, 0, 0, 1], port)));
    let container = accepts(SocketAddr::new(address, inside));
    Some(match tokio::join!(host, container) {
        (Ok(()), Ok(())) => "healthy".to_string(),
        (Err(e), _) => format!("unhealthy: port {port} does not accept connections: {e}"),
        (Ok(()), Err(e)) => format!(
            "unhealthy: port {port} accepts connections but nothing answers on port {inside} in the container ({e})"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::launch::{Health, Port};

    fn launch(host: u16, inside: u16) -> Launch {
        let mut d = crate::plan::launch::sample("web", "1.0", host);
        d.ports = vec![Port {
            container: inside,
            host,
            address: "127.0.0.1".into(),
        }];
        d.health = Health {
            path: None,
            port: Some(host),
            command: None,
        };
        d
    }

    #[tokio::test]
    async fn both_ports_must_accept() {
        // The host port, and the "container's" port on another address of
        // the loopback network (as the engine's bridge would be).
        let host = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let hp = host.local_addr().unwrap().port();
        let inner = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
        let ip = inner.local_addr().unwrap().port();
        let at: IpAddr = "127.0.0.2".parse().unwrap();
        let d = launch(hp, ip);
        assert_eq!(quick_health(&d, &[at]).await.as_deref(), Some("healthy"));
        // Nothing inside: refused at once.
        drop(inner);
        let h = quick_health(&d, &[at]).await.unwrap();
        assert!(
            h.starts_with(&format!(
                "unhealthy: port {hp} accepts connections but nothing answers on port {ip}"
            )),
            "{h}"
        );
        drop(host);
        let h = quick_health(&d, &[at]).await.unwrap();
        assert!(
            h.starts_with(&format!("unhealthy: port {hp} does not accept connections")),
            "{h}"
        );
        // No address, an HTTP check: the usual probe.
        assert_eq!(quick_health(&d, &[]).await, None);
        let mut http = d.clone();
        http.health.path = Some("/".into());
        assert_eq!(quick_health(&http, &[at]).await, None);
    }
}
