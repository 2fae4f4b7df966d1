//! The `cluster trust` manifests deserialize into the real Kubernetes API types
//! (k8s-openapi), so every field they rely on exists and has the right shape.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use slipway_kube::{ApiServer, TrustManifest, Trusted, bundle_key};
use slipway_trust::RegistryHost;

fn manifest(ca: &[u8]) -> TrustManifest {
    TrustManifest {
        registries: vec![
            Trusted {
                registry: RegistryHost::parse("registry.internal:5000").unwrap(),
                ca_pem: ca.to_vec(),
            },
            Trusted {
                registry: RegistryHost::parse("mirror.internal").unwrap(),
                ca_pem: ca.to_vec(),
            },
        ],
        agent_image: "registry.internal:5000/slipway:0.1".into(),
        system_store: true,
        api_server: Some(ApiServer::parse("https://10.1.2.3:6443").unwrap()),
        ..TrustManifest::default()
    }
}

#[test]
fn objects_round_trip_through_k8s_openapi_types() {
    let pki = slipway_testkit::TestPki::new();
    let ca = std::fs::read(pki.ca()).unwrap();
    let objects = manifest(&ca).objects();
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "DaemonSet"
        ]
    );

    let ns: Namespace = serde_json::from_value(objects[0].clone()).unwrap();
    assert_eq!(ns.metadata.name.as_deref(), Some("slipway-system"));
    let sa: ServiceAccount = serde_json::from_value(objects[1].clone()).unwrap();
    assert_eq!(sa.metadata.namespace.as_deref(), Some("slipway-system"));
    // The agent may read its node and patch it (to release the startup taint), nothing more.
    let role: ClusterRole = serde_json::from_value(objects[2].clone()).unwrap();
    let rules = role.rules.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["nodes".to_string()][..])
    );
    assert_eq!(rules[0].verbs, ["get", "patch"]);
    let binding: ClusterRoleBinding = serde_json::from_value(objects[3].clone()).unwrap();
    assert_eq!(binding.role_ref.name, role.metadata.name.unwrap());
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(
        (subject.name.as_str(), subject.namespace.as_deref()),
        ("slipway-node-trust", Some("slipway-system"))
    );
    let cm: ConfigMap = serde_json::from_value(objects[4].clone()).unwrap();
    let data = cm.data.unwrap();
    let key = bundle_key(&RegistryHost::parse("registry.internal:5000").unwrap());
    assert_eq!(key, "registry.internal_5000.crt");
    assert_eq!(data[&key].as_bytes(), ca.as_slice());

    let ds: DaemonSet = serde_json::from_value(objects[5].clone()).unwrap();
    // Re-serializing the typed object must give back the same JSON: no field was dropped.
    assert_eq!(serde_json::to_value(&ds).unwrap(), objects[5]);
    let spec = ds.spec.unwrap();
    let pod = spec.template.spec.unwrap();
    assert_eq!(
        pod.priority_class_name.as_deref(),
        Some("system-node-critical")
    );
    let tolerations = pod.tolerations.unwrap();
    assert_eq!(tolerations.len(), 1);
    assert_eq!(tolerations[0].operator.as_deref(), Some("Exists"));
    assert!(
        tolerations[0].key.is_none() && tolerations[0].effect.is_none(),
        "tolerates every taint"
    );
    // The node's network and resolver, as its runtime has them.
    assert_eq!(pod.host_network, Some(true));
    assert_eq!(pod.dns_policy.as_deref(), Some("Default"));
    let c = &pod.containers[0];
    assert_eq!(c.security_context.as_ref().unwrap().privileged, Some(true));
    let env: Vec<(String, Option<String>)> = c
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value))
        .collect();
    assert_eq!(
        env,
        [
            ("NODE_NAME".to_string(), None),
            ("KUBERNETES_SERVICE_HOST".into(), Some("10.1.2.3".into())),
            ("KUBERNETES_SERVICE_PORT".into(), Some("6443".into())),
        ]
    );
    let script = &c.command.as_ref().unwrap()[2];
    assert!(script.contains("slipway node trust install --registry registry.internal:5000 --ca /etc/slipway/bundles/registry.internal_5000.crt --host-root /host"), "{script}");
    assert!(
        script.contains("--system-store") && script.contains("--registry mirror.internal"),
        "{script}"
    );
    // Only the last install releases the startup taint: every registry is trusted first.
    assert_eq!(
        script
            .matches("--release-taint slipway.dev/registry-trust")
            .count(),
        1
    );
    assert!(
        script.ends_with("--release-taint slipway.dev/registry-trust && exec sleep infinity"),
        "{script}"
    );
    let probe = c
        .readiness_probe
        .as_ref()
        .unwrap()
        .exec
        .as_ref()
        .unwrap()
        .command
        .as_ref()
        .unwrap();
    assert!(probe[2].contains("slipway node trust verify"), "{probe:?}");
    let volumes = pod.volumes.unwrap();
    assert_eq!(volumes[0].host_path.as_ref().unwrap().path, "/");
    let annotations = spec.template.metadata.unwrap().annotations.unwrap();
    assert_eq!(annotations["slipway.dev/bundle-sha256"].len(), 64);
}

#[test]
fn a_changed_bundle_changes_the_pod_template_so_the_daemonset_rolls() {
    let a = slipway_testkit::TestPki::new();
    let b = slipway_testkit::TestPki::new();
    let one = manifest(&std::fs::read(a.ca()).unwrap());
    let two = manifest(&std::fs::read(b.ca()).unwrap());
    assert_ne!(one.bundle_checksum(), two.bundle_checksum());
    assert_eq!(
        one.bundle_checksum(),
        manifest(&std::fs::read(a.ca()).unwrap()).bundle_checksum()
    );
}
