//! JSON as Helm's templates read and write it: `toJson` writes what Go's `encoding/json`
//! writes for the value (sorted keys, `<`, `>` and `&` escaped, floats in Go's shortest
//! form), and `fromJson`/`fromJsonArray` read a document the way `json.Unmarshal` reads it
//! into a `map[string]interface{}` or an `[]interface{}`: every number is a float, and a
//! document that does not fit comes back with Go's error text inside the result.
//!
//! Also holds the number formatting and quoting several formats share: Go's shortest float
//! forms (`%g`, `%e`, `%f`), `strconv.Quote`, and Go's number parsing rules.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use slipway_template::Value;

/// An error from encoding or decoding JSON, worded as Go's `encoding/json` words it
/// (`json: unsupported value: NaN`, `invalid character 'x' looking for beginning of
/// value`, `unexpected end of JSON input`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

/// `toJson`: the value as Go's `json.Marshal` writes it. Fails as Go does on NaN and the
/// infinities, and on values JSON cannot hold (a Go struct: slipway cannot list its
/// fields).
pub fn to_json(value: &Value) -> Result<String, JsonError> {
    let mut out = String::new();
    encode(&mut out, value)?;
    Ok(out)
}

/// Fails as [`to_json`] fails on `value`, without writing the text.
pub(crate) fn check_json(value: &Value) -> Result<(), JsonError> {
    match value {
        Value::Float(f) if !f.is_finite() => json_float(*f).map(drop),
        Value::List(items) => items.iter().try_for_each(check_json),
        Value::Map(map) => map.borrow().values().try_for_each(check_json),
        Value::Object(o) => Err(JsonError(format!(
            "json: unsupported type: {}",
            o.type_name()
        ))),
        _ => Ok(()),
    }
}

fn encode(out: &mut String, value: &Value) -> Result<(), JsonError> {
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::String(s) => encode_string(out, s),
        Value::Bytes(b) => {
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push('"');
        }
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode(out, item)?;
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push('{');
            for (i, (k, v)) in map.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode_string(out, k);
                out.push(':');
                encode(out, v)?;
            }
            out.push('}');
        }
        Value::Object(o) => {
            return Err(JsonError(format!(
                "json: unsupported type: {}",
                o.type_name()
            )));
        }
    }
    Ok(())
}

/// A string in double quotes with Go's escapes: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`,
/// `\u00XX` for the other control bytes and for `<`, `>`, `&`, and `\u2028`/`\u2029`.
pub fn encode_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Runs of characters written as they are go in whole.
    let plain =
        |c: char| !matches!(c, '"' | '\\' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}') && c >= ' ';
    let mut rest = s;
    while let Some(i) = rest.find(|c: char| !plain(c)) {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().unwrap_or_default();
        rest = &rest[i + c.len_utf8()..];
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push_str(rest);
    out.push('"');
}

/// A float as `encoding/json` writes it: Go's shortest `%f` form, or its `%e` form (with
/// `e-07` shortened to `e-7`) below 1e-6 and from 1e21 on.
pub(crate) fn json_float(f: f64) -> Result<String, JsonError> {
    if !f.is_finite() {
        return Err(JsonError(format!(
            "json: unsupported value: {}",
            format_g(f, false)
        )));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let mut s = format_e(f, false);
        let n = s.len();
        if n >= 4 && &s[n - 4..n - 1] == "e-0" {
            s.remove(n - 2);
        }
        Ok(s)
    } else {
        Ok(format_f(f, false))
    }
}

/// The shortest decimal digits that read back as `f` (as an `f32` when `bits32`), and where
/// the decimal point goes: the value is `0.DIGITS × 10^point`. Zero has no digits.
struct Digits {
    negative: bool,
    digits: Vec<u8>,
    point: i32,
}

fn shortest(f: f64, bits32: bool) -> Digits {
    let negative = f.is_sign_negative();
    let text = if bits32 {
        format!("{:e}", (f as f32).abs())
    } else {
        format!("{:e}", f.abs())
    };
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let digits: Vec<u8> = mantissa.bytes().filter(|b| *b != b'.').collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if digits.iter().all(|d| *d == b'0') {
        return Digits {
            negative,
            digits: Vec::new(),
            point: 0,
        };
    }
    Digits {
        negative,
        digits,
        point: exponent + 1,
    }
}

fn special(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f == f64::INFINITY {
        Some("+Inf")
    } else if f == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 64)` (or `32`): `1e+06`, `123456`, `1.5e-07`, `NaN`,
/// `+Inf`.
pub(crate) fn format_g(f: f64, bits32: bool) -> String {
    if let Some(s) = special(f) {
        return s.to_string();
    }
    let d = shortest(f, bits32);
    let exp = d.point - 1;
    if !d.digits.is_empty() && !(-4..6).contains(&exp) {
        exponential(&d)
    } else {
        fixed(&d)
    }
}

/// `strconv.FormatFloat(f, 'e', -1, 64)`.
pub(crate) fn format_e(f: f64, bits32: bool) -> String {
    if let Some(s) = special(f) {
        return s.to_string();
    }
    exponential(&shortest(f, bits32))
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`.
pub(crate) fn format_f(f: f64, bits32: bool) -> String {
    if let Some(s) = special(f) {
        return s.to_string();
    }
    fixed(&shortest(f, bits32))
}

fn exponential(d: &Digits) -> String {
    let mut out = String::new();
    if d.negative {
        out.push('-');
    }
    out.push(d.digits.first().map_or('0', |c| *c as char));
    if d.digits.len() > 1 {
        out.push('.');
        out.extend(d.digits[1..].iter().map(|c| *c as char));
    }
    out.push('e');
    let exp = if d.digits.is_empty() { 0 } else { d.point - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
    out
}

fn fixed(d: &Digits) -> String {
    let mut out = String::new();
    if d.negative {
        out.push('-');
    }
    let digit = |i: i32| -> char {
        if i >= 0 && (i as usize) < d.digits.len() {
            d.digits[i as usize] as char
        } else {
            '0'
        }
    };
    if d.point > 0 {
        for i in 0..d.point {
            out.push(digit(i));
        }
    } else {
        out.push('0');
    }
    let decimals = (d.digits.len() as i32 - d.point).max(0);
    if decimals > 0 {
        out.push('.');
        for i in 1..=decimals {
            out.push(digit(d.point + i - 1));
        }
    }
    out
}

/// `strconv.Quote`: Go's double-quoted form, with Go's escapes for what `unicode.IsPrint`
/// calls unprintable.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        quote_char_into(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// One character of a Go quoted literal whose quote is `quote`.
pub(crate) fn quote_char_into(out: &mut String, c: char, quote: char) {
    match c {
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        '\\' => out.push_str("\\\\"),
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if is_go_print(c) => out.push(c),
        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII
/// space. Control, format, separator, private-use and noncharacter code points are not
/// printable. (Unassigned code points count as printable here.)
pub(crate) fn is_go_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let format = matches!(u,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F);
    let private = matches!(u, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD);
    let nonchar = (u & 0xFFFE) == 0xFFFE || (0xFDD0..=0xFDEF).contains(&u);
    !(format || private || nonchar)
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms (with `_` between digits), `inf`,
/// `infinity` and `nan` in any case with an optional sign. `None` on a syntax error, and on
/// an overflow (where Go returns ±Inf with an error).
pub(crate) fn go_parse_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if lower == "nan" {
        return (body.len() == s.len()).then_some(f64::NAN);
    }
    if lower == "inf" || lower == "infinity" {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    // Decimal: digits, optional '.', digits, optional exponent; '_' only between digits.
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut mantissa_digits = 0;
    let mut saw_dot = false;
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' => mantissa_digits += 1,
            b'_' => {}
            b'.' if !saw_dot => saw_dot = true,
            _ => break,
        }
        i += 1;
    }
    if mantissa_digits == 0 {
        return None;
    }
    if i < bytes.len() {
        if bytes[i] != b'e' && bytes[i] != b'E' {
            return None;
        }
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
            i += 1;
        }
        if i == start || i < bytes.len() {
            return None;
        }
    }
    if s.contains('_') && !underscores_ok(s) {
        return None;
    }
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    let v: f64 = clean.parse().ok()?;
    if v.is_infinite() { None } else { Some(v) }
}

/// Go's rule for `_` in number literals: only between digits (or after a base prefix).
fn underscores_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Why Go's `strconv.ParseInt`/`ParseUint` refused a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntError {
    /// `invalid syntax`.
    Syntax,
    /// `value out of range`.
    Range,
}

/// The digits of an integer literal for `strconv.ParseInt(s, 0, 64)`: the sign, the base
/// the prefix names (`0x`, `0o`, `0b`, or a leading `0` for octal) and the digits' value.
fn parse_int_base0(s: &str) -> Result<(bool, u64), IntError> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return Err(IntError::Syntax);
    }
    let bytes = body.as_bytes();
    let prefix = |c: u8| bytes.len() >= 2 && bytes[0] == b'0' && bytes[1].to_ascii_lowercase() == c;
    // The prefix is ASCII, so the digits start on a character boundary.
    let (base, digits) = if prefix(b'x') {
        (16, &body[2..])
    } else if prefix(b'o') {
        (8, &body[2..])
    } else if prefix(b'b') {
        (2, &body[2..])
    } else if bytes.len() > 1 && bytes[0] == b'0' {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if body.contains('_') && !underscores_ok(body) {
        return Err(IntError::Syntax);
    }
    if digits.bytes().all(|c| c == b'_') {
        // "0x" alone is a syntax error; a bare leading-zero octal needs digits too.
        return Err(IntError::Syntax);
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    for c in digits.chars().filter(|c| *c != '_') {
        let d = c.to_digit(base).ok_or(IntError::Syntax)?;
        match value
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if overflow {
        return Err(IntError::Range);
    }
    Ok((negative, value))
}

/// `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn go_parse_int(s: &str) -> Result<i64, IntError> {
    let (negative, value) = parse_int_base0(s)?;
    if negative {
        if value > (i64::MAX as u64) + 1 {
            return Err(IntError::Range);
        }
        Ok((value as i64).wrapping_neg())
    } else {
        i64::try_from(value).map_err(|_| IntError::Range)
    }
}

/// `strconv.ParseUint(s, 0, 64)`.
pub(crate) fn go_parse_uint(s: &str) -> Result<u64, IntError> {
    if s.starts_with(['+', '-']) {
        return Err(IntError::Syntax);
    }
    parse_int_base0(s).map(|(_, v)| v)
}

/// `fromJson`: the document as `json.Unmarshal` reads it into a `map[string]interface{}`.
/// When Go fails, the map (empty, or what was read before a number too big for a float)
/// gets Go's error text under the key `Error`, as Helm does. A `null` document gives an
/// empty map: Go gives a nil map, which prints the same but which `toJson` writes as
/// `null`, not `{}`.
pub fn from_json(text: &str) -> Value {
    let mut entries = BTreeMap::new();
    match unmarshal(text, Target::Map) {
        Ok(Value::Map(m)) => return Value::Map(m),
        Ok(_) => {}
        Err(Failure { partial, message }) => {
            if let Some(Value::Map(m)) = partial {
                entries = m.borrow().clone();
            }
            entries.insert("Error".to_string(), Value::str(message));
        }
    }
    Value::map(entries)
}

/// `fromJsonArray`: the document as `json.Unmarshal` reads it into an `[]interface{}`; when
/// Go fails, a list whose only item is Go's error text, as Helm does. A `null` document
/// gives an empty list (Go's is nil, which `toJson` writes as `null`).
pub fn from_json_array(text: &str) -> Value {
    match unmarshal(text, Target::List) {
        Ok(v @ Value::List(_)) => v,
        Ok(_) => Value::list(Vec::new()),
        Err(Failure { message, .. }) => Value::list(vec![Value::str(message)]),
    }
}

/// The Go type a document is read into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// `map[string]interface{}`.
    Map,
    /// `[]interface{}`.
    List,
}

impl Target {
    fn go_name(self) -> &'static str {
        match self {
            Target::Map => "map[string]interface {}",
            Target::List => "[]interface {}",
        }
    }
}

/// A failed read: Go's message, and what Go had read into the target when it stopped (a
/// number too big for a float leaves the rest of the document read).
#[derive(Debug)]
pub(crate) struct Failure {
    pub partial: Option<Value>,
    pub message: String,
}

/// `json.Unmarshal(text, &target)`: numbers are floats. `Ok(Value::Nil)` for `null` (Go
/// then leaves a nil map or slice).
pub(crate) fn unmarshal(text: &str, target: Target) -> Result<Value, Failure> {
    let mut reader = Reader::new(text.as_bytes(), false);
    let value = match reader.document() {
        Ok(v) => v,
        Err(message) => {
            return Err(Failure {
                partial: None,
                message,
            });
        }
    };
    // The document is valid, so its first byte says what it is (a number too big for a
    // float was read as nil, but Go still calls it a number).
    let first = text
        .bytes()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    let kind = match first {
        Some(b'n') => return Ok(Value::Nil),
        Some(b'{') => "object",
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't' | b'f') => "bool",
        _ => "number",
    };
    let fits = match target {
        Target::Map => kind == "object",
        Target::List => kind == "array",
    };
    if !fits {
        return Err(Failure {
            partial: None,
            message: format!(
                "json: cannot unmarshal {kind} into Go value of type {}",
                target.go_name()
            ),
        });
    }
    if let Some(message) = reader.type_error {
        return Err(Failure {
            partial: Some(value),
            message,
        });
    }
    Ok(value)
}

/// `json.NewDecoder(strings.NewReader(text)).Decode(&v)` into an `interface{}`: the first
/// JSON value in `text` and how many bytes of `text` it took (Go's `InputOffset`). Errors
/// are the decoder's (`EOF` when only spaces are left, `unexpected EOF` inside a value).
pub(crate) fn decode_prefix(text: &str) -> Result<(Value, usize), String> {
    let mut reader = Reader::new(text.as_bytes(), true);
    reader.skip_spaces();
    if reader.pos >= reader.bytes.len() {
        return Err("EOF".to_string());
    }
    let value = reader.value()?;
    if let Some(message) = reader.type_error {
        return Err(message);
    }
    Ok((value, reader.pos))
}

/// Go's `encoding/json` scanner and decoder in one pass: a syntax error is reported for
/// the first byte Go's scanner rejects, with its words.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    /// Reading one value off a stream (a `json.Decoder`) instead of a whole document.
    stream: bool,
    /// The first number too big for a float64, as Go's decoder reports it.
    type_error: Option<String>,
}

/// How deep arrays and objects may nest. Go allows 10000 and fails past that with this
/// same message; slipway's writers recurse, so its readers stop at 500, far beyond what
/// templates and values use.
const MAX_DEPTH: usize = 500;

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], stream: bool) -> Self {
        Reader {
            bytes,
            pos: 0,
            depth: 0,
            stream,
            type_error: None,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.pos += 1;
        }
    }

    fn end(&self) -> String {
        if self.stream {
            "unexpected EOF".to_string()
        } else {
            "unexpected end of JSON input".to_string()
        }
    }

    /// The end of input in the middle of a number or literal: Go's scanner then reports
    /// what a space there would have been (a stream reader just says `unexpected EOF`).
    fn end_as_space(&self, context: &str) -> String {
        if self.stream {
            self.end()
        } else {
            Self::invalid(b' ', context)
        }
    }

    fn invalid(c: u8, context: &str) -> String {
        let quoted = match c {
            b'\'' => "'\\''".to_string(),
            b'"' => "'\"'".to_string(),
            c => {
                let mut s = String::from("'");
                quote_char_into(&mut s, char::from(c), '\'');
                s.push('\'');
                s
            }
        };
        if context.is_empty() {
            format!("invalid character {quoted} ")
        } else {
            format!("invalid character {quoted} {context}")
        }
    }

    /// A whole document: one value, then only spaces.
    fn document(&mut self) -> Result<Value, String> {
        self.skip_spaces();
        let value = self.value()?;
        self.skip_spaces();
        if let Some(c) = self.peek() {
            return Err(Self::invalid(c, "after top-level value"));
        }
        Ok(value)
    }

    /// One value, read without recursion.
    fn value(&mut self) -> Result<Value, String> {
        enum Frame {
            List(Vec<Value>),
            Map(BTreeMap<String, Value>, String),
        }
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            // Start a value: a scalar is done at once, a container opens a frame.
            self.skip_spaces();
            let Some(c) = self.peek() else {
                return Err(self.end());
            };
            let mut done = match c {
                b'{' | b'[' => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(Self::invalid(c, "exceeded max depth"));
                    }
                    self.pos += 1;
                    self.skip_spaces();
                    if c == b'[' {
                        if self.peek() == Some(b']') {
                            self.pos += 1;
                            self.depth -= 1;
                            Value::list(Vec::new())
                        } else {
                            stack.push(Frame::List(Vec::new()));
                            continue 'value;
                        }
                    } else if self.peek() == Some(b'}') {
                        self.pos += 1;
                        self.depth -= 1;
                        Value::map(BTreeMap::new())
                    } else {
                        let key = self.key()?;
                        stack.push(Frame::Map(BTreeMap::new(), key));
                        continue 'value;
                    }
                }
                b'"' => Value::str(self.string()?),
                b'-' | b'0'..=b'9' => self.number()?,
                b't' => self.literal("true", Value::Bool(true))?,
                b'f' => self.literal("false", Value::Bool(false))?,
                b'n' => self.literal("null", Value::Nil)?,
                c => return Err(Self::invalid(c, "looking for beginning of value")),
            };
            // A value is done: hand it to the open container, closing containers as they end.
            loop {
                let Some(frame) = stack.last_mut() else {
                    return Ok(done);
                };
                self.skip_spaces();
                let next = self.peek();
                match frame {
                    Frame::List(items) => {
                        items.push(done);
                        match next {
                            None => return Err(self.end()),
                            Some(b',') => {
                                self.pos += 1;
                                continue 'value;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                self.depth -= 1;
                                let Some(Frame::List(items)) = stack.pop() else {
                                    unreachable!("the top frame is a list")
                                };
                                done = Value::list(items);
                            }
                            Some(c) => return Err(Self::invalid(c, "after array element")),
                        }
                    }
                    Frame::Map(entries, key) => {
                        entries.insert(std::mem::take(key), done);
                        match next {
                            None => return Err(self.end()),
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_spaces();
                                let k = self.key()?;
                                if let Some(Frame::Map(_, key)) = stack.last_mut() {
                                    *key = k;
                                }
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                self.depth -= 1;
                                let Some(Frame::Map(entries, _)) = stack.pop() else {
                                    unreachable!("the top frame is a map")
                                };
                                done = Value::map(entries);
                            }
                            Some(c) => return Err(Self::invalid(c, "after object key:value pair")),
                        }
                    }
                }
            }
        }
    }

    /// An object key and its colon; spaces before it are already skipped.
    fn key(&mut self) -> Result<String, String> {
        match self.peek() {
            None => return Err(self.end()),
            Some(b'"') => {}
            Some(c) => {
                return Err(Self::invalid(
                    c,
                    "looking for beginning of object key string",
                ));
            }
        }
        let key = self.string()?;
        self.skip_spaces();
        match self.peek() {
            None => Err(self.end()),
            Some(b':') => {
                self.pos += 1;
                Ok(key)
            }
            Some(c) => Err(Self::invalid(c, "after object key")),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0;
        for _ in 0..4 {
            let Some(c) = self.peek() else {
                return Err(self.end());
            };
            let d = char::from(c)
                .to_digit(16)
                .ok_or_else(|| Self::invalid(c, "in \\u hexadecimal character escape"))?;
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.end());
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.end());
                    };
                    self.pos += 1;
                    let simple = match e {
                        b'b' => Some(b'\x08'),
                        b'f' => Some(b'\x0c'),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'\\' | b'/' | b'"' => Some(e),
                        b'u' => None,
                        e => return Err(Self::invalid(e, "in string escape code")),
                    };
                    if let Some(b) = simple {
                        out.push(b);
                        continue;
                    }
                    let mut code = self.hex4()?;
                    if (0xD800..0xE000).contains(&code) {
                        // A pair only when a \u escape of the low half follows at once.
                        let rest = &self.bytes[self.pos..];
                        let mut paired = false;
                        if code < 0xDC00 && rest.len() >= 6 && rest[0] == b'\\' && rest[1] == b'u' {
                            let low = std::str::from_utf8(&rest[2..6])
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok());
                            if let Some(low) = low.filter(|l| (0xDC00..0xE000).contains(l)) {
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                                self.pos += 6;
                                paired = true;
                            }
                        }
                        if !paired {
                            code = 0xFFFD;
                        }
                    }
                    let ch = char::from_u32(code).unwrap_or('\u{FFFD}');
                    let mut buf = [0; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(Self::invalid(c, "in string literal")),
                c => out.push(c),
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
            match self.peek() {
                None => return Err(self.end_as_space("in numeric literal")),
                Some(b'0'..=b'9') => {}
                Some(c) => return Err(Self::invalid(c, "in numeric literal")),
            }
        }
        if self.peek() == Some(b'0') {
            self.pos += 1;
        } else {
            while let Some(b'0'..=b'9') = self.peek() {
                self.pos += 1;
            }
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            match self.peek() {
                None => return Err(self.end_as_space("after decimal point in numeric literal")),
                Some(b'0'..=b'9') => {}
                Some(c) => return Err(Self::invalid(c, "after decimal point in numeric literal")),
            }
            while let Some(b'0'..=b'9') = self.peek() {
                self.pos += 1;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            match self.peek() {
                None => return Err(self.end_as_space("in exponent of numeric literal")),
                Some(b'0'..=b'9') => {}
                Some(c) => return Err(Self::invalid(c, "in exponent of numeric literal")),
            }
            while let Some(b'0'..=b'9') = self.peek() {
                self.pos += 1;
            }
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("0");
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => {
                if self.type_error.is_none() {
                    self.type_error = Some(format!(
                        "json: cannot unmarshal number {text} into Go value of type float64"
                    ));
                }
                Ok(Value::Nil)
            }
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, String> {
        for expected in word.bytes().skip(1) {
            self.pos += 1;
            let context = format!("in literal {word} (expecting '{}')", expected as char);
            match self.peek() {
                None => return Err(self.end_as_space(&context)),
                Some(c) if c != expected => return Err(Self::invalid(c, &context)),
                Some(_) => {}
            }
        }
        self.pos += 1;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_forms() {
        assert_eq!(format_g(1e6, false), "1e+06");
        assert_eq!(format_g(123456.0, false), "123456");
        assert_eq!(format_g(0.0001, false), "0.0001");
        assert_eq!(format_g(0.00001, false), "1e-05");
        assert_eq!(format_g(0.0, false), "0");
        assert_eq!(format_g(-0.0, false), "-0");
        assert_eq!(format_g(16777217.0, true), "1.6777216e+07");
        assert_eq!(json_float(1e21).unwrap(), "1e+21");
        assert_eq!(json_float(1e-7).unwrap(), "1e-7");
        assert_eq!(json_float(1e20).unwrap(), "100000000000000000000");
        assert_eq!(json_float(0.000001).unwrap(), "0.000001");
        assert_eq!(json_float(-1.5).unwrap(), "-1.5");
    }

    #[test]
    fn go_numbers() {
        assert_eq!(go_parse_int("0x1F"), Ok(31));
        assert_eq!(go_parse_int("017"), Ok(15));
        assert_eq!(go_parse_int("08"), Err(IntError::Syntax));
        assert_eq!(go_parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(go_parse_int("9223372036854775808"), Err(IntError::Range));
        assert_eq!(go_parse_uint("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(go_parse_float("1_000.5"), Some(1000.5));
        assert_eq!(go_parse_float("._5"), None);
        assert_eq!(go_parse_float("1e400"), None);
        assert_eq!(go_parse_float(".5e"), None);
    }
}
