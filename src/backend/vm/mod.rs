//! The `vm` engine: virtual machines on QEMU, driven like the other
//! engines (prepare, create, start, stop, remove, rename, running), for
//! services that do not fit a container (another kernel, another OS, a
//! vendor appliance). See docs/vm.md.
//!
//! **Images** are containerDisks (KubeVirt's convention): a container image
//! holding the guest's disk under `/disk/`, with our additions for a direct
//! kernel boot, `/disk/vmlinuz`, `/disk/initrd.img` and `/disk/cmdline`
//! ([`image`]). [`VmEngine::prepare`] pulls the image through Docker like
//! any image, then extracts `/disk/` once per image id into
//! `vm/images/<id>/` under conteneur's state folder; a disk that is not one
//! is refused there, before anything changes.
//!
//! **A VM** is a folder `vm/<id>/` ([`state`]): `state.json` (its labels,
//! image, ports, settings, whether it should run, QEMU's pid: the engine's
//! truth, written atomically), a copy-on-write overlay of the cached disk
//! (`qemu-img create -f qcow2 -b … -F raw|qcow2`: a VM never writes the
//! cache), its serial console (`console.log`, its log), QMP's socket and
//! QEMU's pid file. The id never changes; a rename changes the name in
//! `state.json`, so the executor's handle stays good through a replace.
//!
//! **Running** ([`qemu`]): QEMU runs as a daemon of its own (`-daemonize`),
//! not a child of conteneur, so a VM outlives the run that started it as a
//! container outlives `docker run`. KVM where a cached probe guest says it
//! really runs guests, else TCG; memory and CPUs from the launch plan (the
//! host's free memory is checked first); each port forwarded from
//! 127.0.0.1 by QEMU's user network; mounts are refused (no virtio-9p yet).
//! **Stopping** is an ACPI shutdown over QMP (`system_powerdown`), then a
//! kill once the stop timeout has passed.
//!
//! **After a reboot** nothing runs, and `state.json` says which VMs should
//! ([`state::VmState::comes_back`]: started, never stopped, restart policy
//! other than `no`). [`VmEngine::revive`] starts them again; conteneur calls
//! it at each run, and so at boot through `conteneur reconfigure` (the
//! shipped `conteneur-reconfigure.service`, or EOLE's boot scripts). A QEMU
//! that dies between two runs is started again by the next run, not at once:
//! there is no supervisor process (and no state held by one).

mod backend;
pub mod image;
pub mod qemu;
pub mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptions, DownloadFromContainerOptions, RemoveContainerOptions,
};
use futures_util::StreamExt;
use tokio::process::Command;

use super::docker::DockerBackend;
use super::lxc::console;
use super::{Backend, BackendError, HostMount, LogRequest, LogSink, Progress};
use crate::plan::launch::Launch;
use crate::plan::observed::{Kind, Observed, ObservedContainer, ObservedImage};
pub use backend::VmBackend;
pub use image::{DiskFormat, GuestImage};
pub use qemu::{Accel, AccelChoice, Forward, Tools};
pub use state::VmState;

/// The engine's name in errors.
pub const ENGINE: &str = "vm";
/// How long QEMU may take to daemonize (it returns once the VM runs).
const START_BOUND: Duration = Duration::from_secs(60);
/// How long a `qemu-img create` may take.
const TOOL_BOUND: Duration = Duration::from_secs(60);
/// How long the extraction of an image's disk may take.
const EXTRACT_BOUND: Duration = Duration::from_secs(600);
/// After a kill, how long QEMU may take to be gone.
const KILL_BOUND: Duration = Duration::from_secs(5);

/// What a VM is made of, from its launch plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmSpec {
    pub image: String,
    pub tag: String,
    /// Docker-style size (`256m`, `1g`); empty: [`qemu::DEFAULT_MEMORY_MIB`].
    pub memory: String,
    pub cpus: u32,
    pub ports: Vec<Forward>,
    pub restart: String,
    pub stop_timeout: u32,
    pub mounts: Vec<HostMount>,
}

impl VmSpec {
    /// The spec of `launch` as the executor hands it to an engine (each
    /// port's `host` is this instance's host port). `cpus` is the
    /// container's `_cpus` (1 when unset).
    pub fn from_launch(launch: &Launch, mounts: &[HostMount], cpus: u32) -> VmSpec {
        VmSpec {
            image: launch.image.clone(),
            tag: launch.tag.clone(),
            memory: launch.memory.text().to_string(),
            cpus: cpus.max(1),
            ports: launch
                .ports
                .iter()
                .map(|p| Forward {
                    address: if p.address.is_empty() {
                        "127.0.0.1".into()
                    } else {
                        p.address.clone()
                    },
                    host: p.host,
                    guest: p.container,
                })
                .collect(),
            restart: launch.restart.clone(),
            stop_timeout: launch.stop_timeout,
            mounts: mounts.to_vec(),
        }
    }
}

/// `vm/images/tags/<hash>.json`: the id an image reference was prepared as.
#[derive(serde::Serialize, serde::Deserialize)]
struct TagRecord {
    reference: String,
    id: String,
}

/// The `vm` engine of one state folder.
pub struct VmEngine {
    /// `<state>/vm`.
    dir: PathBuf,
    docker: DockerBackend,
    accel: AccelChoice,
    /// QEMU's programs, or why they cannot be used (an error only for the
    /// operations that need them).
    tools: Result<Tools, String>,
}

fn err(name: &str, action: &'static str, message: impl Into<String>) -> BackendError {
    BackendError::Container {
        name: name.to_string(),
        action,
        message: message.into(),
    }
}

impl VmEngine {
    /// The engine for conteneur's state folder `state`, pulling through the
    /// Docker engine, with QEMU from PATH.
    pub async fn connect(state: &Path, accel: AccelChoice) -> Result<VmEngine, BackendError> {
        let docker = DockerBackend::connect().await?;
        Ok(VmEngine::with_tools(state, docker, accel, Tools::find()))
    }

    /// As [`Self::connect`], with QEMU's programs given (tests: a missing
    /// QEMU).
    pub fn with_tools(
        state: &Path,
        docker: DockerBackend,
        accel: AccelChoice,
        tools: Result<Tools, String>,
    ) -> VmEngine {
        VmEngine {
            dir: state.join("vm"),
            docker,
            accel,
            tools,
        }
    }

    fn tools(&self) -> Result<&Tools, BackendError> {
        self.tools.as_ref().map_err(|m| BackendError::Unavailable {
            engine: ENGINE,
            message: m.clone(),
        })
    }

    fn files(&self, id: &str) -> state::Files {
        state::Files::new(self.dir.join(id))
    }

    fn image_dir(&self, image_id: &str) -> PathBuf {
        let digest = image_id.strip_prefix("sha256:").unwrap_or(image_id);
        self.dir.join("images").join(digest)
    }

    /// Where the guest of the image `image_id` was extracted.
    fn guest(&self, image_id: &str, image: &str) -> Result<GuestImage, String> {
        image::layout(&self.image_dir(image_id).join(image::DISK_DIR), image)
    }

    /// Makes `image:tag` present: pulled by the Docker engine, its `/disk/`
    /// extracted into the cache once per image id and checked (a disk that
    /// is not one is refused here). Returns the image id.
    pub async fn prepare(
        &self,
        image: &str,
        tag: &str,
        progress: &dyn Progress,
    ) -> Result<String, BackendError> {
        let id = self.docker.prepare(image, tag, progress).await?;
        let reference = format!("{image}:{tag}");
        // The run's stall watchdog hears of the extraction too: each chunk
        // of the disk read is progress, a stalled read is silence.
        self.extract(&reference, &id, progress)
            .await
            .map_err(|m| BackendError::pull(image, tag, m))?;
        self.remember(&reference, &id)
            .map_err(|m| BackendError::pull(image, tag, m))?;
        Ok(id)
    }

    /// The file that says which image id `reference` was last prepared as.
    fn tag_file(&self, reference: &str) -> PathBuf {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(reference.as_bytes());
        let hex: String = hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
        self.dir.join("images/tags").join(format!("{hex}.json"))
    }

    fn remember(&self, reference: &str, image_id: &str) -> Result<(), String> {
        let path = self.tag_file(reference);
        let text = serde_json::to_vec(&TagRecord {
            reference: reference.to_string(),
            id: image_id.to_string(),
        })
        .map_err(|e| e.to_string())?;
        crate::backend::write_atomic(&path, &text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The prepared images whose disk is in the cache: `image:tag` → id.
    pub fn images(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Ok(entries) = std::fs::read_dir(self.dir.join("images/tags")) else {
            return out;
        };
        for entry in entries.flatten() {
            let Some(t) = std::fs::read(entry.path())
                .ok()
                .and_then(|b| serde_json::from_slice::<TagRecord>(&b).ok())
            else {
                continue;
            };
            if self.image_dir(&t.id).is_dir() {
                out.insert(t.reference, t.id);
            }
        }
        out
    }

    /// Extracts `/disk/` of the local image `reference` (id `image_id`)
    /// into the cache, unless it is there: a temporary container is made
    /// (never started), its `/disk/` read as a tar through the engine's
    /// archive API, unpacked beside the cache and checked, then renamed
    /// into place (a concurrent extraction of the same image loses the
    /// rename and keeps the winner's).
    async fn extract(
        &self,
        reference: &str,
        image_id: &str,
        progress: &dyn Progress,
    ) -> Result<GuestImage, String> {
        let target = self.image_dir(image_id);
        if target.is_dir() {
            return self.guest(image_id, reference);
        }
        progress.update(reference, "extracting /disk/");
        let images = self.dir.join("images");
        crate::folders::create_dir_all(&images, crate::folders::PRIVATE)
            .map_err(|e| format!("{}: {e}", images.display()))?;
        let work = tempfile::Builder::new()
            .prefix(".extract-")
            .tempdir_in(&images)
            .map_err(|e| format!("{}: {e}", images.display()))?;
        let tar = work.path().join("disk.tar");
        tokio::time::timeout(EXTRACT_BOUND, self.download_disk(reference, &tar, progress))
            .await
            .map_err(|_| {
                format!(
                    "extracting /{} of {reference} took more than {} s",
                    image::DISK_DIR,
                    EXTRACT_BOUND.as_secs()
                )
            })??;
        let root = work.path().join("root");
        let unpack_root = root.clone();
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            let f = std::fs::File::open(&tar).map_err(|e| e.to_string())?;
            tar::Archive::new(f)
                .unpack(&unpack_root)
                .map_err(|e| format!("unpacking the image's /disk/: {e}"))?;
            std::fs::remove_file(&tar).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())??;
        image::layout(&root.join(image::DISK_DIR), reference)?;
        if std::fs::rename(&root, &target).is_err() && !target.is_dir() {
            return Err(format!(
                "cannot move the extracted disk to {}",
                target.display()
            ));
        }
        self.guest(image_id, reference)
    }

    /// Writes the tar of `/disk/` of image `reference` to `out`.
    async fn download_disk(
        &self,
        reference: &str,
        out: &Path,
        progress: &dyn Progress,
    ) -> Result<(), String> {
        let docker = self.docker.client();
        let body = ContainerCreateBody {
            image: Some(reference.to_string()),
            // Never started; a command only because the engine wants one.
            cmd: Some(vec!["/disk".to_string()]),
            labels: Some(std::collections::HashMap::from([(
                "fr.eole.conteneur.vm-extract".to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        };
        let c = docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(|e| format!("cannot make a container of {reference} to read its disk: {e}"))?;
        let result = async {
            let mut stream = docker.download_from_container(
                &c.id,
                Some(DownloadFromContainerOptions {
                    path: format!("/{}", image::DISK_DIR),
                }),
            );
            let mut file = tokio::fs::File::create(out)
                .await
                .map_err(|e| format!("{}: {e}", out.display()))?;
            let (mut read, mut told) = (0usize, 0usize);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| match e {
                    bollard::errors::Error::DockerResponseServerError {
                        status_code: 404, ..
                    } => format!(
                        "the image {reference} has no /{}/ folder: it is not a containerDisk \
                         (a container image holding the guest's disk under /{}/)",
                        image::DISK_DIR,
                        image::DISK_DIR
                    ),
                    e => format!("reading /{} of {reference}: {e}", image::DISK_DIR),
                })?;
                tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                    .await
                    .map_err(|e| format!("{}: {e}", out.display()))?;
                read += chunk.len();
                if read - told >= 1 << 20 {
                    told = read;
                    progress.update(reference, &format!("extracting /disk/: {} MiB", read >> 20));
                }
            }
            tokio::io::AsyncWriteExt::flush(&mut file)
                .await
                .map_err(|e| format!("{}: {e}", out.display()))
        }
        .await;
        let _ = docker
            .remove_container(
                &c.id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await;
        result
    }

    /// Makes VM `name` for `spec` with `labels` (not started): its folder,
    /// its overlay on the cached disk, its `state.json`. Returns its id.
    pub async fn create(
        &self,
        name: &str,
        spec: &VmSpec,
        labels: &BTreeMap<String, String>,
    ) -> Result<String, BackendError> {
        let fail = |m: String| err(name, "create", m);
        if let Some(m) = spec.mounts.first() {
            return Err(fail(format!(
                "a VM cannot share host folders or volumes yet (virtio-9p is not done): {} → {} \
                 is refused; keep the VM's data on its disk",
                m.host, m.container
            )));
        }
        let memory_mib = qemu::memory_mib(&spec.memory).map_err(&fail)?;
        let tools = self.tools()?;
        if self.list()?.iter().any(|s| s.name == name) {
            return Err(fail(format!("a VM named {name} exists already")));
        }
        let reference = format!("{}:{}", spec.image, spec.tag);
        let image_id = self
            .docker
            .client()
            .inspect_image(&reference)
            .await
            .ok()
            .and_then(|i| i.id)
            .ok_or_else(|| {
                fail(format!(
                    "the image {reference} is not present (prepare it first)"
                ))
            })?;
        let guest = self
            .extract(&reference, &image_id, &super::NoProgress)
            .await
            .map_err(&fail)?;
        let (id, uuid) = state::new_ids().map_err(&fail)?;
        let files = self.files(&id);
        crate::folders::create_dir_all(&files.dir, crate::folders::PRIVATE)
            .map_err(|e| fail(format!("{}: {e}", files.dir.display())))?;
        let made = async {
            qemu_img_create(tools, &guest, &files.overlay()).await?;
            let st = VmState {
                id: id.clone(),
                uuid,
                name: name.to_string(),
                labels: labels.clone(),
                image: reference.clone(),
                image_id: image_id.clone(),
                memory_mib,
                cpus: spec.cpus.max(1),
                ports: spec.ports.clone(),
                restart: spec.restart.clone(),
                stop_timeout: spec.stop_timeout,
                want_running: false,
                pid: None,
                accel: None,
                started_at: None,
                nic: qemu::NIC.to_string(),
            };
            state::write(&files.state(), &st)
        }
        .await;
        if let Err(m) = made {
            let _ = std::fs::remove_dir_all(&files.dir);
            return Err(fail(m));
        }
        Ok(id)
    }

    /// The record of VM `id`.
    pub fn state(&self, id: &str) -> Result<VmState, BackendError> {
        if !state::is_id(id) {
            return Err(err(id, "find", "not a VM id"));
        }
        state::read(&self.files(id).state()).map_err(|m| err(id, "read", m))
    }

    /// Every VM of this state folder.
    pub fn list(&self) -> Result<Vec<VmState>, BackendError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(BackendError::Other(format!("{}: {e}", self.dir.display()))),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if state::is_id(&name) {
                // A folder without its record is a create cut short: not a VM.
                if let Ok(s) = state::read(&entry.path().join(state::STATE)) {
                    out.push(s);
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Is this VM's QEMU running now?
    pub fn is_running(st: &VmState) -> bool {
        st.pid.is_some_and(|p| state::alive(p, &st.uuid))
    }

    pub async fn running(&self, id: &str) -> Result<bool, BackendError> {
        Ok(Self::is_running(&self.state(id)?))
    }

    /// Where VM `id`'s serial console is written (its log).
    pub fn console(&self, id: &str) -> PathBuf {
        self.files(id).console()
    }

    /// Starts VM `id` (nothing when it runs).
    pub async fn start(&self, id: &str) -> Result<(), BackendError> {
        let mut st = self.state(id)?;
        let fail = |m: String| err(&st.name, "start", m);
        if Self::is_running(&st) {
            return Ok(());
        }
        let tools = self.tools()?;
        let guest = self.guest(&st.image_id, &st.image).map_err(fail)?;
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        qemu::check_memory(&meminfo, st.memory_mib).map_err(fail)?;
        let accel = match self.accel {
            AccelChoice::Tcg => Accel::Tcg,
            choice => {
                let probe = qemu::kvm_works(tools, &self.dir.join("kvm-probe.json")).await;
                qemu::choose(choice, &probe).map_err(|message| BackendError::Unavailable {
                    engine: ENGINE,
                    message,
                })?
            }
        };
        let files = self.files(id);
        // A unix socket's path holds at most 107 bytes.
        if files.qmp().as_os_str().len() > 107 {
            return Err(fail(format!(
                "the QMP socket path {} is longer than a unix socket allows (107 bytes): use a shorter --root",
                files.qmp().display()
            )));
        }
        let _ = std::fs::remove_file(files.qmp());
        let _ = std::fs::remove_file(files.pidfile());
        let args = qemu::argv(&qemu::Machine {
            uuid: &st.uuid,
            accel,
            memory_mib: st.memory_mib,
            cpus: st.cpus,
            guest: &guest,
            overlay: &files.overlay(),
            ports: &st.ports,
            console: &files.console(),
            qmp: &files.qmp(),
            pidfile: &files.pidfile(),
            nic: &st.nic,
        });
        let mut cmd = Command::new(&tools.qemu);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = tokio::time::timeout(START_BOUND, cmd.output())
            .await
            .map_err(|_| {
                fail(format!(
                    "QEMU did not start within {} s",
                    START_BOUND.as_secs()
                ))
            })?
            .map_err(|e| fail(format!("cannot run {}: {e}", tools.qemu.display())))?;
        if !out.status.success() {
            let why = qemu::start_error(&String::from_utf8_lossy(&out.stderr));
            if why.starts_with("KVM refused") {
                return Err(BackendError::Unavailable {
                    engine: ENGINE,
                    message: why,
                });
            }
            return Err(fail(why));
        }
        let pid = std::fs::read_to_string(files.pidfile())
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            .ok_or_else(|| {
                fail(format!(
                    "QEMU started but wrote no pid to {}",
                    files.pidfile().display()
                ))
            })?;
        st.pid = Some(pid);
        st.want_running = true;
        st.accel = Some(accel);
        st.started_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs());
        state::write(&files.state(), &st).map_err(fail)
    }

    /// Stops VM `id`: an ACPI shutdown, then a kill after `timeout` s.
    pub async fn stop(&self, id: &str, timeout: u32) -> Result<(), BackendError> {
        let mut st = self.state(id)?;
        let files = self.files(id);
        // First on disk: a VM being stopped is not one to bring back.
        st.want_running = false;
        state::write(&files.state(), &st).map_err(|m| err(&st.name, "stop", m))?;
        if let Some(pid) = st.pid.filter(|_| Self::is_running(&st)) {
            let grace = Duration::from_secs(u64::from(timeout));
            if !grace.is_zero() {
                let asked =
                    qemu::qmp(&files.qmp(), "system_powerdown", Duration::from_secs(3)).await;
                if asked.is_ok() {
                    wait_gone(pid, &st.uuid, grace).await;
                }
            }
            if state::alive(pid, &st.uuid) {
                kill(pid);
                if !wait_gone(pid, &st.uuid, KILL_BOUND).await {
                    return Err(err(
                        &st.name,
                        "stop",
                        format!(
                            "QEMU (pid {pid}) is still there {} s after a kill",
                            KILL_BOUND.as_secs()
                        ),
                    ));
                }
            }
        }
        st.pid = None;
        let _ = std::fs::remove_file(files.qmp());
        let _ = std::fs::remove_file(files.pidfile());
        state::write(&files.state(), &st).map_err(|m| err(&st.name, "stop", m))
    }

    /// Removes VM `id`: QEMU killed if it runs, its overlay, console and
    /// record gone. The cached image stays.
    pub async fn remove(&self, id: &str) -> Result<(), BackendError> {
        let files = self.files(id);
        if !files.dir.exists() {
            return Ok(());
        }
        if self.state(id).is_ok() {
            self.stop(id, 0).await?;
        }
        std::fs::remove_dir_all(&files.dir)
            .map_err(|e| err(id, "remove", format!("{}: {e}", files.dir.display())))
    }

    /// VM `id` leaves service (a replace's old instance while it drains):
    /// it keeps running, but [`Self::revive`] no longer brings it back.
    pub fn retire(&self, id: &str) -> Result<(), BackendError> {
        let mut st = self.state(id)?;
        st.restart = "no".into();
        state::write(&self.files(id).state(), &st).map_err(|m| err(&st.name, "retire", m))
    }

    /// Gives VM `id` the engine name `name` (its id and files stay).
    pub async fn rename(&self, id: &str, name: &str) -> Result<(), BackendError> {
        let mut st = self.state(id)?;
        if self.list()?.iter().any(|s| s.name == name && s.id != id) {
            return Err(err(
                &st.name,
                "rename",
                format!("a VM named {name} exists already"),
            ));
        }
        st.name = name.to_string();
        state::write(&self.files(id).state(), &st).map_err(|m| err(name, "rename", m))
    }

    /// The VMs as an engine snapshot, each tagged `kind` (the `vm` kind, once
    /// the plan knows it), with the images whose disk is in the cache.
    pub fn observe(&self, kind: Kind) -> Result<Observed, BackendError> {
        let mut o = Observed::default();
        for (reference, id) in self.images() {
            o.add_image(
                kind,
                reference,
                ObservedImage {
                    id,
                    labels: BTreeMap::new(),
                },
            );
        }
        for st in self.list()? {
            let running = Self::is_running(&st);
            let word = match (running, st.want_running) {
                (true, _) => "running",
                (false, true) => "exited",
                (false, false) => "created",
            };
            o.containers.push(ObservedContainer {
                backend: kind,
                id: st.id,
                name: st.name,
                labels: st.labels,
                running,
                state: word.into(),
                image: st.image,
                image_id: st.image_id,
            });
        }
        Ok(o)
    }

    /// Sends VM `id`'s serial console (its last `tail` lines) to `sink`,
    /// and what it writes next with `follow`, until it stops. The console
    /// has no timestamps: `since` cannot apply.
    pub async fn logs(
        &self,
        id: &str,
        request: &LogRequest,
        sink: LogSink<'_>,
    ) -> Result<(), BackendError> {
        let path = self.console(id);
        let io = |e: std::io::Error| err(id, "logs", format!("{}: {e}", path.display()));
        let mut offset = console::read_all(&path, request.tail, sink).map_err(io)?;
        while request.follow && self.running(id).await.unwrap_or(false) {
            tokio::time::sleep(console::FOLLOW_POLL).await;
            offset = console::read_new(&path, offset, sink).map_err(io)?;
        }
        Ok(())
    }

    /// Starts again every VM that should run and does not (after a reboot,
    /// or a QEMU that died): started, never stopped, restart policy other
    /// than `no`. Each VM's result, by name.
    pub async fn revive(&self) -> Result<Vec<(String, Result<(), BackendError>)>, BackendError> {
        let mut out = Vec::new();
        for st in self.list()? {
            if st.comes_back() && !Self::is_running(&st) {
                let r = self.start(&st.id).await;
                out.push((st.name, r));
            }
        }
        Ok(out)
    }
}

/// `qemu-img create` of `overlay` on `guest`'s cached disk.
async fn qemu_img_create(tools: &Tools, guest: &GuestImage, overlay: &Path) -> Result<(), String> {
    let mut cmd = Command::new(&tools.qemu_img);
    cmd.args([
        "create",
        "-q",
        "-f",
        "qcow2",
        "-F",
        guest.format.name(),
        "-b",
    ])
    .arg(&guest.disk)
    .arg(overlay)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let out = tokio::time::timeout(TOOL_BOUND, cmd.output())
        .await
        .map_err(|_| {
            format!(
                "qemu-img create did not end within {} s",
                TOOL_BOUND.as_secs()
            )
        })?
        .map_err(|e| format!("cannot run {}: {e}", tools.qemu_img.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "qemu-img create of the overlay failed: {}",
            qemu::last_lines(&String::from_utf8_lossy(&out.stderr))
        ))
    }
}

fn kill(pid: u32) {
    if let Ok(p) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Waits until `pid` is no longer this VM's QEMU, `bound` at most; true
/// when it is gone.
async fn wait_gone(pid: u32, uuid: &str, bound: Duration) -> bool {
    let end = tokio::time::Instant::now() + bound;
    loop {
        if !state::alive(pid, uuid) {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
