//! The values a template works on, shaped like the Go values Helm and werf hand to
//! `text/template`: `map[string]interface{}`, `[]interface{}`, `string`, `int`, `float64`,
//! `bool`, `nil`, and a few structs with fields and methods ([`Object`]).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

/// A Go map with string keys. Go's templates iterate maps in sorted key order, so a
/// `BTreeMap` gives that order for free. Maps are shared and mutable, as Go maps are
/// references: sprig's `set` on `.` is seen by everything that holds `.`.
pub type Map = Rc<MapData>;

/// The element type of a Go map: what a missing key reads as under `missingkey=zero`,
/// and what `%T` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Elem {
    /// `map[string]interface{}`: a missing key is nil.
    #[default]
    Any,
    /// `map[string]string` (sprig's `split`): a missing key is `""`.
    String,
}

/// A map's entries and element type. It reads as the `RefCell` of its entries.
#[derive(Debug, Default)]
pub struct MapData {
    cell: RefCell<BTreeMap<String, Value>>,
    /// The element type.
    pub elem: Elem,
}

impl MapData {
    /// A map of `map[string]interface{}`.
    pub fn new(entries: BTreeMap<String, Value>) -> MapData {
        MapData {
            cell: RefCell::new(entries),
            elem: Elem::Any,
        }
    }

    /// A map of the given element type.
    pub fn with_elem(entries: BTreeMap<String, Value>, elem: Elem) -> MapData {
        MapData {
            cell: RefCell::new(entries),
            elem,
        }
    }

    /// The zero value of an element.
    pub fn zero(&self) -> Value {
        match self.elem {
            Elem::Any => Value::Nil,
            Elem::String => Value::str(""),
        }
    }
}

impl std::ops::Deref for MapData {
    type Target = RefCell<BTreeMap<String, Value>>;
    fn deref(&self) -> &Self::Target {
        &self.cell
    }
}

/// One value.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's untyped `nil`: a missing key, YAML's `null`.
    #[default]
    Nil,
    /// `bool`.
    Bool(bool),
    /// `int` (and Go's other signed integer kinds).
    Int(i64),
    /// `float64`. Helm reads every number in values files as a `float64`.
    Float(f64),
    /// `string`.
    String(Rc<str>),
    /// `[]byte`.
    Bytes(Rc<[u8]>),
    /// `[]interface{}` (and Go's other slice types).
    List(Rc<Vec<Value>>),
    /// `map[string]interface{}`.
    Map(Map),
    /// A Go struct or pointer with fields and methods (`.Files`, `.Capabilities`, ...).
    Object(Rc<dyn Object>),
}

/// A Go struct value: named fields, and methods that may take arguments.
pub trait Object {
    /// The Go type name used in error messages and by `%T`, e.g. `chartutil.Capabilities`.
    fn type_name(&self) -> String;
    /// A field or method called with `args` (a field takes none). `None` when the type has
    /// no such field or method; `Some(Err(..))` when the method fails.
    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>>;
    /// Whether `name` is a method (so it may take arguments) rather than a field.
    fn is_method(&self, name: &str) -> bool {
        let _ = name;
        false
    }
    /// What `%v` prints: a `String()` method's result, or Go's `{field ...}` form.
    fn display(&self) -> String;
    /// For a Go map type with methods (Helm's `.Files`): its entries in key order, which
    /// `range`, `len` and truth use. `None` for a struct.
    fn entries(&self) -> Option<Vec<(Value, Value)>> {
        None
    }
}

impl Value {
    /// A string value.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::String(Rc::from(s.as_ref()))
    }

    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(items))
    }

    /// A fresh map value (`map[string]interface{}`).
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Rc::new(MapData::new(entries)))
    }

    /// A fresh `map[string]string` value.
    pub fn string_map(entries: BTreeMap<String, String>) -> Value {
        Value::Map(Rc::new(MapData {
            cell: RefCell::new(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, Value::from(v)))
                    .collect(),
            ),
            elem: Elem::String,
        }))
    }

    /// An empty map value.
    pub fn empty_map() -> Value {
        Value::map(BTreeMap::new())
    }

    /// Go's truth: false, 0, nil, and empty strings, slices and maps are false. Structs are
    /// always true.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.borrow().is_empty(),
            Value::Object(o) => o.entries().is_none_or(|e| !e.is_empty()),
        }
    }

    /// The Go type name, as `%T` and `typeOf` print it.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::Bytes(_) => "[]uint8".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(m) if m.elem == Elem::String => "map[string]string".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Object(o) => o.type_name(),
        }
    }

    /// The Go kind name, as `kindOf` prints it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) | Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(_) => "struct",
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is Go's `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// A deep copy: maps and lists are copied all the way down (sprig's `deepCopy`).
    pub fn deep_copy(&self) -> Value {
        match self {
            Value::List(l) => Value::list(l.iter().map(Value::deep_copy).collect()),
            Value::Map(m) => {
                // Copy the tree as it is (no re-sorting), then the collections in it.
                let mut entries = m.borrow().clone();
                for v in entries.values_mut() {
                    if matches!(v, Value::List(_) | Value::Map(_)) {
                        *v = v.deep_copy();
                    }
                }
                Value::Map(Rc::new(MapData {
                    cell: RefCell::new(entries),
                    elem: m.elem,
                }))
            }
            other => other.clone(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(Rc::from(s))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(f, "nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => write!(f, "bytes{b:?}"),
            Value::List(l) => f.debug_list().entries(l.iter()).finish(),
            Value::Map(m) => f.debug_map().entries(m.borrow().iter()).finish(),
            Value::Object(o) => write!(f, "{}", o.type_name()),
        }
    }
}

/// Values as equal as Go's `reflect.DeepEqual` would call them (sprig's `deepEqual`).
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| deep_equal(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        (Value::Object(x), Value::Object(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

impl Value {
    /// A JSON document as Go's `encoding/json` would decode it into `interface{}` with one
    /// difference: a number written without `.`, `e` or `E` becomes an `int`, any other a
    /// `float64`. (Helm's values are all `float64`; the chart crate reads those itself.)
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) if !n.to_string().contains(['.', 'e', 'E']) => Value::Int(i),
                _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(items) => {
                Value::list(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(entries) => Value::map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// The tagged JSON form of one Go value that the template oracle's questions and answers
/// use (documented in `scripts/tmpl-oracle/main.go`): `{"int": N}`, `{"int64": N}`,
/// `{"float": X}` (a number, or a string such as `"NaN"`, `"+Inf"`, `"-Inf"`, `"-0"`,
/// `"1e+21"`), `{"string": S}`, `{"bool": B}`, `{"nil": true}`, `{"bytes": BASE64}`,
/// `{"list": [...]}`, `{"map": {K: ...}}`, and, in answers only, `{"other": TYPE, "text":
/// S}` for a Go value of another type.
impl Value {
    /// Reads a value from its tagged JSON form. `int64` reads as [`Value::Int`] (the one
    /// integer kind here).
    ///
    /// # Panics
    /// When `json` is not a tagged value, or is `{"other": ...}`, which names a Go value
    /// with no counterpart here: this reads test data, where either is a broken test.
    pub fn from_typed_json(json: &serde_json::Value) -> Value {
        let (tag, body) = match json.as_object() {
            Some(entries) if entries.len() == 1 => entries.iter().next().unwrap(),
            Some(entries) if entries.contains_key("other") => {
                panic!("the Go value {json} has no counterpart in a template Value")
            }
            _ => panic!("not a tagged value: {json}"),
        };
        fn broken<T>(json: &serde_json::Value) -> T {
            panic!("bad tagged value: {json}")
        }
        match tag.as_str() {
            "int" | "int64" => Value::Int(body.as_i64().unwrap_or_else(|| broken(json))),
            "float" => Value::Float(match body {
                serde_json::Value::Number(n) => n.as_f64().unwrap_or_else(|| broken(json)),
                serde_json::Value::String(s) => match s.as_str() {
                    "NaN" => f64::NAN,
                    "+Inf" | "Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    other => other.parse().unwrap_or_else(|_| broken(json)),
                },
                _ => broken(json),
            }),
            "string" => Value::str(body.as_str().unwrap_or_else(|| broken(json))),
            "bool" => Value::Bool(body.as_bool().unwrap_or_else(|| broken(json))),
            "nil" => Value::Nil,
            "bytes" => Value::Bytes(Rc::from(
                base64_decode(body.as_str().unwrap_or_else(|| broken(json)))
                    .unwrap_or_else(|| broken(json)),
            )),
            "list" => Value::list(
                body.as_array()
                    .unwrap_or_else(|| broken(json))
                    .iter()
                    .map(Value::from_typed_json)
                    .collect(),
            ),
            "map" => Value::map(
                body.as_object()
                    .unwrap_or_else(|| broken(json))
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from_typed_json(v)))
                    .collect(),
            ),
            _ => broken(json),
        }
    }

    /// Writes the value in its tagged JSON form. A finite float is a JSON number (serde's
    /// shortest form, which Go reads back exactly); `-0`, NaN and the infinities are the
    /// strings `"-0"`, `"NaN"`, `"+Inf"` and `"-Inf"`. An [`Object`] becomes `{"other":
    /// TYPE, "text": ITS %v}`, which cannot be read back.
    pub fn to_typed_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Value::Nil => json!({"nil": true}),
            Value::Bool(b) => json!({ "bool": b }),
            Value::Int(i) => json!({ "int": i }),
            Value::Float(f) => {
                let body = if f.is_nan() {
                    json!("NaN")
                } else if f.is_infinite() {
                    json!(if *f > 0.0 { "+Inf" } else { "-Inf" })
                } else if *f == 0.0 && f.is_sign_negative() {
                    json!("-0")
                } else {
                    json!(f)
                };
                json!({ "float": body })
            }
            Value::String(s) => json!({ "string": &**s }),
            Value::Bytes(b) => json!({ "bytes": base64_encode(b) }),
            Value::List(l) => {
                json!({ "list": l.iter().map(Value::to_typed_json).collect::<Vec<_>>() })
            }
            Value::Map(m) => {
                let entries: serde_json::Map<String, serde_json::Value> = m
                    .borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_typed_json()))
                    .collect();
                json!({ "map": entries })
            }
            Value::Object(o) => json!({"other": o.type_name(), "text": o.display()}),
        }
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding (Go's `base64.StdEncoding`).
fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Reads standard base64 with optional `=` padding; `None` when it is not base64.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let digits = text.trim_end_matches('=').as_bytes();
    if text.len() - digits.len() > 2 || digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let d = BASE64.iter().position(|b| b == c)? as u32;
            n |= d << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod typed_tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648s() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), coded);
            assert_eq!(base64_decode(coded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_decode("Zm9v!"), None);
        assert_eq!(base64_decode("Z"), None);
    }

    #[test]
    fn typed_json_round_trips() {
        let v = Value::list(vec![
            Value::Nil,
            Value::Bool(true),
            Value::Int(-7),
            Value::Float(-0.0),
            Value::Float(f64::NAN),
            Value::Float(f64::NEG_INFINITY),
            Value::Float(0.1),
            Value::str("s"),
            Value::Bytes(Rc::from(&b"\x00\xff"[..])),
            Value::map(BTreeMap::from([("k".to_string(), Value::Int(1))])),
        ]);
        let json = v.to_typed_json();
        let back = Value::from_typed_json(&json);
        assert_eq!(back.to_typed_json(), json);
        let Value::List(items) = back else {
            panic!("not a list")
        };
        assert!(matches!(items[3], Value::Float(f) if f == 0.0 && f.is_sign_negative()));
        assert!(matches!(items[4], Value::Float(f) if f.is_nan()));
        assert_eq!(
            Value::from_typed_json(&serde_json::json!({"float": "1e+21"})).to_typed_json(),
            serde_json::json!({"float": 1e21})
        );
    }
}
