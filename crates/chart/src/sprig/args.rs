//! Arguments as Go hands them to sprig's functions: those of parameters with a concrete
//! Go type (`int`, `string`, `bool`, `float64`, `map[string]interface {}`), which the
//! engine has converted and checked before the call (the types are declared in
//! [`PARAMS`](super::PARAMS)), and the conversions sprig makes itself for `interface {}`
//! parameters (`github.com/spf13/cast`'s rules).

use slipway_template::{Map, Value};

/// The text `text/template` reports when an argument does not fit a parameter of Go
/// type `expected`: a missing value is "invalid", any other value is "of the wrong type".
/// For the methods of values (a version's `SetPrerelease`), which check their own.
pub(super) fn wrong_type(expected: &str, got: &Value) -> String {
    if got.is_nil() {
        format!("invalid value; expected {expected}")
    } else {
        format!(
            "wrong type for value; expected {expected}; got {}",
            got.type_name()
        )
    }
}

/// A `string` parameter.
pub(super) fn string(v: &Value) -> &str {
    debug_assert!(
        matches!(v, Value::String(_)),
        "a string parameter got {v:?}"
    );
    v.as_str().unwrap_or_default()
}

/// An `int` parameter.
pub(super) fn int(v: &Value) -> i64 {
    debug_assert!(matches!(v, Value::Int(_)), "an int parameter got {v:?}");
    match v {
        Value::Int(i) => *i,
        _ => 0,
    }
}

/// A `bool` parameter.
pub(super) fn boolean(v: &Value) -> bool {
    debug_assert!(matches!(v, Value::Bool(_)), "a bool parameter got {v:?}");
    matches!(v, Value::Bool(true))
}

/// A `float64` parameter (an integer constant such as the `1` of `round 1.5 1 1` arrives
/// converted).
pub(super) fn float(v: &Value) -> f64 {
    debug_assert!(
        matches!(v, Value::Float(_)),
        "a float64 parameter got {v:?}"
    );
    match v {
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

/// A `map[string]interface {}` parameter: `None` for Go's nil map (a missing value, or
/// the `nil` constant).
pub(super) fn map(v: &Value) -> Option<Map> {
    debug_assert!(
        matches!(v, Value::Map(_) | Value::Nil),
        "a map parameter got {v:?}"
    );
    match v {
        Value::Map(m) => Some(m.clone()),
        _ => None,
    }
}

/// The message of Go's runtime panic for a nil value where a type was needed
/// (`reflect.TypeOf(nil).Kind()`).
pub(super) const NIL_DEREFERENCE: &str =
    "runtime error: invalid memory address or nil pointer dereference";

/// A string from bytes Go would hold as they are; bytes that are not UTF-8 (a string cut
/// inside a character, say) become U+FFFD.
pub(super) fn bytes_value(bytes: &[u8]) -> Value {
    Value::from(String::from_utf8_lossy(bytes).into_owned())
}

/// Go's `float64` to `int64` conversion on amd64: values out of range (and NaN) give the
/// smallest `int64`.
pub(super) fn f64_to_i64(f: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// sprig's `strval`: strings as they are, bytes as text, anything else as `%v` prints it.
pub(super) fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => slipway_template::fmt::display(other),
    }
}

/// `cast.ToInt64` (and `cast.ToInt`: Go's `int` is 64 bits here): numbers converted,
/// strings parsed as Go integer literals (a `.0`, `.00`... suffix dropped), booleans
/// as 1 and 0, anything else (and any failure) 0.
pub(super) fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => f64_to_i64(*f),
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => parse_int_base0(trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

/// `cast.ToFloat64`: numbers converted, strings parsed as `strconv.ParseFloat` does,
/// booleans as 1 and 0, anything else (and any failure) 0.
pub(super) fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => parse_float(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

/// cast's `trimZeroDecimal`: `"5.0"` and `"5.00"` become `"5"`; anything else is kept.
fn trim_zero_decimal(s: &str) -> &str {
    let bytes = s.as_bytes();
    let mut saw_zero = false;
    for i in (0..bytes.len()).rev() {
        match bytes[i] {
            b'.' if saw_zero => return &s[..i],
            b'.' => {}
            b'0' => saw_zero = true,
            _ => return s,
        }
    }
    s
}

/// Whether the underscores of a Go number literal sit only between digits (or between a
/// base prefix and a digit), as `strconv` requires.
fn underscores_ok(s: &str) -> bool {
    let mut s = s.as_bytes();
    if let [b'+' | b'-', rest @ ..] = s {
        s = rest;
    }
    // What came last: '^' the start, '0' a digit or base prefix, '_' an underscore,
    // '!' anything else.
    let mut saw = b'^';
    let mut hex = false;
    let mut i = 0;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c.is_ascii_digit() || hex && c.is_ascii_hexdigit() {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else if saw == b'_' {
            return false;
        } else {
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Why a number did not parse.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NumError {
    /// Not a number.
    Syntax,
    /// A number too large (the value is the nearest the type holds).
    Range,
}

/// `strconv.ParseUint(s, base, 64)` for bases 2 to 36, or 0 (Go's literal prefixes, with
/// underscores allowed).
pub(super) fn parse_uint(s: &str, base: u32) -> Result<u64, (NumError, u64)> {
    if s.is_empty() {
        return Err((NumError::Syntax, 0));
    }
    let whole = s;
    let mut digits = s;
    let mut base = base;
    let base0 = base == 0;
    if base0 {
        base = 10;
        let b = s.as_bytes();
        if b[0] == b'0' {
            let prefix = if b.len() >= 3 {
                match b[1].to_ascii_lowercase() {
                    b'b' => Some(2),
                    b'o' => Some(8),
                    b'x' => Some(16),
                    _ => None,
                }
            } else {
                None
            };
            match prefix {
                Some(p) => {
                    base = p;
                    digits = &s[2..];
                }
                None => {
                    base = 8;
                    digits = &s[1..];
                }
            }
        }
    }
    let mut n: u64 = 0;
    let mut overflow = false;
    let mut underscores = false;
    for c in digits.bytes() {
        let d = match c {
            b'_' if base0 => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => u32::from(c - b'0'),
            b'a'..=b'z' | b'A'..=b'Z' => u32::from(c.to_ascii_lowercase() - b'a') + 10,
            _ => return Err((NumError::Syntax, 0)),
        };
        if d >= base {
            return Err((NumError::Syntax, 0));
        }
        match n
            .checked_mul(u64::from(base))
            .and_then(|m| m.checked_add(u64::from(d)))
        {
            Some(m) if !overflow => n = m,
            _ => overflow = true,
        }
    }
    if underscores && !underscores_ok(whole) {
        return Err((NumError::Syntax, 0));
    }
    if overflow {
        return Err((NumError::Range, u64::MAX));
    }
    Ok(n)
}

/// `strconv.ParseInt(s, base, 64)`; on a range error the nearest `int64` comes with it.
pub(super) fn parse_int(s: &str, base: u32) -> Result<i64, (NumError, i64)> {
    if s.is_empty() {
        return Err((NumError::Syntax, 0));
    }
    let (neg, digits) = match s.as_bytes()[0] {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let un = match parse_uint(digits, base) {
        Ok(un) => un,
        Err((NumError::Range, _)) => u64::MAX,
        Err((e, _)) => return Err((e, 0)),
    };
    const CUTOFF: u64 = 1 << 63;
    if !neg && un >= CUTOFF {
        return Err((NumError::Range, i64::MAX));
    }
    if neg && un > CUTOFF {
        return Err((NumError::Range, i64::MIN));
    }
    Ok(if neg {
        (un as i64).wrapping_neg()
    } else {
        un as i64
    })
}

/// `strconv.ParseInt(s, 0, 64)`, errors as `None`.
pub(super) fn parse_int_base0(s: &str) -> Option<i64> {
    parse_int(s, 0).ok()
}

/// `strconv.Atoi`: base 10 without underscores; a number too large gives the nearest
/// `int` (with an error sprig ignores), anything else 0.
pub(super) fn atoi(s: &str) -> i64 {
    match parse_int(s, 10) {
        Ok(i) => i,
        Err((_, nearest)) => nearest,
    }
}

/// `strconv.ParseFloat(s, 64)`: Go's decimal and hexadecimal float literals (with
/// underscores between digits), `inf`, `infinity` and `nan` in any case. A number too
/// large is a range error.
pub(super) fn parse_float(s: &str) -> Result<f64, NumError> {
    if let Some(f) = special_float(s) {
        return Ok(f);
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut neg = false;
    if let Some(&c @ (b'+' | b'-')) = b.first() {
        neg = c == b'-';
        i = 1;
    }
    let hex = i + 2 < b.len() && b[i] == b'0' && b[i + 1].eq_ignore_ascii_case(&b'x');
    if hex {
        i += 2;
    }
    let mut underscores = false;
    let mut saw_dot = false;
    let mut saw_digits = false;
    let mut cleaned = String::with_capacity(s.len());
    while i < b.len() {
        let c = b[i];
        match c {
            b'_' => underscores = true,
            b'.' if !saw_dot => {
                saw_dot = true;
                cleaned.push('.');
            }
            b'0'..=b'9' => {
                saw_digits = true;
                cleaned.push(char::from(c));
            }
            _ if hex && c.is_ascii_hexdigit() => {
                saw_digits = true;
                cleaned.push(char::from(c));
            }
            _ => break,
        }
        i += 1;
    }
    if !saw_digits {
        return Err(NumError::Syntax);
    }
    let mantissa_text = cleaned;
    let mut exp: i64 = 0;
    let exp_char = if hex { b'p' } else { b'e' };
    if i < b.len() && b[i].to_ascii_lowercase() == exp_char {
        i += 1;
        let mut esign = 1;
        match b.get(i) {
            Some(b'+') => i += 1,
            Some(b'-') => {
                i += 1;
                esign = -1;
            }
            _ => {}
        }
        if i >= b.len() || !b[i].is_ascii_digit() {
            return Err(NumError::Syntax);
        }
        let mut e: i64 = 0;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            if b[i] == b'_' {
                underscores = true;
            } else if e < 10000 {
                e = e * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        exp = e * esign;
    } else if hex {
        return Err(NumError::Syntax);
    }
    if i != b.len() || underscores && !underscores_ok(s) {
        return Err(NumError::Syntax);
    }
    let f = if hex {
        hex_float(&mantissa_text, exp)?
    } else {
        let text = format!("{mantissa_text}e{exp}");
        let f: f64 = text.parse().map_err(|_| NumError::Syntax)?;
        if f.is_infinite() {
            return Err(NumError::Range);
        }
        f
    };
    Ok(if neg { -f } else { f })
}

/// `inf`, `+Inf`, `-infinity`, `NaN`...: the whole string, in any case.
fn special_float(s: &str) -> Option<f64> {
    let (sign, rest, signed) = match s.as_bytes().first() {
        Some(b'+') => (1.0, &s[1..], true),
        Some(b'-') => (-1.0, &s[1..], true),
        _ => (1.0, s, false),
    };
    if rest.eq_ignore_ascii_case("inf") || rest.eq_ignore_ascii_case("infinity") {
        return Some(sign * f64::INFINITY);
    }
    if !signed && rest.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    None
}

/// The value of hexadecimal digits (with at most one point) times 2^`exp`, rounded to
/// the nearest `float64` (ties to even).
fn hex_float(digits: &str, exp: i64) -> Result<f64, NumError> {
    // Significant bits kept in a u64 with the rest folded into a sticky bit.
    let mut mant: u64 = 0;
    let mut exp2: i64 = exp;
    let mut sticky = false;
    let mut after_dot = false;
    for c in digits.bytes() {
        if c == b'.' {
            after_dot = true;
            continue;
        }
        let d = u64::from(char::from(c).to_digit(16).unwrap_or(0) as u8);
        if mant >> 58 == 0 {
            mant = mant << 4 | d;
            if after_dot {
                exp2 -= 4;
            }
        } else {
            sticky |= d != 0;
            if !after_dot {
                exp2 += 4;
            }
        }
    }
    if mant == 0 {
        return Ok(0.0);
    }
    // Normalise to 64 bits, then round to 53 (or fewer for subnormals).
    let shift = mant.leading_zeros();
    mant <<= shift;
    exp2 -= i64::from(shift);
    // value = mant * 2^exp2, with mant in [2^63, 2^64).
    let top = exp2 + 63; // exponent of the leading bit
    if top > 1023 {
        return Err(NumError::Range);
    }
    let keep: i64 = if top >= -1022 { 53 } else { 53 - (-1022 - top) };
    if keep <= 0 {
        // Below half the smallest subnormal, or exactly rounding to it.
        let half = keep == 0 && (mant > 1 << 63 || sticky && mant == 1 << 63);
        return Ok(if half { f64::from_bits(1) } else { 0.0 });
    }
    let drop = 64 - keep as u32;
    let mut kept = mant >> drop;
    let rest = mant & ((1u64 << drop) - 1);
    let halfway = 1u64 << (drop - 1);
    if rest > halfway || rest == halfway && (sticky || kept & 1 == 1) {
        kept += 1;
    }
    let value = kept as f64 * 2f64.powi((exp2 + i64::from(drop)) as i32);
    // powi of very small exponents may underflow in two steps; do it in halves.
    let value = if value == 0.0 || value.is_infinite() {
        let e = exp2 + i64::from(drop);
        kept as f64 * 2f64.powi((e / 2) as i32) * 2f64.powi((e - e / 2) as i32)
    } else {
        value
    };
    if value.is_infinite() {
        return Err(NumError::Range);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_zero_decimals_as_cast_does() {
        assert_eq!(trim_zero_decimal("5.0"), "5");
        assert_eq!(trim_zero_decimal("5.00"), "5");
        assert_eq!(trim_zero_decimal("10"), "10");
        assert_eq!(trim_zero_decimal("5."), "5.");
        assert_eq!(trim_zero_decimal(".0"), "");
        assert_eq!(trim_zero_decimal("5.5"), "5.5");
    }

    #[test]
    fn parses_integers_as_strconv_does() {
        assert_eq!(parse_int_base0("0x1F"), Some(31));
        assert_eq!(parse_int_base0("1_000"), Some(1000));
        assert_eq!(parse_int_base0("0777"), Some(511));
        assert_eq!(parse_int_base0("08"), None);
        assert_eq!(parse_int_base0("0"), Some(0));
        assert_eq!(parse_int_base0("-0b101"), Some(-5));
        assert_eq!(parse_int_base0("_1"), None);
        assert_eq!(parse_int_base0("9223372036854775808"), None);
        assert_eq!(parse_int_base0("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(atoi("99999999999999999999"), i64::MAX);
        assert_eq!(atoi("+5"), 5);
        assert_eq!(atoi(" 5"), 0);
        assert_eq!(atoi("1_0"), 0);
    }

    #[test]
    fn parses_floats_as_strconv_does() {
        assert_eq!(parse_float("1_000.5"), Ok(1000.5));
        assert_eq!(parse_float("0x1p3"), Ok(8.0));
        assert_eq!(parse_float("0x1.8p1"), Ok(3.0));
        assert_eq!(parse_float("-0x.8p0"), Ok(-0.5));
        assert_eq!(parse_float("inf"), Ok(f64::INFINITY));
        assert_eq!(parse_float("-Infinity"), Ok(f64::NEG_INFINITY));
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("+nan"), Err(NumError::Syntax));
        assert_eq!(parse_float("1e400"), Err(NumError::Range));
        assert_eq!(parse_float("0x1p"), Err(NumError::Syntax));
        assert_eq!(parse_float("0x1"), Err(NumError::Syntax));
        assert_eq!(parse_float("1e"), Err(NumError::Syntax));
        assert_eq!(parse_float(".5"), Ok(0.5));
        assert_eq!(parse_float("5."), Ok(5.0));
        assert_eq!(parse_float("."), Err(NumError::Syntax));
        assert_eq!(parse_float(""), Err(NumError::Syntax));
        assert_eq!(parse_float("1.2.3"), Err(NumError::Syntax));
        assert_eq!(parse_float("0x1p-1074"), Ok(f64::from_bits(1)));
        assert_eq!(parse_float("0x1p-1076"), Ok(0.0));
        assert_eq!(parse_float("0x1.8p-1075"), Ok(f64::from_bits(1)));
    }

    #[test]
    fn converts_floats_as_amd64_does() {
        assert_eq!(f64_to_i64(3.7), 3);
        assert_eq!(f64_to_i64(-3.7), -3);
        assert_eq!(f64_to_i64(1e19), i64::MIN);
        assert_eq!(f64_to_i64(f64::NAN), i64::MIN);
    }
}
