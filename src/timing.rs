//! Where a run's time goes: with `CONTENEUR_TIMINGS=1` in the environment,
//! each [`mark`] prints the milliseconds since the process started its
//! first mark, and since the previous one, on stderr. For the benchmarks'
//! breakdowns (BENCHMARKS.md); silent otherwise, at the cost of one
//! environment lookup per process.

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

struct Clock {
    start: Instant,
    last: Mutex<Instant>,
}

fn clock() -> Option<&'static Clock> {
    static CLOCK: OnceLock<Option<Clock>> = OnceLock::new();
    CLOCK
        .get_or_init(|| {
            std::env::var_os("CONTENEUR_TIMINGS")
                .filter(|v| v != "0" && !v.is_empty())
                .map(|_| {
                    let now = Instant::now();
                    Clock {
                        start: now,
                        last: Mutex::new(now),
                    }
                })
        })
        .as_ref()
}

/// Says that `what` is done, when timings are asked for.
pub fn mark(what: &str) {
    let Some(c) = clock() else { return };
    let now = Instant::now();
    let since = match c.last.lock() {
        Ok(mut last) => {
            let d = now - *last;
            *last = now;
            d
        }
        Err(_) => return,
    };
    eprintln!(
        "timing: {:>7.1} ms (+{:>6.1} ms) {what}",
        (now - c.start).as_secs_f64() * 1000.0,
        since.as_secs_f64() * 1000.0
    );
}
