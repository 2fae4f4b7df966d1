//! `slipway chart render` against `helm template`, the real one (built by
//! `scripts/go-tools helm`), process against process.
//!
//! - The corpus (`crates/chart/tests/charts/`): every chart under a few option sets of the
//!   test's own (defaults; `--release`/`--namespace`; two `--kube-version`s;
//!   `--include-crds`; `--show-only` of the first and the last template helm prints) and
//!   under those of `crates/chart/tests/values/` (`-f` files, and one run per line of
//!   `CHART.args`; see the README there). Both outputs are split into documents: the
//!   `# Source:` paths must be the same, in the same order, and each document must be the
//!   same data once parsed as YAML (not the same text). When helm fails, slipway must
//!   exit 2.
//! - The broken charts (`crates/chart/tests/broken/`): helm fails on each; slipway must
//!   exit 2 and name what is wrong (the file and line helm names).
//! - The charts of helm's own test data, read from the Go module cache at test time: for
//!   each, slipway agrees with helm, or exits 2 saying which construct it does not
//!   support. Exiting 0 with other output is a failure (never silently wrong), and so is
//!   refusing a chart that is not on [`ALLOWED_UNSUPPORTED`].
//!
//! A chart folder of the corpus that holds `packed/NAME/` gets each such subchart packaged
//! with `helm package` into its `charts/` (and `packed/` removed) in a temporary copy, so
//! the repository holds no archives.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;
use slipway_testkit::{Helm, HelmRun};

/// Charts of helm's test data that slipway may refuse as unsupported, each with the
/// reason (paths relative to the helm module's root).
const ALLOWED_UNSUPPORTED: &[(&str, &str)] = &[];

/// The folders of helm's module that hold test charts.
const UPSTREAM_FOLDERS: &[&str] = &["pkg/cmd/testdata/testcharts", "pkg/chart/v2/util/testdata"];

/// Each broken chart, with what helm's error and slipway's must both name.
const BROKEN: &[(&str, &[&str])] = &[
    ("bad-values-yaml", &["values.yaml"]),
    (
        "fail-called",
        &[
            "templates/validate.yaml:2",
            "mode cluster needs at least 3 replicas",
        ],
    ),
    ("invalid-output-yaml", &["templates/cm.yaml"]),
    ("library-only", &["library"]),
    ("missing-dependency", &["postgresql"]),
    (
        "missing-required",
        &["templates/deployment.yaml:10", "image.tag is required"],
    ),
    ("nil-pointer", &["templates/cm.yaml:6", "primary"]),
    ("no-version", &["version"]),
    ("schema-violation", &["replicas"]),
    ("template-syntax", &["templates/broken.yaml:8"]),
    (
        "undefined-include",
        &["templates/configmap.yaml:6", "undefined-include.labels"],
    ),
    ("unknown-function", &["templates/cm.yaml:4", "frobnicate"]),
    ("wrong-arg-count", &["templates/cm.yaml:6", "trunc"]),
];

/// The folder of the chart fixtures (`crates/chart/tests`).
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../chart/tests")
        .canonicalize()
        .expect("crates/chart/tests")
}

/// `helm template [NAME] CHART ARGS`, `args` in slipway's spelling: `--release NAME`
/// becomes helm's positional name.
fn helm_template(helm: &Helm, chart: &Path, args: &[String]) -> HelmRun {
    let (release, rest) = split_release(args);
    let mut full = vec!["template".to_string()];
    full.extend(release);
    full.push(chart.display().to_string());
    full.extend(rest);
    helm.run(&full)
}

/// Takes `--release NAME` (or `--release=NAME`) out of `args`.
fn split_release(args: &[String]) -> (Option<String>, Vec<String>) {
    let mut release = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--release" {
            release = Some(it.next().expect("--release needs a value").clone());
        } else if let Some(v) = a.strip_prefix("--release=") {
            release = Some(v.to_string());
        } else {
            rest.push(a.clone());
        }
    }
    (release, rest)
}

/// `slipway chart render CHART ARGS`.
fn slipway_render(certs_d: &Path, chart: &Path, args: &[String]) -> common::Run {
    let chart = chart.display().to_string();
    let mut full = vec!["chart", "render", chart.as_str()];
    full.extend(args.iter().map(String::as_str));
    common::slipway(certs_d, &full, &[])
}

/// One document of a rendered stream.
#[derive(Debug)]
struct Doc {
    /// The path of its `# Source:` line (inherited by the later documents of a file that
    /// holds several, as CRD files do).
    source: String,
    /// Its text, without the `# Source:` line.
    body: String,
    /// Its data, or why the text is not YAML.
    data: Result<Value, String>,
}

/// Parses one document as Kubernetes would read it: YAML 1.1 booleans and octals.
fn parse_yaml(body: &str) -> Result<Value, String> {
    let meaningful = body.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    });
    if !meaningful {
        return Ok(Value::Null);
    }
    let options = serde_saphyr::options! {
        legacy_octal_numbers: true,
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::LastWins,
    };
    serde_saphyr::from_str_with_options::<Value>(body, options).map_err(|e| e.to_string())
}

/// Splits a `helm template`-style stream at its `---` lines.
fn documents(stream: &str) -> Vec<Doc> {
    let mut chunks: Vec<Vec<&str>> = vec![Vec::new()];
    for line in stream.lines() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            chunks.push(Vec::new());
        } else {
            chunks.last_mut().unwrap().push(line);
        }
    }
    let mut docs = Vec::new();
    let mut source = String::new();
    for chunk in chunks {
        let mut lines = chunk.as_slice();
        while lines.first().is_some_and(|l| l.trim().is_empty()) {
            lines = &lines[1..];
        }
        let own = lines.first().and_then(|l| l.strip_prefix("# Source: "));
        if let Some(path) = own {
            source = path.trim_end().to_string();
            lines = &lines[1..];
        }
        let body = lines.join("\n");
        let data = parse_yaml(&body);
        if own.is_none() && matches!(data, Ok(Value::Null)) {
            // Nothing but blank lines and comments between two separators.
            continue;
        }
        docs.push(Doc {
            source: source.clone(),
            body,
            data,
        });
    }
    docs
}

/// Compares two rendered streams: the same sources in the same order, each document the
/// same data (the same text when helm's does not parse).
fn compare_streams(helm: &str, slipway: &str) -> Result<(), String> {
    let (h, s) = (documents(helm), documents(slipway));
    let sources = |d: &[Doc]| d.iter().map(|d| d.source.clone()).collect::<Vec<_>>();
    if sources(&h) != sources(&s) {
        return Err(format!(
            "the documents differ:\n  helm:    {:?}\n  slipway: {:?}",
            sources(&h),
            sources(&s)
        ));
    }
    for (i, (a, b)) in h.iter().zip(&s).enumerate() {
        let same = match (&a.data, &b.data) {
            (Ok(x), Ok(y)) => x == y,
            (Err(_), _) => a.body.trim() == b.body.trim(),
            (Ok(_), Err(_)) => false,
        };
        if !same {
            let show = |d: &Doc| match &d.data {
                Ok(v) => serde_json::to_string_pretty(v).unwrap(),
                Err(e) => format!("(not YAML: {e})"),
            };
            return Err(format!(
                "document {} ({}) differs\n--- helm text:\n{}\n--- slipway text:\n{}\n--- helm data:\n{}\n--- slipway data:\n{}",
                i + 1,
                a.source,
                a.body,
                b.body,
                show(a),
                show(b)
            ));
        }
    }
    Ok(())
}

/// One run of a chart: arguments in slipway's spelling, and whether helm must fail.
struct Case {
    label: String,
    args: Vec<String>,
    helm_fails: bool,
}

/// Splits an argument line at spaces; single quotes keep spaces inside an argument.
fn split_args(line: &str, values: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' | '\t' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quote in {line:?}");
    if any {
        out.push(cur);
    }
    let prefix = format!("{}/", values.display());
    out.into_iter()
        .map(|a| a.replace("$VALUES/", &prefix))
        .collect()
}

/// The corpus's charts, copied into a temporary folder with their `packed/` subcharts
/// packaged: (name, folder), in name order.
struct Corpus {
    _dir: tempfile::TempDir,
    charts: Vec<(String, PathBuf)>,
}

impl Corpus {
    fn prepare(helm: &Helm) -> Corpus {
        let dir = tempfile::tempdir().unwrap();
        let src = fixtures().join("charts");
        let mut names: Vec<String> = std::fs::read_dir(&src)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.path().join("Chart.yaml").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(
            names.len() >= 12,
            "the corpus has only {} charts",
            names.len()
        );
        let mut charts = Vec::new();
        for name in names {
            let to = dir.path().join(&name);
            common::copy_tree(&src.join(&name), &to);
            let packed = to.join("packed");
            if packed.is_dir() {
                let mut subs: Vec<PathBuf> = std::fs::read_dir(&packed)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                subs.sort();
                for sub in subs {
                    let dest = to.join("charts");
                    std::fs::create_dir_all(&dest).unwrap();
                    let out = helm.run(&[
                        "package".to_string(),
                        sub.display().to_string(),
                        "-d".to_string(),
                        dest.display().to_string(),
                    ]);
                    assert_eq!(
                        out.code,
                        0,
                        "helm package {}: {}",
                        sub.display(),
                        out.stderr
                    );
                }
                std::fs::remove_dir_all(&packed).unwrap();
            }
            charts.push((name, to));
        }
        Corpus { _dir: dir, charts }
    }
}

/// The runs of one corpus chart: the test's own option sets, then those of
/// `values/CHART*.yaml` and `values/CHART.args`. `default_sources` are the sources of
/// helm's default render, for `--show-only`.
fn cases(name: &str, default_sources: &[String]) -> Vec<Case> {
    let values = fixtures().join("values");
    let own = |label: &str, args: &[&str]| Case {
        label: label.to_string(),
        args: args.iter().map(|s| s.to_string()).collect(),
        helm_fails: false,
    };
    let release = format!("{name}-prod");
    let mut out = vec![
        own("defaults", &[]),
        own(
            "release and namespace",
            &["--release", &release, "--namespace", "team-a"],
        ),
        own("kube 1.25.0", &["--kube-version", "1.25.0"]),
        own("kube 1.30.0", &["--kube-version", "1.30.0"]),
        own("include crds", &["--include-crds"]),
    ];
    // Show only the first and the last template helm printed (a path below the chart).
    let templates: Vec<&str> = default_sources
        .iter()
        .filter_map(|s| s.split_once('/').map(|(_, p)| p))
        .collect();
    if let (Some(first), Some(last)) = (templates.first(), templates.last()) {
        out.push(own("show only the first", &["--show-only", first]));
        if last != first {
            out.push(own(
                "show only the last and the first",
                &["--show-only", last, "--show-only", first],
            ));
        }
    }
    // -f files: each alone, then all together in name order (CHART.yaml first).
    let mut files: Vec<PathBuf> = std::fs::read_dir(&values)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let f = p.file_name().unwrap().to_string_lossy();
            f == format!("{name}.yaml")
                || (f.starts_with(&format!("{name}-")) && f.ends_with(".yaml"))
        })
        .collect();
    files.sort_by_key(|p| {
        let f = p.file_name().unwrap().to_string_lossy().into_owned();
        (f != format!("{name}.yaml"), f)
    });
    for f in &files {
        out.push(Case {
            label: format!("-f {}", f.file_name().unwrap().to_string_lossy()),
            args: vec!["-f".to_string(), f.display().to_string()],
            helm_fails: false,
        });
    }
    if files.len() > 1 {
        out.push(Case {
            label: "every -f file".to_string(),
            args: files
                .iter()
                .flat_map(|f| ["-f".to_string(), f.display().to_string()])
                .collect(),
            helm_fails: false,
        });
    }
    let args_file = values.join(format!("{name}.args"));
    if let Ok(text) = std::fs::read_to_string(&args_file) {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (helm_fails, line) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim_start()),
                None => (false, line),
            };
            out.push(Case {
                label: format!("{name}.args:{}: {line}", n + 1),
                args: split_args(line, &values),
                helm_fails,
            });
        }
    }
    out
}

/// The sources of a successful render.
fn sources_of(out: &HelmRun) -> Vec<String> {
    documents(&out.stdout)
        .into_iter()
        .map(|d| d.source)
        .collect()
}

/// Every corpus chart renders with helm under every option set that must render, and
/// fails under every one marked `!`; every document helm prints is YAML. This checks the
/// corpus itself, so that the comparison below compares what it means to.
#[test]
fn helm_renders_the_corpus_as_the_corpus_expects() {
    let helm = Helm::new();
    let corpus = Corpus::prepare(&helm);
    let mut problems = Vec::new();
    let mut runs = 0;
    for (name, chart) in &corpus.charts {
        let default = helm_template(&helm, chart, &[]);
        assert_eq!(
            default.code, 0,
            "helm template {name} failed:\n{}",
            default.stderr
        );
        let sources = sources_of(&default);
        assert!(!sources.is_empty(), "{name} renders nothing");
        for case in cases(name, &sources) {
            runs += 1;
            let out = helm_template(&helm, chart, &case.args);
            if case.helm_fails != (out.code != 0) {
                problems.push(format!(
                    "{name} [{}]: helm exited {} (want {}):\n{}",
                    case.label,
                    out.code,
                    if case.helm_fails { "a failure" } else { "0" },
                    out.stderr
                ));
                continue;
            }
            for doc in documents(&out.stdout) {
                if let Err(e) = &doc.data {
                    problems.push(format!(
                        "{name} [{}]: helm printed a document that does not parse ({}): {e}\n{}",
                        case.label, doc.source, doc.body
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {runs} helm runs are not what the corpus expects:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    eprintln!(
        "helm rendered {} corpus charts in {runs} runs as expected",
        corpus.charts.len()
    );
}

/// The comparison itself: every corpus chart under every option set.
#[test]
fn slipway_renders_the_corpus_as_helm_does() {
    let helm = Helm::new();
    let corpus = Corpus::prepare(&helm);
    let certs_d = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut runs = 0;
    for (name, chart) in &corpus.charts {
        let default = helm_template(&helm, chart, &[]);
        assert_eq!(
            default.code, 0,
            "helm template {name} failed:\n{}",
            default.stderr
        );
        for case in cases(name, &sources_of(&default)) {
            runs += 1;
            let h = helm_template(&helm, chart, &case.args);
            let s = slipway_render(certs_d.path(), chart, &case.args);
            let what = format!("{name} [{}]", case.label);
            match (h.code, s.code) {
                (0, 0) => {
                    if let Err(e) = compare_streams(&h.stdout, &s.stdout) {
                        failures.push(format!("{what}: {e}"));
                    }
                }
                (0, code) => failures.push(format!(
                    "{what}: helm renders it, slipway exited {code}:\n{}",
                    s.stderr
                )),
                (_, 2) => {
                    if s.stderr.trim().is_empty() {
                        failures.push(format!("{what}: slipway exited 2 without saying why"));
                    }
                }
                (_, code) => failures.push(format!(
                    "{what}: helm fails ({}), slipway exited {code} (want 2):\n{}",
                    h.stderr.trim(),
                    s.stderr
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} runs differ from helm:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!(
        "slipway agreed with helm on {} corpus charts in {runs} runs",
        corpus.charts.len()
    );
}

/// Each broken chart fails in helm, and slipway exits 2 naming what helm names.
#[test]
fn broken_charts_fail_as_in_helm() {
    let helm = Helm::new();
    let certs_d = tempfile::tempdir().unwrap();
    let dir = fixtures().join("broken");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = BROKEN.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every broken chart is listed in BROKEN");
    let mut failures = Vec::new();
    for (name, needles) in BROKEN {
        let chart = dir.join(name);
        let h = helm_template(&helm, &chart, &[]);
        assert_ne!(h.code, 0, "helm renders the broken chart {name}");
        for n in *needles {
            assert!(
                h.stderr.contains(n),
                "helm's error for {name} lacks {n:?}: {}",
                h.stderr
            );
        }
        let s = slipway_render(certs_d.path(), &chart, &[]);
        if s.code != 2 {
            failures.push(format!(
                "{name}: slipway exited {} (want 2)\nstdout:\n{}\nstderr:\n{}",
                s.code, s.stdout, s.stderr
            ));
            continue;
        }
        let missing: Vec<&&str> = needles.iter().filter(|n| !s.stderr.contains(**n)).collect();
        if !missing.is_empty() {
            failures.push(format!(
                "{name}: slipway's error lacks {missing:?}:\n{}\n(helm said: {})",
                s.stderr.trim(),
                h.stderr.trim()
            ));
        }
        common::assert_no_repeated_cause(&s.stderr);
    }
    assert!(
        failures.is_empty(),
        "{} of {} broken charts:\n\n{}",
        failures.len(),
        BROKEN.len(),
        failures.join("\n\n")
    );
}

/// helm's own test charts: slipway agrees with helm, or refuses with exit 2 naming what
/// it does not support (and then only charts on [`ALLOWED_UNSUPPORTED`]).
#[test]
fn helm_test_charts_agree_or_are_refused() {
    let helm = Helm::new();
    let certs_d = tempfile::tempdir().unwrap();
    let module = slipway_testkit::helm_module();
    let mut charts = Vec::new();
    for folder in UPSTREAM_FOLDERS {
        let mut found: Vec<PathBuf> = std::fs::read_dir(module.join(folder))
            .unwrap_or_else(|e| panic!("read {folder}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("Chart.yaml").is_file())
            .collect();
        found.sort();
        charts.extend(found);
    }
    assert!(
        charts.len() >= 40,
        "only {} test charts found",
        charts.len()
    );
    let mut failures = Vec::new();
    let (mut same, mut both_fail) = (0, 0);
    let mut refused: Vec<(String, String)> = Vec::new();
    for chart in &charts {
        let rel = chart.strip_prefix(&module).unwrap().display().to_string();
        let allowed = ALLOWED_UNSUPPORTED.iter().any(|(p, _)| *p == rel);
        let option_sets: [&[&str]; 2] = [&[], &["--include-crds"]];
        let mut refused_here = None;
        for opts in option_sets {
            let args: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
            let what = format!("{rel} {opts:?}");
            let h = helm_template(&helm, chart, &args);
            let s = slipway_render(certs_d.path(), chart, &args);
            match (h.code, s.code) {
                (0, 0) => match compare_streams(&h.stdout, &s.stdout) {
                    Ok(()) => same += 1,
                    Err(e) => failures.push(format!("{what}: slipway is silently wrong: {e}")),
                },
                (0, 2) => {
                    let lower = s.stderr.to_lowercase();
                    if !(lower.contains("unsupported") || lower.contains("not supported")) {
                        failures.push(format!(
                            "{what}: helm renders it; slipway exited 2 without naming an unsupported construct:\n{}",
                            s.stderr
                        ));
                    } else if !allowed {
                        failures.push(format!(
                            "{what}: slipway refuses it and it is not on ALLOWED_UNSUPPORTED:\n{}",
                            s.stderr.trim()
                        ));
                    }
                    refused_here = Some(s.stderr.trim().lines().next().unwrap_or("").to_string());
                }
                (_, 2) => both_fail += 1,
                (0, code) => failures.push(format!(
                    "{what}: helm renders it, slipway exited {code}:\n{}",
                    s.stderr
                )),
                (_, 0) => failures.push(format!(
                    "{what}: helm fails ({}), slipway exited 0",
                    h.stderr.trim()
                )),
                (_, code) => failures.push(format!(
                    "{what}: helm fails ({}), slipway exited {code} (want 2):\n{}",
                    h.stderr.trim(),
                    s.stderr
                )),
            }
        }
        if let Some(why) = refused_here {
            refused.push((rel, why));
        } else if allowed {
            eprintln!("note: {rel} is on ALLOWED_UNSUPPORTED but slipway renders it now");
        }
    }
    eprintln!(
        "helm's test charts ({} charts): {same} runs print the same, {both_fail} fail in both; {} charts refused as unsupported",
        charts.len(),
        refused.len()
    );
    for (rel, why) in &refused {
        eprintln!("  refused {rel}: {why}");
    }
    assert!(
        failures.is_empty(),
        "{} problems with helm's test charts:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The document splitter and the comparison themselves.
#[test]
fn comparison_sees_sources_data_and_text() {
    let helm = "---\n# Source: c/templates/a.yaml\na: 1\nb: [x, y]\n\n---\n# Source: c/crds/x.yaml\n# note\nk: v\n---\nk: w\n";
    // Key order and formatting do not matter; data does.
    let same = "---\n# Source: c/templates/a.yaml\nb:\n  - x\n  - y\na: 1\n---\n# Source: c/crds/x.yaml\nk: v\n---\nk: \"w\"\n";
    assert_eq!(compare_streams(helm, same), Ok(()));
    let docs = documents(helm);
    assert_eq!(docs.len(), 3);
    assert_eq!(docs[2].source, "c/crds/x.yaml");
    // A number printed as a string, a 1.1 boolean, a missing document, another order.
    for other in [
        "---\n# Source: c/templates/a.yaml\na: \"1\"\nb: [x, y]\n---\n# Source: c/crds/x.yaml\nk: v\n---\nk: w\n",
        "---\n# Source: c/templates/a.yaml\na: 1\nb: [x, y]\n---\n# Source: c/crds/x.yaml\nk: v\n---\nk: on\n",
        "---\n# Source: c/templates/a.yaml\na: 1\nb: [x, y]\n---\n# Source: c/crds/x.yaml\nk: v\n",
        "---\n# Source: c/crds/x.yaml\nk: v\n---\nk: w\n---\n# Source: c/templates/a.yaml\na: 1\nb: [x, y]\n",
        "---\n# Source: c/templates/a.yaml\na: 1.0\nb: [x, y]\n---\n# Source: c/crds/x.yaml\nk: v\n---\nk: w\n",
    ] {
        assert!(compare_streams(helm, other).is_err(), "{other}");
    }
    assert_eq!(
        parse_yaml("mode: 0755\nflag: yes"),
        Ok(serde_json::json!({"mode": 493, "flag": true}))
    );
    assert_eq!(
        split_args("--set a=b  --set-json 'x={\"k\": 1}'", Path::new("/v")),
        ["--set", "a=b", "--set-json", "x={\"k\": 1}"]
    );
    assert_eq!(
        split_args("--set-file k=$VALUES/f.txt", Path::new("/v")),
        ["--set-file", "k=/v/f.txt"]
    );
    assert_eq!(
        split_release(&["--set".into(), "a=b".into(), "--release".into(), "r".into()]),
        (
            Some("r".to_string()),
            vec!["--set".to_string(), "a=b".to_string()]
        )
    );
}

/// A chart whose folder holds symlinks (to a template, to a folder of templates, to a
/// values file, and one the chart's `.helmignore` leaves out) renders as helm renders it:
/// symlinks are followed, and their targets read under the link's name.
#[test]
fn symlinks_in_a_chart_folder_are_followed_as_helm_follows_them() {
    use std::os::unix::fs::symlink;
    let helm = Helm::new();
    let outside = tempfile::tempdir().unwrap();
    let at = |rel: &str| outside.path().join(rel);
    for (rel, text) in [
        (
            "shared/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-linked\ndata:\n  color: {{ .Values.color | quote }}\n",
        ),
        (
            "shared/more/svc.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-in-linked-folder\nspec:\n  ports:\n    - port: 80\n",
        ),
        ("shared/values.yaml", "color: teal\n"),
        (
            "shared/ignored.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: must-not-appear\n",
        ),
        (
            "linked/Chart.yaml",
            "apiVersion: v2\nname: linked\nversion: 0.1.0\n",
        ),
        ("linked/.helmignore", "ignored.yaml\n"),
    ] {
        std::fs::create_dir_all(at(rel).parent().unwrap()).unwrap();
        std::fs::write(at(rel), text).unwrap();
    }
    std::fs::create_dir_all(at("linked/templates")).unwrap();
    for (target, link) in [
        ("shared/values.yaml", "linked/values.yaml"),
        ("shared/cm.yaml", "linked/templates/cm.yaml"),
        ("shared/more", "linked/templates/more"),
        ("shared/ignored.yaml", "linked/templates/ignored.yaml"),
    ] {
        symlink(at(target), at(link)).unwrap();
    }
    let chart = at("linked");

    let args = vec!["--release".to_string(), "rel".to_string()];
    let h = helm_template(&helm, &chart, &args);
    assert_eq!(h.code, 0, "helm template failed:\n{}", h.stderr);
    let certs_d = tempfile::tempdir().unwrap();
    let s = slipway_render(certs_d.path(), &chart, &args);
    assert_eq!(s.code, 0, "slipway chart render failed:\n{}", s.stderr);
    compare_streams(&h.stdout, &s.stdout).unwrap();
    for expected in ["rel-linked", "rel-in-linked-folder", "teal"] {
        assert!(
            s.stdout.contains(expected),
            "{expected} missing:\n{}",
            s.stdout
        );
    }
    assert!(!s.stdout.contains("must-not-appear"), "{}", s.stdout);
}
