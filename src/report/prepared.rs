//! What a round reads from files: the configuration and what it renders
//! (the containers it wants). `conteneur watch` keeps it between rounds
//! while none of those files changed: reading and rendering 200 containers'
//! configuration is most of a round's CPU, every 15 s, for nothing.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::paths::Paths;
use crate::plan::launch::Launch;

/// How deep the folders are walked (dicos/variante/…, extra/NS/…).
const DEPTH: usize = 4;
/// At most this many files are looked at: past it, the round reads
/// everything again (a folder that big is not a configuration).
const MAX_FILES: usize = 10_000;

/// Every file a round's configuration is read from, with its inode, size
/// and change time; two equal stamps mean the same files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp(Vec<(PathBuf, Option<FileStamp>)>);

/// A file's inode, size and change time (seconds, nanoseconds).
type FileStamp = (u64, u64, i64, i64);

impl Stamp {
    /// The files of `paths`: config.eol and the extra namespaces' values,
    /// the dictionaries, the templates, the instance marker, and the state
    /// folder's own files (the last run's containers, the label key).
    /// None when there are too many to compare.
    pub fn of(paths: &Paths) -> Option<Stamp> {
        let mut out = Vec::new();
        let mut roots: Vec<&Path> = vec![
            &paths.config,
            &paths.extra_config,
            &paths.extra_dicos,
            &paths.templates,
            &paths.instance_marker,
        ];
        roots.extend(paths.dicos.iter().map(PathBuf::as_path));
        for r in roots {
            walk(r, DEPTH, &mut out)?;
        }
        walk(&paths.state, 1, &mut out)?;
        // The reporter's own files (`watch --once`'s records) change at
        // every round: not the configuration's.
        let own = paths.state.join(super::records::FOLDER);
        out.retain(|(p, _)| *p != own);
        Some(Stamp(out))
    }
}

fn walk(p: &Path, depth: usize, out: &mut Vec<(PathBuf, Option<FileStamp>)>) -> Option<()> {
    if out.len() >= MAX_FILES {
        return None;
    }
    let meta = std::fs::metadata(p).ok();
    out.push((
        p.to_path_buf(),
        meta.as_ref()
            .map(|m| (m.ino(), m.len(), m.mtime(), m.mtime_nsec())),
    ));
    if depth == 0 || !meta.is_some_and(|m| m.is_dir()) {
        return Some(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for e in entries {
        walk(&e, depth - 1, out)?;
    }
    Some(())
}

/// The configuration of a round and what it wants.
pub struct Prepared {
    pub(super) stamp: Option<Stamp>,
    pub cfg: Config,
    /// The containers it wants on the engines (under swarm, the plain
    /// Docker ones only: the services are reported apart).
    pub desired: Vec<Launch>,
    pub on_swarm: bool,
    /// Why it could not be rendered (then `desired` is the last run's).
    pub render_problem: Option<String>,
}

impl Prepared {
    /// Reads the configuration of `paths` and what it wants, as `status`
    /// does: if it cannot be rendered, what the last run wrote (and why).
    pub fn read(paths: &Paths) -> Result<Prepared, String> {
        let stamp = Stamp::of(paths);
        let cfg = Config::load(paths).map_err(|e| e.to_string())?;
        // The rendered files are not kept: the reporter does not compare
        // them with those on disk (`status` does).
        let (desired, render_problem) = match crate::plan::desired::desired(&cfg, paths) {
            Ok((_rendered, d)) => (d, None),
            Err(e) => (
                crate::plan::desired::read_launch(&crate::plan::desired::launch_path(paths))
                    .unwrap_or_default(),
                Some(e.to_string()),
            ),
        };
        let on_swarm = crate::run::swarm::is_swarm(&cfg);
        let desired = if on_swarm {
            crate::plan::swarm::split(desired).0
        } else {
            desired
        };
        Ok(Prepared {
            stamp,
            cfg,
            desired,
            on_swarm,
            render_problem,
        })
    }

    /// Whether it still is what the files of `paths` say.
    pub fn fresh(&self, paths: &Paths) -> bool {
        self.stamp.is_some() && self.stamp == Stamp::of(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_changes_the_stamp() {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::new(root.path());
        std::fs::create_dir_all(paths.config.parent().unwrap()).unwrap();
        std::fs::create_dir_all(&paths.dicos[0]).unwrap();
        std::fs::write(&paths.config, "{}").unwrap();
        std::fs::write(paths.dicos[0].join("a.xml"), "<creole/>").unwrap();
        let before = Stamp::of(&paths).unwrap();
        assert_eq!(Stamp::of(&paths).unwrap(), before);
        // Same size, written anew (as `set` does: a new file renamed in).
        let tmp = paths.config.with_extension("new");
        std::fs::write(&tmp, "[]").unwrap();
        std::fs::rename(&tmp, &paths.config).unwrap();
        let after = Stamp::of(&paths).unwrap();
        assert_ne!(after, before);
        // A dictionary added.
        std::fs::write(paths.dicos[0].join("b.xml"), "<creole/>").unwrap();
        assert_ne!(Stamp::of(&paths).unwrap(), after);
    }
}
