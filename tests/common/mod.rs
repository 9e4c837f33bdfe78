//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

pub mod dockerd;
pub mod load;
pub mod site;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The real EOLE material the tests read, kept in the repository with its
/// origin and licence (`tests/data/eole/README.md`).
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eole")
}

/// Our own dictionaries, as shipped.
pub fn our_dicos() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dicos")
}

/// The binary, under a fresh root, with our dictionaries.
pub struct Server {
    pub root: tempfile::TempDir,
}

impl Server {
    pub fn new() -> Server {
        Server {
            root: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.path().join("etc/eole/config.eol")
    }

    /// `conteneur --root ROOT --dicos dicos ARGS…`
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("conteneur").expect("binary");
        c.arg("--root").arg(self.root.path());
        c.arg("--dicos").arg(our_dicos());
        c.args(args);
        c.env_remove("CONTENEUR_ROOT");
        c
    }

    /// Runs `set` and asserts success.
    pub fn set(&self, var: &str, values: &[&str]) {
        let mut args = vec!["set", var];
        args.extend_from_slice(values);
        self.cmd(&args).assert().success();
    }

    /// `get VAR` output, lines.
    pub fn get(&self, var: &str) -> Vec<String> {
        let out = self.cmd(&["get", var]).output().expect("run");
        assert!(
            out.status.success(),
            "get {var}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Runs a tool the tests need; a missing tool fails the test with what to
/// install, never skips it.
pub fn run(program: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed (scripts/services.sh): {e}"))
}

pub fn docker(args: &[&str]) -> std::process::Output {
    run("docker", args)
}

/// Fails (never skips) when the Docker engine does not answer.
pub fn require_docker() {
    let out = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert!(
        out.status.success(),
        "the Docker engine is not reachable: run scripts/services.sh first ({})",
        text(&out)
    );
}

/// stdout then stderr of a finished command.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// GET through curl on 127.0.0.1; the body, or curl's error.
pub fn get(url: &str) -> Result<String, String> {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "5", "-f", url])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Installs our dictionaries and templates under `root` where EOLE keeps
/// them (`usr/share/eole/creole/{dicos,distrib}`), as the package does.
pub fn install_eole_layout(root: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (from, to) in [
        ("dicos", "usr/share/eole/creole/dicos"),
        ("templates", "usr/share/eole/creole/distrib"),
    ] {
        let dest = root.join(to);
        std::fs::create_dir_all(&dest).expect("create the EOLE folders");
        for e in std::fs::read_dir(repo.join(from)).expect("read the repository") {
            let p = e.expect("read the repository").path();
            if let Some(name) = p.file_name().filter(|_| p.is_file()) {
                std::fs::copy(&p, dest.join(name)).expect("copy into the root");
            }
        }
    }
}

/// Every regular file under `dir` (symbolic links not followed).
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => out.extend(files(&p)),
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
    out
}

/// Stops the private nginx of the server under `root`, from a test's guard
/// (a `Drop`, which runs when the test fails too): `proxy stop --mode
/// private` first (the mode given, so that a configuration the test left
/// invalid, or in system mode, cannot keep it running); then, if a master
/// still holds the pid file under the root, [`kill_nginx`]. Bounded: a
/// guard never hangs.
pub fn stop_private_nginx(root: &Path) {
    if let Ok(mut c) = Command::cargo_bin("conteneur") {
        c.arg("--root")
            .arg(root)
            .args(["proxy", "stop", "--mode", "private"])
            .env_remove("CONTENEUR_ROOT")
            .timeout(std::time::Duration::from_secs(30));
        let _ = c.output();
    }
    if let Some(pid) =
        std::fs::read_to_string(root.join("var/lib/conteneur/nginx-private/run/nginx.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
    {
        kill_nginx(pid);
    }
}

/// Kills (SIGKILL) the nginx master `pid` and its workers, if it is an
/// nginx still: the last resort of a test's guard, when a graceful stop
/// did not end it.
pub fn kill_nginx(pid: u32) {
    let is_nginx = |pid: &str| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).starts_with("nginx"))
    };
    let master = pid.to_string();
    if !is_nginx(&master) {
        return;
    }
    let mut pids = vec![master.clone()];
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{master}/task")) {
        for t in tasks.flatten() {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            pids.extend(children.split_whitespace().map(str::to_string));
        }
    }
    for p in pids.iter().filter(|p| is_nginx(p)) {
        eprintln!("the test's nginx (pid {p}) was still running: killed");
        let _ = std::process::Command::new("kill").args(["-9", p]).status();
    }
}

/// A private nginx under `root` that [`stop_private_nginx`] stops when the
/// guard is dropped, for tests whose server has no guard of its own.
pub struct PrivateNginx<'a>(pub &'a Path);

impl Drop for PrivateNginx<'_> {
    fn drop(&mut self) {
        stop_private_nginx(self.0);
    }
}
