//! Synthetic dictionary sets for the benchmarks (and for anyone who needs a
//! big, valid server to try something on).
//!
//! Two generators, each writing into a fresh temporary folder laid out as a
//! conteneur root (`dicos/`, `config.eol`, `extra/`):
//!
//! - [`dicos`]: `n_files` dictionaries `NN_synthNNN.xml` of `vars_per_file`
//!   variables each, built like the real EOLE ones: a mix of types (oui/non,
//!   string, number, ip, netmask, port, domain), defaults, `fill calc_val` and
//!   `auto concat` reading earlier variables (and one variable of the first
//!   file, as every real dictionary reads `nom_domaine_local`), `valid_enum`,
//!   `valid_entier` and `valid_ipnetmask` checks, `disabled_if_in`
//!   conditions, and a master/slave group every third block, plus a
//!   config.eol storing about one value in ten (toggles switched on, names,
//!   master lists with their per-index slaves);
//! - [`containers`]: conteneur's own `dicos/10_conteneur.xml` and a
//!   config.eol declaring `n` containers (`nombre_conteneur`).
//!
//! Included by the benchmarks with `mod synth;`. It is also a tiny program,
//! to get a set on disk and run the binary on it:
//!
//! ```text
//! cargo bench --bench synth -- dicos 200 50 /tmp/s      # 200 files x 50 variables
//! cargo bench --bench synth -- containers 2000 /tmp/c
//! conteneur --root /tmp/c --dicos /tmp/c/dicos --config /tmp/c/config.eol get --list
//! ```
#![allow(dead_code)]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use conteneur::paths::Paths;

/// A generated set. The folder is removed when this is dropped.
pub struct Set {
    pub dir: tempfile::TempDir,
    /// Variables declared (before any dynamic expansion).
    pub vars: usize,
}

impl Set {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The paths to load this set with, everything under its own root.
    pub fn paths(&self) -> Paths {
        paths_in(self.root())
    }
}

/// The paths of a set written by [`write_dicos`] or [`write_containers`].
pub fn paths_in(root: &Path) -> Paths {
    let mut p = Paths::new(root);
    p.dicos = vec![root.join("dicos")];
    p.config = root.join("config.eol");
    p.extra_dicos = root.join("extra");
    p
}

/// The real EOLE corpus, kept in the repository (`tests/data/eole/`, with
/// its origin and licence); `$EOLE_CORPUS` names another copy.
pub fn corpus_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("EOLE_CORPUS") {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eole")
}

/// Paths for the eole-server 2.10 corpus (with its extra namespace) and a
/// real config.eol, everything written going under `root`.
pub fn corpus_paths(root: &Path, config_eol: &str) -> Paths {
    let c = corpus_dir();
    let mut p = Paths::new(root);
    p.dicos = vec![c.join("dicos/eole-server-2.10.0")];
    p.extra_dicos = c.join("extra");
    p.config = c.join("config-eol").join(config_eol);
    p
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("conteneur-synth-")
        .tempdir()
        .expect("cannot create a temporary folder")
}

// ----- synthetic dictionaries ---------------------------------------------

/// Writes `n_files` dictionaries of `vars_per_file` variables and a matching
/// config.eol into a new temporary folder.
pub fn dicos(n_files: usize, vars_per_file: usize) -> Set {
    let dir = tempdir();
    let vars = write_dicos(dir.path(), n_files, vars_per_file);
    Set { dir, vars }
}

/// The name of file `i` of `n`: priorities 20..99 rising with `i`, so that
/// the load order (by file name) is the order of `i`.
pub fn dico_file_name(i: usize, n: usize) -> String {
    format!("{:02}_synth{i:03}.xml", 20 + i * 80 / n.max(1))
}

/// One block of ten variables; slot `k` of block `b` of file `i` is named
/// `s{i}_{SLOTS[k]}{b}`.
const SLOTS: [&str; 10] = [
    "activer",
    "nom",
    "taille",
    "ip",
    "masque",
    "port",
    "domaine",
    "copie",
    "reseau",
    "masque_reseau",
];

fn var_name(i: usize, j: usize) -> String {
    format!("s{i:03}_{}{}", SLOTS[j % 10], j / 10)
}

/// Is block `b` of file `i` a master/slave group? (One block in three.)
fn is_group(i: usize, b: usize) -> bool {
    (i + b).is_multiple_of(3)
}

/// Writes the dictionaries and config.eol under `root` (`root/dicos`,
/// `root/config.eol`); returns the number of variables declared.
pub fn write_dicos(root: &Path, n_files: usize, vars_per_file: usize) -> usize {
    let dicos = root.join("dicos");
    fs::create_dir_all(&dicos).expect("cannot create dicos/");
    fs::create_dir_all(root.join("extra")).expect("cannot create extra/");
    for i in 0..n_files {
        let xml = dico_xml(i, vars_per_file);
        fs::write(dicos.join(dico_file_name(i, n_files)), xml).expect("cannot write a dictionary");
    }
    fs::write(root.join("config.eol"), dicos_eol(n_files, vars_per_file))
        .expect("cannot write config.eol");
    n_files * vars_per_file
}

/// The XML of synthetic dictionary `i`.
pub fn dico_xml(i: usize, n: usize) -> String {
    let mut vars = String::new();
    let mut cons = String::new();
    let mut help = String::new();
    let mut seps = String::new();
    let has = |j: usize| j < n;
    for j in 0..n {
        let b = j / 10;
        let name = var_name(i, j);
        let (ty, attrs, desc, default): (&str, &str, String, Option<String>) = match j % 10 {
            // Odd blocks start switched off: their conditions disable things.
            0 => (
                "oui/non",
                " mode='basic'",
                format!("Activer le service {b} du paquet {i}"),
                Some(if b % 2 == 0 { "oui" } else { "non" }.into()),
            ),
            1 => (
                "string",
                " mandatory='True' mode='basic'",
                format!("Nom du service {b} (utilisé dans l'adresse)"),
                Some(format!("h{i}n{b}")),
            ),
            2 => (
                "number",
                " mode='expert'",
                format!("Taille maximale des requêtes du service {b}, en Mo"),
                Some(format!("{}", 10 + (i + j) % 90)),
            ),
            3 => (
                "ip",
                " mandatory='True'",
                format!("Adresse IP d'écoute du service {b}"),
                Some(format!("192.168.{}.{}", i % 250, 1 + b % 250)),
            ),
            4 => (
                "netmask",
                "",
                format!("Masque de sous-réseau du service {b}"),
                Some("255.255.255.0".into()),
            ),
            5 => (
                "port",
                "",
                format!("Port d'écoute du service {b}"),
                Some(format!("{}", 8000 + (i * 10 + b) % 50000)),
            ),
            6 => (
                "domain",
                "",
                format!("Nom de domaine complet du service {b} (calculé)"),
                None,
            ),
            7 => (
                "string",
                "",
                format!("Nom du service {b} tel que publié"),
                None,
            ),
            8 if is_group(i, b) => (
                "ip",
                " multi='True'",
                format!("Adresses IP réseau autorisées pour le service {b}"),
                None,
            ),
            8 => (
                "ip",
                " multi='True'",
                format!("Adresses IP des clients du service {b}"),
                Some(format!("10.{}.{}.1", i % 250, b % 250)),
            ),
            _ => (
                "netmask",
                " mandatory='True'",
                format!("Masque du sous réseau autorisé pour le service {b}"),
                Some("255.255.255.0".into()),
            ),
        };
        match default {
            Some(v) => writeln!(
                vars,
                "            <variable name='{name}' type='{ty}' description=\"{desc}\"{attrs}>\n                <value>{v}</value>\n            </variable>"
            ),
            None => writeln!(
                vars,
                "            <variable name='{name}' type='{ty}' description=\"{desc}\"{attrs}/>"
            ),
        }
        .unwrap();

        // Constraints, each reading variables declared before it.
        let base = b * 10;
        let v = |k: usize| var_name(i, base + k);
        match j % 10 {
            0 => {
                writeln!(seps, "            <separator name='{name}'>Service {b}</separator>").unwrap();
                // The toggle disables the service's address, mask and port.
                let targets: String = [3, 4, 5]
                    .iter()
                    .filter(|&&k| has(base + k))
                    .map(|&k| format!("\n            <target type='variable'>{}</target>", v(k)))
                    .collect();
                if !targets.is_empty() {
                    writeln!(
                        cons,
                        "        <condition name='disabled_if_in' source='{name}'>\n            <param>non</param>{targets}\n        </condition>"
                    )
                    .unwrap();
                }
            }
            1 => {
                writeln!(
                    help,
                    "        <variable name='{name}'>Le nom court du service, en minuscules, sans espace.</variable>"
                )
                .unwrap();
            }
            2 => writeln!(
                cons,
                "        <check name='valid_entier' target='{name}'>\n            <param name='mini'>1</param>\n            <param name='maxi'>1024</param>\n        </check>"
            )
            .unwrap(),
            4 => writeln!(
                cons,
                "        <check name='valid_ipnetmask' target='{name}' level='warning'>\n            <param type='eole'>{}</param>\n        </check>",
                v(3)
            )
            .unwrap(),
            5 => writeln!(
                cons,
                "        <check name='valid_entier' target='{name}'>\n            <param name='mini'>1024</param>\n            <param name='maxi'>65535</param>\n        </check>"
            )
            .unwrap(),
            6 => {
                // nom + '.' + the first file's first name, as real
                // dictionaries build names on nom_domaine_local.
                writeln!(
                    cons,
                    "        <auto name='concat' target='{name}'>\n            <param type='eole'>{}</param>\n            <param>.</param>\n            <param type='eole'>{}</param>\n            <param>.lan</param>\n        </auto>",
                    v(1),
                    var_name(0, 1)
                )
                .unwrap();
            }
            7 => writeln!(
                cons,
                "        <fill name='calc_val' target='{name}'>\n            <param type='eole' name='valeur'>{}</param>\n        </fill>\n        <check name='valid_enum' target='{name}'>\n            <param>['h{i}n{b}', 'srv{i}x{b}', 'web', 'api', 'admin']</param>\n        </check>",
                v(1)
            )
            .unwrap(),
            9 if is_group(i, b) => writeln!(
                cons,
                "        <group master='{}'>\n            <slave>{name}</slave>\n        </group>\n        <check name='valid_networknetmask' target='{name}'>\n            <param type='eole'>{}</param>\n        </check>",
                v(8),
                v(8)
            )
            .unwrap(),
            _ => {}
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- Synthetic dictionary {i} (benches/synth.rs) -->\n<creole>\n    <files>\n        <file name='/etc/synth/synth{i:03}.conf' source='synth{i:03}.conf' mode='0644'/>\n    </files>\n    <variables>\n        <family name='synth{i:03}' icon='cogs'>\n{vars}        </family>\n        <separators>\n{seps}        </separators>\n    </variables>\n    <constraints>\n{cons}    </constraints>\n    <help>\n        <family name='synth{i:03}'>Paquet synthétique {i}</family>\n{help}    </help>\n</creole>\n"
    )
}

/// The config.eol of a synthetic set: about one value in ten stored, as on
/// a configured server.
pub fn dicos_eol(n_files: usize, vars_per_file: usize) -> String {
    let mut m = serde_json::Map::new();
    let owner = |i: usize| {
        if i.is_multiple_of(2) {
            "gen_config"
        } else {
            "basique"
        }
    };
    for i in 0..n_files {
        for b in 0..vars_per_file.div_ceil(10) {
            let base = b * 10;
            let at = |k: usize| (base + k < vars_per_file).then(|| var_name(i, base + k));
            // Switch on one odd block in two.
            if b % 4 == 1
                && let Some(n) = at(0)
            {
                m.insert(n, serde_json::json!({"val": "oui", "owner": owner(i)}));
            }
            if (i + b).is_multiple_of(5)
                && let Some(n) = at(1)
            {
                let val = format!("srv{i}x{b}");
                m.insert(n, serde_json::json!({"val": val, "owner": owner(i)}));
            }
            if (i + b).is_multiple_of(7)
                && let Some(n) = at(2)
            {
                m.insert(n, serde_json::json!({"val": 64, "owner": owner(i)}));
            }
            if is_group(i, b)
                && let (Some(master), Some(slave)) = (at(8), at(9))
            {
                let o = owner(i);
                let net = format!("172.16.{}.0", i % 250);
                m.insert(
                    master,
                    serde_json::json!({"val": ["10.0.0.0", net], "owner": o}),
                );
                m.insert(
                    slave,
                    serde_json::json!({
                        "val": {"0": "255.0.0.0", "1": "255.255.255.0"},
                        "owner": {"0": o, "1": o}
                    }),
                );
            }
        }
    }
    m.insert("___version___".into(), "2.10.0".into());
    serde_json::Value::Object(m).to_string()
}

// ----- containers ---------------------------------------------------------

/// conteneur's dictionary and a config.eol declaring `n` containers, in a
/// new temporary folder.
pub fn containers(n: usize) -> Set {
    let dir = tempdir();
    let vars = write_containers(dir.path(), n);
    Set { dir, vars }
}

/// Writes `dicos/10_conteneur.xml` and a config.eol with `n` containers
/// under `root`; returns the number of variables once expanded.
pub fn write_containers(root: &Path, n: usize) -> usize {
    let dicos = root.join("dicos");
    fs::create_dir_all(&dicos).expect("cannot create dicos/");
    fs::create_dir_all(root.join("extra")).expect("cannot create extra/");
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("dicos/10_conteneur.xml");
    let xml =
        fs::read_to_string(&ours).unwrap_or_else(|e| panic!("cannot read {}: {e}", ours.display()));
    fs::write(dicos.join("10_conteneur.xml"), &xml).expect("cannot write the dictionary");
    fs::write(root.join("config.eol"), containers_eol(n)).expect("cannot write config.eol");
    // The dictionary changes with the project: count rather than assume.
    let base = conteneur::dico::load_texts(&[("10_conteneur.xml", &xml)]).dicos;
    let per = base.variables.keys().filter(|k| k.contains("{X}")).count();
    base.variables.len() - per + per * n
}

/// The config.eol of `n` containers: appX, an image, port 80 published on
/// 20000+X.
pub fn containers_eol(n: usize) -> String {
    let mut m = serde_json::Map::new();
    m.insert(
        "nombre_conteneur".into(),
        serde_json::json!({"val": n, "owner": "creoleset"}),
    );
    for x in 1..=n {
        m.insert(
            format!("conteneur{x}_name"),
            serde_json::json!({"val": format!("app{x}"), "owner": "creoleset"}),
        );
        m.insert(
            format!("conteneur{x}_url"),
            serde_json::json!({"val": "localhost:5000/demo/web", "owner": "creoleset"}),
        );
        m.insert(
            format!("conteneur{x}_port_in"),
            serde_json::json!({"val": ["80"], "owner": "creoleset"}),
        );
        // A slave is stored per index; a port is a string in config.eol.
        m.insert(
            format!("conteneur{x}_port_out"),
            serde_json::json!({"val": {"0": format!("{}", 20000 + x)}, "owner": {"0": "creoleset"}}),
        );
    }
    m.insert("___version___".into(), "2.10.0".into());
    serde_json::Value::Object(m).to_string()
}

// ----- as a program -------------------------------------------------------

/// `synth dicos N_FILES VARS_PER_FILE DIR` or `synth containers N DIR`.
/// Run by `cargo bench` with only `--bench`: then it does nothing.
fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let num = |s: &str| s.parse::<usize>().unwrap_or_else(|_| usage());
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => {}
        ["dicos", files, per, dir] => {
            let n = write_dicos(Path::new(dir), num(files), num(per));
            println!("{n} variables in {dir}/dicos, values in {dir}/config.eol");
        }
        ["containers", n, dir] => {
            let v = write_containers(Path::new(dir), num(n));
            println!("{n} containers ({v} variables) in {dir}/dicos, values in {dir}/config.eol");
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: synth dicos N_FILES VARS_PER_FILE DIR | synth containers N DIR\n\
         then: conteneur --root DIR --dicos DIR/dicos --config DIR/config.eol get --list"
    );
    std::process::exit(2)
}
