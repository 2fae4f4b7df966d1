//! Multi-platform builds end to end: werf.yaml's `platform` (per image), `build.platform`
//! (the default) and `--platform` (over both), built by the real binary into the real TLS
//! registry from a two-platform base pushed there with skopeo, then read back with skopeo
//! (`inspect --raw`, `--override-arch`): the tag must name an image index with one manifest
//! per platform, each config saying its architecture, each on its own platform's base, and
//! the COPY layer the same blob in both. A `RUN` for a platform this machine cannot run is
//! refused by name before anything is pushed (unless the machine has a QEMU emulator for
//! it, in which case it must build).

mod common;

use std::path::{Path, PathBuf};

use common::{Run, TlsRig, text};
use serde_json::Value;
use slipway_testkit::{ImageLayout, oci_layout, sha256_digest};

const DOCKERFILE: &str = "ARG BASE\nFROM ${BASE}\nCOPY hello.txt /hello.txt\nENV GREETING=hi\n";

/// The rig, with a scratch project and a two-platform base `base:1` in the registry.
struct Rig {
    base: TlsRig,
    /// The base's linux/amd64 and linux/arm64 images.
    amd: ImageLayout,
    arm: ImageLayout,
}

impl std::ops::Deref for Rig {
    type Target = TlsRig;
    fn deref(&self) -> &TlsRig {
        &self.base
    }
}

/// Rewrites the one image of `layout` as a linux/arm64 image: its config says
/// `arm64`/`v8`, so its config and manifest digests change.
fn make_arm64(layout: &mut ImageLayout) {
    let blob = |d: &str| layout.dir.join("blobs/sha256").join(&d[7..]);
    let config = std::fs::read_to_string(blob(&layout.config_digest)).unwrap();
    let arm = config.replacen(
        "\"architecture\":\"amd64\"",
        "\"architecture\":\"arm64\",\"variant\":\"v8\"",
        1,
    );
    assert_ne!(arm, config, "the kit's config names amd64: {config}");
    let config_digest = sha256_digest(arm.as_bytes());
    std::fs::write(blob(&config_digest), &arm).unwrap();
    let manifest = std::fs::read_to_string(blob(&layout.manifest_digest)).unwrap();
    let manifest = manifest
        .replacen(&layout.config_digest, &config_digest, 1)
        .replacen(
            &format!("\"size\":{}", config.len()),
            &format!("\"size\":{}", arm.len()),
            1,
        );
    let manifest_digest = sha256_digest(manifest.as_bytes());
    std::fs::write(blob(&manifest_digest), &manifest).unwrap();
    layout.config_digest = config_digest;
    layout.manifest_digest = manifest_digest;
}

/// Writes an OCI layout in `dir` whose tag `multi` names an index of `amd` and `arm`, and
/// returns its reference and the index digest.
fn index_layout(dir: &Path, amd: &ImageLayout, arm: &ImageLayout) -> (String, String) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    for src in [&amd.dir, &arm.dir] {
        for e in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), blobs.join(e.file_name())).unwrap();
        }
    }
    let digest = common::tag_two_platform_index(dir, amd, arm);
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    (format!("oci:{}:multi", dir.display()), digest)
}

impl Rig {
    fn new() -> Rig {
        let base = TlsRig::new();
        let amd = oci_layout(&base.path("base-amd"), "amd", &[("etc/arch", b"amd64\n")]);
        let mut arm = oci_layout(&base.path("base-arm"), "arm", &[("etc/arch", b"arm64\n")]);
        make_arm64(&mut arm);
        let (src, _) = index_layout(&base.path("base-multi"), &amd, &arm);
        let dest = format!("docker://{}", base.repo("base:1"));
        base.skopeo
            .run(&[
                "copy",
                "--all",
                "--dest-cert-dir",
                base.skopeo_certs.to_str().unwrap(),
                "--dest-no-creds",
                &src,
                &dest,
            ])
            .unwrap_or_else(|e| panic!("{e}"));
        Rig { base, amd, arm }
    }

    /// Writes a project folder `name`: werf.yaml `werf`, `Dockerfile` and `hello.txt`.
    fn project(&self, name: &str, werf: &str, dockerfile: &str) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("werf.yaml"), werf).unwrap();
        std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
        std::fs::write(dir.join("hello.txt"), "hello\n").unwrap();
        dir
    }

    /// Runs `slipway --output json build` of `dir` into `--repo REPO`, with the base as
    /// the build arg BASE through werf.yaml, `extra` flags and `env`.
    fn build(&self, dir: &Path, repo: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let mut args = vec!["--repo", repo];
        args.extend_from_slice(extra);
        self.build_json(dir, "store", &args, env)
    }

    /// Like [`Rig::build`], and asserts it succeeded.
    fn built(&self, dir: &Path, repo: &str, extra: &[&str], env: &[(&str, &str)]) -> Value {
        let run = self.build(dir, repo, extra, env);
        assert_eq!(
            run.code, 0,
            "slipway build failed\nstderr:\n{}\nstdout:\n{}",
            run.stderr, run.stdout
        );
        run.json
    }

    /// The image config skopeo picks for `arch` (`--override-arch`).
    fn config_for(&self, image: &str, arch: &str) -> Value {
        let text = self.inspect_raw(
            image,
            &[
                "--config",
                "--override-os",
                "linux",
                "--override-arch",
                arch,
            ],
        );
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("config ({e}): {text}"))
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The layer digests of a manifest.
fn layers(manifest: &Value) -> Vec<&str> {
    manifest["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("no layers in {manifest:#}"))
        .iter()
        .map(|l| text(l, "digest"))
        .collect()
}

fn werf_yaml(meta_extra: &str, image_extra: &str, base: &str) -> String {
    format!(
        "project: t\nconfigVersion: 1\n{meta_extra}---\nimage: app\ndockerfile: Dockerfile\nargs:\n  BASE: {base}\n{image_extra}"
    )
}

#[test]
fn an_image_with_two_platforms_is_an_index_of_both_on_their_own_bases() {
    let rig = Rig::new();
    let base = rig.repo("base:1");
    let dir = rig.project(
        "two",
        &werf_yaml("", "platform: [linux/arm64, linux/amd64]\n", &base),
        DOCKERFILE,
    );
    let repo = rig.repo("two");
    let report = rig.built(&dir, &repo, &[], &[]);
    let app = &report["Images"]["app"];
    let tag = text(app, "DockerTag");
    let image = format!("{repo}:{tag}");
    assert_eq!(text(app, "DockerImageName"), image, "{app:#}");
    assert_eq!(
        text(app, "TargetPlatform"),
        "",
        "an index is no one platform"
    );
    assert_eq!(
        report["ImagesByPlatform"],
        serde_json::json!({}),
        "werf writes ImagesByPlatform only with WERF_ENABLE_REPORT_BY_PLATFORM=1"
    );

    // The tag names an index whose digest the report gives, one manifest per platform.
    let raw = rig.inspect_raw(&image, &[]);
    assert_eq!(
        sha256_digest(raw.as_bytes()),
        text(app, "DockerImageDigest")
    );
    let index = json(&raw);
    assert_eq!(
        text(&index, "mediaType"),
        "application/vnd.oci.image.index.v1+json",
        "{index:#}"
    );
    let manifests = index["manifests"].as_array().unwrap();
    let platforms: Vec<(&str, &str)> = manifests
        .iter()
        .map(|m| {
            (
                text(&m["platform"], "os"),
                text(&m["platform"], "architecture"),
            )
        })
        .collect();
    assert_eq!(
        platforms,
        [("linux", "amd64"), ("linux", "arm64")],
        "in platform order: {index:#}"
    );
    assert_eq!(manifests[1]["platform"]["variant"], "v8", "from the config");

    // Each platform's image: its config says its architecture, it starts from that
    // platform's base, and the COPY layer is the same blob in both.
    let mut copy_layers = vec![];
    for (m, arch, base_layout) in [
        (&manifests[0], "amd64", &rig.amd),
        (&manifests[1], "arm64", &rig.arm),
    ] {
        let child = format!("{repo}@{}", text(m, "digest"));
        let manifest = json(&rig.inspect_raw(&child, &[]));
        let ls = layers(&manifest);
        assert_eq!(ls.len(), 2, "{manifest:#}");
        assert_eq!(
            ls[0], base_layout.layer_digest,
            "{arch} is on the {arch} base"
        );
        copy_layers.push(ls[1].to_string());
        let config = rig.config_for(&image, arch);
        assert_eq!(config["architecture"], arch, "{config:#}");
        assert_eq!(config["os"], "linux");
        assert!(
            config["config"]["Env"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == "GREETING=hi"),
            "{config:#}"
        );
        // skopeo picking by architecture lands on that image.
        let picked = json(
            &rig.skopeo
                .run(&[
                    "inspect",
                    "--cert-dir",
                    rig.skopeo_certs.to_str().unwrap(),
                    "--no-creds",
                    "--override-os",
                    "linux",
                    "--override-arch",
                    arch,
                    &format!("docker://{image}"),
                ])
                .unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(picked["Architecture"], arch, "{picked:#}");
        assert_eq!(picked["Layers"], serde_json::json!(ls), "{picked:#}");
    }
    assert_eq!(
        copy_layers[0], copy_layers[1],
        "the same COPY gives the same layer on both platforms"
    );
    assert_ne!(rig.amd.layer_digest, rig.arm.layer_digest);
    let stages = app["Stages"].as_array().unwrap();
    let on: Vec<&str> = stages.iter().map(|s| text(s, "Platform")).collect();
    assert_eq!(on, ["linux/amd64", "linux/arm64"], "{app:#}");
    assert_ne!(
        stages[0]["Digest"], stages[1]["Digest"],
        "the platform is in the digest"
    );

    // Built again: everything cached, the same index, nothing pushed; with
    // WERF_ENABLE_REPORT_BY_PLATFORM=1 each platform's image is reported.
    let before = rig.storage();
    let again = rig.built(&dir, &repo, &[], &[("WERF_ENABLE_REPORT_BY_PLATFORM", "1")]);
    rig.assert_nothing_pushed(&before, "an unchanged multi-platform build");
    let app2 = &again["Images"]["app"];
    assert_eq!(app2["DockerImageDigest"], app["DockerImageDigest"]);
    assert_eq!(app2["Rebuilt"], false);
    let by = &again["ImagesByPlatform"]["app"];
    for (m, platform) in [
        (&manifests[0], "linux/amd64"),
        (&manifests[1], "linux/arm64"),
    ] {
        let one = &by[platform];
        assert_eq!(one["TargetPlatform"], platform, "{by:#}");
        assert_eq!(one["DockerImageDigest"], m["digest"], "{by:#}");
        let pinned = format!(
            "{}@{}",
            text(one, "DockerRepo"),
            text(one, "DockerImageDigest")
        );
        assert_eq!(
            rig.skopeo
                .manifest_digest(&format!("docker://{}", text(one, "DockerImageName")))
                .unwrap_or_else(|e| panic!("{e}")),
            text(m, "digest"),
            "{pinned}"
        );
    }

    // A custom tag names the index too.
    let tagged = rig.built(&dir, &repo, &["--add-custom-tag", "latest"], &[]);
    assert_eq!(
        tagged["Images"]["app"]["DockerImageDigest"],
        app["DockerImageDigest"]
    );
    let latest = rig.inspect_raw(&format!("{repo}:latest"), &[]);
    assert_eq!(
        sha256_digest(latest.as_bytes()),
        text(app, "DockerImageDigest")
    );
}

#[test]
fn build_platform_is_the_default_and_platform_flag_overrides_werf_yaml() {
    let rig = Rig::new();
    let base = rig.repo("base:1");
    // build.platform with one platform: a plain linux/arm64 image, no index.
    let dir = rig.project(
        "meta",
        &werf_yaml("build:\n  platform: [linux/arm64]\n", "", &base),
        DOCKERFILE,
    );
    let repo = rig.repo("meta");
    let report = rig.built(&dir, &repo, &[], &[]);
    let app = &report["Images"]["app"];
    assert_eq!(text(app, "TargetPlatform"), "linux/arm64");
    let image = text(app, "DockerImageName");
    let manifest = json(&rig.inspect_raw(image, &[]));
    assert_eq!(
        text(&manifest, "mediaType"),
        "application/vnd.oci.image.manifest.v1+json",
        "one platform is one image: {manifest:#}"
    );
    assert_eq!(layers(&manifest)[0], rig.arm.layer_digest);
    let config = rig.config_for(image, "arm64");
    assert_eq!(config["architecture"], "arm64");
    assert_eq!(config["variant"], "v8", "the base's variant is kept");

    // --platform (a list) overrides build.platform: an index of both.
    let over = rig.built(&dir, &repo, &["--platform", "linux/amd64,linux/arm64"], &[]);
    let app = &over["Images"]["app"];
    assert_eq!(text(app, "TargetPlatform"), "");
    let index = json(&rig.inspect_raw(text(app, "DockerImageName"), &[]));
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2, "{index:#}");
    // ... and the image's own list, from WERF_PLATFORM, repeated flags give the same.
    let own = rig.project(
        "own",
        &werf_yaml(
            "build:\n  platform: [linux/arm64]\n",
            "platform: [linux/arm64]\n",
            &base,
        ),
        DOCKERFILE,
    );
    let by_env = rig.built(
        &own,
        &repo,
        &[],
        &[("WERF_PLATFORM", "linux/arm64,linux/amd64")],
    );
    assert_eq!(
        by_env["Images"]["app"]["DockerImageDigest"], app["DockerImageDigest"],
        "the same platforms give the same index"
    );
    let repeated = rig.built(
        &own,
        &repo,
        &["--platform", "linux/amd64", "--platform", "linux/arm64/v8"],
        &[],
    );
    assert_eq!(
        repeated["Images"]["app"]["DockerImageDigest"],
        app["DockerImageDigest"]
    );
    // A platform the base lacks, or a platform given twice, is bad input.
    let before = rig.storage();
    let run = rig.build(&own, &repo, &["--platform", "linux/s390x"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("has no image for linux/s390x")
            && run.stderr.contains("linux/amd64, linux/arm64/v8"),
        "{}",
        run.stderr
    );
    let run = rig.build(
        &own,
        &repo,
        &["--platform", "linux/arm64,linux/arm64/v8"],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("twice"), "{}", run.stderr);
    let run = rig.build(&own, &repo, &["--platform", "linux"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--platform linux"), "{}", run.stderr);
    rig.assert_nothing_pushed(&before, "refused platforms");

    // A single-platform base of another architecture is refused, never built on.
    let amd_only = rig.repo("amd-only:1");
    rig.skopeo
        .copy(&rig.amd.reference(), &format!("docker://{amd_only}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let single = rig.project("single", &werf_yaml("", "", &amd_only), DOCKERFILE);
    let before = rig.storage();
    let run = rig.build(&single, &repo, &["--platform", "linux/arm64"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(&amd_only)
            && run.stderr.contains("for linux/amd64")
            && run.stderr.contains("for linux/arm64"),
        "{}",
        run.stderr
    );
    rig.assert_nothing_pushed(&before, "a base of another platform");
}

/// Whether this machine runs linux/arm64 programs: natively, or with a QEMU handler
/// registered with the F flag (what buildah's chroot needs).
fn runs_arm64() -> bool {
    if std::env::consts::ARCH == "aarch64" {
        return true;
    }
    let dir = Path::new("/proc/sys/fs/binfmt_misc");
    let enabled = |p: &Path| {
        std::fs::read_to_string(p).is_ok_and(|t| {
            t.starts_with("enabled")
                && t.lines()
                    .any(|l| l.starts_with("flags:") && l.contains('F'))
        })
    };
    std::fs::read_to_string(dir.join("status")).is_ok_and(|s| s.trim() == "enabled")
        && ["qemu-aarch64", "aarch64"]
            .iter()
            .any(|n| enabled(&dir.join(n)))
}

#[test]
fn run_for_a_platform_this_machine_cannot_run_is_refused_by_name() {
    let rig = Rig::new();
    let base = rig.repo("base:1");
    let dir = rig.project(
        "run",
        &werf_yaml("", "platform: [linux/amd64, linux/arm64]\n", &base),
        "ARG BASE\nFROM ${BASE} AS tools\nCOPY hello.txt /hello.txt\nRUN echo hi > /hi\n",
    );
    let repo = rig.repo("run");
    let before = rig.storage();
    let run = rig.build(&dir, &repo, &[], &[]);
    if runs_arm64() {
        // The machine runs arm64 programs: the RUN is built, not refused.
        assert_eq!(run.code, 0, "{}", run.stderr);
        return;
    }
    assert_eq!(run.code, 2, "{}\n{}", run.stderr, run.stdout);
    for needle in [
        "image `app`",
        "stage tools",
        "linux/arm64",
        "line 4",
        "binfmt_misc",
    ] {
        assert!(run.stderr.contains(needle), "{needle:?}: {}", run.stderr);
    }
    rig.assert_nothing_pushed(&before, "a RUN for a foreign platform");
    assert!(
        !run.stderr.contains("building"),
        "nothing was built: {}",
        run.stderr
    );
}

#[test]
fn render_pins_a_multi_platform_image_to_its_index() {
    let rig = Rig::new();
    let base = rig.repo("base:1");
    let dir = rig.project(
        "render",
        &werf_yaml("", "platform: [linux/amd64, linux/arm64]\n", &base),
        DOCKERFILE,
    );
    std::fs::create_dir_all(dir.join(".helm/templates")).unwrap();
    std::fs::write(
        dir.join(".helm/templates/pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n  - name: app\n    image: {{ .Values.werf.image.app }}\n",
    )
    .unwrap();
    let repo = rig.repo("render");
    let report = rig.built(&dir, &repo, &[], &[]);
    let digest = text(&report["Images"]["app"], "DockerImageDigest");
    let store = rig.path("store");
    let run = rig.slipway(&[
        "render",
        "--dir",
        dir.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--repo",
        &repo,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pinned = format!("{repo}@{digest}");
    assert!(
        run.stdout.contains(&format!("image: {pinned}\n")),
        "{}",
        run.stdout
    );
    // That reference is the index, which skopeo resolves for each platform.
    let raw = rig.inspect_raw(&pinned, &[]);
    assert_eq!(sha256_digest(raw.as_bytes()), digest);
    assert_eq!(json(&raw)["manifests"].as_array().unwrap().len(), 2);
}
