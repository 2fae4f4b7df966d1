//! One module per command.
pub mod cluster;
pub mod node;
pub mod pki;
pub mod probe;
pub mod transfer;
