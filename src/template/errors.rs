//! Errors of the template layer, worded for an admin: each names the
//! template (with line and column when there is one), the `<file>`
//! declaration or the destination concerned, and what was expected.

use std::fmt;
use std::path::PathBuf;

use crate::dico::Location;

/// Why one `<file>` could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "template '{template}' of <file name='{file}'> ({decl}) not found: {} does not exist",
        path.display()
    )]
    Missing {
        template: String,
        file: String,
        decl: Location,
        path: PathBuf,
    },
    #[error("cannot read template {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    /// The template does not parse (or calls an unknown filter).
    #[error("{loc}: template syntax: {message}")]
    Syntax { loc: Location, message: String },
    /// A variable (or field) the template uses is not in the context.
    #[error("{loc}: template '{template}' uses '{variable}', which is not defined{}", because(.why))]
    Undefined {
        loc: Location,
        template: String,
        variable: String,
        /// Why it is missing, when conteneur knows (disabled, cannot be
        /// computed, unknown with similar names…).
        why: Option<String>,
    },
    /// Any other failure while rendering (a filter refusing a value…).
    #[error("{loc}: {message}")]
    Render { loc: Location, message: String },
    /// The destination cannot be determined or is not acceptable.
    #[error("<file name='{file}'> ({decl}): {message}")]
    Destination {
        file: String,
        decl: Location,
        message: String,
    },
    /// The filelist condition of the file cannot be evaluated.
    #[error("<file name='{file}'> ({decl}): cannot tell whether it is enabled: {message}")]
    Condition {
        file: String,
        decl: Location,
        message: String,
    },
    #[error(
        "<file name='{file}'> ({decl}): unknown {kind} '{name}' (the {kind} must exist before the file is written)"
    )]
    Owner {
        file: String,
        decl: Location,
        /// "user" or "group".
        kind: &'static str,
        name: String,
    },
    #[error(
        "cannot write {}: the folder {} does not exist (create it, or declare the <file> with mkdir=\"True\")",
        path.display(),
        parent.display()
    )]
    NoParent { path: PathBuf, parent: PathBuf },
    #[error("cannot {action} {}: {cause}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    /// `--only NAME` names no `<file>`.
    #[error("no <file> has the template or destination '{name}'{}", known_list(.known))]
    UnknownFile { name: String, known: Vec<String> },
}

fn because(why: &Option<String>) -> String {
    match why {
        Some(w) => format!(": {w}"),
        None => String::new(),
    }
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        " (the dictionaries declare no <file>)".into()
    } else {
        format!(" (known: {})", known.join(", "))
    }
}

impl TemplateError {
    /// Where to point an admin: the template line, or the declaration.
    pub fn location(&self) -> Option<&Location> {
        match self {
            TemplateError::Syntax { loc, .. }
            | TemplateError::Undefined { loc, .. }
            | TemplateError::Render { loc, .. } => Some(loc),
            TemplateError::Missing { decl, .. }
            | TemplateError::Destination { decl, .. }
            | TemplateError::Condition { decl, .. }
            | TemplateError::Owner { decl, .. } => Some(decl),
            _ => None,
        }
    }

    /// The variable concerned, if there is one.
    pub fn variable(&self) -> Option<&str> {
        match self {
            TemplateError::Undefined { variable, .. } => Some(variable),
            _ => None,
        }
    }
}

/// Every error found in one pass: rendering goes on after a failure so that
/// `lint` (and the admin) see all of them at once.
#[derive(Debug)]
pub struct TemplateErrors(pub Vec<TemplateError>);

impl fmt::Display for TemplateErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TemplateErrors {}

impl From<TemplateError> for TemplateErrors {
    fn from(e: TemplateError) -> Self {
        TemplateErrors(vec![e])
    }
}
