//! The per-registry trust policy: which roots, pins, client certificate and relaxations
//! apply to a host, resolved from every source in a fixed order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::config::RegistriesConfig;
use crate::pem::{read_certificates, read_private_key};
use crate::source::{Role, SourceKind, SourceUse};
use crate::{Error, RegistryHost};

/// The CA bundles of common distributions; the first that exists is the system store.
pub const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The certs.d roots consulted on the build machine, in order. The first folder that exists
/// for a host wins, as in containers/image.
pub const CERTS_D_DIRS: &[&str] = &["/etc/containers/certs.d", "/etc/docker/certs.d"];

/// Holds the trust inputs for every registry, before any host is resolved.
///
/// Build one with [`TrustPolicy::builder`]. Skip-verify and plain HTTP can only be set
/// through [`TrustPolicyBuilder::dangerous`].
#[derive(Debug)]
pub struct TrustPolicy {
    // Files named by flags and the config are read once, in `build`, and kept here.
    ca_flags: Vec<(RegistryHost, PathBuf, Vec<CertificateDer<'static>>)>,
    client_flags: Vec<(RegistryHost, PathBuf, Arc<CertifiedKey>)>,
    config: Option<RegistriesConfig>,
    config_material: BTreeMap<String, ConfigMaterial>,
    certs_d: Vec<PathBuf>,
    base: BaseRoots,
    relax: Relaxations,
}

/// The CA and client pair one `configs.<host>.tls` entry names, loaded.
#[derive(Debug, Default)]
struct ConfigMaterial {
    ca: Option<Vec<CertificateDer<'static>>>,
    identity: Option<Arc<CertifiedKey>>,
}

#[derive(Debug, Default)]
struct Relaxations {
    skip_verify: Vec<(Option<RegistryHost>, String)>,
    plain_http: Vec<(Option<RegistryHost>, String, bool)>,
}

#[derive(Debug, Default)]
struct BaseRoots {
    certs: Vec<CertificateDer<'static>>,
    sources: Vec<SourceUse>,
}

/// Builds a [`TrustPolicy`].
#[derive(Debug, Default)]
pub struct TrustPolicyBuilder {
    ca_flags: Vec<(RegistryHost, PathBuf)>,
    client_flags: Vec<(RegistryHost, PathBuf, PathBuf)>,
    config: Option<PathBuf>,
    certs_d: Option<Vec<PathBuf>>,
    ssl_cert_file: Option<PathBuf>,
    ssl_cert_dir: Option<PathBuf>,
    system_bundles: Option<Vec<PathBuf>>,
    relax: Relaxations,
}

/// Sets the settings that weaken verification. Reached only through
/// [`TrustPolicyBuilder::dangerous`], so every use is visible in review.
#[derive(Debug)]
pub struct DangerousPolicy<'a> {
    relax: &'a mut Relaxations,
}

impl DangerousPolicy<'_> {
    /// Turns certificate verification off for one host. `by` names what asked (a flag).
    pub fn skip_verify(&mut self, host: RegistryHost, by: &str) -> &mut Self {
        self.relax.skip_verify.push((Some(host), by.into()));
        self
    }

    /// Turns certificate verification off for every host (werf's `--skip-tls-verify-registry`).
    pub fn skip_verify_everywhere(&mut self, by: &str) -> &mut Self {
        self.relax.skip_verify.push((None, by.into()));
        self
    }

    /// Speaks plain HTTP to one host.
    pub fn plain_http(&mut self, host: RegistryHost, by: &str) -> &mut Self {
        self.relax.plain_http.push((Some(host), by.into(), false));
        self
    }

    /// Lets every host fall back to plain HTTP when its port turns out to speak HTTP
    /// (werf's `--insecure-registry`, which tries HTTPS first).
    pub fn plain_http_fallback_everywhere(&mut self, by: &str) -> &mut Self {
        self.relax.plain_http.push((None, by.into(), true));
        self
    }
}

impl TrustPolicyBuilder {
    /// Trusts the certificates in `file` for `host` (`--registry-ca HOST=FILE`).
    pub fn ca_file(mut self, host: RegistryHost, file: impl Into<PathBuf>) -> Self {
        self.ca_flags.push((host, file.into()));
        self
    }

    /// Presents `cert` and `key` to `host` (`--registry-client-cert HOST=CERT,KEY`).
    pub fn client_cert(
        mut self,
        host: RegistryHost,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_flags.push((host, cert.into(), key.into()));
        self
    }

    /// Reads a k3s-format `registries.yaml`.
    pub fn registries_config(mut self, path: Option<PathBuf>) -> Self {
        self.config = path;
        self
    }

    /// Replaces the certs.d roots (default [`CERTS_D_DIRS`]).
    pub fn certs_d_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.certs_d = Some(dirs);
        self
    }

    /// Sets `SSL_CERT_FILE`, which replaces the system bundle, as in Go and OpenSSL.
    pub fn ssl_cert_file(mut self, file: Option<PathBuf>) -> Self {
        self.ssl_cert_file = file;
        self
    }

    /// Sets `SSL_CERT_DIR`, whose certificates are added to the base roots.
    pub fn ssl_cert_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.ssl_cert_dir = dir;
        self
    }

    /// Replaces the system bundle candidates (default [`SYSTEM_BUNDLES`]).
    pub fn system_bundles(mut self, files: Vec<PathBuf>) -> Self {
        self.system_bundles = Some(files);
        self
    }

    /// Opens the door to settings that weaken verification.
    pub fn dangerous(&mut self) -> DangerousPolicy<'_> {
        DangerousPolicy {
            relax: &mut self.relax,
        }
    }

    /// Validates every file named by flags, the config file and the environment, and loads
    /// the base roots.
    ///
    /// # Errors
    /// The first bad file: missing, malformed PEM, DER, empty, or a key that does not match
    /// its certificate. Nothing is half-applied: the policy is built only when all are good.
    pub fn build(self) -> Result<TrustPolicy, Error> {
        let mut ca_flags = Vec::new();
        for (host, file) in self.ca_flags {
            let certs =
                read_certificates(&file, &format!("CA for registry {host} (--registry-ca)"))?;
            ca_flags.push((host, file, certs));
        }
        let mut client_flags = Vec::new();
        for (host, cert, key) in self.client_flags {
            let purpose =
                format!("client certificate for registry {host} (--registry-client-cert)");
            let id = load_identity(&cert, &key, &purpose)?;
            client_flags.push((host, cert, id));
        }
        let config = match &self.config {
            Some(path) => Some(RegistriesConfig::read(path)?),
            None => None,
        };
        let mut config_material = BTreeMap::new();
        if let Some(cfg) = &config {
            for (key, entry) in cfg.entries() {
                let Some(tls) = &entry.tls else { continue };
                let what = format!(
                    "registries config {} configs.{key}.tls",
                    cfg.path().display()
                );
                let ca = match &tls.ca_file {
                    Some(ca) => Some(read_certificates(ca, &format!("{what}.ca_file"))?),
                    None => None,
                };
                let identity = match (&tls.cert_file, &tls.key_file) {
                    (Some(c), Some(k)) => {
                        Some(load_identity(c, k, &format!("{what}.cert_file/key_file"))?)
                    }
                    _ => None,
                };
                config_material.insert(key.to_string(), ConfigMaterial { ca, identity });
            }
        }
        let base = load_base_roots(
            self.ssl_cert_file.as_deref(),
            self.ssl_cert_dir.as_deref(),
            &self
                .system_bundles
                .unwrap_or_else(|| SYSTEM_BUNDLES.iter().map(PathBuf::from).collect()),
        )?;
        Ok(TrustPolicy {
            ca_flags,
            client_flags,
            config,
            config_material,
            certs_d: self
                .certs_d
                .unwrap_or_else(|| CERTS_D_DIRS.iter().map(PathBuf::from).collect()),
            base,
            relax: self.relax,
        })
    }
}

/// Holds everything that decides how slipway connects to one registry host.
#[derive(Clone, Debug)]
pub struct HostTrust {
    /// The registry.
    pub host: RegistryHost,
    /// Host-specific CA certificates (from flags, config or certs.d).
    pub host_roots: Vec<CertificateDer<'static>>,
    /// Self-signed server certificates trusted as themselves for this host only.
    pub pinned: Vec<CertificateDer<'static>>,
    /// Roots shared by every host: `SSL_CERT_FILE`/`SSL_CERT_DIR` or the system bundle.
    pub base_roots: Vec<CertificateDer<'static>>,
    /// The client certificate to present, if any.
    pub identity: Option<Arc<CertifiedKey>>,
    /// Set when verification is skipped; names what asked for it.
    pub skip_verify: Option<String>,
    /// Set when plain HTTP is used; names what asked for it.
    pub plain_http: Option<PlainHttp>,
    /// Every source consulted, in order of precedence.
    pub sources: Vec<SourceUse>,
    /// Sources that were found but shadowed by a higher-precedence one.
    pub notes: Vec<String>,
}

/// Describes a plain-HTTP setting for a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlainHttp {
    /// What asked for it.
    pub by: String,
    /// Whether HTTPS is tried first and HTTP used only when the port speaks HTTP.
    pub https_first: bool,
}

impl TrustPolicy {
    /// Starts a builder with the default certs.d folders and system bundle.
    pub fn builder() -> TrustPolicyBuilder {
        TrustPolicyBuilder::default()
    }

    /// Returns the registries.yaml this policy reads, when one was given: its
    /// `configs.HOST.auth` is a credential source too.
    pub fn registries_config(&self) -> Option<&RegistriesConfig> {
        self.config.as_ref()
    }

    /// Resolves the trust for one host, consulting flags, the registries config, certs.d,
    /// and the base roots, in that order.
    ///
    /// CAs and the client certificate each come from the first source that provides them;
    /// lower sources are reported as shadowed. The base roots always apply.
    ///
    /// # Errors
    /// A certs.d file that cannot be read or parsed.
    pub fn resolve(&self, host: &RegistryHost) -> Result<HostTrust, Error> {
        let mut t = HostTrust {
            host: host.clone(),
            host_roots: Vec::new(),
            pinned: Vec::new(),
            base_roots: self.base.certs.clone(),
            identity: None,
            skip_verify: None,
            plain_http: None,
            sources: Vec::new(),
            notes: Vec::new(),
        };
        let bare = host.without_port();
        let matches = |h: &RegistryHost| h == host;
        let matches_bare = |h: &RegistryHost| *h == bare;

        // 1. Flags: an exact host:port entry, else a portless entry for the same host.
        let ca_flags: Vec<_> = pick(&self.ca_flags, |(h, _, _)| h, matches, matches_bare);
        let mut have_ca = false;
        for (_, file, certs) in &ca_flags {
            t.add_host_certs(
                certs.clone(),
                SourceKind::Flag,
                "--registry-ca".into(),
                file,
            );
            have_ca = true;
        }
        let client_flags = pick(&self.client_flags, |(h, _, _)| h, matches, matches_bare);
        if let Some((_, cert, id)) = client_flags.first() {
            t.set_identity(
                id.clone(),
                SourceKind::Flag,
                "--registry-client-cert".into(),
                cert,
            );
        }
        // A flag that names the host without a port covers every port of it; the
        // announcement says so, naming the port this use is on.
        let portless = |h: &Option<RegistryHost>, by: &String| match h {
            Some(h) if !matches(h) && matches_bare(h) => format!(
                "{by}, which names no port and so covers every port of {bare}, {host} included"
            ),
            _ => by.clone(),
        };
        let mut skip_kind = SourceKind::Flag;
        for (h, by) in &self.relax.skip_verify {
            if h.as_ref().is_none_or(|h| h.covers(host)) && t.skip_verify.is_none() {
                t.skip_verify = Some(portless(h, by));
            }
        }
        for (h, by, https_first) in &self.relax.plain_http {
            let applies = h.as_ref().is_none_or(|h| h.covers(host));
            // A per-host flag beats the global fallback, whatever order they came in.
            let better = match &t.plain_http {
                None => true,
                Some(p) => p.https_first && !https_first,
            };
            if applies && better {
                t.plain_http = Some(PlainHttp {
                    by: portless(h, by),
                    https_first: *https_first,
                });
            }
        }

        // 2. registries.yaml.
        if let Some(cfg) = &self.config
            && let Some((key, entry)) = cfg.lookup(host)
        {
            let via = format!("{} configs.{key}", cfg.path().display());
            let loaded = self.config_material.get(key);
            if let Some(tls) = &entry.tls {
                if let (Some(ca), Some(certs)) = (&tls.ca_file, loaded.and_then(|m| m.ca.as_ref()))
                {
                    if have_ca {
                        t.notes
                            .push(format!("{via}.tls.ca_file is shadowed by --registry-ca"));
                    } else {
                        t.add_host_certs(
                            certs.clone(),
                            SourceKind::RegistriesConfig,
                            via.clone(),
                            ca,
                        );
                        have_ca = true;
                    }
                }
                if let (Some(c), Some(id)) =
                    (&tls.cert_file, loaded.and_then(|m| m.identity.as_ref()))
                {
                    if t.identity.is_some() {
                        t.notes.push(format!(
                            "{via}.tls.cert_file is shadowed by --registry-client-cert"
                        ));
                    } else {
                        t.set_identity(id.clone(), SourceKind::RegistriesConfig, via.clone(), c);
                    }
                }
                if tls.insecure_skip_verify == Some(true) && t.skip_verify.is_none() {
                    t.skip_verify = Some(format!("{via}.tls.insecure_skip_verify"));
                    skip_kind = SourceKind::RegistriesConfig;
                }
            }
        }

        // 3. certs.d: the first folder that exists for this exact host[:port].
        if let Some(dir) = self
            .certs_d
            .iter()
            .map(|d| d.join(host.to_string()))
            .find(|d| d.is_dir())
        {
            let (cas, pairs) = scan_certs_d(&dir)?;
            let via = format!("certs.d {}", dir.display());
            let shadowed = have_ca;
            for file in cas {
                if shadowed {
                    t.notes.push(format!(
                        "{} is shadowed by a higher-precedence CA",
                        file.display()
                    ));
                    continue;
                }
                let certs = read_certificates(&file, &format!("CA for registry {host} (certs.d)"))?;
                t.add_host_certs(certs, SourceKind::CertsD, via.clone(), &file);
            }
            if let Some((cert, key)) = pairs.first() {
                if t.identity.is_some() {
                    t.notes.push(format!(
                        "{} is shadowed by a higher-precedence client certificate",
                        cert.display()
                    ));
                } else {
                    let id = load_identity(
                        cert,
                        key,
                        &format!("client certificate for registry {host} (certs.d)"),
                    )?;
                    t.set_identity(id, SourceKind::CertsD, via.clone(), cert);
                }
            }
        }

        // 4./5. Base roots: SSL_CERT_FILE / SSL_CERT_DIR, or the system bundle.
        t.sources.extend(self.base.sources.iter().cloned());
        if let Some(by) = &t.skip_verify {
            t.sources.push(SourceUse {
                kind: skip_kind,
                via: by.clone(),
                path: None,
                role: Role::SkipVerify,
                certificates: 0,
            });
        }
        if let Some(p) = &t.plain_http {
            t.sources.push(SourceUse {
                // Plain HTTP is only ever set by a flag.
                kind: SourceKind::Flag,
                via: p.by.clone(),
                path: None,
                role: Role::PlainHttp,
                certificates: 0,
            });
        }
        Ok(t)
    }
}

fn pick<T>(
    items: &[T],
    host_of: impl Fn(&T) -> &RegistryHost,
    exact: impl Fn(&RegistryHost) -> bool,
    bare: impl Fn(&RegistryHost) -> bool,
) -> Vec<&T> {
    let exact_hits: Vec<_> = items.iter().filter(|i| exact(host_of(i))).collect();
    if !exact_hits.is_empty() {
        return exact_hits;
    }
    items.iter().filter(|i| bare(host_of(i))).collect()
}

impl HostTrust {
    /// Returns the certificates trusted for this host alone (its CAs and pinned
    /// certificates, not the shared base roots) as PEM, each once: a self-signed CA given
    /// for the host is both a root and a pin. This is what another program (buildah, a
    /// node's runtime) must be handed to trust the host as slipway does.
    pub fn host_pems(&self) -> Vec<String> {
        let mut pems: Vec<String> = Vec::new();
        for der in self.host_roots.iter().chain(&self.pinned) {
            let pem = crate::certificate_pem(der);
            if !pems.contains(&pem) {
                pems.push(pem);
            }
        }
        pems
    }

    fn add_host_certs(
        &mut self,
        certs: Vec<CertificateDer<'static>>,
        kind: SourceKind,
        via: String,
        path: &Path,
    ) {
        // Every self-signed certificate given for a host is both a root (for a real root CA)
        // and a pin (for the server's own `openssl req -x509` certificate, which webpki
        // refuses as a leaf because openssl marks it CA:TRUE). Pins match byte for byte and
        // apply to this host only. The role reported is what the certificate looks like.
        let shown_as_pin = certs
            .iter()
            .filter(|c| {
                crate::inspect::is_self_signed_leaf_candidate(c)
                    && crate::inspect::looks_like_server_cert(c)
            })
            .count();
        if shown_as_pin > 0 {
            self.sources.push(SourceUse {
                kind,
                via: via.clone(),
                path: Some(path.into()),
                role: Role::Pinned,
                certificates: shown_as_pin,
            });
        }
        if certs.len() > shown_as_pin {
            self.sources.push(SourceUse {
                kind,
                via,
                path: Some(path.into()),
                role: Role::Ca,
                certificates: certs.len() - shown_as_pin,
            });
        }
        self.pinned.extend(
            certs
                .iter()
                .filter(|c| crate::inspect::is_self_signed_leaf_candidate(c))
                .cloned(),
        );
        self.host_roots.extend(certs);
    }

    fn set_identity(&mut self, id: Arc<CertifiedKey>, kind: SourceKind, via: String, path: &Path) {
        self.sources.push(SourceUse {
            kind,
            via,
            path: Some(path.into()),
            role: Role::ClientCert,
            certificates: id.cert.len(),
        });
        self.identity = Some(id);
    }

    /// Returns whether any host-specific CA or pin is configured.
    pub fn has_host_roots(&self) -> bool {
        !self.host_roots.is_empty()
    }
}

/// Loads a client certificate chain and key, and checks that they belong together.
///
/// # Errors
/// Unreadable or malformed files, or a key that does not match the certificate.
pub fn load_identity(cert: &Path, key: &Path, purpose: &str) -> Result<Arc<CertifiedKey>, Error> {
    let chain = read_certificates(cert, purpose)?;
    let der: PrivateKeyDer<'static> = read_private_key(key, purpose)?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    match CertifiedKey::from_der(chain, der, &provider) {
        Ok(ck) => Ok(Arc::new(ck)),
        Err(rustls::Error::InconsistentKeys(e)) => Err(Error::KeyMismatch {
            purpose: purpose.into(),
            cert: cert.into(),
            key: key.into(),
            why: match e {
                rustls::InconsistentKeys::KeyMismatch => {
                    "the key's public half is not the certificate's".into()
                }
                _ => "the key could not be checked against the certificate".into(),
            },
        }),
        Err(e) => Err(Error::BadPrivateKey {
            purpose: purpose.into(),
            path: key.into(),
            why: e.to_string(),
        }),
    }
}

/// Lists a certs.d host folder: `*.crt` are CAs; `X.cert` with `X.key` is a client pair.
/// CA files, then (client.cert, client.key) pairs, found in a certs.d host folder.
type CertsDEntries = (Vec<PathBuf>, Vec<(PathBuf, PathBuf)>);

fn scan_certs_d(dir: &Path) -> Result<CertsDEntries, Error> {
    let read_err = |source| Error::ReadFile {
        purpose: "certs.d folder".into(),
        path: dir.into(),
        source,
    };
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    let ext = |p: &Path, e: &str| p.extension().is_some_and(|x| x == e);
    let cas = names.iter().filter(|p| ext(p, "crt")).cloned().collect();
    let pairs = names
        .iter()
        .filter(|p| ext(p, "cert"))
        .filter_map(|c| {
            let k = c.with_extension("key");
            k.is_file().then(|| (c.clone(), k))
        })
        .collect();
    Ok((cas, pairs))
}

fn load_base_roots(
    ssl_file: Option<&Path>,
    ssl_dir: Option<&Path>,
    bundles: &[PathBuf],
) -> Result<BaseRoots, Error> {
    let mut base = BaseRoots::default();
    if let Some(file) = ssl_file {
        let certs = read_certificates(file, "SSL_CERT_FILE")?;
        base.sources.push(SourceUse {
            kind: SourceKind::SslCertFile,
            via: "SSL_CERT_FILE".into(),
            path: Some(file.into()),
            role: Role::Ca,
            certificates: certs.len(),
        });
        base.certs.extend(certs);
    } else if let Some(file) = bundles.iter().find(|f| f.is_file()) {
        // The system bundle is not the user's input: skip entries that do not parse.
        let bytes = std::fs::read(file).unwrap_or_default();
        let certs: Vec<_> = {
            use rustls::pki_types::pem::PemObject;
            CertificateDer::pem_slice_iter(&bytes)
                .filter_map(Result::ok)
                .collect()
        };
        base.sources.push(SourceUse {
            kind: SourceKind::System,
            via: "system CA bundle".into(),
            path: Some(file.clone()),
            role: Role::Ca,
            certificates: certs.len(),
        });
        base.certs.extend(certs);
    }
    if let Some(dir) = ssl_dir {
        let rd = std::fs::read_dir(dir).map_err(|source| Error::ReadFile {
            purpose: "SSL_CERT_DIR".into(),
            path: dir.into(),
            source,
        })?;
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut n = 0;
        for f in files {
            // OpenSSL-style hash folders hold other files too; take what parses as certificates.
            if let Ok(certs) = read_certificates(&f, "SSL_CERT_DIR") {
                for c in certs {
                    if !base.certs.contains(&c) {
                        base.certs.push(c);
                        n += 1;
                    }
                }
            }
        }
        base.sources.push(SourceUse {
            kind: SourceKind::SslCertDir,
            via: "SSL_CERT_DIR".into(),
            path: Some(dir.into()),
            role: Role::Ca,
            certificates: n,
        });
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem(dir: &Path, name: &str) -> PathBuf {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::default();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let path = dir.join(name);
        std::fs::write(&path, p.self_signed(&key).unwrap().pem()).unwrap();
        path
    }

    fn host(s: &str) -> RegistryHost {
        RegistryHost::parse(s).unwrap()
    }

    fn policy(b: TrustPolicyBuilder, d: &Path) -> TrustPolicy {
        b.certs_d_dirs(vec![d.join("certs.d")])
            .system_bundles(vec![])
            .build()
            .unwrap()
    }

    #[test]
    fn a_portless_flag_applies_to_every_port_but_an_exact_one_wins() {
        let d = tempfile::tempdir().unwrap();
        let bare = ca_pem(d.path(), "bare.crt");
        let exact = ca_pem(d.path(), "exact.crt");
        let p = policy(
            TrustPolicy::builder()
                .ca_file(host("r.test"), &bare)
                .ca_file(host("r.test:5000"), &exact),
            d.path(),
        );
        let t = p.resolve(&host("r.test:5000")).unwrap();
        assert_eq!(t.sources[0].path.as_deref(), Some(exact.as_path()));
        let t = p.resolve(&host("r.test:6000")).unwrap();
        assert_eq!(t.sources[0].path.as_deref(), Some(bare.as_path()));
        let t = p.resolve(&host("other.test:5000")).unwrap();
        assert!(t.sources.is_empty() && !t.has_host_roots());
    }

    #[test]
    fn a_root_ca_is_reported_as_ca_and_still_usable_as_pin() {
        let d = tempfile::tempdir().unwrap();
        let ca = ca_pem(d.path(), "ca.crt");
        let p = policy(
            TrustPolicy::builder().ca_file(host("r.test"), &ca),
            d.path(),
        );
        let t = p.resolve(&host("r.test")).unwrap();
        assert_eq!(t.sources[0].role, Role::Ca);
        assert_eq!((t.host_roots.len(), t.pinned.len()), (1, 1));
    }

    #[test]
    fn skip_verify_comes_only_through_the_dangerous_door_and_names_its_flag() {
        let d = tempfile::tempdir().unwrap();
        let mut b = TrustPolicy::builder();
        b.dangerous()
            .skip_verify(host("r.test:5000"), "--registry-skip-verify");
        let p = policy(b, d.path());
        assert_eq!(
            p.resolve(&host("r.test:5000"))
                .unwrap()
                .skip_verify
                .as_deref(),
            Some("--registry-skip-verify")
        );
        assert!(
            p.resolve(&host("other.test:5000"))
                .unwrap()
                .skip_verify
                .is_none()
        );
    }

    #[test]
    fn a_per_host_plain_http_flag_beats_the_global_fallback() {
        let d = tempfile::tempdir().unwrap();
        let mut b = TrustPolicy::builder();
        b.dangerous()
            .plain_http_fallback_everywhere("--insecure-registry")
            .plain_http(host("r.test"), "--registry-plain-http");
        let p = policy(b, d.path());
        let t = p.resolve(&host("r.test")).unwrap();
        assert_eq!(
            t.plain_http,
            Some(PlainHttp {
                by: "--registry-plain-http".into(),
                https_first: false
            })
        );
        let t = p.resolve(&host("other.test")).unwrap();
        assert!(t.plain_http.unwrap().https_first);
    }

    #[test]
    fn the_first_certs_d_root_with_a_folder_for_the_host_wins() {
        let d = tempfile::tempdir().unwrap();
        for root in ["a", "b"] {
            std::fs::create_dir_all(d.path().join(root).join("r.test:5000")).unwrap();
            ca_pem(&d.path().join(root).join("r.test:5000"), "ca.crt");
        }
        let p = TrustPolicy::builder()
            .certs_d_dirs(vec![d.path().join("a"), d.path().join("b")])
            .system_bundles(vec![])
            .build()
            .unwrap();
        let t = p.resolve(&host("r.test:5000")).unwrap();
        assert_eq!(t.sources.len(), 1);
        assert!(
            t.sources[0]
                .path
                .as_ref()
                .unwrap()
                .starts_with(d.path().join("a"))
        );
    }

    #[test]
    fn build_refuses_a_bad_flag_file_before_anything_resolves() {
        let d = tempfile::tempdir().unwrap();
        let err = TrustPolicy::builder()
            .ca_file(host("r.test"), d.path().join("missing.crt"))
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::ReadFile { .. }), "{err}");
    }
}
