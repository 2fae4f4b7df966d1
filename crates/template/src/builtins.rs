//! Go's builtin template functions: `len`, `index`, `slice`, `not`, `print`, `printf`,
//! `println`, the comparisons, and the escapers. (`and`, `or` and `call` live in the
//! executor: the first two short-circuit, the last needs function values.)

use crate::fmt;
use crate::funcs::{Arity, Funcs, Type};
use crate::value::Value;

pub(crate) fn register(funcs: &mut Funcs) {
    funcs.add_plain("len", Arity::Exact(1), |a| length(&a[0]));
    funcs.add_plain("index", Arity::AtLeast(1), |a| index(&a[0], &a[1..]));
    funcs.add_plain("slice", Arity::AtLeast(1), |a| slice(&a[0], &a[1..]));
    funcs.add_plain("not", Arity::Exact(1), |a| Ok(Value::Bool(!a[0].truthy())));
    funcs.add_plain("print", Arity::AtLeast(0), |a| {
        Ok(Value::from(fmt::sprint(a)))
    });
    funcs.add_plain("println", Arity::AtLeast(0), |a| {
        Ok(Value::from(fmt::sprintln(a)))
    });
    funcs.add_plain("printf", Arity::AtLeast(1), |a| {
        let format = a[0].as_str().unwrap_or_default();
        Ok(Value::from(fmt::sprintf(format, &a[1..])))
    });
    funcs.typed("printf", &[Type::String], Some(Type::Any));
    funcs.add_plain("eq", Arity::AtLeast(1), |a| {
        eq(&a[0], &a[1..]).map(Value::Bool)
    });
    funcs.add_plain("ne", Arity::Exact(2), |a| {
        eq(&a[0], &a[1..2]).map(|b| Value::Bool(!b))
    });
    funcs.add_plain("lt", Arity::Exact(2), |a| lt(&a[0], &a[1]).map(Value::Bool));
    funcs.add_plain("le", Arity::Exact(2), |a| {
        let less = lt(&a[0], &a[1])?;
        Ok(Value::Bool(less || eq(&a[0], &a[1..2])?))
    });
    funcs.add_plain("gt", Arity::Exact(2), |a| {
        let less = lt(&a[0], &a[1])?;
        Ok(Value::Bool(!less && !eq(&a[0], &a[1..2])?))
    });
    funcs.add_plain("ge", Arity::Exact(2), |a| {
        lt(&a[0], &a[1]).map(|less| Value::Bool(!less))
    });
    funcs.add_plain("html", Arity::AtLeast(0), |a| {
        Ok(Value::from(html_escape(&eval_args(a))))
    });
    funcs.add_plain("js", Arity::AtLeast(0), |a| {
        Ok(Value::from(js_escape(&eval_args(a))))
    });
    funcs.add_plain("urlquery", Arity::AtLeast(0), |a| {
        Ok(Value::from(query_escape(&eval_args(a))))
    });
}

/// Go's `evalArgs`: one string argument as is, otherwise `fmt.Sprint` of them all.
fn eval_args(args: &[Value]) -> String {
    if let [Value::String(s)] = args {
        return s.to_string();
    }
    let printable: Vec<Value> = args
        .iter()
        .map(|a| match a {
            Value::Nil => Value::str("<no value>"),
            other => other.clone(),
        })
        .collect();
    fmt::sprint(&printable)
}

fn length(v: &Value) -> Result<Value, String> {
    let n = match v {
        Value::String(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.borrow().len(),
        Value::Object(o) if o.entries().is_some() => o.entries().map_or(0, |e| e.len()),
        Value::Nil => return Err("len of nil pointer".into()),
        other => return Err(format!("len of type {}", other.type_name())),
    };
    Ok(Value::Int(n as i64))
}

fn index_arg(i: &Value, cap: usize) -> Result<usize, String> {
    let x = match i {
        Value::Int(x) => *x,
        Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    if item.is_nil() {
        return Err("index of untyped nil".into());
    }
    let mut item = item.clone();
    for i in indexes {
        item = match &item {
            Value::List(l) => {
                let x = index_arg(i, l.len())?;
                l.get(x)
                    .cloned()
                    .ok_or_else(|| format!("index out of range: {x}"))?
            }
            Value::String(s) => {
                let x = index_arg(i, s.len())?;
                Value::Int(i64::from(
                    *s.as_bytes()
                        .get(x)
                        .ok_or_else(|| format!("index out of range: {x}"))?,
                ))
            }
            Value::Bytes(b) => {
                let x = index_arg(i, b.len())?;
                Value::Int(i64::from(
                    *b.get(x).ok_or_else(|| format!("index out of range: {x}"))?,
                ))
            }
            Value::Map(m) => match i {
                Value::String(k) => m.borrow().get(&**k).cloned().unwrap_or_else(|| m.zero()),
                Value::Nil => return Err("value is nil; should be of type string".into()),
                other => {
                    return Err(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    ));
                }
            },
            Value::Nil => return Err("index of nil pointer".into()),
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    if item.is_nil() {
        return Err("slice of untyped nil".into());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item {
        Value::String(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        Value::Bytes(b) => b.len(),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut idx = [0, len, len];
    for (k, i) in indexes.iter().enumerate() {
        idx[k] = index_arg(i, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::String(s) => match s.get(idx[0]..idx[1]) {
            Some(sub) => Value::str(sub),
            // Go slices bytes; a cut inside a character keeps the raw bytes.
            None => {
                Value::from(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned())
            }
        },
        Value::List(l) => Value::list(l[idx[0]..idx[1]].to_vec()),
        Value::Bytes(b) => Value::Bytes(b[idx[0]..idx[1]].into()),
        _ => unreachable!("checked above"),
    })
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Basic {
    Bool,
    Int,
    Float,
    String,
    Other,
}

fn basic(v: &Value) -> Basic {
    match v {
        Value::Bool(_) => Basic::Bool,
        Value::Int(_) => Basic::Int,
        Value::Float(_) => Basic::Float,
        Value::String(_) => Basic::String,
        _ => Basic::Other,
    }
}

/// Go's `eq`: true when the first argument equals any of the others.
pub fn eq(a: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic(a);
    for b in others {
        let k2 = basic(b);
        let truth = if k1 != k2 {
            if !a.is_nil() && !b.is_nil() {
                return Err(format!(
                    "incompatible types for comparison: {} and {}",
                    a.type_name(),
                    b.type_name()
                ));
            }
            false
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Int(x), Value::Int(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::String(x), Value::String(y)) => x == y,
                (Value::Nil, Value::Nil) => true,
                (Value::Nil, _) | (_, Value::Nil) => false,
                (Value::Map(_) | Value::List(_) | Value::Bytes(_), _) => {
                    return Err(format!(
                        "non-comparable type {}: {}",
                        fmt::display(b),
                        b.type_name()
                    ));
                }
                _ => {
                    return Err(format!(
                        "non-comparable types {}: {}, {}: {}",
                        fmt::display(a),
                        a.type_name(),
                        b.type_name(),
                        fmt::display(b)
                    ));
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `lt`.
pub fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let (k1, k2) = (basic(a), basic(b));
    if k1 == Basic::Other || k2 == Basic::Other {
        return Err("invalid type for comparison".into());
    }
    if k1 != k2 {
        return Err(format!(
            "incompatible types for comparison: {} and {}",
            a.type_name(),
            b.type_name()
        ));
    }
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x < y,
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::String(x), Value::String(y)) => x < y,
        _ => return Err("invalid type for comparison".into()),
    })
}

/// Go's `HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if !is_print(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn is_print(c: char) -> bool {
    !c.is_control() && (c == ' ' || !c.is_whitespace())
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
