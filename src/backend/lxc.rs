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

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::{
    Backend, BackendError, HostMount, Kind, Observed, ObservedContainer, ObservedImage, Progress,
    labels,
};
use crate::plan::launch::Launch;

/// The marker file in a container's folder.
pub const MARKER: &str = "conteneur.json";
/// The forwarder's pid, in the container's folder.
pub const FORWARD_PID: &str = "conteneur-forward.pid";
/// What the forwarder said when it could not start, in the container's folder.
pub const FORWARD_LOG: &str = "conteneur-forward.log";
/// The environment variable that moves the LXC path (tests); by default
/// LXC's own (`lxc-config lxc.lxcpath`), where `lxc-autostart` looks.
pub const LXC_PATH_ENV: &str = "CONTENEUR_LXC_PATH";

/// How long one LXC tool may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(600);

/// What conteneur keeps in a container's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// The name conteneur knows it by (`NAME`, or `NAME.next` while it is
    /// switched in).
    pub name: String,
    /// The same labels a Docker container carries.
    pub labels: BTreeMap<String, String>,
    /// The image or template it was made from, for `status`.
    pub image: String,
    /// How it starts: `execute` (an OCI application, under LXC's init) or
    /// `start` (a template's system container, its own init).
    pub start: StartMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartMode {
    Execute,
    Start,
}

/// An LXC template name rather than an OCI image: no registry path.
pub fn is_template(image: &str) -> bool {
    !image.is_empty() && !image.contains(['/', ':', '.'])
}

/// A registry on this machine, read over plain HTTP as Docker does.
pub fn is_loopback_registry(image: &str) -> bool {
    let host = image.split('/').next().unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// The LXC name of a new container asked for as `name` (`NAME` or
/// `NAME.next`): `NAME` when free, else `NAME.next`. The running container
/// a replacement is made beside may hold either, since an LXC container
/// keeps its name when it is switched in.
///
/// Replaced containers drain beside the new one for a while (keeping their
/// LXC name), so a replace made during a drain may find both taken: then
/// `NAME.2` … `NAME.9`.
pub fn lxc_name_for(name: &str, taken: impl Fn(&str) -> bool) -> Option<String> {
    let base = name.strip_suffix(super::NEXT_SUFFIX).unwrap_or(name);
    [base.to_string(), format!("{base}{}", super::NEXT_SUFFIX)]
        .into_iter()
        .chain((2..10).map(|n| format!("{base}.{n}")))
        .find(|n| !taken(n))
}

/// How the host limits memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cgroup {
    V1,
    V2,
}

impl Cgroup {
    /// cgroup v2 when the memory controller is on the unified hierarchy.
    pub fn detect() -> Cgroup {
        match std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers") {
            Ok(c) if c.split_whitespace().any(|w| w == "memory") => Cgroup::V2,
            _ => Cgroup::V1,
        }
    }
}

/// What [`render_config`] needs besides the launch plan.
#[derive(Debug, Clone)]
pub struct ConfigInput<'a> {
    pub server: &'a str,
    pub plan_hash: &'a str,
    /// Host folders, resolved (volumes already turned into folders).
    pub mounts: &'a [HostMount],
    pub cgroup: Cgroup,
    /// The conteneur binary, run by the forwarding hooks.
    pub exe: &'a str,
}

fn no_newline(what: &str, value: &str) -> Result<(), String> {
    if value.contains(['\n', '\r']) {
        Err(format!("{what} '{value}' holds a line break"))
    } else {
        Ok(())
    }
}

fn no_space(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value.contains(char::is_whitespace) {
        Err(format!("{what} '{value}' is empty or holds a space"))
    } else {
        Ok(())
    }
}

/// The first lines of a container's configuration, before the template's:
/// a network namespace with its loopback only, and AppArmor as the host
/// has it.
pub fn base_config(apparmor: bool) -> String {
    format!(
        "# conteneur: a network namespace of its own, loopback only (ports come through conteneur lxc-forward)\n\
         lxc.net.0.type = empty\n\
         lxc.net.0.flags = up\n\
         lxc.apparmor.profile = {}\n",
        if apparmor { "generated" } else { "unconfined" }
    )
}

/// Where Debian's lxc package puts LXC's small static init.
pub const INIT_LXC: &str = "/usr/sbin/init.lxc.static";

/// The arguments of the `lxc.execute.cmd` line the OCI template writes
/// (`'"/bin/httpd" "-f" …'`: JSON strings between single quotes).
pub fn execute_args(config: &str) -> Option<Vec<String>> {
    let line = config
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("lxc.execute.cmd"))?;
    let value = line.trim_start().strip_prefix('=')?.trim();
    let inner = value.strip_prefix('\'')?.strip_suffix('\'')?;
    let args: Result<Vec<String>, _> = serde_json::Deserializer::from_str(inner)
        .into_iter::<String>()
        .collect();
    args.ok().filter(|a| !a.is_empty())
}

/// The lines that let `lxc-start` (and so `lxc-autostart` at boot) run an
/// OCI image's command under LXC's init, as `lxc-execute` does: the init
/// bind-mounted into the container, and `lxc.init.cmd`. None when an
/// argument holds a space or a quote: LXC splits `lxc.init.cmd` on spaces
/// and keeps quotes, so such a command can only run through `lxc-execute`.
pub fn init_lines(args: &[String], lxc_name: &str, init: &str) -> Option<String> {
    let plain = |a: &str| {
        !a.is_empty() && !a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'')
    };
    if !args.iter().all(|a| plain(a)) || !plain(lxc_name) || !plain(init) {
        return None;
    }
    Some(format!(
        "lxc.mount.entry = {init} .conteneur-init none bind,ro,create=file 0 0\n\
         lxc.init.cmd = /.conteneur-init -n {lxc_name} -- {}\n",
        args.join(" ")
    ))
}

/// The lines conteneur appends to a container's configuration after the
/// template's: marker comment, host name, environment, mounts, limits,
/// autostart and the forwarding hooks. Pure, so it is tested as text.
pub fn render_config(launch: &Launch, input: &ConfigInput<'_>) -> Result<String, String> {
    let mut out = String::new();
    out.push_str(&format!(
        "\n# conteneur: managed server={} name={} plan-hash={} (labels in {MARKER}; conteneur rewrites this container, do not edit)\n",
        input.server, launch.name, input.plan_hash
    ));
    out.push_str(&format!("lxc.uts.name = {}\n", launch.name));
    for e in &launch.env {
        no_newline("environment entry", e)?;
        if !e.contains('=') {
            return Err(format!("environment entry '{e}' is not NAME=value"));
        }
        out.push_str(&format!("lxc.environment = {e}\n"));
    }
    for m in input.mounts {
        no_space("host folder", &m.host)?;
        no_space("folder in the container", &m.container)?;
        if !m.container.starts_with('/') {
            return Err(format!(
                "folder in the container '{}' is not absolute",
                m.container
            ));
        }
        out.push_str(&format!(
            "lxc.mount.entry = {} {} none bind,create=dir 0 0\n",
            m.host,
            m.container.trim_start_matches('/')
        ));
    }
    if !launch.memory.is_empty() {
        let bytes = super::docker::parse_size(&launch.memory)
            .ok_or_else(|| format!("memory limit '{}' is not a size", launch.memory))?;
        out.push_str(&match input.cgroup {
            Cgroup::V2 => format!("lxc.cgroup2.memory.max = {bytes}\n"),
            Cgroup::V1 => format!("lxc.cgroup.memory.limit_in_bytes = {bytes}\n"),
        });
    }
    if launch.app.no_new_privileges {
        // As Docker's no-new-privileges: no process gains privileges
        // through setuid programs.
        out.push_str("lxc.no_new_privs = 1\n");
    }
    let auto = if launch.restart == "no" { 0 } else { 1 };
    out.push_str(&format!("lxc.start.auto = {auto}\n"));
    if !launch.ports.is_empty() {
        no_space("conteneur binary", input.exe)?;
        let ports: Vec<String> = launch
            .ports
            .iter()
            .map(|p| format!("--port {}:{}={}", p.address, p.host, p.container))
            .collect();
        out.push_str(&format!(
            "lxc.hook.start-host = {} lxc-forward start {}\n",
            input.exe,
            ports.join(" ")
        ));
        out.push_str(&format!(
            "lxc.hook.post-stop = {} lxc-forward stop\n",
            input.exe
        ));
    }
    Ok(out)
}

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
        tool("lxc-create", &["--version"]).await.map_err(|e| {
            unavailable(format!(
                "the LXC tools are missing ({e}); on Debian: apt-get install lxc skopeo umoci jq"
            ))
        })?;
        let lxcpath = match std::env::var_os(LXC_PATH_ENV) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => tool("lxc-config", &["lxc.lxcpath"])
                .await
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/var/lib/lxc")),
        };
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

    fn read_marker(&self, lxc_name: &str) -> Option<Marker> {
        let text = std::fs::read_to_string(self.dir(lxc_name).join(MARKER)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn write_marker(&self, lxc_name: &str, marker: &Marker) -> Result<(), BackendError> {
        let text = serde_json::to_string_pretty(marker).unwrap_or_default();
        super::write_atomic(&self.dir(lxc_name).join(MARKER), text.as_bytes())
            .map_err(|e| err(lxc_name, "write its marker", e.to_string()))
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

    /// The OCI reference an image is kept under in the cache.
    fn cache_ref(&self, image: &str, tag: &str) -> String {
        format!("oci:{}:{image}:{tag}", self.cache.display())
    }

    /// Images in the cache: `image:tag` → manifest digest.
    fn cached_images(&self) -> BTreeMap<String, String> {
        #[derive(Deserialize)]
        struct Index {
            #[serde(default)]
            manifests: Vec<Entry>,
        }
        #[derive(Deserialize)]
        struct Entry {
            digest: String,
            #[serde(default)]
            annotations: BTreeMap<String, String>,
        }
        let Ok(text) = std::fs::read_to_string(self.cache.join("index.json")) else {
            return BTreeMap::new();
        };
        let Ok(index) = serde_json::from_str::<Index>(&text) else {
            return BTreeMap::new();
        };
        index
            .manifests
            .into_iter()
            .filter_map(|m| {
                m.annotations
                    .get("org.opencontainers.image.ref.name")
                    .map(|r| (r.clone(), m.digest))
            })
            .collect()
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
        if !self.lxcpath.is_dir() {
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
        let reference = format!("{image}:{tag}");
        let fail = |message: String| BackendError::pull(image, tag, message);
        if is_template(image) {
            let id = format!("template:{image}");
            progress.done(&reference, &Ok(id.clone()));
            return Ok(id);
        }
        let _one = self.pull_lock.lock().await;
        crate::folders::create_dir_all(&self.cache, crate::folders::PUBLIC)
            .map_err(|e| fail(format!("cannot create {}: {e}", self.cache.display())))?;
        let mut cmd = Command::new("skopeo");
        cmd.arg("copy");
        if is_loopback_registry(image) {
            cmd.arg("--src-tls-verify=false");
        }
        cmd.arg(format!("docker://{reference}"))
            .arg(self.cache_ref(image, tag))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            fail(format!(
                "cannot run skopeo ({e}); on Debian: apt-get install skopeo umoci jq"
            ))
        })?;
        if let Some(stdout) = child.stdout.take() {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                progress.update(&reference, line.trim());
            }
        }
        let out = tokio::time::timeout(TOOL_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| fail("skopeo did not end in time".into()))?
            .map_err(|e| fail(e.to_string()))?;
        let result = if out.status.success() {
            self.cached_images()
                .get(&reference)
                .cloned()
                .ok_or_else(|| fail("the image is not in the cache after the copy".into()))
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            let msg = err
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("skopeo failed")
                .trim();
            // skopeo's log lines: keep the message only.
            let msg = msg
                .split_once("msg=\"")
                .map(|(_, m)| m.trim_end_matches('"'))
                .unwrap_or(msg);
            Err(fail(msg.to_string()))
        };
        progress.done(&reference, &result);
        result
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
                    name.strip_suffix(super::NEXT_SUFFIX).unwrap_or(name),
                    super::NEXT_SUFFIX,
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
        let (start, made) = if is_template(&launch.image) {
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

    async fn running(&self, id: &str) -> Result<bool, BackendError> {
        Ok(self.state(id).await? == "RUNNING")
    }
}

// ----- the forwarder ------------------------------------------------------

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
        "serve" => match forward_serve(&a.ports, a.pid) {
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

/// The start time of process `pid` (field 22 of its stat), to tell it from
/// a later process with the same pid.
fn start_time(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19).map(str::to_string)
}

/// The forwarder itself: listens on the host, connects inside the
/// container's network namespace, copies both ways; ends when the
/// container's init does.
fn forward_serve(ports: &[String], pid: Option<i32>) -> Result<(), String> {
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
    rt.block_on(async move {
        for (l, inner) in listeners {
            let Ok(l) = tokio::net::TcpListener::from_std(l) else {
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Ok((mut outside, _)) = l.accept().await {
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
                }
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

    fn launch() -> Launch {
        let mut l = crate::plan::launch::sample("web", "1.0", 8080);
        l.backend = "lxc".into();
        l.env = vec!["A=b c".into()];
        l.memory = "64m".into();
        l
    }

    fn input<'a>(mounts: &'a [HostMount], cgroup: Cgroup) -> ConfigInput<'a> {
        ConfigInput {
            server: "/srv/root",
            plan_hash: "abc",
            mounts,
            cgroup,
            exe: "/usr/bin/conteneur",
        }
    }

    #[test]
    fn config_maps_every_setting() {
        let mounts = [HostMount {
            host: "/srv/root/srv/web".into(),
            container: "/www/data".into(),
            bind: true,
            read_only: false,
        }];
        let mut hardened = launch();
        hardened.app.no_new_privileges = true;
        let text = render_config(&hardened, &input(&mounts, Cgroup::V1)).unwrap();
        assert!(text.contains("lxc.no_new_privs = 1\n"), "{text}");
        let text = render_config(&launch(), &input(&mounts, Cgroup::V1)).unwrap();
        assert!(!text.contains("no_new_privs"), "{text}");
        for want in [
            "# conteneur: managed server=/srv/root name=web plan-hash=abc",
            "lxc.uts.name = web\n",
            "lxc.environment = A=b c\n",
            "lxc.mount.entry = /srv/root/srv/web www/data none bind,create=dir 0 0\n",
            "lxc.cgroup.memory.limit_in_bytes = 67108864\n",
            "lxc.start.auto = 1\n",
            "lxc.hook.start-host = /usr/bin/conteneur lxc-forward start --port 127.0.0.1:8080=80\n",
            "lxc.hook.post-stop = /usr/bin/conteneur lxc-forward stop\n",
        ] {
            assert!(text.contains(want), "{want} missing from:\n{text}");
        }
        let text = render_config(&launch(), &input(&mounts, Cgroup::V2)).unwrap();
        assert!(
            text.contains("lxc.cgroup2.memory.max = 67108864\n"),
            "{text}"
        );
        let mut l = launch();
        l.restart = "no".into();
        l.ports.clear();
        l.memory.clear();
        let text = render_config(&l, &input(&[], Cgroup::V2)).unwrap();
        assert!(text.contains("lxc.start.auto = 0\n"), "{text}");
        assert!(
            !text.contains("lxc-forward") && !text.contains("memory"),
            "{text}"
        );
    }

    #[test]
    fn config_refuses_what_would_break_its_lines() {
        let mut l = launch();
        l.env = vec!["A=1\nlxc.rootfs.path = /".into()];
        assert!(render_config(&l, &input(&[], Cgroup::V1)).is_err());
        let mounts = [HostMount {
            host: "/srv/a b".into(),
            container: "/data".into(),
            bind: true,
            read_only: false,
        }];
        assert!(render_config(&launch(), &input(&mounts, Cgroup::V1)).is_err());
        let base = base_config(false);
        assert!(base.contains("lxc.net.0.type = empty") && base.contains("unconfined"));
    }

    #[test]
    fn an_oci_command_runs_under_lxc_init_with_lxc_start() {
        let config = "lxc.rootfs.path = dir:/x\nlxc.execute.cmd = '\"/bin/httpd\" \"-f\" \"-p\" \"80\" '\nlxc.uts.name = web\n";
        let args = execute_args(config).unwrap();
        assert_eq!(args, ["/bin/httpd", "-f", "-p", "80"]);
        assert_eq!(
            init_lines(&args, "web.next", INIT_LXC).unwrap(),
            "lxc.mount.entry = /usr/sbin/init.lxc.static .conteneur-init none bind,ro,create=file 0 0\n\
             lxc.init.cmd = /.conteneur-init -n web.next -- /bin/httpd -f -p 80\n"
        );
        // LXC cannot say an argument with a space in lxc.init.cmd.
        let spaced = vec!["/bin/sh".to_string(), "-c".into(), "echo a b".into()];
        assert_eq!(init_lines(&spaced, "web", INIT_LXC), None);
        assert_eq!(execute_args("lxc.uts.name = web\n"), None);
        assert_eq!(execute_args("lxc.execute.cmd = ''\n"), None);
    }

    #[test]
    fn images_templates_and_names() {
        assert!(is_template("busybox"));
        assert!(!is_template("localhost:5000/demo/web"));
        assert!(!is_template("docker.io/library/nginx"));
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
