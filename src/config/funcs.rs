//! The function registry: what `<fill>`, `<auto>` and `<check>` may call.
//!
//! Each function follows the behaviour of EOLE's `eosfunc` of the same name
//! as far as its dictionaries use it. A function that is not here is
//! reported by name (lint, and any read of a value that needs it) instead of
//! being guessed at.

use super::types;
use super::value::Value;

mod more;
pub use more::check_name_uniq;
pub(super) use more::{valid_domaine, valid_float};

/// Arguments of a call, after variables have been read: positional ones in
/// order, then keyword ones (`name=`).
#[derive(Debug, Default, Clone)]
pub struct Args {
    pub positional: Vec<Value>,
    pub named: Vec<(String, Value)>,
    /// For each positional argument read from a variable, its name (for
    /// messages such as "already the value of conteneur_http_port").
    pub sources: Vec<Option<String>>,
}

impl Args {
    pub fn named(&self, key: &str) -> Option<&Value> {
        self.named.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn named_str(&self, key: &str) -> Option<&str> {
        self.named(key).and_then(Value::first)
    }

    /// A keyword argument, or else the positional one at `pos`.
    fn get(&self, key: &str, pos: usize) -> Option<&Value> {
        self.named(key).or_else(|| self.positional.get(pos))
    }
}

/// What a calculation may need from outside its arguments.
pub struct Env {
    pub instantiated: bool,
}

/// Calculation functions conteneur implements.
pub const CALCS: &[&str] = &[
    "calc_val",
    "calc_multi_condition",
    "concat",
    "calc_network",
    "calc_broadcast",
    "calc_or_auto_network",
    "calc_or_auto_broadcast",
    "auto_copy_val",
    "list_len_gt",
    "gen_random",
    "calc_multi_val",
    "calc_val_first_value",
    "is_instanciate",
    "calc_container",
    "extract_ad_domain_from_realm",
];

/// Check functions conteneur implements.
pub const CHECKS: &[&str] = &[
    "valid_enum",
    "valid_regexp",
    "valid_entier",
    "valid_differ",
    "valid_networknetmask",
    "valid_ipnetmask",
    "valid_in_network",
    "valid_unique",
    "valid_float",
    "valid_domaine",
    "check_name_uniq",
];

pub fn is_calc(name: &str) -> bool {
    CALCS.contains(&name)
}

pub fn is_check(name: &str) -> bool {
    CHECKS.contains(&name)
}

/// Functions whose result must be saved once computed (as `auto_save`):
/// a random password must not change at each read.
pub fn saves_result(name: &str) -> bool {
    name == "gen_random"
}

/// Calls calculation `name`. `None` means the function is unknown.
pub fn call(name: &str, args: &Args, env: &Env) -> Option<Result<Value, String>> {
    let r = match name {
        "calc_val" | "auto_copy_val" => Ok(args.get("valeur", 0).cloned().unwrap_or(Value::none())),
        "concat" => concat(args),
        "calc_network" => net(args, types::calc_network),
        "calc_broadcast" => net(args, types::calc_broadcast),
        "calc_or_auto_network" => calc_or_auto(args, types::calc_network),
        "calc_or_auto_broadcast" => calc_or_auto(args, types::calc_broadcast),
        "list_len_gt" => list_len_gt(args),
        "calc_multi_condition" => calc_multi_condition(args),
        "calc_multi_val" => calc_multi_val(args),
        "calc_val_first_value" => Ok(Value::Single(
            args.positional
                .first()
                .or_else(|| args.named("default"))
                .and_then(|v| v.first().map(str::to_string)),
        )),
        "gen_random" => gen_random(args),
        "is_instanciate" => Ok(Value::text(if env.instantiated { "oui" } else { "non" })),
        "calc_container" => more::calc_container(args),
        "extract_ad_domain_from_realm" => more::extract_ad_domain_from_realm(args),
        _ => return None,
    };
    Some(r)
}

fn concat(args: &Args) -> Result<Value, String> {
    let mut out = String::new();
    // EOLE's concat: the positional values, then the keyword ones in the
    // order of their names.
    let mut named: Vec<&(String, Value)> = args.named.iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    for v in args.positional.iter().chain(named.iter().map(|(_, v)| v)) {
        match v.first() {
            Some(s) => out.push_str(s),
            // Like EOLE: no value when a part is missing, rather than a
            // half-built name such as "machine.".
            None => return Ok(Value::none()),
        }
    }
    Ok(Value::text(out))
}

fn net(args: &Args, f: fn(&str, &str) -> Option<String>) -> Result<Value, String> {
    let ip = args.get("ip", 0).and_then(Value::first);
    let mask = args.get("netmask", 1).and_then(Value::first);
    match (ip, mask) {
        (Some(ip), Some(mask)) => Ok(Value::Single(f(ip, mask))),
        _ => Ok(Value::none()),
    }
}

/// EOLE's `calc_or_auto_network` / `calc_or_auto_broadcast`: when the
/// interface's method (`parametre`) is the `condition` (`dhcp`), Creole
/// reads the address the interface got from the machine, which conteneur
/// does not; otherwise it is computed from `ip` and `netmask`.
fn calc_or_auto(args: &Args, f: fn(&str, &str) -> Option<String>) -> Result<Value, String> {
    let method = args.named_str("parametre");
    if method.is_some() && method == args.named_str("condition") {
        let card = args.named_str("nom_carte").unwrap_or("the interface");
        return Err(format!(
            "{card} is configured by {}: its address is read from the machine, which conteneur does not do",
            method.unwrap_or_default()
        ));
    }
    match (args.named_str("ip"), args.named_str("netmask")) {
        (Some(ip), Some(mask)) => Ok(Value::Single(f(ip, mask))),
        _ => Ok(Value::none()),
    }
}

fn list_len_gt(args: &Args) -> Result<Value, String> {
    let list = args.get("param", 0).map(|v| v.present().len()).unwrap_or(0);
    let max = args
        .named_str("max_len")
        .unwrap_or("0")
        .trim()
        .parse::<usize>()
        .map_err(|_| "list_len_gt: max_len must be a whole number".to_string())?;
    Ok(answer(args, list > max))
}

/// What `list_len_gt` and `calc_multi_condition` answer: `match` or
/// `mismatch`, else `default_match` / `default_mismatch` (`None` for
/// none), else EOLE's defaults, `oui` and `non`.
fn answer(args: &Args, hit: bool) -> Value {
    let (key, default_key, fallback) = if hit {
        ("match", "default_match", "oui")
    } else {
        ("mismatch", "default_mismatch", "non")
    };
    if let Some(v) = args.named(key) {
        return Value::Single(v.first().map(str::to_string));
    }
    match args.named_str(default_key) {
        Some("None") => Value::none(),
        Some(v) => Value::text(v),
        None => Value::text(fallback),
    }
}

/// `calc_multi_condition(value, condition_1=…, condition_2=…, match, mismatch,
/// operator=AND|OR)`: compares each condition to the value (to the n-th
/// value when a list of values is given) and answers `match` when all (AND)
/// or any (OR) agree, `mismatch` otherwise. A condition whose variable is
/// absent (optional) is left out of the vote.
fn calc_multi_condition(args: &Args) -> Result<Value, String> {
    let expected: Vec<Option<&str>> = args
        .positional
        .first()
        .map(Value::items)
        .unwrap_or_default();
    let operator = args.named_str("operator").unwrap_or("AND");
    if operator != "AND" && operator != "OR" {
        return Err(format!(
            "calc_multi_condition: operator must be AND or OR, found '{operator}'"
        ));
    }
    let mut conds: Vec<(usize, &Value)> = args
        .named
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("condition_")?
                .parse::<usize>()
                .ok()
                .map(|n| (n, v))
        })
        .collect();
    conds.sort_by_key(|(n, _)| *n);
    let mut results = Vec::new();
    for (n, cond) in conds {
        let want = if expected.len() > 1 {
            expected.get(n.saturating_sub(1)).copied().flatten()
        } else {
            expected.first().copied().flatten()
        };
        let hit = match cond {
            Value::Single(s) => s.as_deref() == want,
            Value::Multi(v) => v.iter().any(|x| x.as_deref() == want),
        };
        results.push(hit);
    }
    let ok = if results.is_empty() {
        false
    } else if operator == "AND" {
        results.iter().all(|&x| x)
    } else {
        results.iter().any(|&x| x)
    };
    Ok(answer(args, ok))
}

/// EOLE's `calc_multi_val`: the values of every parameter in one list; a
/// list parameter adds its set values not already there, a single one is
/// added as is. An unset single parameter makes the whole list empty,
/// unless `allow_none="True"`, which skips it.
fn calc_multi_val(args: &Args) -> Result<Value, String> {
    let allow_none = args.named_str("allow_none") == Some("True");
    let mut out: Vec<Option<String>> = Vec::new();
    for v in &args.positional {
        match v {
            Value::Single(None) if allow_none => continue,
            Value::Single(None) => return Ok(Value::Multi(Vec::new())),
            Value::Single(Some(s)) => out.push(Some(s.clone())),
            Value::Multi(items) => {
                for s in items.iter().flatten() {
                    if !out.iter().any(|o| o.as_deref() == Some(s.as_str())) {
                        out.push(Some(s.clone()));
                    }
                }
            }
        }
    }
    Ok(Value::Multi(out))
}

fn gen_random(args: &Args) -> Result<Value, String> {
    let size = args
        .get("size", 0)
        .and_then(Value::first)
        .unwrap_or("10")
        .trim()
        .parse::<usize>()
        .map_err(|_| "gen_random: size must be a whole number".to_string())?
        .clamp(1, 256);
    let mut bytes = vec![0u8; size];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("gen_random: cannot read /dev/urandom: {e}"))?;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let s: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Ok(Value::text(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::text(s)
    }

    fn env() -> Env {
        Env {
            instantiated: false,
        }
    }

    #[test]
    fn concat_and_calc_val() {
        let a = Args {
            positional: vec![t("m"), t("."), t("dom")],
            ..Default::default()
        };
        assert_eq!(call("concat", &a, &env()).unwrap().unwrap(), t("m.dom"));
        let a = Args {
            positional: vec![t("m"), Value::none()],
            ..Default::default()
        };
        assert_eq!(call("concat", &a, &env()).unwrap().unwrap(), Value::none());
        let a = Args {
            named: vec![("valeur".into(), t("x"))],
            ..Default::default()
        };
        assert_eq!(call("calc_val", &a, &env()).unwrap().unwrap(), t("x"));
        assert!(call("auto_eth", &a, &env()).is_none());
    }

    #[test]
    fn multi_condition_or_and() {
        let a = Args {
            positional: vec![t("oui")],
            named: vec![
                ("operator".into(), t("OR")),
                ("condition_1".into(), t("non")),
                ("condition_2".into(), t("oui")),
                ("match".into(), t("M")),
                ("mismatch".into(), t("X")),
            ],
            ..Default::default()
        };
        assert_eq!(
            call("calc_multi_condition", &a, &env()).unwrap().unwrap(),
            t("M")
        );
        let mut b = a.clone();
        b.named[0].1 = t("AND");
        assert_eq!(
            call("calc_multi_condition", &b, &env()).unwrap().unwrap(),
            t("X")
        );
    }

    #[test]
    fn network_and_lists() {
        let a = Args {
            positional: vec![t("192.168.1.10"), t("255.255.255.0")],
            ..Default::default()
        };
        assert_eq!(
            call("calc_network", &a, &env()).unwrap().unwrap(),
            t("192.168.1.0")
        );
        assert_eq!(
            call("calc_broadcast", &a, &env()).unwrap().unwrap(),
            t("192.168.1.255")
        );
        let a = Args {
            positional: vec![Value::Multi(vec![Some("a".into())])],
            named: vec![
                ("max_len".into(), t("0")),
                ("match".into(), t("oui")),
                ("mismatch".into(), t("non")),
            ],
            ..Default::default()
        };
        assert_eq!(call("list_len_gt", &a, &env()).unwrap().unwrap(), t("oui"));
        let r = call("gen_random", &Args::default(), &env())
            .unwrap()
            .unwrap();
        assert_eq!(r.first().map(str::len), Some(10));
    }
}

#[cfg(test)]
mod eosfunc_tests {
    use super::*;

    fn env() -> Env {
        Env {
            instantiated: false,
        }
    }

    /// calc_multi_val as EOLE's: lists merged without repeats, an unset
    /// single parameter empties the list unless allow_none="True" skips it.
    #[test]
    fn calc_multi_val_as_eosfunc() {
        let list = Value::Multi(vec![Some("a".into()), None, Some("b".into())]);
        let mut a = Args {
            positional: vec![
                list.clone(),
                Value::text("a"),
                Value::Multi(vec![Some("b".into())]),
            ],
            ..Default::default()
        };
        let r = call("calc_multi_val", &a, &env()).unwrap().unwrap();
        assert_eq!(
            r,
            Value::Multi(vec![Some("a".into()), Some("b".into()), Some("a".into())])
        );
        a.positional.push(Value::none());
        let r = call("calc_multi_val", &a, &env()).unwrap().unwrap();
        assert_eq!(r, Value::Multi(Vec::new()));
        a.named.push(("allow_none".into(), Value::text("True")));
        let r = call("calc_multi_val", &a, &env()).unwrap().unwrap();
        assert_eq!(r.len_items(), 3);
    }

    /// match/mismatch default to oui/non, or to default_match /
    /// default_mismatch ('None': no value); concat appends keyword values
    /// in name order.
    #[test]
    fn defaults_of_match_and_keyword_concat() {
        let a = Args {
            positional: vec![Value::Multi(vec![Some("x".into())])],
            named: vec![("max_len".into(), Value::text("0"))],
            ..Default::default()
        };
        assert_eq!(
            call("list_len_gt", &a, &env()).unwrap(),
            Ok(Value::text("oui"))
        );
        let mut b = a.clone();
        b.named[0].1 = Value::text("5");
        assert_eq!(
            call("list_len_gt", &b, &env()).unwrap(),
            Ok(Value::text("non"))
        );
        b.named
            .push(("default_mismatch".into(), Value::text("None")));
        assert_eq!(call("list_len_gt", &b, &env()).unwrap(), Ok(Value::none()));
        let c = Args {
            positional: vec![Value::text("a")],
            named: vec![
                ("z".into(), Value::text("2")),
                ("b".into(), Value::text("1")),
            ],
            ..Default::default()
        };
        assert_eq!(call("concat", &c, &env()).unwrap(), Ok(Value::text("a12")));
    }
}

#[cfg(test)]
mod calc_or_auto_tests {
    use super::*;

    fn args(method: &str) -> Args {
        let t = |s: &str| Value::text(s);
        Args {
            positional: Vec::new(),
            named: vec![
                ("nom_carte".into(), t("eth0")),
                ("condition".into(), t("dhcp")),
                ("parametre".into(), t(method)),
                ("ip".into(), t("192.168.10.20")),
                ("netmask".into(), t("255.255.255.0")),
            ],
            sources: Vec::new(),
        }
    }

    #[test]
    fn static_interfaces_are_computed_dhcp_ones_refused() {
        let env = Env { instantiated: true };
        let net = call("calc_or_auto_network", &args("statique"), &env).unwrap();
        assert_eq!(net, Ok(Value::text("192.168.10.0")));
        let bc = call("calc_or_auto_broadcast", &args("statique"), &env).unwrap();
        assert_eq!(bc, Ok(Value::text("192.168.10.255")));
        let e = call("calc_or_auto_network", &args("dhcp"), &env)
            .unwrap()
            .unwrap_err();
        assert!(e.contains("eth0") && e.contains("dhcp"), "{e}");
    }
}
