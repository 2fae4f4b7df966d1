//! `slipway converge` and `slipway doctor`: the real TLS registry from testkit for the
//! build side, and a loopback fake of the Kubernetes API (`FakeKube`) for the cluster
//! side, since no API server runs here. Every API object the fake serves is first
//! deserialized into its `k8s-openapi` type.

mod common;

use std::path::PathBuf;

use common::{Run, TlsRig};
use serde_json::{Value, json};
use slipway_testkit::{FakeKube, fixtures};

const TRUST_NS: &str = "slipway-system";
const DS: &str = "slipway-node-trust";
const AGENT: &str = "ghcr.io/example/slipway:0.1";

/// The containerd 1.6 CRI error captured from a real pull (crates/trust/tests/fixtures).
fn containerd_x509(image: &str) -> String {
    let raw = include_str!("../../trust/tests/fixtures/containerd-1.6-cri-unknown-authority.txt");
    let (host, rest) = image.split_once('/').unwrap();
    raw.trim()
        .replace("registry.test:PORT/app:v1", image)
        .replace("registry.test:PORT", host)
        .replace(
            "/v2/app/manifests/v1",
            &format!("/v2/{}/manifests/x", rest.split(['@', ':']).next().unwrap()),
        )
}

fn shaped<T: serde::de::DeserializeOwned>(v: Value) -> Value {
    serde_json::from_value::<T>(v.clone()).unwrap_or_else(|e| {
        panic!(
            "fixture is not a {}: {e}\n{v:#}",
            std::any::type_name::<T>()
        )
    });
    v
}

fn node(name: &str) -> Value {
    shaped::<k8s_openapi::api::core::v1::Node>(fixtures::node(name))
}

/// A pod; with `waiting`, its container waits in `ErrImagePull` with that message.
fn pod(
    ns: &str,
    name: &str,
    labels: Value,
    node: &str,
    image: &str,
    waiting: Option<&str>,
) -> Value {
    let waiting = waiting.map(|m| ("ErrImagePull", m));
    shaped::<k8s_openapi::api::core::v1::Pod>(fixtures::pod(
        ns,
        name,
        labels,
        node,
        image,
        waiting,
        json!({}),
    ))
}

fn pull_event(ns: &str, pod: &str, node: &str, message: &str) -> Value {
    shaped::<k8s_openapi::api::core::v1::Event>(fixtures::pull_event(ns, pod, node, message))
}

/// The TLS registry rig with the sample app, and a fake cluster with two nodes.
struct Rig {
    base: TlsRig,
    fake: FakeKube,
    kubeconfig: PathBuf,
}

impl std::ops::Deref for Rig {
    type Target = TlsRig;
    fn deref(&self) -> &TlsRig {
        &self.base
    }
}

impl Rig {
    fn new() -> Rig {
        let base = TlsRig::new();
        base.example("hello");
        let fake = FakeKube::start();
        let kubeconfig = fake.write_kubeconfig(&base.path("kubeconfig"), "fake-ctx", "apps");
        fake.put(node("n1"));
        fake.put(node("n2"));
        Rig {
            base,
            fake,
            kubeconfig,
        }
    }

    /// Runs slipway with `--output json` and the fake cluster's kubeconfig.
    fn slipway(&self, args: &[&str]) -> Run {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        self.base
            .slipway_env(&all, &[("KUBECONFIG", self.kubeconfig.to_str().unwrap())])
    }

    fn converge(&self, extra: &[&str]) -> Run {
        let dir = self.path("hello");
        let store = self.path("store");
        let repo = format!("{}/hello", self.reg.host());
        let mut args = vec![
            "converge",
            "--dir",
            dir.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--repo",
            &repo,
            "--kube-context",
            "fake-ctx",
            "--poll-interval",
            "50ms",
        ];
        args.extend_from_slice(extra);
        self.slipway(&args)
    }

    /// Marks the trust DaemonSet ready on both nodes once it has been read twice.
    fn trust_rolls_out(&self) {
        let mut polls = 0;
        self.fake.on_request(move |store, r| {
            if r.method == "GET" && r.path.ends_with(&format!("/daemonsets/{DS}")) {
                polls += 1;
                if polls == 2 {
                    let ds = store.get("DaemonSet", TRUST_NS, DS).unwrap();
                    let tpl = &ds["spec"]["template"]["metadata"];
                    for n in ["n1", "n2"] {
                        let mut p = pod(TRUST_NS, &format!("agent-{n}"), tpl["labels"].clone(), n, AGENT, None);
                        p["metadata"]["annotations"] = tpl["annotations"].clone();
                        store.put(p);
                    }
                    store.set_status("DaemonSet", TRUST_NS, DS, json!({
                        "currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberMisscheduled": 0,
                        "numberReady": 2, "updatedNumberScheduled": 2, "observedGeneration": ds["metadata"]["generation"]
                    }));
                }
            }
        });
    }

    /// Makes the app's Deployment ready on its second read, or, with `x509`, gives its pod
    /// the kubelet's pull failure instead.
    fn app_rolls_out(&self, x509: bool) {
        let mut polls = 0;
        self.fake.on_request(move |store, r| {
            if r.method == "GET" && r.path.ends_with("/deployments/hello") {
                polls += 1;
                if polls != 2 {
                    return;
                }
                let d = store.get("Deployment", "apps", "hello").unwrap();
                let image = d["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let labels = d["spec"]["template"]["metadata"]["labels"].clone();
                if x509 {
                    let desc = containerd_x509(&image);
                    let msg = format!(
                        "Failed to pull image \"{image}\": rpc error: code = Unknown desc = {desc}"
                    );
                    store.put(pod(
                        "apps",
                        "hello-5d8f7c-abcde",
                        labels,
                        "n2",
                        &image,
                        Some(&msg),
                    ));
                    store.put(pull_event("apps", "hello-5d8f7c-abcde", "n2", &msg));
                } else {
                    store.put(pod(
                        "apps",
                        "hello-5d8f7c-abcde",
                        labels.clone(),
                        "n1",
                        &image,
                        None,
                    ));
                    store.put(pod(
                        "apps",
                        "hello-5d8f7c-fghij",
                        labels,
                        "n2",
                        &image,
                        None,
                    ));
                    store.set_status(
                        "Deployment",
                        "apps",
                        "hello",
                        json!({
                            "observedGeneration": d["metadata"]["generation"], "replicas": 2,
                            "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2
                        }),
                    );
                }
            }
        });
    }

    fn patches(&self) -> Vec<String> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.method == "PATCH")
            .map(|r| r.path.clone())
            .collect()
    }
}

#[test]
fn converge_builds_trusts_every_node_then_applies_in_order_and_waits_for_readiness() {
    let rig = Rig::new();
    rig.trust_rolls_out();
    rig.app_rolls_out(false);
    let run = rig.converge(&["--agent-image", AGENT, "--timeout", "30s"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json["ready"], true, "{}", run.stdout);

    // Trust first (namespace, service account, bundle, DaemonSet), then the app: config
    // before the workload.
    let patches = rig.patches();
    let kinds: Vec<&str> = patches
        .iter()
        .map(|p| p.rsplit('/').nth(1).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "namespaces",
            "serviceaccounts",
            "configmaps",
            "daemonsets",
            "configmaps",
            "services",
            "deployments",
            "configmaps"
        ],
        "{patches:#?}"
    );
    assert!(
        patches
            .last()
            .unwrap()
            .ends_with("/namespaces/apps/configmaps/slipway-release-hello"),
        "the release inventory comes last: {patches:#?}"
    );
    // The DaemonSet was waited for before the app was applied.
    let log = rig.fake.requests();
    let first_app = log
        .iter()
        .position(|r| r.method == "PATCH" && r.path.contains("/namespaces/apps/"))
        .unwrap();
    let ds_reads = log[..first_app]
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&format!("/daemonsets/{DS}")))
        .count();
    assert!(
        ds_reads >= 2,
        "the app was applied before the DaemonSet was ready"
    );

    // The Deployment runs exactly the image build pushed, pinned by digest, and the
    // bundle the nodes got is the CA this machine trusts the registry with.
    let images = &run.json["images"];
    let app = images["app"].as_str().unwrap();
    assert!(
        app.starts_with(&format!("{}/hello@sha256:", rig.reg.host())),
        "{app}"
    );
    let d = rig.fake.get("Deployment", "apps", "hello").unwrap();
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], app);
    let cm = rig
        .fake
        .get("ConfigMap", TRUST_NS, &format!("{DS}-bundles"))
        .expect("the bundle ConfigMap");
    let ca = std::fs::read_to_string(rig.pki.ca()).unwrap();
    let bundle: String = cm["data"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    let der_of = |pem: &str| {
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
    };
    assert_eq!(der_of(&bundle), der_of(&ca));
    assert_eq!(run.json["trust"]["nodes"].as_array().unwrap().len(), 2);
}

#[test]
fn a_second_converge_deletes_what_the_release_no_longer_has_but_keeps_data() {
    let rig = Rig::new();
    rig.app_rolls_out(false);
    let app = std::fs::read_to_string(rig.path("hello/.helm/templates/deployment.yaml")).unwrap();
    let manifests = |name: &str, extra: &str| {
        let dir = rig.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("app.yaml"), format!("{app}\n---\n{extra}")).unwrap();
        dir
    };
    let extra = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old-settings\n\
                 data:\n  a: b\n---\napiVersion: v1\nkind: PersistentVolumeClaim\n\
                 metadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n\
                 resources:\n    requests:\n      storage: 1Gi\n";
    let first = manifests("m1", extra);
    let second = manifests("m2", "");
    // Converges the manifests in `dir` as `release` (with more flags), expecting success.
    let converge_as = |release: &str, dir: &PathBuf, extra: &[&str]| {
        let mut args = vec![
            "--skip-cluster-trust",
            "--timeout",
            "30s",
            "--manifests",
            dir.to_str().unwrap(),
            "--release",
            release,
        ];
        args.extend_from_slice(extra);
        let run = rig.converge(&args);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        run
    };
    let converge = |dir: &PathBuf| converge_as("hello", dir, &[]);
    let inventory = || {
        let cm = rig
            .fake
            .get("ConfigMap", "apps", "slipway-release-hello")
            .expect("the release inventory");
        let objects: Value = serde_json::from_str(cm["data"]["objects"].as_str().unwrap()).unwrap();
        let mut names: Vec<String> = objects
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                format!(
                    "{} {}",
                    o["kind"].as_str().unwrap(),
                    o["name"].as_str().unwrap()
                )
            })
            .collect();
        names.sort();
        names
    };

    let run = converge(&first);
    assert_eq!(run.json["release"], "hello");
    assert_eq!(run.json["pruned"], json!({"deleted": [], "kept": []}));
    assert_eq!(
        inventory(),
        [
            "ConfigMap hello",
            "ConfigMap old-settings",
            "Deployment hello",
            "PersistentVolumeClaim data",
            "Service hello"
        ]
    );

    let run = converge(&second);
    assert_eq!(
        run.json["pruned"],
        json!({"deleted": ["ConfigMap apps/old-settings"], "kept": ["PersistentVolumeClaim apps/data"]}),
        "{}",
        run.stderr
    );
    assert!(rig.fake.get("ConfigMap", "apps", "old-settings").is_none());
    assert!(
        rig.fake
            .get("PersistentVolumeClaim", "apps", "data")
            .is_some()
    );
    assert!(rig.fake.get("Deployment", "apps", "hello").is_some());
    assert!(
        run.stderr.contains("kept PersistentVolumeClaim apps/data"),
        "{}",
        run.stderr
    );
    assert_eq!(
        inventory(),
        ["ConfigMap hello", "Deployment hello", "Service hello"]
    );

    // Another release in the same namespace owns nothing of this one's; --no-prune deletes
    // nothing, and a bad release name stops before anything happens.
    let before = rig.fake.requests().len();
    let run = rig.converge(&["--skip-cluster-trust", "--release", "Bad_Name"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--release"), "{}", run.stderr);
    assert_eq!(rig.fake.requests().len(), before, "nothing was sent");
    let run = converge_as("other", &first, &[]);
    assert_eq!(run.json["pruned"]["deleted"], json!([]));
    let run = converge(&second);
    assert_eq!(
        run.json["pruned"]["deleted"],
        json!([]),
        "release hello never had it"
    );
    assert!(rig.fake.get("ConfigMap", "apps", "old-settings").is_some());
    let run = converge_as("other", &second, &["--no-prune"]);
    assert_eq!(
        run.json["pruned"],
        json!({"deleted": [], "kept": ["ConfigMap apps/old-settings", "PersistentVolumeClaim apps/data"]})
    );
    assert!(rig.fake.get("ConfigMap", "apps", "old-settings").is_some());
    assert!(run.stderr.contains("(--no-prune)"), "{}", run.stderr);
    // Still recorded: the next converge of `other` without the flag deletes it.
    let run = converge_as("other", &second, &[]);
    assert_eq!(
        run.json["pruned"]["deleted"],
        json!(["ConfigMap apps/old-settings"])
    );
    assert!(rig.fake.get("ConfigMap", "apps", "old-settings").is_none());
}

#[test]
fn converge_fails_fast_naming_node_registry_cause_and_fix_on_an_x509_pull_error() {
    let rig = Rig::new();
    rig.app_rolls_out(true);
    let run = rig.converge(&["--skip-cluster-trust", "--timeout", "60s"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    // It stopped on the pull failure, not by waiting out the timeout.
    assert_eq!(run.json["stage"], "rollout", "{}", run.stdout);
    let error = run.json["error"].as_str().unwrap();
    assert!(
        error.starts_with("image pull failed and will not recover")
            && !error.contains("not ready after"),
        "{error}"
    );
    let d = &run.json["diagnoses"][0];
    assert_eq!(d["verdict"], "unknown-authority", "{}", run.stdout);
    assert_eq!(d["node"], "n2");
    assert_eq!(d["registry"], rig.reg.host().as_str());
    let fixes = d["fixes"]["nodes"].to_string();
    assert!(
        fixes.contains(&format!(
            "slipway cluster trust apply --trust {}=",
            rig.reg.host()
        )),
        "{fixes}"
    );
    assert!(run.stderr.contains("on node n2"), "{}", run.stderr);
    // Nothing of the trust agent was applied: it was skipped.
    assert!(rig.patches().iter().all(|p| !p.contains(TRUST_NS)));
}

#[test]
fn converge_refuses_a_private_ca_registry_without_an_agent_image_before_anything_happens() {
    let rig = Rig::new();
    let before = common::tree_state(&rig.reg.dir().join("data"));
    let run = rig.converge(&["--timeout", "5s"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("--agent-image"), "{}", run.stderr);
    assert!(rig.fake.requests().is_empty(), "the API was called");
    assert_eq!(
        before,
        common::tree_state(&rig.reg.dir().join("data")),
        "something was pushed"
    );
}

#[test]
fn doctor_probes_the_registry_reads_the_cluster_and_explains_pasted_errors() {
    let rig = Rig::new();
    let host = rig.reg.host();
    // Build side trusted, cluster without the trust agent, and one pull failure on record.
    let image = format!("{host}/hello:1");
    let msg = format!(
        "Failed to pull image \"{image}\": {}",
        containerd_x509(&image)
    );
    rig.fake.put(pull_event("apps", "hello-1", "n1", &msg));
    let run = rig.slipway(&["doctor", "--registry", &host, "--kube-context", "fake-ctx"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json["build"]["verdict"], "ok", "{}", run.stdout);
    assert!(run.json["cluster"]["daemonset"].is_null(), "{}", run.stdout);
    let failures = run.json["cluster"]["pull_failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{}", run.stdout);
    assert_eq!(failures[0]["verdict"], "unknown-authority");
    let nodes = run.json["cluster"]["nodes_without_trust"].to_string();
    assert!(nodes.contains("n1") && nodes.contains("n2"), "{nodes}");

    // A cluster that cannot be reached is named by its kubeconfig `server`.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = rig.path("gone.kubeconfig");
    std::fs::write(
        &gone,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: gone\n\
             clusters:\n- name: gone\n  cluster:\n    server: http://127.0.0.1:{port}\n\
             contexts:\n- name: gone\n  context: {{cluster: gone, user: u}}\n\
             users:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .unwrap();
    let run = rig.base.slipway_env(
        &["--output", "json", "doctor", "--registry", &host],
        &[("KUBECONFIG", gone.to_str().unwrap())],
    );
    let server = format!("the API server http://127.0.0.1:{port}/ refused the connection");
    assert!(
        run.stdout.contains(&server) && run.stdout.contains("kubeconfig's `server`"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );

    // Build side only: nothing wrong.
    let run = rig.slipway(&["doctor", "--registry", &host, "--no-cluster"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    // A pasted error, classified without a registry or a cluster.
    let run = rig.slipway(&["doctor", "--explain", &msg]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.json["explain"]["verdict"], "unknown-authority");
    assert_eq!(run.json["explain"]["registry"], host.as_str());
    assert_eq!(run.json["explain"]["runtime"], "containerd");
}
