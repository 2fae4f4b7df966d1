//! Reading `werf.yaml`: the meta document (`project`, `configVersion`) and the Dockerfile
//! image documents, checked the way slipway needs them before it plans a build.
//!
//! The file is a stream of YAML documents separated by `---` lines, split the way werf
//! splits it. Documents are numbered from 1 in error messages; a preamble made only of
//! comments before the first `---` is not counted. Anything slipway does not implement
//! (Stapel images, Go templating, some Dockerfile-image keys) is refused with a message
//! that says what to do instead, rather than silently ignored.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

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
    /// The file uses werf's Go templating, which slipway does not render.
    #[error(
        "{}:{line}: werf.yaml templating ({{{{ ... }}}}) is not supported; \
         write literal values, or render the file first (`werf config render > werf.yaml`)",
        .path.display()
    )]
    Templating {
        /// The werf.yaml path.
        path: PathBuf,
        /// The first line (from 1) with `{{`.
        line: usize,
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

/// Reads and checks the `werf.yaml` at `path`.
///
/// # Errors
/// [`ConfigError::Read`] when the file cannot be read, else as [`parse`].
pub fn load(path: &Path) -> Result<WerfConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses and checks `werf.yaml` text; `path` names the file in messages and anchors the
/// relative `context` and `dockerfile` paths, which must exist on disk.
///
/// # Errors
/// Templating, YAML syntax, unknown or unsupported keys, Stapel images, bad values,
/// duplicate image names, unknown or cyclic dependencies, and contexts or Dockerfiles
/// that are missing or outside the werf.yaml folder.
pub fn parse(text: &str, path: &Path) -> Result<WerfConfig, ConfigError> {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = match abs.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(i) = text.lines().position(|l| l.contains("{{")) {
        return Err(ConfigError::Templating {
            path: path.to_path_buf(),
            line: i + 1,
        });
    }
    let cx = Cx { path };
    let mut meta: Option<(usize, String)> = None;
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
            let project = cx.meta(&doc, &root.referenced, entries)?;
            meta = Some((doc.number, project));
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
    let Some((_, project)) = meta else {
        return Err(cx.file(
            "no meta document: start werf.yaml with `project: NAME` and `configVersion: 1`, \
             then `---` before the image documents"
                .to_string(),
        ));
    };
    let images = cx.check_images(&raws, &dir)?;
    Ok(WerfConfig {
        path: abs,
        dir,
        project,
        images,
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

struct Chunk<'a> {
    number: usize,
    first_line: u64,
    text: &'a str,
    blank: bool,
}

/// Splits the text at `---` lines (optionally followed by blanks and a comment), as werf
/// does. A blank preamble before the first separator is not numbered.
fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    let mut raw: Vec<(u64, &str)> = vec![];
    let mut start = 0usize;
    let mut start_line = 1u64;
    let mut pos = 0usize;
    for (line_no, line) in (1u64..).zip(text.split_inclusive('\n')) {
        let end = pos + line.len();
        if is_separator(line) {
            raw.push((start_line, &text[start..pos]));
            start = end;
            start_line = line_no + 1;
        }
        pos = end;
    }
    raw.push((start_line, &text[start..]));
    let first_blank = is_blank(raw[0].1);
    raw.into_iter()
        .enumerate()
        .filter(|(i, _)| !(*i == 0 && first_blank))
        .map(|(i, (first_line, text))| Chunk {
            number: if first_blank { i } else { i + 1 },
            first_line,
            text,
            blank: is_blank(text),
        })
        .collect()
}

fn is_separator(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("---") else {
        return false;
    };
    let rest = rest.trim_end_matches(['\n', '\r']);
    if rest.is_empty() {
        return true;
    }
    if !rest.starts_with([' ', '\t']) {
        return false;
    }
    let rest = rest.trim_start();
    rest.is_empty() || rest.starts_with('#')
}

fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#')
    })
}

// ---------------------------------------------------------------------------------------
// A YAML tree with locations.

enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl Node {
    fn what(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) | Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Node, D2::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Int(v.into()))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Node, E> {
                i128::try_from(v)
                    .map(Node::Int)
                    .map_err(|_| E::custom("integer is too large"))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut items = vec![];
                while let Some(x) = a.next_element()? {
                    items.push(x);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut items = vec![];
                while let Some(kv) = a.next_entry()? {
                    items.push(kv);
                }
                Ok(Node::Map(items))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------
// Checking documents.

/// The keys of a Stapel image (werf's own builder), which slipway does not implement.
const STAPEL_KEYS: &[&str] = &[
    "artifact",
    "from",
    "fromImage",
    "fromArtifact",
    "fromImageArtifact",
    "fromLatest",
    "fromCacheVersion",
    "herebyIAdmitThatFromLatestMightBreakReproducibility",
    "disableGitAfterPatch",
    "git",
    "shell",
    "ansible",
    "import",
    "mount",
    "docker",
    "beforeInstall",
    "install",
    "beforeSetup",
    "setup",
    "asLayers",
];

/// Dockerfile-image keys of werf that slipway does not implement, and what to do instead.
fn unsupported_hint(key: &str) -> Option<&'static str> {
    Some(match key {
        "contextAddFile" | "contextAddFiles" => {
            "slipway reads the context folder as it is on disk, so untracked files are already \
             in it (unless .dockerignore excludes them); remove the key"
        }
        "addHost" => "remove it; RUN steps cannot get extra /etc/hosts entries",
        "network" => "remove it; RUN steps use the backend's default network",
        "ssh" => "remove it; fetch private sources before the build and add them to the context",
        "secrets" => {
            "remove it; build secrets cannot be mounted yet, so fetch what needs them before \
             the build"
        }
        "staged" => {
            "remove it; slipway already caches every Dockerfile stage by its content digest"
        }
        "platform" => "remove it and pass `--platform` to `slipway build`",
        "final" => "remove it; every image in werf.yaml is built and published",
        "cacheVersion" => {
            "remove it; to force a rebuild, change a build arg or the Dockerfile instead"
        }
        "imageSpec" => {
            "remove it; set labels, env, user and the like with Dockerfile instructions instead"
        }
        _ => return None,
    })
}

const IMAGE_KEYS: &str = "image, dockerfile, context, target, args, dependencies";
const META_KEYS: &str = "project, configVersion, deploy, cleanup, gitWorktree";

struct Cx<'a> {
    path: &'a Path,
}

struct Doc<'a> {
    number: usize,
    offset: u64,
    text: &'a str,
}

impl Doc<'_> {
    fn line(&self, loc: &Location) -> u64 {
        loc.line().max(1) + self.offset
    }
}

struct RawImage {
    doc: usize,
    line: u64,
    names: Vec<String>,
    dockerfile: Option<(String, u64)>,
    context: Option<(String, u64)>,
    target: Option<String>,
    args: BTreeMap<String, String>,
    deps: Vec<RawDep>,
}

struct RawDep {
    image: String,
    line: u64,
    key: String,
    imports: Vec<Import>,
}

impl Cx<'_> {
    fn at(&self, doc: &Doc<'_>, loc: &Location, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            document: doc.number,
            line: doc.line(loc),
            key: key.to_string(),
            message,
        }
    }

    fn file(&self, message: String) -> ConfigError {
        ConfigError::File {
            path: self.path.to_path_buf(),
            message,
        }
    }

    fn yaml(&self, doc: &Doc<'_>, e: &serde_saphyr::Error) -> ConfigError {
        let opts = serde_saphyr::render_options! {
            formatter: &serde_saphyr::UserMessageFormatter,
            snippets: serde_saphyr::SnippetMode::Off,
        };
        let mut message = e.render_with_options(opts);
        let (mut line, mut column) = (0, 0);
        if let Some(loc) = e.location().filter(|l| l.line() > 0) {
            let suffix = format!(" at line {}, column {}", loc.line(), loc.column());
            if let Some(m) = message.strip_suffix(&suffix) {
                message = m.to_string();
            }
            line = doc.line(&loc);
            column = loc.column();
        }
        ConfigError::Yaml {
            path: self.path.to_path_buf(),
            document: doc.number,
            line,
            column,
            message,
        }
    }

    fn string(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
        allow_empty: bool,
    ) -> Result<String, ConfigError> {
        match &v.value {
            Node::Str(s) if allow_empty || !s.is_empty() => Ok(s.clone()),
            Node::Str(_) => Err(self.at(doc, &v.referenced, key, "must not be empty".into())),
            other => Err(self.at(
                doc,
                &v.referenced,
                key,
                format!("expected a string, found {}", other.what()),
            )),
        }
    }

    /// Returns the text of a scalar: strings as they are, numbers and booleans as written.
    fn scalar_text(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
    ) -> Result<String, ConfigError> {
        let written = || {
            let span = v.defined.span();
            let (start, len) = (span.byte_offset()?, span.byte_len()?);
            let start = usize::try_from(start).ok()?;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            let s = doc.text.get(start..end)?.trim();
            (!s.is_empty() && !s.starts_with(['*', '!', '&'])).then(|| s.to_string())
        };
        Ok(match &v.value {
            Node::Str(s) => s.clone(),
            Node::Bool(b) => written().unwrap_or_else(|| b.to_string()),
            Node::Int(i) => written().unwrap_or_else(|| i.to_string()),
            Node::Float(f) => written().unwrap_or_else(|| f.to_string()),
            Node::Null => {
                return Err(self.at(
                    doc,
                    &v.referenced,
                    key,
                    "has no value; write \"\" for an empty string".into(),
                ));
            }
            other => {
                return Err(self.at(
                    doc,
                    &v.referenced,
                    key,
                    format!("expected a string, found {}", other.what()),
                ));
            }
        })
    }

    fn stapel(&self, doc: &Doc<'_>, key: &Spanned<String>) -> ConfigError {
        self.at(
            doc,
            &key.referenced,
            &key.value,
            "Stapel images are not supported by slipway; write a Dockerfile and use `dockerfile:`"
                .into(),
        )
    }

    fn unsupported(&self, doc: &Doc<'_>, key: &Spanned<String>, hint: &str) -> ConfigError {
        self.at(
            doc,
            &key.referenced,
            &key.value,
            format!(
                "werf key `{}` is not supported by slipway (yet); {hint}",
                key.value
            ),
        )
    }

    fn meta(
        &self,
        doc: &Doc<'_>,
        loc: &Location,
        entries: &[(Spanned<String>, Spanned<Node>)],
    ) -> Result<String, ConfigError> {
        let mut project = None;
        let mut version = false;
        for (k, v) in entries {
            match k.value.as_str() {
                "project" => project = Some(self.string(doc, "project", v, false)?),
                "configVersion" => {
                    if !matches!(v.value, Node::Int(1)) {
                        return Err(self.at(
                            doc,
                            &v.referenced,
                            "configVersion",
                            "must be 1 (the only werf.yaml syntax version)".into(),
                        ));
                    }
                    version = true;
                }
                // Deploy, cleanup and git settings do not change what is built.
                "deploy" | "cleanup" | "gitWorktree" => {}
                "build" => {
                    if let Node::Map(sub) = &v.value {
                        if let Some((sk, _)) = sub.first() {
                            let key = format!("build.{}", sk.value);
                            let hint = unsupported_hint(&sk.value).unwrap_or("remove it");
                            return Err(self.at(
                                doc,
                                &sk.referenced,
                                &key,
                                format!(
                                    "werf key `{key}` is not supported by slipway (yet); {hint}"
                                ),
                            ));
                        }
                    } else if !matches!(v.value, Node::Null) {
                        return Err(self.at(
                            doc,
                            &v.referenced,
                            "build",
                            format!("expected a mapping, found {}", v.value.what()),
                        ));
                    }
                }
                other => {
                    let hint = if other == "image" || other == "dockerfile" {
                        " (image documents go after a `---` line)"
                    } else {
                        ""
                    };
                    return Err(self.at(
                        doc,
                        &k.referenced,
                        other,
                        format!("unknown key in the meta document{hint}; it may have: {META_KEYS}"),
                    ));
                }
            }
        }
        if !version {
            return Err(self.at(
                doc,
                loc,
                "configVersion",
                "missing: the meta document needs `configVersion: 1`".into(),
            ));
        }
        project.ok_or_else(|| {
            self.at(
                doc,
                loc,
                "project",
                "missing: the meta document needs `project: NAME`".into(),
            )
        })
    }

    fn image(
        &self,
        doc: &Doc<'_>,
        loc: &Location,
        entries: &[(Spanned<String>, Spanned<Node>)],
    ) -> Result<RawImage, ConfigError> {
        // The real problem with a Stapel image is that it is one, whatever else it has.
        if let Some((k, _)) = entries
            .iter()
            .find(|(k, _)| STAPEL_KEYS.contains(&k.value.as_str()))
        {
            return Err(self.stapel(doc, k));
        }
        let mut raw = RawImage {
            doc: doc.number,
            line: doc.line(loc),
            names: vec![],
            dockerfile: None,
            context: None,
            target: None,
            args: BTreeMap::new(),
            deps: vec![],
        };
        let mut named = false;
        for (k, v) in entries {
            let key = k.value.as_str();
            match key {
                "image" => {
                    named = true;
                    raw.line = doc.line(&k.referenced);
                    raw.names = self.image_names(doc, v)?;
                }
                "dockerfile" => {
                    let s = self.string(doc, key, v, false)?;
                    raw.dockerfile = Some((s, doc.line(&v.referenced)));
                }
                "context" => {
                    let s = self.string(doc, key, v, true)?;
                    raw.context = Some((s, doc.line(&v.referenced)));
                }
                "target" => {
                    if !matches!(v.value, Node::Null) {
                        let s = self.string(doc, key, v, true)?;
                        raw.target = (!s.is_empty()).then_some(s);
                    }
                }
                "args" => match &v.value {
                    Node::Null => {}
                    Node::Map(args) => {
                        for (ak, av) in args {
                            let name = format!("args.{}", ak.value);
                            if ak.value.is_empty() {
                                return Err(self.at(
                                    doc,
                                    &ak.referenced,
                                    &name,
                                    "a build arg needs a name".into(),
                                ));
                            }
                            let value = self.scalar_text(doc, &name, av)?;
                            raw.args.insert(ak.value.clone(), value);
                        }
                    }
                    other => {
                        return Err(self.at(
                            doc,
                            &v.referenced,
                            key,
                            format!(
                                "expected a mapping of build arg names to values, found {}",
                                other.what()
                            ),
                        ));
                    }
                },
                "dependencies" => raw.deps = self.dependencies(doc, v)?,
                _ => {
                    if let Some(hint) = unsupported_hint(key) {
                        return Err(self.unsupported(doc, k, hint));
                    }
                    return Err(self.at(
                        doc,
                        &k.referenced,
                        key,
                        format!(
                            "unknown key in an image document; slipway understands: {IMAGE_KEYS}"
                        ),
                    ));
                }
            }
        }
        if !named {
            return Err(self.at(
                doc,
                loc,
                "image",
                "missing: an image document needs `image: NAME`".into(),
            ));
        }
        // Build args set by dependency imports must not collide with each other or `args`.
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for dep in &raw.deps {
            for imp in &dep.imports {
                let arg = imp.target_build_arg.as_str();
                if raw.args.contains_key(arg) {
                    return Err(ConfigError::Invalid {
                        path: self.path.to_path_buf(),
                        document: doc.number,
                        line: dep.line,
                        key: format!("{}.imports", dep.key),
                        message: format!(
                            "build arg `{arg}` is set both in `args:` and by an import; remove one"
                        ),
                    });
                }
                if let Some(other) = seen.insert(arg, &dep.image) {
                    return Err(ConfigError::Invalid {
                        path: self.path.to_path_buf(),
                        document: doc.number,
                        line: dep.line,
                        key: format!("{}.imports", dep.key),
                        message: format!(
                            "build arg `{arg}` is already set by an import from `{other}`; each targetBuildArg must be unique"
                        ),
                    });
                }
            }
        }
        Ok(raw)
    }

    fn image_names(&self, doc: &Doc<'_>, v: &Spanned<Node>) -> Result<Vec<String>, ConfigError> {
        let one = |v: &Spanned<Node>| -> Result<String, ConfigError> {
            match &v.value {
                Node::Null => Err(self.at(
                    doc,
                    &v.referenced,
                    "image",
                    "a nameless image (`image: ~`) is not supported; give the image a name".into(),
                )),
                Node::Str(s) if s.trim().is_empty() => Err(self.at(
                    doc,
                    &v.referenced,
                    "image",
                    "the image name must not be empty".into(),
                )),
                Node::Str(s) => Ok(s.clone()),
                other => Err(self.at(
                    doc,
                    &v.referenced,
                    "image",
                    format!("expected an image name, found {}", other.what()),
                )),
            }
        };
        match &v.value {
            Node::Seq(items) if items.is_empty() => Err(self.at(
                doc,
                &v.referenced,
                "image",
                "the list of image names is empty".into(),
            )),
            Node::Seq(items) => items.iter().map(one).collect(),
            _ => Ok(vec![one(v)?]),
        }
    }

    fn dependencies(&self, doc: &Doc<'_>, v: &Spanned<Node>) -> Result<Vec<RawDep>, ConfigError> {
        let items = match &v.value {
            Node::Null => return Ok(vec![]),
            Node::Seq(items) => items,
            other => {
                return Err(self.at(
                    doc,
                    &v.referenced,
                    "dependencies",
                    format!("expected a list, found {}", other.what()),
                ));
            }
        };
        let mut deps = vec![];
        for (i, item) in items.iter().enumerate() {
            let key = format!("dependencies[{i}]");
            let Node::Map(entries) = &item.value else {
                return Err(self.at(
                    doc,
                    &item.referenced,
                    &key,
                    format!(
                        "expected a mapping like `from: IMAGE` with `imports:`, found {}",
                        item.value.what()
                    ),
                ));
            };
            let mut image: Option<String> = None;
            let mut imports = vec![];
            for (k, v) in entries {
                let sub = format!("{key}.{}", k.value);
                match k.value.as_str() {
                    "from" | "image" => {
                        if image.is_some() {
                            return Err(self.at(
                                doc,
                                &k.referenced,
                                &sub,
                                "give the image once, with `from:` (or the older `image:`)".into(),
                            ));
                        }
                        image = Some(self.string(doc, &sub, v, false)?);
                    }
                    "imports" => imports = self.imports(doc, &sub, v)?,
                    "before" | "after" => {
                        return Err(self.at(
                            doc,
                            &k.referenced,
                            &sub,
                            "`before:`/`after:` are for Stapel images; a Dockerfile image gets a dependency through `imports:` with `targetBuildArg:`".into(),
                        ));
                    }
                    other => {
                        return Err(self.at(
                            doc,
                            &k.referenced,
                            &sub,
                            format!(
                                "unknown key `{other}` in a dependency; it may have: from (or image), imports"
                            ),
                        ));
                    }
                }
            }
            let Some(image) = image else {
                return Err(self.at(
                    doc,
                    &item.referenced,
                    &key,
                    "missing the image depended on: add `from: IMAGE`".into(),
                ));
            };
            deps.push(RawDep {
                image,
                line: doc.line(&item.referenced),
                key,
                imports,
            });
        }
        Ok(deps)
    }

    fn imports(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
    ) -> Result<Vec<Import>, ConfigError> {
        let items = match &v.value {
            Node::Null => return Ok(vec![]),
            Node::Seq(items) => items,
            other => {
                return Err(self.at(
                    doc,
                    &v.referenced,
                    key,
                    format!("expected a list, found {}", other.what()),
                ));
            }
        };
        let mut out = vec![];
        for (i, item) in items.iter().enumerate() {
            let key = format!("{key}[{i}]");
            let Node::Map(entries) = &item.value else {
                return Err(self.at(
                    doc,
                    &item.referenced,
                    &key,
                    format!(
                        "expected a mapping like `type: ImageName` with `targetBuildArg: ARG`, found {}",
                        item.value.what()
                    ),
                ));
            };
            let mut kind = None;
            let mut arg = None;
            for (k, v) in entries {
                let sub = format!("{key}.{}", k.value);
                match k.value.as_str() {
                    "type" => {
                        let s = self.string(doc, &sub, v, false)?;
                        kind = Some(match s.as_str() {
                            "ImageName" => ImportKind::ImageName,
                            "ImageDigest" => ImportKind::ImageDigest,
                            "ImageRepo" => ImportKind::ImageRepo,
                            "ImageTag" => ImportKind::ImageTag,
                            "ImageID" => {
                                return Err(self.at(
                                    doc,
                                    &v.referenced,
                                    &sub,
                                    "import type `ImageID` is not supported by slipway (yet); use `ImageDigest` or `ImageName`".into(),
                                ));
                            }
                            other => {
                                return Err(self.at(
                                    doc,
                                    &v.referenced,
                                    &sub,
                                    format!(
                                        "unknown import type `{other}`; expected one of: ImageName, ImageTag, ImageRepo, ImageDigest"
                                    ),
                                ));
                            }
                        });
                    }
                    "targetBuildArg" => arg = Some(self.string(doc, &sub, v, false)?),
                    "targetEnv" => {
                        return Err(self.at(
                            doc,
                            &k.referenced,
                            &sub,
                            "`targetEnv:` is for Stapel images; a Dockerfile image imports into a build arg with `targetBuildArg:`".into(),
                        ));
                    }
                    other => {
                        return Err(self.at(
                            doc,
                            &k.referenced,
                            &sub,
                            format!("unknown key `{other}` in an import; it may have: type, targetBuildArg"),
                        ));
                    }
                }
            }
            let Some(kind) = kind else {
                return Err(self.at(
                    doc,
                    &item.referenced,
                    &key,
                    "missing `type:` (ImageName, ImageTag, ImageRepo or ImageDigest)".into(),
                ));
            };
            let Some(target_build_arg) = arg else {
                return Err(self.at(
                    doc,
                    &item.referenced,
                    &key,
                    "missing `targetBuildArg:`, the build arg that receives the value".into(),
                ));
            };
            out.push(Import {
                kind,
                target_build_arg,
            });
        }
        Ok(out)
    }

    fn invalid(&self, document: usize, line: u64, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            document,
            line,
            key: key.to_string(),
            message,
        }
    }

    /// Checks names, dependencies and paths across documents, and resolves the paths.
    fn check_images(&self, raws: &[RawImage], dir: &Path) -> Result<Vec<ImageSpec>, ConfigError> {
        let mut first: HashMap<&str, usize> = HashMap::new();
        for raw in raws {
            for name in &raw.names {
                if let Some(doc) = first.insert(name, raw.doc) {
                    return Err(self.invalid(
                        raw.doc,
                        raw.line,
                        "image",
                        format!("image `{name}` is already defined in document {doc}; image names must be unique"),
                    ));
                }
            }
        }
        for raw in raws {
            for dep in &raw.deps {
                if !first.contains_key(dep.image.as_str()) {
                    let mut known: Vec<&str> = first.keys().copied().collect();
                    known.sort_unstable();
                    return Err(self.invalid(
                        raw.doc,
                        dep.line,
                        &dep.key,
                        format!(
                            "depends on image `{}`, which werf.yaml does not define (images: {})",
                            dep.image,
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        self.check_cycles(raws)?;
        if raws.is_empty() {
            return Ok(vec![]);
        }
        let canonical_dir = dir.canonicalize().map_err(|e| {
            self.file(format!(
                "cannot open the werf.yaml folder {}: {e}",
                dir.display()
            ))
        })?;
        let mut images = vec![];
        for raw in raws {
            let (ctx_text, ctx_line) = match &raw.context {
                Some((s, l)) => (s.as_str(), *l),
                None => (".", raw.line),
            };
            let ctx_rel = relative_inside(ctx_text).map_err(|why| {
                self.invalid(
                    raw.doc,
                    ctx_line,
                    "context",
                    format!(
                        "`{ctx_text}` {why}; the context must be a folder inside {}",
                        dir.display()
                    ),
                )
            })?;
            let context = join_clean(dir, &ctx_rel);
            match std::fs::metadata(&context) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(self.invalid(
                        raw.doc,
                        ctx_line,
                        "context",
                        format!("{} is not a directory", context.display()),
                    ));
                }
                Err(e) => {
                    let message = if e.kind() == std::io::ErrorKind::NotFound {
                        format!("context directory {} does not exist", context.display())
                    } else {
                        format!(
                            "cannot open the context directory {}: {e}",
                            context.display()
                        )
                    };
                    return Err(self.invalid(raw.doc, ctx_line, "context", message));
                }
            }
            match context.canonicalize() {
                Ok(c) if c.starts_with(&canonical_dir) => {}
                Ok(c) => {
                    return Err(self.invalid(
                        raw.doc,
                        ctx_line,
                        "context",
                        format!(
                            "{} leads (through a symlink) to {}, outside the werf.yaml folder {}",
                            context.display(),
                            c.display(),
                            dir.display()
                        ),
                    ));
                }
                Err(e) => {
                    return Err(self.invalid(
                        raw.doc,
                        ctx_line,
                        "context",
                        format!("cannot open {}: {e}", context.display()),
                    ));
                }
            }
            let (df_text, df_line) = match &raw.dockerfile {
                Some((s, l)) => (s.as_str(), *l),
                None => ("Dockerfile", raw.line),
            };
            let df_rel = relative_inside(df_text).map_err(|why| {
                self.invalid(
                    raw.doc,
                    df_line,
                    "dockerfile",
                    format!(
                        "`{df_text}` {why}; werf resolves `dockerfile:` relative to the context {}",
                        context.display()
                    ),
                )
            })?;
            let dockerfile = join_clean(&context, &df_rel);
            match std::fs::metadata(&dockerfile) {
                Ok(m) if m.is_file() => {}
                Ok(_) => {
                    return Err(self.invalid(
                        raw.doc,
                        df_line,
                        "dockerfile",
                        format!("{} is not a file", dockerfile.display()),
                    ));
                }
                Err(_) => {
                    let implicit = if raw.dockerfile.is_none() {
                        " (the default; set `dockerfile:` to use another file)"
                    } else {
                        " (`dockerfile:` is relative to the context)"
                    };
                    return Err(self.invalid(
                        raw.doc,
                        df_line,
                        "dockerfile",
                        format!(
                            "Dockerfile {} does not exist{implicit}",
                            dockerfile.display()
                        ),
                    ));
                }
            }
            for name in &raw.names {
                images.push(ImageSpec {
                    name: name.clone(),
                    context: context.clone(),
                    dockerfile: dockerfile.clone(),
                    target: raw.target.clone(),
                    args: raw.args.clone(),
                    dependencies: raw
                        .deps
                        .iter()
                        .map(|d| Dependency {
                            image: d.image.clone(),
                            imports: d.imports.clone(),
                        })
                        .collect(),
                });
            }
        }
        Ok(images)
    }

    fn check_cycles(&self, raws: &[RawImage]) -> Result<(), ConfigError> {
        let mut deps: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut order: Vec<&str> = vec![];
        for raw in raws {
            for name in &raw.names {
                order.push(name);
                deps.insert(name, raw.deps.iter().map(|d| d.image.as_str()).collect());
            }
        }
        let mut done: HashSet<&str> = HashSet::new();
        for start in order {
            let mut path: Vec<&str> = vec![];
            if let Some(cycle) = find_cycle(start, &deps, &mut done, &mut path) {
                return Err(self.file(format!(
                    "dependency cycle between images: {}; an image cannot depend on itself, directly or through others",
                    cycle.join(" -> ")
                )));
            }
        }
        Ok(())
    }
}

fn find_cycle<'a>(
    name: &'a str,
    deps: &HashMap<&'a str, Vec<&'a str>>,
    done: &mut HashSet<&'a str>,
    path: &mut Vec<&'a str>,
) -> Option<Vec<&'a str>> {
    if done.contains(name) {
        return None;
    }
    if let Some(i) = path.iter().position(|p| *p == name) {
        let mut cycle = path[i..].to_vec();
        cycle.push(name);
        return Some(cycle);
    }
    path.push(name);
    for dep in deps.get(name).map(Vec::as_slice).unwrap_or_default() {
        if let Some(c) = find_cycle(dep, deps, done, path) {
            return Some(c);
        }
    }
    path.pop();
    done.insert(name);
    None
}

/// Normalizes a relative path lexically; refuses absolute paths and `..` that leave the
/// starting folder. Returns the clean components (empty for the folder itself).
fn relative_inside(text: &str) -> Result<PathBuf, &'static str> {
    let p = Path::new(text);
    let mut out = PathBuf::new();
    let mut depth = 0usize;
    for c in p.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path"),
            Component::CurDir => {}
            Component::ParentDir => {
                if depth == 0 {
                    return Err("leaves its folder through `..`");
                }
                depth -= 1;
                out.pop();
            }
            Component::Normal(n) => {
                depth += 1;
                out.push(n);
            }
        }
    }
    Ok(out)
}

fn join_clean(base: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    struct Fixture {
        tmp: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Self {
            let tmp = tempfile::tempdir().unwrap();
            fs::write(tmp.path().join("Dockerfile"), "FROM scratch\n").unwrap();
            Fixture { tmp }
        }
        fn file(&self, rel: &str, text: &str) -> &Self {
            let p = self.tmp.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
            self
        }
        fn dir(&self, rel: &str) -> &Self {
            fs::create_dir_all(self.tmp.path().join(rel)).unwrap();
            self
        }
        fn werf(&self) -> PathBuf {
            self.tmp.path().join("werf.yaml")
        }
        fn parse(&self, text: &str) -> Result<WerfConfig, ConfigError> {
            parse(text, &self.werf())
        }
        fn err(&self, text: &str) -> String {
            let e = self.parse(text).expect_err("expected an error");
            let s = e.to_string();
            assert!(
                s.contains("werf.yaml"),
                "message does not name the file: {s}"
            );
            s
        }
    }

    const META: &str = "project: demo\nconfigVersion: 1\n";

    fn has(s: &str, needles: &[&str]) {
        for n in needles {
            assert!(s.contains(n), "{s:?} lacks {n:?}");
        }
    }

    #[test]
    fn parses_a_full_config() {
        let f = Fixture::new();
        f.dir("svc/docker")
            .file("svc/docker/app.Dockerfile", "FROM scratch\n");
        let text = format!(
            "# leading comment\n---\n{META}---\nimage: base\n---\n\
             image: app\ncontext: svc\ndockerfile: docker/app.Dockerfile\ntarget: final\n\
             args:\n  S: text\n  N: 1.10\n  B: yes\n  I: 010\n  Q: \"quoted\"\n  E: ''\n\
             dependencies:\n- image: base\n  imports:\n  - type: ImageName\n    targetBuildArg: BASE\n\
             - from: base\n  imports:\n  - type: ImageDigest\n    targetBuildArg: BASE_DIGEST\n  \
             - type: ImageRepo\n    targetBuildArg: REPO\n  - type: ImageTag\n    targetBuildArg: TAG\n"
        );
        let c = f.parse(&text).unwrap();
        assert_eq!(c.project, "demo");
        assert!(c.path.is_absolute());
        assert_eq!(c.dir, f.tmp.path());
        assert_eq!(c.images.len(), 2);
        let base = &c.images[0];
        assert_eq!(base.name, "base");
        assert_eq!(base.context, f.tmp.path());
        assert_eq!(base.dockerfile, f.tmp.path().join("Dockerfile"));
        assert_eq!(base.target, None);
        let app = &c.images[1];
        assert_eq!(app.context, f.tmp.path().join("svc"));
        assert_eq!(
            app.dockerfile,
            f.tmp.path().join("svc/docker/app.Dockerfile")
        );
        assert_eq!(app.target.as_deref(), Some("final"));
        let args: Vec<(&str, &str)> = app
            .args
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            args,
            [
                ("B", "yes"),
                ("E", ""),
                ("I", "010"),
                ("N", "1.10"),
                ("Q", "quoted"),
                ("S", "text")
            ]
        );
        assert_eq!(app.dependencies.len(), 2);
        assert_eq!(app.dependencies[0].image, "base");
        assert_eq!(
            app.dependencies[0].imports,
            [Import {
                kind: ImportKind::ImageName,
                target_build_arg: "BASE".into()
            }]
        );
        let kinds: Vec<ImportKind> = app.dependencies[1].imports.iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            [
                ImportKind::ImageDigest,
                ImportKind::ImageRepo,
                ImportKind::ImageTag
            ]
        );
    }

    #[test]
    fn loads_from_disk_and_reports_unreadable_files() {
        let f = Fixture::new();
        f.file("werf.yaml", &format!("{META}---\nimage: app\n"));
        let c = load(&f.werf()).unwrap();
        assert_eq!(c.images[0].name, "app");
        let missing = f.tmp.path().join("nope/werf.yaml");
        let e = load(&missing).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        has(&e.to_string(), &["cannot read", "nope/werf.yaml"]);
    }

    #[test]
    fn empty_documents_are_skipped_and_numbering_counts_them() {
        let f = Fixture::new();
        let c = f
            .parse(&format!(
                "{META}---\n---\n# just a comment\n---\nimage: a\n---\n"
            ))
            .unwrap();
        assert_eq!(c.images.len(), 1);
        // Document 4 is the bad one: meta, empty, comment-only, then this.
        let e = f.err(&format!("{META}---\n---\n# c\n---\nimage: a\nbogus: 1\n"));
        has(&e, &["document 4", "`bogus`", "unknown key", ":8:"]);
    }

    #[test]
    fn image_lists_define_several_images() {
        let f = Fixture::new();
        let c = f.parse(&format!("{META}---\nimage: [one, two]\n")).unwrap();
        let names: Vec<&str> = c.images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["one", "two"]);
    }

    #[test]
    fn meta_document_is_required_and_checked() {
        let f = Fixture::new();
        has(
            &f.err("image: app\n"),
            &["no meta document", "project: NAME"],
        );
        has(
            &f.err("project: x\n"),
            &["document 1", "configVersion", "missing"],
        );
        has(
            &f.err("project: x\nconfigVersion: 2\n"),
            &["`configVersion`", "must be 1", ":2:"],
        );
        has(&f.err("configVersion: 1\n"), &["`project`", "missing"]);
        has(
            &f.err("project: ''\nconfigVersion: 1\n"),
            &["`project`", "empty"],
        );
        has(
            &f.err(&format!("{META}---\n{META}")),
            &["document 2", "second meta document", "document 1"],
        );
        has(
            &f.err(&format!("{META}image: app\n")),
            &["`image`", "meta document", "after a `---`"],
        );
        has(
            &f.err(&format!("{META}build:\n  platform: [linux/arm64]\n")),
            &[
                "`build.platform`",
                "not supported by slipway (yet)",
                "--platform",
            ],
        );
        // Deploy and cleanup settings are accepted and ignored.
        f.parse(&format!(
            "{META}deploy:\n  helmRelease: x\ncleanup:\n  keepPolicies: []\n"
        ))
        .unwrap();
    }

    #[test]
    fn stapel_images_are_refused() {
        let f = Fixture::new();
        for key in [
            "from: alpine",
            "git:\n- add: /\n  to: /app",
            "shell:\n  install: [x]",
            "fromImage: a",
            "ansible: {}",
            "import: []",
            "mount: []",
            "docker: {}",
            "beforeInstall: []",
        ] {
            let e = f.err(&format!("{META}---\nimage: app\n{key}\n"));
            has(
                &e,
                &[
                    "document 2",
                    "Stapel images are not supported by slipway",
                    "dockerfile:",
                ],
            );
        }
        let e = f.err(&format!("{META}---\nartifact: build\nfrom: alpine\n"));
        has(&e, &["Stapel"]);
        // Even after Dockerfile keys, the Stapel key is what is reported.
        let e = f.err(&format!("{META}---\nimage: app\nfoo: 1\ngit: []\n"));
        has(&e, &["`git`", "Stapel"]);
    }

    #[test]
    fn unsupported_dockerfile_keys_say_what_to_do() {
        let f = Fixture::new();
        for (key, value, hint) in [
            ("contextAddFiles", "[a]", "remove"),
            ("addHost", "[a:1.2.3.4]", "remove"),
            ("network", "host", "remove"),
            ("ssh", "default", "remove"),
            ("secrets", "[]", "remove"),
            ("staged", "true", "caches"),
            ("platform", "[linux/amd64]", "--platform"),
            ("final", "false", "remove"),
            ("cacheVersion", "x", "build arg"),
            ("imageSpec", "{}", "Dockerfile"),
        ] {
            let e = f.err(&format!("{META}---\nimage: app\n{key}: {value}\n"));
            has(
                &e,
                &[
                    &format!("werf key `{key}` is not supported by slipway (yet)"),
                    hint,
                    "document 2",
                    ":5:",
                ],
            );
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_reported_with_their_place() {
        let f = Fixture::new();
        has(
            &f.err(&format!("{META}---\nimage: app\ndockerfil: x\n")),
            &["`dockerfil`", "unknown key", "dockerfile, context"],
        );
        has(
            &f.err(&format!("{META}---\nimage: app\nargs: [a]\n")),
            &["`args`", "mapping"],
        );
        has(
            &f.err(&format!("{META}---\nimage: app\nargs:\n  A: {{x: 1}}\n")),
            &["`args.A`", "a mapping"],
        );
        has(
            &f.err(&format!("{META}---\nimage: app\nargs:\n  A:\n")),
            &["`args.A`", "no value"],
        );
        has(
            &f.err(&format!("{META}---\nimage: app\ndockerfile: 3\n")),
            &["`dockerfile`", "expected a string"],
        );
        has(
            &f.err(&format!("{META}---\nimage: ''\n")),
            &["`image`", "must not be empty"],
        );
        has(
            &f.err(&format!("{META}---\nimage: ~\n")),
            &["`image`", "nameless"],
        );
        has(
            &f.err(&format!("{META}---\ndockerfile: Dockerfile\n")),
            &["`image`", "missing"],
        );
        has(
            &f.err(&format!("{META}---\n- a\n- b\n")),
            &["document 2", "mapping"],
        );
        has(
            &f.err(&format!("{META}---\nname: x\n")),
            &["document 2", "cannot tell"],
        );
    }

    #[test]
    fn dependencies_are_checked() {
        let f = Fixture::new();
        let two = |deps: &str| format!("{META}---\nimage: a\n---\nimage: b\ndependencies:\n{deps}");
        has(
            &f.err(&two("- image: c\n")),
            &[
                "`dependencies[0]`",
                "`c`",
                "does not define",
                "images: a, b",
                "document 3",
            ],
        );
        has(
            &f.err(&two(
                "- image: a\n  imports:\n  - type: ImageID\n    targetBuildArg: X\n",
            )),
            &[
                "`dependencies[0].imports[0].type`",
                "ImageID",
                "not supported",
            ],
        );
        has(
            &f.err(&two(
                "- image: a\n  imports:\n  - type: Nope\n    targetBuildArg: X\n",
            )),
            &["unknown import type `Nope`"],
        );
        has(
            &f.err(&two("- image: a\n  imports:\n  - type: ImageName\n")),
            &["targetBuildArg"],
        );
        has(
            &f.err(&two("- image: a\n  imports:\n  - targetBuildArg: X\n")),
            &["missing `type:`"],
        );
        has(
            &f.err(&two(
                "- image: a\n  imports:\n  - type: ImageName\n    targetEnv: X\n",
            )),
            &["targetEnv", "Stapel"],
        );
        has(
            &f.err(&two("- image: a\n  before: install\n")),
            &["`dependencies[0].before`", "Stapel"],
        );
        has(
            &f.err(&two("- imports: []\n")),
            &["`dependencies[0]`", "from: IMAGE"],
        );
        has(&f.err(&two("- a\n")), &["`dependencies[0]`", "mapping"]);
        has(
            &f.err(&two(
                "- image: a\n  imports:\n  - type: ImageName\n    targetBuildArg: X\n  - type: ImageTag\n    targetBuildArg: X\n",
            )),
            &["`X`", "unique"],
        );
        has(
            &f.err(&format!(
                "{META}---\nimage: a\n---\nimage: b\nargs:\n  X: 1\ndependencies:\n- from: a\n  imports:\n  - type: ImageName\n    targetBuildArg: X\n"
            )),
            &["`X`", "both in `args:`"],
        );
    }

    #[test]
    fn duplicates_and_cycles_are_refused() {
        let f = Fixture::new();
        has(
            &f.err(&format!("{META}---\nimage: a\n---\nimage: a\n")),
            &["document 3", "`a` is already defined in document 2"],
        );
        has(
            &f.err(&format!("{META}---\nimage: a\ndependencies:\n- from: a\n")),
            &["dependency cycle", "a -> a"],
        );
        has(
            &f.err(&format!(
                "{META}---\nimage: a\ndependencies:\n- from: c\n---\nimage: b\ndependencies:\n- from: a\n---\nimage: c\ndependencies:\n- from: b\n"
            )),
            &["dependency cycle", "a -> c -> b -> a"],
        );
    }

    #[test]
    fn images_in_order_puts_dependencies_first() {
        let f = Fixture::new();
        let c = f
            .parse(&format!(
                "{META}---\nimage: app\ndependencies:\n- from: lib\n- from: base\n---\nimage: tool\n---\nimage: lib\ndependencies:\n- from: base\n---\nimage: base\n"
            ))
            .unwrap();
        let order: Vec<&str> = c
            .images_in_order()
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(order, ["base", "lib", "app", "tool"]);
        assert_eq!(c.image("lib").unwrap().dependencies[0].image, "base");
        assert!(c.image("nope").is_none());
    }

    #[test]
    fn templating_is_refused_with_its_line() {
        let f = Fixture::new();
        let e = f
            .parse(&format!(
                "{META}---\nimage: app\nargs:\n  V: {{{{ env \"V\" }}}}\n"
            ))
            .unwrap_err();
        assert!(
            matches!(e, ConfigError::Templating { line: 6, .. }),
            "{e:?}"
        );
        has(
            &e.to_string(),
            &["werf.yaml:6:", "templating ({{ ... }}) is not supported"],
        );
    }

    #[test]
    fn yaml_syntax_errors_name_file_document_and_line() {
        let f = Fixture::new();
        let e = f.err(&format!("{META}---\nimage: app\nargs:\n  A: [1, 2\nb: c\n"));
        has(
            &e,
            &[
                "werf.yaml:7:2: document 2: invalid YAML",
                "illegal placement",
            ],
        );
        let e = f.err(&format!("{META}---\nimage: app\nimage: again\n"));
        has(&e, &["werf.yaml:5:1: document 2", "duplicate"]);
    }

    #[test]
    fn contexts_and_dockerfiles_must_exist_inside_the_folder() {
        let f = Fixture::new();
        f.dir("ctx").file("plain.txt", "x");
        has(
            &f.err(&format!("{META}---\nimage: a\ncontext: ../elsewhere\n")),
            &["`context`", "leaves its folder"],
        );
        has(
            &f.err(&format!("{META}---\nimage: a\ncontext: /abs\n")),
            &["`context`", "absolute"],
        );
        has(
            &f.err(&format!("{META}---\nimage: a\ncontext: nope\n")),
            &["`context`", "does not exist", "nope"],
        );
        has(
            &f.err(&format!("{META}---\nimage: a\ncontext: plain.txt\n")),
            &["`context`", "not a directory"],
        );
        // `dockerfile` is relative to the context, as in werf.
        let e = f.err(&format!("{META}---\nimage: a\ncontext: ctx\n"));
        has(&e, &["`dockerfile`", "ctx/Dockerfile", "does not exist"]);
        let e = f.err(&format!(
            "{META}---\nimage: a\ncontext: ctx\ndockerfile: ../Dockerfile\n"
        ));
        has(&e, &["`dockerfile`", "relative to the context"]);
        has(
            &f.err(&format!("{META}---\nimage: a\ndockerfile: ctx\n")),
            &["not a file"],
        );
        // Inner `..` that stays inside is fine, and `.` is the folder itself.
        let c = f
            .parse(&format!("{META}---\nimage: a\ncontext: ctx/../.\n"))
            .unwrap();
        assert_eq!(c.images[0].context, f.tmp.path());
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().unwrap();
            std::os::unix::fs::symlink(outside.path(), f.tmp.path().join("link")).unwrap();
            has(
                &f.err(&format!("{META}---\nimage: a\ncontext: link\n")),
                &["symlink", "outside"],
            );
        }
    }

    #[test]
    fn separators_follow_werf() {
        let docs = split_documents("a: 1\n--- # c\nb: 2\n---x\n---\r\nc: 3\n");
        let texts: Vec<(usize, u64, &str)> = docs
            .iter()
            .map(|d| (d.number, d.first_line, d.text))
            .collect();
        assert_eq!(
            texts,
            [(1, 1, "a: 1\n"), (2, 3, "b: 2\n---x\n"), (3, 6, "c: 3\n")]
        );
        let docs = split_documents("# hi\n\n---\na: 1\n");
        assert_eq!(docs.len(), 1);
        assert_eq!((docs[0].number, docs[0].first_line), (1, 4));
    }
}
