//! The copy engine: a function of a source and a sink, not of formats. Sources and sinks
//! are an OCI image layout or a registry; blobs stream from one to the other with their
//! digest checked on the way, several at a time, and a manifest is written only after
//! everything it references is in place.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode, header};
use slipway_oci::{
    Descriptor, Digest, Hasher, ImageConfig, ImageManifest, Layout, Manifest, Platform, Reference,
};

use crate::client::{BlobOutcome, Registry, push_scope};
use crate::error::{Error, redact};

/// A stream of blob bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// Names where an image is read from.
#[derive(Clone)]
pub enum Source {
    /// An OCI image layout and an optional tag.
    Layout(Arc<Layout>, Option<String>),
    /// A registry and a reference.
    Registry(Arc<Registry>, Reference),
}

/// Names where an image is written to.
#[derive(Clone)]
pub enum Sink {
    /// An OCI image layout and the tag to set.
    Layout(Arc<Layout>, String),
    /// A registry and a reference (its tag, or digest).
    Registry(Arc<Registry>, Reference),
}

/// Receives progress, for bars on a terminal.
pub trait Progress: Send + Sync {
    /// A blob transfer starts.
    fn start(&self, digest: &Digest, size: u64);
    /// `n` more bytes of a blob went through.
    fn advance(&self, digest: &Digest, n: u64);
    /// A blob is done.
    fn done(&self, digest: &Digest, outcome: BlobOutcome);
}

/// Ignores progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &Digest, _: u64) {}
    fn advance(&self, _: &Digest, _: u64) {}
    fn done(&self, _: &Digest, _: BlobOutcome) {}
}

/// Sets how a copy runs.
#[derive(Clone, Debug)]
pub struct CopyOptions {
    /// Copy only this platform of a multi-platform index; `None` copies all of it.
    pub platform: Option<Platform>,
    /// Blobs in flight at once.
    pub jobs: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            platform: None,
            jobs: 4,
        }
    }
}

/// Reports one blob of a copy.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BlobReport {
    /// The blob.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// How it reached the destination.
    pub outcome: BlobOutcome,
}

/// Reports a finished copy.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CopyReport {
    /// The digest of the manifest (or index) written under the destination tag.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// How many manifests were written (an index and its children count separately).
    pub manifests: usize,
    /// Every blob, once.
    pub blobs: Vec<BlobReport>,
    /// Bytes actually sent (skipped and mounted blobs do not count).
    pub bytes_transferred: u64,
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::Layout(l, t) => format!(
                "oci:{}{}",
                l.path().display(),
                t.as_deref().map(|t| format!(":{t}")).unwrap_or_default()
            ),
            Source::Registry(_, r) => r.to_string(),
        }
    }

    /// Returns the root manifest: bytes verbatim, media type and digest.
    ///
    /// # Errors
    /// A missing tag, auth, transport, or a digest mismatch.
    pub async fn root(&self) -> Result<(Vec<u8>, String, Digest), Error> {
        match self {
            Source::Layout(l, tag) => {
                let desc = l.resolve(tag.as_deref())?;
                let bytes = l.read_blob(&desc.digest)?;
                Ok((bytes, desc.media_type.clone(), desc.digest))
            }
            Source::Registry(reg, r) => {
                let (bytes, ct, digest) =
                    reg.get_manifest(&r.repository, &r.reference_str()).await?;
                let mt = Manifest::parse(&bytes, ct.as_deref())?.media_type(ct.as_deref());
                Ok((bytes, mt, digest))
            }
        }
    }

    /// Returns a manifest by digest, verified.
    ///
    /// # Errors
    /// As [`Source::root`].
    pub async fn manifest(&self, desc: &Descriptor) -> Result<Vec<u8>, Error> {
        match self {
            Source::Layout(l, _) => Ok(l.read_blob(&desc.digest)?),
            Source::Registry(reg, r) => Ok(reg
                .get_manifest(&r.repository, desc.digest.as_ref())
                .await?
                .0),
        }
    }

    /// Returns a small blob (an image config), verified.
    ///
    /// # Errors
    /// As [`Source::blob`], or a digest mismatch.
    pub async fn small_blob(&self, desc: &Descriptor) -> Result<Vec<u8>, Error> {
        let mut s = self.blob(desc, Arc::new(NoProgress), true).await?;
        let mut out = Vec::new();
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    /// Streams a blob; the stream fails as soon as it runs past the size, and at its end if
    /// the size (or, with `hash`, the digest) is wrong. Consumers that verify the digest
    /// themselves pass `hash = false`: a layout's blob writer checks it before renaming, and
    /// a registry checks it on the final `PUT ?digest=`, so hashing twice only costs CPU.
    ///
    /// # Errors
    /// A missing blob, auth, or transport.
    pub async fn blob(
        &self,
        desc: &Descriptor,
        progress: Arc<dyn Progress>,
        hash: bool,
    ) -> Result<ByteStream, Error> {
        let raw: ByteStream = match self {
            Source::Layout(l, _) => {
                let file = l.open_blob(&desc.digest)?;
                Box::pin(file_stream(file, l.blob_path(&desc.digest)))
            }
            Source::Registry(reg, r) => {
                let resp = reg.get_blob(&r.repository, &desc.digest).await?;
                let url = redact(resp.url());
                Box::pin(resp.bytes_stream().map_err(move |source| Error::Transport {
                    method: "GET".into(),
                    url: url.clone(),
                    error: source,
                }))
            }
        };
        Ok(verify(
            raw,
            desc.clone(),
            format!("{}@{}", self.name(), desc.digest),
            progress,
            hash,
        ))
    }
}

/// Bytes per read of a layout blob.
const READ_CHUNK: usize = 256 * 1024;

/// Streams a file from a blocking thread of its own, which reads ahead by a few chunks.
/// Each chunk is a fresh buffer that `read_to_end` fills without zeroing it first. The
/// thread stops when the stream is dropped.
fn file_stream(file: std::fs::File, path: PathBuf) -> impl Stream<Item = Result<Bytes, Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Error>>(4);
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file = file;
        loop {
            let mut buf = Vec::with_capacity(READ_CHUNK);
            let item = match (&mut file).take(READ_CHUNK as u64).read_to_end(&mut buf) {
                Ok(0) => return,
                Ok(_) => Ok(Bytes::from(buf)),
                Err(source) => Err(Error::Io {
                    what: format!("read {}", path.display()),
                    source,
                }),
            };
            let failed = item.is_err();
            if tx.blocking_send(item).is_err() || failed {
                return;
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|i| (i, rx)) })
}

/// Hashes bytes as they pass and fails the stream at its end on a digest or size mismatch.
fn verify(
    inner: ByteStream,
    desc: Descriptor,
    subject: String,
    progress: Arc<dyn Progress>,
    hash: bool,
) -> ByteStream {
    struct State {
        inner: ByteStream,
        hasher: Option<Hasher>,
        seen: u64,
        desc: Descriptor,
        subject: String,
        progress: Arc<dyn Progress>,
    }
    let st = State {
        inner,
        hasher: hash.then(Hasher::new),
        seen: 0,
        desc,
        subject,
        progress,
    };
    Box::pin(futures_util::stream::try_unfold(st, |mut st| async move {
        match st.inner.next().await {
            Some(chunk) => {
                let chunk = chunk?;
                st.seen += chunk.len() as u64;
                if st.seen > st.desc.size {
                    return Err(Error::Protocol {
                        subject: st.subject.clone(),
                        why: format!("more than the {} bytes its descriptor says", st.desc.size),
                    });
                }
                if let Some(h) = st.hasher.as_mut() {
                    h.update(&chunk);
                }
                st.progress.advance(&st.desc.digest, chunk.len() as u64);
                Ok(Some((chunk, st)))
            }
            None => {
                let actual = st.hasher.take().map(Hasher::finish);
                if st.seen != st.desc.size {
                    return Err(Error::Protocol {
                        subject: st.subject.clone(),
                        why: format!(
                            "got {} bytes, its descriptor says {}",
                            st.seen, st.desc.size
                        ),
                    });
                }
                match actual {
                    Some(a) if a != st.desc.digest => Err(Error::DigestMismatch {
                        subject: st.subject.clone(),
                        expected: st.desc.digest.to_string(),
                        actual: a.to_string(),
                    }),
                    _ => Ok(None),
                }
            }
        }
    }))
}

/// Stores a stream in a layout blob, on a task of its own: the task receives, hashes and
/// writes each chunk as it comes, so blobs in flight spread over the runtime's workers (one
/// task polling them all would hash and write every blob on one core), without handing
/// chunks to another thread. Writes go to the page cache, so they do not hold a worker for
/// long. The writer commits only after the stream ended cleanly; on a stream error it is
/// dropped, which removes its temporary file.
async fn write_in_task(
    mut stream: ByteStream,
    writer: slipway_oci::BlobWriter,
    digest: &Digest,
    source: String,
) -> Result<(), Error> {
    let what = format!("write blob {digest}");
    let io_err = move |source| Error::Io {
        what: what.clone(),
        source,
    };
    let task_err = io_err.clone();
    let task = tokio::spawn(async move {
        let mut w = writer;
        while let Some(chunk) = stream.next().await {
            std::io::Write::write_all(&mut w, &chunk?).map_err(&task_err)?;
        }
        // The layout verifies what arrived; a mismatch is the source's fault, so it is
        // named, not the local file that was never kept.
        w.commit().map(|_| ()).map_err(|e| match e {
            slipway_oci::Error::DigestMismatch {
                expected, actual, ..
            } => Error::DigestMismatch {
                subject: source,
                expected: expected.to_string(),
                actual: actual.to_string(),
            },
            slipway_oci::Error::SizeMismatch {
                expected, actual, ..
            } => Error::Protocol {
                subject: source,
                why: format!("got {actual} bytes, its descriptor says {expected}"),
            },
            other => Error::from(other),
        })
    });
    // Awaited in every case, so no temporary file outlives this call.
    match task.await {
        Ok(r) => r,
        Err(e) => Err(io_err(std::io::Error::other(e.to_string()))),
    }
}

impl Sink {
    async fn has_blob(&self, desc: &Descriptor) -> Result<bool, Error> {
        match self {
            Sink::Layout(l, _) => Ok(l.has_blob(&desc.digest, Some(desc.size))),
            Sink::Registry(reg, r) => {
                reg.has_blob(
                    &r.repository,
                    &desc.digest,
                    &push_scope(&r.repository, None),
                )
                .await
            }
        }
    }

    pub(crate) async fn put_blob(
        &self,
        src: &Source,
        desc: &Descriptor,
        progress: Arc<dyn Progress>,
    ) -> Result<BlobOutcome, Error> {
        if self.has_blob(desc).await? {
            return Ok(BlobOutcome::Existed);
        }
        match self {
            Sink::Layout(l, _) => {
                let stream = src.blob(desc, progress, false).await?;
                let writer = l.blob_writer(&desc.digest, Some(desc.size))?;
                let source = format!("{}@{}", src.name(), desc.digest);
                write_in_task(stream, writer, &desc.digest, source).await?;
                Ok(BlobOutcome::Uploaded)
            }
            Sink::Registry(reg, r) => {
                let from = match src {
                    Source::Registry(sreg, sref)
                        if sreg.host() == reg.host() && sref.repository != r.repository =>
                    {
                        Some(sref.repository.as_str())
                    }
                    _ => None,
                };
                upload(reg, &r.repository, desc, from, src, progress).await
            }
        }
    }

    pub(crate) async fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        digest: &Digest,
        tag: Option<&str>,
    ) -> Result<(), Error> {
        match self {
            Sink::Layout(l, _) => {
                let written = l.write_blob(bytes)?;
                if written != *digest {
                    return Err(Error::DigestMismatch {
                        subject: "manifest".into(),
                        expected: digest.to_string(),
                        actual: written.to_string(),
                    });
                }
                if let Some(t) = tag {
                    let desc = Descriptor {
                        media_type: media_type.into(),
                        digest: digest.clone(),
                        size: bytes.len() as u64,
                        urls: None,
                        annotations: None,
                        platform: None,
                        artifact_type: None,
                    };
                    l.set_tag(t, &desc)?;
                }
                Ok(())
            }
            Sink::Registry(reg, r) => {
                let reference = tag
                    .map(str::to_string)
                    .unwrap_or_else(|| digest.to_string());
                reg.put_manifest(&r.repository, &reference, bytes, media_type)
                    .await
            }
        }
    }

    fn root_tag(&self) -> Option<String> {
        match self {
            Sink::Layout(_, t) => Some(t.clone()),
            Sink::Registry(_, r) => r.tag.clone(),
        }
    }
}

/// Uploads one blob: mount when the source is another repository on the same registry,
/// else POST, one streaming PATCH, then PUT `?digest=`. Retries the whole blob on
/// transient failures.
pub(crate) async fn upload(
    reg: &Registry,
    repo: &str,
    desc: &Descriptor,
    from: Option<&str>,
    src: &Source,
    progress: Arc<dyn Progress>,
) -> Result<BlobOutcome, Error> {
    let scopes = push_scope(repo, from);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match upload_once(reg, repo, desc, from, src, progress.clone(), &scopes).await {
            Err(e) if e.is_retryable() && attempt < reg.retry.attempts => {
                tokio::time::sleep(reg.retry.backoff * 2u32.pow(attempt - 1)).await;
                // A restarted registry may already hold the blob.
                if reg
                    .has_blob(repo, &desc.digest, &scopes)
                    .await
                    .unwrap_or(false)
                {
                    return Ok(BlobOutcome::Uploaded);
                }
            }
            other => return other,
        }
    }
}

async fn upload_once(
    reg: &Registry,
    repo: &str,
    desc: &Descriptor,
    from: Option<&str>,
    src: &Source,
    progress: Arc<dyn Progress>,
    scopes: &[String],
) -> Result<BlobOutcome, Error> {
    let mut start = reg.url(&format!("/v2/{repo}/blobs/uploads/"))?;
    if let Some(f) = from {
        start
            .query_pairs_mut()
            .append_pair("mount", desc.digest.as_ref())
            .append_pair("from", f);
    }
    let resp = reg
        .send(Method::POST, start, scopes, |rb| {
            rb.header(header::CONTENT_LENGTH, "0")
        })
        .await?;
    if resp.status() == StatusCode::CREATED && from.is_some() {
        return Ok(BlobOutcome::Mounted);
    }
    let resp = Registry::check("POST", resp).await?;
    let location = reg.location(&resp)?;

    let min_chunk = resp
        .headers()
        .get("oci-chunk-min-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);

    // The registry verifies the digest on the final PUT; no need to hash here too.
    let stream = src.blob(desc, progress.clone(), false).await?;
    let body = reqwest::Body::wrap_stream(stream);
    let rb = reg
        .http()
        .patch(location.clone())
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, desc.size.to_string())
        .body(body);
    let rb = reg.authorize(rb, &location, scopes);
    let resp = match rb.send().await {
        Ok(resp) => resp,
        // The connection broke mid-upload: ask the registry how much it kept, and send
        // only the rest (distribution-spec "get blob upload status", `Range: 0-<end>`).
        Err(source) => {
            let broken = Error::Transport {
                method: "PATCH".into(),
                url: redact(&location),
                error: source,
            };
            let (resumed_at, at) = match upload_status(reg, &location, scopes).await {
                Ok(Some(s)) => s,
                _ => return Err(broken),
            };
            let done = chunked(reg, desc, src, progress, resumed_at, at, min_chunk, scopes).await?;
            return finish(reg, done, desc, scopes).await;
        }
    };
    if resp.status() == StatusCode::UNAUTHORIZED {
        // The token expired mid-copy: learn a new one and let the caller retry the blob.
        reg.handle_challenge(&resp, scopes).await?;
        return Err(Error::Status {
            method: "PATCH".into(),
            url: redact(&location),
            status: 503,
            codes: vec!["TOKEN_EXPIRED".into()],
            message: None,
            verdict: None,
        });
    }
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
        // A proxy in front of the registry limits request bodies (nginx
        // client_max_body_size): only now fall back to chunks.
        let done = chunked(reg, desc, src, progress, location, 0, min_chunk, scopes).await?;
        return finish(reg, done, desc, scopes).await;
    }
    let resp = Registry::check("PATCH", resp).await?;
    let done = reg.location(&resp)?;
    finish(reg, done, desc, scopes).await
}

/// Completes an upload: `PUT <location>?digest=`.
async fn finish(
    reg: &Registry,
    mut done: reqwest::Url,
    desc: &Descriptor,
    scopes: &[String],
) -> Result<BlobOutcome, Error> {
    done.query_pairs_mut()
        .append_pair("digest", desc.digest.as_ref());
    let resp = reg
        .send(Method::PUT, done, scopes, |rb| {
            rb.header(header::CONTENT_LENGTH, "0")
        })
        .await?;
    Registry::check("PUT", resp).await?;
    Ok(BlobOutcome::Uploaded)
}

/// Asks an upload session how many bytes it holds. Returns the session's new location and
/// the offset to continue from, or `None` when the session is gone.
async fn upload_status(
    reg: &Registry,
    location: &reqwest::Url,
    scopes: &[String],
) -> Result<Option<(reqwest::Url, u64)>, Error> {
    let mut resp = reg
        .send(Method::GET, location.clone(), scopes, |rb| rb)
        .await?;
    if resp.status() == StatusCode::NOT_FOUND && location.query().is_some() {
        // Distribution signs the upload's offset into `_state`; after a lost answer ours
        // is stale and refused, but the session itself is still known by its UUID.
        let mut bare = location.clone();
        bare.set_query(None);
        resp = reg.send(Method::GET, bare, scopes, |rb| rb).await?;
    }
    if resp.status() != StatusCode::NO_CONTENT {
        return Ok(None);
    }
    let next = match reg.location(&resp) {
        Ok(u) => u,
        Err(_) => location.clone(),
    };
    let end = resp
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            r.trim_start_matches("bytes=")
                .split_once('-')
                .map(|(_, e)| e.to_string())
        })
        .and_then(|e| e.parse::<u64>().ok());
    // "0-0" means nothing was kept (the spec cannot say "empty" otherwise).
    Ok(Some((
        next,
        end.map_or(0, |e| if e == 0 { 0 } else { e + 1 }),
    )))
}

/// Sends the blob from `offset` as `PATCH`es with `Content-Range`, halving the chunk when a
/// proxy says 413. Returns the location to `PUT` to.
#[allow(clippy::too_many_arguments)]
async fn chunked(
    reg: &Registry,
    desc: &Descriptor,
    src: &Source,
    progress: Arc<dyn Progress>,
    mut location: reqwest::Url,
    offset: u64,
    min_chunk: u64,
    scopes: &[String],
) -> Result<reqwest::Url, Error> {
    let mut chunk = (8u64 << 20).max(min_chunk);
    let mut stream = src.blob(desc, progress, false).await?;
    let mut pending: Vec<u8> = Vec::new();
    let mut skipped = 0u64;
    let mut sent = offset;
    let mut exhausted = false;
    while sent < desc.size {
        // Fill `pending` up to one chunk, dropping what the registry already holds.
        while !exhausted && (pending.len() as u64) < chunk {
            match stream.next().await {
                Some(bytes) => {
                    let bytes = bytes?;
                    let skip = (offset - skipped).min(bytes.len() as u64) as usize;
                    skipped += skip as u64;
                    pending.extend_from_slice(&bytes[skip..]);
                }
                None => exhausted = true,
            }
        }
        let len = (pending.len() as u64).min(chunk);
        if len == 0 {
            return Err(Error::Protocol {
                subject: desc.digest.to_string(),
                why: "the source ended before the blob's size".into(),
            });
        }
        let body: Vec<u8> = pending[..len as usize].to_vec();
        let range = format!("{}-{}", sent, sent + len - 1);
        let rb = reg
            .http()
            .patch(location.clone())
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_RANGE, range)
            .header(header::CONTENT_LENGTH, len.to_string())
            .body(body);
        let rb = reg.authorize(rb, &location, scopes);
        let resp = rb.send().await.map_err(|source| Error::Transport {
            method: "PATCH".into(),
            url: redact(&location),
            error: source,
        })?;
        if resp.status() == StatusCode::PAYLOAD_TOO_LARGE
            && chunk > 256 << 10
            && chunk / 2 >= min_chunk
        {
            chunk /= 2;
            continue;
        }
        let resp = Registry::check("PATCH", resp).await?;
        location = reg.location(&resp)?;
        pending.drain(..len as usize);
        sent += len;
    }
    Ok(location)
}

/// Copies an image (or a whole index) from `src` to `dst`.
///
/// # Errors
/// Any source, sink or verification error. The destination's root manifest is never
/// written unless every manifest and blob below it is in place.
pub async fn copy(
    src: &Source,
    dst: &Sink,
    opts: &CopyOptions,
    progress: Arc<dyn Progress>,
) -> Result<CopyReport, Error> {
    // A failed copy into a layout leaves it as it was: blobs it added are removed again.
    let before = match dst {
        Sink::Layout(l, _) => Some(blob_names(l)),
        Sink::Registry(..) => None,
    };
    let result = copy_inner(src, dst, opts, progress).await;
    if let (Err(_), Sink::Layout(l, _), Some(before)) = (&result, dst, before) {
        for name in blob_names(l).difference(&before) {
            let _ = std::fs::remove_file(l.path().join("blobs/sha256").join(name));
        }
    }
    result
}

fn blob_names(l: &Layout) -> BTreeSet<String> {
    std::fs::read_dir(l.path().join("blobs/sha256"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// What every step of one copy needs.
struct Copy<'a> {
    src: &'a Source,
    dst: &'a Sink,
    opts: &'a CopyOptions,
    progress: Arc<dyn Progress>,
}

/// A manifest as it travels: its bytes verbatim, media type and digest.
struct Raw<'a> {
    bytes: &'a [u8],
    media_type: &'a str,
    digest: &'a Digest,
}

async fn copy_inner(
    src: &Source,
    dst: &Sink,
    opts: &CopyOptions,
    progress: Arc<dyn Progress>,
) -> Result<CopyReport, Error> {
    let (bytes, media_type, digest) = src.root().await?;
    let manifest = Manifest::parse(&bytes, Some(&media_type))?;
    let mut report = CopyReport {
        digest: digest.clone(),
        media_type: media_type.clone(),
        manifests: 0,
        blobs: vec![],
        bytes_transferred: 0,
    };
    let cx = Copy {
        src,
        dst,
        opts,
        progress,
    };
    let tag = dst.root_tag();
    let root = Raw {
        bytes: &bytes,
        media_type: &media_type,
        digest: &digest,
    };
    match (manifest, &opts.platform) {
        (Manifest::Index(index), Some(want)) => {
            let child = index
                .find_platform(want)
                .ok_or_else(|| Error::PlatformNotFound {
                    reference: src.name(),
                    platform: want.to_string(),
                    available: index.platforms().join(", "),
                })?;
            cx.copy_child(child, tag.as_deref(), &mut report).await?;
            report.digest = child.digest.clone();
            report.media_type = child.media_type.clone();
        }
        (Manifest::Index(index), None) => {
            for child in &index.manifests {
                cx.copy_child(child, None, &mut report).await?;
            }
            dst.put_manifest(root.bytes, root.media_type, root.digest, tag.as_deref())
                .await?;
            report.manifests += 1;
        }
        (Manifest::Image(image), want) => {
            if let Some(want) = want {
                // A single image is copied only when it is the platform asked for; a config
                // that names none is taken as it is.
                let config = src.small_blob(&image.config).await?;
                let have = serde_json::from_slice::<ImageConfig>(&config)
                    .ok()
                    .and_then(|c| c.platform());
                if let Some(have) = have.filter(|h| !h.matches(want)) {
                    return Err(Error::PlatformNotFound {
                        reference: src.name(),
                        platform: want.to_string(),
                        available: format!("{have}; it is a single-platform image"),
                    });
                }
            }
            cx.copy_image(&image, &root, tag.as_deref(), &mut report)
                .await?
        }
    }
    Ok(report)
}

impl Copy<'_> {
    /// Copies one image manifest of an index, fetched by digest.
    async fn copy_child(
        &self,
        child: &Descriptor,
        tag: Option<&str>,
        report: &mut CopyReport,
    ) -> Result<(), Error> {
        let bytes = self.src.manifest(child).await?;
        let Manifest::Image(image) = Manifest::parse(&bytes, Some(&child.media_type))? else {
            return Err(Error::Protocol {
                subject: format!("{}@{}", self.src.name(), child.digest),
                why: "nested indexes are not supported".into(),
            });
        };
        let raw = Raw {
            bytes: &bytes,
            media_type: &child.media_type,
            digest: &child.digest,
        };
        self.copy_image(&image, &raw, tag, report).await
    }

    /// Copies an image's blobs, several at a time and largest first, then its manifest.
    async fn copy_image(
        &self,
        image: &ImageManifest,
        raw: &Raw<'_>,
        tag: Option<&str>,
        report: &mut CopyReport,
    ) -> Result<(), Error> {
        let mut seen = BTreeSet::new();
        let mut blobs: Vec<Descriptor> = std::iter::once(&image.config)
            .chain(&image.layers)
            .filter(|d| seen.insert(d.digest.clone()))
            .cloned()
            .collect();
        // Largest first, so the long pole starts early.
        blobs.sort_by_key(|b| std::cmp::Reverse(b.size));
        let results: Vec<Result<BlobReport, Error>> =
            futures_util::stream::iter(blobs.into_iter().map(|desc| {
                let progress = self.progress.clone();
                async move {
                    progress.start(&desc.digest, desc.size);
                    let outcome = self.dst.put_blob(self.src, &desc, progress.clone()).await?;
                    progress.done(&desc.digest, outcome);
                    Ok(BlobReport {
                        digest: desc.digest.clone(),
                        size: desc.size,
                        outcome,
                    })
                }
            }))
            .buffer_unordered(self.opts.jobs.max(1))
            .collect()
            .await;
        for r in results {
            let r = r?;
            if r.outcome == BlobOutcome::Uploaded {
                report.bytes_transferred += r.size;
            }
            if !report.blobs.iter().any(|b| b.digest == r.digest) {
                report.blobs.push(r);
            }
        }
        // Only now, with every blob in place, the manifest.
        self.dst
            .put_manifest(raw.bytes, raw.media_type, raw.digest, tag)
            .await?;
        report.manifests += 1;
        Ok(())
    }
}
