//! The Dockerfile parser against BuildKit's own front end (`parser.Parse`, then
//! `instructions.Parse`, as a build reads the file), asked through `scripts/oracle`: for
//! BuildKit's parser test files (read from its Go module at test time) and cases of our
//! own, slipway accepts what BuildKit accepts and refuses what it refuses, and finds the
//! same stages and instructions on the same lines.

use serde_json::{Value, json};
use slipway_testkit::{ask_oracle, go_tool};

/// Cases BuildKit's test files do not cover.
const OURS: &[&str] = &[
    "FROM a\nCOPY --chown=1:2 --chmod=0644 x /y\n",
    "FROM a AS build\nRUN <<EOF\necho hi\nEOF\nFROM build\nCOPY --from=build /x /y\n",
    "ARG V=1\nFROM a:${V}\nARG V\nRUN echo $V\n",
    "# escape=`\nFROM a\nRUN echo `\n  hi\n",
    "FROM a\nHEALTHCHECK --interval=30s --timeout=1.001s CMD true\n",
    "FROM a\nHEALTHCHECK --interval=-1s CMD true\n",
    "FROM a\nONBUILD ONBUILD RUN x\n",
    "FROM a\nONBUILD FROM b\n",
    "FROM a\nCOPY\n",
    "FROM a\nEXPOSE\n",
    "FROM a\nUNKNOWN x\n",
    "RUN x\n",
    "FROM a\nRUN --mount=type=cache,target=/c make\n",
    "FROM a\nRUN --network=none true\n",
    "FROM a\nSHELL [\"/bin/bash\", \"-c\"]\nRUN x\n",
    "FROM a\nSHELL /bin/bash -c\n",
    "FROM a\nSTOPSIGNAL SIGKILL\nUSER 1:2\nWORKDIR /x\nVOLUME [\"/v\"]\n",
    "FROM a\nLABEL a=b c=\"d e\"\nMAINTAINER me\n",
    "FROM a\nENV A=1 B\n",
    "FROM a\nCMD [\"a\", \n",
];

/// What BuildKit reads but slipway refuses, saying so (exit 2 in a build): features it does
/// not implement.
const UNSUPPORTED: &[&str] = &[
    "FROM a\nADD --checksum=sha256:0123 https://example.test/x /x\n",
    "FROM a\nCOPY --link --parents a/b /c/\n",
];

fn cases() -> Vec<(String, String)> {
    let dir = go_tool("oracle");
    let mut cases = vec![];
    for set in ["testfiles", "testfiles-negative"] {
        let mut names: Vec<_> = std::fs::read_dir(dir.join(set))
            .unwrap_or_else(|e| panic!("{set}: {e}"))
            .flatten()
            .map(|e| e.path())
            .collect();
        names.sort();
        assert!(names.len() > 3, "{set} has {} cases", names.len());
        for case in names {
            let file = case.join("Dockerfile");
            let text = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            cases.push((
                format!("{set}/{}", case.file_name().unwrap().to_string_lossy()),
                String::from_utf8_lossy(&text).into_owned(),
            ));
        }
    }
    for (i, text) in OURS.iter().enumerate() {
        cases.push((format!("ours/{i}"), text.to_string()));
    }
    cases
}

/// What slipway finds, in the oracle's shape.
fn ours(text: &str) -> Value {
    match slipway_dockerfile::parse(text) {
        Err(e) => json!({ "error": e.message, "line": e.line }),
        Ok(df) => json!({
            "stages": df.stages.iter().map(|s| json!({
                "line": s.line,
                "commands": s.instructions.iter().map(|i| json!({
                    "name": i.kind.keyword(),
                    "line": i.line,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
    }
}

#[test]
fn dockerfiles_read_as_buildkit_reads_them() {
    let cases = cases();
    let answers = ask_oracle(
        &cases
            .iter()
            .map(|(_, text)| json!({ "dockerfile": text }))
            .collect::<Vec<_>>(),
    );
    let mut wrong = vec![];
    let (mut accepted, mut refused) = (0, 0);
    for ((name, text), bk) in cases.iter().zip(&answers) {
        let us = ours(text);
        let agree = match (bk.get("error"), us.get("error")) {
            (Some(_), Some(_)) => {
                refused += 1;
                // Where BuildKit names a line, slipway names the same one.
                bk["line"]
                    .as_u64()
                    .is_none_or(|l| l == 0 || Some(l) == us["line"].as_u64())
            }
            (None, None) => {
                accepted += 1;
                bk["stages"] == us["stages"]
            }
            _ => false,
        };
        if !agree {
            wrong.push(format!("{name}: BuildKit {bk}\n    slipway {us}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        accepted > 20 && refused > 5,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn what_slipway_does_not_implement_is_refused_by_name() {
    let answers = ask_oracle(
        &UNSUPPORTED
            .iter()
            .map(|text| json!({ "dockerfile": text }))
            .collect::<Vec<_>>(),
    );
    for (text, bk) in UNSUPPORTED.iter().zip(&answers) {
        assert!(bk.get("error").is_none(), "BuildKit reads {text:?}: {bk}");
        let e = slipway_dockerfile::parse(text).unwrap_err();
        assert!(
            e.message.contains("is not supported by slipway"),
            "{text:?}: {}",
            e.message
        );
    }
}
