//! Moving around: the selection, the family, the mode, jumping to a
//! variable, and the search, error and diff screens that exist to jump.
//!
//! Nothing here changes a value; it is kept apart from editing so that
//! what can alter config.eol is all in `edit`, `table` and `save`.

use crate::dico::Mode;

use super::{Model, Screen, StatusKind};

/// The search box and its highlighted result.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub query: String,
    pub selected: usize,
}

impl Model {
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
}
