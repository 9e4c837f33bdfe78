//! Python's string formatting (`'%s' % x`, `'{}'.format(x)`) and the
//! methods of `str`.

use std::rc::Rc;

use super::Fail;
use super::builtins::{get_item, int_of};
use super::value::Value;

type R<T> = Result<T, Fail>;

fn type_error(msg: impl Into<String>) -> Fail {
    Fail::py("TypeError", msg.into())
}

/// Width, fill and alignment.
fn pad(s: String, width: usize, left: bool, zero: bool) -> String {
    let n = s.chars().count();
    if n >= width {
        return s;
    }
    let fill = width - n;
    if left {
        format!("{s}{}", " ".repeat(fill))
    } else if zero {
        let (sign, digits) = match s.strip_prefix('-') {
            Some(d) => ("-", d.to_string()),
            None => ("", s),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

fn float_of(v: &Value) -> R<f64> {
    match v.plain() {
        Value::Int(i) => Ok(*i as f64),
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Float(f) => Ok(*f),
        other => Err(type_error(format!(
            "must be real number, not {}",
            other.type_name()
        ))),
    }
}

/// `fmt % args`.
pub fn percent(fmt: &str, args: &Value) -> R<String> {
    let (items, map): (Vec<Value>, Option<&Value>) = match args {
        Value::Tuple(t) => (t.as_ref().clone(), None),
        Value::Dict(_) => (vec![args.clone()], Some(args)),
        other => (vec![other.clone()], None),
    };
    let mut next = 0;
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut key = None;
        if chars.get(i) == Some(&'(') {
            let end = chars[i..]
                .iter()
                .position(|c| *c == ')')
                .ok_or_else(|| Fail::py("ValueError", "incomplete format key".into()))?;
            key = Some(chars[i + 1..i + end].iter().collect::<String>());
            i += end + 1;
        }
        let (mut left, mut zero, mut plus, mut space) = (false, false, false, false);
        while let Some(f) = chars.get(i) {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' => space = true,
                '#' => return Err(Fail::Unsupported("the '#' flag of % formatting".into())),
                _ => break,
            }
            i += 1;
        }
        let num = |i: &mut usize| {
            let start = *i;
            while chars.get(*i).is_some_and(char::is_ascii_digit) {
                *i += 1;
            }
            chars[start..*i]
                .iter()
                .collect::<String>()
                .parse::<usize>()
                .ok()
        };
        if chars.get(i) == Some(&'*') {
            return Err(Fail::Unsupported("'*' widths in % formatting".into()));
        }
        let width = num(&mut i).unwrap_or(0);
        let prec = if chars.get(i) == Some(&'.') {
            i += 1;
            Some(num(&mut i).unwrap_or(0))
        } else {
            None
        };
        let Some(&conv) = chars.get(i) else {
            return Err(Fail::py("ValueError", "incomplete format".into()));
        };
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let arg = match (&key, map) {
            (Some(k), Some(m)) => get_item(m, &Value::str(k.as_str()))?,
            (Some(_), None) => return Err(type_error("format requires a mapping")),
            (None, _) => {
                let a = items
                    .get(next)
                    .cloned()
                    .ok_or_else(|| type_error("not enough arguments for format string"))?;
                next += 1;
                a
            }
        };
        let sign = |s: String, neg: bool| {
            if neg {
                s
            } else if plus {
                format!("+{s}")
            } else if space {
                format!(" {s}")
            } else {
                s
            }
        };
        let text = match conv {
            's' => {
                let s = arg.to_str()?;
                match prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'r' => arg.repr()?,
            'd' | 'i' | 'u' => {
                let n = match arg.plain() {
                    Value::Float(f) => f.trunc() as i64,
                    _ => int_of(&arg).map_err(|_| {
                        type_error(format!(
                            "%{conv} format: a number is required, not {}",
                            arg.type_name()
                        ))
                    })?,
                };
                sign(n.to_string(), n < 0)
            }
            'x' | 'X' | 'o' => {
                let n = int_of(&arg)?;
                let body = match conv {
                    'x' => format!("{:x}", n.unsigned_abs()),
                    'X' => format!("{:X}", n.unsigned_abs()),
                    _ => format!("{:o}", n.unsigned_abs()),
                };
                sign(if n < 0 { format!("-{body}") } else { body }, n < 0)
            }
            'f' | 'F' => {
                let f = float_of(&arg)?;
                sign(format!("{:.*}", prec.unwrap_or(6), f), f < 0.0)
            }
            'c' => match arg.plain() {
                Value::Str(s) if s.chars().count() == 1 => s.to_string(),
                other => char::from_u32(u32::try_from(int_of(other)?).unwrap_or(0xFFFF_FFFF))
                    .map(String::from)
                    .ok_or_else(|| Fail::py("OverflowError", "%c arg not in range".into()))?,
            },
            other => {
                return Err(Fail::Unsupported(format!(
                    "the '%{other}' conversion of % formatting"
                )));
            }
        };
        out.push_str(&pad(
            text,
            width,
            left,
            zero && !matches!(conv, 's' | 'r' | 'c'),
        ));
    }
    if map.is_none() && next < items.len() && !matches!(args, Value::Dict(_)) {
        return Err(type_error(
            "not all arguments converted during string formatting",
        ));
    }
    Ok(out)
}

/// `'…'.format(args)`: `{}`, `{0}`, `{name}`, `{0.attr}` and `{:spec}`
/// with fill, alignment and width.
fn format(s: &str, args: &[Value]) -> R<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut auto = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' && chars.get(i + 1) == Some(&'{') {
            out.push('{');
            i += 2;
            continue;
        }
        if c == '}' && chars.get(i + 1) == Some(&'}') {
            out.push('}');
            i += 2;
            continue;
        }
        if c != '{' {
            out.push(c);
            i += 1;
            continue;
        }
        let end = chars[i..].iter().position(|c| *c == '}').ok_or_else(|| {
            Fail::py(
                "ValueError",
                "Single '{' encountered in format string".into(),
            )
        })?;
        let field: String = chars[i + 1..i + end].iter().collect();
        i += end + 1;
        let (name, spec) = field.split_once(':').unwrap_or((&field, ""));
        if name.contains('!') || name.contains('[') || name.contains('.') {
            return Err(Fail::Unsupported(format!("the format field '{{{field}}}'")));
        }
        let v = if name.is_empty() {
            auto += 1;
            args.get(auto - 1)
        } else if let Ok(k) = name.parse::<usize>() {
            args.get(k)
        } else {
            return Err(Fail::Unsupported(format!(
                "the keyword format field '{{{name}}}'"
            )));
        }
        .ok_or_else(|| Fail::py("IndexError", "Replacement index out of range".into()))?;
        out.push_str(&format_spec(v, spec)?);
    }
    Ok(out)
}

fn format_spec(v: &Value, spec: &str) -> R<String> {
    if spec.is_empty() {
        return v.to_str();
    }
    let chars: Vec<char> = spec.chars().collect();
    let mut k = 0;
    let (mut fill, mut align) = (' ', None);
    if chars.len() >= 2 && matches!(chars[1], '<' | '>' | '^') {
        fill = chars[0];
        align = Some(chars[1]);
        k = 2;
    } else if matches!(chars.first(), Some('<' | '>' | '^')) {
        align = Some(chars[0]);
        k = 1;
    }
    let digits: String = chars[k..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    k += digits.len();
    let width: usize = digits.parse().unwrap_or(0);
    let ty = chars.get(k).copied();
    if k + usize::from(ty.is_some()) != chars.len() {
        return Err(Fail::Unsupported(format!("the format spec '{spec}'")));
    }
    let text = match (ty, v.plain()) {
        (None | Some('s'), Value::Str(s)) => s.to_string(),
        (None | Some('d'), Value::Int(i)) => i.to_string(),
        (None, other) => other.to_str()?,
        _ => return Err(Fail::Unsupported(format!("the format spec '{spec}'"))),
    };
    let numeric = matches!(v.plain(), Value::Int(_) | Value::Float(_));
    let n = text.chars().count();
    if n >= width {
        return Ok(text);
    }
    let gap = width - n;
    let f = |k: usize| fill.to_string().repeat(k);
    Ok(match align.unwrap_or(if numeric { '>' } else { '<' }) {
        '<' => format!("{text}{}", f(gap)),
        '>' => format!("{}{text}", f(gap)),
        _ => format!("{}{text}{}", f(gap / 2), f(gap - gap / 2)),
    })
}

fn str_arg(m: &str, v: &Value) -> R<Rc<str>> {
    match v.plain() {
        Value::Str(s) => Ok(s.clone()),
        other => Err(type_error(format!(
            "{m}() argument must be str, not {}",
            other.type_name()
        ))),
    }
}

fn strs(v: Vec<&str>) -> Value {
    Value::list(v.into_iter().map(Value::str).collect())
}

/// Python's whitespace, for `split()` and `strip()`.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

pub fn str_method(s: &Rc<str>, m: &str, args: &[Value]) -> R<Value> {
    let n = args.len();
    let chars = |a: Option<&Value>| -> R<Option<Vec<char>>> {
        match a {
            None | Some(Value::None) => Ok(None),
            Some(v) => Ok(Some(str_arg(m, v)?.chars().collect())),
        }
    };
    let b = Value::Bool;
    Ok(match (m, n) {
        ("lower", 0) => Value::str(s.to_lowercase()),
        ("upper", 0) => Value::str(s.to_uppercase()),
        ("strip" | "lstrip" | "rstrip", 0 | 1) => {
            let set = chars(args.first())?;
            let strip = |c: char| match &set {
                Some(set) => set.contains(&c),
                None => py_space(c),
            };
            Value::str(match m {
                "strip" => s.trim_matches(strip),
                "lstrip" => s.trim_start_matches(strip),
                _ => s.trim_end_matches(strip),
            })
        }
        ("split" | "rsplit", 0..=2) => {
            let max = match args.get(1) {
                Some(v) => int_of(v)?,
                None => -1,
            };
            let sep = match args.first() {
                None | Some(Value::None) => None,
                Some(v) => Some(str_arg(m, v)?),
            };
            match (sep, max) {
                (None, -1) => strs(s.split(py_space).filter(|x| !x.is_empty()).collect()),
                (Some(sep), _) if sep.is_empty() => {
                    return Err(Fail::py("ValueError", "empty separator".into()));
                }
                (Some(sep), -1) => strs(s.split(sep.as_ref()).collect()),
                (Some(sep), k) if k >= 0 => {
                    let k = usize::try_from(k).unwrap_or(0) + 1;
                    if m == "split" {
                        strs(s.splitn(k, sep.as_ref()).collect())
                    } else {
                        let mut v: Vec<&str> = s.rsplitn(k, sep.as_ref()).collect();
                        v.reverse();
                        strs(v)
                    }
                }
                _ => return Err(Fail::Unsupported(format!("{m}() with these arguments"))),
            }
        }
        ("join", 1) => {
            let mut parts = Vec::new();
            for v in args[0].iter()? {
                match v.plain() {
                    Value::Str(x) => parts.push(x.to_string()),
                    other => {
                        return Err(type_error(format!(
                            "sequence item {}: expected str instance, {} found",
                            parts.len(),
                            other.type_name()
                        )));
                    }
                }
            }
            Value::str(parts.join(s))
        }
        ("replace", 2 | 3) => {
            let (a, r) = (str_arg(m, &args[0])?, str_arg(m, &args[1])?);
            match args.get(2) {
                None => Value::str(s.replace(a.as_ref(), &r)),
                Some(k) => {
                    let k = int_of(k)?;
                    if k < 0 {
                        Value::str(s.replace(a.as_ref(), &r))
                    } else {
                        Value::str(s.replacen(a.as_ref(), &r, usize::try_from(k).unwrap_or(0)))
                    }
                }
            }
        }
        ("startswith" | "endswith", 1) => {
            let opts: Vec<Rc<str>> = match &args[0] {
                Value::Tuple(t) => t.iter().map(|v| str_arg(m, v)).collect::<R<_>>()?,
                v => vec![str_arg(m, v)?],
            };
            b(opts.iter().any(|p| {
                if m == "startswith" {
                    s.starts_with(p.as_ref())
                } else {
                    s.ends_with(p.as_ref())
                }
            }))
        }
        ("find" | "rfind" | "index", 1) => {
            let sub = str_arg(m, &args[0])?;
            let at = if m == "rfind" {
                s.rfind(sub.as_ref())
            } else {
                s.find(sub.as_ref())
            };
            match at {
                Some(i) => Value::Int(i64::try_from(s[..i].chars().count()).unwrap_or(0)),
                None if m == "index" => {
                    return Err(Fail::py("ValueError", "substring not found".into()));
                }
                None => Value::Int(-1),
            }
        }
        ("count", 1) => {
            let sub = str_arg(m, &args[0])?;
            let c = if sub.is_empty() {
                s.chars().count() + 1
            } else {
                s.matches(sub.as_ref()).count()
            };
            Value::Int(i64::try_from(c).unwrap_or(0))
        }
        ("format", _) => Value::str(format(s, args)?),
        ("capitalize", 0) => {
            let mut c = s.chars();
            Value::str(match c.next() {
                Some(f) => format!("{}{}", f.to_uppercase(), c.as_str().to_lowercase()),
                None => String::new(),
            })
        }
        ("title", 0) => {
            let mut out = String::new();
            let mut prev = false;
            for c in s.chars() {
                if c.is_alphabetic() {
                    if prev {
                        out.extend(c.to_lowercase());
                    } else {
                        out.extend(c.to_uppercase());
                    }
                    prev = true;
                } else {
                    out.push(c);
                    prev = false;
                }
            }
            Value::str(out)
        }
        ("isdigit", 0) => b(!s.is_empty() && s.chars().all(|c| c.is_ascii_digit())),
        ("isalpha", 0) => b(!s.is_empty() && s.chars().all(char::is_alphabetic)),
        ("isalnum", 0) => b(!s.is_empty() && s.chars().all(char::is_alphanumeric)),
        ("isspace", 0) => b(!s.is_empty() && s.chars().all(py_space)),
        ("islower", 0) => {
            b(s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase))
        }
        ("isupper", 0) => {
            b(s.chars().any(char::is_uppercase) && !s.chars().any(char::is_lowercase))
        }
        ("zfill", 1) => {
            let w = usize::try_from(int_of(&args[0])?).unwrap_or(0);
            Value::str(pad(s.to_string(), w, false, true))
        }
        ("ljust" | "rjust" | "center", 1) => {
            let w = usize::try_from(int_of(&args[0])?).unwrap_or(0);
            let n = s.chars().count();
            let gap = w.saturating_sub(n);
            Value::str(match m {
                "ljust" => format!("{s}{}", " ".repeat(gap)),
                "rjust" => format!("{}{s}", " ".repeat(gap)),
                // CPython's rule for where the odd space goes.
                _ => {
                    let left = gap / 2 + (gap & w & 1);
                    format!("{}{s}{}", " ".repeat(left), " ".repeat(gap - left))
                }
            })
        }
        ("partition" | "rpartition", 1) => {
            let sep = str_arg(m, &args[0])?;
            let at = if m == "partition" {
                s.find(sep.as_ref())
            } else {
                s.rfind(sep.as_ref())
            };
            let parts = match at {
                Some(i) => vec![&s[..i], sep.as_ref(), &s[i + sep.len()..]],
                None if m == "partition" => vec![s.as_ref(), "", ""],
                None => vec!["", "", s.as_ref()],
            };
            Value::Tuple(Rc::new(parts.into_iter().map(Value::str).collect()))
        }
        ("splitlines", 0) => strs(s.lines().collect()),
        _ => {
            return Err(type_error(format!(
                "str.{m}() does not take {n} argument(s) here"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(v: Vec<Value>) -> Value {
        Value::Tuple(Rc::new(v))
    }

    #[test]
    fn percent_formatting() {
        let t = tuple(vec![Value::str("a"), Value::Int(5), Value::Float(1.5)]);
        assert_eq!(percent("%s-%03d-%.2f%%", &t).unwrap(), "a-005-1.50%");
        assert_eq!(percent("[%-4s]", &Value::str("x")).unwrap(), "[x   ]");
        assert!(percent("%s %s", &Value::str("x")).is_err());
    }

    #[test]
    fn format_method() {
        let s: Rc<str> = Rc::from("{0} and {0:>4}|{1:<3}|");
        let r = str_method(&s, "format", &[Value::str("a"), Value::Int(7)]).unwrap();
        assert_eq!(r.to_str().unwrap(), "a and    a|7  |");
    }
}
