//! Every path conteneur touches, with EOLE's defaults, movable under a root.
//!
//! Tests and the demo run with `--root DIR`, so nothing they do reaches the
//! machine's real `/etc`. Paths given explicitly on the command line
//! (`--dicos`, `--config`, `--templates`) are taken as they are: an admin
//! who names a file means that file.

use std::path::{Path, PathBuf};

/// EOLE's own locations, relative to the root.
pub mod eole {
    pub const DICOS: &str = "usr/share/eole/creole/dicos";
    pub const EXTRA_DICOS: &str = "usr/share/eole/creole/extra";
    pub const TEMPLATES: &str = "usr/share/eole/creole/distrib";
    pub const CONFIG: &str = "etc/eole/config.eol";
    pub const EXTRA_CONFIG: &str = "etc/eole/extra";
    /// Present once `instance` has run, as on EOLE.
    pub const INSTANCE_MARKER: &str = "etc/eole/.instance";
    pub const HOOKS: &str = "usr/share/eole";
    pub const STATE: &str = "var/lib/conteneur";
}

#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    /// Main dictionary folders (each with its optional `variante/`, `local/`).
    pub dicos: Vec<PathBuf>,
    /// Folder of extra namespaces: one subfolder per namespace.
    pub extra_dicos: PathBuf,
    pub config: PathBuf,
    /// Holds `<ns>/config.eol` for each extra namespace.
    pub extra_config: PathBuf,
    pub templates: PathBuf,
    pub instance_marker: PathBuf,
    pub hooks: PathBuf,
    pub state: PathBuf,
}

impl Paths {
    /// EOLE's defaults under `root` (`/` on a real server).
    pub fn new(root: &Path) -> Paths {
        let r = |p: &str| root.join(p);
        Paths {
            root: root.to_path_buf(),
            dicos: vec![r(eole::DICOS)],
            extra_dicos: r(eole::EXTRA_DICOS),
            config: r(eole::CONFIG),
            extra_config: r(eole::EXTRA_CONFIG),
            templates: r(eole::TEMPLATES),
            instance_marker: r(eole::INSTANCE_MARKER),
            hooks: r(eole::HOOKS),
            state: r(eole::STATE),
        }
    }

    /// The value file of extra namespace `ns`.
    pub fn extra_config_for(&self, ns: &str) -> PathBuf {
        self.extra_config.join(ns).join("config.eol")
    }
}

impl Default for Paths {
    fn default() -> Self {
        Paths::new(Path::new("/"))
    }
}

/// This server's identity on the engine: its root folder, made absolute.
/// Containers of other roots sharing the engine are never touched.
pub fn server_id(paths: &Paths) -> String {
    std::fs::canonicalize(&paths.root)
        .unwrap_or_else(|_| paths.root.clone())
        .display()
        .to_string()
}
