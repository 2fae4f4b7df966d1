//! Image layers: writing a list of entries as a reproducible, compressed tar blob into an OCI
//! layout, and extracting layers into a folder.
//!
//! # Writing
//!
//! [`write_layer`] sorts and deduplicates the entries, adds missing parent folders, and streams
//! the tar through two stages that run at the same time, so a layer is never held in memory:
//!
//! 1. a thread reads the source files, writes tar headers and data into 1 MiB chunks, and
//!    hashes them (the `diff_id`);
//! 2. the calling thread compresses the chunks and writes them to a temporary file in the
//!    layout's `blobs/sha256`, hashing what it writes (the digest); the file is renamed to
//!    its digest at the end. A third thread syncs the file to disk every 32 MiB, so the
//!    final sync before the rename has little left to wait for.
//!
//! zstd compresses with zstd's own worker threads ([`LayerOptions::threads`]). gzip is
//! compressed pigz-style: every 1 MiB chunk is deflated independently by one of
//! [`LayerOptions::threads`] workers and the pieces are joined into one ordinary gzip member.
//! 64 KiB segments that look random (already compressed files) are stored rather than
//! deflated, which is where deflate spends the most time for nothing.
//! Chunk boundaries depend only on the tar bytes, so the blob is the same for any thread count.
//!
//! The tar is deterministic: GNU headers holding only the name, mode, numeric owner, size,
//! mtime and link target given by the entries (no atime or ctime, no user or group names),
//! GNU long-name records for names of 100 bytes or more, and folder names ending in `/`.
//!
//! # Extracting
//!
//! [`extract_layers`] applies layers in order, decompressing by media type in one thread
//! (verifying the blob's digest as it reads) while another writes files. It handles OCI
//! whiteouts, refuses entries that would land outside the destination, and follows a
//! symlink met on an entry's way only when its target is relative and stays inside the
//! destination. Ownership is ignored; permission bits and modification times are set.

use serde::{Deserialize, Serialize};
use slipway_oci::{Descriptor, Digest, media};
use std::io;
use std::path::PathBuf;

mod compress;
mod extract;
#[cfg(test)]
mod tests;
mod write;
pub mod xattr;

pub use extract::{
    ArchiveKind, Stacked, extract_archive, extract_layers, read_stacked_files, sniff_archive,
};
pub use write::{hard_link_targets, write_layer};

/// The size of the chunks passed between the pipeline's stages, and of a gzip block.
pub(crate) const CHUNK: usize = 1 << 20;
/// A tar block.
pub(crate) const BLOCK: usize = 512;
/// Names this long or longer get a GNU long-name record.
pub(crate) const NAME_FIELD: usize = 100;
/// A gzip member header: deflate, no flags, no mtime, unknown OS.
pub(crate) const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// An empty final deflate block (fixed Huffman codes, end-of-block only).
pub(crate) const DEFLATE_END: [u8; 2] = [0x03, 0x00];
/// The most compression threads used, whatever is asked.
pub(crate) const MAX_THREADS: usize = 64;
/// How often (in bytes of blob written) the blob is synced to disk in the background.
pub(crate) const SYNC_EVERY: u64 = 32 << 20;
/// How many symlinks may be followed while resolving one path during extraction.
pub(crate) const MAX_SYMLINKS: usize = 40;

/// Selects how a layer's tar is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// gzip: media type `application/vnd.oci.image.layer.v1.tar+gzip`; every runtime reads it.
    #[default]
    Gzip,
    /// zstd: media type `application/vnd.oci.image.layer.v1.tar+zstd`; containerd 1.5+ and
    /// Docker Engine 23+ read it.
    Zstd,
}

impl Compression {
    /// Returns the OCI layer media type of this compression.
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip => media::OCI_LAYER_GZIP,
            Compression::Zstd => media::OCI_LAYER_ZSTD,
        }
    }

    /// Returns the level used when none is given: 1 for gzip, 3 for zstd.
    pub fn default_level(self) -> i32 {
        match self {
            Compression::Gzip => 1,
            Compression::Zstd => 3,
        }
    }
}

/// Configures how [`write_layer`] compresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerOptions {
    /// The compression.
    pub compression: Compression,
    /// The level: gzip 0-9, zstd 1-22 (or zstd's negative fast levels); `None` for
    /// [`Compression::default_level`].
    pub level: Option<i32>,
    /// Compression worker threads (1 to 64 are used). The output does not depend on it.
    pub threads: usize,
}

impl LayerOptions {
    /// Checks the options and returns the level that will be used.
    ///
    /// # Errors
    /// [`LayerError::InvalidOptions`] for a level outside the compression's range.
    pub fn check(&self) -> Result<i32, LayerError> {
        write::checked_level(self)
    }
}

impl Default for LayerOptions {
    fn default() -> Self {
        LayerOptions {
            compression: Compression::Gzip,
            level: None,
            threads: 2,
        }
    }
}

/// Describes what an entry of a layer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A folder.
    Dir,
    /// A regular file whose content is read from this file on disk when the layer is written.
    File(PathBuf),
    /// A regular file with this content.
    Bytes(Vec<u8>),
    /// A symlink with this target.
    Symlink(String),
}

/// Describes one entry of a layer to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    /// The path in the image, `/a/b` or `a/b`; stored as `a/b` (`a/b/` for a folder).
    pub path: String,
    /// What the entry is.
    pub content: Content,
    /// The permission bits (`0o7777` at most is kept).
    pub mode: u32,
    /// The numeric owner.
    pub uid: u64,
    /// The numeric group.
    pub gid: u64,
    /// The modification time, in seconds since the Unix epoch.
    pub mtime: u64,
}

/// Describes a layer blob that [`write_layer`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltLayer {
    /// The digest of the compressed blob.
    pub digest: Digest,
    /// The digest of the uncompressed tar (the image config's `rootfs.diff_ids` entry).
    pub diff_id: Digest,
    /// The size of the compressed blob in bytes.
    pub size: u64,
    /// The layer's media type.
    pub media_type: String,
}

impl BuiltLayer {
    /// Returns the descriptor that lists this layer in a manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(self.media_type.clone(), self.digest.clone(), self.size)
    }
}

/// Represents an error while writing or extracting a layer. Each names its subject: the
/// in-image path, the source file, the blob or the folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// The options cannot be used.
    #[error("invalid layer options: {why}")]
    InvalidOptions {
        /// What is wrong.
        why: String,
    },
    /// An entry given to [`write_layer`] cannot be put in a layer.
    #[error("layer entry `{path}`: {why}")]
    InvalidEntry {
        /// The entry's in-image path, as given.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// A source file could not be read.
    #[error("reading {} for layer entry `{entry}`", file.display())]
    Source {
        /// The file on disk.
        file: PathBuf,
        /// The in-image path.
        entry: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A source file's size changed while it was being read.
    #[error(
        "{} (layer entry `{entry}`) changed while being read: it had {expected} bytes when \
         opened and {actual} when read",
        file.display()
    )]
    SourceChanged {
        /// The file on disk.
        file: PathBuf,
        /// The in-image path.
        entry: String,
        /// The size when the file was opened.
        expected: u64,
        /// The size it had when read.
        actual: u64,
    },
    /// The layer blob could not be written.
    #[error("writing a layer blob into {}", dir.display())]
    Write {
        /// The layout's blob folder.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The layout could not store or find a blob.
    #[error(transparent)]
    Layout(#[from] slipway_oci::Error),
    /// A layer has a media type that is not a tar, gzip tar or zstd tar.
    #[error(
        "layer {digest} has media type `{media_type}`, which cannot be extracted (expected a \
         tar, tar+gzip or tar+zstd layer)"
    )]
    UnsupportedMediaType {
        /// The layer's digest.
        digest: Digest,
        /// Its media type.
        media_type: String,
    },
    /// A layer blob's content does not have its digest.
    #[error("layer blob {} is damaged: expected {expected}, got {actual}", blob.display())]
    DigestMismatch {
        /// The blob file.
        blob: PathBuf,
        /// The digest it is stored under.
        expected: Digest,
        /// The digest of its content.
        actual: Digest,
    },
    /// A layer blob has its digest but is not a valid (compressed) tar.
    #[error("layer blob {} is not a valid layer archive", blob.display())]
    Corrupt {
        /// The blob file.
        blob: PathBuf,
        /// What the decompressor or tar reader said.
        #[source]
        source: io::Error,
    },
    /// An entry of a layer would be written outside the destination, or through a symlink
    /// leading out of it.
    #[error("layer blob {}: refusing entry `{entry}`: {why}", blob.display())]
    UnsafeEntry {
        /// The blob file.
        blob: PathBuf,
        /// The entry's path in the tar.
        entry: String,
        /// Why it is refused.
        why: String,
    },
    /// An entry of a layer could not be written.
    #[error("layer blob {}: extracting `{entry}` to {}", blob.display(), path.display())]
    Extract {
        /// The blob file.
        blob: PathBuf,
        /// The entry's path in the tar.
        entry: String,
        /// The file or folder being written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A file or folder of the destination could not be created or updated.
    #[error("I/O error on {}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A worker thread panicked.
    #[error("the layer {stage} thread panicked")]
    Panicked {
        /// What the thread did.
        stage: &'static str,
    },
}
