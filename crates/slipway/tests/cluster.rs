//! `slipway cluster trust apply` against a loopback fake of the Kubernetes API
//! (`FakeKube`): it waits for the DaemonSet, prints one line per node, and maps timeouts
//! and bad input to exit codes 3 and 2.

mod common;

use serde_json::json;
use slipway_testkit::{FakeKube, TestPki};

const NS: &str = "slipway-system";
const DS: &str = "slipway-node-trust";

fn pod(name: &str, node: &str, sum: &serde_json::Value) -> serde_json::Value {
    let v = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": NS,
            "labels": { "app.kubernetes.io/name": DS },
            "annotations": { "slipway.dev/bundle-sha256": sum } },
        "spec": { "nodeName": node, "containers": [ { "name": "node-trust", "image": "ghcr.io/example/slipway:0.1" } ] },
        "status": { "phase": "Running", "conditions": [ { "type": "Ready", "status": "True" } ] }
    });
    serde_json::from_value::<k8s_openapi::api::core::v1::Pod>(v.clone()).expect("a Pod");
    v
}

/// Marks the DaemonSet ready on n1 and n2 on its second poll.
fn rolls_out(fake: &FakeKube) {
    let mut polls = 0;
    fake.on_request(move |store, r| {
        if r.method == "GET" && r.path.ends_with(&format!("/daemonsets/{DS}")) {
            polls += 1;
            if polls == 2 {
                let ds = store.get("DaemonSet", NS, DS).unwrap();
                let sum = ds["spec"]["template"]["metadata"]["annotations"]["slipway.dev/bundle-sha256"].clone();
                store.put(pod("agent-n1", "n1", &sum));
                store.put(pod("agent-n2", "n2", &sum));
                store.set_status("DaemonSet", NS, DS, json!({
                    "currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberMisscheduled": 0,
                    "numberReady": 2, "updatedNumberScheduled": 2, "observedGeneration": ds["metadata"]["generation"]
                }));
            }
        }
    });
}

fn args<'a>(ca: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "cluster",
        "trust",
        "apply",
        "--trust",
        ca,
        "--agent-image",
        "ghcr.io/example/slipway:0.1",
        "--kube-context",
        "fake-ctx",
        "--poll-interval",
        "50ms",
    ];
    a.extend_from_slice(extra);
    a
}

#[test]
fn cluster_trust_apply_waits_for_every_node_and_reports_per_node() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let ca = format!("registry.test:5000={}", pki.ca().display());
    let fake = FakeKube::start();
    let kc = fake.write_kubeconfig(&dir.path().join("kubeconfig"), "fake-ctx", "default");
    let env = [("KUBECONFIG", kc.to_str().unwrap())];
    rolls_out(&fake);

    let run = common::slipway(
        dir.path(),
        &args(&ca, &["--timeout", "20s", "--output", "json"]),
        &env,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json["ready"], true);
    let nodes = run.json["report"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(
        (nodes[0]["node"].as_str(), nodes[0]["ready"].as_bool()),
        (Some("n1"), Some(true))
    );
    let patches: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 6);
    assert!(
        patches
            .iter()
            .all(|r| r.param("fieldManager") == Some("slipway"))
    );

    // Again, in words: nothing changed, so it is ready at once.
    let run = common::slipway(dir.path(), &args(&ca, &[]), &env);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("node n1: trusts (pod agent-n1, bundle "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("2/2 nodes trust registry.test:5000"),
        "{}",
        run.stdout
    );
}

#[test]
fn cluster_trust_apply_exits_3_on_timeout_and_2_on_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let ca = format!("registry.test:5000={}", pki.ca().display());
    let fake = FakeKube::start();
    let kc = fake.write_kubeconfig(&dir.path().join("kubeconfig"), "fake-ctx", "default");
    let env = [("KUBECONFIG", kc.to_str().unwrap())];

    let run = common::slipway(
        dir.path(),
        &args(&ca, &["--timeout", "300ms", "--output", "json"]),
        &env,
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json["ready"], false);
    assert!(
        run.json["not_ready"][0]
            .as_str()
            .unwrap()
            .contains("0/0 ready"),
        "{}",
        run.stdout
    );

    let missing = format!(
        "registry.test:5000={}",
        dir.path().join("nope.crt").display()
    );
    let run = common::slipway(dir.path(), &args(&missing, &["--timeout", "1s"]), &env);
    assert_eq!(run.code, 2, "{}", run.stderr);

    let mut a = args(&ca, &["--timeout", "1s"]);
    a[8] = "no-such-context";
    let run = common::slipway(dir.path(), &a, &env);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no-such-context"), "{}", run.stderr);

    // An agent image that is not a valid reference.
    let mut a = args(&ca, &["--timeout", "1s"]);
    a[6] = "Example/Slipway:0.1";
    let run = common::slipway(dir.path(), &a, &env);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("must be lowercase"), "{}", run.stderr);

    // A registry given a client certificate: the nodes would not get it, so it is refused
    // before any API request.
    let pair = format!(
        "registry.test={},{}",
        pki.ca().display(),
        pki.ca().display()
    );
    let mut a = vec!["--registry-client-cert", &pair];
    a.extend(args(&ca, &["--timeout", "1s"]));
    let before = fake.requests().len();
    let run = common::slipway(dir.path(), &a, &env);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("registry registry.test:5000 is given a client certificate (mTLS)")
            && run
                .stderr
                .contains("slipway node trust install --registry registry.test:5000"),
        "{}",
        run.stderr
    );
    assert_eq!(fake.requests().len(), before, "an API request was made");
}
