//! The gate before any live file: the value errors of a configuration.
//!
//! `instance` and `reconfigure` refuse to change anything while a value is
//! invalid (a failed check, a missing mandatory value…); so do `render`
//! and `proxy apply`, through this one check, so that a name such as
//! `../x` stored by hand in config.eol is never published as a route.

use super::{Config, Problem, ProblemKind, Severity};

/// The value errors that stop everything that writes a live file.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the configuration has errors:\n{}",
    .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
)]
pub struct InvalidValues(pub Vec<Problem>);

impl Config {
    /// `Err` with every value error (warnings and dictionary notes pass).
    pub fn check_values(&self) -> Result<(), InvalidValues> {
        let errors: Vec<Problem> = self
            .problems()
            .into_iter()
            .filter(|p| p.severity == Severity::Error && p.kind == ProblemKind::Value)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(InvalidValues(errors))
        }
    }
}
