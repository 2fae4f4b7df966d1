//! Planning one stage: its instructions walked with the variables in scope, each turned
//! into an action, and every input that goes into its digest gathered.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};
use slipway_oci::Digest;

use crate::BuildError;
use slipway_dockerfile::{self as dockerfile, Dockerfile, Instruction, Kind};
use slipway_glob::{EntryKind, plan_copy};
use slipway_layer::{self as layer, ArchiveKind, Content, LayerEntry};

use super::*;

pub(crate) struct StagePlanner<'a> {
    pub(crate) df: &'a Dockerfile,
    pub(crate) input: &'a PlanInput<'a>,
    pub(crate) globals: &'a BTreeMap<String, Option<String>>,
    pub(crate) planned: &'a [StagePlan],
    pub(crate) fail: &'a dyn Fn(usize, String) -> BuildError,
}

/// The variables and settings an instruction sees.
pub(crate) struct Vars {
    /// The environment, in the order the variables were first set.
    pub(crate) env: Vec<(String, String)>,
    /// Where each variable of `env` is, so that many `ENV` lines cost linear time.
    env_at: HashMap<String, usize>,
    pub(crate) args: BTreeMap<String, Option<String>>,
    pub(crate) workdir: String,
    pub(crate) shell: Vec<String>,
}

impl Vars {
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        if let Some(i) = self.env_at.get(name) {
            return Some(self.env[*i].1.clone());
        }
        self.args.get(name).cloned().flatten()
    }

    /// Sets an environment variable, keeping its first place when it was set before.
    fn set_env(&mut self, k: String, v: String) {
        match self.env_at.get(&k) {
            Some(i) => self.env[*i].1 = v,
            None => {
                self.env_at.insert(k.clone(), self.env.len());
                self.env.push((k, v));
            }
        }
    }
}

impl StagePlanner<'_> {
    pub(crate) fn stage_digest(&self, index: usize) -> &Digest {
        &self
            .planned
            .iter()
            .find(|s| s.index == index)
            .expect("dependencies are planned first")
            .digest
    }

    pub(crate) fn plan(
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
        if let Some(v) = self.input.cache_version {
            text.push_str(&format!("cache-version {}\n", json_str(v)));
        }
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
            env: vec![],
            env_at: HashMap::new(),
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
        for (k, v) in env_of(&config) {
            vars.set_env(k, v);
        }
        let mut env_set = false;
        // A base image's ONBUILD triggers run first, as if written right after the FROM
        // (BuildKit's rule; a stage used as a base passes none on), and are not inherited.
        let triggers = match &base {
            Base::Image(img) => match config.remove("OnBuild") {
                Some(Value::Array(list)) => list
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|t| {
                        parse_trigger(t, stage.line).map_err(|m| {
                            fail(
                                stage.line,
                                format!("ONBUILD {t} (a trigger of {}): {m}", img.reference),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => vec![],
            },
            _ => vec![],
        };
        let instructions: Vec<Instruction> = triggers
            .into_iter()
            .chain(stage.instructions.iter().cloned())
            .collect();
        // A RUN sees every declared arg in its environment; otherwise only the args that
        // later instructions name can matter, and the digest leaves out the others' values.
        let runs = instructions.iter().any(|i| matches!(i.kind, Kind::Run(_)));
        // Each instruction's text, which later `ARG`s look for their names in.
        let texts: Vec<String> = instructions.iter().map(Instruction::normalized).collect();
        let mut cmd_set = false;
        let mut steps = vec![];
        let mut native_blocker: Option<(usize, String)> = None;
        let mut mounts_context = false;
        let (mut mounts_secrets, mut mounts_ssh) = (false, false);
        for (pos, ins) in instructions.iter().enumerate() {
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
                        vars.set_env(k, v);
                    }
                    // Written into the config once, after the last instruction.
                    env_set = true;
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
                    let user = self.x(&vars, ins, u)?;
                    super::config::check_user(&user).map_err(|m| fail(ins.line, m))?;
                    config.insert("User".into(), Value::String(user));
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
                        // What werf.yaml's `secrets` and `ssh` give: not in the digest (werf
                        // leaves them out too), beyond the `--mount` text itself.
                        mounts_secrets |= m.kind == "secret";
                        mounts_ssh |= m.kind == "ssh";
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
        if env_set {
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
        // werf's addHost: only commands read /etc/hosts, so it counts for a stage with RUN
        // (and, through its digest, for the stages built on it or copying from it).
        if runs {
            for h in self.input.add_hosts {
                text.push_str(&format!("add-host {}\n", json_str(h)));
            }
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
            mounts_secrets,
            mounts_ssh,
            native_blocker,
            digest,
        })
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the planner's state for one instruction; a struct would only rename it"
    )]
    pub(crate) fn plan_copy_step(
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
            // Hard links as the layer will write them: files in destination order.
            let mut files: Vec<&slipway_glob::Entry> = planned
                .iter()
                .filter(|e| matches!(e.kind, EntryKind::File))
                .collect();
            files.sort_by(|a, b| a.dest.cmp(&b.dest));
            let links = layer::hard_link_targets(
                files.iter().map(|e| (e.dest.as_str(), e.source.as_path())),
            );
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
                        // What the layer carries beyond the bytes: a hard link to an earlier
                        // file of this copy, and file capabilities.
                        if let Some(first) = links.get(&e.dest) {
                            text.push_str(&format!(" link={}", json_str(first)));
                        }
                        if let Some(cap) = layer::xattr::capability(&e.source) {
                            let hex: String = cap.iter().map(|b| format!("{b:02x}")).collect();
                            text.push_str(&format!(" cap={hex}"));
                        }
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
    pub(crate) fn x(&self, vars: &Vars, ins: &Instruction, w: &str) -> Result<String, BuildError> {
        dockerfile::expand(w, self.df.escape, &|n: &str| vars.get(n))
            .map_err(|m| (self.fail)(ins.line, format!("{}: {m}", ins.kind.keyword())))
    }

    /// Adds what a `RUN --mount=type=bind` of the build context's `source` holds to the
    /// stage's digest text: each entry's path, kind, mode and content digest, as for `COPY`.
    pub(crate) fn hash_mounted_context(
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
    pub(crate) fn resolve_from(
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

    pub(crate) fn stage_index(&self, ins: &Instruction) -> usize {
        self.df
            .stages
            .iter()
            .rfind(|s| s.line <= ins.line)
            .map(|s| s.index)
            .unwrap_or(0)
    }
}

/// Parses one ONBUILD trigger of a base image as the instruction it is; it takes the line of
/// the stage's FROM, where it runs.
fn parse_trigger(trigger: &str, line: usize) -> Result<Instruction, String> {
    let df = dockerfile::parse(&format!("FROM scratch\n{trigger}\n")).map_err(|e| e.message)?;
    if df.stages.len() != 1 {
        return Err("FROM cannot be a trigger".into());
    }
    let mut ins = df
        .stages
        .into_iter()
        .next()
        .and_then(|s| s.instructions.into_iter().next())
        .ok_or_else(|| "an empty trigger".to_string())?;
    if matches!(ins.kind, Kind::Onbuild(_) | Kind::Maintainer(_)) {
        return Err("this instruction cannot be a trigger".into());
    }
    ins.line = line;
    Ok(ins)
}
