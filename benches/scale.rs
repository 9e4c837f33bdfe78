//! The configuration pipeline at scale (issue 6): how the work done before
//! any container is touched grows with the number of containers.
//!
//! Cases, each from files on disk to the rendered text, cold (a new
//! `Config` each iteration, as each `conteneur` process starts cold):
//! - `load`: `Config::load` (read + merge the XML, config.eol, expand the
//!   dynamic families);
//! - `load_resolve`: + `list()` (every active value);
//! - `load_resolve_render`: + `template::render_all` (our three templates:
//!   nginx site, variable file, launch plan). **Target: < 200 ms at 2000
//!   containers**;
//! - `prepare`: `Config::load` + `problems()` + `render_all`: exactly what
//!   `instance`/`reconfigure`/`export compose` compute before they talk to
//!   the engine (`run::prepare`).
//!
//! Data: the eole-server 2.10 corpus (its own Cheetah templates, which
//! conteneur reads and keeps, so its render is only the file list), and
//! benches/synth.rs's `containers(n)` for n = 50, 500, 2000 (each published
//! on one port, our templates). Criterion reports a time per iteration;
//! `Throughput::Elements(n)` adds containers per second, so linear growth
//! shows as a flat throughput.
//!
//! Run: `cargo bench --bench scale` (about two minutes); one group:
//! `cargo bench --bench scale -- containers`. Figures: BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

use conteneur::config::Config;
use conteneur::paths::Paths;
use conteneur::template::{self, Action};

mod synth;

/// The allocator the binary uses (src/main.rs), so the figures are its own.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn load(paths: &Paths) -> Config {
    Config::load(paths).expect("load")
}

fn load_resolve(paths: &Paths) -> usize {
    let cfg = load(paths);
    black_box(cfg.list()).len()
}

/// Bytes rendered, so nothing is optimised away. Every template is
/// rendered either way; the corpus's config.eol lacks the values only an
/// installed server has (machine probes such as get_net_device), so some
/// of EOLE's Cheetah templates fail there, as they would under Creole:
/// those count as their number of errors.
fn rendered_bytes(cfg: &Config, paths: &Paths) -> usize {
    match template::render_all(cfg, paths, None) {
        Ok(rendered) => rendered
            .iter()
            .map(|r| match &r.action {
                Action::Write(t) => t.len(),
                _ => 0,
            })
            .sum(),
        Err(errors) => errors.0.len(),
    }
}

fn load_resolve_render(paths: &Paths) -> usize {
    let cfg = load(paths);
    let n = black_box(cfg.list()).len();
    n + rendered_bytes(&cfg, paths)
}

fn prepare(paths: &Paths) -> usize {
    let cfg = load(paths);
    let p = black_box(cfg.problems()).len();
    p + rendered_bytes(&cfg, paths)
}

type Case = (&'static str, fn(&Paths) -> usize);

const CASES: [Case; 4] = [
    ("load", |p| {
        black_box(load(p)).dictionaries().variables.len()
    }),
    ("load_resolve", load_resolve),
    ("load_resolve_render", load_resolve_render),
    ("prepare", prepare),
];

fn corpus(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut paths = synth::corpus_paths(dir.path(), "output_jojo_hapy2.eol");
    paths.templates = synth::corpus_dir().join("distrib/eole-server-2.10.0");
    let cfg = load(&paths);
    eprintln!(
        "corpus: {} variables, {} bytes rendered",
        cfg.dictionaries().variables.len(),
        rendered_bytes(&cfg, &paths)
    );
    let mut g = c.benchmark_group("scale_corpus");
    g.measurement_time(Duration::from_secs(3));
    for (name, f) in CASES {
        g.bench_function(name, |b| b.iter(|| f(&paths)));
    }
    g.finish();
}

fn containers(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale_containers");
    g.sampling_mode(SamplingMode::Flat);
    // The 2000 case is skipped in `cargo test --all-targets` (criterion's
    // test mode runs each case once): it would add seconds to every test run.
    let sizes: &[usize] = if std::env::args().any(|a| a == "--test") {
        &[50, 500]
    } else {
        &[50, 500, 2000]
    };
    for &n in sizes {
        let set = synth::containers(n);
        let mut paths = set.paths();
        paths.templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let cfg = load(&paths);
        let problems = cfg.problems().len();
        assert_eq!(problems, 0, "the synthetic set is valid");
        eprintln!(
            "{n} containers: {} bytes rendered",
            rendered_bytes(&cfg, &paths)
        );
        g.throughput(Throughput::Elements(n as u64));
        g.sample_size(if n >= 2000 { 10 } else { 20 });
        g.measurement_time(Duration::from_secs(if n >= 2000 { 8 } else { 4 }));
        for (name, f) in CASES {
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| b.iter(|| f(&paths)));
        }
    }
    g.finish();
}

criterion_group!(benches, corpus, containers);
criterion_main!(benches);
