//! The context templates see: every active variable, plus convenience views
//! of conteneur's own variables.
//!
//! - A single variable is a string (a `number` an integer; unset: none).
//! - A multi variable is a list.
//! - A master is a list of objects `{"value": v, "<slave>": slave_v, …}`,
//!   one per index, so a template walks a group in one loop; each slave is
//!   also there as its own list.
//! - A variable of an extra namespace (`ns.family.var`) is nested:
//!   `{{ ns.family.var }}`, as Creole templates read it.
//! - A disabled variable is absent (`{% if x is defined %}` tells), and so
//!   is a variable whose value cannot be computed (a function conteneur
//!   does not support): templates that do not use it still render, and one
//!   that does gets an error saying why it is missing.
//!
//! Views (they win over a variable of the same name):
//! - `containers`: one object per container whose variables are active,
//!   index 1..nombre_conteneur: `index`, `name`, `type`, `url`, `tag`,
//!   `repository`, `ports` (`[{in, out}]`, complete pairs only, integers),
//!   `mounts` (`[{in, out, kind}]`, complete pairs only, `kind` is `bind`
//!   when `out` is an absolute path and `volume` otherwise), `env` (list),
//!   `memory`, `restart`, `stop_timeout` (integer), `health_path` (string or
//!   none), `websocket` and `publish` (booleans);
//! - `server`: the web front: `name`, `listen`, `http_port`, `https`
//!   (boolean), `https_port`, `cert`, `key` (none when https is off),
//!   `timeout`, `body_size`, `publish_address`;
//! - `families`: every family with at least one active variable, in
//!   dictionary order: `{name, dictionary, variables: [{name, value,
//!   multi}]}`, `dictionary` being the file name that declared the family
//!   and `value` a string or a list (a master's plain values). It lets a
//!   template list the variables of a dictionary without naming each one.

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;
use serde_json::{Map, Value as J, json};

use crate::config::{Config, Value};
use crate::dico::{self, VarType};

/// The names of the views, beside the variables.
pub const VIEWS: [&str; 3] = ["containers", "server", "families"];

/// The context and what was left out of it.
pub struct Built {
    pub context: tera::Context,
    /// Variables (and views) left out because their value cannot be
    /// computed, with the reason, for the undefined-variable message.
    pub missing: HashMap<String, String>,
}

/// Builds the context of every template from the current values.
pub fn build(cfg: &Config) -> Built {
    let mut values: IndexMap<&str, Value> = IndexMap::new();
    let mut missing: HashMap<String, String> = HashMap::new();
    for (name, r) in cfg.list() {
        match r {
            Ok(v) => {
                values.insert(name, v);
            }
            Err(e) => {
                missing.insert(name.to_string(), e.to_string());
            }
        }
    }
    let dicos = cfg.dictionaries();
    let mut top: Map<String, J> = Map::new();
    for (name, v) in &values {
        let Ok(var) = cfg.variable(name) else {
            continue;
        };
        let j = if let Some(group) = dicos.groups.get(*name) {
            let slaves: Vec<(&str, Option<(&Value, VarType)>)> = group
                .slaves
                .iter()
                .map(|s| {
                    let val = values.get(s.as_str());
                    let ty = cfg.variable(s).map(|v| v.ty).unwrap_or(VarType::String);
                    (s.as_str(), val.map(|v| (v, ty)))
                })
                .collect();
            let objects: Vec<J> = v
                .items()
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let mut o = Map::new();
                    o.insert("value".into(), item_json(*item, var.ty));
                    for (s, val) in &slaves {
                        // A disabled slave is absent from the objects too.
                        if let Some((sv, ty)) = val {
                            let x = sv.items().get(i).copied().flatten();
                            o.insert(s.to_string(), item_json(x, *ty));
                        }
                    }
                    J::Object(o)
                })
                .collect();
            J::Array(objects)
        } else {
            plain_json(v, var.ty, var.multi || cfg.master_of(name).is_some())
        };
        insert_nested(&mut top, name, j);
    }

    let reader = Reader {
        values: &values,
        missing: &missing,
    };
    let views = [
        ("containers", containers(&reader)),
        ("server", server(&reader)),
    ];
    let mut view_missing = Vec::new();
    for (key, view) in views {
        match view {
            Ok(j) => {
                top.insert(key.to_string(), j);
            }
            Err(why) => {
                top.remove(key);
                view_missing.push((key.to_string(), why));
            }
        }
    }
    missing.extend(view_missing);
    top.insert("families".into(), families(cfg, &values));

    let mut context = tera::Context::new();
    for (k, v) in top {
        context.insert(k, &v);
    }
    Built { context, missing }
}

/// A scalar as JSON: an integer for a `number` that parses, else a string.
fn item_json(s: Option<&str>, ty: VarType) -> J {
    match s {
        None => J::Null,
        Some(s) if ty.is_number() => match s.trim().parse::<i64>() {
            Ok(n) => J::from(n),
            Err(_) => J::String(s.to_string()),
        },
        Some(s) => J::String(s.to_string()),
    }
}

/// A value as a scalar, or a list for a multi variable.
fn plain_json(v: &Value, ty: VarType, multi: bool) -> J {
    if multi {
        J::Array(v.items().into_iter().map(|i| item_json(i, ty)).collect())
    } else {
        item_json(v.first(), ty)
    }
}

/// Inserts `a.b.c` as nested objects (extra namespaces), `name` as is.
fn insert_nested(top: &mut Map<String, J>, name: &str, j: J) {
    let mut parts: Vec<&str> = name.split('.').collect();
    let Some(last) = parts.pop() else {
        return;
    };
    let mut cur = top;
    for p in parts {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| J::Object(Map::new()));
        // A plain variable already holds that name: keep it, skip this one
        // (it stays readable through `families`).
        let J::Object(next) = entry else {
            return;
        };
        cur = next;
    }
    cur.insert(last.to_string(), j);
}

/// Typed reads of the values, telling "absent" from "cannot be computed".
struct Reader<'a> {
    values: &'a IndexMap<&'a str, Value>,
    missing: &'a HashMap<String, String>,
}

impl Reader<'_> {
    /// `Ok(None)`: disabled or not declared; `Err`: cannot be computed.
    fn value(&self, name: &str) -> Result<Option<&Value>, String> {
        if let Some(v) = self.values.get(name) {
            return Ok(Some(v));
        }
        match self.missing.get(name) {
            Some(why) => Err(why.clone()),
            None => Ok(None),
        }
    }

    /// The value as text; unset and empty are `None`.
    fn text(&self, name: &str) -> Result<Option<String>, String> {
        Ok(self
            .value(name)?
            .and_then(|v| v.first())
            .filter(|s| !s.is_empty())
            .map(str::to_string))
    }

    fn int(&self, name: &str) -> Result<Option<i64>, String> {
        Ok(self.text(name)?.and_then(|s| s.trim().parse().ok()))
    }

    fn yes(&self, name: &str) -> Result<bool, String> {
        Ok(matches!(
            self.text(name)?.as_deref(),
            Some("oui" | "yes" | "on")
        ))
    }

    fn items(&self, name: &str) -> Result<Vec<Option<String>>, String> {
        Ok(self
            .value(name)?
            .map(|v| {
                v.items()
                    .into_iter()
                    .map(|i| i.filter(|s| !s.is_empty()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }
}

fn opt(s: Option<String>) -> J {
    s.map(J::String).unwrap_or(J::Null)
}

fn opt_int(n: Option<i64>) -> J {
    n.map(J::from).unwrap_or(J::Null)
}

/// The `containers` view; `Err` says why it cannot be built.
fn containers(r: &Reader<'_>) -> Result<J, String> {
    let n = match r.value("nombre_conteneur") {
        Ok(Some(v)) => v
            .first()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(0)
            .min(dico::MAX_INSTANCES),
        Ok(None) => {
            return Err(
                "it is built from conteneur's dictionary (10_conteneur.xml), which is not loaded or has nombre_conteneur disabled"
                    .into(),
            );
        }
        Err(why) => return Err(why),
    };
    let mut out = Vec::new();
    for x in 1..=n {
        let p = |f: &str| format!("conteneur{x}_{f}");
        let Some(name) = r.text(&p("name"))? else {
            // Disabled (a condition on the family) or unnamed: no container.
            continue;
        };
        let ints = |v: Vec<Option<String>>| -> Vec<Option<i64>> {
            v.into_iter()
                .map(|s| s.and_then(|s| s.trim().parse().ok()))
                .collect()
        };
        let ports: Vec<J> = ints(r.items(&p("port_in"))?)
            .into_iter()
            .zip(ints(r.items(&p("port_out"))?))
            .filter_map(|pair| match pair {
                (Some(i), Some(o)) => Some(json!({"in": i, "out": o})),
                _ => None,
            })
            .collect();
        let mounts: Vec<J> = r
            .items(&p("mountpoint_in"))?
            .into_iter()
            .zip(r.items(&p("mountpoint_out"))?)
            .filter_map(|pair| match pair {
                (Some(i), Some(o)) => {
                    let kind = if o.starts_with('/') { "bind" } else { "volume" };
                    Some(json!({"in": i, "out": o, "kind": kind}))
                }
                _ => None,
            })
            .collect();
        let env: Vec<String> = r.items(&p("env"))?.into_iter().flatten().collect();
        out.push(json!({
            "index": x,
            "name": name,
            "type": r.text(&p("type"))?.unwrap_or_default(),
            "url": r.text(&p("url"))?.unwrap_or_default(),
            "tag": r.text(&p("tag"))?.unwrap_or_default(),
            "repository": r.text(&p("repository"))?.unwrap_or_default(),
            "ports": ports,
            "mounts": mounts,
            "env": env,
            "memory": r.text(&p("memory"))?.unwrap_or_default(),
            "restart": r.text(&p("restart"))?.unwrap_or_default(),
            // Docker's own default when unset.
            "stop_timeout": r.int(&p("stop_timeout"))?.unwrap_or(10),
            "health_path": opt(r.text(&p("health_path"))?),
            "websocket": r.yes(&p("websocket"))?,
            "publish": r.yes(&p("publish"))?,
        }));
    }
    Ok(J::Array(out))
}

/// The `server` view.
fn server(r: &Reader<'_>) -> Result<J, String> {
    if r.value("conteneur_server_name")?.is_none() && r.value("conteneur_http_port")?.is_none() {
        return Err(
            "it is built from conteneur's dictionary (10_conteneur.xml), which is not loaded"
                .into(),
        );
    }
    Ok(json!({
        "name": opt(r.text("conteneur_server_name")?),
        "listen": opt(r.text("conteneur_proxy_listen")?),
        "http_port": opt_int(r.int("conteneur_http_port")?),
        "https": r.yes("conteneur_https")?,
        "https_port": opt_int(r.int("conteneur_https_port")?),
        "cert": opt(r.text("conteneur_cert_file")?),
        "key": opt(r.text("conteneur_key_file")?),
        "timeout": opt_int(r.int("conteneur_proxy_timeout")?),
        "body_size": opt(r.text("conteneur_proxy_body_size")?),
        "publish_address": opt(r.text("conteneur_publish_address")?),
    }))
}

/// The `families` view.
fn families(cfg: &Config, values: &IndexMap<&str, Value>) -> J {
    let mut out = Vec::new();
    for fam in cfg.dictionaries().families.values() {
        let vars: Vec<J> = fam
            .variables
            .iter()
            .filter_map(|name| {
                let v = values.get(name.as_str())?;
                let var = cfg.variable(name).ok()?;
                let multi = var.multi || cfg.master_of(name).is_some();
                Some(json!({
                    "name": name,
                    "value": plain_json(v, var.ty, multi),
                    "multi": multi,
                }))
            })
            .collect();
        if vars.is_empty() {
            continue;
        }
        let dictionary = Path::new(&*fam.loc.file)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(json!({
            "name": fam.name,
            "dictionary": dictionary,
            "variables": vars,
        }));
    }
    J::Array(out)
}
