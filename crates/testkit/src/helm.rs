//! Runs the real `helm` (built by `scripts/go-tools helm`) with a home of its own, so that
//! no configuration, cache, registry login or cluster of the machine's is read, and finds
//! Helm's module source (its test charts and `go.mod`) in the Go module cache.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::oracle::{go_output, go_tool};

/// The helm binary with a temporary home: its config, cache and data folders, its registry
/// config and a kubeconfig path that does not exist all live there, and nothing else of
/// the caller's environment but `PATH` reaches it.
pub struct Helm {
    bin: PathBuf,
    home: tempfile::TempDir,
}

/// What one helm run did.
#[derive(Clone, Debug)]
pub struct HelmRun {
    /// The exit code (-1 when helm was killed by a signal).
    pub code: i32,
    /// Standard output, as text.
    pub stdout: String,
    /// Standard error, as text.
    pub stderr: String,
}

impl HelmRun {
    /// Whether helm exited 0.
    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

impl Helm {
    /// Builds helm when it is not cached, and makes its home.
    ///
    /// # Panics
    /// When helm cannot be built: the tests that compare with it must not pass without it.
    pub fn new() -> Helm {
        let bin = go_tool("helm").join("helm");
        assert!(bin.is_file(), "{} is missing", bin.display());
        Helm {
            bin,
            home: tempfile::tempdir().expect("a home for helm"),
        }
    }

    /// The temporary home folder (it goes away with this value).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs `helm ARGS` and returns what it did, whatever its exit code.
    ///
    /// # Panics
    /// When the binary cannot be started.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> HelmRun {
        let home = self.home.path();
        let out = Command::new(&self.bin)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("HELM_REGISTRY_CONFIG", home.join("registry.json"))
            .env("KUBECONFIG", home.join("no-kubeconfig"))
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.bin.display()));
        HelmRun {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Like [`Helm::run`], and asserts that helm exited 0.
    ///
    /// # Panics
    /// When helm fails, with its arguments and output.
    pub fn must<S: AsRef<OsStr> + std::fmt::Debug>(&self, args: &[S]) -> HelmRun {
        let run = self.run(args);
        assert_eq!(run.code, 0, "helm {args:?}: {}{}", run.stdout, run.stderr);
        run
    }
}

impl Default for Helm {
    fn default() -> Helm {
        Helm::new()
    }
}

/// The folder of Helm's module source in the Go module cache, at the version
/// `scripts/go-tools` builds (downloaded by `go mod download` when missing).
///
/// # Panics
/// When Go is missing or the module cannot be downloaded.
pub fn helm_module() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/go-tools");
    let text = std::fs::read_to_string(&script)
        .unwrap_or_else(|e| panic!("read {}: {e}", script.display()));
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("HELM_VERSION="))
        .expect("HELM_VERSION in scripts/go-tools")
        .trim();
    // Outside any module, so that no go.mod around the checkout is consulted.
    let tmp = tempfile::tempdir().expect("a folder outside any Go module");
    let module = format!("helm.sh/helm/v4@{version}");
    let json = go_output(tmp.path(), &["mod", "download", "-json", &module]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("go mod download -json");
    let dir = PathBuf::from(v["Dir"].as_str().expect("Dir"));
    assert!(dir.is_dir(), "{} is missing", dir.display());
    dir
}
