//! QEMU itself: finding it, choosing KVM or TCG (a cached probe), the
//! command line of a VM, the memory check, and QMP (ACPI shutdown).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::image::GuestImage;

pub const QEMU: &str = "qemu-system-x86_64";
pub const QEMU_IMG: &str = "qemu-img";

/// What QEMU itself takes beside the guest's memory (TCG's translation
/// cache, device emulation), checked against the host's free memory.
pub const OVERHEAD_MIB: u64 = 64;
/// A guest with no `_memory` set.
pub const DEFAULT_MEMORY_MIB: u64 = 256;

/// The QEMU programs of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    pub qemu: PathBuf,
    pub qemu_img: PathBuf,
}

impl Tools {
    /// Finds `qemu-system-x86_64` and `qemu-img` on PATH.
    pub fn find() -> Result<Tools, String> {
        Tools::find_on(&std::env::var_os("PATH").unwrap_or_default())
    }

    /// Finds them in the one folder `dir` (tests: a machine without QEMU).
    pub fn find_in(dir: &Path) -> Result<Tools, String> {
        Tools::find_on(dir.as_os_str())
    }

    fn find_on(path: &std::ffi::OsStr) -> Result<Tools, String> {
        let find = |name: &str| {
            std::env::split_paths(path)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        };
        match (find(QEMU), find(QEMU_IMG)) {
            (Some(qemu), Some(qemu_img)) => Ok(Tools { qemu, qemu_img }),
            (q, _) => Err(format!(
                "QEMU is missing: {} not found on PATH (on Debian 12: apt-get install \
                 qemu-system-x86 qemu-utils)",
                if q.is_none() { QEMU } else { QEMU_IMG }
            )),
        }
    }
}

/// How the guest's CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// The host's virtualisation (KVM): near native speed.
    Kvm,
    /// QEMU's own translator: works everywhere, slower.
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// What the admin asks for: KVM where the probe says it works (`auto`), or
/// one of them whatever the probe says (`kvm` then fails clearly where it
/// does not work).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccelChoice {
    #[default]
    Auto,
    Kvm,
    Tcg,
}

impl AccelChoice {
    pub fn parse(text: &str) -> Option<AccelChoice> {
        match text {
            "" | "auto" => Some(AccelChoice::Auto),
            "kvm" => Some(AccelChoice::Kvm),
            "tcg" => Some(AccelChoice::Tcg),
            _ => None,
        }
    }
}

/// The probe's verdict, cached in `vm/kvm-probe.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvmProbe {
    /// What it was measured on (kernel release, QEMU binary): another
    /// machine or a new QEMU probes again.
    pub key: String,
    pub works: bool,
    /// Why not, when it does not.
    pub why: String,
}

/// The probe guest: a boot sector that writes 0x31 to QEMU's isa-debug-exit
/// port (QEMU then exits with status 0x31 * 2 + 1 = 99) and halts:
/// `mov al, 0x31; out 0xf4, al; hlt; jmp $-1`.
pub fn probe_sector() -> Vec<u8> {
    let mut s = vec![0xB0, 0x31, 0xE6, 0xF4, 0xF4, 0xEB, 0xFD];
    s.resize(510, 0);
    s.extend_from_slice(&[0x55, 0xAA]);
    s
}

/// How long the probe guest may take under KVM. A working KVM runs it,
/// QEMU's start included, in about 0.1 s; a software KVM (kvm_pvm, as on
/// these test machines) takes seconds even for these few instructions, and
/// fails or crawls on a real kernel.
pub const PROBE_BOUND: Duration = Duration::from_millis(1500);

fn probe_key(tools: &Tools) -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let qemu = std::fs::metadata(&tools.qemu)
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{} {} {qemu}", release.trim(), tools.qemu.display())
}

/// Whether KVM really runs a guest here: the cached verdict, or a run of
/// the probe guest (cached in `cache`).
pub async fn kvm_works(tools: &Tools, cache: &Path) -> KvmProbe {
    let key = probe_key(tools);
    if let Some(p) = std::fs::read(cache)
        .ok()
        .and_then(|b| serde_json::from_slice::<KvmProbe>(&b).ok())
        .filter(|p| p.key == key)
    {
        return p;
    }
    let (works, why) = run_probe(tools, cache).await;
    let p = KvmProbe { key, works, why };
    if let Ok(text) = serde_json::to_vec_pretty(&p) {
        let _ = crate::backend::write_atomic(cache, &text);
    }
    p
}

async fn run_probe(tools: &Tools, cache: &Path) -> (bool, String) {
    if !Path::new("/dev/kvm").exists() {
        return (false, "/dev/kvm does not exist".into());
    }
    let disk = cache.with_extension("img");
    if let Err(e) = crate::backend::write_atomic(&disk, &probe_sector()) {
        return (false, format!("cannot write the probe guest: {e}"));
    }
    let mut cmd = Command::new(&tools.qemu);
    cmd.args([
        "-accel",
        "kvm",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
    ])
    .args(["-no-reboot", "-m", "16", "-serial", "none"])
    .args([
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-drive",
    ])
    .arg(format!(
        "file={},format=raw,if=ide,snapshot=on",
        disk.display()
    ))
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let t0 = Instant::now();
    let out = match tokio::time::timeout(PROBE_BOUND, cmd.output()).await {
        Err(_) => {
            return (
                false,
                format!(
                    "the probe guest did not finish within {} ms under KVM (a KVM that only \
                     emulates, such as kvm_pvm)",
                    PROBE_BOUND.as_millis()
                ),
            );
        }
        Ok(Err(e)) => return (false, format!("cannot run {}: {e}", tools.qemu.display())),
        Ok(Ok(o)) => o,
    };
    if out.status.code() == Some(99) {
        (
            true,
            format!("the probe guest ran in {} ms", t0.elapsed().as_millis()),
        )
    } else {
        (
            false,
            format!(
                "the probe guest failed under KVM ({}): {}",
                out.status,
                last_lines(&String::from_utf8_lossy(&out.stderr))
            ),
        )
    }
}

/// The accelerator for `choice`, given the probe's verdict; the error says
/// why KVM was asked for and cannot be had.
pub fn choose(choice: AccelChoice, probe: &KvmProbe) -> Result<Accel, String> {
    match choice {
        AccelChoice::Tcg => Ok(Accel::Tcg),
        AccelChoice::Auto if probe.works => Ok(Accel::Kvm),
        AccelChoice::Auto => Ok(Accel::Tcg),
        AccelChoice::Kvm if probe.works => Ok(Accel::Kvm),
        AccelChoice::Kvm => Err(format!(
            "KVM refused: {}; let conteneur choose (auto) or use tcg",
            probe.why
        )),
    }
}

/// Refuses to start a guest the host cannot hold: `want` MiB plus
/// [`OVERHEAD_MIB`] against `MemAvailable` in `meminfo` (/proc/meminfo).
pub fn check_memory(meminfo: &str, want_mib: u64) -> Result<(), String> {
    let available_kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    let Some(kib) = available_kib else {
        return Ok(()); // a kernel that does not say: QEMU's own error then
    };
    let have = kib / 1024;
    if want_mib + OVERHEAD_MIB > have {
        return Err(format!(
            "not enough memory: the VM needs {want_mib} MiB (+{OVERHEAD_MIB} MiB for QEMU) and the \
             host has {have} MiB available (MemAvailable in /proc/meminfo); lower its _memory or \
             free memory"
        ));
    }
    Ok(())
}

/// Memory for `-m`, in MiB, from a Docker-style size (`512m`, `1g`).
pub fn memory_mib(size: &str) -> Result<u64, String> {
    if size.trim().is_empty() {
        return Ok(DEFAULT_MEMORY_MIB);
    }
    let bytes = crate::plan::launch::parse_size(size)
        .ok_or_else(|| format!("memory '{size}' is not a size (such as 256m or 1g)"))?;
    let mib = u64::try_from(bytes).unwrap_or(0) / (1024 * 1024);
    if mib < 32 {
        return Err(format!(
            "memory '{size}' is too small for a VM: at least 32m"
        ));
    }
    Ok(mib)
}

/// One forwarded port: `address:host` on the host to `guest` in the VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    pub address: String,
    pub host: u16,
    pub guest: u16,
}

/// Everything a VM's command line is made of.
#[derive(Debug, Clone)]
pub struct Machine<'a> {
    pub uuid: &'a str,
    pub accel: Accel,
    pub memory_mib: u64,
    pub cpus: u32,
    pub guest: &'a GuestImage,
    pub overlay: &'a Path,
    pub ports: &'a [Forward],
    pub console: &'a Path,
    pub qmp: &'a Path,
    pub pidfile: &'a Path,
    /// The network card's QEMU model ([`NIC`] for a new VM).
    pub nic: &'a str,
}

/// A new VM's network card: virtio (an emulated e1000's link comes up only
/// at its driver's next 2 s watchdog tick: seconds of a boot under TCG;
/// the disk is virtio already, so a guest has virtio drivers anyway).
pub const NIC: &str = "virtio-net-pci";
/// The card of a VM made before [`NIC`] (its record names none).
pub const LEGACY_NIC: &str = "e1000";

/// QEMU's arguments for `m`: a daemon (its pid in `pidfile`), no display,
/// the overlay as a virtio disk, QEMU's user network with each port
/// forwarded on the VM's network card (`nic`), the serial console to a
/// file and QMP on a unix socket. The VM's uuid is on the command line, so
/// a pid is known to be this VM's.
pub fn argv(m: &Machine<'_>) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "-uuid".into(),
        m.uuid.into(),
        "-nodefaults".into(),
        "-no-user-config".into(),
        "-display".into(),
        "none".into(),
        "-accel".into(),
        m.accel.name().into(),
    ];
    if m.accel == Accel::Kvm {
        a.extend(["-cpu".into(), "host".into()]);
    }
    a.extend([
        "-m".into(),
        m.memory_mib.to_string(),
        "-smp".into(),
        m.cpus.max(1).to_string(),
    ]);
    if let Some(k) = &m.guest.kernel {
        a.extend(["-kernel".into(), k.display().to_string()]);
        if let Some(i) = &m.guest.initrd {
            a.extend(["-initrd".into(), i.display().to_string()]);
        }
        a.extend(["-append".into(), m.guest.cmdline.clone()]);
    }
    a.extend([
        "-drive".into(),
        format!("file={},format=qcow2,if=virtio", qemu_path(m.overlay)),
    ]);
    let mut net = "user,id=n0".to_string();
    for p in m.ports {
        net.push_str(&format!(
            ",hostfwd=tcp:{}:{}-:{}",
            p.address, p.host, p.guest
        ));
    }
    a.extend([
        "-netdev".into(),
        net,
        "-device".into(),
        format!("{},netdev=n0,romfile=", m.nic),
        "-serial".into(),
        format!("file:{}", m.console.display()),
        "-qmp".into(),
        format!("unix:{},server=on,wait=off", m.qmp.display()),
        "-daemonize".into(),
        "-pidfile".into(),
        m.pidfile.display().to_string(),
    ]);
    a
}

/// A path inside a `-drive` option, where ',' must be doubled.
fn qemu_path(p: &Path) -> String {
    p.display().to_string().replace(',', ",,")
}

/// The last lines of a tool's stderr, for an error.
pub fn last_lines(err: &str) -> String {
    let lines: Vec<&str> = err
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(3)..].join("; ")
}

/// What QEMU's failure to start means, in the admin's words.
pub fn start_error(stderr: &str) -> String {
    let tail = last_lines(stderr);
    let low = stderr.to_ascii_lowercase();
    if low.contains("kvm")
        && (low.contains("failed to initialize") || low.contains("could not access"))
    {
        format!("KVM refused: {tail}")
    } else if low.contains("cannot allocate memory") || low.contains("cannot set up guest memory") {
        format!("not enough memory: {tail}")
    } else if tail.is_empty() {
        "QEMU failed to start and said nothing".into()
    } else {
        tail
    }
}

/// The next greeting or answer on a QMP connection (events, which may come
/// in between, are skipped).
async fn qmp_answer(
    lines: &mut tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
) -> Result<String, String> {
    loop {
        let line = lines
            .next_line()
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "QMP closed the connection".to_string())?;
        if line.contains("\"QMP\"") || line.contains("\"return\"") || line.contains("\"error\"") {
            return Ok(line);
        }
    }
}

/// Sends `command` (a QMP command without arguments) on the QMP socket,
/// within `bound`.
pub async fn qmp(socket: &Path, command: &str, bound: Duration) -> Result<(), String> {
    let talk = async {
        let stream = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(|e| format!("cannot reach QMP at {}: {e}", socket.display()))?;
        let (r, mut w) = stream.into_split();
        let mut lines = BufReader::new(r).lines();
        // The greeting, then capabilities, then the command.
        qmp_answer(&mut lines).await?;
        for cmd in ["qmp_capabilities", command] {
            w.write_all(format!("{{\"execute\":\"{cmd}\"}}\n").as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            let answer = qmp_answer(&mut lines).await?;
            if answer.contains("\"error\"") {
                return Err(format!("QMP {cmd}: {answer}"));
            }
        }
        Ok(())
    };
    tokio::time::timeout(bound, talk).await.map_err(|_| {
        format!(
            "QMP at {} did not answer within {} s",
            socket.display(),
            bound.as_secs()
        )
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest() -> GuestImage {
        GuestImage {
            disk: "/c/disk.img".into(),
            format: super::super::image::DiskFormat::Raw,
            kernel: Some("/c/vmlinuz".into()),
            initrd: Some("/c/initrd.img".into()),
            cmdline: "console=ttyS0 quiet".into(),
        }
    }

    #[test]
    fn the_command_line_forwards_each_port_and_boots_the_overlay() {
        let g = guest();
        let ports = [
            Forward {
                address: "127.0.0.1".into(),
                host: 41000,
                guest: 80,
            },
            Forward {
                address: "127.0.0.1".into(),
                host: 41001,
                guest: 8080,
            },
        ];
        let a = argv(&Machine {
            uuid: "0f0f0f0f-0000-4000-8000-000000000001",
            accel: Accel::Tcg,
            memory_mib: 256,
            cpus: 2,
            guest: &g,
            overlay: Path::new("/s/vm/ab,c/overlay.qcow2"),
            ports: &ports,
            console: Path::new("/s/vm/abc/console.log"),
            qmp: Path::new("/s/vm/abc/qmp.sock"),
            pidfile: Path::new("/s/vm/abc/qemu.pid"),
            nic: NIC,
        })
        .join(" ");
        assert!(a.contains("-accel tcg -m 256 -smp 2"), "{a}");
        assert!(!a.contains("-cpu host"), "{a}");
        assert!(
            a.contains("-device virtio-net-pci,netdev=n0,romfile="),
            "{a}"
        );
        assert!(
            a.contains("-kernel /c/vmlinuz -initrd /c/initrd.img -append console=ttyS0 quiet"),
            "{a}"
        );
        assert!(
            a.contains("file=/s/vm/ab,,c/overlay.qcow2,format=qcow2,if=virtio"),
            "{a}"
        );
        assert!(
            a.contains(
                "user,id=n0,hostfwd=tcp:127.0.0.1:41000-:80,hostfwd=tcp:127.0.0.1:41001-:8080"
            ),
            "{a}"
        );
        assert!(
            a.contains("-qmp unix:/s/vm/abc/qmp.sock,server=on,wait=off"),
            "{a}"
        );
        assert!(a.ends_with("-daemonize -pidfile /s/vm/abc/qemu.pid"), "{a}");
    }

    #[test]
    fn kvm_is_used_only_where_the_probe_ran() {
        let bad = KvmProbe {
            key: String::new(),
            works: false,
            why: "it crawled".into(),
        };
        let good = KvmProbe {
            works: true,
            ..bad.clone()
        };
        assert_eq!(choose(AccelChoice::Auto, &bad), Ok(Accel::Tcg));
        assert_eq!(choose(AccelChoice::Auto, &good), Ok(Accel::Kvm));
        assert_eq!(choose(AccelChoice::Tcg, &good), Ok(Accel::Tcg));
        let e = choose(AccelChoice::Kvm, &bad).unwrap_err();
        assert!(e.starts_with("KVM refused: it crawled"), "{e}");
        assert_eq!(AccelChoice::parse("kvm"), Some(AccelChoice::Kvm));
        assert_eq!(AccelChoice::parse("xen"), None);
    }

    #[test]
    fn the_memory_check_counts_qemu_and_says_what_is_free() {
        let info = "MemTotal: 1000000 kB\nMemFree: 1000 kB\nMemAvailable:     204800 kB\n";
        assert_eq!(check_memory(info, 128), Ok(()));
        let e = check_memory(info, 256).unwrap_err();
        assert!(
            e.contains("needs 256 MiB (+64 MiB for QEMU)") && e.contains("200 MiB available"),
            "{e}"
        );
        assert_eq!(check_memory("nothing", 1 << 20), Ok(()));
        assert_eq!(memory_mib(""), Ok(256));
        assert_eq!(memory_mib("1g"), Ok(1024));
        assert!(memory_mib("8m").unwrap_err().contains("at least 32m"));
        assert!(memory_mib("lots").unwrap_err().contains("not a size"));
    }

    #[test]
    fn start_errors_say_what_went_wrong() {
        assert!(start_error("qemu: Could not access KVM kernel module: No such file\nqemu: failed to initialize kvm: No such file").starts_with("KVM refused"));
        assert!(
            start_error("cannot set up guest memory 'pc.ram': Cannot allocate memory")
                .starts_with("not enough memory")
        );
        assert_eq!(start_error(""), "QEMU failed to start and said nothing");
    }

    #[test]
    fn the_probe_is_a_boot_sector() {
        let s = probe_sector();
        assert_eq!(s.len(), 512);
        assert_eq!(&s[510..], &[0x55, 0xAA]);
    }
}
