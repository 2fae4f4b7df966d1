//! Where each piece of trust came from. Every root, pin, client certificate and relaxation
//! carries one of these, so errors and `registry probe` can name their sources.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Names a kind of trust source, in the order they are consulted for a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SourceKind {
    /// A command-line flag or its environment variable.
    Flag,
    /// A k3s-format `registries.yaml` given with `--registries-config`.
    RegistriesConfig,
    /// A `certs.d/<host[:port]>/` folder on this machine.
    CertsD,
    /// The `SSL_CERT_FILE` environment variable.
    SslCertFile,
    /// The `SSL_CERT_DIR` environment variable.
    SslCertDir,
    /// The operating system's CA bundle.
    System,
}

/// Says what a source contributed for a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Role {
    /// CA certificates used as trust anchors.
    Ca,
    /// A self-signed server certificate trusted as itself, for this host only.
    Pinned,
    /// A client certificate and key presented for mTLS.
    ClientCert,
    /// Certificate verification switched off (dangerous).
    SkipVerify,
    /// Plain HTTP instead of TLS (dangerous).
    PlainHttp,
}

/// Records one trust source used for a host: its kind, what set it, the file and what it gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceUse {
    /// The kind of source.
    pub kind: SourceKind,
    /// What set it: the flag name, the config file, or the env var.
    pub via: String,
    /// The file or folder that held the material, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// What it contributed.
    pub role: Role,
    /// How many certificates it contributed.
    pub certificates: usize,
}

impl fmt::Display for SourceUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.role {
            Role::Ca => "CA",
            Role::Pinned => "pinned certificate",
            Role::ClientCert => "client certificate",
            Role::SkipVerify => "verification SKIPPED",
            Role::PlainHttp => "plain HTTP",
        };
        write!(f, "{role} from {}", self.via)?;
        if let Some(p) = &self.path {
            write!(f, " ({})", p.display())?;
        }
        if matches!(self.role, Role::Ca | Role::Pinned) {
            let s = if self.certificates == 1 { "" } else { "s" };
            write!(f, ", {} certificate{s}", self.certificates)?;
        }
        Ok(())
    }
}
