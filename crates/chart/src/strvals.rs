//! Values given on the command line: `--set`, `--set-string`, `--set-json`, `--set-file`
//! and `--set-literal`, with Helm's rules.
//!
//! A line is `name=value` pairs separated by commas. Names are dotted paths (`a.b.c`) with
//! list indexes (`a[0].b`, at most 65536, at most 30 levels of dots); `\` escapes the next
//! character. `a={x,y}` is a list. `--set` reads `true`, `false` and `null` in any case, and
//! decimal integers that do not start with `0` (other than `0` itself) as such, everything
//! else as a string; `--set-string` keeps strings; `--set-json` reads each value as JSON;
//! `--set-file` reads each value as a path and takes the file's text; `--set-literal` takes
//! everything after the first `=` as one string. A `null` stays in the values as nil (Helm
//! removes the key later, when it merges values). Errors are worded as Helm words them.

use std::collections::BTreeMap;

use slipway_template::Value;

use crate::json::{decode_prefix, go_quote};

/// How values on a line are read.
#[derive(Clone, Copy)]
pub enum Kind<'a> {
    /// `--set`: typed as Helm types them (`true`, `null`, integers).
    Set,
    /// `--set-string`: strings.
    String,
    /// `--set-json`: JSON values (numbers become floats).
    Json,
    /// `--set-file`: each value is a path; `read` returns the file's text, or the error
    /// Helm would show (`open PATH: no such file or directory`; [`read_file`] words it so).
    File(&'a dyn Fn(&str) -> Result<String, String>),
    /// `--set-literal`: the whole rest of the line after the first `=` is one string.
    Literal,
}

/// An error in a `--set` style line, worded as Helm's strvals words it (Helm's command line
/// puts `failed parsing --set data: ` and the like in front).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StrvalsError {
    /// Helm's message.
    pub message: String,
}

/// The biggest list index a line may use.
pub const MAX_INDEX: i64 = 65536;
/// How many dots a name may have.
pub const MAX_NESTED_NAME_LEVEL: usize = 30;

/// Parses one line into `values` (a map; anything else is replaced by an empty map first),
/// as Helm applies one `--set` (or `--set-string`, ...) flag. On an error `values` may hold
/// part of the line, as in Helm, which then gives up.
pub fn parse_into(line: &str, values: &mut Value, kind: Kind<'_>) -> Result<(), StrvalsError> {
    if !matches!(values, Value::Map(_)) {
        *values = Value::empty_map();
    }
    let Value::Map(map) = values else {
        unreachable!("values was just made a map")
    };
    let mut data = map.borrow().clone();
    let mut p = Parser {
        chars: line.chars().collect(),
        pos: 0,
        kind,
    };
    let result = loop {
        match p.key(&mut data, 0) {
            Ok(()) => continue,
            Err(e) if e.eof => break Ok(()),
            Err(e) => break Err(StrvalsError { message: e.message }),
        }
    };
    *map.borrow_mut() = data;
    result
}

/// Helm's command line for one `--set-json` flag: a line that starts with `{` is one JSON
/// object merged over the values (maps merged key by key); any other line is read with
/// [`Kind::Json`]. The errors are the command line's (`failed parsing --set-json data ...`).
pub fn apply_set_json(line: &str, values: &mut Value) -> Result<(), StrvalsError> {
    let trimmed = line.trim_matches(|c: char| c.is_whitespace());
    if trimmed.starts_with('{') {
        let parsed = crate::json::unmarshal(trimmed, crate::json::Target::Map).map_err(|_| {
            StrvalsError {
                message: format!("failed parsing --set-json data JSON: {line}"),
            }
        })?;
        if let Value::Map(_) = parsed {
            *values = merge_maps(values, &parsed);
        }
        return Ok(());
    }
    parse_into(line, values, Kind::Json).map_err(|_| StrvalsError {
        message: format!("failed parsing --set-json data {line}"),
    })
}

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

/// Reads a file as Helm's `--set-file` does, with Go's error words
/// (`open PATH: no such file or directory`, `read PATH: is a directory`).
pub fn read_file(path: &str) -> Result<String, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) => {
            let verb = if std::path::Path::new(path).is_dir() {
                "read"
            } else {
                "open"
            };
            Err(format!("{verb} {path}: {}", go_errno_text(&e)))
        }
    }
}

/// The text Go gives for an OS error (`no such file or directory`), without Rust's
/// `(os error 2)`.
fn go_errno_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => {
            let mut s = text[..i].to_string();
            if let Some(first) = s.get(0..1) {
                let lower = first.to_lowercase();
                s.replace_range(0..1, &lower);
            }
            s
        }
        None => text,
    }
}

/// A parse failure: Helm's message, and whether it is (or wraps) the end of the line, which
/// ends parsing without an error.
struct Failure {
    message: String,
    eof: bool,
    /// A Go panic still unwinding: the nearest name (`key`) recovers it, skipping what that
    /// name would have stored.
    panicked: bool,
}

fn fail(message: String) -> Failure {
    Failure {
        message,
        eof: false,
        panicked: false,
    }
}

fn eof() -> Failure {
    Failure {
        message: "EOF".into(),
        eof: true,
        panicked: false,
    }
}

type Step<T> = Result<T, Failure>;

/// The Go type name of a value as Helm holds it, for Go's `interface conversion` panics.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int64",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::Bytes(_) => "[]uint8",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        Value::Object(_) => "struct {}",
    }
}

/// Go's panic when a value is not the map or list a name needs, recovered as Helm
/// recovers it.
fn conversion(v: &Value, want: &str) -> Failure {
    fail(format!(
        "unable to parse key: interface conversion: interface {{}} is {}, not {want}",
        go_type(v)
    ))
}

/// Go's `%q` of a `[]rune`: each rune quoted.
fn quote_runes(runes: &[char]) -> String {
    let items: Vec<String> = runes
        .iter()
        .map(|c| {
            let mut s = String::from("'");
            crate::json::quote_char_into(&mut s, *c, '\'');
            s.push('\'');
            s
        })
        .collect();
    format!("[{}]", items.join(" "))
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    kind: Kind<'a>,
}

/// What a read up to a stop character gives: the text, and the stop character (`None` at
/// the end of the line).
struct Until {
    text: Vec<char>,
    stop: Option<char>,
}

impl Parser<'_> {
    fn literal(&self) -> bool {
        matches!(self.kind, Kind::Literal)
    }

    fn read(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn unread(&mut self) {
        self.pos -= 1;
    }

    /// Reads up to one of `stop`; outside `--set-literal`, `\` takes the next character as
    /// it is.
    fn until(&mut self, stop: &[char]) -> Until {
        let mut text = Vec::new();
        loop {
            let Some(c) = self.read() else {
                return Until { text, stop: None };
            };
            if stop.contains(&c) {
                return Until {
                    text,
                    stop: Some(c),
                };
            }
            if c == '\\' && !self.literal() {
                let Some(next) = self.read() else {
                    return Until { text, stop: None };
                };
                text.push(next);
            } else {
                text.push(c);
            }
        }
    }

    /// One value's text as the kind reads it.
    fn typed(&mut self, runes: &[char]) -> Step<Value> {
        let text: String = runes.iter().collect();
        match self.kind {
            Kind::Set => Ok(typed_value(&text)),
            Kind::File(read) => read(&text).map(Value::from).map_err(fail),
            _ => Ok(Value::from(text)),
        }
    }

    fn key(&mut self, data: &mut BTreeMap<String, Value>, mut level: usize) -> Step<()> {
        let stop: &[char] = if self.literal() {
            &['=', '[', '.']
        } else {
            &['=', '[', ',', '.']
        };
        let Until { text, stop } = self.until(stop);
        let name: String = text.iter().collect();
        match stop {
            None => {
                if text.is_empty() {
                    Err(eof())
                } else {
                    Err(fail(format!("key {} has no value", go_quote(&name))))
                }
            }
            Some('[') => {
                let i = self.index()?;
                let mut list = match data.get(&name) {
                    None => Vec::new(),
                    Some(Value::List(l)) => l.as_ref().clone(),
                    Some(other) => return Err(conversion(other, "[]interface {}")),
                };
                match self.list_item(&mut list, i, level) {
                    Err(mut f) if f.panicked => {
                        f.panicked = false;
                        Err(f)
                    }
                    result => {
                        set(data, &name, Value::list(list));
                        result
                    }
                }
            }
            Some('=') => self.assign(data, &name),
            Some(',') => {
                set(data, &name, Value::str(""));
                Err(fail(format!(
                    "key {} has no value (cannot end with ,)",
                    go_quote(&name)
                )))
            }
            Some(_) => {
                level += 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(fail(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    )));
                }
                let mut inner = match data.get(&name) {
                    None => BTreeMap::new(),
                    Some(Value::Map(m)) => m.borrow().clone(),
                    Some(other) => return Err(conversion(other, "map[string]interface {}")),
                };
                let result = self.key(&mut inner, level);
                if result.is_ok() && inner.is_empty() {
                    return Err(fail(format!("key map {} has no value", go_quote(&name))));
                }
                if !inner.is_empty() {
                    match data.get(&name) {
                        Some(Value::Map(m)) => *m.borrow_mut() = inner,
                        _ => set(data, &name, Value::map(inner)),
                    }
                }
                result
            }
        }
    }

    /// `name=...` for a map entry.
    fn assign(&mut self, data: &mut BTreeMap<String, Value>, name: &str) -> Step<()> {
        match self.kind {
            Kind::Literal => {
                let rest: String = self.chars[self.pos..].iter().collect();
                self.pos = self.chars.len();
                set(data, name, Value::from(rest));
                Ok(())
            }
            Kind::Json => {
                let v = self.json_value()?;
                set(data, name, v);
                Ok(())
            }
            _ => match self.value_list() {
                Ok(list) => {
                    set(data, name, Value::list(list));
                    Ok(())
                }
                Err(ListEnd::Eof) => {
                    set(data, name, Value::str(""));
                    Err(eof())
                }
                Err(ListEnd::NotList) => {
                    let runes = self.until(&[',']).text;
                    let v = self.typed(&runes);
                    match v {
                        Ok(v) => {
                            set(data, name, v);
                            Ok(())
                        }
                        Err(e) => {
                            set(data, name, Value::Nil);
                            Err(e)
                        }
                    }
                }
                Err(ListEnd::Failed(e)) => Err(e),
            },
        }
    }

    /// A JSON value after `=` (`--set-json`): nothing (or only spaces) before a comma is
    /// null.
    fn json_value(&mut self) -> Step<Value> {
        if self.empty_value() {
            return Ok(Value::Nil);
        }
        let rest: String = self.chars[self.pos..].iter().collect();
        let (v, used) = decode_prefix(&rest).map_err(fail)?;
        self.pos += rest[..used].chars().count();
        self.empty_value();
        Ok(v)
    }

    /// Skips spaces; true when the value ends there (a comma, taken, or the end).
    fn empty_value(&mut self) -> bool {
        loop {
            match self.read() {
                None | Some(',') => return true,
                Some(c) if c.is_whitespace() => {}
                Some(_) => {
                    self.unread();
                    return false;
                }
            }
        }
    }

    fn index(&mut self) -> Step<i64> {
        let Until { text, stop } = self.until(&[']']);
        if stop.is_none() {
            return Err(Failure {
                message: "error parsing index: EOF".into(),
                eof: true,
                panicked: false,
            });
        }
        let text: String = text.iter().collect();
        go_atoi(&text).map_err(|e| fail(format!("error parsing index: {e}")))
    }

    fn list_item(&mut self, list: &mut Vec<Value>, i: i64, level: usize) -> Step<()> {
        if i < 0 {
            return Err(fail(format!("negative {i} index not allowed")));
        }
        let Until { text, stop } = self.until(&['[', '.', '=']);
        if !text.is_empty() {
            return Err(fail(format!(
                "unexpected data at end of array index: {}",
                quote_runes(&text)
            )));
        }
        match stop {
            None => Err(eof()),
            Some('=') => match self.kind {
                Kind::Literal => {
                    let rest: String = self.chars[self.pos..].iter().collect();
                    self.pos = self.chars.len();
                    set_index(list, i, Value::from(rest))
                }
                Kind::Json => {
                    let v = self.json_value()?;
                    set_index(list, i, v)
                }
                _ => match self.value_list() {
                    Ok(items) => set_index(list, i, Value::list(items)),
                    Err(ListEnd::Eof) => set_index(list, i, Value::str("")),
                    Err(ListEnd::NotList) => {
                        let runes = self.until(&[',']).text;
                        let v = self.typed(&runes)?;
                        set_index(list, i, v)
                    }
                    Err(ListEnd::Failed(e)) => Err(e),
                },
            },
            Some('[') => {
                let next = self.index()?;
                let mut inner = match list.get(i as usize) {
                    None | Some(Value::Nil) => Vec::new(),
                    Some(Value::List(l)) => l.as_ref().clone(),
                    Some(other) => {
                        let mut f = conversion(other, "[]interface {}");
                        f.panicked = true;
                        return Err(f);
                    }
                };
                self.list_item(&mut inner, next, level)?;
                set_index(list, i, Value::list(inner))
            }
            Some(_) => {
                let mut inner = match list.get(i as usize) {
                    Some(Value::Map(m)) => m.borrow().clone(),
                    _ => BTreeMap::new(),
                };
                if (i as usize) < list.len() && !matches!(list[i as usize], Value::Map(_)) {
                    list[i as usize] = Value::empty_map();
                }
                self.key(&mut inner, level)?;
                set_index(list, i, Value::map(inner))
            }
        }
    }

    /// `{a,b,c}`: a list value.
    fn value_list(&mut self) -> Result<Vec<Value>, ListEnd> {
        match self.read() {
            None => return Err(ListEnd::Eof),
            Some('{') => {}
            Some(_) => {
                self.unread();
                return Err(ListEnd::NotList);
            }
        }
        let mut list = Vec::new();
        loop {
            let Until { text, stop } = self.until(&[',', '}']);
            match stop {
                None => {
                    return Err(ListEnd::Failed(fail(
                        "list must terminate with '}'".to_string(),
                    )));
                }
                Some('}') => {
                    match self.read() {
                        Some(',') | None => {}
                        Some(_) => self.unread(),
                    }
                    let v = self.typed(&text);
                    return match v {
                        Ok(v) => {
                            list.push(v);
                            Ok(list)
                        }
                        Err(e) => Err(ListEnd::Failed(e)),
                    };
                }
                Some(_) => {
                    let v = self.typed(&text).map_err(ListEnd::Failed)?;
                    list.push(v);
                }
            }
        }
    }
}

enum ListEnd {
    Eof,
    NotList,
    Failed(Failure),
}

fn set(data: &mut BTreeMap<String, Value>, key: &str, value: Value) {
    if !key.is_empty() {
        data.insert(key.to_string(), value);
    }
}

fn set_index(list: &mut Vec<Value>, index: i64, value: Value) -> Step<()> {
    if index < 0 {
        return Err(fail(format!("negative {index} index not allowed")));
    }
    if index > MAX_INDEX {
        return Err(fail(format!(
            "index of {index} is greater than maximum supported index of {MAX_INDEX}"
        )));
    }
    let i = index as usize;
    if list.len() <= i {
        list.resize(i + 1, Value::Nil);
    }
    list[i] = value;
    Ok(())
}

/// `--set`'s typing of one value.
fn typed_value(text: &str) -> Value {
    let folded: String = text
        .chars()
        .map(|c| if c == 'ſ' { 's' } else { c })
        .collect();
    if folded.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if folded.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if folded.eq_ignore_ascii_case("null") {
        return Value::Nil;
    }
    if text == "0" {
        return Value::Int(0);
    }
    if !text.is_empty()
        && !text.starts_with('0')
        && let Some(i) = parse_decimal(text)
    {
        return Value::Int(i);
    }
    Value::str(text)
}

/// `strconv.ParseInt(s, 10, 64)`: an optional sign and decimal digits.
fn parse_decimal(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse().ok()
}

/// `strconv.Atoi`, with its error text.
fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.strip_prefix('+')
        .unwrap_or(s)
        .parse()
        .map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing() {
        assert!(matches!(typed_value("TRUE"), Value::Bool(true)));
        assert!(matches!(typed_value("0123"), Value::String(_)));
        assert!(matches!(typed_value("-5"), Value::Int(-5)));
        assert!(matches!(typed_value("1.5"), Value::String(_)));
        assert!(matches!(typed_value("NuLl"), Value::Nil));
    }
}
