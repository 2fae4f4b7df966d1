//! Test kit for slipway: starts the real Docker Distribution registry (Debian's
//! `docker-registry`) on 127.0.0.1, on a free port, with certificates made at test time.
//!
//! What it is for: integration tests and the demo, against real components. What it is not
//! for: production certificates (see the `pki` crate) or mocking a registry.
//!
//! ```no_run
//! use slipway_testkit::{LeafKind, Registry, TestPki};
//! let pki = TestPki::new();
//! let server = pki.server_cert(LeafKind::CaSigned);
//! let registry = Registry::builder().tls(&server).start();
//! println!("{} trusts {}", registry.host(), server.trust.display());
//! ```
//!
//! It also writes small OCI image layouts ([`oci_layout`]) and runs the real `skopeo`
//! ([`Skopeo`]) to push them, and can restart a registry on the same port with the same
//! storage and a new certificate ([`Registry::restart`]).
//! For the chart tests it runs the real `helm` with a home of its own ([`Helm`]).

mod cluster;
mod containerd;
mod dockerd;
mod helm;
mod http;
mod image;
mod kube;
mod oracle;
mod osroot;
mod skopeo;
mod token;

pub use cluster::{
    AGENT_IMAGE_NAME, Cluster, ClusterBuilder, LogsOnFailure, PAUSE_IMAGE, kubernetes_bin,
};
pub use containerd::Containerd;
pub use dockerd::Dockerd;
pub use helm::{Helm, HelmRun, helm_module};
pub use http::{HttpRequest, read_request};
pub use image::{
    ImageLayout, OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, oci_layout,
    oci_layout_layers, sha256_digest,
};
pub use kube::{FakeKube, KubeHook, KubeRequest, KubeStore, fixtures};
pub use oracle::{
    ask_oracle, ask_template_oracle, go_output, go_source, go_string, go_table_rows, go_tool,
    oracle_upstream,
};
pub use osroot::debian_root;
pub use skopeo::{Skopeo, SkopeoError, cert_dir};
pub use token::{TokenAuth, TokenRequest, TokenServer};

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use time::OffsetDateTime;

/// Names the server certificates the kit can make, one per TLS failure a registry can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafKind {
    /// A leaf for `localhost` and `127.0.0.1`, signed by the kit's CA.
    CaSigned,
    /// The users' most common case: `openssl req -x509` with SANs, marked CA:TRUE by openssl.
    SelfSignedOpenssl,
    /// A CA-signed leaf whose validity ended 30 days ago.
    Expired,
    /// A CA-signed leaf valid only from 30 days from now.
    NotYetValid,
    /// A CA-signed leaf for `wrong.example` only.
    WrongHost,
    /// A CA-signed leaf with `CN=localhost` and no subjectAltName.
    CnOnly,
    /// A leaf signed by an intermediate under the kit's CA; the server sends leaf + intermediate.
    WithIntermediate,
    /// As `WithIntermediate`, but the server sends only the leaf; `trust` is then a bundle of
    /// the intermediate and the root.
    MissingIntermediate,
}

/// Holds one server certificate's files.
#[derive(Clone, Debug)]
pub struct ServerCert {
    /// The chain the server presents (leaf first), for Distribution's `http.tls.certificate`.
    pub chain: PathBuf,
    /// The leaf's private key.
    pub key: PathBuf,
    /// The file a client should trust to accept this server: the root CA, or for the
    /// self-signed kind, the certificate itself.
    pub trust: PathBuf,
}

/// Holds a client certificate pair and the CA that issued it, for mTLS.
#[derive(Clone, Debug)]
pub struct ClientCert {
    /// The client certificate.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// The CA the registry checks client certificates against (`clientcas`).
    pub ca: PathBuf,
}

/// Makes certificates at test time in a temporary folder: one root CA, and leaves of every
/// [`LeafKind`].
pub struct TestPki {
    dir: tempfile::TempDir,
    ca_params: CertificateParams,
    ca_key: KeyPair,
    ca_file: PathBuf,
}

fn serial() -> SerialNumber {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("system randomness");
    b[0] = (b[0] & 0x7f) | 0x01;
    SerialNumber::from_slice(&b)
}

fn ca_params(cn: &str, path_len: Option<u8>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(1);
    p.not_after = now + time::Duration::days(365);
    p.serial_number = Some(serial());
    p
}

fn leaf_params(cn: &str, sans: &[&str], eku: ExtendedKeyUsagePurpose) -> CertificateParams {
    let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("valid SANs");
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![eku];
    p.use_authority_key_identifier_extension = true;
    let now = OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(1);
    p.not_after = now + time::Duration::days(90);
    p.serial_number = Some(serial());
    p
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

impl TestPki {
    /// Creates a root CA (`CN=slipway test CA`) in a new temporary folder.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_params = ca_params("slipway test CA", None);
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
        let ca_file = dir.path().join("ca.crt");
        write(&ca_file, &ca_cert.pem());
        TestPki {
            dir,
            ca_params,
            ca_key,
            ca_file,
        }
    }

    /// Returns the folder the files are written to.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Returns the root CA certificate file.
    pub fn ca(&self) -> &Path {
        &self.ca_file
    }

    /// Makes a server certificate of the given kind, for `localhost` / `127.0.0.1`.
    pub fn server_cert(&self, kind: LeafKind) -> ServerCert {
        // A second certificate of the same kind gets its own files (`casigned-2.chain.pem`),
        // so that one already served by a registry is never overwritten in place.
        let base = format!("{kind:?}").to_lowercase();
        let name = (1..)
            .map(|n| {
                if n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                }
            })
            .find(|n| !self.dir.path().join(format!("{n}.chain.pem")).exists())
            .expect("a free file name");
        let chain = self.dir.path().join(format!("{name}.chain.pem"));
        let key = self.dir.path().join(format!("{name}.key"));
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let sans = ["localhost", "127.0.0.1"];
        let now = OffsetDateTime::now_utc();
        let leaf_key = KeyPair::generate().expect("leaf key");
        let mut p = leaf_params("localhost", &sans, ExtendedKeyUsagePurpose::ServerAuth);
        let pem = match kind {
            LeafKind::SelfSignedOpenssl => {
                openssl_self_signed(&chain, &key, "localhost", "DNS:localhost,IP:127.0.0.1");
                return ServerCert {
                    trust: chain.clone(),
                    chain,
                    key,
                };
            }
            LeafKind::CaSigned => p.signed_by(&leaf_key, &issuer).expect("sign").pem(),
            LeafKind::Expired => {
                p.not_before = now - time::Duration::days(60);
                p.not_after = now - time::Duration::days(30);
                p.signed_by(&leaf_key, &issuer).expect("sign").pem()
            }
            LeafKind::NotYetValid => {
                p.not_before = now + time::Duration::days(30);
                p.not_after = now + time::Duration::days(60);
                p.signed_by(&leaf_key, &issuer).expect("sign").pem()
            }
            LeafKind::WrongHost => leaf_params(
                "wrong.example",
                &["wrong.example"],
                ExtendedKeyUsagePurpose::ServerAuth,
            )
            .signed_by(&leaf_key, &issuer)
            .expect("sign")
            .pem(),
            LeafKind::CnOnly => leaf_params("localhost", &[], ExtendedKeyUsagePurpose::ServerAuth)
                .signed_by(&leaf_key, &issuer)
                .expect("sign")
                .pem(),
            LeafKind::WithIntermediate | LeafKind::MissingIntermediate => {
                let int_key = KeyPair::generate().expect("intermediate key");
                let int_params = ca_params("slipway test intermediate", Some(0));
                let int_cert = int_params
                    .signed_by(&int_key, &issuer)
                    .expect("sign intermediate");
                let int_issuer = Issuer::new(int_params, int_key);
                let leaf = p.signed_by(&leaf_key, &int_issuer).expect("sign leaf");
                if kind == LeafKind::WithIntermediate {
                    format!("{}{}", leaf.pem(), int_cert.pem())
                } else {
                    // The server omits the intermediate, so clients must hold it themselves.
                    let bundle = self.dir.path().join(format!("{name}.trust.pem"));
                    let root = std::fs::read_to_string(&self.ca_file).expect("read CA");
                    write(&bundle, &format!("{}{root}", int_cert.pem()));
                    write(&chain, &leaf.pem());
                    write(&key, &leaf_key.serialize_pem());
                    return ServerCert {
                        chain,
                        key,
                        trust: bundle,
                    };
                }
            }
        };
        write(&chain, &pem);
        write(&key, &leaf_key.serialize_pem());
        ServerCert {
            chain,
            key,
            trust: self.ca_file.clone(),
        }
    }

    /// Makes a client CA and a client certificate it issued, for mTLS.
    pub fn client_cert(&self) -> ClientCert {
        let ca_key = KeyPair::generate().expect("client CA key");
        let ca_p = ca_params("slipway test client CA", Some(0));
        let ca_cert = ca_p.self_signed(&ca_key).expect("client CA");
        let issuer = Issuer::new(ca_p, ca_key);
        let key = KeyPair::generate().expect("client key");
        let cert = leaf_params("slipway-client", &[], ExtendedKeyUsagePurpose::ClientAuth)
            .signed_by(&key, &issuer)
            .expect("client cert");
        let d = self.dir.path();
        write(&d.join("client-ca.crt"), &ca_cert.pem());
        write(&d.join("client.cert"), &cert.pem());
        write(&d.join("client.key"), &key.serialize_pem());
        ClientCert {
            cert: d.join("client.cert"),
            key: d.join("client.key"),
            ca: d.join("client-ca.crt"),
        }
    }
}

/// Makes a self-signed registry certificate with the openssl CLI, as users do: `openssl req -x509` for `cn`, with
/// the given subjectAltName (e.g. `DNS:localhost,IP:127.0.0.1`); openssl marks it CA:TRUE.
///
/// # Panics
/// When the openssl CLI is missing or fails.
pub fn openssl_self_signed(cert: &Path, key: &Path, cn: &str, san: &str) {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "30",
        ])
        .arg("-subj")
        .arg(format!("/CN={cn}"))
        .arg("-addext")
        .arg(format!("subjectAltName={san}"))
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .output()
        .expect("the openssl CLI must be installed (scripts/setup installs it)");
    assert!(
        out.status.success(),
        "openssl req -x509 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts a registry. See [`Registry::builder`].
#[derive(Default)]
pub struct RegistryBuilder {
    tls: Option<ServerCert>,
    client_ca: Option<PathBuf>,
    htpasswd: Option<(String, String)>,
    token: Option<TokenAuth>,
    access_log: bool,
}

impl RegistryBuilder {
    /// Logs every request the registry answers (method, path with query, status) to its
    /// log, so a test can count what a client really sent ([`Registry::requests`]).
    pub fn access_log(mut self) -> Self {
        self.access_log = true;
        self
    }

    /// Serves TLS with this certificate (otherwise plain HTTP).
    pub fn tls(mut self, cert: &ServerCert) -> Self {
        self.tls = Some(cert.clone());
        self
    }

    /// Requires client certificates issued by this CA (`http.tls.clientcas`).
    pub fn client_ca(mut self, ca: &Path) -> Self {
        self.client_ca = Some(ca.into());
        self
    }

    /// Requires Bearer tokens from a token server (`auth: token`), such as a
    /// [`TokenServer`]'s.
    pub fn token_auth(mut self, auth: &TokenAuth) -> Self {
        self.token = Some(auth.clone());
        self
    }

    /// Requires Basic auth with this user (bcrypt htpasswd, made with `htpasswd -B`).
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.htpasswd = Some((user.into(), password.into()));
        self
    }

    /// Starts `docker-registry serve` on 127.0.0.1 and a free port, and waits until it accepts.
    ///
    /// # Panics
    /// When `docker-registry` is not installed or does not come up: the test cannot run, and
    /// says so loudly rather than skipping.
    pub fn start(self) -> Registry {
        let mut last_err = String::new();
        for _ in 0..3 {
            match self.try_start() {
                Ok(r) => return r,
                Err(e) => last_err = e,
            }
        }
        panic!("docker-registry did not start: {last_err}");
    }

    fn try_start(&self) -> Result<Registry, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port();
        let htpasswd = match &self.htpasswd {
            Some((user, pass)) => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, pass])
                    .output()
                    .map_err(|e| {
                        format!("htpasswd (apache2-utils) is needed for basic auth: {e}")
                    })?;
                if !out.status.success() {
                    return Err(format!(
                        "htpasswd failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, &out.stdout).map_err(|e| e.to_string())?;
                Some(file)
            }
            None => None,
        };
        let settings = Settings {
            tls: self.tls.clone(),
            client_ca: self.client_ca.clone(),
            htpasswd,
            token: self.token.clone(),
            access_log: self.access_log,
        };
        let log = dir.path().join("registry.log");
        let child = spawn_registry(dir.path(), port, &settings, &log)?;
        Ok(Registry {
            child,
            dir,
            port,
            settings,
            log,
        })
    }
}

/// What a registry serves with; kept so that [`Registry::restart`] can rewrite the config.
#[derive(Clone, Debug)]
struct Settings {
    tls: Option<ServerCert>,
    client_ca: Option<PathBuf>,
    /// The htpasswd file, already written in the registry's folder.
    htpasswd: Option<PathBuf>,
    /// The token server whose tokens it requires.
    token: Option<TokenAuth>,
    /// Whether requests are logged.
    access_log: bool,
}

/// Renders Distribution's `config.yml` for a registry in `dir` on `port`.
fn registry_config(dir: &Path, port: u16, settings: &Settings) -> String {
    // `draintimeout` makes SIGTERM a graceful shutdown (exit status 0 within milliseconds
    // when no request is in flight) instead of Go's default death by signal.
    let mut cfg = format!(
        "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: {}\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: slipway-testkit-secret\n  draintimeout: 2s\n",
        !settings.access_log,
        dir.join("data").display()
    );
    if let Some(tls) = &settings.tls {
        cfg += &format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            tls.chain.display(),
            tls.key.display()
        );
        if let Some(ca) = &settings.client_ca {
            cfg += &format!("    clientcas:\n      - {}\n", ca.display());
        }
    }
    if let Some(file) = &settings.htpasswd {
        cfg += &format!(
            "auth:\n  htpasswd:\n    realm: slipway-test\n    path: {}\n",
            file.display()
        );
    } else if let Some(token) = &settings.token {
        cfg += &token::registry_section(token);
    }
    cfg
}

/// Writes the config, starts `docker-registry serve` and waits until it accepts
/// connections on `port`. On failure the process is killed and reaped.
fn spawn_registry(dir: &Path, port: u16, settings: &Settings, log: &Path) -> Result<Child, String> {
    let config = dir.join("config.yml");
    std::fs::write(&config, registry_config(dir, port, settings)).map_err(|e| e.to_string())?;
    // Appended, so that the log of a restarted registry keeps what came before.
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| e.to_string())?;
    let mut child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("cannot run docker-registry (Debian package docker-registry; scripts/setup installs it): {e}"))?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "docker-registry exited with {status}: {}",
                read_text(log)
            ));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "docker-registry did not listen on {addr} within 15 s: {}",
                read_text(log)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_text(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

/// A running `docker-registry` process; stopped and cleaned up when dropped.
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    settings: Settings,
    log: PathBuf,
}

impl Registry {
    /// Starts building a registry.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// Returns `localhost:PORT`, the name the test certificates are issued for.
    pub fn host(&self) -> String {
        format!("localhost:{}", self.port)
    }

    /// Returns the port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns whether the registry serves TLS.
    pub fn is_tls(&self) -> bool {
        self.settings.tls.is_some()
    }

    /// Returns the certificate the registry serves, if it serves TLS.
    pub fn server_cert(&self) -> Option<&ServerCert> {
        self.settings.tls.as_ref()
    }

    /// Returns the registry's state folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Returns the requests the registry answered, as `METHOD PATH?QUERY` lines in order
    /// (empty unless it was built with [`RegistryBuilder::access_log`]).
    pub fn requests(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter_map(|l| {
                // Apache combined format: `... "METHOD URI HTTP/1.1" STATUS ...`.
                let quoted = l.split('"').nth(1)?;
                let mut words = quoted.split(' ');
                let (method, uri) = (words.next()?, words.next()?);
                words
                    .next()
                    .filter(|p| p.starts_with("HTTP/"))
                    .map(|_| format!("{method} {uri}"))
            })
            .collect()
    }

    /// Returns what the registry has logged so far (across restarts).
    pub fn log_text(&self) -> String {
        read_text(&self.log)
    }

    /// Stops the registry and starts it again on the same port with the same storage, so
    /// pushed images survive, and waits until it accepts connections again.
    ///
    /// With `Some(cert)` it then serves TLS with that certificate (also when it served plain
    /// HTTP before); with `None` it keeps its TLS setting and certificate files (which it
    /// reads again, so a certificate rewritten in place is picked up). Client CA and basic
    /// auth stay as they were.
    ///
    /// The stop is gentle: SIGTERM (the registry drains its connections and exits), then
    /// after 5 s a kill.
    ///
    /// # Panics
    /// When the registry does not come up again (for example because another process took
    /// the port in between); the message holds the registry's log.
    pub fn restart(&mut self, tls: Option<&ServerCert>) {
        self.stop();
        self.start_again(tls);
    }

    /// Kills the registry with SIGKILL (no draining: in-flight requests break, as in a
    /// crash) and starts it again on the same port and storage.
    ///
    /// # Panics
    /// As [`Registry::restart`].
    pub fn crash_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.start_again(None);
    }

    fn start_again(&mut self, tls: Option<&ServerCert>) {
        if let Some(cert) = tls {
            self.settings.tls = Some(cert.clone());
        }
        let _ = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, b"--- slipway-testkit: registry restarted ---\n")
            });
        let mut last_err = String::new();
        for _ in 0..3 {
            match spawn_registry(self.dir.path(), self.port, &self.settings, &self.log) {
                Ok(child) => {
                    self.child = child;
                    return;
                }
                Err(e) => last_err = e,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "docker-registry did not restart on port {}: {last_err}",
            self.port
        );
    }

    /// Sends SIGTERM and waits up to 5 s for the process to exit, then kills it.
    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // The child is not reaped yet, so its pid cannot have been reused.
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if sent {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns a port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Listens on 127.0.0.1 and accepts connections but never answers, to produce timeouts.
pub struct SilentServer {
    listener: TcpListener,
    held: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
    _thread: std::thread::JoinHandle<()>,
}

impl SilentServer {
    /// Starts accepting on a free port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let accept = listener.try_clone().expect("clone listener");
        let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let h = held.clone();
        let thread = std::thread::spawn(move || {
            for s in accept.incoming().flatten() {
                h.lock().unwrap_or_else(|p| p.into_inner()).push(s);
            }
        });
        SilentServer {
            listener,
            held,
            _thread: thread,
        }
    }

    /// Returns `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!(
            "127.0.0.1:{}",
            self.listener.local_addr().expect("addr").port()
        )
    }

    /// Returns how many connections were accepted.
    pub fn accepted(&self) -> usize {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Returns a rustls server configuration that serves `cert` (for the small TLS servers
/// tests run: fake registries, the token server).
///
/// # Panics
/// When the certificate or key cannot be read.
pub fn tls_server_config(cert: &ServerCert) -> rustls::ServerConfig {
    use rustls::pki_types::pem::PemObject;
    let chain = rustls::pki_types::CertificateDer::pem_file_iter(&cert.chain)
        .expect("chain")
        .collect::<Result<Vec<_>, _>>()
        .expect("chain");
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&cert.key).expect("key");
    rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server config")
}
