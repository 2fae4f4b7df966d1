//! Verification switched off, on purpose, for one host at a time.
//!
//! This module is the only place that accepts a certificate without verifying it. It is
//! reached only when a [`crate::HostTrust`] has `skip_verify` set, which only
//! [`crate::TrustPolicyBuilder::dangerous`] can do. The handshake signature is still checked,
//! so the server must at least hold the key of the certificate it sent.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error as TlsError, SignatureScheme};

use crate::tls::{PinningVerifier, Recorder, record_chain};

/// Accepts any certificate, but remembers what full verification would have said.
#[derive(Debug)]
pub(crate) struct SkipVerify {
    strict: Arc<PinningVerifier>,
    recorder: Option<Arc<Recorder>>,
}

impl SkipVerify {
    pub(crate) fn new(strict: Arc<PinningVerifier>, recorder: Option<Arc<Recorder>>) -> Self {
        SkipVerify { strict, recorder }
    }
}

impl ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        record_chain(&self.recorder, end_entity, intermediates);
        if let Some(r) = &self.recorder
            && let Err(e) =
                self.strict
                    .verify_chain(end_entity, intermediates, server_name, ocsp, now)
        {
            *r.would_fail.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        }
        Ok(ServerCertVerified::assertion())
    }

    // The server must still prove it holds the key of the certificate it sent.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.strict.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.strict.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.strict.supported_verify_schemes()
    }
}
