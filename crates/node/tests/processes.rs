//! What `node trust install` runs on the node, recorded instead of run: a reload of dockerd
//! by the pid in its pid file, the trust-store refresh inside the node's root, and nothing
//! at all under the default restart policy.

use std::path::Path;
use std::sync::Arc;

use slipway_node::{HostFs, Request, RestartPolicy, Runtime, install};
use slipway_proc::{Finished, Recorder};
use slipway_trust::RegistryHost;

fn node_root() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (path, text) in [
        ("etc/docker/daemon.json", "{\"log-level\": \"warn\"}\n"),
        ("var/run/docker.pid", "4242\n"),
        ("etc/os-release", "ID=debian\n"),
    ] {
        let p = d.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    d
}

fn request(insecure: bool, system_store: bool, restart: RestartPolicy) -> Request {
    let pki = slipway_testkit::TestPki::new();
    let mut req = Request::new(
        RegistryHost::parse("registry.internal:5000").unwrap(),
        Some(std::fs::read(pki.ca()).unwrap()),
    );
    req.insecure = insecure;
    req.system_store = system_store;
    req.restart = restart;
    req
}

#[test]
fn install_reloads_dockerd_by_its_pid_and_refreshes_the_store_inside_the_root() {
    let root = node_root();
    let rec = Arc::new(Recorder::new(|_| Ok(Finished::exited(0, ""))));
    let fs = HostFs::new(root.path())
        .unwrap()
        .with_processes(rec.clone());
    let report = install(
        &fs,
        &request(true, true, RestartPolicy::Auto),
        &[Runtime::Docker],
        false,
    )
    .unwrap();
    let ran = rec.texts();
    assert!(ran.contains(&"kill -HUP 4242".to_string()), "{ran:?}");
    let refresh = format!("chroot {} update-ca-certificates", root.path().display());
    assert!(ran.contains(&refresh), "{ran:?}");
    assert_eq!(ran.len(), 2, "nothing else runs: {ran:?}");
    let notes = format!("{:?}", report.effects);
    assert!(notes.contains("sent to pid 4242"), "{notes}");

    // A failing reload is reported, not hidden.
    let root = node_root();
    let failing = Arc::new(Recorder::new(|_| Ok(Finished::exited(1, ""))));
    let fs = HostFs::new(root.path())
        .unwrap()
        .with_processes(failing.clone());
    let report = install(
        &fs,
        &request(true, false, RestartPolicy::Auto),
        &[Runtime::Docker],
        false,
    )
    .unwrap();
    assert!(
        format!("{:?}", report.effects).contains("kill -HUP 4242 failed (exit status 1)"),
        "{:?}",
        report.effects
    );
}

#[test]
fn the_default_policy_runs_nothing_and_a_dry_run_runs_nothing() {
    let root = node_root();
    let rec = Arc::new(Recorder::new(|_| Ok(Finished::exited(0, ""))));
    let fs = HostFs::new(root.path())
        .unwrap()
        .with_processes(rec.clone());
    install(
        &fs,
        &request(true, false, RestartPolicy::Never),
        &[Runtime::Docker, Runtime::Containerd],
        false,
    )
    .unwrap();
    assert_eq!(rec.texts(), Vec::<String>::new());
    let root = node_root();
    let fs = HostFs::new(root.path())
        .unwrap()
        .with_processes(rec.clone());
    install(
        &fs,
        &request(true, true, RestartPolicy::Auto),
        &[Runtime::Docker],
        true,
    )
    .unwrap();
    assert_eq!(
        rec.texts(),
        Vec::<String>::new(),
        "a dry run touches no process"
    );
    assert!(!Path::new(&root.path().join("etc/docker/certs.d")).exists());
}

/// `remove` takes install's `--runtime` and `--restart-runtime`: undoing Docker's insecure
/// setting reloads dockerd by its pid under the `auto` policy, only Docker's files go when
/// only Docker is named (the rest stays recorded, and a later remove finishes it), and the
/// default policy runs nothing.
#[test]
fn remove_reloads_what_it_restores_and_can_keep_to_one_runtime() {
    let root = node_root();
    let rec = Arc::new(Recorder::new(|_| Ok(Finished::exited(0, ""))));
    let fs = HostFs::new(root.path())
        .unwrap()
        .with_processes(rec.clone());
    let req = request(true, true, RestartPolicy::Never);
    install(&fs, &req, &[Runtime::Docker], false).unwrap();
    let daemon = root.path().join("etc/docker/daemon.json");
    assert!(
        std::fs::read_to_string(&daemon)
            .unwrap()
            .contains("insecure-registries")
    );
    let anchors = |root: &Path| walk(&root.join("usr/local/share/ca-certificates"));
    assert!(!anchors(root.path()).is_empty(), "the OS store got the CA");
    let ran_before = rec.texts().len();

    // Only Docker's files, reloading dockerd.
    let report = slipway_node::remove(
        &fs,
        &req.registry,
        Some(&[Runtime::Docker]),
        RestartPolicy::Auto,
        false,
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(&daemon).unwrap(),
        "{\"log-level\": \"warn\"}\n",
        "daemon.json is restored byte for byte"
    );
    let ran: Vec<String> = rec.texts()[ran_before..].to_vec();
    assert_eq!(ran, ["kill -HUP 4242"], "{ran:?}");
    assert!(format!("{:?}", report.effects).contains("daemon.json restored"));
    assert!(
        !anchors(root.path()).is_empty(),
        "the OS store was not named, so it stays"
    );

    // The rest, later, under the default policy: nothing reloads, the store is refreshed.
    let ran_before = rec.texts().len();
    slipway_node::remove(&fs, &req.registry, None, RestartPolicy::Never, false).unwrap();
    assert!(anchors(root.path()).is_empty(), "the OS store CA is gone");
    let ran: Vec<String> = rec.texts()[ran_before..].to_vec();
    assert!(ran.iter().all(|c| !c.starts_with("kill")), "{ran:?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}
