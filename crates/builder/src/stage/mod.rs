//! Stage planning: which stages of a Dockerfile an image needs, what each instruction does
//! to the image config, which files each `COPY` takes, and each stage's digest.
//!
//! Planning reads the context but builds nothing. A stage's digest covers its normalized
//! instructions, the resolved manifest digest of its base image (or the digest of its base
//! stage), the values of the build args it declares, the content and metadata of exactly
//! the context files its `COPY`/`ADD` take, the digests of the stages it copies from, the
//! platform and the layer format, werf's `cacheVersion` when set, and for a stage with
//! `RUN` werf's `addHost` entries. The digest is the stage's tag in `--repo` and in the
//! local store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use slipway_oci::{Descriptor, Digest, Platform};

use crate::hashcache::HashCache;
use crate::{BuildError, LayerFormat};
use slipway_dockerfile::{self as dockerfile, ArgDecl, Dockerfile, Kind};
use slipway_glob::DockerIgnore;
use slipway_layer::LayerEntry;

mod config;
mod inputs;
mod planner;
#[cfg(test)]
mod tests;

use config::*;
pub use config::{Chown, IdOrName, parse_duration};
use inputs::*;
use planner::*;

/// The `created` time every image and history entry gets: the epoch, for reproducibility.
pub const EPOCH: &str = "1970-01-01T00:00:00Z";

/// A base image resolved to a manifest: what a stage starts from.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// The reference as written (after ARG expansion).
    pub reference: String,
    /// The digest of the platform's image manifest.
    pub manifest_digest: Digest,
    /// The image config.
    pub config: Value,
    /// The layers, base first.
    pub layers: Vec<Descriptor>,
}

/// Resolves base images (and `COPY --from` images) to manifests.
pub trait Resolve {
    /// Resolves a reference (`registry/repo:tag`, or `oci:PATH:TAG`) for the platform.
    ///
    /// # Errors
    /// Any registry or layout error, naming the reference.
    fn resolve(&mut self, reference: &str) -> Result<ResolvedImage, BuildError>;
}

/// What a stage starts from.
#[derive(Debug, Clone)]
pub enum Base {
    /// An empty image.
    Scratch,
    /// An earlier stage, by index.
    Stage(usize),
    /// An image.
    Image(ResolvedImage),
}

/// A local archive an `ADD` unpacks.
#[derive(Debug, Clone)]
pub struct Unpack {
    /// The archive in the context.
    pub archive: PathBuf,
    /// Its digest when the stage was planned; unpacking checks it.
    pub digest: Digest,
    /// The folder in the image it is unpacked into.
    pub into: String,
}

/// Where a `COPY --from` reads.
#[derive(Debug, Clone)]
pub enum FromSource {
    /// An earlier stage, by index.
    Stage(usize),
    /// An image.
    Image(ResolvedImage),
}

/// What one instruction does when the stage is built natively.
#[derive(Debug, Clone)]
pub enum Action {
    /// Nothing beyond the config change planning already made.
    Config,
    /// Writes a layer with these entries (from the context or heredocs).
    Layer {
        /// The entries, owned as `--chown` says when it gives numbers.
        entries: Vec<LayerEntry>,
        /// The local archives an `ADD` unpacks into the same layer.
        unpack: Vec<Unpack>,
        /// A `--chown` with names, or any `--chown` of an `ADD` that unpacks: the engine
        /// looks names up in the stage's account files and gives every entry that owner.
        chown: Option<Chown>,
    },
    /// Writes a layer with files from another stage or image, planned when that stage's
    /// root file system exists.
    CopyFrom {
        /// Where the files come from.
        from: Box<FromSource>,
        /// The expanded source paths.
        sources: Vec<String>,
        /// The expanded destination.
        dest: String,
        /// The working directory the destination is relative to.
        workdir: String,
        /// The owner from `--chown`.
        owner: Option<Chown>,
        /// The mode from `--chmod`.
        chmod: Option<u32>,
    },
    /// Runs a command: only the buildah backend can.
    Run {
        /// The stages and images its `--mount=...,from=` flags mount.
        mounts: Vec<FromSource>,
    },
}

/// One planned instruction.
#[derive(Debug, Clone)]
pub struct Step {
    /// The Dockerfile line it starts on.
    pub line: usize,
    /// Its normalized text: the history entry's `created_by`.
    pub text: String,
    /// What building it does.
    pub action: Action,
}

/// A planned stage.
#[derive(Debug, Clone)]
pub struct StagePlan {
    /// The stage's index in the Dockerfile.
    pub index: usize,
    /// Its `AS` name.
    pub name: Option<String>,
    /// What it starts from.
    pub base: Base,
    /// Its instructions (its base image's ONBUILD triggers first; buildah, given the base
    /// image, runs those itself).
    pub steps: Vec<Step>,
    /// The runtime config (`Env`, `Cmd`, ...) after its instructions.
    pub config: Map<String, Value>,
    /// The `author` (from `MAINTAINER`), if set.
    pub author: Option<String>,
    /// Whether it has a `RUN`.
    pub has_run: bool,
    /// Whether a `RUN` bind-mounts the build context (`--mount=type=bind` without `from=`).
    pub mounts_context: bool,
    /// Whether a `RUN` mounts a build secret (`--mount=type=secret`): only such a stage is
    /// given werf's `secrets`.
    pub mounts_secrets: bool,
    /// Whether a `RUN` mounts the SSH agent (`--mount=type=ssh`): only such a stage is
    /// given werf's `ssh` agent.
    pub mounts_ssh: bool,
    /// Why the native backend cannot build it, other than `RUN`: the line and the reason
    /// (an `ADD` of an archive only buildah unpacks).
    pub native_blocker: Option<(usize, String)>,
    /// The stage digest.
    pub digest: Digest,
}

impl StagePlan {
    /// Whether only buildah can build this stage: it has a `RUN`, or something else the
    /// native backend cannot do.
    pub fn needs_buildah(&self) -> bool {
        self.has_run || self.native_blocker.is_some()
    }

    /// Returns the name to show: `AS` name or the index.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.index.to_string())
    }
}

/// A planned image: the stages it needs, in build order; the last one is the target.
#[derive(Debug, Clone)]
pub struct ImagePlan {
    /// The needed stages, in Dockerfile order.
    pub stages: Vec<StagePlan>,
}

impl ImagePlan {
    /// Returns the target stage.
    pub fn target(&self) -> &StagePlan {
        self.stages.last().expect("a plan has a stage")
    }

    /// Returns the plan of the stage with this Dockerfile index.
    pub fn stage(&self, index: usize) -> &StagePlan {
        self.stages
            .iter()
            .find(|s| s.index == index)
            .expect("needed stages are planned")
    }

    /// Tells whether a needed stage runs commands.
    pub fn has_run(&self) -> bool {
        self.stages.iter().any(|s| s.has_run)
    }

    /// Returns the first reason, other than `RUN`, the native backend cannot build a needed
    /// stage: the stage, the line and the reason.
    pub fn native_blocker(&self) -> Option<(&StagePlan, usize, &str)> {
        self.stages.iter().find_map(|s| {
            s.native_blocker
                .as_ref()
                .map(|(line, why)| (s, *line, why.as_str()))
        })
    }
}

/// Everything planning needs besides the Dockerfile.
pub struct PlanInput<'a> {
    /// The Dockerfile's path, for errors.
    pub dockerfile_path: &'a Path,
    /// The build context.
    pub context: &'a Path,
    /// The context's `.dockerignore`.
    pub ignore: &'a DockerIgnore,
    /// The `target:` stage name, or `None` for the last stage.
    pub target: Option<&'a str>,
    /// The build args (werf.yaml `args:` plus dependency imports).
    pub args: &'a BTreeMap<String, String>,
    /// The platform built for (`TARGETPLATFORM`).
    pub platform: &'a Platform,
    /// The platform of the machine building it (`BUILDPLATFORM`).
    pub build_platform: &'a Platform,
    /// The layer format, part of every digest.
    pub format: &'a LayerFormat,
    /// Digests of context files remembered from earlier builds.
    pub hashes: &'a HashCache,
    /// werf's cache version (`cacheVersion`, or the meta document's
    /// `build.cacheVersion`): part of every stage digest when set.
    pub cache_version: Option<&'a str>,
    /// werf's `addHost` entries (`host:ip`) for `RUN` steps: part of the digest of every
    /// stage with a `RUN`, whose commands see them in `/etc/hosts`.
    pub add_hosts: &'a [String],
}

/// Plans the stages an image needs.
///
/// # Errors
/// [`BuildError::Plan`] naming the Dockerfile and line (unknown stage, bad flag value,
/// missing or unsafe COPY source, unsupported ADD), or what the resolver returns.
pub fn plan(
    df: &Dockerfile,
    input: &PlanInput<'_>,
    resolver: &mut dyn Resolve,
) -> Result<ImagePlan, BuildError> {
    let fail = |line: usize, message: String| BuildError::Plan {
        path: input.dockerfile_path.to_path_buf(),
        line,
        message,
    };
    let (globals, bases, needed) = graph(df, input, &fail)?;
    let mut planned: Vec<StagePlan> = vec![];
    for stage in df.stages.iter().filter(|s| needed[s.index]) {
        let base = match &bases[stage.index] {
            BaseRef::Scratch => Base::Scratch,
            BaseRef::Stage(i) => Base::Stage(*i),
            BaseRef::Image(r) => Base::Image(resolver.resolve(r)?),
        };
        let p = StagePlanner {
            df,
            input,
            globals: &globals,
            planned: &planned,
            fail: &fail,
        }
        .plan(stage, base, resolver)?;
        planned.push(p);
    }
    Ok(ImagePlan { stages: planned })
}

/// Lists the stages an image needs, by index in Dockerfile order: its target and every
/// stage it builds on or copies from. Nothing is resolved or read from the context.
///
/// # Errors
/// [`BuildError::Plan`] for an unknown target, a `FROM` that expands to nothing, or bad
/// global args.
pub fn needed_stages(df: &Dockerfile, input: &PlanInput<'_>) -> Result<Vec<usize>, BuildError> {
    let fail = |line: usize, message: String| BuildError::Plan {
        path: input.dockerfile_path.to_path_buf(),
        line,
        message,
    };
    let (_, _, needed) = graph(df, input, &fail)?;
    Ok((0..needed.len()).filter(|&i| needed[i]).collect())
}

/// The global args, what each stage starts from, and which stages the target needs.
type Graph = (BTreeMap<String, Option<String>>, Vec<BaseRef>, Vec<bool>);

fn graph(
    df: &Dockerfile,
    input: &PlanInput<'_>,
    fail: &dyn Fn(usize, String) -> BuildError,
) -> Result<Graph, BuildError> {
    if df.stages.is_empty() {
        return Err(fail(1, "the Dockerfile has no FROM".into()));
    }
    let target = match input.target {
        None => df.stages.len() - 1,
        Some(t) => {
            let t = t.to_ascii_lowercase();
            df.stages
                .iter()
                .position(|s| s.name.as_deref() == Some(t.as_str()))
                .ok_or_else(|| {
                    fail(
                        1,
                        format!(
                            "target stage `{t}` is not in the Dockerfile; its stages are: {}",
                            stage_names(&df.stages)
                        ),
                    )
                })?
        }
    };
    let globals = global_args(df, input)?;
    let lookup_global = |n: &str| globals.get(n).cloned().flatten();

    // The stages each stage depends on: its base and its `COPY --from` stages.
    let mut bases: Vec<BaseRef> = Vec::with_capacity(df.stages.len());
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(df.stages.len());
    for stage in &df.stages {
        let base = dockerfile::expand(&stage.base, df.escape, &lookup_global)
            .map_err(|m| fail(stage.line, format!("FROM {}: {m}", stage.base)))?;
        if base.trim().is_empty() {
            // BuildKit: "base name (${B}) should not be blank".
            return Err(fail(
                stage.line,
                format!(
                    "FROM {}: the base name is empty; give the build arg it names a value (werf.yaml `args`, or a default in `ARG`)",
                    stage.base
                ),
            ));
        }
        let base_ref = if base.eq_ignore_ascii_case("scratch") {
            BaseRef::Scratch
        } else if let Some(i) = earlier_stage(df, stage.index, &base) {
            BaseRef::Stage(i)
        } else {
            BaseRef::Image(base)
        };
        let mut d = vec![];
        if let BaseRef::Stage(i) = base_ref {
            d.push(i);
        }
        for ins in &stage.instructions {
            let froms = match &ins.kind {
                Kind::Copy(c) => c.from.iter().cloned().collect(),
                Kind::Run(r) => mount_froms(r),
                _ => vec![],
            };
            for from in froms {
                if from.contains('$') {
                    // Only the stage's own ARGs may resolve it: every earlier stage may be
                    // the one, so all are planned (building more, never too little).
                    d.extend(0..stage.index);
                } else if let Ok(FromRef::Stage(i)) = from_ref(df, stage.index, &from, "") {
                    // Errors are reported with the instruction's line when it is planned.
                    d.push(i);
                }
            }
        }
        bases.push(base_ref);
        deps.push(d);
    }
    let mut needed = vec![false; df.stages.len()];
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !needed[i] {
            needed[i] = true;
            todo.extend(deps[i].iter().copied());
        }
    }

    Ok((globals, bases, needed))
}

pub(crate) enum BaseRef {
    Scratch,
    Stage(usize),
    Image(String),
}

pub(crate) enum FromRef {
    Stage(usize),
    Image(String),
}

/// Lists stages as `name (index)`, or the index for unnamed ones; `(none)` for no stage.
pub(crate) fn stage_names(stages: &[dockerfile::Stage]) -> String {
    if stages.is_empty() {
        return "(none)".into();
    }
    stages
        .iter()
        .map(|s| match &s.name {
            Some(n) => format!("{n} ({})", s.index),
            None => s.index.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn earlier_stage(df: &Dockerfile, current: usize, name: &str) -> Option<usize> {
    let name = name.to_ascii_lowercase();
    df.stages[..current]
        .iter()
        .rposition(|s| s.name.as_deref() == Some(name.as_str()))
}

/// Tells what a `--from` value names: an earlier stage (by name or index) or an image. A
/// bare word that is neither a stage nor looks like an image reference is an error, since
/// it is almost always a misspelt stage.
/// `what` names the flag in messages: `COPY --from=x` or `RUN --mount from=x`.
pub(crate) fn from_ref(
    df: &Dockerfile,
    current: usize,
    from: &str,
    what: &str,
) -> Result<FromRef, String> {
    if let Some(i) = earlier_stage(df, current, from) {
        return Ok(FromRef::Stage(i));
    }
    if let Ok(i) = from.parse::<usize>() {
        if i < current {
            return Ok(FromRef::Stage(i));
        }
        return Err(format!(
            "{what}: stage {i} is not an earlier stage; the stages before this one are: {}",
            stage_names(&df.stages[..current])
        ));
    }
    if df
        .stages
        .iter()
        .any(|s| s.name.as_deref() == Some(&*from.to_ascii_lowercase()))
    {
        return Err(format!(
            "{what}: stage `{from}` comes later in the Dockerfile; a stage can only copy from earlier stages"
        ));
    }
    if from.contains(['/', ':', '.', '@']) {
        return Ok(FromRef::Image(from.to_string()));
    }
    Err(format!(
        "{what}: there is no stage `{from}`; the stages before this one are: {}. \
         (To copy from an image, write its full reference, e.g. docker.io/library/{from}:latest.)",
        stage_names(&df.stages[..current])
    ))
}

/// The values of the args declared before the first `FROM`, plus BuildKit's predefined
/// platform args: `TARGET*` name the platform built for, `BUILD*` the machine building.
pub(crate) fn global_args(
    df: &Dockerfile,
    input: &PlanInput<'_>,
) -> Result<BTreeMap<String, Option<String>>, BuildError> {
    let (p, b) = (input.platform, input.build_platform);
    let mut values: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (k, v) in [
        ("TARGETPLATFORM", platform_text(p)),
        ("TARGETOS", p.os.clone()),
        ("TARGETARCH", p.architecture.clone()),
        ("TARGETVARIANT", p.variant.clone().unwrap_or_default()),
        ("BUILDPLATFORM", platform_text(b)),
        ("BUILDOS", b.os.clone()),
        ("BUILDARCH", b.architecture.clone()),
        ("BUILDVARIANT", b.variant.clone().unwrap_or_default()),
    ] {
        values.insert(k.into(), Some(v));
    }
    for ArgDecl { name, default } in &df.global_args {
        let value = match input.args.get(name) {
            Some(v) => Some(v.clone()),
            None => match default {
                Some(d) => {
                    let lookup = |n: &str| values.get(n).cloned().flatten();
                    Some(dockerfile::expand(d, df.escape, &lookup).map_err(|m| {
                        BuildError::Plan {
                            path: input.dockerfile_path.to_path_buf(),
                            line: 1,
                            message: format!("ARG {name}: {m}"),
                        }
                    })?)
                }
                None => values.get(name).cloned().flatten(),
            },
        };
        values.insert(name.clone(), value);
    }
    Ok(values)
}

/// Returns `os/arch[/variant]`.
pub fn platform_text(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}
