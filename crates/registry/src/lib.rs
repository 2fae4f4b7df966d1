//! A focused OCI distribution-spec client for slipway, and the copy engine.
//!
//! What it is for: talking to one registry host through the trust the `trust` crate
//! resolved for it (pinned certificates, mTLS, explicit plain HTTP), with anonymous, Basic
//! and Bearer auth from docker/podman credential files; streaming blobs with their digest
//! verified on the way; and copying images between registries and OCI layouts.
//! What it is not for: building images, or configuring nodes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), slipway_registry::Error> {
//! use std::sync::Arc;
//! use slipway_oci::Reference;
//! use slipway_registry::{Registry, Source, Sink, CopyOptions, NoProgress, copy};
//! use slipway_trust::{RegistryHost, TrustPolicy};
//! let policy = Arc::new(TrustPolicy::builder().build()?);
//! let src_ref = Reference::parse("registry.test:5000/app:1")?;
//! let reg = Arc::new(Registry::new(policy, &RegistryHost::parse(&src_ref.registry)?, None)?);
//! let layout = Arc::new(slipway_oci::Layout::create(std::path::Path::new("/tmp/app"))?);
//! copy(&Source::Registry(reg, src_ref), &Sink::Layout(layout, "1".into()), &CopyOptions::default(), Arc::new(NoProgress)).await?;
//! # Ok(()) }
//! ```

mod auth;
mod client;
mod copy;
pub mod credentials;
mod error;
/// Tag ranges for `sync --tag-semver`: the shared semver crate.
pub use slipway_semver as semver;
mod sync;

pub use auth::{Challenge, parse_challenge};
pub use client::{BlobOutcome, Registry, RetryPolicy, pull_scope, push_scope};
pub use copy::{
    BlobReport, ByteStream, CopyOptions, CopyReport, NoProgress, Progress, Sink, Source, copy,
};
pub use error::{Error, redact};
pub use sync::{
    ImageReport, ImageStatus, SourceSpec, SyncOptions, SyncProgress, SyncReport, SyncSource,
    SyncTarget, TagFilter, parse_list_file, sync,
};
