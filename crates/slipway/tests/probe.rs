//! `slipway registry probe` against the real Docker Distribution registry, through every
//! certificate kind and trust source. Each failing case is run again with the trust source
//! that fixes it, and must turn `ok` where a fix exists.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use slipway_testkit::{LeafKind, Registry, SilentServer, TestPki, free_port};

mod common;

use common::{Run, assert_stderr_has};

/// Runs slipway with `--output json` and a clean environment; see [`common::slipway`].
fn slipway(certs_d: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut a = vec!["--output", "json"];
    a.extend_from_slice(args);
    common::slipway(certs_d, &a, env)
}

fn probe(certs_d: &Path, host: &str, flags: &[&str]) -> Run {
    probe_env(certs_d, host, flags, &[])
}

fn probe_env(certs_d: &Path, host: &str, flags: &[&str], env: &[(&str, &str)]) -> Run {
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(["registry", "probe", host, "--timeout", "5s"]);
    slipway(certs_d, &args, env)
}

fn verdict(r: &Run) -> &str {
    r.json["verdict"]
        .as_str()
        .unwrap_or_else(|| panic!("no verdict in output; stderr: {}", r.stderr))
}

fn assert_verdict(r: &Run, expected: &str) {
    assert_eq!(
        verdict(r),
        expected,
        "json: {:#}\nstderr: {}",
        r.json,
        r.stderr
    );
    assert_eq!(
        r.code,
        if expected == "ok" { 0 } else { 1 },
        "exit code for {expected}"
    );
}

fn ca_flag(host: &str, file: &Path) -> String {
    format!("--registry-ca={host}={}", file.display())
}

fn empty_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn ca_signed_leaf_is_unknown_authority_until_its_ca_is_trusted() {
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    let d = empty_dir();
    let host = reg.host();
    let r = probe(d.path(), &host, &[]);
    assert_verdict(&r, "unknown-authority");
    assert_eq!(r.json["chain"][0]["issuer"], "CN=slipway test CA");
    // The fixes are data: the CA to get (from the issuer the chain names), the flag that
    // passes it, and the node command.
    let fixes = &r.json["fixes"];
    assert_eq!(
        fixes["build_machine"][0]["kind"], "get-ca-certificate",
        "{fixes}"
    );
    assert_eq!(fixes["build_machine"][0]["issuer"], "CN=slipway test CA");
    assert_eq!(fixes["build_machine"][1]["kind"], "flag", "{fixes}");
    assert_eq!(fixes["build_machine"][1]["flag"], "--registry-ca");
    assert_eq!(
        fixes["build_machine"][1]["value"],
        format!(
            "{host}={}",
            fixes["build_machine"][0]["file"].as_str().unwrap()
        )
    );
    assert_eq!(fixes["nodes"][0]["kind"], "run", "{fixes}");
    assert!(
        fixes["nodes"][0]["command"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "slipway node trust install --registry {host} --ca"
            ))
    );

    let r = probe(d.path(), &host, &[&ca_flag(&host, pki.ca())]);
    assert_verdict(&r, "ok");
    assert_eq!(r.json["tls"]["verification"], "verified");
    assert_eq!(r.json["api"]["status"], 200);
    assert_eq!(r.json["api"]["api_version"], "registry/2.0");
    let sources = r.json["trust_sources"].as_array().unwrap();
    assert!(
        sources
            .iter()
            .any(|s| s["kind"] == "flag" && s["role"] == "ca" && s["via"] == "--registry-ca"),
        "{sources:?}"
    );
}

#[test]
fn report_has_the_documented_json_keys() {
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    let d = empty_dir();
    let r = probe(d.path(), &reg.host(), &[&ca_flag(&reg.host(), pki.ca())]);
    for key in [
        "registry",
        "verdict",
        "chain",
        "trust_sources",
        "api",
        "fixes",
    ] {
        assert!(r.json.get(key).is_some(), "missing {key}: {:#}", r.json);
    }
    let leaf = &r.json["chain"][0];
    for key in [
        "subject",
        "issuer",
        "sans",
        "not_before",
        "not_after",
        "is_ca",
        "sha256",
    ] {
        assert!(leaf.get(key).is_some(), "chain[0] misses {key}");
    }
    assert_eq!(
        leaf["sans"],
        serde_json::json!(["DNS:localhost", "IP:127.0.0.1"])
    );
    assert_eq!(leaf["is_ca"], false);
}

#[test]
fn openssl_self_signed_leaf_is_pinned_for_its_host_only() {
    let pki = TestPki::new();
    let cert = pki.server_cert(LeafKind::SelfSignedOpenssl);
    let reg = Registry::builder().tls(&cert).start();
    let d = empty_dir();
    let host = reg.host();
    let r = probe(d.path(), &host, &[]);
    assert_verdict(&r, "unknown-authority");
    assert_eq!(
        r.json["chain"][0]["is_ca"], true,
        "openssl req -x509 marks the leaf CA:TRUE"
    );

    let r = probe(d.path(), &host, &[&ca_flag(&host, &cert.trust)]);
    assert_verdict(&r, "ok");
    assert_eq!(r.json["tls"]["verification"], "pinned");

    // The same registry reached as 127.0.0.1: the pin was given for localhost:PORT only.
    let by_ip = format!("127.0.0.1:{}", reg.port());
    let r = probe(d.path(), &by_ip, &[&ca_flag(&host, &cert.trust)]);
    assert_verdict(&r, "unknown-authority");
    let r = probe(d.path(), &by_ip, &[&ca_flag(&by_ip, &cert.trust)]);
    assert_verdict(&r, "ok");
}

#[test]
fn expired_leaf_stays_expired_with_its_ca_and_only_skip_verify_hides_it() {
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::Expired))
        .start();
    let d = empty_dir();
    let host = reg.host();
    let r = probe(d.path(), &host, &[&ca_flag(&host, pki.ca())]);
    assert_verdict(&r, "expired");
    assert!(r.json["chain"][0]["days_left"].as_i64().unwrap() < 0);
    assert!(
        r.json["fixes"]["build_machine"][0]["command"]
            .as_str()
            .is_some_and(|c| c.starts_with("slipway pki renew")),
        "{}",
        r.json["fixes"]
    );

    let r = probe(d.path(), &host, &["--registry-skip-verify", &host]);
    assert_verdict(&r, "ok");
    assert_eq!(r.json["tls"]["verification"], "skipped");
    assert_stderr_has(
        &r,
        &[&format!(
            "certificate verification is OFF for registry {host}"
        )],
    );
}

#[test]
fn not_yet_valid_leaf_is_named() {
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::NotYetValid))
        .start();
    let d = empty_dir();
    let r = probe(d.path(), &reg.host(), &[&ca_flag(&reg.host(), pki.ca())]);
    assert_verdict(&r, "not-yet-valid");
}

#[test]
fn wrong_host_leaf_is_hostname_mismatch_and_names_the_certificate_names() {
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::WrongHost))
        .start();
    let d = empty_dir();
    let r = probe(d.path(), &reg.host(), &[&ca_flag(&reg.host(), pki.ca())]);
    assert_verdict(&r, "hostname-mismatch");
    assert!(
        r.json["fixes"]["build_machine"]
            .to_string()
            .contains("wrong.example")
    );
    // Without the CA, rustls reports the issuer first; the name problem is still listed.
    let r = probe(d.path(), &reg.host(), &[]);
    assert_verdict(&r, "unknown-authority");
    assert!(
        r.json["findings"].to_string().contains("hostname-mismatch"),
        "{:#}",
        r.json["findings"]
    );
}

/// Runs openssl in `dir` and returns its stdout; it must succeed.
fn openssl_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A client key encrypted with a passphrase (PKCS#8 or the traditional `Proc-Type` form)
/// is refused with exit 2, saying it is encrypted.
#[test]
fn an_encrypted_client_key_is_named_as_encrypted() {
    let d = empty_dir();
    let dir = d.path();
    let openssl = |args: &[&str]| openssl_in(dir, args);
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-aes256",
        "-pass",
        "pass:pw",
        "-out",
        "pkcs8.key",
    ]);
    openssl(&[
        "req",
        "-x509",
        "-key",
        "pkcs8.key",
        "-passin",
        "pass:pw",
        "-out",
        "client.crt",
        "-subj",
        "/CN=client",
        "-days",
        "2",
    ]);
    openssl(&[
        "ec",
        "-in",
        "pkcs8.key",
        "-passin",
        "pass:pw",
        "-aes256",
        "-passout",
        "pass:pw",
        "-out",
        "traditional.key",
    ]);
    for key in ["pkcs8.key", "traditional.key"] {
        let flag = format!(
            "--registry-client-cert=localhost:1={},{}",
            dir.join("client.crt").display(),
            dir.join(key).display()
        );
        let r = probe(dir, "localhost:1", &[&flag]);
        assert_eq!(r.code, 2, "{key}: {}", r.stderr);
        assert_stderr_has(&r, &[key, "encrypted with a passphrase"]);
    }
}

/// An X.509 v1 leaf, as old how-tos make it with `openssl x509 -req` and no extensions,
/// cannot carry a subjectAltName: it is `legacy-common-name`, and its fix re-issues it.
#[test]
fn x509_v1_leaf_is_legacy_common_name() {
    let d = empty_dir();
    let dir = d.path();
    let openssl = |args: &[&str]| openssl_in(dir, args);
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-subj",
                "/CN=v1 CA",
                "-days",
                "2",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req", "-new"][..],
            &ec,
            &[
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    );
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.crt",
        "-days",
        "2",
    ]);
    let text = openssl(&["x509", "-in", "leaf.crt", "-noout", "-text"]);
    assert!(
        text.contains("Version: 1 (0x0)"),
        "not a v1 certificate:\n{text}"
    );
    let reg = Registry::builder()
        .tls(&slipway_testkit::ServerCert {
            chain: dir.join("leaf.crt"),
            key: dir.join("leaf.key"),
            trust: dir.join("ca.crt"),
        })
        .start();
    let host = reg.host();
    let certs_d = empty_dir();
    let r = probe(
        certs_d.path(),
        &host,
        &[&ca_flag(&host, &dir.join("ca.crt"))],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_verdict(&r, "legacy-common-name");
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("X.509 v1"),
        "{:#}",
        r.json
    );
    assert_eq!(
        r.json["fixes"]["build_machine"][0]["command"], "slipway pki issue --dns localhost ...",
        "{:#}",
        r.json["fixes"]
    );
}

#[test]
fn cn_only_leaf_is_legacy_common_name_and_a_proper_leaf_fixes_it() {
    let pki = TestPki::new();
    let d = empty_dir();
    {
        let reg = Registry::builder()
            .tls(&pki.server_cert(LeafKind::CnOnly))
            .start();
        let r = probe(d.path(), &reg.host(), &[&ca_flag(&reg.host(), pki.ca())]);
        assert_verdict(&r, "legacy-common-name");
        assert_eq!(r.json["chain"][0]["sans"], serde_json::json!([]));
        assert!(r.json["fixes"]["nodes"].to_string().contains("Go 1.15"));
    }
    // The fix is a re-issued certificate with SANs, served by a restarted registry.
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    assert_verdict(
        &probe(d.path(), &reg.host(), &[&ca_flag(&reg.host(), pki.ca())]),
        "ok",
    );
}

#[test]
fn leaf_under_an_intermediate_verifies_against_the_root() {
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::WithIntermediate))
        .start();
    let d = empty_dir();
    let r = probe(d.path(), &reg.host(), &[&ca_flag(&reg.host(), pki.ca())]);
    assert_verdict(&r, "ok");
    assert_eq!(r.json["chain"].as_array().unwrap().len(), 2);
    assert_eq!(
        r.json["chain"][1]["subject"],
        "CN=slipway test intermediate"
    );
}

#[test]
fn missing_intermediate_is_unknown_authority_until_the_bundle_holds_it() {
    let pki = TestPki::new();
    let cert = pki.server_cert(LeafKind::MissingIntermediate);
    let reg = Registry::builder().tls(&cert).start();
    let d = empty_dir();
    assert_verdict(
        &probe(d.path(), &reg.host(), &[&ca_flag(&reg.host(), pki.ca())]),
        "unknown-authority",
    );
    assert_verdict(
        &probe(d.path(), &reg.host(), &[&ca_flag(&reg.host(), &cert.trust)]),
        "ok",
    );
}

#[test]
fn plain_http_registry_is_named_and_plain_http_flag_fixes_it() {
    let reg = Registry::builder().start();
    let d = empty_dir();
    let host = reg.host();
    let r = probe(d.path(), &host, &[]);
    assert_verdict(&r, "plain-http");
    assert!(r.json["fixes"]["nodes"].to_string().contains("--insecure"));

    let r = probe(d.path(), &host, &["--registry-plain-http", &host]);
    assert_verdict(&r, "ok");
    assert_eq!(r.json["scheme"], "http");
    assert!(
        r.stderr
            .contains(&format!("registry {host} is reached over plain HTTP")),
        "{}",
        r.stderr
    );
}

#[test]
fn werf_insecure_registry_falls_back_to_http_and_names_the_host() {
    let reg = Registry::builder().start();
    let d = empty_dir();
    let host = reg.host();
    let r = probe(d.path(), &host, &["--insecure-registry"]);
    assert_verdict(&r, "ok");
    assert_eq!(r.json["scheme"], "http");
    assert_stderr_has(&r, &["--insecure-registry", &host]);
    let r = probe_env(d.path(), &host, &[], &[("WERF_INSECURE_REGISTRY", "true")]);
    assert_verdict(&r, "ok");
    let r = probe_env(d.path(), &host, &[], &[("WERF_INSECURE_REGISTRY", "false")]);
    assert_verdict(&r, "plain-http");
}

#[test]
fn plain_http_sent_to_a_tls_port_is_tls_required() {
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    let d = empty_dir();
    let host = reg.host();
    let r = probe(
        d.path(),
        &host,
        &["--registry-plain-http", &host, &ca_flag(&host, pki.ca())],
    );
    assert_verdict(&r, "tls-required");
    // The fix: stop asking for plain HTTP.
    assert_verdict(&probe(d.path(), &host, &[&ca_flag(&host, pki.ca())]), "ok");
}

#[test]
fn mtls_registry_without_client_cert_is_client_cert_required_until_one_is_given() {
    let pki = TestPki::new();
    let client = pki.client_cert();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .client_ca(&client.ca)
        .start();
    let d = empty_dir();
    let host = reg.host();
    let r = probe(d.path(), &host, &[&ca_flag(&host, pki.ca())]);
    assert_verdict(&r, "client-cert-required");
    assert_eq!(r.json["tls"]["client_cert_requested"], true);
    assert!(
        r.json["fixes"]["build_machine"]
            .to_string()
            .contains("--registry-client-cert")
    );

    let pair = format!(
        "--registry-client-cert={host}={},{}",
        client.cert.display(),
        client.key.display()
    );
    let r = probe(d.path(), &host, &[&ca_flag(&host, pki.ca()), &pair]);
    assert_verdict(&r, "ok");
    assert_eq!(r.json["tls"]["client_cert_configured"], true);
}

#[test]
fn client_cert_from_certs_d_satisfies_mtls() {
    let pki = TestPki::new();
    let client = pki.client_cert();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .client_ca(&client.ca)
        .start();
    let d = empty_dir();
    let folder = d.path().join(reg.host());
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(pki.ca(), folder.join("ca.crt")).unwrap();
    std::fs::copy(&client.cert, folder.join("client.cert")).unwrap();
    std::fs::copy(&client.key, folder.join("client.key")).unwrap();
    let r = probe(d.path(), &reg.host(), &[]);
    assert_verdict(&r, "ok");
    let roles: Vec<_> = r.json["trust_sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "certs-d")
        .map(|s| s["role"].clone())
        .collect();
    assert_eq!(roles, vec![Value::from("ca"), Value::from("client-cert")]);
}

#[test]
fn refused_port_is_connection_refused() {
    let d = empty_dir();
    let r = probe(d.path(), &format!("127.0.0.1:{}", free_port()), &[]);
    assert_verdict(&r, "connection-refused");
}

#[test]
fn silent_port_is_timeout() {
    let server = SilentServer::start();
    let d = empty_dir();
    let r = slipway(
        d.path(),
        &["registry", "probe", &server.host(), "--timeout", "300ms"],
        &[],
    );
    assert_verdict(&r, "timeout");
    assert!(server.accepted() >= 1);
}

#[test]
fn basic_auth_registry_reports_its_challenge() {
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .basic_auth("alice", "s3cret")
        .start();
    let d = empty_dir();
    let r = probe(d.path(), &reg.host(), &[&ca_flag(&reg.host(), pki.ca())]);
    assert_verdict(&r, "ok");
    assert_eq!(r.json["api"]["status"], 401);
    assert_eq!(r.json["api"]["auth_scheme"], "Basic");
    assert_eq!(r.json["api"]["realm"], "slipway-test");
}

#[test]
fn each_lower_trust_source_fixes_unknown_authority() {
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    let host = reg.host();

    // certs.d/<host:port>/ca.crt
    let d = empty_dir();
    std::fs::create_dir_all(d.path().join(&host)).unwrap();
    std::fs::copy(pki.ca(), d.path().join(&host).join("ca.crt")).unwrap();
    let r = probe(d.path(), &host, &[]);
    assert_verdict(&r, "ok");
    assert!(r.json["trust_sources"].to_string().contains("certs-d"));

    // registries.yaml, with a path relative to the file.
    let e = empty_dir();
    let cfg_dir = empty_dir();
    std::fs::copy(pki.ca(), cfg_dir.path().join("ca.crt")).unwrap();
    let cfg = cfg_dir.path().join("registries.yaml");
    std::fs::write(
        &cfg,
        format!("configs:\n  \"{host}\":\n    tls:\n      ca_file: ca.crt\n"),
    )
    .unwrap();
    let r = probe(
        e.path(),
        &host,
        &["--registries-config", cfg.to_str().unwrap()],
    );
    assert_verdict(&r, "ok");
    assert!(
        r.json["trust_sources"]
            .to_string()
            .contains("registries-config")
    );
    let r = probe_env(
        e.path(),
        &host,
        &[],
        &[("SLIPWAY_REGISTRIES_CONFIG", cfg.to_str().unwrap())],
    );
    assert_verdict(&r, "ok");

    // SSL_CERT_FILE replaces the system bundle.
    let r = probe_env(
        e.path(),
        &host,
        &[],
        &[("SSL_CERT_FILE", pki.ca().to_str().unwrap())],
    );
    assert_verdict(&r, "ok");
    assert!(
        r.json["trust_sources"]
            .to_string()
            .contains("ssl-cert-file")
    );

    // SSL_CERT_DIR adds a folder of certificates.
    let r = probe_env(
        e.path(),
        &host,
        &[],
        &[("SSL_CERT_DIR", pki.dir().to_str().unwrap())],
    );
    assert_verdict(&r, "ok");
}

#[test]
fn a_flag_shadows_certs_d_and_says_so() {
    let pki = TestPki::new();
    let other = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    let host = reg.host();
    let d = empty_dir();
    std::fs::create_dir_all(d.path().join(&host)).unwrap();
    std::fs::copy(pki.ca(), d.path().join(&host).join("ca.crt")).unwrap();
    // The flag names the wrong CA: it wins, and the right one in certs.d is reported as shadowed.
    let r = probe(d.path(), &host, &[&ca_flag(&host, other.ca())]);
    assert_verdict(&r, "unknown-authority");
    assert!(
        r.json["notes"].to_string().contains("shadowed"),
        "{:#}",
        r.json["notes"]
    );
}

#[test]
fn werf_skip_tls_verify_registry_warns_naming_the_host() {
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    let d = empty_dir();
    let host = reg.host();
    for (flags, env) in [
        (vec!["--skip-tls-verify-registry"], vec![]),
        (vec![], vec![("WERF_SKIP_TLS_VERIFY_REGISTRY", "true")]),
    ] {
        let r = probe_env(d.path(), &host, &flags, &env);
        assert_verdict(&r, "ok");
        assert_eq!(r.json["tls"]["verification"], "skipped");
        assert_eq!(r.json["tls"]["would_fail"], "unknown-authority");
        assert_stderr_has(&r, &["--skip-tls-verify-registry", &host]);
        // The fix for what skip-verify hides is still printed.
        assert!(
            r.json["fixes"]["build_machine"]
                .to_string()
                .contains("--registry-ca")
        );
    }
}

#[test]
fn config_insecure_skip_verify_is_announced() {
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    let d = empty_dir();
    let cfg = d.path().join("registries.yaml");
    std::fs::write(
        &cfg,
        format!(
            "configs:\n  \"{}\":\n    tls:\n      insecure_skip_verify: true\n",
            reg.host()
        ),
    )
    .unwrap();
    let r = probe(
        d.path(),
        &reg.host(),
        &["--registries-config", cfg.to_str().unwrap()],
    );
    assert_verdict(&r, "ok");
    assert_stderr_has(
        &r,
        &["certificate verification is OFF", "insecure_skip_verify"],
    );
}

// ---- bad input: clear errors naming file and host, exit 2, no probe ----

fn bad_input(args: &[&str]) -> Run {
    let d = empty_dir();
    let mut a = args.to_vec();
    a.extend(["registry", "probe", "registry.test:5000"]);
    let r = slipway(d.path(), &a, &[]);
    assert_eq!(r.code, 2, "bad input must exit 2; stderr: {}", r.stderr);
    assert!(
        r.json.get("verdict").is_none(),
        "no probe may run on bad input"
    );
    r
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn malformed_pem_ca_is_refused_naming_file_and_host() {
    let d = empty_dir();
    let f = write_file(
        d.path(),
        "bad.crt",
        b"-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n",
    );
    let r = bad_input(&[&ca_flag("registry.test:5000", &f)]);
    assert_stderr_has(&r, &["bad.crt", "registry.test:5000", "not valid PEM"]);
}

#[test]
fn der_given_as_pem_is_refused_with_a_conversion_hint() {
    let pki = TestPki::new();
    let d = empty_dir();
    let der = Command::new("openssl")
        .args(["x509", "-outform", "der", "-in"])
        .arg(pki.ca())
        .output()
        .unwrap()
        .stdout;
    let f = write_file(d.path(), "ca.der", &der);
    let r = bad_input(&[&ca_flag("registry.test:5000", &f)]);
    assert_stderr_has(&r, &["ca.der", "DER", "openssl x509 -inform der"]);
}

#[test]
fn empty_ca_file_is_refused() {
    let d = empty_dir();
    let f = write_file(d.path(), "empty.crt", b"");
    let r = bad_input(&[&ca_flag("registry.test:5000", &f)]);
    assert_stderr_has(&r, &["empty.crt", "no PEM certificate"]);
}

#[test]
fn missing_ca_file_is_refused() {
    let r = bad_input(&["--registry-ca", "registry.test:5000=/nonexistent/ca.crt"]);
    assert_stderr_has(&r, &["/nonexistent/ca.crt", "registry.test:5000"]);
}

#[test]
fn client_key_that_does_not_match_its_cert_is_refused() {
    let pki = TestPki::new();
    let a = pki.client_cert();
    let other = TestPki::new();
    let b = other.client_cert();
    let flag = format!(
        "--registry-client-cert=registry.test:5000={},{}",
        a.cert.display(),
        b.key.display()
    );
    let r = bad_input(&[&flag]);
    assert_stderr_has(&r, &["does not match", "registry.test:5000"]);
}

#[test]
fn host_file_without_equals_is_refused() {
    let r = bad_input(&["--registry-ca", "registry.test:5000"]);
    assert_stderr_has(&r, &["--registry-ca", "no `=`"]);
}

#[test]
fn registries_config_that_is_not_yaml_is_refused() {
    let d = empty_dir();
    let f = write_file(d.path(), "registries.yaml", b"configs: [unclosed\n");
    let r = bad_input(&["--registries-config", f.to_str().unwrap()]);
    assert_stderr_has(&r, &["registries.yaml"]);
}

#[test]
fn bad_input_in_json_mode_prints_an_error_object() {
    let r = bad_input(&["--registry-ca", "registry.test:5000=/nonexistent/ca.crt"]);
    assert_eq!(r.json["exit_code"], 2);
    assert!(
        r.json["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/ca.crt")
    );
}

#[test]
fn human_output_shows_verdict_chain_sources_api_and_fix() {
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    let d = empty_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env_remove("SLIPWAY_OUTPUT")
        .arg("--certs-d")
        .arg(d.path())
        .args(["registry", "probe", &reg.host()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    for needle in [
        "verdict    unknown-authority",
        "chain sent by the server",
        "issuer   CN=slipway test CA",
        "trust sources",
        "GET /v2/ not reached",
        "build machine: ",
        &format!(
            "nodes:         slipway node trust install --registry {}",
            reg.host()
        ),
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}
