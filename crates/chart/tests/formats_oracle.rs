//! Helm's value formats against the Go code Helm runs, asked through `scripts/tmpl-oracle`:
//! values files (`yaml_values`), `--set` style lines (`strvals`), and `toYaml`,
//! `toYamlPretty`, `toJson`, `toToml`, `fromYaml`, `fromYamlArray`, `fromJson`,
//! `fromJsonArray` and `fromToml` run by Helm's template functions on the same data. The
//! Rust side calls `slipway_chart`'s functions directly, so no template engine is needed.
//! Multi-document values files are compared with `helm template` itself.

use std::ffi::OsStr;
use std::path::Path;

use serde_json::{Value as Json, json};
use slipway_chart::{json as cjson, strvals, toml as ctoml, yaml};
use slipway_template::{Value, deep_equal};
use slipway_testkit::{Helm, ask_template_oracle};

/// Asks every question, and reports each disagreement (with the question) at once.
struct Check {
    failures: Vec<String>,
}

impl Check {
    fn new() -> Check {
        Check {
            failures: Vec::new(),
        }
    }

    fn differ(
        &mut self,
        what: impl std::fmt::Display,
        go: impl std::fmt::Debug,
        ours: impl std::fmt::Debug,
    ) {
        self.failures
            .push(format!("{what}\n    go:   {go:?}\n    ours: {ours:?}"));
    }

    fn done(self, total: usize) {
        assert!(
            self.failures.is_empty(),
            "{} of {total} cases differ from Go:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

fn entry(v: &Value, key: &str) -> Value {
    match v {
        Value::Map(m) => m.borrow().get(key).cloned().unwrap_or(Value::Nil),
        _ => Value::Nil,
    }
}

// ---------------------------------------------------------------------------------------
// Values files

const DOCUMENTS: &[&str] = &[
    "a: 1",
    "a: 1\nb: two\nc: [1, 2.5, yes, no, on, off, y, n, Y, N, ~, null, true, True, FALSE, Off]",
    "",
    "# only a comment\n",
    "~",
    "null",
    "- a\n- b",
    "just a string",
    "42",
    "a: 0123\nb: 0x1F\nc: 0o17\nd: 1_000\ne: 08\nf: 1e3\ng: .5\nh: -.inf\nj: +1\nk: 0b101\nl: -0b11\nm: 12345678901234567890\nn: -9223372036854775809\no: 1e400\np: 2001-12-14\nq: 2001-12-14T21:59:43.10-05:00\nr: 2001-12-14 21:59:43.10 -5\ns: 1:20\nt: 190:20:30",
    "a: .nan",
    "a: &x {b: 1, c: 2}\nd: *x\ne:\n  <<: *x\n  c: 3\n  f: 4",
    "a: &x [1,2]\nb: *x",
    "base: &b\n  x: 1\n  y: 2\nother: &o\n  y: 20\n  z: 30\nm:\n  <<: [*b, *o]\n  w: 0",
    "m:\n  y: 9\n  <<: {y: 1, q: 2}",
    "<<: 1",
    "<<: [1]",
    "<<: ~",
    "'<<': {a: 1}",
    "!!merge <<: {a: 1}",
    "a: <<",
    "a: 1\nb",
    "a: b: c",
    "a:\n  - b\n  c: d",
    "key: [1, 2",
    "key: {a: 1",
    "a: 'unterminated",
    "a: \"bad \\q escape\"",
    "\tkey: 1",
    "a:\n\tb: 1",
    "a: |\n  line1\n  line2\nb: >\n  folded\n  text\n\n  para\nc: |-\n  keep\nd: |+\n  plus\n\ne: x",
    "? complex\n: value",
    "? [a, b]\n: value",
    "1: one\n2.5: two\ntrue: three\n0x10: hex\n1e3: e\n.inf: inf\n2001-01-01: date\n3.14159265359: pi\ny: yes-key",
    "~: nil key",
    "18446744073709551615: big",
    "a: !!str 123\nb: !!int \"42\"\nc: !!float 1\nd: !!bool yes\ne: !custom foo\nf: !!binary aGVsbG8=\ng: ! 12",
    "a: !!int abc",
    "a: !!null x",
    "a: !!null ''\nb: !!null ~",
    "a: !!timestamp 2001-01-01\nb: !!timestamp 12",
    "a: !!binary '%%%'",
    "a: *unknown",
    "a: &x [*x]",
    "%YAML 1.2\n---\na: 1",
    "%YAML 1.1\n---\na: 1",
    "%TAG !e! tag:example.com,2000:\n---\na: !e!foo bar",
    "a: !e!foo bar",
    "--- \na: 1\n...\n",
    "a: 1\n---\nb: 2",
    "\"quoted key\": v\n'single': 'it''s'\n",
    "a: \"\\u00e9\\x41\\U0001F600\\t\\n\\N\\_\\L\"",
    "a: b\n  c",
    "a:\n  b: 1\n c: 2",
    "- a\n -b",
    "{a: 1, b: [x, y], c: {d: e}}",
    "[1, 2, {a: b}]",
    "a: {x:1}",
    "a: [b:c]",
    "a: -1\nb: +.5\nc: -.5\nd: 1.\ne: 1.e5\nf: 0.0\ng: -0\nh: -0.0",
    "emoji: 😀\ncjk: 日本語",
    "a: x # comment\nb: 'y' # c\n# full\nc: z",
    "a: @foo",
    "a: `foo`",
    "a: %foo",
    "a: 1\na: 2",
    "a:\n  - b: 1\n    c: 2\n  - d",
    "---\n---\n",
    "a: '\n  multi\n\n  line\n  '",
    "a: \"line1\\\n  line2\"",
    "a: plain\n  continued\n  lines",
    "- - - deep",
    "a:\n- 1\n- 2\nb: 3",
    "x: &a 1\ny: *a\nz: [*a, *a]",
    "a: - b",
    "? a\n? b",
    ": a",
    "[a, b]: c",
    "{a: 1, a: 2}",
    "[a, b, c,]",
    "{a, b}",
    "{: b}",
    "[a: b, c]",
    "&a a: &b b\n*a : *b",
    "a: !!map {b: c}",
    "a: b\u{3000}c",
    "\u{feff}a: 1",
    "a: 1\r\nb: 2\r\n",
    "a: 1\rb: 2",
    "a: x\u{85}b: 2",
    "a: \"x\u{2028}y\"",
    "a: \u{1}",
    "a: \u{7f}",
    "t1: 2001-12-14t21:59:43.10-05:00\nt2: 2001-12-14 21:59:43.10\nt3: 2001-1-1\nt4: 2001-13-01\nt5: 2001-02-29\nt6: 2000-02-29\nt7: 2001-12-14T25:00:00Z\nt8: 2001-12-14T21:59:43Z\nt9: 2001-12-14T21:59:43+24:00\nt10: 2001-12-14T21:59:43+25:00\nt12: 2001-12-14T1:2:3Z\nt13: 2001-12-14 21:59\nt14: 2001-12-14T21:59:43,5Z",
    "a: 9223372036854775807\nb: 9223372036854775808\nd: 18446744073709551616\ne: 0xFFFFFFFFFFFFFFFF\nf: 0x1_0000\ng: 1__0\nh: _1\ni: 1_\nk: 0.1_5\nl: 1e1_0\nm: .1_5\nn: +0x10\no: -0x10\np: 0B11\nq: 0X1F\nt: 3.\nu: .\nv: +\nw: -.5e-3\nz: 0777",
    "x: |\n  \ta\n",
    "x: |\n\t a\n",
    "x: >-\n  a\n  b\n\n  c\n",
    "x: |0\n x",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels:\n    app.kubernetes.io/name: web\ndata:\n  config.yaml: |\n    server:\n      port: 8080\n  flag: \"true\"\n",
];

#[test]
fn values_files_read_as_helm_reads_them() {
    let mut documents: Vec<String> = DOCUMENTS.iter().map(|d| d.to_string()).collect();
    documents.push(format!("long: {}", "x".repeat(2000)));
    documents.push(format!("{}: v", "k".repeat(1100)));
    // (The answers' JSON may nest at most 128 deep for serde_json.)
    documents.push(format!("x: {}{}", "[".repeat(50), "]".repeat(50)));
    let questions: Vec<Json> = documents
        .iter()
        .map(|d| json!({"yaml_values": d}))
        .collect();
    let answers = ask_template_oracle(&questions);
    let mut check = Check::new();
    for (doc, answer) in documents.iter().zip(&answers) {
        let ours = yaml::parse_values(doc);
        match (answer.get("values"), answer.get("error"), &ours) {
            (Some(go), _, Ok(v)) if deep_equal(&Value::from_typed_json(go), v) => {}
            (_, Some(Json::String(go)), Err(e)) if *go == e.0 => {}
            _ => check.differ(format!("values file {doc:?}"), answer, &ours),
        }
    }
    check.done(documents.len());
}

/// A chart folder whose one template prints `.Values` as JSON.
fn values_chart(dir: &Path, values: &str) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: formats\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), values).unwrap();
    std::fs::write(
        dir.join("templates/values.yaml"),
        "values: {{ toJson .Values | quote }}\n",
    )
    .unwrap();
}

/// Runs `helm template` on a chart whose one template prints `.Values` as JSON: the
/// values as Go printed them, or helm's error output.
fn helm_values(values_yaml: &str, args: &[&str]) -> Result<String, String> {
    let helm = Helm::new();
    let dir = helm.home().join("chart");
    values_chart(&dir, values_yaml);
    let mut full = vec![OsStr::new("template"), OsStr::new("r"), dir.as_os_str()];
    full.extend(args.iter().map(OsStr::new));
    let out = helm.run(&full);
    if !out.ok() {
        return Err(out.stderr);
    }
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("values: "))
        .unwrap_or_default();
    Ok(serde_json::from_str(line).unwrap_or_default())
}

#[test]
fn multi_document_values_files_merge_as_helm_merges_them() {
    let cases = [
        "a: 1\n---\nb: 2\n",
        "a: {x: 1, y: 2}\n---\na: {y: 3, z: 4}\nb: [1]\n---\nb: [2]\n",
        "---\na: 1\n--- # comment\n---\nc: 3",
        "a: 1\n---\n~\n---\n# nothing\n",
        "a: 1\r\n---\r\nb: 2\r\n",
        "a: {x: 1}\n---\na: 5\n",
        "a: 1\n---x\n",
        "a: 1\n--- b: 2\n",
        "a: 1\n---\n- list\n",
        "a: 1\n---\nb: [\n",
        "a: 1\n----\nb: 2\n",
        "a: &x 1\n---\nb: *x\n",
    ];
    let mut check = Check::new();
    for values in cases {
        let ours = yaml::load_values(values);
        match (helm_values(values, &[]), &ours) {
            (Ok(go), Ok(v)) if cjson::to_json(v).as_deref() == Ok(go.as_str()) => {}
            (Err(go), Err(e)) if go.contains(&format!("cannot load values.yaml: {}", e.0)) => {}
            (go, _) => check.differ(format!("values.yaml {values:?}"), go, &ours),
        }
    }
    check.done(cases.len());
}

/// `--set-json` as the command line applies it: a whole JSON object merged over the
/// values, or strvals' JSON lines, with the command line's errors.
#[test]
fn set_json_flags_apply_as_helms_command_line_applies_them() {
    let lines = [
        "{\"a\": 1, \"b\": {\"c\": [1, \"x\"]}}",
        "  {\"a\": {\"x\": 1}}  ",
        "{\"a\": 1",
        "{\"a\": 1e400}",
        "a=[1,2],b.c={\"d\":true}",
        "a=[1,",
        "a=\"x\",b=2",
    ];
    let mut check = Check::new();
    for line in lines {
        let mut ours_values = Value::empty_map();
        let ours = strvals::apply_set_json(line, &mut ours_values);
        match (helm_values("", &["--set-json", line]), &ours) {
            (Ok(go), Ok(())) if cjson::to_json(&ours_values).as_deref() == Ok(go.as_str()) => {}
            (Err(go), Err(e)) if go.contains(&e.message) => {}
            (go, _) => check.differ(
                format!("--set-json {line:?}"),
                go,
                (&ours, ours_values.to_typed_json()),
            ),
        }
    }
    check.done(lines.len());
}

// ---------------------------------------------------------------------------------------
// --set lines

const LINES: &[&str] = &[
    "a[0]xy=1",
    "a[0]x=1",
    "a=1,a.b=2",
    "a[1",
    "a.b[0]=1,a.b.c=2",
    "a=null",
    "a[0]=1,a[0][1]=2",
    "a[70000]=1",
    "a[x]=1",
    "a[]=1",
    "a[-1]=1",
    "a[1]=ok,a[0].b=1",
    "=1",
    ",",
    "a,b=1",
    "a.=1",
    ".a=1",
    "a..b=1",
    "a[0]=1,a.b=2",
    "a={}",
    "a={1,2",
    "a={1,2},b=3",
    "a={x}y,b=1",
    "name=value",
    "a=1,b=true,c=FALSE,d=null,e=0,f=0123,g=-5,h=+7,i=1.5,j=1e3,k=9223372036854775807,l=9223372036854775808,m=-0,n=00,o=",
    "a.b.c=1,a.b.d=2,a.e=3",
    "a[0]=1,a[2]=3",
    "a[0].b=1,a[0].c=2,a[1].b=3",
    "a[0][0]=1,a[0][1]=2,a[1][0]=3",
    "a=x\\,y,b=c\\=d,e\\.f=g",
    "a.b\\.c=1",
    "a={a,b},c={}",
    "a={x\\,y,z}",
    "a=",
    "a",
    "a=b=c",
    "a=\"quoted\"",
    "a= spaced ",
    "list[0]=a,list[1]=b,list[0]=c",
    "x.y[3].z=1",
    "a.b=1,a=2",
    "a=2,a.b=1",
    "a[0]=1,a=2,a[1]=3",
    "a[65536]=1",
    "a[65537]=1",
    "a[99999999999999999999]=1",
    "a[+1]=x",
    "a[ 1]=x",
    "a=truE,b=NuLL,c=falſe",
    "é=ü",
    "a[0]=1,a[0].b=2",
    "a.b=1,a[0]=2",
    "a[0].b[1].c=1",
    "a={1,2}x",
    "a\\",
    "a=b\\",
    "a[0]\\=1",
    "existing.k=v",
    "list[1]=z",
    "num.x=1",
    "n=1,n[0]=2",
    "nilv.x=1",
    "nilv[0]=1",
    "a=1 b=2",
    "a=[1,{\"b\":[true,null]}],c=\"s\"",
    "a[0]={\"x\":1},a[1]=2",
    "a=  {\"q\":1}  ,b=3",
    "a={",
    "a=nul",
    "a=truex",
    "a=1x",
    "a=tru",
    "a=-",
    "a=[1,",
    "a={\"b\":1} c=2",
    "a=1e400",
    "a= ",
    "a=\"x\",b=2",
];

#[test]
fn set_lines_parse_as_helm_parses_them() {
    let base = "existing: {a: 1}\nlist: [x, y]\nnum: 5\nnilv: ~\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("value.txt");
    std::fs::write(&file, "hello\nworld\n").unwrap();
    let file = file.display().to_string();
    let dir_path = dir.path().display().to_string();
    let mut lines: Vec<String> = LINES.iter().map(|l| l.to_string()).collect();
    lines.push(
        (0..31)
            .map(|i| format!("k{i}"))
            .collect::<Vec<_>>()
            .join(".")
            + "=1",
    );
    lines.push(
        (0..30)
            .map(|i| format!("k{i}"))
            .collect::<Vec<_>>()
            .join(".")
            + "=1",
    );
    for l in [
        format!("a={file}"),
        "a=/nonexistent-slipway".to_string(),
        format!("a={dir_path}"),
        format!("a={{{file},{file}}}"),
        "a={/nonexistent-slipway}".to_string(),
        format!("a[0]={file}"),
        "a[0]=/nonexistent-slipway".to_string(),
    ] {
        lines.push(l);
    }
    let kinds = ["set", "string", "json", "file", "literal"];
    let mut cases = Vec::new();
    for kind in kinds {
        for line in &lines {
            cases.push((kind, line.clone(), None));
            cases.push((kind, line.clone(), Some(base)));
        }
    }
    let questions: Vec<Json> = cases
        .iter()
        .map(|(kind, line, base)| match base {
            Some(b) => json!({"strvals": line, "kind": kind, "base": b}),
            None => json!({"strvals": line, "kind": kind}),
        })
        .collect();
    let answers = ask_template_oracle(&questions);
    let mut check = Check::new();
    let read = |p: &str| strvals::read_file(p);
    for ((kind, line, base), answer) in cases.iter().zip(&answers) {
        let mut values = match base {
            Some(b) => yaml::parse_values(b).unwrap(),
            None => Value::empty_map(),
        };
        let k = match *kind {
            "set" => strvals::Kind::Set,
            "string" => strvals::Kind::String,
            "json" => strvals::Kind::Json,
            "file" => strvals::Kind::File(&read),
            _ => strvals::Kind::Literal,
        };
        let ours = strvals::parse_into(line, &mut values, k);
        match (answer.get("values"), answer.get("error"), &ours) {
            (Some(go), _, Ok(())) if deep_equal(&Value::from_typed_json(go), &values) => {}
            (_, Some(Json::String(go)), Err(e)) if *go == e.message => {}
            _ => check.differ(
                format!("--set ({kind}) {line:?} on {base:?}"),
                answer,
                (ours, values.to_typed_json()),
            ),
        }
    }
    check.done(cases.len());
}

// ---------------------------------------------------------------------------------------
// Writing values: toYaml, toYamlPretty, toJson, toToml

/// Strings that YAML may read as something else, or must fold, escape or quote.
fn tricky_strings() -> Vec<String> {
    let mut out: Vec<String> = [
        "yes", "no", "on", "off", "y", "n", "Y", "N", "true", "True", "TRUE", "false", "null",
        "Null", "~", "", "1", "0123", "0x1F", "0o17", "1e3", "1.5", ".inf", "-.inf", ".nan",
        "+1", "-1", "1_000", "2001-12-14", "2001-12-14T21:59:43.10-05:00", "2001-12-14 21:59:43",
        "12:30", "1:20:30", "190:20:30.15", "a: b", "a:b", "- a", "-a", "? a", "?a", ":a", ": a",
        "#a", "a #b", "a#b", "[a]", "{a}", "a,b", "a]", "&a", "*a", "!a", "|a", ">a", "'a",
        "\"a", "%a", "@a", "`a", " lead", " ", "trail ", "in ner", "tab\there", "\ttab",
        "cr\rx", "nel\u{85}x", "ls\u{2028}x", "nbsp\u{a0}x", "bom\u{feff}x", "\u{feff}bom first",
        "ctrl\u{1}x", "del\u{7f}x", "c1\u{90}x", "\u{fffe}", "unicode é ü 日本", "emoji 😀",
        "---", "...", "--- a", "...a", "<<", "=", "a\nb", "a\nb\n", "a\n\nb\n\n", "\na", "\n",
        " \na", "a \nb", "a\n b", "a\t\nb", "multi\nline with: colon\n", "a\u{2029}b",
        "1.0", "1e+21", "0.1", "-0", "00", "0", "08", "+.5", "1.", "0b1", "0b2", ".5e3",
        "1,000", "$x", "~x", "key with spaces", "a  b",
        "this is a rather long sentence with a colon: inside it that keeps going and going past eighty columns",
        "tab\tin a long long long long long long long long long long long long long long long line here",
        "ends with newline and is long long long long long long long long long long long long long long\n",
        "'single' quoted with a colon: and a long long long long long long long long long text ",
        "# comment like and long long long long long long long long long long long long long text",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    out.push("x".repeat(100));
    out.push("word ".repeat(30));
    out.push("word ".repeat(30).trim().to_string());
    out.push(format!("{} b", "a".repeat(85)));
    out.push(format!("a: {}", "x ".repeat(50)));
    out.push("'quoted' ".repeat(20));
    out.push(format!("{}:", "\"dq\" ".repeat(20)));
    out.push(format!("- {}", "y ".repeat(50)));
    out.push("é".repeat(90));
    out.push(format!("a   {}", "b ".repeat(45)));
    out.push(format!("{} y", "x".repeat(81)));
    out.push("x ".repeat(41));
    out.push(format!("{} b c d", "a".repeat(79)));
    out
}

/// Values to write, as JSON (read the way templates get `data`: whole numbers are ints).
fn values_to_write() -> Vec<Json> {
    let mut out = Vec::new();
    for s in tricky_strings() {
        out.push(json!(s));
        out.push(json!({ "k": s }));
        out.push(json!([s]));
        out.push(json!({ s.clone(): 1 }));
        out.push(json!({"outer": {"inner": [s, {"deep": s}]}}));
    }
    out.extend([
        json!(null),
        json!(5),
        json!(3.0),
        json!(1e6),
        json!(true),
        json!({}),
        json!([]),
        json!([[]]),
        json!([{}]),
        json!({"a": [[1, 2], [3]]}),
        json!({"b": 1, "a": ["x", "y"], "c": {}, "d": [], "e": null, "f": {"g": {"h": "i"}}}),
        json!([1, [2, [3, []]], {"a": ["b", {"c": "d"}]}]),
        // Key order. (Go's order is not a total order: with both `a1b` and `a01` among
        // the keys, Go's own output changes from run to run, so no such pair is here.)
        json!({"a10": 1, "a2": 2, "a1": 3, "b": 4, "B": 5, "_x": 6, "1": 7, "10": 8, "9": 9,
               "a01": 10, "a001": 11, "x1y": 12, "x1a": 13, "xa1": 14, "a-1": 15, "a.1": 16,
               "é": 19, "Z": 20, "z": 21, "0": 22, "00": 23, "-": 24}),
        json!({"a1b": 1, "a1B": 2, "a1": 3, "a12": 4, "a1-": 5, "ab": 6}),
        json!({"num": 1, "float": 1.5, "big": 1e21, "small": 1e-7, "zero": 0.0, "neg": -3,
               "int": 1000000, "e20": 1e20, "e19": 1e19, "n19": -1e19, "tiny": 5e-324,
               "huge": 1.7976931348623157e308, "third": 0.3333333333333333, "p": 123456789.123,
               "negzero": -0.0, "i64": 9223372036854775807_i64, "imin": -9223372036854775807_i64,
               "u": 18446744073709551615_u64}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "labels": {"app": "web", "tier": "1"}},
               "spec": {"replicas": 3, "template": {"spec": {"containers": [
                   {"name": "c", "image": "nginx:1.25", "args": ["--port=80", "--verbose"],
                    "env": [{"name": "A", "value": "yes"}], "ports": [{"containerPort": 80}],
                    "command": ["/bin/sh", "-c", "echo hello && sleep 3600\nexit 0\n"]}]}}}}),
        json!({"k".repeat(129): "v", "k".repeat(128): "w", "multi\nline": "v", "multi\nline2": ["a"], "": 3, " sp": 4}),
        json!({"k".repeat(1030): 1}),
        json!({"a": {"k".repeat(1030): 1}}),
        json!({"nel\u{85}key": 1}),
        json!({"a": "x", "nel\u{85}key": 1}),
        json!(["a\u{85}b\u{85}c", {"x\u{85}": 1}]),
        json!({"x": "trailing space \nnext", "y": "line\n  indented\n", "z": "a\n\n\nb\n\n",
               "w": " leading\nspace", "v": "\nleading newline", "u": "\n\n", "t": "tabs\tin\nblock"}),
        json!({"a": null, "b": [null, true, false]}),
        json!({"z": 1, "a": {"b": {"c": [1, {"d": 2}]}}, "e": [], "f": {}, "n": null, "q k": 1,
               "l": [{"x": 1}, {"y": 2}]}),
        json!({"a": [[1, 2], [3, [4]]]}),
        json!({"b": [[null]]}),
        json!({"a": [{"x": null, "y": 1}]}),
        json!({"a": [{"x": 1, "y": null}]}),
        json!({"a": [{"x": {"s": 1}, "y": 1}]}),
        json!({"s": "quote\" back\\ tab\t nl\n cr\r ctl\u{1} del\u{7f} uni é 😀 bell\u{7} bs\u{8} ff\u{c}"}),
        json!({"": 1, "a.b": 2, "é": 3, "a-b_c": 4, "1": 5}),
        json!({"f": [0.0, -0.0, 1e21, 1e-7, 3.0, 1e6, 123456.789, 1e300]}),
        json!({"deep": {"a": {"b": {"c": {"d": 1}}}}, "top": 1}),
        json!({"t": [{"a": {"b": 1}, "c": [{"d": 1}]}]}),
        json!({"m": {"l": [{"x": 1}], "v": 1, "s": {"k": 1}}}),
        json!({"mixed": [1, "a", [true], {"k": [1]}]}),
        json!({"empty_list_of_maps": [{}]}),
        json!([{"a": 1}, null]),
        json!([{"a": 1}]),
        json!([1, null]),
        json!([{"a": 1}, 2]),
    ]);
    out
}

#[test]
fn writers_print_what_helm_prints() {
    let values = values_to_write();
    let funcs = ["toYaml", "toYamlPretty", "toJson", "toToml"];
    let mut cases = Vec::new();
    for v in &values {
        for f in funcs {
            cases.push((f, v.clone()));
        }
    }
    let questions: Vec<Json> = cases
        .iter()
        .map(|(f, v)| {
            json!({"template": format!("{{{{ {f} .v }}}}"), "data": {"v": v}, "funcs": "helm"})
        })
        .collect();
    let answers = ask_template_oracle(&questions);
    let mut check = Check::new();
    for ((f, v), answer) in cases.iter().zip(&answers) {
        let value = Value::from_json(v);
        let ours = match *f {
            "toYaml" => Ok(yaml::to_yaml(&value).unwrap_or_default()),
            "toYamlPretty" => Ok(yaml::to_yaml_pretty(&value).unwrap_or_default()),
            "toJson" => Ok(cjson::to_json(&value).unwrap_or_default()),
            _ => match ctoml::to_toml(&value) {
                Err(e) if e.fails_template() => Err(e.0),
                Ok(t) => Ok(t),
                Err(e) => Ok(e.0),
            },
        };
        let same = match (&ours, answer.get("text"), answer.get("error")) {
            (Ok(text), Some(Json::String(go)), _) => text == go,
            (Err(e), _, Some(Json::String(go))) => go.ends_with(&format!("error calling {f}: {e}")),
            _ => false,
        };
        if !same {
            check.differ(format!("{f} of {v}"), answer, &ours);
        }
    }
    check.done(cases.len());
}

/// The same writers on values read from a values file (so every number is a float), and
/// the errors of the `must` forms.
#[test]
fn writers_on_values_files_and_their_errors() {
    let docs = [
        "v: {a: 1, b: [x, yes, \"yes\"], c: 1e21, d: 3.0, e: 1000000, f: 0.000001, g: 1e-7}",
        "v: [0x1F, 0123, 1_000, .5, -.5, 12345678901234567890]",
        "v: {a: &x {b: 1}, c: *x, d: {<<: *x, e: 2}}",
        "v: \"a\\tb\\u0085c\"",
        "v:\n  k: |\n    text\n    more\n  l: [1, 2]\n",
    ];
    let funcs = ["toYaml", "toYamlPretty", "toJson", "toToml"];
    let mut questions = Vec::new();
    let mut cases = Vec::new();
    for d in docs {
        for f in funcs {
            questions.push(
                json!({"template": format!("{{{{ {f} .v }}}}"), "values": d, "funcs": "helm"}),
            );
            cases.push((f, d));
        }
    }
    let errors = [
        (
            "mustToJson",
            "{{ mustToJson (float64 \"NaN\") }}",
            Value::Float(f64::NAN),
        ),
        (
            "mustToYaml",
            "{{ mustToYaml (float64 \"+Inf\") }}",
            Value::Float(f64::INFINITY),
        ),
        (
            "mustToToml",
            "{{ mustToToml (list 1 nil) }}",
            Value::list(vec![Value::Int(1), Value::Nil]),
        ),
        (
            "mustToToml",
            "{{ mustToToml (list (dict \"a\" 1)) }}",
            Value::list(vec![Value::map(
                [("a".to_string(), Value::Int(1))].into_iter().collect(),
            )]),
        ),
        ("toToml", "{{ toToml nil }}", Value::Nil),
    ];
    for (_, t, _) in &errors {
        questions.push(json!({"template": t, "funcs": "helm"}));
    }
    let answers = ask_template_oracle(&questions);
    let mut check = Check::new();
    for ((f, d), answer) in cases.iter().zip(&answers) {
        let v = entry(&yaml::parse_values(d).unwrap(), "v");
        let ours = match *f {
            "toYaml" => yaml::to_yaml(&v).unwrap_or_default(),
            "toYamlPretty" => yaml::to_yaml_pretty(&v).unwrap_or_default(),
            "toJson" => cjson::to_json(&v).unwrap_or_default(),
            _ => ctoml::to_toml(&v).unwrap_or_else(|e| e.0),
        };
        if answer.get("text") != Some(&json!(ours)) {
            check.differ(format!("{f} of {d}"), answer, ours);
        }
    }
    for ((f, t, v), answer) in errors.iter().zip(&answers[cases.len()..]) {
        let ours = match *f {
            "mustToJson" => cjson::to_json(v).map_err(|e| e.0),
            "mustToYaml" => yaml::to_yaml(v).map_err(|e| e.0),
            _ => ctoml::to_toml(v).map_err(|e| e.0),
        };
        let go = answer
            .get("error")
            .and_then(Json::as_str)
            .unwrap_or_default();
        match &ours {
            Err(e) if go.ends_with(&format!("error calling {f}: {e}")) => {}
            _ => check.differ(t, answer, &ours),
        }
    }
    check.done(cases.len() + errors.len());
}

// ---------------------------------------------------------------------------------------
// Reading strings: fromYaml, fromYamlArray, fromJson, fromJsonArray, fromToml

#[test]
fn readers_read_what_helm_reads() {
    // Documents Go reads as nil (`""`, `~`, `null`) give a nil map there, which toJson
    // prints as `null`; slipway's maps cannot be nil (they print the same otherwise).
    let yaml_docs = [
        "a: 1",
        "[1,2]",
        "x",
        "a: [",
        "- a",
        "a: .nan",
        "a: !!binary //79",
        "a: {b: c}\nd: [1, 2]",
        "a: 1e400",
        "1: x",
        "? [a]\n: b",
        "a: &x 1\nb: *x",
        "---\na: 1\n---\nb: 2",
        "a: yes\nb: 0x10\nc: '0x10'",
        "42",
        "true",
    ];
    let json_docs = [
        "{\"a\":1}",
        "[1,2]",
        "\"x\"",
        "1",
        "true",
        "",
        " ",
        "{",
        "{\"a\":}",
        "{\"a\":1,}",
        "[1,]",
        "{\"a\" 1}",
        "{a:1}",
        "{'a':1}",
        "[1 2]",
        "01",
        "-",
        "1.",
        "1e",
        ".5",
        "tru",
        "truex",
        "nul",
        "\"\\x\"",
        "\"\\u12g4\"",
        "\"a\tb\"",
        "{\"a\":1e400}",
        "{\"a\":1,\"b\":1e999,\"c\":3}",
        "[1e400]",
        "{\"a\":\"\\ud83d\\ude00 \\ud800 x\"}",
        "{\"a\":1} x",
        "{\"a\":1}  ",
        "\u{feff}{}",
        "{\"é\":\"é\"}",
        "{\"a\":[1,{\"b\":null}]}",
        "{\"dup\":1,\"dup\":2}",
        "é",
        "\u{1}",
        "\"\u{1}\"",
        "[-]",
        "[-a]",
        "1.5e+3",
        "-0",
        "1E5",
        "{\"a\":1}{\"b\":2}",
        "{\"<\":\"&>\"}",
        "1e400",
        " -1e400 ",
        "[1e400, 2]",
        "\"1e400\"",
    ];
    let toml_docs = [
        "a = 1\nb = 1.5\nc = [1, \"x\"]\n[t]\nx = true\n[[arr]]\nq = 1\n[[arr]]\nq = 2",
        "d = 1979-05-27T07:32:00Z",
        "h = 1979-05-27T07:32:00.5+05:00",
        "a = 0x1F\nb = 1_000\nc = 6.02e23\nd = 0o17\ne = 0b11\nf = +5\ng = -0.0",
        "x = \"\"\"\nmulti\nline\"\"\"",
        "y = '''raw\\n'''",
        "[a.b]\nc = 1\n[a]\nd = 2",
        "a = [1, [2, 3]]\nb = {x = 1, y = {z = 2}}",
        "\"quoted key\" = 1\n'lit key' = 2\nbare-key_1 = 3\na.b.c = 4",
        "",
        "# comment only\n",
        "a = ",
        "a = 1\na = 2",
        "x = 1\n\n[t]\ny = [1,\n",
    ];
    let mut cases: Vec<(&str, String)> = Vec::new();
    for d in yaml_docs {
        cases.push(("fromYaml", d.to_string()));
        cases.push(("fromYamlArray", d.to_string()));
    }
    for d in json_docs {
        cases.push(("fromJson", d.to_string()));
        cases.push(("fromJsonArray", d.to_string()));
    }
    let nested = format!("{{\"x\":{}{}}}", "[".repeat(60), "]".repeat(60));
    cases.push(("fromJson", nested));
    for d in toml_docs {
        cases.push(("fromToml", d.to_string()));
    }
    let questions: Vec<Json> = cases
        .iter()
        .map(|(f, d)| {
            let template = if *f == "fromToml" && !d.contains("1979") {
                // Whole numbers keep their int64 type in fromToml; JSON cannot show it.
                format!("{{{{ {f} .s | toJson }}}}|{{{{ range $k, $v := {f} .s }}}}{{{{ $k }}}}:{{{{ typeOf $v }}}};{{{{ end }}}}")
            } else {
                format!("{{{{ {f} .s | toJson }}}}")
            };
            json!({"template": template, "data": {"s": d}, "funcs": "helm"})
        })
        .collect();
    let answers = ask_template_oracle(&questions);
    let mut check = Check::new();
    for ((f, d), answer) in cases.iter().zip(&answers) {
        let value = match *f {
            "fromYaml" => yaml::from_yaml(d),
            "fromYamlArray" => yaml::from_yaml_array(d),
            "fromJson" => cjson::from_json(d),
            "fromJsonArray" => cjson::from_json_array(d),
            _ => ctoml::from_toml(d),
        };
        let mut ours = cjson::to_json(&value).unwrap_or_default();
        if *f == "fromToml" && !d.contains("1979") {
            ours.push('|');
            if let Value::Map(m) = &value {
                for (k, v) in m.borrow().iter() {
                    let go_type = match v {
                        Value::Int(_) => "int64".to_string(),
                        Value::List(items)
                            if !items.is_empty()
                                && items.iter().all(|i| matches!(i, Value::Map(_))) =>
                        {
                            "[]map[string]interface {}".to_string()
                        }
                        other => other.type_name(),
                    };
                    ours.push_str(&format!("{k}:{go_type};"));
                }
            }
        }
        let go = answer.get("text").and_then(Json::as_str);
        // Go's TOML decoder words its syntax errors differently; the line must agree.
        let error_line = |s: &str| {
            let rest = &s[s.find("toml: line ")? + "toml: line ".len()..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .map(str::to_string)
        };
        let same = match go {
            Some(go) if *f == "fromToml" && go.contains("\"Error\"") => {
                error_line(go).is_some() && error_line(go) == error_line(&ours)
            }
            Some(go) => go == ours,
            None => false,
        };
        if !same {
            check.differ(format!("{f} of {d:?}"), answer, ours);
        }
    }
    check.done(cases.len());
}
