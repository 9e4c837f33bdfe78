//! Filters conteneur adds to Tera, so that a value lands in a configuration
//! file without breaking its syntax.
//!
//! The dictionary already refuses names, ports and paths that could break
//! nginx or shell syntax; these filters are the second guard, in the
//! template, where the syntax is known:
//!
//! - `shell_quote`: a value as one single-quoted shell word (`'` becomes
//!   `'\''`); a list as its quoted words separated by spaces (for a bash
//!   array: `NAME=({{ list | shell_quote }})`); none as `''`.
//! - `shell_name`: checks a shell variable name, refusing anything else.
//! - `json_encode`: any value as JSON (strings escaped, numbers, booleans,
//!   none as `null`, lists and objects).
//! - `nginx_token`: a value as a bare nginx token; refuses (the rendering
//!   fails, naming the template line) anything that is empty or holds
//!   whitespace, a quote, `;`, `{`, `}`, `$`, `#` or `\`.
//!
//! Every filter refuses an undefined value: a template must not write an
//! empty string where a value was expected and missing.

use tera::{Error, ErrorKind, Kwargs, State, Tera, Value};

/// Registers conteneur's filters on a Tera instance.
pub fn register(tera: &mut Tera) {
    tera.register_filter("shell_quote", shell_quote);
    tera.register_filter("shell_name", shell_name);
    tera.register_filter("json_encode", json_encode);
    tera.register_filter("nginx_token", nginx_token);
    tera.register_filter("without_userinfo", without_userinfo);
}

/// An undefined value given to a filter: reported by Tera at the value's
/// place in the template, which lets the caller name the variable.
fn undefined() -> Error {
    Error::new(ErrorKind::InvalidArgument {
        expected_type: "a defined value".into(),
        actual_type: "undefined".into(),
    })
}

/// Quotes `s` as one POSIX shell word: inside single quotes nothing is
/// special but the quote itself, which is closed, escaped and reopened.
pub fn quote_word(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The text of a scalar as a template would print it (none: empty).
fn scalar_text(v: &Value) -> Result<String, Error> {
    if v.is_undefined() {
        return Err(undefined());
    }
    if v.is_none() {
        return Ok(String::new());
    }
    if v.is_map() || v.is_array() {
        return Err(Error::message(format!(
            "expected a single value, found a {}",
            v.name()
        )));
    }
    Ok(v.to_string())
}

fn shell_quote(v: &Value, _: Kwargs, _: &State) -> Result<String, Error> {
    if let Some(items) = v.as_array() {
        let words: Result<Vec<String>, Error> = items
            .iter()
            .map(|i| scalar_text(i).map(|s| quote_word(&s)))
            .collect();
        return Ok(words?.join(" "));
    }
    Ok(quote_word(&scalar_text(v)?))
}

fn shell_name(v: &Value, _: Kwargs, _: &State) -> Result<String, Error> {
    let s = scalar_text(v)?;
    let mut chars = s.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(s)
    } else {
        Err(Error::message(format!(
            "'{}' is not a shell variable name (letters, digits and '_', not starting with a digit)",
            s.escape_debug()
        )))
    }
}

fn json_encode(v: &Value, _: Kwargs, _: &State) -> Result<String, Error> {
    if v.is_undefined() {
        return Err(undefined());
    }
    serde_json::to_string(v).map_err(|e| Error::message(format!("cannot encode as JSON: {e}")))
}

/// Characters that end or change an nginx token.
pub(crate) fn nginx_forbidden(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c, ';' | '{' | '}' | '\'' | '"' | '$' | '#' | '\\')
}

/// A URL without the credentials it may carry ([`crate::userinfo`]); a
/// list, each item; anything else as it is.
fn without_userinfo(v: &Value, _: Kwargs, _: &State) -> Value {
    strip_userinfo(v)
}

fn strip_userinfo(v: &Value) -> Value {
    if let Some(s) = v.as_str() {
        return Value::from(crate::userinfo::public(s));
    }
    match v.as_array() {
        Some(items) => Value::from(items.iter().map(strip_userinfo).collect::<Vec<_>>()),
        None => v.clone(),
    }
}

fn nginx_token(v: &Value, _: Kwargs, _: &State) -> Result<String, Error> {
    let s = scalar_text(v)?;
    if s.is_empty() {
        return Err(Error::message(
            "an empty value cannot be an nginx token (the directive would lose its argument)",
        ));
    }
    if let Some(c) = s.chars().find(|&c| nginx_forbidden(c)) {
        return Err(Error::message(format!(
            "'{}' cannot go into nginx's configuration: it holds {:?} (no whitespace, quotes, ';', '{{', '}}', '$', '#' or '\\' allowed)",
            s.escape_debug(),
            c
        )));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tera::Context;

    fn render(tpl: &str, ctx: &Context) -> Result<String, String> {
        let mut t = Tera::default();
        t.autoescape_on(Vec::<&str>::new());
        register(&mut t);
        t.add_raw_template("t", tpl).map_err(|e| e.to_string())?;
        t.render("t", ctx).map_err(|e| e.to_string())
    }

    fn ctx(v: serde_json::Value) -> Context {
        Context::from_serialize(&v).unwrap()
    }

    #[test]
    fn shell_quote_survives_bash() {
        let c = ctx(serde_json::json!({
            "s": "it's $HOME `x` \"q\" \\ \n;",
            "l": ["a b", "c'd", 3],
            "n": null,
            "i": 42
        }));
        assert_eq!(
            render("{{ s | shell_quote }}", &c).unwrap(),
            "'it'\\''s $HOME `x` \"q\" \\ \n;'"
        );
        assert_eq!(
            render("{{ l | shell_quote }}", &c).unwrap(),
            "'a b' 'c'\\''d' '3'"
        );
        assert_eq!(render("{{ n | shell_quote }}", &c).unwrap(), "''");
        assert_eq!(render("{{ i | shell_quote }}", &c).unwrap(), "'42'");
        assert!(render("{{ nothing | shell_quote }}", &c).is_err());
        // The real proof: bash reads back exactly what was written.
        let script = render(
            "s={{ s | shell_quote }}\nl=({{ l | shell_quote }})\nprintf '%s|' \"$s\" \"${l[@]}\"",
            &c,
        )
        .unwrap();
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "it's $HOME `x` \"q\" \\ \n;|a b|c'd|3|"
        );
    }

    #[test]
    fn shell_name_refuses_non_identifiers() {
        let c = ctx(serde_json::json!({"ok": "conteneur1_name", "bad": "a;b", "digit": "1a"}));
        assert_eq!(
            render("{{ ok | shell_name }}", &c).unwrap(),
            "conteneur1_name"
        );
        assert!(render("{{ bad | shell_name }}", &c).is_err());
        assert!(render("{{ digit | shell_name }}", &c).is_err());
    }

    #[test]
    fn json_encode_escapes_everything() {
        let c = ctx(serde_json::json!({"s": "a\"b\\c\n</x>", "m": {"k": [1, null, true]}}));
        assert_eq!(
            render("{{ s | json_encode }}", &c).unwrap(),
            r#""a\"b\\c\n</x>""#
        );
        assert_eq!(
            render("{{ m | json_encode }}", &c).unwrap(),
            r#"{"k":[1,null,true]}"#
        );
        let e = render("{{ missing | json_encode }}", &c).unwrap_err();
        assert!(e.contains("undefined"), "{e}");
    }

    #[test]
    fn nginx_token_refuses_what_breaks_the_syntax() {
        for bad in [
            "a;b", "a b", "a{", "}", "a'b", "a\"b", "a\nb", "$x", "a#b", "a\\b", "", "\t",
        ] {
            let c = ctx(serde_json::json!({ "v": bad }));
            assert!(
                render("{{ v | nginx_token }}", &c).is_err(),
                "{bad:?} was accepted"
            );
        }
        let c = ctx(serde_json::json!({"v": "app-1_x.example.fr:8080/p", "n": 80}));
        assert_eq!(
            render("{{ v | nginx_token }} {{ n | nginx_token }}", &c).unwrap(),
            "app-1_x.example.fr:8080/p 80"
        );
    }
}
