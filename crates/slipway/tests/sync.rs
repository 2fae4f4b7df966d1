//! `slipway sync` between two real TLS registries (and into OCI layouts): what reaches the
//! destination is checked with skopeo, what crossed the wire with the destination
//! registry's own access log, and tag filters against `skopeo sync` itself.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::Run;
use serde_json::Value;
use slipway_testkit::{
    ImageLayout, LeafKind, Registry, Skopeo, TestPki, cert_dir, oci_layout_layers,
};

/// Two CA-signed TLS registries, the source filled with images on one shared base.
struct Mirror {
    src: Registry,
    dst: Registry,
    pki: TestPki,
    tmp: tempfile::TempDir,
    skopeo: Skopeo,
    /// Each pushed image: repository:tag and its layout.
    images: Vec<(String, ImageLayout)>,
}

const BASE: &[(&str, &[u8])] = &[("etc/os-release", b"ID=base\nVERSION_ID=1\n")];

impl Mirror {
    fn new() -> Mirror {
        let pki = TestPki::new();
        let src = Registry::builder()
            .tls(&pki.server_cert(LeafKind::CaSigned))
            .start();
        let dst = Registry::builder()
            .tls(&pki.server_cert(LeafKind::CaSigned))
            .access_log()
            .start();
        let tmp = tempfile::tempdir().unwrap();
        let skopeo = Skopeo::new().cert_dir(&cert_dir(&tmp.path().join("sk"), &[pki.ca()], None));
        let mut m = Mirror {
            src,
            dst,
            pki,
            tmp,
            skopeo,
            images: vec![],
        };
        // team/app: v1, v1.1, v2 and latest (= v2); team/web: v1. All share the base layer.
        for (repo, tag, body) in [
            ("team/app", "v1", "app 1.0"),
            ("team/app", "v1.1", "app 1.1"),
            ("team/app", "v2", "app 2.0"),
            ("team/app", "latest", "app 2.0"),
            ("team/web", "v1", "web 1.0"),
        ] {
            m.push(repo, tag, body);
        }
        m
    }

    fn push(&mut self, repo: &str, tag: &str, body: &str) {
        let dir = self.tmp.path().join("layouts").join(repo).join(tag);
        let own: &[(&str, &[u8])] = &[("srv/version", body.as_bytes())];
        let layout = oci_layout_layers(&dir, tag, &[BASE, own]);
        self.skopeo
            .copy(
                &layout.reference(),
                &format!("docker://{}/{repo}:{tag}", self.src.host()),
            )
            .unwrap();
        self.images.push((format!("{repo}:{tag}"), layout));
    }

    fn certs_d(&self) -> PathBuf {
        let d = self.tmp.path().join("empty-certs.d");
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Runs slipway trusting both registries' CA.
    fn run(&self, args: &[&str]) -> Run {
        let ca = self.pki.ca().display().to_string();
        let trust = [
            format!("--registry-ca={}={ca}", self.src.host()),
            format!("--registry-ca={}={ca}", self.dst.host()),
        ];
        let mut a: Vec<&str> = trust.iter().map(String::as_str).collect();
        a.extend_from_slice(args);
        common::slipway(&self.certs_d(), &a, &[])
    }

    fn json(&self, args: &[&str]) -> Run {
        let mut a = vec!["--output", "json"];
        a.extend_from_slice(args);
        self.run(&a)
    }

    fn s(&self, repo: &str) -> String {
        format!("{}/{repo}", self.src.host())
    }

    fn d(&self, repo: &str) -> String {
        format!("{}/{repo}", self.dst.host())
    }

    fn layout(&self, image: &str) -> &ImageLayout {
        &self.images.iter().find(|(n, _)| n == image).unwrap().1
    }

    /// The tags skopeo lists for a destination repository (empty when it does not exist).
    fn dst_tags(&self, repo: &str) -> BTreeSet<String> {
        self.skopeo
            .list_tags(&self.d(repo))
            .map(|t| t.into_iter().collect())
            .unwrap_or_default()
    }

    /// Requests the destination answered that wrote something.
    fn writes(&self) -> Vec<String> {
        self.dst
            .requests()
            .into_iter()
            .filter(|r| r.starts_with("PUT ") || r.starts_with("POST ") || r.starts_with("PATCH "))
            .collect()
    }
}

fn size_of_blob(layout: &ImageLayout, digest: &str) -> u64 {
    let hex = digest.strip_prefix("sha256:").unwrap();
    std::fs::metadata(layout.dir.join("blobs/sha256").join(hex))
        .unwrap()
        .len()
}

fn statuses(r: &Run) -> Vec<(String, String)> {
    r.json["images"]
        .as_array()
        .unwrap_or_else(|| panic!("no images in {}", r.stdout))
        .iter()
        .map(|i| {
            (
                i["destination"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn mirrors_every_tag_sending_each_shared_blob_once_and_manifests_last() {
    let mut m = Mirror::new();
    let r = m.json(&["sync", &m.s("team/app"), &m.s("team/web"), &m.d("mirror")]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json["copied"], 5, "{}", r.stdout);
    assert_eq!(r.json["failed"], 0);
    // Each source repository keeps its path, without its host, under the prefix; skopeo
    // reads back the very manifests that were pushed.
    for (image, layout) in &m.images {
        let at = format!("docker://{}", m.d(&format!("mirror/{image}")));
        assert_eq!(
            m.skopeo.manifest_digest(&at).unwrap(),
            layout.manifest_digest,
            "{image}"
        );
    }
    assert_eq!(
        m.dst_tags("mirror/team/app"),
        ["latest", "v1", "v1.1", "v2"].map(String::from).into()
    );

    // What the destination registry saw: the shared base layer was uploaded once (one
    // `PUT ...?digest=`), and mounted into the other repository rather than sent again.
    let base = m.layout("team/app:v1").layer_digests[0].clone();
    let writes = m.writes();
    let base_puts: Vec<_> = writes
        .iter()
        .filter(|w| {
            w.starts_with("PUT ") && w.contains(&format!("digest={}", base.replace(':', "%3A")))
        })
        .collect();
    assert_eq!(base_puts.len(), 1, "{writes:#?}");
    let mounts: Vec<_> = writes
        .iter()
        .filter(|w| w.contains(&format!("mount={}", base.replace(':', "%3A"))))
        .collect();
    assert_eq!(mounts.len(), 1, "{writes:#?}");
    assert!(mounts[0].starts_with("POST /v2/mirror/team/web/blobs/uploads/"));
    // The latest and v2 tags share everything: no blob of theirs crossed twice.
    let blob_puts = writes
        .iter()
        .filter(|w| w.starts_with("PUT ") && w.contains("/blobs/uploads/"))
        .count();
    let mut distinct = BTreeSet::new();
    let mut distinct_bytes = 0;
    for (_, l) in &m.images {
        for d in l.layer_digests.iter().chain([&l.config_digest]) {
            if distinct.insert(d.clone()) {
                distinct_bytes += size_of_blob(l, d);
            }
        }
    }
    assert_eq!(blob_puts, distinct.len(), "{writes:#?}");
    assert_eq!(r.json["bytes_transferred"], distinct_bytes);
    // Manifests come after every blob of the run.
    let first_manifest = writes
        .iter()
        .position(|w| w.contains("/manifests/"))
        .unwrap();
    let last_blob = writes.iter().rposition(|w| w.contains("/blobs/")).unwrap();
    assert!(last_blob < first_manifest, "{writes:#?}");

    // A second run finds everything in place and writes nothing.
    let before = m.writes().len();
    let again = m.json(&["sync", &m.s("team/app"), &m.s("team/web"), &m.d("mirror")]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json["unchanged"], 5, "{}", again.stdout);
    assert_eq!(again.json["bytes_transferred"], 0);
    assert_eq!(m.writes().len(), before, "{:#?}", m.writes());

    // One new tag at the source: only it is copied, its base mounted or already there.
    m.push("team/app", "v3", "app 3.0");
    let third = m.run(&["sync", &m.s("team/app"), &m.d("mirror")]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert!(
        third.stdout.contains("synced to ")
            && third.stdout.contains(": 1 copied, 4 unchanged, 0 failed"),
        "{}",
        third.stdout
    );
    let base_puts_after = m
        .writes()
        .iter()
        .filter(|w| {
            w.starts_with("PUT ") && w.contains(&format!("digest={}", base.replace(':', "%3A")))
        })
        .count();
    assert_eq!(base_puts_after, 1);
}

#[test]
fn tag_filters_pick_what_skopeo_sync_picks() {
    let m = Mirror::new();
    // The regex is unanchored, as skopeo reads images-by-tag-regex.
    let list = m.tmp.path().join("list.yaml");
    std::fs::write(
        &list,
        format!(
            "{}:\n  images-by-tag-regex:\n    team/app: 'v1'\n",
            m.src.host()
        ),
    )
    .unwrap();
    let sk_list = m.tmp.path().join("skopeo-list.yaml");
    std::fs::write(
        &sk_list,
        format!(
            "{}:\n  cert-dir: {}\n  images-by-tag-regex:\n    team/app: 'v1'\n",
            m.src.host(),
            m.tmp.path().join("sk").display()
        ),
    )
    .unwrap();
    m.skopeo
        .run(&[
            "sync".to_string(),
            "--src".into(),
            "yaml".into(),
            "--dest".into(),
            "docker".into(),
            format!("--dest-cert-dir={}", m.tmp.path().join("sk").display()),
            sk_list.display().to_string(),
            m.d("by-skopeo"),
        ])
        .unwrap();
    let r = m.json(&[
        "sync",
        "--from-file",
        list.to_str().unwrap(),
        &m.d("by-slipway"),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // skopeo files an unscoped image under its last path component; slipway keeps the path.
    let skopeo_tags = m.dst_tags("by-skopeo/app");
    assert_eq!(skopeo_tags, ["v1", "v1.1"].map(String::from).into());
    assert_eq!(m.dst_tags("by-slipway/team/app"), skopeo_tags);

    // The same filter as a flag; and a semantic-version range, where `latest` is no version.
    let r = m.json(&[
        "sync",
        "--tag-semver",
        ">= 1.1, < 3",
        &m.s("team/app"),
        &m.d("semver"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        m.dst_tags("semver/team/app"),
        ["v1.1", "v2"].map(String::from).into()
    );
    // A filter that matches nothing says so, and is not a failure.
    let r = m.run(&[
        "sync",
        "--tag-regex",
        "^nothing$",
        &m.s("team/app"),
        &m.d("none"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("team/app: no tag matched"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_dry_run_lists_and_writes_nothing() {
    let m = Mirror::new();
    let r = m.json(&["sync", "--dry-run", &m.s("team/app"), &m.d("mirror")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["would_copy"], 4, "{}", r.stdout);
    assert!(
        statuses(&r).iter().all(|(_, s)| s == "would-copy"),
        "{}",
        r.stdout
    );
    let v1 = r.json["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["source"].as_str().unwrap().ends_with("team/app:v1"))
        .unwrap();
    assert_eq!(v1["digest"], m.layout("team/app:v1").manifest_digest);
    assert!(m.writes().is_empty(), "{:#?}", m.writes());
    assert!(m.dst_tags("mirror/team/app").is_empty());
}

#[test]
fn a_failed_image_does_not_stop_the_rest_and_the_exit_code_says_so() {
    let m = Mirror::new();
    let r = m.json(&[
        "sync",
        &m.s("team/missing:v1"),
        &m.s("team/gone"),
        &m.s("team/web:v1"),
        &m.d("mirror"),
    ]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json["copied"], 1, "{}", r.stdout);
    assert_eq!(r.json["failed"], 2, "{}", r.stdout);
    let images = r.json["images"].as_array().unwrap();
    let failed: Vec<&Value> = images.iter().filter(|i| i["status"] == "failed").collect();
    assert!(
        failed.iter().any(|i| i["source"] == m.s("team/gone")
            && i["error"]["message"]
                .as_str()
                .unwrap()
                .contains("team/gone")),
        "{}",
        r.stdout
    );
    assert!(
        failed.iter().any(|i| i["error"]["message"]
            .as_str()
            .unwrap()
            .contains("team/missing")),
        "{}",
        r.stdout
    );
    assert_eq!(m.dst_tags("mirror/team/web"), ["v1".to_string()].into());

    // Trust is per registry at both ends: with the destination untrusted, every image
    // fails, each with the fix for that registry.
    let ca = m.pki.ca().display().to_string();
    let only_src = format!("--registry-ca={}={ca}", m.src.host());
    let r = common::slipway(
        &m.certs_d(),
        &[
            "--output",
            "json",
            &only_src,
            "sync",
            &m.s("team/web"),
            &m.d("untrusted"),
        ],
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let image = &r.json["images"][0];
    assert_eq!(image["status"], "failed", "{}", r.stdout);
    let fixes = image["error"]["fixes"]["build_machine"].to_string();
    assert!(
        fixes.contains(&format!("{}=", m.dst.host())),
        "{}",
        r.stdout
    );
    // For people, images that fail alike get the fix once, after the summary.
    let r = common::slipway(
        &m.certs_d(),
        &[&only_src, "sync", &m.s("team/app"), &m.d("untrusted")],
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.stdout.matches("FAILED").count(), 4, "{}", r.stdout);
    let flag = format!("fix: pass --registry-ca {}=", m.dst.host());
    assert_eq!(r.stdout.matches(&flag).count(), 1, "{}", r.stdout);
    assert!(
        r.stdout.find(&flag) > r.stdout.find("synced to "),
        "{}",
        r.stdout
    );
}

#[test]
fn into_oci_layouts_one_per_repository_with_shared_blobs_linked() {
    let m = Mirror::new();
    let out = m.tmp.path().join("offline");
    let r = m.json(&[
        "sync",
        &m.s("team/app"),
        &m.s("team/web"),
        &format!("oci:{}", out.display()),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for (image, layout) in &m.images {
        let (repo, tag) = image.split_once(':').unwrap();
        let at = format!("oci:{}:{tag}", out.join(repo).display());
        assert_eq!(
            m.skopeo.manifest_digest(&at).unwrap(),
            layout.manifest_digest,
            "{image}"
        );
    }
    // The base crossed once: the second layout holds a hard link to the first one's file.
    use std::os::unix::fs::MetadataExt;
    let base = m.layout("team/app:v1").layer_digests[0]
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    let inode = |repo: &str| {
        std::fs::metadata(out.join(repo).join("blobs/sha256").join(&base))
            .unwrap()
            .ino()
    };
    assert_eq!(inode("team/app"), inode("team/web"));
    // Run again: unchanged.
    let again = m.json(&[
        "sync",
        &m.s("team/app"),
        &m.s("team/web"),
        &format!("oci:{}", out.display()),
    ]);
    assert_eq!(again.json["unchanged"], 5, "{}", again.stdout);
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let m = Mirror::new();
    let list = |name: &str, text: String| -> String {
        let p: PathBuf = m.tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let host = m.src.host();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--from-file".into(),
                list(
                    "certdir.yaml",
                    format!("{host}:\n  cert-dir: /etc/x\n  images:\n    team/app: []\n"),
                ),
                m.d("x"),
            ],
            "`cert-dir` is not read",
        ),
        (
            vec![
                "--from-file".into(),
                list("insecure.yaml", format!("{host}:\n  tls-verify: false\n")),
                m.d("x"),
            ],
            "`tls-verify: false` is refused",
        ),
        (
            vec![
                "--from-file".into(),
                list(
                    "creds.yaml",
                    format!("{host}:\n  credentials:\n    username: a\n    password: b\n"),
                ),
                m.d("x"),
            ],
            "`credentials` are refused",
        ),
        (
            vec![
                "--from-file".into(),
                list("broken.yaml", format!("{host}:\n  images: [unclosed\n")),
                m.d("x"),
            ],
            "broken.yaml",
        ),
        (
            vec![
                "--from-file".into(),
                list(
                    "typo.yaml",
                    format!("{host}:\n  image:\n    team/app: []\n"),
                ),
                m.d("x"),
            ],
            "typo.yaml",
        ),
        (
            vec![
                "--from-file".into(),
                list(
                    "semver.yaml",
                    format!("{host}:\n  images-by-semver:\n    team/app: '>>1'\n"),
                ),
                m.d("x"),
            ],
            "is not a version range",
        ),
        (
            vec![
                "--from-file".into(),
                m.tmp.path().join("absent.yaml").display().to_string(),
                m.d("x"),
            ],
            "absent.yaml",
        ),
        (
            vec!["--tag-regex".into(), "(".into(), m.s("team/app")],
            "--tag-regex `(`",
        ),
        (
            vec!["--tag-semver".into(), "not a range".into(), m.s("team/app")],
            "--tag-semver",
        ),
        (
            vec!["--tag-regex".into(), "x".into(), m.d("x")],
            "nothing to sync",
        ),
        (
            vec![m.s("team/app"), format!("{}:v1", m.d("x"))],
            "names a tag or digest",
        ),
        (
            vec![m.s("team/app"), "mirror".into()],
            "does not start with a registry host",
        ),
        (vec![m.s("Team/App"), m.d("x")], "Team/App"),
        (
            vec!["oci:/tmp/layout:v1".into(), m.d("x")],
            "sync reads registries",
        ),
        (
            vec![
                format!("{}@sha256:{}", m.s("team/app"), "a".repeat(64)),
                format!("oci:{}", m.tmp.path().join("out").display()),
            ],
            "needs a tag",
        ),
    ];
    for (args, says) in cases {
        let mut a = vec!["sync"];
        a.extend(args.iter().map(String::as_str));
        let r = m.run(&a);
        assert_eq!(r.code, 2, "{a:?}\n{}", r.stderr);
        assert!(
            r.stderr.contains(says),
            "{a:?}: want {says:?} in\n{}",
            r.stderr
        );
    }
    assert!(m.writes().is_empty(), "{:#?}", m.writes());
    assert!(!m.tmp.path().join("out").exists());
}

#[test]
fn on_a_terminal_one_bar_shows_the_whole_run_above_the_blobs() {
    let m = Mirror::new();
    let ca = m.pki.ca().display().to_string();
    let trust = [
        format!("--registry-ca={}={ca}", m.src.host()),
        format!("--registry-ca={}={ca}", m.dst.host()),
    ];
    let (src_app, src_web, dst) = (m.s("team/app"), m.s("team/web"), m.d("tty"));
    let mut args: Vec<&str> = trust.iter().map(String::as_str).collect();
    args.extend(["sync", &src_app, &src_web, &dst]);
    let (code, raw) = common::on_terminal(&m.certs_d(), 100, &args, &[]);
    assert_eq!(code, 0, "{raw}");
    let rows = common::terminal_rows(&raw, 100);
    // Five images, four of them distinct (latest is v2), with 9 distinct blobs: the
    // shared base, and one own layer and one config for each distinct image.
    let last_run_row = rows
        .iter()
        .rfind(|r| r.starts_with("run "))
        .unwrap_or_else(|| panic!("no run bar in {rows:#?}"));
    assert!(
        last_run_row.contains("blobs 9/9, images 5/5") && last_run_row.contains("B/s"),
        "{last_run_row:?} in {rows:#?}"
    );
    let base = &m.layout("team/app:v1").layer_digests[0]["sha256:".len()..][..12];
    assert!(
        rows.iter().any(|r| r.starts_with(base) && r.contains('[')),
        "no bar for the base layer {base} in {rows:#?}"
    );
    assert!(
        rows.iter().any(|r| r.starts_with("synced to ")),
        "{rows:#?}"
    );
}
