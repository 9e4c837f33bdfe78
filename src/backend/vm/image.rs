//! A containerDisk's files: which is the disk, which the kernel, and
//! whether the disk really is one. Pure file checks, unit-tested; the
//! extraction from the engine is in [`super`].

use std::io::Read;
use std::path::{Path, PathBuf};

/// The folder of the image that holds the guest (KubeVirt's convention).
pub const DISK_DIR: &str = "disk";
/// Our additions for a direct kernel boot, beside the disk in `/disk/`.
pub const KERNEL: &str = "vmlinuz";
pub const INITRD: &str = "initrd.img";
pub const CMDLINE: &str = "cmdline";
/// The kernel command line when the image gives none: the serial console
/// is the VM's log.
pub const DEFAULT_CMDLINE: &str = "console=ttyS0";

/// The formats a VM boots from (`qemu-img create -F`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFormat {
    Raw,
    Qcow2,
}

impl DiskFormat {
    pub fn name(self) -> &'static str {
        match self {
            DiskFormat::Raw => "raw",
            DiskFormat::Qcow2 => "qcow2",
        }
    }
}

/// A guest extracted into the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestImage {
    pub disk: PathBuf,
    pub format: DiskFormat,
    /// For a direct kernel boot; None: the disk boots through its own
    /// boot loader.
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    pub cmdline: String,
}

/// Reads the layout of a containerDisk extracted in `dir` (the image's
/// `/disk/`): exactly one disk file, beside an optional kernel, initrd and
/// command line. `image` names the image in errors.
pub fn layout(dir: &Path, image: &str) -> Result<GuestImage, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!("the image {image} has no /{DISK_DIR}/ folder (a containerDisk holds its disk there): {e}")
    })?;
    let mut disks = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if [KERNEL, INITRD, CMDLINE].contains(&name.as_str()) {
            continue;
        }
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            disks.push(entry.path());
        }
    }
    disks.sort();
    let disk = match disks.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(format!(
                "the image {image} has no disk file in /{DISK_DIR}/ (a containerDisk holds one disk \
                 image there, raw or qcow2)"
            ));
        }
        many => {
            return Err(format!(
                "the image {image} has {} files in /{DISK_DIR}/ that could be its disk ({}): a \
                 containerDisk holds exactly one",
                many.len(),
                many.iter()
                    .filter_map(|p| p.file_name())
                    .map(|n| n.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    };
    let format = sniff(&disk).map_err(|why| {
        format!(
            "the image {image}: /{DISK_DIR}/{} is not a disk image: {why}",
            disk.file_name().unwrap_or_default().to_string_lossy()
        )
    })?;
    let kernel = Some(dir.join(KERNEL)).filter(|p| p.is_file());
    let initrd = Some(dir.join(INITRD)).filter(|p| p.is_file());
    if initrd.is_some() && kernel.is_none() {
        return Err(format!(
            "the image {image} has /{DISK_DIR}/{INITRD} but no /{DISK_DIR}/{KERNEL}: an initrd boots only with a kernel"
        ));
    }
    let cmdline = match std::fs::read_to_string(dir.join(CMDLINE)) {
        Ok(t) => {
            let t = t.trim();
            if t.contains(['\n', '\0']) {
                return Err(format!(
                    "the image {image}: /{DISK_DIR}/{CMDLINE} must be one line"
                ));
            }
            if t.is_empty() {
                DEFAULT_CMDLINE.to_string()
            } else {
                t.to_string()
            }
        }
        Err(_) => DEFAULT_CMDLINE.to_string(),
    };
    Ok(GuestImage {
        disk,
        format,
        kernel,
        initrd,
        cmdline,
    })
}

/// Tells a disk image from what is not one: qcow2 by its magic; raw when
/// its size is a whole number of 512-byte sectors and its start is not a
/// known archive, executable or text. Every file is a "raw disk" to QEMU,
/// so these checks are what keeps a gzipped disk or a README from booting
/// as garbage.
pub fn sniff(path: &Path) -> Result<DiskFormat, String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("cannot read it: {e}"))?
        .len();
    let mut head = Vec::with_capacity(512);
    std::fs::File::open(path)
        .and_then(|f| f.take(512).read_to_end(&mut head))
        .map_err(|e| format!("cannot read it: {e}"))?;
    sniff_bytes(&head, len)
}

/// [`sniff`] on the first (up to) 512 bytes and the size.
pub fn sniff_bytes(head: &[u8], len: u64) -> Result<DiskFormat, String> {
    if head.starts_with(b"QFI\xfb") {
        return Ok(DiskFormat::Qcow2);
    }
    let known: &[(&[u8], &str)] = &[
        (
            b"\x1f\x8b",
            "a gzip archive (unpack it: the disk must be raw or qcow2)",
        ),
        (
            b"\xfd7zXZ\x00",
            "an xz archive (unpack it: the disk must be raw or qcow2)",
        ),
        (
            b"\x28\xb5\x2f\xfd",
            "a zstd archive (unpack it: the disk must be raw or qcow2)",
        ),
        (
            b"BZh",
            "a bzip2 archive (unpack it: the disk must be raw or qcow2)",
        ),
        (b"PK\x03\x04", "a zip archive"),
        (
            b"\x7fELF",
            "an ELF executable (a kernel goes in /disk/vmlinuz)",
        ),
        (
            b"KDMV",
            "a VMDK image (convert it: qemu-img convert -O qcow2)",
        ),
        (
            b"conectix",
            "a VHD image (convert it: qemu-img convert -O qcow2)",
        ),
        (
            b"vhdxfile",
            "a VHDX image (convert it: qemu-img convert -O qcow2)",
        ),
        (
            b"<<< ",
            "a VDI image (convert it: qemu-img convert -O qcow2)",
        ),
    ];
    for (magic, what) in known {
        if head.starts_with(magic) {
            return Err(format!("it is {what}"));
        }
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return Err("it is a tar archive".into());
    }
    if len == 0 {
        return Err("it is empty".into());
    }
    if !len.is_multiple_of(512) {
        return Err(format!(
            "its size ({len} bytes) is not a whole number of 512-byte sectors"
        ));
    }
    let text = !head.is_empty()
        && head
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if text {
        return Err("it is text".into());
    }
    Ok(DiskFormat::Raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sector(fill: u8) -> Vec<u8> {
        vec![fill; 512]
    }

    #[test]
    fn qcow2_and_raw_disks_are_disks() {
        let mut q = b"QFI\xfb\x00\x00\x00\x03".to_vec();
        q.resize(512, 0);
        assert_eq!(sniff_bytes(&q, 196_608), Ok(DiskFormat::Qcow2));
        assert_eq!(sniff_bytes(&sector(0), 4 << 20), Ok(DiskFormat::Raw));
    }

    #[test]
    fn archives_text_and_odd_sizes_are_not_disks() {
        let gz = [&b"\x1f\x8b\x08"[..], &[0; 509]].concat();
        assert!(sniff_bytes(&gz, 512).unwrap_err().contains("gzip"));
        let text = b"hello, this is a README\n".repeat(40);
        assert_eq!(sniff_bytes(&text[..512], 1024), Err("it is text".into()));
        assert!(
            sniff_bytes(&sector(0), 1000)
                .unwrap_err()
                .contains("512-byte")
        );
        assert_eq!(sniff_bytes(&[], 0), Err("it is empty".into()));
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff_bytes(&tar, 10240), Err("it is a tar archive".into()));
        assert!(
            sniff_bytes(b"\x7fELF\x02\x01", 4096)
                .unwrap_err()
                .contains("vmlinuz")
        );
    }

    #[test]
    fn layout_finds_the_one_disk_and_the_boot_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("disk.img"), sector(0)).unwrap();
        std::fs::write(d.path().join(KERNEL), b"\x7fELF").unwrap();
        std::fs::write(d.path().join(INITRD), b"x").unwrap();
        std::fs::write(d.path().join(CMDLINE), "console=ttyS0 quiet\n").unwrap();
        let g = layout(d.path(), "localhost:5000/vm/web:1.0").unwrap();
        assert_eq!(g.disk, d.path().join("disk.img"));
        assert_eq!(g.format, DiskFormat::Raw);
        assert_eq!(g.kernel, Some(d.path().join(KERNEL)));
        assert_eq!(g.cmdline, "console=ttyS0 quiet");
    }

    #[test]
    fn layout_refuses_a_missing_disk_two_disks_and_a_disk_that_is_not_one() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(KERNEL), b"\x7fELF").unwrap();
        let e = layout(d.path(), "img:1").unwrap_err();
        assert!(e.contains("no disk file"), "{e}");
        std::fs::write(d.path().join("a.img"), sector(0)).unwrap();
        std::fs::write(d.path().join("b.img"), sector(0)).unwrap();
        let e = layout(d.path(), "img:1").unwrap_err();
        assert!(e.contains("a.img, b.img"), "{e}");
        std::fs::remove_file(d.path().join("b.img")).unwrap();
        std::fs::write(d.path().join("a.img"), "not a disk at all\n").unwrap();
        let e = layout(d.path(), "img:1").unwrap_err();
        assert!(e.contains("/disk/a.img is not a disk image"), "{e}");
        let e = layout(&d.path().join("nothing"), "img:1").unwrap_err();
        assert!(e.contains("no /disk/ folder"), "{e}");
    }
}
