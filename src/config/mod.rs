//! `config`: values, calculations, checks and conditions over the
//! dictionaries, and their storage in `config.eol`.
//!
//! A [`Config`] is the dictionaries plus the stored values. Everything else
//! (defaults, `fill`, `auto`, which variables are disabled, hidden, frozen
//! or mandatory) is derived on demand and memoized, and the memo is dropped
//! whenever a value changes, so there is no state to keep in sync.
//!
//! Rules chosen where Creole leaves room (see docs/dictionaries.md):
//! - a condition whose source is disabled disables its targets too (for the
//!   `disabled_*` kinds), as Creole's transitive requirements do; other kinds
//!   then do not apply;
//! - a parameter naming a disabled variable reads as unset, unless it says
//!   `hidden="False"`, which reads the value anyway;
//! - a value equal to the dictionary default (with no `fill`) is not stored.

mod checks;
pub mod eol;
mod errors;
mod funcs;
mod gate;
mod ini;
pub mod pylit;
mod read;
pub mod types;
mod value;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;

use crate::dico::{
    self, Calc, CalcKind, Dictionaries, FileDecl, Level, ParamValue, Property, Source, TargetKind,
    Variable,
};
use crate::paths::Paths;

pub use eol::{EolError, EolFile, EolLock, Stored};
pub use errors::{ConfigError, Problem, ProblemKind, SetError, Severity, ValueError};
pub use funcs::{CALCS, CHECKS};
pub use gate::InvalidValues;
pub use value::Value;

use funcs::Args;
use read::CheckFailure;

/// The engine's maps are keyed by variable names from the dictionaries:
/// a fast hash (foldhash) rather than SipHash, which was a tenth of a large
/// load + render (BENCHMARKS.md).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Stored in config.eol, with its owner (`creoleset`, `gen_config`…).
    Stored(String),
    /// Computed by a `<fill>` (a default the admin may override).
    Fill,
    /// Computed by an `<auto>` (always wins).
    Auto,
    /// The dictionary's `<value>`.
    Default,
    /// No value at all.
    Unset,
}

/// A variable's value and where it comes from.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub value: Value,
    pub origin: Origin,
}

/// The properties conditions and attributes give a variable right now.
/// `Some(reason)` says which declaration caused it.
#[derive(Debug, Clone, Default)]
pub struct Props {
    pub disabled: Option<String>,
    pub hidden: bool,
    pub frozen: Option<String>,
    pub mandatory: bool,
}

#[derive(Debug, Clone)]
enum CondState {
    Holds(String),
    /// The source is disabled: `disabled_*` conditions pass that on.
    SourceDisabled(String),
    No,
}

/// Lookups built once per expanded model.
#[derive(Debug, Default, Clone)]
struct Index {
    master_of: HashMap<String, String>,
    conds_var: HashMap<String, Vec<usize>>,
    conds_family: HashMap<String, Vec<usize>>,
    conds_filelist: HashMap<String, Vec<usize>>,
    conds_servicelist: HashMap<String, Vec<usize>>,
    checks_of: HashMap<String, Vec<usize>>,
}

impl Index {
    fn build(d: &Dictionaries) -> Index {
        let mut idx = Index::default();
        for g in d.groups.values() {
            for s in &g.slaves {
                idx.master_of.insert(s.clone(), g.master.clone());
            }
        }
        for (i, c) in d.conditions.iter().enumerate() {
            for t in &c.targets {
                let map = match t.kind {
                    TargetKind::Variable => &mut idx.conds_var,
                    TargetKind::Family => &mut idx.conds_family,
                    TargetKind::Filelist => &mut idx.conds_filelist,
                    TargetKind::Servicelist => &mut idx.conds_servicelist,
                    TargetKind::Other(_) => continue,
                };
                let v = map.entry(t.name.clone()).or_default();
                if v.last() != Some(&i) {
                    v.push(i);
                }
            }
        }
        for (i, c) in d.checks.iter().enumerate() {
            idx.checks_of.entry(c.target.clone()).or_default().push(i);
        }
        idx
    }
}

#[derive(Debug, Default, Clone)]
struct Memo {
    values: HashMap<String, Result<Resolved, ValueError>>,
    props: HashMap<String, Result<Props, ValueError>>,
    conds: HashMap<usize, Result<CondState, ValueError>>,
    /// For `valid_unique`: template name → value → the instances using it.
    /// Shared, not copied: every instance's check reads the same map.
    unique: HashMap<Arc<str>, Arc<HashMap<String, Vec<String>>>>,
    busy: Vec<String>,
}

impl Memo {
    /// Empty, with room for every variable's value and properties (growing
    /// the maps was visible at 2000 containers).
    fn for_variables(n: usize) -> RefCell<Memo> {
        RefCell::new(Memo {
            values: HashMap::with_capacity_and_hasher(n, Default::default()),
            props: HashMap::with_capacity_and_hasher(n, Default::default()),
            ..Memo::default()
        })
    }
}

/// The dictionaries and the values of one server.
#[derive(Debug, Clone)]
pub struct Config {
    /// The dictionaries as loaded, dynamic families still templates.
    base: Arc<Dictionaries>,
    /// The dictionaries with dynamic families expanded for the current counts.
    dicos: Arc<Dictionaries>,
    idx: Arc<Index>,
    main: EolFile,
    /// Extra namespaces' value files, by namespace.
    extras: IndexMap<String, EolFile>,
    instantiated: bool,
    /// Files changed since loading, to be written by `save`.
    dirty: BTreeSet<Option<String>>,
    /// Problems found while building (a dynamic count out of range).
    notes: Vec<Problem>,
    memo: RefCell<Memo>,
}

/// The dictionary folders a set of paths designates, in load order.
pub fn sources(paths: &Paths) -> Vec<Source> {
    let mut out: Vec<Source> = paths
        .dicos
        .iter()
        .map(|d| Source {
            dir: d.clone(),
            namespace: None,
        })
        .collect();
    if let Ok(entries) = std::fs::read_dir(&paths.extra_dicos) {
        let mut nss: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        nss.sort();
        out.extend(nss.into_iter().map(|(ns, dir)| Source {
            dir,
            namespace: Some(ns),
        }));
    }
    out
}

impl Config {
    /// Loads the dictionaries and values `paths` designates.
    pub fn load(paths: &Paths) -> Result<Config, ConfigError> {
        let dicos = dico::load(&sources(paths))?;
        Self::load_values(Arc::new(dicos), paths)
    }

    /// Loads the values for already-loaded dictionaries.
    pub fn load_values(dicos: Arc<Dictionaries>, paths: &Paths) -> Result<Config, ConfigError> {
        let main = EolFile::load(&paths.config)?;
        let mut extras = IndexMap::new();
        let namespaces: BTreeSet<&str> = dicos
            .variables
            .keys()
            .filter_map(|k| k.split_once('.').map(|(ns, _)| ns))
            .collect();
        for ns in namespaces {
            extras.insert(ns.to_string(), EolFile::load(&paths.extra_config_for(ns))?);
        }
        let instantiated = paths.instance_marker.exists();
        Ok(Config::new(dicos, main, extras, instantiated))
    }

    /// Builds a configuration from its parts (tests, benchmarks, genconfig).
    pub fn new(
        base: Arc<Dictionaries>,
        main: EolFile,
        extras: IndexMap<String, EolFile>,
        instantiated: bool,
    ) -> Config {
        let mut cfg = Config {
            dicos: base.clone(),
            idx: Arc::new(Index::build(&base)),
            base,
            main,
            extras,
            instantiated,
            dirty: BTreeSet::new(),
            notes: Vec::new(),
            memo: RefCell::default(),
        };
        cfg.expand();
        cfg
    }

    /// Re-expands dynamic families for the current counts.
    fn expand(&mut self) {
        self.notes.clear();
        if !self.base.has_dynamic() {
            return;
        }
        // Counters live outside dynamic families, so the unexpanded model
        // answers them.
        self.dicos = self.base.clone();
        self.idx = Arc::new(Index::build(&self.base));
        self.memo = RefCell::default();
        let mut counts = std::collections::HashMap::new();
        for counter in self.base.dynamic_counters() {
            let n = match self.get(counter) {
                Ok(v) => match v.first().map(|s| s.trim().parse::<usize>()) {
                    None => 0,
                    Some(Ok(n)) if n <= dico::MAX_INSTANCES => n,
                    Some(Ok(n)) => {
                        self.notes.push(Problem {
                            severity: Severity::Error,
                            kind: ProblemKind::Value,
                            variable: Some(counter.to_string()),
                            loc: None,
                            message: format!(
                                "{n} is more than the {} instances conteneur handles; using {}",
                                dico::MAX_INSTANCES,
                                dico::MAX_INSTANCES
                            ),
                        });
                        dico::MAX_INSTANCES
                    }
                    Some(Err(_)) => 0,
                },
                // Disabled or uncomputable: no instance.
                Err(_) => 0,
            };
            counts.insert(counter.to_string(), n);
        }
        let expanded = self.base.expand(&counts);
        self.idx = Arc::new(Index::build(&expanded));
        self.dicos = Arc::new(expanded);
        self.memo = Memo::for_variables(self.dicos.variables.len());
    }

    /// The dictionaries, dynamic families expanded.
    pub fn dictionaries(&self) -> &Dictionaries {
        &self.dicos
    }

    /// The dictionaries as loaded (dynamic families as templates).
    pub fn base_dictionaries(&self) -> &Arc<Dictionaries> {
        &self.base
    }

    pub fn is_instantiated(&self) -> bool {
        self.instantiated
    }

    pub fn variable(&self, name: &str) -> Result<&Variable, ValueError> {
        self.dicos
            .variables
            .get(name)
            .ok_or_else(|| self.unknown(name))
    }

    /// The master of `name`, if it is a slave.
    pub fn master_of(&self, name: &str) -> Option<&str> {
        self.idx.master_of.get(name).map(String::as_str)
    }

    fn unknown(&self, name: &str) -> ValueError {
        // `conteneur3_name` while nombre_conteneur is 2: say so.
        if let Some((template, index, counter)) = self.dynamic_template_of(name) {
            let count = self
                .get(&counter)
                .ok()
                .and_then(|v| v.first().map(str::to_string));
            return ValueError::NoSuchInstance {
                name: name.to_string(),
                template,
                index,
                counter,
                count: count.unwrap_or_else(|| "unset".into()),
            };
        }
        let mut scored: Vec<(f64, &str)> = self
            .dicos
            .variables
            .keys()
            .map(|k| (strsim::jaro_winkler(name, k), k.as_str()))
            .filter(|(s, _)| *s > 0.9)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        ValueError::Unknown {
            name: name.to_string(),
            similar: scored
                .into_iter()
                .take(3)
                .map(|(_, k)| k.to_string())
                .collect(),
        }
    }

    /// If `name` is an instance of a dynamic variable (a number where the
    /// template has `{X}`), the template, the index and the counter.
    fn dynamic_template_of(&self, name: &str) -> Option<(String, usize, String)> {
        let start = name.find(|c: char| c.is_ascii_digit())?;
        let len = name[start..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(name.len() - start);
        let index: usize = name[start..start + len].parse().ok()?;
        let template = format!(
            "{}{}{}",
            &name[..start],
            dico::DYNAMIC_PLACEHOLDER,
            &name[start + len..]
        );
        let var = self.base.variables.get(&template)?;
        let counter = self.base.families.get(&var.family)?.dynamic.clone()?;
        Some((template, index, counter))
    }

    /// The value of an active variable, as `CreoleGet` prints it.
    pub fn get(&self, name: &str) -> Result<Value, ValueError> {
        Ok(self.resolved(name)?.value)
    }

    /// The value and its origin; an error if the variable is disabled.
    pub fn resolved(&self, name: &str) -> Result<Resolved, ValueError> {
        self.variable(name)?;
        if let Some(because) = self.props(name)?.disabled {
            return Err(ValueError::Disabled {
                name: name.to_string(),
                because,
            });
        }
        self.resolve(name)
    }

    /// Every variable that is not disabled, in dictionary order, with its
    /// value or the reason it cannot be computed.
    pub fn list(&self) -> Vec<(&str, Result<Value, ValueError>)> {
        let mut out = Vec::with_capacity(self.dicos.variables.len());
        for name in self.dicos.variables.keys() {
            match self.is_disabled(name) {
                Ok(true) => continue,
                Ok(false) => out.push((name.as_str(), self.resolve(name).map(|r| r.value))),
                Err(e) => out.push((name.as_str(), Err(e))),
            }
        }
        out
    }

    /// Whether a variable is disabled now: [`Config::props`] without
    /// copying the properties out of the memo (`list` asks for every
    /// variable).
    fn is_disabled(&self, name: &str) -> Result<bool, ValueError> {
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

    /// Cycle detection across values, properties and conditions.
    fn enter(&self, key: &str, name: &str) -> Result<(), ValueError> {
        let mut memo = self.memo.borrow_mut();
        if let Some(pos) = memo.busy.iter().position(|k| k == key) {
            let chain: Vec<&str> = memo.busy[pos..].iter().map(String::as_str).collect();
            return Err(ValueError::Cycle {
                name: name.to_string(),
                chain: format!("{} -> {key}", chain.join(" -> ")),
            });
        }
        memo.busy.push(key.to_string());
        Ok(())
    }

    fn leave(&self) {
        self.memo.borrow_mut().busy.pop();
    }

    fn compute_props(&self, name: &str) -> Result<Props, ValueError> {
        let var = self.variable(name)?;
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

    /// The value regardless of the disabled property (memoized).
    fn resolve(&self, name: &str) -> Result<Resolved, ValueError> {
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

    fn file_of<'a>(&'a self, name: &'a str) -> (&'a EolFile, Option<&'a str>) {
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

    fn default_value(var: &Variable) -> Value {
        if var.multi {
            Value::Multi(var.defaults.iter().cloned().map(Some).collect())
        } else {
            Value::Single(var.defaults.first().cloned())
        }
    }

    fn compute_value(&self, name: &str) -> Result<Resolved, ValueError> {
        let var = self.variable(name)?;
        if let Some(master) = self.idx.master_of.get(name) {
            return self.compute_slave(var, master);
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
            if c.kind == CalcKind::Fill && v.is_empty() && !var.defaults.is_empty() {
                return Ok(Resolved {
                    value: Self::default_value(var),
                    origin: Origin::Default,
                });
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
        let value = Self::default_value(var);
        let origin = if value.is_empty() {
            Origin::Unset
        } else {
            Origin::Default
        };
        Ok(Resolved { value, origin })
    }

    fn compute_slave(&self, var: &Variable, master: &str) -> Result<Resolved, ValueError> {
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
        let computed = match calc {
            Some(c) => Some(self.eval_calc(c, &var.name)?),
            None => None,
        };
        let auto = calc.is_some_and(|c| c.kind == CalcKind::Auto);
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
                (None, None) => var.defaults.first().cloned(),
            };
            items.push(item);
        }
        let origin = match (&stored, calc) {
            (Some((_, owner)), _) if any_stored => Origin::Stored(owner.clone()),
            (_, Some(c)) if c.kind == CalcKind::Auto => Origin::Auto,
            (_, Some(_)) => Origin::Fill,
            _ if var.defaults.is_empty() => Origin::Unset,
            _ => Origin::Default,
        };
        Ok(Resolved {
            value: Value::Multi(items),
            origin,
        })
    }

    /// Resolves the parameters of a calculation or check. An optional
    /// parameter naming an absent variable is left out.
    fn args(
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

    /// Is this `<file>` to be rendered? (Its filelist is not disabled.)
    pub fn file_active(&self, file: &FileDecl) -> Result<bool, ValueError> {
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

    // ----- validation -------------------------------------------------

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
    /// declaration whether or not a value needs them now.
    pub fn unsupported(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for calc in self.base.calcs.values() {
            let kind = if calc.kind == CalcKind::Fill {
                "fill"
            } else {
                "auto"
            };
            if !funcs::is_calc(&calc.func) && seen.insert((calc.func.clone(), calc.target.clone()))
            {
                out.push(Problem {
                    severity: Severity::Error,
                    kind: ProblemKind::Unsupported,
                    variable: Some(calc.target.clone()),
                    loc: Some(calc.loc.clone()),
                    message: format!(
                        "<{kind} name='{}'>: conteneur does not support this function",
                        calc.func
                    ),
                });
            }
            for p in &calc.params {
                if let ParamValue::Python(expr) = &p.value {
                    out.push(Problem {
                        severity: Severity::Error,
                        kind: ProblemKind::Unsupported,
                        variable: Some(calc.target.clone()),
                        loc: Some(p.loc.clone()),
                        message: format!(
                            "<{kind} name='{}'>: Python parameter '{expr}' is not evaluated",
                            calc.func
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
                    severity: Severity::Error,
                    kind: ProblemKind::Unsupported,
                    variable: Some(check.target.clone()),
                    loc: Some(check.loc.clone()),
                    message: format!("<check name='{}'>: conteneur does not support this check; it is not applied", check.func),
                });
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
        if props.mandatory {
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
            if let Err(failure) = self.run_check_on(check, name, var, value) {
                let message = failure.into_message(&check.func);
                let sev = match check.level {
                    Level::Error => Severity::Error,
                    Level::Warning => Severity::Warning,
                };
                let mut p = problem(sev, message);
                p.loc = Some(check.loc.clone());
                out.push(p);
            }
        }
    }

    /// Runs one check on every value; unknown checks pass (lint lists
    /// them). The error says whether the check could not run or which item
    /// it refused.
    fn run_check_on(
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

    // ----- changing values ----------------------------------------------

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
                        value: v.clone(),
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
            && *value == Self::default_value(var);
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

/// Adds a value that cannot be computed to the problems. Unsupported
/// functions are left out: `unsupported` lists each declaration once,
/// instead of once per variable that depends on it.
fn push_value_error(out: &mut Vec<Problem>, name: &str, e: ValueError) {
    if matches!(
        e,
        ValueError::Unsupported { .. } | ValueError::Python { .. }
    ) {
        return;
    }
    // The message names the variable already.
    let _ = name;
    out.push(Problem {
        severity: Severity::Error,
        kind: ProblemKind::Value,
        variable: None,
        loc: None,
        message: e.to_string(),
    });
}

impl Value {
    /// The number of entries (a single value counts as one, unset as zero).
    pub fn len_items(&self) -> usize {
        match self {
            Value::Single(None) => 0,
            Value::Single(Some(_)) => 1,
            Value::Multi(v) => v.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg_with(texts: &[(&str, &str)], eol: &str) -> Config {
        let out = dico::load_texts(texts);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let eol = EolFile::parse(eol.as_bytes(), Path::new("config.eol")).unwrap();
        Config::new(Arc::new(out.dicos), eol, IndexMap::new(), false)
    }

    fn cfg(xml: &str, eol: &str) -> Config {
        cfg_with(&[("00_t.xml", xml)], eol)
    }

    fn one(c: &Config, name: &str) -> Option<String> {
        c.get(name).unwrap().first().map(str::to_string)
    }

    const BASE: &str = r#"<creole><variables><family name='f'>
        <variable name='on' type='oui/non'><value>non</value></variable>
        <variable name='a' type='string'><value>da</value></variable>
        <variable name='b' type='string'/>
        <variable name='c' type='string'/>
        <variable name='m' type='ip' multi='True'><value>10.0.0.1</value><value>10.0.0.2</value></variable>
        <variable name='s' type='string'><value>sd</value></variable>
        <variable name='n' type='number'><value>5</value></variable>
        </family></variables>
        <constraints>
          <condition name='disabled_if_in' source='on'><param>non</param><target>a</target></condition>
          <condition name='hidden_if_in' source='a'><param>da</param><target>c</target></condition>
          <fill name='calc_val' target='b'><param type='eole'>a</param></fill>
          <auto name='concat' target='c'><param type='eole'>on</param><param>-</param><param type='eole'>n</param></auto>
          <group master='m'><slave>s</slave></group>
        </constraints></creole>"#;

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

    #[test]
    fn redefine_and_remove_condition_across_files() {
        let first = r#"<creole><variables><family name='f'>
            <variable name='sw' type='oui/non'><value>non</value></variable>
            <variable name='v' type='string' description='old'><value>1</value></variable>
            </family></variables><constraints>
            <condition name='disabled_if_in' source='sw'><param>non</param><target>v</target></condition>
            <check name='valid_enum' target='v'><param>['1', '2']</param></check>
            </constraints></creole>"#;
        let second = r#"<creole><variables><family name='f'>
            <variable name='v' redefine='True' remove_condition='True' remove_check='True' description='new'><value>3</value></variable>
            <variable name='w' exists='False'/><variable name='v' exists='False'/>
            </family></variables></creole>"#;
        let c = cfg_with(&[("10_a.xml", first), ("20_b.xml", second)], "{}");
        assert_eq!(one(&c, "v").as_deref(), Some("3"));
        assert_eq!(c.variable("v").unwrap().description, "new");
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        assert!(c.variable("w").is_ok());
    }

    #[test]
    fn cycles_are_reported_not_overflowed() {
        let xml = r#"<creole><variables><family name='f'>
            <variable name='x' type='string'/><variable name='y' type='string'/>
            </family></variables><constraints>
            <fill name='calc_val' target='x'><param type='eole'>y</param></fill>
            <fill name='calc_val' target='y'><param type='eole'>x</param></fill>
            </constraints></creole>"#;
        let c = cfg(xml, "{}");
        assert!(matches!(c.get("x"), Err(ValueError::Cycle { .. })));
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
