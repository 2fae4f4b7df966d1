//! werf's `imageSpec` (an image document's) and `build.imageSpec` (the meta document's):
//! edits werf makes to the config of an image once its Dockerfile is built.
//!
//! The keys and their meaning are werf's (`pkg/config/raw_image_spec.go`,
//! `pkg/build/stage/image_spec.go`): everything under `config:` is read as werf's YAML
//! reader does (`healthcheck` keys are lower case, durations whole seconds), `removeLabels`
//! and `removeEnv` take names or `/REGEXP/` (anchored, as werf anchors them), and label keys
//! and values may hold werf's `%image%` and `%project%`. The meta document's settings apply
//! to final images only, merged as werf merges them. What slipway cannot reproduce exactly
//! is refused with the key and its line.

use std::collections::BTreeMap;
use std::fmt;

use serde_saphyr::Spanned;

use crate::ConfigError;
use crate::documents::Node;
use crate::images::{Cx, Doc};

/// A name in `removeLabels` or `removeEnv`: the name itself, or `/REGEXP/`, which werf
/// matches against the whole name (`^REGEXP$`, with Go's regexp syntax).
#[derive(Clone)]
pub struct NamePattern {
    text: String,
    regex: Option<regex::Regex>,
}

impl NamePattern {
    /// Reads a pattern as werf does: `/.../` is a regular expression, anything else a name.
    ///
    /// # Errors
    /// A regular expression that does not compile, or that uses a form Go's regexp and
    /// Rust's read differently (`\d`, `\w`, `\s`, `\b` and their negations are ASCII in Go
    /// and Unicode in Rust; `\<`, `\>` and class operations `&&`, `--`, `~~` mean something
    /// else), naming what to write instead.
    pub fn parse(text: &str) -> Result<NamePattern, String> {
        if !(text.len() >= 2 && text.starts_with('/') && text.ends_with('/')) {
            if text == "/" {
                return Err(
                    "`/` alone is neither a name nor a /REGEXP/ (werf fails on it)".to_string(),
                );
            }
            return Ok(NamePattern {
                text: text.to_string(),
                regex: None,
            });
        }
        let inner = &text[1..text.len() - 1];
        check_go_regex(inner)?;
        let regex = regex::Regex::new(&format!("^{inner}$"))
            .map_err(|e| format!("`{text}` is not a valid regular expression: {e}"))?;
        Ok(NamePattern {
            text: text.to_string(),
            regex: Some(regex),
        })
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Tells whether `name` matches: equal to the name, or matched whole by the expression.
    #[must_use]
    pub fn matches(&self, name: &str) -> bool {
        match &self.regex {
            Some(re) => re.is_match(name),
            None => self.text == name,
        }
    }
}

impl PartialEq for NamePattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for NamePattern {}

impl fmt::Debug for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

/// Refuses what Go's regexp (werf's) and Rust's `regex` read differently.
fn check_go_regex(inner: &str) -> Result<(), String> {
    let chars: Vec<char> = inner.chars().collect();
    let mut i = 0;
    let mut class: Option<usize> = None; // where the current `[...]` class started
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            if let Some(&n) = chars.get(i + 1) {
                if "dDwWsSbB".contains(n) {
                    return Err(format!(
                        "`\\{n}` is ASCII-only in werf (Go's regexp) and Unicode-aware in slipway; \
                         write the characters out instead (e.g. [0-9] for \\d, [0-9A-Za-z_] for \
                         \\w, [\\t\\n\\f\\r ] for \\s)"
                    ));
                }
                if n == '<' || n == '>' {
                    return Err(format!(
                        "`\\{n}` is a literal `{n}` in werf (Go's regexp) and a word boundary in \
                         slipway; write `{n}` without the backslash"
                    ));
                }
            }
            i += 2;
            continue;
        }
        match class {
            None => {
                if c == '[' {
                    class = Some(i);
                    // A `]` right after `[` or `[^` is a literal in both.
                    let mut j = i + 1;
                    if chars.get(j) == Some(&'^') {
                        j += 1;
                    }
                    if chars.get(j) == Some(&']') {
                        j += 1;
                    }
                    i = j;
                    continue;
                }
            }
            Some(_) => {
                if c == ']' {
                    class = None;
                } else if c == '[' {
                    if chars.get(i + 1) == Some(&':') {
                        // A POSIX class `[:alpha:]`: the same in both.
                        let rest: String = chars[i..].iter().collect();
                        if let Some(end) = rest.find(":]") {
                            i += rest[..end + 2].chars().count();
                            continue;
                        }
                    }
                    return Err(
                        "a `[` inside a character class is a literal in werf (Go's regexp) and \
                         starts a nested class in slipway; escape it as `\\[`"
                            .to_string(),
                    );
                } else if let Some(&n) = chars.get(i + 1)
                    && n == c
                    && "&-~".contains(c)
                {
                    return Err(format!(
                        "`{c}{c}` inside a character class is two literal characters in werf \
                         (Go's regexp) and a set operation in slipway; escape them (`\\{c}\\{c}`)"
                    ));
                }
            }
        }
        i += 1;
    }
    Ok(())
}

/// werf's `healthcheck` of `imageSpec.config`: the check and its timings, in whole seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Healthcheck {
    /// `test`: the command, as Docker's `Healthcheck.Test` holds it (`["CMD", ...]`,
    /// `["CMD-SHELL", "..."]` or `["NONE"]`).
    pub test: Vec<String>,
    /// `interval`, seconds (0: not set).
    pub interval: u64,
    /// `timeout`, seconds (0: not set).
    pub timeout: u64,
    /// `startperiod`, seconds (0: not set).
    pub start_period: u64,
    /// `retries` (0: not set).
    pub retries: u64,
}

/// The edits werf's `imageSpec` makes to an image's config, the meta document's
/// `build.imageSpec` merged in (for final images) and label templates rendered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageSpecEdit {
    /// `author`: the config's `author`.
    pub author: Option<String>,
    /// `clearHistory`: drops the build history.
    pub clear_history: bool,
    /// `config.keepEssentialWerfLabels`: only silences werf's warning when `removeLabels`
    /// names `werf`, `werf-stage-content-digest` or `werf.io/parent-stage-id`, which are kept
    /// anyway. slipway adds no werf labels, so nothing else depends on it.
    pub keep_essential_werf_labels: bool,
    /// `config.clearWerfLabels`: deprecated in werf, which no longer acts on it; slipway
    /// adds no werf labels, so there are none to clear.
    pub clear_werf_labels: bool,
    /// `config.labels`, with `%image%` and `%project%` rendered.
    pub labels: BTreeMap<String, String>,
    /// `config.removeLabels`.
    pub remove_labels: Vec<NamePattern>,
    /// `config.removeVolumes`: exact paths.
    pub remove_volumes: Vec<String>,
    /// `config.removeEnv`.
    pub remove_env: Vec<NamePattern>,
    /// `config.clearCmd`.
    pub clear_cmd: bool,
    /// `config.clearEntrypoint`.
    pub clear_entrypoint: bool,
    /// `config.clearUser`.
    pub clear_user: bool,
    /// `config.clearWorkingDir`.
    pub clear_working_dir: bool,
    /// `config.volumes`: added.
    pub volumes: Vec<String>,
    /// `config.env`: set, each value expanded (`${NAME}`) against the image's own
    /// environment, as werf expands it.
    pub env: BTreeMap<String, String>,
    /// `config.user`.
    pub user: Option<String>,
    /// `config.cmd` (`Some(vec![])` for `cmd: []`, which werf treats as given).
    pub cmd: Option<Vec<String>>,
    /// `config.entrypoint`; given without `cmd`, it clears `Cmd`, as Docker's ENTRYPOINT does.
    pub entrypoint: Option<Vec<String>>,
    /// `config.workingDir`.
    pub working_dir: Option<String>,
    /// `config.stopSignal`.
    pub stop_signal: Option<String>,
    /// `config.expose`: replaces every exposed port (written as given).
    pub expose: Option<Vec<String>>,
    /// `config.healthcheck`: replaces the healthcheck.
    pub healthcheck: Option<Healthcheck>,
}

impl ImageSpecEdit {
    /// Tells whether the edit leaves a config as it is: only `keepEssentialWerfLabels` or
    /// `clearWerfLabels` (or nothing) set.
    #[must_use]
    pub fn is_noop(&self) -> bool {
        let mut bare = self.clone();
        bare.keep_essential_werf_labels = false;
        bare.clear_werf_labels = false;
        bare == ImageSpecEdit::default()
    }
}

/// One piece of a label key or value: text, or werf's `%image%` / `%project%`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Image,
    Project,
}

/// A label as written: its key and value templates and its line.
#[derive(Clone, Debug)]
struct RawLabel {
    key: Vec<Piece>,
    value: Vec<Piece>,
    written: String,
    doc: usize,
    line: u64,
}

/// `imageSpec` (or `build.imageSpec`) as read, before the meta document's is merged in
/// and labels are rendered for an image.
#[derive(Clone, Debug, Default)]
pub(crate) struct RawImageSpec {
    edit: ImageSpecEdit,
    labels: Vec<(String, RawLabel)>,
}

/// Reads werf's label templates: werf renders each label key and value as a Go template
/// with `%` delimiters (in `html/template`), whose only functions are `image` and `project`.
fn label_template(text: &str) -> Result<Vec<Piece>, String> {
    let parts: Vec<&str> = text.split('%').collect();
    if parts.len().is_multiple_of(2) {
        return Err(format!(
            "`{text}` has a `%` that is not closed; werf reads `%...%` as a template \
             (`%image%`, `%project%`) and fails on a lone `%`"
        ));
    }
    let mut out = vec![];
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 0 {
            if !part.is_empty() {
                out.push(Piece::Text((*part).to_string()));
            }
            continue;
        }
        out.push(match part.trim_matches(' ') {
            // The functions, or the fields of the data werf passes.
            "image" | ".Image" => Piece::Image,
            "project" | ".Project" => Piece::Project,
            other => {
                return Err(format!(
                    "`%{other}%` in `{text}`: slipway renders only werf's `%image%` and \
                     `%project%` in labels"
                ));
            }
        });
    }
    let templated = out.iter().any(|p| !matches!(p, Piece::Text(_)));
    if templated && text.contains('<') {
        return Err(format!(
            "`{text}` mixes `<` with `%image%`/`%project%`: werf renders labels with Go's \
             html/template, whose escaping then depends on HTML context slipway does not \
             reproduce; drop the `<`"
        ));
    }
    Ok(out)
}

/// Renders a label template as werf's `html/template` does in HTML text: the image and
/// project names HTML-escaped.
fn render(pieces: &[Piece], project: &str, image: &str) -> String {
    fn escape(s: &str, out: &mut String) {
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&#34;"),
                '\'' => out.push_str("&#39;"),
                '+' => out.push_str("&#43;"),
                '\0' => out.push('\u{fffd}'),
                c => out.push(c),
            }
        }
    }
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Image => escape(image, &mut out),
            Piece::Project => escape(project, &mut out),
        }
    }
    out
}

/// The keys `imageSpec.config` may have.
const CONFIG_KEYS: &str = "labels, removeLabels, keepEssentialWerfLabels, clearWerfLabels, env, \
     removeEnv, volumes, removeVolumes, expose, user, clearUser, cmd, clearCmd, entrypoint, \
     clearEntrypoint, workingDir, clearWorkingDir, stopSignal, healthcheck";
/// The keys `build.imageSpec.config` may have.
const GLOBAL_CONFIG_KEYS: &str = "labels, removeLabels, keepEssentialWerfLabels, clearWerfLabels";

impl Cx<'_> {
    fn spec_bool(&self, doc: &Doc<'_>, key: &str, v: &Spanned<Node>) -> Result<bool, ConfigError> {
        match v.value {
            Node::Bool(b) => Ok(b),
            Node::Null => Ok(false),
            _ => Err(self.expected(doc, key, v, "true or false")),
        }
    }

    fn spec_list(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
    ) -> Result<Option<Vec<(String, u64)>>, ConfigError> {
        match &v.value {
            Node::Null => Ok(None),
            Node::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let k = format!("{key}[{i}]");
                    match &item.value {
                        Node::Seq(_) | Node::Map(_) | Node::Null => {
                            Err(self.expected(doc, &k, item, "a string"))
                        }
                        _ => Ok((self.scalar_text(doc, &k, item)?, doc.line(&item.referenced))),
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            _ => Err(self.expected(doc, key, v, "a list of strings")),
        }
    }

    fn spec_patterns(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
    ) -> Result<Vec<NamePattern>, ConfigError> {
        let mut out = vec![];
        for (i, (text, line)) in self
            .spec_list(doc, key, v)?
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let p = NamePattern::parse(&text)
                .map_err(|m| self.invalid(doc.number, line, &format!("{key}[{i}]"), m))?;
            out.push(p);
        }
        Ok(out)
    }

    fn spec_map(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
    ) -> Result<Vec<(String, String, u64)>, ConfigError> {
        match &v.value {
            Node::Null => Ok(vec![]),
            Node::Map(entries) => entries
                .iter()
                .map(|(k, val)| {
                    let sub = format!("{key}.{}", k.value);
                    let value = match &val.value {
                        Node::Null => String::new(),
                        Node::Seq(_) | Node::Map(_) => {
                            return Err(self.expected(doc, &sub, val, "a string"));
                        }
                        _ => self.scalar_text(doc, &sub, val)?,
                    };
                    Ok((k.value.clone(), value, doc.line(&k.referenced)))
                })
                .collect(),
            _ => Err(self.expected(doc, key, v, "a mapping of names to values")),
        }
    }

    fn spec_seconds(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
    ) -> Result<u64, ConfigError> {
        match v.value {
            Node::Null => Ok(0),
            Node::Int(i) if i >= 0 => u64::try_from(i)
                .map_err(|_| self.at(doc, &v.referenced, key, "is too large".to_string())),
            Node::Int(_) => {
                Err(self.at(doc, &v.referenced, key, "must not be negative".to_string()))
            }
            _ => Err(self.at(
                doc,
                &v.referenced,
                key,
                format!(
                    "expected a whole number{}, found {}: werf reads it into an integer (e.g. \
                     `interval: 30`, not `30s`)",
                    if key.ends_with("retries") {
                        ""
                    } else {
                        " of seconds"
                    },
                    v.value.what()
                ),
            )),
        }
    }

    fn spec_healthcheck(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
    ) -> Result<Option<Healthcheck>, ConfigError> {
        let entries = match &v.value {
            Node::Null => return Ok(None),
            Node::Map(m) => m,
            _ => return Err(self.expected(doc, key, v, "a mapping")),
        };
        let mut h = Healthcheck::default();
        for (k, val) in entries {
            let sub = format!("{key}.{}", k.value);
            match k.value.as_str() {
                "test" => {
                    h.test = self
                        .spec_list(doc, &sub, val)?
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(s, _)| s)
                        .collect();
                }
                "interval" => h.interval = self.spec_seconds(doc, &sub, val)?,
                "timeout" => h.timeout = self.spec_seconds(doc, &sub, val)?,
                "startperiod" => h.start_period = self.spec_seconds(doc, &sub, val)?,
                "retries" => h.retries = self.spec_seconds(doc, &sub, val)?,
                "startPeriod" | "start_period" => {
                    return Err(self.at(
                        doc,
                        &k.referenced,
                        &sub,
                        "werf reads this key only as `startperiod` (all lower case) and fails on \
                         any other spelling; write `startperiod:`"
                            .to_string(),
                    ));
                }
                other => {
                    return Err(self.at(
                        doc,
                        &k.referenced,
                        &sub,
                        format!(
                            "unknown key `{other}`; healthcheck may have: test, interval, timeout, \
                             startperiod, retries (werf's spelling; times in whole seconds)"
                        ),
                    ));
                }
            }
        }
        Ok(Some(h))
    }

    /// Reads `imageSpec` (an image document's, `global` false) or `build.imageSpec` (the
    /// meta document's). Null is no imageSpec.
    pub(crate) fn image_spec(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
        global: bool,
    ) -> Result<Option<RawImageSpec>, ConfigError> {
        let entries = match &v.value {
            Node::Null => return Ok(None),
            Node::Map(m) => m,
            _ => return Err(self.expected(doc, key, v, "a mapping")),
        };
        let mut raw = RawImageSpec::default();
        for (k, val) in entries {
            let sub = format!("{key}.{}", k.value);
            match k.value.as_str() {
                "author" => raw.edit.author = self.optional_string(doc, &sub, val)?,
                "clearHistory" => raw.edit.clear_history = self.spec_bool(doc, &sub, val)?,
                "config" => self.spec_config(doc, &sub, val, global, &mut raw)?,
                other => {
                    return Err(self.at(
                        doc,
                        &k.referenced,
                        &sub,
                        format!(
                            "unknown key `{other}`; {key} may have: author, clearHistory, config"
                        ),
                    ));
                }
            }
        }
        Ok(Some(raw))
    }

    fn spec_config(
        &self,
        doc: &Doc<'_>,
        key: &str,
        v: &Spanned<Node>,
        global: bool,
        raw: &mut RawImageSpec,
    ) -> Result<(), ConfigError> {
        let entries = match &v.value {
            Node::Null => return Ok(()),
            Node::Map(m) => m,
            _ => return Err(self.expected(doc, key, v, "a mapping")),
        };
        let e = &mut raw.edit;
        for (k, val) in entries {
            let sub = format!("{key}.{}", k.value);
            let name = k.value.as_str();
            if global
                && !matches!(
                    name,
                    "labels" | "removeLabels" | "keepEssentialWerfLabels" | "clearWerfLabels"
                )
            {
                return Err(self.at(
                    doc,
                    &k.referenced,
                    &sub,
                    format!(
                        "werf does not take `{name}` in the meta document's imageSpec; set it in \
                         each image's own `imageSpec.config` (build.imageSpec.config may have: \
                         {GLOBAL_CONFIG_KEYS})"
                    ),
                ));
            }
            let strings = |l: Option<Vec<(String, u64)>>| {
                l.map(|l| l.into_iter().map(|(s, _)| s).collect::<Vec<_>>())
            };
            match name {
                "keepEssentialWerfLabels" => {
                    e.keep_essential_werf_labels = self.spec_bool(doc, &sub, val)?;
                }
                "clearWerfLabels" => e.clear_werf_labels = self.spec_bool(doc, &sub, val)?,
                "clearCmd" => e.clear_cmd = self.spec_bool(doc, &sub, val)?,
                "clearEntrypoint" => e.clear_entrypoint = self.spec_bool(doc, &sub, val)?,
                "clearUser" => e.clear_user = self.spec_bool(doc, &sub, val)?,
                "clearWorkingDir" => e.clear_working_dir = self.spec_bool(doc, &sub, val)?,
                "removeLabels" => e.remove_labels = self.spec_patterns(doc, &sub, val)?,
                "removeEnv" => e.remove_env = self.spec_patterns(doc, &sub, val)?,
                "removeVolumes" => {
                    e.remove_volumes = strings(self.spec_list(doc, &sub, val)?).unwrap_or_default();
                }
                "volumes" => {
                    e.volumes = strings(self.spec_list(doc, &sub, val)?).unwrap_or_default()
                }
                "expose" => e.expose = strings(self.spec_list(doc, &sub, val)?),
                "cmd" => e.cmd = strings(self.spec_list(doc, &sub, val)?),
                "entrypoint" => e.entrypoint = strings(self.spec_list(doc, &sub, val)?),
                "user" => e.user = self.optional_string(doc, &sub, val)?,
                "workingDir" => e.working_dir = self.optional_string(doc, &sub, val)?,
                "stopSignal" => e.stop_signal = self.optional_string(doc, &sub, val)?,
                "healthcheck" => e.healthcheck = self.spec_healthcheck(doc, &sub, val)?,
                "env" => {
                    for (n, value, line) in self.spec_map(doc, &sub, val)? {
                        if n.is_empty() || n.contains('=') {
                            return Err(self.invalid(
                                doc.number,
                                line,
                                &format!("{sub}.{n}"),
                                "an environment variable name must not be empty or hold `=`"
                                    .to_string(),
                            ));
                        }
                        e.env.insert(n, value);
                    }
                }
                "labels" => {
                    for (n, value, line) in self.spec_map(doc, &sub, val)? {
                        let bad =
                            |m: String| self.invalid(doc.number, line, &format!("{sub}.{n}"), m);
                        let label = RawLabel {
                            key: label_template(&n).map_err(bad)?,
                            value: label_template(&value).map_err(bad)?,
                            written: n.clone(),
                            doc: doc.number,
                            line,
                        };
                        raw.labels.push((n, label));
                    }
                }
                other => {
                    return Err(self.at(
                        doc,
                        &k.referenced,
                        &sub,
                        format!("unknown key `{other}`; {key} may have: {CONFIG_KEYS}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The edit an image gets: its own `imageSpec`, with the meta document's merged in when
    /// the image is final (werf's rule: the image's author wins, `clearHistory` and
    /// `keepEssentialWerfLabels` add up, the meta document's labels are added and win for the
    /// same key, `removeLabels` are the image's then the meta document's), labels rendered
    /// for `image` of `project`. `None` when neither sets one.
    pub(crate) fn resolve_image_spec(
        &self,
        own: Option<&RawImageSpec>,
        meta: Option<&RawImageSpec>,
        is_final: bool,
        project: &str,
        image: &str,
    ) -> Result<Option<ImageSpecEdit>, ConfigError> {
        let meta = meta.filter(|_| is_final);
        let mut merged = match (own, meta) {
            (None, None) => return Ok(None),
            (Some(o), _) => o.clone(),
            (None, Some(_)) => RawImageSpec::default(),
        };
        if let Some(m) = meta {
            if merged.edit.author.is_none() {
                merged.edit.author.clone_from(&m.edit.author);
            }
            merged.edit.clear_history |= m.edit.clear_history;
            merged.edit.keep_essential_werf_labels |= m.edit.keep_essential_werf_labels;
            for (written, label) in &m.labels {
                match merged.labels.iter_mut().find(|(w, _)| w == written) {
                    Some(slot) => slot.1 = label.clone(),
                    None => merged.labels.push((written.clone(), label.clone())),
                }
            }
            for p in &m.edit.remove_labels {
                if !merged.edit.remove_labels.contains(p) {
                    merged.edit.remove_labels.push(p.clone());
                }
            }
        }
        let mut edit = merged.edit;
        let mut from: BTreeMap<String, &RawLabel> = BTreeMap::new();
        for (_, label) in &merged.labels {
            let key = render(&label.key, project, image);
            let value = render(&label.value, project, image);
            if let Some(other) = from.get(&key)
                && edit.labels.get(&key) != Some(&value)
            {
                return Err(self.invalid(
                    label.doc,
                    label.line,
                    &format!("imageSpec.config.labels.{}", label.written),
                    format!(
                        "for image `{image}` this label is `{key}`, as is `{}` (document {}, line \
                         {}), with another value; werf would keep one of them at random: give \
                         them different keys",
                        other.written, other.doc, other.line
                    ),
                ));
            }
            from.insert(key.clone(), label);
            edit.labels.insert(key, value);
        }
        Ok(Some(edit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_patterns_match_as_werf_matches_them() {
        let exact = NamePattern::parse("a.b").unwrap();
        assert!(exact.matches("a.b") && !exact.matches("axb"));
        let re = NamePattern::parse("/^org\\.opencontainers\\..*/").unwrap();
        assert!(re.matches("org.opencontainers.image.title"));
        assert!(!re.matches("xorg.opencontainers.image"));
        // Anchored as werf anchors it: `^` + pattern + `$`, alternatives unbracketed.
        // `/a|b/` is `^a|b$`: names starting with `a` or ending with `b`.
        let alt = NamePattern::parse("/a|b/").unwrap();
        assert!(alt.matches("a") && alt.matches("ax") && alt.matches("xb"));
        assert!(!alt.matches("x") && !alt.matches("ba"));
        assert!(NamePattern::parse("//").unwrap().matches(""));
        assert!(NamePattern::parse("/[[:alpha:]]+/").unwrap().matches("abc"));
        assert!(NamePattern::parse("/[]a]/").unwrap().matches("]"));
        for (bad, says) in [
            ("/\\d+/", "ASCII-only"),
            ("/\\bx/", "ASCII-only"),
            ("/\\</", "literal"),
            ("/[a&&b]/", "set operation"),
            ("/[a[b]]/", "nested class"),
            ("/(/", "not a valid regular expression"),
            ("/", "neither"),
        ] {
            let e = NamePattern::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    /// Parses `text` as a werf.yaml in a folder with a `Dockerfile`.
    fn parse(text: &str) -> Result<crate::WerfConfig, ConfigError> {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        crate::parse(text, &tmp.path().join("werf.yaml"))
    }

    fn err(text: &str) -> String {
        parse(text).expect_err("expected an error").to_string()
    }

    const META: &str = "project: demo\nconfigVersion: 1\n";

    #[test]
    fn every_key_is_read_as_werf_reads_it() {
        let c = parse(&format!(
            "{META}---\nimage: app\nimageSpec:\n  author: Me <me@x>\n  clearHistory: true\n  config:\n    \
             labels:\n      team: a\n      v: 1.10\n      '%project%-%image%': '%image%'\n    \
             removeLabels: [beta, '/^org\\.opencontainers\\..*/']\n    \
             env:\n      PATH: ${{PATH}}:/app\n      N: 1\n    removeEnv: [DEBUG, '/^TEMP_.*/']\n    \
             volumes: [/data]\n    removeVolumes: [/tmp]\n    expose: ['8080/tcp', '53/udp']\n    \
             user: 1000\n    cmd: [serve, --port, '8080']\n    entrypoint: [/bin/app]\n    \
             workingDir: /app\n    stopSignal: SIGTERM\n    \
             healthcheck:\n      test: [CMD, /bin/check]\n      interval: 30\n      timeout: 5\n      \
             startperiod: 2\n      retries: 3\n    \
             clearCmd: false\n    clearEntrypoint: false\n    clearUser: false\n    clearWorkingDir: false\n    \
             keepEssentialWerfLabels: true\n    clearWerfLabels: true\n"
        ))
        .unwrap();
        let app = &c.images[0];
        assert!(app.is_final);
        let e = app.image_spec.as_ref().unwrap();
        assert_eq!(e.author.as_deref(), Some("Me <me@x>"));
        assert!(e.clear_history && e.keep_essential_werf_labels && e.clear_werf_labels);
        assert_eq!(
            e.labels,
            BTreeMap::from([
                ("team".to_string(), "a".to_string()),
                ("v".to_string(), "1.10".to_string()),
                ("demo-app".to_string(), "app".to_string()),
            ])
        );
        let names: Vec<&str> = e.remove_labels.iter().map(NamePattern::as_str).collect();
        assert_eq!(names, ["beta", "/^org\\.opencontainers\\..*/"]);
        assert!(e.remove_labels[1].matches("org.opencontainers.image.title"));
        assert_eq!(e.env["PATH"], "${PATH}:/app", "expanded at build time");
        assert_eq!(e.env["N"], "1");
        assert!(e.remove_env[1].matches("TEMP_X") && !e.remove_env[1].matches("X_TEMP_"));
        assert_eq!(
            (e.volumes.clone(), e.remove_volumes.clone()),
            (vec!["/data".to_string()], vec!["/tmp".to_string()])
        );
        assert_eq!(
            e.expose.as_deref(),
            Some(&["8080/tcp".to_string(), "53/udp".to_string()][..])
        );
        assert_eq!(e.user.as_deref(), Some("1000"));
        assert_eq!(
            e.cmd.as_deref(),
            Some(&["serve".to_string(), "--port".into(), "8080".into()][..])
        );
        assert_eq!(e.entrypoint.as_deref(), Some(&["/bin/app".to_string()][..]));
        assert_eq!(e.working_dir.as_deref(), Some("/app"));
        assert_eq!(e.stop_signal.as_deref(), Some("SIGTERM"));
        assert_eq!(
            e.healthcheck,
            Some(Healthcheck {
                test: vec!["CMD".into(), "/bin/check".into()],
                interval: 30,
                timeout: 5,
                start_period: 2,
                retries: 3
            })
        );
        assert!(!e.is_noop());
        // `cmd: []` is given (werf: non-nil); null is not.
        let c = parse(&format!(
            "{META}---\nimage: a\nimageSpec:\n  config:\n    cmd: []\n    entrypoint: ~\n"
        ))
        .unwrap();
        let e = c.images[0].image_spec.as_ref().unwrap();
        assert_eq!(
            (e.cmd.as_deref(), e.entrypoint.as_deref()),
            (Some(&[][..]), None)
        );
        // Only werf-label flags: nothing to change in slipway's images.
        let c = parse(&format!(
            "{META}---\nimage: a\nimageSpec:\n  config:\n    keepEssentialWerfLabels: true\n"
        ))
        .unwrap();
        assert!(c.images[0].image_spec.as_ref().unwrap().is_noop());
        assert_eq!(
            parse(&format!("{META}---\nimage: a\nimageSpec: ~\n"))
                .unwrap()
                .images[0]
                .image_spec,
            None
        );
    }

    #[test]
    fn the_meta_documents_image_spec_merges_into_final_images_as_werf_merges_it() {
        let c = parse(&format!(
            "{META}build:\n  imageSpec:\n    author: global\n    clearHistory: true\n    config:\n      \
             labels:\n        team: global\n        img: '%image%'\n      removeLabels: [x, shared]\n      \
             keepEssentialWerfLabels: true\n\
             ---\nimage: own\nimageSpec:\n  author: mine\n  config:\n    labels:\n      team: mine\n      \
             other: o\n    removeLabels: [shared, y]\n\
             ---\nimage: [bare, second]\n\
             ---\nimage: builder\nfinal: false\n\
             ---\nimage: builder2\nfinal: false\nimageSpec:\n  config:\n    user: u\n"
        ))
        .unwrap();
        let spec = |n: &str| c.image(n).unwrap().image_spec.clone();
        let own = spec("own").unwrap();
        assert_eq!(
            own.author.as_deref(),
            Some("mine"),
            "the image's author wins"
        );
        assert!(own.clear_history && own.keep_essential_werf_labels);
        // werf's code: the meta document's labels are added and win for the same key.
        assert_eq!(own.labels["team"], "global");
        assert_eq!(own.labels["other"], "o");
        assert_eq!(own.labels["img"], "own");
        let removes: Vec<&str> = own.remove_labels.iter().map(NamePattern::as_str).collect();
        assert_eq!(removes, ["shared", "y", "x"]);
        let bare = spec("bare").unwrap();
        assert_eq!(bare.author.as_deref(), Some("global"));
        assert_eq!(bare.labels["img"], "bare");
        assert_eq!(
            spec("second").unwrap().labels["img"],
            "second",
            "rendered per name"
        );
        // Intermediate images do not get the meta document's imageSpec, only their own.
        assert!(!c.image("builder").unwrap().is_final);
        assert_eq!(spec("builder"), None);
        let b2 = spec("builder2").unwrap();
        assert_eq!(
            (b2.user.as_deref(), b2.author.as_deref()),
            (Some("u"), None)
        );
        assert!(b2.labels.is_empty());
    }

    #[test]
    fn what_cannot_be_honoured_exactly_is_refused_with_its_place() {
        let img = |config: &str| {
            err(&format!(
                "{META}---\nimage: a\nimageSpec:\n  config:\n{config}"
            ))
        };
        for (config, says) in [
            ("    healthcheck:\n      startPeriod: 3\n", "`startperiod`"),
            (
                "    healthcheck:\n      interval: 30s\n",
                "whole number of seconds",
            ),
            ("    healthcheck:\n      retries: -1\n", "negative"),
            ("    labels:\n      cpu: 100%\n", "not closed"),
            ("    labels:\n      a: '%env%'\n", "only werf's"),
            ("    removeEnv: ['/\\d+/']\n", "ASCII-only"),
            (
                "    removeLabels: ['/(/']\n",
                "not a valid regular expression",
            ),
            ("    env:\n      'A=B': x\n", "hold `=`"),
            ("    nope: 1\n", "unknown key `nope`"),
            ("    cmd: run\n", "a list of strings"),
            ("    clearCmd: yes please\n", "true or false"),
        ] {
            let e = img(config);
            assert!(
                e.contains(says) && e.contains("imageSpec.config") && e.contains("werf.yaml:"),
                "{config}: {e}"
            );
        }
        let e = err(&format!(
            "{META}---\nimage: a\nimageSpec:\n  labels: {{}}\n"
        ));
        assert!(e.contains("author, clearHistory, config"), "{e}");
        let e = err(&format!(
            "{META}build:\n  imageSpec:\n    config:\n      env:\n        A: b\n---\nimage: a\n"
        ));
        assert!(
            e.contains("`build.imageSpec.config.env`") && e.contains("each image's own"),
            "{e}"
        );
        let e = err(&format!("{META}---\nimage: a\nfinal: 'no'\n"));
        assert!(e.contains("`final`") && e.contains("true or false"), "{e}");
        // Two label keys that become one for an image, with different values.
        let e = err(&format!(
            "{META}---\nimage: app\nimageSpec:\n  config:\n    labels:\n      '%image%': x\n      app: y\n"
        ));
        assert!(e.contains("at random"), "{e}");
    }

    #[test]
    fn label_templates_are_werfs() {
        let t = label_template("project-%project%").unwrap();
        assert_eq!(render(&t, "demo", "app"), "project-demo");
        let t = label_template("%.Project%/%.Image%").unwrap();
        assert_eq!(render(&t, "demo", "app"), "demo/app");
        let t = label_template("% image %-image").unwrap();
        assert_eq!(render(&t, "demo", "a+b&c"), "a&#43;b&amp;c-image");
        assert_eq!(render(&label_template("plain").unwrap(), "p", "i"), "plain");
        for (bad, says) in [
            ("100%", "not closed"),
            ("%%", "only werf's"),
            ("%env%", "only werf's"),
            ("<b>%image%", "html/template"),
        ] {
            let e = label_template(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
