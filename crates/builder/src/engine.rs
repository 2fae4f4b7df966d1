//! The build engine: plans each image's stages, finds the ones already built (in `--repo`
//! or the local store), builds the rest natively or with buildah, and pushes them.
//!
//! Every stage is stored under its digest as the tag: `<repo>:<hex>` in a registry, and
//! `<hex>` in the local store, an OCI image layout. The store also keeps pulled base images
//! (tag `base-<hex>`) and the extracted root file systems `COPY --from` reads
//! (`rootfs/<hex>`).

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value, json};
use slipway_oci::{
    Descriptor, Digest, ImageManifest, Layout, Location, Manifest, Platform, Reference, media,
};
use slipway_registry::{CopyOptions, NoProgress, Progress, Registry, Sink, Source, copy};

use crate::buildah::{self, HostAccess};
use crate::hashcache::HashCache;
use crate::stage::{
    self, Action, Base, Chown, EPOCH, FromSource, ImagePlan, PlanInput, Resolve, ResolvedImage,
    StagePlan, Step,
};
use crate::{BuildError, LayerFormat};
use slipway_dockerfile as dockerfile;
use slipway_glob::{DockerIgnore, EntryKind, plan_copy};
use slipway_layer::{self as layer, Content, LayerEntry, LayerOptions, Stacked};
use slipway_werf::{ImageSpec, ImportKind, WerfConfig};

/// Opens registries for the engine with the caller's trust policy and credentials.
pub trait Access {
    /// Returns a client for the reference's registry.
    ///
    /// # Errors
    /// [`BuildError::Access`] when the host's trust or credentials cannot be loaded.
    fn registry(&self, reference: &Reference) -> Result<Arc<Registry>, BuildError>;

    /// Returns what buildah needs to trust the reference's registry.
    ///
    /// # Errors
    /// [`BuildError::Access`] or [`BuildError::Buildah`] (e.g. a client certificate, which
    /// cannot be handed to buildah).
    fn buildah_host(&self, reference: &Reference) -> Result<HostAccess, BuildError>;

    /// Returns what shows the progress of base-image pulls and stage pushes (bars on a
    /// terminal); nothing by default.
    fn progress(&self) -> Arc<dyn Progress> {
        Arc::new(NoProgress)
    }
}

/// Chooses who builds a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// Per stage: buildah for a stage only it can build (`RUN`, an `ADD` of bzip2 or xz),
    /// native for the others.
    #[default]
    Auto,
    /// slipway itself: every instruction but `RUN`.
    Native,
    /// `buildah build --isolation chroot`, for every stage.
    Buildah,
}

/// Sets what a build does.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The repository stages go to (`HOST/PATH`); `None` keeps them in the store only.
    pub repo: Option<Reference>,
    /// The local OCI layout store.
    pub store: PathBuf,
    /// The backend.
    pub backend: Backend,
    /// How layers are written.
    pub format: LayerFormat,
    /// The platform built for (and picked from multi-platform base images).
    pub platform: Platform,
    /// The images to build (with their dependencies); empty builds all.
    pub images: Vec<String>,
    /// Compression threads.
    pub threads: usize,
}

/// Where a stage is in its life, as shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    /// Found already built: nothing to do.
    Cached,
    /// Being built.
    Building,
    /// Built in this run.
    Built,
    /// Being pushed to `--repo`.
    Pushing,
    /// Found in the local store and pushed to `--repo` without a rebuild.
    Pushed,
}

/// What the engine tells its observer.
#[derive(Debug)]
pub enum Event<'a> {
    /// An image's stages are planned.
    Image {
        /// The werf image name.
        name: &'a str,
        /// How many stages it needs.
        stages: usize,
        /// The backend chosen.
        backend: &'a str,
    },
    /// A stage changed status.
    Stage {
        /// The werf image name.
        image: &'a str,
        /// The stage's name or index.
        stage: &'a str,
        /// The stage digest.
        digest: &'a Digest,
        /// The new status.
        status: StageStatus,
        /// Seconds it took, for finished work.
        seconds: Option<f64>,
        /// The backend, for a stage being built or built in this run.
        backend: Option<&'a str>,
    },
    /// A line of buildah's output.
    Log {
        /// The werf image name.
        image: &'a str,
        /// The line.
        line: &'a str,
    },
}

/// Receives events while the build runs.
pub trait Observer {
    /// Handles one event.
    fn event(&self, event: &Event<'_>);
}

/// Reports one stage.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StageReport {
    /// The stage's index in the Dockerfile.
    pub index: usize,
    /// Its `AS` name.
    pub name: Option<String>,
    /// Its digest (hex): its tag.
    pub digest: String,
    /// `cached`, `built` or `pushed`.
    pub status: StageStatus,
    /// Seconds spent on it.
    pub seconds: f64,
    /// For a stage built in this run, the backend that built it: `native` or `buildah`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<&'static str>,
}

/// Reports one image, with werf's report keys.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageReport {
    /// The werf image name.
    pub werf_image_name: String,
    /// The repository: `HOST/PATH`, or `oci:STORE` without `--repo`.
    pub docker_repo: String,
    /// The tag: the target stage's digest (hex).
    pub docker_tag: String,
    /// `DockerRepo:DockerTag`.
    pub docker_image_name: String,
    /// The manifest digest.
    pub docker_image_digest: String,
    /// Whether any stage was built in this run.
    pub rebuilt: bool,
    /// The backend that built (or would build) it.
    pub backend: String,
    /// The stages, in Dockerfile order.
    pub stages: Vec<StageReport>,
}

/// The build report (`--report-path`): image name to what was built.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BuildReport {
    /// The images.
    pub images: BTreeMap<String, ImageReport>,
}

/// Builds the images of a `werf.yaml`.
///
/// # Errors
/// Bad input ([`BuildError::is_bad_input`]) is found while planning, before anything is
/// built or pushed; other errors name the stage's registry, blob or file.
pub fn build(
    cfg: &WerfConfig,
    opts: &BuildOptions,
    access: &dyn Access,
    observer: &dyn Observer,
) -> Result<BuildReport, BuildError> {
    let selected = select_images(cfg, &opts.images)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| BuildError::Io {
            path: opts.store.clone(),
            source,
        })?;
    std::fs::create_dir_all(&opts.store).map_err(|source| BuildError::Io {
        path: opts.store.clone(),
        source,
    })?;
    let store_path = std::fs::canonicalize(&opts.store).map_err(|source| BuildError::Io {
        path: opts.store.clone(),
        source,
    })?;
    let store = Arc::new(Layout::create(&store_path)?);
    let contexts: Vec<PathBuf> = selected.iter().map(|s| s.context.clone()).collect();
    let hashes = HashCache::load(&store_path, &contexts);
    let mut run = Run {
        hashes: &hashes,
        opts,
        access,
        observer,
        rt,
        store,
        store_path,
        registries: HashMap::new(),
        resolved: HashMap::new(),
        accounts: None,
    };
    // Plan every image first, so bad input anywhere stops the build before any push.
    // Images whose args import a dependency's name can only be planned once it is built;
    // they are planned (and checked) when their turn comes.
    let mut report = BuildReport::default();
    let mut planned: HashMap<String, Prepared> = HashMap::new();
    for spec in &selected {
        if !spec.dependencies.is_empty() {
            // At least its Dockerfile must parse before anything is pushed.
            read_dockerfile(spec)?;
        }
    }
    for spec in &selected {
        if spec.dependencies.is_empty() {
            planned.insert(spec.name.clone(), run.prepare(spec, &spec.args)?);
        }
    }
    for spec in &selected {
        let prepared = match planned.remove(&spec.name) {
            Some(p) => p,
            None => {
                let args = import_args(spec, &report)?;
                run.prepare(spec, &args)?
            }
        };
        let image = run.image(spec, prepared)?;
        report.images.insert(spec.name.clone(), image);
    }
    drop(run);
    hashes.save();
    Ok(report)
}

/// Returns the images to build, dependencies first.
fn select_images<'c>(
    cfg: &'c WerfConfig,
    wanted: &[String],
) -> Result<Vec<&'c ImageSpec>, BuildError> {
    let all = cfg.images_in_order();
    if wanted.is_empty() {
        return Ok(all);
    }
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    let mut keep: Vec<String> = vec![];
    let mut todo: Vec<String> = vec![];
    for w in wanted {
        if !names.contains(&w.as_str()) {
            return Err(BuildError::Usage(format!(
                "{}: there is no image `{w}`; its images are: {}",
                cfg.path.display(),
                names.join(", ")
            )));
        }
        todo.push(w.clone());
    }
    while let Some(n) = todo.pop() {
        if keep.contains(&n) {
            continue;
        }
        if let Some(spec) = cfg.image(&n) {
            todo.extend(spec.dependencies.iter().map(|d| d.image.clone()));
        }
        keep.push(n);
    }
    Ok(all.into_iter().filter(|s| keep.contains(&s.name)).collect())
}

/// Returns an image's build args: its own plus what it imports from built dependencies.
fn import_args(
    spec: &ImageSpec,
    report: &BuildReport,
) -> Result<BTreeMap<String, String>, BuildError> {
    let mut args = spec.args.clone();
    for dep in &spec.dependencies {
        let built = report.images.get(&dep.image).ok_or_else(|| {
            BuildError::Usage(format!(
                "image `{}` depends on `{}`, which was not built first",
                spec.name, dep.image
            ))
        })?;
        for imp in &dep.imports {
            let value = match imp.kind {
                ImportKind::ImageName => built.docker_image_name.clone(),
                ImportKind::ImageDigest => built.docker_image_digest.clone(),
                ImportKind::ImageRepo => built.docker_repo.clone(),
                ImportKind::ImageTag => built.docker_tag.clone(),
            };
            args.insert(imp.target_build_arg.clone(), value);
        }
    }
    Ok(args)
}

/// Reads and parses an image's Dockerfile.
/// Reads and parses an image's Dockerfile; returns its text and the parsed form.
fn read_dockerfile(spec: &ImageSpec) -> Result<(String, dockerfile::Dockerfile), BuildError> {
    let path = &spec.dockerfile;
    let text = std::fs::read_to_string(path).map_err(|e| {
        BuildError::Usage(format!(
            "{}: cannot read the Dockerfile of image `{}`: {e}",
            path.display(),
            spec.name
        ))
    })?;
    let df = dockerfile::parse(&text).map_err(|e| BuildError::Dockerfile {
        path: path.clone(),
        line: e.line,
        column: e.column,
        message: e.message,
    })?;
    Ok((text, df))
}

/// An image whose stages are planned.
struct Prepared {
    plan: ImagePlan,
    backend: Backend,
    args: BTreeMap<String, String>,
    /// The Dockerfile's text and parsed form, for the Dockerfiles buildah is given.
    dockerfile: (String, dockerfile::Dockerfile),
}

/// Where a stage's image is.
#[derive(Clone)]
struct Located {
    manifest: Digest,
    local: bool,
}

struct Run<'a> {
    opts: &'a BuildOptions,
    access: &'a dyn Access,
    observer: &'a dyn Observer,
    rt: tokio::runtime::Runtime,
    store: Arc<Layout>,
    store_path: PathBuf,
    registries: HashMap<String, Arc<Registry>>,
    resolved: HashMap<String, ResolvedImage>,
    hashes: &'a HashCache,
    /// The last layer stack whose account files were read, and what it holds.
    accounts: Option<(Vec<Digest>, Vec<Stacked>)>,
}

/// The bytes of `/etc/passwd` and `/etc/group`, each when the image has it.
type AccountFiles = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The files `--chown` names are looked up in.
const ACCOUNT_FILES: [&str; 2] = ["etc/passwd", "etc/group"];

fn registry_err(
    subject: impl std::fmt::Display,
) -> impl FnOnce(slipway_registry::Error) -> BuildError {
    let subject = subject.to_string();
    move |source| BuildError::Registry {
        subject,
        source: Box::new(source),
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn is_not_found(e: &slipway_registry::Error) -> bool {
    matches!(e, slipway_registry::Error::Status { status: 404, .. })
}

impl Run<'_> {
    fn registry(&mut self, r: &Reference) -> Result<Arc<Registry>, BuildError> {
        let key = r.registry.clone();
        if let Some(reg) = self.registries.get(&key) {
            return Ok(reg.clone());
        }
        let reg = self.access.registry(r)?;
        self.registries.insert(key, reg.clone());
        Ok(reg)
    }

    fn prepare(
        &mut self,
        spec: &ImageSpec,
        args: &BTreeMap<String, String>,
    ) -> Result<Prepared, BuildError> {
        let path = &spec.dockerfile;
        let (text, df) = read_dockerfile(spec)?;
        let ignore = DockerIgnore::load(&spec.context)?;
        let opts = self.opts;
        let input = PlanInput {
            dockerfile_path: path,
            context: &spec.context,
            ignore: &ignore,
            target: spec.target.as_deref(),
            args,
            platform: &opts.platform,
            format: &opts.format,
            hashes: self.hashes,
        };
        let plan = stage::plan(&df, &input, self)?;
        let blocker = plan.native_blocker();
        let backend = match self.opts.backend {
            Backend::Auto if plan.has_run() || blocker.is_some() => Backend::Buildah,
            Backend::Auto => Backend::Native,
            Backend::Native if let Some((stage, line, why)) = blocker => {
                return Err(BuildError::Plan {
                    path: path.clone(),
                    line,
                    message: format!(
                        "stage {}: {why}; use --backend buildah (or auto)",
                        stage.label()
                    ),
                });
            }
            Backend::Native if plan.has_run() => {
                let (stage, line) = plan
                    .stages
                    .iter()
                    .find_map(|s| {
                        s.steps
                            .iter()
                            .find(|st| matches!(st.action, Action::Run { .. }))
                            .map(|st| (s.label(), st.line))
                    })
                    .expect("a RUN");
                return Err(BuildError::Plan {
                    path: path.clone(),
                    line,
                    message: format!(
                        "stage {stage} has RUN, which the native backend cannot execute; \
                         use --backend buildah (or auto)"
                    ),
                });
            }
            b => b,
        };
        Ok(Prepared {
            plan,
            backend,
            args: args.clone(),
            dockerfile: (text, df),
        })
    }

    fn image(&mut self, spec: &ImageSpec, prepared: Prepared) -> Result<ImageReport, BuildError> {
        let Prepared {
            plan,
            backend,
            args,
            dockerfile,
        } = prepared;
        let backend_name = match backend {
            Backend::Buildah => "buildah",
            _ => "native",
        };
        let mixed =
            backend == Backend::Buildah && plan.stages.iter().any(|s| !self.buildah_builds(s));
        self.observer.event(&Event::Image {
            name: &spec.name,
            stages: plan.stages.len(),
            backend: if mixed {
                "buildah for the stages with RUN, native for the others"
            } else {
                backend_name
            },
        });
        let mut stages: Vec<StageReport> = vec![];
        let mut located: HashMap<usize, Located> = HashMap::new();
        let target = plan.target();
        // The fast path: the target exists, so nothing below it is needed.
        let found = self.find(&target.digest)?;
        if let Some(loc) = found
            .clone()
            .filter(|l| !l.local || self.opts.repo.is_none())
        {
            for s in &plan.stages {
                self.stage_event(&spec.name, s, StageStatus::Cached, None, None);
                stages.push(stage_report(s, StageStatus::Cached, 0.0, None));
            }
            return Ok(self.image_report(spec, target, &loc.manifest, false, backend_name, stages));
        }
        // One buildah folder for all stages of the image, so its storage keeps the layers of
        // base images between stages instead of pulling them again.
        let buildah = match backend {
            Backend::Buildah => Some(self.buildah_session(&args, dockerfile)?),
            _ => None,
        };
        // Stage by stage; buildah builds each missing stage with `RUN` on its own, on top of
        // the stages it uses as they are in the store, so an unchanged stage is never rerun.
        for s in &plan.stages {
            let started = Instant::now();
            let mut built_by = None;
            // The target was looked up already.
            let at = if s.index == target.index {
                found.clone()
            } else {
                self.find(&s.digest)?
            };
            let status = match at {
                Some(loc) if !loc.local || self.opts.repo.is_none() => {
                    located.insert(s.index, loc);
                    StageStatus::Cached
                }
                Some(loc) => {
                    // Built before without --repo: push it, no rebuild.
                    self.stage_event(&spec.name, s, StageStatus::Pushing, None, None);
                    self.push(&s.digest)?;
                    located.insert(s.index, loc);
                    StageStatus::Pushed
                }
                None => {
                    // `auto` gives buildah only the stages that need it; the others, even in
                    // the same Dockerfile, are built natively, which is faster and trusts
                    // registries through slipway's own client.
                    let session = buildah.as_ref().filter(|_| self.buildah_builds(s));
                    built_by = Some(if session.is_some() {
                        "buildah"
                    } else {
                        "native"
                    });
                    self.stage_event(&spec.name, s, StageStatus::Building, None, built_by);
                    let manifest = match session {
                        Some(b) => self.build_buildah_stage(spec, &plan, s, &mut located, b)?,
                        None => self.build_native(&plan, s, &mut located)?,
                    };
                    if self.opts.repo.is_some() {
                        self.stage_event(&spec.name, s, StageStatus::Pushing, None, None);
                        self.push(&s.digest)?;
                    }
                    located.insert(
                        s.index,
                        Located {
                            manifest,
                            local: true,
                        },
                    );
                    StageStatus::Built
                }
            };
            let secs = started.elapsed().as_secs_f64();
            self.stage_event(&spec.name, s, status, Some(secs), built_by);
            stages.push(stage_report(s, status, secs, built_by));
        }
        let manifest = located[&target.index].manifest.clone();
        let rebuilt = stages.iter().any(|s| s.status == StageStatus::Built);
        Ok(self.image_report(spec, target, &manifest, rebuilt, backend_name, stages))
    }

    /// Whether buildah builds this stage: every stage with `--backend buildah`, and with
    /// `auto` only the stages the native backend cannot build.
    fn buildah_builds(&self, s: &StagePlan) -> bool {
        self.opts.backend == Backend::Buildah || s.needs_buildah()
    }

    fn stage_event(
        &self,
        image: &str,
        s: &StagePlan,
        status: StageStatus,
        seconds: Option<f64>,
        backend: Option<&str>,
    ) {
        self.observer.event(&Event::Stage {
            image,
            stage: &s.label(),
            digest: &s.digest,
            status,
            seconds,
            backend,
        });
    }

    fn image_report(
        &self,
        spec: &ImageSpec,
        target: &StagePlan,
        manifest: &Digest,
        rebuilt: bool,
        backend: &str,
        stages: Vec<StageReport>,
    ) -> ImageReport {
        let repo = match &self.opts.repo {
            Some(r) => r.name(),
            None => format!("oci:{}", self.store_path.display()),
        };
        let tag = target.digest.hex().to_string();
        ImageReport {
            werf_image_name: spec.name.clone(),
            docker_image_name: format!("{repo}:{tag}"),
            docker_repo: repo,
            docker_tag: tag,
            docker_image_digest: manifest.to_string(),
            rebuilt,
            backend: backend.into(),
            stages,
        }
    }

    /// Finds a stage: in `--repo` when there is one, else (or then) in the store.
    fn find(&mut self, digest: &Digest) -> Result<Option<Located>, BuildError> {
        if let Some(repo) = self.opts.repo.clone() {
            let reg = self.registry(&repo)?;
            let r = repo.with_tag(digest.hex());
            match self
                .rt
                .block_on(reg.get_manifest(&r.repository, digest.hex()))
            {
                Ok((_, _, d)) => {
                    return Ok(Some(Located {
                        manifest: d,
                        local: false,
                    }));
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(registry_err(&r)(e)),
            }
        }
        match self.store.resolve(Some(digest.hex())) {
            Ok(d) => Ok(Some(Located {
                manifest: d.digest,
                local: true,
            })),
            Err(slipway_oci::Error::TagNotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Pushes a stage from the store to `--repo`.
    fn push(&mut self, digest: &Digest) -> Result<(), BuildError> {
        let Some(repo) = self.opts.repo.clone() else {
            return Ok(());
        };
        let reg = self.registry(&repo)?;
        let dst = repo.with_tag(digest.hex());
        let src = Source::Layout(self.store.clone(), Some(digest.hex().to_string()));
        self.rt
            .block_on(copy(
                &src,
                &Sink::Registry(reg, dst.clone()),
                &CopyOptions::default(),
                self.access.progress(),
            ))
            .map_err(registry_err(&dst))?;
        Ok(())
    }

    /// Makes sure a stage's image is in the store (pulling it from `--repo` if needed).
    fn ensure_stage_local(
        &mut self,
        plan: &ImagePlan,
        index: usize,
        located: &mut HashMap<usize, Located>,
    ) -> Result<Digest, BuildError> {
        let digest = plan.stage(index).digest.clone();
        let loc = match located.get(&index) {
            Some(l) => l.clone(),
            None => self.find(&digest)?.ok_or_else(|| {
                BuildError::Usage(format!(
                    "stage {index} ({digest}) is neither built nor found"
                ))
            })?,
        };
        if !loc.local && self.store.resolve(Some(digest.hex())).is_err() {
            let repo = self
                .opts
                .repo
                .clone()
                .expect("remote stages come from --repo");
            let reg = self.registry(&repo)?;
            let src = repo.with_tag(digest.hex());
            self.rt
                .block_on(copy(
                    &Source::Registry(reg, src.clone()),
                    &Sink::Layout(self.store.clone(), digest.hex().to_string()),
                    &CopyOptions::default(),
                    self.access.progress(),
                ))
                .map_err(registry_err(&src))?;
        }
        located.insert(
            index,
            Located {
                manifest: loc.manifest.clone(),
                local: true,
            },
        );
        Ok(loc.manifest)
    }

    /// Makes sure a base image's blobs are in the store.
    fn ensure_image_local(&mut self, img: &ResolvedImage) -> Result<(), BuildError> {
        let all_there = self.store.has_blob(&img.manifest_digest, None)
            && img
                .layers
                .iter()
                .all(|l| self.store.has_blob(&l.digest, Some(l.size)));
        if all_there {
            return Ok(());
        }
        let tag = base_tag(img);
        let src = match Location::parse(&img.reference)? {
            Location::Layout { path, tag } => Source::Layout(Arc::new(Layout::open(&path)?), tag),
            Location::Registry(r) => {
                let reg = self.registry(&r)?;
                Source::Registry(reg, r.with_digest(img.manifest_digest.clone()))
            }
        };
        self.rt
            .block_on(copy(
                &src,
                &Sink::Layout(self.store.clone(), tag),
                &CopyOptions {
                    platform: Some(self.opts.platform.clone()),
                    jobs: 4,
                },
                self.access.progress(),
            ))
            .map_err(registry_err(&img.reference))?;
        Ok(())
    }

    /// Puts a base image in the store for buildah, tagged `base-<manifest hex>`, and returns
    /// the tag, so that buildah never contacts a registry for it. buildah's OCI layout reader
    /// sees only OCI manifests, so a Docker schema 2 base is tagged as its OCI equivalent:
    /// the same config and layers, under OCI media types.
    fn base_in_store(&mut self, img: &ResolvedImage) -> Result<String, BuildError> {
        self.ensure_image_local(img)?;
        let tag = base_tag(img);
        // The tag is missing when the blobs came with a stage built on the base, and names
        // the Docker manifest right after a pull.
        if let Ok(d) = self.store.resolve(Some(&tag))
            && d.media_type == media::OCI_MANIFEST
        {
            return Ok(tag);
        }
        let bytes = self.store.read_blob(&img.manifest_digest)?;
        let parsed = Manifest::parse(&bytes, None)?;
        let media_type = parsed.media_type(None);
        let desc = match parsed.as_image() {
            Some(m) if media_type == media::DOCKER_MANIFEST => {
                let mut m = m.clone();
                m.media_type = Some(media::OCI_MANIFEST.into());
                if m.config.media_type == media::DOCKER_CONFIG {
                    m.config.media_type = media::OCI_CONFIG.into();
                }
                for l in &mut m.layers {
                    if l.media_type == media::DOCKER_LAYER_GZIP {
                        l.media_type = media::OCI_LAYER_GZIP.into();
                    }
                }
                let oci = serde_json::to_vec(&m)
                    .map_err(|e| BuildError::Usage(format!("base image {}: {e}", img.reference)))?;
                let digest = self.store.write_blob(&oci)?;
                Descriptor::new(media::OCI_MANIFEST, digest, oci.len() as u64)
            }
            _ => Descriptor::new(media_type, img.manifest_digest.clone(), bytes.len() as u64),
        };
        self.store.set_tag(&tag, &desc)?;
        Ok(tag)
    }

    /// Reads an image manifest and its config from the store.
    fn read_image(&self, manifest: &Digest) -> Result<(ImageManifest, Value), BuildError> {
        let bytes = self.store.read_blob(manifest)?;
        let m = Manifest::parse(&bytes, None)?;
        let m = m.as_image().cloned().ok_or_else(|| {
            BuildError::Usage(format!("{manifest} in the store is an index, not an image"))
        })?;
        let config: Value = serde_json::from_slice(&self.store.read_blob(&m.config.digest)?)
            .map_err(|e| BuildError::Usage(format!("image config {}: {e}", m.config.digest)))?;
        Ok((m, config))
    }

    /// Makes a temporary folder in a folder of the store (removed when dropped).
    fn temp_dir(&self, folder: &str, prefix: &str) -> Result<tempfile::TempDir, BuildError> {
        let parent = self.store_path.join(folder);
        std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&parent)
            .map_err(io_err(&parent))
    }

    /// Returns the extracted root file system of an image in the store.
    fn rootfs(&self, manifest: &Digest) -> Result<PathBuf, BuildError> {
        let dir = self.store_path.join("rootfs").join(manifest.hex());
        if dir.is_dir() {
            return Ok(dir);
        }
        let (m, _) = self.read_image(manifest)?;
        let tmp = self.temp_dir("rootfs", ".extract-")?;
        layer::extract_layers(&self.store, &m.layers, tmp.path())?;
        let tmp = tmp.keep();
        std::fs::rename(&tmp, &dir).map_err(io_err(&dir))?;
        Ok(dir)
    }

    /// Returns the ids a `--chown` gives, looking names up in the `/etc/passwd` and
    /// `/etc/group` of the stage as built so far (its base's layers and its own).
    fn owner(
        &mut self,
        chown: &Chown,
        layers: &[Descriptor],
        s: &StagePlan,
        step: &Step,
    ) -> Result<(u64, u64), BuildError> {
        if let Some(ids) = chown.numeric() {
            return Ok(ids);
        }
        let (passwd, group) = self.account_files(layers)?;
        chown
            .resolve(passwd.as_deref(), group.as_deref())
            .map_err(|m| {
                BuildError::Usage(format!(
                    "stage {}, line {}: {}: {m}",
                    s.label(),
                    step.line,
                    step.text
                ))
            })
    }

    /// Reads `/etc/passwd` and `/etc/group` from a layer stack in one pass. A stack that
    /// grows the one read last (a stage's next `COPY --chown`) has only its new layers
    /// read, and a stack read by an earlier build is taken from the store's cache
    /// (`STORE/cache/accounts/`, keyed by the layer digests), so a big base is read once.
    fn account_files(&mut self, layers: &[Descriptor]) -> Result<AccountFiles, BuildError> {
        let digests: Vec<Digest> = layers.iter().map(|l| l.digest.clone()).collect();
        let found = match self.accounts.take() {
            Some((d, found)) if d == digests => found,
            earlier => {
                let cache = self.accounts_cache_file(&digests);
                match read_accounts(&cache, ACCOUNT_FILES.len()) {
                    Some(found) => found,
                    None => {
                        let found = self.read_account_layers(layers, earlier)?;
                        write_accounts(&cache, &found);
                        found
                    }
                }
            }
        };
        self.accounts = Some((digests, found.clone()));
        let mut files = found.into_iter().map(Stacked::into_bytes);
        Ok((files.next().flatten(), files.next().flatten()))
    }

    /// Reads the account files from the layers, only those above `earlier`'s stack when
    /// this stack grows it.
    fn read_account_layers(
        &self,
        layers: &[Descriptor],
        earlier: Option<(Vec<Digest>, Vec<Stacked>)>,
    ) -> Result<Vec<Stacked>, BuildError> {
        let (below, known) = match earlier {
            Some((d, found)) if layers.iter().map(|l| &l.digest).take(d.len()).eq(&d) => {
                (found, d.len())
            }
            _ => (vec![Stacked::Unknown; ACCOUNT_FILES.len()], 0),
        };
        let above = layer::read_stacked_files(&self.store, &layers[known..], &ACCOUNT_FILES)?;
        Ok(above
            .into_iter()
            .zip(below)
            .map(|(a, b)| a.over(b))
            .collect())
    }

    /// Names the cache file of a layer stack's account files.
    fn accounts_cache_file(&self, digests: &[Digest]) -> PathBuf {
        let key: String = digests.iter().map(|d| format!("{d}\n")).collect();
        self.store
            .path()
            .join("cache/accounts")
            .join(Digest::sha256_of(key.as_bytes()).hex())
    }

    /// Builds one stage natively into the store, tagged by its digest.
    fn build_native(
        &mut self,
        plan: &ImagePlan,
        s: &StagePlan,
        located: &mut HashMap<usize, Located>,
    ) -> Result<Digest, BuildError> {
        let (mut layers, base_config) = match &s.base {
            Base::Scratch => (vec![], None),
            Base::Stage(i) => {
                let m = self.ensure_stage_local(plan, *i, located)?;
                let (m, c) = self.read_image(&m)?;
                (m.layers, Some(c))
            }
            Base::Image(img) => {
                self.ensure_image_local(img)?;
                (img.layers.clone(), Some(img.config.clone()))
            }
        };
        for l in &mut layers {
            if l.media_type == media::DOCKER_LAYER_GZIP {
                l.media_type = media::OCI_LAYER_GZIP.into();
            }
        }
        let mut top: Map<String, Value> = match base_config {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for k in ["container", "container_config", "docker_version", "config"] {
            top.remove(k);
        }
        let mut diff_ids: Vec<Value> = top
            .get("rootfs")
            .and_then(|r| r.get("diff_ids"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut history: Vec<Value> = top
            .get("history")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let layer_opts = LayerOptions {
            compression: self.opts.format.compression,
            level: self.opts.format.level,
            threads: self.opts.threads,
        };
        for step in &s.steps {
            // Folders of unpacked archives, which the layer reads from; removed after it.
            let mut unpacked: Vec<tempfile::TempDir> = vec![];
            let entries = match &step.action {
                Action::Config => None,
                Action::Run { .. } => {
                    return Err(BuildError::Usage(format!(
                        "stage {}: RUN needs the buildah backend",
                        s.label()
                    )));
                }
                Action::Layer {
                    entries,
                    unpack,
                    chown,
                } => {
                    let mut entries = entries.clone();
                    for u in unpack {
                        let tmp = self.temp_dir("tmp", ".unpack-")?;
                        let at = |e: &dyn std::fmt::Display| {
                            BuildError::Usage(format!(
                                "stage {}, line {}: unpacking {}: {e}",
                                s.label(),
                                step.line,
                                u.archive.display()
                            ))
                        };
                        layer::extract_archive(&u.archive, &u.digest, tmp.path())
                            .map_err(|e| at(&e))?;
                        let into = format!("{}/", u.into.trim_end_matches('/'));
                        let planned = plan_copy(tmp.path(), None, &[".".into()], &into, "/")
                            .map_err(|e| at(&e))?;
                        // The archive's own times are part of its digest, so they stay.
                        entries.extend(planned.into_iter().map(|e| {
                            let mtime = e.mtime.max(0) as u64;
                            disk_entry(e, None, None, mtime)
                        }));
                        unpacked.push(tmp);
                    }
                    if let Some(chown) = chown {
                        let (uid, gid) = self.owner(chown, &layers, s, step)?;
                        for e in &mut entries {
                            (e.uid, e.gid) = (uid, gid);
                        }
                    }
                    Some(entries)
                }
                Action::CopyFrom {
                    from,
                    sources,
                    dest,
                    workdir,
                    owner,
                    chmod,
                } => {
                    let manifest = match &**from {
                        FromSource::Stage(i) => self.ensure_stage_local(plan, *i, located)?,
                        FromSource::Image(img) => {
                            self.ensure_image_local(img)?;
                            img.manifest_digest.clone()
                        }
                    };
                    let owner = match owner {
                        Some(chown) => Some(self.owner(chown, &layers, s, step)?),
                        None => None,
                    };
                    let root = self.rootfs(&manifest)?;
                    let dest = if sources.len() > 1 && !dest.ends_with('/') {
                        format!("{dest}/")
                    } else {
                        dest.clone()
                    };
                    let planned = plan_copy(&root, None, sources, &dest, workdir).map_err(|e| {
                        BuildError::Usage(format!(
                            "stage {}: {} (copying from {})",
                            s.label(),
                            e,
                            match &**from {
                                FromSource::Stage(i) => format!("stage {}", plan.stage(*i).label()),
                                FromSource::Image(img) => img.reference.clone(),
                            }
                        ))
                    })?;
                    Some(
                        planned
                            .into_iter()
                            .map(|e| disk_entry(e, owner, *chmod, 0))
                            .collect(),
                    )
                }
            };
            let mut h = Map::new();
            h.insert("created".into(), json!(EPOCH));
            h.insert("created_by".into(), json!(step.text));
            h.insert("comment".into(), json!("slipway"));
            match entries {
                Some(entries) => {
                    let built = layer::write_layer(&self.store, &entries, &layer_opts)?;
                    diff_ids.push(json!(built.diff_id));
                    layers.push(built.descriptor());
                }
                None => {
                    h.insert("empty_layer".into(), json!(true));
                }
            }
            history.push(Value::Object(h));
        }
        let p = &self.opts.platform;
        if !top.contains_key("architecture") {
            top.insert("architecture".into(), json!(p.architecture));
        }
        if !top.contains_key("os") {
            top.insert("os".into(), json!(p.os));
        }
        if let (Some(v), false) = (&p.variant, top.contains_key("variant")) {
            top.insert("variant".into(), json!(v));
        }
        top.insert("created".into(), json!(EPOCH));
        if let Some(a) = &s.author {
            top.insert("author".into(), json!(a));
        }
        top.insert("config".into(), Value::Object(s.config.clone()));
        top.insert(
            "rootfs".into(),
            json!({"type": "layers", "diff_ids": diff_ids}),
        );
        top.insert("history".into(), Value::Array(history));
        let config_bytes = serde_json::to_vec(&Value::Object(top)).expect("JSON");
        let config_digest = self.store.write_blob(&config_bytes)?;
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.into()),
            config: Descriptor::new(media::OCI_CONFIG, config_digest, config_bytes.len() as u64),
            layers,
            subject: None,
            annotations: None,
        };
        let bytes = serde_json::to_vec(&manifest).expect("JSON");
        let digest = self.store.write_blob(&bytes)?;
        self.store.set_tag(
            s.digest.hex(),
            &Descriptor::new(media::OCI_MANIFEST, digest.clone(), bytes.len() as u64),
        )?;
        Ok(digest)
    }

    /// Makes the folder and the store link the buildah builds of one image share, and the
    /// build args they get: an arg naming an image in the store (a werf dependency built
    /// without --repo) names it through the link.
    fn buildah_session(
        &self,
        args: &BTreeMap<String, String>,
        dockerfile: (String, dockerfile::Dockerfile),
    ) -> Result<BuildahSession, BuildError> {
        let work = self.temp_dir("tmp", "buildah-")?;
        let job = work.path().join("job");
        std::fs::create_dir(&job).map_err(io_err(&job))?;
        // buildah names what it reads through `oci:` after the path, so the store is handed
        // to it through a link whose path is a valid lowercase image name.
        let link = buildah::StoreLink::new(self.store.path())?;
        let args = args
            .iter()
            .map(|(k, v)| {
                let v = match Location::parse(v) {
                    Ok(Location::Layout { path, tag }) if link.links_to(&path) => {
                        let tag = tag.map(|t| format!(":{t}")).unwrap_or_default();
                        format!("oci:{}{tag}", link.path().display())
                    }
                    _ => v.clone(),
                };
                (k.clone(), v)
            })
            .collect();
        let (text, df) = dockerfile;
        Ok(BuildahSession {
            work,
            link,
            args,
            text,
            df,
            filtered: std::cell::OnceCell::new(),
        })
    }

    /// Builds one stage with buildah, from a Dockerfile in which the earlier stages it uses
    /// are their images in the store (`oci:LINK:DIGEST`, pulled from `--repo` first when
    /// only there), and stores it under the stage's digest.
    fn build_buildah_stage(
        &mut self,
        spec: &ImageSpec,
        plan: &ImagePlan,
        stage: &StagePlan,
        located: &mut HashMap<usize, Located>,
        session: &BuildahSession,
    ) -> Result<Digest, BuildError> {
        let BuildahSession {
            work,
            link,
            args,
            text,
            df,
            ..
        } = session;
        let mut deps = BTreeMap::new();
        for j in stage_deps(stage) {
            self.ensure_stage_local(plan, j, located)?;
            let tag = plan.stage(j).digest.hex().to_string();
            deps.insert(j, format!("oci:{}:{tag}", link.path().display()));
        }
        // slipway pulls the base into the store through the trust policy (client certificates
        // included), and buildah reads it from there; it pulls only `COPY --from` and
        // `RUN --mount from=` images itself.
        let base = match &stage.base {
            Base::Image(img) => {
                let tag = self.base_in_store(img)?;
                Some(format!("oci:{}:{tag}", link.path().display()))
            }
            _ => None,
        };
        let pulled_by_buildah: Vec<&ResolvedImage> = step_images(stage).collect();
        let hosts = self.buildah_hosts(spec, &pulled_by_buildah, link)?;
        let dockerfile = work.path().join(format!("Dockerfile.{}", stage.index));
        std::fs::write(
            &dockerfile,
            buildah::stage_dockerfile(text, df, stage.index, &deps, base.as_deref()),
        )
        .map_err(io_err(&dockerfile))?;
        let job_dir = work.path().join("job");
        let platform = stage::platform_text(&self.opts.platform);
        let job = buildah::BuildahJob {
            context: if stage.mounts_context {
                session.context_for_mounts(&spec.context)?
            } else {
                &spec.context
            },
            dockerfile: &dockerfile,
            args,
            hosts: &hosts,
            platform: Some(&platform),
            work_dir: &job_dir,
            timestamp: 0,
        };
        let observer = self.observer;
        let name = spec.name.clone();
        let out = buildah::run(&job, &mut |line: &str| {
            observer.event(&Event::Log { image: &name, line });
        })?;
        let out_layout = Arc::new(Layout::open(&out)?);
        let report = self
            .rt
            .block_on(copy(
                &Source::Layout(out_layout, Some("image".into())),
                &Sink::Layout(self.store.clone(), stage.digest.hex().to_string()),
                &CopyOptions::default(),
                Arc::new(NoProgress),
            ))
            .map_err(registry_err(format!("oci:{}", out.display())))?;
        Ok(report.digest)
    }

    /// Collects what buildah needs to trust the registries of `images`; images in the store
    /// need nothing, buildah reads them through `link`.
    fn buildah_hosts(
        &self,
        spec: &ImageSpec,
        images: &[&ResolvedImage],
        link: &buildah::StoreLink,
    ) -> Result<Vec<HostAccess>, BuildError> {
        let mut hosts: Vec<HostAccess> = vec![];
        for img in images {
            match Location::parse(&img.reference)? {
                Location::Registry(r) => {
                    if hosts.iter().any(|h| h.host == r.registry) {
                        continue;
                    }
                    hosts.push(self.access.buildah_host(&r)?);
                }
                Location::Layout { path, .. } if link.links_to(&path) => {}
                Location::Layout { .. } => {
                    return Err(BuildError::Usage(format!(
                        "image `{}`: buildah takes `--from` images only from a registry or this \
                         build's store, not from {}; give it a stage of its own \
                         (`FROM {} AS NAME`, then `--from=NAME`)",
                        spec.name, img.reference, img.reference
                    )));
                }
            }
        }
        Ok(hosts)
    }

    fn resolve_uncached(&mut self, reference: &str) -> Result<ResolvedImage, BuildError> {
        let loc = Location::parse(reference).map_err(|e| BuildError::Usage(e.to_string()))?;
        let not_image = || BuildError::Usage(format!("{reference}: not an image manifest"));
        let (manifest, digest, config_bytes) = match loc {
            Location::Layout { path, tag } => {
                let layout = Layout::open(&path)?;
                let mut desc = layout.resolve(tag.as_deref())?;
                let mut m =
                    Manifest::parse(&layout.read_blob(&desc.digest)?, Some(&desc.media_type))?;
                if let Some(index) = m.as_index() {
                    desc = self.pick(index, reference)?;
                    m = Manifest::parse(&layout.read_blob(&desc.digest)?, Some(&desc.media_type))?;
                }
                let m = m.as_image().cloned().ok_or_else(not_image)?;
                let config = layout.read_blob(&m.config.digest)?;
                (m, desc.digest, config)
            }
            Location::Registry(r) => {
                let reg = self.registry(&r)?;
                let get = |rt: &tokio::runtime::Runtime, at: String| {
                    let (bytes, ct, digest) = rt
                        .block_on(reg.get_manifest(&r.repository, &at))
                        .map_err(registry_err(&r))?;
                    Ok::<_, BuildError>((Manifest::parse(&bytes, ct.as_deref())?, digest))
                };
                let (mut m, mut digest) = get(&self.rt, r.reference_str())?;
                if let Some(index) = m.as_index() {
                    let d = self.pick(index, reference)?;
                    (m, digest) = get(&self.rt, d.digest.to_string())?;
                }
                let m = m.as_image().cloned().ok_or_else(not_image)?;
                let config = if self.store.has_blob(&m.config.digest, Some(m.config.size)) {
                    self.store.read_blob(&m.config.digest)?
                } else {
                    let src = Source::Registry(reg.clone(), r.clone());
                    let b = self
                        .rt
                        .block_on(src.small_blob(&m.config))
                        .map_err(registry_err(&r))?;
                    self.store.write_blob(&b)?;
                    b
                };
                (m, digest, config)
            }
        };
        let config: Value = serde_json::from_slice(&config_bytes).map_err(|e| {
            BuildError::Usage(format!("{reference}: its image config is not JSON: {e}"))
        })?;
        Ok(ResolvedImage {
            reference: reference.to_string(),
            manifest_digest: digest,
            config,
            layers: manifest.layers,
        })
    }

    fn pick(
        &self,
        index: &slipway_oci::ImageIndex,
        reference: &str,
    ) -> Result<Descriptor, BuildError> {
        index
            .find_platform(&self.opts.platform)
            .cloned()
            .ok_or_else(|| {
                BuildError::Usage(format!(
                    "{reference} has no image for {}; it has: {}",
                    stage::platform_text(&self.opts.platform),
                    index.platforms().join(", ")
                ))
            })
    }
}

impl Resolve for Run<'_> {
    fn resolve(&mut self, reference: &str) -> Result<ResolvedImage, BuildError> {
        if let Some(r) = self.resolved.get(reference) {
            return Ok(r.clone());
        }
        let r = self.resolve_uncached(reference)?;
        self.resolved.insert(reference.to_string(), r.clone());
        Ok(r)
    }
}

/// Reads a cached account-files record; `None` when missing or not as written.
fn read_accounts(file: &Path, count: usize) -> Option<Vec<Stacked>> {
    let bytes = std::fs::read(file).ok()?;
    serde_json::from_slice::<Vec<Stacked>>(&bytes)
        .ok()
        .filter(|v| v.len() == count)
}

/// Writes a cache record whole. Failing only costs a re-read next time.
fn write_accounts(file: &Path, found: &[Stacked]) {
    let (Some(dir), Ok(json)) = (file.parent(), serde_json::to_vec(found)) else {
        return;
    };
    if std::fs::create_dir_all(dir).is_ok() {
        let _ = slipway_oci::write_file_atomic(file, &json);
    }
}

/// What the buildah builds of one image share: buildah's folder (its storage keeps pulled
/// layers), the link to the store, the build args as buildah gets them, and the Dockerfile.
struct BuildahSession {
    work: tempfile::TempDir,
    link: buildah::StoreLink,
    args: BTreeMap<String, String>,
    text: String,
    df: dockerfile::Dockerfile,
    /// The context without its `.dockerignore`d files, made for the first stage that
    /// bind-mounts it.
    filtered: std::cell::OnceCell<PathBuf>,
}

impl BuildahSession {
    /// Returns the context a stage that bind-mounts it is built with: a copy of the files
    /// `.dockerignore` lets through, which are the files its digest covers. buildah 1.28
    /// mounts the whole folder, ignored files included; BuildKit mounts what it was sent.
    fn context_for_mounts(&self, context: &Path) -> Result<&Path, BuildError> {
        if let Some(dir) = self.filtered.get() {
            return Ok(dir);
        }
        let dir = self.work.path().join("context");
        copy_context(context, &dir)?;
        Ok(self.filtered.get_or_init(|| dir))
    }
}

/// Copies the files of `context` that its `.dockerignore` lets through into the new folder
/// `to`, keeping modes, file mtimes and symbolic links.
fn copy_context(context: &Path, to: &Path) -> Result<(), BuildError> {
    let ignore = DockerIgnore::load(context)?;
    let entries = plan_copy(context, Some(&ignore), &[".".into()], "/", "/")
        .map_err(|e| BuildError::Usage(format!("build context {}: {e}", context.display())))?;
    std::fs::create_dir(to).map_err(io_err(to))?;
    let mut dirs = vec![];
    for e in entries {
        let rel = e.dest.trim_start_matches('/');
        if rel.is_empty() {
            continue;
        }
        let dest = to.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        match &e.kind {
            EntryKind::Dir => {
                std::fs::create_dir_all(&dest).map_err(io_err(&dest))?;
                dirs.push((dest, e.mode));
            }
            EntryKind::File => {
                std::fs::copy(&e.source, &dest).map_err(io_err(&e.source))?;
                let mtime = std::time::UNIX_EPOCH
                    + std::time::Duration::from_secs(u64::try_from(e.mtime).unwrap_or(0));
                std::fs::File::options()
                    .write(true)
                    .open(&dest)
                    .and_then(|f| f.set_modified(mtime))
                    .map_err(io_err(&dest))?;
            }
            EntryKind::Symlink(target) => {
                std::os::unix::fs::symlink(target, &dest).map_err(io_err(&dest))?;
            }
        }
    }
    // Modes last, so a read-only folder was still writable while it was filled.
    for (dir, mode) in dirs.iter().rev() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(*mode))
            .map_err(io_err(dir))?;
    }
    Ok(())
}

/// Lists the images a stage's `COPY --from`s and `RUN --mount from=`s name.
fn step_images(s: &StagePlan) -> impl Iterator<Item = &ResolvedImage> {
    step_froms(s).filter_map(|from| match from {
        FromSource::Image(img) => Some(img),
        FromSource::Stage(_) => None,
    })
}

/// The store tag of a base image: `base-<manifest hex>`.
fn base_tag(img: &ResolvedImage) -> String {
    format!("base-{}", img.manifest_digest.hex())
}

/// Lists the earlier stages a stage uses: its base, its `COPY --from`s and its
/// `RUN --mount from=`s, by index.
fn stage_deps(s: &StagePlan) -> std::collections::BTreeSet<usize> {
    let base = match s.base {
        Base::Stage(j) => Some(j),
        _ => None,
    };
    base.into_iter()
        .chain(step_froms(s).filter_map(|from| match from {
            FromSource::Stage(j) => Some(*j),
            FromSource::Image(_) => None,
        }))
        .collect()
}

/// Lists what a stage's `COPY --from`s and `RUN --mount from=`s name.
fn step_froms(s: &StagePlan) -> impl Iterator<Item = &FromSource> {
    s.steps.iter().flat_map(|st| match &st.action {
        Action::CopyFrom { from, .. } => std::slice::from_ref(&**from),
        Action::Run { mounts } => mounts.as_slice(),
        _ => &[],
    })
}

/// Turns a file found on disk (in an extracted stage or an unpacked archive) into a layer
/// entry. Without an owner, it keeps the one it has on disk: extraction sets the image's
/// owners when slipway runs as root, as BuildKit keeps them.
fn disk_entry(
    e: slipway_glob::Entry,
    owner: Option<(u64, u64)>,
    chmod: Option<u32>,
    mtime: u64,
) -> LayerEntry {
    let (uid, gid) = owner.unwrap_or_else(|| {
        std::fs::symlink_metadata(&e.source)
            .map(|m| (u64::from(m.uid()), u64::from(m.gid())))
            .unwrap_or((0, 0))
    });
    LayerEntry {
        path: e.dest,
        mode: chmod.unwrap_or(e.mode),
        uid,
        gid,
        mtime,
        content: match e.kind {
            EntryKind::Dir => Content::Dir,
            EntryKind::File => Content::File(e.source),
            EntryKind::Symlink(t) => Content::Symlink(t.to_string_lossy().into()),
        },
    }
}

fn stage_report(
    s: &StagePlan,
    status: StageStatus,
    seconds: f64,
    backend: Option<&'static str>,
) -> StageReport {
    StageReport {
        index: s.index,
        name: s.name.clone(),
        digest: s.digest.hex().to_string(),
        status,
        seconds,
        backend,
    }
}

/// Returns this machine's platform as an OCI platform (`linux/amd64`, `linux/arm64`, ...).
pub fn host_platform() -> Platform {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    Platform {
        architecture: arch.into(),
        os: "linux".into(),
        variant: (arch == "arm64").then(|| "v8".to_string()),
        os_version: None,
        os_features: None,
    }
}
