//! `pki renew`: re-issue a leaf at 2/3 of its lifetime (or when forced), keeping its names.

use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;

use crate::Error;
use crate::ca::{Ca, IssueOptions, IssueReport, KeyKind, LeafFiles, issue, leaf_names};

/// Reports what `pki renew` did.
#[derive(Clone, Debug, Serialize)]
pub struct RenewReport {
    /// Whether a new certificate was issued.
    pub renewed: bool,
    /// When renewal is due (2/3 of the lifetime), RFC 3339.
    pub due: String,
    /// The old leaf's serial.
    pub old_serial: String,
    /// The new leaf, when renewed.
    pub issued: Option<IssueReport>,
}

/// Renews `PREFIX.crt` from the CA in `dir` if 2/3 of its lifetime has passed, or if `force`.
///
/// # Errors
/// A missing or corrupt leaf, an unusable CA, or an I/O error. Nothing is written on error.
pub fn renew(dir: &Path, prefix: &Path, force: bool, key: KeyKind) -> Result<RenewReport, Error> {
    let files = LeafFiles::for_prefix(prefix);
    let ca = Ca::load(dir)?;
    let crate::ca::LeafInfo {
        dns,
        ips,
        lifetime: life,
        not_before,
        der,
    } = leaf_names(&files.cert)?;
    let due =
        not_before + time::Duration::seconds(i64::try_from(life.as_secs() * 2 / 3).unwrap_or(0));
    let old = crate::inspect::details(&der)
        .map(|d| d.serial)
        .unwrap_or_default();
    let report = |issued: Option<IssueReport>| RenewReport {
        renewed: issued.is_some(),
        due: crate::inspect::rfc3339(due),
        old_serial: old.clone(),
        issued,
    };
    if !force && OffsetDateTime::now_utc() < due {
        return Ok(report(None));
    }
    let issued = issue(
        &ca,
        &IssueOptions {
            dns,
            ips,
            validity: life,
            key,
            existing: crate::Existing::Backup,
        },
        prefix,
    )?;
    Ok(report(Some(issued)))
}
