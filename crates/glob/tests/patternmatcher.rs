//! `.dockerignore` and COPY wildcards against the Go code Docker and BuildKit run:
//! moby/patternmatcher (with its `ignorefile` reader) and Go's `filepath.Match`, asked
//! through `scripts/oracle`. The cases are patternmatcher's own test tables, read from its
//! Go module at test time, and ours; the answers are always the oracle's.
//!
//! `scripts/go-tools oracle` builds the oracle (seconds; `scripts/setup` runs it). When it
//! cannot be built this test fails: it never skips.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use slipway_glob::{DockerIgnore, Pattern};

/// Returns the oracle's folder, building it when it is not cached.
fn oracle_dir() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/go-tools");
    let built = Command::new(&script)
        .arg("oracle")
        .status()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(
        built.success(),
        "{} oracle failed: Go and the Go module proxy are needed",
        script.display()
    );
    let out = Command::new(&script)
        .args(["path", "oracle"])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Asks the oracle every question at once.
fn ask(dir: &Path, questions: &[Value]) -> Vec<Value> {
    let mut child = Command::new(dir.join("oracle"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the oracle");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!(questions).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the oracle failed");
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answers.len(), questions.len());
    answers
}

/// Reads a Go string literal (interpreted or raw) at the start of `s`; returns it and the
/// rest.
fn go_string(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    if let Some(raw) = s.strip_prefix('`') {
        let end = raw.find('`')?;
        return Some((raw[..end].to_string(), &raw[end + 1..]));
    }
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 2..])),
            '\\' => {
                let (_, e) = chars.next()?;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => other,
                });
            }
            c => out.push(c),
        }
    }
    None
}

/// One row of an upstream table: the patterns, the text, and what the table expects.
struct Row {
    patterns: Vec<String>,
    text: String,
}

/// Reads the rows of the table that starts after `start` in `source`: `{"p", "t", ...}` or
/// `{[]string{"p", ...}, "t", ...}`, up to the table's closing `}` line.
fn table(source: &str, start: &str, at_least: usize) -> Vec<Row> {
    let at = source
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} is not in patternmatcher_test.go"));
    let mut rows = vec![];
    for line in source[at + start.len()..].lines().skip(1) {
        let line = line.trim();
        if line == "}" || line == "}," {
            break;
        }
        let Some(body) = line.strip_prefix('{') else {
            continue;
        };
        let (patterns, rest) = match body.strip_prefix("[]string{") {
            Some(mut list) => {
                let mut ps = vec![];
                while let Some((p, rest)) = go_string(list) {
                    ps.push(p);
                    list = rest.trim_start().strip_prefix(',').unwrap_or(rest);
                }
                let rest = list.trim_start().strip_prefix("},").expect(line);
                (ps, rest)
            }
            None => {
                let (p, rest) = go_string(body).expect(line);
                (vec![p], rest.trim_start().strip_prefix(',').expect(line))
            }
        };
        let (text, _) = go_string(rest).expect(line);
        rows.push(Row { patterns, text });
    }
    assert!(rows.len() >= at_least, "too few rows after {start:?}");
    rows
}

/// Cases of our own, where Docker's reading is surprising.
fn our_rows() -> Vec<Row> {
    let row = |patterns: &[&str], texts: &[&str]| -> Vec<Row> {
        texts
            .iter()
            .map(|t| Row {
                patterns: patterns.iter().map(|p| p.to_string()).collect(),
                text: t.to_string(),
            })
            .collect()
    };
    let mut rows = vec![];
    for (patterns, texts) in [
        (&["[!a]y"][..], &["ay", "!y", "by"][..]),
        (&["a[^x]b"], &["a/b", "acb", "axb"]),
        (&["^fo*"], &["foo", "^foo"]),
        (&["^foo"], &["foo", "^foo"]),
        (&["foo\\*"], &["foo*", "foo\\*", "foox"]),
        (&["**foo"], &["xfoo", "a/foo", "foo"]),
        (&["foo**"], &["foobar", "foo/bar", "fo"]),
        (&["a]"], &["a]", "a"]),
        (&["[[:alpha:]]x"], &["bx", "1x"]),
        (&["a.b+(c)|{d}$"], &["a.b+(c)|{d}$", "axb+(c)|{d}$"]),
        (
            &["*.md", "!README*.md", "README-secret.md"],
            &["a.md", "README.md", "README-secret.md"],
        ),
        (
            &["docs", "!docs/keep/*.md"],
            &["docs/a", "docs/keep/x.md", "docs/keep/x.txt"],
        ),
        (
            &["/abs/path", "!/abs/path/keep"],
            &["abs/path/x", "abs/path/keep"],
        ),
        (&["a/../b/./c"], &["b/c", "a/b/c"]),
        (&["!!bang"], &["!bang", "bang"]),
        (
            &["  spaced  ", "# comment", "#not"],
            &["spaced", "#not", "# comment"],
        ),
        (&["é?"], &["éa", "éé", "e"]),
        (&["[", "ok"], &["ok"]),
        (&["a["], &["a"]),
        (&["[z-a]"], &["m"]),
        (&["[a-]"], &["a"]),
        (&["x\\"], &["x"]),
        (&["!"], &["x"]),
        (&[" ! "], &["x"]),
    ] {
        rows.extend(row(patterns, texts));
    }
    rows
}

#[test]
fn dockerignore_answers_as_patternmatcher_does() {
    let dir = oracle_dir();
    let upstream = std::fs::read_to_string(dir.join("patternmatcher_test.go")).unwrap();
    let mut rows = table(&upstream, "tests := []matchesTestCase{", 60);
    rows.extend(table(
        &upstream,
        "tests = append(tests, []matchesTestCase{",
        1,
    ));
    rows.extend(table(
        &upstream,
        "multiPatternTests := []multiPatternTestCase{",
        4,
    ));
    let upstream_rows = rows.len();
    rows.extend(table(&upstream, "var matchTests = []matchTest{", 40));
    rows.extend(our_rows());
    // Paths found by walking a context are never empty.
    rows.retain(|r| !r.text.is_empty());
    let questions: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "ignore": r.patterns.join("\n"), "paths": [r.text] }))
        .collect();
    let answers = ask(&dir, &questions);
    let mut wrong = vec![];
    let mut refused = 0;
    for (r, a) in rows.iter().zip(&answers) {
        let ours = DockerIgnore::parse(&r.patterns.join("\n"));
        let agree = match (&ours, a.get("error")) {
            (Err(_), Some(_)) => {
                refused += 1;
                true
            }
            (Ok(ig), None) => a["excluded"][0].as_bool() == Some(ig.is_excluded(&r.text)),
            _ => false,
        };
        if !agree {
            wrong.push(format!(
                "patterns {:?}, path {:?}: Docker {a}, slipway {:?}",
                r.patterns,
                r.text,
                ours.map(|ig| ig.is_excluded(&r.text))
                    .map_err(|e| e.to_string())
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The tables were read, and the refusals were exercised.
    assert!(upstream_rows > 70, "{upstream_rows}");
    assert!(refused >= 15, "{refused}");
}

#[test]
fn copy_wildcards_answer_as_filepath_match_does() {
    let dir = oracle_dir();
    let upstream = std::fs::read_to_string(dir.join("patternmatcher_test.go")).unwrap();
    let mut rows = table(&upstream, "var matchTests = []matchTest{", 40);
    rows.extend(our_rows());
    let questions: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "match": r.patterns[0], "names": [r.text] }))
        .collect();
    let answers = ask(&dir, &questions);
    let mut wrong = vec![];
    for (r, a) in rows.iter().zip(&answers) {
        let ours = Pattern::path(&r.patterns[0]);
        let agree = match (&ours, a.get("error")) {
            (Err(_), Some(_)) => true,
            (Ok(p), None) => a["matched"][0].as_bool() == Some(p.matches(&r.text)),
            _ => false,
        };
        if !agree {
            wrong.push(format!(
                "pattern {:?}, name {:?}: Go {a}, slipway {:?}",
                r.patterns[0],
                r.text,
                ours.map(|p| p.matches(&r.text)).map_err(|e| e.to_string())
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
