//! The Python expressions of directives and placeholders, read straight
//! from the template text where Cheetah's parser reads them: outside
//! brackets an expression ends at the end of the line or at `#` (Cheetah's
//! directive end token); inside brackets lines continue.
//!
//! `%%a.b(x)[0].c` is a NameMapper placeholder: its dotted parts look up a
//! dict key first, else an attribute, and call what they find when no
//! argument list follows (autocalling). In a `%set` target and a `%for`
//! target Cheetah turns NameMapper off: `%%x` is the Python name `x`.

use std::rc::Rc;

use super::Fail;
use super::ast::{BinOp, CmpOp, Expr, Pos};
use super::source::{Src, ident_char, ident_start};
use super::value::Value;

#[derive(Debug, Clone)]
enum Tok {
    /// Shared, so that peeking at a token again costs no copy; with its
    /// [`code`] for keyword tests.
    Name(Rc<str>, u32),
    Num(Value),
    Str(Rc<str>),
    Op(&'static str),
    /// `%%` followed by a name.
    Var,
    End,
}

/// A short ASCII word (a keyword, an operator) as one number, so that the
/// parser's many tests of the next token compare integers; 0 for a word of
/// more than 4 bytes.
const fn code(s: &str) -> u32 {
    let b = s.as_bytes();
    if b.len() > 4 {
        return 0;
    }
    let mut c = 0u32;
    let mut i = 0;
    while i < b.len() {
        c = (c << 8) | b[i] as u32;
        i += 1;
    }
    c
}

/// The operator at `i`, longest first.
fn op_at(c: &[char], i: usize) -> Option<&'static str> {
    let a = *c.get(i)?;
    let b = c.get(i + 1).copied().unwrap_or('\0');
    match (a, b, c.get(i + 2).copied().unwrap_or('\0')) {
        ('*', '*', '=') => return Some("**="),
        ('/', '/', '=') => return Some("//="),
        _ => {}
    }
    let two = match (a, b) {
        ('=', '=') => "==",
        ('!', '=') => "!=",
        ('<', '=') => "<=",
        ('>', '=') => ">=",
        ('*', '*') => "**",
        ('/', '/') => "//",
        ('+', '=') => "+=",
        ('-', '=') => "-=",
        ('*', '=') => "*=",
        ('/', '=') => "/=",
        ('%', '=') => "%=",
        ('<', '<') => "<<",
        ('>', '>') => ">>",
        ('-', '>') => "->",
        _ => "",
    };
    if !two.is_empty() {
        return Some(two);
    }
    Some(match a {
        '(' => "(",
        ')' => ")",
        '[' => "[",
        ']' => "]",
        '{' => "{",
        '}' => "}",
        ',' => ",",
        ':' => ":",
        '.' => ".",
        '+' => "+",
        '-' => "-",
        '*' => "*",
        '/' => "/",
        '%' => "%",
        '<' => "<",
        '>' => ">",
        '=' => "=",
        '|' => "|",
        '&' => "&",
        '^' => "^",
        '~' => "~",
        _ => return None,
    })
}

/// The expression parser: `depth` counts open brackets.
pub struct Parser<'a> {
    pub s: &'a mut Src,
    depth: usize,
    /// NameMapper off (`%set` and `%for` targets).
    plain: bool,
    /// An operand already read, which the next atom is (`%%(name + 1)`).
    first: Option<Expr>,
    /// How deep the expression nests: bounded, so that no text overflows
    /// the stack.
    nest: usize,
    /// Nodes this expression may still have: bounds the tree's depth.
    budget: usize,
    /// The last token read and where (start, depth): the parser asks for
    /// the next token several times before taking it.
    cache: Option<(usize, usize, Tok, usize)>,
}

/// The most nodes one expression has (EOLE's longest have about 30).
const MAX_NODES: usize = 300;

/// Deeper than any template needs; shallow enough for any stack.
const MAX_NEST: usize = 20;

type R<T> = Result<T, Fail>;

impl<'a> Parser<'a> {
    pub fn new(s: &'a mut Src) -> Parser<'a> {
        Parser {
            s,
            depth: 0,
            plain: false,
            first: None,
            nest: 0,
            budget: MAX_NODES,
            cache: None,
        }
    }

    /// The expression inside `%%(…)`, `%%{…}`, `%%[…]`: lines continue,
    /// and a leading name is a NameMapper placeholder (Cheetah's
    /// `getPlaceholder`), so `%%[n]` is `n` itself.
    pub fn enclosed(&mut self, pos: Pos) -> R<Expr> {
        self.depth = 1;
        if self.s.peek().is_some_and(ident_start) {
            self.first = Some(self.var_chunks(pos, false)?);
        }
        let e = self.expr()?;
        self.skip();
        Ok(e)
    }

    /// Skips what separates tokens: spaces, and line ends inside brackets
    /// or after a backslash.
    fn skip(&mut self) {
        loop {
            self.s.white();
            match self.s.peek() {
                Some('\\') if matches!(self.s.peek_at(1), Some('\n' | '\r')) => {
                    self.s.i += 1;
                    self.eol();
                }
                Some('\n' | '\r') if self.depth > 0 => self.eol(),
                _ => return,
            }
        }
    }

    fn eol(&mut self) {
        if self.s.peek() == Some('\r') && self.s.peek_at(1) == Some('\n') {
            self.s.i += 2;
        } else {
            self.s.i += 1;
        }
    }

    /// The next token and where it ends, without consuming it.
    fn lex(&mut self) -> R<(Tok, usize)> {
        let (t, end) = self.peek_ref()?;
        Ok((t.clone(), end))
    }

    /// The next token, read once and kept until the cursor moves.
    fn peek_ref(&mut self) -> R<(&Tok, usize)> {
        self.skip();
        let fresh = matches!(&self.cache, Some((i, d, _, _)) if *i == self.s.i && *d == self.depth);
        if !fresh {
            let (t, end) = self.lex_uncached()?;
            self.cache = Some((self.s.i, self.depth, t, end));
        }
        match &self.cache {
            Some((_, _, t, end)) => Ok((t, *end)),
            None => Err(self.s.err("an expression")),
        }
    }

    fn lex_uncached(&mut self) -> R<(Tok, usize)> {
        let s = &*self.s;
        let Some(c) = s.peek() else {
            return Ok((Tok::End, s.i));
        };
        let i = s.i;
        if (c == '\n' || c == '\r' || c == '#') && self.depth == 0 {
            return Ok((Tok::End, i));
        }
        if c == '#' {
            return Err(s.err("a '#' inside brackets (Python comment)"));
        }
        if c == '%' && s.peek_at(1) == Some('%') && s.peek_at(2).is_some_and(ident_start) {
            return Ok((Tok::Var, i + 2));
        }
        if ident_start(c) {
            let mut k = i;
            while s.c.get(k).copied().is_some_and(ident_char) {
                k += 1;
            }
            let name: String = s.c[i..k].iter().collect();
            if matches!(s.c.get(k), Some('\'' | '"')) {
                let p = name.to_ascii_lowercase();
                if p == "r" || p == "u" {
                    return self.string(k, p == "r");
                }
                return Err(s.err(format!("the string prefix '{name}'")));
            }
            let c = code(&name);
            return Ok((Tok::Name(Rc::from(name), c), k));
        }
        if c.is_ascii_digit() || (c == '.' && s.peek_at(1).is_some_and(|d| d.is_ascii_digit())) {
            return self.number(i);
        }
        if c == '\'' || c == '"' {
            return self.string(i, false);
        }
        match op_at(&s.c, i) {
            Some(op) => Ok((Tok::Op(op), i + op.len())),
            None => Err(s.err(format!("the character '{c}' in an expression"))),
        }
    }

    fn number(&self, i: usize) -> R<(Tok, usize)> {
        let s = &*self.s;
        let mut k = i;
        while s
            .c
            .get(k)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
        {
            k += 1;
        }
        let text: String = s.c[i..k].iter().filter(|c| **c != '_').collect();
        let v = if let Some(h) = text.strip_prefix("0x").or(text.strip_prefix("0X")) {
            i64::from_str_radix(h, 16).ok().map(Value::Int)
        } else if text.chars().all(|c| c.is_ascii_digit()) {
            if text.len() > 1 && text.starts_with('0') && text.chars().any(|c| c != '0') {
                None
            } else {
                text.parse().ok().map(Value::Int)
            }
        } else if text.ends_with(['j', 'J', 'l', 'L']) {
            None
        } else {
            text.parse().ok().map(Value::Float)
        };
        match v {
            Some(v) => Ok((Tok::Num(v), k)),
            None => Err(s.err(format!("the number '{text}'"))),
        }
    }

    fn string(&self, i: usize, raw: bool) -> R<(Tok, usize)> {
        let s = &*self.s;
        let q = s.c[i];
        let triple = s.c.get(i + 1) == Some(&q) && s.c.get(i + 2) == Some(&q);
        let mut k = if triple { i + 3 } else { i + 1 };
        let mut out = String::new();
        loop {
            let Some(&c) = s.c.get(k) else {
                return Err(Fail::Syntax(
                    s.pos_of(i),
                    "a string that is not closed".into(),
                ));
            };
            if c == q && (!triple || (s.c.get(k + 1) == Some(&q) && s.c.get(k + 2) == Some(&q))) {
                k += if triple { 3 } else { 1 };
                break;
            }
            if (c == '\n' || c == '\r') && !triple {
                return Err(Fail::Syntax(
                    s.pos_of(i),
                    "a string that is not closed".into(),
                ));
            }
            if c == '\\' {
                let Some(&n) = s.c.get(k + 1) else {
                    return Err(Fail::Syntax(
                        s.pos_of(i),
                        "a string that is not closed".into(),
                    ));
                };
                if raw {
                    out.push('\\');
                    out.push(n);
                    k += 2;
                    continue;
                }
                k += 2;
                match n {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' => out.push('\\'),
                    '\'' => out.push('\''),
                    '"' => out.push('"'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '\n' => {}
                    '0'..='7' => {
                        // Up to three octal digits.
                        let mut v = n.to_digit(8).unwrap_or(0);
                        let mut taken = 0;
                        while taken < 2
                            && let Some(d) = s.c.get(k).and_then(|c| c.to_digit(8))
                        {
                            v = v * 8 + d;
                            k += 1;
                            taken += 1;
                        }
                        out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                    }
                    'u' | 'U' | 'N' => {
                        let len = match n {
                            'u' => 4,
                            'U' => 8,
                            _ => return Err(Fail::Syntax(s.pos_of(k), "a \\N{…} escape".into())),
                        };
                        let h: String = s.c.get(k..k + len).unwrap_or_default().iter().collect();
                        let v = u32::from_str_radix(&h, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| Fail::Syntax(s.pos_of(k), format!("a \\{n} escape")))?;
                        out.push(v);
                        k += len;
                    }
                    'x' => {
                        let h: String = s.c.get(k..k + 2).unwrap_or_default().iter().collect();
                        let v = u32::from_str_radix(&h, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| Fail::Syntax(s.pos_of(k), "a \\x escape".into()))?;
                        out.push(v);
                        k += 2;
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
                continue;
            }
            out.push(c);
            k += 1;
        }
        Ok((Tok::Str(Rc::from(out)), k))
    }

    fn peek_tok(&mut self) -> R<Tok> {
        Ok(self.lex()?.0)
    }

    fn bump(&mut self) -> R<Tok> {
        let (t, end) = self.lex()?;
        self.s.i = end;
        if let Tok::Op(o) = &t {
            match *o {
                "(" | "[" | "{" => self.depth += 1,
                ")" | "]" | "}" => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(t)
    }

    fn is_op(&mut self, op: &str) -> R<bool> {
        Ok(matches!(self.peek_ref()?.0, Tok::Op(o) if code(o) == code(op)))
    }

    /// Whether the next token is the keyword `n` (4 bytes at most).
    fn is_name(&mut self, n: &str) -> R<bool> {
        Ok(matches!(self.peek_ref()?.0, Tok::Name(_, c) if *c == code(n)))
    }

    /// The code of the next token when it is an operator or a keyword.
    fn peek_code(&mut self) -> R<u32> {
        Ok(match self.peek_ref()?.0 {
            Tok::Op(o) => code(o),
            Tok::Name(_, c) => c | 0x8000_0000,
            _ => 0,
        })
    }

    fn eat_op(&mut self, op: &str) -> R<bool> {
        if self.is_op(op)? {
            self.bump()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect(&mut self, op: &str) -> R<()> {
        if !self.eat_op(op)? {
            self.skip();
            return Err(self.s.err(format!("expected '{op}'")));
        }
        Ok(())
    }

    /// Python's `test`: a conditional expression.
    pub fn expr(&mut self) -> R<Expr> {
        self.nest += 1;
        let r = self.expr_inner();
        self.nest -= 1;
        r
    }

    fn deeper(&mut self) -> R<()> {
        if self.nest > MAX_NEST {
            return Err(self.s.err("an expression nested too deeply"));
        }
        Ok(())
    }

    /// Counts one node of the tree.
    fn node(&mut self) -> R<()> {
        if self.budget == 0 {
            return Err(self.s.err("an expression too long"));
        }
        self.budget -= 1;
        Ok(())
    }

    fn expr_inner(&mut self) -> R<Expr> {
        self.deeper()?;
        let e = self.or()?;
        if self.is_name("if")? {
            let save = (self.s.i, self.depth);
            self.bump()?;
            let cond = self.or()?;
            if !self.is_name("else")? {
                // A comprehension's `if`: not ours.
                (self.s.i, self.depth) = save;
                return Ok(e);
            }
            self.bump()?;
            let orelse = self.expr()?;
            return Ok(Expr::IfElse {
                cond: Box::new(cond),
                then: Box::new(e),
                orelse: Box::new(orelse),
            });
        }
        Ok(e)
    }

    /// `a, b` is a tuple.
    pub fn testlist(&mut self) -> R<Expr> {
        let first = self.expr()?;
        if !self.is_op(",")? {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",")? {
            if self.at_expr_end()? {
                break;
            }
            items.push(self.expr()?);
        }
        Ok(Expr::Tuple(items))
    }

    fn at_expr_end(&mut self) -> R<bool> {
        Ok(matches!(
            self.peek_tok()?,
            Tok::End | Tok::Op(")" | "]" | "}" | ":" | "=")
        ))
    }

    fn or(&mut self) -> R<Expr> {
        let mut e = self.and()?;
        while self.is_name("or")? {
            self.bump()?;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> R<Expr> {
        let mut e = self.not()?;
        while self.is_name("and")? {
            self.bump()?;
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> R<Expr> {
        if self.is_name("not")? {
            self.bump()?;
            self.nest += 1;
            let r = self.deeper().and_then(|()| self.not());
            self.nest -= 1;
            return Ok(Expr::Not(Box::new(r?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> R<Expr> {
        self.skip();
        let pos = self.s.pos();
        let first = self.arith(0)?;
        let mut rest = Vec::new();
        loop {
            const KW: u32 = 0x8000_0000;
            let op = match self.peek_code()? {
                c if c == code("==") => CmpOp::Eq,
                c if c == code("!=") => CmpOp::Ne,
                c if c == code("<") => CmpOp::Lt,
                c if c == code("<=") => CmpOp::Le,
                c if c == code(">") => CmpOp::Gt,
                c if c == code(">=") => CmpOp::Ge,
                c if c == code("in") | KW => CmpOp::In,
                c if c == code("is") | KW => CmpOp::Is,
                c if c == code("not") | KW => CmpOp::NotIn,
                _ => break,
            };
            self.bump()?;
            let op = match op {
                CmpOp::NotIn => {
                    if !self.is_name("in")? {
                        return Err(self.s.err("expected 'in' after 'not'"));
                    }
                    self.bump()?;
                    CmpOp::NotIn
                }
                CmpOp::Is if self.is_name("not")? => {
                    self.bump()?;
                    CmpOp::IsNot
                }
                op => op,
            };
            rest.push((op, self.arith(0)?));
        }
        if rest.is_empty() {
            Ok(first)
        } else {
            Ok(Expr::Compare(Box::new(first), rest, pos))
        }
    }

    /// Binary arithmetic by precedence climbing.
    fn arith(&mut self, min: u8) -> R<Expr> {
        let mut lhs = self.unary()?;
        loop {
            let (op, prec) = match self.peek_code()? {
                c if c == code("+") => (BinOp::Add, 1),
                c if c == code("-") => (BinOp::Sub, 1),
                c if c == code("*") => (BinOp::Mul, 2),
                c if c == code("/") => (BinOp::Div, 2),
                c if c == code("//") => (BinOp::FloorDiv, 2),
                c if c == code("%") => (BinOp::Mod, 2),
                c if [code("|"), code("&"), code("^"), code("<<"), code(">>")].contains(&c) => {
                    return Err(self.s.err("the bitwise operators (| & ^ << >>)"));
                }
                _ => break,
            };
            if prec < min {
                break;
            }
            self.skip();
            let pos = self.s.pos();
            self.bump()?;
            self.node()?;
            let rhs = self.arith(prec + 1)?;
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs), pos);
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> R<Expr> {
        self.skip();
        let pos = self.s.pos();
        if self.first.is_some() {
            return self.postfix();
        }
        if self.is_op("-")? || self.is_op("+")? {
            let neg = self.is_op("-")?;
            self.bump()?;
            self.nest += 1;
            let r = self.deeper().and_then(|()| self.unary());
            self.nest -= 1;
            return Ok(if neg {
                Expr::Neg(Box::new(r?), pos)
            } else {
                r?
            });
        }
        if self.is_op("~")? {
            return Err(self.s.err("the operator '~'"));
        }
        let base = self.postfix()?;
        if self.is_op("**")? {
            self.bump()?;
            self.nest += 1;
            let exp = self.deeper().and_then(|()| self.unary());
            self.nest -= 1;
            let exp = exp?;
            return Ok(Expr::Bin(BinOp::Pow, Box::new(base), Box::new(exp), pos));
        }
        Ok(base)
    }

    fn postfix(&mut self) -> R<Expr> {
        let mut e = self.atom()?;
        loop {
            self.skip();
            let pos = self.s.pos();
            self.node()?;
            if self.eat_op(".")? {
                let Tok::Name(n, _) = self.bump()? else {
                    return Err(self.s.err("expected a name after '.'"));
                };
                e = Expr::Attr(Box::new(e), n.to_string(), pos);
            } else if self.is_op("(")? {
                e = self.call(e, pos)?;
            } else if self.is_op("[")? {
                e = self.subscript(e, pos)?;
            } else {
                return Ok(e);
            }
        }
    }

    fn call(&mut self, func: Expr, pos: Pos) -> R<Expr> {
        self.expect("(")?;
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        while !self.eat_op(")")? {
            if self.is_op("*")? || self.is_op("**")? {
                return Err(self.s.err("*args and **kwargs in a call"));
            }
            let save = (self.s.i, self.depth);
            if let Tok::Name(n, _) = self.bump()?
                && self.is_op("=")?
            {
                self.bump()?;
                kwargs.push((n.to_string(), self.expr()?));
            } else {
                (self.s.i, self.depth) = save;
                let a = self.expr()?;
                if self.is_name("for")? {
                    return Err(self.s.err("a generator expression"));
                }
                args.push(a);
            }
            if !self.eat_op(",")? {
                self.expect(")")?;
                break;
            }
        }
        Ok(Expr::Call {
            func: Box::new(func),
            args,
            kwargs,
            pos,
        })
    }

    fn subscript(&mut self, obj: Expr, pos: Pos) -> R<Expr> {
        self.expect("[")?;
        let mut parts: [Option<Box<Expr>>; 3] = [None, None, None];
        let mut slice = false;
        let mut k = 0;
        loop {
            if self.eat_op("]")? {
                break;
            }
            if self.eat_op(":")? {
                slice = true;
                k += 1;
                if k > 2 {
                    return Err(self.s.err("a slice with more than two ':'"));
                }
                continue;
            }
            if parts[k].is_some() {
                return Err(self.s.err("expected ']'"));
            }
            parts[k] = Some(Box::new(self.testlist()?));
        }
        if slice {
            return Ok(Expr::Slice(Box::new(obj), parts, pos));
        }
        match parts[0].take() {
            Some(i) => Ok(Expr::Index(Box::new(obj), i, pos)),
            None => Err(self.s.err("an empty subscript")),
        }
    }

    fn atom(&mut self) -> R<Expr> {
        self.node()?;
        if let Some(e) = self.first.take() {
            return Ok(e);
        }
        self.skip();
        let pos = self.s.pos();
        match self.bump()? {
            Tok::Num(v) => Ok(Expr::Const(v)),
            Tok::Str(first) => {
                // Adjacent literals concatenate.
                let mut s = first.to_string();
                while let Tok::Str(more) = self.peek_tok()? {
                    self.bump()?;
                    s.push_str(&more);
                }
                Ok(Expr::Const(Value::str(s)))
            }
            Tok::Var => self.var(),
            Tok::Name(n, _) => Ok(match &*n {
                "None" => Expr::Const(Value::None),
                "True" => Expr::Const(Value::Bool(true)),
                "False" => Expr::Const(Value::Bool(false)),
                "lambda" | "yield" | "await" => {
                    return Err(Fail::Syntax(pos, format!("'{n}'")));
                }
                "and" | "or" | "not" | "in" | "is" | "if" | "else" | "for" => {
                    return Err(Fail::Syntax(pos, format!("unexpected '{n}'")));
                }
                _ => Expr::Name(n.to_string(), pos),
            }),
            Tok::Op("(") => {
                if self.eat_op(")")? {
                    return Ok(Expr::Tuple(Vec::new()));
                }
                let first = self.expr()?;
                if self.is_name("for")? {
                    return Err(self.s.err("a generator expression"));
                }
                if self.eat_op(")")? {
                    return Ok(first);
                }
                let mut items = vec![first];
                while self.eat_op(",")? {
                    if self.is_op(")")? {
                        break;
                    }
                    items.push(self.expr()?);
                }
                self.expect(")")?;
                Ok(Expr::Tuple(items))
            }
            Tok::Op("[") => {
                if self.eat_op("]")? {
                    return Ok(Expr::List(Vec::new()));
                }
                let first = self.expr()?;
                if self.is_name("for")? {
                    return self.comprehension(first, pos);
                }
                let mut items = vec![first];
                while self.eat_op(",")? {
                    if self.is_op("]")? {
                        break;
                    }
                    items.push(self.expr()?);
                }
                self.expect("]")?;
                Ok(Expr::List(items))
            }
            Tok::Op("{") => {
                if self.eat_op("}")? {
                    return Ok(Expr::Dict(Vec::new()));
                }
                let first = self.expr()?;
                if self.eat_op(":")? {
                    let mut items = vec![(first, self.expr()?)];
                    if self.is_name("for")? {
                        return Err(self.s.err("a dict comprehension"));
                    }
                    while self.eat_op(",")? {
                        if self.is_op("}")? {
                            break;
                        }
                        let k = self.expr()?;
                        self.expect(":")?;
                        items.push((k, self.expr()?));
                    }
                    self.expect("}")?;
                    return Ok(Expr::Dict(items));
                }
                let mut items = vec![first];
                while self.eat_op(",")? {
                    if self.is_op("}")? {
                        break;
                    }
                    items.push(self.expr()?);
                }
                self.expect("}")?;
                Ok(Expr::SetLit(items))
            }
            Tok::End => Err(Fail::Syntax(pos, "an expression is missing".into())),
            Tok::Op(o) => Err(Fail::Syntax(pos, format!("unexpected '{o}'"))),
        }
    }

    fn comprehension(&mut self, elt: Expr, pos: Pos) -> R<Expr> {
        self.bump()?; // for
        let targets = self.targets()?;
        if !self.is_name("in")? {
            return Err(self.s.err("expected 'in'"));
        }
        self.bump()?;
        let iter = self.or()?;
        let mut conds = Vec::new();
        while self.is_name("if")? {
            self.bump()?;
            conds.push(self.or()?);
        }
        if self.is_name("for")? {
            return Err(self.s.err("a comprehension with several 'for'"));
        }
        self.expect("]")?;
        Ok(Expr::ListComp {
            elt: Box::new(elt),
            targets,
            iter: Box::new(iter),
            conds,
            pos,
        })
    }

    /// `x`, `%%x`, `a, b`: the names a `for` binds (NameMapper off).
    pub fn targets(&mut self) -> R<Vec<String>> {
        let mut names = Vec::new();
        let paren = self.eat_op("(")?;
        loop {
            self.skip();
            if self.s.starts_with("%%") {
                self.s.i += 2;
            }
            match self.s.ident() {
                Some(n) => names.push(n),
                None => return Err(self.s.err("expected a loop variable name")),
            }
            if !self.eat_op(",")? {
                break;
            }
        }
        if paren {
            self.expect(")")?;
        }
        Ok(names)
    }

    /// After `%%`: the dotted name, its calls and subscripts.
    fn var(&mut self) -> R<Expr> {
        let pos = self.s.pos_of(self.s.i.saturating_sub(2));
        self.var_chunks(pos, self.plain)
    }

    /// Cheetah's `getCheetahVarNameChunks`: `name(.name)*` then at most
    /// one `(args)` or `[index]` right after, repeated while `.name`
    /// follows. The last name before `(` is not autocalled.
    pub fn var_chunks(&mut self, pos: Pos, plain: bool) -> R<Expr> {
        let mut e: Option<Expr> = None;
        loop {
            let mut names = Vec::new();
            while let Some(n) = self.s.ident() {
                names.push((n, self.s.pos()));
                if self.s.peek() == Some('.') && self.s.peek_at(1).is_some_and(ident_start) {
                    self.s.i += 1;
                } else {
                    break;
                }
            }
            let next = self.s.peek();
            let called = next == Some('(');
            for (n, p) in names {
                self.node()?;
                let autocall = true;
                e = Some(match e {
                    None if plain => Expr::Name(n, pos),
                    None => Expr::Search(n, autocall, pos),
                    Some(prev) if plain => Expr::Attr(Box::new(prev), n, p),
                    Some(prev) => Expr::Lookup(Box::new(prev), n, autocall, p),
                });
            }
            let Some(cur) = e.take() else {
                return Err(self.s.err("expected a name after '%%'"));
            };
            self.node()?;
            let here = self.s.pos();
            let cur = if called {
                let f = no_autocall(cur);
                let save = self.plain;
                self.plain = plain;
                let r = self.call(f, here);
                self.plain = save;
                r?
            } else if next == Some('[') {
                let save = self.plain;
                self.plain = plain;
                let r = self.subscript(cur, here);
                self.plain = save;
                r?
            } else {
                return Ok(cur);
            };
            e = Some(cur);
            if self.s.peek() == Some('.') && self.s.peek_at(1).is_some_and(ident_start) {
                self.s.i += 1;
                continue;
            }
            return Ok(e.unwrap_or(Expr::Const(Value::None)));
        }
    }

    /// An expression where NameMapper is off (a `%set` target).
    pub fn plain_target(&mut self) -> R<Expr> {
        self.plain = true;
        let r = self.postfix();
        self.plain = false;
        r
    }
}

/// The name right before an argument list is not autocalled.
fn no_autocall(e: Expr) -> Expr {
    match e {
        Expr::Search(n, _, p) => Expr::Search(n, false, p),
        Expr::Lookup(o, n, _, p) => Expr::Lookup(o, n, false, p),
        e => e,
    }
}
