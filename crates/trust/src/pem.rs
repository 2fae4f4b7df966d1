//! Loading certificates and keys from PEM files with errors that say which file, for which
//! registry, from which source.

use std::path::Path;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

/// Reads every certificate in a PEM file, ignoring text around the blocks.
///
/// `purpose` names the registry and trust source, e.g. "CA for registry r.test:5000 (--registry-ca)".
///
/// # Errors
/// A missing file, malformed PEM, binary DER, a block that is not X.509, or no certificate at all.
pub fn read_certificates(
    path: &Path,
    purpose: &str,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = read(path, purpose)?;
    parse_certificates(&bytes, path, purpose)
}

/// Parses every certificate in PEM bytes read from `path`; see [`read_certificates`].
///
/// # Errors
/// As [`read_certificates`], except for reading.
pub fn parse_certificates(
    bytes: &[u8],
    path: &Path,
    purpose: &str,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    if looks_like_der(bytes) {
        return Err(Error::DerNotPem {
            purpose: purpose.into(),
            path: path.into(),
        });
    }
    let mut certs = Vec::new();
    for (i, item) in CertificateDer::pem_slice_iter(bytes).enumerate() {
        let der = item.map_err(|e| malformed(path, purpose, &e))?;
        if let Err(e) = x509_parser::parse_x509_certificate(&der) {
            return Err(Error::MalformedPem {
                purpose: purpose.into(),
                path: path.into(),
                why: format!(
                    "certificate block {} is not a valid X.509 certificate: {e}",
                    i + 1
                ),
            });
        }
        certs.push(der);
    }
    if certs.is_empty() {
        // A BEGIN line without a certificate label still deserves a specific message.
        return Err(Error::NoCertificates {
            purpose: purpose.into(),
            path: path.into(),
        });
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
///
/// # Errors
/// A missing file, DER, malformed PEM, or no key.
pub fn read_private_key(path: &Path, purpose: &str) -> Result<PrivateKeyDer<'static>, Error> {
    let bytes = read(path, purpose)?;
    if looks_like_der(&bytes) {
        return Err(Error::DerNotPem {
            purpose: purpose.into(),
            path: path.into(),
        });
    }
    // PKCS#8 `ENCRYPTED PRIVATE KEY`, or a traditional key with `Proc-Type: 4,ENCRYPTED`:
    // the parser would call them missing or malformed; say what the file holds.
    if contains(&bytes, b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || (contains(&bytes, b"PRIVATE KEY-----") && contains(&bytes, b"Proc-Type: 4,ENCRYPTED"))
    {
        return Err(Error::BadPrivateKey {
            purpose: purpose.into(),
            path: path.into(),
            why: "the key is encrypted with a passphrase, which slipway cannot ask for; write it out unencrypted (openssl pkey -in KEY -out KEY.plain, then chmod 600 KEY.plain)".into(),
        });
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => Error::BadPrivateKey {
            purpose: purpose.into(),
            path: path.into(),
            why: "no `-----BEGIN ... PRIVATE KEY-----` block".into(),
        },
        other => malformed(path, purpose, &other),
    })
}

fn read(path: &Path, purpose: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::ReadFile {
        purpose: purpose.into(),
        path: path.into(),
        source,
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// DER certificates and keys are ASN.1 SEQUENCEs: they start with 0x30 and contain no PEM header.
fn looks_like_der(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x30) && !bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

fn malformed(path: &Path, purpose: &str, e: &pem::Error) -> Error {
    let why = match e {
        pem::Error::MissingSectionEnd { end_marker } => {
            format!(
                "a block has no end line `{}`",
                String::from_utf8_lossy(end_marker).trim()
            )
        }
        pem::Error::IllegalSectionStart { line } => {
            format!("bad BEGIN line `{}`", String::from_utf8_lossy(line).trim())
        }
        pem::Error::Base64Decode(_) => "a block's body is not valid base64".into(),
        other => other.to_string(),
    };
    Error::MalformedPem {
        purpose: purpose.into(),
        path: path.into(),
        why,
    }
}

/// Encodes one DER certificate as PEM (`-----BEGIN CERTIFICATE-----`, 64-column base64),
/// the form runtimes and tools read from their certificate folders.
pub fn certificate_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["r.test".into()]).unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn reads_several_certificates_with_text_around_them() {
        let d = tempfile::tempdir().unwrap();
        let text = format!(
            "subject=CN = one\n{}\nsome comment\n{}trailer\n",
            cert_pem(),
            cert_pem()
        );
        let p = write(&d, "bundle.crt", text.as_bytes());
        assert_eq!(read_certificates(&p, "CA").unwrap().len(), 2);
    }

    #[test]
    fn names_the_file_when_it_is_missing() {
        let err = read_certificates(Path::new("/nonexistent/ca.crt"), "CA for registry r.test")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/nonexistent/ca.crt") && err.contains("r.test"),
            "{err}"
        );
    }

    #[test]
    fn rejects_der_given_as_pem_with_a_conversion_hint() {
        let d = tempfile::tempdir().unwrap();
        let der = CertificateDer::from_pem_slice(cert_pem().as_bytes()).unwrap();
        let p = write(&d, "ca.der", &der);
        let err = read_certificates(&p, "CA").unwrap_err();
        assert!(matches!(err, Error::DerNotPem { .. }), "{err}");
        assert!(err.to_string().contains("openssl x509 -inform der"));
    }

    #[test]
    fn rejects_an_empty_file() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "empty.crt", b"");
        assert!(matches!(
            read_certificates(&p, "CA").unwrap_err(),
            Error::NoCertificates { .. }
        ));
    }

    #[test]
    fn rejects_a_truncated_block() {
        let d = tempfile::tempdir().unwrap();
        let pem = cert_pem();
        let cut = &pem[..pem.len() - 30];
        let p = write(&d, "cut.crt", cut.as_bytes());
        assert!(matches!(
            read_certificates(&p, "CA").unwrap_err(),
            Error::MalformedPem { .. }
        ));
    }

    #[test]
    fn rejects_a_block_that_is_not_x509() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            &d,
            "junk.crt",
            b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        );
        let err = read_certificates(&p, "CA").unwrap_err().to_string();
        assert!(err.contains("not a valid X.509"), "{err}");
    }
}
