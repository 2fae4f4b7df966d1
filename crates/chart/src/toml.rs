//! TOML as Helm's templates write and read it: `toToml` writes a value as the Go TOML
//! encoder Helm uses writes a map (plain keys first, then tables as `[a.b]` sections
//! indented two spaces per level, lists of maps as `[[a]]`, floats always with a `.` or an
//! exponent), and `fromToml` reads a document into a map (integers stay integers), with the
//! error under the key `Error` as Helm puts it.

use std::collections::BTreeMap;

use slipway_template::Value;

use crate::json::format_g;

/// A TOML error, worded as the Go encoder words it (`toml: cannot encode array with nil
/// element`). Helm's `toToml` prints this text instead of the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TomlError(pub String);

/// Go's panic text for a nil value: the Go encoder cannot look at nil at all.
const NIL_PANIC: &str = "reflect: call of reflect.Value.Type on zero Value";

impl TomlError {
    /// Whether Go panics here instead of returning an error (writing nil): `toToml` then
    /// fails the template with this text rather than printing it.
    pub fn fails_template(&self) -> bool {
        self.0 == NIL_PANIC
    }
}

/// `toToml`: the value as TOML. A map is a document; any other value is written as a TOML
/// value on its own (a string quoted, a list as `[a, b]`), except a list of maps, which has
/// no key to be written under, and nil, which Go cannot write at all.
pub fn to_toml(value: &Value) -> Result<String, TomlError> {
    let mut e = Encoder {
        out: String::new(),
        written: false,
    };
    if let Value::Nil = value {
        return Err(TomlError(NIL_PANIC.into()));
    }
    e.encode(&[], value)?;
    Ok(e.out)
}

/// What the Go encoder calls a value's TOML type; `None` for nil.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TomlType {
    Scalar,
    Array,
    Table,
    ArrayOfTables,
}

fn toml_type(v: &Value) -> Result<Option<TomlType>, TomlError> {
    Ok(Some(match v {
        Value::Nil => return Ok(None),
        Value::Map(_) => TomlType::Table,
        Value::List(items) => {
            if is_table_array(items)? {
                TomlType::ArrayOfTables
            } else {
                TomlType::Array
            }
        }
        Value::Bytes(_) => TomlType::Array,
        Value::Object(o) => {
            return Err(TomlError(format!(
                "toml: cannot encode a value of type {}: only maps, lists, strings, numbers and booleans are written",
                o.type_name()
            )));
        }
        _ => TomlType::Scalar,
    }))
}

fn is_table_array(items: &[Value]) -> Result<bool, TomlError> {
    if items.is_empty() {
        return Ok(false);
    }
    let mut all = true;
    for item in items {
        match toml_type(item)? {
            None => {
                return Err(TomlError(
                    "toml: cannot encode array with nil element".into(),
                ));
            }
            Some(TomlType::Table) => {}
            Some(_) => all = false,
        }
    }
    Ok(all)
}

fn is_table(t: Option<TomlType>) -> bool {
    matches!(t, Some(TomlType::Table | TomlType::ArrayOfTables))
}

fn bare(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A string in TOML's double quotes with the Go encoder's escapes.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key_part(k: &str) -> String {
    if k.is_empty() {
        "\"\"".to_string()
    } else if bare(k) {
        k.to_string()
    } else {
        quoted(k)
    }
}

fn key_path(key: &[String]) -> String {
    key.iter()
        .map(|k| key_part(k))
        .collect::<Vec<_>>()
        .join(".")
}

struct Encoder {
    out: String,
    written: bool,
}

impl Encoder {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.written = true;
    }

    fn newline(&mut self) {
        if self.written {
            self.write("\n");
        }
    }

    fn indent(key: &[String]) -> String {
        "  ".repeat(key.len().saturating_sub(1))
    }

    fn encode(&mut self, key: &[String], v: &Value) -> Result<(), TomlError> {
        match v {
            Value::Nil => Ok(()),
            Value::Map(m) => {
                if key.len() == 1 {
                    self.newline();
                }
                if !key.is_empty() {
                    let header = format!("{}[{}]", Self::indent(key), key_path(key));
                    self.write(&header);
                    self.newline();
                }
                let m = m.borrow();
                self.map(key, &m, false)
            }
            Value::List(items) if toml_type(v)? == Some(TomlType::ArrayOfTables) => {
                if key.is_empty() {
                    return Err(TomlError(
                        "toml: top-level values must be Go maps or structs".into(),
                    ));
                }
                for item in items.iter() {
                    if let Value::Map(m) = item {
                        self.newline();
                        let header = format!("{}[[{}]]", Self::indent(key), key_path(key));
                        self.write(&header);
                        self.newline();
                        let m = m.borrow();
                        self.map(key, &m, false)?;
                    }
                }
                Ok(())
            }
            Value::Object(_) => {
                toml_type(v)?;
                Ok(())
            }
            _ => self.key_value(key, v, false),
        }
    }

    fn key_value(&mut self, key: &[String], v: &Value, inline: bool) -> Result<(), TomlError> {
        if let Some(last) = key.last() {
            let prefix = format!("{}{} = ", Self::indent(key), key_part(last));
            self.write(&prefix);
        }
        self.element(v)?;
        if !inline && !key.is_empty() {
            self.newline();
        }
        Ok(())
    }

    fn map(
        &mut self,
        key: &[String],
        m: &BTreeMap<String, Value>,
        inline: bool,
    ) -> Result<(), TomlError> {
        let mut direct = Vec::new();
        let mut sub = Vec::new();
        for (k, v) in m.iter() {
            if is_table(toml_type(v)?) {
                sub.push(k);
            } else {
                direct.push(k);
            }
        }
        if inline {
            self.write("{");
        }
        let has_sub = !sub.is_empty();
        for (keys, trailing) in [(direct, has_sub), (sub, false)] {
            let n = keys.len();
            for (i, k) in keys.into_iter().enumerate() {
                let v = &m[k];
                if v.is_nil() {
                    continue;
                }
                if inline {
                    self.key_value(std::slice::from_ref(k), v, true)?;
                    if trailing || i != n - 1 {
                        self.write(", ");
                    }
                } else {
                    let mut path = key.to_vec();
                    path.push(k.clone());
                    self.encode(&path, v)?;
                }
            }
        }
        if inline {
            self.write("}");
        }
        Ok(())
    }

    fn element(&mut self, v: &Value) -> Result<(), TomlError> {
        match v {
            Value::String(s) => self.write(&quoted(s)),
            Value::Bool(b) => self.write(if *b { "true" } else { "false" }),
            Value::Int(i) => self.write(&i.to_string()),
            Value::Float(f) => {
                let text = if f.is_nan() {
                    if f.is_sign_negative() { "-nan" } else { "nan" }.to_string()
                } else if f.is_infinite() {
                    if *f < 0.0 { "-inf" } else { "inf" }.to_string()
                } else {
                    let s = format_g(*f, false);
                    if s.contains(['e', '.']) { s } else { s + ".0" }
                };
                self.write(&text);
            }
            Value::List(items) => {
                toml_type(v)?;
                self.write("[");
                for (i, item) in items.iter().enumerate() {
                    self.element(item)?;
                    if i != items.len() - 1 {
                        self.write(", ");
                    }
                }
                self.write("]");
            }
            Value::Bytes(b) => {
                let items: Vec<String> = b.iter().map(u8::to_string).collect();
                self.write(&format!("[{}]", items.join(", ")));
            }
            Value::Map(m) => {
                let m = m.borrow();
                self.map(&[], &m, true)?;
            }
            Value::Nil | Value::Object(_) => {
                toml_type(v)?;
                return Err(TomlError(
                    "toml: cannot encode array with nil element".into(),
                ));
            }
        }
        Ok(())
    }
}

/// `fromToml`: the document as a map (integers as integers, floats as floats, dates and
/// times as the RFC 3339 text Go's JSON would give them, with the local zone taken as
/// UTC). On a syntax error the map holds only `Error`, with the line as the Go decoder
/// counts it (the message itself is the Rust TOML parser's).
pub fn from_toml(text: &str) -> Value {
    match text.parse::<toml_edit::DocumentMut>() {
        Ok(doc) => table_value(doc.as_table()),
        Err(e) => {
            let line = e.span().map_or(1, |span| {
                text[..span.start.min(text.len())].matches('\n').count() + 1
            });
            let mut m = BTreeMap::new();
            m.insert(
                "Error".to_string(),
                Value::from(format!("toml: line {line}: {}", e.message().trim_end())),
            );
            Value::map(m)
        }
    }
}

fn table_value(t: &toml_edit::Table) -> Value {
    let mut m = BTreeMap::new();
    for (k, item) in t.iter() {
        if let Some(v) = item_value(item) {
            m.insert(k.to_string(), v);
        }
    }
    Value::map(m)
}

fn item_value(item: &toml_edit::Item) -> Option<Value> {
    match item {
        toml_edit::Item::None => None,
        toml_edit::Item::Value(v) => Some(value(v)),
        toml_edit::Item::Table(t) => Some(table_value(t)),
        toml_edit::Item::ArrayOfTables(a) => Some(Value::list(a.iter().map(table_value).collect())),
    }
}

fn value(v: &toml_edit::Value) -> Value {
    match v {
        toml_edit::Value::String(s) => Value::str(s.value()),
        toml_edit::Value::Integer(i) => Value::Int(*i.value()),
        toml_edit::Value::Float(f) => Value::Float(*f.value()),
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(d) => Value::from(datetime_text(d.value())),
        toml_edit::Value::Array(a) => Value::list(a.iter().map(value).collect()),
        toml_edit::Value::InlineTable(t) => {
            let mut m = BTreeMap::new();
            for (k, v) in t.iter() {
                m.insert(k.to_string(), value(v));
            }
            Value::map(m)
        }
    }
}

/// A TOML date/time as Go's JSON writes the `time.Time` the Go decoder makes of it.
fn datetime_text(d: &toml_edit::Datetime) -> String {
    let date = d.date.map_or("0000-01-01".to_string(), |d| {
        format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
    });
    let time = d.time.map_or("00:00:00".to_string(), |t| {
        let mut s = format!("{:02}:{:02}:{:02}", t.hour, t.minute, t.second.unwrap_or(0));
        let nanos = t.nanosecond.unwrap_or(0);
        if nanos > 0 {
            let frac = format!("{nanos:09}");
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        s
    });
    let zone = match d.offset {
        None | Some(toml_edit::Offset::Z) => "Z".to_string(),
        Some(toml_edit::Offset::Custom { minutes: 0 }) => "Z".to_string(),
        Some(toml_edit::Offset::Custom { minutes }) => {
            let sign = if minutes < 0 { '-' } else { '+' };
            let m = minutes.unsigned_abs();
            format!("{sign}{:02}:{:02}", m / 60, m % 60)
        }
    };
    format!("{date}T{time}{zone}")
}
