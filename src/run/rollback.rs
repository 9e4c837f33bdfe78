//! `conteneur rollback [N]` and `plan --release N`: a release's values
//! back into config.eol, then a reconfigure like any other (the same plan,
//! the same zero-downtime replace; no pull while the image is local, and
//! conteneur never removes an image).
//!
//! What is restored: every value the release recorded that the
//! dictionaries still know and that an admin may set (computed values
//! follow from the others). What is not: a password. The release holds
//! only its keyed hash, never its value: a password changed since (its
//! hash differs) is kept as it is now, and the command says so. Variables
//! the release did not record (new since, or disabled then) are left as
//! they are.
//!
//! Everything is checked before config.eol changes (the release, the
//! values, the templates, the engines, the plan), under the run lock and
//! config.eol's lock: a refusal changes nothing. config.eol is then saved
//! through the config module's path (atomic, its `.bak` kept).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use super::release::{self, Release};
use super::{Mode, Options, Prepared, RunError, RunLock, RunReport};
use crate::config::{Config, EolLock, SetError, ValueError};
use crate::dico::VarType;
use crate::paths::Paths;
use crate::plan::redact::LabelKey;

/// The owner a restored value is recorded with in config.eol.
pub const OWNER: &str = "rollback";

/// Why a rollback was refused. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error(
        "no release is kept yet (instance and reconfigure record one, under {dir}): nothing to roll back to; nothing was changed"
    )]
    NoRelease { dir: PathBuf },
    #[error(
        "only release {current} (the current one) is kept: nothing to roll back to (expected a release before it); nothing was changed"
    )]
    NothingBefore { current: u64 },
    #[error(
        "release {number} is not kept (expected one of {kept}; `conteneur releases` lists them); nothing was changed"
    )]
    Unknown { number: u64, kept: String },
    #[error(
        "{path}: release of format {found}, this conteneur reads format {expected} only; nothing was changed"
    )]
    OtherFormat {
        path: PathBuf,
        found: String,
        expected: u64,
    },
    #[error("{path}: not a release of conteneur's ({message}); nothing was changed")]
    Unreadable { path: PathBuf, message: String },
    #[error("release {number}: {error}; config.eol was not changed")]
    Value { number: u64, error: Box<SetError> },
    #[error(transparent)]
    Run(#[from] Box<RunError>),
}

impl From<RunError> for RollbackError {
    fn from(e: RunError) -> Self {
        RollbackError::Run(Box::new(e))
    }
}

impl From<crate::config::ConfigError> for RollbackError {
    fn from(e: crate::config::ConfigError) -> Self {
        RollbackError::Run(Box::new(RunError::Config(e)))
    }
}

impl From<crate::config::EolError> for RollbackError {
    fn from(e: crate::config::EolError) -> Self {
        RollbackError::Run(Box::new(RunError::Config(e.into())))
    }
}

/// What restoring a release's values did to the configuration (names
/// only, never a value).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The release whose values were restored.
    pub number: u64,
    /// The variables given back their value of the release.
    pub changed: Vec<String>,
    /// Passwords changed since the release: kept as they are now.
    pub secrets_kept: Vec<String>,
    /// Variables of the release the dictionaries no longer know.
    pub unknown: Vec<String>,
    /// Images whose tag names another image than the release ran:
    /// (`image:tag`, the release's id, the id now).
    pub images_moved: Vec<(String, String, String)>,
}

impl Restored {
    /// The lines the command prints before the plan.
    pub fn text(&self) -> String {
        let mut out = format!("rollback to release {}: ", self.number);
        if self.changed.is_empty() {
            out.push_str("config.eol already holds its values\n");
        } else {
            out.push_str(&format!("restores {}\n", self.changed.join(", ")));
        }
        for name in &self.secrets_kept {
            out.push_str(&format!(
                "rollback: password {name} changed since release {}: kept as it is now \
                 (a release never stores a password's value; set it by hand if the old one is wanted)\n",
                self.number
            ));
        }
        for (image, then, now) in &self.images_moved {
            out.push_str(&format!(
                "rollback: {image} is image {} on the engine now; release {} ran {}\n",
                crate::plan::observed::short_id(now),
                self.number,
                crate::plan::observed::short_id(then)
            ));
        }
        if !self.unknown.is_empty() {
            out.push_str(&format!(
                "rollback: not restored, the dictionaries no longer know: {}\n",
                self.unknown.join(", ")
            ));
        }
        out
    }
}

/// The release to roll back to: `number`, or the one before the newest.
pub fn pick(paths: &Paths, number: Option<u64>) -> Result<Release, RollbackError> {
    let kept = release::list(paths);
    let number = match number {
        Some(n) => n,
        None => match kept.as_slice() {
            [] => {
                return Err(RollbackError::NoRelease {
                    dir: release::dir(paths),
                });
            }
            [only] => {
                return Err(RollbackError::NothingBefore {
                    current: only.number,
                });
            }
            [.., before, _] => before.number,
        },
    };
    read(paths, number, &kept)
}

/// Release `number`, refused when it is not kept or of another format.
fn read(paths: &Paths, number: u64, kept: &[Release]) -> Result<Release, RollbackError> {
    let path = release::file(&release::dir(paths), number);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let list: Vec<String> = kept.iter().map(|r| r.number.to_string()).collect();
            return Err(RollbackError::Unknown {
                number,
                kept: if list.is_empty() {
                    "none: no release is kept yet".into()
                } else {
                    list.join(", ")
                },
            });
        }
        Err(e) => {
            return Err(RollbackError::Unreadable {
                path,
                message: e.to_string(),
            });
        }
    };
    let unreadable = |e: serde_json::Error| RollbackError::Unreadable {
        path: path.clone(),
        message: e.to_string(),
    };
    let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(unreadable)?;
    let format = json.get("format").cloned().unwrap_or(serde_json::json!(1));
    if format.as_u64() != Some(release::FORMAT) {
        return Err(RollbackError::OtherFormat {
            path,
            found: format.to_string(),
            expected: release::FORMAT,
        });
    }
    serde_json::from_value(json).map_err(unreadable)
}

/// A JSON value of a release as the values `set` takes.
fn lines_of(v: &serde_json::Value) -> Vec<String> {
    let item = |x: &serde_json::Value| match x {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match v {
        serde_json::Value::Array(items) => items.iter().map(item).collect(),
        other => vec![item(other)],
    }
}

/// Gives `cfg` (in memory) the values of `release`, except passwords.
/// Several passes: a master before its slaves, a counter before the
/// variables it enables, a check between two values once both are back.
pub fn restore(
    cfg: &mut Config,
    release: &Release,
    key: &LabelKey,
) -> Result<Restored, RollbackError> {
    let mut out = Restored {
        number: release.number,
        ..Restored::default()
    };
    let mut failing: BTreeMap<String, SetError> = BTreeMap::new();
    for _ in 0..16 {
        let mut progress = false;
        failing.clear();
        let names: Vec<String> = cfg.list().into_iter().map(|(n, _)| n.to_string()).collect();
        for name in names {
            let Some(want) = release.values.get(&name) else {
                continue;
            };
            let Ok(ty) = cfg.variable(&name).map(|v| v.ty) else {
                continue;
            };
            // Kept as a keyed hash only (a password, a URL with
            // credentials): never restored.
            if ty == VarType::Password || release::is_hidden(want) {
                continue;
            }
            // Disabled by a value restored earlier in this pass.
            let Ok(now) = cfg.get(&name) else {
                continue;
            };
            if now.to_json(ty) == *want {
                continue;
            }
            match cfg.set(&name, &lines_of(want), OWNER) {
                Ok(_) => {
                    progress = true;
                    if !out.changed.contains(&name) {
                        out.changed.push(name);
                    }
                }
                // Computed or frozen: follows from the others.
                Err(SetError::Computed { .. } | SetError::Frozen { .. }) => {}
                Err(SetError::Value(ValueError::Disabled { .. })) => {}
                // Its master, or a value it is checked against, may come
                // back later in this pass.
                Err(e) => {
                    failing.insert(name, e);
                }
            }
        }
        if !progress {
            break;
        }
    }
    if let Some((_, error)) = failing.into_iter().next() {
        return Err(RollbackError::Value {
            number: release.number,
            error: Box::new(error),
        });
    }
    out.unknown = release
        .values
        .keys()
        .filter(|n| cfg.variable(n).is_err())
        .cloned()
        .collect();
    // A password whose keyed hash differs from the release's is kept.
    let now = release::values(cfg, key);
    let passwords = |values: &BTreeMap<String, serde_json::Value>| -> Vec<String> {
        values
            .keys()
            .filter(|n| {
                cfg.variable(n).is_ok_and(|v| v.ty == VarType::Password)
                    || values.get(*n).is_some_and(release::is_hidden)
            })
            .cloned()
            .collect()
    };
    let mut names = passwords(&release.values);
    names.extend(passwords(&now));
    names.sort();
    names.dedup();
    out.secrets_kept = names
        .into_iter()
        .filter(|n| now.get(n) != release.values.get(n))
        .collect();
    Ok(out)
}

/// The images of the release whose tag names another image on the engine
/// now (rebuilt or pulled again since): said, not refused.
fn moved(release: &Release, prepared: &Prepared) -> Vec<(String, String, String)> {
    let now: BTreeMap<String, String> = prepared
        .observed
        .image_ids()
        .into_iter()
        .map(|((_, reference), id)| (reference, id))
        .collect();
    let mut out: Vec<_> = prepared
        .desired
        .iter()
        .map(|d| format!("{}:{}", d.image, d.tag))
        .filter_map(|r| {
            let then = release.images.get(&r)?;
            let id = now.get(&r)?;
            (id != then).then(|| (r, then.clone(), id.clone()))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `plan --release N`: the configuration a rollback to N would run, in
/// memory only, planned as a run plans it.
pub async fn plan(
    paths: &Paths,
    number: u64,
    opts: &Options,
) -> Result<(Restored, Prepared), RollbackError> {
    let release = read(paths, number, &release::list(paths))?;
    let mut cfg = Config::load(paths)?;
    let key = super::label_key::load(paths).map_err(RunError::from)?.key;
    let mut restored = restore(&mut cfg, &release, &key)?;
    let prepared = super::prepare_with(cfg, paths, opts).await?;
    restored.images_moved = moved(&release, &prepared);
    Ok((restored, prepared))
}

/// `conteneur rollback [N]`: checks everything, saves config.eol with the
/// release's values, then runs as `reconfigure` does. `log` receives what
/// was restored and the plan.
pub async fn rollback(
    paths: &Paths,
    number: Option<u64>,
    opts: &Options,
    log: &mut dyn Write,
) -> Result<(Restored, RunReport), RollbackError> {
    let _lock = RunLock::acquire(paths, "rollback")?;
    crate::timing::mark("run lock taken");
    if !paths.instance_marker.exists() {
        return Err(RunError::NotInstantiated.into());
    }
    let release = pick(paths, number)?;
    let eol_lock = EolLock::acquire(&paths.config, true)?;
    let mut cfg = Config::load(paths)?;
    let key = super::label_key::load(paths).map_err(RunError::from)?.key;
    let mut restored = restore(&mut cfg, &release, &key)?;
    let mut prepared = super::prepare_with(cfg, paths, opts).await?;
    restored.images_moved = moved(&release, &prepared);
    let _ = write!(log, "{}", restored.text());
    if prepared.cfg.is_dirty() {
        prepared.cfg.save(paths, Some(&eol_lock))?;
    }
    // The run saves config.eol again (generated values) under its own lock.
    drop(eol_lock);
    let report = super::execute(paths, Mode::Rollback(release.number), opts, prepared, log).await?;
    Ok((restored, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server with conteneur's own dictionaries, one container and one
    /// secret.
    fn server() -> (tempfile::TempDir, Paths) {
        let t = tempfile::tempdir().unwrap();
        let mut p = Paths::new(t.path());
        p.dicos = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dicos")];
        let mut cfg = Config::load(&p).unwrap();
        for (n, v) in [
            ("nombre_conteneur", "1"),
            ("conteneur1_name", "web"),
            ("conteneur1_url", "localhost:5000/demo/web"),
            ("conteneur1_tag", "1.0"),
            ("conteneur_secret_name", "token"),
            ("conteneur_secret_value", "first-secret"),
        ] {
            cfg.set(n, &[v.to_string()], "test").unwrap();
        }
        cfg.save(&p, None).unwrap();
        (t, p)
    }

    fn release_of(p: &Paths, key: &LabelKey) -> Release {
        let cfg = Config::load(p).unwrap();
        release::record(
            p,
            "reconfigure",
            release::values(&cfg, key),
            BTreeMap::new(),
            "f".into(),
            5,
            None,
        )
        .unwrap()
    }

    fn set(p: &Paths, name: &str, v: &str) {
        let mut cfg = Config::load(p).unwrap();
        cfg.set(name, &[v.to_string()], "test").unwrap();
        cfg.save(p, None).unwrap();
    }

    #[test]
    fn values_come_back_and_a_rotated_password_is_kept_and_named() {
        let (_t, p) = server();
        let key = LabelKey::default();
        let first = release_of(&p, &key);
        set(&p, "conteneur1_tag", "2.0");
        set(&p, "conteneur_secret_value", "second-secret");
        release_of(&p, &key);
        // The default: the one before the newest.
        assert_eq!(pick(&p, None).unwrap().number, first.number);
        let mut cfg = Config::load(&p).unwrap();
        let r = restore(&mut cfg, &first, &key).unwrap();
        assert_eq!(r.changed, ["conteneur1_tag"]);
        assert_eq!(r.secrets_kept, ["conteneur_secret_value"]);
        assert_eq!(cfg.first("conteneur1_tag").as_deref(), Some("1.0"));
        assert_eq!(
            cfg.first("conteneur_secret_value").as_deref(),
            Some("second-secret")
        );
        let text = r.text();
        assert!(text.contains("password conteneur_secret_value changed since release 1: kept"));
        assert!(!text.contains("secret-"), "{text}");
        // The same password: nothing said.
        set(&p, "conteneur_secret_value", "first-secret");
        let mut cfg = Config::load(&p).unwrap();
        assert!(
            restore(&mut cfg, &first, &key)
                .unwrap()
                .secrets_kept
                .is_empty()
        );
    }

    #[test]
    fn an_unknown_release_another_format_or_nothing_before_is_refused() {
        let (_t, p) = server();
        let e = pick(&p, None).unwrap_err().to_string();
        assert!(e.contains("no release is kept yet"), "{e}");
        let key = LabelKey::default();
        release_of(&p, &key);
        let e = pick(&p, None).unwrap_err().to_string();
        assert!(e.contains("only release 1 (the current one)"), "{e}");
        let e = pick(&p, Some(7)).unwrap_err().to_string();
        assert!(
            e.contains("release 7 is not kept (expected one of 1;"),
            "{e}"
        );
        release_of(&p, &key);
        let path = release::file(&release::dir(&p), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"format\": 1", "\"format\": 2")).unwrap();
        let e = pick(&p, None).unwrap_err().to_string();
        assert!(
            e.contains("release of format 2, this conteneur reads format 1"),
            "{e}"
        );
        // A file of the first releases (no format) is of format 1.
        std::fs::write(&path, text.replace("\"format\": 1,", "")).unwrap();
        assert_eq!(pick(&p, None).unwrap().number, 1);
    }

    /// Never remove an image a kept release uses: conteneur removes no
    /// image at all (docs/releases.md). A call that would, anywhere in the
    /// sources, fails this test (the patterns are spelled in pieces so
    /// that this file does not match itself).
    #[test]
    fn no_code_removes_an_image() {
        let patterns = [
            concat!("remove", "_image"),
            concat!("prune", "_images"),
            concat!("delete", "_image"),
            concat!("\"rm", "i\""),
            concat!("\"image\", ", "\"rm\""),
            concat!("image ", "prune"),
            concat!("skopeo ", "delete"),
        ];
        let mut found = Vec::new();
        let mut todo = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = todo.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = e.path();
                if path.is_dir() {
                    todo.push(path);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for p in patterns.iter().filter(|p| text.contains(*p)) {
                        found.push(format!("{}: {p}", path.display()));
                    }
                }
            }
        }
        assert!(found.is_empty(), "{found:?}");
    }
}
