//! The k3s `registries.yaml` format, read as a trust source (`--registries-config`).
//!
//! Only the keys slipway acts on are modelled; `mirrors` is accepted and left to the nodes
//! (k3s reads the same file natively). Unknown keys under `configs.<host>` are refused, so a
//! typo like `ca_flie` cannot silently drop a CA.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, RegistryHost};

/// Represents a parsed `registries.yaml`, with relative paths resolved against its folder.
#[derive(Clone, Debug)]
pub struct RegistriesConfig {
    path: PathBuf,
    configs: BTreeMap<String, HostConfig>,
}

/// Holds one `configs.<host>` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Credentials for the registry. Never printed.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// TLS settings for the registry.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// Holds `configs.<host>.tls`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// A PEM file of CA certificates (or the server's own self-signed certificate).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A PEM client certificate for mTLS.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The PEM key of `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Turns verification off for this host. Announced every time it is used.
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
}

/// Holds `configs.<host>.auth`. Its `Debug` never shows secrets.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// User name.
    #[serde(default)]
    pub username: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// base64 `user:password`, as in docker's config.json.
    #[serde(default)]
    pub auth: Option<String>,
    /// An identity (refresh) token.
    #[serde(default)]
    pub identity_token: Option<String>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// Accepted and left to k3s on the nodes.
    #[serde(default, rename = "mirrors")]
    _mirrors: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    configs: Option<BTreeMap<String, Option<HostConfig>>>,
}

impl RegistriesConfig {
    /// Reads and validates a `registries.yaml` file.
    ///
    /// # Errors
    /// A missing or unreadable file, YAML that does not parse, an unknown key, or a host key
    /// that is not `host[:port]` (or `*`).
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
            purpose: "registries config (--registries-config)".into(),
            path: path.into(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses `registries.yaml` text that was read from `path`.
    ///
    /// # Errors
    /// As [`RegistriesConfig::read`], except for reading.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let err = |why: String| Error::Config {
            path: path.into(),
            why,
        };
        let file: Option<File> = if text.trim().is_empty() {
            None
        } else {
            serde_saphyr::from_str(text).map_err(|e| err(e.to_string()))?
        };
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut configs = BTreeMap::new();
        for (key, entry) in file.and_then(|f| f.configs).unwrap_or_default() {
            let key = if key == "*" {
                key
            } else {
                RegistryHost::parse(&key)
                    .map_err(|e| err(format!("configs.{key}: {e}")))?
                    .to_string()
            };
            let mut entry = entry.unwrap_or_default();
            if let Some(tls) = entry.tls.as_mut() {
                for p in [&mut tls.ca_file, &mut tls.cert_file, &mut tls.key_file]
                    .into_iter()
                    .flatten()
                {
                    if p.is_relative() {
                        *p = base.join(&*p);
                    }
                }
                if tls.cert_file.is_some() != tls.key_file.is_some() {
                    return Err(err(format!(
                        "configs.{key}.tls: cert_file and key_file must be given together"
                    )));
                }
            }
            configs.insert(key, entry);
        }
        Ok(RegistriesConfig {
            path: path.into(),
            configs,
        })
    }

    /// Returns the file this config was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the entry for a host: `host:port` exactly, then the bare host, then `*`.
    pub fn lookup(&self, host: &RegistryHost) -> Option<(&str, &HostConfig)> {
        [
            host.to_string(),
            host.without_port().to_string(),
            "*".to_string(),
        ]
        .into_iter()
        .find_map(|k| self.configs.get_key_value(&k))
        .map(|(k, v)| (k.as_str(), v))
    }

    /// Iterates over every host entry, for validating every file it names.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &HostConfig)> {
        self.configs.iter().map(|(k, v)| (k.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RegistriesConfig, Error> {
        RegistriesConfig::parse(text, Path::new("/etc/rancher/k3s/registries.yaml"))
    }

    #[test]
    fn reads_the_k3s_shape_and_resolves_relative_paths() {
        let c = parse(
            "mirrors:\n  docker.io:\n    endpoint: [\"https://r.test:5000\"]\nconfigs:\n  \"r.test:5000\":\n    auth:\n      username: u\n      password: p\n    tls:\n      ca_file: certs/ca.crt\n      insecure_skip_verify: false\n",
        )
        .unwrap();
        let host = RegistryHost::parse("r.test:5000").unwrap();
        let (key, entry) = c.lookup(&host).unwrap();
        assert_eq!(key, "r.test:5000");
        let tls = entry.tls.as_ref().unwrap();
        assert_eq!(
            tls.ca_file.as_deref(),
            Some(Path::new("/etc/rancher/k3s/certs/ca.crt"))
        );
        assert!(
            !format!("{:?}", entry.auth).contains("\"p\""),
            "password must not be in Debug"
        );
    }

    #[test]
    fn falls_back_from_host_port_to_bare_host_to_star() {
        let c = parse("configs:\n  r.test:\n    tls:\n      ca_file: /a\n  \"*\":\n    tls:\n      ca_file: /b\n").unwrap();
        assert_eq!(
            c.lookup(&RegistryHost::parse("r.test:5000").unwrap())
                .unwrap()
                .0,
            "r.test"
        );
        assert_eq!(
            c.lookup(&RegistryHost::parse("other:1").unwrap())
                .unwrap()
                .0,
            "*"
        );
    }

    #[test]
    fn refuses_unknown_keys_naming_them() {
        let err = parse("configs:\n  r.test:\n    tls:\n      ca_flie: /a\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ca_flie") && err.contains("registries.yaml"),
            "{err}"
        );
    }

    #[test]
    fn refuses_yaml_that_does_not_parse() {
        let err = parse("configs: [unclosed\n").unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
    }

    #[test]
    fn refuses_a_cert_without_its_key() {
        let err = parse("configs:\n  r.test:\n    tls:\n      cert_file: /c\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("together"), "{err}");
    }

    #[test]
    fn accepts_an_empty_file() {
        assert!(
            parse("")
                .unwrap()
                .lookup(&RegistryHost::parse("r.test").unwrap())
                .is_none()
        );
    }
}
