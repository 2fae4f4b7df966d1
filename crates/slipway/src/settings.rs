//! Resolves the command line and the environment into a trust policy before any command
//! runs, and announces every setting that weakens verification.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use slipway_trust::{HostTrust, RegistryHost, TrustPolicy};

use crate::cli::GlobalArgs;

/// Holds the resolved settings every command works from.
pub struct Settings {
    /// The trust policy for every registry.
    pub policy: Arc<TrustPolicy>,
}

impl Settings {
    /// Builds the policy from flags and environment, validating every file named.
    ///
    /// # Errors
    /// Any bad file or value, named with its registry and source.
    pub fn resolve(g: &GlobalArgs) -> Result<Settings> {
        let env_path = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let mut b = TrustPolicy::builder()
            .registries_config(g.registries_config.clone())
            .ssl_cert_file(env_path("SSL_CERT_FILE"))
            .ssl_cert_dir(env_path("SSL_CERT_DIR"));
        if !g.certs_d.is_empty() {
            b = b.certs_d_dirs(g.certs_d.clone());
        }
        for f in &g.registry_ca {
            b = b.ca_file(f.host.clone(), f.file.clone());
        }
        for p in &g.registry_client_cert {
            b = b.client_cert(p.host.clone(), p.cert.clone(), p.key.clone());
        }
        {
            let mut d = b.dangerous();
            for h in &g.registry_skip_verify {
                d.skip_verify(h.clone(), "--registry-skip-verify");
            }
            for h in &g.registry_plain_http {
                d.plain_http(h.clone(), "--registry-plain-http");
            }
            if g.skip_tls_verify_registry == Some(true) {
                d.skip_verify_everywhere("--skip-tls-verify-registry");
            }
            if g.insecure_registry == Some(true) {
                d.plain_http_fallback_everywhere("--insecure-registry");
            }
        }
        let policy = b.build()?;
        Ok(Settings {
            policy: Arc::new(policy),
        })
    }

    /// Resolves one host and announces what weakens it.
    ///
    /// # Errors
    /// A certs.d file for the host that cannot be read or parsed.
    pub fn trust_for(&self, host: &RegistryHost) -> Result<HostTrust> {
        let t = self.policy.resolve(host)?;
        // Every relaxation is announced here, per host, whatever set it: a per-host flag,
        // werf's global switches, or registries.yaml.
        if let Some(by) = &t.skip_verify {
            eprintln!(
                "warning: certificate verification is OFF for registry {host} (set by {by}); trust its CA instead: --registry-ca {host}=FILE"
            );
        }
        match &t.plain_http {
            Some(p) if p.https_first => eprintln!(
                "warning: registry {host} may fall back to plain HTTP, without encryption or server identity (set by {}); prefer --registry-plain-http {host} if it really speaks HTTP",
                p.by
            ),
            Some(p) => eprintln!(
                "warning: registry {host} is reached over plain HTTP, without TLS (set by {})",
                p.by
            ),
            None => {}
        }
        Ok(t)
    }
}
