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
mod containers;
pub mod eol;
mod errors;
mod funcs;
mod gate;
mod ini;
mod problems;
mod props;
pub mod pylit;
mod read;
mod resolve;
mod set;
pub mod types;
mod value;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::dico::{self, Dictionaries, Source, TargetKind, Variable};
use crate::paths::Paths;

pub use eol::{EolError, EolFile, EolLock, Stored};
pub use errors::{ConfigError, Problem, ProblemKind, SetError, Severity, ValueError};
pub use funcs::{CALCS, CHECKS};
pub use gate::InvalidValues;
pub use value::Value;

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
    /// Variables a broken declaration leaves unreadable: index in
    /// `Dictionaries::broken`, a whole break before a lost computed value.
    broken_of: HashMap<String, usize>,
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
        for (i, b) in d.broken.iter().enumerate() {
            let slot = idx.broken_of.entry(b.variable.clone()).or_insert(i);
            if d.broken[*slot].value_only && !b.value_only {
                *slot = i;
            }
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

    /// The first value of a variable as text, `None` when it has none or
    /// cannot be read (unknown, disabled): what a setting read with a
    /// default needs.
    pub fn first(&self, name: &str) -> Option<String> {
        self.get(name)
            .ok()
            .and_then(|v| v.first().map(str::to_string))
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

    /// The broken declaration that leaves `name` unreadable, if any, and
    /// whether only its computed value is lost.
    fn broken(&self, name: &str) -> Option<(bool, ValueError)> {
        let b = &self.dicos.broken[*self.idx.broken_of.get(name)?];
        Some((
            b.value_only,
            ValueError::Broken {
                name: name.to_string(),
                reason: b.reason.clone(),
                loc: b.loc.clone(),
            },
        ))
    }

    fn leave(&self) {
        self.memo.borrow_mut().busy.pop();
    }
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
    use std::path::Path;

    use super::*;

    pub(super) fn cfg_with(texts: &[(&str, &str)], eol: &str) -> Config {
        let out = dico::load_texts(texts);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let eol = EolFile::parse(eol.as_bytes(), Path::new("config.eol")).unwrap();
        Config::new(Arc::new(out.dicos), eol, IndexMap::new(), false)
    }

    pub(super) fn cfg(xml: &str, eol: &str) -> Config {
        cfg_with(&[("00_t.xml", xml)], eol)
    }

    pub(super) fn one(c: &Config, name: &str) -> Option<String> {
        c.get(name).unwrap().first().map(str::to_string)
    }

    pub(super) const BASE: &str = r#"<creole><variables><family name='f'>
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
}
