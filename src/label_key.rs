//! The key environment values are sealed with in the plan labels (see
//! [`crate::plan::redact`]): 32 random bytes in the state folder, mode
//! 0600, made by the first run. `plan` reads it and never writes it: on a
//! server that never ran, it plans with a fresh key, which is the one the
//! next run keeps if none appeared meanwhile. Losing the key only means
//! that every container is replaced once, at the next run. Its own module,
//! below `run`, because `export` reads the key too (the secret files and
//! swarm secrets are named with it).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::paths::Paths;
use crate::plan::redact::LabelKey;

/// Why the key cannot be read or saved: the file, and what went wrong.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}: {message}")]
pub struct KeyError {
    pub path: PathBuf,
    pub message: String,
}

/// Where the key is kept, in the state folder.
pub const FILE: &str = "label.key";

/// The key a run plans with, and whether it is already saved.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub key: LabelKey,
    saved: bool,
}

impl Loaded {
    /// Whether a run saved it (a fresh key names nothing that exists).
    pub fn saved(&self) -> bool {
        self.saved
    }
}

/// Where the key is kept.
pub fn path(paths: &Paths) -> PathBuf {
    paths.state.join(FILE)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> KeyError + '_ {
    move |e| KeyError {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn read(path: &Path) -> Result<LabelKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    LabelKey::from_hex(&text).ok_or_else(|| KeyError {
        path: path.to_path_buf(),
        message: "not a key of conteneur's (64 hexadecimal digits): remove it, and every \
                  container is replaced once at the next run"
            .into(),
    })
}

/// The saved key, or a fresh one (not saved yet).
pub fn load(paths: &Paths) -> Result<Loaded, KeyError> {
    let path = path(paths);
    if path.exists() {
        return Ok(Loaded {
            key: read(&path)?,
            saved: true,
        });
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| io(&path)(std::io::Error::other(e.to_string())))?;
    Ok(Loaded {
        key: LabelKey::new(bytes),
        saved: false,
    })
}

impl Loaded {
    /// Saves a fresh key (a temporary file, 0600, renamed only if no key
    /// is there yet). One that appeared since [`load`] means another key
    /// labels containers now: the plan made with this one is refused.
    pub fn store(&self, paths: &Paths) -> Result<(), KeyError> {
        if self.saved {
            return Ok(());
        }
        let path = path(paths);
        crate::folders::create_dir_all(&paths.state, crate::folders::PUBLIC).map_err(io(&path))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&paths.state).map_err(io(&path))?;
        tmp.write_all(self.key.to_hex().as_bytes())
            .map_err(io(&path))?;
        match tmp.persist_noclobber(&path) {
            Ok(_) => Ok(()),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                if read(&path)? == self.key {
                    Ok(())
                } else {
                    Err(KeyError {
                        path,
                        message: "the key of the labels appeared during this run: nothing was \
                                  changed; run again"
                            .into(),
                    })
                }
            }
            Err(e) => Err(io(&path)(e.error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn plan_reads_the_key_and_the_first_run_saves_it() {
        let t = tempfile::tempdir().unwrap();
        let paths = Paths::new(t.path());
        let fresh = load(&paths).unwrap();
        assert!(!path(&paths).exists(), "loading writes nothing");
        fresh.store(&paths).unwrap();
        let mode = std::fs::metadata(path(&paths))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load(&paths).unwrap();
        assert_eq!(again.key, fresh.key);
        again.store(&paths).unwrap();
        // Another fresh key cannot replace the saved one.
        let other = Loaded {
            key: LabelKey::new([9; 32]),
            saved: false,
        };
        assert!(other.store(&paths).is_err());
        assert_eq!(load(&paths).unwrap().key, fresh.key);
        std::fs::write(path(&paths), "nonsense").unwrap();
        assert!(load(&paths).is_err());
    }
}
