//! Mirroring: many images, from one or more registries, into one registry or into a folder
//! of OCI layouts, in one run.
//!
//! A run has three phases. First every source is expanded into images (a repository's
//! tags are listed and filtered) and every image's manifests are read, so the whole run is
//! known before a byte moves. Then the blobs cross: each distinct blob once for the whole
//! run, however many images share it, largest first, with one bound on how many are in
//! flight. A blob the destination already holds is skipped, and a blob that one of the
//! run's destination repositories holds is mounted (or, between layouts, hard-linked) into
//! the others. Last, the manifests are written, each image's only when every blob under it
//! is in place. A failed image never stops the others; the report says which failed, and
//! why.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use regex::Regex;
use serde::Serialize;
use slipway_oci::{Descriptor, Digest, Layout, Manifest, Reference};

use crate::client::{BlobOutcome, Registry, push_scope};
use crate::copy::{BlobReport, NoProgress, Progress, Sink, Source, upload};
use crate::error::Error;
use crate::semver::Constraints;

/// Chooses which tags of a repository a source takes. Both filters must pass when both
/// are given; with neither, every tag is taken.
#[derive(Clone, Debug, Default)]
pub struct TagFilter {
    /// A regular expression a tag must match somewhere (unanchored, as `skopeo sync`'s
    /// `images-by-tag-regex` reads it; anchor it with `^...$` for a whole-tag match).
    pub regex: Option<Regex>,
    /// A semantic-version range a tag must satisfy; tags that are not versions never do.
    pub semver: Option<Constraints>,
}

impl TagFilter {
    /// Returns whether a tag passes.
    pub fn matches(&self, tag: &str) -> bool {
        self.regex.as_ref().is_none_or(|r| r.is_match(tag))
            && self.semver.as_ref().is_none_or(|c| c.matches(tag))
    }

    /// Returns whether the filter takes every tag.
    pub fn is_empty(&self) -> bool {
        self.regex.is_none() && self.semver.is_none()
    }
}

/// One source as the user wrote it: a repository, with the tag or digest when one image is
/// meant.
#[derive(Clone, Debug)]
pub struct SourceSpec {
    /// The repository, and its tag or digest when `tags` is `None`.
    pub reference: Reference,
    /// `None`: only the image the reference names. `Some`: every tag of the repository
    /// that passes the filter.
    pub tags: Option<TagFilter>,
}

impl SourceSpec {
    /// Parses `HOST/REPO` (all its tags, filtered by `filter`), `HOST/REPO:TAG` or
    /// `HOST/REPO@DIGEST` (one image; a filter does not apply to it).
    ///
    /// # Errors
    /// [`Error::Name`] for a malformed reference.
    pub fn parse(text: &str, filter: &TagFilter) -> Result<SourceSpec, Error> {
        let reference = Reference::parse(text)?;
        let bare = text.strip_prefix("docker://").unwrap_or(text);
        let one = bare.contains('@') || slipway_names::split_tag(bare).1.is_some();
        Ok(SourceSpec {
            tags: (!one).then(|| filter.clone()),
            reference,
        })
    }

    /// Returns the text that names this source in reports.
    pub fn name(&self) -> String {
        match self.tags {
            Some(_) => format!("{}/{}", self.reference.registry, self.reference.repository),
            None => self.reference.to_string(),
        }
    }
}

/// Reads a list of sources in the spirit of `skopeo sync --src yaml`:
///
/// ```yaml
/// registry.example:5000:
///   images:
///     team/app: []                 # every tag
///     team/base: ["1.0", "sha256:..."]
///   images-by-tag-regex:
///     team/web: ^v1\.
///   images-by-semver:
///     team/api: ">= 1.2, < 2"
/// ```
///
/// `tls-verify: true` is accepted. `tls-verify: false`, `cert-dir` and `credentials` are
/// refused: trust and credentials come from slipway's own flags and stores, for every
/// command alike.
///
/// # Errors
/// [`Error::ListFile`], naming the file and what is wrong.
pub fn parse_list_file(path: &Path, text: &str) -> Result<Vec<SourceSpec>, Error> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    struct Entry {
        #[serde(default)]
        images: BTreeMap<String, Vec<String>>,
        #[serde(default)]
        images_by_tag_regex: BTreeMap<String, String>,
        #[serde(default)]
        images_by_semver: BTreeMap<String, String>,
        tls_verify: Option<bool>,
        cert_dir: Option<serde_json::Value>,
        credentials: Option<serde_json::Value>,
    }
    let err = |why: String| Error::ListFile {
        path: path.to_path_buf(),
        why,
    };
    let registries: BTreeMap<String, Entry> = if text.trim().is_empty() {
        BTreeMap::new()
    } else {
        serde_saphyr::from_str(text).map_err(|e| err(e.to_string()))?
    };
    let mut specs = Vec::new();
    for (host, entry) in registries {
        if entry.tls_verify == Some(false) {
            return Err(err(format!(
                "{host}: `tls-verify: false` is refused; slipway does not switch verification off from a list. Trust the registry's CA with --registry-ca {host}=CA.crt"
            )));
        }
        if entry.cert_dir.is_some() {
            return Err(err(format!(
                "{host}: `cert-dir` is not read; trust the registry with --registry-ca {host}=CA.crt or --certs-d DIR, which every slipway command reads alike"
            )));
        }
        if entry.credentials.is_some() {
            return Err(err(format!(
                "{host}: `credentials` are refused in a list file (they would sit in plain text); run `slipway login {host} -u USER --password-stdin` once instead"
            )));
        }
        let at = |repo: &str, suffix: &str| -> Result<Reference, Error> {
            Reference::parse(&format!("{host}/{repo}{suffix}"))
                .map_err(|e| err(format!("{host}: `{repo}`: {e}")))
        };
        let whole = |repo: &str, filter: TagFilter| -> Result<SourceSpec, Error> {
            Ok(SourceSpec {
                reference: at(repo, "")?,
                tags: Some(filter),
            })
        };
        for (repo, tags) in &entry.images {
            if tags.is_empty() {
                specs.push(whole(repo, TagFilter::default())?);
            }
            for t in tags {
                let suffix = if t.contains(':') {
                    format!("@{t}")
                } else {
                    format!(":{t}")
                };
                specs.push(SourceSpec {
                    reference: at(repo, &suffix)?,
                    tags: None,
                });
            }
        }
        for (repo, re) in &entry.images_by_tag_regex {
            let regex = Regex::new(re).map_err(|e| {
                err(format!(
                    "{host}: images-by-tag-regex for `{repo}`: not a regular expression: {e}"
                ))
            })?;
            let filter = TagFilter {
                regex: Some(regex),
                semver: None,
            };
            specs.push(whole(repo, filter)?);
        }
        for (repo, range) in &entry.images_by_semver {
            let c: Constraints = range.parse().map_err(|e| {
                err(format!(
                    "{host}: images-by-semver for `{repo}`: `{range}` is not a version range: {e}"
                ))
            })?;
            let filter = TagFilter {
                regex: None,
                semver: Some(c),
            };
            specs.push(whole(repo, filter)?);
        }
    }
    Ok(specs)
}

/// One source, ready to read: its spec and a client for its registry.
#[derive(Clone)]
pub struct SyncSource {
    /// What to take.
    pub spec: SourceSpec,
    /// The source's registry.
    pub registry: Arc<Registry>,
}

/// Where a sync writes.
#[derive(Clone)]
pub enum SyncTarget {
    /// A registry. Each source repository keeps its path, without its host, under the
    /// prefix: `docker.io/library/alpine` becomes `PREFIX/library/alpine`.
    Registry {
        /// The destination registry.
        registry: Arc<Registry>,
        /// The path in front of every repository; empty for none.
        prefix: String,
    },
    /// A folder with one OCI layout per source repository, at the repository's path.
    Layouts(PathBuf),
}

impl SyncTarget {
    /// The destination of one source repository.
    fn dest(&self, repository: &str) -> Dest {
        match self {
            SyncTarget::Registry { registry, prefix } => Dest::Registry {
                registry: registry.clone(),
                repository: if prefix.is_empty() {
                    repository.to_string()
                } else {
                    format!("{prefix}/{repository}")
                },
            },
            SyncTarget::Layouts(dir) => Dest::Layout {
                dir: dir.join(repository),
                layout: Mutex::new(None),
            },
        }
    }

    /// Names the target in reports.
    pub fn name(&self) -> String {
        match self {
            SyncTarget::Registry { registry, prefix } if prefix.is_empty() => {
                registry.host().to_string()
            }
            SyncTarget::Registry { registry, prefix } => format!("{}/{prefix}", registry.host()),
            SyncTarget::Layouts(dir) => format!("oci:{}", dir.display()),
        }
    }
}

/// Sets how a sync runs.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// Blobs in flight at once, for the whole run. Manifest reads and writes share the
    /// same bound.
    pub jobs: usize,
    /// Read sources and manifests, and report what would be copied, writing nothing.
    pub dry_run: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            jobs: 8,
            dry_run: false,
        }
    }
}

/// Says what happened to one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageStatus {
    /// Its blobs and manifests were written.
    Copied,
    /// The destination already had it under the same digest; nothing was sent.
    Unchanged,
    /// A dry run would copy it.
    WouldCopy,
    /// It did not make it; see the error.
    Failed,
}

/// Reports one image of a sync.
#[derive(Clone, Debug, Serialize)]
pub struct ImageReport {
    /// The source image (or repository, when listing its tags failed).
    pub source: String,
    /// Where it goes.
    pub destination: String,
    /// What happened.
    pub status: ImageStatus,
    /// The digest of its manifest or index, once read.
    pub digest: Option<Digest>,
    /// Its media type, once read.
    pub media_type: Option<String>,
    /// Manifests it has (an index and each of its images count).
    pub manifests: usize,
    /// Its blobs, each once, with how each reached the destination (empty when unchanged
    /// or in a dry run).
    pub blobs: Vec<BlobReport>,
    /// The size of all its blobs.
    pub size: u64,
    /// Why it failed.
    #[serde(skip)]
    pub error: Option<Arc<Error>>,
}

/// Reports a whole sync.
#[derive(Clone, Debug, Serialize)]
pub struct SyncReport {
    /// Every image, in the order of the sources and their sorted tags.
    pub images: Vec<ImageReport>,
    /// Bytes actually sent, across the run; each shared blob counts once.
    pub bytes_transferred: u64,
    /// Sources that selected no image (a filter that matched no tag, an empty repository).
    pub empty_sources: Vec<String>,
}

impl SyncReport {
    /// Returns how many images failed.
    pub fn failed(&self) -> usize {
        self.images
            .iter()
            .filter(|i| i.status == ImageStatus::Failed)
            .count()
    }
}

/// Receives progress for a whole run, on top of each blob's.
pub trait SyncProgress: Progress {
    /// Every image is read: this many will be copied, with this many distinct blobs of
    /// this many bytes among them.
    fn planned(&self, _images: usize, _blobs: usize, _bytes: u64) {}
    /// An image is finished: copied, unchanged or failed.
    fn image_finished(&self, _image: &ImageReport) {}
}

impl SyncProgress for NoProgress {}

/// One destination repository (or layout) of the run.
enum Dest {
    Registry {
        registry: Arc<Registry>,
        repository: String,
    },
    Layout {
        dir: PathBuf,
        layout: Mutex<Option<Arc<Layout>>>,
    },
}

impl Dest {
    fn name(&self, tag: Option<&str>, digest: Option<&Digest>) -> String {
        let base = match self {
            Dest::Registry {
                registry,
                repository,
            } => format!("{}/{repository}", registry.host()),
            Dest::Layout { dir, .. } => format!("oci:{}", dir.display()),
        };
        match (tag, digest) {
            (Some(t), _) => format!("{base}:{t}"),
            (None, Some(d)) => format!("{base}@{d}"),
            (None, None) => base,
        }
    }

    /// The layout, created on first use (a dry run never creates one).
    fn layout(&self) -> Result<Option<Arc<Layout>>, Error> {
        let Dest::Layout { dir, layout } = self else {
            return Ok(None);
        };
        let mut slot = layout.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(Arc::new(Layout::create(dir)?));
        }
        Ok(slot.clone())
    }

    /// The layout if it exists already, without creating it.
    fn existing_layout(&self) -> Option<Arc<Layout>> {
        let Dest::Layout { dir, layout } = self else {
            return None;
        };
        let slot = layout.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some(l) => Some(l.clone()),
            None => Layout::open(dir).ok().map(Arc::new),
        }
    }

    fn sink(&self, tag: Option<&str>) -> Result<Sink, Error> {
        Ok(match self {
            Dest::Registry {
                registry,
                repository,
            } => Sink::Registry(
                registry.clone(),
                Reference {
                    registry: registry.host().to_string(),
                    repository: repository.clone(),
                    tag: tag.map(str::to_string),
                    digest: None,
                },
            ),
            Dest::Layout { .. } => Sink::Layout(
                self.layout()?.expect("a layout destination"),
                tag.unwrap_or_default().to_string(),
            ),
        })
    }

    async fn has_blob(&self, desc: &Descriptor) -> Result<bool, Error> {
        match self {
            Dest::Registry {
                registry,
                repository,
            } => {
                registry
                    .has_blob(repository, &desc.digest, &push_scope(repository, None))
                    .await
            }
            Dest::Layout { .. } => Ok(self
                .existing_layout()
                .is_some_and(|l| l.has_blob(&desc.digest, Some(desc.size)))),
        }
    }

    /// The digest the destination holds under a tag, if any.
    async fn current(&self, tag: &str) -> Result<Option<Digest>, Error> {
        match self {
            Dest::Registry {
                registry,
                repository,
            } => registry.manifest_digest(repository, tag).await,
            Dest::Layout { .. } => Ok(self
                .existing_layout()
                .and_then(|l| l.resolve(Some(tag)).ok())
                .map(|d| d.digest)),
        }
    }

    /// Puts a blob another destination of the run holds: a cross-repository mount, or a
    /// hard link between layouts. Either falls back to a copy.
    async fn put_from(
        &self,
        holder: &Dest,
        src: &Source,
        desc: &Descriptor,
        progress: Arc<dyn Progress>,
    ) -> Result<BlobOutcome, Error> {
        match (self, holder) {
            (
                Dest::Registry {
                    registry,
                    repository,
                },
                Dest::Registry {
                    repository: from, ..
                },
            ) => upload(registry, repository, desc, Some(from), src, progress).await,
            (Dest::Layout { .. }, Dest::Layout { .. }) => {
                let (Some(to), Some(from)) = (self.layout()?, holder.existing_layout()) else {
                    return self.sink(None)?.put_blob(src, desc, progress).await;
                };
                let target = to.blob_path(&desc.digest);
                match std::fs::hard_link(from.blob_path(&desc.digest), &target) {
                    Ok(()) => Ok(BlobOutcome::Mounted),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Ok(BlobOutcome::Existed)
                    }
                    Err(_) => self.sink(None)?.put_blob(src, desc, progress).await,
                }
            }
            _ => self.sink(None)?.put_blob(src, desc, progress).await,
        }
    }
}

/// Where one blob went: each destination it was wanted in, and how it got there.
type Placements = Vec<(usize, Result<BlobOutcome, Arc<Error>>)>;

/// One image of the run: where it comes from and goes.
struct Item {
    source_name: String,
    source: Source,
    dest: usize,
    /// The destination tag; `None` writes by digest.
    tag: Option<String>,
}

/// An image whose manifests are read.
struct Read {
    /// Children first, the root last: bytes, media type, digest.
    manifests: Vec<(Vec<u8>, String, Digest)>,
    blobs: Vec<Descriptor>,
    unchanged: bool,
}

/// Mirrors every image the sources select into the target.
///
/// # Errors
/// Only errors that stop the run before it starts (none today: listing a repository's tags
/// or reading an image fails that source or image alone, and shows in its report).
pub async fn sync(
    sources: &[SyncSource],
    target: &SyncTarget,
    opts: &SyncOptions,
    progress: Arc<dyn SyncProgress>,
) -> Result<SyncReport, Error> {
    let jobs = opts.jobs.max(1);
    let mut report = SyncReport {
        images: vec![],
        bytes_transferred: 0,
        empty_sources: vec![],
    };
    let mut dests: Vec<Dest> = Vec::new();
    let mut dest_index: HashMap<String, usize> = HashMap::new();

    // 1. Sources into images: list tags where a whole repository is asked for.
    let listed: Vec<Result<Vec<String>, Error>> =
        futures_util::stream::iter(sources.iter().map(|s| async move {
            match &s.spec.tags {
                None => Ok(vec![]),
                Some(filter) => {
                    let mut tags = s.registry.tags(&s.spec.reference.repository).await?;
                    tags.retain(|t| filter.matches(t));
                    tags.sort();
                    Ok(tags)
                }
            }
        }))
        .buffered(jobs)
        .collect()
        .await;
    let mut items: Vec<Item> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (s, tags) in sources.iter().zip(listed) {
        let r = &s.spec.reference;
        let dest = *dest_index.entry(r.repository.clone()).or_insert_with(|| {
            dests.push(target.dest(&r.repository));
            dests.len() - 1
        });
        let refs: Vec<Reference> = match (&s.spec.tags, tags) {
            (None, _) => vec![r.clone()],
            (Some(_), Ok(tags)) => tags.iter().map(|t| r.with_tag(t)).collect(),
            (Some(_), Err(e)) => {
                let image = ImageReport {
                    source: s.spec.name(),
                    destination: dests[dest].name(None, None),
                    status: ImageStatus::Failed,
                    digest: None,
                    media_type: None,
                    manifests: 0,
                    blobs: vec![],
                    size: 0,
                    error: Some(Arc::new(e)),
                };
                progress.image_finished(&image);
                report.images.push(image);
                continue;
            }
        };
        if refs.is_empty() {
            report.empty_sources.push(s.spec.name());
        }
        for reference in refs {
            let tag = reference.tag.clone();
            if !seen.insert((reference.to_string(), dest, tag.clone())) {
                continue;
            }
            items.push(Item {
                source_name: reference.to_string(),
                source: Source::Registry(s.registry.clone(), reference),
                dest,
                tag,
            });
        }
    }
    let dests = dests;

    // 2. Read every image's manifests, and whether the destination has it already.
    let reads: Vec<Result<Read, Arc<Error>>> = futures_util::stream::iter(
        items
            .iter()
            .map(|item| async { read_image(item, &dests[item.dest]).await.map_err(Arc::new) }),
    )
    .buffered(jobs)
    .collect()
    .await;
    let first = report.images.len();
    for (item, read) in items.iter().zip(&reads) {
        let (digest, media_type, manifests, size, status, error) = match read {
            Ok(r) => {
                let (_, mt, d) = r.manifests.last().expect("a root manifest");
                let status = if r.unchanged {
                    ImageStatus::Unchanged
                } else if opts.dry_run {
                    ImageStatus::WouldCopy
                } else {
                    ImageStatus::Copied
                };
                (
                    Some(d.clone()),
                    Some(mt.clone()),
                    r.manifests.len(),
                    r.blobs.iter().map(|b| b.size).sum(),
                    status,
                    None,
                )
            }
            Err(e) => (None, None, 0, 0, ImageStatus::Failed, Some(e.clone())),
        };
        report.images.push(ImageReport {
            source: item.source_name.clone(),
            destination: dests[item.dest].name(item.tag.as_deref(), digest.as_ref()),
            status,
            digest,
            media_type,
            manifests,
            blobs: vec![],
            size,
            error,
        });
    }
    let reports = &mut report.images[first..];
    for r in reports.iter() {
        if matches!(r.status, ImageStatus::Unchanged | ImageStatus::Failed) {
            progress.image_finished(r);
        }
    }

    // The blobs to move: each distinct blob once, with every destination that needs it.
    struct Job {
        desc: Descriptor,
        source: usize,
        dests: Vec<usize>,
    }
    let mut by_digest: BTreeMap<Digest, Job> = BTreeMap::new();
    let mut pending = 0;
    for (i, (item, read)) in items.iter().zip(&reads).enumerate() {
        let Ok(read) = read else { continue };
        if read.unchanged {
            continue;
        }
        pending += 1;
        for b in &read.blobs {
            let job = by_digest.entry(b.digest.clone()).or_insert_with(|| Job {
                desc: b.clone(),
                source: i,
                dests: vec![],
            });
            if !job.dests.contains(&item.dest) {
                job.dests.push(item.dest);
            }
        }
    }
    let mut blob_jobs: Vec<Job> = by_digest.into_values().collect();
    blob_jobs.sort_by_key(|j| std::cmp::Reverse(j.desc.size));
    progress.planned(
        pending,
        blob_jobs.len(),
        blob_jobs.iter().map(|j| j.desc.size).sum(),
    );
    if opts.dry_run {
        return Ok(report);
    }

    // 3. Blobs, bounded for the whole run.
    let blob_progress: Arc<dyn Progress> = progress.clone();
    let outcomes: Vec<(Digest, u64, Placements)> =
        futures_util::stream::iter(blob_jobs.iter().map(|job| {
            let progress = blob_progress.clone();
            let run = progress.clone();
            let source = &items[job.source].source;
            let dests = &dests;
            async move {
                progress.start(&job.desc.digest, job.desc.size);
                let results = put_everywhere(&job.desc, source, &job.dests, dests, run).await;
                let shown = results
                    .iter()
                    .find_map(|(_, r)| r.as_ref().ok().copied())
                    .unwrap_or(BlobOutcome::Existed);
                progress.done(&job.desc.digest, shown);
                (job.desc.digest.clone(), job.desc.size, results)
            }
        }))
        .buffer_unordered(jobs)
        .collect()
        .await;
    let mut placed: HashMap<(Digest, usize), Result<BlobOutcome, Arc<Error>>> = HashMap::new();
    for (digest, size, results) in outcomes {
        for (dest, r) in results {
            if matches!(r, Ok(BlobOutcome::Uploaded)) {
                report.bytes_transferred += size;
            }
            placed.insert((digest.clone(), dest), r);
        }
    }

    // 4. Manifests, each image's only once all its blobs are in place.
    let reports = &mut report.images[first..];
    let writes: Vec<Option<Result<Vec<BlobReport>, Arc<Error>>>> =
        futures_util::stream::iter(items.iter().zip(&reads).map(|(item, read)| {
            let placed = &placed;
            let dests = &dests;
            async move {
                let read = read.as_ref().ok().filter(|r| !r.unchanged)?;
                let mut blobs = Vec::new();
                for b in &read.blobs {
                    match placed.get(&(b.digest.clone(), item.dest)) {
                        Some(Ok(outcome)) => blobs.push(BlobReport {
                            digest: b.digest.clone(),
                            size: b.size,
                            outcome: *outcome,
                        }),
                        Some(Err(e)) => return Some(Err(e.clone())),
                        None => {
                            return Some(Err(Arc::new(Error::Protocol {
                                subject: b.digest.to_string(),
                                why: "the blob was never scheduled".into(),
                            })));
                        }
                    }
                }
                let written = write_manifests(&dests[item.dest], item.tag.as_deref(), read).await;
                Some(written.map(|()| blobs).map_err(Arc::new))
            }
        }))
        .buffered(jobs)
        .collect()
        .await;
    for (r, w) in reports.iter_mut().zip(writes) {
        match w {
            None => continue,
            Some(Ok(blobs)) => r.blobs = blobs,
            Some(Err(e)) => {
                r.status = ImageStatus::Failed;
                r.error = Some(e);
            }
        }
        progress.image_finished(r);
    }
    Ok(report)
}

/// The existence checks one blob job runs at once.
const HEADS_PER_BLOB: usize = 4;

/// Puts one blob into every destination that needs it. Those that hold it already are
/// skipped; the first that lacks it gets it from the source (or by a mount when the source
/// is another repository of the same registry); the rest get it from a destination that
/// holds it.
async fn put_everywhere(
    desc: &Descriptor,
    source: &Source,
    wanted: &[usize],
    dests: &[Dest],
    progress: Arc<dyn Progress>,
) -> Placements {
    // A few HEADs at a time: a blob shared by many repositories must not open a request
    // per repository at once, past the run's bound.
    let present: Vec<Result<bool, Error>> =
        futures_util::stream::iter(wanted.iter().map(|d| dests[*d].has_blob(desc)))
            .buffered(HEADS_PER_BLOB)
            .collect()
            .await;
    let mut results = Vec::new();
    let mut holder: Option<usize> = None;
    let mut missing = Vec::new();
    for (&d, p) in wanted.iter().zip(present) {
        match p {
            Ok(true) => {
                holder.get_or_insert(d);
                results.push((d, Ok(BlobOutcome::Existed)));
            }
            Ok(false) => missing.push(d),
            Err(e) => results.push((d, Err(Arc::new(e)))),
        }
    }
    for d in missing {
        let r = match holder {
            Some(h) => {
                dests[d]
                    .put_from(&dests[h], source, desc, progress.clone())
                    .await
            }
            None => match dests[d].sink(None) {
                Ok(sink) => sink.put_blob(source, desc, progress.clone()).await,
                Err(e) => Err(e),
            },
        };
        if r.is_ok() {
            holder.get_or_insert(d);
        }
        results.push((d, r.map_err(Arc::new)));
    }
    results
}

async fn read_image(item: &Item, dest: &Dest) -> Result<Read, Error> {
    let (bytes, media_type, digest) = item.source.root().await?;
    let mut manifests = Vec::new();
    let mut blobs: Vec<Descriptor> = Vec::new();
    let mut add = |d: &Descriptor| {
        if !blobs.iter().any(|b| b.digest == d.digest) {
            blobs.push(d.clone());
        }
    };
    match Manifest::parse(&bytes, Some(&media_type))? {
        Manifest::Index(index) => {
            for child in &index.manifests {
                let child_bytes = item.source.manifest(child).await?;
                let Manifest::Image(image) =
                    Manifest::parse(&child_bytes, Some(&child.media_type))?
                else {
                    return Err(Error::Protocol {
                        subject: format!("{}@{}", item.source_name, child.digest),
                        why: "nested indexes are not supported".into(),
                    });
                };
                add(&image.config);
                image.layers.iter().for_each(&mut add);
                manifests.push((child_bytes, child.media_type.clone(), child.digest.clone()));
            }
        }
        Manifest::Image(image) => {
            add(&image.config);
            image.layers.iter().for_each(&mut add);
        }
    }
    let unchanged = match &item.tag {
        Some(tag) => dest.current(tag).await? == Some(digest.clone()),
        None => false,
    };
    manifests.push((bytes, media_type, digest));
    Ok(Read {
        manifests,
        blobs,
        unchanged,
    })
}

async fn write_manifests(dest: &Dest, tag: Option<&str>, read: &Read) -> Result<(), Error> {
    let sink = dest.sink(tag)?;
    let last = read.manifests.len() - 1;
    for (i, (bytes, media_type, digest)) in read.manifests.iter().enumerate() {
        let tag = if i == last { tag } else { None };
        sink.put_manifest(bytes, media_type, digest, tag).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(specs: &[SourceSpec]) -> Vec<String> {
        specs
            .iter()
            .map(|s| {
                let filter = match &s.tags {
                    None => "one",
                    Some(f) if f.is_empty() => "all",
                    Some(f) if f.regex.is_some() => "regex",
                    Some(_) => "semver",
                };
                format!("{} {filter}", s.reference)
            })
            .collect()
    }

    #[test]
    fn a_list_file_names_whole_repositories_tags_digests_and_filters() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let text = format!(
            "r.test:5000:\n  tls-verify: true\n  images:\n    team/app: []\n    team/base: [\"1.0\", \"{digest}\"]\n  images-by-tag-regex:\n    team/web: ^v1\\.\n  images-by-semver:\n    team/api: \">= 1.2\"\n"
        );
        let specs = parse_list_file(Path::new("list.yaml"), &text).unwrap();
        assert_eq!(
            names(&specs),
            [
                "r.test:5000/team/app:latest all".to_string(),
                "r.test:5000/team/base:1.0 one".into(),
                format!("r.test:5000/team/base@{digest} one"),
                "r.test:5000/team/web:latest regex".into(),
                "r.test:5000/team/api:latest semver".into(),
            ]
        );
        let web = specs[3].tags.as_ref().unwrap();
        assert!(web.matches("v1.2") && !web.matches("v10") && !web.matches("xv1"));
        let api = specs[4].tags.as_ref().unwrap();
        assert!(api.matches("1.3.0") && !api.matches("1.1") && !api.matches("latest"));
        assert!(
            parse_list_file(Path::new("empty.yaml"), "\n")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_source_without_a_tag_means_every_tag() {
        let f = TagFilter::default();
        let spec = |t: &str| SourceSpec::parse(t, &f).unwrap();
        assert!(spec("r.test:5000/team/app").tags.is_some());
        assert!(spec("docker://r.test:5000/team/app").tags.is_some());
        assert!(spec("r.test:5000/team/app:latest").tags.is_none());
        assert!(
            spec(&format!("r.test/app@sha256:{}", "0".repeat(64)))
                .tags
                .is_none()
        );
        assert_eq!(spec("alpine").name(), "docker.io/library/alpine");
    }

    #[test]
    fn refused_list_keys_name_the_file_and_registry() {
        for (text, says) in [
            ("r.test:\n  cert-dir: /x\n", "`cert-dir`"),
            ("r.test:\n  tls-verify: false\n", "`tls-verify: false`"),
            ("r.test:\n  credentials: {username: a}\n", "`credentials`"),
            ("r.test:\n  imagez: {}\n", "imagez"),
            ("r.test:\n  images:\n    Team/App: []\n", "Team/App"),
            (
                "r.test:\n  images-by-tag-regex:\n    app: \"(\"\n",
                "not a regular expression",
            ),
        ] {
            let e = parse_list_file(Path::new("/etc/list.yaml"), text).unwrap_err();
            assert!(e.is_bad_input());
            let msg = e.to_string();
            assert!(
                msg.starts_with("/etc/list.yaml: ") && msg.contains(says),
                "{text:?}: {msg}"
            );
        }
    }
}
