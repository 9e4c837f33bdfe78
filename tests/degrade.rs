//! Issue 19, part 4: a module degrades per variable, never per module.
//! `tests/data/degrade/dicos/90_broken.xml` (see its README) holds one of
//! each inconsistency on top of the real eole-server 2.10 dictionaries and a
//! real config.eol: the binary reads everything else, refuses each broken
//! variable naming its cause, and `lint` lists each as a warning.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::corpus;

struct Module {
    root: tempfile::TempDir,
    dicos: tempfile::TempDir,
    config: PathBuf,
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/degrade/dicos/90_broken.xml")
}

impl Module {
    fn new() -> Module {
        let root = tempfile::tempdir().unwrap();
        let dicos = tempfile::tempdir().unwrap();
        let server = corpus().join("dicos/eole-server-2.10.0");
        for e in std::fs::read_dir(&server).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dicos.path().join(p.file_name().unwrap())).unwrap();
        }
        std::fs::copy(fixture(), dicos.path().join("90_broken.xml")).unwrap();
        // The real values, and one for a variable whose fill is broken.
        let mut eol: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(
            &std::fs::read(corpus().join("config-eol/output_jojo_hapy2.eol")).unwrap(),
        )
        .unwrap();
        eol.insert(
            "deg_stored".into(),
            serde_json::json!({"val": "kept", "owner": "gen_config"}),
        );
        let config = root.path().join("config.eol");
        std::fs::write(&config, serde_json::to_vec(&eol).unwrap()).unwrap();
        Module {
            root,
            dicos,
            config,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("conteneur").unwrap();
        c.arg("--root")
            .arg(self.root.path())
            .arg("--dicos")
            .arg(self.dicos.path())
            .arg("--extra")
            .arg(corpus().join("extra"))
            .arg("--config")
            .arg(&self.config)
            .args(args);
        c
    }

    /// `get VAR`: exit code, stdout, stderr.
    fn get(&self, var: &str) -> (i32, String, String) {
        let out = self.cmd(&["get", var]).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

#[test]
fn broken_declarations_leave_only_their_variables_unreadable() {
    let m = Module::new();
    let file = m.dicos.path().join("90_broken.xml").display().to_string();
    // Everything else reads as usual.
    for (var, value) in [
        ("nom_machine", "hapy2\n"),
        ("nom_domaine_machine", "hapy2.ac-test.fr\n"),
        ("deg_ok", "fine\n"),
        // Only the computed default is lost: the stored value reads.
        ("deg_stored", "kept\n"),
    ] {
        let (code, out, err) = m.get(var);
        assert_eq!((code, out.as_str()), (0, value), "get {var}: {err}");
    }
    // Each broken variable is refused, naming the cause and where it is.
    for (var, cause) in [
        ("deg_fill", "'ghost_var'".to_string()),
        ("deg_fill", format!("{file}:23:13")),
        ("deg_reader", "'ghost_var'".to_string()),
        (
            "deg_reader",
            "variable 'deg_reader' cannot be read".to_string(),
        ),
        ("deg_cond", "'ghost_source'".to_string()),
        ("deg_type", "'ipv9'".to_string()),
        ("deg_loop_a", "depends on itself".to_string()),
        ("deg_func", "'no_such_function'".to_string()),
        ("deg_number", "'one'".to_string()),
    ] {
        let (code, out, err) = m.get(var);
        assert_eq!(code, 1, "get {var}: {out}{err}");
        assert!(out.is_empty(), "get {var}: {out}");
        assert!(err.contains(&cause), "get {var}: {err} lacks {cause}");
    }
    // The nested family's variable is not there, as in Creole.
    let (code, _, err) = m.get("deg_lost");
    assert_eq!(code, 1);
    assert!(err.contains("unknown variable 'deg_lost'"), "{err}");

    // --list: everything else, the unreadable ones named on stderr.
    let out = m.cmd(&["get", "--list"]).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in ["nom_machine=hapy2", "deg_ok=fine", "deg_stored=kept"] {
        assert!(stdout.lines().any(|l| l == line), "{line}\n{stdout}");
    }
    assert!(stdout.lines().count() > 80, "{stdout}");
    for var in [
        "deg_fill",
        "deg_reader",
        "deg_cond",
        "deg_type",
        "deg_loop_a",
        "deg_number",
    ] {
        assert!(!stdout.contains(&format!("{var}=")), "{var}\n{stdout}");
        assert!(stderr.contains(&format!("'{var}'")), "{var}\n{stderr}");
    }
    assert!(stderr.contains("no_such_function"), "{stderr}");

    // lint: one warning per broken declaration, at its place, naming what
    // it leaves unreadable; none is an error.
    let out = m.cmd(&["lint"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for (line, needle) in [
        (
            23,
            "variable 'deg_fill': <fill name='calc_val' target='deg_fill'> reads 'ghost_var'",
        ),
        (29, "variable 'deg_stored'"),
        (31, "variable 'deg_cond'"),
        (10, "variable 'deg_type': unknown type 'ipv9'"),
        (35, "is circular: deg_loop_a -> deg_loop_b -> deg_loop_a"),
        (
            41,
            "variable 'deg_func': <fill name='no_such_function'>: conteneur does not support this function",
        ),
        (44, "variable 'deg_number'"),
        (15, "variable 'deg_nobody': redefine"),
        (16, "family 'deg_nested' is nested in family 'degrade'"),
    ] {
        let at = format!("warning: {file}:{line}:");
        assert!(
            text.lines().any(|l| l.contains(&at) && l.contains(needle)),
            "no '{at} ... {needle}' in:\n{text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.contains("'ghost_var'") && l.ends_with("deg_fill, deg_reader")),
        "{text}"
    );
    assert!(text.contains("(deg_lost)"), "{text}");
    for line in text.lines().filter(|l| l.starts_with("  error")) {
        assert!(
            !line.contains("deg_") && !line.contains("90_broken"),
            "a broken declaration is an error: {line}"
        );
    }
}

/// `set` works around a lost computed value, and refuses a variable that
/// cannot be read at all; every other variable is set as usual.
#[test]
fn set_in_a_module_with_broken_declarations() {
    let m = Module::new();
    m.cmd(&["set", "deg_ok", "other"]).assert().success();
    m.cmd(&["get", "deg_ok"])
        .assert()
        .success()
        .stdout("other\n");
    // Only deg_fill's computed default was lost: a value set by hand
    // reads, and so does what reads it.
    m.cmd(&["set", "deg_fill", "manual"]).assert().success();
    m.cmd(&["get", "deg_fill"])
        .assert()
        .success()
        .stdout("manual\n");
    m.cmd(&["get", "deg_reader"])
        .assert()
        .success()
        .stdout("manual\n");
    let before = std::fs::read(&m.config).unwrap();
    let out = m.cmd(&["set", "deg_type", "192.0.2.1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'ipv9'") && err.contains("not changed"),
        "{err}"
    );
    assert_eq!(std::fs::read(&m.config).unwrap(), before);
}

/// The only three fatal cases stop the load, naming file and line.
#[test]
fn only_unreadable_or_malformed_files_and_double_declarations_are_fatal() {
    let m = Module::new();
    let extra = m.dicos.path().join("95_twice.xml");
    std::fs::write(
        &extra,
        "<creole>\n<variables><family name='f'>\n<variable name='deg_ok'/>\n</family></variables></creole>\n",
    )
    .unwrap();
    let out = m.cmd(&["get", "nom_machine"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:3:1: variable 'deg_ok': declared twice",
            extra.display()
        )),
        "{err}"
    );
    std::fs::write(&extra, "<creole>\n<variables>\n</creole>\n").unwrap();
    let out = m.cmd(&["get", "nom_machine"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:3:", extra.display())) && err.contains("malformed XML"),
        "{err}"
    );
}
