//! `slipway copy`, `inspect`, `tags` and `login` against the real registry, through every
//! trust mode, cross-checked by skopeo; faults; and the credential rules.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{Run, slipway, snapshot, terminal_rows};
use slipway_testkit::{
    ImageLayout, LeafKind, Registry, Skopeo, TestPki, cert_dir, oci_layout, read_request,
    sha256_digest,
};

const FILES: &[(&str, &[u8])] = &[
    ("etc/app.conf", b"greeting = hello\n"),
    ("bin/app", b"#!/bin/sh\necho hello\n"),
];

fn json(certs_d: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut a = vec!["--output", "json"];
    a.extend_from_slice(args);
    slipway(certs_d, &a, env)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One way of trusting (or authenticating to) a registry, with what slipway and skopeo need.
struct Mode {
    reg: Registry,
    flags: Vec<String>,
    env: Vec<(String, String)>,
    skopeo: Skopeo,
    tmp: tempfile::TempDir,
    _pki: TestPki,
}

impl Mode {
    fn new(name: &str) -> Mode {
        let pki = TestPki::new();
        let tmp = tempfile::tempdir().unwrap();
        let certs = tmp.path().join("certs");
        let mut env = vec![(
            "DOCKER_CONFIG".to_string(),
            tmp.path().join("docker").display().to_string(),
        )];
        let (reg, flags, skopeo) = match name {
            "ca-file" => {
                let reg = Registry::builder()
                    .tls(&pki.server_cert(LeafKind::CaSigned))
                    .start();
                let flags = vec![format!(
                    "--registry-ca={}={}",
                    reg.host(),
                    pki.ca().display()
                )];
                (
                    reg,
                    flags,
                    Skopeo::new().cert_dir(&cert_dir(&certs, &[pki.ca()], None)),
                )
            }
            "pinned-self-signed" => {
                let cert = pki.server_cert(LeafKind::SelfSignedOpenssl);
                let reg = Registry::builder().tls(&cert).start();
                let flags = vec![format!(
                    "--registry-ca={}={}",
                    reg.host(),
                    cert.trust.display()
                )];
                (
                    reg,
                    flags,
                    Skopeo::new().cert_dir(&cert_dir(&certs, &[&cert.trust], None)),
                )
            }
            "mtls" => {
                let client = pki.client_cert();
                let reg = Registry::builder()
                    .tls(&pki.server_cert(LeafKind::CaSigned))
                    .client_ca(&client.ca)
                    .start();
                let flags = vec![
                    format!("--registry-ca={}={}", reg.host(), pki.ca().display()),
                    format!(
                        "--registry-client-cert={}={},{}",
                        reg.host(),
                        client.cert.display(),
                        client.key.display()
                    ),
                ];
                (
                    reg,
                    flags,
                    Skopeo::new().cert_dir(&cert_dir(&certs, &[pki.ca()], Some(&client))),
                )
            }
            "basic-auth" => {
                let reg = Registry::builder()
                    .tls(&pki.server_cert(LeafKind::CaSigned))
                    .basic_auth("alice", "s3cret-pw")
                    .start();
                let flags = vec![format!(
                    "--registry-ca={}={}",
                    reg.host(),
                    pki.ca().display()
                )];
                (
                    reg,
                    flags,
                    Skopeo::new()
                        .cert_dir(&cert_dir(&certs, &[pki.ca()], None))
                        .creds("alice", "s3cret-pw"),
                )
            }
            "plain-http" => {
                let reg = Registry::builder().start();
                let flags = vec![format!("--registry-plain-http={}", reg.host())];
                (reg, flags, Skopeo::new().plain_http())
            }
            other => panic!("unknown mode {other}"),
        };
        env.push(("SLIPWAY_TEST_MODE".into(), name.into()));
        Mode {
            reg,
            flags,
            env,
            skopeo,
            tmp,
            _pki: pki,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_stdin(args, None)
    }

    fn run_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut a: Vec<&str> = vec!["--output", "json"];
        a.extend(self.flags.iter().map(String::as_str));
        a.extend_from_slice(args);
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        common::slipway_stdin(self.tmp.path(), &a, &env, stdin)
    }

    fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.reg.host())
    }
}

/// Lists every blob file of a layout with its bytes.
fn blobs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with('.') {
            out.insert(name, std::fs::read(e.path()).unwrap());
        }
    }
    out
}

fn round_trip(name: &str) {
    let m = Mode::new(name);
    if name == "basic-auth" {
        let host = m.reg.host();
        let r = m.run_stdin(
            &["login", &host, "-u", "alice", "--password-stdin"],
            Some("s3cret-pw\n"),
        );
        assert_eq!(r.code, 0, "[{name}] login: {}", r.stderr);
        // Where it was stored is said in words, not as a Rust value.
        let stored = r.json["stored"].as_str().unwrap_or_default();
        assert!(stored.starts_with("docker config /"), "{}", r.stdout);
        // Stale stored credentials: the 401 says to log in again.
        let config = m.tmp.path().join("docker/config.json");
        let good = std::fs::read_to_string(&config).unwrap();
        let stale =
            serde_json::json!({ "auths": { host.clone(): { "auth": "YWxpY2U6d3Jvbmc=" } } });
        std::fs::write(&config, stale.to_string()).unwrap();
        let refused = m.run(&["tags", &format!("{host}/app")]);
        assert_eq!(refused.code, 3, "{}", refused.stderr);
        assert!(
            refused.stderr.contains("401")
                && refused
                    .stderr
                    .contains(&format!("\n  fix: slipway login {host}\n")),
            "{}",
            refused.stderr
        );
        std::fs::write(&config, good).unwrap();
        // An empty password is bad input: exit 2, nothing sent, nothing stored.
        let empty = m.run_stdin(
            &["login", &host, "-u", "alice", "--password-stdin"],
            Some("\n"),
        );
        assert_eq!(empty.code, 2, "{}", empty.stderr);
        assert!(
            empty.stderr.contains("the password on stdin is empty"),
            "{}",
            empty.stderr
        );
    }
    let layout = oci_layout(&m.tmp.path().join("src"), "v1", FILES);
    let image = m.image("app:v1");
    let r = m.run(&["copy", &layout.reference(), &image]);
    assert_eq!(r.code, 0, "[{name}] push: {}", r.stderr);
    assert_eq!(r.json["digest"], layout.manifest_digest, "[{name}]");
    assert_eq!(
        r.json["blobs"].as_array().unwrap().len(),
        2,
        "[{name}] config + layer"
    );

    // skopeo, an independent client, sees the digest slipway reported.
    assert_eq!(
        m.skopeo
            .manifest_digest(&format!("docker://{image}"))
            .unwrap(),
        layout.manifest_digest,
        "[{name}]"
    );

    // Pull back into a new layout: identical digests and bytes.
    let dst = m.tmp.path().join("dst");
    let r = m.run(&["copy", &image, &format!("oci:{}:v1", dst.display())]);
    assert_eq!(r.code, 0, "[{name}] pull: {}", r.stderr);
    assert_eq!(r.json["digest"], layout.manifest_digest, "[{name}]");
    let src_blobs = blobs(&layout.dir);
    let dst_blobs = blobs(&dst);
    assert_eq!(
        src_blobs, dst_blobs,
        "[{name}] layout -> registry -> layout keeps every blob"
    );
    for (hex, bytes) in &dst_blobs {
        assert_eq!(
            sha256_digest(bytes),
            format!("sha256:{hex}"),
            "[{name}] blob named by its digest"
        );
    }
    // skopeo reads the pulled layout back to the same digest.
    assert_eq!(
        Skopeo::new()
            .manifest_digest(&format!("oci:{}:v1", dst.display()))
            .unwrap(),
        layout.manifest_digest
    );

    // A second push skips what the registry has.
    let r = m.run(&["copy", &layout.reference(), &image]);
    assert_eq!(r.code, 0, "[{name}] {}", r.stderr);
    assert!(
        r.json["blobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["outcome"] == "existed"),
        "[{name}] {}",
        r.stdout
    );
    assert_eq!(r.json["bytes_transferred"], 0);

    // inspect and tags agree.
    let r = m.run(&["inspect", &image]);
    assert_eq!(r.code, 0, "[{name}] inspect: {}", r.stderr);
    assert_eq!(r.json["digest"], layout.manifest_digest);
    assert_eq!(r.json["layers"][0]["digest"], layout.layer_digest);
    assert_eq!(r.json["os"], "linux");
    let r = m.run(&["tags", &m.image("app")]);
    assert_eq!(r.code, 0, "[{name}] tags: {}", r.stderr);
    assert_eq!(r.json["tags"], serde_json::json!(["v1"]));
}

#[test]
fn round_trips_through_a_registry_trusted_by_ca_file() {
    round_trip("ca-file");
}

#[test]
fn round_trips_through_a_registry_with_a_pinned_self_signed_certificate() {
    round_trip("pinned-self-signed");
}

#[test]
fn round_trips_through_a_registry_that_requires_mtls() {
    round_trip("mtls");
}

#[test]
fn round_trips_through_a_registry_with_basic_auth_after_login() {
    round_trip("basic-auth");
}

#[test]
fn round_trips_through_an_explicitly_plain_http_registry() {
    round_trip("plain-http");
}

/// What the user names wrongly exits 2 and creates nothing.
#[test]
fn bad_references_layouts_and_tags_exit_2_and_create_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    oci_layout(&src, "v1", FILES);
    let dst = tmp.path().join("dst");
    let dst_ref = format!("oci:{}:v1", dst.display());
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "copy",
                &format!("oci:{}:v1", tmp.path().join("nothing").display()),
                &dst_ref,
            ],
            "is not an OCI image layout",
        ),
        (
            &["copy", &format!("oci:{}:nope", src.display()), &dst_ref],
            "has no manifest tagged `nope`",
        ),
        (
            &["copy", "127.0.0.1:9/UPPER:v1", &dst_ref],
            "must be lowercase",
        ),
        (
            &[
                "copy",
                &format!("oci:{}", src.display()),
                &dst_ref,
                "--platform",
                "linux",
            ],
            "invalid platform `linux`",
        ),
    ];
    for (args, says) in cases {
        let r = slipway(tmp.path(), args, &[]);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        common::assert_stderr_has(&r, &[says]);
        assert!(!dst.exists(), "{args:?} created {}", dst.display());
    }
}

/// Eight copies into one OCI layout at once, each with its own tag: every tag is there at
/// the end (writers of a layout lock it while they update index.json).
#[test]
fn parallel_copies_into_one_layout_keep_every_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    oci_layout(&src, "v1", FILES);
    let dst = tmp.path().join("dst");
    let codes: Vec<i32> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..8)
            .map(|i| {
                let (src, dst, dir) = (&src, &dst, tmp.path());
                s.spawn(move || {
                    let r = slipway(
                        dir,
                        &[
                            "copy",
                            &format!("oci:{}:v1", src.display()),
                            &format!("oci:{}:tag{i}", dst.display()),
                        ],
                        &[],
                    );
                    assert_eq!(r.code, 0, "copy {i}: {}", r.stderr);
                    r.code
                })
            })
            .collect();
        runs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(codes, [0; 8]);
    let r = json(
        tmp.path(),
        &["tags", &format!("oci:{}", dst.display())],
        &[],
    );
    let mut tags: Vec<String> = r.json["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    tags.sort();
    let want: Vec<String> = (0..8).map(|i| format!("tag{i}")).collect();
    assert_eq!(tags, want, "{}", r.stdout);
}

/// A docker config.json that does not parse is bad input (exit 2) even when it is met deep
/// inside a copy, at the registry's auth challenge, and nothing is pushed.
#[test]
fn a_broken_credentials_file_met_during_a_copy_exits_2() {
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .basic_auth("alice", "s3cret-pw")
        .start();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    oci_layout(&src, "v1", FILES);
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("config.json"), "{ not json").unwrap();
    let ca = format!("--registry-ca={}={}", reg.host(), s(pki.ca()));
    let r = slipway(
        tmp.path(),
        &[
            &ca,
            "copy",
            &format!("oci:{}:v1", src.display()),
            &format!("{}/app:v1", reg.host()),
        ],
        &[("DOCKER_CONFIG", s(&docker))],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("config.json"), "{}", r.stderr);
    assert!(
        !reg.dir()
            .join("data/docker/registry/v2/repositories/app")
            .exists(),
        "nothing was pushed"
    );
}

/// A request that gets no answer names the cause and the fix, and the URL once.
#[test]
fn connection_failures_name_the_cause_and_the_fix() {
    let pki = TestPki::new();
    let tmp = tempfile::tempdir().unwrap();
    let expect = |args: &[&str], says: &[&str]| {
        let r = slipway(tmp.path(), args, &[]);
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        for s in says {
            assert!(
                r.stderr.contains(s),
                "{args:?}: wanted {s:?} in:\n{}",
                r.stderr
            );
        }
        assert_eq!(r.stderr.matches("/v2/").count(), 1, "{}", r.stderr);
        assert!(!r.stderr.contains("error sending request"), "{}", r.stderr);
        common::assert_no_repeated_cause(&r.stderr);
    };

    // A CA-signed certificate whose CA this machine was not given.
    let tls = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    let host = tls.host();
    expect(
        &["inspect", &format!("{host}/app:v1")],
        &[
            &format!("the certificate of {host} is not signed by any CA trusted for it"),
            &format!("--registry-ca {host}="),
            &format!("slipway registry probe {host}"),
        ],
    );
    // The fixes follow the error as lines, and are data in the JSON error object.
    let r = slipway(
        tmp.path(),
        &["--output", "json", "inspect", &format!("{host}/app:v1")],
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let line = format!("\n  fix: pass --registry-ca {host}=");
    assert!(r.stderr.contains(&line), "{}", r.stderr);
    let fixes = &r.json["fixes"]["build_machine"];
    assert_eq!(fixes[0]["kind"], "get-ca-certificate", "{}", r.json);
    assert_eq!(fixes[1]["flag"], "--registry-ca", "{}", r.json);
    assert_eq!(
        fixes.as_array().unwrap().last().unwrap()["command"],
        format!("slipway registry probe {host}"),
        "{}",
        r.json
    );
    assert_eq!(
        r.json["fixes"]["nodes"],
        serde_json::json!([]),
        "{}",
        r.json
    );
    // Plain HTTP spoken to that TLS port.
    expect(
        &[
            "--registry-plain-http",
            &host,
            "inspect",
            &format!("{host}/app:v1"),
        ],
        &[
            "400",
            &format!("{host} speaks TLS on this port, and plain HTTP was sent to it"),
            &format!("\n  fix: the port speaks TLS: drop --registry-plain-http {host}"),
        ],
    );

    // TLS spoken to a plain HTTP registry.
    let plain = Registry::builder().start();
    let host = plain.host();
    expect(
        &["tags", &format!("{host}/app")],
        &[
            &format!("{host} did not answer in TLS"),
            &format!("--registry-plain-http {host}"),
        ],
    );

    // Nothing listening.
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    expect(
        &["inspect", &format!("127.0.0.1:{port}/app:v1")],
        &[&format!("127.0.0.1:{port} refused the connection")],
    );
}

#[test]
fn copies_between_two_repositories_of_one_registry_by_mounting() {
    let m = Mode::new("ca-file");
    let layout = oci_layout(&m.tmp.path().join("src"), "v1", FILES);
    assert_eq!(
        m.run(&["copy", &layout.reference(), &m.image("one:v1")])
            .code,
        0
    );
    let r = m.run(&["copy", &m.image("one:v1"), &m.image("two:v1")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.json["blobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["outcome"] == "mounted"),
        "{}",
        r.stdout
    );
    assert_eq!(
        m.skopeo
            .manifest_digest(&format!("docker://{}", m.image("two:v1")))
            .unwrap(),
        layout.manifest_digest
    );
}

/// Builds a two-platform index in `a`'s layout from two single-image layouts.
fn multi_arch(dir: &Path) -> (ImageLayout, ImageLayout, String) {
    let amd = oci_layout(&dir.join("multi"), "amd", FILES);
    let arm = oci_layout(&dir.join("arm"), "arm", &[("etc/arch", b"arm64\n")]);
    for (hex, bytes) in blobs(&arm.dir) {
        std::fs::write(amd.dir.join("blobs/sha256").join(hex), bytes).unwrap();
    }
    let digest = common::tag_two_platform_index(&amd.dir, &amd, &arm);
    (amd, arm, digest)
}

#[test]
fn a_multi_arch_index_copies_whole_or_by_platform() {
    let m = Mode::new("ca-file");
    let (amd, arm, index_digest) = multi_arch(m.tmp.path());
    let src = format!("oci:{}:multi", amd.dir.display());
    let image = m.image("multi:1");
    let r = m.run(&["copy", &src, &image]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["digest"], index_digest);
    assert_eq!(r.json["manifests"], 3, "two images and the index");
    let raw = m
        .skopeo
        .run(&[
            "inspect",
            "--raw",
            "--cert-dir",
            s(&m.tmp.path().join("certs")),
            &format!("docker://{image}"),
        ])
        .unwrap();
    assert_eq!(
        sha256_digest(raw.as_bytes()),
        index_digest,
        "skopeo reads the same index bytes"
    );

    let r = m.run(&["inspect", &image]);
    assert_eq!(
        r.json["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64/v8"])
    );

    let whole = m.tmp.path().join("whole");
    let r = m.run(&["copy", &image, &format!("oci:{}:multi", whole.display())]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["digest"], index_digest);
    assert_eq!(blobs(&whole), blobs(&amd.dir));

    let one = m.tmp.path().join("one");
    let r = m.run(&[
        "copy",
        &image,
        &format!("oci:{}:arm", one.display()),
        "--platform",
        "linux/arm64",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["digest"], arm.manifest_digest);
    let r = m.run(&[
        "copy",
        &image,
        &format!("oci:{}:x", one.display()),
        "--platform",
        "windows/amd64",
    ]);
    assert_eq!(r.code, 2, "a platform the index lacks is bad input");
    assert!(
        r.stderr.contains("no manifest for platform windows/amd64"),
        "{}",
        r.stderr
    );

    // A single-platform image is copied only when it is the platform asked for, and a
    // refused copy leaves no layout behind.
    // (The kit's configs all say linux/amd64; the index is what calls one of them arm64.)
    let single = m.image(&format!("multi@{}", amd.manifest_digest));
    let none = m.tmp.path().join("none");
    let r = m.run(&[
        "copy",
        &single,
        &format!("oci:{}:x", none.display()),
        "--platform",
        "linux/arm64",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "no manifest for platform linux/arm64 (it has: linux/amd64; it is a single-platform image)"
        ),
        "{}",
        r.stderr
    );
    assert!(!none.exists(), "the failed copy created {}", none.display());
    let r = m.run(&[
        "copy",
        &single,
        &format!("oci:{}:x", none.display()),
        "--platform",
        "linux/amd64",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["digest"], amd.manifest_digest);
}

#[test]
fn a_blob_corrupted_at_the_source_fails_the_pull_and_leaves_the_layout_unchanged() {
    let m = Mode::new("ca-file");
    let layout = oci_layout(&m.tmp.path().join("src"), "v1", FILES);
    let image = m.image("app:v1");
    assert_eq!(m.run(&["copy", &layout.reference(), &image]).code, 0);
    // Flip the layer's bytes inside the registry's own storage.
    let hex = &layout.layer_digest[7..];
    let data = m
        .reg
        .dir()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data");
    let mut bytes = std::fs::read(&data).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();

    let other = oci_layout(&m.tmp.path().join("dst"), "keep", &[("x", b"y")]);
    let before = snapshot(&other.dir);
    let r = m.run(&["copy", &image, &format!("oci:{}:v1", other.dir.display())]);
    assert_ne!(r.code, 0);
    // The source is named (the registry's image), not the local file never kept.
    assert!(
        r.stderr.contains("digest mismatch")
            && r.stderr
                .contains(&format!("{image}@{}", layout.layer_digest)),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains(other.dir.to_str().unwrap()),
        "{}",
        r.stderr
    );
    assert_eq!(
        snapshot(&other.dir),
        before,
        "a failed pull changes nothing in the destination layout"
    );
}

#[test]
fn a_registry_crash_during_upload_never_leaves_a_manifest_without_its_blobs() {
    let m = Mode::new("ca-file");
    let mut big = vec![0u8; 48 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for b in big.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let layout = oci_layout(&m.tmp.path().join("src"), "v1", &[("big.bin", &big)]);
    let image = m.image("big:v1");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"));
    cmd.env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .arg("--output")
        .arg("json")
        .arg("--certs-d")
        .arg(m.tmp.path());
    cmd.args(&m.flags)
        .args(["copy", &layout.reference(), &image]);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The crash must land while the big layer's bytes are in flight: wait until the
    // registry holds part of it in an upload, and not all of it.
    let uploads = m
        .reg
        .dir()
        .join("data/docker/registry/v2/repositories/big/_uploads");
    let in_flight = || {
        std::fs::read_dir(&uploads).ok().is_some_and(|rd| {
            rd.flatten().any(|u| {
                std::fs::metadata(u.path().join("data"))
                    .is_ok_and(|d| d.len() > 0 && d.len() < big.len() as u64)
            })
        })
    };
    let start = std::time::Instant::now();
    while !in_flight() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the upload never showed up in the registry's storage"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let mut reg = m.reg;
    reg.crash_and_restart();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    match m.skopeo.manifest_digest(&format!("docker://{image}")) {
        Ok(digest) => {
            // The manifest is there: so is every blob, and the image pulls whole.
            assert_eq!(digest, layout.manifest_digest);
            let dir = m.tmp.path().join("pulled");
            m.skopeo
                .copy(
                    &format!("docker://{image}"),
                    &format!("dir:{}", dir.display()),
                )
                .expect("a manifest in the registry must have all its blobs");
            assert!(
                out.status.success(),
                "the manifest was written, so the copy succeeded: {stderr}"
            );
        }
        Err(e) => {
            assert!(e.stderr.contains("manifest unknown"), "{}", e.stderr);
            assert!(
                !out.status.success(),
                "no manifest, so the copy must have failed"
            );
            assert!(
                stderr.contains("error:"),
                "a failed copy says why: {stderr}"
            );
        }
    }
    // Recovery: the same copy, run again, completes, and the image pulls whole.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .args(["--output", "json", "--certs-d"])
        .arg(m.tmp.path())
        .args(&m.flags)
        .args(["copy", &layout.reference(), &image])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let dir = m.tmp.path().join("pulled-again");
    m.skopeo
        .copy(
            &format!("docker://{image}"),
            &format!("dir:{}", dir.display()),
        )
        .expect("after the rerun, the image pulls whole");
    drop(reg);
}

/// A minimal HTTP/1.1 server for the credential tests: answers with `handler` and records
/// every request head.
struct Fake {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

type Handler = dyn Fn(&str) -> (String, Vec<(String, String)>, Vec<u8>) + Send + Sync;

/// Answers HTTP/1.1 requests on one connection with `handler`, recording each head.
fn serve_http<S: Read + Write>(stream: S, seen: &Mutex<Vec<String>>, handler: &Handler, tls: bool) {
    let mut reader = BufReader::new(stream);
    // Like any HTTP server, answer a TLS hello on a plain port with a plain 400.
    if !tls && reader.fill_buf().is_ok_and(|b| b.first() == Some(&0x16)) {
        let _ = reader.get_mut().write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    while let Some(req) = read_request(&mut reader) {
        seen.lock().unwrap().push(req.head.clone());
        let (status, headers, body) = handler(&req.head);
        let mut resp = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
        for (k, v) in headers {
            resp.push_str(&format!("{k}: {v}\r\n"));
        }
        resp.push_str("\r\n");
        let out = reader.get_mut();
        if out
            .write_all(resp.as_bytes())
            .and_then(|_| out.write_all(&body))
            .and_then(|_| out.flush())
            .is_err()
        {
            return;
        }
    }
}

impl Fake {
    fn start(
        handler: impl Fn(&str) -> (String, Vec<(String, String)>, Vec<u8>) + Send + Sync + 'static,
    ) -> Fake {
        Fake::start_with(None, handler)
    }

    /// Like [`Fake::start`], serving TLS with `cert` when given.
    fn start_with(
        cert: Option<&slipway_testkit::ServerCert>,
        handler: impl Fn(&str) -> (String, Vec<(String, String)>, Vec<u8>) + Send + Sync + 'static,
    ) -> Fake {
        let tls = cert.map(|c| Arc::new(slipway_testkit::tls_server_config(c)));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (seen2, handler): (_, Arc<Handler>) = (seen.clone(), Arc::new(handler));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, handler, tls) = (seen2.clone(), handler.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    Some(config) => {
                        let conn = rustls::ServerConnection::new(config).unwrap();
                        serve_http(
                            rustls::StreamOwned::new(conn, stream),
                            &seen,
                            &*handler,
                            true,
                        );
                    }
                    None => serve_http(stream, &seen, &*handler, false),
                });
            }
        });
        Fake { port, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn docker_config(dir: &Path, host: &str, user: &str, password: &str) -> PathBuf {
    use base64::Engine;
    let d = dir.join("docker");
    std::fs::create_dir_all(&d).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(
        d.join("config.json"),
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
    d
}

/// A fake server's answer: status line, headers, body.
type Answer = (String, Vec<(String, String)>, Vec<u8>);

fn challenge_unless_authorized(head: &str) -> Option<Answer> {
    if head.to_ascii_lowercase().contains("\nauthorization:") {
        None
    } else {
        Some((
            "401 Unauthorized".into(),
            vec![("WWW-Authenticate".into(), "Basic realm=\"fake\"".into())],
            vec![],
        ))
    }
}

#[test]
fn basic_credentials_go_over_plain_http_only_to_a_host_named_plain_http() {
    let fake = Fake::start(|head| {
        challenge_unless_authorized(head).unwrap_or((
            "200 OK".into(),
            vec![],
            br#"{"name":"app","tags":["v1"]}"#.to_vec(),
        ))
    });
    let host = format!("127.0.0.1:{}", fake.port);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = docker_config(tmp.path(), &host, "alice", "pw-never-in-clear");
    let env = [("DOCKER_CONFIG", s(&cfg))];

    // werf's --insecure-registry allows HTTP, but is not an explicit per-host choice.
    let r = json(
        tmp.path(),
        &["--insecure-registry", "tags", &format!("{host}/app")],
        &env,
    );
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("refusing to send credentials over plain HTTP"),
        "{}",
        r.stderr
    );
    assert!(
        fake.requests()
            .iter()
            .all(|h| !h.to_ascii_lowercase().contains("authorization:")),
        "{:?}",
        fake.requests()
    );
    assert!(!r.stderr.contains("pw-never-in-clear"));

    // Named with --registry-plain-http, the host gets them.
    let r = json(
        tmp.path(),
        &[
            "--registry-plain-http",
            &host,
            "tags",
            &format!("{host}/app"),
        ],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["tags"], serde_json::json!(["v1"]));
    assert!(
        fake.requests()
            .iter()
            .any(|h| h.to_ascii_lowercase().contains("authorization: basic"))
    );
}

/// A small image as an OCI layout under `dir`, and a plain-HTTP store that answers every
/// request with its layer (where a registry's redirect sends the client).
fn layout_and_store(dir: &Path) -> (slipway_testkit::ImageLayout, Fake) {
    let layout = oci_layout(&dir.join("src"), "v1", FILES);
    let layer = std::fs::read(
        layout
            .dir
            .join("blobs/sha256")
            .join(&layout.layer_digest[7..]),
    )
    .unwrap();
    let storage = Fake::start(move |_| ("200 OK".into(), vec![], layer.clone()));
    (layout, storage)
}

/// A fake registry serving `layout`'s image, whose layer GET redirects to `to`; with
/// `cert` it speaks TLS, and with `challenge` it asks for credentials first.
fn redirecting_registry(
    layout: &slipway_testkit::ImageLayout,
    to: String,
    cert: Option<&slipway_testkit::ServerCert>,
    challenge: bool,
) -> Fake {
    let blob = |d: &str| std::fs::read(layout.dir.join("blobs/sha256").join(&d[7..])).unwrap();
    let (manifest, config) = (blob(&layout.manifest_digest), blob(&layout.config_digest));
    let (md, cd, ld) = (
        layout.manifest_digest.clone(),
        layout.config_digest.clone(),
        layout.layer_digest.clone(),
    );
    Fake::start_with(cert, move |head| {
        if challenge && let Some(r) = challenge_unless_authorized(head) {
            return r;
        }
        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
        if path.contains("/manifests/") {
            (
                "200 OK".into(),
                vec![
                    (
                        "Content-Type".into(),
                        "application/vnd.oci.image.manifest.v1+json".into(),
                    ),
                    ("Docker-Content-Digest".into(), md.clone()),
                ],
                manifest.clone(),
            )
        } else if path.ends_with(&cd) {
            ("200 OK".into(), vec![], config.clone())
        } else if path.ends_with(&ld) {
            (
                "307 Temporary Redirect".into(),
                vec![("Location".into(), to.clone())],
                vec![],
            )
        } else {
            ("200 OK".into(), vec![], b"{}".to_vec())
        }
    })
}

#[test]
fn authorization_is_not_forwarded_when_a_blob_redirects_to_another_host() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, storage) = layout_and_store(tmp.path());
    let storage_port = storage.port;
    let to = format!("http://localhost:{storage_port}/bucket/blob?X-Signature=secret-sig");
    let registry = redirecting_registry(&layout, to, None, true);
    let host = format!("127.0.0.1:{}", registry.port);
    let cfg = docker_config(tmp.path(), &host, "alice", "pw-for-registry-only");
    let dst = tmp.path().join("dst");
    let r = json(
        tmp.path(),
        &[
            "--registry-plain-http",
            &host,
            &format!("--registry-plain-http=localhost:{storage_port}"),
            "copy",
            &format!("{host}/app:v1"),
            &format!("oci:{}:v1", dst.display()),
        ],
        &[("DOCKER_CONFIG", s(&cfg))],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["digest"], layout.manifest_digest);
    assert!(
        registry
            .requests()
            .iter()
            .any(|h| h.to_ascii_lowercase().contains("authorization: basic")),
        "the registry itself gets the credentials"
    );
    let at_storage = storage.requests();
    assert_eq!(at_storage.len(), 1, "{at_storage:?}");
    assert!(
        !at_storage[0].to_ascii_lowercase().contains("authorization"),
        "{at_storage:?}"
    );
}

/// A TLS registry that sends a blob to plain HTTP is not followed unless that host was
/// named plain-HTTP: HTTPS is never given up silently.
#[test]
fn a_redirect_from_https_to_plain_http_is_refused_unless_the_host_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, storage) = layout_and_store(tmp.path());
    let storage_port = storage.port;
    let pki = TestPki::new();
    let cert = pki.server_cert(LeafKind::CaSigned);
    let to = format!("http://localhost:{storage_port}/bucket/blob");
    let registry = redirecting_registry(&layout, to, Some(&cert), false);
    let host = format!("localhost:{}", registry.port);
    let ca = format!("--registry-ca={host}={}", s(pki.ca()));
    let dst = tmp.path().join("dst");
    let copy = |extra: &[&str]| {
        let mut args = vec![ca.as_str()];
        args.extend_from_slice(extra);
        let src = format!("{host}/app:v1");
        let dst = format!("oci:{}:v1", dst.display());
        args.extend_from_slice(&["copy", &src, &dst]);
        json(tmp.path(), &args, &[])
    };
    let r = copy(&[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("from HTTPS to plain HTTP")
            && r.stderr
                .contains(&format!("--registry-plain-http localhost:{storage_port}")),
        "{}",
        r.stderr
    );
    assert!(
        storage.requests().is_empty(),
        "nothing went over plain HTTP"
    );
    assert!(!dst.join("index.json").exists(), "no manifest was written");

    // werf's --insecure-registry is no per-host choice: still refused.
    let r = copy(&["--insecure-registry"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(storage.requests().is_empty());

    // Named plain-HTTP, the storage host is followed.
    let named = format!("--registry-plain-http=localhost:{storage_port}");
    let r = copy(&[&named]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(storage.requests().len(), 1);
}

#[test]
fn login_with_a_wrong_password_fails_without_printing_it_and_stores_nothing() {
    let m = Mode::new("basic-auth");
    let r = m.run_stdin(
        &["login", &m.reg.host(), "-u", "alice", "--password-stdin"],
        Some("wrong-password-123\n"),
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("refused"), "{}", r.stderr);
    assert!(!r.stderr.contains("wrong-password-123") && !r.stdout.contains("wrong-password-123"));
    assert!(!m.tmp.path().join("docker/config.json").exists());
    // Without credentials, a push says how to log in.
    let layout = oci_layout(&m.tmp.path().join("src"), "v1", FILES);
    let r = m.run(&["copy", &layout.reference(), &m.image("app:v1")]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains(&format!("slipway login {}", m.reg.host())),
        "{}",
        r.stderr
    );
}

/// What the test proxy does to uploads on their way to the registry.
#[derive(Clone, Copy)]
enum Meddle {
    /// Answer 413 to any request body over this many bytes, as nginx's
    /// `client_max_body_size` does.
    LimitBodies(usize),
    /// Forward the first streaming PATCH whole, then drop the connection instead of
    /// passing on the registry's answer (a reset after the body was sent).
    DropFirstPatchAnswer,
}

/// A plain-HTTP proxy in front of a real registry that records request lines and meddles
/// with uploads.
struct Proxy {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start(upstream: u16, meddle: Meddle) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let cut_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (log, cut_done) = (log2.clone(), cut_done.clone());
                std::thread::spawn(move || {
                    let _ = proxy_connection(client, upstream, meddle, &log, &cut_done);
                });
            }
        });
        Proxy { port, log }
    }

    fn lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn read_head(r: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        head.push_str(&line);
        if line == "\r\n" {
            return Ok(Some(head));
        }
    }
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

fn proxy_connection(
    client: std::net::TcpStream,
    upstream: u16,
    meddle: Meddle,
    log: &Mutex<Vec<String>>,
    cut_done: &std::sync::atomic::AtomicBool,
) -> std::io::Result<()> {
    let server = std::net::TcpStream::connect(("127.0.0.1", upstream))?;
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    let mut from_server = BufReader::new(server.try_clone()?);
    let mut to_server = server;
    while let Some(head) = read_head(&mut from_client)? {
        let line = head.lines().next().unwrap_or("").to_string();
        let len: usize = header(&head, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let range = header(&head, "content-range");
        log.lock().unwrap().push(format!(
            "{line} len={len} range={}",
            range.as_deref().unwrap_or("-")
        ));
        let mut body = vec![0; len];
        match meddle {
            Meddle::LimitBodies(max) if len > max => {
                from_client.read_exact(&mut body)?;
                to_client.write_all(
                    b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 0\r\n\r\n",
                )?;
                continue;
            }
            Meddle::DropFirstPatchAnswer
                if line.starts_with("PATCH")
                    && range.is_none()
                    && !cut_done.swap(true, std::sync::atomic::Ordering::SeqCst) =>
            {
                from_client.read_exact(&mut body)?;
                to_server.write_all(head.as_bytes())?;
                to_server.write_all(&body)?;
                let resp = read_head(&mut from_server)?.unwrap_or_default();
                log.lock().unwrap().push(format!(
                    "  -> (dropped) {}",
                    resp.lines().next().unwrap_or("")
                ));
                let _ = to_client.shutdown(std::net::Shutdown::Both);
                return Ok(());
            }
            _ => {}
        }
        from_client.read_exact(&mut body)?;
        to_server.write_all(head.as_bytes())?;
        to_server.write_all(&body)?;
        let resp = read_head(&mut from_server)?.unwrap_or_default();
        let status = resp.lines().next().unwrap_or("").to_string();
        log.lock().unwrap().push(format!(
            "  -> {status} range={}",
            header(&resp, "range").as_deref().unwrap_or("-")
        ));
        let rlen: usize = if line.starts_with("HEAD") {
            0
        } else {
            header(&resp, "content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let mut rbody = vec![0; rlen];
        from_server.read_exact(&mut rbody)?;
        to_client.write_all(resp.as_bytes())?;
        to_client.write_all(&rbody)?;
    }
    Ok(())
}

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn falls_back_to_chunked_uploads_only_when_a_proxy_limits_bodies() {
    let reg = Registry::builder().start();
    let proxy = Proxy::start(reg.port(), Meddle::LimitBodies(1 << 20));
    let tmp = tempfile::tempdir().unwrap();
    let data = noise(3 << 20, 7);
    let layout = oci_layout(&tmp.path().join("src"), "v1", &[("data.bin", &data)]);
    let host = format!("127.0.0.1:{}", proxy.port);
    let image = format!("{host}/chunky:v1");
    let r = json(
        tmp.path(),
        &[
            "--registry-plain-http",
            &host,
            "copy",
            &layout.reference(),
            &image,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = proxy.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("PATCH") && l.ends_with("range=-")),
        "a streaming PATCH came first: {lines:#?}"
    );
    let ranged: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with("PATCH") && !l.ends_with("range=-"))
        .collect();
    assert!(
        ranged.len() >= 3,
        "then chunks of at most 1 MiB: {lines:#?}"
    );
    let direct = Skopeo::new()
        .plain_http()
        .manifest_digest(&format!("docker://{}/chunky:v1", reg.host()))
        .unwrap();
    assert_eq!(direct, layout.manifest_digest);
    let back = tmp.path().join("back");
    let r = json(
        tmp.path(),
        &[
            "--registry-plain-http",
            &reg.host(),
            "copy",
            &format!("{}/chunky:v1", reg.host()),
            &format!("oci:{}:v1", back.display()),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(blobs(&back), blobs(&layout.dir));
}

#[test]
fn an_upload_whose_answer_was_lost_asks_for_its_range_then_restarts_cleanly() {
    // slipway first asks the registry how much of the upload it holds (GET on the upload,
    // `Range: 0-<end>`) to resume from there. Distribution 2.8 answers 404 once the
    // client's `_state` is stale (it signs the offset into it), so against it the blob is
    // uploaded again in a fresh session, and the copy still completes.
    let reg = Registry::builder().start();
    let proxy = Proxy::start(reg.port(), Meddle::DropFirstPatchAnswer);
    let tmp = tempfile::tempdir().unwrap();
    let data = noise(4 << 20, 11);
    let layout = oci_layout(&tmp.path().join("src"), "v1", &[("data.bin", &data)]);
    let host = format!("127.0.0.1:{}", proxy.port);
    let image = format!("{host}/resumed:v1");
    let r = json(
        tmp.path(),
        &[
            "--registry-plain-http",
            &host,
            "copy",
            &layout.reference(),
            &image,
            "--jobs",
            "1",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = proxy.lines();
    let status = lines
        .iter()
        .position(|l| l.starts_with("GET") && l.contains("/blobs/uploads/"))
        .unwrap_or_else(|| panic!("asked the upload's status: {lines:#?}"));
    assert!(
        lines[status + 1].contains("404"),
        "Distribution forgot the session: {lines:#?}"
    );
    let posts = lines.iter().filter(|l| l.starts_with("POST")).count();
    assert_eq!(
        posts, 3,
        "the layer got a second session, the config one: {lines:#?}"
    );
    let direct = format!("docker://{}/resumed:v1", reg.host());
    assert_eq!(
        Skopeo::new().plain_http().manifest_digest(&direct).unwrap(),
        layout.manifest_digest
    );
}

/// Runs slipway with the mode's trust flags on a terminal (see [`common::on_terminal`]).
fn on_terminal(m: &Mode, cols: u16, args: &[&str]) -> (i32, String) {
    let mut a: Vec<&str> = m.flags.iter().map(String::as_str).collect();
    a.extend_from_slice(args);
    let env: Vec<(&str, &str)> = m
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    common::on_terminal(m.tmp.path(), cols, &a, &env)
}

#[test]
fn progress_bars_show_on_a_terminal_within_its_width_and_piped_output_stays_plain() {
    let m = Mode::new("ca-file");
    let big = noise(3 << 20, 7);
    let layout = oci_layout(
        &m.tmp.path().join("src"),
        "v1",
        &[("data/blob.bin", big.as_slice())],
    );
    let layer = &layout.layer_digest["sha256:".len().."sha256:".len() + 12];
    for cols in [80u16, 60] {
        let image = m.image(&format!("bars{cols}:v1"));
        let (code, raw) = on_terminal(&m, cols, &["copy", &layout.reference(), &image]);
        assert_eq!(code, 0, "{cols} columns: {raw}");
        let rows = terminal_rows(&raw, usize::from(cols));
        let bar = rows
            .iter()
            .find(|l| l.starts_with(layer) && l.contains("done"))
            .unwrap_or_else(|| {
                panic!("no finished bar for layer {layer} at {cols} columns in {rows:#?}")
            });
        assert!(bar.contains("3.00 MiB"), "the bar shows sizes: {bar:?}");
        // Every row that shows part of a bar shows one whole bar: digest prefix first, the
        // bar's brackets and the rate on the same row. A bar wider than the terminal would
        // wrap, and its second row would start with the rest of it.
        for row in rows
            .iter()
            .filter(|r| r.contains(['[', ']']) || r.contains("B/s"))
        {
            let whole = row.len() > 13
                && row[..12].bytes().all(|b| b.is_ascii_hexdigit())
                && row[12..].starts_with(' ')
                && row.contains('[')
                && row.contains(']')
                && row.contains("B/s");
            assert!(
                whole,
                "a bar does not fit the {cols}-column terminal: {row:?} in {rows:#?}"
            );
        }
    }

    // Piped (as in every other test here): no bars, no cursor movement.
    let mut a: Vec<&str> = m.flags.iter().map(String::as_str).collect();
    let (src, image) = (layout.reference(), m.image("piped:v1"));
    a.extend(["copy", &src, &image]);
    let env: Vec<(&str, &str)> = m
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = slipway(m.tmp.path(), &a, &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for out in [&r.stdout, &r.stderr] {
        assert!(
            !out.contains('\x1b') && !out.contains('\r'),
            "piped output holds terminal control characters: {out:?}"
        );
    }
    assert!(
        r.stdout.contains(layout.manifest_digest.as_str()),
        "{}",
        r.stdout
    );
}

/// A plain-HTTP registry serving `layout`'s image whose layer answer stops halfway and
/// stalls: a pull is then caught in the middle of writing that blob.
fn stalling_registry(layout: &ImageLayout) -> u16 {
    let blob = |d: &str| std::fs::read(layout.dir.join("blobs/sha256").join(&d[7..])).unwrap();
    let manifest = blob(&layout.manifest_digest);
    let config = blob(&layout.config_digest);
    let layer = blob(&layout.layer_digest);
    let (md, cd, ld) = (
        layout.manifest_digest.clone(),
        layout.config_digest.clone(),
        layout.layer_digest.clone(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (manifest, config, layer) = (manifest.clone(), config.clone(), layer.clone());
            let (md, cd, ld) = (md.clone(), cd.clone(), ld.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn);
                while let Some(req) = read_request(&mut reader) {
                    let (head, path) = (req.head, req.target);
                    let head_only = head.starts_with("HEAD");
                    let (ctype, body, stall) = if path == "/v2/" {
                        ("application/json", b"{}".to_vec(), false)
                    } else if path.ends_with("/manifests/v1") || path.ends_with(&md) {
                        (slipway_testkit::OCI_MANIFEST, manifest.clone(), false)
                    } else if path.ends_with(&cd) {
                        ("application/octet-stream", config.clone(), false)
                    } else if path.ends_with(&ld) {
                        ("application/octet-stream", layer.clone(), true)
                    } else {
                        let _ = reader
                            .get_mut()
                            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                        continue;
                    };
                    let digest = if body == manifest {
                        md.clone()
                    } else {
                        String::new()
                    };
                    let out = reader.get_mut();
                    let _ = write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nDocker-Content-Digest: {digest}\r\n\r\n",
                        body.len()
                    );
                    if head_only {
                        continue;
                    }
                    if stall {
                        let _ = out.write_all(&body[..body.len() / 2]);
                        let _ = out.flush();
                        std::thread::sleep(std::time::Duration::from_secs(120));
                        return;
                    }
                    let _ = out.write_all(&body);
                    let _ = out.flush();
                }
            });
        }
    });
    port
}

/// Lists the temporary blob files of a layout.
fn temp_files(layout: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(layout.join("blobs/sha256"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with(".tmp-")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// SIGINT or SIGTERM in the middle of writing a blob removes its temporary file (the
/// signal is sent only once that file exists), and exits as a shell reports the signal.
#[test]
fn an_interrupted_pull_removes_its_temporary_file() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = oci_layout(&tmp.path().join("src"), "v1", FILES);
    let port = stalling_registry(&layout);
    let host = format!("127.0.0.1:{port}");
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let dst = tmp.path().join(format!("dst-{signal}"));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args(["--certs-d", s(tmp.path()), "--registry-plain-http", &host])
            .args([
                "copy",
                &format!("{host}/app:v1"),
                &format!("oci:{}:v1", dst.display()),
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The proof that the signal lands mid-blob: the layer's temporary file exists.
        let start = std::time::Instant::now();
        while temp_files(&dst).is_empty() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "the pull never started writing the layer"
            );
            assert!(child.try_wait().unwrap().is_none(), "slipway ended early");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let kill = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "SIG{signal}: {stderr}");
        assert!(
            stderr.contains("removed 1 unfinished blob file"),
            "{stderr}"
        );
        assert_eq!(temp_files(&dst), Vec::<PathBuf>::new(), "SIG{signal}");
    }
}

/// Temporary files a killed writer left are removed by the next run that writes to the
/// layout; one another process is still writing (it holds its lock) is kept.
#[test]
fn the_next_run_sweeps_what_a_killed_run_left() {
    let tmp = tempfile::tempdir().unwrap();
    let src = oci_layout(&tmp.path().join("src"), "v1", FILES);
    let dst = oci_layout(&tmp.path().join("dst"), "old", &[("x", b"y")]);
    let blobs = dst.dir.join("blobs/sha256");
    let two_minutes_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
    let make = |name: &str, age: std::time::SystemTime| {
        let p = blobs.join(name);
        let f = std::fs::File::create(&p).unwrap();
        f.set_modified(age).unwrap();
        (p, f)
    };
    let (orphan, _) = make(".tmp-orphan", two_minutes_ago);
    let (held, held_file) = make(".tmp-held", two_minutes_ago);
    held_file.lock().unwrap();
    let (fresh, _) = make(".tmp-fresh", std::time::SystemTime::now());
    let r = json(
        tmp.path(),
        &[
            "copy",
            &src.reference(),
            &format!("oci:{}:v1", dst.dir.display()),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!orphan.exists(), "an orphan of a killed run stays");
    assert!(held.exists(), "a file another writer holds was removed");
    assert!(fresh.exists(), "a file made a moment ago was removed");
    drop(held_file);
}

/// `--registry-skip-verify` reaches only the registry it names: a copy between two
/// registries, one skip-verified, fails on the other (naming it). Another port of the same
/// host stays verified, unless the flag names no port; then each port it reaches is named.
#[test]
fn skip_verify_weakens_only_the_registry_it_names() {
    let pki = TestPki::new();
    let tmp = tempfile::tempdir().unwrap();
    let a = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    let b = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    let (ha, hb) = (a.host(), b.host());
    let layout = oci_layout(&tmp.path().join("src"), "v1", FILES);
    let ca_a = format!("--registry-ca={ha}={}", pki.ca().display());
    let r = json(
        tmp.path(),
        &[&ca_a, "copy", &layout.reference(), &format!("{ha}/app:v1")],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Only A is relaxed: the push to B fails on B's certificate.
    let r = json(
        tmp.path(),
        &[
            "--registry-skip-verify",
            &ha,
            "copy",
            &format!("{ha}/app:v1"),
            &format!("{hb}/app:v1"),
        ],
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "the certificate of {hb} is not signed by any CA trusted for it"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("verification is OFF for registry {ha}")),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr
            .contains(&format!("verification is OFF for registry {hb}")),
        "{}",
        r.stderr
    );

    // A flag without a port covers both ports of localhost, and says so for each.
    let r = json(
        tmp.path(),
        &[
            "--registry-skip-verify",
            "localhost",
            "copy",
            &format!("{ha}/app:v1"),
            &format!("{hb}/app:v1"),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for h in [&ha, &hb] {
        assert!(
            r.stderr.contains(&format!(
                "verification is OFF for registry {h} (set by --registry-skip-verify, which names no port and so covers every port of localhost, {h} included)"
            )),
            "{}",
            r.stderr
        );
    }
}

/// A k3s registries.yaml serves the build machine's credentials too:
/// `configs.HOST.auth` (username and password, or docker's base64 `auth`) logs in without
/// `slipway login`, and an `auth` that does not decode is bad input naming the file.
#[test]
fn registries_yaml_auth_is_a_credential_source() {
    let m = Mode::new("basic-auth");
    let host = m.reg.host();
    let layout = oci_layout(&m.tmp.path().join("src"), "v1", FILES);
    let write = |name: &str, auth: &str| {
        let p = m.tmp.path().join(name);
        std::fs::write(&p, format!("configs:\n  \"{host}\":\n    auth:\n{auth}")).unwrap();
        p
    };
    // No docker config at all: only the registries config holds the credentials.
    assert!(!m.tmp.path().join("docker/config.json").exists());
    for (name, auth) in [
        (
            "plain.yaml",
            "      username: alice\n      password: s3cret-pw\n",
        ),
        ("b64.yaml", "      auth: YWxpY2U6czNjcmV0LXB3\n"),
    ] {
        let file = write(name, auth);
        let r = m.run(&[
            "--registries-config",
            s(&file),
            "copy",
            &layout.reference(),
            &m.image(&format!("from-{name}:v1")),
        ]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert!(
            !r.stderr.contains("s3cret"),
            "a secret was printed: {}",
            r.stderr
        );
    }
    // Without it, the registry asks and slipway says to log in.
    let r = m.run(&["copy", &layout.reference(), &m.image("none:v1")]);
    assert_ne!(r.code, 0);
    let bad = write("bad.yaml", "      auth: \"not base64!\"\n");
    let r = m.run(&["--registries-config", s(&bad), "tags", &format!("{host}/x")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("bad.yaml")
            && r.stderr
                .contains(&format!("configs.\"{host}\".auth.auth is not base64")),
        "{}",
        r.stderr
    );
}

/// A plain-HTTP proxy in front of a registry that answers some requests itself with an
/// error status, as an overloaded registry or load balancer does, and forwards the rest.
/// `plan` gets (method, path, how many times this method and path came before) and
/// returns the status line and headers to answer with, or `None` to forward. Records
/// every request.
struct Injector {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Injector {
    fn start(
        upstream: u16,
        plan: impl Fn(&str, &str, usize) -> Option<(String, Vec<(String, String)>)>
        + Send
        + Sync
        + 'static,
    ) -> Injector {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (seen2, plan) = (seen.clone(), Arc::new(plan));
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (seen, plan) = (seen2.clone(), plan.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn);
                    let Some(req) = read_request(&mut reader) else {
                        return;
                    };
                    // Each connection carries one request; answers end by closing.
                    let head: String = req
                        .head
                        .split_inclusive("\r\n")
                        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                        .collect();
                    let (method, path, body) = (req.method, req.target, req.body);
                    let key = format!("{method} {path}");
                    let before = {
                        let mut seen = seen.lock().unwrap();
                        let n = seen.iter().filter(|k| **k == key).count();
                        seen.push(key);
                        n
                    };
                    let client = reader.get_mut();
                    if let Some((status, headers)) = plan(&method, &path, before) {
                        let mut resp = format!(
                            "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n"
                        );
                        for (k, v) in headers {
                            resp.push_str(&format!("{k}: {v}\r\n"));
                        }
                        resp.push_str("\r\n");
                        let _ = client.write_all(resp.as_bytes());
                        return;
                    }
                    let Ok(mut up) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                        return;
                    };
                    let _ = up.write_all(head.as_bytes());
                    let _ = up.write_all(b"Connection: close\r\n\r\n");
                    let _ = up.write_all(&body);
                    let _ = std::io::copy(&mut up, client);
                });
            }
        });
        Injector { port, seen }
    }

    /// How many requests `method path` came.
    fn count(&self, key: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|k| *k == key)
            .count()
    }
}

/// 408, 429 and 5xx answers are retried (the 429 with a `Retry-After`), up to three attempts
/// in all; then the error is reported.
#[test]
fn transient_errors_are_retried_honouring_retry_after() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::builder().start();
    let layout = oci_layout(&tmp.path().join("src"), "v1", FILES);
    let direct = json(
        tmp.path(),
        &[
            "--registry-plain-http",
            &reg.host(),
            "copy",
            &layout.reference(),
            &format!("{}/app:v1", reg.host()),
        ],
        &[],
    );
    assert_eq!(direct.code, 0, "{}", direct.stderr);
    let manifest = "GET /v2/app/manifests/v1".to_string();
    let layer = format!("GET /v2/app/blobs/{}", layout.layer_digest);
    let (m2, l2) = (manifest.clone(), layer.clone());
    let proxy = Injector::start(reg.port(), move |method, path, before| {
        let key = format!("{method} {path}");
        let retry_after = vec![("Retry-After".to_string(), "1".to_string())];
        match (key == m2, key == l2, before) {
            (true, _, 0) => Some(("429 Too Many Requests".into(), retry_after)),
            (true, _, 1) => Some(("503 Service Unavailable".into(), vec![])),
            (_, true, 0) => Some(("408 Request Timeout".into(), vec![])),
            (_, true, 1) => Some(("502 Bad Gateway".into(), vec![])),
            _ => None,
        }
    });
    let host = format!("127.0.0.1:{}", proxy.port);
    let dst = tmp.path().join("pulled");
    let r = json(
        tmp.path(),
        &[
            "--registry-plain-http",
            &host,
            "copy",
            &format!("{host}/app:v1"),
            &format!("oci:{}:v1", dst.display()),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["digest"], layout.manifest_digest);
    // How long each retry waits is the client's retry_delay, tested on its own: timings
    // are not asserted here.
    assert_eq!(proxy.count(&manifest), 3, "429, 503, then the answer");
    assert_eq!(proxy.count(&layer), 3, "408, 502, then the layer");

    // A registry that keeps failing: three attempts, then the status is reported.
    let failing = Injector::start(reg.port(), |method, path, _| {
        (method == "GET" && path.contains("/manifests/"))
            .then(|| ("500 Internal Server Error".to_string(), vec![]))
    });
    let host = format!("127.0.0.1:{}", failing.port);
    let r = json(
        tmp.path(),
        &[
            "--registry-plain-http",
            &host,
            "inspect",
            &format!("{host}/app:v1"),
        ],
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("500"), "{}", r.stderr);
    assert_eq!(failing.count("GET /v2/app/manifests/v1"), 3);
}
