//! Parses Dockerfiles the way BuildKit reads them, and expands their shell words.
//!
//! [`parse`] handles parser directives (`# escape=`), comments, line continuations,
//! heredocs, the JSON and shell forms, and the flags of every instruction. Words are kept
//! *raw* (quotes, escapes and `$VAR`s as written): [`expand`] turns one into its value once
//! the variables are known, as BuildKit does when it runs the instruction.
//!
//! [`Instruction::normalized`] gives a canonical one-line text of an instruction, for cache
//! digests and image history.
//!
//! A crate of its own so that the language is in one room: [`parse`] (with the modules
//! `lines` and `parse`), [`expand`], and [`Instruction::normalized`] (module `normalize`),
//! whose text no stage digest may change by accident (see the golden test).

mod ast;
mod duration;
mod expand;
mod lines;
mod normalize;
mod parse;
#[cfg(test)]
mod tests;

pub use ast::*;
pub use duration::{DurationError, parse_go_duration};
pub use expand::expand;
pub use parse::parse;
