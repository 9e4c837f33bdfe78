//! Replacing a file atomically: a reader (nginx, an admin, the next run)
//! sees the whole old file or the whole new one, never a half-written one,
//! and a crash leaves one of the two on disk.
//!
//! The one way conteneur does it: a hidden temporary file in the same
//! folder (`.conteneur-XXXXXX.tmp`, so the rename cannot cross filesystems),
//! given its mode, written, flushed to disk, renamed over the target, and
//! the folder flushed so the rename survives a power cut. A temporary file
//! that is not renamed (an error on the way) is removed.
//!
//! [`write`] does it all; [`Staged`] is its parts, for the callers that do
//! something between them (give the file an owner, put a backup in place
//! first, say which step failed).

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The mode of `path` now (permission bits), or `new` when it does not
/// exist: to replace a file keeping the mode an admin gave it.
pub fn mode_or(path: &Path, new: u32) -> u32 {
    match fs::metadata(path) {
        Ok(m) => m.permissions().mode() & 0o7777,
        Err(_) => new,
    }
}

/// The folder `path` is in (`.` for a bare file name).
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Flushes folder `dir` to disk, so that a rename or removal in it lasts.
/// Some filesystems refuse it: callers that can live without it ignore the
/// error.
pub fn sync_folder(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Puts `content` at `path` with mode `mode`: temporary file, write, flush,
/// rename, folder flush (best effort: the rename already happened). The
/// folder must exist.
pub fn write(path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
    let mut staged = Staged::beside(path, mode)?;
    staged.write_all(content)?;
    staged.sync()?;
    staged.persist(path)?;
    let _ = sync_folder(folder_of(path));
    Ok(())
}

/// A temporary file beside its target, not yet in place. Dropped without
/// [`Self::persist`], it is removed.
pub struct Staged {
    tmp: tempfile::NamedTempFile,
}

impl Staged {
    /// A new temporary file in the folder of `path`, with mode `mode`
    /// (exactly: the umask plays no part).
    pub fn beside(path: &Path, mode: u32) -> io::Result<Staged> {
        let tmp = tempfile::Builder::new()
            .prefix(".conteneur-")
            .suffix(".tmp")
            .tempfile_in(folder_of(path))?;
        tmp.as_file()
            .set_permissions(Permissions::from_mode(mode))?;
        Ok(Staged { tmp })
    }

    /// Where the temporary file is.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// The open file (to give it an owner).
    pub fn file(&self) -> &File {
        self.tmp.as_file()
    }

    pub fn write_all(&mut self, content: &[u8]) -> io::Result<()> {
        self.tmp.write_all(content)
    }

    /// Flushes the content to disk (before the rename, so that a crash
    /// never leaves an empty file under the target's name).
    pub fn sync(&self) -> io::Result<()> {
        self.tmp.as_file().sync_all()
    }

    /// Renames it over `path`. The folder is not flushed: see
    /// [`sync_folder`].
    pub fn persist(self, path: &Path) -> io::Result<()> {
        self.tmp.persist(path).map(drop).map_err(|e| e.error)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The names in `dir`, sorted (to see that no temporary file is left).
    pub(crate) fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_content_is_replaced_with_the_mode_given() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.conf");
        write(&path, b"one", 0o640).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(mode_or(&path, 0), 0o640);
        write(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(mode_or(&path, 0), 0o600);
        assert_eq!(listing(dir.path()), ["site.conf"]);
    }

    #[test]
    fn the_mode_of_a_replaced_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        assert_eq!(mode_or(&path, 0o644), 0o644);
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o751)).unwrap();
        write(&path, b"new", mode_or(&path, 0o644)).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(mode_or(&path, 0o644), 0o751);
    }

    #[test]
    fn a_failure_leaves_no_temporary_file_and_the_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        fs::write(&path, "old").unwrap();
        // Staged, then dropped before the rename (an error on the way).
        {
            let mut s = Staged::beside(&path, 0o600).unwrap();
            s.write_all(b"half").unwrap();
            assert!(s.path().exists());
        }
        assert_eq!(listing(dir.path()), ["a"]);
        // The rename fails: the target is a non-empty folder.
        let target = dir.path().join("busy");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), "").unwrap();
        assert!(write(&target, b"new", 0o600).is_err());
        assert_eq!(listing(dir.path()), ["a", "busy"]);
        assert_eq!(fs::read(&path).unwrap(), b"old");
        // No folder: nothing made.
        assert!(write(&dir.path().join("none/a"), b"x", 0o600).is_err());
        assert_eq!(listing(dir.path()), ["a", "busy"]);
    }
}
