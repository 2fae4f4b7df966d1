//! `slipway converge` and `slipway doctor` where no real cluster is the point: bad input
//! refused before any API request (the loopback fake, `FakeKube`, records that none was
//! made), a cluster that cannot be reached, and pasted errors. Everything a cluster can
//! show runs on the real one, in `kubernetes.rs`.

mod common;

use std::path::PathBuf;

use common::{Run, TlsRig};
use serde_json::Value;
use slipway_testkit::{FakeKube, fixtures};

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
}

/// A registry given a client certificate cannot be trusted on the nodes by converge (it
/// carries CAs only): refused, with the per-node command, before anything happens.
#[test]
fn converge_refuses_an_mtls_registry_it_cannot_carry_to_the_nodes() {
    let rig = Rig::new();
    let pki = slipway_testkit::TestPki::new();
    let client = pki.client_cert();
    let pair = format!(
        "{}={},{}",
        rig.reg.host(),
        client.cert.display(),
        client.key.display()
    );
    let before = common::tree_state(&rig.reg.dir().join("data"));
    let run = rig.converge(&[
        "--registry-client-cert",
        &pair,
        "--agent-image",
        "ghcr.io/example/slipway:0.1",
    ]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("is given a client certificate (mTLS)")
            && run.stderr.contains("--skip-cluster-trust"),
        "{}",
        run.stderr
    );
    assert!(rig.fake.requests().is_empty(), "the API was called");
    assert_eq!(
        before,
        common::tree_state(&rig.reg.dir().join("data")),
        "something was pushed"
    );
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
fn doctor_names_an_unreachable_cluster_and_explains_pasted_errors() {
    let rig = Rig::new();
    let host = rig.reg.host();
    let image = format!("{host}/hello:1");
    let msg = format!(
        "Failed to pull image \"{image}\": {}",
        containerd_x509(&image)
    );

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

    // A kubeconfig that does not exist is bad input (exit 2), not a problem found.
    let missing = rig.path("missing.kubeconfig");
    let run = rig.base.slipway_env(
        &["doctor", "--registry", &host],
        &[("KUBECONFIG", missing.to_str().unwrap())],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("--no-cluster") && run.stderr.contains("missing.kubeconfig"),
        "{}",
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
    let nodes = &run.json["explain"]["fixes"]["nodes"];
    assert_eq!(nodes[0]["kind"], "run", "{}", run.stdout);
    let node_command = format!(
        "slipway node trust install --registry {host} --ca {}",
        host.replace(':', "_") + ".crt"
    );
    assert_eq!(nodes[0]["command"], node_command.as_str());
    // For people, each step is a line after the verdict, saying which side it is for.
    let human = rig.base.slipway_env(&["doctor", "--explain", &msg], &[]);
    assert_eq!(human.code, 1, "{}", human.stdout);
    assert!(
        human
            .stdout
            .contains(&format!("\n  fix (nodes): {node_command}\n")),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("\n  fix (build machine): pass --registry-ca "),
        "{}",
        human.stdout
    );
}

/// The release and namespace are werf's: werf.yaml's `deploy` templates with `--env`,
/// slugged by werf's rules; `--namespace` and `--release` win; a bad name is refused
/// before anything is built or applied. (FakeKube never makes the Deployment ready, so
/// each converge that applies ends in its short timeout; what it applied is the point.)
#[test]
fn converge_deploys_to_the_release_and_namespace_werf_would() {
    let rig = Rig::new();
    let werf = rig.path("hello/werf.yaml");
    let text = std::fs::read_to_string(&werf).unwrap();
    let with_deploy = text.replace(
        "configVersion: 1\n",
        "configVersion: 1\ndeploy:\n  namespace: \"[[ project ]]-[[ env ]]\"\n  helmRelease: \"[[ namespace ]]_Rel\"\ncleanup:\n  keepImagesBuiltWithinLastNHours: 1\n",
    );
    assert_ne!(text, with_deploy);
    std::fs::write(&werf, &with_deploy).unwrap();
    let run = rig.converge(&[
        "--skip-cluster-trust",
        "--env",
        "production",
        "--timeout",
        "1s",
    ]);
    assert!(
        run.stderr.contains("note: ") && run.stderr.contains("no cleanup command"),
        "{}",
        run.stderr
    );
    // The release `hello-production_Rel` is no DNS name, so it is slugged as werf slugs it;
    // its inventory records it.
    let hash = format!(
        "{:x}",
        slipway_werf::deploy::murmur3_32(b"hello-production_Rel")
    );
    let release = format!("hello-production-rel-{hash}");
    let inventories = |ns: &str| -> Vec<String> {
        rig.fake.with(|store| {
            store
                .all("ConfigMap")
                .iter()
                .filter(|c| c["metadata"]["namespace"] == ns)
                .filter_map(|c| c["metadata"]["name"].as_str().map(str::to_string))
                .filter(|n| n.starts_with("slipway-release-"))
                .collect()
        })
    };
    assert_eq!(
        inventories("hello-production"),
        [format!("slipway-release-{release}")],
        "{}",
        run.stderr
    );
    let applied: Vec<String> = rig
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.path)
        .collect();
    assert!(
        applied
            .iter()
            .any(|p| p.contains("/namespaces/hello-production/deployments/hello")),
        "{applied:#?}"
    );
    assert!(
        run.stderr.contains("created Namespace hello-production"),
        "{}",
        run.stderr
    );

    // The options win over werf.yaml, as werf's do.
    let run = rig.converge(&[
        "--skip-cluster-trust",
        "--env",
        "production",
        "--namespace",
        "given",
        "--release",
        "given-rel",
        "--timeout",
        "1s",
    ]);
    assert_eq!(
        inventories("given"),
        ["slipway-release-given-rel"],
        "{}",
        run.stderr
    );
    assert!(rig.fake.get("Namespace", "", "given").is_some());

    // A name the options give is checked, never slugged; nothing is built or applied.
    let before = rig.fake.requests().len();
    let state = common::tree_state(&rig.reg.dir().join("data"));
    for (flag, value, says) in [
        ("--namespace", "Not_Valid", "--namespace `Not_Valid`"),
        ("--release", "UPPER", "--release `UPPER`"),
    ] {
        let run = rig.converge(&["--skip-cluster-trust", flag, value]);
        assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
    }
    // A template function slipway does not render is refused by name.
    std::fs::write(
        &werf,
        with_deploy.replace("[[ project ]]-[[ env ]]", "[[ env | upper ]]"),
    )
    .unwrap();
    let run = rig.converge(&["--skip-cluster-trust", "--env", "x"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("deploy.namespace") && run.stderr.contains("is not supported"),
        "{}",
        run.stderr
    );
    assert_eq!(rig.fake.requests().len(), before, "the API was called");
    assert_eq!(state, common::tree_state(&rig.reg.dir().join("data")));
}
