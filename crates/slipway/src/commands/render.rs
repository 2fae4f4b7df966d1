//! `render`: build as `slipway build` does, then the app's manifests with every werf image
//! pinned to the digest just built. [`render`] is the part `converge` reuses.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};
use slipway_builder::BuildReport;
use slipway_kube::render::{RenderError, Rendered, Source};

use super::build::{build_images, load_config, refuse_werf_flags};
use crate::ExitCode;
use crate::cli::{GlobalArgs, Output, RenderArgs, RenderTargetArgs};
use crate::settings::Settings;

/// What [`render`] produced: the build report, the pinned reference of every image, and
/// the objects in file order (what `converge` applies).
#[derive(Debug)]
pub struct RenderOutput {
    /// The build report, as `slipway build` gives it.
    pub report: BuildReport,
    /// werf image name to `REPO@sha256:DIGEST` (with `--use-custom-tag`, `REPO:TAG`).
    pub images: BTreeMap<String, String>,
    /// The objects, each with its source file.
    pub objects: Vec<Rendered>,
}

impl RenderOutput {
    /// Returns the objects alone, in order.
    pub fn values(&self) -> Vec<Value> {
        self.objects.iter().map(|r| r.object.clone()).collect()
    }
}

/// Reads the manifests: `--manifests DIR`, else `DIR/CHART/templates`, where CHART is
/// werf.yaml's `deploy.helmChartDir` (`.helm` when unset).
///
/// # Errors
/// [`RenderError::Folder`] naming both places when the folder is missing or empty, and
/// [`RenderError::Read`].
pub fn sources(a: &RenderArgs, chart_dir: Option<&str>) -> Result<Vec<Source>, RenderError> {
    let rel = Path::new(chart_dir.unwrap_or(".helm")).join("templates");
    let default = a.build.dir.join(&rel);
    let setting = match chart_dir {
        Some(d) => format!(" (werf.yaml's deploy.helmChartDir is {d})"),
        None => String::new(),
    };
    match &a.manifests {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(RenderError::Folder {
                    message: format!(
                        "--manifests {}: no such folder (without --manifests, slipway reads {}{setting})",
                        dir.display(),
                        default.display()
                    ),
                });
            }
            slipway_kube::render::load_sources(dir, dir)
        }
        None => {
            if !default.is_dir() {
                let layout = if chart_dir.is_some() {
                    format!("{}/", rel.display())
                } else {
                    ".helm/templates/ (werf's layout)".to_string()
                };
                return Err(RenderError::Folder {
                    message: format!(
                        "no manifests to render: {} does not exist{setting} and --manifests was not \
                         given; put the Kubernetes YAML in {layout} or pass --manifests DIR",
                        default.display()
                    ),
                });
            }
            slipway_kube::render::load_sources(&default, &rel)
        }
    }
}

/// Checks werf's release and namespace flags as converge would use them (a bad name exits
/// 2, as in werf), and says that the kubeconfig flags are not read: render never contacts
/// the cluster.
///
/// # Errors
/// A namespace or release that converge would refuse.
fn check_target(config: &slipway_werf::WerfConfig, t: &RenderTargetArgs) -> Result<()> {
    if t.namespace.is_some() || t.release.is_some() || t.env.is_some() {
        super::converge::werf_target(
            config,
            t.env.as_deref(),
            t.namespace.as_deref(),
            t.release.as_deref(),
        )?;
    }
    if t.kube.kube_config.is_some() || t.kube.kube_context.is_some() {
        eprintln!(
            "note: render does not contact the cluster, so --kube-config and --kube-context are not read"
        );
    }
    Ok(())
}

/// Builds and renders as `slipway render` does, printing only the build's progress (on
/// stderr). The manifests are checked, and `--repo` required, before anything is built.
/// The refused werf flags are the caller's to check ([`refuse_werf_flags`]).
///
/// # Errors
/// [`RenderError`]s (all bad input but read and write failures), the build's errors, and
/// report write failures.
pub fn render(settings: &Settings, global: &GlobalArgs, a: &RenderArgs) -> Result<RenderOutput> {
    let config = load_config(&a.build)?;
    check_target(&config, &a.target)?;
    let sources = sources(a, config.deploy.helm_chart_dir.as_deref())?;
    // As in werf, intermediate images (`final: false`) are not among the images the
    // manifests can name.
    let names: Vec<String> = config
        .images
        .iter()
        .filter(|i| i.is_final)
        .map(|i| i.name.clone())
        .collect();
    slipway_kube::render::check(&sources, &names).map_err(|e| intermediate(&config, e))?;
    if global.repo.is_none() {
        return Err(RenderError::NoRegistry.into());
    }
    let built = build_images(
        settings,
        global,
        &a.build,
        &config,
        a.deploy.use_custom_tag.as_deref(),
    )?;
    let report = built.report;
    let mut images = BTreeMap::new();
    for (name, img) in report.images.iter().filter(|(_, img)| img.is_final) {
        let pinned = slipway_kube::render::pinned_reference(
            name,
            &img.docker_repo,
            &img.docker_image_digest,
        )?;
        // --use-custom-tag: the tag just pushed instead of the digest, as werf does.
        let reference = built.custom.get(name).cloned().unwrap_or(pinned);
        images.insert(name.clone(), reference);
    }
    let objects =
        slipway_kube::render::render(&sources, &images).map_err(|e| intermediate(&config, e))?;
    Ok(RenderOutput {
        report,
        images,
        objects,
    })
}

/// Says, when the manifests name an intermediate image, why it is not there.
fn intermediate(config: &slipway_werf::WerfConfig, e: RenderError) -> anyhow::Error {
    match &e {
        RenderError::UnknownImage { name, .. }
            if config.image(name).is_some_and(|i| !i.is_final) =>
        {
            crate::BadInput(format!(
                "{e}; `{name}` has `final: false` in werf.yaml: werf leaves intermediate images \
                 out of .Values.werf.image, so manifests cannot name it (remove `final: false`, \
                 or name a final image)"
            ))
            .into()
        }
        _ => e.into(),
    }
}

/// Runs `slipway render`.
///
/// # Errors
/// As [`render`], and output failures.
pub fn run(
    settings: &Settings,
    global: &GlobalArgs,
    a: &RenderArgs,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    refuse_werf_flags(&a.build, Some(&a.deploy))?;
    let r = render(settings, global, a)?;
    let mut err = std::io::stderr().lock();
    for (name, img) in &r.report.images {
        let built = if img.rebuilt { "built" } else { "cached" };
        match r.images.get(name) {
            Some(reference) => writeln!(err, "{name}: {reference} ({built})")?,
            None => writeln!(
                err,
                "{name}: {} ({built}; final: false, not in the manifests)",
                img.docker_image_name
            )?,
        }
    }
    let files: std::collections::BTreeSet<&str> =
        r.objects.iter().map(|o| o.source.as_str()).collect();
    let bytes = match global.output {
        Output::Json => {
            let mut b = serde_json::to_vec_pretty(&json!({
                "manifests": r.values(),
                "images": r.images,
            }))?;
            b.push(b'\n');
            b
        }
        Output::Human => slipway_kube::render::to_yaml(&r.objects)?.into_bytes(),
    };
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let summary = format!(
        "rendered {} object{} from {} file{}",
        r.objects.len(),
        plural(r.objects.len()),
        files.len(),
        plural(files.len())
    );
    match a.out.as_deref().filter(|p| *p != Path::new("-")) {
        Some(path) => {
            slipway_oci::write_file_atomic(path, &bytes)?;
            writeln!(err, "{summary} into {}", path.display())?;
        }
        None => {
            out.write_all(&bytes)?;
            writeln!(err, "{summary}")?;
        }
    }
    Ok(ExitCode::Ok)
}
