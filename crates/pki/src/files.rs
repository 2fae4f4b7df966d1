//! Writes files so that nothing is ever half-written: every file of a batch goes to a temp
//! file in its own folder first, and only when all are written are they renamed into place.

use std::path::{Path, PathBuf};

use crate::Error;

/// Holds files to be written together.
#[derive(Default)]
pub(crate) struct Batch {
    files: Vec<(PathBuf, Vec<u8>, u32, bool)>,
    back_up: bool,
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

    /// Keeps a copy of every file the batch replaces, beside it as `FILE.bak-TIME` (UTC),
    /// with the file's own mode (a key's backup is 0600 too), written before anything is
    /// replaced.
    pub fn back_up_existing(&mut self) {
        self.back_up = true;
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
        if self.back_up {
            let t = time::OffsetDateTime::now_utc();
            let stamp = format!(
                "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            for (path, _, mode, _) in &self.files {
                let Ok(old) = std::fs::read(path) else {
                    continue;
                };
                let mut name = path.as_os_str().to_owned();
                name.push(format!(".bak-{stamp}"));
                let opts = slipway_fs::WriteOptions {
                    mode: *mode,
                    ..slipway_fs::WriteOptions::default()
                };
                slipway_fs::write_atomic(Path::new(&name), &old, &opts).map_err(io_error)?;
            }
        }
        let mut staged = Vec::new();
        for (path, data, mode, _) in &self.files {
            let opts = slipway_fs::WriteOptions {
                mode: *mode,
                ..slipway_fs::WriteOptions::default()
            };
            staged.push((
                slipway_fs::stage(path, data, &opts).map_err(io_error)?,
                path,
            ));
        }
        let mut written = Vec::new();
        for (file, path) in staged {
            file.commit().map_err(io_error)?;
            written.push(path.clone());
        }
        Ok(written)
    }
}

fn io_error(e: slipway_fs::AtomicError) -> Error {
    Error::Io {
        what: e.step.into(),
        path: e.path,
        source: e.source,
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
