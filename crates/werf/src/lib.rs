//! Reading `werf.yaml`: the meta document (`project`, `configVersion`) and the Dockerfile
//! image documents, checked the way slipway needs them before it plans a build.
//!
//! The file is first rendered as a Go template, as werf renders it (see [`templating`]:
//! the `.werf` template files, sprig's and werf's functions, `.Env` and `.Files`). The
//! result is a stream of YAML documents separated by `---` lines, split the way werf
//! splits it. Documents are numbered from 1 in error messages; a preamble made only of
//! comments before the first `---` is not counted. Anything slipway does not implement
//! (Stapel images, some Dockerfile-image keys, template functions that need git) is
//! refused with a message that says what to do instead, rather than silently ignored.
//!
//! When rendering changed the text, messages about the YAML name the file as
//! `werf.yaml (rendered)`, and their lines count in the rendered text.

use serde_saphyr::Spanned;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

pub mod deploy;
mod documents;
mod files;
mod image_spec;
mod images;
pub mod templating;
#[cfg(test)]
mod tests;

use documents::*;
use images::*;

pub use image_spec::{Healthcheck, ImageSpecEdit, NamePattern};
pub use templating::{EnvLookup, TemplateOptions};

/// A parsed and checked `werf.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WerfConfig {
    /// The `werf.yaml` file itself, as an absolute path.
    pub path: PathBuf,
    /// The folder holding `werf.yaml`; contexts are relative to it.
    pub dir: PathBuf,
    /// The `project:` name from the meta document.
    pub project: String,
    /// The images, in the order the file defines them.
    pub images: Vec<ImageSpec>,
    /// The meta document's `deploy:` section.
    pub deploy: deploy::Deploy,
    /// The meta document's `build.cacheVersion`: the cache version of every image that
    /// sets none of its own (already applied to [`ImageSpec::cache_version`]).
    pub cache_version: Option<String>,
    /// The meta document's `build.platform`: the platforms of every image that lists none
    /// of its own (already applied to [`ImageSpec::platforms`]); empty when not set.
    pub platforms: Vec<String>,
    /// Settings the file has that slipway reads but does not use (`cleanup`,
    /// `gitWorktree`) or follows differently (`staged`), each naming its file and line: to
    /// be announced, never ignored silently.
    pub notes: Vec<String>,
}

/// One image built from a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// The image name (`image:`).
    pub name: String,
    /// The build context folder, absolute (`context:` relative to the werf.yaml folder).
    pub context: PathBuf,
    /// The Dockerfile, absolute (`dockerfile:` is relative to the context, as in werf).
    pub dockerfile: PathBuf,
    /// The Dockerfile stage to build (`target:`); the last stage when `None`.
    pub target: Option<String>,
    /// The build args from `args:`, with YAML numbers and booleans kept as written.
    pub args: BTreeMap<String, String>,
    /// The images this one needs built first, and what it imports from them.
    pub dependencies: Vec<Dependency>,
    /// The cache version, part of every stage digest of the image: the image's own
    /// `cacheVersion:` when it sets a non-empty one, else the meta document's
    /// `build.cacheVersion` (werf's rule); `None` when neither does.
    pub cache_version: Option<String>,
    /// The platforms to build the image for, each `os/arch[/variant]` as written, in file
    /// order: the image's own non-empty `platform:` list, else the meta document's
    /// `build.platform` (werf's rule); empty when neither sets one (the builder's default
    /// then applies). More than one makes a multi-platform image.
    pub platforms: Vec<String>,
    /// Extra `/etc/hosts` entries for `RUN` steps (`addHost:`), each `host:ip`, in order.
    pub add_hosts: Vec<String>,
    /// The network mode for `RUN` steps (`network:`), as written.
    pub network: Option<String>,
    /// The paths `contextAddFiles:` (or `contextAddFile:`) names, relative to the context
    /// and cleaned; each exists inside it.
    pub context_add_files: Vec<PathBuf>,
    /// werf's `final:` (true unless set to false): a final image is published. An
    /// intermediate one (`final: false`) is built for the images that depend on it, and is
    /// reported with `Final: false`, but gets no custom tags and is not in the values
    /// `render` substitutes.
    pub is_final: bool,
    /// werf's `imageSpec:`, with the meta document's `build.imageSpec` merged in for a final
    /// image: edits to the config of the built image. `None` when neither applies.
    pub image_spec: Option<ImageSpecEdit>,
    /// The build secrets (`secrets:`), in file order, each with a unique id: what
    /// `RUN --mount=type=secret,id=ID` mounts at `/run/secrets/ID`.
    pub secrets: Vec<Secret>,
    /// The SSH agent `RUN --mount=type=ssh` reaches (`ssh:`); `None` when not set.
    pub ssh: Option<SshAgent>,
    /// werf's `staged:` (the image's own, else the meta document's `build.staged`): asks
    /// for a cache entry per Dockerfile instruction. slipway builds the same image and
    /// caches it per Dockerfile stage; a staged config is announced in
    /// [`WerfConfig::notes`].
    pub staged: bool,
}

/// One build secret (`secrets:` item). Its value is read only when a stage that mounts it
/// is built, and never printed: [`SecretValue`]'s `Debug` hides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// The id a `RUN --mount=type=secret,id=ID` names: `id:`, else (werf's defaults) the
    /// variable's name for `env:` or the file's name for `src:`.
    pub id: String,
    /// Where the value comes from.
    pub source: SecretSource,
}

/// Where a build secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable of the build (`env:`), by name.
    Env(String),
    /// A file (`src:`): `~/` expanded, a relative path taken from the werf.yaml folder.
    File(PathBuf),
    /// The value written in werf.yaml (`value:`).
    Value(SecretValue),
}

/// A secret's value as written in werf.yaml. `Debug` prints `<redacted>`; only
/// [`SecretValue::expose`] gives the text.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a value.
    #[must_use]
    pub fn new(value: String) -> SecretValue {
        SecretValue(value)
    }

    /// Returns the value itself, for the file a build mounts.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// The SSH agent `RUN --mount=type=ssh` steps get (werf's `ssh:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshAgent {
    /// The id a `RUN --mount=type=ssh,id=ID` names (`default` unless `ID=SOCKET`).
    pub id: String,
    /// The agent's socket (`~/` expanded, a relative path taken from the werf.yaml folder);
    /// `None` for `$SSH_AUTH_SOCK`, read when the build runs.
    pub socket: Option<PathBuf>,
    /// The value as written, for messages.
    pub written: String,
}

/// An image another image depends on (`dependencies:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The name of the image depended on.
    pub image: String,
    /// The facts about that image passed in as build args.
    pub imports: Vec<Import>,
}

/// One fact about a dependency passed in as a build arg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Which fact.
    pub kind: ImportKind,
    /// The build arg that receives it.
    pub target_build_arg: String,
}

/// The facts about a built image that a dependent image can import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImportKind {
    /// The full reference, `repo:tag`.
    ImageName,
    /// The manifest digest, `sha256:...`.
    ImageDigest,
    /// The repository, without the tag.
    ImageRepo,
    /// The tag alone.
    ImageTag,
    /// The image ID: the digest of the image's config, `sha256:...`.
    ImageID,
}

impl ImportKind {
    /// Returns the name werf.yaml uses for this kind (`ImageName`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::ImageName => "ImageName",
            ImportKind::ImageDigest => "ImageDigest",
            ImportKind::ImageRepo => "ImageRepo",
            ImportKind::ImageTag => "ImageTag",
            ImportKind::ImageID => "ImageID",
        }
    }
}

impl fmt::Display for ImportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with a `werf.yaml`. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The werf.yaml path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `werf.yaml` or a template file does not parse as a Go template, fails while it is
    /// rendered (`required`, a missing `.Files.Get` file, an unknown template), or calls
    /// something slipway does not do (`.Commit`, sprig's random functions).
    #[error("{message}")]
    Template {
        /// The file the message points into: `werf.yaml` or a template file.
        path: PathBuf,
        /// The message, starting with that file and the line (and column) as Go reports
        /// them: `werf.yaml:12:5: executing "werfConfig" at <...>: ...`.
        message: String,
    },
    /// A document is not valid YAML.
    #[error("{}{}: document {document}: invalid YAML: {message}", .path.display(), slipway_fs::place(*.line, *.column))]
    Yaml {
        /// The werf.yaml path.
        path: PathBuf,
        /// The document number, from 1.
        document: usize,
        /// The line in the file, from 1; 0 when the parser gave none.
        line: u64,
        /// The column, from 1; 0 when the parser gave none.
        column: u64,
        /// The parser's message.
        message: String,
    },
    /// A key or value of one document is wrong or not supported.
    #[error("{}:{line}: document {document}, `{key}`: {message}", .path.display())]
    Invalid {
        /// The werf.yaml path.
        path: PathBuf,
        /// The document number, from 1.
        document: usize,
        /// The line in the file, from 1.
        line: u64,
        /// The key, as a path like `dependencies[0].imports[1].type`.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A problem with the file as a whole (no meta document, dependency cycles).
    #[error("{}: {message}", .path.display())]
    File {
        /// The werf.yaml path.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Reads and checks the `werf.yaml` at `path`, rendered with no `--env`, the `.werf`
/// template directory and the process environment.
///
/// # Errors
/// [`ConfigError::Read`] when the file cannot be read, else as [`parse`].
pub fn load(path: &Path) -> Result<WerfConfig, ConfigError> {
    load_with(path, &TemplateOptions::default())
}

/// Reads, renders with `opts`, and checks the `werf.yaml` at `path`.
///
/// # Errors
/// [`ConfigError::Read`] when the file cannot be read, else as [`parse_with`].
pub fn load_with(path: &Path, opts: &TemplateOptions) -> Result<WerfConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_with(&text, path, opts)
}

/// Renders and checks `werf.yaml` text as [`parse_with`] does, with the default
/// [`TemplateOptions`].
///
/// # Errors
/// As [`parse_with`].
pub fn parse(text: &str, path: &Path) -> Result<WerfConfig, ConfigError> {
    parse_with(text, path, &TemplateOptions::default())
}

/// Renders `werf.yaml` text as a template (see [`templating`]), then parses and checks
/// it; `path` names the file in messages, and its folder is the project folder: it holds
/// the template directory, `.Files` reads from it, and the relative `context` and
/// `dockerfile` paths, which must exist on disk, start there.
///
/// # Errors
/// Template errors ([`ConfigError::Template`]), YAML syntax, unknown or unsupported keys,
/// Stapel images, bad values, duplicate image names, unknown or cyclic dependencies, and
/// contexts or Dockerfiles that are missing or outside the werf.yaml folder.
pub fn parse_with(
    text: &str,
    path: &Path,
    opts: &TemplateOptions,
) -> Result<WerfConfig, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rendered = templating::render(text, path, opts)?;
    if rendered == text {
        return parse_rendered(text, path, path);
    }
    let shown = PathBuf::from(format!("{} (rendered)", path.display()));
    parse_rendered(&rendered, path, &shown)
}

/// Parses and checks rendered `werf.yaml` text; `shown` names it in messages.
fn parse_rendered(text: &str, path: &Path, shown: &Path) -> Result<WerfConfig, ConfigError> {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = match abs.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let cx = Cx { path: shown };
    let mut meta: Option<(usize, Meta)> = None;
    let mut raws: Vec<RawImage> = vec![];
    for chunk in split_documents(text) {
        if chunk.blank {
            continue;
        }
        let doc = Doc {
            number: chunk.number,
            offset: chunk.first_line - 1,
            text: chunk.text,
        };
        let root: Option<Spanned<Node>> =
            serde_saphyr::from_str(chunk.text).map_err(|e| cx.yaml(&doc, &e))?;
        let Some(root) = root else { continue };
        let Node::Map(entries) = &root.value else {
            return Err(cx.at(
                &doc,
                &root.referenced,
                "(document)",
                format!(
                    "a werf.yaml document must be a mapping of keys, not {}",
                    root.value.what()
                ),
            ));
        };
        let has = |k: &str| entries.iter().any(|(key, _)| key.value == k);
        if has("project") || has("configVersion") {
            if let Some((first, _)) = &meta {
                return Err(cx.at(
                    &doc,
                    &root.referenced,
                    "project",
                    format!(
                        "a second meta document; the meta document (`project:`, `configVersion:`) is document {first}, and there can be only one"
                    ),
                ));
            }
            let m = cx.meta(&doc, &root.referenced, entries)?;
            meta = Some((doc.number, m));
        } else if has("image") || has("dockerfile") || has("artifact") {
            raws.push(cx.image(&doc, &root.referenced, entries)?);
        } else {
            return Err(cx.at(
                &doc,
                &root.referenced,
                "(document)",
                "cannot tell what this document is: the meta document has `project:` and \
                 `configVersion: 1`, an image document has `image:`"
                    .to_string(),
            ));
        }
    }
    let Some((_, meta)) = meta else {
        return Err(cx.file(
            "no meta document: start werf.yaml with `project: NAME` and `configVersion: 1`, \
             then `---` before the image documents"
                .to_string(),
        ));
    };
    let mut images = cx.check_images(&raws, &dir)?;
    // werf: an image's own non-empty cacheVersion, else the meta document's.
    for image in &mut images {
        if image.cache_version.is_none() {
            image.cache_version.clone_from(&meta.cache_version);
        }
        // werf: the image's own platform list, else build.platform.
        if image.platforms.is_empty() {
            image.platforms.clone_from(&meta.platforms);
        }
    }
    // werf: the image's own imageSpec, with build.imageSpec merged in for final images.
    let named = raws
        .iter()
        .flat_map(|r| r.names.iter().map(move |n| (r, n)));
    // werf: the image's own `staged`, else build.staged.
    let mut staged: Vec<(u64, &str)> = vec![];
    for (image, (raw, name)) in images.iter_mut().zip(named) {
        debug_assert_eq!(&image.name, name);
        if let Some((on, line)) = raw.staged.or(meta.staged) {
            image.staged = on;
            if on {
                staged.push((line, name));
            }
        }
        image.image_spec = cx.resolve_image_spec(
            raw.image_spec.as_ref(),
            meta.image_spec.as_ref(),
            image.is_final,
            &meta.project,
            name,
        )?;
    }
    let mut notes = meta.notes;
    if let Some(&(line, _)) = staged.iter().min() {
        let names: Vec<String> = staged.iter().map(|(_, n)| format!("`{n}`")).collect();
        let (them, built) = if names.len() == 1 {
            ("image", "the image built is")
        } else {
            ("images", "the images built are")
        };
        notes.push(format!(
            "{}:{line}: `staged: true` ({them} {}): slipway caches per Dockerfile stage, not per \
             instruction, so a changed instruction rebuilds its whole stage; {built} the same \
             either way",
            shown.display(),
            names.join(", ")
        ));
    }
    Ok(WerfConfig {
        path: abs,
        dir,
        project: meta.project,
        images,
        deploy: meta.deploy,
        cache_version: meta.cache_version,
        platforms: meta.platforms,
        notes,
    })
}

impl WerfConfig {
    /// Returns the images with every dependency before its dependents, otherwise in file
    /// order.
    #[must_use]
    pub fn images_in_order(&self) -> Vec<&ImageSpec> {
        let by_name: HashMap<&str, usize> = self
            .images
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let mut state = vec![0u8; self.images.len()]; // 0 new, 1 in progress, 2 done
        let mut out = Vec::with_capacity(self.images.len());
        fn visit<'a>(
            i: usize,
            images: &'a [ImageSpec],
            by_name: &HashMap<&str, usize>,
            state: &mut [u8],
            out: &mut Vec<&'a ImageSpec>,
        ) {
            if state[i] != 0 {
                return;
            }
            state[i] = 1;
            for dep in &images[i].dependencies {
                if let Some(&j) = by_name.get(dep.image.as_str()) {
                    visit(j, images, by_name, state, out);
                }
            }
            state[i] = 2;
            out.push(&images[i]);
        }
        for i in 0..self.images.len() {
            visit(i, &self.images, &by_name, &mut state, &mut out);
        }
        out
    }

    /// Returns the image named `name`, if werf.yaml defines one.
    #[must_use]
    pub fn image(&self, name: &str) -> Option<&ImageSpec> {
        self.images.iter().find(|i| i.name == name)
    }
}

// ---------------------------------------------------------------------------------------
// Splitting into documents.
