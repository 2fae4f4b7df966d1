//! Durations against Go's own `time.ParseDuration`, asked through `scripts/oracle`: every
//! input of the Go toolchain's tables (`time/time_test.go`, read at test time) and ours
//! gives Go's value, or Go's error text.

use serde_json::json;
use slipway_dockerfile::parse_go_duration;
use slipway_testkit::{ask_oracle, go_source, go_string, go_table_rows};

#[test]
fn durations_parse_as_go_parses_them() {
    let source = go_source("time/time_test.go");
    let mut inputs: Vec<String> = vec![];
    for table in [
        "var parseDurationTests = []struct {",
        "var parseDurationErrorTests = []struct {",
    ] {
        let rows = go_table_rows(&source, table);
        assert!(rows.len() > 10, "{table} has {} rows", rows.len());
        inputs.extend(rows.iter().map(|r| go_string(&r[1..]).expect(r).0));
    }
    for ours in [
        "1.001s",
        "+30s",
        "-0",
        "+0",
        "0.1ns",
        "1.0000000000000000000001s",
        "1e3s",
        "1s ",
        " 1s",
        "1S",
        "1h1",
        "--1s",
        "+-1s",
        "١s",
        "1µs",
        "1μs",
        "2562047h47m16.854775807s",
        "2562047h47m16.854775808s",
        "-2562047h47m16.854775808s",
        ".5h",
        "5.h",
        "1.5e",
    ] {
        inputs.push(ours.to_string());
    }
    let answers = ask_oracle(
        &inputs
            .iter()
            .map(|i| json!({ "duration": i }))
            .collect::<Vec<_>>(),
    );
    let mut wrong = vec![];
    for (input, go) in inputs.iter().zip(&answers) {
        let ours = parse_go_duration(input);
        let agree = match (&ours, go["nanos"].as_i64(), go["error"].as_str()) {
            (Ok(n), Some(g), None) => *n == g,
            (Ok(0), None, None) => true, // a zero duration: Go's answer leaves nanos out
            (Err(e), None, Some(g)) => e.to_string() == g,
            _ => false,
        };
        if !agree {
            wrong.push(format!("{input:?}: Go {go}, slipway {ours:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(inputs.len() > 60, "{}", inputs.len());
}
