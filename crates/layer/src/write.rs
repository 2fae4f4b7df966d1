//! Writing a layer: entries planned into a sorted tar, streamed in chunks to the
//! compressing stage and into the layout as a blob.

use slipway_oci::{Digest, Hasher, Layout};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, channel, sync_channel};
use std::thread::{self};
use tar::{EntryType, Header};

use crate::*;
#[allow(unused_imports)]
use crate::{compress::*, extract::*};

/// Writes `entries` as one layer into the layout and returns its digests, size and media type.
///
/// Entries are sorted by their normalized path (byte order); of several with the same path the
/// last given wins; missing parent folders are added (mode `0o755`, owner 0:0, the mtime of
/// the first entry below them). Source files that are hard links of one another become one
/// file and links to it, and a source file's `security.capability` is carried, as BuildKit
/// keeps both. Beyond that, the blob depends only on the entries and options: not on the
/// order they are given in, nor on source files' times, inode numbers or owners. It is written to a
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

pub(crate) fn checked_level(opts: &LayerOptions) -> Result<i32, LayerError> {
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
        let name = match opts.compression {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        };
        Err(LayerError::InvalidOptions {
            why: format!("{name} level {level} is out of range ({range})"),
        })
    }
}

/// One entry as it goes into the tar: the normalized name (no leading or trailing `/`).
#[derive(Debug)]
pub(crate) struct Item<'a> {
    pub(crate) name: String,
    pub(crate) kind: Kind<'a>,
    pub(crate) mode: u32,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    pub(crate) mtime: u64,
    /// The source file's `security.capability`, written as a PAX record.
    pub(crate) capability: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind<'a> {
    Dir,
    File(&'a Path),
    Bytes(&'a [u8]),
    Symlink(&'a str),
    /// A hard link to the earlier entry of this name: the source file is a hard link of
    /// that entry's source.
    Link(String),
}

/// Normalizes an in-image path to `a/b`: no leading, trailing or doubled `/`, no `.`.
pub(crate) fn normalize(path: &str) -> Result<String, &'static str> {
    if path.contains('\0') {
        return Err("the path contains a NUL byte");
    }
    slipway_fs::path::segments(path, slipway_fs::path::DotDot::Refuse)
        .map(|names| names.join("/"))
        .map_err(|_| "the path has a `..` component")
}

/// Turns the entries into the sorted, deduplicated list the tar holds, parents included.
pub(crate) fn plan(entries: &[LayerEntry]) -> Result<Vec<Item<'_>>, LayerError> {
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
            capability: None,
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
            capability: None,
        })
        .collect();
    unique.extend(parents);
    unique.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    link_and_capabilities(&mut unique);
    Ok(unique)
}

/// Tells, for files in the order a layer writes them (by name), which are hard links of an
/// earlier one: maps each such name to the name of the first file of its inode. The layer
/// writes those as links, and the stage digest records them the same way.
pub fn hard_link_targets<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a Path)>,
) -> HashMap<String, String> {
    use std::os::unix::fs::MetadataExt;
    let mut first: HashMap<(u64, u64), &str> = HashMap::new();
    let mut links = HashMap::new();
    for (name, source) in files {
        let Ok(meta) = std::fs::metadata(source) else {
            continue; // reported, naming the file, when it is read
        };
        if meta.nlink() < 2 {
            continue;
        }
        match first.get(&(meta.dev(), meta.ino())) {
            Some(target) => {
                links.insert(name.to_string(), (*target).to_string());
            }
            None => {
                first.insert((meta.dev(), meta.ino()), name);
            }
        }
    }
    links
}

/// Reads what the source files say beyond their bytes, as BuildKit's copy keeps it: files
/// that are hard links of one another become one file and links to it (the first by name
/// holds the content), and file capabilities are carried.
fn link_and_capabilities(items: &mut [Item<'_>]) {
    let links = hard_link_targets(items.iter().filter_map(|i| match i.kind {
        Kind::File(path) => Some((i.name.as_str(), path)),
        _ => None,
    }));
    for item in items.iter_mut() {
        let Kind::File(path) = item.kind else {
            continue;
        };
        match links.get(&item.name) {
            Some(target) => item.kind = Kind::Link(target.clone()),
            None => item.capability = crate::xattr::capability(path),
        }
    }
}

/// Writes a PAX extended header holding `records` (`key`, `value`) for the next entry.
fn pax_header(out: &mut TarStream<'_>, records: &[(&str, &[u8])]) -> io::Result<()> {
    let mut data = Vec::new();
    for (key, value) in records {
        // "LEN KEY=VALUE\n", where LEN counts its own digits too.
        let rest = key.len() + value.len() + 3;
        let mut len = rest + rest.to_string().len();
        if len.to_string().len() != rest.to_string().len() {
            len = rest + len.to_string().len();
        }
        data.extend_from_slice(format!("{len} {key}=").as_bytes());
        data.extend_from_slice(value);
        data.push(b'\n');
    }
    let mut h = Header::new_ustar();
    let name = b"PaxHeader";
    h.as_ustar_mut().expect("ustar").name[..name.len()].copy_from_slice(name);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(data.len() as u64);
    h.set_entry_type(EntryType::XHeader);
    h.set_cksum();
    out.write(h.as_bytes())?;
    out.write(&data)?;
    out.pad(data.len() as u64)
}

/// The sending end of a chunk pipeline: a bounded channel of filled buffers, and a channel
/// the receiver returns empty buffers on. At most `max` buffers are ever allocated.
pub(crate) struct Chunks {
    pub(crate) tx: SyncSender<Vec<u8>>,
    pub(crate) free: Receiver<Vec<u8>>,
    pub(crate) allocated: usize,
    pub(crate) max: usize,
}

impl Chunks {
    pub(crate) fn new(tx: SyncSender<Vec<u8>>, free: Receiver<Vec<u8>>, max: usize) -> Chunks {
        Chunks {
            tx,
            free,
            allocated: 0,
            max,
        }
    }

    /// Returns a buffer of `CHUNK` bytes, or `None` when the receiving side is gone.
    pub(crate) fn take(&mut self) -> Option<Vec<u8>> {
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
    pub(crate) fn send(&self, buf: Vec<u8>) -> bool {
        self.tx.send(buf).is_ok()
    }
}

pub(crate) fn stopped() -> io::Error {
    io::Error::new(ErrorKind::BrokenPipe, "the compressing stage stopped")
}

/// Writes the tar stream into chunks and hashes it.
pub(crate) struct TarStream<'a> {
    pub(crate) chunks: Chunks,
    pub(crate) buf: Vec<u8>,
    pub(crate) filled: usize,
    pub(crate) hasher: Hasher,
    /// The blob folder, named when the pipeline fails.
    pub(crate) dir: &'a Path,
}

impl<'a> TarStream<'a> {
    pub(crate) fn new(chunks: Chunks, dir: &'a Path) -> TarStream<'a> {
        TarStream {
            chunks,
            buf: Vec::new(),
            filled: 0,
            hasher: Hasher::new(),
            dir,
        }
    }

    pub(crate) fn pipe_error(&self, source: io::Error) -> LayerError {
        LayerError::Write {
            dir: self.dir.into(),
            source,
        }
    }

    /// Makes room: sends the current buffer when it is full, and takes a new one.
    pub(crate) fn room(&mut self) -> io::Result<()> {
        if self.buf.is_empty() || self.filled == self.buf.len() {
            self.flush()?;
            self.buf = self.chunks.take().ok_or_else(stopped)?;
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
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

    pub(crate) fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
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
    pub(crate) fn read_from(
        &mut self,
        r: &mut impl Read,
        max: u64,
    ) -> io::Result<io::Result<usize>> {
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
    pub(crate) fn pad(&mut self, len: u64) -> io::Result<()> {
        let rest = (len % BLOCK as u64) as usize;
        if rest > 0 {
            self.write(&[0; BLOCK][..BLOCK - rest])?;
        }
        Ok(())
    }

    /// Sends the last chunk and returns the tar's digest.
    pub(crate) fn finish(mut self) -> Result<Digest, LayerError> {
        if let Err(e) = self.flush() {
            return Err(self.pipe_error(e));
        }
        Ok(self.hasher.finish())
    }
}

/// Writes a GNU long-name (`L`) or long-link (`K`) record for `value`.
pub(crate) fn long_record(out: &mut TarStream<'_>, kind: u8, value: &[u8]) -> io::Result<()> {
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
pub(crate) fn write_header(
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
pub(crate) enum CopyFault {
    /// The pipeline stopped.
    Pipeline(io::Error),
    /// Reading failed.
    Read(io::Error),
    /// The file had this many bytes instead of the expected size (at least this many when
    /// it grew).
    Changed(u64),
}

/// Copies exactly `size` bytes of `file` into the tar, then checks the file has no more.
pub(crate) fn copy_exact(
    out: &mut TarStream<'_>,
    file: &mut impl Read,
    size: u64,
) -> Result<(), CopyFault> {
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
pub(crate) fn write_tar(items: &[Item<'_>], out: &mut TarStream<'_>) -> Result<(), LayerError> {
    let dir = out.dir;
    let pipe = |source| LayerError::Write {
        dir: dir.into(),
        source,
    };
    for item in items {
        if let Some(cap) = &item.capability {
            pax_header(out, &[(crate::xattr::CAPABILITY_PAX, cap)]).map_err(pipe)?;
        }
        match &item.kind {
            Kind::Dir => write_header(out, item, EntryType::Directory, 0, None).map_err(pipe)?,
            Kind::Link(target) => {
                write_header(out, item, EntryType::Link, 0, Some(target.as_bytes()))
                    .map_err(pipe)?;
            }
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
