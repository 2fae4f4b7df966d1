//! The kit's OCI layouts are pushed by the real skopeo to the real registry over verified
//! TLS, keep their digest, and survive a registry restart with a new certificate.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use slipway_testkit::{LeafKind, Registry, Skopeo, TestPki, cert_dir, oci_layout, sha256_digest};

const FILES: &[(&str, &[u8])] = &[
    ("etc/app.conf", b"greeting = hello\n"),
    ("usr/local/bin/app", b"#!/bin/sh\necho hello\n"),
];

/// Returns the SHA-256 fingerprint line openssl prints for the first certificate in `pem`.
fn fingerprint(pem: &[u8]) -> String {
    let mut child = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl CLI must be installed (Debian package openssl)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(pem)
        .expect("write to openssl");
    let out = child.wait_with_output().expect("openssl x509");
    assert!(
        out.status.success(),
        "openssl x509 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Returns the fingerprint of the leaf the server on 127.0.0.1:`port` presents.
fn served_fingerprint(port: u16) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-servername", "localhost"])
        .stdin(Stdio::null())
        .output()
        .expect("the openssl CLI must be installed (Debian package openssl)");
    fingerprint(&out.stdout)
}

fn file_fingerprint(path: &Path) -> String {
    fingerprint(&std::fs::read(path).expect("read certificate"))
}

#[test]
fn a_pushed_layout_keeps_its_digest_and_survives_a_restart_with_a_new_certificate() {
    let pki = TestPki::new();
    let first = pki.server_cert(LeafKind::CaSigned);
    let mut registry = Registry::builder().tls(&first).start();
    let work = tempfile::tempdir().unwrap();
    let layout = oci_layout(&work.path().join("layout"), "v1", FILES);
    let certs = cert_dir(&work.path().join("certs"), &[pki.ca()], None);
    assert!(certs.join("ca.crt").is_file());
    let skopeo = Skopeo::new().cert_dir(&certs);
    let image = format!("docker://{}/app:1", registry.host());

    skopeo
        .copy(&layout.reference(), &image)
        .unwrap_or_else(|e| panic!("{e}\nregistry log:\n{}", registry.log_text()));
    assert_eq!(
        skopeo.manifest_digest(&image).unwrap(),
        layout.manifest_digest
    );
    assert_eq!(
        served_fingerprint(registry.port()),
        file_fingerprint(&first.chain)
    );

    let second = pki.server_cert(LeafKind::CaSigned);
    assert_ne!(
        second.chain, first.chain,
        "a second leaf gets its own files"
    );
    assert_ne!(
        file_fingerprint(&second.chain),
        file_fingerprint(&first.chain)
    );
    let port = registry.port();
    registry.restart(Some(&second));

    assert_eq!(registry.port(), port);
    assert_eq!(registry.server_cert().unwrap().chain, second.chain);
    assert_eq!(served_fingerprint(port), file_fingerprint(&second.chain));
    assert_eq!(
        skopeo.manifest_digest(&image).unwrap(),
        layout.manifest_digest,
        "the image must survive the restart"
    );
    assert!(
        registry
            .log_text()
            .contains("--- slipway-testkit: registry restarted ---")
    );
}

#[test]
fn a_restart_without_a_certificate_keeps_the_one_served_before() {
    let pki = TestPki::new();
    let cert = pki.server_cert(LeafKind::CaSigned);
    let mut registry = Registry::builder().tls(&cert).start();
    registry.restart(None);
    assert!(registry.is_tls());
    assert_eq!(
        served_fingerprint(registry.port()),
        file_fingerprint(&cert.chain)
    );
}

#[test]
fn skopeo_without_the_test_ca_fails_with_an_x509_error() {
    let pki = TestPki::new();
    let registry = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    let work = tempfile::tempdir().unwrap();
    let layout = oci_layout(&work.path().join("layout"), "v1", FILES);
    let image = format!("docker://{}/app:1", registry.host());

    let err = Skopeo::new()
        .copy(&layout.reference(), &image)
        .expect_err("an unknown CA must be refused");
    assert!(!err.status.success());
    assert!(err.stderr.contains("x509"), "{err}");
    assert!(err.to_string().contains("skopeo copy"), "{err}");

    let err = Skopeo::new()
        .inspect(&image)
        .expect_err("an unknown CA must be refused");
    assert!(err.stderr.contains("x509"), "{err}");
}

#[test]
fn skopeo_logs_in_to_a_registry_with_basic_auth_only_with_credentials() {
    let pki = TestPki::new();
    let registry = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .basic_auth("alice", "s3cret")
        .start();
    let work = tempfile::tempdir().unwrap();
    let layout = oci_layout(&work.path().join("layout"), "v1", FILES);
    let certs = cert_dir(&work.path().join("certs"), &[pki.ca()], None);
    let image = format!("docker://{}/app:1", registry.host());

    let err = Skopeo::new()
        .cert_dir(&certs)
        .copy(&layout.reference(), &image)
        .expect_err("anonymous push must be refused");
    assert!(err.stderr.contains("authentication required"), "{err}");

    let err = Skopeo::new()
        .cert_dir(&certs)
        .creds("alice", "wrong")
        .copy(&layout.reference(), &image)
        .expect_err("a wrong password must be refused");
    assert!(!err.to_string().contains("wrong"), "password shown: {err}");

    let skopeo = Skopeo::new().cert_dir(&certs).creds("alice", "s3cret");
    skopeo.copy(&layout.reference(), &image).unwrap();
    assert_eq!(
        skopeo.manifest_digest(&image).unwrap(),
        layout.manifest_digest
    );
}

#[test]
fn skopeo_pushes_to_a_plain_http_registry_only_when_told() {
    let registry = Registry::builder().start();
    let work = tempfile::tempdir().unwrap();
    let layout = oci_layout(&work.path().join("layout"), "v1", FILES);
    let image = format!("docker://{}/app:1", registry.host());

    let err = Skopeo::new()
        .copy(&layout.reference(), &image)
        .expect_err("HTTPS to a plain HTTP port must fail");
    assert!(
        err.stderr
            .contains("http: server gave HTTP response to HTTPS client"),
        "{err}"
    );

    let skopeo = Skopeo::new().plain_http();
    skopeo.copy(&layout.reference(), &image).unwrap();
    assert_eq!(
        skopeo.manifest_digest(&image).unwrap(),
        layout.manifest_digest
    );
}

#[test]
fn an_oci_layout_is_reproducible_and_its_blobs_match_their_digests() {
    let work = tempfile::tempdir().unwrap();
    let a = oci_layout(&work.path().join("a"), "v1", FILES);
    let b = oci_layout(&work.path().join("b"), "v1", FILES);
    assert_eq!(a.manifest_digest, b.manifest_digest);
    for digest in [&a.manifest_digest, &a.config_digest, &a.layer_digest] {
        let hex = digest.strip_prefix("sha256:").unwrap();
        let blob = std::fs::read(a.dir.join("blobs/sha256").join(hex)).unwrap();
        assert_eq!(&sha256_digest(&blob), digest);
    }
    let index = std::fs::read_to_string(a.dir.join("index.json")).unwrap();
    assert!(
        index.contains("\"org.opencontainers.image.ref.name\":\"v1\""),
        "{index}"
    );
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(
            a.dir
                .join("blobs/sha256")
                .join(a.layer_digest.strip_prefix("sha256:").unwrap()),
        )
        .output()
        .expect("tar");
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("usr/local/bin/app"), "{listing}");
    assert!(!listing.contains("./"), "{listing}");

    // skopeo reads the layout back: the same manifest digest as written.
    let digest = Skopeo::new().manifest_digest(&a.reference()).unwrap();
    assert_eq!(digest, a.manifest_digest);
}
