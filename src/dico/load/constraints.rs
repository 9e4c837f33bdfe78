//! The `<constraints>` element: calculations (`<fill>`, `<auto>`), checks,
//! conditions and groups, and the `<param>` lists they take.
//!
//! Its own file because constraints only record references to variables;
//! whether those exist is decided once every file is read (`consistency`).

use super::super::model::*;
use super::super::xml::Element;
use super::{FileCtx, Loader};

impl Loader {
    fn read_params(&mut self, ctx: &FileCtx<'_>, el: &Element, owner: &str) -> Vec<Param> {
        let mut params = Vec::new();
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
                Some("number") => {
                    match text.parse::<i64>() {
                        Ok(n) => ParamValue::Number(n),
                        Err(_) => {
                            self.err(
                            loc,
                            None,
                            format!("{owner}: a number parameter must be a whole number, found '{text}'"),
                        );
                            continue;
                        }
                    }
                }
                Some("python") => ParamValue::Python(text.to_string()),
                Some(other) => {
                    self.err(
                        loc,
                        None,
                        format!(
                            "{owner}: unknown parameter type '{other}'; expected eole, number, python or none"
                        ),
                    );
                    continue;
                }
            };
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
        params
    }

    pub(super) fn read_constraints(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        for c in &el.children {
            let loc = ctx.loc(c);
            match c.name.as_str() {
                "fill" | "auto" => {
                    self.unknown_attrs(ctx, c, &["name", "target"]);
                    let (Some(func), Some(target)) = (c.attr("name"), c.attr("target")) else {
                        self.err(
                            loc,
                            None,
                            format!("<{}> needs both 'name' and 'target'", c.name),
                        );
                        continue;
                    };
                    let target = self.resolve_ref(ctx.ns, target);
                    let kind = if c.name == "fill" {
                        CalcKind::Fill
                    } else {
                        CalcKind::Auto
                    };
                    let params = self.read_params(ctx, c, &format!("<{} name='{func}'>", c.name));
                    if let Some(old) = self.d.calcs.get(&target) {
                        let first = old.loc.clone();
                        self.err(
                            loc,
                            Some(&target),
                            format!("has a second <fill>/<auto> (the first is at {first})"),
                        );
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
                        self.err(loc, None, "<check> needs both 'name' and 'target'");
                        continue;
                    };
                    let level = match c.attr("level") {
                        None | Some("error") => Level::Error,
                        Some("warning") => Level::Warning,
                        Some(other) => {
                            self.err(
                                loc,
                                Some(target),
                                format!("check level must be error or warning, found '{other}'"),
                            );
                            continue;
                        }
                    };
                    let target = self.resolve_ref(ctx.ns, target);
                    let params = self.read_params(ctx, c, &format!("<check name='{func}'>"));
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
                    let Some(master) = c.attr("master") else {
                        self.err(loc, None, "<group> has no 'master'");
                        continue;
                    };
                    let master = self.resolve_ref(ctx.ns, master);
                    let slaves: Vec<String> = c
                        .children
                        .iter()
                        .filter(|s| s.name == "slave")
                        .map(|s| self.resolve_ref(ctx.ns, &s.text))
                        .collect();
                    if slaves.is_empty() {
                        self.err(loc, Some(&master), "<group> has no <slave>");
                        continue;
                    }
                    if let Some(old) = self.d.groups.get(&master) {
                        let first = old.loc.clone();
                        self.err(
                            loc,
                            Some(&master),
                            format!("is the master of a second <group> (the first is at {first})"),
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

    fn read_condition(&mut self, ctx: &FileCtx<'_>, c: &Element) {
        self.unknown_attrs(ctx, c, &["name", "source", "fallback"]);
        let loc = ctx.loc(c);
        let (Some(kind_name), Some(source)) = (c.attr("name"), c.attr("source")) else {
            self.err(loc, None, "<condition> needs both 'name' and 'source'");
            return;
        };
        let Some(kind) = CondKind::from_name(kind_name) else {
            self.err(
                loc,
                None,
                format!(
                    "unknown condition '{kind_name}'; expected disabled_if_in, disabled_if_not_in, \
                     hidden_if_in, hidden_if_not_in, frozen_if_in, frozen_if_not_in, \
                     mandatory_if_in or mandatory_if_not_in"
                ),
            );
            return;
        };
        let fallback = self.bool_attr(ctx, c, "fallback", None).unwrap_or(false);
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
                        self.err(ctx.loc(p), None, "<target> is empty");
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
        if targets.is_empty() {
            self.err(
                loc,
                None,
                format!("<condition name='{kind_name}' source='{source}'> has no <target>"),
            );
            return;
        }
        self.d.conditions.push(Condition {
            kind,
            source: self.resolve_ref(ctx.ns, source),
            values,
            targets,
            fallback,
            loc,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::load_texts;
    use super::super::tests::errs;
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
    fn unknown_condition_kind_is_an_error() {
        let e = errs("<creole><variables><family name='f'><variable name='v'/></family></variables>
             <constraints><condition name='vanish_if_in' source='v'><param>a</param><target>v</target></condition></constraints></creole>");
        assert!(e[0].contains("vanish_if_in"));
    }
}
