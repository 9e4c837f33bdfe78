//! The one parser of Python literals in conteneur, for the two places EOLE
//! writes them:
//!
//! - the `<param>` of a dictionary, chiefly the list of a `valid_enum`
//!   check, which Creole hands to Python's `eval` ([`Dialect::Source`]):
//!
//!   ```xml
//!   <check name="valid_enum" target="eth0_method">
//!       <param>['non géré', 'dhcp', 'statique']</param>
//!   </check>
//!   ```
//!
//! - the `val = [...]` lines of an EOLE 2.3 config.eol (INI form), written
//!   by Python 2's `repr` ([`Dialect::Repr2`]): `val = ['a', u'\xe9', 5L]`.
//!
//! Only the literal subset these use is accepted, with Python's own rules
//! for it: quoted strings (`'…'`, `"…"`, triple quotes, `u`/`r`/`b`
//! prefixes, escapes), integers (Python 2's `5L` too) and decimals, `True`,
//! `False`, `None`, in a list (or, in dictionaries, a tuple), with an
//! optional trailing comma and `#` comments. Each item comes back typed
//! ([`Item`]); a dictionary compares them as text ([`parse_list`]),
//! config.eol keeps them as JSON values.
//!
//! An error says where (in characters from the start of the literal, see
//! [`Error::at`]) and what was expected there. The parser works on `char`s
//! and never panics, whatever the input.

use std::fmt;

/// Which writer produced the literal: the rules differ where Python 2's
/// `repr` and a dictionary author differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Python source an author wrote in a dictionary: a list or a tuple,
    /// adjacent strings joined (`'a' 'b'` is `'ab'`), a line break only in a
    /// triple-quoted string, every string text (`\xe9` is `é`).
    Source,
    /// What Python 2's `repr` wrote in an EOLE 2.3 config.eol: a list only;
    /// strings without `u` are bytes (`'\xc3\xa9'` is the UTF-8 of `é`,
    /// read as Latin-1 if it is not UTF-8), `\u` escapes only in `u'…'`;
    /// two strings side by side are a mistake (`repr` never writes them);
    /// a `;` comment may follow the list, as in an INI file.
    Repr2,
}

/// One item of a literal list, typed as Python reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Str(String),
    /// A number as written, sign included and a Python 2 `L` suffix
    /// dropped (`-3`, `2.`, `1e5`); always a finite number.
    Number(String),
    Bool(bool),
    None,
}

impl Item {
    /// The item as a dictionary compares it: the text of a string, the
    /// number as written, `True`, `False`, `None`.
    pub fn into_text(self) -> String {
        match self {
            Item::Str(s) | Item::Number(s) => s,
            Item::Bool(true) => "True".into(),
            Item::Bool(false) => "False".into(),
            Item::None => "None".into(),
        }
    }
}

/// What went wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Offset in characters from the start of the literal of what is
    /// wrong: the start of an unterminated string, a bad escape, the
    /// unexpected character.
    pub at: usize,
    kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ErrorKind {
    /// Something else was expected here.
    Expected {
        what: String,
        found: Option<char>,
    },
    StrayBackslash,
    Nested,
    Unterminated {
        quote: String,
    },
    LineBreak {
        here: usize,
    },
    NamedEscape,
    HexDigits {
        digits: usize,
        pos: usize,
        found: Option<char>,
    },
    NotACharacter {
        value: u32,
    },
    UnknownName {
        word: String,
    },
    NumberRange {
        text: String,
    },
}

/// "'x'" or "end of input", for messages with an offset.
fn found(c: Option<char>) -> String {
    match c {
        Some(c) => format!("{c:?}"),
        None => "end of input".to_string(),
    }
}

/// The message with offsets in it: a dictionary's `<param>` is one line of
/// XML, so the offset is what finds the place.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at;
        match &self.kind {
            ErrorKind::Expected { what, found: c } => {
                write!(f, "expected {what} at offset {at}, found {}", found(*c))
            }
            ErrorKind::StrayBackslash => write!(
                f,
                "unexpected '\\' at offset {at}: a backslash outside a string must end the line"
            ),
            ErrorKind::Nested => write!(
                f,
                "nested lists, tuples and dicts are not supported (offset {at})"
            ),
            ErrorKind::Unterminated { quote } => write!(
                f,
                "unterminated string starting at offset {at}: expected a closing {quote}"
            ),
            ErrorKind::LineBreak { here } => write!(
                f,
                "line break inside the string starting at offset {at} (offset {here}): \
                 close the quote first, or write \\n"
            ),
            ErrorKind::NamedEscape => write!(
                f,
                "\\N{{…}} escapes (character names) are not supported (offset {at})"
            ),
            ErrorKind::HexDigits {
                digits,
                pos,
                found: c,
            } => write!(
                f,
                "invalid escape at offset {at}: expected {digits} hex digits at offset {pos}, found {}",
                found(*c)
            ),
            ErrorKind::NotACharacter { value } => write!(
                f,
                "invalid escape at offset {at}: U+{value:X} is not a valid character"
            ),
            ErrorKind::UnknownName { word } => write!(
                f,
                "unknown name '{word}' at offset {at}: expected a quoted string, \
                 a number, True, False or None"
            ),
            ErrorKind::NumberRange { text } => {
                write!(f, "the number {text} at offset {at} is too large")
            }
        }
    }
}

impl Error {
    /// The message without offsets, for a caller that gives the place as a
    /// line and column of its own file (config.eol).
    pub fn describe(&self) -> String {
        let found = |c: &Option<char>| match c {
            Some(c) => format!("{c:?}"),
            None => "the end of the value".to_string(),
        };
        match &self.kind {
            ErrorKind::Expected { what, found: c } => {
                format!("expected {what}, found {}", found(c))
            }
            ErrorKind::StrayBackslash => {
                "a backslash outside a string must end the line".to_string()
            }
            ErrorKind::Nested => "nested lists, tuples and dicts are not supported".to_string(),
            ErrorKind::Unterminated { quote } => {
                format!("string is not closed (missing {quote})")
            }
            ErrorKind::LineBreak { .. } => {
                "line break inside a string: close the quote first, or write \\n".to_string()
            }
            ErrorKind::NamedEscape => {
                "\\N{…} escapes (character names) are not supported".to_string()
            }
            ErrorKind::HexDigits { digits, .. } => {
                format!("escape sequence needs {digits} hexadecimal digits")
            }
            ErrorKind::NotACharacter { value } => {
                format!("escape U+{value:X} is not a character")
            }
            ErrorKind::UnknownName { word } => {
                format!("expected a quoted string, a number, True, False or None, found '{word}'")
            }
            ErrorKind::NumberRange { text } => format!("the number {text} is too large"),
        }
    }

    /// [`Error::at`] as a byte offset into `src`, the text that was parsed.
    pub fn byte_offset(&self, src: &str) -> usize {
        src.char_indices()
            .nth(self.at)
            .map_or(src.len(), |(byte, _)| byte)
    }
}

/// Parses a Python list literal (or, in [`Dialect::Source`], a tuple).
///
/// A parenthesised single value such as `('a')` is, for Python, just the
/// string `'a'`; it is taken here as a one-item sequence, which is what a
/// dictionary author writing it means.
pub fn parse(s: &str, dialect: Dialect) -> Result<Vec<Item>, Error> {
    let mut p = Parser {
        chars: s.chars().collect(),
        pos: 0,
        dialect,
    };
    p.skip_blank()?;
    let close = match (p.peek(), dialect) {
        (Some('['), _) => ']',
        (Some('('), Dialect::Source) => ')',
        (_, Dialect::Source) => return Err(p.expected("'[' or '('")),
        (_, Dialect::Repr2) => return Err(p.expected("a Python list such as ['value']")),
    };
    p.pos += 1;
    let mut items = Vec::new();
    loop {
        p.skip_blank()?;
        if p.peek() == Some(close) {
            p.pos += 1;
            break;
        }
        items.push(p.item(close)?);
        p.skip_blank()?;
        match p.peek() {
            Some(',') => p.pos += 1,
            Some(c) if c == close => {
                p.pos += 1;
                break;
            }
            _ => return Err(p.expected(&format!("',' or '{close}'"))),
        }
    }
    p.skip_blank()?;
    match p.peek() {
        None => Ok(items),
        // An INI comment after the value.
        Some(';') if dialect == Dialect::Repr2 => Ok(items),
        Some(_) => Err(p.expected("end of input")),
    }
}

/// Parses a dictionary's list or tuple literal into the text of its items
/// (`valid_enum` compares them with values, which are text: `['10', '100']`
/// and `[10, 100]` both give `"10"`, `"100"`).
///
/// ```text
/// parse_list("['oui', \"non\",]")  == Ok(vec!["oui", "non"])
/// parse_list("['a' 'b']")          == Ok(vec!["ab"])   // adjacent literals
/// parse_list("[1, True, None]")    == Ok(vec!["1", "True", "None"])
/// parse_list("['a' 'b'")           == Err("expected ',' or ']' at offset 8, found end of input")
/// ```
pub fn parse_list(s: &str) -> Result<Vec<String>, String> {
    parse(s, Dialect::Source)
        .map(|items| items.into_iter().map(Item::into_text).collect())
        .map_err(|e| e.to_string())
}

/// A cursor over the characters of the literal.
struct Parser {
    chars: Vec<char>,
    /// Index in `chars` of the next character: the offset used in messages.
    pos: usize,
    dialect: Dialect,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos.checked_add(ahead)?).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn error(&self, at: usize, kind: ErrorKind) -> Error {
        Error { at, kind }
    }

    /// "expected X, found Y" at the current position.
    fn expected(&self, what: &str) -> Error {
        self.error(
            self.pos,
            ErrorKind::Expected {
                what: what.to_string(),
                found: self.peek(),
            },
        )
    }

    /// Skips what Python ignores between tokens inside brackets: spaces,
    /// tabs, newlines, form feeds, `#` comments and `\` line continuations.
    fn skip_blank(&mut self) -> Result<(), Error> {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\n' | '\r' | '\x0c' => self.pos += 1,
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                }
                '\\' => match (self.peek_at(1), self.peek_at(2)) {
                    (Some('\n'), _) => self.pos += 2,
                    (Some('\r'), Some('\n')) => self.pos += 3,
                    (Some('\r'), _) => self.pos += 2,
                    _ => return Err(self.error(self.pos, ErrorKind::StrayBackslash)),
                },
                _ => break,
            }
        }
        Ok(())
    }

    /// One item of the sequence.
    fn item(&mut self, close: char) -> Result<Item, Error> {
        if self.at_string_start() {
            return match self.dialect {
                Dialect::Source => self.concatenated_strings(),
                Dialect::Repr2 => self.string(),
            }
            .map(Item::Str);
        }
        match self.peek() {
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => self.number(),
            Some(c) if c.is_alphabetic() || c == '_' => self.name(),
            Some('[' | '(' | '{') => Err(self.error(self.pos, ErrorKind::Nested)),
            _ => Err(self.expected(&format!(
                "a quoted string, a number, True, False, None or '{close}'"
            ))),
        }
    }

    /// The length of a string prefix (`u`, `r`, `b`, `ur`, `br`, `rb`, any
    /// case) starting at the cursor and followed by a quote, if there is one.
    fn string_prefix_len(&self) -> Option<usize> {
        let is_quote = |c: Option<char>| matches!(c, Some('\'' | '"'));
        if is_quote(self.peek()) {
            return Some(0);
        }
        let first = self.peek()?.to_ascii_lowercase();
        if !matches!(first, 'u' | 'r' | 'b') {
            return None;
        }
        if is_quote(self.peek_at(1)) {
            return Some(1);
        }
        let second = self.peek_at(1)?.to_ascii_lowercase();
        let pair_ok = matches!((first, second), ('u' | 'b', 'r') | ('r', 'b'));
        (pair_ok && is_quote(self.peek_at(2))).then_some(2)
    }

    fn at_string_start(&self) -> bool {
        self.string_prefix_len().is_some()
    }

    /// `'a' "b"` is one string `ab` in Python, even across lines.
    fn concatenated_strings(&mut self) -> Result<String, Error> {
        let mut text = self.string()?;
        loop {
            self.skip_blank()?;
            if !self.at_string_start() {
                return Ok(text);
            }
            text.push_str(&self.string()?);
        }
    }

    /// One quoted string, prefix included, with its escapes decoded.
    fn string(&mut self) -> Result<String, Error> {
        let start = self.pos;
        let prefix_len = self.string_prefix_len().unwrap_or(0);
        let prefix = self.chars.get(start..start + prefix_len).unwrap_or(&[]);
        let has = |p: char| prefix.iter().any(|c| c.eq_ignore_ascii_case(&p));
        let raw = has('r');
        // Python 2's plain strings hold bytes; Python 3's (and u'…') text.
        let bytes_string = self.dialect == Dialect::Repr2 && !has('u');
        self.pos += prefix_len;
        let Some(quote) = self.next() else {
            return Err(self.expected("a quote"));
        };
        let triple = self.peek() == Some(quote) && self.peek_at(1) == Some(quote);
        if triple {
            self.pos += 2;
        }
        let unterminated = |p: &Self| {
            let q = if triple {
                quote.to_string().repeat(3)
            } else {
                quote.to_string()
            };
            p.error(start, ErrorKind::Unterminated { quote: q })
        };
        let mut out = Bytes::default();
        loop {
            let here = self.pos;
            let Some(c) = self.next() else {
                return Err(unterminated(self));
            };
            match c {
                c if c == quote => {
                    if !triple {
                        return Ok(out.into_string());
                    }
                    if self.peek() == Some(quote) && self.peek_at(1) == Some(quote) {
                        self.pos += 2;
                        return Ok(out.into_string());
                    }
                    out.push(c);
                }
                // repr never breaks a line inside a string, but an INI
                // continuation line may hold one: kept as it is.
                '\n' | '\r' if !triple && self.dialect == Dialect::Source => {
                    return Err(self.error(start, ErrorKind::LineBreak { here }));
                }
                '\\' if raw => {
                    // In a raw string a backslash stays, and protects the
                    // next character (even a quote) from ending the string.
                    out.push('\\');
                    match self.next() {
                        Some(c) => out.push(c),
                        None => return Err(unterminated(self)),
                    }
                }
                '\\' => {
                    if !self.escape(&mut out, bytes_string)? {
                        return Err(unterminated(self));
                    }
                }
                c => out.push(c),
            }
        }
    }

    /// Decodes the escape after a backslash into `out`. Unknown escapes keep
    /// their backslash, as in Python (`'\d'` is two characters). False if
    /// the input ended.
    fn escape(&mut self, out: &mut Bytes, bytes_string: bool) -> Result<bool, Error> {
        let at = self.pos.saturating_sub(1);
        let Some(c) = self.next() else {
            return Ok(false);
        };
        // `\x`, `\ooo`: a byte in a Python 2 byte string, else a character.
        let code = |out: &mut Bytes, p: &Self, value: u32| {
            if bytes_string {
                out.bytes.push((value & 0xff) as u8);
                Ok(())
            } else {
                char::from_u32(value)
                    .map(|c| out.push(c))
                    .ok_or_else(|| p.error(at, ErrorKind::NotACharacter { value }))
            }
        };
        match c {
            '\n' => {}
            '\r' => {
                if self.peek() == Some('\n') {
                    self.pos += 1;
                }
            }
            '\\' | '\'' | '"' => out.push(c),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '0'..='7' => {
                let mut value = c.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match self.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            value = value * 8 + d;
                            self.pos += 1;
                        }
                        None => break,
                    }
                }
                code(out, self, value)?;
            }
            'x' => {
                let value = self.hex_escape(at, 2)?;
                code(out, self, value)?;
            }
            // Python 2 byte strings know no \u: kept as written.
            'u' | 'U' if !bytes_string => {
                let value = self.hex_escape(at, if c == 'u' { 4 } else { 8 })?;
                code(out, self, value)?;
            }
            'N' if self.dialect == Dialect::Source => {
                return Err(self.error(at, ErrorKind::NamedEscape));
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
        Ok(true)
    }

    /// Reads exactly `digits` hex digits after `\x`, `\u` or `\U`.
    fn hex_escape(&mut self, at: usize, digits: usize) -> Result<u32, Error> {
        let mut value: u32 = 0;
        for _ in 0..digits {
            let Some(d) = self.peek().and_then(|c| c.to_digit(16)) else {
                return Err(self.error(
                    at,
                    ErrorKind::HexDigits {
                        digits,
                        pos: self.pos,
                        found: self.peek(),
                    },
                ));
            };
            value = value.saturating_mul(16).saturating_add(d);
            self.pos += 1;
        }
        Ok(value)
    }

    /// An integer or decimal, kept as written (sign included, blanks after
    /// the sign and a Python 2 `L` dropped).
    fn number(&mut self) -> Result<Item, Error> {
        let start = self.pos;
        if matches!(self.peek(), Some('-' | '+')) {
            self.pos += 1;
            while matches!(self.peek(), Some(' ' | '\t')) {
                self.pos += 1;
            }
        }
        let digits_start = self.pos;
        let mut seen_dot = false;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                self.pos += 1;
            } else if c == '.' && !seen_dot {
                seen_dot = true;
                self.pos += 1;
            } else {
                break;
            }
        }
        let digits = |p: &Self, from: usize| -> String { p.chars[from..p.pos].iter().collect() };
        if !digits(self, digits_start)
            .chars()
            .any(|c| c.is_ascii_digit())
        {
            self.pos = digits_start;
            return Err(self.expected("a number"));
        }
        // An exponent: 1e5, 2.5E-3.
        let mut exponent = false;
        if matches!(self.peek(), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.peek_at(1), Some('-' | '+')));
            if self.peek_at(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                exponent = true;
                self.pos += 1 + sign;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
            }
        }
        let body = digits(self, digits_start);
        // Python 2's long integers: 5L.
        if !seen_dot && !exponent && matches!(self.peek(), Some('L' | 'l')) {
            self.pos += 1;
        }
        let sign: String = self.chars[start..digits_start]
            .iter()
            .filter(|c| matches!(c, '-' | '+'))
            .collect();
        let text = format!("{sign}{body}");
        if !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return Err(self.error(start, ErrorKind::NumberRange { text }));
        }
        Ok(Item::Number(text))
    }

    /// `True`, `False` or `None`; any other name is an expression that only
    /// Python could evaluate.
    fn name(&mut self) -> Result<Item, Error> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        match word.as_str() {
            "True" => Ok(Item::Bool(true)),
            "False" => Ok(Item::Bool(false)),
            "None" => Ok(Item::None),
            _ => Err(self.error(start, ErrorKind::UnknownName { word })),
        }
    }
}

/// A string being decoded: bytes, as a Python 2 byte string holds bytes.
#[derive(Default)]
struct Bytes {
    bytes: Vec<u8>,
}

impl Bytes {
    fn push(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.bytes
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }

    /// UTF-8, as EOLE wrote; Latin-1 if the bytes are not UTF-8 (only a
    /// Python 2 byte string can hold such bytes).
    fn into_string(self) -> String {
        match String::from_utf8(self.bytes) {
            Ok(s) => s,
            Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
        }
    }
}

#[cfg(test)]
mod tests;
