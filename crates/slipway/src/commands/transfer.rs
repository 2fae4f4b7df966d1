//! `copy`, `inspect`, `tags` and `login`: the registry client's commands.

use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use slipway_oci::{Descriptor, Digest, Layout, Location, Manifest, Platform, Reference};
use slipway_registry::credentials::{Credential, CredentialStore};
use slipway_registry::{
    BlobOutcome, CopyOptions, NoProgress, Progress, Registry, Sink, Source, copy,
};
use slipway_trust::RegistryHost;

use crate::ExitCode;
use crate::cli::{CopyArgs, InspectArgs, LoginArgs, Output, TagsArgs};
use crate::settings::Settings;

/// Opens a registry client for a reference's host, with stored credentials if any.
pub(crate) fn registry(settings: &Settings, reference: &Reference) -> Result<Arc<Registry>> {
    let host = RegistryHost::parse(reference.api_host())?;
    // Resolving here validates the host's files and announces anything dangerous.
    let trust = settings.trust_for(&host)?;
    // The registries.yaml given with --registries-config comes first (one file serves the
    // nodes and this machine); then docker's and podman's credential files.
    let from_config = match settings
        .policy
        .registries_config()
        .and_then(|c| c.lookup(&host).map(|(key, e)| (c.path(), key, e)))
    {
        Some((path, key, entry)) => match &entry.auth {
            Some(auth) => slipway_registry::credentials::from_registries_config(auth, path, key)?,
            None => None,
        },
        None => None,
    };
    let cred = match from_config {
        Some(c) => Some(c),
        None => CredentialStore::from_env()
            .get(&host.to_string())
            .with_context(|| format!("reading credentials for {host}"))?
            .map(|(c, _)| c),
    };
    Ok(Arc::new(Registry::with_trust(
        settings.policy.clone(),
        trust,
        cred,
    )?))
}

fn source(settings: &Settings, loc: &Location) -> Result<Source> {
    Ok(match loc {
        Location::Layout { path, tag } => {
            Source::Layout(Arc::new(Layout::open(path)?), tag.clone())
        }
        Location::Registry(r) => Source::Registry(registry(settings, r)?, r.clone()),
    })
}

/// Runs `slipway copy`.
///
/// # Errors
/// Bad references, trust, auth, transfer or verification errors.
pub fn run_copy(
    settings: &Settings,
    a: &CopyArgs,
    output: Output,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let src_loc = Location::parse(&a.src)?;
    let dst_loc = Location::parse(&a.dst)?;
    let platform = a.platform.as_deref().map(Platform::parse).transpose()?;
    let rt = super::runtime()?;
    let src = source(settings, &src_loc)?;
    // A layout this copy creates is removed again if the copy fails.
    let mut created: Option<std::path::PathBuf> = None;
    let dst = match &dst_loc {
        Location::Layout { path, tag } => {
            let tag = tag.clone().or_else(|| match &src_loc {
                Location::Layout { tag, .. } => tag.clone(),
                Location::Registry(r) => r.tag.clone(),
            });
            if !path.exists() {
                created = Some(path.clone());
            }
            Sink::Layout(
                Arc::new(Layout::create(path)?),
                tag.unwrap_or_else(|| "latest".into()),
            )
        }
        Location::Registry(r) => Sink::Registry(registry(settings, r)?, r.clone()),
    };
    let progress: Arc<dyn Progress> = if output == Output::Human && std::io::stderr().is_terminal()
    {
        Arc::new(Bars::new())
    } else {
        Arc::new(NoProgress)
    };
    let started = std::time::Instant::now();
    let report = rt
        .block_on(copy(
            &src,
            &dst,
            &CopyOptions {
                platform,
                jobs: a.jobs,
            },
            progress,
        ))
        .inspect_err(|_| {
            if let Some(path) = &created {
                let _ = std::fs::remove_dir_all(path);
            }
        })?;
    let secs = started.elapsed().as_secs_f64();
    #[derive(Serialize)]
    struct Summary<'a> {
        source: &'a str,
        destination: &'a str,
        seconds: f64,
        #[serde(flatten)]
        report: &'a slipway_registry::CopyReport,
    }
    match output {
        Output::Json => {
            super::write_json(
                out,
                &Summary {
                    source: &a.src,
                    destination: &a.dst,
                    seconds: secs,
                    report: &report,
                },
            )?;
        }
        Output::Human => {
            let count = |o: BlobOutcome| report.blobs.iter().filter(|b| b.outcome == o).count();
            writeln!(out, "copied {} -> {}", a.src, a.dst)?;
            writeln!(out, "  digest    {} ({})", report.digest, report.media_type)?;
            writeln!(
                out,
                "  blobs     {} copied, {} already there, {} mounted; {:.1} MB in {secs:.2} s",
                count(BlobOutcome::Uploaded),
                count(BlobOutcome::Existed),
                count(BlobOutcome::Mounted),
                report.bytes_transferred as f64 / 1e6
            )?;
        }
    }
    Ok(ExitCode::Ok)
}

/// Progress bars per blob on a terminal.
pub(crate) struct Bars {
    multi: indicatif::MultiProgress,
    bars: Mutex<HashMap<Digest, indicatif::ProgressBar>>,
}

impl Bars {
    pub(crate) fn new() -> Self {
        Bars {
            multi: indicatif::MultiProgress::with_draw_target(
                indicatif::ProgressDrawTarget::stderr(),
            ),
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// The bars' container, for a bar of one's own above them.
    pub(crate) fn multi(&self) -> &indicatif::MultiProgress {
        &self.multi
    }
}

impl Progress for Bars {
    fn start(&self, digest: &Digest, size: u64) {
        let bar = self.multi.add(indicatif::ProgressBar::new(size));
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(digest.hex()[..12].to_string());
        self.bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest.clone(), bar);
    }
    fn advance(&self, digest: &Digest, n: u64) {
        if let Some(b) = self
            .bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(digest)
        {
            b.inc(n);
        }
    }
    fn done(&self, digest: &Digest, outcome: BlobOutcome) {
        if let Some(b) = self
            .bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(digest)
        {
            let word = match outcome {
                BlobOutcome::Existed => "exists",
                BlobOutcome::Mounted => "mounted",
                BlobOutcome::Uploaded => "done",
            };
            b.finish_with_message(word);
        }
    }
}

/// Describes an image for `inspect`.
#[derive(Serialize)]
struct Inspection {
    reference: String,
    digest: Digest,
    media_type: String,
    platforms: Vec<String>,
    manifests: Vec<Descriptor>,
    config: Option<Descriptor>,
    layers: Vec<Descriptor>,
    os: Option<String>,
    architecture: Option<String>,
    created: Option<String>,
}

/// Runs `slipway inspect`.
///
/// # Errors
/// Bad references, trust, auth, transfer or verification errors.
pub fn run_inspect(
    settings: &Settings,
    a: &InspectArgs,
    output: Output,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let loc = Location::parse(&a.reference)?;
    let platform = a.platform.as_deref().map(Platform::parse).transpose()?;
    let rt = super::runtime()?;
    let src = source(settings, &loc)?;
    let ins = rt.block_on(async {
        let (bytes, media_type, digest) = src.root().await?;
        let mut ins = Inspection {
            reference: a.reference.clone(),
            digest,
            media_type: media_type.clone(),
            platforms: vec![],
            manifests: vec![],
            config: None,
            layers: vec![],
            os: None,
            architecture: None,
            created: None,
        };
        let mut manifest = Manifest::parse(&bytes, Some(&media_type))?;
        if let Manifest::Index(index) = &manifest {
            ins.platforms = index.platforms();
            ins.manifests = index.manifests.clone();
            if let Some(want) = &platform {
                let child = index.find_platform(want).cloned();
                let Some(child) = child else {
                    bail!(
                        "{} has no manifest for {want} (it has: {})",
                        a.reference,
                        ins.platforms.join(", ")
                    )
                };
                let child_bytes = src.manifest(&child).await?;
                manifest = Manifest::parse(&child_bytes, Some(&child.media_type))?;
            }
        }
        if let Manifest::Image(image) = &manifest {
            ins.config = Some(image.config.clone());
            ins.layers = image.layers.clone();
            let config: slipway_oci::ImageConfig =
                serde_json::from_slice(&src.small_blob(&image.config).await?)
                    .context("reading the image config")?;
            ins.os = config.os;
            ins.architecture = config.architecture;
            ins.created = config.created;
        }
        anyhow::Ok(ins)
    })?;
    match output {
        Output::Json => {
            super::write_json(out, &ins)?;
        }
        Output::Human => {
            writeln!(out, "{}", ins.reference)?;
            writeln!(out, "  digest      {}", ins.digest)?;
            writeln!(out, "  media type  {}", ins.media_type)?;
            if !ins.platforms.is_empty() {
                writeln!(out, "  platforms   {}", ins.platforms.join(", "))?;
            }
            if let Some(c) = &ins.config {
                writeln!(
                    out,
                    "  config      {} ({} bytes) {}/{}",
                    c.digest,
                    c.size,
                    ins.os.as_deref().unwrap_or("?"),
                    ins.architecture.as_deref().unwrap_or("?")
                )?;
            }
            if let Some(created) = &ins.created {
                writeln!(out, "  created     {created}")?;
            }
            for l in &ins.layers {
                writeln!(
                    out,
                    "  layer       {} {:>12} bytes  {}",
                    l.digest, l.size, l.media_type
                )?;
            }
        }
    }
    Ok(ExitCode::Ok)
}

/// Runs `slipway tags`.
///
/// # Errors
/// Bad references, trust, auth or transport errors.
pub fn run_tags(
    settings: &Settings,
    a: &TagsArgs,
    output: Output,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let loc = Location::parse(&a.repo)?;
    let tags = match &loc {
        Location::Layout { path, .. } => Layout::open(path)?.tags()?,
        Location::Registry(r) => {
            let reg = registry(settings, r)?;
            super::runtime()?.block_on(reg.tags(&r.repository))?
        }
    };
    match output {
        Output::Json => {
            super::write_json(
                out,
                &serde_json::json!({ "repository": a.repo, "tags": tags }),
            )?;
        }
        Output::Human => {
            for t in tags {
                writeln!(out, "{t}")?;
            }
        }
    }
    Ok(ExitCode::Ok)
}

/// Runs `slipway login`.
///
/// # Errors
/// No password on stdin, refused credentials, or a credential store that cannot be written.
pub fn run_login(
    settings: &Settings,
    a: &LoginArgs,
    output: Output,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    if !a.password_stdin {
        bail!(crate::BadInput(
            "pass the password on stdin with --password-stdin (it never goes on the command line)"
                .into()
        ));
    }
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!(crate::BadInput(format!(
            "the password on stdin is empty: nothing was sent to {}",
            a.host
        )));
    }
    let cred = Credential::Basic {
        username: a.username.clone(),
        password,
    };
    let trust = settings.trust_for(&a.host)?;
    let reg = Registry::with_trust(settings.policy.clone(), trust, Some(cred.clone()))?;
    super::runtime()?.block_on(reg.check_login())?;
    let stored = CredentialStore::from_env().store(&a.host.to_string(), &cred)?;
    match output {
        Output::Json => writeln!(
            out,
            "{}",
            serde_json::json!({ "registry": a.host.to_string(), "stored": stored.to_string() })
        )?,
        Output::Human => writeln!(
            out,
            "login to {} succeeded; credentials stored in the {stored}",
            a.host
        )?,
    }
    Ok(ExitCode::Ok)
}
