//! Human-readable facts about certificates: what `registry probe` prints for each
//! certificate the server sent.

use serde::Serialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

/// Summarizes one certificate as the server sent it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CertSummary {
    /// The subject DN, e.g. `CN=registry.test`.
    pub subject: String,
    /// The issuer DN.
    pub issuer: String,
    /// Subject alternative names, as `DNS:name` and `IP:addr`.
    pub sans: Vec<String>,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// Whole days until `not_after` (negative once expired).
    pub days_left: i64,
    /// Whether basicConstraints says CA:TRUE.
    pub is_ca: bool,
    /// Whether subject and issuer are the same (a root or a self-signed leaf).
    pub self_signed: bool,
    /// SHA-256 of the DER, as colon-separated upper-case hex (as `openssl x509 -fingerprint`).
    pub sha256: String,
}

/// Summarizes a DER certificate, or returns `None` if it does not parse.
pub fn summarize(der: &[u8]) -> Option<CertSummary> {
    let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
    let fmt = |t: x509_parser::time::ASN1Time| {
        t.to_datetime()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| t.to_string())
    };
    let now = ::time::OffsetDateTime::now_utc();
    let days_left = (c.validity().not_after.to_datetime() - now).whole_days();
    Some(CertSummary {
        subject: c.subject().to_string(),
        issuer: c.issuer().to_string(),
        sans: sans(&c),
        not_before: fmt(c.validity().not_before),
        not_after: fmt(c.validity().not_after),
        days_left,
        is_ca: c.is_ca(),
        self_signed: c.subject().as_raw() == c.issuer().as_raw(),
        sha256: fingerprint(der),
    })
}

/// Returns the SHA-256 fingerprint of DER bytes as `AB:CD:...`.
pub fn fingerprint(der: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    d.as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Returns whether the certificate names itself as issuer: either a root CA or a server's
/// self-signed certificate. Such certificates given for a host are also pinned for it.
pub fn is_self_signed_leaf_candidate(der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c.subject().as_raw() == c.issuer().as_raw())
        .unwrap_or(false)
}

/// Returns whether a self-signed certificate looks like a server's own certificate rather
/// than a root CA: it carries names (SANs) or cannot sign certificates (no keyCertSign).
pub fn looks_like_server_cert(der: &[u8]) -> bool {
    let Ok((_, c)) = x509_parser::parse_x509_certificate(der) else {
        return false;
    };
    let has_sans = c.subject_alternative_name().ok().flatten().is_some();
    let can_sign = c
        .key_usage()
        .ok()
        .flatten()
        .is_some_and(|ku| ku.value.key_cert_sign());
    has_sans || !can_sign
}

/// Returns the certificate's common name if it has no subjectAltName extension at all:
/// the "legacy Common Name" shape Go has rejected since 1.15.
pub fn common_name_without_sans(der: &[u8]) -> Option<String> {
    let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
    if c.subject_alternative_name().ok().flatten().is_some() {
        return None;
    }
    c.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string)
}

/// Returns whether the certificate's validity period covers now, and if not, which side fails.
pub fn validity_now(der: &[u8]) -> Option<Validity> {
    let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
    let now = x509_parser::time::ASN1Time::now();
    Some(if now < c.validity().not_before {
        Validity::NotYetValid
    } else if now > c.validity().not_after {
        Validity::Expired
    } else {
        Validity::Valid
    })
}

/// Says whether a certificate is valid at this moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// Within its validity period.
    Valid,
    /// Past `notAfter`.
    Expired,
    /// Before `notBefore`.
    NotYetValid,
}

fn sans(c: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(ext)) = c.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => format!("DNS:{d}"),
            GeneralName::IPAddress(b) => match b.len() {
                4 => format!(
                    "IP:{}",
                    std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).unwrap_or_default())
                ),
                16 => format!(
                    "IP:{}",
                    std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).unwrap_or_default())
                ),
                _ => "IP:<malformed>".to_string(),
            },
            GeneralName::URI(u) => format!("URI:{u}"),
            GeneralName::RFC822Name(e) => format!("email:{e}"),
            other => format!("{other:?}"),
        })
        .collect()
}
