//! A real single-node Kubernetes cluster on 127.0.0.1, for the tests, the demo and people
//! (`scripts/cluster up`).
//!
//! Control plane: etcd, kube-apiserver, kube-controller-manager and kube-scheduler, built
//! from their Go modules by `scripts/go-tools kubernetes` and cached by version. Node:
//! Debian's containerd 1.6 and the kubelet, both inside one private mount namespace in
//! which `/etc/hosts` maps the test names (`registry.test`, ...) to 127.0.0.1,
//! `/etc/containerd` is the node root's own folder (with `config_path` set, so `node trust`
//! writes `hosts.toml` files there) and `/var/lib/slipway` is the node's too. Pods get a
//! bridge CNI network; pods that must reach a registry use `hostNetwork`. Nothing listens
//! on or sends to any address but loopback.
//!
//! Every process is started in its own process group, its PID written under `DIR/pids/`,
//! and its output to `DIR/logs/`. `DIR/down.sh` stops them all by PID, then the pods'
//! processes (found by the cluster's own cgroup) and containerd's shims, and removes the
//! folder. A cluster of a test process is stopped when it is dropped, or, for
//! [`Cluster::shared`], by a watcher when the test process exits.
//!
//! Two facts of these machines shape the node. The sandbox has no `CAP_SYS_RESOURCE`, so
//! containerd is told to keep pods' `oom_score_adj` at or above its own
//! (`restrict_oom_score_adj`), as for rootless runtimes. And the kubelet's own cgroups live
//! under a root of their own (`/slipway-<port>`), so two clusters never share one.

use std::fmt::Write as _;
use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::free_port;

/// The image every pod's sandbox runs, imported into the node at start.
pub const PAUSE_IMAGE: &str = "slipway.test/pause:3.10";
/// The name the trust agent image is imported under (`slipway` on a minimal root).
pub const AGENT_IMAGE_NAME: &str = "slipway.test/slipway-agent";

/// Sets up a [`Cluster`].
#[derive(Clone, Debug)]
pub struct ClusterBuilder {
    slipway: PathBuf,
    names: Vec<String>,
    taints: Vec<String>,
    dir: Option<PathBuf>,
    agent: bool,
}

impl ClusterBuilder {
    /// Adds a name that the node (containerd, the kubelet, hostNetwork pods and
    /// [`Cluster::node_command`]) resolves to 127.0.0.1. `registry.test` is always there.
    pub fn name(mut self, name: &str) -> Self {
        self.names.push(name.to_string());
        self
    }

    /// Registers the node with this taint (`KEY=VALUE:EFFECT`), as the kubelet's
    /// `--register-with-taints` does for a node that joins.
    pub fn register_with_taint(mut self, taint: &str) -> Self {
        self.taints.push(taint.to_string());
        self
    }

    /// Keeps the cluster's state in `dir` (created; it must not hold a running cluster)
    /// instead of a temporary folder, and leaves it running when the [`Cluster`] is
    /// dropped: `DIR/down.sh` stops it.
    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// Skips building and importing the trust agent image.
    pub fn without_agent(mut self) -> Self {
        self.agent = false;
        self
    }

    /// Starts the cluster and waits until its node is Ready and the default namespace has
    /// its ServiceAccount and `kube-root-ca.crt`.
    ///
    /// # Panics
    /// When a component is missing (run `scripts/setup`) or does not come up; the message
    /// holds the ends of the component logs.
    pub fn start(self) -> Cluster {
        let (dir, tmp) = match &self.dir {
            Some(d) => {
                std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
                (d.clone(), None)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("slipway-cluster-")
                    .tempdir()
                    .expect("temp dir");
                (t.path().to_path_buf(), Some(t))
            }
        };
        let keep = self.dir.is_some();
        let mut names = vec!["registry.test".to_string(), "slipway.test".to_string()];
        names.extend(self.names.iter().cloned());
        let mut c = Cluster {
            bin: kubernetes_bin(),
            dir,
            tmp,
            keep,
            api_port: free_port(),
            token: random_hex(16),
            names,
            agent_image: None,
        };
        c.write_down_script();
        let started = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.start_control_plane();
            c.start_node(&self.taints);
            c.import_built_image(&self.slipway, "pause", &pause_context(&c.dir), PAUSE_IMAGE);
            if self.agent {
                let image = format!("{AGENT_IMAGE_NAME}:test");
                c.import_built_image(
                    &self.slipway,
                    "agent",
                    &agent_context(&c.dir, &self.slipway),
                    &image,
                );
                c.agent_image = Some(image);
            }
            c.wait_until_usable();
        }));
        if let Err(e) = result {
            let logs = c.log_tail(40);
            c.stop();
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("the test cluster did not start: {why}\n{logs}");
        }
        let _ = std::fs::write(
            c.dir.join("logs/started.txt"),
            format!("up in {:.1} s\n", started.elapsed().as_secs_f64()),
        );
        c
    }
}

/// A running single-node cluster. See the module documentation.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    tmp: Option<tempfile::TempDir>,
    keep: bool,
    api_port: u16,
    token: String,
    names: Vec<String>,
    agent_image: Option<String>,
}

impl Cluster {
    /// Starts setting up a cluster whose images are built with the `slipway` binary at
    /// `slipway` (`slipway build`: the pause image, and the trust agent image, which is
    /// that binary on a minimal root).
    pub fn builder(slipway: &Path) -> ClusterBuilder {
        ClusterBuilder {
            slipway: slipway.to_path_buf(),
            names: vec![],
            taints: vec![],
            dir: None,
            agent: true,
        }
    }

    /// Returns the cluster of this test process, started on first use and stopped when the
    /// process exits (a watcher process runs `down.sh` then). Tests that share it use
    /// namespaces, registries and trust namespaces of their own.
    pub fn shared(slipway: &Path) -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(|| {
            let c = Cluster::builder(slipway).start();
            c.stop_when_process_exits();
            c
        })
    }

    /// Returns the kubeconfig of the cluster's admin (a token in `system:masters`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("admin.kubeconfig")
    }

    /// Returns the API server's URL, `https://127.0.0.1:PORT`.
    pub fn api_server(&self) -> String {
        format!("https://127.0.0.1:{}", self.api_port)
    }

    /// Returns the cluster's CA certificate file (it signed the API server's certificate).
    pub fn ca(&self) -> PathBuf {
        self.dir.join("pki/ca.crt")
    }

    /// Returns the node's name.
    pub fn node_name(&self) -> &'static str {
        "127.0.0.1"
    }

    /// Returns the node's root: `etc/containerd` (with `config.toml` and `certs.d/`) and
    /// `var/lib/slipway` are the node's `/etc/containerd` and `/var/lib/slipway`.
    pub fn node_root(&self) -> PathBuf {
        self.dir.join("node")
    }

    /// Returns the reference of the imported trust agent image, if it was built.
    pub fn agent_image(&self) -> Option<&str> {
        self.agent_image.as_deref()
    }

    /// Returns the cluster's state folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the folder of the Kubernetes binaries (`kubectl` among them).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Returns a command that runs `program` in the node's mount namespace, where the
    /// node's names (`registry.test`, ...) resolve to 127.0.0.1: the build machine of a
    /// single-node cluster.
    pub fn node_command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.pid("containerd").to_string())
            .arg("-m")
            .arg("--")
            .arg(program);
        cmd
    }

    /// Runs the real `kubectl` (built with the cluster) with the admin kubeconfig.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(self.bin.join("kubectl"))
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl")
    }

    /// Runs `kubectl` and returns its stdout, panicking with its stderr when it fails.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Runs `kubectl get ... -o json` and parses the answer.
    pub fn get_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        serde_json::from_str(&self.kubectl_ok(&a)).expect("kubectl printed JSON")
    }

    /// Imports an OCI image layout tar (`index.json` refs become `NAME:REF`) into the
    /// node's containerd, where the kubelet finds it without pulling.
    ///
    /// # Panics
    /// When `ctr` fails.
    pub fn import(&self, tar: &Path, name: &str) {
        let out = Command::new("ctr")
            .arg("-a")
            .arg(self.containerd_socket())
            .args(["-n", "k8s.io", "images", "import", "--base-name", name])
            .arg(tar)
            .output()
            .expect("ctr (Debian package containerd) must be installed");
        assert!(
            out.status.success(),
            "ctr images import {}: {}",
            tar.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Returns the containerd socket of the node.
    pub fn containerd_socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// Returns the last `lines` lines of every component's log, headed by its name.
    pub fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        let Ok(rd) = std::fs::read_dir(self.dir.join("logs")) else {
            return out;
        };
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let text = read_lossy(&f);
            let all: Vec<&str> = text.lines().collect();
            let tail = &all[all.len().saturating_sub(lines)..];
            let _ = writeln!(out, "==== {} (last {} lines)", f.display(), tail.len());
            for l in tail {
                let _ = writeln!(out, "{l}");
            }
        }
        out
    }

    /// Returns a guard that prints the ends of the component logs to stderr if the thread
    /// panics (a test fails) while it is alive.
    pub fn logs_on_failure(&self) -> LogsOnFailure<'_> {
        LogsOnFailure { cluster: self }
    }

    /// Returns the PID of a component (`etcd`, `kube-apiserver`, `containerd`, `kubelet`...).
    ///
    /// # Panics
    /// When the component was not started.
    pub fn pid(&self, component: &str) -> u32 {
        std::fs::read_to_string(self.dir.join("pids").join(component))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("{component} of the test cluster is not running"))
    }

    /// Stops every process of the cluster by its PID (see `down.sh`), and removes its folder
    /// unless it was given with [`ClusterBuilder::dir`].
    pub fn stop(&mut self) {
        let mut cmd = Command::new("sh");
        cmd.arg(self.dir.join("down.sh"));
        if self.keep {
            cmd.env("SLIPWAY_CLUSTER_KEEP_DIR", "1");
        }
        let _ = cmd.stdin(Stdio::null()).status();
        self.tmp.take();
    }

    /// Leaves the cluster running after this value is dropped (`scripts/cluster up`).
    pub fn detach(mut self) {
        self.keep = true;
        self.tmp.take().map(tempfile::TempDir::keep);
        std::mem::forget(self);
    }

    fn stop_when_process_exits(&self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; exec sh {down}",
            pid = std::process::id(),
            down = self.dir.join("down.sh").display()
        );
        // It outlives this process on purpose: it is the one that stops the cluster.
        #[allow(clippy::zombie_processes)]
        let _watcher = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start the cluster's watcher");
    }

    fn cgroup_root(&self) -> String {
        format!("slipway-{}", self.api_port)
    }

    fn bridge(&self) -> String {
        format!("slw{}", self.api_port)
    }

    /// Writes `down.sh`: it stops the kubelet, the pods' processes, containerd's shims,
    /// containerd and the control plane, each by its PID (checked against its command line,
    /// so a PID reused by another program is left alone), then removes the cluster's
    /// cgroups, its bridge and (unless `SLIPWAY_CLUSTER_KEEP_DIR` is set) its folder.
    fn write_down_script(&self) {
        let d = self.dir.display();
        let script = format!(
            r#"#!/bin/sh
# Stops the slipway test cluster in {d}. Written by slipway-testkit; safe to run twice.
d='{d}'
stop() {{
  for n in "$@"; do
    f="$d/pids/$n"; [ -f "$f" ] || continue
    p=$(cat "$f")
    if tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -q -- "$n"; then
      kill -TERM "$p" 2>/dev/null
      i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
      kill -KILL "$p" 2>/dev/null
    fi
    rm -f "$f"
  done
}}
pods() {{
  for h in /sys/fs/cgroup/*/{cg}; do
    [ -d "$h" ] && find "$h" -name cgroup.procs -exec cat {{}} + 2>/dev/null
  done | sort -u
}}
stop kubelet
for round in 1 2 3; do pods | xargs -r kill -KILL 2>/dev/null; sleep 0.2; done
pkill -KILL -f -- "-address $d/containerd.sock" 2>/dev/null
stop containerd kube-scheduler kube-controller-manager kube-apiserver etcd
for h in /sys/fs/cgroup/*/{cg}; do
  [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {{}} + 2>/dev/null
done
ip link del {bridge} 2>/dev/null
[ -n "$SLIPWAY_CLUSTER_KEEP_DIR" ] || rm -rf "$d"
exit 0
"#,
            cg = self.cgroup_root(),
            bridge = self.bridge(),
        );
        for sub in ["pids", "logs", "pki"] {
            std::fs::create_dir_all(self.dir.join(sub)).expect("mkdir");
        }
        std::fs::write(self.dir.join("down.sh"), script).expect("write down.sh");
    }

    /// Starts `cmd` in a process group of its own, logging to `logs/NAME.log`, and records
    /// its PID in `pids/NAME`.
    fn spawn(&self, name: &str, mut cmd: Command) -> u32 {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("logs").join(format!("{name}.log")))
            .expect("open log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e} (run scripts/setup)"));
        let pid = child.id();
        std::fs::write(self.dir.join("pids").join(name), format!("{pid}\n")).expect("pid file");
        // Reaped by whoever outlives it; the PID file is how it is stopped.
        drop(child);
        pid
    }

    fn start_control_plane(&mut self) {
        let d = self.dir.clone();
        let pki = d.join("pki");
        write_pki(&pki);
        std::fs::write(
            pki.join("tokens.csv"),
            format!("{},admin,admin,system:masters\n", self.token),
        )
        .expect("tokens.csv");
        std::fs::write(self.kubeconfig(), self.kubeconfig_text()).expect("kubeconfig");

        let (client, peer) = (free_port(), free_port());
        let mut etcd = Command::new(self.bin.join("etcd"));
        etcd.arg("--data-dir")
            .arg(d.join("etcd"))
            .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
            .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!("--initial-cluster=default=http://127.0.0.1:{peer}"))
            .arg("--unsafe-no-fsync")
            .arg("--log-level=warn");
        self.spawn("etcd", etcd);
        wait_for(Duration::from_secs(30), "etcd to listen", || {
            TcpStream::connect_timeout(
                &SocketAddr::from(([127, 0, 0, 1], client)),
                Duration::from_millis(200),
            )
            .is_ok()
        });

        let mut api = Command::new(self.bin.join("kube-apiserver"));
        api.arg(format!("--etcd-servers=http://127.0.0.1:{client}"))
            .arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg(format!("--secure-port={}", self.api_port))
            .arg(format!(
                "--tls-cert-file={}",
                pki.join("apiserver.crt").display()
            ))
            .arg(format!(
                "--tls-private-key-file={}",
                pki.join("apiserver.key").display()
            ))
            .arg(format!("--client-ca-file={}", pki.join("ca.crt").display()))
            .arg(format!(
                "--token-auth-file={}",
                pki.join("tokens.csv").display()
            ))
            .arg("--authorization-mode=RBAC")
            .arg("--allow-privileged=true")
            .arg("--service-cluster-ip-range=10.0.0.0/24")
            .arg("--service-account-issuer=https://kubernetes.default.svc")
            .arg(format!(
                "--service-account-key-file={}",
                pki.join("sa.pub").display()
            ))
            .arg(format!(
                "--service-account-signing-key-file={}",
                pki.join("sa.key").display()
            ))
            .arg("--kubelet-preferred-address-types=Hostname")
            .arg(format!("--cert-dir={}", d.join("apiserver").display()))
            .arg("--v=0");
        self.spawn("kube-apiserver", api);
        wait_for(
            Duration::from_secs(90),
            "the API server to be ready",
            || self.kubectl(&["get", "--raw", "/readyz"]).status.success(),
        );

        let kc = self.kubeconfig();
        let mut kcm = Command::new(self.bin.join("kube-controller-manager"));
        kcm.arg(format!("--kubeconfig={}", kc.display()))
            .arg("--leader-elect=false")
            .arg("--bind-address=127.0.0.1")
            .arg("--secure-port=0")
            .arg(format!(
                "--service-account-private-key-file={}",
                pki.join("sa.key").display()
            ))
            .arg(format!("--root-ca-file={}", pki.join("ca.crt").display()))
            .arg("--controllers=*,-nodeipam,-service,-route,-cloud-node-lifecycle");
        self.spawn("kube-controller-manager", kcm);
        let mut sched = Command::new(self.bin.join("kube-scheduler"));
        sched
            .arg(format!("--kubeconfig={}", kc.display()))
            .arg("--leader-elect=false")
            .arg("--bind-address=127.0.0.1")
            .arg("--secure-port=0");
        self.spawn("kube-scheduler", sched);
    }

    fn kubeconfig_text(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: slipway-test\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: admin\n  user:\n    token: {token}\ncontexts:\n- name: slipway-test\n  context:\n    cluster: slipway-test\n    user: admin\n    namespace: default\ncurrent-context: slipway-test\n",
            server = self.api_server(),
            ca = self.ca().display(),
            token = self.token,
        )
    }

    fn start_node(&self, taints: &[String]) {
        let d = &self.dir;
        let node = self.node_root();
        let etc = node.join("etc/containerd");
        for sub in [
            etc.join("certs.d"),
            node.join("var/lib/slipway"),
            d.join("cni/net.d"),
            d.join("cni/data"),
            d.join("containerd/root"),
            d.join("containerd/state"),
            d.join("containerd/runc"),
        ] {
            std::fs::create_dir_all(&sub).expect("mkdir");
        }
        std::fs::write(etc.join("config.toml"), self.containerd_config()).expect("config.toml");
        std::fs::write(
            d.join("cni/net.d/10-slipway.conflist"),
            format!(
                r#"{{"cniVersion":"1.0.0","name":"slipway-test","plugins":[{{"type":"bridge","bridge":"{bridge}","isGateway":true,"ipMasq":false,"ipam":{{"type":"host-local","ranges":[[{{"subnet":"10.244.{net}.0/24"}}]],"dataDir":"{data}"}}}},{{"type":"loopback"}}]}}"#,
                bridge = self.bridge(),
                net = self.api_port % 250,
                data = d.join("cni/data").display(),
            ),
        )
        .expect("CNI config");
        let mut hosts = String::from("127.0.0.1 localhost\n::1 localhost ip6-localhost\n");
        for n in &self.names {
            let _ = writeln!(hosts, "127.0.0.1 {n}");
        }
        std::fs::write(d.join("hosts"), hosts).expect("hosts");
        // Mount points on the real filesystem; the binds exist only in the node's namespace.
        // The kubelet's state, pod logs, pods' network namespaces and the CNI cache live in
        // the cluster's folder too, so a cluster that is killed leaves nothing behind on the
        // machine.
        let binds = [
            (d.join("hosts"), "/etc/hosts"),
            (etc.clone(), "/etc/containerd"),
            (node.join("var/lib/slipway"), "/var/lib/slipway"),
            (d.join("kubelet"), "/var/lib/kubelet"),
            (d.join("var-log"), "/var/log"),
            (d.join("netns"), "/run/netns"),
            (d.join("cni/cache"), "/var/lib/cni"),
        ];
        let mut mounts = String::new();
        for (from, to) in &binds {
            if !from.is_file() {
                std::fs::create_dir_all(from).expect("mkdir");
                std::fs::create_dir_all(to).expect("mkdir a mount point (run as root)");
            }
            let _ = writeln!(mounts, "mount --bind {} {to}", from.display());
        }
        let script = format!(
            "set -e\nmount --make-rprivate /\n{mounts}exec containerd --config /etc/containerd/config.toml --root {root} --state {state} --address {sock}\n",
            root = d.join("containerd/root").display(),
            state = d.join("containerd/state").display(),
            sock = self.containerd_socket().display(),
        );
        std::fs::write(d.join("node.sh"), script).expect("node.sh");
        let mut ctd = Command::new("unshare");
        ctd.args(["-m", "sh"]).arg(d.join("node.sh"));
        self.spawn("containerd", ctd);
        wait_for(Duration::from_secs(30), "containerd's socket", || {
            self.containerd_socket().exists()
        });

        for h in cgroup_hierarchies() {
            std::fs::create_dir_all(h.join(self.cgroup_root())).expect("mkdir a cgroup");
        }
        std::fs::write(d.join("kubelet.yaml"), self.kubelet_config()).expect("kubelet.yaml");
        let mut kubelet = self.node_command(self.bin.join("kubelet"));
        kubelet
            .arg(format!("--config={}", d.join("kubelet.yaml").display()))
            .arg(format!("--kubeconfig={}", self.kubeconfig().display()))
            .arg("--hostname-override=127.0.0.1");
        if !taints.is_empty() {
            kubelet.arg(format!("--register-with-taints={}", taints.join(",")));
        }
        self.spawn("kubelet", kubelet);
    }

    fn containerd_config(&self) -> String {
        format!(
            r#"version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "{pause}"
    # The sandbox lacks CAP_SYS_RESOURCE: never ask for an oom_score_adj below containerd's.
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "{cni}"
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "{runc}"
"#,
            pause = PAUSE_IMAGE,
            cni = self.dir.join("cni/net.d").display(),
            runc = self.dir.join("containerd/runc").display(),
        )
    }

    fn kubelet_config(&self) -> String {
        format!(
            r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: /{cgroup}
failSwapOn: false
containerRuntimeEndpoint: unix://{sock}
address: 127.0.0.1
port: {port}
healthzPort: 0
readOnlyPort: 0
authentication:
  anonymous: {{enabled: true}}
  webhook: {{enabled: false}}
authorization: {{mode: AlwaysAllow}}
evictionHard: {{memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
resolvConf: ""
# No cluster DNS runs; pods get a resolver on their own loopback, so nothing leaves it.
clusterDNS: ["127.0.0.1"]
clusterDomain: cluster.local
"#,
            cgroup = self.cgroup_root(),
            sock = self.containerd_socket().display(),
            port = free_port(),
        )
    }

    /// Builds an image with `slipway build` from `context`, writes it as an OCI layout tar
    /// and imports it into the node as `reference` (`NAME:TAG`).
    fn import_built_image(&self, slipway: &Path, what: &str, context: &Path, reference: &str) {
        let (name, tag) = reference.rsplit_once(':').expect("NAME:TAG");
        let store = self.dir.join("images/store");
        let out = Command::new(slipway)
            .args(["build", "--dir"])
            .arg(context)
            .arg("--store")
            .arg(&store)
            .args(["--output", "json"])
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", slipway.display()));
        assert!(
            out.status.success(),
            "slipway build of the {what} image: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("slipway build --output json");
        let stage = report["Images"][what]["DockerTag"]
            .as_str()
            .expect("the build report names the image's tag")
            .to_string();
        let layout = self.dir.join("images").join(what);
        let _ = std::fs::remove_dir_all(&layout);
        let copy = Command::new(slipway)
            .arg("copy")
            .arg(format!("oci:{}:{stage}", store.display()))
            .arg(format!("oci:{}:{tag}", layout.display()))
            .output()
            .expect("run slipway copy");
        assert!(
            copy.status.success(),
            "slipway copy of the {what} image: {}",
            String::from_utf8_lossy(&copy.stderr)
        );
        let tar = self.dir.join("images").join(format!("{what}.tar"));
        let status = Command::new("tar")
            .arg("-C")
            .arg(&layout)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .expect("tar");
        assert!(status.success(), "tar of the {what} image layout");
        self.import(&tar, name);
    }

    fn wait_until_usable(&self) {
        let node = self.node_name();
        wait_for(Duration::from_secs(120), "the node to be Ready", || {
            let out = self.kubectl(&[
                "get",
                "node",
                node,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ]);
            out.status.success() && out.stdout == b"True"
        });
        wait_for(
            Duration::from_secs(60),
            "the default ServiceAccount and kube-root-ca.crt",
            || {
                self.kubectl(&["get", "serviceaccount", "default"])
                    .status
                    .success()
                    && self
                        .kubectl(&["get", "configmap", "kube-root-ca.crt"])
                        .status
                        .success()
            },
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.keep {
            self.stop();
        }
    }
}

/// Prints the ends of the cluster's component logs when dropped during a panic.
pub struct LogsOnFailure<'a> {
    cluster: &'a Cluster,
}

impl Drop for LogsOnFailure<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- test cluster logs ({}) ----\n{}",
                self.cluster.dir.display(),
                self.cluster.log_tail(60)
            );
        }
    }
}

/// Returns the folder of the cached Kubernetes binaries, building them first when they are
/// not cached yet (`scripts/go-tools kubernetes`; minutes when cold).
///
/// # Panics
/// When the build fails.
pub fn kubernetes_bin() -> PathBuf {
    crate::oracle::go_tool("kubernetes")
}

fn cgroup_hierarchies() -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.join("cgroup.procs").exists() && !p.join("cgroup.controllers").exists()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn wait_for(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "waited {} s for {what}",
            limit.as_secs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn read_lossy(path: &Path) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).to_string()
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut b).expect("system randomness");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Writes the cluster CA, the API server's certificate (for 127.0.0.1 and the in-cluster
/// names) and the service-account signing key pair.
fn write_pki(dir: &Path) {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::default();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "slipway test cluster CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let mut leaf = CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        "localhost".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
        "kubernetes.default.svc".to_string(),
        "10.0.0.1".to_string(),
    ])
    .expect("SANs");
    leaf.distinguished_name = rcgen::DistinguishedName::new();
    leaf.distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf.signed_by(&key, &issuer).expect("sign");
    let sa = KeyPair::generate().expect("key");
    for (name, text) in [
        ("ca.crt", ca_cert.pem()),
        ("apiserver.crt", cert.pem()),
        ("apiserver.key", key.serialize_pem()),
        ("sa.key", sa.serialize_pem()),
        ("sa.pub", sa.public_key_pem()),
    ] {
        std::fs::write(dir.join(name), text).expect("write PKI");
    }
}

/// Writes the build context of the pause image: the test kit's `pause.c`, compiled
/// statically, alone on an empty root.
fn pause_context(dir: &Path) -> PathBuf {
    let ctx = dir.join("images/pause-context");
    std::fs::create_dir_all(&ctx).expect("mkdir");
    let src = ctx.join("pause.c");
    std::fs::write(&src, include_str!("pause.c")).expect("pause.c");
    let out = Command::new("gcc")
        .args(["-static", "-Os", "-s", "-o"])
        .arg(ctx.join("pause"))
        .arg(&src)
        .output()
        .expect("gcc (Debian packages gcc, libc6-dev) builds the pause binary");
    assert!(
        out.status.success(),
        "gcc -static pause.c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY pause /pause\nENTRYPOINT [\"/pause\"]\n",
    )
    .expect("Dockerfile");
    std::fs::write(
        ctx.join("werf.yaml"),
        "project: pause\nconfigVersion: 1\n---\nimage: pause\ndockerfile: Dockerfile\n",
    )
    .expect("werf.yaml");
    std::fs::write(ctx.join(".dockerignore"), "pause.c\n").expect(".dockerignore");
    ctx
}

/// Writes the build context of the trust agent image: the `slipway` binary (stripped of
/// debug information), the shared libraries it links, and a static busybox for `sh` and
/// `sleep`, on an otherwise empty root.
fn agent_context(dir: &Path, slipway: &Path) -> PathBuf {
    let ctx = dir.join("images/agent-context");
    let root = ctx.join("root");
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    std::fs::create_dir_all(root.join("usr/local/bin")).expect("mkdir");
    let bin = root.join("usr/local/bin/slipway");
    let stripped = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&bin)
        .arg(slipway)
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(slipway, &bin).expect("copy slipway");
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("busybox (Debian package busybox-static) is the agent image's shell");
    std::fs::copy(busybox, root.join("bin/busybox")).expect("copy busybox");
    for applet in ["sh", "sleep", "cat", "ls"] {
        let link = root.join("bin").join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", link).expect("symlink");
        }
    }
    let ldd = Command::new("ldd").arg(slipway).output().expect("ldd");
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim().split(' ').next().unwrap_or(""),
            None => line.trim().split(' ').next().unwrap_or(""),
        };
        if !path.starts_with('/') {
            continue;
        }
        let target = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(path, &target).unwrap_or_else(|e| panic!("copy {path}: {e}"));
    }
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY root/ /\nENV PATH=/usr/local/bin:/bin\nENTRYPOINT [\"/usr/local/bin/slipway\"]\n",
    )
    .expect("Dockerfile");
    std::fs::write(
        ctx.join("werf.yaml"),
        "project: agent\nconfigVersion: 1\n---\nimage: agent\ndockerfile: Dockerfile\n",
    )
    .expect("werf.yaml");
    ctx
}
