//! One module per command.
pub mod build;
pub mod chart;
pub mod cluster;
pub mod converge;
pub mod node;
pub mod pki;
pub mod probe;
pub mod render;
pub mod sync;
pub mod tags;
pub mod transfer;
pub mod werf_chart;

use std::io::Write;

use serde::Serialize;

use crate::cli::Output;

/// Returns the async runtime a command's network work runs on: two workers, as many as
/// this kind of machine has cores for streams and TLS.
///
/// # Errors
/// The runtime cannot start (no threads).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Writes `value` as pretty JSON and a newline: what `--output json` prints.
///
/// # Errors
/// Serialization or write failures.
pub fn write_json<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints `value` as JSON, or runs `human` for text output.
///
/// # Errors
/// Serialization or write failures.
pub fn emit<T: Serialize>(
    output: Output,
    out: &mut dyn Write,
    value: &T,
    human: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    match output {
        Output::Json => write_json(out, value),
        Output::Human => Ok(human(out)?),
    }
}
