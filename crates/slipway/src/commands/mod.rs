//! One module per command.
pub mod pki;
pub mod probe;
pub mod transfer;
