//! Extracting layers into a folder: decompressing by media type while verifying the
//! digest, OCI whiteouts, and symlinks never followed out of the destination.

use serde::{Deserialize, Serialize};
use slipway_oci::{Descriptor, Digest, Hasher, Layout, media};
use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, ErrorKind, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel, sync_channel};
use std::thread::{self};
use std::time::{Duration, SystemTime};
use tar::EntryType;

use crate::*;
#[allow(unused_imports)]
use crate::{compress::*, write::*};

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Plain,
    Gzip,
    Zstd,
}

pub(crate) fn codec_of(media_type: &str) -> Option<Codec> {
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
pub(crate) fn is_tar_header(b: &[u8]) -> bool {
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
pub(crate) const STACKED_FILE_MAX: u64 = 16 << 20;

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
pub(crate) struct HashRead<R> {
    pub(crate) inner: R,
    pub(crate) hasher: Hasher,
}

impl<R: Read> Read for HashRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Why pumping decompressed data stopped early.
pub(crate) enum PumpFault {
    /// The extracting side is gone.
    Stopped,
    /// Reading or decompressing failed.
    Read(io::Error),
}

/// Reads `r` to its end in chunks and sends them.
pub(crate) fn pump(r: &mut dyn Read, out: &mut Chunks) -> Result<(), PumpFault> {
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
pub(crate) fn decode(
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
pub(crate) struct ChannelReader {
    pub(crate) rx: Receiver<Vec<u8>>,
    pub(crate) free: Sender<Vec<u8>>,
    pub(crate) cur: Vec<u8>,
    pub(crate) pos: usize,
}

impl ChannelReader {
    /// Reads and drops the rest, so the reading stage can finish and verify the digest.
    pub(crate) fn drain(&mut self) {
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
pub(crate) enum Fail {
    Unsafe(String),
    Io(PathBuf, io::Error),
}

pub(crate) fn io_at(path: &Path) -> impl FnOnce(io::Error) -> Fail + '_ {
    move |e| Fail::Io(path.into(), e)
}

/// Normalizes a tar entry path to its components below the root; `None` when `..` leaves it.
pub(crate) fn clean(path: &Path) -> Option<Vec<OsString>> {
    use slipway_fs::path::{DotDot, Part, clean_parts};
    let parts = path.components().map(|c| match c {
        Component::Prefix(_) | Component::RootDir | Component::CurDir => Part::Skip,
        Component::ParentDir => Part::Up,
        Component::Normal(p) => Part::Name(p.to_owned()),
    });
    clean_parts(parts, DotDot::Inside).ok()
}

/// Applies layers to a folder and remembers what must be finished at the end.
pub(crate) struct Extractor {
    pub(crate) root: PathBuf,
    /// Paths (relative to the root) known to be real folders reached through real folders.
    pub(crate) dirs: HashSet<PathBuf>,
    /// Paths the current layer holds, which its own whiteouts do not delete.
    pub(crate) created: HashSet<PathBuf>,
    /// Folders' permission bits and mtimes, set once every layer is applied.
    pub(crate) dir_meta: HashMap<PathBuf, (u32, u64)>,
    pub(crate) buf: Vec<u8>,
}

impl Extractor {
    pub(crate) fn new(root: &Path) -> Extractor {
        Extractor {
            root: root.into(),
            dirs: HashSet::new(),
            created: HashSet::new(),
            dir_meta: HashMap::new(),
            buf: Vec::new(),
        }
    }

    pub(crate) fn layer(
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
    pub(crate) fn apply_file(
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

    pub(crate) fn apply(
        &mut self,
        input: &mut ChannelReader,
        blob: &Path,
    ) -> Result<(), LayerError> {
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

    pub(crate) fn entry<R: Read>(
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
                let capability = capability_of(entry);
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
                // After the owner: changing it clears a file's capabilities. Without the
                // privilege to set them (not root), the file is kept without.
                if let Some(cap) = capability {
                    let _ = crate::xattr::set_capability(&abs, &cap);
                }
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
    pub(crate) fn target(&mut self, parents: &[OsString], last: &OsStr) -> Result<PathBuf, Fail> {
        let dir = self
            .resolve(parents, true)?
            .expect("resolve creates missing folders");
        Ok(dir.join(last))
    }

    /// Returns the existing file a hard link's target names, relative to the root.
    pub(crate) fn link_source(&mut self, target: &Path) -> Result<PathBuf, Fail> {
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
    pub(crate) fn resolve(
        &mut self,
        parts: &[OsString],
        create: bool,
    ) -> Result<Option<PathBuf>, Fail> {
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
    pub(crate) fn remove(&mut self, rel: &Path) -> Result<(), Fail> {
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
    pub(crate) fn opaque(&mut self, dir: &Path) -> Result<(), Fail> {
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

    pub(crate) fn clear_except(&self, dir: &Path, keep: &HashSet<PathBuf>) -> Result<(), Fail> {
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
    pub(crate) fn finish(self) -> Result<(), LayerError> {
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
pub(crate) fn link_target<R: Read>(
    entry: &tar::Entry<'_, R>,
    missing: &str,
) -> Result<PathBuf, EntryFault> {
    entry
        .link_name()
        .map_err(EntryFault::Corrupt)?
        .map(|t| t.into_owned())
        .ok_or_else(|| EntryFault::Corrupt(io::Error::new(ErrorKind::InvalidData, missing)))
}

/// Why an entry failed: a problem of the destination, or of the archive.
pub(crate) enum EntryFault {
    Fail(Fail),
    Corrupt(io::Error),
}

impl From<Fail> for EntryFault {
    fn from(f: Fail) -> Self {
        EntryFault::Fail(f)
    }
}

pub(crate) fn time_of(mtime: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(mtime)
}

/// Copies an entry's data into a file with a large buffer.
pub(crate) fn copy_entry(
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

/// Returns the `security.capability` a tar entry's PAX records carry.
fn capability_of<R: Read>(entry: &mut tar::Entry<'_, R>) -> Option<Vec<u8>> {
    let records = entry.pax_extensions().ok()??;
    records
        .flatten()
        .find(|r| r.key_bytes() == crate::xattr::CAPABILITY_PAX.as_bytes())
        .map(|r| r.value_bytes().to_vec())
}
