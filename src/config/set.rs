//! Changing values: `set` and `reset` (refusing computed, frozen and
//! invalid values, with nothing changed on error), storing into the value
//! files, persisting computed values that must not change, and saving.
//!
//! Its own file because it is the only part of `Config` that mutates it;
//! everything else derives from the stored values on demand.

use std::path::{Path, PathBuf};

use super::errors::showable;
use super::funcs;
use super::{
    Config, EolError, EolFile, EolLock, Memo, Problem, SetError, Severity, Stored, Value,
    ValueError, types, value,
};
use crate::dico::{CalcKind, VarType, Variable};
use crate::paths::Paths;

impl Config {
    /// Sets a variable to `values` (several for a multi, one per index of
    /// the master for a slave) with `owner`. On error nothing changes.
    /// Returns the warnings (checks of level warning) the new value raises.
    pub fn set(
        &mut self,
        name: &str,
        values: &[String],
        owner: &str,
    ) -> Result<Vec<Problem>, SetError> {
        let var = self.variable(name)?.clone();
        self.check_settable(name)?;
        let slave_of = self.idx.master_of.get(name).cloned();
        let multi = var.multi || slave_of.is_some();
        if !multi && values.len() > 1 {
            return Err(SetError::NotMulti {
                name: name.to_string(),
                count: values.len(),
            });
        }
        // `set VAR ""` unsets a single variable or empties a list.
        let values: Vec<&String> =
            if values.len() == 1 && values[0].is_empty() && slave_of.is_none() {
                Vec::new()
            } else {
                values.iter().collect()
            };
        if let Some(master) = &slave_of {
            let expected = self.resolve(master)?.value.len_items();
            if values.len() != expected {
                return Err(SetError::SlaveLength {
                    name: name.to_string(),
                    master: master.clone(),
                    expected,
                    found: values.len(),
                });
            }
        }
        let mut items = Vec::with_capacity(values.len());
        for v in values {
            if v.is_empty() {
                items.push(None);
                continue;
            }
            match types::validate(var.ty, v) {
                Ok(norm) => items.push(Some(norm)),
                Err(e) if e.warning_only => items.push(Some(v.clone())),
                Err(e) => {
                    return Err(SetError::Invalid {
                        name: name.to_string(),
                        value: showable(v, var.ty == VarType::Password),
                        expected: e.expected,
                        reason: e.reason,
                    });
                }
            }
        }
        let value = if multi {
            Value::Multi(items)
        } else {
            Value::Single(items.into_iter().next().flatten())
        };
        let mut next = self.clone();
        next.store(&var, slave_of.is_some(), &value, owner);
        let problems = next.problems_of(name);
        if let Some(p) = problems
            .iter()
            .find(|p| p.severity == Severity::Error && !p.message.contains("is mandatory"))
        {
            return Err(SetError::Check {
                name: name.to_string(),
                message: p.message.clone(),
            });
        }
        *self = next;
        Ok(problems
            .into_iter()
            .filter(|p| p.severity == Severity::Warning)
            .collect())
    }

    /// Puts a variable back to its default (`CreoleSet VAR --default`).
    pub fn reset(&mut self, name: &str) -> Result<(), SetError> {
        let var = self.variable(name)?.clone();
        self.check_settable(name)?;
        let ns = var.name.split_once('.').map(|(ns, _)| ns.to_string());
        let removed = match &ns {
            Some(ns) => self.extras.get_mut(ns).is_some_and(|f| f.remove(name)),
            None => self.main.remove(name),
        };
        if removed {
            self.dirty.insert(ns);
            self.changed(name);
        }
        Ok(())
    }

    fn check_settable(&self, name: &str) -> Result<(), SetError> {
        let props = self.props(name)?;
        if let Some(because) = props.disabled {
            return Err(ValueError::Disabled {
                name: name.to_string(),
                because,
            }
            .into());
        }
        if let Some(c) = self
            .dicos
            .calcs
            .get(name)
            .filter(|c| c.kind == CalcKind::Auto)
        {
            return Err(SetError::Computed {
                name: name.to_string(),
                func: c.func.clone(),
                loc: c.loc.clone(),
            });
        }
        if let Some(because) = props.frozen {
            return Err(SetError::Frozen {
                name: name.to_string(),
                because,
            });
        }
        Ok(())
    }

    /// Writes a value into the in-memory value file.
    fn store(&mut self, var: &Variable, slave: bool, value: &Value, owner: &str) {
        let ns = var.name.split_once('.').map(|(ns, _)| ns.to_string());
        let is_default = !slave
            && !self.dicos.calcs.contains_key(&var.name)
            && *value == self.default_value(var);
        let stored = if slave {
            let items = value.items();
            Stored::Slave {
                val: items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| (i, value::item_json(*x, var.ty)))
                    .collect(),
                owner: (0..items.len()).map(|i| (i, owner.to_string())).collect(),
            }
        } else {
            match value.to_json(var.ty) {
                serde_json::Value::Array(val) => Stored::Multi {
                    val,
                    owner: owner.to_string(),
                },
                val => Stored::Single {
                    val,
                    owner: owner.to_string(),
                },
            }
        };
        let new_len = value.len_items();
        let slaves: Vec<String> = self
            .dicos
            .groups
            .get(&var.name)
            .map(|g| g.slaves.clone())
            .unwrap_or_default();
        let file = match &ns {
            Some(n) => self
                .extras
                .entry(n.clone())
                .or_insert_with(|| EolFile::empty(Path::new(n))),
            None => &mut self.main,
        };
        if is_default {
            file.remove(&var.name);
        } else {
            file.put(&var.name, stored);
        }
        // A master that shrank: its slaves lose the indexes past its end.
        for s in slaves {
            if let Some(Ok(Stored::Slave { mut val, mut owner })) = file.get_slave(&s) {
                val.retain(|i, _| *i < new_len);
                owner.retain(|i, _| *i < new_len);
                if val.is_empty() {
                    file.remove(&s);
                } else {
                    file.put(&s, Stored::Slave { val, owner });
                }
            }
        }
        self.dirty.insert(ns);
        self.changed(&var.name);
    }

    /// Drops derived state after `name` changed.
    fn changed(&mut self, name: &str) {
        self.memo = Memo::for_variables(self.dicos.variables.len());
        if self.base.dynamic_counters().contains(&name) {
            self.expand();
        }
    }

    /// Stores values that must not change once computed (`auto_save`,
    /// `gen_random`), so the next read gives the same value.
    pub fn persist_computed(&mut self, owner: &str) {
        let targets: Vec<(String, bool)> = self
            .dicos
            .calcs
            .values()
            .filter(|c| {
                funcs::saves_result(&c.func)
                    || self
                        .dicos
                        .variables
                        .get(&c.target)
                        .is_some_and(|v| v.auto_save)
            })
            .map(|c| (c.target.clone(), self.idx.master_of.contains_key(&c.target)))
            .collect();
        for (name, slave) in targets {
            let Ok(var) = self.variable(&name).cloned() else {
                continue;
            };
            let (file, _) = self.file_of(&name);
            if file.raw(&name).is_some() {
                continue;
            }
            if let Ok(r) = self.resolved(&name)
                && !r.value.is_empty()
            {
                self.store(&var, slave, &r.value, owner);
            }
        }
    }

    /// Writes every changed value file, atomically and under its lock.
    /// `held` is the lock of the main file when the caller already holds it.
    pub fn save(
        &mut self,
        paths: &Paths,
        held: Option<&EolLock>,
    ) -> Result<Vec<PathBuf>, EolError> {
        let mut written = Vec::new();
        let dirty = std::mem::take(&mut self.dirty);
        for ns in dirty {
            match ns {
                None => {
                    let own;
                    let lock = match held {
                        Some(l) => l,
                        None => {
                            own = EolLock::acquire(&paths.config, true)?;
                            &own
                        }
                    };
                    self.main.save(lock)?;
                    written.push(paths.config.clone());
                }
                Some(ns) => {
                    let path = paths.extra_config_for(&ns);
                    let lock = EolLock::acquire(&path, true)?;
                    if let Some(f) = self.extras.get(&ns) {
                        f.save(&lock)?;
                        written.push(path);
                    }
                }
            }
        }
        Ok(written)
    }

    /// Has anything changed since loading?
    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{BASE, cfg, one};
    use crate::config::{SetError, ValueError};

    #[test]
    fn set_refuses_computed_frozen_and_bad_values() {
        let mut c = cfg(BASE, "{}");
        assert!(matches!(
            c.set("c", &["x".into()], "t"),
            Err(SetError::Computed { .. })
        ));
        assert!(matches!(
            c.set("a", &["x".into()], "t"),
            Err(SetError::Value(ValueError::Disabled { .. }))
        ));
        assert!(matches!(
            c.set("n", &["five".into()], "t"),
            Err(SetError::Invalid { .. })
        ));
        assert!(matches!(
            c.set("m", &["300.1.1.1".into()], "t"),
            Err(SetError::Invalid { .. })
        ));
        assert!(!c.is_dirty());
        c.set("n", &["007".into()], "t").unwrap();
        assert_eq!(one(&c, "n").as_deref(), Some("7"));
        // Back to the default value: nothing stored.
        c.set("n", &["5".into()], "t").unwrap();
        assert!(c.main.raw("n").is_none());
    }

    #[test]
    fn gen_random_is_saved_once() {
        let xml = r#"<creole><variables><family name='f'><variable name='pw' type='password'/></family></variables>
            <constraints><fill name='gen_random' target='pw'><param name='size'>16</param></fill></constraints></creole>"#;
        let mut c = cfg(xml, "{}");
        let first = one(&c, "pw").unwrap();
        assert_eq!(first.len(), 16);
        c.persist_computed("auto");
        assert_eq!(
            c.main.raw("pw").and_then(|v| v["val"].as_str()),
            Some(first.as_str())
        );
    }
}
