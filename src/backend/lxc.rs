//! The LXC backend, through the LXC tools (`lxc-create`, `lxc-execute`,
//! `lxc-start`, `lxc-stop`, `lxc-destroy`, `lxc-info`, `lxc-ls`).
//!
//! Why the tools and not liblxc: starting a container with liblxc forks the
//! calling process to make the container's monitor, which is unsafe in a
//! multi-threaded (tokio) process; the Rust bindings are unmaintained and
//! need the C headers and bindgen to build; the tools are what an admin
//! uses too, their errors are readable, and one process per operation costs
//! nothing next to starting a container.
//!
//! **Images.** `url` with a `/`, `:` or `.` is an OCI image with its
//! registry, as for docker (`localhost:5000/demo/web`): [`LxcBackend::prepare`]
//! copies it with skopeo into an OCI layout under conteneur's state folder
//! (`lxc/oci`, blobs shared between images), and `lxc-create -t oci` unpacks
//! it from there, so a failed pull changes nothing and a create needs no
//! network. A loopback registry (localhost, 127.0.0.1) is read over plain
//! HTTP; any other over verified TLS. Any other `url` is an LXC template
//! name (`busybox`, `debian`…); its `tag` is only a version marker (changing
//! it recreates the container).
//!
//! **Network.** Each container has a network namespace of its own with only
//! its loopback (`lxc.net.0.type = empty`, brought up): no bridge, no
//! firewall rule, no address outside 127.0.0.1. Its service listens on
//! `port_in` inside; a forwarder (`conteneur lxc-forward`, run by the
//! container's `start-host` hook, stopped by its `post-stop` hook) listens
//! on 127.0.0.1:`port_out` on the host and connects inside the container's
//! namespace, so `port_in` ≠ `port_out` works as with Docker and two
//! containers may both listen on port 80. The forwarder lives and dies
//! with the container, whoever starts it (`lxc-autostart` at boot too). The
//! price: a container has no network beyond its own loopback.
//!
//! **Ownership.** The container's folder holds `conteneur.json`, the same
//! labels a Docker container carries (server, name, plan hash, plan, image
//! id), and its `config` a `# conteneur: managed …` comment for the admin.
//! A container without the file is never touched. An LXC container cannot
//! be renamed while it runs, so a replacement keeps its LXC name (`NAME`,
//! or `NAME.next` while the one it replaces holds `NAME`) and the marker
//! says which configured container it is; its host name is always `NAME`.
//!
//! **Settings.** Mounts become `lxc.mount.entry` bind lines (a named volume
//! is a folder under `lxc/volumes/`), the environment `lxc.environment`,
//! the memory limit `lxc.cgroup2.memory.max` (or
//! `lxc.cgroup.memory.limit_in_bytes` on a cgroup v1 host), the stop
//! timeout `lxc-stop -t`, a restart policy other than `no`
//! `lxc.start.auto = 1`. LXC has no supervisor: a container whose process
//! exits is not restarted, only started again at boot by `lxc-autostart`.
//! OCI images run under LXC's own small init (`init.lxc.static`,
//! bind-mounted, as `lxc-execute` does), which passes SIGTERM on as
//! Docker's `init: true` does; it is set as `lxc.init.cmd`, so a plain
//! `lxc-start` (and `lxc-autostart` at boot) starts the container too. A
//! command with an argument holding a space cannot be said there (LXC
//! splits `lxc.init.cmd` on spaces): that container runs through
//! `lxc-execute` and is not started at boot.
//!
//! Its parts: [`oci`] (the image cache), [`marker`] (what makes a container
//! ours, and its LXC name), [`config`] (a container's LXC configuration)
//! and [`forward`] (the port forwarder); this file runs the tools and
//! drives a container's life.

mod config;
pub(crate) mod console;
mod forward;
mod marker;
mod oci;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

pub use config::{
    Cgroup, ConfigInput, INIT_LXC, base_config, execute_args, init_lines, render_config,
};
pub use forward::{
    FORWARD_LOG, FORWARD_PID, FORWARD_TROUBLE, Forward, ForwardArgs, forward_main, parse_forward,
};
pub use marker::{MARKER, Marker, StartMode, lxc_name_for};
pub use oci::is_loopback_registry;

use super::{Backend, BackendError, HostMount, Progress};
use crate::plan::launch::Launch;
use crate::plan::observed::{Kind, Observed, ObservedContainer, ObservedImage, labels};

/// The environment variable that moves the LXC path (tests); by default
/// LXC's own (`lxc-config lxc.lxcpath`), where `lxc-autostart` looks.
pub const LXC_PATH_ENV: &str = "CONTENEUR_LXC_PATH";

/// How long one LXC tool may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(600);

/// Runs a tool; its stdout, or its last lines of stderr.
async fn tool(program: &str, args: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(TOOL_TIMEOUT, cmd.output())
        .await
        .map_err(|_| format!("{program} did not end within {} s", TOOL_TIMEOUT.as_secs()))?
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("jq: error"))
            .collect();
        let tail = lines[lines.len().saturating_sub(3)..].join("; ");
        Err(if tail.is_empty() {
            format!("{program} failed ({})", out.status)
        } else {
            tail
        })
    }
}

/// Whether the LXC path `dir` may hold a container: a folder with a
/// `config` file, which is what `lxc-ls` lists. A path that cannot be read
/// may: `lxc-ls` then says why.
fn holds_containers(dir: &Path) -> bool {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.flatten().any(|e| e.path().join("config").is_file()),
        Err(_) => dir.is_dir(),
    }
}

pub struct LxcBackend {
    lxcpath: PathBuf,
    /// The OCI layout images are copied into.
    cache: PathBuf,
    /// Folders standing for named volumes.
    volumes: PathBuf,
    exe: String,
    cgroup: Cgroup,
    apparmor: bool,
    /// Copies into the one OCI layout, one at a time (its index is a file).
    pull_lock: tokio::sync::Mutex<()>,
}

impl LxcBackend {
    /// Finds the LXC tools and the LXC path. `state` is conteneur's state
    /// folder (image cache, volumes).
    pub async fn detect(state: &Path) -> Result<LxcBackend, BackendError> {
        let unavailable = |message: String| BackendError::Unavailable {
            engine: "lxc",
            message,
        };
        // Both tools at once: each is a process (about 15 ms), on every run.
        let (version, lxcpath) = tokio::join!(tool("lxc-create", &["--version"]), async {
            match std::env::var_os(LXC_PATH_ENV) {
                Some(p) if !p.is_empty() => PathBuf::from(p),
                _ => tool("lxc-config", &["lxc.lxcpath"])
                    .await
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/var/lib/lxc")),
            }
        });
        version.map_err(|e| {
            unavailable(format!(
                "the LXC tools are missing ({e}); on Debian: apt-get install lxc skopeo umoci jq"
            ))
        })?;
        let exe = std::env::current_exe()
            .map_err(|e| unavailable(format!("cannot tell where conteneur is: {e}")))?
            .display()
            .to_string();
        let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .map(|s| s.trim() == "Y")
            .unwrap_or(false);
        Ok(LxcBackend {
            lxcpath,
            cache: state.join("lxc/oci"),
            volumes: state.join("lxc/volumes"),
            exe,
            cgroup: Cgroup::detect(),
            apparmor,
            pull_lock: tokio::sync::Mutex::new(()),
        })
    }

    fn dir(&self, lxc_name: &str) -> PathBuf {
        self.lxcpath.join(lxc_name)
    }

    fn path_arg(&self) -> String {
        self.lxcpath.display().to_string()
    }

    async fn state(&self, lxc_name: &str) -> Result<String, BackendError> {
        let out = tool(
            "lxc-info",
            &["-P", &self.path_arg(), "-n", lxc_name, "-s", "-H"],
        )
        .await
        .map_err(|e| err(lxc_name, "inspect", e))?;
        Ok(out.trim().to_string())
    }

    /// Host folders for the mounts: volumes become folders of ours.
    fn resolve_mounts(
        &self,
        name: &str,
        mounts: &[HostMount],
    ) -> Result<Vec<HostMount>, BackendError> {
        mounts
            .iter()
            .map(|m| {
                if m.bind {
                    return Ok(m.clone());
                }
                let dir = self.volumes.join(&m.host);
                crate::folders::create_dir_all(&dir, crate::folders::PUBLIC).map_err(|e| {
                    err(
                        name,
                        "create",
                        format!("cannot create the volume folder {}: {e}", dir.display()),
                    )
                })?;
                Ok(HostMount {
                    host: dir.display().to_string(),
                    container: m.container.clone(),
                    bind: true,
                    read_only: false,
                })
            })
            .collect()
    }

    async fn destroy(&self, lxc_name: &str) -> Result<(), BackendError> {
        if !self.dir(lxc_name).exists() {
            return Ok(());
        }
        tool(
            "lxc-destroy",
            &["-P", &self.path_arg(), "-n", lxc_name, "-f"],
        )
        .await
        .map(|_| ())
        .map_err(|e| err(lxc_name, "remove", e))
    }
}

fn err(name: &str, action: &'static str, message: impl Into<String>) -> BackendError {
    BackendError::Container {
        name: name.to_string(),
        action,
        message: message.into(),
    }
}

#[async_trait::async_trait]
impl Backend for LxcBackend {
    fn kind(&self) -> Kind {
        Kind::Lxc
    }

    async fn inspect(&self) -> Result<Observed, BackendError> {
        let mut observed = Observed::default();
        for (reference, digest) in self.cached_images() {
            observed.add_image(
                Kind::Lxc,
                reference,
                ObservedImage {
                    id: digest,
                    labels: BTreeMap::new(),
                },
            );
        }
        // `lxc-ls -P PATH` lists the folders of PATH that hold a `config`:
        // when none does, there is nothing to ask it (a process, about
        // 15 ms, on every run of a server without LXC containers).
        if !holds_containers(&self.lxcpath) {
            return Ok(observed);
        }
        let out = tool(
            "lxc-ls",
            &["-P", &self.path_arg(), "-f", "-F", "NAME,STATE"],
        )
        .await
        .map_err(|e| BackendError::Other(format!("listing the LXC containers failed: {e}")))?;
        for line in out.lines().skip(1) {
            let mut cols = line.split_whitespace();
            let (Some(lxc_name), Some(state)) = (cols.next(), cols.next()) else {
                continue;
            };
            let marker = self.read_marker(lxc_name);
            let (name, labels, image) = match &marker {
                Some(m) => (m.name.clone(), m.labels.clone(), m.image.clone()),
                None => (lxc_name.to_string(), BTreeMap::new(), String::new()),
            };
            observed.containers.push(ObservedContainer {
                backend: Kind::Lxc,
                id: lxc_name.to_string(),
                name,
                image_id: labels.get(labels::IMAGE_ID).cloned().unwrap_or_default(),
                labels,
                running: state == "RUNNING",
                state: state.to_lowercase(),
                image,
            });
        }
        Ok(observed)
    }

    async fn prepare(
        &self,
        image: &str,
        tag: &str,
        progress: &dyn Progress,
    ) -> Result<String, BackendError> {
        self.prepare_image(image, tag, progress).await
    }

    async fn create(
        &self,
        name: &str,
        launch: &Launch,
        mounts: &[HostMount],
        labels: &BTreeMap<String, String>,
    ) -> Result<String, BackendError> {
        let lxc_name = lxc_name_for(name, |n| self.dir(n).exists()).ok_or_else(|| {
            err(
                name,
                "create",
                format!(
                    "the LXC names {0} and {0}{1} are both taken under {2}",
                    name.strip_suffix(crate::plan::observed::NEXT_SUFFIX)
                        .unwrap_or(name),
                    crate::plan::observed::NEXT_SUFFIX,
                    self.lxcpath.display()
                ),
            )
        })?;
        let mounts = self.resolve_mounts(name, mounts)?;
        let plan_hash = labels.get(labels::PLAN_HASH).cloned().unwrap_or_default();
        let server = labels.get(labels::SERVER).cloned().unwrap_or_default();
        let extra = render_config(
            launch,
            &ConfigInput {
                server: &server,
                plan_hash: &plan_hash,
                mounts: &mounts,
                cgroup: self.cgroup,
                exe: &self.exe,
            },
        )
        .map_err(|e| err(name, "create", e))?;
        // Its console is its log (`conteneur logs`).
        let extra = format!("{extra}{}", console::config_line(&self.dir(&lxc_name)));
        crate::folders::create_dir_all(&self.lxcpath, crate::folders::PUBLIC)
            .map_err(|e| err(name, "create", format!("{}: {e}", self.lxcpath.display())))?;
        let base = tempfile::NamedTempFile::new()
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, base_config(self.apparmor).as_bytes())?;
                Ok(f)
            })
            .map_err(|e| err(name, "create", e.to_string()))?;
        let base_path = base.path().display().to_string();
        let path = self.path_arg();
        let (start, made) = if crate::plan::launch::is_template(&launch.image) {
            let r = tool(
                "lxc-create",
                &[
                    "-P",
                    &path,
                    "-n",
                    &lxc_name,
                    "-f",
                    &base_path,
                    "-t",
                    &launch.image,
                ],
            )
            .await;
            (StartMode::Start, r)
        } else {
            let url = self.cache_ref(&launch.image, &launch.tag);
            let r = tool(
                "lxc-create",
                &[
                    "-P", &path, "-n", &lxc_name, "-f", &base_path, "-t", "oci", "--", "--url",
                    &url,
                ],
            )
            .await;
            (StartMode::Execute, r)
        };
        if let Err(e) = made {
            // lxc-create may leave a half-made folder behind.
            let _ = self.destroy(&lxc_name).await;
            return Err(err(name, "create", e));
        }
        let config = self.dir(&lxc_name).join("config");
        // An OCI application starts with lxc-start too (so lxc-autostart
        // can start it at boot) when its command can be said in
        // lxc.init.cmd; else only lxc-execute can, and it does not start at
        // boot.
        let mut extra = extra;
        let mut start = start;
        if start == StartMode::Execute {
            let args = std::fs::read_to_string(&config)
                .ok()
                .and_then(|c| execute_args(&c));
            let lines = args.and_then(|a| {
                Path::new(INIT_LXC)
                    .exists()
                    .then(|| init_lines(&a, &lxc_name, INIT_LXC))
                    .flatten()
            });
            match lines {
                Some(lines) => {
                    extra.push_str(&lines);
                    start = StartMode::Start;
                }
                None => extra.push_str(
                    "# conteneur: this command cannot be said in lxc.init.cmd (LXC splits it on spaces): \
                     it runs through lxc-execute and lxc-autostart cannot start it\n\
                     lxc.start.auto = 0\n",
                ),
            }
        }
        let marker = Marker {
            name: name.to_string(),
            labels: labels.clone(),
            image: format!("{}:{}", launch.image, launch.tag),
            start,
        };
        let finish = || -> Result<(), BackendError> {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&config)
                .map_err(|e| err(name, "create", format!("{}: {e}", config.display())))?;
            std::io::Write::write_all(&mut f, extra.as_bytes())
                .map_err(|e| err(name, "create", format!("{}: {e}", config.display())))?;
            self.write_marker(&lxc_name, &marker)
        };
        if let Err(e) = finish() {
            let _ = self.destroy(&lxc_name).await;
            return Err(e);
        }
        Ok(lxc_name)
    }

    async fn start(&self, id: &str) -> Result<(), BackendError> {
        let marker = self
            .read_marker(id)
            .ok_or_else(|| err(id, "start", "its conteneur marker is missing"))?;
        let _ = std::fs::remove_file(self.dir(id).join(FORWARD_LOG));
        let path = self.path_arg();
        let program = match marker.start {
            StartMode::Execute => "lxc-execute",
            StartMode::Start => "lxc-start",
        };
        match tool(program, &["-P", &path, "-n", id, "-d"]).await {
            Ok(_) => Ok(()),
            Err(e) => {
                // The forwarder says why it could not listen (a port taken…).
                let why = std::fs::read_to_string(self.dir(id).join(FORWARD_LOG))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default();
                Err(err(
                    id,
                    "start",
                    if why.is_empty() {
                        e
                    } else {
                        format!("its port forward failed: {why}")
                    },
                ))
            }
        }
    }

    async fn stop(&self, id: &str, timeout: u32) -> Result<(), BackendError> {
        if !self.dir(id).exists() || self.state(id).await? == "STOPPED" {
            return Ok(());
        }
        let t = timeout.max(1).to_string();
        match tool("lxc-stop", &["-P", &self.path_arg(), "-n", id, "-t", &t]).await {
            Ok(_) => Ok(()),
            // Stopped meanwhile.
            Err(_) if self.state(id).await.ok().as_deref() == Some("STOPPED") => Ok(()),
            Err(e) => Err(err(id, "stop", e)),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), BackendError> {
        // Only ever one of ours: the marker must be there.
        if self.dir(id).exists() && self.read_marker(id).is_none() {
            return Err(err(
                id,
                "remove",
                "it has no conteneur marker: it is not ours, it was left as it is",
            ));
        }
        self.stop(id, 1).await?;
        self.destroy(id).await
    }

    async fn rename(&self, id: &str, name: &str) -> Result<(), BackendError> {
        let mut marker = self
            .read_marker(id)
            .ok_or_else(|| err(id, "rename", "its conteneur marker is missing"))?;
        marker.name = name.to_string();
        self.write_marker(id, &marker)
    }

    /// Not started at boot any more (`lxc.start.auto = 0` in its
    /// configuration); LXC containers join no private network.
    async fn retire(&self, id: &str) -> Result<(), BackendError> {
        let path = self.dir(id).join("config");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| err(id, "retire", format!("{}: {e}", path.display())))?;
        let mut out: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("lxc.start.auto"))
            .map(|l| format!("{l}\n"))
            .collect();
        out.push_str("lxc.start.auto = 0\n");
        crate::atomic::write(&path, out.as_bytes(), crate::atomic::mode_or(&path, 0o644))
            .map_err(|e| err(id, "retire", format!("{}: {e}", path.display())))
    }

    async fn running(&self, id: &str) -> Result<bool, BackendError> {
        Ok(self.state(id).await? == "RUNNING")
    }

    fn trouble(&self, id: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.dir(id).join(FORWARD_TROUBLE)).ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| format!("its port forwarder {text}"))
    }

    async fn logs(
        &self,
        id: &str,
        request: &super::LogRequest,
        sink: super::LogSink<'_>,
    ) -> Result<(), BackendError> {
        let path = self.dir(id).join(console::CONSOLE_LOG);
        let io = |e: std::io::Error| err(id, "logs", format!("{}: {e}", path.display()));
        let mut offset = console::read_all(&path, request.tail, sink).map_err(io)?;
        // As `docker logs --follow`: until the container stops.
        while request.follow && self.running(id).await.unwrap_or(false) {
            tokio::time::sleep(console::FOLLOW_POLL).await;
            offset = console::read_new(&path, offset, sink).map_err(io)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lxc_ls_is_asked_only_when_the_path_holds_a_container() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("lxc");
        assert!(!super::holds_containers(&path), "a missing path");
        std::fs::create_dir_all(path.join("half-made")).unwrap();
        assert!(!super::holds_containers(&path), "no folder with a config");
        std::fs::write(path.join("half-made/config"), "lxc.uts.name = c\n").unwrap();
        assert!(super::holds_containers(&path));
    }

    use super::*;

    #[test]
    fn images_templates_and_names() {
        assert!(is_loopback_registry("localhost:5000/demo/web"));
        assert!(is_loopback_registry("127.0.0.1:5000/x"));
        assert!(!is_loopback_registry("registry.example.org/x"));
        let taken = |n: &str| n == "web";
        assert_eq!(lxc_name_for("web.next", taken).as_deref(), Some("web.next"));
        let taken = |n: &str| n == "web.next";
        assert_eq!(lxc_name_for("web.next", taken).as_deref(), Some("web"));
        assert_eq!(lxc_name_for("web.next", |_| false).as_deref(), Some("web"));
        assert_eq!(lxc_name_for("web", |_| false).as_deref(), Some("web"));
        assert_eq!(lxc_name_for("web", |_| true), None);
        assert_eq!(
            parse_forward("127.0.0.1:8080=80").unwrap(),
            Forward {
                listen: "127.0.0.1:8080".parse().unwrap(),
                inner: 80
            }
        );
        assert!(parse_forward("8080=80").is_err());
    }
}
