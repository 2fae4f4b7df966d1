//! Runs the real containerd 1.6 (Debian `containerd`) for a test: inside a private mount
//! namespace (`unshare -m`) where `/etc/containerd` is the test's node root and
//! `/etc/hosts` maps test names (e.g. `registry.test`) to 127.0.0.1, with its own root,
//! state and socket. Pulls go through CRI `ImageService.PullImage`, the kubelet's call.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running containerd; killed when dropped.
pub struct Containerd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    node_root: PathBuf,
    names: Vec<String>,
}

impl Containerd {
    /// Starts containerd with `/etc/containerd` bound to `node_root/etc/containerd` (which
    /// must hold a `config.toml`) and `names` resolving to 127.0.0.1.
    ///
    /// # Panics
    /// When containerd (Debian package `containerd`) or `unshare` is missing, or containerd
    /// does not create its socket: the test cannot run, and says so.
    pub fn start(node_root: &Path, names: &[&str]) -> Containerd {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut c = Containerd {
            child: None,
            dir,
            node_root: node_root.to_path_buf(),
            names: names.iter().map(|s| s.to_string()).collect(),
        };
        c.spawn();
        c
    }

    fn spawn(&mut self) {
        let d = self.dir.path();
        let mut hosts = String::from("127.0.0.1 localhost\n::1 localhost\n");
        for n in &self.names {
            hosts.push_str(&format!("127.0.0.1 {n}\n"));
        }
        std::fs::write(d.join("hosts"), hosts).expect("write hosts");
        for sub in ["root", "state"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        let etc = self.node_root.join("etc/containerd");
        assert!(
            etc.join("config.toml").exists(),
            "{} must exist before containerd starts",
            etc.join("config.toml").display()
        );
        // /etc/containerd must exist on the real filesystem as a mount point.
        std::fs::create_dir_all("/etc/containerd")
            .expect("mkdir /etc/containerd (run tests as root)");
        let script = format!(
            "set -e\nmount --make-rprivate /\nmount --bind {hosts} /etc/hosts\nmount --bind {etc} /etc/containerd\nexec containerd --config /etc/containerd/config.toml --root {root} --state {state} --address {sock}\n",
            hosts = d.join("hosts").display(),
            etc = etc.display(),
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = self.socket().display(),
        );
        std::fs::write(d.join("run.sh"), script).expect("write run.sh");
        let log = std::fs::File::create(d.join("containerd.log")).expect("log");
        let child = Command::new("unshare")
            .args(["-m", "sh"])
            .arg(d.join("run.sh"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect(
                "unshare (util-linux) and containerd (Debian package containerd) must be installed",
            );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.socket().exists() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("containerd exited with {status}: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "containerd did not create its socket in 20 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The CRI plugin registers shortly after the socket appears.
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Returns the containerd socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    /// Returns what containerd logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(self.socket());
    }

    /// Restarts containerd (a config.toml change needs it; containerd has no reload).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Pulls `image` through CRI `ImageService.PullImage`, as the kubelet does. Returns the
    /// image ref, or the error message the kubelet would put in the pod event.
    pub fn cri_pull(&self, image: &str) -> Result<String, String> {
        let socket = self.socket();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let channel = tonic::transport::Endpoint::try_from("http://[::]:50051")
                .map_err(|e| e.to_string())?
                .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                    let socket = socket.clone();
                    async move {
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                            tokio::net::UnixStream::connect(socket).await?,
                        ))
                    }
                }))
                .await
                .map_err(|e| format!("connect to containerd: {e}"))?;
            let mut client = k8s_cri::v1::image_service_client::ImageServiceClient::new(channel);
            let req = k8s_cri::v1::PullImageRequest {
                image: Some(k8s_cri::v1::ImageSpec {
                    image: image.to_string(),
                    ..Default::default()
                }),
                auth: None,
                sandbox_config: None,
            };
            match client.pull_image(req).await {
                Ok(r) => Ok(r.into_inner().image_ref),
                Err(status) => Err(status.message().to_string()),
            }
        })
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.stop();
    }
}
