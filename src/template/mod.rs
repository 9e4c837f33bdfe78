//! `template`: the `<file>`s of the dictionaries, rendered with Tera from
//! the templates folder (EOLE's `/usr/share/eole/creole/distrib` by
//! default) and written under the root.
//!
//! Two steps, so that callers can look before anything is written (`lint`,
//! `render --stdout`, the proxy module that validates nginx's site before
//! swapping it in):
//!
//! 1. [`render_all`] decides, for each declared `<file>`, what to do
//!    ([`Action`]): write this content, remove the old output (a file
//!    disabled by its `filelist` and declared `rm="True"`), or leave it
//!    alone (disabled, or a template in Creole's own syntax). It renders
//!    everything it can and returns every error at once.
//! 2. [`write_all`] applies that: atomic writes, mode, owner and group,
//!    `mkdir`, and nothing rewritten when the content is the same. It
//!    returns the files that changed, which later steps reload.
//!
//! Rules chosen here:
//! - Autoescape is off: these are configuration files, not HTML. Values
//!   are made safe where the syntax is known, by filters (see [`filters`]):
//!   `shell_quote`, `json_encode`, `nginx_token`.
//! - An undefined variable is an error naming the template, the line and
//!   the variable, and why it is missing when conteneur knows (disabled,
//!   cannot be computed, unknown: did you mean…). `{% if x is defined %}`
//!   is how a template tests for a variable that may be absent (`{% if x
//!   %}` on an undefined `x` is silently false in Tera).
//! - The context is described in [`context`].
//! - Two engines. A template written in Creole's Cheetah dialect (`%if`,
//!   `%%var`: EOLE's own templates) is rendered by [`cheetah`], byte for
//!   byte as Creole renders it; conteneur's own templates by Tera.
//!   Detection ([`cheetah_line`]): a line starting with a Cheetah directive
//!   (`%if`, `%for`, `%end`…), or `%%` before a name.
//! - On a server where EOLE's own Creole is installed (its Python package
//!   under the root, [`creole_installed`]), [`render_all`] renders only the
//!   files of conteneur's own dictionaries ([`OWN_DICTIONARIES`]): two
//!   tools never write the same system file. [`render_all_everything`]
//!   (`lint`, `render --stdout`, `CreoleCat -t`) renders every file there
//!   too, writing nothing.
//! - A destination is `ROOT` + the declared absolute path; a path with
//!   `..`, or a relative one, is refused (a `name_type="SymLinkOption"`
//!   file takes its path from a variable an admin sets).
//! - Default mode: 0644.

pub mod cheetah;
pub mod cli;
pub mod context;
mod errors;
mod files;
pub mod filters;

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use tera::{ErrorKind, Tera};

use crate::config::{Config, Problem, ProblemKind, Severity};
use crate::dico::{FileDecl, Location};
use crate::paths::Paths;

pub use errors::{TemplateError, TemplateErrors};
pub use files::{Changes, WriteFailure};

/// The mode of a `<file>` that does not declare one.
pub const DEFAULT_MODE: u32 = 0o644;

/// What to do with one declared `<file>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write this content (nothing is rewritten if the file holds it).
    Write(String),
    /// The file is disabled by its filelist and declared `rm="True"`: its
    /// old output is deleted.
    Remove,
    /// Nothing to do, and why (disabled without `rm`, or a file EOLE's
    /// Creole writes on this server).
    Keep(String),
}

/// One `<file>`, rendered.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Template name (`source`, or the base name of the destination).
    pub source: String,
    /// The template file read.
    pub template: PathBuf,
    /// The destination as the dictionary (or its variable) gives it.
    pub declared: String,
    /// The destination under the root.
    pub dest: PathBuf,
    pub action: Action,
    pub mode: u32,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub mkdir: bool,
    /// Where the `<file>` is declared.
    pub decl: Location,
}

/// conteneur's own dictionaries (the package's `dicos/`): the only ones
/// whose files conteneur writes where EOLE's Creole is installed.
pub const OWN_DICTIONARIES: &[&str] = &["10_conteneur.xml"];

/// Where Debian installs EOLE's Creole (package `creole`), under the root.
const CREOLE_PACKAGE: &str = "usr/lib/python3/dist-packages/creole";

/// Whether EOLE's own Creole is installed under the root.
pub fn creole_installed(paths: &Paths) -> bool {
    paths.root.join(CREOLE_PACKAGE).is_dir()
}

/// Whether a `<file>` comes from one of conteneur's own dictionaries.
fn own_file(f: &FileDecl) -> bool {
    f.loc
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| OWN_DICTIONARIES.contains(&n))
}

/// Renders every active `<file>` of the dictionaries, or only the one whose
/// template name or destination (declared or under the root) is `only`.
/// Writes nothing. Every error is collected, not just the first. Where
/// EOLE's Creole is installed, the files of other dictionaries than
/// conteneur's are left to it.
pub fn render_all(
    cfg: &Config,
    paths: &Paths,
    only: Option<&str>,
) -> Result<Vec<Rendered>, TemplateErrors> {
    render_files(cfg, paths, only, creole_installed(paths))
}

/// [`render_all`], also rendering the files EOLE's Creole writes (to show
/// them: `lint`, `render --stdout`, `CreoleCat -t`).
pub fn render_all_everything(
    cfg: &Config,
    paths: &Paths,
    only: Option<&str>,
) -> Result<Vec<Rendered>, TemplateErrors> {
    render_files(cfg, paths, only, false)
}

fn render_files(
    cfg: &Config,
    paths: &Paths,
    only: Option<&str>,
    leave_to_creole: bool,
) -> Result<Vec<Rendered>, TemplateErrors> {
    let files = &cfg.dictionaries().files;
    let mut errors: Vec<TemplateError> = Vec::new();
    let mut selected: Vec<(&FileDecl, String, PathBuf)> = Vec::new();
    for f in files {
        match destinations(cfg, paths, f) {
            Ok(dests) => {
                for (declared, dest) in dests {
                    // A file of `<all>` the host declares too: rendered
                    // once, by the first declaration that applies now.
                    if let Some(pos) = selected.iter().position(|(_, _, d)| *d == dest) {
                        let active = |f: &FileDecl| cfg.file_active(f).unwrap_or(true);
                        if active(selected[pos].0) || !active(f) {
                            continue;
                        }
                        selected.remove(pos);
                    }
                    let wanted = only.is_none_or(|n| {
                        f.source == n || declared == n || dest.as_os_str() == n || f.name == n
                    });
                    if wanted {
                        selected.push((f, declared, dest));
                    }
                }
            }
            // An unwanted file's broken destination is not this run's concern.
            Err(e) if only.is_none_or(|n| f.source == n || f.name == n) => errors.push(e),
            Err(_) => {}
        }
    }
    if let Some(n) = only
        && selected.is_empty()
        && errors.is_empty()
    {
        let mut known: Vec<String> = files.iter().map(|f| f.source.clone()).collect();
        known.sort();
        known.dedup();
        return Err(TemplateError::UnknownFile {
            name: n.to_string(),
            known,
        }
        .into());
    }

    let mut tera = Tera::default();
    // Tera escapes HTML for .html/.xml names: never for configuration files.
    tera.autoescape_on(Vec::<&'static str>::new());
    filters::register(&mut tera);
    // Template name -> its text, once loaded and parsed.
    let mut loaded: HashMap<String, Arc<str>> = HashMap::new();
    // Template name -> its Cheetah tree, for those in Creole's dialect.
    let mut cheetahs: HashMap<String, cheetah::Template> = HashMap::new();
    let mut broken: HashSet<String> = HashSet::new();
    let mut out: Vec<Rendered> = Vec::new();
    // Indexes in `out` still to render.
    let mut queue: Vec<usize> = Vec::new();

    for (f, declared, dest) in selected {
        let template = paths.templates.join(&f.source);
        let mut r = Rendered {
            source: f.source.clone(),
            template: template.clone(),
            declared,
            dest,
            action: Action::Keep(String::new()),
            mode: f.mode.unwrap_or(DEFAULT_MODE),
            owner: f.owner.clone(),
            group: f.group.clone(),
            mkdir: f.mkdir,
            decl: f.loc.clone(),
        };
        if leave_to_creole && !own_file(f) {
            r.action = Action::Keep(format!(
                "EOLE's Creole is installed ({}): it writes the files of {}",
                paths.root.join(CREOLE_PACKAGE).display(),
                f.loc.file.display()
            ));
            out.push(r);
            continue;
        }
        let active = cfg.file_active(f);
        if let Ok(false) = active {
            let list = f.filelist.as_deref().unwrap_or_default();
            r.action = if f.rm {
                Action::Remove
            } else {
                Action::Keep(format!("disabled by its filelist '{list}'"))
            };
            out.push(r);
            continue;
        }
        if broken.contains(&f.source) {
            continue;
        }
        if !loaded.contains_key(&f.source) {
            let text = match read_template(f, &template) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(e);
                    broken.insert(f.source.clone());
                    continue;
                }
            };
            if cheetah_line(&text).is_some() {
                match cheetah::Template::parse(&f.source, &text) {
                    Ok(t) => {
                        cheetahs.insert(f.source.clone(), t);
                        loaded.insert(f.source.clone(), Arc::from(text));
                    }
                    Err(e) => {
                        errors.push(cheetah_error(e, &template));
                        broken.insert(f.source.clone());
                        continue;
                    }
                }
            } else if let Err(e) = tera.add_raw_template(&f.source, &text) {
                errors.extend(syntax_errors(e, &f.source, &template));
                broken.insert(f.source.clone());
                continue;
            } else {
                loaded.insert(f.source.clone(), Arc::from(text));
            }
        }
        if let Err(e) = active {
            errors.push(TemplateError::Condition {
                file: f.name.clone(),
                decl: f.loc.clone(),
                message: e.to_string(),
            });
            continue;
        }
        if let Err(e) = files::ownership(&r) {
            errors.extend(e);
        }
        queue.push(out.len());
        out.push(r);
    }

    if !queue.is_empty() {
        let tera_needed = queue
            .iter()
            .any(|i| !cheetahs.contains_key(&out[*i].source));
        let built = if tera_needed {
            context::build(cfg)
        } else {
            context::Built::default()
        };
        let mut namespace = None;
        for i in queue {
            let r = &mut out[i];
            if let Some(t) = cheetahs.get(&r.source) {
                let ns = namespace.get_or_insert_with(|| cheetah::Namespace::from_config(cfg));
                match t.render(ns) {
                    Ok(text) => r.action = Action::Write(text),
                    Err(e) => errors.push(cheetah_error(e, &r.template)),
                }
                continue;
            }
            match tera.render(&r.source, &built.context) {
                Ok(text) => r.action = Action::Write(text),
                Err(e) => errors.push(render_error(
                    e,
                    &r.source,
                    &paths.templates,
                    &loaded,
                    cfg,
                    &built.missing,
                )),
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(TemplateErrors(errors))
    }
}

/// Writes what [`render_all`] decided: see [`files`]'s rules. Returns the
/// files written, removed and left unchanged. On failure, the files that
/// could be handled were, and the error says which (`done`).
pub fn write_all(rendered: &[Rendered]) -> Result<Changes, WriteFailure> {
    files::write_all(rendered)
}

/// Renders every template against the current values, writing nothing, and
/// lists every failure for `lint`.
pub fn lint(cfg: &Config, paths: &Paths) -> Vec<Problem> {
    let files = &cfg.dictionaries().files;
    if files.is_empty() {
        return Vec::new();
    }
    let problem = |severity, message: String| Problem {
        severity,
        kind: ProblemKind::Template,
        variable: None,
        loc: None,
        message,
    };
    if !paths.templates.is_dir() {
        return vec![problem(
            Severity::Warning,
            format!(
                "the templates folder {} does not exist: the {} <file>(s) of the dictionaries were not checked (give --templates DIR)",
                paths.templates.display(),
                files.len()
            ),
        )];
    }
    match render_all_everything(cfg, paths, None) {
        Ok(_) => Vec::new(),
        Err(errs) => errs
            .0
            .into_iter()
            .map(|e| problem(Severity::Error, e.to_string()))
            .collect(),
    }
}

/// The destinations of a `<file>`: as declared, and under the root and
/// its container's path (`container_path_NAME`, empty when containers are
/// off), one per container for a file of `<all>`.
fn destinations(
    cfg: &Config,
    paths: &Paths,
    f: &FileDecl,
) -> Result<Vec<(String, PathBuf)>, TemplateError> {
    let (declared, dest) = destination(cfg, paths, f)?;
    let bad = |message: String| TemplateError::Destination {
        file: f.name.clone(),
        decl: f.loc.clone(),
        message,
    };
    let roots = cfg
        .file_roots(f)
        .map_err(|e| bad(format!("its container's path cannot be read: {e}")))?;
    let mut out = Vec::with_capacity(roots.len());
    for root in roots {
        if root.is_empty() {
            out.push((declared.clone(), dest.clone()));
            continue;
        }
        let p = Path::new(&root);
        if !p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(bad(format!(
                "its container's path '{root}' is not an absolute path without '..'"
            )));
        }
        let under = paths
            .root
            .join(root.trim_start_matches('/'))
            .join(declared.trim_start_matches('/'));
        out.push((declared.clone(), under));
    }
    Ok(out)
}

/// The destination of a `<file>`: as declared, and under the root.
fn destination(
    cfg: &Config,
    paths: &Paths,
    f: &FileDecl,
) -> Result<(String, PathBuf), TemplateError> {
    let bad = |message: String| TemplateError::Destination {
        file: f.name.clone(),
        decl: f.loc.clone(),
        message,
    };
    let declared = if f.name_from_variable {
        match cfg.get(&f.name) {
            Ok(v) => match v.first() {
                Some(p) if !p.is_empty() => p.to_string(),
                _ => {
                    return Err(bad(format!(
                        "its destination is the value of '{}', which is not set",
                        f.name
                    )));
                }
            },
            Err(e) => return Err(bad(format!("its destination cannot be read: {e}"))),
        }
    } else {
        f.name.clone()
    };
    let p = Path::new(&declared);
    if !p.is_absolute() {
        return Err(bad(format!(
            "the destination '{declared}' is not an absolute path"
        )));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(bad(format!(
            "the destination '{declared}' holds '..', which could leave the root"
        )));
    }
    let rel = declared.trim_start_matches('/');
    if rel.is_empty() {
        return Err(bad("the destination is the root folder itself".into()));
    }
    Ok((declared.clone(), paths.root.join(rel)))
}

fn read_template(f: &FileDecl, path: &Path) -> Result<String, TemplateError> {
    let plain = Path::new(&f.source)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return Err(TemplateError::Destination {
            file: f.name.clone(),
            decl: f.loc.clone(),
            message: format!(
                "the template name '{}' must be a plain name inside the templates folder",
                f.source
            ),
        });
    }
    std::fs::read_to_string(path).map_err(|cause| {
        if cause.kind() == std::io::ErrorKind::NotFound {
            TemplateError::Missing {
                template: f.source.clone(),
                file: f.name.clone(),
                decl: f.loc.clone(),
                path: path.to_path_buf(),
            }
        } else {
            TemplateError::Read {
                path: path.to_path_buf(),
                cause,
            }
        }
    })
}

/// The Cheetah directives EOLE's templates use at the start of a line.
const CHEETAH_DIRECTIVES: &[&str] = &[
    "if", "elif", "else", "end", "for", "set", "silent", "slurp", "def", "include", "import",
    "from", "compiler", "raw", "try", "except", "while", "break", "continue", "return", "pass",
    "echo", "unless", "block", "call", "filter", "stop",
];

/// The first line (1-based) that shows Creole's Cheetah syntax, if any.
pub fn cheetah_line(text: &str) -> Option<usize> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix('%') {
            let word: String = rest.chars().take_while(|&c| ident(c)).collect();
            if CHEETAH_DIRECTIVES.contains(&word.as_str()) {
                return Some(i + 1);
            }
        }
        let mut from = 0;
        while let Some(pos) = line[from..].find("%%") {
            let after = line[from + pos + 2..].chars().next();
            if after.is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '{' | '(')) {
                return Some(i + 1);
            }
            from += pos + 2;
        }
    }
    None
}

/// A Cheetah template's error, placed in the template file.
fn cheetah_error(e: cheetah::CheetahError, path: &Path) -> TemplateError {
    let loc = location(path, e.pos.line as usize, e.pos.col as usize);
    match e.kind {
        cheetah::ErrorKind::Syntax => TemplateError::Syntax {
            loc,
            message: e.message,
        },
        cheetah::ErrorKind::Unsupported => TemplateError::Render {
            loc,
            message: format!("not supported by conteneur: {}", e.message),
        },
        cheetah::ErrorKind::Python => TemplateError::Render {
            loc,
            message: format!(
                "the template fails (as it would under Creole): {}",
                e.message
            ),
        },
    }
}

fn location(path: &Path, line: usize, col: usize) -> Location {
    Location {
        file: Arc::from(path),
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: u32::try_from(col).unwrap_or(u32::MAX),
    }
}

/// Errors of adding a template: a syntax error, or unknown filters, tests
/// and functions (Tera reports those as text, one block per use:
/// "error: MESSAGE\n --> NAME:LINE:COL\n…").
fn syntax_errors(e: tera::Error, name: &str, path: &Path) -> Vec<TemplateError> {
    match e.kind() {
        ErrorKind::SyntaxError(r) => vec![TemplateError::Syntax {
            loc: location(path, r.span().start_line, r.span().start_col + 1),
            message: r.message().to_string(),
        }],
        ErrorKind::Msg(text) => {
            let mut out = Vec::new();
            for block in text.split("\n\n") {
                let message = block
                    .lines()
                    .next()
                    .unwrap_or(block)
                    .trim_start_matches("error: ")
                    .to_string();
                let (line, col) = block
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("--> "))
                    .and_then(|at| {
                        let mut it = at.rsplitn(3, ':');
                        let col = it.next()?.parse().ok()?;
                        let line = it.next()?.parse().ok()?;
                        Some((line, col))
                    })
                    .unwrap_or((1, 1));
                out.push(TemplateError::Syntax {
                    loc: location(path, line, col),
                    message,
                });
            }
            out
        }
        _ => vec![TemplateError::Syntax {
            loc: location(path, 1, 1),
            message: format!("template '{name}': {e}"),
        }],
    }
}

/// Turns a rendering error into one naming the template line and, for an
/// undefined value, the variable and why it is missing.
fn render_error(
    e: tera::Error,
    name: &str,
    folder: &Path,
    texts: &HashMap<String, Arc<str>>,
    cfg: &Config,
    missing: &HashMap<String, String>,
) -> TemplateError {
    let ErrorKind::RenderingError(r) = e.kind() else {
        return TemplateError::Render {
            loc: location(&folder.join(name), 1, 1),
            message: e.to_string(),
        };
    };
    // The error may sit in an included template.
    let tpl = if r.filename().is_empty() {
        name
    } else {
        r.filename()
    };
    let span = r.span();
    let loc = location(&folder.join(tpl), span.start_line, span.start_col + 1);
    let expr = texts
        .get(tpl)
        .map(|t| expression_at(t, span.range.clone()))
        .unwrap_or_default();
    let msg = r.message();
    let undefined = |variable: String| {
        let why = why_missing(cfg, missing, &variable);
        TemplateError::Undefined {
            loc: loc.clone(),
            template: tpl.to_string(),
            variable,
            why,
        }
    };
    if let Some(rest) = msg.strip_prefix("Variable `") {
        let var = rest.split('`').next().unwrap_or(rest).to_string();
        return undefined(var);
    }
    if let Some(rest) = msg.strip_prefix("Field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        let fields = msg
            .split_once("Available fields: ")
            .map(|(_, f)| format!(" (it has: {f})"))
            .unwrap_or_default();
        return TemplateError::Undefined {
            loc: loc.clone(),
            template: tpl.to_string(),
            variable: if expr.is_empty() {
                field.to_string()
            } else {
                expr.clone()
            },
            why: Some(format!("no field '{field}'{fields}")),
        };
    }
    if (msg.contains("got `undefined`") || msg.contains("variable that is undefined"))
        && !expr.is_empty()
    {
        return undefined(expr);
    }
    TemplateError::Render {
        loc,
        message: if expr.is_empty() {
            msg.to_string()
        } else {
            format!("{msg} (in '{expr}')")
        },
    }
}

/// The variable path (`a.b[0].c`) around a span: Tera points at the
/// failing part only (`c`), an admin wants to see the whole path.
fn expression_at(text: &str, range: std::ops::Range<usize>) -> String {
    let path_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']');
    let Some(inner) = text.get(range.clone()) else {
        return String::new();
    };
    let inner = inner.split('|').next().unwrap_or(inner).trim();
    if !inner.chars().all(path_char) {
        return inner.to_string();
    }
    let before = &text[..range.start];
    let start = before
        .char_indices()
        .rev()
        .take_while(|&(_, c)| path_char(c))
        .last()
        .map_or(range.start, |(i, _)| i);
    let after = &text[range.end..];
    let end = range.end
        + after
            .char_indices()
            .find(|&(_, c)| !path_char(c))
            .map_or(after.len(), |(i, _)| i);
    text[start..end].to_string()
}

/// Why `expr` (a variable, or a dotted path into one) is not in the context.
fn why_missing(cfg: &Config, missing: &HashMap<String, String>, expr: &str) -> Option<String> {
    let root = expr.split(['.', '[']).next().unwrap_or(expr).trim();
    for name in [expr, root] {
        if let Some(why) = missing.get(name) {
            return Some(why.clone());
        }
    }
    if expr != root {
        // Tera reports an undefined root by itself: here the root exists
        // (a variable, a view or a loop variable) and the rest does not.
        // An extra namespace's `ns.family.var` is a variable, though.
        return match cfg.get(expr) {
            Err(e) if !matches!(e, crate::config::ValueError::Unknown { .. }) => {
                Some(e.to_string())
            }
            _ => Some(format!(
                "'{root}' has no '{}'",
                expr[root.len()..].trim_start_matches('.')
            )),
        };
    }
    match cfg.get(root) {
        Ok(_) => None,
        Err(crate::config::ValueError::Unknown { similar, .. }) if similar.is_empty() => {
            // Not a variable: maybe a misspelt view.
            let view = context::VIEWS
                .iter()
                .find(|v| strsim::jaro_winkler(root, v) > 0.85);
            Some(match view {
                Some(v) => format!("no variable or view '{root}' (did you mean '{v}'?)"),
                None => format!("no variable or view '{root}'"),
            })
        }
        Err(e) => Some(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
