//! The Kubernetes side of slipway: the manifests of `cluster trust`, a DaemonSet that runs
//! `slipway node trust install` on every node (nodes that join later included) with the CA
//! bundles from a ConfigMap, releases a node's startup taint once it trusts, and turns
//! ready only when `node trust verify` succeeds; and [`render`], which pins the werf
//! images of an app's manifests to the digests a build produced.
//!
//! It also talks to a cluster through kube-rs: [`connect`], server-side [`apply`] in
//! dependency order with kinds found by API discovery, [`track`] workloads to readiness by
//! watch with `kubectl rollout status`'s rules while classifying pull failures
//! ([`PullDiagnosis`]), [`trust_apply`] (`cluster trust apply`) and [`cluster_status`]
//! (the cluster half of `doctor`). These are tested on a real single-node cluster
//! (`slipway_testkit::Cluster`); faults one node cannot show cheaply use a loopback fake
//! (`slipway_testkit::FakeKube`).
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
//! assert_eq!(objects.len(), 6);
//! ```

mod apply;
mod client;
mod diagnose;
pub mod prune;
pub mod render;
mod track;
mod trust;
mod watch;

pub use apply::{
    AppliedRef, FIELD_MANAGER, apply, apply_rank, delete_and_wait, ensure_namespace, resolve_ref,
};
pub use client::{Error, connect, connect_with};
pub use diagnose::{
    PULL_REASONS, PullDiagnosis, ca_file_name, cluster_trust_command, diagnose, registry_of,
    unrecoverable,
};
pub use kube::Client;
pub use prune::{PruneReport, prune};
pub use slipway_trust::{Fix, Fixes, Verdict};
pub use track::{
    PodReport, Progress, RolloutStatus, TrackError, TrackOptions, TrackReport, Waiting,
    WorkloadReport, is_workload, rollout_status, selector_string, track,
};
pub use trust::{
    ClusterStatus, DaemonSetCounts, NodeTrust, RECENT_PULL_FAILURES, TrustApplyReport,
    cluster_status, release_node_taint, trust_apply,
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
    /// Where the agent reaches the API server, instead of the `kubernetes` Service: for
    /// clusters whose Service routing (kube-proxy, or a CNI that replaces it) is not up
    /// before registry trust is, because its own images come from that registry.
    pub api_server: Option<ApiServer>,
}

impl Default for TrustManifest {
    fn default() -> Self {
        TrustManifest {
            registries: vec![],
            agent_image: String::new(),
            namespace: "slipway-system".into(),
            runtime: "auto".into(),
            system_store: false,
            api_server: None,
        }
    }
}

/// An API server address for the agent: host (name or IP) and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiServer {
    /// The host, without brackets for IPv6.
    pub host: String,
    /// The port.
    pub port: u16,
}

impl ApiServer {
    /// Parses `https://HOST[:PORT]` (port 443 when none is given); a trailing `/` is fine.
    ///
    /// # Errors
    /// A message naming what is wrong (not https, no host, a bad port, a path).
    pub fn parse(url: &str) -> Result<ApiServer, String> {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| format!("{url:?}: the API server URL must start with https://"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(format!(
                "{url:?}: give only https://HOST[:PORT], without a path"
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') && (!h.contains(':') || h.ends_with(']')) => {
                let port = p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("{url:?}: {p:?} is not a port"))?;
                (h, port)
            }
            _ => (rest, 443),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("{url:?}: no host"));
        }
        Ok(ApiServer {
            host: host.to_string(),
            port,
        })
    }
}

const NAME: &str = "slipway-node-trust";
/// The name of the agent's DaemonSet, ServiceAccount and pods' `app.kubernetes.io/name`.
pub const AGENT_NAME: &str = NAME;
/// The pod template annotation holding [`TrustManifest::bundle_checksum`].
pub const CHECKSUM_ANNOTATION: &str = "slipway.dev/bundle-sha256";
/// The taint a node can register with (kubelet `--register-with-taints
/// slipway.dev/registry-trust=pending:NoSchedule`) so that no pod is scheduled on it before
/// its runtime trusts the registries; the trust agent removes it once `node trust install`
/// succeeded there.
pub const STARTUP_TAINT: &str = "slipway.dev/registry-trust";
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

/// Which `slipway node trust` subcommand an [`AgentCall`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentVerb {
    /// `install`, in the agent's command.
    Install,
    /// `verify`, in its readiness probe.
    Verify,
}

/// One `slipway node trust install|verify` call of the trust agent, as typed values; its
/// command line is made from them by [`AgentCall::argv`], never written as free text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentCall {
    /// install or verify.
    pub verb: AgentVerb,
    /// The registry.
    pub registry: RegistryHost,
    /// The bundle's path inside the agent pod.
    pub ca: String,
    /// The node's root inside the agent pod.
    pub host_root: String,
    /// `--runtime`.
    pub runtime: String,
    /// `--system-store`.
    pub system_store: bool,
    /// `--release-taint`: remove this taint from the agent's node once installed.
    pub release_taint: Option<String>,
}

impl AgentCall {
    /// Returns the command line, `slipway node trust VERB --registry ...`.
    pub fn argv(&self) -> Vec<String> {
        let verb = match self.verb {
            AgentVerb::Install => "install",
            AgentVerb::Verify => "verify",
        };
        let mut v: Vec<String> = ["slipway", "node", "trust", verb, "--registry"]
            .into_iter()
            .map(String::from)
            .collect();
        v.push(self.registry.to_string());
        v.extend(["--ca".into(), self.ca.clone()]);
        v.extend(["--host-root".into(), self.host_root.clone()]);
        v.extend(["--runtime".into(), self.runtime.clone()]);
        if self.system_store {
            v.push("--system-store".into());
        }
        if self.verb == AgentVerb::Install {
            v.extend(["--restart-runtime".into(), "never".into()]);
        }
        if let Some(t) = &self.release_taint {
            v.extend(["--release-taint".into(), t.clone()]);
        }
        v
    }
}

/// Quotes one word for `/bin/sh`: as it is when it holds only safe characters, else in
/// single quotes.
fn sh_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl TrustManifest {
    /// Returns the agent's `node trust` calls for `verb`, one per registry. The last
    /// install also releases the node's [`STARTUP_TAINT`], so a node that registered with it
    /// takes pods only once every registry is trusted there.
    pub fn agent_calls(&self, verb: AgentVerb) -> Vec<AgentCall> {
        let n = self.registries.len();
        self.registries
            .iter()
            .enumerate()
            .map(|(i, t)| AgentCall {
                verb,
                registry: t.registry.clone(),
                ca: format!("{BUNDLES}/{}", bundle_key(&t.registry)),
                host_root: "/host".into(),
                runtime: self.runtime.clone(),
                system_store: self.system_store,
                release_taint: (verb == AgentVerb::Install && i + 1 == n)
                    .then(|| STARTUP_TAINT.to_string()),
            })
            .collect()
    }

    /// Returns the `/bin/sh -c` text that runs the calls for `verb` one after another.
    pub fn agent_script(&self, verb: AgentVerb) -> String {
        self.agent_calls(verb)
            .iter()
            .map(|c| {
                c.argv()
                    .iter()
                    .map(|w| sh_quote(w))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join(" && ")
    }

    /// The name of the ClusterRole (and its binding) that lets the agents of this namespace
    /// read their node and release its startup taint.
    pub fn cluster_role(&self) -> String {
        format!("{NAME}:{}", self.namespace)
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

    /// Returns the objects in apply order: Namespace, ServiceAccount, ClusterRole,
    /// ClusterRoleBinding, ConfigMap, DaemonSet.
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
        let role = self.cluster_role();
        // The node's name, for releasing its startup taint; and, when asked, the API
        // server's address in place of the `kubernetes` Service's.
        let mut env = vec![
            json!({ "name": "NODE_NAME", "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } } }),
        ];
        if let Some(a) = &self.api_server {
            env.push(json!({ "name": "KUBERNETES_SERVICE_HOST", "value": a.host }));
            env.push(json!({ "name": "KUBERNETES_SERVICE_PORT", "value": a.port.to_string() }));
        }
        vec![
            json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns, "labels": labels } }),
            json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": NAME, "namespace": ns, "labels": labels } }),
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": { "name": role, "labels": labels },
                "rules": [ { "apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"] } ]
            }),
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": { "name": role, "labels": labels },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role },
                "subjects": [ { "kind": "ServiceAccount", "name": NAME, "namespace": ns } ]
            }),
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
                            // SIGHUP to dockerd/crio needs the host's pid namespace. The
                            // node's network and resolver: verify connects as the runtime
                            // does, and the agent needs no CNI, whose images may come from
                            // the very registry it is about to trust.
                            "hostPID": true,
                            "hostNetwork": true,
                            "dnsPolicy": "Default",
                            "containers": [{
                                "name": "node-trust",
                                "image": self.agent_image,
                                "command": ["/bin/sh", "-c", format!("{} && exec sleep infinity", self.agent_script(AgentVerb::Install))],
                                "env": env,
                                "securityContext": { "privileged": true },
                                "readinessProbe": {
                                    "exec": { "command": ["/bin/sh", "-c", self.agent_script(AgentVerb::Verify)] },
                                    "initialDelaySeconds": 1,
                                    "periodSeconds": 10,
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
