//! Unit tests of `config::eol`, in a file of their own: they outgrew the
//! code they test.

use super::*;
use serde_json::json;
use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;

fn p() -> PathBuf {
    PathBuf::from("/etc/eole/config.eol")
}

fn parse(s: &str) -> EolFile {
    match EolFile::parse(s.as_bytes(), &p()) {
        Ok(f) => f,
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn parse_err(s: &[u8]) -> EolError {
    match EolFile::parse(s, &p()) {
        Ok(f) => panic!("expected an error, got {f:?}"),
        Err(e) => e,
    }
}

const SAMPLE: &str = r#"{"nom_machine": {"val": "hapy2", "owner": "creoleset"},
 "adresse_ip_dns": {"val": ["192.0.2.53", "8.8.8.8"], "owner": "zephir_import"},
 "netmask_ssh_eth0": {"val": {"0": "255.255.255.128", "1": "255.255.255.255"},
                      "owner": {"0": "zephir_import", "1": "user"}},
 "bash_tmout": {"val": 0, "owner": "forced"},
 "revprox_default": {"val": null, "owner": "gen_config"},
 "___version___": "2.8.1"}"#;

#[test]
fn reads_the_three_shapes() {
    let f = parse(SAMPLE);
    assert_eq!(f.version(), Some("2.8.1"));
    assert!(!f.is_legacy_ini());
    assert_eq!(
        f.keys().collect::<Vec<_>>(),
        [
            "nom_machine",
            "adresse_ip_dns",
            "netmask_ssh_eth0",
            "bash_tmout",
            "revprox_default"
        ]
    );
    assert_eq!(
        f.get("nom_machine").unwrap().unwrap(),
        Stored::Single {
            val: json!("hapy2"),
            owner: "creoleset".into()
        }
    );
    assert_eq!(
        f.get("adresse_ip_dns").unwrap().unwrap(),
        Stored::Multi {
            val: vec![json!("192.0.2.53"), json!("8.8.8.8")],
            owner: "zephir_import".into()
        }
    );
    assert_eq!(
        f.get_slave("netmask_ssh_eth0").unwrap().unwrap(),
        Stored::Slave {
            val: BTreeMap::from([(0, json!("255.255.255.128")), (1, json!("255.255.255.255"))]),
            owner: BTreeMap::from([(0, "zephir_import".into()), (1, "user".into())]),
        }
    );
    // Integer stays integer, null stays null.
    let Stored::Single { val, .. } = f.get("bash_tmout").unwrap().unwrap() else {
        panic!()
    };
    assert!(val.is_i64());
    let Stored::Single { val, .. } = f.get("revprox_default").unwrap().unwrap() else {
        panic!()
    };
    assert!(val.is_null());
    assert!(f.get("absent").is_none());
    assert!(f.get(VERSION_KEY).is_none());
    assert!(f.get_slave(VERSION_KEY).is_none());
    assert_eq!(f.raw(VERSION_KEY), Some(&json!("2.8.1")));
    assert!(f.problems().is_empty());
}

#[test]
fn slave_list_form_and_sparse_indexes() {
    let f = parse(
        r#"{"old": {"owner": "gen_config", "val": ["255.255.255.255", "255.255.255.0"]},
                "sparse": {"val": {"7": "3600", "0": null}, "owner": {"0": "user", "7": "import"}},
                "one_owner": {"val": {"2": "a", "5": "b"}, "owner": "user"}}"#,
    );
    assert_eq!(
        f.get_slave("old").unwrap().unwrap(),
        Stored::Slave {
            val: BTreeMap::from([(0, json!("255.255.255.255")), (1, json!("255.255.255.0"))]),
            owner: BTreeMap::from([(0, "gen_config".into()), (1, "gen_config".into())]),
        }
    );
    assert_eq!(
        f.get_slave("sparse").unwrap().unwrap(),
        Stored::Slave {
            val: BTreeMap::from([(0, Value::Null), (7, json!("3600"))]),
            owner: BTreeMap::from([(0, "user".into()), (7, "import".into())]),
        }
    );
    assert_eq!(
        f.get_slave("one_owner").unwrap().unwrap(),
        Stored::Slave {
            val: BTreeMap::from([(2, json!("a")), (5, json!("b"))]),
            owner: BTreeMap::from([(2, "user".into()), (5, "user".into())]),
        }
    );
    // The list form is also a valid multi.
    assert!(matches!(f.get("old"), Some(Ok(Stored::Multi { .. }))));
    // The object form is not.
    let e = f.get("sparse").unwrap().unwrap_err().to_string();
    assert!(e.contains("entry 'sparse'") && e.contains("slave"), "{e}");
    assert!(f.problems().is_empty());
}

#[test]
fn malformed_entries_are_named() {
    let f = parse(
        r#"{"nom_machine": {"owner": "user"},
                "x": 5,
                "no_owner": {"val": "a"},
                "bad_owner": {"val": "a", "owner": 3},
                "bad_index": {"val": {"01": "a"}, "owner": {"01": "u"}},
                "neg_index": {"val": {"-1": "a"}, "owner": "u"},
                "slave_scalar": {"val": "a", "owner": {"0": "u"}},
                "___version___": 281}"#,
    );
    let msg = |r: Option<Result<Stored, EolError>>| r.unwrap().unwrap_err().to_string();
    assert_eq!(
        msg(f.get("nom_machine")),
        "/etc/eole/config.eol: entry 'nom_machine' has no 'val' field"
    );
    assert_eq!(
        msg(f.get("x")),
        "/etc/eole/config.eol: entry 'x': expected an object with 'val' and 'owner', \
             found a number (5)"
    );
    assert!(msg(f.get("no_owner")).contains("has no 'owner' field"));
    assert!(msg(f.get("bad_owner")).contains("owner as a string"));
    assert!(msg(f.get_slave("bad_index")).contains("\"01\""));
    assert!(msg(f.get_slave("neg_index")).contains("\"-1\""));
    assert!(msg(f.get_slave("slave_scalar")).contains("found a string (\"a\")"));
    assert!(msg(f.get("slave_scalar")).contains("owner as a string"));
    assert_eq!(f.version(), None);
    let problems = f.problems();
    assert_eq!(problems.len(), 8, "{problems:#?}");
    assert!(problems[7].to_string().contains("___version___"));
}

#[test]
fn put_replaces_in_place_or_appends() {
    let mut f = parse(
        r#"{"a": {"owner": "user", "val": "1", "extra": true}, "b": 3, "___version___": "2.6.2"}"#,
    );
    f.put(
        "a",
        Stored::Single {
            val: json!("2"),
            owner: "creoleset".into(),
        },
    );
    f.put(
        "b",
        Stored::Multi {
            val: vec![json!(1)],
            owner: "user".into(),
        },
    );
    f.put(
        "c",
        Stored::Slave {
            val: BTreeMap::from([(10, json!("x")), (2, json!("y"))]),
            owner: BTreeMap::from([(2, "user".into()), (10, "user".into())]),
        },
    );
    assert_eq!(
        String::from_utf8(f.to_bytes()).unwrap(),
        "{\n    \"a\":{\"owner\":\"creoleset\",\"val\":\"2\",\"extra\":true},\n    \
             \"b\":{\"val\":[1],\"owner\":\"user\"},\n    \"___version___\":\"2.6.2\",\n    \
             \"c\":{\"val\":{\"2\":\"y\",\"10\":\"x\"},\"owner\":{\"2\":\"user\",\"10\":\"user\"}}\n}\n"
    );
    assert!(f.remove("a"));
    assert!(!f.remove("a"));
    assert_eq!(f.keys().collect::<Vec<_>>(), ["b", "c"]);
    f.set_version("2.9.0");
    assert_eq!(f.version(), Some("2.9.0"));
    assert_eq!(f.entries().get_index_of(VERSION_KEY), Some(1));
    let mut e = EolFile::empty(&p());
    assert_eq!(e.to_bytes(), b"{}\n");
    e.set_version("2.8.1");
    assert_eq!(e.to_bytes(), b"{\n    \"___version___\":\"2.8.1\"\n}\n");
}

#[test]
fn to_bytes_writes_utf8_and_round_trips() {
    let f = parse(
        r#"{"cert_type": {"owner": "upgrade", "val": "autosign\u00e9"}, "k\"q": {"val": "tab\there", "owner": "u"}}"#,
    );
    let out = String::from_utf8(f.to_bytes()).unwrap();
    assert!(out.contains("autosigné"), "{out}");
    assert!(out.contains(r#""k\"q""#) && out.contains(r"tab\there"));
    let again = EolFile::parse(&f.to_bytes(), &p()).unwrap();
    assert_eq!(again, f);
}

#[test]
fn syntax_errors_give_line_and_column() {
    let e = parse_err(b"{\n  \"a\": {\"val\": \"\xc3\xa9\" \"owner\": \"u\"}\n}");
    match &e {
        EolError::JsonSyntax { line, column, .. } => {
            assert_eq!((*line, *column), (2, 20), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.starts_with("/etc/eole/config.eol: JSON syntax error at line 2, column 20: "),
        "{msg}"
    );
    assert!(!msg.contains("at line 2 column"), "{msg}");

    assert!(matches!(
        parse_err(b"[1, 2]"),
        EolError::NotAnObject { ref found, .. } if found == "a list of 2 item(s)"
    ));
    assert!(matches!(parse_err(b" \"x\""), EolError::NotAnObject { .. }));
    assert!(matches!(parse_err(b"\n  \n"), EolError::Empty { .. }));
    assert!(matches!(parse_err(b""), EolError::Empty { .. }));
    let e = parse_err(b"\n  nom_machine=x");
    assert!(
        matches!(
            e,
            EolError::UnknownFormat {
                line: 2,
                column: 3,
                found: 'n',
                ..
            }
        ),
        "{e:?}"
    );
    let e = parse_err(b"{\"a\": \"\xe9t\xe9\"}");
    assert!(matches!(e, EolError::NotUtf8 { offset: 7, .. }), "{e:?}");
    assert!(e.to_string().contains("byte offset 7"));
    // A byte-order mark is tolerated.
    let f = EolFile::parse(b"\xef\xbb\xbf{\"a\": {\"val\": 1, \"owner\": \"u\"}}", &p()).unwrap();
    assert_eq!(f.keys().count(), 1);
}

#[test]
fn ini_form_is_read_as_a_migration() {
    let text = "[nom_machine]\nvaldefault = []\nvalprec = []\nval = ['horus']\n\n\
                    [era_proxy_bypass]\nvaldefault = []\nvalprec = ['x']\nval = ['1.1.1.1', '2.2.2.2']\n\
                    [vide]\nval = []\n\
                    [chemin]\nval = ['netlogon\\\\dase\\\\trend']\n\
                    [msg]\nval = [\"Rsync de l'installeur\"]\n\
                    [accent]\nval = ['autosign\\xc3\\xa9', u'autosign\\xe9', u'\\u00e9']\n\
                    [long]\nval = ['a',\n    'b',\n  ]\n\
                    # comment\n\
                    [nombre]\nval: [None, 5, 5L, True]\n\
                    [nom_machine]\nval = ['horus2']\n";
    let f = parse(text);
    assert!(f.is_legacy_ini());
    assert_eq!(f.version(), None);
    assert_eq!(
        f.keys().collect::<Vec<_>>(),
        [
            "nom_machine",
            "era_proxy_bypass",
            "vide",
            "chemin",
            "msg",
            "accent",
            "long",
            "nombre"
        ]
    );
    let get = |k| f.get(k).unwrap().unwrap();
    assert_eq!(
        get("nom_machine"),
        Stored::Single {
            val: json!("horus2"),
            owner: "upgrade".into()
        }
    );
    assert_eq!(
        get("era_proxy_bypass"),
        Stored::Multi {
            val: vec![json!("1.1.1.1"), json!("2.2.2.2")],
            owner: "upgrade".into()
        }
    );
    assert_eq!(
        get("vide"),
        Stored::Multi {
            val: vec![],
            owner: "upgrade".into()
        }
    );
    assert_eq!(
        f.raw("chemin").unwrap()["val"],
        json!("netlogon\\dase\\trend")
    );
    assert_eq!(f.raw("msg").unwrap()["val"], json!("Rsync de l'installeur"));
    assert_eq!(
        f.raw("accent").unwrap()["val"],
        json!(["autosigné", "autosigné", "é"])
    );
    assert_eq!(f.raw("long").unwrap()["val"], json!(["a", "b"]));
    assert_eq!(f.raw("nombre").unwrap()["val"], json!([null, 5, 5, true]));
    assert!(matches!(
        f.get_slave("era_proxy_bypass"),
        Some(Ok(Stored::Slave { .. }))
    ));
    // Saving writes JSON.
    let back = EolFile::parse(&f.to_bytes(), &p()).unwrap();
    assert!(!back.is_legacy_ini());
    assert_eq!(back.entries(), f.entries());
}

#[test]
fn ini_errors_give_line_and_column() {
    let cases: &[(&str, usize, usize, &str)] = &[
        ("[a]\nval = ['x'\n", 2, 11, "expected ',' or ']'"),
        ("[a]\nval = ['x]\n", 2, 8, "not closed"),
        (
            "# old file\nval = ['x']\n",
            2,
            1,
            "before any [variable] section",
        ),
        ("[a\nval = []\n", 1, 1, "no closing ']'"),
        ("[a]\nnonsense\n", 2, 1, "expected '[variable]'"),
        ("[a]\nval = x\n", 2, 7, "Python list"),
        ("[a]\nval = [u'\\u12']\n", 2, 10, "hexadecimal"),
        ("[a]\nval = [\n  'a' 'b']\n", 3, 7, "expected ',' or ']'"),
    ];
    for (text, line, column, needle) in cases {
        match parse_err(text.as_bytes()) {
            EolError::IniSyntax {
                line: l,
                column: c,
                message,
                ..
            } => {
                assert_eq!((l, c), (*line, *column), "{text:?}: {message}");
                assert!(message.contains(needle), "{text:?}: {message}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

// ---- saving and locking --------------------------------------------------------------

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

use crate::atomic::tests::listing as dir_listing;

#[test]
fn save_creates_folder_backup_and_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("etc/eole/config.eol");
    let lock = EolLock::acquire(&path, false).unwrap();
    assert_eq!(mode(lock.lock_path()), 0o600);

    let mut f = EolFile::load(&path).unwrap();
    assert_eq!(f.keys().count(), 0);
    f.put(
        "nom_machine",
        Stored::Single {
            val: json!("a"),
            owner: "user".into(),
        },
    );
    f.save(&lock).unwrap();
    assert_eq!(mode(&path), 0o600);
    let bak = path.with_file_name("config.eol.bak");
    assert!(!bak.exists(), "no backup of a file that did not exist");
    let first = fs::read(&path).unwrap();

    // Same content again: nothing happens, so no backup either.
    f.save(&lock).unwrap();
    assert!(!bak.exists());

    f.put(
        "nom_machine",
        Stored::Single {
            val: json!("b"),
            owner: "user".into(),
        },
    );
    f.save(&lock).unwrap();
    assert_eq!(fs::read(&bak).unwrap(), first);
    assert_eq!(mode(&bak), 0o600);
    assert_eq!(EolFile::load(&path).unwrap(), f);
    assert_eq!(
        dir_listing(path.parent().unwrap()),
        ["config.eol", "config.eol.bak", "config.eol.lock"]
    );
}

#[test]
fn failed_save_leaves_the_old_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("config.eol");
    let old = b"{\"a\": {\"val\": \"old\", \"owner\": \"user\"}}";
    fs::write(&path, old).unwrap();
    let lock = EolLock::acquire(&path, true).unwrap();
    let mut f = EolFile::load(&path).unwrap();
    f.put(
        "a",
        Stored::Single {
            val: json!("new"),
            owner: "user".into(),
        },
    );
    for step in ["write", "sync", "backup", "replace"] {
        FAIL_AT.with(|c| c.set(Some(step)));
        let e = f.save(&lock).unwrap_err();
        FAIL_AT.with(|c| c.set(None));
        assert!(e.to_string().contains("injected failure"), "{step}: {e}");
        assert_eq!(fs::read(&path).unwrap(), old, "{step}");
        let listing = dir_listing(tmp.path());
        assert!(
            listing.iter().all(|n| !n.ends_with(".tmp")),
            "{step}: {listing:?}"
        );
    }
    // A real failure: something that is not a file sits where the backup goes.
    fs::remove_file(tmp.path().join("config.eol.bak")).unwrap();
    fs::create_dir(tmp.path().join("config.eol.bak")).unwrap();
    fs::write(tmp.path().join("config.eol.bak/keep"), b"x").unwrap();
    let e = f.save(&lock).unwrap_err();
    assert!(matches!(e, EolError::Io { op: "replace", .. }), "{e:?}");
    assert!(e.to_string().contains("config.eol.bak"), "{e}");
    assert_eq!(fs::read(&path).unwrap(), old);
    fs::remove_dir_all(tmp.path().join("config.eol.bak")).unwrap();
    f.save(&lock).unwrap();
    assert_eq!(fs::read(tmp.path().join("config.eol.bak")).unwrap(), old);
    assert_eq!(EolFile::load(&path).unwrap(), f);
}

#[test]
fn read_only_folder_fails_cleanly_when_not_root() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ro");
    fs::create_dir(&dir).unwrap();
    let path = dir.join("config.eol");
    fs::write(&path, b"{}").unwrap();
    let lock = EolLock::acquire(&path, false).unwrap();
    fs::set_permissions(&dir, Permissions::from_mode(0o555)).unwrap();
    // root ignores permissions: then this test has nothing to check.
    let root = File::create(dir.join("probe")).is_ok();
    if !root {
        let mut f = EolFile::load(&path).unwrap();
        f.set_version("2.9.0");
        let e = f.save(&lock).unwrap_err();
        assert!(e.to_string().contains("temporary file"), "{e}");
        assert_eq!(fs::read(&path).unwrap(), b"{}");
    }
    fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn save_needs_the_matching_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("config.eol");
    let b = tmp.path().join("other.eol");
    let lock_b = EolLock::acquire(&b, false).unwrap();
    let e = EolFile::empty(&a).save(&lock_b).unwrap_err();
    assert!(matches!(e, EolError::WrongLock { .. }), "{e:?}");
    assert!(!a.exists());
    // The same file spelled differently is fine.
    let lock_a = EolLock::acquire(&tmp.path().join(".").join("config.eol"), false).unwrap();
    EolFile::empty(&a).save(&lock_a).unwrap();
    assert_eq!(fs::read(&a).unwrap(), b"{}\n");
}

#[test]
fn lock_contention_in_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("config.eol");
    let first = EolLock::acquire(&path, false).unwrap();
    let e = EolLock::acquire(&path, false).unwrap_err();
    let expected = format!(
        "config.eol is being written by another process (lock held on {}.lock)",
        path.display()
    );
    assert!(e.to_string().starts_with(&expected), "{e}");

    // A waiting acquirer gets the lock once the holder lets go.
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter_path = path.clone();
    let waiter = std::thread::spawn(move || {
        let lock = EolLock::acquire(&waiter_path, true);
        tx.send(()).ok();
        lock.map(drop)
    });
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(200))
            .is_err(),
        "the waiter must block while the lock is held"
    );
    drop(first);
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("the waiter gets the lock");
    waiter.join().unwrap().unwrap();
    EolLock::acquire(&path, false).unwrap();
}

#[test]
fn load_errors_name_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let e = EolFile::load(tmp.path()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("cannot read {}:", tmp.path().display())),
        "{e}"
    );
    let f = EolFile::load(&tmp.path().join("missing.eol")).unwrap();
    assert_eq!(f.entries().len(), 0);
}

// ---- properties ----------------------------------------------------------------------

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Exercises every reader on whatever parsed.
    fn poke(f: &EolFile) {
        let keys: Vec<String> = f.entries().keys().cloned().collect();
        for k in &keys {
            let _ = f.get(k);
            let _ = f.get_slave(k);
        }
        let _ = f.problems();
        let _ = f.version();
        let again = EolFile::parse(&f.to_bytes(), f.path()).expect("own output parses");
        assert!(again.entries().iter().eq(f.entries().iter()));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter_map("finite", serde_json::Number::from_f64)
                .prop_map(Value::Number),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((".{0,8}", inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(f) = EolFile::parse(&bytes, Path::new("x.eol")) {
                poke(&f);
            }
        }

        #[test]
        fn parse_never_panics_on_jsonish(
            s in r#"[{}\[\]"':,=\\ \n\tuUrRbxL0-9a-z._#;-]{0,200}"#,
            start in prop_oneof![Just(""), Just("{"), Just("["), Just("[a]\nval = [")],
        ) {
            let text = format!("{start}{s}");
            if let Ok(f) = EolFile::parse(text.as_bytes(), Path::new("x.eol")) {
                poke(&f);
            }
        }

        #[test]
        fn any_object_round_trips_in_order(
            entries in prop::collection::vec((".{0,10}", json_value()), 0..12)
        ) {
            let map: Map<String, Value> = entries.into_iter().collect();
            let text = Value::Object(map.clone()).to_string();
            let f = EolFile::parse(text.as_bytes(), Path::new("x.eol")).unwrap();
            prop_assert!(f.entries().iter().eq(map.iter()));
            let again = EolFile::parse(&f.to_bytes(), Path::new("x.eol")).unwrap();
            prop_assert_eq!(again.to_bytes(), f.to_bytes());
            prop_assert!(again.entries().iter().eq(map.iter()));
            poke(&f);
        }

        #[test]
        fn put_then_get_gives_it_back(
            single in json_value().prop_filter("scalar", |v| !v.is_array() && !v.is_object()),
            multi in prop::collection::vec(json_value(), 0..5),
            slave in prop::collection::btree_map(0usize..50, json_value(), 0..5),
            owner in "[a-z_]{1,12}",
        ) {
            let mut f = EolFile::empty(Path::new("x.eol"));
            let s = Stored::Single { val: single, owner: owner.clone() };
            let m = Stored::Multi { val: multi, owner: owner.clone() };
            let owners = slave.keys().map(|i| (*i, owner.clone())).collect();
            let sl = Stored::Slave { val: slave, owner: owners };
            f.put("s", s.clone());
            f.put("m", m.clone());
            f.put("sl", sl.clone());
            let f = EolFile::parse(&f.to_bytes(), Path::new("x.eol")).unwrap();
            prop_assert_eq!(f.get("s").unwrap().unwrap(), s);
            prop_assert_eq!(f.get("m").unwrap().unwrap(), m);
            prop_assert_eq!(f.get_slave("sl").unwrap().unwrap(), sl);
        }
    }
}
