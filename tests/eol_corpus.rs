//! Every real config.eol of the corpus (tests/data/eole/config-eol) must load, survive a
//! write/read round trip unchanged (keys, values, value types, owners, order) and save safely.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use conteneur::config::eol::{EolFile, EolLock, Stored};
use serde_json::{Value, json};

/// The real config.eol files, kept in the repository (`tests/data/eole/`, with their
/// origin and licence).
fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eole/config-eol")
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn corpus() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut files = Vec::new();
    all_files(&corpus_dir(), &mut files);
    files.sort();
    files.into_iter().partition(|p| {
        fs::read(p)
            .unwrap()
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            == Some(&b'{')
    })
}

/// Equality that also checks the order of keys at every level (serde_json's and IndexMap's
/// `==` ignore order) and the number kind (integer vs float).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Number(x), Value::Number(y)) => {
            x == y && x.is_i64() == y.is_i64() && x.is_u64() == y.is_u64()
        }
        _ => a == b,
    }
}

fn same_entries(a: &EolFile, b: &EolFile) -> bool {
    a.entries().len() == b.entries().len()
        && a.entries()
            .iter()
            .zip(b.entries())
            .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
}

#[test]
fn every_json_file_round_trips() {
    let (json_files, _) = corpus();
    assert!(json_files.len() >= 14, "{json_files:?}");
    for path in &json_files {
        let bytes = fs::read(path).unwrap();
        let f = EolFile::parse(&bytes, path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!f.is_legacy_ini());

        // Same as an independent reading of the file.
        let reference: Value = serde_json::from_slice(&bytes).unwrap();
        let reference = reference.as_object().unwrap();
        assert!(
            f.entries().len() == reference.len()
                && f.entries()
                    .iter()
                    .zip(reference)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb)),
            "{}: entries differ from the file",
            path.display()
        );

        let again = EolFile::parse(&f.to_bytes(), path).unwrap();
        assert!(same_entries(&f, &again), "{}: round trip", path.display());
        assert_eq!(again.to_bytes(), f.to_bytes(), "{}", path.display());

        // Every entry is structurally sound and reads in the shape it is stored in.
        let problems = f.problems();
        assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
        for key in f.keys() {
            let slave_form = f.raw(key).unwrap()["val"].is_object();
            let read = if slave_form {
                f.get_slave(key)
            } else {
                f.get(key)
            };
            assert!(
                matches!(read, Some(Ok(_))),
                "{}: {key}: {read:?}",
                path.display()
            );
        }
    }
}

/// Files already written in EOLE's own layout (sorted keys, one entry per line) come back
/// byte for byte.
#[test]
fn eole_layout_is_reproduced_byte_for_byte() {
    for name in [
        "dataset_lfikyoto_config1.eol",
        "tests_migration_enchainement_config_maj_262.eol",
    ] {
        let path = corpus_dir().join(name);
        let bytes = fs::read(&path).unwrap();
        let f = EolFile::parse(&bytes, &path).unwrap();
        assert_eq!(
            String::from_utf8(f.to_bytes()).unwrap(),
            String::from_utf8(bytes).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn known_values() {
    let dir = corpus_dir();
    let amon = EolFile::load(&dir.join("amon-ac-reunion-config.eol")).unwrap();
    assert_eq!(amon.version(), Some("2.8.1"));
    assert_eq!(
        amon.get("nom_machine").unwrap().unwrap(),
        Stored::Single {
            val: json!("a-clg-0654t"),
            owner: "creoleset".into()
        }
    );
    assert!(matches!(
        amon.get("revprox_default"),
        Some(Ok(Stored::Single {
            val: Value::Null,
            ..
        }))
    ));
    // Slave keys are stored out of order ("10", "1", "0", …): indexes come back sorted.
    let Stored::Slave { val, owner } = amon.get_slave("netmask_ssh_eth0").unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(
        val.keys().copied().collect::<Vec<_>>(),
        (0..=10).collect::<Vec<_>>()
    );
    assert_eq!(owner.len(), 11);

    // Sparse slaves.
    let seth = EolFile::load(&dir.join("dc-seth-1_config.eol")).unwrap();
    let Stored::Slave { val, owner } = seth.get_slave("dhcp_lease_max").unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(val.keys().copied().collect::<Vec<_>>(), [7]);
    assert_eq!(owner.keys().copied().collect::<Vec<_>>(), [7]);
    let Stored::Slave { val, .. } = seth.get_slave("fichier_pxe_dhcp").unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(val.keys().copied().collect::<Vec<_>>(), [0, 7]);

    // Integers stay integers.
    let dhcp = EolFile::load(&dir.join("seth-2.6.2-extra/dhcp.config.eol")).unwrap();
    assert_eq!(dhcp.raw("dhcp.dhcp.last_id").unwrap()["val"], json!(1317));
    assert!(dhcp.raw("dhcp.dhcp.last_id").unwrap()["val"].is_u64());

    // Old file: no version, slaves as plain lists.
    let old = EolFile::load(&dir.join("dataset_2.4.0_exceptions240.eol")).unwrap();
    assert_eq!(old.version(), None);
    assert_eq!(
        old.get_slave("adresse_netmask_wpad_exclude")
            .unwrap()
            .unwrap(),
        Stored::Slave {
            val: BTreeMap::from([(0, json!("255.255.255.255")), (1, json!("255.255.255.0"))]),
            owner: BTreeMap::from([(0, "gen_config".into()), (1, "gen_config".into())]),
        }
    );
}

#[test]
fn ini_files_load() {
    let (_, ini_files) = corpus();
    let names: Vec<_> = ini_files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "dataset_2.3_config-horus23.eol",
            "dataset_2.3_exceptions23.eol"
        ]
    );
    for path in &ini_files {
        let f = EolFile::load(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(f.is_legacy_ini());
        assert!(f.problems().is_empty(), "{}", path.display());
        // Every section with a val line became an entry owned by "upgrade".
        let text = fs::read_to_string(path).unwrap();
        let sections = text.lines().filter(|l| l.starts_with('[')).count();
        assert_eq!(f.keys().count(), sections, "{}", path.display());
        for key in f.keys() {
            match f.get(key).unwrap().unwrap() {
                Stored::Single { owner, .. } | Stored::Multi { owner, .. } => {
                    assert_eq!(owner, "upgrade")
                }
                Stored::Slave { .. } => unreachable!(),
            }
        }
        // Migrating writes JSON that reads back the same.
        let json = EolFile::parse(&f.to_bytes(), path).unwrap();
        assert!(!json.is_legacy_ini());
        assert!(same_entries(&f, &json));
    }

    let horus = EolFile::load(&corpus_dir().join("dataset_2.3_config-horus23.eol")).unwrap();
    let single = |k: &str| match horus.get(k).unwrap().unwrap() {
        Stored::Single { val, .. } => val,
        other => panic!("{k}: {other:?}"),
    };
    assert_eq!(single("nom_machine"), json!("horus"));
    assert_eq!(single("proxy_client_adresse"), json!("10.21.58.1"));
    assert_eq!(single("netmask_client_logs_udp"), json!(""));
}

#[test]
fn ini_special_values() {
    let dir = corpus_dir();
    let horus = EolFile::load(&dir.join("dataset_2.3_config-horus23.eol")).unwrap();
    let vals: Vec<&Value> = horus.entries().values().map(|v| &v["val"]).collect();
    assert!(vals.contains(&&json!("netlogon\\dase\\trend\\install")));
    assert!(vals.contains(&&json!("Rsync de l'installeur effectuee")));
    assert!(matches!(
        horus.get("adresse_ip_serveur_logs").unwrap().unwrap(),
        Stored::Multi { ref val, .. } if val.is_empty()
    ));

    let exc = EolFile::load(&dir.join("dataset_2.3_exceptions23.eol")).unwrap();
    assert_eq!(
        exc.get("era_proxy_bypass").unwrap().unwrap(),
        Stored::Multi {
            val: vec![json!("1.1.1.1"), json!("2.2.2.2")],
            owner: "upgrade".into()
        }
    );
    assert_eq!(
        exc.get("nombre_interfaces").unwrap().unwrap(),
        Stored::Single {
            val: json!("5"),
            owner: "upgrade".into()
        }
    );
    // A slave stored as a plain list.
    assert!(matches!(
        exc.get_slave("adresse_netmask_wpad_exclude"),
        Some(Ok(Stored::Slave { ref val, .. })) if val.len() == 2
    ));
}

/// Load, save with no change (no write), change, save, reload: in a scratch copy.
#[test]
fn save_round_trip_on_copies() {
    let (json_files, ini_files) = corpus();
    let tmp = tempfile::tempdir().unwrap();
    for (i, src) in json_files.iter().chain(&ini_files).enumerate() {
        let path = tmp.path().join(format!("{i}/config.eol"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::copy(src, &path).unwrap();
        let lock = EolLock::acquire(&path, false).unwrap();
        let mut f = EolFile::load(&path).unwrap();
        f.save(&lock).unwrap();
        let saved = EolFile::load(&path).unwrap();
        assert!(same_entries(&f, &saved), "{}", src.display());
        assert!(!saved.is_legacy_ini());
        let bak = path.with_file_name("config.eol.bak");
        // A file not already in our layout was rewritten, and its original kept.
        if fs::read(src).unwrap() != f.to_bytes() {
            assert_eq!(fs::read(&bak).unwrap(), fs::read(src).unwrap());
        } else {
            assert!(!bak.exists());
        }

        f.put(
            "nom_machine",
            Stored::Single {
                val: json!("changé"),
                owner: "creoleset".into(),
            },
        );
        f.save(&lock).unwrap();
        let changed = EolFile::load(&path).unwrap();
        assert!(same_entries(&f, &changed));
        assert_eq!(
            changed.get("nom_machine").unwrap().unwrap(),
            Stored::Single {
                val: json!("changé"),
                owner: "creoleset".into()
            }
        );
    }
}
