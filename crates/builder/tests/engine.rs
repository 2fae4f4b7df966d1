//! The build engine in-process: which stages are found and which are built (cache hits),
//! which backend each stage goes to, and in which order stages reach `--repo`. Pushes go to
//! the real Distribution registry over TLS; buildah is recorded through the process seam
//! instead of run, so the choice of backend is seen without a container.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use slipway_builder::buildah::HostAccess;
use slipway_builder::{
    Access, Backend, BuildError, BuildOptions, Event, LayerFormat, Observer, StageStatus, build,
    host_platform,
};
use slipway_oci::{Platform, Reference};
use slipway_proc::{Finished, Recorder, Shared};
use slipway_registry::Registry;
use slipway_testkit::{LeafKind, Registry as TestRegistry, TestPki};
use slipway_trust::{RegistryHost, TrustPolicy};

/// Opens registries with a policy that trusts the test CA for the test registry only.
struct TestAccess {
    policy: Arc<TrustPolicy>,
}

impl TestAccess {
    fn new(pki: &TestPki, reg: &TestRegistry, empty: &Path) -> TestAccess {
        let policy = TrustPolicy::builder()
            .ca_file(RegistryHost::parse(&reg.host()).unwrap(), pki.ca())
            .certs_d_dirs(vec![empty.to_path_buf()])
            .ssl_cert_file(None)
            .ssl_cert_dir(None)
            .system_bundles(vec![])
            .build()
            .unwrap();
        TestAccess {
            policy: Arc::new(policy),
        }
    }
}

impl Access for TestAccess {
    fn registry(&self, r: &Reference) -> Result<Arc<Registry>, BuildError> {
        let host = RegistryHost::parse(r.api_host()).unwrap();
        Ok(Arc::new(
            Registry::new(self.policy.clone(), &host, None).map_err(|e| BuildError::Access {
                subject: r.registry.clone(),
                message: e.to_string(),
            })?,
        ))
    }

    fn buildah_host(&self, r: &Reference) -> Result<HostAccess, BuildError> {
        let host = RegistryHost::parse(r.api_host()).unwrap();
        Ok(HostAccess::from_trust(
            &self.policy.resolve(&host).unwrap(),
        )?)
    }
}

/// Keeps every stage event as `stage status [backend]`.
#[derive(Default)]
struct Events(Mutex<Vec<String>>);

impl Observer for Events {
    fn event(&self, event: &Event<'_>) {
        if let Event::Stage {
            stage,
            status,
            backend,
            ..
        } = event
        {
            let status = match status {
                StageStatus::Cached => "cached",
                StageStatus::Building => "building",
                StageStatus::Built => "built",
                StageStatus::Pushing => "pushing",
                StageStatus::Pushed => "pushed",
                StageStatus::Copied => "copied",
            };
            let line = match backend {
                Some(b) => format!("{stage} {status} {b}"),
                None => format!("{stage} {status}"),
            };
            self.0.lock().unwrap().push(line);
        }
    }
}

impl Events {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

fn project(dir: &Path, dockerfile: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join("a.txt"), "a\n").unwrap();
    std::fs::write(dir.join("b.txt"), "b\n").unwrap();
    std::fs::write(
        dir.join("werf.yaml"),
        "project: engine\nconfigVersion: 1\n---\nimage: app\ndockerfile: Dockerfile\n",
    )
    .unwrap();
    dir.join("werf.yaml")
}

fn options(store: &Path, repo: Option<Reference>, processes: Shared) -> BuildOptions {
    BuildOptions {
        repo,
        secondary_repos: vec![],
        cache_repos: vec![],
        store: store.to_path_buf(),
        backend: Backend::Auto,
        format: LayerFormat::default(),
        platforms: vec![],
        images: vec![],
        threads: 2,
        processes,
    }
}

const THREE_STAGES: &str = "FROM scratch AS one\nCOPY a.txt /a.txt\nFROM one AS two\nCOPY b.txt /b.txt\nFROM two\nLABEL x=1\n";

#[test]
fn unchanged_stages_are_cache_hits_and_a_change_rebuilds_only_what_depends_on_it() {
    let tmp = tempfile::tempdir().unwrap();
    let werf = project(&tmp.path().join("p"), THREE_STAGES);
    let pki = TestPki::new();
    let reg = TestRegistry::builder()
        .tls(&pki.server_cert(LeafKind::CaSigned))
        .start();
    std::fs::create_dir_all(tmp.path().join("certs.d")).unwrap();
    let access = TestAccess::new(&pki, &reg, &tmp.path().join("certs.d"));
    let cfg = slipway_werf::load(&werf).unwrap();
    let repo = Reference::parse(&format!("{}/app", reg.host())).unwrap();
    let opts = options(&tmp.path().join("store"), Some(repo), Shared::default());
    let events = Events::default();

    let first = build(&cfg, &opts, &access, &events).unwrap();
    let digests: Vec<String> = first.images["app"]
        .stages
        .iter()
        .map(|s| s.digest.clone())
        .collect();
    // Push order: each stage is pushed as soon as it is built, in Dockerfile order, so a
    // later stage never lands in --repo before the one it builds on.
    let pushes: Vec<String> = events
        .take()
        .into_iter()
        .filter(|e| e.contains(" pushing"))
        .collect();
    assert_eq!(pushes, ["one pushing", "two pushing", "2 pushing"]);

    // Nothing changed: every stage is found under its digest, nothing is built or pushed.
    let again = build(&cfg, &opts, &access, &events).unwrap();
    assert_eq!(events.take(), ["one cached", "two cached", "2 cached"]);
    assert!(!again.images["app"].rebuilt);

    // b.txt changed: stage `one` is still a hit; `two` and the last stage are rebuilt.
    std::fs::write(tmp.path().join("p/b.txt"), "b, changed\n").unwrap();
    let third = build(&cfg, &opts, &access, &events).unwrap();
    let seen = events.take();
    assert_eq!(seen[0], "one cached", "{seen:?}");
    assert!(seen.contains(&"two built native".to_string()), "{seen:?}");
    assert!(seen.contains(&"2 built native".to_string()), "{seen:?}");
    let now: Vec<&str> = third.images["app"]
        .stages
        .iter()
        .map(|s| s.digest.as_str())
        .collect();
    assert_eq!(now[0], digests[0]);
    assert_ne!(now[1], digests[1]);
    assert_ne!(now[2], digests[2]);
}

#[test]
fn auto_sends_only_the_run_stages_to_buildah_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let werf = project(
        &tmp.path().join("p"),
        "FROM scratch AS files\nCOPY a.txt /a.txt\nFROM files AS tools\nRUN echo hi > /hi\nFROM files\nCOPY --from=tools /hi /hi\n",
    );
    let cfg = slipway_werf::load(&werf).unwrap();
    // buildah "fails" at once: the test is about who is asked to build what.
    let rec = Arc::new(Recorder::new(|_| {
        Ok(Finished::exited(125, "Error: recorded, not run\n"))
    }));
    let opts = options(&tmp.path().join("store"), None, Shared(rec.clone()));
    let events = Events::default();
    let access = NoRegistry;
    let err = build(&cfg, &opts, &access, &events).unwrap_err();
    assert!(
        err.to_string()
            .contains("buildah build failed (exit status 125)")
            && err.to_string().contains("recorded, not run"),
        "{err}"
    );
    let seen = events.take();
    assert_eq!(
        seen,
        [
            "files building native",
            "files built native",
            "tools building buildah"
        ],
        "the COPY stage is native; the RUN stage goes to buildah"
    );
    let calls = rec.calls();
    let build_call = calls
        .iter()
        .find(|c| c.args.iter().any(|a| a == "build"))
        .expect("buildah build was asked for");
    let text = build_call.text();
    assert!(text.starts_with("buildah --root "), "{text}");
    assert!(text.contains(" build --isolation=chroot "), "{text}");
    assert!(text.contains("--pull=always"), "{text}");
    assert!(
        build_call
            .env
            .iter()
            .any(|(k, v)| k == "BUILDAH_ISOLATION" && v.as_deref() == Some("chroot".as_ref())),
        "{build_call:?}"
    );

    // --backend native refuses the RUN stage before anything runs.
    let native = BuildOptions {
        backend: Backend::Native,
        ..options(&tmp.path().join("store2"), None, Shared(rec.clone()))
    };
    let before = rec.calls().len();
    let err = build(&cfg, &native, &access, &events).unwrap_err();
    assert!(err.is_bad_input(), "{err}");
    assert_eq!(rec.calls().len(), before, "buildah was not run");
}

/// An access for builds that touch no registry.
struct NoRegistry;

impl Access for NoRegistry {
    fn registry(&self, r: &Reference) -> Result<Arc<Registry>, BuildError> {
        panic!("no registry should be opened, but {r} was")
    }

    fn buildah_host(&self, r: &Reference) -> Result<HostAccess, BuildError> {
        panic!("no registry should be opened, but {r} was")
    }
}

/// A platform this machine is not, and whether it can run its programs anyway (a QEMU
/// binfmt_misc handler).
fn foreign_platform() -> (Platform, bool) {
    let host = host_platform();
    let text = if host.architecture == "s390x" {
        "linux/ppc64le"
    } else {
        "linux/s390x"
    };
    let p = Platform::parse(text).unwrap();
    let runs = slipway_builder::engine::check_emulator(
        &p,
        &host,
        Path::new(slipway_builder::engine::BINFMT_MISC),
    )
    .is_ok();
    (p, runs)
}

#[test]
fn run_for_a_platform_this_machine_cannot_run_is_refused_before_anything_is_built() {
    let (foreign, emulated) = foreign_platform();
    let tmp = tempfile::tempdir().unwrap();
    let werf = project(
        &tmp.path().join("p"),
        "FROM scratch AS files\nCOPY a.txt /a.txt\nFROM files AS tools\nRUN echo hi > /hi\n",
    );
    // A second image, planned only once `app` is built (it imports its name): its RUN is
    // found before `app` is built all the same.
    std::fs::write(
        tmp.path().join("p/Dockerfile.child"),
        "ARG BASE\nFROM ${BASE}\nRUN echo child > /child\n",
    )
    .unwrap();
    let cfg = slipway_werf::load(&werf).unwrap();
    let rec = Arc::new(Recorder::new(|_| {
        Ok(Finished::exited(125, "Error: recorded, not run\n"))
    }));
    let opts = BuildOptions {
        platforms: vec![host_platform(), foreign.clone()],
        ..options(&tmp.path().join("store"), None, Shared(rec.clone()))
    };
    let events = Events::default();
    let err = build(&cfg, &opts, &NoRegistry, &events).unwrap_err();
    let text = err.to_string();
    if emulated {
        // This machine runs the platform's programs: nothing is refused for it.
        assert!(!text.contains("this machine"), "{text}");
        return;
    }
    let p = foreign.to_string();
    assert!(err.is_bad_input(), "{text}");
    for needle in [
        "image `app`",
        "stage tools",
        &p,
        "line 4",
        "RUN",
        "binfmt_misc",
    ] {
        assert!(text.contains(needle), "{needle:?} is not in: {text}");
    }
    assert_eq!(rec.calls().len(), 0, "buildah was not run");
    assert_eq!(events.take(), Vec::<String>::new(), "nothing was built");

    // The image planned after its dependency is refused before the dependency is built.
    std::fs::write(
        &werf,
        "project: engine\nconfigVersion: 1\n---\nimage: base\ndockerfile: Dockerfile\ntarget: files\n---\nimage: child\ndockerfile: Dockerfile.child\ndependencies:\n- image: base\n  imports:\n  - type: ImageName\n    targetBuildArg: BASE\n",
    )
    .unwrap();
    let cfg = slipway_werf::load(&werf).unwrap();
    let err = build(&cfg, &opts, &NoRegistry, &events).unwrap_err();
    let text = err.to_string();
    assert!(err.is_bad_input(), "{text}");
    for needle in ["image `child`", "stage 0", &p, "line 3"] {
        assert!(text.contains(needle), "{needle:?} is not in: {text}");
    }
    assert_eq!(events.take(), Vec::<String>::new(), "`base` was not built");
    assert_eq!(rec.calls().len(), 0, "buildah was not run");

    // Without RUN, the foreign platform builds natively, and the image is an index of both.
    let report = build(
        &cfg,
        &BuildOptions {
            images: vec!["base".into()],
            ..opts.clone()
        },
        &NoRegistry,
        &events,
    )
    .unwrap();
    let base = &report.images["base"];
    assert_eq!(base.target_platform, "", "an index has no one platform");
    let by: Vec<&String> = report.images_by_platform["base"].keys().collect();
    let mut want = [
        slipway_builder::engine::normalize_platform(&host_platform()).to_string(),
        foreign.to_string(),
    ];
    want.sort();
    assert_eq!(by, want.iter().collect::<Vec<_>>());
    // The platforms' stages differ (the platform is in every digest).
    let digests: Vec<&String> = report.images_by_platform["base"]
        .values()
        .map(|r| &r.docker_tag)
        .collect();
    assert_ne!(digests[0], digests[1]);
    assert_eq!(rec.calls().len(), 0, "buildah was not run");
}

#[test]
fn a_dependency_must_be_built_for_the_platforms_of_the_images_that_import_from_it() {
    let (foreign, _) = foreign_platform();
    let tmp = tempfile::tempdir().unwrap();
    let werf = project(&tmp.path().join("p"), "FROM scratch\nCOPY a.txt /a.txt\n");
    std::fs::write(
        &werf,
        format!(
            "project: engine\nconfigVersion: 1\n---\nimage: base\ndockerfile: Dockerfile\n---\nimage: child\ndockerfile: Dockerfile\nplatform: [{foreign}]\ndependencies:\n- image: base\n  imports:\n  - type: ImageName\n    targetBuildArg: BASE\n"
        ),
    )
    .unwrap();
    let cfg = slipway_werf::load(&werf).unwrap();
    let opts = options(&tmp.path().join("store"), None, Shared::default());
    let events = Events::default();
    let err = build(&cfg, &opts, &NoRegistry, &events).unwrap_err();
    let text = err.to_string();
    assert!(err.is_bad_input(), "{text}");
    for needle in ["image `child`", &foreign.to_string(), "dependency `base`"] {
        assert!(text.contains(needle), "{needle:?} is not in: {text}");
    }
    assert_eq!(events.take(), Vec::<String>::new(), "nothing was built");
}
