//! `.dockerignore` matching and COPY source planning, with Docker's rules.
//!
//! [`DockerIgnore`] reads the patterns the way Docker does (comments, cleaning, `!`
//! exceptions, the last matching pattern wins, a path is excluded when it or a parent
//! matches). [`plan_copy`] turns the sources and destination of a COPY into the sorted
//! list of files, directories and symlinks to put in the layer, without reading file
//! contents.
//!
//! One pattern engine ([`pattern`]) serves both: `.dockerignore` (with `**`) and COPY
//! wildcards (Go's `filepath.Match`, where `*` never crosses a `/`), and the shell patterns
//! of a Dockerfile's `${VAR#pattern}` (where it does: [`Pattern::text`]).

mod copy;
mod ignore;
pub mod pattern;
#[cfg(test)]
mod tests;

pub use copy::{CopyError, Entry, EntryKind, plan_copy};
pub use ignore::{DockerIgnore, IgnoreError};
pub use pattern::PatternError;
pub use pattern::{Pattern, Piece, has_wildcards};
