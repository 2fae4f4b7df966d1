//! The oci crate's error type. Every variant names its subject: the text that was parsed,
//! the layout folder or file, or the blob.

use std::path::PathBuf;

use crate::Digest;

/// Represents an error that can occur while parsing OCI names and documents or while reading
/// and writing an OCI image layout.
///
/// `Display` gives the context; the cause, when there is one, is the error's `source()`, so
/// print the whole chain (anyhow's `{:#}`, or [`Error::chain`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A digest or an image reference could not be parsed.
    #[error(transparent)]
    Name(#[from] slipway_names::Error),
    /// A tag (or OCI layout ref name) was refused on its own, outside a reference.
    #[error("invalid tag `{input}`: {why}")]
    InvalidTag {
        /// What was given.
        input: String,
        /// Why it was refused.
        why: String,
    },
    /// An image location (`oci:PATH[:TAG]`, `docker://REF` or `REF`) could not be parsed.
    #[error("invalid image location `{input}`: {why}")]
    InvalidLocation {
        /// What was given.
        input: String,
        /// Why it was refused.
        why: String,
    },
    /// A platform (`os/arch[/variant]`) could not be parsed.
    #[error("invalid platform `{input}`: {why}; expected os/arch[/variant], e.g. linux/amd64")]
    InvalidPlatform {
        /// What was given.
        input: String,
        /// Why it was refused.
        why: String,
    },
    /// Manifest or index bytes are not a manifest slipway can use.
    #[error("invalid manifest: {why}")]
    InvalidManifest {
        /// What is wrong.
        why: String,
    },
    /// Content does not hash to the digest it was announced or stored under.
    #[error("digest mismatch for {subject}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked: a blob file, or a reference and digest.
        subject: String,
        /// The digest the content should have.
        expected: Digest,
        /// The digest the content has.
        actual: Digest,
    },
    /// Content does not have the size its descriptor announced.
    #[error("size mismatch for {subject}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// What was checked: a blob file, or a reference and digest.
        subject: String,
        /// The size the descriptor announced.
        expected: u64,
        /// The size the content has.
        actual: u64,
    },
    /// A folder is not an OCI image layout (or cannot become one).
    #[error("{} is not an OCI image layout: {why}", path.display())]
    NotALayout {
        /// The folder.
        path: PathBuf,
        /// What is missing or wrong.
        why: String,
    },
    /// A layout has no manifest under the asked tag.
    #[error(
        "{} has no manifest tagged `{tag}`; {}",
        path.display(),
        list_tags(available)
    )]
    TagNotFound {
        /// The layout folder.
        path: PathBuf,
        /// The tag asked for.
        tag: String,
        /// The tags the layout has.
        available: Vec<String>,
    },
    /// No tag was given, and the layout does not hold exactly one manifest.
    #[error(
        "{} holds {count} manifests, so name one with oci:{}:TAG; {}",
        path.display(),
        path.display(),
        list_tags(available)
    )]
    TagRequired {
        /// The layout folder.
        path: PathBuf,
        /// How many manifests `index.json` lists.
        count: usize,
        /// The tags the layout has.
        available: Vec<String>,
    },
    /// A blob is not in the layout.
    #[error("blob {digest} is not in the layout {}", layout.display())]
    BlobNotFound {
        /// The layout folder.
        layout: PathBuf,
        /// The missing blob.
        digest: Digest,
    },
    /// A file or folder could not be read, written, created or renamed.
    #[error("I/O error on {}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// JSON could not be parsed or written.
    #[error("invalid JSON in {subject}")]
    Json {
        /// The file or document, e.g. a path to `index.json`.
        subject: String,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// Returns whether the error is about what the user asked for (a malformed reference,
    /// digest, tag or platform; a folder that is not a layout; a tag it lacks), rather than
    /// about what was found while working.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::Name(_)
                | Error::InvalidTag { .. }
                | Error::InvalidLocation { .. }
                | Error::InvalidPlatform { .. }
                | Error::NotALayout { .. }
                | Error::TagNotFound { .. }
                | Error::TagRequired { .. }
        )
    }
}
fn list_tags(tags: &[String]) -> String {
    if tags.is_empty() {
        "it has no tags".into()
    } else {
        format!("its tags are: {}", tags.join(", "))
    }
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

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_not_found_lists_the_tags_the_layout_has() {
        let e = Error::TagNotFound {
            path: "/l".into(),
            tag: "v3".into(),
            available: vec!["v1".into(), "v2".into()],
        };
        assert_eq!(
            e.to_string(),
            "/l has no manifest tagged `v3`; its tags are: v1, v2"
        );
    }

    #[test]
    fn chain_appends_the_cause() {
        let e = Error::Io {
            path: "/x/index.json".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(e.chain(), "I/O error on /x/index.json: gone");
    }
}
