//! Runs the real dockerd 20.10 (Debian `docker.io`) for a test, with its own data root,
//! exec root, socket and pid file, no iptables and no bridge, reading the config file of
//! the test's node root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running dockerd; stopped when dropped.
pub struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Dockerd {
    /// Starts dockerd with `--config-file node_root/etc/docker/daemon.json` and its pid file
    /// at `node_root/var/run/docker.pid` (where `node trust install` looks for it).
    ///
    /// # Panics
    /// When dockerd (Debian package `docker.io`) is missing or does not come up.
    pub fn start(node_root: &Path) -> Dockerd {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        std::fs::create_dir_all(node_root.join("var/run")).expect("mkdir var/run");
        let log = std::fs::File::create(d.join("dockerd.log")).expect("log");
        let child = Command::new("dockerd")
            .args(["--iptables=false", "--bridge=none", "--ip-masq=false"])
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .arg("--pidfile")
            .arg(node_root.join("var/run/docker.pid"))
            .arg("--config-file")
            .arg(node_root.join("etc/docker/daemon.json"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("dockerd (Debian package docker.io) must be installed");
        let mut dk = Dockerd { child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while dk.docker(&["info", "--format", "{{.ID}}"]).is_err() {
            if let Ok(Some(status)) = dk.child.try_wait() {
                panic!("dockerd exited with {status}: {}", dk.log());
            }
            assert!(
                Instant::now() < deadline,
                "dockerd did not answer in 30 s: {}",
                dk.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        dk
    }

    /// Returns the daemon socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// Runs the docker CLI against this daemon; stdout on success, stderr on failure.
    ///
    /// The CLI is the one Debian's `docker.io` installs beside dockerd (`/usr/bin/docker`),
    /// not whichever `docker` comes first on the PATH: a machine may carry a newer CLI of
    /// its own in `/usr/local/bin`, and the daemon's own client is the one it is tested with.
    pub fn docker(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(docker_cli())
            .arg("-H")
            .arg(format!("unix://{}", self.socket().display()))
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        }
    }

    /// Returns what dockerd logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }
}

/// Returns the docker CLI that sits beside `dockerd` on the PATH, else plain `docker`.
fn docker_cli() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| dir.join("dockerd").is_file())
        .map(|dir| dir.join("docker"))
        .filter(|cli| cli.is_file())
        .unwrap_or_else(|| PathBuf::from("docker"))
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM lets dockerd stop the containerd it started; then make sure.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
