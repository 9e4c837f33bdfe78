//! The web front against the real nginx (Debian's `/usr/sbin/nginx`).
//!
//! Each test runs its own nginx under its own root, on 127.0.0.1 and free
//! high ports, in front of backends the test starts itself (small HTTP and
//! websocket servers on std `TcpListener` threads). Nothing is skipped when
//! nginx, curl or openssl is missing: the test fails and says what to
//! install. Every nginx a test starts is stopped by a guard, even when the
//! test fails.
//!
//! Most sites here are written by hand in the shape the templates render
//! (a `map` for websockets, `server` blocks with one `location /NAME/` per
//! container), to test how a site is published; the last test renders the
//! real template with `conteneur render` and checks the same routes.
//!
//! One test binary (CI links fewer of them), its tests in modules along
//! what they test: `routes` (what a published site answers, hand-written
//! and rendered), `apply` (applying to a running private nginx, and what
//! it refuses), `orphans` (nginx processes left by a killed master),
//! `system` (the system nginx's configuration), `stream` (the backend and
//! port_out files beside the site) and `cli` (`conteneur proxy`). This file
//! holds what they share: backends, clients, sites and the nginx guards.

#[path = "../common/mod.rs"]
mod common;

mod apply;
mod cli;
mod orphans;
mod routes;
mod stream;
mod system;

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use conteneur::paths::Paths;
use conteneur::proxy::{self, Mode, Options, ProxyError};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const TIMEOUT: Duration = Duration::from_secs(10);

// --- what the tests need from the machine ------------------------------------

/// Fails (never skips) when a tool the tests need is missing.
fn require(tool: &str, paths: &[&str]) -> PathBuf {
    for p in paths {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "{tool} is needed by the proxy tests and was not found at {}: install it with \
         scripts/services.sh (or apt-get install nginx curl openssl)",
        paths.join(" or ")
    );
}

fn nginx_bin() -> PathBuf {
    require("nginx", &["/usr/sbin/nginx"])
}

fn curl_bin() -> PathBuf {
    require("curl", &["/usr/bin/curl"])
}

/// A port nobody listens on now (bound then released).
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

// --- backends ----------------------------------------------------------------

/// A server thread on 127.0.0.1, stopped when dropped.
struct Backend {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    fn spawn(handler: fn(TcpStream, &'static str), name: &'static str) -> io::Result<Backend> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(s) = conn {
                    thread::spawn(move || handler(s, name));
                }
            }
        });
        Ok(Backend {
            port,
            stop,
            thread: Some(thread),
        })
    }

    /// A small HTTP server answering with its name and what it received.
    fn http(name: &'static str) -> io::Result<Backend> {
        Backend::spawn(serve_http, name)
    }

    /// A websocket server echoing every text message back.
    fn websocket(name: &'static str) -> io::Result<Backend> {
        Backend::spawn(serve_websocket, name)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop up so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One request: `/redirect` answers a relative redirect to `/login`, `/big`
/// a 1 MiB body (more than nginx buffers in memory), a POST the size of its
/// body; anything else `backend=NAME path=PATH prefix=X-Forwarded-Prefix`.
fn serve_http(stream: TcpStream, name: &'static str) {
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("").to_string();
    let (status, extra, body) = if method == "POST" {
        let len: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        (
            "200 OK",
            String::new(),
            format!("{name} got {len} bytes\n").into_bytes(),
        )
    } else if path == "/redirect" {
        (
            "302 Found",
            "Location: /login\r\n".to_string(),
            b"go to /login\n".to_vec(),
        )
    } else if path == "/big" {
        ("200 OK", String::new(), vec![b'x'; 1 << 20])
    } else {
        let prefix = headers
            .get("x-forwarded-prefix")
            .cloned()
            .unwrap_or_default();
        let proto = headers
            .get("x-forwarded-proto")
            .cloned()
            .unwrap_or_default();
        (
            "200 OK",
            String::new(),
            format!("backend={name} path={path} prefix={prefix} proto={proto}\n").into_bytes(),
        )
    };
    let mut out = stream;
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&body);
    let _ = out.flush();
    let _ = out.shutdown(Shutdown::Write);
}

fn serve_websocket(stream: TcpStream, name: &'static str) {
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let Ok(mut ws) = tungstenite::accept(stream) else {
        return;
    };
    while let Ok(msg) = ws.read() {
        match msg {
            tungstenite::Message::Text(t) => {
                let reply = format!("{name} echoes {}", t.as_str());
                if ws.send(tungstenite::Message::text(reply)).is_err() {
                    return;
                }
            }
            tungstenite::Message::Close(_) => return,
            _ => {}
        }
    }
}

// --- clients -------------------------------------------------------------------

/// A response: status, headers (lowercase names), body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

/// A plain HTTP/1.1 GET to 127.0.0.1:port (no curl: fast enough to loop).
fn http_get(port: u16, path: &str) -> io::Result<Reply> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other(format!("no HTTP head in {text:?}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no status line in {head:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_string(),
    })
}

/// An HTTPS request with curl (self-signed certificate: -k). Returns the
/// status and the body.
fn https(port: u16, path: &str, post: Option<&Path>) -> Result<(u16, String), String> {
    let mut c = Command::new(curl_bin());
    c.args([
        "-sS",
        "-k",
        "--max-time",
        "10",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
    ]);
    if let Some(f) = post {
        c.arg("--data-binary").arg(format!("@{}", f.display()));
    }
    c.arg(format!("https://127.0.0.1:{port}{path}"));
    let out = c.output().map_err(|e| format!("cannot run curl: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    match code.trim().parse() {
        Ok(c) if out.status.success() => Ok((c, body.to_string())),
        _ => Err(format!(
            "curl https://127.0.0.1:{port}{path} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// Sends `text` over a websocket at ws://127.0.0.1:port/path and returns
/// the answer.
fn websocket_round_trip(port: u16, path: &str, text: &str) -> Result<String, String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let url = format!("ws://127.0.0.1:{port}{path}");
    let (mut ws, resp) = tungstenite::client(url.as_str(), stream)
        .map_err(|e| format!("websocket handshake with {url} failed: {e}"))?;
    if resp.status().as_u16() != 101 {
        return Err(format!("{url}: status {}", resp.status()));
    }
    ws.send(tungstenite::Message::text(text))
        .map_err(|e| e.to_string())?;
    let answer = ws.read().map_err(|e| e.to_string())?;
    let answer = answer.to_text().map_err(|e| e.to_string())?.to_string();
    let _ = ws.close(None);
    Ok(answer)
}

// --- sites ---------------------------------------------------------------------

struct Route {
    name: &'static str,
    port: u16,
    websocket: bool,
}

impl Route {
    /// A plain HTTP route (no websocket upgrade).
    fn http(name: &'static str, port: u16) -> Route {
        Route {
            name,
            port,
            websocket: false,
        }
    }
}

struct Tls {
    port: u16,
    cert: PathBuf,
    key: PathBuf,
}

/// A site in the shape the templates render.
fn site(http: u16, tls: Option<&Tls>, routes: &[Route]) -> String {
    let mut locations = String::new();
    for r in routes {
        locations.push_str(&format!(
            "    location = /{n} {{\n        return 301 /{n}/;\n    }}\n\
             \x20   location /{n}/ {{\n\
             \x20       proxy_pass http://127.0.0.1:{p}/;\n\
             \x20       proxy_http_version 1.1;\n\
             \x20       proxy_set_header Host $host;\n\
             \x20       proxy_set_header X-Real-IP $remote_addr;\n\
             \x20       proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
             \x20       proxy_set_header X-Forwarded-Proto $scheme;\n\
             \x20       proxy_set_header X-Forwarded-Prefix /{n};\n\
             \x20       proxy_redirect default;\n\
             \x20       proxy_redirect / /{n}/;\n",
            n = r.name,
            p = r.port
        ));
        if r.websocket {
            locations.push_str(
                "        proxy_set_header Upgrade $http_upgrade;\n\
                 \x20       proxy_set_header Connection $connection_upgrade;\n\
                 \x20       proxy_read_timeout 3600s;\n",
            );
        }
        locations.push_str("    }\n");
    }
    let mut s = format!(
        "# conteneur's site (test)\n\
         map $http_upgrade $connection_upgrade {{\n    default upgrade;\n    '' close;\n}}\n\
         server {{\n    listen 127.0.0.1:{http};\n    server_name localhost;\n    client_max_body_size 10m;\n{locations}}}\n"
    );
    if let Some(t) = tls {
        s.push_str(&format!(
            "server {{\n    listen 127.0.0.1:{} ssl;\n    server_name localhost;\n\
             \x20   client_max_body_size 10m;\n    ssl_certificate {};\n    ssl_certificate_key {};\n{locations}}}\n",
            t.port,
            t.cert.display(),
            t.key.display()
        ));
    }
    s
}

/// A self-signed certificate for localhost, made with openssl.
fn self_signed(dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let openssl = require("openssl", &["/usr/bin/openssl"]);
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-days",
            "1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .map_err(|e| format!("cannot run openssl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "openssl req failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((cert, key))
}

// --- a private nginx under a root of its own -------------------------------------

/// A root with a private nginx, stopped when dropped (test failures too).
struct Front {
    root: tempfile::TempDir,
    paths: Paths,
    opts: Options,
}

impl Front {
    fn new() -> io::Result<Front> {
        let root = tempfile::tempdir()?;
        // Started by root, nginx's workers run as nobody: they must reach
        // their temporary folders under this root.
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))?;
        let paths = Paths::new(root.path());
        let opts = Options {
            nginx: Some(nginx_bin()),
            ..Options::default()
        };
        Ok(Front { root, paths, opts })
    }

    fn staged(&self) -> PathBuf {
        proxy::staged_site(&self.paths)
    }

    fn stage(&self, text: &str) -> io::Result<PathBuf> {
        let p = self.staged();
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(&p, text)?;
        Ok(p)
    }

    /// Stages `text` and applies it.
    fn publish(&self, text: &str) -> Result<proxy::Applied, ProxyError> {
        let staged = self.stage(text).map_err(|e| ProxyError::Staged {
            path: self.staged(),
            source: e,
        })?;
        proxy::apply_with(&self.paths, Mode::Private, &staged, &self.opts)
    }

    fn start(&self) -> Result<proxy::Status, ProxyError> {
        proxy::start_with(&self.paths, &self.opts)
    }

    fn live_site(&self) -> PathBuf {
        proxy::Layout::new(&self.paths, Mode::Private).site
    }

    fn error_log(&self) -> String {
        let log = self
            .paths
            .state
            .join(proxy::PRIVATE_PREFIX)
            .join("logs/error.log");
        std::fs::read_to_string(log).unwrap_or_default()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        if let Err(e) = proxy::stop_with(&self.paths, &self.opts) {
            eprintln!("could not stop the test's nginx: {e}");
        }
        // Whatever the stop said, no master of this root outlives the test.
        common::stop_private_nginx(self.root.path());
    }
}

/// Waits until `f` holds, up to TIMEOUT.
fn eventually(what: &str, mut f: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while !f() {
        if start.elapsed() > TIMEOUT {
            return Err(format!("timed out waiting for {what}"));
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// GETs /path in a loop on another thread until stopped, counting answers
/// that are 200 with `expect` in the body, and every other outcome.
struct Prober {
    ok: Arc<AtomicUsize>,
    bad: Arc<AtomicUsize>,
    last_bad: Arc<std::sync::Mutex<String>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Prober {
    fn start(port: u16, path: &'static str, expect: &'static str) -> Prober {
        let ok = Arc::new(AtomicUsize::new(0));
        let bad = Arc::new(AtomicUsize::new(0));
        let last_bad = Arc::new(std::sync::Mutex::new(String::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (o, b, l, s) = (ok.clone(), bad.clone(), last_bad.clone(), stop.clone());
        let thread = thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match http_get(port, path) {
                    Ok(r) if r.status == 200 && r.body.contains(expect) => {
                        o.fetch_add(1, Ordering::SeqCst);
                    }
                    other => {
                        b.fetch_add(1, Ordering::SeqCst);
                        if let Ok(mut m) = l.lock() {
                            *m = format!("{other:?}");
                        }
                    }
                }
                thread::sleep(Duration::from_millis(5));
            }
        });
        Prober {
            ok,
            bad,
            last_bad,
            stop,
            thread: Some(thread),
        }
    }

    fn ok(&self) -> usize {
        self.ok.load(Ordering::SeqCst)
    }

    /// Stops the loop; returns (good answers, bad ones, the last bad one).
    fn finish(mut self) -> (usize, usize, String) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let last = self.last_bad.lock().map(|m| m.clone()).unwrap_or_default();
        (self.ok(), self.bad.load(Ordering::SeqCst), last)
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// --- a system nginx under a root of its own --------------------------------------

/// A fake Debian nginx under a root: `etc/nginx/nginx.conf` including
/// `etc/nginx/conf.d/*.conf` (by absolute path, as Debian's does), run by
/// the test; its pid, logs and temporary folders under the root too.
struct SystemNginx {
    root: tempfile::TempDir,
    paths: Paths,
    main: PathBuf,
    log: PathBuf,
}

impl SystemNginx {
    fn new(include_conf_d: bool) -> Result<SystemNginx, Box<dyn std::error::Error>> {
        SystemNginx::with(include_conf_d, false)
    }

    /// `modules`: as Debian's nginx.conf, `include modules-enabled/*.conf`
    /// at the top, where libnginx-mod-stream's file loads the module.
    fn with(
        include_conf_d: bool,
        modules: bool,
    ) -> Result<SystemNginx, Box<dyn std::error::Error>> {
        let root = tempfile::tempdir()?;
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))?;
        let r = root.path();
        for d in [
            "etc/nginx/conf.d",
            "etc/nginx/modules-enabled",
            "run",
            "log",
            "tmp",
        ] {
            std::fs::create_dir_all(r.join(d))?;
        }
        let main = r.join("etc/nginx/nginx.conf");
        let log = r.join("log/error.log");
        let include = if include_conf_d {
            format!("include {}/etc/nginx/conf.d/*.conf;", r.display())
        } else {
            String::new()
        };
        let top = if modules {
            std::fs::write(
                r.join("etc/nginx/modules-enabled/50-mod-stream.conf"),
                "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n",
            )?;
            format!(
                "include {}/etc/nginx/modules-enabled/*.conf;\n",
                r.display()
            )
        } else {
            String::new()
        };
        std::fs::write(
            &main,
            format!(
                "{top}worker_processes 1;\npid {r}/run/nginx.pid;\nerror_log {r}/log/error.log notice;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n  access_log {r}/log/access.log;\n  client_body_temp_path {r}/tmp/body;\n\
                 \x20 proxy_temp_path {r}/tmp/proxy;\n  fastcgi_temp_path {r}/tmp/fastcgi;\n\
                 \x20 uwsgi_temp_path {r}/tmp/uwsgi;\n  scgi_temp_path {r}/tmp/scgi;\n  {include}\n}}\n",
                r = r.display()
            ),
        )?;
        let paths = Paths::new(r);
        Ok(SystemNginx {
            root,
            paths,
            main,
            log,
        })
    }

    fn start(&self) -> TestResult {
        let out = Command::new(nginx_bin())
            .arg("-c")
            .arg(&self.main)
            .arg("-e")
            .arg(&self.log)
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "the test's system nginx did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        eventually("the system nginx's pid file", || self.pid().is_some())?;
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.root.path().join("run/nginx.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn site(&self) -> PathBuf {
        self.root.path().join("etc/nginx/conf.d/conteneur.conf")
    }

    fn stage(&self, text: &str) -> io::Result<PathBuf> {
        let p = proxy::staged_site(&self.paths);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(&p, text)?;
        Ok(p)
    }
}

impl Drop for SystemNginx {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .args(["-QUIT", &pid.to_string()])
                .status();
            let stopped = eventually("the system nginx to stop", || {
                !Path::new(&format!("/proc/{pid}/cmdline")).exists()
                    || std::fs::read(format!("/proc/{pid}/cmdline"))
                        .map(|c| !String::from_utf8_lossy(&c).contains("nginx: master"))
                        .unwrap_or(true)
            });
            // A connection held open keeps a graceful stop waiting: the
            // master and its workers must not outlive the test's root.
            if stopped.is_err() {
                common::kill_nginx(pid);
            }
        }
    }
}
