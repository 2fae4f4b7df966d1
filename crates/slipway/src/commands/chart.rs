//! `chart render`: what `helm template` prints, rendered natively.

use std::io::Write;

use anyhow::Result;
use serde_json::{Value, json};
use slipway_chart::helm::{Request, template_chart};

use crate::cli::{ChartCommand, ChartRenderArgs, Output};
use crate::settings::Settings;

pub(crate) mod oci;

/// Runs a `chart` subcommand; `settings` resolves the registry trust settings, and is
/// called only when a chart dependency is pulled from a registry.
///
/// # Errors
/// [`slipway_chart::helm::Error`] (bad input unless a file cannot be read), a dependency
/// that cannot be pulled (bad input when its version or repository is wrong, the
/// registry's error otherwise), or a write failure.
pub fn run_with(
    settings: &dyn Fn() -> Result<Settings>,
    cmd: &ChartCommand,
    output: Output,
    out: &mut dyn Write,
) -> Result<crate::ExitCode> {
    match cmd {
        ChartCommand::Render(a) => render(settings, a, output, out)?,
    }
    Ok(crate::ExitCode::Ok)
}

fn request(a: &ChartRenderArgs) -> Request {
    Request {
        chart: a.chart.clone(),
        release: a.release.clone(),
        namespace: a.namespace.clone(),
        value_files: a.values.clone(),
        set: a.set.clone(),
        set_string: a.set_string.clone(),
        set_json: a.set_json.clone(),
        set_file: a.set_file.clone(),
        set_literal: a.set_literal.clone(),
        kube_version: a.kube_version.clone(),
        api_versions: a.api_versions.clone(),
        show_only: a.show_only.clone(),
        include_crds: a.include_crds,
        no_hooks: a.no_hooks,
        skip_tests: a.skip_tests,
        is_upgrade: a.is_upgrade,
        // The command exits once it has printed the result.
        exiting: true,
    }
}

fn render(
    settings: &dyn Fn() -> Result<Settings>,
    a: &ChartRenderArgs,
    output: Output,
    out: &mut dyn Write,
) -> Result<()> {
    let req = request(a);
    // Read and loaded once; again only when a dependency was pulled from a registry.
    let load = |files: Vec<slipway_chart::model::File>| {
        slipway_chart::load::load_files(files, &[]).map_err(slipway_chart::helm::Error::from)
    };
    let mut files =
        slipway_chart::load::read_chart(&req.chart).map_err(slipway_chart::helm::Error::from)?;
    let mut chart = load(files.clone())?;
    if oci::add_missing_subcharts(&chart, &mut files, &|d| oci::pull_all(&settings()?, d))? {
        chart = load(files)?;
    }
    let rendered = template_chart(&req, chart)?;
    match output {
        Output::Human => out.write_all(rendered.text.as_bytes())?,
        Output::Json => {
            let mut docs = Vec::new();
            for (source, text) in &rendered.documents() {
                let object: Value = serde_saphyr::from_str(text).unwrap_or(Value::Null);
                docs.push(json!({
                    "source": source,
                    "kind": object.get("kind").cloned().unwrap_or(Value::Null),
                    "name": object.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
                    "object": object,
                }));
            }
            super::write_json(out, &json!({ "manifests": docs }))?;
        }
    }
    Ok(())
}
