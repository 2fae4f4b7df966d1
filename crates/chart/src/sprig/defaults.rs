//! sprig's defaults and reflection: `default`, `empty`, `coalesce`, `all`, `any`,
//! `ternary`, `typeOf`, `kindOf` and their tests.

use slipway_template::{FuncResult, Value, deep_equal};

use super::args;

/// sprig's `empty`: nil, false, zero, and empty strings, lists and maps. Structs are never
/// empty.
pub(super) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(i) => *i == 0,
        Value::Float(f) => *f == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.borrow().is_empty(),
        Value::Object(_) => false,
    }
}

/// `default d [x]`: `x` unless it is empty, else `d`.
pub(super) fn default(a: &[Value]) -> FuncResult {
    match a.get(1) {
        Some(given) if !is_empty(given) => Ok(given.clone()),
        _ => Ok(a[0].clone()),
    }
}

/// `empty x`.
pub(super) fn empty(a: &[Value]) -> FuncResult {
    Ok(Value::Bool(is_empty(&a[0])))
}

/// `coalesce x...`: the first non-empty argument, or nil.
pub(super) fn coalesce(a: &[Value]) -> FuncResult {
    Ok(a.iter()
        .find(|v| !is_empty(v))
        .cloned()
        .unwrap_or(Value::Nil))
}

/// `all x...`: whether no argument is empty.
pub(super) fn all(a: &[Value]) -> FuncResult {
    Ok(Value::Bool(a.iter().all(|v| !is_empty(v))))
}

/// `any x...`: whether some argument is not empty.
pub(super) fn any(a: &[Value]) -> FuncResult {
    Ok(Value::Bool(a.iter().any(|v| !is_empty(v))))
}

/// `ternary yes no cond`.
pub(super) fn ternary(a: &[Value]) -> FuncResult {
    Ok(if args::boolean(&a[2]) {
        a[0].clone()
    } else {
        a[1].clone()
    })
}

/// `typeOf x`: the Go type, as `%T` prints it.
pub(super) fn type_of(a: &[Value]) -> FuncResult {
    Ok(Value::from(a[0].type_name()))
}

/// `typeIs name x`.
pub(super) fn type_is(a: &[Value]) -> FuncResult {
    let target = args::string(&a[0]);
    Ok(Value::Bool(target == a[1].type_name()))
}

/// `typeIsLike name x`: the type, or a pointer to it.
pub(super) fn type_is_like(a: &[Value]) -> FuncResult {
    let target = args::string(&a[0]);
    let t = a[1].type_name();
    Ok(Value::Bool(
        t == target || t.strip_prefix('*') == Some(target),
    ))
}

/// `kindOf x`: the Go kind (`invalid` for nil).
pub(super) fn kind_of(a: &[Value]) -> FuncResult {
    Ok(Value::str(a[0].kind_name()))
}

/// `kindIs name x`.
pub(super) fn kind_is(a: &[Value]) -> FuncResult {
    let target = args::string(&a[0]);
    Ok(Value::Bool(target == a[1].kind_name()))
}

/// `deepEqual a b`: `reflect.DeepEqual`.
pub(super) fn deep_equal_fn(a: &[Value]) -> FuncResult {
    Ok(Value::Bool(deep_equal(&a[0], &a[1])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_go_zero() {
        assert!(is_empty(&Value::Nil));
        assert!(is_empty(&Value::Float(0.0)));
        assert!(is_empty(&Value::empty_map()));
        assert!(!is_empty(&Value::str(" ")));
        assert!(!is_empty(&Value::Int(-1)));
    }

    #[test]
    fn defaults_need_a_non_empty_value() {
        let d = default(&[Value::str("d")]).unwrap();
        assert_eq!(d.as_str(), Some("d"));
        let d = default(&[Value::str("d"), Value::Bool(false)]).unwrap();
        assert_eq!(d.as_str(), Some("d"));
        let d = default(&[Value::str("d"), Value::str("x")]).unwrap();
        assert_eq!(d.as_str(), Some("x"));
        let t = ternary(&[Value::Int(1), Value::Int(2), Value::Bool(false)]).unwrap();
        assert!(matches!(t, Value::Int(2)));
    }
}
