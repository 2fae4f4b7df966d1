//! Every read and write of the node's files goes through [`HostFs`], rooted at the node's
//! root (`/`, or the host filesystem mounted into a DaemonSet pod).

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use slipway_proc::{Host, Processes};

use crate::Error;

/// Reads and writes a node's files under a root folder, and runs the node's programs
/// (reloads, restarts, trust-store refreshes) through one [`Processes`].
#[derive(Clone)]
pub struct HostFs {
    root: PathBuf,
    processes: Arc<dyn Processes>,
}

impl std::fmt::Debug for HostFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostFs").field("root", &self.root).finish()
    }
}

impl HostFs {
    /// Opens the node whose `/` is `root`.
    ///
    /// # Errors
    /// The root is not a folder.
    pub fn new(root: impl Into<PathBuf>) -> Result<HostFs, Error> {
        let root = root.into();
        if !root.is_dir() {
            let what = if root.exists() {
                "is not a folder"
            } else {
                "does not exist"
            };
            return Err(Error::Request(format!(
                "the host root (--host-root) {} {what}",
                root.display()
            )));
        }
        Ok(HostFs {
            root,
            processes: Arc::new(Host),
        })
    }

    /// Runs the node's programs with `processes` instead of on this machine (tests).
    #[must_use]
    pub fn with_processes(mut self, processes: Arc<dyn Processes>) -> HostFs {
        self.processes = processes;
        self
    }

    /// Returns how the node's programs are run.
    pub fn processes(&self) -> &dyn Processes {
        &*self.processes
    }

    /// Returns the root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Maps a node path such as `/etc/containerd/config.toml` to the real path under the root.
    pub fn real(&self, node_path: &Path) -> PathBuf {
        let rel: PathBuf = node_path
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        self.root.join(rel)
    }

    /// Reads a file, or `None` when it does not exist.
    ///
    /// # Errors
    /// Any other I/O error.
    pub fn read(&self, node_path: &Path) -> Result<Option<Vec<u8>>, Error> {
        match std::fs::read(self.real(node_path)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io {
                what: "cannot read".into(),
                path: node_path.into(),
                source,
            }),
        }
    }

    /// Returns whether a node path exists.
    pub fn exists(&self, node_path: &Path) -> bool {
        self.real(node_path).exists()
    }

    /// Writes a file atomically: a temp file in the same folder, fsync, rename. Parent
    /// folders are created (0755).
    ///
    /// # Errors
    /// Any I/O error; the old file is then untouched.
    pub fn write_atomic(&self, node_path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
        let real = self.real(node_path);
        if let Some(dir) = real.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                what: "cannot create the folder of".into(),
                path: node_path.into(),
                source,
            })?;
        }
        let opts = slipway_fs::WriteOptions {
            mode,
            ..slipway_fs::WriteOptions::default()
        };
        slipway_fs::write_atomic(&real, bytes, &opts).map_err(|e| Error::Io {
            what: e.step.into(),
            path: node_path.into(),
            source: e.source,
        })
    }

    /// Removes a file if it exists, and then its folder if that is left empty.
    ///
    /// # Errors
    /// Any I/O error other than "not found".
    pub fn remove(&self, node_path: &Path) -> Result<(), Error> {
        let real = self.real(node_path);
        match std::fs::remove_file(&real) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Io {
                    what: "cannot remove".into(),
                    path: node_path.into(),
                    source,
                });
            }
        }
        if let Some(dir) = real.parent() {
            let _ = std::fs::remove_dir(dir);
        }
        Ok(())
    }
}
