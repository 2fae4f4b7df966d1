//! The `buildah` backend: runs Debian's buildah (1.28) for Dockerfiles with `RUN` and
//! exports the result as an OCI image layout for the engine to store and push.
//!
//! buildah runs with `--isolation chroot` (we are root) and with all of its state inside the
//! job's private folder: storage root, run root, temp files, and its configuration. It never
//! reads `/etc/containers` or `/var/lib/containers`, and never the user's home:
//!
//! - `registries.conf` (`CONTAINERS_REGISTRIES_CONF`, plus an empty drop-in folder) marks as
//!   `insecure` only the hosts whose trust policy says skip-verify or plain HTTP.
//!   `--tls-verify=false` is never passed.
//! - CA certificates go into a per-host tree, `HOME/.config/containers/certs.d/<host:port>/ca.crt`,
//!   with `HOME` pointing into the job folder. buildah 1.28 (containers/image 5.23) has no
//!   environment variable or flag for a per-host certs.d root: `--cert-dir` is one flat folder
//!   whose CAs would be trusted for *every* registry. The per-user certs.d folder under `HOME`
//!   is looked up first, per host, so a CA given for one host is trusted for that host only.
//!   Every listed host gets its folder (empty when it has no CA), so buildah never falls back
//!   to the machine's `/etc/containers/certs.d` or `/etc/docker/certs.d` for it: slipway's
//!   policy has already read those.

use slipway_registry::credentials::CredentialStore;
use std::collections::{BTreeMap, VecDeque};

use slipway_proc::{Invocation, Processes};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use slipway_dockerfile::Dockerfile;

/// The local name the built image gets inside the job's private storage.
const IMAGE_NAME: &str = "localhost/slipway-buildah-output:latest";
/// How many of buildah's last output lines an error carries.
const TAIL_LINES: usize = 30;

/// What buildah needs to know about one registry host the build pulls from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostAccess {
    /// The host as image references spell it, e.g. `registry.test:5000`.
    pub host: String,
    /// PEM certificates to trust for this host (CAs and pinned self-signed certificates).
    pub ca_pems: Vec<String>,
    /// True only when the trust policy says skip-verify or plain HTTP for this host.
    pub insecure: bool,
    /// What asked for `insecure` (for the engine's announcement).
    pub insecure_reason: Option<String>,
}

impl HostAccess {
    /// Builds the access for one host from its resolved trust: the host-specific roots and
    /// pinned certificates as PEM, and `insecure` when skip-verify or plain HTTP is set. The
    /// base roots (system bundle, `SSL_CERT_FILE`) are not copied: buildah reads them itself.
    ///
    /// # Errors
    /// [`BuildahError::ClientCert`] when the host needs a client certificate: the key lives in
    /// rustls and cannot be handed to buildah.
    pub fn from_trust(trust: &slipway_trust::HostTrust) -> Result<HostAccess, BuildahError> {
        let host = trust.host.to_string();
        if trust.identity.is_some() {
            return Err(BuildahError::ClientCert { host });
        }
        let ca_pems = trust.host_pems();
        let insecure_reason = trust
            .skip_verify
            .clone()
            .or_else(|| trust.plain_http.as_ref().map(|p| p.by.clone()));
        Ok(HostAccess {
            host,
            ca_pems,
            insecure: insecure_reason.is_some(),
            insecure_reason,
        })
    }
}

/// One buildah build, as the engine describes it.
#[derive(Clone, Copy)]
pub struct BuildahJob<'a> {
    /// The build context folder.
    pub context: &'a Path,
    /// The Dockerfile; its last stage is built.
    pub dockerfile: &'a Path,
    /// Build arguments (`--build-arg K=V`, in key order).
    pub args: &'a BTreeMap<String, String>,
    /// The registries the `FROM` lines pull from.
    pub hosts: &'a [HostAccess],
    /// The platform, `os/arch` (`--platform`).
    pub platform: Option<&'a str>,
    /// Extra `/etc/hosts` entries for `RUN` steps, `host:ip` (`--add-host`, in order).
    pub add_hosts: &'a [String],
    /// The network mode of `RUN` steps (`--network`); buildah's default when `None`. With
    /// `--isolation chroot`, buildah 1.28 accepts only `host`.
    pub network: Option<&'a str>,
    /// Build secrets for `RUN --mount=type=secret` (`--secret id=ID,src=FILE`, in order).
    pub secrets: &'a [BuildSecret],
    /// The SSH agent for `RUN --mount=type=ssh`: its id and socket (`--ssh ID=SOCKET`).
    pub ssh: Option<(&'a str, &'a Path)>,
    /// Texts masked as `****` in every line of buildah's output, log and error alike: the
    /// secrets' values (see [`masks_of`]).
    pub masks: &'a [String],
    /// A private, existing folder: buildah's storage, config and the output go here. Jobs
    /// may share it, one after the other: the storage then keeps the layers pulled before.
    pub work_dir: &'a Path,
    /// The creation time of the image, in epoch seconds (`--timestamp`; 0 is reproducible).
    pub timestamp: i64,
    /// How buildah (and `umount`) are run.
    pub processes: &'a dyn Processes,
}

/// One build secret as buildah takes it: the id a `RUN --mount=type=secret,id=ID` names, and
/// the file holding the value (which buildah copies into the step's `/run/secrets/ID`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildSecret {
    /// The id.
    pub id: String,
    /// The file with the value; its path holds no comma.
    pub src: PathBuf,
}

/// The shortest line of a secret that is masked in buildah's output; shorter ones would
/// mask common words.
pub const MIN_MASKED: usize = 4;

/// Returns what to mask in buildah's output for a secret's value: the value and each of its
/// lines, trimmed, of at least [`MIN_MASKED`] characters, longest first.
pub fn masks_of(value: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(value);
    let mut out: Vec<String> = std::iter::once(text.trim())
        .chain(text.lines().map(str::trim))
        .filter(|l| l.chars().count() >= MIN_MASKED)
        .map(str::to_string)
        .collect();
    out.sort_by_key(|m| std::cmp::Reverse(m.len()));
    out.dedup();
    out
}

/// Replaces every mask in `line` with `****`.
pub fn mask<'l>(line: &'l str, masks: &[String]) -> std::borrow::Cow<'l, str> {
    let mut out = std::borrow::Cow::Borrowed(line);
    for m in masks {
        if !m.is_empty() && out.contains(m.as_str()) {
            out = std::borrow::Cow::Owned(out.replace(m.as_str(), "****"));
        }
    }
    out
}

/// Why a buildah build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildahError {
    /// buildah is not on `PATH`.
    #[error(
        "buildah is not installed: install the Debian package `buildah`, or build with --backend native (no RUN)"
    )]
    NotInstalled,
    /// A registry buildah would pull from itself (a `COPY --from` or `RUN --mount from=`
    /// image) needs a client certificate (mTLS).
    #[error(
        "registry {host} needs a client certificate, and buildah cannot be given slipway's \
         client key: in a stage with RUN, take an image from it through a stage of its own \
         (`FROM {host}/IMAGE AS NAME`, then `--from=NAME`), which slipway pulls"
    )]
    ClientCert {
        /// The registry.
        host: String,
    },
    /// A host name that cannot be a registry host (it would escape the certificate folder or
    /// break `registries.conf`).
    #[error("registry host {host:?} is not a valid host[:port]")]
    InvalidHost {
        /// The host as given.
        host: String,
    },
    /// buildah ran and failed.
    #[error("buildah {step} failed ({status}); its last output lines:\n{tail}")]
    Failed {
        /// `build` or `push`.
        step: &'static str,
        /// How buildah ended (`exit status 1`).
        status: String,
        /// The last lines (up to 30) of buildah's output.
        tail: String,
    },
    /// A file in the work folder could not be written, or buildah could not be started.
    #[error("I/O error on {}", path.display())]
    Io {
        /// The file or program.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BuildahError + '_ {
    move |source| BuildahError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Tells whether `buildah` is on `PATH`, and its version line (`buildah --version`).
pub fn available(processes: &dyn Processes) -> Option<String> {
    let out = processes
        .run(&Invocation::new("buildah").arg("--version"))
        .ok()?;
    out.success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A symbolic link to a store, at a path buildah accepts after `oci:`: buildah 1.28 turns
/// the path into an image name (`localhost/PATH`), so every component must be lowercase
/// letters and digits joined by `.`, `_` or `-`. Removed when dropped.
pub struct StoreLink {
    path: PathBuf,
    /// The store's canonical path.
    target: PathBuf,
}

impl StoreLink {
    /// Links `/tmp/slipway-stages-<16 hex>` (or under `$TMPDIR` when its path is such a name)
    /// to `store`; the name is unique to this process and moment.
    ///
    /// # Errors
    /// [`BuildahError::Io`] when the store cannot be resolved or the link not made.
    pub fn new(store: &Path) -> Result<StoreLink, BuildahError> {
        let target = std::fs::canonicalize(store).map_err(io_err(store))?;
        let tmp = std::env::temp_dir();
        let dir = if image_name_path(&tmp) {
            tmp
        } else {
            PathBuf::from("/tmp")
        };
        let seed = format!("{}:{:?}", std::process::id(), std::time::SystemTime::now());
        let name = slipway_oci::Digest::sha256_of(seed.as_bytes()).hex()[..16].to_string();
        let path = dir.join(format!("slipway-stages-{name}"));
        std::os::unix::fs::symlink(&target, &path).map_err(io_err(&path))?;
        Ok(StoreLink { path, target })
    }

    /// Returns the link's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tells whether `folder` is the store this link points at.
    pub fn links_to(&self, folder: &Path) -> bool {
        std::fs::canonicalize(folder).is_ok_and(|f| f == self.target)
    }
}

impl Drop for StoreLink {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Tells whether every component of an absolute path is a valid image-name component.
fn image_name_path(p: &Path) -> bool {
    p.is_absolute()
        && p.components().skip(1).all(|c| {
            let s = c.as_os_str().to_string_lossy();
            let b = s.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
                })
        })
}

/// Writes the Dockerfile that builds stage `index` of `df` (parsed from `text`) on its own.
///
/// It keeps the text before the first `FROM` (parser directives, global `ARG`s), then has
/// one `FROM` per earlier stage, so that stage names and `--from=N` numbers keep their
/// meaning. A stage that `deps` maps to an image becomes `FROM <image> AS <name>`; any other
/// stays an empty `FROM scratch`, which buildah skips as unused. Last come the stage's own
/// lines, unchanged, so it is the one built; with `base`, its `FROM` instruction (with any
/// continuation lines) is replaced by `FROM <base> [AS <name>]`.
pub fn stage_dockerfile(
    text: &str,
    df: &Dockerfile,
    index: usize,
    deps: &BTreeMap<usize, String>,
    base: Option<&str>,
) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    // `line` is 1-based; a stage runs up to the line before the next `FROM`.
    let start = |i: usize| df.stages[i].line - 1;
    let end = |i: usize| df.stages.get(i + 1).map_or(lines.len(), |n| n.line - 1);
    let mut out: String = lines[..start(0)].concat();
    for (j, stage) in df.stages.iter().enumerate().take(index) {
        let name = stage
            .name
            .clone()
            .unwrap_or_else(|| format!("slipway-stage-{j}"));
        let base = deps.get(&j).map_or("scratch", String::as_str);
        out.push_str(&format!("FROM {base} AS {name}\n"));
    }
    let own = match base {
        None => start(index),
        Some(base) => {
            let stage = &df.stages[index];
            out.push_str(&format!("FROM {base}"));
            if let Some(name) = &stage.name {
                out.push_str(&format!(" AS {name}"));
            }
            out.push('\n');
            // The FROM ends where the stage's first instruction starts.
            stage
                .instructions
                .first()
                .map_or(end(index), |i| i.line - 1)
        }
    };
    out.push_str(&lines[own..end(index)].concat());
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Runs the build and writes the image as an OCI layout at `<work_dir>/out`, tagged `image`
/// (one OCI manifest, gzip layers). Returns the layout path. Every line buildah prints goes
/// to `log`. Afterwards, success or failure, no container or mount is left under `work_dir`.
///
/// # Errors
/// [`BuildahError::NotInstalled`], [`BuildahError::InvalidHost`], [`BuildahError::Io`] for
/// the work folder, and [`BuildahError::Failed`] with buildah's exit status and output tail.
pub fn run(job: &BuildahJob<'_>, log: &mut dyn FnMut(&str)) -> Result<PathBuf, BuildahError> {
    if job.work_dir.to_string_lossy().contains(':') {
        // The `oci:PATH:TAG` transport splits at the first ':'.
        return Err(BuildahError::Io {
            path: job.work_dir.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                "buildah cannot write an OCI layout under a path holding ':'",
            ),
        });
    }
    let work = std::fs::canonicalize(job.work_dir).map_err(io_err(job.work_dir))?;
    let env = Env::write(&work, job.hosts)?;
    let result = build_and_push(job, &env, log);
    // Containers are removed by `build` itself (`--rm`); this is for a build killed halfway.
    let _ = stream(
        job.processes,
        env.buildah(&[OsString::from("rm"), "--all".into()]),
        "rm",
        &mut |_| {},
        &[],
    );
    unmount_under(job.processes, &work, log);
    result
}

fn build_and_push(
    job: &BuildahJob<'_>,
    env: &Env,
    log: &mut dyn FnMut(&str),
) -> Result<PathBuf, BuildahError> {
    let mut args: Vec<OsString> = vec![
        "build".into(),
        "--isolation=chroot".into(),
        "--signature-policy".into(),
        env.policy.clone().into(),
        "--format=oci".into(),
        "--layers=false".into(),
        // Images come from slipway's store (bases, earlier stages) or, for `--from` images,
        // over the network through the trust written above; never from a buildah store
        // someone else filled.
        "--pull=always".into(),
        format!("--timestamp={}", job.timestamp).into(),
        "-t".into(),
        IMAGE_NAME.into(),
        "-f".into(),
        job.dockerfile.into(),
    ];
    if let Some(platform) = job.platform {
        args.extend(["--platform".into(), platform.into()]);
    }
    for host in job.add_hosts {
        args.extend(["--add-host".into(), host.into()]);
    }
    if let Some(network) = job.network {
        args.extend(["--network".into(), network.into()]);
    }
    for secret in job.secrets {
        let mut spec = OsString::from(format!("id={},src=", secret.id));
        spec.push(&secret.src);
        args.extend(["--secret".into(), spec]);
    }
    if let Some((id, socket)) = job.ssh {
        let mut spec = OsString::from(format!("{id}="));
        spec.push(socket);
        args.extend(["--ssh".into(), spec]);
    }
    for (k, v) in job.args {
        args.extend(["--build-arg".into(), format!("{k}={v}").into()]);
    }
    args.push(job.context.into());
    stream(job.processes, env.buildah(&args), "build", log, job.masks)?;

    let out = env.root.join("out");
    let push: Vec<OsString> = vec![
        "push".into(),
        "--signature-policy".into(),
        env.policy.clone().into(),
        "--format=oci".into(),
        "--compression-format=gzip".into(),
        IMAGE_NAME.into(),
        format!("oci:{}:image", out.display()).into(),
    ];
    stream(job.processes, env.buildah(&push), "push", log, job.masks)?;
    Ok(out)
}

/// The files and folders one job's buildah runs with, all under the work folder.
struct Env {
    root: PathBuf,
    home: PathBuf,
    registries_conf: PathBuf,
    policy: PathBuf,
    driver: &'static str,
}

impl Env {
    /// Writes buildah's configuration into `root` and creates its folders.
    fn write(root: &Path, hosts: &[HostAccess]) -> Result<Env, BuildahError> {
        let home = root.join("home");
        let certs_d = home.join(".config/containers/certs.d");
        for h in hosts {
            if !valid_host(&h.host) {
                return Err(BuildahError::InvalidHost {
                    host: h.host.clone(),
                });
            }
            let dir = certs_d.join(&h.host);
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            if !h.ca_pems.is_empty() {
                let file = dir.join("ca.crt");
                let mut pem = String::new();
                for p in &h.ca_pems {
                    pem.push_str(p.trim_end());
                    pem.push('\n');
                }
                std::fs::write(&file, pem).map_err(io_err(&file))?;
            }
        }
        for d in ["storage", "run", "tmp", "registries.conf.d"] {
            let dir = root.join(d);
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        }
        let driver = storage_driver(root);
        let files = [
            ("registries.conf", registries_conf(hosts)),
            // Signature policy (not TLS): accept unsigned images, as Debian's default does.
            (
                "policy.json",
                "{\"default\":[{\"type\":\"insecureAcceptAnything\"}]}\n".into(),
            ),
            (
                "storage.conf",
                format!(
                    "[storage]\ndriver = \"{driver}\"\ngraphroot = {}\nrunroot = {}\n",
                    toml_string(&root.join("storage").to_string_lossy()),
                    toml_string(&root.join("run").to_string_lossy()),
                ),
            ),
            // An empty containers.conf, so the system one is not read.
            ("containers.conf", String::new()),
        ];
        for (name, text) in files {
            let file = root.join(name);
            std::fs::write(&file, text).map_err(io_err(&file))?;
        }
        Ok(Env {
            root: root.to_path_buf(),
            registries_conf: root.join("registries.conf"),
            policy: root.join("policy.json"),
            home,
            driver,
        })
    }

    /// `buildah` with the global options and environment that keep it inside the work folder.
    fn buildah(&self, args: &[OsString]) -> Invocation {
        let mut cmd = Invocation::new("buildah")
            .arg("--root")
            .arg(self.root.join("storage"))
            .arg("--runroot")
            .arg(self.root.join("run"))
            .arg("--storage-driver")
            .arg(self.driver)
            .arg("--registries-conf")
            .arg(&self.registries_conf)
            .arg("--registries-conf-dir")
            .arg(self.root.join("registries.conf.d"))
            .args(args)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("BUILDAH_ISOLATION", "chroot")
            .env("CONTAINERS_REGISTRIES_CONF", &self.registries_conf)
            .env("CONTAINERS_STORAGE_CONF", self.root.join("storage.conf"))
            .env("CONTAINERS_CONF", self.root.join("containers.conf"))
            .env("TMPDIR", self.root.join("tmp"))
            .env_remove("DOCKER_CONFIG");
        // `HOME` moved, so buildah would no longer find the user's docker login; hand it the
        // file docker itself reads, when there is one. (buildah refuses a `DOCKER_CONFIG`
        // folder without a config.json, so that variable is never passed on.)
        if std::env::var_os("REGISTRY_AUTH_FILE").is_none()
            && let Some(file) = CredentialStore::from_env()
                .docker_config
                .filter(|f| f.is_file())
        {
            cmd = cmd.env("REGISTRY_AUTH_FILE", file);
        }
        cmd
    }
}

/// Accepts `host`, `host:port` and `[v6]:port` made of the characters registry hosts use.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host != "."
        && host != ".."
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c))
}

/// Renders a containers-registries.conf (v2): short names mean Docker Hub, as they do for
/// docker and for slipway's own reference parser (with short-name prompts off), and
/// `insecure = true` for exactly the hosts whose policy asked for it.
fn registries_conf(hosts: &[HostAccess]) -> String {
    let mut s = String::from(
        "# Written by slipway for one buildah build.\nunqualified-search-registries = [\"docker.io\"]\nshort-name-mode = \"disabled\"\n",
    );
    for h in hosts.iter().filter(|h| h.insecure) {
        s.push_str(&format!(
            "\n[[registry]]\nlocation = {}\ninsecure = true\n",
            toml_string(&h.host)
        ));
    }
    s
}

/// Quotes `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Picks the storage driver for the folder `dir` is on. Kernel overlay (as root, no
/// fuse-overlayfs needed) shares the base image's layers and mounts in milliseconds; vfs
/// copies the whole root file system for every container. overlay cannot use an overlay
/// (or aufs) file system as its upper layer, so there, and only there, vfs is chosen.
fn storage_driver(dir: &Path) -> &'static str {
    let fs = mounts()
        .into_iter()
        .filter(|(point, _)| dir.starts_with(point))
        .max_by_key(|(point, _)| point.as_os_str().len())
        .map(|(_, fs)| fs);
    match fs.as_deref() {
        Some("overlay" | "aufs") => "vfs",
        _ => "overlay",
    }
}

/// Reads `/proc/self/mountinfo` as `(mount point, file system type)` pairs.
fn mounts() -> Vec<(PathBuf, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let fs = right.split(' ').next()?;
            Some((PathBuf::from(unescape_mount(point)), fs.to_string()))
        })
        .collect()
}

/// Undoes the kernel's octal escapes (`\040` for a space) in a mountinfo path.
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lazily unmounts whatever is still mounted under `dir`, deepest first, so that the engine
/// can delete the folder.
fn unmount_under(processes: &dyn Processes, dir: &Path, log: &mut dyn FnMut(&str)) {
    let mut points: Vec<PathBuf> = mounts()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    for p in points {
        let ok = processes
            .run(&Invocation::new("umount").arg("-l").arg(&p))
            .is_ok_and(|o| o.success());
        if !ok {
            log(&format!("could not unmount {}", p.display()));
        }
    }
}

/// Runs buildah with stdout and stderr merged, sends each line to `log` with `masks`
/// masked, and keeps the last [`TAIL_LINES`] (masked too) for the error.
fn stream(
    processes: &dyn Processes,
    inv: Invocation,
    step: &'static str,
    log: &mut dyn FnMut(&str),
    masks: &[String],
) -> Result<(), BuildahError> {
    let mut tail: VecDeque<String> = VecDeque::new();
    let ended = processes.run_lines(&inv, &mut |line| {
        let line = &*mask(line, masks);
        log(line);
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.to_string());
    });
    let finished = match ended {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(BuildahError::NotInstalled),
        other => other.map_err(io_err(Path::new("buildah")))?,
    };
    if finished.success() {
        return Ok(());
    }
    Err(BuildahError::Failed {
        step,
        status: finished.describe(),
        tail: Vec::from(tail).join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_testkit::{LeafKind, Registry, TestPki};

    #[test]
    fn store_links_have_paths_buildah_takes_as_image_names() {
        assert!(image_name_path(Path::new("/tmp/slipway-stages-0a1b")));
        assert!(!image_name_path(Path::new("/tmp/.tmp8pZMon/store")));
        assert!(!image_name_path(Path::new("/tmp/Upper")));
        assert!(!image_name_path(Path::new("relative")));
        let store = tempfile::tempdir().unwrap();
        let link = StoreLink::new(store.path()).unwrap();
        assert!(image_name_path(link.path()), "{}", link.path().display());
        assert_eq!(
            std::fs::canonicalize(link.path()).unwrap(),
            std::fs::canonicalize(store.path()).unwrap()
        );
        assert!(link.links_to(store.path()) && link.links_to(link.path()));
        assert!(!link.links_to(Path::new("/tmp")));
        let path = link.path().to_path_buf();
        drop(link);
        assert!(
            std::fs::symlink_metadata(&path).is_err(),
            "the link is removed"
        );
    }

    #[test]
    fn a_stage_alone_keeps_names_numbers_and_its_own_text() {
        let text = "# syntax=docker/dockerfile:1\nARG BASE=alpine\n\
                    FROM ${BASE} AS deps\nRUN make \\\n  deps\n\n\
                    FROM scratch\nCOPY x /x\n\
                    FROM deps AS app\nCOPY --from=1 /x /x\nRUN build\n\
                    FROM scratch\nCOPY --from=app /out /out";
        let df = slipway_dockerfile::parse(text).unwrap();
        let deps = BTreeMap::from([
            (0, "r.test/app@sha256:aaaa".to_string()),
            (1, "r.test/app@sha256:bbbb".to_string()),
        ]);
        assert_eq!(
            stage_dockerfile(text, &df, 2, &deps, None),
            "# syntax=docker/dockerfile:1\nARG BASE=alpine\n\
             FROM r.test/app@sha256:aaaa AS deps\n\
             FROM r.test/app@sha256:bbbb AS slipway-stage-1\n\
             FROM deps AS app\nCOPY --from=1 /x /x\nRUN build\n"
        );
        // The first stage keeps its continuation lines; the last gets a final newline.
        assert_eq!(
            stage_dockerfile(text, &df, 0, &BTreeMap::new(), None),
            "# syntax=docker/dockerfile:1\nARG BASE=alpine\n\
             FROM ${BASE} AS deps\nRUN make \\\n  deps\n\n"
        );
        let last = stage_dockerfile(
            text,
            &df,
            3,
            &BTreeMap::from([(2, "img".to_string())]),
            None,
        );
        assert!(
            last.ends_with(
                "FROM scratch AS deps\nFROM scratch AS slipway-stage-1\nFROM img AS app\n\
                 FROM scratch\nCOPY --from=app /out /out\n"
            ),
            "{last}"
        );
        slipway_dockerfile::parse(&last).expect("the rewritten file parses");
    }

    #[test]
    fn a_stage_can_start_from_a_base_in_the_store_instead_of_its_from_line() {
        let text = "ARG BASE\nFROM --platform=linux/amd64 \\\n  ${BASE} AS deps\n\
                    # a comment\nRUN make\nFROM scratch\nCOPY --from=deps /x /x\n\
                    FROM ${BASE}\n";
        let df = slipway_dockerfile::parse(text).unwrap();
        let store = "oci:/tmp/slipway-stages-0123:base-abcd";
        assert_eq!(
            stage_dockerfile(text, &df, 0, &BTreeMap::new(), Some(store)),
            "ARG BASE\nFROM oci:/tmp/slipway-stages-0123:base-abcd AS deps\nRUN make\n"
        );
        // A stage with no instructions is its FROM alone, and keeps no name it did not have.
        let last = stage_dockerfile(text, &df, 2, &BTreeMap::new(), Some(store));
        assert!(
            last.ends_with(
                "FROM scratch AS slipway-stage-1\nFROM oci:/tmp/slipway-stages-0123:base-abcd\n"
            ),
            "{last}"
        );
        slipway_dockerfile::parse(&last).expect("the rewritten file parses");
    }

    /// Panics unless the machine can run real buildah builds.
    fn require_buildah() {
        let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
        let root = status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
        assert!(root, "buildah tests must run as root (--isolation chroot)");
        assert!(
            available(&slipway_proc::Host).is_some(),
            "buildah is not installed: apt-get install --no-install-recommends buildah"
        );
        assert!(
            Path::new("/bin/busybox").exists(),
            "/bin/busybox is missing: apt-get install busybox-static"
        );
    }

    /// Writes a context with busybox and `dockerfile`.
    fn context(dockerfile: &str) -> tempfile::TempDir {
        let ctx = tempfile::tempdir().unwrap();
        std::fs::copy("/bin/busybox", ctx.path().join("busybox")).unwrap();
        std::fs::write(ctx.path().join("Dockerfile"), dockerfile).unwrap();
        ctx
    }

    /// Runs a build, collecting buildah's output.
    fn build(
        dockerfile: &str,
        hosts: &[HostAccess],
    ) -> (tempfile::TempDir, Result<PathBuf, BuildahError>, String) {
        build_with(dockerfile, hosts, &[], None)
    }

    /// Like [`build`], with `--add-host` entries and a `--network` mode.
    fn build_with(
        dockerfile: &str,
        hosts: &[HostAccess],
        add_hosts: &[String],
        network: Option<&str>,
    ) -> (tempfile::TempDir, Result<PathBuf, BuildahError>, String) {
        let ctx = context(dockerfile);
        let work = tempfile::tempdir().unwrap();
        let args = BTreeMap::from([("GREETING".to_string(), "made-by-run".to_string())]);
        let mut out = String::new();
        let dockerfile = ctx.path().join("Dockerfile");
        let job = BuildahJob {
            context: ctx.path(),
            dockerfile: &dockerfile,
            args: &args,
            hosts,
            platform: Some("linux/amd64"),
            add_hosts,
            network,
            secrets: &[],
            ssh: None,
            masks: &[],
            work_dir: work.path(),
            timestamp: 0,
            processes: &slipway_proc::Host,
        };
        let result = run(&job, &mut |l| {
            out.push_str(l);
            out.push('\n');
        });
        let w = std::fs::canonicalize(work.path()).unwrap();
        assert!(
            mounts().iter().all(|(p, _)| !p.starts_with(&w)),
            "a mount is left under {}",
            w.display()
        );
        (work, result, out)
    }

    /// Extracts every layer of the layout's `image` manifest into `dest` with the tar CLI.
    fn extract(layout: &Path, dest: &Path) {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
        let desc = &index["manifests"][0];
        assert_eq!(
            desc["annotations"]["org.opencontainers.image.ref.name"],
            "image"
        );
        let blob = |d: &serde_json::Value| {
            layout
                .join("blobs/sha256")
                .join(d.as_str().unwrap().trim_start_matches("sha256:"))
        };
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(blob(&desc["digest"])).unwrap()).unwrap();
        assert_eq!(
            manifest["mediaType"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        std::fs::create_dir_all(dest).unwrap();
        for layer in manifest["layers"].as_array().unwrap() {
            assert_eq!(
                layer["mediaType"],
                "application/vnd.oci.image.layer.v1.tar+gzip"
            );
            let st = std::process::Command::new("tar")
                .arg("-xzf")
                .arg(blob(&layer["digest"]))
                .arg("-C")
                .arg(dest)
                .status()
                .unwrap();
            assert!(st.success(), "tar -xzf failed");
        }
    }

    const FROM_SCRATCH: &str = "FROM scratch\nCOPY busybox /bin/busybox\nARG GREETING\n\
        RUN [\"/bin/busybox\",\"sh\",\"-c\",\"/bin/busybox mkdir -p /out && echo $GREETING > /out/hello\"]\n";

    #[test]
    fn buildah_runs_a_run_step_from_scratch() {
        require_buildah();
        let (work, result, out) = build(FROM_SCRATCH, &[]);
        let layout = result.unwrap_or_else(|e| panic!("{e}\n{out}"));
        assert_eq!(
            layout,
            std::fs::canonicalize(work.path()).unwrap().join("out")
        );
        let root = work.path().join("rootfs");
        extract(&layout, &root);
        assert_eq!(
            std::fs::read_to_string(root.join("out/hello")).unwrap(),
            "made-by-run\n"
        );
    }

    #[test]
    fn add_hosts_and_network_reach_the_buildah_command_line() {
        let recorder = slipway_proc::Recorder::new(|_| Ok(slipway_proc::Finished::exited(0, "")));
        let work = tempfile::tempdir().unwrap();
        let add_hosts = [
            "registry.internal:10.0.0.5".to_string(),
            "v6:::1".to_string(),
        ];
        let run_with = |add_hosts: &[String], network: Option<&str>| {
            let job = BuildahJob {
                context: Path::new("/ctx"),
                dockerfile: Path::new("/ctx/Dockerfile"),
                args: &BTreeMap::new(),
                hosts: &[],
                platform: Some("linux/amd64"),
                add_hosts,
                network,
                secrets: &[],
                ssh: None,
                masks: &[],
                work_dir: work.path(),
                timestamp: 0,
                processes: &recorder,
            };
            run(&job, &mut |_| {}).unwrap();
            let calls = recorder.calls();
            let build = calls
                .iter()
                .rev()
                .find(|c| c.text().contains(" build "))
                .expect("a build invocation");
            build.text()
        };
        let text = run_with(&add_hosts, Some("host"));
        assert!(
            text.contains(
                " --add-host registry.internal:10.0.0.5 --add-host v6:::1 --network host "
            ),
            "{text}"
        );
        assert!(text.ends_with(" /ctx"), "the context stays last: {text}");
        let text = run_with(&[], None);
        assert!(
            !text.contains("--add-host") && !text.contains("--network"),
            "{text}"
        );
    }

    #[test]
    fn secrets_and_ssh_reach_the_buildah_command_line_and_values_are_masked() {
        let secret_line = "hunter2-the-value";
        let recorder = slipway_proc::Recorder::new(move |inv: &Invocation| {
            // buildah prints what a RUN printed; a failing build shows its tail.
            let text = inv.text();
            if text.contains(" build ") {
                Ok(slipway_proc::Finished::exited(
                    1,
                    format!("STEP 2/2: RUN cat /run/secrets/tok\n{secret_line}\nError: boom\n"),
                ))
            } else {
                Ok(slipway_proc::Finished::exited(0, ""))
            }
        });
        let work = tempfile::tempdir().unwrap();
        let secrets = [
            BuildSecret {
                id: "tok".into(),
                src: "/secrets/secret-0".into(),
            },
            BuildSecret {
                id: "cred".into(),
                src: "/home/u/.aws/credentials".into(),
            },
        ];
        let masks = masks_of(format!("{secret_line}\n").as_bytes());
        let job = BuildahJob {
            context: Path::new("/ctx"),
            dockerfile: Path::new("/ctx/Dockerfile"),
            args: &BTreeMap::new(),
            hosts: &[],
            platform: Some("linux/amd64"),
            add_hosts: &[],
            network: None,
            secrets: &secrets,
            ssh: Some(("default", Path::new("/run/agent.sock"))),
            masks: &masks,
            work_dir: work.path(),
            timestamp: 0,
            processes: &recorder,
        };
        let mut logged = String::new();
        let err = run(&job, &mut |l| {
            logged.push_str(l);
            logged.push('\n');
        })
        .unwrap_err();
        let calls = recorder.calls();
        let build = calls
            .iter()
            .find(|c| c.text().contains(" build "))
            .expect("a build invocation")
            .text();
        assert!(
            build.contains(
                " --secret id=tok,src=/secrets/secret-0 \
                 --secret id=cred,src=/home/u/.aws/credentials --ssh default=/run/agent.sock "
            ),
            "{build}"
        );
        assert!(build.ends_with(" /ctx"), "the context stays last: {build}");
        let err = err.to_string();
        for (what, text) in [("log", &logged), ("error", &err)] {
            assert!(
                !text.contains(secret_line),
                "the value in the {what}: {text}"
            );
            assert!(text.contains("****"), "{what}: {text}");
        }
        assert!(err.contains("Error: boom"), "{err}");
    }

    #[test]
    fn masks_cover_the_value_and_its_longer_lines() {
        assert_eq!(
            masks_of(b"user=admin\npw: s3cret-pw\nab\n"),
            [
                "user=admin\npw: s3cret-pw\nab",
                "pw: s3cret-pw",
                "user=admin"
            ]
        );
        assert!(masks_of(b"abc").is_empty(), "too short to mask");
        let m = masks_of(b"s3cret-pw");
        assert_eq!(mask("got s3cret-pw and s3cret-pw", &m), "got **** and ****");
        assert!(matches!(mask("nothing", &m), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn buildah_run_steps_see_the_added_hosts() {
        require_buildah();
        let dockerfile = "FROM scratch\nCOPY busybox /bin/busybox\n\
            RUN [\"/bin/busybox\",\"cp\",\"/etc/hosts\",\"/hosts\"]\n";
        let add_hosts = [
            "registry.internal:10.0.0.5".to_string(),
            "v6:::1".to_string(),
        ];
        let (work, result, out) = build_with(dockerfile, &[], &add_hosts, Some("host"));
        let layout = result.unwrap_or_else(|e| panic!("{e}\n{out}"));
        let root = work.path().join("rootfs");
        extract(&layout, &root);
        let hosts = std::fs::read_to_string(root.join("hosts")).unwrap();
        let lines: Vec<Vec<&str>> = hosts
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert!(
            lines.contains(&vec!["10.0.0.5", "registry.internal"])
                && lines.contains(&vec!["::1", "v6"]),
            "{hosts}"
        );
    }

    /// Builds a busybox base image, pushes it to `reg` (trusting `ca`), returns its ref.
    fn push_base(reg: &Registry, ca: &Path) -> String {
        let (work, result, out) = build(FROM_SCRATCH, &[]);
        let layout = result.unwrap_or_else(|e| panic!("{e}\n{out}"));
        let certs = slipway_testkit::cert_dir(&work.path().join("skopeo-certs"), &[ca], None);
        let base = format!("{}/base:1", reg.host());
        slipway_testkit::Skopeo::new()
            .cert_dir(&certs)
            .copy(
                &format!("oci:{}:image", layout.display()),
                &format!("docker://{base}"),
            )
            .unwrap_or_else(|e| panic!("skopeo push: {e}"));
        base
    }

    fn from_base(base: &str) -> String {
        format!(
            "FROM {base}\nRUN [\"/bin/busybox\",\"sh\",\"-c\",\"/bin/busybox cp /out/hello /out/again\"]\n"
        )
    }

    #[test]
    fn buildah_pulls_base_images_through_per_host_trust() {
        require_buildah();
        let pki = TestPki::new();
        let reg = Registry::builder()
            .tls(&pki.server_cert(LeafKind::CaSigned))
            .start();
        let base = push_base(&reg, pki.ca());
        let dockerfile = from_base(&base);
        let access = |ca_pems: Vec<String>, insecure: bool| HostAccess {
            host: reg.host(),
            ca_pems,
            insecure,
            insecure_reason: insecure.then(|| "--registry-skip-verify".to_string()),
        };
        let ca = std::fs::read_to_string(pki.ca()).unwrap();

        let (work, result, out) = build(&dockerfile, &[access(vec![ca], false)]);
        let layout = result.unwrap_or_else(|e| panic!("{e}\n{out}"));
        let root = work.path().join("rootfs");
        extract(&layout, &root);
        assert_eq!(
            std::fs::read_to_string(root.join("out/again")).unwrap(),
            "made-by-run\n"
        );

        // Without the CA the same pull fails: verification was on, for this host.
        let (_work, result, out) = build(&dockerfile, &[access(vec![], false)]);
        match result {
            Err(BuildahError::Failed { step, tail, .. }) => {
                assert_eq!(step, "build");
                assert!(
                    tail.contains("x509") || tail.contains("unknown authority"),
                    "{tail}"
                );
            }
            other => panic!("expected an x509 failure, got {other:?}\n{out}"),
        }

        // Skip-verify for this host alone (registries.conf) lets the pull through.
        let (_work, result, out) = build(&dockerfile, &[access(vec![], true)]);
        result.unwrap_or_else(|e| panic!("{e}\n{out}"));
    }

    #[test]
    fn buildah_trusts_a_pinned_self_signed_registry_from_the_policy() {
        require_buildah();
        let pki = TestPki::new();
        let cert = pki.server_cert(LeafKind::SelfSignedOpenssl);
        let reg = Registry::builder().tls(&cert).start();
        let base = push_base(&reg, &cert.trust);
        let host = slipway_trust::RegistryHost::parse(&reg.host()).unwrap();
        let policy = slipway_trust::TrustPolicy::builder()
            .certs_d_dirs(vec![])
            .ca_file(host.clone(), &cert.trust)
            .build()
            .unwrap();
        let access = HostAccess::from_trust(&policy.resolve(&host).unwrap()).unwrap();
        assert!(!access.insecure);
        let (_work, result, out) = build(&from_base(&base), &[access]);
        result.unwrap_or_else(|e| panic!("{e}\n{out}"));
    }

    fn host(name: &str, pems: &[&str], insecure: bool) -> HostAccess {
        HostAccess {
            host: name.into(),
            ca_pems: pems.iter().map(|s| s.to_string()).collect(),
            insecure,
            insecure_reason: insecure.then(|| "--registry-plain-http".into()),
        }
    }

    #[test]
    fn buildah_config_is_per_host() {
        let hosts = [
            host("registry.test:5000", &["PEM-A\n", "PEM-B"], false),
            host("plain.test:5000", &[], true),
        ];
        let conf = registries_conf(&hosts);
        assert_eq!(
            conf,
            "# Written by slipway for one buildah build.\nunqualified-search-registries = [\"docker.io\"]\nshort-name-mode = \"disabled\"\n\
             \n[[registry]]\nlocation = \"plain.test:5000\"\ninsecure = true\n"
        );
        let work = tempfile::tempdir().unwrap();
        let env = Env::write(work.path(), &hosts).unwrap();
        let certs_d = env.home.join(".config/containers/certs.d");
        assert_eq!(
            std::fs::read_to_string(certs_d.join("registry.test:5000/ca.crt")).unwrap(),
            "PEM-A\nPEM-B\n"
        );
        // A folder with no CA, so buildah does not fall back to /etc/containers/certs.d.
        assert!(certs_d.join("plain.test:5000").is_dir());
        assert!(!certs_d.join("plain.test:5000/ca.crt").exists());
        assert_eq!(
            std::fs::read_to_string(work.path().join("registries.conf")).unwrap(),
            conf
        );
        for bad in ["../etc", "a/b", "", "..", "x\"y", "a b"] {
            assert!(matches!(
                Env::write(work.path(), &[host(bad, &[], false)]),
                Err(BuildahError::InvalidHost { .. })
            ));
        }
        assert_eq!(unescape_mount(r"/tmp/a\040b\\c"), r"/tmp/a b\\c");
    }

    #[test]
    fn buildah_from_trust_refuses_client_certs_and_keeps_relaxations_per_host() {
        let pki = TestPki::new();
        let client = pki.client_cert();
        let mtls = slipway_trust::RegistryHost::parse("mtls.test:5000").unwrap();
        let skip = slipway_trust::RegistryHost::parse("skip.test:5000").unwrap();
        let mut builder = slipway_trust::TrustPolicy::builder()
            .certs_d_dirs(vec![])
            .client_cert(mtls.clone(), &client.cert, &client.key)
            .ca_file(mtls.clone(), pki.ca());
        builder
            .dangerous()
            .skip_verify(skip.clone(), "--registry-skip-verify skip.test:5000");
        let policy = builder.build().unwrap();

        let err = HostAccess::from_trust(&policy.resolve(&mtls).unwrap()).unwrap_err();
        assert!(matches!(&err, BuildahError::ClientCert { host } if host == "mtls.test:5000"));
        assert!(
            err.to_string()
                .contains("FROM mtls.test:5000/IMAGE AS NAME"),
            "{err}"
        );

        let a = HostAccess::from_trust(&policy.resolve(&skip).unwrap()).unwrap();
        assert!(a.insecure);
        assert_eq!(
            a.insecure_reason.as_deref(),
            Some("--registry-skip-verify skip.test:5000")
        );
        assert!(a.ca_pems.is_empty());
    }
}
