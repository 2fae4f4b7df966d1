//! sprig's regular-expression functions, with Go's RE2 syntax and semantics on top of the
//! `regex` crate: the pattern is read as Go's parser reads it (with its error messages)
//! and written out for `regex` (ASCII `\d`, `\w`, `\s` and `\b`, octal escapes, `\Q..\E`,
//! capture names only Go allows, a `{` that is not a repetition as a literal). Matches
//! are leftmost-first in both. Iteration over matches, replacement templates (`$1`,
//! `${name}`) and splitting follow Go's rules for empty matches.

use regex::{Regex, RegexBuilder};
use slipway_template::{FuncResult, Value};

use super::args;
use super::unicode::{is_digit, is_letter};

/// A pattern compiled with Go's meaning, and its capture names (index 0 is the match).
struct GoRegex {
    re: Regex,
    names: Vec<String>,
    expr: String,
}

/// Go's `regexp/syntax` error: its code text and the part of the pattern it names.
struct SyntaxError {
    code: &'static str,
    expr: String,
}

impl SyntaxError {
    fn new(code: &'static str, expr: &str) -> SyntaxError {
        SyntaxError {
            code,
            expr: expr.to_owned(),
        }
    }

    fn text(&self) -> String {
        format!("error parsing regexp: {}: `{}`", self.code, self.expr)
    }
}

const MISSING_BRACKET: &str = "missing closing ]";
const MISSING_PAREN: &str = "missing closing )";
const UNEXPECTED_PAREN: &str = "unexpected )";
const TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";
const INVALID_ESCAPE: &str = "invalid escape sequence";
const INVALID_CHAR_RANGE: &str = "invalid character class range";
const INVALID_NAMED_CAPTURE: &str = "invalid named capture";
const INVALID_PERL_OP: &str = "invalid or unsupported Perl syntax";
const INVALID_REPEAT_OP: &str = "invalid nested repetition operator";
const INVALID_REPEAT_SIZE: &str = "invalid repeat count";
const MISSING_REPEAT_ARGUMENT: &str = "missing argument to repetition operator";

/// A character written for `regex` so it is always a literal, in or out of a class.
fn lit(c: char) -> String {
    if c.is_alphanumeric() || c == '_' {
        c.to_string()
    } else {
        format!("\\x{{{:X}}}", u32::from(c))
    }
}

const PERL_CLASSES: &[(char, &str)] =
    &[('d', "0-9"), ('s', "\\t\\n\\x0C\\r "), ('w', "0-9A-Za-z_")];

fn perl_class(c: char) -> Option<(bool, &'static str)> {
    let negated = c.is_ascii_uppercase();
    PERL_CLASSES
        .iter()
        .find(|(name, _)| *name == c.to_ascii_lowercase())
        .map(|(_, body)| (negated, *body))
}

const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// What the last thing written was, for Go's checks on repetitions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    /// Nothing yet, or `(` or `|`: a repetition here has no argument.
    Nothing,
    /// Something a repetition may follow.
    Operand,
}

struct Translator<'a> {
    whole: &'a str,
    out: String,
    names: Vec<String>,
    depth: usize,
    last: Last,
}

impl<'a> Translator<'a> {
    /// Go's `parseEscape` at `t` (which starts with `\`): the character and the rest.
    fn escape(&self, t: &'a str) -> Result<(char, &'a str), SyntaxError> {
        let mut chars = t[1..].chars();
        let Some(c) = chars.next() else {
            return Err(SyntaxError::new(TRAILING_BACKSLASH, ""));
        };
        let rest = chars.as_str();
        let consumed = |rest: &str| &t[..t.len() - rest.len()];
        let octal = |c: char, mut rest: &'a str| -> (char, &'a str) {
            let mut r = c as u32 - '0' as u32;
            for _ in 1..3 {
                match rest.as_bytes().first() {
                    Some(&d @ b'0'..=b'7') => {
                        r = r * 8 + u32::from(d - b'0');
                        rest = &rest[1..];
                    }
                    _ => break,
                }
            }
            (char::from_u32(r).unwrap_or('\u{fffd}'), rest)
        };
        match c {
            '1'..='7' if matches!(rest.as_bytes().first(), Some(b'0'..=b'7')) => {
                return Ok(octal(c, rest));
            }
            '0' => return Ok(octal(c, rest)),
            'x' => {
                let mut chars = rest.chars();
                match chars.next() {
                    Some('{') => {
                        let mut value: u32 = 0;
                        let mut digits = 0;
                        loop {
                            let Some(d) = chars.next() else {
                                return Err(SyntaxError::new(
                                    INVALID_ESCAPE,
                                    consumed(chars.as_str()),
                                ));
                            };
                            if d == '}' {
                                break;
                            }
                            let Some(v) = d.to_digit(16) else {
                                return Err(SyntaxError::new(
                                    INVALID_ESCAPE,
                                    consumed(chars.as_str()),
                                ));
                            };
                            value = value * 16 + v;
                            if value > 0x10FFFF {
                                return Err(SyntaxError::new(
                                    INVALID_ESCAPE,
                                    consumed(chars.as_str()),
                                ));
                            }
                            digits += 1;
                        }
                        if digits == 0 {
                            return Err(SyntaxError::new(INVALID_ESCAPE, consumed(chars.as_str())));
                        }
                        let c = char::from_u32(value).unwrap_or('\u{fffd}');
                        return Ok((c, chars.as_str()));
                    }
                    Some(x) => {
                        let y = chars.next();
                        match (x.to_digit(16), y.and_then(|y| y.to_digit(16))) {
                            (Some(x), Some(y)) => {
                                return Ok((
                                    char::from_u32(x * 16 + y).unwrap_or('\u{fffd}'),
                                    chars.as_str(),
                                ));
                            }
                            _ => {
                                return Err(SyntaxError::new(
                                    INVALID_ESCAPE,
                                    consumed(chars.as_str()),
                                ));
                            }
                        }
                    }
                    None => {}
                }
            }
            'a' => return Ok(('\u{7}', rest)),
            'f' => return Ok(('\u{c}', rest)),
            'n' => return Ok(('\n', rest)),
            'r' => return Ok(('\r', rest)),
            't' => return Ok(('\t', rest)),
            'v' => return Ok(('\u{b}', rest)),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => return Ok((c, rest)),
            _ => {}
        }
        Err(SyntaxError::new(INVALID_ESCAPE, consumed(rest)))
    }

    /// `\pL`, `\p{Greek}`, `\P{^L}` at `t`: the text for `regex` and the rest.
    fn unicode_class(&self, t: &'a str) -> Result<Option<(String, &'a str)>, SyntaxError> {
        let b = t.as_bytes();
        if b.len() < 2 || b[0] != b'\\' || !(b[1] == b'p' || b[1] == b'P') {
            return Ok(None);
        }
        let mut negated = b[1] == b'P';
        let after = &t[2..];
        let (seq, name, rest) = match after.chars().next() {
            None => return Err(SyntaxError::new(INVALID_CHAR_RANGE, t)),
            Some('{') => match t.find('}') {
                None => return Err(SyntaxError::new(INVALID_CHAR_RANGE, t)),
                Some(end) => (&t[..=end], &t[3..end], &t[end + 1..]),
            },
            Some(c) => {
                let end = 2 + c.len_utf8();
                (&t[..end], &t[2..end], &t[end..])
            }
        };
        let name = match name.strip_prefix('^') {
            Some(n) => {
                negated = !negated;
                n
            }
            None => name,
        };
        let body = if name == "Any" {
            "\\x{0}-\\x{10FFFF}".to_owned()
        } else {
            let class = format!("\\p{{{name}}}");
            if Regex::new(&class).is_err() {
                return Err(SyntaxError::new(INVALID_CHAR_RANGE, seq));
            }
            class
        };
        let text = if negated {
            format!("[^{body}]")
        } else {
            format!("[{body}]")
        };
        Ok(Some((text, rest)))
    }

    /// A class `[...]` at `t`; returns the rest.
    fn class(&mut self, t: &'a str) -> Result<&'a str, SyntaxError> {
        let whole_class = t;
        let mut t = &t[1..];
        let mut out = String::from("[");
        if let Some(rest) = t.strip_prefix('^') {
            out.push('^');
            t = rest;
        }
        let mut first = true;
        while t.is_empty() || !t.starts_with(']') || first {
            first = false;
            // [:alnum:]
            if t.len() > 2
                && t.starts_with("[:")
                && let Some(end) = t[2..].find(":]")
            {
                let name = &t[2..2 + end];
                let bare = name.strip_prefix('^').unwrap_or(name);
                if !POSIX_CLASSES.contains(&bare) {
                    return Err(SyntaxError::new(INVALID_CHAR_RANGE, &t[..end + 4]));
                }
                out.push_str(&format!("[:{name}:]"));
                t = &t[end + 4..];
                continue;
            }
            if let Some((text, rest)) = self.unicode_class(t)? {
                out.push_str(&text);
                t = rest;
                continue;
            }
            if t.len() >= 2
                && t.starts_with('\\')
                && let Some((negated, body)) = t[1..].chars().next().and_then(perl_class)
            {
                if negated {
                    out.push_str(&format!("[^{body}]"));
                } else {
                    out.push_str(body);
                }
                t = &t[2..];
                continue;
            }
            let range_start = t;
            let (lo, rest) = self.class_char(t, whole_class)?;
            t = rest;
            let mut hi = lo;
            if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
                let (h, rest) = self.class_char(&t[1..], whole_class)?;
                t = rest;
                hi = h;
                if hi < lo {
                    return Err(SyntaxError::new(
                        INVALID_CHAR_RANGE,
                        &range_start[..range_start.len() - t.len()],
                    ));
                }
            }
            if lo == hi {
                out.push_str(&lit(lo));
            } else {
                out.push_str(&format!("{}-{}", lit(lo), lit(hi)));
            }
        }
        out.push(']');
        self.out.push_str(&out);
        Ok(&t[1..])
    }

    fn class_char(&self, t: &'a str, whole_class: &str) -> Result<(char, &'a str), SyntaxError> {
        let Some(c) = t.chars().next() else {
            return Err(SyntaxError::new(MISSING_BRACKET, whole_class));
        };
        if c == '\\' {
            return self.escape(t);
        }
        Ok((c, &t[c.len_utf8()..]))
    }

    /// `(?...`: flags, a non-capturing group, or a named capture; returns the rest.
    fn perl_group(&mut self, t: &'a str) -> Result<&'a str, SyntaxError> {
        let b = t.as_bytes();
        let starts_p = b.len() > 4 && b[2] == b'P' && b[3] == b'<';
        let starts_name = b.len() > 3 && b[2] == b'<';
        if starts_p || starts_name {
            let start = if starts_p { 4 } else { 3 };
            let Some(end) = t.find('>') else {
                return Err(SyntaxError::new(INVALID_NAMED_CAPTURE, t));
            };
            let name = &t[start..end];
            if name.is_empty() || !name.chars().all(is_word_char) {
                return Err(SyntaxError::new(INVALID_NAMED_CAPTURE, &t[..=end]));
            }
            self.names.push(name.to_owned());
            self.out.push('(');
            self.depth += 1;
            self.last = Last::Nothing;
            return Ok(&t[end + 1..]);
        }
        let mut rest = &t[2..];
        let mut flags = String::new();
        let mut negated = false;
        let mut saw_flag = false;
        while let Some(c) = rest.chars().next() {
            rest = &rest[c.len_utf8()..];
            match c {
                'i' | 'm' | 's' | 'U' => {
                    flags.push(c);
                    saw_flag = true;
                }
                '-' if !negated => {
                    negated = true;
                    saw_flag = false;
                    flags.push('-');
                }
                ':' | ')' => {
                    if negated && !saw_flag {
                        break;
                    }
                    if c == ':' {
                        self.out.push_str(&format!("(?{flags}:"));
                        self.depth += 1;
                        self.last = Last::Nothing;
                    } else if !flags.is_empty() {
                        self.out.push_str(&format!("(?{flags})"));
                    }
                    return Ok(rest);
                }
                _ => break,
            }
        }
        Err(SyntaxError::new(
            INVALID_PERL_OP,
            &t[..t.len() - rest.len()],
        ))
    }

    /// Go's `parseRepeat` for `{n}`, `{n,}`, `{n,m}`: the bounds (-1 for a number too
    /// large to read, or a missing maximum) and the rest, or `None` when this `{` is a
    /// literal.
    fn repeat_bounds(t: &str) -> Option<(i64, i64, &str)> {
        fn int(s: &str) -> Option<(i64, &str)> {
            let b = s.as_bytes();
            if b.first().is_none_or(|c| !c.is_ascii_digit()) {
                return None;
            }
            if b.len() >= 2 && b[0] == b'0' && b[1].is_ascii_digit() {
                return None;
            }
            let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut v: i64 = 0;
            for &c in &b[..n] {
                if v >= 100_000_000 {
                    v = -1;
                    break;
                }
                v = v * 10 + i64::from(c - b'0');
            }
            Some((v, &s[n..]))
        }
        let s = t.strip_prefix('{')?;
        let (mut min, s) = int(s)?;
        let (max, s) = match s.strip_prefix(',') {
            None if s.is_empty() => return None,
            None => (min, s),
            Some(s) if s.starts_with('}') => (-1, s),
            Some(s) => {
                let (max, s) = int(s)?;
                if max < 0 {
                    min = -1;
                }
                (max, s)
            }
        };
        let rest = s.strip_prefix('}')?;
        Some((min, max, rest))
    }

    fn translate(&mut self) -> Result<(), SyntaxError> {
        let whole = self.whole;
        let mut t = whole;
        let mut last_repeat: Option<&str> = None;
        while let Some(c) = t.chars().next() {
            let mut repeat: Option<&str> = None;
            match c {
                '(' => {
                    if t.starts_with("(?") {
                        t = self.perl_group(t)?;
                    } else {
                        self.names.push(String::new());
                        self.out.push('(');
                        self.depth += 1;
                        self.last = Last::Nothing;
                        t = &t[1..];
                    }
                }
                '|' => {
                    self.out.push('|');
                    self.last = Last::Nothing;
                    t = &t[1..];
                }
                ')' => {
                    if self.depth == 0 {
                        return Err(SyntaxError::new(UNEXPECTED_PAREN, whole));
                    }
                    self.depth -= 1;
                    self.out.push(')');
                    self.last = Last::Operand;
                    t = &t[1..];
                }
                '^' | '$' | '.' => {
                    self.out.push(c);
                    self.last = Last::Operand;
                    t = &t[1..];
                }
                '[' => {
                    t = self.class(t)?;
                    self.last = Last::Operand;
                }
                '*' | '+' | '?' | '{' => {
                    let before = t;
                    let (op_len, text) = if c == '{' {
                        match Self::repeat_bounds(t) {
                            None => {
                                self.out.push_str(&lit('{'));
                                self.last = Last::Operand;
                                t = &t[1..];
                                last_repeat = None;
                                continue;
                            }
                            Some((min, max, rest)) => {
                                let op = &t[..t.len() - rest.len()];
                                if !(0..=1000).contains(&min) || max > 1000 || max >= 0 && min > max
                                {
                                    return Err(SyntaxError::new(INVALID_REPEAT_SIZE, op));
                                }
                                (op.len(), op.to_owned())
                            }
                        }
                    } else {
                        (1, c.to_string())
                    };
                    let mut after = &t[op_len..];
                    let mut lazy = false;
                    if let Some(rest) = after.strip_prefix('?') {
                        after = rest;
                        lazy = true;
                    }
                    if let Some(prev) = last_repeat {
                        return Err(SyntaxError::new(
                            INVALID_REPEAT_OP,
                            &prev[..prev.len() - after.len()],
                        ));
                    }
                    if self.last == Last::Nothing {
                        return Err(SyntaxError::new(
                            MISSING_REPEAT_ARGUMENT,
                            &before[..before.len() - after.len()],
                        ));
                    }
                    self.out.push_str(&text);
                    if lazy {
                        self.out.push('?');
                    }
                    repeat = Some(before);
                    t = after;
                }
                '\\' => {
                    let second = t[1..].chars().next();
                    match second {
                        Some('A') => {
                            self.out.push_str("\\A");
                            t = &t[2..];
                        }
                        Some('z') => {
                            self.out.push_str("\\z");
                            t = &t[2..];
                        }
                        Some('b') => {
                            self.out.push_str("(?-u:\\b)");
                            t = &t[2..];
                        }
                        Some('B') => {
                            self.out.push_str("(?-u:\\B)");
                            t = &t[2..];
                        }
                        Some('C') => return Err(SyntaxError::new(INVALID_ESCAPE, &t[..2])),
                        Some('Q') => {
                            let body = &t[2..];
                            let (literal, rest) = match body.find("\\E") {
                                Some(i) => (&body[..i], &body[i + 2..]),
                                None => (body, ""),
                            };
                            for ch in literal.chars() {
                                self.out.push_str(&lit(ch));
                            }
                            t = rest;
                        }
                        _ => {
                            if let Some((text, rest)) = self.unicode_class(t)? {
                                self.out.push_str(&text);
                                t = rest;
                            } else if let Some((negated, body)) = second.and_then(perl_class) {
                                let caret = if negated { "^" } else { "" };
                                self.out.push_str(&format!("[{caret}{body}]"));
                                t = &t[2..];
                            } else {
                                let (ch, rest) = self.escape(t)?;
                                self.out.push_str(&lit(ch));
                                t = rest;
                            }
                        }
                    }
                    self.last = Last::Operand;
                }
                other => {
                    self.out.push_str(&lit(other));
                    self.last = Last::Operand;
                    t = &t[other.len_utf8()..];
                }
            }
            last_repeat = repeat;
        }
        if self.depth > 0 {
            return Err(SyntaxError::new(MISSING_PAREN, whole));
        }
        Ok(())
    }
}

/// How many compiled patterns a thread keeps (templates call the same few in loops).
const CACHE_SIZE: usize = 64;

thread_local! {
    static CACHE: std::cell::RefCell<Vec<(String, std::rc::Rc<GoRegex>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Compiles a Go pattern, or finds it compiled already; the error is Go's
/// `regexp.Compile` error text.
fn compile(pattern: &str) -> Result<std::rc::Rc<GoRegex>, String> {
    if let Some(hit) = CACHE.with(|c| {
        c.borrow()
            .iter()
            .find(|(p, _)| p == pattern)
            .map(|(_, re)| re.clone())
    }) {
        return Ok(hit);
    }
    let re = std::rc::Rc::new(compile_uncached(pattern)?);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_SIZE {
            c.remove(0);
        }
        c.push((pattern.to_owned(), re.clone()));
    });
    Ok(re)
}

fn compile_uncached(pattern: &str) -> Result<GoRegex, String> {
    let mut tr = Translator {
        whole: pattern,
        out: String::new(),
        names: vec![String::new()],
        depth: 0,
        last: Last::Nothing,
    };
    tr.translate().map_err(|e| e.text())?;
    let re = RegexBuilder::new(&tr.out)
        .nest_limit(1100)
        .size_limit(64 << 20)
        .build()
        .map_err(|e| format!("error parsing regexp: {e}"))?;
    Ok(GoRegex {
        re,
        names: tr.names,
        expr: pattern.to_owned(),
    })
}

/// `regexp.MustCompile`'s panic text, for the functions that do not start with `must`.
fn must_compile(pattern: &str) -> Result<std::rc::Rc<GoRegex>, String> {
    compile(pattern).map_err(|e| format!("regexp: Compile({}): {e}", go_regexp_quote(pattern)))
}

/// How `regexp` quotes a pattern in its panics: in backquotes when it can.
fn go_regexp_quote(s: &str) -> String {
    let can_backquote = s
        .chars()
        .all(|c| c != '`' && c != '\u{7f}' && c != '\u{feff}' && (c >= ' ' || c == '\t'));
    if can_backquote {
        format!("`{s}`")
    } else {
        slipway_template::fmt::quote(s)
    }
}

impl GoRegex {
    /// The matches Go's `FindAll...(s, n)` reports: leftmost-first, non-overlapping, an
    /// empty match right after a match skipped; `n < 0` for all.
    fn all_match_bounds(&self, s: &str, n: i64) -> Vec<(usize, usize)> {
        let limit = if n < 0 { s.len() + 1 } else { n as usize };
        let mut out = Vec::new();
        let mut pos = 0;
        let mut prev_end: Option<usize> = None;
        while out.len() < limit && pos <= s.len() {
            let Some(m) = self.re.find_at(s, pos) else {
                break;
            };
            let mut accept = true;
            if m.end() == pos {
                if Some(m.start()) == prev_end {
                    accept = false;
                }
                pos += s[pos..].chars().next().map_or(1, char::len_utf8);
            } else {
                pos = m.end();
            }
            prev_end = Some(m.end());
            if accept {
                out.push((m.start(), m.end()));
            }
        }
        out
    }

    /// Go's `Expand`: `$1`, `${1}`, `$name`, `${name}` and `$$` in `template`.
    fn expand(&self, out: &mut String, template: &str, s: &str, caps: &regex::Captures<'_>) {
        let mut t = template;
        while let Some(i) = t.find('$') {
            out.push_str(&t[..i]);
            t = &t[i + 1..];
            if let Some(rest) = t.strip_prefix('$') {
                out.push('$');
                t = rest;
                continue;
            }
            let Some((name, rest)) = extract_name(t) else {
                out.push('$');
                continue;
            };
            t = rest;
            let group = match group_number(name) {
                Some(num) => caps.get(num),
                None => self
                    .names
                    .iter()
                    .enumerate()
                    .find(|(i, n)| *n == name && caps.get(*i).is_some())
                    .and_then(|(i, _)| caps.get(i)),
            };
            if let Some(g) = group {
                out.push_str(&s[g.start()..g.end()]);
            }
        }
        out.push_str(t);
    }

    /// Go's `ReplaceAllString` (or `...Literal...` when `literal`).
    fn replace_all(&self, s: &str, repl: &str, literal: bool) -> String {
        let mut out = String::with_capacity(s.len());
        let mut last_end = 0;
        let mut search = 0;
        while search <= s.len() {
            let Some(caps) = self.re.captures_at(s, search) else {
                break;
            };
            let Some(m) = caps.get(0) else { break };
            out.push_str(&s[last_end..m.start()]);
            if m.end() > last_end || m.start() == 0 {
                if literal {
                    out.push_str(repl);
                } else {
                    self.expand(&mut out, repl, s, &caps);
                }
            }
            last_end = m.end();
            let width = s[search..].chars().next().map_or(0, char::len_utf8);
            if search + width > m.end() {
                search += width;
            } else if search + 1 > m.end() {
                search += 1;
            } else {
                search = m.end();
            }
        }
        out.push_str(&s[last_end..]);
        out
    }

    /// Go's `Split`.
    fn split(&self, s: &str, n: i64) -> Vec<String> {
        if n == 0 {
            return Vec::new();
        }
        if s.is_empty() && !self.expr.is_empty() {
            return vec![String::new()];
        }
        let matches = self.all_match_bounds(s, n);
        let mut out = Vec::new();
        let (mut beg, mut end) = (0, 0);
        for (start, stop) in matches {
            if n > 0 && out.len() as i64 == n - 1 {
                break;
            }
            end = start;
            if stop != 0 {
                out.push(s[beg..end].to_owned());
            }
            beg = stop;
        }
        if end != s.len() {
            out.push(s[beg..].to_owned());
        }
        out
    }
}

/// Go's `extract`: a group name (letters, digits, `_`), braced or not, and the rest.
fn extract_name(t: &str) -> Option<(&str, &str)> {
    let (braced, body) = match t.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, t),
    };
    let len: usize = body
        .chars()
        .take_while(|&c| is_letter(c) || is_digit(c) || c == '_')
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    let rest = &body[len..];
    if braced {
        return rest.strip_prefix('}').map(|r| (name, r));
    }
    Some((name, rest))
}

/// A group name that is a number (without leading zeros).
fn group_number(name: &str) -> Option<usize> {
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    if !name.bytes().all(|b| b.is_ascii_digit()) || name.len() > 8 {
        return None;
    }
    name.parse().ok()
}

fn string_list(items: Vec<String>) -> Value {
    Value::list(items.into_iter().map(Value::from).collect())
}

/// `regexMatch re s`: false for an invalid pattern.
pub(super) fn regex_match(a: &[Value]) -> FuncResult {
    let pattern = args::string(&a[0]);
    let s = args::string(&a[1]);
    Ok(Value::Bool(
        compile(pattern).is_ok_and(|re| re.re.is_match(s)),
    ))
}

/// `mustRegexMatch re s`.
pub(super) fn must_regex_match(a: &[Value]) -> FuncResult {
    let pattern = args::string(&a[0]);
    let s = args::string(&a[1]);
    Ok(Value::Bool(compile(pattern)?.re.is_match(s)))
}

fn find_all(re: &GoRegex, s: &str, n: i64) -> Value {
    string_list(
        re.all_match_bounds(s, n)
            .into_iter()
            .map(|(a, b)| s[a..b].to_owned())
            .collect(),
    )
}

/// `regexFindAll re s n`.
pub(super) fn regex_find_all(a: &[Value]) -> FuncResult {
    let pattern = args::string(&a[0]);
    let s = args::string(&a[1]);
    let n = args::int(&a[2]);
    Ok(find_all(&*must_compile(pattern)?, s, n))
}

/// `mustRegexFindAll re s n`.
pub(super) fn must_regex_find_all(a: &[Value]) -> FuncResult {
    let pattern = args::string(&a[0]);
    let s = args::string(&a[1]);
    let n = args::int(&a[2]);
    Ok(find_all(&*compile(pattern)?, s, n))
}

fn find(re: &GoRegex, s: &str) -> Value {
    Value::str(re.re.find(s).map_or("", |m| m.as_str()))
}

/// `regexFind re s`.
pub(super) fn regex_find(a: &[Value]) -> FuncResult {
    let pattern = args::string(&a[0]);
    let s = args::string(&a[1]);
    Ok(find(&*must_compile(pattern)?, s))
}

/// `mustRegexFind re s`.
pub(super) fn must_regex_find(a: &[Value]) -> FuncResult {
    let pattern = args::string(&a[0]);
    let s = args::string(&a[1]);
    Ok(find(&*compile(pattern)?, s))
}

fn replace(a: &[Value], must: bool, literal: bool) -> FuncResult {
    let pattern = args::string(&a[0]);
    let s = args::string(&a[1]);
    let repl = args::string(&a[2]);
    let re = if must {
        compile(pattern)?
    } else {
        must_compile(pattern)?
    };
    Ok(Value::from(re.replace_all(s, repl, literal)))
}

/// `regexReplaceAll re s repl`: `$1`, `${name}` expanded.
pub(super) fn regex_replace_all(a: &[Value]) -> FuncResult {
    replace(a, false, false)
}

/// `mustRegexReplaceAll re s repl`.
pub(super) fn must_regex_replace_all(a: &[Value]) -> FuncResult {
    replace(a, true, false)
}

/// `regexReplaceAllLiteral re s repl`.
pub(super) fn regex_replace_all_literal(a: &[Value]) -> FuncResult {
    replace(a, false, true)
}

/// `mustRegexReplaceAllLiteral re s repl`.
pub(super) fn must_regex_replace_all_literal(a: &[Value]) -> FuncResult {
    replace(a, true, true)
}

/// `regexSplit re s n`.
pub(super) fn regex_split(a: &[Value]) -> FuncResult {
    let pattern = args::string(&a[0]);
    let s = args::string(&a[1]);
    let n = args::int(&a[2]);
    Ok(string_list(must_compile(pattern)?.split(s, n)))
}

/// `mustRegexSplit re s n`.
pub(super) fn must_regex_split(a: &[Value]) -> FuncResult {
    let pattern = args::string(&a[0]);
    let s = args::string(&a[1]);
    let n = args::int(&a[2]);
    Ok(string_list(compile(pattern)?.split(s, n)))
}

/// `regexQuoteMeta s`: Go's `QuoteMeta`, a backslash before each of `\.+*?()|[]{}^$`.
pub(super) fn regex_quote_meta(a: &[Value]) -> FuncResult {
    let s = args::string(&a[0]);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(pattern: &str) -> String {
        compile(pattern)
            .err()
            .unwrap_or_else(|| panic!("{pattern} compiled"))
    }

    // Messages checked with Go's regexp.
    #[test]
    fn reports_go_syntax_errors() {
        for (pattern, want) in [
            ("\\", "trailing backslash at end of expression: ``"),
            ("(", "missing closing ): `(`"),
            ("a)", "unexpected ): `a)`"),
            ("[a", "missing closing ]: `[a`"),
            ("[z-a]", "invalid character class range: `z-a`"),
            ("a**", "invalid nested repetition operator: `**`"),
            ("a*??", "invalid nested repetition operator: `*??`"),
            ("*a", "missing argument to repetition operator: `*`"),
            ("a{2}{3}", "invalid nested repetition operator: `{2}{3}`"),
            ("a{1001}", "invalid repeat count: `{1001}`"),
            ("(?x)a", "invalid or unsupported Perl syntax: `(?x`"),
            ("(?P=n)", "invalid or unsupported Perl syntax: `(?P`"),
            ("(?P<a", "invalid named capture: `(?P<a`"),
            ("\\8", "invalid escape sequence: `\\8`"),
            ("\\xZZ", "invalid escape sequence: `\\xZZ`"),
            ("\\p{Foo}", "invalid character class range: `\\p{Foo}`"),
            ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
            ("\\C", "invalid escape sequence: `\\C`"),
            ("(?i-)a", "invalid or unsupported Perl syntax: `(?i-)`"),
        ] {
            assert_eq!(
                err(pattern),
                format!("error parsing regexp: {want}"),
                "{pattern}"
            );
        }
    }

    #[test]
    fn matches_with_go_meaning() {
        let find = |p: &str, s: &str| {
            compile(p)
                .unwrap()
                .re
                .find(s)
                .map(|m| m.as_str().to_owned())
        };
        assert_eq!(find("a{,2}", "a{,2}").as_deref(), Some("a{,2}"));
        assert_eq!(find("a{01}", "a{01}").as_deref(), Some("a{01}"));
        assert_eq!(find("\\Qa.b", "xa.b").as_deref(), Some("a.b"));
        assert_eq!(find("\\d+", "x١٢3").as_deref(), Some("3"));
        assert_eq!(find("\\141", "xa").as_deref(), Some("a"));
        assert_eq!(find("\\<", "x<").as_deref(), Some("<"));
        assert_eq!(find("[[a]", "[").as_deref(), Some("["));
        assert_eq!(find("[a-]", "-").as_deref(), Some("-"));
        assert_eq!(find("[]a]", "]").as_deref(), Some("]"));
        assert_eq!(find("(?)a", "a").as_deref(), Some("a"));
        assert_eq!(find("\\bfoo\\b", "éfoo").as_deref(), Some("foo"));
        assert_eq!(find("(?P<1a>b)", "b").as_deref(), Some("b"));
    }

    #[test]
    fn iterates_and_replaces_as_go_does() {
        let re = compile("a*").unwrap();
        assert_eq!(re.all_match_bounds("baaac", -1), [(0, 0), (1, 4), (5, 5)]);
        assert_eq!(re.replace_all("baaac", "X", false), "XbXcX");
        assert_eq!(re.split("baaac", -1), ["b", "c"]);
        let re = compile("(?P<1a>a)").unwrap();
        assert_eq!(re.replace_all("banana", "<${1a}>", false), "b<a>n<a>n<a>");
        let re = compile("(a)").unwrap();
        assert_eq!(re.replace_all("banana", "$1x", false), "bnn");
        assert_eq!(re.replace_all("banana", "${1", false), "b${1n${1n${1");
        assert_eq!(re.replace_all("banana", "$01", false), "bnn");
        assert_eq!(re.replace_all("banana", "<$1>$", false), "b<a>$n<a>$n<a>$");
        assert_eq!(compile("").unwrap().split("abc", -1), ["a", "b", "c"]);
        assert_eq!(compile("x*").unwrap().split("", -1), [""]);
    }
}
