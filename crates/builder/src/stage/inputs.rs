//! What a stage's digest covers besides its instructions: `RUN --mount` sources, the
//! build args it uses, and the content of the context files it copies.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde_json::Value;
use slipway_oci::{Digest, Hasher};

use crate::BuildError;
use crate::hashcache::HashCache;
use slipway_dockerfile::{self as dockerfile};
use slipway_fs::Stamp;
use slipway_glob::EntryKind;

/// One `RUN --mount=...` flag, as far as the stage digest cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountSpec {
    /// `bind` (the default), `cache`, `tmpfs`, `secret` or `ssh`.
    pub(crate) kind: String,
    /// The raw `from=`: a stage or an image; `None` for the build context.
    pub(crate) from: Option<String>,
    /// The raw `source=` (or `src=`) path in `from`.
    pub(crate) source: Option<String>,
}

/// Reads the `--mount` flags of a `RUN` (`--mount=type=bind,from=x,...`, or the same in
/// double quotes; fields are comma-separated and may be quoted themselves).
pub(crate) fn mount_specs(r: &dockerfile::Run) -> Vec<MountSpec> {
    r.flags
        .iter()
        .filter_map(|f| f.strip_prefix("--mount="))
        .map(|v| {
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            let mut m = MountSpec {
                kind: "bind".into(),
                from: None,
                source: None,
            };
            for field in split_fields(v) {
                let Some((k, val)) = field.split_once('=') else {
                    continue;
                };
                match k.trim().to_ascii_lowercase().as_str() {
                    "type" => m.kind = val.to_ascii_lowercase(),
                    "from" => m.from = Some(val.to_string()),
                    "source" | "src" => m.source = Some(val.to_string()),
                    _ => {}
                }
            }
            m
        })
        .collect()
}

/// Returns the raw `from=` values of a `RUN`'s `--mount` flags.
pub(crate) fn mount_froms(r: &dockerfile::Run) -> Vec<String> {
    mount_specs(r).into_iter().filter_map(|m| m.from).collect()
}

/// Splits `a,"b,c",d` at the commas outside double quotes, dropping the quotes.
pub(crate) fn split_fields(v: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in v.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().expect("one field").push(c),
        }
    }
    out
}

/// Tells whether any of the instructions (as normalized text) names the variable (`$NAME`
/// or `${NAME...}`), heredoc bodies included. Conservative: a name in quotes or an escaped
/// `\$` counts too.
pub(crate) fn names_var(instructions: &[String], name: &str) -> bool {
    instructions.iter().any(|text| {
        let mut rest = text.as_str();
        while let Some(at) = rest.find('$') {
            rest = &rest[at + 1..];
            let word = rest.strip_prefix('{').unwrap_or(rest);
            if let Some(after) = word.strip_prefix(name)
                && !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            {
                return true;
            }
        }
        false
    })
}

pub(crate) fn json_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// Hashes the regular files of a COPY plan, on as many threads as there are cores (up to
/// 8); files whose stamp matches the cache are not read.
pub(crate) fn hash_files(
    entries: &[slipway_glob::Entry],
    cache: &HashCache,
) -> Result<Vec<Option<Digest>>, BuildError> {
    let files: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == EntryKind::File)
        .map(|(i, _)| i)
        .collect();
    let mut out: Vec<Option<Digest>> = vec![None; entries.len()];
    if files.is_empty() {
        return Ok(out);
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8)
        .min(files.len());
    let chunk = files.len().div_ceil(threads);
    let results: Vec<Result<Vec<(usize, Digest)>, BuildError>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    part.iter()
                        .map(|&i| cached_hash(&entries[i], cache, &mut buf).map(|d| (i, d)))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("hash thread"))
            .collect()
    });
    for r in results {
        for (i, d) in r? {
            out[i] = Some(d);
        }
    }
    Ok(out)
}

/// Returns a file's digest: from the cache when the stamp the walk read still matches an
/// entry, otherwise by reading the file.
pub(crate) fn cached_hash(
    entry: &slipway_glob::Entry,
    cache: &HashCache,
    buf: &mut [u8],
) -> Result<Digest, BuildError> {
    let path = entry.source.as_path();
    if let Some(d) = cache.get(path, &entry.stamp) {
        return Ok(d);
    }
    let d = hash_file(path, buf)?;
    // Only a file that did not change since it was listed and while it was read is
    // remembered.
    if std::fs::metadata(path).is_ok_and(|m| Stamp::of(&m) == entry.stamp) {
        cache.put(path, entry.stamp, d.clone());
    }
    Ok(d)
}

pub(crate) fn hash_file(path: &Path, buf: &mut [u8]) -> Result<Digest, BuildError> {
    let io = |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let mut h = Hasher::new();
    loop {
        let n = f.read(buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}
