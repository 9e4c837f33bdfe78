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
use conteneur::proxy::{self, CheckedBy, Mode, Options, ProxyError, SystemCheck};

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

// --- the tests ---------------------------------------------------------------------

#[test]
fn routes_answer_over_http_https_and_websocket() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let beta = Backend::http("beta")?;
    let chat = Backend::websocket("chat")?;
    let front = Front::new()?;
    let (cert, key) = self_signed(front.root.path())?;
    let http = free_port()?;
    let tls = Tls {
        port: free_port()?,
        cert,
        key,
    };
    let routes = [
        Route {
            name: "alpha",
            port: alpha.port,
            websocket: false,
        },
        Route {
            name: "beta",
            port: beta.port,
            websocket: false,
        },
        Route {
            name: "chat",
            port: chat.port,
            websocket: true,
        },
    ];
    let applied = front.publish(&site(http, Some(&tls), &routes))?;
    assert_eq!(applied.checked_by, Some(CheckedBy::GeneratedMain));
    assert!(!applied.reloaded, "nothing ran yet, nothing to reload");
    let st = front.start()?;
    assert!(st.running(), "{st}");
    assert_eq!(
        st.listen,
        vec![
            format!("127.0.0.1:{http}"),
            format!("127.0.0.1:{} ssl", tls.port)
        ]
    );

    assert_alpha_beta_chat_routes(http, tls.port)?;
    // Large bodies both ways: nginx's workers (nobody, when root started
    // it) can write their temporary files.
    let r = http_get(http, "/alpha/big")?;
    assert_eq!((r.status, r.body.len()), (200, 1 << 20));
    let upload = front.root.path().join("upload.bin");
    std::fs::write(&upload, vec![b'y'; 3 << 20])?;
    let (code, body) =
        https(tls.port, "/beta/upload", Some(&upload)).map(|(c, b)| (c, b.trim().to_string()))?;
    assert_eq!((code, body.as_str()), (200, "beta got 3145728 bytes"));

    // Stop: nothing listens any more.
    let pid = proxy::stop_with(&front.paths, &front.opts)?;
    assert_eq!(pid, st.pid);
    assert!(!proxy::status(&front.paths, Mode::Private)?.running());
    assert!(http_get(http, "/alpha/").is_err());
    assert_eq!(proxy::stop_with(&front.paths, &front.opts)?, None);
    Ok(())
}

#[test]
fn a_site_nginx_refuses_leaves_the_old_routes_serving() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let front = Front::new()?;
    let http = free_port()?;
    let good = site(
        http,
        None,
        &[Route {
            name: "alpha",
            port: alpha.port,
            websocket: false,
        }],
    );
    front.publish(&good)?;
    front.start()?;
    let live_before = std::fs::read(front.live_site())?;

    let prober = Prober::start(http, "/alpha/", "backend=alpha");
    eventually("a first answer through nginx", || prober.ok() > 0)?;
    // An unknown directive: `nginx -t` refuses the site.
    let bad = good.replace(
        "proxy_http_version 1.1;",
        "proxy_http_version 1.1;\n        bogus_directive on;",
    );
    for _ in 0..5 {
        let before = prober.ok();
        let err = match front.publish(&bad) {
            Err(e) => e,
            Ok(a) => return Err(format!("a broken site was applied: {a:?}").into()),
        };
        assert!(matches!(err, ProxyError::Invalid { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("unknown directive \"bogus_directive\""),
            "nginx's own message is quoted: {msg}"
        );
        assert!(
            msg.contains(&front.staged().display().to_string()),
            "the message names the file: {msg}"
        );
        assert_eq!(std::fs::read(front.live_site())?, live_before);
        eventually("more answers while applying", || prober.ok() > before)?;
    }
    let (ok, bad_answers, last) = prober.finish();
    assert!(ok > 5, "only {ok} answers during the failed applies");
    assert_eq!(
        bad_answers, 0,
        "failed answers during the applies; last: {last}"
    );
    // After: still served, still the same site, no reload happened.
    let r = http_get(http, "/alpha/")?;
    assert_eq!((r.status, r.body.contains("backend=alpha")), (200, true));
    assert_eq!(std::fs::read(front.live_site())?, live_before);
    assert_eq!(front.error_log().matches("reconfiguring").count(), 0);
    Ok(())
}

#[test]
fn a_reload_nginx_refuses_restores_the_previous_site() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let beta = Backend::http("beta")?;
    let front = Front::new()?;
    let http = free_port()?;
    let first = site(
        http,
        None,
        &[Route {
            name: "alpha",
            port: alpha.port,
            websocket: false,
        }],
    );
    front.publish(&first)?;
    front.start()?;
    let live_before = std::fs::read(front.live_site())?;
    // `nginx -t` does not bind ports: a second server on a port another
    // program holds passes the check and fails only at reload.
    let taken = TcpListener::bind("127.0.0.1:0")?;
    let taken_port = taken.local_addr()?.port();
    let second = format!(
        "{}server {{\n    listen 127.0.0.1:{taken_port};\n    location /beta/ {{ proxy_pass http://127.0.0.1:{}/; }}\n}}\n",
        first, beta.port
    );
    let prober = Prober::start(http, "/alpha/", "backend=alpha");
    eventually("a first answer through nginx", || prober.ok() > 0)?;
    let err = match front.publish(&second) {
        Err(e) => e,
        Ok(a) => return Err(format!("the reload should have failed: {a:?}").into()),
    };
    let (ok, bad, last) = prober.finish();
    assert!(matches!(err, ProxyError::Reload { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("bind() to 127.0.0.1:{taken_port} failed"))
            && msg.contains("Address already in use"),
        "nginx's own message is quoted: {msg}"
    );
    assert!(ok > 0);
    assert_eq!(bad, 0, "failed answers during the reload; last: {last}");
    assert_eq!(std::fs::read(front.live_site())?, live_before);
    let r = http_get(http, "/alpha/")?;
    assert_eq!((r.status, r.body.contains("backend=alpha")), (200, true));
    drop(taken);
    // The same site applies once the port is free: the live file was put
    // back, so it counts as a change again.
    let applied = front.publish(&second)?;
    assert!(applied.reloaded, "{applied:?}");
    let r = http_get(taken_port, "/beta/")?;
    assert_eq!((r.status, r.body.contains("backend=beta")), (200, true));
    Ok(())
}

#[test]
fn new_routes_reload_and_an_unchanged_site_does_not() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let beta = Backend::http("beta")?;
    let front = Front::new()?;
    let http = free_port()?;
    let a = Route {
        name: "alpha",
        port: alpha.port,
        websocket: false,
    };
    let b = Route {
        name: "beta",
        port: beta.port,
        websocket: false,
    };
    let one = site(http, None, &[a]);
    front.publish(&one)?;
    let pid = front.start()?.pid;
    assert_eq!(http_get(http, "/beta/")?.status, 404);

    let a = Route {
        name: "alpha",
        port: alpha.port,
        websocket: false,
    };
    let two = site(http, None, &[a, b]);
    let applied = front.publish(&two)?;
    assert!(
        applied.reloaded && applied.changed == vec![front.live_site()],
        "{applied:?}"
    );
    assert_eq!(applied.pid, pid, "a reload keeps the master");
    let r = http_get(http, "/beta/")?;
    assert_eq!((r.status, r.body.contains("backend=beta")), (200, true));
    let reloads = front.error_log().matches("signal 1 (SIGHUP)").count();
    assert_eq!(reloads, 1);

    let again = front.publish(&two)?;
    assert!(again.unchanged() && !again.reloaded, "{again:?}");
    assert_eq!(front.error_log().matches("signal 1 (SIGHUP)").count(), 1);
    // start is idempotent.
    assert_eq!(front.start()?.pid, pid);
    Ok(())
}

/// Kills the processes it holds when dropped (an orphan the test made, if
/// the code under test did not end it).
struct KillOnDrop(Vec<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

#[test]
fn an_orphaned_worker_of_a_sigkilled_master_is_named_then_ended() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let beta = Backend::http("beta")?;
    let front = Front::new()?;
    let http = free_port()?;
    let route = |name, port| Route {
        name,
        port,
        websocket: false,
    };
    front.publish(&site(http, None, &[route("alpha", alpha.port)]))?;
    let master = front.start()?.pid.ok_or("no master")?;
    eventually("the first workers", || {
        proxy::status(&front.paths, Mode::Private).is_ok_and(|s| s.orphans.is_empty())
    })?;
    let status = Command::new("kill")
        .args(["-9", &master.to_string()])
        .status()?;
    assert!(status.success());
    // Its worker lives on, holds the port and serves the old route.
    eventually("the master to go", || {
        proxy::status(&front.paths, Mode::Private).is_ok_and(|s| s.pid.is_none())
    })?;
    let st = proxy::status(&front.paths, Mode::Private)?;
    let _guard = KillOnDrop(st.orphans.iter().map(|o| o.pid).collect());
    assert!(!st.orphans.is_empty(), "{st}");
    let text = st.to_string();
    assert!(
        text.contains(&format!("pid {}", st.orphans[0].pid))
            && text.contains(&format!("port {http}"))
            && text.contains("orphaned nginx process"),
        "{text}"
    );
    assert_eq!(http_get(http, "/alpha/")?.status, 200);

    // The next run (apply, then start) ends it and serves the new routes.
    front.publish(&site(http, None, &[route("beta", beta.port)]))?;
    let started = front.start()?;
    assert!(
        started.pid.is_some() && started.orphans.is_empty(),
        "{started}"
    );
    for o in &st.orphans {
        // Gone, or a zombie its new parent has not reaped yet.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", o.pid)).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().chars().next());
        assert!(
            matches!(state, None | Some(Some('Z' | 'X'))),
            "orphan {} still there: {stat}",
            o.pid
        );
    }
    let r = http_get(http, "/beta/")?;
    assert_eq!((r.status, r.body.contains("backend=beta")), (200, true));
    assert_eq!(http_get(http, "/alpha/")?.status, 404);
    Ok(())
}

#[test]
fn start_without_any_site_says_what_to_do() -> TestResult {
    let front = Front::new()?;
    let err = match front.start() {
        Err(e) => e,
        Ok(st) => return Err(format!("started without a site: {st}").into()),
    };
    assert!(matches!(err, ProxyError::NoSite { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&front.staged().display().to_string())
    );
    Ok(())
}

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
        let root = tempfile::tempdir()?;
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))?;
        let r = root.path();
        for d in ["etc/nginx/conf.d", "run", "log", "tmp"] {
            std::fs::create_dir_all(r.join(d))?;
        }
        let main = r.join("etc/nginx/nginx.conf");
        let log = r.join("log/error.log");
        let include = if include_conf_d {
            format!("include {}/etc/nginx/conf.d/*.conf;", r.display())
        } else {
            String::new()
        };
        std::fs::write(
            &main,
            format!(
                "worker_processes 1;\npid {r}/run/nginx.pid;\nerror_log {r}/log/error.log notice;\n\
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
            let _ = eventually("the system nginx to stop", || {
                !Path::new(&format!("/proc/{pid}/cmdline")).exists()
                    || std::fs::read(format!("/proc/{pid}/cmdline"))
                        .map(|c| !String::from_utf8_lossy(&c).contains("nginx: master"))
                        .unwrap_or(true)
            });
        }
    }
}

/// Whether this machine lets us make a private mount namespace.
fn namespaces_available() -> bool {
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "true"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn the_system_nginx_s_orphan_is_named_with_what_to_do() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let sys = SystemNginx::new(true)?;
    let http = free_port()?;
    let route = |name, port| Route {
        name,
        port,
        websocket: false,
    };
    let opts = Options {
        nginx: Some(nginx_bin()),
        ..Options::default()
    };
    let one = site(http, None, &[route("alpha", alpha.port)]);
    proxy::apply_with(&sys.paths, Mode::System, &sys.stage(&one)?, &opts)?;
    sys.start()?;
    let master = sys.pid().ok_or("no master")?;
    eventually("the workers", || {
        proxy::status(&sys.paths, Mode::System).is_ok_and(|s| s.running())
    })?;
    Command::new("kill")
        .args(["-9", &master.to_string()])
        .status()?;
    eventually("the master to go", || {
        proxy::status(&sys.paths, Mode::System).is_ok_and(|s| !s.running())
    })?;
    let st = proxy::status(&sys.paths, Mode::System)?;
    let _guard = KillOnDrop(st.orphans.iter().map(|o| o.pid).collect());
    assert!(!st.orphans.is_empty(), "{st}");
    // conteneur does not end the system nginx's processes: it says what to do,
    // and changes nothing.
    let two = site(http, None, &[]);
    let err = match proxy::apply_with(&sys.paths, Mode::System, &sys.stage(&two)?, &opts) {
        Err(e) => e.to_string(),
        Ok(a) => return Err(format!("applied despite the orphan: {a:?}").into()),
    };
    assert!(
        err.contains(&format!("pid {}", st.orphans[0].pid))
            && err.contains(&format!("port {http}"))
            && err.contains("systemctl restart nginx"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(sys.site())?, one);
    assert!(
        Path::new(&format!("/proc/{}/stat", st.orphans[0].pid)).exists(),
        "the system nginx's process was ended"
    );
    Ok(())
}

#[test]
fn system_mode_checks_the_site_within_the_full_configuration() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let beta = Backend::http("beta")?;
    let sys = SystemNginx::new(true)?;
    let http = free_port()?;
    let route = |name, port| Route {
        name,
        port,
        websocket: false,
    };
    let one = site(http, None, &[route("alpha", alpha.port)]);
    let opts = Options {
        nginx: Some(nginx_bin()),
        ..Options::default()
    };
    let in_place = Options {
        system_check: SystemCheck::InPlace,
        ..opts.clone()
    };
    let expected_check = if namespaces_available() {
        CheckedBy::MountNamespace
    } else {
        CheckedBy::InPlace
    };

    // Not running yet: the site is checked and put in place, no reload.
    let staged = sys.stage(&one)?;
    let applied = proxy::apply_with(&sys.paths, Mode::System, &staged, &opts)?;
    assert_eq!(applied.checked_by, Some(expected_check));
    assert!(!applied.reloaded);
    assert_eq!(std::fs::read_to_string(sys.site())?, one);
    sys.start()?;
    let st = proxy::status(&sys.paths, Mode::System)?;
    assert_eq!(
        (st.pid, st.listen.clone()),
        (sys.pid(), vec![format!("127.0.0.1:{http}")])
    );

    // A new route: checked, swapped, reloaded.
    let two = site(
        http,
        None,
        &[route("alpha", alpha.port), route("beta", beta.port)],
    );
    let staged = sys.stage(&two)?;
    let applied = proxy::apply_with(&sys.paths, Mode::System, &staged, &opts)?;
    assert!(applied.reloaded, "{applied:?}");
    let r = http_get(http, "/beta/")?;
    assert_eq!((r.status, r.body.contains("backend=beta")), (200, true));

    // Refused, with either way of checking: the live site is untouched and
    // the routes go on.
    let bad = two.replace(
        "server_name localhost;",
        "server_name localhost;\n    no_such_thing;",
    );
    let staged = sys.stage(&bad)?;
    for o in [&opts, &in_place] {
        let err = match proxy::apply_with(&sys.paths, Mode::System, &staged, o) {
            Err(e) => e,
            Ok(a) => return Err(format!("a broken site was applied: {a:?}").into()),
        };
        let msg = err.to_string();
        assert!(msg.contains("unknown directive \"no_such_thing\""), "{msg}");
        assert_eq!(std::fs::read_to_string(sys.site())?, two);
        let r = http_get(http, "/beta/")?;
        assert_eq!(r.status, 200);
    }
    // The in-place check applies a good site too.
    let staged = sys.stage(&one)?;
    let applied = proxy::apply_with(&sys.paths, Mode::System, &staged, &in_place)?;
    assert_eq!(applied.checked_by, Some(CheckedBy::InPlace));
    assert!(applied.reloaded);
    assert_eq!(http_get(http, "/beta/")?.status, 404);
    Ok(())
}

#[test]
fn system_mode_refuses_a_site_the_main_configuration_does_not_include() -> TestResult {
    let sys = SystemNginx::new(false)?;
    let http = free_port()?;
    let staged = sys.stage(&site(http, None, &[]))?;
    let opts = Options {
        nginx: Some(nginx_bin()),
        ..Options::default()
    };
    for check in [SystemCheck::Auto, SystemCheck::InPlace] {
        let o = Options {
            system_check: check,
            ..opts.clone()
        };
        let err = match proxy::apply_with(&sys.paths, Mode::System, &staged, &o) {
            Err(e) => e,
            Ok(a) => return Err(format!("an unread site was applied: {a:?}").into()),
        };
        assert!(matches!(err, ProxyError::NotIncluded { .. }), "{err:?}");
        assert!(!sys.site().exists(), "no file is left behind");
    }
    Ok(())
}

#[test]
fn system_mode_without_nginx_under_the_root_says_so() -> TestResult {
    let root = tempfile::tempdir()?;
    let paths = Paths::new(root.path());
    let staged = proxy::staged_site(&paths);
    if let Some(d) = staged.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(&staged, site(free_port()?, None, &[]))?;
    let err = match proxy::apply(&paths, Mode::System, &staged) {
        Err(e) => e,
        Ok(a) => return Err(format!("applied without any nginx: {a:?}").into()),
    };
    assert!(matches!(err, ProxyError::NoMainConf { .. }), "{err:?}");
    assert!(err.to_string().contains("conteneur_proxy_mode"), "{err}");
    assert!(
        !root.path().join("etc").exists(),
        "nothing is made under the root"
    );
    Ok(())
}

// --- the command line ----------------------------------------------------------

fn conteneur(root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_conteneur"));
    c.arg("--root")
        .arg(root)
        .arg("--dicos")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("dicos"))
        .args(args)
        .env_remove("CONTENEUR_ROOT")
        .env("CONTENEUR_NGINX", nginx_bin());
    c
}

fn run(mut c: Command) -> Result<(i32, String, String), Box<dyn std::error::Error>> {
    let out = c.output()?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn cli_proxy_start_status_apply_stop() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let front = Front::new()?;
    let root = front.root.path();
    let http = free_port()?;
    let good = site(
        http,
        None,
        &[Route {
            name: "alpha",
            port: alpha.port,
            websocket: false,
        }],
    );
    // The mode comes from the dictionary variable…
    let (code, _, err) = run(conteneur(root, &["set", "conteneur_proxy_mode", "private"]))?;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(conteneur(root, &["set", "conteneur_proxy_mode", "nginx"]))?;
    assert_eq!(code, 3, "only system or private: {err}");

    let (code, out, _) = run(conteneur(root, &["proxy", "status"]))?;
    assert_eq!(code, 1, "not running: {out}");
    assert!(out.contains("private nginx: not running"), "{out}");
    let (code, _, err) = run(conteneur(root, &["proxy", "start"]))?;
    assert_eq!(code, 5, "no site yet: {err}");
    assert!(err.contains("no nginx site to serve"), "{err}");

    front.stage(&good)?;
    let (code, out, err) = run(conteneur(root, &["proxy", "start"]))?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("private nginx: running (pid "), "{out}");
    let (code, out, _) = run(conteneur(root, &["proxy", "status"]))?;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("listens on: 127.0.0.1:{http}")),
        "{out}"
    );
    assert!(
        out.contains(&front.live_site().display().to_string()),
        "{out}"
    );
    assert_eq!(http_get(http, "/alpha/")?.status, 200);

    // A refused site: exit 6, nginx's words, the old route serving.
    front.stage(&good.replace("proxy_http_version 1.1;", "proxy_http_version 7;"))?;
    let (code, _, err) = run(conteneur(root, &["proxy", "apply"]))?;
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("nginx: [emerg]"), "{err}");
    assert_eq!(http_get(http, "/alpha/")?.status, 200);
    front.stage(&good)?;
    let (code, out, err) = run(conteneur(root, &["proxy", "apply"]))?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("unchanged; nginx not reloaded"), "{out}");

    // … and --mode overrides it: system mode does not start or stop nginx.
    let (code, _, err) = run(conteneur(root, &["proxy", "--mode", "system", "stop"]))?;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("private nginx only"), "{err}");

    let (code, out, err) = run(conteneur(root, &["proxy", "stop"]))?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("private nginx stopped (pid "), "{out}");
    let (code, _, _) = run(conteneur(root, &["proxy", "status"]))?;
    assert_eq!(code, 1);
    let (code, out, _) = run(conteneur(root, &["proxy", "stop"]))?;
    assert_eq!((code, out.trim()), (0, "private nginx was not running"));
    Ok(())
}

// --- the real template, rendered by conteneur ------------------------------------

/// `conteneur --root ROOT ARGS`, asserting success.
fn conteneur_ok(root: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_conteneur"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("CONTENEUR_ROOT")
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "conteneur {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The whole web front as `instance` builds it: our dictionary and our
/// nginx template (installed where EOLE puts them), values set with
/// `conteneur set`, the site rendered by `conteneur render`, published and
/// served by the private nginx, in front of two HTTP backends and a
/// websocket one — over http and https.
#[test]
fn the_rendered_site_answers_over_http_https_and_websocket() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let beta = Backend::http("beta")?;
    let chat = Backend::websocket("chat")?;
    let front = Front::new()?;
    let root = front.root.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (from, to) in [
        ("dicos", "usr/share/eole/creole/dicos"),
        ("templates", "usr/share/eole/creole/distrib"),
    ] {
        let dest = root.join(to);
        std::fs::create_dir_all(&dest)?;
        for e in std::fs::read_dir(repo.join(from))? {
            let p = e?.path();
            if let Some(name) = p.file_name().filter(|_| p.is_file()) {
                std::fs::copy(&p, dest.join(name))?;
            }
        }
    }
    let (cert, key) = self_signed(root)?;
    let (http, https_port) = (free_port()?, free_port()?);
    let sets: Vec<(&str, Vec<String>)> = vec![
        ("conteneur_proxy_mode", vec!["private".into()]),
        ("conteneur_proxy_listen", vec!["127.0.0.1".into()]),
        ("conteneur_http_port", vec![http.to_string()]),
        ("conteneur_https", vec!["oui".into()]),
        ("conteneur_https_port", vec![https_port.to_string()]),
        ("conteneur_cert_file", vec![cert.display().to_string()]),
        ("conteneur_key_file", vec![key.display().to_string()]),
        ("nombre_conteneur", vec!["3".into()]),
        ("conteneur1_name", vec!["alpha".into()]),
        ("conteneur1_url", vec!["localhost:5000/demo/web".into()]),
        ("conteneur1_port_in", vec!["80".into()]),
        ("conteneur1_port_out", vec![alpha.port.to_string()]),
        ("conteneur2_name", vec!["beta".into()]),
        ("conteneur2_url", vec!["localhost:5000/demo/web".into()]),
        ("conteneur2_port_in", vec!["80".into()]),
        ("conteneur2_port_out", vec![beta.port.to_string()]),
        ("conteneur3_name", vec!["chat".into()]),
        ("conteneur3_url", vec!["localhost:5000/demo/web".into()]),
        ("conteneur3_port_in", vec!["80".into()]),
        ("conteneur3_port_out", vec![chat.port.to_string()]),
        ("conteneur3_websocket", vec!["oui".into()]),
    ];
    for (var, values) in &sets {
        let mut args = vec!["set", var];
        args.extend(values.iter().map(String::as_str));
        conteneur_ok(root, &args)?;
    }
    conteneur_ok(root, &["render"])?;
    let staged = proxy::staged_site(&front.paths);
    assert!(staged.exists(), "render did not write the staged site");
    proxy::apply_with(&front.paths, Mode::Private, &staged, &front.opts)?;
    let st = front.start()?;
    assert!(st.running(), "{st}");

    assert_alpha_beta_chat_routes(http, https_port)?;
    // An unpublished container has no route.
    conteneur_ok(root, &["set", "conteneur2_publish", "non"])?;
    conteneur_ok(root, &["render"])?;
    proxy::apply_with(&front.paths, Mode::Private, &staged, &front.opts)?;
    eventually("beta's route to go", || {
        http_get(http, "/beta/")
            .map(|r| r.status == 404)
            .unwrap_or(false)
    })?;
    assert_eq!(http_get(http, "/alpha/")?.status, 200);
    Ok(())
}

/// The routes both sites (hand-written and rendered) must give, with the
/// backends alpha and beta (http) and chat (websocket): `/NAME/` over http
/// and https with the prefix stripped, a websocket round trip, `/NAME` →
/// `/NAME/`, and a backend's relative redirect kept under `/NAME/`.
fn assert_alpha_beta_chat_routes(http: u16, https_port: u16) -> TestResult {
    for name in ["alpha", "beta"] {
        let r = http_get(http, &format!("/{name}/some/page"))?;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            r.body,
            format!("backend={name} path=/some/page prefix=/{name} proto=http\n")
        );
        let (code, body) = https(https_port, &format!("/{name}/"), None)?;
        assert_eq!(code, 200, "{body}");
        assert_eq!(
            body,
            format!("backend={name} path=/ prefix=/{name} proto=https\n")
        );
    }
    assert_eq!(
        websocket_round_trip(http, "/chat/", "bonjour")?,
        "chat echoes bonjour"
    );
    let r = http_get(http, "/alpha")?;
    assert_eq!(r.status, 301, "{r:?}");
    let loc = r.headers.get("location").cloned().unwrap_or_default();
    assert!(loc.ends_with("/alpha/"), "Location: {loc}");
    let r = http_get(http, "/beta/redirect")?;
    assert_eq!(r.status, 302, "{r:?}");
    let loc = r.headers.get("location").cloned().unwrap_or_default();
    assert!(
        loc == "/beta/login" || loc.ends_with(&format!("127.0.0.1:{http}/beta/login")),
        "Location: {loc}"
    );
    Ok(())
}
