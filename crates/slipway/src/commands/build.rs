//! `build`: werf.yaml + Dockerfiles into content-addressed stages, in --repo or the store.

use std::collections::BTreeMap;
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
use crate::cli::{
    BackendArg, BuildArgs, CompressionArg, DeployArgs, GlobalArgs, Output, ReportFormat,
};
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

/// Lists the environment variables whose names start with `prefix` and that hold a value,
/// sorted by name, leaving out those that start with one of `except`: how werf reads its
/// repeatable flags from the environment (`WERF_ADD_CUSTOM_TAG_1`, `WERF_VALUES_DB`, ...).
pub(crate) fn env_by_prefix(prefix: &str, except: &[&str]) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, v)| {
            k.starts_with(prefix) && !v.is_empty() && !except.iter().any(|e| k.starts_with(e))
        })
        .collect();
    vars.sort();
    vars
}

/// Refuses the werf flags slipway cannot honour, for `build`, `render` and `converge` alike
/// (`deploy` is `None` for `build`, which has no deploy flags): each one given, on the command
/// line or in its werf environment variable, is named with the reason and what to do
/// instead. werf.yaml is not read, and nothing is built or pushed, before this check.
///
/// # Errors
/// [`crate::BadInput`] (exit 2), one line per kind of flag refused.
pub fn refuse_werf_flags(a: &BuildArgs, deploy: Option<&DeployArgs>) -> Result<()> {
    // The flags given, then the environment variables werf reads them from.
    let given = |flag: &str, values: &[String], prefix: &str, except: &[&str]| -> Vec<String> {
        let mut names = if values.is_empty() {
            vec![]
        } else {
            vec![flag.to_string()]
        };
        names.extend(env_by_prefix(prefix, except).into_iter().map(|(k, _)| k));
        names
    };
    let r = &a.refused;
    let mut refused = vec![];
    if r.dev == Some(true) {
        refused.push(
            "--dev (WERF_DEV) is werf's development mode, which builds uncommitted files; slipway \
             always builds the files in --dir as they are, committed or not; leave --dev out \
             (unset WERF_DEV)"
                .to_string(),
        );
    }
    if r.final_repo.as_deref().is_some_and(|f| !f.is_empty()) {
        refused.push(
            "--final-repo (WERF_FINAL_REPO) is not supported: slipway keeps stages and final \
             images together in --repo, where the build report names each image as REPO:TAG; \
             leave --final-repo out, and pull the images from --repo (or copy them elsewhere \
             with slipway copy)"
                .to_string(),
        );
    }
    let secondary = given(
        "--secondary-repo",
        &r.secondary_repo,
        "WERF_SECONDARY_REPO_",
        &[],
    );
    if !secondary.is_empty() {
        refused.push(format!(
            "{} is not supported: slipway reads stages from --repo only, where stages and final \
             images both live; leave it out (a stage missing from --repo is built and pushed \
             there)",
            secondary.join(", ")
        ));
    }
    let cache = given("--cache-repo", &r.cache_repo, "WERF_CACHE_REPO_", &[]);
    if !cache.is_empty() {
        refused.push(format!(
            "{} is not supported: --repo is slipway's cache (a stage found there under its \
             digest is neither rebuilt nor pushed), and stages and final images both live \
             there; leave it out",
            cache.join(", ")
        ));
    }
    if let Some(d) = deploy {
        let secret = given(
            "--secret-values",
            &d.secret_values,
            "WERF_SECRET_VALUES_",
            &[],
        );
        if !secret.is_empty() {
            refused.push(format!(
                "{} is not supported: werf's secret values encryption is not implemented in \
                 slipway, so they cannot be decrypted; render the chart with werf (or decrypt the \
                 values and run helm template) and pass the output folder with --manifests",
                secret.join(", ")
            ));
        }
        let mut values = given("--values", &d.values, "WERF_VALUES_", &[]);
        values.extend(given(
            "--set",
            &d.set,
            "WERF_SET_",
            // werf reads these prefixes as other flags; the last one is a switch, not a value.
            &[
                "WERF_SET_STRING_",
                "WERF_SET_FILE_",
                "WERF_SET_DOCKER_CONFIG_JSON_VALUE",
            ],
        ));
        values.extend(given(
            "--set-string",
            &d.set_string,
            "WERF_SET_STRING_",
            &[],
        ));
        values.extend(given("--set-file", &d.set_file, "WERF_SET_FILE_", &[]));
        if !values.is_empty() {
            refused.push(format!(
                "{}: Helm values need chart rendering, which slipway does not do yet (it \
                 substitutes only {{{{ .Values.werf.image.NAME }}}} in plain manifests); render \
                 the chart with helm template and these values, and pass the output folder with \
                 --manifests",
                values.join(", ")
            ));
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        bail!(crate::BadInput(refused.join("\n")))
    }
}

/// The variable werf's env-file report sets for `image`: `WERF_<IMAGE>_DOCKER_IMAGE_NAME`,
/// the name upper-cased. werf turns `/`, `-` and `.` into `_`; every other character a shell
/// variable cannot hold becomes `_` too, where werf would write a line no shell reads.
pub fn envfile_variable(image: &str) -> String {
    let name: String = image
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("WERF_{name}_DOCKER_IMAGE_NAME")
}

/// werf's env-file report: one `VARIABLE=REPO:TAG` line per image, in name order.
fn envfile(report: &BuildReport) -> String {
    report
        .images
        .iter()
        .map(|(name, img)| format!("{}={}\n", envfile_variable(name), img.docker_image_name))
        .collect()
}

/// Refuses an env-file report in which two images would set the same variable.
fn check_envfile_variables(config: &WerfConfig) -> Result<()> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for image in &config.images {
        let var = envfile_variable(&image.name);
        if let Some(other) = seen.insert(var.clone(), &image.name) {
            bail!(crate::BadInput(format!(
                "--report-format envfile: images `{other}` and `{}` would both set {var}; \
                 rename one of them in werf.yaml, or use --report-format json",
                image.name
            )));
        }
    }
    Ok(())
}

/// Reads the werf.yaml that the build flags name (`--config`, else `DIR/werf.yaml`).
///
/// # Errors
/// [`BuildError::Config`] when it cannot be read or is wrong.
pub fn load_config(a: &BuildArgs) -> Result<WerfConfig> {
    let config_path = a.config.clone().unwrap_or_else(|| a.dir.join("werf.yaml"));
    Ok(slipway_werf::load(&config_path).map_err(BuildError::from)?)
}

/// What [`build_images`] produced.
#[derive(Debug)]
pub struct Built {
    /// The build report, as `slipway build` prints it.
    pub report: BuildReport,
    /// With `--use-custom-tag`: werf image name to `REPO:TAG`, the tag just pushed.
    pub custom: BTreeMap<String, String>,
}

/// Builds the images of `config` exactly as `slipway build` does: options from the build
/// flags and `--repo`, one line per stage change on stderr, the custom tags
/// (`--add-custom-tag`, and `use_custom_tag`) pushed to `--repo`, and the report written to
/// `--report-path` in `--report-format` when given. `slipway render` (and `converge`) build
/// through this too.
///
/// # Errors
/// [`BuildError`]s and bad custom tags (bad input is found before anything is built or
/// pushed), tag push failures, and report write failures.
pub fn build_images(
    settings: &Settings,
    global: &GlobalArgs,
    a: &BuildArgs,
    config: &WerfConfig,
    use_custom_tag: Option<&str>,
) -> Result<Built> {
    let repo = global.repo.as_deref().map(parse_repo).transpose()?;
    // Settings werf.yaml has and slipway reads but does not use are said, never ignored.
    for note in &config.notes {
        eprintln!("note: {note}");
    }
    let tags = super::tags::CustomTags::from_flags(a, use_custom_tag, repo.as_ref(), config)?;
    match (&a.report_path, a.report_format) {
        (Some(_), ReportFormat::Envfile) => check_envfile_variables(config)?,
        (None, ReportFormat::Envfile) => {
            eprintln!("note: --report-format envfile writes nothing without --report-path");
        }
        _ => {}
    }
    let platform = match &a.platform {
        Some(p) => Platform::parse(p).with_context(|| format!("--platform {p}"))?,
        None => host_platform(),
    };
    let opts = BuildOptions {
        repo: repo.clone(),
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
    let custom = match &repo {
        Some(repo) => tags.push(settings, repo, &report)?,
        None => BTreeMap::new(),
    };
    if let Some(path) = &a.report_path {
        let bytes = match a.report_format {
            ReportFormat::Json => {
                let mut bytes = serde_json::to_vec_pretty(&report)?;
                bytes.push(b'\n');
                bytes
            }
            ReportFormat::Envfile => envfile(&report).into_bytes(),
        };
        slipway_oci::write_file_atomic(path, &bytes).context("writing the build report")?;
    }
    Ok(Built { report, custom })
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
    refuse_werf_flags(a, None)?;
    let config = load_config(a)?;
    let report = build_images(settings, global, a, &config, None)?.report;
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
