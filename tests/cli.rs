//! End-to-end tests of the binary: the executable specification of
//! `get`, `set`, `lint` and the EOLE command names.

mod common;

use std::os::unix::fs::PermissionsExt;

use assert_cmd::Command;
use common::{Server, corpus};
use predicates::prelude::*;

/// The seed's example: two containers described at the command line.
fn seed_example(s: &Server) {
    s.set("nombre_conteneur", &["2"]);
    s.set("conteneur1_name", &["rocketchat"]);
    s.set("conteneur1_url", &["localhost:5000/demo/rocketchat"]);
    s.set("conteneur1_tag", &["6.5.0"]);
    s.set("conteneur1_port_in", &["3000"]);
    s.set("conteneur1_port_out", &["8080"]);
    s.set("conteneur1_mountpoint_in", &["/app/uploads", "/app/config"]);
    s.set(
        "conteneur1_mountpoint_out",
        &["/srv/rocketchat/uploads", "rocketchat-config"],
    );
    s.set("conteneur2_name", &["wiki"]);
    s.set("conteneur2_url", &["localhost:5000/demo/wiki"]);
    s.set("conteneur2_port_in", &["80"]);
    s.set("conteneur2_port_out", &["8081"]);
}

#[test]
fn seed_example_set_then_get() {
    let s = Server::new();
    seed_example(&s);
    assert_eq!(s.get("conteneur1_name"), ["rocketchat"]);
    assert_eq!(
        s.get("conteneur1_mountpoint_in"),
        ["/app/uploads", "/app/config"]
    );
    assert_eq!(
        s.get("conteneur1_mountpoint_out"),
        ["/srv/rocketchat/uploads", "rocketchat-config"]
    );
    assert_eq!(s.get("conteneur2_port_out"), ["8081"]);
    // Defaults of the dynamic family.
    assert_eq!(s.get("conteneur2_type"), ["docker"]);
    assert_eq!(s.get("conteneur2_tag"), ["latest"]);
    assert_eq!(s.get("conteneur2_restart"), ["unless-stopped"]);
    // config.eol is EOLE's JSON: number as integer, slave per index, 0600.
    let text = std::fs::read_to_string(s.config_path()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["nombre_conteneur"]["val"], 2);
    assert_eq!(json["nombre_conteneur"]["owner"], "creoleset");
    assert_eq!(json["conteneur1_port_out"]["val"]["0"], "8080");
    assert_eq!(json["conteneur1_port_out"]["owner"]["0"], "creoleset");
    assert_eq!(json["conteneur1_mountpoint_in"]["val"][1], "/app/config");
    // Only values that differ from the default are stored.
    assert!(json.get("conteneur2_type").is_none());
    let mode = std::fs::metadata(s.config_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(s.root.path().join("etc/eole/config.eol.bak").exists());
    s.cmd(&["lint"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 error(s)"));
}

/// Each refused `set` prints why, exits 3 and leaves config.eol as it was,
/// byte for byte.
#[test]
fn bad_values_are_refused_and_change_nothing() {
    let s = Server::new();
    seed_example(&s);
    let before = std::fs::read(s.config_path()).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["set", "conteneur2_name", "rocketchat"],
            "already used by conteneur1_name",
        ),
        (
            &["set", "conteneur2_name", "Rocket Chat"],
            "container name is 1 to 63",
        ),
        (
            &["set", "conteneur2_name", "a;b}"],
            "container name is 1 to 63",
        ),
        (
            &["set", "conteneur2_port_out", "8080"],
            "already used by conteneur1_port_out",
        ),
        (
            &["set", "conteneur2_port_out", "80"],
            "differ from the value of 'conteneur_http_port'",
        ),
        (&["set", "conteneur2_port_out", "70000"], "port"),
        (
            &["set", "conteneur2_port_out", "1", "2"],
            "give exactly 1 value",
        ),
        (
            &["set", "conteneur2_type", "podman"],
            "not one of: docker, docker+git, lxc, snap, snapcraft, vagrant",
        ),
        (
            &["set", "conteneur1_mountpoint_in", "relative/path"],
            "absolute",
        ),
        (
            &["set", "conteneur1_mountpoint_out", "/srv/a b", "x"],
            "host folder",
        ),
        (&["set", "conteneur3_name", "x"], "nombre_conteneur' is 2"),
        (&["set", "conteneur_https_port", "8443"], "is disabled"),
        (&["set", "nombre_conteneur", "abc"], "whole number"),
        (
            &["set", "nombre_conteneur", "2", "3"],
            "takes a single value",
        ),
        (
            &["set", "nombre_conteneur", "-1"],
            "not between 0 and 10000",
        ),
        (
            &["set", "no_such_variable", "1"],
            "unknown variable 'no_such_variable'",
        ),
        (&["set", "conteneur_http_port", "http"], "port"),
        (&["set", "conteneur1_env", "NOT AN ENV"], "NAME=value"),
    ];
    for (args, expected) in cases {
        s.cmd(args).assert().code(3).stderr(
            predicate::str::contains(*expected)
                .and(predicate::str::contains("config.eol was not changed")),
        );
        assert_eq!(
            std::fs::read(s.config_path()).unwrap(),
            before,
            "{args:?} changed config.eol"
        );
    }
}

#[test]
fn default_unset_and_dynamic_count() {
    let s = Server::new();
    seed_example(&s);
    s.set("conteneur1_tag", &["7.0"]);
    s.cmd(&["set", "conteneur1_tag", "--default"])
        .assert()
        .success();
    assert_eq!(s.get("conteneur1_tag"), ["latest"]);
    // Raising the count makes the new instance appear with its defaults;
    // lowering it keeps the stored values of the hidden instance.
    s.set("nombre_conteneur", &["3"]);
    assert_eq!(s.get("conteneur3_name"), ["conteneur3"]);
    s.set("nombre_conteneur", &["1"]);
    s.cmd(&["get", "conteneur2_name"]).assert().code(1);
    s.set("nombre_conteneur", &["2"]);
    assert_eq!(s.get("conteneur2_name"), ["wiki"]);
    // Shrinking a master drops its slaves' extra indexes.
    s.set("conteneur1_mountpoint_in", &["/app/uploads"]);
    assert_eq!(
        s.get("conteneur1_mountpoint_out"),
        ["/srv/rocketchat/uploads"]
    );
    // An empty string empties a list.
    s.set("conteneur1_env", &["A=1", "B=two words"]);
    assert_eq!(s.get("conteneur1_env"), ["A=1", "B=two words"]);
    s.set("conteneur1_env", &[""]);
    assert_eq!(s.get("conteneur1_env"), [""]);
}

#[test]
fn get_default_list_and_json() {
    let s = Server::new();
    seed_example(&s);
    s.cmd(&["get", "nope", "fallback"])
        .assert()
        .success()
        .stdout("fallback\n");
    s.cmd(&["get", "conteneur_https_port", "443"])
        .assert()
        .success()
        .stdout("443\n");
    s.cmd(&["get", "nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unknown variable"));
    s.cmd(&["get", "--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("conteneur1_name=rocketchat\n"))
        .stdout(predicate::str::contains("conteneur1_port_in=['3000']\n"))
        .stdout(predicate::str::contains("conteneur_https_port=").not());
    let out = s.cmd(&["get", "--list", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["nombre_conteneur"], 2);
    assert_eq!(json["conteneur1_port_out"], serde_json::json!(["8080"]));
}

/// CreoleGet, CreoleSet and CreoleLint are the same binary under EOLE's names.
#[test]
fn eole_command_names_through_symlinks() {
    let s = Server::new();
    let bin = assert_cmd::cargo::cargo_bin("conteneur");
    let dir = tempfile::tempdir().unwrap();
    for name in ["CreoleGet", "CreoleSet", "CreoleLint"] {
        std::os::unix::fs::symlink(&bin, dir.path().join(name)).unwrap();
    }
    let run = |name: &str, args: &[&str]| {
        let mut c = Command::new(dir.path().join(name));
        c.env("CONTENEUR_ROOT", s.root.path())
            .arg("--dicos")
            .arg(common::our_dicos())
            .args(args);
        c
    };
    run("CreoleSet", &["nombre_conteneur", "1"])
        .assert()
        .success();
    run("CreoleSet", &["conteneur1_name", "demo"])
        .assert()
        .success();
    run("CreoleGet", &["conteneur1_name"])
        .assert()
        .success()
        .stdout("demo\n");
    run("CreoleGet", &["--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("nombre_conteneur=1"));
    run("CreoleSet", &["conteneur1_name", "Bad Name"])
        .assert()
        .code(3);
    // conteneur1_url is mandatory and still empty.
    run("CreoleLint", &[])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("conteneur1_url"));
}

#[test]
fn broken_dictionary_is_reported_with_its_position() {
    let s = Server::new();
    let dicos = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::our_dicos().join("10_conteneur.xml"),
        dicos.path().join("10_conteneur.xml"),
    )
    .unwrap();
    std::fs::create_dir(dicos.path().join("local")).unwrap();
    std::fs::write(
        dicos.path().join("local/20_site.xml"),
        "<creole>\n  <variables>\n    <family name='site'>\n      <variable name='x' type='ipv9'/>\n      <variable name='nombre_conteneur' type='number'/>\n    </family>\n  </variables>\n  <constraints>\n    <check name='valid_enum' target='ghost'><param>['a']</param></check>\n  </constraints>\n</creole>\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut c = Command::cargo_bin("conteneur").unwrap();
        c.arg("--root")
            .arg(s.root.path())
            .arg("--dicos")
            .arg(dicos.path())
            .args(args);
        c
    };
    let file = dicos.path().join("local/20_site.xml");
    let f = file.display().to_string();
    run(&["get", "nombre_conteneur"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(format!(
            "{f}:4:7: variable 'x': unknown type 'ipv9'"
        )))
        .stderr(predicate::str::contains(format!(
            "{f}:5:7: variable 'nombre_conteneur': declared twice"
        )))
        .stderr(predicate::str::contains(format!(
            "{f}:9:5: variable 'ghost'"
        )));
    run(&["lint"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Dictionaries:"));
    // A redefine in local/ (loaded after the packaged file) is fine.
    std::fs::write(
        &file,
        "<creole><variables><family name='conteneur'><variable name='conteneur_http_port' redefine='True'><value>8000</value></variable></family></variables></creole>",
    )
    .unwrap();
    run(&["get", "conteneur_http_port"])
        .assert()
        .success()
        .stdout("8000\n");
    // A malformed file names its line and column.
    std::fs::write(&file, "<creole>\n<variables>\n</creole>\n").unwrap();
    run(&["lint"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!("{f}:3:")));
}

/// The 15 dictionaries of eole-server 2.10 load together with the extra
/// namespace; every real config.eol answers `get --list`; lint lists only
/// the functions conteneur truly does not support (and the values a given
/// config lacks), never a dictionary error.
#[test]
fn eole_server_corpus_loads_with_every_config() {
    let c = corpus();
    let dicos = c.join("dicos/eole-server-2.10.0");
    assert_eq!(std::fs::read_dir(&dicos).unwrap().count(), 15);
    let root = tempfile::tempdir().unwrap();
    let run = |config: &std::path::Path, args: &[&str]| {
        let mut cmd = Command::cargo_bin("conteneur").unwrap();
        cmd.arg("--root")
            .arg(root.path())
            .arg("--dicos")
            .arg(&dicos)
            .arg("--extra")
            .arg(c.join("extra"));
        cmd.arg("--config").arg(config).args(args);
        cmd
    };
    let mut configs: Vec<_> = std::fs::read_dir(c.join("config-eol"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    configs.sort();
    assert!(configs.len() >= 12);
    for config in &configs {
        let out = run(config, &["get", "--list"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            config.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.lines().count() > 80, "{}", config.display());
        // Only the summary line of unsupported functions on stderr.
        for line in String::from_utf8_lossy(&out.stderr).lines() {
            assert!(
                line.contains("do not support") || line.contains("does not support"),
                "{}: {line}",
                config.display()
            );
        }
    }
    let jojo = c.join("config-eol/output_jojo_hapy2.eol");
    run(&jojo, &["get", "nom_machine"])
        .assert()
        .success()
        .stdout("hapy2\n");
    run(&jojo, &["get", "nom_domaine_machine"])
        .assert()
        .success()
        .stdout("hapy2.ac-test.fr\n");
    run(&jojo, &["get", "schedule.renew_lets_encrypt.mode"])
        .assert()
        .success()
        .stdout("post\n");
    let lint = run(&jojo, &["lint"]).output().unwrap();
    let text = String::from_utf8_lossy(&lint.stdout);
    assert!(!text.contains("Dictionaries:"), "{text}");
    assert!(text.contains("Not supported by conteneur:"), "{text}");
    for line in text.lines().filter(|l| l.starts_with("  error")) {
        assert!(
            line.contains("does not support")
                || line.contains("is mandatory")
                || line.contains("Python"),
            "unexpected lint line: {line}"
        );
    }
}

/// A set through conteneur keeps every other key, value and owner of a
/// real config.eol, unknown keys and ___version___ included.
#[test]
fn set_keeps_every_other_entry_of_a_real_config() {
    let c = corpus();
    let root = tempfile::tempdir().unwrap();
    for name in [
        "output_jojo_hapy2.eol",
        "dataset_lfikyoto_config1.eol",
        "amon-ac-reunion-config.eol",
    ] {
        let config = root.path().join(name);
        std::fs::copy(c.join("config-eol").join(name), &config).unwrap();
        let before: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
        Command::cargo_bin("conteneur")
            .unwrap()
            .arg("--root")
            .arg(root.path())
            .arg("--dicos")
            .arg(c.join("dicos/eole-server-2.10.0"))
            .arg("--config")
            .arg(&config)
            .args(["set", "vim_background", "light"])
            .assert()
            .success();
        let after: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
        for (k, v) in &before {
            if k != "vim_background" {
                assert_eq!(after.get(k), Some(v), "{name}: {k} changed");
            }
        }
        assert_eq!(after["vim_background"]["val"], "light");
        assert_eq!(after["vim_background"]["owner"], "creoleset");
        assert_eq!(
            after.len(),
            before.len() + usize::from(!before.contains_key("vim_background"))
        );
    }
}

#[test]
fn exit_codes_are_documented_in_help() {
    let s = Server::new();
    s.cmd(&["--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes:"));
    s.cmd(&["frobnicate"]).assert().code(2);
}

/// EOLE's official commented sample dictionary, on top of eole-server: a
/// family switched off by a variable of its own, a master/slave group.
#[test]
fn eole_sample_dictionary_behaves_as_documented() {
    let c = corpus();
    let local = tempfile::tempdir().unwrap();
    std::fs::copy(
        c.join("dicos/local-and-tests/XX_dico_exemple.xml"),
        local.path().join("XX_dico_exemple.xml"),
    )
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::cargo_bin("conteneur").unwrap();
        cmd.arg("--root").arg(root.path());
        cmd.arg("--dicos").arg(c.join("dicos/eole-server-2.10.0"));
        cmd.arg("--dicos").arg(local.path()).args(args);
        cmd
    };
    run(&["get", "chaine"])
        .assert()
        .success()
        .stdout("eolebase\n");
    run(&["set", "ma_master", "a", "b"]).assert().success();
    run(&["set", "ma_slave", "x", "y"]).assert().success();
    run(&["get", "ma_slave"])
        .assert()
        .success()
        .stdout("x\ny\n");
    run(&["set", "activer_demo", "non"]).assert().success();
    run(&["get", "activer_demo"])
        .assert()
        .success()
        .stdout("non\n");
    run(&["get", "chaine"]).assert().code(1).stderr(
        predicate::str::contains("disabled_if_in")
            .and(predicate::str::contains("'activer_demo' is 'non'")),
    );
}
