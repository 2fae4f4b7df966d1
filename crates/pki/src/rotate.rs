//! `pki rotate`: replace the CA in three stages with no failed pulls.
//!
//! 1. `prepare`: a new CA is made (`ca-new.crt`), and `bundle.pem` holds old + new. Nodes
//!    must trust this bundle before anything else changes.
//! 2. `switch`: the registry's leaf is re-issued from the new CA, which becomes `ca.crt`;
//!    the old one is kept as `ca-old.crt`. The registry must be restarted (Distribution
//!    never reloads its certificate).
//! 3. `retire`: the old CA leaves the bundle and its key is deleted.
//!
//! The stage is read from the certificates in the folder, never from a progress file, so
//! an interrupted rotation resumes where it stopped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use x509_parser::extensions::GeneralName;

use crate::ca::{
    BUNDLE, CA_CERT, CA_KEY, Ca, IssueOptions, KeyKind, LeafFiles, ca_params, issue, leaf_names,
};
use crate::files::Batch;
use crate::{CertDetails, Error};

const NEW_CERT: &str = "ca-new.crt";
const NEW_KEY: &str = "ca-new.key";
const OLD_CERT: &str = "ca-old.crt";
const OLD_KEY: &str = "ca-old.key";

/// Names where a rotation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// No rotation in progress. Next: prepare.
    Idle,
    /// A new CA exists and the bundle holds old + new. Next: switch.
    Prepared,
    /// The leaf comes from the new CA; the bundle still holds old + new. Next: retire.
    Switched,
}

impl Stage {
    /// Returns the stage's name, as JSON writes it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Idle => "idle",
            Stage::Prepared => "prepared",
            Stage::Switched => "switched",
        }
    }

    fn next(self) -> &'static str {
        match self {
            Stage::Idle => "prepare",
            Stage::Prepared => "switch",
            Stage::Switched => "retire",
        }
    }
}

/// Chooses which stage to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Make the new CA and the old + new bundle.
    Prepare,
    /// Re-issue the leaf from the new CA and make it current.
    Switch,
    /// Drop the old CA from the bundle.
    Retire,
}

impl Step {
    /// Returns the step's name, as the command line and JSON write it.
    pub fn name(self) -> &'static str {
        match self {
            Step::Prepare => "prepare",
            Step::Switch => "switch",
            Step::Retire => "retire",
        }
    }
}

/// Holds the options of `pki rotate`.
#[derive(Clone, Debug, Default)]
pub struct RotateOptions {
    /// The registry's leaf, as the `--out` prefix it was issued with (needed by `switch`).
    pub leaf: Option<PathBuf>,
    /// The operator confirms every node trusts `bundle.pem`.
    pub confirm_nodes_trust: bool,
    /// A CA file as a node has it; `switch` checks it holds the new CA.
    pub nodes_trust: Option<PathBuf>,
    /// The registry's `host[:port]`, to print exact commands.
    pub registry: Option<String>,
    /// Key algorithm of the new CA.
    pub key: KeyKind,
    /// Validity of the new CA.
    pub validity: Option<Duration>,
}

/// Reports a rotation stage: what was done and what must happen next, outside slipway.
#[derive(Clone, Debug, Serialize)]
pub struct RotateReport {
    /// The stage the folder was in before.
    pub was: Stage,
    /// The stage it is in now.
    pub now: Stage,
    /// The next step, if any.
    pub next: Option<&'static str>,
    /// Files written or moved.
    pub wrote: Vec<PathBuf>,
    /// What every node must trust now.
    pub distribute_to_nodes: Vec<String>,
    /// What the registry must be restarted with.
    pub registry: Vec<String>,
    /// The certificates in `bundle.pem` now.
    pub bundle: Vec<CertDetails>,
    /// Remarks.
    pub notes: Vec<String>,
}

/// Works out the rotation stage from the certificates in `dir`, finishing a switch that
/// was interrupted between its renames.
///
/// # Errors
/// A folder without a CA, or files that cannot be renamed.
pub fn stage(dir: &Path) -> Result<Stage, Error> {
    let has = |f: &str| dir.join(f).exists();
    if has(NEW_CERT) && has(OLD_CERT) {
        // A switch stopped after moving the old CA aside: finish promoting the new one.
        promote_new(dir)?;
    }
    if !has(CA_CERT) {
        return Err(Error::NoCa {
            dir: dir.into(),
            missing: dir.join(CA_CERT),
        });
    }
    Ok(match (has(NEW_CERT), has(OLD_CERT)) {
        (true, _) => Stage::Prepared,
        (false, true) => Stage::Switched,
        (false, false) => Stage::Idle,
    })
}

/// Runs one stage: `step`, or the next one when `None`.
///
/// # Errors
/// A step that does not fit the current stage, a missing `--leaf` for switch, unconfirmed
/// node trust, or the errors of loading and issuing. Nothing is half-written.
pub fn rotate(dir: &Path, step: Option<Step>, opts: &RotateOptions) -> Result<RotateReport, Error> {
    let was = stage(dir)?;
    let step = step.unwrap_or(match was {
        Stage::Idle => Step::Prepare,
        Stage::Prepared => Step::Switch,
        Stage::Switched => Step::Retire,
    });
    let wrong = |want: Stage| {
        Error::Rotation(format!(
            "cannot {} now: {} is at stage `{}`, which needs `{}` next (this step needs stage `{}`)",
            step.name(),
            dir.display(),
            was.name(),
            was.next(),
            want.name()
        ))
    };
    let mut report = RotateReport {
        was,
        now: was,
        next: None,
        wrote: vec![],
        distribute_to_nodes: vec![],
        registry: vec![],
        bundle: vec![],
        notes: vec![],
    };
    let reg = opts.registry.clone().unwrap_or_else(|| "REGISTRY".into());
    let bundle = dir.join(BUNDLE);
    match step {
        Step::Prepare => {
            if was != Stage::Idle {
                return Err(wrong(Stage::Idle));
            }
            let old = Ca::load(dir)?;
            let (cn, dns, ips) = carry_over(old.der());
            let validity = opts
                .validity
                .unwrap_or(Duration::from_secs(10 * 365 * 86_400));
            let key = opts.key.generate_key()?;
            let params = ca_params(&cn, validity, &dns, &ips);
            let new = params.self_signed(&key)?;
            let mut b = Batch::default();
            b.public(dir.join(NEW_CERT), new.pem(), true);
            b.secret(dir.join(NEW_KEY), key.serialize_pem(), true);
            b.public(&bundle, format!("{}{}", old.pem(), new.pem()), false);
            report.wrote = b.commit()?;
            report.now = Stage::Prepared;
            report.distribute_to_nodes = vec![
                format!(
                    "every node must trust {} (old + new CA) BEFORE `pki rotate switch`:",
                    bundle.display()
                ),
                format!(
                    "  slipway node trust install --registry {reg} --ca {}",
                    bundle.display()
                ),
                format!(
                    "  or for all nodes: slipway cluster trust apply --trust {reg}={} --agent-image IMAGE",
                    bundle.display()
                ),
                "build machines: --registry-ca with the same bundle (or copy it to certs.d)".into(),
            ];
            report.registry =
                vec!["no restart: the registry keeps serving its current certificate".into()];
        }
        Step::Switch => {
            if was != Stage::Prepared {
                return Err(wrong(Stage::Prepared));
            }
            let leaf = opts.leaf.as_ref().ok_or_else(|| Error::Usage("`pki rotate switch` needs --leaf PREFIX: the prefix the registry certificate was issued with (`pki issue --out PREFIX`)".into()))?;
            let new = Ca::load_pair(dir, &dir.join(NEW_CERT), &dir.join(NEW_KEY))?;
            check_nodes_trust(opts, &new, &bundle)?;
            let files = LeafFiles::for_prefix(leaf);
            let crate::ca::LeafInfo {
                dns,
                ips,
                lifetime: life,
                der,
                ..
            } = leaf_names(&files.cert)?;
            if issued_by(&der, new.der()) {
                report.notes.push(format!(
                    "{} is already issued by the new CA; not re-issued",
                    files.cert.display()
                ));
            } else {
                let issued = issue(
                    &new,
                    &IssueOptions {
                        dns,
                        ips,
                        validity: life,
                        key: opts.key,
                        existing: crate::Existing::Backup,
                    },
                    leaf,
                )?;
                report.wrote.extend([
                    issued.files.cert,
                    issued.files.key,
                    issued.files.chain,
                    issued.files.fullchain,
                ]);
            }
            report.wrote.extend(promote(dir)?);
            report.now = Stage::Switched;
            report.registry = vec![
                format!("restart the registry now with http.tls.certificate = {} and http.tls.key = {}", files.fullchain.display(), files.key.display()),
                "Distribution never reloads its certificate: until it restarts it serves the old one (which nodes still trust)".into(),
            ];
            report.distribute_to_nodes = vec![format!(
                "nothing new: nodes keep trusting {} (old + new) until `pki rotate retire`",
                bundle.display()
            )];
        }
        Step::Retire => {
            if was != Stage::Switched {
                return Err(wrong(Stage::Switched));
            }
            let current = Ca::load(dir)?;
            if let Some(leaf) = &opts.leaf {
                let der = leaf_names(&LeafFiles::for_prefix(leaf).cert)?.der;
                if !issued_by(&der, current.der()) {
                    return Err(Error::Rotation(format!(
                        "{} is not issued by the new CA yet; run `pki rotate switch` for it first",
                        leaf.display()
                    )));
                }
            }
            let old_pem = std::fs::read(dir.join(OLD_CERT)).map_err(|source| Error::Io {
                what: "cannot read".into(),
                path: dir.join(OLD_CERT),
                source,
            })?;
            let serial = crate::inspect::inspect_file(&dir.join(OLD_CERT))?
                .first()
                .map(|d| d.serial.replace(':', ""))
                .unwrap_or_else(|| "unknown".into());
            let retired = dir.join("retired");
            std::fs::create_dir_all(&retired).map_err(|source| Error::Io {
                what: "cannot create".into(),
                path: retired.clone(),
                source,
            })?;
            let mut b = Batch::default();
            b.public(&bundle, current.pem().to_string(), false);
            b.public(retired.join(format!("ca-{serial}.crt")), old_pem, false);
            report.wrote = b.commit()?;
            for f in [OLD_KEY, OLD_CERT] {
                let p = dir.join(f);
                if p.exists() {
                    std::fs::remove_file(&p).map_err(|source| Error::Io {
                        what: "cannot remove".into(),
                        path: p.clone(),
                        source,
                    })?;
                }
            }
            report.now = Stage::Idle;
            report.distribute_to_nodes = vec![
                format!(
                    "every node may now trust only {} (new CA):",
                    bundle.display()
                ),
                format!(
                    "  slipway node trust install --registry {reg} --ca {}",
                    bundle.display()
                ),
            ];
            report.registry = vec!["no restart".into()];
            report.notes.push(format!(
                "the old CA's key was deleted; its certificate is kept in {}",
                retired.display()
            ));
        }
    }
    report.next = (report.now != Stage::Idle).then(|| report.now.next());
    report.bundle = crate::inspect::inspect_file(&bundle)?;
    Ok(report)
}

impl KeyKind {
    fn generate_key(self) -> Result<rcgen::KeyPair, Error> {
        let alg = match self {
            KeyKind::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyKind::Rsa => &rcgen::PKCS_RSA_SHA256,
        };
        Ok(rcgen::KeyPair::generate_for(alg)?)
    }
}

fn check_nodes_trust(opts: &RotateOptions, new: &Ca, bundle: &Path) -> Result<(), Error> {
    if let Some(file) = &opts.nodes_trust {
        let certs = slipway_trust::read_certificates(file, "--nodes-trust").map_err(|e| {
            Error::Corrupt {
                path: file.clone(),
                why: e.chain(),
            }
        })?;
        if certs.iter().any(|c| c.as_ref() == new.der()) {
            return Ok(());
        }
        return Err(Error::Rotation(format!(
            "{} does not contain the new CA yet: nodes trusting it would fail every pull after the switch; distribute {} first",
            file.display(),
            bundle.display()
        )));
    }
    if opts.confirm_nodes_trust {
        return Ok(());
    }
    Err(Error::Rotation(format!(
        "refusing to switch: every node must trust {} first. Pass --nodes-trust FILE (a CA file as a node has it) to check, or --confirm-nodes-trust",
        bundle.display()
    )))
}

/// Moves the current CA aside and promotes the new one (`switch`'s last step).
fn promote(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    for (from, to) in [(CA_CERT, OLD_CERT), (CA_KEY, OLD_KEY)] {
        rename(&dir.join(from), &dir.join(to))?;
    }
    promote_new(dir)
}

fn promote_new(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    // The key first: a folder with ca-new.crt still present reads as "not yet promoted".
    rename(&dir.join(NEW_KEY), &dir.join(CA_KEY))?;
    rename(&dir.join(NEW_CERT), &dir.join(CA_CERT))?;
    Ok(vec![
        dir.join(CA_CERT),
        dir.join(CA_KEY),
        dir.join(OLD_CERT),
    ])
}

fn rename(from: &Path, to: &Path) -> Result<(), Error> {
    if !from.exists() {
        return Ok(());
    }
    std::fs::rename(from, to).map_err(|source| Error::Io {
        what: format!("cannot move {} to", from.display()),
        path: to.into(),
        source,
    })
}

/// Returns whether `leaf` names `ca` as its issuer and is signed by its key.
fn issued_by(leaf: &[u8], ca: &[u8]) -> bool {
    let (Ok((_, l)), Ok((_, c))) = (
        x509_parser::parse_x509_certificate(leaf),
        x509_parser::parse_x509_certificate(ca),
    ) else {
        return false;
    };
    use x509_parser::extensions::ParsedExtension;
    let aki = l
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        });
    let ski = c
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        });
    l.issuer().as_raw() == c.subject().as_raw() && aki.zip(ski).is_none_or(|(a, s)| a == s)
}

/// Takes the old CA's name (without an earlier rotation date) and constraints.
fn carry_over(der: &[u8]) -> (String, Vec<String>, Vec<(std::net::IpAddr, u8)>) {
    let Ok((_, x)) = x509_parser::parse_x509_certificate(der) else {
        return ("slipway CA".into(), vec![], vec![]);
    };
    let cn = x
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .unwrap_or("slipway CA");
    let base = cn.split(" (rotated ").next().unwrap_or(cn);
    let date = crate::inspect::rfc3339(time::OffsetDateTime::now_utc());
    let cn = format!("{base} (rotated {})", &date[..10]);
    let (mut dns, mut ips) = (Vec::new(), Vec::new());
    if let Ok(Some(nc)) = x.name_constraints() {
        for s in nc.value.permitted_subtrees.as_deref().unwrap_or(&[]) {
            match &s.base {
                GeneralName::DNSName(d) => dns.push(d.to_string()),
                GeneralName::IPAddress(b) if b.len() == 8 || b.len() == 32 => {
                    let half = b.len() / 2;
                    let addr = if half == 4 {
                        std::net::IpAddr::from(<[u8; 4]>::try_from(&b[..4]).unwrap_or_default())
                    } else {
                        std::net::IpAddr::from(<[u8; 16]>::try_from(&b[..16]).unwrap_or_default())
                    };
                    let bits = b[half..].iter().map(|x| x.count_ones()).sum::<u32>();
                    ips.push((addr, u8::try_from(bits).unwrap_or(0)));
                }
                _ => {}
            }
        }
    }
    (cn, dns, ips)
}
