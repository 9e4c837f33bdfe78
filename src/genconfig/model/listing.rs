//! What the screen lists: the families and lines a mode shows, the
//! tables, the choices, the problems of a line and the search results.
//!
//! Pure questions on the working copy, kept apart from the methods that
//! change the state; the view asks them on every frame.

use crate::config::Problem;
use crate::dico::{CalcKind, Mode};

use super::{Model, Row};

/// Most results a search lists: a longer list helps nobody.
const SEARCH_LIMIT: usize = 100;

impl Model {
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
    pub(super) fn mode_of(&self, name: &str) -> Mode {
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
    pub(super) fn reachable(&self, name: &str) -> bool {
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
}
