//! Building images the werf way: `werf.yaml` + Dockerfiles into content-addressed stage
//! images, kept in `--repo` or in a local OCI layout store.
//!
//! What it is for: reading `werf.yaml` ([`config`]) and Dockerfiles ([`dockerfile`]),
//! planning stages and their digests ([`stage`]), building them natively (COPY/ADD and
//! config instructions, reproducible layers from [`layer`]) or with buildah for `RUN`
//! ([`buildah`]), and pushing them through slipway's registry client ([`engine`]).
//! What it is not for: running containers, or deciding trust (the caller's
//! [`engine::Access`] opens registries with the trust policy).
//!
//! ```no_run
//! use slipway_layer::{Content, LayerEntry, LayerOptions, write_layer};
//! let layout = slipway_oci::Layout::create(std::path::Path::new("/tmp/store"))?;
//! let entries = [LayerEntry { path: "/etc/app.conf".into(), content: Content::Bytes(b"x=1\n".to_vec()), mode: 0o644, uid: 0, gid: 0, mtime: 0 }];
//! let layer = write_layer(&layout, &entries, &LayerOptions::default())?;
//! println!("{} {}", layer.digest, layer.diff_id);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod buildah;

pub mod engine;
pub mod hashcache;
pub mod image_spec;
pub mod stage;

use std::path::PathBuf;

pub use engine::{
    Access, Backend, BuildOptions, BuildReport, Event, ImageReport, Observer, StageReport,
    StageStatus, build, host_platform,
};
pub use slipway_layer::Compression;

/// How stage layers are written; part of every stage digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFormat {
    /// gzip or zstd.
    pub compression: Compression,
    /// The compression level; `None` for the compression's default.
    pub level: Option<i32>,
    /// Keeps the context files' modification times instead of the epoch.
    pub keep_mtimes: bool,
}

impl Default for LayerFormat {
    fn default() -> Self {
        LayerFormat {
            compression: Compression::Gzip,
            level: None,
            keep_mtimes: false,
        }
    }
}

/// Says why a build failed. Every variant names its subject: the file and line, the
/// registry reference, the blob or the folder.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `werf.yaml` is wrong.
    #[error(transparent)]
    Config(#[from] slipway_werf::ConfigError),
    /// A Dockerfile does not parse.
    #[error("{}: line {line}, column {column}: {message}", .path.display())]
    Dockerfile {
        /// The Dockerfile.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A Dockerfile parses but cannot be built as written.
    #[error("{}: line {line}: {message}", .path.display())]
    Plan {
        /// The Dockerfile.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The options cannot be used (e.g. `--backend native` for a stage with `RUN`).
    #[error("{0}")]
    Usage(String),
    /// The context's `.dockerignore` cannot be read.
    #[error(transparent)]
    Ignore(#[from] slipway_glob::IgnoreError),
    /// A registry could not be opened (trust or credentials).
    #[error("{subject}: {message}")]
    Access {
        /// The registry or reference.
        subject: String,
        /// What went wrong.
        message: String,
    },
    /// A registry request failed.
    #[error("{subject}: {source}")]
    Registry {
        /// The reference.
        subject: String,
        /// The registry client's error (a `slipway_registry::Error`), boxed to keep
        /// `BuildError` small. Boxed as a trait object, the error chain holds the registry
        /// error itself, so callers that walk it (exit codes, fixes) find it by type.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A layer could not be written or extracted.
    #[error(transparent)]
    Layer(#[from] slipway_layer::LayerError),
    /// The local store failed.
    #[error(transparent)]
    Oci(#[from] slipway_oci::Error),
    /// buildah failed.
    #[error(transparent)]
    Buildah(#[from] buildah::BuildahError),
    /// A file or folder could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl BuildError {
    /// Tells whether the error is in the user's input (exit code 2) rather than a failure
    /// while working.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            BuildError::Config(_)
                | BuildError::Dockerfile { .. }
                | BuildError::Plan { .. }
                | BuildError::Usage(_)
                | BuildError::Ignore(_)
                | BuildError::Access { .. }
        )
    }
}
