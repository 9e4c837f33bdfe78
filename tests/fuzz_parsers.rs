//! Property tests: no byte sequence makes the dictionary reader, the
//! config.eol reader or the engine on top of them panic; the one
//! Python-literal parser reads back what Python 2's `repr` writes, in both
//! its dialects.

mod common;

use std::sync::Arc;

use conteneur::config::pylit::{self, Dialect, Item};
use conteneur::config::{Config, EolFile};
use conteneur::dico;
use indexmap::IndexMap;
use proptest::prelude::*;

fn real_dictionaries() -> Vec<String> {
    let c = common::corpus();
    let mut out = Vec::new();
    for dir in [
        "dicos/eole-server-2.10.0",
        "dicos/local-and-tests",
        "extra/schedule",
    ] {
        for e in std::fs::read_dir(c.join(dir)).unwrap() {
            out.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
        }
    }
    out.push(std::fs::read_to_string(common::our_dicos().join("10_conteneur.xml")).unwrap());
    out
}

/// Fragments that make random text look like a dictionary, so the
/// generator reaches the interpretation code and not only the XML parser.
fn creole_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<creole>".to_string()),
        Just("</creole>".to_string()),
        Just("<variables><family name='f'>".to_string()),
        Just("</family></variables>".to_string()),
        Just("<constraints>".to_string()),
        Just("</constraints>".to_string()),
        "[a-z]{1,3}".prop_map(|n| format!("<variable name='{n}' type='string' multi='True'/>")),
        "[a-z]{1,3}".prop_map(|n| format!("<variable name='{n}' redefine='True' exists='False'><value>x</value></variable>")),
        ("[a-z]{1,3}", "[a-z]{1,3}").prop_map(|(a, b)| format!("<group master='{a}'><slave>{b}</slave></group>")),
        ("[a-z]{1,3}", "[a-z]{1,3}").prop_map(|(a, b)| format!("<condition name='disabled_if_in' source='{a}'><param>x</param><target>{b}</target></condition>")),
        ("[a-z]{1,3}", "[a-z]{1,3}").prop_map(|(a, b)| format!("<fill name='calc_val' target='{a}'><param type='eole'>{b}</param></fill>")),
        "[a-z]{1,3}".prop_map(|a| format!("<check name='valid_enum' target='{a}'><param>['x', 'y'</param></check>")),
        Just("<family name='d{X}' dynamic='n'><variable name='d{X}_v'/></family>".into()),
        any::<String>(),
    ]
}

/// An item as Python 2's `repr` writes it in an EOLE 2.3 config.eol:
/// `u'…'` with `\u` escapes, or a byte string holding the UTF-8 bytes as
/// `\x` escapes, `5L`, `True`, `None`.
fn repr2(item: &Item, unicode: bool) -> String {
    match item {
        Item::Str(s) => {
            let mut out = String::from(if unicode { "u'" } else { "'" });
            if unicode {
                for c in s.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\'' => out.push_str("\\'"),
                        c if c.is_ascii_graphic() || c == ' ' => out.push(c),
                        c if u32::from(c) <= 0xff => {
                            out.push_str(&format!("\\x{:02x}", u32::from(c)))
                        }
                        c if u32::from(c) <= 0xffff => {
                            out.push_str(&format!("\\u{:04x}", u32::from(c)))
                        }
                        c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
                    }
                }
            } else {
                for b in s.bytes() {
                    match b {
                        b'\\' => out.push_str("\\\\"),
                        b'\'' => out.push_str("\\'"),
                        b if b.is_ascii_graphic() || b == b' ' => out.push(char::from(b)),
                        b => out.push_str(&format!("\\x{b:02x}")),
                    }
                }
            }
            out.push('\'');
            out
        }
        Item::Number(n) => format!("{n}L"),
        Item::Bool(true) => "True".into(),
        Item::Bool(false) => "False".into(),
        Item::None => "None".into(),
    }
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        any::<String>().prop_map(Item::Str),
        "[a-zé '\\\\]{0,12}".prop_map(Item::Str),
        any::<i64>().prop_map(|n| Item::Number(n.to_string())),
        any::<bool>().prop_map(Item::Bool),
        Just(Item::None),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn python_literal_parser_never_panics_in_either_dialect(s in any::<String>()) {
        for dialect in [Dialect::Source, Dialect::Repr2] {
            if let Err(e) = pylit::parse(&s, dialect) {
                // The place of the error is inside the text, on a character.
                let byte = e.byte_offset(&s);
                prop_assert!(byte <= s.len() && s.is_char_boundary(byte));
                prop_assert!(e.at <= s.chars().count());
                prop_assert!(!e.describe().is_empty());
            }
        }
    }

    /// What Python 2's `repr` wrote comes back as the same typed items, and
    /// through the INI config.eol reader as the same JSON values.
    #[test]
    fn python2_repr_round_trips(items in proptest::collection::vec((item(), any::<bool>()), 0..6)) {
        let text = format!(
            "[{}]",
            items.iter().map(|(i, u)| repr2(i, *u)).collect::<Vec<_>>().join(", ")
        );
        let expected: Vec<Item> = items.iter().map(|(i, _)| i.clone()).collect();
        prop_assert_eq!(pylit::parse(&text, Dialect::Repr2), Ok(expected.clone()));
        let ini = format!("[v]\nval = {text}\n");
        let f = EolFile::parse(ini.as_bytes(), std::path::Path::new("config.eol")).unwrap();
        let json: Vec<serde_json::Value> = expected
            .into_iter()
            .map(|i| match i {
                Item::Str(s) => serde_json::json!(s),
                Item::Number(n) => serde_json::json!(n.parse::<i64>().unwrap()),
                Item::Bool(b) => serde_json::json!(b),
                Item::None => serde_json::Value::Null,
            })
            .collect();
        let val = &f.raw("v").unwrap()["val"];
        match json.as_slice() {
            [one] => prop_assert_eq!(val, one),
            many => prop_assert_eq!(val, &serde_json::Value::Array(many.to_vec())),
        }
    }

    /// Where the two writers agree (unicode strings, numbers, constants),
    /// the two dialects read the same thing, and a dictionary's text is
    /// the item's text.
    #[test]
    fn dialects_agree_on_unicode_literals(items in proptest::collection::vec(item(), 0..6)) {
        let text = format!(
            "[{}]",
            items.iter().map(|i| repr2(i, true)).collect::<Vec<_>>().join(", ")
        );
        let source = pylit::parse(&text, Dialect::Source);
        prop_assert_eq!(&source, &pylit::parse(&text, Dialect::Repr2));
        let texts: Vec<String> = items.into_iter().map(Item::into_text).collect();
        prop_assert_eq!(pylit::parse_list(&text), Ok(texts));
    }

    #[test]
    fn dictionary_reader_never_panics_on_any_text(s in any::<String>()) {
        let _ = dico::load_str(&s, "fuzz.xml");
    }

    #[test]
    fn dictionary_reader_never_panics_on_creole_like_text(parts in proptest::collection::vec(creole_fragment(), 0..30)) {
        let out = dico::load_str(&parts.concat(), "fuzz.xml");
        // Whatever was read must also survive evaluation.
        let cfg = Config::new(Arc::new(out.dicos), EolFile::empty(std::path::Path::new("c.eol")), IndexMap::new(), false);
        let _ = cfg.problems();
        let _ = cfg.list();
    }

    #[test]
    fn dictionary_reader_never_panics_on_damaged_real_files(
        which in any::<prop::sample::Index>(),
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..40, any::<Vec<u8>>()), 1..4),
    ) {
        let files = real_dictionaries();
        let mut bytes = files[which.index(files.len())].clone().into_bytes();
        for (at, len, insert) in cuts {
            let start = at.index(bytes.len().max(1)).min(bytes.len());
            let end = (start + len).min(bytes.len());
            bytes.splice(start..end, insert);
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("10_damaged.xml"), &bytes).unwrap();
        let _ = dico::load_all(&[dico::Source { dir: dir.path().to_path_buf(), namespace: None }]);
    }

    #[test]
    fn config_eol_reader_never_panics(bytes in any::<Vec<u8>>()) {
        let _ = EolFile::parse(&bytes, std::path::Path::new("config.eol"));
    }

    /// Random stored values of every shape, for real variable names of our
    /// dictionary: reading, listing and checking them never panics.
    #[test]
    fn engine_never_panics_on_odd_stored_values(entries in proptest::collection::vec((0usize..12, 0usize..8), 0..20)) {
        let names = ["nombre_conteneur", "conteneur1_name", "conteneur1_port_in", "conteneur1_port_out",
            "conteneur1_mountpoint_out", "conteneur2_port_out", "conteneur_https", "conteneur1_env",
            "conteneur_http_port", "conteneur1_stop_timeout", "conteneur2_name", "unknown_key"];
        let values = [
            serde_json::json!(3), serde_json::json!("x"), serde_json::json!(null), serde_json::json!([1, "a", null]),
            serde_json::json!({"0": "8080", "5": 1}), serde_json::json!("99999999999999999999"),
            serde_json::json!(-4), serde_json::json!({"0": ["nested"]}),
        ];
        let mut obj = serde_json::Map::new();
        for (n, v) in entries {
            obj.insert(names[n].to_string(), serde_json::json!({"val": values[v], "owner": "fuzz"}));
        }
        let bytes = serde_json::to_vec(&obj).unwrap();
        let eol = EolFile::parse(&bytes, std::path::Path::new("config.eol")).unwrap();
        let dicos = dico::load(&[dico::Source { dir: common::our_dicos(), namespace: None }]).unwrap();
        let mut cfg = Config::new(Arc::new(dicos), eol, IndexMap::new(), false);
        let _ = cfg.problems();
        let _ = cfg.list();
        // Reading as `get` does: invalid values are refused, never a panic.
        for name in names {
            let _ = cfg.read(name);
        }
        let _ = cfg.set("conteneur1_name", &["app".to_string()], "fuzz");
        let _ = cfg.set("nombre_conteneur", &["2".to_string()], "fuzz");
        let _ = cfg.problems();
    }
}
