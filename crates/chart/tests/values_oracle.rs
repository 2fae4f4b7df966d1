//! Values and dependency processing against Helm's own code, asked through
//! `scripts/tmpl-oracle` (its `chart` and `merge_user_values` questions): Helm loads each
//! chart below from the same files, then coalesces, merges, processes dependencies or
//! builds the values templates get, and the answers (every value typed: float, int,
//! string, nil...) must equal what slipway does.
//!
//! The charts are built here from file maps. `Chart.yaml` is written as JSON (which YAML
//! reads the same) so this test can read it without a chart loader; values files are read
//! with `slipway_chart::yaml::load_values`, as Helm's loader reads them.

use std::collections::BTreeMap;
use std::ffi::OsStr;

use serde_json::{Value as Json, json};
use slipway_chart::deps::{self, DepsError};
use slipway_chart::model::{Chart, Dependency, Maintainer, Metadata};
use slipway_chart::values::{self, ReleaseOptions, SetKind};
use slipway_template::Value;
use slipway_testkit::{Helm, ask_template_oracle};

// ---------------------------------------------------------------------------------------
// Charts from files.

/// A chart's files, by path inside the root chart.
type Files = Vec<(String, String)>;

/// `Chart.yaml` (as JSON) for chart `name` at `version` with these dependencies.
fn chart_yaml(name: &str, version: &str, dependencies: Json) -> String {
    json!({"apiVersion": "v2", "name": name, "version": version, "dependencies": dependencies})
        .to_string()
}

/// A file map from (path, text) pairs.
fn files(pairs: &[(&str, &str)]) -> Files {
    pairs
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

/// Subchart folder `dir` with its `Chart.yaml` and values, under `charts/` of `prefix`.
fn sub(prefix: &str, dir: &str, chart: String, values: &str) -> Files {
    let mut out = vec![(format!("{prefix}charts/{dir}/Chart.yaml"), chart)];
    if !values.is_empty() {
        out.push((
            format!("{prefix}charts/{dir}/values.yaml"),
            values.to_string(),
        ));
    }
    out
}

fn load(files: &Files) -> Chart {
    load_at(files, "", &[])
}

fn string(v: &Value, key: &str) -> String {
    match v {
        Value::Map(m) => m
            .borrow()
            .get(key)
            .and_then(|x| x.as_str().map(str::to_string))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    match v {
        Value::Map(m) => match m.borrow().get(key) {
            Some(Value::List(items)) => items
                .iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect(),
            _ => vec![],
        },
        _ => vec![],
    }
}

fn list(v: &Value, key: &str) -> Vec<Value> {
    match v {
        Value::Map(m) => match m.borrow().get(key) {
            Some(Value::List(items)) => items.to_vec(),
            _ => vec![],
        },
        _ => vec![],
    }
}

/// Reads the chart at `prefix` (`""` or `charts/x/...`) as Helm's loader would, for the
/// fields these tests use.
fn load_at(files: &Files, prefix: &str, parents: &[String]) -> Chart {
    let text = |name: &str| {
        files
            .iter()
            .find(|(p, _)| *p == format!("{prefix}{name}"))
            .map(|(_, t)| t.clone())
    };
    let doc = slipway_chart::yaml::unmarshal(&text("Chart.yaml").expect("Chart.yaml")).unwrap();
    let dependencies = list(&doc, "dependencies")
        .iter()
        .map(|d| Dependency {
            name: string(d, "name"),
            version: string(d, "version"),
            repository: string(d, "repository"),
            condition: string(d, "condition"),
            tags: strings(d, "tags"),
            enabled: false,
            import_values: list(d, "import-values"),
            alias: string(d, "alias"),
        })
        .collect();
    let maintainers = list(&doc, "maintainers")
        .iter()
        .map(|m| Maintainer {
            name: string(m, "name"),
            email: string(m, "email"),
            url: string(m, "url"),
        })
        .collect();
    let annotations = match &doc {
        Value::Map(m) => match m.borrow().get("annotations") {
            Some(Value::Map(a)) => a
                .borrow()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect(),
            _ => BTreeMap::new(),
        },
        _ => BTreeMap::new(),
    };
    let metadata = Metadata {
        name: string(&doc, "name"),
        home: string(&doc, "home"),
        sources: strings(&doc, "sources"),
        version: string(&doc, "version"),
        description: string(&doc, "description"),
        keywords: strings(&doc, "keywords"),
        maintainers,
        icon: string(&doc, "icon"),
        api_version: string(&doc, "apiVersion"),
        condition: string(&doc, "condition"),
        tags: string(&doc, "tags"),
        app_version: string(&doc, "appVersion"),
        deprecated: matches!(&doc, Value::Map(m) if matches!(m.borrow().get("deprecated"), Some(Value::Bool(true)))),
        annotations,
        kube_version: string(&doc, "kubeVersion"),
        dependencies,
        chart_type: string(&doc, "type"),
    };
    let values = text("values.yaml")
        .map(|t| slipway_chart::yaml::load_values(&t).unwrap())
        .unwrap_or(Value::Nil);
    let mut below = parents.to_vec();
    below.push(metadata.name.clone());
    let mut dirs: Vec<String> = files
        .iter()
        .filter_map(|(p, _)| p.strip_prefix(&format!("{prefix}charts/"))?.split_once('/'))
        .map(|(dir, _)| dir.to_string())
        .collect();
    dirs.sort();
    dirs.dedup();
    let dependencies = dirs
        .iter()
        .map(|d| load_at(files, &format!("{prefix}charts/{d}/"), &below))
        .collect();
    Chart {
        metadata,
        values,
        dependencies,
        parents: parents.to_vec(),
        ..Chart::default()
    }
}

// ---------------------------------------------------------------------------------------
// Comparing with the oracle.

/// A value read from YAML as Helm reads a values file.
fn yaml(text: &str) -> Value {
    slipway_chart::yaml::load_values(text).unwrap()
}

/// A value from its typed form (for ints, which only `--set` makes).
fn typed(json: Json) -> Value {
    Value::from_typed_json(&json)
}

/// A typed answer, written the way `Value::to_typed_json` writes it.
fn normalized(answer: &Json) -> Json {
    Value::from_typed_json(answer).to_typed_json()
}

fn tree(chart: &Chart) -> Json {
    with_children(
        json!({
            "name": chart.metadata.name,
            "path": chart.full_path(),
            "values": chart.values.to_typed_json(),
            "metadata": values::metadata_as_map(chart).to_typed_json(),
        }),
        chart.dependencies.iter().map(tree).collect(),
    )
}

fn normalized_tree(answer: &Json) -> Json {
    with_children(
        json!({
            "name": answer["name"],
            "path": answer["path"],
            "values": normalized(&answer["values"]),
            "metadata": normalized(&answer["metadata"]),
        }),
        answer["charts"]
            .as_array()
            .unwrap()
            .iter()
            .map(normalized_tree)
            .collect(),
    )
}

/// Adds the subcharts to a chart's tree. A chart that lists no dependencies keeps its
/// subcharts in the order Helm's loader found them, which is left to chance (a Go map's):
/// those are compared sorted by path.
fn with_children(mut node: Json, mut children: Vec<Json>) -> Json {
    let lists_none = node["metadata"]["map"]["Dependencies"]["list"]
        .as_array()
        .is_none_or(Vec::is_empty);
    if lists_none {
        children.sort_by_key(|c| c["path"].as_str().unwrap_or_default().to_string());
    }
    node["charts"] = Json::Array(children);
    node
}

struct Case {
    name: &'static str,
    files: Files,
    user: Value,
    /// `coalesce`, `merge`, `process` or `render`.
    what: &'static str,
}

fn case(name: &'static str, what: &'static str, files: Files, user: Value) -> Case {
    Case {
        name,
        files,
        user,
        what,
    }
}

fn release() -> ReleaseOptions {
    ReleaseOptions {
        name: "rel".into(),
        namespace: "ns".into(),
        revision: 1,
        is_install: true,
        is_upgrade: false,
    }
}

/// What slipway does for a case, in the oracle's answer shape.
fn ours(c: &Case) -> Json {
    let mut chart = load(&c.files);
    match c.what {
        "coalesce" | "merge" => {
            let got = if c.what == "coalesce" {
                values::coalesce_values(&chart, &c.user)
            } else {
                values::merge_values(&chart, &c.user)
            };
            match got {
                Ok(v) => json!({"values": v.to_typed_json()}),
                Err(e) => json!({"error": e.message()}),
            }
        }
        _ => {
            match deps::process_dependencies(&mut chart, &c.user) {
                Ok(()) => {}
                Err(e @ DepsError::Missing(_)) => {
                    return json!({"error": e.to_string(), "phase": "check"});
                }
                Err(e) => return json!({"error": e.to_string(), "phase": "process"}),
            }
            let mut out = json!({"chart": tree(&chart)});
            if c.what == "render" {
                match values::to_render_values(&chart, &c.user, &release(), Value::Nil) {
                    Ok(Value::Map(top)) => {
                        top.borrow_mut().remove("Capabilities");
                        out["top"] = Value::Map(top).to_typed_json();
                    }
                    Ok(other) => panic!("not a map: {other:?}"),
                    Err(e) => return json!({"error": e.message(), "phase": "render"}),
                }
            }
            out
        }
    }
}

/// Helm's answer, in the shape `ours` gives.
fn theirs(answer: &Json) -> Json {
    if let Some(error) = answer.get("error") {
        let phase = answer.get("phase").and_then(Json::as_str);
        return match phase {
            None => json!({"error": error}),
            Some("process") => json!({
                "error": format!("chart dependencies processing failed: {}", error.as_str().unwrap()),
                "phase": "process",
            }),
            Some(p) => json!({"error": error, "phase": p}),
        };
    }
    if let Some(v) = answer.get("values") {
        return json!({"values": normalized(v)});
    }
    let mut out = json!({"chart": normalized_tree(&answer["chart"])});
    if let Some(top) = answer.get("top") {
        out["top"] = normalized(top);
    }
    out
}

/// User values' ints come from `--set`, which makes Go int64s: the typed form says so.
fn int64s(typed: Json) -> Json {
    match typed {
        Json::Object(entries) => Json::Object(
            entries
                .into_iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("int", n @ Json::Number(_)) => ("int64".to_string(), n),
                    (_, v) => (k, int64s(v)),
                })
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.into_iter().map(int64s).collect()),
        other => other,
    }
}

fn check(cases: &[Case]) {
    let questions: Vec<Json> = cases
        .iter()
        .map(|c| {
            json!({
                "chart": c.files.iter().cloned().collect::<BTreeMap<_, _>>(),
                "do": c.what,
                "user": int64s(c.user.to_typed_json()),
                "release": {"name": "rel", "namespace": "ns", "revision": 1, "is_install": true, "is_upgrade": false},
            })
        })
        .collect();
    let answers = ask_template_oracle(&questions);
    let mut failures = vec![];
    for (c, a) in cases.iter().zip(&answers) {
        if a.get("phase").and_then(Json::as_str) == Some("load") {
            panic!("{}: Helm cannot load the chart: {}", c.name, a["error"]);
        }
        let want = theirs(a);
        let got = ours(c);
        if want != got {
            failures.push(format!(
                "{} ({}):\n  helm:    {want}\n  slipway: {got}",
                c.name, c.what
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Helm:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Coalescing.

/// A parent with one subchart `sub` (listed in Chart.yaml without import-values).
fn parent_and_sub(parent_values: &str, sub_values: &str) -> Files {
    let mut f = files(&[
        (
            "Chart.yaml",
            &chart_yaml(
                "parent",
                "1.0.0",
                json!([{"name": "sub", "version": "1.x"}]),
            ),
        ),
        ("values.yaml", parent_values),
    ]);
    f.extend(sub(
        "",
        "sub",
        chart_yaml("sub", "1.2.3", json!([])),
        sub_values,
    ));
    f
}

#[test]
fn coalescing_matches_helm() {
    let nested = "a:\n  b: 1\n  c:\n    d: 2\n    e: [1, 2]\nlist: [1, 2]\ns: str\nnn: null\nm:\n  x: null\n  w: 1\n";
    let only = |v: &str| {
        files(&[
            ("Chart.yaml", &chart_yaml("c", "1.0.0", json!([]))),
            ("values.yaml", v),
        ])
    };
    let globals_parent = "global:\n  g1: p\n  nested:\n    a: p\n    deep:\n      x: p\n  table: {k: p}\n  scalar: p\nsub:\n  k: from-parent\n";
    let globals_sub = "global:\n  g1: s\n  g2: s\n  nested:\n    b: s\n    deep:\n      w: s\n  table: s\n  scalar: {t: s}\nk: sub\nother: 1\nnulled: 1\n";
    let three = {
        let mut f = parent_and_sub(
            "global:\n  top: {a: {b: 1}}\nsub:\n  subsub:\n    v: parent\n",
            "global:\n  mid: 1\n  top: {a: {c: 2}}\nsubsub:\n  v: sub\n  w: sub\n",
        );
        f.extend(sub(
            "charts/sub/",
            "subsub",
            chart_yaml("subsub", "0.1.0", json!([])),
            "global:\n  low: 1\n  top: {a: {d: 3}}\nv: own\nw: own\nx: own\n",
        ));
        f
    };
    let cases = vec![
        case(
            "defaults only",
            "coalesce",
            only(nested),
            Value::empty_map(),
        ),
        case(
            "nested user values over defaults",
            "coalesce",
            only(nested),
            yaml("a:\n  c:\n    f: 3\n    e: [9]\nlist: [3]\nnew: {k: v}\n"),
        ),
        case(
            "null deletes a default",
            "coalesce",
            only(nested),
            yaml("a:\n  b: null\n  c: {d: null}\ns: null\nm: {w: null}\nabsent: null\n"),
        ),
        case(
            "null deletes a default when merging too",
            "merge",
            only(nested),
            yaml("a:\n  b: null\ns: null\nabsent: null\n"),
        ),
        case(
            "a map and a non-map never replace each other",
            "coalesce",
            only(nested),
            yaml("a: 5\ns: {x: 1}\nlist: {k: 1}\nm: [1]\n"),
        ),
        case(
            "ints from --set stay ints",
            "coalesce",
            only(nested),
            typed(json!({"map": {"a": {"map": {"b": {"int64": 7}}}, "i": {"int64": -3}}})),
        ),
        case(
            "no values file",
            "coalesce",
            files(&[("Chart.yaml", &chart_yaml("c", "1.0.0", json!([])))]),
            yaml("x: 1\n"),
        ),
        case(
            "subchart defaults under the parent's",
            "coalesce",
            parent_and_sub(globals_parent, globals_sub),
            Value::empty_map(),
        ),
        case(
            "user values over both",
            "coalesce",
            parent_and_sub(globals_parent, globals_sub),
            yaml(
                "global:\n  g1: u\n  nested: {a: u, deep: {z: u}}\nsub:\n  k: u\n  nulled: null\n",
            ),
        ),
        case(
            "user values over both, merging",
            "merge",
            parent_and_sub(globals_parent, globals_sub),
            yaml("global:\n  g1: u\nsub:\n  k: u\n  nulled: null\n"),
        ),
        case(
            "global not a map in the parent",
            "coalesce",
            parent_and_sub("global: 3\n", globals_sub),
            Value::empty_map(),
        ),
        case(
            "global not a map in the user's subchart values",
            "coalesce",
            parent_and_sub(globals_parent, globals_sub),
            yaml("sub:\n  global: 3\n"),
        ),
        case(
            "a parent's global scalar does not replace a child's table",
            "coalesce",
            parent_and_sub(globals_parent, globals_sub),
            yaml("sub:\n  global:\n    scalar: {u: 1}\n    g1: {u: 1}\n    nested: 1\n"),
        ),
        case(
            "subchart values not a map",
            "coalesce",
            parent_and_sub("", "k: 1\n"),
            yaml("sub: 3\n"),
        ),
        case(
            "subchart values an int from --set",
            "coalesce",
            parent_and_sub("", "k: 1\n"),
            typed(json!({"map": {"sub": {"int64": 3}}})),
        ),
        case(
            "subchart values a list",
            "coalesce",
            parent_and_sub("", "k: 1\n"),
            yaml("sub: [1, a]\n"),
        ),
        case(
            "subchart values a string",
            "coalesce",
            parent_and_sub("", "k: 1\n"),
            yaml("sub: text\n"),
        ),
        case(
            "subchart values null without a parent default",
            "coalesce",
            parent_and_sub("", "k: 1\n"),
            yaml("sub: null\n"),
        ),
        case(
            "subchart values null over a parent default",
            "coalesce",
            parent_and_sub("sub: {k: 2}\n", "k: 1\n"),
            yaml("sub: null\n"),
        ),
        case(
            "parent default for a subchart is a list",
            "coalesce",
            parent_and_sub("sub: [1]\n", "k: 1\n"),
            Value::empty_map(),
        ),
        case(
            "null in a parent default for a subchart",
            "coalesce",
            parent_and_sub("sub: {k: null, j: null}\n", "k: 1\nj: {x: 1}\n"),
            Value::empty_map(),
        ),
        case(
            "three levels of globals",
            "coalesce",
            three.clone(),
            Value::empty_map(),
        ),
        case(
            "three levels with user values",
            "coalesce",
            three.clone(),
            yaml("global: {top: {a: {e: 5}}, mid: u}\nsub: {subsub: {x: u}, global: {low: u}}\n"),
        ),
        case(
            "three levels merging",
            "merge",
            three,
            yaml("sub: {subsub: {x: null}}\n"),
        ),
    ];
    check(&cases);
}

// ---------------------------------------------------------------------------------------
// Dependencies.

/// A parent listing `deps` (the Chart.yaml entries) with subcharts `subs` (folder name,
/// chart name, version, values).
fn parent_with(deps: Json, parent_values: &str, subs: &[(&str, &str, &str, &str)]) -> Files {
    let mut f = files(&[
        ("Chart.yaml", &chart_yaml("parent", "1.0.0", deps)),
        ("values.yaml", parent_values),
    ]);
    for (dir, name, version, values) in subs {
        f.extend(sub("", dir, chart_yaml(name, version, json!([])), values));
    }
    f
}

#[test]
fn dependency_processing_matches_helm() {
    let ab = [
        ("a", "a", "1.0.0", "k: a\nenabled: true\n"),
        ("b", "b", "2.1.0", "k: b\n"),
    ];
    let cond = |c_a: &str, c_b: &str, parent_values: &str| {
        parent_with(
            json!([
                {"name": "a", "version": "1.0.0", "condition": c_a},
                {"name": "b", "version": "~2.1", "condition": c_b},
            ]),
            parent_values,
            &ab,
        )
    };
    let tagged = |parent_values: &str| {
        parent_with(
            json!([
                {"name": "a", "version": "1.0.0", "tags": ["front", "web"]},
                {"name": "b", "version": "2.1.0", "tags": ["back"], "condition": "b.use"},
            ]),
            parent_values,
            &ab,
        )
    };
    let aliases = parent_with(
        json!([
            {"name": "a", "version": "1.0.0", "alias": "first", "condition": "first.use"},
            {"name": "a", "version": "^1", "alias": "second"},
            {"name": "b", "version": "2.1.0"},
        ]),
        "first:\n  k: first\nsecond:\n  k: second\n",
        &ab,
    );
    let imports = parent_with(
        json!([
            {"name": "a", "version": "1.0.0", "import-values": [
                "data",
                "absent",
                {"child": "table", "parent": "into"},
                {"child": "table.inner", "parent": "deep.er.place"},
                {"child": "table", "parent": "."},
                {"child": "missing", "parent": "x"},
                {"parent": "nochild"},
                7,
            ]},
            {"name": "b", "version": "2.1.0", "alias": "bee", "import-values": ["data"]},
        ]),
        "own: parent\ndeep:\n  er:\n    place:\n      mine: parent\ninto:\n  t1: parent\n",
        &[
            (
                "a",
                "a",
                "1.0.0",
                "exports:\n  data:\n    own: child\n    fromA: 1\n    shared: a\ntable:\n  t1: child\n  t2: child\n  inner: {i: 1}\n  nn: null\n",
            ),
            (
                "b",
                "b",
                "2.1.0",
                "exports:\n  data:\n    shared: b\n    fromB: true\n",
            ),
        ],
    );
    // parent -> mid (as `alias`) -> low (twice: as itself and as low2) -> leaf.
    let nested = |alias: &str| {
        let mut f = parent_with(
            json!([{"name": "mid", "version": "1.0.0", "alias": alias, "import-values": ["mid"]}]),
            &format!(
                "{}:\n  low2:\n    use: false\n",
                if alias.is_empty() { "mid" } else { alias }
            ),
            &[],
        );
        f.extend(sub(
            "",
            "mid",
            chart_yaml(
                "mid",
                "1.0.0",
                json!([
                    {"name": "low", "version": "1.0.0", "condition": "low.use", "import-values": [{"child": "out", "parent": "exports.mid.fromLow"}]},
                    {"name": "low", "version": "1.0.0", "alias": "low2", "condition": "low2.use"},
                ]),
            ),
            "exports:\n  mid:\n    own: mid\nlow:\n  use: true\n",
        ));
        f.extend(sub(
            "charts/mid/",
            "low",
            chart_yaml(
                "low",
                "1.0.0",
                json!([{"name": "leaf", "version": "1.0.0", "condition": "leaf.use"}]),
            ),
            "out:\n  deep: low\nuse: false\nleaf: {use: true}\n",
        ));
        f.extend(sub(
            "charts/mid/charts/low/",
            "leaf",
            chart_yaml("leaf", "1.0.0", json!([])),
            "use: false\nk: leaf\n",
        ));
        f
    };
    // Helm keeps the subcharts no entry takes in the order its loader found them, which
    // is left to chance: one at a time here.
    let mismatched = parent_with(
        json!([
            {"name": "a", "version": "2.0.0", "alias": "renamed"},
            {"name": "b", "version": "2.1.0", "alias": "bb"},
        ]),
        "",
        &ab,
    );
    let unversioned = parent_with(
        json!([
            {"name": "a", "version": "1.0.0", "alias": "aa"},
            {"name": "b", "alias": "bb", "condition": "bb.skip"},
        ]),
        "bb: {skip: false}
b: {skip: false}
",
        &ab,
    );
    let cases = vec![
        case(
            "conditions true",
            "process",
            cond("a.enabled", "b.enabled", "b:\n  enabled: true\n"),
            Value::empty_map(),
        ),
        case(
            "conditions false",
            "process",
            cond(
                "a.enabled",
                "b.enabled",
                "a:\n  enabled: false\nb:\n  enabled: false\n",
            ),
            Value::empty_map(),
        ),
        case(
            "conditions missing",
            "process",
            cond("nope.x", "b.nope", ""),
            Value::empty_map(),
        ),
        case(
            "condition not a bool, then a bool",
            "process",
            cond(
                "a.k,a.enabled",
                "b.str, b.skip",
                "b:\n  str: 'yes'\n  skip: false\n",
            ),
            Value::empty_map(),
        ),
        case(
            "condition with a space after the comma",
            "process",
            cond("nope,a.x", "b.x, b.z", "a: {x: false}\nb: {z: false}\n"),
            Value::empty_map(),
        ),
        case(
            "condition on a table, or null",
            "process",
            cond("a", "b.nn", "b: {nn: null}\n"),
            Value::empty_map(),
        ),
        case(
            "conditions from the user",
            "process",
            cond("a.enabled", "b.enabled", ""),
            yaml("a: {enabled: false}\nb: {enabled: true}\n"),
        ),
        case(
            "condition in the parent's own values",
            "process",
            cond("flags.a", "flags.b", "flags: {a: false, b: true}\n"),
            Value::empty_map(),
        ),
        case("tags none", "process", tagged(""), Value::empty_map()),
        case(
            "tags false",
            "process",
            tagged("tags: {front: false, back: false}\n"),
            Value::empty_map(),
        ),
        case(
            "tags mixed",
            "process",
            tagged("tags: {front: false, web: true}\n"),
            Value::empty_map(),
        ),
        case(
            "tags not bools",
            "process",
            tagged("tags: {front: 'no', web: 0}\n"),
            Value::empty_map(),
        ),
        case(
            "tags not a table",
            "process",
            tagged("tags: [front]\n"),
            Value::empty_map(),
        ),
        case(
            "a condition beats tags",
            "process",
            tagged("tags: {back: false}\nb: {use: true}\n"),
            Value::empty_map(),
        ),
        case(
            "a condition beats tags, the other way",
            "process",
            tagged("tags: {back: true}\n"),
            yaml("b: {use: false}\n"),
        ),
        case("aliases", "process", aliases.clone(), Value::empty_map()),
        case(
            "an alias disabled",
            "process",
            aliases.clone(),
            yaml("first: {use: false}\n"),
        ),
        case(
            "aliases rendered",
            "render",
            aliases,
            yaml("second: {k: user}\nglobal: {g: 1}\n"),
        ),
        case(
            "import-values",
            "process",
            imports.clone(),
            Value::empty_map(),
        ),
        case(
            "import-values rendered",
            "render",
            imports,
            yaml("own: user\nbee: {exports: {data: {fromB: false}}}\n"),
        ),
        case(
            "nested processing",
            "process",
            nested(""),
            Value::empty_map(),
        ),
        case(
            "nested processing rendered",
            "render",
            nested(""),
            yaml("mid: {low: {use: true, leaf: {use: false}}, low2: {use: true}}\n"),
        ),
        case(
            "nested processing under an alias",
            "render",
            nested("middle"),
            yaml("middle: {low2: {use: true, leaf: {use: false}}}\n"),
        ),
        case(
            "a version out of range",
            "process",
            mismatched,
            Value::empty_map(),
        ),
        case("no version", "render", unversioned, Value::empty_map()),
        case(
            "a missing dependency",
            "process",
            parent_with(
                json!([{"name": "a", "version": "1.0.0"}, {"name": "zz", "version": "1.0.0"}, {"name": "yy", "version": "1.0.0"}]),
                "",
                &ab,
            ),
            Value::empty_map(),
        ),
        case(
            "a type mismatch",
            "process",
            cond("a.enabled", "b.enabled", ""),
            yaml("a: 1\n"),
        ),
        case(
            "no dependencies listed",
            "render",
            parent_with(json!([]), "x: 1\n", &ab),
            yaml("a: {k: u}\n"),
        ),
    ];
    check(&cases);
}

// ---------------------------------------------------------------------------------------
// What templates get.

#[test]
fn render_values_match_helm() {
    let chart = json!({
        "apiVersion": "v2",
        "name": "meta",
        "version": "0.3.0-rc.1+build",
        "appVersion": "1.16",
        "description": "a chart",
        "home": "https://example.com",
        "icon": "https://example.com/icon.png",
        "sources": ["https://example.com/src"],
        "keywords": ["one", "two"],
        "maintainers": [{"name": "Ann", "email": "ann@example.com", "url": "https://ann.example.com"}, {"name": "Bob"}],
        "annotations": {"category": "demo", "x/y": "z"},
        "kubeVersion": ">=1.20.0-0",
        "deprecated": true,
        "type": "application",
        "dependencies": [{"name": "a", "version": "1.0.0", "repository": "file://../a", "tags": ["t"], "condition": "a.use", "import-values": ["e"]}],
    });
    let mut f = files(&[
        ("Chart.yaml", &chart.to_string()),
        ("values.yaml", "replicas: 2\nimage: {tag: latest}\n"),
    ]);
    f.extend(sub(
        "",
        "a",
        chart_yaml("a", "1.0.0", json!([])),
        "exports: {e: {fromA: 1.5}}\nuse: true\n",
    ));
    check(&[
        case("metadata", "render", f.clone(), Value::empty_map()),
        case(
            "user values",
            "render",
            f,
            typed(
                json!({"map": {"replicas": {"int64": 3}, "image": {"map": {"tag": {"nil": true}}}}}),
            ),
        ),
    ]);
}

// ---------------------------------------------------------------------------------------
// The user's values.

#[test]
fn user_values_match_helm() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let one = write(
        "one.yaml",
        "a: 1\nm:\n  x: 1\n  w: [1, 2]\n  keep: one\ns: one\n---\ndoc2: true\nm: {x: 2}\n",
    );
    let two = write(
        "two.yaml",
        "m:\n  w: [3]\n  z: null\ns: {now: map}\nb: two\n",
    );
    let three = write("three.yaml", "s: scalar-again\nm: 7\n");
    let bad = write("bad.yaml", "a: [1\n");
    let content = write("content.txt", "line one\nline two\n");
    let set_file = format!("f.text={content},f.missing={content}.nope");
    let set_file_ok = format!("f.text={content}");
    let text = |p: &String| std::fs::read_to_string(p).unwrap();
    type Sets<'a> = Vec<(&'static str, &'a str)>;
    let cases: Vec<(Vec<&String>, Sets)> = vec![
        (vec![&one], vec![]),
        (vec![&one, &two], vec![]),
        (vec![&two, &one], vec![]),
        (vec![&one, &two, &three], vec![]),
        (vec![&one, &bad], vec![]),
        (
            vec![],
            vec![("json", r#"{"a": {"b": 1, "c": [1, 2.5]}, "n": null}"#)],
        ),
        (vec![&one], vec![("json", r#"  {"m": {"x": "json"}}"#)]),
        (vec![&one], vec![("json", r#"{"m": 1"#)]),
        (vec![&one], vec![("json", "null")]),
        (
            vec![&one, &two],
            vec![("set", "m.x=set,a=2,m.w[1]=9,list={a,b}")],
        ),
        (vec![&one], vec![("set", "m=null"), ("set", "m.keep=again")]),
        (vec![&one], vec![("set", "s=null,a.b=1")]),
        (
            vec![&one],
            vec![
                ("literal", "m.x=lit,eral"),
                ("file", &set_file_ok),
                ("string", "m.x=007,s=true"),
                ("set", "m.x=1,s=true,t=007"),
                ("json", r#"m.x={"from":"json"}"#),
                ("json", r#"{"m": {"x": "json object", "j": 1.5}}"#),
            ],
        ),
        (
            vec![&two],
            vec![("set", "a=1"), ("set", "a=2,b=3"), ("string", "a=3")],
        ),
        (vec![], vec![("set", "a.b.c")]),
        (vec![], vec![("string", "a[x]=1")]),
        (vec![], vec![("json", "a={bad")]),
        (vec![], vec![("file", &set_file)]),
        (vec![], vec![("literal", "noequals")]),
    ];
    let questions: Vec<Json> = cases
        .iter()
        .map(|(fs, sets)| {
            json!({"merge_user_values": {"files": fs, "sets": sets.iter().map(|(k, l)| [k, l]).collect::<Vec<_>>()}})
        })
        .collect();
    let answers = ask_template_oracle(&questions);
    let mut failures = vec![];
    for ((fs, sets), answer) in cases.iter().zip(&answers) {
        let inputs: Vec<(String, String)> = fs.iter().map(|p| ((*p).clone(), text(p))).collect();
        let sets: Vec<(SetKind, String)> =
            sets.iter().map(|(k, l)| (kind(k), l.to_string())).collect();
        let got = match values::merge_user_values(&inputs, &sets) {
            Ok(v) => json!({"values": v.to_typed_json()}),
            Err(e) => json!({"error": e.message()}),
        };
        let want = match answer.get("values") {
            Some(v) => json!({"values": normalized(v)}),
            None => json!({"error": answer["error"]}),
        };
        if got != want {
            failures.push(format!(
                "{fs:?} {sets:?}:\n  helm:    {want}\n  slipway: {got}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "differ from Helm:\n{}",
        failures.join("\n")
    );
}

fn kind(k: &str) -> SetKind {
    match k {
        "json" => SetKind::Json,
        "set" => SetKind::Set,
        "string" => SetKind::String,
        "file" => SetKind::File,
        "literal" => SetKind::Literal,
        _ => panic!("kind {k}"),
    }
}

// ---------------------------------------------------------------------------------------
// Errors, as the `helm template` command prints them.

/// Runs `helm template rel DIR ARGS...` and returns its `Error: ` line.
fn helm_template_error(dir: &std::path::Path, args: &[&str]) -> String {
    let chart = dir.join("chart");
    let mut full = vec![OsStr::new("template"), OsStr::new("rel"), chart.as_os_str()];
    full.extend(args.iter().map(OsStr::new));
    let out = Helm::new().run(&full);
    assert!(!out.ok(), "helm template succeeded");
    out.stderr
        .lines()
        .find_map(|l| l.strip_prefix("Error: "))
        .unwrap_or_else(|| panic!("no error line in {}", out.stderr))
        .to_string()
}

#[test]
fn dependency_errors_match_helm_template() {
    let dir = tempfile::tempdir().unwrap();
    let put = |files: &Files| {
        let root = dir.path().join("chart");
        let _ = std::fs::remove_dir_all(&root);
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    };
    let ab = [("a", "a", "1.0.0", "k: a\n"), ("b", "b", "2.1.0", "")];

    let missing = parent_with(
        json!([
            {"name": "a", "version": "1.0.0"},
            {"name": "zz", "version": "1.0.0"},
            {"name": "b", "version": "9.9.9", "alias": "bb"},
            {"name": "yy"},
        ]),
        "",
        &ab,
    );
    put(&missing);
    let mut chart = load(&missing);
    let err = deps::process_dependencies(&mut chart, &Value::empty_map()).unwrap_err();
    assert!(matches!(err, DepsError::Missing(_)));
    assert_eq!(err.to_string(), helm_template_error(dir.path(), &[]));

    let listed = parent_with(json!([{"name": "a", "version": "1.0.0"}]), "", &ab);
    put(&listed);
    for set in ["a=3", "a=null", "a=text", "a={1,2}"] {
        let user =
            values::merge_user_values::<&str, &str>(&[], &[(SetKind::Set, set.into())]).unwrap();
        let mut chart = load(&listed);
        let err = deps::process_dependencies(&mut chart, &user).unwrap_err();
        assert_eq!(
            err.to_string(),
            helm_template_error(dir.path(), &["--set", set]),
            "--set {set}"
        );
    }
}
