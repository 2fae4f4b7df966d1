//! `slipway render` end to end: the sample app in `examples/hello` is built into the real
//! TLS registry with `slipway build`, then rendered; the Deployment must name the very
//! digest the build pushed, skopeo must find that digest, and render must push nothing.
//! Bad manifests (Helm templating, unknown images), a missing `--repo` and a missing
//! manifests folder must exit 2 before anything is built.
//!
//! "Nothing was pushed" is checked on the registry's storage folder, as in `build.rs`:
//! every push writes there, reads never do.

mod common;

use std::path::Path;

use common::{Run, TlsRig};
use serde_json::Value;

type Rig = TlsRig;

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} ({e}): {text}", path.display()))
}

fn ok(run: &Run, what: &str) {
    assert_eq!(
        run.code, 0,
        "{what} failed\nstderr:\n{}\nstdout:\n{}",
        run.stderr, run.stdout
    );
}

/// Parses a YAML stream into its documents.
fn documents(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple(yaml).unwrap_or_else(|e| panic!("not YAML ({e}):\n{yaml}"))
}

/// Returns the one object of `kind` among `objects`.
fn object<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = objects.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "want one {kind} in {objects:#?}");
    found[0]
}

/// Returns every stage status of a build report.
fn statuses(report: &Value) -> Vec<String> {
    report["Images"]
        .as_object()
        .unwrap_or_else(|| panic!("no Images in {report:#}"))
        .values()
        .flat_map(|img| img["Stages"].as_array().unwrap().iter())
        .map(|s| s["Status"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn example_app_renders_the_digests_build_pushed() {
    let rig = Rig::new();
    let dir = rig.example("hello");
    let d = dir.to_str().unwrap();
    let repo = rig.repo("hello");
    let store = rig.path("store");
    let s = store.to_str().unwrap();

    // 1. Build and push, as CI would.
    let first = rig.path("build-report.json");
    let build = rig.slipway(&[
        "build",
        "--dir",
        d,
        "--store",
        s,
        "--repo",
        &repo,
        "--report-path",
        first.to_str().unwrap(),
    ]);
    ok(&build, "slipway build");
    let report = read_json(&first);
    let app = &report["Images"]["app"];
    let digest = app["DockerImageDigest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"), "{app:#}");
    let pinned = format!("{repo}@{digest}");

    // 2. Render: everything cached, nothing pushed, the Deployment pinned to that digest.
    let before = rig.storage();
    let again = rig.path("render-report.json");
    let run = rig.slipway(&[
        "render",
        "--dir",
        d,
        "--store",
        s,
        "--repo",
        &repo,
        "--report-path",
        again.to_str().unwrap(),
    ]);
    ok(&run, "slipway render");
    rig.assert_nothing_pushed(&before, "slipway render after build");
    let statuses = statuses(&read_json(&again));
    assert!(
        !statuses.is_empty() && statuses.iter().all(|s| s == "cached"),
        "render must find every stage built: {statuses:?}"
    );
    assert!(
        run.stderr.contains("cached")
            && !run.stderr.contains(" built")
            && !run.stderr.contains("pushed"),
        "render's progress must say every stage is cached:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("app: {pinned} (cached)")),
        "{}",
        run.stderr
    );

    assert!(
        run.stdout
            .starts_with("---\n# Source: hello/templates/deployment.yaml\n"),
        "every document starts with --- and its source, named as helm template names it:\n{}",
        run.stdout
    );
    assert_eq!(
        run.stdout.matches("# Source: ").count(),
        3,
        "{}",
        run.stdout
    );
    let objects = documents(&run.stdout);
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["ConfigMap", "Service", "Deployment"],
        "Helm's install order"
    );
    assert!(
        run.stdout.contains(&format!("\n        image: {pinned}\n")),
        "the image reference stays on its line:\n{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("{{"),
        "no template action is left:\n{}",
        run.stdout
    );

    // The Deployment is a valid apps/v1 Deployment, as the API server would read it.
    let deployment: k8s_openapi::api::apps::v1::Deployment =
        serde_json::from_value(object(&objects, "Deployment").clone())
            .unwrap_or_else(|e| panic!("not a Deployment ({e}):\n{}", run.stdout));
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.containers[0].image.as_deref(), Some(pinned.as_str()));
    let volume = pod.volumes.unwrap();
    assert_eq!(
        volume[0].config_map.as_ref().unwrap().default_mode,
        Some(0o644),
        "`defaultMode: 0644` is octal, as Kubernetes reads it"
    );
    let _: k8s_openapi::api::core::v1::Service =
        serde_json::from_value(object(&objects, "Service").clone()).unwrap();
    let _: k8s_openapi::api::core::v1::ConfigMap =
        serde_json::from_value(object(&objects, "ConfigMap").clone()).unwrap();

    // skopeo, an independent client, pulls exactly that digest reference.
    assert_eq!(
        rig.skopeo
            .manifest_digest(&format!("docker://{pinned}"))
            .unwrap_or_else(|e| panic!("{e}")),
        digest
    );

    // 3. --output json into --out: the same objects and the image map; stdout stays empty.
    let out = rig.path("rendered.json");
    let run = rig.slipway(&[
        "--output",
        "json",
        "render",
        "--dir",
        d,
        "--store",
        s,
        "--repo",
        &repo,
        "--out",
        out.to_str().unwrap(),
    ]);
    ok(&run, "slipway --output json render --out");
    assert_eq!(run.stdout, "", "--out takes the output");
    let json = read_json(&out);
    assert_eq!(json["images"]["app"], pinned.as_str(), "{json:#}");
    assert_eq!(json["manifests"].as_array().unwrap(), &objects);

    // 4. --manifests DIR, with a bare image name in a Pod.
    let custom = rig.path("k8s");
    std::fs::create_dir_all(custom.join("jobs")).unwrap();
    std::fs::write(
        custom.join("jobs/pod.yml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: once\nspec:\n  initContainers:\n  \
         - name: init\n    image: app\n  containers:\n  - name: main\n    image: busybox:1\n",
    )
    .unwrap();
    let run = rig.slipway(&[
        "render",
        "--dir",
        d,
        "--store",
        s,
        "--repo",
        &repo,
        "--manifests",
        custom.to_str().unwrap(),
        "--out",
        "-",
    ]);
    ok(&run, "slipway render --manifests");
    let objects = documents(&run.stdout);
    let pod: k8s_openapi::api::core::v1::Pod =
        serde_json::from_value(object(&objects, "Pod").clone()).unwrap();
    let spec = pod.spec.unwrap();
    assert_eq!(
        spec.init_containers.unwrap()[0].image.as_deref(),
        Some(pinned.as_str())
    );
    assert_eq!(spec.containers[0].image.as_deref(), Some("busybox:1"));
    assert!(
        run.stdout
            .contains("# Source: hello/templates/jobs/pod.yml\n"),
        "{}",
        run.stdout
    );
    rig.assert_nothing_pushed(&before, "every render");
}

#[test]
fn bad_manifests_and_missing_repo_exit_2_before_building() {
    let rig = Rig::new();
    let dir = rig.example("hello");
    let d = dir.to_str().unwrap();
    let repo = rig.repo("hello");
    let templates = dir.join(".helm/templates");
    let before = rig.storage();
    let store = rig.path("store");
    let s = store.to_str().unwrap();
    let render = |extra: &[&str]| {
        let mut args = vec!["render", "--dir", d, "--store", s];
        args.extend_from_slice(extra);
        rig.slipway(&args)
    };
    let expect_2 = |run: &Run, what: &str, needles: &[&str]| {
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
        assert!(
            !store.exists(),
            "[{what}] the store was created, so a build started"
        );
        rig.assert_nothing_pushed(&before, what);
    };

    // A template that fails as Helm's would, with the chart path, line and column.
    let extra = templates.join("extra.yaml");
    std::fs::write(
        &extra,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: {{ .Values.replicas.count }}\n",
    )
    .unwrap();
    let path = extra.display().to_string();
    expect_2(
        &render(&["--repo", &repo]),
        "template error",
        &[
            "hello/templates/extra.yaml:6:22",
            "nil pointer evaluating interface {}.count",
        ],
    );
    // A construct slipway does not do is refused by name, with its place.
    std::fs::write(
        &extra,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  p: {{ randAlphaNum 8 }}\n",
    )
    .unwrap();
    expect_2(
        &render(&["--repo", &repo]),
        "unsupported function",
        &[
            "randAlphaNum",
            "not supported by slipway",
            "hello/templates/extra.yaml:6",
        ],
    );

    // An image werf.yaml does not define.
    std::fs::write(
        &extra,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: c\n    image: \"{{ .Values.werf.image.backend }}\"\n",
    )
    .unwrap();
    expect_2(
        &render(&["--repo", &repo]),
        "unknown image",
        &[
            &format!("{path}:8: unknown image `backend`"),
            "the images are: app",
        ],
    );
    std::fs::remove_file(&extra).unwrap();

    // werf's release and namespace flags are checked as converge checks them.
    expect_2(
        &render(&["--repo", &repo, "--namespace", "Not_Valid"]),
        "bad --namespace",
        &["--namespace `Not_Valid`", "DNS-1123 label"],
    );
    expect_2(
        &render(&[
            "--repo",
            &repo,
            "--release",
            "UPPER",
            "--kube-config",
            "/nowhere",
        ]),
        "bad --release",
        &["--release `UPPER`"],
    );

    // No --repo: nodes cannot pull from the local store.
    expect_2(&render(&[]), "no --repo", &["--repo", "local store"]);

    // No manifests folder: both places are named.
    std::fs::remove_dir_all(dir.join(".helm")).unwrap();
    expect_2(
        &render(&["--repo", &repo]),
        "no .helm/templates",
        &[&templates.display().to_string(), "--manifests"],
    );
    let missing = rig.path("nowhere");
    expect_2(
        &render(&["--repo", &repo, "--manifests", missing.to_str().unwrap()]),
        "missing --manifests",
        &[
            &format!("--manifests {}: no such folder", missing.display()),
            &templates.display().to_string(),
        ],
    );
}

/// werf's command line for `render` works as it is: release and namespace flags are
/// checked, and the kubeconfig flags are said to be unread (render never contacts the
/// cluster).
#[test]
fn werfs_render_flags_are_taken() {
    let rig = Rig::new();
    let dir = rig.example("hello");
    let d = dir.to_str().unwrap();
    let repo = rig.repo("hello");
    let store = rig.path("store");
    let s = store.to_str().unwrap();
    let render = |extra: &[&str]| {
        let mut args = vec!["render", "--dir", d, "--store", s];
        args.extend_from_slice(extra);
        rig.slipway(&args)
    };
    // werf's command line for render works: the kubeconfig is said to be unread.
    let fine = render(&[
        "--repo",
        &repo,
        "--env",
        "production",
        "--namespace",
        "apps",
        "--release",
        "hello-production",
        "--kube-config",
        "/nowhere/kubeconfig",
        "--kube-context",
        "ci",
    ]);
    ok(&fine, "render with werf's deploy flags");
    assert!(
        fine.stderr
            .contains("note: render does not contact the cluster, so --kube-config and --kube-context are not read"),
        "{}",
        fine.stderr
    );
}

/// werf's `final: false`: the intermediate image is built for the image that depends on it,
/// but is not among the images the manifests name (werf's `.Values.werf.image`); naming it
/// exits 2 before anything is built, saying why. The same project has werf's `staged: true`
/// (built as usual, and announced) and `deploy.helmChartConfig.appVersion` (the chart's
/// `.Chart.AppVersion`, over its Chart.yaml's).
#[test]
fn intermediate_images_are_left_out_of_the_manifests() {
    let rig = Rig::new();
    let dir = rig.path("fin");
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let werf_yaml = |staged: &str| {
        format!(
            "project: fin\nconfigVersion: 1\ndeploy:\n  helmChartConfig:\n    appVersion: 1.10\n\
             ---\nimage: builder\nfinal: false\nstaged: {staged}\n\
             dockerfile: builder.Dockerfile\ncontext: .\n---\nimage: app\ndockerfile: Dockerfile\n\
             context: .\ndependencies:\n- from: builder\n  imports:\n  - type: ImageName\n    \
             targetBuildArg: B\n"
        )
    };
    write("werf.yaml", &werf_yaml("true"));
    write("builder.Dockerfile", "FROM scratch\nCOPY a.txt /a\n");
    write(
        "Dockerfile",
        "ARG B\nFROM ${B} AS b\nFROM scratch\nCOPY --from=b /a /a\n",
    );
    write("a.txt", "a\n");
    write(
        ".helm/templates/pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    \
         image: \"{{ .Values.werf.image.app }}\"\n",
    );
    write(
        ".helm/Chart.yaml",
        "apiVersion: v2\nname: fin\nversion: 1.0.0\nappVersion: \"0.1\"\n",
    );
    write(
        ".helm/templates/version.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: v\ndata:\n  \
         app: {{ .Chart.AppVersion | quote }}\n",
    );
    let repo = rig.repo("fin");
    let d = dir.to_str().unwrap();
    let store = rig.path("store");
    let s = store.to_str().unwrap();
    let report = rig.path("report.json");

    // Naming the intermediate image is refused before anything is built.
    write(
        ".helm/templates/builder.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: b\nspec:\n  containers:\n  - name: c\n    \
         image: \"{{ .Values.werf.image.builder }}\"\n",
    );
    let before = rig.storage();
    // `staged` is true or false; anything else exits 2 naming its place.
    write("werf.yaml", &werf_yaml("\"yes\""));
    let run = rig.slipway(&["render", "--dir", d, "--store", s, "--repo", &repo]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr
            .contains("werf.yaml:9: document 2, `staged`: expected true or false, found a string"),
        "{}",
        run.stderr
    );
    write("werf.yaml", &werf_yaml("true"));
    let run = rig.slipway(&["render", "--dir", d, "--store", s, "--repo", &repo]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    for says in [
        "unknown image `builder`",
        "the images are: app",
        "`builder` has `final: false` in werf.yaml",
    ] {
        assert!(run.stderr.contains(says), "{says}: {}", run.stderr);
    }
    assert!(!store.exists(), "a build started");
    rig.assert_nothing_pushed(&before, "naming an intermediate image");
    std::fs::remove_file(dir.join(".helm/templates/builder.yaml")).unwrap();

    let run = rig.slipway(&[
        "--output",
        "json",
        "render",
        "--dir",
        d,
        "--store",
        s,
        "--repo",
        &repo,
        "--report-path",
        report.to_str().unwrap(),
    ]);
    ok(&run, "slipway render");
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    let built = read_json(&report);
    let app = &built["Images"]["app"];
    let pinned = format!("{repo}@{}", app["DockerImageDigest"].as_str().unwrap());
    assert_eq!(json["images"], serde_json::json!({ "app": pinned }));
    let manifests = json["manifests"].as_array().unwrap();
    assert_eq!(
        object(manifests, "Pod")["spec"]["containers"][0]["image"],
        pinned.as_str()
    );
    // werf.yaml's appVersion, as written (not the number 1.1), over Chart.yaml's.
    assert_eq!(object(manifests, "ConfigMap")["data"]["app"], "1.10");
    // `staged: true` is built as any image, and said to be cached per stage.
    assert!(
        run.stderr.contains(
            "werf.yaml:9: `staged: true` (image `builder`): slipway caches per Dockerfile \
             stage, not per instruction"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("`staged: true`").count(),
        1,
        "announced once: {}",
        run.stderr
    );
    // Built and reported all the same, as werf reports it.
    let builder = &built["Images"]["builder"];
    assert_eq!(builder["Final"], false);
    assert_eq!(app["Final"], true);
    assert!(
        run.stderr.contains(&format!(
            "builder: {} (built; final: false, not in the manifests)",
            builder["DockerImageName"].as_str().unwrap()
        )),
        "{}",
        run.stderr
    );
}
