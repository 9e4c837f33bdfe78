//! Functions real EOLE modules call that the core dictionaries do not:
//! Creole's own `calc_container` (the generated container variables,
//! `dico::containers`), `extract_ad_domain_from_realm`, and the checks
//! `valid_float`, `valid_domaine` and `check_name_uniq`.
//!
//! Each follows EOLE's `eosfunc` of the same name as far as it can be
//! known (docs/dictionaries.md says where it is inferred). A function
//! whose result depends on the machine rather than the configuration
//! (`get_ips_from_interface`, `get_version`, `check_file_size_limit`) or
//! whose rule is not known (`calc_webredirection`,
//! `calc_libelle_annuaire`, `convert_debit_carte`,
//! `activate_master_only_web_app`, `valid_name`) is not here: it goes
//! through the "unsupported function" path like any unknown one.

use super::Args;
use crate::config::Value;

/// `calc_container(mode_container, container_info, root_info, mode_zephir)`:
/// the value a generated container variable takes: `container_info` when
/// containers are on (`mode_container` or `mode_zephir` is `oui`),
/// `root_info` (the host's value) otherwise. An unset `mode_container`
/// (no `mode_conteneur_actif` declared) is `non`, its default.
pub fn calc_container(args: &Args) -> Result<Value, String> {
    let on = |k: &str| args.named(k).and_then(Value::first) == Some("oui");
    let key = if on("mode_container") || on("mode_zephir") {
        "container_info"
    } else {
        "root_info"
    };
    Ok(Value::Single(
        args.named(key).and_then(Value::first).map(str::to_string),
    ))
}

/// `extract_ad_domain_from_realm(realm)`: the NetBIOS name of an Active
/// Directory domain, the first label of its realm in capitals
/// (`ad.example.fr` → `AD`).
pub fn extract_ad_domain_from_realm(args: &Args) -> Result<Value, String> {
    let realm = args
        .positional
        .first()
        .or_else(|| args.named("realm"))
        .and_then(Value::first);
    Ok(Value::Single(
        realm
            .and_then(|r| r.trim().split('.').next())
            .filter(|l| !l.is_empty())
            .map(str::to_uppercase),
    ))
}

/// `valid_float`: Python's `float(value)` must succeed.
pub fn valid_float(value: &str) -> Result<(), String> {
    let t = value.trim();
    let lower = t.to_ascii_lowercase();
    let special = matches!(
        lower.trim_start_matches(['+', '-']),
        "inf" | "infinity" | "nan"
    );
    if special || (!t.is_empty() && t.replace('_', "").parse::<f64>().is_ok()) {
        Ok(())
    } else {
        Err(format!("'{value}' is not a decimal number"))
    }
}

/// `valid_domaine`: a domain name: dot-separated labels of letters,
/// digits and hyphens, none empty, none starting or ending with a hyphen,
/// each at most 63 characters, 255 in all.
pub fn valid_domaine(value: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("'{value}' is not a valid domain name: {why}"));
    if value.len() > 255 {
        return bad("it is longer than 255 characters");
    }
    for label in value.split('.') {
        if label.is_empty() {
            return bad("it has an empty part between dots");
        }
        if label.len() > 63 {
            return bad("a part is longer than 63 characters");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a part starts or ends with '-'");
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return bad(&format!("it holds '{c}'"));
        }
    }
    Ok(())
}

/// `check_name_uniq(value, values, index)`: `value`, the entry at `index`
/// of a list, appears nowhere else in `values` (EOLE's DHCP ranges: "the
/// name is already given to another range"). `values` is the first
/// parameter (or `values=`); the index is the entry's own.
pub fn check_name_uniq(items: &[Option<&str>], args: &Args) -> Result<(), (String, String)> {
    let list = args
        .named("values")
        .or_else(|| args.positional.first())
        .map(Value::items)
        .unwrap_or_default();
    for (i, item) in items.iter().enumerate() {
        let Some(item) = item else { continue };
        let elsewhere = list
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && *other == Some(item));
        if elsewhere {
            return Err((
                item.to_string(),
                format!("the name '{item}' is already given to another entry"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(pairs: &[(&str, &str)]) -> Args {
        Args {
            named: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::text(*v)))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn container_values_follow_the_mode() {
        let a = named(&[
            ("mode_container", "non"),
            ("container_info", "192.0.2.12"),
            ("root_info", "127.0.0.1"),
        ]);
        assert_eq!(calc_container(&a), Ok(Value::text("127.0.0.1")));
        let a = named(&[
            ("mode_container", "oui"),
            ("container_info", "192.0.2.12"),
            ("root_info", "127.0.0.1"),
        ]);
        assert_eq!(calc_container(&a), Ok(Value::text("192.0.2.12")));
        // No mode variable at all: the host.
        let a = named(&[("container_info", "/var/lib/lxc/f/rootfs")]);
        assert_eq!(calc_container(&a), Ok(Value::none()));
    }

    #[test]
    fn checks() {
        for ok in ["1", "1.5", "-2e3", " 3.0 ", "inf", "1_000.5"] {
            assert!(valid_float(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1,5", "abc", "1.2.3"] {
            assert!(valid_float(bad).is_err(), "{bad}");
        }
        assert!(valid_domaine("ac-dijon.fr").is_ok());
        assert!(valid_domaine("a..b").is_err());
        assert!(valid_domaine("-a.fr").is_err());
        assert!(valid_domaine("a b.fr").is_err());
        let a = Args {
            positional: vec![Value::Multi(vec![Some("a".into()), Some("b".into())])],
            ..Default::default()
        };
        assert!(check_name_uniq(&[Some("a"), Some("b")], &a).is_ok());
        let a = Args {
            positional: vec![Value::Multi(vec![Some("a".into()), Some("a".into())])],
            ..Default::default()
        };
        assert_eq!(
            check_name_uniq(&[Some("a"), Some("a")], &a).unwrap_err().0,
            "a"
        );
        let r = Args {
            positional: vec![Value::text("dompedago.ac-test.fr")],
            ..Default::default()
        };
        assert_eq!(
            extract_ad_domain_from_realm(&r),
            Ok(Value::text("DOMPEDAGO"))
        );
    }
}
