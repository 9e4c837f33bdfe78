//! Python values as the templates see them, with Python's semantics where
//! they show in the output: `str()` and `repr()`, truthiness, equality and
//! ordering of strings and numbers.
//!
//! Lists and dicts are shared and mutable (`%%d.setdefault(k, []).append(x)`
//! changes `d`), as in Python: `Rc<RefCell<…>>`.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;

use super::Fail;

/// A list or a dict shared between names, as Python shares them.
pub type Shared<T> = Rc<RefCell<T>>;

/// A master of a master/slave group: its values and its slaves' lists.
#[derive(Debug)]
pub struct Master {
    pub values: Vec<Value>,
    pub slaves: Vec<(String, Vec<Value>)>,
}

/// One index of a master: its value, with the slaves' values at that index
/// as attributes.
#[derive(Debug)]
pub struct MasterItem {
    pub value: Value,
    pub slaves: Vec<(String, Value)>,
}

/// Python's types the templates name (`isinstance(x, list)`, `str(x)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // Python's own name
pub enum Type {
    Str,
    Int,
    Float,
    Bool,
    List,
    Tuple,
    Dict,
    Set,
    NoneType,
}

impl Type {
    pub fn name(self) -> &'static str {
        match self {
            Type::Str => "str",
            Type::Int => "int",
            Type::Float => "float",
            Type::Bool => "bool",
            Type::List => "list",
            Type::Tuple => "tuple",
            Type::Dict => "dict",
            Type::Set => "set",
            Type::NoneType => "NoneType",
        }
    }
}

/// A callable: a builtin function, a method bound to its object, a
/// template `%def`, or a helper of the namespace.
#[derive(Debug, Clone)]
pub enum Func {
    Builtin(&'static str),
    Method(Box<Value>, Rc<str>),
    Def(usize),
    Helper(&'static str),
}

#[derive(Debug, Clone)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    List(Shared<Vec<Value>>),
    Tuple(Rc<Vec<Value>>),
    /// `d.keys()`, `d.values()`, `d.items()`: a list that prints as
    /// `dict_keys([…])`.
    View(&'static str, Rc<Vec<Value>>),
    /// `range(start, stop, step)`, which prints as itself.
    Range(i64, i64, i64),
    /// Insertion-ordered, as Python's dicts; the templates' dicts are small.
    Dict(Shared<Vec<(Value, Value)>>),
    /// Python's sets iterate in hash order, which is not reproducible:
    /// conteneur keeps insertion order and refuses to iterate or print a
    /// set of more than one element.
    Set(Shared<Vec<Value>>),
    Master(Rc<Master>),
    Item(Rc<MasterItem>),
    Type(Type),
    Func(Func),
    /// An object of the namespace (`creole_client`).
    Object(&'static str),
}

impl Value {
    pub fn str(s: impl Into<Rc<str>>) -> Value {
        Value::Str(s.into())
    }

    pub fn list(v: Vec<Value>) -> Value {
        Value::List(Rc::new(RefCell::new(v)))
    }

    pub fn dict(v: Vec<(Value, Value)>) -> Value {
        Value::Dict(Rc::new(RefCell::new(v)))
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Range(..) => "range",
            Value::View(k, _) => k,
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::Master(_) | Value::Item(_) => "CreoleMaster",
            Value::Type(_) => "type",
            Value::Func(_) => "function",
            Value::Object(_) => "object",
        }
    }

    /// Python's `bool(x)`.
    pub fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) | Value::Set(l) => !l.borrow().is_empty(),
            Value::Tuple(t) => !t.is_empty(),
            Value::Range(..) => range_len(self) > 0,
            Value::View(_, v) => !v.is_empty(),
            Value::Dict(d) => !d.borrow().is_empty(),
            Value::Master(m) => !m.values.is_empty(),
            Value::Item(i) => i.value.truthy(),
            Value::Type(_) | Value::Func(_) | Value::Object(_) => true,
        }
    }

    /// Python's `str(x)`.
    pub fn to_str(&self) -> Result<String, Fail> {
        Ok(match self {
            Value::Str(s) => s.to_string(),
            Value::Item(i) => i.value.to_str()?,
            Value::Float(f) => float_repr(*f),
            _ => self.repr()?,
        })
    }

    /// Python's `repr(x)`.
    pub fn repr(&self) -> Result<String, Fail> {
        Ok(match self {
            Value::None => "None".into(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => float_repr(*f),
            Value::Str(s) => str_repr(s),
            Value::List(l) => format!("[{}]", reprs(&l.borrow())?),
            Value::Tuple(t) if t.len() == 1 => format!("({},)", t[0].repr()?),
            Value::Tuple(t) => format!("({})", reprs(t)?),
            Value::View(k, v) => format!("{k}([{}])", reprs(v)?),
            Value::Range(a, b, 1) => format!("range({a}, {b})"),
            Value::Range(a, b, c) => format!("range({a}, {b}, {c})"),
            Value::Dict(d) => {
                let mut parts = Vec::new();
                for (k, v) in d.borrow().iter() {
                    parts.push(format!("{}: {}", k.repr()?, v.repr()?));
                }
                format!("{{{}}}", parts.join(", "))
            }
            Value::Set(s) => {
                let s = s.borrow();
                match s.len() {
                    0 => "set()".into(),
                    1 => format!("{{{}}}", s[0].repr()?),
                    _ => return Err(unordered_set()),
                }
            }
            Value::Master(m) => format!("[{}]", reprs(&m.values)?),
            Value::Item(i) => i.value.repr()?,
            Value::Type(t) => format!("<class '{}'>", t.name()),
            Value::Func(_) | Value::Object(_) => {
                return Err(Fail::Unsupported(format!(
                    "the text of a {} (Python prints its memory address)",
                    self.type_name()
                )));
            }
        })
    }

    /// The elements `for x in v` walks.
    pub fn iter(&self) -> Result<Vec<Value>, Fail> {
        Ok(match self {
            Value::Str(s) => s.chars().map(|c| Value::str(c.to_string())).collect(),
            Value::List(l) => l.borrow().clone(),
            Value::Tuple(t) | Value::View(_, t) => t.as_ref().clone(),
            Value::Range(a, b, c) => {
                let mut out = Vec::new();
                let mut i = *a;
                while (*c > 0 && i < *b) || (*c < 0 && i > *b) {
                    out.push(Value::Int(i));
                    i += c;
                }
                out
            }
            Value::Dict(d) => d.borrow().iter().map(|(k, _)| k.clone()).collect(),
            Value::Set(s) => {
                let s = s.borrow();
                if s.len() > 1 {
                    return Err(unordered_set());
                }
                s.clone()
            }
            Value::Master(m) => (0..m.values.len()).map(|i| master_item(m, i)).collect(),
            Value::Item(i) => i.value.iter()?,
            other => {
                return Err(Fail::py(
                    "TypeError",
                    format!("'{}' object is not iterable", other.type_name()),
                ));
            }
        })
    }

    /// The plain value of a master's index (comparisons, arithmetic).
    pub fn plain(&self) -> &Value {
        match self {
            Value::Item(i) => i.value.plain(),
            v => v,
        }
    }
}

/// The number of elements of a range (0 for anything else).
pub fn range_len(v: &Value) -> usize {
    match v {
        Value::Range(a, b, c) if *c > 0 && b > a => {
            usize::try_from((b - a + c - 1) / c).unwrap_or(0)
        }
        Value::Range(a, b, c) if *c < 0 && a > b => {
            usize::try_from((a - b - c - 1) / -c).unwrap_or(0)
        }
        _ => 0,
    }
}

/// The object of index `i` of a master.
pub fn master_item(m: &Master, i: usize) -> Value {
    let slaves = m
        .slaves
        .iter()
        .map(|(n, vals)| (n.clone(), vals.get(i).cloned().unwrap_or(Value::None)))
        .collect();
    Value::Item(Rc::new(MasterItem {
        value: m.values.get(i).cloned().unwrap_or(Value::None),
        slaves,
    }))
}

fn unordered_set() -> Fail {
    Fail::Unsupported("the order of a set of several elements (Python orders sets by hash)".into())
}

fn reprs(v: &[Value]) -> Result<String, Fail> {
    let mut parts = Vec::with_capacity(v.len());
    for x in v {
        parts.push(x.repr()?);
    }
    Ok(parts.join(", "))
}

/// Python's `repr()` of a float (shortest round trip, `1.0`, `1e+16`).
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = e.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let s = format!("{f}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// Python's `repr()` of a string.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (0x80..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `==`.
pub fn eq(a: &Value, b: &Value) -> bool {
    match (a.plain(), b.plain()) {
        (Value::None, Value::None) => true,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Master(m), o) | (o, Value::Master(m)) => match o {
            Value::List(l) => seq_eq(&m.values, &l.borrow()),
            Value::Master(n) => seq_eq(&m.values, &n.values),
            _ => false,
        },
        (Value::List(x), Value::List(y)) => Rc::ptr_eq(x, y) || seq_eq(&x.borrow(), &y.borrow()),
        (Value::Tuple(x), Value::Tuple(y)) => seq_eq(x, y),
        (Value::Dict(x), Value::Dict(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| eq(k, k2) && eq(v, v2)))
        }
        (Value::Set(x), Value::Set(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len() && x.iter().all(|a| y.iter().any(|b| eq(a, b)))
        }
        (Value::Type(x), Value::Type(y)) => x == y,
        (x, y) => match (number(x), number(y)) {
            (Some(p), Some(q)) => p == q,
            _ => false,
        },
    }
}

fn seq_eq(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| eq(x, y))
}

/// A number as Python compares it (`True == 1`).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// Python's `<` family; a `TypeError` between kinds Python does not order.
pub fn cmp(a: &Value, b: &Value) -> Result<Ordering, Fail> {
    let (a, b) = (a.plain(), b.plain());
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::List(x), Value::List(y)) => seq_cmp(&x.borrow(), &y.borrow()),
        (Value::Tuple(x), Value::Tuple(y)) => seq_cmp(x, y),
        (x, y) => match (number(x), number(y)) {
            (Some(p), Some(q)) => p
                .partial_cmp(&q)
                .ok_or_else(|| Fail::Unsupported("comparing NaN".into())),
            _ => Err(Fail::py(
                "TypeError",
                format!(
                    "'<' not supported between instances of '{}' and '{}'",
                    a.type_name(),
                    b.type_name()
                ),
            )),
        },
    }
}

fn seq_cmp(a: &[Value], b: &[Value]) -> Result<Ordering, Fail> {
    for (x, y) in a.iter().zip(b) {
        if !eq(x, y) {
            return cmp(x, y);
        }
    }
    Ok(a.len().cmp(&b.len()))
}

/// Python's `x in container`.
pub fn contains(container: &Value, x: &Value) -> Result<bool, Fail> {
    match container.plain() {
        Value::Str(s) => match x.plain() {
            Value::Str(sub) => Ok(s.contains(sub.as_ref())),
            other => Err(Fail::py(
                "TypeError",
                format!(
                    "'in <string>' requires string as left operand, not {}",
                    other.type_name()
                ),
            )),
        },
        Value::Dict(d) => Ok(d.borrow().iter().any(|(k, _)| eq(k, x))),
        Value::Set(s) | Value::List(s) => Ok(s.borrow().iter().any(|v| eq(v, x))),
        Value::Tuple(t) | Value::View(_, t) => Ok(t.iter().any(|v| eq(v, x))),
        r @ Value::Range(..) => Ok(r.iter()?.iter().any(|v| eq(v, x))),
        Value::Master(m) => Ok(m.values.iter().any(|v| eq(v, x))),
        other => Err(Fail::py(
            "TypeError",
            format!("argument of type '{}' is not iterable", other.type_name()),
        )),
    }
}

/// Whether a value can be a dict key or a set element.
pub fn hashable(v: &Value) -> Result<(), Fail> {
    match v.plain() {
        Value::List(_) | Value::Dict(_) | Value::Set(_) | Value::Master(_) => Err(Fail::py(
            "TypeError",
            format!("unhashable type: '{}'", v.type_name()),
        )),
        Value::Tuple(t) => t.iter().try_for_each(hashable),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_as_python_prints_it() {
        let l = Value::list(vec![
            Value::str("a'b"),
            Value::Int(3),
            Value::None,
            Value::Float(2.0),
        ]);
        assert_eq!(l.to_str().unwrap(), "[\"a'b\", 3, None, 2.0]");
        assert_eq!(Value::str("x\ny").repr().unwrap(), "'x\\ny'");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(0.5), "0.5");
        let t = Value::Tuple(Rc::new(vec![Value::Int(1)]));
        assert_eq!(t.to_str().unwrap(), "(1,)");
    }

    #[test]
    fn comparisons_as_python() {
        assert!(eq(&Value::Int(1), &Value::Bool(true)));
        assert!(!eq(&Value::Int(2), &Value::str("2")));
        assert!(cmp(&Value::Int(2), &Value::str("2")).is_err());
        assert_eq!(
            cmp(&Value::str("10"), &Value::str("9")).unwrap(),
            Ordering::Less
        );
        assert!(!Value::list(vec![]).truthy());
        assert!(Value::list(vec![Value::str("")]).truthy());
    }
}
