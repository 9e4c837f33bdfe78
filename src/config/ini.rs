//! Reading the EOLE 2.3 form of config.eol: INI sections whose `val` is a
//! Python list literal, as Python 2's `ConfigParser` and `repr` wrote them.
//! Only reading: [`super::eol::EolFile::save`] always writes JSON.

use std::path::Path;

use indexmap::IndexMap;
use serde_json::Value;

use super::eol::{EolError, LEGACY_OWNER, entry_object, line_col};
use super::pylit;

/// A `val = …` value being read (it may go on over indented continuation lines).
struct PendingValue {
    section: String,
    text: String,
    /// Line and column where the value starts, for error positions.
    line: usize,
    column: usize,
    /// False for the keys that are read but ignored (`valdefault`, `valprec`, …).
    keep: bool,
}

/// Parses the EOLE 2.3 INI form, as Python 2's `ConfigParser` wrote it: `[variable]`
/// sections, `key = value` (or `key: value`) lines, `#`/`;` comment lines, and indented
/// continuation lines. Only `val` is kept; `valdefault`, `valprec` and other keys are ignored.
/// A section repeated later replaces the earlier value, keeping the first position.
pub(super) fn parse_ini(text: &str, path: &Path) -> Result<IndexMap<String, Value>, EolError> {
    let err = |line: usize, column: usize, message: String| EolError::IniSyntax {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let mut entries = IndexMap::new();
    let mut section: Option<String> = None;
    let mut pending: Option<PendingValue> = None;

    let finish = |p: PendingValue, entries: &mut IndexMap<String, Value>| {
        if !p.keep {
            return Ok(());
        }
        let items = parse_py_list(&p.text).map_err(|(offset, message)| {
            let (dl, dc) = line_col(&p.text, offset);
            let column = if dl == 1 { p.column + dc - 1 } else { dc };
            err(p.line + dl - 1, column, message)
        })?;
        let val = match <[Value; 1]>::try_from(items) {
            Ok([one]) => one,
            Err(items) => Value::Array(items),
        };
        entries.insert(
            p.section,
            entry_object(val, Value::String(LEGACY_OWNER.to_owned())),
        );
        Ok(())
    };

    for (idx, line) in text.lines().enumerate() {
        let lineno = idx + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent > 0
            && let Some(p) = pending.as_mut()
        {
            // Keep the indent so that error columns match the file.
            p.text.push('\n');
            p.text.push_str(line.trim_end());
            continue;
        }
        if let Some(p) = pending.take() {
            finish(p, &mut entries)?;
        }
        let column = line_col(line, indent).1;
        if let Some(inner) = trimmed.strip_prefix('[') {
            let Some((name, after)) = inner.split_once(']') else {
                return Err(err(
                    lineno,
                    column,
                    "section header has no closing ']'".to_owned(),
                ));
            };
            let (name, after) = (name.trim(), after.trim_start());
            if name.is_empty() {
                return Err(err(lineno, column, "empty section name '[]'".to_owned()));
            }
            if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
                return Err(err(
                    lineno,
                    column,
                    format!("unexpected text after the section header [{name}]"),
                ));
            }
            section = Some(name.to_owned());
            continue;
        }
        let Some((key_part, raw_value)) = trimmed.split_once(['=', ':']) else {
            return Err(err(
                lineno,
                column,
                format!(
                    "expected '[variable]' or 'key = value', found {:?}",
                    shorten(trimmed)
                ),
            ));
        };
        let key = key_part.trim();
        if key.is_empty() {
            return Err(err(lineno, column, "a value has no key name".to_owned()));
        }
        let Some(current) = section.clone() else {
            return Err(err(
                lineno,
                column,
                format!("'{key}' appears before any [variable] section"),
            ));
        };
        let value = raw_value.trim_start();
        // Byte offset of the value in the line: indent, key part, the one-byte separator,
        // then the blanks before the value.
        let value_offset = indent + key_part.len() + 1 + (raw_value.len() - value.len());
        pending = Some(PendingValue {
            section: current,
            text: value.trim_end().to_owned(),
            line: lineno,
            column: line_col(line, value_offset).1,
            keep: key == "val",
        });
    }
    if let Some(p) = pending.take() {
        finish(p, &mut entries)?;
    }
    Ok(entries)
}

fn shorten(s: &str) -> String {
    let mut short: String = s.chars().take(60).collect();
    if short.len() < s.len() {
        short.push('…');
    }
    short
}

/// Reads the `val` of an EOLE 2.3 entry, a list as Python 2's `repr` wrote
/// it (`['a', u'b', "c'd", None, 5L]`), into JSON values, with the one
/// Python-literal parser ([`pylit`]). On error: the byte offset in `s`, and
/// the message.
fn parse_py_list(s: &str) -> Result<Vec<Value>, (usize, String)> {
    let items =
        pylit::parse(s, pylit::Dialect::Repr2).map_err(|e| (e.byte_offset(s), e.describe()))?;
    Ok(items.into_iter().map(json_of).collect())
}

/// A typed Python item as the JSON value EOLE 2.4+ stores.
fn json_of(item: pylit::Item) -> Value {
    match item {
        pylit::Item::Str(s) => Value::String(s),
        pylit::Item::Bool(b) => Value::Bool(b),
        pylit::Item::None => Value::Null,
        pylit::Item::Number(text) => match text.parse::<i64>() {
            Ok(i) => Value::from(i),
            // The parser only gives finite numbers; a text it cannot be is
            // kept rather than lost.
            Err(_) => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::String(text), Value::Number),
        },
    }
}
