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

use std::path::PathBuf;

use crate::config::{
    Config, ConfigError, EolError, EolLock, Origin, Problem, ProblemKind, SetError, Severity,
    ValueError,
};
use crate::dico::{CalcKind, Mode};
use crate::paths::Paths;

/// The owner genconfig records in config.eol, as EOLE's gen_config does.
pub const OWNER: &str = "gen_config";

/// Most results a search lists: a longer list helps nobody.
const SEARCH_LIMIT: usize = 100;

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

/// What an edit changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A variable that takes one value.
    Var(String),
    /// One cell of a table: index `row` of the list `var`. `new_row`: the
    /// row is being added at the end of the master.
    Cell {
        var: String,
        row: usize,
        new_row: bool,
    },
}

impl Target {
    pub fn var(&self) -> &str {
        match self {
            Target::Var(v) | Target::Cell { var: v, .. } => v,
        }
    }
}

/// How a value is typed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditKind {
    /// Free text; `cursor` counts characters.
    Text { buffer: String, cursor: usize },
    /// One of a closed list (`oui/non`, a `valid_enum`); `""` is "empty".
    Choice {
        options: Vec<String>,
        selected: usize,
    },
}

/// An open editor: the value being typed and the engine's verdict on it.
#[derive(Debug, Clone)]
pub struct Edit {
    pub target: Target,
    pub kind: EditKind,
    /// The value when the editor opened: committing it unchanged does
    /// nothing (a `fill` stays a fill).
    pub original: String,
    /// Why the engine would refuse the value as it is now.
    pub error: Option<String>,
    /// Warnings (checks of level warning) the value raises.
    pub warnings: Vec<String>,
}

impl Edit {
    /// The value as it would be given to `set`.
    pub fn value(&self) -> String {
        match &self.kind {
            EditKind::Text { buffer, .. } => buffer.clone(),
            EditKind::Choice { options, selected } => {
                options.get(*selected).cloned().unwrap_or_default()
            }
        }
    }

    fn byte_at(buffer: &str, cursor: usize) -> usize {
        buffer
            .char_indices()
            .nth(cursor)
            .map_or(buffer.len(), |(i, _)| i)
    }

    /// Types a character at the cursor (text), or jumps to the next option
    /// starting with it (choice).
    pub fn insert(&mut self, c: char) {
        match &mut self.kind {
            EditKind::Text { buffer, cursor } => {
                let at = Self::byte_at(buffer, *cursor);
                buffer.insert(at, c);
                *cursor += 1;
            }
            EditKind::Choice { options, selected } => {
                let n = options.len();
                if let Some(i) = (1..=n)
                    .map(|k| (*selected + k) % n)
                    .find(|&i| options[i].starts_with(c))
                {
                    *selected = i;
                }
            }
        }
    }

    pub fn backspace(&mut self) {
        if let EditKind::Text { buffer, cursor } = &mut self.kind
            && *cursor > 0
        {
            *cursor -= 1;
            let at = Self::byte_at(buffer, *cursor);
            buffer.remove(at);
        }
    }

    pub fn delete(&mut self) {
        if let EditKind::Text { buffer, cursor } = &mut self.kind
            && *cursor < buffer.chars().count()
        {
            let at = Self::byte_at(buffer, *cursor);
            buffer.remove(at);
        }
    }

    /// Empties a text field (Ctrl-U, as in a shell).
    pub fn clear(&mut self) {
        if let EditKind::Text { buffer, cursor } = &mut self.kind {
            buffer.clear();
            *cursor = 0;
        }
    }

    /// Moves the cursor (text) or the highlighted option (choice).
    pub fn step(&mut self, delta: isize) {
        match &mut self.kind {
            EditKind::Text { buffer, cursor } => {
                let len = buffer.chars().count();
                *cursor = cursor.saturating_add_signed(delta).min(len);
            }
            EditKind::Choice { options, selected } => {
                let last = options.len().saturating_sub(1);
                *selected = selected.saturating_add_signed(delta).min(last);
            }
        }
    }

    pub fn home(&mut self) {
        match &mut self.kind {
            EditKind::Text { cursor, .. } => *cursor = 0,
            EditKind::Choice { selected, .. } => *selected = 0,
        }
    }

    pub fn end(&mut self) {
        match &mut self.kind {
            EditKind::Text { buffer, cursor } => *cursor = buffer.chars().count(),
            EditKind::Choice { options, selected } => *selected = options.len().saturating_sub(1),
        }
    }
}

/// The table of a multi variable or of a master and its slaves.
#[derive(Debug, Clone)]
pub struct Table {
    pub master: String,
    /// The master, then the slaves that are neither hidden nor disabled.
    pub columns: Vec<String>,
    pub row: usize,
    pub col: usize,
    pub edit: Option<Edit>,
    /// A row is being added: each committed cell opens the next one.
    pub filling: bool,
}

/// The search box and its highlighted result.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub query: String,
    pub selected: usize,
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

    /// Neither disabled nor hidden. A variable whose properties cannot be
    /// computed is shown, so its error is seen.
    fn active(&self, name: &str) -> bool {
        match self.work.props(name) {
            Ok(p) => p.disabled.is_none() && !p.hidden,
            Err(_) => true,
        }
    }

    /// The mode from which `name` shows: its own, raised to expert in a
    /// family declared `mode="expert"`.
    ///
    /// A family's `normal` cannot be told from no mode at all (the reader
    /// gives both as normal), and Creole shows the basic variables of an
    /// ordinary family in basic mode; so only an expert family constrains
    /// its variables.
    fn mode_of(&self, name: &str) -> Mode {
        let Ok(var) = self.work.variable(name) else {
            return Mode::Expert;
        };
        match self.work.dictionaries().families.get(&var.family) {
            Some(f) if f.mode == Mode::Expert => Mode::Expert,
            _ => var.mode,
        }
    }

    /// Is `name` a line of the list in `mode`? A slave is not: it is a
    /// column of its master's table.
    fn shows_in(&self, name: &str, mode: Mode) -> bool {
        let Ok(var) = self.work.variable(name) else {
            return false;
        };
        if self.work.master_of(name).is_some() || self.mode_of(name) > mode {
            return false;
        }
        let fam_hidden = self
            .work
            .dictionaries()
            .families
            .get(&var.family)
            .is_none_or(|f| f.hidden);
        !fam_hidden && self.active(name)
    }

    /// Can the admin reach `name` in some mode (directly, or as a column)?
    fn reachable(&self, name: &str) -> bool {
        match self.work.master_of(name) {
            Some(m) => self.active(name) && self.shows_in(m, Mode::Expert),
            None => self.shows_in(name, Mode::Expert),
        }
    }

    /// The families shown in the current mode, in dictionary order: those
    /// with at least one variable to show.
    pub fn families(&self) -> Vec<String> {
        self.work
            .dictionaries()
            .families
            .values()
            .filter(|f| f.variables.iter().any(|v| self.shows_in(v, self.mode)))
            .map(|f| f.name.clone())
            .collect()
    }

    /// The lines of the current family: separators and variables.
    pub fn rows(&self) -> Vec<Row> {
        let Some(fam) = self
            .family
            .as_ref()
            .and_then(|f| self.work.dictionaries().families.get(f))
        else {
            return Vec::new();
        };
        let seps = &self.work.dictionaries().separators;
        let mut out = Vec::new();
        for v in &fam.variables {
            if !self.shows_in(v, self.mode) {
                continue;
            }
            if let Some(h) = seps.get(v) {
                out.push(Row::Heading(h.clone()));
            }
            out.push(Row::Var(v.clone()));
        }
        out
    }

    /// The selectable variables of the current family.
    pub fn var_names(&self) -> Vec<String> {
        self.rows()
            .into_iter()
            .filter_map(|r| match r {
                Row::Var(v) => Some(v),
                Row::Heading(_) => None,
            })
            .collect()
    }

    /// Shown as a table: a multi variable or a master.
    pub fn is_table(&self, name: &str) -> bool {
        self.work.variable(name).is_ok_and(|v| v.multi)
            || self.work.dictionaries().groups.contains_key(name)
    }

    /// The columns of `master`'s table: itself, then its active slaves.
    pub fn columns(&self, master: &str) -> Vec<String> {
        let mut cols = vec![master.to_string()];
        if let Some(g) = self.work.dictionaries().groups.get(master) {
            cols.extend(g.slaves.iter().filter(|s| self.active(s)).cloned());
        }
        cols
    }

    /// The entries of a list variable as text (`""` for an unset entry).
    pub fn list_of(&self, name: &str) -> Vec<String> {
        self.work
            .get(name)
            .map(|v| {
                v.items()
                    .into_iter()
                    .map(|x| x.unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The table of `master`: one row per index, one column per variable.
    pub fn table_rows(&self, master: &str) -> Vec<Vec<String>> {
        let cols: Vec<Vec<String>> = self
            .columns(master)
            .iter()
            .map(|c| self.list_of(c))
            .collect();
        let n = cols.first().map_or(0, Vec::len);
        (0..n)
            .map(|i| {
                cols.iter()
                    .map(|c| c.get(i).cloned().unwrap_or_default())
                    .collect()
            })
            .collect()
    }

    /// Why `name` cannot be changed here, if it cannot: an `auto` computes
    /// it, or a condition (or `auto_freeze`) froze it.
    pub fn read_only(&self, name: &str) -> Option<String> {
        if let Some(c) = self.work.dictionaries().calcs.get(name)
            && c.kind == CalcKind::Auto
        {
            return Some(format!("computed by <auto name='{}'> at {}", c.func, c.loc));
        }
        match self.work.props(name) {
            Ok(p) => p.frozen.map(|why| format!("frozen: {why}")),
            Err(e) => Some(e.to_string()),
        }
    }

    /// The closed list of values `name` takes, if it has one: the type's
    /// own (`oui/non`…) or an enforced `valid_enum`. An empty entry is
    /// offered for an enum that is not mandatory.
    pub fn choices(&self, name: &str) -> Option<Vec<String>> {
        let var = self.work.variable(name).ok()?;
        if let Some(c) = var.ty.choices() {
            return Some(c.iter().map(|s| s.to_string()).collect());
        }
        let (mut list, enforced) = self.work.enum_choices(name)?;
        if !enforced || list.is_empty() {
            return None;
        }
        let mandatory = self.work.props(name).map_or(var.mandatory, |p| p.mandatory);
        if !mandatory && !list.iter().any(String::is_empty) {
            list.push(String::new());
        }
        Some(list)
    }

    /// Problems of a line: the variable's and, for a master, its slaves'.
    pub fn row_problems(&self, name: &str) -> Vec<Problem> {
        let mut out = self.work.problems_of(name);
        if let Some(g) = self.work.dictionaries().groups.get(name) {
            for s in &g.slaves {
                if self.active(s) {
                    out.extend(self.work.problems_of(s));
                }
            }
        }
        out
    }

    /// Has `name` (or a slave of it) a pending change?
    pub fn is_changed(&self, name: &str) -> bool {
        let slaves = self.work.dictionaries().groups.get(name);
        self.pending
            .iter()
            .any(|d| d.name == name || slaves.is_some_and(|g| g.slaves.contains(&d.name)))
    }

    /// The variables matching a search: name or description contains the
    /// query (ignoring case), among those the admin can reach in any mode.
    /// The exact name comes first, then names starting with the query, then
    /// names containing it, then descriptions; each in dictionary order.
    pub fn search_results(&self, query: &str) -> Vec<String> {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return Vec::new();
        }
        let mut hits: Vec<(u8, &str)> = self
            .work
            .dictionaries()
            .variables
            .values()
            .filter_map(|v| {
                let name = v.name.to_lowercase();
                let rank = if name == q {
                    0
                } else if name.starts_with(&q) {
                    1
                } else if name.contains(&q) {
                    2
                } else if v.description.to_lowercase().contains(&q) {
                    3
                } else {
                    return None;
                };
                Some((rank, v.name.as_str()))
            })
            .filter(|(_, n)| self.reachable(n))
            .collect();
        hits.sort_by_key(|(rank, _)| *rank);
        hits.into_iter()
            .take(SEARCH_LIMIT)
            .map(|(_, n)| n.to_string())
            .collect()
    }

    // ----- derived state ---------------------------------------------------

    /// Recomputes what depends on the values: the diff, the errors and the
    /// selection (variables appear and disappear as conditions change).
    fn refresh(&mut self) {
        self.pending = self.diff();
        self.errors = self.compute_errors();
        self.fix_selection();
    }

    fn fix_selection(&mut self) {
        let fams = self.families();
        if fams.is_empty() {
            self.family = None;
            self.selected = None;
            return;
        }
        let fi = self
            .family
            .as_ref()
            .and_then(|f| fams.iter().position(|x| x == f))
            .unwrap_or_else(|| self.family_idx.min(fams.len() - 1));
        self.family_idx = fi;
        self.family = Some(fams[fi].clone());
        let vars = self.var_names();
        if vars.is_empty() {
            self.selected = None;
            return;
        }
        let vi = self
            .selected
            .as_ref()
            .and_then(|s| vars.iter().position(|x| x == s))
            .unwrap_or_else(|| self.selected_idx.min(vars.len() - 1));
        self.selected_idx = vi;
        self.selected = Some(vars[vi].clone());
    }

    /// A value as the diff shows it.
    fn shown(r: Result<crate::config::Resolved, ValueError>) -> String {
        match r {
            Ok(r) => {
                let v = if r.value.is_empty() {
                    "(empty)".to_string()
                } else {
                    r.value.to_string()
                };
                match r.origin {
                    Origin::Stored(_) => v,
                    Origin::Fill => format!("{v} (calculated default)"),
                    Origin::Auto => format!("{v} (computed)"),
                    Origin::Default => format!("{v} (default)"),
                    Origin::Unset => "(unset)".into(),
                }
            }
            Err(ValueError::Disabled { .. }) => "(disabled)".into(),
            Err(ValueError::Unknown { .. } | ValueError::NoSuchInstance { .. }) => {
                "(absent)".into()
            }
            Err(e) => format!("(error: {e})"),
        }
    }

    /// Stored values that differ between the file and the working copy: what
    /// saving writes. Consequences that are not stored (the defaults of a
    /// new container) are not listed.
    fn diff(&self) -> Vec<DiffLine> {
        let mut names: Vec<&String> = self.work.dictionaries().variables.keys().collect();
        for n in self.original.dictionaries().variables.keys() {
            if !self.work.dictionaries().variables.contains_key(n) {
                names.push(n);
            }
        }
        let stored = |r: &Result<crate::config::Resolved, ValueError>| matches!(r, Ok(r) if matches!(r.origin, Origin::Stored(_)));
        let mut out = Vec::new();
        for name in names {
            let b = self.original.resolved(name);
            let a = self.work.resolved(name);
            if !stored(&b) && !stored(&a) {
                continue;
            }
            let (before, after) = (Self::shown(b), Self::shown(a));
            if before != after {
                out.push(DiffLine {
                    name: name.clone(),
                    before,
                    after,
                });
            }
        }
        out
    }

    fn compute_errors(&self) -> Vec<ErrorItem> {
        self.work
            .problems()
            .into_iter()
            .filter(|p| p.severity == Severity::Error && p.kind == ProblemKind::Value)
            .map(|p| {
                let blocking = p
                    .variable
                    .as_deref()
                    .is_some_and(|v| self.reachable(v) && self.read_only(v).is_none());
                ErrorItem {
                    variable: p.variable,
                    message: p.message,
                    blocking,
                }
            })
            .collect()
    }

    fn set_status(&mut self, kind: StatusKind, text: impl Into<String>) {
        self.status = Some(Status {
            kind,
            text: text.into(),
        });
    }

    // ----- moving around ---------------------------------------------------

    /// Moves the selection by `delta` lines, stopping at the ends.
    pub fn move_selection(&mut self, delta: isize) {
        let vars = self.var_names();
        if vars.is_empty() {
            return;
        }
        let i = self
            .selected_idx
            .saturating_add_signed(delta)
            .min(vars.len() - 1);
        self.selected_idx = i;
        self.selected = Some(vars[i].clone());
    }

    pub fn select_first(&mut self) {
        self.move_selection(isize::MIN);
    }

    pub fn select_last(&mut self) {
        self.move_selection(isize::MAX);
    }

    /// Next (`+1`) or previous (`-1`) family, wrapping around.
    pub fn switch_family(&mut self, delta: isize) {
        let fams = self.families();
        if fams.is_empty() {
            return;
        }
        let n = fams.len() as isize;
        let i = (self.family_idx as isize + delta).rem_euclid(n) as usize;
        self.family_idx = i;
        self.family = Some(fams[i].clone());
        self.selected = None;
        self.selected_idx = 0;
        self.fix_selection();
    }

    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
        self.fix_selection();
        self.set_status(StatusKind::Info, format!("mode: {}", mode.name()));
    }

    /// basic → normal → expert → basic.
    pub fn cycle_mode(&mut self) {
        let next = match self.mode {
            Mode::Basic => Mode::Normal,
            Mode::Normal => Mode::Expert,
            Mode::Expert => Mode::Basic,
        };
        self.set_mode(next);
    }

    /// Shows `name` (or the master whose table holds it): its family, and a
    /// higher mode if the current one does not show it.
    pub fn jump_to(&mut self, name: &str) -> bool {
        let target = self.work.master_of(name).unwrap_or(name).to_string();
        if !self.reachable(name) {
            self.set_status(
                StatusKind::Warning,
                format!("{name} is not shown: hidden, disabled or computed out of sight"),
            );
            return false;
        }
        let Ok(var) = self.work.variable(&target) else {
            return false;
        };
        let need = self.mode_of(&target);
        let family = var.family.clone();
        self.screen = Screen::Main;
        if need > self.mode {
            self.mode = need;
            self.set_status(
                StatusKind::Info,
                format!("mode switched to {} to show {name}", need.name()),
            );
        }
        self.family = Some(family);
        self.selected = Some(target);
        self.fix_selection();
        true
    }

    // ----- editing ---------------------------------------------------------

    /// Opens the editor that fits the selected variable: a table for a
    /// list, a choice list for a closed set of values, a text field
    /// otherwise. Read-only variables say why instead.
    pub fn edit_selected(&mut self) {
        let Some(name) = self.selected.clone() else {
            return;
        };
        if self.is_table(&name) {
            let columns = self.columns(&name);
            self.screen = Screen::Table(Table {
                master: name,
                columns,
                row: 0,
                col: 0,
                edit: None,
                filling: false,
            });
            return;
        }
        if let Some(why) = self.read_only(&name) {
            self.set_status(StatusKind::Warning, format!("{name} is read-only: {why}"));
            return;
        }
        let current = self
            .work
            .get(&name)
            .ok()
            .and_then(|v| v.first().map(str::to_string))
            .unwrap_or_default();
        self.screen = Screen::Edit(self.new_edit(Target::Var(name), current));
    }

    fn new_edit(&self, target: Target, current: String) -> Edit {
        let kind = match self.choices(target.var()) {
            Some(options) => {
                let selected = options.iter().position(|o| *o == current).unwrap_or(0);
                EditKind::Choice { options, selected }
            }
            None => EditKind::Text {
                cursor: current.chars().count(),
                buffer: current.clone(),
            },
        };
        let mut e = Edit {
            target,
            kind,
            original: current,
            error: None,
            warnings: Vec::new(),
        };
        self.validate(&mut e);
        e
    }

    /// The `set` calls an edit amounts to.
    fn changes_for(&self, target: &Target, text: &str) -> Vec<Change> {
        match target {
            Target::Var(name) => vec![Change::Set {
                name: name.clone(),
                values: vec![text.to_string()],
            }],
            Target::Cell { var, row, new_row } => {
                let mut values = self.list_of(var);
                if *new_row || *row >= values.len() {
                    values.push(text.to_string());
                } else {
                    values[*row] = text.to_string();
                }
                vec![Change::Set {
                    name: var.clone(),
                    values,
                }]
            }
        }
    }

    /// The engine's verdict on `changes`, made on a copy: nothing changes.
    fn trial(&self, changes: &[Change]) -> Result<(Config, Vec<Problem>), SetError> {
        let mut next = self.work.clone();
        let mut warnings = Vec::new();
        for c in changes {
            warnings.extend(c.apply(&mut next)?);
        }
        Ok((next, warnings))
    }

    /// Live validation: what `set` would say about the value typed so far.
    fn validate(&self, e: &mut Edit) {
        let changes = self.changes_for(&e.target, &e.value());
        match self.trial(&changes) {
            Ok((_, warnings)) => {
                e.error = None;
                e.warnings = warnings.into_iter().map(|p| p.message).collect();
            }
            Err(err) => {
                e.error = Some(err.to_string());
                e.warnings.clear();
            }
        }
    }

    /// Applies changes to the working copy, all or nothing.
    fn apply(&mut self, changes: Vec<Change>) -> Result<Vec<Problem>, SetError> {
        let (next, warnings) = self.trial(&changes)?;
        self.work = next;
        self.log.extend(changes);
        self.refresh();
        Ok(warnings)
    }

    /// The open editor, wherever it is (alone or in a table).
    pub fn edit(&self) -> Option<&Edit> {
        match &self.screen {
            Screen::Edit(e) => Some(e),
            Screen::Table(t) => t.edit.as_ref(),
            _ => None,
        }
    }

    fn edit_mut(&mut self) -> Option<&mut Edit> {
        match &mut self.screen {
            Screen::Edit(e) => Some(e),
            Screen::Table(t) => t.edit.as_mut(),
            _ => None,
        }
    }

    /// Changes the open editor's value with `f`, then validates it again.
    pub fn with_edit(&mut self, f: impl FnOnce(&mut Edit)) {
        let Some(mut e) = self.edit_mut().map(|e| std::mem::replace(e, placeholder())) else {
            return;
        };
        f(&mut e);
        self.validate(&mut e);
        if let Some(slot) = self.edit_mut() {
            *slot = e;
        }
    }

    /// Enter in an editor: the value goes to the engine. Refused, the
    /// editor stays open with the reason; accepted, it closes.
    pub fn commit_edit(&mut self) {
        let Some(e) = self.edit().cloned() else {
            return;
        };
        let text = e.value();
        let new_row = matches!(e.target, Target::Cell { new_row: true, .. });
        if (!new_row && text == e.original) || (new_row && text.is_empty()) {
            self.close_edit(false);
            return;
        }
        let name = e.target.var().to_string();
        match self.apply(self.changes_for(&e.target, &text)) {
            Ok(warnings) => {
                if warnings.is_empty() {
                    let shown = if text.is_empty() { "(empty)" } else { &text };
                    self.set_status(StatusKind::Info, format!("{name} = {shown}"));
                } else {
                    let w: Vec<String> = warnings.into_iter().map(|p| p.message).collect();
                    self.set_status(
                        StatusKind::Warning,
                        format!("{name}: warning: {}", w.join("; ")),
                    );
                }
                self.close_edit(true);
            }
            Err(err) => {
                let msg = err.to_string();
                self.set_status(StatusKind::Error, format!("refused: {msg}"));
                if let Some(slot) = self.edit_mut() {
                    slot.error = Some(msg);
                }
            }
        }
    }

    /// Closes the editor; in a table being filled, opens the next cell.
    fn close_edit(&mut self, committed: bool) {
        let screen = std::mem::replace(&mut self.screen, Screen::Main);
        let Screen::Table(mut t) = screen else {
            return;
        };
        let edited = t.edit.take();
        t.columns = self.columns(&t.master);
        let rows = self.list_of(&t.master).len();
        if let Some(Edit {
            target: Target::Cell { new_row: true, .. },
            ..
        }) = &edited
        {
            t.filling = committed;
            t.row = if committed {
                rows.saturating_sub(1)
            } else {
                t.row.min(rows.saturating_sub(1))
            };
        }
        if committed && t.filling {
            let next =
                (t.col + 1..t.columns.len()).find(|&c| self.read_only(&t.columns[c]).is_none());
            match next {
                Some(c) => {
                    t.col = c;
                    let var = t.columns[c].clone();
                    let current = self.list_of(&var).get(t.row).cloned().unwrap_or_default();
                    t.edit = Some(self.new_edit(
                        Target::Cell {
                            var,
                            row: t.row,
                            new_row: false,
                        },
                        current,
                    ));
                }
                None => t.filling = false,
            }
        } else {
            t.filling = false;
        }
        self.screen = Screen::Table(t);
    }

    /// Esc: leaves the editor, the table, the search… without changing
    /// anything.
    pub fn cancel(&mut self) {
        let master = match &self.screen {
            Screen::Table(t) if t.edit.is_some() => t.master.clone(),
            _ => {
                self.screen = Screen::Main;
                return;
            }
        };
        let rows = self.list_of(&master).len();
        if let Some(t) = self.table_mut() {
            t.edit = None;
            t.filling = false;
            t.row = t.row.min(rows.saturating_sub(1));
        }
    }

    /// Puts the selected variable back to its default (for a group: the
    /// master and its slaves). A `fill` computes again.
    pub fn reset_selected(&mut self) {
        let Some(name) = self.selected.clone() else {
            return;
        };
        let mut names = vec![name.clone()];
        if let Some(g) = self.work.dictionaries().groups.get(&name) {
            names.extend(g.slaves.iter().cloned());
        }
        self.reset_names(&name, names);
    }

    fn reset_names(&mut self, shown: &str, names: Vec<String>) {
        if let Some(why) = self.read_only(shown) {
            self.set_status(StatusKind::Warning, format!("{shown} is read-only: {why}"));
            return;
        }
        let stored: Vec<String> = names
            .into_iter()
            .filter(
                |n| matches!(self.work.resolved(n), Ok(r) if matches!(r.origin, Origin::Stored(_))),
            )
            .collect();
        if stored.is_empty() {
            self.set_status(StatusKind::Info, format!("{shown} already has its default"));
            return;
        }
        let changes = stored
            .into_iter()
            .map(|name| Change::Reset { name })
            .collect();
        match self.apply(changes) {
            Ok(_) => {
                let v = self
                    .work
                    .get(shown)
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                self.set_status(
                    StatusKind::Info,
                    format!("{shown} back to its default: {v}"),
                );
            }
            Err(e) => self.set_status(StatusKind::Error, format!("refused: {e}")),
        }
    }

    // ----- tables ----------------------------------------------------------

    fn table(&self) -> Option<&Table> {
        match &self.screen {
            Screen::Table(t) => Some(t),
            _ => None,
        }
    }

    fn table_mut(&mut self) -> Option<&mut Table> {
        match &mut self.screen {
            Screen::Table(t) => Some(t),
            _ => None,
        }
    }

    /// Moves the highlighted cell.
    pub fn table_move(&mut self, drow: isize, dcol: isize) {
        let Some(t) = self.table() else { return };
        let rows = self.list_of(&t.master).len();
        if let Some(t) = self.table_mut() {
            t.row = t
                .row
                .saturating_add_signed(drow)
                .min(rows.saturating_sub(1));
            t.col = t
                .col
                .saturating_add_signed(dcol)
                .min(t.columns.len().saturating_sub(1));
        }
    }

    /// Enter on a cell: edits it (an empty table adds a row instead).
    pub fn table_edit_cell(&mut self) {
        let Some(t) = self.table() else { return };
        let (master, row, col) = (t.master.clone(), t.row, t.col);
        let Some(var) = t.columns.get(col).cloned() else {
            return;
        };
        let values = self.list_of(&var);
        if self.list_of(&master).is_empty() {
            self.table_add_row();
            return;
        }
        if let Some(why) = self.read_only(&var) {
            self.set_status(StatusKind::Warning, format!("{var} is read-only: {why}"));
            return;
        }
        let current = values.get(row).cloned().unwrap_or_default();
        let edit = self.new_edit(
            Target::Cell {
                var,
                row,
                new_row: false,
            },
            current,
        );
        if let Some(t) = self.table_mut() {
            t.edit = Some(edit);
        }
    }

    /// Adds a row at the end: its first cell opens, then each next one.
    pub fn table_add_row(&mut self) {
        let Some(t) = self.table() else { return };
        let master = t.master.clone();
        if let Some(why) = self.read_only(&master) {
            self.set_status(StatusKind::Warning, format!("{master} is read-only: {why}"));
            return;
        }
        let n = self.list_of(&master).len();
        let edit = self.new_edit(
            Target::Cell {
                var: master,
                row: n,
                new_row: true,
            },
            String::new(),
        );
        if let Some(t) = self.table_mut() {
            t.row = n;
            t.col = 0;
            t.edit = Some(edit);
        }
    }

    /// Removes the highlighted row from the master and from every slave.
    pub fn table_delete_row(&mut self) {
        let Some(t) = self.table() else { return };
        let (master, row) = (t.master.clone(), t.row);
        if let Some(why) = self.read_only(&master) {
            self.set_status(StatusKind::Warning, format!("{master} is read-only: {why}"));
            return;
        }
        let mut values = self.list_of(&master);
        if row >= values.len() {
            return;
        }
        let removed = values.remove(row);
        let last = row == values.len();
        let mut changes = vec![Change::Set {
            name: master.clone(),
            values,
        }];
        // A master that shrinks drops its slaves' last indexes; a slave
        // keeps its other entries only if they move up with the master's.
        if !last && let Some(g) = self.work.dictionaries().groups.get(&master) {
            for s in &g.slaves {
                let stored =
                    matches!(self.work.resolved(s), Ok(r) if matches!(r.origin, Origin::Stored(_)));
                if !stored || self.read_only(s).is_some() {
                    continue;
                }
                let mut sv = self.list_of(s);
                if row < sv.len() {
                    sv.remove(row);
                }
                changes.push(Change::Set {
                    name: s.clone(),
                    values: sv,
                });
            }
        }
        match self.apply(changes) {
            Ok(_) => {
                let rows = self.list_of(&master).len();
                if let Some(t) = self.table_mut() {
                    t.row = t.row.min(rows.saturating_sub(1));
                }
                self.set_status(StatusKind::Info, format!("{master}: removed '{removed}'"));
            }
            Err(e) => self.set_status(StatusKind::Error, format!("refused: {e}")),
        }
    }

    /// Resets the highlighted column's variable to its default.
    pub fn table_reset_column(&mut self) {
        let Some(t) = self.table() else { return };
        let Some(var) = t.columns.get(t.col).cloned() else {
            return;
        };
        let master = t.master.clone();
        let mut names = vec![var.clone()];
        if t.col == 0 {
            names.extend(t.columns.iter().skip(1).cloned());
        }
        self.reset_names(&var, names);
        let rows = self.list_of(&master).len();
        if let Some(t) = self.table_mut() {
            t.row = t.row.min(rows.saturating_sub(1));
        }
    }

    // ----- search, errors, diff --------------------------------------------

    pub fn open_search(&mut self) {
        self.screen = Screen::Search(Search::default());
    }

    /// Changes the query with `f`; the highlight goes back to the top.
    pub fn with_search(&mut self, f: impl FnOnce(&mut String)) {
        if let Screen::Search(s) = &mut self.screen {
            f(&mut s.query);
            s.selected = 0;
        }
    }

    pub fn search_move(&mut self, delta: isize) {
        let n = match &self.screen {
            Screen::Search(s) => self.search_results(&s.query).len(),
            _ => return,
        };
        if let Screen::Search(s) = &mut self.screen {
            s.selected = s
                .selected
                .saturating_add_signed(delta)
                .min(n.saturating_sub(1));
        }
    }

    /// Enter in the search box: shows the highlighted result.
    pub fn search_jump(&mut self) {
        let Screen::Search(s) = &self.screen else {
            return;
        };
        let results = self.search_results(&s.query);
        match results.get(s.selected).cloned() {
            Some(name) => {
                self.jump_to(&name);
            }
            None => self.set_status(StatusKind::Warning, "no variable matches"),
        }
    }

    pub fn open_errors(&mut self) {
        if self.errors.is_empty() {
            self.set_status(StatusKind::Info, "no errors");
            return;
        }
        self.screen = Screen::Errors {
            selected: 0,
            refused: false,
        };
    }

    pub fn errors_move(&mut self, delta: isize) {
        let n = self.errors.len();
        if let Screen::Errors { selected, .. } = &mut self.screen {
            *selected = selected
                .saturating_add_signed(delta)
                .min(n.saturating_sub(1));
        }
    }

    /// Enter in the error list: shows the variable in error.
    pub fn errors_jump(&mut self) {
        let Screen::Errors { selected, .. } = self.screen else {
            return;
        };
        let Some(item) = self.errors.get(selected).cloned() else {
            return;
        };
        match &item.variable {
            Some(v) => {
                if self.jump_to(v) {
                    self.set_status(StatusKind::Error, item.message.clone());
                }
            }
            None => self.set_status(StatusKind::Warning, "this problem names no variable"),
        }
    }

    pub fn open_diff(&mut self) {
        if self.pending.is_empty() {
            self.set_status(StatusKind::Info, "no pending changes");
            return;
        }
        self.screen = Screen::Diff { scroll: 0 };
    }

    pub fn diff_scroll(&mut self, delta: isize) {
        let n = self.pending.len();
        if let Screen::Diff { scroll } = &mut self.screen {
            *scroll = scroll.saturating_add_signed(delta).min(n.saturating_sub(1));
        }
    }

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

/// Stands in for an editor while it is being changed.
fn placeholder() -> Edit {
    Edit {
        target: Target::Var(String::new()),
        kind: EditKind::Text {
            buffer: String::new(),
            cursor: 0,
        },
        original: String::new(),
        error: None,
        warnings: Vec::new(),
    }
}
