//! Where nginx sends each container's ports: the part of the web front
//! that changes when a container is replaced, kept apart from the site the
//! templates render.
//!
//! Each container instance listens on host ports of its own on 127.0.0.1
//! (two instances of one container run side by side during a replace).
//! The rendered site names its backends `conteneur_NAME_PORT` (`PORT` is
//! the configured `port_out`); conteneur writes:
//!
//! - one `upstream conteneur_NAME_PORT { server 127.0.0.1:HOST; }` per
//!   backend, in front of the rendered site (same http-level file);
//! - a `stream { }` block forwarding each `port_out` (on the publish
//!   address) to the same host port, so that `port_out` keeps answering
//!   whichever instance serves (nginx's stream module).
//!
//! A backend the routes do not know (no container yet, or a site written by
//! hand) goes straight to `127.0.0.1:PORT`, as before host ports existed; a
//! port whose host port is `port_out` itself (a snap) has no stream entry.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::conf::directives;
use super::error::ProxyError;

/// The prefix of the backends the site names.
pub const UPSTREAM_PREFIX: &str = "conteneur_";

/// One published port of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// The container's name.
    pub name: String,
    /// Its configured `port_out`.
    pub out: u16,
    /// The address `port_out` is published on (conteneur_publish_address).
    pub listen: String,
    /// The host port on 127.0.0.1 the serving instance listens on.
    pub host: u16,
}

/// Every forward of the web front.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routes {
    pub forwards: Vec<Forward>,
}

impl Routes {
    /// The routes saved by the last apply (none: every backend direct).
    pub fn load(path: &Path) -> Routes {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, path: &Path) -> Result<(), ProxyError> {
        let text = serde_json::to_vec_pretty(self).unwrap_or_default();
        super::files::write_atomic(path, &text).map_err(|e| ProxyError::io(path, "write", e))
    }

    /// The forwards that need nginx's stream module.
    pub fn streams(&self) -> impl Iterator<Item = &Forward> {
        self.forwards.iter().filter(|f| f.host != f.out)
    }
}

/// The backend name of a container's port, as the site template writes it.
pub fn upstream_name(name: &str, out: u16) -> String {
    format!("{UPSTREAM_PREFIX}{name}_{out}")
}

/// The `conteneur_NAME_PORT` backends a site's `proxy_pass` lines name,
/// with their port.
fn referenced(site: &str) -> BTreeSet<(String, u16)> {
    let mut out = BTreeSet::new();
    for d in directives(site) {
        if d.name != "proxy_pass" {
            continue;
        }
        let Some(arg) = d.args.first() else { continue };
        let Some(rest) = arg.split_once("://").map(|(_, r)| r) else {
            continue;
        };
        let host = rest.split(['/', '?']).next().unwrap_or("");
        if let Some(port) = host
            .strip_prefix(UPSTREAM_PREFIX)
            .and_then(|n| n.rsplit_once('_'))
            .and_then(|(_, p)| p.parse::<u16>().ok())
        {
            out.insert((host.to_string(), port));
        }
    }
    out
}

/// What [`render`] gives: the http-level backends and the stream forwards,
/// each with whether nginx needs it at all.
pub struct Rendered {
    pub upstreams: String,
    pub has_upstreams: bool,
    pub stream: String,
    pub has_streams: bool,
}

/// The backends file (one upstream per backend the site names or the routes
/// know) and the stream file.
pub fn render(site: &str, routes: &Routes) -> Rendered {
    let mut backends: std::collections::BTreeMap<String, u16> =
        referenced(site).into_iter().collect();
    for f in &routes.forwards {
        backends.insert(upstream_name(&f.name, f.out), f.host);
    }
    let mut head = String::from(
        "# Written by conteneur beside the rendered site: where each\n\
         # container's port really is now (it changes at each replace).\n",
    );
    for (name, host) in &backends {
        head.push_str(&format!(
            "upstream {name} {{\n    server 127.0.0.1:{host};\n}}\n"
        ));
    }
    let mut stream = String::from(
        "# Written by conteneur: each container's port_out, forwarded to the\n\
         # instance that serves now (nginx's stream module).\n",
    );
    let streams: Vec<&Forward> = routes.streams().collect();
    if !streams.is_empty() {
        stream.push_str("stream {\n");
        for f in streams {
            stream.push_str(&format!(
                "    # {}\n    server {{\n        listen {}:{};\n        proxy_pass 127.0.0.1:{};\n        proxy_connect_timeout 5s;\n    }}\n",
                f.name, f.listen, f.out, f.host
            ));
        }
        stream.push_str("}\n");
    }
    Rendered {
        has_upstreams: !backends.is_empty(),
        upstreams: head,
        has_streams: routes.streams().next().is_some(),
        stream,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_backends_go_to_their_host_port_and_unknown_ones_direct() {
        let site = "server { location /web/ { proxy_pass http://conteneur_web_8080/; }\n\
                    location /x/ { proxy_pass http://conteneur_my_app_9090/; }\n\
                    location /y/ { proxy_pass http://127.0.0.1:7000/; } }\n";
        let routes = Routes {
            forwards: vec![
                Forward {
                    name: "web".into(),
                    out: 8080,
                    listen: "127.0.0.1".into(),
                    host: 41234,
                },
                Forward {
                    name: "snap".into(),
                    out: 7070,
                    listen: "127.0.0.1".into(),
                    host: 7070,
                },
            ],
        };
        let r = render(site, &routes);
        let (live, stream) = (r.upstreams, r.stream);
        assert!(
            live.contains("upstream conteneur_web_8080 {\n    server 127.0.0.1:41234;"),
            "{live}"
        );
        assert!(
            live.contains("upstream conteneur_my_app_9090 {\n    server 127.0.0.1:9090;"),
            "{live}"
        );
        assert!(r.has_upstreams && r.has_streams);
        assert!(
            stream.contains("listen 127.0.0.1:8080;\n        proxy_pass 127.0.0.1:41234;"),
            "{stream}"
        );
        assert!(!stream.contains("7070"), "{stream}");
        let empty = render("server { }", &Routes::default());
        assert!(!empty.stream.contains("stream {"), "{}", empty.stream);
        assert!(!empty.has_upstreams && !empty.has_streams);
    }
}
