//! Pull-failure texts as kubelets report them, classified into the shared vocabulary. The
//! containerd text is the fixture captured from a real containerd 1.6 CRI pull in the node
//! trust tests; the others are the runtime wordings documented in research (Go x509/tls/net
//! errors wrapped by CRI-O, dockershim and older kubelets).

use slipway_trust::{Verdict, classify_pull_failure};

fn containerd_fixture() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/containerd-1.6-cri-unknown-authority.txt"
    ))
    .unwrap();
    text.trim_end().replace("PORT", "5000")
}

#[test]
fn the_real_containerd_message_in_both_kubelet_wrappings_is_unknown_authority() {
    let inner = containerd_fixture();
    let image = "registry.test:5000/app:v1";
    for msg in [
        format!("Failed to pull image \"{image}\": rpc error: code = Unknown desc = {inner}"),
        format!("Failed to pull image \"{image}\": {inner}"),
    ] {
        let f = classify_pull_failure(&msg);
        assert_eq!(f.verdict, Verdict::UnknownAuthority, "{msg}");
        assert_eq!(f.image.as_deref(), Some(image));
        assert_eq!(f.registry.as_deref(), Some("registry.test:5000"));
        assert_eq!(f.runtime, Some("containerd"));
    }
}

#[test]
fn runtime_wordings_classify_to_the_shared_verdicts() {
    let cases = [
        (
            "Failed to pull image \"184.73.131.126:5000/nginx:latest\": rpc error: code = Unknown desc = failed to pull and unpack image \"184.73.131.126:5000/nginx:latest\": failed to resolve reference \"184.73.131.126:5000/nginx:latest\": failed to do request: Head https://184.73.131.126:5000/v2/nginx/manifests/latest: http: server gave HTTP response to HTTPS client",
            Verdict::PlainHttp,
            Some("184.73.131.126:5000"),
            Some("containerd"),
        ),
        (
            "Failed to pull image \"registry.test:6071/app:1\": pinging container registry registry.test:6071: Get \"https://registry.test:6071/v2/\": x509: certificate signed by unknown authority",
            Verdict::UnknownAuthority,
            Some("registry.test:6071"),
            Some("cri-o"),
        ),
        (
            "Failed to pull image \"registry.test:6071/app:1\": pinging container registry registry.test:6071: Get \"https://registry.test:6071/v2/\": x509: certificate relies on legacy Common Name field, use SANs instead",
            Verdict::LegacyCommonName,
            Some("registry.test:6071"),
            Some("cri-o"),
        ),
        (
            "Failed to pull image \"selenium/hub\": rpc error: code = Unknown desc = Error response from daemon: Get \"https://registry-1.docker.io/v2/\": x509: certificate signed by unknown authority",
            Verdict::UnknownAuthority,
            Some("docker.io"),
            Some("dockershim"),
        ),
        (
            "Failed to pull image \"r.test:5000/a:1\": failed to pull and unpack image \"r.test:5000/a:1\": failed to resolve reference \"r.test:5000/a:1\": failed to do request: Head \"https://r.test:5000/v2/a/manifests/1\": x509: certificate is valid for registry.example, not r.test",
            Verdict::HostnameMismatch,
            Some("r.test:5000"),
            Some("containerd"),
        ),
        (
            "Failed to pull image \"r.test:5000/a:1\": failed to pull and unpack image \"r.test:5000/a:1\": failed to resolve reference \"r.test:5000/a:1\": failed to do request: Head \"https://r.test:5000/v2/a/manifests/1\": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-11-24T19:19:59Z is after 2020-02-01T00:00:00Z",
            Verdict::Expired,
            Some("r.test:5000"),
            Some("containerd"),
        ),
        (
            "Failed to pull image \"r.test:5000/a:1\": failed to pull and unpack image \"r.test:5000/a:1\": failed to resolve reference \"r.test:5000/a:1\": failed to do request: Head \"https://r.test:5000/v2/a/manifests/1\": remote error: tls: certificate required",
            Verdict::ClientCertRequired,
            Some("r.test:5000"),
            Some("containerd"),
        ),
        (
            "Failed to pull image \"r.test:5000/a:1\": failed to pull and unpack image \"r.test:5000/a:1\": failed to resolve reference \"r.test:5000/a:1\": failed to do request: Head \"https://r.test:5000/v2/a/manifests/1\": dial tcp 10.0.0.9:5000: connect: connection refused",
            Verdict::ConnectionRefused,
            Some("r.test:5000"),
            Some("containerd"),
        ),
    ];
    for (msg, verdict, registry, runtime) in cases {
        let f = classify_pull_failure(msg);
        assert_eq!(f.verdict, verdict, "{msg}");
        assert_eq!(f.registry.as_deref(), registry, "{msg}");
        assert_eq!(f.runtime, runtime, "{msg}");
    }
}

#[test]
fn every_classified_failure_prints_a_node_fix_naming_the_registry() {
    let f = classify_pull_failure(&format!(
        "Failed to pull image \"registry.test:5000/app:v1\": {}",
        containerd_fixture()
    ));
    let fixes = f.verdict.fixes(&slipway_trust::FixContext {
        registry: f.registry.clone().unwrap(),
        ..Default::default()
    });
    assert!(
        fixes
            .nodes
            .iter()
            .filter_map(slipway_trust::Fix::command)
            .any(|c| c.starts_with("slipway cluster trust apply --trust registry.test:5000=")),
        "{fixes:?}"
    );
}
