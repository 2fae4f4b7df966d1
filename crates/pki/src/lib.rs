//! Internal PKI for a private registry: a CA with name constraints, server certificates with
//! SANs, inspection with expiry checks, renewal, and a CA rotation in stages that never
//! breaks a pull.
//!
//! What it is for: the certificate lifecycle a private registry needs (an internal PKI,
//! rotated regularly), producing files Distribution, containerd, Docker and
//! slipway itself accept. What it is not for: distributing trust to nodes (the `node` crate)
//! or restarting registries (it prints what to restart with).
//!
//! ```no_run
//! use std::path::Path;
//! use std::time::Duration;
//! use slipway_pki::{Ca, CaOptions, Existing, IssueOptions, KeyKind, init, issue};
//! let dir = Path::new("/srv/pki");
//! init(dir, &CaOptions { common_name: "corp registry CA".into(), key: KeyKind::EcdsaP256,
//!     permit_dns: vec!["corp.test".into()], permit_ip: vec![], validity: Duration::from_secs(10 * 365 * 86400) })?;
//! let ca = Ca::load(dir)?;
//! issue(&ca, &IssueOptions { dns: vec!["registry.corp.test".into()], ips: vec![],
//!     validity: Duration::from_secs(397 * 86400), key: KeyKind::EcdsaP256,
//!     existing: Existing::Refuse }, &dir.join("registry"))?;
//! # Ok::<(), slipway_pki::Error>(())
//! ```

mod ca;
mod error;
mod files;
mod inspect;
mod renew;
mod rotate;

pub use ca::{
    BUNDLE, CA_CERT, CA_KEY, Ca, CaOptions, Existing, InitReport, IssueOptions, IssueReport,
    KeyKind, LeafFiles, check_cidr, check_dns, check_ip, init, issue,
};
pub use error::Error;
pub use inspect::{CertDetails, details, inspect_file};
pub use renew::{RenewReport, renew};
pub use rotate::{RotateOptions, RotateReport, Stage, Step, rotate, stage};
