//! The tree a template is parsed into, once; [`super::eval`] walks it.

use super::value::Value;

/// A place in the template: line and column, 1-based (columns count
/// characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    /// `%%x`, `%%{x}`, `%echo x`: written through Cheetah's filter
    /// (`None` writes nothing, anything else its `str()`).
    Output(Expr, Pos),
    If {
        branches: Vec<(Expr, Vec<Node>)>,
        orelse: Vec<Node>,
        pos: Pos,
    },
    For {
        targets: Vec<String>,
        iter: Expr,
        body: Vec<Node>,
        pos: Pos,
    },
    /// `%set [global] LVALUE OP RVALUE`.
    Set {
        global: bool,
        target: Expr,
        op: AssignOp,
        value: Expr,
        pos: Pos,
    },
    /// `%silent expr`: evaluated, nothing written.
    Silent(Expr, Pos),
    Return(Option<Expr>, Pos),
    Break,
    Continue,
    Pass,
    /// `%try … %except … %end try`: the handlers catch every Python error
    /// (the templates use a bare `%except`).
    Try {
        body: Vec<Node>,
        handler: Vec<Node>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignOp {
    Set,
    Add,
    Sub,
    Mul,
}

/// A `%def`: a method of the template, callable from anywhere in it.
#[derive(Debug, Clone)]
pub struct Def {
    pub name: String,
    pub params: Vec<(String, Option<Expr>)>,
    pub body: Vec<Node>,
    pub pos: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Is,
    IsNot,
}

#[derive(Debug, Clone)]
pub enum Expr {
    Const(Value),
    /// A Python name: the frame's locals, then builtins.
    Name(String, Pos),
    /// `%%name`: Cheetah's search (locals, `%set global`s, the template's
    /// `%def`s and `getVar`, the namespace, builtins), autocalling a
    /// function when `autocall`.
    Search(String, bool, Pos),
    /// `.name` after a `%%` placeholder: a dict's key first, else the
    /// attribute (NameMapper).
    Lookup(Box<Expr>, String, bool, Pos),
    /// Python's `obj.name`.
    Attr(Box<Expr>, String, Pos),
    Index(Box<Expr>, Box<Expr>, Pos),
    Slice(Box<Expr>, [Option<Box<Expr>>; 3], Pos),
    Call {
        func: Box<Expr>,
        args: Vec<Expr>,
        kwargs: Vec<(String, Expr)>,
        pos: Pos,
    },
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    SetLit(Vec<Expr>),
    /// `[elt for targets in iter if cond…]`
    ListComp {
        elt: Box<Expr>,
        targets: Vec<String>,
        iter: Box<Expr>,
        conds: Vec<Expr>,
        pos: Pos,
    },
    Bin(BinOp, Box<Expr>, Box<Expr>, Pos),
    Neg(Box<Expr>, Pos),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `a < b <= c`: Python's chained comparison.
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>, Pos),
    IfElse {
        cond: Box<Expr>,
        then: Box<Expr>,
        orelse: Box<Expr>,
    },
}
