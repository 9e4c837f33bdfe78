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

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use conteneur::config::{Config, sources};
use conteneur::dico;
use conteneur::paths::Paths;

mod synth;

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

/// Says once what is measured, so the figures can be read.
fn describe(what: &str, paths: &Paths) {
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

fn corpus(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let paths = synth::corpus_paths(root.path(), "output_jojo_hapy2.eol");
    describe("corpus eole-server-2.10.0 + extra", &paths);
    let srcs = sources(&paths);

    let mut g = c.benchmark_group("corpus");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("dico_load", |b| {
        b.iter(|| dico::load(black_box(&srcs)).expect("dictionaries"))
    });
    let base = Arc::new(dico::load(&srcs).unwrap());
    g.bench_function("load_values", |b| {
        b.iter(|| Config::load_values(base.clone(), black_box(&paths)).expect("values"))
    });
    g.bench_function("load", |b| {
        b.iter(|| Config::load(black_box(&paths)).expect("load"))
    });
    g.bench_function("load_list", |b| b.iter(|| load_resolve(black_box(&paths))));
    g.bench_function("load_list_problems", |b| {
        b.iter(|| load_resolve_check(black_box(&paths)))
    });
    g.finish();
}

fn synthetic(c: &mut Criterion) {
    let set = synth::dicos(200, 50);
    let paths = set.paths();
    describe("synthetic 200x50", &paths);

    let mut g = c.benchmark_group("synthetic_200x50");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(set.vars as u64));
    g.bench_function("load", |b| {
        b.iter(|| Config::load(black_box(&paths)).expect("load"))
    });
    g.bench_function("load_list", |b| b.iter(|| load_resolve(black_box(&paths))));
    g.bench_function("load_list_problems", |b| {
        b.iter(|| load_resolve_check(black_box(&paths)))
    });
    g.finish();
}

fn containers(c: &mut Criterion) {
    let mut g = c.benchmark_group("containers");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for n in [50, 500, 2000] {
        let set = synth::containers(n);
        let paths = set.paths();
        describe(&format!("containers {n}"), &paths);
        {
            // The set must be what it claims: n containers, all valid.
            let cfg = Config::load(&paths).unwrap();
            assert_eq!(
                cfg.get("nombre_conteneur").unwrap().to_string(),
                n.to_string()
            );
            assert_eq!(cfg.dictionaries().variables.len(), set.vars);
            let last = format!("conteneur{n}_port_out");
            assert_eq!(
                cfg.get(&last).unwrap().to_string(),
                format!("['{}']", 20000 + n)
            );
        }
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("load_list_problems", n), &paths, |b, p| {
            b.iter(|| load_resolve_check(black_box(p)))
        });
    }
    g.finish();
}

criterion_group!(benches, corpus, synthetic, containers);
criterion_main!(benches);
