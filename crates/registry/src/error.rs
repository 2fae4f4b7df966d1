//! The registry crate's error type. Registry answers keep the spec's error codes, the HTTP
//! status and a redacted URL; nothing carries a credential.

/// Represents an error that can occur while talking to a registry or copying an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry answered with an error status.
    #[error("{method} {url}: {status}{}{}", codes_text(codes), message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        /// The HTTP method.
        method: String,
        /// The URL, with its query redacted.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The distribution-spec error codes in the body (e.g. `BLOB_UNKNOWN`).
        codes: Vec<String>,
        /// The first error message in the body, or what the answer means when slipway
        /// recognizes it.
        message: Option<String>,
        /// The failure in the diagnosis vocabulary, when the answer says which it is (a TLS
        /// port asked in plain HTTP); [`Error::fixes`] follows from it.
        verdict: Option<slipway_trust::Verdict>,
    },
    /// The request did not get an answer. The message names the cause (an untrusted
    /// certificate, nothing listening, plain HTTP on a TLS port...), so the client's own
    /// error chain is not exposed as a source; [`Error::fixes`] says how to cure it.
    #[error("{method} {url}: {}", transport_text(url, error))]
    Transport {
        /// The HTTP method.
        method: String,
        /// The URL, with its query redacted.
        url: String,
        /// What reqwest/hyper/rustls said.
        error: reqwest::Error,
    },
    /// Authentication failed or was refused for safety.
    #[error("authentication with {host} failed: {why}")]
    Auth {
        /// The registry.
        host: String,
        /// Why.
        why: String,
    },
    /// Content did not match its digest.
    #[error("{subject}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was being read (a reference or blob).
        subject: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The registry or source broke the protocol.
    #[error("{subject}: {why}")]
    Protocol {
        /// What was being done.
        subject: String,
        /// What was wrong.
        why: String,
    },
    /// A requested platform is not in the index.
    #[error("{reference} has no manifest for platform {platform} (it has: {available})")]
    PlatformNotFound {
        /// The image.
        reference: String,
        /// The platform asked for.
        platform: String,
        /// What the index offers.
        available: String,
    },
    /// Trust could not be resolved for a host.
    #[error(transparent)]
    Trust(#[from] slipway_trust::Error),
    /// A reference, host or digest could not be parsed.
    #[error(transparent)]
    Name(#[from] slipway_names::Error),
    /// An OCI type or layout error.
    #[error(transparent)]
    Oci(#[from] slipway_oci::Error),
    /// Credentials could not be read.
    #[error(transparent)]
    Credentials(#[from] crate::credentials::Error),
    /// A list of images to mirror cannot be used.
    #[error("{}: {why}", path.display())]
    ListFile {
        /// The list file.
        path: std::path::PathBuf,
        /// What is wrong, naming the registry and repository.
        why: String,
    },
    /// A local file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the path.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn codes_text(codes: &[String]) -> String {
    if codes.is_empty() {
        String::new()
    } else {
        format!(" {}", codes.join(","))
    }
}

impl Error {
    /// Returns whether the error is about what the user asked for: a malformed reference, a
    /// layout or tag that does not exist, a platform the image lacks, or trust and credential
    /// settings that cannot be used (exit code 2 rather than 3).
    pub fn is_bad_input(&self) -> bool {
        match self {
            Error::PlatformNotFound { .. }
            | Error::Trust(_)
            | Error::Name(_)
            | Error::ListFile { .. } => true,
            // A config file or helper setting that cannot be used; not a failed write or a
            // helper that ran and failed.
            Error::Credentials(e) => matches!(
                e,
                crate::credentials::Error::InvalidHost { .. }
                    | crate::credentials::Error::NoDockerConfig
                    | crate::credentials::Error::Read { .. }
                    | crate::credentials::Error::Invalid { .. }
                    | crate::credentials::Error::HelperNotFound { .. }
            ),
            Error::Oci(e) => e.is_bad_input(),
            _ => false,
        }
    }

    /// Returns how to cure this error, when it is one the diagnosis vocabulary names: a
    /// request that got no answer (an untrusted certificate, plain HTTP on a TLS port...), or
    /// an answer that says what is wrong. The steps are for the build machine; a failure
    /// worth a look at the registry also gets `slipway registry probe`.
    pub fn fixes(&self) -> slipway_trust::Fixes {
        use slipway_trust::{Fix, FixContext, Fixes, Verdict};
        let (registry, mut fixes, verdict) = match self {
            Error::Transport { url, error, .. } => {
                let registry = registry_of_url(url);
                match slipway_trust::classify_connection_error(error, &registry) {
                    Some(p) => (registry, p.fixes(), p.verdict),
                    None => return Fixes::default(),
                }
            }
            Error::Status {
                url,
                verdict,
                status,
                ..
            } => {
                // A 401 after the credentials were sent: they are missing or stale.
                let Some(v) = verdict.or((*status == 401).then_some(Verdict::Unauthorized)) else {
                    return Fixes::default();
                };
                let registry = registry_of_url(url);
                let cx = FixContext {
                    registry: registry.clone(),
                    ..FixContext::default()
                };
                (registry, v.fixes(&cx), v)
            }
            _ => return Fixes::default(),
        };
        // The nodes' steps belong to the deploy side; a build-machine error shows its own.
        fixes.nodes.clear();
        if verdict != Verdict::ConnectionRefused {
            fixes.build_machine.push(Fix::run_for(
                "see what the registry serves",
                format!("slipway registry probe {registry}"),
            ));
        }
        fixes
    }

    /// Returns whether retrying the same request may succeed: timeouts, connection
    /// resets, 408, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Status { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            Error::Transport { error, .. } => {
                error.is_connect() || error.is_timeout() || error.is_request() || error.is_body()
            }
            _ => false,
        }
    }
}

/// Returns the registry (`host[:port]`) a redacted URL names.
fn registry_of_url(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| host_port(&u))
        .unwrap_or_else(|_| url.to_string())
}

/// Describes a request that got no answer: what went wrong, in one sentence.
fn transport_text(url: &str, error: &reqwest::Error) -> String {
    if let Some(p) = slipway_trust::classify_connection_error(error, &registry_of_url(url)) {
        return p.problem;
    }
    // reqwest's own text repeats the URL; say what kind of failure it was instead.
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    match std::error::Error::source(error) {
        Some(cause) => format!("{kind}: {}", slipway_trust::error_text(cause)),
        None => kind.to_string(),
    }
}

/// Returns a URL's `host[:port]`, as registries are named (the port only when not the
/// scheme's default).
pub(crate) fn host_port(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// Removes the query string from a URL for messages: presigned URLs carry credentials there.
pub fn redact(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    let _ = u.set_username("");
    if u.query().is_some() {
        u.set_query(Some("<redacted>"));
    }
    u.to_string().replace("%3Credacted%3E", "<redacted>")
}
