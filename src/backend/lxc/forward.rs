//! The port forwarder (`conteneur lxc-forward`): run by a container's
//! hooks, it listens on the host and connects inside the container's
//! network namespace, which has only its loopback. Its own file because it
//! runs in its own process, apart from the backend that writes the hooks.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The forwarder's pid, in the container's folder.
pub const FORWARD_PID: &str = "conteneur-forward.pid";
/// What the forwarder said when it could not start, in the container's folder.
pub const FORWARD_LOG: &str = "conteneur-forward.log";
/// What keeps the running forwarder from accepting connections now (empty:
/// nothing), in the container's folder, for `status`.
pub const FORWARD_TROUBLE: &str = "conteneur-forward.trouble";

/// The first and the longest pause before accepting again after an error.
const ACCEPT_PAUSE: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// `conteneur lxc-forward start|stop`: run by a container's hooks, never by
/// hand. LXC appends the container's name, the section and the hook type
/// after our own arguments.
#[derive(Debug, clap::Args)]
pub struct ForwardArgs {
    /// start (start-host hook), stop (post-stop hook) or serve (internal).
    pub action: String,
    /// ADDRESS:HOST_PORT=CONTAINER_PORT, e.g. 127.0.0.1:8080=80.
    #[arg(long = "port")]
    pub ports: Vec<String>,
    /// The pid of the container's init (serve).
    #[arg(long)]
    pub pid: Option<i32>,
    /// What LXC appends (container name, section, hook type): ignored.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub lxc: Vec<String>,
}

/// One port to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub listen: SocketAddr,
    pub inner: u16,
}

/// Parses `ADDRESS:HOST_PORT=CONTAINER_PORT`.
pub fn parse_forward(s: &str) -> Result<Forward, String> {
    let (listen, inner) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': expected ADDRESS:HOST_PORT=CONTAINER_PORT"))?;
    Ok(Forward {
        listen: listen
            .parse()
            .map_err(|e| format!("'{listen}' is not ADDRESS:PORT: {e}"))?,
        inner: inner
            .parse()
            .map_err(|e| format!("'{inner}' is not a port: {e}"))?,
    })
}

/// The forwarder's entry point; returns the exit code.
pub fn forward_main(a: ForwardArgs) -> u8 {
    let dir = std::env::var_os("LXC_CONFIG_FILE")
        .map(PathBuf::from)
        .and_then(|p| p.parent().map(Path::to_path_buf));
    match a.action.as_str() {
        "start" => {
            let Some(dir) = dir else {
                eprintln!("lxc-forward: LXC_CONFIG_FILE is not set: run by LXC hooks only");
                return 2;
            };
            match forward_start(&dir, &a.ports) {
                Ok(()) => 0,
                Err(e) => {
                    let _ = std::fs::write(dir.join(FORWARD_LOG), format!("{e}\n"));
                    eprintln!("lxc-forward: {e}");
                    1
                }
            }
        }
        "stop" => {
            if let Some(dir) = dir {
                forward_stop(&dir);
            }
            0
        }
        "serve" => match forward_serve(&a.ports, a.pid, dir.as_deref()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("lxc-forward: {e}");
                1
            }
        },
        other => {
            eprintln!("lxc-forward: unknown action '{other}' (start, stop)");
            2
        }
    }
}

/// Starts the forwarder in the background, detached from LXC, and returns
/// once it listens (or says why it cannot).
fn forward_start(dir: &Path, ports: &[String]) -> Result<(), String> {
    use std::io::BufRead;
    let pid = std::env::var("LXC_PID")
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
        .ok_or("LXC_PID is not set: run by the start-host hook only")?;
    // A forwarder left by a container that died without its hook.
    forward_stop(dir);
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("lxc-forward")
        .arg("serve")
        .arg("--pid")
        .arg(pid.to_string());
    for p in ports {
        cmd.arg("--port").arg(p);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the forwarder: {e}"))?;
    let mut first = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut first);
    }
    if first.trim() == "ready" {
        std::fs::write(dir.join(FORWARD_PID), child.id().to_string())
            .map_err(|e| format!("cannot write the forwarder's pid: {e}"))?;
        return Ok(());
    }
    let mut why = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut err, &mut why);
    }
    let _ = child.wait();
    Err(why.trim().trim_start_matches("lxc-forward: ").to_string())
}

/// The forwarder's process, when `pid` is one (not a reused pid).
fn is_forwarder(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            let c = String::from_utf8_lossy(&c);
            c.contains("lxc-forward") && c.contains("serve")
        })
        .unwrap_or(false)
}

/// Stops the forwarder of the container in `dir` and waits until its
/// ports are free, so that the next container can take them at once.
fn forward_stop(dir: &Path) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let pidfile = dir.join(FORWARD_PID);
    let Some(pid) = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return;
    };
    if is_forwarder(pid) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        for i in 0..100 {
            if !is_forwarder(pid) {
                break;
            }
            if i == 50 {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = std::fs::remove_file(pidfile);
}

/// The time of day (UTC) now, for the trouble file.
fn clock_now() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "{:02}:{:02}:{:02} UTC",
        (t / 3600) % 24,
        (t / 60) % 60,
        t % 60
    )
}

/// The start time of process `pid` (field 22 of its stat), to tell it from
/// a later process with the same pid.
fn start_time(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19).map(str::to_string)
}

/// Where the forwarder says what keeps it from accepting: a file of the
/// container's folder ([`FORWARD_TROUBLE`]), opened once at the start, so
/// that it can still be written when no file can be opened any more (too
/// many open files, the error it reports most).
#[derive(Clone)]
struct Trouble(Option<std::sync::Arc<std::sync::Mutex<std::fs::File>>>);

impl Trouble {
    fn open(dir: Option<&Path>) -> Trouble {
        Trouble(
            dir.and_then(|d| std::fs::File::create(d.join(FORWARD_TROUBLE)).ok())
                .map(|f| std::sync::Arc::new(std::sync::Mutex::new(f))),
        )
    }

    /// Says `text` (empty: nothing is wrong any more).
    fn say(&self, text: &str) {
        use std::io::{Seek, Write};
        if let Some(f) = &self.0
            && let Ok(mut f) = f.lock()
        {
            let _ = f.set_len(0);
            let _ = f.rewind();
            let _ = f.write_all(text.as_bytes());
        }
    }
}

/// Accepts connections for as long as the forwarder lives: an error (too
/// many open files, no memory for a socket) is said to `report` and
/// retried after a pause that doubles from 10 ms to 1 s, never the end of
/// the port; the first connection accepted after it says it is over
/// (`report(None)`).
async fn accept_loop<S, Fut>(
    mut accept: impl FnMut() -> Fut,
    mut handle: impl FnMut(S),
    report: impl Fn(Option<&std::io::Error>),
) where
    Fut: std::future::Future<Output = std::io::Result<S>>,
{
    let mut pause = None;
    loop {
        match accept().await {
            Ok(conn) => {
                if pause.take().is_some() {
                    report(None);
                }
                handle(conn);
            }
            Err(e) => {
                report(Some(&e));
                let p = pause.map_or(ACCEPT_PAUSE.0, |p: Duration| (p * 2).min(ACCEPT_PAUSE.1));
                pause = Some(p);
                tokio::time::sleep(p).await;
            }
        }
    }
}

/// The forwarder itself: listens on the host, connects inside the
/// container's network namespace, copies both ways; ends when the
/// container's init does. `dir`: the container's folder.
fn forward_serve(ports: &[String], pid: Option<i32>, dir: Option<&Path>) -> Result<(), String> {
    use std::io::Write;
    let pid = pid.ok_or("--pid is missing")?;
    let forwards = ports
        .iter()
        .map(|p| parse_forward(p))
        .collect::<Result<Vec<_>, _>>()?;
    let netns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| format!("the container's network namespace (pid {pid}): {e}"))?;
    let born = start_time(pid).ok_or(format!("process {pid} is gone"))?;
    let mut listeners = Vec::new();
    for f in &forwards {
        let l = std::net::TcpListener::bind(f.listen)
            .map_err(|e| format!("cannot listen on {}: {e}", f.listen))?;
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        listeners.push((l, f.inner));
    }
    // Connections into the container are opened by one thread that joined
    // its network namespace: a socket belongs to the namespace it was
    // created in.
    let (tx, rx) = std::sync::mpsc::channel::<(
        u16,
        tokio::sync::oneshot::Sender<std::io::Result<std::net::TcpStream>>,
    )>();
    std::thread::Builder::new()
        .name("netns".into())
        .spawn(move || {
            if let Err(e) = nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET) {
                eprintln!("lxc-forward: cannot enter the container's network: {e}");
                std::process::exit(1);
            }
            while let Ok((port, reply)) = rx.recv() {
                let r = std::net::TcpStream::connect_timeout(
                    &SocketAddr::from(([127, 0, 0, 1], port)),
                    Duration::from_secs(5),
                );
                let _ = reply.send(r);
            }
        })
        .map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // Ready: detach from the hook (new session, no more output to LXC).
    println!("ready");
    let _ = std::io::stdout().flush();
    let _ = nix::unistd::setsid();
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
    let trouble = Trouble::open(dir);
    trouble.say("");
    rt.block_on(async move {
        for (l, inner) in listeners {
            let Ok(l) = tokio::net::TcpListener::from_std(l) else {
                continue;
            };
            let tx = tx.clone();
            let trouble = trouble.clone();
            let listen = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
            let report = move |e: Option<&std::io::Error>| match e {
                Some(e) => trouble.say(&format!(
                    "cannot accept connections on {listen} since {}: {e} (retrying)",
                    clock_now()
                )),
                None => trouble.say(""),
            };
            tokio::spawn(async move {
                let l = &l;
                let accept = move || async move { l.accept().await.map(|(s, _)| s) };
                let handle = move |mut outside: tokio::net::TcpStream| {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let (reply, answer) = tokio::sync::oneshot::channel();
                        if tx.send((inner, reply)).is_err() {
                            return;
                        }
                        let Ok(Ok(inside)) = answer.await else {
                            // Nothing listens inside: hang up, as a dead
                            // port does.
                            return;
                        };
                        if inside.set_nonblocking(true).is_err() {
                            return;
                        }
                        let Ok(mut inside) = tokio::net::TcpStream::from_std(inside) else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut outside, &mut inside).await;
                    });
                };
                accept_loop(accept, handle, report).await;
            });
        }
        // Ends with the container.
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if start_time(pid).as_deref() != Some(born.as_str()) {
                break;
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// The loop goes on through accept errors (EMFILE three times), with a
    /// growing pause, says each, and says when they are over.
    #[tokio::test]
    async fn accept_errors_are_retried_and_reported_never_the_end() {
        let script = Arc::new(Mutex::new(vec![
            Ok(1),
            Err(24),
            Err(24),
            Err(24),
            Ok(2),
            Ok(3),
        ]));
        let handled = Arc::new(Mutex::new(Vec::new()));
        let said = Arc::new(Mutex::new(Vec::new()));
        let accept = || {
            let next = script.lock().unwrap().first().cloned();
            if next.is_some() {
                let _ = script.lock().unwrap().remove(0);
            }
            async move {
                match next {
                    Some(Ok(n)) => Ok(n),
                    Some(Err(code)) => Err(std::io::Error::from_raw_os_error(code)),
                    // Nothing more to accept: waits, as a quiet port does.
                    None => std::future::pending().await,
                }
            }
        };
        let h = handled.clone();
        let s = said.clone();
        let begin = std::time::Instant::now();
        let ended = tokio::time::timeout(
            Duration::from_millis(500),
            accept_loop(
                accept,
                move |n: i32| h.lock().unwrap().push(n),
                move |e: Option<&std::io::Error>| {
                    s.lock().unwrap().push(e.map(|e| e.to_string()));
                },
            ),
        )
        .await;
        assert!(ended.is_err(), "the loop ended");
        assert_eq!(*handled.lock().unwrap(), vec![1, 2, 3]);
        let said = said.lock().unwrap();
        assert_eq!(said.len(), 4, "{said:?}");
        assert!(
            said[..3].iter().all(|e| e
                .as_deref()
                .is_some_and(|e| e.contains("Too many open files"))),
            "{said:?}"
        );
        assert_eq!(said[3], None);
        // 10 + 20 + 40 ms of pauses before the third error was retried.
        assert!(begin.elapsed() >= Duration::from_millis(70));
    }

    #[test]
    fn the_trouble_file_says_what_is_wrong_and_is_emptied_after() {
        let dir = tempfile::tempdir().unwrap();
        let t = Trouble::open(Some(dir.path()));
        let file = dir.path().join(FORWARD_TROUBLE);
        t.say("cannot accept: Too many open files");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "cannot accept: Too many open files"
        );
        t.say("");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
    }
}
