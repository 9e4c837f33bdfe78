//! Releases: what each successful `instance` or `reconfigure` put in
//! place, kept under `var/lib/conteneur/releases/` (a folder root's alone,
//! 0700: it holds config.eol's values, as config.eol does), one JSON file
//! per release written atomically: its number, the time, who ran it (uid
//! and `SUDO_USER`), config.eol's values (a password only as a keyed hash,
//! never its value), the image id of every container and a hash of the
//! rendered files. The last `conteneur_releases_kept` (5) are kept.
//! `conteneur releases` lists them with what changed from one to the next,
//! by variable name only.

use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::dico::VarType;
use crate::paths::Paths;
use crate::plan::redact::LabelKey;

/// How many releases are kept when `conteneur_releases_kept` is unset.
pub const DEFAULT_KEPT: u64 = 5;

/// The format of the release files this conteneur writes, and the only one
/// `rollback` reads (a file without one is of the first format).
pub const FORMAT: u64 = 1;

fn first_format() -> u64 {
    1
}

/// One release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    #[serde(default = "first_format")]
    pub format: u64,
    pub number: u64,
    /// RFC 3339, UTC.
    pub time: String,
    /// instance, reconfigure or rollback (then `rolled_back_to` names the
    /// release whose values it restored).
    pub command: String,
    pub uid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo_user: Option<String>,
    /// config.eol's values as the run read them (passwords sealed).
    pub values: BTreeMap<String, serde_json::Value>,
    /// `image:tag` → engine image id.
    pub images: BTreeMap<String, String>,
    /// SHA-256 of the rendered files (destination and content).
    pub files: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_to: Option<u64>,
}

/// The releases folder.
pub fn dir(paths: &Paths) -> PathBuf {
    paths.state.join("releases")
}

/// The file of release `number` in the releases folder `dir`.
pub fn file(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.json"))
}

/// Every kept release, oldest first (an unreadable file is skipped).
pub fn list(paths: &Paths) -> Vec<Release> {
    let mut out: Vec<Release> = std::fs::read_dir(dir(paths))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    out.sort_by_key(|r: &Release| r.number);
    out
}

/// config.eol's values, each password sealed with `key`.
/// A value [`values`] keeps as keyed hashes only (a password, a URL
/// with credentials): never restored, only compared.
pub fn is_hidden(value: &serde_json::Value) -> bool {
    value.as_array().is_some_and(|a| {
        !a.is_empty()
            && a.iter()
                .all(|v| v.as_str().is_some_and(crate::plan::redact::is_sealed))
    })
}

pub fn values(cfg: &Config, key: &LabelKey) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for (name, value) in cfg.list() {
        let (Ok(value), Ok(var)) = (value, cfg.variable(name)) else {
            continue;
        };
        let lines = value.to_lines();
        // A password, or a URL with credentials in it (a docker+git
        // repository's token): kept as a keyed hash only, never in clear.
        let hidden = var.ty == VarType::Password
            || lines.iter().any(|l| crate::userinfo::split(l).1.is_some());
        let json = if hidden {
            serde_json::Value::Array(
                lines
                    .iter()
                    .map(|v| serde_json::Value::String(key.seal(v)))
                    .collect(),
            )
        } else {
            value.to_json(var.ty)
        };
        out.insert(name.to_string(), json);
    }
    out
}

/// The hash of the rendered files.
pub fn files_hash(rendered: &[crate::template::Rendered]) -> String {
    let mut h = Sha256::new();
    for r in rendered {
        if let crate::template::Action::Write(text) = &r.action {
            h.update(r.dest.display().to_string().as_bytes());
            h.update([0]);
            h.update(text.as_bytes());
            h.update([0]);
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Records a release after a successful run, and keeps the last `kept`.
pub fn record(
    paths: &Paths,
    command: &str,
    values: BTreeMap<String, serde_json::Value>,
    images: BTreeMap<String, String>,
    files: String,
    kept: u64,
    rolled_back_to: Option<u64>,
) -> std::io::Result<Release> {
    let dir = dir(paths);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let all = list(paths);
    let release = Release {
        format: FORMAT,
        number: all.last().map_or(1, |r| r.number + 1),
        time: crate::audit::rfc3339(std::time::SystemTime::now()),
        command: command.to_string(),
        uid: nix::unistd::getuid().as_raw(),
        sudo_user: std::env::var("SUDO_USER").ok().filter(|u| !u.is_empty()),
        values,
        images,
        files,
        rolled_back_to,
    };
    let text = serde_json::to_vec_pretty(&release).map_err(std::io::Error::other)?;
    crate::backend::write_atomic(&file(&dir, release.number), &text)?;
    let keep = kept.max(1) as usize;
    let total = all.len() + 1;
    for old in all.iter().take(total.saturating_sub(keep)) {
        let _ = std::fs::remove_file(file(&dir, old.number));
    }
    Ok(release)
}

/// What changed from `prev` to `cur`: variable names (never a value) and
/// images.
pub fn changes(prev: Option<&Release>, cur: &Release) -> Vec<String> {
    let Some(prev) = prev else {
        return vec!["first release kept".into()];
    };
    let mut out = Vec::new();
    for (name, v) in &cur.values {
        match prev.values.get(name) {
            None => out.push(format!("{name} set")),
            Some(p) if p != v => out.push(format!("{name} changed")),
            Some(_) => {}
        }
    }
    for name in prev.values.keys() {
        if !cur.values.contains_key(name) {
            out.push(format!("{name} unset"));
        }
    }
    for (image, id) in &cur.images {
        if prev.images.get(image) != Some(id) {
            out.push(format!(
                "image {image} {}",
                crate::plan::observed::short_id(id)
            ));
        }
    }
    if out.is_empty() && prev.files != cur.files {
        out.push("rendered files changed".into());
    }
    if out.is_empty() {
        out.push("no change".into());
    }
    out
}

/// `conteneur releases`: one line per kept release.
pub fn text(releases: &[Release]) -> String {
    let mut out = String::new();
    let mut prev = None;
    for r in releases {
        let who = match &r.sudo_user {
            Some(u) => format!("uid {} (sudo {u})", r.uid),
            None => format!("uid {}", r.uid),
        };
        let to = match r.rolled_back_to {
            Some(n) => format!("to release {n}: "),
            None => String::new(),
        };
        out.push_str(&format!(
            "{:>4}  {}  {:<11} {}  {to}{}\n",
            r.number,
            r.time,
            r.command,
            who,
            changes(prev, r).join(", ")
        ));
        prev = Some(r);
    }
    if releases.is_empty() {
        out.push_str("no release kept yet (instance or reconfigure records one)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> (tempfile::TempDir, Paths) {
        let t = tempfile::tempdir().unwrap();
        let p = Paths::new(t.path());
        (t, p)
    }

    fn values(tag: &str, pw: &str) -> BTreeMap<String, serde_json::Value> {
        let key = LabelKey::default();
        [
            ("conteneur1_tag".to_string(), serde_json::json!(tag)),
            (
                "conteneur_secret_value".to_string(),
                serde_json::json!([key.seal(pw)]),
            ),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn releases_are_numbered_kept_and_listed_by_name_only() {
        let (_t, p) = paths();
        let img = |id: &str| BTreeMap::from([("web:1".to_string(), id.to_string())]);
        for (i, (tag, pw)) in [("1.0", "s1"), ("2.0", "s1"), ("2.0", "s2"), ("3.0", "s2")]
            .iter()
            .enumerate()
        {
            let r = record(
                &p,
                "reconfigure",
                values(tag, pw),
                img("sha256:aa"),
                "f".into(),
                3,
                None,
            )
            .unwrap();
            assert_eq!(r.number, i as u64 + 1);
        }
        let all = list(&p);
        assert_eq!(all.iter().map(|r| r.number).collect::<Vec<_>>(), [2, 3, 4]);
        let text = text(&all);
        assert!(text.contains("conteneur_secret_value changed"), "{text}");
        assert!(text.contains("conteneur1_tag changed"), "{text}");
        assert!(!text.contains("s1") && !text.contains("s2"), "{text}");
        // The folder is root's alone; no value in clear for a password.
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir(&p)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o700);
        let raw = std::fs::read_to_string(file(&dir(&p), 4)).unwrap();
        assert!(!raw.contains("\"s2\""), "{raw}");
    }
}
