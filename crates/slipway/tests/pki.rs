//! `slipway pki`: certificates it issues are accepted by independent clients (openssl, and
//! the real registry serving them to slipway's probe), constraints hold, renewal keeps
//! names, bad input changes nothing.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Run, assert_stderr_has, openssl, slipway, snapshot};
use slipway_testkit::{Registry, ServerCert, Skopeo, cert_dir, oci_layout};

fn pki(dir: &Path, args: &[&str]) -> Run {
    let mut a = vec!["--output", "json", "pki"];
    a.extend_from_slice(args);
    slipway(dir, &a, &[])
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn init(dir: &Path, extra: &[&str]) -> Run {
    let mut a = vec!["init", "--dir", s(dir)];
    a.extend_from_slice(extra);
    let r = pki(dir, &a);
    assert_eq!(r.code, 0, "pki init failed: {}", r.stderr);
    r
}

fn issue(dir: &Path, names: &[&str], out: &str) -> Run {
    let prefix = dir.join(out);
    let mut a = vec!["issue", "--dir", s(dir), "--out", s(&prefix)];
    for n in names {
        a.push(if n.parse::<std::net::IpAddr>().is_ok() {
            "--ip"
        } else {
            "--dns"
        });
        a.push(n);
    }
    pki(dir, &a)
}

fn served(dir: &Path, prefix: &str) -> ServerCert {
    ServerCert {
        chain: dir.join(format!("{prefix}.fullchain.pem")),
        key: dir.join(format!("{prefix}.key")),
        trust: dir.join("bundle.pem"),
    }
}

#[test]
fn init_writes_a_p256_ca_with_path_length_one_critical_key_usage_and_a_0600_key() {
    let d = tempfile::tempdir().unwrap();
    let r = init(
        d.path(),
        &["--permit-dns", "corp.test", "--permit-ip", "10.0.0.0/8"],
    );
    assert_eq!(r.json["certificate"]["path_len"], 1);
    assert_eq!(r.json["certificate"]["key"], "ECDSA 256-bit");
    let mode = std::fs::metadata(d.path().join("ca.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let (ok, text) = openssl(
        &[
            "x509",
            "-noout",
            "-text",
            "-in",
            s(&d.path().join("ca.crt")),
        ],
        None,
    );
    assert!(ok);
    for needle in [
        "CA:TRUE, pathlen:1",
        "X509v3 Key Usage: critical",
        "Certificate Sign",
        "Permitted:",
        "DNS:corp.test",
        "IP:10.0.0.0/255.0.0.0",
        "prime256v1",
    ] {
        assert!(text.contains(needle), "{needle} missing in:\n{text}");
    }
    assert_eq!(
        std::fs::read(d.path().join("bundle.pem")).unwrap(),
        std::fs::read(d.path().join("ca.crt")).unwrap()
    );
}

#[test]
fn init_says_that_dns_constraints_alone_leave_ips_open() {
    let d = tempfile::tempdir().unwrap();
    let r = init(d.path(), &["--permit-dns", "corp.test"]);
    assert_stderr_has(&r, &["ANY IP address", "--permit-ip"]);
}

#[test]
fn init_with_rsa_makes_an_rsa_ca() {
    let d = tempfile::tempdir().unwrap();
    let r = init(d.path(), &["--key", "rsa", "--validity", "1y"]);
    assert_eq!(r.json["certificate"]["key"], "RSA 2048");
}

#[test]
fn init_never_overwrites_an_existing_ca() {
    let d = tempfile::tempdir().unwrap();
    init(d.path(), &[]);
    let before = snapshot(d.path());
    let r = pki(d.path(), &["init", "--dir", s(d.path())]);
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["already exists", "never overwrites"]);
    assert_eq!(snapshot(d.path()), before);
}

#[test]
fn issue_never_replaces_a_certificate_and_key_without_force_and_then_keeps_backups() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    init(dir, &[]);
    assert_eq!(issue(dir, &["registry.test"], "registry").code, 0);
    let names = [
        "registry.crt",
        "registry.key",
        "registry.chain.pem",
        "registry.fullchain.pem",
    ];
    let before: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect();

    // A second issue to the same prefix changes nothing and says how to replace.
    let again = issue(dir, &["registry.test"], "registry");
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("registry.crt already exists") && again.stderr.contains("--force"),
        "{}",
        again.stderr
    );
    for (n, old) in names.iter().zip(&before) {
        assert_eq!(&std::fs::read(dir.join(n)).unwrap(), old, "{n} changed");
    }

    // --force replaces them, keeping each old file beside it, a key's backup 0600 too.
    let forced = pki(
        dir,
        &[
            "issue",
            "--dir",
            s(dir),
            "--out",
            s(&dir.join("registry")),
            "--dns",
            "registry.test",
            "--force",
        ],
    );
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_ne!(std::fs::read(dir.join("registry.key")).unwrap(), before[1]);
    for (n, old) in names.iter().zip(&before) {
        let backups: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{n}.bak-"))
            })
            .collect();
        assert_eq!(backups.len(), 1, "{n}: {backups:?}");
        assert_eq!(&std::fs::read(&backups[0]).unwrap(), old, "{n}'s backup");
        if n.ends_with(".key") {
            let mode = std::fs::metadata(&backups[0]).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the key's backup is 0600");
        }
    }
}

#[test]
fn issued_leaf_verifies_with_openssl_and_a_real_registry_serves_it_to_openssl_and_slipway() {
    let d = tempfile::tempdir().unwrap();
    init(
        d.path(),
        &["--permit-dns", "localhost", "--permit-ip", "127.0.0.0/8"],
    );
    let r = issue(d.path(), &["localhost", "127.0.0.1"], "registry");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.json["certificate"]["sans"],
        serde_json::json!(["DNS:localhost", "IP:127.0.0.1"])
    );
    assert_eq!(
        r.json["certificate"]["extended_key_usage"],
        serde_json::json!(["serverAuth"])
    );
    let key_mode = std::fs::metadata(d.path().join("registry.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(key_mode, 0o600);
    let days = r.json["certificate"]["days_left"].as_i64().unwrap();
    assert!(
        (395..=397).contains(&days),
        "default validity is 397 days, got {days}"
    );

    let ca = d.path().join("ca.crt");
    let (ok, out) = openssl(
        &[
            "verify",
            "-x509_strict",
            "-purpose",
            "sslserver",
            "-CAfile",
            s(&ca),
            s(&d.path().join("registry.crt")),
        ],
        None,
    );
    assert!(ok, "{out}");

    let reg = Registry::builder()
        .tls(&served(d.path(), "registry"))
        .start();
    let connect = format!("127.0.0.1:{}", reg.port());
    let (ok, out) = openssl(
        &[
            "s_client",
            "-connect",
            &connect,
            "-servername",
            "localhost",
            "-verify_hostname",
            "localhost",
            "-verify_return_error",
            "-CAfile",
            s(&ca),
        ],
        Some(b""),
    );
    assert!(ok && out.contains("Verify return code: 0 (ok)"), "{out}");

    let flag = format!(
        "--registry-ca={}={}",
        reg.host(),
        s(&d.path().join("bundle.pem"))
    );
    let r = slipway(
        d.path(),
        &["--output", "json", &flag, "registry", "probe", &reg.host()],
        &[],
    );
    assert_eq!(r.json["verdict"], "ok", "{}", r.stdout);
    assert_eq!(
        r.json["chain"].as_array().unwrap().len(),
        2,
        "fullchain serves leaf + CA"
    );

    // skopeo (Go, like containerd and Docker) pushes and reads back through the same trust.
    let certs = cert_dir(&d.path().join("skopeo-certs"), &[&ca], None);
    let layout = oci_layout(&d.path().join("layout"), "v1", &[("hello.txt", b"hello\n")]);
    let skopeo = Skopeo::new().cert_dir(&certs);
    let image = format!("docker://{}/app:1", reg.host());
    skopeo.copy(&layout.reference(), &image).unwrap();
    assert_eq!(
        skopeo.manifest_digest(&image).unwrap(),
        layout.manifest_digest
    );
}

#[test]
fn issuing_outside_the_constraints_is_refused_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    init(
        d.path(),
        &["--permit-dns", "corp.test", "--permit-ip", "10.0.0.0/8"],
    );
    let before = snapshot(d.path());
    for names in [
        &["evil.example"][..],
        &["registry.corp.test", "192.168.1.1"][..],
        &["notcorp.test"][..],
    ] {
        let r = issue(d.path(), names, "registry");
        assert_eq!(r.code, 2, "{names:?} must be refused");
        assert_stderr_has(&r, &["outside the name constraints"]);
    }
    assert_eq!(snapshot(d.path()), before);
    let r = issue(d.path(), &["registry.corp.test", "10.1.2.3"], "registry");
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_hand_made_leaf_outside_the_constraints_is_rejected_by_verifiers() {
    let d = tempfile::tempdir().unwrap();
    init(d.path(), &["--permit-dns", "corp.test"]);
    // Sign a leaf for `localhost` with the CA key, bypassing slipway's check, as an
    // attacker holding the key (or a careless operator with openssl) would.
    let p = d.path();
    let (ok, out) = openssl(
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            s(&p.join("evil.key")),
            "-out",
            s(&p.join("evil.csr")),
        ],
        None,
    );
    assert!(ok, "{out}");
    let (ok, out) = openssl(
        &[
            "x509",
            "-req",
            "-in",
            s(&p.join("evil.csr")),
            "-CA",
            s(&p.join("ca.crt")),
            "-CAkey",
            s(&p.join("ca.key")),
            "-copy_extensions",
            "copyall",
            "-days",
            "30",
            "-out",
            s(&p.join("evil.crt")),
        ],
        None,
    );
    assert!(ok, "{out}");
    // openssl enforces the constraint ...
    let (ok, out) = openssl(
        &[
            "verify",
            "-CAfile",
            s(&p.join("ca.crt")),
            s(&p.join("evil.crt")),
        ],
        None,
    );
    assert!(!ok && out.contains("permitted subtree violation"), "{out}");
    // ... and so does slipway's probe against a real registry serving it.
    std::fs::write(
        p.join("evil.fullchain.pem"),
        [
            std::fs::read(p.join("evil.crt")).unwrap(),
            std::fs::read(p.join("ca.crt")).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let reg = Registry::builder().tls(&served(p, "evil")).start();
    let flag = format!("--registry-ca={}={}", reg.host(), s(&p.join("ca.crt")));
    let r = slipway(
        p,
        &["--output", "json", &flag, "registry", "probe", &reg.host()],
        &[],
    );
    assert_ne!(r.json["verdict"], "ok", "{}", r.stdout);
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .contains("name constraints"),
        "{}",
        r.stdout
    );
    // ... and so does the Go client.
    let certs = cert_dir(&p.join("skopeo-certs"), &[&p.join("ca.crt")], None);
    let err = Skopeo::new()
        .cert_dir(&certs)
        .inspect(&format!("docker://{}/app:1", reg.host()))
        .unwrap_err();
    assert!(
        err.stderr.contains("not authorized to sign for this name"),
        "{}",
        err.stderr
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    init(p, &[]);
    // Wrong --dir.
    let r = issue(&p.join("nope"), &["localhost"], "x");
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["nope"]);
    // Invalid IP and CIDR.
    let before = snapshot(p);
    let r = issue(p, &["localhost", "300.1.1.1"], "registry");
    assert_eq!(r.code, 2);
    let r = pki(
        p,
        &[
            "issue",
            "--dir",
            s(p),
            "--ip",
            "300.1.1.1",
            "--out",
            s(&p.join("registry")),
        ],
    );
    assert_stderr_has(&r, &["invalid IP address `300.1.1.1`"]);
    let other = tempfile::tempdir().unwrap();
    let r = pki(
        other.path(),
        &[
            "init",
            "--dir",
            s(other.path()),
            "--permit-ip",
            "10.0.0.0/40",
        ],
    );
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["invalid CIDR `10.0.0.0/40`"]);
    assert!(
        snapshot(other.path()).is_empty(),
        "a refused init writes nothing"
    );
    // No names at all.
    let r = pki(
        p,
        &["issue", "--dir", s(p), "--out", s(&p.join("registry"))],
    );
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["--dns", "SANs"]);
    assert_eq!(snapshot(p), before);

    // Corrupt key.
    let key = std::fs::read(p.join("ca.key")).unwrap();
    std::fs::write(
        p.join("ca.key"),
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let before = snapshot(p);
    let r = issue(p, &["localhost"], "registry");
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["ca.key", "not a usable private key"]);
    assert_eq!(snapshot(p), before);

    // A key that does not match the certificate.
    let stranger = tempfile::tempdir().unwrap();
    init(stranger.path(), &[]);
    std::fs::copy(stranger.path().join("ca.key"), p.join("ca.key")).unwrap();
    let before = snapshot(p);
    let r = issue(p, &["localhost"], "registry");
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["does not match"]);
    assert_eq!(snapshot(p), before);
    std::fs::write(p.join("ca.key"), key).unwrap();
}

#[test]
fn an_expired_ca_refuses_to_issue() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(1));
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(800);
    params.not_after = now - time::Duration::days(1);
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(p.join("ca.crt"), cert.pem()).unwrap();
    std::fs::write(p.join("ca.key"), key.serialize_pem()).unwrap();
    let before = snapshot(p);
    let r = issue(p, &["localhost"], "registry");
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["ca.crt", "expired"]);
    assert_eq!(snapshot(p), before);
}

#[test]
fn inspect_reports_files_and_served_chains_and_warns_before_expiry() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    init(p, &["--permit-dns", "localhost"]);
    assert_eq!(issue(p, &["localhost", "127.0.0.1"], "registry").code, 0);
    let r = pki(p, &["inspect", s(&p.join("registry.fullchain.pem"))]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let certs = r.json["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[1]["permitted"], serde_json::json!(["DNS:localhost"]));
    assert_eq!(certs[0]["is_ca"], false);

    let r = pki(
        p,
        &[
            "inspect",
            s(&p.join("registry.crt")),
            "--warn-within",
            "30d",
        ],
    );
    assert_eq!(r.code, 0, "397 days left is not within 30 days");
    let r = pki(
        p,
        &[
            "inspect",
            s(&p.join("registry.crt")),
            "--warn-within",
            "400d",
        ],
    );
    assert_eq!(r.code, 1, "397 days left is within 400 days");
    assert_eq!(r.json["expiring"], serde_json::json!(["CN=localhost"]));

    let reg = Registry::builder().tls(&served(p, "registry")).start();
    let r = pki(p, &["inspect", "--remote", &reg.host()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.json["certificates"][0]["sans"],
        serde_json::json!(["DNS:localhost", "IP:127.0.0.1"])
    );
    assert_eq!(
        r.json["certificates"][1]["subject"],
        "CN=slipway registry CA"
    );
}

#[test]
fn renew_waits_for_two_thirds_of_the_lifetime_unless_forced_and_keeps_the_names() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    init(p, &[]);
    assert_eq!(issue(p, &["registry.test", "10.0.0.5"], "registry").code, 0);
    let before = snapshot(p);
    let prefix = p.join("registry");
    let r = pki(p, &["renew", "--dir", s(p), "--leaf", s(&prefix)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["renewed"], false);
    assert_eq!(
        snapshot(p),
        before,
        "a renewal that is not due writes nothing"
    );

    let r = pki(
        p,
        &["renew", "--dir", s(p), "--leaf", s(&prefix), "--force"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["renewed"], true);
    let new = &r.json["issued"]["certificate"];
    assert_ne!(new["serial"], r.json["old_serial"]);
    assert_eq!(
        new["sans"],
        serde_json::json!(["DNS:registry.test", "IP:10.0.0.5"])
    );
    let (ok, out) = openssl(
        &[
            "verify",
            "-CAfile",
            s(&p.join("ca.crt")),
            s(&p.join("registry.crt")),
        ],
        None,
    );
    assert!(ok, "{out}");
}

fn rotate(p: &Path, args: &[&str]) -> Run {
    let mut a = vec!["rotate", "--dir", s(p)];
    a.extend_from_slice(args);
    pki(p, &a)
}

fn stage(p: &Path) -> String {
    rotate(p, &["--status"]).json["stage"]
        .as_str()
        .unwrap()
        .to_string()
}

fn bundle_subjects(p: &Path) -> Vec<String> {
    let r = pki(p, &["inspect", s(&p.join("bundle.pem"))]);
    r.json["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn rotation_goes_prepare_switch_retire_reading_its_stage_from_the_certificates() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    init(p, &["--permit-dns", "localhost"]);
    assert_eq!(issue(p, &["localhost"], "registry").code, 0);
    std::fs::copy(p.join("ca.crt"), p.join("node-has-old.crt")).unwrap();
    let leaf = p.join("registry");
    assert_eq!(stage(p), "idle");

    // prepare (the next stage when none is named)
    let r = rotate(p, &["--registry", "registry.test:5000"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        (r.json["was"].as_str(), r.json["now"].as_str()),
        (Some("idle"), Some("prepared"))
    );
    assert!(
        r.json["distribute_to_nodes"]
            .to_string()
            .contains("slipway node trust install --registry registry.test:5000 --ca")
    );
    assert_eq!(bundle_subjects(p).len(), 2);
    assert_eq!(stage(p), "prepared");

    // switch refuses until node trust is confirmed or checked
    let before = snapshot(p);
    let r = rotate(p, &["switch", "--leaf", s(&leaf)]);
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["refusing to switch", "bundle.pem"]);
    let r = rotate(
        p,
        &[
            "switch",
            "--leaf",
            s(&leaf),
            "--nodes-trust",
            s(&p.join("node-has-old.crt")),
        ],
    );
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["does not contain the new CA"]);
    assert_eq!(snapshot(p), before, "refused switches write nothing");

    let r = rotate(
        p,
        &[
            "switch",
            "--leaf",
            s(&leaf),
            "--nodes-trust",
            s(&p.join("bundle.pem")),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.json["registry"]
            .to_string()
            .contains("registry.fullchain.pem"),
        "{}",
        r.stdout
    );
    assert_eq!(stage(p), "switched");
    let leaf_issuer =
        pki(p, &["inspect", s(&p.join("registry.crt"))]).json["certificates"][0]["issuer"]
            .as_str()
            .unwrap()
            .to_string();
    assert!(
        leaf_issuer.contains("rotated"),
        "the leaf must come from the new CA: {leaf_issuer}"
    );
    let (ok, out) = openssl(
        &[
            "verify",
            "-CAfile",
            s(&p.join("bundle.pem")),
            s(&p.join("registry.crt")),
        ],
        None,
    );
    assert!(ok, "{out}");
    let (ok, _) = openssl(
        &[
            "verify",
            "-CAfile",
            s(&p.join("node-has-old.crt")),
            s(&p.join("registry.crt")),
        ],
        None,
    );
    assert!(!ok, "the old CA alone no longer verifies the new leaf");

    // retire
    let r = rotate(p, &["retire", "--leaf", s(&leaf)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(stage(p), "idle");
    let subjects = bundle_subjects(p);
    assert_eq!(subjects.len(), 1);
    assert!(subjects[0].contains("rotated"));
    assert!(!p.join("ca-old.key").exists(), "the old CA key is deleted");
    assert_eq!(std::fs::read_dir(p.join("retired")).unwrap().count(), 1);
    let r = rotate(p, &["retire"]);
    assert_eq!(r.code, 2, "retire twice is refused");
    assert_stderr_has(
        &r,
        &[
            "cannot retire now",
            "at stage `idle`, which needs `prepare` next (this step needs stage `switched`)",
        ],
    );
}

#[test]
fn an_interrupted_switch_is_finished_from_what_is_on_disk() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    init(p, &[]);
    assert_eq!(rotate(p, &["prepare"]).code, 0);
    let new_ca = std::fs::read(p.join("ca-new.crt")).unwrap();
    // The process died after moving the old CA aside, before promoting the new one.
    std::fs::rename(p.join("ca.crt"), p.join("ca-old.crt")).unwrap();
    std::fs::rename(p.join("ca.key"), p.join("ca-old.key")).unwrap();
    assert_eq!(stage(p), "switched");
    assert_eq!(std::fs::read(p.join("ca.crt")).unwrap(), new_ca);
    assert!(!p.join("ca-new.crt").exists());
}

/// Writes `from` over `to` atomically, as `node trust install` will on a node.
fn distribute(from: &Path, to: &Path) {
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

#[test]
fn rotating_the_ca_under_a_live_registry_fails_no_pull() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_path_buf();
    init(
        &p,
        &["--permit-dns", "localhost", "--permit-ip", "127.0.0.0/8"],
    );
    assert_eq!(issue(&p, &["localhost", "127.0.0.1"], "registry").code, 0);
    let mut reg = Registry::builder().tls(&served(&p, "registry")).start();
    let image = format!("docker://{}/app:1", reg.host());

    // The "node": a Go client whose trust is whatever file the operator distributed.
    let node = cert_dir(&p.join("node"), &[&p.join("bundle.pem")], None);
    let node_ca = node.join("ca.crt");
    let layout = oci_layout(&p.join("layout"), "v1", &[("hello.txt", b"hello\n")]);
    Skopeo::new()
        .cert_dir(&node)
        .copy(&layout.reference(), &image)
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let pulls = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let puller = {
        let (stop, pulls, failures, node, image, out) = (
            stop.clone(),
            pulls.clone(),
            failures.clone(),
            node.clone(),
            image.clone(),
            p.join("pulled"),
        );
        std::fs::create_dir_all(&out).unwrap();
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                // Like the kubelet, retry connection errors; a certificate error would stay.
                let dest = format!("dir:{}", out.join(i.to_string()).display());
                if let Err(e) = Skopeo::new()
                    .cert_dir(&node)
                    .retry_times(3)
                    .copy(&image, &dest)
                {
                    failures.lock().unwrap().push(e.stderr);
                }
                pulls.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let wait_for_pulls = |n: usize| {
        let target = pulls.load(Ordering::SeqCst) + n;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while pulls.load(Ordering::SeqCst) < target {
            assert!(
                std::time::Instant::now() < deadline,
                "the pull loop stalled"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };

    wait_for_pulls(2);
    let r = rotate(&p, &["prepare"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    distribute(&p.join("bundle.pem"), &node_ca);
    wait_for_pulls(2);

    let r = rotate(
        &p,
        &[
            "switch",
            "--leaf",
            s(&p.join("registry")),
            "--nodes-trust",
            s(&node_ca),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    reg.restart(Some(&served(&p, "registry")));
    wait_for_pulls(3);

    let r = rotate(&p, &["retire", "--leaf", s(&p.join("registry"))]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    distribute(&p.join("bundle.pem"), &node_ca);
    wait_for_pulls(2);
    stop.store(true, Ordering::SeqCst);
    puller.join().unwrap();

    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} pulls failed: {:#?}",
        failures.len(),
        pulls.load(Ordering::SeqCst),
        *failures
    );
    // The registry now serves a leaf of the new CA: the old CA alone no longer works.
    let retired = std::fs::read_dir(p.join("retired"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let old_only = cert_dir(&p.join("old-only"), &[&retired], None);
    let err = Skopeo::new()
        .cert_dir(&old_only)
        .inspect(&image)
        .unwrap_err();
    assert!(err.stderr.contains("x509"), "{}", err.stderr);
}
