//! The build engine: plans each image's stages, finds the ones already built (in `--repo`
//! or the local store), builds the rest natively or with buildah, and pushes them.
//!
//! Every stage is stored under its digest as the tag: `<repo>:<hex>` in a registry, and
//! `<hex>` in the local store, an OCI image layout. The store also keeps pulled base images
//! (tag `base-<hex>`) and the extracted root file systems `COPY --from` reads
//! (`rootfs/<hex>`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use slipway_oci::{Digest, Layout, Platform, Reference};
use slipway_registry::{NoProgress, Progress, Registry};

use crate::buildah::HostAccess;
use crate::hashcache::HashCache;
use crate::stage::{
    self, Action, Base, FromSource, ImagePlan, PlanInput, ResolvedImage, StagePlan,
};
use crate::{BuildError, LayerFormat};
use slipway_dockerfile as dockerfile;
use slipway_glob::DockerIgnore;
use slipway_layer::Stacked;
use slipway_werf::{ImageSpec, ImportKind, WerfConfig};

mod backend_buildah;
mod final_image;
mod native;
mod platforms;
mod resolve;
mod secrets;
mod store;

pub use platforms::{BINFMT_MISC, check_emulator, normalize as normalize_platform};

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
    /// Read-only repositories of stages (werf's `--secondary-repo`), used only with `repo`:
    /// a stage missing from `repo` and found in one of them is copied into `repo` instead of
    /// being built. Nothing is ever written to them.
    pub secondary_repos: Vec<Reference>,
    /// Cache repositories (werf's `--cache-repo`), used only with `repo`: a stage missing
    /// from `repo` and found in one of them is copied into `repo` instead of being built; a
    /// stage pushed to `repo` is pushed to each of them too, and a stage pulled to build on
    /// is pulled from the first that has it (and pushed to those before it that lack it).
    pub cache_repos: Vec<Reference>,
    /// The local OCI layout store.
    pub store: PathBuf,
    /// The backend.
    pub backend: Backend,
    /// How layers are written.
    pub format: LayerFormat,
    /// The platforms every image is built for (`--platform`), over werf.yaml's: when
    /// empty, each image's own `platform` list, else werf.yaml's `build.platform`, else
    /// this machine's platform. An image built for more than one platform is published as an
    /// image index; each platform's base images are picked from multi-platform bases.
    pub platforms: Vec<Platform>,
    /// The images to build (with their dependencies); empty builds all.
    pub images: Vec<String>,
    /// Compression threads.
    pub threads: usize,
    /// How buildah is run ([`slipway_proc::Host`] unless a test records it).
    pub processes: slipway_proc::Shared,
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
    /// Found in a cache or secondary repository and copied to `--repo` without a rebuild.
    Copied,
}

/// What the engine tells its observer.
#[derive(Debug)]
pub enum Event<'a> {
    /// An image's stages are planned.
    Image {
        /// The werf image name.
        name: &'a str,
        /// The platform, for an image built for more than one (`None` otherwise).
        platform: Option<&'a str>,
        /// How many stages it needs.
        stages: usize,
        /// The backend chosen.
        backend: &'a str,
    },
    /// A stage changed status.
    Stage {
        /// The werf image name.
        image: &'a str,
        /// The platform, for an image built for more than one (`None` otherwise, and for the
        /// index that publishes the platforms).
        platform: Option<&'a str>,
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
    /// `cached`, `built`, `pushed` or `copied`.
    pub status: StageStatus,
    /// Seconds spent on it.
    pub seconds: f64,
    /// For a stage built in this run, the backend that built it: `native` or `buildah`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<&'static str>,
    /// The platform it was built for, in the report of an image built for more than one
    /// (whose stages are every platform's, one platform after the other).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// Reports one image, with werf's report keys.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageReport {
    /// The werf image name.
    pub werf_image_name: String,
    /// The repository: `HOST/PATH`, or `oci:STORE` without `--repo`.
    pub docker_repo: String,
    /// The tag: the target stage's digest (hex), or with werf's `imageSpec` the digest of
    /// the edited image (the target stage's digest and the edit).
    pub docker_tag: String,
    /// `DockerRepo:DockerTag`.
    pub docker_image_name: String,
    /// The manifest digest: for an image built for more than one platform, the digest of
    /// its image index.
    pub docker_image_digest: String,
    /// The image ID: the digest of the image's config, `sha256:...` (what werf's
    /// `ImageID` import passes).
    #[serde(rename = "DockerImageID")]
    pub docker_image_id: String,
    /// werf's `TargetPlatform`: the platform built for (`linux/amd64`); empty for an image
    /// built for more than one platform, whose tag and digest are its image index's.
    pub target_platform: String,
    /// Whether any stage (or the `imageSpec` edit) was built in this run.
    pub rebuilt: bool,
    /// werf's `Final`: false for an image with `final: false`, which is built for the
    /// images that depend on it but gets no custom tags and is left out of `render`.
    #[serde(rename = "Final")]
    pub is_final: bool,
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
    /// werf's `ImagesByPlatform`: image name to platform to the image built for it, for
    /// every image (filled by the engine; werf writes it only when
    /// `WERF_ENABLE_REPORT_BY_PLATFORM=1`, and the command line does the same).
    pub images_by_platform: BTreeMap<String, BTreeMap<String, ImageReport>>,
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
    let host = platforms::normalize(&host_platform());
    // Every image's platforms, and its dependencies' (an image built for a platform imports
    // from its dependencies' images for that platform).
    let mut targets: HashMap<String, Vec<Platform>> = HashMap::new();
    for spec in &selected {
        check_context_add_files(cfg, spec)?;
        final_image::check(cfg, spec)?;
        secrets::check(cfg, spec)?;
        targets.insert(
            spec.name.clone(),
            platforms::image_platforms(spec, opts, &host)?,
        );
    }
    for spec in &selected {
        check_dependency_platforms(spec, &targets)?;
    }
    // Options that cannot work are bad input, found before anything is read or built.
    slipway_layer::LayerOptions {
        compression: opts.format.compression,
        level: opts.format.level,
        threads: 1,
    }
    .check()
    .map_err(|e| BuildError::Usage(e.to_string()))?;
    if opts.store.exists() && !opts.store.is_dir() {
        return Err(BuildError::Usage(format!(
            "the store {} is not a folder",
            opts.store.display()
        )));
    }
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
    store::sweep_store(&store_path);
    let contexts: Vec<PathBuf> = selected.iter().map(|s| s.context.clone()).collect();
    let hashes = HashCache::load(&store_path, &contexts);
    let mut run = Run {
        platform: host.clone(),
        host,
        several: false,
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
    let mut planned: HashMap<(String, String), Prepared> = HashMap::new();
    for spec in &selected {
        if !spec.dependencies.is_empty() {
            // At least its Dockerfile must parse before anything is pushed, and a RUN it
            // needs for a platform this machine cannot run is refused now.
            let (_, df) = read_dockerfile(spec)?;
            run.refuse_foreign_runs(spec, &df, &targets[&spec.name])?;
        }
    }
    for spec in &selected {
        if spec.dependencies.is_empty() {
            let list = &targets[&spec.name];
            for p in list {
                run.select_platform(p, list.len() > 1);
                let key = (spec.name.clone(), stage::platform_text(p));
                planned.insert(key, run.prepare(spec, &spec.args)?);
            }
        }
    }
    for spec in &selected {
        let list = &targets[&spec.name];
        let mut per: Vec<(Platform, ImageReport)> = Vec::with_capacity(list.len());
        for p in list {
            run.select_platform(p, list.len() > 1);
            let text = stage::platform_text(p);
            let prepared = match planned.remove(&(spec.name.clone(), text.clone())) {
                Some(p) => p,
                None => {
                    let args = import_args(spec, &report, &text)?;
                    run.prepare(spec, &args)?
                }
            };
            let image = run.image(spec, prepared)?;
            report
                .images_by_platform
                .entry(spec.name.clone())
                .or_default()
                .insert(text, image.clone());
            per.push((p.clone(), image));
        }
        let image = match per.len() {
            1 => per.pop().expect("one platform").1,
            _ => run.publish_index(spec, &per)?,
        };
        report.images.insert(spec.name.clone(), image);
    }
    drop(run);
    hashes.save();
    Ok(report)
}

/// Returns the images to build, dependencies first.
pub(crate) fn select_images<'c>(
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

/// Refuses a `contextAddFiles` path the image's ignore file excludes. werf adds such paths
/// to the context it sends; slipway reads the context folder through the ignore file, as
/// BuildKit does, so the path would not be there: say so instead of leaving it out.
pub(crate) fn check_context_add_files(
    cfg: &WerfConfig,
    spec: &ImageSpec,
) -> Result<(), BuildError> {
    if spec.context_add_files.is_empty() {
        return Ok(());
    }
    let ignore = DockerIgnore::for_dockerfile(&spec.context, &spec.dockerfile)?;
    for rel in &spec.context_add_files {
        let text = rel.to_string_lossy().replace('\\', "/");
        if ignore.is_excluded(&text) {
            let mut own = spec.dockerfile.as_os_str().to_os_string();
            own.push(".dockerignore");
            let own = PathBuf::from(own);
            let file = if own.is_file() {
                own
            } else {
                spec.context.join(".dockerignore")
            };
            return Err(BuildError::Usage(format!(
                "{}: image `{}`: contextAddFiles names `{text}`, which {} excludes; slipway \
                 applies the ignore file to these paths too, so it would not be in the build \
                 context: remove the pattern that excludes it (or add `!{text}` after it), or \
                 remove the path from contextAddFiles",
                cfg.path.display(),
                spec.name,
                file.display()
            )));
        }
    }
    Ok(())
}

/// Refuses an image built for a platform one of its dependencies is not built for: it
/// imports from the dependency's image for the same platform.
pub(crate) fn check_dependency_platforms(
    spec: &ImageSpec,
    targets: &HashMap<String, Vec<Platform>>,
) -> Result<(), BuildError> {
    let texts = |list: &[Platform]| {
        list.iter()
            .map(stage::platform_text)
            .collect::<Vec<_>>()
            .join(", ")
    };
    for dep in &spec.dependencies {
        let (Some(mine), Some(theirs)) = (targets.get(&spec.name), targets.get(&dep.image)) else {
            continue;
        };
        if let Some(p) = mine.iter().find(|p| !theirs.contains(p)) {
            return Err(BuildError::Usage(format!(
                "image `{}` is built for {}, and its dependency `{}` is not (it is built for \
                 {}); an image imports from its dependencies' images for the same platform, \
                 so give `{}` that platform too (werf.yaml `platform`, or `--platform` for \
                 every image)",
                spec.name,
                stage::platform_text(p),
                dep.image,
                texts(theirs),
                dep.image
            )));
        }
    }
    Ok(())
}

/// Returns an image's build args for `platform`: its own plus what it imports from its
/// dependencies' images built for that platform.
pub(crate) fn import_args(
    spec: &ImageSpec,
    report: &BuildReport,
    platform: &str,
) -> Result<BTreeMap<String, String>, BuildError> {
    let mut args = spec.args.clone();
    for dep in &spec.dependencies {
        let built = report
            .images_by_platform
            .get(&dep.image)
            .and_then(|by| by.get(platform))
            .ok_or_else(|| {
                BuildError::Usage(format!(
                    "image `{}` depends on `{}`, which was not built first for {platform}",
                    spec.name, dep.image
                ))
            })?;
        for imp in &dep.imports {
            let value = match imp.kind {
                ImportKind::ImageName => built.docker_image_name.clone(),
                ImportKind::ImageDigest => built.docker_image_digest.clone(),
                ImportKind::ImageRepo => built.docker_repo.clone(),
                ImportKind::ImageTag => built.docker_tag.clone(),
                ImportKind::ImageID => built.docker_image_id.clone(),
            };
            args.insert(imp.target_build_arg.clone(), value);
        }
    }
    Ok(args)
}

/// Reads and parses an image's Dockerfile.
/// Reads and parses an image's Dockerfile; returns its text and the parsed form.
pub(crate) fn read_dockerfile(
    spec: &ImageSpec,
) -> Result<(String, dockerfile::Dockerfile), BuildError> {
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
pub(crate) struct Prepared {
    pub(crate) plan: ImagePlan,
    pub(crate) backend: Backend,
    pub(crate) args: BTreeMap<String, String>,
    /// The Dockerfile's text and parsed form, for the Dockerfiles buildah is given.
    pub(crate) dockerfile: (String, dockerfile::Dockerfile),
}

/// Where a stage's image is.
#[derive(Clone)]
pub(crate) struct Located {
    pub(crate) manifest: Digest,
    pub(crate) local: bool,
    /// The digest of its config (the image ID), when the manifest was read on the way.
    pub(crate) config: Option<Digest>,
}

/// Returns the first `RUN` of a plan: its stage's label and its line.
pub(crate) fn first_run(plan: &ImagePlan) -> Option<(String, usize)> {
    plan.stages.iter().find_map(|s| {
        s.steps
            .iter()
            .find(|st| matches!(st.action, Action::Run { .. }))
            .map(|st| (s.label(), st.line))
    })
}

/// Returns what buildah gets for werf's `network:` in a stage with `RUN`: `--network host`
/// for `host`, nothing (its default, which with `--isolation chroot` is the build
/// machine's network) for `default`. buildah 1.28 refuses every other mode with
/// `--isolation chroot`.
pub(crate) fn run_network(network: &str) -> Result<Option<&str>, ()> {
    match network {
        "host" => Ok(Some("host")),
        "default" => Ok(None),
        _ => Err(()),
    }
}

pub(crate) struct Run<'a> {
    /// The platform being planned and built.
    pub(crate) platform: Platform,
    /// This machine's platform.
    pub(crate) host: Platform,
    /// Whether the image being built is built for more than one platform (its progress
    /// lines then name the platform).
    pub(crate) several: bool,
    pub(crate) opts: &'a BuildOptions,
    pub(crate) access: &'a dyn Access,
    pub(crate) observer: &'a dyn Observer,
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) store: Arc<Layout>,
    pub(crate) store_path: PathBuf,
    pub(crate) registries: HashMap<String, Arc<Registry>>,
    /// Base images resolved so far, by platform and reference.
    pub(crate) resolved: HashMap<(String, String), ResolvedImage>,
    pub(crate) hashes: &'a HashCache,
    /// The last layer stack whose account files were read, and what it holds.
    pub(crate) accounts: Option<(Vec<Digest>, Vec<Stacked>)>,
}

pub(crate) fn registry_err(
    subject: impl std::fmt::Display,
) -> impl FnOnce(slipway_registry::Error) -> BuildError {
    let subject = subject.to_string();
    move |source| BuildError::Registry {
        subject,
        source: Box::new(source),
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn is_not_found(e: &slipway_registry::Error) -> bool {
    matches!(e, slipway_registry::Error::Status { status: 404, .. })
}

impl Run<'_> {
    pub(crate) fn registry(&mut self, r: &Reference) -> Result<Arc<Registry>, BuildError> {
        let key = r.registry.clone();
        if let Some(reg) = self.registries.get(&key) {
            return Ok(reg.clone());
        }
        let reg = self.access.registry(r)?;
        self.registries.insert(key, reg.clone());
        Ok(reg)
    }

    pub(crate) fn prepare(
        &mut self,
        spec: &ImageSpec,
        args: &BTreeMap<String, String>,
    ) -> Result<Prepared, BuildError> {
        let path = &spec.dockerfile;
        let (text, df) = read_dockerfile(spec)?;
        let ignore = DockerIgnore::for_dockerfile(&spec.context, path)?;
        let opts = self.opts;
        let (platform, host) = (self.platform.clone(), self.host.clone());
        let input = PlanInput {
            dockerfile_path: path,
            context: &spec.context,
            ignore: &ignore,
            target: spec.target.as_deref(),
            args,
            platform: &platform,
            build_platform: &host,
            format: &opts.format,
            hashes: self.hashes,
            cache_version: spec.cache_version.as_deref(),
            add_hosts: &spec.add_hosts,
        };
        let plan = stage::plan(&df, &input, self)?;
        if let Some((stage, line)) = first_run(&plan)
            && let Err(why) =
                platforms::check_emulator(&platform, &host, Path::new(platforms::BINFMT_MISC))
        {
            return Err(platforms::foreign_run(spec, &stage, line, &platform, &why));
        }
        if let Some(network) = spec.network.as_deref()
            && run_network(network).is_err()
            && let Some((stage, line)) = first_run(&plan)
        {
            return Err(BuildError::Plan {
                path: path.clone(),
                line,
                message: format!(
                    "stage {stage} has RUN, and werf.yaml gives image `{}` `network: {network}`, \
                     which slipway cannot give it: buildah runs RUN with --isolation chroot, on \
                     the build machine's network, and then takes only `network: host`; write \
                     `network: host` (or `default`), or remove the key",
                    spec.name
                ),
            });
        }
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
                let (stage, line) = first_run(&plan).expect("a RUN");
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

    pub(crate) fn image(
        &mut self,
        spec: &ImageSpec,
        prepared: Prepared,
    ) -> Result<ImageReport, BuildError> {
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
        let platform = self.several.then(|| stage::platform_text(&self.platform));
        self.observer.event(&Event::Image {
            name: &spec.name,
            platform: platform.as_deref(),
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
        // The fastest path: werf's imageSpec made the final image, and it exists.
        if let Some((tag, loc)) = self.find_final(spec, &target.digest)? {
            for s in &plan.stages {
                self.stage_event(&spec.name, s, StageStatus::Cached, None, None);
                stages.push(stage_report(s, StageStatus::Cached, 0.0, None));
            }
            self.final_event(&spec.name, &tag, StageStatus::Cached, None);
            let id = self.image_id(&tag, &loc)?;
            return Ok(self.image_report(
                spec,
                &tag,
                (&loc.manifest, &id),
                false,
                backend_name,
                stages,
            ));
        }
        // The fast path: the target is in --repo (or in the store without one), so nothing
        // below it is needed. A target just copied from a cache or secondary repository is
        // not: --repo gets every stage of the image, each copied from there or built.
        let found = self.find_stage(&target.digest)?;
        if let Some((loc, _)) = found
            .clone()
            .filter(|(l, copied)| !copied && (!l.local || self.opts.repo.is_none()))
        {
            for s in &plan.stages {
                self.stage_event(&spec.name, s, StageStatus::Cached, None, None);
                stages.push(stage_report(s, StageStatus::Cached, 0.0, None));
            }
            return self.finish(spec, &target.digest, loc, false, backend_name, stages);
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
                self.find_stage(&s.digest)?
            };
            let status = match at {
                Some((loc, copied)) if !loc.local || self.opts.repo.is_none() => {
                    located.insert(s.index, loc);
                    if copied {
                        StageStatus::Copied
                    } else {
                        StageStatus::Cached
                    }
                }
                Some((loc, _)) => {
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
                            config: None,
                        },
                    );
                    StageStatus::Built
                }
            };
            let secs = started.elapsed().as_secs_f64();
            self.stage_event(&spec.name, s, status, Some(secs), built_by);
            stages.push(stage_report(s, status, secs, built_by));
        }
        let loc = located[&target.index].clone();
        let rebuilt = stages.iter().any(|s| s.status == StageStatus::Built);
        self.finish(spec, &target.digest, loc, rebuilt, backend_name, stages)
    }

    /// Whether buildah builds this stage: every stage with `--backend buildah`, and with
    /// `auto` only the stages the native backend cannot build.
    pub(crate) fn buildah_builds(&self, s: &StagePlan) -> bool {
        self.opts.backend == Backend::Buildah || s.needs_buildah()
    }

    pub(crate) fn stage_event(
        &self,
        image: &str,
        s: &StagePlan,
        status: StageStatus,
        seconds: Option<f64>,
        backend: Option<&str>,
    ) {
        let platform = self.several.then(|| stage::platform_text(&self.platform));
        self.observer.event(&Event::Stage {
            image,
            platform: platform.as_deref(),
            stage: &s.label(),
            digest: &s.digest,
            status,
            seconds,
            backend,
        });
    }

    /// `tag`: the final image's tag (the target stage's digest, or the imageSpec edit's);
    /// `(manifest, id)`: its manifest digest and its image ID.
    pub(crate) fn image_report(
        &self,
        spec: &ImageSpec,
        tag: &Digest,
        (manifest, id): (&Digest, &Digest),
        rebuilt: bool,
        backend: &str,
        stages: Vec<StageReport>,
    ) -> ImageReport {
        let repo = match &self.opts.repo {
            Some(r) => r.name(),
            None => format!("oci:{}", self.store_path.display()),
        };
        let tag = tag.hex().to_string();
        ImageReport {
            werf_image_name: spec.name.clone(),
            docker_image_name: format!("{repo}:{tag}"),
            docker_repo: repo,
            docker_tag: tag,
            docker_image_digest: manifest.to_string(),
            docker_image_id: id.to_string(),
            target_platform: stage::platform_text(&self.platform),
            rebuilt,
            is_final: spec.is_final,
            backend: backend.into(),
            stages,
        }
    }
}

/// Lists the images a stage's `COPY --from`s and `RUN --mount from=`s name.
pub(crate) fn step_images(s: &StagePlan) -> impl Iterator<Item = &ResolvedImage> {
    step_froms(s).filter_map(|from| match from {
        FromSource::Image(img) => Some(img),
        FromSource::Stage(_) => None,
    })
}

/// The store tag of a base image: `base-<manifest hex>`.
pub(crate) fn base_tag(img: &ResolvedImage) -> String {
    format!("base-{}", img.manifest_digest.hex())
}

/// Lists the earlier stages a stage uses: its base, its `COPY --from`s and its
/// `RUN --mount from=`s, by index.
pub(crate) fn stage_deps(s: &StagePlan) -> std::collections::BTreeSet<usize> {
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
pub(crate) fn step_froms(s: &StagePlan) -> impl Iterator<Item = &FromSource> {
    s.steps.iter().flat_map(|st| match &st.action {
        Action::CopyFrom { from, .. } => std::slice::from_ref(&**from),
        Action::Run { mounts } => mounts.as_slice(),
        _ => &[],
    })
}

pub(crate) fn stage_report(
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
        platform: None,
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
