//! A chart as Helm holds it after loading: its metadata, default values, templates, other
//! files and subcharts.

use slipway_template::Value;

/// One file of a chart, by its path inside the chart (`templates/deployment.yaml`,
/// `files/app.conf`), with `/` separators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Path inside the chart.
    pub name: String,
    /// Contents.
    pub data: Vec<u8>,
}

/// A file's bytes as text, as Go's `string(bytes)` shows them: invalid UTF-8 becomes
/// U+FFFD. (Valid text, the usual case, is checked by the faster strict check first.)
pub(crate) fn text_of(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(data).into_owned(),
    }
}

/// A maintainer entry of `Chart.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Maintainer {
    /// `name`.
    pub name: String,
    /// `email`.
    pub email: String,
    /// `url`.
    pub url: String,
}

/// One entry of `dependencies:` (`Chart.yaml` v2, or `requirements.yaml` for v1 charts).
#[derive(Clone, Debug, Default)]
pub struct Dependency {
    /// `name`: the subchart's name (its folder or archive under `charts/`).
    pub name: String,
    /// `version`: a semver range.
    pub version: String,
    /// `repository`: where it comes from (`file://..`, `https://..`, `oci://..`, or empty).
    pub repository: String,
    /// `condition`: comma-separated values paths; the first that exists and is a bool
    /// decides whether the subchart is enabled.
    pub condition: String,
    /// `tags`: any tag set true in `.Values.tags` enables it (unless a condition decided).
    pub tags: Vec<String>,
    /// Set by dependency processing: whether the subchart is rendered.
    pub enabled: bool,
    /// `import-values`: each a string (`child` path, imports `exports.<child>`) or a map
    /// with `child` and `parent`; kept as read from YAML.
    pub import_values: Vec<Value>,
    /// `alias`: the name the subchart is rendered (and its values keyed) under.
    pub alias: String,
}

/// `Chart.yaml`.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    /// `name`.
    pub name: String,
    /// `home`.
    pub home: String,
    /// `sources`.
    pub sources: Vec<String>,
    /// `version`.
    pub version: String,
    /// `description`.
    pub description: String,
    /// `keywords`.
    pub keywords: Vec<String>,
    /// `maintainers`.
    pub maintainers: Vec<Maintainer>,
    /// `icon`.
    pub icon: String,
    /// `apiVersion`: `v1` or `v2`.
    pub api_version: String,
    /// `condition` (unused by Helm 3+, kept for `.Chart`).
    pub condition: String,
    /// `tags` (unused by Helm 3+, kept for `.Chart`).
    pub tags: String,
    /// `appVersion`.
    pub app_version: String,
    /// `deprecated`.
    pub deprecated: bool,
    /// `annotations`.
    pub annotations: std::collections::BTreeMap<String, String>,
    /// `kubeVersion`: a semver range the cluster must meet.
    pub kube_version: String,
    /// `dependencies`.
    pub dependencies: Vec<Dependency>,
    /// `type`: `application` (or empty) or `library`.
    pub chart_type: String,
}

/// A loaded chart.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    /// `Chart.yaml`.
    pub metadata: Metadata,
    /// `values.yaml`, read as Helm reads values (every number a `float64`).
    pub values: Value,
    /// `values.schema.json`, if any.
    pub schema: Option<Vec<u8>>,
    /// Everything under `templates/`.
    pub templates: Vec<File>,
    /// Every other file not excluded by `.helmignore` (what `.Files` sees), including
    /// `crds/` files, `README`s and `values.yaml` itself, as Helm keeps them.
    pub files: Vec<File>,
    /// Subcharts found under `charts/` (folders and `.tgz` archives).
    pub dependencies: Vec<Chart>,
    /// The names of the charts above this one, outermost first (empty for the root).
    pub parents: Vec<String>,
}

impl Chart {
    /// Whether this is a library chart (renders no manifests of its own).
    pub fn is_library(&self) -> bool {
        self.metadata.chart_type == "library"
    }

    /// Helm's `ChartFullPath`: `root/charts/sub/charts/subsub`.
    pub fn full_path(&self) -> String {
        let mut parts: Vec<&str> = self.parents.iter().map(String::as_str).collect();
        parts.push(&self.metadata.name);
        parts.join("/charts/")
    }

    /// The files under `crds/` (Helm's `CRDObjects`), in file order.
    pub fn crds(&self) -> Vec<&File> {
        self.files
            .iter()
            .filter(|f| f.name.starts_with("crds/") && is_crd_file(&f.name))
            .collect()
    }
}

fn is_crd_file(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")
}
