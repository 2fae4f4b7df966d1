//! `slipway node trust install|verify|remove`.

use std::io::Write;

use anyhow::Result;
use slipway_node::{HostFs, Report, Request, Runtime};

use crate::ExitCode;
use crate::cli::{NodeCommand, NodeTrustArgs, NodeTrustCommand, Output, RestartArg, RuntimeArg};

fn runtimes(fs: &HostFs, a: &NodeTrustArgs) -> Result<Vec<Runtime>> {
    Ok(match a.runtime {
        RuntimeArg::Auto => {
            let found = slipway_node::detect(fs);
            if found.is_empty() && !a.system_store {
                anyhow::bail!(
                    "no container runtime found under {} (looked for containerd, Docker and CRI-O config folders, sockets and binaries); name one with --runtime",
                    fs.root().display()
                );
            }
            found
        }
        RuntimeArg::Containerd => vec![Runtime::Containerd],
        RuntimeArg::Docker => vec![Runtime::Docker],
        RuntimeArg::Crio => vec![Runtime::Crio],
        RuntimeArg::All => vec![Runtime::Containerd, Runtime::Docker, Runtime::Crio],
    })
}

fn restart_policy(a: RestartArg) -> slipway_node::RestartPolicy {
    match a {
        RestartArg::Auto => slipway_node::RestartPolicy::Auto,
        RestartArg::Never => slipway_node::RestartPolicy::Never,
    }
}

fn request(a: &NodeTrustArgs) -> Result<Request> {
    let client = a.client_cert.as_deref().zip(a.client_key.as_deref());
    let mut req = Request::new_checked(a.registry.clone(), a.ca.as_deref(), client)?;
    req.insecure = a.insecure;
    req.system_store = a.system_store;
    req.migrate_legacy = a.migrate_legacy;
    req.restart = restart_policy(a.restart_runtime);
    if a.insecure {
        eprintln!(
            "warning: --insecure turns OFF certificate verification for registry {} on this node; use it in test environments only",
            a.registry
        );
    }
    Ok(req)
}

/// Removes taint `key` from node `node` with the credentials kube-rs finds (in a pod: its
/// service account), and says what it did on stderr.
fn release_taint(node: &str, key: &str) -> Result<()> {
    let released = super::runtime()?.block_on(async {
        let client = slipway_kube::connect(None).await?;
        slipway_kube::release_node_taint(&client, node, key).await
    })?;
    if released {
        eprintln!("node {node}: removed taint {key}: it trusts the registry now");
    } else {
        eprintln!("node {node}: no taint {key} to remove");
    }
    Ok(())
}

/// Runs a `node` subcommand.
///
/// # Errors
/// Bad input (files, configs that do not parse or cannot be edited safely) or I/O.
pub fn run(cmd: &NodeCommand, output: Output, out: &mut dyn Write) -> Result<ExitCode> {
    let NodeCommand::Trust(cmd) = cmd;
    let (report, code) = match cmd {
        NodeTrustCommand::Install(i) => {
            let a = &i.trust;
            if i.release_taint.is_some() && i.node_name.is_none() {
                anyhow::bail!(crate::BadInput(
                    "--release-taint needs the node's name: --node-name NAME or $NODE_NAME (a DaemonSet sets it from spec.nodeName)".into()
                ));
            }
            let fs = HostFs::new(&a.host_root)?;
            let req = request(a)?;
            let report = slipway_node::install(&fs, &req, &runtimes(&fs, a)?, a.dry_run)?;
            if let (Some(key), Some(node), false) = (&i.release_taint, &i.node_name, a.dry_run) {
                release_taint(node, key)?;
            }
            (report, ExitCode::Ok)
        }
        NodeTrustCommand::Verify(a) => {
            let fs = HostFs::new(&a.host_root)?;
            let req = request(a)?;
            let r = slipway_node::verify(&fs, &req, &runtimes(&fs, a)?, a.timeout)?;
            let ok = r.changes.is_empty() && r.verdicts.values().all(|v| v == "ok");
            (
                r,
                if ok {
                    ExitCode::Ok
                } else {
                    ExitCode::CheckFailed
                },
            )
        }
        NodeTrustCommand::Remove(a) => {
            let fs = HostFs::new(&a.host_root)?;
            let only = match a.runtime {
                RuntimeArg::Auto | RuntimeArg::All => None,
                RuntimeArg::Containerd => Some(Runtime::Containerd),
                RuntimeArg::Docker => Some(Runtime::Docker),
                RuntimeArg::Crio => Some(Runtime::Crio),
            };
            let report = slipway_node::remove(
                &fs,
                &a.registry,
                only.as_ref().map(std::slice::from_ref),
                restart_policy(a.restart_runtime),
                a.dry_run,
            )?;
            (report, ExitCode::Ok)
        }
    };
    match output {
        Output::Json => {
            super::write_json(out, &report)?;
        }
        Output::Human => print(cmd, &report, out)?,
    }
    Ok(code)
}

fn print(cmd: &NodeTrustCommand, r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let verify = matches!(cmd, NodeTrustCommand::Verify(_));
    if r.changes.is_empty() {
        writeln!(out, "{}: nothing to change", r.registry)?;
    } else if verify {
        writeln!(
            out,
            "{}: {} file(s) differ from what install would write:",
            r.registry,
            r.changes.len()
        )?;
    } else if r.dry_run {
        writeln!(
            out,
            "{}: would make {} change(s):",
            r.registry,
            r.changes.len()
        )?;
    } else {
        writeln!(out, "{}: {} change(s):", r.registry, r.changes.len())?;
    }
    for c in &r.changes {
        if r.dry_run || verify {
            write!(out, "{}", c.diff())?;
        } else {
            writeln!(out, "  {:<7} {}  ({})", c.action, c.path.display(), c.for_)?;
        }
    }
    for (name, fx) in &r.effects {
        for l in &fx.restart {
            writeln!(out, "restart needed: {l}")?;
        }
        for l in &fx.reload {
            writeln!(out, "reload: {l}")?;
        }
        for l in &fx.notes {
            writeln!(out, "note ({name}): {l}")?;
        }
    }
    for (name, v) in &r.verdicts {
        writeln!(
            out,
            "{name}: handshake with {} using its trust: {v}",
            r.registry
        )?;
    }
    Ok(())
}
