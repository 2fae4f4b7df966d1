//! `slipway node trust` against fake node roots (formats, idempotency, backups, bad input)
//! and against the real registry and skopeo (the containers-image library CRI-O and podman
//! use), which must fail before install and succeed after.

mod common;

use std::path::{Path, PathBuf};

use common::{Run, assert_stderr_has, copy_tree, registry_test_cert, slipway, snapshot};
use slipway_testkit::{LeafKind, Registry, Skopeo, TestPki, oci_layout};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn node(root: &Path, args: &[&str]) -> Run {
    let mut a = vec!["--output", "json", "node", "trust"];
    a.extend_from_slice(args);
    a.extend(["--host-root", s(root)]);
    slipway(root, &a, &[])
}

/// A node root with containerd, Docker and CRI-O config folders and a Debian os-release.
fn fake_node() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for dir in ["etc/containerd", "etc/docker", "etc/containers"] {
        std::fs::create_dir_all(d.path().join(dir)).unwrap();
    }
    std::fs::write(
        d.path().join("etc/os-release"),
        "PRETTY_NAME=\"Debian\"\nID=debian\n",
    )
    .unwrap();
    d
}

fn write(root: &Path, path: &str, text: &str) -> PathBuf {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

const USER_CONFIG: &str = "# tuned by ops, keep this comment\nversion = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"registry.k8s.io/pause:3.9\" # pinned\n";

#[test]
fn install_enables_config_path_keeps_the_users_config_and_remove_restores_it() {
    let pki = TestPki::new();
    let n = fake_node();
    let root = n.path();
    write(root, "etc/containerd/config.toml", USER_CONFIG);
    let before = snapshot(root);
    let r = node(
        root,
        &[
            "install",
            "--registry",
            "registry.test:5000",
            "--ca",
            s(pki.ca()),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let config = std::fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap();
    assert!(
        config.starts_with(USER_CONFIG),
        "the user's text survives byte for byte:\n{config}"
    );
    assert!(config.contains("[plugins.\"io.containerd.grpc.v1.cri\".registry]\nconfig_path = \"/etc/containerd/certs.d\""), "{config}");
    assert!(
        r.json["effects"]["containerd"]["restart"][0]
            .as_str()
            .unwrap()
            .contains("config.toml changed")
    );
    let hosts =
        std::fs::read_to_string(root.join("etc/containerd/certs.d/registry.test:5000/hosts.toml"))
            .unwrap();
    assert!(
        hosts.contains("[host.\"https://registry.test:5000\"]")
            && hosts.contains("capabilities = [\"pull\", \"resolve\", \"push\"]"),
        "{hosts}"
    );
    assert!(
        hosts.contains("ca = [\"/etc/containerd/certs.d/registry.test:5000/ca.crt\"]"),
        "ca is a list of node paths: {hosts}"
    );
    assert!(!hosts.contains("referrers"));
    for dir in [
        "etc/containerd/certs.d",
        "etc/docker/certs.d",
        "etc/containers/certs.d",
    ] {
        assert_eq!(
            std::fs::read(root.join(dir).join("registry.test:5000/ca.crt")).unwrap(),
            std::fs::read(pki.ca()).unwrap()
        );
    }

    let again = node(
        root,
        &[
            "install",
            "--registry",
            "registry.test:5000",
            "--ca",
            s(pki.ca()),
        ],
    );
    assert_eq!(again.code, 0);
    assert_eq!(
        again.json["changes"],
        serde_json::json!([]),
        "a second run changes nothing"
    );
    assert!(
        again.json["effects"]["containerd"]["restart"]
            .as_array()
            .unwrap()
            .is_empty(),
        "and restarts nothing"
    );

    let r = node(root, &["remove", "--registry", "registry.test:5000"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(snapshot(root), before, "remove restores the node exactly");
}

#[test]
fn containerd_2_config_uses_the_images_plugin_and_an_existing_config_path_needs_no_restart() {
    let pki = TestPki::new();
    let n = fake_node();
    let root = n.path();
    write(root, "etc/containerd/config.toml", "version = 3\n");
    let r = node(
        root,
        &[
            "install",
            "--registry",
            "r.test",
            "--ca",
            s(pki.ca()),
            "--runtime",
            "containerd",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let config = std::fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap();
    assert!(
        config.contains("[plugins.\"io.containerd.cri.v1.images\".registry]"),
        "{config}"
    );
    assert!(
        !config.contains("[plugins]\n"),
        "no empty parent table: {config}"
    );

    let m = fake_node();
    write(
        m.path(),
        "etc/containerd/config.toml",
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/srv/certs.d:/etc/docker/certs.d\"\n",
    );
    let before = std::fs::read(m.path().join("etc/containerd/config.toml")).unwrap();
    let r = node(
        m.path(),
        &[
            "install",
            "--registry",
            "r.test",
            "--ca",
            s(pki.ca()),
            "--runtime",
            "containerd",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read(m.path().join("etc/containerd/config.toml")).unwrap(),
        before
    );
    assert!(
        m.path().join("srv/certs.d/r.test/hosts.toml").exists(),
        "written to the first config_path folder"
    );
    assert!(
        r.json["effects"]["containerd"]["restart"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        r.json["effects"]["containerd"]["notes"]
            .to_string()
            .contains("does not split")
    );
}

#[test]
fn bad_input_changes_nothing() {
    let pki = TestPki::new();
    let n = fake_node();
    let root = n.path();
    // Legacy mirrors cannot coexist with config_path.
    write(
        root,
        "etc/containerd/config.toml",
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\n  endpoint = [\"https://mirror.test\"]\n",
    );
    let before = snapshot(root);
    let r = node(
        root,
        &["install", "--registry", "r.test", "--ca", s(pki.ca())],
    );
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["config.toml", "legacy", "mirrors"]);
    assert_eq!(snapshot(root), before);
    // config.toml that is not TOML.
    write(root, "etc/containerd/config.toml", "version = [2\n");
    let before = snapshot(root);
    let r = node(
        root,
        &["install", "--registry", "r.test", "--ca", s(pki.ca())],
    );
    assert_eq!(r.code, 2);
    assert_stderr_has(
        &r,
        &["config.toml", "is not valid TOML", "nothing was changed"],
    );
    assert_eq!(snapshot(root), before);
    // daemon.json that is not JSON.
    write(root, "etc/docker/daemon.json", "{\"log-level\": \"warn\",}");
    let before = snapshot(root);
    let r = node(
        root,
        &[
            "install",
            "--registry",
            "r.test",
            "--insecure",
            "--runtime",
            "docker",
        ],
    );
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["daemon.json", "is not valid JSON"]);
    assert_eq!(snapshot(root), before);
    // A CA file that is not a certificate, and hosts with a scheme or a path.
    let junk = write(root, "junk.crt", "hello\n");
    let before = snapshot(root);
    let r = node(
        root,
        &[
            "install",
            "--registry",
            "r.test",
            "--ca",
            s(&junk),
            "--runtime",
            "crio",
        ],
    );
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["junk.crt", "r.test"]);
    for bad in ["http://r.test", "r.test/v2/app"] {
        let r = node(
            root,
            &[
                "install",
                "--registry",
                bad,
                "--ca",
                s(pki.ca()),
                "--runtime",
                "crio",
            ],
        );
        assert_eq!(r.code, 2, "{bad}");
    }
    assert_eq!(snapshot(root), before);
    // A host root that is missing, or a file: bad input too, naming it.
    let file = write(root, "not-a-folder", "x\n");
    for (host_root, why) in [
        (root.join("missing"), "does not exist"),
        (file.clone(), "is not a folder"),
    ] {
        let r = node(
            &host_root,
            &["install", "--registry", "r.test", "--ca", s(pki.ca())],
        );
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert_stderr_has(&r, &[s(&host_root), why]);
    }
}

#[test]
fn docker_insecure_merges_daemon_json_keeping_every_other_key() {
    let n = fake_node();
    let root = n.path();
    write(
        root,
        "etc/docker/daemon.json",
        "{\n  \"storage-driver\": \"overlay2\",\n  \"log-opts\": {\"max-size\": \"10m\"},\n  \"insecure-registries\": [\"old.test:5000\"]\n}\n",
    );
    let before = snapshot(root);
    let r = node(
        root,
        &[
            "install",
            "--registry",
            "r.test:5000",
            "--insecure",
            "--runtime",
            "docker",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_stderr_has(&r, &["--insecure", "OFF", "r.test:5000"]);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("etc/docker/daemon.json")).unwrap())
            .unwrap();
    assert_eq!(
        json["insecure-registries"],
        serde_json::json!(["old.test:5000", "r.test:5000"])
    );
    assert_eq!(json["storage-driver"], "overlay2");
    assert_eq!(json["log-opts"]["max-size"], "10m");
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["storage-driver", "log-opts", "insecure-registries"],
        "key order kept"
    );
    assert!(
        r.json["effects"]["docker"]["reload"][0]
            .as_str()
            .unwrap()
            .contains("SIGHUP")
    );
    assert_eq!(node(root, &["remove", "--registry", "r.test:5000"]).code, 0);
    assert_eq!(snapshot(root), before);
}

#[test]
fn os_store_paths_and_refresh_commands_follow_the_distro_family() {
    let pki = TestPki::new();
    for (os_release, dir, cmd) in [
        (
            "ID=ubuntu\nID_LIKE=debian\n",
            "usr/local/share/ca-certificates",
            "update-ca-certificates",
        ),
        (
            "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n",
            "etc/pki/ca-trust/source/anchors",
            "update-ca-trust",
        ),
        (
            "ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n",
            "etc/pki/trust/anchors",
            "update-ca-certificates",
        ),
        (
            "ID=alpine\n",
            "usr/local/share/ca-certificates",
            "update-ca-certificates",
        ),
        (
            "ID=arch\n",
            "etc/ca-certificates/trust-source/anchors",
            "update-ca-trust",
        ),
    ] {
        let n = tempfile::tempdir().unwrap();
        write(n.path(), "etc/os-release", os_release);
        let r = node(
            n.path(),
            &[
                "install",
                "--registry",
                "r.test:5000",
                "--ca",
                s(pki.ca()),
                "--system-store",
                "--dry-run",
            ],
        );
        assert_eq!(r.code, 0, "{os_release}: {}", r.stderr);
        assert_eq!(
            r.json["changes"][0]["path"],
            format!("/{dir}/slipway-r.test_5000.crt"),
            "{os_release}"
        );
        assert_eq!(
            r.json["effects"]["os-store"]["commands"][0][0], cmd,
            "{os_release}"
        );
        assert!(
            r.json["effects"]["os-store"]["restart"][0]
                .as_str()
                .unwrap()
                .contains("Go loads the system roots once")
        );
        assert!(snapshot(n.path()).len() == 1, "dry run writes nothing");
    }
    let n = tempfile::tempdir().unwrap();
    write(n.path(), "etc/os-release", "ID=plan9\n");
    let r = node(
        n.path(),
        &[
            "install",
            "--registry",
            "r.test",
            "--ca",
            s(pki.ca()),
            "--system-store",
            "--dry-run",
        ],
    );
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["unknown distro", "plan9"]);
}

#[test]
fn skopeo_pulls_through_the_certs_d_install_writes_and_verify_handshakes() {
    for kind in [LeafKind::CaSigned, LeafKind::SelfSignedOpenssl] {
        let pki = TestPki::new();
        let cert = pki.server_cert(kind);
        let reg = Registry::builder().tls(&cert).start();
        let host = reg.host();
        let tmp = tempfile::tempdir().unwrap();
        let layout = oci_layout(&tmp.path().join("src"), "v1", &[("hello.txt", b"hello\n")]);
        let flag = format!("--registry-ca={host}={}", s(&cert.trust));
        let r = slipway(
            tmp.path(),
            &[
                "--output",
                "json",
                &flag,
                "copy",
                &layout.reference(),
                &format!("{host}/app:v1"),
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);

        let n = fake_node();
        let certs = n.path().join("etc/containers/certs.d").join(&host);
        let image = format!("docker://{host}/app:v1");
        let err = Skopeo::new().cert_dir(&certs).inspect(&image).unwrap_err();
        assert!(
            err.stderr
                .contains("x509: certificate signed by unknown authority"),
            "{kind:?}: {}",
            err.stderr
        );
        let r = node(
            n.path(),
            &[
                "verify",
                "--registry",
                &host,
                "--ca",
                s(&cert.trust),
                "--runtime",
                "crio",
            ],
        );
        assert_eq!(r.code, 1, "verify fails before install");

        let r = node(
            n.path(),
            &["install", "--registry", &host, "--ca", s(&cert.trust)],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(
            Skopeo::new()
                .cert_dir(&certs)
                .manifest_digest(&image)
                .unwrap(),
            layout.manifest_digest,
            "{kind:?}"
        );
        let r = node(
            n.path(),
            &["verify", "--registry", &host, "--ca", s(&cert.trust)],
        );
        assert_eq!(r.code, 0, "{kind:?}: {}", r.stdout);
        for rt in ["containerd", "docker", "crio"] {
            assert_eq!(r.json["verdicts"][rt], "ok", "{kind:?} {rt}: {}", r.stdout);
        }
    }
}

#[test]
fn mtls_client_pair_is_written_0600_and_verify_presents_it() {
    let pki = TestPki::new();
    let client = pki.client_cert();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .client_ca(&client.ca)
        .start();
    let n = fake_node();
    let args = [
        "--registry",
        &reg.host(),
        "--ca",
        s(pki.ca()),
        "--client-cert",
        s(&client.cert),
        "--client-key",
        s(&client.key),
        "--runtime",
        "all",
    ];
    let r = node(n.path(), &[&["install"][..], &args].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    use std::os::unix::fs::PermissionsExt;
    let key = n
        .path()
        .join("etc/containerd/certs.d")
        .join(reg.host())
        .join("client.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let hosts = std::fs::read_to_string(key.with_file_name("hosts.toml")).unwrap();
    assert!(hosts.contains("client = [["), "{hosts}");
    let r = node(n.path(), &[&["verify"][..], &args].concat());
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json["verdicts"]["containerd"], "ok");
}

/// The containerd message for an unknown authority, with the port and digests made stable.
fn normalize(msg: &str, port: u16) -> String {
    let mut out = msg.replace(&port.to_string(), "PORT");
    while let Some(i) = out.find("sha256:") {
        let end = out[i + 7..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .map_or(out.len(), |e| i + 7 + e);
        out.replace_range(i..end, "DIGEST");
    }
    out
}

/// Starts a registry serving a self-signed certificate as users make it (`openssl req
/// -x509`, marked CA:TRUE) for registry.test; returns it and the certificate's file.
fn self_signed_registry(tmp: &Path) -> (Registry, PathBuf) {
    let (key, crt) = (tmp.join("self.key"), tmp.join("self.crt"));
    slipway_testkit::openssl_self_signed(
        &crt,
        &key,
        "registry.test",
        "DNS:registry.test,DNS:localhost,IP:127.0.0.1",
    );
    let reg = Registry::builder()
        .tls(&slipway_testkit::ServerCert {
            chain: crt.clone(),
            key,
            trust: crt.clone(),
        })
        .start();
    (reg, crt)
}

/// Pushes a one-file image to `HOST/app:v1` with slipway, trusting the registry with
/// `flags`.
fn push_hello(tmp: &Path, host: &str, flags: &[String]) {
    let layout = oci_layout(
        &tmp.join(format!("src-{}", host.replace(':', "_"))),
        "v1",
        &[("hello.txt", b"hello\n")],
    );
    let (image, source) = (format!("{host}/app:v1"), layout.reference());
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.extend(["copy", &source, &image]);
    let r = slipway(tmp, &args, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Starts the real containerd on a node root whose config.toml is `config`, resolving
/// `registry.test` to 127.0.0.1.
fn containerd_with(root: &Path, config: &str) -> slipway_testkit::Containerd {
    write(root, "etc/containerd/config.toml", config);
    slipway_testkit::Containerd::start(root, &["registry.test"])
}

#[test]
fn containerd_cri_pull_fails_with_x509_until_install_enables_config_path_and_writes_hosts_toml() {
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    std::fs::create_dir_all(&pki_dir).unwrap();
    let cert = registry_test_cert(&pki_dir);
    let reg = Registry::builder().tls(&cert).start();
    push_hello(
        tmp.path(),
        &reg.host(),
        &[format!("--registry-ca={}={}", reg.host(), s(&cert.trust))],
    );

    let root = tmp.path().join("node");
    let mut ctd = containerd_with(
        &root,
        "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  snapshotter = \"native\"\n",
    );
    let registry = format!("registry.test:{}", reg.port());
    let image = format!("{registry}/app:v1");

    let err = ctd
        .cri_pull(&image)
        .expect_err("a pull before install must fail");
    assert!(
        err.contains("x509: certificate signed by unknown authority"),
        "{err}\n{}",
        ctd.log()
    );
    // Keep the real message: the deploy-side diagnosis classifies exactly this text.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../trust/tests/fixtures/containerd-1.6-cri-unknown-authority.txt");
    let got = normalize(&err, reg.port());
    if std::env::var_os("SLIPWAY_UPDATE_FIXTURES").is_some() {
        std::fs::create_dir_all(fixture.parent().unwrap()).unwrap();
        std::fs::write(&fixture, format!("{got}\n")).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&fixture)
            .expect("fixture (SLIPWAY_UPDATE_FIXTURES=1 writes it)")
            .trim_end(),
        got
    );

    let r = node(
        &root,
        &[
            "install",
            "--registry",
            &registry,
            "--ca",
            s(&cert.trust),
            "--runtime",
            "containerd",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.json["effects"]["containerd"]["restart"]
            .as_array()
            .unwrap()
            .len()
            == 1,
        "config.toml changed: restart"
    );
    ctd.restart();
    let image_ref = ctd
        .cri_pull(&image)
        .unwrap_or_else(|e| panic!("pull after install: {e}\n{}", ctd.log()));
    assert!(image_ref.starts_with("sha256:"), "{image_ref}");

    // hosts.toml is read on every pull: a second registry needs no restart.
    let again = node(
        &root,
        &[
            "install",
            "--registry",
            &registry,
            "--ca",
            s(&cert.trust),
            "--runtime",
            "containerd",
        ],
    );
    assert_eq!(again.json["changes"], serde_json::json!([]));
}

#[test]
fn containerd_pulls_through_a_pinned_self_signed_registry_and_an_mtls_registry_without_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let (self_signed, crt) = self_signed_registry(tmp.path());

    let pki_dir = tmp.path().join("pki");
    std::fs::create_dir_all(&pki_dir).unwrap();
    let cert = registry_test_cert(&pki_dir);
    let client_pki = TestPki::new();
    let client = client_pki.client_cert();
    let mtls = Registry::builder().tls(&cert).client_ca(&client.ca).start();

    let layout = oci_layout(&tmp.path().join("src"), "v1", &[("hello.txt", b"hello\n")]);
    let push = |reg: &Registry, extra: &[String]| {
        let mut args: Vec<String> = extra.to_vec();
        args.extend([
            "copy".into(),
            layout.reference(),
            format!("{}/app:v1", reg.host()),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = slipway(tmp.path(), &args, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    };
    push(
        &self_signed,
        &[format!("--registry-ca={}={}", self_signed.host(), s(&crt))],
    );
    push(
        &mtls,
        &[
            format!("--registry-ca={}={}", mtls.host(), s(&cert.trust)),
            format!(
                "--registry-client-cert={}={},{}",
                mtls.host(),
                s(&client.cert),
                s(&client.key)
            ),
        ],
    );

    let root = tmp.path().join("node");
    write(
        &root,
        "etc/containerd/config.toml",
        "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  snapshotter = \"native\"\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n",
    );
    let ctd = slipway_testkit::Containerd::start(&root, &["registry.test"]);
    let (a, b) = (
        format!("registry.test:{}", self_signed.port()),
        format!("registry.test:{}", mtls.port()),
    );

    assert!(
        ctd.cri_pull(&format!("{a}/app:v1"))
            .unwrap_err()
            .contains("x509")
    );
    let r = node(
        &root,
        &[
            "install",
            "--registry",
            &a,
            "--ca",
            s(&crt),
            "--runtime",
            "containerd",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.json["effects"]["containerd"]["restart"]
            .as_array()
            .unwrap()
            .is_empty(),
        "config_path was set: no restart"
    );
    ctd.cri_pull(&format!("{a}/app:v1"))
        .unwrap_or_else(|e| panic!("pinned self-signed: {e}"));

    let err = ctd.cri_pull(&format!("{b}/app:v1")).unwrap_err();
    assert!(
        err.contains("x509: certificate signed by unknown authority"),
        "{err}"
    );
    let r = node(
        &root,
        &[
            "install",
            "--registry",
            &b,
            "--ca",
            s(&cert.trust),
            "--client-cert",
            s(&client.cert),
            "--client-key",
            s(&client.key),
            "--runtime",
            "containerd",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    ctd.cri_pull(&format!("{b}/app:v1"))
        .unwrap_or_else(|e| panic!("mTLS: {e}\n{}", ctd.log()));
}

#[test]
fn an_install_killed_at_any_moment_leaves_every_file_old_or_new() {
    let pki = TestPki::new();
    let template = fake_node();
    write(template.path(), "etc/containerd/config.toml", USER_CONFIG);
    write(
        template.path(),
        "etc/docker/daemon.json",
        "{\"log-level\": \"warn\"}\n",
    );
    let args = |root: &Path| -> Vec<String> {
        [
            "node",
            "trust",
            "install",
            "--registry",
            "r.test:5000",
            "--ca",
            s(pki.ca()),
            "--insecure",
            "--runtime",
            "all",
            "--host-root",
            s(root),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    // What a finished install writes.
    let done = tempfile::tempdir().unwrap();
    copy_tree(template.path(), done.path());
    assert_eq!(
        slipway(
            done.path(),
            &args(done.path())
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            &[]
        )
        .code,
        0
    );
    let new = snapshot(done.path());
    let old = snapshot(template.path());
    let rel = |m: &std::collections::BTreeMap<PathBuf, Vec<u8>>,
               base: &Path|
     -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
        m.iter()
            .map(|(k, v)| (k.strip_prefix(base).unwrap().to_path_buf(), v.clone()))
            .collect()
    };
    let (old, new) = (rel(&old, template.path()), rel(&new, done.path()));
    // How many kills landed in the middle: some files written and others not yet, or a
    // temporary file left. At least one must, or the test proves nothing.
    let mut mid_write = 0;
    for delay_us in (0..40_000u64).step_by(400) {
        let root = tempfile::tempdir().unwrap();
        copy_tree(template.path(), root.path());
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args(args(root.path()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(delay_us));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let state = rel(&snapshot(root.path()), root.path());
        let mut files = state.clone();
        let left = files
            .extract_if(.., |p, _| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(".slipway-"))
            })
            .count();
        if left > 0 || (files != old && files != new) {
            mid_write += 1;
        }
        for (path, bytes) in state {
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".slipway-"))
            {
                continue; // a temp file the kill left behind is never read by a runtime
            }
            let ok = old.get(&path) == Some(&bytes) || new.get(&path) == Some(&bytes);
            assert!(
                ok,
                "after SIGKILL at {delay_us} us, {} is neither old nor new",
                path.display()
            );
        }
    }
    assert!(
        mid_write > 0,
        "no kill landed while the install was writing"
    );
}

#[test]
fn dockerd_accepts_the_merged_daemon_json_and_reloads_insecure_registries_on_sighup() {
    let n = fake_node();
    let root = n.path();
    let original = "{\n  \"log-level\": \"warn\",\n  \"max-concurrent-downloads\": 4,\n  \"insecure-registries\": [\"old.test:5000\"]\n}\n";
    write(root, "etc/docker/daemon.json", original);
    let dockerd = slipway_testkit::Dockerd::start(root);
    let insecure = |d: &slipway_testkit::Dockerd| {
        d.docker(&["info", "--format", "{{json .RegistryConfig.IndexConfigs}}"])
            .unwrap()
    };
    assert!(!insecure(&dockerd).contains("r.test:5000"));

    let r = node(
        root,
        &[
            "install",
            "--registry",
            "r.test:5000",
            "--insecure",
            "--runtime",
            "docker",
            "--restart-runtime",
            "auto",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.json["effects"]["docker"]["notes"]
            .to_string()
            .contains("SIGHUP docker: sent to pid"),
        "{}",
        r.stdout
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let info = loop {
        let info = insecure(&dockerd);
        if info.contains("r.test:5000") || std::time::Instant::now() > deadline {
            break info;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let configs: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(
        configs["r.test:5000"]["Secure"],
        false,
        "{info}\n{}",
        dockerd.log()
    );
    assert_eq!(
        configs["old.test:5000"]["Secure"], false,
        "the user's entry stays"
    );
    assert!(
        !dockerd
            .log()
            .contains("unable to configure the Docker daemon"),
        "{}",
        dockerd.log()
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("etc/docker/daemon.json")).unwrap())
            .unwrap();
    assert_eq!(json["log-level"], "warn");
    assert_eq!(json["max-concurrent-downloads"], 4);
}

fn s_client_in(root: &Path, port: u16) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("chroot")
        .arg(root)
        .args([
            "openssl",
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
            "-verify_return_error",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chroot");
    child.stdin.take().unwrap().write_all(b"").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && text.contains("Verify return code: 0 (ok)"),
        text,
    )
}

#[test]
fn system_store_makes_openssl_in_a_debian_root_trust_the_registry_and_remove_undoes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    std::fs::create_dir_all(&pki_dir).unwrap();
    let cert = registry_test_cert(&pki_dir);
    let reg = Registry::builder().tls(&cert).start();
    let root = slipway_testkit::debian_root();
    let (ok, out) = s_client_in(root.path(), reg.port());
    assert!(
        !ok,
        "before install the chroot must not trust the registry:\n{out}"
    );

    let r = node(
        root.path(),
        &[
            "install",
            "--registry",
            &reg.host(),
            "--ca",
            s(&cert.trust),
            "--system-store",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.json["changes"][0]["path"],
        format!(
            "/usr/local/share/ca-certificates/slipway-localhost_{}.crt",
            reg.port()
        )
    );
    assert!(
        r.json["effects"]["os-store"]["notes"]
            .to_string()
            .contains("ran `update-ca-certificates`: ok"),
        "{}",
        r.stdout
    );
    let (ok, out) = s_client_in(root.path(), reg.port());
    assert!(ok, "after install:\n{out}");

    let r = node(root.path(), &["remove", "--registry", &reg.host()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (ok, _) = s_client_in(root.path(), reg.port());
    assert!(!ok, "remove takes the CA out of the rebuilt bundle again");
}

#[test]
fn migrate_legacy_moves_mirrors_and_tls_configs_into_hosts_toml() {
    let pki = TestPki::new();
    let n = fake_node();
    let root = n.path();
    write(
        root,
        "etc/containerd/config.toml",
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\n  endpoint = [\"https://mirror.corp.test\"]\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"mirror.corp.test\".tls]\n  ca_file = \"/etc/corp/ca.pem\"\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"old.corp.test:5000\".tls]\n  insecure_skip_verify = true\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"old.corp.test:5000\".auth]\n  username = \"ci\"\n",
    );
    let before = snapshot(root);
    let refused = node(
        root,
        &[
            "install",
            "--registry",
            "r.test",
            "--ca",
            s(pki.ca()),
            "--runtime",
            "containerd",
        ],
    );
    assert_eq!(refused.code, 2);
    assert_stderr_has(&refused, &["--migrate-legacy"]);
    let r = node(
        root,
        &[
            "install",
            "--registry",
            "r.test",
            "--ca",
            s(pki.ca()),
            "--runtime",
            "containerd",
            "--migrate-legacy",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let config = std::fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap();
    assert!(
        !config.contains("mirrors") && !config.contains(".tls]"),
        "{config}"
    );
    assert!(
        config.contains("config_path = \"/etc/containerd/certs.d\""),
        "{config}"
    );
    assert!(
        config.contains("username = \"ci\""),
        "auth entries stay: {config}"
    );
    let hub =
        std::fs::read_to_string(root.join("etc/containerd/certs.d/docker.io/hosts.toml")).unwrap();
    assert!(
        hub.contains("server = \"https://registry-1.docker.io\"")
            && hub.contains("[host.\"https://mirror.corp.test\"]")
            && hub.contains("ca = [\"/etc/corp/ca.pem\"]"),
        "{hub}"
    );
    let old =
        std::fs::read_to_string(root.join("etc/containerd/certs.d/old.corp.test:5000/hosts.toml"))
            .unwrap();
    assert!(old.contains("skip_verify = true"), "{old}");
    assert!(
        root.join("etc/containerd/certs.d/r.test/hosts.toml")
            .exists()
    );
    assert_eq!(node(root, &["remove", "--registry", "r.test"]).code, 0);
    assert_eq!(
        snapshot(root),
        before,
        "remove restores the legacy config exactly"
    );
}

#[test]
fn cluster_trust_manifest_prints_the_agent_objects_and_refuses_a_bad_bundle() {
    let pki = TestPki::new();
    let d = tempfile::tempdir().unwrap();
    let trust = format!("registry.test:5000={}", s(pki.ca()));
    let r = slipway(
        d.path(),
        &[
            "--output",
            "json",
            "cluster",
            "trust",
            "manifest",
            "--trust",
            &trust,
            "--agent-image",
            "ghcr.io/example/slipway:0.1",
            "--runtime",
            "containerd",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let kinds: Vec<&str> = r.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "DaemonSet"
        ]
    );
    let script = r.json["items"][5]["spec"]["template"]["spec"]["containers"][0]["command"][2]
        .as_str()
        .unwrap();
    assert!(script.contains("--runtime containerd"), "{script}");
    let yaml = slipway(
        d.path(),
        &[
            "cluster",
            "trust",
            "manifest",
            "--trust",
            &trust,
            "--agent-image",
            "x",
        ],
        &[],
    );
    assert_eq!(yaml.code, 0);
    assert_eq!(
        yaml.stdout.matches("\n---\n").count() + usize::from(yaml.stdout.starts_with("---\n")),
        6,
        "six YAML documents"
    );
    let junk = write(d.path(), "junk.crt", "not a certificate\n");
    let r = slipway(
        d.path(),
        &[
            "cluster",
            "trust",
            "manifest",
            "--trust",
            &format!("registry.test:5000={}", s(&junk)),
            "--agent-image",
            "x",
        ],
        &[],
    );
    assert_eq!(r.code, 2);
    assert_stderr_has(&r, &["junk.crt", "registry.test:5000"]);
}

/// A containerd config of version 1 (`plugins.cri`) gets `config_path` in its own plugin
/// key, and `--insecure` (test environments only) lets the real containerd pull from a
/// registry whose certificate it was given nothing for, after the restart install reports.
#[test]
fn containerd_v1_config_and_insecure_are_read_by_the_real_containerd() {
    let tmp = tempfile::tempdir().unwrap();
    let (reg, crt) = self_signed_registry(tmp.path());
    push_hello(
        tmp.path(),
        &reg.host(),
        &[format!("--registry-ca={}={}", reg.host(), s(&crt))],
    );

    let root = tmp.path().join("node");
    let mut ctd = containerd_with(
        &root,
        "version = 1\n\n[plugins.cri.containerd]\n  snapshotter = \"native\"\n",
    );
    let a = format!("registry.test:{}", reg.port());
    let err = ctd.cri_pull(&format!("{a}/app:v1")).unwrap_err();
    assert!(err.contains("x509"), "{err}");
    let r = node(
        &root,
        &[
            "install",
            "--registry",
            &a,
            "--insecure",
            "--runtime",
            "containerd",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let config = std::fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap();
    assert!(
        config.contains("[plugins.cri.registry]")
            && config.contains("config_path = \"/etc/containerd/certs.d\""),
        "{config}"
    );
    assert!(
        !r.json["effects"]["containerd"]["restart"]
            .as_array()
            .unwrap()
            .is_empty(),
        "config_path was added: containerd must restart"
    );
    ctd.restart();
    ctd.cri_pull(&format!("{a}/app:v1"))
        .unwrap_or_else(|e| panic!("--insecure: {e}\n{}", ctd.log()));
}

/// The CRI-O drop-in `--insecure` writes (`registries.conf.d`) is read by
/// containers/image itself: skopeo, with the node's `/etc/containers` mounted in its place
/// (a private mount namespace), reaches a registry it was given no CA for only afterwards.
#[test]
fn the_crio_insecure_drop_in_is_read_by_skopeo() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    let layout = oci_layout(&tmp.path().join("src"), "v1", &[("hello.txt", b"hello\n")]);
    let ca = format!("--registry-ca={}={}", reg.host(), s(pki.ca()));
    let image = format!("{}/app:v1", reg.host());
    let r = slipway(tmp.path(), &[&ca, "copy", &layout.reference(), &image], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let root = tmp.path().join("node");
    std::fs::create_dir_all(root.join("etc/containers")).unwrap();
    write(
        &root,
        "etc/containers/registries.conf",
        "unqualified-search-registries = []\n",
    );
    // skopeo, reading the node's /etc/containers instead of the machine's.
    let skopeo = || {
        std::process::Command::new("unshare")
            .args(["-m", "sh", "-c"])
            .arg(format!(
                "mount --bind {} /etc/containers && skopeo inspect --raw docker://{image}",
                s(&root.join("etc/containers"))
            ))
            .output()
            .expect("unshare and skopeo")
    };
    let before = skopeo();
    assert!(!before.status.success());
    let err = String::from_utf8_lossy(&before.stderr);
    assert!(err.contains("x509"), "{err}");
    let r = node(
        &root,
        &[
            "install",
            "--registry",
            &reg.host(),
            "--insecure",
            "--runtime",
            "crio",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = skopeo();
    assert!(
        after.status.success(),
        "{}",
        String::from_utf8_lossy(&after.stderr)
    );
    let drop_in = std::fs::read_dir(root.join("etc/containers/registries.conf.d"))
        .unwrap()
        .count();
    assert_eq!(drop_in, 1);
}
