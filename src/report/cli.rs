//! The command-line side of `watch`, `metrics` and `audit`.

use clap::Args;

use super::watch::Watcher;
use crate::exit::{EXIT_RUN_FAILED, EXIT_USAGE, Failure};
use crate::paths::Paths;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// One round, then exit (for cron and tests): exit 0 when every engine
    /// was read and every target written, else 8.
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only what happened since then: a time (2026-12-07T10:00:00Z), a date
    /// (2026-12-07) or a duration before now (10m, 2h, 3days).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// The lines as written (JSON, one per line).
    #[arg(long)]
    pub json: bool,
}

/// `conteneur watch [--once]`.
pub fn cmd_watch(paths: &Paths, a: WatchArgs) -> Result<u8, Failure> {
    let rt = crate::run::cli::runtime()?;
    let mut watcher = Watcher::new(paths);
    let mut err = std::io::stderr();
    if !a.once {
        rt.block_on(watcher.run_forever(&mut err));
        return Ok(0);
    }
    // The engines' records of the previous run, asked again only where
    // the engine's events say they changed (records.rs).
    watcher.load_records();
    let round = rt.block_on(watcher.round(&mut err));
    // Only a cache: a state folder that cannot be written costs the next
    // run its speed, never its answer.
    let _ = watcher.save_records();
    let redis = match &round.redis {
        None => "no redis".to_string(),
        Some(Ok(n)) => format!("{n} key(s) written to redis"),
        Some(Err(_)) => "redis failed".to_string(),
    };
    let textfile = match (&round.textfile, &round.settings.textfile) {
        (Some(Ok(())), Some(dir)) => format!("{} written", dir.join(super::TEXTFILE).display()),
        (Some(Err(_)), _) => "textfile failed".to_string(),
        _ => "no textfile".to_string(),
    };
    println!(
        "watch: {} container(s); {redis}; {textfile}",
        round.snapshot.containers.len()
    );
    Ok(if round.success { 0 } else { EXIT_RUN_FAILED })
}

/// `conteneur metrics`: the textfile's text, on stdout.
pub fn cmd_metrics(paths: &Paths) -> Result<u8, Failure> {
    let rt = crate::run::cli::runtime()?;
    let (snap, _) = rt.block_on(super::collect(paths));
    let time = snap.time.unwrap_or_else(std::time::SystemTime::now);
    let success = snap.problem.is_none();
    if let Some(p) = &snap.problem {
        eprintln!("conteneur: {p}");
    }
    let text = super::metrics::render(&snap, super::metrics::RunOutcome { time, success })
        .map_err(|e| Failure {
            code: EXIT_RUN_FAILED,
            message: e.to_string(),
        })?;
    print!("{text}");
    Ok(if success { 0 } else { EXIT_RUN_FAILED })
}

/// `conteneur audit [--since WHEN]`.
pub fn cmd_audit(paths: &Paths, a: AuditArgs) -> Result<u8, Failure> {
    let since = match &a.since {
        Some(s) => Some(
            crate::audit::parse_since(s, std::time::SystemTime::now()).map_err(|e| Failure {
                code: EXIT_USAGE,
                message: e.to_string(),
            })?,
        ),
        None => None,
    };
    let entries = crate::audit::read(paths, since).map_err(|e| Failure {
        code: crate::exit::EXIT_SYSTEM,
        message: e.to_string(),
    })?;
    let mut text = String::new();
    for e in &entries {
        if a.json {
            text.push_str(&serde_json::to_string(e).unwrap_or_default());
        } else {
            text.push_str(&crate::audit::line(e));
        }
        text.push('\n');
    }
    print!("{text}");
    Ok(0)
}
