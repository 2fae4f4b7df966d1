//! One module per command.

pub mod probe;
