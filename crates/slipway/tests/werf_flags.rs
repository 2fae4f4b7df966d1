//! werf's everyday flags on `slipway build`, `render` and `converge`, end to end: the real
//! binary, the real TLS registry (checked with skopeo), and the loopback Kubernetes fake for
//! converge and doctor.
//!
//! - `--report-format envfile` (and WERF_REPORT_FORMAT): the file's exact lines for a real
//!   build, each value found in the registry at the report's digest.
//! - `--add-custom-tag` (and WERF_ADD_CUSTOM_TAG_*) and `--use-custom-tag` (and
//!   WERF_USE_CUSTOM_TAG): every tag in the registry at its image's final manifest, and
//!   render's and converge's manifests naming the tag.
//! - `--kube-config` (WERF_KUBE_CONFIG, WERF_KUBECONFIG) and `--kube-context`
//!   (WERF_KUBE_CONTEXT) on converge and doctor.
//! - The werf flags slipway refuses: exit 2, the reason, and nothing built, pushed or applied.
//!
//! "Nothing was pushed" is checked on the registry's storage folder, as in `build.rs`.

mod common;

use std::path::{Path, PathBuf};

use common::{Run, TlsRig, write};
use serde_json::Value;
use slipway_testkit::{FakeKube, fixtures};

/// Two images from two Dockerfiles without RUN (the native backend, no base to pull); the
/// second one's name holds `/`, `-` and `.`, as werf image names may.
const TWO_IMAGES: &str = "project: flags\nconfigVersion: 1\n---\nimage: app\n\
                          dockerfile: app.Dockerfile\ncontext: .\n---\n\
                          image: dev/api-frontend.v2\ndockerfile: api.Dockerfile\ncontext: .\n";

/// The second image of [`TWO_IMAGES`].
const API: &str = "dev/api-frontend.v2";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Writes the project of [`TWO_IMAGES`] (or another werf.yaml) into folder `name`.
fn project(rig: &TlsRig, name: &str, werf_yaml: &str) -> PathBuf {
    let dir = rig.path(name);
    write(&dir.join("werf.yaml"), werf_yaml);
    write(
        &dir.join("app.Dockerfile"),
        "FROM scratch\nCOPY app.txt /app.txt\n",
    );
    write(
        &dir.join("api.Dockerfile"),
        "FROM scratch\nCOPY api.txt /api.txt\n",
    );
    write(&dir.join("app.txt"), "app 1\n");
    write(&dir.join("api.txt"), "api 1\n");
    dir
}

fn ok(run: &Run, what: &str) {
    assert_eq!(
        run.code, 0,
        "[{what}] failed\nstderr:\n{}\nstdout:\n{}",
        run.stderr, run.stdout
    );
}

fn refused(run: &Run, what: &str, needles: &[&str]) {
    assert_eq!(
        run.code, 2,
        "[{what}] must exit 2\nstderr:\n{}\nstdout:\n{}",
        run.stderr, run.stdout
    );
    for n in needles {
        assert!(
            run.stderr.contains(n),
            "[{what}] stderr lacks {n:?}:\n{}",
            run.stderr
        );
    }
}

/// The report's `KEY` of image `name`.
fn field<'a>(report: &'a Value, name: &str, key: &str) -> &'a str {
    report["Images"][name][key]
        .as_str()
        .unwrap_or_else(|| panic!("no Images.{name}.{key} in {report:#}"))
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn report_format_envfile_writes_werfs_variables_for_a_real_build() {
    let rig = TlsRig::new();
    let dir = project(&rig, "p", TWO_IMAGES);
    let repo = rig.repo("flags");
    let env_file = rig.path("report.env");
    let run = rig.build_json(
        &dir,
        "store",
        &[
            "--repo",
            &repo,
            "--report-path",
            env_file.to_str().unwrap(),
            "--report-format",
            "envfile",
        ],
        &[],
    );
    ok(&run, "build --report-format envfile");
    // stdout keeps the JSON report; the file has one werf variable per image, in name order.
    let report = &run.json;
    let app = field(report, "app", "DockerImageName");
    let api = field(report, API, "DockerImageName");
    let text = read(&env_file);
    assert_eq!(
        text,
        format!(
            "WERF_APP_DOCKER_IMAGE_NAME={app}\nWERF_DEV_API_FRONTEND_V2_DOCKER_IMAGE_NAME={api}\n"
        )
    );
    // Each value is REPO:TAG, and the registry has the report's digest there.
    for name in ["app", API] {
        let value = field(report, name, "DockerImageName");
        assert_eq!(
            value,
            format!("{repo}:{}", field(report, name, "DockerTag")),
            "{report:#}"
        );
        assert_eq!(
            rig.digest_of(value),
            field(report, name, "DockerImageDigest")
        );
    }
    // A shell reads it, as CI does with `. report.env`.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#". "$1" && printf %s "$WERF_DEV_API_FRONTEND_V2_DOCKER_IMAGE_NAME""#)
        .arg("sh")
        .arg(&env_file)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), api);

    // werf's variables give the same file.
    let from_env = rig.path("from-env.env");
    let run = rig.build_json(
        &dir,
        "store",
        &["--repo", &repo],
        &[
            ("WERF_REPORT_PATH", from_env.to_str().unwrap()),
            ("WERF_REPORT_FORMAT", "envfile"),
        ],
    );
    ok(&run, "WERF_REPORT_FORMAT=envfile");
    assert_eq!(read(&from_env), text);

    // JSON, the default and when asked for, stays the report stdout prints.
    for extra in [&[][..], &["--report-format", "json"][..]] {
        let path = rig.path("report.json");
        let mut args = vec![
            "--repo",
            repo.as_str(),
            "--report-path",
            path.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let run = rig.build_json(&dir, "store", &args, &[]);
        ok(&run, "build --report-format json");
        let file: Value = serde_json::from_str(&read(&path)).unwrap();
        assert_eq!(file, run.json);
    }

    // Two images that would set one variable: refused before anything is built or pushed.
    let clash = project(
        &rig,
        "clash",
        "project: c\nconfigVersion: 1\n---\nimage: a-b\ndockerfile: app.Dockerfile\n\
         context: .\n---\nimage: a.b\ndockerfile: api.Dockerfile\ncontext: .\n",
    );
    let before = rig.storage();
    let run = rig.build_json(
        &clash,
        "refused-store",
        &[
            "--repo",
            &repo,
            "--report-path",
            rig.path("clash.env").to_str().unwrap(),
            "--report-format",
            "envfile",
        ],
        &[],
    );
    refused(
        &run,
        "clashing variables",
        &["`a-b`", "`a.b`", "WERF_A_B_DOCKER_IMAGE_NAME"],
    );
    assert!(!rig.path("refused-store").exists(), "a build started");
    assert!(!rig.path("clash.env").exists());
    rig.assert_nothing_pushed(&before, "clashing variables");

    // A format werf does not have.
    let run = rig.build_json(&dir, "store", &["--report-format", "yaml"], &[]);
    refused(&run, "--report-format yaml", &["yaml", "envfile"]);
}

#[test]
fn custom_tags_are_pushed_at_each_images_final_manifest() {
    let rig = TlsRig::new();
    let dir = project(&rig, "p", TWO_IMAGES);
    let repo = rig.repo("flags");
    let tag_args = [
        "--repo",
        repo.as_str(),
        "--add-custom-tag",
        "%image_safe_slug%-latest",
        "--add-custom-tag",
        "%image_slug%.%image_content_based_tag%",
    ];
    let tag_env = [("WERF_ADD_CUSTOM_TAG_1", "env-%image_slug%")];
    let run = rig.build_json(&dir, "store", &tag_args, &tag_env);
    ok(&run, "build --add-custom-tag");
    let report = run.json.clone();
    let hash = format!("{:x}", slipway_werf::deploy::murmur3_32(API.as_bytes()));
    let expected = |report: &Value| -> Vec<(String, &'static str)> {
        vec![
            ("app-latest".to_string(), "app"),
            (format!("app.{}", field(report, "app", "DockerTag")), "app"),
            ("env-app".to_string(), "app"),
            // `dev/api-frontend.v2` is no valid tag: its safe slug carries werf's hash.
            (format!("dev-api-frontend-v2-{hash}-latest"), API),
            (
                format!("dev-api-frontend-v2.{}", field(report, API, "DockerTag")),
                API,
            ),
            ("env-dev-api-frontend-v2".to_string(), API),
        ]
    };
    for (tag, image) in expected(&report) {
        assert_eq!(
            rig.digest_of(&format!("{repo}:{tag}")),
            field(&report, image, "DockerImageDigest"),
            "{repo}:{tag} must be {image}'s final manifest"
        );
        assert!(
            run.stderr
                .contains(&format!("  {image} {repo}:{tag} tagged\n")),
            "{}",
            run.stderr
        );
    }
    // Besides the stages (tagged by digest), the repository holds exactly these tags.
    let mut custom: Vec<String> = rig
        .tags(&repo)
        .into_iter()
        .filter(|t| !is_hex64(t))
        .collect();
    custom.sort();
    let mut want: Vec<String> = expected(&report).into_iter().map(|(t, _)| t).collect();
    want.sort();
    assert_eq!(custom, want);

    // Again: every tag is in place already, so nothing is pushed.
    let before = rig.storage();
    let run = rig.build_json(&dir, "store", &tag_args, &tag_env);
    ok(&run, "build --add-custom-tag again");
    assert!(
        run.stderr
            .contains(&format!("  app {repo}:app-latest tagged already\n")),
        "{}",
        run.stderr
    );
    rig.assert_nothing_pushed(&before, "the same tags again");

    // A changed file rebuilds `app`, and its tags move to the new manifest.
    write(&dir.join("app.txt"), "app 2\n");
    let run = rig.build_json(&dir, "store", &tag_args, &tag_env);
    ok(&run, "build --add-custom-tag after a change");
    let new_app = field(&run.json, "app", "DockerImageDigest");
    assert_ne!(new_app, field(&report, "app", "DockerImageDigest"));
    assert_eq!(rig.digest_of(&format!("{repo}:app-latest")), new_app);
    assert_eq!(
        rig.digest_of(&format!("{repo}:env-dev-api-frontend-v2")),
        field(&report, API, "DockerImageDigest"),
        "the unchanged image keeps its tags"
    );

    // One tag for two images is refused, as werf refuses it, before anything is built.
    let before = rig.storage();
    for (env, says) in [
        (
            vec![],
            vec![
                "--add-custom-tag `latest` gives images",
                "the same tag",
                "--add-custom-tag '%image%-latest'",
            ],
        ),
        (
            vec![("WERF_ADD_CUSTOM_TAG_CI", "stable")],
            vec!["WERF_ADD_CUSTOM_TAG_CI `stable`", "the same tag"],
        ),
    ] {
        let extra: &[&str] = if env.is_empty() {
            &["--add-custom-tag", "latest"]
        } else {
            &[]
        };
        let mut args = vec!["--repo", repo.as_str()];
        args.extend_from_slice(extra);
        let run = rig.build_json(&dir, "refused-store", &args, &env);
        refused(&run, "one tag for two images", &says);
    }
    // Malformed tags, and a tag without --repo.
    for (extra, says) in [
        (
            vec!["--repo", repo.as_str(), "--add-custom-tag", "%img%-x"],
            "there is no placeholder `%img%`",
        ),
        (
            vec!["--repo", repo.as_str(), "--add-custom-tag", "v1%"],
            "a `%` is not closed",
        ),
        (
            vec![
                "--repo",
                repo.as_str(),
                "app",
                "--add-custom-tag",
                "%image%:1",
            ],
            "gives image `app` the tag `app:1`, which is not a valid tag",
        ),
        (
            vec!["app", "--add-custom-tag", "latest"],
            "--add-custom-tag needs --repo",
        ),
    ] {
        let run = rig.build_json(&dir, "refused-store", &extra, &[]);
        refused(&run, says, &[says]);
    }
    assert!(!rig.path("refused-store").exists(), "a build started");
    rig.assert_nothing_pushed(&before, "refused custom tags");

    // One image named on the command line may take a plain tag.
    let run = rig.build_json(
        &dir,
        "store",
        &["--repo", &repo, "app", "--add-custom-tag", "latest"],
        &[],
    );
    ok(&run, "build app --add-custom-tag latest");
    assert_eq!(rig.digest_of(&format!("{repo}:latest")), new_app);
}

#[test]
fn use_custom_tag_renders_the_tag_and_pushes_it() {
    let rig = TlsRig::new();
    let dir = rig.example("hello");
    let d = dir.to_str().unwrap();
    let repo = rig.repo("hello");
    let store = rig.path("store");
    let s = store.to_str().unwrap();
    let report_path = rig.path("report.json");
    let run = rig.slipway(&[
        "render",
        "--dir",
        d,
        "--store",
        s,
        "--repo",
        &repo,
        "--report-path",
        report_path.to_str().unwrap(),
        "--use-custom-tag",
        "%image%-v1",
    ]);
    ok(&run, "render --use-custom-tag");
    let report: Value = serde_json::from_str(&read(&report_path)).unwrap();
    let digest = field(&report, "app", "DockerImageDigest");
    let tagged = format!("{repo}:app-v1");
    assert!(
        run.stdout.contains(&format!("\n        image: {tagged}\n")),
        "the Deployment names the tag:\n{}",
        run.stdout
    );
    assert!(!run.stdout.contains("@sha256:"), "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!("app: {tagged} (built)")),
        "{}",
        run.stderr
    );
    assert_eq!(rig.digest_of(&tagged), digest, "the tag is the image built");

    // WERF_USE_CUSTOM_TAG, with the content-based tag, in --output json's image map.
    let run = rig.slipway_env(
        &[
            "--output", "json", "render", "--dir", d, "--store", s, "--repo", &repo,
        ],
        &[("WERF_USE_CUSTOM_TAG", "release-%image_content_based_tag%")],
    );
    ok(&run, "WERF_USE_CUSTOM_TAG");
    let tagged = format!("{repo}:release-{}", field(&report, "app", "DockerTag"));
    assert_eq!(run.json["images"]["app"], tagged.as_str(), "{:#}", run.json);
    let deployment = run.json["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        tagged.as_str()
    );
    assert_eq!(rig.digest_of(&tagged), digest);

    // Without it, the digest as before.
    let run = rig.slipway(&["render", "--dir", d, "--store", s, "--repo", &repo]);
    ok(&run, "render");
    assert!(
        run.stdout
            .contains(&format!("\n        image: {repo}@{digest}\n")),
        "{}",
        run.stdout
    );
}

#[test]
fn converge_and_doctor_read_the_kubeconfig_werf_would() {
    let rig = TlsRig::new();
    let dir = rig.example("hello");
    let d = dir.to_str().unwrap();
    let store = rig.path("store");
    let s = store.to_str().unwrap();
    let repo = rig.repo("hello");
    let fake = FakeKube::start();
    fake.put(fixtures::node("n1"));
    let good = fake.write_kubeconfig(&rig.path("good.kubeconfig"), "fake-ctx", "apps");
    let good = good.to_str().unwrap();
    // A kubeconfig whose current context does not exist: usable only with a context given.
    let picky = rig.path("picky.kubeconfig");
    write(
        &picky,
        &read(Path::new(good)).replace("current-context: fake-ctx", "current-context: gone"),
    );
    let picky = picky.to_str().unwrap();
    // KUBECONFIG names no file, so only werf's ways reach the fake cluster.
    let missing = rig.path("missing.kubeconfig");
    let missing = missing.to_str().unwrap();
    let converge = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![
            "--output",
            "json",
            "converge",
            "--dir",
            d,
            "--store",
            s,
            "--repo",
            &repo,
            "--skip-cluster-trust",
            "--timeout",
            "1s",
            "--poll-interval",
            "50ms",
        ];
        args.extend_from_slice(extra);
        let mut vars = vec![("KUBECONFIG", missing)];
        vars.extend_from_slice(env);
        rig.slipway_env(&args, &vars)
    };
    let applies = || {
        fake.requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .count()
    };
    for (how, extra, env) in [
        ("--kube-config", vec!["--kube-config", good], vec![]),
        ("WERF_KUBE_CONFIG", vec![], vec![("WERF_KUBE_CONFIG", good)]),
        ("WERF_KUBECONFIG", vec![], vec![("WERF_KUBECONFIG", good)]),
        (
            "--kube-context",
            vec!["--kube-config", picky, "--kube-context", "fake-ctx"],
            vec![],
        ),
        (
            "WERF_KUBE_CONTEXT",
            vec![],
            vec![
                ("WERF_KUBE_CONFIG", picky),
                ("WERF_KUBE_CONTEXT", "fake-ctx"),
            ],
        ),
    ] {
        let before = applies();
        let run = converge(&extra, &env);
        // The fake never makes the Deployment ready: converge applies, then times out (3).
        assert_eq!(
            run.code, 3,
            "[{how}]\nstderr:\n{}\nstdout:\n{}",
            run.stderr, run.stdout
        );
        assert!(
            applies() > before,
            "[{how}] nothing was applied:\n{}",
            run.stderr
        );
    }

    // --use-custom-tag reaches the applied Deployment.
    let run = converge(
        &["--kube-config", good, "--use-custom-tag", "%image%-live"],
        &[],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stderr, run.stdout);
    let deployment = fake
        .get("Deployment", "hello", "hello")
        .expect("the Deployment was applied");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("{repo}:app-live").as_str()
    );

    // Bad kubeconfigs are bad input, named, before anything is built or applied.
    let before = applies();
    let state = rig.storage();
    let run = converge(&["--kube-config", picky], &[]);
    refused(&run, "no such context", &["gone"]);
    let nowhere = rig.path("nowhere.kubeconfig");
    let run = converge(&["--kube-config", nowhere.to_str().unwrap()], &[]);
    refused(&run, "no such file", &["nowhere.kubeconfig"]);
    assert_eq!(applies(), before);
    rig.assert_nothing_pushed(&state, "bad kubeconfigs");

    // doctor reads the cluster through the same flags.
    let host = rig.reg.host();
    for (extra, env) in [
        (vec!["--kube-config", good], vec![]),
        (vec![], vec![("WERF_KUBE_CONFIG", good)]),
        (
            vec![],
            vec![
                ("WERF_KUBECONFIG", picky),
                ("WERF_KUBE_CONTEXT", "fake-ctx"),
            ],
        ),
    ] {
        let mut args = vec!["--output", "json", "doctor", "--registry", &host];
        args.extend_from_slice(&extra);
        let mut vars = vec![("KUBECONFIG", missing)];
        vars.extend_from_slice(&env);
        let run = rig.slipway_env(&args, &vars);
        assert!(
            run.json["cluster"].is_object() && run.json["cluster"]["error"].is_null(),
            "{extra:?} {env:?}: the cluster side must be read\n{}\n{}",
            run.stdout,
            run.stderr
        );
        assert_eq!(
            run.json["cluster"]["nodes_without_trust"][0], "n1",
            "{:#}",
            run.json
        );
    }
    let run = rig.slipway_env(&["doctor", "--registry", &host], &[("KUBECONFIG", missing)]);
    refused(&run, "doctor without a kubeconfig", &["--kube-config"]);
}

/// The werf flags slipway refuses, each on the command line and in its werf variable, on
/// each command that has it in werf: exit 2 with the reason and what to do, before anything
/// is built, pushed or applied.
#[test]
fn werf_flags_slipway_cannot_honour_are_refused_before_anything_happens() {
    let rig = TlsRig::new();
    let dir = rig.example("hello");
    let d = dir.to_str().unwrap();
    let repo = rig.repo("hello");
    let store = rig.path("store");
    let s = store.to_str().unwrap();
    let fake = FakeKube::start();
    let kubeconfig = fake.write_kubeconfig(&rig.path("kubeconfig"), "fake-ctx", "apps");
    let kubeconfig = kubeconfig.to_str().unwrap();
    let before = rig.storage();
    let run = |cmd: &str, flags: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![cmd, "--dir", d, "--store", s, "--repo", &repo];
        args.extend_from_slice(flags);
        let mut vars = vec![("KUBECONFIG", kubeconfig)];
        vars.extend_from_slice(env);
        rig.slipway_env(&args, &vars)
    };
    const ALL: &[&str] = &["build", "render", "converge"];
    const DEPLOY: &[&str] = &["render", "converge"];
    // (flags, environment, commands, what stderr says)
    type Case<'a> = (
        &'a [&'a str],
        &'a [(&'a str, &'a str)],
        &'a [&'a str],
        &'a [&'a str],
    );
    let cases: &[Case<'_>] = &[
        (
            &["--dev"],
            &[],
            ALL,
            &["--dev", "builds the files in --dir as they are"],
        ),
        (
            &[],
            &[("WERF_DEV", "true")],
            ALL,
            &["WERF_DEV", "leave --dev out"],
        ),
        // The other repositories are taken, and checked before anything happens.
        (
            &["--final-repo", "r.test/final:v1"],
            &[],
            ALL,
            &["--final-repo r.test/final:v1", "without a tag or digest"],
        ),
        (
            &[],
            &[("WERF_SECONDARY_REPO_OLD", "r.test/old:v1")],
            ALL,
            &[
                "WERF_SECONDARY_REPO_OLD r.test/old:v1",
                "without a tag or digest",
            ],
        ),
        (
            &["--cache-repo", "r.test/cache:v1"],
            &[],
            ALL,
            &["--cache-repo r.test/cache:v1", "without a tag or digest"],
        ),
        (
            &["--secret-values", ".helm/secret-values.yaml"],
            &[],
            DEPLOY,
            &[
                "--secret-values is not supported",
                "encryption is not implemented",
            ],
        ),
        (
            &[],
            &[("WERF_SECRET_VALUES_PROD", "s.yaml")],
            DEPLOY,
            &["WERF_SECRET_VALUES_PROD is not supported"],
        ),
    ];
    for (flags, env, commands, says) in cases {
        for cmd in *commands {
            let what = format!("{cmd} {flags:?} {env:?}");
            let r = run(cmd, flags, env);
            refused(&r, &what, says);
            assert_eq!(
                r.stderr.matches("error: ").count(),
                1,
                "[{what}] one error:\n{}",
                r.stderr
            );
        }
    }
    // Several at once: each is named, on a line of its own.
    let r = run("converge", &["--dev", "--secret-values", "s.yaml"], &[]);
    refused(
        &r,
        "several",
        &["--dev (WERF_DEV)", "\n--secret-values is not supported"],
    );
    assert!(!store.exists(), "a build started");
    assert!(fake.requests().is_empty(), "the cluster was asked");
    rig.assert_nothing_pushed(&before, "refused werf flags");

    // Switched off is not given; werf's deploy variables mean nothing to build, and
    // WERF_SET_DOCKER_CONFIG_JSON_VALUE is a switch, not a Helm value.
    let r = run(
        "build",
        &["--dev=false"],
        &[("WERF_FINAL_REPO", ""), ("WERF_VALUES_1", "v.yaml")],
    );
    ok(&r, "build --dev=false");
    let r = run(
        "render",
        &[],
        &[
            ("WERF_DEV", "0"),
            ("WERF_SET_DOCKER_CONFIG_JSON_VALUE", "1"),
        ],
    );
    ok(&r, "render WERF_DEV=0");
    // Helm values are the chart's now: werf's flags and variables for them are taken.
    let r = run("render", &["--set", "a=b"], &[("WERF_SET_STRING_1", "c=1")]);
    ok(&r, "render --set, WERF_SET_STRING_1");
}

/// A werf flag slipway has no use for is an unknown flag (exit 2), and the message points
/// at the page that maps werf's flags; a typo gets clap's message alone.
#[test]
fn a_werf_flag_slipway_does_not_take_is_named_as_werfs() {
    let tmp = tempfile::tempdir().unwrap();
    for flag in [
        "--log-verbose",
        "--parallel-tasks-limit=3",
        "--loose-giterminism",
    ] {
        let run = common::slipway(tmp.path(), &["build", flag], &[]);
        assert_eq!(run.code, 2, "{flag}: {}", run.stderr);
        let name = flag.split('=').next().unwrap();
        assert!(
            run.stderr.contains(&format!(
                "note: `{name}` is a werf flag slipway does not take; docs/coming-from-werf.md"
            )),
            "{flag}: {}",
            run.stderr
        );
    }
    let run = common::slipway(tmp.path(), &["build", "--bogus"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains("werf flag"), "{}", run.stderr);
}

/// A `WERF_*` variable no slipway command reads is named, never ignored silently; the
/// ones slipway reads are not.
#[test]
fn werf_variables_slipway_does_not_read_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("no-project");
    let run = common::slipway(
        tmp.path(),
        &["build", "--dir", dir.to_str().unwrap()],
        &[
            ("WERF_TIMEOUT", "600"),
            ("WERF_LOG_VERBOSE", "1"),
            ("WERF_REPO", "registry.test:5000/app"),
            ("WERF_ADD_CUSTOM_TAG_1", "x"),
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "note: WERF_LOG_VERBOSE, WERF_TIMEOUT are set, and slipway does not read them"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("WERF_REPO,"), "{}", run.stderr);
    // Commands that are not werf's say nothing of werf's variables.
    let run = common::slipway(
        tmp.path(),
        &["tags", "oci:/nowhere"],
        &[("WERF_TIMEOUT", "1")],
    );
    assert!(!run.stderr.contains("WERF_TIMEOUT"), "{}", run.stderr);
}
