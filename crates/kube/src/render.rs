//! What `slipway render` does with rendered manifests: read them into objects.
//!
//! The input is a list of manifest files ([`Source`]), already rendered by the chart
//! engine (`slipway-chart`, which puts werf's `.Values.werf.image.NAME` in place), and a
//! map from werf image name to a digest-pinned reference (`HOST/PATH@sha256:...`, made by
//! [`pinned_reference`]). A bare werf image name as the `image:` of a container, init
//! container or ephemeral container (`image: app`) is pinned too. Before rendering,
//! [`check_image_names`] refuses templates that name an image werf.yaml does not build.
//!
//! Every document is parsed into a [`serde_json::Value`] (YAML 1.1 scalars, as
//! Kubernetes reads them: `0644` is octal), checked to be an object with `apiVersion` and
//! `kind`, and a `kind: List` is expanded into its items. Comments are not kept.
//!
//! What it is for: producing the objects `render` prints and `converge` applies. What it
//! is not for: building images or talking to an API server.
//!
//! ```
//! use std::collections::BTreeMap;
//! use slipway_kube::render::{Source, render};
//! let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: app\n";
//! let sources = [Source { name: "pod.yaml".into(), path: "pod.yaml".into(), text: text.into() }];
//! let images = BTreeMap::from([("app".to_string(), "r.test/app@sha256:ab".to_string())]);
//! let objects = render(&sources, &images)?;
//! assert_eq!(objects[0].object["spec"]["containers"][0]["image"], "r.test/app@sha256:ab");
//! # Ok::<(), slipway_kube::render::RenderError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One manifest file.
#[derive(Clone, Debug)]
pub struct Source {
    /// The name printed in the `# Source:` comment (a relative path).
    pub name: String,
    /// The path error messages name.
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
}

/// One Kubernetes object, with the file it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// The [`Source::name`] of its file.
    pub source: String,
    /// The object, image references pinned.
    pub object: Value,
}

/// Says why manifests cannot be rendered. Every message names the file (and line).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The manifests folder is missing or holds no manifests.
    #[error("{message}")]
    Folder {
        /// What is wrong and where slipway looked.
        message: String,
    },
    /// A file or folder could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `.Values.werf.image.NAME` names no known image.
    #[error(
        "{}:{line}: unknown image `{name}` in `{action}`; the images are: {}",
        .path.display(),
        if .known.is_empty() { "(none)".to_string() } else { .known.join(", ") }
    )]
    UnknownImage {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// The name used.
        name: String,
        /// The action as written.
        action: String,
        /// The image names that exist.
        known: Vec<String>,
    },
    /// A document is not valid YAML.
    #[error("{}{}: invalid YAML: {message}", .path.display(), slipway_fs::place(*.line, *.column))]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The line, from 1; 0 when unknown.
        line: u64,
        /// The column, from 1; 0 when unknown.
        column: u64,
        /// The parser's message.
        message: String,
    },
    /// A document is not a Kubernetes object.
    #[error("{}: document {document}: {message}", .path.display())]
    NotAnObject {
        /// The file.
        path: PathBuf,
        /// The document number among the file's non-empty documents, from 1.
        document: usize,
        /// What is wrong.
        message: String,
    },
    /// The image is only in a local store, which nodes cannot pull from.
    #[error(
        "image `{image}` is in the local store ({repo}), which nodes cannot pull from; \
         manifests need a registry: pass --repo HOST[:PORT]/PATH"
    )]
    NeedsRegistry {
        /// The werf image name.
        image: String,
        /// Its repository (`oci:...`).
        repo: String,
    },
    /// No registry was given, so images would stay in the local store.
    #[error(
        "manifests need a registry the nodes pull from: pass --repo HOST[:PORT]/PATH (or \
         WERF_REPO); without it images stay in the local store, which nodes cannot pull from"
    )]
    NoRegistry,
    /// An object could not be written as YAML.
    #[error("cannot write {source_name} as YAML: {message}")]
    Emit {
        /// The object's source file.
        source_name: String,
        /// The serializer's message.
        message: String,
    },
}

impl RenderError {
    /// Tells whether the error is in the user's input (exit code 2) rather than a failure
    /// while working.
    pub fn is_bad_input(&self) -> bool {
        match self {
            RenderError::Read { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            RenderError::Emit { .. } => false,
            _ => true,
        }
    }
}

/// Returns the reference nodes pull `image` by: `REPO@DIGEST`.
///
/// # Errors
/// [`RenderError::NeedsRegistry`] when `repo` is a local store (`oci:...`).
pub fn pinned_reference(image: &str, repo: &str, digest: &str) -> Result<String, RenderError> {
    if repo.starts_with("oci:") {
        return Err(RenderError::NeedsRegistry {
            image: image.to_string(),
            repo: repo.to_string(),
        });
    }
    Ok(format!("{repo}@{digest}"))
}

/// Reads every `*.yaml` and `*.yml` file under `dir` (recursively), sorted by relative
/// path. Names starting with `_` (Helm's partials) or `.` are skipped. Each
/// [`Source::name`] is `shown` joined with the relative path.
///
/// # Errors
/// [`RenderError::Folder`] when `dir` is not a folder or holds no manifest;
/// [`RenderError::Read`] when a file cannot be read (or is not UTF-8).
pub fn load_sources(dir: &Path, shown: &Path) -> Result<Vec<Source>, RenderError> {
    if !dir.is_dir() {
        return Err(RenderError::Folder {
            message: format!("{}: no such folder", dir.display()),
        });
    }
    let mut rels: Vec<PathBuf> = vec![];
    collect(dir, Path::new(""), &mut rels)?;
    rels.sort();
    if rels.is_empty() {
        return Err(RenderError::Folder {
            message: format!(
                "{}: no *.yaml or *.yml files to render (files starting with `_` are skipped)",
                dir.display()
            ),
        });
    }
    rels.into_iter()
        .map(|rel| {
            let path = dir.join(&rel);
            let bytes = std::fs::read(&path).map_err(|source| RenderError::Read {
                path: path.clone(),
                source,
            })?;
            let text = String::from_utf8(bytes).map_err(|e| RenderError::Read {
                path: path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })?;
            let text = match text.strip_prefix('\u{feff}') {
                Some(t) => t.to_string(),
                None => text,
            };
            let name = shown
                .join(&rel)
                .to_string_lossy()
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            Ok(Source { name, path, text })
        })
        .collect()
}

fn collect(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), RenderError> {
    let here = dir.join(rel);
    let read = |e| RenderError::Read {
        path: here.clone(),
        source: e,
    };
    for entry in std::fs::read_dir(&here).map_err(read)? {
        let entry = entry.map_err(read)?;
        let name = entry.file_name();
        let text = name.to_string_lossy();
        if text.starts_with('.') || text.starts_with('_') {
            continue;
        }
        let child = rel.join(&name);
        // Follows symlinks, as `helm template` does.
        let meta = std::fs::metadata(dir.join(&child)).map_err(|source| RenderError::Read {
            path: dir.join(&child),
            source,
        })?;
        if meta.is_dir() {
            collect(dir, &child, out)?;
        } else if text.ends_with(".yaml") || text.ends_with(".yml") {
            out.push(child);
        }
    }
    Ok(())
}

/// Reads the objects of rendered manifests: parses every document, drops empty ones,
/// expands `kind: List`, and pins `image: NAME` of containers to `images` (werf image name
/// to pinned reference) when NAME is a werf image.
///
/// # Errors
/// [`RenderError::Yaml`] and [`RenderError::NotAnObject`]. The first problem in file order
/// is reported.
pub fn render(
    sources: &[Source],
    images: &BTreeMap<String, String>,
) -> Result<Vec<Rendered>, RenderError> {
    let mut out = vec![];
    for src in sources {
        out.extend(objects(src, images)?);
    }
    Ok(out)
}

/// The objects of one rendered manifest file, as [`render`] reads them.
///
/// # Errors
/// As [`render`].
pub fn objects(
    src: &Source,
    images: &BTreeMap<String, String>,
) -> Result<Vec<Rendered>, RenderError> {
    let mut out = vec![];
    for (i, doc) in parse(src, &src.text)?.into_iter().enumerate() {
        let document = i + 1;
        let not = |message: String| RenderError::NotAnObject {
            path: src.path.clone(),
            document,
            message,
        };
        check_object(&doc).map_err(not)?;
        let items = if is_list(&doc) {
            let Some(Value::Array(items)) = doc.get("items") else {
                return Err(not("a `kind: List` needs an `items` list".into()));
            };
            for item in items {
                check_object(item).map_err(|m| not(format!("in `items`: {m}")))?;
            }
            items.clone()
        } else {
            vec![doc]
        };
        for mut object in items {
            pin_bare_images(&mut object, images);
            out.push(Rendered {
                source: src.name.clone(),
                object,
            });
        }
    }
    Ok(out)
}

/// Checks the templates in `sources` for werf image references
/// (`.Values.werf.image.NAME`, `index .Values.werf.image "NAME"`) to names that are not
/// among `names`: such a reference would render empty, so it is refused before anything
/// is built.
///
/// # Errors
/// [`RenderError::UnknownImage`] for the first unknown name, with its file and line.
pub fn check_image_names(sources: &[Source], names: &[String]) -> Result<(), RenderError> {
    for src in sources {
        let text = &src.text;
        let mut pos = 0;
        while let Some(i) = text[pos..].find("{{") {
            let start = pos + i;
            let Some(j) = text[start + 2..].find("}}") else {
                break;
            };
            let end = start + 2 + j + 2;
            let inner = &text[start + 2..end - 2];
            for name in image_names(inner) {
                if !names.iter().any(|n| n == name) {
                    return Err(RenderError::UnknownImage {
                        path: src.path.clone(),
                        line: text[..start].matches('\n').count() + 1,
                        name: name.to_string(),
                        action: shorten(&text[start..end]),
                        known: names.to_vec(),
                    });
                }
            }
            pos = end;
        }
    }
    Ok(())
}

/// Writes the objects as one YAML stream: each document starts with `---` and a
/// `# Source: NAME` comment.
///
/// # Errors
/// [`RenderError::Emit`] when an object cannot be serialized.
pub fn to_yaml(objects: &[Rendered]) -> Result<String, RenderError> {
    // Long one-line strings (image references, commands) stay on their line, as people
    // and grep expect them; multi-line strings become literal blocks (`|`).
    let options = serde_saphyr::ser_options! { folded_wrap_chars: usize::MAX };
    let mut s = String::new();
    for r in objects {
        let yaml =
            serde_saphyr::to_string_with_options(&r.object, options.clone()).map_err(|e| {
                RenderError::Emit {
                    source_name: r.source.clone(),
                    message: e.to_string(),
                }
            })?;
        s.push_str("---\n# Source: ");
        s.push_str(&r.source);
        s.push('\n');
        s.push_str(&yaml);
        if !yaml.ends_with('\n') {
            s.push('\n');
        }
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------
// Template actions.

/// The werf image names an action's text refers to: `.Values.werf.image.NAME` (also
/// through `$`) and `index .Values.werf.image "NAME"` with a literal name.
fn image_names(inner: &str) -> Vec<&str> {
    const KEY: &str = ".Values.werf.image";
    let mut names = vec![];
    let mut pos = 0;
    while let Some(i) = inner[pos..].find(KEY) {
        let after = pos + i + KEY.len();
        let rest = &inner[after..];
        if let Some(field) = rest.strip_prefix('.') {
            let end = field
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(field.len());
            if end > 0 {
                names.push(&field[..end]);
            }
        } else {
            let before = inner[..pos + i].trim_end();
            let before = before.strip_suffix('$').unwrap_or(before).trim_end();
            let literal = rest.trim_start();
            if before.ends_with("index")
                && let Some(q) = literal.chars().next().filter(|c| *c == '"' || *c == '`')
                && let Some(close) = literal[1..].find(q)
            {
                let name = &literal[1..1 + close];
                if !name.is_empty() && !name.contains('\\') {
                    names.push(name);
                }
            }
        }
        pos = after;
    }
    names
}

fn shorten(action: &str) -> String {
    let one_line = action.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= 80 {
        one_line
    } else {
        let cut: String = one_line.chars().take(77).collect();
        format!("{cut}...")
    }
}

// ---------------------------------------------------------------------------------------
// YAML documents.

fn parse(src: &Source, text: &str) -> Result<Vec<Value>, RenderError> {
    // YAML 1.1 integers, as Kubernetes reads manifests: `defaultMode: 0644` is 420.
    let options = serde_saphyr::options! { legacy_octal_numbers: true };
    let docs: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| {
            let render = serde_saphyr::render_options! {
                formatter: &serde_saphyr::UserMessageFormatter,
                snippets: serde_saphyr::SnippetMode::Off,
            };
            let mut message = e.render_with_options(render);
            let (mut line, mut column) = (0, 0);
            if let Some(loc) = e.location().filter(|l| l.line() > 0) {
                let suffix = format!(" at line {}, column {}", loc.line(), loc.column());
                if let Some(m) = message.strip_suffix(&suffix) {
                    message = m.to_string();
                }
                (line, column) = (loc.line(), loc.column());
            }
            RenderError::Yaml {
                path: src.path.clone(),
                line,
                column,
                message,
            }
        })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

fn check_object(doc: &Value) -> Result<(), String> {
    let Value::Object(map) = doc else {
        return Err(format!(
            "a Kubernetes object must be a mapping with apiVersion and kind, not {}",
            what(doc)
        ));
    };
    for key in ["apiVersion", "kind"] {
        match map.get(key) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(other) => return Err(format!("`{key}` must be a string, not {}", what(other))),
            None => return Err(format!("no `{key}`: not a Kubernetes object")),
        }
    }
    Ok(())
}

fn is_list(doc: &Value) -> bool {
    doc["apiVersion"] == "v1" && doc["kind"] == "List"
}

fn what(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Replaces `image: NAME` of every container list in the tree (pods, pod templates, job
/// templates, custom resources holding pod specs) when NAME is a werf image.
fn pin_bare_images(v: &mut Value, images: &BTreeMap<String, String>) {
    match v {
        Value::Object(map) => {
            for key in ["containers", "initContainers", "ephemeralContainers"] {
                if let Some(Value::Array(list)) = map.get_mut(key) {
                    for c in list {
                        if let Some(Value::String(image)) = c.get_mut("image")
                            && let Some(r) = images.get(image.as_str())
                        {
                            *image = r.clone();
                        }
                    }
                }
            }
            for child in map.values_mut() {
                pin_bare_images(child, images);
            }
        }
        Value::Array(list) => {
            for child in list {
                pin_bare_images(child, images);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const REF: &str = "registry.test:5000/hello@sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn images() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app".to_string(), REF.to_string()),
            ("web-ui".to_string(), "r.test/ui@sha256:22".to_string()),
        ])
    }

    fn src(name: &str, text: &str) -> Source {
        Source {
            name: name.into(),
            path: PathBuf::from("/p/.helm/templates").join(name),
            text: text.into(),
        }
    }

    fn one(text: &str) -> Result<Vec<Value>, RenderError> {
        Ok(render(&[src("t.yaml", text)], &images())?
            .into_iter()
            .map(|r| r.object)
            .collect())
    }

    fn pod(image_line: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    {image_line}\n"
        )
    }

    fn image_of(objects: &[Value]) -> &Value {
        &objects[0]["spec"]["containers"][0]["image"]
    }

    #[test]
    fn bare_names_are_pinned_only_in_container_image_fields() {
        let text = r#"
apiVersion: batch/v1
kind: CronJob
metadata:
  name: app
  labels:
    image: app
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
          - name: i
            image: app
          containers:
          - name: c
            image: busybox:1
            env:
            - name: image
              value: app
          ephemeralContainers:
          - name: e
            image: app
"#;
        let objects = one(text).unwrap();
        let spec = &objects[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(spec["initContainers"][0]["image"], REF);
        assert_eq!(spec["ephemeralContainers"][0]["image"], REF);
        assert_eq!(
            spec["containers"][0]["image"], "busybox:1",
            "not a werf image"
        );
        assert_eq!(spec["containers"][0]["env"][0]["value"], "app");
        assert_eq!(objects[0]["metadata"]["labels"]["image"], "app");
        assert_eq!(objects[0]["metadata"]["name"], "app");
    }

    #[test]
    fn unknown_images_name_file_line_and_known_images() {
        let known = ["app".to_string(), "web-ui".to_string()];
        for line in [
            "image: {{ .Values.werf.image.nosuch }}",
            "image: {{- $.Values.werf.image.nosuch | quote }}",
            "image: {{ index .Values.werf.image \"nosuch\" }}",
            "image: {{ index $.Values.werf.image `nosuch` }}",
        ] {
            let err = check_image_names(&[src("t.yaml", &pod(line))], &known).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with("/p/.helm/templates/t.yaml:8: unknown image `nosuch`"),
                "{line}: {msg}"
            );
            assert!(msg.ends_with("the images are: app, web-ui"), "{msg}");
        }
        for line in [
            "image: {{ .Values.werf.image.app }}",
            "image: {{ index .Values.werf.image \"web-ui\" }}",
            "image: {{ .Values.werf.image | toJson }}",
        ] {
            check_image_names(&[src("t.yaml", &pod(line))], &known)
                .unwrap_or_else(|e| panic!("{line}: {e}"));
        }
        // A bare name that is no werf image is left alone: it is an ordinary image.
        assert_eq!(image_of(&one(&pod("image: nosuch")).unwrap()), "nosuch");
    }

    #[test]
    fn documents_empty_or_only_comments_are_dropped_and_lists_expanded() {
        let text = format!(
            "# leading comment\n---\n---\n# only a comment\n---\n{}---\n\
             apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {{name: s}}\n\
             - apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: c}}\n...\n",
            pod("image: app")
        );
        let objects = render(
            &[src("a.yaml", &text), src("b.yml", "# nothing\n")],
            &images(),
        )
        .unwrap();
        let kinds: Vec<&Value> = objects.iter().map(|r| &r.object["kind"]).collect();
        assert_eq!(
            kinds,
            [&json!("Pod"), &json!("Service"), &json!("ConfigMap")]
        );
        assert!(objects.iter().all(|r| r.source == "a.yaml"));
    }

    #[test]
    fn non_objects_and_bad_yaml_are_refused() {
        let err = one("- a\n- b\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("document 1: a Kubernetes object must be a mapping"),
            "{err}"
        );
        let err = one(&format!("{}---\nkind: Pod\n", pod("image: app"))).unwrap_err();
        assert!(
            err.to_string().contains("document 2: no `apiVersion`"),
            "{err}"
        );
        let err = one("apiVersion: v1\nkind: [x]\n").unwrap_err();
        assert!(err.to_string().contains("`kind` must be a string"), "{err}");
        let err = one("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, RenderError::Yaml { line: 5, .. }), "{msg}");
        assert!(msg.starts_with("/p/.helm/templates/t.yaml:5:"), "{msg}");
    }

    #[test]
    fn scalars_are_read_as_kubernetes_reads_them() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    \
                    a: \"yes\"\n    b: \"0644\"\n    c: '1.0'\ndata:\n  script: |\n    #!/bin/sh\n    echo hi\n\
                    mode: 0644\nflag: yes\nreplicas: 3\ncpu: 0.5\n";
        let objects = one(text).unwrap();
        let o = &objects[0];
        assert_eq!(o["mode"], 420, "0644 is octal in YAML 1.1");
        assert_eq!(o["flag"], true);
        assert_eq!(o["replicas"], 3);
        assert_eq!(o["cpu"], 0.5);
        assert_eq!(o["metadata"]["annotations"]["a"], "yes");
        assert_eq!(o["metadata"]["annotations"]["b"], "0644");
        assert_eq!(o["data"]["script"], "#!/bin/sh\necho hi\n");

        // The emitted YAML reads back as the same objects (strings that look like other
        // types stay strings).
        let rendered = render(&[src("c.yaml", text)], &images()).unwrap();
        let yaml = to_yaml(&rendered).unwrap();
        let back: Vec<Value> = serde_saphyr::from_multiple(&yaml).unwrap();
        assert_eq!(back.len(), 1, "{yaml}");
        assert_eq!(&back[0], o, "{yaml}");
    }

    #[test]
    fn yaml_output_has_a_source_comment_per_document() {
        let rendered = render(
            &[
                src("deploy.yaml", &pod("image: app")),
                src(
                    "svc.yaml",
                    "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
                ),
            ],
            &images(),
        )
        .unwrap();
        let yaml = to_yaml(&rendered).unwrap();
        assert!(
            yaml.starts_with("---\n# Source: deploy.yaml\napiVersion: v1\n"),
            "{yaml}"
        );
        assert!(
            yaml.contains("---\n# Source: svc.yaml\napiVersion: v1\nkind: Service\n"),
            "{yaml}"
        );
        assert_eq!(yaml.matches("\n---\n").count() + 1, 2, "{yaml}");
        assert!(
            yaml.contains(&format!("\n    image: {REF}\n")),
            "on one line: {yaml}"
        );
    }

    #[test]
    fn local_store_images_cannot_be_pinned() {
        assert_eq!(
            pinned_reference("app", "r.test/hello", "sha256:ab").unwrap(),
            "r.test/hello@sha256:ab"
        );
        let err = pinned_reference("app", "oci:/tmp/store", "sha256:ab").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("--repo") && msg.contains("oci:/tmp/store"),
            "{msg}"
        );
        assert!(err.is_bad_input());
    }

    #[test]
    fn sources_are_read_recursively_in_name_order() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let d = dir.join("templates");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        for (name, text) in [
            ("b.yaml", "b"),
            ("a.yml", "\u{feff}a"),
            ("sub/c.yaml", "c"),
            ("_helpers.tpl", "x"),
            ("_partial.yaml", "x"),
            ("notes.txt", "x"),
            (".hidden.yaml", "x"),
        ] {
            std::fs::write(d.join(name), text).unwrap();
        }
        let sources = load_sources(&d, Path::new(".helm/templates")).unwrap();
        let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                ".helm/templates/a.yml",
                ".helm/templates/b.yaml",
                ".helm/templates/sub/c.yaml"
            ]
        );
        assert_eq!(sources[0].text, "a", "the BOM is dropped");
        assert_eq!(sources[2].path, d.join("sub/c.yaml"));

        let err = load_sources(&dir.join("missing"), Path::new("m")).unwrap_err();
        assert!(err.to_string().contains("no such folder"), "{err}");
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        let err = load_sources(&dir.join("empty"), Path::new("m")).unwrap_err();
        assert!(
            err.to_string().contains("no *.yaml or *.yml files"),
            "{err}"
        );
    }
}
