//! `slipway build` of a templated werf.yaml, end to end: a `.werf` template file, `set`,
//! `range` over three images, `env` and `.Files.Get`, built by the real binary into the
//! real TLS registry, then each image's config read back with skopeo. A `required` that
//! fails exits 2 naming werf.yaml and the line, and builds nothing.

mod common;

use common::TlsRig;

const PARTIALS: &str = r#"{{- define "image" }}
image: {{ .name }}
dockerfile: Dockerfile
context: .
args:
  NAME: {{ .name }}
  BASE_NOTE: {{ .base | quote }}
  VERSION: {{ .version | quote }}
{{- end }}
"#;

const WERF_YAML: &str = r#"{{ $_ := set . "Note" "scratch" }}
{{- $version := .Files.Get "version.txt" | trim -}}
project: templated
configVersion: 1
{{- range $name := list "api" "worker" "cron" }}
---
{{- include "image" (dict "name" $name "base" $.Note "version" (printf "%s-%s" $version (env "BUILD_SUFFIX" "dev"))) }}
{{- end }}
"#;

const DOCKERFILE: &str = "FROM scratch\n\
ARG NAME\nARG BASE_NOTE\nARG VERSION\n\
COPY ${NAME}.txt /name.txt\n\
LABEL app.name=${NAME} app.base=${BASE_NOTE} app.version=${VERSION}\n";

#[test]
fn a_templated_werf_yaml_builds_every_image_it_renders() {
    let rig = TlsRig::new();
    let dir = rig.path("project");
    for (rel, text) in [
        ("werf.yaml", WERF_YAML),
        (".werf/images.tmpl", PARTIALS),
        ("Dockerfile", DOCKERFILE),
        ("version.txt", "1.4.0\n"),
        ("api.txt", "api\n"),
        ("worker.txt", "worker\n"),
        ("cron.txt", "cron\n"),
    ] {
        common::write(&dir.join(rel), text);
    }
    let repo = rig.repo("templated");
    let store = rig.path("store");
    let build = [
        "build",
        "--dir",
        dir.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--repo",
        &repo,
    ];
    let run = rig.slipway_env(
        &[&["--output", "json"][..], &build].concat(),
        &[("BUILD_SUFFIX", "ci7")],
    );
    assert_eq!(
        run.code, 0,
        "slipway build failed\nstderr:\n{}\nstdout:\n{}",
        run.stderr, run.stdout
    );
    let images = run.json["Images"]
        .as_object()
        .unwrap_or_else(|| panic!("no Images in the report: {}", run.stdout));
    let mut names: Vec<&str> = images.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["api", "cron", "worker"]);
    let mut digests = vec![];
    for name in ["api", "worker", "cron"] {
        let img = &images[name];
        let reference = img["DockerImageName"].as_str().unwrap();
        assert!(reference.starts_with(&repo), "{reference}");
        let labels = &rig.config(reference)["config"]["Labels"];
        assert_eq!(labels["app.name"], name, "{labels}");
        assert_eq!(labels["app.base"], "scratch", "{labels}");
        assert_eq!(labels["app.version"], "1.4.0-ci7", "{labels}");
        let digest = rig.digest_of(reference);
        assert_eq!(Some(digest.as_str()), img["DockerImageDigest"].as_str());
        digests.push(digest);
    }
    digests.sort_unstable();
    digests.dedup();
    assert_eq!(digests.len(), 3, "each image has its own content");

    // A `required` that fails: exit 2, werf.yaml and the line named, nothing built.
    std::fs::write(
        dir.join("werf.yaml"),
        format!(
            "{}\n# the registry must be named\n{{{{ $r := required \"DEPLOY_REGISTRY is required\" (env \"DEPLOY_REGISTRY\") }}}}\n",
            WERF_YAML.trim_end()
        ),
    )
    .unwrap();
    let before = rig.storage();
    let failed = rig.slipway(&build);
    assert_eq!(failed.code, 2, "stderr:\n{}", failed.stderr);
    common::assert_stderr_has(
        &failed,
        &[
            "werf.yaml:10:9: ",
            "error calling required: DEPLOY_REGISTRY is required",
        ],
    );
    rig.assert_nothing_pushed(&before, "a build whose werf.yaml does not render");
}
