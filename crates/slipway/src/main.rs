//! The `slipway` binary: parses flags, resolves settings, runs one command, and maps the
//! result to a documented exit code.

mod cli;
mod commands;
mod fixes;
mod settings;

use std::io::Write;

use clap::Parser;

use crate::cli::{Cli, Command, Output, RegistryCommand};
use crate::settings::Settings;
use slipway_pki::Error as PkiError;

/// Lists the exit codes documented in docs/exit-codes.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// The command succeeded (for checks: the verdict is `ok`).
    Ok = 0,
    /// A check ran and found a problem (e.g. the probe's verdict is not `ok`).
    CheckFailed = 1,
    /// Bad usage or bad input: flags, files, config. Nothing was changed.
    BadInput = 2,
    /// The command failed while working.
    Failed = 3,
}

/// Bad usage found by the binary itself (a flag combination, an empty password on stdin):
/// exit code 2, with the message as it is.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Returns the `WERF_*` variables among `names` that no slipway command reads, sorted: a
/// werf job's settings are said to be unused rather than ignored silently.
fn unread_werf_variables(names: impl Iterator<Item = std::ffi::OsString>) -> Vec<String> {
    use clap::CommandFactory;
    fn walk(c: &clap::Command, known: &mut std::collections::HashSet<String>) {
        for a in c.get_arguments() {
            if let Some(e) = a.get_env() {
                known.insert(e.to_string_lossy().to_string());
            }
        }
        for sub in c.get_subcommands() {
            walk(sub, known);
        }
    }
    let werf: Vec<String> = names
        .filter_map(|n| n.into_string().ok())
        .filter(|n| n.starts_with("WERF_"))
        .collect();
    if werf.is_empty() {
        return werf;
    }
    // Every variable some flag reads, from the flags themselves.
    let mut known = std::collections::HashSet::new();
    walk(&Cli::command(), &mut known);
    // Read by prefix or as a fallback, outside the flags' own variables.
    const ELSEWHERE: &[&str] = &[
        "WERF_ADD_CUSTOM_TAG_",
        "WERF_SECONDARY_REPO_",
        "WERF_CACHE_REPO_",
        "WERF_SECRET_VALUES_",
        "WERF_VALUES_",
        "WERF_SET_",
        "WERF_KUBECONFIG",
    ];
    let mut unread: Vec<String> = werf
        .into_iter()
        .filter(|n| !known.contains(n) && !ELSEWHERE.iter().any(|p| n.starts_with(p)))
        .collect();
    unread.sort();
    unread
}

/// Returns the flag an unknown-argument error names, when it is one of werf's: a werf
/// job moved over gets pointed at the page that maps werf's flags.
fn unknown_werf_flag(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    if e.kind() != clap::error::ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let flag = arg.split('=').next().unwrap_or(arg);
    // Prefixes of werf's build, render and converge flags that slipway has no use for.
    const WERF: &[&str] = &[
        "--log-",
        "--parallel",
        "--tmp-dir",
        "--home-dir",
        "--git-work-tree",
        "--loose-giterminism",
        "--giterminism-",
        "--ssh-key",
        "--synchronization",
        "--kube-",
        "--insecure-helm-dependencies",
        "--skip-tls-verify-helm-dependencies",
        "--skip-tls-verify-kube",
        "--status-progress-period",
        "--hooks-status-progress-period",
        "--deploy-",
        "--atomic",
        "--auto-rollback",
        "--skip-dependencies-repo-refresh",
        "--save-build-report",
        "--build-report-path",
        "--virtual-merge",
        "--require-built-images",
        "--skip-build",
        "--introspect-",
        "--stub-tags",
        "--config-templates-dir",
        "--container-registry-mirror",
        "--docker-config",
        "--cache-stages-storage",
        "--add-annotation",
        "--add-label",
        "--set-docker-config-json-value",
        "--without-images",
        "--show-only",
        "--config-render-path",
    ];
    WERF.iter()
        .any(|p| flag.starts_with(p))
        .then(|| flag.to_string())
}

/// Parses the command line. `chart` commands are tried first with a tree of only the
/// global flags and the `chart` subcommands: building every command's flags is a quarter
/// of a millisecond, which is most of what starting a small render costs. Whatever that
/// tree does not take as it is (help, `--version`, an error of any kind) is parsed again
/// with the whole tree, so that what is printed then is what it always was.
fn parse_cli(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
    if args.get(1).is_some_and(|a| a == "chart")
        && let Some(cli) = parse_chart_alone(&args)
    {
        return Ok(cli);
    }
    Cli::try_parse_from(args)
}

/// `args` parsed as a `chart` command with only the global flags and the `chart`
/// subcommands defined (the same definitions the whole tree holds), or `None`.
fn parse_chart_alone(args: &[std::ffi::OsString]) -> Option<Cli> {
    use clap::{Args, FromArgMatches, Subcommand};
    let chart = cli::ChartCommand::augment_subcommands(
        clap::Command::new("chart")
            .subcommand_required(true)
            .arg_required_else_help(true),
    );
    let mut root = cli::GlobalArgs::augment_args(clap::Command::new("slipway"))
        .subcommand_required(true)
        .subcommand(chart);
    let matches = root.try_get_matches_from_mut(args).ok()?;
    Cli::from_arg_matches(&matches).ok()
}

/// mimalloc instead of the C library's allocator: rendering a chart makes many small
/// values on two threads at once, and glibc's arenas made a fifth of that time (measured
/// with `scripts/bench-chart`; bench/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Both rustls providers can end up in one dependency tree; choose aws-lc-rs explicitly.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = match parse_cli(std::env::args_os().collect()) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitCode::BadInput as i32
            } else {
                0
            };
            let _ = e.print();
            if let Some(flag) = unknown_werf_flag(&e) {
                eprintln!(
                    "note: `{flag}` is a werf flag slipway does not take; docs/coming-from-werf.md says what each werf flag becomes"
                );
            }
            std::process::exit(code);
        }
    };
    // `chart` commands write no files, so an interrupt leaves nothing to remove: they skip
    // the handler thread and what starting it costs.
    if !matches!(cli.command, Command::Chart(_)) {
        on_interrupt_remove_temp_files();
    }
    let output = cli.global.output;
    let code = match run(&cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                ExitCode::Ok
            } else {
                let code = exit_code_for(&err);
                let text = slipway_trust::error_text(err.as_ref());
                let fixes = fixes::of_error(&err);
                eprint!(
                    "error: {text}\n{}",
                    fixes::lines(&fixes, "  ", !fixes.nodes.is_empty())
                );
                if output == Output::Json {
                    let mut obj = serde_json::json!({ "error": text, "exit_code": code as i32 });
                    if !fixes.is_empty() {
                        obj["fixes"] = serde_json::json!(fixes);
                    }
                    println!("{obj}");
                }
                code
            }
        }
    };
    std::process::exit(code as i32);
}

/// On SIGINT or SIGTERM, removes the temporary files of the blobs being written, then
/// exits as a shell reports a death by that signal (130 or 143): an interrupted pull or
/// build leaves nothing behind. Files a `kill -9` leaves are swept by the next run that
/// writes to the same layout or store.
fn on_interrupt_remove_temp_files() {
    use tokio::signal::unix::{SignalKind, signal};
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            else {
                let _ = ready_tx.send(());
                return;
            };
            rt.block_on(async {
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    let _ = ready_tx.send(());
                    return;
                };
                let _ = ready_tx.send(());
                let code = tokio::select! {
                    _ = int.recv() => 130,
                    _ = term.recv() => 143,
                };
                let removed = slipway_oci::remove_live_temp_files();
                if removed > 0 {
                    eprintln!("interrupted: removed {removed} unfinished blob file(s)");
                }
                std::process::exit(code);
            });
        });
    // Wait until the handlers are in place, so a signal that comes early is not lost.
    if spawned.is_ok() {
        let _ = ready_rx.recv();
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    // Only commands that open TLS connections need the trust policy (and its system
    // bundle); node, cluster and most pki commands start without loading it.
    let settings = || Settings::resolve(&cli.global);
    if matches!(
        cli.command,
        Command::Build(_) | Command::Render(_) | Command::Converge(_)
    ) {
        let unread = unread_werf_variables(std::env::vars_os().map(|(k, _)| k));
        if !unread.is_empty() {
            eprintln!(
                "note: {} {} set, and slipway does not read {}; docs/coming-from-werf.md says what each werf setting becomes",
                unread.join(", "),
                if unread.len() == 1 { "is" } else { "are" },
                if unread.len() == 1 { "it" } else { "them" }
            );
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = match &cli.command {
        Command::Copy(a) => {
            commands::transfer::run_copy(&settings()?, a, cli.global.output, &mut out)?
        }
        Command::Sync(a) => commands::sync::run(&settings()?, a, cli.global.output, &mut out)?,
        Command::Inspect(a) => {
            commands::transfer::run_inspect(&settings()?, a, cli.global.output, &mut out)?
        }
        Command::Tags(a) => {
            commands::transfer::run_tags(&settings()?, a, cli.global.output, &mut out)?
        }
        Command::Login(a) => {
            commands::transfer::run_login(&settings()?, a, cli.global.output, &mut out)?
        }
        Command::Build(a) => commands::build::run(&settings()?, &cli.global, a, &mut out)?,
        Command::Render(a) => commands::render::run(&settings()?, &cli.global, a, &mut out)?,
        Command::Converge(a) => commands::converge::run(&settings()?, &cli.global, a, &mut out)?,
        Command::Doctor(a) => {
            commands::converge::run_doctor(&settings, cli.global.output, a, &mut out)?
        }
        Command::Cluster(cmd) => commands::cluster::run(
            cmd,
            &cli.global.registry_client_cert,
            cli.global.output,
            &mut out,
        )?,
        Command::Node(cmd) => commands::node::run(cmd, cli.global.output, &mut out)?,
        Command::Chart(cmd) => {
            commands::chart::run_with(&settings, cmd, cli.global.output, &mut out)?
        }
        Command::Pki(cmd) => commands::pki::run(&cli.global, cmd, cli.global.output, &mut out)?,
        Command::Registry(RegistryCommand::Probe(args)) => {
            commands::probe::run(&settings()?, args, cli.global.output, &mut out)?
        }
    };
    out.flush()?;
    Ok(code)
}

/// Bad input (files, names, config, a refused rotation step) is 2; failures while working
/// (writing files, talking to a server) are 3. One rule for every command: the error and
/// each of its causes is asked in turn, so bad input found deep inside (a credentials file
/// that does not parse, met while copying) is still bad input.
fn exit_code_for(err: &anyhow::Error) -> ExitCode {
    if err.chain().any(is_bad_input) {
        ExitCode::BadInput
    } else {
        ExitCode::Failed
    }
}

/// Says whether one error, on its own, is the user's input being wrong.
fn is_bad_input(e: &(dyn std::error::Error + 'static)) -> bool {
    use slipway_registry::credentials::Error as Credentials;
    if let Some(e) = e.downcast_ref::<slipway_builder::BuildError>() {
        return e.is_bad_input();
    }
    if let Some(e) = e.downcast_ref::<slipway_chart::helm::Error>() {
        return e.is_bad_input();
    }
    if let Some(e) = e.downcast_ref::<slipway_kube::render::RenderError>() {
        return e.is_bad_input();
    }
    if let Some(e) = e.downcast_ref::<slipway_registry::Error>() {
        return e.is_bad_input();
    }
    if let Some(e) = e.downcast_ref::<slipway_oci::Error>() {
        return e.is_bad_input();
    }
    if let Some(e) = e.downcast_ref::<Credentials>() {
        return matches!(
            e,
            Credentials::InvalidHost { .. }
                | Credentials::NoDockerConfig
                | Credentials::Read { .. }
                | Credentials::Invalid { .. }
                | Credentials::HelperNotFound { .. }
        );
    }
    if let Some(e) = e.downcast_ref::<slipway_kube::Error>() {
        return matches!(
            e,
            slipway_kube::Error::Kubeconfig { .. }
                | slipway_kube::Error::UnknownKind { .. }
                | slipway_kube::Error::Invalid { .. }
        );
    }
    if let Some(e) = e.downcast_ref::<slipway_node::Error>() {
        return !matches!(e, slipway_node::Error::Io { .. });
    }
    if let Some(e) = e.downcast_ref::<PkiError>() {
        return !matches!(e, PkiError::Io { source, .. } if source.kind() != std::io::ErrorKind::NotFound);
    }
    e.is::<BadInput>()
        || e.is::<slipway_trust::Error>()
        || e.is::<slipway_names::Error>()
        || e.is::<slipway_werf::ConfigError>()
        || e.is::<slipway_dockerfile::ParseError>()
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<std::ffi::OsString> {
        line.split(' ').map(Into::into).collect()
    }

    #[test]
    fn chart_commands_parse_alone_as_the_whole_tree_parses_them() {
        for line in [
            "slipway chart render ./web",
            "slipway chart render ./web --release web --namespace prod -f a.yaml -f b.yaml",
            "slipway chart render ./web --set a=1 --set-string b=2 --set-json c={} --set-file d=f",
            "slipway chart render web.tgz --kube-version 1.30.0 --api-versions x/v1 --show-only t.yaml",
            "slipway chart render ./web --registry-ca r.internal:5000=ca.crt --output json",
            "slipway --output json chart render ./web --include-crds --no-hooks --skip-tests",
        ] {
            let whole = Cli::try_parse_from(args(line)).expect(line);
            let alone = parse_chart_alone(&args(line)).expect(line);
            assert_eq!(format!("{alone:?}"), format!("{whole:?}"), "{line}");
            let chosen = parse_cli(args(line)).expect(line);
            assert_eq!(format!("{chosen:?}"), format!("{whole:?}"), "{line}");
        }
    }

    #[test]
    fn what_the_chart_tree_does_not_take_goes_to_the_whole_tree() {
        for line in [
            "slipway chart",
            "slipway chart render",
            "slipway chart render --help",
            "slipway chart --help",
            "slipway chart render ./web --version",
            "slipway chart render ./web --no-such-flag",
            "slipway chart template ./web",
        ] {
            assert!(parse_chart_alone(&args(line)).is_none(), "{line}");
            let whole = Cli::try_parse_from(args(line)).map(|_| ()).unwrap_err();
            let chosen = parse_cli(args(line)).map(|_| ()).unwrap_err();
            assert_eq!(chosen.kind(), whole.kind(), "{line}");
            assert_eq!(chosen.to_string(), whole.to_string(), "{line}");
        }
    }
}
