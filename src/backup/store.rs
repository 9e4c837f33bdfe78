//! The archive folder: one file per backup, `NAME-YYYYMMDDTHHMMSSZ.tar.zst`,
//! written under a hidden temporary name and renamed once complete, so a
//! file of that form is always whole. Folder 0700, archives 0600.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The archives' extension.
pub const EXT: &str = ".tar.zst";
/// A temporary file's end (its name starts with a dot too).
pub const PARTIAL: &str = ".partial";

/// One archive found in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub path: PathBuf,
    pub container: String,
    /// `YYYYMMDDTHHMMSSZ`.
    pub stamp: String,
    pub size: u64,
}

/// The folder, made (0700) if missing, and set to 0700.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    crate::folders::create_dir_all(dir, crate::folders::PRIVATE)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// The current time as a stamp (UTC) and as RFC 3339.
pub fn now() -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    stamps(secs)
}

/// `YYYYMMDDTHHMMSSZ` and `YYYY-MM-DDTHH:MM:SSZ` of a Unix time.
pub fn stamps(secs: u64) -> (String, String) {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Howard Hinnant's days_from_civil, inverted.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    (
        format!("{y:04}{mo:02}{d:02}T{h:02}{m:02}{s:02}Z"),
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z"),
    )
}

/// A stamp as people read it: `2026-12-07 19:00:00Z`.
pub fn stamps_text(stamp: &str) -> String {
    let b = stamp.as_bytes();
    if stamp.len() != 16 || !stamp.is_ascii() {
        return stamp.to_string();
    }
    let _ = b;
    format!(
        "{}-{}-{} {}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    )
}

/// The archive's file name.
pub fn file_name(container: &str, stamp: &str) -> String {
    format!("{container}-{stamp}{EXT}")
}

/// Reads a file name written by [`file_name`].
pub fn parse_name(name: &str) -> Option<(String, String)> {
    let base = name.strip_suffix(EXT)?;
    let (container, stamp) = base.rsplit_once('-')?;
    let ok = stamp.len() == 16
        && stamp.ends_with('Z')
        && stamp.as_bytes()[8] == b'T'
        && stamp
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 8 || i == 15 || b.is_ascii_digit());
    (ok && !container.is_empty()).then(|| (container.to_string(), stamp.to_string()))
}

/// Every archive of the folder, oldest first per container (by name).
pub fn list(dir: &Path) -> io::Result<Vec<Stored>> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for e in rd {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((container, stamp)) = parse_name(&name) else {
            continue;
        };
        let meta = e.metadata()?;
        if !meta.is_file() {
            continue;
        }
        out.push(Stored {
            path: e.path(),
            container,
            stamp,
            size: meta.len(),
        });
    }
    out.sort_by(|a, b| (&a.container, &a.stamp).cmp(&(&b.container, &b.stamp)));
    Ok(out)
}

/// The newest archive of `container`.
pub fn latest(dir: &Path, container: &str) -> io::Result<Option<Stored>> {
    Ok(list(dir)?.into_iter().rfind(|s| s.container == container))
}

/// A new archive being written: a hidden file beside its final name,
/// removed unless [`Pending::commit`] renames it.
pub struct Pending {
    pub tmp: PathBuf,
    pub path: PathBuf,
    committed: bool,
}

impl Pending {
    pub fn create(dir: &Path, name: &str) -> io::Result<(Pending, File)> {
        let tmp = dir.join(format!(".{name}{PARTIAL}"));
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        Ok((
            Pending {
                tmp,
                path: dir.join(name),
                committed: false,
            },
            f,
        ))
    }

    /// Flushed to disk and renamed to its final name.
    pub fn commit(mut self, f: File) -> io::Result<PathBuf> {
        f.sync_all()?;
        drop(f);
        std::fs::rename(&self.tmp, &self.path)?;
        if let Some(dir) = self.path.parent()
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        self.committed = true;
        Ok(self.path.clone())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Deletes the oldest archives of `container` beyond the `kept` newest;
/// the ones deleted.
pub fn prune(dir: &Path, container: &str, kept: usize) -> io::Result<Vec<PathBuf>> {
    let mine: Vec<Stored> = list(dir)?
        .into_iter()
        .filter(|s| s.container == container)
        .collect();
    let excess = mine.len().saturating_sub(kept.max(1));
    let mut gone = Vec::new();
    for s in mine.into_iter().take(excess) {
        std::fs::remove_file(&s.path)?;
        gone.push(s.path);
    }
    Ok(gone)
}

/// A size for people: 1.2 MiB.
pub fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_dates() {
        assert_eq!(stamps(0).0, "19700101T000000Z");
        assert_eq!(stamps(951_782_400).1, "2000-02-29T00:00:00Z");
        assert_eq!(stamps(1_796_670_000).0, "20261207T190000Z");
    }

    #[test]
    fn names_round_trip_and_others_are_ignored() {
        let n = file_name("wp-db", "20261207T173000Z");
        assert_eq!(
            parse_name(&n),
            Some(("wp-db".into(), "20261207T173000Z".into()))
        );
        for bad in [
            "wp.tar.zst",
            "-20261207T173000Z.tar.zst",
            "db-2026120T173000Z.tar.zst",
            ".db-20261207T173000Z.tar.zst.partial",
            "db-20261207T173000Z.tar",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn retention_keeps_the_newest_and_never_others() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            let name = file_name("db", &format!("2026120{i}T000000Z"));
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::write(dir.path().join(file_name("web", "20260101T000000Z")), b"x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let gone = prune(dir.path(), "db", 2).unwrap();
        assert_eq!(gone.len(), 3);
        let left: Vec<String> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|s| s.stamp)
            .collect();
        assert_eq!(
            left,
            ["20261203T000000Z", "20261204T000000Z", "20260101T000000Z"]
        );
        assert!(dir.path().join("notes.txt").exists());
        assert_eq!(
            latest(dir.path(), "db").unwrap().unwrap().stamp,
            "20261204T000000Z"
        );
    }

    #[test]
    fn an_abandoned_archive_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (p, f) = Pending::create(dir.path(), "db-20261207T173000Z.tar.zst").unwrap();
        let mode = f.metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(f);
        drop(p);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
