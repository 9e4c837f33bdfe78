//! Values as the engine handles them, and their JSON form in config.eol.

use std::fmt;

use crate::dico::VarType;

/// A variable's value. Every value is kept as text, as Creole's templates
/// see it; numbers become JSON integers only when written to config.eol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A simple variable; `None` is unset.
    Single(Option<String>),
    /// A multi variable, a master or a slave (one entry per index of its
    /// master; `None` where an index has no value).
    Multi(Vec<Option<String>>),
}

impl Value {
    pub fn none() -> Value {
        Value::Single(None)
    }

    pub fn text(s: impl Into<String>) -> Value {
        Value::Single(Some(s.into()))
    }

    /// The values as a list (a single value is a list of one, unset is empty).
    pub fn items(&self) -> Vec<Option<&str>> {
        match self {
            Value::Single(None) => Vec::new(),
            Value::Single(Some(s)) => vec![Some(s.as_str())],
            Value::Multi(v) => v.iter().map(|x| x.as_deref()).collect(),
        }
    }

    /// The set values, skipping unset entries.
    pub fn present(&self) -> Vec<&str> {
        self.items().into_iter().flatten().collect()
    }

    /// The single value, or the first of a list.
    pub fn first(&self) -> Option<&str> {
        match self {
            Value::Single(s) => s.as_deref(),
            Value::Multi(v) => v.first().and_then(|x| x.as_deref()),
        }
    }

    /// Unset, or a list with no set value.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Single(s) => s.as_deref().is_none_or(str::is_empty),
            Value::Multi(v) => v.iter().all(|x| x.as_deref().is_none_or(str::is_empty)),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Value::Single(_) => 1,
            Value::Multi(v) => v.len(),
        }
    }

    /// The JSON value config.eol stores (integer for `number`).
    pub fn to_json(&self, ty: VarType) -> serde_json::Value {
        match self {
            Value::Single(s) => item_json(s.as_deref(), ty),
            Value::Multi(v) => {
                serde_json::Value::Array(v.iter().map(|x| item_json(x.as_deref(), ty)).collect())
            }
        }
    }

    /// Lines as `CreoleGet VAR` prints them: one value per line for a list.
    pub fn to_lines(&self) -> Vec<String> {
        match self {
            Value::Single(s) => vec![s.clone().unwrap_or_default()],
            Value::Multi(v) => v.iter().map(|x| x.clone().unwrap_or_default()).collect(),
        }
    }
}

/// `get --list` style: a list is shown as Python shows it, as on EOLE.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Single(None) => Ok(()),
            Value::Single(Some(s)) => f.write_str(s),
            Value::Multi(v) => {
                f.write_str("[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match x {
                        None => f.write_str("None")?,
                        Some(s) => write!(f, "'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))?,
                    }
                }
                f.write_str("]")
            }
        }
    }
}

pub(crate) fn item_json(s: Option<&str>, ty: VarType) -> serde_json::Value {
    match s {
        None => serde_json::Value::Null,
        Some(s) if ty.is_number() => match s.parse::<i64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::String(s.to_string()),
        },
        Some(s) => serde_json::Value::String(s.to_string()),
    }
}

/// A JSON scalar from config.eol as text. Lists and objects are not scalars.
pub(crate) fn json_item(v: &serde_json::Value) -> Result<Option<String>, String> {
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s.clone())),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        // Python's json writes booleans for a few old variables.
        serde_json::Value::Bool(b) => Ok(Some(if *b { "True" } else { "False" }.to_string())),
        serde_json::Value::Array(_) => Err("a list where a single value was expected".into()),
        serde_json::Value::Object(_) => Err("an object where a single value was expected".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_json() {
        let v = Value::Multi(vec![Some("a'b".into()), None]);
        assert_eq!(v.to_string(), "['a\\'b', None]");
        assert_eq!(
            Value::text("42").to_json(VarType::Number),
            serde_json::json!(42)
        );
        assert_eq!(
            Value::text("42").to_json(VarType::String),
            serde_json::json!("42")
        );
        assert!(Value::Multi(vec![None]).is_empty());
        assert_eq!(
            json_item(&serde_json::json!(3)).unwrap().as_deref(),
            Some("3")
        );
    }
}
