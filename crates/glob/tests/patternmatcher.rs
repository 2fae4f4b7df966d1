//! `.dockerignore` and COPY wildcards against the Go code Docker and BuildKit run:
//! moby/patternmatcher (with its `ignorefile` reader) and Go's `filepath.Match`, asked
//! through `scripts/oracle`. The cases are patternmatcher's own test tables, read from its
//! Go module at test time, and ours; the answers are always the oracle's.
//!
//! `scripts/go-tools oracle` builds the oracle (seconds; `scripts/setup` runs it, and the
//! test kit runs it when needed). When it cannot be built this test fails: it never skips.

use serde_json::{Value, json};
use slipway_glob::{DockerIgnore, Pattern};
use slipway_testkit::{ask_oracle, go_string, go_table_rows, oracle_upstream};

/// One row of an upstream table: the patterns, the text, and what the table expects.
struct Row {
    patterns: Vec<String>,
    text: String,
}

/// Reads the rows of the table that starts on the line holding `start`: `{"p", "t", ...}`
/// or `{[]string{"p", ...}, "t", ...}`.
fn table(source: &str, start: &str, at_least: usize) -> Vec<Row> {
    let rows: Vec<Row> = go_table_rows(source, start)
        .into_iter()
        .map(|line| {
            let body = &line[1..];
            let (patterns, rest) = match body.strip_prefix("[]string{") {
                Some(mut list) => {
                    let mut ps = vec![];
                    while let Some((p, rest)) = go_string(list) {
                        ps.push(p);
                        list = rest.trim_start().strip_prefix(',').unwrap_or(rest);
                    }
                    (ps, list.trim_start().strip_prefix("},").expect(line))
                }
                None => {
                    let (p, rest) = go_string(body).expect(line);
                    (vec![p], rest.trim_start().strip_prefix(',').expect(line))
                }
            };
            let (text, _) = go_string(rest).expect(line);
            Row { patterns, text }
        })
        .collect();
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
    let upstream = oracle_upstream("patternmatcher_test.go");
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
    let answers = ask_oracle(&questions);
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
    let upstream = oracle_upstream("patternmatcher_test.go");
    let mut rows = table(&upstream, "var matchTests = []matchTest{", 40);
    rows.extend(our_rows());
    let questions: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "match": r.patterns[0], "names": [r.text] }))
        .collect();
    let answers = ask_oracle(&questions);
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
