//! Writing a file whole or not at all: a temporary file in the target's folder, written,
//! synced, given its mode, then renamed over the target. A reader sees the old file or the
//! new one, never half of one, and an interrupted write leaves only a temporary file whose
//! name starts with the prefix, for the next run to remove.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Says which step of an atomic write failed, on which file.
#[derive(Debug, thiserror::Error)]
#[error("{step} {}: {source}", .path.display())]
pub struct AtomicError {
    /// The step, in words: `cannot create a temp file beside`, `cannot write`, `cannot
    /// sync`, `cannot rename into`.
    pub step: &'static str,
    /// The file being written.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// How to write.
#[derive(Clone, Debug)]
pub struct WriteOptions<'a> {
    /// The new file's permission bits.
    pub mode: u32,
    /// The temporary file's name starts with this (a crash leaves such a file behind).
    pub prefix: &'a str,
    /// The temporary file's name ends with this.
    pub suffix: &'a str,
    /// Also sync the folder after the rename, so the rename itself survives a crash (best
    /// effort: some file systems refuse).
    pub sync_dir: bool,
}

impl Default for WriteOptions<'_> {
    fn default() -> Self {
        WriteOptions {
            mode: 0o644,
            prefix: ".slipway-",
            suffix: "",
            sync_dir: true,
        }
    }
}

/// A file written and synced under a temporary name beside its target, not yet renamed:
/// several can be staged, then all committed, so that a batch fails before any file is
/// replaced.
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    target: PathBuf,
    sync_dir: bool,
}

fn folder(target: &Path) -> &Path {
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Writes `bytes` under a temporary name in `target`'s folder (which must exist), synced,
/// with `opts.mode`.
///
/// # Errors
/// [`AtomicError`] naming the step and `target`; nothing is left behind.
pub fn stage(target: &Path, bytes: &[u8], opts: &WriteOptions<'_>) -> Result<Staged, AtomicError> {
    let fail = |step: &'static str| {
        move |source| AtomicError {
            step,
            path: target.to_path_buf(),
            source,
        }
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(opts.prefix)
        .suffix(opts.suffix)
        .permissions(std::fs::Permissions::from_mode(opts.mode))
        .tempfile_in(folder(target))
        .map_err(fail("cannot create a temp file beside"))?;
    tmp.write_all(bytes).map_err(fail("cannot write"))?;
    // The mode again: the permissions given at creation pass through the umask.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(opts.mode))
        .map_err(fail("cannot set the mode of"))?;
    tmp.as_file().sync_all().map_err(fail("cannot sync"))?;
    Ok(Staged {
        tmp,
        target: target.to_path_buf(),
        sync_dir: opts.sync_dir,
    })
}

impl Staged {
    /// Returns the temporary file, for what must happen before the rename (an owner, say).
    pub fn file(&self) -> &File {
        self.tmp.as_file()
    }

    /// Renames the temporary file over the target.
    ///
    /// # Errors
    /// [`AtomicError`] when the rename fails; the temporary file is then removed.
    pub fn commit(self) -> Result<(), AtomicError> {
        let Staged {
            tmp,
            target,
            sync_dir,
        } = self;
        tmp.persist(&target).map_err(|e| AtomicError {
            step: "cannot rename into",
            path: target.clone(),
            source: e.error,
        })?;
        if sync_dir && let Ok(d) = File::open(folder(&target)) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Writes `bytes` to `target` whole or not at all ([`stage`], then [`Staged::commit`]).
///
/// # Errors
/// [`AtomicError`] naming the step and `target`; the old file is then untouched.
pub fn write_atomic(
    target: &Path,
    bytes: &[u8],
    opts: &WriteOptions<'_>,
) -> Result<(), AtomicError> {
    stage(target, bytes, opts)?.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn writes_whole_files_with_their_mode_and_leaves_nothing_behind() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("key.pem");
        std::fs::write(&f, b"old").unwrap();
        let secret = WriteOptions {
            mode: 0o600,
            ..WriteOptions::default()
        };
        write_atomic(&f, b"new", &secret).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o7777, 0o600);
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temp file left"
        );

        // A staged file is invisible until committed, and a dropped one leaves nothing.
        let staged = stage(&f, b"newer", &WriteOptions::default()).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"new");
        drop(staged);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        stage(&f, b"newer", &WriteOptions::default())
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"newer");
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o7777, 0o644);

        let missing = d.path().join("no/such/folder/file");
        let e = write_atomic(&missing, b"x", &WriteOptions::default()).unwrap_err();
        assert_eq!(e.step, "cannot create a temp file beside");
        assert!(e.to_string().contains("no/such/folder/file"), "{e}");
    }
}
