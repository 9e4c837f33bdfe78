//! The `<variables>` element (families, variables, separators) and the
//! `<help>` texts about them, with the merge rules of a later dictionary:
//! `redefine`, `exists`, `remove_condition` and `remove_check`.
//!
//! Its own file because declaring and merging variables is the heart of
//! the loader, and the longest element family.

use super::super::VarType;
use super::super::model::*;
use super::super::xml::Element;
use super::{FileCtx, Loader};

impl Loader {
    /// The full name of a variable declared in namespace `ns`.
    fn full_name(ns: Option<&str>, family: &str, name: &str) -> String {
        match ns {
            Some(ns) => format!("{ns}.{family}.{name}"),
            None => name.to_string(),
        }
    }

    pub(super) fn read_variables(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        for child in &el.children {
            match child.name.as_str() {
                "family" => self.read_family(ctx, child),
                "separators" => {
                    for sep in &child.children {
                        if sep.name != "separator" {
                            continue;
                        }
                        match sep.attr("name") {
                            Some(var) => {
                                let full = self.resolve_ref(ctx.ns, var);
                                self.d.separators.insert(full, sep.text.trim().to_string());
                            }
                            None => self.err(ctx.loc(sep), None, "<separator> has no 'name'"),
                        }
                    }
                }
                other => self.notice(
                    ctx.loc(child),
                    format!("unknown element <{other}> in <variables> is ignored"),
                ),
            }
        }
    }

    fn read_family(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        self.unknown_attrs(
            ctx,
            el,
            &["name", "mode", "hidden", "icon", "dynamic", "description"],
        );
        let loc = ctx.loc(el);
        let Some(raw_name) = el.attr("name").filter(|n| !n.trim().is_empty()) else {
            self.err(loc, None, "<family> has no 'name'");
            return;
        };
        let fname = match ctx.ns {
            Some(ns) => format!("{ns}.{raw_name}"),
            None => raw_name.to_string(),
        };
        let mode = match el.attr("mode").map(|m| (m, Mode::from_name(m))) {
            None => Mode::Normal,
            Some((_, Some(m))) => m,
            Some((m, None)) => {
                self.err(
                    loc.clone(),
                    None,
                    format!("family '{fname}': mode must be basic, normal or expert, found '{m}'"),
                );
                Mode::Normal
            }
        };
        let hidden = self.bool_attr(ctx, el, "hidden", None).unwrap_or(false);
        let dynamic = el.attr("dynamic").map(|v| self.resolve_ref(ctx.ns, v));
        if dynamic.is_some() && !fname.contains(DYNAMIC_PLACEHOLDER) {
            self.err(
                loc.clone(),
                None,
                format!("dynamic family '{fname}' must hold {DYNAMIC_PLACEHOLDER} in its name"),
            );
        }
        let fam = self
            .d
            .families
            .entry(fname.clone())
            .or_insert_with(|| Family {
                name: fname.clone(),
                mode,
                hidden,
                icon: el.attr("icon").map(str::to_string),
                variables: Vec::new(),
                dynamic: dynamic.clone(),
                loc: loc.clone(),
            });
        if fam.icon.is_none() {
            fam.icon = el.attr("icon").map(str::to_string);
        }
        if el.attr("mode").is_some() {
            fam.mode = mode;
        }
        if el.attr("hidden").is_some() {
            fam.hidden = hidden;
        }
        let is_dynamic = fam.dynamic.is_some();
        for child in &el.children {
            if child.name == "variable" {
                self.read_variable(ctx, child, &fname, raw_name, is_dynamic);
            } else {
                self.notice(
                    ctx.loc(child),
                    format!("unknown element <{}> in a family is ignored", child.name),
                );
            }
        }
    }

    fn read_variable(
        &mut self,
        ctx: &FileCtx<'_>,
        el: &Element,
        family: &str,
        raw_family: &str,
        dynamic: bool,
    ) {
        self.unknown_attrs(
            ctx,
            el,
            &[
                "name",
                "type",
                "description",
                "mode",
                "mandatory",
                "hidden",
                "multi",
                "redefine",
                "exists",
                "auto_freeze",
                "auto_save",
                "remove_condition",
                "remove_check",
                "disabled",
                "never_hidden",
                "submulti",
            ],
        );
        let loc = ctx.loc(el);
        let Some(raw) = el.attr("name").filter(|n| !n.trim().is_empty()) else {
            self.err(loc, None, "<variable> has no 'name'");
            return;
        };
        let name = Self::full_name(ctx.ns, raw_family, raw);
        let var = Some(name.as_str());
        if dynamic != name.contains(DYNAMIC_PLACEHOLDER) {
            let msg = if dynamic {
                format!(
                    "a variable of a dynamic family must hold {DYNAMIC_PLACEHOLDER} in its name"
                )
            } else {
                format!(
                    "{DYNAMIC_PLACEHOLDER} may only appear in the names of a dynamic family's variables"
                )
            };
            self.err(loc.clone(), var, msg);
            return;
        }
        let ty = match el.attr("type") {
            None => None,
            Some(t) => match VarType::from_name(t) {
                Some(ty) => Some(ty),
                None => {
                    let known: Vec<&str> = VarType::all().iter().map(|t| t.name()).collect();
                    self.err(
                        loc.clone(),
                        var,
                        format!("unknown type '{t}'; expected one of: {}", known.join(", ")),
                    );
                    return;
                }
            },
        };
        let mode = match el.attr("mode") {
            None => None,
            Some(m) => match Mode::from_name(m) {
                Some(m) => Some(m),
                None => {
                    self.err(
                        loc.clone(),
                        var,
                        format!("mode must be basic, normal or expert, found '{m}'"),
                    );
                    None
                }
            },
        };
        let b = |s: &mut Self, attr: &str| s.bool_attr(ctx, el, attr, var);
        let mandatory = b(self, "mandatory");
        let hidden = b(self, "hidden");
        let multi = b(self, "multi");
        let disabled = b(self, "disabled");
        let auto_freeze = b(self, "auto_freeze");
        let auto_save = b(self, "auto_save");
        let redefine = b(self, "redefine").unwrap_or(false);
        let exists = b(self, "exists").unwrap_or(true);
        let remove_condition = b(self, "remove_condition").unwrap_or(false);
        let remove_check = b(self, "remove_check").unwrap_or(false);
        let mut values = Vec::new();
        for child in &el.children {
            if child.name == "value" {
                values.push(child.text.clone());
            } else {
                self.notice(
                    ctx.loc(child),
                    format!(
                        "unknown element <{}> in variable '{name}' is ignored",
                        child.name
                    ),
                );
            }
        }

        let existing = self.d.variables.contains_key(&name);
        if redefine {
            if !existing {
                if !exists {
                    // redefine + exists="False": change it only if some
                    // package declared it; nothing to do otherwise.
                    return;
                }
                self.err(
                    loc,
                    var,
                    "redefine=\"True\" but no earlier dictionary declares this variable",
                );
                return;
            }
            if let Some(v) = self.d.variables.get_mut(&name) {
                if let Some(ty) = ty {
                    v.ty = ty;
                }
                if let Some(d) = el.attr("description") {
                    v.description = d.to_string();
                }
                if let Some(m) = mode {
                    v.mode = m;
                }
                if let Some(x) = mandatory {
                    v.mandatory = x;
                }
                if let Some(x) = hidden {
                    v.hidden = x;
                }
                if let Some(x) = multi {
                    v.multi = x;
                }
                if let Some(x) = disabled {
                    v.disabled = x;
                }
                if let Some(x) = auto_freeze {
                    v.auto_freeze = x;
                }
                if let Some(x) = auto_save {
                    v.auto_save = x;
                }
                if !values.is_empty() {
                    v.defaults = values;
                }
            }
            if remove_condition {
                self.remove_conditions_on(&name);
            }
            if remove_check {
                self.d.checks.retain(|c| c.target != name);
            }
            return;
        }
        if existing {
            if !exists {
                return;
            }
            let first = self
                .d
                .variables
                .get(&name)
                .map(|v| v.loc.to_string())
                .unwrap_or_default();
            self.err(
                loc,
                var,
                format!(
                    "declared twice (first at {first}); a later dictionary changes a variable with redefine=\"True\""
                ),
            );
            return;
        }
        if remove_condition || remove_check {
            self.notice(
                loc.clone(),
                format!("variable '{name}': remove_condition/remove_check only act with redefine=\"True\""),
            );
        }
        let v = Variable {
            name: name.clone(),
            ty: ty.unwrap_or(VarType::String),
            description: el.attr("description").unwrap_or_default().to_string(),
            mode: mode.unwrap_or_default(),
            mandatory: mandatory.unwrap_or(false),
            hidden: hidden.unwrap_or(false),
            multi: multi.unwrap_or(false),
            disabled: disabled.unwrap_or(false),
            auto_freeze: auto_freeze.unwrap_or(false),
            auto_save: auto_save.unwrap_or(false),
            defaults: values,
            family: family.to_string(),
            dynamic,
            template: None,
            loc,
        };
        self.d.variables.insert(name.clone(), v);
        if let Some(f) = self.d.families.get_mut(family) {
            f.variables.push(name);
        }
    }

    /// `remove_condition`: drop the target from every condition declared so
    /// far; a condition left with no target goes.
    fn remove_conditions_on(&mut self, name: &str) {
        for c in &mut self.d.conditions {
            c.targets
                .retain(|t| !(t.kind == TargetKind::Variable && t.name == name));
        }
        self.d.conditions.retain(|c| !c.targets.is_empty());
    }

    pub(super) fn read_help(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        for h in &el.children {
            let Some(name) = h.attr("name") else {
                self.err(
                    ctx.loc(h),
                    None,
                    format!("<{}> in <help> has no 'name'", h.name),
                );
                continue;
            };
            let text = h.text.trim().to_string();
            match h.name.as_str() {
                "variable" => {
                    let full = self.resolve_ref(ctx.ns, name);
                    self.d.help_variables.insert(full, text);
                }
                "family" => {
                    let full = match ctx.ns {
                        Some(ns) => format!("{ns}.{name}"),
                        None => name.to_string(),
                    };
                    self.d.help_families.insert(full, text);
                }
                other => self.notice(
                    ctx.loc(h),
                    format!("unknown element <{other}> in <help> is ignored"),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::super::tests::{errs, ok};
    use super::*;

    #[test]
    fn reads_a_variable_with_defaults_and_family() {
        let d = ok(r#"<creole><variables><family name='général' mode='expert'>
            <variable name='v' type='number' description='D' mandatory='True' multi='True'>
              <value>1</value><value>2</value></variable></family></variables></creole>"#);
        let v = &d.variables["v"];
        assert_eq!(v.defaults, vec!["1", "2"]);
        assert!(v.multi && v.mandatory);
        assert_eq!(v.family, "général");
        assert_eq!(d.families["général"].mode, Mode::Expert);
        assert_eq!(v.loc.line, 2);
    }

    #[test]
    fn bad_type_names_the_variable_and_the_type() {
        let e = errs(
            "<creole><variables><family name='f'><variable name='v' type='ipv9'/></family></variables></creole>",
        );
        assert!(
            e[0].contains("variable 'v'") && e[0].contains("'ipv9'"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn extra_namespace_prefixes_names() {
        let mut l = Loader::default();
        l.load_text(
            "<creole><variables><family name='fam'><variable name='day' type='string'/></family></variables>
             <constraints><fill name='calc_val' target='sched.fam.day'><param>x</param></fill></constraints></creole>",
            Arc::from(Path::new("e.xml")),
            Some("sched"),
        );
        let out = l.finish();
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert!(out.dicos.variables.contains_key("sched.fam.day"));
        assert!(out.dicos.families.contains_key("sched.fam"));
    }
}
