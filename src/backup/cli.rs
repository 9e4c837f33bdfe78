//! `conteneur backup [NAME…]`, `backup --list` and `restore NAME [ARCHIVE]`.

use std::path::PathBuf;

use clap::Args;

use super::{BackupError, Outcome, Settings, engine::Engine, store};
use crate::config::Config;
use crate::exit::{EXIT_INVALID_CONFIG, EXIT_LOCKED, EXIT_RUN_FAILED, EXIT_SYSTEM, Failure};
use crate::paths::Paths;
use crate::run::{RunError, RunLock};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The containers to back up (default: every configured one).
    pub names: Vec<String>,
    /// List the archives with their size, date and check (each is read
    /// whole and compared with its manifest).
    #[arg(long, conflicts_with = "names")]
    pub list: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The container.
    pub name: String,
    /// The archive (default: the container's newest in conteneur_backup_dir).
    pub archive: Option<PathBuf>,
    /// Check the archive and say what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Restore even if the container's image changed since the archive.
    #[arg(long)]
    pub allow_image_change: bool,
}

fn failure(e: BackupError) -> Failure {
    let code = match &e {
        BackupError::Config(_) | BackupError::Unknown { .. } => EXIT_INVALID_CONFIG,
        _ => EXIT_RUN_FAILED,
    };
    Failure {
        code,
        message: e.to_string(),
    }
}

fn lock(paths: &Paths, what: &str) -> Result<RunLock, Failure> {
    RunLock::acquire(paths, what).map_err(|e| Failure {
        code: if matches!(e, RunError::Locked { .. }) {
            EXIT_LOCKED
        } else {
            EXIT_SYSTEM
        },
        message: e.to_string(),
    })
}

async fn connect() -> Result<Engine, Failure> {
    Engine::connect().await.map_err(|message| Failure {
        code: EXIT_RUN_FAILED,
        message,
    })
}

/// Under swarm the docker containers are services, maybe on other nodes.
fn refuse_swarm(cfg: &Config) -> Result<(), Failure> {
    if crate::run::swarm::is_swarm(cfg) {
        return Err(Failure {
            code: EXIT_RUN_FAILED,
            message: "conteneur_orchestrator is swarm: backups and restores of swarm services are not supported yet (their tasks may run on other nodes); nothing was changed".into(),
        });
    }
    Ok(())
}

pub fn cmd_backup(paths: &Paths, a: BackupArgs) -> Result<u8, Failure> {
    let cfg = Config::load(paths).map_err(Failure::from)?;
    let settings = Settings::of(&cfg, paths);
    if a.list {
        return list(&settings);
    }
    refuse_swarm(&cfg)?;
    let targets =
        super::select(super::targets(&cfg, paths).map_err(failure)?, &a.names).map_err(failure)?;
    let _lock = lock(paths, "backup")?;
    let server = crate::paths::server_id(paths);
    let rt = crate::run::cli::runtime()?;
    let r = rt.block_on(async {
        let engine = connect().await?;
        let mut failed = 0;
        for t in &targets {
            match super::backup_one(&engine, &settings, t, &server).await {
                Ok(Outcome::Nothing) => {
                    println!("{}: no volume or folder to save", t.name);
                }
                Ok(Outcome::Saved {
                    archive,
                    method,
                    files,
                    bytes,
                    size,
                    pruned,
                }) => {
                    let how = if method == "dump" {
                        format!(
                            "the output of its backup command ({}), taken while it served",
                            t.backup_command
                                .as_ref()
                                .map(|c| c.text.as_str())
                                .unwrap_or_default()
                        )
                    } else {
                        format!("{files} file(s), copied while it was {method}")
                    };
                    println!(
                        "{}: saved {how}: {} ({} of data, {} compressed)",
                        t.name,
                        archive.display(),
                        store::human(bytes),
                        store::human(size)
                    );
                    for p in pruned {
                        println!(
                            "{}: removed the old archive {} (conteneur_backup_kept is {})",
                            t.name,
                            p.display(),
                            settings.kept
                        );
                    }
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("conteneur: {e}");
                    if matches!(e, BackupError::Interrupted { .. }) {
                        break;
                    }
                }
            }
        }
        Ok(if failed > 0 { EXIT_RUN_FAILED } else { 0 })
    });
    // An interrupted copy's thread is not waited for.
    rt.shutdown_background();
    r
}

fn list(settings: &Settings) -> Result<u8, Failure> {
    let all = store::list(&settings.dir).map_err(|e| Failure {
        code: EXIT_SYSTEM,
        message: format!("{}: {e}", settings.dir.display()),
    })?;
    if all.is_empty() {
        println!("no archive in {}", settings.dir.display());
        return Ok(0);
    }
    let mut bad = 0;
    println!(
        "{:<20} {:<20} {:>10}  {:<8} ARCHIVE",
        "CONTAINER", "DATE", "SIZE", "CHECK"
    );
    for s in &all {
        let check = match std::fs::File::open(&s.path)
            .map_err(super::archive::ArchiveError::from)
            .and_then(super::archive::verify)
        {
            Ok(m) if m.container == s.container => "ok".to_string(),
            Ok(m) => {
                bad += 1;
                format!("BAD: an archive of '{}'", m.container)
            }
            Err(e) => {
                bad += 1;
                format!("BAD: {e}")
            }
        };
        let date = store::stamps_text(&s.stamp);
        println!(
            "{:<20} {:<20} {:>10}  {:<8} {}",
            s.container,
            date,
            store::human(s.size),
            check,
            s.path.display()
        );
    }
    Ok(if bad > 0 { EXIT_RUN_FAILED } else { 0 })
}

pub fn cmd_restore(paths: &Paths, a: RestoreArgs) -> Result<u8, Failure> {
    let cfg = Config::load(paths).map_err(Failure::from)?;
    refuse_swarm(&cfg)?;
    let settings = Settings::of(&cfg, paths);
    let targets = super::select(
        super::targets(&cfg, paths).map_err(failure)?,
        std::slice::from_ref(&a.name),
    )
    .map_err(failure)?;
    let Some(t) = targets.first() else {
        return Ok(0);
    };
    let _lock = if a.dry_run {
        None
    } else {
        Some(lock(paths, "restore")?)
    };
    let (path, manifest) =
        super::checked(&settings, &a.name, a.archive.as_deref()).map_err(failure)?;
    let (stamp, _) = store::now();
    if a.dry_run {
        println!(
            "restore {} from {} (dry run: nothing is changed)",
            t.name,
            path.display()
        );
        for line in super::restore_steps(t, &path, &manifest, &stamp) {
            println!("{line}");
        }
        return Ok(0);
    }
    let server = crate::paths::server_id(paths);
    let rt = crate::run::cli::runtime()?;
    rt.block_on(async {
        let engine = connect().await?;
        let mut log = |l: String| println!("{l}");
        let lines = super::restore_one(
            &engine,
            &settings,
            t,
            &server,
            &super::Request {
                path: &path,
                manifest: &manifest,
                allow_image_change: a.allow_image_change,
                stamp: &stamp,
            },
            &mut log,
        )
        .await
        .map_err(failure)?;
        for l in lines {
            println!("{l}");
        }
        println!("{}: restored from {}", t.name, path.display());
        Ok(0)
    })
}
