//! Errors and problems of the configuration layer, worded for an admin.

use std::fmt;

use crate::dico::{DicoErrors, Location};

use super::eol::EolError;

/// Why a value cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ValueError {
    #[error("unknown variable '{name}'{}", suggestion(.similar))]
    Unknown { name: String, similar: Vec<String> },
    #[error(
        "variable '{name}' does not exist: it would be instance {index} of '{template}', but '{counter}' is {count} (raise it with: CreoleSet {counter} {index})"
    )]
    NoSuchInstance {
        name: String,
        template: String,
        index: usize,
        counter: String,
        count: String,
    },
    #[error("variable '{name}' is disabled: {because}")]
    Disabled { name: String, because: String },
    #[error(
        "variable '{name}' is computed by the function '{func}' ({loc}), which conteneur does not support; \
         set the value by hand or remove that <{kind}> in a local dictionary"
    )]
    Unsupported {
        name: String,
        func: String,
        kind: &'static str,
        loc: Location,
    },
    #[error(
        "variable '{name}' is computed with the Python expression '{expr}' ({loc}), which conteneur does not evaluate"
    )]
    Python {
        name: String,
        expr: String,
        loc: Location,
    },
    #[error("variable '{name}': the calculation '{func}' ({loc}) failed: {reason}")]
    Calc {
        name: String,
        func: String,
        loc: Location,
        reason: String,
    },
    #[error("variable '{name}' depends on itself through {chain}")]
    Cycle { name: String, chain: String },
    #[error("variable '{name}': the value {} is not valid: {reason} (rule: {rule}, {loc})", shown(.value))]
    Invalid {
        name: String,
        /// The value; [`HIDDEN`] for a password's.
        value: String,
        /// The type or the check that refuses it.
        rule: String,
        reason: String,
        /// Where the rule is declared.
        loc: Location,
    },
    #[error(
        "variable '{name}' cannot be read: its {rule} ({loc}) cannot be evaluated: {reason}; \
         the dictionary must be fixed"
    )]
    UnreadableCheck {
        name: String,
        rule: String,
        reason: String,
        loc: Location,
    },
    #[error(
        "variable '{name}' cannot be read: {reason} ({loc}); the dictionary must be fixed (`conteneur lint` lists what it breaks)"
    )]
    Broken {
        name: String,
        reason: String,
        /// Where the broken declaration is.
        loc: Location,
    },
    #[error("{file}: the stored value of '{name}' is not usable: {reason}")]
    Stored {
        name: String,
        file: String,
        reason: String,
    },
}

impl ValueError {
    /// The variable the error is about (for a value that reads another
    /// one, that other variable).
    pub fn variable(&self) -> &str {
        match self {
            ValueError::Unknown { name, .. }
            | ValueError::NoSuchInstance { name, .. }
            | ValueError::Disabled { name, .. }
            | ValueError::Unsupported { name, .. }
            | ValueError::Python { name, .. }
            | ValueError::Calc { name, .. }
            | ValueError::Cycle { name, .. }
            | ValueError::Invalid { name, .. }
            | ValueError::UnreadableCheck { name, .. }
            | ValueError::Broken { name, .. }
            | ValueError::Stored { name, .. } => name,
        }
    }

    /// Whether the dictionaries, not the values, are at fault: a broken
    /// declaration, a circular calculation, a check that cannot be read.
    /// `lint` names the cause as a warning; the variable stays unreadable.
    pub fn is_dictionary_fault(&self) -> bool {
        matches!(
            self,
            ValueError::Broken { .. }
                | ValueError::Cycle { .. }
                | ValueError::UnreadableCheck { .. }
        )
    }
}

/// What stands for a password's value in a message.
pub(crate) const HIDDEN: &str = "(the password, not shown)";

/// A value in a message, quoted; a password's is never shown ([`HIDDEN`]
/// stands for it), nor the credentials a URL carries (`http://user:TOKEN@…`).
fn shown(value: &str) -> String {
    if value == HIDDEN {
        HIDDEN.to_string()
    } else {
        format!("'{}'", crate::userinfo::public(value))
    }
}

/// What a message may say of `value`: [`HIDDEN`] for a password's.
pub(crate) fn showable(value: &str, secret: bool) -> String {
    if secret {
        HIDDEN.to_string()
    } else {
        value.to_string()
    }
}

/// `text` (a check's message about `value`) with a password's value
/// replaced by [`HIDDEN`], and a URL's credentials taken out.
pub(crate) fn conceal(text: String, value: &str, secret: bool) -> String {
    if value.is_empty() {
        return text;
    }
    if secret {
        return text.replace(value, HIDDEN);
    }
    let public = crate::userinfo::public(value);
    if public != value {
        text.replace(value, &public)
    } else {
        text
    }
}

fn suggestion(similar: &[String]) -> String {
    match similar {
        [] => String::new(),
        [one] => format!(" (did you mean '{one}'?)"),
        many => format!(" (did you mean one of: {}?)", many.join(", ")),
    }
}

/// Why a `set` was refused. Nothing was written when this is returned.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SetError {
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("variable '{name}' is frozen: {because}")]
    Frozen { name: String, because: String },
    #[error("variable '{name}' is always computed by '{func}' ({loc}) and cannot be set")]
    Computed {
        name: String,
        func: String,
        loc: Location,
    },
    #[error("variable '{name}' takes a single value, {count} were given")]
    NotMulti { name: String, count: usize },
    #[error(
        "variable '{name}' is a slave of '{master}', which has {expected} value(s): give exactly {expected} value(s), one per index, found {found}"
    )]
    SlaveLength {
        name: String,
        master: String,
        expected: usize,
        found: usize,
    },
    #[error("variable '{name}': {} is not valid: {reason} (expected {expected})", shown(.value))]
    Invalid {
        name: String,
        /// The value; [`HIDDEN`] for a password's.
        value: String,
        expected: &'static str,
        reason: String,
    },
    #[error("variable '{name}': {message}")]
    Check { name: String, message: String },
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Dicos(#[from] DicoErrors),
    #[error(transparent)]
    Eol(#[from] EolError),
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// The family a problem belongs to, for grouping in `lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProblemKind {
    Dictionary,
    Unsupported,
    Value,
    Template,
}

/// One line of `lint`.
#[derive(Debug, Clone)]
pub struct Problem {
    pub severity: Severity,
    pub kind: ProblemKind,
    pub variable: Option<String>,
    pub loc: Option<Location>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: ")?;
        if let Some(loc) = &self.loc {
            write!(f, "{loc}: ")?;
        }
        if let Some(v) = &self.variable {
            write!(f, "variable '{v}': ")?;
        }
        f.write_str(&self.message)
    }
}
