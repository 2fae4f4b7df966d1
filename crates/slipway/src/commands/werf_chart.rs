//! A werf project's chart: `.helm/` (or werf.yaml's `deploy.helmChartDir`, or a
//! `--manifests` folder), rendered as werf renders it: Helm's engine with werf's service
//! values (`.Values.werf.image.NAME`, `.Values.werf.repo`, `.Values.werf.namespace`,
//! `.Values.werf.env`, `.Values.werf.name`, `.Values.global.env`) over the user's values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::Value as Json;
use slipway_chart::manifests::{CrdFile, TemplateOptions};
use slipway_chart::model::{Chart, File};
use slipway_kube::render::{RenderError, Rendered, Source};
use slipway_template::Value;

use crate::cli::DeployArgs;

/// The chart of a werf project, loaded, with its template texts (for the image-name check).
pub struct WerfChart {
    /// The chart as loaded (dependencies not yet processed).
    pub chart: Chart,
    /// Every template file, for messages and [`slipway_kube::render::check_image_names`].
    pub templates: Vec<Source>,
}

/// Who the chart is rendered for.
pub struct Target<'a> {
    /// `.Release.Name`.
    pub release: &'a str,
    /// `.Release.Namespace` and `.Values.werf.namespace`.
    pub namespace: &'a str,
    /// `--env`: `.Values.werf.env` and `.Values.global.env`.
    pub env: Option<&'a str>,
    /// werf.yaml's `project`: `.Values.werf.name`, and the chart's name when the chart
    /// has no Chart.yaml.
    pub project: &'a str,
    /// `--repo`: `.Values.werf.repo`.
    pub repo: &'a str,
}

/// A hook the chart declares (`helm.sh/hook`), as an object.
#[derive(Clone, Debug)]
pub struct HookObject {
    /// The template it came from.
    pub source: String,
    /// When it runs: `pre-install`, `post-install`, ...
    pub events: Vec<String>,
    /// `helm.sh/hook-weight`.
    pub weight: i64,
    /// `helm.sh/hook-delete-policy` (`before-hook-creation` when unset, as Helm does).
    pub delete_policies: Vec<String>,
    /// The object.
    pub object: Json,
}

/// What the chart rendered to: the release's objects in Helm's install order, and its
/// hooks.
pub struct Output {
    /// The objects, in install order.
    pub objects: Vec<Rendered>,
    /// The hooks, in Helm's order (weight, then kind, then name).
    pub hooks: Vec<HookObject>,
}

/// Loads the chart: `manifests` (a folder of templates) when given, else `DIR/CHART`
/// where CHART is `chart_dir` (werf.yaml's `deploy.helmChartDir`) or `.helm`. A chart
/// without Chart.yaml is named after the project, version 1.0.0, as werf names it.
/// `app_version` (werf.yaml's `deploy.helmChartConfig.appVersion`) replaces the chart's
/// appVersion, `.Chart.AppVersion`, when given.
///
/// # Errors
/// [`RenderError::Folder`] naming where slipway looked; the chart loader's errors.
pub fn load(
    dir: &Path,
    chart_dir: Option<&str>,
    manifests: Option<&Path>,
    project: &str,
    app_version: Option<&str>,
    settings: &crate::settings::Settings,
) -> Result<WerfChart> {
    let rel = Path::new(chart_dir.unwrap_or(".helm"));
    let default = dir.join(rel);
    let setting = match chart_dir {
        Some(d) => format!(" (werf.yaml's deploy.helmChartDir is {d})"),
        None => String::new(),
    };
    let (root, files) = match manifests {
        Some(m) => {
            if !m.is_dir() {
                return Err(RenderError::Folder {
                    message: format!(
                        "--manifests {}: no such folder (without --manifests, slipway reads {}{setting})",
                        m.display(),
                        default.join("templates").display()
                    ),
                }
                .into());
            }
            // A folder of templates: the templates of a chart without values.
            let files = slipway_chart::load::read_folder(m)?
                .into_iter()
                .map(|f| File {
                    name: format!("templates/{}", f.name),
                    data: f.data,
                })
                .collect();
            (m.to_path_buf(), files)
        }
        None => {
            if !default.join("templates").is_dir() {
                let layout = if chart_dir.is_some() {
                    format!("{}/templates/", rel.display())
                } else {
                    ".helm/templates/ (werf's layout)".to_string()
                };
                return Err(RenderError::Folder {
                    message: format!(
                        "no manifests to render: {} does not exist{setting} and --manifests was not \
                         given; put the chart's templates in {layout} or pass --manifests DIR",
                        default.join("templates").display()
                    ),
                }
                .into());
            }
            if default.join("secret-values.yaml").is_file() {
                anyhow::bail!(crate::BadInput(format!(
                    "{}: werf's encrypted secret values are not supported (slipway cannot decrypt \
                     them); move the values it needs to values.yaml or pass them with --values \
                     from a file your CI decrypts",
                    default.join("secret-values.yaml").display()
                )));
            }
            (default.clone(), slipway_chart::load::read_folder(&default)?)
        }
    };
    let templates = files
        .iter()
        .filter(|f| f.name.starts_with("templates/"))
        .map(|f| Source {
            name: f.name.clone(),
            path: root.join(
                f.name
                    .strip_prefix("templates/")
                    .filter(|_| manifests.is_some())
                    .unwrap_or(&f.name),
            ),
            text: String::from_utf8_lossy(&f.data).into_owned(),
        })
        .collect::<Vec<_>>();
    if !templates.iter().any(|t| {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        !base.starts_with('_') && !base.starts_with('.')
    }) {
        return Err(RenderError::Folder {
            message: format!(
                "{}: no templates to render (files starting with `_` are partials)",
                root.display()
            ),
        }
        .into());
    }
    let mut files = files;
    if !files.iter().any(|f| f.name == "Chart.yaml") {
        files.push(File {
            name: "Chart.yaml".into(),
            data: format!("apiVersion: v2\nname: {project}\nversion: 1.0.0\n").into_bytes(),
        });
    }
    // Dependencies kept in a registry (`oci://`) and missing from charts/ are pulled through
    // this machine's trust for that registry, as `slipway chart render` pulls them.
    // Loaded once; again only when a dependency was pulled.
    let mut chart = slipway_chart::load::load_files(files.clone(), &[])?;
    let pull = |d: &[slipway_chart::model::Dependency]| super::chart::oci::pull_all(settings, d);
    if super::chart::oci::add_missing_subcharts(&chart, &mut files, &pull)? {
        chart = slipway_chart::load::load_files(files, &[])?;
    }
    if let Some(v) = app_version {
        chart.metadata.app_version = v.to_string();
    }
    Ok(WerfChart { chart, templates })
}

/// werf's service values.
fn werf_values(target: &Target<'_>, images: &BTreeMap<String, String>) -> Value {
    let s = Value::str;
    let mut werf = BTreeMap::from([
        ("name".to_string(), s(target.project)),
        ("repo".to_string(), s(target.repo)),
        ("env".to_string(), s(target.env.unwrap_or(""))),
        ("namespace".to_string(), s(target.namespace)),
        (
            "image".to_string(),
            Value::map(images.iter().map(|(k, v)| (k.clone(), s(v))).collect()),
        ),
    ]);
    werf.insert("is_stub".to_string(), Value::Bool(false));
    Value::map(BTreeMap::from([
        ("werf".to_string(), Value::map(werf)),
        (
            "global".to_string(),
            Value::map(BTreeMap::from([(
                "env".to_string(),
                s(target.env.unwrap_or("")),
            )])),
        ),
    ]))
}

/// Renders the chart for `target` with `images` (werf image name to the reference the
/// nodes pull) and the user's `--values`/`--set*`.
///
/// # Errors
/// The chart engine's errors (bad input: a template error, a values error, a construct
/// slipway does not support), and [`RenderError`]s reading the objects.
pub fn render(
    wc: &WerfChart,
    target: &Target<'_>,
    images: &BTreeMap<String, String>,
    deploy: &DeployArgs,
) -> Result<Output> {
    // The flags, then werf's variables for them (WERF_VALUES_1=..., WERF_SET_1=...), as
    // werf reads both.
    let with_env = |flags: &[String], prefix: &str, except: &[&str]| -> Vec<String> {
        let mut all = flags.to_vec();
        all.extend(
            super::build::env_by_prefix(prefix, except)
                .into_iter()
                .map(|(_, v)| v),
        );
        all
    };
    let req = slipway_chart::helm::Request {
        chart: PathBuf::new(),
        release: target.release.to_string(),
        namespace: target.namespace.to_string(),
        value_files: with_env(&deploy.values, "WERF_VALUES_", &[])
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        set: with_env(
            &deploy.set,
            "WERF_SET_",
            &[
                "WERF_SET_STRING_",
                "WERF_SET_FILE_",
                "WERF_SET_DOCKER_CONFIG_JSON_VALUE",
            ],
        ),
        set_string: with_env(&deploy.set_string, "WERF_SET_STRING_", &[]),
        set_file: with_env(&deploy.set_file, "WERF_SET_FILE_", &[]),
        ..Default::default()
    };
    let user = slipway_chart::helm::user_values(&req)?;
    // werf's service values win over the user's, key by key.
    let user = slipway_chart::values::merge_maps(&user, &werf_values(target, images));
    let mut chart = wc.chart.clone();
    let (files, api_versions) = slipway_chart::helm::render_chart(&req, &mut chart, &user)?;
    let options = TemplateOptions::default();
    let crds: Vec<CrdFile> = Vec::new();
    let rendered =
        slipway_chart::manifests::render_resources(&files, &crds, &api_versions, &options)
            .map_err(|e| slipway_chart::helm::Error::Invalid(e.to_string()))?;
    let mut objects = Vec::new();
    for m in &rendered.manifests {
        let src = Source {
            name: m.name.clone(),
            path: PathBuf::from(&m.name),
            text: m.content.clone(),
        };
        objects.extend(slipway_kube::render::objects(&src, images)?);
    }
    let mut hooks = Vec::new();
    for h in &rendered.hooks {
        let src = Source {
            name: h.path.clone(),
            path: PathBuf::from(&h.path),
            text: h.manifest.clone(),
        };
        for r in slipway_kube::render::objects(&src, images)? {
            hooks.push(HookObject {
                source: h.path.clone(),
                events: h.events.iter().map(|e| e.as_str().to_string()).collect(),
                weight: h.weight,
                delete_policies: if h.delete_policies.is_empty() {
                    vec!["before-hook-creation".into()]
                } else {
                    h.delete_policies.clone()
                },
                object: r.object,
            });
        }
    }
    Ok(Output { objects, hooks })
}
