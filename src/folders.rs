//! The folders conteneur creates, each with an explicit mode.
//!
//! `std::fs::create_dir_all` gives new folders `0777` minus the umask: under
//! `umask 000` the state folder and `etc/eole` came out world-writable. Here
//! every folder made is given its mode with `chmod` right after `mkdir`, so
//! the umask can neither widen nor narrow it (a private nginx's workers,
//! which run as `nobody`, must still enter the state folder under `umask
//! 077`). Folders that already exist are left as the admin made them.
//!
//! [`create_beneath`] is for paths that come from the configuration (the
//! host folders of bind mounts): it walks from an open folder one component
//! at a time with `openat(O_NOFOLLOW)` and `mkdirat`, so a symbolic link met
//! on the way is refused instead of followed, and nothing is ever created
//! outside that folder. The modes are listed in docs/security.md.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fchmod, mkdirat};

/// Folders anyone may enter and read, only root may change: `etc/eole`,
/// the state folder `var/lib/conteneur` (its secret files are 0600 each),
/// the folders templates are rendered into, host folders of bind mounts.
pub const PUBLIC: u32 = 0o755;

/// Folders only root enters: the git sources of docker+git builds.
pub const PRIVATE: u32 = 0o700;

/// Creates `path` and its missing parents, each new one with exactly
/// `mode`. Existing folders keep their mode.
pub fn create_dir_all(path: &Path, mode: u32) -> io::Result<()> {
    if path.as_os_str().is_empty() || path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        create_dir_all(parent, mode)?;
    }
    match std::fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)),
        // Made meanwhile by someone else (two runs, two threads): theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Mode of the lock files (`run.lock`, `config.eol.lock`): a lock anyone
/// may open, anyone may hold, and so block every run.
pub const LOCK: u32 = 0o600;

/// Opens (creating it) the lock file `path` for this process's user only:
/// a new file is made 0600, an existing one with a looser mode is brought
/// back to 0600, a link is refused, and one owned by another user is
/// refused (that user could change its mode back, or hold it open).
pub fn open_lock(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(LOCK)
        .custom_flags(OFlag::O_NOFOLLOW.bits())
        .open(path)?;
    let meta = file.metadata()?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the lock file is owned by uid {}, not by this run's user (uid {me}): \
                 anyone owning it may hold it and block every run; remove it",
                meta.uid()
            ),
        ));
    }
    if meta.mode() & 0o7777 != LOCK {
        fchmod(&file, Mode::from_bits_truncate(LOCK)).map_err(io::Error::from)?;
    }
    Ok(file)
}

/// Why a folder could not be made beneath its root.
#[derive(Debug, thiserror::Error)]
pub enum BeneathError {
    #[error(
        "'{0}' is a symbolic link (or not a folder): conteneur never creates folders through one"
    )]
    Link(String),
    #[error("'{path}': {error}")]
    Io { path: String, error: io::Error },
}

/// Opens the folder `name` inside `dir`, refusing a symbolic link.
fn open_dir(dir: impl AsFd, name: &OsStr) -> nix::Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Creates the folder `rel` (relative, without `..`) under the folder
/// `root`, component by component, without following any symbolic link
/// below `root`; each new folder gets `mode`. `root` itself is opened as
/// given.
pub fn create_beneath(root: &Path, rel: &Path, mode: u32) -> Result<(), BeneathError> {
    let io = |path: &Path, e: Errno| BeneathError::Io {
        path: path.display().to_string(),
        error: io::Error::from(e),
    };
    let mut fd: OwnedFd = openat(
        nix::fcntl::AT_FDCWD,
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(root, e))?;
    let mut here = root.to_path_buf();
    for c in rel.components() {
        let name = match c {
            Component::Normal(n) => n,
            Component::CurDir => continue,
            // The caller gives a normalised relative path; anything else
            // would climb out of `root`.
            _ => return Err(BeneathError::Link(rel.display().to_string())),
        };
        here.push(name);
        let next = match open_dir(&fd, name) {
            Ok(f) => f,
            Err(Errno::ENOENT) => {
                match mkdirat(&fd, name, Mode::from_bits_truncate(mode)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(io(&here, e)),
                }
                let f = open_dir(&fd, name).map_err(|e| match e {
                    Errno::ELOOP | Errno::ENOTDIR => BeneathError::Link(here.display().to_string()),
                    e => io(&here, e),
                })?;
                fchmod(&f, Mode::from_bits_truncate(mode)).map_err(|e| io(&here, e))?;
                f
            }
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                return Err(BeneathError::Link(here.display().to_string()));
            }
            Err(e) => return Err(io(&here, e)),
        };
        fd = next;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn mode_of(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn new_folders_get_their_mode_whatever_the_umask() {
        // 0777 is what no umask but 000 lets through: getting it proves the
        // mode is set, not left to the umask (the test of the finding itself,
        // under `umask 000`, is tests/cli.rs: the umask is process-wide).
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a/b/c");
        create_dir_all(&p, 0o777).unwrap();
        for d in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode_of(&t.path().join(d)), 0o777, "{d}");
        }
        create_beneath(t.path(), Path::new("x/y"), 0o707).unwrap();
        assert_eq!(mode_of(&t.path().join("x")), 0o707);
        assert_eq!(mode_of(&t.path().join("x/y")), 0o707);
        // An existing folder keeps its mode.
        std::fs::set_permissions(t.path().join("a"), std::fs::Permissions::from_mode(0o750))
            .unwrap();
        create_dir_all(&t.path().join("a/b/d"), PUBLIC).unwrap();
        assert_eq!(mode_of(&t.path().join("a")), 0o750);
        assert_eq!(mode_of(&t.path().join("a/b/d")), 0o755);
    }

    #[test]
    fn nothing_is_created_through_a_symbolic_link() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("srv")).unwrap();
        let e = create_beneath(&root, Path::new("srv/data"), PUBLIC).unwrap_err();
        assert!(matches!(e, BeneathError::Link(_)), "{e}");
        assert!(e.to_string().contains("srv"), "{e}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        // A dangling link is no way out either.
        std::os::unix::fs::symlink(outside.path().join("new"), root.join("dangling")).unwrap();
        assert!(create_beneath(&root, Path::new("dangling/x"), PUBLIC).is_err());
        assert!(!outside.path().join("new").exists());
        // `..` is refused, never climbed.
        assert!(create_beneath(&root, Path::new("../escape"), PUBLIC).is_err());
        assert!(!t.path().join("escape").exists());
        create_beneath(&root, Path::new("data/a"), PUBLIC).unwrap();
        assert!(root.join("data/a").is_dir());
    }
}
