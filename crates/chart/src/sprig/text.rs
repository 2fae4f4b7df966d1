//! sprig's string functions. Several of them (`trunc`, `substr`, `abbrev`, `wrap`,
//! `initials`, `nospace`) work on bytes in Go, not characters; they do here too, so a cut
//! inside a multi-byte character gives what Go gives, with the broken bytes shown as
//! U+FFFD.

use slipway_template::{FuncResult, Value};

use super::args::{self, bytes_value, strval};
use super::unicode::{
    is_digit, is_letter, is_lower, is_number, is_punct, is_space, is_title, is_upper, to_lower,
    to_title, to_upper,
};

/// `hello`.
pub(super) fn hello(_: &[Value]) -> FuncResult {
    Ok(Value::str("Hello!"))
}

/// `trim s`: `strings.TrimSpace`.
pub(super) fn trim(a: &[Value]) -> FuncResult {
    Ok(Value::str(args::string(&a[0]).trim()))
}

/// `upper s`: `strings.ToUpper`, one rune at a time.
pub(super) fn upper(a: &[Value]) -> FuncResult {
    Ok(Value::from(
        args::string(&a[0])
            .chars()
            .map(to_upper)
            .collect::<String>(),
    ))
}

/// `lower s`: `strings.ToLower`, one rune at a time.
pub(super) fn lower(a: &[Value]) -> FuncResult {
    Ok(Value::from(
        args::string(&a[0])
            .chars()
            .map(to_lower)
            .collect::<String>(),
    ))
}

/// `strings.Title`'s word separators.
fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if is_letter(c) || is_digit(c) {
        return false;
    }
    is_space(c)
}

/// `title s`: `strings.Title`, the first letter of each word in title case.
pub(super) fn title(a: &[Value]) -> FuncResult {
    let s = args::string(&a[0]);
    let mut prev = ' ';
    let out: String = s
        .chars()
        .map(|c| {
            let mapped = if is_separator(prev) { to_title(c) } else { c };
            prev = c;
            mapped
        })
        .collect();
    Ok(Value::from(out))
}

/// `untitle s`: the first letter of each space-separated word in lower case.
pub(super) fn untitle(a: &[Value]) -> FuncResult {
    let s = args::string(&a[0]);
    let mut next = true;
    let out: String = s
        .chars()
        .map(|c| {
            if is_space(c) {
                next = true;
                c
            } else if next {
                next = false;
                to_lower(c)
            } else {
                c
            }
        })
        .collect();
    Ok(Value::from(out))
}

/// `swapcase s`: upper to lower, lower to upper, and a lower-case letter that starts a
/// word to title case.
pub(super) fn swapcase(a: &[Value]) -> FuncResult {
    let s = args::string(&a[0]);
    let mut at_word_start = true;
    let out: String = s
        .chars()
        .map(|c| {
            if is_upper(c) || is_title(c) {
                at_word_start = false;
                to_lower(c)
            } else if is_lower(c) {
                if at_word_start {
                    at_word_start = false;
                    to_title(c)
                } else {
                    to_upper(c)
                }
            } else {
                at_word_start = is_space(c);
                c
            }
        })
        .collect();
    Ok(Value::from(out))
}

/// Go's runtime panic text for `s[lo:hi]` out of bounds, or the bounds.
fn slice_bounds(len: usize, lo: Option<i64>, hi: Option<i64>) -> Result<(usize, usize), String> {
    let n = len as i64;
    let describe = |lo: Option<i64>, hi: Option<i64>| -> String {
        format!(
            "runtime error: slice bounds out of range [{}:{}]",
            lo.map(|v| v.to_string()).unwrap_or_default(),
            hi.map(|v| v.to_string()).unwrap_or_default()
        )
    };
    let h = hi.unwrap_or(n);
    if h < 0 {
        return Err(describe(None, Some(h)));
    }
    if h > n {
        return Err(format!("{} with length {n}", describe(None, Some(h))));
    }
    let l = lo.unwrap_or(0);
    if l < 0 {
        return Err(describe(Some(l), None));
    }
    if l > h {
        return Err(describe(Some(l), Some(h)));
    }
    Ok((l as usize, h as usize))
}

/// `substr start end s`: bytes `start` to `end`; a negative start means from 0, a
/// negative or too large end means to the end.
pub(super) fn substr(a: &[Value]) -> FuncResult {
    let start = args::int(&a[0]);
    let end = args::int(&a[1]);
    let s = args::string(&a[2]).as_bytes();
    let (lo, hi) = if start < 0 {
        slice_bounds(s.len(), None, Some(end))?
    } else if end < 0 || end > s.len() as i64 {
        slice_bounds(s.len(), Some(start), None)?
    } else {
        slice_bounds(s.len(), Some(start), Some(end))?
    };
    Ok(bytes_value(&s[lo..hi]))
}

/// `strings.Repeat`, with its panics.
fn repeat_str(s: &str, count: i64) -> Result<String, String> {
    if count < 0 {
        return Err("strings: negative Repeat count".into());
    }
    let total = (s.len() as u128) * (count as u128);
    if total > isize::MAX as u128 {
        return Err("strings: Repeat output length overflow".into());
    }
    let mut out = String::new();
    out.try_reserve_exact(total as usize)
        .map_err(|_| "runtime: out of memory".to_string())?;
    for _ in 0..count {
        out.push_str(s);
    }
    Ok(out)
}

/// `repeat count s`.
pub(super) fn repeat(a: &[Value]) -> FuncResult {
    let count = args::int(&a[0]);
    let s = args::string(&a[1]);
    Ok(Value::from(repeat_str(s, count)?))
}

/// `trunc n s`: the first `n` bytes, or with a negative `n` the last `-n`.
pub(super) fn trunc(a: &[Value]) -> FuncResult {
    let c = args::int(&a[0]);
    let s = args::string(&a[1]);
    let b = s.as_bytes();
    let len = b.len() as i64;
    if c < 0 && len + c > 0 {
        return Ok(bytes_value(&b[(len + c) as usize..]));
    }
    if c >= 0 && len > c {
        return Ok(bytes_value(&b[..c as usize]));
    }
    Ok(Value::str(s))
}

/// Apache Commons' `abbreviate` as goutils writes it (bytes); `None` where it would
/// refuse the width.
fn abbreviate_full(s: &[u8], offset: i64, width: i64) -> Option<Vec<u8>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    if width < 4 {
        return None;
    }
    let len = s.len() as i64;
    if len <= width {
        return Some(s.to_vec());
    }
    let mut offset = offset.min(len);
    if len - offset < width - 3 {
        offset = len - (width - 3);
    }
    let mut out = Vec::new();
    if offset <= 4 {
        out.extend_from_slice(&s[..(width - 3) as usize]);
        out.extend_from_slice(b"...");
        return Some(out);
    }
    if width < 7 {
        return None;
    }
    out.extend_from_slice(b"...");
    if offset + width - 3 < len {
        out.extend(abbreviate_full(&s[offset as usize..], 0, width - 3)?);
    } else {
        out.extend_from_slice(&s[(len - (width - 3)) as usize..]);
    }
    Some(out)
}

/// `abbrev width s`.
pub(super) fn abbrev(a: &[Value]) -> FuncResult {
    let width = args::int(&a[0]);
    let s = args::string(&a[1]);
    if width < 4 {
        return Ok(Value::str(s));
    }
    Ok(bytes_value(
        &abbreviate_full(s.as_bytes(), 0, width).unwrap_or_default(),
    ))
}

/// `abbrevboth left right s`.
pub(super) fn abbrevboth(a: &[Value]) -> FuncResult {
    let left = args::int(&a[0]);
    let right = args::int(&a[1]);
    let s = args::string(&a[2]);
    if right < 4 || left > 0 && right < 7 {
        return Ok(Value::str(s));
    }
    Ok(bytes_value(
        &abbreviate_full(s.as_bytes(), left, right).unwrap_or_default(),
    ))
}

/// A byte as goutils reads it: the character with that number (Latin-1).
fn latin1(b: u8) -> char {
    char::from(b)
}

/// `initials s`: the first byte of each space-separated word (bytes read as Latin-1, as
/// goutils reads them).
pub(super) fn initials(a: &[Value]) -> FuncResult {
    let s = args::string(&a[0]);
    let mut out = String::new();
    let mut gap = true;
    for &b in s.as_bytes() {
        let c = latin1(b);
        if is_space(c) {
            gap = true;
        } else if gap {
            out.push(c);
            gap = false;
        }
    }
    Ok(Value::from(out))
}

/// `nospace s`: the string without its white space, read byte by byte as goutils reads it
/// (so a string with both spaces and non-ASCII letters comes out as Go makes it).
pub(super) fn nospace(a: &[Value]) -> FuncResult {
    let s = args::string(&a[0]);
    let mut out = String::new();
    let mut kept = 0;
    for &b in s.as_bytes() {
        let c = latin1(b);
        if !is_space(c) {
            out.push(c);
            kept += 1;
        }
    }
    if kept == s.len() {
        return Ok(Value::str(s));
    }
    Ok(Value::from(out))
}

/// goutils' `WrapCustom`, on bytes.
fn wrap_custom(s: &[u8], width: i64, newline: &[u8], long_words: bool) -> Vec<u8> {
    if s.is_empty() {
        return Vec::new();
    }
    let newline: &[u8] = if newline.is_empty() { b"\n" } else { newline };
    let width = width.max(1) as u64 as usize;
    let len = s.len();
    let mut offset = 0usize;
    let mut out = Vec::new();
    while len - offset > width {
        if s[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = width + offset + 1;
        match s[offset..end].iter().rposition(|&b| b == b' ') {
            Some(at) => {
                let at = at + offset;
                out.extend_from_slice(&s[offset..at]);
                out.extend_from_slice(newline);
                offset = at + 1;
            }
            None if long_words => {
                out.extend_from_slice(&s[offset..width + offset]);
                out.extend_from_slice(newline);
                offset += width;
            }
            None => {
                let end = width + offset;
                match s[end..].iter().position(|&b| b == b' ') {
                    None => {
                        out.extend_from_slice(&s[offset..]);
                        offset = len;
                    }
                    Some(i) => {
                        let at = i + end;
                        out.extend_from_slice(&s[offset..at]);
                        out.extend_from_slice(newline);
                        offset = at + 1;
                    }
                }
            }
        }
    }
    out.extend_from_slice(&s[offset..]);
    out
}

/// `wrap width s`: lines of at most `width` bytes, long words kept whole.
pub(super) fn wrap(a: &[Value]) -> FuncResult {
    let width = args::int(&a[0]);
    let s = args::string(&a[1]);
    Ok(bytes_value(&wrap_custom(s.as_bytes(), width, b"", false)))
}

/// `wrapWith width sep s`: lines joined by `sep`, long words cut.
pub(super) fn wrap_with(a: &[Value]) -> FuncResult {
    let width = args::int(&a[0]);
    let sep = args::string(&a[1]);
    let s = args::string(&a[2]);
    Ok(bytes_value(&wrap_custom(
        s.as_bytes(),
        width,
        sep.as_bytes(),
        true,
    )))
}

/// `contains sub s`.
pub(super) fn contains(a: &[Value]) -> FuncResult {
    let sub = args::string(&a[0]);
    let s = args::string(&a[1]);
    Ok(Value::Bool(s.contains(sub)))
}

/// `hasPrefix p s`.
pub(super) fn has_prefix(a: &[Value]) -> FuncResult {
    let p = args::string(&a[0]);
    let s = args::string(&a[1]);
    Ok(Value::Bool(s.starts_with(p)))
}

/// `hasSuffix p s`.
pub(super) fn has_suffix(a: &[Value]) -> FuncResult {
    let p = args::string(&a[0]);
    let s = args::string(&a[1]);
    Ok(Value::Bool(s.ends_with(p)))
}

/// `trimAll cutset s` (and the old `trimall`): `strings.Trim`.
pub(super) fn trim_all(a: &[Value]) -> FuncResult {
    let cutset = args::string(&a[0]);
    let s = args::string(&a[1]);
    Ok(Value::str(s.trim_matches(|c| cutset.contains(c))))
}

/// `trimSuffix suffix s`.
pub(super) fn trim_suffix(a: &[Value]) -> FuncResult {
    let suffix = args::string(&a[0]);
    let s = args::string(&a[1]);
    Ok(Value::str(s.strip_suffix(suffix).unwrap_or(s)))
}

/// `trimPrefix prefix s`.
pub(super) fn trim_prefix(a: &[Value]) -> FuncResult {
    let prefix = args::string(&a[0]);
    let s = args::string(&a[1]);
    Ok(Value::str(s.strip_prefix(prefix).unwrap_or(s)))
}

/// `quote x...`: each non-nil argument as text, Go-quoted, joined by spaces.
pub(super) fn quote(a: &[Value]) -> FuncResult {
    let parts: Vec<String> = a
        .iter()
        .filter(|v| !v.is_nil())
        .map(|v| slipway_template::fmt::quote(&strval(v)))
        .collect();
    Ok(Value::from(parts.join(" ")))
}

/// `squote x...`: each non-nil argument as `%v` prints it, in single quotes.
pub(super) fn squote(a: &[Value]) -> FuncResult {
    let parts: Vec<String> = a
        .iter()
        .filter(|v| !v.is_nil())
        .map(|v| format!("'{}'", slipway_template::fmt::display(v)))
        .collect();
    Ok(Value::from(parts.join(" ")))
}

/// `cat x...`: the non-nil arguments as `%v` prints them, joined by spaces.
pub(super) fn cat(a: &[Value]) -> FuncResult {
    let parts: Vec<String> = a
        .iter()
        .filter(|v| !v.is_nil())
        .map(slipway_template::fmt::display)
        .collect();
    Ok(Value::from(parts.join(" ")))
}

fn indent_text(spaces: i64, s: &str) -> Result<String, String> {
    indent_onto(String::new(), spaces, s)
}

/// `out`, then every line of `s` with `spaces` spaces before it.
fn indent_onto(mut out: String, spaces: i64, s: &str) -> Result<String, String> {
    let pad = repeat_str(" ", spaces)?;
    let lines = 1 + s.bytes().filter(|b| *b == b'\n').count();
    out.reserve(s.len() + lines * pad.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&pad);
        out.push_str(line);
    }
    Ok(out)
}

/// `indent n s`: every line of `s` with `n` spaces before it.
pub(super) fn indent(a: &[Value]) -> FuncResult {
    let spaces = args::int(&a[0]);
    let s = args::string(&a[1]);
    Ok(Value::from(indent_text(spaces, s)?))
}

/// `nindent n s`: a newline, then `indent n s`.
pub(super) fn nindent(a: &[Value]) -> FuncResult {
    let spaces = args::int(&a[0]);
    let s = args::string(&a[1]);
    Ok(Value::from(indent_onto("\n".into(), spaces, s)?))
}

/// `replace old new s`: every `old` replaced (an empty `old` matches before every
/// character and at the end, as in Go).
pub(super) fn replace(a: &[Value]) -> FuncResult {
    let old = args::string(&a[0]);
    let new = args::string(&a[1]);
    let s = args::string(&a[2]);
    Ok(Value::from(s.replace(old, new)))
}

/// `plural one many n`.
pub(super) fn plural(a: &[Value]) -> FuncResult {
    let one = args::string(&a[0]);
    let many = args::string(&a[1]);
    let count = args::int(&a[2]);
    Ok(Value::str(if count == 1 { one } else { many }))
}

/// `toString x`: sprig's `strval`.
pub(super) fn to_string(a: &[Value]) -> FuncResult {
    Ok(Value::from(strval(&a[0])))
}

/// sprig's `strslice`: a list's non-nil items as text; nil as no items; anything else as
/// one item.
pub(super) fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(items) => items.iter().filter(|i| !i.is_nil()).map(strval).collect(),
        Value::Bytes(bytes) => bytes.iter().map(|b| b.to_string()).collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

fn string_list(items: Vec<String>) -> Value {
    Value::list(items.into_iter().map(Value::from).collect())
}

/// `toStrings x`.
pub(super) fn to_strings(a: &[Value]) -> FuncResult {
    Ok(string_list(strslice(&a[0])))
}

/// `join sep x`.
pub(super) fn join(a: &[Value]) -> FuncResult {
    let sep = args::string(&a[0]);
    Ok(Value::from(strslice(&a[1]).join(sep)))
}

/// `sortAlpha x`: a list's items as text, sorted; anything else as one item.
pub(super) fn sort_alpha(a: &[Value]) -> FuncResult {
    let mut items = match &a[0] {
        v @ (Value::List(_) | Value::Bytes(_)) => strslice(v),
        other => vec![strval(other)],
    };
    items.sort();
    Ok(string_list(items))
}

/// `strings.SplitN(s, sep, n)` (`n < 0` for all).
fn split_n(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<char> = s.chars().collect();
        let count = if n < 0 || n as usize > chars.len() {
            chars.len()
        } else {
            n as usize
        };
        if count == 0 {
            return Vec::new();
        }
        let mut out: Vec<String> = chars[..count - 1].iter().map(|c| c.to_string()).collect();
        out.push(chars[count - 1..].iter().collect());
        return out;
    }
    if n < 0 {
        s.split(sep).map(str::to_owned).collect()
    } else {
        s.splitn(n as usize, sep).map(str::to_owned).collect()
    }
}

/// A `map[string]string` keyed `_0`, `_1`...: a missing key reads as `""`.
fn numbered(parts: Vec<String>) -> Value {
    Value::string_map(
        parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| (format!("_{i}"), p))
            .collect(),
    )
}

/// `split sep s`: a dict `_0`, `_1`... of the parts.
pub(super) fn split(a: &[Value]) -> FuncResult {
    let sep = args::string(&a[0]);
    let s = args::string(&a[1]);
    Ok(numbered(split_n(s, sep, -1)))
}

/// `splitn sep n s`: a dict of at most `n` parts.
pub(super) fn splitn(a: &[Value]) -> FuncResult {
    let sep = args::string(&a[0]);
    let n = args::int(&a[1]);
    let s = args::string(&a[2]);
    Ok(numbered(split_n(s, sep, n)))
}

/// `splitList sep s`: a list of the parts.
pub(super) fn split_list(a: &[Value]) -> FuncResult {
    let sep = args::string(&a[0]);
    let s = args::string(&a[1]);
    Ok(string_list(split_n(s, sep, -1)))
}

/// `atoi s`: `strconv.Atoi`, errors ignored.
pub(super) fn atoi(a: &[Value]) -> FuncResult {
    Ok(Value::Int(args::atoi(args::string(&a[0]))))
}

/// `fail msg`: always an error with this text.
pub(super) fn fail(a: &[Value]) -> FuncResult {
    Err(args::string(&a[0]).to_owned())
}

// --- xstrings' case conversions -------------------------------------------------------

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || is_space(c)
}

/// xstrings' letters: letters that are not common CJK ideographs.
fn is_alphabet(c: char) -> bool {
    if !is_letter(c) {
        return false;
    }
    let r = u32::from(c);
    !((0x4E00..=0x9FCC).contains(&r)
        || (0x3400..=0x4D85).contains(&r)
        || (0x20000..=0x2B81D).contains(&r))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alphabet,
    Connector,
    Punct,
    Other,
}

/// The next rune that is not U+FFFD (which Go cannot tell from a broken byte), with the
/// bytes read to reach it; `prev` when only U+FFFD runes are left.
fn next_valid(s: &str, prev: char) -> (char, usize) {
    let mut size = 0;
    for c in s.chars() {
        size += c.len_utf8();
        if c != char::REPLACEMENT_CHARACTER {
            return (c, size);
        }
    }
    (prev, size)
}

/// xstrings' `nextWord`: the kind and text of the word at the start of `s`, and the rest.
fn next_word(s: &str) -> (Word, &str, &str) {
    if s.is_empty() {
        return (Word::Invalid, "", "");
    }
    let (mut r, first) = next_valid(s, char::REPLACEMENT_CHARACTER);
    let mut offset = first;
    if r == char::REPLACEMENT_CHARACTER {
        return (Word::Invalid, &s[..offset], &s[offset..]);
    }
    // Consumes runes while `keep` holds; `offset` ends after the last one kept.
    let run = |offset: &mut usize, r: &mut char, keep: &dyn Fn(char) -> bool| {
        while *offset < s.len() {
            let (c, size) = next_valid(&s[*offset..], *r);
            *r = c;
            if !keep(c) {
                break;
            }
            *offset += size;
        }
    };
    let kind = if is_connector(r) {
        run(&mut offset, &mut r, &is_connector);
        Word::Connector
    } else if is_punct(r) {
        run(&mut offset, &mut r, &is_punct);
        Word::Punct
    } else if is_upper(r) {
        if offset < s.len() {
            let (c, size) = next_valid(&s[offset..], r);
            r = c;
            if is_upper(c) {
                let mut last_size = size;
                offset += size;
                while offset < s.len() {
                    let (c, size) = next_valid(&s[offset..], r);
                    r = c;
                    if !is_upper(c) {
                        break;
                    }
                    last_size = size;
                    offset += size;
                }
                // "HTTPStatus" is "HTTP" then "Status".
                if offset < s.len() && is_alphabet(r) {
                    offset -= last_size;
                }
            } else if is_alphabet(c) {
                offset += size;
                run(&mut offset, &mut r, &|c| is_alphabet(c) && !is_upper(c));
            }
        }
        Word::Upper
    } else if is_alphabet(r) {
        run(&mut offset, &mut r, &|c| is_alphabet(c) && !is_upper(c));
        Word::Alphabet
    } else if is_number(r) {
        run(&mut offset, &mut r, &is_number);
        Word::Number
    } else {
        run(&mut offset, &mut r, &|c| {
            !(is_connector(c) || is_alphabet(c) || is_number(c) || is_punct(c))
        });
        Word::Other
    };
    (kind, &s[..offset], &s[offset..])
}

fn push_lower(out: &mut String, kind: Word, word: &str, connector: char) {
    if kind != Word::Upper && kind != Word::Connector {
        out.push_str(word);
        return;
    }
    for c in word.chars() {
        if is_connector(c) {
            out.push(connector);
        } else if is_upper(c) {
            out.push(to_lower(c));
        } else {
            out.push(c);
        }
    }
}

/// xstrings' `camelCaseToLowerCase`: words in lower case joined by `connector`.
fn words_to_lower(s: &str, connector: char) -> String {
    let mut out = String::new();
    if s.is_empty() {
        return out;
    }
    let (mut kind, mut word, mut rest) = next_word(s);
    while !rest.is_empty() {
        if kind != Word::Connector {
            push_lower(&mut out, kind, word, connector);
        }
        let (prev, last) = (kind, word);
        (kind, word, rest) = next_word(rest);
        match prev {
            Word::Number => {
                while kind == Word::Alphabet || kind == Word::Number {
                    push_lower(&mut out, kind, word, connector);
                    (kind, word, rest) = next_word(rest);
                }
                if !matches!(kind, Word::Invalid | Word::Punct | Word::Connector) {
                    out.push(connector);
                }
            }
            Word::Connector => push_lower(&mut out, prev, last, connector),
            Word::Punct => {}
            _ => {
                if kind != Word::Number {
                    if kind != Word::Connector && kind != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                if rest.is_empty() {
                    continue;
                }
                let number = word;
                (kind, word, rest) = next_word(rest);
                // A number is part of the word before it ("Bld4Floor" is "bld4_floor")
                // unless lower-case letters follow it ("HTTP2xx" is "http_2xx").
                if kind != Word::Alphabet {
                    push_lower(&mut out, Word::Number, number, connector);
                    if kind != Word::Connector && kind != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                out.push(connector);
                push_lower(&mut out, Word::Number, number, connector);
                while kind == Word::Alphabet || kind == Word::Number {
                    push_lower(&mut out, kind, word, connector);
                    (kind, word, rest) = next_word(rest);
                }
                if !matches!(kind, Word::Invalid | Word::Connector | Word::Punct) {
                    out.push(connector);
                }
            }
        }
    }
    push_lower(&mut out, kind, word, connector);
    out
}

/// `snakecase s`.
pub(super) fn snakecase(a: &[Value]) -> FuncResult {
    Ok(Value::from(words_to_lower(args::string(&a[0]), '_')))
}

/// `kebabcase s`.
pub(super) fn kebabcase(a: &[Value]) -> FuncResult {
    Ok(Value::from(words_to_lower(args::string(&a[0]), '-')))
}

/// `camelcase s`: xstrings' `ToPascalCase`.
pub(super) fn camelcase(a: &[Value]) -> FuncResult {
    let s = args::string(&a[0]);
    let mut out = String::new();
    if s.is_empty() {
        return Ok(Value::from(out));
    }
    let mut chars = s.chars().peekable();
    let mut r0 = ' ';
    let mut read_any = false;
    let mut first_upper = false;
    // Leading connectors are kept.
    for c in chars.by_ref() {
        read_any = true;
        r0 = c;
        if !is_connector(c) {
            first_upper = is_upper(c);
            r0 = to_upper(c);
            break;
        }
        out.push(c);
    }
    if chars.peek().is_none() {
        if read_any {
            out.push(r0);
        }
        return Ok(Value::from(out));
    }
    for c in chars {
        let r1 = r0;
        r0 = c;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = is_upper(r0);
            r0 = to_upper(r0);
        } else {
            if first_upper {
                if is_upper(r0) {
                    r0 = to_lower(r0);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    out.push(r0);
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::str(v)
    }

    fn text(r: FuncResult) -> String {
        match r {
            Ok(Value::String(s)) => s.to_string(),
            other => panic!("not a string: {other:?}"),
        }
    }

    // Expectations below were checked with Go and sprig v3.3.0.
    #[test]
    fn cases_words_as_xstrings_does() {
        for (input, snake, kebab, camel) in [
            ("FirstName", "first_name", "first-name", "FirstName"),
            ("HTTPServer", "http_server", "http-server", "Httpserver"),
            ("NoHTTPS", "no_https", "no-https", "NoHTTPS"),
            ("GO_PATH", "go_path", "go-path", "GoPath"),
            ("GO PATH", "go_path", "go-path", "GoPath"),
            ("http2xx", "http_2xx", "http-2xx", "Http2xx"),
            ("HTTP20xOK", "http_20x_ok", "http-20x-ok", "Http20xOK"),
            (
                "Duration2m3s",
                "duration_2m3s",
                "duration-2m3s",
                "Duration2m3s",
            ),
            (
                "Bld4Floor3rd",
                "bld4_floor_3rd",
                "bld4-floor-3rd",
                "Bld4Floor3rd",
            ),
            (
                "_complex__case_",
                "_complex__case_",
                "-complex--case-",
                "_Complex_Case_",
            ),
            ("__", "__", "--", "___"),
            ("", "", "", ""),
        ] {
            assert_eq!(text(snakecase(&[s(input)])), snake, "snakecase {input}");
            assert_eq!(text(kebabcase(&[s(input)])), kebab, "kebabcase {input}");
            assert_eq!(text(camelcase(&[s(input)])), camel, "camelcase {input}");
        }
    }

    #[test]
    fn works_on_bytes_as_go_does() {
        assert_eq!(text(trunc(&[Value::Int(1), s("é")])), "\u{fffd}");
        assert_eq!(text(initials(&[s("élan vital")])), "Ãv");
        assert_eq!(text(nospace(&[s("é x")])), "Ã©x");
        assert_eq!(text(nospace(&[s("éx")])), "éx");
        assert_eq!(text(abbrev(&[Value::Int(5), s("hello world")])), "he...");
        assert_eq!(
            text(abbrevboth(&[
                Value::Int(5),
                Value::Int(10),
                s("1234567890abcdefgh")
            ])),
            "...6789..."
        );
        assert_eq!(
            text(wrap(&[Value::Int(5), s("hello wonderful world")])),
            "hello\nwonderful\nworld"
        );
        assert_eq!(
            text(wrap_with(&[Value::Int(5), s("<br>"), s("helloworld")])),
            "hello<br>world"
        );
    }

    #[test]
    fn slices_with_go_panics() {
        assert_eq!(
            substr(&[Value::Int(-1), Value::Int(-1), s("abc")]).unwrap_err(),
            "runtime error: slice bounds out of range [:-1]"
        );
        assert_eq!(
            substr(&[Value::Int(2), Value::Int(1), s("abc")]).unwrap_err(),
            "runtime error: slice bounds out of range [2:1]"
        );
        assert_eq!(
            substr(&[Value::Int(5), Value::Int(-1), s("abc")]).unwrap_err(),
            "runtime error: slice bounds out of range [5:3]"
        );
        assert_eq!(
            substr(&[Value::Int(-5), Value::Int(5), s("abc")]).unwrap_err(),
            "runtime error: slice bounds out of range [:5] with length 3"
        );
        assert_eq!(
            text(substr(&[Value::Int(0), Value::Int(5), s("abc")])),
            "abc"
        );
    }

    #[test]
    fn repeats_with_go_panics() {
        assert_eq!(
            repeat(&[Value::Int(-1), s("x")]).unwrap_err(),
            "strings: negative Repeat count"
        );
        assert_eq!(
            indent(&[Value::Int(-1), s("x")]).unwrap_err(),
            "strings: negative Repeat count"
        );
    }

    #[test]
    fn splits_as_go_does() {
        assert_eq!(split_n("", "", -1), Vec::<String>::new());
        assert_eq!(split_n("abc", "", -1), ["a", "b", "c"]);
        assert_eq!(split_n("abc", "", 2), ["a", "bc"]);
        assert_eq!(split_n("a,b,c", ",", 2), ["a", "b,c"]);
        assert_eq!(split_n("a,b,c", ",", 0), Vec::<String>::new());
        assert_eq!(split_n("", ",", -1), [""]);
    }
}
