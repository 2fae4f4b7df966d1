//! Runs the real `skopeo` CLI (Debian package `skopeo`) against test registries.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::ClientCert;

/// A failed `skopeo` run: its command line, exit status and stderr.
#[derive(Clone, Debug)]
pub struct SkopeoError {
    /// The arguments skopeo was run with (passwords are redacted).
    pub args: Vec<String>,
    /// How skopeo exited.
    pub status: ExitStatus,
    /// What skopeo wrote on stderr (its error message, e.g. `... x509: certificate signed
    /// by unknown authority`).
    pub stderr: String,
}

impl fmt::Display for SkopeoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "skopeo {} failed ({}): {}",
            self.args.join(" "),
            self.status,
            self.stderr.trim_end()
        )
    }
}

impl std::error::Error for SkopeoError {}

/// Builds and runs `skopeo` command lines. Every run passes `--insecure-policy` (no
/// `/etc/containers/policy.json` needed) and a command timeout.
///
/// For `docker://` references it sets trust and credentials explicitly, so the machine's
/// containers configuration cannot change the outcome: `--*-tls-verify=true` unless
/// [`Skopeo::plain_http`], `--*-cert-dir` when a cert dir is set, `--*-creds` when
/// credentials are set and `--*-no-creds` otherwise.
///
/// ```no_run
/// use slipway_testkit::Skopeo;
/// # let (certs, layout) = (std::path::Path::new("/tmp/certs"), "oci:/tmp/layout:1");
/// let skopeo = Skopeo::new().cert_dir(certs);
/// skopeo.copy(layout, "docker://localhost:5000/app:1").unwrap();
/// let digest = skopeo.manifest_digest("docker://localhost:5000/app:1").unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Skopeo {
    cert_dir: Option<PathBuf>,
    creds: Option<(String, String)>,
    plain_http: bool,
    retry_times: u32,
    timeout: Duration,
}

impl Default for Skopeo {
    fn default() -> Self {
        Self::new()
    }
}

impl Skopeo {
    /// Verifies TLS against the system roots only, anonymous, no retries, 120 s timeout.
    pub fn new() -> Self {
        Skopeo {
            cert_dir: None,
            creds: None,
            plain_http: false,
            retry_times: 0,
            timeout: Duration::from_secs(120),
        }
    }

    /// Trusts the `*.crt` files in `dir` (and presents `X.cert` + `X.key` from it as a
    /// client certificate), for every `docker://` side (`--cert-dir`, `--src-cert-dir`,
    /// `--dest-cert-dir`). See [`cert_dir`].
    pub fn cert_dir(mut self, dir: &Path) -> Self {
        self.cert_dir = Some(dir.to_path_buf());
        self
    }

    /// Logs in with this user and password (`--creds`, `--src-creds`, `--dest-creds`).
    pub fn creds(mut self, user: &str, password: &str) -> Self {
        self.creds = Some((user.to_string(), password.to_string()));
        self
    }

    /// **Dangerous**: `--tls-verify=false`, which lets skopeo use plain HTTP and skip
    /// certificate verification. For plain-HTTP test registries only.
    pub fn plain_http(mut self) -> Self {
        self.plain_http = true;
        self
    }

    /// Lets skopeo retry a failed operation `n` times (`--retry-times`; default 0, so
    /// that errors come back at once and unchanged).
    pub fn retry_times(mut self, n: u32) -> Self {
        self.retry_times = n;
        self
    }

    /// Sets skopeo's own `--command-timeout` (default 120 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds the trust and credential flags for one side of a command (`prefix` is `""`,
    /// `"src-"` or `"dest-"`).
    fn side_flags(&self, prefix: &str, args: &mut Vec<OsString>) {
        args.push(format!("--{prefix}tls-verify={}", !self.plain_http).into());
        if let Some(dir) = &self.cert_dir {
            args.push(format!("--{prefix}cert-dir").into());
            args.push(dir.as_os_str().to_owned());
        }
        match &self.creds {
            Some((user, pass)) => {
                args.push(format!("--{prefix}creds").into());
                args.push(format!("{user}:{pass}").into());
            }
            None => args.push(format!("--{prefix}no-creds").into()),
        }
    }

    /// Runs `skopeo copy SRC DST`, with `--retry-times` and the trust and credential flags
    /// for each side that is a `docker://` reference. Returns stdout.
    pub fn copy(&self, src: &str, dst: &str) -> Result<String, SkopeoError> {
        let mut args: Vec<OsString> = vec!["copy".into()];
        args.push(format!("--retry-times={}", self.retry_times).into());
        if src.starts_with("docker://") {
            self.side_flags("src-", &mut args);
        }
        if dst.starts_with("docker://") {
            self.side_flags("dest-", &mut args);
        }
        args.push(src.into());
        args.push(dst.into());
        self.run(&args)
    }

    /// Runs `skopeo inspect IMAGE_REF` and returns its JSON (which holds `"Digest"`, the
    /// manifest digest, and `"RepoTags"`, `"Architecture"`, `"Os"`, `"Layers"`, ...).
    pub fn inspect(&self, image_ref: &str) -> Result<String, SkopeoError> {
        let mut args: Vec<OsString> = vec!["inspect".into()];
        args.push(format!("--retry-times={}", self.retry_times).into());
        if image_ref.starts_with("docker://") {
            self.side_flags("", &mut args);
        }
        args.push(image_ref.into());
        self.run(&args)
    }

    /// Runs `skopeo list-tags docker://REPO` with the trust and credential flags, and
    /// returns the tags, sorted.
    ///
    /// # Panics
    /// When skopeo succeeded but printed no `Tags` list.
    pub fn list_tags(&self, repo: &str) -> Result<Vec<String>, SkopeoError> {
        let mut args: Vec<OsString> = vec!["list-tags".into()];
        self.side_flags("", &mut args);
        args.push(format!("docker://{repo}").into());
        let out = self.run(&args)?;
        let json: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("skopeo list-tags {repo} printed no JSON ({e}): {out}"));
        let mut tags: Vec<String> = json["Tags"]
            .as_array()
            .unwrap_or_else(|| panic!("skopeo list-tags {repo} printed no Tags: {out}"))
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        tags.sort();
        Ok(tags)
    }

    /// Returns the manifest digest (`sha256:...`) of `image_ref`, the `Digest` field of
    /// [`Skopeo::inspect`].
    ///
    /// # Panics
    /// When skopeo succeeded but its output holds no `Digest` string.
    pub fn manifest_digest(&self, image_ref: &str) -> Result<String, SkopeoError> {
        let json = self.inspect(image_ref)?;
        match json_string_field(&json, "Digest") {
            Some(d) => Ok(d),
            None => panic!("skopeo inspect {image_ref} printed no \"Digest\": {json}"),
        }
    }

    /// Runs `skopeo --insecure-policy --command-timeout T ARGS...` and returns stdout, or
    /// the exit status and stderr when it fails.
    ///
    /// # Panics
    /// When `skopeo` cannot be run (not installed): tests must fail, not skip.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String, SkopeoError> {
        let out = Command::new("skopeo")
            .arg("--insecure-policy")
            .arg(format!(
                "--command-timeout={}s",
                self.timeout.as_secs().max(1)
            ))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run skopeo (install the Debian package skopeo): {e}")
            });
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let mut shown = Vec::new();
        let mut redact_next = false;
        for a in args {
            let a = a.as_ref().to_string_lossy().into_owned();
            if redact_next {
                let user = a.split(':').next().unwrap_or_default();
                shown.push(format!("{user}:<redacted>"));
            } else {
                shown.push(a.clone());
            }
            redact_next = a.ends_with("creds") && !a.ends_with("no-creds");
        }
        Err(SkopeoError {
            args: shown,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// Finds `"name": "value"` in JSON text and returns `value` (no escapes expected).
fn json_string_field(json: &str, name: &str) -> Option<String> {
    let key = format!("\"{name}\"");
    let rest = &json[json.find(&key)? + key.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

/// Makes a skopeo / containers cert dir in `dir` (created if missing): each of `cas` is
/// copied as `ca-N.crt` (`ca.crt` when there is one), and `client`, when given, as
/// `client.cert` + `client.key`. Returns `dir`.
///
/// # Panics
/// When a file cannot be read or written.
pub fn cert_dir(dir: &Path, cas: &[&Path], client: Option<&ClientCert>) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let copy = |from: &Path, name: &str| {
        std::fs::copy(from, dir.join(name))
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), dir.display()));
    };
    for (i, ca) in cas.iter().enumerate() {
        let name = if cas.len() == 1 {
            "ca.crt".to_string()
        } else {
            format!("ca-{}.crt", i + 1)
        };
        copy(ca, &name);
    }
    if let Some(c) = client {
        copy(&c.cert, "client.cert");
        copy(&c.key, "client.key");
    }
    dir.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::json_string_field;

    #[test]
    fn digest_field_is_found_in_pretty_json() {
        let json = "{\n    \"Name\": \"localhost:1/app\",\n    \"Digest\": \"sha256:ab\",\n}";
        assert_eq!(
            json_string_field(json, "Digest").as_deref(),
            Some("sha256:ab")
        );
        assert_eq!(json_string_field(json, "Missing"), None);
    }
}
