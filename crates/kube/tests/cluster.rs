//! The kube crate against a loopback fake of the Kubernetes API (`FakeKube`): apply order,
//! `cluster trust apply`, tracking, pull-failure diagnosis and `doctor`'s cluster status.
//! Every fixture object is deserialized into its k8s-openapi type first, so it has the
//! shape a real API server returns.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use serde_json::{Value, json};
use slipway_kube::{
    AGENT_NAME, CHECKSUM_ANNOTATION, Client, Error, Fix, Progress, TrackError, TrackOptions,
    TrustManifest, Trusted, Verdict, apply, cluster_status, connect_with, track, trust_apply,
};
use slipway_testkit::{FakeKube, KubeRequest, KubeStore, fixtures};
use slipway_trust::RegistryHost;

fn shaped<T: serde::de::DeserializeOwned>(v: Value) -> Value {
    if let Err(e) = serde_json::from_value::<T>(v.clone()) {
        panic!(
            "fixture is not a valid {}: {e}\n{v:#}",
            std::any::type_name::<T>()
        );
    }
    v
}

/// The command lines, flags (as `--flag value`) and checks the steps name.
fn named(list: &[Fix]) -> Vec<String> {
    list.iter()
        .filter_map(|f| match f {
            Fix::Run { command, .. } => Some(command.clone()),
            Fix::Flag { flag, value, .. } => Some(format!("{flag} {value}")),
            Fix::Check { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

struct Cluster {
    fake: FakeKube,
    client: Client,
    _dir: tempfile::TempDir,
}

async fn cluster() -> Cluster {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let fake = FakeKube::start();
    let dir = tempfile::tempdir().unwrap();
    let kc = fake.write_kubeconfig(&dir.path().join("kubeconfig"), "fake-ctx", "apps");
    let client = connect_with(Some(&kc), Some("fake-ctx")).await.unwrap();
    Cluster {
        fake,
        client,
        _dir: dir,
    }
}

fn opts(timeout_ms: u64) -> TrackOptions {
    TrackOptions {
        interval: Duration::from_millis(50),
        timeout: Duration::from_millis(timeout_ms),
        ..TrackOptions::default()
    }
}

fn node(name: &str) -> Value {
    shaped::<Node>(fixtures::node(name))
}

/// A pod; `waiting` makes its container wait with (reason, message).
fn pod(
    ns: &str,
    name: &str,
    labels: Value,
    node: &str,
    image: &str,
    waiting: Option<(&str, &str)>,
    annotations: Value,
) -> Value {
    shaped::<Pod>(fixtures::pod(
        ns,
        name,
        labels,
        node,
        image,
        waiting,
        annotations,
    ))
}

/// A kubelet pull-failure event for a pod.
fn pull_event(ns: &str, pod: &str, node: &str, message: &str) -> Value {
    shaped::<Event>(fixtures::pull_event(ns, pod, node, message))
}

fn deployment(name: &str, image: &str) -> Value {
    shaped::<Deployment>(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [ { "name": "main", "image": image } ] }
            }
        }
    }))
}

fn is_get(r: &KubeRequest, plural: &str, name: &str) -> bool {
    r.method == "GET" && r.path.ends_with(&format!("/{plural}/{name}"))
}

/// The containerd message captured from a real containerd 1.6 (crates/trust/tests/fixtures).
fn containerd_x509(port: &str) -> String {
    let raw = include_str!("../../trust/tests/fixtures/containerd-1.6-cri-unknown-authority.txt");
    raw.trim().replace("PORT", port)
}

#[tokio::test]
async fn apply_goes_in_dependency_order_with_field_manager_slipway() {
    let c = cluster().await;
    let objects = vec![
        deployment("web", "registry.test:5000/web:1"),
        json!({ "apiVersion": "example.com/v1", "kind": "Widget", "metadata": { "name": "w" }, "spec": { "size": 1 } }),
        json!({ "apiVersion": "v1", "kind": "Service", "metadata": { "name": "web" }, "spec": { "selector": { "app": "web" }, "ports": [ { "port": 80 } ] } }),
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": { "name": "web" }, "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "web" }, "subjects": [] }),
        json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "web" }, "data": { "a": "1" } }),
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": { "name": "web" }, "rules": [] }),
        json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "web" }, "stringData": { "k": "v" } }),
        json!({ "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": { "name": "widgets.example.com" }, "spec": { "group": "example.com", "scope": "Namespaced", "names": { "kind": "Widget", "plural": "widgets" }, "versions": [] } }),
        json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": "web" } }),
        json!({ "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": { "name": "data" }, "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } } }),
        json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "apps" } }),
    ];
    let applied = apply(&c.client, &objects, "apps").await.unwrap();
    let kinds: Vec<&str> = applied.iter().map(|r| r.kind.as_str()).collect();
    let want = [
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "Role",
        "RoleBinding",
        "Service",
        "PersistentVolumeClaim",
        "Deployment",
        "Widget",
    ];
    assert_eq!(kinds, want);
    // Discovery first (one GET per apiVersion), then the writes.
    let all = c.fake.requests();
    let discovery: Vec<&str> = all
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path.as_str())
        .collect();
    assert!(
        discovery.contains(&"/api/v1") && discovery.contains(&"/apis/apps/v1"),
        "{discovery:?}"
    );
    let log: Vec<KubeRequest> = all.into_iter().filter(|r| r.method != "GET").collect();
    let sent: Vec<&str> = log.iter().filter_map(|r| r.body_kind.as_deref()).collect();
    assert_eq!(sent, want, "the server saw the same order");
    for r in &log {
        assert_eq!(r.method, "PATCH", "{r:?}");
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/apply-patch+yaml")
        );
        assert_eq!(r.param("fieldManager"), Some("slipway"), "{r:?}");
        assert_eq!(r.param("force"), Some("true"), "{r:?}");
    }
    assert_eq!(log[0].path, "/api/v1/namespaces/apps");
    assert_eq!(log[9].path, "/apis/apps/v1/namespaces/apps/deployments/web");
    assert_eq!(
        log[10].path,
        "/apis/example.com/v1/namespaces/apps/widgets/w"
    );
    let stored = c.fake.get("Deployment", "apps", "web").unwrap();
    assert_eq!(stored["metadata"]["managedFields"][0]["manager"], "slipway");
    shaped::<Deployment>(stored);
    assert_eq!(applied[9].generation, Some(1));

    // A changed spec bumps the generation; an unknown kind fails before any request.
    let mut changed = deployment("web", "registry.test:5000/web:2");
    changed["metadata"]["namespace"] = json!("apps");
    let again = apply(&c.client, &[changed], "other").await.unwrap();
    assert_eq!(again[0].generation, Some(2));
    let before = c.fake.requests().len();
    let err = apply(
        &c.client,
        &[
            json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "x" } }),
            json!({ "apiVersion": "example.org/v2", "kind": "Gadget", "metadata": { "name": "g" } }),
        ],
        "apps",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::UnknownKind { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("Gadget") && text.contains("example.org/v2"),
        "{text}"
    );
    assert!(
        c.fake.requests()[before..]
            .iter()
            .all(|r| r.method == "GET"),
        "nothing was written"
    );
}

fn manifest(agent_image: &str) -> TrustManifest {
    TrustManifest {
        registries: vec![Trusted {
            registry: RegistryHost::parse("registry.test:5000").unwrap(),
            ca_pem: b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_vec(),
        }],
        agent_image: agent_image.into(),
        ..TrustManifest::default()
    }
}

fn agent_labels() -> Value {
    json!({ "app.kubernetes.io/name": AGENT_NAME, "app.kubernetes.io/managed-by": "slipway" })
}

/// After `after` polls of the trust DaemonSet, marks it ready on `nodes` and replaces the
/// agent pods with ready pods of the current template.
fn daemonset_rolls_out(store: &mut KubeStore, nodes: &[&str]) {
    let ds = store
        .get("DaemonSet", "slipway-system", AGENT_NAME)
        .unwrap();
    let sum = ds["spec"]["template"]["metadata"]["annotations"][CHECKSUM_ANNOTATION].clone();
    for (i, n) in nodes.iter().enumerate() {
        store.delete("Pod", "slipway-system", &format!("{AGENT_NAME}-old{i}"));
        store.put(pod(
            "slipway-system",
            &format!("{AGENT_NAME}-{n}"),
            agent_labels(),
            n,
            ds["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap(),
            None,
            json!({ CHECKSUM_ANNOTATION: sum }),
        ));
    }
    let n = nodes.len();
    let status = json!({
        "currentNumberScheduled": n, "desiredNumberScheduled": n, "numberMisscheduled": 0,
        "numberReady": n, "updatedNumberScheduled": n, "numberAvailable": n,
        "observedGeneration": ds["metadata"]["generation"]
    });
    shaped::<DaemonSet>(json!({ "metadata": {}, "status": status.clone() }));
    store.set_status("DaemonSet", "slipway-system", AGENT_NAME, status);
}

/// Two nodes running agent pods of an older bundle, ready.
fn old_agents(fake: &FakeKube) {
    for (i, n) in ["n1", "n2"].iter().enumerate() {
        fake.put(node(n));
        fake.put(pod(
            "slipway-system",
            &format!("{AGENT_NAME}-old{i}"),
            agent_labels(),
            n,
            "ghcr.io/example/slipway:0.1",
            None,
            json!({ CHECKSUM_ANNOTATION: "0".repeat(64) }),
        ));
    }
}

#[tokio::test]
async fn trust_apply_waits_for_the_daemonset_and_reports_per_node() {
    let c = cluster().await;
    old_agents(&c.fake);
    let polls = Arc::new(Mutex::new(0));
    let p = polls.clone();
    c.fake.on_request(move |store, r| {
        if is_get(r, "daemonsets", AGENT_NAME) {
            let mut n = p.lock().unwrap();
            *n += 1;
            if *n == 2 {
                // Counts say ready, but the pods still run the old bundle: keep waiting.
                let ds = store.get("DaemonSet", "slipway-system", AGENT_NAME).unwrap();
                store.set_status("DaemonSet", "slipway-system", AGENT_NAME, json!({
                    "currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberMisscheduled": 0,
                    "numberReady": 2, "updatedNumberScheduled": 2, "observedGeneration": ds["metadata"]["generation"]
                }));
            }
            if *n == 4 {
                daemonset_rolls_out(store, &["n1", "n2"]);
            }
        }
    });
    let mut lines = Vec::new();
    let report = trust_apply(
        &c.client,
        &manifest("ghcr.io/example/slipway:0.1"),
        &opts(10_000),
        |p| lines.push(p.to_string()),
    )
    .await
    .unwrap();
    assert_eq!(
        *polls.lock().unwrap(),
        4,
        "it waited for the pods of the current bundle"
    );
    let nodes: Vec<(&str, bool)> = report
        .nodes
        .iter()
        .map(|n| (n.node.as_str(), n.ready))
        .collect();
    assert_eq!(nodes, [("n1", true), ("n2", true)]);
    assert!(
        report
            .nodes
            .iter()
            .all(|n| n.current_bundle && n.pod.is_some())
    );
    assert_eq!(report.bundle_sha256, manifest("x").bundle_checksum());
    assert_eq!(report.applied.len(), 6);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("2 pod(s) of an older bundle")),
        "{lines:#?}"
    );
    let kinds: Vec<Option<String>> = c
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.body_kind)
        .collect();
    assert_eq!(
        kinds,
        [
            Some("Namespace".into()),
            Some("ServiceAccount".into()),
            Some("ConfigMap".into()),
            Some("ClusterRole".into()),
            Some("ClusterRoleBinding".into()),
            Some("DaemonSet".into())
        ]
    );
}

#[tokio::test]
async fn pods_of_an_older_bundle_keep_trust_apply_waiting_until_the_timeout() {
    let c = cluster().await;
    old_agents(&c.fake);
    c.fake.on_request(|store, r| {
        if is_get(r, "daemonsets", AGENT_NAME) {
            store.set_status("DaemonSet", "slipway-system", AGENT_NAME, json!({
                "currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberMisscheduled": 0,
                "numberReady": 2, "updatedNumberScheduled": 2, "observedGeneration": 1
            }));
        }
    });
    c.fake.put(node("n3"));
    let err = trust_apply(
        &c.client,
        &manifest("ghcr.io/example/slipway:0.1"),
        &opts(300),
        |_| {},
    )
    .await
    .unwrap_err();
    let TrackError::Timeout { not_ready, .. } = &err else {
        panic!("{err}")
    };
    let text = err.to_string();
    assert!(
        not_ready
            .iter()
            .any(|l| l.starts_with("node n1:") && l.contains("older bundle")),
        "{text}"
    );
    assert!(
        not_ready.iter().any(|l| l == "node n3: no agent pod"),
        "{text}"
    );
}

#[tokio::test]
async fn trust_apply_explains_the_chicken_and_egg_when_the_agent_cannot_be_pulled() {
    let c = cluster().await;
    let image = "registry.test:5000/slipway:0.1";
    let status_message = containerd_x509("5000").replace("app:v1", "slipway:0.1");
    c.fake.put(node("n1"));
    c.fake.put(pod(
        "slipway-system",
        "agent-n1",
        agent_labels(),
        "n1",
        image,
        Some(("ErrImagePull", &status_message)),
        json!({}),
    ));
    let err = trust_apply(&c.client, &manifest(image), &opts(10_000), |_| {})
        .await
        .unwrap_err();
    let TrackError::PullFailed { diagnoses } = &err else {
        panic!("{err}")
    };
    assert_eq!(diagnoses[0].verdict, Verdict::UnknownAuthority);
    assert!(
        diagnoses[0]
            .cause
            .contains("the registry this DaemonSet is meant to make trusted"),
        "{err}"
    );
    assert!(matches!(
        &diagnoses[0].fixes.nodes[0],
        Fix::Check { text } if text.contains("--agent-image from a registry the nodes already trust")
    ));
    assert_eq!(
        diagnoses[0].fixes.nodes[1].command().unwrap(),
        format!(
            "slipway node trust install --registry {} --ca {}",
            diagnoses[0].registry,
            slipway_kube::ca_file_name(&diagnoses[0].registry)
        )
    );
}

/// Tracks a Deployment whose pod carries `event` (and `status_message`) and expects a
/// fast failure with `verdict`.
async fn fails_fast(
    event: &str,
    status_message: &str,
    image: &str,
    verdict: Verdict,
) -> slipway_kube::PullDiagnosis {
    let c = cluster().await;
    c.fake.put(node("n1"));
    let applied = apply(&c.client, &[deployment("web", image)], "apps")
        .await
        .unwrap();
    c.fake.put(pod(
        "apps",
        "web-7d4b9c-x2x9z",
        json!({ "app": "web" }),
        "n1",
        image,
        Some(("ErrImagePull", status_message)),
        json!({}),
    ));
    c.fake
        .put(pull_event("apps", "web-7d4b9c-x2x9z", "n1", event));
    let mut lines = Vec::new();
    let err = track(&c.client, &applied, &opts(30_000), |p| {
        lines.push(p.clone())
    })
    .await
    .unwrap_err();
    // A pull failure ends tracking at once; waiting out the timeout gives `Timeout`.
    let TrackError::PullFailed { diagnoses } = err else {
        panic!("{err}")
    };
    assert_eq!(diagnoses.len(), 1);
    let d = diagnoses.into_iter().next().unwrap();
    assert_eq!(d.verdict, verdict, "{event}");
    assert_eq!(d.node.as_deref(), Some("n1"));
    assert_eq!(d.pod, "web-7d4b9c-x2x9z");
    assert!(lines.iter().any(|p| matches!(p, Progress::Diagnosis(_))));
    assert!(lines.iter().any(|p| matches!(p, Progress::Event { text, .. } if text.starts_with("Failed: Failed to pull image"))));
    d
}

#[tokio::test]
async fn track_fails_fast_on_the_real_containerd_x509_message_in_both_kubelet_wrappings() {
    let inner = containerd_x509("5000");
    let image = "registry.test:5000/app:v1";
    for event in [
        format!("Failed to pull image \"{image}\": rpc error: code = Unknown desc = {inner}"),
        format!("Failed to pull image \"{image}\": {inner}"),
    ] {
        let d = fails_fast(&event, &inner, image, Verdict::UnknownAuthority).await;
        assert_eq!(d.registry, "registry.test:5000");
        assert_eq!(d.runtime, Some("containerd"));
        assert!(
            d.cause.contains("does not trust") && d.cause.contains("n1"),
            "{}",
            d.cause
        );
        let nodes = named(&d.fixes.nodes);
        assert!(
            nodes.iter().any(|c| c.starts_with("slipway cluster trust apply --trust registry.test:5000=registry.test_5000.crt --agent-image")),
            "{nodes:?}"
        );
        assert!(
            nodes
                .iter()
                .any(|c| c.starts_with("slipway node trust install --registry registry.test:5000 ")),
            "{nodes:?}"
        );
        assert!(
            named(&d.fixes.build_machine)
                .iter()
                .any(|c| c.starts_with("--registry-ca registry.test:5000=")),
            "{:?}",
            d.fixes
        );
        assert!(
            d.message
                .contains("x509: certificate signed by unknown authority")
        );
    }
}

#[tokio::test]
async fn track_fails_fast_on_cri_o_and_dockershim_wordings() {
    // CRI-O (containers/image v5.14+), research/nodetrust.md §7.
    let image = "registry.test:6071/app:v1";
    let crio = "pinging container registry registry.test:6071: Get \"https://registry.test:6071/v2/\": x509: certificate signed by unknown authority";
    let d = fails_fast(
        &format!("Failed to pull image \"{image}\": rpc error: code = Unknown desc = {crio}"),
        crio,
        image,
        Verdict::UnknownAuthority,
    )
    .await;
    assert_eq!(
        (d.registry.as_str(), d.runtime),
        ("registry.test:6071", Some("cri-o"))
    );
    assert!(
        named(&d.fixes.nodes)
            .iter()
            .any(|c| c.contains("--trust registry.test:6071=registry.test_6071.crt")),
        "{:?}",
        d.fixes
    );

    // CRI-O with a CN-only certificate.
    let cn = "pinging container registry registry.test:6071: Get \"https://registry.test:6071/v2/\": x509: certificate relies on legacy Common Name field, use SANs instead";
    let d = fails_fast(
        &format!("Failed to pull image \"{image}\": {cn}"),
        cn,
        image,
        Verdict::LegacyCommonName,
    )
    .await;
    assert!(
        d.fixes.build_machine[0]
            .command()
            .is_some_and(|c| c.starts_with("slipway pki issue --dns registry.test ")),
        "{:?}",
        d.fixes
    );

    // dockershim.
    let image = "registry.test:5000/hub:1";
    let docker = "Error response from daemon: Get \"https://registry.test:5000/v2/\": x509: certificate signed by unknown authority";
    let d = fails_fast(
        &format!("Failed to pull image \"{image}\": rpc error: code = Unknown desc = {docker}"),
        "Back-off pulling image \"registry.test:5000/hub:1\"",
        image,
        Verdict::UnknownAuthority,
    )
    .await;
    assert_eq!(
        (d.registry.as_str(), d.runtime),
        ("registry.test:5000", Some("dockershim"))
    );

    // containerd against a plain-HTTP registry: a trust fix would not help.
    let image = "registry.test:7439/app:v1";
    let http = "failed to pull and unpack image \"registry.test:7439/app:v1\": failed to resolve reference \"registry.test:7439/app:v1\": failed to do request: Head \"https://registry.test:7439/v2/app/manifests/v1\": http: server gave HTTP response to HTTPS client";
    let d = fails_fast(
        &format!("Failed to pull image \"{image}\": rpc error: code = Unknown desc = {http}"),
        http,
        image,
        Verdict::PlainHttp,
    )
    .await;
    assert!(
        named(&d.fixes.nodes)
            .iter()
            .all(|c| !c.contains("cluster trust apply")),
        "{:?}",
        d.fixes
    );
    assert!(
        named(&d.fixes.build_machine)
            .iter()
            .any(|c| c == "--registry-plain-http registry.test:7439"),
        "{:?}",
        d.fixes
    );
}

#[tokio::test]
async fn cluster_status_finds_nodes_without_trust_and_recent_pull_failures() {
    let c = cluster().await;
    let m = manifest("ghcr.io/example/slipway:0.1");
    apply(&c.client, &m.objects(), "x").await.unwrap();
    for n in ["n1", "n2", "n3"] {
        c.fake.put(node(n));
    }
    let sum = m.bundle_checksum();
    c.fake.put(pod(
        "slipway-system",
        "agent-a",
        agent_labels(),
        "n1",
        &m.agent_image,
        None,
        json!({ CHECKSUM_ANNOTATION: sum }),
    ));
    c.fake.put(pod(
        "slipway-system",
        "agent-b",
        agent_labels(),
        "n2",
        &m.agent_image,
        Some(("ContainerCreating", "")),
        json!({ CHECKSUM_ANNOTATION: sum }),
    ));
    let inner = containerd_x509("5000");
    c.fake.put(pull_event(
        "apps",
        "web-1",
        "n3",
        &format!("Failed to pull image \"registry.test:5000/app:v1\": {inner}"),
    ));
    c.fake.put(pull_event("apps", "other-1", "n3", "Failed to pull image \"docker.io/library/nginx:1\": failed to pull and unpack image: 429 Too Many Requests"));
    let s = cluster_status(&c.client, "slipway-system", "registry.test:5000")
        .await
        .unwrap();
    assert_eq!(
        s.daemonset.as_ref().unwrap().bundle_sha256.as_deref(),
        Some(sum.as_str())
    );
    assert_eq!(s.nodes.len(), 2);
    assert_eq!(s.nodes_without_trust, ["n2", "n3"]);
    assert_eq!(s.pull_failures.len(), 1);
    let d = &s.pull_failures[0];
    assert_eq!(
        (d.pod.as_str(), d.node.as_deref(), d.verdict),
        ("web-1", Some("n3"), Verdict::UnknownAuthority)
    );
    assert_eq!(d.container.as_deref(), Some("main"));
}
