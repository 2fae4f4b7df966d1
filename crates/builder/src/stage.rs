//! Stage planning: which stages of a Dockerfile an image needs, what each instruction does
//! to the image config, which files each `COPY` takes, and each stage's digest.
//!
//! Planning reads the context but builds nothing. A stage's digest covers its normalized
//! instructions, the resolved manifest digest of its base image (or the digest of its base
//! stage), the values of the build args it declares, the content and metadata of exactly
//! the context files its `COPY`/`ADD` take, the digests of the stages it copies from, the
//! platform and the layer format. The digest is the stage's tag in `--repo` and in the
//! local store.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use slipway_oci::{Descriptor, Digest, Hasher, Platform};

use crate::hashcache::HashCache;
use crate::{BuildError, LayerFormat};
use slipway_dockerfile::{
    self as dockerfile, ArgDecl, Command, Dockerfile, Healthcheck, Instruction, Kind,
};
use slipway_fs::Stamp;
use slipway_glob::{DockerIgnore, EntryKind, plan_copy};
use slipway_layer::{self as layer, ArchiveKind, Content, LayerEntry};

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
    /// Its instructions.
    pub steps: Vec<Step>,
    /// The runtime config (`Env`, `Cmd`, ...) after its instructions.
    pub config: Map<String, Value>,
    /// The `author` (from `MAINTAINER`), if set.
    pub author: Option<String>,
    /// Whether it has a `RUN`.
    pub has_run: bool,
    /// Whether a `RUN` bind-mounts the build context (`--mount=type=bind` without `from=`).
    pub mounts_context: bool,
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
    /// The platform built for.
    pub platform: &'a Platform,
    /// The layer format, part of every digest.
    pub format: &'a LayerFormat,
    /// Digests of context files remembered from earlier builds.
    pub hashes: &'a HashCache,
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

enum BaseRef {
    Scratch,
    Stage(usize),
    Image(String),
}

enum FromRef {
    Stage(usize),
    Image(String),
}

/// Lists stages as `name (index)`, or the index for unnamed ones; `(none)` for no stage.
fn stage_names(stages: &[dockerfile::Stage]) -> String {
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

fn earlier_stage(df: &Dockerfile, current: usize, name: &str) -> Option<usize> {
    let name = name.to_ascii_lowercase();
    df.stages[..current]
        .iter()
        .rposition(|s| s.name.as_deref() == Some(name.as_str()))
}

/// Tells what a `--from` value names: an earlier stage (by name or index) or an image. A
/// bare word that is neither a stage nor looks like an image reference is an error, since
/// it is almost always a misspelt stage.
/// `what` names the flag in messages: `COPY --from=x` or `RUN --mount from=x`.
fn from_ref(df: &Dockerfile, current: usize, from: &str, what: &str) -> Result<FromRef, String> {
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
/// platform args.
fn global_args(
    df: &Dockerfile,
    input: &PlanInput<'_>,
) -> Result<BTreeMap<String, Option<String>>, BuildError> {
    let p = input.platform;
    let platform = platform_text(p);
    let mut values: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (k, v) in [
        ("TARGETPLATFORM", platform.clone()),
        ("TARGETOS", p.os.clone()),
        ("TARGETARCH", p.architecture.clone()),
        ("TARGETVARIANT", p.variant.clone().unwrap_or_default()),
        ("BUILDPLATFORM", platform),
        ("BUILDOS", p.os.clone()),
        ("BUILDARCH", p.architecture.clone()),
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

struct StagePlanner<'a> {
    df: &'a Dockerfile,
    input: &'a PlanInput<'a>,
    globals: &'a BTreeMap<String, Option<String>>,
    planned: &'a [StagePlan],
    fail: &'a dyn Fn(usize, String) -> BuildError,
}

/// The variables and settings an instruction sees.
struct Vars {
    env: Vec<(String, String)>,
    args: BTreeMap<String, Option<String>>,
    workdir: String,
    shell: Vec<String>,
}

impl Vars {
    fn get(&self, name: &str) -> Option<String> {
        if let Some((_, v)) = self.env.iter().find(|(k, _)| k == name) {
            return Some(v.clone());
        }
        self.args.get(name).cloned().flatten()
    }
}

impl StagePlanner<'_> {
    fn stage_digest(&self, index: usize) -> &Digest {
        &self
            .planned
            .iter()
            .find(|s| s.index == index)
            .expect("dependencies are planned first")
            .digest
    }

    fn plan(
        &self,
        stage: &dockerfile::Stage,
        base: Base,
        resolver: &mut dyn Resolve,
    ) -> Result<StagePlan, BuildError> {
        let fail = self.fail;
        let mut text = String::from("slipway stage v1\n");
        text.push_str(&format!(
            "platform {}\n",
            platform_text(self.input.platform)
        ));
        text.push_str(&format!(
            "layers {} level={} keep-mtimes={}\n",
            match self.input.format.compression {
                layer::Compression::Gzip => "gzip",
                layer::Compression::Zstd => "zstd",
            },
            self.input
                .format
                .level
                .unwrap_or(self.input.format.compression.default_level()),
            self.input.format.keep_mtimes
        ));
        let mut config: Map<String, Value> = Map::new();
        let mut author = None;
        match &base {
            Base::Scratch => text.push_str("base scratch\n"),
            Base::Stage(i) => {
                text.push_str(&format!("base stage {}\n", self.stage_digest(*i)));
                let p = self
                    .planned
                    .iter()
                    .find(|s| s.index == *i)
                    .expect("planned");
                config = p.config.clone();
                author = p.author.clone();
            }
            Base::Image(img) => {
                text.push_str(&format!("base image {}\n", img.manifest_digest));
                if let Some(Value::Object(c)) = img.config.get("config") {
                    config = c.clone();
                }
            }
        }
        let mut vars = Vars {
            env: env_of(&config),
            args: BTreeMap::new(),
            workdir: config
                .get("WorkingDir")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("/")
                .to_string(),
            shell: config
                .get("Shell")
                .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
                .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]),
        };
        // A RUN sees every declared arg in its environment; otherwise only the args that
        // later instructions name can matter, and the digest leaves out the others' values.
        let runs = stage
            .instructions
            .iter()
            .any(|i| matches!(i.kind, Kind::Run(_)));
        // Each instruction's text, which later `ARG`s look for their names in.
        let texts: Vec<String> = stage
            .instructions
            .iter()
            .map(Instruction::normalized)
            .collect();
        let mut cmd_set = false;
        let mut steps = vec![];
        let mut native_blocker: Option<(usize, String)> = None;
        let mut mounts_context = false;
        for (pos, ins) in stage.instructions.iter().enumerate() {
            let normalized = texts[pos].clone();
            text.push_str(&normalized);
            text.push('\n');
            let mut action = Action::Config;
            match &ins.kind {
                Kind::Arg(decls) => {
                    for d in decls {
                        let value = match self.input.args.get(&d.name) {
                            Some(v) => Some(v.clone()),
                            None => match &d.default {
                                Some(def) => Some(self.x(&vars, ins, def)?),
                                None => self.globals.get(&d.name).cloned().flatten(),
                            },
                        };
                        if runs || names_var(&texts[pos + 1..], &d.name) {
                            text.push_str(&format!(
                                "  arg {}={}\n",
                                d.name,
                                value.as_deref().map(json_str).unwrap_or("unset".into())
                            ));
                        } else {
                            text.push_str(&format!("  arg {} unused\n", d.name));
                        }
                        vars.args.insert(d.name.clone(), value);
                    }
                }
                Kind::Env(pairs) => {
                    let mut values = vec![];
                    for (k, v) in pairs {
                        values.push((k.clone(), self.x(&vars, ins, v)?));
                    }
                    for (k, v) in values {
                        match vars.env.iter_mut().find(|(ek, _)| *ek == k) {
                            Some(e) => e.1 = v,
                            None => vars.env.push((k, v)),
                        }
                    }
                    config.insert(
                        "Env".into(),
                        Value::Array(
                            vars.env
                                .iter()
                                .map(|(k, v)| Value::String(format!("{k}={v}")))
                                .collect(),
                        ),
                    );
                }
                Kind::Label(pairs) => {
                    let labels = object_at(&mut config, "Labels");
                    for (k, v) in pairs {
                        let (k, v) = (self.x(&vars, ins, k)?, self.x(&vars, ins, v)?);
                        labels.insert(k, Value::String(v));
                    }
                }
                Kind::Workdir(w) => {
                    let w = self.x(&vars, ins, w)?;
                    vars.workdir = slipway_fs::path::join(&vars.workdir, &w);
                    config.insert("WorkingDir".into(), Value::String(vars.workdir.clone()));
                }
                Kind::User(u) => {
                    config.insert("User".into(), Value::String(self.x(&vars, ins, u)?));
                }
                Kind::StopSignal(s) => {
                    config.insert("StopSignal".into(), Value::String(self.x(&vars, ins, s)?));
                }
                Kind::Expose(ports) => {
                    let map = object_at(&mut config, "ExposedPorts");
                    for p in ports {
                        for p in self.x(&vars, ins, p)?.split_whitespace() {
                            let p = if p.contains('/') {
                                p.to_ascii_lowercase()
                            } else {
                                format!("{p}/tcp")
                            };
                            map.insert(p, json!({}));
                        }
                    }
                }
                Kind::Volume(vols) => {
                    let map = object_at(&mut config, "Volumes");
                    for v in vols {
                        map.insert(self.x(&vars, ins, v)?, json!({}));
                    }
                }
                Kind::Entrypoint(c) => {
                    config.insert("Entrypoint".into(), command_value(c, &vars.shell));
                    if !cmd_set {
                        config.remove("Cmd");
                    }
                }
                Kind::Cmd(c) => {
                    config.insert("Cmd".into(), command_value(c, &vars.shell));
                    cmd_set = true;
                }
                Kind::Shell(s) => {
                    vars.shell = s.clone();
                    config.insert("Shell".into(), json!(s));
                }
                Kind::Healthcheck(h) => {
                    let v = healthcheck_value(h).map_err(|m| fail(ins.line, m))?;
                    config.insert("Healthcheck".into(), v);
                }
                Kind::Onbuild(t) => {
                    let list = config
                        .entry("OnBuild")
                        .or_insert_with(|| Value::Array(vec![]));
                    if !list.is_array() {
                        *list = Value::Array(vec![]);
                    }
                    if let Value::Array(a) = list {
                        a.push(Value::String(t.clone()));
                    }
                }
                Kind::Maintainer(m) => author = Some(m.clone()),
                Kind::Run(r) => {
                    let mut mounts = vec![];
                    for m in mount_specs(r) {
                        let Some(from) = m.from else {
                            if m.kind == "bind" {
                                // The build context: its files are part of the digest.
                                let source = m.source.as_deref().unwrap_or(".");
                                let source = self.x(&vars, ins, source)?;
                                self.hash_mounted_context(ins, &source, &mut text)?;
                                mounts_context = true;
                            }
                            continue;
                        };
                        let from = self.x(&vars, ins, &from)?;
                        let what = format!("RUN --mount from={from}");
                        if from.parse::<usize>().is_ok() {
                            // buildah 1.28 would look for an image of that name.
                            return Err((self.fail)(
                                ins.line,
                                format!(
                                    "{what}: buildah finds mount sources by stage name only; \
                                     name the stage (FROM ... AS NAME) and mount from=NAME"
                                ),
                            ));
                        }
                        mounts.push(self.resolve_from(ins, &from, &what, &mut text, resolver)?);
                    }
                    action = Action::Run { mounts };
                }
                Kind::Copy(c) | Kind::Add(c) => {
                    let is_add = matches!(ins.kind, Kind::Add(_));
                    action = self.plan_copy_step(
                        ins,
                        c,
                        is_add,
                        &vars,
                        &mut text,
                        &mut native_blocker,
                        resolver,
                    )?;
                }
            }
            steps.push(Step {
                line: ins.line,
                text: normalized,
                action,
            });
        }
        let digest = Digest::sha256_of(text.as_bytes());
        Ok(StagePlan {
            index: stage.index,
            name: stage.name.clone(),
            base,
            steps,
            config,
            author,
            has_run: runs,
            mounts_context,
            native_blocker,
            digest,
        })
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the planner's state for one instruction; a struct would only rename it"
    )]
    fn plan_copy_step(
        &self,
        ins: &Instruction,
        c: &dockerfile::Copy,
        is_add: bool,
        vars: &Vars,
        text: &mut String,
        native_blocker: &mut Option<(usize, String)>,
        resolver: &mut dyn Resolve,
    ) -> Result<Action, BuildError> {
        let fail = self.fail;
        let line = ins.line;
        let x = |w: &str| self.x(vars, ins, w);
        let owner = c
            .chown
            .as_deref()
            .map(|o| x(o).and_then(|o| Chown::parse(&o).map_err(|m| fail(line, m))))
            .transpose()?;
        let chmod = c
            .chmod
            .as_deref()
            .map(|m| x(m).and_then(|m| parse_chmod(&m).map_err(|e| fail(line, e))))
            .transpose()?;
        let dest = x(&c.dest)?;
        let mut sources = vec![];
        for s in &c.sources {
            if c.heredocs.iter().any(|h| &h.name == s) {
                sources.push(s.clone());
            } else {
                sources.push(x(s)?);
            }
        }
        if let Some(from) = &c.from {
            let from = x(from)?;
            let what = format!("COPY --from={from}");
            let source = self.resolve_from(ins, &from, &what, text, resolver)?;
            return Ok(Action::CopyFrom {
                from: Box::new(source),
                sources,
                dest,
                workdir: vars.workdir.clone(),
                owner,
                chmod,
            });
        }
        // Names are looked up when the stage is built; see `Action::Layer::chown`.
        let (uid, gid) = owner.as_ref().and_then(Chown::numeric).unwrap_or((0, 0));
        let keep = self.input.format.keep_mtimes;
        let dest_is_dir = dest.ends_with('/') || c.sources.len() > 1;
        let mut entries: Vec<LayerEntry> = vec![];
        let mut unpack: Vec<Unpack> = vec![];
        // Heredoc sources become files named after their delimiter.
        for h in &c.heredocs {
            let body = if h.expand {
                substitute(&h.content, &|n: &str| vars.get(n))
            } else {
                h.content.clone()
            };
            let path = if dest_is_dir {
                slipway_fs::path::join(&slipway_fs::path::join(&vars.workdir, &dest), &h.name)
            } else {
                slipway_fs::path::join(&vars.workdir, &dest)
            };
            text.push_str(&format!(
                "  heredoc {} {}\n",
                json_str(&path),
                Digest::sha256_of(body.as_bytes())
            ));
            entries.push(LayerEntry {
                path,
                content: Content::Bytes(body.into_bytes()),
                mode: chmod.unwrap_or(0o644),
                uid,
                gid,
                mtime: 0,
            });
        }
        let disk: Vec<String> = sources
            .iter()
            .filter(|s| !c.heredocs.iter().any(|h| &h.name == *s))
            .cloned()
            .collect();
        if !disk.is_empty() {
            for s in &disk {
                if is_add && (s.contains("://") || s.starts_with("git@")) {
                    return Err(fail(
                        line,
                        format!(
                            "ADD {s}: remote sources are not supported; download the file into \
                             the context first, or fetch it in a RUN step"
                        ),
                    ));
                }
            }
            // With a single source, plan_copy decides from the source whether `dest` is a
            // folder; heredocs count as sources too.
            let dest_arg = if dest_is_dir && !dest.ends_with('/') {
                format!("{dest}/")
            } else {
                dest.clone()
            };
            let planned = plan_copy(
                self.input.context,
                Some(self.input.ignore),
                &disk,
                &dest_arg,
                &vars.workdir,
            )
            .map_err(|e| {
                fail(
                    line,
                    format!(
                        "{} {e} (context {})",
                        ins.kind.keyword(),
                        self.input.context.display()
                    ),
                )
            })?;
            let hashes = hash_files(&planned, self.input.hashes)?;
            for (e, hash) in planned.into_iter().zip(hashes) {
                let mode = chmod.unwrap_or(e.mode);
                let mtime = if keep { e.mtime.max(0) as u64 } else { 0 };
                let content = match &e.kind {
                    EntryKind::Dir => {
                        text.push_str(&format!("  D {} {mode:o}", json_str(&e.dest)));
                        Content::Dir
                    }
                    EntryKind::File => {
                        let into = e.unpack_dir.as_ref().filter(|_| is_add);
                        let kind = match into {
                            Some(_) => layer::sniff_archive(&e.source).map_err(|source| {
                                BuildError::Io {
                                    path: e.source.clone(),
                                    source,
                                }
                            })?,
                            None => None,
                        };
                        match (kind, into) {
                            (Some(ArchiveKind::Tar), Some(into)) => {
                                let digest = hash.expect("files are hashed");
                                text.push_str(&format!(
                                    "  U {} {} {digest}\n",
                                    json_str(into),
                                    e.size
                                ));
                                unpack.push(Unpack {
                                    archive: e.source.clone(),
                                    digest,
                                    into: into.clone(),
                                });
                                continue;
                            }
                            (Some(ArchiveKind::Other(format)), Some(into)) => {
                                // buildah unpacks it; the digest has the archive's bytes.
                                let digest = hash.expect("files are hashed");
                                text.push_str(&format!(
                                    "  X {} {} {digest}\n",
                                    json_str(into),
                                    e.size
                                ));
                                native_blocker.get_or_insert_with(|| {
                                    (
                                        line,
                                        format!(
                                            "ADD {}: a {format} archive, which the native \
                                             backend cannot unpack (it unpacks tar, tar.gz and \
                                             tar.zst)",
                                            e.source.display()
                                        ),
                                    )
                                });
                                continue;
                            }
                            _ => {}
                        }
                        text.push_str(&format!(
                            "  F {} {mode:o} {} {}",
                            json_str(&e.dest),
                            e.size,
                            hash.expect("files are hashed")
                        ));
                        Content::File(e.source.clone())
                    }
                    EntryKind::Symlink(t) => {
                        let t = t.to_string_lossy().to_string();
                        text.push_str(&format!("  L {} {}", json_str(&e.dest), json_str(&t)));
                        Content::Symlink(t)
                    }
                };
                if keep {
                    text.push_str(&format!(" {mtime}"));
                }
                text.push('\n');
                entries.push(LayerEntry {
                    path: e.dest,
                    content,
                    mode,
                    uid,
                    gid,
                    mtime,
                });
            }
        }
        // Unpacked archives' files are owned when they are unpacked.
        let chown = owner.filter(|c| c.needs_lookup() || !unpack.is_empty());
        Ok(Action::Layer {
            entries,
            unpack,
            chown,
        })
    }

    /// Expands a word with the variables the instruction sees.
    fn x(&self, vars: &Vars, ins: &Instruction, w: &str) -> Result<String, BuildError> {
        dockerfile::expand(w, self.df.escape, &|n: &str| vars.get(n))
            .map_err(|m| (self.fail)(ins.line, format!("{}: {m}", ins.kind.keyword())))
    }

    /// Adds what a `RUN --mount=type=bind` of the build context's `source` holds to the
    /// stage's digest text: each entry's path, kind, mode and content digest, as for `COPY`.
    fn hash_mounted_context(
        &self,
        ins: &Instruction,
        source: &str,
        text: &mut String,
    ) -> Result<(), BuildError> {
        let entries = plan_copy(
            self.input.context,
            Some(self.input.ignore),
            &[source.to_string()],
            "/mount/",
            "/",
        )
        .map_err(|e| {
            (self.fail)(
                ins.line,
                format!(
                    "RUN --mount source={source}: {e} (context {})",
                    self.input.context.display()
                ),
            )
        })?;
        let hashes = hash_files(&entries, self.input.hashes)?;
        text.push_str(&format!("  mount context {}\n", json_str(source)));
        for (e, hash) in entries.iter().zip(hashes) {
            let what = match &e.kind {
                EntryKind::Dir => "D".to_string(),
                EntryKind::File => format!("F {} {}", e.size, hash.expect("files are hashed")),
                EntryKind::Symlink(t) => format!("L {}", json_str(&t.to_string_lossy())),
            };
            text.push_str(&format!("   {} {:o} {what}\n", json_str(&e.dest), e.mode));
        }
        Ok(())
    }

    /// Resolves an expanded `--from` (of `COPY`, or of a `RUN --mount`) to an earlier
    /// planned stage or an image, and adds its digest to the stage's digest text.
    fn resolve_from(
        &self,
        ins: &Instruction,
        from: &str,
        what: &str,
        text: &mut String,
        resolver: &mut dyn Resolve,
    ) -> Result<FromSource, BuildError> {
        let fail = self.fail;
        let line = ins.line;
        match from_ref(self.df, self.stage_index(ins), from, what).map_err(|m| fail(line, m))? {
            FromRef::Stage(i) => {
                // The needed stages were found with the global args only; a `--from` that
                // only the stage's own ARG resolves may name a stage that was not planned.
                let Some(dep) = self.planned.iter().find(|s| s.index == i) else {
                    return Err(fail(
                        line,
                        format!(
                            "{what}: stage {i} is named through a variable the stage declares; \
                             write the stage name, or use an ARG declared before the first FROM"
                        ),
                    ));
                };
                text.push_str(&format!("  from stage {}\n", dep.digest));
                Ok(FromSource::Stage(i))
            }
            FromRef::Image(r) => {
                let img = resolver.resolve(&r)?;
                text.push_str(&format!("  from image {}\n", img.manifest_digest));
                Ok(FromSource::Image(img))
            }
        }
    }

    fn stage_index(&self, ins: &Instruction) -> usize {
        self.df
            .stages
            .iter()
            .rfind(|s| s.line <= ins.line)
            .map(|s| s.index)
            .unwrap_or(0)
    }
}

/// One `RUN --mount=...` flag, as far as the stage digest cares.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MountSpec {
    /// `bind` (the default), `cache`, `tmpfs`, `secret` or `ssh`.
    kind: String,
    /// The raw `from=`: a stage or an image; `None` for the build context.
    from: Option<String>,
    /// The raw `source=` (or `src=`) path in `from`.
    source: Option<String>,
}

/// Reads the `--mount` flags of a `RUN` (`--mount=type=bind,from=x,...`, or the same in
/// double quotes; fields are comma-separated and may be quoted themselves).
fn mount_specs(r: &dockerfile::Run) -> Vec<MountSpec> {
    r.flags
        .iter()
        .filter_map(|f| f.strip_prefix("--mount="))
        .map(|v| {
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            let mut m = MountSpec {
                kind: "bind".into(),
                from: None,
                source: None,
            };
            for field in split_fields(v) {
                let Some((k, val)) = field.split_once('=') else {
                    continue;
                };
                match k.trim().to_ascii_lowercase().as_str() {
                    "type" => m.kind = val.to_ascii_lowercase(),
                    "from" => m.from = Some(val.to_string()),
                    "source" | "src" => m.source = Some(val.to_string()),
                    _ => {}
                }
            }
            m
        })
        .collect()
}

/// Returns the raw `from=` values of a `RUN`'s `--mount` flags.
fn mount_froms(r: &dockerfile::Run) -> Vec<String> {
    mount_specs(r).into_iter().filter_map(|m| m.from).collect()
}

/// Splits `a,"b,c",d` at the commas outside double quotes, dropping the quotes.
fn split_fields(v: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in v.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().expect("one field").push(c),
        }
    }
    out
}

/// Tells whether any of the instructions (as normalized text) names the variable (`$NAME`
/// or `${NAME...}`), heredoc bodies included. Conservative: a name in quotes or an escaped
/// `\$` counts too.
fn names_var(instructions: &[String], name: &str) -> bool {
    instructions.iter().any(|text| {
        let mut rest = text.as_str();
        while let Some(at) = rest.find('$') {
            rest = &rest[at + 1..];
            let word = rest.strip_prefix('{').unwrap_or(rest);
            if let Some(after) = word.strip_prefix(name)
                && !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            {
                return true;
            }
        }
        false
    })
}

fn json_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// Hashes the regular files of a COPY plan, on as many threads as there are cores (up to
/// 8); files whose stamp matches the cache are not read.
fn hash_files(
    entries: &[slipway_glob::Entry],
    cache: &HashCache,
) -> Result<Vec<Option<Digest>>, BuildError> {
    let files: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == EntryKind::File)
        .map(|(i, _)| i)
        .collect();
    let mut out: Vec<Option<Digest>> = vec![None; entries.len()];
    if files.is_empty() {
        return Ok(out);
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8)
        .min(files.len());
    let chunk = files.len().div_ceil(threads);
    let results: Vec<Result<Vec<(usize, Digest)>, BuildError>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    part.iter()
                        .map(|&i| cached_hash(&entries[i], cache, &mut buf).map(|d| (i, d)))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("hash thread"))
            .collect()
    });
    for r in results {
        for (i, d) in r? {
            out[i] = Some(d);
        }
    }
    Ok(out)
}

/// Returns a file's digest: from the cache when the stamp the walk read still matches an
/// entry, otherwise by reading the file.
fn cached_hash(
    entry: &slipway_glob::Entry,
    cache: &HashCache,
    buf: &mut [u8],
) -> Result<Digest, BuildError> {
    let path = entry.source.as_path();
    if let Some(d) = cache.get(path, &entry.stamp) {
        return Ok(d);
    }
    let d = hash_file(path, buf)?;
    // Only a file that did not change since it was listed and while it was read is
    // remembered.
    if std::fs::metadata(path).is_ok_and(|m| Stamp::of(&m) == entry.stamp) {
        cache.put(path, entry.stamp, d.clone());
    }
    Ok(d)
}

fn hash_file(path: &Path, buf: &mut [u8]) -> Result<Digest, BuildError> {
    let io = |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let mut h = Hasher::new();
    loop {
        let n = f.read(buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

fn env_of(config: &Map<String, Value>) -> Vec<(String, String)> {
    config
        .get("Env")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (kv.to_string(), String::new()),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn object_at<'m>(config: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let v = config
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut().expect("an object")
}

fn command_value(c: &Command, shell: &[String]) -> Value {
    match c {
        Command::Exec(list) => json!(list),
        Command::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.clone());
            json!(v)
        }
    }
}

fn healthcheck_value(h: &Healthcheck) -> Result<Value, String> {
    match h {
        Healthcheck::None => Ok(json!({"Test": ["NONE"]})),
        Healthcheck::Check {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let test = match test {
                Command::Exec(list) => {
                    let mut v = vec!["CMD".to_string()];
                    v.extend(list.iter().cloned());
                    v
                }
                Command::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
            };
            let mut m = Map::new();
            m.insert("Test".into(), json!(test));
            for (key, v) in [
                ("Interval", interval),
                ("Timeout", timeout),
                ("StartPeriod", start_period),
                ("StartInterval", start_interval),
            ] {
                if let Some(v) = v {
                    m.insert(key.into(), json!(parse_duration(v)?));
                }
            }
            if let Some(r) = retries {
                m.insert("Retries".into(), json!(r));
            }
            Ok(Value::Object(m))
        }
    }
}

/// Parses a Go duration (`30s`, `1m30s`, `1.5h`, `500ms`) into nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("HEALTHCHECK: `{s}` is not a duration (write e.g. 30s, 1m30s, 500ms)");
    let mut rest = s.trim();
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Ok(total as i64)
}

/// One part of a `--chown` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdOrName {
    /// A numeric id (`root` is 0).
    Id(u64),
    /// A user or group name, looked up in the stage's `/etc/passwd` or `/etc/group`.
    Name(String),
}

impl IdOrName {
    fn parse(p: &str) -> IdOrName {
        match p {
            "root" => IdOrName::Id(0),
            _ => p
                .parse::<u64>()
                .map_or_else(|_| IdOrName::Name(p.to_string()), IdOrName::Id),
        }
    }
}

/// A `--chown=user[:group]` value, as BuildKit reads it: a numeric user alone also sets the
/// group to the same number; a user name alone sets the group to that user's primary group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chown {
    /// The user part.
    pub user: IdOrName,
    /// The group part, when given.
    pub group: Option<IdOrName>,
}

impl Chown {
    /// Parses a `--chown` value.
    ///
    /// # Errors
    /// An empty user or group, naming the value.
    pub fn parse(s: &str) -> Result<Chown, String> {
        let (u, g) = match s.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (s, None),
        };
        if u.is_empty() || g.is_some_and(str::is_empty) {
            return Err(format!(
                "--chown={s}: expected USER or USER:GROUP, each a name or a number"
            ));
        }
        Ok(Chown {
            user: IdOrName::parse(u),
            group: g.map(IdOrName::parse),
        })
    }

    /// Returns the ids when no part is a name.
    pub fn numeric(&self) -> Option<(u64, u64)> {
        match (&self.user, &self.group) {
            (IdOrName::Id(u), None) => Some((*u, *u)),
            (IdOrName::Id(u), Some(IdOrName::Id(g))) => Some((*u, *g)),
            _ => None,
        }
    }

    /// Tells whether a part is a name, so the stage's account files are needed.
    pub fn needs_lookup(&self) -> bool {
        self.numeric().is_none()
    }

    /// Resolves the ids with the contents of the stage's `/etc/passwd` and `/etc/group`
    /// (`None` when the file is not in the image).
    ///
    /// # Errors
    /// A name that the file does not list, or a missing file, naming both.
    pub fn resolve(
        &self,
        passwd: Option<&[u8]>,
        group: Option<&[u8]>,
    ) -> Result<(u64, u64), String> {
        let (uid, primary) = match &self.user {
            IdOrName::Id(u) => (*u, *u),
            IdOrName::Name(n) => {
                let fields = lookup(passwd, "/etc/passwd", n)?;
                match (fields.first(), fields.get(1)) {
                    (Some(u), Some(g)) => (*u, *g),
                    _ => return Err(format!("/etc/passwd: the line for `{n}` has no ids")),
                }
            }
        };
        let gid = match &self.group {
            None => primary,
            Some(IdOrName::Id(g)) => *g,
            Some(IdOrName::Name(n)) => *lookup(group, "/etc/group", n)?
                .first()
                .ok_or_else(|| format!("/etc/group: the line for `{n}` has no id"))?,
        };
        Ok((uid, gid))
    }
}

/// Finds `name` in an account file (`name:password:id[:id]:...`) and returns the numeric
/// fields after the password, up to the first that is not a number.
fn lookup(file: Option<&[u8]>, which: &str, name: &str) -> Result<Vec<u64>, String> {
    let Some(file) = file else {
        return Err(format!(
            "--chown: `{name}` is a name, and the image has no {which} to look it up in; \
             use numeric ids (e.g. --chown=1000:1000)"
        ));
    };
    let text = String::from_utf8_lossy(file);
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.split(':').next() == Some(name))
        .map(|l| {
            l.split(':')
                .skip(2)
                .map_while(|f| f.trim().parse::<u64>().ok())
                .collect()
        })
        .ok_or_else(|| format!("--chown: no `{name}` in the image's {which}"))
}

fn parse_chmod(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("--chmod={s}: give octal permission bits, e.g. --chmod=0755"))
}

/// Substitutes `$NAME` and `${NAME}` in a heredoc body (a `\$` stays a literal `$`).
fn substitute(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && chars.get(i + 1) == Some(&'$') {
            out.push('$');
            i += 2;
        } else if c == '$' && chars.get(i + 1) == Some(&'{') {
            match chars[i + 2..].iter().position(|&c| c == '}') {
                Some(end) => {
                    let name: String = chars[i + 2..i + 2 + end].iter().collect();
                    out.push_str(&lookup(&name).unwrap_or_default());
                    i += end + 3;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else if c == '$' && chars.get(i + 1).is_some_and(|&c| is_name(c)) {
            let end = chars[i + 1..]
                .iter()
                .position(|&c| !is_name(c))
                .map_or(chars.len(), |p| i + 1 + p);
            let name: String = chars[i + 1..end].iter().collect();
            out.push_str(&lookup(&name).unwrap_or_default());
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resolves every image to a fixed manifest digest and config.
    struct Fixed {
        digest: Digest,
        config: Value,
    }

    impl Resolve for Fixed {
        fn resolve(&mut self, reference: &str) -> Result<ResolvedImage, BuildError> {
            Ok(ResolvedImage {
                reference: reference.into(),
                manifest_digest: self.digest.clone(),
                config: self.config.clone(),
                layers: vec![],
            })
        }
    }

    fn base(tag: &str) -> Fixed {
        Fixed {
            digest: Digest::sha256_of(tag.as_bytes()),
            config: json!({"config": {"Env": ["PATH=/usr/bin"], "Cmd": ["sh"], "WorkingDir": "/home"}}),
        }
    }

    fn plan_text(
        text: &str,
        args: &[(&str, &str)],
        resolver: &mut dyn Resolve,
    ) -> Result<ImagePlan, BuildError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "a\n").unwrap();
        plan_in(dir.path(), text, args, resolver)
    }

    /// Plans `text` with `context` as the build context.
    fn plan_in(
        context: &Path,
        text: &str,
        args: &[(&str, &str)],
        resolver: &mut dyn Resolve,
    ) -> Result<ImagePlan, BuildError> {
        let df = dockerfile::parse(text).unwrap();
        let args: BTreeMap<String, String> = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let platform = Platform::parse("linux/amd64").unwrap();
        plan(
            &df,
            &PlanInput {
                dockerfile_path: Path::new("/ctx/Dockerfile"),
                context,
                ignore: &DockerIgnore::default(),
                target: None,
                args: &args,
                platform: &platform,
                format: &LayerFormat::default(),
                hashes: &HashCache::default(),
            },
            resolver,
        )
    }

    fn digests(p: &ImagePlan) -> Vec<String> {
        p.stages
            .iter()
            .map(|s| s.digest.hex().to_string())
            .collect()
    }

    const TWO: &str = "FROM r.test/base:1 AS one\nARG V=1\nCOPY a.txt /a\n\nFROM scratch\nCOPY --from=one /a /b\n";

    #[test]
    fn layout_of_the_text_does_not_change_digests_but_instructions_do() {
        let a = plan_text(TWO, &[], &mut base("1")).unwrap();
        let spaced = "# comment\nFROM r.test/base:1 AS one\nARG   V=1\nCOPY  a.txt \\\n  /a\nFROM scratch\nCOPY --from=one /a /b\n";
        assert_eq!(
            digests(&a),
            digests(&plan_text(spaced, &[], &mut base("1")).unwrap())
        );
        let changed = TWO.replace("/a /b", "/a /c");
        let b = plan_text(&changed, &[], &mut base("1")).unwrap();
        assert_eq!(
            digests(&a)[0],
            digests(&b)[0],
            "the first stage did not change"
        );
        assert_ne!(digests(&a)[1], digests(&b)[1]);
    }

    #[test]
    fn a_moved_base_tag_or_a_build_arg_changes_the_stages_that_depend_on_it() {
        let a = plan_text(TWO, &[], &mut base("1")).unwrap();
        let moved = plan_text(TWO, &[], &mut base("2")).unwrap();
        assert_ne!(digests(&a)[0], digests(&moved)[0]);
        assert_ne!(
            digests(&a)[1],
            digests(&moved)[1],
            "the stage copying from it too"
        );
        let arg = plan_text(TWO, &[("V", "2")], &mut base("1")).unwrap();
        assert_eq!(
            digests(&a),
            digests(&arg),
            "stage one declares V but never uses it, and has no RUN"
        );
        let uses = TWO.replace("COPY a.txt /a", "LABEL v=${V}\nCOPY a.txt /a");
        let (one, two) = (
            plan_text(&uses, &[], &mut base("1")).unwrap(),
            plan_text(&uses, &[("V", "2")], &mut base("1")).unwrap(),
        );
        assert_ne!(digests(&one)[0], digests(&two)[0], "a LABEL names V");
        let runs = TWO.replace("COPY a.txt /a", "RUN true\nCOPY a.txt /a");
        let (one, two) = (
            plan_text(&runs, &[], &mut base("1")).unwrap(),
            plan_text(&runs, &[("V", "2")], &mut base("1")).unwrap(),
        );
        assert_ne!(digests(&one)[0], digests(&two)[0], "a RUN sees every arg");
        let unused = plan_text(TWO, &[("OTHER", "x")], &mut base("1")).unwrap();
        assert_eq!(
            digests(&a),
            digests(&unused),
            "an arg no stage declares changes nothing"
        );
    }

    #[test]
    fn run_mounts_from_stages_and_images_are_dependencies() {
        let text = "FROM r.test/base:1 AS tools\nCOPY a.txt /a\n\
                    FROM scratch AS unused\n\
                    FROM r.test/base:1\n\
                    RUN --mount=type=bind,from=tools,target=/t \
                        --mount=\"type=bind,target=/i,from=r.test/img:2\" cat /t/a\n";
        let p = plan_text(text, &[], &mut base("1")).unwrap();
        let indices: Vec<usize> = p.stages.iter().map(|s| s.index).collect();
        assert_eq!(
            indices,
            [0, 2],
            "the mounted stage is needed, the unused one is not"
        );
        let Action::Run { mounts } = &p.target().steps[0].action else {
            panic!("a RUN");
        };
        assert!(matches!(mounts[0], FromSource::Stage(0)), "{mounts:?}");
        assert!(
            matches!(&mounts[1], FromSource::Image(i) if i.reference == "r.test/img:2"),
            "{mounts:?}"
        );
        // A change to the mounted stage changes the stage that mounts it.
        let changed = text.replace("COPY a.txt /a", "COPY a.txt /b");
        let q = plan_text(&changed, &[], &mut base("1")).unwrap();
        assert_ne!(digests(&p)[1], digests(&q)[1]);
        // A mount without `from` (the context, a cache) adds no dependency.
        let cache = "FROM r.test/base:1 AS tools\nFROM r.test/base:1\nRUN --mount=type=cache,target=/c make\n";
        let p = plan_text(cache, &[], &mut base("1")).unwrap();
        assert_eq!(p.stages.len(), 1);
        let err = plan_text(
            "FROM r.test/base:1\nRUN --mount=type=bind,from=nosuch,target=/n ls\n",
            &[],
            &mut base("1"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("RUN --mount from=nosuch: there is no stage"),
            "{err}"
        );
        let err = plan_text(
            "FROM r.test/base:1\nFROM r.test/base:1\nRUN --mount=from=0,target=/n ls\n",
            &[],
            &mut base("1"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("by stage name only"), "{err}");
    }

    #[test]
    fn a_bind_mount_of_the_context_puts_its_files_in_the_digest() {
        let text = "FROM r.test/base:1\nRUN --mount=type=bind,source=a.txt,target=/a cat /a\n";
        let dir = tempfile::tempdir().unwrap();
        let plan_with = |content: &str| {
            std::fs::write(dir.path().join("a.txt"), content).unwrap();
            digests(&plan_in(dir.path(), text, &[], &mut base("1")).unwrap())
        };
        let one = plan_with("one\n");
        assert_eq!(one, plan_with("one\n"));
        assert_ne!(one, plan_with("two\n"), "the mounted file changed");
        // A cache mount is not content.
        let cache = "FROM r.test/base:1\nRUN --mount=type=cache,target=/c make\n";
        let plain = "FROM r.test/base:1\nRUN make\n";
        let (c, p) = (
            plan_text(cache, &[], &mut base("1")).unwrap(),
            plan_text(plain, &[], &mut base("1")).unwrap(),
        );
        assert_ne!(digests(&c), digests(&p), "the flag itself is in the text");
        let missing = plan_text(
            "FROM r.test/base:1\nRUN --mount=type=bind,source=nope,target=/n ls\n",
            &[],
            &mut base("1"),
        )
        .unwrap_err()
        .to_string();
        assert!(missing.contains("RUN --mount source=nope"), "{missing}");
    }

    #[test]
    fn mount_specs_read_type_from_and_source() {
        let df = dockerfile::parse(
            "FROM a\nRUN --mount=type=cache,target=/c --mount=\"from=b,src=x y,target=/t\" --mount=target=/ctx true\n",
        )
        .unwrap();
        let Kind::Run(r) = &df.stages[0].instructions[0].kind else {
            panic!("a RUN");
        };
        let specs = mount_specs(r);
        assert_eq!(specs[0].kind, "cache");
        assert_eq!(
            (
                specs[1].kind.as_str(),
                specs[1].from.as_deref(),
                specs[1].source.as_deref()
            ),
            ("bind", Some("b"), Some("x y"))
        );
        assert_eq!(
            (specs[2].from.as_deref(), specs[2].source.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn mount_fields_split_outside_quotes() {
        assert_eq!(
            split_fields(r#"type=bind,"source=a,b",from=x"#),
            ["type=bind", "source=a,b", "from=x"]
        );
    }

    #[test]
    fn names_var_finds_whole_names_in_both_forms() {
        let df = dockerfile::parse("FROM scratch\nLABEL a=$VERSION b=${TAG:-x}\nENV P=$PATHX\n")
            .unwrap();
        let ins: Vec<String> = df.stages[0]
            .instructions
            .iter()
            .map(Instruction::normalized)
            .collect();
        let ins = &ins;
        assert!(names_var(ins, "VERSION") && names_var(ins, "TAG") && names_var(ins, "PATHX"));
        assert!(!names_var(ins, "PATH") && !names_var(ins, "VERS") && !names_var(ins, "X"));
    }

    #[test]
    fn config_follows_docker_rules() {
        let text = "FROM r.test/base:1\nENV A=1 B=${A}x\nENV C=${A}y\nWORKDIR app\nSHELL [\"/bin/bash\", \"-c\"]\nENTRYPOINT run me\nEXPOSE 80 53/udp\n";
        let p = plan_text(text, &[], &mut base("1")).unwrap();
        let c = &p.target().config;
        // As in Docker, one ENV sees the values from before it: B does not see A.
        assert_eq!(c["Env"], json!(["PATH=/usr/bin", "A=1", "B=x", "C=1y"]));
        assert_eq!(c["WorkingDir"], "/home/app");
        assert_eq!(c["Entrypoint"], json!(["/bin/bash", "-c", "run me"]));
        assert!(c.get("Cmd").is_none(), "ENTRYPOINT resets an inherited CMD");
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
    }

    #[test]
    fn copy_from_through_a_stage_arg_finds_its_stage() {
        let text = "FROM scratch AS a\nCOPY a.txt /a\nFROM scratch AS b\nCOPY a.txt /b\n\
                    FROM scratch\nARG SRC=b\nCOPY --from=${SRC} /b /x\n";
        let p = plan_text(text, &[], &mut base("1")).unwrap();
        let Action::CopyFrom { from, .. } = &p.target().steps[1].action else {
            panic!("not a COPY --from")
        };
        assert!(matches!(**from, FromSource::Stage(1)));
        let q = plan_text(text, &[("SRC", "a")], &mut base("1")).unwrap();
        assert!(
            matches!(&q.target().steps[1].action, Action::CopyFrom { from, .. } if matches!(**from, FromSource::Stage(0)))
        );
        assert_ne!(p.target().digest, q.target().digest);
    }

    #[test]
    fn copy_from_names_only_earlier_stages() {
        let err = plan_text(
            "FROM scratch AS a\nFROM scratch\nCOPY --from=nosuch /x /y\n",
            &[],
            &mut base("1"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 3") && err.contains("`nosuch`") && err.contains("a (0)"),
            "{err}"
        );
        let err = plan_text(
            "FROM scratch AS first\nCOPY --from=later /x /y\nFROM scratch AS later\nFROM first\n",
            &[],
            &mut base("1"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("comes later"), "{err}");
        let err = plan_text("FROM scratch\nCOPY missing.txt /m\n", &[], &mut base("1"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing.txt") && err.contains("not found"),
            "{err}"
        );
    }

    #[test]
    fn paths_join_like_workdir() {
        assert_eq!(slipway_fs::path::join("/", "app"), "/app");
        assert_eq!(slipway_fs::path::join("/app", "../srv/./x/"), "/srv/x");
        assert_eq!(slipway_fs::path::join("/app", "/etc"), "/etc");
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_duration("30s").unwrap(), 30_000_000_000);
        assert_eq!(parse_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration("500ms").unwrap(), 500_000_000);
        assert_eq!(parse_duration("1.5h").unwrap(), 5_400_000_000_000);
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("5 days").is_err());
    }

    #[test]
    fn chown_names_resolve_as_buildkit_does() {
        let passwd = b"root:x:0:0:root:/root:/bin/sh\n# note\n\
                       node:x:1000:1001::/home/node:/bin/sh\n\
                       nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n";
        let group = b"root:x:0:\nstaff:x:50:node\nnode:x:1001:\n";
        let r = |s: &str| Chown::parse(s).unwrap().resolve(Some(passwd), Some(group));
        // A name alone takes the user's primary group.
        assert_eq!(r("node"), Ok((1000, 1001)));
        assert_eq!(r("node:staff"), Ok((1000, 50)));
        assert_eq!(r("1000:staff"), Ok((1000, 50)));
        assert_eq!(r("nonroot:7"), Ok((65532, 7)));
        assert_eq!(r("5"), Ok((5, 5)));
        assert!(
            r("nobody")
                .unwrap_err()
                .contains("no `nobody` in the image's /etc/passwd")
        );
        assert!(
            r("node:wheel")
                .unwrap_err()
                .contains("no `wheel` in the image's /etc/group")
        );
        // Without the files, names fail and numbers do not need them.
        let bare = |s: &str| Chown::parse(s).unwrap().resolve(None, None);
        assert!(bare("app").unwrap_err().contains("no /etc/passwd"));
        assert!(bare("1:app").unwrap_err().contains("no /etc/group"));
        assert_eq!(bare("root"), Ok((0, 0)));
        assert_eq!(bare("5:6"), Ok((5, 6)));
    }

    #[test]
    fn chown_and_chmod_values() {
        let ids = |s: &str| Chown::parse(s).unwrap().numeric();
        assert_eq!(ids("1000:2000"), Some((1000, 2000)));
        assert_eq!(ids("33"), Some((33, 33)));
        assert_eq!(ids("root:root"), Some((0, 0)));
        assert_eq!(ids("www-data"), None);
        assert_eq!(ids("1000:staff"), None);
        for bad in ["", ":1", "1:", "app:"] {
            assert!(
                Chown::parse(bad).unwrap_err().contains("USER:GROUP"),
                "{bad}"
            );
        }
        assert_eq!(parse_chmod("0755").unwrap(), 0o755);
        assert!(parse_chmod("rwx").is_err());
        assert!(parse_chmod("17777").is_err());
    }

    #[test]
    fn heredoc_bodies_substitute_variables() {
        let look = |n: &str| (n == "NAME").then(|| "world".to_string());
        assert_eq!(
            substitute("hi $NAME, ${NAME}! \\$NAME $NOPE.\n", &look),
            "hi world, world! $NAME .\n"
        );
    }
}
