//! The engines' records of our containers ([`Backend::record`]: restart
//! count, bind mounts, addresses), kept between the rounds of `conteneur
//! watch`: 200 `inspect`s a round were most of the reporter's CPU, for
//! records that seldom change.
//!
//! A kept record is used again only while nothing says it changed. It is
//! asked again when its container is new; when its engine's log of events
//! names the container since the last round ([`Backend::changed`]: one
//! question per engine); when the engine cannot say (no such log, the
//! question failed, the log may have dropped some: every record of that
//! engine is asked); when the listing disagrees with it (running or not);
//! and every record at the first round and every [`FULL_EVERY`] after, so
//! that nothing the log missed lives on.
//!
//! `watch --once` (cron) keeps them in the state folder between its runs
//! ([`Records::load`], [`Records::save`]), under the same rules.
//!
//! [`Backend::record`]: crate::backend::Backend::record
//! [`Backend::changed`]: crate::backend::Backend::changed

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::backend::{Backends, Record};
use crate::plan::observed::{Kind, ObservedContainer};

/// Every record is asked again after this long.
pub const FULL_EVERY: Duration = Duration::from_secs(600);
/// The windows asked of the engines' logs overlap by this much: an event
/// stamped a little before the record was read is seen again.
pub const OVERLAP: Duration = Duration::from_secs(1);

/// The folder of the state folder where `watch --once` keeps the records
/// between its runs; the configuration's stamp
/// ([`super::prepared::Stamp`]) does not look in it.
pub const FOLDER: &str = "report";
const FILE: &str = "records.json";

/// The records as kept on disk.
#[derive(Serialize, Deserialize)]
struct Saved {
    as_of: Option<SystemTime>,
    full_at: Option<SystemTime>,
    records: Vec<(Kind, String, Record)>,
}

/// A container of an engine: (engine, full id).
pub type Key = (Kind, String);

/// The records kept from the previous rounds.
#[derive(Debug, Default)]
pub struct Records {
    kept: HashMap<Key, Record>,
    /// When the round that read or confirmed them began: they hold what
    /// the engines said then.
    as_of: Option<SystemTime>,
    /// When every record was last asked.
    full_at: Option<SystemTime>,
}

/// What the engines said changed since the records were kept: per engine
/// that could say, the full ids of its changed containers. An engine
/// absent could not say (every record of it is asked again); no engine at
/// all is a round that asks every record.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes(BTreeMap<Kind, BTreeSet<String>>);

impl Changes {
    /// `kind` could say: these of its containers changed.
    pub fn said(&mut self, kind: Kind, changed: BTreeSet<String>) {
        self.0.insert(kind, changed);
    }
}

impl std::fmt::Display for Changes {
    /// How many changed per engine that could say (`docker 2`), for the
    /// timings; `every record` when none could.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("every record");
        }
        let words: Vec<String> = self
            .0
            .iter()
            .map(|(k, ids)| format!("{} {}", k.name(), ids.len()))
            .collect();
        f.write_str(&words.join(", "))
    }
}

impl Records {
    pub fn new() -> Records {
        Records::default()
    }

    /// The window to ask the engines about for a round beginning at
    /// `now`: from the previous round (with [`OVERLAP`]) to `now`; None
    /// when every record must be asked (nothing kept, or the last time
    /// every record was asked is [`FULL_EVERY`] ago or more, or the clock
    /// went back), which counts as the full round from `now`.
    pub fn window(&mut self, now: SystemTime) -> Option<(SystemTime, SystemTime)> {
        let full_due = match self.full_at.map(|t| now.duration_since(t)) {
            Some(Ok(d)) => d >= FULL_EVERY,
            _ => true,
        };
        match self.as_of {
            Some(since) if !full_due && !self.kept.is_empty() && since <= now => {
                Some((since.checked_sub(OVERLAP).unwrap_or(since), now))
            }
            _ => {
                self.full_at = Some(now);
                None
            }
        }
    }

    /// The engines with kept records.
    fn engines(&self) -> BTreeSet<Kind> {
        self.kept.keys().map(|(k, _)| *k).collect()
    }

    /// Asks every engine with kept records what changed in the window of
    /// a round beginning at `now` ([`Self::window`]), all at once.
    pub async fn changes(&mut self, backends: &Backends, now: SystemTime) -> Changes {
        let mut changes = Changes::default();
        let Some((since, until)) = self.window(now) else {
            return changes;
        };
        let answers =
            futures_util::future::join_all(self.engines().into_iter().map(|k| async move {
                let b = backends.get(k)?;
                Some((k, b.changed(since, until).await.ok()?))
            }))
            .await;
        for (kind, changed) in answers.into_iter().flatten() {
            changes.said(kind, changed);
        }
        changes
    }

    /// The kept record of `o`, when nothing says it changed.
    pub fn current(&self, o: &ObservedContainer, changes: &Changes) -> Option<&Record> {
        let r = self.kept.get(&(o.backend, o.id.clone()))?;
        let changed = changes.0.get(&o.backend)?;
        if changed.contains(&o.id) || r.live.running != o.running || r.live.restarting {
            return None;
        }
        Some(r)
    }

    /// Keeps the records of a round that began at `now`: those of the
    /// containers it saw (a container gone is forgotten).
    pub fn keep(&mut self, records: HashMap<Key, Record>, now: SystemTime) {
        self.kept = records;
        self.as_of = Some(now);
    }

    /// Where [`Self::save`] keeps them under the state folder `state`.
    pub fn file(state: &Path) -> PathBuf {
        state.join(FOLDER).join(FILE)
    }

    /// The records a previous run kept under the state folder `state`;
    /// none when there are none or they cannot be read (every record is
    /// asked then).
    pub fn load(state: &Path) -> Records {
        let Ok(text) = std::fs::read(Self::file(state)) else {
            return Records::new();
        };
        match serde_json::from_slice::<Saved>(&text) {
            Ok(saved) => Records {
                kept: saved
                    .records
                    .into_iter()
                    .map(|(kind, id, r)| ((kind, id), r))
                    .collect(),
                as_of: saved.as_of,
                full_at: saved.full_at,
            },
            Err(_) => Records::new(),
        }
    }

    /// Keeps them under the state folder `state` for the next run (only
    /// root's: they name host folders).
    pub fn save(&self, state: &Path) -> std::io::Result<()> {
        let saved = Saved {
            as_of: self.as_of,
            full_at: self.full_at,
            records: self
                .kept
                .iter()
                .map(|((kind, id), r)| (*kind, id.clone(), r.clone()))
                .collect(),
        };
        let text = serde_json::to_vec(&saved).map_err(std::io::Error::other)?;
        let file = Self::file(state);
        if let Some(dir) = file.parent() {
            crate::folders::create_dir_all(dir, crate::folders::PRIVATE)?;
        }
        crate::atomic::write(&file, &text, 0o600)
    }

    /// How many records are kept.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Liveness;

    fn seen(id: &str, running: bool) -> ObservedContainer {
        ObservedContainer {
            backend: Kind::Docker,
            id: id.into(),
            name: format!("c-{id}"),
            labels: BTreeMap::new(),
            running,
            state: if running { "running" } else { "exited" }.into(),
            image: "localhost:5000/demo/web:1.0".into(),
            image_id: "sha256:1".into(),
        }
    }

    fn record(running: bool, restarts: u64) -> Record {
        Record {
            live: Liveness {
                running,
                restarts,
                ..Liveness::default()
            },
            ..Record::default()
        }
    }

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn kept(ids: &[&str]) -> HashMap<Key, Record> {
        ids.iter()
            .map(|id| ((Kind::Docker, id.to_string()), record(true, 0)))
            .collect()
    }

    fn docker_said(ids: &[&str]) -> Changes {
        let mut c = Changes::default();
        c.said(Kind::Docker, ids.iter().map(|i| i.to_string()).collect());
        c
    }

    #[test]
    fn a_kept_record_is_used_until_something_says_it_changed() {
        let mut r = Records::new();
        r.keep(kept(&["a", "b", "c"]), t(0));
        let quiet = docker_said(&[]);
        assert_eq!(r.current(&seen("a", true), &quiet), Some(&record(true, 0)));
        // Named by the engine's log (restarted, renamed, reconnected…).
        let log = docker_said(&["b"]);
        assert!(r.current(&seen("b", true), &log).is_none());
        assert!(r.current(&seen("a", true), &log).is_some());
        // New: never kept.
        assert!(r.current(&seen("d", true), &quiet).is_none());
        // The listing says it stopped, the record says it runs.
        assert!(r.current(&seen("c", false), &quiet).is_none());
        // The engine could not say (no log, the question failed, the log
        // may have dropped some): every record of it.
        let unknown = Changes::default();
        for id in ["a", "b", "c"] {
            assert!(r.current(&seen(id, true), &unknown).is_none());
        }
        // Another engine's word says nothing of Docker's containers.
        let mut lxc = Changes::default();
        lxc.said(Kind::Lxc, BTreeSet::new());
        assert!(r.current(&seen("a", true), &lxc).is_none());
    }

    #[test]
    fn records_kept_on_disk_are_the_same_records() {
        let state = tempfile::tempdir().unwrap();
        // Nothing kept yet, or a file that cannot be read: none.
        assert!(Records::load(state.path()).is_empty());
        let mut r = Records::new();
        assert_eq!(r.window(t(0)), None);
        let mut k = kept(&["a", "b"]);
        k.get_mut(&(Kind::Docker, "b".into())).unwrap().binds = Some(crate::backend::Binds {
            pid: 42,
            mounts: vec![("/srv/b".into(), "/data".into())],
        });
        r.keep(k.clone(), t(0));
        r.save(state.path()).unwrap();
        let mut back = Records::load(state.path());
        assert_eq!(back.kept, k);
        assert_eq!(back.window(t(15)), Some((t(0) - OVERLAP, t(15))));
        std::fs::write(Records::file(state.path()), "{").unwrap();
        assert!(Records::load(state.path()).is_empty());
    }

    #[test]
    fn a_restarting_container_is_always_asked_again() {
        let mut r = Records::new();
        let mut k = kept(&["a"]);
        k.get_mut(&(Kind::Docker, "a".into()))
            .unwrap()
            .live
            .restarting = true;
        r.keep(k, t(0));
        assert!(r.current(&seen("a", true), &docker_said(&[])).is_none());
    }

    #[test]
    fn a_round_forgets_the_containers_it_did_not_see() {
        let mut r = Records::new();
        r.keep(kept(&["a", "b"]), t(0));
        r.keep(kept(&["b"]), t(15));
        assert_eq!(r.len(), 1);
        assert!(r.current(&seen("a", true), &docker_said(&[])).is_none());
        assert!(r.current(&seen("b", true), &docker_said(&[])).is_some());
    }

    #[test]
    fn the_window_runs_from_the_last_round_and_every_record_is_asked_now_and_then() {
        let mut r = Records::new();
        // Nothing kept: every record (the first round, `watch --once`).
        assert_eq!(r.window(t(0)), None);
        r.keep(kept(&["a"]), t(0));
        // From the previous round's start, overlapping by a second.
        assert_eq!(r.window(t(15)), Some((t(0) - OVERLAP, t(15))));
        r.keep(kept(&["a"]), t(15));
        assert_eq!(r.window(t(30)), Some((t(15) - OVERLAP, t(30))));
        r.keep(kept(&["a"]), t(30));
        // FULL_EVERY after the full round: every record again, and the
        // next full round is FULL_EVERY after this one.
        let full = FULL_EVERY.as_secs();
        assert_eq!(r.window(t(full)), None);
        r.keep(kept(&["a"]), t(full));
        assert!(r.window(t(full + 15)).is_some());
        // The clock went back.
        r.keep(kept(&["a"]), t(full + 15));
        assert_eq!(r.window(t(full)), None);
        // A round that kept nothing.
        r.keep(HashMap::new(), t(full + 30));
        assert_eq!(r.window(t(full + 45)), None);
    }
}
