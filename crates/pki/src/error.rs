//! The pki crate's error type. Every variant names the file, folder or name it is about.

use std::path::PathBuf;

/// Represents an error that can occur while creating, issuing, inspecting or rotating
/// certificates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{what} {}", path.display())]
    Io {
        /// What was being done, e.g. "cannot read CA key".
        what: String,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The PKI folder does not hold a CA.
    #[error("{} holds no CA ({} is missing); create one with `slipway pki init --dir {}`", dir.display(), missing.display(), dir.display())]
    NoCa {
        /// The folder given with `--dir`.
        dir: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },
    /// `pki init` would overwrite an existing CA.
    #[error("{} already exists; slipway never overwrites a CA (use `pki rotate` to replace it)", path.display())]
    CaExists {
        /// The existing file.
        path: PathBuf,
    },
    /// `pki issue` would overwrite an existing certificate or key.
    #[error("{} already exists; give --force to replace the certificate and its key (the old files are kept beside them as FILE.bak-TIME)", path.display())]
    LeafExists {
        /// The existing file.
        path: PathBuf,
    },
    /// A certificate or key file does not parse.
    #[error("{}: {why}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A key does not belong to its certificate.
    #[error("the key {} does not match the certificate {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate.
        cert: PathBuf,
        /// The key.
        key: PathBuf,
    },
    /// A DNS name, IP address or CIDR given on the command line is not valid.
    #[error("invalid {kind} `{value}`: {why}")]
    InvalidName {
        /// `DNS name`, `IP address` or `CIDR`.
        kind: &'static str,
        /// What was given.
        value: String,
        /// Why it was refused.
        why: String,
    },
    /// A name is outside the CA's name constraints.
    #[error("{name} is outside the name constraints of the CA {} (permitted: {permitted}); a Go client (containerd, Docker) would reject the certificate", ca.display())]
    OutsideConstraints {
        /// The refused name.
        name: String,
        /// The CA certificate.
        ca: PathBuf,
        /// The permitted subtrees, for the message.
        permitted: String,
    },
    /// The CA cannot issue now.
    #[error("the CA {} {why}", ca.display())]
    CaUnusable {
        /// The CA certificate.
        ca: PathBuf,
        /// Why, e.g. "expired on 2025-01-01".
        why: String,
    },
    /// A request is incomplete or contradictory.
    #[error("{0}")]
    Usage(String),
    /// A rotation step cannot run in the current stage.
    #[error("{0}")]
    Rotation(String),
    /// rcgen refused to build a certificate.
    #[error("cannot build the certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
}
