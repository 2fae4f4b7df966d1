//! `slipway chart render` on charts whose dependencies live in an OCI registry behind TLS
//! with a private CA, against the real helm: the charts are packaged and pushed with
//! `helm package` and `helm push`, and the oracle is `helm dependency build --ca-file`
//! followed by `helm template` on a copy of the chart. slipway pulls the missing
//! dependencies itself, through `--registry-ca`, and must print the same documents, pick
//! the version helm picks for a range, leave the chart folder untouched, and fail as the
//! trust rules and Helm's rules say when it cannot.

mod common;

use std::path::{Path, PathBuf};

use common::{Run, write};
use serde_json::Value;
use slipway_testkit::{Helm, HelmRun, LeafKind, Registry, TestPki};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A registry with charts pushed to `HOST/charts/db` (several versions) and
/// `HOST/charts/other`.
struct Fixture {
    helm: Helm,
    reg: Registry,
    pki: TestPki,
    tmp: tempfile::TempDir,
}

/// The versions of `db` pushed: releases, a prerelease and one with build metadata (its
/// tag spells `+` as `_`).
const DB_VERSIONS: &[&str] = &[
    "1.0.0",
    "1.2.0",
    "1.10.0",
    "1.11.0-rc.1",
    "1.1.0+build.7",
    "2.0.0",
];

impl Fixture {
    fn new() -> Fixture {
        let pki = TestPki::new();
        let reg = Registry::builder()
            .tls(&pki.server_cert(LeafKind::CaSigned))
            .start();
        let fx = Fixture {
            helm: Helm::new(),
            reg,
            pki,
            tmp: tempfile::tempdir().unwrap(),
        };
        for v in DB_VERSIONS {
            fx.push(&db_chart(fx.tmp.path(), v));
        }
        let other = fx.tmp.path().join("src/other");
        write(
            &other.join("Chart.yaml"),
            "apiVersion: v2\nname: other\nversion: 0.3.0\n",
        );
        write(
            &other.join("templates/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-other\ndata:\n  chart: {{ .Chart.Name }}-{{ .Chart.Version }}\n",
        );
        fx.push(&other);
        fx
    }

    fn host(&self) -> String {
        self.reg.host()
    }

    fn ca(&self) -> &Path {
        self.pki.ca()
    }

    /// `helm package` then `helm push` to `oci://HOST/charts`.
    fn push(&self, dir: &Path) {
        let out = self.tmp.path().join("packages");
        let o = self.helm.must(&["package", s(dir), "-d", s(&out)]);
        let archive = o
            .stdout
            .split("saved it to: ")
            .nth(1)
            .expect("helm package says where")
            .trim()
            .to_string();
        self.helm.must(&[
            "push",
            &archive,
            &format!("oci://{}/charts", self.host()),
            "--ca-file",
            s(self.ca()),
        ]);
    }

    /// A parent chart that lists `deps` (YAML list items, `REPO` replaced by the
    /// registry's repository), in a folder of its own.
    fn parent(&self, name: &str, deps: &str) -> PathBuf {
        let dir = self.tmp.path().join("parents").join(name);
        let deps = deps.replace("REPO", &format!("oci://{}/charts", self.host()));
        write(
            &dir.join("Chart.yaml"),
            &format!("apiVersion: v2\nname: web\nversion: 0.1.0\ndependencies:\n{deps}"),
        );
        write(
            &dir.join("values.yaml"),
            "greeting: hello\ndb:\n  size: 3\nold:\n  size: 1\n",
        );
        write(
            &dir.join("templates/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-web\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
        );
        dir
    }

    /// `slipway chart render CHART` with `flags` before the command.
    fn slipway(&self, flags: &[String], chart: &Path) -> Run {
        let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
        args.extend(["chart", "render", s(chart), "--release", "rel"]);
        common::slipway(self.tmp.path(), &args, &[])
    }

    fn trust(&self) -> Vec<String> {
        vec![format!("--registry-ca={}={}", self.host(), s(self.ca()))]
    }

    /// The oracle: `helm dependency build --ca-file` on a copy of `chart`, then
    /// `helm template`; returns its output and the archives it put under `charts/`.
    fn helm_render(&self, chart: &Path) -> (HelmRun, Vec<String>) {
        let copy = self
            .tmp
            .path()
            .join("oracle")
            .join(chart.file_name().unwrap().to_string_lossy().into_owned());
        let _ = std::fs::remove_dir_all(&copy);
        common::copy_tree(chart, &copy);
        let built = self
            .helm
            .run(&["dependency", "build", s(&copy), "--ca-file", s(self.ca())]);
        if built.code != 0 {
            return (built, Vec::new());
        }
        let mut archives: Vec<String> = std::fs::read_dir(copy.join("charts"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        archives.sort();
        (self.helm.run(&["template", "rel", s(&copy)]), archives)
    }
}

/// A `db` chart of `version`, whose documents show its version and values.
fn db_chart(root: &Path, version: &str) -> PathBuf {
    let dir = root.join("src").join(format!("db-{version}"));
    write(
        &dir.join("Chart.yaml"),
        &format!("apiVersion: v2\nname: db\nversion: {version}\nappVersion: \"16\"\n"),
    );
    write(
        &dir.join("values.yaml"),
        "size: 1\nengine: pg\nexports:\n  data:\n    port: 5432\n",
    );
    write(
        &dir.join("templates/sts.yaml"),
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\n  labels:\n    chart: {{ .Chart.Name }}-{{ .Chart.Version | replace \"+\" \"_\" }}\nspec:\n  replicas: {{ .Values.size }}\n  template:\n    metadata:\n      labels:\n        engine: {{ .Values.engine }}\n",
    );
    write(
        &dir.join("templates/svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}-svc\nspec:\n  ports:\n  - port: 5432\n",
    );
    dir
}

/// Splits a rendered stream into (source, data) documents.
fn documents(stream: &str) -> Vec<(String, Value)> {
    let mut docs = Vec::new();
    for chunk in stream
        .split("\n---\n")
        .map(|c| c.trim_start_matches("---\n"))
    {
        let mut lines = chunk.lines();
        let Some(source) = lines
            .by_ref()
            .find_map(|l| l.strip_prefix("# Source: ").map(str::to_string))
        else {
            continue;
        };
        let body: Vec<&str> = lines.collect();
        let data: Value = serde_saphyr::from_str(&body.join("\n"))
            .unwrap_or_else(|e| panic!("{source}: not YAML: {e}\n{chunk}"));
        docs.push((source, data));
    }
    docs
}

/// Asserts slipway printed what helm printed, document by document, and returns the
/// documents.
fn assert_same(helm: &HelmRun, slipway: &Run) -> Vec<(String, Value)> {
    assert_eq!(helm.code, 0, "helm: {}", helm.stderr);
    assert_eq!(slipway.code, 0, "slipway: {}", slipway.stderr);
    let (h, w) = (documents(&helm.stdout), documents(&slipway.stdout));
    assert!(!h.is_empty(), "helm printed nothing: {}", helm.stdout);
    assert_eq!(
        h, w,
        "\n--- helm:\n{}\n--- slipway:\n{}",
        helm.stdout, slipway.stdout
    );
    h
}

/// The `chart` label of the db StatefulSet named `NAME-db` (aliases rename it).
fn db_label(docs: &[(String, Value)], name: &str) -> String {
    docs.iter()
        .find(|(_, d)| d["kind"] == "StatefulSet" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no StatefulSet {name} in {docs:?}"))
        .1["metadata"]["labels"]["chart"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Asserts slipway says it pulled exactly the charts, at the versions, that helm put
/// under `charts/` (`NAME-VERSION.tgz`).
fn assert_pulled_as_helm(ours: &Run, archives: &[String]) {
    for archive in archives {
        let stem = archive.trim_end_matches(".tgz");
        let (chart_name, version) = stem.split_once('-').unwrap();
        let said = format!("pulled chart {chart_name} {version} from ");
        assert!(
            ours.stderr.contains(&said),
            "{said:?} not in {}",
            ours.stderr
        );
    }
    let pulled = ours.stderr.matches("pulled chart ").count();
    assert_eq!(pulled, archives.len(), "{archives:?} {}", ours.stderr);
}

/// The chart folder's files, to check that rendering wrote nothing there.
fn listing(dir: &Path) -> Vec<PathBuf> {
    common::snapshot(dir).into_keys().collect()
}

#[test]
fn oci_dependencies_are_pulled_through_the_registry_trust_and_render_as_helm_does() {
    let fx = Fixture::new();

    // Exact versions (one with build metadata, whose tag spells `+` as `_`), a range with
    // a higher prerelease and a `+` version around, a range between, an alias of the same
    // chart at another version, and a second chart.
    /// (folder, dependencies, (StatefulSet, its `chart` label) expected).
    type Case = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    );
    let cases: &[Case] = &[
        (
            "exact",
            "- name: db\n  version: 1.2.0\n  repository: REPO\n",
            &[("rel-db", "db-1.2.0")],
        ),
        (
            "exact-build",
            "- name: db\n  version: 1.1.0+build.7\n  repository: REPO\n",
            &[("rel-db", "db-1.1.0_build.7")],
        ),
        (
            "caret",
            "- name: db\n  version: ^1.0.0\n  repository: REPO\n",
            &[("rel-db", "db-1.10.0")],
        ),
        (
            "between",
            "- name: db\n  version: \">1.0.0, <1.2.0\"\n  repository: REPO\n",
            &[("rel-db", "db-1.1.0_build.7")],
        ),
        (
            "alias-and-other",
            "- name: db\n  version: \"~1.2\"\n  repository: REPO\n- name: db\n  alias: old\n  version: 1.0.0\n  repository: REPO\n- name: other\n  version: \">=0.1\"\n  repository: REPO\n",
            &[("rel-db", "db-1.2.0"), ("rel-old", "old-1.0.0")],
        ),
    ];
    for (name, deps, labels) in cases {
        let chart = fx.parent(name, deps);
        let before = listing(&chart);
        let (helm, archives) = fx.helm_render(&chart);
        let ours = fx.slipway(&fx.trust(), &chart);
        let docs = assert_same(&helm, &ours);
        assert_eq!(
            listing(&chart),
            before,
            "{name}: slipway wrote into the chart"
        );
        for (sts, label) in labels.iter() {
            assert_eq!(&db_label(&docs, sts), label, "{name}");
        }
        assert_pulled_as_helm(&ours, &archives);
    }
}

#[test]
fn without_the_registry_ca_the_pull_fails_naming_the_registry_and_the_fix() {
    let fx = Fixture::new();
    let chart = fx.parent(
        "untrusted",
        "- name: db\n  version: 1.2.0\n  repository: REPO\n",
    );
    let host = fx.host();
    // helm fails too without its --ca-file.
    let copy = fx.tmp.path().join("untrusted-helm");
    common::copy_tree(&chart, &copy);
    let helm = fx.helm.run(&["dependency", "build", s(&copy)]);
    assert_ne!(helm.code, 0, "{}", helm.stdout);

    let before = listing(&chart);
    let ours = fx.slipway(&[], &chart);
    // As `slipway copy`: a certificate nobody said to trust is a failure while working.
    assert_eq!(ours.code, 3, "{}", ours.stderr);
    common::assert_no_repeated_cause(&ours.stderr);
    for needle in [
        "chart dependency db from oci://",
        &format!("the certificate of {host} is not signed by any CA trusted for it"),
        &format!("--registry-ca {host}="),
    ] {
        assert!(
            ours.stderr.contains(needle),
            "{needle:?} not in {}",
            ours.stderr
        );
    }
    assert!(ours.stdout.is_empty(), "{}", ours.stdout);
    assert_eq!(listing(&chart), before);
}

#[test]
fn versions_the_registry_lacks_fail_naming_the_chart_and_version() {
    let fx = Fixture::new();
    let dep = |version: &str, repo: &str| {
        format!("- name: db\n  version: {version:?}\n  repository: {repo}\n")
    };
    let cases = [
        (
            "missing-tag",
            dep("9.9.9", "REPO"),
            vec!["db", "9.9.9", "versions there: 2.0.0, 1.11.0-rc.1, 1.10.0"],
        ),
        (
            "no-match",
            dep("^3.0.0", "REPO"),
            vec!["db", "^3.0.0", "versions there: 2.0.0"],
        ),
        (
            "bad-range",
            dep("not a range", "REPO"),
            vec!["db", "not a range"],
        ),
        // Helm refuses the `//` a repository ending in `/` makes, and so does slipway.
        (
            "trailing-slash",
            dep("1.2.0", "REPO/"),
            vec!["db", "charts//db"],
        ),
    ];
    for (name, deps, needles) in &cases {
        let chart = fx.parent(name, deps);
        let (helm, _) = fx.helm_render(&chart);
        assert_ne!(helm.code, 0, "{name}: helm succeeded: {}", helm.stdout);
        let ours = fx.slipway(&fx.trust(), &chart);
        assert_eq!(ours.code, 2, "{name}: {}", ours.stderr);
        for n in needles {
            assert!(
                ours.stderr.contains(n),
                "{name}: {n:?} not in {}",
                ours.stderr
            );
        }
        common::assert_no_repeated_cause(&ours.stderr);
    }
    // A repository with no chart of that name.
    let chart = fx.parent(
        "no-chart",
        "- name: nothing\n  version: ^1.0.0\n  repository: REPO\n",
    );
    let ours = fx.slipway(&fx.trust(), &chart);
    assert_eq!(ours.code, 2, "{}", ours.stderr);
    assert!(ours.stderr.contains("no chart nothing"), "{}", ours.stderr);
}

#[test]
fn dependencies_present_or_not_in_a_registry_are_not_fetched() {
    let fx = Fixture::new();
    // A dependency already under charts/ (here a folder) is used as it is: nothing is
    // pulled, so no trust is needed.
    let chart = fx.parent(
        "vendored",
        "- name: db\n  version: ^1.0.0\n  repository: REPO\n",
    );
    common::copy_tree(
        &fx.tmp.path().join("src/db-1.0.0"),
        &chart.join("charts/db"),
    );
    let helm = fx.helm.run(&["template", "rel", s(&chart)]);
    let ours = fx.slipway(&[], &chart);
    let docs = assert_same(&helm, &ours);
    assert_eq!(db_label(&docs, "rel-db"), "db-1.0.0");
    assert!(!ours.stderr.contains("pulled"), "{}", ours.stderr);

    // file://, https:// and no repository: missing ones are Helm's error, as
    // `helm template` says it (it fetches none of them either), even next to an oci://
    // one, and nothing is pulled.
    let local = fx.tmp.path().join("src/db-1.2.0");
    for (name, repo) in [
        ("file", format!("file://{}", local.display())),
        ("https", "https://charts.invalid/stable".to_string()),
        ("none", String::new()),
    ] {
        let chart = fx.parent(
            &format!("missing-{name}"),
            &format!(
                "- name: other\n  version: 0.3.0\n  repository: REPO\n- name: db\n  version: 1.2.0\n  repository: {repo:?}\n"
            ),
        );
        let helm = fx.helm.run(&["template", "rel", s(&chart)]);
        assert_ne!(helm.code, 0, "{name}: {}", helm.stdout);
        let ours = fx.slipway(&fx.trust(), &chart);
        assert_eq!(ours.code, 2, "{name}: {}", ours.stderr);
        let wording = "found in Chart.yaml, but missing in charts/ directory: other, db";
        assert!(
            helm.stderr.contains(wording),
            "{name}: helm: {}",
            helm.stderr
        );
        assert!(ours.stderr.contains(wording), "{name}: {}", ours.stderr);
        assert!(!ours.stderr.contains("pulled"), "{name}: {}", ours.stderr);
    }
}

#[test]
fn a_lock_file_pins_the_versions_as_helm_dependency_build_does() {
    let fx = Fixture::new();
    // Every field of a dependency entry, and a range with `<`, `>` (escaped in the
    // digest's JSON), so that the lock's digest is checked on all of them.
    let deps = "- name: db\n  version: \">=1.0.0 <2\"\n  repository: REPO\n  condition: db.enabled,db.on\n  tags: [backend, data]\n  import-values:\n  - data\n  - child: exports.data\n    parent: imported\n- name: db\n  alias: old\n  version: 2.0.0\n  repository: REPO\n  enabled: true\n- name: other\n  version: \"~0.3\"\n  repository: REPO\n";
    let chart = fx.parent("locked", deps);
    write(
        &chart.join("templates/imported.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: imported\ndata:\n  port: {{ .Values.port | quote }}\n  again: {{ .Values.imported.port | quote }}\n",
    );
    fx.helm
        .must(&["dependency", "update", s(&chart), "--ca-file", s(fx.ca())]);
    std::fs::remove_dir_all(chart.join("charts")).unwrap();
    assert!(chart.join("Chart.lock").is_file());
    // A version the range accepts appears after the lock was made: the lock still wins.
    fx.push(&db_chart(fx.tmp.path(), "1.12.0"));
    let (helm, archives) = fx.helm_render(&chart);
    assert!(
        archives.contains(&"db-1.10.0.tgz".to_string()),
        "{archives:?}"
    );
    let ours = fx.slipway(&fx.trust(), &chart);
    let docs = assert_same(&helm, &ours);
    assert_eq!(db_label(&docs, "rel-db"), "db-1.10.0");
    assert_eq!(db_label(&docs, "rel-old"), "old-2.0.0");
    assert_pulled_as_helm(&ours, &archives);
    let imported = docs
        .iter()
        .find(|(_, d)| d["metadata"]["name"] == "imported")
        .expect("the imported values' ConfigMap");
    assert_eq!(imported.1["data"]["port"], "5432", "{imported:?}");

    // Without the lock, the range takes the newest version, for both.
    let unlocked = fx.tmp.path().join("parents/unlocked");
    common::copy_tree(&chart, &unlocked);
    std::fs::remove_file(unlocked.join("Chart.lock")).unwrap();
    let (helm, archives) = fx.helm_render(&unlocked);
    let ours = fx.slipway(&fx.trust(), &unlocked);
    let docs = assert_same(&helm, &ours);
    assert_eq!(db_label(&docs, "rel-db"), "db-1.12.0");
    assert_pulled_as_helm(&ours, &archives);

    // A lock made for other dependencies is refused by both.
    let stale = fx.tmp.path().join("parents/stale");
    common::copy_tree(&chart, &stale);
    let yaml = std::fs::read_to_string(stale.join("Chart.yaml")).unwrap();
    std::fs::write(
        stale.join("Chart.yaml"),
        yaml.replace("\">=1.0.0 <2\"", "\">=1.0.0 <3\""),
    )
    .unwrap();
    let (helm, _) = fx.helm_render(&stale);
    assert_ne!(helm.code, 0, "{}", helm.stdout);
    assert!(helm.stderr.contains("out of sync"), "{}", helm.stderr);
    let ours = fx.slipway(&fx.trust(), &stale);
    assert_eq!(ours.code, 2, "{}", ours.stderr);
    assert!(
        ours.stderr
            .contains("the lock file (Chart.lock) is out of sync"),
        "{}",
        ours.stderr
    );
}
