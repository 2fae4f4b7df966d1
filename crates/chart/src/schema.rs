//! `values.schema.json`: the check a chart's final values must pass before anything is
//! rendered, as Helm makes it. Each chart that ships a schema is checked against the values
//! it sees (a subchart sees `values[<name>]`), and every failure is reported with the chart's
//! name and one line per problem:
//!
//! ```text
//! values don't meet the specifications of the schema(s) in the following chart(s):
//! mychart:
//! - at '/replicaCount': got string, want integer
//! - at '': missing property 'image'
//! ```
//!
//! The validator covers JSON Schema drafts 4, 6, 7, 2019-09 and 2020-12 with the semantics
//! and the wording of the validator Helm embeds: the dialect comes from `$schema` (2020-12
//! when absent), the schema itself is first checked against what its dialect allows
//! (each keyword's value, with the problems reported as Helm's meta-schema check reports
//! them), `format` is asserted for drafts 4 to 7 only, numbers compare exactly (as decimals, so
//! `multipleOf: 0.1` accepts `0.3`), a float with no fraction counts as an integer, and
//! `pattern` uses Go's RE2 regular expressions (no look-around or back-references; `\d`,
//! `\w`, `\s` and `\b` are ASCII-only). Objects are walked in sorted key order, so where
//! Helm lists several problems in a random order, slipway lists the same lines sorted.
//!
//! `$ref` may point anywhere inside the same document (`#/definitions/..`, `#/$defs/..`,
//! any JSON pointer, `$anchor`s, embedded `$id`s) and at a standard meta-schema as a whole
//! (a dialect's, or a 2019-09/2020-12 vocabulary: the value must then be a schema of that
//! dialect); an unresolvable `urn:` reference is accepted as an empty schema, as Helm does.
//! References to places inside a meta-schema, to other files or to other `http(s)://`
//! documents are refused: slipway never fetches them.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::rc::Rc;

use slipway_template::Value;

use crate::model::Chart;

/// The location Helm gives the schema document it validates with.
const ROOT_URL: &str = "file:///values.schema.json";

// ------------------------------------------------------------------------------------------
// Public API
// ------------------------------------------------------------------------------------------

/// Values that do not meet the schema of one or more charts. Its message is Helm's, line
/// for line: a heading, then for each failing chart its name and its problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    details: String,
}

impl SchemaError {
    /// The text after the heading: `chart:` lines, each followed by its problems.
    pub fn details(&self) -> &str {
        &self.details
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "values don't meet the specifications of the schema(s) in the following chart(s):\n{}",
            self.details
        )
    }
}

impl std::error::Error for SchemaError {}

/// Checks `values` (the chart's final, coalesced values) against the chart's
/// `values.schema.json` and each subchart's values (`values[<name>]`) against the
/// subchart's own schema, all the way down, as Helm does before rendering. Subcharts whose
/// values are missing or null are skipped.
pub fn validate(chart: &Chart, values: &Value) -> Result<(), SchemaError> {
    let mut details = String::new();
    walk(chart, values, &mut details);
    if details.is_empty() {
        Ok(())
    } else {
        Err(SchemaError { details })
    }
}

/// Checks `values` against one schema document, returning the text Helm prints under the
/// chart's name when they do not pass (each problem on a `- at '<pointer>': ...` line,
/// ending with a newline), or the reason the schema itself cannot be used.
pub fn validate_document(schema: &[u8], values: &Value) -> Result<(), String> {
    let doc = parse_json(schema)?;
    let mut c = Compiler::new();
    c.add_resource(ROOT_URL, doc);
    let root = c.compile(ROOT_URL, "", false)?;
    let instance = to_instance(values);
    match c.validate_root(root, &instance) {
        Ok(()) => Ok(()),
        Err(e) => {
            let text = e.to_string();
            let prefix = format!(
                "jsonschema validation failed with {}\n",
                quote(&format!("{ROOT_URL}#"))
            );
            let text = text.strip_prefix(&prefix).unwrap_or(&text);
            Err(format!("{text}\n"))
        }
    }
}

fn walk(chart: &Chart, values: &Value, out: &mut String) {
    if let Some(schema) = &chart.schema
        && let Err(e) = validate_document(schema, values)
    {
        out.push_str(&chart.metadata.name);
        out.push_str(":\n");
        out.push_str(&e);
    }
    for sub in &chart.dependencies {
        let name = &sub.metadata.name;
        let raw = match values {
            Value::Map(m) => m.borrow().get(name).cloned(),
            _ => None,
        };
        match raw {
            None | Some(Value::Nil) => {}
            Some(v @ Value::Map(_)) if v.type_name() == "map[string]interface {}" => {
                walk(sub, &v, out)
            }
            Some(other) => {
                out.push_str(&format!(
                    "{name}:\ninvalid type for values: expected object (map), got {}\n",
                    go_type_name(&other)
                ));
            }
        }
    }
}

/// Go's `%T` of a value as Helm holds it (`--set` integers are `int64`).
fn go_type_name(v: &Value) -> String {
    match v {
        Value::Int(_) => "int64".to_string(),
        other => other.type_name(),
    }
}

// ------------------------------------------------------------------------------------------
// JSON documents
// ------------------------------------------------------------------------------------------

/// A JSON value as the validator sees it: numbers keep their text (schema numbers are
/// printed as written), and values JSON cannot hold keep their Go type name.
#[derive(Clone, Debug)]
enum Json {
    Null,
    Bool(bool),
    Number(Num),
    String(String),
    Array(Vec<Json>),
    Object(BTreeMap<String, Json>),
    Invalid(String),
}

/// A number: its text and its exact decimal value.
#[derive(Clone, Debug)]
struct Num {
    text: String,
    dec: Dec,
}

impl Num {
    fn parse(text: &str) -> Option<Num> {
        Some(Num {
            text: text.to_string(),
            dec: Dec::parse(text)?,
        })
    }
}

fn to_instance(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Number(Num::parse(&i.to_string()).expect("integer text")),
        Value::Float(f) if f.is_finite() => {
            Json::Number(Num::parse(&format!("{f:e}")).expect("float text"))
        }
        Value::Float(_) => Json::Invalid("float64".to_string()),
        Value::String(s) => Json::String(s.to_string()),
        Value::Bytes(_) => Json::Invalid("[]uint8".to_string()),
        Value::List(items) => Json::Array(items.iter().map(to_instance).collect()),
        Value::Map(_) if v.type_name() != "map[string]interface {}" => Json::Invalid(v.type_name()),
        Value::Map(m) => Json::Object(
            m.borrow()
                .iter()
                .map(|(k, v)| (k.clone(), to_instance(v)))
                .collect(),
        ),
        Value::Object(o) => Json::Invalid(o.type_name()),
    }
}

/// Reads one JSON document the way Go's `json.Decoder` (numbers kept as text) reads it,
/// with Go's error texts.
fn parse_json(bytes: &[u8]) -> Result<Json, String> {
    let mut p = JsonParser {
        s: bytes,
        i: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.i >= p.s.len() {
        return Err("EOF".to_string());
    }
    let v = p.value()?;
    p.skip_ws();
    if p.i < p.s.len() {
        return Err("invalid character after top-level value".to_string());
    }
    Ok(v)
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

/// Go's limit on nested arrays and objects.
const MAX_JSON_DEPTH: usize = 10000;

impl JsonParser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn bad(&self, c: u8, context: &str) -> String {
        format!("invalid character {} {context}", quote_byte(c))
    }

    fn eof() -> String {
        "unexpected EOF".to_string()
    }

    fn value(&mut self) -> Result<Json, String> {
        let Some(c) = self.peek() else {
            return Err(Self::eof());
        };
        if matches!(c, b'{' | b'[') {
            self.depth += 1;
            if self.depth > MAX_JSON_DEPTH {
                return Err(self.bad(c, "exceeded max depth"));
            }
            let v = if c == b'{' {
                self.object()
            } else {
                self.array()
            };
            self.depth -= 1;
            return v;
        }
        match c {
            b'"' => Ok(Json::String(self.string()?)),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'n' => self.literal("null", Json::Null),
            _ => Err(self.bad(c, "looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, String> {
        for expect in word.bytes() {
            match self.peek() {
                None => return Err(Self::eof()),
                Some(c) if c == expect => self.i += 1,
                Some(c) => {
                    let context = format!("in literal {word} (expecting {})", quote_byte(expect));
                    return Err(self.bad(c, &context));
                }
            }
        }
        Ok(v)
    }

    fn object(&mut self) -> Result<Json, String> {
        self.i += 1;
        let mut map = BTreeMap::new();
        self.skip_ws();
        match self.peek() {
            None => return Err(Self::eof()),
            Some(b'}') => {
                self.i += 1;
                return Ok(Json::Object(map));
            }
            _ => {}
        }
        loop {
            self.skip_ws();
            match self.peek() {
                None => return Err(Self::eof()),
                Some(b'"') => {}
                Some(c) => return Err(self.bad(c, "looking for beginning of object key string")),
            }
            let key = self.string()?;
            self.skip_ws();
            match self.peek() {
                None => return Err(Self::eof()),
                Some(b':') => self.i += 1,
                Some(c) => return Err(self.bad(c, "after object key")),
            }
            self.skip_ws();
            let v = self.value()?;
            map.insert(key, v);
            self.skip_ws();
            match self.peek() {
                None => return Err(Self::eof()),
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Object(map));
                }
                Some(c) => return Err(self.bad(c, "after object key:value pair")),
            }
        }
    }

    fn array(&mut self) -> Result<Json, String> {
        self.i += 1;
        let mut items = Vec::new();
        self.skip_ws();
        match self.peek() {
            None => return Err(Self::eof()),
            Some(b']') => {
                self.i += 1;
                return Ok(Json::Array(items));
            }
            _ => {}
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                None => return Err(Self::eof()),
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Array(items));
                }
                Some(c) => return Err(self.bad(c, "after array element")),
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(Self::eof());
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(Self::eof());
                    };
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp)
                                && self.s.get(self.i) == Some(&b'\\')
                                && self.s.get(self.i + 1) == Some(&b'u')
                            {
                                let save = self.i;
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                } else {
                                    self.i = save;
                                }
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.bad(e, "in string escape code")),
                    }
                }
                c if c < 0x20 => return Err(self.bad(c, "in string literal")),
                c => out.push(c),
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..4 {
            let Some(c) = self.peek() else {
                return Err(Self::eof());
            };
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(self.bad(c, "in \\u hexadecimal character escape")),
            };
            v = v * 16 + u32::from(d);
            self.i += 1;
        }
        Ok(v)
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
            match self.peek() {
                None => return Err(Self::eof()),
                Some(b'0'..=b'9') => {}
                Some(c) => return Err(self.bad(c, "in numeric literal")),
            }
        }
        if self.peek() == Some(b'0') {
            self.i += 1;
        } else {
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            match self.peek() {
                None => return Err(Self::eof()),
                Some(b'0'..=b'9') => {}
                Some(c) => return Err(self.bad(c, "after decimal point in numeric literal")),
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            match self.peek() {
                None => return Err(Self::eof()),
                Some(b'0'..=b'9') => {}
                Some(c) => return Err(self.bad(c, "in exponent of numeric literal")),
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).expect("ASCII number");
        Ok(Json::Number(Num::parse(text).expect("valid JSON number")))
    }
}

/// Go's `quoteChar` in `encoding/json`: a byte shown as a quoted character.
fn quote_byte(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_string(),
        b'"' => "'\"'".to_string(),
        _ => {
            let q = go_quote(&char::from(c).to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

fn go_quote(s: &str) -> String {
    crate::json::go_quote(s)
}

/// The validator's single-quoted form of a string: Go's `%q`, with `"` left alone and `'`
/// escaped.
fn quote(s: &str) -> String {
    // The replacements run over the whole quoted text, closing quote included (so a
    // trailing backslash loses its escape), as the validator does.
    let q = go_quote(s).replace("\\\"", "\"").replace('\'', "\\'");
    format!("'{}'", &q[1..q.len() - 1])
}

// ------------------------------------------------------------------------------------------
// Exact decimals, and numbers printed as the validator prints them
// ------------------------------------------------------------------------------------------

/// An exact decimal `digits × 10^exp`; `digits` has no leading or trailing zeros and is
/// empty for zero.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Dec {
    neg: bool,
    digits: Vec<u8>,
    exp: i64,
}

impl Dec {
    /// Reads `-12.5e3`-style text (JSON numbers, and Go's `%v` of a float).
    fn parse(s: &str) -> Option<Dec> {
        let (neg, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (mant, exp_part) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (int_part, frac_part) = match mant.find('.') {
            Some(i) => (&mant[..i], &mant[i + 1..]),
            None => (mant, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        if !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        // Exponents beyond any float's reach are clamped, which keeps comparisons right.
        let mut exp: i64 = match exp_part {
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                e.parse::<i64>()
                    .unwrap_or(if e.starts_with('-') {
                        i64::MIN
                    } else {
                        i64::MAX
                    })
                    .clamp(-(1 << 40), 1 << 40)
            }
            None => 0,
        };
        let mut digits: Vec<u8> = int_part
            .bytes()
            .chain(frac_part.bytes())
            .map(|b| b - b'0')
            .collect();
        exp -= frac_part.len() as i64;
        match digits.iter().position(|&d| d != 0) {
            None => {
                return Some(Dec {
                    neg: false,
                    digits: Vec::new(),
                    exp: 0,
                });
            }
            Some(i) => {
                digits.drain(..i);
            }
        }
        while digits.last() == Some(&0) {
            digits.pop();
            exp += 1;
        }
        Some(Dec { neg, digits, exp })
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    fn is_integer(&self) -> bool {
        self.is_zero() || self.exp >= 0
    }

    fn cmp_abs(&self, o: &Dec) -> Ordering {
        let pa = self.digits.len() as i64 + self.exp;
        let pb = o.digits.len() as i64 + o.exp;
        pa.cmp(&pb).then_with(|| self.digits.cmp(&o.digits))
    }

    fn cmp(&self, o: &Dec) -> Ordering {
        match (self.is_zero(), o.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => {
                return if o.neg {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
            }
            (false, true) => {
                return if self.neg {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            _ => {}
        }
        if self.neg != o.neg {
            return if self.neg {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let m = self.cmp_abs(o);
        if self.neg { m.reverse() } else { m }
    }

    /// The nearest float64, as Go's `big.Rat.Float64` gives it.
    fn to_f64(&self) -> f64 {
        if self.is_zero() {
            return 0.0;
        }
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        let sign = if self.neg { "-" } else { "" };
        format!("{sign}{digits}e{}", self.exp)
            .parse()
            .unwrap_or(f64::NAN)
    }

    /// Whether `self / by` is an integer.
    fn is_multiple_of(&self, by: &Dec) -> bool {
        if by.is_zero() {
            return false;
        }
        if self.is_zero() {
            return true;
        }
        // self = A·10^ea, by = B·10^eb; neither A nor B ends in 0. With d = ea - eb, the
        // quotient is an integer exactly when B divides A·10^d; for d < 0 that would need
        // A to end in a zero.
        let d = self.exp - by.exp;
        if d < 0 {
            return false;
        }
        let (twos, rest) = strip_factor(&by.digits, 2);
        let (fives, rest) = strip_factor(&rest, 5);
        let Some(r) = to_u128(&rest) else {
            let q = self.to_f64() / by.to_f64();
            return q.is_finite() && q.fract() == 0.0;
        };
        let mut rem: u128 = 0;
        for &digit in &self.digits {
            rem = (rem * 10 + u128::from(digit)) % r;
        }
        if rem != 0 {
            return false;
        }
        let need = |count: u32| (count as i64) <= d;
        let (a_twos, _) = strip_factor_upto(&self.digits, 2, twos);
        let (a_fives, _) = strip_factor_upto(&self.digits, 5, fives);
        need(twos.saturating_sub(a_twos)) && need(fives.saturating_sub(a_fives))
    }
}

/// Divides a decimal digit string by a small number: quotient (no leading zeros) and rest.
fn div_small(digits: &[u8], n: u32) -> (Vec<u8>, u32) {
    let mut out = Vec::with_capacity(digits.len());
    let mut rem = 0u32;
    for &d in digits {
        let cur = rem * 10 + u32::from(d);
        out.push((cur / n) as u8);
        rem = cur % n;
    }
    let first = out.iter().position(|&d| d != 0).unwrap_or(out.len());
    out.drain(..first);
    (out, rem)
}

/// How many times `n` divides the digit string, and what is left.
fn strip_factor(digits: &[u8], n: u32) -> (u32, Vec<u8>) {
    strip_factor_upto(digits, n, u32::MAX)
}

fn strip_factor_upto(digits: &[u8], n: u32, limit: u32) -> (u32, Vec<u8>) {
    let mut cur = digits.to_vec();
    let mut count = 0;
    while count < limit && !cur.is_empty() {
        let (q, r) = div_small(&cur, n);
        if r != 0 {
            break;
        }
        cur = q;
        count += 1;
    }
    (count, cur)
}

fn to_u128(digits: &[u8]) -> Option<u128> {
    if digits.len() > 36 {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u128, |acc, &d| acc * 10 + u128::from(d)),
    )
}

/// An integer as the validator's English message printer writes `%d`: `1,234,567`.
fn loc_int(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group_thousands(&digits))
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A float as the validator's English message printer writes `%v`: the shortest digits,
/// grouped (`12,345.678`), or in scientific form below 1e-4 and from 1e6 up
/// (`1.5×10⁰⁶`, `1×10⁻⁰⁵`).
fn loc_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    let sign = if f.is_sign_negative() && f != 0.0 {
        "-"
    } else {
        ""
    };
    if f.is_infinite() {
        return format!("{sign}∞");
    }
    if f == 0.0 {
        return "0".to_string();
    }
    let e = format!("{:e}", f.abs());
    let (mant, exp) = e.split_once('e').expect("exponent form");
    let exp: i64 = exp.parse().expect("exponent");
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    if !(-4..6).contains(&exp) {
        let mut out = format!("{sign}{}", &digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str("×10");
        if exp < 0 {
            out.push('⁻');
        }
        for c in format!("{:02}", exp.unsigned_abs()).chars() {
            out.push(superscript(c));
        }
        return out;
    }
    // Decimal form: the point sits after `exp + 1` digits.
    let point = exp + 1;
    let (int_part, frac_part) = if point <= 0 {
        (
            "0".to_string(),
            format!("{}{digits}", "0".repeat((-point) as usize)),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{digits}{}", "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        (
            digits[..point as usize].to_string(),
            digits[point as usize..].to_string(),
        )
    };
    let mut out = format!("{sign}{}", group_thousands(&int_part));
    if !frac_part.is_empty() {
        out.push('.');
        out.push_str(&frac_part);
    }
    out
}

fn superscript(c: char) -> char {
    match c {
        '0' => '⁰',
        '1' => '¹',
        '2' => '²',
        '3' => '³',
        '4' => '⁴',
        '5' => '⁵',
        '6' => '⁶',
        '7' => '⁷',
        '8' => '⁸',
        _ => '⁹',
    }
}

// ------------------------------------------------------------------------------------------
// URLs and JSON pointers
// ------------------------------------------------------------------------------------------

/// Splits at the first `#`.
fn split_fragment(s: &str) -> (&str, &str) {
    match s.find('#') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Go's `url.PathUnescape`: `%XX` sequences decoded; a bad one is an error.
fn path_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() || !is_hex(b[i + 1]) || !is_hex(b[i + 2]) {
                let end = (i + 3).min(b.len());
                return Err(format!(
                    "invalid URL escape {}",
                    go_quote(&String::from_utf8_lossy(&b[i..end]))
                ));
            }
            out.push(unhex(b[i + 1]) << 4 | unhex(b[i + 2]));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `url.PathEscape`.
fn path_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-_.~$&+:=@".contains(&c) {
            out.push(char::from(c));
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// A JSON pointer as the validator writes it in locations: each token path-escaped.
fn encode_pointer(ptr: &str) -> String {
    ptr.split('/')
        .map(path_escape)
        .collect::<Vec<_>>()
        .join("/")
}

fn escape_token(tok: &str) -> String {
    tok.replace('~', "~0").replace('/', "~1")
}

fn unescape_token(tok: &str) -> Option<String> {
    let mut out = String::with_capacity(tok.len());
    let mut chars = tok.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// `url#pointer`, as the validator names a place in a document.
fn location(url: &str, ptr: &str) -> String {
    format!("{url}#{}", encode_pointer(ptr))
}

fn json_pointer(tokens: &[String]) -> String {
    tokens
        .iter()
        .map(|t| format!("/{}", escape_token(t)))
        .collect()
}

/// A parsed URL reference: enough of RFC 3986 to resolve schema references.
#[derive(Clone, Debug, Default)]
struct UrlRef {
    scheme: Option<String>,
    authority: Option<String>,
    path: String,
    query: Option<String>,
}

impl UrlRef {
    fn parse(s: &str) -> UrlRef {
        let mut rest = s;
        let mut scheme = None;
        if let Some(i) = rest.find(':') {
            let cand = &rest[..i];
            let mut chars = cand.chars();
            if chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            {
                scheme = Some(cand.to_ascii_lowercase());
                rest = &rest[i + 1..];
            }
        }
        let (rest, query) = match rest.find('?') {
            Some(i) => (&rest[..i], Some(rest[i + 1..].to_string())),
            None => (rest, None),
        };
        let (authority, path) = match rest.strip_prefix("//") {
            Some(after) => match after.find('/') {
                Some(i) => (Some(after[..i].to_string()), after[i..].to_string()),
                None => (Some(after.to_string()), String::new()),
            },
            None => (None, rest.to_string()),
        };
        UrlRef {
            scheme,
            authority,
            path,
            query,
        }
    }

    fn is_opaque(&self) -> bool {
        self.scheme.is_some() && self.authority.is_none() && !self.path.starts_with('/')
    }

    fn to_url_string(&self) -> String {
        let mut out = String::new();
        if let Some(s) = &self.scheme {
            out.push_str(s);
            out.push(':');
        }
        if let Some(a) = &self.authority {
            out.push_str("//");
            out.push_str(a);
        }
        out.push_str(&self.path);
        if let Some(q) = &self.query {
            out.push('?');
            out.push_str(q);
        }
        out
    }
}

/// Removes `.` and `..` segments; the result starts with `/`, as Go's resolver makes it.
fn resolve_path(base: &str, reference: &str) -> String {
    let full = if reference.is_empty() {
        base.to_string()
    } else if !reference.starts_with('/') {
        match base.rfind('/') {
            Some(i) => format!("{}{reference}", &base[..=i]),
            None => reference.to_string(),
        }
    } else {
        reference.to_string()
    };
    if full.is_empty() {
        return String::new();
    }
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = full.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 || out.first().is_some_and(|s| !s.is_empty()) {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

/// Resolves `reference` (fragment already removed) against `base`, as Go's
/// `URL.ResolveReference` does, keeping an opaque base (`urn:..`) for relative references.
fn resolve_url(base: &str, reference: &str) -> String {
    let b = UrlRef::parse(base);
    let r = UrlRef::parse(reference);
    if r.scheme.is_some() {
        if r.is_opaque() {
            return r.to_url_string();
        }
        let mut out = r.clone();
        out.path = resolve_path(&r.path, "");
        return out.to_url_string();
    }
    if b.is_opaque() {
        return b.to_url_string();
    }
    let mut out = UrlRef {
        scheme: b.scheme.clone(),
        ..Default::default()
    };
    if r.authority.is_some() {
        out.authority = r.authority.clone();
        out.path = resolve_path(&r.path, "");
        out.query = r.query.clone();
        return out.to_url_string();
    }
    out.authority = b.authority.clone();
    if r.path.is_empty() && r.query.is_none() {
        out.path = b.path.clone();
        out.query = b.query.clone();
        return out.to_url_string();
    }
    out.path = resolve_path(&b.path, &r.path);
    out.query = r.query.clone();
    out.to_url_string()
}

/// Joins a reference to a base URL: the resolved URL (no fragment) and the decoded
/// fragment.
fn join_url(base: &str, reference: &str) -> Result<(String, String), String> {
    let (r, frag) = split_fragment(reference);
    let frag = path_unescape(frag)
        .map_err(|e| format!("error in parsing {}: {e}", go_quote(reference)))?;
    Ok((resolve_url(base, r), frag))
}

// ------------------------------------------------------------------------------------------
// Go regular expressions
// ------------------------------------------------------------------------------------------

/// A regular expression written in Go's RE2 syntax, with Go's meaning, run by the `regex`
/// crate. Go's syntax is translated: `\d \w \s \b` become their ASCII forms, `\Q..\E` and
/// octal escapes become literals, a `{` that starts no repetition is a literal, and
/// everything Go refuses (look-around, back-references, `\Z`, nested repetition operators)
/// is refused with Go's error text.
#[derive(Clone, Debug)]
struct GoRegex {
    source: String,
    re: regex::Regex,
}

impl GoRegex {
    fn new(pattern: &str) -> Result<GoRegex, String> {
        let translated = ReTranslator::new(pattern)
            .run()
            .map_err(|(code, expr)| format!("error parsing regexp: {code}: `{expr}`"))?;
        let re = regex::RegexBuilder::new(&translated)
            .size_limit(1 << 27)
            .build()
            .map_err(|_| format!("error parsing regexp: expression too large: `{pattern}`"))?;
        Ok(GoRegex {
            source: pattern.to_string(),
            re,
        })
    }

    fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }
}

const ERR_INVALID_ESCAPE: &str = "invalid escape sequence";
const ERR_INVALID_CLASS_RANGE: &str = "invalid character class range";
const ERR_MISSING_BRACKET: &str = "missing closing ]";
const ERR_MISSING_PAREN: &str = "missing closing )";
const ERR_UNEXPECTED_PAREN: &str = "unexpected )";
const ERR_TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";
const ERR_MISSING_REPEAT_ARG: &str = "missing argument to repetition operator";
const ERR_INVALID_REPEAT_OP: &str = "invalid nested repetition operator";
const ERR_INVALID_REPEAT_SIZE: &str = "invalid repeat count";
const ERR_INVALID_PERL_OP: &str = "invalid or unsupported Perl syntax";
const ERR_INVALID_NAMED_CAPTURE: &str = "invalid named capture";

/// A Go parse error: its code and the part of the expression it names.
type ReError = (&'static str, String);

/// The last thing a repetition operator could apply to: where its translation starts,
/// whether it must be put in a group first, and the largest product of nested `{n,m}`
/// counts inside it (Go refuses products above 1000).
#[derive(Clone, Copy)]
struct Operand {
    start: usize,
    wrap: bool,
    product: u64,
}

/// An open group: where its translation starts and the group around it's running maximum.
struct Frame {
    start: usize,
    outer_max: u64,
}

struct ReTranslator<'a> {
    p: &'a str,
    out: String,
    frames: Vec<Frame>,
    last: Option<Operand>,
    max_product: u64,
    last_repeat: Option<usize>,
    flags_after_last: bool,
}

const PERL_DIGIT: &str = "0-9";
const PERL_SPACE: &str = r"\x{9}\x{A}\x{C}\x{D}\x{20}";
const PERL_WORD: &str = "0-9A-Za-z_";
const POSIX_CLASSES: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:X}}}", u32::from(c)));
    }
}

/// Go's `{min}`, `{min,}` or `{min,max}` at the start of `s`: the counts (`-1` for a
/// missing max or a number that is too big) and the length. `None` when it is not one, in
/// which case the `{` is a literal.
fn parse_repeat(s: &str) -> Option<(i64, i64, usize)> {
    let b = s.as_bytes();
    let mut i = 1;
    let int = |i: &mut usize| -> Option<i64> {
        let start = *i;
        if start >= b.len() || !b[start].is_ascii_digit() {
            return None;
        }
        if b[start] == b'0' && start + 1 < b.len() && b[start + 1].is_ascii_digit() {
            return None;
        }
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        let text = &s[start..*i];
        Some(if text.len() > 8 {
            -1
        } else {
            text.parse().unwrap_or(-1)
        })
    };
    let mut min = int(&mut i)?;
    let max;
    if i >= b.len() {
        return None;
    }
    if b[i] != b',' {
        max = min;
    } else {
        i += 1;
        if i >= b.len() {
            return None;
        }
        if b[i] == b'}' {
            max = -1;
        } else {
            max = int(&mut i)?;
            if max < 0 {
                min = -1;
            }
        }
    }
    if i >= b.len() || b[i] != b'}' {
        return None;
    }
    Some((min, max, i + 1))
}

impl<'a> ReTranslator<'a> {
    fn new(p: &'a str) -> Self {
        ReTranslator {
            p,
            out: String::with_capacity(p.len() * 2),
            frames: Vec::new(),
            last: None,
            max_product: 1,
            last_repeat: None,
            flags_after_last: false,
        }
    }

    fn char_at(&self, i: usize) -> Option<char> {
        self.p.get(i..).and_then(|s| s.chars().next())
    }

    fn operand(&mut self, start: usize, wrap: bool) {
        self.last = Some(Operand {
            start,
            wrap,
            product: 1,
        });
        self.flags_after_last = false;
    }

    fn literal(&mut self, c: char) {
        let start = self.out.len();
        push_literal(&mut self.out, c);
        self.operand(start, false);
    }

    fn emit_operand(&mut self, text: &str, wrap: bool) {
        let start = self.out.len();
        self.out.push_str(text);
        self.operand(start, wrap);
    }

    fn run(mut self) -> Result<String, ReError> {
        let p = self.p;
        let mut i = 0;
        while i < p.len() {
            let c = self.char_at(i).expect("in bounds");
            let mut this_repeat = None;
            match c {
                '(' if p[i..].starts_with("(?") => i = self.perl_flags(i)?,
                '(' => {
                    self.open_group("(");
                    i += 1;
                }
                '|' => {
                    self.out.push('|');
                    self.last = None;
                    self.flags_after_last = false;
                    i += 1;
                }
                ')' => {
                    let Some(frame) = self.frames.pop() else {
                        return Err((ERR_UNEXPECTED_PAREN, p.to_string()));
                    };
                    self.out.push(')');
                    let inner = self.max_product;
                    self.max_product = frame.outer_max.max(inner);
                    self.last = Some(Operand {
                        start: frame.start,
                        wrap: false,
                        product: inner,
                    });
                    self.flags_after_last = false;
                    i += 1;
                }
                '^' | '$' => {
                    self.emit_operand(&c.to_string(), true);
                    i += 1;
                }
                '.' => {
                    self.emit_operand(".", false);
                    i += 1;
                }
                '[' => {
                    let start = self.out.len();
                    i = self.class(i)?;
                    self.operand(start, false);
                }
                '*' | '+' | '?' => {
                    this_repeat = Some(i);
                    i = self.repeat(i, i + 1, None)?;
                }
                '{' => match parse_repeat(&p[i..]) {
                    None => {
                        self.literal('{');
                        i += 1;
                    }
                    Some((min, max, len)) => {
                        let after = i + len;
                        if !(0..=1000).contains(&min) || max > 1000 || (max >= 0 && min > max) {
                            return Err((ERR_INVALID_REPEAT_SIZE, p[i..after].to_string()));
                        }
                        this_repeat = Some(i);
                        i = self.repeat(i, after, Some((min, max)))?;
                    }
                },
                '\\' => i = self.escape_top(i)?,
                _ => {
                    self.literal(c);
                    i += c.len_utf8();
                }
            }
            self.last_repeat = this_repeat;
        }
        if !self.frames.is_empty() {
            return Err((ERR_MISSING_PAREN, p.to_string()));
        }
        Ok(self.out)
    }

    fn open_group(&mut self, text: &str) {
        self.frames.push(Frame {
            start: self.out.len(),
            outer_max: self.max_product,
        });
        self.out.push_str(text);
        self.last = None;
        self.max_product = 1;
        self.flags_after_last = false;
    }

    /// A repetition operator from `at` (its text ends at `after`); `counts` for `{n,m}`.
    fn repeat(
        &mut self,
        at: usize,
        after: usize,
        counts: Option<(i64, i64)>,
    ) -> Result<usize, ReError> {
        let p = self.p;
        let mut end = after;
        let lazy = p[end..].starts_with('?');
        if lazy {
            end += 1;
        }
        if let Some(prev) = self.last_repeat {
            return Err((ERR_INVALID_REPEAT_OP, p[prev..end].to_string()));
        }
        let Some(operand) = self.last else {
            return Err((ERR_MISSING_REPEAT_ARG, p[at..end].to_string()));
        };
        if self.flags_after_last {
            return Err((
                ERR_INVALID_PERL_OP,
                format!(
                    "{} (a flag group before a repetition is not supported)",
                    &p[at..end]
                ),
            ));
        }
        let product = match counts {
            None => operand.product,
            Some((min, max)) => {
                let m = if max < 0 { min } else { max } as u64;
                let product = if m == 0 { 1 } else { m * operand.product };
                if (min >= 2 || max >= 2) && m != 0 && product > 1000 {
                    return Err((ERR_INVALID_REPEAT_SIZE, p[at..end].to_string()));
                }
                product
            }
        };
        if operand.wrap {
            self.out.insert_str(operand.start, "(?:");
            self.out.push(')');
        }
        self.out.push_str(&p[at..after]);
        if lazy {
            self.out.push('?');
        }
        self.last = Some(Operand {
            start: operand.start,
            wrap: true,
            product,
        });
        self.max_product = self.max_product.max(product);
        Ok(end)
    }

    /// `(?` at `at`: a named group, a non-capturing group, or a flag change.
    fn perl_flags(&mut self, at: usize) -> Result<usize, ReError> {
        let p = self.p;
        let t = &p[at..];
        let tb = t.as_bytes();
        let starts_with_p = tb.len() > 4 && tb[2] == b'P' && tb[3] == b'<';
        let starts_with_name = tb.len() > 3 && tb[2] == b'<';
        if starts_with_p || starts_with_name {
            let name_start = if starts_with_p { 4 } else { 3 };
            let Some(end) = t.find('>') else {
                return Err((ERR_INVALID_NAMED_CAPTURE, t.to_string()));
            };
            let name = &t[name_start..end];
            if name.is_empty() || !name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
                return Err((ERR_INVALID_NAMED_CAPTURE, t[..=end].to_string()));
            }
            self.open_group("(");
            return Ok(at + end + 1);
        }
        let mut j = at + 2;
        let mut state: Vec<(char, bool)> = Vec::new();
        let mut negated = false;
        let mut saw_flag = false;
        while let Some(c) = self.char_at(j) {
            j += c.len_utf8();
            match c {
                'i' | 'm' | 's' | 'U' => {
                    state.retain(|(f, _)| *f != c);
                    state.push((c, !negated));
                    saw_flag = true;
                }
                '-' => {
                    if negated {
                        break;
                    }
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' => {
                    if negated && !saw_flag {
                        break;
                    }
                    let on: String = state.iter().filter(|(_, v)| *v).map(|(f, _)| *f).collect();
                    let off: String = state.iter().filter(|(_, v)| !*v).map(|(f, _)| *f).collect();
                    let mut flags = on;
                    if !off.is_empty() {
                        flags.push('-');
                        flags.push_str(&off);
                    }
                    if c == ':' {
                        self.open_group(&format!("(?{flags}:"));
                    } else {
                        if !flags.is_empty() {
                            self.out.push_str(&format!("(?{flags})"));
                        }
                        self.flags_after_last = true;
                    }
                    return Ok(j);
                }
                _ => break,
            }
        }
        Err((ERR_INVALID_PERL_OP, p[at..j].to_string()))
    }

    /// A backslash outside a class.
    fn escape_top(&mut self, at: usize) -> Result<usize, ReError> {
        let p = self.p;
        let t = &p[at..];
        if t.len() >= 2 {
            match t.as_bytes()[1] {
                b'A' => {
                    self.emit_operand(r"\A", true);
                    return Ok(at + 2);
                }
                b'z' => {
                    self.emit_operand(r"\z", true);
                    return Ok(at + 2);
                }
                b'b' => {
                    self.emit_operand(r"(?-u:\b)", true);
                    return Ok(at + 2);
                }
                b'B' => {
                    self.emit_operand(r"(?-u:\B)", true);
                    return Ok(at + 2);
                }
                b'C' => return Err((ERR_INVALID_ESCAPE, r"\C".to_string())),
                b'Q' => {
                    let rest = &t[2..];
                    let (lit, used) = match rest.find(r"\E") {
                        Some(k) => (&rest[..k], 2 + k + 2),
                        None => (rest, t.len()),
                    };
                    for c in lit.chars() {
                        self.literal(c);
                    }
                    return Ok(at + used);
                }
                b'p' | b'P' => {
                    let (text, next) = self.unicode_class(at)?;
                    self.emit_operand(&text, false);
                    return Ok(next);
                }
                b'd' | b'D' | b's' | b'S' | b'w' | b'W' => {
                    let c = t.as_bytes()[1];
                    let set = match c.to_ascii_lowercase() {
                        b'd' => PERL_DIGIT,
                        b's' => PERL_SPACE,
                        _ => PERL_WORD,
                    };
                    let neg = if c.is_ascii_uppercase() { "^" } else { "" };
                    self.emit_operand(&format!("[{neg}{set}]"), false);
                    return Ok(at + 2);
                }
                _ => {}
            }
        }
        let (c, next) = self.escape_char(at)?;
        self.literal(c);
        Ok(next)
    }

    /// A single-character escape at `at` (Go's `parseEscape`).
    fn escape_char(&self, at: usize) -> Result<(char, usize), ReError> {
        let p = self.p;
        let mut t = at + 1;
        let Some(c) = self.char_at(t) else {
            return Err((ERR_TRAILING_BACKSLASH, String::new()));
        };
        t += c.len_utf8();
        let bad = |t: usize| Err((ERR_INVALID_ESCAPE, p[at..t].to_string()));
        let is_octal = |i: usize| {
            p.as_bytes()
                .get(i)
                .is_some_and(|b| (b'0'..=b'7').contains(b))
        };
        match c {
            '1'..='7' | '0' => {
                if c != '0' && !is_octal(t) {
                    return bad(t);
                }
                let mut r = c as u32 - '0' as u32;
                for _ in 1..3 {
                    if !is_octal(t) {
                        break;
                    }
                    r = r * 8 + u32::from(p.as_bytes()[t] - b'0');
                    t += 1;
                }
                Ok((char::from_u32(r).expect("octal below 512"), t))
            }
            'x' => {
                let Some(c2) = self.char_at(t) else {
                    return bad(t);
                };
                t += c2.len_utf8();
                if c2 == '{' {
                    let mut n = 0;
                    let mut r: u32 = 0;
                    loop {
                        let Some(d) = self.char_at(t) else {
                            return bad(t);
                        };
                        t += d.len_utf8();
                        if d == '}' {
                            break;
                        }
                        let Some(v) = d.to_digit(16) else {
                            return bad(t);
                        };
                        r = r * 16 + v;
                        if r > 0x10FFFF {
                            return bad(t);
                        }
                        n += 1;
                    }
                    if n == 0 {
                        return bad(t);
                    }
                    return match char::from_u32(r) {
                        Some(ch) => Ok((ch, t)),
                        None => bad(t),
                    };
                }
                let x = c2.to_digit(16);
                let c3 = self.char_at(t);
                if let Some(c3) = c3 {
                    t += c3.len_utf8();
                }
                match (x, c3.and_then(|c| c.to_digit(16))) {
                    (Some(x), Some(y)) => Ok((char::from_u32(x * 16 + y).expect("byte"), t)),
                    _ => bad(t),
                }
            }
            'a' => Ok(('\x07', t)),
            'f' => Ok(('\x0C', t)),
            'n' => Ok(('\n', t)),
            'r' => Ok(('\r', t)),
            't' => Ok(('\t', t)),
            'v' => Ok(('\x0B', t)),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c, t)),
            _ => bad(t),
        }
    }

    /// `\pN`, `\p{Name}`, `\PN`, `\P{Name}` or `\p{^Name}` at `at`.
    fn unicode_class(&self, at: usize) -> Result<(String, usize), ReError> {
        let p = self.p;
        let s = &p[at..];
        let mut negated = s.as_bytes()[1] == b'P';
        let t = at + 2;
        let (mut name, end) = match self.char_at(t) {
            Some('{') => {
                let Some(close) = s.find('}') else {
                    return Err((ERR_INVALID_CLASS_RANGE, s.to_string()));
                };
                (&p[at + 3..at + close], at + close + 1)
            }
            Some(c) => (&p[t..t + c.len_utf8()], t + c.len_utf8()),
            None => ("", t),
        };
        if let Some(rest) = name.strip_prefix('^') {
            negated = !negated;
            name = rest;
        }
        let known = !name.is_empty()
            && !name.contains(['=', ':', '!', '{', '}', '\\'])
            && regex::Regex::new(&format!(r"\p{{{name}}}")).is_ok();
        if !known {
            return Err((ERR_INVALID_CLASS_RANGE, p[at..end].to_string()));
        }
        let letter = if negated { 'P' } else { 'p' };
        Ok((format!("\\{letter}{{{name}}}"), end))
    }

    /// A bracketed class from `at` (its `[`); returns where it ends.
    fn class(&mut self, at: usize) -> Result<usize, ReError> {
        let p = self.p;
        let mut t = at + 1;
        let mut out = String::from("[");
        if p[t..].starts_with('^') {
            out.push('^');
            t += 1;
        }
        let mut first = true;
        loop {
            let rest = &p[t..];
            if rest.starts_with(']') && !first {
                break;
            }
            first = false;
            if rest.len() > 2
                && rest.starts_with("[:")
                && let Some(k) = rest[2..].find(":]")
            {
                let name = &rest[..k + 4];
                let inner = &name[2..name.len() - 2];
                let base = inner.strip_prefix('^').unwrap_or(inner);
                if !POSIX_CLASSES.contains(&base) {
                    return Err((ERR_INVALID_CLASS_RANGE, name.to_string()));
                }
                out.push_str(name);
                t += name.len();
                continue;
            }
            if rest.starts_with(r"\p") || rest.starts_with(r"\P") {
                let (text, next) = self.unicode_class(t)?;
                out.push_str(&text);
                t = next;
                continue;
            }
            if rest.len() >= 2 && rest.starts_with('\\') {
                let c = rest.as_bytes()[1];
                if b"dDsSwW".contains(&c) {
                    let set = match c.to_ascii_lowercase() {
                        b'd' => PERL_DIGIT,
                        b's' => PERL_SPACE,
                        _ => PERL_WORD,
                    };
                    if c.is_ascii_uppercase() {
                        out.push_str(&format!("[^{set}]"));
                    } else {
                        out.push_str(set);
                    }
                    t += 2;
                    continue;
                }
            }
            let range_start = t;
            let (lo, next) = self.class_char(t, at)?;
            t = next;
            let mut hi = lo;
            if p[t..].len() >= 2 && p[t..].starts_with('-') && !p[t + 1..].starts_with(']') {
                let (h, next) = self.class_char(t + 1, at)?;
                t = next;
                hi = h;
                if hi < lo {
                    return Err((ERR_INVALID_CLASS_RANGE, p[range_start..t].to_string()));
                }
            }
            push_literal(&mut out, lo);
            if hi != lo {
                out.push('-');
                push_literal(&mut out, hi);
            }
        }
        out.push(']');
        self.out.push_str(&out);
        Ok(t + 1)
    }

    fn class_char(&self, t: usize, class_start: usize) -> Result<(char, usize), ReError> {
        match self.char_at(t) {
            None => Err((ERR_MISSING_BRACKET, self.p[class_start..].to_string())),
            Some('\\') => self.escape_char(t),
            Some(c) => Ok((c, t + c.len_utf8())),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Formats (asserted for drafts 4, 6 and 7, and when a schema's own shape is checked)
// ------------------------------------------------------------------------------------------

const KNOWN_FORMATS: [&str; 18] = [
    "json-pointer",
    "relative-json-pointer",
    "uuid",
    "duration",
    "period",
    "ipv4",
    "ipv6",
    "hostname",
    "email",
    "date",
    "time",
    "date-time",
    "uri",
    "iri",
    "uri-reference",
    "iri-reference",
    "uri-template",
    "semver",
];

/// Checks a string against a format; anything that is not a string passes.
fn check_format(name: &str, v: &Json) -> Result<(), String> {
    let Json::String(s) = v else {
        return Ok(());
    };
    match name {
        "regex" => GoRegex::new(s).map(|_| ()),
        "json-pointer" => format_json_pointer(s),
        "relative-json-pointer" => format_relative_json_pointer(s),
        "uuid" => format_uuid(s),
        "duration" => format_duration(s),
        "period" => format_period(s),
        "ipv4" => format_ipv4(s),
        "ipv6" => format_ipv6(s),
        "hostname" => format_hostname(s),
        "email" => format_email(s),
        "date" => go_parse_date(s.as_bytes()),
        "time" => format_time(s.as_bytes()),
        "date-time" => format_date_time(s.as_bytes()),
        "uri" | "iri" => format_uri(s),
        "uri-reference" | "iri-reference" => format_uri_reference(s),
        "uri-template" => format_uri_template(s),
        "semver" => format_semver(s),
        _ => Ok(()),
    }
}

fn quote_rune(c: char) -> String {
    slipway_template::fmt::quote_rune(c)
}

fn format_json_pointer(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    if !s.starts_with('/') {
        return Err("not starting with /".to_string());
    }
    for tok in s.split('/').skip(1) {
        let mut escape = false;
        for c in tok.chars() {
            if escape {
                escape = false;
                if c != '0' && c != '1' {
                    return Err("~ must be followed by 0 or 1".to_string());
                }
                continue;
            }
            if c == '~' {
                escape = true;
            }
        }
        if escape {
            return Err("~ must be followed by 0 or 1".to_string());
        }
    }
    Ok(())
}

fn format_relative_json_pointer(s: &str) -> Result<(), String> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err("must start with non-negative integer".to_string());
    }
    if digits > 1 && s.starts_with('0') {
        return Err("starts with zero".to_string());
    }
    let rest = &s[digits..];
    if rest == "#" {
        return Ok(());
    }
    format_json_pointer(rest)
}

fn format_uuid(s: &str) -> Result<(), String> {
    let sizes = [8, 4, 4, 4, 12];
    let groups: Vec<&str> = s.split('-').collect();
    if groups.len() != sizes.len() {
        return Err(format!("must have {} elements", sizes.len()));
    }
    for (i, group) in groups.iter().enumerate() {
        if group.len() != sizes[i] {
            return Err(format!(
                "element {} must be {} characters long",
                i + 1,
                sizes[i]
            ));
        }
        if let Some(c) = group.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(format!("non-hex character {}", quote_rune(c)));
        }
    }
    Ok(())
}

fn format_duration(s: &str) -> Result<(), String> {
    let Some(s) = s.strip_prefix('P') else {
        return Err("must start with P".to_string());
    };
    if s.is_empty() {
        return Err("nothing after P".to_string());
    }
    if let Some(weeks) = s.strip_suffix('W') {
        if weeks.is_empty() {
            return Err("no number in week".to_string());
        }
        if !weeks.bytes().all(|b| b.is_ascii_digit()) {
            return Err("invalid week".to_string());
        }
        return Ok(());
    }
    let all_units = ["YMD", "HMS"];
    for (i, part) in s.split('T').enumerate() {
        if i != 0 && part.is_empty() {
            return Err("no time elements".to_string());
        }
        if i >= all_units.len() {
            return Err("more than one T".to_string());
        }
        let mut units = all_units[i];
        let mut rest = part;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err("missing number".to_string());
            }
            rest = &rest[digits..];
            if rest.is_empty() {
                return Err("missing unit".to_string());
            }
            let unit = rest.as_bytes()[0];
            match units.bytes().position(|u| u == unit) {
                Some(j) => units = &units[j + 1..],
                None => {
                    let q = quote_rune(char::from(unit));
                    return Err(if all_units[i].as_bytes().contains(&unit) {
                        format!("unit {q} out of order")
                    } else {
                        format!("invalid unit {q}")
                    });
                }
            }
            rest = &rest[1..];
        }
    }
    Ok(())
}

fn format_period(s: &str) -> Result<(), String> {
    let Some((start, end)) = s.split_once('/') else {
        return Err("missing slash".to_string());
    };
    if start.starts_with('P') {
        format_duration(start).map_err(|e| format!("invalid start duration: {e}"))?;
        format_date_time(end.as_bytes()).map_err(|e| format!("invalid end date-time: {e}"))?;
    } else {
        format_date_time(start.as_bytes()).map_err(|e| format!("invalid start date-time: {e}"))?;
        if end.starts_with('P') {
            format_duration(end).map_err(|e| format!("invalid end duration: {e}"))?;
        } else {
            format_date_time(end.as_bytes()).map_err(|e| format!("invalid end date-time: {e}"))?;
        }
    }
    Ok(())
}

/// Go's `strconv.Atoi`, errors included.
fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

fn format_ipv4(s: &str) -> Result<(), String> {
    let groups: Vec<&str> = s.split('.').collect();
    if groups.len() != 4 {
        return Err("expected four decimals".to_string());
    }
    for group in groups {
        if group.len() > 1 && group.starts_with('0') {
            return Err("leading zeros".to_string());
        }
        let n = go_atoi(group)?;
        if !(0..=255).contains(&n) {
            return Err("decimal must be between 0 and 255".to_string());
        }
    }
    Ok(())
}

fn format_ipv6(s: &str) -> Result<(), String> {
    if !s.contains(':') {
        return Err("missing colon".to_string());
    }
    let addr = parse_addr(s)?;
    if addr.has_zone {
        return Err("zone id is not a part of ipv6 address".to_string());
    }
    Ok(())
}

/// What Go's `netip.ParseAddr` tells about an address.
struct Addr {
    is4: bool,
    has_zone: bool,
}

fn addr_error(input: &str, msg: &str, at: &str) -> String {
    if at.is_empty() {
        format!("ParseAddr({}): {msg}", go_quote(input))
    } else {
        format!(
            "ParseAddr({}): {msg} (at {})",
            go_quote(input),
            go_quote(at)
        )
    }
}

/// Go's `netip.ParseAddr`, errors included.
fn parse_addr(s: &str) -> Result<Addr, String> {
    for b in s.bytes() {
        match b {
            b'.' => {
                parse_ipv4_fields(s, s)?;
                return Ok(Addr {
                    is4: true,
                    has_zone: false,
                });
            }
            b':' => return parse_ipv6(s),
            b'%' => return Err(addr_error(s, "missing IPv6 address", "")),
            _ => {}
        }
    }
    Err(addr_error(s, "unable to parse IP", ""))
}

fn parse_ipv4_fields(input: &str, s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let mut val = 0u32;
    let mut pos = 0;
    let mut dig_len = 0;
    for i in 0..b.len() {
        if b[i].is_ascii_digit() {
            if dig_len == 1 && val == 0 {
                return Err(addr_error(
                    input,
                    "IPv4 field has octet with leading zero",
                    "",
                ));
            }
            val = val * 10 + u32::from(b[i] - b'0');
            dig_len += 1;
            if val > 255 {
                return Err(addr_error(input, "IPv4 field has value >255", ""));
            }
        } else if b[i] == b'.' {
            if i == 0 || i == b.len() - 1 || b[i - 1] == b'.' {
                return Err(addr_error(
                    input,
                    "IPv4 field must have at least one digit",
                    &s[i..],
                ));
            }
            if pos == 3 {
                return Err(addr_error(input, "IPv4 address too long", ""));
            }
            pos += 1;
            val = 0;
            dig_len = 0;
        } else {
            return Err(addr_error(input, "unexpected character", &s[i..]));
        }
    }
    if pos < 3 {
        return Err(addr_error(input, "IPv4 address too short", ""));
    }
    Ok(())
}

fn parse_ipv6(input: &str) -> Result<Addr, String> {
    let mut s = input;
    let mut has_zone = false;
    if let Some(i) = s.find('%') {
        let zone = &s[i + 1..];
        if zone.is_empty() {
            return Err(addr_error(input, "zone must be a non-empty string", ""));
        }
        has_zone = true;
        s = &s[..i];
    }
    let zone_len = input.len() - s.len();
    let ok = Addr {
        is4: false,
        has_zone,
    };
    let mut ellipsis: i32 = -1;
    if s.starts_with("::") {
        ellipsis = 0;
        s = &s[2..];
        if s.is_empty() {
            return Ok(ok);
        }
    }
    let mut i = 0;
    while i < 16 {
        let b = s.as_bytes();
        let mut off = 0;
        let mut acc: u32 = 0;
        while off < b.len() {
            let Some(d) = char::from(b[off]).to_digit(16) else {
                break;
            };
            acc = (acc << 4) + d;
            if off > 3 {
                return Err(addr_error(
                    input,
                    "each group must have 4 or less digits",
                    s,
                ));
            }
            if acc > 0xFFFF {
                return Err(addr_error(input, "IPv6 field has value >=2^16", s));
            }
            off += 1;
        }
        if off == 0 {
            return Err(addr_error(
                input,
                "each colon-separated field must have at least one digit",
                s,
            ));
        }
        if off < b.len() && b[off] == b'.' {
            if ellipsis < 0 && i != 12 {
                return Err(addr_error(
                    input,
                    "embedded IPv4 address must replace the final 2 fields of the address",
                    s,
                ));
            }
            if i + 4 > 16 {
                return Err(addr_error(
                    input,
                    "too many hex fields to fit an embedded IPv4 at the end of the address",
                    s,
                ));
            }
            let end = input.len() - if has_zone { zone_len } else { 0 };
            parse_ipv4_fields(input, &input[end - s.len()..end])?;
            s = "";
            i += 4;
            break;
        }
        i += 2;
        s = &s[off..];
        if s.is_empty() {
            break;
        }
        if !s.starts_with(':') {
            return Err(addr_error(input, "unexpected character, want colon", s));
        } else if s.len() == 1 {
            return Err(addr_error(
                input,
                "colon must be followed by more characters",
                s,
            ));
        }
        s = &s[1..];
        if s.starts_with(':') {
            if ellipsis >= 0 {
                return Err(addr_error(input, "multiple :: in address", s));
            }
            ellipsis = i;
            s = &s[1..];
            if s.is_empty() {
                break;
            }
        }
    }
    if !s.is_empty() {
        return Err(addr_error(input, "trailing garbage after address", s));
    }
    if i < 16 {
        if ellipsis < 0 {
            return Err(addr_error(input, "address string too short", ""));
        }
    } else if ellipsis >= 0 {
        return Err(addr_error(
            input,
            "the :: must expand to at least one field of zeros",
            "",
        ));
    }
    Ok(ok)
}

fn format_hostname(s: &str) -> Result<(), String> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.len() > 253 {
        return Err("more than 253 characters long".to_string());
    }
    for label in s.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("label must be 1 to 63 characters long".to_string());
        }
        if label.starts_with('-') {
            return Err("label starts with hyphen".to_string());
        }
        if label.ends_with('-') {
            return Err("label ends with hyphen".to_string());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!("invalid character {}", quote_rune(c)));
        }
    }
    Ok(())
}

fn format_email(s: &str) -> Result<(), String> {
    if s.len() > 254 {
        return Err("more than 255 characters long".to_string());
    }
    let Some(at) = s.rfind('@') else {
        return Err("missing @".to_string());
    };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.len() > 64 {
        return Err("local part more than 64 characters long".to_string());
    }
    if local.len() > 1 && local.starts_with('"') && local.ends_with('"') {
        let inner = &local[1..local.len() - 1];
        if inner.contains(['\\', '"']) {
            return Err("backslash and quote are not allowed within quoted local part".to_string());
        }
    } else {
        if local.starts_with('.') {
            return Err("starts with dot".to_string());
        }
        if local.ends_with('.') {
            return Err("ends with dot".to_string());
        }
        if local.contains("..") {
            return Err("consecutive dots".to_string());
        }
        if let Some(c) = local
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || ".!#$%&'*+-/=?^_`{|}~".contains(*c)))
        {
            return Err(format!("invalid character {}", quote_rune(c)));
        }
    }
    if domain.starts_with('[') && domain.ends_with(']') && domain.len() >= 2 {
        let inner = &domain[1..domain.len() - 1];
        if let Some(v6) = inner.strip_prefix("IPv6:") {
            return format_ipv6(v6).map_err(|e| format!("invalid ipv6 address: {e}"));
        }
        return format_ipv4(inner).map_err(|e| format!("invalid ipv4 address: {e}"));
    }
    format_hostname(domain).map_err(|e| format!("invalid domain: {e}"))
}

/// Go's `time` package quoting of the text it failed to parse.
fn time_quote(s: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in s {
        if !(b' '..0x80).contains(&b) {
            out.push_str(&format!("\\x{b:02x}"));
        } else {
            if b == b'"' || b == b'\\' {
                out.push('\\');
            }
            out.push(char::from(b));
        }
    }
    out.push('"');
    out
}

/// `time.Parse("2006-01-02", s)`, with its errors.
fn go_parse_date(s: &[u8]) -> Result<(), String> {
    let cannot = |value: &[u8], elem: &str| {
        format!(
            "parsing time {} as \"2006-01-02\": cannot parse {} as \"{elem}\"",
            time_quote(s),
            time_quote(value)
        )
    };
    let getnum = |v: &[u8]| -> Option<u32> {
        if v.len() >= 2 && v[0].is_ascii_digit() && v[1].is_ascii_digit() {
            Some(u32::from(v[0] - b'0') * 10 + u32::from(v[1] - b'0'))
        } else {
            None
        }
    };
    let mut v = s;
    if v.len() < 4 || !v[0].is_ascii_digit() || !v[..4].iter().all(u8::is_ascii_digit) {
        return Err(cannot(v, "2006"));
    }
    let year: i64 = std::str::from_utf8(&v[..4])
        .expect("digits")
        .parse()
        .expect("digits");
    v = &v[4..];
    if v.first() != Some(&b'-') {
        return Err(cannot(v, "-"));
    }
    v = &v[1..];
    let Some(month) = getnum(v) else {
        return Err(cannot(v, "01"));
    };
    v = &v[2..];
    if !(1..=12).contains(&month) {
        return Err(format!(
            "parsing time {}: month out of range",
            time_quote(s)
        ));
    }
    if v.first() != Some(&b'-') {
        return Err(cannot(v, "-"));
    }
    v = &v[1..];
    let Some(day) = getnum(v) else {
        return Err(cannot(v, "02"));
    };
    v = &v[2..];
    if !v.is_empty() {
        return Err(format!(
            "parsing time {}: extra text: {}",
            time_quote(s),
            time_quote(v)
        ));
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day < 1 || day > days {
        return Err(format!("parsing time {}: day out of range", time_quote(s)));
    }
    Ok(())
}

fn format_time(s: &[u8]) -> Result<(), String> {
    if s.len() < 9 {
        return Err("less than 9 characters long".to_string());
    }
    if s[2] != b':' || s[5] != b':' {
        return Err("missing colon in correct place".to_string());
    }
    let mut hms = Vec::with_capacity(3);
    for tok in s[..8].splitn(3, |b| *b == b':') {
        let tok = String::from_utf8_lossy(tok);
        let Ok(n) = go_atoi(&tok) else {
            return Err("invalid hour/min/sec".to_string());
        };
        if n < 0 {
            return Err("non-positive hour/min/sec".to_string());
        }
        hms.push(n);
    }
    if hms.len() != 3 {
        return Err("missing hour/min/sec".to_string());
    }
    let (mut h, mut m, sec) = (hms[0], hms[1], hms[2]);
    if h > 23 || m > 59 || sec > 60 {
        return Err("hour/min/sec out of range".to_string());
    }
    let mut rest = &s[8..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let digits = frac.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err("no digits in second fraction".to_string());
        }
        rest = &frac[digits..];
    }
    if rest != b"z" && rest != b"Z" {
        if rest.len() != 6 {
            return Err("offset must be 6 characters long".to_string());
        }
        let sign: i64 = match rest[0] {
            b'+' => -1,
            b'-' => 1,
            _ => return Err("offset must begin with plus/minus".to_string()),
        };
        let rest = &rest[1..];
        if rest[2] != b':' {
            return Err("missing colon in offset in correct place".to_string());
        }
        let mut zhm = Vec::with_capacity(2);
        for tok in rest.splitn(2, |b| *b == b':') {
            let tok = String::from_utf8_lossy(tok);
            let Ok(n) = go_atoi(&tok) else {
                return Err("invalid hour/min in offset".to_string());
            };
            if n < 0 {
                return Err("non-positive hour/min in offset".to_string());
            }
            zhm.push(n);
        }
        let (zh, zm) = (zhm[0], zhm[1]);
        if zh > 23 || zm > 59 {
            return Err("hour/min in offset out of range".to_string());
        }
        let mut hm = (h * 60 + m) + sign * (zh * 60 + zm);
        if hm < 0 {
            hm += 24 * 60;
        }
        h = hm / 60;
        m = hm % 60;
    }
    if sec >= 60 && (h != 23 || m != 59) {
        return Err("invalid leap second".to_string());
    }
    Ok(())
}

fn format_date_time(s: &[u8]) -> Result<(), String> {
    if s.len() < 20 {
        return Err("less than 20 characters long".to_string());
    }
    if s[10] != b't' && s[10] != b'T' {
        return Err("11th character must be t or T".to_string());
    }
    go_parse_date(&s[..10]).map_err(|e| format!("invalid date element: {e}"))?;
    format_time(&s[11..]).map_err(|e| format!("invalid time element: {e}"))?;
    Ok(())
}

/// What the URL formats need from Go's `url.Parse`.
struct GoUrl {
    scheme: String,
    host: String,
    raw_path: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UrlPart {
    Path,
    Fragment,
    Host,
    Zone,
    UserPassword,
}

fn host_allowed(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!$&'()*+,;=:[]<>\"-_.~".contains(&c)
}

/// Go's `url` unescaping of one part, errors included.
fn url_unescape(s: &str, part: UrlPart) -> Result<String, String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len() || !is_hex(b[i + 1]) || !is_hex(b[i + 2]) {
                    let end = (i + 3).min(b.len());
                    return Err(format!(
                        "invalid URL escape {}",
                        go_quote(&String::from_utf8_lossy(&b[i..end]))
                    ));
                }
                let seq = &s[i..i + 3];
                if part == UrlPart::Host && unhex(b[i + 1]) < 8 && seq != "%25" {
                    return Err(format!("invalid URL escape {}", go_quote(seq)));
                }
                if part == UrlPart::Zone {
                    let v = unhex(b[i + 1]) << 4 | unhex(b[i + 2]);
                    if seq != "%25" && v != b' ' && !host_allowed(v) {
                        return Err(format!("invalid URL escape {}", go_quote(seq)));
                    }
                }
                i += 3;
            }
            c => {
                if matches!(part, UrlPart::Host | UrlPart::Zone) && c < 0x80 && !host_allowed(c) {
                    return Err(format!(
                        "invalid character {} in host name",
                        go_quote(&char::from(c).to_string())
                    ));
                }
                i += 1;
            }
        }
    }
    path_unescape(s)
}

/// Go's escaping of a URL path (`url.URL.EscapedPath` without a raw path).
fn url_escape_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&c) {
            out.push(char::from(c));
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

fn valid_optional_port(port: &str) -> bool {
    port.is_empty() || (port.starts_with(':') && port[1..].bytes().all(|b| b.is_ascii_digit()))
}

/// Go's `url.Parse`, errors included.
fn go_url_parse(raw: &str) -> Result<GoUrl, String> {
    let (u, frag) = match raw.find('#') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    };
    let mut url = go_url_parse_main(u).map_err(|e| format!("parse {}: {e}", go_quote(u)))?;
    if let Some(frag) = frag
        && !frag.is_empty()
    {
        url_unescape(frag, UrlPart::Fragment)
            .map_err(|e| format!("parse {}: {e}", go_quote(raw)))?;
    }
    url.scheme = url.scheme.to_ascii_lowercase();
    Ok(url)
}

fn go_url_parse_main(raw: &str) -> Result<GoUrl, String> {
    if raw.bytes().any(|b| b < b' ' || b == 0x7f) {
        return Err("net/url: invalid control character in URL".to_string());
    }
    let mut url = GoUrl {
        scheme: String::new(),
        host: String::new(),
        raw_path: String::new(),
    };
    if raw == "*" {
        return Ok(url);
    }
    let mut rest = raw;
    for (i, c) in raw.bytes().enumerate() {
        if c.is_ascii_alphabetic() {
            continue;
        }
        if c.is_ascii_digit() || b"+-.".contains(&c) {
            if i == 0 {
                break;
            }
            continue;
        }
        if c == b':' {
            if i == 0 {
                return Err("missing protocol scheme".to_string());
            }
            url.scheme = raw[..i].to_string();
            rest = &raw[i + 1..];
        }
        break;
    }
    let scheme = url.scheme.to_ascii_lowercase();
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        rest = &rest[..rest.len() - 1];
    } else if let Some(i) = rest.find('?') {
        rest = &rest[..i];
    }
    if !rest.starts_with('/') {
        if !scheme.is_empty() {
            return Ok(url);
        }
        let segment = rest.split('/').next().unwrap_or("");
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".to_string());
        }
    }
    if (!scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let authority_and_path = &rest[2..];
        let (authority, path) = match authority_and_path.find('/') {
            Some(i) => (&authority_and_path[..i], &authority_and_path[i..]),
            None => (authority_and_path, ""),
        };
        url.host = go_parse_authority(&scheme, authority)?;
        rest = path;
    }
    let path = url_unescape(rest, UrlPart::Path)?;
    if url_escape_path(&path) != rest {
        url.raw_path = rest.to_string();
    }
    Ok(url)
}

fn go_parse_authority(scheme: &str, authority: &str) -> Result<String, String> {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let host = go_parse_host(scheme, host)?;
    if let Some(userinfo) = userinfo {
        if !userinfo
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c))
        {
            return Err("net/url: invalid userinfo".to_string());
        }
        for part in userinfo.splitn(2, ':') {
            url_unescape(part, UrlPart::UserPassword)?;
        }
    }
    Ok(host)
}

fn go_parse_host(scheme: &str, host: &str) -> Result<String, String> {
    match host.rfind('[') {
        Some(i) if i > 0 => return Err("invalid IP-literal".to_string()),
        Some(_) => {
            let Some(close) = host.rfind(']') else {
                return Err("missing ']' in host".to_string());
            };
            let colon_port = &host[close + 1..];
            if !valid_optional_port(colon_port) {
                return Err(format!("invalid port {} after host", go_quote(colon_port)));
            }
            url_unescape(colon_port, UrlPart::Host)?;
            let hostname = &host[1..close];
            let unescaped = match hostname.find("%25") {
                Some(z) => {
                    url_unescape(&hostname[..z], UrlPart::Host)?
                        + &url_unescape(&hostname[z..], UrlPart::Zone)?
                }
                None => url_unescape(hostname, UrlPart::Host)?,
            };
            let addr = parse_addr(&unescaped).map_err(|e| format!("invalid host: {e}"))?;
            if addr.is4 {
                return Err("invalid IP-literal".to_string());
            }
            return Ok(format!("[{unescaped}]{colon_port}"));
        }
        None => {}
    }
    if let Some(first) = host.find(':') {
        let last = host.rfind(':').expect("has a colon");
        let i = if last != first && !(scheme == "http" || scheme == "https") {
            last
        } else {
            first
        };
        let colon_port = &host[i..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", go_quote(colon_port)));
        }
    }
    url_unescape(host, UrlPart::Host)
}

/// `url.URL.Hostname`: the host without port and brackets.
fn url_hostname(host: &str) -> &str {
    let mut h = host;
    if let Some(colon) = h.rfind(':')
        && valid_optional_port(&h[colon..])
    {
        h = &h[..colon];
    }
    if h.starts_with('[') && h.ends_with(']') && h.len() >= 2 {
        h = &h[1..h.len() - 1];
    }
    h
}

fn format_parse_url(s: &str) -> Result<GoUrl, String> {
    let u = go_url_parse(s)?;
    let hostname = url_hostname(&u.host);
    if hostname.contains(':') {
        if !u.host.contains('[') || !u.host.contains(']') {
            return Err("ipv6 address not enclosed in brackets".to_string());
        }
        format_ipv6(hostname).map_err(|e| format!("invalid ipv6 address: {e}"))?;
    }
    Ok(u)
}

fn format_uri(s: &str) -> Result<(), String> {
    let u = format_parse_url(s)?;
    if u.scheme.is_empty() {
        return Err("relative url".to_string());
    }
    Ok(())
}

fn format_uri_reference(s: &str) -> Result<(), String> {
    if s.contains('\\') {
        return Err("contains \\".to_string());
    }
    format_parse_url(s).map(|_| ())
}

fn format_uri_template(s: &str) -> Result<(), String> {
    let u = format_parse_url(s)?;
    for tok in u.raw_path.split('/') {
        let tok = path_unescape(tok).map_err(|e| format!("percent decode failed: {e}"))?;
        let mut want_open = true;
        for c in tok.chars() {
            let got_open = match c {
                '{' => true,
                '}' => false,
                _ => continue,
            };
            if got_open != want_open {
                return Err("nested curly braces".to_string());
            }
            want_open = !want_open;
        }
        if !want_open {
            return Err("no matching closing brace".to_string());
        }
    }
    Ok(())
}

fn format_semver(s: &str) -> Result<(), String> {
    let mut s = s;
    if let Some(i) = s.find('+') {
        let build = &s[i + 1..];
        if build.is_empty() {
            return Err("build is empty".to_string());
        }
        for id in build.split('.') {
            if id.is_empty() {
                return Err("build identifier is empty".to_string());
            }
            if let Some(c) = id
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
            {
                return Err(format!(
                    "invalid character {} in build identifier",
                    quote_rune(c)
                ));
            }
        }
        s = &s[..i];
    }
    if let Some(i) = s.find('-') {
        for id in s[i + 1..].split('.') {
            if id.is_empty() {
                return Err("pre-release identifier is empty".to_string());
            }
            if let Some(c) = id
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
            {
                return Err(format!(
                    "invalid character {} in pre-release identifier",
                    quote_rune(c)
                ));
            }
            let all_digits = id.bytes().all(|b| b.is_ascii_digit());
            if all_digits && id.len() > 1 && id.starts_with('0') {
                return Err("pre-release numeric identifier starts with zero".to_string());
            }
        }
        s = &s[..i];
    }
    let versions: Vec<&str> = s.split('.').collect();
    if versions.len() != 3 {
        return Err("versionCore must have 3 numbers separated by dot".to_string());
    }
    for (name, v) in ["major", "minor", "patch"].iter().zip(versions) {
        if v.is_empty() {
            return Err(format!("{name} is empty"));
        }
        if v.len() > 1 && v.starts_with('0') {
            return Err(format!("{name} starts with zero"));
        }
        if !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{name} contains non-digit"));
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Schema documents: drafts, resources, anchors
// ------------------------------------------------------------------------------------------

fn draft_url(draft: u32) -> &'static str {
    match draft {
        4 => "http://json-schema.org/draft-04/schema",
        6 => "http://json-schema.org/draft-06/schema",
        7 => "http://json-schema.org/draft-07/schema",
        2019 => "https://json-schema.org/draft/2019-09/schema",
        _ => "https://json-schema.org/draft/2020-12/schema",
    }
}

fn draft_from_url(url: &str) -> Option<u32> {
    let (u, frag) = split_fragment(url);
    if !frag.is_empty() {
        return None;
    }
    let u = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"))
        .unwrap_or(u);
    match u {
        "json-schema.org/schema" | "json-schema.org/draft/2020-12/schema" => Some(2020),
        "json-schema.org/draft/2019-09/schema" => Some(2019),
        "json-schema.org/draft-07/schema" => Some(7),
        "json-schema.org/draft-06/schema" => Some(6),
        "json-schema.org/draft-04/schema" => Some(4),
        _ => None,
    }
}

/// The `$id` (`id` in draft 4) of a schema object, without its fragment; ignored next to
/// `$ref` before 2019-09.
fn schema_id(draft: u32, obj: &BTreeMap<String, Json>) -> String {
    if draft < 2019 && obj.contains_key("$ref") {
        return String::new();
    }
    let key = if draft == 4 { "id" } else { "$id" };
    match obj.get(key) {
        Some(Json::String(s)) => split_fragment(s).0.to_string(),
        _ => String::new(),
    }
}

/// The places a draft looks for subschemas, with their JSON pointers.
fn subschemas<'j>(
    draft: u32,
    obj: &'j BTreeMap<String, Json>,
    ptr: &str,
) -> Vec<(String, &'j Json)> {
    let mut maps = vec![
        "definitions",
        "properties",
        "patternProperties",
        "dependencies",
    ];
    let mut singles = vec!["not", "additionalProperties", "items", "additionalItems"];
    let mut arrays = vec!["allOf", "anyOf", "oneOf", "items"];
    if draft >= 6 {
        singles.extend(["propertyNames", "contains"]);
    }
    if draft >= 7 {
        singles.extend(["if", "then", "else"]);
    }
    if draft >= 2019 {
        maps.extend(["$defs", "dependentSchemas"]);
        singles.extend(["unevaluatedProperties", "unevaluatedItems", "contentSchema"]);
    }
    if draft >= 2020 {
        arrays.push("prefixItems");
    }
    let mut out = Vec::new();
    for key in maps {
        if let Some(Json::Object(m)) = obj.get(key) {
            for (name, v) in m {
                out.push((format!("{ptr}/{key}/{}", escape_token(name)), v));
            }
        }
    }
    for key in singles {
        if let Some(v) = obj.get(key) {
            out.push((format!("{ptr}/{key}"), v));
        }
    }
    for key in arrays {
        if let Some(Json::Array(items)) = obj.get(key) {
            for (i, v) in items.iter().enumerate() {
                out.push((format!("{ptr}/{key}/{i}"), v));
            }
        }
    }
    out
}

/// A schema resource: the root of a document or a subschema with its own `$id`.
#[derive(Clone, Debug)]
struct Resource {
    ptr: String,
    id: String,
    draft: u32,
    anchors: BTreeMap<String, String>,
    dynamic_anchors: Vec<String>,
}

/// A loaded schema document.
#[derive(Clone, Debug)]
struct Root {
    url: String,
    doc: Rc<Json>,
    resources: Vec<Resource>,
    processed: HashSet<String>,
}

impl Root {
    /// The resource a pointer is inside of: the one at the longest prefix.
    fn resource_index(&self, ptr: &str) -> usize {
        let mut p = ptr;
        loop {
            if let Some(i) = self.resources.iter().position(|r| r.ptr == p) {
                return i;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => break,
            }
        }
        self.resources
            .iter()
            .position(|r| r.ptr.is_empty())
            .expect("a root resource")
    }

    fn resolve_fragment_in(&self, frag: &str, res: usize) -> Result<String, String> {
        let res = &self.resources[res];
        if frag.is_empty() || frag.starts_with('/') {
            return Ok(format!("{}{frag}", res.ptr));
        }
        res.anchors.get(frag).cloned().ok_or_else(|| {
            format!(
                "anchor in {} not found in schema {}",
                go_quote(&format!("{}#{}", res.id, encode_pointer(frag))),
                go_quote(&self.url)
            )
        })
    }

    fn root_resource(&self) -> usize {
        self.resource_index("")
    }
}

/// Finds the value a JSON pointer names.
fn lookup<'j>(doc: &'j Json, url: &str, ptr: &str) -> Result<&'j Json, String> {
    let mut v = doc;
    if ptr.is_empty() {
        return Ok(v);
    }
    for tok in ptr.split('/').skip(1) {
        let Some(tok) = unescape_token(tok) else {
            return Err(format!(
                "invalid json-pointer {}",
                go_quote(&location(url, ptr))
            ));
        };
        let next = match v {
            Json::Object(m) => m.get(&tok),
            Json::Array(a) => go_atoi(&tok)
                .ok()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(n) => v = n,
            None => {
                return Err(format!(
                    "json-pointer in {} not found",
                    go_quote(&location(url, ptr))
                ));
            }
        }
    }
    Ok(v)
}

/// Where a document outside `values.schema.json` comes from: an unresolved `urn:` is an
/// empty schema, anything else is refused. (References to the standard meta-schemas never
/// get here: see [`MetaRef`].)
fn load_document(url: &str) -> Result<Json, String> {
    if url.starts_with("urn:") {
        return Ok(Json::Bool(true));
    }
    Err(format!(
        "failing loading {}: schemas outside values.schema.json are not fetched",
        go_quote(url)
    ))
}

// ------------------------------------------------------------------------------------------
// Compiled schemas
// ------------------------------------------------------------------------------------------

const T_NULL: u8 = 1;
const T_BOOLEAN: u8 = 2;
const T_NUMBER: u8 = 4;
const T_INTEGER: u8 = 8;
const T_STRING: u8 = 16;
const T_ARRAY: u8 = 32;
const T_OBJECT: u8 = 64;

fn type_bit(name: &str) -> u8 {
    match name {
        "null" => T_NULL,
        "boolean" => T_BOOLEAN,
        "number" => T_NUMBER,
        "integer" => T_INTEGER,
        "string" => T_STRING,
        "array" => T_ARRAY,
        "object" => T_OBJECT,
        _ => 0,
    }
}

fn type_names(bits: u8) -> Vec<&'static str> {
    [
        (T_NULL, "null"),
        (T_BOOLEAN, "boolean"),
        (T_NUMBER, "number"),
        (T_INTEGER, "integer"),
        (T_STRING, "string"),
        (T_ARRAY, "array"),
        (T_OBJECT, "object"),
    ]
    .iter()
    .filter(|(b, _)| bits & b != 0)
    .map(|(_, n)| *n)
    .collect()
}

/// The JSON type of an instance (0 for values JSON cannot hold).
fn type_of(v: &Json) -> u8 {
    match v {
        Json::Null => T_NULL,
        Json::Bool(_) => T_BOOLEAN,
        Json::Number(_) => T_NUMBER,
        Json::String(_) => T_STRING,
        Json::Array(_) => T_ARRAY,
        Json::Object(_) => T_OBJECT,
        Json::Invalid(_) => 0,
    }
}

#[derive(Clone, Debug)]
enum Additional {
    Bool(bool),
    Schema(usize),
}

#[derive(Clone, Debug)]
enum Items {
    One(usize),
    Many(Vec<usize>),
}

#[derive(Clone, Debug)]
enum Dependency {
    Required(Vec<String>),
    Schema(usize),
}

/// One compiled schema.
#[derive(Default, Debug)]
struct Node {
    url: String,
    ptr: String,
    loc: String,
    assert_format: bool,
    compiled: bool,
    draft: u32,
    resource: usize,
    dynamic_anchors: BTreeMap<String, usize>,
    bool_schema: Option<bool>,
    /// A standard meta-schema: the value must be a schema of that dialect.
    meta: Option<MetaRef>,

    ref_: Option<usize>,
    recursive_ref: Option<usize>,
    recursive_anchor: bool,
    dynamic_ref: Option<(usize, String)>,
    dynamic_anchor: String,
    types: u8,
    enum_: Option<Vec<Json>>,
    const_: Option<Json>,
    not: Option<usize>,
    all_of: Vec<usize>,
    any_of: Vec<usize>,
    one_of: Vec<usize>,
    if_: Option<usize>,
    then: Option<usize>,
    else_: Option<usize>,
    format: Option<String>,

    max_properties: Option<i64>,
    min_properties: Option<i64>,
    required: Vec<String>,
    property_names: Option<usize>,
    properties: BTreeMap<String, usize>,
    pattern_properties: Vec<(GoRegex, usize)>,
    additional_properties: Option<Additional>,
    dependencies: BTreeMap<String, Dependency>,
    dependent_required: BTreeMap<String, Vec<String>>,
    dependent_schemas: BTreeMap<String, usize>,
    unevaluated_properties: Option<usize>,

    min_items: Option<i64>,
    max_items: Option<i64>,
    unique_items: bool,
    contains: Option<usize>,
    min_contains: Option<i64>,
    max_contains: Option<i64>,
    items: Option<Items>,
    additional_items: Option<Additional>,
    prefix_items: Vec<usize>,
    items2020: Option<usize>,
    unevaluated_items: Option<usize>,

    min_length: Option<i64>,
    max_length: Option<i64>,
    pattern: Option<GoRegex>,

    maximum: Option<Dec>,
    minimum: Option<Dec>,
    exclusive_maximum: Option<Dec>,
    exclusive_minimum: Option<Dec>,
    multiple_of: Option<Dec>,

    all_props_evaluated: bool,
    all_items_evaluated: bool,
    num_items_evaluated: usize,
}

fn to_strings(items: &[Json]) -> Vec<String> {
    items
        .iter()
        .filter_map(|v| match v {
            Json::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// Loads documents, finds their resources, checks their shape against their dialects and
/// compiles schemas into [`Node`]s.
struct Compiler {
    docs: HashMap<String, Rc<Json>>,
    roots: HashMap<String, Root>,
    nodes: Vec<Node>,
    index: HashMap<(String, String, bool), usize>,
}

impl Compiler {
    fn new() -> Self {
        Compiler {
            docs: HashMap::new(),
            roots: HashMap::new(),
            nodes: Vec::new(),
            index: HashMap::new(),
        }
    }

    fn add_resource(&mut self, url: &str, doc: Json) {
        self.docs.insert(url.to_string(), Rc::new(doc));
    }

    fn or_load(&mut self, url: &str) -> Result<(), String> {
        if self.roots.contains_key(url) {
            return Ok(());
        }
        let doc = match self.docs.get(url) {
            Some(d) => d.clone(),
            None => {
                let d = Rc::new(load_document(url)?);
                self.docs.insert(url.to_string(), d.clone());
                d
            }
        };
        let mut root = Root {
            url: url.to_string(),
            doc: doc.clone(),
            resources: Vec::new(),
            processed: HashSet::new(),
        };
        self.collect_resources(&mut root, &doc, url.to_string(), String::new(), 2020)?;
        validate_meta(&root, &doc, "")?;
        self.roots.insert(url.to_string(), root);
        Ok(())
    }

    /// The draft a schema object's `$schema` names (`fallback` without one).
    fn schema_draft(&self, obj: &BTreeMap<String, Json>, fallback: u32) -> Result<u32, String> {
        match obj.get("$schema") {
            Some(Json::String(s)) => draft_from_url(s).ok_or_else(|| {
                format!(
                    "failing loading {}: only the standard meta-schemas (drafts 4, 6, 7, 2019-09, 2020-12) are supported",
                    go_quote(split_fragment(s).0)
                )
            }),
            _ => Ok(fallback),
        }
    }

    fn collect_resources(
        &mut self,
        root: &mut Root,
        v: &Json,
        base: String,
        ptr: String,
        fallback: u32,
    ) -> Result<(), String> {
        if root.processed.contains(&ptr) {
            return Ok(());
        }
        let Json::Object(obj) = v else {
            if ptr.is_empty() {
                root.resources.push(Resource {
                    ptr: ptr.clone(),
                    id: base,
                    draft: fallback,
                    anchors: BTreeMap::new(),
                    dynamic_anchors: Vec::new(),
                });
            }
            root.processed.insert(ptr);
            return Ok(());
        };
        let mut has_schema = matches!(obj.get("$schema"), Some(Json::String(_)));
        let mut draft = self.schema_draft(obj, fallback)?;
        let mut id = schema_id(draft, obj);
        if id.is_empty() && !ptr.is_empty() {
            draft = fallback;
            has_schema = false;
            id = schema_id(draft, obj);
        }
        let mut base = base;
        let mut new_res = false;
        if !id.is_empty() {
            let (u, _) = join_url(&base, &id).map_err(|_| {
                format!(
                    "error in parsing id at {}",
                    go_quote(&location(&root.url, &ptr))
                )
            })?;
            base = u;
            new_res = true;
        } else if ptr.is_empty() {
            new_res = true;
        }
        if new_res {
            let mut found = false;
            for r in &root.resources {
                if r.id == base {
                    found = true;
                    if r.ptr != ptr {
                        return Err(format!(
                            "duplicate id {} in {} at {} and {}",
                            go_quote(&base),
                            go_quote(&root.url),
                            go_quote(&ptr),
                            go_quote(&r.ptr)
                        ));
                    }
                }
            }
            if !found {
                root.resources.push(Resource {
                    ptr: ptr.clone(),
                    id: base.clone(),
                    draft: if has_schema { draft } else { fallback },
                    anchors: BTreeMap::new(),
                    dynamic_anchors: Vec::new(),
                });
            }
        }
        let base_res = root
            .resources
            .iter()
            .position(|r| r.id == base)
            .expect("the base resource is known");
        collect_anchors(root, obj, &ptr, base_res)?;
        let res_draft = root.resources[base_res].draft;
        for (sub_ptr, sub) in subschemas(draft, obj, &ptr) {
            self.collect_resources(root, sub, base.clone(), sub_ptr, res_draft)?;
        }
        root.processed.insert(ptr);
        Ok(())
    }

    /// Makes sure the subschema at `ptr` is known (its resources collected, its shape
    /// checked) before it is compiled.
    fn ensure_subschema(&mut self, url: &str, ptr: &str) -> Result<(), String> {
        self.or_load(url)?;
        if self.roots[url].processed.contains(ptr) {
            return Ok(());
        }
        let doc = self.roots[url].doc.clone();
        let v = lookup(&doc, url, ptr)?;
        let mut root = self.roots[url].clone();
        let base = root.resources[root.resource_index(ptr)].clone();
        self.collect_resources(&mut root, v, base.id, ptr.to_string(), base.draft)?;
        validate_meta(&root, v, ptr)?;
        self.roots.insert(url.to_string(), root);
        Ok(())
    }

    fn compile(&mut self, url: &str, frag: &str, assert_format: bool) -> Result<usize, String> {
        self.or_load(url)?;
        let root = &self.roots[url];
        let ptr = root.resolve_fragment_in(frag, root.root_resource())?;
        let first = self.nodes.len();
        let idx = self.enqueue(url, &ptr, assert_format);
        let mut k = first;
        while k < self.nodes.len() {
            if !self.nodes[k].compiled {
                let (u, p) = (self.nodes[k].url.clone(), self.nodes[k].ptr.clone());
                self.ensure_subschema(&u, &p)?;
                let doc = self.roots[&u].doc.clone();
                let v = lookup(&doc, &u, &p)?;
                self.compile_value(k, v)?;
            }
            k += 1;
        }
        Ok(idx)
    }

    fn enqueue(&mut self, url: &str, ptr: &str, assert_format: bool) -> usize {
        let key = (url.to_string(), ptr.to_string(), assert_format);
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.nodes.len();
        self.nodes.push(Node {
            url: url.to_string(),
            ptr: ptr.to_string(),
            loc: location(url, ptr),
            assert_format,
            ..Node::default()
        });
        self.index.insert(key, i);
        i
    }

    fn compile_value(&mut self, k: usize, v: &Json) -> Result<(), String> {
        let mut n = std::mem::take(&mut self.nodes[k]);
        let result = self.compile_into(&mut n, v);
        n.compiled = true;
        self.nodes[k] = n;
        result
    }

    fn compile_into(&mut self, n: &mut Node, v: &Json) -> Result<(), String> {
        let url = n.url.clone();
        let ptr = n.ptr.clone();
        let assert = n.assert_format;
        let res = {
            let root = &self.roots[&url];
            root.resources[root.resource_index(&ptr)].clone()
        };
        n.draft = res.draft;
        n.resource = self.enqueue(&url, &res.ptr, assert);
        if n.draft >= 2020 && ptr == res.ptr {
            for (name, aptr) in &res.anchors {
                if res.dynamic_anchors.contains(name) {
                    let d = self.enqueue(&url, aptr, assert);
                    n.dynamic_anchors.insert(name.clone(), d);
                }
            }
        }
        match v {
            Json::Bool(b) => n.bool_schema = Some(*b),
            Json::Object(obj) if obj.is_empty() => n.bool_schema = Some(true),
            Json::Object(obj) => self.compile_object(n, obj, &res)?,
            _ => {}
        }
        n.all_props_evaluated = n.additional_properties.is_some();
        if n.draft < 2020 {
            n.all_items_evaluated = n.additional_items.is_some();
            match &n.items {
                Some(Items::One(_)) => n.all_items_evaluated = true,
                Some(Items::Many(list)) => n.num_items_evaluated = list.len(),
                None => {}
            }
        } else {
            n.all_items_evaluated = n.items2020.is_some();
            n.num_items_evaluated = n.prefix_items.len();
        }
        Ok(())
    }

    fn enqueue_ref(
        &mut self,
        url: &str,
        res: &Resource,
        reference: &str,
        assert: bool,
    ) -> Result<usize, String> {
        let (ref_url, frag) = join_url(&res.id, reference)?;
        let local = {
            let root = &self.roots[url];
            let found = if ref_url == root.url {
                Some(root.root_resource())
            } else {
                root.resources.iter().position(|r| r.id == ref_url)
            };
            match found {
                Some(r) => Some(root.resolve_fragment_in(&frag, r)?),
                None => None,
            }
        };
        if let Some(p) = local {
            return Ok(self.enqueue(url, &p, assert));
        }
        if let Some(meta) = MetaRef::parse(&ref_url) {
            return self.enqueue_meta(&ref_url, &frag, meta);
        }
        self.or_load(&ref_url)?;
        let root = &self.roots[&ref_url];
        let p = root.resolve_fragment_in(&frag, root.root_resource())?;
        Ok(self.enqueue(&ref_url, &p, assert))
    }

    /// A node for a standard meta-schema (a dialect's, or one of its vocabularies). Only
    /// whole meta-schemas can be referenced: slipway does not hold their documents, so a
    /// place inside one (`#/definitions/...`, `#/$defs/...`) is refused.
    fn enqueue_meta(&mut self, url: &str, frag: &str, meta: MetaRef) -> Result<usize, String> {
        if !frag.is_empty() {
            return Err(format!(
                "failing loading {}: only whole standard meta-schemas can be referenced, not places inside them",
                go_quote(&location(url, frag))
            ));
        }
        let key = (url.to_string(), String::new(), false);
        if let Some(&i) = self.index.get(&key) {
            return Ok(i);
        }
        let i = self.nodes.len();
        self.nodes.push(Node {
            url: url.to_string(),
            loc: location(url, ""),
            compiled: true,
            draft: meta.draft,
            resource: i,
            meta: Some(meta),
            ..Node::default()
        });
        self.index.insert(key, i);
        Ok(i)
    }

    fn compile_object(
        &mut self,
        n: &mut Node,
        obj: &BTreeMap<String, Json>,
        res: &Resource,
    ) -> Result<(), String> {
        let url = n.url.clone();
        let ptr = n.ptr.clone();
        let assert = n.assert_format;
        let draft = n.draft;
        let sub = |key: &str| format!("{ptr}/{}", escape_token(key));

        let num = |key: &str| match obj.get(key) {
            Some(Json::Number(num)) => Some(num.dec.clone()),
            _ => None,
        };
        let int = |key: &str| {
            num(key)
                .filter(Dec::is_integer)
                .map(|d| d.to_f64().clamp(i64::MIN as f64, i64::MAX as f64) as i64)
        };
        let boolean = |key: &str| matches!(obj.get(key), Some(Json::Bool(true)));
        let bool_val = |key: &str| match obj.get(key) {
            Some(Json::Bool(b)) => Some(*b),
            _ => None,
        };

        macro_rules! prop {
            ($key:expr) => {
                if obj.contains_key($key) {
                    Some(self.enqueue(&url, &sub($key), assert))
                } else {
                    None
                }
            };
        }
        macro_rules! arr {
            ($key:expr) => {
                match obj.get($key) {
                    Some(Json::Array(items)) => (0..items.len())
                        .map(|i| self.enqueue(&url, &format!("{}/{i}", sub($key)), assert))
                        .collect(),
                    _ => Vec::new(),
                }
            };
        }
        macro_rules! map {
            ($key:expr) => {
                match obj.get($key) {
                    Some(Json::Object(m)) => Some(
                        m.keys()
                            .map(|k| {
                                let p = format!("{}/{}", sub($key), escape_token(k));
                                (k.clone(), self.enqueue(&url, &p, assert))
                            })
                            .collect::<BTreeMap<_, _>>(),
                    ),
                    _ => None,
                }
            };
        }
        macro_rules! additional {
            ($key:expr) => {
                match obj.get($key) {
                    Some(Json::Bool(b)) => Some(Additional::Bool(*b)),
                    Some(_) => Some(Additional::Schema(self.enqueue(&url, &sub($key), assert))),
                    None => None,
                }
            };
        }

        if let Some(Json::String(r)) = obj.get("$ref") {
            n.ref_ = Some(self.enqueue_ref(&url, res, r, assert)?);
            if draft < 2019 {
                return Ok(());
            }
        }

        n.all_of = arr!("allOf");
        n.any_of = arr!("anyOf");
        n.one_of = arr!("oneOf");
        n.not = prop!("not");
        if draft < 2020
            && let Some(items) = obj.get("items")
        {
            if matches!(items, Json::Array(_)) {
                n.items = Some(Items::Many(arr!("items")));
                n.additional_items = additional!("additionalItems");
            } else {
                n.items = prop!("items").map(Items::One);
            }
        }
        n.properties = map!("properties").unwrap_or_default();
        if let Some(m) = map!("patternProperties") {
            for (pattern, s) in m {
                let re = GoRegex::new(&pattern).map_err(|e| {
                    format!(
                        "invalid regex {} at {}: {e}",
                        go_quote(&pattern),
                        go_quote(&format!("{}/patternProperties", location(&url, &ptr)))
                    )
                })?;
                n.pattern_properties.push((re, s));
            }
        }
        n.additional_properties = additional!("additionalProperties");
        if let Some(Json::Object(m)) = obj.get("dependencies") {
            for (name, v) in m {
                let dep = match v {
                    Json::Array(items) => Dependency::Required(to_strings(items)),
                    _ => {
                        let p = format!("{}/{}", sub("dependencies"), escape_token(name));
                        Dependency::Schema(self.enqueue(&url, &p, assert))
                    }
                };
                n.dependencies.insert(name.clone(), dep);
            }
        }

        match obj.get("type") {
            Some(Json::String(t)) => n.types = type_bit(t),
            Some(Json::Array(ts)) => {
                n.types = to_strings(ts).iter().fold(0, |acc, t| acc | type_bit(t));
            }
            _ => {}
        }
        if let Some(Json::Array(values)) = obj.get("enum") {
            n.enum_ = Some(values.clone());
        }
        n.multiple_of = num("multipleOf");
        n.maximum = num("maximum");
        if boolean("exclusiveMaximum") {
            n.exclusive_maximum = n.maximum.take();
        } else {
            n.exclusive_maximum = num("exclusiveMaximum");
        }
        n.minimum = num("minimum");
        if boolean("exclusiveMinimum") {
            n.exclusive_minimum = n.minimum.take();
        } else {
            n.exclusive_minimum = num("exclusiveMinimum");
        }
        n.min_length = int("minLength");
        n.max_length = int("maxLength");
        if let Some(Json::String(pattern)) = obj.get("pattern") {
            n.pattern = Some(GoRegex::new(pattern).map_err(|e| {
                format!(
                    "invalid regex {} at {}: {e}",
                    go_quote(pattern),
                    go_quote(&format!("{}/pattern", location(&url, &ptr)))
                )
            })?);
        }
        n.min_items = int("minItems");
        n.max_items = int("maxItems");
        n.unique_items = boolean("uniqueItems");
        n.max_properties = int("maxProperties");
        n.min_properties = int("minProperties");
        if let Some(Json::Array(names)) = obj.get("required") {
            n.required = to_strings(names);
        }
        if (assert || draft < 2019)
            && let Some(Json::String(f)) = obj.get("format")
            && (f == "regex" || KNOWN_FORMATS.contains(&f.as_str()))
        {
            n.format = Some(f.clone());
        }

        if draft >= 6 {
            n.contains = prop!("contains");
            n.property_names = prop!("propertyNames");
            n.const_ = obj.get("const").cloned();
        }
        if draft >= 7 {
            n.if_ = prop!("if");
            if n.if_.is_some() {
                let b = bool_val("if");
                if b != Some(false) {
                    n.then = prop!("then");
                }
                if b != Some(true) {
                    n.else_ = prop!("else");
                }
            }
        }
        if draft >= 2019 {
            if let Some(Json::String(r)) = obj.get("$recursiveRef") {
                n.recursive_ref = Some(self.enqueue_ref(&url, res, r, assert)?);
            }
            n.recursive_anchor = boolean("$recursiveAnchor");
            if n.contains.is_some() {
                n.min_contains = int("minContains");
                n.max_contains = int("maxContains");
            }
            if let Some(Json::Object(m)) = obj.get("dependentRequired") {
                for (name, v) in m {
                    if let Json::Array(items) = v {
                        n.dependent_required.insert(name.clone(), to_strings(items));
                    }
                }
            }
            n.dependent_schemas = map!("dependentSchemas").unwrap_or_default();
            n.unevaluated_items = prop!("unevaluatedItems");
            n.unevaluated_properties = prop!("unevaluatedProperties");
        }
        if draft >= 2020 {
            if let Some(Json::String(r)) = obj.get("$dynamicRef") {
                let target = self.enqueue_ref(&url, res, r, assert)?;
                let frag = path_unescape(split_fragment(r).1)
                    .map_err(|e| format!("error in parsing {}: {e}", go_quote(r)))?;
                let anchor = if frag.is_empty() || frag.starts_with('/') {
                    String::new()
                } else {
                    frag
                };
                n.dynamic_ref = Some((target, anchor));
            }
            if let Some(Json::String(a)) = obj.get("$dynamicAnchor") {
                n.dynamic_anchor = a.clone();
            }
            n.prefix_items = arr!("prefixItems");
            n.items2020 = prop!("items");
        }
        Ok(())
    }
}

/// Checks a schema (the document at `ptr`) against its dialect, each embedded resource
/// against its own.
fn validate_meta(root: &Root, v: &Json, ptr: &str) -> Result<(), String> {
    let draft = root.resources[root.resource_index(ptr)].draft;
    let resources: HashMap<String, u32> = root
        .resources
        .iter()
        .map(|r| (r.ptr.clone(), r.draft))
        .collect();
    let shape = Shape {
        resources: Some(&resources),
        formats: true,
        first: draft,
    };
    shape.document(draft, v).map_err(|e| {
        format!(
            "{} is not valid against metaschema: {e}",
            go_quote(&location(&root.url, ptr))
        )
    })
}

fn collect_anchors(
    root: &mut Root,
    obj: &BTreeMap<String, Json>,
    ptr: &str,
    res: usize,
) -> Result<(), String> {
    let draft = root.resources[res].draft;
    let url = root.url.clone();
    let add = |root: &mut Root, name: String| -> Result<(), String> {
        let r = &mut root.resources[res];
        match r.anchors.get(&name) {
            Some(existing) if existing == ptr => Ok(()),
            Some(existing) => Err(format!(
                "duplicate anchor {} in {} at {} and {}",
                go_quote(&name),
                go_quote(&url),
                go_quote(existing),
                go_quote(ptr)
            )),
            None => {
                r.anchors.insert(name, ptr.to_string());
                Ok(())
            }
        }
    };
    if draft < 2019 {
        if obj.contains_key("$ref") {
            return Ok(());
        }
        let key = if draft == 4 { "id" } else { "$id" };
        if let Some(Json::String(id)) = obj.get(key) {
            let frag = path_unescape(split_fragment(id).1).map_err(|_| {
                format!(
                    "error in parsing anchor at {}",
                    go_quote(&location(&url, ptr))
                )
            })?;
            if !frag.is_empty() && !frag.starts_with('/') {
                add(root, frag)?;
            }
        }
    }
    if draft >= 2019
        && let Some(Json::String(a)) = obj.get("$anchor")
    {
        add(root, a.clone())?;
    }
    if draft >= 2020
        && let Some(Json::String(a)) = obj.get("$dynamicAnchor")
    {
        add(root, a.clone())?;
        root.resources[res].dynamic_anchors.push(a.clone());
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// The shape of a schema document
// ------------------------------------------------------------------------------------------
//
// Before a schema is used, Helm checks the document itself against its dialect (the
// meta-schema check), and reports what is wrong as a tree of problems whose shape follows
// how that check is organised. slipway checks the same things, keyword by keyword, and
// builds the same tree:
//
// * Drafts 4, 6 and 7 look at every keyword of a schema object side by side, so their
//   problems are listed one by one.
// * 2019-09 and 2020-12 split the keywords into vocabularies (core, applicator,
//   validation, ...). The dialect itself looks at a few old keywords (`definitions`,
//   `dependencies`, and in 2020-12 `$recursiveAnchor` and `$recursiveRef`), then each
//   vocabulary at the rest; whatever the vocabularies find is listed under
//   `at '<schema>': 'allOf' failed`, one entry per failing vocabulary.
// * Several problems found by one check of one value become
//   `at '<value>': validation failed` with the problems under it. Such a group, when it is
//   the only problem of the checks above it, travels up unchanged until a step that goes
//   "by reference", where it is re-anchored at that step's own place. Those steps are: a
//   value that must itself be a schema, each vocabulary of 2019-09 and 2020-12, and the
//   shapes the dialects define once and share (a list of schemas for `allOf` and the
//   like, a list of names for `required` and the like). So a subschema at `/properties/a`
//   whose only problem is a group inside its own `properties` is reported as
//   `at '/properties/a': validation failed`, while a `required` with two problems is
//   reported as `at '/properties/a/required': validation failed` however far up it goes.
// * A check done by reference that finds exactly one problem reports that problem as is.
// * `minLength`, `minItems` and `minProperties` of drafts 4 to 7 put their problem under
//   `'allOf' failed`; `type`, draft 4's `additionalItems`/`additionalProperties`,
//   `items` before 2020-12 and `dependencies` entries, which accept one of two shapes,
//   put both reasons under `'anyOf' failed`.
// * Property names that must be regular expressions (`patternProperties`) or URIs
//   (`$vocabulary`) are reported as `at '<object>': invalid propertyName '<name>'`, with
//   the reason at `''` (the name checked on its own).
// * `format` is asserted (`uri`, `uri-reference`, `regex`) when the document is checked,
//   and when a value is checked against a draft 4, 6 or 7 meta-schema by `$ref`.

type Checked = Result<(), VErr>;

/// The pattern a 2019-09 and 2020-12 `$id` must match: no fragment but an empty one.
const ID_PATTERN: &str = "^[^#]*#?$";
/// The pattern a 2019-09 `$anchor` must match.
const ANCHOR_PATTERN_2019: &str = "^[A-Za-z][-A-Za-z0-9.:_]*$";
/// The pattern a 2020-12 `$anchor`, `$dynamicAnchor` (and `$recursiveAnchor`) must match.
const ANCHOR_PATTERN_2020: &str = "^[A-Za-z_][-A-Za-z0-9._]*$";
/// The names `type` accepts, in the order Helm lists them.
const TYPE_NAMES: [&str; 7] = [
    "array", "boolean", "integer", "null", "number", "object", "string",
];

fn is_id(s: &str) -> bool {
    match s.find('#') {
        None => true,
        Some(i) => i == s.len() - 1,
    }
}

fn is_anchor(draft: u32, s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = |c: char| c.is_ascii_alphabetic() || (draft >= 2020 && c == '_');
    let rest_ok = |c: char| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') || (draft < 2020 && c == ':')
    };
    chars.next().is_some_and(first_ok) && chars.all(rest_ok)
}

/// A group of keywords checked together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// Drafts 4, 6 and 7: every keyword at once.
    Classic,
    /// 2019-09 and 2020-12: the old keywords the dialect looks at itself.
    Dialect,
    Core,
    Applicator,
    Unevaluated,
    Validation,
    MetaData,
    Format,
    Content,
}

/// The vocabularies of a dialect, in the order they are checked.
fn vocabularies(draft: u32) -> &'static [Part] {
    if draft >= 2020 {
        &[
            Part::Core,
            Part::Applicator,
            Part::Unevaluated,
            Part::Validation,
            Part::MetaData,
            Part::Format,
            Part::Content,
        ]
    } else {
        &[
            Part::Core,
            Part::Applicator,
            Part::Validation,
            Part::MetaData,
            Part::Format,
            Part::Content,
        ]
    }
}

/// A vocabulary of 2019-09 or 2020-12 by its path under `json-schema.org/`.
fn vocabulary_from_path(path: &str) -> Option<(u32, Part)> {
    let (draft, name) = if let Some(name) = path.strip_prefix("draft/2019-09/meta/") {
        (2019, name)
    } else {
        (2020, path.strip_prefix("draft/2020-12/meta/")?)
    };
    let part = match (draft, name) {
        (_, "core") => Part::Core,
        (_, "applicator") => Part::Applicator,
        (2020, "unevaluated") => Part::Unevaluated,
        (_, "validation") => Part::Validation,
        (_, "meta-data") => Part::MetaData,
        (2019, "format") | (2020, "format-annotation" | "format-assertion") => Part::Format,
        (_, "content") => Part::Content,
        _ => return None,
    };
    Some((draft, part))
}

/// What a keyword's value must be.
#[derive(Clone, Copy, Debug)]
enum Accepts {
    /// Any value.
    Anything,
    /// A value of one of these JSON types.
    Type(u8),
    /// A string that is an absolute URI.
    Uri,
    /// A string that is a URI reference.
    UriReference,
    /// A string that is a regular expression.
    Regex,
    /// `$id` of 2019-09 and 2020-12: a URI reference without a fragment.
    Id,
    /// An anchor name.
    Anchor,
    /// A non-negative integer.
    Count,
    /// A non-negative integer (one with a default of 0, which drafts 4 to 7 spell
    /// differently).
    CountOrZero,
    /// A number above zero.
    Positive,
    /// A type name or a non-empty list of distinct type names.
    Types,
    /// The list of `enum`.
    Values,
    /// A list of distinct strings (non-empty in draft 4).
    Names,
    /// A schema.
    Schema,
    /// A non-empty list of schemas.
    Schemas,
    /// A schema or a non-empty list of schemas (`items` before 2020-12).
    SchemaOrSchemas,
    /// A boolean or a schema (draft 4's `additionalItems` and `additionalProperties`).
    BoolOrSchema,
    /// An object of schemas.
    SchemaMap,
    /// An object of schemas keyed by regular expressions (`patternProperties`).
    PatternMap,
    /// An object of schemas or lists of names (`dependencies`).
    Dependencies,
    /// An object of lists of names (`dependentRequired`).
    NameMap,
    /// An object of booleans keyed by URIs (`$vocabulary`).
    Vocabulary,
}

/// What `kw` accepts in a part of a dialect; `None` for keywords the part does not know
/// (anything goes).
fn accepts(draft: u32, part: Part, kw: &str) -> Option<Accepts> {
    use Accepts::*;
    let a = match (part, kw) {
        (Part::Classic, "id") if draft == 4 => Type(T_STRING),
        (Part::Classic, "$id") if draft > 4 => UriReference,
        (Part::Classic, "$ref") if draft == 4 => Type(T_STRING),
        (Part::Classic, "$ref") => UriReference,
        (Part::Classic, "$schema") => Uri,
        (Part::Classic, "$comment" | "contentMediaType" | "contentEncoding") if draft == 7 => {
            Type(T_STRING)
        }
        (Part::Classic, "readOnly" | "writeOnly") if draft == 7 => Type(T_BOOLEAN),
        (Part::Classic, "examples") if draft == 7 => Type(T_ARRAY),
        (Part::Classic, "title" | "description" | "format") => Type(T_STRING),
        (Part::Classic, "default") => Anything,
        (Part::Classic, "exclusiveMaximum" | "exclusiveMinimum") if draft == 4 => Type(T_BOOLEAN),
        (Part::Classic, "additionalItems" | "additionalProperties") if draft == 4 => BoolOrSchema,
        (Part::Classic, "additionalItems" | "additionalProperties" | "not") => Schema,
        (Part::Classic, "contains" | "propertyNames") if draft >= 6 => Schema,
        (Part::Classic, "if" | "then" | "else") if draft == 7 => Schema,
        (Part::Classic, "const") if draft >= 6 => Anything,
        (Part::Classic, "items") => SchemaOrSchemas,
        (Part::Classic, "definitions" | "properties") => SchemaMap,
        (Part::Classic, "patternProperties") if draft == 7 => PatternMap,
        (Part::Classic, "patternProperties") => SchemaMap,
        (Part::Classic, "dependencies") => Dependencies,
        (Part::Classic, "allOf" | "anyOf" | "oneOf") => Schemas,

        (Part::Dialect, "definitions") => SchemaMap,
        (Part::Dialect, "dependencies") => Dependencies,
        (Part::Dialect, "$recursiveAnchor") if draft >= 2020 => Anchor,
        (Part::Dialect, "$recursiveRef") if draft >= 2020 => UriReference,

        (Part::Core, "$id") => Id,
        (Part::Core, "$schema") => Uri,
        (Part::Core, "$anchor") => Anchor,
        (Part::Core, "$ref") => UriReference,
        (Part::Core, "$recursiveRef") if draft < 2020 => UriReference,
        (Part::Core, "$recursiveAnchor") if draft < 2020 => Type(T_BOOLEAN),
        (Part::Core, "$dynamicRef") if draft >= 2020 => UriReference,
        (Part::Core, "$dynamicAnchor") if draft >= 2020 => Anchor,
        (Part::Core, "$vocabulary") => Vocabulary,
        (Part::Core, "$comment") => Type(T_STRING),
        (Part::Core, "$defs") => SchemaMap,

        (Part::Applicator, "additionalItems" | "unevaluatedItems" | "unevaluatedProperties")
            if draft < 2020 =>
        {
            Schema
        }
        (Part::Applicator, "items") if draft < 2020 => SchemaOrSchemas,
        (Part::Applicator, "prefixItems") if draft >= 2020 => Schemas,
        (
            Part::Applicator,
            "items"
            | "contains"
            | "additionalProperties"
            | "propertyNames"
            | "if"
            | "then"
            | "else"
            | "not",
        ) => Schema,
        (Part::Applicator, "properties" | "dependentSchemas") => SchemaMap,
        (Part::Applicator, "patternProperties") => PatternMap,
        (Part::Applicator, "allOf" | "anyOf" | "oneOf") => Schemas,

        (Part::Unevaluated, "unevaluatedItems" | "unevaluatedProperties") => Schema,

        (Part::Validation, "maxContains" | "minContains") => Count,
        (Part::Validation, "dependentRequired") => NameMap,
        // The validation keywords every dialect shares.
        (Part::Validation | Part::Classic, _) => match kw {
            "multipleOf" => Positive,
            "maximum" | "exclusiveMaximum" | "minimum" | "exclusiveMinimum" => Type(T_NUMBER),
            "maxLength" | "maxItems" | "maxProperties" => Count,
            "minLength" | "minItems" | "minProperties" => CountOrZero,
            "pattern" => Regex,
            "uniqueItems" => Type(T_BOOLEAN),
            "required" => Names,
            "const" if part == Part::Validation => Anything,
            "enum" => Values,
            "type" => Types,
            _ => return None,
        },

        (Part::MetaData, "title" | "description") => Type(T_STRING),
        (Part::MetaData, "default") => Anything,
        (Part::MetaData, "deprecated" | "readOnly" | "writeOnly") => Type(T_BOOLEAN),
        (Part::MetaData, "examples") => Type(T_ARRAY),

        (Part::Format, "format") => Type(T_STRING),

        (Part::Content, "contentMediaType" | "contentEncoding") => Type(T_STRING),
        (Part::Content, "contentSchema") => Schema,
        _ => return None,
    };
    Some(a)
}

/// Where a keyword that takes a schema leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Recur {
    /// The whole dialect again (switching to an embedded resource's own dialect).
    Whole,
    /// One vocabulary only: a value checked against a vocabulary by `$ref`, and (Helm's
    /// quirk) the vocabularies of a 2019-09 resource embedded in a document of another
    /// dialect.
    Part(Part),
    /// Helm's quirk for such an embedded 2019-09 resource: the subschemas in its
    /// `definitions` are checked as if they were `definitions` objects themselves.
    Definitions,
    /// The same for its `dependencies`: each subschema there is checked as if it were a
    /// `dependencies` object.
    Dependencies,
}

fn problem(at: &[String], kind: Kind) -> VErr {
    VErr {
        inst: at.to_vec(),
        kind: Box::new(kind),
        causes: Vec::new(),
    }
}

fn problems(at: &[String], kind: Kind, causes: Vec<VErr>) -> VErr {
    VErr {
        inst: at.to_vec(),
        kind: Box::new(kind),
        causes,
    }
}

/// The outcome of one check of a value: nothing, the one problem, or several problems
/// under `validation failed` at the value.
fn gather(at: &[String], mut errors: Vec<VErr>) -> Checked {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.pop().expect("one problem")),
        _ => Err(problems(at, Kind::Group, errors)),
    }
}

/// A check done by reference: a group of problems is re-anchored at `at`; one problem is
/// shown as is.
fn by_reference(at: &[String], r: Checked) -> Checked {
    r.map_err(|e| {
        let causes = if matches!(*e.kind, Kind::Group) {
            e.causes
        } else {
            vec![e]
        };
        problems(at, Kind::Reference, causes)
    })
}

/// The first of several checks that passes, or all their problems under `'anyOf' failed`.
fn any_of(at: &[String], results: Vec<Checked>) -> Checked {
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(()) => return Ok(()),
            Err(e) => errors.push(e),
        }
    }
    Err(problems(at, Kind::AnyOf, errors))
}

/// A value of one of the JSON types in `want` (`0`: any type); values JSON cannot hold
/// are refused first.
fn of_type(v: &Json, at: &[String], want: u8) -> Checked {
    let t = type_of(v);
    if let Json::Invalid(name) = v {
        return Err(problem(at, Kind::InvalidJsonValue(name.clone())));
    }
    let integer = matches!(v, Json::Number(n) if n.dec.is_integer());
    if want != 0 && want & t == 0 && !(want & T_INTEGER != 0 && integer) {
        return Err(problem(at, Kind::Type(t, want)));
    }
    Ok(())
}

fn zero() -> Dec {
    Dec::parse("0").expect("zero is a number")
}

fn with_key(at: &[String], key: &str) -> Vec<String> {
    let mut at = at.to_vec();
    at.push(key.to_string());
    at
}

/// Two equal items of a list that must not repeat itself.
fn repeated(arr: &[Json], at: &[String]) -> Option<VErr> {
    for i in 1..arr.len() {
        for j in 0..i {
            match json_equals(&arr[i], &arr[j]) {
                Ok(false) => {}
                Ok(true) => return Some(problem(at, Kind::UniqueItems(j, i))),
                Err(k) => return Some(problem(at, k)),
            }
        }
    }
    None
}

/// A non-negative integer.
fn count(v: &Json, at: &[String]) -> Checked {
    of_type(v, at, T_INTEGER)?;
    match v {
        Json::Number(n) if n.dec.cmp(&zero()) == Ordering::Less => {
            Err(problem(at, Kind::Minimum(n.dec.clone(), zero())))
        }
        _ => Ok(()),
    }
}

/// A number above zero (`multipleOf`).
fn positive(v: &Json, at: &[String]) -> Checked {
    of_type(v, at, T_NUMBER)?;
    match v {
        Json::Number(n) if n.dec.cmp(&zero()) != Ordering::Greater => {
            Err(problem(at, Kind::ExclusiveMinimum(n.dec.clone(), zero())))
        }
        _ => Ok(()),
    }
}

/// One of the seven type names.
fn type_name(v: &Json, at: &[String]) -> Checked {
    of_type(v, at, 0)?;
    if matches!(v, Json::String(s) if TYPE_NAMES.contains(&s.as_str())) {
        return Ok(());
    }
    let names = TYPE_NAMES
        .iter()
        .map(|n| Json::String(n.to_string()))
        .collect();
    Err(problem(at, Kind::Enum(names)))
}

/// `type`: a type name, or a non-empty list of distinct type names.
fn types(v: &Json, at: &[String]) -> Checked {
    let list = || -> Checked {
        of_type(v, at, T_ARRAY)?;
        let Json::Array(items) = v else {
            return Ok(());
        };
        let mut errors = Vec::new();
        if items.is_empty() {
            errors.push(problem(at, Kind::MinItems(0, 1)));
        }
        errors.extend(repeated(items, at));
        for (i, item) in items.iter().enumerate() {
            if let Err(e) = type_name(item, &with_key(at, &i.to_string())) {
                errors.push(e);
            }
        }
        gather(at, errors)
    };
    any_of(at, vec![type_name(v, at), list()])
}

/// `enum`: a list; before 2019-09 a non-empty one without repeats.
fn values(draft: u32, v: &Json, at: &[String]) -> Checked {
    of_type(v, at, T_ARRAY)?;
    let Json::Array(items) = v else {
        return Ok(());
    };
    if draft >= 2019 {
        return Ok(());
    }
    let mut errors = Vec::new();
    if items.is_empty() {
        errors.push(problem(at, Kind::MinItems(0, 1)));
    }
    errors.extend(repeated(items, at));
    gather(at, errors)
}

/// `required` and the like: distinct strings; non-empty in draft 4.
fn names(draft: u32, v: &Json, at: &[String]) -> Checked {
    of_type(v, at, T_ARRAY)?;
    let Json::Array(items) = v else {
        return Ok(());
    };
    let mut errors = Vec::new();
    if draft == 4 && items.is_empty() {
        errors.push(problem(at, Kind::MinItems(0, 1)));
    }
    errors.extend(repeated(items, at));
    for (i, item) in items.iter().enumerate() {
        if let Err(e) = of_type(item, &with_key(at, &i.to_string()), T_STRING) {
            errors.push(e);
        }
    }
    gather(at, errors)
}

/// An object name that fails a check made on the name alone.
fn bad_name(at: &[String], name: &str, format: &str, err: String) -> VErr {
    let cause = problem(
        &[],
        Kind::Format(Json::String(name.to_string()), format.to_string(), err),
    );
    problems(at, Kind::PropertyNames(name.to_string()), vec![cause])
}

/// The check of a schema document's own shape.
struct Shape<'a> {
    /// The dialect of each resource of the document, by JSON pointer (none when a value
    /// is checked against a meta-schema by `$ref`).
    resources: Option<&'a HashMap<String, u32>>,
    /// Whether `uri`, `uri-reference` and `regex` strings are checked.
    formats: bool,
    /// The dialect the check started with.
    first: u32,
}

impl Shape<'_> {
    /// Checks a schema document (or the subschema a reference reaches first) against
    /// `draft`; the error names the dialect's meta-schema, as Helm's does.
    fn document(&self, draft: u32, v: &Json) -> Checked {
        self.whole(draft, false, v, &[]).map_err(|e| {
            let causes = if matches!(*e.kind, Kind::Group) {
                e.causes
            } else {
                vec![e]
            };
            problems(&[], Kind::Schema(format!("{}#", draft_url(draft))), causes)
        })
    }

    /// A schema of `draft`. `quirk`: a 2019-09 resource inside a document of another
    /// dialect, whose subschemas Helm checks partially (see [`Recur`]).
    fn whole(&self, draft: u32, quirk: bool, v: &Json, at: &[String]) -> Checked {
        let allowed = if draft == 4 {
            T_OBJECT
        } else {
            T_OBJECT | T_BOOLEAN
        };
        of_type(v, at, allowed)?;
        let Json::Object(obj) = v else {
            return Ok(());
        };
        if draft < 2019 {
            let mut errors = Vec::new();
            if draft == 4 {
                // Draft 4's boolean exclusive bounds qualify a bound that must be there.
                for (kw, bound) in [
                    ("exclusiveMaximum", "maximum"),
                    ("exclusiveMinimum", "minimum"),
                ] {
                    if obj.contains_key(kw) && !obj.contains_key(bound) {
                        let missing = vec![bound.to_string()];
                        errors.push(problem(at, Kind::Dependency(kw.to_string(), missing)));
                    }
                }
            }
            errors.extend(self.keywords(draft, Part::Classic, &|_| Recur::Whole, obj, at));
            return gather(at, errors);
        }
        let recur = |kw: &str| match (quirk, kw) {
            (false, _) => Recur::Whole,
            (true, "definitions") => Recur::Definitions,
            (true, _) => Recur::Dependencies,
        };
        let mut errors = self.keywords(draft, Part::Dialect, &recur, obj, at);
        let mut failed = Vec::new();
        for &part in vocabularies(draft) {
            let recur = if quirk {
                Recur::Part(part)
            } else {
                Recur::Whole
            };
            if let Err(e) = by_reference(at, self.part(draft, part, recur, v, at)) {
                failed.push(e);
            }
        }
        if !failed.is_empty() {
            errors.push(problems(at, Kind::AllOf, failed));
        }
        gather(at, errors)
    }

    /// One vocabulary of 2019-09 or 2020-12 on its own.
    fn part(&self, draft: u32, part: Part, recur: Recur, v: &Json, at: &[String]) -> Checked {
        of_type(v, at, T_OBJECT | T_BOOLEAN)?;
        let Json::Object(obj) = v else {
            return Ok(());
        };
        gather(at, self.keywords(draft, part, &|_| recur, obj, at))
    }

    /// The problems of the keywords of `obj` that `part` knows.
    fn keywords(
        &self,
        draft: u32,
        part: Part,
        recur: &dyn Fn(&str) -> Recur,
        obj: &BTreeMap<String, Json>,
        at: &[String],
    ) -> Vec<VErr> {
        let mut errors = Vec::new();
        for (kw, v) in obj {
            if let Some(a) = accepts(draft, part, kw)
                && let Err(e) = self.keyword(draft, a, recur(kw), v, &with_key(at, kw))
            {
                errors.push(e);
            }
        }
        errors
    }

    fn keyword(&self, draft: u32, a: Accepts, recur: Recur, v: &Json, at: &[String]) -> Checked {
        match a {
            Accepts::Anything => Ok(()),
            Accepts::Type(t) => of_type(v, at, t),
            Accepts::Uri => self.formatted(v, at, "uri"),
            Accepts::UriReference => self.formatted(v, at, "uri-reference"),
            Accepts::Regex => self.formatted(v, at, "regex"),
            Accepts::Id => self.id(draft, v, at),
            Accepts::Anchor => {
                of_type(v, at, T_STRING)?;
                match v {
                    Json::String(s) if !is_anchor(draft, s) => {
                        let pattern = if draft >= 2020 {
                            ANCHOR_PATTERN_2020
                        } else {
                            ANCHOR_PATTERN_2019
                        };
                        Err(problem(at, Kind::Pattern(s.clone(), pattern.to_string())))
                    }
                    _ => Ok(()),
                }
            }
            Accepts::Count => count(v, at),
            Accepts::CountOrZero if draft < 2019 => {
                count(v, at).map_err(|e| problems(at, Kind::AllOf, vec![e]))
            }
            Accepts::CountOrZero => count(v, at),
            Accepts::Positive => positive(v, at),
            Accepts::Types => types(v, at),
            Accepts::Values => values(draft, v, at),
            Accepts::Names => by_reference(at, names(draft, v, at)),
            Accepts::Schema => self.recurse(draft, recur, v, at),
            Accepts::Schemas => by_reference(at, self.schemas(draft, recur, v, at)),
            Accepts::SchemaOrSchemas => any_of(
                at,
                vec![
                    self.recurse(draft, recur, v, at),
                    by_reference(at, self.schemas(draft, recur, v, at)),
                ],
            ),
            Accepts::BoolOrSchema => any_of(
                at,
                vec![of_type(v, at, T_BOOLEAN), self.recurse(draft, recur, v, at)],
            ),
            Accepts::SchemaMap => self.schema_map(draft, recur, false, v, at),
            Accepts::PatternMap => self.schema_map(draft, recur, true, v, at),
            Accepts::Dependencies => self.dependencies(draft, recur, v, at),
            Accepts::NameMap => {
                of_type(v, at, T_OBJECT)?;
                let Json::Object(m) = v else {
                    return Ok(());
                };
                let errors = m
                    .iter()
                    .filter_map(|(k, item)| {
                        let at = with_key(at, k);
                        by_reference(&at, names(draft, item, &at)).err()
                    })
                    .collect();
                gather(at, errors)
            }
            Accepts::Vocabulary => {
                of_type(v, at, T_OBJECT)?;
                let Json::Object(m) = v else {
                    return Ok(());
                };
                let mut errors: Vec<VErr> = m
                    .iter()
                    .filter_map(|(k, item)| of_type(item, &with_key(at, k), T_BOOLEAN).err())
                    .collect();
                if self.formats {
                    for k in m.keys() {
                        if let Err(err) = check_format("uri", &Json::String(k.clone())) {
                            errors.push(bad_name(at, k, "uri", err));
                        }
                    }
                }
                gather(at, errors)
            }
        }
    }

    /// A string in a format (checked only when formats are).
    fn formatted(&self, v: &Json, at: &[String], format: &str) -> Checked {
        of_type(v, at, T_STRING)?;
        if self.formats
            && let Err(err) = check_format(format, v)
        {
            return Err(problem(
                at,
                Kind::Format(v.clone(), format.to_string(), err),
            ));
        }
        Ok(())
    }

    /// `$id` of 2019-09 and 2020-12: a URI reference with no fragment but an empty one.
    /// 2019-09 stops at the first problem; 2020-12 checks the URI and the fragment apart.
    fn id(&self, draft: u32, v: &Json, at: &[String]) -> Checked {
        let fragment = || match v {
            Json::String(s) if !is_id(s) => Err(problem(
                at,
                Kind::Pattern(s.clone(), ID_PATTERN.to_string()),
            )),
            _ => Ok(()),
        };
        if draft < 2020 {
            self.formatted(v, at, "uri-reference")?;
            return fragment();
        }
        of_type(v, at, 0)?;
        let errors = [self.formatted(v, at, "uri-reference"), fragment()]
            .into_iter()
            .filter_map(Result::err)
            .collect();
        gather(at, errors)
    }

    /// A value that must itself be a schema.
    fn recurse(&self, draft: u32, recur: Recur, v: &Json, at: &[String]) -> Checked {
        let r = match recur {
            Recur::Whole => {
                // A resource with a `$schema` of its own is checked with its own dialect.
                let own = self.resources.and_then(|r| r.get(&json_pointer(at)));
                match own {
                    Some(&d) if d != draft => self.whole(d, d == 2019 && self.first != 2019, v, at),
                    _ => self.whole(draft, false, v, at),
                }
            }
            Recur::Part(part) => self.part(draft, part, recur, v, at),
            Recur::Definitions => self.schema_map(draft, recur, false, v, at),
            Recur::Dependencies => self.dependencies(draft, recur, v, at),
        };
        by_reference(at, r)
    }

    /// A non-empty list of schemas.
    fn schemas(&self, draft: u32, recur: Recur, v: &Json, at: &[String]) -> Checked {
        of_type(v, at, T_ARRAY)?;
        let Json::Array(items) = v else {
            return Ok(());
        };
        let mut errors = Vec::new();
        if items.is_empty() {
            errors.push(problem(at, Kind::MinItems(0, 1)));
        }
        for (i, item) in items.iter().enumerate() {
            if let Err(e) = self.recurse(draft, recur, item, &with_key(at, &i.to_string())) {
                errors.push(e);
            }
        }
        gather(at, errors)
    }

    /// An object of schemas; with `regex_names`, keyed by regular expressions (from draft
    /// 7 on).
    fn schema_map(
        &self,
        draft: u32,
        recur: Recur,
        regex_names: bool,
        v: &Json,
        at: &[String],
    ) -> Checked {
        of_type(v, at, T_OBJECT)?;
        let Json::Object(m) = v else {
            return Ok(());
        };
        let mut errors: Vec<VErr> = m
            .iter()
            .filter_map(|(k, item)| self.recurse(draft, recur, item, &with_key(at, k)).err())
            .collect();
        if regex_names && self.formats {
            for k in m.keys() {
                if let Err(err) = GoRegex::new(k) {
                    errors.push(bad_name(at, k, "regex", err));
                }
            }
        }
        gather(at, errors)
    }

    /// `dependencies`: an object of schemas or lists of names.
    fn dependencies(&self, draft: u32, recur: Recur, v: &Json, at: &[String]) -> Checked {
        of_type(v, at, T_OBJECT)?;
        let Json::Object(m) = v else {
            return Ok(());
        };
        let errors = m
            .iter()
            .filter_map(|(k, item)| {
                let at = with_key(at, k);
                let as_schema = self.recurse(draft, recur, item, &at);
                let as_names = by_reference(&at, names(draft, item, &at));
                any_of(&at, vec![as_schema, as_names]).err()
            })
            .collect();
        gather(at, errors)
    }
}

/// A reference to a standard meta-schema (or, for 2019-09 and 2020-12, to one of its
/// vocabularies): values there must be schemas of that dialect.
#[derive(Clone, Copy, Debug)]
struct MetaRef {
    draft: u32,
    part: Option<Part>,
}

impl MetaRef {
    /// The meta-schema a URL (without its fragment) names, if it names one.
    fn parse(url: &str) -> Option<MetaRef> {
        if let Some(draft) = draft_from_url(url) {
            return Some(MetaRef { draft, part: None });
        }
        let path = url
            .strip_prefix("http://json-schema.org/")
            .or_else(|| url.strip_prefix("https://json-schema.org/"))?;
        let (draft, part) = vocabulary_from_path(path)?;
        Some(MetaRef {
            draft,
            part: Some(part),
        })
    }

    /// Checks `v` at `at`. Helm asserts formats here only for drafts 4, 6 and 7.
    fn check(&self, v: &Json, at: &[String]) -> Checked {
        let shape = Shape {
            resources: None,
            formats: self.draft < 2019,
            first: self.draft,
        };
        match self.part {
            None => shape.whole(self.draft, false, v, at),
            Some(p) => shape.part(self.draft, p, Recur::Part(p), v, at),
        }
    }

    /// Whether a keyword is one the meta-schema looks at (its value then counts as
    /// evaluated, for `unevaluatedProperties` next to the reference).
    fn knows(&self, kw: &str) -> bool {
        let d = self.draft;
        match self.part {
            Some(p) => accepts(d, p, kw).is_some(),
            None if d < 2019 => accepts(d, Part::Classic, kw).is_some(),
            None => std::iter::once(&Part::Dialect)
                .chain(vocabularies(d))
                .any(|&p| accepts(d, p, kw).is_some()),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Validation errors
// ------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Kind {
    Schema(String),
    Group,
    Not,
    AllOf,
    AnyOf,
    OneOf(Option<(usize, usize)>),
    FalseSchema,
    RefCycle(String, String, String),
    InvalidJsonValue(String),
    Type(u8, u8),
    Enum(Vec<Json>),
    Const(Json),
    Format(Json, String, String),
    Reference,
    MinProperties(usize, i64),
    MaxProperties(usize, i64),
    MinItems(usize, i64),
    MaxItems(usize, i64),
    AdditionalItems(usize),
    Required(Vec<String>),
    Dependency(String, Vec<String>),
    AdditionalProperties(Vec<String>),
    PropertyNames(String),
    UniqueItems(usize, usize),
    Contains,
    MinContains(Vec<usize>, i64),
    MaxContains(Vec<usize>, i64),
    MinLength(usize, i64),
    MaxLength(usize, i64),
    Pattern(String, String),
    Minimum(Dec, Dec),
    Maximum(Dec, Dec),
    ExclusiveMinimum(Dec, Dec),
    ExclusiveMaximum(Dec, Dec),
    MultipleOf(Dec, Dec),
}

/// A primitive value as the validator shows it.
fn display_json(v: &Json) -> String {
    match v {
        Json::String(s) => quote(s),
        Json::Array(_) | Json::Object(_) => "value".to_string(),
        Json::Number(n) => n.text.clone(),
        Json::Bool(b) => b.to_string(),
        Json::Null => "<nil>".to_string(),
        Json::Invalid(t) => t.clone(),
    }
}

fn join_quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|s| quote(s))
        .collect::<Vec<_>>()
        .join(", ")
}

fn loc_usize(n: usize) -> String {
    loc_int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn matched_list(got: &[usize]) -> String {
    got.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Kind {
    fn message(&self) -> String {
        let f = |d: &Dec| loc_float(d.to_f64());
        match self {
            Kind::Schema(loc) => format!("jsonschema validation failed with {}", quote(loc)),
            Kind::Group | Kind::Reference => "validation failed".to_string(),
            Kind::Not => "'not' failed".to_string(),
            Kind::AllOf => "'allOf' failed".to_string(),
            Kind::AnyOf => "'anyOf' failed".to_string(),
            Kind::OneOf(None) => "'oneOf' failed, none matched".to_string(),
            Kind::OneOf(Some((a, b))) => format!(
                "'oneOf' failed, subschemas {}, {} matched",
                loc_usize(*a),
                loc_usize(*b)
            ),
            Kind::FalseSchema => "false schema".to_string(),
            Kind::RefCycle(url, a, b) => format!(
                "both {a} and {b} resolve to {} causing reference cycle",
                go_quote(url)
            ),
            Kind::InvalidJsonValue(t) => format!("invalid jsonType {t}"),
            Kind::Type(got, want) => format!(
                "got {}, want {}",
                type_names(*got).join(" or "),
                type_names(*want).join(" or ")
            ),
            Kind::Enum(want) => {
                if want
                    .iter()
                    .any(|v| matches!(v, Json::Array(_) | Json::Object(_)))
                {
                    "'enum' failed".to_string()
                } else if want.len() == 1 {
                    format!("value must be {}", display_json(&want[0]))
                } else {
                    let items: Vec<String> = want.iter().map(display_json).collect();
                    format!("value must be one of {}", items.join(", "))
                }
            }
            Kind::Const(want) => match want {
                Json::Array(_) | Json::Object(_) => "'const' failed".to_string(),
                _ => format!("value must be {}", display_json(want)),
            },
            Kind::Format(got, want, err) => {
                format!("{} is not valid {want}: {err}", display_json(got))
            }
            Kind::MinProperties(got, want) => format!(
                "minProperties: got {}, want {}",
                loc_usize(*got),
                loc_int(*want)
            ),
            Kind::MaxProperties(got, want) => format!(
                "maxProperties: got {}, want {}",
                loc_usize(*got),
                loc_int(*want)
            ),
            Kind::MinItems(got, want) => {
                format!("minItems: got {}, want {}", loc_usize(*got), loc_int(*want))
            }
            Kind::MaxItems(got, want) => {
                format!("maxItems: got {}, want {}", loc_usize(*got), loc_int(*want))
            }
            Kind::AdditionalItems(n) => {
                format!("last {} additionalItem(s) not allowed", loc_usize(*n))
            }
            Kind::Required(missing) if missing.len() == 1 => {
                format!("missing property {}", quote(&missing[0]))
            }
            Kind::Required(missing) => format!("missing properties {}", join_quoted(missing)),
            Kind::Dependency(prop, missing) => format!(
                "properties {} required, if {} exists",
                join_quoted(missing),
                quote(prop)
            ),
            Kind::AdditionalProperties(props) => {
                format!("additional properties {} not allowed", join_quoted(props))
            }
            Kind::PropertyNames(p) => format!("invalid propertyName {}", quote(p)),
            Kind::UniqueItems(a, b) => {
                format!("items at {} and {} are equal", loc_usize(*a), loc_usize(*b))
            }
            Kind::Contains => "no items match contains schema".to_string(),
            Kind::MinContains(got, want) if got.is_empty() => format!(
                "min {} items required to match contains schema, but none matched",
                loc_int(*want)
            ),
            Kind::MinContains(got, want) => format!(
                "min {} items required to match contains schema, but matched {} items at {}",
                loc_int(*want),
                loc_usize(got.len()),
                matched_list(got)
            ),
            Kind::MaxContains(got, want) => format!(
                "max {} items required to match contains schema, but matched {} items at {}",
                loc_int(*want),
                loc_usize(got.len()),
                matched_list(got)
            ),
            Kind::MinLength(got, want) => {
                format!(
                    "minLength: got {}, want {}",
                    loc_usize(*got),
                    loc_int(*want)
                )
            }
            Kind::MaxLength(got, want) => {
                format!(
                    "maxLength: got {}, want {}",
                    loc_usize(*got),
                    loc_int(*want)
                )
            }
            Kind::Pattern(got, want) => {
                format!("{} does not match pattern {}", quote(got), quote(want))
            }
            Kind::Minimum(got, want) => format!("minimum: got {}, want {}", f(got), f(want)),
            Kind::Maximum(got, want) => format!("maximum: got {}, want {}", f(got), f(want)),
            Kind::ExclusiveMinimum(got, want) => {
                format!("exclusiveMinimum: got {}, want {}", f(got), f(want))
            }
            Kind::ExclusiveMaximum(got, want) => {
                format!("exclusiveMaximum: got {}, want {}", f(got), f(want))
            }
            Kind::MultipleOf(got, want) => {
                format!("multipleOf: got {}, want {}", f(got), f(want))
            }
        }
    }
}

/// One validation failure, with the failures it is made of.
#[derive(Clone, Debug)]
struct VErr {
    inst: Vec<String>,
    kind: Box<Kind>,
    causes: Vec<VErr>,
}

impl VErr {
    fn display(&self, out: &mut String, indent: usize) {
        let mut indent = indent;
        let skip = self.causes.len() == 1 && matches!(*self.kind, Kind::Reference);
        if !skip {
            if indent > 0 {
                out.push('\n');
                for _ in 0..indent - 1 {
                    out.push_str("  ");
                }
                out.push_str("- ");
            }
            indent += 1;
            if matches!(*self.kind, Kind::Schema(_)) {
                out.push_str(&self.kind.message());
            } else {
                out.push_str(&format!(
                    "at {}: {}",
                    quote(&json_pointer(&self.inst)),
                    self.kind.message()
                ));
            }
        }
        for c in &self.causes {
            c.display(out, indent);
        }
    }
}

impl fmt::Display for VErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.display(&mut out, 0);
        f.write_str(&out)
    }
}

// ------------------------------------------------------------------------------------------
// Validation
// ------------------------------------------------------------------------------------------

/// The chain of schemas applied to reach the current one, for dynamic references and for
/// spotting reference cycles. `vid` is the depth in the instance.
struct Scope<'a> {
    node: usize,
    ref_kw: Option<&'static str>,
    vid: usize,
    parent: Option<&'a Scope<'a>>,
}

impl<'a> Scope<'a> {
    fn check_cycle(&self) -> Option<&'a Scope<'a>> {
        let mut p = self.parent;
        while let Some(s) = p {
            if s.vid != self.vid {
                break;
            }
            if s.node == self.node {
                return Some(s);
            }
            p = s.parent;
        }
        None
    }

    fn kw_loc(&self, c: &Compiler) -> String {
        let mut loc = String::new();
        let mut sc = self;
        while let Some(parent) = sc.parent {
            match sc.ref_kw {
                Some(kw) => loc = format!("/{}{loc}", escape_token(kw)),
                None => {
                    let cur = &c.nodes[sc.node].loc;
                    let par = &c.nodes[parent.node].loc;
                    loc = format!("{}{loc}", cur.get(par.len()..).unwrap_or(""));
                }
            }
            sc = parent;
        }
        loc
    }
}

/// Properties and items no keyword has looked at yet (for `unevaluated*`).
#[derive(Clone, Debug, Default)]
struct Uneval {
    props: BTreeSet<String>,
    items: BTreeSet<usize>,
}

impl Uneval {
    fn is_empty(&self) -> bool {
        self.props.is_empty() && self.items.is_empty()
    }

    fn merge(&mut self, other: &Uneval) {
        self.props.retain(|p| other.props.contains(p));
        self.items.retain(|i| other.items.contains(i));
    }
}

fn uneval_from(c: &Compiler, v: &Json, node: usize, caller_needs: bool) -> Uneval {
    let n = &c.nodes[node];
    let mut u = Uneval::default();
    match v {
        Json::Object(obj)
            if !n.all_props_evaluated && (caller_needs || n.unevaluated_properties.is_some()) =>
        {
            u.props = obj.keys().cloned().collect();
        }
        Json::Array(arr)
            if !n.all_items_evaluated
                && (caller_needs || n.unevaluated_items.is_some())
                && n.num_items_evaluated < arr.len() =>
        {
            u.items = (n.num_items_evaluated..arr.len()).collect();
        }
        _ => {}
    }
    u
}

/// Whether two values are equal as JSON (numbers by value); values JSON cannot hold are
/// an error.
fn json_equals(a: &Json, b: &Json) -> Result<bool, Kind> {
    match a {
        Json::Object(m1) => {
            let Json::Object(m2) = b else {
                return Ok(false);
            };
            if m1.len() != m2.len() {
                return Ok(false);
            }
            for (k, v1) in m1 {
                let Some(v2) = m2.get(k) else {
                    return Ok(false);
                };
                if !json_equals(v1, v2)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Json::Array(a1) => {
            let Json::Array(a2) = b else {
                return Ok(false);
            };
            if a1.len() != a2.len() {
                return Ok(false);
            }
            for (x, y) in a1.iter().zip(a2) {
                if !json_equals(x, y)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Json::Null => Ok(matches!(b, Json::Null)),
        Json::Bool(x) => Ok(matches!(b, Json::Bool(y) if x == y)),
        Json::String(x) => Ok(matches!(b, Json::String(y) if x == y)),
        Json::Number(x) => Ok(matches!(b, Json::Number(y) if x.dec.cmp(&y.dec) == Ordering::Equal)),
        Json::Invalid(t) if t == "float64" => Ok(false),
        Json::Invalid(t) => Err(Kind::InvalidJsonValue(t.clone())),
    }
}

impl Compiler {
    /// A fresh validation of `v` with `node`.
    fn validate_root(&self, node: usize, v: &Json) -> Result<(), VErr> {
        let scope = Scope {
            node,
            ref_kw: None,
            vid: 0,
            parent: None,
        };
        let mut run = Run {
            c: self,
            v,
            vloc: Vec::new(),
            node,
            scope: &scope,
            uneval: uneval_from(self, v, node, false),
            errors: Vec::new(),
        };
        match run.run() {
            Ok(_) => Ok(()),
            Err(e) => {
                let loc = self.nodes[node].loc.clone();
                let causes = if matches!(*e.kind, Kind::Group) {
                    e.causes
                } else {
                    vec![e]
                };
                Err(VErr {
                    inst: Vec::new(),
                    kind: Box::new(Kind::Schema(loc)),
                    causes,
                })
            }
        }
    }
}

/// Validation of one value with one schema.
struct Run<'a> {
    c: &'a Compiler,
    v: &'a Json,
    vloc: Vec<String>,
    node: usize,
    scope: &'a Scope<'a>,
    uneval: Uneval,
    errors: Vec<VErr>,
}

impl<'a> Run<'a> {
    fn n(&self) -> &'a Node {
        &self.c.nodes[self.node]
    }

    fn error(&self, kind: Kind) -> VErr {
        VErr {
            inst: self.vloc.clone(),
            kind: Box::new(kind),
            causes: Vec::new(),
        }
    }

    fn add(&mut self, kind: Kind) {
        let e = self.error(kind);
        self.errors.push(e);
    }

    fn add_with(&mut self, kind: Kind, causes: Vec<VErr>) {
        let mut e = self.error(kind);
        e.causes = causes;
        self.errors.push(e);
    }

    fn add_result(&mut self, r: Result<(), VErr>) {
        if let Err(e) = r {
            self.errors.push(e);
        }
    }

    fn run(&mut self) -> Result<Uneval, VErr> {
        let c = self.c;
        let n = self.n();
        if let Some(b) = n.bool_schema {
            return if b {
                Ok(std::mem::take(&mut self.uneval))
            } else {
                Err(self.error(Kind::FalseSchema))
            };
        }
        if let Some(prev) = self.scope.check_cycle() {
            return Err(self.error(Kind::RefCycle(
                n.loc.clone(),
                self.scope.kw_loc(c),
                prev.kw_loc(c),
            )));
        }
        let t = type_of(self.v);
        if t == 0 {
            let Json::Invalid(name) = self.v else {
                unreachable!("only invalid values have no type")
            };
            return Err(self.error(Kind::InvalidJsonValue(name.clone())));
        }
        if let Some(meta) = n.meta {
            meta.check(self.v, &self.vloc)?;
            if let Json::Object(obj) = self.v {
                for kw in obj.keys().filter(|kw| meta.knows(kw)) {
                    self.uneval.props.remove(kw);
                }
            }
            return Ok(std::mem::take(&mut self.uneval));
        }
        if n.types != 0 {
            let integer = matches!(self.v, Json::Number(num) if num.dec.is_integer());
            let matched = n.types & t != 0 || (n.types & T_INTEGER != 0 && integer);
            if !matched {
                return Err(self.error(Kind::Type(t, n.types)));
            }
        }
        if let Some(want) = &n.const_ {
            match json_equals(self.v, want) {
                Err(k) => return Err(self.error(k)),
                Ok(false) => return Err(self.error(Kind::Const(want.clone()))),
                Ok(true) => {}
            }
        }
        if let Some(values) = &n.enum_ {
            let mut matched = false;
            if values.iter().any(|w| type_of(w) == t) {
                for w in values {
                    match json_equals(self.v, w) {
                        Err(k) => return Err(self.error(k)),
                        Ok(true) => {
                            matched = true;
                            break;
                        }
                        Ok(false) => {}
                    }
                }
            }
            if !matched {
                return Err(self.error(Kind::Enum(values.clone())));
            }
        }
        if let Some(format) = &n.format
            && let Err(e) = check_format(format, self.v)
        {
            return Err(self.error(Kind::Format(self.v.clone(), format.clone(), e)));
        }
        if let Some(r) = n.ref_ {
            let result = self.validate_ref(r, "$ref");
            if n.draft < 2019 {
                return result.map(|()| std::mem::take(&mut self.uneval));
            }
            self.add_result(result);
        }
        let v = self.v;
        match v {
            Json::Object(obj) => self.object(obj),
            Json::Array(arr) => self.array(arr),
            Json::String(s) => self.string(s),
            Json::Number(num) => self.number(&num.dec),
            _ => {}
        }
        if n.draft >= 2019 {
            self.refs();
        }
        self.conditions();
        if n.draft >= 2019 {
            self.unevaluated();
        }
        match self.errors.len() {
            0 => Ok(std::mem::take(&mut self.uneval)),
            1 => Err(self.errors.pop().expect("one error")),
            _ => {
                let causes = std::mem::take(&mut self.errors);
                let mut e = self.error(Kind::Group);
                e.causes = causes;
                Err(e)
            }
        }
    }

    /// A child run on the same value (`allOf`, `$ref`, ...).
    fn validate_self(&mut self, node: usize, ref_kw: Option<&'static str>) -> Result<(), VErr> {
        let scope = Scope {
            node,
            ref_kw,
            vid: self.scope.vid,
            parent: Some(self.scope),
        };
        let uneval = uneval_from(self.c, self.v, node, !self.uneval.is_empty());
        let mut sub = Run {
            c: self.c,
            v: self.v,
            vloc: self.vloc.clone(),
            node,
            scope: &scope,
            uneval,
            errors: Vec::new(),
        };
        let u = sub.run()?;
        self.uneval.merge(&u);
        Ok(())
    }

    /// A child run on a part of the value.
    fn validate_val(&self, node: usize, v: &Json, tok: String) -> Result<(), VErr> {
        let scope = Scope {
            node,
            ref_kw: None,
            vid: self.scope.vid + 1,
            parent: Some(self.scope),
        };
        let mut vloc = self.vloc.clone();
        vloc.push(tok);
        let mut sub = Run {
            c: self.c,
            v,
            vloc,
            node,
            scope: &scope,
            uneval: uneval_from(self.c, v, node, false),
            errors: Vec::new(),
        };
        sub.run().map(|_| ())
    }

    fn validate_ref(&mut self, node: usize, kw: &'static str) -> Result<(), VErr> {
        let r = self.validate_self(node, Some(kw));
        by_reference(&self.vloc, r)
    }

    fn object(&mut self, obj: &BTreeMap<String, Json>) {
        let n = self.n();
        let len = obj.len();
        if let Some(min) = n.min_properties
            && (len as i64) < min
        {
            self.add(Kind::MinProperties(len, min));
        }
        if let Some(max) = n.max_properties
            && (len as i64) > max
        {
            self.add(Kind::MaxProperties(len, max));
        }
        let missing = |names: &[String]| -> Vec<String> {
            names
                .iter()
                .filter(|p| !obj.contains_key(*p))
                .cloned()
                .collect()
        };
        let req = missing(&n.required);
        if !req.is_empty() {
            self.add(Kind::Required(req));
        }
        for (name, dep) in &n.dependencies {
            if !obj.contains_key(name) {
                continue;
            }
            match dep {
                Dependency::Required(names) => {
                    let m = missing(names);
                    if !m.is_empty() {
                        self.add(Kind::Dependency(name.clone(), m));
                    }
                }
                Dependency::Schema(s) => {
                    let r = self.validate_self(*s, None);
                    self.add_result(r);
                }
            }
        }
        let mut additional = Vec::new();
        for (name, value) in obj {
            let mut evaluated = false;
            if let Some(&s) = n.properties.get(name) {
                evaluated = true;
                let r = self.validate_val(s, value, name.clone());
                self.add_result(r);
            }
            for (re, s) in &n.pattern_properties {
                if re.is_match(name) {
                    evaluated = true;
                    let r = self.validate_val(*s, value, name.clone());
                    self.add_result(r);
                }
            }
            if !evaluated && let Some(a) = &n.additional_properties {
                evaluated = true;
                match a {
                    Additional::Bool(false) => additional.push(name.clone()),
                    Additional::Bool(true) => {}
                    Additional::Schema(s) => {
                        let r = self.validate_val(*s, value, name.clone());
                        self.add_result(r);
                    }
                }
            }
            if evaluated {
                self.uneval.props.remove(name);
            }
        }
        if !additional.is_empty() {
            self.add(Kind::AdditionalProperties(additional));
        }
        if n.draft == 4 {
            return;
        }
        if let Some(s) = n.property_names {
            for name in obj.keys() {
                let key = Json::String(name.clone());
                if let Err(e) = self.c.validate_root(s, &key) {
                    self.errors.push(VErr {
                        inst: self.vloc.clone(),
                        kind: Box::new(Kind::PropertyNames(name.clone())),
                        causes: e.causes,
                    });
                }
            }
        }
        if n.draft == 6 {
            return;
        }
        for (name, s) in &n.dependent_schemas {
            if obj.contains_key(name) {
                let r = self.validate_self(*s, None);
                self.add_result(r);
            }
        }
        for (name, names) in &n.dependent_required {
            if obj.contains_key(name) {
                let m = missing(names);
                if !m.is_empty() {
                    self.add(Kind::Dependency(name.clone(), m));
                }
            }
        }
    }

    fn array(&mut self, arr: &[Json]) {
        let n = self.n();
        let len = arr.len();
        if let Some(min) = n.min_items
            && (len as i64) < min
        {
            self.add(Kind::MinItems(len, min));
        }
        if let Some(max) = n.max_items
            && (len as i64) > max
        {
            self.add(Kind::MaxItems(len, max));
        }
        if n.unique_items && len > 1 {
            'outer: for i in 1..len {
                for j in 0..i {
                    match json_equals(&arr[i], &arr[j]) {
                        Ok(false) => {}
                        Ok(true) => {
                            self.add(Kind::UniqueItems(j, i));
                            break 'outer;
                        }
                        Err(k) => {
                            self.add(k);
                            break 'outer;
                        }
                    }
                }
            }
        }
        if n.draft < 2020 {
            let mut evaluated = 0;
            match &n.items {
                Some(Items::One(s)) => {
                    for (i, item) in arr.iter().enumerate() {
                        let r = self.validate_val(*s, item, i.to_string());
                        self.add_result(r);
                    }
                    evaluated = len;
                }
                Some(Items::Many(list)) => {
                    evaluated = len.min(list.len());
                    for (i, item) in arr[..evaluated].iter().enumerate() {
                        let r = self.validate_val(list[i], item, i.to_string());
                        self.add_result(r);
                    }
                }
                None => {}
            }
            match &n.additional_items {
                Some(Additional::Bool(false)) if evaluated != len => {
                    self.add(Kind::AdditionalItems(len - evaluated));
                }
                Some(Additional::Schema(s)) => {
                    for (i, item) in arr.iter().enumerate().skip(evaluated) {
                        let r = self.validate_val(*s, item, i.to_string());
                        self.add_result(r);
                    }
                }
                _ => {}
            }
        } else {
            let evaluated = n.prefix_items.len().min(len);
            for (i, item) in arr[..evaluated].iter().enumerate() {
                let r = self.validate_val(n.prefix_items[i], item, i.to_string());
                self.add_result(r);
            }
            if let Some(s) = n.items2020 {
                for (i, item) in arr.iter().enumerate().skip(evaluated) {
                    let r = self.validate_val(s, item, i.to_string());
                    self.add_result(r);
                }
            }
        }
        if let Some(s) = n.contains {
            let mut errors = Vec::new();
            let mut matched = Vec::new();
            for (i, item) in arr.iter().enumerate() {
                match self.validate_val(s, item, i.to_string()) {
                    Err(e) => errors.push(e),
                    Ok(()) => {
                        matched.push(i);
                        if n.draft >= 2020 {
                            self.uneval.items.remove(&i);
                        }
                    }
                }
            }
            if let Some(min) = n.min_contains {
                if (matched.len() as i64) < min {
                    self.add_with(Kind::MinContains(matched.clone(), min), errors);
                }
            } else if matched.is_empty() {
                self.add_with(Kind::Contains, errors);
            }
            if let Some(max) = n.max_contains
                && (matched.len() as i64) > max
            {
                self.add(Kind::MaxContains(matched, max));
            }
        }
    }

    fn string(&mut self, s: &str) {
        let n = self.n();
        let len = s.chars().count();
        if let Some(min) = n.min_length
            && (len as i64) < min
        {
            self.add(Kind::MinLength(len, min));
        }
        if let Some(max) = n.max_length
            && (len as i64) > max
        {
            self.add(Kind::MaxLength(len, max));
        }
        if let Some(re) = &n.pattern
            && !re.is_match(s)
        {
            self.add(Kind::Pattern(s.to_string(), re.source.clone()));
        }
    }

    fn number(&mut self, num: &Dec) {
        let n = self.n();
        if let Some(min) = &n.minimum
            && num.cmp(min) == Ordering::Less
        {
            self.add(Kind::Minimum(num.clone(), min.clone()));
        }
        if let Some(max) = &n.maximum
            && num.cmp(max) == Ordering::Greater
        {
            self.add(Kind::Maximum(num.clone(), max.clone()));
        }
        if let Some(min) = &n.exclusive_minimum
            && num.cmp(min) != Ordering::Greater
        {
            self.add(Kind::ExclusiveMinimum(num.clone(), min.clone()));
        }
        if let Some(max) = &n.exclusive_maximum
            && num.cmp(max) != Ordering::Less
        {
            self.add(Kind::ExclusiveMaximum(num.clone(), max.clone()));
        }
        if let Some(by) = &n.multiple_of
            && !num.is_multiple_of(by)
        {
            self.add(Kind::MultipleOf(num.clone(), by.clone()));
        }
    }

    fn conditions(&mut self) {
        let n = self.n();
        if let Some(s) = n.not
            && self.validate_self(s, None).is_ok()
        {
            self.add(Kind::Not);
        }
        if !n.all_of.is_empty() {
            let mut errors = Vec::new();
            for &s in &n.all_of {
                if let Err(e) = self.validate_self(s, None) {
                    errors.push(e);
                }
            }
            if !errors.is_empty() {
                self.add_with(Kind::AllOf, errors);
            }
        }
        if !n.any_of.is_empty() {
            let mut matched = false;
            let mut errors = Vec::new();
            for &s in &n.any_of {
                match self.validate_self(s, None) {
                    Err(e) => errors.push(e),
                    Ok(()) => {
                        matched = true;
                        if self.uneval.is_empty() {
                            break;
                        }
                    }
                }
            }
            if !matched {
                self.add_with(Kind::AnyOf, errors);
            }
        }
        if !n.one_of.is_empty() {
            let mut matched: Option<usize> = None;
            let mut errors = Vec::new();
            for (i, &s) in n.one_of.iter().enumerate() {
                match self.validate_self(s, None) {
                    Err(e) => {
                        if matched.is_none() {
                            errors.push(e);
                        }
                    }
                    Ok(()) => match matched {
                        None => matched = Some(i),
                        Some(m) => {
                            self.add(Kind::OneOf(Some((m, i))));
                            break;
                        }
                    },
                }
            }
            if matched.is_none() {
                self.add_with(Kind::OneOf(None), errors);
            }
        }
        if let Some(s) = n.if_ {
            if self.validate_self(s, None).is_ok() {
                if let Some(t) = n.then {
                    let r = self.validate_self(t, None);
                    self.add_result(r);
                }
            } else if let Some(e) = n.else_ {
                let r = self.validate_self(e, None);
                self.add_result(r);
            }
        }
    }

    fn refs(&mut self) {
        let c = self.c;
        let n = self.n();
        if let Some(target) = n.recursive_ref {
            let mut s = target;
            if c.nodes[s].recursive_anchor {
                let mut scope = Some(self.scope);
                while let Some(sc) = scope {
                    if c.nodes[c.nodes[sc.node].resource].recursive_anchor {
                        s = sc.node;
                    }
                    scope = sc.parent;
                }
            }
            let r = self.validate_ref(s, "$recursiveRef");
            self.add_result(r);
        }
        if let Some((target, anchor)) = &n.dynamic_ref {
            let mut s = *target;
            if !anchor.is_empty() && c.nodes[s].dynamic_anchor == *anchor {
                let mut scope = Some(self.scope);
                while let Some(sc) = scope {
                    if let Some(&d) = c.nodes[c.nodes[sc.node].resource]
                        .dynamic_anchors
                        .get(anchor)
                    {
                        s = d;
                    }
                    scope = sc.parent;
                }
            }
            let r = self.validate_ref(s, "$dynamicRef");
            self.add_result(r);
        }
    }

    fn unevaluated(&mut self) {
        let n = self.n();
        let v = self.v;
        if let (Json::Object(obj), Some(s)) = (v, n.unevaluated_properties) {
            let props: Vec<String> = self.uneval.props.iter().cloned().collect();
            for name in props {
                if let Some(value) = obj.get(&name) {
                    let r = self.validate_val(s, value, name.clone());
                    self.add_result(r);
                }
            }
            self.uneval.props.clear();
        }
        if let (Json::Array(arr), Some(s)) = (v, n.unevaluated_items) {
            let items: Vec<usize> = self.uneval.items.iter().copied().collect();
            for i in items {
                let r = self.validate_val(s, &arr[i], i.to_string());
                self.add_result(r);
            }
            self.uneval.items.clear();
        }
    }
}
