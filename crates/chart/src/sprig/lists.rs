//! sprig's list functions. They take any slice (a list, or bytes, whose items are
//! numbers); anything else is an error naming its Go kind, and nil is Go's nil
//! dereference.

use slipway_template::{FuncResult, Value, deep_equal};

use super::args::{self, NIL_DEREFERENCE, f64_to_i64, to_int64};
use super::defaults::is_empty;

/// The items of a slice, or the error for anything else (`what` gets the kind).
fn items(v: &Value, what: impl Fn(&str) -> String) -> Result<Vec<Value>, String> {
    match v {
        Value::List(items) => Ok(items.to_vec()),
        Value::Bytes(bytes) => Ok(bytes.iter().map(|&b| Value::Int(i64::from(b))).collect()),
        Value::Nil => Err(NIL_DEREFERENCE.into()),
        other => Err(what(other.kind_name())),
    }
}

/// `list x...` (and `tuple`).
pub(super) fn list(a: &[Value]) -> FuncResult {
    Ok(Value::list(a.to_vec()))
}

/// `append list x` (and `push`, `mustAppend`, `mustPush`).
pub(super) fn push(a: &[Value]) -> FuncResult {
    let mut l = items(&a[0], |k| format!("Cannot push on type {k}"))?;
    l.push(a[1].clone());
    Ok(Value::list(l))
}

/// `prepend list x` (and `mustPrepend`).
pub(super) fn prepend(a: &[Value]) -> FuncResult {
    let mut l = items(&a[0], |k| format!("Cannot prepend on type {k}"))?;
    l.insert(0, a[1].clone());
    Ok(Value::list(l))
}

/// `first list` (and `mustFirst`): nil for an empty list.
pub(super) fn first(a: &[Value]) -> FuncResult {
    let l = items(&a[0], |k| format!("Cannot find first on type {k}"))?;
    Ok(l.into_iter().next().unwrap_or(Value::Nil))
}

/// `last list` (and `mustLast`): nil for an empty list.
pub(super) fn last(a: &[Value]) -> FuncResult {
    let l = items(&a[0], |k| format!("Cannot find last on type {k}"))?;
    Ok(l.into_iter().last().unwrap_or(Value::Nil))
}

/// `rest list` (and `mustRest`): all but the first.
pub(super) fn rest(a: &[Value]) -> FuncResult {
    let l = items(&a[0], |k| format!("Cannot find rest on type {k}"))?;
    Ok(Value::list(l.into_iter().skip(1).collect()))
}

/// `initial list` (and `mustInitial`): all but the last.
pub(super) fn initial(a: &[Value]) -> FuncResult {
    let mut l = items(&a[0], |k| format!("Cannot find initial on type {k}"))?;
    l.pop();
    Ok(Value::list(l))
}

/// `reverse list` (and `mustReverse`).
pub(super) fn reverse(a: &[Value]) -> FuncResult {
    let mut l = items(&a[0], |k| format!("Cannot find reverse on type {k}"))?;
    l.reverse();
    Ok(Value::list(l))
}

/// `compact list` (and `mustCompact`): without its empty items.
pub(super) fn compact(a: &[Value]) -> FuncResult {
    let l = items(&a[0], |k| format!("Cannot compact on type {k}"))?;
    Ok(Value::list(
        l.into_iter().filter(|v| !is_empty(v)).collect(),
    ))
}

/// `uniq list` (and `mustUniq`): the first of each run of deeply equal items.
pub(super) fn uniq(a: &[Value]) -> FuncResult {
    let l = items(&a[0], |k| format!("Cannot find uniq on type {k}"))?;
    let mut out: Vec<Value> = Vec::new();
    for v in l {
        if !out.iter().any(|o| deep_equal(&v, o)) {
            out.push(v);
        }
    }
    Ok(Value::list(out))
}

/// `without list x...` (and `mustWithout`).
pub(super) fn without(a: &[Value]) -> FuncResult {
    let l = items(&a[0], |k| format!("Cannot find without on type {k}"))?;
    let omit = &a[1..];
    Ok(Value::list(
        l.into_iter()
            .filter(|v| !omit.iter().any(|o| deep_equal(v, o)))
            .collect(),
    ))
}

/// `has x list` (and `mustHas`): false for a nil list.
pub(super) fn has(a: &[Value]) -> FuncResult {
    if a[1].is_nil() {
        return Ok(Value::Bool(false));
    }
    let l = items(&a[1], |k| format!("Cannot find has on type {k}"))?;
    Ok(Value::Bool(l.iter().any(|v| deep_equal(&a[0], v))))
}

/// `slice list [start [end]]` (and `mustSlice`): nil for an empty list.
pub(super) fn slice(a: &[Value]) -> FuncResult {
    let what = |k: &str| format!("list should be type of slice or array but {k}");
    let len = match &a[0] {
        Value::List(l) => l.len(),
        Value::Bytes(b) => b.len(),
        Value::Nil => return Err(NIL_DEREFERENCE.into()),
        other => return Err(what(other.kind_name())),
    };
    if len == 0 {
        return Ok(Value::Nil);
    }
    let start = a.get(1).map_or(0, to_int64);
    let end = if a.len() < 3 {
        len as i64
    } else {
        to_int64(&a[2])
    };
    if start < 0 || end < start || end > len as i64 {
        return Err("reflect.Value.Slice: slice index out of bounds".into());
    }
    let (start, end) = (start as usize, end as usize);
    Ok(match &a[0] {
        Value::Bytes(b) => Value::Bytes(b[start..end].into()),
        Value::List(l) => Value::list(l[start..end].to_vec()),
        _ => Value::Nil,
    })
}

/// `concat list...`.
pub(super) fn concat(a: &[Value]) -> FuncResult {
    let mut out = Vec::new();
    for v in a {
        out.extend(items(v, |k| format!("Cannot concat type {k} as list"))?);
    }
    Ok(Value::list(out))
}

const MAKESLICE: &str = "runtime error: makeslice: len out of range";

/// `chunk size list` (and `mustChunk`): lists of `size` items, the last one shorter.
/// sprig computes the counts in floating point; so does this, with the same results for
/// sizes of zero or less.
pub(super) fn chunk(a: &[Value]) -> FuncResult {
    let size = args::int(&a[0]);
    let l = items(&a[1], |k| format!("Cannot chunk type {k}"))?;
    let len = l.len() as i64;
    let chunks = f64_to_i64(((len - 1) as f64 / size as f64).floor() + 1.0);
    if chunks < 0 {
        return Err(MAKESLICE.into());
    }
    let mut out = Vec::new();
    for i in 0..chunks {
        let mut clen = size;
        if i == chunks - 1 {
            clen = f64_to_i64((len as f64 % size as f64).floor());
            if clen == 0 {
                clen = size;
            }
        }
        if clen < 0 {
            return Err(MAKESLICE.into());
        }
        let mut part = Vec::new();
        for j in 0..clen {
            let ix = i * size + j;
            match usize::try_from(ix).ok().and_then(|ix| l.get(ix)) {
                Some(v) => part.push(v.clone()),
                None => {
                    return Err("reflect: slice index out of range".into());
                }
            }
        }
        out.push(Value::list(part));
    }
    Ok(Value::list(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(v: &[i64]) -> Value {
        Value::list(v.iter().map(|&i| Value::Int(i)).collect())
    }

    // Expectations below were checked with Go and sprig v3.3.0.
    #[test]
    fn reports_go_errors() {
        assert_eq!(first(&[Value::Nil]).unwrap_err(), NIL_DEREFERENCE);
        assert_eq!(
            first(&[Value::str("abc")]).unwrap_err(),
            "Cannot find first on type string"
        );
        assert_eq!(
            slice(&[ints(&[1, 2, 3]), Value::Int(2), Value::Int(1)]).unwrap_err(),
            "reflect.Value.Slice: slice index out of bounds"
        );
        assert_eq!(
            chunk(&[Value::Int(0), ints(&[1, 2])]).unwrap_err(),
            MAKESLICE
        );
        assert_eq!(chunk(&[Value::Int(-1), ints(&[1])]).unwrap_err(), MAKESLICE);
    }

    #[test]
    fn chunks_as_sprig_does() {
        let r = chunk(&[Value::Int(2), ints(&[1, 2, 3])]).unwrap();
        assert!(deep_equal(
            &r,
            &Value::list(vec![ints(&[1, 2]), ints(&[3])])
        ));
        let r = chunk(&[Value::Int(-2), ints(&[7])]).unwrap();
        assert!(deep_equal(&r, &Value::list(vec![ints(&[7])])));
        let r = chunk(&[Value::Int(3), ints(&[])]).unwrap();
        assert!(deep_equal(&r, &Value::list(vec![])));
    }
}
