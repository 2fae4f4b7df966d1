//! `render`: build as `slipway build` does, then the app's manifests with every werf image
//! pinned to the digest just built. [`render`] is the part `converge` reuses.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};
use slipway_builder::BuildReport;
use slipway_kube::render::{RenderError, Rendered};

use super::build::{build_images, load_config_for, refuse_werf_flags};
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
    /// The objects, each with its source file, in Helm's install order.
    pub objects: Vec<Rendered>,
    /// The chart's hooks (`helm.sh/hook`), in Helm's order.
    pub hooks: Vec<super::werf_chart::HookObject>,
}

impl RenderOutput {
    /// Returns the objects alone, in order.
    pub fn values(&self) -> Vec<Value> {
        self.objects.iter().map(|r| r.object.clone()).collect()
    }
}

/// The release and namespace werf would deploy to (the flags, else werf.yaml's deploy
/// templates, else PROJECT[-ENV]; a bad name exits 2, as in werf), and a note that the
/// kubeconfig flags are not read: render never contacts the cluster.
///
/// # Errors
/// A namespace or release that converge would refuse.
fn target(config: &slipway_werf::WerfConfig, t: &RenderTargetArgs) -> Result<(String, String)> {
    let chosen = super::converge::werf_target(
        config,
        t.env.as_deref(),
        t.namespace.as_deref(),
        t.release.as_deref(),
    )?;
    if t.kube.kube_config.is_some() || t.kube.kube_context.is_some() {
        eprintln!(
            "note: render does not contact the cluster, so --kube-config and --kube-context are not read"
        );
    }
    Ok(chosen)
}

/// Builds and renders as `slipway render` does, printing only the build's progress (on
/// stderr). The chart is loaded and rendered once with placeholder image references, and
/// `--repo` required, before anything is built. The refused werf flags are the caller's
/// to check ([`refuse_werf_flags`]).
///
/// # Errors
/// [`RenderError`]s and the chart engine's errors (all bad input but read and write
/// failures), the build's errors, and report write failures.
pub fn render(settings: &Settings, global: &GlobalArgs, a: &RenderArgs) -> Result<RenderOutput> {
    let config = load_config_for(&a.build, a.target.env.as_deref())?;
    let (namespace, release) = target(&config, &a.target)?;
    let chart = super::werf_chart::load(
        &a.build.dir,
        config.deploy.helm_chart_dir.as_deref(),
        a.manifests.as_deref(),
        &config.project,
        config.deploy.app_version.as_deref(),
        settings,
    )?;
    // As in werf, intermediate images (`final: false`) are not among the images the
    // manifests can name.
    let names: Vec<String> = config
        .images
        .iter()
        .filter(|i| i.is_final)
        .map(|i| i.name.clone())
        .collect();
    slipway_kube::render::check_image_names(&chart.templates, &names)
        .map_err(|e| intermediate(&config, e))?;
    let Some(repo) = global.repo.as_deref() else {
        return Err(RenderError::NoRegistry.into());
    };
    // With --final-repo, the images are pulled from there, and .Values.werf.repo names it.
    let final_repo = a
        .build
        .final_repo
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty());
    let repo = final_repo.unwrap_or(repo);
    let who = super::werf_chart::Target {
        release: &release,
        namespace: &namespace,
        env: a.target.env.as_deref(),
        project: &config.project,
        repo,
    };
    // Everything that can fail in the chart fails now, before the build.
    let placeholder = format!("example.invalid/werf-image@sha256:{}", "0".repeat(64));
    let stubs = names
        .iter()
        .map(|n| (n.clone(), placeholder.clone()))
        .collect();
    super::werf_chart::render(&chart, &who, &stubs, &a.deploy)?;
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
    let out = super::werf_chart::render(&chart, &who, &images, &a.deploy)?;
    Ok(RenderOutput {
        report,
        images,
        objects: out.objects,
        hooks: out.hooks,
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
    let files: std::collections::BTreeSet<&str> = r
        .objects
        .iter()
        .map(|o| o.source.as_str())
        .chain(r.hooks.iter().map(|h| h.source.as_str()))
        .collect();
    let bytes = match global.output {
        Output::Json => {
            let hooks: Vec<Value> = r
                .hooks
                .iter()
                .map(|h| {
                    json!({
                        "source": h.source,
                        "events": h.events,
                        "weight": h.weight,
                        "deletePolicies": h.delete_policies,
                        "object": h.object,
                    })
                })
                .collect();
            let mut b = serde_json::to_vec_pretty(&json!({
                "manifests": r.values(),
                "hooks": hooks,
                "images": r.images,
            }))?;
            b.push(b'\n');
            b
        }
        // As `helm template` prints them: the release's objects, then its hooks.
        Output::Human => {
            let hooks: Vec<Rendered> = r
                .hooks
                .iter()
                .map(|h| Rendered {
                    source: h.source.clone(),
                    object: h.object.clone(),
                })
                .collect();
            let mut text = slipway_kube::render::to_yaml(&r.objects)?;
            text.push_str(&slipway_kube::render::to_yaml(&hooks)?);
            text.into_bytes()
        }
    };
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let hooks = match r.hooks.len() {
        0 => String::new(),
        n => format!(" and {n} hook{}", plural(n)),
    };
    let summary = format!(
        "rendered {} object{}{hooks} from {} file{}",
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
