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
