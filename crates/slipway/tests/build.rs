//! `slipway build` end to end: the sample app in `examples/hello`, and small werf projects
//! written here, built by the real binary into the real TLS registry (or the local OCI
//! store), then checked with skopeo and the tar CLI. Stages with `RUN` go through buildah.
//!
//! "Nothing was pushed" is checked on the registry's storage folder: every push (a blob
//! upload, a manifest or a tag) writes there, and reads never do, so the path, size and
//! mtime of every file and folder in it must stay the same.

mod common;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use common::{Run, TlsRig, stage_digests, stages, statuses, text};
use serde_json::{Value, json};
use slipway_testkit::oci_layout;

/// A werf.yaml with one image `app` from `Dockerfile` in the project folder.
const ONE_IMAGE: &str =
    "project: t\nconfigVersion: 1\n---\nimage: app\ndockerfile: Dockerfile\ncontext: .\n";

/// What a test needs around `slipway build`: the TLS registry rig, and a counter for
/// report file names.
struct Rig {
    base: TlsRig,
    counter: Cell<usize>,
}

impl std::ops::Deref for Rig {
    type Target = TlsRig;
    fn deref(&self) -> &TlsRig {
        &self.base
    }
}

impl Rig {
    fn new() -> Rig {
        Rig {
            base: TlsRig::new(),
            counter: Cell::new(0),
        }
    }

    fn next(&self) -> usize {
        self.counter.set(self.counter.get() + 1);
        self.counter.get()
    }

    /// Writes a project folder `name` holding `files` (paths relative to it).
    fn project(&self, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
        let dir = self.path(name);
        for (rel, bytes) in files {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        }
        dir
    }

    /// Runs `slipway --output json build --dir DIR --store STORE --report-path FILE
    /// [--repo REPO] EXTRA...` (STORE is a folder name in the scratch folder). When it
    /// succeeds, checks that the report file and stdout hold the same report.
    fn build(&self, dir: &Path, store: &str, repo: Option<&str>, extra: &[&str]) -> Run {
        self.build_env(dir, store, repo, extra, &[])
    }

    /// Like [`Rig::build`] with more environment variables (secrets' sources, an agent).
    /// When the build fails but left a report file, the file's text is appended to stdout,
    /// so that checks of stdout cover it too.
    fn build_env(
        &self,
        dir: &Path,
        store: &str,
        repo: Option<&str>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Run {
        let report = self.path(&format!("report-{}.json", self.next()));
        let mut args = vec!["--report-path", report.to_str().unwrap()];
        if let Some(r) = repo {
            args.extend(["--repo", r]);
        }
        args.extend_from_slice(extra);
        let mut run = self.build_json(dir, store, &args, env);
        if run.code == 0 {
            let text = std::fs::read_to_string(&report).unwrap_or_else(|e| {
                panic!(
                    "build exited 0 but wrote no report at {}: {e}",
                    report.display()
                )
            });
            let file: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("the report is not JSON ({e}): {text}"));
            assert_eq!(
                file, run.json,
                "--report-path and --output json must give the same report; stdout: {}",
                run.stdout
            );
        } else if let Ok(text) = std::fs::read_to_string(&report) {
            run.stdout.push_str("\n--- report file ---\n");
            run.stdout.push_str(&text);
        }
        run
    }

    /// Like [`Rig::build`], and asserts it succeeded; returns the report.
    fn built(&self, dir: &Path, store: &str, repo: Option<&str>, extra: &[&str]) -> Value {
        let run = self.build(dir, store, repo, extra);
        assert_eq!(
            run.code, 0,
            "slipway build failed\nstderr:\n{}\nstdout:\n{}",
            run.stderr, run.stdout
        );
        run.json
    }

    /// Copies `image` from the registry with skopeo into an OCI layout and unpacks it.
    fn pull(&self, image: &str) -> Rootfs {
        let n = self.next();
        let layout = self.path(&format!("pulled-{n}"));
        self.skopeo
            .copy(
                &format!("docker://{image}"),
                &format!("oci:{}:t", layout.display()),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        Rootfs::unpack(&layout, &self.path(&format!("rootfs-{n}")))
    }

    /// Pushes a one-layer image holding `files` to `image` with skopeo.
    fn push_image(&self, image: &str, files: &[(&str, &[u8])]) {
        let layout = oci_layout(&self.path(&format!("layout-{}", self.next())), "1", files);
        self.skopeo
            .copy(&layout.reference(), &format!("docker://{image}"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// One entry of a layer, as `tar --numeric-owner --full-time -tv` lists it.
#[derive(Debug)]
struct Entry {
    /// As `ls -l` shows it: `-rwxr-xr-x`.
    mode: String,
    /// `UID/GID`.
    owner: String,
    /// `YYYY-MM-DD HH:MM:SS`, UTC.
    mtime: String,
}

/// The files of an image: every layer listed (a later layer's entry wins) and extracted,
/// in order, into `root`.
struct Rootfs {
    entries: BTreeMap<String, Entry>,
    root: PathBuf,
}

impl Rootfs {
    /// Reads the one image of the OCI layout `layout` and unpacks its layers into `root`.
    fn unpack(layout: &Path, root: &Path) -> Rootfs {
        std::fs::create_dir_all(root).unwrap();
        let blob = |digest: &Value| {
            let d = digest.as_str().expect("a digest string");
            layout
                .join("blobs/sha256")
                .join(d.trim_start_matches("sha256:"))
        };
        let index = read_json(&layout.join("index.json"));
        let manifest = read_json(&blob(&index["manifests"][0]["digest"]));
        let layers = manifest["layers"]
            .as_array()
            .unwrap_or_else(|| panic!("a manifest without layers: {manifest:#}"));
        let mut entries = BTreeMap::new();
        for layer in layers {
            let file = blob(&layer["digest"]);
            let listing = tar(&[
                "--numeric-owner",
                "--full-time",
                "-tvf",
                file.to_str().unwrap(),
            ]);
            for line in listing.lines() {
                let words: Vec<&str> = line.split_whitespace().collect();
                assert!(words.len() >= 6, "unexpected tar listing line: {line:?}");
                let full = words[5..].join(" ");
                let name = full.split(" -> ").next().unwrap_or_default();
                let name = name.split(" link to ").next().unwrap_or_default();
                let name = name.trim_start_matches("./").trim_end_matches('/');
                if name.is_empty() || name == "." {
                    continue;
                }
                entries.insert(
                    name.to_string(),
                    Entry {
                        mode: words[0].to_string(),
                        owner: words[1].to_string(),
                        mtime: format!("{} {}", words[3], words[4]),
                    },
                );
            }
            tar(&[
                "--numeric-owner",
                "-xf",
                file.to_str().unwrap(),
                "-C",
                root.to_str().unwrap(),
            ]);
        }
        Rootfs {
            entries,
            root: root.to_path_buf(),
        }
    }

    fn entry(&self, path: &str) -> &Entry {
        self.entries.get(path).unwrap_or_else(|| {
            panic!(
                "the image has no {path}; it has: {:#?}",
                self.entries.keys().collect::<Vec<_>>()
            )
        })
    }

    fn read(&self, path: &str) -> String {
        self.entry(path);
        std::fs::read_to_string(self.root.join(path))
            .unwrap_or_else(|e| panic!("read {path} from the unpacked image: {e}"))
    }
}

/// Runs the tar CLI (in UTC, so listed times are comparable) and returns stdout.
fn tar(args: &[&str]) -> String {
    let out = Command::new("tar")
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("the tar CLI must be installed (Debian package tar)");
    assert!(
        out.status.success(),
        "tar {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} ({e}): {text}", path.display()))
}

/// Sets the mtime of everything under `dir` (and `dir` itself) to `epoch` seconds.
fn touch_all(dir: &Path, epoch: u64) {
    let out = Command::new("find")
        .arg(dir)
        .args(["-exec", "touch", "-h", "-d"])
        .arg(format!("@{epoch}"))
        .args(["{}", "+"])
        .output()
        .expect("find and touch (Debian findutils, coreutils)");
    assert!(
        out.status.success(),
        "touch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

// ---- reading the report -----------------------------------------------------------------

/// Returns `Images.<name>` of a build report.
fn image<'a>(report: &'a Value, name: &str) -> &'a Value {
    let img = &report["Images"][name];
    assert!(
        img.is_object(),
        "the report has no image {name:?}: {report:#}"
    );
    img
}

/// The backend that built each stage in this run (`-` for a stage not built).
fn stage_backends(img: &Value) -> Vec<&str> {
    stages(img)
        .iter()
        .map(|s| s["Backend"].as_str().unwrap_or("-"))
        .collect()
}

/// The static busybox the RUN tests put in their images (Debian package busybox-static).
fn busybox() -> Vec<u8> {
    std::fs::read("/bin/busybox").unwrap_or_else(|e| {
        panic!("/bin/busybox: {e}; install the Debian package busybox-static (scripts/setup)")
    })
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

// ---- tests --------------------------------------------------------------------------------

#[test]
fn example_app_builds_into_tls_registry() {
    let rig = Rig::new();
    let dir = rig.example("hello");
    let repo = rig.repo("hello");
    let report = rig.built(&dir, "store", Some(&repo), &[]);

    let app = image(&report, "app");
    assert_eq!(app["WerfImageName"], "app", "{app:#}");
    assert_eq!(app["DockerRepo"], repo.as_str(), "{app:#}");
    let tag = text(app, "DockerTag");
    assert!(is_hex64(tag), "DockerTag is not a 64-hex digest: {tag}");
    let image_ref = format!("{repo}:{tag}");
    assert_eq!(app["DockerImageName"], image_ref.as_str(), "{app:#}");
    let digest = text(app, "DockerImageDigest");
    assert!(
        digest.strip_prefix("sha256:").is_some_and(is_hex64),
        "DockerImageDigest: {digest}"
    );
    assert_eq!(app["Rebuilt"], true, "{app:#}");
    let st = stages(app);
    assert_eq!(st.len(), 2, "two Dockerfile stages: {app:#}");
    assert_eq!(
        (&st[0]["Index"], &st[0]["Name"]),
        (&json!(0), &json!("assets"))
    );
    assert_eq!((&st[1]["Index"], &st[1]["Name"]), (&json!(1), &Value::Null));
    assert_eq!(statuses(app), ["built", "built"]);
    for s in st {
        assert!(s["Seconds"].as_f64().is_some_and(|t| t >= 0.0), "{s:#}");
    }
    let digests = stage_digests(app);
    assert!(digests.iter().all(|d| is_hex64(d)), "{digests:?}");
    assert_ne!(digests[0], digests[1]);
    assert_eq!(digests[1], tag, "the image is its last stage");

    // skopeo, an independent client, sees the image and every stage under its digest.
    assert_eq!(rig.digest_of(&image_ref), digest);
    rig.digest_of(&format!("{repo}:{}", digests[0]));

    let cfg = rig.config(&image_ref);
    assert_eq!(cfg["created"], "1970-01-01T00:00:00Z", "{cfg:#}");
    let c = &cfg["config"];
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap_or_else(|| panic!("no Env: {cfg:#}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // GREETING comes from werf.yaml's `args:`, not the Dockerfile's default `hi`.
    for want in ["GREETING=hello", "HELLO_HOME=/srv/hello"] {
        assert!(env.contains(&want), "Env lacks {want}: {env:?}");
    }
    assert_eq!(c["Entrypoint"], json!(["/srv/hello/bin/hello.sh"]));
    assert_eq!(c["Cmd"], json!(["--port", "8080"]));
    assert_eq!(c["Labels"]["org.opencontainers.image.title"], "hello");
    assert_eq!(c["Labels"]["io.slipway.example.greeting"], "hello");
    assert_eq!(c["User"], "1000");
    assert_eq!(c["WorkingDir"], "/srv/hello");
    assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}}));
    assert_eq!(c["StopSignal"], "SIGTERM");
    let hc = &c["Healthcheck"];
    assert_eq!(
        hc["Test"],
        json!(["CMD", "/srv/hello/bin/hello.sh", "--check"]),
        "{cfg:#}"
    );
    assert_eq!(
        hc["Interval"], 30_000_000_000u64,
        "nanoseconds, as Docker writes it"
    );
    assert_eq!(hc["Timeout"], 3_000_000_000u64);

    // The `assets` stage, as --chmod and --chown made it.
    let assets = rig.pull(&format!("{repo}:{}", digests[0]));
    let (script, config) = (
        assets.entry("srv/hello/bin/hello.sh"),
        assets.entry("srv/hello/config.toml"),
    );
    assert_eq!(
        script.mode, "-rwxr-xr-x",
        "stage assets: --chmod=0755 on a 0644 file"
    );
    assert_eq!(config.owner, "1000/1000", "stage assets: --chown=1000:1000");

    let fs = rig.pull(&image_ref);
    let source = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
    assert_eq!(
        fs.read("etc/hello/motd"),
        "Welcome to hello, built by slipway.\n"
    );
    assert_eq!(fs.entry("etc/hello/motd").mode, "-rw-r--r--");
    let script = fs.entry("srv/hello/bin/hello.sh");
    assert_eq!(
        (script.mode.as_str(), script.owner.as_str()),
        ("-rwxr-xr-x", "0/0"),
        "--chmod=0755 on a 0644 file"
    );
    assert_eq!(fs.read("srv/hello/bin/hello.sh"), source("app/hello.sh"));
    let config = fs.entry("srv/hello/config.toml");
    assert_eq!(
        (config.mode.as_str(), config.owner.as_str()),
        ("-rw-r--r--", "1000/1000"),
        "COPY --from keeps the owner set in the source stage (as Docker does since moby#38599)"
    );
    assert_eq!(fs.read("srv/hello/config.toml"), source("app/config.toml"));
    assert_eq!(
        fs.read("srv/hello/static/index.html"),
        source("static/index.html")
    );
    assert_eq!(fs.entry("srv/hello/static/index.html").owner, "0/0");
    assert!(
        !fs.entries.contains_key("srv/hello/static/debug.log"),
        ".dockerignore excludes **/*.log"
    );
    for (path, e) in &fs.entries {
        assert_eq!(e.mtime, "1970-01-01 00:00:00", "{path}: mtime is not 0");
    }
}

#[test]
fn unchanged_rebuild_is_cached_and_pushes_nothing() {
    let rig = Rig::new();
    let dir = rig.example("hello");
    let repo = rig.repo("hello");
    let first = rig.built(&dir, "store", Some(&repo), &[]);
    let first = image(&first, "app");
    assert_eq!(statuses(first), ["built", "built"]);

    let before = rig.storage();
    // Again with the same store, and then as on a fresh machine whose store is empty:
    // the stages are found in --repo.
    for store in ["store", "fresh-store"] {
        let again = rig.built(&dir, store, Some(&repo), &[]);
        let again = image(&again, "app");
        assert_eq!(statuses(again), ["cached", "cached"], "[{store}] {again:#}");
        assert_eq!(again["Rebuilt"], false, "[{store}]");
        for key in ["DockerTag", "DockerImageName", "DockerImageDigest"] {
            assert_eq!(again[key], first[key], "[{store}] {key}");
        }
        assert_eq!(stage_digests(again), stage_digests(first), "[{store}]");
        rig.assert_nothing_pushed(&before, &format!("an unchanged rebuild with {store}"));
    }
}

#[test]
fn changing_a_file_rebuilds_only_the_stage_using_it() {
    let rig = Rig::new();
    let dir = rig.example("hello");
    let repo = rig.repo("hello");
    let build = || rig.built(&dir, "store", Some(&repo), &[]);
    let r0 = build();
    let d0: Vec<String> = stage_digests(image(&r0, "app"))
        .iter()
        .map(|d| d.to_string())
        .collect();

    // static/ is copied by the last stage only.
    std::fs::write(dir.join("static/index.html"), "<p>changed</p>\n").unwrap();
    let r1 = build();
    let app = image(&r1, "app");
    assert_eq!(statuses(app), ["cached", "built"], "{app:#}");
    assert_eq!(app["Rebuilt"], true);
    let d1 = stage_digests(app);
    assert_eq!(d1[0], d0[0], "the assets stage keeps its digest");
    assert_ne!(d1[1], d0[1], "the last stage gets a new digest");
    assert_eq!(
        rig.pull(text(app, "DockerImageName"))
            .read("srv/hello/static/index.html"),
        "<p>changed</p>\n"
    );

    // Files no COPY takes, or that .dockerignore excludes, change no digest.
    let before = rig.storage();
    for file in ["static/debug.log", "README.md"] {
        std::fs::write(dir.join(file), "changed\n").unwrap();
        let r = build();
        let app = image(&r, "app");
        assert_eq!(statuses(app), ["cached", "cached"], "after changing {file}");
        assert_eq!(stage_digests(app), d1, "after changing {file}");
        rig.assert_nothing_pushed(&before, &format!("after changing {file}"));
    }

    // A file of the first stage changes both: the last stage builds on the first.
    std::fs::write(dir.join("app/config.toml"), "port = 9090\n").unwrap();
    let r3 = build();
    let app = image(&r3, "app");
    assert_eq!(statuses(app), ["built", "built"], "{app:#}");
    let d3 = stage_digests(app);
    assert!(d3[0] != d1[0] && d3[1] != d1[1], "{d3:?} vs {d1:?}");
}

#[test]
fn moved_base_tag_rebuilds() {
    let rig = Rig::new();
    let base = rig.repo("base:1");
    rig.push_image(&base, &[("base/which.txt", b"first\n")]);
    let dockerfile = format!("FROM {base}\nCOPY hello.txt /hello.txt\n");
    let dir = rig.project(
        "moved",
        &[
            ("werf.yaml", ONE_IMAGE.as_bytes()),
            ("Dockerfile", dockerfile.as_bytes()),
            ("hello.txt", b"hello\n"),
        ],
    );
    let repo = rig.repo("moved");
    let build = || rig.built(&dir, "store", Some(&repo), &[]);

    let r1 = build();
    assert_eq!(statuses(image(&r1, "app")), ["built"]);
    let r2 = build();
    assert_eq!(
        statuses(image(&r2, "app")),
        ["cached"],
        "the base did not move"
    );
    let tag1 = text(image(&r1, "app"), "DockerTag").to_string();
    assert_eq!(image(&r2, "app")["DockerTag"], tag1.as_str());

    // Same tag, different image: werf would not notice, slipway does.
    rig.push_image(&base, &[("base/which.txt", b"second\n")]);
    let r3 = build();
    let app = image(&r3, "app");
    assert_eq!(statuses(app), ["built"], "the base tag moved: {app:#}");
    assert_ne!(
        text(app, "DockerTag"),
        tag1,
        "a moved base gives a new digest"
    );
    let fs = rig.pull(text(app, "DockerImageName"));
    assert_eq!(
        fs.read("base/which.txt"),
        "second\n",
        "built on the new base"
    );
    assert_eq!(fs.read("hello.txt"), "hello\n");
}

#[test]
fn chown_by_name_uses_the_accounts_of_the_stage() {
    let rig = Rig::new();
    let base = rig.repo("accounts:1");
    rig.push_image(
        &base,
        &[
            (
                "etc/passwd",
                b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
            ),
            ("etc/group", b"root:x:0:\napp:x:1001:\nstaff:x:50:app\n"),
        ],
    );
    let dockerfile = format!(
        "FROM scratch AS src\n\
         COPY a.txt /x.txt\n\
         FROM {base}\n\
         COPY --chown=app a.txt /a.txt\n\
         COPY --chown=app:staff a.txt /b.txt\n\
         COPY --from=src --chown=app:staff /x.txt /c.txt\n\
         COPY passwd /etc/passwd\n\
         COPY --chown=late:0 a.txt /d.txt\n"
    );
    let dir = rig.project(
        "accounts",
        &[
            ("werf.yaml", ONE_IMAGE.as_bytes()),
            ("Dockerfile", dockerfile.as_bytes()),
            ("a.txt", b"a\n"),
            (
                "passwd",
                b"root:x:0:0::/root:/bin/sh\nlate:x:2000:2001::/:/bin/sh\n",
            ),
        ],
    );
    let repo = rig.repo("accounts-app");
    let report = rig.built(&dir, "store", Some(&repo), &["--backend", "native"]);
    let fs = rig.pull(text(image(&report, "app"), "DockerImageName"));
    // A name alone takes the user's primary group, as BuildKit does.
    assert_eq!(fs.entry("a.txt").owner, "1000/1001");
    assert_eq!(fs.entry("b.txt").owner, "1000/50");
    assert_eq!(fs.entry("c.txt").owner, "1000/50", "COPY --from");
    // The stage's own earlier layer replaced /etc/passwd.
    assert_eq!(fs.entry("d.txt").owner, "2000/0");

    // What a layer stack's account files say is kept in the store and read from there by
    // later builds: a record edited to say uid 1234 is what the next build uses.
    let cache = rig.path("store/cache/accounts");
    let mut edited = 0;
    for f in std::fs::read_dir(&cache)
        .expect("the accounts cache")
        .flatten()
    {
        let text = std::fs::read_to_string(f.path()).unwrap();
        let mut records: Vec<Value> = serde_json::from_str(&text).unwrap();
        for r in &mut records {
            let Some(bytes) = r.get("found").and_then(Value::as_array) else {
                continue;
            };
            let bytes: Vec<u8> = bytes.iter().map(|b| b.as_u64().unwrap() as u8).collect();
            let passwd = String::from_utf8(bytes).unwrap();
            if passwd.contains("app:x:1000:") {
                *r = json!({ "found": passwd.replace("app:x:1000:", "app:x:1234:").into_bytes() });
                edited += 1;
            }
        }
        std::fs::write(f.path(), serde_json::to_vec(&records).unwrap()).unwrap();
    }
    assert!(edited > 0, "no cached record holds the base's /etc/passwd");
    let changed = rig.project("accounts", &[("a.txt", b"changed\n")]);
    let report = rig.built(&changed, "store", Some(&repo), &["--backend", "native"]);
    let fs = rig.pull(text(image(&report, "app"), "DockerImageName"));
    assert_eq!(fs.entry("a.txt").owner, "1234/1001", "read from the cache");

    // A name the image does not know fails the build and names it and the file.
    let bad = rig.project(
        "accounts-bad",
        &[
            ("werf.yaml", ONE_IMAGE.as_bytes()),
            (
                "Dockerfile",
                format!("FROM {base}\nCOPY --chown=nobody a.txt /a.txt\n").as_bytes(),
            ),
            ("a.txt", b"a\n"),
        ],
    );
    let run = rig.build(&bad, "store-bad", Some(&repo), &[]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr
            .contains("no `nobody` in the image's /etc/passwd"),
        "{}",
        run.stderr
    );
}

#[test]
fn add_unpacks_local_tar_archives() {
    let rig = Rig::new();
    let dir = rig.project(
        "add",
        &[
            ("werf.yaml", ONE_IMAGE.as_bytes()),
            (
                "Dockerfile",
                b"FROM scratch\n\
                  ADD tool.tar.gz /opt/\n\
                  ADD tool.tar /plain\n\
                  ADD --chown=7:8 tool.tar.gz /owned/\n\
                  ADD notes.gz docs/ /data/\n",
            ),
            ("src/tool/README", b"readme\n"),
            ("src/tool/bin/run", b"#!/bin/sh\n"),
            ("docs/inner.tar", b"not unpacked: only named sources are\n"),
        ],
    );
    let sh = |script: &str| {
        let out = Command::new("sh")
            .args(["-euc", script])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {out:?}");
    };
    sh("chmod 0755 src/tool/bin/run && ln -s bin/run src/tool/run");
    let tar_flags = "--owner=1234 --group=5678 --numeric-owner --mtime=@1600000000 -C src tool";
    sh(&format!(
        "tar -czf tool.tar.gz {tar_flags} && tar -cf tool.tar {tar_flags}"
    ));
    // A gzip that does not hold a tar is copied as it is, as BuildKit does.
    sh("printf 'just notes\\n' | gzip -c > notes.gz && rm -r src");

    let repo = rig.repo("add-app");
    let report = rig.built(&dir, "store", Some(&repo), &[]);
    let app = image(&report, "app");
    assert_eq!(text(app, "Backend"), "native", "{app:#}");
    let fs = rig.pull(text(app, "DockerImageName"));
    assert_eq!(fs.read("opt/tool/README"), "readme\n");
    assert_eq!(fs.entry("opt/tool/bin/run").mode, "-rwxr-xr-x");
    assert!(fs.entry("opt/tool/run").mode.starts_with('l'), "a symlink");
    assert_eq!(fs.read("plain/tool/README"), "readme\n", "a plain tar");
    assert_eq!(fs.entry("owned/tool/README").owner, "7/8", "--chown");
    assert_eq!(fs.entry("opt/tool/README").mtime, "2020-09-13 12:26:40");
    let notes = std::fs::read(fs.root.join("data/notes.gz")).unwrap();
    assert!(notes.starts_with(&[0x1f, 0x8b]), "notes.gz stays gzip");
    assert_eq!(
        fs.read("data/inner.tar"),
        "not unpacked: only named sources are\n"
    );
    // Extraction keeps the archive's owners when it may set owners, as root.
    let root = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    assert_eq!(
        root.ok(),
        Some(0),
        "this test checks kept owners and needs root (CI runs as root)"
    );
    assert_eq!(fs.entry("opt/tool/README").owner, "1234/5678");

    let again = rig.built(&dir, "store", Some(&repo), &[]);
    assert_eq!(statuses(image(&again, "app")), ["cached"]);
}

#[test]
fn same_inputs_in_two_folders_give_same_digests() {
    let rig = Rig::new();
    let one = rig.example("one");
    let two = rig.example("two/somewhere/else");
    touch_all(&one, 1_000_000_000);
    touch_all(&two, 1_700_000_000);
    assert_ne!(
        mtime(&one.join("static/index.html")),
        mtime(&two.join("static/index.html")),
        "precondition: the copies differ in mtime"
    );
    let a = rig.built(&one, "store-one", None, &[]);
    let b = rig.built(&two, "store-two", None, &[]);
    let (a, b) = (image(&a, "app"), image(&b, "app"));
    assert_eq!(statuses(a), ["built", "built"]);
    assert_eq!(
        statuses(b),
        ["built", "built"],
        "separate stores share nothing"
    );
    assert_eq!(a["DockerTag"], b["DockerTag"]);
    assert_eq!(a["DockerImageDigest"], b["DockerImageDigest"]);
    assert_eq!(stage_digests(a), stage_digests(b));
}

#[test]
fn builds_without_registry_into_local_store() {
    let rig = Rig::new();
    let dir = rig.example("hello");
    let before = rig.storage();
    let report = rig.built(&dir, "store", None, &[]);
    let app = image(&report, "app");
    let tag = text(app, "DockerTag");
    let name = text(app, "DockerImageName");
    let repo = text(app, "DockerRepo");
    assert!(repo.starts_with("oci:"), "DockerRepo: {repo}");
    assert_eq!(name, format!("{repo}:{tag}"));
    assert_eq!(statuses(app), ["built", "built"]);

    // The store is an OCI image layout with every stage tagged by its digest.
    let store = rig.path("store");
    let index = read_json(&store.join("index.json"));
    let tags: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("index.json: {index:#}"))
        .iter()
        .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .collect();
    for d in stage_digests(app) {
        assert!(tags.contains(&d), "the store lacks tag {d}: {tags:?}");
    }
    assert!(
        !rig.path("xdg/slipway").exists(),
        "--store was given, yet something went to $XDG_DATA_HOME/slipway"
    );
    rig.assert_nothing_pushed(&before, "a build without --repo");

    // skopeo reads the stored image, and slipway copies it to a registry unchanged.
    let digest = text(app, "DockerImageDigest");
    assert_eq!(
        rig.skopeo
            .manifest_digest(name)
            .unwrap_or_else(|e| panic!("{e}")),
        digest
    );
    let dest = rig.repo("x:1");
    let copy = rig.slipway(&["copy", name, &dest]);
    assert_eq!(copy.code, 0, "slipway copy: {}", copy.stderr);
    assert_eq!(rig.digest_of(&dest), digest);
}

#[test]
fn run_stage_builds_with_buildah() {
    let busybox = busybox();
    let version = Command::new("buildah").arg("--version").output();
    assert!(
        version.is_ok_and(|o| o.status.success()),
        "buildah must be installed (Debian package buildah, scripts/setup)"
    );
    let rig = Rig::new();
    // `base` is busybox on scratch, built natively; `app` runs busybox on top of it, and
    // gets the base's full name as a build arg through werf's `dependencies:`.
    let werf = "project: runner\nconfigVersion: 1\n---\n\
                image: base\ndockerfile: base.Dockerfile\ncontext: .\n---\n\
                image: app\ndockerfile: Dockerfile\ncontext: .\n\
                dependencies:\n- image: base\n  imports:\n  - type: ImageName\n    targetBuildArg: BASE\n";
    let dir = rig.project(
        "runner",
        &[
            ("werf.yaml", werf.as_bytes()),
            (
                "base.Dockerfile",
                b"FROM scratch\nCOPY --chmod=0755 busybox /bin/busybox\n",
            ),
            (
                "Dockerfile",
                b"ARG BASE\nFROM ${BASE}\n\
                  RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo made-by-run > /made\"]\n",
            ),
            ("busybox", &busybox),
        ],
    );
    let repo = rig.repo("runner");
    let report = rig.built(&dir, "store", Some(&repo), &[]);
    let base = image(&report, "base");
    let app = image(&report, "app");
    assert_eq!(statuses(base), ["built"]);
    assert_eq!(statuses(app), ["built"]);
    assert_eq!(app["Rebuilt"], true);

    let fs = rig.pull(text(app, "DockerImageName"));
    assert_eq!(fs.read("made"), "made-by-run\n", "what RUN made");
    assert_eq!(fs.entry("bin/busybox").mode, "-rwxr-xr-x");

    let before = rig.storage();
    let again = rig.built(&dir, "store", Some(&repo), &[]);
    assert_eq!(statuses(image(&again, "app")), ["cached"], "{again:#}");
    assert_eq!(
        image(&again, "app")["DockerImageDigest"],
        app["DockerImageDigest"]
    );
    rig.assert_nothing_pushed(&before, "an unchanged rebuild of a RUN stage");
}

/// A `RUN --mount=type=bind` of the context sees what `.dockerignore` lets through, as with
/// BuildKit, and exactly the files the stage's digest covers: a change to an ignored file
/// neither rebuilds the stage nor would have been visible to it.
#[test]
fn a_context_bind_mount_sees_only_what_dockerignore_lets_through() {
    let busybox = busybox();
    let rig = Rig::new();
    let dockerfile = b"FROM scratch AS tools\n\
        COPY --chmod=0755 busybox /bin/busybox\n\
        FROM tools\n\
        RUN --mount=type=bind,target=/ctx [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox ls -a /ctx /ctx/sub > /listing && /bin/busybox cat /ctx/sub/ok.txt > /ok && /bin/busybox stat -c %a /ctx/run.sh > /mode\"]\n";
    let dir = rig.project(
        "mount",
        &[
            ("werf.yaml", ONE_IMAGE.as_bytes()),
            ("Dockerfile", dockerfile),
            ("busybox", &busybox),
            (".dockerignore", b"secret.txt\nsub/*.log\n"),
            ("secret.txt", b"do not mount me\n"),
            ("sub/ok.txt", b"mounted v1\n"),
            ("sub/noise.log", b"log\n"),
            ("run.sh", b"#!/bin/sh\n"),
        ],
    );
    std::fs::set_permissions(
        dir.join("run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    let repo = rig.repo("mount");
    let run = rig.build(&dir, "store", Some(&repo), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The stage lines name who builds each stage; the image line says both take part.
    for line in [
        "app/tools",
        "building (native)",
        "building (buildah)",
        "(buildah for the stages with RUN, native for the others)",
    ] {
        assert!(run.stderr.contains(line), "no {line:?} in\n{}", run.stderr);
    }
    let first = run.json;
    let app = image(&first, "app");
    assert_eq!(statuses(app), ["built", "built"], "{first:#}");
    let fs = rig.pull(text(app, "DockerImageName"));
    let listing = fs.read("listing");
    assert!(
        listing.contains("busybox") && listing.contains("ok.txt") && listing.contains("run.sh"),
        "{listing}"
    );
    assert!(
        !listing.contains("secret.txt") && !listing.contains("noise.log"),
        "ignored files are mounted: {listing}"
    );
    assert_eq!(fs.read("ok"), "mounted v1\n");
    assert_eq!(fs.read("mode"), "750\n", "modes are kept");
    assert!(
        dir.join("secret.txt").is_file(),
        "the context itself is untouched"
    );

    // An ignored file changes: nothing to rebuild. A mounted one changes: the RUN reruns.
    std::fs::write(dir.join("secret.txt"), b"changed\n").unwrap();
    let again = rig.built(&dir, "store", Some(&repo), &[]);
    assert_eq!(
        statuses(image(&again, "app")),
        ["cached", "cached"],
        "{again:#}"
    );
    std::fs::write(dir.join("sub/ok.txt"), b"mounted v2\n").unwrap();
    let changed = rig.built(&dir, "store", Some(&repo), &[]);
    let app = image(&changed, "app");
    assert_eq!(statuses(app), ["cached", "built"], "{changed:#}");
    assert_eq!(
        rig.pull(text(app, "DockerImageName")).read("ok"),
        "mounted v2\n"
    );
}

/// A Dockerfile's own ignore file (`NAME.Dockerfile.dockerignore` beside it) wins over the
/// context's `.dockerignore`, as with BuildKit, and its patterns read as Docker reads them:
/// `[!a]` is a class holding `!` and `a`.
#[test]
fn a_dockerfiles_own_ignore_file_wins_over_the_contexts() {
    let rig = Rig::new();
    let werf =
        "project: t\nconfigVersion: 1\n---\nimage: app\ndockerfile: app.Dockerfile\ncontext: .\n";
    let dir = rig.project(
        "own-ignore",
        &[
            ("werf.yaml", werf.as_bytes()),
            ("app.Dockerfile", b"FROM scratch\nCOPY . /ctx/\n"),
            (".dockerignore", b"a.txt\n"),
            ("app.Dockerfile.dockerignore", b"b.txt\n[!a].md\n"),
            ("a.txt", b"a\n"),
            ("b.txt", b"b\n"),
            ("!.md", b"bang\n"),
            ("b.md", b"b\n"),
        ],
    );
    let repo = rig.repo("own-ignore");
    let report = rig.built(&dir, "store", Some(&repo), &[]);
    let fs = rig.pull(text(image(&report, "app"), "DockerImageName"));
    assert_eq!(
        fs.read("ctx/a.txt"),
        "a\n",
        "the context's .dockerignore was used"
    );
    assert_eq!(fs.read("ctx/b.md"), "b\n");
    for gone in ["ctx/b.txt", "ctx/!.md"] {
        assert!(
            !fs.entries.contains_key(gone),
            "{gone} is in the image: {:?}",
            fs.entries.keys().collect::<Vec<_>>()
        );
    }
}

/// A `RUN` stage on a base with a Docker schema 2 manifest: buildah reads OCI layouts only
/// through OCI manifests, so slipway stores the base for it under OCI media types.
#[test]
fn a_run_stage_starts_from_a_docker_schema2_base() {
    let busybox = busybox();
    let rig = Rig::new();
    let base_dir = rig.project(
        "base",
        &[
            ("werf.yaml", ONE_IMAGE.as_bytes()),
            (
                "Dockerfile",
                b"FROM scratch\nCOPY --chmod=0755 busybox /bin/busybox\n",
            ),
            ("busybox", &busybox),
        ],
    );
    let report = rig.built(&base_dir, "store-base", Some(&rig.repo("base")), &[]);
    let docker_base = rig.repo("docker-base:1");
    let certs = rig.skopeo_certs.display().to_string();
    let built_base = format!(
        "docker://{}",
        text(image(&report, "app"), "DockerImageName")
    );
    rig.skopeo
        .run(&[
            "copy",
            "--format=v2s2",
            "--src-cert-dir",
            &certs,
            "--dest-cert-dir",
            &certs,
            &built_base,
            &format!("docker://{docker_base}"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    let inspect = rig.slipway(&["--output", "json", "inspect", &docker_base]);
    assert_eq!(
        inspect.json["media_type"], "application/vnd.docker.distribution.manifest.v2+json",
        "{}",
        inspect.stdout
    );

    // Twice with one store: first the base is pulled (its tag names the Docker manifest),
    // then it is found there.
    for word in ["one", "two"] {
        let dockerfile = format!(
            "FROM {docker_base}\n\
             RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo {word} > /made\"]\n"
        );
        let dir = rig.project(
            word,
            &[
                ("werf.yaml", ONE_IMAGE.as_bytes()),
                ("Dockerfile", dockerfile.as_bytes()),
            ],
        );
        let report = rig.built(&dir, "store", Some(&rig.repo("app")), &[]);
        let app = image(&report, "app");
        assert_eq!(statuses(app), ["built"], "{report:#}");
        assert_eq!(stage_backends(app), ["buildah"]);
        let made = rig.pull(text(app, "DockerImageName")).read("made");
        assert_eq!(made, format!("{word}\n"));
    }
}

/// A `RUN` stage whose base is in a registry that requires a client certificate: slipway
/// pulls the base into the store through its own client (buildah cannot present one), and
/// buildah starts from the store.
#[test]
fn a_run_stage_starts_from_a_base_in_an_mtls_registry() {
    let busybox = busybox();
    let rig = Rig::new();
    let client = rig.pki.client_cert();
    let mtls = slipway_testkit::Registry::builder()
        .tls(&rig.pki.server_cert(slipway_testkit::LeafKind::CaSigned))
        .client_ca(&client.ca)
        .start();
    let ca_flag = format!("--registry-ca={}={}", mtls.host(), rig.pki.ca().display());
    let cert_flag = format!(
        "--registry-client-cert={}={},{}",
        mtls.host(),
        client.cert.display(),
        client.key.display()
    );
    let flags = [ca_flag.as_str(), cert_flag.as_str()];
    let werf = "project: mtls\nconfigVersion: 1\n---\n\
                image: base\ndockerfile: base.Dockerfile\ncontext: .\n---\n\
                image: app\ndockerfile: Dockerfile\ncontext: .\n\
                dependencies:\n- image: base\n  imports:\n  - type: ImageName\n    targetBuildArg: BASE\n";
    let project = |name: &str, word: &str| {
        let dockerfile = format!(
            "ARG BASE\nFROM ${{BASE}} AS tools\nFROM ${{BASE}}\n\
             COPY --from=tools /bin/busybox /tools/busybox\n\
             RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo {word} > /made\"]\n"
        );
        rig.project(
            name,
            &[
                ("werf.yaml", werf.as_bytes()),
                (
                    "base.Dockerfile",
                    b"FROM scratch\nCOPY --chmod=0755 busybox /bin/busybox\n",
                ),
                ("Dockerfile", dockerfile.as_bytes()),
                ("busybox", &busybox),
            ],
        )
    };
    let repo = format!("{}/mtls", mtls.host());
    // `tools`, a stage that only names an image of that registry, is how a RUN stage copies
    // from it: slipway builds (pulls) that stage natively.
    let check = |report: &Value, word: &str, tools: &str| {
        let app = image(report, "app");
        assert_eq!(statuses(app), [tools, "built"], "{report:#}");
        let native = if tools == "built" { "native" } else { "-" };
        assert_eq!(stage_backends(app), [native, "buildah"], "{report:#}");
        assert!(
            text(app, "DockerImageName").starts_with(&repo),
            "{report:#}"
        );
        let dest = rig.repo(&format!("mtls-{word}:1"));
        let mut args = flags.to_vec();
        args.extend(["copy", text(app, "DockerImageName"), &dest]);
        let copy = rig.slipway(&args);
        assert_eq!(copy.code, 0, "{}", copy.stderr);
        let fs = rig.pull(&dest);
        assert_eq!(fs.read("made"), format!("{word}\n"));
        assert_eq!(fs.entry("tools/busybox").mode, "-rwxr-xr-x");
    };
    // The base is built here, so its blobs are in the store already.
    let first = rig.built(&project("one", "one"), "store", Some(&repo), &flags);
    assert_eq!(statuses(image(&first, "base")), ["built"]);
    check(&first, "one", "built");
    // A new store: the base is only in the mTLS registry.
    let second = rig.built(&project("two", "two"), "store2", Some(&repo), &flags);
    assert_eq!(statuses(image(&second, "base")), ["cached"]);
    check(&second, "two", "cached");
}

/// With --repo, buildah builds each missing stage alone, on the stages it uses as pushed:
/// a `RUN` stage whose inputs did not change is not run again when a later stage changes.
#[test]
fn buildah_stages_are_cached_one_by_one() {
    let busybox = busybox();
    let rig = Rig::new();
    let werf = "project: stages\nconfigVersion: 1\n---\n\
                image: base\ndockerfile: base.Dockerfile\ncontext: .\n---\n\
                image: app\ndockerfile: Dockerfile\ncontext: .\n\
                dependencies:\n- image: base\n  imports:\n  - type: ImageName\n    targetBuildArg: BASE\n";
    // Stage 0 (`deps`) records a random stamp; stage 1 only copies; stage 2 uses stage 0 as
    // its base and mounts stage 1 (by name: buildah 1.28 resolves mounts only by name);
    // stage 3 copies from 2 by name and from 0 by number.
    let dockerfile = "ARG BASE\n\
        FROM ${BASE} AS deps\n\
        COPY deps.txt /deps.txt\n\
        RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox cp /deps.txt /installed && /bin/busybox head -c 16 /dev/urandom | /bin/busybox od -An -tx1 > /stamp\"]\n\
        FROM scratch AS src\n\
        COPY app.txt /app.txt\n\
        FROM deps AS app\n\
        RUN --mount=type=bind,from=src,target=/m [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox cat /installed /m/app.txt > /combined\"]\n\
        FROM scratch\n\
        COPY --from=app /combined /combined\n\
        COPY --from=0 /stamp /stamp\n";
    let files = |app: &'static [u8]| -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("werf.yaml", werf.as_bytes().to_vec()),
            (
                "base.Dockerfile",
                b"FROM scratch\nCOPY --chmod=0755 busybox /bin/busybox\n".to_vec(),
            ),
            ("Dockerfile", dockerfile.as_bytes().to_vec()),
            ("busybox", busybox.clone()),
            ("deps.txt", b"deps v1\n".to_vec()),
            ("app.txt", app.to_vec()),
        ]
    };
    let project = |app: &'static [u8]| {
        let f = files(app);
        let refs: Vec<(&str, &[u8])> = f.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        rig.project("stages", &refs)
    };
    let repo = rig.repo("stages");
    let dir = project(b"app v1\n");
    let first = rig.built(&dir, "store", Some(&repo), &[]);
    let app = image(&first, "app");
    assert_eq!(
        statuses(app),
        ["built", "built", "built", "built"],
        "{first:#}"
    );
    // `auto` hands buildah only the stages with RUN; the copying stages are built natively,
    // on top of (and mounted into) stages the other backend built.
    assert_eq!(
        stage_backends(app),
        ["buildah", "native", "buildah", "native"],
        "{first:#}"
    );
    assert_eq!(text(app, "Backend"), "buildah");
    let fs = rig.pull(text(app, "DockerImageName"));
    assert_eq!(fs.read("combined"), "deps v1\napp v1\n");
    let stamp = fs.read("stamp");
    assert!(!stamp.trim().is_empty());

    // A fresh store: the cached stage is pulled from the repo for buildah to start from.
    let dir = project(b"app v2\n");
    let second = rig.built(&dir, "store2", Some(&repo), &[]);
    let app2 = image(&second, "app");
    assert_eq!(
        statuses(app2),
        ["cached", "built", "built", "built"],
        "{second:#}"
    );
    assert_eq!(stage_backends(app2), ["-", "native", "buildah", "native"]);
    assert_eq!(stage_digests(app2)[0], stage_digests(app)[0]);
    let fs = rig.pull(text(app2, "DockerImageName"));
    assert_eq!(fs.read("combined"), "deps v1\napp v2\n");
    assert_eq!(
        fs.read("stamp"),
        stamp,
        "the deps stage's RUN did not run again"
    );

    // Without --repo, the stages come from the local store, and so does the base: werf's
    // dependency hands buildah its `oci:` name in the store. `--backend buildah` builds every
    // stage with buildah.
    let local = |app: &'static [u8]| {
        let f = files(app);
        let refs: Vec<(&str, &[u8])> = f.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        rig.project("local", &refs)
    };
    let before = rig.storage();
    let all_buildah: &[&str] = &["--backend", "buildah"];
    let one = rig.built(&local(b"app v1\n"), "store-local", None, all_buildah);
    assert_eq!(
        statuses(image(&one, "app")),
        ["built", "built", "built", "built"]
    );
    assert_eq!(stage_backends(image(&one, "app")), ["buildah"; 4]);
    let two = rig.built(&local(b"app v3\n"), "store-local", None, all_buildah);
    let app3 = image(&two, "app");
    assert_eq!(
        statuses(app3),
        ["cached", "built", "built", "built"],
        "{two:#}"
    );
    rig.assert_nothing_pushed(&before, "builds without --repo");
    let dest = rig.repo("local:1");
    let copy = rig.slipway(&["copy", text(app3, "DockerImageName"), &dest]);
    assert_eq!(copy.code, 0, "{}", copy.stderr);
    let fs = rig.pull(&dest);
    assert_eq!(fs.read("combined"), "deps v1\napp v3\n");
    let local_stamp = fs.read("stamp");
    let first_local = rig.slipway(&["copy", text(image(&one, "app"), "DockerImageName"), &dest]);
    assert_eq!(first_local.code, 0, "{}", first_local.stderr);
    assert_eq!(rig.pull(&dest).read("stamp"), local_stamp, "not run again");
}

/// An `ADD` of an archive only buildah unpacks makes `auto` choose buildah for the image.
#[test]
fn add_of_a_bzip2_archive_builds_with_buildah() {
    let rig = Rig::new();
    let dir = rig.project(
        "bzip2",
        &[
            ("werf.yaml", ONE_IMAGE.as_bytes()),
            ("Dockerfile", b"FROM scratch\nADD files.tar.bz2 /srv/\n"),
            ("files/hello.txt", b"hello from bzip2\n"),
        ],
    );
    let tar = Command::new("tar")
        .arg("-cjf")
        .arg(dir.join("files.tar.bz2"))
        .arg("-C")
        .arg(dir.join("files"))
        .arg("hello.txt")
        .status()
        .expect("tar (with bzip2: scripts/setup installs it)");
    assert!(tar.success(), "tar -cjf failed; is bzip2 installed?");
    let repo = rig.repo("bzip2");
    let report = rig.built(&dir, "store", Some(&repo), &[]);
    let app = image(&report, "app");
    assert_eq!(text(app, "Backend"), "buildah");
    let fs = rig.pull(text(app, "DockerImageName"));
    assert_eq!(fs.read("srv/hello.txt"), "hello from bzip2\n");
}

/// One bad-input case: name, werf.yaml, Dockerfile, extra flags, what stderr must say.
type BadCase<'a> = (&'a str, &'a str, &'a str, &'a [&'a str], &'a [&'a str]);

#[test]
fn bad_input_fails_clearly_and_pushes_nothing() {
    let rig = Rig::new();
    let repo = rig.repo("bad");
    let before = rig.storage();
    let stapel = |key: &str| {
        format!(
            "project: t\nconfigVersion: 1\n---\nimage: app\ndockerfile: Dockerfile\ncontext: .\n{key}"
        )
    };
    let git = stapel("git:\n- add: /\n  to: /app\n");
    let shell = stapel("shell:\n  install:\n  - echo hi\n");
    let good = "FROM scratch\nCOPY a.txt /a.txt\n";
    // (name, werf.yaml, Dockerfile, extra flags, what stderr must say; `{dir}` is the
    // project folder)
    let cases: [BadCase; 16] = [
        (
            "syntax",
            ONE_IMAGE,
            "FROM scratch\nCOPY a.txt /a.txt\n  FROBNICATE x\n",
            &[],
            &["line 3, column 3", "FROBNICATE", "{dir}/Dockerfile"],
        ),
        (
            "missing",
            ONE_IMAGE,
            "FROM scratch\nCOPY a.txt /a.txt\nCOPY missing.txt /missing.txt\n",
            &[],
            &["missing.txt", "not found"],
        ),
        (
            "from",
            ONE_IMAGE,
            "FROM scratch AS first\nCOPY a.txt /a.txt\nFROM scratch\nCOPY --from=nosuch /a.txt /a.txt\n",
            &[],
            &["nosuch", "first"],
        ),
        ("git", &git, good, &[], &["werf.yaml", "`git`"]),
        ("shell", &shell, good, &[], &["werf.yaml", "`shell`"]),
        (
            "yaml",
            "project: t\nconfigVersion: 1\n---\nimage: [app\n",
            good,
            &[],
            &["werf.yaml"],
        ),
        (
            "run-native",
            ONE_IMAGE,
            "FROM scratch\nCOPY a.txt /a.txt\nRUN echo hi\n",
            &["--backend", "native"],
            &["line 3", "RUN", "--backend buildah"],
        ),
        (
            "add-bzip2",
            ONE_IMAGE,
            "FROM scratch\nADD a.tar.bz2 /srv/\n",
            &["--backend", "native"],
            &["line 2", "a.tar.bz2", "bzip2", "--backend buildah"],
        ),
        (
            "add-url",
            ONE_IMAGE,
            "FROM scratch\nADD https://example.invalid/x.tgz /srv/\n",
            &[],
            &["line 2", "remote sources are not supported"],
        ),
        (
            "copy-pattern",
            ONE_IMAGE,
            "FROM scratch\nCOPY a[.txt /x/\n",
            &[],
            &["line 2", "a[.txt", "syntax error in pattern"],
        ),
        (
            "frontend",
            ONE_IMAGE,
            "# syntax=registry.example/frontends/custom:1\nFROM scratch\nCOPY a.txt /a.txt\n",
            &[],
            &["line 1", "cannot run the frontend", "custom:1"],
        ),
        (
            "compression-level",
            ONE_IMAGE,
            good,
            &["--compression-level", "99"],
            &["gzip level 99 is out of range (0-9)"],
        ),
        (
            "empty-base",
            ONE_IMAGE,
            "ARG B\nFROM ${B}\nCOPY a.txt /a.txt\n",
            &[],
            &[
                "{dir}/Dockerfile",
                "line 2",
                "FROM ${B}: the base name is empty",
            ],
        ),
        (
            "chown-range",
            ONE_IMAGE,
            "FROM scratch\nCOPY --chown=1:99999999999 a.txt /a.txt\n",
            &[],
            &["line 2", "99999999999 is not a valid user or group id"],
        ),
        (
            "user-range",
            ONE_IMAGE,
            "FROM scratch\nCOPY a.txt /a.txt\nUSER 99999999999\n",
            &[],
            &["line 3", "USER 99999999999"],
        ),
        (
            "chown-name",
            ONE_IMAGE,
            "FROM scratch\nCOPY --chown=www-data a.txt /a.txt\n",
            &[],
            &["line 2", "www-data", "no /etc/passwd", "numeric ids"],
        ),
    ];
    for (name, werf, dockerfile, extra, needles) in cases {
        let dir = rig.project(
            name,
            &[
                ("werf.yaml", werf.as_bytes()),
                ("Dockerfile", dockerfile.as_bytes()),
                ("a.txt", b"a\n"),
                ("a.tar.bz2", b"BZh91AY&SY"),
            ],
        );
        let run = rig.build(&dir, &format!("store-{name}"), Some(&repo), extra);
        assert_eq!(
            run.code, 2,
            "[{name}] bad input must exit 2\nstderr:\n{}\nstdout:\n{}",
            run.stderr, run.stdout
        );
        for n in needles {
            let n = n.replace("{dir}", dir.to_str().unwrap());
            assert!(
                run.stderr.contains(&n),
                "[{name}] stderr lacks {n:?}:\n{}",
                run.stderr
            );
        }
        common::assert_no_repeated_cause(&run.stderr);
        rig.assert_nothing_pushed(&before, &format!("[{name}]"));
    }
    // A `.dockerignore` Docker refuses: a malformed pattern, or a lone `!`.
    for (name, ignore, why) in [
        ("ignore-class", "ok\n[oops\n", "syntax error in pattern"),
        ("ignore-bang", "ok\n!\n", "illegal exclusion pattern"),
    ] {
        let dir = rig.project(
            name,
            &[
                ("werf.yaml", ONE_IMAGE.as_bytes()),
                ("Dockerfile", good.as_bytes()),
                ("a.txt", b"a\n"),
                (".dockerignore", ignore.as_bytes()),
            ],
        );
        let run = rig.build(&dir, &format!("store-{name}"), Some(&repo), &[]);
        assert_eq!(run.code, 2, "[{name}] {}", run.stderr);
        let place = format!("{}:2: {why}", dir.join(".dockerignore").display());
        assert!(
            run.stderr.contains(&place),
            "[{name}] no {place:?} in {}",
            run.stderr
        );
        rig.assert_nothing_pushed(&before, &format!("[{name}]"));
    }
    // A store that is a file.
    let file_store = rig.path("store-is-a-file");
    std::fs::write(&file_store, b"x").unwrap();
    let dir = rig.project(
        "file-store",
        &[
            ("werf.yaml", ONE_IMAGE.as_bytes()),
            ("Dockerfile", good.as_bytes()),
            ("a.txt", b"a\n"),
        ],
    );
    let run = rig.build(&dir, "store-is-a-file", Some(&repo), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("is not a folder"), "{}", run.stderr);
    assert_eq!(std::fs::read(&file_store).unwrap(), b"x");
    // No werf.yaml at all: the I/O error is said once.
    let empty = rig.path("no-project");
    std::fs::create_dir_all(&empty).unwrap();
    let run = rig.build(&empty, "store-none", Some(&repo), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    common::assert_stderr_has(&run, &["cannot read", "werf.yaml"]);
    assert_eq!(
        run.stderr.matches("No such file").count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn layer_format_options_are_part_of_the_digest_and_shape_the_layers() {
    let rig = Rig::new();
    let dir = rig.project(
        "fmt",
        &[
            ("werf.yaml", ONE_IMAGE.as_bytes()),
            ("Dockerfile", b"FROM scratch\nCOPY a.txt /a.txt\n"),
            ("a.txt", b"a\n"),
        ],
    );
    touch_all(&dir, 1_600_000_000);
    let manifest = |report: &Value, store: &str| -> Value {
        let digest = text(image(report, "app"), "DockerImageDigest");
        let hex = digest.strip_prefix("sha256:").unwrap();
        read_json(&rig.path(store).join("blobs/sha256").join(hex))
    };
    let gzip = rig.built(&dir, "s1", None, &[]);
    let zstd = rig.built(&dir, "s2", None, &["--compression", "zstd"]);
    let keep = rig.built(&dir, "s3", None, &["--keep-mtimes"]);
    let digests = [&gzip, &zstd, &keep].map(|r| stage_digests(image(r, "app"))[0].to_string());
    assert!(
        digests[0] != digests[1] && digests[0] != digests[2] && digests[1] != digests[2],
        "{digests:?}"
    );
    let layer = |r: &Value, store: &str| manifest(r, store)["layers"][0].clone();
    assert_eq!(
        layer(&gzip, "s1")["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(
        layer(&zstd, "s2")["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    // --keep-mtimes keeps the file's time; the default is the epoch.
    let blob = |r: &Value, store: &str| {
        let d = layer(r, store)["digest"].as_str().unwrap().to_string();
        rig.path(store)
            .join("blobs/sha256")
            .join(d.strip_prefix("sha256:").unwrap())
    };
    let listing = |p: PathBuf| tar(&["--full-time", "-tvzf", p.to_str().unwrap()]);
    assert!(
        listing(blob(&keep, "s3")).contains("2020-09-13"),
        "{}",
        listing(blob(&keep, "s3"))
    );
    assert!(listing(blob(&gzip, "s1")).contains("1970-01-01"));
}

/// Six builds at once into one store, as parallel CI jobs on one runner do: they share a
/// stage and each has its own; every stage of every report is in the store's index
/// afterwards, and each image is whole.
#[test]
fn six_parallel_builds_into_one_store_lose_no_stage() {
    let rig = Rig::new();
    let store = rig.path("shared-store");
    let dockerfile =
        b"FROM scratch AS base\nCOPY shared.txt /shared.txt\nFROM base\nCOPY own.txt /own.txt\n";
    let children: Vec<_> = (0..6)
        .map(|i| {
            let dir = rig.project(
                &format!("parallel-{i}"),
                &[
                    ("werf.yaml", ONE_IMAGE.as_bytes()),
                    ("Dockerfile", dockerfile),
                    ("shared.txt", b"the same in every project\n"),
                    ("own.txt", format!("project {i}\n").as_bytes()),
                ],
            );
            std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
                .args(["--certs-d", rig.path("no-certs").to_str().unwrap()])
                .args(["--output", "json", "build", "--dir", dir.to_str().unwrap()])
                .args(["--store", store.to_str().unwrap()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let reports: Vec<Value> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect();
    let index = read_json(&store.join("index.json"));
    let tags: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .collect();
    let mut wanted = std::collections::BTreeSet::new();
    for report in &reports {
        let app = image(report, "app");
        for d in stage_digests(app) {
            assert!(tags.contains(&d), "the store lost stage {d}: {tags:?}");
            wanted.insert(d.to_string());
        }
        // The image is whole: skopeo reads it from the store.
        let name = text(app, "DockerImageName");
        rig.skopeo
            .manifest_digest(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // One shared stage and six of their own.
    assert_eq!(wanted.len(), 7, "{wanted:?}");
    assert!(
        !std::fs::read_dir(store.join("blobs/sha256"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-")),
        "temporary files were left in the store"
    );
}

/// Files that are hard links of one another stay linked, and file capabilities
/// (`setcap`) are kept, through a COPY from the context and a `COPY --from` of another
/// stage, as BuildKit keeps them. GNU tar, unpacking the pushed image, is the judge.
#[test]
fn hard_links_and_file_capabilities_survive_copy_and_copy_from() {
    const NET_BIND_SERVICE_EP: [u8; 20] = [
        0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let rig = Rig::new();
    let dir = rig.project(
        "links-caps",
        &[
            ("werf.yaml", ONE_IMAGE.as_bytes()),
            (
                "Dockerfile",
                b"FROM scratch AS files\nCOPY bin/ /bin/\nFROM scratch\nCOPY --from=files /bin/ /opt/\n",
            ),
            ("bin/tool", b"#!/bin/sh\n"),
            ("bin/ping", b"ping"),
        ],
    );
    std::fs::hard_link(dir.join("bin/tool"), dir.join("bin/alias")).unwrap();
    slipway_layer::xattr::set_capability(&dir.join("bin/ping"), &NET_BIND_SERVICE_EP)
        .expect("setting a file capability needs root, which the tests run as");
    let repo = rig.repo("links-caps");
    let report = rig.built(&dir, "store", Some(&repo), &[]);
    let app = image(&report, "app");
    let layout = rig.path("links-caps-layout");
    rig.skopeo
        .copy(
            &format!("docker://{}", text(app, "DockerImageName")),
            &format!("oci:{}:t", layout.display()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let index = read_json(&layout.join("index.json"));
    let blob = |d: &Value| layout.join("blobs/sha256").join(&d.as_str().unwrap()[7..]);
    let manifest = read_json(&blob(&index["manifests"][0]["digest"]));
    let root = rig.path("links-caps-root");
    std::fs::create_dir_all(&root).unwrap();
    for l in manifest["layers"].as_array().unwrap() {
        let out = std::process::Command::new("tar")
            .args(["--xattrs", "--xattrs-include=security.capability", "-xpf"])
            .arg(blob(&l["digest"]))
            .arg("-C")
            .arg(&root)
            .output()
            .expect("GNU tar");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    use std::os::unix::fs::MetadataExt;
    let (a, t) = (
        std::fs::metadata(root.join("opt/alias")).unwrap(),
        std::fs::metadata(root.join("opt/tool")).unwrap(),
    );
    assert_eq!((a.ino(), a.nlink()), (t.ino(), 2), "the hard link was lost");
    assert_eq!(
        slipway_layer::xattr::capability(&root.join("opt/ping")).as_deref(),
        Some(&NET_BIND_SERVICE_EP[..]),
        "the file capability was lost"
    );
    // A capability is part of what the stage digest covers: changing it rebuilds.
    slipway_layer::xattr::set_capability(
        &dir.join("bin/ping"),
        &[
            0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    )
    .unwrap();
    let again = rig.built(&dir, "store", Some(&repo), &[]);
    assert_eq!(
        statuses(image(&again, "app")),
        ["built", "built"],
        "{again:#}"
    );
}

/// A base image's ONBUILD triggers run in the image built on it, first, with the child's
/// context, exactly once, and are not inherited: with the native backend (COPY and ENV
/// triggers) and with buildah (a RUN trigger).
#[test]
fn onbuild_triggers_of_a_base_image_run_in_the_child() {
    let busybox = busybox();
    let rig = Rig::new();
    let base = |name: &str, triggers: &str| {
        let dockerfile =
            format!("FROM scratch\nCOPY --chmod=0755 busybox /bin/busybox\n{triggers}");
        let dir = rig.project(
            name,
            &[
                ("werf.yaml", ONE_IMAGE.as_bytes()),
                ("Dockerfile", dockerfile.as_bytes()),
                ("busybox", &busybox),
            ],
        );
        let report = rig.built(&dir, &format!("store-{name}"), Some(&rig.repo(name)), &[]);
        let name = text(image(&report, "app"), "DockerImageName").to_string();
        let config = rig.config(&name);
        assert!(
            config["config"]["OnBuild"]
                .as_array()
                .is_some_and(|t| !t.is_empty()),
            "the base has no triggers: {config:#}"
        );
        name
    };
    let child = |name: &str, dockerfile: String| {
        let dir = rig.project(
            name,
            &[
                ("werf.yaml", ONE_IMAGE.as_bytes()),
                ("Dockerfile", dockerfile.as_bytes()),
                (
                    "marker.txt",
                    format!("from the {name} context\n").as_bytes(),
                ),
            ],
        );
        let report = rig.built(&dir, "store", Some(&rig.repo(name)), &[]);
        let app = image(&report, "app").clone();
        (app, report)
    };

    // Native: COPY and ENV triggers.
    let native_base = base(
        "onbuild-native",
        "ONBUILD COPY marker.txt /marker.txt\nONBUILD ENV FROM_TRIGGER=yes\n",
    );
    let (app, report) = child("child-native", format!("FROM {native_base}\nENV OWN=1\n"));
    assert_eq!(stage_backends(&app), ["native"], "{report:#}");
    let name = text(&app, "DockerImageName");
    assert_eq!(
        rig.pull(name).read("marker.txt"),
        "from the child-native context\n"
    );
    let config = rig.config(name);
    let env = config["config"]["Env"].to_string();
    assert!(
        env.contains("FROM_TRIGGER=yes") && env.contains("OWN=1"),
        "{env}"
    );
    assert!(
        config["config"].get("OnBuild").is_none_or(Value::is_null),
        "triggers are not inherited: {config:#}"
    );

    // buildah: a RUN trigger, before the child's own RUN, once.
    let run_base = base(
        "onbuild-run",
        "ONBUILD RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo trigger >> /ran\"]\n",
    );
    let (app, report) = child(
        "child-run",
        format!(
            "FROM {run_base}\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo child >> /ran\"]\n"
        ),
    );
    assert_eq!(stage_backends(&app), ["buildah"], "{report:#}");
    let name = text(&app, "DockerImageName");
    assert_eq!(rig.pull(name).read("ran"), "trigger\nchild\n");
    let config = rig.config(name);
    assert!(
        config["config"].get("OnBuild").is_none_or(Value::is_null),
        "triggers are not inherited: {config:#}"
    );
}

/// SIGINT in the middle of a build (while a layer blob is being written) removes that
/// run's temporary files and folders from the store, and the next build completes.
#[test]
fn an_interrupted_build_leaves_nothing_in_the_store() {
    let rig = Rig::new();
    let mut big = vec![0u8; 48 << 20];
    let mut x: u64 = 0x2545f4914f6cdd1d;
    for b in big.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let dir = rig.project(
        "interrupted",
        &[
            ("werf.yaml", ONE_IMAGE.as_bytes()),
            (
                "Dockerfile",
                b"FROM scratch AS a\nCOPY big.bin /big.bin\nFROM scratch\nCOPY --from=a /big.bin /copy.bin\n",
            ),
            ("big.bin", &big),
        ],
    );
    let store = rig.path("interrupted-store");
    let leftovers = || -> Vec<String> {
        let mut found = vec![];
        for (sub, prefix) in [
            ("blobs/sha256", ".tmp-"),
            ("tmp", ""),
            ("rootfs", ".extract-"),
        ] {
            if let Ok(rd) = std::fs::read_dir(store.join(sub)) {
                found.extend(
                    rd.flatten()
                        .map(|e| e.file_name().to_string_lossy().to_string())
                        .filter(|n| n.starts_with(prefix))
                        .map(|n| format!("{sub}/{n}")),
                );
            }
        }
        found
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["--certs-d", rig.path("no-certs").to_str().unwrap()])
        .args(["build", "--dir", dir.to_str().unwrap()])
        .args(["--store", store.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The proof that the signal lands mid-build: a blob is being written.
    let start = std::time::Instant::now();
    while leftovers().is_empty() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "the build never started writing"
        );
        assert!(child.try_wait().unwrap().is_none(), "the build ended early");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(leftovers(), Vec::<String>::new());
    // The next build runs from there and completes.
    let report = rig.built(&dir, "interrupted-store", None, &[]);
    assert_eq!(statuses(image(&report, "app")).len(), 2, "{report:#}");
}

/// A registry error met during a build is found in the error's causes as it is in a copy:
/// an untrusted certificate ends with the fix, and a credentials file that does not parse
/// is bad input (exit 2), not a failure.
#[test]
fn a_builds_registry_errors_carry_their_fix_and_exit_code() {
    let rig = Rig::new();
    let dir = rig.project(
        "untrusted",
        &[
            ("werf.yaml", ONE_IMAGE.as_bytes()),
            ("Dockerfile", b"FROM scratch\nCOPY a.txt /a.txt\n"),
            ("a.txt", b"a\n"),
        ],
    );
    let build = |env: &[(&str, &str)]| {
        common::slipway(
            &rig.path("no-certs"),
            &[
                "build",
                "--dir",
                dir.to_str().unwrap(),
                "--store",
                rig.path("untrusted-store").to_str().unwrap(),
                "--repo",
                &rig.repo("untrusted"),
            ],
            env,
        )
    };
    // No CA for the registry: the push fails with its fix.
    let r = build(&[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("\n  fix: pass --registry-ca {}=", rig.reg.host())),
        "{}",
        r.stderr
    );
    // A docker config that does not parse, met at the registry: bad input.
    let docker = rig.path("bad-docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("config.json"), b"{ not json").unwrap();
    let r = build(&[("DOCKER_CONFIG", docker.to_str().unwrap())]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("config.json"), "{}", r.stderr);
}

/// The runtime part (`config`) of the image config skopeo reads at `image`.
fn runtime_config(rig: &Rig, image: &str) -> Value {
    rig.config(image)["config"].clone()
}

/// The manifest skopeo reads at `image`, as it is in the registry.
fn raw_manifest(rig: &Rig, image: &str) -> Value {
    let out = rig.inspect_raw(image, &[]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("skopeo manifest ({e}): {out}"))
}

/// werf's `imageSpec` (with the meta document's `build.imageSpec`): every edit is in the
/// config of the pushed final image, a new config over the last stage's layers, tagged by a
/// digest of the stage and the edit; the stage keeps its own config; the same spec finds the
/// image again, a changed one makes another; an image built `FROM` it inherits the edits.
#[test]
fn werf_image_spec_edits_the_config_of_the_final_image() {
    let rig = Rig::new();
    let dockerfile: &[u8] = b"FROM scratch\nCOPY a.txt /a\n\
        ENV PATH=/usr/bin DEBUG=1 TEMP_A=x KEEP=k\n\
        LABEL beta=1 org.opencontainers.image.title=t keep=me x=gone\n\
        VOLUME /tmp /var/log\nEXPOSE 80\nUSER root\nWORKDIR /old\n\
        ENTRYPOINT [\"/old\"]\nCMD [\"old\"]\nSTOPSIGNAL SIGINT\nHEALTHCHECK NONE\n";
    let spec = |user: &str| {
        format!(
            "project: specs\nconfigVersion: 1\n\
             build:\n  imageSpec:\n    author: Global <g@x>\n    config:\n      \
             labels:\n        team: global\n      removeLabels: [x]\n\
             ---\nimage: app\ndockerfile: Dockerfile\ncontext: .\n\
             imageSpec:\n  author: Frontend <f@x>\n  clearHistory: true\n  config:\n    \
             labels:\n      app: frontend\n      '%project%-label': '%image%-image'\n    \
             removeLabels: [beta, '/^org\\.opencontainers\\..*$/']\n    \
             env:\n      PATH: ${{PATH}}:/app/bin\n      NODE_ENV: production\n    \
             removeEnv: [DEBUG, '/^TEMP_.*$/']\n    \
             volumes: [/data]\n    removeVolumes: [/tmp]\n    expose: ['8080/tcp', '443/tcp']\n    \
             user: {user}\n    cmd: [/usr/bin/start, --help]\n    entrypoint: [/bin/sh, -c]\n    \
             workingDir: /app\n    stopSignal: SIGTERM\n    \
             healthcheck:\n      test: [CMD, /bin/check]\n      interval: 30\n      timeout: 5\n      \
             startperiod: 2\n      retries: 3\n\
             ---\nimage: child\ndockerfile: child.Dockerfile\ncontext: .\n\
             dependencies:\n- from: app\n  imports:\n  - type: ImageName\n    targetBuildArg: BASE\n"
        )
    };
    let dir = rig.project(
        "specs",
        &[
            ("werf.yaml", spec("node").as_bytes()),
            ("Dockerfile", dockerfile),
            (
                "child.Dockerfile",
                b"ARG BASE\nFROM ${BASE}\nCOPY b.txt /b\n",
            ),
            ("a.txt", b"a\n"),
            ("b.txt", b"b\n"),
        ],
    );
    let repo = rig.repo("specs");
    let report = rig.built(&dir, "s1", Some(&repo), &[]);
    let app = image(&report, "app");
    let stage = *stage_digests(app).last().unwrap();
    let tag = text(app, "DockerTag");
    assert!(
        is_hex64(tag) && tag != stage,
        "the final image has a tag of its own: {app:#}"
    );
    assert_eq!(text(app, "DockerImageName"), format!("{repo}:{tag}"));
    assert_eq!(app["Rebuilt"], true);
    assert_eq!(app["Final"], true);
    assert_eq!(
        rig.digest_of(text(app, "DockerImageName")),
        text(app, "DockerImageDigest")
    );

    let full = rig.config(text(app, "DockerImageName"));
    assert_eq!(full["author"], "Frontend <f@x>", "the image's author wins");
    assert!(full.get("history").is_none(), "clearHistory: {full:#}");
    let manifest = raw_manifest(&rig, text(app, "DockerImageName"));
    assert_eq!(manifest["config"]["digest"], app["DockerImageID"]);
    let c = &full["config"];
    assert_eq!(
        c["Labels"],
        json!({"app": "frontend", "keep": "me", "specs-label": "app-image", "team": "global"}),
        "labels added (templates rendered, the meta document's too), removed by name and \
         by /regex/ (the meta document's removeLabels too)"
    );
    assert_eq!(
        c["Env"],
        json!(["PATH=/usr/bin:/app/bin", "KEEP=k", "NODE_ENV=production"]),
        "${{PATH}} expanded from the image's own; DEBUG and TEMP_* removed"
    );
    assert_eq!(c["Volumes"], json!({"/data": {}, "/var/log": {}}));
    assert_eq!(c["ExposedPorts"], json!({"443/tcp": {}, "8080/tcp": {}}));
    assert_eq!(c["User"], "node");
    assert_eq!(c["Cmd"], json!(["/usr/bin/start", "--help"]));
    assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c"]));
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["StopSignal"], "SIGTERM");
    assert_eq!(
        c["Healthcheck"],
        json!({"Test": ["CMD", "/bin/check"], "Interval": 30_000_000_000u64,
               "Timeout": 5_000_000_000u64, "StartPeriod": 2_000_000_000u64, "Retries": 3})
    );
    // The same layers as the last stage, whose own config is as the Dockerfile made it.
    let stage_ref = format!("{repo}:{stage}");
    assert_eq!(raw_manifest(&rig, &stage_ref)["layers"], manifest["layers"]);
    let stage_config = rig.config(&stage_ref);
    assert_eq!(stage_config["config"]["User"], "root");
    assert_eq!(stage_config["rootfs"], full["rootfs"]);
    assert!(stage_config.get("history").is_some());
    assert_eq!(rig.pull(text(app, "DockerImageName")).read("a"), "a\n");

    // A dependent image gets the final image: its ImageName, and what FROM it inherits.
    let child = image(&report, "child");
    let cc = runtime_config(&rig, text(child, "DockerImageName"));
    assert_eq!(cc["User"], "node");
    assert_eq!(cc["Env"][0], "PATH=/usr/bin:/app/bin");
    assert_eq!(cc["Labels"]["app"], "frontend");

    // The same spec again: found, nothing pushed.
    let before = rig.storage();
    let again = rig.built(&dir, "s1", Some(&repo), &[]);
    rig.assert_nothing_pushed(&before, "the same imageSpec again");
    assert_eq!(
        image(&again, "app")["DockerImageDigest"],
        app["DockerImageDigest"]
    );
    assert_eq!(image(&again, "app")["Rebuilt"], false);
    assert!(
        again["Images"]["app"]["Stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["Status"] == "cached")
    );

    // From a fresh store, found in --repo alone.
    let fresh = rig.built(&dir, "s2", Some(&repo), &[]);
    assert_eq!(
        image(&fresh, "app")["DockerImageDigest"],
        app["DockerImageDigest"]
    );
    assert_eq!(image(&fresh, "app")["DockerImageID"], app["DockerImageID"]);

    // A changed imageSpec: the stages are cached, the final image is new, from a store
    // that holds no stage (its layers stay in the repository).
    std::fs::write(dir.join("werf.yaml"), spec("1000:1000")).unwrap();
    let changed = rig.built(&dir, "s3", Some(&repo), &[]);
    let app2 = image(&changed, "app");
    assert_eq!(statuses(app2), ["cached"]);
    assert_eq!(app2["Rebuilt"], true, "the imageSpec image was made");
    assert_ne!(text(app2, "DockerTag"), tag);
    assert_eq!(*stage_digests(app2).last().unwrap(), stage);
    assert_eq!(
        runtime_config(&rig, text(app2, "DockerImageName"))["User"],
        "1000:1000"
    );
    assert_eq!(
        rig.digest_of(&format!("{repo}:{tag}")),
        text(app, "DockerImageDigest"),
        "the earlier final image is still there"
    );
    // The child, built FROM app, follows it.
    let child2 = image(&changed, "child");
    assert_ne!(child2["DockerImageDigest"], child["DockerImageDigest"]);
    assert_eq!(
        runtime_config(&rig, text(child2, "DockerImageName"))["User"],
        "1000:1000"
    );

    // Without --repo: into the store, the config blob as edited.
    let local = rig.built(&dir, "s4", None, &["app"]);
    let lapp = image(&local, "app");
    let blobs = rig.path("s4").join("blobs/sha256");
    let manifest =
        read_json(&blobs.join(text(lapp, "DockerImageDigest").trim_start_matches("sha256:")));
    let config = read_json(
        &blobs.join(
            manifest["config"]["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:"),
        ),
    );
    assert_eq!(config["config"]["User"], "1000:1000");
    assert_eq!(
        config["config"],
        runtime_config(&rig, text(app2, "DockerImageName"))
    );
    assert_eq!(
        lapp["DockerTag"], app2["DockerTag"],
        "the same tag anywhere"
    );
}

/// What `imageSpec` cannot be given exactly is refused before anything is built or pushed.
#[test]
fn werf_image_spec_that_cannot_be_honoured_exits_2() {
    let rig = Rig::new();
    let dir = rig.project(
        "badspec",
        &[
            ("Dockerfile", b"FROM scratch\nCOPY a.txt /a\n"),
            ("a.txt", b"a\n"),
        ],
    );
    let repo = rig.repo("badspec");
    let before = rig.storage();
    for (image_extra, says) in [
        (
            "imageSpec:\n  config:\n    healthcheck:\n      startPeriod: 3\n",
            "`startperiod`",
        ),
        (
            "imageSpec:\n  config:\n    removeEnv: ['/\\w+/']\n",
            "ASCII-only",
        ),
        (
            "imageSpec:\n  config:\n    env:\n      A: '\"open'\n",
            "imageSpec.config.env.A",
        ),
        (
            "imageSpec:\n  config:\n    labels:\n      cpu: 100%\n",
            "not closed",
        ),
    ] {
        std::fs::write(dir.join("werf.yaml"), werf_with("", image_extra)).unwrap();
        let run = rig.build(&dir, "bad-store", Some(&repo), &[]);
        assert_eq!(run.code, 2, "{image_extra}\nstderr:\n{}", run.stderr);
        assert!(run.stderr.contains(says), "{image_extra}: {}", run.stderr);
    }
    rig.assert_nothing_pushed(&before, "refused imageSpec");
}

/// werf's `final: false`: the image is built and reported (`Final: false`) for the images
/// that depend on it, gets no custom tag and not the meta document's imageSpec.
#[test]
fn werf_final_false_builds_the_image_without_publishing_it() {
    let rig = Rig::new();
    let werf = "project: fin\nconfigVersion: 1\n\
                build:\n  imageSpec:\n    config:\n      labels:\n        global: 'yes'\n\
                ---\nimage: builder\nfinal: false\ndockerfile: builder.Dockerfile\ncontext: .\n\
                ---\nimage: app\ndockerfile: Dockerfile\ncontext: .\n\
                dependencies:\n- from: builder\n  imports:\n  - type: ImageName\n    targetBuildArg: B\n";
    let dir = rig.project(
        "fin",
        &[
            ("werf.yaml", werf.as_bytes()),
            ("builder.Dockerfile", b"FROM scratch\nCOPY a.txt /built\n"),
            (
                "Dockerfile",
                b"ARG B\nFROM ${B} AS b\nFROM scratch\nCOPY --from=b /built /app/built\n",
            ),
            ("a.txt", b"made by the builder\n"),
        ],
    );
    let repo = rig.repo("fin");
    // `latest` for every image would clash; it is for the one final image only.
    let report = rig.built(
        &dir,
        "store",
        Some(&repo),
        &[
            "--add-custom-tag",
            "latest",
            "--add-custom-tag",
            "%image%-v1",
        ],
    );
    let builder = image(&report, "builder");
    let app = image(&report, "app");
    assert_eq!(
        (builder["Final"].clone(), app["Final"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(
        rig.pull(text(app, "DockerImageName")).read("app/built"),
        "made by the builder\n",
        "the intermediate image was built for its dependent"
    );
    assert_eq!(
        rig.digest_of(text(builder, "DockerImageName")),
        text(builder, "DockerImageDigest")
    );
    let listed = rig
        .skopeo
        .list_tags(&repo)
        .unwrap_or_else(|e| panic!("{e}"));
    let custom: Vec<&str> = listed
        .iter()
        .map(String::as_str)
        .filter(|t| !is_hex64(t))
        .collect();
    assert_eq!(custom, ["app-v1", "latest"], "no custom tag for `builder`");
    assert_eq!(
        rig.digest_of(&format!("{repo}:latest")),
        text(app, "DockerImageDigest")
    );
    // build.imageSpec applies to final images only.
    let labels = |img: &Value| runtime_config(&rig, text(img, "DockerImageName"))["Labels"].clone();
    assert_eq!(labels(app)["global"], "yes");
    assert!(
        labels(builder).get("global").is_none(),
        "{:#}",
        labels(builder)
    );
}

/// werf refuses `targetEnv` in a Dockerfile image; the refusal names the Dockerfile way,
/// which puts the dependency's name in the image's environment.
#[test]
fn werf_target_env_is_refused_and_its_dockerfile_equivalent_sets_the_env() {
    let rig = Rig::new();
    let werf = |target: &str| {
        format!(
            "project: tenv\nconfigVersion: 1\n---\nimage: base\ndockerfile: base.Dockerfile\n\
             context: .\n---\nimage: app\ndockerfile: Dockerfile\ncontext: .\n\
             dependencies:\n- from: base\n  imports:\n  - type: ImageName\n    {target}: BASE_NAME\n"
        )
    };
    let dir = rig.project(
        "tenv",
        &[
            ("werf.yaml", werf("targetEnv").as_bytes()),
            ("base.Dockerfile", b"FROM scratch\nCOPY a.txt /a\n"),
            (
                "Dockerfile",
                b"FROM scratch\nARG BASE_NAME\nENV BASE_NAME=$BASE_NAME\nCOPY a.txt /a\n",
            ),
            ("a.txt", b"a\n"),
        ],
    );
    let repo = rig.repo("tenv");
    let before = rig.storage();
    let run = rig.build(&dir, "store", Some(&repo), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for says in [
        "targetEnv",
        "cannot be used for a Dockerfile image",
        "`ARG NAME` then `ENV NAME=$NAME`",
    ] {
        assert!(run.stderr.contains(says), "{says}: {}", run.stderr);
    }
    rig.assert_nothing_pushed(&before, "targetEnv");
    std::fs::write(dir.join("werf.yaml"), werf("targetBuildArg")).unwrap();
    let report = rig.built(&dir, "store", Some(&repo), &[]);
    let name = text(image(&report, "base"), "DockerImageName").to_string();
    let env = runtime_config(&rig, text(image(&report, "app"), "DockerImageName"))["Env"].clone();
    assert_eq!(env, json!([format!("BASE_NAME={name}")]), "{env:#}");
}

/// A werf.yaml whose meta document is `meta_extra`-extended and whose image `app` has
/// `image_extra` keys.
fn werf_with(meta_extra: &str, image_extra: &str) -> String {
    format!(
        "project: t\nconfigVersion: 1\n{meta_extra}---\nimage: app\ndockerfile: Dockerfile\ncontext: .\n{image_extra}"
    )
}

/// werf's `cacheVersion`: the image's own, else `build.cacheVersion`, is part of every stage
/// digest, so a new value rebuilds every stage and the same value finds them again.
#[test]
fn werf_cache_version_rebuilds_every_stage_when_it_changes() {
    let rig = Rig::new();
    let dockerfile: &[u8] = b"FROM scratch AS one\nCOPY a.txt /a\nFROM one\nLABEL x=y\n";
    let dir = rig.project("cachever", &[("Dockerfile", dockerfile), ("a.txt", b"a\n")]);
    let build = |meta: &str, image: &str| {
        std::fs::write(dir.join("werf.yaml"), werf_with(meta, image)).unwrap();
        let report = rig.built(&dir, "store", None, &[]);
        let app = image_of(&report);
        (
            statuses(&app)
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
            stage_digests(&app)
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
    };
    fn image_of(report: &Value) -> Value {
        image(report, "app").clone()
    }
    let (st, none) = build("", "");
    assert_eq!(st, ["built", "built"]);
    let (st, g1) = build("build:\n  cacheVersion: g1\n", "");
    assert_eq!(st, ["built", "built"], "setting it rebuilds every stage");
    assert!(g1[0] != none[0] && g1[1] != none[1], "{g1:?} {none:?}");
    let (st, again) = build("build:\n  cacheVersion: g1\n", "");
    assert_eq!((st, &again), (vec!["cached".into(), "cached".into()], &g1));
    let (st, g2) = build("build:\n  cacheVersion: g2\n", "");
    assert_eq!(st, ["built", "built"], "changing it rebuilds every stage");
    assert!(g2[0] != g1[0] && g2[1] != g1[1]);
    // The image's own value wins over the meta document's, whatever that is.
    let (st, own) = build("build:\n  cacheVersion: g2\n", "cacheVersion: mine\n");
    assert_eq!(st, ["built", "built"]);
    let (st, own_again) = build("build:\n  cacheVersion: g3\n", "cacheVersion: mine\n");
    assert_eq!(
        (st, &own_again),
        (vec!["cached".into(), "cached".into()], &own)
    );
    let (_, own_alone) = build("", "cacheVersion: mine\n");
    assert_eq!(own_alone, own);
}

/// werf's `ImageID` import: the dependent image's build arg is the dependency's image ID,
/// the digest of its config, also reported as `DockerImageID`; found again from `--repo`
/// alone when nothing is rebuilt.
#[test]
fn werf_image_id_import_passes_the_dependencys_config_digest() {
    let rig = Rig::new();
    let werf = "project: t\nconfigVersion: 1\n---\n\
                image: base\ndockerfile: base.Dockerfile\ncontext: .\n---\n\
                image: app\ndockerfile: Dockerfile\ncontext: .\n\
                dependencies:\n- image: base\n  imports:\n  - type: ImageID\n    targetBuildArg: BASE_ID\n  \
                - type: ImageDigest\n    targetBuildArg: BASE_DIGEST\n";
    let dir = rig.project(
        "imageid",
        &[
            ("werf.yaml", werf.as_bytes()),
            ("base.Dockerfile", b"FROM scratch\nCOPY a.txt /a\n"),
            (
                "Dockerfile",
                b"FROM scratch\nARG BASE_ID\nARG BASE_DIGEST\n\
                  LABEL base-id=${BASE_ID} base-digest=${BASE_DIGEST}\n",
            ),
            ("a.txt", b"a\n"),
        ],
    );
    let repo = rig.repo("imageid");
    let report = rig.built(&dir, "s1", Some(&repo), &[]);
    let base = image(&report, "base");
    let id = text(base, "DockerImageID");
    // The config digest, read from the stored manifest and checked against the blob itself.
    let manifest_hex = text(base, "DockerImageDigest")
        .strip_prefix("sha256:")
        .unwrap();
    let blobs = rig.path("s1").join("blobs/sha256");
    let manifest = read_json(&blobs.join(manifest_hex));
    assert_eq!(manifest["config"]["digest"], id, "{manifest:#}");
    let config_blob = blobs.join(id.strip_prefix("sha256:").unwrap());
    let sum = Command::new("sha256sum")
        .arg(&config_blob)
        .output()
        .unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout);
    assert_eq!(format!("sha256:{}", &sum[..64]), id);
    assert_ne!(
        id,
        text(base, "DockerImageDigest"),
        "an ID is not a manifest digest"
    );

    let app = image(&report, "app");
    let labels = &rig.config(text(app, "DockerImageName"))["config"]["Labels"];
    assert_eq!(labels["base-id"], id, "{labels:#}");
    assert_eq!(labels["base-digest"], base["DockerImageDigest"]);

    // From a fresh store, every stage is found in --repo; the ID is read from there.
    let again = rig.built(&dir, "s2", Some(&repo), &[]);
    assert_eq!(image(&again, "base")["DockerImageID"], id);
    assert_eq!(statuses(image(&again, "app")), ["cached"]);
    assert_eq!(
        image(&again, "app")["DockerImageID"],
        app["DockerImageID"],
        "{again:#}"
    );
}

/// werf's `addHost` reaches the `/etc/hosts` of `RUN` steps and is part of their digest;
/// `network: host` is passed on, is not part of the digest, and a mode buildah's chroot
/// isolation cannot give is refused before anything is built.
#[test]
fn werf_add_host_reaches_run_steps_and_network_is_checked() {
    let busybox = busybox();
    let rig = Rig::new();
    let dockerfile: &[u8] = b"FROM scratch AS tools\nCOPY --chmod=0755 busybox /bin/busybox\n\
        FROM tools\nRUN [\"/bin/busybox\", \"cp\", \"/etc/hosts\", \"/hosts\"]\n";
    let dir = rig.project(
        "addhost",
        &[("Dockerfile", dockerfile), ("busybox", &busybox)],
    );
    let repo = rig.repo("addhost");
    let set = |image_keys: &str| {
        std::fs::write(dir.join("werf.yaml"), werf_with("", image_keys)).unwrap();
    };
    set("addHost:\n- registry.internal:10.0.0.5\n- v6:::1\nnetwork: host\n");
    let first = rig.built(&dir, "store", Some(&repo), &[]);
    let app = image(&first, "app");
    assert_eq!(statuses(app), ["built", "built"]);
    let hosts = rig.pull(text(app, "DockerImageName")).read("hosts");
    let lines: Vec<Vec<&str>> = hosts
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        lines.contains(&vec!["10.0.0.5", "registry.internal"])
            && lines.contains(&vec!["::1", "v6"]),
        "{hosts}"
    );

    // The network mode is not part of the digest (as in werf); the entries are, for the
    // stage with RUN only.
    set("addHost:\n- registry.internal:10.0.0.5\n- v6:::1\nnetwork: default\n");
    let same = rig.built(&dir, "store", Some(&repo), &[]);
    assert_eq!(statuses(image(&same, "app")), ["cached", "cached"]);
    set("addHost: [registry.internal:10.0.0.6]\n");
    let moved = rig.built(&dir, "store", Some(&repo), &[]);
    let app = image(&moved, "app");
    assert_eq!(statuses(app), ["cached", "built"], "{moved:#}");
    let hosts = rig.pull(text(app, "DockerImageName")).read("hosts");
    assert!(hosts.contains("10.0.0.6\tregistry.internal"), "{hosts}");
    assert!(!hosts.contains("10.0.0.5"), "{hosts}");

    let before = rig.storage();
    set("network: none\n");
    let run = rig.build(&dir, "store", Some(&repo), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    common::assert_stderr_has(
        &run,
        &["Dockerfile", "line 4", "`network: none`", "network: host"],
    );
    rig.assert_nothing_pushed(&before, "a build refusing `network: none`");
}

/// werf's `contextAddFiles`: the context is read from disk, so the files are there; each
/// named path must exist inside the context, and one the ignore file excludes is refused
/// (it would not be in the context), all before anything is built.
#[test]
fn werf_context_add_files_must_exist_and_not_be_ignored() {
    let rig = Rig::new();
    let dir = rig.project(
        "addfiles",
        &[
            ("Dockerfile", b"FROM scratch\nCOPY gen/ /gen/\n"),
            ("gen/out.txt", b"generated\n"),
            ("gen/sub/more.txt", b"more\n"),
            (".dockerignore", b"*.log\n"),
            ("build.log", b"log\n"),
        ],
    );
    let set = |keys: &str| std::fs::write(dir.join("werf.yaml"), werf_with("", keys)).unwrap();
    set("contextAddFiles:\n- gen/out.txt\n- gen/sub\n");
    let report = rig.built(&dir, "store", None, &[]);
    assert_eq!(statuses(image(&report, "app")), ["built"]);
    set("contextAddFile: gen/out.txt\n");
    let same = rig.built(&dir, "store", None, &[]);
    assert_eq!(
        statuses(image(&same, "app")),
        ["cached"],
        "the key adds nothing to the digest: the files were in the context already"
    );
    for (keys, needles) in [
        (
            "contextAddFiles:\n- gen/out.txt\n- gen/missing.txt\n",
            &[
                "werf.yaml:9",
                "`contextAddFiles[1]`",
                "gen/missing.txt does not exist",
            ][..],
        ),
        (
            "contextAddFiles: [../elsewhere.txt]\n",
            &["`contextAddFiles`", "leaves its folder"],
        ),
        (
            "contextAddFiles: [build.log]\n",
            &[
                "contextAddFiles names `build.log`",
                "addfiles/.dockerignore excludes",
            ],
        ),
    ] {
        set(keys);
        let run = rig.build(&dir, "store2", None, &[]);
        assert_eq!(run.code, 2, "{keys}: {}", run.stderr);
        common::assert_stderr_has(&run, needles);
        assert!(
            !rig.path("store2").join("index.json").exists()
                || !std::fs::read_to_string(rig.path("store2").join("index.json"))
                    .unwrap()
                    .contains("org.opencontainers.image.ref.name"),
            "{keys}: something was built"
        );
    }
}

// ---- werf's `secrets` and `ssh` -----------------------------------------------------------

/// The sha256 of `bytes`, as `sha256sum` prints it.
fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum (Debian coreutils)");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

/// Every blob of `image` in the registry (layers unpacked from gzip), and every file of the
/// local `store` folder, as bytes with a name.
fn everything_stored(rig: &Rig, image: &str, store: &Path) -> Vec<(String, Vec<u8>)> {
    let layout = rig.path(&format!("scan-{}", rig.next()));
    rig.skopeo
        .copy(
            &format!("docker://{image}"),
            &format!("oci:{}:t", layout.display()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = vec![];
    let mut files = vec![];
    for root in [layout.as_path(), store] {
        let listed = Command::new("find")
            .arg(root)
            .args(["-type", "f"])
            .output()
            .unwrap();
        files.extend(
            String::from_utf8_lossy(&listed.stdout)
                .lines()
                .map(PathBuf::from)
                .collect::<Vec<_>>(),
        );
    }
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_default();
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let unpacked = Command::new("gzip")
                .args(["-dc"])
                .arg(&f)
                .output()
                .expect("gzip (Debian package gzip)");
            assert!(unpacked.status.success(), "gzip -dc {}", f.display());
            out.push((format!("{} (unpacked)", f.display()), unpacked.stdout));
        }
        out.push((f.display().to_string(), bytes));
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

const SECRET_DOCKERFILE: &[u8] = b"FROM scratch AS tools\nCOPY --chmod=0755 busybox /bin/busybox\n\
FROM tools\n\
RUN --mount=type=secret,id=from_env --mount=type=secret,id=token.txt --mount=type=secret,id=plain \
[\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox sha256sum /run/secrets/from_env /run/secrets/token.txt \
/run/secrets/plain > /sums && /bin/busybox cat /run/secrets/plain\"]\n";

const SECRET_WERF: &str = "project: t\nconfigVersion: 1\n---\nimage: app\ndockerfile: Dockerfile\n\
context: .\nsecrets:\n- id: from_env\n  env: SLIPWAY_TEST_SECRET\n- src: secret/token.txt\n";

/// werf's `secrets` in their three forms reach a `RUN --mount=type=secret` and leave no
/// trace: not in any layer or blob (pushed or in the store), not in the report, stdout or
/// stderr (a RUN that prints one has it masked), and not in the digest: as in werf, a new
/// value alone finds the stage again.
#[test]
fn werf_secrets_reach_run_and_leave_no_trace() {
    let rig = Rig::new();
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let values = |round: u32| {
        [
            format!("env-secret-{stamp}-{round}"),
            format!("file-secret-{stamp}-{round}\n"),
            format!("plain-secret-{stamp}-{round}"),
        ]
    };
    let dir = rig.project(
        "secrets",
        &[("Dockerfile", SECRET_DOCKERFILE), ("busybox", &busybox())],
    );
    let repo = rig.repo("secrets");
    let round = |n: u32| {
        let [env, file, plain] = values(n);
        std::fs::create_dir_all(dir.join("secret")).unwrap();
        std::fs::write(dir.join("secret/token.txt"), &file).unwrap();
        std::fs::write(
            dir.join("werf.yaml"),
            format!("{SECRET_WERF}- id: plain\n  value: {plain}\n"),
        )
        .unwrap();
        let run = rig.build_env(
            &dir,
            "store",
            Some(&repo),
            &[],
            &[("SLIPWAY_TEST_SECRET", env.as_str())],
        );
        assert_eq!(
            run.code, 0,
            "stderr:\n{}\nstdout:\n{}",
            run.stderr, run.stdout
        );
        for v in [&env, file.trim_end(), &plain] {
            for (what, text) in [
                ("stdout and the report", &run.stdout),
                ("stderr", &run.stderr),
            ] {
                assert!(!text.contains(v), "a secret value in {what}:\n{text}");
            }
        }
        (run, [env, file, plain])
    };

    let (first, [env, file, plain]) = round(1);
    let app = image(&first.json, "app");
    assert_eq!(statuses(app), ["built", "built"], "{:#}", first.json);
    assert_eq!(stage_backends(app), ["native", "buildah"]);
    // The RUN printed the `value:` secret: masked on its way to stderr.
    assert!(first.stderr.contains("app | ****"), "{}", first.stderr);

    // The RUN read each value: what it wrote are their hashes.
    let name = text(app, "DockerImageName").to_string();
    let sums = rig.pull(&name).read("sums");
    let want: Vec<String> = [env.as_bytes(), file.as_bytes(), plain.as_bytes()]
        .iter()
        .zip(["from_env", "token.txt", "plain"])
        .map(|(v, id)| format!("{}  /run/secrets/{id}", sha256_hex(v)))
        .collect();
    assert_eq!(sums.lines().collect::<Vec<_>>(), want, "{sums}");

    // No value in any pushed blob (layers unpacked), nor anywhere in the store.
    let store = rig.path("store");
    for (where_, bytes) in everything_stored(&rig, &name, &store) {
        for v in [&env, file.trim_end(), &plain] {
            assert!(!contains(&bytes, v), "a secret value in {where_}");
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(store.join("tmp"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "left in the store's tmp: {leftovers:?}"
    );

    // New values, nothing else changed: the same digests, found, not rebuilt (werf leaves
    // secrets out of the digest).
    let (second, _) = round(2);
    let again = image(&second.json, "app");
    assert_eq!(statuses(again), ["cached", "cached"], "{:#}", second.json);
    assert_eq!(stage_digests(again), stage_digests(app));
}

/// A secret whose variable or file is missing, or an `ssh:` agent socket that is not
/// there, stops the build with exit 2 naming it (never a value), before anything is pushed.
#[test]
fn werf_secrets_and_ssh_that_cannot_be_read_exit_2_and_push_nothing() {
    let rig = Rig::new();
    let dir = rig.project(
        "nosecret",
        &[("Dockerfile", SECRET_DOCKERFILE), ("busybox", &busybox())],
    );
    let repo = rig.repo("nosecret");
    let before = rig.storage();
    std::fs::create_dir_all(dir.join("secret")).unwrap();
    let plain = "- id: plain\n  value: plain-value-never-shown\n";
    let sock = rig.path("no-agent.sock");
    // (extra werf.yaml keys, whether the `src:` file is there, environment, what stderr says)
    type Case<'a> = (&'a str, bool, &'a [(&'a str, &'a str)], Vec<String>);
    let cases: [Case; 4] = [
        (
            "",
            true,
            &[],
            vec![
                "secret `from_env`".into(),
                "environment variable `SLIPWAY_TEST_SECRET`".into(),
                "is not set".into(),
            ],
        ),
        (
            "",
            false,
            &[("SLIPWAY_TEST_SECRET", "env-value-never-shown")],
            vec![
                "secret `token.txt`".into(),
                format!(
                    "{} (`src:`) does not exist",
                    dir.join("secret/token.txt").display()
                ),
            ],
        ),
        (
            "ssh: default\n",
            true,
            &[
                ("SLIPWAY_TEST_SECRET", "env-value-never-shown"),
                ("SSH_AUTH_SOCK", ""),
            ],
            vec!["`ssh: default`".into(), "SSH_AUTH_SOCK is not set".into()],
        ),
        (
            "SOCKET",
            true,
            &[("SLIPWAY_TEST_SECRET", "env-value-never-shown")],
            vec![format!(
                "the SSH agent socket {} does not exist",
                sock.display()
            )],
        ),
    ];
    for (extra, with_file, env, needles) in cases {
        let token = dir.join("secret/token.txt");
        if with_file {
            std::fs::write(&token, "file-value-never-shown\n").unwrap();
        } else {
            let _ = std::fs::remove_file(&token);
        }
        let extra = if extra == "SOCKET" {
            format!("ssh: {}\n", sock.display())
        } else {
            extra.to_string()
        };
        std::fs::write(
            dir.join("werf.yaml"),
            format!("{SECRET_WERF}{plain}{extra}"),
        )
        .unwrap();
        let run = rig.build_env(&dir, "store", Some(&repo), &[], env);
        assert_eq!(run.code, 2, "{extra}: {}", run.stderr);
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        common::assert_stderr_has(&run, &needles);
        assert!(run.stderr.contains("werf.yaml"), "{}", run.stderr);
        assert!(
            !run.stderr.contains("never-shown") && !run.stdout.contains("never-shown"),
            "a value in a message: {}",
            run.stderr
        );
        assert!(
            !rig.path("store").join("index.json").exists()
                || !std::fs::read_to_string(rig.path("store").join("index.json"))
                    .unwrap()
                    .contains("org.opencontainers.image.ref.name"),
            "{extra}: something was built"
        );
    }
    rig.assert_nothing_pushed(&before, "builds whose secrets or agent cannot be read");
}

/// werf's `ssh`: a `RUN --mount=type=ssh` sees `SSH_AUTH_SOCK` naming a socket that buildah
/// forwards to the given agent socket (here a bare listener: nothing speaks the agent
/// protocol, and nothing needs to). Like werf, the agent is not part of the digest.
#[test]
fn werf_ssh_forwards_the_agent_socket_to_run() {
    let rig = Rig::new();
    let dir = rig.project(
        "ssh",
        &[
            (
                "Dockerfile",
                b"FROM scratch AS tools\nCOPY --chmod=0755 busybox /bin/busybox\nFROM tools\n\
                  RUN --mount=type=ssh [\"/bin/busybox\", \"sh\", \"-c\", \
                  \"test -S \\\"$SSH_AUTH_SOCK\\\" && echo \\\"$SSH_AUTH_SOCK\\\" > /agent\"]\n",
            ),
            ("busybox", &busybox()),
        ],
    );
    let agent = rig.path("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&agent).unwrap();
    let other = rig.path("other-agent.sock");
    let _other = std::os::unix::net::UnixListener::bind(&other).unwrap();
    let repo = rig.repo("ssh");
    let set = |ssh: &str| {
        std::fs::write(dir.join("werf.yaml"), format!("{ONE_IMAGE}ssh: {ssh}\n")).unwrap();
    };
    set(&agent.display().to_string());
    let run = rig.build_env(&dir, "store", Some(&repo), &[], &[("SSH_AUTH_SOCK", "")]);
    assert_eq!(
        run.code, 0,
        "stderr:\n{}\nstdout:\n{}",
        run.stderr, run.stdout
    );
    let app = image(&run.json, "app");
    assert_eq!(statuses(app), ["built", "built"]);
    let seen = rig.pull(text(app, "DockerImageName")).read("agent");
    assert!(
        seen.trim().starts_with('/'),
        "SSH_AUTH_SOCK in the RUN: {seen:?}"
    );

    // Another agent (`default`, from SSH_AUTH_SOCK): the same digests, found again.
    set("default");
    let other_text = other.display().to_string();
    let run = rig.build_env(
        &dir,
        "store",
        Some(&repo),
        &[],
        &[("SSH_AUTH_SOCK", other_text.as_str())],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let again = image(&run.json, "app");
    assert_eq!(statuses(again), ["cached", "cached"]);
    assert_eq!(stage_digests(again), stage_digests(app));
}
