//! Backups of what containers keep (their named volumes and host folders)
//! and their restore: `conteneur backup [NAME…]`, `backup --list`,
//! `restore NAME [ARCHIVE]`. docs/backups.md is the admin's side.
//!
//! - One archive per container ([`archive`]), in `conteneur_backup_dir`
//!   ([`store`]): written under a temporary name, renamed once complete;
//!   the oldest beyond `conteneur_backup_kept` are deleted only then.
//! - Consistency: the output of `conteneurX_backup_command`, run inside the
//!   container while it serves (a database's dump); without one, the
//!   container is paused by the engine for the copy (stopped if it cannot
//!   be paused), and started again whatever happens.
//! - Restore: the archive is checked whole first (manifest, sizes, sums),
//!   the data goes into a new volume (or folder) beside the live one, the
//!   container is stopped, the two are swapped, and it is started again;
//!   the previous data stays under a dated name. A dump is fed back to
//!   `conteneurX_restore_command` once the container runs on its new,
//!   empty volume. Any failure swaps the previous data back.

pub mod archive;
pub mod cli;
mod engine;
mod restore;
pub mod store;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::Backend;
use crate::config::Config;
use crate::paths::Paths;
use crate::plan::launch::{Launch, MountKind};

use archive::{ArchiveError, Manifest};
use engine::Engine;
pub use restore::{Request, checked, restore_one, restore_steps};

/// `conteneur_backup_dir`'s default (under `--root`).
pub const DEFAULT_DIR: &str = "/var/backups/conteneur";
/// `conteneur_backup_kept`'s default.
pub const DEFAULT_KEPT: usize = 7;

/// The server's backup settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dir: PathBuf,
    pub kept: usize,
    pub health_timeout: Duration,
}

impl Settings {
    pub fn of(cfg: &Config, paths: &Paths) -> Settings {
        let dir = cfg
            .first("conteneur_backup_dir")
            .unwrap_or_else(|| DEFAULT_DIR.to_string());
        let kept = cfg
            .first("conteneur_backup_kept")
            .and_then(|s| s.parse().ok())
            .unwrap_or(DEFAULT_KEPT);
        let health = cfg
            .first("conteneur_health_timeout")
            .and_then(|s| s.parse().ok())
            .unwrap_or(30u64);
        Settings {
            dir: paths.root.join(dir.trim_start_matches('/')),
            kept: kept.max(1),
            health_timeout: Duration::from_secs(health.max(1)),
        }
    }
}

/// A volume or folder of a container, as configured now.
#[derive(Debug, Clone)]
pub struct Kept {
    pub kind: MountKind,
    /// The volume's name or the folder's configured path.
    pub name: String,
    pub container_path: String,
    /// A folder's path on this host (under the root).
    pub host: Option<PathBuf>,
}

impl Kept {
    fn kind_word(&self) -> &'static str {
        match self.kind {
            MountKind::Volume => "volume",
            MountKind::Bind => "folder",
        }
    }

    fn describe(&self) -> String {
        format!("{} {}", self.kind_word(), self.name)
    }
}

/// A command of `conteneurX_backup_command` or `_restore_command`.
#[derive(Debug, Clone)]
pub struct Command {
    pub variable: String,
    pub text: String,
    pub words: Vec<String>,
}

/// One configured container, for backups.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub index: u32,
    pub backend: String,
    pub stop_timeout: u32,
    pub kept: Vec<Kept>,
    pub backup_command: Option<Command>,
    pub restore_command: Option<Command>,
}

/// Why a backup or a restore stopped. Each says what was left as it was.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Config(String),
    #[error("no container is named '{name}' in the configuration (configured: {known})")]
    Unknown { name: String, known: String },
    #[error("container '{name}' runs on {backend}: backups are made of docker containers only")]
    NotDocker { name: String, backend: String },
    #[error(
        "container '{name}' does not exist on the engine: run `conteneur instance` (or reconfigure) first"
    )]
    Missing { name: String },
    #[error("container '{name}': {message}")]
    Engine { name: String, message: String },
    #[error(
        "container '{name}': its backup command ({variable}: `{command}`) {what}{stderr}\n\
         no archive was written; the previous archives are intact"
    )]
    Command {
        name: String,
        variable: String,
        command: String,
        what: String,
        stderr: String,
    },
    #[error(
        "container '{name}': writing {archive} failed: {error}{hint}\n\
         the partial file was removed; the previous archives are intact"
    )]
    Write {
        name: String,
        archive: PathBuf,
        error: String,
        hint: String,
    },
    #[error(
        "container '{name}': interrupted during the copy; {resumed}; no archive was written, \
         the previous archives are intact"
    )]
    Interrupted { name: String, resumed: String },
    #[error("{path}: {error}; nothing was changed")]
    Archive { path: PathBuf, error: ArchiveError },
    #[error("no archive of container '{name}' in {dir}; nothing was changed")]
    NoArchive { name: String, dir: PathBuf },
    #[error("{path} is an archive of container '{found}', not of '{name}'; nothing was changed")]
    OtherContainer {
        path: PathBuf,
        found: String,
        name: String,
    },
    #[error(
        "container '{name}' now runs the image {now}, the archive {path} was taken from {then}: \
         data of another version may not fit it. Set the image back (conteneur{index}_tag) and reconfigure, \
         or restore anyway with --allow-image-change; nothing was changed"
    )]
    ImageChanged {
        name: String,
        index: u32,
        path: PathBuf,
        /// `image (short id)`.
        now: String,
        then: String,
    },
    #[error("container '{name}': {message}")]
    Restore { name: String, message: String },
}

fn short(id: &str) -> &str {
    crate::plan::observed::short_id(id)
}

/// The configured containers, with their kept data and commands, as a run
/// would see them (values checked, templates rendered in memory).
pub fn targets(cfg: &Config, paths: &Paths) -> Result<Vec<Target>, BackupError> {
    let (_, launches) = crate::plan::desired::desired(cfg, paths)
        .map_err(|e| BackupError::Config(e.to_string()))?;
    let allow = crate::plan::desired::allow_system_mounts(cfg);
    launches
        .iter()
        .map(|l| target(cfg, paths, l, allow))
        .collect()
}

fn command(cfg: &Config, l: &Launch, what: &str) -> Result<Option<Command>, BackupError> {
    let variable = format!("conteneur{}_{what}", l.index);
    let Some(text) = cfg.first(&variable).filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let words = crate::plan::apps::split_command(&text).map_err(|why| {
        BackupError::Config(format!(
            "container '{}': {variable} cannot be split into words: {why}",
            l.name
        ))
    })?;
    Ok((!words.is_empty()).then_some(Command {
        variable,
        text,
        words,
    }))
}

fn target(cfg: &Config, paths: &Paths, l: &Launch, allow: bool) -> Result<Target, BackupError> {
    let mut kept = Vec::new();
    for m in &l.mounts {
        let host = match m.kind {
            MountKind::Volume => None,
            MountKind::Bind => Some(
                crate::mounts::resolve(
                    &paths.root,
                    crate::mounts::Given {
                        container: &l.name,
                        index: l.index,
                        path: &m.host,
                    },
                    allow,
                )
                .map_err(|e| BackupError::Config(e.to_string()))?,
            ),
        };
        kept.push(Kept {
            kind: m.kind,
            name: m.host.clone(),
            container_path: m.container.clone(),
            host,
        });
    }
    Ok(Target {
        name: l.name.clone(),
        index: l.index,
        backend: l.backend.clone(),
        stop_timeout: l.stop_timeout,
        kept,
        backup_command: command(cfg, l, "backup_command")?,
        restore_command: command(cfg, l, "restore_command")?,
    })
}

/// The backup and restore commands that cannot be split into words, as
/// `lint` and `set` refuse `conteneurX_command` (the same rules).
pub fn lint(cfg: &Config) -> Vec<crate::config::Problem> {
    use crate::config::{Problem, ProblemKind, Severity};
    let count: u32 = cfg
        .first("nombre_conteneur")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
        .min(crate::dico::MAX_INSTANCES as u32);
    let mut out = Vec::new();
    for x in 1..=count {
        for what in ["backup_command", "restore_command"] {
            let variable = format!("conteneur{x}_{what}");
            let Some(text) = cfg.first(&variable) else {
                continue;
            };
            if let Err(why) = crate::plan::apps::split_command(&text) {
                let name = cfg
                    .first(&format!("conteneur{x}_name"))
                    .unwrap_or_else(|| format!("conteneur{x}"));
                out.push(Problem {
                    severity: Severity::Error,
                    kind: ProblemKind::Value,
                    variable: Some(variable.clone()),
                    loc: None,
                    message: format!(
                        "container '{name}': {variable} cannot be split into words: {why}"
                    ),
                });
            }
        }
    }
    out
}

/// The targets named (all when none is), in the configuration's order.
pub fn select(all: Vec<Target>, names: &[String]) -> Result<Vec<Target>, BackupError> {
    for n in names {
        if !all.iter().any(|t| &t.name == n) {
            return Err(BackupError::Unknown {
                name: n.clone(),
                known: all
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(all
        .into_iter()
        .filter(|t| names.is_empty() || names.contains(&t.name))
        .collect())
}

/// What one backup made.
#[derive(Debug)]
pub enum Outcome {
    /// The container keeps no data.
    Nothing,
    Saved {
        archive: PathBuf,
        /// How the copy was made consistent, for the output.
        method: String,
        files: u64,
        bytes: u64,
        size: u64,
        pruned: Vec<PathBuf>,
    },
}

fn write_error(name: &str, archive: &Path, e: &io::Error) -> BackupError {
    let hint = if e.raw_os_error() == Some(nix::libc::ENOSPC) {
        format!(
            " (the disk holding {} is full: free some space or set conteneur_backup_dir elsewhere)",
            archive.parent().unwrap_or(archive).display()
        )
    } else {
        String::new()
    };
    BackupError::Write {
        name: name.to_string(),
        archive: archive.to_path_buf(),
        error: e.to_string(),
        hint,
    }
}

fn engine_error(name: &str, message: impl Into<String>) -> BackupError {
    BackupError::Engine {
        name: name.to_string(),
        message: message.into(),
    }
}

/// How the container was made still for the copy.
enum Still {
    Paused,
    Stopped,
    AsIs,
}

/// Backs up one container into the archive folder.
pub async fn backup_one(
    engine: &Engine,
    settings: &Settings,
    t: &Target,
    server: &str,
) -> Result<Outcome, BackupError> {
    if t.kept.is_empty() && t.backup_command.is_none() {
        return Ok(Outcome::Nothing);
    }
    if crate::plan::observed::Kind::of_type(&t.backend) != Some(crate::plan::observed::Kind::Docker)
    {
        return Err(BackupError::NotDocker {
            name: t.name.clone(),
            backend: t.backend.clone(),
        });
    }
    let c = engine
        .container(&t.name, server)
        .await
        .map_err(|m| engine_error(&t.name, m))?
        .ok_or_else(|| BackupError::Missing {
            name: t.name.clone(),
        })?;
    // Where each volume's files are, before anything changes.
    let mut dirs = Vec::new();
    for k in &t.kept {
        let dir = match (&k.kind, &k.host) {
            (MountKind::Bind, Some(h)) => h.clone(),
            _ => engine
                .volume_dir(&k.name)
                .await
                .map_err(|m| engine_error(&t.name, m))?
                .ok_or_else(|| {
                    engine_error(&t.name, format!("its volume {} is missing", k.name))
                })?,
        };
        if t.backup_command.is_none() && !dir.is_dir() {
            return Err(engine_error(
                &t.name,
                format!("its {} ({}) is not a folder", k.describe(), dir.display()),
            ));
        }
        dirs.push(dir);
    }
    store::ensure_dir(&settings.dir).map_err(|e| write_error(&t.name, &settings.dir, &e))?;
    // Names count seconds: a second backup within the same second waits
    // for the next one rather than replace the first.
    let (mut stamp, mut created) = store::now();
    for _ in 0..20 {
        if !settings
            .dir
            .join(store::file_name(&t.name, &stamp))
            .exists()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        (stamp, created) = store::now();
    }
    let name = store::file_name(&t.name, &stamp);
    let final_path = settings.dir.join(&name);
    let werr = |e: &io::Error| write_error(&t.name, &final_path, e);
    let (pending, file) = store::Pending::create(&settings.dir, &name).map_err(|e| werr(&e))?;
    let mut manifest = Manifest {
        format: archive::FORMAT,
        container: t.name.clone(),
        image: c.image.clone(),
        image_id: c.image_id.clone(),
        release: c
            .image
            .rsplit_once(':')
            .map(|(_, t)| t.to_string())
            .unwrap_or_default(),
        created,
        method: String::new(),
        sources: Vec::new(),
        dump: None,
        members: Vec::new(),
        bytes: 0,
    };
    let mut writer =
        archive::Writer::new(io::BufWriter::with_capacity(1 << 20, file)).map_err(|e| werr(&e))?;
    let (files, method) = if let Some(cmd) = &t.backup_command {
        if !c.running || c.paused {
            return Err(BackupError::Command {
                name: t.name.clone(),
                variable: cmd.variable.clone(),
                command: cmd.text.clone(),
                what: "cannot run: the container is not running".into(),
                stderr: String::new(),
            });
        }
        // The output goes to a file beside the archive first: the archive
        // needs its size before its content.
        let (spool, spool_file) =
            store::Pending::create(&settings.dir, &format!("{name}.dump")).map_err(|e| werr(&e))?;
        let mut out = tokio::fs::File::from_std(spool_file);
        let exit = engine
            .exec_to(&c.id, &cmd.words, &mut out)
            .await
            .map_err(|m| {
                if m.starts_with("writing its output failed") {
                    BackupError::Write {
                        name: t.name.clone(),
                        archive: final_path.clone(),
                        error: m.clone(),
                        hint: if m.contains("os error 28") {
                            format!(
                                " (the disk holding {} is full: free some space or set conteneur_backup_dir elsewhere)",
                                settings.dir.display()
                            )
                        } else {
                            String::new()
                        },
                    }
                } else {
                    BackupError::Command {
                        name: t.name.clone(),
                        variable: cmd.variable.clone(),
                        command: cmd.text.clone(),
                        what: format!("could not run: {m}"),
                        stderr: String::new(),
                    }
                }
            })?;
        drop(out);
        if exit.code != 0 {
            return Err(BackupError::Command {
                name: t.name.clone(),
                variable: cmd.variable.clone(),
                command: cmd.text.clone(),
                what: format!("exited with status {}", exit.code),
                // On lines of their own: the audit trail keeps only an
                // error's first line, never what a command printed.
                stderr: if exit.stderr.is_empty() {
                    String::new()
                } else {
                    format!("\n--- its error output ---\n{}", exit.stderr)
                },
            });
        }
        let member = format!("dump/{}.dump", t.name);
        let bytes = writer.add_file(&member, &spool.tmp).map_err(|e| werr(&e))?;
        drop(spool);
        manifest.dump = Some(archive::Dump {
            member,
            command: cmd.text.clone(),
            bytes,
        });
        for k in &t.kept {
            manifest.sources.push(archive::Source {
                kind: k.kind_word().into(),
                name: k.name.clone(),
                container_path: k.container_path.clone(),
                prefix: String::new(),
                files: 0,
                bytes: 0,
            });
        }
        (1, "dump".to_string())
    } else {
        let still = if c.running && !c.paused {
            match engine.pause(&c.id).await {
                Ok(()) => Still::Paused,
                Err(_) => {
                    engine
                        .backend
                        .stop(&c.id, t.stop_timeout)
                        .await
                        .map_err(|e| engine_error(&t.name, e.to_string()))?;
                    Still::Stopped
                }
            }
        } else {
            Still::AsIs
        };
        // The copy runs on a thread of its own, so that an interruption
        // (SIGTERM, SIGINT) still resumes the container before the end.
        let (job_t, job_dirs) = (t.clone(), dirs.clone());
        let (mut job_writer, mut job_manifest) = (writer, manifest);
        let job = tokio::task::spawn_blocking(move || {
            let r = copy_sources(&mut job_writer, &job_t, &job_dirs, &mut job_manifest);
            (job_writer, job_manifest, r)
        });
        let done = tokio::select! {
            j = job => Some(j),
            () = interruption() => None,
        };
        // Serving again before anything else is said.
        let resumed = match still {
            Still::Paused => engine.unpause(&c.id).await,
            Still::Stopped => match engine.backend.start(&c.id).await {
                Ok(()) => {
                    engine
                        .wait_ready(&c.id, c.healthcheck, settings.health_timeout)
                        .await
                }
                Err(e) => Err(e.to_string()),
            },
            Still::AsIs => Ok(()),
        };
        let method = match still {
            Still::Paused => "paused",
            Still::Stopped => "stopped (it could not be paused)",
            Still::AsIs => "not running",
        };
        let Some(done) = done else {
            return Err(BackupError::Interrupted {
                name: t.name.clone(),
                resumed: match &resumed {
                    Ok(()) => "the container was resumed".to_string(),
                    Err(m) => format!("resuming the container failed: {m}"),
                },
            });
        };
        let (w, m, copied) =
            done.map_err(|e| engine_error(&t.name, format!("the copy failed: {e}")))?;
        (writer, manifest) = (w, m);
        let files = copied.map_err(|e| werr(&e))?;
        resumed.map_err(|m| {
            engine_error(
                &t.name,
                format!("it was {method} for the copy and could not be resumed: {m}"),
            )
        })?;
        (files, method.to_string())
    };
    manifest.method = method
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let data: u64 = writer.members().iter().map(|m| m.size).sum();
    let out = writer.finish(manifest).map_err(|e| werr(&e))?;
    let file = out.into_inner().map_err(|e| werr(e.error()))?;
    let bytes = {
        let m = std::fs::metadata(&pending.tmp).map_err(|e| werr(&e))?;
        m.len()
    };
    let path = pending.commit(file).map_err(|e| werr(&e))?;
    // Only now, with the new one complete, may old ones go.
    let pruned = store::prune(&settings.dir, &t.name, settings.kept).unwrap_or_default();
    Ok(Outcome::Saved {
        archive: path,
        method,
        files,
        bytes: data,
        size: bytes,
        pruned,
    })
}

/// SIGTERM or SIGINT (never, when they cannot be watched).
async fn interruption() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

fn copy_sources<W: io::Write>(
    writer: &mut archive::Writer<W>,
    t: &Target,
    dirs: &[PathBuf],
    manifest: &mut Manifest,
) -> io::Result<u64> {
    let mut total = 0;
    for (i, (k, dir)) in t.kept.iter().zip(dirs).enumerate() {
        let prefix = match k.kind {
            MountKind::Volume => format!("volumes/{}", k.name),
            MountKind::Bind => format!("folders/{i}"),
        };
        let (files, bytes) = writer.add_tree(&prefix, dir)?;
        total += files;
        manifest.sources.push(archive::Source {
            kind: k.kind_word().into(),
            name: k.name.clone(),
            container_path: k.container_path.clone(),
            prefix,
            files,
            bytes,
        });
    }
    Ok(total)
}
