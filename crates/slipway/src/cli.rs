//! The command-line surface: clap types only, no logic.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use slipway_trust::RegistryHost;

const ABOUT: &str =
    "Build, push and deploy through a private registry that every stage trusts on purpose.";

const LONG_ABOUT: &str = "\
slipway takes an application from source to running pods through a private container
registry whose certificate is self-signed or issued by an internal CA. Instead of
switching verification off, it makes each stage trust the registry on purpose.

Trust is resolved per registry host, from the first source that has something for it:
  1. flags: --registry-ca, --registry-client-cert, --registry-skip-verify, --registry-plain-http
     (and werf's --skip-tls-verify-registry / --insecure-registry, which warn)
  2. --registries-config FILE (k3s registries.yaml format)
  3. certs.d folders: /etc/containers/certs.d/HOST[:PORT]/, then /etc/docker/certs.d/HOST[:PORT]/
  4. SSL_CERT_FILE / SSL_CERT_DIR
  5. the system CA bundle
A certificate given as a host's CA may be the server's own self-signed certificate
(`openssl req -x509`); slipway pins it for that host only.";

/// Parses the command line.
#[derive(Debug, Parser)]
#[command(name = "slipway", version, about = ABOUT, long_about = LONG_ABOUT, propagate_version = true)]
pub struct Cli {
    /// Trust and output settings shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Holds the flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Trust the CA certificates in FILE for registry HOST[:PORT]. FILE may also be the
    /// server's own self-signed certificate. Repeatable.
    #[arg(long = "registry-ca", value_name = "HOST=FILE", global = true, value_parser = parse_host_file)]
    pub registry_ca: Vec<HostFile>,

    /// Present the client certificate CERT with key KEY to registry HOST (mTLS). Repeatable.
    #[arg(long = "registry-client-cert", value_name = "HOST=CERT,KEY", global = true, value_parser = parse_host_pair)]
    pub registry_client_cert: Vec<HostPair>,

    /// DANGEROUS: do not verify the certificate of registry HOST. Announced on every run.
    #[arg(long = "registry-skip-verify", value_name = "HOST", global = true)]
    pub registry_skip_verify: Vec<RegistryHost>,

    /// DANGEROUS: speak plain HTTP to registry HOST. Announced on every run.
    #[arg(long = "registry-plain-http", value_name = "HOST", global = true)]
    pub registry_plain_http: Vec<RegistryHost>,

    /// Read per-registry TLS settings from a k3s-format registries.yaml
    /// (configs.HOST.tls.{ca_file,cert_file,key_file,insecure_skip_verify}).
    #[arg(
        long = "registries-config",
        value_name = "FILE",
        env = "SLIPWAY_REGISTRIES_CONFIG",
        global = true
    )]
    pub registries_config: Option<PathBuf>,

    /// certs.d roots to search for HOST[:PORT]/ folders, in order (colon-separated in the
    /// env var) [default: /etc/containers/certs.d:/etc/docker/certs.d]
    #[arg(
        long = "certs-d",
        value_name = "DIR",
        env = "SLIPWAY_CERTS_D",
        value_delimiter = ':',
        global = true
    )]
    pub certs_d: Vec<PathBuf>,

    /// werf compatibility, DANGEROUS: skip certificate verification for every registry.
    /// Prefer --registry-ca HOST=FILE. Warns, naming each host it weakens.
    #[arg(
        long = "skip-tls-verify-registry",
        env = "WERF_SKIP_TLS_VERIFY_REGISTRY",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new(),
        global = true
    )]
    pub skip_tls_verify_registry: Option<bool>,

    /// werf compatibility, DANGEROUS: allow plain HTTP for every registry whose port speaks
    /// HTTP (HTTPS is tried first). Warns, naming each host it affects.
    #[arg(
        long = "insecure-registry",
        env = "WERF_INSECURE_REGISTRY",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new(),
        global = true
    )]
    pub insecure_registry: Option<bool>,

    /// werf compatibility: the repository images are stored in (HOST[:PORT]/PATH).
    #[arg(long = "repo", value_name = "REPO", env = "WERF_REPO", global = true)]
    pub repo: Option<String>,

    /// Output format: human-readable text, or one JSON object on stdout.
    #[arg(long = "output", short = 'o', value_enum, default_value_t = Output::Human, env = "SLIPWAY_OUTPUT", global = true)]
    pub output: Output,
}

/// Chooses how results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Text for people.
    Human,
    /// One JSON object, for scripts.
    Json,
}

/// Lists the commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Talk to registries: check how this machine connects to them.
    #[command(subcommand)]
    Registry(RegistryCommand),
}

/// Lists the `registry` subcommands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Connect to a registry and name what happens, with the fix for this machine and the nodes.
    ///
    /// Prints the verdict (ok, unknown-authority, hostname-mismatch, expired, not-yet-valid,
    /// legacy-common-name, plain-http, tls-required, client-cert-required,
    /// connection-refused, dns, timeout, not-found, other), the certificate chain the server
    /// sent, the trust sources used, the answer of GET /v2/, and the fix.
    /// Exits 0 only when the verdict is ok.
    #[command(after_help = "\
Examples:
  slipway registry probe registry.internal:5000
  slipway --registry-ca registry.internal:5000=ca.crt registry probe registry.internal:5000
  slipway --output json registry probe registry.internal:5000 | jq .verdict")]
    Probe(ProbeArgs),
}

/// Holds `registry probe` arguments.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The registry, as HOST[:PORT] (port 443 when omitted; 80 with --registry-plain-http).
    #[arg(value_name = "HOST[:PORT]")]
    pub host: RegistryHost,

    /// Time allowed to connect and for each read (e.g. 10s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Holds a `HOST=FILE` flag value.
#[derive(Clone, Debug)]
pub struct HostFile {
    /// The registry.
    pub host: RegistryHost,
    /// The file.
    pub file: PathBuf,
}

/// Holds a `HOST=CERT,KEY` flag value.
#[derive(Clone, Debug)]
pub struct HostPair {
    /// The registry.
    pub host: RegistryHost,
    /// The certificate file.
    pub cert: PathBuf,
    /// The key file.
    pub key: PathBuf,
}

fn split_host(s: &str, shape: &str) -> Result<(RegistryHost, String), String> {
    let (host, rest) = s.split_once('=').ok_or_else(|| {
        format!(
            "expected {shape} (e.g. registry.internal:5000={}), but there is no `=`",
            &shape[5..]
        )
    })?;
    let host = RegistryHost::parse(host).map_err(|e| e.to_string())?;
    if rest.is_empty() {
        return Err(format!("expected {shape}, but nothing follows `=`"));
    }
    Ok((host, rest.to_string()))
}

fn parse_host_file(s: &str) -> Result<HostFile, String> {
    let (host, file) = split_host(s, "HOST=FILE")?;
    Ok(HostFile {
        host,
        file: file.into(),
    })
}

fn parse_host_pair(s: &str) -> Result<HostPair, String> {
    let (host, rest) = split_host(s, "HOST=CERT,KEY")?;
    let (cert, key) = rest
        .split_once(',')
        .filter(|(c, k)| !c.is_empty() && !k.is_empty())
        .ok_or_else(|| format!("expected HOST=CERT,KEY, but `{rest}` is not CERT,KEY"))?;
    Ok(HostPair {
        host,
        cert: cert.into(),
        key: key.into(),
    })
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 10s or 500ms"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit `{unit}` in `{s}`; use ms, s or m")),
    };
    if !(secs > 0.0 && secs < 86_400.0) {
        return Err(format!("`{s}` must be more than 0 and less than a day"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_file_needs_an_equals_sign() {
        let err = parse_host_file("registry.test:5000").unwrap_err();
        assert!(err.contains("no `=`"), "{err}");
        let ok = parse_host_file("registry.test:5000=/tmp/ca.crt").unwrap();
        assert_eq!(ok.host.to_string(), "registry.test:5000");
    }

    #[test]
    fn host_pair_needs_cert_and_key() {
        assert!(parse_host_pair("r.test=/c").is_err());
        assert!(parse_host_pair("r.test=/c,").is_err());
        let p = parse_host_pair("r.test=/c,/k").unwrap();
        assert_eq!((p.cert.to_str(), p.key.to_str()), (Some("/c"), Some("/k")));
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("3h").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn werf_bool_flags_do_not_swallow_the_subcommand() {
        let cli = Cli::try_parse_from([
            "slipway",
            "--skip-tls-verify-registry",
            "registry",
            "probe",
            "r.test",
        ])
        .unwrap();
        assert_eq!(cli.global.skip_tls_verify_registry, Some(true));
        let cli = Cli::try_parse_from([
            "slipway",
            "--insecure-registry=false",
            "registry",
            "probe",
            "r.test",
        ])
        .unwrap();
        assert_eq!(cli.global.insecure_registry, Some(false));
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
