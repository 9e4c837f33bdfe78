//! The table of a multi variable or of a master and its slaves: moving
//! between cells, editing one, adding, deleting and resetting.
//!
//! Its own file because a table edits several variables at once (a row
//! spans the master and every slave), which a single-value edit does not.

use crate::config::Origin;

use super::{Change, Edit, Model, Screen, StatusKind, Target};

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

impl Model {
    // ----- tables ----------------------------------------------------------

    fn table(&self) -> Option<&Table> {
        match &self.screen {
            Screen::Table(t) => Some(t),
            _ => None,
        }
    }

    pub(super) fn table_mut(&mut self) -> Option<&mut Table> {
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
}
