//! A server under a temporary root driven through the real binary, against
//! the real engine (the machine's, or a private dockerd of the test's own:
//! [`super::dockerd`]), the loopback registry and a private nginx.

use std::path::PathBuf;
use std::process::{Command as Proc, Output};
use std::time::Duration;

use assert_cmd::Command;

use super::{free_port, run};

/// Fails (never skips) when the engine or the registry is missing.
pub fn require_services() {
    let out = run("docker", &["version", "--format", "{{.Server.APIVersion}}"]);
    assert!(
        out.status.success(),
        "the Docker engine is not reachable: run scripts/services.sh first ({})",
        String::from_utf8_lossy(&out.stderr)
    );
    let reg = Proc::new("curl")
        .args(["-fsS", "http://127.0.0.1:5000/v2/demo/web/tags/list"])
        .output()
        .unwrap();
    assert!(
        reg.status.success(),
        "the loopback registry or its demo images are missing: run scripts/services.sh and scripts/images.sh"
    );
}

/// A server under a temporary root, with our dictionaries and templates
/// installed where EOLE puts them, a private nginx on a free port.
pub struct Site {
    pub root: tempfile::TempDir,
    pub tag: String,
    pub http_port: u16,
    /// The engine's socket (`unix://…`); None: the machine's engine.
    pub engine: Option<String>,
}

impl Site {
    pub fn new(tag: &str) -> Site {
        Site::on(tag, None)
    }

    /// A site whose containers run on the engine at `engine` (`unix://…`).
    pub fn on(tag: &str, engine: Option<String>) -> Site {
        require_services();
        let root = tempfile::tempdir().unwrap();
        super::install_eole_layout(root.path());
        let site = Site {
            root,
            tag: format!("{tag}{}", std::process::id() % 100000),
            http_port: free_port(),
            engine,
        };
        site.clean_engine();
        let port = site.http_port.to_string();
        site.set("conteneur_proxy_mode", &["private"]);
        site.set("conteneur_proxy_listen", &["127.0.0.1"]);
        site.set("conteneur_http_port", &[&port]);
        site.set("conteneur_health_timeout", &["5"]);
        // The tests look at the engine right after each run: replaced
        // containers are stopped within it, unless a test asks for a
        // grace period (the drain tests do).
        site.set("conteneur_drain_grace", &["0"]);
        site
    }

    pub fn name(&self, short: &str) -> String {
        format!("{}-{short}", self.tag)
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("conteneur").unwrap();
        c.arg("--root").arg(self.root.path()).args(args);
        c.env_remove("CONTENEUR_ROOT").env_remove("DOCKER_HOST");
        if let Some(e) = &self.engine {
            c.env("DOCKER_HOST", e);
        }
        c.timeout(Duration::from_secs(120));
        c
    }

    pub fn set(&self, var: &str, values: &[&str]) {
        let mut args = vec!["set", var];
        args.extend_from_slice(values);
        let out = self.cmd(&args).output().unwrap();
        assert!(
            out.status.success(),
            "set {var}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Container X: name, image (under localhost:5000/demo/), tag, host port.
    pub fn container(&self, x: u32, short: &str, image: &str, tag: &str, port: u16) {
        let n = |v: &str| format!("conteneur{x}_{v}");
        self.set(&n("name"), &[&self.name(short)]);
        self.set(&n("url"), &[&format!("localhost:5000/demo/{image}")]);
        self.set(&n("tag"), &[tag]);
        self.set(&n("port_in"), &["80"]);
        self.set(&n("port_out"), &[&port.to_string()]);
    }

    pub fn run(&self, what: &str) -> Output {
        self.cmd(&[what, "--quiet"]).output().unwrap()
    }

    pub fn run_ok(&self, what: &str) -> String {
        let out = self.run(what);
        assert!(
            out.status.success(),
            "{what} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn url(&self, short: &str) -> String {
        format!("http://127.0.0.1:{}/{}/", self.http_port, self.name(short))
    }

    /// Id and start time, as the engine reports them.
    /// `docker ARGS…` against this site's engine.
    pub fn docker(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = Vec::new();
        if let Some(e) = &self.engine {
            all.extend(["-H", e.as_str()]);
        }
        all.extend_from_slice(args);
        run("docker", &all)
    }

    pub fn identity(&self, short: &str) -> (String, String) {
        let out = self.docker(&[
            "inspect",
            "--format",
            "{{.Id}} {{.State.StartedAt}}",
            &self.name(short),
        ]);
        assert!(
            out.status.success(),
            "container {} is missing",
            self.name(short)
        );
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (id, started) = text.split_once(' ').unwrap();
        (id.to_string(), started.to_string())
    }

    pub fn exists(&self, short: &str) -> bool {
        self.docker(&["inspect", &self.name(short)])
            .status
            .success()
    }

    pub fn clean_engine(&self) {
        let out = self.docker(&["ps", "-aq", "--filter", &format!("name=^{}-", self.tag)]);
        for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            self.docker(&["rm", "-f", id]);
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.root.path().join(p)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        super::stop_private_nginx(self.root.path());
        self.clean_engine();
    }
}
