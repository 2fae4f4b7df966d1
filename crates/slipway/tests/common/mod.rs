//! Helpers shared by the CLI integration tests: run the real binary with a clean
//! environment and capture what it printed.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;
use slipway_testkit::{ImageLayout, LeafKind, Registry, Skopeo, TestPki, cert_dir, sha256_digest};

/// The result of one slipway run.
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// stdout parsed as JSON (Null when it is not JSON).
    pub json: Value,
    /// stdout as text.
    pub stdout: String,
    /// stderr as text.
    pub stderr: String,
}

/// Environment variables a caller's shell may set that would change what slipway trusts.
const SCRUBBED: &[&str] = &[
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "WERF_SKIP_TLS_VERIFY_REGISTRY",
    "WERF_INSECURE_REGISTRY",
    "WERF_REPO",
    "WERF_ENV",
    "WERF_NAMESPACE",
    "WERF_RELEASE",
    "SLIPWAY_REGISTRIES_CONFIG",
    "SLIPWAY_CERTS_D",
    "SLIPWAY_OUTPUT",
    "SLIPWAY_AGENT_IMAGE",
    "SLIPWAY_AGENT_API_SERVER",
    "SLIPWAY_TRUST_NAMESPACE",
];

/// Runs slipway with `args`, a scrubbed environment plus `env`, and `--certs-d certs_d` so
/// nothing on the machine is trusted by accident.
pub fn slipway(certs_d: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    slipway_stdin(certs_d, args, env, None)
}

/// Like [`slipway`], feeding `stdin` to the process.
pub fn slipway_stdin(
    certs_d: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Run {
    slipway_with(
        Command::new(env!("CARGO_BIN_EXE_slipway")),
        certs_d,
        args,
        env,
        stdin,
    )
}

/// Like [`slipway_stdin`], running `cmd`: the slipway binary, or a command that wraps it
/// (such as a test cluster's [`slipway_testkit::Cluster::node_command`]).
pub fn slipway_with(
    mut cmd: Command,
    certs_d: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Run {
    for k in SCRUBBED {
        cmd.env_remove(k);
    }
    // Every werf variable of the caller's shell too: werf reads some by prefix
    // (WERF_ADD_CUSTOM_TAG_*, WERF_VALUES_*, ...), and slipway reads or refuses them.
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("WERF_")) {
            cmd.env_remove(&k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.arg("--certs-d").arg(certs_d).args(args);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run slipway");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write stdin");
        }
    }
    let out = child.wait_with_output().expect("run slipway");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    Run {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

/// Asserts that stderr contains every needle, and that no error line repeats a cause.
pub fn assert_stderr_has(r: &Run, needles: &[&str]) {
    for n in needles {
        assert!(r.stderr.contains(n), "stderr lacks {n:?}: {}", r.stderr);
    }
    assert_no_repeated_cause(&r.stderr);
}

/// Asserts that no `error:` line says the same cause twice in a row (`A: B: B`), as happens
/// when a message quotes its cause and the cause is printed again.
pub fn assert_no_repeated_cause(stderr: &str) {
    for line in stderr.lines().filter(|l| l.starts_with("error: ")) {
        let parts: Vec<&str> = line.split(": ").collect();
        assert!(
            parts.windows(2).all(|w| w[0] != w[1]),
            "a cause is repeated in: {line}"
        );
    }
}

/// Runs the openssl CLI and returns (success, stdout + stderr).
pub fn openssl(args: &[&str], stdin: Option<&[u8]>) -> (bool, String) {
    use std::io::Write;
    let mut cmd = Command::new("openssl");
    cmd.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("the openssl CLI must be installed (scripts/setup)");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Writes `text` to `path`, making the folders it needs.
pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Writes into the OCI layout `dir` an image index of `amd` (as linux/amd64) and `arm` (as
/// linux/arm64/v8), and makes `index.json` name that index, and nothing else, by the tag
/// `multi`. The layout's blob folder must already hold both images' blobs. Returns the
/// index digest.
pub fn tag_two_platform_index(dir: &Path, amd: &ImageLayout, arm: &ImageLayout) -> String {
    let blobs = dir.join("blobs/sha256");
    let size = |d: &str| std::fs::metadata(blobs.join(&d[7..])).unwrap().len();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#,
        amd.manifest_digest,
        size(&amd.manifest_digest),
        arm.manifest_digest,
        size(&arm.manifest_digest)
    );
    let digest = sha256_digest(index.as_bytes());
    std::fs::write(blobs.join(&digest[7..]), &index).unwrap();
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{digest}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"multi"}}}}]}}"#,
            index.len()
        ),
    )
    .unwrap();
    digest
}

/// Lists every file under `dir` with its contents.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(snapshot(&p));
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Copies a folder tree (files and folders).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    for e in entries {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst)
                .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), dst.display()));
        }
    }
}

/// Lists the path, mtime and size of `dir` and everything under it.
pub fn tree_state(dir: &Path) -> BTreeMap<PathBuf, (SystemTime, u64)> {
    let mut out = BTreeMap::new();
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return out;
    };
    out.insert(dir.to_path_buf(), (meta.modified().unwrap(), meta.len()));
    if meta.is_dir() {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            out.extend(tree_state(&e.path()));
        }
    }
    out
}

/// Issues a registry certificate for `registry.test` (and localhost, 127.0.0.1) with
/// `slipway pki` in `dir`; the returned `trust` is the PKI's `bundle.pem`.
pub fn registry_test_cert(dir: &Path) -> slipway_testkit::ServerCert {
    let d = dir.to_str().unwrap();
    let run = |args: &[&str]| {
        let r = slipway(dir, args, &[]);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    };
    run(&["pki", "init", "--dir", d]);
    let out = dir.join("registry");
    run(&[
        "pki",
        "issue",
        "--dir",
        d,
        "--dns",
        "registry.test",
        "--dns",
        "localhost",
        "--ip",
        "127.0.0.1",
        "--out",
        out.to_str().unwrap(),
    ]);
    slipway_testkit::ServerCert {
        chain: dir.join("registry.fullchain.pem"),
        key: dir.join("registry.key"),
        trust: dir.join("bundle.pem"),
    }
}

/// The sample app.
pub const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hello");

/// A TLS registry whose certificate a test CA signed, skopeo trusting that CA, and a
/// scratch folder with an empty certs.d (so nothing the machine trusts is used by accident).
pub struct TlsRig {
    /// The registry.
    pub reg: Registry,
    /// The CA that signed its certificate.
    pub pki: TestPki,
    /// The scratch folder.
    pub tmp: tempfile::TempDir,
    /// skopeo, trusting the CA.
    pub skopeo: Skopeo,
    /// skopeo's certificate folder.
    pub skopeo_certs: PathBuf,
    /// More flags every slipway run gets before its own (`--registry-ca` for a second
    /// registry, say); they come before the subcommand, where global flags belong.
    pub globals: Vec<String>,
}

impl TlsRig {
    /// Starts the registry and makes the folders.
    pub fn new() -> TlsRig {
        let pki = TestPki::new();
        let reg = Registry::builder()
            .tls(&pki.server_cert(LeafKind::CaSigned))
            .start();
        let tmp = tempfile::tempdir().unwrap();
        let skopeo_certs = cert_dir(&tmp.path().join("skopeo-certs"), &[pki.ca()], None);
        std::fs::create_dir_all(tmp.path().join("certs.d")).unwrap();
        TlsRig {
            skopeo: Skopeo::new().cert_dir(&skopeo_certs),
            reg,
            pki,
            tmp,
            skopeo_certs,
            globals: Vec::new(),
        }
    }

    /// Returns a path in the scratch folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Returns `localhost:PORT/name`.
    pub fn repo(&self, name: &str) -> String {
        format!("{}/{name}", self.reg.host())
    }

    /// Copies `examples/hello` into a new folder `name` and returns it.
    pub fn example(&self, name: &str) -> PathBuf {
        let dir = self.path(name);
        copy_tree(Path::new(EXAMPLE), &dir);
        for f in ["werf.yaml", ".helm/templates/deployment.yaml"] {
            assert!(
                dir.join(f).is_file(),
                "the sample app has no {f} in {EXAMPLE}"
            );
        }
        dir
    }

    /// Runs slipway with the test CA trusted for the registry (`--registry-ca HOST=CA`),
    /// `--certs-d` the empty folder, and private XDG data and Docker config folders.
    pub fn slipway(&self, args: &[&str]) -> Run {
        self.slipway_env(args, &[])
    }

    /// Like [`TlsRig::slipway`], with more environment variables.
    pub fn slipway_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let ca = format!(
            "--registry-ca={}={}",
            self.reg.host(),
            self.pki.ca().display()
        );
        let mut all = vec![ca.as_str()];
        all.extend(self.globals.iter().map(String::as_str));
        all.extend_from_slice(args);
        let xdg = self.path("xdg");
        let docker = self.path("docker");
        let mut vars = vec![
            ("XDG_DATA_HOME", xdg.to_str().unwrap()),
            ("DOCKER_CONFIG", docker.to_str().unwrap()),
        ];
        vars.extend_from_slice(env);
        slipway(&self.path("certs.d"), &all, &vars)
    }

    /// Runs `slipway --output json build --dir DIR --store STORE EXTRA...` like
    /// [`TlsRig::slipway_env`] (STORE is a folder name in the scratch folder).
    pub fn build_json(&self, dir: &Path, store: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let store = self.path(store);
        let mut args = vec![
            "--output",
            "json",
            "build",
            "--dir",
            dir.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.slipway_env(&args, env)
    }

    /// `skopeo inspect --raw [FLAGS] docker://IMAGE`, trusting the test CA and sending no
    /// credentials: the manifest (or index) bytes as the registry holds them, or with
    /// `--config` the config blob.
    pub fn inspect_raw(&self, image: &str, flags: &[&str]) -> String {
        let image = format!("docker://{image}");
        let mut args = vec![
            "inspect",
            "--raw",
            "--tls-verify=true",
            "--no-creds",
            "--cert-dir",
            self.skopeo_certs.to_str().unwrap(),
        ];
        args.extend_from_slice(flags);
        args.push(&image);
        self.skopeo.run(&args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Returns the image config blob of `image`, as skopeo reads it (`skopeo inspect --raw
    /// --config`; without `--raw` skopeo drops the fields OCI does not define, such as
    /// Docker's `Healthcheck`).
    pub fn config(&self, image: &str) -> Value {
        let out = self.inspect_raw(image, &["--config"]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("skopeo config ({e}): {out}"))
    }

    /// Asserts that skopeo finds `image` in the registry, and returns its manifest digest.
    pub fn digest_of(&self, image: &str) -> String {
        self.skopeo
            .manifest_digest(&format!("docker://{image}"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The tags skopeo lists in `repo`, sorted.
    pub fn tags(&self, repo: &str) -> Vec<String> {
        let mut tags = self
            .skopeo
            .list_tags(repo)
            .unwrap_or_else(|e| panic!("{e}"));
        tags.sort();
        tags
    }

    /// Returns the path, mtime and size of everything in the registry's storage.
    pub fn storage(&self) -> BTreeMap<PathBuf, (SystemTime, u64)> {
        tree_state(&self.reg.dir().join("data"))
    }

    /// Asserts that the registry's storage is as it was at `before`.
    pub fn assert_nothing_pushed(&self, before: &BTreeMap<PathBuf, (SystemTime, u64)>, what: &str) {
        let after = self.storage();
        let mut changed: Vec<&PathBuf> = after
            .iter()
            .filter(|(p, v)| before.get(*p) != Some(v))
            .map(|(p, _)| p)
            .collect();
        changed.extend(before.keys().filter(|p| !after.contains_key(*p)));
        assert!(
            changed.is_empty(),
            "{what}: the registry's storage changed, so something was pushed: {changed:#?}"
        );
    }
}

/// Runs slipway (human output, `--certs-d certs_d`, a clean environment plus `env`) on a
/// pseudo-terminal `cols` columns wide, through util-linux `script`, and returns the exit
/// code and everything the terminal was sent.
pub fn on_terminal(
    certs_d: &Path,
    cols: u16,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String) {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = format!("stty cols {cols} rows 40; exec ");
    line.push_str(&quote(env!("CARGO_BIN_EXE_slipway")));
    let certs_d = certs_d.display().to_string();
    let words = ["--certs-d", certs_d.as_str()]
        .into_iter()
        .chain(args.iter().copied());
    for w in words {
        line.push(' ');
        line.push_str(&quote(w));
    }
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SHELL", "/bin/sh")
        .env("TERM", "xterm-256color")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run util-linux script (bsdutils)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

/// The rows a `cols`-wide terminal shows of `raw`: escape sequences removed, the text split
/// where the cursor goes back to a row's start, and runs longer than a row wrapped the way
/// the terminal wraps them. (indicatif pads each bar with spaces to the terminal's width and
/// lets the terminal wrap to the next row, so a bar that fits fills exactly one row.)
pub fn terminal_rows(raw: &str, cols: usize) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            plain.push(c);
            continue;
        }
        // CSI: ESC [ parameters, then one final byte in @..~; a cursor movement ends a run.
        if chars.peek() == Some(&'[') {
            chars.next();
            for f in chars.by_ref() {
                if ('@'..='~').contains(&f) {
                    break;
                }
            }
        } else {
            chars.next();
        }
        plain.push('\r');
    }
    let mut rows = vec![];
    for run in plain.split(['\r', '\n']) {
        let run: Vec<char> = run.chars().collect();
        for row in run.chunks(cols) {
            let row: String = row.iter().collect();
            if !row.trim().is_empty() {
                rows.push(row);
            }
        }
    }
    rows
}

// ---- reading build reports (werf's `--report-format json` shape) ---------------------------

/// The string `v[key]`.
pub fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v:#}"))
}

/// An image's `Stages` in a build report.
pub fn stages(img: &Value) -> &Vec<Value> {
    img["Stages"]
        .as_array()
        .unwrap_or_else(|| panic!("no Stages list in {img:#}"))
}

/// Each stage's `Status` (`built`, `cached`, `copied`...).
pub fn statuses(img: &Value) -> Vec<&str> {
    stages(img).iter().map(|s| text(s, "Status")).collect()
}

/// Each stage's `Digest`.
pub fn stage_digests(img: &Value) -> Vec<&str> {
    stages(img).iter().map(|s| text(s, "Digest")).collect()
}
