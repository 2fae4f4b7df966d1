//! `build`: werf.yaml + Dockerfiles into content-addressed stages, in --repo or the store.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use slipway_builder::buildah::HostAccess;
use slipway_builder::engine::host_platform;
use slipway_builder::{
    Access, Backend, BuildError, BuildOptions, BuildReport, Compression, Event, LayerFormat,
    Observer, StageStatus,
};
use slipway_oci::{Platform, Reference};
use slipway_registry::{Progress, Registry};
use slipway_trust::RegistryHost;
use slipway_werf::WerfConfig;

use crate::ExitCode;
use crate::cli::{BackendArg, BuildArgs, CompressionArg, GlobalArgs, Output};
use crate::settings::Settings;

/// Opens registries with the command line's trust settings.
struct CliAccess<'a> {
    settings: &'a Settings,
    /// Shows transfers: bars when stderr is a terminal and the output is for people.
    progress: Arc<dyn Progress>,
}

impl Access for CliAccess<'_> {
    fn progress(&self) -> Arc<dyn Progress> {
        self.progress.clone()
    }

    fn registry(&self, reference: &Reference) -> Result<Arc<Registry>, BuildError> {
        super::transfer::registry(self.settings, reference).map_err(|e| BuildError::Access {
            subject: reference.registry.clone(),
            message: format!("{e:#}"),
        })
    }

    fn buildah_host(&self, reference: &Reference) -> Result<HostAccess, BuildError> {
        let access = |e: anyhow::Error| BuildError::Access {
            subject: reference.registry.clone(),
            message: format!("{e:#}"),
        };
        let host = RegistryHost::parse(reference.api_host()).map_err(|e| access(e.into()))?;
        let trust = self.settings.trust_for(&host).map_err(access)?;
        Ok(HostAccess::from_trust(&trust)?)
    }
}

/// Prints one line per stage change on stderr.
struct Lines {
    color: bool,
}

impl Observer for Lines {
    fn event(&self, event: &Event<'_>) {
        let mut err = std::io::stderr().lock();
        let _ = match event {
            Event::Image {
                name,
                stages,
                backend,
            } => writeln!(
                err,
                "image {name}: {stages} stage{} ({backend})",
                if *stages == 1 { "" } else { "s" }
            ),
            Event::Stage {
                image,
                stage,
                digest,
                status,
                seconds,
                backend,
            } => {
                let word = match status {
                    StageStatus::Cached => "cached",
                    StageStatus::Building => "building",
                    StageStatus::Built => "built",
                    StageStatus::Pushing => "pushing",
                    StageStatus::Pushed => "pushed",
                };
                let word = if self.color {
                    match status {
                        StageStatus::Cached => format!("\x1b[2m{word}\x1b[0m"),
                        StageStatus::Built | StageStatus::Pushed => {
                            format!("\x1b[32m{word}\x1b[0m")
                        }
                        _ => format!("\x1b[33m{word}\x1b[0m"),
                    }
                } else {
                    word.to_string()
                };
                let by = backend.map(|b| format!(" ({b})")).unwrap_or_default();
                let time = seconds.map(|s| format!(" in {s:.2}s")).unwrap_or_default();
                writeln!(
                    err,
                    "  {image}/{stage} {} {word}{time}{by}",
                    &digest.hex()[..12]
                )
            }
            Event::Log { image, line } => writeln!(err, "  {image} | {line}"),
        };
    }
}

fn default_store() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("slipway/store"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".local/share/slipway/store")),
        None => bail!("neither XDG_DATA_HOME nor HOME is set: give the store with --store DIR"),
    }
}

pub(crate) fn parse_repo(repo: &str) -> Result<Reference> {
    let r = Reference::parse(repo).with_context(|| format!("--repo {repo}"))?;
    let bare = repo.trim_start_matches("docker://");
    if r.digest.is_some()
        || bare
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
    {
        bail!(
            "--repo {repo}: give a repository without a tag or digest (HOST[:PORT]/PATH); \
             slipway tags every stage with its digest"
        );
    }
    Ok(r)
}

/// Reads the werf.yaml that the build flags name (`--config`, else `DIR/werf.yaml`).
///
/// # Errors
/// [`BuildError::Config`] when it cannot be read or is wrong.
pub fn load_config(a: &BuildArgs) -> Result<WerfConfig> {
    let config_path = a.config.clone().unwrap_or_else(|| a.dir.join("werf.yaml"));
    Ok(slipway_werf::load(&config_path).map_err(BuildError::from)?)
}

/// Builds the images of `config` exactly as `slipway build` does: options from the build
/// flags and `--repo`, one line per stage change on stderr, and the report written to
/// `--report-path` when given. `slipway render` (and `converge`) build through this too.
///
/// # Errors
/// [`BuildError`]s (bad input is found before anything is built or pushed), and report
/// write failures.
pub fn build_images(
    settings: &Settings,
    global: &GlobalArgs,
    a: &BuildArgs,
    config: &WerfConfig,
) -> Result<BuildReport> {
    let repo = global.repo.as_deref().map(parse_repo).transpose()?;
    // Settings werf.yaml has and slipway reads but does not use are said, never ignored.
    for note in &config.notes {
        eprintln!("note: {note}");
    }
    let platform = match &a.platform {
        Some(p) => Platform::parse(p).with_context(|| format!("--platform {p}"))?,
        None => host_platform(),
    };
    let opts = BuildOptions {
        repo,
        store: match &a.store {
            Some(s) => s.clone(),
            None => default_store()?,
        },
        backend: match a.backend {
            BackendArg::Auto => Backend::Auto,
            BackendArg::Native => Backend::Native,
            BackendArg::Buildah => Backend::Buildah,
        },
        format: LayerFormat {
            compression: match a.compression {
                CompressionArg::Gzip => Compression::Gzip,
                CompressionArg::Zstd => Compression::Zstd,
            },
            level: a.compression_level,
            keep_mtimes: a.keep_mtimes,
        },
        platform,
        images: a.images.clone(),
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        processes: slipway_proc::Shared::default(),
    };
    let observer = Lines {
        color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let progress: Arc<dyn Progress> =
        if global.output == Output::Human && std::io::stderr().is_terminal() {
            Arc::new(super::transfer::Bars::new())
        } else {
            Arc::new(slipway_registry::NoProgress)
        };
    let access = CliAccess { settings, progress };
    let report = slipway_builder::build(config, &opts, &access, &observer)?;
    if let Some(path) = &a.report_path {
        let mut bytes = serde_json::to_vec_pretty(&report)?;
        bytes.push(b'\n');
        slipway_oci::write_file_atomic(path, &bytes).context("writing the build report")?;
    }
    Ok(report)
}

/// Runs `slipway build`.
///
/// # Errors
/// As [`load_config`] and [`build_images`], and output failures.
pub fn run(
    settings: &Settings,
    global: &GlobalArgs,
    a: &BuildArgs,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let config = load_config(a)?;
    let report = build_images(settings, global, a, &config)?;
    match global.output {
        Output::Json => super::write_json(out, &report)?,
        Output::Human => {
            for (name, img) in &report.images {
                writeln!(
                    out,
                    "{name}: {}@{} ({})",
                    img.docker_image_name,
                    img.docker_image_digest,
                    if img.rebuilt { "built" } else { "cached" }
                )?;
            }
        }
    }
    Ok(ExitCode::Ok)
}
