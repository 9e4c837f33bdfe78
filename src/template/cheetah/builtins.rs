//! Python's builtins, operators and the methods of `str`, `list`, `dict`
//! and `set` the templates call. A builtin or a method that is not here is
//! an error naming it: never a guess.

use std::cell::RefCell;
use std::rc::Rc;

use super::Fail;
use super::ast::BinOp;
use super::eval::Env;
use super::format;
use super::value::{self, Func, Type, Value, master_item};

type R<T> = Result<T, Fail>;

const BUILTINS: &[&str] = &[
    "len",
    "range",
    "sorted",
    "min",
    "max",
    "sum",
    "abs",
    "enumerate",
    "zip",
    "isinstance",
    "getattr",
    "hasattr",
    "repr",
    "any",
    "all",
    "reversed",
    "round",
];

/// A builtin by name: a type (`str`, `int`…) or a function.
pub fn builtin(n: &str) -> Option<Value> {
    let t = match n {
        "str" | "unicode" => Type::Str,
        "int" => Type::Int,
        "float" => Type::Float,
        "bool" => Type::Bool,
        "list" => Type::List,
        "tuple" => Type::Tuple,
        "dict" => Type::Dict,
        "set" => Type::Set,
        "None" => return Some(Value::None),
        "True" => return Some(Value::Bool(true)),
        "False" => return Some(Value::Bool(false)),
        _ => {
            return BUILTINS
                .iter()
                .find(|b| **b == n)
                .map(|b| Value::Func(Func::Builtin(b)));
        }
    };
    Some(Value::Type(t))
}

fn type_error(msg: impl Into<String>) -> Fail {
    Fail::py("TypeError", msg.into())
}

fn arity(name: &str, args: &[Value], min: usize, max: usize) -> R<()> {
    if args.len() < min || args.len() > max {
        return Err(type_error(format!(
            "{name}() takes {min} to {max} arguments ({} given)",
            args.len()
        )));
    }
    Ok(())
}

fn no_kwargs(name: &str, kw: &[(String, Value)]) -> R<()> {
    match kw.first() {
        Some((k, _)) => Err(Fail::Unsupported(format!(
            "the keyword argument '{k}' of {name}()"
        ))),
        None => Ok(()),
    }
}

pub fn int_of(v: &Value) -> R<i64> {
    match v.plain() {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(i64::from(*b)),
        other => Err(type_error(format!(
            "'{}' object cannot be interpreted as an integer",
            other.type_name()
        ))),
    }
}

pub fn call_builtin(env: &Env, b: &str, args: Vec<Value>, kw: Vec<(String, Value)>) -> R<Value> {
    if b != "sorted" {
        no_kwargs(b, &kw)?;
    }
    match b {
        "len" => {
            arity(b, &args, 1, 1)?;
            let n = match args[0].plain() {
                Value::Str(s) => s.chars().count(),
                Value::List(l) | Value::Set(l) => l.borrow().len(),
                Value::Tuple(t) | Value::View(_, t) => t.len(),
                r @ Value::Range(..) => value::range_len(r),
                Value::Dict(d) => d.borrow().len(),
                Value::Master(m) => m.values.len(),
                other => {
                    return Err(type_error(format!(
                        "object of type '{}' has no len()",
                        other.type_name()
                    )));
                }
            };
            Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
        }
        "range" => {
            arity(b, &args, 1, 3)?;
            let n: Vec<i64> = args.iter().map(int_of).collect::<R<_>>()?;
            let (start, stop, step) = match n.as_slice() {
                [s] => (0, *s, 1),
                [a, s] => (*a, *s, 1),
                [a, s, st] => (*a, *s, *st),
                _ => unreachable!("arity checked"),
            };
            if step == 0 {
                return Err(Fail::py(
                    "ValueError",
                    "range() arg 3 must not be zero".into(),
                ));
            }
            let r = Value::Range(start, stop, step);
            if value::range_len(&r) > 10_000_000 {
                return Err(Fail::Unsupported("a range of more than 10 million".into()));
            }
            Ok(r)
        }
        "sorted" => {
            arity(b, &args, 1, 1)?;
            let mut items = args[0].iter()?;
            let mut reverse = false;
            for (k, v) in &kw {
                match k.as_str() {
                    "reverse" => reverse = v.truthy(),
                    other => {
                        return Err(Fail::Unsupported(format!(
                            "the keyword argument '{other}' of sorted()"
                        )));
                    }
                }
            }
            sort(&mut items)?;
            if reverse {
                items.reverse();
            }
            Ok(Value::list(items))
        }
        "min" | "max" => {
            let items = if args.len() == 1 {
                args[0].iter()?
            } else {
                args
            };
            let mut best: Option<Value> = None;
            for v in items {
                best = Some(match best {
                    None => v,
                    Some(cur) => {
                        let o = value::cmp(&v, &cur)?;
                        let better = if b == "min" {
                            o == std::cmp::Ordering::Less
                        } else {
                            o == std::cmp::Ordering::Greater
                        };
                        if better { v } else { cur }
                    }
                });
            }
            best.ok_or_else(|| Fail::py("ValueError", format!("{b}() arg is an empty sequence")))
        }
        "sum" => {
            arity(b, &args, 1, 2)?;
            let mut total = args.get(1).cloned().unwrap_or(Value::Int(0));
            for v in args[0].iter()? {
                total = binop(BinOp::Add, &total, &v)?;
            }
            Ok(total)
        }
        "abs" => {
            arity(b, &args, 1, 1)?;
            match args[0].plain() {
                Value::Int(i) => Ok(Value::Int(i.abs())),
                Value::Float(f) => Ok(Value::Float(f.abs())),
                other => Err(type_error(format!(
                    "bad operand type for abs(): '{}'",
                    other.type_name()
                ))),
            }
        }
        "enumerate" => {
            arity(b, &args, 1, 2)?;
            let start = args.get(1).map(int_of).transpose()?.unwrap_or(0);
            let items = args[0].iter()?;
            Ok(Value::list(
                items
                    .into_iter()
                    .zip(start..)
                    .map(|(v, i)| Value::Tuple(Rc::new(vec![Value::Int(i), v])))
                    .collect(),
            ))
        }
        "zip" => {
            let lists: Vec<Vec<Value>> = args.iter().map(Value::iter).collect::<R<_>>()?;
            let n = lists.iter().map(Vec::len).min().unwrap_or(0);
            Ok(Value::list(
                (0..n)
                    .map(|i| Value::Tuple(Rc::new(lists.iter().map(|l| l[i].clone()).collect())))
                    .collect(),
            ))
        }
        "isinstance" => {
            arity(b, &args, 2, 2)?;
            let types = match &args[1] {
                Value::Type(t) => vec![*t],
                Value::Tuple(ts) => ts
                    .iter()
                    .map(|t| match t {
                        Value::Type(t) => Ok(*t),
                        _ => Err(type_error("isinstance() arg 2 must be a type")),
                    })
                    .collect::<R<_>>()?,
                _ => return Err(type_error("isinstance() arg 2 must be a type")),
            };
            Ok(Value::Bool(types.iter().any(|t| is_instance(&args[0], *t))))
        }
        "getattr" => {
            arity(b, &args, 2, 3)?;
            let Value::Str(name) = &args[1] else {
                return Err(type_error("getattr(): attribute name must be string"));
            };
            match getattr(&args[0], name) {
                Err(e) if e.is_python() && args.len() == 3 => Ok(args[2].clone()),
                r => r,
            }
        }
        "hasattr" => {
            arity(b, &args, 2, 2)?;
            let Value::Str(name) = &args[1] else {
                return Err(type_error("hasattr(): attribute name must be string"));
            };
            match getattr(&args[0], name) {
                Ok(_) => Ok(Value::Bool(true)),
                Err(e) if e.is_python() => Ok(Value::Bool(false)),
                Err(e) => Err(e),
            }
        }
        "repr" => {
            arity(b, &args, 1, 1)?;
            Ok(Value::str(args[0].repr()?))
        }
        "any" => Ok(Value::Bool(
            args.first()
                .map(Value::iter)
                .transpose()?
                .unwrap_or_default()
                .iter()
                .any(Value::truthy),
        )),
        "all" => Ok(Value::Bool(
            args.first()
                .map(Value::iter)
                .transpose()?
                .unwrap_or_default()
                .iter()
                .all(Value::truthy),
        )),
        "reversed" => {
            arity(b, &args, 1, 1)?;
            let mut items = args[0].iter()?;
            items.reverse();
            Ok(Value::list(items))
        }
        other => {
            let _ = env;
            Err(Fail::Unsupported(format!("the builtin {other}()")))
        }
    }
}

fn is_instance(v: &Value, t: Type) -> bool {
    matches!(
        (v.plain(), t),
        (Value::Str(_), Type::Str)
            | (Value::Int(_) | Value::Bool(_), Type::Int)
            | (Value::Float(_), Type::Float)
            | (Value::Bool(_), Type::Bool)
            | (Value::List(_), Type::List)
            | (Value::Tuple(_), Type::Tuple)
            | (Value::Dict(_), Type::Dict)
            | (Value::Set(_), Type::Set)
            | (Value::None, Type::NoneType)
    )
}

/// `str(x)`, `int(x)`, `list(x)`…
pub fn construct(t: Type, args: Vec<Value>, kw: Vec<(String, Value)>) -> R<Value> {
    no_kwargs(t.name(), &kw)?;
    let Some(a) = args.first() else {
        return Ok(match t {
            Type::Str => Value::str(""),
            Type::Int => Value::Int(0),
            Type::Float => Value::Float(0.0),
            Type::Bool => Value::Bool(false),
            Type::List => Value::list(Vec::new()),
            Type::Tuple => Value::Tuple(Rc::new(Vec::new())),
            Type::Dict => Value::dict(Vec::new()),
            Type::Set => Value::Set(Rc::new(RefCell::new(Vec::new()))),
            Type::NoneType => Value::None,
        });
    };
    Ok(match t {
        Type::Str => Value::str(a.to_str()?),
        Type::Int => match a.plain() {
            Value::Int(i) => Value::Int(*i),
            Value::Bool(b) => Value::Int(i64::from(*b)),
            Value::Float(f) if f.is_finite() => Value::Int(f.trunc() as i64),
            Value::Str(s) => {
                let base = match args.get(1) {
                    Some(b) => u32::try_from(int_of(b)?).unwrap_or(10),
                    None => 10,
                };
                let t = s.trim().replace('_', "");
                match i64::from_str_radix(&t, base) {
                    Ok(i) if !t.starts_with('+') || base == 10 => Value::Int(i),
                    _ => {
                        return Err(Fail::py(
                            "ValueError",
                            format!(
                                "invalid literal for int() with base {base}: {}",
                                value::str_repr(s)
                            ),
                        ));
                    }
                }
            }
            other => {
                return Err(type_error(format!(
                    "int() argument must be a string or a number, not '{}'",
                    other.type_name()
                )));
            }
        },
        Type::Float => match a.plain() {
            Value::Int(i) => Value::Float(*i as f64),
            Value::Float(f) => Value::Float(*f),
            Value::Str(s) => match s.trim().parse::<f64>() {
                Ok(f) => Value::Float(f),
                Err(_) => {
                    return Err(Fail::py(
                        "ValueError",
                        format!("could not convert string to float: {}", value::str_repr(s)),
                    ));
                }
            },
            other => {
                return Err(type_error(format!(
                    "float() argument must be a string or a number, not '{}'",
                    other.type_name()
                )));
            }
        },
        Type::Bool => Value::Bool(a.truthy()),
        Type::List => Value::list(a.iter()?),
        Type::Tuple => Value::Tuple(Rc::new(a.iter()?)),
        Type::Set => {
            let mut out: Vec<Value> = Vec::new();
            for v in a.iter()? {
                value::hashable(&v)?;
                if !out.iter().any(|x| value::eq(x, &v)) {
                    out.push(v);
                }
            }
            Value::Set(Rc::new(RefCell::new(out)))
        }
        Type::Dict => {
            let d = Value::dict(Vec::new());
            if let Value::Dict(src) = a {
                for (k, v) in src.borrow().iter() {
                    set_item(&d, k.clone(), v.clone())?;
                }
            } else {
                for pair in a.iter()? {
                    let kv = pair.iter()?;
                    if kv.len() != 2 {
                        return Err(Fail::py(
                            "ValueError",
                            "dictionary update sequence element has the wrong length".into(),
                        ));
                    }
                    set_item(&d, kv[0].clone(), kv[1].clone())?;
                }
            }
            d
        }
        Type::NoneType => return Err(type_error("NoneType takes no arguments")),
    })
}

fn sort(items: &mut [Value]) -> R<()> {
    let mut err = None;
    items.sort_by(|a, b| {
        value::cmp(a, b).unwrap_or_else(|e| {
            err.get_or_insert(e);
            std::cmp::Ordering::Equal
        })
    });
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

pub fn binop(op: BinOp, a: &Value, b: &Value) -> R<Value> {
    let (x, y) = (a.plain(), b.plain());
    let num = |v: &Value| match v {
        Value::Int(i) => Some(*i as f64),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    let int = |v: &Value| match v {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    };
    let overflow = || Fail::Unsupported("an integer beyond 64 bits".into());
    match (op, x, y) {
        (BinOp::Add, Value::Str(p), Value::Str(q)) => return Ok(Value::str(format!("{p}{q}"))),
        (BinOp::Add, Value::List(_) | Value::Master(_), Value::List(_) | Value::Master(_)) => {
            let mut v = x.iter()?;
            v.extend(y.iter()?);
            return Ok(Value::list(v));
        }
        (BinOp::Add, Value::Tuple(p), Value::Tuple(q)) => {
            let mut v = p.as_ref().clone();
            v.extend(q.iter().cloned());
            return Ok(Value::Tuple(Rc::new(v)));
        }
        (BinOp::Mod, Value::Str(fmt), _) => return format::percent(fmt, y).map(Value::str),
        (BinOp::Mul, Value::Str(s), n) | (BinOp::Mul, n, Value::Str(s)) if int(n).is_some() => {
            let n = usize::try_from(int(n).unwrap_or(0)).unwrap_or(0);
            if s.len().saturating_mul(n) > 100_000_000 {
                return Err(Fail::Unsupported("a string of more than 100 MB".into()));
            }
            return Ok(Value::str(s.repeat(n)));
        }
        (BinOp::Mul, Value::List(l), n) | (BinOp::Mul, n, Value::List(l)) if int(n).is_some() => {
            let n = usize::try_from(int(n).unwrap_or(0)).unwrap_or(0);
            let items = l.borrow();
            if items.len().saturating_mul(n) > 10_000_000 {
                return Err(Fail::Unsupported("a list of more than 10 million".into()));
            }
            let mut v = Vec::with_capacity(items.len() * n);
            for _ in 0..n {
                v.extend(items.iter().cloned());
            }
            return Ok(Value::list(v));
        }
        _ => {}
    }
    if let (Some(p), Some(q)) = (int(x), int(y)) {
        return Ok(Value::Int(match op {
            BinOp::Add => p.checked_add(q).ok_or_else(overflow)?,
            BinOp::Sub => p.checked_sub(q).ok_or_else(overflow)?,
            BinOp::Mul => p.checked_mul(q).ok_or_else(overflow)?,
            BinOp::Div => {
                if q == 0 {
                    return Err(Fail::py("ZeroDivisionError", "division by zero".into()));
                }
                return Ok(Value::Float(p as f64 / q as f64));
            }
            BinOp::FloorDiv | BinOp::Mod => {
                if q == 0 {
                    return Err(Fail::py(
                        "ZeroDivisionError",
                        "integer division or modulo by zero".into(),
                    ));
                }
                // Python floors; the remainder takes the divisor's sign.
                let mut d = p.checked_div(q).ok_or_else(overflow)?;
                let mut m = p % q;
                if m != 0 && ((m < 0) != (q < 0)) {
                    d -= 1;
                    m += q;
                }
                if op == BinOp::FloorDiv { d } else { m }
            }
            BinOp::Pow => {
                let e = u32::try_from(q)
                    .map_err(|_| Fail::Unsupported("a negative or huge integer power".into()))?;
                p.checked_pow(e).ok_or_else(overflow)?
            }
        }));
    }
    if let (Some(p), Some(q)) = (num(x), num(y)) {
        return Ok(Value::Float(match op {
            BinOp::Add => p + q,
            BinOp::Sub => p - q,
            BinOp::Mul => p * q,
            BinOp::Div | BinOp::FloorDiv | BinOp::Mod if q == 0.0 => {
                return Err(Fail::py(
                    "ZeroDivisionError",
                    "float division by zero".into(),
                ));
            }
            BinOp::Div => p / q,
            BinOp::FloorDiv => (p / q).floor(),
            BinOp::Mod => p - q * (p / q).floor(),
            BinOp::Pow => p.powf(q),
        }));
    }
    let sym = match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::FloorDiv => "//",
        BinOp::Mod => "%",
        BinOp::Pow => "**",
    };
    Err(type_error(format!(
        "unsupported operand type(s) for {sym}: '{}' and '{}'",
        x.type_name(),
        y.type_name()
    )))
}

fn index_of(len: usize, i: &Value) -> R<usize> {
    let i = int_of(i)?;
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    let k = if i < 0 { i + n } else { i };
    if k < 0 || k >= n {
        return Err(Fail::py("IndexError", "index out of range".into()));
    }
    Ok(usize::try_from(k).unwrap_or(0))
}

pub fn get_item(o: &Value, k: &Value) -> R<Value> {
    match o {
        Value::Item(i) => get_item(&i.value, k),
        Value::Master(m) => Ok(master_item(m, index_of(m.values.len(), k)?)),
        Value::List(l) => {
            let l = l.borrow();
            Ok(l[index_of(l.len(), k)?].clone())
        }
        Value::Tuple(t) => Ok(t[index_of(t.len(), k)?].clone()),
        r @ Value::Range(..) => {
            let items = r.iter()?;
            Ok(items[index_of(items.len(), k)?].clone())
        }
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            Ok(Value::str(chars[index_of(chars.len(), k)?].to_string()))
        }
        Value::Dict(d) => {
            value::hashable(k)?;
            d.borrow()
                .iter()
                .find(|(x, _)| value::eq(x, k))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| Fail::py("KeyError", k.repr().unwrap_or_default()))
        }
        other => Err(type_error(format!(
            "'{}' object is not subscriptable",
            other.type_name()
        ))),
    }
}

pub fn set_item(o: &Value, k: Value, v: Value) -> R<()> {
    match o {
        Value::List(l) => {
            let mut l = l.borrow_mut();
            let i = index_of(l.len(), &k)?;
            l[i] = v;
            Ok(())
        }
        Value::Dict(d) => {
            value::hashable(&k)?;
            let mut d = d.borrow_mut();
            match d.iter_mut().find(|(x, _)| value::eq(x, &k)) {
                Some(slot) => slot.1 = v,
                None => d.push((k, v)),
            }
            Ok(())
        }
        other => Err(type_error(format!(
            "'{}' object does not support item assignment",
            other.type_name()
        ))),
    }
}

pub fn slice(o: &Value, b: &[Option<Value>; 3]) -> R<Value> {
    let step = match &b[2] {
        Some(s) if !matches!(s, Value::None) => int_of(s)?,
        _ => 1,
    };
    if step != 1 {
        return Err(Fail::Unsupported("a slice with a step".into()));
    }
    let bound = |v: &Option<Value>, len: i64, default: i64| -> R<i64> {
        match v {
            Some(x) if !matches!(x, Value::None) => {
                let i = int_of(x)?;
                Ok(if i < 0 { (i + len).max(0) } else { i.min(len) })
            }
            _ => Ok(default),
        }
    };
    let cut = |len: usize| -> R<(usize, usize)> {
        let n = i64::try_from(len).unwrap_or(i64::MAX);
        let s = bound(&b[0], n, 0)?;
        let e = bound(&b[1], n, n)?.max(s);
        Ok((
            usize::try_from(s).unwrap_or(0),
            usize::try_from(e).unwrap_or(0),
        ))
    };
    match o.plain() {
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            let (a, e) = cut(chars.len())?;
            Ok(Value::str(chars[a..e].iter().collect::<String>()))
        }
        Value::List(l) => {
            let l = l.borrow();
            let (a, e) = cut(l.len())?;
            Ok(Value::list(l[a..e].to_vec()))
        }
        Value::Tuple(t) => {
            let (a, e) = cut(t.len())?;
            Ok(Value::Tuple(Rc::new(t[a..e].to_vec())))
        }
        Value::Master(m) => {
            let (a, e) = cut(m.values.len())?;
            Ok(Value::list(m.values[a..e].to_vec()))
        }
        other => Err(type_error(format!(
            "'{}' object is not subscriptable",
            other.type_name()
        ))),
    }
}

/// NameMapper's `.name`: a dict's key first, else the attribute.
pub fn lookup(o: &Value, n: &str) -> R<Value> {
    if let Value::Dict(d) = o
        && let Some((_, v)) = d
            .borrow()
            .iter()
            .find(|(k, _)| matches!(k, Value::Str(s) if s.as_ref() == n))
    {
        return Ok(v.clone());
    }
    getattr(o, n).map_err(|e| {
        if e.is_python() {
            Fail::py(
                "NotFound",
                format!("a {} has no key or attribute '{n}'", o.type_name()),
            )
        } else {
            e
        }
    })
}

const STR_METHODS: &[&str] = &[
    "lower",
    "upper",
    "strip",
    "lstrip",
    "rstrip",
    "split",
    "rsplit",
    "join",
    "replace",
    "startswith",
    "endswith",
    "find",
    "rfind",
    "index",
    "count",
    "format",
    "capitalize",
    "title",
    "isdigit",
    "isalpha",
    "isalnum",
    "islower",
    "isupper",
    "isspace",
    "zfill",
    "center",
    "ljust",
    "rjust",
    "partition",
    "rpartition",
    "splitlines",
];
const LIST_METHODS: &[&str] = &[
    "append", "extend", "insert", "pop", "remove", "index", "count", "sort", "reverse", "copy",
];
const DICT_METHODS: &[&str] = &[
    "get",
    "setdefault",
    "keys",
    "values",
    "items",
    "update",
    "pop",
    "copy",
];
const SET_METHODS: &[&str] = &["add", "discard", "remove", "update", "copy"];

/// Python's `getattr(o, n)`.
pub fn getattr(o: &Value, n: &str) -> R<Value> {
    let method = |names: &[&str]| {
        names
            .contains(&n)
            .then(|| Value::Func(Func::Method(Box::new(o.clone()), Rc::from(n))))
    };
    let found = match o {
        Value::Item(i) => {
            if let Some((_, v)) = i.slaves.iter().find(|(s, _)| s == n) {
                return Ok(v.clone());
            }
            return getattr(&i.value, n);
        }
        Value::Master(m) => {
            if let Some((_, v)) = m.slaves.iter().find(|(s, _)| s == n) {
                return Ok(Value::list(v.clone()));
            }
            return getattr(&Value::list(m.values.clone()), n);
        }
        Value::Str(_) => method(STR_METHODS),
        Value::List(_) => method(LIST_METHODS),
        Value::Dict(_) => method(DICT_METHODS),
        Value::Set(_) => method(SET_METHODS),
        Value::Object(_) => Some(Value::Func(Func::Method(Box::new(o.clone()), Rc::from(n)))),
        _ => None,
    };
    found.ok_or_else(|| {
        Fail::py(
            "AttributeError",
            format!("'{}' object has no attribute '{n}'", o.type_name()),
        )
    })
}

pub fn call_method(o: &Value, m: &str, args: Vec<Value>, kw: Vec<(String, Value)>) -> R<Value> {
    no_kwargs(m, &kw)?;
    match o {
        Value::Str(s) => format::str_method(s, m, &args),
        Value::List(l) => list_method(l, m, args),
        Value::Dict(d) => dict_method(o, d, m, args),
        Value::Set(s) => set_method(s, m, args),
        other => Err(Fail::Unsupported(format!(
            "the method {m}() of a {}",
            other.type_name()
        ))),
    }
}

fn list_method(l: &Rc<RefCell<Vec<Value>>>, m: &str, args: Vec<Value>) -> R<Value> {
    let n = args.len();
    match (m, n) {
        ("append", 1) => {
            l.borrow_mut().extend(args);
            Ok(Value::None)
        }
        ("extend", 1) => {
            let more = args[0].iter()?;
            l.borrow_mut().extend(more);
            Ok(Value::None)
        }
        ("insert", 2) => {
            let mut v = l.borrow_mut();
            let len = i64::try_from(v.len()).unwrap_or(i64::MAX);
            let i = int_of(&args[0])?;
            let i = if i < 0 { (i + len).max(0) } else { i.min(len) };
            v.insert(usize::try_from(i).unwrap_or(0), args[1].clone());
            Ok(Value::None)
        }
        ("pop", 0 | 1) => {
            let mut v = l.borrow_mut();
            if v.is_empty() {
                return Err(Fail::py("IndexError", "pop from empty list".into()));
            }
            let i = match args.first() {
                Some(i) => index_of(v.len(), i)?,
                None => v.len() - 1,
            };
            Ok(v.remove(i))
        }
        ("remove", 1) => {
            let mut v = l.borrow_mut();
            match v.iter().position(|x| value::eq(x, &args[0])) {
                Some(i) => {
                    v.remove(i);
                    Ok(Value::None)
                }
                None => Err(Fail::py(
                    "ValueError",
                    "list.remove(x): x not in list".into(),
                )),
            }
        }
        ("index", 1) => match l.borrow().iter().position(|x| value::eq(x, &args[0])) {
            Some(i) => Ok(Value::Int(i64::try_from(i).unwrap_or(0))),
            None => Err(Fail::py("ValueError", "is not in list".into())),
        },
        ("count", 1) => Ok(Value::Int(
            i64::try_from(l.borrow().iter().filter(|x| value::eq(x, &args[0])).count())
                .unwrap_or(0),
        )),
        ("sort", 0) => {
            let mut v = l.borrow().clone();
            sort(&mut v)?;
            *l.borrow_mut() = v;
            Ok(Value::None)
        }
        ("reverse", 0) => {
            l.borrow_mut().reverse();
            Ok(Value::None)
        }
        ("copy", 0) => Ok(Value::list(l.borrow().clone())),
        _ => Err(type_error(format!(
            "list.{m}() does not take {n} argument(s)"
        ))),
    }
}

fn dict_method(
    o: &Value,
    d: &Rc<RefCell<Vec<(Value, Value)>>>,
    m: &str,
    args: Vec<Value>,
) -> R<Value> {
    let n = args.len();
    let find = |k: &Value| -> R<Option<Value>> {
        value::hashable(k)?;
        Ok(d.borrow()
            .iter()
            .find(|(x, _)| value::eq(x, k))
            .map(|(_, v)| v.clone()))
    };
    match (m, n) {
        ("get", 1 | 2) => {
            Ok(find(&args[0])?.unwrap_or_else(|| args.get(1).cloned().unwrap_or(Value::None)))
        }
        ("setdefault", 1 | 2) => match find(&args[0])? {
            Some(v) => Ok(v),
            None => {
                let v = args.get(1).cloned().unwrap_or(Value::None);
                set_item(o, args[0].clone(), v.clone())?;
                Ok(v)
            }
        },
        ("keys", 0) => Ok(Value::View(
            "dict_keys",
            Rc::new(d.borrow().iter().map(|(k, _)| k.clone()).collect()),
        )),
        ("values", 0) => Ok(Value::View(
            "dict_values",
            Rc::new(d.borrow().iter().map(|(_, v)| v.clone()).collect()),
        )),
        ("items", 0) => Ok(Value::View(
            "dict_items",
            Rc::new(
                d.borrow()
                    .iter()
                    .map(|(k, v)| Value::Tuple(Rc::new(vec![k.clone(), v.clone()])))
                    .collect(),
            ),
        )),
        ("update", 1) => {
            let Value::Dict(src) = &args[0] else {
                return Err(Fail::Unsupported("dict.update() from a non-dict".into()));
            };
            let pairs = src.borrow().clone();
            for (k, v) in pairs {
                set_item(o, k, v)?;
            }
            Ok(Value::None)
        }
        ("pop", 1 | 2) => {
            value::hashable(&args[0])?;
            let mut map = d.borrow_mut();
            match map.iter().position(|(x, _)| value::eq(x, &args[0])) {
                Some(i) => Ok(map.remove(i).1),
                None => match args.get(1) {
                    Some(v) => Ok(v.clone()),
                    None => Err(Fail::py("KeyError", args[0].repr()?)),
                },
            }
        }
        ("copy", 0) => Ok(Value::dict(d.borrow().clone())),
        _ => Err(type_error(format!(
            "dict.{m}() does not take {n} argument(s)"
        ))),
    }
}

fn set_method(s: &Rc<RefCell<Vec<Value>>>, m: &str, args: Vec<Value>) -> R<Value> {
    let add = |v: Value| -> R<()> {
        value::hashable(&v)?;
        let mut s = s.borrow_mut();
        if !s.iter().any(|x| value::eq(x, &v)) {
            s.push(v);
        }
        Ok(())
    };
    match (m, args.len()) {
        ("add", 1) => {
            add(args[0].clone())?;
            Ok(Value::None)
        }
        ("update", 1) => {
            for v in args[0].iter()? {
                add(v)?;
            }
            Ok(Value::None)
        }
        ("discard" | "remove", 1) => {
            let mut v = s.borrow_mut();
            match v.iter().position(|x| value::eq(x, &args[0])) {
                Some(i) => {
                    v.remove(i);
                }
                None if m == "remove" => return Err(Fail::py("KeyError", args[0].repr()?)),
                None => {}
            }
            Ok(Value::None)
        }
        ("copy", 0) => Ok(Value::Set(Rc::new(RefCell::new(s.borrow().clone())))),
        (m, n) => Err(type_error(format!(
            "set.{m}() does not take {n} argument(s)"
        ))),
    }
}
