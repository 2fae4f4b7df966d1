//! The CA: create it (`pki init`), load it, and issue server certificates from it
//! (`pki issue`, `pki renew`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints, PublicKeyData,
    SanType, SerialNumber,
};
use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;

use crate::Error;
use crate::files::{Batch, read};

/// The CA certificate's file name in a PKI folder.
pub const CA_CERT: &str = "ca.crt";
/// The CA key's file name in a PKI folder (mode 0600).
pub const CA_KEY: &str = "ca.key";
/// What nodes must trust: the CA, or during rotation old + new.
pub const BUNDLE: &str = "bundle.pem";

/// Chooses the key algorithm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    /// ECDSA on P-256 with SHA-256 (the default).
    #[default]
    EcdsaP256,
    /// RSA 2048 with SHA-256, for clients that cannot do ECDSA.
    Rsa,
}

impl KeyKind {
    fn generate(self) -> Result<KeyPair, Error> {
        let alg = match self {
            KeyKind::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyKind::Rsa => &rcgen::PKCS_RSA_SHA256,
        };
        Ok(KeyPair::generate_for(alg)?)
    }
}

/// Holds what `pki init` needs.
#[derive(Clone, Debug)]
pub struct CaOptions {
    /// The CA's common name.
    pub common_name: String,
    /// The key algorithm.
    pub key: KeyKind,
    /// DNS suffixes the CA may issue for (name constraints); empty = unconstrained.
    pub permit_dns: Vec<String>,
    /// IP ranges the CA may issue for; empty = unconstrained.
    pub permit_ip: Vec<String>,
    /// How long the CA is valid.
    pub validity: Duration,
}

/// Reports what `pki init` wrote.
#[derive(Clone, Debug, Serialize)]
pub struct InitReport {
    /// The CA certificate.
    pub ca_cert: PathBuf,
    /// The CA key (0600).
    pub ca_key: PathBuf,
    /// The bundle nodes must trust.
    pub bundle: PathBuf,
    /// The new CA's facts.
    pub certificate: crate::CertDetails,
    /// Remarks, e.g. that IPs stay unconstrained when only DNS constraints were given.
    pub notes: Vec<String>,
}

/// Returns a random, positive, 16-byte serial number (RFC 5280 §4.1.2.2).
pub(crate) fn random_serial() -> SerialNumber {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("the system random generator works");
    b[0] = (b[0] & 0x7f) | 0x01;
    SerialNumber::from_slice(&b)
}

/// Parses a DNS name for a SAN or a constraint: letters, digits, `-`, `.`, optional `*.` prefix.
pub fn check_dns(name: &str, allow_wildcard: bool) -> Result<String, Error> {
    let invalid = |why: &str| Error::InvalidName {
        kind: "DNS name",
        value: name.into(),
        why: why.into(),
    };
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let body = match n.strip_prefix("*.") {
        Some(rest) if allow_wildcard => rest,
        Some(_) => return Err(invalid("wildcards are not allowed here")),
        None => n.trim_start_matches('.'),
    };
    if body.is_empty() || body.len() > 253 {
        return Err(invalid("empty or longer than 253 characters"));
    }
    if body.parse::<IpAddr>().is_ok() {
        return Err(invalid("this is an IP address; pass it with --ip"));
    }
    if body
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(invalid(
            "looks like an IPv4 address but is not a valid one (a top-level label cannot be all digits)",
        ));
    }
    for label in body.split('.') {
        if label.is_empty() || label.len() > 63 || label.starts_with('-') || label.ends_with('-') {
            return Err(invalid(
                "each dot-separated label must be 1-63 characters, not starting or ending with '-'",
            ));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(invalid("only letters, digits, '-' and '.' are allowed"));
        }
    }
    Ok(n)
}

/// Parses an IP address.
pub fn check_ip(s: &str) -> Result<IpAddr, Error> {
    s.trim().parse().map_err(|e| Error::InvalidName {
        kind: "IP address",
        value: s.into(),
        why: format!("{e}"),
    })
}

/// Parses `addr/prefix` (or a bare address, meaning one host).
pub fn check_cidr(s: &str) -> Result<(IpAddr, u8), Error> {
    let invalid = |why: String| Error::InvalidName {
        kind: "CIDR",
        value: s.into(),
        why,
    };
    let (addr, prefix) = s
        .trim()
        .split_once('/')
        .map_or((s.trim(), None), |(a, p)| (a, Some(p)));
    let addr: IpAddr = addr.parse().map_err(|e| invalid(format!("{e}")))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| invalid(format!("the prefix must be 0..={max}")))?,
    };
    Ok((addr, prefix))
}

/// Creates a CA in `dir`: `ca.crt`, `ca.key` (0600) and `bundle.pem`. Never overwrites.
///
/// # Errors
/// An existing CA, an invalid constraint, or an I/O error. Nothing is written on error.
pub fn init(dir: &Path, opts: &CaOptions) -> Result<InitReport, Error> {
    let mut notes = Vec::new();
    let dns: Vec<String> = opts
        .permit_dns
        .iter()
        .map(|d| check_dns(d, false))
        .collect::<Result<_, _>>()?;
    let ips: Vec<(IpAddr, u8)> = opts
        .permit_ip
        .iter()
        .map(|c| check_cidr(c))
        .collect::<Result<_, _>>()?;
    if !dns.is_empty() && ips.is_empty() {
        notes.push("only DNS names are constrained: the CA can still issue for ANY IP address; add --permit-ip CIDR to constrain IPs too".into());
    }
    if dns.is_empty() && !ips.is_empty() {
        notes.push("only IP addresses are constrained: the CA can still issue for ANY DNS name; add --permit-dns SUFFIX to constrain names too".into());
    }
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            what: "cannot create".into(),
            path: dir.into(),
            source,
        })?;
    }
    for f in [CA_CERT, CA_KEY] {
        if dir.join(f).exists() {
            return Err(Error::CaExists { path: dir.join(f) });
        }
    }
    let key = opts.key.generate()?;
    let params = ca_params(&opts.common_name, opts.validity, &dns, &ips);
    let cert = params.self_signed(&key)?;
    let mut batch = Batch::default();
    batch.public(dir.join(CA_CERT), cert.pem(), true);
    batch.secret(dir.join(CA_KEY), key.serialize_pem(), true);
    batch.public(dir.join(BUNDLE), cert.pem(), false);
    batch.commit()?;
    Ok(InitReport {
        ca_cert: dir.join(CA_CERT),
        ca_key: dir.join(CA_KEY),
        bundle: dir.join(BUNDLE),
        certificate: crate::inspect::details(cert.der()).expect("rcgen output parses"),
        notes,
    })
}

pub(crate) fn ca_params(
    cn: &str,
    validity: Duration,
    dns: &[String],
    ips: &[(IpAddr, u8)],
) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    // Path length 1 leaves room to cross-sign or add an intermediate later.
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    // Backdate a little so a node whose clock lags does not see `not-yet-valid`.
    p.not_before = now - time::Duration::minutes(5);
    p.not_after = now + to_time(validity);
    p.serial_number = Some(random_serial());
    if !dns.is_empty() || !ips.is_empty() {
        // Never URI constraints: rustls-webpki rejects them (GHSA-965h-392x-2mh5).
        let mut permitted: Vec<GeneralSubtree> = dns
            .iter()
            .map(|d| GeneralSubtree::DnsName(d.clone()))
            .collect();
        permitted.extend(
            ips.iter()
                .map(|(a, n)| GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(*a, *n))),
        );
        p.name_constraints = Some(NameConstraints {
            permitted_subtrees: permitted,
            excluded_subtrees: vec![],
        });
    }
    p
}

fn to_time(d: Duration) -> time::Duration {
    time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2))
}

/// Holds a loaded CA: its certificate and the key that signs with it.
pub struct Ca {
    /// The certificate file.
    pub cert_path: PathBuf,
    pem: String,
    der: Vec<u8>,
    key: KeyPair,
}

impl Ca {
    /// Loads `ca.crt` and `ca.key` from a PKI folder.
    ///
    /// # Errors
    /// A missing folder or file, a corrupt file, or a key that does not match.
    pub fn load(dir: &Path) -> Result<Ca, Error> {
        Self::load_pair(dir, &dir.join(CA_CERT), &dir.join(CA_KEY))
    }

    pub(crate) fn load_pair(dir: &Path, cert: &Path, key: &Path) -> Result<Ca, Error> {
        if !dir.is_dir() {
            return Err(Error::Io {
                what: "PKI folder (--dir) does not exist:".into(),
                path: dir.into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        for f in [cert, key] {
            if !f.exists() {
                return Err(Error::NoCa {
                    dir: dir.into(),
                    missing: f.into(),
                });
            }
        }
        let pem = String::from_utf8(read(cert, "CA certificate")?).map_err(|_| Error::Corrupt {
            path: cert.into(),
            why: "not a PEM text file".into(),
        })?;
        let der = first_cert_der(&pem, cert)?;
        let key_pem = String::from_utf8(read(key, "CA key")?).map_err(|_| Error::Corrupt {
            path: key.into(),
            why: "not a PEM text file".into(),
        })?;
        let kp = KeyPair::from_pem(&key_pem).map_err(|e| Error::Corrupt {
            path: key.into(),
            why: format!("not a usable private key: {e}"),
        })?;
        let (_, x) = x509_parser::parse_x509_certificate(&der).map_err(|e| Error::Corrupt {
            path: cert.into(),
            why: format!("not X.509: {e}"),
        })?;
        if x.public_key().raw != kp.subject_public_key_info().as_slice() {
            return Err(Error::KeyMismatch {
                cert: cert.into(),
                key: key.into(),
            });
        }
        if !x.is_ca() {
            return Err(Error::CaUnusable {
                ca: cert.into(),
                why: "is not a CA certificate (basicConstraints CA:FALSE)".into(),
            });
        }
        Ok(Ca {
            cert_path: cert.into(),
            pem,
            der,
            key: kp,
        })
    }

    /// Returns the CA certificate as DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Returns the CA certificate as PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    fn x509(&self) -> x509_parser::certificate::X509Certificate<'_> {
        x509_parser::parse_x509_certificate(&self.der)
            .expect("checked at load")
            .1
    }

    /// Checks that the CA may issue for these names now: it is valid, and each name is
    /// inside its name constraints.
    ///
    /// # Errors
    /// [`Error::CaUnusable`] or [`Error::OutsideConstraints`].
    pub fn check_can_issue(&self, dns: &[String], ips: &[IpAddr]) -> Result<(), Error> {
        let x = self.x509();
        let v = x.validity();
        let now = x509_parser::time::ASN1Time::now();
        if now > v.not_after {
            return Err(Error::CaUnusable {
                ca: self.cert_path.clone(),
                why: format!(
                    "expired on {}; rotate it (`slipway pki rotate`)",
                    v.not_after
                ),
            });
        }
        if now < v.not_before {
            return Err(Error::CaUnusable {
                ca: self.cert_path.clone(),
                why: format!("is not valid before {}", v.not_before),
            });
        }
        let Ok(Some(nc)) = x.name_constraints() else {
            return Ok(());
        };
        let permitted = nc.value.permitted_subtrees.as_deref().unwrap_or(&[]);
        let dns_bases: Vec<&str> = permitted
            .iter()
            .filter_map(|s| {
                if let GeneralName::DNSName(d) = s.base {
                    Some(d)
                } else {
                    None
                }
            })
            .collect();
        let ip_bases: Vec<&[u8]> = permitted
            .iter()
            .filter_map(|s| {
                if let GeneralName::IPAddress(b) = s.base {
                    Some(b)
                } else {
                    None
                }
            })
            .collect();
        let described = crate::inspect::describe_subtrees(permitted);
        for name in dns {
            if !dns_bases.is_empty() && !dns_bases.iter().any(|b| dns_within(name, b)) {
                return Err(Error::OutsideConstraints {
                    name: name.clone(),
                    ca: self.cert_path.clone(),
                    permitted: described,
                });
            }
        }
        for ip in ips {
            if !ip_bases.is_empty() && !ip_bases.iter().any(|b| ip_within(ip, b)) {
                return Err(Error::OutsideConstraints {
                    name: ip.to_string(),
                    ca: self.cert_path.clone(),
                    permitted: described,
                });
            }
        }
        Ok(())
    }

    /// Returns when this CA stops being valid.
    pub fn not_after(&self) -> OffsetDateTime {
        self.x509().validity().not_after.to_datetime()
    }

    pub(crate) fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, Error> {
        Ok(Issuer::from_ca_cert_der(
            &self.der.clone().into(),
            &self.key,
        )?)
    }
}

/// Returns whether `name` is `base` or under it (RFC 5280 §4.2.1.10: a leading `.` means
/// subdomains only).
fn dns_within(name: &str, base: &str) -> bool {
    let name = name.trim_start_matches("*.").to_ascii_lowercase();
    let base = base.to_ascii_lowercase();
    if let Some(sub) = base.strip_prefix('.') {
        return name.ends_with(&format!(".{sub}"));
    }
    name == base || name.ends_with(&format!(".{base}"))
}

fn ip_within(ip: &IpAddr, base: &[u8]) -> bool {
    let octets: Vec<u8> = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    if base.len() != octets.len() * 2 {
        return false;
    }
    let (net, mask) = base.split_at(octets.len());
    octets
        .iter()
        .zip(net)
        .zip(mask)
        .all(|((o, n), m)| o & m == n & m)
}

fn first_cert_der(pem: &str, path: &Path) -> Result<Vec<u8>, Error> {
    slipway_trust::parse_certificates(pem.as_bytes(), path, "certificate")
        .map_err(|e| Error::Corrupt {
            path: path.into(),
            why: e.to_string(),
        })?
        .into_iter()
        .next()
        .map(|c| c.to_vec())
        .ok_or_else(|| Error::Corrupt {
            path: path.into(),
            why: "no certificate".into(),
        })
}

/// Holds what `pki issue` needs.
#[derive(Clone, Debug)]
pub struct IssueOptions {
    /// DNS names for the SAN.
    pub dns: Vec<String>,
    /// IP addresses for the SAN.
    pub ips: Vec<String>,
    /// Validity (default 397 days).
    pub validity: Duration,
    /// The leaf key algorithm.
    pub key: KeyKind,
    /// What to do when the leaf's files already exist.
    pub existing: Existing,
}

/// What [`issue`] does when the leaf's files already exist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Existing {
    /// Refuse, changing nothing (`pki issue` without `--force`).
    #[default]
    Refuse,
    /// Replace them, keeping each old file beside it as `FILE.bak-TIME` (`--force`,
    /// `renew`, the rotation's switch).
    Backup,
}

/// The files of one issued server certificate.
#[derive(Clone, Debug, Serialize)]
pub struct LeafFiles {
    /// `PREFIX.crt`: the leaf alone.
    pub cert: PathBuf,
    /// `PREFIX.key`: its key, mode 0600.
    pub key: PathBuf,
    /// `PREFIX.chain.pem`: the issuing CA.
    pub chain: PathBuf,
    /// `PREFIX.fullchain.pem`: leaf + CA, for Distribution's `http.tls.certificate`.
    pub fullchain: PathBuf,
}

impl LeafFiles {
    /// Returns the file names for a prefix.
    pub fn for_prefix(prefix: &Path) -> LeafFiles {
        let with = |ext: &str| {
            let mut s = prefix.as_os_str().to_owned();
            s.push(ext);
            PathBuf::from(s)
        };
        LeafFiles {
            cert: with(".crt"),
            key: with(".key"),
            chain: with(".chain.pem"),
            fullchain: with(".fullchain.pem"),
        }
    }
}

/// Reports what `pki issue` (or renew, or the rotation's switch) wrote.
#[derive(Clone, Debug, Serialize)]
pub struct IssueReport {
    /// The files written.
    pub files: LeafFiles,
    /// The new leaf's facts.
    pub certificate: crate::CertDetails,
    /// Remarks, e.g. a validity shortened to the CA's.
    pub notes: Vec<String>,
}

/// Issues a server certificate for the registry and writes its four files.
///
/// # Errors
/// No names, an invalid name, a name outside the CA's constraints, an unusable CA, or an
/// I/O error. Nothing is written on error.
pub fn issue(ca: &Ca, opts: &IssueOptions, prefix: &Path) -> Result<IssueReport, Error> {
    let dns: Vec<String> = opts
        .dns
        .iter()
        .map(|d| check_dns(d, true))
        .collect::<Result<_, _>>()?;
    let ips: Vec<IpAddr> = opts
        .ips
        .iter()
        .map(|i| check_ip(i))
        .collect::<Result<_, _>>()?;
    if dns.is_empty() && ips.is_empty() {
        return Err(Error::Usage("give at least one --dns NAME or --ip ADDR: certificates without SANs are rejected by Go clients (containerd, Docker)".into()));
    }
    ca.check_can_issue(&dns, &ips)?;
    let mut notes = Vec::new();
    let now = OffsetDateTime::now_utc();
    let mut not_after = now + to_time(opts.validity);
    if not_after > ca.not_after() {
        not_after = ca.not_after();
        notes.push(format!(
            "validity shortened to the CA's end, {}",
            crate::inspect::rfc3339(not_after)
        ));
    }
    let mut sans: Vec<SanType> = Vec::new();
    for d in &dns {
        sans.push(SanType::DnsName(d.clone().try_into().map_err(|_| {
            Error::InvalidName {
                kind: "DNS name",
                value: d.clone(),
                why: "not IA5".into(),
            }
        })?));
    }
    sans.extend(ips.iter().map(|i| SanType::IpAddress(*i)));
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    let cn = dns.first().cloned().unwrap_or_else(|| ips[0].to_string());
    p.distinguished_name.push(DnType::CommonName, cn);
    p.subject_alt_names = sans;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    p.not_before = now - time::Duration::minutes(5);
    p.not_after = not_after;
    p.serial_number = Some(random_serial());
    let key = opts.key.generate()?;
    let issuer = ca.issuer()?;
    let leaf = p.signed_by(&key, &issuer)?;
    let files = LeafFiles::for_prefix(prefix);
    if let Some(parent) = prefix.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(Error::Io {
            what: "the folder for --out does not exist:".into(),
            path: parent.into(),
            source: std::io::ErrorKind::NotFound.into(),
        });
    }
    if opts.existing == Existing::Refuse
        && let Some(path) = [&files.cert, &files.key, &files.chain, &files.fullchain]
            .into_iter()
            .find(|p| p.exists())
    {
        return Err(Error::LeafExists { path: path.clone() });
    }
    let mut batch = Batch::default();
    batch.public(&files.cert, leaf.pem(), false);
    batch.secret(&files.key, key.serialize_pem(), false);
    batch.public(&files.chain, ca.pem().to_string(), false);
    batch.public(
        &files.fullchain,
        format!("{}{}", leaf.pem(), ca.pem()),
        false,
    );
    if opts.existing == Existing::Backup {
        batch.back_up_existing();
    }
    batch.commit()?;
    Ok(IssueReport {
        files,
        certificate: crate::inspect::details(leaf.der()).expect("rcgen output parses"),
        notes,
    })
}

/// Holds what re-issuing a leaf needs to know about it.
pub(crate) struct LeafInfo {
    pub dns: Vec<String>,
    pub ips: Vec<String>,
    pub lifetime: Duration,
    pub not_before: OffsetDateTime,
    pub der: Vec<u8>,
}

/// Reads the SANs (DNS names, IPs) and lifetime of an issued leaf.
pub(crate) fn leaf_names(cert: &Path) -> Result<LeafInfo, Error> {
    let pem = String::from_utf8(read(cert, "certificate")?).map_err(|_| Error::Corrupt {
        path: cert.into(),
        why: "not PEM".into(),
    })?;
    let der = first_cert_der(&pem, cert)?;
    let (_, x) = x509_parser::parse_x509_certificate(&der).map_err(|e| Error::Corrupt {
        path: cert.into(),
        why: e.to_string(),
    })?;
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    if let Ok(Some(san)) = x.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => dns.push(d.to_string()),
                GeneralName::IPAddress(b) if b.len() == 4 => {
                    ips.push(IpAddr::from(<[u8; 4]>::try_from(*b).unwrap_or_default()).to_string())
                }
                GeneralName::IPAddress(b) if b.len() == 16 => {
                    ips.push(IpAddr::from(<[u8; 16]>::try_from(*b).unwrap_or_default()).to_string())
                }
                _ => {}
            }
        }
    }
    let nb = x.validity().not_before.to_datetime();
    let life = Duration::from_secs(
        u64::try_from((x.validity().not_after.to_datetime() - nb).whole_seconds()).unwrap_or(0),
    );
    Ok(LeafInfo {
        dns,
        ips,
        lifetime: life,
        not_before: nb,
        der,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_constraints_include_subdomains_and_respect_leading_dots() {
        assert!(dns_within("registry.corp.test", "corp.test"));
        assert!(dns_within("corp.test", "corp.test"));
        assert!(!dns_within("evilcorp.test", "corp.test"));
        assert!(!dns_within("corp.test", ".corp.test"));
        assert!(dns_within("a.corp.test", ".corp.test"));
    }

    #[test]
    fn ip_constraints_compare_under_the_mask() {
        assert!(ip_within(
            &"10.1.2.3".parse().unwrap(),
            &[10, 0, 0, 0, 255, 0, 0, 0]
        ));
        assert!(!ip_within(
            &"11.1.2.3".parse().unwrap(),
            &[10, 0, 0, 0, 255, 0, 0, 0]
        ));
        assert!(!ip_within(
            &"::1".parse().unwrap(),
            &[10, 0, 0, 0, 255, 0, 0, 0]
        ));
    }

    #[test]
    fn names_and_cidrs_are_validated() {
        assert!(check_dns("registry.test", false).is_ok());
        assert!(check_dns("*.registry.test", true).is_ok());
        assert!(check_dns("*.registry.test", false).is_err());
        assert!(check_dns("bad_name.test", false).is_err());
        assert!(check_dns("10.0.0.1", false).is_err());
        assert!(check_dns("300.1.1.1", false).is_err());
        assert!(check_ip("10.0.0.300").is_err());
        assert_eq!(check_cidr("10.0.0.0/8").unwrap().1, 8);
        assert!(check_cidr("10.0.0.0/33").is_err());
        assert!(check_cidr("nonsense/8").is_err());
    }
}
