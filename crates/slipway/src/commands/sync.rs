//! `sync`: mirror many images into a registry, or into OCI layouts, in one run.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use regex::Regex;
use serde::Serialize;
use slipway_oci::{Digest, Reference};
use slipway_registry::semver::Constraints;
use slipway_registry::{
    BlobOutcome, ImageReport, ImageStatus, NoProgress, Progress, Registry, SourceSpec, SyncOptions,
    SyncProgress, SyncReport, SyncSource, SyncTarget, TagFilter, parse_list_file, sync,
};
use slipway_trust::RegistryHost;

use super::transfer::{Bars, registry};
use crate::cli::{Output, SyncArgs};
use crate::settings::Settings;
use crate::{BadInput, ExitCode};

/// Runs `slipway sync`.
///
/// # Errors
/// Bad sources, destination, filters, list files or trust settings (before anything is
/// read); a failed image does not make an error, it makes exit code 3 after the report.
pub fn run(
    settings: &Settings,
    a: &SyncArgs,
    output: Output,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let (dst_text, src_texts) = a.refs.split_last().expect("clap requires one argument");
    let filter = TagFilter {
        regex: a
            .tag_regex
            .as_deref()
            .map(|r| {
                Regex::new(r).map_err(|e| {
                    BadInput(format!(
                        "--tag-regex `{r}` is not a regular expression: {e}"
                    ))
                })
            })
            .transpose()?,
        semver: a
            .tag_semver
            .as_deref()
            .map(|r| {
                r.parse::<Constraints>().map_err(|e| {
                    BadInput(format!("--tag-semver `{r}` is not a version range: {e}"))
                })
            })
            .transpose()?,
    };
    let mut specs = Vec::new();
    for text in src_texts {
        if text.starts_with("oci:") {
            bail!(BadInput(format!(
                "source `{text}`: sync reads registries; copy a layout with `slipway copy {text} HOST/REPO:TAG`"
            )));
        }
        specs.push(SourceSpec::parse(text, &filter)?);
    }
    for path in &a.from_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BadInput(format!("cannot read the list file {}: {e}", path.display())))?;
        specs.extend(parse_list_file(path, &text)?);
    }
    if specs.is_empty() {
        bail!(BadInput(format!(
            "nothing to sync: name sources before the destination `{dst_text}`, or give --from-file LIST.yaml"
        )));
    }
    if a.jobs == 0 {
        bail!(BadInput("--jobs must be at least 1".into()));
    }
    let target = target(settings, dst_text)?;
    if let SyncTarget::Layouts(_) = &target
        && let Some(s) = specs
            .iter()
            .find(|s| s.tags.is_none() && s.reference.tag.is_none())
    {
        bail!(BadInput(format!(
            "source `{}` names a digest without a tag; an OCI layout destination needs a tag to file it under",
            s.name()
        )));
    }
    // One client per registry host, so its tokens and connections serve every source there.
    let mut clients: HashMap<String, Arc<Registry>> = HashMap::new();
    let mut sources = Vec::new();
    for spec in specs {
        let host = spec.reference.api_host().to_string();
        let reg = match clients.get(&host) {
            Some(r) => r.clone(),
            None => {
                let r = registry(settings, &spec.reference)?;
                clients.insert(host, r.clone());
                r
            }
        };
        sources.push(SyncSource {
            spec,
            registry: reg,
        });
    }

    let progress: Arc<dyn SyncProgress> =
        if output == Output::Human && std::io::stderr().is_terminal() {
            Arc::new(RunBars::new())
        } else {
            Arc::new(NoProgress)
        };
    let started = std::time::Instant::now();
    let report = super::runtime()?.block_on(sync(
        &sources,
        &target,
        &SyncOptions {
            jobs: a.jobs,
            dry_run: a.dry_run,
        },
        progress,
    ))?;
    let seconds = started.elapsed().as_secs_f64();
    let code = if report.failed() > 0 {
        ExitCode::Failed
    } else {
        ExitCode::Ok
    };
    let count = |s: ImageStatus| report.images.iter().filter(|i| i.status == s).count();
    match output {
        Output::Json => super::write_json(
            out,
            &Summary {
                destination: target.name(),
                dry_run: a.dry_run,
                seconds,
                copied: count(ImageStatus::Copied),
                would_copy: count(ImageStatus::WouldCopy),
                unchanged: count(ImageStatus::Unchanged),
                failed: count(ImageStatus::Failed),
                bytes_transferred: report.bytes_transferred,
                empty_sources: &report.empty_sources,
                images: report.images.iter().map(JsonImage::from).collect(),
            },
        )?,
        Output::Human => human(out, &report, &target, a.dry_run, seconds)?,
    }
    for s in &report.empty_sources {
        eprintln!("warning: {s}: no tag matched; nothing was taken from it");
    }
    Ok(code)
}

/// Parses the destination: `oci:DIR`, or `HOST[/PREFIX]`.
fn target(settings: &Settings, text: &str) -> Result<SyncTarget> {
    if let Some(dir) = text.strip_prefix("oci:") {
        if dir.is_empty() {
            bail!(BadInput(
                "destination `oci:` names no folder; write oci:DIR".into()
            ));
        }
        return Ok(SyncTarget::Layouts(dir.into()));
    }
    let bare = text.strip_prefix("docker://").unwrap_or(text);
    let (host, prefix) = bare.split_once('/').unwrap_or((bare, ""));
    let prefix = prefix.trim_end_matches('/');
    let looks_like_host = host.contains(['.', ':']) || host == "localhost";
    if !looks_like_host {
        bail!(BadInput(format!(
            "destination `{text}` does not start with a registry host; write HOST[:PORT][/PREFIX] (a host has a `.` or a `:` or is localhost), or oci:DIR"
        )));
    }
    RegistryHost::parse(host)?;
    // The prefix must read as repository path components, and carry no tag or digest.
    let probe = format!("{host}/{}", if prefix.is_empty() { "x" } else { prefix });
    let reference = Reference::parse(&probe)
        .with_context(|| format!("destination `{text}` is not HOST[/PREFIX]"))?;
    if reference.digest.is_some() || slipway_names::split_tag(&probe).1.is_some() {
        bail!(BadInput(format!(
            "destination `{text}` names a tag or digest; a sync destination is HOST[/PREFIX], and each image keeps its own tag"
        )));
    }
    Ok(SyncTarget::Registry {
        registry: registry(settings, &reference)?,
        prefix: prefix.to_string(),
    })
}

#[derive(Serialize)]
struct Summary<'a> {
    destination: String,
    dry_run: bool,
    seconds: f64,
    copied: usize,
    would_copy: usize,
    unchanged: usize,
    failed: usize,
    bytes_transferred: u64,
    empty_sources: &'a [String],
    images: Vec<JsonImage<'a>>,
}

/// One image in `--output json`, with its error and that error's fixes.
#[derive(Serialize)]
struct JsonImage<'a> {
    #[serde(flatten)]
    image: &'a ImageReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<JsonError>,
}

#[derive(Serialize)]
struct JsonError {
    message: String,
    #[serde(skip_serializing_if = "slipway_trust::Fixes::is_empty")]
    fixes: slipway_trust::Fixes,
}

impl<'a> From<&'a ImageReport> for JsonImage<'a> {
    fn from(image: &'a ImageReport) -> Self {
        JsonImage {
            image,
            error: image.error.as_ref().map(|e| JsonError {
                message: e.to_string(),
                fixes: e.fixes(),
            }),
        }
    }
}

fn human(
    out: &mut dyn Write,
    report: &SyncReport,
    target: &SyncTarget,
    dry_run: bool,
    seconds: f64,
) -> Result<()> {
    let count = |s: ImageStatus| report.images.iter().filter(|i| i.status == s).count();
    let mb = |b: u64| b as f64 / 1e6;
    // Images that fail alike share one set of fix lines, printed after the summary.
    let mut fixes = slipway_trust::Fixes::default();
    for i in &report.images {
        let digest = i
            .digest
            .as_ref()
            .map(|d| format!("  {}", short(d)))
            .unwrap_or_default();
        let word = match i.status {
            ImageStatus::Copied => {
                let n = |o: BlobOutcome| i.blobs.iter().filter(|b| b.outcome == o).count();
                format!(
                    "copied     ({} blobs: {} sent, {} mounted, {} there)",
                    i.blobs.len(),
                    n(BlobOutcome::Uploaded),
                    n(BlobOutcome::Mounted),
                    n(BlobOutcome::Existed)
                )
            }
            ImageStatus::WouldCopy => format!("would copy ({:.1} MB)", mb(i.size)),
            ImageStatus::Unchanged => "unchanged".into(),
            ImageStatus::Failed => "FAILED".into(),
        };
        writeln!(out, "{word:<44} {} -> {}{digest}", i.source, i.destination)?;
        if let Some(e) = &i.error {
            writeln!(out, "  error: {e}")?;
            crate::fixes::merge(&mut fixes, &e.fixes());
        }
    }
    if dry_run {
        writeln!(
            out,
            "dry run: {} to copy to {}, {} unchanged, {} failed to read; nothing was written",
            count(ImageStatus::WouldCopy),
            target.name(),
            count(ImageStatus::Unchanged),
            count(ImageStatus::Failed)
        )?;
    } else {
        writeln!(
            out,
            "synced to {}: {} copied, {} unchanged, {} failed; {:.1} MB sent in {seconds:.2} s",
            target.name(),
            count(ImageStatus::Copied),
            count(ImageStatus::Unchanged),
            count(ImageStatus::Failed),
            mb(report.bytes_transferred)
        )?;
    }
    write!(out, "{}", crate::fixes::lines(&fixes, "", false))?;
    Ok(())
}

fn short(d: &Digest) -> String {
    format!("sha256:{}", &d.hex()[..12])
}

/// A bar for the whole run above the per-blob bars, on a terminal.
struct RunBars {
    blobs: Bars,
    total: indicatif::ProgressBar,
    /// Blobs finished and planned, images finished and planned.
    counts: Mutex<[usize; 4]>,
    /// Each blob in flight: its size, and the bytes sent so far.
    sizes: Mutex<HashMap<Digest, (u64, u64)>>,
}

impl RunBars {
    fn new() -> Self {
        let blobs = Bars::new();
        let total = blobs.multi().add(indicatif::ProgressBar::new(0));
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "run          [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        ) {
            total.set_style(style.progress_chars("=> "));
        }
        total.set_message("reading sources");
        RunBars {
            blobs,
            total,
            counts: Mutex::new([0; 4]),
            sizes: Mutex::new(HashMap::new()),
        }
    }

    fn show(&self, n: &[usize; 4]) {
        self.total
            .set_message(format!("blobs {}/{}, images {}/{}", n[0], n[1], n[2], n[3]));
    }
}

impl Progress for RunBars {
    fn start(&self, digest: &Digest, size: u64) {
        self.blobs.start(digest, size);
        self.sizes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest.clone(), (size, 0));
    }
    fn advance(&self, digest: &Digest, n: u64) {
        self.blobs.advance(digest, n);
        self.total.inc(n);
        if let Some(s) = self
            .sizes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(digest)
        {
            s.1 += n;
        }
    }
    fn done(&self, digest: &Digest, outcome: BlobOutcome) {
        self.blobs.done(digest, outcome);
        // A skipped or mounted blob counts as done for the run all at once.
        let entry = self
            .sizes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(digest);
        if let Some((size, sent)) = entry {
            self.total.inc(size.saturating_sub(sent));
        }
        let mut n = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        n[0] += 1;
        self.show(&n);
    }
}

impl SyncProgress for RunBars {
    fn planned(&self, images: usize, blobs: usize, bytes: u64) {
        self.total.set_length(bytes);
        // Images that failed to read or were unchanged are reported before the plan; the
        // count is of the images this run copies.
        let mut n = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *n = [0, blobs, 0, images];
        self.show(&n);
        if images == 0 {
            self.total.finish();
        }
    }
    fn image_finished(&self, _image: &ImageReport) {
        let mut n = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if n[3] == 0 {
            return;
        }
        n[2] += 1;
        self.show(&n);
        if n[2] == n[3] {
            self.total.finish();
        }
    }
}
