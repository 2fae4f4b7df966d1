//! How fixes read. The library crates return each step as data ([`Fix`]); this module
//! writes those steps as lines for people, after the error or diagnosis they cure, and
//! finds them in an error's chain for `--output json`.

use std::collections::HashSet;

use slipway_kube::{PullDiagnosis, TrackError};
use slipway_trust::{Fix, Fixes};

/// Writes one step as a line of text.
pub fn line(f: &Fix) -> String {
    match f {
        Fix::Run {
            command,
            purpose: Some(p),
        } => format!("{p}: {command}"),
        Fix::Run { command, .. } => command.clone(),
        Fix::Flag {
            flag,
            value,
            alternatives,
            caution,
        } => {
            let mut s = format!("pass {flag} {value}");
            if let Some(c) = caution {
                s.push_str(&format!(" ({c})"));
            }
            if !alternatives.is_empty() {
                s.push_str(&format!("  (or: {})", alternatives.join("; or: ")));
            }
            s
        }
        Fix::SaveServedCertificate {
            sha256, command, ..
        } => {
            let fingerprint = sha256
                .as_deref()
                .map(|f| format!(" {f}"))
                .unwrap_or_default();
            format!(
                "the server's certificate is self-signed; after checking its SHA-256 fingerprint{fingerprint} with the registry's owner, save it: {command}"
            )
        }
        Fix::GetCaCertificate { file, issuer } => {
            let issuer = issuer
                .as_deref()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default();
            format!(
                "get the CA certificate that issued the registry's certificate{issuer} as PEM, saved as {file}"
            )
        }
        Fix::Check { text } => text.clone(),
        Fix::Nothing { reason } => format!("none: {reason}"),
    }
}

/// Writes the steps as lines, each starting with `indent`. With `sides`, each line says
/// which side it is for (`fix (nodes):`, `fix (build machine):`); without, the steps are
/// the build machine's own and read `fix:`.
pub fn lines(fixes: &Fixes, indent: &str, sides: bool) -> String {
    let mut out = String::new();
    let mut put = |label: &str, list: &[Fix]| {
        for f in list {
            out.push_str(&format!("{indent}{label}: {}\n", line(f)));
        }
    };
    if sides {
        put("fix (nodes)", &fixes.nodes);
        put("fix (build machine)", &fixes.build_machine);
    } else {
        put("fix", &fixes.build_machine);
        put("fix (nodes)", &fixes.nodes);
    }
    out
}

/// Writes a pull diagnosis, followed by its steps one level deeper.
pub fn diagnosis(d: &PullDiagnosis, indent: &str) -> String {
    format!(
        "{indent}{d}\n{}",
        lines(&d.fixes, &format!("{indent}  "), true)
    )
}

/// Merges `more` into `into`, keeping the first of equal steps: many pods failing the same
/// way need one set of steps.
pub fn merge(into: &mut Fixes, more: &Fixes) {
    for (to, from) in [
        (&mut into.nodes, &more.nodes),
        (&mut into.build_machine, &more.build_machine),
    ] {
        for f in from {
            if !to.contains(f) {
                to.push(f.clone());
            }
        }
    }
}

/// Returns the steps of the pull failures a tracking error lists, once each.
pub fn of_track_error(e: &TrackError) -> Fixes {
    let mut fixes = Fixes::default();
    if let TrackError::PullFailed { diagnoses } | TrackError::Timeout { diagnoses, .. } = e {
        for d in diagnoses {
            merge(&mut fixes, &d.fixes);
        }
    }
    fixes
}

/// Returns the steps that cure an error: those of the first error in its chain that
/// carries any (a registry that could not be reached, pulls that failed on the nodes).
pub fn of_error(err: &anyhow::Error) -> Fixes {
    for e in err.chain() {
        let found = if let Some(e) = e.downcast_ref::<slipway_registry::Error>() {
            e.fixes()
        } else if let Some(e) = e.downcast_ref::<TrackError>() {
            of_track_error(e)
        } else {
            continue;
        };
        if !found.is_empty() {
            return found;
        }
    }
    Fixes::default()
}

/// Prints tracking progress for people on stderr. A pull diagnosis that waiting may cure is
/// followed by the steps not printed before, so pods that fail alike show their fix once; a
/// fatal one stops tracking, and the error that follows lists its steps.
pub struct ProgressPrinter {
    indent: &'static str,
    seen: HashSet<Fix>,
}

impl ProgressPrinter {
    /// Returns a printer whose lines start with `indent`.
    pub fn new(indent: &'static str) -> ProgressPrinter {
        ProgressPrinter {
            indent,
            seen: HashSet::new(),
        }
    }

    /// Prints one line of progress.
    pub fn print(&mut self, p: &slipway_kube::Progress) {
        eprintln!("{}{p}", self.indent);
        if let slipway_kube::Progress::Diagnosis(d) = p
            && !d.fatal
        {
            let fresh = Fixes {
                nodes: self.fresh(&d.fixes.nodes),
                build_machine: self.fresh(&d.fixes.build_machine),
            };
            eprint!("{}", lines(&fresh, &format!("{}  ", self.indent), true));
        }
    }

    fn fresh(&mut self, list: &[Fix]) -> Vec<Fix> {
        list.iter()
            .filter(|f| self.seen.insert((*f).clone()))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_trust::{FixContext, Verdict};

    fn cx() -> FixContext {
        FixContext {
            registry: "r.test:5000".into(),
            ..FixContext::default()
        }
    }

    #[test]
    fn each_kind_reads_as_one_line_naming_what_to_do() {
        let ua = Verdict::UnknownAuthority.fixes(&FixContext {
            self_signed: true,
            leaf_sha256: Some("AB:CD".into()),
            ..cx()
        });
        let text = lines(&ua, "  ", false);
        let want = [
            "  fix: the server's certificate is self-signed; after checking its SHA-256 fingerprint AB:CD with the registry's owner, save it: openssl s_client -connect r.test:5000 -showcerts </dev/null | openssl x509 -out r.test_5000.crt",
            "  fix: pass --registry-ca r.test:5000=r.test_5000.crt  (or: /etc/containers/certs.d/r.test:5000/ca.crt; or: configs.\"r.test:5000\".tls.ca_file in --registries-config)",
            "  fix (nodes): slipway node trust install --registry r.test:5000 --ca r.test_5000.crt",
            "  fix (nodes): on every node at once (nodes that join later too): slipway cluster trust apply --trust r.test:5000=r.test_5000.crt --agent-image IMAGE",
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), want);
        let plain = lines(&Verdict::PlainHttp.fixes(&cx()), "", true);
        assert!(
            plain.contains(
                "fix (build machine): pass --registry-plain-http r.test:5000 (only knowingly"
            ),
            "{plain}"
        );
        assert!(
            plain.starts_with("fix (nodes): test environments only: slipway node trust install"),
            "{plain}"
        );
        let issued = lines(
            &Verdict::UnknownAuthority.fixes(&FixContext {
                leaf_issuer: Some("CN=Corp CA".into()),
                ..cx()
            }),
            "",
            false,
        );
        assert!(
            issued.starts_with("fix: get the CA certificate that issued the registry's certificate (CN=Corp CA) as PEM, saved as r.test_5000.crt\n"),
            "{issued}"
        );
        assert_eq!(
            line(&Fix::Nothing {
                reason: "all set".into()
            }),
            "none: all set"
        );
    }

    #[test]
    fn equal_steps_merge_once_in_first_seen_order() {
        let a = Verdict::UnknownAuthority.fixes(&cx());
        let b = Verdict::Unauthorized.fixes(&cx());
        let mut all = Fixes::default();
        merge(&mut all, &a);
        merge(&mut all, &b);
        merge(&mut all, &a);
        assert_eq!(all.nodes.len(), a.nodes.len() + b.nodes.len());
        assert_eq!(
            all.build_machine[..a.build_machine.len()],
            a.build_machine[..]
        );
        assert_eq!(
            all.build_machine.len(),
            a.build_machine.len() + b.build_machine.len()
        );
    }
}
