//! The editor's state, apart from any terminal.
//!
//! Everything genconfig knows lives here: the family shown, the mode, the
//! selection, the open editor, the pending changes, the errors, the search,
//! the quit confirmation. Drawing ([`super::view`]) only reads it and the
//! keyboard ([`super::input`]) only calls its methods, so the whole editor
//! is exercised by unit tests without a terminal.
//!
//! Values are never checked here: every edit goes through [`Config::set`] or
//! [`Config::reset`] on a working copy of the configuration, so validation,
//! conditions and dynamic families are the engine's, exactly as for
//! `conteneur set`. Live validation is the same call on a throw-away copy.

mod derived;
mod edit;
mod listing;
mod navigation;
mod save;
mod table;

use crate::config::{Config, Problem, SetError};
use crate::dico::Mode;
use crate::paths::Paths;

pub use edit::{Edit, EditKind, Target};
pub use navigation::Search;
pub use save::SaveError;
pub use table::Table;

/// The owner genconfig records in config.eol, as EOLE's gen_config does.
pub const OWNER: &str = "gen_config";

/// One change the admin made, in the order made. The log is replayed on a
/// fresh copy of config.eol under its lock when saving, so a value another
/// `CreoleSet` stored meanwhile is kept rather than overwritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Set { name: String, values: Vec<String> },
    Reset { name: String },
}

impl Change {
    fn apply(&self, cfg: &mut Config) -> Result<Vec<Problem>, SetError> {
        match self {
            Change::Set { name, values } => cfg.set(name, values, OWNER),
            Change::Reset { name } => cfg.reset(name).map(|()| Vec::new()),
        }
    }
}

/// A line of the variable list of a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// A `<separator>` heading.
    Heading(String),
    /// A variable (a master stands for its whole group).
    Var(String),
}

/// What fills the screen.
#[derive(Debug, Clone)]
pub enum Screen {
    Main,
    Edit(Edit),
    Table(Table),
    Search(Search),
    /// The error list; `refused` when a save was just refused.
    Errors {
        selected: usize,
        refused: bool,
    },
    Diff {
        scroll: usize,
    },
    ConfirmQuit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    Warning,
    Error,
}

/// The message line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub kind: StatusKind,
    pub text: String,
}

/// One problem of the working configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorItem {
    pub variable: Option<String>,
    pub message: String,
    /// The admin can fix it here (the variable is shown and editable), so
    /// it blocks saving. Problems of hidden, computed or frozen variables,
    /// and of the dictionaries, are listed but do not: `lint` reports them
    /// and no edit here could clear them.
    pub blocking: bool,
}

/// One pending change, as the diff shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub name: String,
    pub before: String,
    pub after: String,
}

/// The editor's whole state.
pub struct Model {
    paths: Paths,
    /// The configuration as last loaded or saved: what the diff compares to.
    original: Config,
    /// The working copy every edit goes to.
    work: Config,
    log: Vec<Change>,
    pending: Vec<DiffLine>,
    errors: Vec<ErrorItem>,
    mode: Mode,
    /// Current family by name (survives families appearing), with its
    /// position as a fallback when it disappears.
    family: Option<String>,
    family_idx: usize,
    selected: Option<String>,
    selected_idx: usize,
    pub screen: Screen,
    status: Option<Status>,
    quit: bool,
    saved: usize,
}

impl Model {
    /// An editor over `config`, loaded from `paths`, showing `mode`.
    pub fn new(paths: Paths, config: Config, mode: Mode) -> Model {
        let mut m = Model {
            paths,
            original: config.clone(),
            work: config,
            log: Vec::new(),
            pending: Vec::new(),
            errors: Vec::new(),
            mode,
            family: None,
            family_idx: 0,
            selected: None,
            selected_idx: 0,
            screen: Screen::Main,
            status: None,
            quit: false,
            saved: 0,
        };
        m.refresh();
        let blocking = m.blocking_errors();
        if blocking > 0 {
            m.set_status(
                StatusKind::Warning,
                format!("{blocking} error(s) to fix before saving: press e to list them"),
            );
        }
        m
    }

    // ----- reading ---------------------------------------------------------

    pub fn config(&self) -> &Config {
        &self.work
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Unsaved changes.
    pub fn is_dirty(&self) -> bool {
        !self.pending.is_empty()
    }

    /// What saving would change, variable by variable.
    pub fn pending(&self) -> &[DiffLine] {
        &self.pending
    }

    /// The changes made since loading or saving, in order.
    pub fn log(&self) -> &[Change] {
        &self.log
    }

    pub fn errors(&self) -> &[ErrorItem] {
        &self.errors
    }

    pub fn blocking_errors(&self) -> usize {
        self.errors.iter().filter(|e| e.blocking).count()
    }

    /// How many saves happened.
    pub fn saves(&self) -> usize {
        self.saved
    }

    pub fn current_family(&self) -> Option<&str> {
        self.family.as_deref()
    }

    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }
}
