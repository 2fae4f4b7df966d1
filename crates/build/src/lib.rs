//! Building images the werf way (work in progress): reading `werf.yaml`, parsing
//! Dockerfiles, `.dockerignore` and COPY planning, and fast reproducible image layers.
//!
//! What it is for: writing layers from a list of entries (sorted, deterministic headers,
//! parallel gzip or zstd, `diff_id` and digest in one streaming pass) straight into an OCI
//! layout, and extracting layers with whiteouts and path-escape checks. The stage engine
//! (digests, backends, push) is not here yet.
//!
//! ```no_run
//! use slipway_build::layer::{Content, LayerEntry, LayerOptions, write_layer};
//! let layout = slipway_oci::Layout::create(std::path::Path::new("/tmp/store"))?;
//! let entries = [LayerEntry { path: "/etc/app.conf".into(), content: Content::Bytes(b"x=1\n".to_vec()), mode: 0o644, uid: 0, gid: 0, mtime: 0 }];
//! let layer = write_layer(&layout, &entries, &LayerOptions::default())?;
//! println!("{} {}", layer.digest, layer.diff_id);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod config;
pub mod dockerfile;
pub mod ignore;
pub mod layer;
