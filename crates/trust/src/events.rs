//! The deploy side of the diagnosis vocabulary: classify the pull-failure text a kubelet
//! puts in a pod event (`Failed to pull image "...": ...`), as containerd, CRI-O or
//! dockershim wrote it, into the same [`Verdict`]s the build-side probe uses.
//!
//! The texts are Go's x509/tls/net errors wrapped by each runtime; the matching below is
//! on those upstream strings (see the fixtures captured from a real containerd), never on
//! slipway's own messages.

use slipway_names::registry_of;

use serde::Serialize;

use crate::Verdict;

/// Describes one classified pull failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PullFailure {
    /// The verdict.
    pub verdict: Verdict,
    /// The image the kubelet tried to pull, if the text names it.
    pub image: Option<String>,
    /// The registry `host[:port]` of that image (docker.io for short names).
    pub registry: Option<String>,
    /// Which runtime wrote the text: `containerd`, `cri-o` or `dockershim`.
    pub runtime: Option<&'static str>,
}

/// Classifies a kubelet pull-failure message (event message or container status message).
pub fn classify_pull_failure(message: &str) -> PullFailure {
    let m = message;
    let has = |s: &str| m.contains(s);
    let verdict = if has("x509: certificate signed by unknown authority") {
        Verdict::UnknownAuthority
    } else if has("x509: certificate relies on legacy Common Name field") {
        Verdict::LegacyCommonName
    } else if has("x509: certificate is valid for")
        || has("doesn't contain any IP SANs")
        || has("x509: certificate is not valid for any names")
    {
        Verdict::HostnameMismatch
    } else if has("x509: certificate has expired or is not yet valid") {
        if has(" is before ") {
            Verdict::NotYetValid
        } else {
            Verdict::Expired
        }
    } else if has("http: server gave HTTP response to HTTPS client") {
        Verdict::PlainHttp
    } else if has("Client sent an HTTP request to an HTTPS server") {
        Verdict::TlsRequired
    } else if has("tls: certificate required") || has("remote error: tls: bad certificate") {
        Verdict::ClientCertRequired
    } else if has("connection refused") {
        Verdict::ConnectionRefused
    } else if has("no such host") || has("server misbehaving") {
        Verdict::Dns
    } else if has("i/o timeout") || has("TLS handshake timeout") || has("context deadline exceeded")
    {
        Verdict::Timeout
    } else if has("401 Unauthorized")
        || has("unauthorized")
        || has("authentication required")
        || has("pull access denied")
    {
        Verdict::Unauthorized
    } else if has("manifest unknown") || has(": not found") || has("404 Not Found") {
        Verdict::NotFound
    } else {
        Verdict::Other
    };
    let runtime = if has("failed to pull and unpack image") || has("failed to resolve reference") {
        Some("containerd")
    } else if has("pinging container registry") || has("pinging docker registry") {
        Some("cri-o")
    } else if has("Error response from daemon") {
        Some("dockershim")
    } else {
        None
    };
    let image = quoted_after(m, "Failed to pull image \"")
        .or_else(|| quoted_after(m, "failed to pull and unpack image \""));
    let registry = image
        .as_deref()
        .map(registry_of)
        .or_else(|| {
            after_word(m, "pinging container registry ")
                .or_else(|| after_word(m, "pinging docker registry "))
        })
        .or_else(|| url_host(m));
    PullFailure {
        verdict,
        image,
        registry,
        runtime,
    }
}

fn quoted_after(m: &str, prefix: &str) -> Option<String> {
    let start = m.find(prefix)? + prefix.len();
    let end = m[start..].find('"')?;
    Some(m[start..start + end].to_string())
}

fn after_word(m: &str, prefix: &str) -> Option<String> {
    let start = m.find(prefix)? + prefix.len();
    let word = m[start..].split([':', ' ']).next()?;
    // host:port keeps its port: take up to the ": " that ends the word.
    let rest = &m[start..];
    let end = rest.find(": ").unwrap_or(word.len());
    Some(rest[..end].to_string())
}

fn url_host(m: &str) -> Option<String> {
    let start = m.find("https://").or_else(|| m.find("http://"))?;
    let rest = &m[start..];
    let rest = &rest[rest.find("://")? + 3..];
    Some(rest.split(['/', '"', ' ', ':']).next()?.to_string())
        .filter(|h| !h.is_empty())
        .map(|h| {
            // Keep an explicit port.
            let after = &rest[h.len()..];
            match after.strip_prefix(':') {
                Some(p) => format!(
                    "{h}:{}",
                    p.split(|c: char| !c.is_ascii_digit()).next().unwrap_or("")
                ),
                None => h,
            }
        })
}
