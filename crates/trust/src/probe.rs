//! `registry probe`: connect to a registry with its resolved trust, and name what happens.
//!
//! The probe speaks TLS and HTTP/1.1 itself over a blocking socket, so that every failure is
//! classified from the real, typed error (rustls' certificate errors, TLS alerts, socket
//! errors) or from the bytes the server actually sent, never from our own messages.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{AlertDescription, ClientConnection};
use serde::Serialize;

use crate::diagnosis::{Verdict, certificate_problem, classify_certificate_error};
use crate::fix::{FixContext, Fixes};
use crate::inspect::{CertSummary, summarize};
use crate::policy::HostTrust;
use crate::source::SourceUse;
use crate::tls::Recorder;

/// Sets how the probe behaves.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// Time allowed for connecting, and for each read or write.
    pub timeout: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            timeout: Duration::from_secs(10),
        }
    }
}

/// Holds everything the probe learned about one registry. Serialized as `--output json`.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeReport {
    /// The registry, `host[:port]`.
    pub registry: String,
    /// The outcome.
    pub verdict: Verdict,
    /// One sentence on what happened.
    pub detail: String,
    /// `https` or `http`: what was spoken in the end.
    pub scheme: &'static str,
    /// The address connected to.
    pub address: Option<String>,
    /// Facts about the TLS session, when one was attempted.
    pub tls: Option<TlsFacts>,
    /// The certificates the server sent, leaf first.
    pub chain: Vec<CertSummary>,
    /// The same certificates as DER, for callers that inspect them further.
    #[serde(skip)]
    pub chain_der: Vec<Vec<u8>>,
    /// The trust sources that applied to this host.
    pub trust_sources: Vec<SourceUse>,
    /// Sources that were found but shadowed, and other remarks.
    pub notes: Vec<String>,
    /// Other problems with the certificate that Go clients (the nodes) may report first.
    pub findings: Vec<String>,
    /// The answer to `GET /v2/`, when the connection got that far.
    pub api: Option<ApiAnswer>,
    /// What to do, on the build machine and on the nodes.
    pub fixes: Fixes,
}

/// Describes the TLS session, or the attempt at one.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TlsFacts {
    /// The negotiated protocol version, once the handshake finished.
    pub version: Option<String>,
    /// The negotiated cipher suite.
    pub cipher_suite: Option<String>,
    /// `verified`, `pinned` (a self-signed certificate trusted for this host), `failed`, or
    /// `skipped`.
    pub verification: &'static str,
    /// With skip-verify: what full verification would have said.
    pub would_fail: Option<Verdict>,
    /// Whether the server asked for a client certificate.
    pub client_cert_requested: bool,
    /// Whether slipway had one to send.
    pub client_cert_configured: bool,
}

/// Describes the answer to `GET /v2/`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ApiAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The `WWW-Authenticate` scheme (`Basic`, `Bearer`), if challenged.
    pub auth_scheme: Option<String>,
    /// The challenge's realm.
    pub realm: Option<String>,
    /// The challenge's service (Bearer).
    pub service: Option<String>,
    /// The `Docker-Distribution-API-Version` header.
    pub api_version: Option<String>,
}

struct Outcome {
    verdict: Verdict,
    detail: String,
    address: Option<SocketAddr>,
    api: Option<ApiAnswer>,
}

impl Outcome {
    fn boxed(
        verdict: Verdict,
        detail: impl Into<String>,
        address: Option<SocketAddr>,
    ) -> Box<Self> {
        Box::new(Self::fail(verdict, detail, address))
    }

    fn fail(verdict: Verdict, detail: impl Into<String>, address: Option<SocketAddr>) -> Self {
        Outcome {
            verdict,
            detail: detail.into(),
            address,
            api: None,
        }
    }
}

/// Probes one registry with its resolved trust.
pub fn probe(trust: &HostTrust, opts: &ProbeOptions) -> ProbeReport {
    let mut report = ProbeReport {
        registry: trust.host.to_string(),
        verdict: Verdict::Other,
        detail: String::new(),
        scheme: "https",
        address: None,
        tls: None,
        chain: Vec::new(),
        chain_der: Vec::new(),
        trust_sources: trust.sources.clone(),
        notes: trust.notes.clone(),
        findings: Vec::new(),
        api: None,
        fixes: Fixes::default(),
    };
    let mut leaf: Option<CertificateDer<'static>> = None;
    let outcome = match &trust.plain_http {
        Some(p) if !p.https_first => {
            report.scheme = "http";
            probe_plain(trust, opts)
        }
        Some(p) => {
            let first = probe_tls(trust, opts, &mut report, &mut leaf);
            if first.verdict == Verdict::PlainHttp {
                report.notes.push(format!(
                    "the port speaks plain HTTP; fell back to it because of {} (announced)",
                    p.by
                ));
                report.scheme = "http";
                report.tls = None;
                probe_plain(trust, opts)
            } else {
                first
            }
        }
        None => probe_tls(trust, opts, &mut report, &mut leaf),
    };
    report.verdict = outcome.verdict;
    report.detail = outcome.detail;
    report.address = outcome.address.map(|a| a.to_string());
    report.api = outcome.api;
    if let Some(l) = &leaf {
        report.findings = findings(l, trust, report.verdict);
    }
    let leaf_summary = report.chain.first();
    let cx = FixContext {
        registry: report.registry.clone(),
        cert_names: leaf_summary
            .map(|s| {
                s.sans
                    .iter()
                    .map(|n| n.split_once(':').map_or(n.as_str(), |(_, v)| v).to_string())
                    .collect()
            })
            .unwrap_or_default(),
        self_signed: report.chain.len() == 1 && leaf_summary.is_some_and(|s| s.self_signed),
        leaf_sha256: leaf_summary.map(|s| s.sha256.clone()),
        leaf_issuer: leaf_summary.map(|s| s.issuer.clone()),
        agent_image: None,
    };
    // With skip-verify the connection works, but the fix for what it hides is still worth printing.
    let fix_for = match (
        &report.verdict,
        report.tls.as_ref().and_then(|t| t.would_fail),
    ) {
        (Verdict::Ok, Some(hidden)) => hidden,
        (v, _) => *v,
    };
    report.fixes = fix_for.fixes(&cx);
    report
}

fn connect(
    trust: &HostTrust,
    port: u16,
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), Box<Outcome>> {
    let host = trust.host.host();
    let addrs: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            return Err(Outcome::boxed(
                Verdict::Dns,
                format!("cannot resolve {host}: {e}"),
                None,
            ));
        }
    };
    if addrs.is_empty() {
        return Err(Outcome::boxed(
            Verdict::Dns,
            format!("{host} resolves to no address"),
            None,
        ));
    }
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(timeout));
                let _ = s.set_write_timeout(Some(timeout));
                let _ = s.set_nodelay(true);
                return Ok((s, *addr));
            }
            Err(e) => last = Some((e, *addr)),
        }
    }
    let (e, addr) = last.expect("at least one address was tried");
    let verdict = match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Verdict::Timeout,
        _ => Verdict::ConnectionRefused,
    };
    Err(Outcome::boxed(
        verdict,
        format!("cannot connect to {addr}: {e}"),
        Some(addr),
    ))
}

/// Keeps the first bytes the server sent, to recognise an HTTP answer to a TLS hello.
struct Sniff {
    inner: TcpStream,
    first: Vec<u8>,
}

impl Read for Sniff {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.first.len() < 16 {
            let take = n.min(16 - self.first.len());
            self.first.extend_from_slice(&buf[..take]);
        }
        Ok(n)
    }
}

impl Write for Sniff {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn request(trust: &HostTrust, plain: bool) -> Vec<u8> {
    let host = &trust.host;
    let authority = match host.port() {
        Some(_) => host.to_string(),
        None => format!("{host}:{}", host.connect_port(plain)),
    };
    format!(
        "GET /v2/ HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: slipway/{}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

fn probe_tls(
    trust: &HostTrust,
    opts: &ProbeOptions,
    report: &mut ProbeReport,
    leaf: &mut Option<CertificateDer<'static>>,
) -> Outcome {
    let (tcp, addr) = match connect(trust, trust.host.connect_port(false), opts.timeout) {
        Ok(c) => c,
        Err(o) => return *o,
    };
    let recorder = Arc::new(Recorder::default());
    let config = match trust.client_config_recording(Some(recorder.clone())) {
        Ok(c) => Arc::new(c),
        Err(e) => return Outcome::fail(Verdict::Other, e.chain(), Some(addr)),
    };
    let name = match ServerName::try_from(trust.host.host().to_string()) {
        Ok(n) => n,
        Err(e) => {
            return Outcome::fail(
                Verdict::Dns,
                format!("{} is not a valid TLS server name: {e}", trust.host.host()),
                Some(addr),
            );
        }
    };
    let mut conn = match ClientConnection::new(config, name) {
        Ok(c) => c,
        Err(e) => return Outcome::fail(Verdict::Other, e.to_string(), Some(addr)),
    };
    let mut sock = Sniff {
        inner: tcp,
        first: Vec::new(),
    };
    let req = request(trust, false);
    let result = (|| -> io::Result<Vec<u8>> {
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)?;
        }
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        tls.write_all(&req)?;
        tls.flush()?;
        read_head(&mut tls)
    })();

    let chain = recorder
        .chain
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    report.chain = chain.iter().filter_map(|c| summarize(c)).collect();
    report.chain_der = chain.iter().map(|c| c.to_vec()).collect();
    *leaf = chain.first().cloned();
    let requested = *recorder
        .client_cert_requested
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let would_fail_err = recorder
        .would_fail
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    let host = trust.host.host();
    let cert_refused = result
        .as_ref()
        .err()
        .and_then(|e| e.get_ref())
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)));
    let verification = if trust.skip_verify.is_some() {
        "skipped"
    } else if cert_refused {
        "failed"
    } else if leaf
        .as_ref()
        .is_some_and(|l| trust.pinned.iter().any(|p| p == l))
    {
        "pinned"
    } else {
        "verified"
    };
    report.tls = Some(TlsFacts {
        version: conn
            .protocol_version()
            .and_then(|v| v.as_str())
            .map(String::from),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .map(String::from),
        verification,
        would_fail: would_fail_err.as_ref().map(|e| match e {
            rustls::Error::InvalidCertificate(ce) => {
                classify_certificate_error(ce, leaf.as_deref(), host)
            }
            _ => Verdict::Other,
        }),
        client_cert_requested: requested,
        client_cert_configured: trust.identity.is_some(),
    });
    if let Some(hidden) = report.tls.as_ref().and_then(|t| t.would_fail) {
        report.notes.push(format!(
            "certificate verification is SKIPPED for {} (by {}); without that it would fail: {hidden}",
            trust.host,
            trust.skip_verify.as_deref().unwrap_or("?")
        ));
    }

    match result {
        Ok(head) => {
            let how = match verification {
                "pinned" => "TLS verified against the certificate pinned for this host",
                "skipped" => "TLS with verification SKIPPED",
                _ => "TLS verified",
            };
            api_outcome(&head, addr, how)
        }
        Err(e) => {
            let (verdict, detail) =
                classify_tls_io(&e, &sock.first, requested, trust, leaf.as_deref());
            Outcome::fail(verdict, detail, Some(addr))
        }
    }
}

fn classify_tls_io(
    e: &io::Error,
    first: &[u8],
    requested: bool,
    trust: &HostTrust,
    leaf: Option<&[u8]>,
) -> (Verdict, String) {
    let host = trust.host.to_string();
    if first.starts_with(b"HTTP/") {
        return (
            Verdict::PlainHttp,
            format!(
                "{host} answered the TLS hello in plain HTTP (the Go error is \"http: server gave HTTP response to HTTPS client\")"
            ),
        );
    }
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        return (
            Verdict::Timeout,
            format!("{host} did not complete the TLS handshake in time: {e}"),
        );
    }
    let tls = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::InvalidCertificate(ce)) => {
            let v = classify_certificate_error(ce, leaf, trust.host.host());
            let sources = if trust.sources.is_empty() {
                "no trust sources".to_string()
            } else {
                trust
                    .sources
                    .iter()
                    .map(|s| s.via.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let what = certificate_problem(v, ce, &host, Some(&sources));
            (v, format!("{what} [{e}]"))
        }
        Some(rustls::Error::AlertReceived(AlertDescription::CertificateRequired)) => (
            Verdict::ClientCertRequired,
            format!(
                "{host} requires a client certificate and none was sent (TLS alert certificate_required)"
            ),
        ),
        Some(rustls::Error::AlertReceived(
            a @ (AlertDescription::BadCertificate
            | AlertDescription::HandshakeFailure
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA),
        )) if requested => {
            let sent = if trust.identity.is_some() {
                "refused the client certificate slipway sent"
            } else {
                "asked for a client certificate and none was configured"
            };
            (
                Verdict::ClientCertRequired,
                format!("{host} {sent} (TLS alert {})", alert_name(*a)),
            )
        }
        Some(other) => (Verdict::Other, format!("TLS with {host} failed: {other}")),
        None if requested && trust.identity.is_none() => (
            Verdict::ClientCertRequired,
            format!(
                "{host} asked for a client certificate, none was configured, and it closed the connection: {e}"
            ),
        ),
        None => (Verdict::Other, format!("talking to {host} failed: {e}")),
    }
}

fn probe_plain(trust: &HostTrust, opts: &ProbeOptions) -> Outcome {
    let (tcp, addr) = match connect(trust, trust.host.connect_port(true), opts.timeout) {
        Ok(c) => c,
        Err(o) => return *o,
    };
    let mut sock = Sniff {
        inner: tcp,
        first: Vec::new(),
    };
    let result = sock
        .write_all(&request(trust, true))
        .and_then(|()| read_head(&mut sock));
    let host = &trust.host;
    // A TLS record (alert 0x15 or handshake 0x16, version 3.x) in answer to HTTP: the port speaks TLS.
    let tls_record = |b: &[u8]| b.len() >= 2 && (b[0] == 0x15 || b[0] == 0x16) && b[1] == 0x03;
    match result {
        Ok(head) if tls_record(&head) || contains(&head, b"HTTP request to an HTTPS server") => {
            Outcome::fail(
                Verdict::TlsRequired,
                format!(
                    "{host} speaks TLS, but plain HTTP was sent (\"Client sent an HTTP request to an HTTPS server\")"
                ),
                Some(addr),
            )
        }
        Ok(head) => api_outcome(&head, addr, "plain HTTP"),
        Err(_) if tls_record(&sock.first) => Outcome::fail(
            Verdict::TlsRequired,
            format!("{host} answered plain HTTP with a TLS record: the port speaks TLS"),
            Some(addr),
        ),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Outcome::fail(
                Verdict::Timeout,
                format!("{host} did not answer in time: {e}"),
                Some(addr),
            )
        }
        Err(e) => Outcome::fail(
            Verdict::Other,
            format!("talking to {host} failed: {e}"),
            Some(addr),
        ),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Reads up to the end of the response head (or EOF), at most 64 KiB.
fn read_head(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match r.read(&mut buf) {
            Ok(n) => n,
            // Servers that close without close_notify after answering: keep what we have.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !out.is_empty() => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            if out.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection without answering",
                ));
            }
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
        if contains(&out, b"\r\n\r\n") || out.len() > 64 * 1024 {
            return Ok(out);
        }
    }
}

fn api_outcome(head: &[u8], addr: SocketAddr, how: &str) -> Outcome {
    let Some(api) = parse_head(head) else {
        return Outcome::fail(
            Verdict::Other,
            format!("{how}, but the answer to GET /v2/ is not HTTP"),
            Some(addr),
        );
    };
    let (verdict, detail) = match api.status {
        200 => (Verdict::Ok, format!("{how}; GET /v2/ answered 200")),
        401 => (
            Verdict::Ok,
            format!(
                "{how}; GET /v2/ asks for credentials ({})",
                api.auth_scheme.as_deref().unwrap_or("no scheme")
            ),
        ),
        404 => (
            Verdict::NotFound,
            format!("{how}, but GET /v2/ answered 404: this is not a registry API endpoint"),
        ),
        s => (Verdict::Ok, format!("{how}; GET /v2/ answered {s}")),
    };
    Outcome {
        verdict,
        detail,
        address: Some(addr),
        api: Some(api),
    }
}

/// Parses an HTTP/1.x response head into the facts the probe reports.
pub fn parse_head(head: &[u8]) -> Option<ApiAnswer> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let mut api = ApiAnswer {
        status,
        ..Default::default()
    };
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("www-authenticate") {
            let (scheme, params) = value.split_once(' ').unwrap_or((value, ""));
            api.auth_scheme = Some(scheme.to_string());
            api.realm = auth_param(params, "realm");
            api.service = auth_param(params, "service");
        } else if name.eq_ignore_ascii_case("docker-distribution-api-version") {
            api.api_version = Some(value.to_string());
        }
    }
    Some(api)
}

fn auth_param(params: &str, key: &str) -> Option<String> {
    // key="value" pairs separated by commas; values may contain commas inside quotes.
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (k, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (v, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            after.split_once(',').map_or((after, ""), |(v, t)| (v, t))
        };
        if k.trim().eq_ignore_ascii_case(key) {
            return Some(v.to_string());
        }
        rest = tail.trim_start_matches([',', ' ']);
    }
    None
}

/// Lists further problems with the served leaf that a Go client may report before the one
/// rustls reported (Go checks expiry and the name before building the chain).
fn findings(leaf: &[u8], trust: &HostTrust, verdict: Verdict) -> Vec<String> {
    let mut out = Vec::new();
    let host = trust.host.host();
    match crate::inspect::validity_now(leaf) {
        Some(crate::inspect::Validity::Expired) if verdict != Verdict::Expired => {
            out.push("the certificate has also expired".into())
        }
        Some(crate::inspect::Validity::NotYetValid) if verdict != Verdict::NotYetValid => {
            out.push("the certificate is also not valid yet".into())
        }
        _ => {}
    }
    if !matches!(
        verdict,
        Verdict::HostnameMismatch | Verdict::LegacyCommonName
    ) {
        let named = ServerName::try_from(host.to_string())
            .ok()
            .is_some_and(|n| {
                webpki::EndEntityCert::try_from(&CertificateDer::from(leaf))
                    .is_ok_and(|c| c.verify_is_valid_for_subject_name(&n).is_ok())
            });
        if !named {
            match crate::inspect::common_name_without_sans(leaf) {
                Some(cn) if cn.eq_ignore_ascii_case(host) => out.push(format!("the certificate also names {host} only in its CN (legacy-common-name): Go clients on the nodes reject it")),
                _ => out.push(format!("the certificate also does not name {host} (hostname-mismatch)")),
            }
        }
    }
    out
}

/// Names a TLS alert as RFC 8446 does (`certificate_required`, `unknown_ca`).
fn alert_name(a: AlertDescription) -> String {
    let Some(camel) = a.as_str() else {
        return format!("{}", u8::from(a));
    };
    let mut out = String::new();
    let chars: Vec<char> = camel.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        // A capital starts a word, except inside a run of capitals (`UnknownCA`).
        let starts = c.is_ascii_uppercase()
            && i > 0
            && !(chars[i - 1].is_ascii_uppercase()
                && chars.get(i + 1).is_none_or(|n| n.is_ascii_uppercase()));
        if starts {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_are_named_as_the_rfc_names_them() {
        for (a, name) in [
            (
                AlertDescription::CertificateRequired,
                "certificate_required",
            ),
            (AlertDescription::UnknownCA, "unknown_ca"),
            (AlertDescription::BadCertificate, "bad_certificate"),
            (AlertDescription::HandshakeFailure, "handshake_failure"),
        ] {
            assert_eq!(alert_name(a), name);
        }
    }

    #[test]
    fn parses_a_bearer_challenge() {
        let head = b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nDocker-Distribution-Api-Version: registry/2.0\r\nWww-Authenticate: Bearer realm=\"https://auth.test/token\",service=\"registry.test\",scope=\"a,b\"\r\n\r\n";
        let api = parse_head(head).unwrap();
        assert_eq!(api.status, 401);
        assert_eq!(api.auth_scheme.as_deref(), Some("Bearer"));
        assert_eq!(api.realm.as_deref(), Some("https://auth.test/token"));
        assert_eq!(api.service.as_deref(), Some("registry.test"));
        assert_eq!(api.api_version.as_deref(), Some("registry/2.0"));
    }

    #[test]
    fn parses_a_basic_challenge_and_rejects_non_http() {
        let api = parse_head(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"slipway test\"\r\n\r\n",
        )
        .unwrap();
        assert_eq!(api.realm.as_deref(), Some("slipway test"));
        assert!(parse_head(b"\x15\x03\x01\x00\x02\x02\x28").is_none());
    }
}
