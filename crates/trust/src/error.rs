//! The trust crate's error type. Every variant names its subject: the file, the registry
//! host, and which trust source asked for the file.

use std::path::PathBuf;

/// Represents an error that can occur while resolving or building a registry's trust.
///
/// `Display` gives the context; the cause is the error's `source()`, so print the whole
/// chain (anyhow's `{:#}`, or [`Error::chain`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A registry host could not be parsed.
    #[error(transparent)]
    Name(#[from] slipway_names::Error),
    /// A flag value did not have the expected shape (e.g. `HOST=FILE` without `=`).
    #[error("invalid value `{value}` for {flag}: {why}")]
    InvalidFlag {
        /// The flag, e.g. `--registry-ca`.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What was expected.
        why: String,
    },
    /// A file could not be read.
    #[error("{purpose}: cannot read {}", path.display())]
    ReadFile {
        /// What the file was for, naming the registry and the trust source.
        purpose: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file that should hold PEM data is malformed.
    #[error("{purpose}: {} is not valid PEM: {why}", path.display())]
    MalformedPem {
        /// What the file was for.
        purpose: String,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A file holds DER where PEM was expected.
    #[error(
        "{purpose}: {} holds binary DER, but PEM is expected; convert it with `openssl x509 -inform der -in {} -out ca.pem`",
        path.display(), path.display()
    )]
    DerNotPem {
        /// What the file was for.
        purpose: String,
        /// The file.
        path: PathBuf,
    },
    /// A file that should hold certificates holds none.
    #[error("{purpose}: {} contains no PEM certificate (`-----BEGIN CERTIFICATE-----`)", path.display())]
    NoCertificates {
        /// What the file was for.
        purpose: String,
        /// The file.
        path: PathBuf,
    },
    /// A file that should hold a private key holds none, or one rustls cannot use.
    #[error("{purpose}: {} contains no usable private key: {why}", path.display())]
    BadPrivateKey {
        /// What the file was for.
        purpose: String,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A client certificate and its key do not belong together.
    #[error(
        "{purpose}: the key {} does not match the certificate {} ({why})",
        key.display(), cert.display()
    )]
    KeyMismatch {
        /// What the pair was for.
        purpose: String,
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        why: String,
    },
    /// A `registries.yaml` file is not valid.
    #[error("registries config {}: {why}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong, with the YAML location when known.
        why: String,
    },
    /// rustls refused to build a configuration for a registry.
    #[error("cannot build the TLS configuration for registry {host}")]
    Tls {
        /// The registry.
        host: String,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
}

impl Error {
    /// Returns this error and its causes on one line, separated by `: `.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut cur = std::error::Error::source(self);
        while let Some(e) = cur {
            out.push_str(": ");
            out.push_str(&e.to_string());
            cur = e.source();
        }
        out
    }
}
