//! What `%%name` finds: EOLE's "Déclarations du langage Creole".
//!
//! - Every active variable by name: a string, an integer for a `number`,
//!   `None` when unset; a multi variable is a list.
//! - A master of a master/slave group is one object per index with its
//!   slaves as attributes (`%for %%ip in %%ip_admin_eth0` …
//!   `%%ip.netmask_admin_eth0`); as a whole it prints and compares as the
//!   list of its values. Slaves are not names of their own.
//! - Disabled variables are absent; so are values conteneur cannot compute,
//!   and the error of a template that reads one says why.
//! - The helpers `is_defined`, `is_empty`, `custom_join`, `calc_classe`,
//!   `is_ip`, and `creole_client` and `current_container`.
//!
//! The namespace is built from a JSON [`dump`] of the values: the same
//! dump feeds the Cheetah3 oracle (`scripts/cheetah-oracle.py`), so both
//! engines see the same values and only the engines are compared.

use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{Map, Value as J, json};

use super::Fail;
use super::value::{Func, Master, Value};
use crate::config::Config;
use crate::dico::VarType;

/// Functions of Creole's `eosfunc` and of `/usr/share/creole/funcs` that
/// need the machine (or Creole's daemon) rather than the configuration.
pub const MACHINE_FUNCS: &[&str] = &[
    "get_interface_from_ip",
    "get_master_interfaces",
    "update_repository_source",
    "get_net_device",
    "auto_eth",
    "get_devices",
];

/// Helpers conteneur computes.
const HELPERS: &[&str] = &[
    "is_defined",
    "is_empty",
    "custom_join",
    "calc_classe",
    "is_ip",
];

/// The container a template is rendered for: conteneur renders on the
/// host, which Creole names `root` when containers are off.
fn root_container() -> J {
    json!({"name": "root", "group": "root", "real_container": "root", "path": "", "ip": "127.0.0.1"})
}

/// The values as JSON: `{"variables": {name: value}, "masters": {master:
/// {"values": [...], "slaves": {slave: [...]}}}, "missing": {name: why},
/// "current_container": {...}}`.
pub fn dump(cfg: &Config) -> J {
    let dicos = cfg.dictionaries();
    let mut vars = Map::new();
    let mut masters = Map::new();
    let mut missing = Map::new();
    let listed = cfg.list();
    let mut values: HashMap<&str, crate::config::Value> = HashMap::with_capacity(listed.len());
    let mut order = Vec::with_capacity(listed.len());
    for (name, r) in listed {
        order.push(name);
        match r {
            Ok(v) => {
                values.insert(name, v);
            }
            Err(e) => {
                missing.insert(name.to_string(), J::from(e.to_string()));
            }
        }
    }
    for name in order {
        let Some(v) = values.get(name) else { continue };
        if cfg.master_of(name).is_some_and(|m| m != name) {
            continue;
        }
        let Ok(var) = cfg.variable(name) else {
            continue;
        };
        if let Some(group) = dicos.groups.get(name) {
            let mut slaves = Map::new();
            for s in &group.slaves {
                // A disabled slave is absent from the objects too.
                if let Some(sv) = values.get(s.as_str()) {
                    let ty = cfg.variable(s).map(|v| v.ty).unwrap_or(VarType::String);
                    slaves.insert(s.clone(), items_json(sv, ty));
                }
            }
            masters.insert(
                name.to_string(),
                json!({"values": items_json(v, var.ty), "slaves": slaves}),
            );
        } else if var.multi {
            vars.insert(name.to_string(), items_json(v, var.ty));
        } else {
            vars.insert(name.to_string(), item_json(v.first(), var.ty));
        }
    }
    json!({
        "variables": vars,
        "masters": masters,
        "missing": missing,
        "current_container": root_container(),
    })
}

fn item_json(s: Option<&str>, ty: VarType) -> J {
    match s {
        None => J::Null,
        Some(s) if ty.is_number() => match s.trim().parse::<i64>() {
            Ok(n) => J::from(n),
            Err(_) => J::from(s),
        },
        Some(s) => J::from(s),
    }
}

fn items_json(v: &crate::config::Value, ty: VarType) -> J {
    J::Array(v.items().into_iter().map(|i| item_json(i, ty)).collect())
}

/// The namespace of a render.
pub struct Namespace {
    vars: HashMap<String, Value>,
    /// The variables of extra namespaces by full name, for
    /// `creole_client.get('ns.family.var')`.
    flat: HashMap<String, Value>,
    missing: HashMap<String, String>,
    current_container: Value,
    /// Names a template may use that conteneur does not provide, with why
    /// (for the error message).
    unsupported: HashMap<&'static str, &'static str>,
}

fn from_json(j: &J) -> Value {
    match j {
        J::Null => Value::None,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => Value::str(s.as_str()),
        J::Array(a) => Value::list(a.iter().map(from_json).collect()),
        J::Object(o) => Value::dict(
            o.iter()
                .map(|(k, v)| (Value::str(k.as_str()), from_json(v)))
                .collect(),
        ),
    }
}

fn list_of(j: Option<&J>) -> Vec<Value> {
    match j {
        Some(J::Array(a)) => a.iter().map(from_json).collect(),
        _ => Vec::new(),
    }
}

impl Namespace {
    pub fn from_config(cfg: &Config) -> Namespace {
        Namespace::from_dump(&dump(cfg))
    }

    pub fn from_dump(d: &J) -> Namespace {
        let mut vars = HashMap::new();
        let mut flat = HashMap::new();
        if let Some(J::Object(o)) = d.get("variables") {
            for (k, v) in o {
                let v = from_json(v);
                // An extra namespace's `ns.family.var` nests as dicts, as
                // `%%ns.family.var` reads it.
                if k.contains('.') {
                    nest(&mut vars, k, v.clone());
                    flat.insert(k.clone(), v);
                } else {
                    vars.insert(k.clone(), v);
                }
            }
        }
        if let Some(J::Object(o)) = d.get("masters") {
            for (k, m) in o {
                let slaves = match m.get("slaves") {
                    Some(J::Object(s)) => s
                        .iter()
                        .map(|(n, v)| (n.clone(), list_of(Some(v))))
                        .collect(),
                    _ => Vec::new(),
                };
                let master = Master {
                    values: list_of(m.get("values")),
                    slaves,
                };
                vars.insert(k.clone(), Value::Master(Rc::new(master)));
            }
        }
        let missing = match d.get("missing") {
            Some(J::Object(o)) => o
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect(),
            _ => HashMap::new(),
        };
        let current_container = d
            .get("current_container")
            .map(from_json)
            .unwrap_or_else(|| from_json(&root_container()));
        let mut unsupported = HashMap::new();
        for f in MACHINE_FUNCS {
            unsupported.insert(
                *f,
                "it probes the machine or asks Creole's daemon, which conteneur does not",
            );
        }
        Namespace {
            vars,
            flat,
            missing,
            current_container,
            unsupported,
        }
    }

    /// A name of the namespace.
    pub fn get(&self, n: &str) -> Option<Value> {
        if let Some(v) = self.vars.get(n) {
            return Some(v.clone());
        }
        match n {
            "creole_client" => Some(Value::Object("creole_client")),
            "current_container" => Some(self.current_container.clone()),
            _ => HELPERS
                .iter()
                .find(|h| **h == n)
                .map(|h| Value::Func(Func::Helper(h))),
        }
    }

    /// The error for a name found nowhere: Cheetah's `NotFound`, saying why
    /// when conteneur knows.
    pub fn not_found(&self, n: &str) -> Fail {
        if let Some(why) = self.unsupported.get(n) {
            return Fail::Unsupported(format!("the function {n}(): {why}"));
        }
        let msg = match self.missing.get(n) {
            Some(why) => format!("'{n}' has no value: {why}"),
            None => format!(
                "no variable or function '{n}' (disabled, or declared by no dictionary read)"
            ),
        };
        Fail::py("NotFound", msg)
    }

    pub fn call_helper(
        &self,
        h: &str,
        args: Vec<Value>,
        kw: Vec<(String, Value)>,
    ) -> Result<Value, Fail> {
        if let Some((k, _)) = kw.first() {
            return Err(Fail::Unsupported(format!(
                "the keyword argument '{k}' of {h}()"
            )));
        }
        let arg = |i: usize| {
            args.get(i)
                .cloned()
                .ok_or_else(|| Fail::py("TypeError", format!("{h}() is missing an argument")))
        };
        match h {
            "is_defined" => match arg(0)? {
                Value::Str(s) => Ok(Value::Bool(self.vars.contains_key(s.as_ref()))),
                _ => Err(Fail::py(
                    "TypeError",
                    "is_defined() takes a variable name".into(),
                )),
            },
            "is_empty" => {
                let s = arg(0)?.to_str()?;
                Ok(Value::Bool(matches!(
                    s.as_str(),
                    "" | "\"\"" | "''" | "[]" | "['']" | "[\"\"]" | "None"
                )))
            }
            "custom_join" => {
                let sep = match args.get(1) {
                    Some(Value::Str(s)) => s.to_string(),
                    Some(_) => {
                        return Err(Fail::py(
                            "TypeError",
                            "custom_join(): the separator must be a string".into(),
                        ));
                    }
                    None => " ".into(),
                };
                let mut parts = Vec::new();
                for v in arg(0)?.iter()? {
                    parts.push(v.to_str()?);
                }
                Ok(Value::str(parts.join(&sep)))
            }
            "calc_classe" => {
                let mask = arg(0)?.to_str()?;
                match prefix_len(&mask) {
                    Some(n) => Ok(Value::str(n.to_string())),
                    None => Err(Fail::py(
                        "ValueError",
                        format!("calc_classe(): '{mask}' is not a netmask"),
                    )),
                }
            }
            "is_ip" => {
                let s = arg(0)?.to_str()?;
                Ok(Value::Bool(s.parse::<std::net::Ipv4Addr>().is_ok()))
            }
            other => Err(Fail::Unsupported(format!("the helper {other}()"))),
        }
    }

    /// `creole_client`'s methods: `get(path)` reads a variable; the
    /// containers, interfaces and services model of Creole's daemon is not
    /// conteneur's.
    pub fn call_method(
        &self,
        obj: &str,
        m: &str,
        args: Vec<Value>,
        _kw: Vec<(String, Value)>,
    ) -> Result<Value, Fail> {
        if obj == "creole_client" && m == "get" {
            let Some(Value::Str(path)) = args.first() else {
                return Err(Fail::py(
                    "TypeError",
                    "creole_client.get() takes a path".into(),
                ));
            };
            let name = path
                .strip_prefix("creole.")
                .map_or(path.as_ref(), |p| p.rsplit('.').next().unwrap_or(p));
            return match self.vars.get(name).or_else(|| self.flat.get(path.as_ref())) {
                Some(Value::Master(m)) => Ok(Value::list(m.values.clone())),
                Some(v) => Ok(v.clone()),
                None => Err(self.not_found(name)),
            };
        }
        if obj == "creole_client" && m == "get_container" {
            // conteneur renders on the host, Creole's one container `root`
            // when containers are off: any other is unknown, an error a
            // template may catch (rsyslog.conf.container does).
            let name = match args.first() {
                Some(Value::Str(s)) => s.to_string(),
                _ => return Err(Fail::py("TypeError", "get_container() takes a name".into())),
            };
            let root = super::builtins::get_item(&self.current_container, &Value::str("name"))?;
            if matches!(&root, Value::Str(r) if r.as_ref() == name) {
                return Ok(self.current_container.clone());
            }
            return Err(Fail::py(
                "NotFound",
                format!(
                    "no container '{name}' (conteneur renders on the host, Creole's container '{}')",
                    root.to_str()?
                ),
            ));
        }
        Err(Fail::Unsupported(format!(
            "{obj}.{m}(): Creole's daemon model of containers, interfaces and services is not conteneur's"
        )))
    }
}

/// The prefix length of a dotted netmask with contiguous bits.
pub fn prefix_len(mask: &str) -> Option<u32> {
    let ip: std::net::Ipv4Addr = mask.trim().parse().ok()?;
    let bits = u32::from(ip);
    let n = bits.leading_ones();
    (bits.checked_shl(n).unwrap_or(0) == 0).then_some(n)
}

/// Inserts `a.b.c` as `a` → `{b: {c: v}}`.
fn nest(vars: &mut HashMap<String, Value>, name: &str, v: Value) {
    let mut parts = name.split('.');
    let Some(head) = parts.next() else { return };
    let rest: Vec<&str> = parts.collect();
    let top = vars
        .entry(head.to_string())
        .or_insert_with(|| Value::dict(Vec::new()))
        .clone();
    let mut cur = top;
    for (i, p) in rest.iter().enumerate() {
        let Value::Dict(d) = &cur else { return };
        let key = Value::str(*p);
        if i + 1 == rest.len() {
            let _ = super::builtins::set_item(&cur, key, v);
            return;
        }
        let found = d
            .borrow()
            .iter()
            .find(|(k, _)| super::value::eq(k, &key))
            .map(|(_, x)| x.clone());
        let next = match found {
            Some(x) => x,
            None => {
                let x = Value::dict(Vec::new());
                let _ = super::builtins::set_item(&cur, key, x.clone());
                x
            }
        };
        cur = next;
    }
}
