//! File rules slipway keeps once, in the manner of uv's `uv-fs`: writing a file whole or
//! not at all ([`write_atomic`], [`stage`]), cleaning paths inside an image as Docker and
//! Go do ([`path`]), printing a place in a file ([`place`]), and telling whether a file
//! changed since it was last read ([`Stamp`]).
//!
//! What it is for: the crates that write node configs, keys, layouts and caches, and the
//! ones that read Dockerfiles and werf.yaml. What it is not for: knowing what the files
//! mean.
//!
//! ```no_run
//! use slipway_fs::{WriteOptions, write_atomic};
//! write_atomic("/etc/app/key.pem".as_ref(), b"...", &WriteOptions { mode: 0o600, ..WriteOptions::default() })?;
//! assert_eq!(slipway_fs::path::join("/app", "../etc/./x"), "/etc/x");
//! # Ok::<(), slipway_fs::AtomicError>(())
//! ```

mod atomic;
pub mod path;
mod stamp;

pub use atomic::{AtomicError, Staged, WriteOptions, stage, write_atomic};
pub use stamp::Stamp;

/// Formats `:line:column` for messages (`:line` when the column is unknown), or nothing when
/// the line is unknown (0).
pub fn place(line: u64, column: u64) -> String {
    match (line, column) {
        (0, _) => String::new(),
        (l, 0) => format!(":{l}"),
        (l, c) => format!(":{l}:{c}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn places_leave_out_what_is_unknown() {
        assert_eq!(super::place(0, 4), "");
        assert_eq!(super::place(3, 0), ":3");
        assert_eq!(super::place(3, 7), ":3:7");
    }
}
