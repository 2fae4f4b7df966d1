//! `slipway pki ...`: the internal PKI.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;
use slipway_pki as pki;
use slipway_trust::{ProbeOptions, probe};

use super::emit;
use crate::ExitCode;
use crate::cli::{GlobalArgs, KeyArg, Output, PkiCommand, PkiInspectArgs, StepArg};
use crate::settings::Settings;

fn key(k: KeyArg) -> pki::KeyKind {
    match k {
        KeyArg::Ecdsa => pki::KeyKind::EcdsaP256,
        KeyArg::Rsa => pki::KeyKind::Rsa,
    }
}

/// Runs a `pki` subcommand.
///
/// # Errors
/// The pki crate's errors (bad input, nothing written) and output failures.
pub fn run(
    global: &GlobalArgs,
    cmd: &PkiCommand,
    output: Output,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    match cmd {
        PkiCommand::Init(a) => {
            let r = pki::init(
                &a.dir,
                &pki::CaOptions {
                    common_name: a.common_name.clone(),
                    key: key(a.key),
                    permit_dns: a.permit_dns.clone(),
                    permit_ip: a.permit_ip.clone(),
                    validity: a.validity,
                },
            )?;
            for n in &r.notes {
                eprintln!("warning: {n}");
            }
            emit(output, out, &r, |o| {
                writeln!(o, "created CA {}", r.ca_cert.display())?;
                writeln!(o, "  key      {} (mode 0600)", r.ca_key.display())?;
                writeln!(
                    o,
                    "  bundle   {} (what nodes and build machines trust)",
                    r.bundle.display()
                )?;
                print_details(o, &r.certificate, "  ")
            })?;
        }
        PkiCommand::Issue(a) => {
            let ca = pki::Ca::load(&a.dir)?;
            let r = pki::issue(
                &ca,
                &pki::IssueOptions {
                    dns: a.dns.clone(),
                    ips: a.ip.clone(),
                    validity: a.validity,
                    key: key(a.key),
                    existing: if a.force {
                        pki::Existing::Backup
                    } else {
                        pki::Existing::Refuse
                    },
                },
                &a.out,
            )?;
            for n in &r.notes {
                eprintln!("note: {n}");
            }
            emit(output, out, &r, |o| print_issue(o, &r))?;
        }
        PkiCommand::Inspect(a) => return inspect(global, a, output, out),
        PkiCommand::Renew(a) => {
            let r = pki::renew(&a.dir, &a.leaf, a.force, key(a.key))?;
            emit(output, out, &r, |o| match &r.issued {
                Some(i) => {
                    writeln!(o, "renewed (old serial {})", r.old_serial)?;
                    print_issue(o, i)
                }
                None => writeln!(
                    o,
                    "not due: {} is renewed from {} (2/3 of its lifetime); --force renews now",
                    a.leaf.display(),
                    r.due
                ),
            })?;
        }
        PkiCommand::Rotate(a) => {
            if a.status {
                let stage = pki::stage(&a.dir)?;
                let v = serde_json::json!({ "stage": stage });
                emit(output, out, &v, |o| {
                    writeln!(
                        o,
                        "stage: {}",
                        serde_json::to_value(stage)
                            .unwrap_or_default()
                            .as_str()
                            .unwrap_or("?")
                    )
                })?;
                return Ok(ExitCode::Ok);
            }
            let step = a.step.map(|s| match s {
                StepArg::Prepare => pki::Step::Prepare,
                StepArg::Switch => pki::Step::Switch,
                StepArg::Retire => pki::Step::Retire,
            });
            let r = pki::rotate(
                &a.dir,
                step,
                &pki::RotateOptions {
                    leaf: a.leaf.clone(),
                    confirm_nodes_trust: a.confirm_nodes_trust,
                    nodes_trust: a.nodes_trust.clone(),
                    registry: a.registry.as_ref().map(ToString::to_string),
                    ..Default::default()
                },
            )?;
            emit(output, out, &r, |o| {
                let name = |s: pki::Stage| {
                    serde_json::to_value(s)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                };
                writeln!(o, "rotation: {} -> {}", name(r.was), name(r.now))?;
                for w in &r.wrote {
                    writeln!(o, "  wrote {}", w.display())?;
                }
                writeln!(o, "\nnodes")?;
                for l in &r.distribute_to_nodes {
                    writeln!(o, "  {l}")?;
                }
                writeln!(o, "registry")?;
                for l in &r.registry {
                    writeln!(o, "  {l}")?;
                }
                writeln!(o, "bundle.pem now trusts")?;
                for c in &r.bundle {
                    writeln!(o, "  {} (sha256 {})", c.summary.subject, c.summary.sha256)?;
                }
                for n in &r.notes {
                    writeln!(o, "note: {n}")?;
                }
                if let Some(next) = r.next {
                    let leaf = a.leaf.as_ref().map_or_else(
                        || " --leaf PREFIX".to_string(),
                        |l| format!(" --leaf {}", l.display()),
                    );
                    let check = if next == "switch" {
                        " --nodes-trust FILE"
                    } else {
                        ""
                    };
                    writeln!(
                        o,
                        "\nnext: slipway pki rotate {next} --dir {}{leaf}{check}",
                        a.dir.display()
                    )?;
                }
                Ok(())
            })?;
        }
    }
    Ok(ExitCode::Ok)
}

fn inspect(
    global: &GlobalArgs,
    a: &PkiInspectArgs,
    output: Output,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let (source, certs) = match (&a.file, &a.remote) {
        (Some(f), _) => (f.display().to_string(), pki::inspect_file(f)?),
        (None, Some(host)) => {
            let settings = Settings::resolve(global)?;
            let trust = settings.trust_for(host)?;
            let report = probe(&trust, &ProbeOptions { timeout: a.timeout });
            if report.chain_der.is_empty() {
                anyhow::bail!(
                    "{host} served no certificate: {} ({})",
                    report.verdict,
                    report.detail
                );
            }
            (
                host.to_string(),
                report
                    .chain_der
                    .iter()
                    .filter_map(|d| pki::details(d))
                    .collect(),
            )
        }
        (None, None) => unreachable!("clap requires FILE or --remote"),
    };
    let warn_days = a
        .warn_within
        .map(|d| i64::try_from(d.as_secs().div_ceil(86_400)).unwrap_or(i64::MAX));
    let expiring: Vec<&pki::CertDetails> = certs
        .iter()
        .filter(|c| warn_days.is_some_and(|w| c.summary.days_left < w))
        .collect();
    #[derive(Serialize)]
    struct Report<'a> {
        source: &'a str,
        certificates: &'a [pki::CertDetails],
        warn_within_days: Option<i64>,
        expiring: Vec<&'a str>,
    }
    let report = Report {
        source: &source,
        certificates: &certs,
        warn_within_days: warn_days,
        expiring: expiring
            .iter()
            .map(|c| c.summary.subject.as_str())
            .collect(),
    };
    emit(output, out, &report, |o| {
        writeln!(o, "{source}")?;
        for (i, c) in certs.iter().enumerate() {
            writeln!(o, "[{i}]")?;
            print_details(o, c, "  ")?;
        }
        if let Some(w) = warn_days {
            if expiring.is_empty() {
                writeln!(o, "\nno certificate expires within {w} days")?;
            } else {
                for c in &expiring {
                    writeln!(
                        o,
                        "\nWARNING: {} expires in {} days (threshold {w})",
                        c.summary.subject, c.summary.days_left
                    )?;
                }
            }
        }
        Ok(())
    })?;
    Ok(if expiring.is_empty() {
        ExitCode::Ok
    } else {
        ExitCode::CheckFailed
    })
}

fn print_issue(o: &mut dyn Write, r: &pki::IssueReport) -> std::io::Result<()> {
    writeln!(o, "issued {}", r.files.cert.display())?;
    writeln!(o, "  key        {} (mode 0600)", r.files.key.display())?;
    writeln!(o, "  chain      {}", r.files.chain.display())?;
    writeln!(
        o,
        "  fullchain  {} (Distribution: http.tls.certificate)",
        r.files.fullchain.display()
    )?;
    print_details(o, &r.certificate, "  ")
}

fn print_details(o: &mut dyn Write, c: &pki::CertDetails, pad: &str) -> std::io::Result<()> {
    let s = &c.summary;
    writeln!(o, "{pad}subject     {}", s.subject)?;
    writeln!(o, "{pad}issuer      {}", s.issuer)?;
    if !s.sans.is_empty() {
        writeln!(o, "{pad}SANs        {}", s.sans.join(", "))?;
    }
    let left = if s.days_left < 0 {
        format!("EXPIRED {} days ago", -s.days_left)
    } else {
        format!("{} days left", s.days_left)
    };
    writeln!(
        o,
        "{pad}valid       {} .. {} ({left})",
        s.not_before, s.not_after
    )?;
    let ca = if s.is_ca {
        format!(
            "CA{}",
            c.path_len
                .map(|p| format!(", path length {p}"))
                .unwrap_or_default()
        )
    } else {
        "not a CA".into()
    };
    writeln!(o, "{pad}kind        {ca}; key {}", c.key)?;
    if !c.key_usage.is_empty() || !c.extended_key_usage.is_empty() {
        writeln!(
            o,
            "{pad}usage       {}",
            [c.key_usage.clone(), c.extended_key_usage.clone()]
                .concat()
                .join(", ")
        )?;
    }
    if !c.permitted.is_empty() || !c.excluded.is_empty() {
        writeln!(
            o,
            "{pad}constraints permitted {}; excluded {}",
            list(&c.permitted),
            list(&c.excluded)
        )?;
    }
    writeln!(o, "{pad}serial      {}", c.serial)?;
    writeln!(o, "{pad}sha256      {}", s.sha256)
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}
