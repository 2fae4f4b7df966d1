//! OCI image layout folders: an `oci-layout` file, `index.json`, and content-addressed blobs
//! under `blobs/sha256/<hex>`, as the OCI image spec's `image-layout.md` describes and
//! `skopeo copy oci:...` reads and writes.
//!
//! Blobs are written to a temporary file inside `blobs/sha256`, verified, then renamed into
//! place, so a blob file that exists always has the content its name says. `index.json` is
//! replaced by a rename too.

use std::fs::{self, File};
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::Value;
use tempfile::NamedTempFile;

use crate::location::check_layout_tag;
use crate::{Descriptor, Digest, Error, Hasher, ImageIndex};

/// The annotation that gives a manifest in `index.json` its tag.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";
/// The file that marks a folder as a layout.
pub const LAYOUT_FILE: &str = "oci-layout";
/// The layout's index of tagged manifests.
pub const INDEX_FILE: &str = "index.json";
/// The layout version slipway writes; it reads any `1.x`.
pub const LAYOUT_VERSION: &str = "1.0.0";

const TEMP_PREFIX: &str = ".tmp-";
const WRITE_BUFFER: usize = 256 * 1024;

/// Reads and writes one OCI image layout folder.
///
/// It is `Send + Sync`; share it with `Arc`. Tag updates through one `Layout` are serialized;
/// two processes writing tags to the same folder at once may lose one of the updates.
#[derive(Debug)]
pub struct Layout {
    path: PathBuf,
    index_lock: Mutex<()>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LayoutFile {
    image_layout_version: String,
}

impl Layout {
    /// Opens an existing layout.
    ///
    /// # Errors
    /// [`Error::NotALayout`], naming the folder, when it does not exist, is not a folder, or
    /// lacks a valid `oci-layout` file or an `index.json`; [`Error::Io`] when they cannot be
    /// read.
    pub fn open(path: &Path) -> Result<Layout, Error> {
        let not = |why: &str| Error::NotALayout {
            path: path.into(),
            why: why.into(),
        };
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(not("it is not a folder")),
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(not("it does not exist")),
            Err(source) => {
                return Err(Error::Io {
                    path: path.into(),
                    source,
                });
            }
        }
        check_layout_file(path)?;
        if !path.join(INDEX_FILE).is_file() {
            return Err(not("it has no index.json"));
        }
        Ok(Layout::at(path))
    }

    /// Opens a layout, creating it first when needed: the folder, `blobs/sha256`, an empty
    /// `index.json` and the `oci-layout` file, each only if missing.
    ///
    /// # Errors
    /// [`Error::NotALayout`] when the path is a file, a folder that is not empty and has no
    /// `oci-layout` file, or a folder whose `oci-layout` file is invalid; [`Error::Io`] when
    /// something cannot be created.
    pub fn create(path: &Path) -> Result<Layout, Error> {
        let not = |why: &str| Error::NotALayout {
            path: path.into(),
            why: why.into(),
        };
        match fs::metadata(path) {
            Ok(m) if !m.is_dir() => return Err(not("it exists and is not a folder")),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                fs::create_dir_all(path).map_err(Error::io(path))?;
            }
            Err(source) => {
                return Err(Error::Io {
                    path: path.into(),
                    source,
                });
            }
        }
        // A folder holding anything but what this function itself makes before the marker
        // is someone else's: refused before anything is written into it.
        if !path.join(LAYOUT_FILE).exists() {
            // The marker counts as ours too: another process making the same layout may
            // write it between the check above and this listing (it is checked under the
            // lock below).
            let ours = ["blobs", INDEX_FILE, LAYOUT_FILE];
            let foreign = fs::read_dir(path)
                .map_err(Error::io(path))?
                .flatten()
                .any(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    !ours.contains(&name.as_ref()) && !name.starts_with(TEMP_PREFIX)
                });
            if foreign {
                return Err(not(
                    "it is a folder that is not empty and has no oci-layout file; \
                     refusing to write a layout into it",
                ));
            }
        }
        // Several processes may create the same layout at once: the writes happen under the
        // layout's lock, so none sees another's half-made layout.
        let layout = Layout::at(path);
        let _locked = layout.lock_index()?;
        if path.join(LAYOUT_FILE).exists() {
            check_layout_file(path)?;
        }
        let blobs = path.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).map_err(Error::io(&blobs))?;
        let index = path.join(INDEX_FILE);
        if !index.exists() {
            let bytes = serde_json::to_vec(&ImageIndex::empty()).map_err(|source| Error::Json {
                subject: index.display().to_string(),
                source,
            })?;
            write_file_atomic(&index, &bytes)?;
        }
        let marker = path.join(LAYOUT_FILE);
        if !marker.exists() {
            let text = format!(r#"{{"imageLayoutVersion":"{LAYOUT_VERSION}"}}"#);
            write_file_atomic(&marker, text.as_bytes())?;
        }
        // Temporary files a killed writer left behind, and no one holds.
        crate::temp::sweep_temp(&blobs, TEMP_PREFIX);
        crate::temp::sweep_temp(path, TEMP_PREFIX);
        drop(_locked);
        Layout::open(path)
    }

    fn at(path: &Path) -> Layout {
        Layout {
            path: path.into(),
            index_lock: Mutex::new(()),
        }
    }

    /// Returns the layout folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads `index.json`.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Json`], naming the file.
    pub fn index(&self) -> Result<ImageIndex, Error> {
        let file = self.path.join(INDEX_FILE);
        let bytes = fs::read(&file).map_err(Error::io(&file))?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Json {
            subject: file.display().to_string(),
            source,
        })
    }

    /// Returns the descriptor of the manifest tagged `tag` (by [`REF_NAME_ANNOTATION`]), or,
    /// with no tag, of the only manifest in `index.json`.
    ///
    /// # Errors
    /// [`Error::TagNotFound`] or [`Error::TagRequired`], both listing the tags the layout has;
    /// errors of [`Layout::index`].
    pub fn resolve(&self, tag: Option<&str>) -> Result<Descriptor, Error> {
        let index = self.index()?;
        let available = tags_of(&index);
        match tag {
            Some(t) => index
                .manifests
                .into_iter()
                .find(|d| d.annotation(REF_NAME_ANNOTATION) == Some(t))
                .ok_or_else(|| Error::TagNotFound {
                    path: self.path.clone(),
                    tag: t.into(),
                    available,
                }),
            None if index.manifests.len() == 1 => {
                Ok(index.manifests.into_iter().next().expect("one"))
            }
            None => Err(Error::TagRequired {
                path: self.path.clone(),
                count: index.manifests.len(),
                available,
            }),
        }
    }

    /// Returns the tags in `index.json`, in its order.
    ///
    /// # Errors
    /// As [`Layout::index`].
    pub fn tags(&self) -> Result<Vec<String>, Error> {
        Ok(tags_of(&self.index()?))
    }

    /// Returns where the blob with this digest is (or would be) stored.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.path.join("blobs").join(d.algorithm()).join(d.hex())
    }

    /// Returns whether the blob is stored, and has this size when one is given. The content
    /// is not hashed; blobs are verified when written.
    pub fn has_blob(&self, d: &Digest, size: Option<u64>) -> bool {
        fs::metadata(self.blob_path(d))
            .is_ok_and(|m| m.is_file() && size.is_none_or(|s| m.len() == s))
    }

    /// Reads a whole blob and verifies its digest.
    ///
    /// # Errors
    /// [`Error::BlobNotFound`], [`Error::Io`], or [`Error::DigestMismatch`] naming the file
    /// when its content was changed or damaged.
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>, Error> {
        let file = self.blob_path(d);
        let bytes = fs::read(&file).map_err(|e| self.blob_error(d, &file, e))?;
        let actual = Digest::sha256_of(&bytes);
        if actual != *d {
            return Err(Error::DigestMismatch {
                subject: file.display().to_string(),
                expected: d.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Opens a blob for streaming. The content is not verified here; hash it while reading
    /// (see [`Hasher`]).
    ///
    /// # Errors
    /// [`Error::BlobNotFound`] or [`Error::Io`].
    pub fn open_blob(&self, d: &Digest) -> Result<File, Error> {
        let file = self.blob_path(d);
        File::open(&file).map_err(|e| self.blob_error(d, &file, e))
    }

    fn blob_error(&self, d: &Digest, file: &Path, source: std::io::Error) -> Error {
        if source.kind() == ErrorKind::NotFound {
            Error::BlobNotFound {
                layout: self.path.clone(),
                digest: d.clone(),
            }
        } else {
            Error::Io {
                path: file.into(),
                source,
            }
        }
    }

    /// Starts writing a blob that should have this digest (and size): bytes go to a
    /// temporary file in `blobs/sha256`, which [`BlobWriter::commit`] verifies and renames.
    ///
    /// # Errors
    /// [`Error::Io`] when the folder or the temporary file cannot be created.
    pub fn blob_writer(
        &self,
        expected: &Digest,
        expected_size: Option<u64>,
    ) -> Result<BlobWriter, Error> {
        let target = self.blob_path(expected);
        let dir = target
            .parent()
            .expect("a blob path has a folder")
            .to_path_buf();
        self.new_blob_writer(&dir, Some(expected.clone()), expected_size, target.clone())
    }

    /// Starts writing a blob whose digest is known only once all of it is written, such as a
    /// layer being compressed: bytes go to a temporary file in `blobs/sha256` and are hashed
    /// as they come. [`BlobWriter::commit`] then stores the blob under the digest of what was
    /// written (keeping an identical blob that is already stored).
    ///
    /// # Errors
    /// [`Error::Io`] when the folder or the temporary file cannot be created.
    pub fn blob_writer_unknown(&self) -> Result<BlobWriter, Error> {
        let dir = self.path.join("blobs").join("sha256");
        self.new_blob_writer(&dir, None, None, dir.clone())
    }

    /// Opens the temporary file of a blob writer in `dir` (created if missing).
    fn new_blob_writer(
        &self,
        dir: &Path,
        expected: Option<Digest>,
        expected_size: Option<u64>,
        target: PathBuf,
    ) -> Result<BlobWriter, Error> {
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
        // Held while this writer lives: a sweep in another process keeps it, and an
        // interrupted run removes it.
        let (file, guard) = crate::temp::TempGuard::create(
            || {
                tempfile::Builder::new()
                    .prefix(TEMP_PREFIX)
                    .tempfile_in(dir)
            },
            tempfile::NamedTempFile::path,
        )
        .map_err(Error::io(dir))?;
        Ok(BlobWriter {
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
            _guard: guard,
            hasher: Hasher::new(),
            written: 0,
            expected,
            expected_size,
            target,
        })
    }

    /// Stores bytes as a blob and returns their digest. A blob already stored with the same
    /// size is left as it is.
    ///
    /// # Errors
    /// [`Error::Io`] when the blob cannot be written.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest, Error> {
        let digest = Digest::sha256_of(bytes);
        let size = bytes.len() as u64;
        if self.has_blob(&digest, Some(size)) {
            return Ok(digest);
        }
        let mut w = self.blob_writer(&digest, Some(size))?;
        w.write_all(bytes).map_err(Error::io(&w.target))?;
        w.commit()
    }

    /// Tags a manifest: puts `desc` into `index.json` with [`REF_NAME_ANNOTATION`] set to
    /// `tag`, replacing the entry that had this tag and keeping all others (and any fields
    /// slipway does not know). The manifest blob must be stored already. The new
    /// `index.json` replaces the old one by a rename.
    ///
    /// # Errors
    /// [`Error::InvalidTag`] for an empty tag or one with whitespace; [`Error::BlobNotFound`]
    /// when the manifest blob is not stored with `desc.size` bytes; [`Error::Io`] or
    /// [`Error::Json`] for `index.json`.
    pub fn set_tag(&self, tag: &str, desc: &Descriptor) -> Result<(), Error> {
        check_layout_tag(tag).map_err(|why| Error::InvalidTag {
            input: tag.into(),
            why,
        })?;
        if !self.has_blob(&desc.digest, Some(desc.size)) {
            return Err(Error::BlobNotFound {
                layout: self.path.clone(),
                digest: desc.digest.clone(),
            });
        }
        let file = self.path.join(INDEX_FILE);
        let json_err = |source| Error::Json {
            subject: file.display().to_string(),
            source,
        };
        let mut entry = desc.clone();
        entry
            .annotations
            .get_or_insert_default()
            .insert(REF_NAME_ANNOTATION.into(), tag.into());
        let entry = serde_json::to_value(&entry).map_err(json_err)?;

        let _guard = self.index_lock.lock().unwrap_or_else(|p| p.into_inner());
        // Other processes write this layout too (parallel copies, builds sharing a store):
        // the update is made under an exclusive lock on the layout, and index.json is read
        // again under it, so no tag another writer added meanwhile is lost.
        let _locked = self.lock_index()?;
        let mut index: Value = match fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(json_err)?,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                serde_json::to_value(ImageIndex::empty()).map_err(json_err)?
            }
            Err(source) => return Err(Error::Io { path: file, source }),
        };
        let Some(object) = index.as_object_mut() else {
            return Err(Error::NotALayout {
                path: self.path.clone(),
                why: "its index.json is not a JSON object".into(),
            });
        };
        let manifests = object
            .entry("manifests")
            .or_insert_with(|| Value::Array(Vec::new()));
        let Some(manifests) = manifests.as_array_mut() else {
            return Err(Error::NotALayout {
                path: self.path.clone(),
                why: "the manifests of its index.json are not a JSON array".into(),
            });
        };
        let has_tag = |v: &Value| {
            v.pointer("/annotations")
                .and_then(|a| a.get(REF_NAME_ANNOTATION))
                .and_then(Value::as_str)
                == Some(tag)
        };
        match manifests.iter().position(has_tag) {
            Some(first) => {
                manifests[first] = entry;
                let mut i = 0;
                manifests.retain(|v| {
                    let keep = i == first || !has_tag(v);
                    i += 1;
                    keep
                });
            }
            None => manifests.push(entry),
        }
        let bytes = serde_json::to_vec(&index).map_err(json_err)?;
        write_file_atomic(&file, &bytes)
    }
}

impl Layout {
    /// Takes the layout's writer lock, an exclusive `flock` on the layout's folder itself
    /// (so locking writes nothing into it), until the returned handle is dropped.
    fn lock_index(&self) -> Result<File, Error> {
        let f = File::open(&self.path).map_err(Error::io(&self.path))?;
        f.lock().map_err(Error::io(&self.path))?;
        Ok(f)
    }
}

fn tags_of(index: &ImageIndex) -> Vec<String> {
    index
        .manifests
        .iter()
        .filter_map(|d| d.annotation(REF_NAME_ANNOTATION))
        .map(str::to_string)
        .collect()
}

fn check_layout_file(path: &Path) -> Result<(), Error> {
    let not = |why: String| Error::NotALayout {
        path: path.into(),
        why,
    };
    let file = path.join(LAYOUT_FILE);
    let bytes = match fs::read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(not("it has no oci-layout file".into()));
        }
        Err(source) => return Err(Error::Io { path: file, source }),
    };
    let parsed: LayoutFile = serde_json::from_slice(&bytes).map_err(|e| {
        not(format!(
            "its oci-layout file is not {{\"imageLayoutVersion\":\"{LAYOUT_VERSION}\"}}: {e}"
        ))
    })?;
    let v = parsed.image_layout_version;
    if v != "1" && !v.starts_with("1.") {
        return Err(not(format!(
            "its imageLayoutVersion {v} is not supported; only 1.x is"
        )));
    }
    Ok(())
}

/// Writes a file whole or not at all: a temporary file in the same folder (named with the
/// layout's temporary prefix, so an interrupted write is cleaned up by the next writer),
/// synced, then renamed over `target`.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn write_file_atomic(target: &Path, bytes: &[u8]) -> Result<(), Error> {
    let opts = slipway_fs::WriteOptions {
        prefix: TEMP_PREFIX,
        ..slipway_fs::WriteOptions::default()
    };
    slipway_fs::write_atomic(target, bytes, &opts).map_err(|e| Error::Io {
        path: target.into(),
        source: e.source,
    })
}

/// Syncs a temporary file and makes it readable by all, as files in a layout usually are.
fn finish_file(tmp: &NamedTempFile) -> Result<(), Error> {
    tmp.as_file().sync_all().map_err(Error::io(tmp.path()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(Error::io(tmp.path()))?;
    }
    Ok(())
}

/// Makes a rename in `dir` durable. Best effort: some file systems refuse to sync folders.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes one blob into a layout, hashing as it goes; see [`Layout::blob_writer`] and
/// [`Layout::blob_writer_unknown`].
///
/// Nothing appears under the blob's name until [`BlobWriter::commit`] has verified the
/// content. Dropping the writer without committing removes its temporary file.
#[derive(Debug)]
pub struct BlobWriter {
    file: BufWriter<NamedTempFile>,
    /// Holds the temporary file while it lives.
    _guard: crate::temp::TempGuard,
    hasher: Hasher,
    written: u64,
    /// `None` for a writer from [`Layout::blob_writer_unknown`].
    expected: Option<Digest>,
    expected_size: Option<u64>,
    /// The blob's final path, or for an unknown digest the `blobs/sha256` folder.
    target: PathBuf,
}

impl BlobWriter {
    /// Returns how many bytes were written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Opens a second, read-only handle to the temporary file being written. Calling
    /// [`File::sync_data`] on it from another thread while writing goes on pushes the bytes
    /// written so far to disk, so that [`BlobWriter::commit`] has less left to sync at the
    /// end. Bytes still in this writer's buffer are not covered.
    ///
    /// # Errors
    /// The I/O error of opening the file.
    pub fn sync_handle(&self) -> std::io::Result<File> {
        File::open(self.file.get_ref().path())
    }

    /// Returns the digest the content should have; `None` for a writer from
    /// [`Layout::blob_writer_unknown`].
    pub fn expected(&self) -> Option<&Digest> {
        self.expected.as_ref()
    }

    /// Syncs the content, verifies its size (when one was given) and digest, and renames it
    /// to `blobs/sha256/<hex>`. Returns the digest.
    ///
    /// A writer from [`Layout::blob_writer_unknown`] has nothing to verify: its content is
    /// stored under its own digest, and when a blob of that digest and size is stored
    /// already, that one is kept and the temporary file deleted.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] or [`Error::DigestMismatch`], naming the blob's file, after
    /// deleting the temporary file; [`Error::Io`] when syncing or renaming fails.
    pub fn commit(self) -> Result<Digest, Error> {
        let BlobWriter {
            file,
            _guard,
            hasher,
            written,
            expected,
            expected_size,
            target,
        } = self;
        let tmp = file.into_inner().map_err(|e| {
            let (source, w) = e.into_parts();
            Error::Io {
                path: w.get_ref().path().to_path_buf(),
                source,
            }
        })?;
        let Some(expected) = expected else {
            let actual = hasher.finish();
            let target = target.join(actual.hex());
            if fs::metadata(&target).is_ok_and(|m| m.is_file() && m.len() == written) {
                return Ok(actual);
            }
            finish_file(&tmp)?;
            tmp.persist(&target).map_err(|e| Error::Io {
                path: target.clone(),
                source: e.error,
            })?;
            if let Some(dir) = target.parent() {
                sync_dir(dir);
            }
            return Ok(actual);
        };
        let subject = || format!("blob {}", target.display());
        if let Some(size) = expected_size
            && size != written
        {
            return Err(Error::SizeMismatch {
                subject: subject(),
                expected: size,
                actual: written,
            });
        }
        let actual = hasher.finish();
        if actual != expected {
            return Err(Error::DigestMismatch {
                subject: subject(),
                expected,
                actual,
            });
        }
        finish_file(&tmp)?;
        tmp.persist(&target).map_err(|e| Error::Io {
            path: target.clone(),
            source: e.error,
        })?;
        if let Some(dir) = target.parent() {
            sync_dir(dir);
        }
        Ok(actual)
    }
}

impl Write for BlobWriter {
    /// Writes and hashes bytes. Fails with `InvalidData` once the content would exceed the
    /// expected size, so an endless source cannot fill the disk.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(size) = self.expected_size
            && self.written + buf.len() as u64 > size
        {
            return Err(std::io::Error::new(
                ErrorKind::InvalidData,
                format!(
                    "blob {} is longer than the {size} bytes its descriptor announced",
                    self.target.display()
                ),
            ));
        }
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{OCI_CONFIG, OCI_MANIFEST};

    fn blob_files(l: &Layout) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(l.path().join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn manifest(l: &Layout, config: &[u8]) -> Descriptor {
        let cfg = l.write_blob(config).unwrap();
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{cfg}","size":{}}},"layers":[]}}"#,
            config.len()
        );
        let d = l.write_blob(body.as_bytes()).unwrap();
        Descriptor::new(OCI_MANIFEST, d, body.len() as u64)
    }

    #[test]
    fn create_write_tag_and_resolve_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/layout");
        let l = Layout::create(&path).unwrap();
        assert_eq!(
            fs::read_to_string(path.join(LAYOUT_FILE)).unwrap(),
            r#"{"imageLayoutVersion":"1.0.0"}"#
        );
        assert!(l.index().unwrap().manifests.is_empty());
        let desc = manifest(&l, b"{}");
        l.set_tag("v1", &desc).unwrap();

        let again = Layout::open(&path).unwrap();
        let got = again.resolve(Some("v1")).unwrap();
        assert_eq!(got.digest, desc.digest);
        assert_eq!(got.annotation(REF_NAME_ANNOTATION), Some("v1"));
        assert_eq!(again.resolve(None).unwrap().digest, desc.digest);
        let bytes = again.read_blob(&desc.digest).unwrap();
        assert!(crate::Manifest::parse(&bytes, Some(&got.media_type)).is_ok());
        assert_eq!(again.tags().unwrap(), ["v1"]);
        assert!(
            Layout::create(&path).is_ok(),
            "create opens an existing layout"
        );
    }

    #[test]
    fn write_blob_is_content_addressed_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path()).unwrap();
        let d = l.write_blob(b"hello").unwrap();
        assert_eq!(d, Digest::sha256_of(b"hello"));
        assert_eq!(l.write_blob(b"hello").unwrap(), d);
        assert_eq!(blob_files(&l), [d.hex()]);
        assert!(l.has_blob(&d, Some(5)));
        assert!(!l.has_blob(&d, Some(6)));
        assert!(!l.has_blob(&Digest::sha256_of(b"other"), None));
        let mut s = String::new();
        std::io::Read::read_to_string(&mut l.open_blob(&d).unwrap(), &mut s).unwrap();
        assert_eq!(s, "hello");
    }

    #[test]
    fn blob_writer_with_wrong_bytes_fails_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path()).unwrap();
        let want = Digest::sha256_of(b"right");
        let mut w = l.blob_writer(&want, Some(5)).unwrap();
        w.write_all(b"wrong").unwrap();
        assert_eq!(w.written(), 5);
        let err = w.commit().unwrap_err();
        let Error::DigestMismatch {
            expected, actual, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!((expected, actual), (&want, &Digest::sha256_of(b"wrong")));
        assert!(err.to_string().contains(want.hex()), "{err}");
        assert!(blob_files(&l).is_empty(), "{:?}", blob_files(&l));
    }

    #[test]
    fn blob_writer_refuses_a_short_blob_and_an_overlong_one() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path()).unwrap();
        let want = Digest::sha256_of(b"right");
        let mut w = l.blob_writer(&want, Some(5)).unwrap();
        w.write_all(b"rig").unwrap();
        assert!(matches!(
            w.commit(),
            Err(Error::SizeMismatch {
                expected: 5,
                actual: 3,
                ..
            })
        ));
        let mut w = l.blob_writer(&want, Some(5)).unwrap();
        let err = w.write_all(b"right, and more").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        drop(w);
        assert!(blob_files(&l).is_empty(), "{:?}", blob_files(&l));
    }

    #[test]
    fn dropping_a_blob_writer_removes_its_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path()).unwrap();
        let mut w = l.blob_writer(&Digest::sha256_of(b"x"), None).unwrap();
        w.write_all(b"x").unwrap();
        w.flush().unwrap();
        assert_eq!(blob_files(&l).len(), 1, "the temporary file");
        drop(w);
        assert!(blob_files(&l).is_empty());
    }

    #[test]
    fn blob_writer_unknown_names_the_blob_after_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path()).unwrap();
        let mut w = l.blob_writer_unknown().unwrap();
        assert_eq!(w.expected(), None);
        w.write_all(b"computed ").unwrap();
        w.flush().unwrap();
        let handle = w.sync_handle().unwrap();
        std::thread::spawn(move || handle.sync_data().unwrap())
            .join()
            .unwrap();
        w.write_all(b"later").unwrap();
        let d = w.commit().unwrap();
        assert_eq!(d, Digest::sha256_of(b"computed later"));
        assert_eq!(l.read_blob(&d).unwrap(), b"computed later");
        // The same content again keeps the stored blob and leaves no temporary file.
        let mut w = l.blob_writer_unknown().unwrap();
        w.write_all(b"computed later").unwrap();
        assert_eq!(w.commit().unwrap(), d);
        assert_eq!(blob_files(&l), [d.hex()]);
        // Dropped without commit: nothing is left.
        let mut w = l.blob_writer_unknown().unwrap();
        w.write_all(b"abandoned").unwrap();
        drop(w);
        assert_eq!(blob_files(&l), [d.hex()]);
    }

    #[test]
    fn read_blob_detects_a_corrupted_blob() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path()).unwrap();
        let d = l.write_blob(b"original").unwrap();
        fs::write(l.blob_path(&d), b"tampered").unwrap();
        let err = l.read_blob(&d).unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert!(
            err.to_string()
                .contains(&l.blob_path(&d).display().to_string())
        );
        let missing = Digest::sha256_of(b"never written");
        assert!(matches!(
            l.read_blob(&missing),
            Err(Error::BlobNotFound { .. })
        ));
        assert!(matches!(
            l.open_blob(&missing),
            Err(Error::BlobNotFound { .. })
        ));
    }

    #[test]
    fn writers_that_do_not_share_a_layout_value_lose_no_tag() {
        // Each thread opens the layout on its own, as separate processes do, so only the
        // lock on the folder keeps their index.json updates apart.
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let digest = layout.write_blob(b"{}").unwrap();
        let desc = Descriptor::new(OCI_MANIFEST, digest, 2);
        std::thread::scope(|s| {
            for t in 0..8 {
                let (path, desc) = (dir.path().to_path_buf(), desc.clone());
                s.spawn(move || {
                    let mine = Layout::open(&path).unwrap();
                    for i in 0..10 {
                        mine.set_tag(&format!("t{t}-{i}"), &desc).unwrap();
                    }
                });
            }
        });
        assert_eq!(layout.tags().unwrap().len(), 80, "every tag is kept");
    }

    #[test]
    fn set_tag_replaces_its_own_entry_and_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path()).unwrap();
        let a = manifest(&l, b"{\"a\":1}");
        let b = manifest(&l, b"{\"b\":1}");
        let c = manifest(&l, b"{\"c\":1}");
        l.set_tag("one", &a).unwrap();
        l.set_tag("two", &b).unwrap();
        // An entry with a field slipway does not model must survive.
        let file = l.path().join(INDEX_FILE);
        let mut index: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        index["manifests"][1]["data"] = Value::String("e30=".into());
        fs::write(&file, serde_json::to_vec(&index).unwrap()).unwrap();

        l.set_tag("one", &c).unwrap();
        assert_eq!(l.tags().unwrap(), ["one", "two"]);
        assert_eq!(l.resolve(Some("one")).unwrap().digest, c.digest);
        assert_eq!(l.resolve(Some("two")).unwrap().digest, b.digest);
        let index: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        assert_eq!(index["manifests"][1]["data"], "e30=");
        assert_eq!(index["mediaType"], crate::media::OCI_INDEX);
        let leftovers: Vec<_> = fs::read_dir(l.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with(TEMP_PREFIX))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn set_tag_refuses_a_manifest_that_is_not_stored_and_a_blank_tag() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path()).unwrap();
        let desc = Descriptor::new(OCI_MANIFEST, Digest::sha256_of(b"nope"), 4);
        assert!(matches!(
            l.set_tag("v1", &desc),
            Err(Error::BlobNotFound { .. })
        ));
        let desc = manifest(&l, b"{}");
        assert!(matches!(
            l.set_tag("a b", &desc),
            Err(Error::InvalidTag { .. })
        ));
        assert!(matches!(
            l.set_tag("", &desc),
            Err(Error::InvalidTag { .. })
        ));
    }

    #[test]
    fn resolve_names_the_tags_when_the_tag_is_missing_or_ambiguous() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path()).unwrap();
        let err = l.resolve(None).unwrap_err();
        assert!(matches!(err, Error::TagRequired { count: 0, .. }), "{err}");
        let a = manifest(&l, b"{\"a\":1}");
        let b = manifest(&l, b"{\"b\":1}");
        l.set_tag("one", &a).unwrap();
        l.set_tag("two", &b).unwrap();
        let err = l.resolve(None).unwrap_err().to_string();
        assert!(
            err.contains("2 manifests") && err.contains("one, two"),
            "{err}"
        );
        let err = l.resolve(Some("three")).unwrap_err();
        assert!(matches!(err, Error::TagNotFound { .. }));
        assert!(
            err.to_string().contains("`three`; its tags are: one, two"),
            "{err}"
        );
    }

    #[test]
    fn open_and_create_refuse_folders_that_are_not_layouts() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let err = Layout::open(&missing).unwrap_err().to_string();
        assert!(
            err.contains("does not exist") && err.contains("missing"),
            "{err}"
        );

        let busy = dir.path().join("busy");
        fs::create_dir(&busy).unwrap();
        fs::write(busy.join("notes.txt"), "x").unwrap();
        let err = Layout::create(&busy).unwrap_err();
        assert!(matches!(err, Error::NotALayout { .. }), "{err}");
        assert!(err.to_string().contains("not empty"), "{err}");
        assert!(
            Layout::open(&busy)
                .unwrap_err()
                .to_string()
                .contains("no oci-layout")
        );

        let bad = dir.path().join("bad");
        fs::create_dir(&bad).unwrap();
        fs::write(bad.join(LAYOUT_FILE), r#"{"imageLayoutVersion":"2.0.0"}"#).unwrap();
        let err = Layout::create(&bad).unwrap_err().to_string();
        assert!(err.contains("2.0.0 is not supported"), "{err}");

        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        assert!(
            Layout::create(&file)
                .unwrap_err()
                .to_string()
                .contains("not a folder")
        );
    }

    /// Many writers making the same layout at once all succeed: none takes another's
    /// half-made layout (its marker included) for someone else's folder.
    #[test]
    fn many_writers_can_create_one_layout_at_once() {
        for round in 0..100 {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("layout");
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..8).map(|_| s.spawn(|| Layout::create(&path))).collect();
                for h in handles {
                    let r = h.join().unwrap();
                    assert!(
                        r.is_ok(),
                        "round {round}: {:?}",
                        r.err().map(|e| e.to_string())
                    );
                }
            });
            Layout::open(&path).unwrap();
        }
    }

    #[test]
    fn layout_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Layout>();
        assert_send_sync::<BlobWriter>();
        assert_send_sync::<Hasher>();
    }
}
