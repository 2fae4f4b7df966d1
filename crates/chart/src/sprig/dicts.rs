//! sprig's dict functions. Dicts are shared, as Go maps are: `set` changes the dict it is
//! given, and `merge` changes its first argument (and may place the other dicts' nested
//! dicts inside it, shared).
//!
//! Go iterates maps in random order, so `keys` and `values` have no order there; here they
//! come sorted by key.

use std::rc::Rc;

use slipway_template::{FuncResult, Map, Value};

use super::args::{self, strval};
use super::defaults::is_empty;

/// `dict k v...`: keys as text; a key without a value gets "".
pub(super) fn dict(a: &[Value]) -> FuncResult {
    let out = Value::empty_map();
    if let Value::Map(m) = &out {
        let mut m = m.borrow_mut();
        for pair in a.chunks(2) {
            let value = pair.get(1).cloned().unwrap_or_else(|| Value::str(""));
            m.insert(strval(&pair[0]), value);
        }
    }
    Ok(out)
}

/// A nil Go map reads as an empty one.
fn map_or_empty(m: Option<Map>) -> Value {
    match m {
        Some(m) => Value::Map(m),
        None => Value::empty_map(),
    }
}

/// `get d k`: the value, or "" when the key is missing.
pub(super) fn get(a: &[Value]) -> FuncResult {
    let d = args::map(&a[0]);
    let key = args::string(&a[1]);
    Ok(d.and_then(|d| d.borrow().get(key).cloned())
        .unwrap_or_else(|| Value::str("")))
}

/// `set d k v`: sets the key in `d` itself, and returns `d`.
pub(super) fn set(a: &[Value]) -> FuncResult {
    let d = args::map(&a[0]);
    let key = args::string(&a[1]);
    let Some(d) = d else {
        return Err("assignment to entry in nil map".into());
    };
    d.borrow_mut().insert(key.to_owned(), a[2].clone());
    Ok(Value::Map(d))
}

/// `unset d k`: removes the key from `d` itself, and returns `d`.
pub(super) fn unset(a: &[Value]) -> FuncResult {
    let d = args::map(&a[0]);
    let key = args::string(&a[1]);
    if let Some(d) = &d {
        d.borrow_mut().remove(key);
    }
    Ok(map_or_empty(d))
}

/// `hasKey d k`.
pub(super) fn has_key(a: &[Value]) -> FuncResult {
    let d = args::map(&a[0]);
    let key = args::string(&a[1]);
    Ok(Value::Bool(d.is_some_and(|d| d.borrow().contains_key(key))))
}

/// The dicts among `map[string]interface {}` arguments (nil maps left out).
fn maps(a: &[Value]) -> impl Iterator<Item = Map> + '_ {
    a.iter().filter_map(args::map)
}

/// `pluck k d...`: the values of `k` in the dicts that have it.
pub(super) fn pluck(a: &[Value]) -> FuncResult {
    let key = args::string(&a[0]);
    Ok(Value::list(
        maps(&a[1..])
            .filter_map(|d| d.borrow().get(key).cloned())
            .collect(),
    ))
}

/// `keys d...`: every key of every dict.
pub(super) fn keys(a: &[Value]) -> FuncResult {
    Ok(Value::list(
        maps(a)
            .flat_map(|d| d.borrow().keys().map(Value::str).collect::<Vec<_>>())
            .collect(),
    ))
}

/// `values d`.
pub(super) fn values(a: &[Value]) -> FuncResult {
    let d = args::map(&a[0]);
    Ok(Value::list(
        d.map(|d| d.borrow().values().cloned().collect())
            .unwrap_or_default(),
    ))
}

/// `pick d k...`: a new dict with only those keys.
pub(super) fn pick(a: &[Value]) -> FuncResult {
    let d = args::map(&a[0]);
    let wanted: Vec<&str> = a[1..].iter().map(args::string).collect();
    let out = Value::empty_map();
    if let (Some(d), Value::Map(o)) = (d, &out) {
        let d = d.borrow();
        let mut o = o.borrow_mut();
        for k in wanted {
            if let Some(v) = d.get(k) {
                o.insert(k.to_owned(), v.clone());
            }
        }
    }
    Ok(out)
}

/// `omit d k...`: a new dict without those keys.
pub(super) fn omit(a: &[Value]) -> FuncResult {
    let d = args::map(&a[0]);
    let unwanted: Vec<&str> = a[1..].iter().map(args::string).collect();
    let out = Value::empty_map();
    if let (Some(d), Value::Map(o)) = (d, &out) {
        let d = d.borrow();
        let mut o = o.borrow_mut();
        for (k, v) in d.iter() {
            if !unwanted.contains(&k.as_str()) {
                o.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(out)
}

/// mergo's map merge (`Merge`, or `MergeWithOverwrite` when `overwrite`), as sprig calls
/// it: `src`'s entries go into `dst` in place.
///
/// Without `overwrite`, an entry of `src` fills a key of `dst` that is missing or empty
/// (nil, false, zero, ""...). With it, every non-nil entry of `src` replaces `dst`'s, and a
/// nil entry too. Either way, where both hold dicts, the merge goes down into `dst`'s.
fn merge_maps(dst: &Map, src: &Map, overwrite: bool) {
    // A snapshot: `src` may be `dst` itself, or share dicts with it.
    let entries: Vec<(String, Value)> = src
        .borrow()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, s) in entries {
        let d = dst.borrow().get(&key).cloned();
        if s.is_nil() {
            if overwrite {
                dst.borrow_mut().insert(key, Value::Nil);
            }
            continue;
        }
        match &s {
            Value::Map(sm) => {
                if let Some(Value::Map(dm)) = &d {
                    merge_maps(dm, sm, overwrite);
                }
            }
            Value::List(_) | Value::Bytes(_) => {
                // mergo first stores a slice under the key (dst's own, or an empty one,
                // or src's when overwriting or when dst was empty), then decides below.
                let dst_was_empty = dst.borrow().is_empty();
                let placed = if overwrite || dst_was_empty {
                    s.clone()
                } else {
                    match &d {
                        None | Some(Value::Nil) => match &s {
                            Value::Bytes(_) => Value::Bytes(Rc::from(&[][..])),
                            _ => Value::list(Vec::new()),
                        },
                        Some(v) => v.clone(),
                    }
                };
                dst.borrow_mut().insert(key.clone(), placed);
            }
            _ => {}
        }
        if let Some(dv) = &d
            && !is_empty(dv)
        {
            match (&s, dv) {
                (Value::List(_) | Value::Bytes(_), _) => continue,
                (Value::Map(_), Value::Map(_)) => continue,
                _ => {}
            }
        }
        let fill = match &d {
            None => true,
            Some(dv) => is_empty(dv),
        };
        if overwrite || fill {
            dst.borrow_mut().insert(key, s);
        }
    }
}

fn merge_all(a: &[Value], overwrite: bool) -> FuncResult {
    let mut dst = args::map(&a[0]);
    for src in maps(&a[1..]) {
        let d = dst.get_or_insert_with(|| match Value::empty_map() {
            Value::Map(m) => m,
            _ => unreachable!("empty_map is a map"),
        });
        merge_maps(d, &src, overwrite);
    }
    Ok(map_or_empty(dst))
}

/// `merge dst src...` (and `mustMerge`).
pub(super) fn merge(a: &[Value]) -> FuncResult {
    merge_all(a, false)
}

/// `mergeOverwrite dst src...` (and `mustMergeOverwrite`).
pub(super) fn merge_overwrite(a: &[Value]) -> FuncResult {
    merge_all(a, true)
}

/// `deepCopy x` (and `mustDeepCopy`).
pub(super) fn deep_copy(a: &[Value]) -> FuncResult {
    if a[0].is_nil() {
        return Err("reflect: call of reflect.Value.Type on zero Value".into());
    }
    Ok(a[0].deep_copy())
}

/// Go's panic for a failed type assertion from `interface {}`.
fn not_a(v: &Value, want: &str) -> String {
    let got = if v.is_nil() {
        "nil".to_owned()
    } else {
        v.type_name()
    };
    format!("interface conversion: interface {{}} is {got}, not {want}")
}

/// `dig k... default d`: the value down the path of keys, or `default` where a key is
/// missing.
pub(super) fn dig(a: &[Value]) -> FuncResult {
    if a.len() < 3 {
        return Err("dig needs at least three arguments".into());
    }
    const MAP: &str = "map[string]interface {}";
    let Value::Map(mut d) = a[a.len() - 1].clone() else {
        return Err(not_a(&a[a.len() - 1], MAP));
    };
    let default = &a[a.len() - 2];
    let keys = a[..a.len() - 2]
        .iter()
        .map(|k| match k {
            Value::String(s) => Ok(s.to_string()),
            other => Err(not_a(other, "string")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (i, key) in keys.iter().enumerate() {
        let step = d.borrow().get(key).cloned();
        let Some(step) = step else {
            return Ok(default.clone());
        };
        if i == keys.len() - 1 {
            return Ok(step);
        }
        match step {
            Value::Map(m) => d = m,
            other => return Err(not_a(&other, MAP)),
        }
    }
    Ok(default.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_template::deep_equal;

    fn json(text: &str) -> Value {
        Value::from_json(&serde_json::from_str(text).unwrap())
    }

    // Expectations below were checked with Go, sprig v3.3.0 and mergo v1.0.1.
    #[test]
    fn merges_as_mergo_does() {
        let cases = [
            (
                r#"{"a":1,"b":"","c":false,"d":{"x":1},"e":[1],"n":null}"#,
                r#"{"a":2,"b":"B","c":true,"d":{"x":2,"y":3},"e":[2],"f":"F","n":"N"}"#,
                r#"{"a":1,"b":"B","c":true,"d":{"x":1,"y":3},"e":[1],"f":"F","n":"N"}"#,
                r#"{"a":2,"b":"B","c":true,"d":{"x":2,"y":3},"e":[2],"f":"F","n":"N"}"#,
            ),
            (
                r#"{"a":"x","b":{"c":1}}"#,
                r#"{"a":{"m":1},"b":"y","z":null}"#,
                r#"{"a":"x","b":{"c":1}}"#,
                r#"{"a":{"m":1},"b":"y","z":null}"#,
            ),
        ];
        for (dst, src, merged, overwritten) in cases {
            let got = merge(&[json(dst), json(src)]).unwrap();
            assert!(
                deep_equal(&got, &json(merged)),
                "merge {dst} {src}: {got:?}"
            );
            let got = merge_overwrite(&[json(dst), json(src)]).unwrap();
            assert!(
                deep_equal(&got, &json(overwritten)),
                "mergeOverwrite {dst} {src}: {got:?}"
            );
        }
    }

    #[test]
    fn digs_with_go_panics() {
        let d = json(r#"{"a":{"b":1},"s":"x"}"#);
        let got = dig(&[Value::str("a"), Value::str("b"), Value::Int(0), d.clone()]).unwrap();
        assert!(deep_equal(&got, &Value::Int(1)));
        let got = dig(&[Value::str("z"), Value::str("b"), Value::Int(0), d.clone()]).unwrap();
        assert!(deep_equal(&got, &Value::Int(0)));
        assert_eq!(
            dig(&[Value::str("s"), Value::str("b"), Value::Int(0), d.clone()]).unwrap_err(),
            "interface conversion: interface {} is string, not map[string]interface {}"
        );
        assert_eq!(
            dig(&[Value::Int(1), Value::Int(0), d]).unwrap_err(),
            "interface conversion: interface {} is int, not string"
        );
    }
}
