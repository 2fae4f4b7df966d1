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
