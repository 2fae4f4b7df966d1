//! The diagnosis vocabulary shared by the build side (`registry probe`, pushes) and the
//! deploy side (pod events). One name per failure, each with a concrete fix.

use std::fmt;

use crate::fix::{FixContext, Fixes};

use serde::Serialize;

/// Names the outcome of talking to a registry, in the words both stages use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Verdict {
    /// The registry was reached and its certificate verified (or the host is configured
    /// for plain HTTP and the port speaks HTTP).
    Ok,
    /// The chain does not lead to a trusted root (Go: `x509: certificate signed by unknown authority`).
    UnknownAuthority,
    /// The certificate does not name the host (Go: `x509: certificate is valid for X, not Y`).
    HostnameMismatch,
    /// The certificate has expired.
    Expired,
    /// The certificate is not valid yet.
    NotYetValid,
    /// The name appears only in the CN, with no subjectAltName; Go clients reject that.
    LegacyCommonName,
    /// The port speaks plain HTTP, but TLS was expected.
    PlainHttp,
    /// Plain HTTP was sent to a port that speaks TLS.
    TlsRequired,
    /// The server wants a client certificate (mTLS) and none, or a refused one, was sent.
    ClientCertRequired,
    /// Nothing listens on the port.
    ConnectionRefused,
    /// The name does not resolve.
    Dns,
    /// No answer in time.
    Timeout,
    /// The registry refused the credentials.
    Unauthorized,
    /// The registry API, repository or tag does not exist.
    NotFound,
    /// A failure outside this vocabulary; the detail says what happened.
    Other,
}

impl Verdict {
    /// Returns the kebab-case name used in output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::UnknownAuthority => "unknown-authority",
            Verdict::HostnameMismatch => "hostname-mismatch",
            Verdict::Expired => "expired",
            Verdict::NotYetValid => "not-yet-valid",
            Verdict::LegacyCommonName => "legacy-common-name",
            Verdict::PlainHttp => "plain-http",
            Verdict::TlsRequired => "tls-required",
            Verdict::ClientCertRequired => "client-cert-required",
            Verdict::ConnectionRefused => "connection-refused",
            Verdict::Dns => "dns",
            Verdict::Timeout => "timeout",
            Verdict::Unauthorized => "unauthorized",
            Verdict::NotFound => "not-found",
            Verdict::Other => "other",
        }
    }

    /// Returns every verdict, in documentation order.
    pub fn all() -> &'static [Verdict] {
        &[
            Verdict::Ok,
            Verdict::UnknownAuthority,
            Verdict::HostnameMismatch,
            Verdict::Expired,
            Verdict::NotYetValid,
            Verdict::LegacyCommonName,
            Verdict::PlainHttp,
            Verdict::TlsRequired,
            Verdict::ClientCertRequired,
            Verdict::ConnectionRefused,
            Verdict::Dns,
            Verdict::Timeout,
            Verdict::Unauthorized,
            Verdict::NotFound,
            Verdict::Other,
        ]
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) fn host_only(r: &str) -> &str {
    if r.starts_with('[') {
        return r
            .split(']')
            .next()
            .map(|s| s.trim_start_matches('['))
            .unwrap_or(r);
    }
    r.rsplit_once(':').map(|(h, _)| h).unwrap_or(r)
}

/// Says what is wrong with a certificate that `registry` (`host[:port]`) served, in one
/// sentence. `trusted` lists where the trusted CAs came from, when the caller knows.
pub fn certificate_problem(
    verdict: Verdict,
    e: &rustls::CertificateError,
    registry: &str,
    trusted: Option<&str>,
) -> String {
    let name = host_only(registry);
    let what = match verdict {
        Verdict::UnknownAuthority => match trusted {
            Some(t) => format!(
                "the certificate of {registry} is not signed by any CA trusted for it (trusted: {t})"
            ),
            None => format!("the certificate of {registry} is not signed by any CA trusted for it"),
        },
        Verdict::HostnameMismatch => {
            format!("the certificate of {registry} does not name {name}")
        }
        Verdict::LegacyCommonName => format!(
            "the certificate of {registry} names {name} only in its Common Name, with no subjectAltName"
        ),
        Verdict::Expired => format!("the certificate of {registry} has expired"),
        Verdict::NotYetValid => format!("the certificate of {registry} is not valid yet"),
        _ if webpki_error(e) == Some(&webpki::Error::NameConstraintViolation) => format!(
            "the certificate of {registry} names something its CA's name constraints do not permit (Go: \"x509: a root or intermediate certificate is not authorized to sign for this name\")"
        ),
        _ => format!("the certificate of {registry} was refused"),
    };
    if webpki_error(e) == Some(&webpki::Error::UnsupportedCertVersion) {
        return format!(
            "the certificate of {registry} is an X.509 v1 certificate (as `openssl x509 -req` makes without extensions): it cannot hold a subjectAltName, so no client that checks names the way Go does accepts it"
        );
    }
    if webpki_error(e) == Some(&webpki::Error::CaUsedAsEndEntity) {
        format!(
            "{what}; it presents a self-signed certificate marked CA:TRUE as its own, as `openssl req -x509` makes"
        )
    } else {
        what
    }
}

fn webpki_error(e: &rustls::CertificateError) -> Option<&webpki::Error> {
    match e {
        rustls::CertificateError::Other(o) => o.0.downcast_ref::<webpki::Error>(),
        _ => None,
    }
}

/// Says why a request got no answer, as [`classify_connection_error`] found it.
#[derive(Clone, Debug)]
pub struct ConnectionProblem {
    /// The verdict.
    pub verdict: Verdict,
    /// One sentence naming the registry and what went wrong.
    pub problem: String,
    /// What the fix text may refer to (the registry; whether it served a self-signed
    /// certificate).
    pub fix_context: FixContext,
}

impl ConnectionProblem {
    /// Returns the fix for this problem, for the build machine and for the nodes.
    pub fn fixes(&self) -> Fixes {
        self.verdict.fixes(&self.fix_context)
    }
}

/// Names why a request to `registry` (`host[:port]`) got no answer, from the error chain an
/// HTTP client returns: rustls and socket errors, also when an `io::Error` wraps them.
/// Returns `None` when nothing in the chain is known.
pub fn classify_connection_error(
    err: &(dyn std::error::Error + 'static),
    registry: &str,
) -> Option<ConnectionProblem> {
    let found = |verdict, problem, self_signed| ConnectionProblem {
        verdict,
        problem,
        fix_context: FixContext {
            registry: registry.to_string(),
            self_signed,
            ..FixContext::default()
        },
    };
    let mut next = Some(err);
    while let Some(e) = next {
        // An `io::Error` hides what it wraps from `source()`; look inside, layer by layer.
        let mut layer = Some(e);
        while let Some(l) = layer {
            if let Some(tls) = l.downcast_ref::<rustls::Error>() {
                // A self-signed certificate marked CA:TRUE, served as the leaf.
                let self_signed = matches!(tls, rustls::Error::InvalidCertificate(ce)
                    if webpki_error(ce) == Some(&webpki::Error::CaUsedAsEndEntity));
                let (verdict, problem) = tls_problem(tls, registry);
                return Some(found(verdict, problem, self_signed));
            }
            let io = l.downcast_ref::<std::io::Error>();
            match io.map(std::io::Error::kind) {
                Some(std::io::ErrorKind::ConnectionRefused) => {
                    return Some(found(
                        Verdict::ConnectionRefused,
                        format!("{registry} refused the connection"),
                        false,
                    ));
                }
                Some(std::io::ErrorKind::TimedOut) => {
                    return Some(found(
                        Verdict::Timeout,
                        format!("{registry} did not answer in time"),
                        false,
                    ));
                }
                _ => {}
            }
            layer = io
                .and_then(std::io::Error::get_ref)
                .map(|inner| inner as &(dyn std::error::Error + 'static));
        }
        next = e.source();
    }
    None
}

/// Joins an error and its causes with ": ", leaving out a cause whose text is already there
/// (many messages quote their cause, and HTTP clients repeat theirs).
pub fn error_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        next = cause.source();
    }
    text
}

fn tls_problem(e: &rustls::Error, registry: &str) -> (Verdict, String) {
    use rustls::{AlertDescription as A, Error as E, InvalidMessage};
    match e {
        E::InvalidCertificate(ce) => {
            let v = classify_certificate_error(ce, None, host_only(registry));
            (v, certificate_problem(v, ce, registry, None))
        }
        E::AlertReceived(A::CertificateRequired) => (
            Verdict::ClientCertRequired,
            format!(
                "{registry} requires a client certificate and none was sent (TLS alert certificate_required)"
            ),
        ),
        // The first byte of an HTTP answer is not a TLS record type.
        E::InvalidMessage(InvalidMessage::InvalidContentType) => (
            Verdict::PlainHttp,
            format!(
                "{registry} did not answer in TLS; the port seems to speak plain HTTP (Go says \"http: server gave HTTP response to HTTPS client\")"
            ),
        ),
        other => (
            Verdict::Other,
            format!("TLS with {registry} failed: {other}"),
        ),
    }
}

/// Maps a rustls certificate error to a verdict, given the served leaf and the host.
pub fn classify_certificate_error(
    e: &rustls::CertificateError,
    leaf: Option<&[u8]>,
    host: &str,
) -> Verdict {
    use rustls::CertificateError as C;
    match e {
        C::UnknownIssuer | C::BadSignature => Verdict::UnknownAuthority,
        C::Expired | C::ExpiredContext { .. } => Verdict::Expired,
        C::NotValidYet | C::NotValidYetContext { .. } => Verdict::NotYetValid,
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            let cn = leaf.and_then(crate::inspect::common_name_without_sans);
            if cn.is_some_and(|cn| cn.eq_ignore_ascii_case(host)) {
                Verdict::LegacyCommonName
            } else {
                Verdict::HostnameMismatch
            }
        }
        C::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            // A self-signed CA:TRUE certificate served as the leaf, not pinned for this host.
            Some(webpki::Error::CaUsedAsEndEntity) => Verdict::UnknownAuthority,
            // An X.509 v1 certificate (`openssl x509 -req` without extensions) has no
            // extensions, so no subjectAltName: Go finds at most a Common Name, which it has
            // refused since 1.15. The cure is the same: re-issue with SANs.
            Some(webpki::Error::UnsupportedCertVersion) => Verdict::LegacyCommonName,
            _ => Verdict::Other,
        },
        _ => Verdict::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_json_uses_the_same_names() {
        let names: std::collections::HashSet<_> =
            Verdict::all().iter().map(|v| v.as_str()).collect();
        assert_eq!(names.len(), Verdict::all().len());
        for v in Verdict::all() {
            assert_eq!(
                serde_json::to_value(v).unwrap(),
                v.as_str(),
                "serde and as_str disagree for {v:?}"
            );
        }
    }

    #[test]
    fn connection_errors_are_found_inside_nested_io_errors() {
        use std::io::{Error as IoError, ErrorKind};
        // As hyper and reqwest return a rustls failure: io::Error(Other, io::Error(InvalidData, tls)).
        let nested = |tls: rustls::Error| IoError::other(IoError::new(ErrorKind::InvalidData, tls));
        let r = "r.test:5000";
        let unknown = nested(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        let p = classify_connection_error(&unknown, r).unwrap();
        assert_eq!(p.verdict, Verdict::UnknownAuthority);
        assert_eq!(
            p.problem,
            "the certificate of r.test:5000 is not signed by any CA trusted for it"
        );
        assert!(!p.fix_context.self_signed);
        assert_eq!(p.fix_context.registry, r);
        let ca_leaf = nested(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Other(rustls::OtherError(std::sync::Arc::new(
                webpki::Error::CaUsedAsEndEntity,
            ))),
        ));
        let p = classify_connection_error(&ca_leaf, r).unwrap();
        assert_eq!(p.verdict, Verdict::UnknownAuthority);
        assert!(
            p.fix_context.self_signed,
            "CaUsedAsEndEntity is self-signed"
        );
        assert!(
            matches!(
                p.fixes().build_machine[0],
                crate::Fix::SaveServedCertificate { .. }
            ),
            "{:?}",
            p.fixes()
        );
        let expired = nested(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Expired,
        ));
        assert_eq!(
            classify_connection_error(&expired, r).unwrap().verdict,
            Verdict::Expired
        );
        let http = nested(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        assert_eq!(
            classify_connection_error(&http, r).unwrap().verdict,
            Verdict::PlainHttp
        );
        let mtls = nested(rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateRequired,
        ));
        assert_eq!(
            classify_connection_error(&mtls, r).unwrap().verdict,
            Verdict::ClientCertRequired
        );
        let refused = IoError::other(IoError::from(ErrorKind::ConnectionRefused));
        let p = classify_connection_error(&refused, r).unwrap();
        assert_eq!(p.verdict, Verdict::ConnectionRefused);
        assert_eq!(p.problem, "r.test:5000 refused the connection");
        let other = IoError::other("something else");
        assert!(classify_connection_error(&other, r).is_none());
    }

    #[test]
    fn error_text_says_each_cause_once() {
        use std::io::{Error as IoError, ErrorKind};
        #[derive(Debug)]
        struct Quoting(IoError);
        impl fmt::Display for Quoting {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "cannot read x: {}", self.0)
            }
        }
        impl std::error::Error for Quoting {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Quoting(IoError::new(ErrorKind::NotFound, "gone"));
        assert_eq!(error_text(&e), "cannot read x: gone");
        let plain = IoError::other(IoError::new(ErrorKind::NotFound, "gone"));
        assert_eq!(error_text(&plain), "gone");
    }

    #[test]
    fn host_only_handles_ports_and_ipv6() {
        assert_eq!(host_only("r.test:5000"), "r.test");
        assert_eq!(host_only("[::1]:5000"), "::1");
        assert_eq!(host_only("r.test"), "r.test");
    }
}
