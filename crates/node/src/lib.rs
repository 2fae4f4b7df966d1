//! Node trust for slipway: make a node's container runtimes (containerd, Docker, CRI-O)
//! and, on request, its OS trust store trust a registry; verify it with a real handshake;
//! and undo it.
//!
//! What it is for: the deploy stage of a private registry's trust, where each node's runtime pulls
//! and verifies the registry itself. Every change is planned first (`--dry-run` prints the
//! diff), written atomically through one [`HostFs`] rooted at the node's `/` (or the host
//! root a DaemonSet mounts), recorded with backups so `remove` restores the node, and
//! idempotent. What it is not for: distributing to many nodes (`cluster trust`) or
//! restarting services on its own in tests.
//!
//! ```no_run
//! use slipway_node::{HostFs, Request, Runtime, install};
//! use slipway_trust::RegistryHost;
//! let fs = HostFs::new("/")?;
//! let host = RegistryHost::parse("registry.internal:5000").map_err(slipway_trust::Error::from)?;
//! let req = Request::new(host, Some(std::fs::read("ca.crt").unwrap()));
//! let report = install(&fs, &req, &[Runtime::Containerd], false)?;
//! println!("{} changes", report.changes.len());
//! # Ok::<(), slipway_node::Error>(())
//! ```

mod error;
mod fs;
mod plan;
mod runtimes;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use slipway_trust::RegistryHost;

pub use error::Error;
pub use fs::HostFs;
pub use plan::Change;
pub use runtimes::{Effects, OsStore, Runtime, detect_os, hosts_toml};

/// Holds what to trust: the registry, its CA (or pinned certificate), an optional client
/// pair, and whether verification is skipped (test environments only).
#[derive(Clone, Debug)]
pub struct Request {
    /// The registry, `host[:port]` exactly as images name it.
    pub registry: RegistryHost,
    /// PEM CA certificates (validated by [`Request::new_checked`]).
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate and key.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
    /// Skip verification (containerd `skip_verify`, Docker/CRI-O insecure registries).
    pub insecure: bool,
    /// Also add the CA to the OS trust store.
    pub system_store: bool,
    /// Whether install reloads/restarts runtimes itself.
    pub restart: RestartPolicy,
    /// Move containerd's legacy `registry.mirrors`/`configs.tls` into hosts.toml files.
    pub migrate_legacy: bool,
}

/// Says whether install signals runtimes after writing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Report what needs a reload or restart; touch no process.
    #[default]
    Never,
    /// SIGHUP dockerd/crio when a live-reloadable setting changed (pid file under the
    /// root); restart containerd with systemctl only on the node itself (root `/`).
    Auto,
}

impl Request {
    /// Makes a request from raw parts (no validation).
    pub fn new(registry: RegistryHost, ca_pem: Option<Vec<u8>>) -> Request {
        Request {
            registry,
            ca_pem,
            client: None,
            insecure: false,
            system_store: false,
            restart: RestartPolicy::Never,
            migrate_legacy: false,
        }
    }

    /// Reads and validates the CA and client files: PEM certificates, a key that matches.
    ///
    /// # Errors
    /// Missing files, DER or malformed PEM, no certificate, a key that does not match.
    pub fn new_checked(
        registry: RegistryHost,
        ca: Option<&Path>,
        client: Option<(&Path, &Path)>,
    ) -> Result<Request, Error> {
        let purpose = format!("CA for registry {registry} (--ca)");
        let ca_pem = match ca {
            Some(p) => {
                let bytes = std::fs::read(p).map_err(|source| slipway_trust::Error::ReadFile {
                    purpose: purpose.clone(),
                    path: p.into(),
                    source,
                })?;
                slipway_trust::parse_certificates(&bytes, p, &purpose)?;
                Some(bytes)
            }
            None => None,
        };
        let client = match client {
            Some((c, k)) => {
                slipway_trust::load_identity(
                    c,
                    k,
                    &format!(
                        "client certificate for registry {registry} (--client-cert/--client-key)"
                    ),
                )?;
                let read = |p: &Path| {
                    std::fs::read(p).map_err(|source| Error::Io {
                        what: "cannot read".into(),
                        path: p.into(),
                        source,
                    })
                };
                Some((read(c)?, read(k)?))
            }
            None => None,
        };
        Ok(Request {
            registry,
            ca_pem,
            client,
            insecure: false,
            system_store: false,
            restart: RestartPolicy::Never,
            migrate_legacy: false,
        })
    }
}

/// Finds the runtimes present under the root, from their config folders, sockets and binaries.
pub fn detect(fs: &HostFs) -> Vec<Runtime> {
    let any = |paths: &[&str]| paths.iter().any(|p| fs.exists(Path::new(p)));
    let mut found = Vec::new();
    if any(&[
        "/etc/containerd",
        "/run/containerd/containerd.sock",
        "/usr/bin/containerd",
        "/usr/local/bin/containerd",
    ]) {
        found.push(Runtime::Containerd);
    }
    if any(&[
        "/etc/docker",
        "/var/run/docker.sock",
        "/run/docker.sock",
        "/usr/bin/dockerd",
    ]) {
        found.push(Runtime::Docker);
    }
    if any(&[
        "/etc/crio",
        "/var/run/crio/crio.sock",
        "/usr/bin/crio",
        "/usr/bin/podman",
        "/etc/containers",
    ]) {
        found.push(Runtime::Crio);
    }
    found
}

/// Reports an install, verify or remove.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// The registry.
    pub registry: String,
    /// The runtimes acted on.
    pub runtimes: Vec<Runtime>,
    /// Every file change (empty: nothing to do).
    pub changes: Vec<Change>,
    /// What each runtime needs beyond the files.
    pub effects: BTreeMap<String, Effects>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// `verify` only: the verdict per runtime.
    pub verdicts: BTreeMap<String, String>,
}

const STATE_DIR: &str = "/var/lib/slipway/node-trust";

/// Records what install created and what it edited, so remove can restore.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    created: Vec<PathBuf>,
    /// Edited path -> backup path.
    backups: BTreeMap<PathBuf, PathBuf>,
}

fn state_path(req: &RegistryHost) -> PathBuf {
    Path::new(STATE_DIR)
        .join(req.to_string().replace([':', '[', ']'], "_"))
        .join("state.json")
}

fn plan(
    fs: &HostFs,
    req: &Request,
    runtimes: &[Runtime],
) -> Result<(Vec<Change>, BTreeMap<String, Effects>), Error> {
    let mut changes = Vec::new();
    let mut effects = BTreeMap::new();
    let mut all: Vec<Runtime> = runtimes.to_vec();
    if req.system_store && !all.contains(&Runtime::OsStore) {
        all.push(Runtime::OsStore);
    }
    if req.ca_pem.is_none() && !req.insecure && req.client.is_none() {
        return Err(Error::Request(format!(
            "give --ca FILE for registry {} (or --insecure, for test environments only)",
            req.registry
        )));
    }
    for rt in all {
        let fx = match rt {
            Runtime::Containerd => runtimes::containerd(fs, req, &mut changes)?,
            Runtime::Docker => runtimes::docker(fs, req, &mut changes)?,
            Runtime::Crio => runtimes::crio(fs, req, &mut changes)?,
            Runtime::OsStore => runtimes::os_store(fs, req, &mut changes)?,
        };
        effects.insert(rt.name().to_string(), fx);
    }
    Ok((changes, effects))
}

/// Plans the changes for `runtimes` into a report (nothing written).
fn planned(fs: &HostFs, req: &Request, runtimes: &[Runtime]) -> Result<Report, Error> {
    let (changes, effects) = plan(fs, req, runtimes)?;
    Ok(Report {
        registry: req.registry.to_string(),
        runtimes: runtimes.to_vec(),
        changes,
        effects,
        ..Default::default()
    })
}

/// Plans and (unless `dry_run`) applies the trust for `runtimes`.
///
/// # Errors
/// A config that does not parse or cannot be edited safely, or an I/O error. Planning
/// happens before any write, so a bad config changes nothing.
pub fn install(
    fs: &HostFs,
    req: &Request,
    runtimes: &[Runtime],
    dry_run: bool,
) -> Result<Report, Error> {
    let mut report = Report {
        dry_run,
        ..planned(fs, req, runtimes)?
    };
    if dry_run || report.changes.is_empty() {
        return Ok(report);
    }
    let sp = state_path(&req.registry);
    let mut state: State = fs
        .read(&sp)?
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    for c in &report.changes {
        match (&c.before, c.action) {
            (Some(before), "update")
                if !state.created.contains(&c.path) && !state.backups.contains_key(&c.path) =>
            {
                // Back up the user's file once, before slipway first touches it.
                let backup = sp
                    .with_file_name("backup")
                    .join(c.path.strip_prefix("/").unwrap_or(&c.path));
                fs.write_atomic(&backup, before, 0o600)?;
                state.backups.insert(c.path.clone(), backup);
            }
            (None, _) if !state.created.contains(&c.path) => state.created.push(c.path.clone()),
            _ => {}
        }
    }
    // The state goes down first, so an interrupted install can still be removed.
    fs.write_atomic(
        &sp,
        &serde_json::to_vec_pretty(&state).unwrap_or_default(),
        0o600,
    )?;
    for c in &report.changes {
        if let Some(after) = &c.after {
            fs.write_atomic(&c.path, after, c.mode)?;
        }
    }
    if req.restart == RestartPolicy::Auto {
        apply_restarts(fs, &mut report);
    }
    for fx in report.effects.values_mut() {
        for cmd in std::mem::take(&mut fx.commands) {
            let status = run_in_root(fs, &cmd);
            fx.notes.push(format!("ran `{}`: {status}", cmd.join(" ")));
        }
    }
    Ok(report)
}

/// Sends the reloads and restarts the report's effects ask for: SIGHUP to dockerd and
/// CRI-O by their pid files, and `systemctl restart` for containerd (and for every runtime
/// after an OS store change) on the node itself. Each outcome is noted in the report.
fn apply_restarts(fs: &HostFs, report: &mut Report) {
    for (name, pidfiles) in [
        ("docker", ["/var/run/docker.pid", "/run/docker.pid"]),
        ("crio", ["/var/run/crio/crio.pid", "/run/crio/crio.pid"]),
    ] {
        if let Some(fx) = report
            .effects
            .get_mut(name)
            .filter(|fx| !fx.reload.is_empty())
        {
            let result = signal_hup(fs, &pidfiles);
            fx.notes.push(format!("SIGHUP {name}: {result}"));
        }
    }
    // A changed OS store reaches Go runtimes only through a restart.
    if report
        .effects
        .get("os-store")
        .is_some_and(|fx| !fx.restart.is_empty())
    {
        let result = if fs.root() != Path::new("/") {
            "not restarted: under --host-root, restart the runtimes on the node itself".to_string()
        } else {
            detect(fs)
                .iter()
                .map(|rt| {
                    let unit = rt.name();
                    let cmd = ["systemctl".to_string(), "restart".into(), unit.into()];
                    format!("{unit}: {}", run_in_root(fs, &cmd))
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        if let Some(fx) = report.effects.get_mut("os-store") {
            fx.notes.push(format!("restart runtimes: {result}"));
        }
    }
    if let Some(fx) = report
        .effects
        .get_mut("containerd")
        .filter(|fx| !fx.restart.is_empty())
    {
        let result = if fs.root() == Path::new("/") {
            run_in_root(
                fs,
                &["systemctl".into(), "restart".into(), "containerd".into()],
            )
        } else {
            "not restarted: under --host-root, restart containerd on the node itself".into()
        };
        fx.notes.push(format!("restart containerd: {result}"));
    }
}

/// Sends SIGHUP to the process whose pid is in the first pid file that exists.
fn signal_hup(fs: &HostFs, pidfiles: &[&str]) -> String {
    let Some((file, pid)) = pidfiles.iter().find_map(|f| {
        fs.read(Path::new(f))
            .ok()
            .flatten()
            .map(|b| (*f, String::from_utf8_lossy(&b).trim().to_string()))
    }) else {
        return format!(
            "no pid file ({}) under the root; reload it by hand",
            pidfiles.join(", ")
        );
    };
    if pid.is_empty() || !pid.chars().all(|c| c.is_ascii_digit()) {
        return format!("{file} does not hold a pid");
    }
    let kill = slipway_proc::Invocation::new("kill").args(["-HUP", &pid]);
    match fs.processes().run(&kill) {
        Ok(f) if f.success() => format!("sent to pid {pid} ({file})"),
        Ok(f) => format!("kill -HUP {pid} failed ({})", f.describe()),
        Err(e) => format!("could not run kill: {e}"),
    }
}

fn run_in_root(fs: &HostFs, cmd: &[String]) -> String {
    let inv = if fs.root() == Path::new("/") {
        slipway_proc::Invocation::new(&cmd[0]).args(&cmd[1..])
    } else {
        slipway_proc::Invocation::new("chroot")
            .arg(fs.root())
            .args(cmd)
    };
    match fs.processes().run(&inv) {
        Ok(o) if o.success() => "ok".into(),
        Ok(o) => format!(
            "failed ({}): {}",
            o.describe(),
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("could not run: {e}"),
    }
}

/// Says which runtime a file install writes belongs to.
fn owner_of(path: &Path) -> Runtime {
    if path.starts_with("/etc/containerd") {
        Runtime::Containerd
    } else if path.starts_with("/etc/docker") {
        Runtime::Docker
    } else if path.starts_with("/etc/containers") {
        Runtime::Crio
    } else {
        Runtime::OsStore
    }
}

/// Undoes what install did for a registry: removes the files it created and restores the
/// files it edited from their backups. With `runtimes`, only those runtimes' files (the OS
/// store counts as one, [`Runtime::OsStore`]); the rest stays recorded for a later remove.
/// What the restored files need (a reload of dockerd or CRI-O, a restart of containerd) is
/// reported, and done under [`RestartPolicy::Auto`] as install does it.
///
/// # Errors
/// I/O errors; a registry install never touched is not an error (nothing to do).
pub fn remove(
    fs: &HostFs,
    registry: &RegistryHost,
    runtimes: Option<&[Runtime]>,
    restart: RestartPolicy,
    dry_run: bool,
) -> Result<Report, Error> {
    let chosen = |p: &Path| runtimes.is_none_or(|rs| rs.contains(&owner_of(p)));
    let sp = state_path(registry);
    let mut report = Report {
        registry: registry.to_string(),
        dry_run,
        ..Default::default()
    };
    let Some(bytes) = fs.read(&sp)? else {
        return Ok(report);
    };
    let mut state: State = serde_json::from_slice(&bytes).map_err(|e| Error::BadConfig {
        path: sp.clone(),
        format: "JSON",
        why: e.to_string(),
    })?;
    for p in state.created.iter().filter(|p| chosen(p)) {
        if let Some(before) = fs.read(p)? {
            report.changes.push(Change {
                path: p.clone(),
                action: "remove",
                for_: "install",
                mode: 0,
                before: Some(before),
                after: None,
            });
        }
    }
    for (p, backup) in state.backups.iter().filter(|(p, _)| chosen(p)) {
        if let Some(original) = fs.read(backup)? {
            report
                .changes
                .extend(Change::write(fs, p, original, 0o644, "install")?);
        }
    }
    // What the runtimes need for the restored files to apply.
    for c in &report.changes {
        let (name, restart, why) = match owner_of(&c.path) {
            Runtime::Containerd if c.path.ends_with("config.toml") => {
                ("containerd", true, "config.toml restored")
            }
            Runtime::Docker if c.path.ends_with("daemon.json") => {
                ("docker", false, "daemon.json restored")
            }
            Runtime::Crio if c.path.starts_with("/etc/containers/registries.conf.d") => {
                ("crio", false, "registries.conf.d drop-in removed")
            }
            _ => continue,
        };
        let fx = report.effects.entry(name.into()).or_default();
        if restart {
            fx.restart.push(why.into());
        } else {
            fx.reload.push(why.into());
        }
    }
    if dry_run {
        return Ok(report);
    }
    for c in &report.changes {
        match &c.after {
            Some(after) => fs.write_atomic(&c.path, after, 0o644)?,
            None => fs.remove(&c.path)?,
        }
    }
    let done: Vec<PathBuf> = state
        .backups
        .keys()
        .filter(|p| chosen(p))
        .cloned()
        .collect();
    for p in &done {
        if let Some(backup) = state.backups.remove(p) {
            fs.remove(&backup)?;
        }
    }
    state.created.retain(|p| !chosen(p));
    if state.created.is_empty() && state.backups.is_empty() {
        fs.remove(&sp)?;
    } else {
        fs.write_atomic(
            &sp,
            &serde_json::to_vec_pretty(&state).unwrap_or_default(),
            0o600,
        )?;
    }
    if restart == RestartPolicy::Auto {
        apply_restarts(fs, &mut report);
    }
    // A CA taken out of the OS anchors stays in the built bundle until it is rebuilt.
    if let Ok(store) = detect_os(fs)
        && report.changes.iter().any(|c| c.path.starts_with(store.dir))
    {
        let mut cmd: Vec<String> = store.refresh.iter().map(|s| s.to_string()).collect();
        if store.family == "debian" {
            cmd.push("--fresh".into());
        }
        let status = run_in_root(fs, &cmd);
        report
            .effects
            .entry("os-store".into())
            .or_default()
            .notes
            .push(format!("ran `{}`: {status}", cmd.join(" ")));
    }
    Ok(report)
}

/// Checks that the files are in place, then does a real TLS handshake to the registry with
/// exactly the certs.d folder each runtime reads.
///
/// # Errors
/// Planning errors (a broken config).
pub fn verify(
    fs: &HostFs,
    req: &Request,
    runtimes: &[Runtime],
    timeout: std::time::Duration,
) -> Result<Report, Error> {
    let mut report = planned(fs, req, runtimes)?;
    for (name, fx) in &report.effects {
        let Some(dir) = &fx.trust_dir else { continue };
        let mut b = slipway_trust::TrustPolicy::builder()
            .certs_d_dirs(vec![fs.real(dir)])
            .system_bundles(vec![
                fs.real(Path::new("/etc/ssl/certs/ca-certificates.crt")),
            ]);
        if req.insecure {
            b.dangerous()
                .skip_verify(req.registry.clone(), "--insecure");
        }
        let verdict = match b.build().and_then(|p| p.resolve(&req.registry)) {
            Ok(trust) => slipway_trust::probe(&trust, &slipway_trust::ProbeOptions { timeout })
                .verdict
                .to_string(),
            Err(e) => format!("error: {}", e.chain()),
        };
        report.verdicts.insert(name.clone(), verdict);
    }
    Ok(report)
}
