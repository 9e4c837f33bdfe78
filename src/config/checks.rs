//! Check functions (`<check name=…>`), applied to one value at a time.
//!
//! `valid_unique` compares instances of a dynamic variable with each other,
//! so it needs the whole configuration and lives in the engine.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

use super::funcs::Args;
use super::pylit;
use super::types;
use super::value::Value;

/// Runs check `func` on `value`. `None`: the check is unknown here.
/// `Some(Err(msg))`: the value fails, `msg` says why in plain English.
pub fn run(func: &str, value: &str, args: &Args) -> Option<Result<(), String>> {
    let r = match func {
        "valid_enum" => valid_enum(value, args),
        "valid_regexp" => valid_regexp(value, args),
        "valid_entier" => valid_entier(value, args),
        "valid_differ" => valid_differ(value, args),
        "valid_float" => super::funcs::valid_float(value),
        "valid_domaine" => super::funcs::valid_domaine(value),
        "valid_networknetmask" => {
            let mask = args.positional.first().and_then(Value::first);
            match mask.and_then(|m| types::is_network_for_mask(value, m)) {
                Some(false) => Err(format!(
                    "'{value}' is not a network address for netmask {}: host bits are set",
                    mask.unwrap_or_default()
                )),
                _ => Ok(()),
            }
        }
        "valid_ipnetmask" => {
            // The target is a netmask; the parameter is the address using it.
            let ip = args.positional.first().and_then(Value::first);
            match ip.and_then(|ip| types::ip_is_network_or_broadcast(ip, value)) {
                Some(true) => Err(format!(
                    "with netmask {value}, the address {} is the network or broadcast address",
                    ip.unwrap_or_default()
                )),
                _ => Ok(()),
            }
        }
        "valid_in_network" => {
            let net = args.positional.first().and_then(Value::first);
            let mask = args.positional.get(1).and_then(Value::first);
            match (net, mask) {
                (Some(n), Some(m)) => match types::ip_in_network(value, n, m) {
                    Some(false) => Err(format!("'{value}' is not in the network {n}/{m}")),
                    _ => Ok(()),
                },
                _ => Ok(()),
            }
        }
        _ => return None,
    };
    Some(r)
}

/// The choices of a `valid_enum`, and whether they are enforced
/// (`checkval="False"` makes them a suggestion).
pub fn enum_choices(args: &Args) -> Result<(Vec<String>, bool), String> {
    let list = args
        .positional
        .first()
        .and_then(Value::first)
        .ok_or("valid_enum has no list of values")?;
    let choices =
        pylit::parse_list(list).map_err(|e| format!("valid_enum: its list is not valid: {e}"))?;
    let enforced = args.named("checkval").and_then(Value::first) != Some("False");
    Ok((choices, enforced))
}

fn valid_enum(value: &str, args: &Args) -> Result<(), String> {
    let (choices, enforced) = enum_choices(args)?;
    if !enforced || choices.iter().any(|c| c == value) {
        return Ok(());
    }
    let shown: Vec<&str> = choices.iter().take(12).map(String::as_str).collect();
    let more = if choices.len() > 12 {
        format!(" (and {} more)", choices.len() - 12)
    } else {
        String::new()
    };
    Err(format!(
        "'{value}' is not one of: {}{more}",
        shown.join(", ")
    ))
}

thread_local! {
    /// Compiled patterns: the same check runs once per container instance.
    /// Kept behind an `Arc`: cloning a `Regex` rebuilds its match cache.
    static REGEX_CACHE: RefCell<HashMap<String, Result<Arc<Regex>, String>>> = RefCell::new(HashMap::new());
}

fn valid_regexp(value: &str, args: &Args) -> Result<(), String> {
    let pattern = args
        .get_positional_or_named(0, "regexp")
        .ok_or("valid_regexp has no pattern")?;
    let compiled = REGEX_CACHE.with(|cache| {
        cache
            .borrow_mut()
            .entry(pattern.to_string())
            // Python's re.match anchors at the start only.
            .or_insert_with(|| {
                Regex::new(&format!("^(?:{pattern})"))
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    });
    let re = compiled.map_err(|e| format!("valid_regexp: the pattern is not valid: {e}"))?;
    if re.is_match(value) {
        Ok(())
    } else {
        Err(args
            .named("err_msg")
            .and_then(Value::first)
            .map(|m| format!("'{value}': {m}"))
            .unwrap_or_else(|| format!("'{value}' does not match the pattern {pattern}")))
    }
}

fn valid_entier(value: &str, args: &Args) -> Result<(), String> {
    let n: i64 = value
        .trim()
        .parse()
        .map_err(|_| format!("'{value}' is not a whole number"))?;
    let bound =
        |k: &str| -> Result<Option<i64>, String> {
            match args.named(k).and_then(Value::first) {
                None => Ok(None),
                Some(b) => b.trim().parse().map(Some).map_err(|_| {
                    format!("valid_entier: '{k}' must be a whole number, found '{b}'")
                }),
            }
        };
    let (mini, maxi) = (bound("mini")?, bound("maxi")?);
    match (mini, maxi) {
        (Some(lo), Some(hi)) if n < lo || n > hi => {
            Err(format!("{n} is not between {lo} and {hi}"))
        }
        (Some(lo), _) if n < lo => Err(format!("{n} is less than the minimum, {lo}")),
        (_, Some(hi)) if n > hi => Err(format!("{n} is more than the maximum, {hi}")),
        _ => Ok(()),
    }
}

fn valid_differ(value: &str, args: &Args) -> Result<(), String> {
    for (i, other) in args.positional.iter().enumerate() {
        if other.present().contains(&value) {
            return Err(match args.sources.get(i).cloned().flatten() {
                Some(var) => format!("'{value}' must differ from the value of '{var}'"),
                None => format!("'{value}' is not allowed here"),
            });
        }
    }
    Ok(())
}

impl Args {
    fn get_positional_or_named(&self, pos: usize, key: &str) -> Option<&str> {
        self.positional
            .get(pos)
            .or_else(|| self.named(key))
            .and_then(Value::first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pos: &[&str], named: &[(&str, &str)]) -> Args {
        Args {
            positional: pos.iter().map(|s| Value::text(*s)).collect(),
            named: named
                .iter()
                .map(|(k, v)| (k.to_string(), Value::text(*v)))
                .collect(),
            sources: Vec::new(),
        }
    }

    #[test]
    fn enum_regexp_entier() {
        let a = args(&["['a', \"b\"]"], &[]);
        assert!(run("valid_enum", "a", &a).unwrap().is_ok());
        assert!(
            run("valid_enum", "c", &a)
                .unwrap()
                .unwrap_err()
                .contains("a, b")
        );
        let a = args(&["['a']"], &[("checkval", "False")]);
        assert!(run("valid_enum", "zz", &a).unwrap().is_ok());
        let a = args(&["[a-z]+"], &[("err_msg", "lowercase only")]);
        assert!(run("valid_regexp", "abc", &a).unwrap().is_ok());
        assert!(
            run("valid_regexp", "ABC", &a)
                .unwrap()
                .unwrap_err()
                .contains("lowercase only")
        );
        let a = args(&[], &[("mini", "0"), ("maxi", "100")]);
        assert!(run("valid_entier", "50", &a).unwrap().is_ok());
        assert!(run("valid_entier", "500", &a).unwrap().is_err());
        assert!(run("valid_fingerprint", "x", &a).is_none());
    }

    #[test]
    fn network_checks() {
        let a = args(&["255.255.255.0"], &[]);
        assert!(run("valid_networknetmask", "10.0.0.0", &a).unwrap().is_ok());
        assert!(
            run("valid_networknetmask", "10.0.0.1", &a)
                .unwrap()
                .is_err()
        );
        let a = args(&["10.0.0.0"], &[]);
        assert!(
            run("valid_ipnetmask", "255.255.255.0", &a)
                .unwrap()
                .is_err()
        );
        let a = args(&["10.0.0.0", "255.255.255.0"], &[]);
        assert!(run("valid_in_network", "10.0.0.7", &a).unwrap().is_ok());
        assert!(run("valid_in_network", "10.0.1.7", &a).unwrap().is_err());
        let a = args(&["80", "443"], &[]);
        assert!(run("valid_differ", "80", &a).unwrap().is_err());
        assert!(run("valid_differ", "8080", &a).unwrap().is_ok());
    }
}
