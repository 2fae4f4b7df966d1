//! The kit's certificates are what they claim, checked by the independent openssl CLI, and
//! its registry really stops when dropped.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use slipway_testkit::{LeafKind, Registry, TestPki};

fn openssl_text(cert: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(cert)
        .output()
        .expect("openssl");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn openssl_verify(ca: &Path, cert: &Path) -> bool {
    Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(ca)
        .arg(cert)
        .output()
        .expect("openssl")
        .status
        .success()
}

#[test]
fn ca_signed_leaf_verifies_with_openssl_and_has_sans() {
    let pki = TestPki::new();
    let c = pki.server_cert(LeafKind::CaSigned);
    assert!(openssl_verify(pki.ca(), &c.chain));
    let text = openssl_text(&c.chain);
    assert!(
        text.contains("DNS:localhost, IP Address:127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("TLS Web Server Authentication"));
}

#[test]
fn openssl_self_signed_leaf_is_marked_ca_true() {
    let pki = TestPki::new();
    let c = pki.server_cert(LeafKind::SelfSignedOpenssl);
    assert_eq!(c.trust, c.chain);
    assert!(openssl_text(&c.chain).contains("CA:TRUE"));
}

#[test]
fn cn_only_leaf_has_no_subject_alt_name() {
    let pki = TestPki::new();
    let c = pki.server_cert(LeafKind::CnOnly);
    let text = openssl_text(&c.chain);
    assert!(
        text.contains("CN = localhost") && !text.contains("Subject Alternative Name"),
        "{text}"
    );
}

#[test]
fn expired_and_not_yet_valid_leaves_fail_openssl_verify() {
    let pki = TestPki::new();
    for kind in [LeafKind::Expired, LeafKind::NotYetValid] {
        let c = pki.server_cert(kind);
        assert!(
            !openssl_verify(pki.ca(), &c.chain),
            "{kind:?} must not verify"
        );
    }
}

#[test]
fn registry_stops_listening_when_dropped() {
    let reg = Registry::builder().start();
    let addr = format!("127.0.0.1:{}", reg.port());
    assert!(TcpStream::connect(&addr).is_ok());
    drop(reg);
    assert!(
        TcpStream::connect(&addr).is_err(),
        "the registry must be gone after drop"
    );
}
