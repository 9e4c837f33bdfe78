//! The mutation property of issue 19: on the real corpus
//! (`tests/data/eole`: eole-server 2.10's 15 dictionaries, the `schedule`
//! extra namespace and a real config.eol), take any one variable or family
//! declaration, any one constraint, or any one reference in a param or a
//! target, and delete or rename it. Then:
//! - the load never fails as a whole;
//! - `lint` names the mutation when it leaves a reference dangling;
//! - every value that does not depend on it reads exactly as before.
//!
//! In-process (no binary per case): 256 cases by default, as CI runs it;
//! `CONTENEUR_MUTATION_CASES=N` runs N (a benchmark-style run).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use conteneur::config::{Config, EolFile, Value};
use conteneur::dico::{self, Dictionaries};
use indexmap::IndexMap;
use proptest::prelude::*;
use quick_xml::Reader;
use quick_xml::events::Event;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eole")
}

/// One corpus file: its name, its text, its namespace.
struct File {
    name: String,
    text: String,
    ns: Option<&'static str>,
}

fn files() -> &'static [File] {
    static FILES: OnceLock<Vec<File>> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut out = Vec::new();
        for (dir, ns) in [
            ("dicos/eole-server-2.10.0", None),
            ("extra/schedule", Some("schedule")),
        ] {
            for path in dico::list_files(&corpus().join(dir)).unwrap() {
                out.push(File {
                    name: path.strip_prefix(corpus()).unwrap().display().to_string(),
                    text: std::fs::read_to_string(&path).unwrap(),
                    ns,
                });
            }
        }
        assert!(out.len() >= 16);
        out
    })
}

/// An element of a corpus file, with the byte ranges a mutation edits.
#[derive(Debug, Clone)]
struct El {
    file: usize,
    name: String,
    attrs: Vec<(String, String)>,
    /// From its `<` to after its end tag.
    span: (usize, usize),
    /// Its start tag.
    tag: (usize, usize),
    /// Its text, trimmed.
    text: Option<(usize, usize)>,
    /// The `name` of the enclosing family, and the enclosing element's
    /// index in the list (a param's or target's constraint).
    family: Option<String>,
    parent: Option<usize>,
}

impl El {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
    fn text<'a>(&self, files: &'a [File]) -> &'a str {
        self.text
            .map(|(a, b)| &files[self.file].text[a..b])
            .unwrap_or("")
    }
}

fn elements(files: &[File]) -> Vec<El> {
    let mut out: Vec<El> = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        let mut reader = Reader::from_str(&f.text);
        // (index in out) of the open elements.
        let mut stack: Vec<usize> = Vec::new();
        let mut family: Option<String> = None;
        let dec = reader.decoder();
        loop {
            let before = reader.buffer_position() as usize;
            let ev = reader.read_event().unwrap();
            let after = reader.buffer_position() as usize;
            let mut open = |e: &quick_xml::events::BytesStart, end: Option<usize>| {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (
                            String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                            a.decode_and_unescape_value(dec).unwrap().into_owned(),
                        )
                    })
                    .collect();
                out.push(El {
                    file: fi,
                    name,
                    attrs,
                    span: (before, end.unwrap_or(after)),
                    tag: (before, after),
                    text: None,
                    family: family.clone(),
                    parent: stack.last().copied(),
                });
                out.len() - 1
            };
            match ev {
                Event::Start(e) => {
                    let i = open(&e, None);
                    if out[i].name == "family" {
                        family = out[i].attr("name").map(str::to_string);
                    }
                    stack.push(i);
                }
                Event::Empty(e) => {
                    open(&e, Some(after));
                }
                Event::End(_) => {
                    if let Some(i) = stack.pop() {
                        out[i].span.1 = after;
                        if out[i].name == "family" {
                            family = None;
                        }
                    }
                }
                Event::Text(_) | Event::CData(_) => {
                    let raw = &f.text[before..after];
                    let lead = raw.len() - raw.trim_start().len();
                    let trimmed = raw.trim();
                    if let Some(&i) = stack.last()
                        && !trimmed.is_empty()
                        && out[i].text.is_none()
                    {
                        out[i].text = Some((before + lead, before + lead + trimmed.len()));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
    }
    out
}

/// What a mutation touches.
#[derive(Debug, Clone)]
enum Kind {
    /// A `<variable>` or `<family>` declaration (its `name`).
    Decl,
    /// A `<fill>`, `<auto>`, `<check>`, `<condition>` or `<group>`.
    Constraint,
    /// A `<param type='eole'>`, a `<target>` or a `<slave>` (its text).
    RefText,
    /// The `target` of a fill/auto/check, the `source` of a condition, the
    /// `master` of a group.
    RefAttr(&'static str),
}

#[derive(Debug, Clone)]
struct Site {
    el: usize,
    kind: Kind,
}

struct Corpus {
    els: Vec<El>,
    sites: Vec<Site>,
    base: Dictionaries,
    eol: EolFile,
    /// Every variable's read before any mutation.
    reads: Vec<(String, Result<Value, String>)>,
}

const EOL: &str = "config-eol/output_jojo_hapy2.eol";

fn eol() -> EolFile {
    let path = corpus().join(EOL);
    EolFile::parse(&std::fs::read(&path).unwrap(), &path).unwrap()
}

fn load(texts: &[(String, String, Option<&str>)]) -> dico::Outcome {
    let refs: Vec<(&str, &str, Option<&str>)> = texts
        .iter()
        .map(|(n, t, ns)| (n.as_str(), t.as_str(), *ns))
        .collect();
    dico::load_texts_in(&refs)
}

fn config(d: Dictionaries, eol: EolFile) -> Config {
    Config::new(Arc::new(d), eol, IndexMap::new(), false)
}

fn reads(c: &Config) -> Vec<(String, Result<Value, String>)> {
    c.dictionaries()
        .variables
        .keys()
        .map(|k| (k.clone(), c.read(k).map_err(|e| e.to_string())))
        .collect()
}

fn the_corpus() -> &'static Corpus {
    static C: OnceLock<Corpus> = OnceLock::new();
    C.get_or_init(|| {
        let files = files();
        let els = elements(files);
        let mut sites = Vec::new();
        for (i, el) in els.iter().enumerate() {
            let parent = el.parent.map(|p| els[p].name.as_str());
            let kind = match el.name.as_str() {
                "variable" | "family" if parent != Some("help") => Kind::Decl,
                "fill" | "auto" | "check" | "condition" | "group" => Kind::Constraint,
                "param" if el.attr("type") == Some("eole") => Kind::RefText,
                "target" | "slave" => Kind::RefText,
                _ => continue,
            };
            sites.push(Site {
                el: i,
                kind: kind.clone(),
            });
            let attr = match el.name.as_str() {
                "fill" | "auto" | "check" => Some("target"),
                "condition" => Some("source"),
                "group" => Some("master"),
                _ => None,
            };
            if let Some(a) = attr {
                sites.push(Site {
                    el: i,
                    kind: Kind::RefAttr(a),
                });
            }
        }
        let texts: Vec<_> = files
            .iter()
            .map(|f| (f.name.clone(), f.text.clone(), f.ns))
            .collect();
        let out = load(&texts);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        let c = config(out.dicos.clone(), eol());
        Corpus {
            reads: reads(&c),
            els,
            sites,
            base: out.dicos,
            eol: eol(),
        }
    })
}

const SUFFIX: &str = "_mutated";

/// The full name a `<variable name=...>` declares.
fn full(el: &El, name: &str) -> String {
    match (files()[el.file].ns, &el.family) {
        (Some(ns), Some(f)) => format!("{ns}.{f}.{name}"),
        _ => name.to_string(),
    }
}

/// A reference as the corpus writes it (a dotted name is already full).
fn reference(name: &str) -> String {
    name.trim().to_string()
}

/// The variables a constraint applies to.
fn owners(c: &Corpus, el: &El) -> Vec<String> {
    let files = files();
    let children = |name: &str| -> Vec<&El> {
        c.els
            .iter()
            .filter(|e| e.file == el.file && e.parent.is_some_and(|p| std::ptr::eq(&c.els[p], el)))
            .filter(|e| e.name == name)
            .collect()
    };
    let mut out = Vec::new();
    match el.name.as_str() {
        "fill" | "auto" | "check" => out.extend(el.attr("target").map(reference)),
        "condition" => {
            for t in children("target") {
                let name = reference(t.text(files));
                match t.attr("type").unwrap_or("variable") {
                    "variable" => out.push(name),
                    "family" => {
                        if let Some(f) = c.base.families.get(&name) {
                            out.extend(f.variables.iter().cloned());
                        }
                    }
                    _ => {}
                }
            }
        }
        "group" => {
            out.extend(el.attr("master").map(reference));
            out.extend(children("slave").iter().map(|s| reference(s.text(files))));
        }
        _ => {}
    }
    out
}

/// The variables a variable or family declaration declares.
fn declared(c: &Corpus, idx: usize) -> Vec<String> {
    let el = &c.els[idx];
    match el.name.as_str() {
        "variable" => el.attr("name").map(|n| full(el, n)).into_iter().collect(),
        _ => c
            .els
            .iter()
            .enumerate()
            .filter(|(_, e)| e.name == "variable" && e.file == el.file)
            .filter(|(_, e)| e.span.0 > el.span.0 && e.span.1 <= el.span.1)
            .filter_map(|(_, e)| e.attr("name").map(|n| full(e, n)))
            .collect(),
    }
}

/// Replaces the value of attribute `attr` in the start tag of `el`.
fn rename_attr(text: &str, el: &El, attr: &str) -> Option<String> {
    let tag = &text[el.tag.0..el.tag.1];
    let mut from = 0;
    while let Some(pos) = tag[from..].find(attr) {
        let at = from + pos;
        let rest = &tag[at + attr.len()..];
        let before_ok = at > 0 && tag.as_bytes()[at - 1].is_ascii_whitespace();
        let eq = rest.trim_start();
        if before_ok && eq.starts_with('=') {
            let after_eq = eq[1..].trim_start();
            let quote = after_eq.chars().next()?;
            let vstart = el.tag.0 + tag.len() - after_eq.len() + 1;
            let vlen = after_eq[1..].find(quote)?;
            let mut out = text.to_string();
            out.insert_str(vstart + vlen, SUFFIX);
            return Some(out);
        }
        from = at + attr.len();
    }
    None
}

/// A mutated corpus, the variables whose value may change, and the name
/// lint must show (when the mutation leaves a reference dangling).
struct Mutation {
    texts: Vec<(String, String, Option<&'static str>)>,
    roots: Vec<String>,
    named: Option<String>,
    what: String,
}

fn mutate(c: &Corpus, site: &Site, delete: bool) -> Option<Mutation> {
    let files = files();
    let el = &c.els[site.el];
    let text = &files[el.file].text;
    let mut texts: Vec<_> = files
        .iter()
        .map(|f| (f.name.clone(), f.text.clone(), f.ns))
        .collect();
    let deleted = || format!("{}{}", &text[..el.span.0], &text[el.span.1..]);
    let what = format!(
        "{} <{} {:?}> at {}:{}",
        if delete { "delete" } else { "rename" },
        el.name,
        el.attrs,
        files[el.file].name,
        el.span.0
    );
    let (new_text, roots, named) = match &site.kind {
        Kind::Decl => {
            let names = declared(c, site.el);
            let new = if delete {
                deleted()
            } else {
                rename_attr(text, el, "name")?
            };
            // A variable's own name, or a family's: lint names one of
            // them when a reference to it is left.
            (new, names, el.attr("name").map(|n| n.to_string()))
        }
        Kind::Constraint => {
            if delete {
                (deleted(), owners(c, el), None)
            } else {
                // Renamed: a function (or condition) nobody knows.
                let func = el.attr("name")?;
                let new = rename_attr(text, el, "name")?;
                (new, owners(c, el), Some(format!("{func}{SUFFIX}")))
            }
        }
        Kind::RefText => {
            let parent = &c.els[el.parent?];
            let mut roots = owners(c, parent);
            let (a, b) = el.text?;
            let old = reference(&text[a..b]);
            roots.push(old.clone());
            if delete {
                (deleted(), roots, None)
            } else {
                let new = format!("{}{SUFFIX}{}", &text[..b], &text[b..]);
                let optional = el.attr("optional") == Some("True")
                    || matches!(el.attr("type"), Some("filelist" | "servicelist"));
                let named = (!optional).then(|| format!("{old}{SUFFIX}"));
                (new, roots, named)
            }
        }
        Kind::RefAttr(attr) => {
            if delete {
                return None;
            }
            let mut roots = owners(c, el);
            let old = reference(el.attr(attr)?);
            roots.push(old.clone());
            let fallback = *attr == "source" && el.attr("fallback") == Some("True");
            let new = rename_attr(text, el, attr)?;
            (new, roots, (!fallback).then(|| format!("{old}{SUFFIX}")))
        }
    };
    texts[el.file].1 = new_text;
    Some(Mutation {
        texts,
        roots,
        named,
        what,
    })
}

fn cases() -> u32 {
    std::env::var("CONTENEUR_MUTATION_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn check(site_index: prop::sample::Index, delete: bool) -> Result<(), TestCaseError> {
    let c = the_corpus();
    let site = &c.sites[site_index.index(c.sites.len())];
    let Some(m) = mutate(c, site, delete) else {
        return Ok(());
    };
    let out = load(&m.texts);
    prop_assert!(
        out.errors.is_empty(),
        "{}: the load failed: {:?}",
        m.what,
        out.errors
    );
    let mut lint: Vec<String> = out.warnings.iter().map(|w| w.to_string()).collect();
    let cfg = config(out.dicos, c.eol.clone());
    lint.extend(cfg.problems().iter().map(|p| p.to_string()));
    // What may change: the roots and what reads them, in either model.
    let roots: Vec<&str> = m.roots.iter().map(String::as_str).collect();
    let mut may_change: HashSet<String> = c.base.dependents(&roots).into_iter().collect();
    may_change.extend(cfg.dictionaries().dependents(&roots));
    for (name, before) in &c.reads {
        if may_change.contains(name) || !cfg.dictionaries().variables.contains_key(name) {
            continue;
        }
        let after = cfg.read(name).map_err(|e| e.to_string());
        match (before, &after) {
            (Ok(b), Ok(a)) => prop_assert_eq!(b, a, "{}: '{}' changed", m.what, name),
            (Err(_), Err(_)) => {}
            _ => prop_assert!(
                false,
                "{}: '{}' read {:?}, now {:?}",
                m.what,
                name,
                before,
                after
            ),
        }
    }
    // Lint names a reference the mutation left dangling.
    if let Some(named) = &m.named {
        let d = cfg.dictionaries();
        let gone: Vec<&String> = match &site.kind {
            Kind::Decl => m
                .roots
                .iter()
                .filter(|n| !d.variables.contains_key(*n))
                .collect(),
            _ => Vec::new(),
        };
        let referenced = match &site.kind {
            Kind::Decl => {
                gone.iter().any(|n| still_referenced(&m.texts, n))
                    || (c.els[site.el].name == "family"
                        && !d.families.contains_key(&family_full(c, site.el))
                        && still_referenced(&m.texts, &family_full(c, site.el)))
            }
            _ => true,
        };
        if referenced {
            let names: Vec<String> = match &site.kind {
                Kind::Decl => gone
                    .iter()
                    .map(|n| n.to_string())
                    .chain([family_full(c, site.el), named.clone()])
                    .collect(),
                _ => vec![named.clone()],
            };
            prop_assert!(
                lint.iter()
                    .any(|l| names.iter().any(|n| l.contains(&format!("'{n}'")))),
                "{}: lint does not name {:?}:\n{}",
                m.what,
                names,
                lint.join("\n")
            );
        }
    }
    Ok(())
}

/// The full name of a family declaration.
fn family_full(c: &Corpus, idx: usize) -> String {
    let el = &c.els[idx];
    let name = el.attr("name").unwrap_or_default();
    match files()[el.file].ns {
        Some(ns) => format!("{ns}.{name}"),
        None => name.to_string(),
    }
}

/// Whether a mutated corpus refers to `name` where it must exist: a
/// constraint's `target`, a condition's `source` without fallback, a
/// group's `master`, or the text of a `<param type='eole'>`, `<target>` or
/// `<slave>` without `optional`.
fn still_referenced(texts: &[(String, String, Option<&'static str>)], name: &str) -> bool {
    let files: Vec<File> = texts
        .iter()
        .map(|(n, t, ns)| File {
            name: n.clone(),
            text: t.clone(),
            ns: *ns,
        })
        .collect();
    elements(&files).iter().any(|e| {
        let optional = e.attr("optional") == Some("True");
        match e.name.as_str() {
            "fill" | "auto" | "check" => e.attr("target").map(reference).as_deref() == Some(name),
            "condition" => {
                e.attr("fallback") != Some("True")
                    && e.attr("source").map(reference).as_deref() == Some(name)
            }
            "group" => e.attr("master").map(reference).as_deref() == Some(name),
            "param" if e.attr("type") == Some("eole") && !optional => {
                reference(e.text(&files)) == name
            }
            "target" if !optional => {
                matches!(e.attr("type").unwrap_or("variable"), "variable" | "family")
                    && reference(e.text(&files)) == name
            }
            "slave" => reference(e.text(&files)) == name,
            _ => false,
        }
    })
}

#[test]
fn the_corpus_has_every_kind_of_site() {
    let c = the_corpus();
    let count = |f: fn(&Kind) -> bool| c.sites.iter().filter(|s| f(&s.kind)).count();
    assert!(count(|k| matches!(k, Kind::Decl)) > 300);
    assert!(count(|k| matches!(k, Kind::Constraint)) > 100);
    assert!(count(|k| matches!(k, Kind::RefText)) > 100);
    assert!(count(|k| matches!(k, Kind::RefAttr(_))) > 100);
    // Most of the corpus's variables read before mutation (the interfaces
    // past nombre_interfaces are disabled, as on the real server).
    let ok = c.reads.iter().filter(|(_, r)| r.is_ok()).count();
    assert!(ok > 80, "{ok} of {} read", c.reads.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn one_mutation_never_fails_the_load_and_spares_the_rest(
        site in any::<prop::sample::Index>(),
        delete in any::<bool>(),
    ) {
        check(site, delete)?;
    }
}
