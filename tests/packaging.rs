//! What the Debian package relies on, without building it (tests/package.sh
//! builds and installs the real .deb): the generated man pages and
//! completions, and `reconfigure --if-instantiated` for other packages'
//! maintainer scripts.

use std::path::Path;
use std::process::Command;

fn conteneur(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_conteneur"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("CONTENEUR_ROOT")
        .output()
        .expect("run conteneur")
}

fn generate(what: &str, dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_conteneur-generate"))
        .arg(what)
        .arg(dir)
        .output()
        .expect("run conteneur-generate")
}

#[test]
fn reconfigure_if_instantiated_does_nothing_on_a_fresh_server() {
    let root = tempfile::tempdir().expect("tempdir");
    let out = conteneur(root.path(), &["reconfigure", "--if-instantiated"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("never instantiated"), "{stdout}");
    // Nothing was written under the root.
    let entries: Vec<_> = std::fs::read_dir(root.path()).expect("read root").collect();
    assert!(entries.is_empty(), "{entries:?}");
}

#[test]
fn reconfigure_without_the_flag_still_refuses_a_fresh_server() {
    let root = tempfile::tempdir().expect("tempdir");
    let out = conteneur(root.path(), &["reconfigure"]);
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn instance_does_not_take_the_flag() {
    let root = tempfile::tempdir().expect("tempdir");
    let out = conteneur(root.path(), &["instance", "--if-instantiated"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
}

#[test]
fn man_pages_one_per_command_and_readable_by_man() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = generate("man", dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in [
        "conteneur.1",
        "conteneur-get.1",
        "conteneur-reconfigure.1",
        "conteneur-proxy-start.1",
    ] {
        assert!(dir.path().join(page).is_file(), "{page} missing");
    }
    let page =
        std::fs::read_to_string(dir.path().join("conteneur-reconfigure.1")).expect("read page");
    assert!(page.contains("\n.TH CONTENEUR-RECONFIGURE 1 "), "{page}");
    assert!(page.contains("if\\-instantiated"), "{page}");
    // Rendered by man itself when the machine has it.
    if Command::new("man").arg("--version").output().is_ok() {
        let shown = Command::new("man")
            .args(["-P", "cat", "-l"])
            .arg(dir.path().join("conteneur-reconfigure.1"))
            .env("MAN_DISABLE_SECCOMP", "1")
            .output()
            .expect("man -l");
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(text.contains("EXIT STATUS"), "{text}");
    }
}

#[test]
fn completions_for_conteneur_and_the_eole_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = generate("completions", dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, _) in conteneur::cli::EOLE_NAMES
        .iter()
        .chain([&("conteneur", "")])
    {
        for f in [
            format!("bash/{name}"),
            format!("zsh/_{name}"),
            format!("fish/{name}.fish"),
        ] {
            let p = dir.path().join(&f);
            assert!(
                p.metadata().is_ok_and(|m| m.len() > 0),
                "{f} missing or empty"
            );
        }
    }
    let bash = std::fs::read_to_string(dir.path().join("bash/conteneur")).expect("read");
    assert!(bash.contains("reconfigure"));
    for hidden in ["generate", "lxc-forward"] {
        assert!(!bash.contains(hidden), "{hidden} in the completions");
    }
}

/// Copies every file of `from` into `to` (made if missing).
fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().expect("name"))).expect("copy");
        }
    }
}

/// The EOLE schedule task of backups: the package ships its dictionary and
/// its script where EOLE looks for them (Cargo.toml's deb assets;
/// tests/package.sh checks the installed files), and the dictionary loads
/// with eole-server's 15 dictionaries, ours, and EOLE's own task
/// (renew_lets_encrypt) in the `schedule` namespace: daily before the
/// backup by default, never once conteneur_backup_schedule is non.
#[test]
fn the_backup_schedule_task_is_shipped_and_loads_with_the_eole_server_corpus() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::fs::read_to_string(here.join("Cargo.toml")).expect("Cargo.toml");
    let xml = "packaging/eole/schedule/conteneur_backup.xml";
    let script = "packaging/eole/schedule/conteneur_backup";
    for (src, dest, mode) in [
        (
            xml,
            "usr/share/eole/creole/extra/schedule/conteneur_backup.xml",
            "644",
        ),
        (
            script,
            "usr/share/eole/schedule/scripts/conteneur_backup",
            "755",
        ),
    ] {
        let line = format!("[\"{src}\", \"{dest}\", \"{mode}\"]");
        assert!(cargo.contains(&line), "Cargo.toml's deb assets lack {line}");
    }
    use std::os::unix::fs::PermissionsExt;
    let m = std::fs::metadata(here.join(script)).expect("script");
    assert_eq!(m.permissions().mode() & 0o777, 0o755);
    let sh = Command::new("sh")
        .arg("-n")
        .arg(here.join(script))
        .output()
        .expect("sh");
    assert!(
        sh.status.success(),
        "{}",
        String::from_utf8_lossy(&sh.stderr)
    );

    let root = tempfile::tempdir().expect("tempdir");
    let dicos = root.path().join("dicos");
    let extra = root.path().join("extra");
    copy_files(
        &here.join("tests/data/eole/dicos/eole-server-2.10.0"),
        &dicos,
    );
    std::fs::copy(
        here.join("dicos/10_conteneur.xml"),
        dicos.join("10_conteneur.xml"),
    )
    .expect("copy");
    copy_files(
        &here.join("tests/data/eole/extra/schedule"),
        &extra.join("schedule"),
    );
    std::fs::copy(here.join(xml), extra.join("schedule/conteneur_backup.xml")).expect("copy");
    let run = |args: &[&str]| {
        let mut all = vec![
            "--dicos".to_string(),
            dicos.display().to_string(),
            "--extra".to_string(),
            extra.display().to_string(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        conteneur(root.path(), &all)
    };
    let get = |var: &str| {
        let o = run(&["get", var]);
        assert!(
            o.status.success(),
            "get {var}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(get("schedule.conteneur_backup.day"), "daily");
    assert_eq!(get("schedule.conteneur_backup.mode"), "pre");
    assert_eq!(get("schedule.renew_lets_encrypt.mode"), "post");
    let lint = run(&["lint"]);
    let text = String::from_utf8_lossy(&lint.stdout);
    assert!(!text.contains("Dictionaries:"), "{text}");
    assert!(!text.contains("conteneur_backup"), "{text}");
    let o = run(&["set", "conteneur_backup_schedule", "non"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(get("schedule.conteneur_backup.day"), "none");
}
