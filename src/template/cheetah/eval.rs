//! Walks a parsed template against a [`Namespace`], as the Python code
//! Cheetah compiles it to would run.
//!
//! Scopes are Cheetah's: the main body and each `%def` are methods with
//! their own locals (`%set`, `%for`, parameters); `%%name` looks in the
//! locals, then `%set global`s, then the template's `%def`s and `getVar`,
//! then the namespace, then Python's builtins. A bare Python name (`idx`,
//! `access`) looks in the locals and the builtins only.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::Fail;
use super::ast::{AssignOp, BinOp, CmpOp, Def, Expr, Node, Pos};
use super::builtins;
use super::namespace::Namespace;
use super::parse::Tree;
use super::value::{self, Func, Value};

/// How a block ended.
enum Flow {
    Next,
    Break,
    Continue,
    Return(Value, Pos),
}

type R<T> = Result<T, Fail>;

/// One method's locals.
#[derive(Default)]
pub struct Frame {
    vars: HashMap<String, Value>,
}

/// The public attributes of Cheetah's `Template` (Cheetah3 3.2.6), found
/// before the namespace by a `%%name` search.
const TEMPLATE_ATTRIBUTES: &[&str] = &[
    "NonNumericInputError",
    "Reserved_SearchList",
    "application",
    "compile",
    "errorCatcher",
    "generatedClassCode",
    "generatedModuleCode",
    "getCacheRegion",
    "getCacheRegions",
    "getFileContents",
    "i18n",
    "refreshCache",
    "request",
    "respond",
    "runAsMainProgram",
    "searchList",
    "serverSidePath",
    "session",
    "shutdown",
    "sleep",
    "subclass",
    "transaction",
    "webInput",
    "_addCheetahPlumbingCodeToClass",
    "_compile",
    "_createCacheRegion",
    "_fileBaseName",
    "_fileDirName",
    "_fileMtime",
    "_filePath",
    "_getCacheStore",
    "_getCacheStoreIdPrefix",
    "_getCompilerClass",
    "_getCompilerSettings",
    "_getTemplateAPIClassForIncludeDirectiveCompilation",
    "_handleCheetahInclude",
    "_initCheetahInstance",
    "_mainCheetahMethod_for_DynamicallyCompiledCheetahTemplate",
    "_normalizePreprocessorArg",
    "_normalizePreprocessorSettings",
    "_preprocessSource",
    "_updateSettingsWithPreprocessTokens",
];

/// Calls nest (`%def`s calling `%def`s): bounded so that a template that
/// recurses gets an error, as Python's recursion limit gives.
const MAX_DEPTH: usize = 16;

pub struct Env<'a> {
    pub tree: &'a Tree,
    pub ns: &'a Namespace,
    /// `%set global` variables.
    globals: RefCell<HashMap<String, Value>>,
    depth: RefCell<usize>,
}

/// Renders the main body.
pub fn render(tree: &Tree, ns: &Namespace) -> R<String> {
    let env = Env {
        tree,
        ns,
        globals: RefCell::new(HashMap::new()),
        depth: RefCell::new(0),
    };
    let mut out = String::new();
    let mut frame = Frame::default();
    match env.block(&tree.body, &mut frame, &mut out)? {
        Flow::Next => Ok(out),
        // Cheetah's main method would return that value instead of the
        // text written: not a file anyone means.
        Flow::Return(_, pos) => Err(Fail::UnsupportedAt(
            pos,
            "%return outside a %def (Cheetah would give the returned value instead of the text)"
                .into(),
        )),
        Flow::Break | Flow::Continue => Err(Fail::Unsupported(
            "%break or %continue outside a loop".into(),
        )),
    }
}

impl Env<'_> {
    fn block(&self, nodes: &[Node], f: &mut Frame, out: &mut String) -> R<Flow> {
        for n in nodes {
            let flow = self.node(n, f, out)?;
            if !matches!(flow, Flow::Next) {
                return Ok(flow);
            }
        }
        Ok(Flow::Next)
    }

    fn node(&self, n: &Node, f: &mut Frame, out: &mut String) -> R<Flow> {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Output(e, pos) => {
                let v = self.expr(e, f).map_err(|e| e.at(*pos))?;
                if !matches!(v, Value::None) {
                    out.push_str(&v.to_str().map_err(|e| e.at(*pos))?);
                }
            }
            Node::If {
                branches,
                orelse,
                pos,
            } => {
                for (cond, body) in branches {
                    if self.expr(cond, f).map_err(|e| e.at(*pos))?.truthy() {
                        return self.block(body, f, out);
                    }
                }
                return self.block(orelse, f, out);
            }
            Node::For {
                targets,
                iter,
                body,
                pos,
            } => {
                let items = self
                    .expr(iter, f)
                    .and_then(|v| v.iter())
                    .map_err(|e| e.at(*pos))?;
                for item in items {
                    bind(targets, item, &mut f.vars).map_err(|e| e.at(*pos))?;
                    match self.block(body, f, out)? {
                        Flow::Break => break,
                        Flow::Return(v, p) => return Ok(Flow::Return(v, p)),
                        Flow::Next | Flow::Continue => {}
                    }
                }
            }
            Node::Set {
                global,
                target,
                op,
                value,
                pos,
            } => self
                .set(*global, target, *op, value, f)
                .map_err(|e| e.at(*pos))?,
            Node::Silent(e, pos) => {
                self.expr(e, f).map_err(|e| e.at(*pos))?;
            }
            Node::Return(e, pos) => {
                let v = match e {
                    Some(e) => self.expr(e, f).map_err(|e| e.at(*pos))?,
                    None => Value::None,
                };
                return Ok(Flow::Return(v, *pos));
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
            Node::Pass => {}
            Node::Try { body, handler, .. } => {
                // Python's try: output written before the error stays.
                return match self.block(body, f, out) {
                    Err(e) if e.is_python() => self.block(handler, f, out),
                    r => r,
                };
            }
        }
        Ok(Flow::Next)
    }

    fn set(&self, global: bool, target: &Expr, op: AssignOp, value: &Expr, f: &mut Frame) -> R<()> {
        let mut v = self.expr(value, f)?;
        if op != AssignOp::Set {
            // `%set global x += …` updates the global.
            let cur = match target {
                Expr::Name(n, _) if global => self
                    .globals
                    .borrow()
                    .get(n)
                    .cloned()
                    .ok_or_else(|| Fail::py("KeyError", value::str_repr(n)))?,
                _ => self.expr(target, f)?,
            };
            let bop = match op {
                AssignOp::Add => BinOp::Add,
                AssignOp::Sub => BinOp::Sub,
                _ => BinOp::Mul,
            };
            v = if let (AssignOp::Add, Value::List(l)) = (op, &cur) {
                // `+=` extends a list in place.
                let more = v.iter()?;
                l.borrow_mut().extend(more);
                cur.clone()
            } else {
                builtins::binop(bop, &cur, &v)?
            };
        }
        match target {
            Expr::Name(n, _) if global => {
                self.globals.borrow_mut().insert(n.clone(), v);
            }
            Expr::Name(n, _) => {
                f.vars.insert(n.clone(), v);
            }
            Expr::Index(obj, key, _) if !global => {
                let o = self.expr(obj, f)?;
                let k = self.expr(key, f)?;
                builtins::set_item(&o, k, v)?;
            }
            Expr::Tuple(items) if !global => {
                let names: Option<Vec<String>> = items
                    .iter()
                    .map(|e| match e {
                        Expr::Name(n, _) => Some(n.clone()),
                        _ => None,
                    })
                    .collect();
                match names {
                    Some(names) => bind(&names, v, &mut f.vars)?,
                    None => return Err(Fail::Unsupported("this %set target".into())),
                }
            }
            _ => return Err(Fail::Unsupported("this %set target".into())),
        }
        Ok(())
    }

    pub fn expr(&self, e: &Expr, f: &Frame) -> R<Value> {
        match e {
            Expr::Const(v) => Ok(v.clone()),
            Expr::Name(n, pos) => self.name(n, f).map_err(|e| e.at(*pos)),
            Expr::Search(n, autocall, pos) => {
                let v = self.search(n, f).map_err(|e| e.at(*pos))?;
                self.autocall(v, *autocall).map_err(|e| e.at(*pos))
            }
            Expr::Lookup(obj, n, autocall, pos) => {
                let o = self.expr(obj, f)?;
                let v = builtins::lookup(&o, n).map_err(|e| e.at(*pos))?;
                self.autocall(v, *autocall).map_err(|e| e.at(*pos))
            }
            Expr::Attr(obj, n, pos) => {
                let o = self.expr(obj, f)?;
                builtins::getattr(&o, n).map_err(|e| e.at(*pos))
            }
            Expr::Index(obj, key, pos) => {
                let o = self.expr(obj, f)?;
                let k = self.expr(key, f)?;
                builtins::get_item(&o, &k).map_err(|e| e.at(*pos))
            }
            Expr::Slice(obj, parts, pos) => {
                let o = self.expr(obj, f)?;
                let mut b = [None, None, None];
                for (k, p) in parts.iter().enumerate() {
                    if let Some(p) = p {
                        b[k] = Some(self.expr(p, f)?);
                    }
                }
                builtins::slice(&o, &b).map_err(|e| e.at(*pos))
            }
            Expr::Call {
                func,
                args,
                kwargs,
                pos,
            } => {
                let fv = self.expr(func, f)?;
                let mut a = Vec::with_capacity(args.len());
                for x in args {
                    a.push(self.expr(x, f)?);
                }
                let mut kw = Vec::with_capacity(kwargs.len());
                for (k, x) in kwargs {
                    kw.push((k.clone(), self.expr(x, f)?));
                }
                self.call(&fv, a, kw, f).map_err(|e| e.at(*pos))
            }
            Expr::List(items) => Ok(Value::list(self.all(items, f)?)),
            Expr::Tuple(items) => Ok(Value::Tuple(Rc::new(self.all(items, f)?))),
            Expr::SetLit(items) => {
                let mut out: Vec<Value> = Vec::new();
                for v in self.all(items, f)? {
                    value::hashable(&v)?;
                    if !out.iter().any(|x| value::eq(x, &v)) {
                        out.push(v);
                    }
                }
                Ok(Value::Set(Rc::new(RefCell::new(out))))
            }
            Expr::Dict(items) => {
                let d = Value::dict(Vec::new());
                for (k, v) in items {
                    let k = self.expr(k, f)?;
                    let v = self.expr(v, f)?;
                    builtins::set_item(&d, k, v)?;
                }
                Ok(d)
            }
            Expr::ListComp {
                elt,
                targets,
                iter,
                conds,
                pos,
            } => self
                .listcomp(elt, targets, iter, conds, f)
                .map_err(|e| e.at(*pos)),
            Expr::Bin(op, a, b, pos) => {
                let x = self.expr(a, f)?;
                let y = self.expr(b, f)?;
                builtins::binop(*op, &x, &y).map_err(|e| e.at(*pos))
            }
            Expr::Neg(a, pos) => match self.expr(a, f)?.plain() {
                Value::Int(i) => Ok(Value::Int(-i)),
                Value::Bool(b) => Ok(Value::Int(-i64::from(*b))),
                Value::Float(x) => Ok(Value::Float(-x)),
                other => Err(Fail::py(
                    "TypeError",
                    format!("bad operand type for unary -: '{}'", other.type_name()),
                )
                .at(*pos)),
            },
            Expr::Not(a) => Ok(Value::Bool(!self.expr(a, f)?.truthy())),
            Expr::And(a, b) => {
                let x = self.expr(a, f)?;
                if x.truthy() { self.expr(b, f) } else { Ok(x) }
            }
            Expr::Or(a, b) => {
                let x = self.expr(a, f)?;
                if x.truthy() { Ok(x) } else { self.expr(b, f) }
            }
            Expr::Compare(first, rest, pos) => {
                let mut left = self.expr(first, f)?;
                for (op, e) in rest {
                    let right = self.expr(e, f)?;
                    if !compare(*op, &left, &right).map_err(|e| e.at(*pos))? {
                        return Ok(Value::Bool(false));
                    }
                    left = right;
                }
                Ok(Value::Bool(true))
            }
            Expr::IfElse { cond, then, orelse } => {
                if self.expr(cond, f)?.truthy() {
                    self.expr(then, f)
                } else {
                    self.expr(orelse, f)
                }
            }
        }
    }

    fn all(&self, items: &[Expr], f: &Frame) -> R<Vec<Value>> {
        items.iter().map(|x| self.expr(x, f)).collect()
    }

    /// Python 3 runs a comprehension in a scope of its own: its loop
    /// variables, and the names of the enclosing method it reads as plain
    /// Python names (a `%%name` inside it does not see those).
    fn listcomp(
        &self,
        elt: &Expr,
        targets: &[String],
        iter: &Expr,
        conds: &[Expr],
        f: &Frame,
    ) -> R<Value> {
        let items = self.expr(iter, f)?.iter()?;
        let mut inner = Frame::default();
        let mut free = Vec::new();
        plain_names(elt, &mut free);
        for c in conds {
            plain_names(c, &mut free);
        }
        for n in free {
            if let Some(v) = f.vars.get(&n) {
                inner.vars.insert(n, v.clone());
            }
        }
        let mut out = Vec::new();
        'items: for item in items {
            bind(targets, item, &mut inner.vars)?;
            for c in conds {
                if !self.expr(c, &inner)?.truthy() {
                    continue 'items;
                }
            }
            out.push(self.expr(elt, &inner)?);
        }
        Ok(Value::list(out))
    }

    fn name(&self, n: &str, f: &Frame) -> R<Value> {
        if let Some(v) = f.vars.get(n) {
            return Ok(v.clone());
        }
        builtins::builtin(n)
            .ok_or_else(|| Fail::py("NameError", format!("name '{n}' is not defined")))
    }

    /// Cheetah's `VFFSL`: locals, `%set global`s, the template itself,
    /// the namespace, builtins.
    fn search(&self, n: &str, f: &Frame) -> R<Value> {
        if let Some(v) = f.vars.get(n) {
            return Ok(v.clone());
        }
        match self.search_list_name(n)? {
            Some(v) => Ok(v),
            None => builtins::builtin(n).ok_or_else(|| self.ns.not_found(n)),
        }
    }

    /// The search list alone (what `getVar` reads): `%set global`s, the
    /// template itself, the namespace.
    fn search_list_name(&self, n: &str) -> R<Option<Value>> {
        if let Some(v) = self.globals.borrow().get(n) {
            return Ok(Some(v.clone()));
        }
        if let Some(i) = self.tree.defs.iter().position(|d| d.name == n) {
            return Ok(Some(Value::Func(Func::Def(i))));
        }
        if matches!(n, "getVar" | "varExists" | "hasVar") {
            return Ok(Some(Value::Func(Func::Helper(match n {
                "getVar" => "getVar",
                _ => "varExists",
            }))));
        }
        // Cheetah's Template object comes before the namespace: its
        // attributes hide variables of the same name.
        if TEMPLATE_ATTRIBUTES.contains(&n) || n.starts_with("_CHEETAH") || n.starts_with("__") {
            return Err(Fail::Unsupported(format!(
                "the name '{n}': Cheetah finds its Template object's attribute '{n}' before any variable"
            )));
        }
        Ok(self.ns.get(n))
    }

    fn autocall(&self, v: Value, autocall: bool) -> R<Value> {
        if autocall && let Value::Func(_) = v {
            return self.call(&v, Vec::new(), Vec::new(), &Frame::default());
        }
        Ok(v)
    }

    pub fn call(
        &self,
        fv: &Value,
        args: Vec<Value>,
        kw: Vec<(String, Value)>,
        f: &Frame,
    ) -> R<Value> {
        match fv {
            Value::Func(Func::Def(i)) => self.call_def(&self.tree.defs[*i], args, kw, f),
            Value::Func(Func::Helper("getVar")) => {
                let name = match args.first() {
                    Some(Value::Str(s)) => s.to_string(),
                    _ => {
                        return Err(Fail::py(
                            "TypeError",
                            "getVar() takes a variable name".into(),
                        ));
                    }
                };
                let name = name.replace('$', "");
                match self.search_list(&name) {
                    Ok(v) => self.autocall(v, true),
                    Err(e) if e.is_python() && args.len() > 1 => Ok(args[1].clone()),
                    Err(e) => Err(e),
                }
            }
            Value::Func(Func::Helper("varExists")) => {
                let name = match args.first() {
                    Some(Value::Str(s)) => s.to_string(),
                    _ => return Err(Fail::py("TypeError", "varExists() takes a name".into())),
                };
                Ok(Value::Bool(self.search_list(&name).is_ok()))
            }
            Value::Func(Func::Helper(h)) => self.ns.call_helper(h, args, kw),
            Value::Func(Func::Method(obj, m)) => {
                if let Value::Object(o) = obj.as_ref() {
                    return self.ns.call_method(o, m, args, kw);
                }
                builtins::call_method(obj, m, args, kw)
            }
            Value::Func(Func::Builtin(b)) => builtins::call_builtin(self, b, args, kw),
            Value::Type(t) => builtins::construct(*t, args, kw),
            other => Err(Fail::py(
                "TypeError",
                format!("'{}' object is not callable", other.type_name()),
            )),
        }
    }

    /// `getVar`: the search list only (no locals), dotted names allowed.
    fn search_list(&self, name: &str) -> R<Value> {
        let mut parts = name.split('.');
        let head = parts.next().unwrap_or_default();
        let mut v = self
            .search_list_name(head)?
            .ok_or_else(|| self.ns.not_found(head))?;
        for p in parts {
            v = self.autocall(v, true)?;
            v = builtins::lookup(&v, p)?;
        }
        Ok(v)
    }

    fn call_def(&self, d: &Def, args: Vec<Value>, kw: Vec<(String, Value)>, f: &Frame) -> R<Value> {
        if args.len() > d.params.len() {
            return Err(Fail::py(
                "TypeError",
                format!(
                    "{}() takes {} arguments but {} were given",
                    d.name,
                    d.params.len(),
                    args.len()
                ),
            ));
        }
        let mut frame = Frame::default();
        let mut args = args.into_iter();
        for (p, default) in &d.params {
            let v = match args.next() {
                Some(v) => v,
                None => match kw.iter().find(|(k, _)| k == p) {
                    Some((_, v)) => v.clone(),
                    None => match default {
                        Some(e) => self.expr(e, f)?,
                        None => {
                            return Err(Fail::py(
                                "TypeError",
                                format!("{}() missing the argument '{p}'", d.name),
                            ));
                        }
                    },
                },
            };
            frame.vars.insert(p.clone(), v);
        }
        {
            let mut depth = self.depth.borrow_mut();
            if *depth >= MAX_DEPTH {
                return Err(Fail::py(
                    "RecursionError",
                    "maximum recursion depth exceeded".into(),
                ));
            }
            *depth += 1;
        }
        let mut out = String::new();
        let r = self.block(&d.body, &mut frame, &mut out);
        *self.depth.borrow_mut() -= 1;
        match r.map_err(|e| e.at(d.pos))? {
            // `%return` gives its value; what the def wrote is dropped.
            Flow::Return(v, _) => Ok(v),
            _ => Ok(Value::str(out)),
        }
    }
}

/// Binds loop targets: one name takes the item, several unpack it.
fn bind(targets: &[String], item: Value, vars: &mut HashMap<String, Value>) -> R<()> {
    if let [one] = targets {
        vars.insert(one.clone(), item);
        return Ok(());
    }
    let parts = item.iter()?;
    if parts.len() != targets.len() {
        return Err(Fail::py(
            "ValueError",
            format!(
                "cannot unpack {} values into {} names",
                parts.len(),
                targets.len()
            ),
        ));
    }
    for (t, v) in targets.iter().zip(parts) {
        vars.insert(t.clone(), v);
    }
    Ok(())
}

fn compare(op: CmpOp, a: &Value, b: &Value) -> R<bool> {
    use std::cmp::Ordering::*;
    Ok(match op {
        CmpOp::Eq => value::eq(a, b),
        CmpOp::Ne => !value::eq(a, b),
        CmpOp::Lt => value::cmp(a, b)? == Less,
        CmpOp::Le => value::cmp(a, b)? != Greater,
        CmpOp::Gt => value::cmp(a, b)? == Greater,
        CmpOp::Ge => value::cmp(a, b)? != Less,
        CmpOp::In => value::contains(b, a)?,
        CmpOp::NotIn => !value::contains(b, a)?,
        CmpOp::Is | CmpOp::IsNot => {
            let same = match (a, b) {
                (Value::None, Value::None) => true,
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::None | Value::Bool(_), _) | (_, Value::None | Value::Bool(_)) => false,
                (Value::List(x), Value::List(y)) | (Value::Set(x), Value::Set(y)) => {
                    Rc::ptr_eq(x, y)
                }
                (Value::Dict(x), Value::Dict(y)) => Rc::ptr_eq(x, y),
                (Value::Type(x), Value::Type(y)) => x == y,
                _ => {
                    return Err(Fail::Unsupported(
                        "'is' between these values (Python's answer depends on object identity)"
                            .into(),
                    ));
                }
            };
            same == (op == CmpOp::Is)
        }
    })
}

/// The plain Python names an expression reads.
fn plain_names(e: &Expr, out: &mut Vec<String>) {
    let mut walk = |x: &Expr| plain_names(x, out);
    match e {
        Expr::Name(n, _) => out.push(n.clone()),
        Expr::Const(_) | Expr::Search(..) => {}
        Expr::Lookup(o, ..) | Expr::Attr(o, ..) | Expr::Neg(o, _) | Expr::Not(o) => walk(o),
        Expr::Index(a, b, _) | Expr::Bin(_, a, b, _) | Expr::And(a, b) | Expr::Or(a, b) => {
            walk(a);
            walk(b);
        }
        Expr::Slice(o, parts, _) => {
            walk(o);
            for p in parts.iter().flatten() {
                walk(p);
            }
        }
        Expr::Call {
            func, args, kwargs, ..
        } => {
            walk(func);
            args.iter().for_each(&mut walk);
            kwargs.iter().for_each(|(_, x)| walk(x));
        }
        Expr::List(v) | Expr::Tuple(v) | Expr::SetLit(v) => v.iter().for_each(walk),
        Expr::Dict(v) => v.iter().for_each(|(a, b)| {
            walk(a);
            walk(b);
        }),
        Expr::ListComp {
            elt, iter, conds, ..
        } => {
            walk(elt);
            walk(iter);
            conds.iter().for_each(walk);
        }
        Expr::Compare(a, rest, _) => {
            walk(a);
            rest.iter().for_each(|(_, x)| walk(x));
        }
        Expr::IfElse { cond, then, orelse } => {
            walk(cond);
            walk(then);
            walk(orelse);
        }
    }
}
