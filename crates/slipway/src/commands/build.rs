//! `build`: werf.yaml + Dockerfiles into content-addressed stages, in --repo or the store.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use slipway_builder::buildah::HostAccess;
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
                platform,
                stages,
                backend,
            } => writeln!(
                err,
                "image {name}{}: {stages} stage{} ({backend})",
                platform.map(|p| format!(" ({p})")).unwrap_or_default(),
                if *stages == 1 { "" } else { "s" }
            ),
            Event::Stage {
                image,
                platform,
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
                    StageStatus::Copied => "copied",
                };
                let word = if self.color {
                    match status {
                        StageStatus::Cached => format!("\x1b[2m{word}\x1b[0m"),
                        StageStatus::Built | StageStatus::Pushed | StageStatus::Copied => {
                            format!("\x1b[32m{word}\x1b[0m")
                        }
                        _ => format!("\x1b[33m{word}\x1b[0m"),
                    }
                } else {
                    word.to_string()
                };
                let by = backend.map(|b| format!(" ({b})")).unwrap_or_default();
                let time = seconds.map(|s| format!(" in {s:.2}s")).unwrap_or_default();
                let on = platform.map(|p| format!(" ({p})")).unwrap_or_default();
                writeln!(
                    err,
                    "  {image}/{stage}{on} {} {word}{time}{by}",
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
    parse_repo_flag("--repo", repo)
}

/// Reads the repository a flag names (`--repo`, `--final-repo`, ...): `HOST[:PORT]/PATH`,
/// without a tag or digest.
fn parse_repo_flag(flag: &str, repo: &str) -> Result<Reference> {
    let r = Reference::parse(repo).with_context(|| format!("{flag} {repo}"))?;
    let bare = repo.trim_start_matches("docker://");
    if r.digest.is_some()
        || bare
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
    {
        bail!(crate::BadInput(format!(
            "{flag} {repo}: give a repository without a tag or digest (HOST[:PORT]/PATH); \
             slipway tags every stage with its digest"
        )));
    }
    Ok(r)
}

/// The repositories a build uses besides `--repo`.
#[derive(Debug, Default)]
pub struct OtherRepos {
    /// `--final-repo` (`WERF_FINAL_REPO`): where final images are published too.
    pub final_repo: Option<Reference>,
    /// `--secondary-repo` (`WERF_SECONDARY_REPO_*` first): read-only stage repositories.
    pub secondary: Vec<Reference>,
    /// `--cache-repo` (`WERF_CACHE_REPO_*` first): cache stage repositories.
    pub cache: Vec<Reference>,
}

/// Reads `--final-repo`, `--secondary-repo` and `--cache-repo` (and their werf variables),
/// each of which needs `repo` (`--repo`).
///
/// # Errors
/// [`crate::BadInput`]: one given without `--repo`, or a repository that does not parse.
pub fn other_repos(a: &BuildArgs, repo: Option<&Reference>) -> Result<OtherRepos> {
    let mut given: Vec<(String, String)> = vec![];
    let final_repo = a
        .final_repo
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty());
    if let Some(f) = final_repo {
        given.push(("--final-repo".into(), f.to_string()));
    }
    let mut list = |prefix: &str, flag: &str, values: &[String]| {
        let mut out = env_by_prefix(prefix, &[]);
        out.extend(values.iter().map(|v| (flag.to_string(), v.clone())));
        given.extend(out.iter().cloned());
        out
    };
    let secondary = list(
        "WERF_SECONDARY_REPO_",
        "--secondary-repo",
        &a.secondary_repo,
    );
    let cache = list("WERF_CACHE_REPO_", "--cache-repo", &a.cache_repo);
    if repo.is_none()
        && let Some((flag, _)) = given.first()
    {
        bail!(crate::BadInput(format!(
            "{flag} needs --repo (or WERF_REPO): stages are built and stored in --repo, and \
             the other repositories are used beside it"
        )));
    }
    let parse = |list: Vec<(String, String)>| -> Result<Vec<Reference>> {
        list.iter()
            .map(|(flag, value)| {
                parse_repo_flag(flag, value.trim())
                    .map_err(|e| anyhow::Error::new(crate::BadInput(format!("{e:#}"))))
            })
            .collect()
    };
    Ok(OtherRepos {
        final_repo: final_repo
            .map(|f| parse_repo_flag("--final-repo", f))
            .transpose()
            .map_err(|e| crate::BadInput(format!("{e:#}")))?,
        secondary: parse(secondary)?,
        cache: parse(cache)?,
    })
}

/// Publishes each final image of the report from `repo` to `final_repo` under its tag
/// (its manifest byte for byte, so its digest stays; with every platform of an index), and
/// makes the report name it there. A tag that already names the manifest is left alone.
/// Intermediate images (`final: false`) stay in `repo` only, as do the single-platform
/// entries of an image built for several platforms (`ImagesByPlatform`), which are stages.
///
/// # Errors
/// Registry failures, naming the image.
fn publish_final(
    settings: &Settings,
    repo: &Reference,
    final_repo: &Reference,
    report: &mut BuildReport,
    progress: Arc<dyn Progress>,
) -> Result<()> {
    use slipway_registry::{CopyOptions, Sink, Source};
    let from = super::transfer::registry(settings, repo)?;
    let to = super::transfer::registry(settings, final_repo)?;
    let name = final_repo.name();
    let mut moved: BTreeMap<String, String> = BTreeMap::new();
    super::runtime()?.block_on(async {
        for (image, img) in report.images.iter_mut().filter(|(_, i)| i.is_final) {
            let digest = slipway_oci::Digest::parse(&img.docker_image_digest)
                .with_context(|| format!("image {image}: {}", img.docker_image_digest))?;
            let dst = final_repo.with_tag(&img.docker_tag);
            let now = to
                .manifest_digest(&final_repo.repository, &img.docker_tag)
                .await
                .with_context(|| format!("reading {dst}"))?;
            if now.as_ref() == Some(&digest) {
                eprintln!("  {image} {dst} published already");
            } else {
                let src = repo.with_digest(digest.clone());
                let done = slipway_registry::copy(
                    &Source::Registry(from.clone(), src.clone()),
                    &Sink::Registry(to.clone(), dst.clone()),
                    &CopyOptions::default(),
                    progress.clone(),
                )
                .await
                .with_context(|| format!("publishing {src} to {dst}"))?;
                if done.digest != digest {
                    bail!(
                        "publishing {src} to {dst}: {dst} names {} instead",
                        done.digest
                    );
                }
                eprintln!("  {image} {dst} published");
            }
            moved.insert(image.clone(), img.docker_image_digest.clone());
            img.docker_repo = name.clone();
            img.docker_image_name = format!("{name}:{}", img.docker_tag);
        }
        anyhow::Ok(())
    })?;
    for (image, by) in report.images_by_platform.iter_mut() {
        let Some(digest) = moved.get(image) else {
            continue;
        };
        for img in by.values_mut() {
            if &img.docker_image_digest == digest {
                img.docker_repo = name.clone();
                img.docker_image_name = format!("{name}:{}", img.docker_tag);
            }
        }
    }
    Ok(())
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
    load_config_for(a, None)
}

/// Reads werf.yaml as [`load_config`] does, rendering it for the environment `env`
/// (`.Env`, werf's `--env`).
///
/// # Errors
/// As [`load_config`].
pub fn load_config_for(a: &BuildArgs, env: Option<&str>) -> Result<WerfConfig> {
    let config_path = a.config.clone().unwrap_or_else(|| a.dir.join("werf.yaml"));
    let opts = slipway_werf::templating::TemplateOptions {
        env: env.unwrap_or_default().to_string(),
        ..Default::default()
    };
    Ok(slipway_werf::load_with(&config_path, &opts).map_err(BuildError::from)?)
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
    let others = other_repos(a, repo.as_ref())?;
    let tags = super::tags::CustomTags::from_flags(a, use_custom_tag, repo.as_ref(), config)?;
    match (&a.report_path, a.report_format) {
        (Some(_), ReportFormat::Envfile) => check_envfile_variables(config)?,
        (None, ReportFormat::Envfile) => {
            eprintln!("note: --report-format envfile writes nothing without --report-path");
        }
        _ => {}
    }
    // --platform (WERF_PLATFORM): a list, over werf.yaml's platforms; none leaves them.
    let platforms = a
        .platform
        .iter()
        .map(|p| Platform::parse(p.trim()).with_context(|| format!("--platform {p}")))
        .collect::<Result<Vec<_>>>()?;
    let opts = BuildOptions {
        repo: repo.clone(),
        secondary_repos: others.secondary,
        cache_repos: others.cache,
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
        platforms,
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
    let access = CliAccess {
        settings,
        progress: progress.clone(),
    };
    let mut report = slipway_builder::build(config, &opts, &access, &observer)?;
    // --final-repo: final images published there too; custom tags go there.
    if let (Some(repo), Some(final_repo)) = (&repo, &others.final_repo) {
        publish_final(settings, repo, final_repo, &mut report, progress)?;
    }
    // werf writes ImagesByPlatform only when asked to.
    if std::env::var("WERF_ENABLE_REPORT_BY_PLATFORM").as_deref() != Ok("1") {
        report.images_by_platform.clear();
    }
    let custom = match others.final_repo.as_ref().or(repo.as_ref()) {
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
