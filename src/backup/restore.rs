//! `conteneur restore`: the archive checked whole first, the data staged
//! into a new volume (or folder) beside the live one, the container
//! stopped, the two swapped, the container started again; a dump fed back
//! to the restore command; any failure swaps the previous data back.

use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::archive::{self, ArchiveError, Manifest};
use super::engine::Engine;
use super::{BackupError, Command, Settings, Target, engine_error, short, store};
use crate::backend::Backend;
use crate::plan::launch::MountKind;

/// The archive `given`, or the newest of `name`, checked whole.
pub fn checked(
    settings: &Settings,
    name: &str,
    given: Option<&Path>,
) -> Result<(PathBuf, Manifest), BackupError> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => {
            store::latest(&settings.dir, name)
                .map_err(|e| BackupError::Archive {
                    path: settings.dir.clone(),
                    error: e.into(),
                })?
                .ok_or_else(|| BackupError::NoArchive {
                    name: name.to_string(),
                    dir: settings.dir.clone(),
                })?
                .path
        }
    };
    let m = File::open(&path)
        .map_err(ArchiveError::from)
        .and_then(archive::verify)
        .map_err(|error| BackupError::Archive {
            path: path.clone(),
            error,
        })?;
    if m.container != name {
        return Err(BackupError::OtherContainer {
            path,
            found: m.container,
            name: name.to_string(),
        });
    }
    Ok((path, m))
}

/// One volume or folder being restored: the new data beside the live one.
struct Swap {
    what: String,
    live: PathBuf,
    staged: PathBuf,
    /// Where the previous data stays, for the admin.
    kept_as: String,
}

impl Swap {
    /// Exchanges the live and the staged folders (three renames on one
    /// filesystem): afterwards `live` holds the new data, `staged` the
    /// previous one. Calling it twice puts everything back.
    fn exchange(&self) -> io::Result<()> {
        let tmp = self.live.with_file_name(format!(
            ".{}.swap",
            self.live
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        std::fs::rename(&self.live, &tmp)?;
        if let Err(e) = std::fs::rename(&self.staged, &self.live) {
            let _ = std::fs::rename(&tmp, &self.live);
            return Err(e);
        }
        std::fs::rename(&tmp, &self.staged)
    }
}

/// Copies the owner and mode of `from` onto the folder `to`.
fn same_owner(from: &Path, to: &Path) -> io::Result<()> {
    let m = std::fs::metadata(from)?;
    nix::unistd::chown(
        to,
        Some(nix::unistd::Uid::from_raw(m.uid())),
        Some(nix::unistd::Gid::from_raw(m.gid())),
    )
    .map_err(io::Error::from)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(m.mode() & 0o7777))
}

/// What a restore will do, one line each (also `--dry-run`'s output).
pub fn restore_steps(t: &Target, path: &Path, m: &Manifest, stamp: &str) -> Vec<String> {
    let mut out = vec![format!(
        "check    {} (taken {}, {}, {} file(s), {}): manifest and sums ok",
        path.display(),
        m.created,
        m.method,
        m.members.len(),
        store::human(m.bytes)
    )];
    for s in &m.sources {
        let into = if m.dump.is_some() {
            "an empty one (the dump fills it)".to_string()
        } else {
            format!("a new one with the archive's {} file(s)", s.files)
        };
        out.push(format!(
            "restore  {} {} of {}: replaced by {into}; the current one is kept as {}",
            s.kind,
            s.name,
            t.name,
            kept_name(s, stamp)
        ));
    }
    out.push(format!(
        "restart  {}: stopped, the data swapped, started and waited for",
        t.name
    ));
    if let (Some(d), Some(c)) = (&m.dump, &t.restore_command) {
        out.push(format!(
            "feed     the dump ({}) to `{}` inside {}",
            store::human(d.bytes),
            c.text,
            t.name
        ));
    }
    out
}

fn kept_name(s: &archive::Source, stamp: &str) -> String {
    if s.kind == "volume" {
        format!("volume {}.before-restore-{stamp}", s.name)
    } else {
        format!("folder {}.before-restore-{stamp}", s.name)
    }
}

/// What to restore, from where.
pub struct Request<'a> {
    /// The archive, checked by [`checked`], and its manifest.
    pub path: &'a Path,
    pub manifest: &'a Manifest,
    /// Restore even onto another image.
    pub allow_image_change: bool,
    /// Dates the names the previous data is kept under.
    pub stamp: &'a str,
}

/// Restores container `t` from a checked archive.
pub async fn restore_one(
    engine: &Engine,
    settings: &Settings,
    t: &Target,
    server: &str,
    req: &Request<'_>,
    log: &mut dyn FnMut(String),
) -> Result<Vec<String>, BackupError> {
    let (path, m, stamp) = (req.path, req.manifest, req.stamp);
    let allow_image_change = req.allow_image_change;
    let name = t.name.as_str();
    let fail = |message: String| BackupError::Restore {
        name: name.to_string(),
        message,
    };
    let c = engine
        .container(name, server)
        .await
        .map_err(|msg| engine_error(name, msg))?
        .ok_or_else(|| BackupError::Missing {
            name: name.to_string(),
        })?;
    if c.image_id != m.image_id && !allow_image_change {
        return Err(BackupError::ImageChanged {
            name: name.to_string(),
            index: t.index,
            path: path.to_path_buf(),
            now: format!("{} ({})", c.image, short(&c.image_id)),
            then: format!("{} ({})", m.image, short(&m.image_id)),
        });
    }
    if let Some(d) = &m.dump
        && t.restore_command.is_none()
    {
        return Err(fail(format!(
            "the archive holds the output of `{}`: set conteneur{}_restore_command to the command \
             that reads it back (for MariaDB: mariadb); nothing was changed",
            d.command, t.index
        )));
    }
    // 1. The new data, staged beside the live data; nothing live changes.
    let mut swaps: Vec<Swap> = Vec::new();
    let staged = stage(engine, t, server, path, m, stamp, &mut swaps).await;
    if let Err(e) = staged {
        for s in &swaps {
            unstage(engine, s).await;
        }
        return Err(fail(format!("{e}; nothing was changed")));
    }
    // 2. Stopped, swapped, started.
    engine
        .backend
        .stop(&c.id, t.stop_timeout)
        .await
        .map_err(|e| fail(format!("{e}; nothing was changed")))?;
    let mut done = 0;
    let mut swap_error = None;
    for s in &swaps {
        match s.exchange() {
            Ok(()) => done += 1,
            Err(e) => {
                swap_error = Some(format!("swapping {} failed: {e}", s.what));
                break;
            }
        }
    }
    let started = match swap_error {
        Some(e) => Err(e),
        None => match engine.backend.start(&c.id).await {
            Ok(()) => {
                engine
                    .wait_ready(&c.id, c.healthcheck, settings.health_timeout)
                    .await
            }
            Err(e) => Err(e.to_string()),
        },
    };
    // 3. The dump fed back.
    let fed = match (&started, &m.dump, &t.restore_command) {
        (Ok(()), Some(d), Some(cmd)) => {
            log(format!("{name}: feeding the dump to `{}`", cmd.text));
            feed(engine, settings, &c.id, path, &d.member, cmd).await
        }
        _ => Ok(()),
    };
    if let Err(why) = started.and(fed) {
        // Back as it was: the previous data, the container serving it.
        let _ = engine.backend.stop(&c.id, t.stop_timeout).await;
        for s in swaps.iter().take(done) {
            let _ = s.exchange();
        }
        let back = match engine.backend.start(&c.id).await {
            Ok(()) => "the previous data was put back and the container started again".to_string(),
            Err(e) => {
                format!("the previous data was put back, but starting the container failed: {e}")
            }
        };
        for s in &swaps {
            unstage(engine, s).await;
        }
        return Err(fail(format!("the restore failed: {why}; {back}")));
    }
    Ok(swaps
        .iter()
        .map(|s| {
            format!(
                "{name}: {} restored; the previous data is kept as {}",
                s.what, s.kept_as
            )
        })
        .collect())
}

/// Makes the new volumes and folders, filled from the archive (empty for
/// a dump), and records the swaps.
async fn stage(
    engine: &Engine,
    t: &Target,
    server: &str,
    path: &Path,
    m: &Manifest,
    stamp: &str,
    swaps: &mut Vec<Swap>,
) -> Result<(), String> {
    for s in &m.sources {
        let kept = t
            .kept
            .iter()
            .find(|k| k.kind_word() == s.kind && k.name == s.name)
            .ok_or_else(|| {
                format!(
                    "the archive holds the {} {}, which container '{}' no longer has",
                    s.kind, s.name, t.name
                )
            })?;
        let (live, staged, kept_as) = match kept.kind {
            MountKind::Volume => {
                let dated = format!("{}.before-restore-{stamp}", s.name);
                let live = engine
                    .volume_dir(&s.name)
                    .await?
                    .ok_or_else(|| format!("the volume {} is missing", s.name))?;
                engine
                    .backend
                    .ensure_volume(&dated, &crate::plan::apps::volume_labels(server, &dated))
                    .await
                    .map_err(|e| e.to_string())?;
                let staged = engine
                    .volume_dir(&dated)
                    .await?
                    .ok_or_else(|| format!("the new volume {dated} is missing"))?;
                (live, staged, format!("volume {dated}"))
            }
            MountKind::Bind => {
                let live = kept.host.clone().ok_or("a folder without a host path")?;
                let dated = PathBuf::from(format!("{}.before-restore-{stamp}", live.display()));
                std::fs::create_dir(&dated).map_err(|e| format!("{}: {e}", dated.display()))?;
                (live, dated.clone(), format!("folder {}", dated.display()))
            }
        };
        swaps.push(Swap {
            what: format!("{} {}", s.kind, s.name),
            live: live.clone(),
            staged: staged.clone(),
            kept_as,
        });
        same_owner(&live, &staged).map_err(|e| format!("{}: {e}", staged.display()))?;
        if m.dump.is_none() {
            let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            archive::extract(file, &s.prefix, &staged).map_err(|e| {
                format!(
                    "unpacking {} into {} failed: {e}",
                    s.prefix,
                    staged.display()
                )
            })?;
        }
    }
    Ok(())
}

/// Removes a staged volume or folder that was not swapped in (or was
/// swapped back: then it holds the new data, which is not wanted).
async fn unstage(engine: &Engine, s: &Swap) {
    if let Some(v) = s.kept_as.strip_prefix("volume ") {
        let _ = engine
            .backend
            .client()
            .remove_volume(v, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await;
    } else {
        let _ = std::fs::remove_dir_all(&s.staged);
    }
}

/// Feeds the archive's dump to the restore command.
async fn feed(
    engine: &Engine,
    settings: &Settings,
    id: &str,
    path: &Path,
    member: &str,
    cmd: &Command,
) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (spool, mut f) = store::Pending::create(&settings.dir, &format!("{name}.restore"))
        .map_err(|e| e.to_string())?;
    let file = File::open(path).map_err(|e| e.to_string())?;
    archive::copy_member(file, member, &mut f).map_err(|e| e.to_string())?;
    drop(f);
    let exit = engine.exec_from(id, &cmd.words, &spool.tmp).await?;
    if exit.code != 0 {
        return Err(format!(
            "the restore command ({}: `{}`) exited with status {}{}",
            cmd.variable,
            cmd.text,
            exit.code,
            if exit.stderr.is_empty() {
                String::new()
            } else {
                format!(": {}", exit.stderr)
            }
        ));
    }
    Ok(())
}
