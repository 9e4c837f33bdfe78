//! Reading a value the way Creole does: a value that breaks its type or one
//! of its checks cannot be read.
//!
//! Creole (tiramisu underneath) validates a value when it is read, and
//! `CreoleGet` fails on an invalid one rather than print it. [`Config::read`]
//! does the same for `get`; [`Config::get`] stays the raw value, which
//! `lint`, templates and plans examine with every problem at once.

use crate::dico::Level;

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
                    value: item.to_string(),
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
                        value: item,
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
