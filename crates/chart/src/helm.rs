//! `helm template`, end to end: load the chart, merge the values, process dependencies,
//! check the schema, render, and order the documents as Helm prints them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;

use slipway_template::Value;

use crate::manifests::{CrdFile, TemplateOptions};
use crate::model::Chart;
use crate::render::{Capabilities, RenderError};
use crate::values::{ReleaseOptions, SetKind};

/// What to render, as `helm template`'s flags say it.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The chart folder or archive.
    pub chart: PathBuf,
    /// `.Release.Name`.
    pub release: String,
    /// `.Release.Namespace`.
    pub namespace: String,
    /// `-f` files, in order.
    pub value_files: Vec<PathBuf>,
    /// `--set`, `--set-string`, `--set-json`, `--set-file`, `--set-literal`, each as given.
    pub set: Vec<String>,
    /// `--set-string`.
    pub set_string: Vec<String>,
    /// `--set-json`.
    pub set_json: Vec<String>,
    /// `--set-file`.
    pub set_file: Vec<String>,
    /// `--set-literal`.
    pub set_literal: Vec<String>,
    /// `--kube-version`.
    pub kube_version: Option<String>,
    /// `--api-versions`.
    pub api_versions: Vec<String>,
    /// `--show-only`.
    pub show_only: Vec<String>,
    /// `--include-crds`.
    pub include_crds: bool,
    /// `--no-hooks`.
    pub no_hooks: bool,
    /// `--skip-tests`.
    pub skip_tests: bool,
    /// `--is-upgrade`.
    pub is_upgrade: bool,
    /// The process exits once the result is written: the chart, its values, templates and
    /// parse trees are left unfreed, as freeing them would be work for nothing (about 2%
    /// of a small chart's render).
    pub exiting: bool,
}

/// Why `template` failed. Every variant is bad input (exit 2) except [`Error::Io`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Loading the chart failed.
    #[error("{0}")]
    Load(#[from] crate::load::LoadError),
    /// A values file, a `--set` or the values themselves are wrong.
    #[error("{0}")]
    Values(String),
    /// Rendering failed, or met something slipway does not support.
    #[error("{0}")]
    Render(#[from] RenderError),
    /// Any other refusal Helm would make (library chart, kubeVersion, YAML of a
    /// rendered document, `--show-only` that matches nothing).
    #[error("{0}")]
    Invalid(String),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the user's input is at fault (exit 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            Error::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            Error::Load(crate::load::LoadError::Io { source, .. }) => {
                source.kind() == std::io::ErrorKind::NotFound
            }
            _ => true,
        }
    }
}

/// What `template` produced.
pub struct Rendered {
    /// Exactly what `helm template` prints.
    pub text: String,
}

impl Rendered {
    /// The documents printed, in order: (source path, document text). Split on demand:
    /// only `--output json` needs them.
    pub fn documents(&self) -> Vec<(String, String)> {
        crate::manifests::split_manifests(&self.text)
            .into_iter()
            .map(|doc| {
                let source = doc
                    .lines()
                    .find_map(|l| l.strip_prefix("# Source: "))
                    .unwrap_or_default()
                    .to_owned();
                (source, doc)
            })
            .collect()
    }
}

/// The user's values: each `-f` file in order, then the `--set*` flags, merged by Helm's
/// rules.
pub fn user_values(req: &Request) -> Result<Value, Error> {
    let mut files = Vec::new();
    for path in &req.value_files {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        files.push((path.display().to_string(), text));
    }
    let mut sets = Vec::new();
    for (kind, lines) in [
        (SetKind::Set, &req.set),
        (SetKind::String, &req.set_string),
        (SetKind::Json, &req.set_json),
        (SetKind::File, &req.set_file),
        (SetKind::Literal, &req.set_literal),
    ] {
        sets.extend(lines.iter().map(|l| (kind, l.clone())));
    }
    crate::values::merge_user_values(&files, &sets).map_err(|e| Error::Values(e.to_string()))
}

/// The `crds/` files of a chart and its subcharts, in Helm's order, named from the top
/// chart (`CHART/crds/x.yaml`, `CHART/charts/SUB/crds/y.yaml`).
fn crd_files(chart: &Chart, out: &mut Vec<CrdFile>) {
    let prefix = chart.full_path();
    for f in chart.crds() {
        out.push(CrdFile {
            filename: format!("{prefix}/{}", f.name),
            data: crate::model::text_of(&f.data),
        });
    }
    for sub in &chart.dependencies {
        crd_files(sub, out);
    }
}

/// Renders as `helm template` does, up to the rendered files: returns the chart as
/// processed, the rendered text of each template by path, and the API versions the
/// templates saw.
pub fn render_chart(
    req: &Request,
    chart: &mut Chart,
    user: &Value,
) -> Result<(BTreeMap<String, String>, Vec<String>), Error> {
    if !matches!(chart.metadata.chart_type.as_str(), "" | "application") {
        return Err(Error::Invalid(format!(
            "{} charts are not installable",
            chart.metadata.chart_type
        )));
    }
    crate::deps::process_dependencies(chart, user).map_err(|e| Error::Invalid(e.to_string()))?;
    let caps = Capabilities::new(req.kube_version.as_deref(), &req.api_versions)
        .map_err(|e| Error::Invalid(format!("invalid kube version {e}")))?;
    let kube = &chart.metadata.kube_version;
    if !kube.is_empty() && !crate::deps::is_compatible_range(kube, &caps.kube_version.normalized) {
        return Err(Error::Invalid(format!(
            "chart requires kubeVersion: {kube} which is incompatible with Kubernetes {}",
            caps.kube_version.normalized
        )));
    }
    let release = ReleaseOptions {
        name: req.release.clone(),
        namespace: req.namespace.clone(),
        revision: 1,
        is_install: !req.is_upgrade,
        is_upgrade: req.is_upgrade,
    };
    let api_versions = caps.api_versions.0.clone();
    let top = crate::values::to_render_values(chart, user, &release, Value::Object(Rc::new(caps)))
        .map_err(|e| Error::Values(e.to_string()))?;
    if let Value::Map(m) = &top {
        let values = m.borrow().get("Values").cloned().unwrap_or_default();
        crate::schema::validate(chart, &values).map_err(|e| Error::Values(e.to_string()))?;
    }
    let files = crate::render::render_leaving(chart, &top, req.exiting)?;
    if req.exiting {
        std::mem::forget(top);
    }
    Ok((files, api_versions))
}

/// `helm template`: loads `req.chart`, then [`template_chart`].
pub fn template(req: &Request) -> Result<Rendered, Error> {
    template_chart(req, crate::load::load(&req.chart)?)
}

/// `helm template` of a chart already loaded (with subcharts fetched from elsewhere, for
/// instance).
pub fn template_chart(req: &Request, mut chart: Chart) -> Result<Rendered, Error> {
    let user = user_values(req)?;
    let (files, api_versions) = render_chart(req, &mut chart, &user)?;
    let mut crds = Vec::new();
    crd_files(&chart, &mut crds);
    let options = TemplateOptions {
        include_crds: req.include_crds,
        no_hooks: req.no_hooks,
        skip_tests: req.skip_tests,
        hide_secret: false,
        show_only: req.show_only.clone(),
    };
    let rendered = crate::manifests::render_resources(&files, &crds, &api_versions, &options)
        .map_err(|e| {
            Error::Invalid(crate::manifests::ManifestError::Invalid(Box::new(e)).to_string())
        })?;
    let text = crate::manifests::format_template(rendered, &options)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    if req.exiting {
        std::mem::forget(chart);
    }
    Ok(Rendered { text })
}
