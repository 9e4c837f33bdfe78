//! Reading and merging dictionary files.
//!
//! Load order (documented in docs/dictionaries.md): every `*.xml` of a
//! dictionary folder and of its `variante/` and `local/` subfolders, sorted
//! together by file name; on equal names the folder order is main, variante,
//! local. A later file may `redefine` what an earlier one declared, so a
//! site's `variante/` or `local/` dictionary changes a packaged one by giving
//! itself a later name, as on EOLE.
//!
//! This file holds the entry points, the error types, reading and
//! tolerating files, and the helpers every element reader uses; each family
//! of XML elements has its own child module (`files`, `variables`,
//! `constraints`), and the cross-file checks run once everything is merged
//! are in `consistency`.

mod consistency;
mod constraints;
mod containers;
mod files;
mod variables;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::model::*;
use super::xml::{self, Element, LineIndex};

/// A folder of dictionaries, and the namespace its variables live in
/// (`None` for the main `creole` namespace, `Some(ns)` for an extra one).
#[derive(Debug, Clone)]
pub struct Source {
    pub dir: PathBuf,
    pub namespace: Option<String>,
}

/// One problem in a dictionary, with everything needed to fix it.
#[derive(Debug, Clone)]
pub struct DicoError {
    /// File:line:column, when the problem is inside a file.
    pub loc: Option<Location>,
    /// A file-level problem (unreadable file) without a position.
    pub file: Option<PathBuf>,
    /// The variable concerned, when there is one.
    pub variable: Option<String>,
    pub message: String,
}

impl DicoError {
    /// A problem at a place in a file.
    fn at(loc: &Location, variable: Option<&str>, message: String) -> DicoError {
        DicoError {
            loc: Some(loc.clone()),
            file: None,
            variable: variable.map(str::to_string),
            message,
        }
    }
}

impl fmt::Display for DicoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.loc, &self.file) {
            (Some(loc), _) => write!(f, "{loc}: ")?,
            (None, Some(file)) => write!(f, "{}: ", file.display())?,
            (None, None) => {}
        }
        if let Some(var) = &self.variable {
            write!(f, "variable '{var}': ")?;
        }
        f.write_str(&self.message)
    }
}

/// All the problems found in a set of dictionaries.
#[derive(Debug, Clone, thiserror::Error)]
pub struct DicoErrors(pub Vec<DicoError>);

impl fmt::Display for DicoErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in the dictionaries:",
            if n == 1 { "" } else { "s" }
        )?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {e}")?;
        }
        Ok(())
    }
}

/// The dictionaries read so far and every problem met; lint wants both.
///
/// `errors` are fatal, and [`load`] fails: only a file that cannot be read,
/// a file that is not well-formed XML, and two declarations of one
/// variable. Everything else is a `warning`: the declaration at fault is
/// left out, the variables it breaks are in `dicos.broken` (they and what
/// reads them cannot be read), everything else works, and `lint` shows
/// them (docs/dictionaries.md, "Load errors: fatal or tolerated").
pub struct Outcome {
    pub dicos: Dictionaries,
    pub errors: Vec<DicoError>,
    pub warnings: Vec<DicoError>,
}

/// Loads and merges every dictionary of `sources`; fails with every problem.
pub fn load(sources: &[Source]) -> Result<Dictionaries, DicoErrors> {
    let out = load_all(sources);
    if out.errors.is_empty() {
        Ok(out.dicos)
    } else {
        Err(DicoErrors(out.errors))
    }
}

/// The files of one source, in load order (see the module docs).
pub fn list_files(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut found: Vec<(String, usize, PathBuf)> = Vec::new();
    for (rank, sub) in ["", "variante", "local"].iter().enumerate() {
        let d = if sub.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(sub)
        };
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            // Only the main folder must exist; variante/ and local/ are optional.
            Err(e) if rank > 0 && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("xml") || !path.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            found.push((name, rank, path));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, _, p)| p).collect())
}

/// Loads everything it can and collects every problem rather than stopping
/// at the first: an admin fixing a dictionary wants the whole list.
pub fn load_all(sources: &[Source]) -> Outcome {
    let mut loader = Loader::default();
    for source in sources {
        let files = match list_files(&source.dir) {
            Ok(f) => f,
            Err(e) => {
                loader.errors.push(DicoError {
                    loc: None,
                    file: Some(source.dir.clone()),
                    variable: None,
                    message: format!("cannot read the dictionary folder: {e}"),
                });
                continue;
            }
        };
        for path in files {
            loader.load_file(&path, source.namespace.as_deref());
        }
    }
    loader.finish()
}

/// Parses dictionaries given as (file name, text), in that order, as if they
/// were the only files (tests, fuzzing, benchmarks).
pub fn load_texts(texts: &[(&str, &str)]) -> Outcome {
    let mut loader = Loader::default();
    for (name, text) in texts {
        loader.load_text(text, Arc::from(Path::new(name)), None);
    }
    loader.finish()
}

/// [`load_texts`] with a namespace per file (`None`: the main one), as
/// [`load_all`] gives an extra namespace's folder.
pub fn load_texts_in(texts: &[(&str, &str, Option<&str>)]) -> Outcome {
    let mut loader = Loader::default();
    for (name, text, ns) in texts {
        loader.load_text(text, Arc::from(Path::new(name)), *ns);
    }
    loader.finish()
}

/// [`load_texts`] for a single file.
pub fn load_str(text: &str, name: &str) -> Outcome {
    load_texts(&[(name, text)])
}

#[derive(Default)]
struct Loader {
    d: Dictionaries,
    errors: Vec<DicoError>,
    warnings: Vec<DicoError>,
    /// Warnings about broken declarations, and the variables they break:
    /// once everything is merged, the warning names them and what reads them.
    /// (Whether they only lose their computed value.)
    breaks: Vec<(usize, Vec<String>, bool)>,
    /// Families targeted by a broken condition, with its warning: their
    /// variables are known once every file is merged.
    broken_families: Vec<(String, usize)>,
}

/// Context while reading one file.
struct FileCtx<'a> {
    file: Arc<Path>,
    lines: LineIndex<'a>,
    ns: Option<&'a str>,
}

impl FileCtx<'_> {
    fn loc(&self, el: &Element) -> Location {
        let (line, col) = self.lines.line_col(el.offset);
        Location {
            file: self.file.clone(),
            line,
            col,
        }
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "True" | "true" | "TRUE" | "1" => Some(true),
        "False" | "false" | "FALSE" | "0" => Some(false),
        _ => None,
    }
}

impl Loader {
    fn err(&mut self, loc: Location, variable: Option<&str>, message: impl Into<String>) {
        self.errors.push(DicoError {
            loc: Some(loc),
            file: None,
            variable: variable.map(str::to_string),
            message: message.into(),
        });
    }

    /// An inconsistency that does not stop the load: a `lint` warning.
    fn warn(&mut self, loc: Location, variable: Option<&str>, message: impl Into<String>) {
        self.warnings.push(DicoError {
            loc: Some(loc),
            file: None,
            variable: variable.map(str::to_string),
            message: message.into(),
        });
    }

    /// A declaration that cannot be used: it is left out of the model, and
    /// `variables` cannot be read (only their computed value is lost when
    /// `value_only`). The warning names them and, once every file is
    /// merged, the variables that read them.
    fn broken(
        &mut self,
        loc: Location,
        variables: &[String],
        value_only: bool,
        message: impl Into<String>,
    ) {
        let message = message.into();
        for v in variables {
            self.d.broken.push(Broken {
                variable: v.clone(),
                value_only,
                loc: loc.clone(),
                reason: message.clone(),
            });
        }
        let var = (variables.len() == 1).then(|| variables[0].as_str());
        self.warn(loc, var, message);
        self.breaks
            .push((self.warnings.len() - 1, variables.to_vec(), value_only));
    }

    fn notice(&mut self, loc: Location, message: impl Into<String>) {
        self.d.notices.push(Notice {
            loc,
            message: message.into(),
        });
    }

    fn load_file(&mut self, path: &Path, ns: Option<&str>) {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.errors.push(DicoError {
                    loc: None,
                    file: Some(path.to_path_buf()),
                    variable: None,
                    message: format!("cannot read the file: {e}"),
                });
                return;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let off = e.utf8_error().valid_up_to();
                let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let (line, col) = LineIndex::new(&lossy).line_col(off);
                self.err(
                    Location {
                        file: Arc::from(path),
                        line,
                        col,
                    },
                    None,
                    "the file is not valid UTF-8 (dictionaries are UTF-8 XML)",
                );
                return;
            }
        };
        self.load_text(&text, Arc::from(path), ns);
    }

    fn load_text(&mut self, text: &str, file: Arc<Path>, ns: Option<&str>) {
        let ctx = FileCtx {
            file: file.clone(),
            lines: LineIndex::new(text),
            ns,
        };
        self.d.sources.push(file);
        let root = match xml::parse(text) {
            Ok(r) => r,
            Err(e) => {
                let (line, col) = ctx.lines.line_col(e.offset);
                self.err(
                    Location {
                        file: ctx.file.clone(),
                        line,
                        col,
                    },
                    None,
                    format!("malformed XML: {}", e.message),
                );
                return;
            }
        };
        if root.name != "creole" {
            self.warn(
                ctx.loc(&root),
                None,
                format!(
                    "expected the root element <creole>, found <{}>: the file is ignored",
                    root.name
                ),
            );
            return;
        }
        for child in &root.children {
            match child.name.as_str() {
                "files" => self.read_files(&ctx, child),
                "variables" => self.read_variables(&ctx, child),
                "constraints" => self.read_constraints(&ctx, child),
                "help" => self.read_help(&ctx, child),
                "containers" => self.read_containers(&ctx, child),
                other => self.notice(
                    ctx.loc(child),
                    format!("unknown element <{other}> in <creole> is ignored"),
                ),
            }
        }
    }

    fn unknown_attrs(&mut self, ctx: &FileCtx<'_>, el: &Element, known: &[&str]) {
        for (k, _) in &el.attrs {
            if !known.contains(&k.as_str()) {
                let loc = ctx.loc(el);
                self.notice(
                    loc,
                    format!("attribute '{k}' of <{}> is not used by conteneur", el.name),
                );
            }
        }
    }

    fn bool_attr(
        &mut self,
        ctx: &FileCtx<'_>,
        el: &Element,
        name: &str,
        var: Option<&str>,
    ) -> Option<bool> {
        let v = el.attr(name)?;
        match parse_bool(v) {
            Some(b) => Some(b),
            None => {
                self.warn(
                    ctx.loc(el),
                    var,
                    format!("attribute '{name}' must be True or False, found '{v}'; it is ignored"),
                );
                None
            }
        }
    }

    /// Resolves a variable reference made in namespace `ns`. A dotted name is
    /// already a full path (`schedule.fam.day`) and a bare name is a variable
    /// of the main namespace, as in EOLE's extra dictionaries, so `ns` only
    /// documents where the reference was made.
    fn resolve_ref(&self, _ns: Option<&str>, name: &str) -> String {
        name.trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    pub(super) fn ok(xml: &str) -> Dictionaries {
        let out = load_str(xml, "t.xml");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        out.dicos
    }

    /// The warnings of a load that must not fail.
    pub(super) fn warns(xml: &str) -> Vec<String> {
        let out = load_str(xml, "t.xml");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        out.warnings.iter().map(|e| e.to_string()).collect()
    }

    pub(super) fn errs(xml: &str) -> Vec<String> {
        load_str(xml, "t.xml")
            .errors
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn empty_creole_is_valid() {
        let d = ok("<creole/>");
        assert!(d.variables.is_empty());
        ok("<?xml version='1.0' encoding='utf-8'?>\n<creole></creole>");
    }

    #[test]
    fn malformed_xml_points_at_line_and_column() {
        let e = errs("<creole>\n  <variables>\n    <family name='a'>\n  </variables>\n</creole>");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("t.xml:4:"), "{}", e[0]);
    }
}
