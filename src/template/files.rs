//! Writing rendered files: atomically, only when something changed, with
//! the mode and ownership their `<file>` declares.
//!
//! Why each rule:
//! - atomic (temporary file in the same folder, fsync, rename, fsync of the
//!   folder): a service reading its configuration, or a crash, never sees a
//!   half-written file;
//! - unchanged content is not rewritten (mtime kept): later steps reload
//!   only what changed, and tools that watch mtimes stay quiet;
//! - ownership only applies when running as root (a test or a demo under
//!   `--root` runs unprivileged), but unknown names are refused always, so
//!   a typo is caught on any machine;
//! - every check that can fail (owners, parent folders) runs before the
//!   first write, so a declaration mistake writes nothing.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Group, Uid, User};

use super::{Action, Rendered, TemplateError};
use crate::atomic::Staged;

/// What a write pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Files created or rewritten (or whose mode/owner was corrected).
    pub written: Vec<PathBuf>,
    /// Outputs of disabled `rm="True"` files that were deleted.
    pub removed: Vec<PathBuf>,
    /// Files already holding the rendered content.
    pub unchanged: Vec<PathBuf>,
}

impl Changes {
    /// Written or removed: what later steps must reload.
    pub fn changed(&self) -> impl Iterator<Item = &PathBuf> {
        self.written.iter().chain(&self.removed)
    }

    pub fn is_empty(&self) -> bool {
        self.written.is_empty() && self.removed.is_empty()
    }
}

/// A write pass that failed for some files. The others were handled, and
/// `done` says how: those changes are on disk.
#[derive(Debug)]
pub struct WriteFailure {
    pub errors: Vec<TemplateError>,
    pub done: Changes,
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for WriteFailure {}

/// Resolved ownership: `None` keeps what the file has (or the process's).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ownership {
    pub uid: Option<Uid>,
    pub gid: Option<Gid>,
}

/// Resolves the declared owner and group names.
pub(crate) fn ownership(r: &Rendered) -> Result<Ownership, Vec<TemplateError>> {
    let mut errors = Vec::new();
    let mut own = Ownership::default();
    let err = |kind: &'static str, name: &str| TemplateError::Owner {
        file: r.declared.clone(),
        decl: r.decl.clone(),
        kind,
        name: name.to_string(),
    };
    if let Some(u) = r.owner.as_deref().filter(|u| !u.is_empty()) {
        match User::from_name(u) {
            Ok(Some(user)) => own.uid = Some(user.uid),
            _ => errors.push(err("user", u)),
        }
    }
    if let Some(g) = r.group.as_deref().filter(|g| !g.is_empty()) {
        match Group::from_name(g) {
            Ok(Some(group)) => own.gid = Some(group.gid),
            _ => errors.push(err("group", g)),
        }
    }
    if errors.is_empty() {
        Ok(own)
    } else {
        Err(errors)
    }
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> TemplateError + 'a {
    move |cause| TemplateError::Io {
        action,
        path: path.to_path_buf(),
        cause,
    }
}

/// Writes every `Write` action and deletes every `Remove` one. See
/// [`super::write_all`].
pub fn write_all(rendered: &[Rendered]) -> Result<Changes, WriteFailure> {
    let root = Uid::effective().is_root();
    // First pass: everything that can be checked before touching a file.
    let mut errors = Vec::new();
    let mut owners = Vec::with_capacity(rendered.len());
    for r in rendered {
        let Action::Write(_) = &r.action else {
            owners.push(Ownership::default());
            continue;
        };
        match ownership(r) {
            Ok(o) => owners.push(o),
            Err(e) => {
                errors.extend(e);
                owners.push(Ownership::default());
            }
        }
        if let Some(parent) = r.dest.parent()
            && !r.mkdir
            && !parent.is_dir()
        {
            errors.push(TemplateError::NoParent {
                path: r.dest.clone(),
                parent: parent.to_path_buf(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(WriteFailure {
            errors,
            done: Changes::default(),
        });
    }
    let mut done = Changes::default();
    for (r, own) in rendered.iter().zip(owners) {
        let result = match &r.action {
            Action::Write(content) => {
                let own = if root { own } else { Ownership::default() };
                write_one(r, content.as_bytes(), own).map(|changed| {
                    if changed {
                        done.written.push(r.dest.clone());
                    } else {
                        done.unchanged.push(r.dest.clone());
                    }
                })
            }
            Action::Remove => remove_one(&r.dest).map(|removed| {
                if removed {
                    done.removed.push(r.dest.clone());
                }
            }),
            Action::Keep(_) => Ok(()),
        };
        if let Err(e) = result {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(done)
    } else {
        Err(WriteFailure { errors, done })
    }
}

/// Writes one file if its content, mode or owner differ; true if it did.
fn write_one(r: &Rendered, content: &[u8], own: Ownership) -> Result<bool, TemplateError> {
    let path = &r.dest;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if r.mkdir {
        crate::folders::create_dir_all(parent, crate::folders::PUBLIC)
            .map_err(io("create the folder", parent))?;
    }
    match fs::read(path) {
        Ok(old) if old == content => {
            // Same content: fix mode and owner in place if needed (the
            // mtime stays, only the ctime moves).
            let meta = fs::metadata(path).map_err(io("read", path))?;
            let mut fixed = false;
            if meta.permissions().mode() & 0o7777 != r.mode {
                fs::set_permissions(path, fs::Permissions::from_mode(r.mode))
                    .map_err(io("change the mode of", path))?;
                fixed = true;
            }
            let uid_differs = own.uid.is_some_and(|u| u.as_raw() != meta.uid());
            let gid_differs = own.gid.is_some_and(|g| g.as_raw() != meta.gid());
            if uid_differs || gid_differs {
                nix::unistd::chown(path, own.uid, own.gid).map_err(|e| TemplateError::Io {
                    action: "change the owner of",
                    path: path.clone(),
                    cause: e.into(),
                })?;
                fixed = true;
            }
            return Ok(fixed);
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("read", path)(e)),
    }
    let mut tmp = Staged::beside(path, r.mode).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => TemplateError::NoParent {
            path: path.clone(),
            parent: parent.to_path_buf(),
        },
        _ => io("create a temporary file beside", path)(e),
    })?;
    tmp.write_all(content)
        .map_err(io("write a temporary file for", path))?;
    if own.uid.is_some() || own.gid.is_some() {
        nix::unistd::fchown(tmp.file(), own.uid, own.gid).map_err(|e| TemplateError::Io {
            action: "set the owner of",
            path: path.clone(),
            cause: e.into(),
        })?;
    }
    tmp.sync().map_err(io("sync", path))?;
    tmp.persist(path).map_err(io("replace", path))?;
    sync_dir(parent);
    Ok(true)
}

/// Deletes a file if it is there; true if it was.
fn remove_one(path: &Path) -> Result<bool, TemplateError> {
    match fs::remove_file(path) {
        Ok(()) => {
            if let Some(parent) = path.parent() {
                sync_dir(parent);
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io("remove", path)(e)),
    }
}

/// Makes a rename or removal durable. Best effort: some filesystems refuse
/// to fsync a folder, and the rename itself already happened.
fn sync_dir(dir: &Path) {
    let _ = crate::atomic::sync_folder(dir);
}
