//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The real EOLE material: `shared/eole-corpus` beside the checkout (as in
/// CI), or `$EOLE_CORPUS_DIR`. Missing corpus fails the test, never skips it.
pub fn corpus() -> PathBuf {
    if let Some(dir) = std::env::var_os("EOLE_CORPUS_DIR") {
        return PathBuf::from(dir).join("..");
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared/eole-corpus"))
        .chain([PathBuf::from("/work/shared/eole-corpus")])
        .find(|p| p.is_dir())
        .expect("shared/eole-corpus not found beside the checkout (set EOLE_CORPUS)")
}

/// Our own dictionaries, as shipped.
pub fn our_dicos() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dicos")
}

/// The binary, under a fresh root, with our dictionaries.
pub struct Server {
    pub root: tempfile::TempDir,
}

impl Server {
    pub fn new() -> Server {
        Server {
            root: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.path().join("etc/eole/config.eol")
    }

    /// `conteneur --root ROOT --dicos dicos ARGS…`
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("conteneur").expect("binary");
        c.arg("--root").arg(self.root.path());
        c.arg("--dicos").arg(our_dicos());
        c.args(args);
        c.env_remove("CONTENEUR_ROOT");
        c
    }

    /// Runs `set` and asserts success.
    pub fn set(&self, var: &str, values: &[&str]) {
        let mut args = vec!["set", var];
        args.extend_from_slice(values);
        self.cmd(&args).assert().success();
    }

    /// `get VAR` output, lines.
    pub fn get(&self, var: &str) -> Vec<String> {
        let out = self.cmd(&["get", var]).output().expect("run");
        assert!(
            out.status.success(),
            "get {var}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}
