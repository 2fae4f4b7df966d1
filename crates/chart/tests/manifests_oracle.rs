//! What rendered files become, compared with helm itself: small charts of static YAML
//! (no template actions, so the rendered text of a template is its file's text) are given
//! to `helm template` (and `helm install --dry-run=client -o json` for the hooks and the
//! release manifest), and the same files to `slipway_chart::manifests`. Standard output
//! must be the same byte for byte; when helm fails, its error must be ours.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use slipway_chart::manifests::{
    CrdFile, ManifestError, TemplateOptions, is_manifest_file, notes, print_template,
    render_resources,
};
use slipway_testkit::{Helm, HelmRun};

/// A chart written to a temporary folder: `files` are paths inside the chart (subcharts
/// under `charts/NAME/`), each subchart's `Chart.yaml` is added.
struct Chart {
    dir: tempfile::TempDir,
    name: String,
}

impl Chart {
    fn new(name: &str, subcharts: &[&str], files: &[(&str, &str)]) -> Chart {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(name);
        let chart_yaml = |n: &str| format!("apiVersion: v2\nname: {n}\nversion: 0.1.0\n");
        write(&root.join("Chart.yaml"), &chart_yaml(name));
        for sub in subcharts {
            write(
                &root.join("charts").join(sub).join("Chart.yaml"),
                &chart_yaml(sub),
            );
        }
        for (path, text) in files {
            write(&root.join(path), text);
        }
        Chart {
            dir,
            name: name.to_string(),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join(&self.name)
    }

    /// What the template engine gives for static templates: every file under each
    /// chart's `templates/`, keyed by its path from the top chart, with its text.
    fn rendered(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (dir, prefix) in self.charts() {
            for (rel, text) in walk(&dir.join("templates")) {
                out.insert(format!("{prefix}/templates/{rel}"), text);
            }
        }
        out
    }

    /// The CRD files, in the order helm reads them: the top chart's in folder order, then
    /// the subcharts'.
    fn crds(&self) -> Vec<CrdFile> {
        let mut out = Vec::new();
        for (dir, prefix) in self.charts() {
            for (rel, data) in walk(&dir.join("crds")) {
                if is_manifest_file(&rel) {
                    out.push(CrdFile {
                        filename: format!("{prefix}/crds/{rel}"),
                        data,
                    });
                }
            }
        }
        out
    }

    /// The top chart and its subcharts (one level), with their paths from the top.
    fn charts(&self) -> Vec<(PathBuf, String)> {
        let root = self.root();
        let mut out = vec![(root.clone(), self.name.clone())];
        if let Ok(entries) = std::fs::read_dir(root.join("charts")) {
            let mut subs: Vec<String> = entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            subs.sort();
            for sub in subs {
                out.push((
                    root.join("charts").join(&sub),
                    format!("{}/charts/{sub}", self.name),
                ));
            }
        }
        out
    }

    /// `helm template rel DIR flags`.
    fn template(&self, helm: &Helm, flags: &[&str]) -> HelmRun {
        let root = self.root();
        let mut args = vec!["template", "rel", root.to_str().unwrap()];
        args.extend(flags);
        helm.run(&args)
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The files under `dir`, recursively, in the order a sorted walk visits them, as
/// (`/`-separated path under `dir`, text).
fn walk(dir: &Path) -> Vec<(String, String)> {
    walk_names(dir)
        .into_iter()
        .map(|rel| {
            // The chart loader drops a byte order mark.
            let text = std::fs::read_to_string(dir.join(&rel)).unwrap();
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text).to_string();
            (rel, text)
        })
        .collect()
}

/// The files under `dir`, recursively, in the order a sorted walk visits them, as
/// `/`-separated paths under `dir`, without reading them.
fn walk_names(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        if path.is_dir() {
            out.extend(
                walk_names(&path)
                    .into_iter()
                    .map(|rel| format!("{name}/{rel}")),
            );
        } else {
            out.push(name);
        }
    }
    out
}

/// Turns helm flags into options.
fn options(flags: &[&str]) -> TemplateOptions {
    let mut o = TemplateOptions::default();
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        match *flag {
            "--include-crds" => o.include_crds = true,
            "--no-hooks" => o.no_hooks = true,
            "--skip-tests" => o.skip_tests = true,
            "--show-only" => o.show_only.push(it.next().unwrap().to_string()),
            other => panic!("flag {other} is not known to this test"),
        }
    }
    o
}

/// Runs `helm template` with `flags` and checks `print_template` gives the same output,
/// or the same error. Returns helm's output, so that callers can check it shows what they
/// meant to test.
fn check(helm: &Helm, chart: &Chart, flags: &[&str]) -> HelmRun {
    let got = print_template(&chart.rendered(), &chart.crds(), &[], &options(flags));
    let want = chart.template(helm, flags);
    match got {
        Ok(text) => {
            assert!(
                want.ok(),
                "helm template {flags:?} failed ({}) where we printed:\n{text}",
                want.stderr
            );
            assert_eq!(text, want.stdout, "helm template {flags:?}");
        }
        Err(e) => {
            assert!(
                !want.ok(),
                "helm template {flags:?} succeeded where we said {e}:\n{}",
                want.stdout
            );
            assert_eq!(want.stdout, "", "helm printed before failing");
            let last = format!("Error: {e}\n");
            assert!(
                want.stderr.ends_with(&last),
                "helm template {flags:?}:\n{}\nwe said:\n{last}",
                want.stderr
            );
        }
    }
    want
}

/// `helm install --dry-run=client -o json`: its hooks and manifest must be those
/// `render_resources` makes.
fn check_release(helm: &Helm, chart: &Chart, flags: &[&str]) {
    let root = chart.root();
    let mut args = vec![
        "install",
        "rel",
        root.to_str().unwrap(),
        "--dry-run=client",
        "-o",
        "json",
    ];
    args.extend(flags);
    let out = helm.run(&args);
    assert!(out.ok(), "helm install --dry-run: {}", out.stderr);
    let release: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let opts = TemplateOptions {
        hide_secret: flags.contains(&"--hide-secret"),
        ..TemplateOptions::default()
    };
    let ours = render_resources(&chart.rendered(), &chart.crds(), &[], &opts).unwrap();
    assert_eq!(
        release["manifest"].as_str().unwrap_or(""),
        ours.manifest,
        "release manifest {flags:?}"
    );
    assert_eq!(
        release["info"]["notes"].as_str().unwrap_or(""),
        notes(&chart.rendered(), &chart.name, false),
        "notes"
    );
    let hooks: Vec<serde_json::Value> = ours.hooks.iter().map(|h| h.to_json()).collect();
    let want = release["hooks"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        serde_json::Value::Array(hooks),
        serde_json::Value::Array(want),
        "release hooks {flags:?}"
    );
}

/// One document per kind of the install order, and unknown kinds, shuffled over files.
fn kinds_chart() -> Chart {
    let doc = |kind: &str, name: &str| {
        format!("apiVersion: v1\nkind: {kind}\nmetadata:\n  name: {name}\n")
    };
    let a = [
        doc("Deployment", "d1"),
        doc("Zebra", "z1"),
        doc("Namespace", "ns"),
        doc("ValidatingWebhookConfiguration", "vwc"),
        doc("RoleBindingList", "rbl"),
        doc("Secret", "s1"),
        doc("ConfigMap", "cm1"),
        doc("Ingress", "ing"),
        doc("PriorityClass", "pc"),
        doc("apple", "lower"),
    ]
    .join("---\n");
    // Separator variants: leading `---`, a comment after it, blanks and tabs, glued to
    // the next line, empty documents, comment-only and blank documents, `...`.
    let b = [
        "---\n".to_string(),
        doc("StatefulSet", "ss"),
        "--- # after the separator\n".into(),
        doc("NetworkPolicy", "np"),
        "---   \n".into(),
        "---\t\n".into(),
        doc("ResourceQuota", "rq"),
        "---".into(),
        doc("LimitRange", "lr"),
        "---\n---\n\n   \n---\n# only a comment\n---\n".into(),
        doc("PodSecurityPolicy", "psp"),
        "...\n---\n".into(),
        doc("PodDisruptionBudget", "pdb"),
        "---\n".into(),
        doc("ServiceAccount", "sa"),
        "---\n".into(),
        doc("Apple", "upper"),
        "---\n".into(),
        doc("SecretList", "sl"),
        "---\n".into(),
        doc("Secret", "s2"),
        "---\n".into(),
        doc("StorageClass", "sc"),
    ]
    .concat();
    let c = [
        doc("PersistentVolumeClaim", "pvc"),
        doc("CronJob", "cj"),
        doc("PersistentVolume", "pv"),
        doc("CustomResourceDefinition", "crd"),
        doc("ClusterRoleBindingList", "crbl"),
        doc("ClusterRole", "cr"),
        doc("Service", "svc"),
        doc("ClusterRoleList", "crl"),
        doc("ClusterRoleBinding", "crb"),
        doc("Role", "r"),
        doc("RoleList", "rl"),
        doc("RoleBinding", "rb"),
        doc("DaemonSet", "ds"),
        doc("Pod", "pod"),
        doc("Zebra", "z2"),
        doc("ReplicationController", "rc"),
        doc("ReplicaSet", "rs"),
        doc("HorizontalPodAutoscaler", "hpa"),
        doc("Job", "job"),
        doc("IngressClass", "ic"),
        doc("APIService", "api"),
        doc("MutatingWebhookConfiguration", "mwc"),
        doc("ConfigMap", "cm2"),
        "kind: \"\"\nmetadata: {name: nokind}\n".into(),
        "metadata: {name: nokind2}\n".into(),
    ]
    .join("---\n");
    let hooks = [
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: pre\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"5\"\n    helm.sh/hook-delete-policy: before-hook-creation, Hook-Succeeded\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: both\n  annotations:\n    helm.sh/hook: pre-install,post-install\n    helm.sh/hook-weight: \"-1\"\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: test\n  annotations:\n    helm.sh/hook: test\n    helm.sh/hook-output-log-policy: hook-failed\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: old-test\n  annotations:\n    \"helm.sh/hook\": test-success\n",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: crd-install\n  annotations:\n    helm.sh/hook: crd-install\n",
        "apiVersion: v1\nkind: Widget\nmetadata:\n  name: upgrade\n  annotations:\n    helm.sh/hook: \" PRE-UPGRADE , post-rollback\"\n    helm.sh/hook-weight: \"x\"\n",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: del\n  annotations:\n    helm.sh/hook: pre-delete, post-delete,pre-rollback,post-upgrade\n    helm.sh/hook-weight: \"+3\"\n",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: notahook\n  annotations:\n    other: x\n",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: emptyannotations\n  annotations: {}\n",
    ]
    .join("---\n");
    let files: Vec<(&str, String)> = vec![
        ("templates/a.yaml", a),
        ("templates/b.yaml", b),
        ("templates/c.yml", c),
        ("templates/hooks.yaml", hooks),
        ("templates/z/nested.yaml", doc("Service", "nested")),
        ("templates/crlf.yaml", "kind: Role\r\nmetadata: {name: crlf1}\r\n---\r\nkind: Job\r\nmetadata: {name: crlf2}\r\n".into()),
        ("templates/empty.yaml", "  \n\t\n".into()),
        ("templates/NOTES.txt", "Thank you: for: installing [\n".into()),
        ("templates/_helpers.tpl", "not: valid: yaml: [\n".into()),
        ("templates/_partial.yaml", "also: [not valid\n".into()),
        ("templates/secret2.yaml", "apiVersion: v2\nkind: Secret\nmetadata: {name: s-v2}\n".into()),
        ("crds/a.yaml", "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: a}\n---\nkind: CustomResourceDefinition\nmetadata: {name: a2}\n".into()),
        ("crds/b.yml", "kind: CustomResourceDefinition\nmetadata: {name: b}".into()),
        ("crds/c.JSON", "{\"kind\": \"CustomResourceDefinition\"}\n".into()),
        ("crds/readme.txt", "not a CRD\n".into()),
        ("charts/sub/templates/d.yaml", doc("Deployment", "sub-d")),
        ("charts/sub/templates/NOTES.txt", "sub notes: [\n".into()),
        ("charts/sub/templates/hook.yaml", "kind: Job\nmetadata:\n  name: sub-hook\n  annotations:\n    helm.sh/hook: post-install\n    helm.sh/hook-weight: \"10\"\n".into()),
        ("charts/sub/templates/_helpers.tpl", "[[[\n".into()),
        ("charts/sub/crds/s.yaml", "kind: CustomResourceDefinition\nmetadata: {name: sub}\n".into()),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    Chart::new("kinds", &["sub"], &files)
}

#[test]
fn kinds_hooks_and_separators_print_as_helm_prints_them() {
    let helm = Helm::new();
    let chart = kinds_chart();
    let plain = check(&helm, &chart, &[]);
    // The output holds what this test is about.
    for want in [
        "# Source: kinds/templates/hooks.yaml\napiVersion: batch/v1\nkind: Job",
        "# Source: kinds/charts/sub/templates/d.yaml",
        "# only a comment",
        "name: emptyannotations",
    ] {
        assert!(plain.stdout.contains(want), "{want:?} missing");
    }
    assert!(!plain.stdout.contains("crd-install"));
    assert!(!plain.stdout.contains("Thank you"));
    let with_crds = check(&helm, &chart, &["--include-crds"]);
    assert!(
        with_crds
            .stdout
            .starts_with("---\n# Source: kinds/crds/a.yaml\n")
    );
    assert!(
        with_crds
            .stdout
            .contains("# Source: kinds/charts/sub/crds/s.yaml")
    );
    assert!(!with_crds.stdout.contains("not a CRD"));
    let no_hooks = check(&helm, &chart, &["--no-hooks"]);
    assert!(!no_hooks.stdout.contains("name: pre\n"));
    let no_tests = check(&helm, &chart, &["--skip-tests"]);
    assert!(!no_tests.stdout.contains("name: old-test"));
    assert!(no_tests.stdout.contains("name: pre\n"));
    check(
        &helm,
        &chart,
        &["--no-hooks", "--skip-tests", "--include-crds"],
    );
    check_release(&helm, &chart, &[]);
    check_release(&helm, &chart, &["--hide-secret"]);
}

#[test]
fn show_only_picks_documents_as_helm_does() {
    let helm = Helm::new();
    let chart = kinds_chart();
    let one = check(&helm, &chart, &["--show-only", "templates/a.yaml"]);
    assert!(one.stdout.contains("name: d1") && !one.stdout.contains("name: ss"));
    check(
        &helm,
        &chart,
        &[
            "--show-only",
            "templates/*.yaml",
            "--show-only",
            "charts/sub/templates/d.yaml",
        ],
    );
    check(&helm, &chart, &["--show-only", "templates/hooks.yaml"]);
    check(
        &helm,
        &chart,
        &["--show-only", "templates/hooks.yaml", "--skip-tests"],
    );
    check(
        &helm,
        &chart,
        &["--show-only", "templates/hooks.yaml", "--no-hooks"],
    );
    check(&helm, &chart, &["--show-only", "templates/z/*"]);
    check(&helm, &chart, &["--show-only", "templates/[ab].y?ml"]);
    check(&helm, &chart, &["--show-only", "templates/[^a].yaml"]);
    check(&helm, &chart, &["--show-only", "*/c.yml"]);
    check(
        &helm,
        &chart,
        &["--include-crds", "--show-only", "crds/a.yaml"],
    );
    check(&helm, &chart, &["--show-only", "crds/a.yaml"]);
    let missing = check(&helm, &chart, &["--show-only", "templates/missing.yaml"]);
    assert!(!missing.ok());
    check(&helm, &chart, &["--show-only", "templates/["]);
    check(&helm, &chart, &["--show-only", "templates"]);
    check(&helm, &chart, &["--show-only", "templates/*"]);
    check(&helm, &chart, &["--show-only", "templates/NOTES.txt"]);
    check(
        &helm,
        &chart,
        &[
            "--show-only",
            "templates/a.yaml",
            "--show-only",
            "templates/a.yaml",
        ],
    );
}

/// Heads written every way YAML allows: hooks whose name, kind and weight show, in the
/// release's JSON, what helm read.
#[test]
fn heads_read_as_helm_reads_them() {
    let hook = |name: &str, kind: &str, weight: &str| {
        format!(
            "kind: {kind}\nmetadata:\n  name: {name}\n  annotations:\n    helm.sh/hook: test\n    helm.sh/hook-weight: {weight}\n"
        )
    };
    let scalars = [
        ("0x10", "'a'", "5"),
        ("0o17", "b", "-5"),
        ("yes", "c", "+7"),
        ("y", "d", "1.5"),
        ("'on'", "e", "1e3"),
        ("~", "f", "0x10"),
        ("1.5", "g", "1_000"),
        ("1e3", "h", "0755"),
        ("1_000", "i", "08"),
        ("0755", "j", "yes"),
        (".inf", "k", "~"),
        ("-.inf", "l", ".nan"),
        (".nan", "m", "123456789"),
        ("2024-01-01", "n", "99999999999999999999"),
        ("!!str 0x10", "o", "18446744073709551615"),
        ("!!float 3", "p", "!!str 12"),
        ("123456789.0", "q", "-0"),
        ("1e-7", "r", "\"42\""),
        ("-0.0", "s", "1e999"),
        ("+12", "t", "!!int \"9\""),
        ("0b101", "u", "0b11"),
        ("99999999999999999999", "v", "0.1"),
        ("18446744073709551615", "w", "9223372036854775807"),
        ("08", "x", "9223372036854775808"),
        ("1e999", "y", "-9223372036854775808"),
        ("\"quoted\"", "z", "2"),
        ("|\n    block\n   ", "block", "3"),
        ("null", "aa", "4"),
        ("!!binary aGVsbG8=", "ab", "5"),
        ("!custom tagged", "ac", "6"),
        ("! nonspecific", "ad", "7"),
        ("TRUE", "ae", "8"),
        ("Off", "af", "9"),
        ("0.1e1", "ag", "10"),
        ("._5", "ah", "11"),
        (".5", "ai", "12"),
        ("-.5e-3", "aj", "13"),
        ("1.", "ak", "14"),
        ("!!timestamp 2001-12-14t21:59:43.10-05:00", "al", "15"),
        ("12:30", "am", "16"),
    ];
    let mut docs: Vec<String> = scalars
        .iter()
        .map(|(name, kind, weight)| hook(name, kind, weight))
        .collect();
    // Field names matched without regard to case, the last of them winning; anchors,
    // aliases and merge keys; a mapping under `metadata` set twice.
    docs.extend(
        [
            "KIND: Upper\nMetadata:\n  NAME: upper\n  Annotations:\n    helm.sh/hook: test\n",
            "Kind: First\nkind: Second\nmetadata:\n  name: both\n  annotations: {helm.sh/hook: test}\n",
            "\u{212A}ind: Kelvin\nmetadata:\n  name: kelvin\n  annotation\u{017F}: {helm.sh/hook: test}\n",
            "base: &base\n  helm.sh/hook: test\n  helm.sh/hook-weight: \"4\"\nkind: Merged\nmetadata:\n  name: merged\n  annotations:\n    <<: *base\n    helm.sh/hook-delete-policy: hook-failed\n",
            "a: &w [1, 2]\nkind: &k Aliased\nmetadata:\n  name: *k\n  annotations:\n    helm.sh/hook: test\n    <<: [{helm.sh/hook-weight: \"1\"}, {helm.sh/hook-weight: \"2\", x: y}]\n",
            "kind: Twice\nmetadata:\n  name: one\n  annotations: {helm.sh/hook: test}\nMETADATA:\n  name: two\n",
            "kind: Nulls\nmetadata:\n  name: nulls\n  annotations:\n    helm.sh/hook: test\n    helm.sh/hook-delete-policy: ~\n",
            "kind: Dup\nkind: Dup2\nmetadata:\n  name: dup\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook: test\n",
            "kind: Keys\nmetadata:\n  name: keys\n  annotations:\n    helm.sh/hook: test\n    1: one\n    1.5: x\n    true: t\nspec:\n  2: b\n  ? 3.0\n  : c\n",
            "kind: Flow\nmetadata: {name: flow, annotations: {\"helm.sh/hook\": 'test', helm.sh/hook-weight: 1e1}}\n",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let text = docs.join("---\n");
    let chart = Chart::new("heads", &[], &[("templates/hooks.yaml", &text)]);
    let helm = Helm::new();
    let out = check(&helm, &chart, &[]);
    assert!(out.stdout.contains("name: kelvin"));
    check_release(&helm, &chart, &[]);
    // Kinds read from numbers and bools sort as text: resources show their order.
    let resources = scalars
        .iter()
        .map(|(kind, name, _)| format!("kind: {kind}\nmetadata:\n  name: r-{name}\n"))
        .collect::<Vec<_>>()
        .join("---\n");
    let chart = Chart::new("kinds2", &[], &[("templates/r.yaml", &resources)]);
    check(&helm, &chart, &[]);
    check_release(&helm, &chart, &[]);
}

/// Text after a document's node that Go's reader never looks at.
#[test]
fn text_after_the_document_is_ignored_as_in_helm() {
    let helm = Helm::new();
    let chart = Chart::new(
        "after",
        &[],
        &[
            (
                "templates/a.yaml",
                "{kind: Flow, metadata: {name: a}}\n]]]\n",
            ),
            (
                "templates/b.yaml",
                "kind: Directive\n%TAG ! tag:example.com,2000:\n",
            ),
            ("templates/c.yaml", "kind: Ended\n...\n]] [[\n"),
            ("templates/d.yaml", "{kind: Junk} junk\n"),
        ],
    );
    let out = check(&helm, &chart, &[]);
    assert!(out.stdout.contains("kind: Ended"));
}

/// Documents helm refuses, one chart each: the error must be helm's.
#[test]
fn invalid_documents_fail_as_in_helm() {
    let helm = Helm::new();
    let cases = [
        "kind: [a]",
        "metadata: 5",
        "metadata: {annotations: [1]}",
        "metadata: {annotations: {a: [1]}}",
        "metadata: {name: {a: 1}}",
        "metadata: {annotations: {a: [1]}, name: [1]}",
        "kind: [a]\napiVersion: {b: 1}",
        "kind: ok\nmetadata: \"text\"",
        "just a string",
        "- a",
        "5",
        "true",
        "x: .nan",
        "x: [1, -.inf]",
        "x: {~: 1}",
        "x: {18446744073709551615: a}",
        "? [a]\n: 1",
        "? {a: 1}\n: 1",
        "kind: !!int abc",
        "kind: !!float 0x10",
        "kind: !!bool maybe",
        "kind: !!null x",
        "kind: !!timestamp yesterday",
        "kind: !!binary \"!!!\"",
        "kind: *foo",
        "a: &x [1, *x]",
        "<<: 5",
        "<<: [5]",
        "a: &s str\n<<: *s",
        "[a] ]",
    ];
    for (i, case) in cases.iter().enumerate() {
        let chart = Chart::new(
            "bad",
            &[],
            &[
                ("templates/a.yaml", "kind: Fine\n"),
                ("templates/t.yaml", case),
                ("templates/z.yaml", "kind: [also bad]\n"),
            ],
        );
        let out = check(&helm, &chart, &[]);
        assert!(!out.ok(), "case {i} {case:?} should fail");
    }
}

/// Syntax errors name the file and are worded as helm words them.
#[test]
fn syntax_errors_name_the_file() {
    let helm = Helm::new();
    for case in [
        "a: b: c",
        "a: [1, 2",
        "a:\n  - b\n c: d",
        "\"unclosed",
        "a: 1\n]]",
        "\"s\" x: y",
    ] {
        let chart = Chart::new("syntax", &[], &[("templates/t.yaml", case)]);
        let want = chart.template(&helm, &[]);
        assert!(!want.ok());
        let got = print_template(&chart.rendered(), &[], &[], &TemplateOptions::default())
            .expect_err("a syntax error");
        let ManifestError::Invalid(inner) = &got else {
            panic!("{got:?}")
        };
        let ManifestError::Yaml { path, detail } = &**inner else {
            panic!("{got:?}")
        };
        assert_eq!(path, "syntax/templates/t.yaml");
        assert!(
            detail.starts_with("error converting YAML to JSON: yaml: "),
            "{detail}"
        );
        let line = format!("Error: YAML parse error on syntax/templates/t.yaml: {detail}\n");
        assert!(
            want.stderr.contains(&line),
            "helm said:\n{}\nwe said: {detail}",
            want.stderr
        );
        assert!(
            want.stderr
                .ends_with("\n\nUse --debug flag to render out invalid YAML\n")
        );
    }
}

/// The Go module cache's folders of Helm and of the Kubernetes modules its `go.mod` pins,
/// whose test data hold real manifests.
fn corpus_dirs() -> Vec<PathBuf> {
    let cache = PathBuf::from(slipway_testkit::go_output(
        Path::new("."),
        &["env", "GOMODCACHE"],
    ));
    let helm = slipway_testkit::helm_module();
    let go_mod = std::fs::read_to_string(helm.join("go.mod")).expect("helm's go.mod");
    let mut dirs = vec![helm];
    for line in go_mod.lines() {
        let mut words = line.split_whitespace();
        let (Some(module), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        if [
            "k8s.io/api",
            "k8s.io/kubectl",
            "sigs.k8s.io/kustomize/api",
            "sigs.k8s.io/kustomize/kyaml",
        ]
        .contains(&module)
        {
            dirs.push(cache.join(format!("{module}@{version}")));
        }
    }
    dirs
}

/// Every YAML file of the corpus folders that is small, UTF-8 and free of template
/// actions, as (template name, text).
fn corpus() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in corpus_dirs() {
        for rel in walk_names(&dir) {
            if !(rel.ends_with(".yaml") || rel.ends_with(".yml")) {
                continue;
            }
            let path = dir.join(&rel);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if text.len() > 64 * 1024 || text.contains("{{") {
                continue;
            }
            let base: String = rel
                .rsplit('/')
                .next()
                .unwrap()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            out.push((format!("templates/c{:05}-{base}", out.len()), text));
        }
    }
    out
}

/// Real manifests (Kubernetes' API test data, Helm's and kustomize's test files) in one
/// chart: the output must be helm's. A file helm refuses must be refused by us with the
/// same error (syntax errors: the same file, both saying the YAML could not be read); it is
/// then taken out and helm run again.
#[test]
fn real_manifests_print_as_helm_prints_them() {
    let helm = Helm::new();
    let files = corpus();
    assert!(files.len() > 500, "only {} corpus files", files.len());
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let chart = Chart::new("corpus", &[], &refs);
    let mut refused = 0;
    loop {
        let want = chart.template(&helm, &[]);
        let got = print_template(&chart.rendered(), &[], &[], &TemplateOptions::default());
        match got {
            Ok(text) => {
                assert!(want.ok(), "helm failed: {}", want.stderr);
                let ours: Vec<&str> = text.split("\n---\n").collect();
                let theirs: Vec<&str> = want.stdout.split("\n---\n").collect();
                for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                    assert_eq!(a, b, "document {i} differs");
                }
                assert_eq!(text, want.stdout);
                let printed = text.matches("# Source: ").count();
                assert!(printed > 500, "only {printed} documents printed");
                eprintln!("{printed} documents printed, {refused} files refused");
                break;
            }
            Err(e) => {
                assert!(!want.ok(), "we said {e}, helm printed");
                let ManifestError::Invalid(inner) = &e else {
                    panic!("{e:?}")
                };
                let ManifestError::Yaml { path, detail } = &**inner else {
                    panic!("{e:?}")
                };
                let said = want
                    .stderr
                    .lines()
                    .find_map(|l| l.strip_prefix("Error: "))
                    .unwrap_or_else(|| panic!("helm said: {}", want.stderr));
                let prefix = format!("YAML parse error on {path}: ");
                let theirs = said
                    .strip_prefix(&prefix)
                    .unwrap_or_else(|| panic!("helm: {said}\nwe: {e}"));
                // Our syntax errors say where, in our YAML reader's words.
                if detail.starts_with("error converting YAML to JSON: yaml: line ") {
                    assert!(
                        theirs.starts_with("error converting YAML to JSON: yaml: "),
                        "helm: {said}\nwe: {e}"
                    );
                } else {
                    assert_eq!(theirs, detail, "on {path}");
                }
                let rel = path.strip_prefix("corpus/").unwrap();
                std::fs::remove_file(chart.root().join(rel)).unwrap();
                refused += 1;
                assert!(refused < 100, "too many refused files");
            }
        }
    }
}
