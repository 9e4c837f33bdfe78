//! Properties of variables now: which are disabled, hidden, frozen or
//! mandatory, from their attributes and the conditions that target them
//! (or their family, filelist or servicelist).
//!
//! Its own file because conditions are a concept of their own: they read
//! values (through `resolve`) but decide only properties, memoized apart.

use super::{CondState, Config, HashMap, Props, ValueError};
use crate::dico::{CalcKind, FileDecl, Property};

impl Config {
    /// Whether a variable is disabled now: [`Config::props`] without
    /// copying the properties out of the memo (`list` asks for every
    /// variable).
    pub(super) fn is_disabled(&self, name: &str) -> Result<bool, ValueError> {
        if let Some(p) = self.memo.borrow().props.get(name) {
            return match p {
                Ok(p) => Ok(p.disabled.is_some()),
                Err(e) => Err(e.clone()),
            };
        }
        self.props(name).map(|p| p.disabled.is_some())
    }

    /// The properties of a variable now.
    pub fn props(&self, name: &str) -> Result<Props, ValueError> {
        if let Some(p) = self.memo.borrow().props.get(name) {
            return p.clone();
        }
        let key = format!("props:{name}");
        self.enter(&key, name)?;
        let r = self.compute_props(name);
        self.leave();
        self.memo
            .borrow_mut()
            .props
            .insert(name.to_string(), r.clone());
        r
    }

    fn compute_props(&self, name: &str) -> Result<Props, ValueError> {
        let var = self.variable(name)?;
        if let Some((false, e)) = self.broken(name) {
            return Err(e);
        }
        let mut p = Props {
            hidden: var.hidden,
            mandatory: var.mandatory,
            ..Props::default()
        };
        if var.disabled {
            p.disabled = Some(format!("declared disabled at {}", var.loc));
        }
        let mut conds: Vec<usize> = Vec::new();
        if let Some(fam) = self.dicos.families.get(&var.family) {
            p.hidden |= fam.hidden;
            if let Some(c) = self.idx.conds_family.get(&fam.name) {
                // A family condition never applies to its own source, which
                // often sits in that family (EOLE's sample dictionary: an
                // `activer_demo` switch disabling the rest of its family).
                conds.extend(
                    c.iter()
                        .filter(|&&ci| self.dicos.conditions[ci].source != name),
                );
            }
        }
        if let Some(c) = self.idx.conds_var.get(name) {
            conds.extend(c);
        }
        for ci in conds {
            let cond = &self.dicos.conditions[ci];
            match self.cond_state(ci)? {
                CondState::No => {}
                CondState::SourceDisabled(why) => {
                    if cond.kind.property == Property::Disabled && p.disabled.is_none() {
                        p.disabled = Some(why);
                    }
                }
                CondState::Holds(why) => match cond.kind.property {
                    Property::Disabled => {
                        p.disabled.get_or_insert(why);
                    }
                    Property::Hidden => p.hidden = true,
                    Property::Frozen => {
                        p.frozen.get_or_insert(why);
                    }
                    Property::Mandatory => p.mandatory = true,
                },
            }
        }
        if let Some(master) = self.idx.master_of.get(name) {
            let mp = self.props(master)?;
            if p.disabled.is_none()
                && let Some(why) = mp.disabled
            {
                p.disabled = Some(format!("its master '{master}' is disabled ({why})"));
            }
            p.hidden |= mp.hidden;
            if p.frozen.is_none() {
                p.frozen = mp.frozen;
            }
        }
        if let Some(calc) = self.dicos.calcs.get(name)
            && calc.kind == CalcKind::Auto
            && p.frozen.is_none()
        {
            p.frozen = Some(format!(
                "computed by <auto name='{}'> at {}",
                calc.func, calc.loc
            ));
        }
        if var.auto_freeze && self.instantiated && p.frozen.is_none() {
            p.frozen = Some("auto_freeze: it cannot change once the server is instantiated".into());
        }
        Ok(p)
    }

    fn cond_state(&self, ci: usize) -> Result<CondState, ValueError> {
        if let Some(s) = self.memo.borrow().conds.get(&ci) {
            return s.clone();
        }
        let cond = &self.dicos.conditions[ci];
        let r = (|| {
            if !self.dicos.variables.contains_key(&cond.source) {
                return Ok(if cond.fallback {
                    CondState::Holds(format!(
                        "{} at {}: its source '{}' does not exist (fallback)",
                        cond.kind.name(),
                        cond.loc,
                        cond.source
                    ))
                } else {
                    CondState::No
                });
            }
            let sp = self.props(&cond.source)?;
            if let Some(why) = sp.disabled {
                return Ok(CondState::SourceDisabled(format!(
                    "{} at {}: its source '{}' is disabled ({why})",
                    cond.kind.name(),
                    cond.loc,
                    cond.source
                )));
            }
            let value = self.resolve(&cond.source)?.value;
            let items = value.items();
            let hit = if items.is_empty() {
                cond.values.contains(&None)
            } else {
                items
                    .iter()
                    .any(|v| cond.values.iter().any(|c| c.as_deref() == *v))
            };
            Ok(if hit != cond.kind.negate {
                let shown = value.to_string();
                CondState::Holds(format!(
                    "{} at {}: '{}' is '{}'",
                    cond.kind.name(),
                    cond.loc,
                    cond.source,
                    shown
                ))
            } else {
                CondState::No
            })
        })();
        self.memo.borrow_mut().conds.insert(ci, r.clone());
        r
    }

    /// Is this `<file>` to be rendered? (Its `instance_mode` applies in the
    /// current container mode and its filelist is not disabled.)
    pub fn file_active(&self, file: &FileDecl) -> Result<bool, ValueError> {
        if !self.instance_mode_applies(file.instance_mode.as_deref()) {
            return Ok(false);
        }
        match &file.filelist {
            None => Ok(true),
            Some(fl) => self.list_active(&self.idx.conds_filelist, fl),
        }
    }

    /// Is this servicelist enabled?
    pub fn servicelist_active(&self, list: &str) -> Result<bool, ValueError> {
        self.list_active(&self.idx.conds_servicelist, list)
    }

    fn list_active(
        &self,
        map: &HashMap<String, Vec<usize>>,
        name: &str,
    ) -> Result<bool, ValueError> {
        for &ci in map.get(name).into_iter().flatten() {
            let cond = &self.dicos.conditions[ci];
            if cond.kind.property != Property::Disabled {
                continue;
            }
            match self.cond_state(ci)? {
                CondState::Holds(_) | CondState::SourceDisabled(_) => return Ok(false),
                CondState::No => {}
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{BASE, cfg, one};
    use crate::config::{SetError, ValueError};
    use crate::dico;

    #[test]
    fn disabled_source_propagates_and_disabled_params_read_as_unset() {
        let c = cfg(BASE, "{}");
        assert!(matches!(c.get("a"), Err(ValueError::Disabled { .. })));
        // b's fill reads the disabled `a`: unset.
        assert_eq!(one(&c, "b"), None);
        // c's hidden_if_in has a disabled source: not hidden, not disabled.
        let p = c.props("c").unwrap();
        assert!(!p.hidden && p.disabled.is_none());
        let c = cfg(BASE, r#"{"on": {"val": "oui", "owner": "u"}}"#);
        assert_eq!(one(&c, "b").as_deref(), Some("da"));
        assert!(c.props("c").unwrap().hidden);
    }

    #[test]
    fn frozen_mandatory_and_fallback_conditions() {
        let xml = r#"<creole><variables><family name='g'>
            <variable name='k' type='string'><value>x</value></variable></family><family name='f'>
            <variable name='t' type='string'/>
            <variable name='u' type='string'/>
            </family></variables><constraints>
            <condition name='frozen_if_in' source='k'><param>x</param><target>t</target></condition>
            <condition name='mandatory_if_not_in' source='k'><param>y</param><target>u</target></condition>
            <condition name='disabled_if_in' source='absent' fallback='True'><param>z</param><target type='family'>f</target></condition>
            </constraints></creole>"#;
        let out = dico::load_str(xml, "t.xml");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let c = cfg(xml, "{}");
        // fallback: the source does not exist, so the family is disabled.
        assert!(c.props("t").unwrap().disabled.is_some());
        let xml = xml
            .replace("fallback='True'", "fallback='False'")
            .replace("source='absent'", "source='k'");
        let mut c = cfg(&xml, "{}");
        assert!(c.props("t").unwrap().frozen.is_some());
        assert!(matches!(
            c.set("t", &["v".into()], "o"),
            Err(SetError::Frozen { .. })
        ));
        assert!(c.props("u").unwrap().mandatory);
        assert!(
            c.problems()
                .iter()
                .any(|p| p.variable.as_deref() == Some("u") && p.message.contains("mandatory"))
        );
    }
}
