//! Reading a value the way Creole does: a value that breaks its type or one
//! of its checks cannot be read.
//!
//! Creole (tiramisu underneath) validates a value when it is read, and
//! `CreoleGet` fails on an invalid one rather than print it. [`Config::read`]
//! does the same for `get`; [`Config::get`] stays the raw value, which
//! `lint`, templates and plans examine with every problem at once.

use crate::dico::{Level, VarType};

use super::errors::showable;
use super::{Config, Value, ValueError, types};

/// Why a check did not pass.
pub(super) enum CheckFailure {
    /// The check itself cannot be evaluated (its parameters or its list).
    CannotRun(String),
    /// A parameter needs a function conteneur does not evaluate.
    NotEvaluated(String),
    /// The check refused this item of the value.
    Refused { item: String, message: String },
}

impl CheckFailure {
    /// The message `lint` shows.
    pub(super) fn into_message(self, func: &str) -> String {
        match self {
            CheckFailure::CannotRun(reason) | CheckFailure::NotEvaluated(reason) => {
                format!("check '{func}' cannot run: {reason}")
            }
            CheckFailure::Refused { message, .. } => message,
        }
    }
}

impl Config {
    /// The value of an active variable, refused when it breaks its type or
    /// a check of level error, or when such a check cannot be read: what
    /// `CreoleGet` prints, or the reason it cannot.
    pub fn read(&self, name: &str) -> Result<Value, ValueError> {
        let value = self.get(name)?;
        self.check_value(name, &value)?;
        Ok(value)
    }

    /// Whether `value` may be read as the value of `name`: its type, then
    /// its checks of level error, in declaration order. Warnings (a check
    /// of level warning, a value Creole only warns about) do not stop it.
    pub fn check_value(&self, name: &str, value: &Value) -> Result<(), ValueError> {
        let var = self.variable(name)?;
        // An empty entry is no value (EOLE 2.3 stored an empty list as
        // ['']): only `mandatory` is about it, and that is lint's business.
        let unset_empty = |x: &Option<String>| x.clone().filter(|s| !s.is_empty());
        let value = &match value {
            Value::Single(x) => Value::Single(unset_empty(x)),
            Value::Multi(v) => Value::Multi(v.iter().map(unset_empty).collect()),
        };
        for item in value.present() {
            if let Err(e) = types::validate(var.ty, item)
                && !e.warning_only
            {
                return Err(ValueError::Invalid {
                    name: name.to_string(),
                    value: showable(item, var.ty == VarType::Password),
                    rule: format!("the type {} ({})", var.ty.name(), e.expected),
                    reason: e.reason,
                    loc: var.loc.clone(),
                });
            }
        }
        for &ci in self.idx.checks_of.get(name).into_iter().flatten() {
            let check = &self.dicos.checks[ci];
            if check.level == Level::Warning {
                continue;
            }
            let rule = format!("<check name='{}'>", check.func);
            match self.run_check_on(check, name, var, value) {
                // Not applied, as everywhere else; lint lists the function.
                Ok(()) | Err(CheckFailure::NotEvaluated(_)) => {}
                Err(CheckFailure::Refused { item, message }) => {
                    return Err(ValueError::Invalid {
                        name: name.to_string(),
                        value: showable(&item, var.ty == VarType::Password),
                        rule,
                        reason: message,
                        loc: check.loc.clone(),
                    });
                }
                Err(CheckFailure::CannotRun(reason)) => {
                    return Err(ValueError::UnreadableCheck {
                        name: name.to_string(),
                        rule,
                        reason,
                        loc: check.loc.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use indexmap::IndexMap;

    use crate::config::{Config, EolFile, ValueError};
    use crate::dico;

    const XML: &str = "<creole><variables><family name='f'>
        <variable name='port' type='port'/>
        <variable name='n' type='number'><value>abc</value></variable>
        <variable name='e'><value>b</value></variable>
        <variable name='w'><value>zz</value></variable>
        <variable name='bad_list'/>
        <variable name='empty' type='port' multi='True'/>
        <variable name='py'/>
      </family></variables><constraints>
        <check name='valid_enum' target='e'><param>['a', 'b']</param></check>
        <check name='valid_enum' target='w' level='warning'><param>['a']</param></check>
        <check name='valid_enum' target='bad_list'><param>['a', </param></check>
        <check name='valid_enum' target='py'><param type='python'>eosfunc.f()</param></check>
      </constraints></creole>";

    fn cfg(eol: &str) -> Config {
        let out = dico::load_str(XML, "t.xml");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let eol = EolFile::parse(eol.as_bytes(), Path::new("config.eol")).unwrap();
        Config::new(Arc::new(out.dicos), eol, IndexMap::new(), false)
    }

    #[test]
    fn a_value_breaking_its_type_or_a_check_cannot_be_read() {
        let c = cfg(
            r#"{"port": {"val": "abc", "owner": "x"}, "e": {"val": "c", "owner": "x"},
                        "empty": {"val": [""], "owner": "x"}}"#,
        );
        // The raw value is still there for lint and the templates.
        assert_eq!(c.get("port").unwrap().first(), Some("abc"));
        match c.read("port") {
            Err(ValueError::Invalid {
                name, value, rule, ..
            }) => {
                assert_eq!((name.as_str(), value.as_str()), ("port", "abc"));
                assert!(rule.contains("type port"), "{rule}");
            }
            other => panic!("{other:?}"),
        }
        let n = c.read("n").unwrap_err().to_string();
        assert!(
            n.contains("'n'") && n.contains("'abc'") && n.contains("number"),
            "{n}"
        );
        let e = c.read("e").unwrap_err().to_string();
        assert!(
            e.contains("'c'") && e.contains("<check name='valid_enum'>") && e.contains("t.xml:"),
            "{e}"
        );
        // Warnings, unsupported checks and empty entries do not stop a read.
        assert_eq!(c.read("w").unwrap().first(), Some("zz"));
        assert!(c.read("py").is_ok());
        assert!(c.read("empty").is_ok());
    }

    #[test]
    fn a_check_that_cannot_be_read_makes_the_variable_unreadable() {
        let c = cfg("{}");
        match c.read("bad_list") {
            Err(ValueError::UnreadableCheck { name, reason, .. }) => {
                assert_eq!(name, "bad_list");
                assert!(reason.contains("its list is not valid"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_password_value_never_shows_in_a_check_or_type_error() {
        let xml = "<creole><variables><family name='f'>
            <variable name='pw' type='password'/>
            <variable name='pw2' type='password'/>
          </family></variables><constraints>
            <check name='valid_regexp' target='pw2'><param>[a-z]+$</param></check>
          </constraints></creole>";
        let out = dico::load_str(xml, "t.xml");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let eol = r#"{"pw": {"val": "PWnul111\u0000x", "owner": "x"},
                      "pw2": {"val": "PWbad222", "owner": "x"}}"#;
        let eol = EolFile::parse(eol.as_bytes(), Path::new("config.eol")).unwrap();
        let mut c = Config::new(Arc::new(out.dicos), eol, IndexMap::new(), false);
        let mut said: Vec<String> = ["pw", "pw2"]
            .iter()
            .map(|v| c.read(v).unwrap_err().to_string())
            .collect();
        said.extend(c.problems().iter().map(|p| p.to_string()));
        for (var, value) in [("pw2", "PWbad333"), ("pw", "a\0b")] {
            said.push(
                c.set(var, &[value.to_string()], "t")
                    .unwrap_err()
                    .to_string(),
            );
        }
        for s in &said {
            for secret in ["PWnul", "PWbad", "a\0b"] {
                assert!(!s.contains(secret), "{s}");
            }
        }
        assert!(
            said[0].contains("NUL") && said[0].contains("not shown"),
            "{}",
            said[0]
        );
        assert!(
            said[1].contains("pattern") && said[1].contains("not shown"),
            "{}",
            said[1]
        );
    }
}
