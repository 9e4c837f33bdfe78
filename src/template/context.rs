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
//!   `repository`, `ports` (`[{in, out, path, web}]`, complete pairs only,
//!   `in`/`out` integers, `path` the web sub-path under /NAME/ without its
//!   slashes ("" for /NAME/ itself), `web` whether the port is published on
//!   the web front: it has a path, or it is the first port),
//!   `mounts` (`[{in, out, kind}]`, complete pairs only, `kind` is `bind`
//!   when `out` is an absolute path and `volume` otherwise), `env` (list),
//!   `memory`, `cpus` (integer or none), `restart`, `stop_timeout` (integer), `health_path` (string or
//!   none), `websocket` and `publish` (booleans), `replicas` (integer)
//!   and `placement` (list) for swarm, `app` (`networks`,
//!   `depends_on`, `tmpfs` lists; `command`, `user` strings;
//!   `no_new_privileges`, `read_only`, `keep_path` booleans; `secrets`
//!   `[{name, hash}]`, never the value; `health_command` none or
//!   `{command, interval, timeout, retries, start_period}`);
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

/// Maps keyed by variable name, looked up for each of them (32 000 at 2000
/// containers): foldhash rather than SipHash.
type Fast = foldhash::fast::RandomState;
use tera::Value as T;
use tera::value::Key;

use crate::config::{Config, Value};
use crate::dico::{self, VarType};

/// The names of the views, beside the variables.
pub const VIEWS: [&str; 3] = ["containers", "server", "families"];

/// The context and what was left out of it.
#[derive(Default)]
pub struct Built {
    pub context: tera::Context,
    /// Variables (and views) left out because their value cannot be
    /// computed, with the reason, for the undefined-variable message.
    pub missing: HashMap<String, String>,
}

/// The top of the context while it is built: namespaced variables
/// (`ns.family.var`) nest, so a name may hold a tree before it becomes a
/// tera map.
enum Node {
    Leaf(T),
    Tree(IndexMap<String, Node, Fast>),
}

impl Node {
    fn into_value(self) -> T {
        match self {
            Node::Leaf(v) => v,
            Node::Tree(t) => {
                let mut map = tera::Map::with_capacity(t.len());
                for (k, n) in t {
                    map.insert(Key::from(k), n.into_value());
                }
                T::from(map)
            }
        }
    }
}

/// Builds the context of every template from the current values.
///
/// Tera's values are built directly (no intermediate JSON tree), and the
/// `families` view shares each variable's value with the top level: tera
/// keeps lists and maps behind `Arc`s, so a clone is a reference count.
/// At 2000 containers (32 000 variables) this was most of the rendering.
pub fn build(cfg: &Config) -> Built {
    let listed = cfg.list();
    let mut values: IndexMap<&str, Value, Fast> =
        IndexMap::with_capacity_and_hasher(listed.len(), Fast::default());
    let mut missing: HashMap<String, String> = HashMap::new();
    for (name, r) in listed {
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
    // Each variable's plain value (a scalar, or a list for a multi, a
    // master or a slave), shared by the top level and `families`.
    let mut plain: HashMap<&str, (T, bool), Fast> =
        HashMap::with_capacity_and_hasher(values.len(), Fast::default());
    let mut top: IndexMap<String, Node, Fast> =
        IndexMap::with_capacity_and_hasher(values.len(), Fast::default());
    for (name, v) in &values {
        let Ok(var) = cfg.variable(name) else {
            continue;
        };
        let multi = var.multi || cfg.master_of(name).is_some();
        let p = plain_value(v, var.ty, multi);
        let t = if let Some(group) = dicos.groups.get(*name) {
            let slaves: Vec<(&str, Option<(&Value, VarType)>)> = group
                .slaves
                .iter()
                .map(|s| {
                    let val = values.get(s.as_str());
                    let ty = cfg.variable(s).map(|v| v.ty).unwrap_or(VarType::String);
                    (s.as_str(), val.map(|v| (v, ty)))
                })
                .collect();
            let objects: Vec<T> = v
                .items()
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let mut o = tera::Map::with_capacity(1 + slaves.len());
                    o.insert(Key::Str("value"), item_value(*item, var.ty));
                    for (s, val) in &slaves {
                        // A disabled slave is absent from the objects too.
                        if let Some((sv, ty)) = val {
                            let x = sv.items().get(i).copied().flatten();
                            o.insert(Key::from(s.to_string()), item_value(x, *ty));
                        }
                    }
                    T::from(o)
                })
                .collect();
            T::from(objects)
        } else {
            p.clone()
        };
        plain.insert(name, (p, multi));
        insert_nested(&mut top, name, t);
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
            Ok(v) => {
                top.insert(key.to_string(), Node::Leaf(v));
            }
            Err(why) => {
                top.shift_remove(key);
                view_missing.push((key.to_string(), why));
            }
        }
    }
    missing.extend(view_missing);
    top.insert("families".into(), Node::Leaf(families(cfg, &plain)));

    let mut context = tera::Context::new();
    for (k, n) in top {
        context.insert_value(k, n.into_value());
    }
    Built { context, missing }
}

/// A scalar: an integer for a `number` that parses, else a string.
fn item_value(s: Option<&str>, ty: VarType) -> T {
    match s {
        None => T::none(),
        Some(s) if ty.is_number() => match s.trim().parse::<i64>() {
            // Non-negative integers are unsigned, as they were when the
            // context went through serde_json.
            Ok(n) => match u64::try_from(n) {
                Ok(u) => T::from(u),
                Err(_) => T::from(n),
            },
            Err(_) => T::from(s),
        },
        Some(s) => T::from(s),
    }
}

/// A value as a scalar, or a list for a multi variable.
fn plain_value(v: &Value, ty: VarType, multi: bool) -> T {
    if multi {
        T::from(
            v.items()
                .into_iter()
                .map(|i| item_value(i, ty))
                .collect::<Vec<T>>(),
        )
    } else {
        item_value(v.first(), ty)
    }
}

/// Inserts `a.b.c` as nested maps (extra namespaces), `name` as is.
fn insert_nested(top: &mut IndexMap<String, Node, Fast>, name: &str, v: T) {
    let mut parts: Vec<&str> = name.split('.').collect();
    let Some(last) = parts.pop() else {
        return;
    };
    let mut cur = top;
    for p in parts {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| Node::Tree(IndexMap::default()));
        // A plain variable already holds that name: keep it, skip this one
        // (it stays readable through `families`).
        let Node::Tree(next) = entry else {
            return;
        };
        cur = next;
    }
    cur.insert(last.to_string(), Node::Leaf(v));
}

/// A map from static keys.
fn object<const N: usize>(fields: [(&'static str, T); N]) -> T {
    let mut map = tera::Map::with_capacity(N);
    for (k, v) in fields {
        map.insert(Key::Str(k), v);
    }
    T::from(map)
}

/// Typed reads of the values, telling "absent" from "cannot be computed".
struct Reader<'a> {
    values: &'a IndexMap<&'a str, Value, Fast>,
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

fn opt(s: Option<String>) -> T {
    T::from(s)
}

fn opt_int(n: Option<i64>) -> T {
    n.map(int).unwrap_or_else(T::none)
}

/// An integer, unsigned when it can be (as serde_json gave it).
fn int(n: i64) -> T {
    match u64::try_from(n) {
        Ok(u) => T::from(u),
        Err(_) => T::from(n),
    }
}

/// The `containers` view; `Err` says why it cannot be built.
fn containers(r: &Reader<'_>) -> Result<T, String> {
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
    let declared = declared_secrets(r)?;
    let mut out = Vec::with_capacity(n);
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
        // The web sub-path of each port (a slave of port_in; older
        // dictionaries have none): "" is the first port's /NAME/ only.
        let paths = r.items(&p("port_path"))?;
        let ports: Vec<T> = ints(r.items(&p("port_in"))?)
            .into_iter()
            .zip(ints(r.items(&p("port_out"))?))
            .enumerate()
            .filter_map(|(k, pair)| match pair {
                (Some(i), Some(o)) => {
                    let raw = paths.get(k).cloned().flatten();
                    let path = raw.as_deref().unwrap_or("").trim_matches('/').to_string();
                    Some(object([
                        ("in", int(i)),
                        ("out", int(o)),
                        ("path", T::from(path)),
                        ("web", T::from(raw.is_some() || k == 0)),
                    ]))
                }
                _ => None,
            })
            .collect();
        let mounts: Vec<T> = r
            .items(&p("mountpoint_in"))?
            .into_iter()
            .zip(r.items(&p("mountpoint_out"))?)
            .filter_map(|pair| match pair {
                (Some(i), Some(o)) => {
                    let kind = if o.starts_with('/') { "bind" } else { "volume" };
                    Some(object([
                        ("in", T::from(i)),
                        ("out", T::from(o)),
                        ("kind", T::from(kind)),
                    ]))
                }
                _ => None,
            })
            .collect();
        let env: Vec<String> = r.items(&p("env"))?.into_iter().flatten().collect();
        let list = |f: &str| -> Result<Vec<String>, String> {
            Ok(r.items(&p(f))?.into_iter().flatten().collect())
        };
        out.push(object([
            ("index", T::from(x)),
            ("name", T::from(name)),
            ("type", T::from(r.text(&p("type"))?.unwrap_or_default())),
            ("url", T::from(r.text(&p("url"))?.unwrap_or_default())),
            ("tag", T::from(r.text(&p("tag"))?.unwrap_or_default())),
            // Without its credentials: the run reads them from the
            // configuration (docs/security.md, "Credentials in URLs").
            (
                "repository",
                T::from(crate::userinfo::public(
                    &r.text(&p("repository"))?.unwrap_or_default(),
                )),
            ),
            ("ports", T::from(ports)),
            ("mounts", T::from(mounts)),
            ("env", T::from(env)),
            ("memory", T::from(r.text(&p("memory"))?.unwrap_or_default())),
            // None when unset (a VM gets one CPU, a container no limit).
            ("cpus", opt_int(r.int(&p("cpus"))?)),
            (
                "restart",
                T::from(r.text(&p("restart"))?.unwrap_or_default()),
            ),
            // Docker's own default when unset.
            (
                "stop_timeout",
                int(r.int(&p("stop_timeout"))?.unwrap_or(10)),
            ),
            ("health_path", opt(r.text(&p("health_path"))?)),
            ("websocket", T::from(r.yes(&p("websocket"))?)),
            ("publish", T::from(r.yes(&p("publish"))?)),
            // Swarm only (docs/swarm.md); a local container runs once.
            ("replicas", int(r.int(&p("replicas"))?.unwrap_or(1))),
            ("placement", T::from(list("placement")?)),
            ("app", app_view(r, x, &declared)?),
        ]));
    }
    Ok(T::from(out))
}

/// The hash of a secret's value that launch plans carry instead of the
/// value: salted with its name, so two secrets of the same value differ,
/// and changing a value changes the plan of the containers receiving it.
pub fn secret_hash(name: &str, value: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"conteneur secret\0");
    h.update(name.as_bytes());
    h.update(b"\0");
    h.update(value.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Declared secrets (`conteneur_secret_name`): name → hash of the value.
fn declared_secrets(r: &Reader<'_>) -> Result<HashMap<String, Option<String>>, String> {
    let names = r.items("conteneur_secret_name")?;
    let values = r.items("conteneur_secret_value")?;
    Ok(names
        .into_iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let n = n?;
            let hash = values
                .get(i)
                .cloned()
                .flatten()
                .map(|v| secret_hash(&n, &v));
            Some((n, hash))
        })
        .collect())
}

/// `app` of a container: networks, start order, secrets (name and hash,
/// never the value), process and hardening.
fn app_view(
    r: &Reader<'_>,
    x: usize,
    declared: &HashMap<String, Option<String>>,
) -> Result<T, String> {
    let p = |f: &str| format!("conteneur{x}_{f}");
    let list = |f: &str| -> Result<T, String> {
        Ok(T::from(
            r.items(&p(f))?
                .into_iter()
                .flatten()
                .collect::<Vec<String>>(),
        ))
    };
    let secrets: Vec<T> = r
        .items(&p("secrets"))?
        .into_iter()
        .flatten()
        .map(|name| {
            let hash = declared.get(&name).cloned().flatten();
            object([("name", T::from(name)), ("hash", T::from(hash))])
        })
        .collect();
    let health_command = match r.text(&p("health_command"))? {
        Some(cmd) => {
            let n = |f: &str, d: i64| -> Result<T, String> { Ok(int(r.int(&p(f))?.unwrap_or(d))) };
            object([
                ("command", T::from(cmd)),
                ("interval", n("health_interval", 5)?),
                ("timeout", n("health_cmd_timeout", 5)?),
                ("retries", n("health_retries", 3)?),
                ("start_period", n("health_start_period", 0)?),
            ])
        }
        None => T::none(),
    };
    // Hardening is on unless switched off (a value other than non).
    let nnp = !matches!(
        r.text(&p("no_new_privileges"))?.as_deref(),
        Some("non" | "no" | "off")
    );
    Ok(object([
        ("networks", list("networks")?),
        ("depends_on", list("depends_on")?),
        (
            "command",
            T::from(r.text(&p("command"))?.unwrap_or_default()),
        ),
        ("user", T::from(r.text(&p("user"))?.unwrap_or_default())),
        ("no_new_privileges", T::from(nnp)),
        ("read_only", T::from(r.yes(&p("read_only"))?)),
        ("tmpfs", list("tmpfs")?),
        ("secrets", T::from(secrets)),
        ("keep_path", T::from(r.yes(&p("keep_path"))?)),
        ("health_command", health_command),
    ]))
}

/// The `server` view.
fn server(r: &Reader<'_>) -> Result<T, String> {
    if r.value("conteneur_server_name")?.is_none() && r.value("conteneur_http_port")?.is_none() {
        return Err(
            "it is built from conteneur's dictionary (10_conteneur.xml), which is not loaded"
                .into(),
        );
    }
    Ok(object([
        ("name", opt(r.text("conteneur_server_name")?)),
        ("listen", opt(r.text("conteneur_proxy_listen")?)),
        ("http_port", opt_int(r.int("conteneur_http_port")?)),
        ("https", T::from(r.yes("conteneur_https")?)),
        ("https_port", opt_int(r.int("conteneur_https_port")?)),
        ("cert", opt(r.text("conteneur_cert_file")?)),
        ("key", opt(r.text("conteneur_key_file")?)),
        ("timeout", opt_int(r.int("conteneur_proxy_timeout")?)),
        ("body_size", opt(r.text("conteneur_proxy_body_size")?)),
        ("publish_address", opt(r.text("conteneur_publish_address")?)),
    ]))
}

/// One variable of the `families` view.
#[derive(serde::Serialize)]
struct FamilyVariable<'a> {
    name: &'a str,
    value: &'a T,
    multi: bool,
}

/// The `families` view, sharing the values built for the top level.
fn families(cfg: &Config, plain: &HashMap<&str, (T, bool), Fast>) -> T {
    let mut out = Vec::new();
    for fam in cfg.dictionaries().families.values() {
        let vars: Vec<T> = fam
            .variables
            .iter()
            .filter_map(|name| {
                let (v, multi) = plain.get(name.as_str())?;
                let var = FamilyVariable {
                    name,
                    value: v,
                    multi: *multi,
                };
                // Through serde, tera builds the map in one pass and shares
                // `value`; building it field by field hashes every key
                // twice, 32 000 maps at 2000 containers. It cannot fail
                // (strings, a boolean and a tera value), but if it did the
                // slower way gives the same map.
                Some(T::try_from_serializable(&var).unwrap_or_else(|_| {
                    object([
                        ("name", T::from(name.as_str())),
                        ("value", v.clone()),
                        ("multi", T::from(*multi)),
                    ])
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
        out.push(object([
            ("name", T::from(fam.name.as_str())),
            ("dictionary", T::from(dictionary)),
            ("variables", T::from(vars)),
        ]));
    }
    T::from(out)
}
