//! Bearer-token auth, as Harbor, GitLab and hosted registries use it: the real Distribution
//! with `auth: token`, in front of the test kit's token server, which signs JWTs with a key
//! whose certificate is Distribution's `rootcertbundle`. Login, push, pull, a
//! cross-repository mount, identity (refresh) tokens, and where credentials may go.

mod common;

use std::io::Read;
use std::net::TcpListener;

use common::{Run, slipway_stdin};
use slipway_testkit::{LeafKind, Registry, TestPki, TokenServer, oci_layout};

const FILES: &[(&str, &[u8])] = &[("etc/app.conf", b"greeting = hello\n")];

struct Rig {
    tmp: tempfile::TempDir,
    pki: TestPki,
    tokens: TokenServer,
    reg: Registry,
}

impl Rig {
    fn new() -> Rig {
        let pki = TestPki::new();
        let tokens = TokenServer::start(
            &pki.server_cert(LeafKind::CaSigned),
            &[("alice", "s3cret-pw")],
            &[("refresh-abc", "alice")],
        );
        let reg = Registry::builder()
            .tls(&pki.server_cert(LeafKind::CaSigned))
            .token_auth(tokens.auth())
            .start();
        Rig {
            tmp: tempfile::tempdir().unwrap(),
            pki,
            tokens,
            reg,
        }
    }

    /// Runs slipway trusting the kit's CA for every port of localhost (the registry and its
    /// token server), with `docker` as DOCKER_CONFIG.
    fn run(&self, docker: &str, args: &[&str], stdin: Option<&str>) -> Run {
        let ca = format!("--registry-ca=localhost={}", self.pki.ca().display());
        let mut a = vec!["--output", "json", &ca];
        a.extend_from_slice(args);
        let config = self.tmp.path().join(docker);
        slipway_stdin(
            self.tmp.path(),
            &a,
            &[("DOCKER_CONFIG", config.to_str().unwrap())],
            stdin,
        )
    }

    fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.reg.host())
    }
}

#[test]
fn login_push_pull_and_mount_through_a_token_server() {
    let rig = Rig::new();
    let layout = oci_layout(&rig.tmp.path().join("src"), "v1", FILES);
    let host = rig.reg.host();

    // No credentials: the token server refuses, and slipway says to log in.
    let r = rig.run("none", &["tags", &rig.image("app")], None);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("answered 401") && r.stderr.contains(&format!("slipway login {host}")),
        "{}",
        r.stderr
    );

    // Login checks the credentials through the token server, then stores them.
    let r = rig.run(
        "docker",
        &["login", &host, "-u", "alice", "--password-stdin"],
        Some("s3cret-pw\n"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let wrong = rig.run(
        "other",
        &["login", &host, "-u", "alice", "--password-stdin"],
        Some("wrong\n"),
    );
    assert_ne!(wrong.code, 0);
    assert!(!wrong.stderr.contains("wrong"), "{}", wrong.stderr);

    // Push, then pull back: the same digest.
    let r = rig.run(
        "docker",
        &["copy", &layout.reference(), &rig.image("app:v1")],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["digest"], layout.manifest_digest);
    let dst = rig.tmp.path().join("pulled");
    let r = rig.run(
        "docker",
        &[
            "copy",
            &rig.image("app:v1"),
            &format!("oci:{}:v1", dst.display()),
        ],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["digest"], layout.manifest_digest);

    // Into another repository of the same registry: the blobs are mounted, with a token
    // that holds pull on the source repository too.
    let r = rig.run(
        "docker",
        &["copy", &rig.image("app:v1"), &rig.image("other:v1")],
        None,
    );
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
    let asked = rig.tokens.requests();
    assert!(
        asked.iter().any(|t| t.granted
            && t.scopes.contains(&"repository:other:pull,push".to_string())
            && t.scopes.contains(&"repository:app:pull".to_string())),
        "{asked:#?}"
    );
    // Every token came for alice's Basic credentials, over HTTPS (the server speaks
    // nothing else).
    assert!(
        asked
            .iter()
            .filter(|t| t.granted)
            .all(|t| t.basic_user.as_deref() == Some("alice")),
        "{asked:#?}"
    );
}

#[test]
fn an_identity_token_is_exchanged_for_access_tokens() {
    let rig = Rig::new();
    let layout = oci_layout(&rig.tmp.path().join("src"), "v1", FILES);
    let host = rig.reg.host();
    let config = rig.tmp.path().join("docker/config.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        serde_json::json!({ "auths": { host.clone(): { "identitytoken": "refresh-abc" } } })
            .to_string(),
    )
    .unwrap();
    let r = rig.run(
        "docker",
        &["copy", &layout.reference(), &rig.image("app:v1")],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let asked = rig.tokens.requests();
    assert!(!asked.is_empty());
    for t in &asked {
        assert_eq!(t.method, "POST", "{asked:#?}");
        assert_eq!(t.grant_type.as_deref(), Some("refresh_token"));
        assert_eq!(t.basic_user, None, "no password went anywhere");
        assert!(t.granted);
    }
    // A refresh token the server does not know is refused.
    std::fs::write(
        &config,
        serde_json::json!({ "auths": { host.clone(): { "identitytoken": "stale" } } }).to_string(),
    )
    .unwrap();
    let r = rig.run("docker", &["tags", &rig.image("app")], None);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("answered 401"), "{}", r.stderr);
}

/// A token realm over plain HTTP never gets the credentials: slipway refuses before
/// sending anything there.
#[test]
fn credentials_never_go_to_a_plain_http_token_realm() {
    let pki = TestPki::new();
    let tmp = tempfile::tempdir().unwrap();
    let realm = TcpListener::bind("127.0.0.1:0").unwrap();
    let realm_port = realm.local_addr().unwrap().port();
    realm.set_nonblocking(true).unwrap();
    let tokens = TokenServer::start(&pki.server_cert(LeafKind::CaSigned), &[], &[]);
    let mut auth = tokens.auth().clone();
    auth.realm = format!("http://localhost:{realm_port}/token");
    let reg = Registry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .token_auth(&auth)
        .start();
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let b64 = "YWxpY2U6czNjcmV0LXB3"; // alice:s3cret-pw
    std::fs::write(
        docker.join("config.json"),
        format!(
            "{{\"auths\": {{\"{}\": {{\"auth\": \"{b64}\"}}}}}}",
            reg.host()
        ),
    )
    .unwrap();
    let ca = format!("--registry-ca=localhost={}", pki.ca().display());
    let r = slipway_stdin(
        tmp.path(),
        &[&ca, "tags", &format!("{}/app", reg.host())],
        &[("DOCKER_CONFIG", docker.to_str().unwrap())],
        None,
    );
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("refusing to send credentials to the plain-HTTP token endpoint"),
        "{}",
        r.stderr
    );
    // Nothing reached the plain-HTTP realm.
    let mut got = Vec::new();
    while let Ok((mut conn, _)) = realm.accept() {
        let _ = conn.read_to_end(&mut got);
    }
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
}
