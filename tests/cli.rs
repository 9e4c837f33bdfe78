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
            "not one of: docker, docker+git, lxc, snap, vm, snapcraft, vagrant",
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
    // Two declarations of one variable are fatal; an unknown type only
    // makes that variable unreadable (a lint warning).
    run(&["get", "nombre_conteneur"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(format!(
            "{f}:5:7: variable 'nombre_conteneur': declared twice"
        )))
        .stderr(predicate::str::contains("ipv9").not())
        // A check on a variable no dictionary declares is never built, as
        // in Creole: a lint warning, not a reason to refuse the rest.
        .stderr(predicate::str::contains("'ghost'").not());
    run(&["lint"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Dictionaries:"))
        .stdout(predicate::str::contains(format!(
            "warning: {f}:4:7: variable 'x': unknown type 'ipv9'"
        )))
        .stdout(predicate::str::contains(format!(
            "warning: {f}:9:5: variable 'ghost': <check name='valid_enum'> is ignored"
        )));
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

/// The fixture of a module's leftovers (tests/data/tolerated), on top of
/// the real EOLE 2.10 dictionaries, with the corpus's real config.eol and
/// the fixture's values merged into one file.
struct Leftovers {
    root: tempfile::TempDir,
    config: std::path::PathBuf,
    /// The stored keys, real and fixture.
    keys: Vec<String>,
}

impl Leftovers {
    fn fixture() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tolerated")
    }

    fn new() -> Leftovers {
        let read = |p: std::path::PathBuf| -> serde_json::Map<String, serde_json::Value> {
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
        };
        let mut all = read(corpus().join("config-eol/output_jojo_hapy2.eol"));
        all.extend(read(Self::fixture().join("config.eol")));
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join("config.eol");
        std::fs::write(&config, serde_json::to_string(&all).unwrap()).unwrap();
        let keys = all
            .keys()
            .filter(|k| !k.starts_with("___"))
            .cloned()
            .collect();
        Leftovers { root, config, keys }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("conteneur").unwrap();
        c.arg("--root").arg(self.root.path());
        c.arg("--dicos")
            .arg(corpus().join("dicos/eole-server-2.10.0"));
        c.arg("--dicos").arg(Self::fixture().join("dicos"));
        c.arg("--config").arg(&self.config).args(args);
        c.env_remove("CONTENEUR_ROOT");
        c
    }
}

/// A real module ships constraints about variables no dictionary declares
/// (a `<group>` whose master and slaves are gone): Creole loads it, so
/// conteneur does too. Every stored value of a declared, active variable
/// reads; lint lists each leftover as a warning with its file:line.
#[test]
fn a_module_with_leftovers_loads_and_lint_warns() {
    let l = Leftovers::new();
    let mut read = 0;
    for key in &l.keys {
        let out = l.cmd(&["get", key]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        // Keys of packages this corpus does not have, or switched off by
        // the real values, are not readable in Creole either.
        if err.contains("unknown variable") || err.contains("is disabled") {
            continue;
        }
        assert!(out.status.success(), "get {key}: {err}");
        read += 1;
    }
    assert!(read >= 20, "only {read} values read");
    l.cmd(&["get", "module_hote"])
        .assert()
        .success()
        .stdout("web.ac-test.fr\nsecure.ac-test.fr\n");
    l.cmd(&["get", "module_taille"])
        .assert()
        .success()
        .stdout("20\n");
    l.cmd(&["get", "nom_machine"])
        .assert()
        .success()
        .stdout("hapy2\n");
    // The slave kept of the half-gone group still follows its master.
    l.cmd(&["set", "module_port", "80"]).assert().success();
    l.cmd(&["get", "module_hote"])
        .assert()
        .success()
        .stdout("web.ac-test.fr\n");

    let out = l.cmd(&["lint"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let file = Leftovers::fixture().join("dicos/90_leftovers.xml");
    let at = |line: u32| format!("warning: {}:{line}:", file.display());
    for (line, needle) in [
        (23, "variable 'ancien_maitre': <group> is ignored"),
        (
            28,
            "variable 'ancien_esclave3': slave of group 'module_port' is ignored",
        ),
        (
            32,
            "variable 'ancien_rempli': <fill name='calc_val'> is ignored",
        ),
        (
            35,
            "variable 'ancien_auto': <auto name='calc_val'> is ignored",
        ),
        (
            38,
            "variable 'ancien_choix': <check name='valid_enum'> is ignored",
        ),
        (46, "the variable 'ancienne_cible', is ignored"),
        (47, "the family 'ancienne famille', is ignored"),
        (52, "the variable 'ancienne_cible2', is ignored"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains(&at(line)) && l.contains(needle)),
            "line {line}, {needle:?} not in:\n{text}"
        );
    }
    // No dictionary error at all: only the warnings above.
    let dico_section: String = text
        .split("Not supported by conteneur:")
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(!dico_section.contains("error:"), "{dico_section}");
}

/// `conteneur --dicos ours --dicos EXTRA`: our dictionaries plus a test's own.
fn with_extra_dico(s: &Server, xml: &str, args: &[&str]) -> Command {
    let dir = s.root.path().join("extra-dicos");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("99_test.xml"), xml).unwrap();
    let mut c = s.cmd(&[]);
    c.arg("--dicos").arg(&dir).args(args);
    c
}

/// A stored value that breaks its type is not printed: `get` fails naming
/// the variable, the value and the rule; with a DEFAULT too (the value is
/// there, just wrong). `get --list` names it on stderr and prints the rest.
#[test]
fn get_refuses_an_invalid_stored_value() {
    let s = Server::new();
    seed_example(&s);
    let text = std::fs::read_to_string(s.config_path()).unwrap();
    assert!(text.contains("\"8080\""), "{text}");
    std::fs::write(s.config_path(), text.replace("\"8080\"", "\"abc\"")).unwrap();
    for args in [
        &["get", "conteneur1_port_out"][..],
        &["get", "conteneur1_port_out", "8080"][..],
    ] {
        s.cmd(args).assert().code(1).stdout("").stderr(
            predicate::str::contains("variable 'conteneur1_port_out'")
                .and(predicate::str::contains("'abc'"))
                .and(predicate::str::contains("the type port")),
        );
    }
    s.cmd(&["get", "--list"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("conteneur1_name=rocketchat\n")
                .and(predicate::str::contains("conteneur1_port_out").not()),
        )
        .stderr(
            predicate::str::contains("variable 'conteneur1_port_out'")
                .and(predicate::str::contains("'abc'")),
        );
    s.cmd(&["get", "--list", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("conteneur1_port_out").not())
        .stderr(predicate::str::contains("'abc'"));
}

/// A dictionary default that breaks its type, and a check whose list does
/// not parse, make the value unreadable where it is read, not only in lint.
#[test]
fn get_refuses_an_invalid_default_and_an_unreadable_check() {
    let s = Server::new();
    let xml = "<creole><variables><family name='t'>
        <variable name='t_taille' type='number'><value>abc</value></variable>
        <variable name='t_choix'><value>a</value></variable>
        <variable name='t_vide'/>
        <variable name='t_bon' type='number'><value>3</value></variable>
      </family></variables><constraints>
        <check name='valid_enum' target='t_choix'><param>['a', 'b'</param></check>
        <check name='valid_enum' target='t_vide'><param>['a', 'b'</param></check>
      </constraints></creole>";
    with_extra_dico(&s, xml, &["get", "t_taille"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains("variable 't_taille'")
                .and(predicate::str::contains("'abc'"))
                .and(predicate::str::contains("the type number")),
        );
    for var in ["t_choix", "t_vide"] {
        with_extra_dico(&s, xml, &["get", var])
            .assert()
            .code(1)
            .stdout("")
            .stderr(
                predicate::str::contains(format!("variable '{var}' cannot be read"))
                    .and(predicate::str::contains("<check name='valid_enum'>"))
                    .and(predicate::str::contains("99_test.xml:"))
                    .and(predicate::str::contains("its list is not valid")),
            );
    }
    with_extra_dico(&s, xml, &["get", "t_bon"])
        .assert()
        .success()
        .stdout("3\n");
    with_extra_dico(&s, xml, &["get", "--list"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("t_bon=3\n").and(predicate::str::contains("t_taille").not()),
        )
        .stderr(
            predicate::str::contains("'t_taille'")
                .and(predicate::str::contains("'t_choix'"))
                .and(predicate::str::contains("'t_vide'")),
        );
}

/// Exit codes and `Failure` live below the commands that return them:
/// no module but the dispatcher imports from `crate::cli`.
#[test]
fn no_module_imports_exit_codes_from_the_cli() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            if rel == "cli.rs"
                || rel.starts_with("cli/")
                || rel == "main.rs"
                || rel.starts_with("bin/")
            {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            if text
                .lines()
                .any(|l| !l.trim_start().starts_with("//") && l.contains("crate::cli::"))
            {
                offenders.push(rel);
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "import from crate::cli: {offenders:?}"
    );
}
