//! The reporter's rounds: take the state, send it to every target, say
//! what failed once per outage (not once per round) and when it is back.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use super::metrics::{self, RunOutcome};
use super::{Settings, Snapshot};
use crate::paths::Paths;

/// Hands the memory the round freed back to the system, once a round: the
/// allocator (mimalloc, `src/main.rs`) keeps freed pages for reuse, and
/// the reporter sleeps most of the time. Harmless when mimalloc is not the
/// global allocator (the library's tests): its own heap is then empty.
fn give_back() {
    // SAFETY: mi_collect takes no pointer and may be called at any time
    // from any thread; it only walks mimalloc's own heaps.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// What is down, and the message said when it went down.
#[derive(Debug, Default)]
pub struct Outages {
    said: BTreeMap<String, String>,
}

impl Outages {
    /// `what` failed with `message`: said when it was not already down.
    pub fn failed(&mut self, what: &str, message: &str, log: &mut dyn Write) {
        if !self.said.contains_key(what) {
            let _ = writeln!(
                log,
                "conteneur watch: {what}: {message} (said once; the reporter goes on and says when it is back)"
            );
        }
        self.said.insert(what.to_string(), message.to_string());
    }

    /// `what` worked: said when it was down.
    pub fn ok(&mut self, what: &str, log: &mut dyn Write) {
        if self.said.remove(what).is_some() {
            let _ = writeln!(log, "conteneur watch: {what}: back");
        }
    }

    /// What is down now.
    pub fn down(&self) -> impl Iterator<Item = &str> {
        self.said.keys().map(String::as_str)
    }
}

/// One round's outcome.
#[derive(Debug)]
pub struct Round {
    pub snapshot: Snapshot,
    pub settings: Settings,
    /// The Prometheus text of the round.
    pub text: String,
    /// Containers written to Redis, or why not (None: no Redis configured).
    pub redis: Option<Result<usize, super::redis::RedisError>>,
    /// The textfile written, or why not (None: no folder).
    pub textfile: Option<Result<(), String>>,
    pub success: bool,
}

/// The reporter: its rounds and what it remembers between them.
pub struct Watcher {
    paths: Paths,
    /// CPU seconds per container at the previous round, for the rate.
    previous: HashMap<(String, String), (f64, Instant)>,
    pub outages: Outages,
    /// The settings of the last configuration read (kept when it cannot
    /// be read).
    settings: Option<Settings>,
    /// The configuration and what it wants, kept while its files do not
    /// change.
    kept: Option<super::prepared::Prepared>,
    /// The engines' records of the containers, kept while nothing says
    /// they changed.
    records: super::records::Records,
}

impl Watcher {
    pub fn new(paths: &Paths) -> Watcher {
        Watcher {
            paths: paths.clone(),
            previous: HashMap::new(),
            outages: Outages::default(),
            settings: None,
            kept: None,
            records: super::records::Records::new(),
        }
    }

    /// Takes the engines' records a previous run kept in the state folder
    /// (`watch --once`, run by cron).
    pub fn load_records(&mut self) {
        self.records = super::records::Records::load(&self.paths.state);
    }

    /// Keeps the engines' records in the state folder for the next run.
    pub fn save_records(&self) -> std::io::Result<()> {
        self.records.save(&self.paths.state)
    }

    /// One round: state, then every target. Failures go to `log`, once per
    /// outage.
    pub async fn round(&mut self, log: &mut dyn Write) -> Round {
        let (mut snap, read) =
            super::collect_kept(&self.paths, &mut self.kept, &mut self.records).await;
        let settings = match read {
            Some(settings) => settings,
            None => self.settings.clone().unwrap_or_else(|| Settings {
                interval: Duration::from_secs(super::DEFAULT_INTERVAL),
                server: "localhost".into(),
                redis: None,
                textfile: None,
            }),
        };
        self.settings = Some(settings.clone());
        self.rates(&mut snap);
        match &snap.problem {
            Some(p) => self.outages.failed("state", p, log),
            None => self.outages.ok("state", log),
        }
        for (engine, down) in &snap.engines {
            let what = format!("engine {engine}");
            match down {
                // Only the engines the configuration uses are worth a word:
                // their containers are reported missing meanwhile.
                Some(e) if snap.containers.iter().any(|c| &c.engine == engine) => {
                    self.outages.failed(&what, e, log)
                }
                _ => self.outages.ok(&what, log),
            }
        }
        let redis = match &settings.redis {
            Some(target) => {
                let r = super::redis::push(target, &settings.server, &snap, settings.ttl()).await;
                match &r {
                    Ok(_) => self.outages.ok("redis", log),
                    Err(e) => self.outages.failed("redis", &e.to_string(), log),
                }
                Some(r)
            }
            None => None,
        };
        let success = snap.problem.is_none() && !matches!(redis, Some(Err(_)));
        let time = snap.time.unwrap_or_else(SystemTime::now);
        let text = match metrics::render(&snap, RunOutcome { time, success }) {
            Ok(t) => t,
            Err(e) => {
                self.outages.failed("metrics", &e.to_string(), log);
                String::new()
            }
        };
        let textfile = settings.textfile.as_ref().map(|dir| {
            let r = metrics::write_textfile(dir, &text);
            match &r {
                Ok(()) => self.outages.ok("textfile", log),
                Err(e) => self.outages.failed("textfile", e, log),
            }
            r
        });
        let success = success && !matches!(textfile, Some(Err(_)));
        crate::timing::mark("report: targets written");
        Round {
            snapshot: snap,
            settings,
            text,
            redis,
            textfile,
            success,
        }
    }

    /// CPU % of one core since the previous round, per container.
    fn rates(&mut self, snap: &mut Snapshot) {
        let now = Instant::now();
        let mut next = HashMap::new();
        for c in &mut snap.containers {
            let (Some(id), Some(cpu)) = (&c.id, c.cpu_seconds) else {
                continue;
            };
            let key = (c.engine.clone(), id.clone());
            if let Some((before, at)) = self.previous.get(&key) {
                let wall = now.duration_since(*at).as_secs_f64();
                if wall > 0.0 && cpu >= *before {
                    c.cpu_percent = Some((cpu - before) / wall * 100.0);
                }
            }
            next.insert(key, (cpu, now));
        }
        self.previous = next;
    }

    /// Rounds until the process is stopped, one every interval (read again
    /// at each round: a `set` of conteneur_report_interval applies at the
    /// next one).
    pub async fn run_forever(&mut self, log: &mut dyn Write) {
        let mut first = true;
        loop {
            let start = Instant::now();
            let round = self.round(log).await;
            if first {
                first = false;
                let s = &round.settings;
                let _ = writeln!(
                    log,
                    "conteneur watch: a round every {} s; redis: {}; textfile: {}",
                    s.interval.as_secs(),
                    s.redis.as_ref().map(|r| r.shown.as_str()).unwrap_or("none"),
                    s.textfile
                        .as_ref()
                        .map(|d| d.join(super::TEXTFILE).display().to_string())
                        .unwrap_or_else(|| "none".into())
                );
            }
            let _ = log.flush();
            let wait = round.settings.interval.saturating_sub(start.elapsed());
            drop(round);
            give_back();
            tokio::time::sleep(wait.max(Duration::from_millis(100))).await;
        }
    }
}
