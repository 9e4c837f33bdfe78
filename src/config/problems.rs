//! Problems of the values: invalid stored values, failed checks (including
//! `valid_unique` across dynamic instances), missing mandatory values,
//! calculations that cannot run and functions conteneur does not support.
//!
//! Its own file because validation only reads the configuration: it sits
//! on top of resolution and properties, and `set` asks it before keeping a
//! change.

use std::collections::HashSet;
use std::sync::Arc;

use super::errors::conceal;
use super::funcs;
use super::read::CheckFailure;
use super::{
    Config, HashMap, Problem, ProblemKind, Props, Severity, Value, ValueError, checks, types,
};
use crate::dico::{self, CalcKind, Level, ParamValue, VarType, Variable};

impl Config {
    /// Every problem of the values: invalid stored values, failed checks,
    /// missing mandatory values, calculations that cannot run, functions
    /// conteneur does not support.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = self.notes.clone();
        out.extend(self.unsupported());
        for name in self.dicos.variables.keys() {
            let props = match self.props(name) {
                Ok(p) => p,
                Err(e) => {
                    push_value_error(&mut out, name, e);
                    continue;
                }
            };
            if props.disabled.is_some() {
                continue;
            }
            match self.resolve(name) {
                Ok(r) => self.value_problems(name, &r.value, &props, &mut out),
                Err(e) => push_value_error(&mut out, name, e),
            }
        }
        out
    }

    /// Functions and parameters conteneur cannot evaluate, listed once per
    /// declaration whether or not a value needs them now: warnings, each
    /// naming the variables it leaves uncomputed or unchecked (Creole's
    /// server computes them; conteneur reads what it stored).
    pub fn unsupported(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let readers = self.base.readers();
        let affected = |target: &str, computed: bool| -> String {
            let all = self.base.dependents_in(&readers, &[target]);
            if computed {
                format!(
                    "; without a value stored in config.eol, {} cannot be computed: {}",
                    if all.len() == 1 {
                        "this variable"
                    } else {
                        "these variables"
                    },
                    all.join(", ")
                )
            } else {
                format!("; '{target}' is not checked by it")
            }
        };
        for calc in self.base.calcs.values() {
            let kind = if calc.kind == CalcKind::Fill {
                "fill"
            } else {
                "auto"
            };
            if !funcs::is_calc(&calc.func) && seen.insert((calc.func.clone(), calc.target.clone()))
            {
                out.push(Problem {
                    severity: Severity::Warning,
                    kind: ProblemKind::Unsupported,
                    variable: Some(calc.target.clone()),
                    loc: Some(calc.loc.clone()),
                    message: format!(
                        "<{kind} name='{}'>: conteneur does not support this function{}",
                        calc.func,
                        affected(&calc.target, true)
                    ),
                });
            }
            for p in &calc.params {
                if let ParamValue::Python(expr) = &p.value {
                    out.push(Problem {
                        severity: Severity::Warning,
                        kind: ProblemKind::Unsupported,
                        variable: Some(calc.target.clone()),
                        loc: Some(p.loc.clone()),
                        message: format!(
                            "<{kind} name='{}'>: Python parameter '{expr}' is not evaluated{}",
                            calc.func,
                            affected(&calc.target, true)
                        ),
                    });
                }
            }
        }
        for check in &self.base.checks {
            if !funcs::is_check(&check.func)
                && seen.insert((check.func.clone(), check.target.clone()))
            {
                out.push(Problem {
                    severity: Severity::Warning,
                    kind: ProblemKind::Unsupported,
                    variable: Some(check.target.clone()),
                    loc: Some(check.loc.clone()),
                    message: format!(
                        "<check name='{}'>: conteneur does not support this check; it is not applied{}",
                        check.func,
                        affected(&check.target, false)
                    ),
                });
            }
            for p in &check.params {
                if let ParamValue::Python(expr) = &p.value {
                    out.push(Problem {
                        severity: Severity::Warning,
                        kind: ProblemKind::Unsupported,
                        variable: Some(check.target.clone()),
                        loc: Some(p.loc.clone()),
                        message: format!(
                            "<check name='{}'>: Python parameter '{expr}' is not evaluated; the check is not applied",
                            check.func
                        ),
                    });
                }
            }
        }
        out
    }

    /// Problems of one value: type, mandatory, checks.
    fn value_problems(&self, name: &str, value: &Value, props: &Props, out: &mut Vec<Problem>) {
        let Ok(var) = self.variable(name) else { return };
        let is_slave = self.idx.master_of.contains_key(name);
        let problem = |severity, message: String| Problem {
            severity,
            kind: ProblemKind::Value,
            variable: Some(name.to_string()),
            loc: None,
            message,
        };
        // An empty entry is no value, as for `get` (EOLE 2.3 stored an empty
        // list as ['']; Creole runs with it): only `mandatory` is about it.
        let unset_empty = |x: &Option<String>| x.clone().filter(|s| !s.is_empty());
        let value = &match value {
            Value::Single(x) => Value::Single(unset_empty(x)),
            Value::Multi(v) => Value::Multi(v.iter().map(unset_empty).collect()),
        };
        for item in value.present() {
            if let Err(e) = types::validate(var.ty, item) {
                let sev = if e.warning_only {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                out.push(problem(
                    sev,
                    format!("{} (expected {})", e.reason, e.expected),
                ));
            }
        }
        // Creole asks only for what the admin sees: a hidden variable (by
        // its attribute, its family, a hidden_if_* condition or its
        // master) is never reported as missing, as tiramisu's
        // mandatory_warnings only yields variables whose one failing
        // property is `mandatory`.
        if props.mandatory && !props.hidden {
            let missing = if is_slave {
                value.items().iter().any(|x| x.is_none_or(str::is_empty))
            } else {
                value.is_empty()
            };
            if missing {
                out.push(problem(
                    Severity::Error,
                    format!(
                        "is mandatory and has no value; set it with: CreoleSet {name} VALUE ({})",
                        var.description
                    ),
                ));
            }
        }
        for &ci in self.idx.checks_of.get(name).into_iter().flatten() {
            let check = &self.dicos.checks[ci];
            match self.run_check_on(check, name, var, value) {
                Ok(()) => {}
                // A Python parameter of the check itself: `unsupported`
                // lists the declaration once.
                Err(CheckFailure::NotEvaluated(_))
                    if check
                        .params
                        .iter()
                        .any(|p| matches!(p.value, ParamValue::Python(_))) => {}
                // A parameter conteneur cannot evaluate (a Python one, or a
                // variable computed by a function it does not support): the
                // check is not applied, a warning that names the variable.
                Err(CheckFailure::NotEvaluated(reason)) => out.push(Problem {
                    severity: Severity::Warning,
                    kind: ProblemKind::Unsupported,
                    variable: Some(name.to_string()),
                    loc: Some(check.loc.clone()),
                    message: format!("check '{}' is not applied: {reason}", check.func),
                }),
                Err(failure) => {
                    // A check that cannot run is the dictionary's fault: the
                    // variable cannot be read (get says why), a warning here.
                    let cannot_run = matches!(failure, CheckFailure::CannotRun(_));
                    let message = failure.into_message(&check.func);
                    let sev = match check.level {
                        Level::Error if !cannot_run => Severity::Error,
                        _ => Severity::Warning,
                    };
                    let mut p = problem(sev, message);
                    p.loc = Some(check.loc.clone());
                    out.push(p);
                }
            }
        }
    }

    /// Runs one check on every value; unknown checks pass (lint lists
    /// them). The error says whether the check could not run or which item
    /// it refused.
    pub(super) fn run_check_on(
        &self,
        check: &dico::Check,
        name: &str,
        var: &Variable,
        value: &Value,
    ) -> Result<(), CheckFailure> {
        let secret = var.ty == VarType::Password;
        self.run_check_raw(check, name, var, value)
            .map_err(|failure| match failure {
                CheckFailure::Refused { item, message } => CheckFailure::Refused {
                    message: conceal(message, &item, secret),
                    item,
                },
                other => other,
            })
    }

    /// [`Self::run_check_on`], its messages as the check words them.
    fn run_check_raw(
        &self,
        check: &dico::Check,
        name: &str,
        var: &Variable,
        value: &Value,
    ) -> Result<(), CheckFailure> {
        if check.func == "valid_unique" {
            return self.valid_unique(name, var, value);
        }
        if !funcs::is_check(&check.func) {
            return Ok(());
        }
        let args = self
            .args(&check.params, name, &check.func, &check.loc)
            .map_err(|e| match e {
                // conteneur's limit, not the dictionary's fault: the check
                // is not applied (lint lists the function).
                ValueError::Unsupported { .. } | ValueError::Python { .. } => {
                    CheckFailure::NotEvaluated(e.to_string())
                }
                e => CheckFailure::CannotRun(e.to_string()),
            })?;
        // A list that cannot be read is the dictionary's fault, whatever the
        // value (Creole fails on it when it builds the variable).
        if check.func == "valid_enum" {
            checks::enum_choices(&args).map_err(CheckFailure::CannotRun)?;
        }
        if check.func == "check_name_uniq" {
            return funcs::check_name_uniq(&value.items(), &args)
                .map_err(|(item, message)| CheckFailure::Refused { item, message });
        }
        for item in value.present() {
            if let Some(Err(message)) = checks::run(&check.func, item, &args) {
                return Err(CheckFailure::Refused {
                    item: item.to_string(),
                    message,
                });
            }
        }
        Ok(())
    }

    /// No two instances of a dynamic variable (and no two entries of a list)
    /// share a value: container names, published ports.
    fn valid_unique(&self, name: &str, var: &Variable, value: &Value) -> Result<(), CheckFailure> {
        let present = value.present();
        let mut own = HashSet::new();
        for item in &present {
            if !own.insert(*item) {
                return Err(CheckFailure::Refused {
                    item: item.to_string(),
                    message: format!("'{item}' is given twice"),
                });
            }
        }
        let Some((template, _)) = &var.template else {
            return Ok(());
        };
        let users = self.unique_users(template);
        for item in present {
            if let Some(others) = users.get(item) {
                let others: Vec<&str> = others
                    .iter()
                    .map(String::as_str)
                    .filter(|o| *o != name)
                    .collect();
                if !others.is_empty() {
                    return Err(CheckFailure::Refused {
                        item: item.to_string(),
                        message: format!("'{item}' is already used by {}", others.join(", ")),
                    });
                }
            }
        }
        Ok(())
    }

    fn unique_users(&self, template: &Arc<str>) -> Arc<HashMap<String, Vec<String>>> {
        if let Some(m) = self.memo.borrow().unique.get(template) {
            return m.clone();
        }
        let mut map: HashMap<String, Vec<String>> = HashMap::default();
        for v in self.dicos.variables.values() {
            if v.template.as_ref().map(|t| &t.0) != Some(template) {
                continue;
            }
            if !matches!(self.props(&v.name), Ok(p) if p.disabled.is_none()) {
                continue;
            }
            if let Ok(r) = self.resolve(&v.name) {
                for item in r.value.present() {
                    map.entry(item.to_string())
                        .or_default()
                        .push(v.name.clone());
                }
            }
        }
        let map = Arc::new(map);
        self.memo
            .borrow_mut()
            .unique
            .insert(template.clone(), map.clone());
        map
    }

    /// The problems of one active variable (used by `set` and genconfig).
    pub fn problems_of(&self, name: &str) -> Vec<Problem> {
        let mut out = Vec::new();
        let props = match self.props(name) {
            Ok(p) => p,
            Err(e) => {
                push_value_error(&mut out, name, e);
                return out;
            }
        };
        if props.disabled.is_some() {
            return out;
        }
        match self.resolve(name) {
            Ok(r) => self.value_problems(name, &r.value, &props, &mut out),
            Err(e) => push_value_error(&mut out, name, e),
        }
        out
    }

    /// The values a `valid_enum` check of `name` lists, and whether they are
    /// enforced (`checkval="False"` makes them a suggestion only).
    ///
    /// genconfig offers them as a choice list instead of a text field; the
    /// list is read through the same check declaration the engine applies,
    /// so the editor never offers a value `set` would refuse. `None`: no
    /// `valid_enum` on the variable, or its list cannot be read (lint says
    /// why).
    pub fn enum_choices(&self, name: &str) -> Option<(Vec<String>, bool)> {
        let check = self
            .idx
            .checks_of
            .get(name)?
            .iter()
            .map(|&ci| &self.dicos.checks[ci])
            .find(|c| c.func == "valid_enum")?;
        let args = self
            .args(&check.params, name, &check.func, &check.loc)
            .ok()?;
        checks::enum_choices(&args).ok()
    }
}

/// Adds a value that cannot be computed to the problems. Unsupported
/// functions and broken declarations are left out: `unsupported` and the
/// dictionary warnings list each declaration once, with the variables it
/// leaves unreadable, instead of once per variable that depends on it.
/// Other faults of the dictionaries (a circular calculation, a check that
/// cannot be read) are warnings: the variable cannot be read, the rest
/// works.
fn push_value_error(out: &mut Vec<Problem>, name: &str, e: ValueError) {
    if matches!(
        e,
        ValueError::Unsupported { .. } | ValueError::Python { .. } | ValueError::Broken { .. }
    ) {
        return;
    }
    // Reported once, at the variable it is about.
    if e.variable() != name && e.is_dictionary_fault() {
        return;
    }
    out.push(Problem {
        severity: if e.is_dictionary_fault() {
            Severity::Warning
        } else {
            Severity::Error
        },
        kind: ProblemKind::Value,
        variable: None,
        loc: None,
        message: e.to_string(),
    });
}

#[cfg(test)]
mod tests {
    use super::super::tests::{cfg, one};
    use crate::config::ValueError;

    /// Creole asks only for what the admin sees: a hidden mandatory
    /// variable without a value is no problem; once shown, it is.
    #[test]
    fn hidden_mandatory_variables_are_not_asked_for() {
        let xml = r#"<creole><variables><family name='f'>
            <variable name='sw' type='oui/non'><value>oui</value></variable>
            <variable name='h' type='string' mandatory='True' hidden='True'/>
            <variable name='c' type='string' mandatory='True'/>
            </family></variables><constraints>
            <condition name='hidden_if_in' source='sw'><param>oui</param><target>c</target></condition>
            </constraints></creole>"#;
        let mandatory = |c: &crate::config::Config| -> Vec<String> {
            c.problems()
                .into_iter()
                .filter(|p| p.message.contains("mandatory"))
                .filter_map(|p| p.variable)
                .collect()
        };
        assert!(mandatory(&cfg(xml, "{}")).is_empty());
        let shown = cfg(xml, r#"{"sw": {"val": "non", "owner": "u"}}"#);
        assert_eq!(mandatory(&shown), ["c"]);
    }

    #[test]
    fn unsupported_functions_are_named_with_their_place() {
        let xml = r#"<creole><variables><family name='f'>
            <variable name='x' type='string'/><variable name='y' type='string'/>
            </family></variables><constraints>
            <auto name='auto_eth' target='x'><param>eth0</param></auto>
            <fill name='calc_val' target='y'><param type='python'>eosfunc.f()</param></fill>
            <check name='valid_country' target='y'/>
            </constraints></creole>"#;
        let c = cfg(xml, "{}");
        let e = c.get("x").unwrap_err().to_string();
        assert!(e.contains("auto_eth") && e.contains("00_t.xml:4:"), "{e}");
        assert!(matches!(c.get("y"), Err(ValueError::Python { .. })));
        let p = c.unsupported();
        assert_eq!(p.len(), 3, "{p:?}");
        // A stored value stands in for an auto conteneur cannot compute.
        let c = cfg(xml, r#"{"x": {"val": "192.0.2.1", "owner": "gen_config"}}"#);
        assert_eq!(one(&c, "x").as_deref(), Some("192.0.2.1"));
    }
}
