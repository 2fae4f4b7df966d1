//! `slipway cluster trust manifest`.

use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;
use slipway_kube::{TrustManifest, Trusted};

use crate::ExitCode;
use crate::cli::{ClusterCommand, ClusterTrustCommand, Output};

/// Runs a `cluster` subcommand.
///
/// # Errors
/// A bundle that is not PEM certificates, or output failures.
pub fn run(cmd: &ClusterCommand, output: Output, out: &mut dyn Write) -> Result<ExitCode> {
    let ClusterCommand::Trust(ClusterTrustCommand::Manifest(a)) = cmd;
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
    let runtime = a
        .runtime
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_else(|| "auto".into());
    let m = TrustManifest {
        registries,
        agent_image: a.agent_image.clone(),
        namespace: a.namespace.clone(),
        runtime,
        system_store: a.system_store,
    };
    let objects = m.objects();
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
