//! YAML as Helm reads and writes it.
//!
//! Helm reads a values file, and `fromYaml` reads a string, by turning YAML into JSON and
//! JSON into Go values, so every number comes back a float, keys become strings and
//! anchors, aliases and merge keys (`<<`) are resolved. The YAML rules are YAML 1.1's as
//! the Go YAML library Helm uses applies them: `yes`, `no`, `on`, `off`, `y` and `n` are
//! booleans, `0123` is octal, `2001-12-14` stays a string. Errors are worded as that
//! library words them (`yaml: line 3: mapping values are not allowed in this context`).
//!
//! `toYaml` writes a value as JSON and then that JSON as YAML: keys in natural order,
//! two-space indents, lists inside a map not indented, strings quoted only where YAML would
//! read them as something else, multi-line strings as literal blocks, and long lines folded
//! at 80 columns. `toYamlPretty` writes the value directly in the newer library's style:
//! lists indented, no folding, floats in Go's shortest form.

use std::collections::{BTreeMap, HashMap, VecDeque};

use base64::Engine as _;
use slipway_template::Value;

use crate::json::{format_g, go_parse_float, go_parse_int, go_parse_uint, go_quote, json_float};

/// A YAML error, worded as Helm reports it (`error converting YAML to JSON: yaml: line 2:
/// did not find expected key`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct YamlError(pub String);

// ---------------------------------------------------------------------------------------
// Positions, tokens and events
// ---------------------------------------------------------------------------------------

/// A position in the input: characters read, and the zero-based line and column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Mark {
    index: usize,
    line: usize,
    column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    StreamStart,
    StreamEnd,
    VersionDirective,
    TagDirective,
    DocumentStart,
    DocumentEnd,
    BlockSequenceStart,
    BlockMappingStart,
    BlockEnd,
    FlowSequenceStart,
    FlowSequenceEnd,
    FlowMappingStart,
    FlowMappingEnd,
    BlockEntry,
    FlowEntry,
    Key,
    Value,
    Alias,
    Anchor,
    Tag,
    Scalar,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    start: Mark,
    /// Scalar text, anchor or alias name, tag handle, or %TAG handle.
    value: String,
    /// Tag suffix, or %TAG prefix.
    suffix: String,
    style: Style,
    major: u32,
    minor: u32,
}

impl Token {
    fn new(kind: Tok, start: Mark) -> Token {
        Token {
            kind,
            start,
            value: String::new(),
            suffix: String::new(),
            style: Style::Plain,
            major: 0,
            minor: 0,
        }
    }
}

/// Which stage failed: the reader's messages carry no line, the scanner's count lines from
/// one, the parser's (as Go reports them) from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Reader,
    Scanner,
    Parser,
}

#[derive(Debug, Clone)]
struct SyntaxError {
    stage: Stage,
    context_mark: Mark,
    problem: String,
    problem_mark: Mark,
}

impl SyntaxError {
    /// The message Go's YAML decoder gives: `yaml: line N: PROBLEM`, with its own rules for
    /// which line it names.
    fn message(&self) -> String {
        let mut line = 0;
        if self.problem_mark.line != 0 {
            line = self.problem_mark.line;
            if self.stage == Stage::Scanner {
                line += 1;
            }
        } else if self.context_mark.line != 0 {
            line = self.context_mark.line;
        }
        if line != 0 {
            format!("yaml: line {line}: {}", self.problem)
        } else {
            format!("yaml: {}", self.problem)
        }
    }
}

type Scan<T> = Result<T, SyntaxError>;

// ---------------------------------------------------------------------------------------
// Scanner
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default)]
struct SimpleKey {
    possible: bool,
    required: bool,
    token_number: usize,
    mark: Mark,
}

const MAX_FLOW_LEVEL: usize = 10000;
/// NULs after the input, so that looking ahead never runs off its end.
const PADDING: usize = 16;
const MAX_INDENTS: usize = 10000;

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_breakz(c: char) -> bool {
    is_break(c) || c == '\0'
}

fn is_blankz(c: char) -> bool {
    is_blank(c) || is_breakz(c)
}

fn is_alpha(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

type NumberMap = slipway_template::hash::FastMap<usize, usize>;

/// Turns characters into tokens with YAML's rules for indentation, simple keys and
/// scalars, as the C library Go's YAML is ported from does.
struct Scanner {
    /// The input, then `PADDING` NULs (a NUL ends the stream, as in the C library).
    text: String,
    /// The byte offset of the next character.
    pos: usize,
    mark: Mark,
    tokens: VecDeque<Token>,
    tokens_parsed: usize,
    token_available: bool,
    stream_start_produced: bool,
    stream_end_produced: bool,
    flow_level: usize,
    indent: isize,
    indents: Vec<isize>,
    simple_key_allowed: bool,
    simple_keys: Vec<SimpleKey>,
    simple_keys_by_tok: NumberMap,
    error: Option<SyntaxError>,
}

impl Scanner {
    fn new(text: &str) -> Scanner {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut padded = String::with_capacity(text.len() + PADDING);
        padded.push_str(text);
        padded.extend(['\0'; PADDING]);
        Scanner {
            text: padded,
            pos: 0,
            mark: Mark::default(),
            tokens: VecDeque::new(),
            tokens_parsed: 0,
            token_available: false,
            stream_start_produced: false,
            stream_end_produced: false,
            flow_level: 0,
            indent: 0,
            indents: Vec::new(),
            simple_key_allowed: false,
            simple_keys: Vec::new(),
            simple_keys_by_tok: NumberMap::default(),
            error: None,
        }
    }

    /// The character at byte offset `at` (NUL past the end).
    fn char_at(&self, at: usize) -> char {
        match self.text.as_bytes().get(at) {
            Some(&b) if b < 0x80 => char::from(b),
            Some(_) => self.text[at..].chars().next().unwrap_or('\0'),
            None => '\0',
        }
    }

    /// The character `k` characters ahead.
    fn ch(&self, k: usize) -> char {
        let mut at = self.pos;
        for _ in 0..k {
            at += self.char_at(at).len_utf8();
        }
        self.char_at(at)
    }

    fn skip(&mut self) {
        self.mark.index += 1;
        self.mark.column += 1;
        self.pos += self.char_at(self.pos).len_utf8();
    }

    fn skip_line(&mut self) {
        let c = self.ch(0);
        if c == '\r' && self.ch(1) == '\n' {
            self.mark.index += 2;
            self.mark.column = 0;
            self.mark.line += 1;
            self.pos += 2;
        } else if is_break(c) {
            self.mark.index += 1;
            self.mark.column = 0;
            self.mark.line += 1;
            self.pos += c.len_utf8();
        }
    }

    fn read(&mut self, s: &mut String) {
        let c = self.ch(0);
        s.push(c);
        self.mark.index += 1;
        self.mark.column += 1;
        self.pos += c.len_utf8();
    }

    /// Reads into `s` the characters from here up to the first one `stop` refuses (given
    /// it and the character after it); the first character is always taken.
    fn read_until(&mut self, s: &mut String, stop: impl Fn(char, char) -> bool) {
        let start = self.pos;
        let mut at = start;
        let mut count = 0;
        let mut c = self.char_at(at);
        loop {
            at += c.len_utf8();
            count += 1;
            let next = self.char_at(at);
            if stop(next, self.char_at(at + next.len_utf8())) {
                break;
            }
            c = next;
        }
        s.push_str(&self.text[start..at]);
        self.pos = at;
        self.mark.index += count;
        self.mark.column += count;
    }

    fn read_line(&mut self, s: &mut String) {
        let c = self.ch(0);
        if c == '\r' && self.ch(1) == '\n' {
            s.push('\n');
            self.pos += 2;
            self.mark.index += 1;
        } else if c == '\r' || c == '\n' || c == '\u{85}' {
            s.push('\n');
            self.pos += c.len_utf8();
        } else if c == '\u{2028}' || c == '\u{2029}' {
            s.push(c);
            self.pos += c.len_utf8();
        } else {
            return;
        }
        self.mark.index += 1;
        self.mark.column = 0;
        self.mark.line += 1;
    }

    fn fail<T>(&mut self, context_mark: Mark, problem: &str) -> Scan<T> {
        let e = SyntaxError {
            stage: Stage::Scanner,
            context_mark,
            problem: problem.to_string(),
            problem_mark: self.mark,
        };
        self.error = Some(e.clone());
        Err(e)
    }

    /// The next token, without taking it.
    fn peek(&mut self) -> Scan<&Token> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if !self.token_available {
            self.fetch_more_tokens()?;
        }
        Ok(self.tokens.front().expect("a token is queued"))
    }

    fn take(&mut self) -> Token {
        self.token_available = false;
        self.tokens_parsed += 1;
        let t = self.tokens.pop_front().expect("a token is queued");
        if t.kind == Tok::StreamEnd {
            self.stream_end_produced = true;
        }
        t
    }

    fn insert(&mut self, at: Option<usize>, token: Token) {
        match at {
            Some(i) if i <= self.tokens.len() => self.tokens.insert(i, token),
            _ => self.tokens.push_back(token),
        }
    }

    fn fetch_more_tokens(&mut self) -> Scan<()> {
        loop {
            if !self.tokens.is_empty() {
                let Some(&idx) = self.simple_keys_by_tok.get(&self.tokens_parsed) else {
                    break;
                };
                if !self.simple_key_is_valid(idx)? {
                    break;
                }
            }
            self.fetch_next_token()?;
        }
        self.token_available = true;
        Ok(())
    }

    fn simple_key_is_valid(&mut self, idx: usize) -> Scan<bool> {
        let key = self.simple_keys[idx];
        if !key.possible {
            return Ok(false);
        }
        if key.mark.line < self.mark.line || key.mark.index + 1024 < self.mark.index {
            if key.required {
                return self.fail(key.mark, "could not find expected ':'");
            }
            self.simple_keys[idx].possible = false;
            return Ok(false);
        }
        Ok(true)
    }

    fn save_simple_key(&mut self) -> Scan<()> {
        let required = self.flow_level == 0 && self.indent == self.mark.column as isize;
        if self.simple_key_allowed {
            let key = SimpleKey {
                possible: true,
                required,
                token_number: self.tokens_parsed + self.tokens.len(),
                mark: self.mark,
            };
            self.remove_simple_key()?;
            let last = self.simple_keys.len() - 1;
            self.simple_keys[last] = key;
            self.simple_keys_by_tok.insert(key.token_number, last);
        }
        Ok(())
    }

    fn remove_simple_key(&mut self) -> Scan<()> {
        let i = self.simple_keys.len() - 1;
        if self.simple_keys[i].possible {
            if self.simple_keys[i].required {
                let mark = self.simple_keys[i].mark;
                return self.fail(mark, "could not find expected ':'");
            }
            self.simple_keys[i].possible = false;
            self.simple_keys_by_tok
                .remove(&self.simple_keys[i].token_number);
        }
        Ok(())
    }

    fn increase_flow_level(&mut self) -> Scan<()> {
        self.simple_keys.push(SimpleKey {
            possible: false,
            required: false,
            token_number: self.tokens_parsed + self.tokens.len(),
            mark: self.mark,
        });
        self.flow_level += 1;
        if self.flow_level > MAX_FLOW_LEVEL {
            let mark = self.simple_keys[self.simple_keys.len() - 1].mark;
            return self.fail(mark, &format!("exceeded max depth of {MAX_FLOW_LEVEL}"));
        }
        Ok(())
    }

    fn decrease_flow_level(&mut self) {
        if self.flow_level > 0 {
            self.flow_level -= 1;
            if let Some(last) = self.simple_keys.pop() {
                self.simple_keys_by_tok.remove(&last.token_number);
            }
        }
    }

    fn roll_indent(
        &mut self,
        column: usize,
        number: Option<usize>,
        kind: Tok,
        mark: Mark,
    ) -> Scan<()> {
        if self.flow_level > 0 {
            return Ok(());
        }
        if self.indent < column as isize {
            self.indents.push(self.indent);
            self.indent = column as isize;
            if self.indents.len() > MAX_INDENTS {
                let mark = self.simple_keys[self.simple_keys.len() - 1].mark;
                return self.fail(mark, &format!("exceeded max depth of {MAX_INDENTS}"));
            }
            let token = Token::new(kind, mark);
            let at = number.map(|n| n - self.tokens_parsed);
            self.insert(at, token);
        }
        Ok(())
    }

    fn unroll_indent(&mut self, column: isize) {
        if self.flow_level > 0 {
            return;
        }
        while self.indent > column {
            let token = Token::new(Tok::BlockEnd, self.mark);
            self.tokens.push_back(token);
            self.indent = self.indents.pop().unwrap_or(-1);
        }
    }

    fn fetch_next_token(&mut self) -> Scan<()> {
        if !self.stream_start_produced {
            self.indent = -1;
            self.simple_keys.push(SimpleKey::default());
            self.simple_key_allowed = true;
            self.stream_start_produced = true;
            let token = Token::new(Tok::StreamStart, self.mark);
            self.tokens.push_back(token);
            return Ok(());
        }
        self.scan_to_next_token();
        self.unroll_indent(self.mark.column as isize);
        let c = self.ch(0);
        if c == '\0' {
            return self.fetch_stream_end();
        }
        let column0 = self.mark.column == 0;
        if column0 && c == '%' {
            return self.fetch_directive();
        }
        if column0 && c == '-' && self.ch(1) == '-' && self.ch(2) == '-' && is_blankz(self.ch(3)) {
            return self.fetch_document_indicator(Tok::DocumentStart);
        }
        if column0 && c == '.' && self.ch(1) == '.' && self.ch(2) == '.' && is_blankz(self.ch(3)) {
            return self.fetch_document_indicator(Tok::DocumentEnd);
        }
        let next = self.ch(1);
        match c {
            '[' => return self.fetch_flow_collection_start(Tok::FlowSequenceStart),
            '{' => return self.fetch_flow_collection_start(Tok::FlowMappingStart),
            ']' => return self.fetch_flow_collection_end(Tok::FlowSequenceEnd),
            '}' => return self.fetch_flow_collection_end(Tok::FlowMappingEnd),
            ',' => return self.fetch_flow_entry(),
            '-' if is_blankz(next) => return self.fetch_block_entry(),
            '?' if self.flow_level > 0 || is_blankz(next) => return self.fetch_key(),
            ':' if self.flow_level > 0 || is_blankz(next) => return self.fetch_value(),
            '*' => return self.fetch_anchor(Tok::Alias),
            '&' => return self.fetch_anchor(Tok::Anchor),
            '!' => return self.fetch_tag(),
            '|' if self.flow_level == 0 => return self.fetch_block_scalar(true),
            '>' if self.flow_level == 0 => return self.fetch_block_scalar(false),
            '\'' => return self.fetch_flow_scalar(true),
            '"' => return self.fetch_flow_scalar(false),
            _ => {}
        }
        let indicator = is_blankz(c)
            || matches!(
                c,
                '-' | '?'
                    | ':'
                    | ','
                    | '['
                    | ']'
                    | '{'
                    | '}'
                    | '#'
                    | '&'
                    | '*'
                    | '!'
                    | '|'
                    | '>'
                    | '\''
                    | '"'
                    | '%'
                    | '@'
                    | '`'
            );
        if !indicator
            || (c == '-' && !is_blank(next))
            || (self.flow_level == 0 && (c == '?' || c == ':') && !is_blankz(next))
        {
            return self.fetch_plain_scalar();
        }
        let mark = self.mark;
        self.fail(mark, "found character that cannot start any token")
    }

    fn scan_to_next_token(&mut self) {
        loop {
            if self.mark.column == 0 && self.ch(0) == '\u{feff}' {
                self.skip();
            }
            while self.ch(0) == ' '
                || ((self.flow_level > 0 || !self.simple_key_allowed) && self.ch(0) == '\t')
            {
                self.skip();
            }
            if self.ch(0) == '#' {
                while !is_breakz(self.ch(0)) {
                    self.skip();
                }
            }
            if is_break(self.ch(0)) {
                self.skip_line();
                if self.flow_level == 0 {
                    self.simple_key_allowed = true;
                }
            } else {
                break;
            }
        }
    }

    fn fetch_stream_end(&mut self) -> Scan<()> {
        if self.mark.column != 0 {
            self.mark.column = 0;
            self.mark.line += 1;
        }
        self.unroll_indent(-1);
        self.remove_simple_key()?;
        self.simple_key_allowed = false;
        let token = Token::new(Tok::StreamEnd, self.mark);
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_directive(&mut self) -> Scan<()> {
        self.unroll_indent(-1);
        self.remove_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_directive()?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_document_indicator(&mut self, kind: Tok) -> Scan<()> {
        self.unroll_indent(-1);
        self.remove_simple_key()?;
        self.simple_key_allowed = false;
        let start = self.mark;
        self.skip();
        self.skip();
        self.skip();
        let token = Token::new(kind, start);
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_flow_collection_start(&mut self, kind: Tok) -> Scan<()> {
        self.save_simple_key()?;
        self.increase_flow_level()?;
        self.simple_key_allowed = true;
        let start = self.mark;
        self.skip();
        let token = Token::new(kind, start);
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_flow_collection_end(&mut self, kind: Tok) -> Scan<()> {
        self.remove_simple_key()?;
        self.decrease_flow_level();
        self.simple_key_allowed = false;
        let start = self.mark;
        self.skip();
        let token = Token::new(kind, start);
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_flow_entry(&mut self) -> Scan<()> {
        self.remove_simple_key()?;
        self.simple_key_allowed = true;
        let start = self.mark;
        self.skip();
        let token = Token::new(Tok::FlowEntry, start);
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_block_entry(&mut self) -> Scan<()> {
        if self.flow_level == 0 {
            if !self.simple_key_allowed {
                let mark = self.mark;
                return self.fail(
                    mark,
                    "block sequence entries are not allowed in this context",
                );
            }
            let (column, mark) = (self.mark.column, self.mark);
            self.roll_indent(column, None, Tok::BlockSequenceStart, mark)?;
        }
        self.remove_simple_key()?;
        self.simple_key_allowed = true;
        let start = self.mark;
        self.skip();
        let token = Token::new(Tok::BlockEntry, start);
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_key(&mut self) -> Scan<()> {
        if self.flow_level == 0 {
            if !self.simple_key_allowed {
                let mark = self.mark;
                return self.fail(mark, "mapping keys are not allowed in this context");
            }
            let (column, mark) = (self.mark.column, self.mark);
            self.roll_indent(column, None, Tok::BlockMappingStart, mark)?;
        }
        self.remove_simple_key()?;
        self.simple_key_allowed = self.flow_level == 0;
        let start = self.mark;
        self.skip();
        let token = Token::new(Tok::Key, start);
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_value(&mut self) -> Scan<()> {
        let idx = self.simple_keys.len() - 1;
        if self.simple_key_is_valid(idx)? {
            let key = self.simple_keys[idx];
            let token = Token::new(Tok::Key, key.mark);
            self.insert(Some(key.token_number - self.tokens_parsed), token);
            self.roll_indent(
                key.mark.column,
                Some(key.token_number),
                Tok::BlockMappingStart,
                key.mark,
            )?;
            self.simple_keys[idx].possible = false;
            self.simple_keys_by_tok.remove(&key.token_number);
            self.simple_key_allowed = false;
        } else {
            if self.flow_level == 0 {
                if !self.simple_key_allowed {
                    let mark = self.mark;
                    return self.fail(mark, "mapping values are not allowed in this context");
                }
                let (column, mark) = (self.mark.column, self.mark);
                self.roll_indent(column, None, Tok::BlockMappingStart, mark)?;
            }
            self.simple_key_allowed = self.flow_level == 0;
        }
        let start = self.mark;
        self.skip();
        let token = Token::new(Tok::Value, start);
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_anchor(&mut self, kind: Tok) -> Scan<()> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_anchor(kind)?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_tag(&mut self) -> Scan<()> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_tag()?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_block_scalar(&mut self, literal: bool) -> Scan<()> {
        self.remove_simple_key()?;
        self.simple_key_allowed = true;
        let token = self.scan_block_scalar(literal)?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_flow_scalar(&mut self, single: bool) -> Scan<()> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_flow_scalar(single)?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_plain_scalar(&mut self) -> Scan<()> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_plain_scalar()?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn skip_blanks(&mut self) {
        while is_blank(self.ch(0)) {
            self.skip();
        }
    }

    fn scan_directive(&mut self) -> Scan<Token> {
        let start = self.mark;
        self.skip();
        let name = self.scan_directive_name(start)?;
        let mut token;
        if name == "YAML" {
            self.skip_blanks();
            let major = self.scan_version_number(start)?;
            if self.ch(0) != '.' {
                return self.fail(start, "did not find expected digit or '.' character");
            }
            self.skip();
            let minor = self.scan_version_number(start)?;
            token = Token::new(Tok::VersionDirective, start);
            token.major = major;
            token.minor = minor;
        } else if name == "TAG" {
            self.skip_blanks();
            let handle = self.scan_tag_handle(true, start)?;
            if !is_blank(self.ch(0)) {
                return self.fail(start, "did not find expected whitespace");
            }
            self.skip_blanks();
            let prefix = self.scan_tag_uri(None, start)?;
            if !is_blankz(self.ch(0)) {
                return self.fail(start, "did not find expected whitespace or line break");
            }
            token = Token::new(Tok::TagDirective, start);
            token.value = handle;
            token.suffix = prefix;
        } else {
            return self.fail(start, "found unknown directive name");
        }
        self.skip_blanks();
        if self.ch(0) == '#' {
            while !is_breakz(self.ch(0)) {
                self.skip();
            }
        }
        if !is_breakz(self.ch(0)) {
            return self.fail(start, "did not find expected comment or line break");
        }
        if is_break(self.ch(0)) {
            self.skip_line();
        }
        Ok(token)
    }

    fn scan_directive_name(&mut self, start: Mark) -> Scan<String> {
        let mut s = String::new();
        while is_alpha(self.ch(0)) {
            self.read(&mut s);
        }
        if s.is_empty() {
            return self.fail(start, "could not find expected directive name");
        }
        if !is_blankz(self.ch(0)) {
            return self.fail(start, "found unexpected non-alphabetical character");
        }
        Ok(s)
    }

    fn scan_version_number(&mut self, start: Mark) -> Scan<u32> {
        let mut value = 0;
        let mut length = 0;
        while self.ch(0).is_ascii_digit() {
            length += 1;
            if length > 2 {
                return self.fail(start, "found extremely long version number");
            }
            value = value * 10 + self.ch(0).to_digit(10).unwrap_or(0);
            self.skip();
        }
        if length == 0 {
            return self.fail(start, "did not find expected version number");
        }
        Ok(value)
    }

    fn scan_anchor(&mut self, kind: Tok) -> Scan<Token> {
        let start = self.mark;
        self.skip();
        let mut s = String::new();
        while is_alpha(self.ch(0)) {
            self.read(&mut s);
        }
        let c = self.ch(0);
        if s.is_empty()
            || !(is_blankz(c) || matches!(c, '?' | ':' | ',' | ']' | '}' | '%' | '@' | '`'))
        {
            return self.fail(
                start,
                "did not find expected alphabetic or numeric character",
            );
        }
        let mut token = Token::new(kind, start);
        token.value = s;
        Ok(token)
    }

    fn scan_tag(&mut self) -> Scan<Token> {
        let start = self.mark;
        let handle;
        let suffix;
        if self.ch(1) == '<' {
            self.skip();
            self.skip();
            suffix = self.scan_tag_uri(None, start)?;
            if self.ch(0) != '>' {
                return self.fail(start, "did not find the expected '>'");
            }
            self.skip();
            handle = String::new();
        } else {
            let h = self.scan_tag_handle(false, start)?;
            if h.len() > 1 && h.starts_with('!') && h.ends_with('!') {
                handle = h;
                suffix = self.scan_tag_uri(None, start)?;
            } else {
                let s = self.scan_tag_uri(Some(&h), start)?;
                if s.is_empty() {
                    handle = String::new();
                    suffix = "!".to_string();
                } else {
                    handle = "!".to_string();
                    suffix = s;
                }
            }
        }
        if !is_blankz(self.ch(0)) {
            return self.fail(start, "did not find expected whitespace or line break");
        }
        let mut token = Token::new(Tok::Tag, start);
        token.value = handle;
        token.suffix = suffix;
        Ok(token)
    }

    fn scan_tag_handle(&mut self, directive: bool, start: Mark) -> Scan<String> {
        if self.ch(0) != '!' {
            return self.fail(start, "did not find expected '!'");
        }
        let mut s = String::new();
        self.read(&mut s);
        while is_alpha(self.ch(0)) {
            self.read(&mut s);
        }
        if self.ch(0) == '!' {
            self.read(&mut s);
        } else if directive && s != "!" {
            return self.fail(start, "did not find expected '!'");
        }
        Ok(s)
    }

    fn scan_tag_uri(&mut self, head: Option<&str>, start: Mark) -> Scan<String> {
        let mut bytes: Vec<u8> = Vec::new();
        let mut has_tag = head.is_some_and(|h| !h.is_empty());
        if let Some(h) = head
            && h.len() > 1
        {
            bytes.extend_from_slice(&h.as_bytes()[1..]);
        }
        loop {
            let c = self.ch(0);
            let uri = is_alpha(c)
                || matches!(
                    c,
                    ';' | '/'
                        | '?'
                        | ':'
                        | '@'
                        | '&'
                        | '='
                        | '+'
                        | '$'
                        | ','
                        | '.'
                        | '!'
                        | '~'
                        | '*'
                        | '\''
                        | '('
                        | ')'
                        | '['
                        | ']'
                        | '%'
                );
            if !uri {
                break;
            }
            if c == '%' {
                self.scan_uri_escapes(start, &mut bytes)?;
            } else {
                let mut s = String::new();
                self.read(&mut s);
                bytes.extend_from_slice(s.as_bytes());
            }
            has_tag = true;
        }
        if !has_tag {
            return self.fail(start, "did not find expected tag URI");
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn scan_uri_escapes(&mut self, start: Mark, out: &mut Vec<u8>) -> Scan<()> {
        let mut width = 0usize;
        let mut first = true;
        loop {
            let (c, h1, h2) = (self.ch(0), self.ch(1), self.ch(2));
            if !(c == '%' && h1.is_ascii_hexdigit() && h2.is_ascii_hexdigit()) {
                return self.fail(start, "did not find URI escaped octet");
            }
            let octet = (h1.to_digit(16).unwrap_or(0) * 16 + h2.to_digit(16).unwrap_or(0)) as u8;
            if first {
                width = match octet {
                    o if o & 0x80 == 0 => 1,
                    o if o & 0xE0 == 0xC0 => 2,
                    o if o & 0xF0 == 0xE0 => 3,
                    o if o & 0xF8 == 0xF0 => 4,
                    _ => return self.fail(start, "found an incorrect leading UTF-8 octet"),
                };
                first = false;
            } else if octet & 0xC0 != 0x80 {
                return self.fail(start, "found an incorrect trailing UTF-8 octet");
            }
            out.push(octet);
            self.skip();
            self.skip();
            self.skip();
            width -= 1;
            if width == 0 {
                return Ok(());
            }
        }
    }

    fn scan_block_scalar(&mut self, literal: bool) -> Scan<Token> {
        let start = self.mark;
        self.skip();
        let mut chomping = 0i32;
        let mut increment = 0isize;
        let c = self.ch(0);
        if c == '+' || c == '-' {
            chomping = if c == '+' { 1 } else { -1 };
            self.skip();
            if self.ch(0).is_ascii_digit() {
                if self.ch(0) == '0' {
                    return self.fail(start, "found an indentation indicator equal to 0");
                }
                increment = self.ch(0).to_digit(10).unwrap_or(0) as isize;
                self.skip();
            }
        } else if c.is_ascii_digit() {
            if c == '0' {
                return self.fail(start, "found an indentation indicator equal to 0");
            }
            increment = c.to_digit(10).unwrap_or(0) as isize;
            self.skip();
            let c = self.ch(0);
            if c == '+' || c == '-' {
                chomping = if c == '+' { 1 } else { -1 };
                self.skip();
            }
        }
        self.skip_blanks();
        if self.ch(0) == '#' {
            while !is_breakz(self.ch(0)) {
                self.skip();
            }
        }
        if !is_breakz(self.ch(0)) {
            return self.fail(start, "did not find expected comment or line break");
        }
        if is_break(self.ch(0)) {
            self.skip_line();
        }
        let mut indent: isize = 0;
        if increment > 0 {
            indent = if self.indent >= 0 {
                self.indent + increment
            } else {
                increment
            };
        }
        let mut s = String::new();
        let mut leading_break = String::new();
        let mut trailing_breaks = String::new();
        self.scan_block_scalar_breaks(&mut indent, &mut trailing_breaks, start)?;
        let mut leading_blank = false;
        while self.mark.column as isize == indent && self.ch(0) != '\0' {
            let trailing_blank = is_blank(self.ch(0));
            if !literal && !leading_blank && !trailing_blank && leading_break.starts_with('\n') {
                if trailing_breaks.is_empty() {
                    s.push(' ');
                }
            } else {
                s.push_str(&leading_break);
            }
            leading_break.clear();
            s.push_str(&trailing_breaks);
            trailing_breaks.clear();
            leading_blank = is_blank(self.ch(0));
            while !is_breakz(self.ch(0)) {
                self.read(&mut s);
            }
            self.read_line(&mut leading_break);
            self.scan_block_scalar_breaks(&mut indent, &mut trailing_breaks, start)?;
        }
        if chomping != -1 {
            s.push_str(&leading_break);
        }
        if chomping == 1 {
            s.push_str(&trailing_breaks);
        }
        let mut token = Token::new(Tok::Scalar, start);
        token.value = s;
        token.style = if literal {
            Style::Literal
        } else {
            Style::Folded
        };
        Ok(token)
    }

    fn scan_block_scalar_breaks(
        &mut self,
        indent: &mut isize,
        breaks: &mut String,
        start: Mark,
    ) -> Scan<()> {
        let mut max_indent: isize = 0;
        loop {
            while (*indent == 0 || (self.mark.column as isize) < *indent) && self.ch(0) == ' ' {
                self.skip();
            }
            if self.mark.column as isize > max_indent {
                max_indent = self.mark.column as isize;
            }
            if (*indent == 0 || (self.mark.column as isize) < *indent) && self.ch(0) == '\t' {
                return self.fail(
                    start,
                    "found a tab character where an indentation space is expected",
                );
            }
            if !is_break(self.ch(0)) {
                break;
            }
            self.read_line(breaks);
        }
        if *indent == 0 {
            *indent = max_indent;
            if *indent < self.indent + 1 {
                *indent = self.indent + 1;
            }
            if *indent < 1 {
                *indent = 1;
            }
        }
        Ok(())
    }

    fn at_document_indicator(&self) -> bool {
        self.mark.column == 0
            && ((self.ch(0) == '-' && self.ch(1) == '-' && self.ch(2) == '-')
                || (self.ch(0) == '.' && self.ch(1) == '.' && self.ch(2) == '.'))
            && is_blankz(self.ch(3))
    }

    fn scan_flow_scalar(&mut self, single: bool) -> Scan<Token> {
        let start = self.mark;
        self.skip();
        let mut s = String::new();
        let mut leading_break = String::new();
        let mut trailing_breaks = String::new();
        let mut whitespaces = String::new();
        loop {
            if self.at_document_indicator() {
                return self.fail(start, "found unexpected document indicator");
            }
            if self.ch(0) == '\0' {
                return self.fail(start, "found unexpected end of stream");
            }
            let mut leading_blanks = false;
            while !is_blankz(self.ch(0)) {
                let c = self.ch(0);
                if single && c == '\'' && self.ch(1) == '\'' {
                    s.push('\'');
                    self.skip();
                    self.skip();
                } else if (single && c == '\'') || (!single && c == '"') {
                    break;
                } else if !single && c == '\\' && is_break(self.ch(1)) {
                    self.skip();
                    self.skip_line();
                    leading_blanks = true;
                    break;
                } else if !single && c == '\\' {
                    let mut code_length = 0;
                    match self.ch(1) {
                        '0' => s.push('\0'),
                        'a' => s.push('\u{7}'),
                        'b' => s.push('\u{8}'),
                        't' | '\t' => s.push('\t'),
                        'n' => s.push('\n'),
                        'v' => s.push('\u{b}'),
                        'f' => s.push('\u{c}'),
                        'r' => s.push('\r'),
                        'e' => s.push('\u{1b}'),
                        ' ' => s.push(' '),
                        '"' => s.push('"'),
                        '\'' => s.push('\''),
                        '\\' => s.push('\\'),
                        'N' => s.push('\u{85}'),
                        '_' => s.push('\u{a0}'),
                        'L' => s.push('\u{2028}'),
                        'P' => s.push('\u{2029}'),
                        'x' => code_length = 2,
                        'u' => code_length = 4,
                        'U' => code_length = 8,
                        _ => return self.fail(start, "found unknown escape character"),
                    }
                    self.skip();
                    self.skip();
                    if code_length > 0 {
                        let mut value: u32 = 0;
                        for k in 0..code_length {
                            let h = self.ch(k);
                            let Some(d) = h.to_digit(16) else {
                                return self.fail(start, "did not find expected hexdecimal number");
                            };
                            value = (value << 4) + d;
                        }
                        if (0xD800..=0xDFFF).contains(&value) || value > 0x10FFFF {
                            return self.fail(start, "found invalid Unicode character escape code");
                        }
                        s.push(char::from_u32(value).unwrap_or('\u{FFFD}'));
                        for _ in 0..code_length {
                            self.skip();
                        }
                    }
                } else {
                    // This character and the ordinary ones after it.
                    self.read_until(&mut s, |c, _| {
                        is_blankz(c) || c == '\'' || c == '"' || c == '\\'
                    });
                }
            }
            let c = self.ch(0);
            if (single && c == '\'') || (!single && c == '"') {
                break;
            }
            while is_blank(self.ch(0)) || is_break(self.ch(0)) {
                if is_blank(self.ch(0)) {
                    if !leading_blanks {
                        self.read(&mut whitespaces);
                    } else {
                        self.skip();
                    }
                } else if !leading_blanks {
                    whitespaces.clear();
                    self.read_line(&mut leading_break);
                    leading_blanks = true;
                } else {
                    self.read_line(&mut trailing_breaks);
                }
            }
            if leading_blanks {
                if leading_break.starts_with('\n') {
                    if trailing_breaks.is_empty() {
                        s.push(' ');
                    } else {
                        s.push_str(&trailing_breaks);
                    }
                } else {
                    s.push_str(&leading_break);
                    s.push_str(&trailing_breaks);
                }
                trailing_breaks.clear();
                leading_break.clear();
            } else {
                s.push_str(&whitespaces);
                whitespaces.clear();
            }
        }
        self.skip();
        let mut token = Token::new(Tok::Scalar, start);
        token.value = s;
        token.style = if single {
            Style::SingleQuoted
        } else {
            Style::DoubleQuoted
        };
        Ok(token)
    }

    fn scan_plain_scalar(&mut self) -> Scan<Token> {
        let mut s = String::new();
        let mut leading_break = String::new();
        let mut trailing_breaks = String::new();
        let mut whitespaces = String::new();
        let mut leading_blanks = false;
        let indent = self.indent + 1;
        let start = self.mark;
        loop {
            if self.at_document_indicator() {
                break;
            }
            if self.ch(0) == '#' {
                break;
            }
            while !is_blankz(self.ch(0)) {
                let c = self.ch(0);
                if (c == ':' && is_blankz(self.ch(1)))
                    || (self.flow_level > 0 && matches!(c, ',' | '?' | '[' | ']' | '{' | '}'))
                {
                    break;
                }
                if leading_blanks || !whitespaces.is_empty() {
                    if leading_blanks {
                        if leading_break.starts_with('\n') {
                            if trailing_breaks.is_empty() {
                                s.push(' ');
                            } else {
                                s.push_str(&trailing_breaks);
                            }
                        } else {
                            s.push_str(&leading_break);
                            s.push_str(&trailing_breaks);
                        }
                        trailing_breaks.clear();
                        leading_break.clear();
                        leading_blanks = false;
                    } else {
                        s.push_str(&whitespaces);
                        whitespaces.clear();
                    }
                }
                // This character and every one after it that the checks above would let
                // through in turn.
                let flow = self.flow_level > 0;
                self.read_until(&mut s, |c, next| {
                    is_blankz(c)
                        || (c == ':' && is_blankz(next))
                        || (flow && matches!(c, ',' | '?' | '[' | ']' | '{' | '}'))
                });
            }
            if !(is_blank(self.ch(0)) || is_break(self.ch(0))) {
                break;
            }
            while is_blank(self.ch(0)) || is_break(self.ch(0)) {
                if is_blank(self.ch(0)) {
                    if leading_blanks && (self.mark.column as isize) < indent && self.ch(0) == '\t'
                    {
                        return self.fail(start, "found a tab character that violates indentation");
                    }
                    if !leading_blanks {
                        self.read(&mut whitespaces);
                    } else {
                        self.skip();
                    }
                } else if !leading_blanks {
                    whitespaces.clear();
                    self.read_line(&mut leading_break);
                    leading_blanks = true;
                } else {
                    self.read_line(&mut trailing_breaks);
                }
            }
            if self.flow_level == 0 && (self.mark.column as isize) < indent {
                break;
            }
        }
        let mut token = Token::new(Tok::Scalar, start);
        token.value = s;
        token.style = Style::Plain;
        if leading_blanks {
            self.simple_key_allowed = true;
        }
        Ok(token)
    }
}

// ---------------------------------------------------------------------------------------
// Parser: tokens to events
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias,
    Scalar,
    SequenceStart,
    SequenceEnd,
    MappingStart,
    MappingEnd,
}

#[derive(Debug, Clone)]
struct Event {
    kind: Ev,
    anchor: Option<String>,
    tag: String,
    value: String,
    implicit: bool,
}

impl Event {
    fn new(kind: Ev) -> Event {
        Event {
            kind,
            anchor: None,
            tag: String::new(),
            value: String::new(),
            implicit: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StreamStart,
    ImplicitDocumentStart,
    DocumentStart,
    DocumentContent,
    DocumentEnd,
    BlockNode,
    BlockSequenceFirstEntry,
    BlockSequenceEntry,
    IndentlessSequenceEntry,
    BlockMappingFirstKey,
    BlockMappingKey,
    BlockMappingValue,
    FlowSequenceFirstEntry,
    FlowSequenceEntry,
    FlowSequenceEntryMappingKey,
    FlowSequenceEntryMappingValue,
    FlowSequenceEntryMappingEnd,
    FlowMappingFirstKey,
    FlowMappingKey,
    FlowMappingValue,
    FlowMappingEmptyValue,
    End,
}

/// A token's kind and position: what the parser looks at before it takes the token.
#[derive(Clone, Copy)]
struct Head {
    kind: Tok,
    start: Mark,
}

/// Turns tokens into events, with YAML's grammar.
struct Parser {
    scanner: Scanner,
    state: State,
    states: Vec<State>,
    marks: Vec<Mark>,
    tag_directives: Vec<(String, String)>,
    error: Option<SyntaxError>,
}

fn parser_error<T>(problem: &str, problem_mark: Mark, context_mark: Mark) -> Scan<T> {
    Err(SyntaxError {
        stage: Stage::Parser,
        context_mark,
        problem: problem.to_string(),
        problem_mark,
    })
}

impl Parser {
    fn new(text: &str) -> Parser {
        Parser {
            scanner: Scanner::new(text),
            state: State::StreamStart,
            states: Vec::new(),
            marks: Vec::new(),
            tag_directives: Vec::new(),
            error: None,
        }
    }

    fn peek_kind(&mut self) -> Scan<Tok> {
        Ok(self.scanner.peek()?.kind)
    }

    /// The next token's kind and position, without taking it (or copying its text).
    fn peek_head(&mut self) -> Scan<Head> {
        let t = self.scanner.peek()?;
        Ok(Head {
            kind: t.kind,
            start: t.start,
        })
    }

    fn pop_state(&mut self) -> State {
        self.states.pop().unwrap_or(State::End)
    }

    /// The next event; `None` after the stream's end.
    fn next(&mut self) -> Scan<Option<Event>> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.scanner.stream_end_produced || self.state == State::End {
            return Ok(None);
        }
        match self.step() {
            Ok(e) => Ok(Some(e)),
            Err(e) => {
                self.error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn step(&mut self) -> Scan<Event> {
        match self.state {
            State::StreamStart => {
                let t = self.peek_head()?;
                if t.kind != Tok::StreamStart {
                    return parser_error(
                        "did not find expected <stream-start>",
                        t.start,
                        Mark::default(),
                    );
                }
                self.state = State::ImplicitDocumentStart;
                self.scanner.take();
                Ok(Event::new(Ev::StreamStart))
            }
            State::ImplicitDocumentStart => self.document_start(true),
            State::DocumentStart => self.document_start(false),
            State::DocumentContent => {
                let t = self.peek_head()?;
                if matches!(
                    t.kind,
                    Tok::VersionDirective
                        | Tok::TagDirective
                        | Tok::DocumentStart
                        | Tok::DocumentEnd
                        | Tok::StreamEnd
                ) {
                    self.state = self.pop_state();
                    return Ok(empty_scalar());
                }
                self.node(true, false)
            }
            State::DocumentEnd => {
                let t = self.peek_head()?;
                if t.kind == Tok::DocumentEnd {
                    self.scanner.take();
                }
                self.tag_directives.clear();
                self.state = State::DocumentStart;
                Ok(Event::new(Ev::DocumentEnd))
            }
            State::BlockNode => self.node(true, false),
            State::BlockSequenceFirstEntry => self.block_sequence_entry(true),
            State::BlockSequenceEntry => self.block_sequence_entry(false),
            State::IndentlessSequenceEntry => self.indentless_sequence_entry(),
            State::BlockMappingFirstKey => self.block_mapping_key(true),
            State::BlockMappingKey => self.block_mapping_key(false),
            State::BlockMappingValue => self.block_mapping_value(),
            State::FlowSequenceFirstEntry => self.flow_sequence_entry(true),
            State::FlowSequenceEntry => self.flow_sequence_entry(false),
            State::FlowSequenceEntryMappingKey => {
                let t = self.peek_head()?;
                if !matches!(t.kind, Tok::Value | Tok::FlowEntry | Tok::FlowSequenceEnd) {
                    self.states.push(State::FlowSequenceEntryMappingValue);
                    return self.node(false, false);
                }
                self.scanner.take();
                self.state = State::FlowSequenceEntryMappingValue;
                Ok(empty_scalar())
            }
            State::FlowSequenceEntryMappingValue => {
                let t = self.peek_head()?;
                if t.kind == Tok::Value {
                    self.scanner.take();
                    let t = self.peek_head()?;
                    if !matches!(t.kind, Tok::FlowEntry | Tok::FlowSequenceEnd) {
                        self.states.push(State::FlowSequenceEntryMappingEnd);
                        return self.node(false, false);
                    }
                }
                self.scanner.peek()?;
                self.state = State::FlowSequenceEntryMappingEnd;
                Ok(empty_scalar())
            }
            State::FlowSequenceEntryMappingEnd => {
                self.scanner.peek()?;
                self.state = State::FlowSequenceEntry;
                Ok(Event::new(Ev::MappingEnd))
            }
            State::FlowMappingFirstKey => self.flow_mapping_key(true),
            State::FlowMappingKey => self.flow_mapping_key(false),
            State::FlowMappingValue => self.flow_mapping_value(false),
            State::FlowMappingEmptyValue => self.flow_mapping_value(true),
            State::End => Ok(Event::new(Ev::StreamEnd)),
        }
    }

    fn document_start(&mut self, implicit: bool) -> Scan<Event> {
        let mut t = self.peek_head()?;
        if !implicit {
            while t.kind == Tok::DocumentEnd {
                self.scanner.take();
                t = self.peek_head()?;
            }
        }
        if implicit
            && !matches!(
                t.kind,
                Tok::VersionDirective | Tok::TagDirective | Tok::DocumentStart | Tok::StreamEnd
            )
        {
            self.process_directives()?;
            self.states.push(State::DocumentEnd);
            self.state = State::BlockNode;
            return Ok(Event::new(Ev::DocumentStart));
        }
        if t.kind != Tok::StreamEnd {
            self.process_directives()?;
            let t = self.peek_head()?;
            if t.kind != Tok::DocumentStart {
                return parser_error(
                    "did not find expected <document start>",
                    t.start,
                    Mark::default(),
                );
            }
            self.states.push(State::DocumentEnd);
            self.state = State::DocumentContent;
            self.scanner.take();
            return Ok(Event::new(Ev::DocumentStart));
        }
        self.state = State::End;
        self.scanner.take();
        Ok(Event::new(Ev::StreamEnd))
    }

    fn process_directives(&mut self) -> Scan<()> {
        let mut version_seen = false;
        loop {
            let t = self.scanner.peek()?;
            match t.kind {
                Tok::VersionDirective => {
                    if version_seen {
                        return parser_error(
                            "found duplicate %YAML directive",
                            t.start,
                            Mark::default(),
                        );
                    }
                    if t.major != 1 || t.minor != 1 {
                        return parser_error(
                            "found incompatible YAML document",
                            t.start,
                            Mark::default(),
                        );
                    }
                    version_seen = true;
                }
                Tok::TagDirective => {
                    if self.tag_directives.iter().any(|(h, _)| *h == t.value) {
                        return parser_error(
                            "found duplicate %TAG directive",
                            t.start,
                            Mark::default(),
                        );
                    }
                    let directive = (t.value.clone(), t.suffix.clone());
                    self.tag_directives.push(directive);
                }
                _ => break,
            }
            self.scanner.take();
        }
        for (handle, prefix) in [("!", "!"), ("!!", "tag:yaml.org,2002:")] {
            if !self.tag_directives.iter().any(|(h, _)| h == handle) {
                self.tag_directives
                    .push((handle.to_string(), prefix.to_string()));
            }
        }
        Ok(())
    }

    fn node(&mut self, block: bool, indentless_sequence: bool) -> Scan<Event> {
        let t = self.peek_head()?;
        if t.kind == Tok::Alias {
            self.state = self.pop_state();
            let token = self.scanner.take();
            let mut e = Event::new(Ev::Alias);
            e.anchor = Some(token.value);
            return Ok(e);
        }
        let mut start = t.start;
        let mut anchor = None;
        let mut tag_token: Option<(String, String, Mark)> = None;
        let mut t = t;
        if t.kind == Tok::Anchor {
            start = t.start;
            anchor = Some(self.scanner.take().value);
            t = self.peek_head()?;
            if t.kind == Tok::Tag {
                let token = self.scanner.take();
                tag_token = Some((token.value, token.suffix, t.start));
                t = self.peek_head()?;
            }
        } else if t.kind == Tok::Tag {
            let token = self.scanner.take();
            tag_token = Some((token.value, token.suffix, t.start));
            start = t.start;
            t = self.peek_head()?;
            if t.kind == Tok::Anchor {
                anchor = Some(self.scanner.take().value);
                t = self.peek_head()?;
            }
        }
        let mut tag = String::new();
        if let Some((handle, suffix, tag_mark)) = tag_token {
            if handle.is_empty() {
                tag = suffix;
            } else {
                match self.tag_directives.iter().find(|(h, _)| *h == handle) {
                    Some((_, prefix)) => tag = format!("{prefix}{suffix}"),
                    None => return parser_error("found undefined tag handle", tag_mark, start),
                }
                if tag.is_empty() {
                    return parser_error("found undefined tag handle", tag_mark, start);
                }
            }
        }
        let implicit = tag.is_empty();
        let collection = |kind: Ev| {
            let mut e = Event::new(kind);
            e.anchor = anchor.clone();
            e.tag = tag.clone();
            e.implicit = implicit;
            e
        };
        if indentless_sequence && t.kind == Tok::BlockEntry {
            self.state = State::IndentlessSequenceEntry;
            return Ok(collection(Ev::SequenceStart));
        }
        if t.kind == Tok::Scalar {
            self.state = self.pop_state();
            let token = self.scanner.take();
            let plain_implicit = (tag.is_empty() && token.style == Style::Plain) || tag == "!";
            let mut e = Event::new(Ev::Scalar);
            e.anchor = anchor;
            e.tag = tag;
            e.value = token.value;
            e.implicit = plain_implicit;
            return Ok(e);
        }
        if t.kind == Tok::FlowSequenceStart {
            self.state = State::FlowSequenceFirstEntry;
            return Ok(collection(Ev::SequenceStart));
        }
        if t.kind == Tok::FlowMappingStart {
            self.state = State::FlowMappingFirstKey;
            return Ok(collection(Ev::MappingStart));
        }
        if block && t.kind == Tok::BlockSequenceStart {
            self.state = State::BlockSequenceFirstEntry;
            return Ok(collection(Ev::SequenceStart));
        }
        if block && t.kind == Tok::BlockMappingStart {
            self.state = State::BlockMappingFirstKey;
            return Ok(collection(Ev::MappingStart));
        }
        if anchor.is_some() || !tag.is_empty() {
            self.state = self.pop_state();
            let mut e = Event::new(Ev::Scalar);
            e.anchor = anchor;
            e.tag = tag;
            e.implicit = implicit;
            return Ok(e);
        }
        parser_error("did not find expected node content", t.start, start)
    }

    fn block_sequence_entry(&mut self, first: bool) -> Scan<Event> {
        if first {
            let t = self.scanner.take();
            self.marks.push(t.start);
        }
        let t = self.peek_head()?;
        if t.kind == Tok::BlockEntry {
            self.scanner.take();
            let k = self.peek_kind()?;
            if k != Tok::BlockEntry && k != Tok::BlockEnd {
                self.states.push(State::BlockSequenceEntry);
                return self.node(true, false);
            }
            self.state = State::BlockSequenceEntry;
            return Ok(empty_scalar());
        }
        if t.kind == Tok::BlockEnd {
            self.state = self.pop_state();
            self.marks.pop();
            self.scanner.take();
            return Ok(Event::new(Ev::SequenceEnd));
        }
        let context = self.marks.pop().unwrap_or_default();
        parser_error("did not find expected '-' indicator", t.start, context)
    }

    fn indentless_sequence_entry(&mut self) -> Scan<Event> {
        let t = self.peek_head()?;
        if t.kind == Tok::BlockEntry {
            self.scanner.take();
            let k = self.peek_kind()?;
            if !matches!(k, Tok::BlockEntry | Tok::Key | Tok::Value | Tok::BlockEnd) {
                self.states.push(State::IndentlessSequenceEntry);
                return self.node(true, false);
            }
            self.state = State::IndentlessSequenceEntry;
            return Ok(empty_scalar());
        }
        self.state = self.pop_state();
        Ok(Event::new(Ev::SequenceEnd))
    }

    fn block_mapping_key(&mut self, first: bool) -> Scan<Event> {
        if first {
            let t = self.scanner.take();
            self.marks.push(t.start);
        }
        let t = self.peek_head()?;
        if t.kind == Tok::Key {
            self.scanner.take();
            let k = self.peek_kind()?;
            if !matches!(k, Tok::Key | Tok::Value | Tok::BlockEnd) {
                self.states.push(State::BlockMappingValue);
                return self.node(true, true);
            }
            self.state = State::BlockMappingValue;
            return Ok(empty_scalar());
        }
        if t.kind == Tok::BlockEnd {
            self.state = self.pop_state();
            self.marks.pop();
            self.scanner.take();
            return Ok(Event::new(Ev::MappingEnd));
        }
        let context = self.marks.pop().unwrap_or_default();
        parser_error("did not find expected key", t.start, context)
    }

    fn block_mapping_value(&mut self) -> Scan<Event> {
        let t = self.peek_head()?;
        if t.kind == Tok::Value {
            self.scanner.take();
            let k = self.peek_kind()?;
            if !matches!(k, Tok::Key | Tok::Value | Tok::BlockEnd) {
                self.states.push(State::BlockMappingKey);
                return self.node(true, true);
            }
            self.state = State::BlockMappingKey;
            return Ok(empty_scalar());
        }
        self.state = State::BlockMappingKey;
        Ok(empty_scalar())
    }

    fn flow_sequence_entry(&mut self, first: bool) -> Scan<Event> {
        if first {
            let t = self.scanner.take();
            self.marks.push(t.start);
        }
        let mut t = self.peek_head()?;
        if t.kind != Tok::FlowSequenceEnd {
            if !first {
                if t.kind == Tok::FlowEntry {
                    self.scanner.take();
                    t = self.peek_head()?;
                } else {
                    let context = self.marks.pop().unwrap_or_default();
                    return parser_error("did not find expected ',' or ']'", t.start, context);
                }
            }
            if t.kind == Tok::Key {
                self.state = State::FlowSequenceEntryMappingKey;
                self.scanner.take();
                let mut e = Event::new(Ev::MappingStart);
                e.implicit = true;
                return Ok(e);
            } else if t.kind != Tok::FlowSequenceEnd {
                self.states.push(State::FlowSequenceEntry);
                return self.node(false, false);
            }
        }
        self.state = self.pop_state();
        self.marks.pop();
        self.scanner.take();
        Ok(Event::new(Ev::SequenceEnd))
    }

    fn flow_mapping_key(&mut self, first: bool) -> Scan<Event> {
        if first {
            let t = self.scanner.take();
            self.marks.push(t.start);
        }
        let mut t = self.peek_head()?;
        if t.kind != Tok::FlowMappingEnd {
            if !first {
                if t.kind == Tok::FlowEntry {
                    self.scanner.take();
                    t = self.peek_head()?;
                } else {
                    let context = self.marks.pop().unwrap_or_default();
                    return parser_error("did not find expected ',' or '}'", t.start, context);
                }
            }
            if t.kind == Tok::Key {
                self.scanner.take();
                t = self.peek_head()?;
                if !matches!(t.kind, Tok::Value | Tok::FlowEntry | Tok::FlowMappingEnd) {
                    self.states.push(State::FlowMappingValue);
                    return self.node(false, false);
                }
                self.state = State::FlowMappingValue;
                return Ok(empty_scalar());
            } else if t.kind != Tok::FlowMappingEnd {
                self.states.push(State::FlowMappingEmptyValue);
                return self.node(false, false);
            }
        }
        self.state = self.pop_state();
        self.marks.pop();
        self.scanner.take();
        Ok(Event::new(Ev::MappingEnd))
    }

    fn flow_mapping_value(&mut self, empty: bool) -> Scan<Event> {
        let t = self.peek_head()?;
        if empty {
            self.state = State::FlowMappingKey;
            return Ok(empty_scalar());
        }
        if t.kind == Tok::Value {
            self.scanner.take();
            let t = self.peek_head()?;
            if !matches!(t.kind, Tok::FlowEntry | Tok::FlowMappingEnd) {
                self.states.push(State::FlowMappingKey);
                return self.node(false, false);
            }
        }
        self.scanner.peek()?;
        self.state = State::FlowMappingKey;
        Ok(empty_scalar())
    }
}

fn empty_scalar() -> Event {
    let mut e = Event::new(Ev::Scalar);
    e.implicit = true;
    e
}

// ---------------------------------------------------------------------------------------
// Composer: the first document's events to a node tree
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeKind {
    Document,
    Mapping,
    Sequence,
    Scalar,
    Alias,
}

#[derive(Debug)]
struct Node {
    kind: NodeKind,
    tag: String,
    value: String,
    implicit: bool,
    children: Vec<usize>,
    /// For an alias: the anchored node.
    target: usize,
}

struct Composer {
    parser: Parser,
    peeked: Option<Event>,
    nodes: Vec<Node>,
    anchors: HashMap<String, usize>,
}

/// A failure while reading YAML: a syntax error (whose line Go reports by its own rules),
/// or any other message, already in Go's words.
#[derive(Debug)]
enum ReadError {
    Syntax(SyntaxError),
    Other(String),
}

impl ReadError {
    fn message(&self) -> String {
        match self {
            ReadError::Syntax(e) => e.message(),
            ReadError::Other(m) => m.clone(),
        }
    }
}

impl From<SyntaxError> for ReadError {
    fn from(e: SyntaxError) -> Self {
        ReadError::Syntax(e)
    }
}

type Read<T> = Result<T, ReadError>;

impl Composer {
    fn peek(&mut self) -> Read<Ev> {
        if self.peeked.is_none() {
            match self.parser.next()? {
                Some(e) => self.peeked = Some(e),
                None => {
                    return Err(ReadError::Other(
                        "yaml: attempted to go past the end of stream; corrupted value?".into(),
                    ));
                }
            }
        }
        Ok(self.peeked.as_ref().map_or(Ev::StreamEnd, |e| e.kind))
    }

    fn take(&mut self) -> Read<Event> {
        self.peek()?;
        Ok(self.peeked.take().expect("peeked"))
    }

    fn add(&mut self, kind: NodeKind, event: Event) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node {
            kind,
            tag: event.tag,
            value: event.value,
            implicit: event.implicit,
            children: Vec::new(),
            target: 0,
        });
        if let Some(anchor) = event.anchor
            && kind != NodeKind::Alias
        {
            self.anchors.insert(anchor, id);
        }
        id
    }

    /// The first document of the stream, or `None` for an empty stream.
    fn document(&mut self) -> Read<Option<usize>> {
        let start = self.take()?;
        debug_assert_eq!(start.kind, Ev::StreamStart);
        match self.peek()? {
            Ev::StreamEnd => Ok(None),
            _ => {
                let event = self.take()?;
                let doc = self.add(NodeKind::Document, event);
                let child = self.node()?;
                self.nodes[doc].children.push(child);
                let end = self.take()?;
                if end.kind != Ev::DocumentEnd {
                    return Err(ReadError::Other(format!(
                        "yaml: expected DOCUMENT_END event but got {:?}",
                        end.kind
                    )));
                }
                Ok(Some(doc))
            }
        }
    }

    /// The first document of the stream decoded as it is read, without a node tree, for
    /// the common document: no aliases, no merge keys, no collections as keys, and
    /// scalars that all decode. `Quick::Fallback` when the document is not one of those
    /// (read it again with [`Composer::document`] and [`Decoder`], which find what Go
    /// reports); syntax errors are the same either way.
    fn quick_document(&mut self) -> Read<Quick> {
        let start = self.take()?;
        debug_assert_eq!(start.kind, Ev::StreamStart);
        if self.peek()? == Ev::StreamEnd {
            return Ok(Quick::Done(None));
        }
        self.take()?;
        let mut open: Vec<QuickFrame> = Vec::new();
        let root = loop {
            let event = self.take()?;
            let value = match event.kind {
                Ev::Scalar => {
                    if let Some(QuickFrame::Map(_, None)) = open.last()
                        && event.value == "<<"
                        && (event.implicit || event.tag == MERGE_TAG)
                    {
                        return Ok(Quick::Fallback);
                    }
                    match decode_scalar(&event.tag, &event.value, event.implicit) {
                        Ok(Some(v)) => v,
                        Ok(None) => Yv::Str(event.value),
                        Err(_) => return Ok(Quick::Fallback),
                    }
                }
                Ev::SequenceStart | Ev::MappingStart => {
                    if let Some(QuickFrame::Map(_, None)) = open.last() {
                        // A collection as a key: Go refuses it when decoding.
                        return Ok(Quick::Fallback);
                    }
                    open.push(if event.kind == Ev::SequenceStart {
                        QuickFrame::Seq(Vec::new())
                    } else {
                        QuickFrame::Map(Entries::default(), None)
                    });
                    if open.len() > MAX_NESTING {
                        return Err(ReadError::Other(format!(
                            "yaml: exceeded max depth of {MAX_NESTING}"
                        )));
                    }
                    continue;
                }
                Ev::SequenceEnd | Ev::MappingEnd => match open.pop() {
                    Some(QuickFrame::Seq(items)) => Yv::Seq(items),
                    Some(QuickFrame::Map(entries, _)) => Yv::Map(entries.items),
                    None => {
                        return Err(ReadError::Other(format!(
                            "yaml: attempted to parse unknown event: {:?}",
                            event.kind
                        )));
                    }
                },
                Ev::Alias => return Ok(Quick::Fallback),
                other => {
                    return Err(ReadError::Other(format!(
                        "yaml: attempted to parse unknown event: {other:?}"
                    )));
                }
            };
            match open.last_mut() {
                None => break value,
                Some(QuickFrame::Seq(items)) => items.push(value),
                Some(QuickFrame::Map(entries, pending)) => match pending.take() {
                    None => *pending = Some(value),
                    Some(key) => entries.set(key, value),
                },
            }
        };
        let end = self.take()?;
        if end.kind != Ev::DocumentEnd {
            return Err(ReadError::Other(format!(
                "yaml: expected DOCUMENT_END event but got {:?}",
                end.kind
            )));
        }
        Ok(Quick::Done(Some(root)))
    }

    /// One node and everything under it, read without recursion.
    fn node(&mut self) -> Read<usize> {
        let mut open: Vec<usize> = Vec::new();
        loop {
            let event = self.take()?;
            let id = match event.kind {
                Ev::Alias => {
                    let mut event = event;
                    let name = event.anchor.take().unwrap_or_default();
                    let Some(&target) = self.anchors.get(&name) else {
                        return Err(ReadError::Other(format!(
                            "yaml: unknown anchor '{name}' referenced"
                        )));
                    };
                    let id = self.add(NodeKind::Alias, event);
                    self.nodes[id].value = name;
                    self.nodes[id].target = target;
                    id
                }
                Ev::Scalar => self.add(NodeKind::Scalar, event),
                Ev::SequenceStart | Ev::MappingStart => {
                    let kind = if event.kind == Ev::SequenceStart {
                        NodeKind::Sequence
                    } else {
                        NodeKind::Mapping
                    };
                    let id = self.add(kind, event);
                    if let Some(&parent) = open.last() {
                        self.nodes[parent].children.push(id);
                    }
                    open.push(id);
                    if open.len() > MAX_NESTING {
                        return Err(ReadError::Other(format!(
                            "yaml: exceeded max depth of {MAX_NESTING}"
                        )));
                    }
                    continue;
                }
                Ev::SequenceEnd | Ev::MappingEnd => match open.pop() {
                    Some(id) => {
                        if open.is_empty() {
                            return Ok(id);
                        }
                        continue;
                    }
                    None => {
                        return Err(ReadError::Other(format!(
                            "yaml: attempted to parse unknown event: {:?}",
                            event.kind
                        )));
                    }
                },
                other => {
                    return Err(ReadError::Other(format!(
                        "yaml: attempted to parse unknown event: {other:?}"
                    )));
                }
            };
            match open.last() {
                Some(&parent) => self.nodes[parent].children.push(id),
                None => return Ok(id),
            }
        }
    }
}

/// What [`Composer::quick_document`] made of a document.
enum Quick {
    /// The decoded document (`None` for an empty stream).
    Done(Option<Yv>),
    /// The document needs the node tree.
    Fallback,
}

/// A collection [`Composer::quick_document`] is reading: a sequence's items, or a map's
/// entries and the key read for the next value.
enum QuickFrame {
    Seq(Vec<Yv>),
    Map(Entries, Option<Yv>),
}

/// How deep collections may nest in a document slipway reads. Go allows 10000; slipway's
/// readers and writers recurse, so they stop earlier, far beyond what values files use.
const MAX_NESTING: usize = 500;

// ---------------------------------------------------------------------------------------
// Resolving plain scalars (YAML 1.1, as Go's YAML library does)
// ---------------------------------------------------------------------------------------

const TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// What a scalar decodes to into an `interface{}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Yv {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Yv>),
    Map(Vec<(Yv, Yv)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Timestamp,
    Merge,
    Binary,
    Other,
}

fn tag_kind(tag: &str) -> Option<Kind> {
    let name = tag.strip_prefix(TAG_PREFIX)?;
    Some(match name {
        "null" => Kind::Null,
        "bool" => Kind::Bool,
        "int" => Kind::Int,
        "float" => Kind::Float,
        "str" => Kind::Str,
        "timestamp" => Kind::Timestamp,
        "merge" => Kind::Merge,
        "binary" => Kind::Binary,
        _ => Kind::Other,
    })
}

fn kind_tag(kind: Kind) -> &'static str {
    match kind {
        Kind::Null => "!!null",
        Kind::Bool => "!!bool",
        Kind::Int => "!!int",
        Kind::Float => "!!float",
        Kind::Str => "!!str",
        Kind::Timestamp => "!!timestamp",
        Kind::Merge => "!!merge",
        Kind::Binary => "!!binary",
        Kind::Other => "!!other",
    }
}

fn float_regex(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The value a plain scalar stands for with no tag: Go's YAML resolution, YAML 1.1's
/// booleans included. `None` for a string or a timestamp: the scalar's own text.
fn resolve_plain(s: &str) -> (Kind, Option<Yv>) {
    let Some(first) = s.bytes().next() else {
        return (Kind::Null, Some(Yv::Null));
    };
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return (Kind::Bool, Some(Yv::Bool(true)));
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return (Kind::Bool, Some(Yv::Bool(false)));
        }
        "~" | "null" | "Null" | "NULL" => return (Kind::Null, Some(Yv::Null)),
        ".nan" | ".NaN" | ".NAN" => return (Kind::Float, Some(Yv::Float(f64::NAN))),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return (Kind::Float, Some(Yv::Float(f64::INFINITY)));
        }
        "-.inf" | "-.Inf" | "-.INF" => return (Kind::Float, Some(Yv::Float(f64::NEG_INFINITY))),
        _ => {}
    }
    match first {
        b'.' => {
            if let Some(f) = go_parse_float(s) {
                return (Kind::Float, Some(Yv::Float(f)));
            }
        }
        b'0'..=b'9' | b'+' | b'-' => {
            if is_timestamp(s) {
                return (Kind::Timestamp, None);
            }
            if let Some((kind, v)) = resolve_number(s) {
                return (kind, Some(v));
            }
        }
        _ => {}
    }
    (Kind::Str, None)
}

fn resolve_number(s: &str) -> Option<(Kind, Yv)> {
    let plain: std::borrow::Cow<'_, str> = if s.contains('_') {
        s.chars().filter(|c| *c != '_').collect::<String>().into()
    } else {
        s.into()
    };
    if let Ok(i) = go_parse_int(&plain) {
        return Some((Kind::Int, Yv::Int(i)));
    }
    if let Ok(u) = go_parse_uint(&plain) {
        return Some((Kind::Int, Yv::Uint(u)));
    }
    if float_regex(&plain)
        && let Some(f) = go_parse_float(&plain)
    {
        return Some((Kind::Float, Yv::Float(f)));
    }
    // What Go then tries for binary: ParseInt takes a sign after `0b`, ParseUint does not.
    if let Some(rest) = plain.strip_prefix("0b") {
        if let Ok(v) = i64::from_str_radix(rest, 2) {
            return Some((Kind::Int, Yv::Int(v)));
        }
        if !rest.starts_with('+')
            && let Ok(v) = u64::from_str_radix(rest, 2)
        {
            return Some((Kind::Int, Yv::Uint(v)));
        }
    } else if let Some(rest) = plain.strip_prefix("-0b")
        && let Ok(v) = i64::from_str_radix(&format!("-{rest}"), 2)
    {
        return Some((Kind::Int, Yv::Int(v)));
    }
    None
}

/// Whether Go's YAML library reads `s` as a timestamp: `2006-1-2`, `2006-1-2T15:4:5Z07:00`
/// (or with `t`), `2006-1-2 15:4:5`, with optional fractional seconds, as `time.Parse`
/// accepts them.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let year: i32 = s[..4].parse().unwrap_or(0);
    let mut p = TimeParse { b, i: 5 };
    let Some(month) = p.num(2) else { return false };
    if !(1..=12).contains(&month) || !p.lit(b'-') {
        return false;
    }
    let Some(day) = p.num(2) else { return false };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day < 1 || day > days {
        return false;
    }
    if p.i == b.len() {
        return true;
    }
    let sep = b[p.i];
    if sep != b'T' && sep != b't' && sep != b' ' {
        return false;
    }
    p.i += 1;
    let Some(hour) = p.num(2) else { return false };
    if hour >= 24 || !p.lit(b':') {
        return false;
    }
    let Some(minute) = p.num(2) else { return false };
    if minute >= 60 || !p.lit(b':') {
        return false;
    }
    let Some(second) = p.num(2) else { return false };
    if second >= 60 {
        return false;
    }
    // Fractional seconds: '.' or ',' and digits.
    if p.i + 1 < b.len() && (b[p.i] == b'.' || b[p.i] == b',') && b[p.i + 1].is_ascii_digit() {
        p.i += 1;
        while p.i < b.len() && b[p.i].is_ascii_digit() {
            p.i += 1;
        }
    }
    if sep == b' ' {
        return p.i == b.len();
    }
    // Z07:00
    if p.i < b.len() && b[p.i] == b'Z' {
        return p.i + 1 == b.len();
    }
    let rest = &b[p.i..];
    if rest.len() != 6 || (rest[0] != b'+' && rest[0] != b'-') || rest[3] != b':' {
        return false;
    }
    let hh = &rest[1..3];
    let mm = &rest[4..6];
    if !hh.iter().all(u8::is_ascii_digit) || !mm.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let hh: u32 = s[p.i + 1..p.i + 3].parse().unwrap_or(99);
    let mm: u32 = s[p.i + 4..p.i + 6].parse().unwrap_or(99);
    hh <= 24 && mm <= 60
}

struct TimeParse<'a> {
    b: &'a [u8],
    i: usize,
}

impl TimeParse<'_> {
    /// One or two digits, as Go's layouts `1`, `2`, `15`, `4` and `5` read them.
    fn num(&mut self, max: usize) -> Option<u32> {
        let start = self.i;
        while self.i < self.b.len() && self.i - start < max && self.b[self.i].is_ascii_digit() {
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()
    }

    fn lit(&mut self, c: u8) -> bool {
        if self.i < self.b.len() && self.b[self.i] == c {
            self.i += 1;
            true
        } else {
            false
        }
    }
}

/// Go's resolution of a scalar with an explicit tag, or none. `None` for the scalar's own
/// text.
fn resolve(tag: &str, value: &str) -> Result<(Kind, Option<Yv>), String> {
    let wanted = if tag.is_empty() {
        None
    } else {
        match tag_kind(tag) {
            Some(
                k @ (Kind::Str
                | Kind::Bool
                | Kind::Int
                | Kind::Float
                | Kind::Null
                | Kind::Timestamp),
            ) => Some(k),
            // Not a tag Go resolves: the text as it is.
            Some(Kind::Binary) => return Ok((Kind::Binary, None)),
            _ => return Ok((Kind::Other, None)),
        }
    };
    let (kind, out) = match wanted {
        Some(Kind::Str) => (Kind::Str, None),
        Some(Kind::Timestamp) | None => resolve_plain(value),
        Some(_) => {
            let (k, v) = resolve_plain(value);
            // A timestamp is only tried untagged or as !!timestamp.
            if k == Kind::Timestamp {
                match resolve_number(value) {
                    Some((k, v)) => (k, Some(v)),
                    None => (Kind::Str, None),
                }
            } else {
                (k, v)
            }
        }
    };
    match wanted {
        None | Some(Kind::Str) => Ok((kind, out)),
        Some(w) if w == kind => Ok((kind, out)),
        Some(Kind::Float) if kind == Kind::Int => match out {
            Some(Yv::Int(i)) => Ok((Kind::Float, Some(Yv::Float(i as f64)))),
            _ => Err(format!(
                "yaml: cannot decode {} `{value}` as a {}",
                kind_tag(kind),
                kind_tag(Kind::Float)
            )),
        },
        Some(w) => Err(format!(
            "yaml: cannot decode {} `{value}` as a {}",
            kind_tag(kind),
            kind_tag(w)
        )),
    }
}

/// A scalar as Go decodes it into an `interface{}`; `None` for its own text, as a string.
fn decode_scalar(tag: &str, text: &str, implicit: bool) -> Result<Option<Yv>, String> {
    if tag.is_empty() && !implicit {
        return Ok(None);
    }
    if tag == NULL_TAG {
        // A !!null tag: Go leaves the interface{} nil whatever the text (once it reads
        // as null).
        resolve(tag, text)?;
        return Ok(Some(Yv::Null));
    }
    let (kind, v) = resolve(tag, text)?;
    match kind {
        Kind::Binary => {
            let clean: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
            match base64::engine::general_purpose::STANDARD.decode(clean.as_bytes()) {
                Ok(bytes) => Ok(Some(Yv::Str(go_lossy(&bytes)))),
                Err(_) => Err("yaml: !!binary value contains invalid base64 data".into()),
            }
        }
        Kind::Timestamp => Ok(None),
        _ => Ok(v),
    }
}

// ---------------------------------------------------------------------------------------
// Decoding nodes into Go values (into an interface{})
// ---------------------------------------------------------------------------------------

struct Decoder<'a> {
    nodes: &'a [Node],
    active_aliases: Vec<usize>,
    decode_count: usize,
    alias_count: usize,
    alias_depth: usize,
}

fn allowed_alias_ratio(decode_count: usize) -> f64 {
    const LOW: usize = 400_000;
    const HIGH: usize = 4_000_000;
    if decode_count <= LOW {
        0.99
    } else if decode_count >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decode_count - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

const MERGE_TAG: &str = "tag:yaml.org,2002:merge";
const NULL_TAG: &str = "tag:yaml.org,2002:null";

fn is_merge(n: &Node) -> bool {
    n.kind == NodeKind::Scalar && n.value == "<<" && (n.implicit || n.tag == MERGE_TAG)
}

fn go_lossy(bytes: &[u8]) -> String {
    // Each byte that is not part of valid UTF-8 becomes one U+FFFD, as Go's encoders do.
    let mut out = String::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let good = e.valid_up_to();
                out.push_str(std::str::from_utf8(&rest[..good]).unwrap_or(""));
                out.push('\u{FFFD}');
                rest = &rest[good + 1..];
            }
        }
    }
    out
}

impl Decoder<'_> {
    fn count(&mut self) -> Result<(), String> {
        self.decode_count += 1;
        if self.alias_depth > 0 {
            self.alias_count += 1;
        }
        if self.alias_count > 100
            && self.decode_count > 1000
            && (self.alias_count as f64) / (self.decode_count as f64)
                > allowed_alias_ratio(self.decode_count)
        {
            return Err("yaml: document contains excessive aliasing".into());
        }
        Ok(())
    }

    fn value(&mut self, id: usize) -> Result<Yv, String> {
        self.count()?;
        let nodes = self.nodes;
        let n = &nodes[id];
        match n.kind {
            NodeKind::Document => match n.children.first() {
                Some(&child) => self.value(child),
                None => Ok(Yv::Null),
            },
            NodeKind::Alias => {
                if self.active_aliases.contains(&id) {
                    return Err(format!("yaml: anchor '{}' value contains itself", n.value));
                }
                self.active_aliases.push(id);
                self.alias_depth += 1;
                let v = self.value(n.target);
                self.alias_depth -= 1;
                self.active_aliases.retain(|a| *a != id);
                v
            }
            NodeKind::Scalar => self.scalar(id),
            NodeKind::Sequence => {
                let mut items = Vec::with_capacity(n.children.len());
                for &child in &n.children {
                    items.push(self.value(child)?);
                }
                Ok(Yv::Seq(items))
            }
            NodeKind::Mapping => {
                let mut entries = Entries::default();
                self.mapping_into(id, &mut entries)?;
                Ok(Yv::Map(entries.items))
            }
        }
    }

    fn scalar(&mut self, id: usize) -> Result<Yv, String> {
        let n = &self.nodes[id];
        Ok(
            decode_scalar(&n.tag, &n.value, n.implicit)?
                .unwrap_or_else(|| Yv::Str(n.value.clone())),
        )
    }

    fn mapping_into(&mut self, id: usize, entries: &mut Entries) -> Result<(), String> {
        let nodes = self.nodes;
        entries.items.reserve(nodes[id].children.len() / 2);
        for pair in nodes[id].children.chunks(2) {
            let (k, v) = (pair[0], pair[1]);
            if is_merge(&self.nodes[k]) {
                self.merge(v, entries)?;
                continue;
            }
            let key = self.value(k)?;
            if matches!(key, Yv::Map(_) | Yv::Seq(_)) {
                return Err(format!("yaml: invalid map key: {}", go_sharp_v(&key)));
            }
            let value = self.value(v)?;
            entries.set(key, value);
        }
        Ok(())
    }

    fn merge(&mut self, id: usize, entries: &mut Entries) -> Result<(), String> {
        const WANT_MAP: &str = "yaml: map merge requires map or sequence of maps as the value";
        let n = &self.nodes[id];
        match n.kind {
            NodeKind::Mapping => self.merge_map(id, entries),
            NodeKind::Alias => {
                if self.nodes[n.target].kind != NodeKind::Mapping {
                    return Err(WANT_MAP.into());
                }
                self.merge_map(id, entries)
            }
            NodeKind::Sequence => {
                let nodes = self.nodes;
                for &child in nodes[id].children.iter().rev() {
                    let c = &self.nodes[child];
                    let ok = match c.kind {
                        NodeKind::Alias => self.nodes[c.target].kind == NodeKind::Mapping,
                        NodeKind::Mapping => true,
                        _ => false,
                    };
                    if !ok {
                        return Err(WANT_MAP.into());
                    }
                    self.merge_map(child, entries)?;
                }
                Ok(())
            }
            _ => Err(WANT_MAP.into()),
        }
    }

    /// Decodes a mapping (or an alias of one) into an existing map, as Go does for `<<`.
    fn merge_map(&mut self, id: usize, entries: &mut Entries) -> Result<(), String> {
        self.count()?;
        let n = &self.nodes[id];
        if n.kind == NodeKind::Alias {
            if self.active_aliases.contains(&id) {
                return Err(format!("yaml: anchor '{}' value contains itself", n.value));
            }
            let target = n.target;
            self.active_aliases.push(id);
            self.alias_depth += 1;
            let r = self.merge_map(target, entries);
            self.alias_depth -= 1;
            self.active_aliases.retain(|a| *a != id);
            return r;
        }
        self.mapping_into(id, entries)
    }
}

/// A Go map being filled: entries in the order they came, an equal key replacing the
/// value as Go's `==` on interface keys decides (so `1` and `1.0` are different keys, and
/// NaN equals nothing).
#[derive(Default)]
struct Entries {
    items: Vec<(Yv, Yv)>,
    /// Built once the map is too large for a linear search of its keys.
    index: Option<HashMap<KeyId, usize>>,
}

/// Maps up to this many entries find an equal key by looking at each one.
const LINEAR_KEYS: usize = 32;

/// Go's `==` on two interface map keys.
fn same_key(a: &Yv, b: &Yv) -> bool {
    match (a, b) {
        (Yv::Null, Yv::Null) => true,
        (Yv::Bool(x), Yv::Bool(y)) => x == y,
        (Yv::Int(x), Yv::Int(y)) => x == y,
        (Yv::Uint(x), Yv::Uint(y)) => x == y,
        (Yv::Float(x), Yv::Float(y)) => x == y,
        (Yv::Str(x), Yv::Str(y)) => x == y,
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyId {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(u64),
    Str(String),
}

fn key_id(key: &Yv) -> Option<KeyId> {
    match key {
        Yv::Null => Some(KeyId::Null),
        Yv::Bool(b) => Some(KeyId::Bool(*b)),
        Yv::Int(i) => Some(KeyId::Int(*i)),
        Yv::Uint(u) => Some(KeyId::Uint(*u)),
        Yv::Float(f) if f.is_nan() => None,
        Yv::Float(f) => Some(KeyId::Float(if *f == 0.0 { 0 } else { f.to_bits() })),
        Yv::Str(s) => Some(KeyId::Str(s.clone())),
        Yv::Seq(_) | Yv::Map(_) => None,
    }
}

impl Entries {
    fn set(&mut self, key: Yv, value: Yv) {
        if self.index.is_none() {
            if let Some(slot) = self.items.iter_mut().find(|(k, _)| same_key(k, &key)) {
                slot.1 = value;
                return;
            }
            self.items.push((key, value));
            if self.items.len() > LINEAR_KEYS {
                let mut index = HashMap::new();
                for (i, (k, _)) in self.items.iter().enumerate() {
                    if let Some(id) = key_id(k) {
                        index.insert(id, i);
                    }
                }
                self.index = Some(index);
            }
            return;
        }
        let index = self.index.get_or_insert_with(HashMap::new);
        if let Some(id) = key_id(&key) {
            if let Some(&i) = index.get(&id) {
                self.items[i].1 = value;
                return;
            }
            index.insert(id, self.items.len());
        }
        self.items.push((key, value));
    }
}

/// Go's `%#v` of a decoded value (for error messages).
fn go_sharp_v(v: &Yv) -> String {
    match v {
        Yv::Null => "interface {}(nil)".into(),
        Yv::Bool(b) => b.to_string(),
        Yv::Int(i) => i.to_string(),
        Yv::Uint(u) => format!("0x{u:x}"),
        Yv::Float(f) => format_g(*f, false),
        Yv::Str(s) => go_quote(s),
        Yv::Seq(items) => {
            let inner: Vec<String> = items.iter().map(go_sharp_v).collect();
            format!("[]interface {{}}{{{}}}", inner.join(", "))
        }
        Yv::Map(entries) => {
            let mut inner: Vec<(String, String)> = entries
                .iter()
                .map(|(k, v)| (go_sharp_v(k), go_sharp_v(v)))
                .collect();
            inner.sort();
            let inner: Vec<String> = inner.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("map[interface {{}}]interface {{}}{{{}}}", inner.join(", "))
        }
    }
}

/// Go's `%+#v` of a value, and its `%s` type, as sigs.k8s.io/yaml prints them.
fn go_type_name(v: &Yv) -> &'static str {
    match v {
        // Go's %s of a nil reflect.Type.
        Yv::Null => "%!s(<nil>)",
        Yv::Bool(_) => "bool",
        Yv::Int(_) => "int",
        Yv::Uint(_) => "uint64",
        Yv::Float(_) => "float64",
        Yv::Str(_) => "string",
        Yv::Seq(_) => "[]interface {}",
        Yv::Map(_) => "map[interface {}]interface {}",
    }
}

/// Reads the first document of `text` as Go's YAML library reads it into an
/// `interface{}`, as sigs.k8s.io/yaml does before it turns the value into JSON: `Ok(None)`
/// for an empty stream; the error is Go's message (`yaml: line 2: ...`).
pub(crate) fn decode_first(text: &str) -> Result<Option<Yv>, String> {
    decode_document(text).map_err(|e| e.message())
}

/// Whether Go's YAML reader accepts the character in a document.
fn yaml_printable(c: char) -> bool {
    let u = c as u32;
    matches!(u, 0x09 | 0x0A | 0x0D | 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Reads the first document of `text` as Go's YAML library reads it into an
/// `interface{}`: `Ok(None)` for an empty stream.
fn decode_document(text: &str) -> Read<Option<Yv>> {
    // Printable ASCII, tabs and line breaks need no closer look.
    let plain_ascii = text
        .bytes()
        .all(|b| matches!(b, 0x09 | 0x0A | 0x0D | 0x20..=0x7E));
    if !plain_ascii && !text.chars().all(yaml_printable) {
        return Err(ReadError::Syntax(SyntaxError {
            stage: Stage::Reader,
            context_mark: Mark::default(),
            problem: "control characters are not allowed".into(),
            problem_mark: Mark::default(),
        }));
    }
    let text = if text.is_empty() { "\n" } else { text };
    let composer = |text: &str| Composer {
        parser: Parser::new(text),
        peeked: None,
        nodes: Vec::new(),
        anchors: HashMap::new(),
    };
    if let Quick::Done(doc) = composer(text).quick_document()? {
        return Ok(doc);
    }
    let mut composer = composer(text);
    let Some(doc) = composer.document()? else {
        return Ok(None);
    };
    let mut decoder = Decoder {
        nodes: &composer.nodes,
        active_aliases: Vec::new(),
        decode_count: 0,
        alias_count: 0,
        alias_depth: 0,
    };
    decoder.value(doc).map(Some).map_err(ReadError::Other)
}

// ---------------------------------------------------------------------------------------
// YAML to JSON to Go values, as sigs.k8s.io/yaml does
// ---------------------------------------------------------------------------------------

/// A decoded value with its keys made strings, as sigs.k8s.io/yaml makes them before it
/// writes JSON.
enum Jv {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Jv>),
    Map(BTreeMap<String, Jv>),
}

fn key_string(key: &Yv, value: &Yv) -> Result<String, String> {
    Ok(match key {
        Yv::Str(s) => s.clone(),
        Yv::Int(i) => i.to_string(),
        Yv::Float(f) => {
            if f.is_nan() {
                ".nan".into()
            } else if *f == f64::INFINITY {
                ".inf".into()
            } else if *f == f64::NEG_INFINITY {
                "-.inf".into()
            } else {
                format_g(*f, true)
            }
        }
        Yv::Bool(b) => b.to_string(),
        other => {
            let key_text = match other {
                Yv::Null => "<nil>".to_string(),
                k => go_sharp_v(k),
            };
            let value_text = match value {
                Yv::Null => "<nil>".to_string(),
                v => go_sharp_v(v),
            };
            return Err(format!(
                "unsupported map key of type: {}, key: {key_text}, value: {value_text}",
                go_type_name(other)
            ));
        }
    })
}

fn to_jsonable(v: Yv) -> Result<Jv, String> {
    Ok(match v {
        Yv::Null => Jv::Null,
        Yv::Bool(b) => Jv::Bool(b),
        Yv::Int(i) => Jv::Int(i),
        Yv::Uint(u) => Jv::Uint(u),
        Yv::Float(f) => Jv::Float(f),
        Yv::Str(s) => Jv::Str(s),
        Yv::Seq(items) => Jv::Seq(
            items
                .into_iter()
                .map(to_jsonable)
                .collect::<Result<_, _>>()?,
        ),
        Yv::Map(entries) => {
            let mut map = BTreeMap::new();
            for (k, v) in entries {
                let key = key_string(&k, &v)?;
                map.insert(key, to_jsonable(v)?);
            }
            Jv::Map(map)
        }
    })
}

/// The Go value encoding/json gives back for the JSON of `v`: numbers become floats.
fn to_value(v: Jv) -> Result<Value, String> {
    Ok(match v {
        Jv::Null => Value::Nil,
        Jv::Bool(b) => Value::Bool(b),
        Jv::Int(i) => Value::Float(i as f64),
        Jv::Uint(u) => Value::Float(u as f64),
        Jv::Float(f) => {
            json_float(f).map_err(|e| e.0)?;
            Value::Float(f)
        }
        Jv::Str(s) => Value::from(s),
        Jv::Seq(items) => Value::list(items.into_iter().map(to_value).collect::<Result<_, _>>()?),
        Jv::Map(map) => {
            let mut out = BTreeMap::new();
            for (k, v) in map {
                out.insert(k, to_value(v)?);
            }
            Value::map(out)
        }
    })
}

/// `to_value(to_jsonable(v))` in one step, for a value where neither can fail; `None`
/// when a key cannot be written as a JSON key or a float cannot be written as JSON (the
/// two steps then find the error Go reports).
fn direct_value(v: &Yv) -> Option<Value> {
    Some(match v {
        Yv::Null => Value::Nil,
        Yv::Bool(b) => Value::Bool(*b),
        Yv::Int(i) => Value::Float(*i as f64),
        Yv::Uint(u) => Value::Float(*u as f64),
        Yv::Float(f) if f.is_finite() => Value::Float(*f),
        Yv::Float(_) => return None,
        Yv::Str(s) => Value::str(s),
        Yv::Seq(items) => Value::list(items.iter().map(direct_value).collect::<Option<_>>()?),
        Yv::Map(entries) => {
            let mut map = BTreeMap::new();
            for (k, v) in entries {
                let key = match k {
                    Yv::Str(s) => s.clone(),
                    _ => key_string(k, v).ok()?,
                };
                map.insert(key, direct_value(v)?);
            }
            Value::map(map)
        }
    })
}

/// What Go type a document is read into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Into {
    Any,
    Map,
    List,
}

/// `sigs.k8s.io/yaml.Unmarshal(text, &target)`: `Ok(Value::Nil)` when the document is
/// empty or `null` (Go then leaves a nil map or slice).
fn sigs_unmarshal(text: &str, into: Into) -> Result<Value, String> {
    let converted = decode_document(text)
        .map_err(|e| e.message())
        .and_then(|doc| {
            let doc = doc.unwrap_or(Yv::Null);
            match direct_value(&doc) {
                Some(v) => Ok(v),
                None => to_jsonable(doc).and_then(to_value),
            }
        })
        .map_err(|e| format!("error converting YAML to JSON: {e}"))?;
    let kind = match &converted {
        Value::Nil => return Ok(Value::Nil),
        Value::Map(_) => "object",
        Value::List(_) => "array",
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        _ => "number",
    };
    let (fits, go_type) = match into {
        Into::Any => (true, ""),
        Into::Map => (kind == "object", "map[string]interface {}"),
        Into::List => (kind == "array", "[]interface {}"),
    };
    if !fits {
        return Err(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {kind} into Go value of type {go_type}"
        ));
    }
    Ok(converted)
}

/// A values file as Helm reads one YAML document into `map[string]interface{}`
/// (sigs.k8s.io/yaml): numbers are floats, keys strings, anchors and merge keys resolved.
/// An empty document, or `null`, gives an empty map; a document that is not a map fails
/// with Go's words. Only the first document of a stream is read: see [`load_values`] for
/// files that hold several.
pub fn parse_values(text: &str) -> Result<Value, YamlError> {
    match sigs_unmarshal(text, Into::Map) {
        Ok(Value::Nil) => Ok(Value::empty_map()),
        Ok(v) => Ok(v),
        Err(e) => Err(YamlError(e)),
    }
}

/// Any YAML document as sigs.k8s.io/yaml reads it into an `interface{}`: a map, a list, a
/// string, a float, a bool or nil.
pub fn unmarshal(text: &str) -> Result<Value, YamlError> {
    sigs_unmarshal(text, Into::Any).map_err(YamlError)
}

/// A values file as Helm's chart loader reads `values.yaml` and `-f` files: the stream is
/// cut into documents at `---` lines, each document is read as [`parse_values`] reads it,
/// and the maps are merged, later documents winning (maps merged key by key).
pub fn load_values(text: &str) -> Result<Value, YamlError> {
    let mut merged: Option<Value> = None;
    for doc in split_documents(text)? {
        let current = sigs_unmarshal(&doc, Into::Map)
            .map_err(|e| YamlError(format!("cannot unmarshal yaml document: {e}")))?;
        if let Value::Map(_) = current {
            merged = Some(match merged {
                // The first map is taken as it is (merging it into an empty map would copy
                // it entry by entry).
                None => current,
                Some(m) => merge_maps(&m, &current),
            });
        }
    }
    Ok(merged.unwrap_or_else(Value::empty_map))
}

/// Cuts a stream into documents as Kubernetes' YAML reader does for Helm: a line that
/// starts with `---` ends a document (only spaces or a comment may follow on it); line
/// ends become `\n`.
fn split_documents(text: &str) -> Result<Vec<String>, YamlError> {
    let mut docs = Vec::new();
    let mut buffer = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (line, next) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        rest = next;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(after) = line.strip_prefix("---") {
            let trimmed = after.trim_matches(|c: char| c.is_whitespace());
            if !trimmed.is_empty() && !trimmed.starts_with('#') {
                return Err(YamlError(format!(
                    "error reading yaml document: invalid Yaml document separator: {trimmed}"
                )));
            }
            if !buffer.is_empty() {
                docs.push(std::mem::take(&mut buffer));
            }
            continue;
        }
        buffer.push_str(line);
        buffer.push('\n');
    }
    if !buffer.is_empty() {
        docs.push(buffer);
    }
    Ok(docs)
}

/// Helm's `MergeMaps`: `b` over `a`, maps merged recursively.
fn merge_maps(a: &Value, b: &Value) -> Value {
    let (Value::Map(a), Value::Map(b)) = (a, b) else {
        return b.clone();
    };
    let mut out = a.borrow().clone();
    for (k, v) in b.borrow().iter() {
        if let (Value::Map(_), Some(existing @ Value::Map(_))) = (v, out.get(k)) {
            let merged = merge_maps(existing, v);
            out.insert(k.clone(), merged);
            continue;
        }
        out.insert(k.clone(), v.clone());
    }
    Value::map(out)
}

/// `fromYaml`: the document as a map, as Helm reads it; when Go fails, a map holding
/// Go's error text under `Error`. An empty or `null` document gives an empty map (Go's
/// is nil, which prints the same but which `toJson` writes as `null`).
pub fn from_yaml(text: &str) -> Value {
    match sigs_unmarshal(text, Into::Map) {
        Ok(Value::Nil) => Value::empty_map(),
        Ok(v) => v,
        Err(e) => {
            let mut m = BTreeMap::new();
            m.insert("Error".to_string(), Value::from(e));
            Value::map(m)
        }
    }
}

/// `fromYamlArray`: the document as a list; when Go fails, a list whose only item is Go's
/// error text. An empty or `null` document gives an empty list (Go's is nil, which
/// `toJson` writes as `null`).
pub fn from_yaml_array(text: &str) -> Value {
    match sigs_unmarshal(text, Into::List) {
        Ok(Value::Nil) => Value::list(Vec::new()),
        Ok(v) => v,
        Err(e) => Value::list(vec![Value::from(e)]),
    }
}

// ---------------------------------------------------------------------------------------
// Writing YAML
// ---------------------------------------------------------------------------------------

/// A node ready to write: scalars carry the style the encoder asks for (the emitter may
/// still choose another).
enum Out {
    Scalar(String, Style),
    Seq(Vec<Out>),
    Map(Vec<(Out, Out)>),
}

fn is_base60_float(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let b = s.as_bytes();
    let Some(&c) = b.first() else { return false };
    if !(c == b'+' || c == b'-' || c.is_ascii_digit()) || !s.contains(':') {
        return false;
    }
    let mut i = 0;
    if b[i] == b'+' || b[i] == b'-' {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        // [0-5]?[0-9]
        if i + 1 < b.len() && (b'0'..=b'5').contains(&b[i]) && b[i + 1].is_ascii_digit() {
            i += 2;
        } else if i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        } else {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// The style Go's encoders ask for a string: a literal block when it has a line break,
/// plain when YAML would read it back as the same string, double quotes otherwise.
fn string_out(s: &str) -> Out {
    let style = if s.contains('\n') {
        Style::Literal
    } else if resolve_plain(s).0 == Kind::Str && !is_base60_float(s) {
        Style::Plain
    } else {
        Style::DoubleQuoted
    };
    Out::Scalar(s.to_string(), style)
}

fn plain(s: String) -> Out {
    Out::Scalar(s, Style::Plain)
}

fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f == f64::INFINITY {
        ".inf".into()
    } else if f == f64::NEG_INFINITY {
        "-.inf".into()
    } else {
        format_g(f, false)
    }
}

fn is_go_letter(c: char) -> bool {
    c.is_alphabetic()
}

fn is_go_digit(c: char) -> bool {
    if (c as u32) <= 0xFF {
        c.is_ascii_digit()
    } else {
        c.is_numeric()
    }
}

/// The order Go's YAML encoders write map keys in: numbers inside keys compare by value
/// (`a2` before `a10`), letters before other characters. `newer` is the newer library's
/// variant, which puts letters after digits that follow digits.
fn key_less(a: &str, b: &str, newer: bool) -> bool {
    if a.is_ascii() && b.is_ascii() {
        key_less_in(a.as_bytes(), b.as_bytes(), newer, |c| char::from(*c))
    } else {
        let ar: Vec<char> = a.chars().collect();
        let br: Vec<char> = b.chars().collect();
        key_less_in(&ar, &br, newer, |c| *c)
    }
}

fn key_less_in<T: PartialEq + Copy>(
    ar: &[T],
    br: &[T],
    newer: bool,
    ch: impl Fn(&T) -> char,
) -> bool {
    let mut digits = false;
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        let (a, b) = (ch(&ar[i]), ch(&br[i]));
        if a == b {
            digits = is_go_digit(a);
            i += 1;
            continue;
        }
        let al = is_go_letter(a);
        let bl = is_go_letter(b);
        if al && bl {
            return a < b;
        }
        if al || bl {
            if newer && digits {
                return al;
            }
            return bl;
        }
        let mut an: i64 = 0;
        let mut bn: i64 = 0;
        if a == '0' || b == '0' {
            let mut j = i;
            while j > 0 && is_go_digit(ch(&ar[j - 1])) {
                j -= 1;
                if ch(&ar[j]) != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && is_go_digit(ch(&ar[ai])) {
            an = an
                .wrapping_mul(10)
                .wrapping_add(ch(&ar[ai]) as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && is_go_digit(ch(&br[bi])) {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(ch(&br[bi]) as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return a < b;
    }
    ar.len() < br.len()
}

/// A stable merge sort that only needs `less` (Go's key order is not always a total
/// order, which Rust's own sorts may refuse).
fn sort_keys(keys: &mut Vec<String>, newer: bool) {
    let order = key_order(&keys.iter().map(String::as_str).collect::<Vec<_>>(), newer);
    let sorted: Vec<String> = order
        .into_iter()
        .map(|i| std::mem::take(&mut keys[i]))
        .collect();
    *keys = sorted;
}

/// The positions of `keys` in the order Go's YAML encoders write them.
fn key_order(keys: &[&str], newer: bool) -> Vec<usize> {
    fn merge_sort(v: &mut [usize], tmp: &mut [usize], less: &impl Fn(usize, usize) -> bool) {
        let n = v.len();
        if n < 2 {
            return;
        }
        let mid = n / 2;
        merge_sort(&mut v[..mid], &mut tmp[..mid], less);
        merge_sort(&mut v[mid..], &mut tmp[mid..], less);
        let (mut i, mut j) = (0, mid);
        for slot in tmp.iter_mut().take(n) {
            if j < n && (i >= mid || less(v[j], v[i])) {
                *slot = v[j];
                j += 1;
            } else {
                *slot = v[i];
                i += 1;
            }
        }
        v.copy_from_slice(&tmp[..n]);
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    let mut tmp = vec![0; keys.len()];
    merge_sort(&mut order, &mut tmp, &|a, b| {
        key_less(keys[a], keys[b], newer)
    });
    order
}

/// Whether writing `v` as JSON and reading that back as YAML could do more than give the
/// same values back: a JSON string keeps NEL (a YAML line break, folded to a space) and
/// the control characters YAML refuses, and YAML gives up on very long keys. Those values
/// take the exact route through both texts.
fn needs_exact_route(v: &Value) -> bool {
    let risky = |s: &str| {
        !s.bytes().all(|b| b < 0x7F)
            && s.chars()
                .any(|c| matches!(c as u32, 0x7F..=0x9F | 0xFFFE | 0xFFFF))
    };
    match v {
        Value::String(s) => risky(s),
        Value::List(items) => items.iter().any(needs_exact_route),
        Value::Map(m) => m
            .borrow()
            .iter()
            .any(|(k, v)| risky(k) || k.len() > 1000 || needs_exact_route(v)),
        _ => false,
    }
}

/// A decoded YAML value (read from JSON text) as the encoder hands it to the emitter.
fn decoded_out(v: Yv) -> Out {
    match v {
        Yv::Null => plain("null".into()),
        Yv::Bool(b) => plain(b.to_string()),
        Yv::Int(i) => plain(i.to_string()),
        Yv::Uint(u) => plain(u.to_string()),
        Yv::Float(f) => plain(yaml_float(f)),
        Yv::Str(s) => string_out(&s),
        Yv::Seq(items) => Out::Seq(items.into_iter().map(decoded_out).collect()),
        Yv::Map(entries) => {
            let mut by_key: BTreeMap<String, Yv> = BTreeMap::new();
            for (k, v) in entries {
                let key = match k {
                    Yv::Str(s) => s,
                    other => match decoded_out(other) {
                        Out::Scalar(s, _) => s,
                        _ => String::new(),
                    },
                };
                by_key.insert(key, v);
            }
            let mut keys: Vec<String> = by_key.keys().cloned().collect();
            sort_keys(&mut keys, false);
            Out::Map(
                keys.into_iter()
                    .map(|k| {
                        let v = by_key.remove(&k).unwrap_or(Yv::Null);
                        (string_out(&k), decoded_out(v))
                    })
                    .collect(),
            )
        }
    }
}

/// The value as `toYaml` sees it after its trip through JSON (for values that JSON and
/// YAML carry unchanged).
fn via_json(v: &Value) -> Out {
    match v {
        Value::Nil | Value::Object(_) => plain("null".into()),
        Value::Bool(b) => plain(b.to_string()),
        Value::Int(i) => plain(i.to_string()),
        Value::Float(f) => {
            let text = json_float(*f).unwrap_or_default();
            match resolve_plain(&text).1 {
                Some(Yv::Int(i)) => plain(i.to_string()),
                Some(Yv::Uint(u)) => plain(u.to_string()),
                Some(Yv::Float(f)) => plain(yaml_float(f)),
                _ => plain(text),
            }
        }
        Value::String(s) => string_out(s),
        Value::Bytes(b) => string_out(&base64::engine::general_purpose::STANDARD.encode(b)),
        Value::List(items) => Out::Seq(items.iter().map(via_json).collect()),
        Value::Map(m) => {
            let m = m.borrow();
            let entries: Vec<(&String, &Value)> = m.iter().collect();
            let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
            Out::Map(
                key_order(&keys, false)
                    .into_iter()
                    .map(|i| (string_out(entries[i].0), via_json(entries[i].1)))
                    .collect(),
            )
        }
    }
}

/// The value as `toYamlPretty` writes it: directly, with no trip through JSON.
fn direct(v: &Value) -> Result<Out, String> {
    Ok(match v {
        Value::Nil => plain("null".into()),
        Value::Bool(b) => plain(b.to_string()),
        Value::Int(i) => plain(i.to_string()),
        Value::Float(f) => plain(yaml_float(*f)),
        Value::String(s) => string_out(s),
        Value::Bytes(b) => Out::Seq(b.iter().map(|x| plain(x.to_string())).collect()),
        Value::List(items) => Out::Seq(items.iter().map(direct).collect::<Result<_, _>>()?),
        Value::Map(m) => {
            let m = m.borrow();
            let mut keys: Vec<String> = m.keys().cloned().collect();
            sort_keys(&mut keys, true);
            let mut entries = Vec::with_capacity(keys.len());
            for k in keys {
                let value = direct(&m[&k])?;
                entries.push((string_out(&k), value));
            }
            Out::Map(entries)
        }
        Value::Object(o) => {
            return Err(format!("cannot marshal type: {}", o.type_name()));
        }
    })
}

/// `toYaml`: the value as Helm writes it (JSON first, then YAML), without the final line
/// break. Helm's `toYaml` prints nothing when this fails; `mustToYaml` fails with the
/// error.
pub fn to_yaml(value: &Value) -> Result<String, YamlError> {
    let json_error = |e| YamlError(format!("error marshaling into JSON: {e}"));
    crate::json::check_json(value).map_err(json_error)?;
    let out = if needs_exact_route(value) {
        let json = crate::json::to_json(value).map_err(json_error)?;
        match decode_document(&json) {
            Ok(doc) => decoded_out(doc.unwrap_or(Yv::Null)),
            Err(e) => return Err(YamlError(e.message())),
        }
    } else {
        via_json(value)
    };
    let mut e = Emitter::new(false);
    e.document(&out);
    let text = e.out;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

/// `toYamlPretty`: the value written directly with two-space indents and indented lists,
/// without the final line break. Helm prints nothing when this fails.
pub fn to_yaml_pretty(value: &Value) -> Result<String, YamlError> {
    let out = direct(value).map_err(YamlError)?;
    let mut e = Emitter::new(true);
    e.document(&out);
    let text = e.out;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

#[derive(Debug, Clone, Copy, Default)]
struct Analysis {
    multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// Go's YAML `is_printable`: what may appear unescaped in a double-quoted scalar. Tabs,
/// carriage returns, NEL, the byte-order mark and everything past U+FFFF are not.
fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFF).contains(&u) && u != 0xFEFF && u != 0xFFFE && u != 0xFFFF)
}

/// Writes YAML as Go's YAML emitters do (the older library when `!newer`, as `toYaml`
/// uses it; the newer one for `toYamlPretty`).
struct Emitter {
    out: String,
    newer: bool,
    best_indent: isize,
    best_width: usize,
    indent: isize,
    indents: Vec<isize>,
    flow_level: usize,
    column: usize,
    whitespace: bool,
    indention: bool,
    mapping_context: bool,
    simple_key_context: bool,
}

impl Emitter {
    fn new(newer: bool) -> Emitter {
        Emitter {
            out: String::new(),
            newer,
            best_indent: 2,
            best_width: if newer { usize::MAX } else { 80 },
            indent: -1,
            indents: Vec::new(),
            flow_level: 0,
            column: 0,
            whitespace: true,
            indention: true,
            mapping_context: false,
            simple_key_context: false,
        }
    }

    fn document(&mut self, node: &Out) {
        self.node(node, false, false);
        self.write_indent();
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        if self.newer {
            self.indention = true;
        }
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.put(c);
            self.column = 0;
            if self.newer {
                self.indention = true;
            }
        }
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { self.best_indent } else { 0 };
        } else if !indentless {
            self.indent += self.best_indent;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn node(&mut self, node: &Out, mapping: bool, simple_key: bool) {
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        match node {
            Out::Scalar(text, style) => self.scalar(text, *style),
            Out::Seq(items) => {
                if self.flow_level > 0 || items.is_empty() {
                    self.flow_collection("[", "]", items.len(), |e, i| {
                        e.node(&items[i], false, false)
                    });
                } else {
                    self.block_sequence(items);
                }
            }
            Out::Map(entries) => {
                if self.flow_level > 0 || entries.is_empty() {
                    self.flow_collection("{", "}", entries.len(), |e, i| {
                        let (k, v) = &entries[i];
                        e.node(k, true, true);
                        e.write_indicator(":", false, false, false);
                        e.node(v, true, false);
                    });
                } else {
                    self.block_mapping(entries);
                }
            }
        }
    }

    fn flow_collection(
        &mut self,
        open: &str,
        close: &str,
        len: usize,
        mut item: impl FnMut(&mut Emitter, usize),
    ) {
        self.write_indicator(open, true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        for i in 0..len {
            if i > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.newer && self.column == 0 {
                self.write_indent();
            }
            if self.column > self.best_width {
                self.write_indent();
            }
            item(self, i);
        }
        self.flow_level -= 1;
        self.pop_indent();
        if self.newer && self.column == 0 {
            self.write_indent();
        }
        self.write_indicator(close, false, false, false);
    }

    fn block_sequence(&mut self, items: &[Out]) {
        let indentless = !self.newer && self.mapping_context && !self.indention;
        self.increase_indent(false, indentless);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, false, false);
        }
        self.pop_indent();
    }

    fn block_mapping(&mut self, entries: &[(Out, Out)]) {
        self.increase_indent(false, false);
        for (k, v) in entries {
            self.write_indent();
            let simple = match k {
                Out::Scalar(text, _) => !analyze(text, self.newer).multiline && text.len() <= 128,
                Out::Seq(items) => items.is_empty(),
                Out::Map(entries) => entries.is_empty(),
            };
            if simple {
                self.node(k, true, true);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.node(k, true, false);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(v, true, false);
        }
        self.pop_indent();
    }

    fn scalar(&mut self, text: &str, requested: Style) {
        let a = analyze(text, self.newer);
        let mut style = requested;
        if self.simple_key_context && a.multiline {
            style = Style::DoubleQuoted;
        }
        if style == Style::Plain {
            if (self.flow_level > 0 && !a.flow_plain_allowed)
                || (self.flow_level == 0 && !a.block_plain_allowed)
            {
                style = Style::SingleQuoted;
            }
            if text.is_empty() && (self.flow_level > 0 || self.simple_key_context) {
                style = Style::SingleQuoted;
            }
        }
        if style == Style::SingleQuoted && !a.single_quoted_allowed {
            style = Style::DoubleQuoted;
        }
        if matches!(style, Style::Literal | Style::Folded)
            && (!a.block_allowed || self.flow_level > 0 || self.simple_key_context)
        {
            style = Style::DoubleQuoted;
        }
        self.increase_indent(true, false);
        let allow_breaks = !self.simple_key_context;
        match style {
            Style::Plain => self.write_plain(text, allow_breaks),
            Style::SingleQuoted => self.write_single_quoted(text, allow_breaks),
            Style::DoubleQuoted => self.write_double_quoted(text, allow_breaks),
            Style::Literal | Style::Folded => self.write_literal(text),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, text: &str, allow_breaks: bool) {
        if (!self.newer || !text.is_empty()) && !self.whitespace {
            self.put(' ');
        }
        if !text.contains([' ', '\r', '\n', '\u{85}', '\u{2028}', '\u{2029}']) {
            // No place to fold or break: the text goes as it is.
            self.out.push_str(text);
            self.column += text.chars().count();
        } else {
            self.write_plain_folded(text, allow_breaks);
        }
        if !self.newer || !text.is_empty() {
            self.whitespace = false;
        }
        self.indention = false;
    }

    /// The characters of a plain scalar, folding long lines at spaces.
    fn write_plain_folded(&mut self, text: &str, allow_breaks: bool) {
        let mut spaces = false;
        let mut breaks = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > self.best_width
                    && chars.peek() != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
    }

    fn write_single_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > self.best_width
                    && i > 0
                    && i + 1 < chars.len()
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let bom = text.starts_with('\u{feff}');
        let mut spaces = false;
        let mut chars = text.chars().peekable();
        let mut i = 0;
        while let Some(c) = chars.next() {
            let next = chars.peek().copied();
            i += 1;
            if !is_printable(c) || bom || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let u = c as u32;
                let simple = match u {
                    0x00 => Some('0'),
                    0x07 => Some('a'),
                    0x08 => Some('b'),
                    0x09 => Some('t'),
                    0x0A => Some('n'),
                    0x0B => Some('v'),
                    0x0C => Some('f'),
                    0x0D => Some('r'),
                    0x1B => Some('e'),
                    0x22 => Some('"'),
                    0x5C => Some('\\'),
                    0x85 => Some('N'),
                    0xA0 => Some('_'),
                    0x2028 => Some('L'),
                    0x2029 => Some('P'),
                    _ => None,
                };
                match simple {
                    Some(s) => self.put(s),
                    None => {
                        let (letter, width) = if u <= 0xFF {
                            ('x', 2)
                        } else if u <= 0xFFFF {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(letter);
                        for ch in format!("{u:0width$X}").chars() {
                            self.put(ch);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > self.best_width
                    && i > 1
                    && next.is_some()
                {
                    self.write_indent();
                    if next == Some(' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, text: &str) {
        self.write_indicator("|", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        if let Some(&first) = chars.first()
            && (first == ' ' || is_break(first))
        {
            let hint = char::from(b'0' + self.best_indent as u8);
            self.write_indicator(&hint.to_string(), false, false, false);
        }
        let chomp = match chars.len() {
            0 => Some('-'),
            n if !is_break(chars[n - 1]) => Some('-'),
            1 => Some('+'),
            n if is_break(chars[n - 2]) => Some('+'),
            _ => None,
        };
        if let Some(c) = chomp {
            self.write_indicator(&c.to_string(), false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in &chars {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// What styles a scalar may be written in, as Go's YAML emitter decides it.
fn analyze(text: &str, newer: bool) -> Analysis {
    // Words, names, paths and versions (no indicator, no space at either end, nothing
    // unprintable) allow every style: the checks below would find nothing.
    let b = text.as_bytes();
    if let (Some(first), Some(last)) = (b.first(), b.last())
        && (first.is_ascii_alphanumeric() || *first == b'_')
        && *last != b' '
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/' | b' '))
    {
        return Analysis {
            multiline: false,
            flow_plain_allowed: true,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: true,
        };
    }
    if text.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = false;
    let mut flow_indicators = false;
    let mut line_breaks = false;
    let mut special_characters = false;
    let mut tab_characters = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut previous_space = false;
    let mut previous_break = false;
    if text.starts_with("---") || text.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_whitespace = true;
    let mut chars = text.chars().peekable();
    let mut i = 0;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let last = next.is_none();
        let followed_by_whitespace = next.is_none_or(is_blank);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '-' if followed_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '#' if preceded_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        if newer && c == '\t' {
            tab_characters = true;
        } else if !is_printable(c) {
            special_characters = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blankz(c);
        i += 1;
    }
    let mut a = Analysis {
        multiline: line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || tab_characters || special_characters {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        a.block_allowed = false;
    }
    if line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if flow_indicators {
        a.flow_plain_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}
