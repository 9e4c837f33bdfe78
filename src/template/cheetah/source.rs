//! The template text with a cursor, read by the directive scanner
//! ([`super::parse`]) and the expression parser ([`super::expr`]).

use super::Fail;
use super::ast::Pos;

pub fn ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

pub fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The template text and a cursor, shared by the directive scanner and
/// the expression parser.
pub struct Src {
    pub c: Vec<char>,
    pub i: usize,
    /// Index of the first character of each line.
    lines: Vec<usize>,
}

impl Src {
    pub fn new(text: &str) -> Src {
        let c: Vec<char> = text.chars().collect();
        let mut lines = vec![0];
        for (i, &ch) in c.iter().enumerate() {
            if ch == '\n' || (ch == '\r' && c.get(i + 1) != Some(&'\n')) {
                lines.push(i + 1);
            }
        }
        Src { c, i: 0, lines }
    }

    pub fn len(&self) -> usize {
        self.c.len()
    }

    pub fn at_end(&self) -> bool {
        self.i >= self.c.len()
    }

    pub fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }

    pub fn peek_at(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }

    pub fn starts_with(&self, s: &str) -> bool {
        self.starts_with_at(self.i, s)
    }

    pub fn starts_with_at(&self, at: usize, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(k, ch)| self.c.get(at + k) == Some(&ch))
    }

    pub fn pos_of(&self, i: usize) -> Pos {
        let line = self.lines.partition_point(|&s| s <= i);
        let start = self.lines[line.saturating_sub(1)];
        Pos {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(i - start + 1).unwrap_or(u32::MAX),
        }
    }

    pub fn pos(&self) -> Pos {
        self.pos_of(self.i)
    }

    pub fn err(&self, what: impl Into<String>) -> Fail {
        Fail::Syntax(self.pos(), what.into())
    }

    /// Skips spaces, tabs and form feeds.
    pub fn white(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\x0c')) {
            self.i += 1;
        }
    }

    pub fn ident(&mut self) -> Option<String> {
        if !self.peek().is_some_and(ident_start) {
            return None;
        }
        let start = self.i;
        while self.peek().is_some_and(ident_char) {
            self.i += 1;
        }
        Some(self.c[start..self.i].iter().collect())
    }
}

/// Skips what Cheetah's `getExpression` would read to the end of the
/// directive (the line end, or `#` outside brackets), for `%end` and
/// `%def`, which ignore it.
pub fn skip_rest(s: &mut Src) {
    while let Some(c) = s.peek() {
        if c == '\n' || c == '\r' || c == '#' {
            return;
        }
        s.i += 1;
    }
}
