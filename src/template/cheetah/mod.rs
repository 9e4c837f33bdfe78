//! Creole's Cheetah dialect, rendered natively, byte for byte as Creole
//! renders it.
//!
//! Creole gives Cheetah3 these compiler settings, which this module
//! hard-codes: `directiveStartToken='%'`, `cheetahVarStartToken='%%'`,
//! `EOLSlurpToken='%'`, and ten `µ` for the comment, multi-line comment
//! and PSP tokens. So `#` starts nothing, `$name` and `##` are text, a
//! line holding only a directive disappears whole, and a line starting
//! with ten `µ` is a comment.
//!
//! A small compiler: [`Template::parse`] reads the text once into a tree
//! ([`parse`], [`expr`]); [`Template::render`] walks it against a
//! [`Namespace`] ([`eval`], [`builtins`]) with Python's semantics where
//! they show in the output (truthiness, `str()` of lists and numbers,
//! `%` formatting, string methods, comparisons).
//!
//! What it does not do is an error naming the template, the line, the
//! column and the construct: never a guess. Python errors a template can
//! catch with `%try`/`%except` (a missing variable, a `KeyError`…) are
//! told apart from constructs conteneur does not evaluate, which no
//! `%except` hides.

mod ast;
mod builtins;
mod eval;
mod expr;
mod format;
pub mod namespace;
mod parse;
mod source;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;

pub use ast::Pos;
pub use namespace::{MACHINE_FUNCS, Namespace, dump};

/// A failure inside the engine, before it gets the template's name.
#[derive(Debug, Clone)]
pub enum Fail {
    /// The text does not parse, or uses a construct conteneur does not
    /// read.
    Syntax(Pos, String),
    /// A Python exception Cheetah would raise (`NotFound`, `KeyError`…):
    /// `%except` catches it.
    Py {
        kind: &'static str,
        msg: String,
        pos: Option<Pos>,
    },
    /// Something conteneur does not evaluate.
    Unsupported(String),
    UnsupportedAt(Pos, String),
}

impl Fail {
    pub fn py(kind: &'static str, msg: String) -> Fail {
        Fail::Py {
            kind,
            msg,
            pos: None,
        }
    }

    /// Gives the error a place, unless it has one.
    pub fn at(self, p: Pos) -> Fail {
        match self {
            Fail::Py {
                kind,
                msg,
                pos: None,
            } => Fail::Py {
                kind,
                msg,
                pos: Some(p),
            },
            Fail::Unsupported(m) => Fail::UnsupportedAt(p, m),
            other => other,
        }
    }

    pub fn is_python(&self) -> bool {
        matches!(self, Fail::Py { .. })
    }
}

/// An error of a Cheetah template, with its name and place.
#[derive(Debug, Clone, thiserror::Error)]
pub struct CheetahError {
    pub template: String,
    pub pos: Pos,
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text does not parse.
    Syntax,
    /// A construct conteneur does not evaluate.
    Unsupported,
    /// The template fails as it would under Creole (a variable or function
    /// it needs is missing, a Python error).
    Python,
}

impl fmt::Display for CheetahError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Syntax => "Creole template syntax",
            ErrorKind::Unsupported => "not supported by conteneur",
            ErrorKind::Python => "Creole template error",
        };
        write!(
            f,
            "{}:{}:{}: {what}: {}",
            self.template, self.pos.line, self.pos.col, self.message
        )
    }
}

impl CheetahError {
    fn new(template: &str, f: Fail) -> CheetahError {
        let (kind, pos, message) = match f {
            Fail::Syntax(p, m) => (ErrorKind::Syntax, p, m),
            // A missing name says so itself; other Python errors keep
            // Python's name for them.
            Fail::Py {
                kind: "NotFound",
                msg,
                pos,
            } => (ErrorKind::Python, pos.unwrap_or_default(), msg),
            Fail::Py { kind, msg, pos } => (
                ErrorKind::Python,
                pos.unwrap_or_default(),
                format!("{kind}: {msg}"),
            ),
            Fail::Unsupported(m) => (ErrorKind::Unsupported, Pos::default(), m),
            Fail::UnsupportedAt(p, m) => (ErrorKind::Unsupported, p, m),
        };
        CheetahError {
            template: template.to_string(),
            pos,
            kind,
            message,
        }
    }
}

/// A parsed template, rendered as often as needed.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    tree: parse::Tree,
}

impl Template {
    /// Parses `text`; `name` is how errors name the template.
    pub fn parse(name: &str, text: &str) -> Result<Template, CheetahError> {
        let tree = parse::parse(text).map_err(|e| CheetahError::new(name, e))?;
        Ok(Template {
            name: name.to_string(),
            tree,
        })
    }

    pub fn render(&self, ns: &Namespace) -> Result<String, CheetahError> {
        eval::render(&self.tree, ns).map_err(|e| CheetahError::new(&self.name, e))
    }
}
