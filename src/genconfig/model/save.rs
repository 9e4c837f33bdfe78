//! Saving and quitting: the log replayed on a fresh, locked read of
//! config.eol, and the quit confirmation.
//!
//! Its own file because it is the only place that writes to disk.

use std::path::PathBuf;

use crate::config::{Config, ConfigError, EolError, EolLock, Problem, ProblemKind, Severity};

use super::{Model, OWNER, Screen, StatusKind};

/// Why a save did not happen. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("save refused: {count} error(s) remain; fix them first")]
    Invalid { count: usize },
    #[error(transparent)]
    Eol(#[from] EolError),
    #[error("config.eol could not be read again before saving: {0}")]
    Load(#[from] ConfigError),
    #[error(
        "config.eol changed since genconfig opened it and a change no longer applies: {0}; nothing was saved"
    )]
    Conflict(String),
}

impl Model {
    // ----- saving and quitting ---------------------------------------------

    /// Writes config.eol as `conteneur set` does: under its lock, on a
    /// fresh read of the file, atomically; owner `gen_config`. Refused
    /// while an error the admin can fix remains.
    pub fn save(&mut self) -> Result<Vec<PathBuf>, SaveError> {
        let count = self.blocking_errors();
        if count > 0 {
            return Err(SaveError::Invalid { count });
        }
        let lock = EolLock::acquire(&self.paths.config, true)?;
        let mut fresh = Config::load(&self.paths)?;
        for c in &self.log {
            c.apply(&mut fresh)
                .map_err(|e| SaveError::Conflict(e.to_string()))?;
        }
        let problems: Vec<Problem> = fresh
            .problems()
            .into_iter()
            .filter(|p| p.severity == Severity::Error && p.kind == ProblemKind::Value)
            .filter(|p| {
                p.variable
                    .as_deref()
                    .is_some_and(|v| !self.errors.iter().any(|e| e.variable.as_deref() == Some(v)))
            })
            .collect();
        if let Some(p) = problems.first() {
            return Err(SaveError::Conflict(p.to_string()));
        }
        let written = fresh.save(&self.paths, Some(&lock))?;
        drop(lock);
        self.original = fresh.clone();
        self.work = fresh;
        self.log.clear();
        self.saved += 1;
        self.refresh();
        Ok(written)
    }

    /// `s`: saves, or lists the errors that prevent it.
    pub fn request_save(&mut self) {
        if self.log.is_empty() && self.pending.is_empty() {
            self.set_status(StatusKind::Info, "nothing to save");
            if matches!(self.screen, Screen::Diff { .. }) {
                self.screen = Screen::Main;
            }
            return;
        }
        match self.save() {
            Ok(_) => {
                self.screen = Screen::Main;
                self.set_status(
                    StatusKind::Info,
                    format!("saved {} (owner {OWNER})", self.paths.config.display()),
                );
            }
            Err(e @ SaveError::Invalid { .. }) => {
                self.screen = Screen::Errors {
                    selected: self.errors.iter().position(|e| e.blocking).unwrap_or(0),
                    refused: true,
                };
                self.set_status(StatusKind::Error, e.to_string());
            }
            Err(e) => self.set_status(StatusKind::Error, e.to_string()),
        }
    }

    /// `q`: quits, or asks first when changes are not saved.
    pub fn request_quit(&mut self) {
        if self.is_dirty() && !matches!(self.screen, Screen::ConfirmQuit) {
            self.screen = Screen::ConfirmQuit;
        } else {
            self.quit = true;
        }
    }

    /// Quits without saving (answer to the confirmation).
    pub fn quit_now(&mut self) {
        self.quit = true;
    }

    /// Saves, then quits if the save went through.
    pub fn save_and_quit(&mut self) {
        self.request_save();
        if !self.is_dirty() {
            self.quit = true;
        }
    }
}
