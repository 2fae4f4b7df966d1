//! The deploy stage on a real single-node Kubernetes cluster (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler and a kubelet on containerd 1.6, all on
//! 127.0.0.1; see `slipway_testkit::Cluster`): the x509 pull failure as the kubelet reports
//! it, the trust DaemonSet fixing it on the node, converge end to end (a templated
//! project's chart hooks included), doctor, a CA rotation
//! under load, a node that joins with the startup taint, and rollout readiness checked
//! against the real `kubectl rollout status`.
//!
//! Every slipway that talks to the registry runs on the node's side
//! ([`Cluster::node_command`]), where `registry.test` resolves to 127.0.0.1 as it does for
//! containerd. Each test uses registries, namespaces and trust namespaces of its own, so
//! the tests share one cluster.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use common::{Run, registry_test_cert, slipway, slipway_with};
use serde_json::{Value, json};
use slipway_testkit::{Cluster, Registry, ServerCert};

fn slipway_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_slipway"))
}

fn cluster() -> &'static Cluster {
    Cluster::shared(slipway_bin())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A TLS registry at `registry.test:PORT` whose certificate `slipway pki` issued.
struct PrivateRegistry {
    tmp: tempfile::TempDir,
    reg: Registry,
    cert: ServerCert,
}

impl PrivateRegistry {
    fn start() -> PrivateRegistry {
        let tmp = tempfile::tempdir().unwrap();
        let pki = tmp.path().join("pki");
        std::fs::create_dir_all(&pki).unwrap();
        std::fs::create_dir_all(tmp.path().join("certs.d")).unwrap();
        let cert = registry_test_cert(&pki);
        let reg = Registry::builder().tls(&cert).start();
        PrivateRegistry { tmp, reg, cert }
    }

    /// `registry.test:PORT`.
    fn host(&self) -> String {
        format!("registry.test:{}", self.reg.port())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `--registry-ca registry.test:PORT=BUNDLE`, as the build machine trusts it.
    fn ca_flag(&self) -> String {
        format!("--registry-ca={}={}", self.host(), s(&self.cert.trust))
    }

    /// `registry.test:PORT=BUNDLE`, for `--trust`.
    fn trust(&self) -> String {
        format!("{}={}", self.host(), s(&self.cert.trust))
    }
}

/// Runs slipway on the node's side (where `registry.test` resolves) with the cluster's
/// kubeconfig, an empty certs.d and a private store.
fn on_node(c: &Cluster, r: &PrivateRegistry, args: &[&str]) -> Run {
    let kubeconfig = c.kubeconfig();
    let xdg = r.path("xdg");
    slipway_with(
        c.node_command(slipway_bin()),
        &r.path("certs.d"),
        args,
        &[
            ("KUBECONFIG", s(&kubeconfig)),
            ("XDG_DATA_HOME", s(&xdg)),
            ("DOCKER_CONFIG", s(&r.path("docker"))),
        ],
        None,
    )
}

/// Runs slipway on this machine with the cluster's kubeconfig (no registry involved).
fn with_kubeconfig(c: &Cluster, certs_d: &Path, args: &[&str]) -> Run {
    let kubeconfig = c.kubeconfig();
    slipway(certs_d, args, &[("KUBECONFIG", s(&kubeconfig))])
}

/// `cluster trust apply` for `r` with the cluster's agent image, in trust namespace `ns`.
fn trust_apply(c: &Cluster, r: &PrivateRegistry, trust: &str, ns: &str) -> Run {
    with_kubeconfig(
        c,
        &r.path("certs.d"),
        &[
            "--output",
            "json",
            "cluster",
            "trust",
            "apply",
            "--trust",
            trust,
            "--agent-image",
            c.agent_image().unwrap(),
            "--namespace",
            ns,
            "--runtime",
            "containerd",
            "--agent-api-server",
            &c.api_server(),
            "--timeout",
            "2m",
        ],
    )
}

/// `cluster trust apply` that must succeed.
fn trust_apply_ok(c: &Cluster, r: &PrivateRegistry, trust: &str, ns: &str) -> Run {
    let a = trust_apply(c, r, trust, ns);
    assert_eq!(a.code, 0, "{}{}", a.stdout, a.stderr);
    a
}

/// `slipway --output json converge` of `project` run on the node, trusting `r`'s CA, into
/// namespace `ns` with the cluster's trust agent (trust namespace `NS-trust`) and a
/// three-minute timeout, plus `extra` flags.
fn converge_on_node(
    c: &Cluster,
    r: &PrivateRegistry,
    project: &Path,
    repo: &str,
    ns: &str,
    extra: &[&str],
) -> Run {
    let ca = r.ca_flag();
    let api = c.api_server();
    let trust_ns = format!("{ns}-trust");
    let mut args = vec![
        ca.as_str(),
        "--output",
        "json",
        "converge",
        "--dir",
        s(project),
        "--repo",
        repo,
        "--namespace",
        ns,
        "--agent-image",
        c.agent_image().unwrap(),
        "--trust-namespace",
        &trust_ns,
        "--runtime",
        "containerd",
        "--agent-api-server",
        &api,
        "--timeout",
        "3m",
    ];
    args.extend_from_slice(extra);
    on_node(c, r, &args)
}

/// Writes a werf project: one image (a static busybox that waits) and the manifests
/// `extra` plus a Deployment `name` of it, whose readiness needs `/tmp/ready`.
fn app_project(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.join(".helm/templates")).unwrap();
    std::fs::copy("/bin/busybox", p.join("busybox"))
        .expect("busybox (Debian package busybox-static)");
    std::fs::write(
        p.join("run.sh"),
        "/bin/busybox mkdir -p /tmp && echo ready > /tmp/ready\nexec /bin/busybox sleep 3600\n",
    )
    .unwrap();
    std::fs::write(
        p.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY run.sh /run.sh\nENTRYPOINT [\"/bin/busybox\", \"sh\", \"/run.sh\"]\n",
    )
    .unwrap();
    std::fs::write(
        p.join("werf.yaml"),
        format!("project: {name}\nconfigVersion: 1\n---\nimage: app\ndockerfile: Dockerfile\n"),
    )
    .unwrap();
    std::fs::write(
        p.join(".helm/templates/app.yaml"),
        app_manifest(name, extra),
    )
    .unwrap();
    p
}

fn app_manifest(name: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: "{{{{ .Values.werf.image.app }}}}"
          readinessProbe:
            exec:
              command: ["/bin/busybox", "test", "-f", "/tmp/ready"]
            periodSeconds: 1
{extra}"#
    )
}

fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The messages of the pod events of `ns` with `reason`.
fn events(c: &Cluster, ns: &str, reason: &str) -> Vec<String> {
    c.get_json(&[
        "events",
        "-n",
        ns,
        "--field-selector",
        &format!("reason={reason}"),
    ])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn converge_stops_at_the_kubelets_x509_failure_and_trust_apply_fixes_the_same_pod() {
    let c = cluster();
    let _logs = c.logs_on_failure();
    let r = PrivateRegistry::start();
    let host = r.host();
    let project = app_project(r.tmp.path(), "x509", "");
    let repo = format!("{host}/x509");
    let ca = r.ca_flag();

    // This machine trusts the registry (the push works); the node does not.
    let run = on_node(
        c,
        &r,
        &[
            &ca,
            "converge",
            "--dir",
            s(&project),
            "--repo",
            &repo,
            "--namespace",
            "t-x509",
            "--skip-cluster-trust",
            "--timeout",
            "3m",
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let text = &run.stderr;
    for needle in [
        "on node 127.0.0.1",
        &format!("from {host}: unknown-authority"),
        "x509: certificate signed by unknown authority",
        &format!("slipway cluster trust apply --trust {host}="),
        &format!("slipway node trust install --registry {host}"),
        // This machine pushed through its own trust: only the nodes need a fix.
        &format!("fix (build machine): none: this machine already trusts {host}"),
    ] {
        assert!(text.contains(needle), "stderr lacks {needle:?}:\n{text}");
    }
    // Each step is printed once, after the error, however often the pod was reported.
    let apply = format!(
        "  fix (nodes): on every node at once (nodes that join later too): slipway cluster trust apply --trust {host}="
    );
    assert_eq!(text.matches(&apply).count(), 1, "{text}");
    let error_at = text.find("error: ").expect("an error line");
    assert!(text[error_at..].contains(&apply), "{text}");
    // The words come from the kubelet's real event, not a fixture.
    let failed = events(c, "t-x509", "Failed");
    let pulled_text = failed
        .iter()
        .find(|m| m.starts_with("Failed to pull image") && m.contains(&repo))
        .unwrap_or_else(|| panic!("no pull failure event: {failed:#?}"));
    assert!(
        pulled_text.contains("x509: certificate signed by unknown authority"),
        "{pulled_text}"
    );
    assert!(text.contains(pulled_text.as_str()), "{text}");
    let pods = c.get_json(&["pods", "-n", "t-x509", "-l", "app=x509"]);
    let pod_uid = pods["items"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();

    // doctor sees it from both sides: the build side is fine, the node is not.
    let ns_trust = "t-x509-trust";
    let doctor = || {
        on_node(
            c,
            &r,
            &[
                &ca,
                "--output",
                "json",
                "doctor",
                "--registry",
                &host,
                "--trust-namespace",
                ns_trust,
            ],
        )
    };
    let doc = doctor();
    assert_eq!(doc.code, 1, "{}{}", doc.stdout, doc.stderr);
    assert_eq!(doc.json["build"]["verdict"], "ok", "{}", doc.stdout);
    let cluster_side = &doc.json["cluster"];
    assert!(cluster_side["daemonset"].is_null(), "{}", doc.stdout);
    assert_eq!(cluster_side["nodes_without_trust"], json!(["127.0.0.1"]));
    assert_eq!(
        cluster_side["pull_failures"][0]["verdict"], "unknown-authority",
        "{}",
        doc.stdout
    );

    // The fix: the agent installs trust on the node; the kubelet's next retry pulls.
    let applied = trust_apply_ok(c, &r, &r.trust(), ns_trust);
    assert_eq!(applied.json["report"]["nodes"][0]["node"], "127.0.0.1");
    assert_eq!(applied.json["report"]["nodes"][0]["ready"], true);
    let hosts = c
        .node_root()
        .join(format!("etc/containerd/certs.d/{host}/hosts.toml"));
    assert!(hosts.is_file(), "the agent wrote {}", hosts.display());

    // The same Deployment, never applied again, becomes available: kubectl says so.
    let out = c.kubectl(&[
        "rollout",
        "status",
        "-n",
        "t-x509",
        "deployment/x509",
        "--timeout=4m",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let d = c.get_json(&["deployment", "-n", "t-x509", "x509"]);
    assert_eq!(d["metadata"]["generation"], 1, "never redeployed");
    let pods = c.get_json(&["pods", "-n", "t-x509", "-l", "app=x509"]);
    assert_eq!(
        pods["items"][0]["metadata"]["uid"], pod_uid,
        "the pod that failed is the one that pulled"
    );

    // doctor now: the agent is ready, and the old failure is recovered, not a problem.
    let doc = doctor();
    assert_eq!(doc.code, 0, "{}{}", doc.stdout, doc.stderr);
    assert_eq!(doc.json["cluster"]["daemonset"]["ready"], 1);
    assert_eq!(doc.json["cluster"]["pull_failures"], json!([]));
    assert_eq!(
        doc.json["cluster"]["recovered"][0]["verdict"],
        "unknown-authority"
    );
}

/// A namespaced CustomResourceDefinition of `KIND` in the group `example.test`, whose
/// resources keep whatever fields they have.
fn crd_yaml(kind: &str, singular: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {singular}s.example.test\nspec:\n  group: example.test\n  scope: Namespaced\n  names: {{kind: {kind}, plural: {singular}s, singular: {singular}}}\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n          type: object\n          x-kubernetes-preserve-unknown-fields: true\n"
    )
}

#[test]
fn converge_on_a_clean_cluster_then_a_noop_then_prunes_and_respects_other_owners() {
    let c = cluster();
    let _logs = c.logs_on_failure();
    let r = PrivateRegistry::start();
    let host = r.host();
    // A CRD installed beforehand: its custom resource is found by API discovery.
    let crd = r.path("crd.yaml");
    std::fs::write(&crd, crd_yaml("Monitor", "monitor")).unwrap();
    c.kubectl_ok(&["apply", "-f", s(&crd)]);
    c.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/monitors.example.test",
        "--timeout=60s",
    ]);
    let extra = r#"---
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
data: {a: "1"}
---
apiVersion: example.test/v1
kind: Monitor
metadata:
  name: app
spec: {interval: 30s}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Mi}}
---
apiVersion: v1
kind: Namespace
metadata:
  name: t-conv-extra
---
{widgets}---
apiVersion: v1
kind: Service
metadata:
  name: app
  annotations: {note: first}
spec:
  selector: {app: app}
  ports: [{port: 80}]
"#
    .replace("{widgets}", &crd_yaml("Widget", "widget"));
    let project = app_project(r.tmp.path(), "app", &extra);
    let repo = format!("{host}/app");
    let converge = |project: &Path| converge_on_node(c, &r, project, &repo, "t-conv", &[]);

    // One command: build, push, trust the registry on the node, render, apply, ready.
    let first = converge(&project);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert_eq!(first.json["ready"], true);
    assert_eq!(first.json["trust"]["nodes"][0]["ready"], true);
    assert!(
        first.json["images"]["app"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{repo}@sha256:")),
        "{}",
        first.stdout
    );
    let d = c.get_json(&["deployment", "-n", "t-conv", "app", "--show-managed-fields"]);
    assert_eq!(d["status"]["availableReplicas"], 1);
    assert!(
        d["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["manager"] == "slipway" && m["operation"] == "Apply"),
        "{d}"
    );
    assert_eq!(
        c.get_json(&["monitor", "-n", "t-conv", "app"])["spec"]["interval"],
        "30s"
    );
    assert!(events(c, "t-conv", "Failed").is_empty(), "no pull failed");

    // A second converge changes nothing: every object keeps its resourceVersion.
    let versions = |kinds: &[&str]| -> Vec<String> {
        kinds
            .iter()
            .map(|k| {
                c.get_json(&[k, "-n", "t-conv"])["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let objects = [
        "deployment/app",
        "configmap/extra",
        "service/app",
        "monitor/app",
        "configmap/slipway-release-app",
    ];
    let before = versions(&objects);
    let second = converge(&project);
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    assert!(
        second.stderr.contains("cached"),
        "nothing rebuilt: {}",
        second.stderr
    );
    assert_eq!(
        versions(&objects),
        before,
        "the second converge changed an object"
    );

    // Another manager owns a label of the Service; slipway's next apply keeps it, and
    // drops the annotation slipway itself no longer applies.
    c.kubectl_ok(&["label", "-n", "t-conv", "service/app", "team=platform"]);
    let extra_v2 = "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app\nspec:\n  selector: {app: app}\n  ports: [{port: 80}]\n";
    let fewer = app_project(&r.path("v2"), "app", extra_v2);
    let third = converge(&fewer);
    assert_eq!(third.code, 0, "{}{}", third.stdout, third.stderr);
    for gone in ["ConfigMap t-conv/extra", "Monitor t-conv/app"] {
        assert!(
            third.stderr.contains(&format!("deleted {gone}")),
            "{gone}: {}",
            third.stderr
        );
    }
    // Deleting a claim loses data, a Namespace everything in it, a CRD every resource of
    // its kind: each is kept, and said so.
    for (kept, get) in [
        (
            "kept PersistentVolumeClaim t-conv/data",
            &["get", "-n", "t-conv", "pvc", "data"][..],
        ),
        (
            "kept Namespace t-conv-extra",
            &["get", "namespace", "t-conv-extra"],
        ),
        (
            "kept CustomResourceDefinition widgets.example.test",
            &["get", "crd", "widgets.example.test"],
        ),
    ] {
        assert!(third.stderr.contains(kept), "{kept}: {}", third.stderr);
        c.kubectl_ok(get);
    }
    let cm = c.kubectl(&["get", "-n", "t-conv", "configmap", "extra"]);
    assert!(!cm.status.success(), "the pruned ConfigMap is gone");
    wait_until(Duration::from_secs(30), "the Monitor to be deleted", || {
        !c.kubectl(&["get", "-n", "t-conv", "monitor", "app"])
            .status
            .success()
    });
    let svc = c.get_json(&["service", "-n", "t-conv", "app"]);
    assert_eq!(svc["metadata"]["labels"]["team"], "platform", "{svc}");
    assert!(
        svc["metadata"]["annotations"].get("note").is_none(),
        "{svc}"
    );

    // A prune that stopped half-way: the inventory was widened (as converge does before
    // deleting) and the object was never deleted. The next converge finishes it.
    c.kubectl_ok(&["create", "configmap", "-n", "t-conv", "leftover"]);
    let mut inventory = c.get_json(&["configmap", "-n", "t-conv", "slipway-release-app"]);
    let mut objects: serde_json::Value =
        serde_json::from_str(inventory["data"]["objects"].as_str().unwrap()).unwrap();
    objects.as_array_mut().unwrap().push(json!({
        "api_version": "v1", "kind": "ConfigMap", "plural": "configmaps",
        "namespace": "t-conv", "name": "leftover"
    }));
    inventory["data"]["objects"] = json!(objects.to_string());
    let file = r.path("inventory.json");
    std::fs::write(&file, inventory.to_string()).unwrap();
    c.kubectl_ok(&["replace", "-f", s(&file)]);
    let fourth = converge(&fewer);
    assert_eq!(fourth.code, 0, "{}{}", fourth.stdout, fourth.stderr);
    assert!(
        fourth.stderr.contains("deleted ConfigMap t-conv/leftover"),
        "{}",
        fourth.stderr
    );
    assert!(
        !c.kubectl(&["get", "-n", "t-conv", "configmap", "leftover"])
            .status
            .success(),
        "the interrupted prune was not finished"
    );
}

#[test]
fn rollout_readiness_matches_kubectl_rollout_status() {
    let c = cluster();
    let _logs = c.logs_on_failure();
    let ns = "t-rollout";
    c.kubectl_ok(&["create", "namespace", ns]);
    let image = c.agent_image().unwrap();
    let workload = |kind: &str, name: &str, replicas: u8, extra_spec: &str, ready_cmd: &str| {
        let replicas = if kind == "DaemonSet" {
            String::new()
        } else {
            format!("  replicas: {replicas}\n")
        };
        let service = if kind == "StatefulSet" {
            format!("  serviceName: {name}\n")
        } else {
            String::new()
        };
        format!(
            r#"apiVersion: apps/v1
kind: {kind}
metadata:
  name: {name}
  namespace: {ns}
spec:
{replicas}{service}{extra_spec}  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations: [{{operator: Exists}}]
      containers:
        - name: c
          image: {image}
          imagePullPolicy: Never
          command: ["/bin/sh", "-c", "exec sleep 3600"]
          readinessProbe:
            exec: {{command: ["/bin/sh", "-c", "{ready_cmd}"]}}
            periodSeconds: 1
"#
        )
    };
    let apply = |text: &str| {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        c.kubectl_ok(&["apply", "-f", s(f.path())]);
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = rt
        .block_on(slipway_kube::connect_with(Some(&c.kubeconfig()), None))
        .unwrap();
    let ours = |kind: &str, name: &str| {
        let (group, plural) = match kind {
            "Deployment" => ("apps/v1", "deployments"),
            "DaemonSet" => ("apps/v1", "daemonsets"),
            _ => ("apps/v1", "statefulsets"),
        };
        let r = slipway_kube::AppliedRef {
            api_version: group.into(),
            kind: kind.into(),
            namespace: Some(ns.into()),
            name: name.into(),
            generation: None,
            plural: plural.into(),
        };
        rt.block_on(slipway_kube::rollout_status(&client, &r))
            .unwrap()
    };
    // kubectl's answer, once it has settled on `expect` (a state that lasts).
    let kubectl = |kind: &str, name: &str, expect: &str| -> (bool, String) {
        let target = format!("{}/{name}", kind.to_lowercase());
        let mut last = (false, String::new());
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            let out = c.kubectl(&["rollout", "status", "-n", ns, &target, "--watch=false"]);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .trim()
            .to_string();
            last = (out.status.success(), text);
            if last.1.contains(expect) {
                return last;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!("kubectl never said {expect:?}; last: {last:?}")
    };
    let same = |kind: &str, name: &str, expect: &str| {
        let (ok, text) = kubectl(kind, name, expect);
        let got = ours(kind, name);
        let (ours_ok, ours_text) = match &got {
            slipway_kube::RolloutStatus::Ready(t) | slipway_kube::RolloutStatus::Waiting(t) => {
                (true, t.clone())
            }
            slipway_kube::RolloutStatus::Failed(t) => (false, format!("error: {t}")),
        };
        assert_eq!(ours_text, text, "{kind}/{name}: {got:?}");
        assert_eq!(ours_ok, ok, "{kind}/{name}: exit status");
        got
    };

    // Never ready: the updated pods are not available.
    apply(&workload("Deployment", "never", 2, "", "false"));
    let got = same(
        "Deployment",
        "never",
        "0 of 2 updated replicas are available",
    );
    assert!(matches!(got, slipway_kube::RolloutStatus::Waiting(_)));
    // Ready: rolled out.
    let surge = "  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}\n";
    apply(&workload("Deployment", "good", 1, surge, "true"));
    let got = same("Deployment", "good", "successfully rolled out");
    assert!(matches!(got, slipway_kube::RolloutStatus::Ready(_)));
    // An update whose new pod never gets ready: old replicas are still there.
    apply(&workload("Deployment", "good", 1, surge, "false"));
    same("Deployment", "good", "old replicas are pending termination");
    // Past its progress deadline: a failure, for kubectl and for slipway.
    apply(&workload(
        "Deployment",
        "late",
        1,
        "  progressDeadlineSeconds: 2\n",
        "false",
    ));
    let got = same("Deployment", "late", "exceeded its progress deadline");
    assert!(matches!(got, slipway_kube::RolloutStatus::Failed(_)));
    // DaemonSet and StatefulSet.
    apply(&workload("DaemonSet", "ds-never", 1, "", "false"));
    same("DaemonSet", "ds-never", "0 of 1 updated pods are available");
    apply(&workload("DaemonSet", "ds-good", 1, "", "true"));
    same("DaemonSet", "ds-good", "successfully rolled out");
    apply(&workload("StatefulSet", "sts-never", 2, "", "false"));
    same("StatefulSet", "sts-never", "pods to be ready");
    apply(&workload("StatefulSet", "sts-good", 2, "", "true"));
    same("StatefulSet", "sts-good", "roll out complete");
}

#[test]
fn a_ca_rotation_with_trust_apply_at_each_step_fails_no_pull() {
    let c = cluster();
    let _logs = c.logs_on_failure();
    let mut r = PrivateRegistry::start();
    let host = r.host();
    let pki = r.path("pki");
    let ca = r.ca_flag();
    // An image to pull, pushed through the registry's current trust.
    let project = app_project(r.tmp.path(), "rot", "");
    let built = on_node(
        c,
        &r,
        &[
            &ca,
            "--output",
            "json",
            "build",
            "--dir",
            s(&project),
            "--repo",
            &format!("{host}/rot"),
        ],
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    let image = format!(
        "{}@{}",
        built.json["Images"]["app"]["DockerRepo"].as_str().unwrap(),
        built.json["Images"]["app"]["DockerImageDigest"]
            .as_str()
            .unwrap()
    );
    let trust_ns = "t-rot-trust";
    let bundle = pki.join("bundle.pem");
    let trust = format!("{host}={}", s(&bundle));
    trust_apply_ok(c, &r, &trust, trust_ns);
    c.kubectl_ok(&["create", "namespace", "t-rot"]);

    // The kubelet pulls in a loop: a pod that always pulls, again and again. A registry
    // restart (Distribution never reloads its certificate) pauses the loop: a refused
    // connection is not a trust failure.
    let stop = Arc::new(AtomicBool::new(false));
    let restarting = Arc::new(RwLock::new(()));
    let pulls = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let looper = {
        let (stop, restarting, pulls, failures) = (
            stop.clone(),
            restarting.clone(),
            pulls.clone(),
            failures.clone(),
        );
        let image = image.clone();
        let kubeconfig = c.kubeconfig();
        let kubectl = c.bin().join("kubectl");
        std::thread::spawn(move || {
            let k = |args: &[&str]| {
                Command::new(&kubectl)
                    .arg("--kubeconfig")
                    .arg(&kubeconfig)
                    .args(args)
                    .output()
                    .unwrap()
            };
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let name = format!("pull-{n}");
                let _guard = restarting.read().unwrap();
                let pod = json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": { "name": name, "namespace": "t-rot" },
                    "spec": { "terminationGracePeriodSeconds": 0, "restartPolicy": "Never",
                        "containers": [ { "name": "c", "image": image, "imagePullPolicy": "Always" } ] }
                });
                let f = tempfile::NamedTempFile::new().unwrap();
                std::fs::write(f.path(), pod.to_string()).unwrap();
                assert!(
                    k(&["create", "-f", f.path().to_str().unwrap()])
                        .status
                        .success()
                );
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let out = k(&["get", "pod", "-n", "t-rot", &name, "-o", "json"]);
                    let p: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
                    let state = &p["status"]["containerStatuses"][0]["state"];
                    if state.get("running").is_some() || state.get("terminated").is_some() {
                        pulls.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    let reason = state["waiting"]["reason"].as_str().unwrap_or("");
                    if reason == "ErrImagePull" || reason == "ImagePullBackOff" {
                        failures.lock().unwrap().push(format!(
                            "{name}: {}",
                            state["waiting"]["message"].as_str().unwrap_or(reason)
                        ));
                        break;
                    }
                    assert!(Instant::now() < deadline, "{name} never started: {p}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                k(&["delete", "pod", "-n", "t-rot", &name, "--wait=false"]);
            }
        })
    };
    let wait_pulls = |at_least: usize| {
        let start = pulls.load(Ordering::SeqCst);
        wait_until(Duration::from_secs(120), "pulls in the loop", || {
            pulls.load(Ordering::SeqCst) >= start + at_least
        });
    };
    let certs_d = r.path("certs.d");
    let rotate = |args: &[&str]| {
        let mut all = vec!["pki", "rotate", "--dir", s(&pki)];
        all.extend_from_slice(args);
        let out = slipway(&certs_d, &all, &[]);
        assert_eq!(out.code, 0, "{args:?}: {}{}", out.stdout, out.stderr);
    };
    wait_pulls(2);

    // 1. prepare: the bundle holds old and new; every node gets it.
    rotate(&["prepare"]);
    trust_apply_ok(c, &r, &trust, trust_ns);
    wait_pulls(2);
    // 2. switch: the nodes' own bundle proves they trust the new CA; the registry serves
    //    a certificate of the new CA.
    let node_ca = c
        .node_root()
        .join(format!("etc/containerd/certs.d/{host}/ca.crt"));
    rotate(&[
        "switch",
        "--leaf",
        s(&pki.join("registry")),
        "--nodes-trust",
        s(&node_ca),
    ]);
    {
        let _pause = restarting.write().unwrap();
        r.reg.restart(None);
    }
    trust_apply_ok(c, &r, &trust, trust_ns);
    wait_pulls(2);
    // 3. retire: the bundle holds the new CA only.
    rotate(&["retire"]);
    trust_apply_ok(c, &r, &trust, trust_ns);
    wait_pulls(2);
    stop.store(true, Ordering::SeqCst);
    looper.join().unwrap();

    let failures = failures.lock().unwrap();
    assert!(failures.is_empty(), "pulls failed: {failures:#?}");
    assert!(pulls.load(Ordering::SeqCst) >= 8);
    let on_node = std::fs::read_to_string(&node_ca).unwrap();
    let new_ca = std::fs::read_to_string(pki.join("ca.crt")).unwrap();
    assert_eq!(
        on_node.trim(),
        new_ca.trim(),
        "the node trusts the new CA only"
    );
}

#[test]
fn a_node_that_joins_with_the_startup_taint_runs_app_pods_only_once_it_trusts() {
    let c = Cluster::builder(slipway_bin())
        .register_with_taint("slipway.dev/registry-trust=pending:NoSchedule")
        .start();
    let _logs = c.logs_on_failure();
    let r = PrivateRegistry::start();
    let host = r.host();
    let ca = r.ca_flag();
    let project = app_project(r.tmp.path(), "early", "");
    let built = on_node(
        &c,
        &r,
        &[
            &ca,
            "--output",
            "json",
            "render",
            "--dir",
            s(&project),
            "--repo",
            &format!("{host}/early"),
        ],
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    let node = c.get_json(&["node", c.node_name()]);
    assert_eq!(
        node["spec"]["taints"][0]["key"], "slipway.dev/registry-trust",
        "{node}"
    );

    // The app is deployed before trust: its pod waits, unscheduled, and pulls nothing.
    let manifests = r.path("early.json");
    std::fs::write(
        &manifests,
        json!({ "apiVersion": "v1", "kind": "List", "items": built.json["manifests"] }).to_string(),
    )
    .unwrap();
    c.kubectl_ok(&["create", "namespace", "t-early"]);
    c.kubectl_ok(&["apply", "-n", "t-early", "-f", s(&manifests)]);
    std::thread::sleep(Duration::from_secs(3));
    let pods = c.get_json(&["pods", "-n", "t-early"]);
    assert_eq!(pods["items"][0]["status"]["phase"], "Pending", "{pods}");
    assert!(pods["items"][0]["spec"]["nodeName"].is_null(), "{pods}");

    // The agent tolerates the taint, installs trust, then releases the taint.
    trust_apply_ok(&c, &r, &r.trust(), "slipway-system");
    wait_until(Duration::from_secs(60), "the taint to go", || {
        c.get_json(&["node", c.node_name()])["spec"]["taints"].is_null()
    });
    let logs = c.kubectl_ok(&[
        "logs",
        "-n",
        "slipway-system",
        "daemonset/slipway-node-trust",
    ]);
    assert!(
        logs.contains("removed taint slipway.dev/registry-trust"),
        "{logs}"
    );
    let out = c.kubectl(&[
        "rollout",
        "status",
        "-n",
        "t-early",
        "deployment/early",
        "--timeout=2m",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let failed = events(&c, "t-early", "Failed");
    assert!(
        failed.is_empty(),
        "an app pod saw a failed pull: {failed:#?}"
    );
}

/// A werf project's deploy job, as a GitLab CI script runs it, with the word `werf`
/// replaced by `slipway` and nothing else changed in the script. werf.yaml uses the
/// deploy section and `cacheVersion`; the job passes `--env`, `--add-custom-tag` and an
/// envfile report, and reads `$CI_REGISTRY_IMAGE` as werf jobs do. The one difference,
/// the nodes' trust, is announced (exit 2, naming `--agent-image`) until the CI variables
/// give it; then the job deploys where werf would.
#[test]
fn a_werf_ci_job_runs_with_werf_replaced_by_slipway() {
    let c = cluster();
    let _logs = c.logs_on_failure();
    let r = PrivateRegistry::start();
    let host = r.host();
    let project = app_project(r.tmp.path(), "shop", "");
    std::fs::write(
        project.join("werf.yaml"),
        "project: shop\nconfigVersion: 1\ndeploy:\n  helmRelease: \"[[ project ]]-[[ env ]]-web\"\n  namespace: \"[[ project ]]-[[ env ]]\"\n---\nimage: app\ndockerfile: Dockerfile\ncacheVersion: \"2\"\n",
    )
    .unwrap();
    // The CI runner trusts the registry the usual way: its CA in a certs.d folder.
    let certs_d = r.path("runner-certs.d");
    std::fs::create_dir_all(certs_d.join(&host)).unwrap();
    std::fs::copy(&r.cert.trust, certs_d.join(&host).join("ca.crt")).unwrap();
    let script = r.path("deploy-job.sh");
    std::fs::write(
        &script,
        r#"set -eu
# The deploy job of the project's .gitlab-ci.yml, with `werf` replaced by `slipway`.
slipway converge --repo "$CI_REGISTRY_IMAGE" --env production \
  --add-custom-tag "%image%-$CI_COMMIT_SHORT_SHA" \
  --report-path werf-report.env --report-format envfile --timeout 3m
. ./werf-report.env
echo "deployed $WERF_APP_DOCKER_IMAGE_NAME"
"#,
    )
    .unwrap();
    let bin_dir = slipway_bin().parent().unwrap().to_path_buf();
    let run_job = |ci_variables: &[(&str, String)]| {
        // The runner starts the script in $CI_PROJECT_DIR, as GitLab's does.
        let mut cmd = c.node_command("/bin/sh");
        cmd.args([
            "-c",
            "cd \"$CI_PROJECT_DIR\" && exec /bin/sh \"$1\"",
            "runner",
        ])
        .arg(&script)
        .env_clear()
        .env("CI_PROJECT_DIR", &project)
        .env(
            "PATH",
            format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin_dir.display()),
        )
        .env("HOME", r.path("home"))
        .env("KUBECONFIG", c.kubeconfig())
        .env("XDG_DATA_HOME", r.path("xdg"))
        .env("DOCKER_CONFIG", r.path("docker"))
        .env("SLIPWAY_CERTS_D", &certs_d)
        .env("CI_REGISTRY_IMAGE", format!("{host}/shop"))
        .env("CI_COMMIT_SHORT_SHA", "0a1b2c3d");
        for (k, v) in ci_variables {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run the CI job");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };

    // As werf runs it: the nodes must trust the registry too, and slipway says how.
    let (code, stdout, stderr) = run_job(&[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("--agent-image") && stderr.contains(&host),
        "{stderr}"
    );
    assert!(!project.join("werf-report.env").exists());

    // The difference given as CI variables; the script is unchanged.
    let (code, stdout, stderr) = run_job(&[
        ("SLIPWAY_AGENT_IMAGE", c.agent_image().unwrap().to_string()),
        ("SLIPWAY_AGENT_API_SERVER", c.api_server()),
        ("SLIPWAY_TRUST_NAMESPACE", "t-ci-trust".to_string()),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let image = stdout
        .lines()
        .find_map(|l| l.strip_prefix("deployed "))
        .unwrap_or_else(|| panic!("{stdout}{stderr}"))
        .to_string();
    assert!(image.starts_with(&format!("{host}/shop:")), "{image}");
    // werf's namespace and release: PROJECT-ENV, and the helmRelease template.
    let d = c.get_json(&["deployment", "-n", "shop-production", "shop"]);
    assert_eq!(d["status"]["availableReplicas"], 1, "{d:#}");
    c.get_json(&[
        "configmap",
        "-n",
        "shop-production",
        "slipway-release-shop-production-web",
    ]);
    // The custom tag names the same image as the report.
    let ca = r.ca_flag();
    let digest = |reference: &str| {
        let run = on_node(c, &r, &[&ca, "--output", "json", "inspect", reference]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json["digest"].as_str().unwrap().to_string()
    };
    assert_eq!(digest(&format!("{host}/shop:app-0a1b2c3d")), digest(&image));
}

/// The werf.yaml partial of [`hooks_project`]: one image of the shared Dockerfile.
const HOOKS_IMAGE_TMPL: &str = r#"{{- define "image" }}
image: {{ .name }}
dockerfile: Dockerfile
args:
  NAME: {{ .name }}
{{- end }}
"#;

/// [`hooks_project`]'s werf.yaml: two images declared by `range` over the partial.
const HOOKS_WERF_YAML: &str = r#"project: hooks
configVersion: 1
{{- range $name := list "app" "worker" }}
---
{{- include "image" (dict "name" $name) }}
{{- end }}
"#;

/// The chart's partials: the selector, and a hook Job of the worker image that sleeps.
const HOOKS_HELPERS: &str = r#"{{- define "hooks.selector" -}}
app: hooks
release: {{ .Release.Name }}
{{- end }}

{{- define "hooks.job" -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .name }}
  annotations:
    helm.sh/hook: {{ .hook }}
    helm.sh/hook-weight: {{ .weight | quote }}
    {{- with .policy }}
    helm.sh/hook-delete-policy: {{ . }}
    {{- end }}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - name: job
          image: {{ .image | quote }}
          command: ["/bin/busybox", "sleep", "{{ .seconds }}"]
{{- end }}
"#;

const HOOKS_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    {{- toYaml .Values.labels | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      {{- include "hooks.selector" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "hooks.selector" . | nindent 8 }}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: {{ .Values.werf.image.app | quote }}
          readinessProbe:
            exec:
              command: ["/bin/busybox", "test", "-f", "/tmp/ready"]
            periodSeconds: 1
"#;

const HOOKS_CONFIGMAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  env: {{ .Values.werf.env | quote }}
  release: {{ .Release.Name | quote }}
  namespace: {{ .Values.werf.namespace | quote }}
"#;

/// The hooks, out of weight order in the file: pre-install `pre-late` (weight 10),
/// `pre-early` (-10) and `pre-cleanup` (0, deleted when it succeeds), post-install `post`,
/// and pre-upgrade `upgrade`.
const HOOKS_HOOKS: &str = r#"{{- $image := .Values.werf.image.worker }}
{{- include "hooks.job" (dict "name" "pre-late" "hook" "pre-install" "weight" 10 "image" $image "seconds" .Values.jobSeconds) }}
---
{{ include "hooks.job" (dict "name" "pre-early" "hook" "pre-install" "weight" -10 "image" $image "seconds" .Values.jobSeconds) }}
---
{{ include "hooks.job" (dict "name" "pre-cleanup" "hook" "pre-install" "weight" 0 "policy" "hook-succeeded" "image" $image "seconds" 1) }}
---
{{ include "hooks.job" (dict "name" "post" "hook" "post-install" "weight" 0 "image" $image "seconds" 1) }}
---
{{ include "hooks.job" (dict "name" "upgrade" "hook" "pre-upgrade" "weight" 0 "image" $image "seconds" 1) }}
"#;

/// A werf project whose werf.yaml is a template (a `.werf` partial, `range` over two
/// images) and whose `.helm/` chart has no Chart.yaml: values, a partial, a Deployment of
/// the `app` image whose pods get ready 3 seconds after they start, a ConfigMap, and the
/// hook Jobs of [`HOOKS_HOOKS`] running the `worker` image.
fn hooks_project(dir: &Path) -> PathBuf {
    let p = dir.join("hooks");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::copy("/bin/busybox", p.join("busybox"))
        .expect("busybox (Debian package busybox-static)");
    for (rel, text) in [
        ("werf.yaml", HOOKS_WERF_YAML),
        (".werf/images.tmpl", HOOKS_IMAGE_TMPL),
        (
            "Dockerfile",
            "FROM scratch\nARG NAME\nCOPY busybox /bin/busybox\nCOPY run.sh /run.sh\nLABEL app.name=${NAME}\nENTRYPOINT [\"/bin/busybox\", \"sh\", \"/run.sh\"]\n",
        ),
        (
            "run.sh",
            "/bin/busybox sleep 3\n/bin/busybox mkdir -p /tmp && echo ready > /tmp/ready\nexec /bin/busybox sleep 3600\n",
        ),
        (
            ".helm/values.yaml",
            "replicas: 1\nlabels:\n  app: hooks\njobSeconds: 2\n",
        ),
        (".helm/templates/_helpers.tpl", HOOKS_HELPERS),
        (".helm/templates/deployment.yaml", HOOKS_DEPLOYMENT),
        (".helm/templates/configmap.yaml", HOOKS_CONFIGMAP),
        (".helm/templates/hooks.yaml", HOOKS_HOOKS),
    ] {
        let f = p.join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
    p
}

/// An RFC 3339 time the API server wrote (`2024-05-01T10:00:00Z`): such times order as
/// strings.
fn api_time(v: &Value) -> String {
    let t = v
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .to_string();
    assert!(t.len() == 20 && t.ends_with('Z'), "{t}");
    t
}

/// A templated werf project converged with its chart's hooks: pre-install Jobs run in
/// weight order before the release's objects exist, a `hook-succeeded` Job is gone once it
/// completed, the post-install Job runs once the Deployment is ready; the chart sees
/// `--env`, `--set`, `--values` and the pinned images. Converged again, the release is
/// upgraded: only the pre-upgrade hook runs.
#[test]
fn converge_runs_a_templated_charts_hooks_in_order_around_the_rollout() {
    let c = cluster();
    let _logs = c.logs_on_failure();
    let r = PrivateRegistry::start();
    let host = r.host();
    let ns = "t-hooks";
    let project = hooks_project(r.tmp.path());
    let labels = r.path("labels.yaml");
    std::fs::write(&labels, "labels:\n  tier: web\n").unwrap();
    let repo = format!("{host}/hooks");
    let converge = || {
        converge_on_node(
            c,
            &r,
            &project,
            &repo,
            ns,
            &[
                "--env",
                "staging",
                "--set",
                "replicas=2",
                "--values",
                s(&labels),
            ],
        )
    };
    let job = |name: &str| c.get_json(&["job", "-n", ns, name]);
    let absent = |what: &str| !c.kubectl(&["get", "-n", ns, what]).status.success();

    let first = converge();
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let err = &first.stderr;
    assert_eq!(first.json["release"], "hooks-staging", "{}", first.stdout);

    // Both images of the range were built and pushed, each pinned by digest.
    let image = |name: &str| {
        let i = first.json["images"][name].as_str().unwrap_or_default();
        assert!(
            i.starts_with(&format!("{repo}@sha256:")),
            "{}",
            first.stdout
        );
        i.to_string()
    };
    let (app, worker) = (image("app"), image("worker"));
    assert_ne!(app, worker, "the images differ by their label");

    // The chart's values: --set, --values over values.yaml, werf's image, env, release.
    let d = c.get_json(&["deployment", "-n", ns, "web"]);
    assert_eq!(d["spec"]["replicas"], 2, "{d:#}");
    assert_eq!(d["status"]["readyReplicas"], 2, "{d:#}");
    assert_eq!(d["metadata"]["labels"]["tier"], "web", "{d:#}");
    assert_eq!(d["metadata"]["labels"]["app"], "hooks", "{d:#}");
    assert_eq!(
        d["spec"]["selector"]["matchLabels"],
        json!({"app": "hooks", "release": "hooks-staging"})
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"], app,
        "{d:#}"
    );
    let settings = c.get_json(&["configmap", "-n", ns, "settings"]);
    assert_eq!(
        settings["data"],
        json!({"env": "staging", "release": "hooks-staging", "namespace": ns}),
        "{settings:#}"
    );

    // The pre-install hooks ran one at a time in weight order (-10, 0, 10), each Job
    // completed before the next was created, and all before the Deployment was created.
    let (early, late) = (job("pre-early"), job("pre-late"));
    for j in [&early, &late] {
        assert_eq!(j["status"]["succeeded"], 1, "{j:#}");
        assert_eq!(
            j["spec"]["template"]["spec"]["containers"][0]["image"], worker,
            "{j:#}"
        );
    }
    let created = |o: &Value| api_time(&o["metadata"]["creationTimestamp"]);
    let completed = |o: &Value| api_time(&o["status"]["completionTime"]);
    assert!(completed(&early) <= created(&late), "{early:#}\n{late:#}");
    assert!(created(&early) < created(&late), "{early:#}\n{late:#}");
    assert!(completed(&late) <= created(&d), "{late:#}\n{d:#}");
    assert!(created(&late) < created(&d), "{late:#}\n{d:#}");
    // `hook-succeeded`: the Job completed (its controller said so) and was deleted then.
    assert!(absent("job/pre-cleanup"), "hook-succeeded kept the Job");
    let cleanup_events = |reason: &str| -> Vec<Value> {
        c.get_json(&[
            "events",
            "-n",
            ns,
            "--field-selector",
            &format!("involvedObject.kind=Job,involvedObject.name=pre-cleanup,reason={reason}"),
        ])["items"]
            .as_array()
            .unwrap()
            .clone()
    };
    let done = cleanup_events("Completed");
    assert_eq!(done.len(), 1, "{done:#?}");
    let done_at = api_time(&done[0]["lastTimestamp"]);
    assert!(
        created(&early) <= done_at && done_at <= created(&late),
        "{done:#?}"
    );

    // The post-install Job was created once every pod of the Deployment was ready.
    let post = job("post");
    assert_eq!(post["status"]["succeeded"], 1, "{post:#}");
    let pods = c.get_json(&["pods", "-n", ns, "-l", "app=hooks"]);
    let pods = pods["items"].as_array().unwrap();
    assert_eq!(pods.len(), 2);
    for p in pods {
        let ready = p["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap_or_else(|| panic!("{p:#}"));
        assert_eq!(ready["status"], "True", "{p:#}");
        assert!(
            api_time(&ready["lastTransitionTime"]) <= created(&post),
            "{p:#}\n{post:#}"
        );
    }
    assert!(created(&d) < created(&post), "{d:#}\n{post:#}");
    // A first converge is an install: the pre-upgrade hook did not run.
    assert!(absent("job/upgrade"), "pre-upgrade ran on install");

    // What converge said, in its order.
    let at = |needle: &str| {
        err.find(needle)
            .unwrap_or_else(|| panic!("stderr lacks {needle:?}:\n{err}"))
    };
    let order = [
        at("== pre-install hooks (3)"),
        at(&format!(
            "applied Job {ns}/pre-early (pre-install hook, weight -10, from hooks/templates/hooks.yaml)"
        )),
        at(&format!(
            "applied Job {ns}/pre-cleanup (pre-install hook, weight 0"
        )),
        at(&format!("deleted Job {ns}/pre-cleanup: hook-succeeded")),
        at(&format!(
            "applied Job {ns}/pre-late (pre-install hook, weight 10"
        )),
        at("== apply "),
        at(&format!("applied Deployment {ns}/web")),
        at("== track the rollout"),
        at("== post-install hooks (1)"),
        at(&format!(
            "applied Job {ns}/post (post-install hook, weight 0"
        )),
    ];
    assert!(order.is_sorted(), "{order:?}\n{err}");
    assert!(!err.contains("pre-upgrade"), "{err}");
    // Hooks are not the release's objects.
    let applied = first.json["applied"].to_string();
    assert!(!applied.contains("Job"), "{applied}");

    // Again: an upgrade. The pre-upgrade hook runs; the install hooks do not.
    let uid = |o: &Value| o["metadata"]["uid"].as_str().unwrap().to_string();
    let before: Vec<String> = [&early, &late, &post].into_iter().map(uid).collect();
    let second = converge();
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    let err = &second.stderr;
    assert!(err.contains("== pre-upgrade hooks (1)"), "{err}");
    assert!(
        err.contains(&format!(
            "applied Job {ns}/upgrade (pre-upgrade hook, weight 0"
        )),
        "{err}"
    );
    for not in ["pre-install", "post-install", "post-upgrade hooks"] {
        assert!(!err.contains(not), "{not}: {err}");
    }
    let upgrade = job("upgrade");
    assert_eq!(upgrade["status"]["succeeded"], 1, "{upgrade:#}");
    assert!(created(&post) < created(&upgrade), "{post:#}\n{upgrade:#}");
    let after: Vec<String> = ["pre-early", "pre-late", "post"]
        .into_iter()
        .map(|n| uid(&job(n)))
        .collect();
    assert_eq!(after, before, "an install hook ran again");
    assert!(absent("job/pre-cleanup"));
    assert_eq!(
        cleanup_events("Completed").len(),
        1,
        "pre-cleanup ran again"
    );
    assert_eq!(
        c.get_json(&["deployment", "-n", ns, "web"])["metadata"]["uid"],
        d["metadata"]["uid"]
    );
}
