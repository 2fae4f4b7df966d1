//! Fixes as data: each step that cures a failure is a [`Fix`], with the command, flag or
//! file it names kept apart from the words around it. Library crates return them; the
//! binary decides how they read (lines after an error, or objects in `--output json`).

use serde::Serialize;

use crate::diagnosis::{Verdict, host_only};

/// One step that cures a failure.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fix {
    /// Run a command line (a slipway command, or a shell line).
    Run {
        /// The exact command line; upper-case words (`IMAGE`, `FILE`) are for the user to
        /// fill in, and `...` stands for the flags the user already gives.
        command: String,
        /// What the command is for or when it applies, when the command alone does not say.
        #[serde(skip_serializing_if = "Option::is_none")]
        purpose: Option<String>,
    },
    /// Give slipway a flag on this machine.
    Flag {
        /// The flag, e.g. `--registry-ca`.
        flag: String,
        /// Its value, e.g. `HOST:PORT=FILE`.
        value: String,
        /// Other places that say the same (a certs.d file, a registries-config key).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        alternatives: Vec<String>,
        /// What to weigh before giving it, when it weakens verification.
        #[serde(skip_serializing_if = "Option::is_none")]
        caution: Option<String>,
    },
    /// Save the certificate the registry serves, which is self-signed, as the CA to trust.
    SaveServedCertificate {
        /// The file to save it as.
        file: String,
        /// Its SHA-256 fingerprint, to check with the registry's owner first.
        #[serde(skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
        /// A command line that saves it.
        command: String,
    },
    /// Get the certificate of the CA that issued the registry's certificate, as PEM.
    GetCaCertificate {
        /// The file to save it as.
        file: String,
        /// The issuer the registry's certificate names, when one was seen.
        #[serde(skip_serializing_if = "Option::is_none")]
        issuer: Option<String>,
    },
    /// Something to check or change that no command here does, in words.
    Check {
        /// What to check or change.
        text: String,
    },
    /// Nothing needs to change on this side.
    Nothing {
        /// Why not.
        reason: String,
    },
}

impl Fix {
    /// Returns a [`Fix::Run`] without a purpose.
    pub fn run(command: impl Into<String>) -> Fix {
        Fix::Run {
            command: command.into(),
            purpose: None,
        }
    }

    /// Returns a [`Fix::Run`] with the words that say what it is for.
    pub fn run_for(purpose: impl Into<String>, command: impl Into<String>) -> Fix {
        Fix::Run {
            command: command.into(),
            purpose: Some(purpose.into()),
        }
    }

    /// Returns a [`Fix::Check`].
    pub fn check(text: impl Into<String>) -> Fix {
        Fix::Check { text: text.into() }
    }

    /// Returns the command line a [`Fix::Run`] or [`Fix::SaveServedCertificate`] names.
    pub fn command(&self) -> Option<&str> {
        match self {
            Fix::Run { command, .. } | Fix::SaveServedCertificate { command, .. } => Some(command),
            _ => None,
        }
    }
}

/// Holds the fix for each stage: what to do on the build machine, and on the nodes.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Fixes {
    /// Steps for the machine that builds and pushes (flags, files).
    pub build_machine: Vec<Fix>,
    /// Steps for every Kubernetes node's container runtime.
    pub nodes: Vec<Fix>,
}

impl Fixes {
    /// Returns whether there is no step on either side.
    pub fn is_empty(&self) -> bool {
        self.build_machine.is_empty() && self.nodes.is_empty()
    }
}

/// Describes what the fixes may refer to.
#[derive(Clone, Debug, Default)]
pub struct FixContext {
    /// The registry, as `host[:port]`.
    pub registry: String,
    /// The names the served leaf certificate holds (SANs), if one was seen.
    pub cert_names: Vec<String>,
    /// The served chain is a single self-signed certificate (the `openssl req -x509` case).
    pub self_signed: bool,
    /// SHA-256 fingerprint of the served leaf, if seen.
    pub leaf_sha256: Option<String>,
    /// Issuer of the served leaf, if seen.
    pub leaf_issuer: Option<String>,
    /// The trust agent's image, for the `cluster trust apply` step (`IMAGE` when unknown).
    pub agent_image: Option<String>,
}

/// Returns the file name the fixes give a registry's CA certificate: `HOST_PORT.crt`.
pub fn ca_file_name(registry: &str) -> String {
    format!("{}.crt", registry.replace(':', "_"))
}

/// Returns the command that makes every node trust `registry` through the trust agent.
pub fn cluster_trust_command(registry: &str, agent_image: Option<&str>) -> String {
    format!(
        "slipway cluster trust apply --trust {registry}={} --agent-image {}",
        ca_file_name(registry),
        agent_image.unwrap_or("IMAGE")
    )
}

impl Verdict {
    /// Returns the concrete fix for this verdict, for the build machine and for the nodes.
    pub fn fixes(self, cx: &FixContext) -> Fixes {
        let r = &cx.registry;
        let host = host_only(r);
        let file = ca_file_name(r);
        let node_ca = format!("slipway node trust install --registry {r} --ca {file}");
        let (build_machine, nodes) = match self {
            Verdict::Ok | Verdict::Other => (vec![], vec![]),
            Verdict::UnknownAuthority => {
                let get = if cx.self_signed {
                    Fix::SaveServedCertificate {
                        file: file.clone(),
                        sha256: cx.leaf_sha256.clone(),
                        command: format!(
                            "openssl s_client -connect {r} -showcerts </dev/null | openssl x509 -out {file}"
                        ),
                    }
                } else {
                    Fix::GetCaCertificate {
                        file: file.clone(),
                        issuer: cx.leaf_issuer.clone(),
                    }
                };
                let pass = Fix::Flag {
                    flag: "--registry-ca".into(),
                    value: format!("{r}={file}"),
                    alternatives: vec![
                        format!("/etc/containers/certs.d/{r}/ca.crt"),
                        format!("configs.\"{r}\".tls.ca_file in --registries-config"),
                    ],
                    caution: None,
                };
                (
                    vec![get, pass],
                    vec![
                        Fix::run(node_ca),
                        Fix::run_for(
                            "on every node at once (nodes that join later too)",
                            cluster_trust_command(r, cx.agent_image.as_deref()),
                        ),
                    ],
                )
            }
            Verdict::HostnameMismatch => {
                let names = if cx.cert_names.is_empty() {
                    "no names".to_string()
                } else {
                    cx.cert_names.join(", ")
                };
                (
                    vec![Fix::run_for(
                        format!(
                            "the certificate is for {names}: use one of those names, or re-issue it with the name you use"
                        ),
                        format!("slipway pki issue --dns {host} ..."),
                    )],
                    vec![Fix::check(
                        "nodes pull by the name in the image reference; it must be in the certificate's SANs. No node setting fixes a wrong name.",
                    )],
                )
            }
            Verdict::Expired => (
                vec![Fix::run_for(
                    "renew the registry's certificate, then restart the registry (Distribution never reloads its certificate)",
                    "slipway pki renew ...",
                )],
                vec![Fix::Nothing {
                    reason: "while the CA stays the same, the nodes need no change; they fail the same way until the registry serves a valid certificate".into(),
                }],
            ),
            Verdict::NotYetValid => (
                vec![Fix::check(
                    "check the clocks of this machine and of the machine that issued the certificate; re-issue it with a start time in the past",
                )],
                vec![Fix::check(
                    "check the nodes' clocks (timedatectl); nodes fail the same way until the certificate's start time has passed",
                )],
            ),
            Verdict::LegacyCommonName => (
                vec![Fix::run_for(
                    format!(
                        "re-issue the certificate with a subjectAltName for {host}, then restart the registry"
                    ),
                    format!("slipway pki issue --dns {host} ..."),
                )],
                vec![Fix::check(
                    "containerd, Docker and CRI-O are Go programs and have rejected names found only in the CN since Go 1.15 (\"x509: certificate relies on legacy Common Name field, use SANs instead\"); no node setting brings it back",
                )],
            ),
            Verdict::PlainHttp => (
                vec![
                    Fix::check(
                        "best: enable TLS on the registry (slipway pki init, then slipway pki issue)",
                    ),
                    Fix::Flag {
                        flag: "--registry-plain-http".into(),
                        value: r.clone(),
                        alternatives: vec![],
                        caution: Some(
                            "only knowingly: traffic is unencrypted, and every run announces it"
                                .into(),
                        ),
                    },
                ],
                vec![Fix::run_for(
                    "test environments only",
                    format!("slipway node trust install --registry {r} --insecure"),
                )],
            ),
            Verdict::TlsRequired => (
                vec![Fix::check(format!(
                    "the port speaks TLS: drop --registry-plain-http {r} / --insecure-registry, and trust its CA with --registry-ca {r}=FILE if needed"
                ))],
                vec![Fix::check(
                    "nodes use HTTPS by default; remove any insecure-registries or http:// entry for this registry",
                )],
            ),
            Verdict::ClientCertRequired => (
                vec![Fix::Flag {
                    flag: "--registry-client-cert".into(),
                    value: format!("{r}=client.cert,client.key"),
                    alternatives: vec![format!(
                        "client.cert and client.key in /etc/containers/certs.d/{r}/"
                    )],
                    caution: None,
                }],
                vec![Fix::run(format!(
                    "{node_ca} --client-cert client.cert --client-key client.key"
                ))],
            ),
            Verdict::ConnectionRefused => (
                vec![Fix::check(format!(
                    "nothing listens on {r}: check that the registry runs and the port is right"
                ))],
                vec![],
            ),
            Verdict::Dns => (
                vec![Fix::check(format!(
                    "the name {host} does not resolve here: check DNS or /etc/hosts"
                ))],
                vec![Fix::check("the nodes must resolve the same name")],
            ),
            Verdict::Timeout => (
                vec![Fix::check(format!(
                    "{r} did not answer in time: check firewalls and the port; raise --timeout for slow links"
                ))],
                vec![],
            ),
            Verdict::Unauthorized => (
                vec![Fix::run(format!("slipway login {r}"))],
                vec![Fix::check(
                    "give the pods an imagePullSecret for this registry",
                )],
            ),
            Verdict::NotFound => (
                vec![Fix::check(format!(
                    "{r} answered, but not as a registry API (GET /v2/ was 404): check the port or the path prefix"
                ))],
                vec![],
            ),
        };
        Fixes {
            build_machine,
            nodes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> FixContext {
        FixContext {
            registry: "r.test:5000".into(),
            ..Default::default()
        }
    }

    #[test]
    fn every_failure_has_a_build_machine_fix() {
        for v in Verdict::all() {
            let f = v.fixes(&cx());
            let expect_fix = !matches!(v, Verdict::Ok | Verdict::Other);
            assert_eq!(!f.build_machine.is_empty(), expect_fix, "{v}");
        }
    }

    #[test]
    fn unknown_authority_names_the_file_the_flag_and_the_node_commands() {
        let self_signed = FixContext {
            self_signed: true,
            leaf_sha256: Some("AB:CD".into()),
            ..cx()
        };
        let f = Verdict::UnknownAuthority.fixes(&self_signed);
        match &f.build_machine[..] {
            [
                Fix::SaveServedCertificate {
                    file,
                    sha256,
                    command,
                },
                Fix::Flag {
                    flag,
                    value,
                    alternatives,
                    caution: None,
                },
            ] => {
                assert_eq!(file, "r.test_5000.crt");
                assert_eq!(sha256.as_deref(), Some("AB:CD"));
                assert!(command.ends_with("-out r.test_5000.crt"), "{command}");
                assert_eq!(
                    (flag.as_str(), value.as_str()),
                    ("--registry-ca", "r.test:5000=r.test_5000.crt")
                );
                assert_eq!(
                    alternatives[0],
                    "/etc/containers/certs.d/r.test:5000/ca.crt"
                );
            }
            other => panic!("{other:?}"),
        }
        let commands: Vec<_> = f.nodes.iter().filter_map(Fix::command).collect();
        assert_eq!(
            commands,
            [
                "slipway node trust install --registry r.test:5000 --ca r.test_5000.crt",
                "slipway cluster trust apply --trust r.test:5000=r.test_5000.crt --agent-image IMAGE"
            ]
        );
        let issued = FixContext {
            leaf_issuer: Some("CN=Corp CA".into()),
            ..cx()
        };
        assert_eq!(
            Verdict::UnknownAuthority.fixes(&issued).build_machine[0],
            Fix::GetCaCertificate {
                file: "r.test_5000.crt".into(),
                issuer: Some("CN=Corp CA".into())
            }
        );
    }

    #[test]
    fn json_names_the_kind_and_leaves_out_what_is_empty() {
        let f = Verdict::PlainHttp.fixes(&cx());
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["build_machine"][0]["kind"], "check");
        assert_eq!(v["build_machine"][1]["kind"], "flag");
        assert_eq!(v["build_machine"][1]["value"], "r.test:5000");
        assert!(v["build_machine"][1].get("alternatives").is_none(), "{v}");
        assert_eq!(v["nodes"][0]["kind"], "run");
        assert_eq!(v["nodes"][0]["purpose"], "test environments only");
        assert_eq!(
            v["nodes"][0]["command"],
            "slipway node trust install --registry r.test:5000 --insecure"
        );
    }
}
