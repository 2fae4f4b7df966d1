//! `--final-repo`, `--secondary-repo` and `--cache-repo` end to end: the sample app in
//! `examples/hello` built by the real binary with `--repo` in one TLS registry and the other
//! repository in a second one (the same test CA signs both), then checked with skopeo, the
//! registries' storage folders (every push writes there, reads never do) and the second
//! registry's access log.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use common::{Run, TlsRig, stage_digests, statuses, text, tree_state};
use serde_json::Value;
use slipway_testkit::{LeafKind, Registry};

/// The TLS rig (`--repo`'s registry) and a second registry with the same CA, logging every
/// request it answers.
struct Rig {
    base: TlsRig,
    other: Registry,
}

impl std::ops::Deref for Rig {
    type Target = TlsRig;
    fn deref(&self) -> &TlsRig {
        &self.base
    }
}

impl Rig {
    fn new() -> Rig {
        let mut base = TlsRig::new();
        let other = Registry::builder()
            .tls(&base.pki.server_cert(LeafKind::CaSigned))
            .access_log()
            .start();
        // Every run trusts the test CA for the second registry too.
        base.globals.push(format!(
            "--registry-ca={}={}",
            other.host(),
            base.pki.ca().display()
        ));
        Rig { base, other }
    }

    /// `localhost:PORT/name` in the second registry.
    fn other_repo(&self, name: &str) -> String {
        format!("{}/{name}", self.other.host())
    }

    /// Runs `slipway --output json build --dir DIR --store STORE --repo REPO EXTRA...`
    /// (STORE a folder name in the scratch folder), asserts it succeeded, and returns the
    /// run (its report on stdout).
    fn build(&self, dir: &Path, store: &str, repo: &str, extra: &[&str]) -> Run {
        let mut args = vec!["--repo", repo];
        args.extend_from_slice(extra);
        let run = self.build_json(dir, store, &args, &[]);
        assert_eq!(
            run.code, 0,
            "slipway build {extra:?} failed\nstderr:\n{}\nstdout:\n{}",
            run.stderr, run.stdout
        );
        run
    }

    /// The path, mtime and size of everything in the second registry's storage.
    fn other_storage(&self) -> BTreeMap<PathBuf, (SystemTime, u64)> {
        tree_state(&self.other.dir().join("data"))
    }
}

fn app(report: &Value) -> &Value {
    let app = &report["Images"]["app"];
    assert!(app.is_object(), "no image `app` in the report: {report:#}");
    app
}

/// The sorted set of `strings`.
fn sorted(strings: &[impl AsRef<str>]) -> Vec<String> {
    let mut v: Vec<String> = strings.iter().map(|s| s.as_ref().to_owned()).collect();
    v.sort();
    v.dedup();
    v
}

/// Asserts the second registry answered only reads since its `from`th request.
fn only_reads(rig: &Rig, from: usize, what: &str) {
    let writes: Vec<String> = rig
        .other
        .requests()
        .split_off(from)
        .into_iter()
        .filter(|r| !(r.starts_with("GET ") || r.starts_with("HEAD ")))
        .collect();
    assert!(
        writes.is_empty(),
        "{what}: the read-only registry was sent writes: {writes:#?}"
    );
}

#[test]
fn final_images_are_published_to_the_final_repo_and_named_there() {
    let rig = Rig::new();
    let dir = rig.example("hello");
    let stages_repo = rig.repo("stages");
    let final_repo = rig.other_repo("final");

    let first = rig.build(&dir, "store", &stages_repo, &["--final-repo", &final_repo]);
    let img = app(&first.json);
    let tag = text(img, "DockerTag").to_string();
    let digest = text(img, "DockerImageDigest").to_string();
    assert_eq!(img["DockerRepo"], final_repo.as_str(), "{img:#}");
    assert_eq!(
        img["DockerImageName"],
        format!("{final_repo}:{tag}").as_str(),
        "{img:#}"
    );
    assert_eq!(statuses(img), ["built", "built"]);
    assert!(
        first
            .stderr
            .contains(&format!("app {final_repo}:{tag} published")),
        "{}",
        first.stderr
    );
    // The final image is in the final repo under the report's tag, byte for byte; the
    // stages are in --repo only.
    assert_eq!(rig.digest_of(&format!("{final_repo}:{tag}")), digest);
    assert_eq!(rig.tags(&final_repo), std::slice::from_ref(&tag));
    let stages = stage_digests(img);
    assert_eq!(rig.tags(&stages_repo), sorted(&stages));
    assert_eq!(rig.digest_of(&format!("{stages_repo}:{tag}")), digest);

    // Again, as on a fresh machine: nothing is pushed anywhere, and the report is the same.
    let (here, there) = (rig.storage(), rig.other_storage());
    let again = rig.build(
        &dir,
        "fresh-store",
        &stages_repo,
        &["--final-repo", &final_repo],
    );
    let again_img = app(&again.json);
    assert_eq!(statuses(again_img), ["cached", "cached"]);
    for key in ["DockerRepo", "DockerImageName", "DockerImageDigest"] {
        assert_eq!(again_img[key], img[key], "{key}");
    }
    assert!(
        again.stderr.contains("published already"),
        "{}",
        again.stderr
    );
    rig.assert_nothing_pushed(&here, "an unchanged build with --final-repo");
    assert_eq!(
        rig.other_storage(),
        there,
        "an unchanged build wrote to the final repo"
    );

    // Custom tags go to the final repo, as the images' names do; WERF_FINAL_REPO works too.
    let store = rig.path("store");
    let ca = format!(
        "--registry-ca={}={}",
        rig.other.host(),
        rig.pki.ca().display()
    );
    let tagged = rig.slipway_env(
        &[
            &ca,
            "--output",
            "json",
            "build",
            "--dir",
            dir.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--repo",
            &stages_repo,
            "--add-custom-tag",
            "v1",
        ],
        &[("WERF_FINAL_REPO", &final_repo)],
    );
    assert_eq!(tagged.code, 0, "{}", tagged.stderr);
    assert_eq!(app(&tagged.json)["DockerRepo"], final_repo.as_str());
    assert_eq!(rig.digest_of(&format!("{final_repo}:v1")), digest);
    assert!(
        !rig.tags(&stages_repo).contains(&"v1".to_string()),
        "the custom tag went to --repo"
    );

    // render pins the final repo's image, and .Values.werf.repo names it.
    std::fs::write(
        dir.join(".helm/templates/repo.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: repo\ndata:\n  \
         repo: {{ .Values.werf.repo | quote }}\n",
    )
    .unwrap();
    let out = rig.slipway(&[
        "render",
        "--dir",
        dir.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--repo",
        &stages_repo,
        "--final-repo",
        &final_repo,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for want in [
        format!("image: {final_repo}@{digest}"),
        format!("repo: {final_repo}"),
    ] {
        assert!(out.stdout.contains(&want), "{want}:\n{}", out.stdout);
    }
    assert!(!out.stdout.contains(&stages_repo), "{}", out.stdout);

    // Without --repo there is nothing to publish from.
    let no_repo = rig.slipway(&[
        "build",
        "--dir",
        dir.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--final-repo",
        &final_repo,
    ]);
    assert_eq!(no_repo.code, 2, "{}", no_repo.stderr);
    assert!(
        no_repo.stderr.contains("--final-repo needs --repo"),
        "{}",
        no_repo.stderr
    );
}

#[test]
fn stages_in_a_secondary_repo_are_copied_to_repo_and_never_rebuilt() {
    let rig = Rig::new();
    let dir = rig.example("hello");
    // Another installation's --repo, in the second registry.
    let old = rig.other_repo("old");
    let built = rig.build(&dir, "old-store", &old, &[]);
    let built = app(&built.json).clone();
    let stages = stage_digests(&built);

    // A new --repo and an empty store: every stage comes from the secondary repo.
    let (there, requests) = (rig.other_storage(), rig.other.requests().len());
    let new = rig.repo("new");
    let copied = rig.build(&dir, "new-store", &new, &["--secondary-repo", &old]);
    let img = app(&copied.json);
    assert_eq!(statuses(img), ["copied", "copied"], "{img:#}");
    assert_eq!(img["Rebuilt"], false);
    assert_eq!(img["DockerRepo"], new.as_str());
    assert_eq!(img["DockerImageDigest"], built["DockerImageDigest"]);
    assert_eq!(stage_digests(img), stages);
    for d in &stages {
        assert!(
            copied.stderr.contains(&format!("{} copied", &d[..12])),
            "stage {d}: {}",
            copied.stderr
        );
    }
    assert!(!copied.stderr.contains("building"), "{}", copied.stderr);
    assert_eq!(rig.tags(&new), sorted(&stages));
    assert_eq!(
        rig.digest_of(&format!("{new}:{}", text(img, "DockerTag"))),
        text(&built, "DockerImageDigest")
    );
    // The secondary repo was read, never written to.
    assert!(rig.other.requests().len() > requests, "it was not read");
    assert_eq!(rig.other_storage(), there, "the secondary repo changed");
    only_reads(&rig, requests, "a build with --secondary-repo");

    // Once copied, the stages are --repo's: the secondary is not needed again.
    let here = rig.storage();
    let requests = rig.other.requests().len();
    let again = rig.build(&dir, "newer-store", &new, &["--secondary-repo", &old]);
    assert_eq!(statuses(app(&again.json)), ["cached", "cached"]);
    rig.assert_nothing_pushed(&here, "a build whose stages are in --repo");
    assert_eq!(
        rig.other.requests().len(),
        requests,
        "the secondary was read"
    );

    // WERF_SECONDARY_REPO_* is read too; a tagged repository is bad input.
    let bad = rig.slipway_env(
        &["build", "--dir", dir.to_str().unwrap(), "--repo", &new],
        &[("WERF_SECONDARY_REPO_OLD", "localhost:1/old:v1")],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr
            .contains("WERF_SECONDARY_REPO_OLD localhost:1/old:v1"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_cache_repo_gets_every_pushed_stage_and_feeds_a_new_repo() {
    let rig = Rig::new();
    let dir = rig.example("hello");
    let cache = rig.other_repo("cache");
    let main = rig.repo("main");

    // Stages pushed to --repo go to the cache too.
    let first = rig.build(&dir, "store", &main, &["--cache-repo", &cache]);
    let img = app(&first.json).clone();
    assert_eq!(statuses(&img), ["built", "built"]);
    let stages = stage_digests(&img);
    assert_eq!(rig.tags(&cache), sorted(&stages));
    assert_eq!(rig.tags(&main), sorted(&stages));

    // A new --repo is filled from the cache, nothing rebuilt.
    let other = rig.repo("other");
    let copied = rig.build(&dir, "fresh-store", &other, &["--cache-repo", &cache]);
    assert_eq!(statuses(app(&copied.json)), ["copied", "copied"]);
    assert_eq!(rig.tags(&other), sorted(&stages));

    // A change to the last stage only: it is built and pushed to both; the first stage,
    // needed to build on, is pulled from the cache (the store is empty).
    std::fs::write(dir.join("static/index.html"), "<p>changed</p>\n").unwrap();
    let requests = rig.other.requests().len();
    let changed = rig.build(&dir, "empty-store", &main, &["--cache-repo", &cache]);
    let changed = app(&changed.json);
    assert_eq!(statuses(changed), ["cached", "built"]);
    let new_stages = stage_digests(changed);
    assert_eq!(new_stages[0], stages[0]);
    let mut want = stages.clone();
    want.push(new_stages[1]);
    assert_eq!(rig.tags(&cache), sorted(&want));
    assert_eq!(rig.tags(&main), sorted(&want));
    let cache_path = cache.split_once('/').unwrap().1;
    let pulled: Vec<String> = rig
        .other
        .requests()
        .split_off(requests)
        .into_iter()
        .filter(|r| r.starts_with(&format!("GET /v2/{cache_path}/blobs/")))
        .collect();
    assert!(
        !pulled.is_empty(),
        "the first stage was not pulled from the cache: {:#?}",
        rig.other.requests()
    );

    // Without --repo, a cache repo has nothing to serve.
    let no_repo = rig.slipway(&[
        "build",
        "--dir",
        dir.to_str().unwrap(),
        "--cache-repo",
        &cache,
    ]);
    assert_eq!(no_repo.code, 2, "{}", no_repo.stderr);
    assert!(
        no_repo.stderr.contains("--cache-repo needs --repo"),
        "{}",
        no_repo.stderr
    );
}
