//! `conteneur proxy start|stop|status|apply`: the web front from the
//! command line. The subcommand is declared in [`crate::cli`]; its
//! arguments and work are here, beside the module they drive.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Mode, ProxyError};
use crate::config::Config;
use crate::exit::{
    EXIT_INVALID_CONFIG, EXIT_NGINX, EXIT_PROBLEMS, EXIT_SYSTEM, EXIT_USAGE, Failure,
};
use crate::paths::Paths;

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// system (Debian's nginx) or private (conteneur's own nginx under
    /// --root). Default: the value of conteneur_proxy_mode, else system.
    #[arg(long, value_parser = ["system", "private"])]
    pub mode: Option<String>,
    #[command(subcommand)]
    pub action: ProxyAction,
}

#[derive(Debug, Subcommand)]
pub enum ProxyAction {
    /// Start the private nginx (with no live site yet, the staged one is
    /// checked and published first).
    Start,
    /// Stop the private nginx (graceful, then fast after a few seconds).
    Stop,
    /// Whether nginx runs (its pid), where it listens, its site file.
    /// Exit code 0 when it runs, 1 when it does not.
    Status,
    /// Check the staged site within nginx's full configuration, put it in
    /// place and reload nginx; on any refusal the previous site stays.
    Apply {
        /// The site to publish. Default: ROOT/var/lib/conteneur/nginx/conteneur.conf.
        #[arg(long, value_name = "FILE")]
        staged: Option<PathBuf>,
    },
}

impl From<ProxyError> for Failure {
    fn from(e: ProxyError) -> Self {
        let code = match &e {
            ProxyError::Invalid { .. }
            | ProxyError::NotIncluded { .. }
            | ProxyError::StreamNotIncluded { .. }
            | ProxyError::Reload { .. }
            | ProxyError::Restore { .. }
            | ProxyError::Start { .. }
            | ProxyError::Stop { .. }
            | ProxyError::Orphans { .. } => EXIT_NGINX,
            ProxyError::NotPrivate { .. } | ProxyError::Mode(_) => EXIT_USAGE,
            ProxyError::ModeVariable(_) => EXIT_INVALID_CONFIG,
            ProxyError::NginxMissing { .. }
            | ProxyError::Staged { .. }
            | ProxyError::Io { .. }
            | ProxyError::Spawn { .. }
            | ProxyError::Signal { .. }
            | ProxyError::NoSite { .. }
            | ProxyError::NoMainConf { .. }
            | ProxyError::UnsafePath { .. }
            | ProxyError::NotTraversable { .. } => EXIT_SYSTEM,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

/// Runs `conteneur proxy ...` and returns its exit code.
pub fn run(paths: &Paths, args: ProxyArgs) -> Result<u8, Failure> {
    let publishes = match &args.action {
        ProxyAction::Apply { .. } => true,
        ProxyAction::Start => super::start_publishes(paths),
        ProxyAction::Status | ProxyAction::Stop => false,
    };
    // Read once, when the mode or the checks need it.
    let cfg = if args.mode.is_none() || publishes {
        Some(Config::load(paths)?)
    } else {
        None
    };
    // The mode: `--mode`, else `conteneur_proxy_mode` from the configuration.
    let mode = match (args.mode.as_deref(), &cfg) {
        (Some(m), _) => m.parse()?,
        (None, Some(cfg)) => Mode::from_config(cfg)?,
        (None, None) => Mode::from_config(&Config::load(paths)?)?,
    };
    // A site is published by apply, and by start when none is live yet:
    // only from a configuration that passes the checks instance makes. (A
    // start of the live site, checked when it was applied, is not held
    // back by a value gone bad since.)
    let start_elsewhere = matches!(args.action, ProxyAction::Start) && mode != Mode::Private;
    if let (true, false, Some(cfg)) = (publishes, start_elsewhere, &cfg) {
        cfg.check_values().map_err(|e| Failure {
            code: EXIT_INVALID_CONFIG,
            message: format!("{e}\nnothing was published"),
        })?;
    }
    match args.action {
        ProxyAction::Status => {
            let st = super::status(paths, mode)?;
            print!("{st}");
            Ok(if st.running() { 0 } else { EXIT_PROBLEMS })
        }
        ProxyAction::Start => {
            if mode != Mode::Private {
                return Err(ProxyError::NotPrivate { action: "start" }.into());
            }
            let st = super::start(paths)?;
            print!("{st}");
            Ok(0)
        }
        ProxyAction::Stop => {
            if mode != Mode::Private {
                return Err(ProxyError::NotPrivate { action: "stop" }.into());
            }
            match super::stop(paths)? {
                Some(pid) => println!("private nginx stopped (pid {pid})"),
                None => println!("private nginx was not running"),
            }
            Ok(0)
        }
        ProxyAction::Apply { staged } => {
            let staged = staged.unwrap_or_else(|| super::staged_site(paths));
            let a = super::apply(paths, mode, &staged)?;
            let site = super::Layout::new(paths, mode).site;
            if a.unchanged() {
                println!("{}: unchanged; nginx not reloaded", site.display());
            } else {
                match (a.reloaded, a.pid) {
                    (true, Some(pid)) => {
                        println!("{}: published; nginx reloaded (pid {pid})", site.display())
                    }
                    _ => println!(
                        "{}: published; nginx is not running (it serves the site when it starts)",
                        site.display()
                    ),
                }
            }
            Ok(0)
        }
    }
}
