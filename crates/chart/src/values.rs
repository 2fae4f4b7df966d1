//! Values: how the values a chart's templates see are put together from the chart's own
//! `values.yaml`, its subcharts' defaults and what the user gives with `-f` files and the
//! `--set` family of flags, with Helm's rules:
//!
//! - [`merge_user_values`]: `-f` files merged in order (maps key by key, later files
//!   winning), then every `--set-json`, `--set`, `--set-string`, `--set-file` and
//!   `--set-literal` line, one kind after the other in that order.
//! - [`coalesce_values`]: the user's values over the chart's defaults, recursively into
//!   each subchart under its name (or alias), with `global` handed down from parent to
//!   child; a `null` the user gives deletes the default; a map never replaces a non-map nor
//!   the other way round (the higher-priority side is kept as it is).
//! - [`to_render_values`]: the top-level map the templates of the root chart get:
//!   `.Chart`, `.Release`, `.Capabilities` and `.Values`.
//!
//! Maps are shared and mutable ([`slipway_template::Map`]), as Go maps are, and the
//! functions here share and mutate them exactly where Helm does: a few of Helm's results
//! (globals of subcharts reaching back into their parents' nested global maps) depend on
//! that sharing.

use std::collections::BTreeMap;
use std::rc::Rc;

use slipway_template::{Map, Value};

use crate::model::Chart;
use crate::strvals::{self, Kind};

/// The values key whose contents every subchart shares.
pub const GLOBAL_KEY: &str = "global";

/// An error while putting values together, worded as Helm words it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValuesError {
    message: String,
}

impl ValuesError {
    fn new(message: impl Into<String>) -> ValuesError {
        ValuesError {
            message: message.into(),
        }
    }

    /// The message, as Helm prints it after `Error: `.
    pub fn message(&self) -> &str {
        &self.message
    }
}

// ---------------------------------------------------------------------------------------
// Map helpers.

fn new_map() -> Map {
    Rc::default()
}

/// The map inside a value, if it is one.
fn as_map(v: &Value) -> Option<&Map> {
    match v {
        Value::Map(m) => Some(m),
        _ => None,
    }
}

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Map(_))
}

fn get(m: &Map, key: &str) -> Option<Value> {
    m.borrow().get(key).cloned()
}

fn set(m: &Map, key: &str, v: Value) {
    m.borrow_mut().insert(key.to_string(), v);
}

/// The entries of a map as they are now, so the map can change while they are walked.
fn entries(m: &Map) -> Vec<(String, Value)> {
    m.borrow()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A fresh map with the same entries (Go's `maps.Copy` into a new map): nested maps stay
/// shared.
fn shallow_copy(m: &Map) -> Map {
    Rc::new(slipway_template::MapData::with_elem(
        m.borrow().clone(),
        m.elem,
    ))
}

/// A deep copy of a values map; anything else (a chart without values) is an empty map.
fn copy_values(v: &Value) -> Map {
    match v.deep_copy() {
        Value::Map(m) => m,
        _ => new_map(),
    }
}

// ---------------------------------------------------------------------------------------
// Coalescing.

/// Helm's `CoalesceValues`: the values a chart renders with, `user` over the chart's
/// defaults and its subcharts' defaults (see the module documentation). `user` is not
/// changed. A `null` in it deletes the chart's default for that key (and is dropped with
/// it); a `null` for a key without a default stays.
///
/// # Errors
/// When the value under a subchart's name is not a map (`type mismatch on NAME: ...`).
pub fn coalesce_values(chart: &Chart, user: &Value) -> Result<Value, ValuesError> {
    let dest = copy_values(user);
    coalesce(chart, &dest, false)?;
    Ok(Value::Map(dest))
}

/// Helm's `MergeValues`: as [`coalesce_values`], but a `null` is kept as a value rather
/// than deleting anything. Dependency processing uses it for `import-values`.
///
/// # Errors
/// As [`coalesce_values`].
pub fn merge_values(chart: &Chart, user: &Value) -> Result<Value, ValuesError> {
    let dest = copy_values(user);
    coalesce(chart, &dest, true)?;
    Ok(Value::Map(dest))
}

fn coalesce(chart: &Chart, dest: &Map, merge: bool) -> Result<(), ValuesError> {
    coalesce_chart_values(chart, dest, merge);
    coalesce_dependencies(chart, dest, merge)
}

/// Each subchart's values: the table under its name (made when missing), with the
/// parent's globals copied in, then coalesced with the subchart's own defaults.
fn coalesce_dependencies(chart: &Chart, dest: &Map, merge: bool) -> Result<(), ValuesError> {
    for sub in &chart.dependencies {
        let name = &sub.metadata.name;
        let table = match get(dest, name) {
            None => {
                let m = new_map();
                set(dest, name, Value::Map(m.clone()));
                m
            }
            Some(Value::Map(m)) => m,
            Some(other) => {
                return Err(ValuesError::new(format!(
                    "type mismatch on {name}: {}",
                    percent_t(&other, true)
                )));
            }
        };
        coalesce_globals(&table, dest);
        coalesce(sub, &table, merge)?;
    }
    Ok(())
}

/// What Go's `fmt` prints for a value with the verb `%t` (which suits only bools), as
/// Helm's type mismatch error shows it. An int in values can only come from `--set`,
/// which makes an int64. `top` is false inside lists and maps, where Go prints a nil as
/// `<nil>`.
fn percent_t(v: &Value, top: bool) -> String {
    let bad = |ty: &str, shown: &str| format!("%!t({ty}={shown})");
    match v {
        Value::Nil if top => "%!t(<nil>)".to_string(),
        Value::Nil => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => bad("int64", &i.to_string()),
        Value::Float(f) => bad("float64", &slipway_template::fmt::format_float(*f)),
        Value::String(s) => bad("string", s),
        Value::List(items) => {
            let shown: Vec<String> = items.iter().map(|x| percent_t(x, false)).collect();
            format!("[{}]", shown.join(" "))
        }
        Value::Map(m) => {
            let shown: Vec<String> = m
                .borrow()
                .iter()
                .map(|(k, x)| format!("{}:{}", bad("string", k), percent_t(x, false)))
                .collect();
            format!("map[{}]", shown.join(" "))
        }
        other => slipway_template::fmt::sprintf("%t", std::slice::from_ref(other)),
    }
}

/// Copies the `global` table of `src` (a parent's values) into that of `dest` (a
/// child's): the parent's entries win; where both hold a map, the two are merged (the
/// parent's side a shallow copy, so deeper maps stay shared with the parent, as in Helm).
/// Nothing happens when either side's `global` is not a map.
fn coalesce_globals(dest: &Map, src: &Map) {
    let dest_globals = match get(dest, GLOBAL_KEY) {
        None => new_map(),
        Some(Value::Map(m)) => m,
        Some(_) => return,
    };
    let src_globals = match get(src, GLOBAL_KEY) {
        None => new_map(),
        Some(Value::Map(m)) => m,
        Some(_) => return,
    };
    for (key, val) in entries(&src_globals) {
        match &val {
            Value::Map(table) => {
                let copy = shallow_copy(table);
                match get(&dest_globals, &key) {
                    None => set(&dest_globals, &key, Value::Map(copy)),
                    Some(Value::Map(existing)) => {
                        coalesce_tables_in(&copy, &existing, true);
                        set(&dest_globals, &key, Value::Map(copy));
                    }
                    // A map cannot replace the child's non-map: skipped.
                    Some(_) => {}
                }
            }
            _ => {
                if !get(&dest_globals, &key).is_some_and(|v| is_table(&v)) {
                    set(&dest_globals, &key, val);
                }
            }
        }
    }
    set(dest, GLOBAL_KEY, Value::Map(dest_globals));
}

/// The chart's own defaults under the values `v` (which win).
fn coalesce_chart_values(chart: &Chart, v: &Map, merge: bool) {
    // A fresh copy that nothing else holds: its entries can be taken rather than cloned.
    let defaults = std::mem::take(&mut *copy_values(&chart.values).borrow_mut());
    for (key, default) in defaults {
        match get(v, &key) {
            Some(Value::Nil) if !merge => {
                v.borrow_mut().remove(&key);
            }
            Some(Value::Map(dest)) => {
                if let Value::Map(src) = &default {
                    // A subchart's table is always merged, keeping its nulls for the
                    // subchart's own pass.
                    let merge = merge || chart.dependencies.iter().any(|d| d.metadata.name == key);
                    if !merge {
                        clean_nil_values(src);
                    }
                    coalesce_tables_in(&dest, src, merge);
                }
            }
            Some(_) => {}
            None => {
                if !merge {
                    match &default {
                        Value::Nil => continue,
                        Value::Map(m) => clean_nil_values(m),
                        _ => {}
                    }
                }
                set(v, &key, default);
            }
        }
    }
}

/// Removes every `null` from a map and the maps inside it (not inside lists).
fn clean_nil_values(m: &Map) {
    m.borrow_mut().retain(|_, v| !v.is_nil());
    let subs: Vec<Map> = m
        .borrow()
        .values()
        .filter_map(|v| match v {
            Value::Map(sub) => Some(sub.clone()),
            _ => None,
        })
        .collect();
    for sub in subs {
        clean_nil_values(&sub);
    }
}

/// Helm's `CoalesceTables`: `src` merged into `dst`, `dst` winning; a `null` in `dst`
/// deletes the key when `src` had a value for it. Returns `dst` (or `src` when `dst` is
/// not a map). Both may be changed, as in Helm.
pub fn coalesce_tables(dst: &Value, src: &Value) -> Value {
    tables(dst, src, false)
}

/// Helm's `MergeTables`: as [`coalesce_tables`], but `null`s are kept as values.
pub fn merge_tables(dst: &Value, src: &Value) -> Value {
    tables(dst, src, true)
}

fn tables(dst: &Value, src: &Value, merge: bool) -> Value {
    match (dst, src) {
        (_, Value::Nil) => dst.clone(),
        (Value::Map(d), Value::Map(s)) => {
            coalesce_tables_in(d, s, merge);
            dst.clone()
        }
        _ => src.clone(),
    }
}

fn coalesce_tables_in(dst: &Map, src: &Map, merge: bool) {
    if Rc::ptr_eq(dst, src) {
        // A map merged into itself stays as it is.
        return;
    }
    let had_value: Vec<String> = src
        .borrow()
        .iter()
        .filter(|(_, v)| !v.is_nil())
        .map(|(k, _)| k.clone())
        .collect();
    for (key, val) in entries(dst) {
        if val.is_nil() {
            set(src, &key, Value::Nil);
        }
    }
    for (key, val) in entries(src) {
        let current = get(dst, &key);
        match current {
            Some(Value::Nil) if !merge && had_value.contains(&key) => {
                dst.borrow_mut().remove(&key);
            }
            None => set(dst, &key, val),
            Some(dv) => {
                if let (Value::Map(src_table), Value::Map(dst_table)) = (&val, &dv) {
                    coalesce_tables_in(dst_table, src_table, merge);
                }
                // Otherwise the destination wins (a map is never replaced by a non-map,
                // nor a non-map by a map).
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Paths into values.

/// Helm's `Values.Table`: the map at a dotted path (`a.b.c`), if every step is a map.
pub fn table(values: &Value, path: &str) -> Option<Value> {
    let mut current = as_map(values)?.clone();
    for part in path.split('.') {
        let next = match get(&current, part)? {
            Value::Map(m) => m,
            _ => return None,
        };
        current = next;
    }
    Some(Value::Map(current))
}

/// Why [`path_value`] found nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathError {
    /// The path is empty.
    Empty,
    /// Nothing that is not a map is at the path (Helm's `ErrNoValue`); holds the last key.
    NoValue(String),
}

/// Helm's `Values.PathValue`: the value at a dotted path, which must not be a map. A
/// `null` there is a value (`Ok(Value::Nil)`).
///
/// # Errors
/// [`PathError::Empty`] for an empty path; [`PathError::NoValue`] when the path leads
/// nowhere or to a map.
pub fn path_value(values: &Value, path: &str) -> Result<Value, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    let (parent, key) = match path.rsplit_once('.') {
        Some((parent, key)) => (table(values, parent), key),
        None => (Some(values.clone()), path),
    };
    let found = parent
        .as_ref()
        .and_then(as_map)
        .and_then(|m| get(m, key))
        .filter(|v| !is_table(v));
    found.ok_or_else(|| PathError::NoValue(key.to_string()))
}

// ---------------------------------------------------------------------------------------
// The user's values.

/// Helm's `MergeMaps`: a new map with `b` over `a`; where both hold a map the two are
/// merged the same way. Nested maps not merged stay shared.
pub fn merge_maps(a: &Value, b: &Value) -> Value {
    let mut out = as_map(a).map(|m| m.borrow().clone()).unwrap_or_default();
    if let Some(b) = as_map(b) {
        for (k, v) in entries(b) {
            let merged = match (&v, out.get(&k)) {
                (Value::Map(_), Some(existing @ Value::Map(_))) => merge_maps(existing, &v),
                _ => v,
            };
            out.insert(k, merged);
        }
    }
    Value::map(out)
}

/// Which flag a `--set`-style line was given with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetKind {
    /// `--set-json`.
    Json,
    /// `--set`.
    Set,
    /// `--set-string`.
    String,
    /// `--set-file`: values are paths, read from disk.
    File,
    /// `--set-literal`.
    Literal,
}

/// The user's values as Helm's `values.Options.MergeValues` puts them together for
/// `template`, `install` and `upgrade`: each `-f` file (`files`: its path as the user
/// wrote it, for messages, and its text) merged over the ones before it ([`merge_maps`]),
/// then the lines of `sets`: all `--set-json` lines first, then `--set`, `--set-string`,
/// `--set-file` and `--set-literal`, each kind in the order given, whatever the order of
/// the flags on the command line.
///
/// A `--set-json` line that starts with `{` is a whole JSON object merged in like a file;
/// any other holds `key=json` pairs. `--set-file` values are paths, read as
/// [`strvals::read_file`] reads them.
///
/// # Errors
/// Helm's messages: `failed to parse PATH: ...` for a file, `failed parsing --set data:
/// ...` and the like for each kind of line (`--set-json` errors name the line rather than
/// the cause, as Helm's do).
pub fn merge_user_values<P: AsRef<str>, T: AsRef<str>>(
    files: &[(P, T)],
    sets: &[(SetKind, String)],
) -> Result<Value, ValuesError> {
    let mut base = Value::empty_map();
    for (path, text) in files {
        let current = crate::yaml::load_values(text.as_ref())
            .map_err(|e| ValuesError::new(format!("failed to parse {}: {e}", path.as_ref())))?;
        base = merge_maps(&base, &current);
    }
    let of_kind = |kind: SetKind| sets.iter().filter(move |(k, _)| *k == kind).map(|(_, l)| l);
    for line in of_kind(SetKind::Json) {
        strvals::apply_set_json(line, &mut base).map_err(|e| ValuesError::new(e.message))?;
    }
    let read: &dyn Fn(&str) -> Result<String, String> = &strvals::read_file;
    for (kind, how, flag) in [
        (SetKind::Set, Kind::Set, "--set"),
        (SetKind::String, Kind::String, "--set-string"),
        (SetKind::File, Kind::File(read), "--set-file"),
        (SetKind::Literal, Kind::Literal, "--set-literal"),
    ] {
        for line in of_kind(kind) {
            strvals::parse_into(line, &mut base, how)
                .map_err(|e| ValuesError::new(format!("failed parsing {flag} data: {e}")))?;
        }
    }
    Ok(base)
}

// ---------------------------------------------------------------------------------------
// What templates get.

/// The release a chart is rendered for (`.Release`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseOptions {
    /// `.Release.Name`.
    pub name: String,
    /// `.Release.Namespace`.
    pub namespace: String,
    /// `.Release.Revision`: 1 for a first install.
    pub revision: i64,
    /// `.Release.IsInstall`.
    pub is_install: bool,
    /// `.Release.IsUpgrade`.
    pub is_upgrade: bool,
}

impl ReleaseOptions {
    /// A first install of release `name` into `namespace` (revision 1), as `helm
    /// template` renders by default.
    pub fn install(name: impl Into<String>, namespace: impl Into<String>) -> ReleaseOptions {
        ReleaseOptions {
            name: name.into(),
            namespace: namespace.into(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
        }
    }
}

/// Helm's `ToRenderValues` (without the `values.schema.json` check): the map the root
/// chart's templates get. `values` are the user's values (from [`merge_user_values`]);
/// they are coalesced with the chart's defaults here ([`coalesce_values`]), after
/// dependency processing ([`crate::deps::process_dependencies`]) has run on `chart`.
///
/// The map holds `Chart` ([`metadata_as_map`]), `Capabilities` (`caps`, as given),
/// `Release` (`Name`, `Namespace`, `IsUpgrade`, `IsInstall`, `Revision` as an int, and
/// `Service` = `"Helm"`) and `Values`. Each template's own scope (`Files`, `Subcharts`,
/// `Template`, a subchart's `.Values` and `.Chart` with `IsRoot`) is built from it by
/// the renderer.
///
/// # Errors
/// Those of [`coalesce_values`].
pub fn to_render_values(
    chart: &Chart,
    values: &Value,
    release: &ReleaseOptions,
    caps: Value,
) -> Result<Value, ValuesError> {
    let release = BTreeMap::from([
        ("Name".to_string(), Value::str(&release.name)),
        ("Namespace".to_string(), Value::str(&release.namespace)),
        ("IsUpgrade".to_string(), Value::Bool(release.is_upgrade)),
        ("IsInstall".to_string(), Value::Bool(release.is_install)),
        ("Revision".to_string(), Value::Int(release.revision)),
        ("Service".to_string(), Value::str("Helm")),
    ]);
    let values = coalesce_values(chart, values)?;
    Ok(Value::map(BTreeMap::from([
        ("Chart".to_string(), metadata_as_map(chart)),
        ("Capabilities".to_string(), caps),
        ("Release".to_string(), Value::map(release)),
        ("Values".to_string(), values),
    ])))
}

/// `.Chart` as Helm builds it from `Chart.yaml` (its `MetadataAsMap`): keyed by Go's
/// field names (`Name`, `Home`, `Sources`, `Version`, `Description`, `Keywords`,
/// `Maintainers` (maps with `Name`, `Email`, `URL`), `Icon`, `APIVersion`, `Condition`,
/// `Tags`, `AppVersion`, `Deprecated`, `Annotations`, `KubeVersion`, `Dependencies`
/// (maps with `Name`, `Version`, `Repository`, `Condition`, `Tags`, `Enabled`,
/// `ImportValues`, `Alias`) and `Type`). Every list is present, empty when unset; the
/// renderer adds `IsRoot`.
pub fn metadata_as_map(chart: &Chart) -> Value {
    let md = &chart.metadata;
    let s = |text: &str| Value::str(text);
    let strings = |items: &[String]| Value::list(items.iter().map(Value::str).collect());
    let fields = |pairs: Vec<(&str, Value)>| {
        Value::map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    };
    let maintainers = md
        .maintainers
        .iter()
        .map(|m| {
            fields(vec![
                ("Name", s(&m.name)),
                ("Email", s(&m.email)),
                ("URL", s(&m.url)),
            ])
        })
        .collect();
    let dependencies = md
        .dependencies
        .iter()
        .map(|d| {
            fields(vec![
                ("Name", s(&d.name)),
                ("Version", s(&d.version)),
                ("Repository", s(&d.repository)),
                ("Condition", s(&d.condition)),
                ("Tags", strings(&d.tags)),
                ("Enabled", Value::Bool(d.enabled)),
                ("ImportValues", Value::list(d.import_values.clone())),
                ("Alias", s(&d.alias)),
            ])
        })
        .collect();
    let annotations = md
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), Value::str(v)))
        .collect();
    fields(vec![
        ("Name", s(&md.name)),
        ("Home", s(&md.home)),
        ("Sources", strings(&md.sources)),
        ("Version", s(&md.version)),
        ("Description", s(&md.description)),
        ("Keywords", strings(&md.keywords)),
        ("Maintainers", Value::list(maintainers)),
        ("Icon", s(&md.icon)),
        ("APIVersion", s(&md.api_version)),
        ("Condition", s(&md.condition)),
        ("Tags", s(&md.tags)),
        ("AppVersion", s(&md.app_version)),
        ("Deprecated", Value::Bool(md.deprecated)),
        ("Annotations", Value::map(annotations)),
        ("KubeVersion", s(&md.kube_version)),
        ("Dependencies", Value::list(dependencies)),
        ("Type", s(&md.chart_type)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use slipway_testkit::ask_template_oracle;

    /// The `%t` of values that can reach a type mismatch error, against Go's `fmt` (ints as
    /// the int64s `--set` makes).
    #[test]
    fn percent_t_is_gos() {
        let typed = [
            json!({"nil": true}),
            json!({"bool": true}),
            json!({"int64": -3}),
            json!({"float": "1.5"}),
            json!({"float": "1e+21"}),
            json!({"float": "3"}),
            json!({"string": "a b"}),
            json!({"list": []}),
            json!({"list": [{"int64": 1}, {"nil": true}, {"string": "x"}, {"bool": false},
                {"list": [{"float": "2"}]}, {"map": {"k": {"nil": true}, "j": {"int64": 2}}}]}),
            json!({"map": {}}),
        ];
        let questions: Vec<_> = typed
            .iter()
            .map(|t| json!({"printf": "%t", "args": [t]}))
            .collect();
        let answers = ask_template_oracle(&questions);
        for (t, a) in typed.iter().zip(&answers) {
            let v = Value::from_typed_json(t);
            assert_eq!(json!(percent_t(&v, true)), a["text"], "{t}");
        }
    }
}
