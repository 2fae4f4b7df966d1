//! Chart dependencies kept in OCI registries (`repository: oci://HOST[:PORT]/PATH`): the
//! ones a chart lists but does not have under `charts/` are pulled through the registry
//! client, with the trust and credentials every other registry command uses, and handed
//! to the renderer in memory. Nothing is written to the chart's folder or anywhere else.
//!
//! The version is chosen as `helm dependency build` chooses it: a `version` that is a
//! version (`1.2.3`, `v1.2`, `1.2.3+build`) is the tag, as written, with `+` spelled `_`
//! (tags cannot hold `+`); a range lists the repository's tags, keeps those that are strict
//! versions once `_` is read back as `+`, and takes the highest the range accepts. The tag's
//! manifest must hold a chart config and a chart layer (their media types below); the
//! layer is read with its size and digest verified, and must be the chart the dependency
//! names.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use slipway_chart::model::{Chart, Dependency, File};
use slipway_oci::{Descriptor, Manifest, Reference};
use slipway_registry::semver::Constraints;
use slipway_registry::{Registry, Source};

use crate::BadInput;
use crate::settings::Settings;

mod lock;

/// The media type of a chart's config (its `Chart.yaml` as JSON).
const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
/// The media type of a chart's packaged archive.
const CHART_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// The media type older clients pushed chart archives with; still read, with a warning.
const LEGACY_CHART_MEDIA_TYPE: &str = "application/tar+gzip";
/// The URL scheme of registry repositories in `dependencies[].repository`.
const SCHEME: &str = "oci://";

/// Adds to `files` (a chart's, as `slipway_chart::load::read_chart` reads them, and
/// `chart`, those files loaded) the archives of the dependencies it lists, is missing, and
/// can fetch from a registry (see [`to_pull`]), pulled with [`pull_all`] and named
/// `charts/NAME-VERSION.tgz`. Returns whether anything was added (the chart must then be
/// loaded again). `pull` ([`pull_all`] with the caller's settings) is called only when
/// something is to be pulled.
///
/// # Errors
/// As [`to_pull`] and `pull`.
pub(crate) fn add_missing_subcharts(
    chart: &Chart,
    files: &mut Vec<File>,
    pull: &dyn Fn(&[Dependency]) -> Result<Vec<File>>,
) -> Result<bool> {
    let wanted = to_pull(chart, files)?;
    if wanted.is_empty() {
        return Ok(false);
    }
    for f in pull(&wanted)? {
        files.push(File {
            name: format!("charts/{}", f.name),
            data: f.data,
        });
    }
    Ok(true)
}

/// Returns the dependencies to pull for `chart`, loaded from `files` (as
/// `slipway_chart::load::read_chart` reads them): those it lists, has no subchart of that
/// name for under `charts/`, and keeps in a registry. None when nothing is missing, when
/// the chart is not installable (rendering then says why), or when
/// some missing dependency is not in a registry (rendering then names every missing one,
/// as Helm does). With a lock file (`Chart.lock`, or `requirements.lock`), its entries
/// for the missing names are returned, at the versions it locks, once its digest shows it
/// was made for the dependencies listed: what `helm dependency build` fetches. Nothing is
/// read from the network.
///
/// # Errors
/// A lock file that cannot be read or is out of date (bad input).
pub(crate) fn to_pull(chart: &Chart, files: &[File]) -> Result<Vec<Dependency>> {
    let lock = lock::find(files);
    let missing = missing(chart);
    if missing.is_empty() || missing.iter().any(|d| !d.repository.starts_with(SCHEME)) {
        return Ok(Vec::new());
    }
    let Some((file, text)) = lock else {
        return Ok(missing.into_iter().cloned().collect());
    };
    let lock = lock::Lock::parse(&file, &text)?;
    lock.check(&file, &chart.metadata)?;
    let locked: Vec<Dependency> = lock
        .dependencies
        .into_iter()
        .filter(|l| missing.iter().any(|d| d.name == l.name))
        .collect();
    let unlocked = missing
        .iter()
        .any(|d| !locked.iter().any(|l| l.name == d.name));
    if unlocked || locked.iter().any(|l| !l.repository.starts_with(SCHEME)) {
        return Ok(Vec::new());
    }
    Ok(locked)
}

/// Pulls each dependency (its repository `oci://...`) through the registry client, with
/// the trust and credentials `settings` gives its host, and returns the chart archives,
/// named `NAME-VERSION.tgz`, to be taken as if they were under `charts/`. The same chart
/// at the same version is pulled once. Each pull is announced on stderr.
///
/// # Errors
/// A version or repository that cannot be used, a version the registry does not have, or
/// a tag that is not a chart of that name (bad input, found before anything is pulled
/// where it can be); a failure talking to the registry (its error, with the fixes it
/// names), or a digest mismatch.
pub(crate) fn pull_all(settings: &Settings, deps: &[Dependency]) -> Result<Vec<File>> {
    let wanted = deps.iter().map(Wanted::of).collect::<Result<Vec<_>>>()?;
    let rt = super::super::runtime()?;
    let mut pulled = Vec::new();
    let mut seen = HashSet::new();
    for (dep, target) in deps.iter().zip(&wanted) {
        let reg = crate::commands::transfer::registry(settings, &target.reference)?;
        let found = rt
            .block_on(pull(&reg, target, &mut seen))
            .with_context(|| format!("chart dependency {} from {}", dep.name, dep.repository))?;
        pulled.extend(found);
    }
    Ok(pulled)
}

/// The dependencies of `chart` without a subchart of their name under `charts/`, in the
/// listed order, when the chart is one Helm would render.
fn missing(chart: &Chart) -> Vec<&Dependency> {
    if !matches!(chart.metadata.chart_type.as_str(), "" | "application") {
        return Vec::new();
    }
    chart
        .metadata
        .dependencies
        .iter()
        .filter(|d| {
            !chart
                .dependencies
                .iter()
                .any(|sub| sub.metadata.name == d.name)
        })
        .collect()
}

/// One dependency to pull: where, and which versions.
struct Wanted {
    /// The chart's name.
    name: String,
    /// `oci://HOST/PATH/NAME`, for messages.
    url: String,
    /// The chart's repository, tagged `latest` until a version is chosen.
    reference: Reference,
    /// The `version` field as written.
    version: String,
    /// The `version` field as a range.
    range: Constraints,
}

impl Wanted {
    /// Reads a dependency entry whose repository is `oci://...`.
    ///
    /// # Errors
    /// A version that is neither a version nor a range, or a repository that does not
    /// make a registry reference with the chart's name (bad input).
    fn of(dep: &Dependency) -> Result<Wanted> {
        let range: Constraints = dep.version.parse().map_err(|e| {
            BadInput(format!(
                "dependency {:?} has an invalid version/constraint format: {:?}: {e}",
                dep.name, dep.version
            ))
        })?;
        let Some(place) = dep.repository.strip_prefix(SCHEME) else {
            bail!(BadInput(format!(
                "dependency {:?}: repository {:?} is not a registry (oci://HOST/PATH)",
                dep.name, dep.repository
            )));
        };
        let (host, path) = place.split_once('/').unwrap_or((place, ""));
        let repository = if path.is_empty() {
            dep.name.clone()
        } else {
            format!("{path}/{}", dep.name)
        };
        let text = format!("{host}/{repository}");
        let reference = Reference::parse(&text).map_err(|e| {
            BadInput(format!(
                "dependency {:?}: repository {}: {e}",
                dep.name, dep.repository
            ))
        })?;
        // Docker's rule reads a first component without a dot, a port or `localhost` as
        // part of a Docker Hub name; here the first component is always the registry.
        if reference.registry != host && host != "index.docker.io" {
            bail!(BadInput(format!(
                "dependency {:?}: repository {}: `{host}` is not read as a registry host; write it with its domain or port (`{host}:443`)",
                dep.name, dep.repository
            )));
        }
        Ok(Wanted {
            name: dep.name.clone(),
            url: format!("{SCHEME}{text}"),
            reference,
            version: dep.version.clone(),
            range,
        })
    }
}

/// Chooses the version and pulls the chart, unless the same chart at the same version was
/// pulled already for another entry (`seen`).
async fn pull(
    reg: &Arc<Registry>,
    wanted: &Wanted,
    seen: &mut HashSet<String>,
) -> Result<Option<File>> {
    let version = choose_version(reg, wanted).await?;
    let tag = version.replace('+', "_");
    if !seen.insert(format!("{}:{tag}", wanted.url)) {
        return Ok(None);
    }
    let reference = wanted.reference.with_tag(&tag);
    let source = Source::Registry(reg.clone(), reference.clone());
    let (bytes, media_type, digest) = match source.root().await {
        Ok(root) => root,
        Err(slipway_registry::Error::Status { status: 404, .. }) => {
            let there = match reg.tags(&reference.repository).await {
                Ok(tags) => versions_text(&tags),
                Err(_) => String::new(),
            };
            bail!(BadInput(format!(
                "{}:{tag} does not exist: the registry has no version {version} of chart {}{there}",
                wanted.url, wanted.name
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let not_chart = |why: String| {
        anyhow!(BadInput(format!(
            "{}:{tag} is not a chart: {why}",
            wanted.url
        )))
    };
    let manifest = match Manifest::parse(&bytes, Some(&media_type))? {
        Manifest::Image(m) => m,
        Manifest::Index(_) => return Err(not_chart(format!("it is an index ({media_type})"))),
    };
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(not_chart(format!(
            "its config is {}, not {CONFIG_MEDIA_TYPE}",
            manifest.config.media_type
        )));
    }
    let layer = chart_layer(&manifest.layers)
        .ok_or_else(|| not_chart(format!("it has no layer of media type {CHART_MEDIA_TYPE}")))?;
    if layer.media_type == LEGACY_CHART_MEDIA_TYPE {
        eprintln!(
            "warning: {}:{tag}: chart media type {LEGACY_CHART_MEDIA_TYPE} is deprecated",
            wanted.url
        );
    }
    let config: serde_json::Value =
        serde_json::from_slice(&source.small_blob(&manifest.config).await?)
            .map_err(|e| not_chart(format!("its config is not JSON: {e}")))?;
    let name = config
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or_default();
    if name != wanted.name {
        bail!(BadInput(format!(
            "{}:{tag} holds chart {name:?}, not {:?}",
            wanted.url, wanted.name
        )));
    }
    let data = source.small_blob(layer).await?;
    eprintln!(
        "pulled chart {} {version} from {}:{tag} ({digest}), kept in memory",
        wanted.name, wanted.url
    );
    Ok(Some(File {
        name: format!("{}-{version}.tgz", wanted.name),
        data,
    }))
}

/// The chart archive among a manifest's layers: the last of either chart media type.
fn chart_layer(layers: &[Descriptor]) -> Option<&Descriptor> {
    layers
        .iter()
        .rev()
        .find(|l| l.media_type == CHART_MEDIA_TYPE || l.media_type == LEGACY_CHART_MEDIA_TYPE)
}

/// The version to pull: the `version` field itself when it is a version, else the
/// highest version among the repository's tags that the range accepts.
async fn choose_version(reg: &Registry, wanted: &Wanted) -> Result<String> {
    if is_version(&wanted.version) {
        return Ok(wanted.version.clone());
    }
    let tags = match reg.tags(&wanted.reference.repository).await {
        Ok(tags) => tags,
        Err(slipway_registry::Error::Status { status: 404, .. }) => bail!(BadInput(format!(
            "{} does not exist: the registry has no chart {}",
            wanted.url, wanted.name
        ))),
        Err(e) => return Err(e.into()),
    };
    let versions = sorted_versions(&tags);
    match versions.iter().find(|v| wanted.range.matches(&v.text)) {
        Some(v) => Ok(v.text.clone()),
        None => bail!(BadInput(format!(
            "no version of chart {} in {} matches {:?}{}",
            wanted.name,
            wanted.url,
            wanted.version,
            versions_text(&tags)
        ))),
    }
}

/// ` (versions there: ...)`, highest first, for an error message (` (it has no version
/// tags)` when there is none).
fn versions_text(tags: &[String]) -> String {
    let versions = sorted_versions(tags);
    if versions.is_empty() {
        return " (it has no version tags)".into();
    }
    let shown: Vec<&str> = versions.iter().take(10).map(|v| v.text.as_str()).collect();
    let more = if versions.len() > shown.len() {
        format!(" and {} more", versions.len() - shown.len())
    } else {
        String::new()
    };
    format!(" (versions there: {}{more})", shown.join(", "))
}

/// The tags that are strict versions once `_` is read as `+` (how `+` travels in tags),
/// as versions, highest first; equal versions keep the registry's order.
fn sorted_versions(tags: &[String]) -> Vec<Version> {
    let mut versions: Vec<Version> = tags
        .iter()
        .filter_map(|t| Version::strict(&t.replace('_', "+")))
        .collect();
    versions.sort_by(|a, b| b.cmp(a));
    versions
}

/// The longest version text the semver library reads.
const MAX_VERSION_LEN: usize = 256;

/// Whether `text` is a version as the semver library reads one leniently (`NewVersion`):
/// an optional `v`, one to three dot-separated numbers (leading zeros allowed), then an
/// optional `-prerelease` and `+metadata` of dot-separated `[0-9A-Za-z-]` identifiers, a
/// numeric prerelease identifier without a leading zero.
fn is_version(text: &str) -> bool {
    if text.len() > MAX_VERSION_LEN {
        return false;
    }
    let rest = text.strip_prefix('v').unwrap_or(text);
    let (rest, metadata) = match rest.split_once('+') {
        Some((r, m)) => (r, Some(m)),
        None => (rest, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    numbers.len() <= 3
        && numbers.iter().all(|n| {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n.parse::<u64>().is_ok()
        })
        && pre.is_none_or(prerelease_ok)
        && metadata.is_none_or(metadata_ok)
}

/// Dot-separated non-empty `[0-9A-Za-z-]` identifiers.
fn metadata_ok(text: &str) -> bool {
    text.split('.')
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// As [`metadata_ok`], and a numeric identifier has no leading zero.
fn prerelease_ok(text: &str) -> bool {
    metadata_ok(text)
        && text
            .split('.')
            .all(|p| !(p.len() > 1 && p.starts_with('0') && p.bytes().all(|b| b.is_ascii_digit())))
}

/// A strict semantic version (`MAJOR.MINOR.PATCH[-PRE][+META]`), ordered by precedence
/// as the semver library orders them (metadata does not count).
#[derive(Debug)]
struct Version {
    numbers: [u64; 3],
    pre: String,
    text: String,
}

impl Version {
    /// Reads a strict version (`StrictNewVersion`): exactly three numbers without leading
    /// zeros, no `v`.
    fn strict(text: &str) -> Option<Version> {
        if text.is_empty() || text.len() > MAX_VERSION_LEN {
            return None;
        }
        let mut parts = text.splitn(3, '.');
        let (major, minor, last) = (parts.next()?, parts.next()?, parts.next()?);
        let (last, metadata) = match last.split_once('+') {
            Some((l, m)) => (l, Some(m)),
            None => (last, None),
        };
        if metadata.is_some_and(|m| !metadata_ok(m)) {
            return None;
        }
        let (patch, pre) = match last.split_once('-') {
            Some((p, pre)) if prerelease_ok(pre) => (p, pre),
            Some(_) => return None,
            None => (last, ""),
        };
        let number = |n: &str| {
            let digits = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
            (digits && !(n.len() > 1 && n.starts_with('0')))
                .then(|| n.parse::<u64>().ok())
                .flatten()
        };
        Some(Version {
            numbers: [number(major)?, number(minor)?, number(patch)?],
            pre: pre.to_string(),
            text: text.to_string(),
        })
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &other.pre),
            }
        })
    }
}

/// Compares prereleases identifier by identifier: numbers numerically and below words,
/// words by bytes, and a missing identifier below any other.
fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied(), b.get(i).copied());
        let order = match (x, y) {
            (None, _) => Ordering::Less,
            (_, None) => Ordering::Greater,
            (Some(x), Some(y)) if x == y => Ordering::Equal,
            (Some(x), Some(y)) => match (x.parse::<u64>(), y.parse::<u64>()) {
                (Ok(m), Ok(n)) => m.cmp(&n),
                (Ok(_), Err(_)) => Ordering::Less,
                (Err(_), Ok(_)) => Ordering::Greater,
                (Err(_), Err(_)) => x.cmp(y),
            },
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    //! Checked against the Go semver library itself, through sprig's `semver` function in
    //! the template oracle: `semver` is its lenient reading (`NewVersion`), `.String` the
    //! version printed back, `.Compare` its precedence. A text is a strict version exactly
    //! when the lenient reading accepts it and prints it back unchanged (no `v`, three
    //! numbers, no leading zeros), which is what `StrictNewVersion` accepts.

    use serde_json::json;

    use super::*;

    const TEXTS: &[&str] = &[
        "1",
        "1.2",
        "1.2.3",
        "v1.2.3",
        "V1.2.3",
        "01.2.3",
        "1.02.3",
        "1.2.03",
        "0.0.0",
        "1.2.3.4",
        "1..2",
        ".1.2",
        "1.2.",
        "",
        "v",
        "x",
        "1.x",
        "^1.2",
        ">=1",
        "1.2.3 ",
        "1.2.3-rc.1",
        "1.2.3-rc.01",
        "1.2.3-01",
        "1.2.3-0",
        "1.2.3-0a",
        "1.2.3-",
        "1.2.3-a..b",
        "1.2.3-a-b",
        "1.2.3--",
        "1.2.3+b",
        "1.2.3+",
        "1.2.3+a+b",
        "1.2.3+01",
        "1.2.3+a_b",
        "1.2.3-rc.1+b.2",
        "1.2-rc.1",
        "1-rc",
        "v1.2.3+x",
        "18446744073709551615.0.0",
        "18446744073709551616.0.0",
        "1.2.3-\u{e9}",
        "1.2.3_build",
    ];

    #[test]
    fn versions_are_read_as_the_go_library_reads_them() {
        let questions: Vec<_> = TEXTS
            .iter()
            .map(|t| json!({"template": "{{ (semver .v).String }}", "funcs": "sprig", "data": {"v": t}}))
            .collect();
        let answers = slipway_testkit::ask_template_oracle(&questions);
        for (text, answer) in TEXTS.iter().zip(&answers) {
            let lenient = answer.get("text").is_some();
            assert_eq!(is_version(text), lenient, "{text:?}: {answer}");
            let strict = answer["text"].as_str() == Some(text);
            assert_eq!(
                Version::strict(text).is_some(),
                strict,
                "{text:?}: {answer}"
            );
        }
    }

    #[test]
    fn versions_are_ordered_as_the_go_library_orders_them() {
        let versions = [
            "1.0.0",
            "1.10.0",
            "1.2.0",
            "1.2.0-rc.2",
            "1.2.0-rc.10",
            "1.2.0-beta",
            "1.2.0-beta.1",
            "1.2.0-1",
            "1.2.0-1.a",
            "1.2.0-a.1",
            "1.2.0-rc",
            "1.2.0+b",
            "2.0.0",
            "0.9.9",
            "1.2.0-99999999999999999999",
            "1.2.0-Rc",
            "1.2.0--",
        ];
        let mut pairs = Vec::new();
        for a in versions {
            for b in versions {
                pairs.push((a, b));
            }
        }
        let questions: Vec<_> = pairs
            .iter()
            .map(|(a, b)| {
                json!({"template": "{{ (semver .a).Compare (semver .b) }}", "funcs": "sprig",
                       "data": {"a": a, "b": b}})
            })
            .collect();
        let answers = slipway_testkit::ask_template_oracle(&questions);
        for ((a, b), answer) in pairs.iter().zip(&answers) {
            let go = match answer["text"].as_str() {
                Some("-1") => Ordering::Less,
                Some("0") => Ordering::Equal,
                Some("1") => Ordering::Greater,
                _ => panic!("{a} {b}: {answer}"),
            };
            let (x, y) = (Version::strict(a).unwrap(), Version::strict(b).unwrap());
            assert_eq!(x.cmp(&y), go, "{a} vs {b}");
        }
    }

    #[test]
    fn tags_are_read_back_with_plus_and_sorted_highest_first() {
        let tags: Vec<String> = [
            "1.0.0",
            "1.3.0_build.1",
            "v2.0.0",
            "latest",
            "1.3.0-rc.1",
            "1.2.0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let got: Vec<String> = sorted_versions(&tags).into_iter().map(|v| v.text).collect();
        assert_eq!(got, ["1.3.0+build.1", "1.3.0-rc.1", "1.2.0", "1.0.0"]);
    }
}
