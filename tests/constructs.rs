//! The constructs real EOLE modules use and the shared corpus lacks
//! (issue 19, parts 1 to 3), on the fixture `tests/data/constructs/`
//! (written from EOLE's documented semantics, see its README): what `get`
//! and `lint` say, with containers off and on, and where a file declared in
//! a container is rendered.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/constructs")
}

struct Server {
    root: tempfile::TempDir,
    config: PathBuf,
}

impl Server {
    fn new() -> Server {
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join("config.eol");
        std::fs::copy(fixture().join("config.eol"), &config).unwrap();
        Server { root, config }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("conteneur").unwrap();
        c.arg("--root").arg(self.root.path());
        c.arg("--dicos").arg(fixture().join("dicos"));
        c.arg("--templates").arg(fixture().join("distrib"));
        c.arg("--config").arg(&self.config).args(args);
        c.env_remove("CONTENEUR_ROOT");
        c
    }

    fn get(&self, var: &str) -> String {
        let out = self.cmd(&["get", var]).output().unwrap();
        assert!(
            out.status.success(),
            "get {var}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn get_err(&self, var: &str) -> String {
        let out = self.cmd(&["get", var]).output().unwrap();
        assert!(!out.status.success(), "get {var} should fail");
        String::from_utf8(out.stderr).unwrap()
    }

    fn list(&self) -> (serde_json::Map<String, serde_json::Value>, String) {
        let out = self.cmd(&["get", "--list", "--json"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            json.as_object().cloned().unwrap_or_default(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    fn lint(&self) -> String {
        let out = self.cmd(&["lint"]).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Containers off (`mode_conteneur_actif` = `non`, the default): every
/// container is the host, and every construct reads as EOLE documents it.
#[test]
fn constructs_read_with_containers_off() {
    let s = Server::new();
    // Part 1: Creole's generated container variables.
    assert_eq!(s.get("container_ip_fichier"), "127.0.0.1\n");
    assert_eq!(s.get("container_ip_smb"), "127.0.0.1\n");
    assert_eq!(s.get("container_name_annuaire"), "root\n");
    assert_eq!(s.get("container_path_fichier"), "\n");
    // The field case: an auto reading container_ip_fichier.
    assert_eq!(s.get("revprox_fichier"), "non\n");

    // Part 2: types, attributes and the functions conteneur computes.
    assert_eq!(s.get("activer_web"), "on\n");
    assert_eq!(s.get("web_ssl"), "yes\n");
    assert_eq!(s.get("courriel_admin"), "admin@ac-test.fr\n");
    assert_eq!(s.get("dossier_corbeille"), "perso/.corbeille\n");
    assert_eq!(s.get("dossier_eole"), "eole\n");
    assert_eq!(s.get("chemin_fichier_local"), "/etc/eole/local.conf\n");
    assert!(s.get_err("ancienne_option").contains("disabled"));
    assert_eq!(s.get("mdp_sauvegarde"), "S4vedOnceAndKept\n");
    assert_eq!(s.get("cle_session").trim_end().len(), 12);
    assert_eq!(s.get("nom_long_machine"), "scribe.ac-test.fr\n");
    assert_eq!(s.get("serveurs_dns"), "10.1.0.53\n10.1.0.54\n10.1.0.53\n");
    assert_eq!(s.get("premier_dns"), "10.1.0.53\n");
    assert_eq!(s.get("premier_dns_auto"), "10.1.0.53\n");
    assert_eq!(s.get("ad_domain"), "DOMPEDAGO\n");
    assert_eq!(s.get("ratio_quota"), "1.5\n");
    assert_eq!(s.get("nom_plage"), "admin\npedago\n");
    assert_eq!(s.get("domaine_messagerie"), "ac-test.fr\n");
    assert_eq!(s.get("option_avancee"), "a\n");
    // Functions conteneur cannot compute: the value the server stored
    // stands in for them; without one, the variable is unreadable and says
    // which function.
    assert_eq!(s.get("web_redirection"), "/webmail\n");
    assert_eq!(s.get("debit_carte_eth0"), "100\n");
    assert_eq!(s.get("eole_release"), "2.7.2\n");
    assert_eq!(s.get("activer_appli_maitre"), "oui\n");
    assert!(
        s.get_err("libelle_annuaire")
            .contains("calc_libelle_annuaire")
    );
    assert!(
        s.get_err("ip_machine_eth0")
            .contains("get_ips_from_interface")
    );

    // Part 3: the later valid_enum wins; remove_check; relative filenames.
    assert_eq!(s.get("mode_distant"), "local\n");
    assert_eq!(s.get("sgbd"), "mysql\n");
    assert_eq!(s.get("code_postal"), "2A004\n");
    // Mandatory variables Creole does not ask for: hidden ones, and those a
    // default disables (a valid_enum's first choice, nombre_interfaces=1,
    // disables the second interface's family).
    assert_eq!(s.get("nombre_interfaces"), "1\n");
    assert!(s.get_err("ip_ssh_eth1").contains("disabled"));
    assert!(s.get_err("nom_long_hosts").contains("disabled"));
    assert_eq!(s.get("bareos_sd_name"), "\n");

    // Every stored value reads back.
    let (list, stderr) = s.list();
    let stored: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("config.eol")).unwrap())
            .unwrap();
    for key in stored.keys().filter(|k| !k.starts_with("___")) {
        assert!(
            list.contains_key(key),
            "{key} missing from get --list:\n{stderr}"
        );
    }
    assert!(stderr.contains("libelle_annuaire"), "{stderr}");

    // lint: the unsupported functions, each naming its variable; nothing
    // else is wrong.
    let lint = s.lint();
    for (func, var) in [
        ("valid_name", "nom_partage"),
        ("check_file_size_limit", "logo_etab"),
        ("calc_webredirection", "web_redirection"),
        ("calc_libelle_annuaire", "libelle_annuaire"),
        ("convert_debit_carte", "debit_carte_eth0"),
        ("get_version", "eole_release"),
        ("get_ips_from_interface", "ip_machine_eth0"),
        ("activate_master_only_web_app", "activer_appli_maitre"),
    ] {
        assert!(
            lint.lines()
                .any(|l| l.contains(&format!("name='{func}'")) && l.contains(var)),
            "{func} / {var} not in:\n{lint}"
        );
    }
    for supported in [
        "valid_float",
        "valid_domaine",
        "check_name_uniq",
        "calc_container",
        "extract_ad_domain_from_realm",
        "calc_multi_val",
        "calc_val_first_value",
        "gen_random",
        "concat",
    ] {
        assert!(
            !lint.contains(&format!("name='{supported}'")),
            "{supported} reported:\n{lint}"
        );
    }
    let others: Vec<&str> = lint
        .split("Not supported by conteneur:")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("error:"))
        .collect();
    assert!(others.is_empty(), "{lint}");
    let values = lint.split("Values:").nth(1).unwrap_or_default();
    assert!(!values.contains("error:"), "{lint}");
    assert!(!lint.contains("is mandatory"), "{lint}");
    // With two interfaces, the second one's SSH network is asked for.
    s.cmd(&["set", "nombre_interfaces", "2"]).assert().success();
    assert!(
        s.lint()
            .lines()
            .any(|l| l.contains("'ip_ssh_eth1'") && l.contains("is mandatory")),
        "{}",
        s.lint()
    );
    s.cmd(&["set", "nombre_interfaces", "1"]).assert().success();

    // Files render on the host; the file of <all> is for containers only.
    s.cmd(&["render"]).assert().success();
    let root = s.root.path();
    let smb = std::fs::read_to_string(root.join("etc/samba/smb.conf")).unwrap();
    assert!(smb.contains("workgroup = DOMPEDAGO"), "{smb}");
    assert!(smb.contains("bind interfaces only = 127.0.0.1"), "{smb}");
    assert!(!root.join("etc/motd").exists());
    assert!(!root.join("var/lib/lxc").exists());
    assert!(root.join("etc/eole/local.conf").exists());
    // Declared first in <all> for containers only, then by the host: the
    // host's declaration renders it.
    let module = std::fs::read_to_string(root.join("etc/eole/module.conf")).unwrap();
    assert!(module.contains("web=on"), "{module}");
}

/// Checks conteneur now computes refuse what they should, with the check
/// named.
#[test]
fn new_checks_refuse_bad_values() {
    let s = Server::new();
    for (var, values, needle) in [
        ("ratio_quota", vec!["1,5"], "decimal"),
        ("domaine_messagerie", vec!["ac test.fr"], "domain"),
        ("nom_plage", vec!["admin", "admin"], "already given"),
        ("mode_distant", vec!["non"], "local, distant"),
        ("sgbd", vec!["postgres"], "mysql, sqlite3"),
    ] {
        let mut args = vec!["set", var];
        args.extend(values);
        let out = s.cmd(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "set {var}: {err}");
        assert!(err.contains(needle), "set {var}: {err}");
    }
    // A relative filename is a filename.
    s.cmd(&["set", "dossier_eole", "scripts/eole"])
        .assert()
        .success();
}

/// Containers on: LXC groups addressed by their id, and a file declared in
/// a container rendered under its path.
#[test]
fn containers_on_are_lxc_groups() {
    let s = Server::new();
    s.cmd(&["set", "mode_conteneur_actif", "oui"])
        .assert()
        .success();
    assert_eq!(s.get("container_ip_fichier"), "192.0.2.12\n");
    assert_eq!(s.get("container_ip_smb"), "192.0.2.12\n");
    assert_eq!(s.get("container_name_smb"), "fichier\n");
    assert_eq!(s.get("container_ip_annuaire"), "192.0.2.4\n");
    assert_eq!(
        s.get("container_path_fichier"),
        "/var/lib/lxc/fichier/rootfs\n"
    );
    assert_eq!(s.get("container_ip_root"), "127.0.0.1\n");
    assert_eq!(s.get("revprox_fichier"), "oui\n");
    // Generated variables are computed: set refuses them.
    s.cmd(&["set", "container_ip_fichier", "192.0.2.99"])
        .assert()
        .code(3);

    s.cmd(&["render"]).assert().success();
    let root = s.root.path();
    let smb = root.join("var/lib/lxc/fichier/rootfs/etc/samba/smb.conf");
    let text = std::fs::read_to_string(&smb).unwrap();
    assert!(text.contains("bind interfaces only = 192.0.2.12"), "{text}");
    assert!(!root.join("etc/samba/smb.conf").exists());
    // <all>: the host and every group.
    for dir in [
        "",
        "var/lib/lxc/fichier/rootfs",
        "var/lib/lxc/annuaire/rootfs",
    ] {
        let motd = root.join(dir).join("etc/motd");
        let text =
            std::fs::read_to_string(&motd).unwrap_or_else(|e| panic!("{}: {e}", motd.display()));
        assert_eq!(text, "Serveur scribe (fichier)\n");
    }
    // The host's own files stay on the host; a file of <all> goes in
    // every container too.
    assert!(root.join("etc/eole/module.conf").exists());
    assert!(
        root.join("var/lib/lxc/annuaire/rootfs/etc/eole/module.conf")
            .exists()
    );
}

/// Part 3 on the shared corpus: on every real server's config.eol (with
/// the real EOLE 2.10 dictionaries), lint finds no value error: Creole ran
/// `instance` with them, so one would be conteneur's mistake. (The three
/// other files of `config-eol/` are fragments of EOLE's migration tests,
/// 5 to 10 keys, for which Creole would ask the mandatory values too.)
#[test]
fn real_servers_have_no_value_error() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eole");
    for name in [
        "amon-ac-reunion-config.eol",
        "dataset_2.3_config-horus23.eol",
        "dataset_lfikyoto_config.eol",
        "dataset_lfikyoto_config1.eol",
        "dc-seth-1_config.eol",
        "output_barco_config.eol",
        "output_bbohard_hapy290.eol",
        "output_jojo_hapy2.eol",
        "tests_migration_enchainement_config_maj_262.eol",
    ] {
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join("config.eol");
        std::fs::copy(corpus.join("config-eol").join(name), &config).unwrap();
        let out = Command::cargo_bin("conteneur")
            .unwrap()
            .env_remove("CONTENEUR_ROOT")
            .arg("--root")
            .arg(root.path())
            .arg("--dicos")
            .arg(corpus.join("dicos/eole-server-2.10.0"))
            .arg("--config")
            .arg(&config)
            .arg("lint")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let values: Vec<&str> = text
            .split("Values:")
            .nth(1)
            .unwrap_or_default()
            .lines()
            .take_while(|l| l.starts_with("  "))
            .filter(|l| l.contains("error:"))
            .collect();
        assert!(values.is_empty(), "{name}:\n{}", values.join("\n"));
    }
}
