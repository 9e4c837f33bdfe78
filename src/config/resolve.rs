//! Value resolution: what a variable's value is and where it comes from
//! (`auto`, stored in config.eol, `fill`, dictionary default), slaves
//! indexed by their master, and the evaluation of calculations and their
//! parameters.
//!
//! Its own file because it is the precedence order and the reading of
//! stored entries, apart from the properties that hide values and from
//! the checks run on them.

use std::collections::BTreeMap;

use super::funcs::{self, Args};
use super::{Config, EolFile, Origin, Resolved, Stored, Value, ValueError, value};
use crate::dico::{self, Calc, CalcKind, ParamValue, Variable};

impl Config {
    /// The value regardless of the disabled property (memoized).
    pub(super) fn resolve(&self, name: &str) -> Result<Resolved, ValueError> {
        if let Some(v) = self.memo.borrow().values.get(name) {
            return v.clone();
        }
        let key = format!("value:{name}");
        self.enter(&key, name)?;
        let r = self.compute_value(name);
        self.leave();
        self.memo
            .borrow_mut()
            .values
            .insert(name.to_string(), r.clone());
        r
    }

    pub(super) fn file_of<'a>(&'a self, name: &'a str) -> (&'a EolFile, Option<&'a str>) {
        match name.split_once('.') {
            Some((ns, _)) => match self.extras.get(ns) {
                Some(f) => (f, Some(ns)),
                None => (&self.main, None),
            },
            None => (&self.main, None),
        }
    }

    fn stored_error(&self, name: &str, reason: String) -> ValueError {
        let (f, _) = self.file_of(name);
        ValueError::Stored {
            name: name.to_string(),
            file: f.path().display().to_string(),
            reason,
        }
    }

    /// The stored value of a non-slave variable, shaped for it.
    fn stored(&self, var: &Variable) -> Result<Option<(Value, String)>, ValueError> {
        let (file, _) = self.file_of(&var.name);
        let Some(entry) = file.get(&var.name) else {
            return Ok(None);
        };
        let entry = entry.map_err(|e| self.stored_error(&var.name, e.to_string()))?;
        let err = |r: String| self.stored_error(&var.name, r);
        let (value, owner) = match entry {
            Stored::Single { val, owner } => {
                let item = value::json_item(&val).map_err(err)?;
                if var.multi {
                    (Value::Multi(item.into_iter().map(Some).collect()), owner)
                } else {
                    (Value::Single(item), owner)
                }
            }
            Stored::Multi { val, owner } => {
                let items = val
                    .iter()
                    .map(value::json_item)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(err)?;
                if var.multi {
                    (Value::Multi(items), owner)
                } else if items.len() <= 1 {
                    (Value::Single(items.into_iter().next().flatten()), owner)
                } else {
                    return Err(self.stored_error(
                        &var.name,
                        format!("{} values for a variable that takes one", items.len()),
                    ));
                }
            }
            Stored::Slave { .. } => {
                return Err(self.stored_error(
                    &var.name,
                    "values per index, but the variable is not a slave".into(),
                ));
            }
        };
        Ok(Some((value, owner)))
    }

    /// A computed value in the shape the variable takes (list or single).
    fn shape(multi: bool, v: Value) -> Value {
        match (multi, v) {
            (true, Value::Single(None)) => Value::Multi(Vec::new()),
            (true, Value::Single(Some(s))) => Value::Multi(vec![Some(s)]),
            (false, Value::Multi(items)) => Value::Single(items.into_iter().flatten().next()),
            (_, v) => v,
        }
    }

    /// The dictionary default: the `<value>`s, or, for a single variable
    /// with none and an enforced `valid_enum`, the first choice (Creole
    /// makes such a variable a choice whose default is its first value:
    /// `nombre_interfaces` is `1` on a server that stores nothing, which
    /// disables the second interface's family).
    pub(super) fn default_value(&self, var: &Variable) -> Value {
        if var.multi {
            Value::Multi(var.defaults.iter().cloned().map(Some).collect())
        } else {
            Value::Single(
                var.defaults
                    .first()
                    .cloned()
                    .or_else(|| self.enum_default(&var.name)),
            )
        }
    }

    /// The first choice of an enforced `valid_enum` on `name`, if any.
    fn enum_default(&self, name: &str) -> Option<String> {
        self.idx.checks_of.get(name)?;
        match self.enum_choices(name)? {
            (choices, true) => choices.into_iter().next(),
            _ => None,
        }
    }

    fn compute_value(&self, name: &str) -> Result<Resolved, ValueError> {
        let var = self.variable(name)?;
        // A broken declaration: nothing to read, or (a broken <fill> or
        // <auto>) only the stored value.
        let broken = match self.broken(name) {
            Some((false, e)) => return Err(e),
            Some((true, e)) => Some(e),
            None => None,
        };
        if let Some(master) = self.idx.master_of.get(name) {
            return self.compute_slave(var, master, broken);
        }
        if let Some(e) = broken {
            return match self.stored(var)? {
                Some((value, owner)) => Ok(Resolved {
                    value,
                    origin: Origin::Stored(owner),
                }),
                None => Err(e),
            };
        }
        let calc = self.dicos.calcs.get(name);
        // An auto keeps a stored value when it must not change once computed
        // (auto_save, gen_random), and when conteneur cannot compute it: an
        // EOLE server stores what its own function gave (adresse_ip_eth0).
        let keeps_stored =
            |c: &Calc| var.auto_save || funcs::saves_result(&c.func) || !funcs::is_calc(&c.func);
        if let Some(c) = calc.filter(|c| c.kind == CalcKind::Auto && !keeps_stored(c)) {
            let v = self.eval_calc(c, name)?;
            return Ok(Resolved {
                value: Self::shape(var.multi, v),
                origin: Origin::Auto,
            });
        }
        if let Some((value, owner)) = self.stored(var)? {
            return Ok(Resolved {
                value,
                origin: Origin::Stored(owner),
            });
        }
        if let Some(c) = calc {
            let v = self.eval_calc(c, name)?;
            // A fill that gives nothing leaves the dictionary default (a
            // fill reading an optional variable of an absent package).
            if c.kind == CalcKind::Fill && v.is_empty() {
                let default = self.default_value(var);
                if !default.is_empty() {
                    return Ok(Resolved {
                        value: default,
                        origin: Origin::Default,
                    });
                }
            }
            return Ok(Resolved {
                value: Self::shape(var.multi, v),
                origin: if c.kind == CalcKind::Auto {
                    Origin::Auto
                } else {
                    Origin::Fill
                },
            });
        }
        let value = self.default_value(var);
        let origin = if value.is_empty() {
            Origin::Unset
        } else {
            Origin::Default
        };
        Ok(Resolved { value, origin })
    }

    fn compute_slave(
        &self,
        var: &Variable,
        master: &str,
        broken: Option<ValueError>,
    ) -> Result<Resolved, ValueError> {
        let n = self.resolve(master)?.value.len_items();
        let (file, _) = self.file_of(&var.name);
        let stored: Option<(BTreeMap<usize, serde_json::Value>, String)> = match file
            .get_slave(&var.name)
        {
            None => None,
            // EOLE 2.3 files store a one-index slave as a plain value.
            Some(Err(e)) => match file.get(&var.name) {
                Some(Ok(Stored::Single { val, owner })) => {
                    Some((BTreeMap::from([(0, val)]), owner))
                }
                _ => return Err(self.stored_error(&var.name, e.to_string())),
            },
            Some(Ok(Stored::Slave { val, owner })) => {
                let o = owner.values().next().cloned().unwrap_or_default();
                Some((val, o))
            }
            Some(Ok(Stored::Multi { val, owner })) => {
                Some((val.into_iter().enumerate().collect(), owner))
            }
            Some(Ok(Stored::Single { val, owner })) => Some((BTreeMap::from([(0, val)]), owner)),
        };
        let calc = self.dicos.calcs.get(&var.name);
        let auto = calc.is_some_and(|c| c.kind == CalcKind::Auto);
        let default = self.default_value(var).first().map(str::to_string);
        // The computed value is only needed for an index nothing stores: a
        // stored value still reads when the calculation cannot run.
        let all_stored = !auto
            && stored
                .as_ref()
                .is_some_and(|(map, _)| (0..n).all(|i| map.contains_key(&i)));
        let computed = match (calc, broken) {
            _ if all_stored => None,
            (_, Some(e)) => return Err(e),
            (Some(c), None) => Some(self.eval_calc(c, &var.name)?),
            (None, None) => None,
        };
        let mut items = Vec::with_capacity(n);
        let mut any_stored = false;
        for i in 0..n {
            let from_calc = computed.as_ref().map(|v| match v {
                Value::Single(s) => s.clone(),
                Value::Multi(m) => m.get(i).cloned().flatten(),
            });
            let from_store = match &stored {
                Some((map, _)) if !auto => map.get(&i).map(value::json_item),
                _ => None,
            };
            let item = match (from_store, from_calc) {
                (Some(r), _) => {
                    any_stored = true;
                    r.map_err(|e| self.stored_error(&var.name, format!("index {i}: {e}")))?
                }
                (None, Some(c)) => c,
                (None, None) => default.clone(),
            };
            items.push(item);
        }
        let origin = match (&stored, calc) {
            (Some((_, owner)), _) if any_stored => Origin::Stored(owner.clone()),
            (_, Some(c)) if c.kind == CalcKind::Auto => Origin::Auto,
            (_, Some(_)) => Origin::Fill,
            _ if default.is_none() => Origin::Unset,
            _ => Origin::Default,
        };
        Ok(Resolved {
            value: Value::Multi(items),
            origin,
        })
    }

    /// Resolves the parameters of a calculation or check. An optional
    /// parameter naming an absent variable is left out.
    pub(super) fn args(
        &self,
        params: &[dico::Param],
        name: &str,
        func: &str,
        loc: &dico::Location,
    ) -> Result<Args, ValueError> {
        let mut args = Args::default();
        for p in params {
            let v = match &p.value {
                ParamValue::Text(t) => Value::text(t.clone()),
                ParamValue::Number(n) => Value::text(n.to_string()),
                ParamValue::Python(expr) => {
                    return Err(ValueError::Python {
                        name: name.to_string(),
                        expr: expr.clone(),
                        loc: p.loc.clone(),
                    });
                }
                ParamValue::Variable(v) => {
                    if !self.dicos.variables.contains_key(v) {
                        if p.optional {
                            continue;
                        }
                        return Err(ValueError::Calc {
                            name: name.to_string(),
                            func: func.to_string(),
                            loc: loc.clone(),
                            reason: format!("it reads '{v}', which no dictionary declares"),
                        });
                    }
                    if self.props(v)?.disabled.is_some() && !p.read_disabled {
                        Value::none()
                    } else {
                        self.resolve(v)?.value
                    }
                }
            };
            match &p.name {
                Some(k) => args.named.push((k.clone(), v)),
                None => {
                    args.positional.push(v);
                    args.sources.push(match &p.value {
                        ParamValue::Variable(v) => Some(v.clone()),
                        _ => None,
                    });
                }
            }
        }
        Ok(args)
    }

    fn eval_calc(&self, calc: &Calc, name: &str) -> Result<Value, ValueError> {
        let kind = if calc.kind == CalcKind::Fill {
            "fill"
        } else {
            "auto"
        };
        if !funcs::is_calc(&calc.func) {
            return Err(ValueError::Unsupported {
                name: name.to_string(),
                func: calc.func.clone(),
                kind,
                loc: calc.loc.clone(),
            });
        }
        let args = self.args(&calc.params, name, &calc.func, &calc.loc)?;
        let env = funcs::Env {
            instantiated: self.instantiated,
        };
        match funcs::call(&calc.func, &args, &env) {
            Some(Ok(v)) => Ok(v),
            Some(Err(reason)) => Err(ValueError::Calc {
                name: name.to_string(),
                func: calc.func.clone(),
                loc: calc.loc.clone(),
                reason,
            }),
            None => Err(ValueError::Unsupported {
                name: name.to_string(),
                func: calc.func.clone(),
                kind,
                loc: calc.loc.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{BASE, cfg, one};
    use crate::config::{Origin, SetError, Severity, Value};

    /// A broken declaration leaves its target and what reads it
    /// unreadable, naming the cause; the rest reads as usual, and a stored
    /// value stays readable when only a computed default is lost.
    #[test]
    fn a_broken_declaration_leaves_only_its_dependents_unreadable() {
        let xml = r#"<creole><variables><family name='f'>
            <variable name='a' type='string'/>
            <variable name='b' type='string'/>
            <variable name='c' type='string'><value>c0</value></variable>
            <variable name='d' type='string'/>
            <variable name='m' type='string' multi='True'/>
            <variable name='s' type='string'/>
            </family></variables><constraints>
            <fill name='calc_val' target='a'><param type='eole'>ghost</param></fill>
            <fill name='calc_val' target='b'><param type='eole'>a</param></fill>
            <condition name='disabled_if_in' source='nobody'><param>x</param><target>d</target></condition>
            <fill name='calc_val' target='s'><param type='number'>x</param></fill>
            <group master='m'><slave>s</slave></group>
            </constraints></creole>"#;
        let c = cfg(xml, r#"{"m": {"val": ["1", "2"], "owner": "u"}}"#);
        let err = |n: &str| c.read(n).unwrap_err().to_string();
        assert!(
            err("a").contains("'ghost'") && err("a").contains("00_t.xml:9:"),
            "{}",
            err("a")
        );
        assert!(err("b").contains("'ghost'"), "{}", err("b"));
        assert!(err("d").contains("'nobody'"), "{}", err("d"));
        assert!(err("s").contains("whole number"), "{}", err("s"));
        assert_eq!(one(&c, "c").as_deref(), Some("c0"));
        assert_eq!(c.get("m").unwrap().len_items(), 2);
        let listed: Vec<(&str, bool)> = c.list().into_iter().map(|(n, v)| (n, v.is_ok())).collect();
        assert_eq!(
            listed,
            [
                ("a", false),
                ("b", false),
                ("c", true),
                ("d", false),
                ("m", true),
                ("s", false)
            ]
        );
        // The dictionary warnings name the causes; no value error is added.
        assert!(
            c.problems().iter().all(|p| p.severity != Severity::Error),
            "{:?}",
            c.problems()
        );
        let c = cfg(
            xml,
            r#"{"a": {"val": "kept", "owner": "gen_config"}, "m": {"val": ["1", "2"], "owner": "u"},
                "s": {"val": {"0": "x0", "1": "x1"}, "owner": {"0": "u", "1": "u"}}}"#,
        );
        assert_eq!(one(&c, "a").as_deref(), Some("kept"));
        assert_eq!(one(&c, "b").as_deref(), Some("kept"));
        assert_eq!(
            c.get("s").unwrap(),
            Value::Multi(vec![Some("x0".into()), Some("x1".into())])
        );
    }

    #[test]
    fn precedence_auto_stored_fill_default() {
        let c = cfg(
            BASE,
            r#"{"b": {"val": "stored", "owner": "gen_config"}, "c": {"val": "ignored", "owner": "x"}}"#,
        );
        assert_eq!(
            c.resolved("b").unwrap().origin,
            Origin::Stored("gen_config".into())
        );
        assert_eq!(one(&c, "b").as_deref(), Some("stored"));
        // auto wins over what is stored.
        assert_eq!(one(&c, "c").as_deref(), Some("non-5"));
        assert_eq!(c.resolved("c").unwrap().origin, Origin::Auto);
        assert_eq!(c.resolved("n").unwrap().origin, Origin::Default);
    }

    #[test]
    fn slaves_follow_their_master() {
        let c = cfg(
            BASE,
            r#"{"s": {"val": {"1": "second"}, "owner": {"1": "u"}}}"#,
        );
        assert_eq!(
            c.get("s").unwrap(),
            Value::Multi(vec![Some("sd".into()), Some("second".into())])
        );
        let mut c = c;
        c.set("m", &["10.0.0.9".into()], "t").unwrap();
        assert_eq!(c.get("s").unwrap(), Value::Multi(vec![Some("sd".into())]));
        let err = c.set("s", &["x".into(), "y".into()], "t").unwrap_err();
        assert!(
            matches!(
                err,
                SetError::SlaveLength {
                    expected: 1,
                    found: 2,
                    ..
                }
            ),
            "{err}"
        );
    }

    /// A single variable with no default and an enforced valid_enum
    /// defaults to the first choice (checkval="False" gives no default).
    #[test]
    fn a_valid_enum_gives_its_first_choice_as_default() {
        let xml = r#"<creole><variables><family name='f'>
            <variable name='n' type='string'/><variable name='s' type='string'/>
            <variable name='l' type='string' multi='True'/>
            </family></variables><constraints>
            <check name='valid_enum' target='n'><param>['1','2']</param></check>
            <check name='valid_enum' target='s'><param>['a','b']</param><param name='checkval'>False</param></check>
            <check name='valid_enum' target='l'><param>['x','y']</param></check>
            </constraints></creole>"#;
        let c = cfg(xml, "{}");
        assert_eq!(one(&c, "n").as_deref(), Some("1"));
        assert_eq!(c.resolved("n").unwrap().origin, Origin::Default);
        assert_eq!(one(&c, "s"), None);
        assert_eq!(c.get("l").unwrap(), Value::Multi(Vec::new()));
        // Setting the first choice stores nothing: it is the default.
        let mut c = c;
        c.set("n", &["2".into()], "t").unwrap();
        assert_eq!(one(&c, "n").as_deref(), Some("2"));
        c.set("n", &["1".into()], "t").unwrap();
        assert!(c.main.get("n").is_none());
    }

    #[test]
    fn multi_condition_and_list_len_from_a_dictionary() {
        let xml = r#"<creole><variables><family name='f'>
            <variable name='l' type='ip' multi='True'/>
            <variable name='has' type='oui/non'/><variable name='any' type='oui/non'/>
            </family></variables><constraints>
            <auto name='list_len_gt' target='has'><param type='eole' name='param'>l</param><param name='max_len'>0</param><param name='match'>oui</param><param name='mismatch'>non</param></auto>
            <auto name='calc_multi_condition' target='any'><param>oui</param><param name='operator'>OR</param>
              <param type='eole' name='condition_1'>has</param><param type='eole' name='condition_2' optional='True'>nothing</param>
              <param name='match'>oui</param><param name='mismatch'>non</param></auto>
            </constraints></creole>"#;
        let c = cfg(xml, "{}");
        assert_eq!(one(&c, "has").as_deref(), Some("non"));
        assert_eq!(one(&c, "any").as_deref(), Some("non"));
        let c = cfg(xml, r#"{"l": {"val": ["192.0.2.1"], "owner": "u"}}"#);
        assert_eq!(one(&c, "any").as_deref(), Some("oui"));
    }
}
