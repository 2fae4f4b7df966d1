//! The Go toolchain's own text/template test tables, run by Go and by this crate on the
//! same data, compared row by row.
//!
//! `scripts/tmpl-oracle` reads the tables from the Go sources at run time (exec_test.go's
//! `execTests` and `cmpTests`, parse/parse_test.go's `parseTests`, `errorTests` and
//! `isEmptyTests`), renders each input with text/template on [`data`] and the oracle's
//! "test" function table, and answers with Go's output or error. Here each input is parsed
//! and run with [`Template`] and the same functions ([`test_funcs`]); the outputs must be
//! equal, or both must fail, with Go's error text when ours is a parse or exec error.

mod common;

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Value as Json, json};
use slipway_template::{Arity, Error, Funcs, MissingKey, Template, Value, fmt};

/// Rows whose disagreement with Go is accepted: (table, row name, why). Every entry must
/// name a row of the tables, and must say why slipway differs there.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "exec",
        "ideal complex",
        "complex number constants are refused by name (Error::Unsupported): no chart or werf.yaml uses them",
    ),
    (
        "exec",
        "if 1.5i",
        "complex number constants are refused by name (Error::Unsupported): no chart or werf.yaml uses them",
    ),
    (
        "exec",
        "printf complex",
        "complex number constants are refused by name (Error::Unsupported): no chart or werf.yaml uses them",
    ),
    (
        "exec",
        "printf lots",
        "complex number constants are refused by name (Error::Unsupported): no chart or werf.yaml uses them",
    ),
    (
        "exec",
        "with 1.5i",
        "complex number constants are refused by name (Error::Unsupported): no chart or werf.yaml uses them",
    ),
    (
        "exec",
        "bug16j",
        "complex number constants are refused by name (Error::Unsupported): no chart or werf.yaml uses them",
    ),
    (
        "cmp",
        "eq 1+2i 1+2i",
        "complex number constants are refused by name (Error::Unsupported): no chart or werf.yaml uses them",
    ),
    (
        "cmp",
        "eq 1+2i 1+3i",
        "complex number constants are refused by name (Error::Unsupported): no chart or werf.yaml uses them",
    ),
    (
        "cmp",
        "ne 1+2i 1+2i",
        "complex number constants are refused by name (Error::Unsupported): no chart or werf.yaml uses them",
    ),
    (
        "cmp",
        "ne 1+2i 1+3i",
        "complex number constants are refused by name (Error::Unsupported): no chart or werf.yaml uses them",
    ),
    (
        "exec",
        "out of range",
        "Go's JSON decoder leaves spare capacity in the slices it builds and `slice` checks indexes against that capacity; slipway's lists have none, so the first index past the length is the one named",
    ),
    (
        "exec",
        "len(s) < indexes < cap(s)",
        "Go's JSON decoder leaves spare capacity in the slices it builds and `slice` checks indexes against that capacity; slipway's lists have none, so the first index past the length is the one named",
    ),
    (
        "exec",
        "indexes > cap(s)",
        "Go's JSON decoder leaves spare capacity in the slices it builds and `slice` checks indexes against that capacity; slipway's lists have none, so the first index past the length is the one named",
    ),
    (
        "exec",
        "bug17c",
        "Go's message is a reflection panic text (`call of reflect.Value.Type on zero Value`) from a nil inside an interface; slipway says `len of nil pointer`",
    ),
];

/// The document every row runs on. The tables were written for a Go struct with fields and
/// methods; this map has most of those fields' names with JSON-able values, plus a few
/// numbers, nested maps and mixed lists, so that many rows reach real values.
fn data() -> Json {
    serde_json::from_str(
        r#"{
        "True": true, "I": 17, "U16": 16, "X": "x", "S": "xyz", "FloatZero": 0.0, "F": 1.5,
        "U": {"V": "v"}, "V0": {"j": 6666}, "V1": {"j": 7777}, "V2": null,
        "SI": [3, 4, 5], "SICap": [0, 0, 0, 0, 0], "SIEmpty": [], "SB": [true, false],
        "AI": [3, 4, 5], "PAI": [3, 4, 5],
        "MSI": {"one": 1, "two": 2, "three": 3}, "MSIone": {"one": 1}, "MSIEmpty": {},
        "MXI": {"one": 1}, "MII": {"1": 1},
        "SMSI": [{"one": 1, "two": 2}, {"eleven": 11, "twelve": 12}],
        "Empty0": null, "Empty1": 3, "Empty2": "empty2", "Empty3": [7, 8],
        "Empty4": {"V": "UinEmpty"},
        "PI": 23, "PS": "a string", "PSI": [21, 22, 23], "NIL": null,
        "Str": "foozle", "Err": "erroozle",
        "Uthree": 3, "Ufour": 4, "NegOne": -1, "Three": 3, "Ptr": 0, "NilPtr": null,
        "Map": null, "NonNilMap": {}, "Iface1": "", "NilIface": null,
        "Big": 1e21, "Small": 1e-7, "Tenth": 0.1, "Neg0": -0.0, "Huge": 9223372036854775807,
        "Nested": {"a": {"b": {"c": "deep", "l": [1, [2, 3], {"k": "v"}]}}},
        "Strs": ["a", "b", "c"],
        "Mixed": [1, "one", 1.5, true, null, {"x": 1}, [2]]
    }"#,
    )
    .expect("the data is JSON")
}

/// The oracle's "test" function table (documented in scripts/tmpl-oracle/main.go), on top
/// of Go's builtins.
fn test_funcs() -> Funcs {
    fn one(v: &Value) -> String {
        fmt::sprint(std::slice::from_ref(v))
    }
    let mut f = Funcs::builtins();
    f.add_plain("typeOf", Arity::Exact(1), |a| {
        Ok(Value::str(a[0].type_name()))
    });
    f.add_plain("zeroArgs", Arity::Exact(0), |_| Ok(Value::str("zeroArgs")));
    f.add_plain("oneArg", Arity::Exact(1), |a| {
        Ok(Value::from(format!("oneArg={}", one(&a[0]))))
    });
    f.add_plain("twoArgs", Arity::Exact(2), |a| {
        Ok(Value::from(format!("twoArgs={}{}", one(&a[0]), one(&a[1]))))
    });
    f.add_plain("dddArg", Arity::AtLeast(1), |a| {
        Ok(Value::from(format!(
            "dddArg={}|{}",
            one(&a[0]),
            fmt::sprint(&a[1..])
        )))
    });
    f.add_plain("echo", Arity::Exact(1), |a| Ok(a[0].clone()));
    f.add_plain("returnInt", Arity::Exact(0), |_| Ok(Value::Int(7)));
    f.add_plain("add", Arity::AtLeast(0), |a| {
        let mut sum = 0i64;
        for v in a {
            match v {
                Value::Int(i) => sum = sum.wrapping_add(*i),
                other => return Err(format!("add: want int, got {}", other.type_name())),
            }
        }
        Ok(Value::Int(sum))
    });
    f.add_plain("makemap", Arity::AtLeast(0), |a| {
        if a.len() % 2 != 0 {
            return Err("makemap: odd number of arguments".into());
        }
        let mut m = BTreeMap::new();
        for pair in a.chunks(2) {
            let Some(k) = pair[0].as_str() else {
                return Err(format!("makemap: key of type {}", pair[0].type_name()));
            };
            m.insert(k.to_string(), pair[1].clone());
        }
        Ok(Value::map(m))
    });
    f.add_plain("mapOfThree", Arity::Exact(0), |_| {
        Ok(Value::map(BTreeMap::from([(
            "three".to_string(),
            Value::Int(3),
        )])))
    });
    f.add_plain("valueString", Arity::Exact(1), |_| {
        Ok(Value::str("value is ignored"))
    });
    f.add_plain("die", Arity::Exact(0), |_| Err("die".into()));
    f
}

/// What one side did with one input.
#[derive(Debug, PartialEq)]
enum Outcome {
    Text(String),
    /// Failed in this phase ("parse" or "exec") with this message.
    Failed(&'static str, String),
    /// Refused as unsupported: counts as failing, with no message to compare.
    Unsupported(String),
    /// Our code panicked.
    Panicked(String),
}

fn go_outcome(row: &Json) -> Outcome {
    if let Some(err) = row["error"].as_str() {
        let phase = match row["phase"].as_str() {
            Some("parse") => "parse",
            _ => "exec",
        };
        return Outcome::Failed(phase, err.to_string());
    }
    Outcome::Text(
        row["output"]
            .as_str()
            .unwrap_or_else(|| panic!("a row with neither output nor error: {row}"))
            .to_string(),
    )
}

/// Parses `input` as the template `name` and runs it on `data`, as the oracle does.
fn rust_outcome(
    name: &str,
    input: &str,
    data: &Value,
    configure: &dyn Fn(&mut Template),
) -> Outcome {
    let run = catch_unwind(AssertUnwindSafe(|| {
        let mut t = Template::new(test_funcs());
        configure(&mut t);
        t.parse(name, input)?;
        t.execute(name, data)
    }));
    match run {
        Ok(Ok(text)) => Outcome::Text(text),
        Ok(Err(Error::Parse(m))) => Outcome::Failed("parse", m),
        Ok(Err(Error::Exec(m))) => Outcome::Failed("exec", m),
        Ok(Err(e @ Error::Unsupported { .. })) => Outcome::Unsupported(e.to_string()),
        Err(payload) => Outcome::Panicked(common::panic_text(payload)),
    }
}

fn agree(go: &Outcome, ours: &Outcome) -> bool {
    match (go, ours) {
        (Outcome::Failed(..), Outcome::Unsupported(_)) => true,
        (go, ours) => go == ours,
    }
}

#[test]
fn go_text_template_tables_agree_with_go() {
    let answers =
        slipway_testkit::ask_template_oracle(&[json!({"go_tests": true, "data": data()})]);
    let answer = &answers[0];
    assert!(
        answer.get("error").is_none(),
        "the oracle could not read Go's tables: {answer}"
    );
    let rows = answer["tests"].as_array().expect("tests").clone();

    // The tables are there and big: a harness that reads nothing must not pass.
    for (table, at_least) in [("exec", 250), ("cmp", 80), ("parse", 100)] {
        let n = rows.iter().filter(|r| r["table"] == table).count();
        assert!(
            n >= at_least,
            "only {n} rows of Go's {table} table were read"
        );
    }
    for (table, name, why) in ALLOWED {
        assert!(
            !why.is_empty(),
            "allow-list entry {table}/{name} gives no reason"
        );
        assert!(
            rows.iter()
                .any(|r| r["table"] == *table && r["name"] == *name),
            "allow-list entry {table}/{name} names no row of Go's tables"
        );
    }

    let report = common::on_big_stack(move || {
        let data = Value::from_json(&data());
        let mut lines = Vec::new();
        let (mut agreed, mut unsupported, mut allowed) = (0, Vec::new(), 0);
        // Allow-list names (several rows may share one) and whether any of their rows
        // still differs.
        let mut still_needed = std::collections::BTreeSet::new();
        let mut listed_agreeing = std::collections::BTreeSet::new();
        for row in &rows {
            let table = row["table"].as_str().unwrap();
            let name = row["name"].as_str().unwrap();
            let input = row["input"].as_str().unwrap();
            let go = go_outcome(row);
            let ours = rust_outcome(name, input, &data, &|_| {});
            let is_allowed = ALLOWED.iter().any(|(t, n, _)| *t == table && *n == name);
            if agree(&go, &ours) {
                agreed += 1;
                if matches!(ours, Outcome::Unsupported(_)) {
                    unsupported.push(format!("{table}/{name}"));
                }
                if is_allowed {
                    listed_agreeing.insert(format!("{table}/{name}"));
                }
            } else if is_allowed {
                allowed += 1;
                still_needed.insert(format!("{table}/{name}"));
            } else {
                lines.push(format!(
                    "[{table}] {name:?}\n    input: {input:?}\n    go:    {go:?}\n    rust:  {ours:?}"
                ));
            }
        }
        let fixed: Vec<String> = listed_agreeing.difference(&still_needed).cloned().collect();
        (rows.len(), agreed, unsupported, allowed, fixed, lines)
    });
    let (total, agreed, unsupported, allowed, fixed, lines) = report;
    println!(
        "Go's text/template tables: {total} rows, {agreed} agree ({} of them \
         refused as unsupported), {allowed} allowed to differ, {} disagree",
        unsupported.len(),
        lines.len()
    );
    if !unsupported.is_empty() {
        println!("refused as unsupported where Go fails too: {unsupported:?}");
    }
    if !fixed.is_empty() {
        println!("allow-listed rows that now agree (remove them from ALLOWED): {fixed:?}");
    }
    for line in &lines {
        println!("{line}");
    }
    assert!(
        lines.is_empty(),
        "{} rows of Go's text/template tables disagree with Go (listed above)",
        lines.len()
    );
}

/// An input, its `missingkey` option, its delimiters, and Go's answer.
type OptionCase = (String, Option<String>, Option<(String, String)>, Json);

/// A few templates under each `missingkey` option and under other delimiters, which the
/// tables do not cover, compared with Go the same way.
#[test]
fn options_agree_with_go() {
    let inputs = [
        "{{.X}} {{.nope}} {{.U.V}} {{.U.nope}}",
        "{{.Nested.a.b.c}}-{{.Nested.a.x.c}}",
        "{{.Map.k}}",
        "{{index .MSI \"nope\"}}",
        "{{with .nope}}A{{else}}B{{end}}",
        "{{range $k, $v := .MSI}}{{$k}}={{$v}};{{end}}",
        "{{.Empty0.x}}",
    ];
    let mut cases = Vec::new();
    for input in inputs {
        for mk in ["default", "zero", "error"] {
            cases.push((input.to_string(), Some(mk), None));
        }
        let swapped = input.replace("{{", "<<").replace("}}", ">>");
        cases.push((swapped, None, Some(("<<", ">>"))));
    }
    cases.push(("{{.X}}<<.X>>".into(), None, Some(("<<", ">>"))));
    cases.push(("[[.X]] {{.X}}".into(), None, Some(("[[", "]]"))));
    cases.push(("{{.X}}".into(), None, Some(("", ""))));
    let questions: Vec<Json> = cases
        .iter()
        .map(|(input, mk, delims)| {
            let mut q = json!({"template": input, "name": "opt", "data": data(), "funcs": "test"});
            if let Some(mk) = mk {
                q["missingkey"] = json!(mk);
            }
            if let Some((l, r)) = delims {
                q["delims"] = json!([l, r]);
            }
            q
        })
        .collect();
    let answers = slipway_testkit::ask_template_oracle(&questions);
    let cases: Vec<OptionCase> = cases
        .into_iter()
        .zip(answers)
        .map(|((i, m, d), a)| {
            (
                i,
                m.map(str::to_string),
                d.map(|(l, r)| (l.to_string(), r.to_string())),
                a,
            )
        })
        .collect();
    let lines = common::on_big_stack(move || {
        let data = Value::from_json(&data());
        let mut lines = Vec::new();
        for (input, mk, delims, answer) in &cases {
            let mut row = answer.clone();
            if let Some(text) = answer.get("text") {
                row["output"] = text.clone();
            }
            let go = go_outcome(&row);
            let ours = rust_outcome("opt", input, &data, &|t| {
                match mk.as_deref() {
                    Some("error") => {
                        t.missing_key(MissingKey::Error);
                    }
                    Some("zero") => {
                        t.missing_key(MissingKey::Zero);
                    }
                    _ => {}
                }
                if let Some((l, r)) = delims {
                    t.delims(l, r);
                }
            });
            if !agree(&go, &ours) {
                lines.push(format!(
                    "{input:?} missingkey={mk:?} delims={delims:?}\n    go:    {go:?}\n    rust:  {ours:?}"
                ));
            }
        }
        lines
    });
    for line in &lines {
        println!("{line}");
    }
    assert!(lines.is_empty(), "{} cases disagree with Go", lines.len());
}
