//! Per-registry TLS trust for slipway: which roots, pinned certificates and client
//! certificate apply to each registry host, where each came from, and what happens when
//! slipway connects (`registry probe`), named in one diagnosis vocabulary.
//!
//! What it is for: resolving trust from flags, a k3s `registries.yaml`, certs.d folders,
//! `SSL_CERT_FILE`/`SSL_CERT_DIR` and the system bundle, in that order, and building a rustls
//! `ClientConfig` (aws-lc-rs provider) per host. A server's own self-signed certificate given
//! as "the CA" is pinned for that host only. Skip-verify and plain HTTP are reachable only
//! through [`TrustPolicyBuilder::dangerous`].
//!
//! What it is not for: HTTP clients, auth, or node configuration; those crates consume it.
//!
//! ```no_run
//! use slipway_trust::{RegistryHost, TrustPolicy, ProbeOptions, probe};
//! let host = RegistryHost::parse("registry.test:5000")?;
//! let policy = TrustPolicy::builder().ca_file(host.clone(), "/etc/slipway/ca.crt").build()?;
//! let trust = policy.resolve(&host)?;
//! let report = probe(&trust, &ProbeOptions::default());
//! println!("{}: {}", report.registry, report.verdict);
//! # Ok::<(), slipway_trust::Error>(())
//! ```

mod config;
mod dangerous;
mod diagnosis;
mod error;
mod events;
mod fix;

mod inspect;
mod pem;
mod policy;
mod probe;
mod source;
mod tls;

pub use config::{Auth, HostConfig, RegistriesConfig, TlsConfig};
pub use diagnosis::{
    ConnectionProblem, Verdict, certificate_problem, classify_certificate_error,
    classify_connection_error, error_text,
};
pub use error::Error;
pub use events::{PullFailure, classify_pull_failure};
pub use fix::{Fix, FixContext, Fixes, ca_file_name, cluster_trust_command};
pub use inspect::{CertSummary, fingerprint, summarize};
pub use pem::{certificate_pem, parse_certificates, read_certificates, read_private_key};
pub use policy::{
    CERTS_D_DIRS, DangerousPolicy, HostTrust, PlainHttp, SYSTEM_BUNDLES, TrustPolicy,
    TrustPolicyBuilder, load_identity,
};
pub use probe::{ApiAnswer, ProbeOptions, ProbeReport, TlsFacts, parse_head, probe};
pub use slipway_names::RegistryHost;
pub use source::{Role, SourceKind, SourceUse};
pub use tls::provider;
