//! The names slipway gives things, each rule written once: image references
//! (`registry/repository[:tag][@digest]`, [`Reference`]), registry hosts (`host[:port]`,
//! [`RegistryHost`]), content digests ([`Digest`]), and Docker's rule for which part of an
//! image name is a registry ([`registry_of`]). In the manner of go-containerregistry's
//! `pkg/name`.
//!
//! What it is for: parsing and printing names exactly as Docker, containerd and the
//! registries spell them. What it is not for: anything with I/O; the crates above it read
//! and write what these names point at.
//!
//! ```
//! use slipway_names::{Reference, RegistryHost, registry_of};
//! let r = Reference::parse("registry.internal:5000/team/app:1.2")?;
//! assert_eq!(r.registry, "registry.internal:5000");
//! assert_eq!(registry_of("alpine:3"), "docker.io");
//! assert_eq!(RegistryHost::parse("https://Registry.Internal:5000")?.to_string(), "registry.internal:5000");
//! # Ok::<(), slipway_names::Error>(())
//! ```

mod digest;
mod host;
mod reference;

pub use digest::{Digest, Hasher};
pub use host::RegistryHost;
pub use reference::{
    DEFAULT_TAG, DOCKER_HUB, DOCKER_HUB_API, Reference, check_tag, registry_of, split_registry,
    split_tag,
};

/// Says why a name was refused; each variant names what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A digest could not be parsed.
    #[error("invalid digest `{input}`: {why}")]
    InvalidDigest {
        /// What was given.
        input: String,
        /// Why it was refused.
        why: String,
    },
    /// An image reference could not be parsed.
    #[error("invalid image reference `{input}`: {why}")]
    InvalidReference {
        /// What was given.
        input: String,
        /// Why it was refused.
        why: String,
    },
    /// A registry host could not be parsed.
    #[error("invalid registry host `{input}`: {why}")]
    InvalidHost {
        /// What the user wrote.
        input: String,
        /// Why it was refused.
        why: String,
    },
}
