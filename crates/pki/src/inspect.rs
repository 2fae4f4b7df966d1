//! `pki inspect`: everything about a certificate that matters for a registry, from a file
//! or as a server sends it.

use std::path::Path;

use serde::Serialize;
use slipway_trust::CertSummary;
use x509_parser::extensions::{GeneralName, GeneralSubtree};
use x509_parser::public_key::PublicKey;

use crate::Error;

/// Describes one certificate in full.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CertDetails {
    /// Subject, issuer, SANs, validity, CA flag, fingerprint.
    #[serde(flatten)]
    pub summary: CertSummary,
    /// The serial number, hex.
    pub serial: String,
    /// The public key, e.g. `ECDSA P-256` or `RSA 2048`.
    pub key: String,
    /// basicConstraints path length, for CAs.
    pub path_len: Option<u32>,
    /// keyUsage bits set.
    pub key_usage: Vec<String>,
    /// extendedKeyUsage purposes.
    pub extended_key_usage: Vec<String>,
    /// Permitted name constraints (DNS suffixes and IP ranges); empty when unconstrained.
    pub permitted: Vec<String>,
    /// Excluded name constraints.
    pub excluded: Vec<String>,
}

/// Describes one certificate, or returns `None` if the DER does not parse.
pub fn details(der: &[u8]) -> Option<CertDetails> {
    let summary = slipway_trust::summarize(der)?;
    let (_, x) = x509_parser::parse_x509_certificate(der).ok()?;
    let key = match x.public_key().parsed() {
        Ok(PublicKey::RSA(r)) => format!("RSA {}", r.key_size()),
        Ok(PublicKey::EC(p)) => format!("ECDSA {}-bit", p.key_size()),
        Ok(other) => format!("{other:?}")
            .split('(')
            .next()
            .unwrap_or("unknown")
            .to_string(),
        Err(_) => "unknown".into(),
    };
    let mut key_usage = Vec::new();
    if let Ok(Some(ku)) = x.key_usage() {
        let k = ku.value;
        for (on, name) in [
            (k.digital_signature(), "digitalSignature"),
            (k.key_encipherment(), "keyEncipherment"),
            (k.key_cert_sign(), "keyCertSign"),
            (k.crl_sign(), "cRLSign"),
            (k.key_agreement(), "keyAgreement"),
        ] {
            if on {
                key_usage.push(name.to_string());
            }
        }
    }
    let mut extended_key_usage = Vec::new();
    if let Ok(Some(eku)) = x.extended_key_usage() {
        let e = eku.value;
        for (on, name) in [
            (e.any, "any"),
            (e.server_auth, "serverAuth"),
            (e.client_auth, "clientAuth"),
            (e.code_signing, "codeSigning"),
        ] {
            if on {
                extended_key_usage.push(name.to_string());
            }
        }
    }
    let (mut permitted, mut excluded) = (Vec::new(), Vec::new());
    if let Ok(Some(nc)) = x.name_constraints() {
        permitted = subtrees(nc.value.permitted_subtrees.as_deref().unwrap_or(&[]));
        excluded = subtrees(nc.value.excluded_subtrees.as_deref().unwrap_or(&[]));
    }
    let path_len = x
        .basic_constraints()
        .ok()
        .flatten()
        .and_then(|b| b.value.path_len_constraint);
    Some(CertDetails {
        summary,
        serial: x.raw_serial_as_string(),
        key,
        path_len,
        key_usage,
        extended_key_usage,
        permitted,
        excluded,
    })
}

fn subtrees(s: &[GeneralSubtree<'_>]) -> Vec<String> {
    s.iter()
        .map(|t| match &t.base {
            GeneralName::DNSName(d) => format!("DNS:{d}"),
            GeneralName::IPAddress(b) if b.len() == 8 => {
                let a = std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]);
                let bits: u32 = b[4..].iter().map(|x| x.count_ones()).sum();
                format!("IP:{a}/{bits}")
            }
            GeneralName::IPAddress(b) if b.len() == 32 => {
                let a =
                    std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&b[..16]).unwrap_or_default());
                let bits: u32 = b[16..].iter().map(|x| x.count_ones()).sum();
                format!("IP:{a}/{bits}")
            }
            other => format!("{other:?}"),
        })
        .collect()
}

pub(crate) fn describe_subtrees(s: &[GeneralSubtree<'_>]) -> String {
    let v = subtrees(s);
    if v.is_empty() {
        "nothing".into()
    } else {
        v.join(", ")
    }
}

/// Reads every certificate in a PEM file and describes each.
///
/// # Errors
/// A missing file, malformed PEM, DER, or no certificate.
pub fn inspect_file(path: &Path) -> Result<Vec<CertDetails>, Error> {
    let certs =
        slipway_trust::read_certificates(path, "pki inspect").map_err(|e| Error::Corrupt {
            path: path.into(),
            why: e.chain(),
        })?;
    Ok(certs.iter().filter_map(|c| details(c)).collect())
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}
