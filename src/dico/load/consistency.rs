//! Cross-file consistency, once every file is merged: constraints about
//! undeclared variables are dropped, and a declared variable that reads an
//! undeclared one, a group tiramisu would refuse, a dynamic family that
//! cannot be counted or a circular calculation leave their variables
//! unreadable. Each is a warning naming those variables and what reads
//! them; none stops the load.
//!
//! Its own file because it runs on the whole merged model, after every
//! element reader.

use std::collections::HashMap;

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

    /// Cross-file consistency, once every file is merged. Nothing found
    /// here stops the load: a declaration that cannot be used is left out
    /// (or its targets marked unreadable) with a warning.
    pub(super) fn finish(mut self) -> Outcome {
        self.generate_container_variables();
        self.drop_dangling();
        self.check_item_references();
        self.broken_references();
        self.broken_groups();
        self.dynamic_counters();
        self.circular_calcs();
        self.name_unreadable();
        Outcome {
            dicos: self.d,
            errors: self.errors,
            warnings: self.warnings,
        }
    }

    /// A kept constraint that reads a variable no dictionary declares
    /// (without `optional="True"`), or a condition whose source no
    /// dictionary declares (without `fallback="True"`): Creole fails when it
    /// computes the variable it applies to, so that variable cannot be read.
    fn broken_references(&mut self) {
        let mut found: Vec<(Location, Vec<String>, bool, String)> = Vec::new();
        let mut conds: Vec<(Location, Vec<Target>, String)> = Vec::new();
        {
            let vars = &self.d.variables;
            let missing = |params: &[Param]| {
                params.iter().find_map(|p| match &p.value {
                    ParamValue::Variable(v) if !p.optional && !vars.contains_key(v) => {
                        Some((p.loc.clone(), v.clone()))
                    }
                    _ => None,
                })
            };
            for calc in self.d.calcs.values() {
                if let Some((loc, v)) = missing(&calc.params) {
                    found.push((
                        loc,
                        vec![calc.target.clone()],
                        true,
                        format!(
                            "<{} name='{}' target='{}'> reads '{v}', which no dictionary declares (mark the parameter optional=\"True\" if it may be absent)",
                            calc.kind.element(),
                            calc.func,
                            calc.target
                        ),
                    ));
                }
            }
            for check in &self.d.checks {
                if let Some((loc, v)) = missing(&check.params) {
                    found.push((
                        loc,
                        vec![check.target.clone()],
                        false,
                        format!(
                            "<check name='{}' target='{}'> reads '{v}', which no dictionary declares (mark the parameter optional=\"True\" if it may be absent)",
                            check.func, check.target
                        ),
                    ));
                }
            }
            for cond in &self.d.conditions {
                if !cond.fallback && !vars.contains_key(&cond.source) {
                    conds.push((
                        cond.loc.clone(),
                        cond.targets.clone(),
                        format!(
                            "<condition name='{}' source='{}'>: the source variable is not declared by any dictionary (add fallback=\"True\" if it may be absent)",
                            cond.kind.name(),
                            cond.source
                        ),
                    ));
                }
            }
        }
        for (loc, vars, value_only, msg) in found {
            self.broken(loc, &vars, value_only, msg);
        }
        for (loc, targets, msg) in conds {
            self.break_targets(loc, &targets, msg);
        }
    }

    /// Master/slave groups tiramisu refuses: a master that is not multi, a
    /// variable that is its own slave, a slave of two groups, a slave that
    /// is a master. Which index a slave follows is unknown: the master and
    /// its slaves cannot be read.
    fn broken_groups(&mut self) {
        let mut found: Vec<(Location, Vec<String>, String)> = Vec::new();
        let mut slave_of: HashMap<&str, &str> = HashMap::new();
        for g in self.d.groups.values() {
            let mut all = vec![g.master.clone()];
            all.extend(g.slaves.iter().cloned());
            if self.d.variables.get(&g.master).is_some_and(|m| !m.multi) {
                found.push((
                    g.loc.clone(),
                    all.clone(),
                    format!("<group master='{}'>: the master must be a multi variable (multi=\"True\"), so that its slaves have one value per index", g.master),
                ));
            }
            for s in &g.slaves {
                let why = if s == &g.master {
                    Some(format!("'{s}' cannot be its own slave"))
                } else if let Some(other) = slave_of.insert(s.as_str(), g.master.as_str()) {
                    Some(format!(
                        "'{s}' is a slave of two groups ('{other}' and '{}')",
                        g.master
                    ))
                } else if self.d.groups.contains_key(s) {
                    Some(format!(
                        "'{s}' is a slave of '{}' and the master of another group",
                        g.master
                    ))
                } else {
                    None
                };
                if let Some(why) = why {
                    found.push((g.loc.clone(), all.clone(), format!("<group>: {why}")));
                }
            }
        }
        for (loc, vars, msg) in found {
            self.broken(loc, &vars, false, msg);
        }
    }

    /// A dynamic family whose counter is not declared, or not a single
    /// `number` outside any dynamic family: it has no instance.
    fn dynamic_counters(&mut self) {
        let mut found = Vec::new();
        for f in self.d.families.values() {
            let Some(count) = &f.dynamic else { continue };
            let msg = match self.d.variables.get(count) {
                None => format!(
                    "dynamic family '{}' counts its instances with '{count}', which no dictionary declares; it has no instance",
                    f.name
                ),
                Some(v) if v.dynamic || v.multi || !v.ty.is_number() => format!(
                    "dynamic family '{}' needs a single 'number' variable outside any dynamic family to count its instances, '{count}' is not; it has no instance",
                    f.name
                ),
                Some(_) => continue,
            };
            found.push((f.loc.clone(), count.clone(), msg));
        }
        for (loc, count, msg) in found {
            self.warn(loc, Some(&count), msg);
        }
    }

    /// `<fill>`/`<auto>` that read, through one another, their own target:
    /// none of them can be computed (each value says so when read).
    fn circular_calcs(&mut self) {
        let calcs = &self.d.calcs;
        let reads = |t: &str| -> Vec<&str> {
            calcs
                .get(t)
                .map(|c| {
                    c.params
                        .iter()
                        .filter_map(|p| match &p.value {
                            ParamValue::Variable(v) => Some(v.as_str()),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        // Depth-first, each node once: 1 on the path, 2 done.
        let mut state: HashMap<&str, u8> = HashMap::new();
        let mut cycles: Vec<Vec<String>> = Vec::new();
        for start in calcs.keys() {
            if state.contains_key(start.as_str()) {
                continue;
            }
            let mut path: Vec<(&str, Vec<&str>)> = vec![(start.as_str(), reads(start))];
            state.insert(start.as_str(), 1);
            while let Some((node, next)) = path.last_mut() {
                let node = *node;
                match next.pop() {
                    None => {
                        state.insert(node, 2);
                        path.pop();
                    }
                    Some(n) => match state.get(n) {
                        Some(1) => {
                            let from = path.iter().position(|(p, _)| *p == n).unwrap_or(0);
                            let mut cycle: Vec<String> =
                                path[from..].iter().map(|(p, _)| p.to_string()).collect();
                            cycle.push(n.to_string());
                            cycles.push(cycle);
                        }
                        Some(_) => {}
                        None => {
                            state.insert(n, 1);
                            path.push((n, reads(n)));
                        }
                    },
                }
            }
        }
        for cycle in cycles {
            let Some(calc) = self.d.calcs.get(&cycle[0]) else {
                continue;
            };
            let (loc, func, kind) = (calc.loc.clone(), calc.func.clone(), calc.kind);
            let members: Vec<String> = cycle[..cycle.len() - 1].to_vec();
            let msg = format!(
                "<{} name='{func}' target='{}'> is circular: {}",
                kind.element(),
                cycle[0],
                cycle.join(" -> ")
            );
            self.warn(loc, Some(&cycle[0]), msg);
            self.breaks.push((self.warnings.len() - 1, members, true));
        }
    }

    /// Completes each warning about a broken declaration with the variables
    /// it leaves unreadable, those that read them included.
    fn name_unreadable(&mut self) {
        for (family, widx) in std::mem::take(&mut self.broken_families) {
            let Some(f) = self.d.families.get(&family) else {
                continue;
            };
            let vars = f.variables.clone();
            let Some(w) = self.warnings.get(widx) else {
                continue;
            };
            let (Some(loc), reason) = (w.loc.clone(), w.message.clone()) else {
                continue;
            };
            for v in &vars {
                self.d.broken.push(Broken {
                    variable: v.clone(),
                    value_only: false,
                    loc: loc.clone(),
                    reason: reason.clone(),
                });
            }
            match self.breaks.iter_mut().find(|(i, _, _)| *i == widx) {
                Some((_, list, _)) => list.extend(vars),
                None => self.breaks.push((widx, vars, false)),
            }
        }
        if self.breaks.is_empty() {
            return;
        }
        let readers = self.d.readers();
        for (widx, roots, value_only) in &self.breaks {
            let roots: Vec<&str> = roots.iter().map(String::as_str).collect();
            let all = self.d.dependents_in(&readers, &roots);
            let Some(w) = self.warnings.get_mut(*widx) else {
                continue;
            };
            if all.is_empty() {
                continue;
            }
            w.message.push_str(&format!(
                "; {} cannot be read{}: {}",
                if all.len() == 1 {
                    "this variable"
                } else {
                    "these variables"
                },
                if *value_only {
                    " unless config.eol stores their value"
                } else {
                    ""
                },
                all.join(", ")
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ok, warns};
    use super::super::{DicoError, load_str};

    /// A reference to an undeclared variable never stops the load: a
    /// constraint about one is dropped (Creole never builds it), a declared
    /// variable that reads one cannot be read, with its dependents.
    #[test]
    fn unknown_references_are_warnings() {
        let out = load_str(
            "<creole><variables><family name='f'><variable name='v'/><variable name='u'/><variable name='x'/></family></variables>
             <constraints>
               <check name='valid_enum' target='nope'><param>['a']</param></check>
               <condition name='disabled_if_in' source='ghost'><param>a</param><target>v</target></condition>
               <condition name='hidden_if_in' source='v'><param>a</param><target>w</target></condition>
               <fill name='calc_val' target='u'><param type='eole'>missing</param></fill>
               <fill name='calc_val' target='gone'><param type='eole'>missing_too</param></fill>
               <fill name='calc_val' target='x'><param type='eole'>u</param></fill>
             </constraints></creole>",
            "t.xml",
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let text = |v: &[DicoError]| v.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        let w = text(&out.warnings);
        assert_eq!(w.len(), 5, "{w:#?}");
        assert!(
            w.iter()
                .any(|m| m.starts_with("t.xml:3:16: variable 'nope'")),
            "{w:#?}"
        );
        assert!(w.iter().any(|m| m.contains("'w'")));
        assert!(w.iter().any(|m| m.contains("'gone'")));
        assert!(
            w.iter().any(|m| m.starts_with("t.xml:6:49: variable 'u'")
                && m.contains("'missing'")
                && m.ends_with(": u, x")),
            "{w:#?}"
        );
        assert!(
            w.iter().any(|m| m.starts_with("t.xml:4:16: variable 'v'")
                && m.contains("'ghost'")
                && m.ends_with("this variable cannot be read: v")),
            "{w:#?}"
        );
        // The dropped constraints are gone from the model.
        assert!(out.dicos.checks.is_empty());
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
        let out = load_str(
            "<creole><variables><family name='f'><variable name='v'/></family></variables>
             <constraints>
               <condition name='disabled_if_in' source='ghost' fallback='True'><param>a</param><target>v</target></condition>
             </constraints></creole>",
            "t.xml",
        );
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    }

    #[test]
    fn slave_of_a_non_multi_master_breaks_the_group() {
        let w = warns("<creole><variables><family name='f'><variable name='m'/><variable name='s'/><variable name='t'/></family></variables>
             <constraints><group master='m'><slave>s</slave></group></constraints></creole>");
        assert!(
            w[0].contains("variable 'm'") || w[0].contains("'m'"),
            "{w:?}"
        );
        assert!(w[0].contains("multi") && w[0].ends_with(": m, s"), "{w:?}");
    }

    /// A circular fill is named where it is declared, with the loop.
    #[test]
    fn a_circular_fill_is_a_warning() {
        let w = warns("<creole><variables><family name='f'><variable name='x'/><variable name='y'/><variable name='z'/></family></variables>
             <constraints>
               <fill name='calc_val' target='x'><param type='eole'>y</param></fill>
               <fill name='calc_val' target='y'><param type='eole'>x</param></fill>
               <fill name='calc_val' target='z'><param type='eole'>x</param></fill>
             </constraints></creole>");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("t.xml:3:16: variable 'x'")
                && w[0].contains("x -> y -> x")
                && w[0].ends_with(": x, y, z"),
            "{w:?}"
        );
    }
}
