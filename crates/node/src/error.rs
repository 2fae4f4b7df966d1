//! The node crate's error type. Every variant names the file, host or runtime.

use std::path::PathBuf;

/// Represents an error that can occur while planning or applying node trust.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{what} {}", path.display())]
    Io {
        /// What was being done.
        what: String,
        /// The node path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A runtime's config file does not parse; nothing was changed.
    #[error("{} is not valid {format}: {why}; nothing was changed", path.display())]
    BadConfig {
        /// The node path.
        path: PathBuf,
        /// `TOML` or `JSON`.
        format: &'static str,
        /// What the parser said.
        why: String,
    },
    /// The config cannot be changed safely without a decision from the user.
    #[error("{} {why}", path.display())]
    Refused {
        /// The node path.
        path: PathBuf,
        /// Why, and what to do.
        why: String,
    },
    /// The request itself is wrong (no CA, a bad certificate, a runtime not found).
    #[error("{0}")]
    Request(String),
    /// Trust material could not be read.
    #[error(transparent)]
    Trust(#[from] slipway_trust::Error),
}
