//! Helpers shared by the CLI integration tests: run the real binary with a clean
//! environment and capture what it printed.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;

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
    "SLIPWAY_REGISTRIES_CONFIG",
    "SLIPWAY_CERTS_D",
    "SLIPWAY_OUTPUT",
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
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slipway"));
    for k in SCRUBBED {
        cmd.env_remove(k);
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

/// Asserts that stderr contains every needle.
pub fn assert_stderr_has(r: &Run, needles: &[&str]) {
    for n in needles {
        assert!(r.stderr.contains(n), "stderr lacks {n:?}: {}", r.stderr);
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
