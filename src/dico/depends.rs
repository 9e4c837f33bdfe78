//! What reads what: the static dependencies between variables, so that a
//! broken declaration can name every variable it leaves unreadable, and a
//! function conteneur does not support every variable it leaves
//! uncomputed.
//!
//! Its own file because it is one graph over the whole merged model, used
//! by the loader (warnings), `config` (unsupported functions) and the
//! mutation test.

use std::collections::{HashMap, HashSet, VecDeque};

use super::model::*;

impl Dictionaries {
    /// For each variable, the variables that read it: through a parameter
    /// of their `<fill>`/`<auto>` or `<check>`, as the source of a condition
    /// on them (or on their family), as their master, or as the counter of
    /// their dynamic family.
    pub fn readers(&self) -> HashMap<&str, Vec<&str>> {
        let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
        for calc in self.calcs.values() {
            for p in &calc.params {
                if let ParamValue::Variable(v) = &p.value {
                    out.entry(v.as_str()).or_default().push(&calc.target);
                }
            }
        }
        for check in &self.checks {
            for p in &check.params {
                if let ParamValue::Variable(v) = &p.value {
                    out.entry(v.as_str()).or_default().push(&check.target);
                }
            }
        }
        for cond in &self.conditions {
            for t in &cond.targets {
                match t.kind {
                    TargetKind::Variable => {
                        out.entry(cond.source.as_str()).or_default().push(&t.name);
                    }
                    TargetKind::Family => {
                        if let Some(f) = self.families.get(&t.name) {
                            for v in &f.variables {
                                out.entry(cond.source.as_str()).or_default().push(v);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        for g in self.groups.values() {
            for s in &g.slaves {
                out.entry(g.master.as_str()).or_default().push(s);
            }
        }
        for f in self.families.values() {
            if let Some(counter) = &f.dynamic {
                for v in &f.variables {
                    out.entry(counter.as_str()).or_default().push(v);
                }
            }
        }
        out
    }

    /// `roots` and every variable that reads one of them, transitively, in
    /// declaration order (names no dictionary declares are left out).
    pub fn dependents(&self, roots: &[&str]) -> Vec<String> {
        self.dependents_in(&self.readers(), roots)
    }

    /// [`Dictionaries::dependents`] with the [`Dictionaries::readers`]
    /// already built (several questions on one model).
    pub fn dependents_in(&self, readers: &HashMap<&str, Vec<&str>>, roots: &[&str]) -> Vec<String> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut todo: VecDeque<&str> = roots.iter().copied().collect();
        while let Some(n) = todo.pop_front() {
            if !seen.insert(n) {
                continue;
            }
            for r in readers.get(n).into_iter().flatten() {
                if !seen.contains(r) {
                    todo.push_back(r);
                }
            }
        }
        self.variables
            .keys()
            .filter(|k| seen.contains(k.as_str()))
            .cloned()
            .collect()
    }
}
