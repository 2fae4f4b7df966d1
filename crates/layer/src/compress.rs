//! The compressing stage: zstd with its own workers, or gzip deflated pigz-style in
//! independent 1 MiB blocks joined into one member.

use flate2::{Compress, Crc, FlushCompress};
use slipway_oci::BlobWriter;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::Scope;

use crate::*;
#[allow(unused_imports)]
use crate::{extract::*, write::*};

/// The compressing stage for zstd: feeds the chunks to a multi-threaded zstd encoder that
/// writes into the blob.
pub(crate) fn zstd(
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
pub(crate) struct SyncBehind {
    pub(crate) tx: Option<SyncSender<()>>,
    pub(crate) next: u64,
}

impl SyncBehind {
    /// Starts the thread; without a second handle to the file, it does nothing.
    pub(crate) fn start<'scope>(s: &'scope Scope<'scope, '_>, blob: &BlobWriter) -> SyncBehind {
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
    pub(crate) fn tick(&mut self, written: u64) {
        if written >= self.next {
            self.next = written + SYNC_EVERY;
            if let Some(tx) = &self.tx {
                let _ = tx.try_send(());
            }
        }
    }
}

/// One chunk deflated by a gzip worker.
pub(crate) struct Deflated {
    pub(crate) seq: u64,
    pub(crate) input: Vec<u8>,
    pub(crate) output: Vec<u8>,
    pub(crate) crc: Crc,
}

/// The compressing stage for gzip: `threads` workers deflate chunks independently (each
/// ending in a sync flush, so the pieces concatenate into one deflate stream); this thread
/// writes them in order and adds the gzip header and trailer.
pub(crate) fn gzip<'scope>(
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
pub(crate) const SEGMENT: usize = 64 << 10;

pub(crate) fn deflate_worker(
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
pub(crate) fn deflate_chunk(
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
pub(crate) fn deflate_into(c: &mut Compress, input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
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
pub(crate) fn looks_incompressible(seg: &[u8]) -> bool {
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
