//! OCI types and OCI image-layout I/O for slipway: digests, image references, locations
//! (`oci:PATH[:TAG]` or a registry reference), descriptors, manifests, indexes and configs
//! (OCI and Docker schema 2), media types, and reading and writing OCI image layout folders
//! with verified, content-addressed blobs.
//!
//! What it is for: naming images and content, parsing the documents a registry or a layout
//! holds, and storing blobs so that a file under `blobs/sha256/<hex>` always has that
//! digest. Layouts it writes are read by `skopeo copy oci:...`, and it reads theirs.
//!
//! What it is not for: talking to registries. There is no network code and nothing async
//! here; the distribution client and the copy engine (crate `slipway-registry`) build on
//! these types.
//!
//! ```no_run
//! use slipway_oci::{Layout, Location, Manifest};
//! let Location::Layout { path, tag } = Location::parse("oci:/tmp/app:v1")? else {
//!     unreachable!()
//! };
//! let layout = Layout::open(&path)?;
//! let desc = layout.resolve(tag.as_deref())?;
//! let bytes = layout.read_blob(&desc.digest)?; // verified against its digest
//! for child in Manifest::parse(&bytes, Some(&desc.media_type))?.children() {
//!     println!("{} {} {}", child.media_type, child.digest, child.size);
//! }
//! # Ok::<(), slipway_oci::Error>(())
//! ```

mod error;
mod layout;
mod location;
mod manifest;
pub mod media;
mod temp;

pub use error::Error;
pub use layout::{
    BlobWriter, INDEX_FILE, LAYOUT_FILE, LAYOUT_VERSION, Layout, REF_NAME_ANNOTATION,
    write_file_atomic,
};
pub use location::Location;
pub use manifest::{
    Descriptor, ImageConfig, ImageIndex, ImageManifest, Manifest, Platform, RootFs,
};
pub use media::{
    DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, MANIFEST_ACCEPT,
    OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD, OCI_MANIFEST, is_index,
    is_manifest,
};
pub use slipway_names::{DEFAULT_TAG, DOCKER_HUB, DOCKER_HUB_API, Digest, Hasher, Reference};
pub use temp::{TempGuard, remove_live_temp_files, sweep_temp};
