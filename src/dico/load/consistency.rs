//! Cross-file consistency, once every file is merged: constraints about
//! undeclared variables are dropped with a warning, references that must
//! exist and group and dynamic-family rules are errors.
//!
//! Its own file because it runs on the whole merged model, after every
//! element reader, and decides what is fatal and what is a warning.

use std::collections::{HashMap, HashSet};

use super::super::model::*;
use super::{DicoError, Loader, Outcome};

impl Loader {
    /// Drops the constraints about variables (or families) that no
    /// dictionary declares, with a warning for each.
    ///
    /// Creole's loader keeps `<fill>`, `<auto>`, `<check>` and `<group>` by
    /// the variable they apply to, and builds them when it builds that
    /// variable: one about an undeclared variable is never built, and the
    /// server runs. A real module ships such leftovers (a `<group>` whose
    /// master and slaves another package used to declare), so refusing them
    /// would refuse a configuration Creole runs in production.
    fn drop_dangling(&mut self) {
        let mut warnings = Vec::new();
        let mut warn = |loc: &Location, var: Option<&str>, msg: String| {
            warnings.push(DicoError::at(loc, var, msg));
        };
        let d = &mut self.d;
        let vars = &d.variables;
        d.calcs.retain(|target, calc| {
            let keep = vars.contains_key(target);
            if !keep {
                warn(
                    &calc.loc,
                    Some(target),
                    format!(
                        "<{} name='{}'> is ignored: no dictionary declares its target",
                        calc.kind.element(),
                        calc.func
                    ),
                );
            }
            keep
        });
        d.checks.retain(|check| {
            let keep = vars.contains_key(&check.target);
            if !keep {
                warn(
                    &check.loc,
                    Some(&check.target),
                    format!(
                        "<check name='{}'> is ignored: no dictionary declares its target",
                        check.func
                    ),
                );
            }
            keep
        });
        let families = &d.families;
        d.conditions.retain_mut(|cond| {
            let what = format!(
                "<condition name='{}' source='{}'>",
                cond.kind.name(),
                cond.source
            );
            cond.targets.retain(|t| {
                let (known, kind) = match &t.kind {
                    TargetKind::Variable => (vars.contains_key(&t.name), "variable"),
                    TargetKind::Family => (families.contains_key(&t.name), "family"),
                    // A filelist or servicelist with no member is legal: the
                    // package that fills it may not be installed.
                    _ => (true, ""),
                };
                // An optional target is expected to be missing: no warning.
                if !known && !t.optional {
                    warn(
                        &t.loc,
                        (t.kind == TargetKind::Variable).then_some(t.name.as_str()),
                        format!(
                            "{what}: its target, the {kind} '{}', is ignored: no dictionary declares it",
                            t.name
                        ),
                    );
                }
                known || t.optional
            });
            !cond.targets.is_empty()
        });
        d.groups.retain(|master, g| {
            if !vars.contains_key(master) {
                warn(
                    &g.loc,
                    Some(master),
                    format!(
                        "<group> is ignored: no dictionary declares its master (its slaves: {})",
                        g.slaves.join(", ")
                    ),
                );
                return false;
            }
            g.slaves.retain(|s| {
                let known = vars.contains_key(s);
                if !known {
                    warn(
                        &g.loc,
                        Some(s),
                        format!("slave of group '{master}' is ignored: no dictionary declares it"),
                    );
                }
                known
            });
            if g.slaves.is_empty() {
                warn(
                    &g.loc,
                    Some(master),
                    "<group> is ignored: none of its slaves is declared".into(),
                );
            }
            !g.slaves.is_empty()
        });
        self.warnings.extend(warnings);
    }

    /// A `<host>`, `<interface>` or firewall `<ip>`/`<port>` naming a
    /// variable no dictionary declares: a warning (conteneur does not act
    /// on these elements, and Creole only reads them at instance time).
    fn check_item_references(&mut self) {
        for item in &self.d.items {
            for v in item.variables() {
                if !self.d.variables.contains_key(v) {
                    self.warnings.push(DicoError::at(
                        &item.loc,
                        Some(v),
                        format!(
                            "<{}> names this variable, which no dictionary declares",
                            item.kind.element()
                        ),
                    ));
                }
            }
        }
    }

    /// Cross-file consistency, once every file is merged.
    pub(super) fn finish(mut self) -> Outcome {
        self.generate_container_variables();
        self.drop_dangling();
        self.check_item_references();
        let vars: HashSet<&str> = self.d.variables.keys().map(String::as_str).collect();
        let mut errors = Vec::new();
        let mut push = |loc: &Location, var: Option<&str>, msg: String| {
            errors.push(DicoError::at(loc, var, msg));
        };

        let check_params =
            |params: &[Param],
             what: &str,
             push: &mut dyn FnMut(&Location, Option<&str>, String)| {
                for p in params {
                    if let ParamValue::Variable(v) = &p.value
                        && !p.optional
                        && !vars.contains(v.as_str())
                    {
                        push(
                            &p.loc,
                            Some(v),
                            format!(
                                "{what} reads this variable, which no dictionary declares (mark the parameter optional=\"True\" if it may be absent)"
                            ),
                        );
                    }
                }
            };

        for calc in self.d.calcs.values() {
            let what = format!(
                "<{} name='{}' target='{}'>",
                calc.kind.element(),
                calc.func,
                calc.target
            );
            check_params(&calc.params, &what, &mut push);
        }
        for check in &self.d.checks {
            let what = format!("<check name='{}' target='{}'>", check.func, check.target);
            check_params(&check.params, &what, &mut push);
        }
        for cond in &self.d.conditions {
            let what = format!(
                "<condition name='{}' source='{}'>",
                cond.kind.name(),
                cond.source
            );
            if !cond.fallback && !vars.contains(cond.source.as_str()) {
                push(
                    &cond.loc,
                    Some(&cond.source),
                    format!(
                        "{what}: the source variable is not declared by any dictionary (add fallback=\"True\" if it may be absent)"
                    ),
                );
            }
        }
        let mut slave_of: HashMap<&str, &str> = HashMap::new();
        for g in self.d.groups.values() {
            match self.d.variables.get(&g.master) {
                None => {}
                Some(m) if !m.multi => push(
                    &g.loc,
                    Some(&g.master),
                    "<group> master must be a multi variable (multi=\"True\"), so that its slaves have one value per index".into(),
                ),
                Some(_) => {}
            }
            for s in &g.slaves {
                if s == &g.master {
                    push(&g.loc, Some(s), "a variable cannot be its own slave".into());
                }
                if let Some(other) = slave_of.insert(s.as_str(), g.master.as_str()) {
                    push(
                        &g.loc,
                        Some(s),
                        format!("is a slave of two groups ('{other}' and '{}')", g.master),
                    );
                }
                if self.d.groups.contains_key(s) {
                    push(
                        &g.loc,
                        Some(s),
                        "a slave cannot itself be the master of a group".into(),
                    );
                }
            }
        }
        for f in self.d.families.values() {
            if let Some(count) = &f.dynamic {
                match self.d.variables.get(count) {
                    None => push(
                        &f.loc,
                        Some(count),
                        format!(
                            "dynamic family '{}' counts its instances with this variable, which no dictionary declares",
                            f.name
                        ),
                    ),
                    Some(v) if v.dynamic || v.multi || !v.ty.is_number() => push(
                        &f.loc,
                        Some(count),
                        format!(
                            "dynamic family '{}' needs a single 'number' variable outside any dynamic family to count its instances",
                            f.name
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
        // A dynamic variable may only be referred to from a constraint that
        // is itself about dynamic variables: `{X}` needs a value.
        self.errors.extend(errors);
        Outcome {
            dicos: self.d,
            errors: self.errors,
            warnings: self.warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{errs, ok};
    use super::super::{DicoError, load_str};

    /// What a declared variable reads must exist (Creole's `fallback` and
    /// `optional` say when it may not); a constraint about an undeclared
    /// variable is dropped with a warning, as Creole never builds it.
    #[test]
    fn unknown_references_read_are_errors_unknown_targets_warnings() {
        let out = load_str(
            "<creole><variables><family name='f'><variable name='v'/></family></variables>
             <constraints>
               <check name='valid_enum' target='nope'><param>['a']</param></check>
               <condition name='disabled_if_in' source='ghost'><param>a</param><target>v</target></condition>
               <condition name='hidden_if_in' source='v'><param>a</param><target>w</target></condition>
               <fill name='calc_val' target='v'><param type='eole'>missing</param></fill>
               <fill name='calc_val' target='gone'><param type='eole'>missing_too</param></fill>
             </constraints></creole>",
            "t.xml",
        );
        let text = |v: &[DicoError]| v.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        let (e, w) = (text(&out.errors), text(&out.warnings));
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e.iter().any(|m| m.contains("'ghost'")));
        assert!(e.iter().any(|m| m.contains("'missing'")));
        assert_eq!(w.len(), 3, "{w:#?}");
        assert!(
            w.iter()
                .any(|m| m.starts_with("t.xml:3:16: variable 'nope'")),
            "{w:#?}"
        );
        assert!(w.iter().any(|m| m.contains("'w'")));
        assert!(w.iter().any(|m| m.contains("'gone'")));
        // The dropped constraints are gone from the model.
        assert!(out.dicos.checks.is_empty());
        assert_eq!(out.dicos.conditions.len(), 1);
        assert!(!out.dicos.calcs.contains_key("gone"));
    }

    /// The field case: a `<group>` whose master and slaves no dictionary
    /// declares loads, with a warning, and leaves no group behind.
    #[test]
    fn group_of_undeclared_variables_is_a_warning() {
        let out = load_str(
            "<creole><variables><family name='f'>
               <variable name='m' multi='True'/><variable name='s1'/></family></variables>
             <constraints>
               <group master='ghost_master'><slave>ghost_a</slave><slave>ghost_b</slave></group>
               <group master='m'><slave>s1</slave><slave>ghost_c</slave></group>
             </constraints></creole>",
            "t.xml",
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let w: Vec<String> = out.warnings.iter().map(|e| e.to_string()).collect();
        assert_eq!(w.len(), 2, "{w:#?}");
        assert!(
            w[0].starts_with("t.xml:4:16: variable 'ghost_master': <group> is ignored"),
            "{w:?}"
        );
        assert!(w[0].contains("ghost_a, ghost_b"), "{w:?}");
        assert!(
            w[1].starts_with("t.xml:5:16: variable 'ghost_c': slave of group 'm'"),
            "{w:?}"
        );
        assert_eq!(out.dicos.groups.len(), 1);
        assert_eq!(out.dicos.groups["m"].slaves, ["s1"]);
    }

    #[test]
    fn fallback_and_optional_accept_missing_variables() {
        ok("<creole><variables><family name='f'><variable name='v'/></family></variables>
             <constraints>
               <condition name='disabled_if_in' source='ghost' fallback='True'><param>a</param><target>v</target></condition>
               <condition name='disabled_if_in' source='v'><param>a</param><target optional='True'>w</target></condition>
               <fill name='calc_val' target='v'><param type='eole' optional='True'>missing</param></fill>
             </constraints></creole>");
    }

    #[test]
    fn slave_of_a_non_multi_master_is_an_error() {
        let e = errs("<creole><variables><family name='f'><variable name='m'/><variable name='s'/></family></variables>
             <constraints><group master='m'><slave>s</slave></group></constraints></creole>");
        assert!(
            e[0].contains("variable 'm'") && e[0].contains("multi"),
            "{e:?}"
        );
    }
}
