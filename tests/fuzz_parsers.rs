//! Property tests: no byte sequence makes the dictionary reader, the
//! config.eol reader or the engine on top of them panic.

mod common;

use std::sync::Arc;

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

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
        let _ = cfg.set("conteneur1_name", &["app".to_string()], "fuzz");
        let _ = cfg.set("nombre_conteneur", &["2".to_string()], "fuzz");
        let _ = cfg.problems();
    }
}
