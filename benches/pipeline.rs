//! The whole pipeline, dictionaries on disk to checked values:
//! `Config::load` (read + merge the XML, read config.eol, expand dynamic
//! families), then `list()` (every active value: defaults, fills, autos,
//! conditions) and `problems()` (types, mandatory, checks).
//!
//! Groups (see BENCHMARKS.md for the figures and the targets):
//! - `corpus`: EOLE 2.10's 15 server dictionaries + the `schedule` extra
//!   namespace, with a real config.eol (output_jojo_hapy2.eol);
//! - `synthetic_200x50`: 200 generated dictionaries x 50 variables;
//! - `containers`: our dictionary with 50, 500 and 2000 containers.
//!
//! Run: `cargo bench --bench pipeline` (about two minutes);
//! one group: `cargo bench --bench pipeline -- containers`.
//! `cargo test --all-targets` runs each case once as a smoke test (criterion's
//! test mode), without the 2000-container case.

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

use conteneur::config::{Config, sources};
use conteneur::dico;
use conteneur::paths::Paths;

mod synth;

/// The allocator the binary uses (src/main.rs), so the figures are its own.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `Config::load` then every value and every problem, as `lint` does.
/// Returns (active variables, problems) so nothing is optimised away.
fn load_resolve_check(paths: &Paths) -> (usize, usize) {
    let cfg = Config::load(paths).expect("load");
    let listed = black_box(cfg.list()).len();
    let problems = black_box(cfg.problems()).len();
    (listed, problems)
}

/// `Config::load` then every value (what `get --list` computes).
fn load_resolve(paths: &Paths) -> usize {
    let cfg = Config::load(paths).expect("load");
    black_box(cfg.list()).len()
}

/// Says what is measured, once per group and only if one of its cases runs
/// (so that `cargo bench -- corpus` does not pay for the other groups).
fn describe(told: &Cell<bool>, what: &str, paths: &Paths) {
    if told.replace(true) {
        return;
    }
    let cfg = Config::load(paths).expect("load");
    let declared = cfg.dictionaries().variables.len();
    let list = cfg.list();
    let errors = list.iter().filter(|(_, v)| v.is_err()).count();
    let problems = cfg.problems();
    eprintln!(
        "{what}: {declared} variables ({} active, {errors} not computable), {} problems",
        list.len(),
        problems.len()
    );
}

/// Criterion's rule: without `--bench` (`cargo test --benches`) it runs
/// every case once as a test.
fn test_mode() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

fn corpus(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let paths = synth::corpus_paths(root.path(), "output_jojo_hapy2.eol");
    let srcs = sources(&paths);
    let base = Arc::new(dico::load(&srcs).expect("the corpus loads"));
    let told = Cell::new(false);
    let what = "corpus eole-server-2.10.0 + extra";

    let mut g = c.benchmark_group("corpus");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("dico_load", |b| {
        describe(&told, what, &paths);
        b.iter(|| dico::load(black_box(&srcs)).expect("dictionaries"))
    });
    g.bench_function("load_values", |b| {
        describe(&told, what, &paths);
        b.iter(|| Config::load_values(base.clone(), black_box(&paths)).expect("values"))
    });
    g.bench_function("load", |b| {
        describe(&told, what, &paths);
        b.iter(|| Config::load(black_box(&paths)).expect("load"))
    });
    g.bench_function("load_list", |b| {
        describe(&told, what, &paths);
        b.iter(|| load_resolve(black_box(&paths)))
    });
    g.bench_function("load_list_problems", |b| {
        describe(&told, what, &paths);
        b.iter(|| load_resolve_check(black_box(&paths)))
    });
    g.finish();
}

fn synthetic(c: &mut Criterion) {
    let set = synth::dicos(200, 50);
    let paths = set.paths();
    let told = Cell::new(false);
    let what = "synthetic 200x50";

    let mut g = c.benchmark_group("synthetic_200x50");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(set.vars as u64));
    g.bench_function("load", |b| {
        describe(&told, what, &paths);
        b.iter(|| Config::load(black_box(&paths)).expect("load"))
    });
    g.bench_function("load_list", |b| {
        describe(&told, what, &paths);
        b.iter(|| load_resolve(black_box(&paths)))
    });
    g.bench_function("load_list_problems", |b| {
        describe(&told, what, &paths);
        b.iter(|| load_resolve_check(black_box(&paths)))
    });
    g.finish();
}

fn containers(c: &mut Criterion) {
    let mut g = c.benchmark_group("containers");
    // Flat sampling: 10 runs (1.4 s each at n = 2000) rather than the 55 of
    // criterion's default linear sampling.
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let sizes: &[usize] = if test_mode() {
        &[50, 500]
    } else {
        &[50, 500, 2000]
    };
    for &n in sizes {
        let set = synth::containers(n);
        let paths = set.paths();
        let told = Cell::new(false);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("load_list_problems", n), &paths, |b, p| {
            if !told.get() {
                // The set must be what it claims: n containers.
                let cfg = Config::load(p).unwrap();
                assert_eq!(
                    cfg.get("nombre_conteneur").unwrap().to_string(),
                    n.to_string()
                );
                assert_eq!(cfg.dictionaries().variables.len(), set.vars);
                let last = cfg.get(&format!("conteneur{n}_port_out")).unwrap();
                assert_eq!(last.to_string(), format!("['{}']", 20000 + n));
            }
            describe(&told, &format!("containers {n}"), p);
            b.iter(|| load_resolve_check(black_box(p)))
        });
        // Without the checks, to tell which part grows faster than n.
        g.bench_with_input(BenchmarkId::new("load_list", n), &paths, |b, p| {
            b.iter(|| load_resolve(black_box(p)))
        });
    }
    g.finish();
}

criterion_group!(benches, corpus, synthetic, containers);
criterion_main!(benches);
