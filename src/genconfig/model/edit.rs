//! The open editor: what an edit changes, the value being typed (text or
//! choice), and how the model opens, validates live, commits, cancels and
//! resets it through the engine.
//!
//! Its own file because it is the only path by which a value reaches the
//! working copy; tables and saving build on it.

use crate::config::{Config, Origin, Problem, SetError};

use super::{Change, Model, Screen, StatusKind, Table};

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

impl Model {
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

    pub(super) fn new_edit(&self, target: Target, current: String) -> Edit {
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
    pub(super) fn apply(&mut self, changes: Vec<Change>) -> Result<Vec<Problem>, SetError> {
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

    pub(super) fn reset_names(&mut self, shown: &str, names: Vec<String>) {
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
