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
                            None => self.warn(
                                ctx.loc(sep),
                                None,
                                "<separator> has no 'name'; it is ignored",
                            ),
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
            let vars = declared_names(el);
            self.warn(
                loc,
                None,
                format!(
                    "<family> has no 'name'; it is ignored with its variables ({})",
                    vars.join(", ")
                ),
            );
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
                self.warn(
                    loc.clone(),
                    None,
                    format!(
                        "family '{fname}': mode must be basic, normal or expert, found '{m}'; normal is used"
                    ),
                );
                Mode::Normal
            }
        };
        let hidden = self.bool_attr(ctx, el, "hidden", None).unwrap_or(false);
        let mut dynamic = el.attr("dynamic").map(|v| self.resolve_ref(ctx.ns, v));
        if dynamic.is_some() && !fname.contains(DYNAMIC_PLACEHOLDER) {
            self.warn(
                loc.clone(),
                None,
                format!(
                    "dynamic family '{fname}' must hold {DYNAMIC_PLACEHOLDER} in its name; it is read as an ordinary family"
                ),
            );
            dynamic = None;
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
            } else if child.name == "family" {
                // Creole's DTD allows only <variable> in a <family>, so
                // Creole keeps none of these variables either; they are
                // named, not dropped silently.
                let inner = child.attr("name").unwrap_or_default();
                let vars = declared_names(child);
                self.warn(
                    ctx.loc(child),
                    None,
                    format!(
                        "family '{inner}' is nested in family '{fname}' (a family holds only variables): it is ignored with its variables ({})",
                        if vars.is_empty() {
                            "none".to_string()
                        } else {
                            vars.join(", ")
                        }
                    ),
                );
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
            self.warn(loc, None, "<variable> has no 'name'; it is ignored");
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
            self.warn(loc.clone(), var, format!("{msg}; it is ignored"));
            return;
        }
        // Why the declaration cannot be used as written: the variable is
        // still declared (so what reads it finds it), but cannot be read.
        let mut broken: Option<String> = None;
        let ty = match el.attr("type") {
            None => None,
            Some(t) => match VarType::from_name(t) {
                Some(ty) => Some(ty),
                None => {
                    let known: Vec<&str> = VarType::all().iter().map(|t| t.name()).collect();
                    broken = Some(format!(
                        "unknown type '{t}'; expected one of: {}",
                        known.join(", ")
                    ));
                    None
                }
            },
        };
        let mode = match el.attr("mode") {
            None => None,
            Some(m) => match Mode::from_name(m) {
                Some(m) => Some(m),
                None => {
                    self.warn(
                        loc.clone(),
                        var,
                        format!(
                            "mode must be basic, normal or expert, found '{m}'; normal is used"
                        ),
                    );
                    None
                }
            },
        };
        // A boolean that is neither True nor False breaks the variable
        // (below): it is read as absent meanwhile.
        let b = |attr: &str| el.attr(attr).and_then(super::parse_bool);
        let mandatory = b("mandatory");
        let hidden = b("hidden");
        let multi = b("multi");
        let disabled = b("disabled");
        let auto_freeze = b("auto_freeze");
        let auto_save = b("auto_save");
        let redefine = b("redefine").unwrap_or(false);
        let exists = b("exists").unwrap_or(true);
        let remove_condition = b("remove_condition").unwrap_or(false);
        let remove_check = b("remove_check").unwrap_or(false);
        if let Some((attr, v)) = el
            .attrs
            .iter()
            .find(|(k, v)| BOOL_ATTRS.contains(&k.as_str()) && super::parse_bool(v).is_none())
        {
            broken.get_or_insert(format!(
                "attribute '{attr}' must be True or False, found '{v}'"
            ));
        }
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
                self.warn(
                    loc,
                    var,
                    "redefine=\"True\" but no earlier dictionary declares this variable; the redefinition is ignored",
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
            if let Some(why) = broken {
                self.broken(loc, &[name], false, why);
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
        let vloc = v.loc.clone();
        self.d.variables.insert(name.clone(), v);
        if let Some(f) = self.d.families.get_mut(family) {
            f.variables.push(name.clone());
        }
        if let Some(why) = broken {
            self.broken(vloc, &[name], false, why);
        }
    }
}

/// The boolean attributes of a `<variable>`.
const BOOL_ATTRS: &[&str] = &[
    "mandatory",
    "hidden",
    "multi",
    "disabled",
    "auto_freeze",
    "auto_save",
    "redefine",
    "exists",
    "remove_condition",
    "remove_check",
];

/// The names of the `<variable>`s an element holds, at any depth (what an
/// ignored family takes with it).
fn declared_names(el: &Element) -> Vec<String> {
    let mut out = Vec::new();
    for c in &el.children {
        match c.name.as_str() {
            "variable" => out.extend(c.attr("name").map(str::to_string)),
            "family" => out.extend(declared_names(c)),
            _ => {}
        }
    }
    out
}

impl Loader {
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
                self.warn(
                    ctx.loc(h),
                    None,
                    format!("<{}> in <help> has no 'name'; it is ignored", h.name),
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

    use super::super::load_str;
    use super::super::tests::{errs, ok, warns};
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
        let out = load_str(
            "<creole><variables><family name='f'><variable name='v' type='ipv9'/><variable name='w'/></family></variables></creole>",
            "t.xml",
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let w = out.warnings[0].to_string();
        assert!(
            w.starts_with("t.xml:1:37: variable 'v'") && w.contains("'ipv9'"),
            "{w}"
        );
        // Still declared, but unreadable; its neighbour is not touched.
        assert_eq!(out.dicos.broken.len(), 1);
        assert_eq!(out.dicos.broken[0].variable, "v");
        assert!(out.dicos.variables.contains_key("w"));
    }

    /// Only two declarations of one variable stop the load.
    #[test]
    fn declared_twice_is_fatal_redefining_nothing_is_not() {
        let e = errs(
            "<creole><variables><family name='f'><variable name='v'/>\n<variable name='v'/></family></variables></creole>",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("t.xml:2:1: variable 'v'") && e[0].contains("first at t.xml:1:"),
            "{e:?}"
        );
        let w = warns(
            "<creole><variables><family name='f'><variable name='v' redefine='True'/></family></variables></creole>",
        );
        assert!(
            w[0].contains("redefine") && w[0].contains("ignored"),
            "{w:?}"
        );
    }

    /// A family holds only variables (Creole's DTD): a nested one is
    /// named with every variable it takes with it.
    #[test]
    fn a_nested_family_is_a_warning_naming_its_variables() {
        let out = load_str(
            "<creole><variables><family name='outer'><variable name='a'/>
               <family name='inner'><variable name='b'/><variable name='c'/></family>
             </family></variables></creole>",
            "t.xml",
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let w: Vec<String> = out.warnings.iter().map(|e| e.to_string()).collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("t.xml:2:16: family 'inner' is nested in family 'outer'")
                && w[0].contains("(b, c)"),
            "{w:?}"
        );
        assert!(out.dicos.variables.contains_key("a"));
        assert!(!out.dicos.variables.contains_key("b"));
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
