//! The archive format: a tar stream compressed with zstd (frame checksums
//! on), holding the container's data under `volumes/NAME/`, `folders/N/`
//! and `dump/`, and last a `manifest.json` naming the container, its
//! image, and the size and SHA-256 of every file.
//!
//! Everything streams: a file is read in buffers, hashed as it goes into
//! the compressor, and never held whole in memory; a check reads the
//! archive once, hashing each member, and compares with the manifest at
//! its end.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's name inside the archive (its last member).
pub const MANIFEST: &str = "manifest.json";
/// The format this version writes and reads.
pub const FORMAT: u32 = 1;
/// zstd's level: 3 is zstd's own default, fast enough to keep up with a
/// disk (see BENCHMARKS.md, "Backups").
pub const LEVEL: i32 = 3;
/// The largest manifest read back (a manifest lists every file).
const MANIFEST_MAX: u64 = 256 << 20;

/// What an archive holds, written last into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub container: String,
    /// The image reference it ran (`url:tag`).
    pub image: String,
    /// The engine's id of that image (its digest, `sha256:…`).
    pub image_id: String,
    /// The release: the image's tag.
    pub release: String,
    /// When the copy was taken (UTC, RFC 3339).
    pub created: String,
    /// How the copy was made consistent: `dump`, `paused`, `stopped` or
    /// `not running`.
    pub method: String,
    /// The kept data of the container, in the order of its mounts.
    pub sources: Vec<Source>,
    /// The output of `conteneurX_backup_command`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump: Option<Dump>,
    /// Every file of the archive but the manifest: path, size, SHA-256.
    pub members: Vec<Member>,
    /// The sum of the members' sizes (uncompressed).
    pub bytes: u64,
}

/// A volume or folder of the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// `volume` or `folder`.
    pub kind: String,
    /// The volume's name or the folder's path, as configured.
    pub name: String,
    /// Where the container sees it.
    pub container_path: String,
    /// Its folder in the archive (`volumes/NAME`); empty when its files
    /// are not in the archive (a dump stands for them).
    pub prefix: String,
    pub files: u64,
    pub bytes: u64,
}

/// The backup command's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dump {
    pub member: String,
    pub command: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// Why an archive is refused.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read it: {0}")]
    Io(#[from] io::Error),
    #[error("it is damaged: {0}")]
    Corrupt(String),
}

fn corrupt(s: impl Into<String>) -> ArchiveError {
    ArchiveError::Corrupt(s.into())
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    count: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes an archive into `W` (a file), member by member.
pub struct Writer<W: Write> {
    tar: tar::Builder<zstd::stream::write::Encoder<'static, W>>,
    members: Vec<Member>,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> io::Result<Writer<W>> {
        let mut z = zstd::stream::write::Encoder::new(out, LEVEL)?;
        z.include_checksum(true)?;
        // Compression runs beside the reading of the files.
        let workers = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1);
        if workers > 1 {
            z.multithread(workers)?;
        }
        let mut tar = tar::Builder::new(z);
        tar.mode(tar::HeaderMode::Complete);
        tar.follow_symlinks(false);
        Ok(Writer {
            tar,
            members: Vec::new(),
        })
    }

    /// Adds the folder `dir` under `prefix`: folders, files and links,
    /// with their owners, modes and times (sockets and devices are left
    /// out). Returns (files, bytes).
    pub fn add_tree(&mut self, prefix: &str, dir: &Path) -> io::Result<(u64, u64)> {
        let meta = std::fs::symlink_metadata(dir)?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        h.set_size(0);
        self.tar.append_data(&mut h, prefix, io::empty())?;
        let mut totals = (0, 0);
        self.walk(prefix, dir, &mut totals)?;
        Ok(totals)
    }

    fn walk(&mut self, prefix: &str, dir: &Path, totals: &mut (u64, u64)) -> io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let name = format!("{prefix}/{}", e.file_name().to_string_lossy());
            if e.file_name().to_str().is_none() {
                return Err(io::Error::other(format!(
                    "{}: a file name that is not UTF-8 is not saved by conteneur",
                    path.display()
                )));
            }
            let meta = std::fs::symlink_metadata(&path)?;
            let ft = meta.file_type();
            let mut h = tar::Header::new_gnu();
            h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
            if ft.is_dir() {
                h.set_size(0);
                self.tar.append_data(&mut h, &name, io::empty())?;
                self.walk(&name, &path, totals)?;
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&path)?;
                h.set_size(0);
                self.tar.append_link(&mut h, &name, target)?;
            } else if ft.is_file() {
                let size = meta.len();
                self.add_reader(&mut h, &name, File::open(&path)?, size, &path)?;
                totals.0 += 1;
                totals.1 += size;
            }
        }
        Ok(())
    }

    /// Adds one file read from `path` as `member`; returns its size.
    pub fn add_file(&mut self, member: &str, path: &Path) -> io::Result<u64> {
        let f = File::open(path)?;
        let meta = f.metadata()?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        self.add_reader(&mut h, member, f, meta.len(), path)?;
        Ok(meta.len())
    }

    fn add_reader(
        &mut self,
        h: &mut tar::Header,
        member: &str,
        f: File,
        size: u64,
        path: &Path,
    ) -> io::Result<()> {
        h.set_size(size);
        let mut r = Hashing {
            inner: f.take(size),
            hash: Sha256::new(),
            count: 0,
        };
        self.tar.append_data(h, member, &mut r)?;
        if r.count != size {
            // The tar header said `size`: the archive would be unreadable.
            return Err(io::Error::other(format!(
                "{} changed size while it was copied ({size} bytes, then {})",
                path.display(),
                r.count
            )));
        }
        self.members.push(Member {
            path: member.to_string(),
            size,
            sha256: hex(r.hash.finalize()),
        });
        Ok(())
    }

    /// The members written so far.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Writes the manifest (its `members` and `bytes` filled in here),
    /// ends the tar and zstd streams, and returns the output.
    pub fn finish(mut self, mut manifest: Manifest) -> io::Result<W> {
        manifest.bytes = self.members.iter().map(|m| m.size).sum();
        manifest.members = std::mem::take(&mut self.members);
        let text = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
        self.tar.append_data(&mut h, MANIFEST, text.as_slice())?;
        let z = self.tar.into_inner()?;
        z.finish()
    }
}

fn reader<R: Read>(
    r: R,
) -> io::Result<tar::Archive<zstd::stream::read::Decoder<'static, io::BufReader<R>>>> {
    Ok(tar::Archive::new(zstd::stream::read::Decoder::new(r)?))
}

/// Reads the whole archive: every member hashed and compared with the
/// manifest (sizes and SHA-256), none missing, none extra. The manifest
/// when all is well.
pub fn verify<R: Read>(r: R) -> Result<Manifest, ArchiveError> {
    let mut ar = reader(r)?;
    let mut seen: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    let entries = ar.entries().map_err(|e| corrupt(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(e.to_string()))?;
        let path = entry
            .path()
            .map_err(|e| corrupt(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        if manifest.is_some() {
            return Err(corrupt(format!("'{path}' follows the manifest")));
        }
        if path == MANIFEST {
            if entry.size() > MANIFEST_MAX {
                return Err(corrupt("its manifest is too large"));
            }
            let mut text = Vec::new();
            (&mut entry)
                .take(MANIFEST_MAX)
                .read_to_end(&mut text)
                .map_err(|e| corrupt(e.to_string()))?;
            let m: Manifest = serde_json::from_slice(&text)
                .map_err(|e| corrupt(format!("its manifest cannot be read: {e}")))?;
            if m.format != FORMAT {
                return Err(corrupt(format!(
                    "its format is {} (this conteneur reads {FORMAT})",
                    m.format
                )));
            }
            manifest = Some(m);
            continue;
        }
        let kind = entry.header().entry_type();
        if !restorable(kind) {
            return Err(corrupt(format!(
                "'{path}' is a {kind:?} member; conteneur restores only files, folders and symbolic links"
            )));
        }
        if kind.is_file() {
            let mut h = Hashing {
                inner: &mut entry,
                hash: Sha256::new(),
                count: 0,
            };
            io::copy(&mut h, &mut io::sink()).map_err(|e| corrupt(e.to_string()))?;
            let (count, sum) = (h.count, hex(h.hash.finalize()));
            seen.insert(path, (count, sum));
        }
    }
    let m = manifest.ok_or_else(|| corrupt("it has no manifest (cut short?)"))?;
    for member in &m.members {
        match seen.remove(&member.path) {
            None => return Err(corrupt(format!("'{}' is missing", member.path))),
            Some((size, _)) if size != member.size => {
                return Err(corrupt(format!(
                    "'{}' holds {size} bytes, the manifest says {}",
                    member.path, member.size
                )));
            }
            Some((_, sum)) if sum != member.sha256 => {
                return Err(corrupt(format!(
                    "'{}' does not match its SHA-256 in the manifest",
                    member.path
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = seen.keys().next() {
        return Err(corrupt(format!("'{extra}' is not in the manifest")));
    }
    Ok(m)
}

/// The members a backup writes, and the only ones a restore accepts: a
/// hard link, a device node or a FIFO from a crafted archive would reach
/// outside the volume or make a device in it.
fn restorable(kind: tar::EntryType) -> bool {
    kind.is_file() || kind.is_dir() || kind.is_symlink()
}

/// Whether `target`'s folder, links followed, is inside `dest` (itself
/// resolved): a member must never be written through a symbolic link an
/// earlier member made (`x -> /etc`, then `x/cron.d/job`).
fn inside(dest: &Path, target: &Path) -> Result<(), ArchiveError> {
    if target == dest {
        return Ok(());
    }
    // The nearest folder that exists: what is below it will be made as
    // plain folders inside it.
    let mut parent = target.parent().unwrap_or(target);
    while !parent.exists() {
        match parent.parent() {
            Some(p) => parent = p,
            None => break,
        }
    }
    let real_dest = std::fs::canonicalize(dest)?;
    let real = std::fs::canonicalize(parent)?;
    if real.starts_with(&real_dest) {
        Ok(())
    } else {
        Err(corrupt(format!(
            "'{}' would be written through a symbolic link, to '{}'",
            target.display(),
            real.display()
        )))
    }
}

/// The part of `path` below `prefix/`, only plain names (no `..`, no
/// root); None when `path` is not below it.
fn below(path: &Path, prefix: &str) -> Option<PathBuf> {
    let rel = path.strip_prefix(prefix).ok()?;
    rel.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| rel.to_path_buf())
}

/// Unpacks the members under `prefix/` into the folder `dest` (which
/// exists), owners, modes and times as saved. Returns the files written.
/// The archive was checked first ([`verify`]).
pub fn extract<R: Read>(r: R, prefix: &str, dest: &Path) -> Result<u64, ArchiveError> {
    let mut ar = reader(r)?;
    ar.set_preserve_permissions(true);
    ar.set_preserve_ownerships(true);
    ar.set_preserve_mtime(true);
    ar.set_overwrite(true);
    let mut files = 0;
    // Folders get their saved modes and times last: a read-only folder
    // would refuse its own files, and writing a file changes its
    // folder's time.
    let mut dirs: Vec<(PathBuf, tar::Header)> = Vec::new();
    for entry in ar.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let Some(rel) = below(&path, prefix) else {
            continue;
        };
        let target = dest.join(&rel);
        let kind = entry.header().entry_type();
        if !restorable(kind) {
            return Err(corrupt(format!(
                "'{}' is a {kind:?} member; conteneur restores only files, folders and symbolic links",
                path.display()
            )));
        }
        // Checked to stay inside `dest` before anything is made for it.
        inside(dest, &target)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::remove_file(&target)?;
        }
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            dirs.push((target, entry.header().clone()));
            continue;
        }
        entry.unpack(&target)?;
        if entry.header().entry_type().is_file() {
            files += 1;
        }
    }
    dirs.reverse();
    for (dir, h) in dirs {
        use std::os::unix::fs::PermissionsExt;
        if let (Ok(uid), Ok(gid)) = (h.uid(), h.gid()) {
            let _ = nix::unistd::chown(
                &dir,
                Some(nix::unistd::Uid::from_raw(uid as u32)),
                Some(nix::unistd::Gid::from_raw(gid as u32)),
            );
        }
        if let Ok(mode) = h.mode() {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode & 0o7777))?;
        }
    }
    Ok(files)
}

/// Copies the member `member` into `out`; its size.
pub fn copy_member<R: Read>(r: R, member: &str, out: &mut impl Write) -> Result<u64, ArchiveError> {
    let mut ar = reader(r)?;
    for entry in ar.entries()? {
        let mut entry = entry?;
        if entry.path()?.to_string_lossy() == member {
            return Ok(io::copy(&mut entry, out)?);
        }
    }
    Err(corrupt(format!("'{member}' is missing")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT,
            container: "db".into(),
            image: "localhost:5000/apps/mariadb:10.11".into(),
            image_id: "sha256:abc".into(),
            release: "10.11".into(),
            created: "2026-12-07T18:00:00Z".into(),
            method: "paused".into(),
            sources: Vec::new(),
            dump: None,
            members: Vec::new(),
            bytes: 0,
        }
    }

    fn tree(dir: &Path) {
        std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
        std::fs::write(dir.join("a.txt"), b"hello").unwrap();
        std::fs::write(dir.join("sub/deeper/b.bin"), vec![7u8; 100_000]).unwrap();
        std::os::unix::fs::symlink("a.txt", dir.join("link")).unwrap();
    }

    fn archive(dir: &Path) -> Vec<u8> {
        let mut w = Writer::new(Vec::new()).unwrap();
        let (files, bytes) = w.add_tree("volumes/data", dir).unwrap();
        assert_eq!((files, bytes), (2, 100_005));
        w.finish(manifest()).unwrap()
    }

    /// A crafted archive: a link to a folder outside, then a file through
    /// it, and a hard link to a host file. Nothing is written outside.
    #[test]
    fn a_crafted_archive_writes_nothing_outside_its_folder() {
        let outside = tempfile::tempdir().unwrap();
        let link = |name: &str, kind: tar::EntryType, to: &Path| {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, name, to).unwrap();
            let mut f = tar::Header::new_gnu();
            f.set_size(4);
            f.set_mode(0o644);
            f.set_cksum();
            b.append_data(&mut f, "volumes/data/x/evil", &b"evil"[..])
                .unwrap();
            zstd::encode_all(b.into_inner().unwrap().as_slice(), 1).unwrap()
        };
        for (kind, to) in [
            (tar::EntryType::Symlink, outside.path().to_path_buf()),
            (tar::EntryType::Link, outside.path().join("host-file")),
        ] {
            let dest = tempfile::tempdir().unwrap();
            let bytes = link("volumes/data/x", kind, &to);
            assert!(
                extract(bytes.as_slice(), "volumes/data", dest.path()).is_err(),
                "{kind:?}"
            );
            assert!(!outside.path().join("evil").exists(), "{kind:?}");
            assert!(verify(bytes.as_slice()).is_err(), "{kind:?}");
        }
    }

    #[test]
    fn a_tree_round_trips_checked() {
        let src = tempfile::tempdir().unwrap();
        tree(src.path());
        let bytes = archive(src.path());
        let m = verify(bytes.as_slice()).unwrap();
        assert_eq!(m.members.len(), 2);
        assert_eq!(m.bytes, 100_005);
        assert_eq!(
            m.members[0].sha256,
            hex(Sha256::digest(b"hello")),
            "{:?}",
            m.members
        );
        let dest = tempfile::tempdir().unwrap();
        let n = extract(bytes.as_slice(), "volumes/data", dest.path()).unwrap();
        assert_eq!(n, 2);
        assert_eq!(std::fs::read(dest.path().join("a.txt")).unwrap(), b"hello");
        assert_eq!(
            std::fs::read(dest.path().join("sub/deeper/b.bin"))
                .unwrap()
                .len(),
            100_000
        );
        assert_eq!(
            std::fs::read_link(dest.path().join("link")).unwrap(),
            Path::new("a.txt")
        );
    }

    #[test]
    fn damage_anywhere_is_refused() {
        let src = tempfile::tempdir().unwrap();
        tree(src.path());
        let bytes = archive(src.path());
        // Cut short.
        let cut = &bytes[..bytes.len() / 2];
        assert!(matches!(verify(cut), Err(ArchiveError::Corrupt(_))));
        // One byte flipped in the middle (the zstd checksum, or a member's
        // sum, or the tar structure catches it).
        for at in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 10] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x55;
            assert!(verify(bad.as_slice()).is_err(), "flip at {at} passed");
        }
        // Not an archive at all.
        assert!(verify(&b"not an archive"[..]).is_err());
    }

    #[test]
    fn a_member_that_differs_from_its_manifest_is_refused() {
        // Written by hand: the manifest lies about one sum.
        let mut w = Writer::new(Vec::new()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"data").unwrap();
        w.add_file("dump/db.sql", &dir.path().join("f")).unwrap();
        let mut m = manifest();
        // finish() fills members: rebuild with a wrong sum instead.
        let mut members = w.members().to_vec();
        members[0].sha256 = "00".repeat(32);
        let z = {
            let mut tar = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_size(4);
            tar.append_data(&mut h, "dump/db.sql", &b"data"[..])
                .unwrap();
            m.members = members;
            let text = serde_json::to_vec(&m).unwrap();
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            tar.append_data(&mut h, MANIFEST, text.as_slice()).unwrap();
            zstd::encode_all(tar.into_inner().unwrap().as_slice(), 1).unwrap()
        };
        let e = verify(z.as_slice()).unwrap_err().to_string();
        assert!(e.contains("does not match its SHA-256"), "{e}");
    }

    #[test]
    fn paths_leaving_the_destination_are_not_unpacked() {
        assert_eq!(
            below(Path::new("volumes/v/a/b"), "volumes/v"),
            Some("a/b".into())
        );
        assert_eq!(below(Path::new("volumes/v/../x"), "volumes/v"), None);
        assert_eq!(below(Path::new("volumes/w/a"), "volumes/v"), None);
    }

    #[test]
    fn a_dump_member_is_copied_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dump"), b"CREATE TABLE t;").unwrap();
        let mut w = Writer::new(Vec::new()).unwrap();
        w.add_file("dump/db.sql", &dir.path().join("dump")).unwrap();
        let bytes = w.finish(manifest()).unwrap();
        verify(bytes.as_slice()).unwrap();
        let mut out = Vec::new();
        copy_member(bytes.as_slice(), "dump/db.sql", &mut out).unwrap();
        assert_eq!(out, b"CREATE TABLE t;");
    }
}
