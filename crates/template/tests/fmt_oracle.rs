//! `slipway_template::fmt` against Go's `fmt` and `strconv`, through `scripts/tmpl-oracle`:
//! a broad table of `Sprintf` verbs, flags, widths and precisions over every kind of
//! template value, Go's error notes (`%!d(MISSING)`, `%!(EXTRA ...)`, `%!d(string=x)`,
//! bad widths and indexes), `Sprint` and `Sprintln` spacing, `%v` ([`fmt::display`]),
//! `strconv.Quote` ([`fmt::quote`]) and `strconv.FormatFloat(f, 'g', -1, 64)`
//! ([`fmt::format_float`]).

mod common;

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use serde_json::{Value as Json, json};
use slipway_template::{Value, fmt};

fn map(entries: &[(&str, Value)]) -> Value {
    Value::map(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn bytes(b: &[u8]) -> Value {
    Value::Bytes(Rc::from(b))
}

/// One value of every kind, with the edge cases of each.
fn values() -> Vec<Value> {
    let ints = [
        0,
        1,
        -1,
        42,
        -42,
        65,
        255,
        0x1F600,
        0x110000,
        1234567,
        i64::MAX,
        i64::MIN,
    ];
    let floats = [
        0.0,
        -0.0,
        1.0,
        -1.5,
        0.1,
        2.5,
        1.23456,
        1.0 / 3.0,
        100000000.0,
        123456789.0,
        1e6,
        1e20,
        1e21,
        1e-4,
        1e-5,
        1e-7,
        5e-324,
        f64::MAX,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let strings = [
        "",
        "hello",
        "héllo",
        "a\"b\n\t\\",
        "😀",
        "\u{7f}\u{80}\u{fffd}",
        "`back`",
        "<&>",
    ];
    let mut out: Vec<Value> = Vec::new();
    out.extend(ints.iter().map(|i| Value::Int(*i)));
    out.extend(floats.iter().map(|f| Value::Float(*f)));
    out.extend(strings.iter().map(Value::str));
    out.extend([Value::Bool(true), Value::Bool(false), Value::Nil]);
    out.extend([bytes(b"hi"), bytes(b""), bytes(b"\x00\xff")]);
    out.extend([
        Value::list(vec![]),
        Value::list(vec![Value::Int(1), Value::str("a"), Value::Nil]),
        Value::list(vec![
            Value::list(vec![Value::Int(1), Value::Int(2)]),
            Value::list(vec![Value::Int(3)]),
        ]),
        Value::list(vec![Value::Float(1.5), Value::Bool(true), bytes(b"hi")]),
        Value::list(vec![map(&[("k", Value::str("v"))])]),
        Value::empty_map(),
        map(&[
            ("a", Value::Int(1)),
            ("b", Value::list(vec![Value::Bool(true), Value::Nil])),
        ]),
        map(&[
            ("z", map(&[("y", Value::str("x"))])),
            ("a", Value::Float(1.5)),
            ("", Value::str("")),
        ]),
    ]);
    out
}

/// `%` + each of these + each verb, on each value.
const MODIFIERS: &[&str] = &[
    "", "6", "-6", "06", "+", " ", "#", ".0", ".2", "9.3", "-9.3", "+09.2", "#.3", "# ", "+#",
];
const VERBS: &[char] = &[
    'v', 'T', 'd', 'b', 'o', 'O', 'x', 'X', 'c', 'q', 'U', 'e', 'E', 'f', 'F', 'g', 'G', 's', 't',
];

/// Formats with several arguments, Go's error notes, and the corners of each verb.
fn specials() -> Vec<(&'static str, Vec<Value>)> {
    let i = Value::Int;
    let f = Value::Float;
    let s = |t: &str| Value::str(t);
    vec![
        ("%*d", vec![i(5), i(42)]),
        ("%-*d|", vec![i(5), i(42)]),
        ("%*d|", vec![i(-5), i(42)]),
        ("%.*f", vec![i(2), f(1.23456)]),
        ("%*.*f|", vec![i(8), i(2), f(1.23456)]),
        ("%.*f", vec![i(-1), f(1.23456)]),
        ("%*d", vec![s("x"), i(42)]),
        ("%.*d", vec![s("x"), i(42)]),
        ("%*d", vec![i(1000001), i(1)]),
        ("%*d", vec![f(5.0), i(1)]),
        ("%*d", vec![]),
        ("%d %d", vec![i(1)]),
        ("%d", vec![i(1), s("x")]),
        ("%d", vec![i(1), i(2), i(3)]),
        ("", vec![i(1)]),
        ("x", vec![Value::Nil, s("y")]),
        ("%", vec![]),
        ("%!", vec![]),
        ("%z", vec![i(1)]),
        ("%z", vec![s("x")]),
        ("%%", vec![]),
        ("100%%", vec![]),
        ("%d%%", vec![i(5)]),
        ("%5%|", vec![]),
        ("%[2]d %[1]d", vec![i(1), i(2)]),
        ("%[3]d", vec![i(1), i(2)]),
        ("%[0]d", vec![i(1)]),
        ("%[1]d %d", vec![i(1), i(2)]),
        ("%[2]*[1]d|", vec![i(12), i(5)]),
        ("%[x]d", vec![i(1)]),
        ("%[1]", vec![i(1)]),
        ("%v", vec![]),
        ("%s %d %v", vec![Value::Nil, Value::Nil, Value::Nil]),
        ("%-+ #0d|", vec![i(7)]),
        ("%.0d|", vec![i(0)]),
        ("%.5d %8.5d", vec![i(42), i(-42)]),
        ("%05d %-05d|", vec![i(-42), i(42)]),
        (
            "%x % x %#x % #x %X",
            vec![s("hello"), s("hi"), s("hi"), s("hi"), s("hi")],
        ),
        ("% #X %x", vec![bytes(b"\x01\xab"), bytes(b"")]),
        (
            "%.2x %.1q %.3s %10.4v|",
            vec![s("abcdef"), s("abc"), s("héllo"), s("hello world")],
        ),
        (
            "%010s|%-010s|%010v",
            vec![s("abc"), s("abc"), Value::list(vec![i(1), i(2)])],
        ),
        (
            "%q %q %c %c %U %#U",
            vec![i(65), i(0x1F600), i(-1), i(0x110000), i(-1), i(0x1F600)],
        ),
        (
            "%#q %#q %+q %#+q",
            vec![s("back`tick"), s("plain"), s("héllo"), s("héllo\n")],
        ),
        (
            "%08.3f %+.2e %#g %#.3g",
            vec![f(-1.23456), f(12345.678), f(1.0), f(1.0)],
        ),
        (
            "%.0f %.0f %.0f %.3g %g %g",
            vec![f(2.5), f(3.5), f(-0.5), f(1234567.0), f(1e-5), f(1e-4)],
        ),
        (
            "%x %X %b %#x %.2x",
            vec![f(1.0), f(-0.5), f(1.0), f(3.0), f(1.0 / 3.0)],
        ),
        (
            "%#o %O %#b %#X %x %+x",
            vec![i(8), i(8), i(5), i(255), i(-255), i(255)],
        ),
        (
            "%t %5t|%-6t|",
            vec![i(1), Value::Bool(true), Value::Bool(false)],
        ),
        (
            "%d %s %x %q %5d|",
            vec![
                Value::list(vec![i(1), i(2), i(3)]),
                Value::list(vec![i(1), s("a")]),
                Value::list(vec![i(10), i(11)]),
                Value::list(vec![s("a"), s("b")]),
                Value::list(vec![i(1), i(2)]),
            ],
        ),
        (
            "%s %d %+v %#v",
            vec![
                map(&[("a", s("b"))]),
                map(&[("a", i(1))]),
                map(&[("a", Value::list(vec![Value::Nil]))]),
                map(&[("a", map(&[("b", f(1.0))]))]),
            ],
        ),
        (
            "%#v %#v %#v %#v %#v %#v",
            vec![
                Value::Nil,
                Value::list(vec![Value::Nil]),
                f(1e21),
                f(1.0),
                f(-0.0),
                f(f64::NAN),
            ],
        ),
        ("%6.2f|%-8s|%x", vec![f(1.23456), s("ab"), i(255)]),
        (
            "%v %v %v %v",
            vec![f(1e20), f(1e21), f(1e-6), f(123456789.0)],
        ),
        (
            "%e %E %.3e %10.2E|",
            vec![f(0.0), f(-1e-300), f(6.02214076e23), f(f64::INFINITY)],
        ),
        (
            "%06.2f|%-8.3f|%+f|% f",
            vec![
                f(f64::NAN),
                f(f64::NEG_INFINITY),
                f(f64::INFINITY),
                f(f64::NAN),
            ],
        ),
        (
            "%T %T %T %T %T %T",
            vec![
                Value::Nil,
                i(1),
                f(1.0),
                bytes(b""),
                Value::list(vec![]),
                Value::empty_map(),
            ],
        ),
    ]
}

/// Operand lists for `Sprint` and `Sprintln` (Sprint puts a space between two operands
/// only when neither is a string).
fn operand_lists() -> Vec<Vec<Value>> {
    let i = Value::Int;
    let s = |t: &str| Value::str(t);
    vec![
        vec![],
        vec![s("a")],
        vec![s("a"), s("b")],
        vec![i(1), i(2)],
        vec![s("a"), i(1), i(2), s("b")],
        vec![i(1), s("a"), i(2)],
        vec![Value::Nil, Value::Nil],
        vec![Value::Float(1.5), Value::Bool(true)],
        vec![Value::list(vec![i(1)]), Value::list(vec![i(2)])],
        vec![Value::empty_map(), map(&[("a", i(1))])],
        vec![bytes(b"hi"), bytes(b"yo")],
        vec![Value::Nil, s("a"), Value::Nil],
        vec![
            Value::Float(-0.0),
            Value::Float(f64::NAN),
            Value::Float(1e21),
        ],
        vec![s(""), s(""), i(3)],
    ]
}

fn typed(args: &[Value]) -> Vec<Json> {
    args.iter().map(Value::to_typed_json).collect()
}

fn run(f: impl FnOnce() -> String) -> String {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|p| format!("<panic: {}>", common::panic_text(p)))
}

/// One case: a label for reports, and the question (plain JSON, so it can cross to the
/// runner thread; values are not `Send`). A question may carry "display" or "quote",
/// which say which of our functions answers it; they are removed before Go is asked.
type Case = (String, Json);

/// Builds every case.
fn questions() -> Vec<Case> {
    let mut cases = Vec::new();
    let values = values();
    for m in MODIFIERS {
        for v in VERBS {
            let format = format!("%{m}{v}");
            for value in &values {
                cases.push((
                    format!("sprintf({format:?}, {value:?})"),
                    json!({"printf": format, "args": [value.to_typed_json()]}),
                ));
            }
        }
    }
    for (format, args) in specials() {
        cases.push((
            format!("sprintf({format:?}, {args:?})"),
            json!({"printf": format, "args": typed(&args)}),
        ));
    }
    for args in operand_lists() {
        cases.push((format!("sprint({args:?})"), json!({"sprint": typed(&args)})));
        cases.push((
            format!("sprintln({args:?})"),
            json!({"sprintln": typed(&args)}),
        ));
    }
    for value in &values {
        cases.push((
            format!("display({value:?})"),
            json!({"printf": "%v", "args": [value.to_typed_json()], "display": true}),
        ));
        if let Some(s) = value.as_str() {
            cases.push((
                format!("quote({s:?})"),
                json!({"printf": "%q", "args": [value.to_typed_json()], "quote": true}),
            ));
        }
    }
    cases
}

/// What our fmt prints for one question.
fn ours(q: &Json) -> String {
    let args = |key: &str| -> Vec<Value> {
        q[key]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::from_typed_json)
            .collect()
    };
    if let Some(format) = q["printf"].as_str() {
        let args = args("args");
        if q.get("display").is_some() {
            return run(|| fmt::display(&args[0]));
        }
        if q.get("quote").is_some() {
            return run(|| fmt::quote(args[0].as_str().unwrap()));
        }
        return run(|| fmt::sprintf(format, &args));
    }
    if q.get("sprint").is_some() {
        let args = args("sprint");
        return run(|| fmt::sprint(&args));
    }
    let args = args("sprintln");
    run(|| fmt::sprintln(&args))
}

fn compare(cases: Vec<Case>, answers: Vec<Json>, what: &str) {
    let results = common::on_big_stack(move || {
        cases
            .into_iter()
            .zip(answers)
            .map(|((label, q), a)| {
                let go = a["text"]
                    .as_str()
                    .unwrap_or_else(|| panic!("the oracle did not answer {label}: {a}"))
                    .to_string();
                let rust = ours(&q);
                (label, go, rust)
            })
            .collect::<Vec<_>>()
    });
    let total = results.len();
    let bad: Vec<_> = results.iter().filter(|(_, go, rust)| go != rust).collect();
    println!("{what}: {total} cases, {} agree with Go", total - bad.len());
    // Enough to work from; the count says how many more.
    for (label, go, rust) in bad.iter().take(400) {
        println!("{label}\n    go:   {go:?}\n    rust: {rust:?}");
    }
    if bad.len() > 400 {
        println!("... and {} more", bad.len() - 400);
    }
    assert!(
        bad.is_empty(),
        "{} of {total} {what} cases disagree with Go",
        bad.len()
    );
}

#[test]
fn fmt_agrees_with_go() {
    let cases = questions();
    assert!(cases.len() > 10_000, "the table is smaller than meant");
    let asked: Vec<Json> = cases
        .iter()
        .map(|(_, q)| {
            let mut q = q.clone();
            if let Some(o) = q.as_object_mut() {
                o.remove("display");
                o.remove("quote");
            }
            q
        })
        .collect();
    let answers = slipway_testkit::ask_template_oracle(&asked);
    compare(cases, answers, "fmt");
}

/// `format_float` against `strconv.FormatFloat(f, 'g', -1, 64)`, which the oracle writes
/// for every float in a TYPED answer (here, the values of a `--set-json` line).
#[test]
fn format_float_agrees_with_strconv() {
    let floats = [
        "0",
        "-0.0",
        "1",
        "-1.5",
        "0.1",
        "0.3",
        "2.5",
        "3.14159",
        "100000000",
        "123456789",
        "1e6",
        "1e20",
        "1e21",
        "1e-4",
        "1e-5",
        "1e-7",
        "5e-324",
        "1.7976931348623157e308",
        "0.000123456",
        "123456.789",
        "1e100",
        "12345678901234567890",
        "0.30000000000000004",
    ];
    let questions: Vec<Json> = floats
        .iter()
        .map(|f| json!({"strvals": format!("x={f}"), "kind": "json"}))
        .collect();
    let answers = slipway_testkit::ask_template_oracle(&questions);
    let results = common::on_big_stack(move || {
        answers
            .iter()
            .map(|a| {
                let typed = &a["values"]["map"]["x"];
                let go = typed["float"]
                    .as_str()
                    .unwrap_or_else(|| panic!("not a float: {a}"))
                    .to_string();
                let f: f64 = go.parse().unwrap();
                (go, run(|| fmt::format_float(f)))
            })
            .collect::<Vec<_>>()
    });
    let bad: Vec<_> = results.iter().filter(|(go, rust)| go != rust).collect();
    for (go, rust) in &bad {
        println!("format_float: go {go:?}, rust {rust:?}");
    }
    assert!(bad.is_empty(), "{} floats format unlike Go", bad.len());
}

/// The TYPED encoding carries every kind both ways: values Go wrote, read here and written
/// back, print in Go exactly as Go's own did.
#[test]
fn typed_values_round_trip_through_go() {
    let yaml = "a: 1\nb: [x, null, true, 1.5, 0.1]\nc: {d: {e: ''}}\nf: 1e21\n";
    let set = "n=5,s=x,l[1]=-7";
    let answers = slipway_testkit::ask_template_oracle(&[
        json!({"yaml_values": yaml}),
        json!({"strvals": set, "kind": "set"}),
    ]);
    let mut questions = Vec::new();
    let specials = [
        Value::Float(f64::NAN),
        Value::Float(f64::NEG_INFINITY),
        Value::Float(-0.0),
        Value::Float(0.1 + 0.2),
        bytes(b"\x00\xffhi"),
        Value::Int(i64::MIN),
    ];
    let by_hand = [
        json!({"float": "NaN"}),
        json!({"float": "-Inf"}),
        json!({"float": "-0"}),
        json!({"float": "0.30000000000000004"}),
        json!({"bytes": "AP9oaQ=="}),
        json!({"int": i64::MIN}),
    ];
    for a in &answers {
        let go = &a["values"];
        assert!(go.is_object(), "the oracle failed: {a}");
        let back = Value::from_typed_json(go).to_typed_json();
        questions.push(json!({"printf": "%#v|%v", "args": [go, go]}));
        questions.push(json!({"printf": "%#v|%v", "args": [back, back]}));
    }
    for (v, hand) in specials.iter().zip(by_hand) {
        let ours = v.to_typed_json();
        questions.push(json!({"printf": "%#v|%v|%T", "args": [hand, hand, hand]}));
        questions.push(json!({"printf": "%#v|%v|%T", "args": [ours, ours, ours]}));
    }
    let printed = slipway_testkit::ask_template_oracle(&questions);
    for pair in printed.chunks(2) {
        assert!(pair[0]["text"].is_string(), "{}", pair[0]);
        // int64 from strvals comes back as int: only the type names may differ.
        let want = pair[0]["text"].as_str().unwrap().replace("int64", "int");
        assert_eq!(pair[1]["text"].as_str().unwrap(), want);
    }
}
