//! Release and namespace templates and slug hashes, checked against the Go code werf runs:
//! text/template with `[[ ]]` delimiters, and spaolacci/murmur3 (through `scripts/oracle`).

use serde_json::{Value, json};
use slipway_testkit::ask_oracle;
use slipway_werf::deploy::{murmur3_32, render_template};

#[test]
fn slug_hashes_are_murmur3_as_werf_computes_them() {
    let mut inputs: Vec<String> = (0..=13)
        .map(|n| "abcdefghijklmnop"[..n].to_string())
        .collect();
    inputs.extend(
        [
            "My_App-Prod",
            "demo.prod",
            "café-production",
            "x".repeat(70).as_str(),
            "ΑΒΓ",
            "tab\tand\nnewline",
        ]
        .map(String::from),
    );
    let questions: Vec<Value> = inputs.iter().map(|s| json!({ "murmur3": s })).collect();
    let answers = ask_oracle(&questions);
    assert_eq!(answers.len(), inputs.len());
    for (input, a) in inputs.iter().zip(&answers) {
        assert_eq!(
            format!("{:x}", murmur3_32(input.as_bytes())),
            a["hash"].as_str().unwrap(),
            "{input:?}"
        );
    }
}

#[test]
fn deploy_templates_render_as_go_renders_them_or_are_refused_by_name() {
    let templates = [
        "[[ project ]]-[[ env ]]",
        "[[ project ]]",
        "[[project]]-[[env]]",
        "static-name",
        "",
        "[[ namespace ]]-[[ project ]]",
        "a [[- env ]] b",
        "a [[ env -]] b",
        "a\n\t[[- project -]]\n\tb",
        "[[-project]]",
        "[[ env-]]",
        "x]]y",
        "[[ project ",
        "[[ ]]",
        "[[ \"quoted\" ]]",
        "[[ env | upper ]]",
        "[[ nope ]]",
        "[[/* note */]]",
        "[[ .Values ]]",
        "[[ project ]][[ env ]][[ project ]]",
    ];
    let mut questions = Vec::new();
    let mut cases = Vec::new();
    for t in templates {
        for namespace in [None, Some("apps")] {
            let mut q = json!({ "deploy_template": t, "project": "demo", "env": "prod" });
            if let Some(ns) = namespace {
                q["namespace"] = json!(ns);
            }
            questions.push(q);
            cases.push((t, namespace));
        }
    }
    let answers = ask_oracle(&questions);
    let (mut same, mut refused) = (0, 0);
    for ((t, namespace), a) in cases.iter().zip(&answers) {
        let ours = render_template(t, "demo", "prod", *namespace);
        match (&ours, a["text"].as_str()) {
            (Ok(text), Some(go)) => {
                assert_eq!(text, go, "{t:?} with namespace {namespace:?}");
                same += 1;
            }
            (Ok(text), None) => panic!(
                "{t:?} with namespace {namespace:?}: slipway rendered {text:?}, Go refused it: {}",
                a["error"]
            ),
            (Err(e), Some(go)) => {
                // Go renders it; slipway must refuse it by name, never render otherwise.
                assert!(e.contains("is not supported"), "{t:?}: {e} (Go: {go:?})");
                refused += 1;
            }
            (Err(_), None) => refused += 1,
        }
    }
    assert!(same >= 20, "only {same} templates rendered alike");
    assert!(refused >= 10, "only {refused} templates refused");
}
