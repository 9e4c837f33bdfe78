//! Dynamic families: conteneur's one extension of the Creole format.
//!
//! EOLE's study declared "one dictionary per container", which makes an
//! admin (or a package) write files to add a container. Instead a family may
//! say `dynamic="nombre_conteneur"`: it is then a template, and its variables
//! (whose names hold `{X}`) exist once per index 1..=N, N being the value of
//! that variable. Every constraint, help text and separator that names a
//! `{X}` variable is instantiated with it, so a single dictionary describes
//! any number of containers, and `CreoleSet nombre_conteneur 3` makes
//! `conteneur3_*` appear with their defaults, checks and conditions.
//!
//! The expansion is a pure function of the templates and the counts, so the
//! rest of the engine only ever sees ordinary Creole variables.

use std::collections::HashMap;
use std::sync::Arc;

use super::model::*;

/// The highest index a dynamic family may reach; a higher count is clamped
/// (and reported by `config`) so a typo cannot make the tool allocate
/// millions of variables.
pub const MAX_INSTANCES: usize = 10_000;

fn inst(s: &str, x: &str) -> String {
    s.replace(DYNAMIC_PLACEHOLDER, x)
}

fn inst_params(params: &[Param], x: &str) -> Vec<Param> {
    params
        .iter()
        .map(|p| Param {
            value: match &p.value {
                ParamValue::Text(t) => ParamValue::Text(inst(t, x)),
                ParamValue::Variable(v) => ParamValue::Variable(inst(v, x)),
                other => other.clone(),
            },
            ..p.clone()
        })
        .collect()
}

fn params_dynamic(params: &[Param]) -> bool {
    params.iter().any(|p| match &p.value {
        ParamValue::Text(t) | ParamValue::Variable(t) => t.contains(DYNAMIC_PLACEHOLDER),
        _ => false,
    })
}

impl Dictionaries {
    /// True when some family is dynamic.
    pub fn has_dynamic(&self) -> bool {
        self.families.values().any(|f| f.dynamic.is_some())
    }

    /// The variables that count dynamic families' instances.
    pub fn dynamic_counters(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .families
            .values()
            .filter_map(|f| f.dynamic.as_deref())
            .collect();
        v.dedup();
        v
    }

    /// Instantiates every dynamic family `count(counter)` times. Constraints
    /// mentioning `{X}` are instantiated for every index; a constraint that
    /// mixes placeholders of two dynamic families is instantiated with the
    /// same index for both (documented limitation).
    pub fn expand(&self, counts: &HashMap<String, usize>) -> Dictionaries {
        if !self.has_dynamic() {
            return self.clone();
        }
        // The number of instances of the family a template name belongs to.
        let n_for_family = |fam: &Family| -> usize {
            fam.dynamic
                .as_deref()
                .and_then(|c| counts.get(c))
                .copied()
                .unwrap_or(0)
                .min(MAX_INSTANCES)
        };
        let var_count: HashMap<&str, usize> = self
            .variables
            .values()
            .filter(|v| v.dynamic)
            .map(|v| {
                let n = self.families.get(&v.family).map(n_for_family).unwrap_or(0);
                (v.name.as_str(), n)
            })
            .collect();
        // A constraint about template names takes the count of the first
        // template variable it mentions (or of the only dynamic family).
        let default_n = self
            .families
            .values()
            .filter(|f| f.dynamic.is_some())
            .map(n_for_family)
            .max()
            .unwrap_or(0);
        let count_of = |names: &[&str]| -> usize {
            names
                .iter()
                .find_map(|n| var_count.get(n).copied())
                .unwrap_or(default_n)
        };
        let indexes = |n: usize| (1..=n).map(|i| i.to_string());

        let mut out = Dictionaries {
            sources: self.sources.clone(),
            notices: self.notices.clone(),
            ..Default::default()
        };
        // Sized once: at 2000 containers, growing these maps was a tenth of
        // the expansion.
        out.variables.reserve(
            self.variables
                .values()
                .map(|v| {
                    if v.dynamic {
                        var_count.get(v.name.as_str()).copied().unwrap_or(0)
                    } else {
                        1
                    }
                })
                .sum(),
        );
        let dynamic_n = |dynamic: bool| if dynamic { default_n } else { 1 };
        out.families.reserve(
            self.families
                .values()
                .map(|f| dynamic_n(f.dynamic.is_some()))
                .sum(),
        );
        out.calcs.reserve(
            self.calcs
                .keys()
                .map(|t| dynamic_n(t.contains(DYNAMIC_PLACEHOLDER)))
                .sum(),
        );
        out.checks.reserve(
            self.checks
                .iter()
                .map(|c| dynamic_n(c.target.contains(DYNAMIC_PLACEHOLDER)))
                .sum(),
        );
        out.conditions.reserve(
            self.conditions
                .iter()
                .map(|c| {
                    dynamic_n(
                        c.source.contains(DYNAMIC_PLACEHOLDER)
                            || c.targets
                                .iter()
                                .any(|t| t.name.contains(DYNAMIC_PLACEHOLDER)),
                    )
                })
                .sum(),
        );
        out.groups.reserve(
            self.groups
                .keys()
                .map(|m| dynamic_n(m.contains(DYNAMIC_PLACEHOLDER)))
                .sum(),
        );
        for fam in self.families.values() {
            if fam.dynamic.is_none() {
                out.families.insert(fam.name.clone(), fam.clone());
                continue;
            }
            for x in indexes(n_for_family(fam)) {
                let name = inst(&fam.name, &x);
                out.families.insert(
                    name.clone(),
                    Family {
                        name,
                        variables: fam.variables.iter().map(|v| inst(v, &x)).collect(),
                        dynamic: None,
                        ..fam.clone()
                    },
                );
            }
        }
        for var in self.variables.values() {
            if !var.dynamic {
                out.variables.insert(var.name.clone(), var.clone());
                continue;
            }
            let template: Arc<str> = Arc::from(var.name.as_str());
            for x in indexes(var_count.get(var.name.as_str()).copied().unwrap_or(0)) {
                let name = inst(&var.name, &x);
                // Field by field: `..var.clone()` would copy the strings
                // replaced here too, 16 variables per container.
                out.variables.insert(
                    name.clone(),
                    Variable {
                        name,
                        ty: var.ty,
                        description: inst(&var.description, &x),
                        mode: var.mode,
                        mandatory: var.mandatory,
                        hidden: var.hidden,
                        multi: var.multi,
                        disabled: var.disabled,
                        auto_freeze: var.auto_freeze,
                        auto_save: var.auto_save,
                        defaults: var.defaults.iter().map(|d| inst(d, &x)).collect(),
                        family: inst(&var.family, &x),
                        dynamic: false,
                        template: Some((template.clone(), x.parse().unwrap_or(0))),
                        loc: var.loc.clone(),
                    },
                );
            }
        }
        for (target, calc) in &self.calcs {
            if !target.contains(DYNAMIC_PLACEHOLDER) && !params_dynamic(&calc.params) {
                out.calcs.insert(target.clone(), calc.clone());
                continue;
            }
            for x in indexes(count_of(&[target.as_str()])) {
                let t = inst(target, &x);
                out.calcs.insert(
                    t.clone(),
                    Calc {
                        target: t,
                        params: inst_params(&calc.params, &x),
                        ..calc.clone()
                    },
                );
            }
        }
        for check in &self.checks {
            if !check.target.contains(DYNAMIC_PLACEHOLDER) && !params_dynamic(&check.params) {
                out.checks.push(check.clone());
                continue;
            }
            for x in indexes(count_of(&[check.target.as_str()])) {
                out.checks.push(Check {
                    target: inst(&check.target, &x),
                    params: inst_params(&check.params, &x),
                    ..check.clone()
                });
            }
        }
        for cond in &self.conditions {
            let dynamic = cond.source.contains(DYNAMIC_PLACEHOLDER)
                || cond
                    .targets
                    .iter()
                    .any(|t| t.name.contains(DYNAMIC_PLACEHOLDER));
            if !dynamic {
                out.conditions.push(cond.clone());
                continue;
            }
            let mut names: Vec<&str> = vec![cond.source.as_str()];
            names.extend(cond.targets.iter().map(|t| t.name.as_str()));
            for x in indexes(count_of(&names)) {
                out.conditions.push(Condition {
                    source: inst(&cond.source, &x),
                    values: cond
                        .values
                        .iter()
                        .map(|v| v.as_ref().map(|v| inst(v, &x)))
                        .collect(),
                    targets: cond
                        .targets
                        .iter()
                        .map(|t| Target {
                            name: inst(&t.name, &x),
                            ..t.clone()
                        })
                        .collect(),
                    ..cond.clone()
                });
            }
        }
        for (master, group) in &self.groups {
            if !master.contains(DYNAMIC_PLACEHOLDER) {
                out.groups.insert(master.clone(), group.clone());
                continue;
            }
            for x in indexes(count_of(&[master.as_str()])) {
                let m = inst(master, &x);
                out.groups.insert(
                    m.clone(),
                    Group {
                        master: m,
                        slaves: group.slaves.iter().map(|s| inst(s, &x)).collect(),
                        loc: group.loc.clone(),
                    },
                );
            }
        }
        let expand_map = |map: &indexmap::IndexMap<String, String>| {
            let mut m = indexmap::IndexMap::new();
            for (k, v) in map {
                if !k.contains(DYNAMIC_PLACEHOLDER) {
                    m.insert(k.clone(), v.clone());
                    continue;
                }
                for x in indexes(count_of(&[k.as_str()])) {
                    m.insert(inst(k, &x), inst(v, &x));
                }
            }
            m
        };
        for b in &self.broken {
            if !b.variable.contains(DYNAMIC_PLACEHOLDER) {
                out.broken.push(b.clone());
                continue;
            }
            for x in indexes(count_of(&[b.variable.as_str()])) {
                out.broken.push(Broken {
                    variable: inst(&b.variable, &x),
                    ..b.clone()
                });
            }
        }
        out.separators = expand_map(&self.separators);
        out.help_variables = expand_map(&self.help_variables);
        out.help_families = expand_map(&self.help_families);
        // Files and services are not per instance: templates loop over the
        // instances themselves (see the template module's container view).
        out.files = self.files.clone();
        out.services = self.services.clone();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::load_str;
    use super::*;

    const DICO: &str = r#"<creole><variables>
        <family name='g'><variable name='n' type='number'><value>2</value></variable>
            <variable name='proxy' type='oui/non'><value>non</value></variable></family>
        <family name='c{X}' dynamic='n'>
            <variable name='c{X}_name' type='string'/>
            <variable name='c{X}_port_in' type='string' multi='True'/>
            <variable name='c{X}_port_out' type='string'/>
        </family></variables>
        <constraints>
            <fill name='calc_val' target='c{X}_name'><param>app{X}</param></fill>
            <group master='c{X}_port_in'><slave>c{X}_port_out</slave></group>
            <condition name='disabled_if_in' source='proxy'><param>oui</param><target>c{X}_name</target></condition>
        </constraints></creole>"#;

    #[test]
    fn expands_each_index_with_constraints() {
        let out = load_str(DICO, "d.xml");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let d = out.dicos;
        let x = d.expand(&HashMap::from([("n".to_string(), 3)]));
        for i in 1..=3 {
            assert!(x.variables.contains_key(&format!("c{i}_name")));
            assert!(x.families.contains_key(&format!("c{i}")));
            assert_eq!(
                x.groups[&format!("c{i}_port_in")].slaves,
                vec![format!("c{i}_port_out")]
            );
            match &x.calcs[&format!("c{i}_name")].params[0].value {
                ParamValue::Text(t) => assert_eq!(t, &format!("app{i}")),
                other => panic!("{other:?}"),
            }
        }
        assert!(!x.variables.contains_key("c4_name"));
        assert!(!x.variables.contains_key("c{X}_name"));
        assert_eq!(x.conditions.len(), 3);
        assert_eq!(
            x.variables["c2_name"].template.as_ref().map(|t| t.1),
            Some(2)
        );
        let zero = d.expand(&HashMap::new());
        assert!(!zero.variables.keys().any(|k| k.starts_with('c')));
    }
}
