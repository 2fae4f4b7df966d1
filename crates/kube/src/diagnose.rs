//! Pull failures seen on pods, classified with the diagnosis vocabulary and given a fix.

use serde::Serialize;
use slipway_trust::{FixContext, Fixes, Verdict, classify_pull_failure};

/// Container waiting reasons that mean the image could not be pulled.
pub const PULL_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
];

/// One container that cannot pull its image, with the cause and the fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PullDiagnosis {
    /// The pod.
    pub pod: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The node the pod is scheduled on, if known.
    pub node: Option<String>,
    /// The container, if known (events do not always say).
    pub container: Option<String>,
    /// The image that failed.
    pub image: String,
    /// The registry `host[:port]` it comes from.
    pub registry: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Which runtime wrote the message (`containerd`, `cri-o`, `dockershim`), if recognized.
    pub runtime: Option<&'static str>,
    /// The cause, in words.
    pub cause: String,
    /// What to do, on the build machine and on the nodes.
    pub fixes: Fixes,
    /// The message the diagnosis is based on, verbatim.
    pub message: String,
    /// The failure will not go away by waiting: tracking stops at once.
    pub fatal: bool,
}

/// Returns whether waiting cannot cure a pull that failed with `verdict`.
pub fn unrecoverable(verdict: Verdict) -> bool {
    matches!(
        verdict,
        Verdict::UnknownAuthority
            | Verdict::HostnameMismatch
            | Verdict::Expired
            | Verdict::NotYetValid
            | Verdict::LegacyCommonName
            | Verdict::TlsRequired
            | Verdict::PlainHttp
            | Verdict::ClientCertRequired
            | Verdict::Unauthorized
            | Verdict::NotFound
    )
}

pub use slipway_names::registry_of;

pub use slipway_trust::{ca_file_name, cluster_trust_command};

fn cause_words(v: Verdict, registry: &str, node: &str) -> String {
    match v {
        Verdict::UnknownAuthority => format!(
            "the container runtime on {node} does not trust the certificate authority that signed {registry}'s certificate"
        ),
        Verdict::HostnameMismatch => {
            format!("{registry}'s certificate does not name the host the image reference uses")
        }
        Verdict::Expired => format!("{registry}'s certificate has expired"),
        Verdict::NotYetValid => format!(
            "{registry}'s certificate is not valid yet, as seen from {node} (a clock, or a certificate dated in the future)"
        ),
        Verdict::LegacyCommonName => format!(
            "{registry}'s certificate names its host only in the Common Name, with no subjectAltName; the runtime on {node} (a Go program) rejects that"
        ),
        Verdict::PlainHttp => {
            format!("{registry} speaks plain HTTP, but the runtime on {node} expects HTTPS")
        }
        Verdict::TlsRequired => {
            format!("the runtime on {node} speaks plain HTTP to {registry}, which wants TLS")
        }
        Verdict::ClientCertRequired => format!(
            "{registry} wants a client certificate (mTLS) that the runtime on {node} does not present"
        ),
        Verdict::ConnectionRefused => format!("nothing listens on {registry}, as seen from {node}"),
        Verdict::Dns => format!("{node} cannot resolve the name of {registry}"),
        Verdict::Timeout => format!("{registry} did not answer {node} in time"),
        Verdict::Unauthorized => format!(
            "{registry} refused the pull: credentials are missing or wrong (imagePullSecrets)"
        ),
        Verdict::NotFound => format!("{registry} does not have this image (repository or tag)"),
        _ => format!(
            "the pull from {registry} failed in a way slipway does not classify; see the message"
        ),
    }
}

/// Classifies one pull-failure message seen for a container of a pod.
///
/// `image` is the container's image when known (else the one the message names);
/// `agent_image` is the trust agent's image, to name in the `cluster trust apply` fix.
#[allow(clippy::too_many_arguments)]
pub fn diagnose(
    namespace: &str,
    pod: &str,
    node: Option<&str>,
    container: Option<&str>,
    image: Option<&str>,
    waiting_reason: Option<&str>,
    message: &str,
    agent_image: Option<&str>,
) -> PullDiagnosis {
    let pf = classify_pull_failure(message);
    let image = image
        .map(str::to_string)
        .or(pf.image.clone())
        .unwrap_or_default();
    let registry = pf
        .registry
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| registry_of(&image));
    let node_name = node.unwrap_or("the node");
    let mut cause = cause_words(pf.verdict, &registry, node_name);
    if waiting_reason == Some("InvalidImageName") {
        cause = format!("the image reference {image:?} is not valid");
    }
    PullDiagnosis {
        pod: pod.to_string(),
        namespace: namespace.to_string(),
        node: node.map(str::to_string),
        container: container.map(str::to_string),
        fixes: pf.verdict.fixes(&FixContext {
            registry: registry.clone(),
            agent_image: agent_image.map(str::to_string),
            ..FixContext::default()
        }),
        fatal: unrecoverable(pf.verdict) || waiting_reason == Some("InvalidImageName"),
        image,
        registry,
        verdict: pf.verdict,
        runtime: pf.runtime,
        cause,
        message: message.to_string(),
    }
}

/// Says which pod and image failed, and why, in one line; the steps in `fixes` are for the
/// caller to write out.
impl std::fmt::Display for PullDiagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pod {}/{} on node {}: image {} from {}: {}: {}",
            self.namespace,
            self.pod,
            self.node.as_deref().unwrap_or("(unscheduled)"),
            self.image,
            self.registry,
            self.verdict,
            self.cause
        )
    }
}
