//! Loading a chart from a folder or a `.tgz` archive, as Helm loads it: `.helmignore`
//! rules (with Helm's own quirks), `Chart.yaml` checks, `values.yaml`, the split into
//! templates, files and subcharts, and `requirements.yaml` for `apiVersion: v1` charts.

use std::io::Read;
use std::path::{Path, PathBuf};

use slipway_glob::Pattern;
use slipway_template::Value;

use crate::model::{Chart, Dependency, File, Maintainer, Metadata};

/// Why a chart could not be loaded. Each names the chart or file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The chart is malformed; the message is Helm's.
    #[error("{0}")]
    Invalid(String),
}

const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// Loads the chart at `path`: a folder, or a gzipped tar archive.
pub fn load(path: &Path) -> Result<Chart, LoadError> {
    load_files(read_chart(path)?, &[])
}

/// Reads the files of the chart at `path` (a folder, or a gzipped tar archive), by their
/// paths inside the chart: what [`load_files`] builds the chart from.
pub fn read_chart(path: &Path) -> Result<Vec<File>, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        read_folder(path)
    } else {
        let data = std::fs::read(path).map_err(io)?;
        if !data.starts_with(&[0x1f, 0x8b]) {
            let name = path.display();
            return Err(LoadError::Invalid(if looks_like_yaml(path) {
                format!("file '{name}' seems to be a YAML file, but expected a gzipped archive")
            } else {
                format!("file '{name}' does not appear to be a gzipped archive")
            }));
        }
        read_archive(&data)
    }
}

fn looks_like_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Helm's `.helmignore` rules.
struct Rules {
    patterns: Vec<Rule>,
}

struct Rule {
    pattern: Pattern,
    /// `/x`, or a pattern with a `/` inside: matched against the whole path.
    whole_path: bool,
    negate: bool,
    must_dir: bool,
}

impl Rules {
    fn parse(text: &str, source: &Path) -> Result<Rules, LoadError> {
        let mut rules = Rules {
            patterns: Vec::new(),
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for line in text.lines() {
            rules.add(line, source)?;
        }
        Ok(rules)
    }

    fn add(&mut self, line: &str, source: &Path) -> Result<(), LoadError> {
        let mut rule = line.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err(LoadError::Invalid(format!(
                "{}: double-star (**) syntax is not supported",
                source.display()
            )));
        }
        let original = rule.to_owned();
        let bad = || {
            LoadError::Invalid(format!(
                "{}: syntax error in pattern {original:?}",
                source.display()
            ))
        };
        Pattern::path(rule).map_err(|_| bad())?;
        let negate = rule.starts_with('!');
        if negate {
            rule = &rule[1..];
        }
        let must_dir = rule.ends_with('/');
        if must_dir {
            rule = &rule[..rule.len() - 1];
        }
        let whole_path = rule.contains('/');
        let rule = rule.strip_prefix('/').unwrap_or(rule);
        let pattern = Pattern::path(rule).map_err(|_| bad())?;
        self.patterns.push(Rule {
            pattern,
            whole_path,
            negate,
            must_dir,
        });
        Ok(())
    }

    /// Helm's `Ignore`, quirks included: a negated rule that does not match ignores the
    /// path.
    fn ignore(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for r in &self.patterns {
            let subject = if r.whole_path {
                path
            } else {
                path.rsplit('/').next().unwrap_or(path)
            };
            let matched = r.pattern.matches(subject);
            if r.negate {
                if r.must_dir && !is_dir {
                    return true;
                }
                if !matched {
                    return true;
                }
                continue;
            }
            if r.must_dir && !is_dir {
                continue;
            }
            if matched {
                return true;
            }
        }
        false
    }
}

/// Reads a chart folder's files as Helm does: `.helmignore` rules (and the default
/// `templates/.?*`), names sorted, symlinks followed, byte-order marks dropped.
pub fn read_folder(top: &Path) -> Result<Vec<File>, LoadError> {
    let ignore_file = top.join(".helmignore");
    let mut rules = match std::fs::read_to_string(&ignore_file) {
        Ok(text) => Rules::parse(&text, &ignore_file)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Rules {
            patterns: Vec::new(),
        },
        Err(source) => {
            return Err(LoadError::Io {
                path: ignore_file,
                source,
            });
        }
    };
    rules.add("templates/.?*", &ignore_file)?;
    let mut files = Vec::new();
    walk(top, "", &rules, &mut files)?;
    Ok(files)
}

/// Walks in Go's `filepath.Walk` order (names sorted), following symlinks as Helm's
/// `sympath.Walk` does.
fn walk(dir: &Path, rel: &str, rules: &Rules, out: &mut Vec<File>) -> Result<(), LoadError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| LoadError::Io { path, source }
    };
    // Each entry's type comes with the listing; only symlinks need a look at their target.
    let mut entries: Vec<(String, std::fs::FileType)> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .map(|e| e.and_then(|e| Ok((e.file_name().to_string_lossy().into_owned(), e.file_type()?))))
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, kind) in entries {
        let path = dir.join(&name);
        let n = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let kind = if kind.is_symlink() {
            std::fs::metadata(&path).map_err(io(&path))?.file_type()
        } else {
            kind
        };
        if kind.is_dir() {
            if rules.ignore(&n, true) {
                continue;
            }
            walk(&path, &n, rules, out)?;
            continue;
        }
        if rules.ignore(&n, false) {
            continue;
        }
        if !kind.is_file() {
            return Err(LoadError::Invalid(format!(
                "cannot load irregular file {} as it has file mode type bits set",
                path.display()
            )));
        }
        let mut data = std::fs::read(&path).map_err(io(&path))?;
        if data.starts_with(BOM) {
            data.drain(..3);
        }
        out.push(File { name: n, data });
    }
    Ok(())
}

fn read_archive(data: &[u8]) -> Result<Vec<File>, LoadError> {
    let bad = |e: std::io::Error| LoadError::Invalid(format!("cannot read chart archive: {e}"));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(data));
    let mut files = Vec::new();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            continue;
        }
        let raw = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let name = raw.replace('\\', "/");
        let parts: Vec<&str> = name.splitn(2, '/').collect();
        if name.starts_with('/') {
            return Err(LoadError::Invalid(
                "chart illegally contains absolute paths".into(),
            ));
        }
        let n = if parts.len() > 1 { parts[1] } else { parts[0] };
        if n.starts_with("..") {
            return Err(LoadError::Invalid(
                "chart illegally references parent directory".into(),
            ));
        }
        if parts.len() < 2 {
            if n == "Chart.yaml" {
                return Err(LoadError::Invalid(
                    "chart yaml not in base directory".into(),
                ));
            }
            continue;
        }
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf).map_err(bad)?;
        if buf.starts_with(BOM) {
            buf.drain(..3);
        }
        files.push(File {
            name: n.to_owned(),
            data: buf,
        });
    }
    if files.is_empty() {
        return Err(LoadError::Invalid("no files in chart archive".into()));
    }
    Ok(files)
}

fn text(f: &File) -> String {
    crate::model::text_of(&f.data)
}

/// Builds a chart from its files (paths relative to the chart's root).
pub fn load_files(files: Vec<File>, parents: &[String]) -> Result<Chart, LoadError> {
    let mut chart = Chart {
        values: Value::empty_map(),
        parents: parents.to_vec(),
        ..Chart::default()
    };
    let mut have_metadata = false;
    let mut meta_doc = Value::empty_map();
    if let Some(f) = files.iter().find(|f| f.name == "Chart.yaml") {
        meta_doc = crate::yaml::parse_values(&text(f))
            .map_err(|e| LoadError::Invalid(format!("cannot load Chart.yaml: {e}")))?;
        have_metadata = true;
    }
    if parents.is_empty() {
        parse_ahead(&files, &meta_doc);
    }
    let mut subcharts: std::collections::BTreeMap<String, Vec<File>> = Default::default();
    let mut requirements = None;
    for f in files {
        match f.name.as_str() {
            "Chart.yaml" | "Chart.lock" => {}
            "values.yaml" => {
                chart.values = crate::yaml::load_values(&text(&f))
                    .map_err(|e| LoadError::Invalid(format!("cannot load values.yaml: {e}")))?;
            }
            "values.schema.json" => chart.schema = Some(f.data),
            "requirements.yaml" => {
                let doc = crate::yaml::parse_values(&text(&f)).map_err(|e| {
                    LoadError::Invalid(format!("cannot load requirements.yaml: {e}"))
                })?;
                requirements = Some(doc);
                have_metadata = true;
                if api_version(&meta_doc) == "v1" {
                    chart.files.push(f);
                }
            }
            "requirements.lock" => {
                if api_version(&meta_doc) == "v1" {
                    chart.files.push(f);
                }
            }
            n if n.starts_with("templates/") => chart.templates.push(f),
            n if n.starts_with("charts/") => {
                if n.ends_with(".prov") {
                    chart.files.push(f);
                    continue;
                }
                let rest = &n["charts/".len()..];
                let cname = rest.split('/').next().unwrap_or(rest).to_owned();
                subcharts.entry(cname).or_default().push(File {
                    name: rest.to_owned(),
                    data: f.data,
                });
            }
            _ => chart.files.push(f),
        }
    }
    if !have_metadata {
        return Err(LoadError::Invalid("Chart.yaml file is missing".into()));
    }
    chart.metadata = metadata(&meta_doc)?;
    if chart.metadata.api_version.is_empty() {
        chart.metadata.api_version = "v1".into();
    }
    if let Some(req) = requirements
        && let Some(deps) = map_get(&req, "dependencies")
    {
        chart.metadata.dependencies = dependencies(&deps)?;
    }
    validate(&chart.metadata)?;
    let mut path = parents.to_vec();
    path.push(chart.metadata.name.clone());
    for (name, files) in subcharts {
        if name.starts_with(['_', '.']) {
            continue;
        }
        let sub = if name.ends_with(".tgz") {
            let Some(file) = files.into_iter().find(|f| f.name == name) else {
                return Err(LoadError::Invalid(format!(
                    "error unpacking subchart tar in {}: expected {name}",
                    chart.metadata.name
                )));
            };
            read_archive(&file.data).and_then(|files| load_files(files, &path))
        } else {
            let files = files
                .into_iter()
                .filter_map(|f| {
                    let (_, rest) = f.name.split_once('/')?;
                    Some(File {
                        name: rest.to_owned(),
                        data: f.data,
                    })
                })
                .collect();
            load_files(files, &path)
        };
        let sub = sub.map_err(|e| {
            LoadError::Invalid(format!(
                "error unpacking subchart {name} in {}: {e}",
                chart.metadata.name
            ))
        })?;
        chart.dependencies.push(sub);
    }
    Ok(chart)
}

/// Starts parsing the templates of a top chart (and of the subchart folders under its
/// `charts/`) while the rest is loaded: see [`crate::render::parse_ahead`]. Each is named
/// as the render will name it if the chart's name and each subchart's folder name are the
/// names in their `Chart.yaml`; a template named otherwise is parsed again when rendered.
fn parse_ahead(files: &[File], meta_doc: &Value) {
    let Some(Value::String(root)) = map_get(meta_doc, "name") else {
        return;
    };
    let texts: Vec<(String, String)> = files
        .iter()
        .filter(|f| {
            f.name.starts_with("templates/")
                || f.name
                    .strip_prefix("charts/")
                    .and_then(|rest| rest.split_once('/'))
                    .is_some_and(|(_, rest)| rest.starts_with("templates/"))
        })
        .map(|f| (format!("{root}/{}", f.name), text(f)))
        .collect();
    if !texts.is_empty() {
        crate::render::parse_ahead(texts);
    }
}

fn api_version(doc: &Value) -> String {
    map_get(doc, "apiVersion")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn map_get(v: &Value, key: &str) -> Option<Value> {
    match v {
        Value::Map(m) => m.borrow().get(key).cloned(),
        _ => None,
    }
}

/// A string field, with Go's JSON decoding rules: absent or null is empty; any other type
/// is the error Go's decoder gives.
fn string_field(doc: &Value, key: &str, owner: &str) -> Result<String, LoadError> {
    match map_get(doc, key) {
        None | Some(Value::Nil) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.to_string()),
        Some(other) => Err(type_error(owner, key, &other, "string")),
    }
}

fn type_error(owner: &str, key: &str, v: &Value, want: &str) -> LoadError {
    let got = match v {
        Value::Float(_) | Value::Int(_) => "number",
        Value::Bool(_) => "bool",
        Value::List(_) => "array",
        Value::Map(_) => "object",
        _ => "string",
    };
    LoadError::Invalid(format!(
        "cannot load Chart.yaml: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {got} into Go struct field {owner}.{key} of type {want}"
    ))
}

fn strings_field(doc: &Value, key: &str, owner: &str) -> Result<Vec<String>, LoadError> {
    match map_get(doc, key) {
        None | Some(Value::Nil) => Ok(Vec::new()),
        Some(Value::List(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.to_string()),
                Value::Nil => Ok(String::new()),
                other => Err(type_error(owner, key, other, "string")),
            })
            .collect(),
        Some(other) => Err(type_error(owner, key, &other, "[]string")),
    }
}

fn metadata(doc: &Value) -> Result<Metadata, LoadError> {
    let o = "Metadata";
    let mut md = Metadata {
        name: string_field(doc, "name", o)?,
        home: string_field(doc, "home", o)?,
        sources: strings_field(doc, "sources", o)?,
        version: string_field(doc, "version", o)?,
        description: string_field(doc, "description", o)?,
        keywords: strings_field(doc, "keywords", o)?,
        icon: string_field(doc, "icon", o)?,
        api_version: string_field(doc, "apiVersion", o)?,
        condition: string_field(doc, "condition", o)?,
        tags: string_field(doc, "tags", o)?,
        app_version: string_field(doc, "appVersion", o)?,
        kube_version: string_field(doc, "kubeVersion", o)?,
        chart_type: string_field(doc, "type", o)?,
        ..Metadata::default()
    };
    md.deprecated = match map_get(doc, "deprecated") {
        None | Some(Value::Nil) => false,
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(type_error(o, "deprecated", &other, "bool")),
    };
    if let Some(Value::Map(m)) = map_get(doc, "annotations") {
        for (k, v) in m.borrow().iter() {
            match v {
                Value::String(s) => {
                    md.annotations.insert(k.clone(), s.to_string());
                }
                other => return Err(type_error(o, "annotations", other, "string")),
            }
        }
    }
    if let Some(Value::List(items)) = map_get(doc, "maintainers") {
        for m in items.iter() {
            md.maintainers.push(Maintainer {
                name: string_field(m, "name", "Maintainer")?,
                email: string_field(m, "email", "Maintainer")?,
                url: string_field(m, "url", "Maintainer")?,
            });
        }
    }
    if let Some(deps) = map_get(doc, "dependencies") {
        md.dependencies = dependencies(&deps)?;
    }
    Ok(md)
}

fn dependencies(deps: &Value) -> Result<Vec<Dependency>, LoadError> {
    let Value::List(items) = deps else {
        return Ok(Vec::new());
    };
    let o = "Dependency";
    items
        .iter()
        .map(|d| {
            Ok(Dependency {
                name: string_field(d, "name", o)?,
                version: string_field(d, "version", o)?,
                repository: string_field(d, "repository", o)?,
                condition: string_field(d, "condition", o)?,
                tags: strings_field(d, "tags", o)?,
                enabled: matches!(map_get(d, "enabled"), Some(Value::Bool(true))),
                import_values: match map_get(d, "import-values") {
                    Some(Value::List(l)) => l.to_vec(),
                    _ => Vec::new(),
                },
                alias: string_field(d, "alias", o)?,
            })
        })
        .collect()
}

/// Helm's `Metadata.Validate`.
fn validate(md: &Metadata) -> Result<(), LoadError> {
    let err = |m: String| Err(LoadError::Invalid(format!("validation: {m}")));
    if md.api_version.is_empty() {
        return err("chart.metadata.apiVersion is required".into());
    }
    if md.name.is_empty() {
        return err("chart.metadata.name is required".into());
    }
    if md.name == "." || md.name == ".." {
        return err(format!("chart.metadata.name {:?} is not allowed", md.name));
    }
    if md.name.contains('/') {
        return err(format!("chart.metadata.name {:?} is invalid", md.name));
    }
    if md.version.is_empty() {
        return err("chart.metadata.version is required".into());
    }
    if !is_semver(&md.version) {
        return err(format!(
            "chart.metadata.version {:?} is invalid",
            md.version
        ));
    }
    if !matches!(md.chart_type.as_str(), "" | "application" | "library") {
        return err("chart.metadata.type must be application or library".into());
    }
    for dep in &md.dependencies {
        if dep.name.is_empty() {
            return err("dependencies must have a name".into());
        }
    }
    Ok(())
}

/// Masterminds' lenient `NewVersion`: `v1`, `1.2`, `1.2.3-pre+build`.
fn is_semver(v: &str) -> bool {
    let v = v.strip_prefix('v').unwrap_or(v);
    let (core, _) = v.split_once(['-', '+']).unwrap_or((v, ""));
    let parts: Vec<&str> = core.split('.').collect();
    !parts.is_empty()
        && parts.len() <= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}
