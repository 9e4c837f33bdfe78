//! EOLE's 82 templates (eole-server 2.10.0) for one config.eol of the
//! corpus, rendered by conteneur's Cheetah engine and by Cheetah3, in the
//! same run, both cold: every template read, parsed (Cheetah3: compiled to
//! Python, then imported) and rendered, nothing cached between runs.
//!
//! - conteneur: the namespace built from the values, then each template
//!   parsed and rendered (in this process, repeated; the median is kept);
//! - Cheetah3: scripts/cheetah-oracle.py --bench, one fresh Python process
//!   per run (so no compilation cache), timed inside the process: the
//!   interpreter's start and `import Cheetah` are not counted, which only
//!   favours Cheetah3.
//!
//! Target (issue 15): at least 100× faster than Cheetah3.
//! Run: `cargo bench --bench cheetah`. Figures: BENCHMARKS.md.
//! `CHEETAH_BENCH_DETAIL=1` also prints the slowest templates (parse and
//! render, first run); with `CHEETAH_BENCH_LOOP=1` too, warm parse-only and
//! render-only times, then stops before Cheetah3 (for profiling).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use conteneur::config::Config;
use conteneur::paths::Paths;
use conteneur::template::cheetah::{Namespace, Template, dump};

/// The allocator the binary uses (src/main.rs), so the figures are its own.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONFIG: &str = "output_jojo_hapy2.eol";

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eole")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Parses and renders every template; returns (rendered, bytes).
fn conteneur_run(ns: &Namespace, files: &[(String, String)]) -> (usize, usize) {
    let (mut ok, mut bytes) = (0, 0);
    for (name, text) in files {
        if let Ok(out) = Template::parse(name, text).and_then(|t| t.render(ns)) {
            ok += 1;
            bytes += out.len();
        }
    }
    (ok, bytes)
}

fn main() {
    let root = tempfile::tempdir().expect("a temporary folder");
    let mut paths = Paths::new(root.path());
    paths.dicos = vec![corpus().join("dicos/eole-server-2.10.0")];
    paths.extra_dicos = corpus().join("extra");
    paths.config = corpus().join("config-eol").join(CONFIG);
    let cfg = Config::load(&paths).expect("load the corpus config");
    let dir = corpus().join("distrib/eole-server-2.10.0");

    // conteneur, from the values Cheetah3 gets (the dump): reading the
    // files is counted, as Cheetah3's run reads them.
    let values = dump(&cfg);
    let mut times = Vec::new();
    let mut result = (0, 0);
    for _ in 0..30 {
        let t = Instant::now();
        let ns = Namespace::from_dump(&values);
        let mut files = Vec::new();
        for e in std::fs::read_dir(&dir).expect("read the templates") {
            let p = e.expect("read the templates").path();
            let text = std::fs::read_to_string(&p).expect("read a template");
            files.push((
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                text,
            ));
        }
        result = black_box(conteneur_run(&ns, &files));
        times.push(t.elapsed());
    }
    let ours = median(times);
    // What conteneur adds when it also computes the values (Creole's
    // tiramisu does that before Cheetah runs): the namespace from the
    // configuration.
    let mut ns_times = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        black_box(Namespace::from_config(&cfg));
        ns_times.push(t.elapsed());
    }
    let ns_time = median(ns_times);
    if std::env::var_os("CHEETAH_BENCH_DETAIL").is_some() {
        let mut files = Vec::new();
        for e in std::fs::read_dir(&dir).expect("read the templates") {
            let p = e.expect("read the templates").path();
            files.push((p.clone(), std::fs::read_to_string(&p).expect("read")));
        }
        let ns = Namespace::from_dump(&values);
        let mut rows = Vec::new();
        for (p, text) in &files {
            let t = Instant::now();
            let tpl = Template::parse("x", text);
            let parse = t.elapsed();
            let t = Instant::now();
            let _ = tpl.map(|t| t.render(&ns));
            rows.push((
                parse,
                t.elapsed(),
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            ));
        }
        if std::env::var_os("CHEETAH_BENCH_LOOP").is_some() {
            let t = Instant::now();
            for _ in 0..300 {
                for (_, text) in &files {
                    black_box(Template::parse("x", text).ok());
                }
            }
            println!("  parse only, warm: {:?} per run", t.elapsed() / 300);
            let trees: Vec<_> = files
                .iter()
                .filter_map(|(_, t)| Template::parse("x", t).ok())
                .collect();
            let t = Instant::now();
            for _ in 0..300 {
                for tpl in &trees {
                    black_box(tpl.render(&ns).ok());
                }
            }
            println!("  render only, warm: {:?} per run", t.elapsed() / 300);
            return;
        }
        rows.sort_by_key(|r| std::cmp::Reverse(r.0 + r.1));
        for (p, r, n) in rows.iter().take(8) {
            println!("  {n}: parse {:?} render {:?}", p, r);
        }
    }

    // Cheetah3.
    let setup = Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cheetah-oracle.sh"))
        .output()
        .expect("run scripts/cheetah-oracle.sh");
    assert!(
        setup.status.success(),
        "the Cheetah3 oracle cannot be set up: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let python = String::from_utf8_lossy(&setup.stdout).trim().to_string();
    let dump_file = root.path().join("dump.json");
    std::fs::write(&dump_file, serde_json::to_vec(&dump(&cfg)).expect("JSON")).expect("write");
    let mut theirs_times = Vec::new();
    let mut theirs_ok = 0;
    for _ in 0..5 {
        let out = Command::new(&python)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cheetah-oracle.py"))
            .arg("--bench")
            .arg(&dump_file)
            .arg(&dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("run Cheetah3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut f = text.split_whitespace();
        let secs: f64 = f.next().and_then(|s| s.parse().ok()).expect("seconds");
        theirs_ok = f.nth(1).and_then(|s| s.parse().ok()).expect("count");
        theirs_times.push(Duration::from_secs_f64(secs));
    }
    let theirs = median(theirs_times);
    println!(
        "cheetah/{CONFIG}: 82 templates, cold\n  conteneur: {:.3} ms ({} rendered, {} bytes)\n  Cheetah3:  {:.1} ms ({} rendered)\n  ratio: {:.0}x\n  (values computed from the configuration: +{:.3} ms, ratio {:.0}x)",
        ours.as_secs_f64() * 1e3,
        result.0,
        result.1,
        theirs.as_secs_f64() * 1e3,
        theirs_ok,
        theirs.as_secs_f64() / ours.as_secs_f64(),
        ns_time.as_secs_f64() * 1e3,
        theirs.as_secs_f64() / (ours + ns_time).as_secs_f64()
    );
}
