//! A real Debian root filesystem for OS trust-store tests, made once by `debootstrap`
//! (with ca-certificates and openssl) and cached; each test gets its own copy.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Returns the cache folder: `$SLIPWAY_DEBOOTSTRAP_CACHE`, else `/var/cache/slipway`.
fn cache_dir() -> PathBuf {
    std::env::var_os("SLIPWAY_DEBOOTSTRAP_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/slipway"))
}

/// Returns a fresh copy of a Debian bookworm minbase root in a temp folder.
///
/// # Panics
/// When `debootstrap` (Debian package `debootstrap`) is missing or the Debian mirror
/// cannot be reached: the test cannot run, and says so.
pub fn debian_root() -> tempfile::TempDir {
    let cached = cache_dir().join("debootstrap-bookworm");
    if !cached.join("usr/sbin/update-ca-certificates").exists() {
        std::fs::create_dir_all(cache_dir()).expect("create the debootstrap cache folder");
        let staging = tempfile::Builder::new()
            .prefix("debootstrap-")
            .tempdir_in(cache_dir())
            .expect("staging dir");
        let out = Command::new("debootstrap")
            .args([
                "--variant=minbase",
                "--include=ca-certificates,openssl",
                "bookworm",
            ])
            .arg(staging.path())
            .arg("http://deb.debian.org/debian")
            .output()
            .expect("debootstrap (Debian package debootstrap) must be installed");
        assert!(
            out.status.success(),
            "debootstrap failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Another test may have won the race; either copy is as good.
        let staged = staging.keep();
        if std::fs::rename(&staged, &cached).is_err() {
            let _ = std::fs::remove_dir_all(&staged);
        }
    }
    let copy = tempfile::tempdir().expect("temp dir");
    copy_root(&cached, copy.path());
    copy
}

fn copy_root(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success(), "copy {} failed", from.display());
}
