//! Version ranges (`images-by-semver`, `--tag-semver`) against the Go code `skopeo sync`
//! runs: github.com/Masterminds/semver/v3 v3.4.0 (`NewConstraint`, then `NewVersion` and
//! `Check` for each tag), asked through `scripts/oracle`. The cases are the constraints and
//! versions of Masterminds' own test tables, read from its Go module at test time, ours,
//! and generated ones; the answers are always the oracle's.
//!
//! `scripts/go-tools oracle` builds the oracle (seconds; `scripts/setup` runs it, and the
//! test kit runs it when needed). When it cannot be built this test fails: it never skips.

use std::collections::HashSet;

use serde_json::{Value, json};
use slipway_semver::Constraints;
use slipway_testkit::{ask_oracle, go_string, go_table_rows, oracle_upstream};

/// Every Go string literal of one table row, in order, up to a `//` comment.
fn strings_in(row: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = row;
    loop {
        let quote = rest.find(['"', '`']);
        let comment = rest.find("//");
        let Some(at) = quote else { break };
        if comment.is_some_and(|c| c < at) {
            break;
        }
        let (s, after) = go_string(&rest[at..]).unwrap_or_else(|| panic!("a bad string in {row}"));
        out.push(s);
        rest = after;
    }
    out
}

/// The rows of the table that opens on the first line holding `start` after `after`.
fn rows(source: &str, after: &str, start: &str, at_least: usize) -> Vec<Vec<String>> {
    let from = source
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} is not in the upstream file"));
    let rows: Vec<Vec<String>> = go_table_rows(&source[from..], start)
        .into_iter()
        .map(strings_in)
        .filter(|r| !r.is_empty())
        .collect();
    assert!(
        rows.len() >= at_least,
        "{} rows in {after:?}, expected at least {at_least}: has the upstream file changed shape?",
        rows.len()
    );
    rows
}

/// Adds what is new, keeping the first order.
fn add(
    list: &mut Vec<String>,
    seen: &mut HashSet<String>,
    items: impl IntoIterator<Item = String>,
) {
    for s in items {
        if seen.insert(s.clone()) {
            list.push(s);
        }
    }
}

/// The constraints and versions of Masterminds' `constraints_test.go` and
/// `version_test.go` tables.
fn upstream() -> (Vec<String>, Vec<String>) {
    let cons = oracle_upstream("constraints_test.go");
    let vers = oracle_upstream("version_test.go");
    let (mut constraints, mut seen_c) = (vec![], HashSet::new());
    let (mut versions, mut seen_v) = (vec![], HashSet::new());

    // Tables whose rows are (constraint, version, ...).
    for (func, start, at_least) in [
        ("func TestParseConstraint(", "tests :=", 10),
        ("func TestConstraintCheck(", "tests :=", 100),
        ("func TestConstraintsCheck(", "tests :=", 100),
        (
            "func TestConstraintsCheckIncludePrerelease(",
            "tests :=",
            100,
        ),
        ("func TestConstraintsValidate(", "tests :=", 60),
        ("func TestConstraintsValidate(", "tests2 :=", 30),
        (
            "func TestConstraintsValidateIncludePrerelease(",
            "tests :=",
            60,
        ),
    ] {
        for row in rows(&cons, func, start, at_least) {
            add(&mut constraints, &mut seen_c, row.first().cloned());
            // The second string is the version (in TestParseConstraint, what the
            // constraint reads as); a third is a message, not a version.
            add(&mut versions, &mut seen_v, row.get(1).cloned());
        }
    }
    // Tables whose strings are all constraints.
    for (func, at_least) in [
        ("func TestNewConstraint(", 15),
        ("func TestRewriteRange(", 5),
        ("func TestConstraintString(", 5),
        ("func TestTextMarshalConstraints(", 5),
        ("func TestTextUnmarshalConstraints(", 5),
    ] {
        for row in rows(&cons, func, "tests :=", at_least) {
            add(&mut constraints, &mut seen_c, row);
        }
    }
    // The fuzzer's seeds: one string a line.
    let fuzz = &cons[cons.find("testcases := []string{").expect("the fuzz seeds")..];
    let seeds: Vec<String> = fuzz
        .lines()
        .skip(1)
        .map(str::trim)
        .take_while(|l| *l != "}")
        .flat_map(strings_in)
        .collect();
    assert!(seeds.len() >= 15, "too few fuzz seeds: {seeds:?}");
    add(&mut constraints, &mut seen_c, seeds);

    // Versions: every string of the version tables.
    for (func, start, at_least) in [
        ("func TestStrictNewVersion(", "tests :=", 40),
        ("func TestNewVersion(", "tests :=", 40),
        ("Without loose NewVersion", "tests :=", 40),
        ("func TestCoerceString(", "tests :=", 10),
        ("func TestCompare(", "tests :=", 15),
        ("func TestLessThan(", "tests :=", 3),
        ("func TestGreaterThan(", "tests :=", 5),
    ] {
        for row in rows(&vers, func, start, at_least) {
            add(&mut versions, &mut seen_v, row);
        }
    }
    // TestNewVersionCheckError writes one field a line.
    let check = &vers[vers
        .find("func TestNewVersionCheckError(")
        .expect("its table")..];
    let check = &check[..check.find("func TestNew(").expect("the next test")];
    let lone: Vec<String> = check
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('"') && l.ends_with("\","))
        .flat_map(strings_in)
        .collect();
    assert!(
        lone.len() >= 10,
        "too few versions in TestNewVersionCheckError"
    );
    add(&mut versions, &mut seen_v, lone);

    assert!(
        constraints.len() >= 180,
        "{} constraints",
        constraints.len()
    );
    assert!(versions.len() >= 120, "{} versions", versions.len());
    (constraints, versions)
}

/// Tags of our own, where the Go library's reading is surprising or easy to get wrong.
const OUR_TAGS: &[&str] = &[
    "latest",
    "stable",
    "",
    "v",
    "v1.2",
    "V1.2",
    "vv1.2",
    "1.2.3-alpha.1",
    "01.2.3",
    "1.02.03",
    "1.2.3+build",
    "1.2.3+build.5",
    "1.2.3+",
    "1.2.3+a+b",
    "3.12",
    "v3.19.1",
    "1.0.0-rc.1",
    "1.0.0-rc.1+b",
    "1.2.3-",
    "1.2.3-01",
    "1.2.3-0",
    "1.2.3-a..b",
    "1.2.3-x-y",
    "1.2.3--",
    "1.2.3.4",
    "1.2.",
    "1..2",
    " 1.2.3",
    "1.2.3 ",
    "0",
    "0.0.0",
    "0.0.1",
    "0.0.5-rc.1",
    "0.1.0",
    "1",
    "2",
    "3",
    "1-2",
    "1.2-3",
    "2.0.0-0",
    "1.0.0-0",
    "1.2.3-alpha.2",
    "1.2.3-alpha.10",
    "1.2.3-beta",
    "1.2.4-beta.2",
    "4.1.0-alpha",
    "9.9.9",
    "10.0.0",
    "1.10.0",
    "11.1.0",
    "18446744073709551615",
    "18446744073709551616",
    "1.18446744073709551616",
    "1.2.3-18446744073709551616",
    "1.2.3-99999999999999999999.1",
    "20240101",
    "2024.01.15",
    "2024.1.15-1",
    "1.2.3_4",
    "sha256-abc",
    "stable-1.2",
    "1.25-alpine",
    "1.25.3-bookworm",
    "v1.2.3-rc1-with-hyphen",
    "1.2.3\n",
    "1.２.3",
];

/// Ranges of our own: operators and wildcards in every place, the hyphen form and its
/// traps, separators, and what `NewConstraint` refuses.
const OUR_RANGES: &[&str] = &[
    "",
    " ",
    "*",
    "x",
    "X",
    "x.x.x",
    "*.*",
    "^*",
    "~*",
    "!=*",
    "<=*",
    ">=*",
    ">*",
    "<*",
    "=*",
    "^x.1",
    "~0",
    "~0.0",
    "~0.x",
    "^0",
    "^0.0",
    "^0.x",
    "^0.0.x",
    "^0.0.0",
    "^1.x",
    "~> 1.2",
    "=> 1",
    "=< 2",
    "= v1.2",
    "v1.2",
    "V1.2",
    ">= 1.2, < 2",
    ">= 1.2,< 2",
    ">= 1.2 ,< 2",
    ">= 1.2 , < 2",
    ">= 1.2,, < 2",
    ",>= 1.2",
    ">= 1.2,",
    ">=1.2<2",
    ">= 1.2 < 2 || 3.x",
    "1 ||",
    "|| 1",
    "1 ||| 2",
    "1 | 2",
    "|",
    "1|2",
    "1.|",
    "*.|",
    "1.x.|",
    "1||2 - 3",
    "1 - 2||3",
    "1 - 2 || 3 - 4",
    " 1 - 2",
    "1 - 2 - 3",
    "1-2",
    "1 -2",
    "1 -  2",
    "1\t-\t2",
    ">1 - 2",
    "a1 - 2",
    "x1 - 2",
    "1.2.3.4 - 5",
    "1 - 2.3.4.5",
    "1 - v",
    "1 - 2, 3 - 4",
    "2 - 3 2 - 3",
    "1.2.3 - ",
    "1.2 - 1.4.5",
    "1.2.3-alpha - 1.2.3",
    "\t>=1\n",
    "\u{b}>=1",
    ">= 01.2",
    "1.2.3-01",
    "x-01",
    "1.x-01",
    ">=1.0.0-rc.1",
    ">=1.0.0-0 <2",
    "~1.2.3-beta.2",
    "^1.2.0-alpha.0",
    "!=1.2.x-rc.1",
    "!=1.x-rc.1",
    ">1.2.x-rc.1",
    "<=1.2-rc.1",
    "1.2.3+build",
    "1.2.x+build",
    "18446744073709551616",
    "1.18446744073709551615",
    "xx",
    "1x",
    "1.x2",
    "**",
    "!1",
    "==1",
    "<>1",
    "~=1",
    "= 1",
    "= ,1",
    ">=",
    ">= >=1",
    "vx",
    "v*",
    "v",
    "1 2",
    "1.2.3 4.5.6",
    "latest",
    ">= bar",
    "1.２",
];

/// A small deterministic generator for the fuzz-like cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
    fn text(&mut self, from: &[&str], max: u64) -> String {
        let n = 1 + self.next() % max;
        (0..n).map(|_| self.pick(from)).collect()
    }
}

/// Ranges and tags made of the pieces the grammars care about: ranges are comparisons
/// joined by separators, a quarter of them with a stray piece inserted somewhere.
fn generated() -> (Vec<String>, Vec<String>) {
    const OPS: &[&str] = &[
        "", "", "", "=", "!=", ">", "<", ">=", "=>", "<=", "=<", "~", "~>", "^",
    ];
    const NUMS: &[&str] = &["0", "1", "2", "10", "01", "x", "X", "*", "3"];
    const EXTRA: &[&str] = &[
        "", "", "", "", "-rc.1", "-0", "-01", "-a-b", "+b", "-rc+b.1",
    ];
    const SEPS: &[&str] = &[" ", " ", ",", ", ", " , ", " || ", "||", " - ", "  ", "\t"];
    const STRAY: &[&str] = &[
        " ", ",", "||", "|", "-", " - ", ".", "v", "x", "+", "=", "!", ">", "~", "^", "a", "1",
        "..", "\n",
    ];
    const TAG: &[&str] = &[
        "v", "1", "0", "01", "2", "3", "10", ".", ".", ".", "-", "+", "rc", "alpha", "x", "0.",
        "1.", ".1", "-0", "-rc.1", "+b",
    ];
    let mut rng = Rng(0x5eed_2024_0bad_cafe);
    let version = |rng: &mut Rng| {
        let mut v = String::new();
        if rng.next().is_multiple_of(5) {
            v.push('v');
        }
        v.push_str(rng.pick(NUMS));
        for _ in 0..rng.next() % 4 {
            v.push('.');
            v.push_str(rng.pick(NUMS));
        }
        v.push_str(rng.pick(EXTRA));
        v
    };
    let mut ranges = vec![];
    for _ in 0..1500 {
        let mut r = String::new();
        for i in 0..1 + rng.next() % 4 {
            if i > 0 {
                r.push_str(rng.pick(SEPS));
            }
            r.push_str(rng.pick(OPS));
            if rng.next().is_multiple_of(3) {
                r.push(' ');
            }
            r.push_str(&version(&mut rng));
        }
        if rng.next().is_multiple_of(4) {
            let at = (rng.next() % (r.len() as u64 + 1)) as usize;
            r.insert_str(at, rng.pick(STRAY));
        }
        ranges.push(r);
    }
    // Half the tags are versions of the same pieces (wildcards and all), half are noise.
    let mut tags: Vec<String> = (0..75).map(|_| rng.text(TAG, 7)).collect();
    tags.extend((0..75).map(|_| version(&mut rng)));
    (ranges, tags)
}

/// What slipway answers, in the oracle's shape.
fn ours(range: &str, tags: &[String]) -> Value {
    match range.parse::<Constraints>() {
        Ok(c) => json!({"matched": tags.iter().map(|t| c.matches(t)).collect::<Vec<_>>()}),
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an empty error for {range:?}");
            json!({"error": e.to_string()})
        }
    }
}

/// Asks the oracle about every range with `tags` and returns each disagreement.
fn disagreements(ranges: &[String], tags: &[String]) -> Vec<String> {
    let questions: Vec<Value> = ranges
        .iter()
        .map(|r| json!({"semver": r, "tags": tags}))
        .collect();
    let answers = ask_oracle(&questions);
    let mut out = vec![];
    for (range, go) in ranges.iter().zip(&answers) {
        let rust = ours(range, tags);
        match (go.get("error"), rust.get("error")) {
            (Some(g), None) => {
                out.push(format!("{range:?}: Go refuses it ({g}), slipway does not"))
            }
            (None, Some(r)) => {
                out.push(format!("{range:?}: slipway refuses it ({r}), Go does not"))
            }
            (Some(_), Some(_)) => {}
            (None, None) => {
                let go = go["matched"].as_array().cloned().unwrap_or_default();
                let rust = rust["matched"].as_array().unwrap();
                assert_eq!(go.len(), tags.len(), "one answer per tag for {range:?}");
                for ((tag, g), r) in tags.iter().zip(&go).zip(rust) {
                    if g != r {
                        out.push(format!(
                            "{range:?} with tag {tag:?}: Go says {g}, slipway {r}"
                        ));
                    }
                }
            }
        }
    }
    out
}

fn assert_agree(what: &str, ranges: &[String], tags: &[String]) {
    let bad = disagreements(ranges, tags);
    assert!(
        bad.is_empty(),
        "{what}: {} disagreements with Masterminds/semver, the first ones:\n{}",
        bad.len(),
        bad.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn upstream_tables_agree_with_masterminds() {
    let (constraints, versions) = upstream();
    let mut tags = versions;
    let mut seen: HashSet<String> = tags.iter().cloned().collect();
    add(&mut tags, &mut seen, constraints.iter().cloned());
    add(&mut tags, &mut seen, OUR_TAGS.iter().map(|s| s.to_string()));
    assert_agree("upstream constraints", &constraints, &tags);

    // The tables must exercise both outcomes, or the comparison proves little.
    let refused = constraints
        .iter()
        .filter(|c| c.parse::<Constraints>().is_err())
        .count();
    eprintln!(
        "{} upstream constraints, {refused} refused, {} tags",
        constraints.len(),
        tags.len()
    );
    assert!(
        refused >= 5,
        "only {refused} upstream constraints are refused"
    );
    assert!(constraints.len() - refused >= 150);
}

#[test]
fn our_ranges_and_tags_agree_with_masterminds() {
    let (_, versions) = upstream();
    let mut tags: Vec<String> = OUR_TAGS.iter().map(|s| s.to_string()).collect();
    let mut seen: HashSet<String> = tags.iter().cloned().collect();
    add(&mut tags, &mut seen, versions);
    let ranges: Vec<String> = OUR_RANGES.iter().map(|s| s.to_string()).collect();
    assert_agree("our ranges", &ranges, &tags);
}

#[test]
fn generated_ranges_and_tags_agree_with_masterminds() {
    let (ranges, generated_tags) = generated();
    let mut tags: Vec<String> = OUR_TAGS.iter().map(|s| s.to_string()).collect();
    let mut seen: HashSet<String> = tags.iter().cloned().collect();
    add(&mut tags, &mut seen, generated_tags);
    let parsed = ranges
        .iter()
        .filter(|r| r.parse::<Constraints>().is_ok())
        .count();
    // Both outcomes must be common for the generator to be worth its time.
    assert!(
        parsed >= 150 && ranges.len() - parsed >= 150,
        "{parsed} ranges parse"
    );
    let any: Constraints = ">=0.0.0-0".parse().unwrap();
    let versions = tags.iter().filter(|t| any.matches(t)).count();
    eprintln!(
        "{parsed} of {} ranges parse, {versions} of {} tags are versions",
        ranges.len(),
        tags.len()
    );
    assert!(versions >= 60, "only {versions} tags are versions");
    assert_agree("generated ranges", &ranges, &tags);
}

/// A table of our own, written down so it reads as documentation: each range, tags it
/// selects, tags it does not. Go is asked too, so the table cannot drift from it.
#[test]
fn hand_written_table() {
    #[rustfmt::skip]
    let table: &[(&str, &[&str], &[&str])] = &[
        (">= 1.4, < 2", &["1.4", "v1.5.2", "1.99.0", "01.4.0", "1.4.0+build"],
            &["1.3.9", "2.0.0", "1.5.0-rc.1", "latest", "1.4.0.1", "V1.5.0"]),
        (">= 1.4 < 2", &["1.4.0"], &["2.0.0"]),
        ("~1.2", &["1.2.0", "v1.2.9"], &["1.3.0", "1.1.9", "1.2.1-beta"]),
        ("~>3.19", &["v3.19.1", "3.19"], &["3.20.0", "3.12"]),
        ("^0.2.3", &["0.2.3", "0.2.9"], &["0.3.0", "1.0.0", "0.2.2"]),
        ("^1.2.0-alpha.0", &["1.2.1-alpha.1", "1.9.0"], &["2.0.0", "1.2.0-0"]),
        // `*` matches every release and no prerelease.
        ("*", &["1.0.0", "v3", "0.0.0"], &["1.0.0-rc.1", "latest", ""]),
        // A prerelease anywhere in an alternative lets prereleases through it.
        (">=1.0.0-0", &["1.0.0-rc.1", "2.0.0-beta", "1.0.0"], &["0.9.0", "0.9.0-rc.1"]),
        (">=1.0.0-0 || >=3", &["1.0.0-rc.1"], &["0.9.0"]),
        (">=2 || >=1.0.0-0", &["1.5.0-rc.1", "2.1.0"], &["0.1.0"]),
        ("1.2.x", &["1.2.0", "1.2.7"], &["1.3.0", "1.2.7-rc.1"]),
        ("v1.2", &["1.2.5"], &["1.3.0"]),
        ("1.2 - 1.4.5", &["1.2.0", "1.4.5", "1.3"], &["1.4.6", "1.1.9"]),
        (">=1 <2 || >=3", &["1.0.0", "3.1.0"], &["2.0.0"]),
        // Wildcards read per operator.
        ("<1.x", &["0.9.9"], &["1.0.0", "1.5.0"]),
        (">1.2", &["1.3.0", "2.0.0"], &["1.2.9"]),
        (">1", &["2.0.0"], &["1.9.9"]),
        ("<=1.2", &["1.2.99", "0.1.0"], &["1.3.0"]),
        ("!=1.x", &["2.0.0", "0.9.0"], &["1.0.0", "1.9.9"]),
        // Surprises kept from the Go library.
        ("^*", &["0.0.0", "v0.0.0+build"], &["0.0.1", "1.0.0"]),
        ("<=*", &["0.0.7"], &["0.1.0", "1.0.0"]),
        ("!=*", &["1.0.0", "0.0.1"], &["0.0.0"]),
        ("~*", &["0.0.0", "7.1.2"], &["7.1.2-rc.1"]),
        ("*.|", &["1.0.0"], &["1.0.0-rc.1"]),
        ("1||2 - 3", &["1.0.0", "2.5.0", "5.0.0"], &["0.5.0"]),
        (">= 01.2", &["1.2.0"], &["1.1.0"]),
    ];
    #[rustfmt::skip]
    let refused: &[&str] = &[
        "", " ", "1 ||", ">= bar", "1.2.3.4", "1,,2", ",1", "1,", ">=", ">= , 1", "1 - 2 - 3",
        ">1 - 2", "x1", "1.x2", "1 | 2", "1.2.3-01", "18446744073709551616", "==1", "V1.2",
        ">=1<2", "latest",
    ];

    let mut questions = vec![];
    for (range, yes, no) in table {
        let c: Constraints = range
            .parse()
            .unwrap_or_else(|e| panic!("{range:?} is refused: {e}"));
        for tag in *yes {
            assert!(c.matches(tag), "{range:?} should select {tag:?}");
        }
        for tag in *no {
            assert!(!c.matches(tag), "{range:?} should not select {tag:?}");
        }
        let tags: Vec<&str> = yes.iter().chain(no.iter()).copied().collect();
        let expected: Vec<bool> = yes
            .iter()
            .map(|_| true)
            .chain(no.iter().map(|_| false))
            .collect();
        questions.push((
            json!({"semver": range, "tags": tags}),
            json!({"matched": expected}),
        ));
    }
    for range in refused {
        let e = range
            .parse::<Constraints>()
            .err()
            .unwrap_or_else(|| panic!("{range:?} should be refused"));
        assert!(!e.to_string().is_empty());
        questions.push((json!({"semver": range, "tags": ["1.0.0"]}), Value::Null));
    }
    let answers = ask_oracle(&questions.iter().map(|(q, _)| q.clone()).collect::<Vec<_>>());
    for ((q, expected), go) in questions.iter().zip(&answers) {
        if expected.is_null() {
            assert!(
                go.get("error").is_some(),
                "Go accepts {}: {go}",
                q["semver"]
            );
        } else {
            assert_eq!(
                go, expected,
                "Go disagrees with the table on {}",
                q["semver"]
            );
        }
    }
}

#[test]
fn errors_say_what_is_wrong() {
    let err = |r: &str| r.parse::<Constraints>().unwrap_err().to_string();
    assert!(err(">= bar").contains("`bar`"), "{}", err(">= bar"));
    assert!(err("=! 1").contains("`=!`"), "{}", err("=! 1"));
    assert!(err(">=").contains("no version after"), "{}", err(">="));
    assert!(err("1.x2").contains("`x2`"), "{}", err("1.x2"));
    assert!(
        err("1.2.3-01").contains("leading") || err("1.2.3-01").contains("start with 0"),
        "{}",
        err("1.2.3-01")
    );
    assert!(err("").contains("no version"), "{}", err(""));
    let c: Constraints = ">= 1.4, < 2".parse().unwrap();
    assert_eq!(c.to_string(), ">= 1.4, < 2");
}
