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
        /// The first error message in the body.
        message: Option<String>,
    },
    /// The request did not get an answer.
    #[error("{method} {url}: {source}")]
    Transport {
        /// The HTTP method.
        method: String,
        /// The URL, with its query redacted.
        url: String,
        /// What reqwest/hyper/rustls said.
        #[source]
        source: reqwest::Error,
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
    /// An OCI type or layout error.
    #[error(transparent)]
    Oci(#[from] slipway_oci::Error),
    /// Credentials could not be read.
    #[error(transparent)]
    Credentials(#[from] crate::credentials::Error),
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
    /// Returns whether retrying the same request may succeed: timeouts, connection
    /// resets, 408, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Status { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            Error::Transport { source, .. } => {
                source.is_connect()
                    || source.is_timeout()
                    || source.is_request()
                    || source.is_body()
            }
            _ => false,
        }
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
