//! What is recomputed after every change: the diff against config.eol, the
//! error list and a selection that still exists, plus the status line.
//!
//! Its own file because every action ends here, whichever screen it came
//! from.

use crate::config::{Origin, ProblemKind, Severity, ValueError};

use super::{DiffLine, ErrorItem, Model, Status, StatusKind};

impl Model {
    // ----- derived state ---------------------------------------------------

    /// Recomputes what depends on the values: the diff, the errors and the
    /// selection (variables appear and disappear as conditions change).
    pub(super) fn refresh(&mut self) {
        self.pending = self.diff();
        self.errors = self.compute_errors();
        self.fix_selection();
    }

    pub(super) fn fix_selection(&mut self) {
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

    pub(super) fn set_status(&mut self, kind: StatusKind, text: impl Into<String>) {
        self.status = Some(Status {
            kind,
            text: text.into(),
        });
    }
}
