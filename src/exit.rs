//! Exit codes and the error every command returns at the edge ([`Failure`]).
//!
//! They live here, below every command's module (`cli`, `run::cli`,
//! `proxy::cli`, `template::cli`, `export`, `genconfig`), so that those
//! modules import them from beneath instead of from the `cli` module that
//! dispatches to them. The list is also printed by `conteneur --help`
//! ([`EXIT_CODES_HELP`]).

use crate::config::{ConfigError, EolError, SetError};

/// `lint` found problems, or `get` could not give the value (unknown,
/// disabled, invalid, not computable) and no DEFAULT was given; `proxy
/// status`: nginx is not running.
pub const EXIT_PROBLEMS: u8 = 1;
/// Wrong usage (unknown option, missing argument).
pub const EXIT_USAGE: u8 = 2;
/// `set` refused the value; config.eol is unchanged.
pub const EXIT_REFUSED: u8 = 3;
/// The dictionaries or a config.eol file are invalid.
pub const EXIT_INVALID_CONFIG: u8 = 4;
/// A system error (file access, lock).
pub const EXIT_SYSTEM: u8 = 5;
/// nginx refused the new site (check or reload), or the private nginx failed
/// to start or stop; nginx's own message is printed and the previous site
/// stays in place.
pub const EXIT_NGINX: u8 = 6;
/// `render`: a template could not be rendered (or a rendered file could not
/// be written); every error is printed.
pub const EXIT_TEMPLATE: u8 = 7;
/// The run failed (engine, plan, hook, container, nginx); the message says
/// what was left as it was. `status`: something is not as wanted.
pub const EXIT_RUN_FAILED: u8 = 8;
/// Another run holds the lock.
pub const EXIT_LOCKED: u8 = 9;

/// The list above, as `conteneur --help` prints it.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  lint found problems, or get could not give the value (and no DEFAULT),
     or proxy status: nginx is not running
  2  wrong usage
  3  set refused the value (config.eol unchanged)
  4  the dictionaries or config.eol are invalid
  5  system error (file access, lock)
  6  nginx refused the new site, or the private nginx did not start or stop
     (nginx's message is printed; the previous site stays)
  7  render: a template could not be rendered (nothing written), or a
     rendered file could not be written
  8  instance/reconfigure failed (engine, plan, hook, container, nginx): the
     message says what was left as it was; status: something is not as wanted
  9  another instance/reconfigure holds the lock";

/// An error at the edge: what to print and the exit code.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        let code = match &e {
            ConfigError::Eol(
                EolError::Io { .. }
                | EolError::Busy { .. }
                | EolError::WrongLock { .. }
                | EolError::InvalidPath { .. },
            ) => EXIT_SYSTEM,
            _ => EXIT_INVALID_CONFIG,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

impl From<EolError> for Failure {
    fn from(e: EolError) -> Self {
        Failure::from(ConfigError::Eol(e))
    }
}

impl From<SetError> for Failure {
    fn from(e: SetError) -> Self {
        Failure {
            code: EXIT_REFUSED,
            message: format!("{e}; config.eol was not changed"),
        }
    }
}
