//! A VM's record on disk, `vm/<id>/state.json`: the engine's truth. What
//! conteneur knows of a VM is there (its labels, image, ports, settings,
//! whether it should run, QEMU's pid), written atomically, so that a run,
//! a reboot or a crash of conteneur loses nothing; no state lives only in
//! a process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::qemu::{Accel, Forward};

pub const STATE: &str = "state.json";
pub const OVERLAY: &str = "overlay.qcow2";
pub const CONSOLE: &str = "console.log";
pub const QMP: &str = "qmp.sock";
pub const PIDFILE: &str = "qemu.pid";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmState {
    /// The engine's handle: the folder's name, never changes (a rename
    /// changes `name` only).
    pub id: String,
    /// Given to QEMU (`-uuid`): tells this VM's QEMU from any other process.
    pub uuid: String,
    /// The engine name (`NAME`, `NAME.next`, `NAME.old.ID`).
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `image:tag` as configured.
    pub image: String,
    /// The engine's id of the image it was made from.
    pub image_id: String,
    pub memory_mib: u64,
    pub cpus: u32,
    pub ports: Vec<Forward>,
    /// no, always, unless-stopped, on-failure (as Docker's).
    pub restart: String,
    /// Seconds an ACPI shutdown may take before QEMU is killed.
    pub stop_timeout: u32,
    /// Started and not stopped since: a VM that should run (after a reboot
    /// it is started again when its restart policy says so).
    pub want_running: bool,
    /// QEMU's pid while it runs.
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub accel: Option<Accel>,
    /// Unix time of its last start.
    #[serde(default)]
    pub started_at: Option<u64>,
    /// Its network card's QEMU model, chosen when it was made and kept for
    /// its life: a VM an earlier conteneur made (no such field) keeps the
    /// e1000 its guest was given, so an upgrade never takes its network
    /// away at its next start; a new VM gets [`super::qemu::NIC`].
    #[serde(default = "legacy_nic")]
    pub nic: String,
}

fn legacy_nic() -> String {
    super::qemu::LEGACY_NIC.to_string()
}

impl VmState {
    /// Should it be started again when found stopped while it should run
    /// (after a reboot, or QEMU's crash)?
    pub fn comes_back(&self) -> bool {
        self.want_running && self.restart != "no" && !self.restart.is_empty()
    }
}

/// Files of the VM whose folder is `dir`.
pub struct Files {
    pub dir: PathBuf,
}

impl Files {
    pub fn new(dir: PathBuf) -> Files {
        Files { dir }
    }
    pub fn state(&self) -> PathBuf {
        self.dir.join(STATE)
    }
    pub fn overlay(&self) -> PathBuf {
        self.dir.join(OVERLAY)
    }
    pub fn console(&self) -> PathBuf {
        self.dir.join(CONSOLE)
    }
    pub fn qmp(&self) -> PathBuf {
        self.dir.join(QMP)
    }
    pub fn pidfile(&self) -> PathBuf {
        self.dir.join(PIDFILE)
    }
}

pub fn read(path: &Path) -> Result<VmState, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn write(path: &Path, state: &VmState) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?;
    crate::backend::write_atomic(path, &text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Is `pid` this VM's QEMU? Alive (not a zombie) and holding its uuid on
/// its command line: a pid reused by another process after a reboot is not.
pub fn alive(pid: u32, uuid: &str) -> bool {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let Ok(cmdline) = std::fs::read(proc.join("cmdline")) else {
        return false;
    };
    let zombie = std::fs::read_to_string(proc.join("stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false);
    !zombie && cmdline.split(|b| *b == 0).any(|arg| arg == uuid.as_bytes())
}

/// A new random id (16 hex digits) and uuid (version 4).
pub fn new_ids() -> Result<(String, String), String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness for a VM id: {e}"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    Ok((hex[16..32].to_string(), uuid))
}

/// Is `name` a VM folder's name (an id of [`new_ids`])?
pub fn is_id(name: &str) -> bool {
    name.len() == 16 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_and_uuids_version_4() {
        let (id, uuid) = new_ids().unwrap();
        assert!(is_id(&id), "{id}");
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(uuid.ends_with(&id[4..]), "{uuid} {id}");
        assert!(!is_id("images"));
    }

    #[test]
    fn a_dead_or_foreign_pid_is_not_the_vm() {
        assert!(!alive(u32::MAX - 1, "x"));
        // This test's own process is alive but is not a VM.
        assert!(!alive(
            std::process::id(),
            "0f0f0f0f-0000-4000-8000-000000000001"
        ));
    }

    #[test]
    fn the_state_round_trips_and_says_whether_it_comes_back() {
        let d = tempfile::tempdir().unwrap();
        let mut s = VmState {
            id: "0123456789abcdef".into(),
            uuid: "u".into(),
            name: "web".into(),
            labels: BTreeMap::from([("a".into(), "b".into())]),
            image: "localhost:5000/vm/web:1.0".into(),
            image_id: "sha256:1".into(),
            memory_mib: 256,
            cpus: 1,
            ports: vec![Forward {
                address: "127.0.0.1".into(),
                host: 4000,
                guest: 80,
            }],
            restart: "always".into(),
            stop_timeout: 10,
            want_running: true,
            pid: Some(1),
            accel: Some(Accel::Tcg),
            started_at: Some(0),
            nic: super::super::qemu::NIC.into(),
        };
        let p = d.path().join(STATE);
        write(&p, &s).unwrap();
        assert_eq!(read(&p).unwrap(), s);
        assert!(s.comes_back());
        s.restart = "no".into();
        assert!(!s.comes_back());
        // A record an earlier conteneur wrote, without the card: e1000.
        let mut old = serde_json::to_value(&s).unwrap();
        old.as_object_mut().unwrap().remove("nic");
        std::fs::write(&p, old.to_string()).unwrap();
        assert_eq!(read(&p).unwrap().nic, "e1000");
    }
}
