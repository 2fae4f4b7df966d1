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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, ErrorKind, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, channel, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, Scope};
use std::time::{Duration, SystemTime};

use flate2::{Compress, Crc, FlushCompress};
use serde::{Deserialize, Serialize};
use slipway_oci::{BlobWriter, Descriptor, Digest, Hasher, Layout, media};
use tar::{EntryType, Header};

/// The size of the chunks passed between the pipeline's stages, and of a gzip block.
const CHUNK: usize = 1 << 20;
/// A tar block.
const BLOCK: usize = 512;
/// Names this long or longer get a GNU long-name record.
const NAME_FIELD: usize = 100;
/// A gzip member header: deflate, no flags, no mtime, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// An empty final deflate block (fixed Huffman codes, end-of-block only).
const DEFLATE_END: [u8; 2] = [0x03, 0x00];
/// The most compression threads used, whatever is asked.
const MAX_THREADS: usize = 64;
/// How often (in bytes of blob written) the blob is synced to disk in the background.
const SYNC_EVERY: u64 = 32 << 20;
/// How many symlinks may be followed while resolving one path during extraction.
const MAX_SYMLINKS: usize = 40;

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

// ------------------------------------------------------------------------------------------
// Writing
// ------------------------------------------------------------------------------------------

/// Writes `entries` as one layer into the layout and returns its digests, size and media type.
///
/// Entries are sorted by their normalized path (byte order); of several with the same path the
/// last given wins; missing parent folders are added (mode `0o755`, owner 0:0, the mtime of
/// the first entry below them). The blob depends only on the entries and options: not on the
/// order they are given in, nor on source files' times, inodes or owners. It is written to a
/// temporary file in `blobs/sha256` and renamed to its digest when complete; an identical blob
/// already stored is kept.
///
/// # Errors
/// [`LayerError::InvalidOptions`]; [`LayerError::InvalidEntry`] for an empty path, a `..`
/// component, a NUL byte, or a parent that is not a folder; [`LayerError::Source`] or
/// [`LayerError::SourceChanged`] naming the file; [`LayerError::Write`] or
/// [`LayerError::Layout`] when the blob cannot be stored. No blob is stored on error.
pub fn write_layer(
    layout: &Layout,
    entries: &[LayerEntry],
    opts: &LayerOptions,
) -> Result<BuiltLayer, LayerError> {
    let level = checked_level(opts)?;
    let threads = opts.threads.clamp(1, MAX_THREADS);
    let items = plan(entries)?;
    let dir = layout.path().join("blobs").join("sha256");
    let blob = layout.blob_writer_unknown()?;
    let write_err = |source: io::Error| LayerError::Write {
        dir: dir.clone(),
        source,
    };

    let (blob, diff_id) = thread::scope(|s| {
        let (tx, rx) = sync_channel::<Vec<u8>>(threads + 1);
        let (free_tx, free_rx) = channel::<Vec<u8>>();
        let chunks = Chunks::new(tx, free_rx, 2 * threads + 4);
        let (items, dir) = (&items, &dir);
        let producer = s.spawn(move || {
            let mut tar = TarStream::new(chunks, dir);
            write_tar(items, &mut tar)?;
            tar.finish()
        });
        let behind = SyncBehind::start(s, &blob);
        let compressed = match opts.compression {
            Compression::Gzip => gzip(
                s,
                rx,
                free_tx,
                level as u32,
                threads,
                (blob, behind),
                &write_err,
            ),
            Compression::Zstd => zstd(rx, free_tx, level, threads, (blob, behind), &write_err),
        };
        let produced = producer
            .join()
            .map_err(|_| LayerError::Panicked { stage: "tar" });
        // The compressing stage's own failure comes first: it is what stopped the producer.
        let blob = compressed?;
        let diff_id = produced??;
        Ok::<_, LayerError>((blob, diff_id))
    })?;
    let size = blob.written();
    let digest = blob.commit()?;
    Ok(BuiltLayer {
        digest,
        diff_id,
        size,
        media_type: opts.compression.media_type().into(),
    })
}

fn checked_level(opts: &LayerOptions) -> Result<i32, LayerError> {
    let level = opts
        .level
        .unwrap_or_else(|| opts.compression.default_level());
    let ok = match opts.compression {
        Compression::Gzip => (0..=9).contains(&level),
        Compression::Zstd => zstd::compression_level_range().contains(&level),
    };
    if ok {
        Ok(level)
    } else {
        let range = match opts.compression {
            Compression::Gzip => "0-9".to_string(),
            Compression::Zstd => {
                let r = zstd::compression_level_range();
                format!("{}-{}", r.start(), r.end())
            }
        };
        Err(LayerError::InvalidOptions {
            why: format!(
                "{:?} level {level} is out of range ({range})",
                opts.compression
            ),
        })
    }
}

/// One entry as it goes into the tar: the normalized name (no leading or trailing `/`).
#[derive(Debug)]
struct Item<'a> {
    name: String,
    kind: Kind<'a>,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
}

#[derive(Debug, Clone, Copy)]
enum Kind<'a> {
    Dir,
    File(&'a Path),
    Bytes(&'a [u8]),
    Symlink(&'a str),
}

/// Normalizes an in-image path to `a/b`: no leading, trailing or doubled `/`, no `.`.
fn normalize(path: &str) -> Result<String, &'static str> {
    if path.contains('\0') {
        return Err("the path contains a NUL byte");
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("the path has a `..` component"),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Turns the entries into the sorted, deduplicated list the tar holds, parents included.
fn plan(entries: &[LayerEntry]) -> Result<Vec<Item<'_>>, LayerError> {
    let invalid = |e: &LayerEntry, why: &str| LayerError::InvalidEntry {
        path: e.path.clone(),
        why: why.into(),
    };
    let mut items = Vec::with_capacity(entries.len());
    for e in entries {
        let name = normalize(&e.path).map_err(|why| invalid(e, why))?;
        let kind = match &e.content {
            Content::Dir => Kind::Dir,
            Content::File(p) => Kind::File(p),
            Content::Bytes(b) => Kind::Bytes(b),
            Content::Symlink(t) => {
                if t.is_empty() || t.contains('\0') {
                    return Err(invalid(e, "the symlink target is empty or has a NUL byte"));
                }
                Kind::Symlink(t)
            }
        };
        if name.is_empty() {
            if matches!(kind, Kind::Dir) {
                continue; // the root folder always exists
            }
            return Err(invalid(e, "only a folder can be the root `/`"));
        }
        items.push(Item {
            name,
            kind,
            mode: e.mode & 0o7777,
            uid: e.uid,
            gid: e.gid,
            mtime: e.mtime,
        });
    }
    // Stable: of equal names the one given last ends up last, and wins.
    items.sort_by(|a, b| a.name.cmp(&b.name));
    let mut unique: Vec<Item<'_>> = Vec::with_capacity(items.len());
    for item in items {
        match unique.last_mut() {
            Some(last) if last.name == item.name => *last = item,
            _ => unique.push(item),
        }
    }

    let present: HashMap<&str, bool> = unique
        .iter()
        .map(|i| (i.name.as_str(), matches!(i.kind, Kind::Dir)))
        .collect();
    let mut added: BTreeMap<&str, u64> = BTreeMap::new();
    for item in &unique {
        let mut name = item.name.as_str();
        while let Some(slash) = name.rfind('/') {
            name = &name[..slash];
            match present.get(name) {
                Some(true) => break,
                Some(false) => {
                    return Err(LayerError::InvalidEntry {
                        path: item.name.clone(),
                        why: format!("its parent `{name}` is not a folder in this layer"),
                    });
                }
                None if added.contains_key(name) => break,
                None => {
                    added.insert(name, item.mtime);
                }
            }
        }
    }
    let parents: Vec<Item<'_>> = added
        .into_iter()
        .map(|(name, mtime)| Item {
            name: name.to_string(),
            kind: Kind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime,
        })
        .collect();
    unique.extend(parents);
    unique.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Ok(unique)
}

/// The sending end of a chunk pipeline: a bounded channel of filled buffers, and a channel
/// the receiver returns empty buffers on. At most `max` buffers are ever allocated.
struct Chunks {
    tx: SyncSender<Vec<u8>>,
    free: Receiver<Vec<u8>>,
    allocated: usize,
    max: usize,
}

impl Chunks {
    fn new(tx: SyncSender<Vec<u8>>, free: Receiver<Vec<u8>>, max: usize) -> Chunks {
        Chunks {
            tx,
            free,
            allocated: 0,
            max,
        }
    }

    /// Returns a buffer of `CHUNK` bytes, or `None` when the receiving side is gone.
    fn take(&mut self) -> Option<Vec<u8>> {
        let mut buf = match self.free.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) if self.allocated < self.max => {
                self.allocated += 1;
                Vec::new()
            }
            Err(TryRecvError::Empty) => self.free.recv().ok()?,
        };
        buf.resize(CHUNK, 0);
        Some(buf)
    }

    /// Sends a filled buffer; returns false when the receiving side is gone.
    fn send(&self, buf: Vec<u8>) -> bool {
        self.tx.send(buf).is_ok()
    }
}

fn stopped() -> io::Error {
    io::Error::new(ErrorKind::BrokenPipe, "the compressing stage stopped")
}

/// Writes the tar stream into chunks and hashes it.
struct TarStream<'a> {
    chunks: Chunks,
    buf: Vec<u8>,
    filled: usize,
    hasher: Hasher,
    /// The blob folder, named when the pipeline fails.
    dir: &'a Path,
}

impl<'a> TarStream<'a> {
    fn new(chunks: Chunks, dir: &'a Path) -> TarStream<'a> {
        TarStream {
            chunks,
            buf: Vec::new(),
            filled: 0,
            hasher: Hasher::new(),
            dir,
        }
    }

    fn pipe_error(&self, source: io::Error) -> LayerError {
        LayerError::Write {
            dir: self.dir.into(),
            source,
        }
    }

    /// Makes room: sends the current buffer when it is full, and takes a new one.
    fn room(&mut self) -> io::Result<()> {
        if self.buf.is_empty() || self.filled == self.buf.len() {
            self.flush()?;
            self.buf = self.chunks.take().ok_or_else(stopped)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.filled > 0 {
            let mut buf = std::mem::take(&mut self.buf);
            buf.truncate(self.filled);
            self.filled = 0;
            self.hasher.update(&buf);
            if !self.chunks.send(buf) {
                return Err(stopped());
            }
        }
        Ok(())
    }

    fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            self.room()?;
            let n = data.len().min(self.buf.len() - self.filled);
            self.buf[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
        }
        Ok(())
    }

    /// Reads up to `max` bytes from `r` straight into the chunk; `Ok(0)` at end of input.
    /// The outer error is the pipeline's, the inner one the reader's.
    fn read_from(&mut self, r: &mut impl Read, max: u64) -> io::Result<io::Result<usize>> {
        self.room()?;
        let room = (self.buf.len() - self.filled).min(usize::try_from(max).unwrap_or(usize::MAX));
        loop {
            match r.read(&mut self.buf[self.filled..self.filled + room]) {
                Ok(n) => {
                    self.filled += n;
                    return Ok(Ok(n));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Ok(Err(e)),
            }
        }
    }

    /// Pads the data of an entry of `len` bytes to a whole block.
    fn pad(&mut self, len: u64) -> io::Result<()> {
        let rest = (len % BLOCK as u64) as usize;
        if rest > 0 {
            self.write(&[0; BLOCK][..BLOCK - rest])?;
        }
        Ok(())
    }

    /// Sends the last chunk and returns the tar's digest.
    fn finish(mut self) -> Result<Digest, LayerError> {
        if let Err(e) = self.flush() {
            return Err(self.pipe_error(e));
        }
        Ok(self.hasher.finish())
    }
}

/// Writes a GNU long-name (`L`) or long-link (`K`) record for `value`.
fn long_record(out: &mut TarStream<'_>, kind: u8, value: &[u8]) -> io::Result<()> {
    let mut h = Header::new_gnu();
    let name = b"././@LongLink";
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(value.len() as u64 + 1);
    h.set_entry_type(EntryType::new(kind));
    h.set_cksum();
    out.write(h.as_bytes())?;
    out.write(value)?;
    out.write(&[0])?;
    out.pad(value.len() as u64 + 1)
}

/// Writes an entry's header (and long-name records before it when needed).
fn write_header(
    out: &mut TarStream<'_>,
    item: &Item<'_>,
    kind: EntryType,
    size: u64,
    link: Option<&[u8]>,
) -> io::Result<()> {
    let mut name = item.name.as_bytes().to_vec();
    if kind == EntryType::Directory {
        name.push(b'/');
    }
    if name.len() >= NAME_FIELD {
        long_record(out, b'L', &name)?;
    }
    let mut h = Header::new_gnu();
    let field = &mut h.as_old_mut().name;
    let n = name.len().min(NAME_FIELD);
    field[..n].copy_from_slice(&name[..n]);
    if let Some(link) = link {
        if link.len() >= NAME_FIELD {
            long_record(out, b'K', link)?;
        }
        let field = &mut h.as_old_mut().linkname;
        let n = link.len().min(NAME_FIELD);
        field[..n].copy_from_slice(&link[..n]);
    }
    h.set_mode(item.mode);
    h.set_uid(item.uid);
    h.set_gid(item.gid);
    h.set_size(size);
    h.set_mtime(item.mtime);
    h.set_entry_type(kind);
    h.set_cksum();
    out.write(h.as_bytes())
}

/// How a source file's copy into the tar ended, when it did not end well.
#[derive(Debug)]
enum CopyFault {
    /// The pipeline stopped.
    Pipeline(io::Error),
    /// Reading failed.
    Read(io::Error),
    /// The file had this many bytes instead of the expected size (at least this many when
    /// it grew).
    Changed(u64),
}

/// Copies exactly `size` bytes of `file` into the tar, then checks the file has no more.
fn copy_exact(out: &mut TarStream<'_>, file: &mut impl Read, size: u64) -> Result<(), CopyFault> {
    let mut left = size;
    while left > 0 {
        let n = out
            .read_from(file, left)
            .map_err(CopyFault::Pipeline)?
            .map_err(CopyFault::Read)?;
        if n == 0 {
            return Err(CopyFault::Changed(size - left));
        }
        left -= n as u64;
    }
    let mut probe = [0u8; 1];
    loop {
        match file.read(&mut probe) {
            Ok(0) => return Ok(()),
            Ok(_) => return Err(CopyFault::Changed(size + 1)),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(CopyFault::Read(e)),
        }
    }
}

/// Writes all items and the end-of-archive blocks.
fn write_tar(items: &[Item<'_>], out: &mut TarStream<'_>) -> Result<(), LayerError> {
    let dir = out.dir;
    let pipe = |source| LayerError::Write {
        dir: dir.into(),
        source,
    };
    for item in items {
        match item.kind {
            Kind::Dir => write_header(out, item, EntryType::Directory, 0, None).map_err(pipe)?,
            Kind::Symlink(target) => {
                write_header(out, item, EntryType::Symlink, 0, Some(target.as_bytes()))
                    .map_err(pipe)?;
            }
            Kind::Bytes(bytes) => {
                let size = bytes.len() as u64;
                write_header(out, item, EntryType::Regular, size, None).map_err(pipe)?;
                out.write(bytes).map_err(pipe)?;
                out.pad(size).map_err(pipe)?;
            }
            Kind::File(path) => {
                let source = |source| LayerError::Source {
                    file: path.into(),
                    entry: item.name.clone(),
                    source,
                };
                let mut file = File::open(path).map_err(source)?;
                let meta = file.metadata().map_err(source)?;
                if !meta.is_file() {
                    return Err(source(io::Error::new(
                        ErrorKind::InvalidInput,
                        "it is not a regular file",
                    )));
                }
                let size = meta.len();
                write_header(out, item, EntryType::Regular, size, None).map_err(pipe)?;
                match copy_exact(out, &mut file, size) {
                    Ok(()) => {}
                    Err(CopyFault::Pipeline(e)) => return Err(pipe(e)),
                    Err(CopyFault::Read(e)) => return Err(source(e)),
                    Err(CopyFault::Changed(actual)) => {
                        let now = file.metadata().map(|m| m.len()).unwrap_or(actual);
                        return Err(LayerError::SourceChanged {
                            file: path.into(),
                            entry: item.name.clone(),
                            expected: size,
                            actual: if actual > size {
                                now.max(actual)
                            } else {
                                actual
                            },
                        });
                    }
                }
                out.pad(size).map_err(pipe)?;
            }
        }
    }
    out.write(&[0; 2 * BLOCK]).map_err(pipe)
}

/// The compressing stage for zstd: feeds the chunks to a multi-threaded zstd encoder that
/// writes into the blob.
fn zstd(
    rx: Receiver<Vec<u8>>,
    free: Sender<Vec<u8>>,
    level: i32,
    threads: usize,
    (blob, mut behind): (BlobWriter, SyncBehind),
    write_err: &dyn Fn(io::Error) -> LayerError,
) -> Result<BlobWriter, LayerError> {
    let mut enc = zstd::stream::write::Encoder::new(blob, level).map_err(write_err)?;
    enc.multithread(u32::try_from(threads).unwrap_or(u32::MAX))
        .map_err(write_err)?;
    for chunk in rx.iter() {
        enc.write_all(&chunk).map_err(write_err)?;
        let _ = free.send(chunk);
        behind.tick(enc.get_ref().written());
    }
    enc.finish().map_err(write_err)
}

/// Syncs the blob's temporary file in a background thread every [`SYNC_EVERY`] bytes, so the
/// disk writes overlap compression and the sync at commit has little left. Dropping it ends
/// the thread.
struct SyncBehind {
    tx: Option<SyncSender<()>>,
    next: u64,
}

impl SyncBehind {
    /// Starts the thread; without a second handle to the file, it does nothing.
    fn start<'scope>(s: &'scope Scope<'scope, '_>, blob: &BlobWriter) -> SyncBehind {
        let tx = blob.sync_handle().ok().map(|file| {
            let (tx, rx) = sync_channel::<()>(1);
            s.spawn(move || {
                for () in rx {
                    let _ = file.sync_data(); // best effort; commit syncs for real
                }
            });
            tx
        });
        SyncBehind {
            tx,
            next: SYNC_EVERY,
        }
    }

    /// Notes how much was written; asks for a sync (unless one is running) every
    /// [`SYNC_EVERY`] bytes.
    fn tick(&mut self, written: u64) {
        if written >= self.next {
            self.next = written + SYNC_EVERY;
            if let Some(tx) = &self.tx {
                let _ = tx.try_send(());
            }
        }
    }
}

/// One chunk deflated by a gzip worker.
struct Deflated {
    seq: u64,
    input: Vec<u8>,
    output: Vec<u8>,
    crc: Crc,
}

/// The compressing stage for gzip: `threads` workers deflate chunks independently (each
/// ending in a sync flush, so the pieces concatenate into one deflate stream); this thread
/// writes them in order and adds the gzip header and trailer.
fn gzip<'scope>(
    s: &'scope Scope<'scope, '_>,
    rx: Receiver<Vec<u8>>,
    free: Sender<Vec<u8>>,
    level: u32,
    threads: usize,
    (mut blob, mut behind): (BlobWriter, SyncBehind),
    write_err: &dyn Fn(io::Error) -> LayerError,
) -> Result<BlobWriter, LayerError> {
    let jobs = Arc::new(Mutex::new((rx, 0u64)));
    let (out_free_tx, out_free_rx) = channel::<Vec<u8>>();
    let out_free = Arc::new(Mutex::new(out_free_rx));
    let (done_tx, done_rx) = channel::<io::Result<Deflated>>();
    let mut workers = Vec::with_capacity(threads);
    for _ in 0..threads {
        let jobs = Arc::clone(&jobs);
        let out_free = Arc::clone(&out_free);
        let done = done_tx.clone();
        workers.push(s.spawn(move || deflate_worker(&jobs, &out_free, &done, level)));
    }
    drop((jobs, out_free, done_tx));

    blob.write_all(&GZIP_HEADER).map_err(write_err)?;
    let mut crc = Crc::new();
    let mut next = 0u64;
    let mut pending = BTreeMap::new();
    for done in done_rx.iter() {
        let done = done.map_err(write_err)?;
        pending.insert(done.seq, done);
        while let Some(d) = pending.remove(&next) {
            blob.write_all(&d.output).map_err(write_err)?;
            behind.tick(blob.written());
            crc.combine(&d.crc);
            next += 1;
            let _ = free.send(d.input);
            let _ = out_free_tx.send(d.output);
        }
    }
    for w in workers {
        w.join()
            .map_err(|_| LayerError::Panicked { stage: "gzip" })?;
    }
    if !pending.is_empty() {
        return Err(write_err(io::Error::other(
            "a gzip worker stopped before compressing its chunk",
        )));
    }
    blob.write_all(&DEFLATE_END).map_err(write_err)?;
    blob.write_all(&crc.sum().to_le_bytes())
        .map_err(write_err)?;
    blob.write_all(&crc.amount().to_le_bytes())
        .map_err(write_err)?;
    Ok(blob)
}

type Jobs = Mutex<(Receiver<Vec<u8>>, u64)>;

/// The unit in which gzip chunks are classified as compressible or not.
const SEGMENT: usize = 64 << 10;

fn deflate_worker(
    jobs: &Jobs,
    out_free: &Mutex<Receiver<Vec<u8>>>,
    done: &Sender<io::Result<Deflated>>,
    level: u32,
) {
    let mut c = Compress::new(flate2::Compression::new(level), false);
    let mut stored = Compress::new(flate2::Compression::new(0), false);
    loop {
        let (seq, input) = {
            let mut guard = jobs.lock().unwrap_or_else(PoisonError::into_inner);
            let Ok(input) = guard.0.recv() else { return };
            guard.1 += 1;
            (guard.1 - 1, input)
        };
        let mut output = out_free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_recv()
            .unwrap_or_default();
        let result = deflate_chunk(&mut c, &mut stored, &input, &mut output).map(|()| {
            let mut crc = Crc::new();
            crc.update(&input);
            Deflated {
                seq,
                input,
                output,
                crc,
            }
        });
        let failed = result.is_err();
        if done.send(result).is_err() || failed {
            return;
        }
    }
}

/// Deflates one chunk as raw deflate blocks ending in a sync flush (byte-aligned, not final).
///
/// Segments that look incompressible (already compressed files, random bytes: a byte
/// histogram near 8 bits of entropy) are written as stored blocks: deflating them costs the
/// most CPU for nothing. The choice depends only on the bytes, so the blob stays the same
/// for any thread count.
fn deflate_chunk(
    c: &mut Compress,
    stored: &mut Compress,
    input: &[u8],
    out: &mut Vec<u8>,
) -> io::Result<()> {
    out.clear();
    out.reserve(input.len() + input.len() / 8 + 1024);
    c.reset();
    // Runs of segments of the same kind are deflated in one call each; after a stored run
    // the compressor starts afresh, since its history no longer ends where the output does.
    let segments: Vec<(usize, bool)> = (0..input.len())
        .step_by(SEGMENT)
        .map(|at| {
            let seg = &input[at..(at + SEGMENT).min(input.len())];
            (at, looks_incompressible(seg))
        })
        .collect();
    let mut i = 0;
    while i < segments.len() {
        let (start, raw) = segments[i];
        let mut j = i + 1;
        while j < segments.len() && segments[j].1 == raw {
            j += 1;
        }
        let end = segments.get(j).map_or(input.len(), |s| s.0);
        if raw {
            stored.reset();
            deflate_into(stored, &input[start..end], out)?;
        } else {
            if i > 0 {
                c.reset();
            }
            deflate_into(c, &input[start..end], out)?;
        }
        i = j;
    }
    Ok(())
}

/// Deflates `input` onto `out`, ending with a sync flush.
fn deflate_into(c: &mut Compress, input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let mut consumed = 0usize;
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity() / 2 + 1024);
        }
        let before = c.total_in();
        c.compress_vec(&input[consumed..], out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        consumed += usize::try_from(c.total_in() - before).expect("fits: bounded by input");
        // Output space left over means the flush is complete.
        if consumed == input.len() && out.len() < out.capacity() {
            return Ok(());
        }
    }
}

/// Tells whether a segment is close to random: the entropy of a strided sample of its
/// bytes is above 7.5 bits per byte (text is about 4.5-6, compressed data about 7.95).
fn looks_incompressible(seg: &[u8]) -> bool {
    if seg.len() < 4096 {
        return false;
    }
    let step = seg.len() / 4096;
    let mut hist = [0u32; 256];
    let mut n = 0u32;
    for b in seg.iter().step_by(step) {
        hist[usize::from(*b)] += 1;
        n += 1;
    }
    let n = f64::from(n);
    let entropy: f64 = hist
        .iter()
        .filter(|&&k| k > 0)
        .map(|&k| {
            let p = f64::from(k) / n;
            -p * p.log2()
        })
        .sum();
    entropy > 7.5
}

// ------------------------------------------------------------------------------------------
// Extracting
// ------------------------------------------------------------------------------------------

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Plain,
    Gzip,
    Zstd,
}

fn codec_of(media_type: &str) -> Option<Codec> {
    match media::essence(media_type).as_str() {
        media::OCI_LAYER_TAR
        | "application/vnd.docker.image.rootfs.diff.tar"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar" => Some(Codec::Plain),
        media::OCI_LAYER_GZIP
        | media::DOCKER_LAYER_GZIP
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Some(Codec::Gzip),
        media::OCI_LAYER_ZSTD | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => {
            Some(Codec::Zstd)
        }
        _ => None,
    }
}

/// Extracts layers, in order, into `dest` (created when missing), as a container runtime
/// would stack them.
///
/// Each blob is decompressed by its media type (OCI or Docker tar, tar+gzip, tar+zstd) and
/// hashed while it is read; a blob whose content does not match its digest fails the
/// extraction (after its entries were written, so extract into a scratch folder and keep it
/// only on success). Regular files, folders, symlinks and hard links are created; device
/// nodes and FIFOs are skipped. `.wh.NAME` deletes `NAME` of earlier layers and
/// `.wh..wh..opq` empties its folder of earlier layers' content. Permission bits and
/// modification times are set (folders' at the end); ownership is set when the process may
/// (as root), and silently left to the extracting user otherwise.
///
/// Safety: entry paths are normalized; one whose `..` leaves `dest` is refused, and so is one
/// whose way passes a symlink with an absolute target or a relative one leading out of
/// `dest` (a relative symlink staying inside `dest` is followed). An existing symlink at an
/// entry's own path is replaced, never written through.
///
/// # Errors
/// [`LayerError::UnsupportedMediaType`] before anything is written;
/// [`LayerError::Layout`] for a missing blob; [`LayerError::DigestMismatch`] or
/// [`LayerError::Corrupt`] naming the blob; [`LayerError::UnsafeEntry`] or
/// [`LayerError::Extract`] naming the blob and the entry; [`LayerError::Io`] for `dest`.
pub fn extract_layers(
    layout: &Layout,
    layers: &[Descriptor],
    dest: &Path,
) -> Result<(), LayerError> {
    let codecs = layers
        .iter()
        .map(|d| {
            codec_of(&d.media_type).ok_or_else(|| LayerError::UnsupportedMediaType {
                digest: d.digest.clone(),
                media_type: d.media_type.clone(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    fs::create_dir_all(dest).map_err(|source| LayerError::Io {
        path: dest.into(),
        source,
    })?;
    let mut x = Extractor::new(dest);
    for (desc, codec) in layers.iter().zip(codecs) {
        x.layer(layout, desc, codec)?;
    }
    x.finish()
}

/// What kind of archive a file is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// A tar, plain or compressed with gzip or zstd: [`extract_archive`] unpacks it.
    Tar,
    /// A bzip2 or xz stream, which slipway cannot decompress.
    Other(&'static str),
}

/// Tells whether a file is an archive an `ADD` unpacks, as BuildKit decides: a tar, or a
/// gzip or zstd stream that holds one. bzip2 and xz streams are reported as such. Anything
/// else (including a gzip of something that is not a tar) is an ordinary file.
///
/// # Errors
/// The I/O error of reading the file.
pub fn sniff_archive(path: &Path) -> io::Result<Option<ArchiveKind>> {
    let mut head = Vec::with_capacity(BLOCK);
    File::open(path)?
        .take(BLOCK as u64)
        .read_to_end(&mut head)?;
    let first_block = |r: &mut dyn Read| {
        let mut b = Vec::with_capacity(BLOCK);
        r.take(BLOCK as u64).read_to_end(&mut b).map(|_| b)
    };
    let decoded = if head.starts_with(&[0x1f, 0x8b]) {
        let f = BufReader::new(File::open(path)?);
        first_block(&mut flate2::bufread::MultiGzDecoder::new(f)).unwrap_or_default()
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        match zstd::stream::read::Decoder::new(File::open(path)?) {
            Ok(mut d) => first_block(&mut d).unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    } else if head.starts_with(b"BZh") {
        return Ok(Some(ArchiveKind::Other("bzip2")));
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Ok(Some(ArchiveKind::Other("xz")));
    } else {
        head
    };
    Ok(is_tar_header(&decoded).then_some(ArchiveKind::Tar))
}

/// Tells whether a block is a tar header: the `ustar` magic, or a valid checksum.
fn is_tar_header(b: &[u8]) -> bool {
    if b.len() < BLOCK || b.iter().all(|&x| x == 0) {
        return false;
    }
    if &b[257..262] == b"ustar" {
        return true;
    }
    let field = String::from_utf8_lossy(&b[148..156]);
    let Ok(stored) = u32::from_str_radix(field.trim_matches(|c: char| c == ' ' || c == '\0'), 8)
    else {
        return false;
    };
    let sum: u32 = b[..BLOCK]
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(x)
            }
        })
        .sum();
    sum == stored
}

/// Unpacks a tar (plain, gzip or zstd) into `dest` (created when missing), as an `ADD` of a
/// local archive does, with [`extract_layers`]'s rules and safety checks. The content must
/// have `expected` as its digest: the one the stage was planned with.
///
/// # Errors
/// As [`extract_layers`], naming the archive; [`LayerError::Corrupt`] when it is not a
/// tar, plain or compressed with gzip or zstd.
pub fn extract_archive(archive: &Path, expected: &Digest, dest: &Path) -> Result<(), LayerError> {
    let io_err = |source| LayerError::Io {
        path: archive.into(),
        source,
    };
    let mut magic = [0u8; 4];
    let file = File::open(archive).map_err(io_err)?;
    let n = (&file).read(&mut magic).map_err(io_err)?;
    let codec = match &magic[..n] {
        [0x1f, 0x8b, ..] => Codec::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Codec::Zstd,
        _ => Codec::Plain,
    };
    let file = File::open(archive).map_err(io_err)?;
    fs::create_dir_all(dest).map_err(|source| LayerError::Io {
        path: dest.into(),
        source,
    })?;
    let mut x = Extractor::new(dest);
    x.apply_file(file, archive, expected, codec)?;
    x.finish()
}

/// The most bytes [`read_stacked_files`] returns: it reads account files, not payloads.
const STACKED_FILE_MAX: u64 = 16 << 20;

/// What a stack of layers says about one path; see [`read_stacked_files`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stacked {
    /// A layer holds the file: its bytes.
    Found(Vec<u8>),
    /// A layer deletes it (`.wh.NAME` for it or a parent folder) or hides its folder's lower
    /// content (`.wh..wh..opq`): lower layers do not matter.
    Hidden,
    /// No layer of the stack holds or hides it: lower layers decide.
    Unknown,
}

impl Stacked {
    /// Puts this (upper) result over the one of the layers below.
    pub fn over(self, lower: Stacked) -> Stacked {
        match self {
            Stacked::Unknown => lower,
            decided => decided,
        }
    }

    /// The file's bytes, when a layer holds it.
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Stacked::Found(b) => Some(b),
            _ => None,
        }
    }
}

/// Reads files as an image's layers stack them, in one pass and without extracting
/// anything, such as the `/etc/passwd` and `/etc/group` a `COPY --chown=NAME` looks its
/// user up in. Layers are read from the top and each path is decided by the first layer
/// that holds, deletes or hides it; reading stops once every path is decided.
///
/// The blobs are not verified here (a layout verifies blobs as it stores them).
///
/// # Errors
/// [`LayerError::UnsupportedMediaType`]; [`LayerError::Layout`] for a missing blob;
/// [`LayerError::Corrupt`] for a blob that is not a layer archive, and also when a path is
/// a link, a folder or larger than 16 MiB, naming the blob and why.
pub fn read_stacked_files(
    layout: &Layout,
    layers: &[Descriptor],
    paths: &[&str],
) -> Result<Vec<Stacked>, LayerError> {
    let targets: Vec<Vec<OsString>> = paths
        .iter()
        .map(|p| clean(Path::new(p)).unwrap_or_default())
        .collect();
    let mut out = vec![Stacked::Unknown; paths.len()];
    for desc in layers.iter().rev() {
        if out.iter().all(|o| *o != Stacked::Unknown) {
            break;
        }
        let codec = codec_of(&desc.media_type).ok_or_else(|| LayerError::UnsupportedMediaType {
            digest: desc.digest.clone(),
            media_type: desc.media_type.clone(),
        })?;
        let blob = layout.blob_path(&desc.digest);
        let corrupt = |source: io::Error| LayerError::Corrupt {
            blob: blob.clone(),
            source,
        };
        let raw = BufReader::with_capacity(256 * 1024, layout.open_blob(&desc.digest)?);
        let tar: Box<dyn Read> = match codec {
            Codec::Plain => Box::new(raw),
            Codec::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
            Codec::Zstd => {
                Box::new(zstd::stream::read::Decoder::with_buffer(raw).map_err(corrupt)?)
            }
        };
        let mut archive = tar::Archive::new(tar);
        // What this layer says of each path still undecided.
        let mut here = vec![Stacked::Unknown; paths.len()];
        for entry in archive.entries().map_err(corrupt)? {
            let mut entry = entry.map_err(corrupt)?;
            let Some(parts) = clean(&entry.path().map_err(corrupt)?) else {
                continue;
            };
            for (i, target) in targets.iter().enumerate() {
                if out[i] != Stacked::Unknown || matches!(here[i], Stacked::Found(_)) {
                    continue;
                }
                if parts == *target {
                    let kind = entry.header().entry_type();
                    let size = entry.header().size().map_err(corrupt)?;
                    let why = if !matches!(kind, EntryType::Regular | EntryType::Continuous) {
                        Some(format!("{} is not a regular file in this layer", paths[i]))
                    } else if size > STACKED_FILE_MAX {
                        Some(format!(
                            "{} is larger than {STACKED_FILE_MAX} bytes",
                            paths[i]
                        ))
                    } else {
                        None
                    };
                    if let Some(why) = why {
                        return Err(corrupt(io::Error::new(ErrorKind::InvalidData, why)));
                    }
                    let mut bytes = Vec::with_capacity(size as usize);
                    entry.read_to_end(&mut bytes).map_err(corrupt)?;
                    here[i] = Stacked::Found(bytes);
                    continue;
                }
                let Some((name, dir)) = parts.split_last() else {
                    continue;
                };
                let Some(name) = name.to_str().and_then(|n| n.strip_prefix(".wh.")) else {
                    continue;
                };
                let hides = if name == ".wh..opq" {
                    target.starts_with(dir) && target.len() > dir.len()
                } else {
                    let mut gone = dir.to_vec();
                    gone.push(name.into());
                    target.starts_with(&gone)
                };
                if hides {
                    // The layer's own copy, if it has one, still wins.
                    here[i] = Stacked::Hidden;
                }
            }
        }
        for (o, h) in out.iter_mut().zip(here) {
            if *o == Stacked::Unknown {
                *o = h;
            }
        }
    }
    Ok(out)
}

/// Hashes what is read through it.
struct HashRead<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> Read for HashRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Why pumping decompressed data stopped early.
enum PumpFault {
    /// The extracting side is gone.
    Stopped,
    /// Reading or decompressing failed.
    Read(io::Error),
}

/// Reads `r` to its end in chunks and sends them.
fn pump(r: &mut dyn Read, out: &mut Chunks) -> Result<(), PumpFault> {
    loop {
        let mut buf = out.take().ok_or(PumpFault::Stopped)?;
        let mut filled = 0;
        let mut end = false;
        while filled < buf.len() {
            match r.read(&mut buf[filled..]) {
                Ok(0) => {
                    end = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(PumpFault::Read(e)),
            }
        }
        buf.truncate(filled);
        if filled > 0 && !out.send(buf) {
            return Err(PumpFault::Stopped);
        }
        if end {
            return Ok(());
        }
    }
}

/// The reading stage of extraction: reads and hashes the blob, decompresses it and sends
/// the tar in chunks. Returns `Ok` also when the extracting side stopped first, unless the
/// blob does not match its digest.
fn decode(
    file: File,
    codec: Codec,
    expected: &Digest,
    blob: &Path,
    mut out: Chunks,
) -> Result<(), LayerError> {
    let mut raw = BufReader::with_capacity(
        256 * 1024,
        HashRead {
            inner: file,
            hasher: Hasher::new(),
        },
    );
    let pumped = match codec {
        Codec::Plain => pump(&mut raw, &mut out),
        Codec::Gzip => pump(
            &mut flate2::bufread::MultiGzDecoder::new(&mut raw),
            &mut out,
        ),
        Codec::Zstd => match zstd::stream::read::Decoder::with_buffer(&mut raw) {
            Ok(mut d) => pump(&mut d, &mut out),
            Err(e) => Err(PumpFault::Read(e)),
        },
    };
    let (fault, stopped) = match pumped {
        Ok(()) => (None, false),
        Err(PumpFault::Stopped) => (None, true),
        Err(PumpFault::Read(e)) => (Some(e), false),
    };
    drop(out); // the extracting side sees the end while the rest is hashed
    // Hash whatever the decompressor left unread, so the digest covers the whole blob; also
    // when the extracting side stopped, since a damaged blob explains its failure best.
    let drained = io::copy(&mut raw, &mut io::sink());
    let actual = raw.into_inner().hasher.finish();
    if actual != *expected {
        return Err(LayerError::DigestMismatch {
            blob: blob.into(),
            expected: expected.clone(),
            actual,
        });
    }
    if stopped {
        return Ok(()); // the extracting side's own error stands
    }
    match (fault, drained) {
        (Some(source), _) | (None, Err(source)) => Err(LayerError::Corrupt {
            blob: blob.into(),
            source,
        }),
        (None, Ok(_)) => Ok(()),
    }
}

/// The receiving end of the decompressed chunks, as a reader.
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    free: Sender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    /// Reads and drops the rest, so the reading stage can finish and verify the digest.
    fn drain(&mut self) {
        for buf in self.rx.iter() {
            let _ = self.free.send(buf);
        }
        self.pos = self.cur.len();
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(next) => {
                    let old = std::mem::replace(&mut self.cur, next);
                    self.pos = 0;
                    if old.capacity() > 0 {
                        let _ = self.free.send(old);
                    }
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Why an entry could not be applied, before the blob and entry are added.
enum Fail {
    Unsafe(String),
    Io(PathBuf, io::Error),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> Fail + '_ {
    move |e| Fail::Io(path.into(), e)
}

/// Normalizes a tar entry path to its components below the root; `None` when `..` leaves it.
fn clean(path: &Path) -> Option<Vec<OsString>> {
    let mut parts: Vec<OsString> = Vec::new();
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(p) => parts.push(p.to_owned()),
        }
    }
    Some(parts)
}

/// Applies layers to a folder and remembers what must be finished at the end.
struct Extractor {
    root: PathBuf,
    /// Paths (relative to the root) known to be real folders reached through real folders.
    dirs: HashSet<PathBuf>,
    /// Paths the current layer holds, which its own whiteouts do not delete.
    created: HashSet<PathBuf>,
    /// Folders' permission bits and mtimes, set once every layer is applied.
    dir_meta: HashMap<PathBuf, (u32, u64)>,
    buf: Vec<u8>,
}

impl Extractor {
    fn new(root: &Path) -> Extractor {
        Extractor {
            root: root.into(),
            dirs: HashSet::new(),
            created: HashSet::new(),
            dir_meta: HashMap::new(),
            buf: Vec::new(),
        }
    }

    fn layer(
        &mut self,
        layout: &Layout,
        desc: &Descriptor,
        codec: Codec,
    ) -> Result<(), LayerError> {
        let blob = layout.blob_path(&desc.digest);
        let file = layout.open_blob(&desc.digest)?;
        self.apply_file(file, &blob, &desc.digest, codec)
    }

    /// Applies one (compressed) tar read from `file`, whose content must have `digest`;
    /// `blob` names it in errors.
    fn apply_file(
        &mut self,
        file: File,
        blob: &Path,
        digest: &Digest,
        codec: Codec,
    ) -> Result<(), LayerError> {
        let blob = blob.to_path_buf();
        self.created.clear();
        thread::scope(|s| {
            let (tx, rx) = sync_channel::<Vec<u8>>(2);
            let (free_tx, free_rx) = channel::<Vec<u8>>();
            let chunks = Chunks::new(tx, free_rx, 4);
            let blob_ref = &blob;
            let reader = s.spawn(move || decode(file, codec, digest, blob_ref, chunks));
            let mut input = ChannelReader {
                rx,
                free: free_tx,
                cur: Vec::new(),
                pos: 0,
            };
            let applied = self.apply(&mut input, &blob);
            if applied.is_ok() {
                input.drain();
            }
            drop(input);
            let decoded = reader.join().map_err(|_| LayerError::Panicked {
                stage: "decompressing",
            })?;
            // A damaged blob explains whatever went wrong while reading it.
            decoded?;
            applied
        })
    }

    fn apply(&mut self, input: &mut ChannelReader, blob: &Path) -> Result<(), LayerError> {
        let corrupt = |source| LayerError::Corrupt {
            blob: blob.into(),
            source,
        };
        let mut archive = tar::Archive::new(input);
        for entry in archive.entries().map_err(corrupt)? {
            let mut entry = entry.map_err(corrupt)?;
            let path = entry.path().map_err(corrupt)?.into_owned();
            let name = path.display().to_string();
            let result = self.entry(&mut entry, &path).map_err(|f| match f {
                EntryFault::Fail(Fail::Unsafe(why)) => LayerError::UnsafeEntry {
                    blob: blob.into(),
                    entry: name.clone(),
                    why,
                },
                EntryFault::Fail(Fail::Io(path, source)) => LayerError::Extract {
                    blob: blob.into(),
                    entry: name.clone(),
                    path,
                    source,
                },
                EntryFault::Corrupt(source) => corrupt(source),
            });
            result?;
        }
        Ok(())
    }

    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &Path,
    ) -> Result<(), EntryFault> {
        let Some(rel) = clean(path) else {
            return Err(Fail::Unsafe("its path leaves the destination through `..`".into()).into());
        };
        let Some((last, parents)) = rel.split_last() else {
            return Ok(()); // the root itself
        };
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().map_err(EntryFault::Corrupt)? & 0o7777;
        let mtime = header.mtime().unwrap_or(0);
        // Ownership is applied when the process may (as root); otherwise files belong to
        // whoever extracts them. `COPY --from` reads it back from the extracted tree.
        let owner = (
            u32::try_from(header.uid().unwrap_or(0)).ok(),
            u32::try_from(header.gid().unwrap_or(0)).ok(),
        );
        let chown = |abs: &Path| {
            let _ = std::os::unix::fs::lchown(abs, owner.0, owner.1);
        };

        if let Some(rest) = last.as_bytes().strip_prefix(b".wh.") {
            let Some(dir) = self.resolve(parents, false)? else {
                return Ok(()); // nothing there to delete
            };
            if rest == b".wh..opq" {
                self.opaque(&dir)?;
            } else if !rest.starts_with(b".wh.") {
                if rest.is_empty() || rest == b"." || rest == b".." {
                    return Err(Fail::Unsafe("it is a whiteout without a name".into()).into());
                }
                let target = dir.join(OsStr::from_bytes(rest));
                if !self.created.contains(&target) {
                    self.remove(&target)?;
                }
            }
            return Ok(());
        }

        match kind {
            EntryType::Directory => {
                let rel = self.target(parents, last)?;
                let abs = self.root.join(&rel);
                match fs::symlink_metadata(&abs) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        self.remove(&rel)?;
                        fs::create_dir(&abs).map_err(io_at(&abs))?;
                    }
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        fs::create_dir(&abs).map_err(io_at(&abs))?;
                    }
                    Err(e) => return Err(Fail::Io(abs, e).into()),
                }
                chown(&abs);
                self.dirs.insert(rel.clone());
                self.dir_meta.insert(rel.clone(), (mode, mtime));
                self.created.insert(rel);
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let rel = self.target(parents, last)?;
                self.remove(&rel)?;
                let abs = self.root.join(&rel);
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&abs)
                    .map_err(io_at(&abs))?;
                copy_entry(entry, &mut file, &mut self.buf, &abs)?;
                chown(&abs);
                file.set_permissions(fs::Permissions::from_mode(mode))
                    .map_err(io_at(&abs))?;
                file.set_modified(time_of(mtime)).map_err(io_at(&abs))?;
                self.created.insert(rel);
            }
            EntryType::Symlink => {
                let target = link_target(entry, "a symlink without a target")?;
                let rel = self.target(parents, last)?;
                self.remove(&rel)?;
                let abs = self.root.join(&rel);
                std::os::unix::fs::symlink(&target, &abs).map_err(io_at(&abs))?;
                chown(&abs);
                self.created.insert(rel);
            }
            EntryType::Link => {
                let target = link_target(entry, "a hard link without a target")?;
                let from = self.link_source(&target)?;
                let rel = self.target(parents, last)?;
                if rel == from {
                    return Ok(());
                }
                self.remove(&rel)?;
                let abs = self.root.join(&rel);
                fs::hard_link(self.root.join(&from), &abs).map_err(io_at(&abs))?;
                self.created.insert(rel);
            }
            // Device nodes, FIFOs, global PAX headers and unknown types are skipped.
            _ => {}
        }
        Ok(())
    }

    /// Returns where an entry goes (relative to the root), creating its parent folders.
    fn target(&mut self, parents: &[OsString], last: &OsStr) -> Result<PathBuf, Fail> {
        let dir = self
            .resolve(parents, true)?
            .expect("resolve creates missing folders");
        Ok(dir.join(last))
    }

    /// Returns the existing file a hard link's target names, relative to the root.
    fn link_source(&mut self, target: &Path) -> Result<PathBuf, Fail> {
        let Some(parts) = clean(target) else {
            return Err(Fail::Unsafe(format!(
                "its hard-link target `{}` leaves the destination",
                target.display()
            )));
        };
        let Some((last, parents)) = parts.split_last() else {
            return Err(Fail::Unsafe("it is a hard link to the root".into()));
        };
        let missing_path = self.root.join(target);
        let missing = || {
            Fail::Io(
                missing_path.clone(),
                io::Error::new(ErrorKind::NotFound, "the hard link's target does not exist"),
            )
        };
        let Some(dir) = self.resolve(parents, false)? else {
            return Err(missing());
        };
        let rel = dir.join(last);
        let abs = self.root.join(&rel);
        match fs::symlink_metadata(&abs) {
            Ok(m) if m.is_dir() => Err(Fail::Io(
                abs,
                io::Error::new(ErrorKind::IsADirectory, "a hard link cannot name a folder"),
            )),
            Ok(_) => Ok(rel),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(missing()),
            Err(e) => Err(Fail::Io(abs, e)),
        }
    }

    /// Resolves a folder path below the root to the real folder it names (relative to the
    /// root), following relative symlinks that stay inside the root. Missing folders are
    /// created when `create`, else the answer is `None`.
    fn resolve(&mut self, parts: &[OsString], create: bool) -> Result<Option<PathBuf>, Fail> {
        let lexical: PathBuf = parts.iter().collect();
        if parts.is_empty() || self.dirs.contains(&lexical) {
            return Ok(Some(lexical));
        }
        let mut cur = PathBuf::new();
        let mut queue: VecDeque<OsString> = parts.iter().cloned().collect();
        let mut hops = 0;
        while let Some(part) = queue.pop_front() {
            if part.is_empty() || part == "." {
                continue;
            }
            if part == ".." {
                if !cur.pop() {
                    return Err(Fail::Unsafe(
                        "a symlink on its way leads out of the destination".into(),
                    ));
                }
                continue;
            }
            let next = cur.join(&part);
            if self.dirs.contains(&next) {
                cur = next;
                continue;
            }
            let abs = self.root.join(&next);
            match fs::symlink_metadata(&abs) {
                Ok(m) if m.is_dir() => {}
                Ok(m) if m.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_SYMLINKS {
                        return Err(Fail::Unsafe(format!(
                            "more than {MAX_SYMLINKS} symlinks on its way"
                        )));
                    }
                    let target = fs::read_link(&abs).map_err(io_at(&abs))?;
                    if target.has_root() {
                        return Err(Fail::Unsafe(format!(
                            "`{}` on its way is a symlink to {}, outside the destination",
                            next.display(),
                            target.display()
                        )));
                    }
                    for c in target.components().rev() {
                        queue.push_front(c.as_os_str().to_owned());
                    }
                    continue;
                }
                Ok(_) => {
                    return Err(Fail::Io(
                        abs,
                        io::Error::new(ErrorKind::NotADirectory, "it is not a folder"),
                    ));
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    if !create {
                        return Ok(None);
                    }
                    fs::create_dir(&abs).map_err(io_at(&abs))?;
                }
                Err(e) => return Err(Fail::Io(abs, e)),
            }
            self.dirs.insert(next.clone());
            cur = next;
        }
        Ok(Some(cur))
    }

    /// Removes whatever is at `rel` (a folder with its content); nothing there is fine.
    fn remove(&mut self, rel: &Path) -> Result<(), Fail> {
        let abs = self.root.join(rel);
        match fs::symlink_metadata(&abs) {
            Ok(m) if m.is_dir() => {
                fs::remove_dir_all(&abs).map_err(io_at(&abs))?;
                self.dirs.retain(|p| !p.starts_with(rel));
                self.dir_meta.retain(|p, _| !p.starts_with(rel));
                Ok(())
            }
            Ok(_) => fs::remove_file(&abs).map_err(io_at(&abs)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Fail::Io(abs, e)),
        }
    }

    /// Applies an opaque whiteout: removes everything below `dir` that the current layer does
    /// not hold.
    fn opaque(&mut self, dir: &Path) -> Result<(), Fail> {
        let mut keep: HashSet<PathBuf> = HashSet::new();
        for p in self.created.iter().filter(|p| p.starts_with(dir)) {
            for a in p.ancestors() {
                if a == dir || !keep.insert(a.to_path_buf()) {
                    break;
                }
            }
        }
        self.clear_except(dir, &keep)?;
        self.dirs
            .retain(|p| !(p.starts_with(dir) && p != dir && !keep.contains(p)));
        self.dir_meta
            .retain(|p, _| !(p.starts_with(dir) && p != dir && !keep.contains(p)));
        Ok(())
    }

    fn clear_except(&self, dir: &Path, keep: &HashSet<PathBuf>) -> Result<(), Fail> {
        let abs = self.root.join(dir);
        for child in fs::read_dir(&abs).map_err(io_at(&abs))? {
            let child = child.map_err(io_at(&abs))?;
            let rel = dir.join(child.file_name());
            let is_dir = child.file_type().map_err(io_at(&abs))?.is_dir();
            if keep.contains(&rel) {
                if is_dir {
                    self.clear_except(&rel, keep)?;
                }
            } else if is_dir {
                fs::remove_dir_all(child.path()).map_err(io_at(&child.path()))?;
            } else {
                fs::remove_file(child.path()).map_err(io_at(&child.path()))?;
            }
        }
        Ok(())
    }

    /// Sets folders' mtimes and permission bits, deepest first.
    fn finish(self) -> Result<(), LayerError> {
        let mut dirs: Vec<(PathBuf, (u32, u64))> = self.dir_meta.into_iter().collect();
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (rel, (mode, mtime)) in dirs {
            let abs = self.root.join(&rel);
            if !fs::symlink_metadata(&abs).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            if let Ok(d) = File::open(&abs) {
                let _ = d.set_modified(time_of(mtime)); // best effort
            }
            fs::set_permissions(&abs, fs::Permissions::from_mode(mode)).map_err(|source| {
                LayerError::Io {
                    path: abs.clone(),
                    source,
                }
            })?;
        }
        Ok(())
    }
}

/// Returns a link entry's target; an entry without one is corrupt (`missing` says which).
fn link_target<R: Read>(entry: &tar::Entry<'_, R>, missing: &str) -> Result<PathBuf, EntryFault> {
    entry
        .link_name()
        .map_err(EntryFault::Corrupt)?
        .map(|t| t.into_owned())
        .ok_or_else(|| EntryFault::Corrupt(io::Error::new(ErrorKind::InvalidData, missing)))
}

/// Why an entry failed: a problem of the destination, or of the archive.
enum EntryFault {
    Fail(Fail),
    Corrupt(io::Error),
}

impl From<Fail> for EntryFault {
    fn from(f: Fail) -> Self {
        EntryFault::Fail(f)
    }
}

fn time_of(mtime: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(mtime)
}

/// Copies an entry's data into a file with a large buffer.
fn copy_entry(
    entry: &mut impl Read,
    file: &mut File,
    buf: &mut Vec<u8>,
    path: &Path,
) -> Result<(), EntryFault> {
    if buf.is_empty() {
        buf.resize(256 * 1024, 0);
    }
    loop {
        let n = match entry.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(EntryFault::Corrupt(e)),
        };
        file.write_all(&buf[..n])
            .map_err(|e| EntryFault::Fail(Fail::Io(path.into(), e)))?;
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn layout() -> (tempfile::TempDir, Layout) {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(&dir.path().join("layout")).unwrap();
        (dir, l)
    }

    fn entry(path: &str, content: Content, mode: u32) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            content,
            mode,
            uid: 0,
            gid: 0,
            mtime: 1_700_000_000,
        }
    }

    fn opts(compression: Compression) -> LayerOptions {
        LayerOptions {
            compression,
            ..LayerOptions::default()
        }
    }

    /// Decompresses a stored layer blob with the plain decoders, independently of
    /// extraction.
    fn tar_of(l: &Layout, built: &BuiltLayer) -> Vec<u8> {
        let blob = fs::read(l.blob_path(&built.digest)).unwrap();
        let mut tar = Vec::new();
        match built.media_type.as_str() {
            media::OCI_LAYER_GZIP => {
                flate2::read::GzDecoder::new(&blob[..])
                    .read_to_end(&mut tar)
                    .unwrap();
            }
            media::OCI_LAYER_ZSTD => tar = zstd::decode_all(&blob[..]).unwrap(),
            other => panic!("{other}"),
        }
        tar
    }

    /// Lists (name, type, mode, uid, gid, mtime, link, data) of a tar.
    #[allow(clippy::type_complexity)]
    fn list(tar: &[u8]) -> Vec<(String, u8, u32, u64, u64, u64, String, Vec<u8>)> {
        let mut a = tar::Archive::new(tar);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
                let h = e.header().clone();
                let link = e
                    .link_name_bytes()
                    .map(|b| String::from_utf8(b.into_owned()).unwrap())
                    .unwrap_or_default();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                assert!(h.username_bytes().unwrap_or_default().is_empty());
                assert!(h.groupname_bytes().unwrap_or_default().is_empty());
                (
                    name,
                    h.entry_type().as_byte(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    h.mtime().unwrap(),
                    link,
                    data,
                )
            })
            .collect()
    }

    /// A plain, uncompressed tar, built header by header (names are not checked, so it can
    /// hold hostile ones).
    fn raw_tar(entries: &[(&str, EntryType, &str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind, link, data) in entries {
            let mut h = Header::new_gnu();
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            h.set_mode(if *kind == EntryType::Directory {
                0o755
            } else {
                0o644
            });
            h.set_size(data.len() as u64);
            h.set_entry_type(*kind);
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        out.resize(out.len() + 2 * BLOCK, 0);
        out
    }

    fn store_tar(l: &Layout, tar: &[u8]) -> Descriptor {
        let d = l.write_blob(tar).unwrap();
        Descriptor::new(media::OCI_LAYER_TAR, d, tar.len() as u64)
    }

    fn mode_of(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    fn leftovers(l: &Layout) -> Vec<String> {
        fs::read_dir(l.path().join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect()
    }

    /// A source folder with a few files, a nested one, and a file bigger than a chunk.
    fn source_tree(dir: &Path) -> Vec<LayerEntry> {
        fs::create_dir_all(dir.join("sub/deeper")).unwrap();
        fs::write(dir.join("hello.txt"), "hello\n").unwrap();
        fs::write(dir.join("sub/deeper/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
        let big: Vec<u8> = (0..3 * CHUNK + 12_345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        fs::write(dir.join("big.bin"), &big).unwrap();
        vec![
            entry(
                "/app/hello.txt",
                Content::File(dir.join("hello.txt")),
                0o644,
            ),
            entry(
                "/app/bin/run.sh",
                Content::File(dir.join("sub/deeper/run.sh")),
                0o755,
            ),
            entry("/app/big.bin", Content::File(dir.join("big.bin")), 0o600),
            entry("/app/secret", Content::Bytes(b"s3cret".to_vec()), 0o400),
            entry("/app/link", Content::Symlink("hello.txt".into()), 0o777),
            entry("/app/empty", Content::Dir, 0o700),
            entry("/etc/app.conf", Content::Bytes(Vec::new()), 0o644),
        ]
    }

    #[test]
    fn round_trips_files_modes_and_symlinks_with_gzip_and_zstd() {
        for c in [Compression::Gzip, Compression::Zstd] {
            let (dir, l) = layout();
            let src = dir.path().join("src");
            let entries = source_tree(&src);
            let built = write_layer(&l, &entries, &opts(c)).unwrap();
            assert_eq!(built.media_type, c.media_type());
            assert!(l.has_blob(&built.digest, Some(built.size)));
            assert_eq!(built.descriptor().size, built.size);

            let dest = dir.path().join("rootfs");
            extract_layers(&l, &[built.descriptor()], &dest).unwrap();
            let app = dest.join("app");
            assert_eq!(fs::read(app.join("hello.txt")).unwrap(), b"hello\n");
            assert_eq!(
                fs::read(app.join("bin/run.sh")).unwrap(),
                fs::read(src.join("sub/deeper/run.sh")).unwrap()
            );
            assert_eq!(
                fs::read(app.join("big.bin")).unwrap(),
                fs::read(src.join("big.bin")).unwrap()
            );
            assert_eq!(fs::read(app.join("secret")).unwrap(), b"s3cret");
            assert_eq!(fs::read(dest.join("etc/app.conf")).unwrap(), b"");
            assert_eq!(
                fs::read_link(app.join("link")).unwrap(),
                Path::new("hello.txt")
            );
            assert!(app.join("empty").is_dir());
            assert_eq!(mode_of(&app.join("hello.txt")), 0o644);
            assert_eq!(mode_of(&app.join("bin/run.sh")), 0o755);
            assert_eq!(mode_of(&app.join("big.bin")), 0o600);
            assert_eq!(mode_of(&app.join("secret")), 0o400);
            assert_eq!(mode_of(&app.join("empty")), 0o700);
            assert_eq!(mode_of(&app.join("bin")), 0o755, "an added parent");
            let mtime = fs::metadata(app.join("hello.txt")).unwrap().mtime();
            assert_eq!(mtime, 1_700_000_000);
            assert_eq!(fs::metadata(&app).unwrap().mtime(), 1_700_000_000);
            assert!(leftovers(&l).is_empty(), "{:?}", leftovers(&l));
        }
    }

    #[test]
    fn diff_id_and_digest_are_the_hashes_of_the_tar_and_the_blob() {
        for c in [Compression::Gzip, Compression::Zstd] {
            let (dir, l) = layout();
            let entries = source_tree(&dir.path().join("src"));
            let built = write_layer(&l, &entries, &opts(c)).unwrap();
            let blob = fs::read(l.blob_path(&built.digest)).unwrap();
            assert_eq!(Digest::sha256_of(&blob), built.digest);
            assert_eq!(blob.len() as u64, built.size);
            let tar = tar_of(&l, &built);
            assert_eq!(Digest::sha256_of(&tar), built.diff_id, "{c:?}");
            assert_eq!(tar.len() % BLOCK, 0);
            assert!(tar.ends_with(&[0; 2 * BLOCK]));
        }
    }

    #[test]
    fn gzip_blob_is_one_standard_member_that_other_tools_read() {
        let (dir, l) = layout();
        let entries = source_tree(&dir.path().join("src"));
        let built = write_layer(&l, &entries, &opts(Compression::Gzip)).unwrap();
        let blob = fs::read(l.blob_path(&built.digest)).unwrap();
        assert_eq!(&blob[..10], &GZIP_HEADER);
        let mut members = 0;
        let mut rest = &blob[..];
        while !rest.is_empty() {
            let mut d = flate2::bufread::GzDecoder::new(rest);
            io::copy(&mut d, &mut io::sink()).unwrap();
            rest = d.into_inner();
            members += 1;
        }
        assert_eq!(members, 1);
        // GNU tar and gzip agree, when installed.
        let listed = std::process::Command::new("tar")
            .arg("-tzf")
            .arg(l.blob_path(&built.digest))
            .output();
        if let Ok(out) = listed {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let names = String::from_utf8(out.stdout).unwrap();
            assert!(names.contains("app/bin/run.sh\n"), "{names}");
        }
    }

    #[test]
    fn random_segments_are_stored_and_text_still_compresses() {
        let (_dir, l) = layout();
        // A pseudo-random 300 KiB file between two text files: the chunks mix both kinds.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let random: Vec<u8> = (0..300 << 10)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let text = "the quick brown fox jumps over the lazy dog\n".repeat(10_000);
        let file = |path: &str, bytes: Vec<u8>| LayerEntry {
            path: path.into(),
            content: Content::Bytes(bytes),
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
        };
        let entries = [
            file("a.txt", text.clone().into_bytes()),
            file("b.bin", random.clone()),
            file("c.txt", text.clone().into_bytes()),
        ];
        for threads in [1, 3] {
            let o = LayerOptions {
                threads,
                ..opts(Compression::Gzip)
            };
            let built = write_layer(&l, &entries, &o).unwrap();
            // Random bytes cost their size, the text almost nothing.
            assert!(
                built.size < random.len() as u64 + (64 << 10),
                "{}",
                built.size
            );
            let out = tempfile::tempdir().unwrap();
            extract_layers(&l, &[built.descriptor()], out.path()).unwrap();
            assert_eq!(fs::read(out.path().join("b.bin")).unwrap(), random);
            assert_eq!(fs::read_to_string(out.path().join("c.txt")).unwrap(), text);
        }
        assert!(looks_incompressible(&random[..64 << 10]));
        assert!(!looks_incompressible(&text.as_bytes()[..64 << 10]));
    }

    #[test]
    fn tar_is_sorted_with_added_parents_and_exactly_the_given_metadata() {
        let (_dir, l) = layout();
        let entries = vec![
            LayerEntry {
                path: "/z/y/file".into(),
                content: Content::Bytes(b"data".to_vec()),
                mode: 0o4755,
                uid: 1000,
                gid: 3_000_000, // more than 7 octal digits
                mtime: 42,
            },
            LayerEntry {
                mtime: 7,
                ..entry("a.b", Content::Dir, 0o750)
            },
            LayerEntry {
                mtime: 9,
                ..entry("./a//c/", Content::Symlink("../z".into()), 0o777)
            },
            LayerEntry {
                mtime: 5,
                ..entry("a/b", Content::Bytes(b"x".to_vec()), 0o644)
            },
        ];
        let built = write_layer(&l, &entries, &opts(Compression::Zstd)).unwrap();
        let listed = list(&tar_of(&l, &built));
        let names: Vec<&str> = listed.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            ["a/", "a.b/", "a/b", "a/c", "z/", "z/y/", "z/y/file"]
        );
        let by = |n: &str| listed.iter().find(|e| e.0 == n).unwrap().clone();
        // An added parent: 0o755, root, the mtime of the first entry below it.
        assert_eq!(
            by("a/"),
            ("a/".into(), b'5', 0o755, 0, 0, 5, "".into(), vec![])
        );
        assert_eq!(by("z/y/").5, 42);
        assert_eq!(by("a.b/").2, 0o750);
        assert_eq!(by("a/c").1, b'2');
        assert_eq!(by("a/c").6, "../z");
        let f = by("z/y/file");
        assert_eq!(
            (f.1, f.2, f.3, f.4, f.5),
            (b'0', 0o4755, 1000, 3_000_000, 42)
        );
        assert_eq!(f.7, b"data");
    }

    #[test]
    fn long_paths_and_link_targets_survive() {
        let (dir, l) = layout();
        let deep = format!("/{}/{}", "d".repeat(120), "f".repeat(150));
        let exact = format!("/{}", "e".repeat(100));
        let target = format!("../{}", "t".repeat(300));
        let entries = vec![
            entry(&deep, Content::Bytes(b"deep".to_vec()), 0o644),
            entry(&exact, Content::Bytes(b"exact".to_vec()), 0o644),
            entry("/l", Content::Symlink(target.clone()), 0o777),
        ];
        let built = write_layer(&l, &entries, &opts(Compression::Gzip)).unwrap();
        let listed = list(&tar_of(&l, &built));
        let names: Vec<&str> = listed.iter().map(|e| e.0.as_str()).collect();
        let dir_name = format!("{}/", "d".repeat(120));
        assert_eq!(
            names,
            [dir_name.as_str(), &deep[1..], &exact[1..], "l"],
            "long names are whole"
        );
        assert_eq!(listed[3].6, target);

        let dest = dir.path().join("root");
        extract_layers(&l, &[built.descriptor()], &dest).unwrap();
        assert_eq!(fs::read(dest.join(&deep[1..])).unwrap(), b"deep");
        assert_eq!(fs::read(dest.join(&exact[1..])).unwrap(), b"exact");
        assert_eq!(fs::read_link(dest.join("l")).unwrap(), Path::new(&target));
    }

    #[test]
    fn same_inputs_give_the_same_blob_whatever_the_disk_says() {
        let base = tempfile::tempdir().unwrap();
        let mut results = Vec::new();
        for (i, order) in [[0usize, 1, 2], [2, 0, 1]].iter().enumerate() {
            let src = base.path().join(format!("src{i}"));
            fs::create_dir_all(&src).unwrap();
            // Different creation order, times and permissions on disk.
            for &n in order {
                let p = src.join(format!("f{n}"));
                fs::write(&p, format!("content {n}")).unwrap();
                let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 * (i as u64 + 1));
                File::options()
                    .write(true)
                    .open(&p)
                    .unwrap()
                    .set_modified(t)
                    .unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode(0o600 + i as u32)).unwrap();
            }
            let mut entries: Vec<LayerEntry> = order
                .iter()
                .map(|n| {
                    entry(
                        &format!("/d/f{n}"),
                        Content::File(src.join(format!("f{n}"))),
                        0o644,
                    )
                })
                .collect();
            entries.push(entry("/d/dup", Content::Bytes(b"old".to_vec()), 0o644));
            entries.push(entry("d/dup", Content::Bytes(b"new".to_vec()), 0o644));
            for c in [Compression::Gzip, Compression::Zstd] {
                for threads in [1, 2, 3] {
                    let (_d, l) = layout();
                    let o = LayerOptions {
                        compression: c,
                        level: None,
                        threads,
                    };
                    let built = write_layer(&l, &entries, &o).unwrap();
                    results.push(((c, threads), built));
                }
            }
        }
        for c in [Compression::Gzip, Compression::Zstd] {
            let all: Vec<&BuiltLayer> = results
                .iter()
                .filter(|((cc, _), _)| *cc == c)
                .map(|(_, b)| b)
                .collect();
            assert_eq!(all.len(), 6);
            for b in &all {
                assert_eq!(b.digest, all[0].digest, "{c:?}");
                assert_eq!(b.diff_id, all[0].diff_id, "{c:?}");
            }
        }
        // Both compressions hold the same tar, with the duplicate's last version.
        assert_eq!(results[0].1.diff_id, results[3].1.diff_id);
    }

    #[test]
    fn writing_the_same_layer_twice_keeps_one_blob() {
        let (_dir, l) = layout();
        let entries = vec![entry("/x", Content::Bytes(b"x".to_vec()), 0o644)];
        let a = write_layer(&l, &entries, &LayerOptions::default()).unwrap();
        let b = write_layer(&l, &entries, &LayerOptions::default()).unwrap();
        assert_eq!(a, b);
        let files: Vec<_> = fs::read_dir(l.path().join("blobs/sha256"))
            .unwrap()
            .collect();
        assert_eq!(files.len(), 1);
        assert_eq!(a.media_type, media::OCI_LAYER_GZIP);
    }

    #[test]
    fn refuses_bad_entries_and_options_naming_them() {
        let (dir, l) = layout();
        let cases = [
            (entry("../x", Content::Dir, 0o755), "`..`"),
            (entry("/a/../../x", Content::Dir, 0o755), "`..`"),
            (entry("/", Content::Bytes(vec![]), 0o644), "root"),
            (entry("/a\0b", Content::Dir, 0o755), "NUL"),
            (
                entry("/l", Content::Symlink(String::new()), 0o777),
                "target",
            ),
        ];
        for (e, why) in cases {
            let err =
                write_layer(&l, std::slice::from_ref(&e), &LayerOptions::default()).unwrap_err();
            assert!(matches!(err, LayerError::InvalidEntry { .. }), "{err}");
            let text = err.to_string();
            assert!(text.contains(&e.path) && text.contains(why), "{text}");
        }
        let err = write_layer(
            &l,
            &[
                entry("/f", Content::Bytes(vec![]), 0o644),
                entry("/f/g", Content::Bytes(vec![]), 0o644),
            ],
            &LayerOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("parent `f` is not a folder"),
            "{err}"
        );

        let missing = dir.path().join("missing.txt");
        let err = write_layer(
            &l,
            &[entry("/m", Content::File(missing.clone()), 0o644)],
            &LayerOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, LayerError::Source { .. }), "{err}");
        assert!(err.to_string().contains("missing.txt"), "{err}");
        let err = write_layer(
            &l,
            &[entry("/d", Content::File(dir.path().into()), 0o644)],
            &LayerOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, LayerError::Source { .. }), "{err}");

        for (c, level) in [(Compression::Gzip, 10), (Compression::Zstd, 99)] {
            let o = LayerOptions {
                compression: c,
                level: Some(level),
                threads: 2,
            };
            let err = write_layer(&l, &[], &o).unwrap_err();
            assert!(matches!(err, LayerError::InvalidOptions { .. }), "{err}");
        }
        // Nothing half-written is left behind.
        assert!(leftovers(&l).is_empty(), "{:?}", leftovers(&l));
        let blobs = fs::read_dir(l.path().join("blobs/sha256")).unwrap().count();
        assert_eq!(blobs, 0);
    }

    #[test]
    fn a_file_that_changes_size_while_read_is_an_error() {
        // A /proc file says 0 bytes but has content: it "grew".
        let (_dir, l) = layout();
        let status = PathBuf::from("/proc/self/status");
        if status.exists() {
            let err = write_layer(
                &l,
                &[entry("/s", Content::File(status.clone()), 0o644)],
                &LayerOptions::default(),
            )
            .unwrap_err();
            assert!(
                matches!(err, LayerError::SourceChanged { expected: 0, .. }),
                "{err}"
            );
            assert!(err.to_string().contains("/proc/self/status"), "{err}");
            assert!(leftovers(&l).is_empty());
        }
        // Shrunk and grown readers, directly.
        let (tx, _rx) = sync_channel(64);
        let (_free_tx, free_rx) = channel();
        let dir = PathBuf::from("/nowhere");
        let mut out = TarStream::new(Chunks::new(tx, free_rx, 64), &dir);
        let short = copy_exact(&mut out, &mut io::Cursor::new(vec![1u8; 10]), 20);
        assert!(matches!(short, Err(CopyFault::Changed(10))), "{short:?}");
        let long = copy_exact(&mut out, &mut io::Cursor::new(vec![1u8; 30]), 20);
        assert!(matches!(long, Err(CopyFault::Changed(21))), "{long:?}");
        assert!(copy_exact(&mut out, &mut io::Cursor::new(vec![1u8; 20]), 20).is_ok());
    }

    #[test]
    fn whiteouts_and_opaque_folders_hide_earlier_layers() {
        let (dir, l) = layout();
        let wh = |p: &str| entry(p, Content::Bytes(Vec::new()), 0o644);
        let file = |p: &str, s: &str| entry(p, Content::Bytes(s.as_bytes().to_vec()), 0o644);
        let one = write_layer(
            &l,
            &[
                file("/a/old", "1"),
                file("/a/sub/deep", "1"),
                file("/a/kept/lower", "1"),
                file("/b/gone", "1"),
                file("/b/stays", "1"),
                file("/c/inside", "1"),
                file("/d/x", "1"),
            ],
            &opts(Compression::Gzip),
        )
        .unwrap();
        let two = write_layer(
            &l,
            &[
                wh("/a/.wh..wh..opq"),
                file("/a/new", "2"),
                file("/a/kept/new", "2"),
                wh("/b/.wh.gone"),
                wh("/.wh.c"),
                wh("/.wh.never-existed"),
                // A whiteout does not hide its own layer's file.
                file("/d/y", "2"),
                wh("/d/.wh.y"),
            ],
            &opts(Compression::Zstd),
        )
        .unwrap();
        let dest = dir.path().join("root");
        extract_layers(&l, &[one.descriptor(), two.descriptor()], &dest).unwrap();
        let names = |p: &str| {
            let mut v: Vec<String> = fs::read_dir(dest.join(p))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names("a"), ["kept", "new"]);
        assert_eq!(names("a/kept"), ["new"]);
        assert_eq!(names("b"), ["stays"]);
        assert!(!dest.join("c").exists());
        assert_eq!(names("d"), ["x", "y"]);
        assert_eq!(names(""), ["a", "b", "d"]);

        // The first layer alone still has everything.
        let only = dir.path().join("one");
        extract_layers(&l, &[one.descriptor()], &only).unwrap();
        assert!(only.join("a/old").is_file() && only.join("c/inside").is_file());
    }

    #[test]
    fn an_opaque_marker_after_its_layers_own_entries_keeps_them() {
        let (dir, l) = layout();
        let one = write_layer(
            &l,
            &[
                entry("/a/old", Content::Bytes(b"1".to_vec()), 0o644),
                entry("/a/sub/x", Content::Bytes(b"1".to_vec()), 0o644),
            ],
            &LayerOptions::default(),
        )
        .unwrap();
        // Files of this layer come first; `a/sub` itself is not in the tar.
        let two = store_tar(
            &l,
            &raw_tar(&[
                ("a/new", EntryType::Regular, "", b"2"),
                ("a/sub/y", EntryType::Regular, "", b"2"),
                ("a/.wh..wh..opq", EntryType::Regular, "", b""),
            ]),
        );
        let dest = dir.path().join("root");
        extract_layers(&l, &[one.descriptor(), two], &dest).unwrap();
        let mut names: Vec<String> = Vec::new();
        for p in ["a", "a/sub"] {
            for e in fs::read_dir(dest.join(p)).unwrap() {
                names.push(format!("{p}/{}", e.unwrap().file_name().to_string_lossy()));
            }
        }
        names.sort();
        assert_eq!(names, ["a/new", "a/sub", "a/sub/y"]);
    }

    #[test]
    fn sniff_archive_finds_tars_however_compressed() {
        let (dir, l) = layout();
        let one = [entry("/a", Content::Bytes(b"a".to_vec()), 0o644)];
        let gz = write_layer(&l, &one, &opts(Compression::Gzip)).unwrap();
        let zst = write_layer(&l, &one, &opts(Compression::Zstd)).unwrap();
        let plain = dir.path().join("plain.tar");
        fs::write(&plain, raw_tar(&[("a", EntryType::Regular, "", b"a")])).unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            fs::write(&p, bytes).unwrap();
            p
        };
        let mut text_gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        text_gz.write_all(&[b'x'; 2000]).unwrap();
        let text_gz = write("text.gz", &text_gz.finish().unwrap());
        let sniff = |p: &Path| sniff_archive(p).unwrap();
        assert_eq!(sniff(&l.blob_path(&gz.digest)), Some(ArchiveKind::Tar));
        assert_eq!(sniff(&l.blob_path(&zst.digest)), Some(ArchiveKind::Tar));
        assert_eq!(sniff(&plain), Some(ArchiveKind::Tar));
        assert_eq!(sniff(&text_gz), None, "a gzip without a tar is a file");
        assert_eq!(sniff(&write("t.txt", &[b'x'; 600])), None);
        assert_eq!(sniff(&write("empty", b"")), None);
        assert_eq!(
            sniff(&write("a.bz2", b"BZh91AY&SY")),
            Some(ArchiveKind::Other("bzip2"))
        );
        assert_eq!(
            sniff(&write("a.xz", b"\xfd7zXZ\0rest")),
            Some(ArchiveKind::Other("xz"))
        );

        // Unpacking checks the digest the stage was planned with.
        let dest = dir.path().join("out");
        extract_archive(&l.blob_path(&gz.digest), &gz.digest, &dest).unwrap();
        assert_eq!(fs::read(dest.join("a")).unwrap(), b"a");
        let err = extract_archive(&l.blob_path(&zst.digest), &gz.digest, &dir.path().join("x"))
            .unwrap_err();
        assert!(matches!(err, LayerError::DigestMismatch { .. }), "{err}");
    }

    #[test]
    fn read_stacked_files_takes_the_top_layer_and_obeys_whiteouts() {
        let (_dir, l) = layout();
        let file = |p: &str, s: &str| entry(p, Content::Bytes(s.as_bytes().to_vec()), 0o644);
        let wh = |p: &str| entry(p, Content::Bytes(Vec::new()), 0o644);
        let layer = |entries: &[LayerEntry], c| write_layer(&l, entries, &opts(c)).unwrap();
        let base = layer(
            &[file("/etc/passwd", "v1"), file("/etc/group", "g1")],
            Compression::Gzip,
        )
        .descriptor();
        let newer = layer(&[file("/etc/passwd", "v2")], Compression::Zstd).descriptor();
        let other = layer(&[file("/srv/x", "x")], Compression::Gzip).descriptor();
        let deleted = layer(&[wh("/etc/.wh.passwd")], Compression::Gzip).descriptor();
        let opaque = layer(&[wh("/etc/.wh..wh..opq")], Compression::Gzip).descriptor();
        let etc_gone = layer(&[wh("/.wh.etc")], Compression::Gzip).descriptor();
        let read = |layers: &[Descriptor], p: &str| {
            read_stacked_files(&l, layers, &[p]).unwrap().remove(0)
        };
        let text = |s: Stacked| s.into_bytes().map(|b| String::from_utf8(b).unwrap());
        let stack = [base.clone(), newer.clone(), other.clone()];
        assert_eq!(text(read(&stack, "etc/passwd")).as_deref(), Some("v2"));
        assert_eq!(text(read(&stack, "/etc/group")).as_deref(), Some("g1"));
        assert_eq!(read(&stack, "etc/shadow"), Stacked::Unknown);
        assert_eq!(read(&[], "etc/passwd"), Stacked::Unknown);
        assert_eq!(
            read(&[base.clone(), deleted.clone()], "etc/passwd"),
            Stacked::Hidden
        );
        assert_eq!(
            text(read(&[base.clone(), deleted], "etc/group")).as_deref(),
            Some("g1")
        );
        assert_eq!(
            read(&[base.clone(), opaque.clone()], "etc/group"),
            Stacked::Hidden
        );
        assert_eq!(
            read(&[base.clone(), etc_gone], "etc/passwd"),
            Stacked::Hidden
        );
        // A layer above the whiteout adds it back.
        assert_eq!(
            text(read(&[base.clone(), opaque.clone(), newer], "etc/passwd")).as_deref(),
            Some("v2")
        );
        // Both files in one pass; an upper stack's answer goes over a lower one's.
        let both =
            read_stacked_files(&l, &[base.clone(), other], &["etc/passwd", "etc/group"]).unwrap();
        assert_eq!(
            both,
            [
                Stacked::Found(b"v1".to_vec()),
                Stacked::Found(b"g1".to_vec())
            ]
        );
        let upper = read_stacked_files(&l, &[opaque], &["etc/group"])
            .unwrap()
            .remove(0);
        assert_eq!(upper.clone().over(both[1].clone()), Stacked::Hidden);
        assert_eq!(Stacked::Unknown.over(both[1].clone()), both[1]);

        // A link or a folder at the path is refused, naming the path.
        let linked = store_tar(
            &l,
            &raw_tar(&[("etc/passwd", EntryType::Symlink, "/host/passwd", b"")]),
        );
        let err = read_stacked_files(&l, &[base, linked], &["etc/passwd"]).unwrap_err();
        assert!(matches!(err, LayerError::Corrupt { .. }), "{err}");
        let why = std::error::Error::source(&err).unwrap().to_string();
        assert!(why.contains("etc/passwd is not a regular file"), "{why}");
    }

    #[test]
    fn extracts_archives_made_by_gnu_tar() {
        let (dir, l) = layout();
        let src = dir.path().join("src");
        let long = format!("{}/{}", "n".repeat(90), "m".repeat(90));
        fs::create_dir_all(src.join(&long).parent().unwrap()).unwrap();
        fs::write(src.join(&long), b"long").unwrap();
        fs::hard_link(src.join(&long), src.join("hard")).unwrap();
        std::os::unix::fs::symlink("hard", src.join("soft")).unwrap();
        for format in ["pax", "gnu"] {
            let tgz = dir.path().join(format!("{format}.tgz"));
            let made = std::process::Command::new("tar")
                .args(["-czf", tgz.to_str().unwrap(), "--format", format, "-C"])
                .arg(&src)
                .arg(".")
                .status();
            if !made.is_ok_and(|s| s.success()) {
                return; // no GNU tar here
            }
            let bytes = fs::read(&tgz).unwrap();
            let d = l.write_blob(&bytes).unwrap();
            let desc = Descriptor::new(media::OCI_LAYER_GZIP, d, bytes.len() as u64);
            let dest = dir.path().join(format!("root-{format}"));
            extract_layers(&l, &[desc], &dest).unwrap();
            assert_eq!(fs::read(dest.join(&long)).unwrap(), b"long", "{format}");
            let (a, b) = (
                fs::metadata(dest.join(&long)).unwrap(),
                fs::metadata(dest.join("hard")).unwrap(),
            );
            assert_eq!(a.ino(), b.ino(), "{format}");
            assert_eq!(fs::read_link(dest.join("soft")).unwrap(), Path::new("hard"));
        }
    }

    #[test]
    fn later_layers_replace_files_folders_and_symlinks() {
        let (dir, l) = layout();
        let one = write_layer(
            &l,
            &[
                entry("/p/file-then-dir", Content::Bytes(b"f".to_vec()), 0o644),
                entry("/p/dir-then-file/x", Content::Bytes(b"x".to_vec()), 0o644),
                entry("/p/link", Content::Symlink("/etc/passwd".into()), 0o777),
                entry("/p/ro", Content::Dir, 0o555),
                entry("/p/ro/f", Content::Bytes(b"1".to_vec()), 0o444),
            ],
            &LayerOptions::default(),
        )
        .unwrap();
        let two = write_layer(
            &l,
            &[
                entry("/p/file-then-dir/y", Content::Bytes(b"y".to_vec()), 0o644),
                entry("/p/dir-then-file", Content::Bytes(b"file".to_vec()), 0o644),
                entry("/p/link", Content::Bytes(b"not a link".to_vec()), 0o644),
                entry("/p/ro", Content::Dir, 0o555),
                entry("/p/ro/f", Content::Bytes(b"2".to_vec()), 0o444),
            ],
            &LayerOptions::default(),
        )
        .unwrap();
        let dest = dir.path().join("root");
        extract_layers(&l, &[one.descriptor(), two.descriptor()], &dest).unwrap();
        let p = dest.join("p");
        assert_eq!(fs::read(p.join("file-then-dir/y")).unwrap(), b"y");
        assert_eq!(fs::read(p.join("dir-then-file")).unwrap(), b"file");
        assert!(!fs::symlink_metadata(p.join("link")).unwrap().is_symlink());
        assert_eq!(fs::read(p.join("link")).unwrap(), b"not a link");
        assert_eq!(fs::read(p.join("ro/f")).unwrap(), b"2");
        assert_eq!(mode_of(&p.join("ro")), 0o555, "set once all layers are in");
        fs::set_permissions(p.join("ro"), fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn refuses_entries_escaping_the_destination() {
        let (dir, l) = layout();
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (raw_tar(&[("../x", EntryType::Regular, "", b"bad")]), "`..`"),
            (
                raw_tar(&[("a/../../x", EntryType::Regular, "", b"bad")]),
                "`..`",
            ),
            (
                raw_tar(&[
                    ("esc", EntryType::Symlink, "../outside", b""),
                    ("esc/pwned", EntryType::Regular, "", b"bad"),
                ]),
                "leads out",
            ),
            (
                raw_tar(&[
                    ("deep/", EntryType::Directory, "", b""),
                    ("deep/esc", EntryType::Symlink, "../../outside", b""),
                    ("deep/esc/pwned", EntryType::Regular, "", b"bad"),
                ]),
                "leads out",
            ),
            (
                raw_tar(&[
                    ("abs", EntryType::Symlink, outside.to_str().unwrap(), b""),
                    ("abs/pwned", EntryType::Regular, "", b"bad"),
                ]),
                "outside the destination",
            ),
            (
                raw_tar(&[
                    ("loop", EntryType::Symlink, "loop", b""),
                    ("loop/pwned", EntryType::Regular, "", b"bad"),
                ]),
                "symlinks",
            ),
            (
                raw_tar(&[("h", EntryType::Link, "../outside/t", b"")]),
                "hard-link target",
            ),
        ];
        for (i, (tar, why)) in cases.into_iter().enumerate() {
            let desc = store_tar(&l, &tar);
            let dest = dir.path().join(format!("root{i}"));
            let err = extract_layers(&l, &[desc], &dest).unwrap_err();
            assert!(matches!(err, LayerError::UnsafeEntry { .. }), "{i}: {err}");
            let text = err.to_string();
            assert!(text.contains(why), "{i}: {text}");
            assert!(
                text.contains(
                    &l.blob_path(&store_tar(&l, &tar).digest)
                        .display()
                        .to_string()
                )
            );
            assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "{i}");
            assert!(!dir.path().join("x").exists());
        }
        // An absolute entry path lands inside; a symlink staying inside is followed.
        let tar = raw_tar(&[
            ("/abs-file", EntryType::Regular, "", b"in"),
            ("real/", EntryType::Directory, "", b""),
            ("alias", EntryType::Symlink, "./real", b""),
            ("alias/through", EntryType::Regular, "", b"ok"),
            ("a/b/../c", EntryType::Regular, "", b"c"),
        ]);
        let dest = dir.path().join("fine");
        extract_layers(&l, &[store_tar(&l, &tar)], &dest).unwrap();
        assert_eq!(fs::read(dest.join("abs-file")).unwrap(), b"in");
        assert_eq!(fs::read(dest.join("real/through")).unwrap(), b"ok");
        assert_eq!(fs::read(dest.join("a/c")).unwrap(), b"c");
    }

    #[test]
    fn hard_links_are_made_and_special_files_skipped() {
        let (dir, l) = layout();
        let tar = raw_tar(&[
            ("bin/", EntryType::Directory, "", b""),
            ("bin/tool", EntryType::Regular, "", b"tool"),
            ("bin/alias", EntryType::Link, "bin/tool", b""),
            ("dev/null", EntryType::Char, "", b""),
            ("fifo", EntryType::Fifo, "", b""),
        ]);
        let dest = dir.path().join("root");
        extract_layers(&l, &[store_tar(&l, &tar)], &dest).unwrap();
        let a = fs::metadata(dest.join("bin/alias")).unwrap();
        let t = fs::metadata(dest.join("bin/tool")).unwrap();
        assert_eq!((a.ino(), a.nlink()), (t.ino(), 2));
        assert!(!dest.join("dev/null").exists() && !dest.join("fifo").exists());

        let tar = raw_tar(&[("h", EntryType::Link, "missing", b"")]);
        let err = extract_layers(&l, &[store_tar(&l, &tar)], &dir.path().join("r2")).unwrap_err();
        assert!(matches!(err, LayerError::Extract { .. }), "{err}");
        assert!(err.to_string().contains("`h`"), "{err}");
    }

    #[test]
    fn damaged_missing_and_unknown_blobs_are_errors() {
        let (dir, l) = layout();
        let entries = source_tree(&dir.path().join("src"));
        for c in [Compression::Gzip, Compression::Zstd] {
            let built = write_layer(&l, &entries, &opts(c)).unwrap();
            let path = l.blob_path(&built.digest);
            let good = fs::read(&path).unwrap();
            for at in [good.len() / 2, good.len() - 3, 20] {
                let mut bad = good.clone();
                bad[at] ^= 0x55;
                fs::write(&path, &bad).unwrap();
                let err =
                    extract_layers(&l, &[built.descriptor()], &dir.path().join("r")).unwrap_err();
                assert!(
                    matches!(err, LayerError::DigestMismatch { .. }),
                    "{c:?} {at}: {err}"
                );
                assert!(err.to_string().contains(built.digest.hex()), "{err}");
            }
            // Trailing garbage changes the digest too.
            let mut longer = good.clone();
            longer.extend_from_slice(b"junk");
            fs::write(&path, &longer).unwrap();
            let err = extract_layers(&l, &[built.descriptor()], &dir.path().join("r")).unwrap_err();
            assert!(matches!(err, LayerError::DigestMismatch { .. }), "{err}");
            fs::write(&path, &good).unwrap();
        }
        // Right digest, wrong content type.
        let not_gzip = l.write_blob(b"plain text").unwrap();
        let desc = Descriptor::new(media::DOCKER_LAYER_GZIP, not_gzip, 10);
        let err = extract_layers(&l, &[desc], &dir.path().join("r")).unwrap_err();
        assert!(matches!(err, LayerError::Corrupt { .. }), "{err}");

        let missing = Descriptor::new(media::OCI_LAYER_GZIP, Digest::sha256_of(b"no"), 2);
        let err = extract_layers(&l, &[missing], &dir.path().join("r")).unwrap_err();
        assert!(matches!(err, LayerError::Layout(_)), "{err}");

        let odd = Descriptor::new("application/x-rar", Digest::sha256_of(b"no"), 2);
        let err = extract_layers(&l, &[odd], &dir.path().join("r")).unwrap_err();
        assert!(
            matches!(err, LayerError::UnsupportedMediaType { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("application/x-rar"), "{err}");
    }

    #[test]
    fn extracts_docker_gzip_and_plain_tar_layers() {
        let (dir, l) = layout();
        let entries = vec![entry("/f", Content::Bytes(b"gz".to_vec()), 0o644)];
        let built = write_layer(&l, &entries, &LayerOptions::default()).unwrap();
        let docker = Descriptor::new(
            format!("{}; foo=bar", media::DOCKER_LAYER_GZIP),
            built.digest.clone(),
            built.size,
        );
        let plain = store_tar(&l, &raw_tar(&[("g", EntryType::Regular, "", b"tar")]));
        let dest = dir.path().join("root");
        extract_layers(&l, &[docker, plain], &dest).unwrap();
        assert_eq!(fs::read(dest.join("f")).unwrap(), b"gz");
        assert_eq!(fs::read(dest.join("g")).unwrap(), b"tar");
    }

    /// Measures layer writing and extraction on a big system folder. Run with
    /// `cargo test --release -p slipway-builder --lib layer::tests::throughput -- --ignored --nocapture`;
    /// `SLIPWAY_BENCH_DIR` picks the folder.
    #[test]
    #[ignore = "benchmark"]
    fn throughput() {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<LayerEntry>, bytes: &mut u64) {
            let Ok(rd) = fs::read_dir(dir) else { return };
            for e in rd.flatten() {
                let p = e.path();
                let Ok(m) = fs::symlink_metadata(&p) else {
                    continue;
                };
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                let content = if m.is_dir() {
                    walk(root, &p, out, bytes);
                    Content::Dir
                } else if m.is_symlink() {
                    Content::Symlink(fs::read_link(&p).unwrap().to_string_lossy().into_owned())
                } else if m.is_file() && File::open(&p).is_ok() {
                    *bytes += m.len();
                    Content::File(p.clone())
                } else {
                    continue;
                };
                out.push(LayerEntry {
                    path: format!("/src/{rel}"),
                    content,
                    mode: m.mode() & 0o7777,
                    uid: 0,
                    gid: 0,
                    mtime: 0,
                });
            }
        }
        let root = std::env::var_os("SLIPWAY_BENCH_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/usr/lib/x86_64-linux-gnu".into());
        let mut entries = Vec::new();
        let mut bytes = 0;
        walk(&root, &root, &mut entries, &mut bytes);
        // Warm the page cache.
        for e in &entries {
            if let Content::File(p) = &e.content {
                let _ = io::copy(&mut File::open(p).unwrap(), &mut io::sink());
            }
        }
        /// This process's user and system CPU seconds.
        fn cpu() -> f64 {
            let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
            let after = stat.rsplit(')').next().unwrap_or_default();
            let f: Vec<f64> = after
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(0.0))
                .collect();
            f.get(11)
                .zip(f.get(12))
                .map_or(0.0, |(u, s)| (u + s) / 100.0)
        }
        let mb = bytes as f64 / 1e6;
        println!("{}: {} entries, {mb:.0} MB", root.display(), entries.len());
        let scratch = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
        let l = Layout::create(&scratch.path().join("layout")).unwrap();
        for (c, level) in [
            (Compression::Gzip, None),
            (Compression::Zstd, None),
            (Compression::Gzip, Some(6)),
        ] {
            let o = LayerOptions {
                compression: c,
                level,
                threads: 2,
            };
            let (t, c0) = (std::time::Instant::now(), cpu());
            let built = write_layer(&l, &entries, &o).unwrap();
            let secs = t.elapsed().as_secs_f64();
            println!(
                "write {c:?} level {:?}: {secs:.2} s, {:.0} MB/s, ratio {:.3}, CPU {:.2} s",
                level.unwrap_or(c.default_level()),
                mb / secs,
                built.size as f64 / bytes as f64,
                cpu() - c0
            );
            let dest = scratch.path().join(format!("x-{c:?}-{level:?}"));
            let (t, c0) = (std::time::Instant::now(), cpu());
            extract_layers(&l, &[built.descriptor()], &dest).unwrap();
            let secs = t.elapsed().as_secs_f64();
            println!(
                "extract {c:?}: {secs:.2} s, {:.0} MB/s, CPU {:.2} s",
                mb / secs,
                cpu() - c0
            );
            fs::remove_dir_all(&dest).unwrap();
        }
    }
}
