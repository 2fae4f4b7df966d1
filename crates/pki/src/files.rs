//! Writes files so that nothing is ever half-written: every file of a batch goes to a temp
//! file in its own folder first, and only when all are written are they renamed into place.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// Holds files to be written together.
#[derive(Default)]
pub(crate) struct Batch {
    files: Vec<(PathBuf, Vec<u8>, u32, bool)>,
}

impl Batch {
    /// Adds a public file (mode 0644). `no_clobber` refuses to replace an existing file.
    pub fn public(&mut self, path: impl Into<PathBuf>, data: impl Into<Vec<u8>>, no_clobber: bool) {
        self.files
            .push((path.into(), data.into(), 0o644, no_clobber));
    }

    /// Adds a private key (mode 0600 from the moment the temp file exists).
    pub fn secret(&mut self, path: impl Into<PathBuf>, data: impl Into<Vec<u8>>, no_clobber: bool) {
        self.files
            .push((path.into(), data.into(), 0o600, no_clobber));
    }

    /// Writes every file to a temp file, then renames them all into place.
    ///
    /// # Errors
    /// An existing file where `no_clobber` was asked, or any I/O error. In both cases no
    /// file of the batch has been replaced.
    pub fn commit(self) -> Result<Vec<PathBuf>, Error> {
        for (path, _, _, no_clobber) in &self.files {
            if *no_clobber && path.exists() {
                return Err(Error::CaExists { path: path.clone() });
            }
        }
        let mut staged = Vec::new();
        for (path, data, mode, _) in &self.files {
            let dir = parent(path);
            let io = |what: &str| {
                let what = what.to_string();
                let p = path.clone();
                move |source| Error::Io {
                    what,
                    path: p,
                    source,
                }
            };
            let mut tmp = tempfile::Builder::new()
                .prefix(".slipway-")
                .permissions(std::fs::Permissions::from_mode(*mode))
                .tempfile_in(dir)
                .map_err(io("cannot create a temp file beside"))?;
            tmp.write_all(data).map_err(io("cannot write"))?;
            tmp.as_file().sync_all().map_err(io("cannot sync"))?;
            staged.push((tmp, path.clone()));
        }
        let mut written = Vec::new();
        for (tmp, path) in staged {
            tmp.persist(&path).map_err(|e| Error::Io {
                what: "cannot rename into".into(),
                path: path.clone(),
                source: e.error,
            })?;
            written.push(path);
        }
        Ok(written)
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Reads a file, naming it in the error.
pub(crate) fn read(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        what: format!("cannot read {what}"),
        path: path.into(),
        source,
    })
}
