//! `conteneur export`: the current configuration's containers as files
//! other tools run, built from the same launch plans `instance` and
//! `reconfigure` converge and checked as a run checks them: a compose file
//! ([`compose`], `export compose`) and a stack file for `docker stack
//! deploy` ([`stack`], `export stack`). What both share is here: the
//! command line, the errors, the checks of what is wanted, and the text
//! (JSON that compose reads as YAML, written atomically).

pub mod compose;
pub mod stack;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde::Serialize;
use serde::ser::SerializeMap;

use crate::config::{Config, ConfigError};
use crate::exit::Failure;
use crate::paths::Paths;
use crate::plan::PlanError;
use crate::plan::launch::Launch;

pub use compose::{COMPOSE_VERSION, ComposeArgs, ComposeFile, Service};
pub use stack::{STACK_VERSION, StackArgs};

/// `conteneur export ...`
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub format: ExportFormat,
}

#[derive(Debug, Subcommand)]
pub enum ExportFormat {
    /// The containers as a compose file (version 3.7, JSON, which compose
    /// reads as YAML): `docker-compose -f FILE up -d` runs the same
    /// containers. Changes nothing.
    Compose(ComposeArgs),
    /// The containers as a stack file for `docker stack deploy` (compose
    /// 3.8, JSON): the same services conteneur runs under
    /// `conteneur_orchestrator` swarm, with the swarm front. Changes
    /// nothing.
    Stack(stack::StackArgs),
}

/// Why nothing was exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}\nnothing was exported")]
    Desired(#[from] crate::plan::desired::DesiredError),
    #[error(
        "{} cannot be written as compose services (compose runs Docker containers only): {}; \
         use --docker-only to leave them out",
        if .0.len() == 1 { "this container" } else { "these containers" },
        .0.iter().map(|(n, b)| format!("'{n}' ({b})")).collect::<Vec<_>>().join(", ")
    )]
    NotDocker(Vec<(String, String)>),
    #[error("{0}")]
    Mount(PlanError),
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// A map that keeps its insertion order (the configuration's order).
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<T> Ordered<T> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// compose substitutes `$VAR` and `${VAR}` in every value; `$$` is a `$`.
pub(crate) fn lit(s: &str) -> String {
    s.replace('$', "$$")
}

/// The host side of a bind mount, as conteneur gives it to the engine:
/// under the root, made absolute (compose would read a relative path as
/// relative to the compose file). Unlike a run, the folder is not created:
/// the engine creates a missing bind source for the short syntax used here.
pub fn bind_host(root: &Path, host: &str) -> PathBuf {
    let norm = crate::mounts::normalise(host).unwrap_or_else(|| host.to_string());
    let p = root.join(norm.trim_start_matches('/'));
    std::path::absolute(&p).unwrap_or(p)
}

/// The launch plans of the configuration under `paths`, checked as a run
/// checks them before changing anything (values, templates, the plan file).
pub fn desired(paths: &Paths) -> Result<(Config, Vec<Launch>), ExportError> {
    let cfg = Config::load(paths)?;
    let (_, launches) = crate::plan::desired::desired(&cfg, paths)?;
    Ok((cfg, launches))
}

/// The bind mounts of `docker` as a run checks them, where they really
/// lead (symbolic links followed: under the root, no system folder unless
/// allowed, none inside another): what `export compose` and `export stack`
/// write must be what a run accepts.
pub(crate) fn check_binds(
    docker: &[Launch],
    paths: &Paths,
    allow_system: bool,
) -> Result<(), ExportError> {
    crate::plan::desired::resolve_binds(&paths.root, docker, allow_system)
        .map_err(|e| ExportError::Mount(e.into()))
}

/// serde_json's pretty printer, escaping what PyYAML (YAML 1.1) refuses in
/// a document (DEL, C1 controls but NEL, U+FFFE/U+FFFF) or folds inside a
/// double-quoted string (NEL, LINE and PARAGRAPH SEPARATOR). `\uXXXX` means
/// the same character in JSON and in YAML.
struct YamlSafe(serde_json::ser::PrettyFormatter<'static>);

fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}'
    )
}

impl serde_json::ser::Formatter for YamlSafe {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if needs_escape(c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    // Pretty printing: the rest is PrettyFormatter's.
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// The file's text: pretty JSON that compose reads as YAML, ending with a
/// newline.
pub fn to_text<T: Serialize>(file: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        YamlSafe(serde_json::ser::PrettyFormatter::new()),
    );
    // Serializing plain structs of strings into memory cannot fail.
    if file.serialize(&mut ser).is_err() {
        return String::new();
    }
    out.push(b'\n');
    String::from_utf8(out).unwrap_or_default()
}

/// Writes `text` to `path` atomically ([`crate::atomic`]), only readable by
/// its owner (0600, as before: the file may name secrets).
pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<(), ExportError> {
    crate::atomic::write(path, text.as_bytes(), 0o600).map_err(|e| ExportError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// `conteneur export ...`
pub fn cmd(paths: &Paths, a: ExportArgs) -> Result<u8, Failure> {
    match a.format {
        ExportFormat::Compose(c) => compose::cmd(paths, c),
        ExportFormat::Stack(a) => stack::cmd(paths, a),
    }
}
