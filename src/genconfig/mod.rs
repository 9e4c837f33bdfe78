//! `conteneur genconfig` (also `gen_config` through argv[0]): a terminal
//! editor for config.eol, as EOLE's gen_config.
//!
//! - [`model`]: the whole state and every action, without a terminal;
//! - [`input`]: keys to actions, and the key hints;
//! - [`view`]: drawing with ratatui;
//! - [`term`]: raw mode, the alternate screen, and restoring them on every
//!   exit path, panics included.
//!
//! The editor has no rules of its own: values are checked, conditions
//! evaluated and config.eol written by [`crate::config::Config`], through
//! the same `set`/`reset` and the same locked, atomic save as `conteneur
//! set` (owner `gen_config`).

pub mod input;
pub mod model;
pub mod term;
pub mod view;

use std::io::{IsTerminal, Write};

use clap::Args;

use crate::config::Config;
use crate::dico::Mode;
use crate::exit::{EXIT_SYSTEM, EXIT_USAGE, Failure};
use crate::paths::Paths;

pub use model::{Model, OWNER};

#[derive(Debug, Args)]
pub struct GenconfigArgs {
    /// Which variables to show first: basic, normal or expert (m switches).
    #[arg(long, default_value = "normal", value_parser = parse_mode)]
    pub mode: Mode,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    Mode::from_name(s).ok_or_else(|| format!("'{s}' is not a mode: basic, normal or expert"))
}

/// Runs the editor on the configuration `paths` designates.
pub fn cmd(paths: &Paths, a: GenconfigArgs) -> Result<u8, Failure> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(Failure {
            code: EXIT_USAGE,
            message:
                "genconfig is interactive: run it in a terminal (use `conteneur set` in scripts)"
                    .into(),
        });
    }
    let cfg = Config::load(paths)?;
    let mut model = Model::new(paths.clone(), cfg, a.mode);
    let ended = term::run(&mut model).map_err(|e| Failure {
        code: EXIT_SYSTEM,
        message: format!("genconfig: terminal error: {e}"),
    })?;
    // Said on the normal screen, once the editor is gone.
    if let term::Ended::Signal(n, name) = ended {
        let what = if model.is_dirty() {
            format!(
                "{} unsaved change(s) discarded; {} keeps what the last save wrote",
                model.pending().len(),
                paths.config.display()
            )
        } else {
            "nothing was left unsaved".to_string()
        };
        // Not eprintln!, which panics when stderr is gone (a hung-up
        // terminal).
        let _ = writeln!(std::io::stderr(), "genconfig: stopped by {name}: {what}");
        // The shell's convention for "ended by signal N".
        return Ok(u8::try_from(128 + n).unwrap_or(1));
    }
    if model.is_dirty() {
        eprintln!(
            "genconfig: quit without saving {} change(s)",
            model.pending().len()
        );
    } else if model.saves() > 0 {
        eprintln!(
            "genconfig: saved {} (owner {OWNER})",
            paths.config.display()
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests;
