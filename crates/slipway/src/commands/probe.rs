//! `slipway registry probe HOST[:PORT]`.

use std::io::Write;

use anyhow::Result;
use slipway_trust::{ProbeOptions, ProbeReport, Verdict, probe};

use crate::ExitCode;
use crate::cli::{Output, ProbeArgs};
use crate::settings::Settings;

/// Runs the probe and prints its report.
///
/// # Errors
/// Bad trust input for the host, or a failed write to stdout.
pub fn run(
    settings: &Settings,
    args: &ProbeArgs,
    output: Output,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let trust = settings.trust_for(&args.host)?;
    let report = probe(
        &trust,
        &ProbeOptions {
            timeout: args.timeout,
        },
    );
    match output {
        Output::Json => {
            super::write_json(out, &report)?;
        }
        Output::Human => print_human(&report, out)?,
    }
    Ok(if report.verdict == Verdict::Ok {
        ExitCode::Ok
    } else {
        ExitCode::CheckFailed
    })
}

pub(crate) fn print_human(r: &ProbeReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "registry   {} ({}{})",
        r.registry,
        r.scheme,
        r.address
            .as_deref()
            .map(|a| format!(", {a}"))
            .unwrap_or_default()
    )?;
    writeln!(out, "verdict    {}", r.verdict)?;
    writeln!(out, "           {}", r.detail)?;
    if let Some(tls) = &r.tls {
        let mut line = format!("tls        verification {}", tls.verification);
        if let (Some(v), Some(c)) = (&tls.version, &tls.cipher_suite) {
            line += &format!(", {v}, {c}");
        }
        if tls.client_cert_requested {
            line += if tls.client_cert_configured {
                ", client certificate sent"
            } else {
                ", server asked for a client certificate"
            };
        }
        writeln!(out, "{line}")?;
    }
    if !r.chain.is_empty() {
        writeln!(out, "\nchain sent by the server")?;
        for (i, c) in r.chain.iter().enumerate() {
            writeln!(out, "  [{i}] subject  {}", c.subject)?;
            writeln!(
                out,
                "      issuer   {}{}",
                c.issuer,
                if c.self_signed { " (self-signed)" } else { "" }
            )?;
            let sans = if c.sans.is_empty() {
                "none".to_string()
            } else {
                c.sans.join(", ")
            };
            writeln!(out, "      SANs     {sans}")?;
            let left = if c.days_left < 0 {
                format!("expired {} days ago", -c.days_left)
            } else {
                format!("{} days left", c.days_left)
            };
            writeln!(
                out,
                "      valid    {} .. {} ({left})",
                c.not_before, c.not_after
            )?;
            writeln!(out, "      CA       {}", if c.is_ca { "yes" } else { "no" })?;
            writeln!(out, "      sha256   {}", c.sha256)?;
        }
    }
    writeln!(out, "\ntrust sources")?;
    if r.trust_sources.is_empty() {
        writeln!(out, "  none (no system CA bundle found)")?;
    }
    for s in &r.trust_sources {
        writeln!(out, "  {s}")?;
    }
    for n in &r.notes {
        writeln!(out, "  note: {n}")?;
    }
    writeln!(out, "\napi")?;
    match &r.api {
        Some(a) => {
            let mut line = format!("  GET /v2/ -> {}", a.status);
            if let Some(s) = &a.auth_scheme {
                line += &format!(", auth {s}");
                if let Some(realm) = &a.realm {
                    line += &format!(" realm=\"{realm}\"");
                }
                if let Some(svc) = &a.service {
                    line += &format!(" service=\"{svc}\"");
                }
            }
            if let Some(v) = &a.api_version {
                line += &format!(", {v}");
            }
            writeln!(out, "{line}")?;
        }
        None => writeln!(out, "  GET /v2/ not reached")?,
    }
    if !r.findings.is_empty() {
        writeln!(out, "\nalso")?;
        for f in &r.findings {
            writeln!(out, "  {f}")?;
        }
    }
    if !r.fixes.build_machine.is_empty() || !r.fixes.nodes.is_empty() {
        writeln!(out, "\nfix")?;
        for f in &r.fixes.build_machine {
            writeln!(out, "  build machine: {}", crate::fixes::line(f))?;
        }
        for f in &r.fixes.nodes {
            writeln!(out, "  nodes:         {}", crate::fixes::line(f))?;
        }
    }
    Ok(())
}
