//! Turns a [`HostTrust`] into a rustls `ClientConfig`: webpki verification against the
//! host's roots plus the base roots, pinned self-signed certificates for that host only,
//! and the client certificate for mTLS.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError, RootCertStore,
    SignatureScheme,
};

use crate::Error;
use crate::policy::HostTrust;

/// Returns the aws-lc-rs provider every slipway TLS config is built with.
///
/// Built explicitly rather than taken from the process default, because a dependency tree
/// with both `ring` and `aws-lc-rs` has no default and `ClientConfig::builder()` would panic.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Records what happened during one handshake, for `registry probe`.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub chain: Mutex<Vec<CertificateDer<'static>>>,
    /// With skip-verify: what full verification would have said.
    pub would_fail: Mutex<Option<TlsError>>,
    pub client_cert_requested: Mutex<bool>,
}

impl HostTrust {
    /// Builds the rustls client configuration for this host.
    ///
    /// # Errors
    /// rustls refuses the protocol versions or the verifier (should not happen with the
    /// aws-lc-rs provider).
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, Error> {
        self.client_config_recording(None).map(Arc::new)
    }

    pub(crate) fn client_config_recording(
        &self,
        recorder: Option<Arc<Recorder>>,
    ) -> Result<ClientConfig, Error> {
        let provider = provider();
        let tls_err = |source| Error::Tls {
            host: self.host.to_string(),
            source,
        };
        let strict =
            Arc::new(PinningVerifier::new(self, &provider, recorder.clone()).map_err(tls_err)?);
        let verifier: Arc<dyn ServerCertVerifier> = match &self.skip_verify {
            None => strict,
            Some(_) => Arc::new(crate::dangerous::SkipVerify::new(strict, recorder.clone())),
        };
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .dangerous() // rustls' name for "custom verifier"; ours still verifies.
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.client_auth_cert_resolver = Arc::new(ClientCert {
            key: self.identity.clone(),
            recorder,
        });
        Ok(config)
    }
}

/// Verifies with webpki against the host's roots and the base roots; accepts a pinned
/// self-signed certificate for this host when it is presented byte for byte, still checking
/// its validity period and that it names the host.
#[derive(Debug)]
pub(crate) struct PinningVerifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pinned: Vec<CertificateDer<'static>>,
    algs: WebPkiSupportedAlgorithms,
    recorder: Option<Arc<Recorder>>,
}

impl PinningVerifier {
    fn new(
        t: &HostTrust,
        provider: &Arc<CryptoProvider>,
        recorder: Option<Arc<Recorder>>,
    ) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(t.host_roots.iter().chain(&t.base_roots).cloned());
        let webpki = if roots.is_empty() {
            None
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| TlsError::General(e.to_string()))?,
            )
        };
        Ok(PinningVerifier {
            webpki,
            pinned: t.pinned.clone(),
            algs: provider.signature_verification_algorithms,
            recorder,
        })
    }

    pub(crate) fn verify_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        if self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            return verify_pinned(end_entity, server_name);
        }
        match &self.webpki {
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now),
            None => Err(TlsError::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }
}

fn verify_pinned(
    ee: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
) -> Result<ServerCertVerified, TlsError> {
    match crate::inspect::validity_now(ee) {
        Some(crate::inspect::Validity::Valid) => {}
        Some(crate::inspect::Validity::Expired) => return Err(CertificateError::Expired.into()),
        Some(crate::inspect::Validity::NotYetValid) => {
            return Err(CertificateError::NotValidYet.into());
        }
        None => return Err(CertificateError::BadEncoding.into()),
    }
    let cert = webpki::EndEntityCert::try_from(ee)
        .map_err(|_| TlsError::from(CertificateError::BadEncoding))?;
    cert.verify_is_valid_for_subject_name(server_name)
        .map_err(|_| TlsError::from(CertificateError::NotValidForName))?;
    Ok(ServerCertVerified::assertion())
}

pub(crate) fn record_chain(
    recorder: &Option<Arc<Recorder>>,
    ee: &CertificateDer<'_>,
    rest: &[CertificateDer<'_>],
) {
    if let Some(r) = recorder {
        let mut chain = r.chain.lock().unwrap_or_else(|p| p.into_inner());
        *chain = std::iter::once(ee)
            .chain(rest)
            .map(|c| c.clone().into_owned())
            .collect();
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        record_chain(&self.recorder, end_entity, intermediates);
        self.verify_chain(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Presents the configured client certificate when the server asks, and remembers that it
/// asked, so a refused handshake can be named `client-cert-required`.
#[derive(Debug)]
struct ClientCert {
    key: Option<Arc<CertifiedKey>>,
    recorder: Option<Arc<Recorder>>,
}

impl ResolvesClientCert for ClientCert {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        if let Some(r) = &self.recorder {
            *r.client_cert_requested
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = true;
        }
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}
