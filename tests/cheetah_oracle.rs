//! conteneur's Cheetah engine against Cheetah3 itself, on EOLE's corpus:
//! for every JSON config.eol of tests/data/eole/config-eol, each of the 82
//! templates of eole-server 2.10.0 is rendered by Cheetah3 (with Creole's
//! compiler settings and namespace, fed the values conteneur dumps) and by
//! conteneur. What Cheetah3 renders, conteneur must render byte for byte;
//! what Cheetah3 refuses, conteneur must refuse with an error.
//!
//! The oracle is made by scripts/cheetah-oracle.sh (a virtual environment
//! with Cheetah3 from PyPI under target/): when that fails, this test
//! fails; it never skips. The report (identical / differing / refused per
//! config) is printed, and the texts of any difference are written under
//! target/cheetah-report/.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use conteneur::config::Config;
use conteneur::paths::Paths;
use conteneur::template::cheetah::{ErrorKind, Namespace, Template, dump};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eole")
}

fn templates_dir() -> PathBuf {
    corpus().join("distrib/eole-server-2.10.0")
}

/// The Python of the oracle's virtual environment.
pub fn oracle_python() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cheetah-oracle.sh");
    let out = Command::new("sh")
        .arg(&script)
        .output()
        .expect("run scripts/cheetah-oracle.sh");
    assert!(
        out.status.success(),
        "the Cheetah3 oracle cannot be set up (python3, python3-venv and PyPI are needed): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The JSON config.eol files of the corpus.
fn configs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(corpus().join("config-eol"))
        .expect("read the corpus")
        .map(|e| e.expect("read the corpus").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            fs::read(p)
                .ok()
                .and_then(|b| b.iter().find(|c| !c.is_ascii_whitespace()).copied())
                == Some(b'{')
        })
        .collect();
    v.sort();
    v
}

fn load(config: &Path, root: &Path) -> Config {
    let mut paths = Paths::new(root);
    paths.dicos = vec![corpus().join("dicos/eole-server-2.10.0")];
    paths.extra_dicos = corpus().join("extra");
    paths.config = config.to_path_buf();
    Config::load(&paths).unwrap_or_else(|e| panic!("{}: {e}", config.display()))
}

fn template_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(templates_dir())
        .expect("read the templates")
        .map(|e| {
            e.expect("read the templates")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[derive(serde::Deserialize)]
struct OracleResult {
    ok: Option<String>,
    error: Option<String>,
}

/// Cheetah3's output (or error) for each template of `dir`.
fn run_oracle(
    python: &Path,
    dump: &Path,
    dir: &Path,
    names: &[String],
) -> BTreeMap<String, OracleResult> {
    let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cheetah-oracle.py");
    let out = tempfile::NamedTempFile::new().expect("a temporary file");
    let status = Command::new(python)
        .arg(&oracle)
        .arg(dump)
        .arg(dir)
        .arg(out.path())
        .args(names)
        .env("PYTHONHASHSEED", "0")
        .env("PYTHONUTF8", "1")
        .status()
        .expect("run the oracle");
    assert!(status.success(), "the oracle failed on {}", dump.display());
    serde_json::from_slice(&fs::read(out.path()).expect("read the oracle's output"))
        .expect("the oracle's JSON")
}

#[derive(Default)]
struct Counts {
    identical: usize,
    differing: Vec<String>,
    refused: usize,
}

#[test]
fn every_template_renders_as_cheetah3_renders_it() {
    let python = oracle_python();
    let report_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/cheetah-report");
    let _ = fs::remove_dir_all(&report_dir);
    let names = template_names();
    assert_eq!(names.len(), 82);
    let mut parsed = BTreeMap::new();
    for n in &names {
        let text = fs::read_to_string(templates_dir().join(n)).expect("read a template");
        parsed.insert(n.clone(), Template::parse(n, &text));
    }
    let root = tempfile::tempdir().expect("a temporary folder");
    let mut report = String::from("config: identical / differing / refused\n");
    let mut all_differing = Vec::new();
    let mut refused_reasons: BTreeMap<String, usize> = BTreeMap::new();
    let configs = configs();
    assert_eq!(configs.len(), 10, "the JSON configs of the corpus");
    for config in &configs {
        let cfg = load(config, root.path());
        let d = dump(&cfg);
        let dump_path = root.path().join("dump.json");
        fs::write(&dump_path, serde_json::to_vec(&d).expect("JSON")).expect("write the dump");
        let results = run_oracle(&python, &dump_path, &templates_dir(), &[]);
        let ns = Namespace::from_dump(&d);
        let cname = config
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut c = Counts::default();
        for n in &names {
            let mine = match &parsed[n] {
                Ok(t) => t.render(&ns),
                Err(e) => Err(e.clone()),
            };
            let theirs = &results[n];
            match (&theirs.ok, mine) {
                (Some(want), Ok(got)) if *want == got => c.identical += 1,
                (Some(want), got) => {
                    let dir = report_dir.join(&cname);
                    let _ = fs::create_dir_all(&dir);
                    let _ = fs::write(dir.join(format!("{n}.cheetah3")), want);
                    let got = match got {
                        Ok(t) => t,
                        Err(e) => format!("ERROR {e}"),
                    };
                    let _ = fs::write(dir.join(format!("{n}.conteneur")), &got);
                    c.differing.push(n.clone());
                }
                (None, Ok(_)) => {
                    let why = theirs.error.clone().unwrap_or_default();
                    c.differing
                        .push(format!("{n} (Cheetah3 refuses: {why}; conteneur renders)"));
                }
                (None, Err(e)) => {
                    c.refused += 1;
                    let key = match e.kind {
                        ErrorKind::Unsupported => format!("unsupported: {}", e.message),
                        _ => e.message.clone(),
                    };
                    *refused_reasons.entry(format!("{n}: {key}")).or_default() += 1;
                }
            }
        }
        report.push_str(&format!(
            "{cname}: {} / {} / {}\n",
            c.identical,
            c.differing.len(),
            c.refused
        ));
        for d in &c.differing {
            all_differing.push(format!("{cname}: {d}"));
        }
    }
    report.push_str("refused (template: conteneur's error, configs):\n");
    for (k, n) in &refused_reasons {
        report.push_str(&format!("  {k} [{n}]\n"));
    }
    println!("{report}");
    let _ = fs::create_dir_all(&report_dir);
    let _ = fs::write(report_dir.join("report.txt"), &report);
    assert!(
        all_differing.is_empty(),
        "{} render(s) differ from Cheetah3 (texts under {}):\n{}",
        all_differing.len(),
        report_dir.display(),
        all_differing.join("\n")
    );
}

/// Hand-written templates for the corners of the dialect (line gobbling,
/// slurp, comments, escapes, masters, %def, %try, Python expressions),
/// against Cheetah3 with tests/data/cheetah/namespace.json.
#[test]
fn corner_cases_render_as_cheetah3_renders_them() {
    let python = oracle_python();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cheetah");
    let dump_path = dir.join("namespace.json");
    let d: serde_json::Value =
        serde_json::from_slice(&fs::read(&dump_path).expect("read the namespace")).expect("JSON");
    let ns = Namespace::from_dump(&d);
    // Each `.tmpl` is one case; each line of a `.lines` is one.
    let cases = tempfile::tempdir().expect("a temporary folder");
    let mut names: Vec<String> = Vec::new();
    for e in fs::read_dir(&dir).expect("read the cases") {
        let p = e.expect("read the cases").path();
        let n = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = fs::read_to_string(&p).expect("read a case");
        if n.ends_with(".tmpl") {
            fs::write(cases.path().join(&n), &text).expect("write a case");
            names.push(n);
        } else if n.ends_with(".lines") {
            for (i, line) in text.lines().enumerate() {
                let name = format!("{n}:{}", i + 1);
                fs::write(cases.path().join(&name), format!("{line}\n")).expect("write a case");
                names.push(name);
            }
        }
    }
    names.sort();
    assert!(names.len() >= 5);
    let results = run_oracle(&python, &dump_path, cases.path(), &names);
    let mut bad = Vec::new();
    for n in &names {
        let text = fs::read_to_string(cases.path().join(n)).expect("read a case");
        let mine = Template::parse(n, &text).and_then(|t| t.render(&ns));
        match (&results[n].ok, &mine) {
            (Some(want), Ok(got)) if want == got => println!("{n}: identical"),
            (None, Err(e)) => println!(
                "{n}: both refuse: Cheetah3 {}; conteneur {e}",
                results[n].error.clone().unwrap_or_default()
            ),
            (want, got) => bad.push(format!(
                "{n}:\n--- Cheetah3:\n{}\n--- conteneur:\n{}",
                want.clone()
                    .unwrap_or_else(|| results[n].error.clone().unwrap_or_default()),
                match got {
                    Ok(t) => t.clone(),
                    Err(e) => format!("ERROR {e}"),
                }
            )),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The demo: `CreoleCat -t resolv.conf` on the corpus prints what Cheetah3
/// (so Creole) writes.
#[test]
fn creolecat_prints_resolv_conf_as_creole_does() {
    let python = oracle_python();
    let root = tempfile::tempdir().expect("a temporary folder");
    let config = corpus().join("config-eol/output_jojo_hapy2.eol");
    let link = root.path().join("CreoleCat");
    std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("conteneur"), &link)
        .expect("link CreoleCat");
    let out = Command::new(&link)
        .env("CONTENEUR_ROOT", root.path())
        .arg("--dicos")
        .arg(corpus().join("dicos/eole-server-2.10.0"))
        .arg("--extra")
        .arg(corpus().join("extra"))
        .arg("--templates")
        .arg(templates_dir())
        .arg("--config")
        .arg(&config)
        .args(["-t", "resolv.conf"])
        .output()
        .expect("run CreoleCat");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = load(&config, root.path());
    let dump_path = root.path().join("dump.json");
    fs::write(&dump_path, serde_json::to_vec(&dump(&cfg)).expect("JSON")).expect("write");
    let want = run_oracle(
        &python,
        &dump_path,
        &templates_dir(),
        &["resolv.conf".into()],
    );
    let want = want["resolv.conf"]
        .ok
        .clone()
        .expect("Cheetah3 renders resolv.conf");
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    assert!(want.contains("nameserver"), "{want}");
}

/// The corpus configs leave some values out (`nombre_interfaces`, the
/// names of the network cards…), so parts of the templates never run
/// above. Here one config's values are completed as an installed server
/// would have them, and every template is compared again.
#[test]
fn completed_values_render_as_cheetah3_renders_them() {
    let python = oracle_python();
    let root = tempfile::tempdir().expect("a temporary folder");
    let cfg = load(
        &corpus().join("config-eol/output_jojo_hapy2.eol"),
        root.path(),
    );
    let mut d = dump(&cfg);
    let extra = serde_json::json!({
        "nombre_interfaces": "1",
        "nom_carte_eth0": ["eth0"],
        "nom_zone_eth0": "eth0",
        "adresse_ip_eth0": "192.168.0.10",
        "adresse_netmask_eth0": "255.255.255.0",
        "adresse_network_eth0": "192.168.0.0",
        "adresse_broadcast_eth0": "192.168.0.255",
        "adresse_ip_gw": "192.168.0.1",
        "ssl_country_name": "FR",
        "system_mail_to": "admin@example.org",
        "_mirror_ubuntu": "http://archive.ubuntu.com/ubuntu",
        "_mirror_eole": "http://eole.ac-dijon.fr/eole",
        "ubuntu_version": "jammy",
        "_eole_release": "2.10.0",
        "_eole_version": "2.10",
        "le_ssl_cert": "/etc/ssl/certs/le.crt",
        "le_ssl_key": "/etc/ssl/private/le.key",
        // One name: a set of several has Python's hash order, which
        // conteneur refuses to guess (Creole's order changes per run).
        "ssl_subjectaltname": ["www.example.org"],
        "_eole_level": "stable",
        "adresse_ip_br0": "192.168.0.10",
    });
    let vars = d["variables"].as_object_mut().expect("variables");
    for (k, v) in extra.as_object().expect("object") {
        vars.insert(k.clone(), v.clone());
    }
    let dump_path = root.path().join("dump.json");
    fs::write(&dump_path, serde_json::to_vec(&d).expect("JSON")).expect("write the dump");
    let results = run_oracle(&python, &dump_path, &templates_dir(), &[]);
    let ns = Namespace::from_dump(&d);
    let (mut same, mut refused, mut bad) = (0, 0, Vec::new());
    for n in template_names() {
        let text = fs::read_to_string(templates_dir().join(&n)).expect("read a template");
        let mine = Template::parse(&n, &text).and_then(|t| t.render(&ns));
        match (&results[&n].ok, mine) {
            (Some(want), Ok(got)) if *want == got => same += 1,
            (None, Err(e)) => {
                refused += 1;
                println!(
                    "  {n}: Cheetah3 {} | conteneur {e}",
                    results[&n].error.clone().unwrap_or_default()
                );
            }
            (want, got) => {
                let dir =
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/cheetah-report/completed");
                let _ = fs::create_dir_all(&dir);
                let _ = fs::write(
                    dir.join(format!("{n}.cheetah3")),
                    want.clone()
                        .unwrap_or_else(|| results[&n].error.clone().unwrap_or_default()),
                );
                let _ = fs::write(
                    dir.join(format!("{n}.conteneur")),
                    match &got {
                        Ok(t) => t.clone(),
                        Err(e) => format!("ERROR {e}"),
                    },
                );
                bad.push(n.clone());
            }
        }
    }
    println!(
        "completed values: {same} identical / {} differing / {refused} refused",
        bad.len()
    );
    assert!(
        bad.is_empty(),
        "differ from Cheetah3 (texts under target/cheetah-report/completed): {bad:?}"
    );
}
