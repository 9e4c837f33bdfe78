//! Rendering conteneur's templates (nginx site, variable file, launch plan)
//! for many containers. Target (issue 3): under 20 ms for 50 containers.
//!
//! Measured, for 50 and 500 containers (benches/synth.rs `containers`):
//! - `render_only`: `template::render_all` on a configuration already
//!   loaded and evaluated (what `render` adds to a `get --list`);
//! - `load_and_render`: `Config::load` (XML, config.eol, dynamic expansion)
//!   then `render_all`, cold: what `conteneur render --stdout` costs;
//! - `load_render_write`: the same plus `write_all` of unchanged files
//!   (the usual reconfigure: read and compare, write nothing).
//!
//! Run: `cargo bench --bench render`. Figures: BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

use conteneur::config::Config;
use conteneur::paths::Paths;
use conteneur::template::{self, Action};

/// The allocator the binary uses (src/main.rs), so the figures are its own.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod synth;

fn paths_for(set: &synth::Set) -> Paths {
    let mut p = set.paths();
    p.templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    p
}

/// Renders everything; returns the bytes rendered so nothing is optimised away.
fn render(cfg: &Config, paths: &Paths) -> usize {
    let rendered = template::render_all(cfg, paths, None).expect("render");
    rendered
        .iter()
        .map(|r| match &r.action {
            Action::Write(t) => t.len(),
            _ => 0,
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("render");
    g.measurement_time(Duration::from_secs(5));
    for n in [50usize, 500] {
        let set = synth::containers(n);
        let paths = paths_for(&set);
        let cfg = Config::load(&paths).expect("load");
        let bytes = render(&cfg, &paths);
        let routes = match template::render_all(&cfg, &paths, Some("nginx-conteneur.conf"))
            .expect("render")
            .first()
            .map(|r| &r.action)
        {
            Some(Action::Write(t)) => t.matches("location /").count(),
            _ => 0,
        };
        eprintln!("{n} containers: {bytes} bytes rendered, {routes} nginx routes");
        assert_eq!(routes, n, "every container is published");
        g.bench_with_input(BenchmarkId::new("render_only", n), &n, |b, _| {
            b.iter(|| black_box(render(&cfg, &paths)))
        });
        g.bench_with_input(BenchmarkId::new("load_and_render", n), &n, |b, _| {
            b.iter(|| {
                let cfg = Config::load(&paths).expect("load");
                black_box(render(&cfg, &paths))
            })
        });
        // Files on disk already hold the content: compare, write nothing.
        let first = template::render_all(&cfg, &paths, None).expect("render");
        template::write_all(&first).expect("write");
        g.bench_with_input(BenchmarkId::new("load_render_write", n), &n, |b, _| {
            b.iter(|| {
                let cfg = Config::load(&paths).expect("load");
                let r = template::render_all(&cfg, &paths, None).expect("render");
                let changes = template::write_all(&r).expect("write");
                assert!(changes.is_empty());
                black_box(changes.unchanged.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
