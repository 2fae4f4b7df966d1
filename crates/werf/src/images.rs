//! Checking each document: the meta document, and every Dockerfile image with its keys,
//! dependencies and imports.

use serde_saphyr::{Location, Spanned};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use crate::documents::*;
use crate::*;

pub(crate) struct Cx<'a> {
    pub(crate) path: &'a Path,
}

pub(crate) struct Doc<'a> {
    pub(crate) number: usize,
    pub(crate) offset: u64,
    pub(crate) text: &'a str,
}

impl Doc<'_> {
    pub(crate) fn line(&self, loc: &Location) -> u64 {
        loc.line().max(1) + self.offset
    }
}

/// What the meta document says.
pub(crate) struct Meta {
    pub(crate) project: String,
    pub(crate) deploy: crate::deploy::Deploy,
    /// `build.cacheVersion`, when set and not empty.
    pub(crate) cache_version: Option<String>,
    /// `build.platform`: the platforms of every image that lists none of its own.
    pub(crate) platforms: Vec<String>,
    /// Settings read but not used, to be announced.
    pub(crate) notes: Vec<String>,
    /// `build.imageSpec`, for the final images.
    pub(crate) image_spec: Option<crate::image_spec::RawImageSpec>,
    /// `build.staged`, with its line: the default of every image that sets no `staged:`.
    pub(crate) staged: Option<(bool, u64)>,
}

pub(crate) struct RawImage {
    pub(crate) doc: usize,
    pub(crate) line: u64,
    pub(crate) names: Vec<String>,
    pub(crate) dockerfile: Option<(String, u64)>,
    pub(crate) context: Option<(String, u64)>,
    pub(crate) target: Option<String>,
    pub(crate) args: BTreeMap<String, String>,
    pub(crate) deps: Vec<RawDep>,
    /// `cacheVersion:`, when set and not empty.
    pub(crate) cache_version: Option<String>,
    /// `platform:`, each checked; empty when not set.
    pub(crate) platforms: Vec<String>,
    pub(crate) add_hosts: Vec<String>,
    pub(crate) network: Option<String>,
    /// `contextAddFiles:` or `contextAddFile:`: each path with its line, and the key used.
    pub(crate) context_add_files: Vec<(String, u64)>,
    pub(crate) context_add_key: &'static str,
    /// `secrets:`, checked; `src:` paths may still be relative to the werf.yaml folder.
    pub(crate) secrets: Vec<Secret>,
    /// `ssh:`; a socket path may still be relative to the werf.yaml folder.
    pub(crate) ssh: Option<SshAgent>,
    /// `final:` (true unless `final: false`).
    pub(crate) is_final: bool,
    /// `imageSpec:`, as read.
    pub(crate) image_spec: Option<crate::image_spec::RawImageSpec>,
    /// `staged:`, with its line; `None` when not set (or null).
    pub(crate) staged: Option<(bool, u64)>,
}

pub(crate) struct RawDep {
    pub(crate) image: String,
    pub(crate) line: u64,
    pub(crate) key: String,
    pub(crate) imports: Vec<Import>,
}

impl Cx<'_> {
    /// Reports that the value of `key` is of the wrong kind: `expected` says what it should
    /// be (`a string`, `a list`), and the message names what it is.
    pub(crate) fn expected(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
        expected: &str,
    ) -> ConfigError {
        self.at(
            doc,
            &v.referenced,
            key,
            format!("expected {expected}, found {}", v.value.what()),
        )
    }

    pub(crate) fn at(
        &self,
        doc: &Doc<'_>,
        loc: &Location,
        key: &str,
        message: String,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            document: doc.number,
            line: doc.line(loc),
            key: key.to_string(),
            message,
        }
    }

    pub(crate) fn file(&self, message: String) -> ConfigError {
        ConfigError::File {
            path: self.path.to_path_buf(),
            message,
        }
    }

    pub(crate) fn yaml(&self, doc: &Doc<'_>, e: &serde_saphyr::Error) -> ConfigError {
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

    pub(crate) fn string(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
        allow_empty: bool,
    ) -> Result<String, ConfigError> {
        match &v.value {
            Node::Str(s) if allow_empty || !s.is_empty() => Ok(s.clone()),
            Node::Str(_) => Err(self.at(doc, &v.referenced, key, "must not be empty".into())),
            _ => Err(self.expected(doc, key, v, "a string")),
        }
    }

    /// A scalar werf reads into a Go string (`deploy.appVersion`, `imageSpec.author`...):
    /// numbers and booleans as written; null or empty sets nothing.
    pub(crate) fn optional_string(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
    ) -> Result<Option<String>, ConfigError> {
        match &v.value {
            Node::Null => Ok(None),
            _ => Ok(Some(self.scalar_text(doc, key, v)?).filter(|s| !s.is_empty())),
        }
    }

    /// Returns the text of a scalar: strings as they are, numbers and booleans as written.
    pub(crate) fn scalar_text(
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
            _ => {
                return Err(self.expected(doc, key, v, "a string"));
            }
        })
    }

    pub(crate) fn stapel(&self, doc: &Doc<'_>, key: &Spanned<String>) -> ConfigError {
        self.at(
            doc,
            &key.referenced,
            &key.value,
            "Stapel images are not supported by slipway; write a Dockerfile and use `dockerfile:`"
                .into(),
        )
    }

    pub(crate) fn meta(
        &self,
        doc: &Doc<'_>,
        loc: &Location,
        entries: &[(Spanned<String>, Spanned<Node>)],
    ) -> Result<Meta, ConfigError> {
        let mut project = None;
        let mut version = false;
        let mut deploy = crate::deploy::Deploy::default();
        let mut cache_version = None;
        let mut platforms = Vec::new();
        let mut image_spec = None;
        let mut staged = None;
        let mut notes = Vec::new();
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
                "deploy" => deploy = self.deploy(doc, v)?,
                // Read and checked, but there is no cleanup command (yet) to use them: say so.
                "cleanup" | "gitWorktree" => {
                    if !matches!(v.value, Node::Map(_) | Node::Null) {
                        return Err(self.expected(doc, &k.value, v, "a mapping"));
                    }
                    if matches!(&v.value, Node::Map(m) if !m.is_empty()) {
                        let what = if k.value == "cleanup" {
                            "slipway has no cleanup command yet, so `cleanup` policies are not applied"
                        } else {
                            "slipway reads the build context from the working tree, so `gitWorktree` settings are not used"
                        };
                        notes.push(format!(
                            "{}:{}: {what}",
                            self.path.display(),
                            doc.line(&k.referenced)
                        ));
                    }
                }
                "build" => {
                    if let Node::Map(sub) = &v.value {
                        for (sk, sv) in sub {
                            let key = format!("build.{}", sk.value);
                            if sk.value == "cacheVersion" {
                                cache_version = self.cache_version(doc, &key, sv)?;
                                continue;
                            }
                            if sk.value == "platform" {
                                platforms = self.platforms(doc, &key, sv)?;
                                continue;
                            }
                            if sk.value == "imageSpec" {
                                image_spec = self.image_spec(doc, &key, sv, true)?;
                                continue;
                            }
                            if sk.value == "staged" {
                                staged = self.staged(doc, &key, sk, sv)?;
                                continue;
                            }
                            return Err(self.at(
                                doc,
                                &sk.referenced,
                                &key,
                                format!(
                                    "werf key `{key}` is not supported by slipway (yet); remove it"
                                ),
                            ));
                        }
                    } else if !matches!(v.value, Node::Null) {
                        return Err(self.expected(doc, "build", v, "a mapping"));
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
        let project = project.ok_or_else(|| {
            self.at(
                doc,
                loc,
                "project",
                "missing: the meta document needs `project: NAME`".into(),
            )
        })?;
        Ok(Meta {
            project,
            deploy,
            cache_version,
            platforms,
            notes,
            image_spec,
            staged,
        })
    }

    /// Reads a `staged` (the image's or `build.staged`): true or false, with the line of
    /// its key; null is not set.
    fn staged(
        &self,
        doc: &Doc<'_>,
        key: &str,
        k: &Spanned<String>,
        v: &Spanned<Node>,
    ) -> Result<Option<(bool, u64)>, ConfigError> {
        match v.value {
            Node::Bool(b) => Ok(Some((b, doc.line(&k.referenced)))),
            Node::Null => Ok(None),
            _ => Err(self.expected(doc, key, v, "true or false")),
        }
    }

    /// Reads a `cacheVersion` (the image's or `build.cacheVersion`): a string, with numbers
    /// kept as written; empty or null is no cache version, as in werf.
    fn cache_version(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
    ) -> Result<Option<String>, ConfigError> {
        if matches!(v.value, Node::Null) {
            return Ok(None);
        }
        let s = self.scalar_text(doc, key, v)?;
        Ok((!s.is_empty()).then_some(s))
    }

    /// Reads a `platform` list (the image's or `build.platform`): platforms as
    /// `os/arch[/variant]` (`linux/amd64`, `linux/arm/v7`), each once. Null or `[]` is no
    /// list; a single string is refused, as werf refuses it (its type is a list).
    fn platforms(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
    ) -> Result<Vec<String>, ConfigError> {
        let items = match &v.value {
            Node::Null => return Ok(vec![]),
            Node::Seq(items) => items,
            Node::Str(s) => {
                return Err(self.at(
                    doc,
                    &v.referenced,
                    key,
                    format!("expected a list of platforms, found a string; write `[{s}]`"),
                ));
            }
            _ => {
                return Err(self.expected(
                    doc,
                    key,
                    v,
                    "a list of platforms (e.g. [linux/amd64, linux/arm64])",
                ));
            }
        };
        let mut out: Vec<String> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_key = format!("{key}[{i}]");
            let text = self.string(doc, &item_key, item, false)?;
            if let Err(why) = check_platform(&text) {
                return Err(self.at(
                    doc,
                    &item.referenced,
                    &item_key,
                    format!(
                        "`{text}` is not a platform: {why}; write os/arch[/variant], e.g. \
                         linux/amd64 or linux/arm/v7"
                    ),
                ));
            }
            if out.contains(&text) {
                return Err(self.at(
                    doc,
                    &item.referenced,
                    &item_key,
                    format!("`{text}` is listed twice; list each platform once"),
                ));
            }
            out.push(text);
        }
        Ok(out)
    }

    /// Reads a value werf takes as a string or a list of strings (`addHost`,
    /// `contextAddFiles`): each string with its line. Null is an empty list.
    fn strings(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
    ) -> Result<Vec<(String, u64)>, ConfigError> {
        let one = |key: &str, item: &Spanned<Node>| match &item.value {
            Node::Str(s) if !s.is_empty() => Ok((s.clone(), doc.line(&item.referenced))),
            Node::Str(_) => Err(self.at(doc, &item.referenced, key, "must not be empty".into())),
            _ => Err(self.expected(doc, key, item, "a string")),
        };
        match &v.value {
            Node::Null => Ok(vec![]),
            Node::Str(_) => Ok(vec![one(key, v)?]),
            Node::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| one(&format!("{key}[{i}]"), item))
                .collect(),
            _ => Err(self.expected(doc, key, v, "a string or a list of strings")),
        }
    }

    /// Reads `addHost`: `host:ip` entries as buildah's `--add-host` takes them (split at
    /// the first colon; a non-empty name, then an IPv4 or IPv6 address).
    fn add_hosts(&self, doc: &Doc<'_>, v: &Spanned<Node>) -> Result<Vec<String>, ConfigError> {
        let items = self.strings(doc, "addHost", v)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, (entry, line)) in items.into_iter().enumerate() {
            let ok = entry.split_once(':').is_some_and(|(host, ip)| {
                !host.is_empty()
                    && !host.contains(char::is_whitespace)
                    && ip.parse::<std::net::IpAddr>().is_ok()
            });
            if !ok {
                let key = if matches!(v.value, Node::Seq(_)) {
                    format!("addHost[{i}]")
                } else {
                    "addHost".to_string()
                };
                return Err(self.invalid(
                    doc.number,
                    line,
                    &key,
                    format!(
                        "`{entry}` is not `host:ip`: write a host name, a colon, then an IPv4 or \
                         IPv6 address (e.g. `registry.internal:10.0.0.5`)"
                    ),
                ));
            }
            out.push(entry);
        }
        Ok(out)
    }

    /// Reads the meta document's `deploy:` section, with werf's rules: known keys only,
    /// and no empty names.
    fn deploy(
        &self,
        doc: &Doc<'_>,
        v: &Spanned<Node>,
    ) -> Result<crate::deploy::Deploy, ConfigError> {
        let mut d = crate::deploy::Deploy::default();
        // Each appVersion given, with its key and line: at most one is allowed.
        let mut app_version: Vec<(Option<String>, String, &Spanned<String>)> = vec![];
        let entries = match &v.value {
            Node::Map(m) => m,
            Node::Null => return Ok(d),
            _ => return Err(self.expected(doc, "deploy", v, "a mapping")),
        };
        for (k, val) in entries {
            let key = format!("deploy.{}", k.value);
            let boolean = |val: &Spanned<Node>| match val.value {
                Node::Bool(b) => Ok(b),
                _ => Err(self.expected(doc, &key, val, "true or false")),
            };
            match k.value.as_str() {
                "helmChartDir" => d.helm_chart_dir = Some(self.string(doc, &key, val, false)?),
                "helmRelease" => d.helm_release = Some(self.string(doc, &key, val, false)?),
                "namespace" => d.namespace = Some(self.string(doc, &key, val, false)?),
                "helmReleaseSlug" => d.helm_release_slug = Some(boolean(val)?),
                "namespaceSlug" => d.namespace_slug = Some(boolean(val)?),
                "appVersion" => {
                    app_version.push((self.optional_string(doc, &key, val)?, key.clone(), k));
                }
                "helmChartConfig" => {
                    let sub = match &val.value {
                        Node::Map(m) => m.as_slice(),
                        Node::Null => &[],
                        _ => return Err(self.expected(doc, &key, val, "a mapping")),
                    };
                    for (sk, sv) in sub {
                        let key = format!("{key}.{}", sk.value);
                        if sk.value != "appVersion" {
                            return Err(self.at(
                                doc,
                                &sk.referenced,
                                &key,
                                format!(
                                    "unknown key `{}`; deploy.helmChartConfig may have: appVersion",
                                    sk.value
                                ),
                            ));
                        }
                        app_version.push((self.optional_string(doc, &key, sv)?, key, sk));
                    }
                }
                other => {
                    return Err(self.at(
                        doc,
                        &k.referenced,
                        &key,
                        format!(
                            "unknown key `{other}`; deploy may have: helmChartDir, helmRelease, helmReleaseSlug, namespace, namespaceSlug, helmChartConfig (appVersion)"
                        ),
                    ));
                }
            }
        }
        // The older spelling and the current one set the same thing: one of them, once.
        if let [(_, first_key, first), (_, key, second), ..] = app_version.as_slice() {
            return Err(self.at(
                doc,
                &second.referenced,
                key,
                format!(
                    "the chart's appVersion is already set by `{first_key}` at line {}; keep \
                     one of them",
                    doc.line(&first.referenced)
                ),
            ));
        }
        d.app_version = app_version.pop().and_then(|(v, _, _)| v);
        Ok(d)
    }

    pub(crate) fn image(
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
            cache_version: None,
            platforms: vec![],
            add_hosts: vec![],
            network: None,
            context_add_files: vec![],
            context_add_key: "contextAddFiles",
            secrets: vec![],
            ssh: None,
            is_final: true,
            image_spec: None,
            staged: None,
        };
        let mut named = false;
        let mut add_key: Option<&Spanned<String>> = None;
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
                "cacheVersion" => raw.cache_version = self.cache_version(doc, key, v)?,
                "platform" => raw.platforms = self.platforms(doc, key, v)?,
                "addHost" => raw.add_hosts = self.add_hosts(doc, v)?,
                "network" => {
                    if !matches!(v.value, Node::Null) {
                        let s = self.string(doc, key, v, true)?;
                        raw.network = (!s.is_empty()).then_some(s);
                    }
                }
                "secrets" => raw.secrets = self.secrets(doc, v)?,
                "final" => {
                    raw.is_final = match v.value {
                        Node::Bool(b) => b,
                        Node::Null => true,
                        _ => return Err(self.expected(doc, key, v, "true or false")),
                    }
                }
                "imageSpec" => raw.image_spec = self.image_spec(doc, key, v, false)?,
                "staged" => raw.staged = self.staged(doc, key, k, v)?,
                "ssh" => raw.ssh = self.ssh(doc, v)?,
                "contextAddFile" | "contextAddFiles" => {
                    // werf takes either key, never both.
                    if let Some(other) = add_key {
                        return Err(self.at(
                            doc,
                            &k.referenced,
                            key,
                            format!(
                                "`{}` is already given; use one of contextAddFiles and \
                                 contextAddFile, not both (move every path into contextAddFiles)",
                                other.value
                            ),
                        ));
                    }
                    add_key = Some(k);
                    raw.context_add_key = if key == "contextAddFile" {
                        "contextAddFile"
                    } else {
                        "contextAddFiles"
                    };
                    raw.context_add_files = self.strings(doc, key, v)?;
                }
                _ => {
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

    pub(crate) fn image_names(
        &self,
        doc: &Doc<'_>,
        v: &Spanned<Node>,
    ) -> Result<Vec<String>, ConfigError> {
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
                _ => Err(self.expected(doc, "image", v, "an image name")),
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

    /// Reads `secrets:` with werf's rules: each item has exactly one of `env`, `src` and
    /// `value` (an empty one counts as absent); `id` defaults to the variable's name or the
    /// file's name, and is required with `value`; ids are unique. A value is never put in
    /// a message.
    fn secrets(&self, doc: &Doc<'_>, v: &Spanned<Node>) -> Result<Vec<Secret>, ConfigError> {
        let items = self.list(doc, "secrets", v)?;
        let mut out: Vec<Secret> = vec![];
        let mut first: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let key = format!("secrets[{i}]");
            let fail = |message: String| self.at(doc, &item.referenced, &key, message);
            let Node::Map(entries) = &item.value else {
                return Err(fail(format!(
                    "expected a mapping like `env: NAME`, `src: PATH` or `id: ID` with \
                     `value: TEXT`, found {}",
                    item.value.what()
                )));
            };
            let (mut id, mut env, mut src, mut value) = (None, None, None, None);
            for (k, val) in entries {
                let sub = format!("{key}.{}", k.value);
                let text = |val: &Spanned<Node>| -> Result<Option<String>, ConfigError> {
                    match &val.value {
                        Node::Null => Ok(None),
                        _ => Ok(Some(self.string(doc, &sub, val, true)?).filter(|s| !s.is_empty())),
                    }
                };
                match k.value.as_str() {
                    "id" => id = text(val)?,
                    "env" => env = text(val)?,
                    "src" => src = text(val)?,
                    // Numbers and booleans as written, as for `args`; never echoed back.
                    "value" => {
                        value = match &val.value {
                            Node::Null => None,
                            _ => Some(self.scalar_text(doc, &sub, val)?).filter(|s| !s.is_empty()),
                        }
                    }
                    other => {
                        return Err(self.at(
                            doc,
                            &k.referenced,
                            &sub,
                            format!(
                                "unknown key `{other}` in a secret; it may have: id, and one of \
                                 env, src, value"
                            ),
                        ));
                    }
                }
            }
            let source = match (env, src, value) {
                (Some(name), None, None) => SecretSource::Env(name),
                (None, Some(path), None) => {
                    SecretSource::File(self.expand_home(&path).map_err(&fail)?)
                }
                (None, None, Some(text)) => SecretSource::Value(SecretValue::new(text)),
                (None, None, None) => {
                    return Err(fail(
                        "needs one of `env: VARIABLE`, `src: PATH` or `value: TEXT` (with `id:`)"
                            .into(),
                    ));
                }
                _ => {
                    return Err(fail(
                        "give only one of `env`, `src` and `value`; write another item for \
                         another secret"
                            .into(),
                    ));
                }
            };
            let id = match (id, &source) {
                (Some(id), _) => id,
                (None, SecretSource::Env(name)) => name.clone(),
                (None, SecretSource::File(path)) => path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| {
                        fail(format!(
                            "`src: {}` names no file, so there is no id to take from it; \
                             add `id:`",
                            path.display()
                        ))
                    })?,
                (None, SecretSource::Value(_)) => {
                    return Err(fail(
                        "a `value:` secret needs an `id:`, the id `RUN --mount=type=secret,id=ID` \
                         names"
                            .into(),
                    ));
                }
            };
            // buildah reads `--secret id=ID,src=PATH`: a comma would split it.
            if id.contains(',') {
                return Err(fail(format!(
                    "secret id `{id}` holds a comma, which buildah's `--secret id=ID,src=PATH` \
                     cannot carry; choose another id"
                )));
            }
            if let SecretSource::File(path) = &source
                && path.to_string_lossy().contains(',')
            {
                return Err(fail(format!(
                    "`src: {}` holds a comma, which buildah's `--secret id=ID,src=PATH` cannot \
                     carry; move or link the file to a path without one",
                    path.display()
                )));
            }
            if let Some(j) = first.insert(id.clone(), i) {
                return Err(fail(format!(
                    "secret id `{id}` is already used by secrets[{j}]; each secret needs its own \
                     id (set `id:`)"
                )));
            }
            out.push(Secret { id, source });
        }
        Ok(out)
    }

    /// Reads `ssh:` as werf passes it on (Docker's `--ssh` syntax, one agent): `default`
    /// or another id alone for `$SSH_AUTH_SOCK`, `ID=SOCKET`, or a socket path alone (with
    /// a `/`) for the id `default`. Empty or null is no agent.
    fn ssh(&self, doc: &Doc<'_>, v: &Spanned<Node>) -> Result<Option<SshAgent>, ConfigError> {
        if matches!(v.value, Node::Null) {
            return Ok(None);
        }
        let written = self.string(doc, "ssh", v, true)?;
        let fail = |message: String| self.at(doc, &v.referenced, "ssh", message);
        let text = written.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if text.contains(',') {
            return Err(fail(format!(
                "`{text}` lists several keys or sockets; slipway forwards one SSH agent: give \
                 its socket (`default` for $SSH_AUTH_SOCK), with keys loaded into it by `ssh-add`"
            )));
        }
        let (id, socket) = match text.split_once('=') {
            Some((id, path)) => (id.trim(), Some(path.trim())),
            None if text.contains('/') => ("default", Some(text)),
            None => (text, None),
        };
        if id.is_empty() || socket.is_some_and(str::is_empty) {
            return Err(fail(format!(
                "`{text}` is not `default`, `ID=SOCKET` or a socket path"
            )));
        }
        let socket = socket
            .map(|p| self.expand_home(p))
            .transpose()
            .map_err(fail)?;
        Ok(Some(SshAgent {
            id: id.to_string(),
            socket,
            written: text.to_string(),
        }))
    }

    /// Expands a leading `~/` (or a lone `~`) to `$HOME`, as werf does for `src:`.
    fn expand_home(&self, path: &str) -> Result<PathBuf, String> {
        let Some(rest) = path.strip_prefix('~') else {
            return Ok(PathBuf::from(path));
        };
        if !(rest.is_empty() || rest.starts_with('/')) {
            return Err(format!(
                "`{path}`: only `~/` (the home folder of the user running slipway) is expanded, \
                 not another user's; write the full path"
            ));
        }
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("`{path}` starts with `~`, and HOME is not set"))?;
        Ok(PathBuf::from(home).join(rest.trim_start_matches('/')))
    }

    /// The items of a list value; an absent value (null) is an empty list.
    fn list<'n>(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &'n Spanned<Node>,
    ) -> Result<&'n [Spanned<Node>], ConfigError> {
        match &v.value {
            Node::Null => Ok(&[]),
            Node::Seq(items) => Ok(items),
            _ => Err(self.expected(doc, key, v, "a list")),
        }
    }

    pub(crate) fn dependencies(
        &self,
        doc: &Doc<'_>,
        v: &Spanned<Node>,
    ) -> Result<Vec<RawDep>, ConfigError> {
        let items = self.list(doc, "dependencies", v)?;
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

    pub(crate) fn imports(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
    ) -> Result<Vec<Import>, ConfigError> {
        let items = self.list(doc, key, v)?;
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
                            "ImageID" => ImportKind::ImageID,
                            other => {
                                return Err(self.at(
                                    doc,
                                    &v.referenced,
                                    &sub,
                                    format!(
                                        "unknown import type `{other}`; expected one of: ImageName, ImageTag, ImageRepo, ImageDigest, ImageID"
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
                            "werf refuses `targetEnv:` in a Dockerfile image (\"targetEnv \
                             directive cannot be used for a Dockerfile image\"): it is for Stapel \
                             images. To put the value in the image's environment, import it into \
                             a build arg and set it with ENV: `targetBuildArg: NAME` here, and \
                             `ARG NAME` then `ENV NAME=$NAME` in the Dockerfile"
                                .into(),
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
                    "missing `type:` (ImageName, ImageTag, ImageRepo, ImageDigest or ImageID)"
                        .into(),
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

    pub(crate) fn invalid(
        &self,
        document: usize,
        line: u64,
        key: &str,
        message: String,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            document,
            line,
            key: key.to_string(),
            message,
        }
    }

    /// Checks names, dependencies and paths across documents, and resolves the paths.
    pub(crate) fn check_images(
        &self,
        raws: &[RawImage],
        dir: &Path,
    ) -> Result<Vec<ImageSpec>, ConfigError> {
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
            let canonical_context = match context.canonicalize() {
                Ok(c) if c.starts_with(&canonical_dir) => c,
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
            };
            let context_add_files = self.context_add_files(raw, &context, &canonical_context)?;
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
                    cache_version: raw.cache_version.clone(),
                    platforms: raw.platforms.clone(),
                    add_hosts: raw.add_hosts.clone(),
                    network: raw.network.clone(),
                    context_add_files: context_add_files.clone(),
                    is_final: raw.is_final,
                    image_spec: None,
                    // Set from build.staged by the caller when the image has none.
                    staged: raw.staged.is_some_and(|(b, _)| b),
                    secrets: raw
                        .secrets
                        .iter()
                        .map(|s| Secret {
                            id: s.id.clone(),
                            source: match &s.source {
                                SecretSource::File(p) => SecretSource::File(dir.join(p)),
                                other => other.clone(),
                            },
                        })
                        .collect(),
                    ssh: raw.ssh.as_ref().map(|a| SshAgent {
                        socket: a.socket.as_ref().map(|p| dir.join(p)),
                        ..a.clone()
                    }),
                });
            }
        }
        Ok(images)
    }

    /// Checks the paths `contextAddFiles` names: each relative to the context, inside it
    /// (also through symbolic links to folders on the way), and there. Returns them cleaned.
    fn context_add_files(
        &self,
        raw: &RawImage,
        context: &Path,
        canonical_context: &Path,
    ) -> Result<Vec<PathBuf>, ConfigError> {
        let many = raw.context_add_files.len() > 1;
        let mut out: Vec<PathBuf> = vec![];
        for (i, (text, line)) in raw.context_add_files.iter().enumerate() {
            let key = if many {
                format!("{}[{i}]", raw.context_add_key)
            } else {
                raw.context_add_key.to_string()
            };
            let fail = |message: String| self.invalid(raw.doc, *line, &key, message);
            let rel = relative_inside(text).map_err(|why| {
                fail(format!(
                    "`{text}` {why}; each path must be relative to the context {} and stay \
                     inside it",
                    context.display()
                ))
            })?;
            if rel.as_os_str().is_empty() {
                // The context itself: every file is in it already.
                continue;
            }
            let full = context.join(&rel);
            if let Err(e) = std::fs::symlink_metadata(&full) {
                return Err(fail(if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "{} does not exist (paths are relative to the context {})",
                        full.display(),
                        context.display()
                    )
                } else {
                    format!("cannot read {}: {e}", full.display())
                }));
            }
            // The last part may itself be a symbolic link (it is taken as one); the folders
            // leading to it must not leave the context.
            let parent = full.parent().unwrap_or(context);
            match parent.canonicalize() {
                Ok(p) if p.starts_with(canonical_context) => {}
                Ok(p) => {
                    return Err(fail(format!(
                        "{} leads (through a symlink) to {}, outside the context {}",
                        full.display(),
                        p.join(full.file_name().unwrap_or_default()).display(),
                        context.display()
                    )));
                }
                Err(e) => return Err(fail(format!("cannot open {}: {e}", parent.display()))),
            }
            if !out.contains(&rel) {
                out.push(rel);
            }
        }
        Ok(out)
    }

    pub(crate) fn check_cycles(&self, raws: &[RawImage]) -> Result<(), ConfigError> {
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

pub(crate) fn find_cycle<'a>(
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
pub(crate) fn relative_inside(text: &str) -> Result<PathBuf, &'static str> {
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

pub(crate) fn join_clean(base: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(rel)
    }
}

/// Checks the form of a platform: `os/arch[/variant]`, each part made of letters, digits,
/// `.`, `_` and `-`.
pub(crate) fn check_platform(text: &str) -> Result<(), String> {
    let parts: Vec<&str> = text.split('/').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err("it has neither two nor three `/`-separated parts".into());
    }
    if parts.iter().any(|p| p.is_empty()) {
        return Err("it has an empty part".into());
    }
    if let Some(c) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-')))
    {
        return Err(format!(
            "`{c}` is not part of a platform (letters, digits, `.`, `_` and `-`)"
        ));
    }
    Ok(())
}
