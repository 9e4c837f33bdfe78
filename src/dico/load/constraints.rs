//! The `<constraints>` element: calculations (`<fill>`, `<auto>`), checks,
//! conditions and groups, and the `<param>` lists they take.
//!
//! Its own file because constraints only record references to variables;
//! whether those exist is decided once every file is read (`consistency`).

use super::super::model::*;
use super::super::xml::Element;
use super::{FileCtx, Loader};

impl Loader {
    /// The parameters, and why they cannot be used when one cannot (then
    /// the constraint is broken: its target cannot be read).
    fn read_params(
        &mut self,
        ctx: &FileCtx<'_>,
        el: &Element,
        owner: &str,
    ) -> (Vec<Param>, Option<String>) {
        let mut params = Vec::new();
        let mut broken = None;
        for p in &el.children {
            if p.name != "param" {
                self.notice(
                    ctx.loc(p),
                    format!("unknown element <{}> in {owner} is ignored", p.name),
                );
                continue;
            }
            self.unknown_attrs(ctx, p, &["type", "name", "optional", "hidden"]);
            let loc = ctx.loc(p);
            let text = p.text.trim();
            let value = match p.attr("type") {
                None | Some("string") => ParamValue::Text(p.text.clone()),
                Some("eole") => ParamValue::Variable(self.resolve_ref(ctx.ns, text)),
                Some("number") => match text.parse::<i64>() {
                    Ok(n) => ParamValue::Number(n),
                    Err(_) => {
                        broken.get_or_insert(format!(
                            "{owner} ({loc}): a number parameter must be a whole number, found '{text}'"
                        ));
                        continue;
                    }
                },
                Some("python") => ParamValue::Python(text.to_string()),
                Some(other) => {
                    broken.get_or_insert(format!(
                        "{owner} ({loc}): unknown parameter type '{other}'; expected eole, number, python or none"
                    ));
                    continue;
                }
            };
            for attr in ["optional", "hidden"] {
                if let Some(v) = p.attr(attr).filter(|v| super::parse_bool(v).is_none()) {
                    broken.get_or_insert(format!(
                        "{owner} ({loc}): attribute '{attr}' must be True or False, found '{v}'"
                    ));
                }
            }
            let optional = self.bool_attr(ctx, p, "optional", None).unwrap_or(false);
            let read_disabled = self
                .bool_attr(ctx, p, "hidden", None)
                .map(|h| !h)
                .unwrap_or(false);
            params.push(Param {
                name: p.attr("name").map(str::to_string),
                value,
                optional,
                read_disabled,
                loc,
            });
        }
        (params, broken)
    }

    pub(super) fn read_constraints(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        for c in &el.children {
            let loc = ctx.loc(c);
            match c.name.as_str() {
                "fill" | "auto" => {
                    self.unknown_attrs(ctx, c, &["name", "target"]);
                    let (Some(func), Some(target)) = (c.attr("name"), c.attr("target")) else {
                        let msg = format!("<{}> needs both 'name' and 'target'", c.name);
                        self.broken_target(loc, c.attr("target"), ctx, true, msg);
                        continue;
                    };
                    let target = self.resolve_ref(ctx.ns, target);
                    let kind = if c.name == "fill" {
                        CalcKind::Fill
                    } else {
                        CalcKind::Auto
                    };
                    let what = format!("<{} name='{func}'>", c.name);
                    let (params, broken) = self.read_params(ctx, c, &what);
                    if let Some(old) = self.d.calcs.get(&target) {
                        // Which one computes the value is not what the
                        // author wrote: neither does.
                        let first = old.loc.clone();
                        self.broken(
                            loc,
                            &[target],
                            true,
                            format!("a second <fill>/<auto> on one variable (the first is at {first}); neither is used"),
                        );
                        continue;
                    }
                    if let Some(why) = broken {
                        self.broken(loc, &[target], true, why);
                        continue;
                    }
                    self.d.calcs.insert(
                        target.clone(),
                        Calc {
                            kind,
                            func: func.to_string(),
                            target,
                            params,
                            loc,
                        },
                    );
                }
                "check" => {
                    self.unknown_attrs(ctx, c, &["name", "target", "level"]);
                    let (Some(func), Some(target)) = (c.attr("name"), c.attr("target")) else {
                        let msg = "<check> needs both 'name' and 'target'";
                        self.broken_target(loc, c.attr("target"), ctx, false, msg);
                        continue;
                    };
                    let target = self.resolve_ref(ctx.ns, target);
                    let level = match c.attr("level") {
                        None | Some("error") => Level::Error,
                        Some("warning") => Level::Warning,
                        Some(other) => {
                            self.broken(
                                loc,
                                &[target],
                                false,
                                format!("<check name='{func}'>: level must be error or warning, found '{other}'"),
                            );
                            continue;
                        }
                    };
                    let (params, broken) =
                        self.read_params(ctx, c, &format!("<check name='{func}'>"));
                    if let Some(why) = broken {
                        self.broken(loc, &[target], false, why);
                        continue;
                    }
                    // A later valid_enum on the same variable replaces the
                    // earlier list, as in Creole (a module narrows or widens
                    // the choices a package declared).
                    if func == "valid_enum" {
                        self.d
                            .checks
                            .retain(|old| !(old.func == "valid_enum" && old.target == target));
                    }
                    self.d.checks.push(Check {
                        func: func.to_string(),
                        target,
                        params,
                        level,
                        loc,
                    });
                }
                "condition" => self.read_condition(ctx, c),
                "group" => {
                    self.unknown_attrs(ctx, c, &["master"]);
                    let slaves: Vec<String> = c
                        .children
                        .iter()
                        .filter(|s| s.name == "slave" && !s.text.trim().is_empty())
                        .map(|s| self.resolve_ref(ctx.ns, &s.text))
                        .collect();
                    let Some(master) = c.attr("master") else {
                        // Their index is unknown: the slaves cannot be read.
                        self.broken(loc, &slaves, false, "<group> has no 'master'");
                        continue;
                    };
                    let master = self.resolve_ref(ctx.ns, master);
                    if slaves.is_empty() {
                        self.warn(loc, Some(&master), "<group> has no <slave>; it is ignored");
                        continue;
                    }
                    if let Some(old) = self.d.groups.get(&master) {
                        // Which slaves follow it is ambiguous: none is read.
                        let first = old.loc.clone();
                        let mut all = vec![master.clone()];
                        all.extend(old.slaves.iter().cloned());
                        all.extend(slaves.iter().cloned());
                        self.broken(
                            loc,
                            &all,
                            false,
                            format!("'{master}' is the master of a second <group> (the first is at {first})"),
                        );
                        continue;
                    }
                    self.d.groups.insert(
                        master.clone(),
                        Group {
                            master,
                            slaves,
                            loc,
                        },
                    );
                }
                other => self.notice(loc, format!("unknown constraint <{other}> is ignored")),
            }
        }
    }

    /// A constraint without its function's name or its target: what it
    /// targets (if anything) cannot be read, or only loses its computed
    /// value (`value_only`, a `<fill>`/`<auto>`).
    fn broken_target(
        &mut self,
        loc: Location,
        target: Option<&str>,
        ctx: &FileCtx<'_>,
        value_only: bool,
        msg: impl Into<String>,
    ) {
        let msg = msg.into();
        match target.filter(|t| !t.trim().is_empty()) {
            Some(t) => {
                let t = self.resolve_ref(ctx.ns, t);
                self.broken(loc, &[t], value_only, msg);
            }
            None => self.warn(loc, None, format!("{msg}; it is ignored")),
        }
    }

    fn read_condition(&mut self, ctx: &FileCtx<'_>, c: &Element) {
        self.unknown_attrs(ctx, c, &["name", "source", "fallback"]);
        let loc = ctx.loc(c);
        let mut values = Vec::new();
        let mut targets = Vec::new();
        for p in &c.children {
            match p.name.as_str() {
                "param" => {
                    // Condition values are literals; an empty param is None.
                    if p.attr("type").is_some_and(|t| t != "string") {
                        self.notice(
                            ctx.loc(p),
                            "a typed <param> in a condition is compared as text",
                        );
                    }
                    let t = p.text.trim();
                    values.push(if t.is_empty() {
                        None
                    } else {
                        Some(t.to_string())
                    });
                }
                "target" => {
                    self.unknown_attrs(ctx, p, &["type", "optional"]);
                    let kind = match p.attr("type").unwrap_or("variable") {
                        "variable" => TargetKind::Variable,
                        "family" => TargetKind::Family,
                        "filelist" => TargetKind::Filelist,
                        "servicelist" => TargetKind::Servicelist,
                        other => TargetKind::Other(other.to_string()),
                    };
                    let name = p.text.trim();
                    if name.is_empty() {
                        self.warn(ctx.loc(p), None, "<target> is empty; it is ignored");
                        continue;
                    }
                    let name = match kind {
                        TargetKind::Variable => self.resolve_ref(ctx.ns, name),
                        TargetKind::Family => match ctx.ns {
                            Some(ns) if !name.contains('.') => format!("{ns}.{name}"),
                            _ => name.to_string(),
                        },
                        _ => name.to_string(),
                    };
                    let optional = self.bool_attr(ctx, p, "optional", None).unwrap_or(false);
                    targets.push(Target {
                        kind,
                        name,
                        optional,
                        loc: ctx.loc(p),
                    });
                }
                other => self.notice(
                    ctx.loc(p),
                    format!("unknown element <{other}> in a condition is ignored"),
                ),
            }
        }
        let kind_name = c.attr("name").unwrap_or_default();
        let source = c.attr("source").unwrap_or_default();
        let what = format!("<condition name='{kind_name}' source='{source}'>");
        if targets.is_empty() {
            self.warn(loc, None, format!("{what} has no <target>; it is ignored"));
            return;
        }
        // Whether its targets are disabled (hidden, frozen, mandatory) is
        // unknown when the condition cannot be read: they cannot be read.
        let broken = if kind_name.is_empty() || source.trim().is_empty() {
            Some(format!("{what} needs both 'name' and 'source'"))
        } else if let Some(v) = c
            .attr("fallback")
            .filter(|v| super::parse_bool(v).is_none())
        {
            Some(format!(
                "{what}: attribute 'fallback' must be True or False, found '{v}'"
            ))
        } else if CondKind::from_name(kind_name).is_none() {
            Some(format!(
                "unknown condition '{kind_name}'; expected disabled_if_in, disabled_if_not_in, \
                 hidden_if_in, hidden_if_not_in, frozen_if_in, frozen_if_not_in, \
                 mandatory_if_in or mandatory_if_not_in"
            ))
        } else {
            None
        };
        let (Some(kind), None) = (CondKind::from_name(kind_name), &broken) else {
            let why = broken.unwrap_or_default();
            self.break_targets(loc, &targets, why);
            return;
        };
        let fallback = c
            .attr("fallback")
            .and_then(super::parse_bool)
            .unwrap_or(false);
        self.d.conditions.push(Condition {
            kind,
            source: self.resolve_ref(ctx.ns, source),
            values,
            targets,
            fallback,
            loc,
        });
    }

    /// A condition that cannot be read: its variable targets, and the
    /// variables of its family targets (once every file is merged), cannot
    /// be read.
    pub(super) fn break_targets(&mut self, loc: Location, targets: &[Target], why: String) {
        let vars: Vec<String> = targets
            .iter()
            .filter(|t| t.kind == TargetKind::Variable)
            .map(|t| t.name.clone())
            .collect();
        self.broken(loc, &vars, false, why);
        let warning = self.warnings.len() - 1;
        for t in targets.iter().filter(|t| t.kind == TargetKind::Family) {
            self.broken_families.push((t.name.clone(), warning));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::load_str;
    use super::super::load_texts;
    use super::super::tests::warns;
    use crate::dico::ParamValue;

    /// Two valid_enum on one variable, in two dictionaries: the later list
    /// replaces the earlier one, as in Creole; other checks add up.
    #[test]
    fn a_later_valid_enum_replaces_the_earlier_one() {
        let a = "<creole><variables><family name='f'><variable name='v'><value>local</value></variable></family></variables>
             <constraints><check name='valid_enum' target='v'><param>['non', 'distant']</param></check>
             <check name='valid_regexp' target='v'><param>^[a-z]+$</param></check></constraints></creole>";
        let b = "<creole><constraints><check name='valid_enum' target='v'><param>['local', 'distant']</param></check></constraints></creole>";
        let out = load_texts(&[("10_a.xml", a), ("20_b.xml", b)]);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let checks = &out.dicos.checks;
        assert_eq!(checks.len(), 2);
        let e = checks.iter().find(|c| c.func == "valid_enum").unwrap();
        assert_eq!(e.loc.file.to_str(), Some("20_b.xml"));
        assert_eq!(
            e.params[0].value,
            ParamValue::Text("['local', 'distant']".into())
        );
    }

    #[test]
    fn unknown_condition_kind_breaks_its_targets() {
        let w = warns("<creole><variables><family name='f'><variable name='v'/><variable name='s'/></family></variables>
             <constraints><condition name='vanish_if_in' source='s'><param>a</param><target>v</target></condition></constraints></creole>");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("t.xml:2:27: variable 'v'")
                && w[0].contains("vanish_if_in")
                && w[0].ends_with("this variable cannot be read: v"),
            "{w:?}"
        );
    }

    /// An unreadable literal, a second <fill>: the target loses its
    /// computed value (what reads it too), nothing else does.
    #[test]
    fn broken_calculations_break_their_target_only() {
        let out = load_str(
            "<creole><variables><family name='f'>
               <variable name='a'/><variable name='b'/><variable name='c'/><variable name='d'/>
             </family></variables><constraints>
               <fill name='calc_val' target='a'><param type='number'>1.5</param></fill>
               <fill name='calc_val' target='b'><param type='eole'>a</param></fill>
               <fill name='calc_val' target='c'><param>x</param></fill>
               <auto name='calc_val' target='c'><param>y</param></auto>
             </constraints></creole>",
            "t.xml",
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let w: Vec<String> = out.warnings.iter().map(|e| e.to_string()).collect();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("t.xml:4:16: variable 'a'")
                && w[0].contains("'1.5'")
                && w[0].ends_with("unless config.eol stores their value: a, b"),
            "{w:?}"
        );
        assert!(
            w[1].starts_with("t.xml:7:16: variable 'c'") && w[1].contains("first is at t.xml:6:16"),
            "{w:?}"
        );
        let broken: Vec<(&str, bool)> = out
            .dicos
            .broken
            .iter()
            .map(|b| (b.variable.as_str(), b.value_only))
            .collect();
        assert_eq!(broken, [("a", true), ("c", true)]);
    }
}
