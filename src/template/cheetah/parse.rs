//! The template text into a tree, by Cheetah's own rules with Creole's
//! tokens (directive `%`, placeholder `%%`, end-of-line slurp `%`,
//! comments ten `µ`).
//!
//! The line rules are Cheetah's (`Parser.py`, `Compiler.py`):
//! - A directive alone on its line (only white space before it) that ends
//!   the line eats the line's leading white space and its line end.
//! - `%slurp`, and a `%` at the end of a line, eat the rest of the line and
//!   its end; alone on their line, the leading white space too.
//! - A comment eats the rest of its line, and the line end when nothing but
//!   white space precedes it.
//! - `\%` and `\%%` in text write `%` and `%%`.
//!
//! The text of a method is collected in chunks as Cheetah's compiler does
//! ("pending string constants"): the white space a directive eats is cut
//! from the last chunk only, which is what Creole's output shows.

use super::Fail;
use super::ast::{AssignOp, Def, Expr, Node, Pos};
use super::expr::Parser;
use super::source::{Src, ident_char, ident_start, skip_rest};

/// Ten `µ`: Creole's comment, multi-line comment and PSP token (the
/// comment wins, being tried first).
const COMMENT: &str = "µµµµµµµµµµ";

/// Every directive name Cheetah knows: a `%` followed by another word is
/// text. `i18n` is Cheetah's one built-in macro.
const DIRECTIVES: &[&str] = &[
    "import",
    "from",
    "extends",
    "implements",
    "super",
    "slurp",
    "raw",
    "include",
    "cache",
    "filter",
    "echo",
    "silent",
    "transform",
    "call",
    "arg",
    "capture",
    "attr",
    "def",
    "block",
    "@",
    "defmacro",
    "closure",
    "set",
    "del",
    "if",
    "while",
    "for",
    "else",
    "elif",
    "pass",
    "break",
    "continue",
    "stop",
    "return",
    "yield",
    "repeat",
    "unless",
    "assert",
    "raise",
    "try",
    "except",
    "finally",
    "errorCatcher",
    "breakpoint",
    "compiler",
    "compiler-settings",
    "shBang",
    "encoding",
    "end",
    "i18n",
];

/// The `%end X` names, in the order Cheetah tries them.
const END_NAMES: &[&str] = &[
    "def",
    "block",
    "closure",
    "cache",
    "call",
    "capture",
    "filter",
    "errorCatcher",
    "while",
    "for",
    "if",
    "try",
    "repeat",
    "unless",
];

/// How deep blocks nest: far more than any template needs, and bounded so
/// that rendering cannot overflow the stack.
const MAX_BLOCKS: usize = 64;

/// A parsed template: its main body and its `%def`s.
#[derive(Debug, Clone)]
pub struct Tree {
    pub body: Vec<Node>,
    pub defs: Vec<Def>,
}

enum Block {
    If {
        pos: Pos,
        branches: Vec<(Expr, Vec<Node>)>,
        /// The condition of the branch being read; `None` in `%else`.
        cond: Option<Expr>,
        done: bool,
    },
    For {
        pos: Pos,
        targets: Vec<String>,
        iter: Expr,
    },
    Try {
        pos: Pos,
        body: Option<Vec<Node>>,
    },
    Def {
        name: String,
        params: Vec<(String, Option<Expr>)>,
        pos: Pos,
    },
}

impl Block {
    fn name(&self) -> &'static str {
        match self {
            Block::If { .. } => "if",
            Block::For { .. } => "for",
            Block::Try { .. } => "try",
            Block::Def { .. } => "def",
        }
    }
}

struct P {
    s: Src,
    /// Open blocks with the nodes read inside each; the first is the top.
    open: Vec<(Option<Block>, Vec<Node>)>,
    /// Pending text chunks, one list per method (the main one, a `%def`).
    pending: Vec<Vec<String>>,
    defs: Vec<Def>,
}

type R<T> = Result<T, Fail>;

/// Parses a whole template.
pub fn parse(text: &str) -> R<Tree> {
    let mut p = P {
        s: Src::new(text),
        open: vec![(None, Vec::new())],
        pending: vec![Vec::new()],
        defs: Vec::new(),
    };
    p.run()?;
    p.commit();
    if p.open.len() > 1 {
        let names: Vec<&str> = p.open[1..]
            .iter()
            .filter_map(|(b, _)| b.as_ref().map(Block::name))
            .collect();
        return Err(Fail::Syntax(
            p.s.pos(),
            format!(
                "some directives are missing their '%end': {}",
                names.join(", ")
            ),
        ));
    }
    let body = p.open.pop().map(|(_, n)| n).unwrap_or_default();
    Ok(Tree { body, defs: p.defs })
}

impl P {
    fn escaped(&self, i: usize) -> bool {
        i > 0 && self.s.c[i - 1] == '\\'
    }

    fn at_comment(&self) -> bool {
        self.s.starts_with(COMMENT) && !self.escaped(self.s.i)
    }

    /// `%%` opening a placeholder (any form; `!` and `*` are refused when
    /// read).
    fn at_placeholder(&self) -> bool {
        let i = self.s.i;
        if !self.s.starts_with("%%") || self.escaped(i) {
            return false;
        }
        let mut k = i + 2;
        while matches!(self.s.c.get(k), Some('!' | '*')) {
            k += 1;
        }
        match self.s.c.get(k) {
            Some(c) if ident_start(*c) => true,
            Some('{' | '(' | '[') => {
                let mut j = k + 1;
                while matches!(self.s.c.get(j), Some(' ' | '\t' | '\x0c')) {
                    j += 1;
                }
                // A name, or (the expression form) anything but a closing
                // bracket.
                self.s
                    .c
                    .get(j)
                    .is_some_and(|c| !matches!(c, ')' | '}' | ']'))
            }
            _ => false,
        }
    }

    /// The directive name after `%`, when it is one Cheetah knows: Cheetah
    /// reads name characters while some directive starts with them, and
    /// matches when the whole run is a directive.
    fn directive_name(&self) -> Option<&'static str> {
        let i = self.s.i;
        if self.s.c.get(i) != Some(&'%') || self.escaped(i) {
            return None;
        }
        let first = *self.s.c.get(i + 1)?;
        if first == '@' {
            return self
                .s
                .c
                .get(i + 2)
                .filter(|c| ident_start(**c))
                .map(|_| "@");
        }
        if !ident_start(first) {
            return None;
        }
        let name_char = |c: &char| ident_char(*c) || *c == '-' || *c == '@';
        let run = self.s.c[i + 1..]
            .iter()
            .take_while(|c| name_char(c))
            .count();
        let word = &self.s.c[i + 1..i + 1 + run];
        DIRECTIVES
            .iter()
            .find(|d| d.len() == run && d.chars().zip(word).all(|(a, b)| a == *b))
            .copied()
    }

    /// `%` + white space + line end.
    fn at_eol_slurp(&self) -> bool {
        if self.s.peek() != Some('%') {
            return false;
        }
        let mut k = self.s.i + 1;
        while matches!(self.s.c.get(k), Some(' ' | '\t' | '\x0c')) {
            k += 1;
        }
        matches!(self.s.c.get(k), Some('\n' | '\r'))
    }

    fn at_token(&self) -> bool {
        match self.s.peek() {
            Some('µ') => self.at_comment(),
            Some('%') => {
                self.at_placeholder() || self.directive_name().is_some() || self.at_eol_slurp()
            }
            _ => false,
        }
    }

    fn run(&mut self) -> R<()> {
        while !self.s.at_end() {
            if self.at_comment() {
                self.comment();
            } else if self.at_placeholder() {
                self.placeholder()?;
            } else if let Some(d) = self.directive_name() {
                self.directive(d)?;
            } else if self.at_eol_slurp() {
                self.slurp();
            } else {
                self.text();
            }
        }
        Ok(())
    }

    fn text(&mut self) {
        let start = self.s.i;
        while !self.s.at_end() && !self.at_token() {
            self.s.i += 1;
        }
        let raw: String = self.s.c[start..self.s.i].iter().collect();
        let text = if raw.contains('\\') {
            raw.replace("\\%%", "%%").replace("\\%", "%")
        } else {
            raw
        };
        self.add_text(text);
    }

    fn add_text(&mut self, t: String) {
        if let Some(p) = self.pending.last_mut() {
            p.push(t);
        }
    }

    /// Cheetah's `commitStrConst`.
    fn commit(&mut self) {
        let Some(p) = self.pending.last_mut() else {
            return;
        };
        if p.is_empty() {
            return;
        }
        let text: String = p.concat();
        p.clear();
        if text.is_empty() {
            return;
        }
        let nodes = self.nodes();
        if let Some(Node::Text(prev)) = nodes.last_mut() {
            prev.push_str(&text);
        } else {
            nodes.push(Node::Text(text));
        }
    }

    fn nodes(&mut self) -> &mut Vec<Node> {
        if self.open.is_empty() {
            self.open.push((None, Vec::new()));
        }
        let last = self.open.len() - 1;
        &mut self.open[last].1
    }

    fn add(&mut self, n: Node) {
        self.commit();
        self.nodes().push(n);
    }

    /// Cheetah's `handleWSBeforeDirective`: cuts the last pending chunk
    /// back to the start of its last line.
    fn cut_line_white(&mut self) {
        if let Some(last) = self.pending.last_mut().and_then(|p| p.last_mut()) {
            let bol = last.rfind(['\n', '\r']).map_or(0, |i| i + 1);
            last.truncate(bol);
        }
    }

    /// Only white space between the start of the line and the cursor.
    fn line_clear(&self) -> bool {
        let i = self.s.i;
        let mut k = i;
        while k > 0 && !matches!(self.s.c[k - 1], '\n' | '\r') {
            k -= 1;
        }
        self.s.c[k..i].iter().all(|c| c.is_whitespace())
    }

    /// The index of the end of the current line (before its line end).
    fn eol_index(&self) -> usize {
        let mut k = self.s.i;
        while k < self.s.len() && !matches!(self.s.c[k], '\n' | '\r') {
            k += 1;
        }
        k
    }

    /// Moves past the end of the current line (Cheetah's `readToEOL`).
    fn read_to_eol(&mut self, gobble: bool) {
        self.s.i = self.eol_index();
        if gobble {
            self.eat_newline();
        }
    }

    fn eat_newline(&mut self) {
        match self.s.peek() {
            Some('\r') if self.s.peek_at(1) == Some('\n') => self.s.i += 2,
            Some('\n' | '\r') => self.s.i += 1,
            _ => {}
        }
    }

    fn comment(&mut self) {
        let clear = self.line_clear();
        if clear {
            self.cut_line_white();
        }
        self.s.i += COMMENT.chars().count();
        let start = self.s.i;
        self.read_to_eol(false);
        let comm: String = self.s.c[start..self.s.i].iter().collect();
        if clear {
            self.eat_newline();
        }
        if !comment_kept_pending(&comm) {
            self.commit();
        }
    }

    /// `%slurp`, or `%` at the end of a line.
    fn slurp(&mut self) {
        if self.line_clear() {
            self.cut_line_white();
        }
        self.commit();
        self.read_to_eol(true);
    }

    /// Cheetah's `_eatRestOfDirectiveTag`, after a directive's expression.
    fn rest_of_tag(&mut self, clear: bool, eol: usize) {
        self.s.white();
        let mut comment = false;
        if self.at_comment() {
            let save = self.s.i;
            self.s.i += 1;
            let directive = self.directive_name().is_some();
            self.s.i = save;
            if !directive {
                comment = true;
                self.comment();
            }
        }
        if !comment && self.s.peek() == Some('#') && !self.escaped(self.s.i) {
            self.s.i += 1;
        } else if clear && matches!(self.s.peek(), Some('\n' | '\r')) {
            self.read_to_eol(true);
        }
        if clear && (self.s.at_end() || self.s.i > eol) {
            self.cut_line_white();
        }
    }

    /// After an expression: white space, an optional `:`, then the end of
    /// the tag. A `:` followed by text is Cheetah's one-line form.
    fn end_of_tag(&mut self, clear: bool, eol: usize, what: &str) -> R<()> {
        self.s.white();
        if self.s.peek() == Some(':') {
            let rest: String = self.s.c[self.s.i + 1..self.eol_index()].iter().collect();
            let rest = rest.trim();
            if !rest.is_empty() && !rest.starts_with(COMMENT) {
                return Err(self.s.err(format!(
                    "the one-line form '%{what} …: text' (conteneur reads '%{what}' on its own line)"
                )));
            }
            self.s.i += 1;
        }
        self.s.white();
        let ok = self.s.at_end() || matches!(self.s.peek(), Some('\n' | '\r' | '#'));
        if !ok {
            let rest: String = self.s.c[self.s.i..self.eol_index()].iter().collect();
            return Err(self.s.err(format!(
                "unexpected text after the %{what} directive: '{}'",
                rest.trim()
            )));
        }
        self.rest_of_tag(clear, eol);
        Ok(())
    }

    fn expr(&mut self) -> R<Expr> {
        Parser::new(&mut self.s).testlist()
    }

    fn placeholder(&mut self) -> R<()> {
        let pos = self.s.pos();
        self.s.i += 2;
        if matches!(self.s.peek(), Some('!' | '*')) {
            return Err(Fail::Syntax(
                pos,
                "a silent ('%%!') or cached ('%%*') placeholder".into(),
            ));
        }
        let close = match self.s.peek() {
            Some('{') => Some('}'),
            Some('(') => Some(')'),
            Some('[') => Some(']'),
            _ => None,
        };
        let e = if let Some(close) = close {
            self.s.i += 1;
            self.s.white();
            let e = Parser::new(&mut self.s).enclosed(pos)?;
            if self.s.peek() != Some(close) {
                return Err(self
                    .s
                    .err(format!("expected '{close}' to close the placeholder")));
            }
            self.s.i += 1;
            e
        } else {
            Parser::new(&mut self.s).var_chunks(pos, false)?
        };
        self.add(Node::Output(e, pos));
        Ok(())
    }

    fn directive(&mut self, name: &'static str) -> R<()> {
        if self.open.len() > MAX_BLOCKS {
            return Err(self.s.err("directives nested too deeply"));
        }
        let clear = self.line_clear();
        let eol = self.eol_index();
        let pos = self.s.pos();
        self.s.i += 1 + name.chars().count();
        match name {
            "slurp" => {
                self.s.i -= 1 + name.len();
                self.slurp();
            }
            "if" | "elif" => {
                let cond = Parser::new(&mut self.s).expr()?;
                self.end_of_tag(clear, eol, name)?;
                if name == "if" {
                    self.commit();
                    self.open.push((
                        Some(Block::If {
                            pos,
                            branches: Vec::new(),
                            cond: Some(cond),
                            done: false,
                        }),
                        Vec::new(),
                    ));
                } else {
                    self.branch(Some(cond), pos)?;
                }
            }
            "else" => {
                self.s.white();
                if self.s.starts_with("if") && !self.s.peek_at(2).is_some_and(ident_char) {
                    self.s.i += 2;
                    let cond = Parser::new(&mut self.s).expr()?;
                    self.end_of_tag(clear, eol, name)?;
                    self.branch(Some(cond), pos)?;
                } else {
                    self.end_of_tag(clear, eol, name)?;
                    self.branch(None, pos)?;
                }
            }
            "for" => {
                let mut p = Parser::new(&mut self.s);
                let targets = p.targets()?;
                p.s.white();
                if !p.s.starts_with("in") || p.s.peek_at(2).is_some_and(ident_char) {
                    return Err(p.s.err("expected 'in' in the %for directive"));
                }
                p.s.i += 2;
                let iter = p.testlist()?;
                self.end_of_tag(clear, eol, name)?;
                self.commit();
                self.open
                    .push((Some(Block::For { pos, targets, iter }), Vec::new()));
            }
            "try" => {
                self.end_of_tag(clear, eol, name)?;
                self.commit();
                self.open
                    .push((Some(Block::Try { pos, body: None }), Vec::new()));
            }
            "except" => {
                self.s.white();
                if !(self.s.at_end() || matches!(self.s.peek(), Some(':' | '\n' | '\r' | '#'))) {
                    return Err(self
                        .s
                        .err("an %except naming exceptions (conteneur reads a bare %except)"));
                }
                self.end_of_tag(clear, eol, name)?;
                self.commit();
                let Some((Some(Block::Try { body, .. }), nodes)) = self.open.last_mut() else {
                    return Err(Fail::Syntax(pos, "%except outside %try".into()));
                };
                if body.is_some() {
                    return Err(Fail::Syntax(pos, "a second %except".into()));
                }
                if nodes.is_empty() {
                    return Err(empty_block(pos, "%try"));
                }
                *body = Some(std::mem::take(nodes));
            }
            "end" => self.end(clear, pos)?,
            "set" => self.set(clear, eol, pos)?,
            "silent" | "echo" | "return" => {
                let e = if name == "return" && self.tag_ends_here() {
                    None
                } else {
                    Some(self.expr()?)
                };
                self.end_of_tag(clear, eol, name)?;
                self.add(match (name, e) {
                    ("silent", Some(e)) => Node::Silent(e, pos),
                    ("echo", Some(e)) => Node::Output(e, pos),
                    (_, e) => Node::Return(e, pos),
                });
            }
            "break" | "continue" | "pass" => {
                // As Python's compiler: outside a loop (or a %def's own
                // loop) they are refused where they stand, not at render.
                if name != "pass" {
                    let in_loop = self
                        .open
                        .iter()
                        .rev()
                        .filter_map(|(b, _)| b.as_ref())
                        .find(|b| matches!(b, Block::For { .. } | Block::Def { .. }))
                        .is_some_and(|b| matches!(b, Block::For { .. }));
                    if !in_loop {
                        return Err(Fail::Syntax(pos, format!("'{name}' outside a %for loop")));
                    }
                }
                self.end_of_tag(clear, eol, name)?;
                self.add(match name {
                    "break" => Node::Break,
                    "continue" => Node::Continue,
                    _ => Node::Pass,
                });
            }
            "def" => self.def(clear, eol, pos)?,
            "import" | "from" => {
                return Err(Fail::Syntax(
                    pos,
                    format!("the %{name} directive (conteneur has no Python modules to import)"),
                ));
            }
            other => {
                return Err(Fail::Syntax(pos, format!("the %{other} directive")));
            }
        }
        Ok(())
    }

    fn tag_ends_here(&mut self) -> bool {
        self.s.white();
        self.s.at_end() || matches!(self.s.peek(), Some('\n' | '\r' | '#'))
    }

    /// `%elif` / `%else`: closes the current branch of the `%if`.
    fn branch(&mut self, cond: Option<Expr>, pos: Pos) -> R<()> {
        self.commit();
        let what = if cond.is_some() { "%elif" } else { "%else" };
        let Some((
            Some(Block::If {
                branches,
                cond: cur,
                done,
                ..
            }),
            nodes,
        )) = self.open.last_mut()
        else {
            return Err(Fail::Syntax(pos, format!("{what} outside %if")));
        };
        if *done {
            return Err(Fail::Syntax(pos, format!("{what} after %else")));
        }
        let body = std::mem::take(nodes);
        if body.is_empty() {
            return Err(empty_block(pos, "%if/%elif"));
        }
        match cur.take() {
            Some(c) => branches.push((c, body)),
            None => return Err(Fail::Syntax(pos, format!("{what} after %else"))),
        }
        match cond {
            Some(c) => *cur = Some(c),
            None => *done = true,
        }
        Ok(())
    }

    fn end(&mut self, clear: bool, pos: Pos) -> R<()> {
        self.s.white();
        let Some(which) = END_NAMES.iter().find(|n| self.s.starts_with(n)).copied() else {
            return Err(Fail::Syntax(pos, "an %end without what it ends".into()));
        };
        let eol = self.eol_index();
        skip_rest(&mut self.s);
        self.rest_of_tag(clear, eol);
        let top = self
            .open
            .last()
            .and_then(|(b, _)| b.as_ref().map(Block::name));
        match top {
            None => {
                return Err(Fail::Syntax(
                    pos,
                    format!("%end {which}, but nothing to end"),
                ));
            }
            Some(t) if t != which => {
                return Err(Fail::Syntax(
                    pos,
                    format!("%end {which}, expected %end {t}"),
                ));
            }
            _ => {}
        }
        self.commit();
        let Some((Some(block), nodes)) = self.open.pop() else {
            return Ok(());
        };
        if nodes.is_empty() && !matches!(block, Block::Def { .. }) {
            return Err(empty_block(pos, which));
        }
        let node = match block {
            Block::If {
                pos,
                mut branches,
                cond,
                ..
            } => {
                let orelse = match cond {
                    Some(c) => {
                        branches.push((c, nodes));
                        Vec::new()
                    }
                    None => nodes,
                };
                Node::If {
                    branches,
                    orelse,
                    pos,
                }
            }
            Block::For { pos, targets, iter } => Node::For {
                targets,
                iter,
                body: nodes,
                pos,
            },
            Block::Try { pos, body } => match body {
                Some(body) => Node::Try {
                    body,
                    handler: nodes,
                },
                None => return Err(Fail::Syntax(pos, "a %try without %except".into())),
            },
            Block::Def { name, params, pos } => {
                self.pending.pop();
                self.defs.push(Def {
                    name,
                    params,
                    body: nodes,
                    pos,
                });
                return Ok(());
            }
        };
        self.add(node);
        Ok(())
    }

    fn set(&mut self, clear: bool, eol: usize, pos: Pos) -> R<()> {
        self.s.white();
        let mut global = false;
        if self.s.starts_with("local") || self.s.starts_with("global") {
            global = self.s.starts_with("global");
            self.s.ident();
            self.s.white();
        } else if self.s.starts_with("module") {
            return Err(self.s.err("%set module"));
        }
        let mut target = Parser::new(&mut self.s).plain_target()?;
        self.s.white();
        if self.s.peek() == Some(',') {
            let mut items = vec![target];
            while self.s.peek() == Some(',') {
                self.s.i += 1;
                self.s.white();
                items.push(Parser::new(&mut self.s).plain_target()?);
                self.s.white();
            }
            target = Expr::Tuple(items);
        }
        let op = if self.s.starts_with("+=") {
            AssignOp::Add
        } else if self.s.starts_with("-=") {
            AssignOp::Sub
        } else if self.s.starts_with("*=") {
            AssignOp::Mul
        } else if self.s.peek() == Some('=') && self.s.peek_at(1) != Some('=') {
            AssignOp::Set
        } else {
            return Err(self.s.err("expected '=' in the %set directive"));
        };
        self.s.i += if op == AssignOp::Set { 1 } else { 2 };
        let value = self.expr()?;
        self.end_of_tag(clear, eol, "set")?;
        self.add(Node::Set {
            global,
            target,
            op,
            value,
            pos,
        });
        Ok(())
    }

    fn def(&mut self, clear: bool, eol: usize, pos: Pos) -> R<()> {
        if self
            .open
            .iter()
            .any(|(b, _)| matches!(b, Some(Block::Def { .. })))
        {
            return Err(Fail::Syntax(pos, "a %def inside a %def".into()));
        }
        self.s.white();
        if self.s.starts_with("%%") {
            self.s.i += 2;
        }
        let Some(name) = self.s.ident() else {
            return Err(self.s.err("expected the name of the %def"));
        };
        self.s.white();
        let mut params = Vec::new();
        if self.s.peek() == Some('(') {
            self.s.i += 1;
            loop {
                while matches!(self.s.peek(), Some(' ' | '\t' | '\x0c' | '\n' | '\r' | ',')) {
                    self.s.i += 1;
                }
                if self.s.peek() == Some(')') {
                    self.s.i += 1;
                    break;
                }
                if self.s.starts_with("%%") {
                    self.s.i += 2;
                }
                let Some(p) = self.s.ident() else {
                    return Err(self.s.err("expected a parameter name in the %def"));
                };
                self.s.white();
                let default = if self.s.peek() == Some('=') {
                    self.s.i += 1;
                    let mut parser = Parser::new(&mut self.s);
                    Some(parser.expr()?)
                } else {
                    None
                };
                if p != "self" || !params.is_empty() {
                    params.push((p, default));
                }
            }
        }
        self.s.white();
        if self.s.peek() == Some(':') {
            let rest: String = self.s.c[self.s.i + 1..self.eol_index()].iter().collect();
            if !rest.trim().is_empty() {
                return Err(self.s.err("the one-line form of %def"));
            }
            self.s.i += 1;
        }
        skip_rest(&mut self.s);
        self.rest_of_tag(clear, eol);
        self.open
            .push((Some(Block::Def { name, params, pos }), Vec::new()));
        self.pending.push(Vec::new());
        Ok(())
    }
}

/// A block with nothing to run: Cheetah compiles it to a Python block
/// without statement, which Python refuses.
fn empty_block(pos: Pos, what: &str) -> Fail {
    Fail::Syntax(
        pos,
        format!(
            "an empty {what} block (Cheetah compiles it to Python that does not run: IndentationError)"
        ),
    )
}

/// Comments Cheetah's compiler keeps out of the method without committing
/// the pending text: bars (`###`), `name@` special variables, doc strings.
fn comment_kept_pending(comm: &str) -> bool {
    if !comm.is_empty() && comm.chars().all(|c| c == '#') {
        return true;
    }
    // Cheetah's `([a-zA-z_]+)@`: the range A-z includes `[\]^_` and '`'.
    let special = comm.chars().take_while(|c| ('A'..='z').contains(c)).count();
    if special > 0 && comm[special..].starts_with('@') {
        return true;
    }
    ["doc:", "doc-method:", "doc-class:", "doc-module:"]
        .iter()
        .any(|p| comm.starts_with(p))
}
