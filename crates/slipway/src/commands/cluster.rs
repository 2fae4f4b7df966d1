//! `slipway cluster trust manifest|apply`.

use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;
use slipway_kube::{TrackError, TrackOptions, TrustManifest, Trusted};
use slipway_trust::RegistryHost;

use crate::cli::HostPair;

use crate::ExitCode;
use crate::cli::{
    ClusterApplyArgs, ClusterCommand, ClusterManifestArgs, ClusterTrustCommand, Output, RuntimeArg,
};

/// Runs a `cluster` subcommand.
///
/// # Errors
/// A bundle that is not PEM certificates, a kubeconfig that cannot be used, or output
/// failures.
pub fn run(
    cmd: &ClusterCommand,
    client_certs: &[HostPair],
    output: Output,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let trust = match cmd {
        ClusterCommand::Trust(ClusterTrustCommand::Manifest(a)) => &a.trust,
        ClusterCommand::Trust(ClusterTrustCommand::Apply(a)) => &a.manifest.trust,
    };
    for t in trust {
        if client_certs.iter().any(|p| p.host.covers(&t.host)) {
            anyhow::bail!(crate::BadInput(mtls_refusal(&t.host, "cluster trust")));
        }
    }
    match cmd {
        ClusterCommand::Trust(ClusterTrustCommand::Manifest(a)) => run_manifest(a, output, out),
        ClusterCommand::Trust(ClusterTrustCommand::Apply(a)) => run_apply(a, output, out),
    }
}

/// Says why a registry that wants a client certificate cannot be trusted on the nodes by
/// `what` (which carries CAs only), and what to do instead.
pub(crate) fn mtls_refusal(host: &RegistryHost, what: &str) -> String {
    format!(
        "registry {host} is given a client certificate (mTLS), and {what} carries only CA \
         certificates to the nodes: a client key is installed on each node by hand, with \
         `slipway node trust install --registry {host} --ca FILE --client-cert CERT --client-key KEY`"
    )
}

fn manifest(a: &ClusterManifestArgs) -> Result<TrustManifest> {
    let mut registries = Vec::new();
    for t in &a.trust {
        let purpose = format!("CA bundle for registry {} (--trust)", t.host);
        let ca_pem = std::fs::read(&t.file).map_err(|source| slipway_trust::Error::ReadFile {
            purpose: purpose.clone(),
            path: t.file.clone(),
            source,
        })?;
        slipway_trust::parse_certificates(&ca_pem, &t.file, &purpose)?;
        registries.push(Trusted {
            registry: t.host.clone(),
            ca_pem,
        });
    }
    let runtime = runtime_name(a.runtime);
    Ok(TrustManifest {
        registries,
        agent_image: a.agent_image.clone(),
        namespace: a.namespace.clone(),
        runtime,
        system_store: a.system_store,
        api_server: a.agent_api_server.clone(),
    })
}

/// Returns the `--runtime` value as the agent's command line spells it.
pub(crate) fn runtime_name(r: RuntimeArg) -> String {
    r.to_possible_value()
        .map_or_else(|| "auto".into(), |v| v.get_name().to_string())
}

fn run_manifest(a: &ClusterManifestArgs, output: Output, out: &mut dyn Write) -> Result<ExitCode> {
    let objects = manifest(a)?.objects();
    match output {
        Output::Json => {
            let list = serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": objects });
            super::write_json(out, &list)?;
        }
        Output::Human => {
            for o in &objects {
                writeln!(out, "---")?;
                write!(out, "{}", serde_saphyr::to_string(o)?)?;
            }
        }
    }
    Ok(ExitCode::Ok)
}

fn run_apply(a: &ClusterApplyArgs, output: Output, out: &mut dyn Write) -> Result<ExitCode> {
    let m = manifest(&a.manifest)?;
    let opts = TrackOptions {
        interval: a.poll_interval,
        timeout: a.timeout,
        agent_image: Some(m.agent_image.clone()),
        trusted_here: vec![],
    };
    let rt = super::runtime()?;
    let result = rt.block_on(async {
        let client = slipway_kube::connect(a.kube_context.as_deref()).await?;
        let mut printer = crate::fixes::ProgressPrinter::new("");
        let progress = |p: &slipway_kube::Progress| {
            if output == Output::Human {
                printer.print(p);
            }
        };
        Ok::<_, anyhow::Error>(slipway_kube::trust_apply(&client, &m, &opts, progress).await)
    })?;
    let registries: Vec<String> = m
        .registries
        .iter()
        .map(|t| t.registry.to_string())
        .collect();
    match result {
        Ok(report) => {
            super::emit(
                output,
                out,
                &serde_json::json!({ "ready": true, "registries": registries, "report": report }),
                |out| {
                    for r in &report.applied {
                        writeln!(out, "applied {r}")?;
                    }
                    for n in &report.nodes {
                        writeln!(
                            out,
                            "node {}: {} (pod {}, bundle {})",
                            n.node,
                            if n.ready { "trusts" } else { "not ready" },
                            n.pod.as_deref().unwrap_or("-"),
                            &report.bundle_sha256[..12]
                        )?;
                    }
                    writeln!(
                        out,
                        "{}/{} nodes trust {}",
                        report.nodes.iter().filter(|n| n.ready).count(),
                        report.daemonset.desired,
                        registries.join(", ")
                    )
                },
            )?;
            Ok(ExitCode::Ok)
        }
        Err(e @ TrackError::Kube(_)) => Err(e.into()),
        Err(e) if output == Output::Human => Err(e.into()),
        Err(e) => {
            let (not_ready, diagnoses) = match &e {
                TrackError::Timeout {
                    not_ready,
                    diagnoses,
                    ..
                } => (not_ready.clone(), diagnoses.clone()),
                TrackError::PullFailed { diagnoses } => (vec![], diagnoses.clone()),
                _ => (vec![], vec![]),
            };
            super::write_json(
                out,
                &serde_json::json!({
                    "ready": false,
                    "registries": registries,
                    "error": e.to_string(),
                    "not_ready": not_ready,
                    "diagnoses": diagnoses,
                    "fixes": crate::fixes::of_track_error(&e),
                    "exit_code": ExitCode::Failed as i32
                }),
            )?;
            Ok(ExitCode::Failed)
        }
    }
}
