//! Splitting template text into tokens, with Go's rules: text until the left delimiter,
//! `{{- ` and ` -}}` trim markers, `/* */` comments, and inside an action the words Go's
//! lexer knows. Errors are worded as Go's lexer words them.

use std::borrow::Cow;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Error,
    Eof,
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Assign,
    Declare,
    Pipe,
    LeftParen,
    RightParen,
    /// Any other printable ASCII character (`,` is the one the parser uses).
    Char,
    String,
    RawString,
    CharConstant,
    Number,
    Complex,
    Bool,
    Field,
    Variable,
    Identifier,
    // Keywords: printed as `<word>` in errors.
    Dot,
    Nil,
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

impl Kind {
    fn is_keyword(self) -> bool {
        matches!(
            self,
            Kind::Dot
                | Kind::Nil
                | Kind::Block
                | Kind::Break
                | Kind::Continue
                | Kind::Define
                | Kind::Else
                | Kind::End
                | Kind::If
                | Kind::Range
                | Kind::Template
                | Kind::With
        )
    }
}

/// One token: its kind, byte offset, text (borrowed from the input, or an error's message)
/// and the line it starts on.
#[derive(Clone, Debug)]
pub(crate) struct Token<'a> {
    pub kind: Kind,
    pub pos: usize,
    pub val: Cow<'a, str>,
    pub line: usize,
}

impl std::fmt::Display for Token<'_> {
    /// As Go prints an item in "unexpected X" errors.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Eof => write!(f, "EOF"),
            Kind::Error => write!(f, "{}", self.val),
            k if k.is_keyword() => write!(f, "<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                write!(f, "{}...", go_quote(&head))
            }
            _ => write!(f, "{}", go_quote(&self.val)),
        }
    }
}

fn go_quote(s: &str) -> String {
    crate::fmt::quote(s)
}

const SPACE: &[char] = &[' ', '\t', '\r', '\n'];

/// How many line breaks `s` holds.
fn newlines(s: &str) -> usize {
    s.bytes().filter(|b| *b == b'\n').count()
}

fn is_space(c: char) -> bool {
    SPACE.contains(&c)
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric() && is_go_digit(c)
}

/// Go's `unicode.IsDigit` is the Nd category; Rust's `is_numeric` is wider (it also takes
/// letter-like and other numbers), so a character must also be a decimal digit somewhere.
fn is_go_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.to_digit(10).is_none() && is_nd(c))
}

fn is_nd(c: char) -> bool {
    // Decimal digits outside ASCII come in runs of ten starting at a zero; Rust exposes no
    // category table, so treat the common scripts' digit blocks as Nd.
    const ZEROS: &[u32] = &[
        0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
        0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0,
        0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0,
        0xAA50, 0xABF0, 0xFF10,
    ];
    let u = c as u32;
    ZEROS.iter().any(|z| (*z..z + 10).contains(&u))
}

pub(crate) struct Lexer<'a> {
    input: &'a str,
    left: &'a str,
    right: &'a str,
    pos: usize,
    start: usize,
    line: usize,
    start_line: usize,
    paren_depth: i32,
    inside: bool,
    /// `break`/`continue` are keywords unless a function of that name exists.
    pub break_ok: bool,
    pub continue_ok: bool,
    out: Vec<Token<'a>>,
    done: bool,
    /// (position, line) of the last token pushed.
    counted: (usize, usize),
}

impl<'a> Lexer<'a> {
    pub fn new(input: &'a str, left: &'a str, right: &'a str) -> Lexer<'a> {
        Lexer {
            input,
            left: if left.is_empty() { "{{" } else { left },
            right: if right.is_empty() { "}}" } else { right },
            pos: 0,
            start: 0,
            line: 1,
            start_line: 1,
            paren_depth: 0,
            inside: false,
            break_ok: true,
            continue_ok: true,
            out: Vec::new(),
            done: false,
            counted: (0, 1),
        }
    }

    /// Every token up to and including EOF or the first error.
    pub fn tokens(mut self) -> Vec<Token<'a>> {
        while !self.done {
            if self.inside {
                self.inside_action();
            } else {
                self.text();
            }
        }
        self.out
    }

    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn backup(&mut self, c: Option<char>) {
        if let Some(c) = c {
            self.pos -= c.len_utf8();
            if c == '\n' {
                self.line -= 1;
            }
        }
    }

    fn emit(&mut self, kind: Kind) {
        let val = Cow::Borrowed(&self.input[self.start..self.pos]);
        self.push(kind, self.start, val, self.start_line);
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn push(&mut self, kind: Kind, pos: usize, val: Cow<'a, str>, _line: usize) {
        if matches!(kind, Kind::Eof | Kind::Error) {
            self.done = true;
        }
        // The line a token starts on, counted from the last token's line.
        if pos >= self.counted.0 {
            self.counted.1 += newlines(&self.input[self.counted.0..pos]);
        } else {
            self.counted.1 = 1 + newlines(&self.input[..pos]);
        }
        self.counted.0 = pos;
        let line = self.counted.1;
        self.out.push(Token {
            kind,
            pos,
            val,
            line,
        });
    }

    fn ignore(&mut self) {
        self.line += newlines(&self.input[self.start..self.pos]);
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn error(&mut self, msg: String) {
        let (pos, line) = (self.start, self.start_line);
        self.push(Kind::Error, pos, Cow::Owned(msg), line);
    }

    fn has_left_trim(s: &str) -> bool {
        let mut c = s.chars();
        c.next() == Some('-') && c.next().is_some_and(is_space)
    }

    fn has_right_trim(s: &str) -> bool {
        let mut c = s.chars();
        c.next().is_some_and(is_space) && c.next() == Some('-')
    }

    /// Whether the right delimiter starts here, and whether with a trim marker.
    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest();
        if Self::has_right_trim(rest) && rest[2..].starts_with(self.right) {
            return (true, true);
        }
        (rest.starts_with(self.right), false)
    }

    fn text(&mut self) {
        if let Some(x) = self.rest().find(self.left) {
            if x > 0 {
                self.pos += x;
                let delim_end = self.pos + self.left.len();
                let mut trim = 0;
                if Self::has_left_trim(&self.input[delim_end..]) {
                    let text = &self.input[self.start..self.pos];
                    trim = text.len() - text.trim_end_matches(SPACE).len();
                }
                self.pos -= trim;
                let text = &self.input[self.start..self.pos];
                let (start, line) = (self.start, self.start_line);
                self.line += newlines(text);
                self.pos += trim;
                self.ignore();
                if !text.is_empty() {
                    self.push(Kind::Text, start, Cow::Borrowed(text), line);
                }
            }
            self.left_delim();
            return;
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.line += newlines(&self.input[self.start..]);
            let text = &self.input[self.start..];
            let (start, line) = (self.start, self.start_line);
            self.push(Kind::Text, start, Cow::Borrowed(text), line);
            self.start = self.pos;
            self.start_line = self.line;
        }
        let (pos, line) = (self.pos, self.line);
        self.push(Kind::Eof, pos, Cow::Borrowed(""), line);
    }

    fn left_delim(&mut self) {
        self.pos += self.left.len();
        let trim = Self::has_left_trim(self.rest());
        let after = if trim { 2 } else { 0 };
        if self.input[self.pos + after..].starts_with("/*") {
            self.pos += after;
            self.ignore();
            self.comment();
            return;
        }
        self.emit(Kind::LeftDelim);
        self.inside = true;
        self.pos += after;
        self.ignore();
        self.paren_depth = 0;
    }

    fn comment(&mut self) {
        self.pos += 2;
        let Some(x) = self.rest().find("*/") else {
            self.error("unclosed comment".into());
            return;
        };
        self.pos += x + 2;
        let (delim, trim) = self.at_right_delim();
        if !delim {
            self.error("comment ends before closing delimiter".into());
            return;
        }
        // Comments are not emitted (Go drops them unless asked to keep them).
        if trim {
            self.pos += 2;
        }
        self.pos += self.right.len();
        if trim {
            let rest = self.rest();
            self.pos += rest.len() - rest.trim_start_matches(SPACE).len();
        }
        self.ignore();
    }

    fn right_delim(&mut self) {
        let (_, trim) = self.at_right_delim();
        if trim {
            self.pos += 2;
            self.ignore();
        }
        self.pos += self.right.len();
        self.emit(Kind::RightDelim);
        if trim {
            let rest = self.rest();
            self.pos += rest.len() - rest.trim_start_matches(SPACE).len();
            self.ignore();
        }
        self.inside = false;
    }

    fn inside_action(&mut self) {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                self.right_delim();
            } else {
                self.error("unclosed left paren".into());
            }
            return;
        }
        let c = self.next();
        match c {
            None => self.error("unclosed action".into()),
            Some(c) if is_space(c) => {
                self.backup(Some(c));
                self.space();
            }
            Some('=') => self.emit(Kind::Assign),
            Some(':') => {
                if self.next() != Some('=') {
                    self.error("expected :=".into());
                } else {
                    self.emit(Kind::Declare);
                }
            }
            Some('|') => self.emit(Kind::Pipe),
            Some('"') => self.quote(),
            Some('`') => self.raw_quote(),
            Some('$') => self.variable(),
            Some('\'') => self.char_constant(),
            Some('.') if self.peek().is_some_and(|d| !d.is_ascii_digit()) => {
                self.field_or_variable(Kind::Field)
            }
            Some(c) if c == '.' || c == '+' || c == '-' || c.is_ascii_digit() => {
                self.backup(Some(c));
                self.number();
            }
            Some(c) if is_alnum(c) => {
                self.backup(Some(c));
                self.identifier();
            }
            Some('(') => {
                self.paren_depth += 1;
                self.emit(Kind::LeftParen);
            }
            Some(')') => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    self.error("unexpected right paren".into());
                } else {
                    self.emit(Kind::RightParen);
                }
            }
            Some(c) if c.is_ascii() && !c.is_ascii_control() => self.emit(Kind::Char),
            Some(c) => self.error(format!(
                "unrecognized character in action: {}",
                unicode_form(c)
            )),
        }
    }

    fn space(&mut self) {
        let mut n = 0;
        while self.peek().is_some_and(is_space) {
            self.next();
            n += 1;
        }
        // " -}}": leave the last space for the right delimiter.
        let back = &self.input[self.pos - 1..];
        if Self::has_right_trim(back) && back[2..].starts_with(self.right) {
            let c = self.input[..self.pos].chars().next_back();
            self.backup(c);
            if n == 1 {
                self.right_delim();
                return;
            }
        }
        self.emit(Kind::Space);
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.rest().starts_with(self.right),
        }
    }

    fn identifier(&mut self) {
        loop {
            let c = self.next();
            if c.is_some_and(is_alnum) {
                continue;
            }
            self.backup(c);
            let word = &self.input[self.start..self.pos];
            if !self.at_terminator() {
                self.error(format!("bad character {}", unicode_form(c.unwrap_or('\0'))));
                return;
            }
            let kind = match word {
                "." => Kind::Dot,
                "nil" => Kind::Nil,
                "block" => Kind::Block,
                "break" if self.break_ok => Kind::Break,
                "continue" if self.continue_ok => Kind::Continue,
                "define" => Kind::Define,
                "else" => Kind::Else,
                "end" => Kind::End,
                "if" => Kind::If,
                "range" => Kind::Range,
                "template" => Kind::Template,
                "with" => Kind::With,
                "true" | "false" => Kind::Bool,
                _ => Kind::Identifier,
            };
            self.emit(kind);
            return;
        }
    }

    fn variable(&mut self) {
        if self.at_terminator() {
            self.emit(Kind::Variable);
            return;
        }
        self.field_or_variable(Kind::Variable);
    }

    fn field_or_variable(&mut self, kind: Kind) {
        if self.at_terminator() {
            self.emit(if kind == Kind::Variable {
                Kind::Variable
            } else {
                Kind::Dot
            });
            return;
        }
        let mut c;
        loop {
            c = self.next();
            if !c.is_some_and(is_alnum) {
                self.backup(c);
                break;
            }
        }
        if !self.at_terminator() {
            self.error(format!("bad character {}", unicode_form(c.unwrap_or('\0'))));
            return;
        }
        self.emit(kind);
    }

    fn char_constant(&mut self) {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    None | Some('\n') => {
                        self.error("unterminated character constant".into());
                        return;
                    }
                    _ => {}
                },
                None | Some('\n') => {
                    self.error("unterminated character constant".into());
                    return;
                }
                Some('\'') => break,
                _ => {}
            }
        }
        self.emit(Kind::CharConstant);
    }

    fn quote(&mut self) {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    None | Some('\n') => {
                        self.error("unterminated quoted string".into());
                        return;
                    }
                    _ => {}
                },
                None | Some('\n') => {
                    self.error("unterminated quoted string".into());
                    return;
                }
                Some('"') => break,
                _ => {}
            }
        }
        self.emit(Kind::String);
    }

    fn raw_quote(&mut self) {
        loop {
            match self.next() {
                None => {
                    self.error("unterminated raw quoted string".into());
                    return;
                }
                Some('`') => break,
                _ => {}
            }
        }
        self.emit(Kind::RawString);
    }

    fn accept(&mut self, set: &str) -> bool {
        match self.peek() {
            Some(c) if set.contains(c) => {
                self.next();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, set: &str) {
        while self.accept(set) {}
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek().is_some_and(is_alnum) {
            self.next();
            return false;
        }
        true
    }

    fn number(&mut self) {
        if !self.scan_number() {
            let text = self.input[self.start..self.pos].to_owned();
            self.error(format!("bad number syntax: {}", go_quote(&text)));
            return;
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                let text = self.input[self.start..self.pos].to_owned();
                self.error(format!("bad number syntax: {}", go_quote(&text)));
                return;
            }
            self.emit(Kind::Complex);
            return;
        }
        self.emit(Kind::Number);
    }
}

/// Go's `%#U`: `U+0041 'A'`.
fn unicode_form(c: char) -> String {
    let code = format!("U+{:04X}", c as u32);
    if c.is_control() || (c != ' ' && c.is_whitespace()) {
        code
    } else {
        format!("{code} '{c}'")
    }
}
