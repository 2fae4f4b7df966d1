//! The Kubernetes side of slipway. For now: the manifests of `cluster trust`, a DaemonSet
//! that runs `slipway node trust install` on every node (nodes that join later included)
//! with the CA bundles from a ConfigMap, and turns ready only when `node trust verify`
//! succeeds; and [`render`], which pins the werf images of an app's manifests to the
//! digests a build produced.
//!
//! It also talks to a cluster through kube-rs: [`connect`], server-side [`apply`] in
//! dependency order, [`track`] workloads to readiness while classifying pull failures
//! ([`PullDiagnosis`]), [`trust_apply`] (`cluster trust apply`) and [`cluster_status`]
//! (the cluster half of `doctor`). These are tested against a loopback fake of the API
//! (`slipway_testkit::FakeKube`), never a real API server.
//!
//! ```
//! use slipway_kube::{TrustManifest, Trusted};
//! use slipway_trust::RegistryHost;
//! let m = TrustManifest {
//!     registries: vec![Trusted { registry: RegistryHost::parse("registry.internal:5000").unwrap(), ca_pem: b"-----BEGIN CERTIFICATE-----\n...".to_vec() }],
//!     agent_image: "registry.internal:5000/slipway:0.1".into(),
//!     ..TrustManifest::default()
//! };
//! let objects = m.objects();
//! assert_eq!(objects.len(), 4);
//! ```

mod apply;
mod client;
mod diagnose;
pub mod prune;
pub mod render;
mod track;
mod trust;

pub use apply::{AppliedRef, FIELD_MANAGER, apply, apply_rank};
pub use client::{Error, connect, connect_with};
pub use diagnose::{
    PULL_REASONS, PullDiagnosis, ca_file_name, cluster_trust_command, diagnose, fixes_for,
    registry_of, unrecoverable,
};
pub use kube::Client;
pub use prune::{PruneReport, prune};
pub use slipway_trust::{Fixes, Verdict};
pub use track::{
    PodReport, Progress, TrackError, TrackOptions, TrackReport, Waiting, WorkloadReport,
    is_workload, selector_string, track,
};
pub use trust::{
    ClusterStatus, DaemonSetCounts, NodeTrust, RECENT_PULL_FAILURES, TrustApplyReport,
    cluster_status, trust_apply,
};

use serde_json::{Value, json};
use slipway_trust::RegistryHost;

/// One registry the nodes must trust, with its CA bundle (PEM).
#[derive(Clone, Debug)]
pub struct Trusted {
    /// The registry, `host[:port]` exactly as image references name it.
    pub registry: RegistryHost,
    /// The PEM CA bundle (or pinned self-signed certificate).
    pub ca_pem: Vec<u8>,
}

/// Describes the `cluster trust` objects to produce.
#[derive(Clone, Debug)]
pub struct TrustManifest {
    /// Registries and their bundles.
    pub registries: Vec<Trusted>,
    /// The agent's image (it must come from a registry the nodes already trust).
    pub agent_image: String,
    /// The namespace for the agent.
    pub namespace: String,
    /// `--runtime` passed to `node trust install` (auto, containerd, docker, crio, all).
    pub runtime: String,
    /// Also configure the OS trust store.
    pub system_store: bool,
}

impl Default for TrustManifest {
    fn default() -> Self {
        TrustManifest {
            registries: vec![],
            agent_image: String::new(),
            namespace: "slipway-system".into(),
            runtime: "auto".into(),
            system_store: false,
        }
    }
}

const NAME: &str = "slipway-node-trust";
/// The name of the agent's DaemonSet, ServiceAccount and pods' `app.kubernetes.io/name`.
pub const AGENT_NAME: &str = NAME;
/// The pod template annotation holding [`TrustManifest::bundle_checksum`].
pub const CHECKSUM_ANNOTATION: &str = "slipway.dev/bundle-sha256";
const BUNDLES: &str = "/etc/slipway/bundles";

/// Returns the ConfigMap key for a registry's bundle (ConfigMap keys allow `[-._a-zA-Z0-9]`).
pub fn bundle_key(registry: &RegistryHost) -> String {
    let k: String = registry
        .to_string()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{k}.crt")
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl TrustManifest {
    fn node_cmd(&self, verb: &str) -> String {
        self.registries
            .iter()
            .map(|t| {
                let mut c = format!(
                    "slipway node trust {verb} --registry {} --ca {} --host-root /host --runtime {}",
                    sh_quote(&t.registry.to_string()),
                    sh_quote(&format!("{BUNDLES}/{}", bundle_key(&t.registry))),
                    sh_quote(&self.runtime)
                );
                if self.system_store {
                    c.push_str(" --system-store");
                }
                if verb == "install" {
                    c.push_str(" --restart-runtime never");
                }
                c
            })
            .collect::<Vec<_>>()
            .join(" && ")
    }

    /// Returns the SHA-256 of every bundle, for the pod template annotation that rolls the
    /// DaemonSet whenever a bundle changes.
    pub fn bundle_checksum(&self) -> String {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for t in &self.registries {
            ctx.update(t.registry.to_string().as_bytes());
            ctx.update(&[0]);
            ctx.update(&t.ca_pem);
            ctx.update(&[0]);
        }
        ctx.finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Returns the objects in apply order: Namespace, ServiceAccount, ConfigMap, DaemonSet.
    pub fn objects(&self) -> Vec<Value> {
        let labels =
            json!({ "app.kubernetes.io/name": NAME, "app.kubernetes.io/managed-by": "slipway" });
        let data: serde_json::Map<String, Value> = self
            .registries
            .iter()
            .map(|t| {
                (
                    bundle_key(&t.registry),
                    Value::String(String::from_utf8_lossy(&t.ca_pem).to_string()),
                )
            })
            .collect();
        let ns = &self.namespace;
        vec![
            json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns, "labels": labels } }),
            json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": NAME, "namespace": ns, "labels": labels } }),
            json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": format!("{NAME}-bundles"), "namespace": ns, "labels": labels }, "data": data }),
            json!({
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": { "name": NAME, "namespace": ns, "labels": labels },
                "spec": {
                    "selector": { "matchLabels": { "app.kubernetes.io/name": NAME } },
                    "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": "10%" } },
                    "template": {
                        "metadata": {
                            "labels": labels,
                            // A changed bundle changes the template, which rolls every pod.
                            "annotations": { CHECKSUM_ANNOTATION: self.bundle_checksum() }
                        },
                        "spec": {
                            "serviceAccountName": NAME,
                            "priorityClassName": "system-node-critical",
                            // Every taint tolerated: control-plane nodes and nodes that join later too.
                            "tolerations": [ { "operator": "Exists" } ],
                            // SIGHUP to dockerd/crio needs the host's pid namespace.
                            "hostPID": true,
                            "containers": [{
                                "name": "node-trust",
                                "image": self.agent_image,
                                "command": ["/bin/sh", "-c", format!("{} && exec sleep infinity", self.node_cmd("install"))],
                                "securityContext": { "privileged": true },
                                "readinessProbe": {
                                    "exec": { "command": ["/bin/sh", "-c", self.node_cmd("verify")] },
                                    "initialDelaySeconds": 2,
                                    "periodSeconds": 30,
                                    "timeoutSeconds": 15
                                },
                                "resources": { "requests": { "cpu": "10m", "memory": "16Mi" }, "limits": { "memory": "64Mi" } },
                                "volumeMounts": [
                                    { "name": "host", "mountPath": "/host" },
                                    { "name": "bundles", "mountPath": BUNDLES, "readOnly": true }
                                ]
                            }],
                            "volumes": [
                                { "name": "host", "hostPath": { "path": "/", "type": "Directory" } },
                                { "name": "bundles", "configMap": { "name": format!("{NAME}-bundles") } }
                            ]
                        }
                    }
                }
            }),
        ]
    }
}
