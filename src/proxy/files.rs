//! Swapping configuration files into place so that a reader (nginx, or an
//! admin's `nginx -t`) sees either the whole old file or the whole new one,
//! and putting the old ones back when nginx refuses the new.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::ProxyError;

/// A file to put in place, with its new content.
#[derive(Debug, Clone)]
pub struct Change {
    pub path: PathBuf,
    pub content: Vec<u8>,
}

/// The content of `path`, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, ProxyError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ProxyError::io(path, "read", e)),
    }
}

/// Writes `content` to `path` atomically ([`crate::atomic`]), making its
/// folder, so that no reader ever sees a half-written file. An existing
/// file keeps its permissions; a new one is 0644 (nginx's workers and the
/// admin read it).
pub fn write_atomic(path: &Path, content: &[u8]) -> io::Result<()> {
    crate::folders::create_dir_all(crate::atomic::folder_of(path), crate::folders::PUBLIC)?;
    crate::atomic::write(path, content, crate::atomic::mode_or(path, 0o644))
}

/// Removes `path`; a missing file is fine.
fn remove_optional(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The files as they were before [`swap`], to put back with
/// [`Backup::restore`].
#[derive(Debug, Default)]
#[must_use = "a backup that is dropped cannot restore anything"]
pub struct Backup {
    entries: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Backup {
    /// Puts every file back as it was (a file that did not exist is
    /// removed), in reverse order. Every file is tried even when one fails;
    /// the first failure is returned.
    pub fn restore(self) -> Result<(), (PathBuf, io::Error)> {
        let mut first = None;
        for (path, old) in self.entries.into_iter().rev() {
            let r = match &old {
                Some(bytes) => write_atomic(&path, bytes),
                None => remove_optional(&path),
            };
            if let Err(e) = r {
                first.get_or_insert((path, e));
            }
        }
        match first {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    /// Restores, turning a failure to restore into [`ProxyError::Restore`]
    /// around `cause` (the reason for restoring).
    pub fn restore_after(self, cause: ProxyError) -> ProxyError {
        match self.restore() {
            Ok(()) => cause,
            Err((path, source)) => ProxyError::Restore {
                first: Box::new(cause),
                path,
                source,
            },
        }
    }
}

/// Puts every change in place, remembering what was there. When one write
/// fails, those already done are undone before the error is returned.
pub fn swap(changes: &[Change]) -> Result<Backup, ProxyError> {
    let mut backup = Backup::default();
    for c in changes {
        let old = match read_optional(&c.path) {
            Ok(o) => o,
            Err(e) => return Err(backup.restore_after(e)),
        };
        if let Err(e) = write_atomic(&c.path, &c.content) {
            return Err(backup.restore_after(ProxyError::io(&c.path, "write", e)));
        }
        backup.entries.push((c.path.clone(), old));
    }
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn swap_then_restore_puts_back_old_and_removes_new() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let a = dir.path().join("a.conf");
        let b = dir.path().join("sub/b.conf");
        fs::write(&a, "old a")?;
        fs::set_permissions(&a, fs::Permissions::from_mode(0o640))?;
        let backup = swap(&[
            Change {
                path: a.clone(),
                content: b"new a".to_vec(),
            },
            Change {
                path: b.clone(),
                content: b"new b".to_vec(),
            },
        ])?;
        assert_eq!(fs::read_to_string(&a)?, "new a");
        assert_eq!(fs::metadata(&a)?.permissions().mode() & 0o777, 0o640);
        assert_eq!(fs::read_to_string(&b)?, "new b");
        assert_eq!(fs::metadata(&b)?.permissions().mode() & 0o777, 0o644);
        backup.restore().map_err(|(_, e)| e)?;
        assert_eq!(fs::read_to_string(&a)?, "old a");
        assert!(!b.exists());
        // No temporary file is left behind.
        let leftovers: Vec<_> = fs::read_dir(dir.path())?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".conteneur-"))
            .collect();
        assert!(leftovers.is_empty());
        Ok(())
    }
}
