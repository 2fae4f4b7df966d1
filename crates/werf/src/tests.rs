//! The werf crate's tests.

use super::*;
use std::fs;

struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        Fixture { tmp }
    }
    fn file(&self, rel: &str, text: &str) -> &Self {
        let p = self.tmp.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
        self
    }
    fn dir(&self, rel: &str) -> &Self {
        fs::create_dir_all(self.tmp.path().join(rel)).unwrap();
        self
    }
    fn werf(&self) -> PathBuf {
        self.tmp.path().join("werf.yaml")
    }
    fn parse(&self, text: &str) -> Result<WerfConfig, ConfigError> {
        parse(text, &self.werf())
    }
    fn err(&self, text: &str) -> String {
        let e = self.parse(text).expect_err("expected an error");
        let s = e.to_string();
        assert!(
            s.contains("werf.yaml"),
            "message does not name the file: {s}"
        );
        s
    }
}

pub(crate) const META: &str = "project: demo\nconfigVersion: 1\n";

fn has(s: &str, needles: &[&str]) {
    for n in needles {
        assert!(s.contains(n), "{s:?} lacks {n:?}");
    }
}

#[test]
fn parses_a_full_config() {
    let f = Fixture::new();
    f.dir("svc/docker")
        .file("svc/docker/app.Dockerfile", "FROM scratch\n");
    let text = format!(
        "# leading comment\n---\n{META}---\nimage: base\n---\n\
         image: app\ncontext: svc\ndockerfile: docker/app.Dockerfile\ntarget: final\n\
         args:\n  S: text\n  N: 1.10\n  B: yes\n  I: 010\n  Q: \"quoted\"\n  E: ''\n\
         dependencies:\n- image: base\n  imports:\n  - type: ImageName\n    targetBuildArg: BASE\n\
         - from: base\n  imports:\n  - type: ImageDigest\n    targetBuildArg: BASE_DIGEST\n  \
         - type: ImageRepo\n    targetBuildArg: REPO\n  - type: ImageTag\n    targetBuildArg: TAG\n"
    );
    let c = f.parse(&text).unwrap();
    assert_eq!(c.project, "demo");
    assert!(c.path.is_absolute());
    assert_eq!(c.dir, f.tmp.path());
    assert_eq!(c.images.len(), 2);
    let base = &c.images[0];
    assert_eq!(base.name, "base");
    assert_eq!(base.context, f.tmp.path());
    assert_eq!(base.dockerfile, f.tmp.path().join("Dockerfile"));
    assert_eq!(base.target, None);
    let app = &c.images[1];
    assert_eq!(app.context, f.tmp.path().join("svc"));
    assert_eq!(
        app.dockerfile,
        f.tmp.path().join("svc/docker/app.Dockerfile")
    );
    assert_eq!(app.target.as_deref(), Some("final"));
    let args: Vec<(&str, &str)> = app
        .args
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        args,
        [
            ("B", "yes"),
            ("E", ""),
            ("I", "010"),
            ("N", "1.10"),
            ("Q", "quoted"),
            ("S", "text")
        ]
    );
    assert_eq!(app.dependencies.len(), 2);
    assert_eq!(app.dependencies[0].image, "base");
    assert_eq!(
        app.dependencies[0].imports,
        [Import {
            kind: ImportKind::ImageName,
            target_build_arg: "BASE".into()
        }]
    );
    let kinds: Vec<ImportKind> = app.dependencies[1].imports.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        [
            ImportKind::ImageDigest,
            ImportKind::ImageRepo,
            ImportKind::ImageTag
        ]
    );
}

#[test]
fn loads_from_disk_and_reports_unreadable_files() {
    let f = Fixture::new();
    f.file("werf.yaml", &format!("{META}---\nimage: app\n"));
    let c = load(&f.werf()).unwrap();
    assert_eq!(c.images[0].name, "app");
    let missing = f.tmp.path().join("nope/werf.yaml");
    let e = load(&missing).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    has(&e.to_string(), &["cannot read", "nope/werf.yaml"]);
}

#[test]
fn empty_documents_are_skipped_and_numbering_counts_them() {
    let f = Fixture::new();
    let c = f
        .parse(&format!(
            "{META}---\n---\n# just a comment\n---\nimage: a\n---\n"
        ))
        .unwrap();
    assert_eq!(c.images.len(), 1);
    // Document 4 is the bad one: meta, empty, comment-only, then this.
    let e = f.err(&format!("{META}---\n---\n# c\n---\nimage: a\nbogus: 1\n"));
    has(&e, &["document 4", "`bogus`", "unknown key", ":8:"]);
}

#[test]
fn image_lists_define_several_images() {
    let f = Fixture::new();
    let c = f.parse(&format!("{META}---\nimage: [one, two]\n")).unwrap();
    let names: Vec<&str> = c.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["one", "two"]);
}

#[test]
fn meta_document_is_required_and_checked() {
    let f = Fixture::new();
    has(
        &f.err("image: app\n"),
        &["no meta document", "project: NAME"],
    );
    has(
        &f.err("project: x\n"),
        &["document 1", "configVersion", "missing"],
    );
    has(
        &f.err("project: x\nconfigVersion: 2\n"),
        &["`configVersion`", "must be 1", ":2:"],
    );
    has(&f.err("configVersion: 1\n"), &["`project`", "missing"]);
    has(
        &f.err("project: ''\nconfigVersion: 1\n"),
        &["`project`", "empty"],
    );
    has(
        &f.err(&format!("{META}---\n{META}")),
        &["document 2", "second meta document", "document 1"],
    );
    has(
        &f.err(&format!("{META}image: app\n")),
        &["`image`", "meta document", "after a `---`"],
    );
    has(
        &f.err(&format!("{META}build:\n  staged: \"yes\"\n")),
        &[
            "`build.staged`",
            ":4:",
            "expected true or false, found a string",
        ],
    );
    // The deploy section is read; cleanup and gitWorktree are read and announced, never
    // ignored silently.
    let c = f
        .parse(&format!(
            "{META}deploy:\n  helmRelease: x-[[ env ]]\n  helmReleaseSlug: false\n  namespace: ns\n  helmChartDir: chart\ncleanup:\n  keepPolicies: []\ngitWorktree:\n  forceShallowClone: true\n"
        ))
        .unwrap();
    assert_eq!(
        c.deploy,
        crate::deploy::Deploy {
            helm_chart_dir: Some("chart".into()),
            helm_release: Some("x-[[ env ]]".into()),
            helm_release_slug: Some(false),
            namespace: Some("ns".into()),
            namespace_slug: None,
            app_version: None,
        }
    );
    assert_eq!(c.notes.len(), 2, "{:?}", c.notes);
    has(&c.notes[0], &["werf.yaml:8:", "no cleanup command"]);
    has(&c.notes[1], &["werf.yaml:10:", "gitWorktree"]);
    // Empty sections say nothing.
    let quiet = f.parse(&format!("{META}cleanup: {{}}\n")).unwrap();
    assert!(quiet.notes.is_empty());
    for (text, needles) in [
        (
            "deploy:\n  helmRelease: \"\"\n",
            &["`deploy.helmRelease`", "empty"][..],
        ),
        (
            "deploy:\n  namespaceSlug: yes-please\n",
            &["`deploy.namespaceSlug`", "true or false"],
        ),
        (
            "deploy:\n  releaseName: x\n",
            &["`deploy.releaseName`", "unknown key", "helmRelease"],
        ),
        (
            "deploy:\n  appVersion: 1.0\n  helmChartConfig:\n    appVersion: 2.0\n",
            &[
                "`deploy.helmChartConfig.appVersion`",
                ":6:",
                "already set by `deploy.appVersion` at line 4",
            ],
        ),
        (
            "deploy:\n  helmChartConfig:\n    version: 2.0\n",
            &[
                "`deploy.helmChartConfig.version`",
                ":5:",
                "unknown key",
                "appVersion",
            ],
        ),
        (
            "deploy:\n  helmChartConfig: [x]\n",
            &["`deploy.helmChartConfig`", "a mapping"],
        ),
        (
            "deploy:\n  helmChartConfig:\n    appVersion: [x]\n",
            &["`deploy.helmChartConfig.appVersion`", "expected a string"],
        ),
        ("deploy: [x]\n", &["`deploy`", "a mapping"]),
        ("cleanup: 3\n", &["`cleanup`", "a mapping"]),
    ] {
        has(&f.err(&format!("{META}{text}")), needles);
    }
}

#[test]
fn stapel_images_are_refused() {
    let f = Fixture::new();
    for key in [
        "from: alpine",
        "git:\n- add: /\n  to: /app",
        "shell:\n  install: [x]",
        "fromImage: a",
        "ansible: {}",
        "import: []",
        "mount: []",
        "docker: {}",
        "beforeInstall: []",
    ] {
        let e = f.err(&format!("{META}---\nimage: app\n{key}\n"));
        has(
            &e,
            &[
                "document 2",
                "Stapel images are not supported by slipway",
                "dockerfile:",
            ],
        );
    }
    let e = f.err(&format!("{META}---\nartifact: build\nfrom: alpine\n"));
    has(&e, &["Stapel"]);
    // Even after Dockerfile keys, the Stapel key is what is reported.
    let e = f.err(&format!("{META}---\nimage: app\nfoo: 1\ngit: []\n"));
    has(&e, &["`git`", "Stapel"]);
}

#[test]
fn the_chart_app_version_is_read_in_either_spelling() {
    let f = Fixture::new();
    let app_version = |deploy: &str| {
        f.parse(&format!("{META}{deploy}"))
            .unwrap()
            .deploy
            .app_version
    };
    assert_eq!(
        app_version("deploy:\n  helmChartConfig:\n    appVersion: v1.2.3\n").as_deref(),
        Some("v1.2.3")
    );
    // Numbers are kept as written, as werf reads them into a string.
    assert_eq!(
        app_version("deploy:\n  appVersion: 1.10\n").as_deref(),
        Some("1.10")
    );
    // Null or empty leaves the chart's own appVersion.
    assert_eq!(app_version("deploy:\n  appVersion: ''\n"), None);
    assert_eq!(app_version("deploy:\n  helmChartConfig: {}\n"), None);
    assert_eq!(
        app_version("deploy:\n  helmChartConfig:\n    appVersion: ~\n"),
        None
    );
}

#[test]
fn staged_builds_as_usual_and_is_announced() {
    let f = Fixture::new();
    // The image's own `staged` wins over build.staged, as in werf.
    let c = f
        .parse(&format!(
            "{META}build:\n  staged: true\n---\nimage: a\n---\nimage: [b, c]\nstaged: false\n---\nimage: d\n"
        ))
        .unwrap();
    let staged: Vec<(&str, bool)> = c
        .images
        .iter()
        .map(|i| (i.name.as_str(), i.staged))
        .collect();
    assert_eq!(
        staged,
        [("a", true), ("b", false), ("c", false), ("d", true)]
    );
    assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
    has(
        &c.notes[0],
        &[
            "werf.yaml:4:",
            "`staged: true` (images `a`, `d`)",
            "per Dockerfile stage, not per instruction",
            "the images built are the same",
        ],
    );
    // An image's own `staged: true`, without build.staged.
    let c = f
        .parse(&format!(
            "{META}---\nimage: a\n---\nimage: b\nstaged: true\n"
        ))
        .unwrap();
    assert_eq!((c.images[0].staged, c.images[1].staged), (false, true));
    assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
    has(
        &c.notes[0],
        &["werf.yaml:7:", "(image `b`)", "the image built is"],
    );
    // Not staged, or staged: false everywhere: nothing to say.
    for text in [
        format!("{META}---\nimage: a\n"),
        format!("{META}build:\n  staged: false\n---\nimage: a\nstaged: ~\n"),
    ] {
        let c = f.parse(&text).unwrap();
        assert!(!c.images[0].staged && c.notes.is_empty(), "{:?}", c.notes);
    }
    // Anything but a boolean exits with its place.
    has(
        &f.err(&format!("{META}---\nimage: app\nstaged: \"yes\"\n")),
        &["`staged`", "document 2", ":5:", "expected true or false"],
    );
}

#[test]
fn unknown_keys_and_bad_values_are_reported_with_their_place() {
    let f = Fixture::new();
    has(
        &f.err(&format!("{META}---\nimage: app\ndockerfil: x\n")),
        &["`dockerfil`", "unknown key", "dockerfile, context"],
    );
    has(
        &f.err(&format!("{META}---\nimage: app\nargs: [a]\n")),
        &["`args`", "mapping"],
    );
    has(
        &f.err(&format!("{META}---\nimage: app\nargs:\n  A: {{x: 1}}\n")),
        &["`args.A`", "a mapping"],
    );
    has(
        &f.err(&format!("{META}---\nimage: app\nargs:\n  A:\n")),
        &["`args.A`", "no value"],
    );
    has(
        &f.err(&format!("{META}---\nimage: app\ndockerfile: 3\n")),
        &["`dockerfile`", "expected a string"],
    );
    has(
        &f.err(&format!("{META}---\nimage: ''\n")),
        &["`image`", "must not be empty"],
    );
    has(
        &f.err(&format!("{META}---\nimage: ~\n")),
        &["`image`", "nameless"],
    );
    has(
        &f.err(&format!("{META}---\ndockerfile: Dockerfile\n")),
        &["`image`", "missing"],
    );
    has(
        &f.err(&format!("{META}---\n- a\n- b\n")),
        &["document 2", "mapping"],
    );
    has(
        &f.err(&format!("{META}---\nname: x\n")),
        &["document 2", "cannot tell"],
    );
}

#[test]
fn dependencies_are_checked() {
    let f = Fixture::new();
    let two = |deps: &str| format!("{META}---\nimage: a\n---\nimage: b\ndependencies:\n{deps}");
    has(
        &f.err(&two("- image: c\n")),
        &[
            "`dependencies[0]`",
            "`c`",
            "does not define",
            "images: a, b",
            "document 3",
        ],
    );
    // ImageID is werf's fifth import type: the dependency's config digest.
    let c = f
        .parse(&two(
            "- image: a\n  imports:\n  - type: ImageID\n    targetBuildArg: X\n",
        ))
        .unwrap();
    assert_eq!(
        c.image("b").unwrap().dependencies[0].imports,
        [Import {
            kind: ImportKind::ImageID,
            target_build_arg: "X".into()
        }]
    );
    assert_eq!(ImportKind::ImageID.to_string(), "ImageID");
    has(
        &f.err(&two(
            "- image: a\n  imports:\n  - type: Nope\n    targetBuildArg: X\n",
        )),
        &["unknown import type `Nope`", "ImageID"],
    );
    has(
        &f.err(&two("- image: a\n  imports:\n  - type: ImageName\n")),
        &["targetBuildArg"],
    );
    has(
        &f.err(&two("- image: a\n  imports:\n  - targetBuildArg: X\n")),
        &["missing `type:`"],
    );
    has(
        &f.err(&two(
            "- image: a\n  imports:\n  - type: ImageName\n    targetEnv: X\n",
        )),
        &[
            "targetEnv",
            "Stapel",
            "ENV NAME=$NAME",
            "targetBuildArg: NAME",
        ],
    );
    // werf refuses it in a Dockerfile image with or without targetBuildArg.
    has(
        &f.err(&two(
            "- image: a\n  imports:\n  - type: ImageName\n    targetBuildArg: X\n    targetEnv: X\n",
        )),
        &["`dependencies[0].imports[0].targetEnv`", "cannot be used for a Dockerfile image"],
    );
    has(
        &f.err(&two("- image: a\n  before: install\n")),
        &["`dependencies[0].before`", "Stapel"],
    );
    has(
        &f.err(&two("- imports: []\n")),
        &["`dependencies[0]`", "from: IMAGE"],
    );
    has(&f.err(&two("- a\n")), &["`dependencies[0]`", "mapping"]);
    has(
        &f.err(&two(
            "- image: a\n  imports:\n  - type: ImageName\n    targetBuildArg: X\n  - type: ImageTag\n    targetBuildArg: X\n",
        )),
        &["`X`", "unique"],
    );
    has(
        &f.err(&format!(
            "{META}---\nimage: a\n---\nimage: b\nargs:\n  X: 1\ndependencies:\n- from: a\n  imports:\n  - type: ImageName\n    targetBuildArg: X\n"
        )),
        &["`X`", "both in `args:`"],
    );
}

#[test]
fn duplicates_and_cycles_are_refused() {
    let f = Fixture::new();
    has(
        &f.err(&format!("{META}---\nimage: a\n---\nimage: a\n")),
        &["document 3", "`a` is already defined in document 2"],
    );
    has(
        &f.err(&format!("{META}---\nimage: a\ndependencies:\n- from: a\n")),
        &["dependency cycle", "a -> a"],
    );
    has(
        &f.err(&format!(
            "{META}---\nimage: a\ndependencies:\n- from: c\n---\nimage: b\ndependencies:\n- from: a\n---\nimage: c\ndependencies:\n- from: b\n"
        )),
        &["dependency cycle", "a -> c -> b -> a"],
    );
}

#[test]
fn images_in_order_puts_dependencies_first() {
    let f = Fixture::new();
    let c = f
        .parse(&format!(
            "{META}---\nimage: app\ndependencies:\n- from: lib\n- from: base\n---\nimage: tool\n---\nimage: lib\ndependencies:\n- from: base\n---\nimage: base\n"
        ))
        .unwrap();
    let order: Vec<&str> = c
        .images_in_order()
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(order, ["base", "lib", "app", "tool"]);
    assert_eq!(c.image("lib").unwrap().dependencies[0].image, "base");
    assert!(c.image("nope").is_none());
}

#[test]
fn templated_files_are_rendered_and_later_errors_name_the_rendering() {
    let f = Fixture::new();
    let opts = TemplateOptions {
        lookup_env: std::sync::Arc::new(|n| (n == "V").then(|| "7".to_owned())),
        ..TemplateOptions::default()
    };
    let text =
        format!("{META}---\nimage: app\ndockerfile: Dockerfile\nargs:\n  V: {{{{ env \"V\" }}}}\n");
    let c = parse_with(&text, &f.werf(), &opts).unwrap();
    assert_eq!(c.images[0].args["V"], "7");
    // The rendered text has the error on line 5 (the action's line 1 is gone).
    let text = "{{- /* c */ -}}\nproject: p\nconfigVersion: 1\n---\nimage: [\n";
    let e = parse_with(text, &f.werf(), &opts).unwrap_err().to_string();
    has(&e, &["werf.yaml (rendered):4:", "document 2"]);
    // Untouched text keeps the file's own name.
    let e = f.err("project: p\nconfigVersion: 1\n---\nimage: [\n");
    assert!(!e.contains("(rendered)"), "{e}");
}

#[test]
fn yaml_syntax_errors_name_file_document_and_line() {
    let f = Fixture::new();
    let e = f.err(&format!("{META}---\nimage: app\nargs:\n  A: [1, 2\nb: c\n"));
    has(
        &e,
        &[
            "werf.yaml:7:2: document 2: invalid YAML",
            "illegal placement",
        ],
    );
    let e = f.err(&format!("{META}---\nimage: app\nimage: again\n"));
    has(&e, &["werf.yaml:5:1: document 2", "duplicate"]);
}

#[test]
fn contexts_and_dockerfiles_must_exist_inside_the_folder() {
    let f = Fixture::new();
    f.dir("ctx").file("plain.txt", "x");
    has(
        &f.err(&format!("{META}---\nimage: a\ncontext: ../elsewhere\n")),
        &["`context`", "leaves its folder"],
    );
    has(
        &f.err(&format!("{META}---\nimage: a\ncontext: /abs\n")),
        &["`context`", "absolute"],
    );
    has(
        &f.err(&format!("{META}---\nimage: a\ncontext: nope\n")),
        &["`context`", "does not exist", "nope"],
    );
    has(
        &f.err(&format!("{META}---\nimage: a\ncontext: plain.txt\n")),
        &["`context`", "not a directory"],
    );
    // `dockerfile` is relative to the context, as in werf.
    let e = f.err(&format!("{META}---\nimage: a\ncontext: ctx\n"));
    has(&e, &["`dockerfile`", "ctx/Dockerfile", "does not exist"]);
    let e = f.err(&format!(
        "{META}---\nimage: a\ncontext: ctx\ndockerfile: ../Dockerfile\n"
    ));
    has(&e, &["`dockerfile`", "relative to the context"]);
    has(
        &f.err(&format!("{META}---\nimage: a\ndockerfile: ctx\n")),
        &["not a file"],
    );
    // Inner `..` that stays inside is fine, and `.` is the folder itself.
    let c = f
        .parse(&format!("{META}---\nimage: a\ncontext: ctx/../.\n"))
        .unwrap();
    assert_eq!(c.images[0].context, f.tmp.path());
    #[cfg(unix)]
    {
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), f.tmp.path().join("link")).unwrap();
        has(
            &f.err(&format!("{META}---\nimage: a\ncontext: link\n")),
            &["symlink", "outside"],
        );
    }
}

#[test]
fn separators_follow_werf() {
    let docs = split_documents("a: 1\n--- # c\nb: 2\n---x\n---\r\nc: 3\n");
    let texts: Vec<(usize, u64, &str)> = docs
        .iter()
        .map(|d| (d.number, d.first_line, d.text))
        .collect();
    assert_eq!(
        texts,
        [(1, 1, "a: 1\n"), (2, 3, "b: 2\n---x\n"), (3, 6, "c: 3\n")]
    );
    let docs = split_documents("# hi\n\n---\na: 1\n");
    assert_eq!(docs.len(), 1);
    assert_eq!((docs[0].number, docs[0].first_line), (1, 4));
}

#[test]
fn cache_version_of_the_image_wins_over_the_meta_documents() {
    let f = Fixture::new();
    let meta = |build: &str| format!("{META}{build}");
    // werf: the image's own non-empty cacheVersion, else build.cacheVersion, else none.
    let c = f
        .parse(&format!(
            "{}---\nimage: own\ncacheVersion: mine\n---\nimage: inherits\n---\nimage: empty\ncacheVersion: ''\n---\nimage: number\ncacheVersion: 1.10\n",
            meta("build:\n  cacheVersion: global\n")
        ))
        .unwrap();
    assert_eq!(c.cache_version.as_deref(), Some("global"));
    let versions: Vec<(&str, Option<&str>)> = c
        .images
        .iter()
        .map(|i| (i.name.as_str(), i.cache_version.as_deref()))
        .collect();
    assert_eq!(
        versions,
        [
            ("own", Some("mine")),
            ("inherits", Some("global")),
            ("empty", Some("global")),
            ("number", Some("1.10")),
        ]
    );
    // Without build.cacheVersion, an image without its own has none.
    let c = f
        .parse(&format!(
            "{META}build: {{}}\n---\nimage: a\n---\nimage: b\ncacheVersion: x\n"
        ))
        .unwrap();
    assert_eq!(c.cache_version, None);
    assert_eq!(c.images[0].cache_version, None);
    assert_eq!(c.images[1].cache_version.as_deref(), Some("x"));
    // The other build keys stay refused, each naming itself; a bad value is reported.
    for (key, hint) in [("sbom: {}", "`build.sbom`"), ("other: 1", "`build.other`")] {
        has(
            &f.err(&meta(&format!("build:\n  cacheVersion: v\n  {key}\n"))),
            &[hint, "not supported by slipway (yet)", ":5:"],
        );
    }
    has(
        &f.err(&meta("build:\n  cacheVersion: [a]\n")),
        &["`build.cacheVersion`", "expected a string"],
    );
    has(
        &f.err(&format!("{META}---\nimage: a\ncacheVersion: {{x: 1}}\n")),
        &["`cacheVersion`", "expected a string", ":5:"],
    );
}

#[test]
fn add_host_and_network_are_read_and_checked() {
    let f = Fixture::new();
    let c = f
        .parse(&format!(
            "{META}---\nimage: a\naddHost:\n- registry.internal:10.0.0.5\n- v6:::1\nnetwork: host\n---\nimage: b\naddHost: one:192.168.1.1\n---\nimage: c\n"
        ))
        .unwrap();
    let a = c.image("a").unwrap();
    assert_eq!(a.add_hosts, ["registry.internal:10.0.0.5", "v6:::1"]);
    assert_eq!(a.network.as_deref(), Some("host"));
    assert_eq!(c.image("b").unwrap().add_hosts, ["one:192.168.1.1"]);
    assert!(c.image("c").unwrap().add_hosts.is_empty());
    assert_eq!(c.image("c").unwrap().network, None);
    // What buildah's --add-host would refuse is refused here, with its place.
    for (value, needles) in [
        (
            "[nocolon]",
            &["`addHost[0]`", "`nocolon` is not `host:ip`", ":5:"][..],
        ),
        (":1.2.3.4", &["`addHost`", "not `host:ip`"]),
        (
            "[ok:1.2.3.4, 'h:1.2.3.4:5']",
            &["`addHost[1]`", "`h:1.2.3.4:5`"],
        ),
        ("[gw:host-gateway]", &["`gw:host-gateway` is not `host:ip`"]),
        ("['a b:1.2.3.4']", &["not `host:ip`"]),
        ("{a: b}", &["`addHost`", "a string or a list of strings"]),
        ("[[a]]", &["`addHost[0]`", "expected a string"]),
    ] {
        has(
            &f.err(&format!("{META}---\nimage: a\naddHost: {value}\n")),
            needles,
        );
    }
    has(
        &f.err(&format!("{META}---\nimage: a\nnetwork: [host]\n")),
        &["`network`", "expected a string"],
    );
}

#[test]
fn context_add_files_must_exist_inside_the_context() {
    let f = Fixture::new();
    f.file("ctx/Dockerfile", "FROM scratch\n")
        .file("ctx/file1", "x")
        .file("ctx/dir1/inner", "y")
        .file("outside.txt", "z");
    let doc = |key: &str| format!("{META}---\nimage: a\ncontext: ctx\n{key}\n");
    let c = f
        .parse(&doc(
            "contextAddFiles:\n- file1\n- ./dir1/\n- dir1/../file1\n",
        ))
        .unwrap();
    assert_eq!(
        c.images[0].context_add_files,
        [PathBuf::from("file1"), PathBuf::from("dir1")],
        "cleaned, without repeats"
    );
    // The older singular key, and a single string, mean the same.
    let c = f.parse(&doc("contextAddFile: file1")).unwrap();
    assert_eq!(c.images[0].context_add_files, [PathBuf::from("file1")]);
    for (key, needles) in [
        (
            "contextAddFiles:\n- file1\n- missing.txt",
            &[
                "`contextAddFiles[1]`",
                "ctx/missing.txt does not exist",
                ":8:",
            ][..],
        ),
        (
            "contextAddFiles: [../outside.txt]",
            &["`contextAddFiles`", "leaves its folder", "inside it"],
        ),
        (
            "contextAddFile: /etc/passwd",
            &["`contextAddFile`", "absolute"],
        ),
        (
            "contextAddFiles: [file1]\ncontextAddFile: [dir1]",
            &["`contextAddFile`", "not both", ":7:"],
        ),
        (
            "contextAddFiles: {a: 1}",
            &["a string or a list of strings"],
        ),
    ] {
        has(&f.err(&doc(key)), needles);
    }
    #[cfg(unix)]
    {
        // A folder on the way that is a symlink out of the context is refused; a symlink
        // as the last part is a file of the context like any other.
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path(), f.tmp.path().join("ctx/out")).unwrap();
        has(
            &f.err(&doc("contextAddFiles: [out/secret]")),
            &["`contextAddFiles`", "symlink", "outside the context"],
        );
        let c = f.parse(&doc("contextAddFiles: [out]")).unwrap();
        assert_eq!(c.images[0].context_add_files, [PathBuf::from("out")]);
    }
}

#[test]
fn secrets_follow_werfs_rules_and_never_show_a_value() {
    let f = Fixture::new();
    let home = std::env::var("HOME").unwrap_or_default();
    let text = format!(
        "{META}---\nimage: app\nsecrets:\n- env: AWS_ACCESS_KEY_ID\n\
         - id: aws_secret_key\n  env: AWS_SECRET_ACCESS_KEY\n- src: ~/.aws/credentials\n\
         - src: conf/token.txt\n- id: plain\n  value: hunter2-plain\n- id: num\n  value: 0042\n"
    );
    let c = f.parse(&text).unwrap();
    let s = &c.images[0].secrets;
    let ids: Vec<&str> = s.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "AWS_ACCESS_KEY_ID",
            "aws_secret_key",
            "credentials",
            "token.txt",
            "plain",
            "num"
        ]
    );
    assert_eq!(s[0].source, SecretSource::Env("AWS_ACCESS_KEY_ID".into()));
    assert_eq!(
        s[1].source,
        SecretSource::Env("AWS_SECRET_ACCESS_KEY".into())
    );
    if !home.is_empty() {
        assert_eq!(
            s[2].source,
            SecretSource::File(PathBuf::from(&home).join(".aws/credentials"))
        );
    }
    // A relative `src:` is taken from the werf.yaml folder.
    assert_eq!(
        s[3].source,
        SecretSource::File(f.tmp.path().join("conf/token.txt"))
    );
    match &s[4].source {
        SecretSource::Value(v) => assert_eq!(v.expose(), "hunter2-plain"),
        other => panic!("{other:?}"),
    }
    match &s[5].source {
        SecretSource::Value(v) => assert_eq!(v.expose(), "0042", "as written"),
        other => panic!("{other:?}"),
    }
    // Debug output (of the secret and of the whole config) hides the value.
    let debug = format!("{c:?}");
    assert!(!debug.contains("hunter2-plain"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(
        f.parse(&format!("{META}---\nimage: app\nsecrets: ~\n"))
            .unwrap()
            .images[0]
            .secrets
            .is_empty()
    );

    for (secrets, needles) in [
        (
            "- id: x\n  value: hunter2-plain\n  env: X\n",
            &["`secrets[0]`", "only one of `env`, `src` and `value`"][..],
        ),
        (
            "- value: hunter2-plain\n",
            &["`secrets[0]`", "needs an `id:`"],
        ),
        ("- id: x\n", &["needs one of `env: VARIABLE`"]),
        ("- id: x\n  env: ''\n", &["needs one of"]),
        (
            "- env: A\n- id: A\n  value: hunter2-plain\n",
            &["`secrets[1]`", "already used by secrets[0]"],
        ),
        (
            "- env: A\n  mode: 0400\n",
            &["`secrets[0].mode`", "unknown key `mode`"],
        ),
        ("- A\n", &["expected a mapping"]),
        ("  {A: b}\n", &["`secrets`", "expected a list"]),
        ("- id: a,b\n  env: A\n", &["comma"]),
        ("- src: dir,x/file\n", &["comma"]),
        ("- src: ~other/file\n", &["only `~/`"]),
        (
            "- id: v\n  value: [hunter2-plain]\n",
            &["`secrets[0].value`", "expected a string"],
        ),
    ] {
        let e = f.err(&format!("{META}---\nimage: app\nsecrets:\n{secrets}"));
        has(&e, needles);
        assert!(!e.contains("hunter2-plain"), "a value in a message: {e}");
    }
}

#[test]
fn ssh_is_one_agent_socket_or_ssh_auth_sock() {
    let f = Fixture::new();
    let ssh = |v: &str| {
        f.parse(&format!("{META}---\nimage: app\nssh: {v}\n"))
            .unwrap()
            .images[0]
            .ssh
            .clone()
    };
    let agent = |id: &str, socket: Option<PathBuf>, written: &str| {
        Some(SshAgent {
            id: id.into(),
            socket,
            written: written.into(),
        })
    };
    assert_eq!(ssh("default"), agent("default", None, "default"));
    assert_eq!(ssh("github"), agent("github", None, "github"));
    assert_eq!(
        ssh("/run/agent.sock"),
        agent("default", Some("/run/agent.sock".into()), "/run/agent.sock")
    );
    assert_eq!(
        ssh("default=./agent.sock"),
        agent(
            "default",
            Some(f.tmp.path().join("./agent.sock")),
            "default=./agent.sock"
        )
    );
    assert_eq!(ssh("''"), None);
    assert_eq!(ssh("~"), None, "null");
    assert_eq!(
        f.parse(&format!("{META}---\nimage: app\n")).unwrap().images[0].ssh,
        None
    );
    for (v, needles) in [
        ("default=/a.sock,/b.sock", &["`ssh`", "one SSH agent"][..]),
        ("default=", &["not `default`, `ID=SOCKET`"]),
        ("=/a.sock", &["not `default`, `ID=SOCKET`"]),
        ("[a]", &["`ssh`", "expected a string"]),
    ] {
        let e = f.err(&format!("{META}---\nimage: app\nssh: {v}\n"));
        has(&e, needles);
    }
}

#[test]
fn platform_lists_of_the_image_win_over_build_platform() {
    let f = Fixture::new();
    // werf: the image's own non-empty list, else build.platform, else none (the builder's
    // default).
    let c = f
        .parse(&format!(
            "{META}build:\n  platform: [linux/amd64, linux/arm64]\n---\nimage: own\nplatform: [linux/arm/v7]\n---\nimage: inherits\n---\nimage: empty\nplatform: []\n"
        ))
        .unwrap();
    assert_eq!(c.platforms, ["linux/amd64", "linux/arm64"]);
    let lists: Vec<(&str, Vec<&str>)> = c
        .images
        .iter()
        .map(|i| {
            (
                i.name.as_str(),
                i.platforms.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        lists,
        [
            ("own", vec!["linux/arm/v7"]),
            ("inherits", vec!["linux/amd64", "linux/arm64"]),
            ("empty", vec!["linux/amd64", "linux/arm64"]),
        ]
    );
    let c = f
        .parse(&format!(
            "{META}---\nimage: a\n---\nimage: b\nplatform: [linux/s390x]\n"
        ))
        .unwrap();
    assert!(c.platforms.is_empty());
    assert!(c.images[0].platforms.is_empty());
    assert_eq!(c.images[1].platforms, ["linux/s390x"]);
    // Bad values are reported with their key and line.
    for (value, needles) in [
        (
            "linux/amd64",
            &["`platform`", "found a string", "[linux/amd64]", ":5:"][..],
        ),
        ("{os: linux}", &["`platform`", "a list of platforms"][..]),
        (
            "[linux]",
            &["`platform[0]`", "not a platform", "os/arch"][..],
        ),
        ("[linux//v7]", &["`platform[0]`", "empty part"][..]),
        (
            "[\"linux/amd 64\"]",
            &["`platform[0]`", "not part of a platform"][..],
        ),
        ("[1]", &["`platform[0]`", "expected a string"][..]),
        (
            "[linux/amd64, linux/arm64, linux/amd64]",
            &["`platform[2]`", "listed twice"][..],
        ),
    ] {
        has(
            &f.err(&format!("{META}---\nimage: a\nplatform: {value}\n")),
            needles,
        );
    }
    has(
        &f.err(&format!("{META}build:\n  platform: linux/arm64\n")),
        &["`build.platform`", "found a string", ":4:"],
    );
}
