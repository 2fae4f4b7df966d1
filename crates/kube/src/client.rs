//! Connecting to a cluster, and the errors of talking to one.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Names what went wrong while talking to a cluster; each error names its subject.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The kubeconfig could not be read, or has no such context.
    #[error("kubeconfig{}: {message}", context.as_deref().map(|c| format!(" (context {c})")).unwrap_or_default())]
    Kubeconfig {
        /// The context asked for, if any.
        context: Option<String>,
        /// What kube-rs said.
        message: String,
    },
    /// The client could not be built from the kubeconfig.
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[source] Box<kube::Error>),
    /// The API server serves no such kind (by discovery), and no CustomResourceDefinition
    /// in the same list defines it.
    #[error(
        "object {name:?}: the API server serves no kind {kind} in apiVersion {api_version}, and no CustomResourceDefinition in the same list defines it; install its CRD first, or check the apiVersion"
    )]
    UnknownKind {
        /// The object's kind.
        kind: String,
        /// The object's apiVersion.
        api_version: String,
        /// The object's name.
        name: String,
    },
    /// An object lacks a field every object needs.
    #[error("object #{index} ({kind}) has no {field}")]
    Invalid {
        /// Position in the list, from 0.
        index: usize,
        /// The kind, or `?`.
        kind: String,
        /// The missing field.
        field: &'static str,
    },
    /// The API server refused a request, or could not be reached. When it could not be
    /// reached, the message names why (an untrusted certificate, nothing listening...) and
    /// which kubeconfig setting to check, so kube-rs' own chain is not exposed as a source.
    #[error("{verb} {subject}: {}", api_text(error))]
    Api {
        /// What slipway was doing: `apply`, `get`, `list`.
        verb: &'static str,
        /// The object or collection, e.g. `DaemonSet slipway-system/slipway-node-trust`.
        subject: String,
        /// What kube-rs said.
        error: Box<kube::Error>,
    },
    /// A release inventory ConfigMap holds something slipway did not write.
    #[error(
        "{subject}: its `objects` is not a slipway release inventory ({why}); delete it to start the release's record afresh"
    )]
    Inventory {
        /// The ConfigMap.
        subject: String,
        /// What the JSON parser said.
        why: String,
    },
}

impl Error {
    pub(crate) fn api(verb: &'static str, subject: impl Into<String>, e: kube::Error) -> Error {
        Error::Api {
            verb,
            subject: subject.into(),
            error: Box::new(e),
        }
    }
}

/// Describes a failed API request: for a server that could not be reached, why, and which
/// kubeconfig setting to check; otherwise kube-rs' message and its causes.
fn api_text(e: &kube::Error) -> String {
    use slipway_trust::Verdict as V;
    if let kube::Error::Api(status) = e {
        // The API server's own words, as kubectl prints them.
        return match status.reason.as_str() {
            "" => format!("{} (HTTP {})", status.message, status.code),
            reason => format!("{} ({reason})", status.message),
        };
    }
    let subject = match server_of(e) {
        Some(url) => format!("the API server {url}"),
        None => "the API server".to_string(),
    };
    if let Some(p) = slipway_trust::classify_connection_error(e, &subject) {
        let check = match p.verdict {
            V::UnknownAuthority
            | V::HostnameMismatch
            | V::LegacyCommonName
            | V::Expired
            | V::NotYetValid => {
                "; check the cluster's `certificate-authority-data` (or `certificate-authority`) and `server` in the kubeconfig"
            }
            V::ConnectionRefused | V::Timeout => {
                "; check the kubeconfig's `server` and that the cluster is running"
            }
            V::PlainHttp => "; check the port in the kubeconfig's `server`",
            V::ClientCertRequired => {
                "; the kubeconfig's user needs `client-certificate-data` and `client-key-data`"
            }
            _ => "",
        };
        return format!("{}{check}", p.problem);
    }
    slipway_trust::error_text(e)
}

/// Connects with the kubeconfig kube-rs finds (`$KUBECONFIG`, else `~/.kube/config`; with no
/// context and no kubeconfig, the in-cluster service account), using `context` if given.
///
/// The process must have a rustls crypto provider installed (slipway's `main` installs
/// aws-lc-rs; tests must do the same).
///
/// # Errors
/// [`Error::Kubeconfig`] when the file or the context is missing or malformed;
/// [`Error::Client`] when no client can be built from it.
pub async fn connect(context: Option<&str>) -> Result<Client, Error> {
    connect_with(None, context).await
}

/// Like [`connect`], reading the kubeconfig at `kubeconfig` instead of the default places.
///
/// # Errors
/// As [`connect`].
pub async fn connect_with(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<Client, Error> {
    let opts = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let kerr = |message: String| Error::Kubeconfig {
        context: context.map(str::to_string),
        message,
    };
    let config = match (kubeconfig, context) {
        (Some(path), _) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| kerr(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kc, &opts)
                .await
                .map_err(|e| kerr(e.to_string()))?
        }
        (None, Some(_)) => Config::from_kubeconfig(&opts)
            .await
            .map_err(|e| kerr(e.to_string()))?,
        (None, None) => Config::infer().await.map_err(|e| kerr(e.to_string()))?,
    };
    // Transport errors carry the server's URL, so that an unreachable cluster is named.
    let server = config.cluster_url.to_string();
    let builder =
        kube::client::ClientBuilder::try_from(config).map_err(|e| Error::Client(Box::new(e)))?;
    let tag = tower::util::MapErrLayer::new(move |e: tower::BoxError| -> tower::BoxError {
        Box::new(AtServer {
            server: server.clone(),
            source: e,
        })
    });
    Ok(builder.with_layer(&tag).build())
}

/// A transport error of a request to the API server at `server`.
#[derive(Debug)]
struct AtServer {
    server: String,
    source: tower::BoxError,
}

impl std::fmt::Display for AtServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "API server {}", self.server)
    }
}

impl std::error::Error for AtServer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Finds the API server's URL in an error's causes, when the client tagged it.
fn server_of(e: &kube::Error) -> Option<&str> {
    std::iter::successors(Some(e as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
    .find_map(|e| e.downcast_ref::<AtServer>())
    .map(|at| at.server.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error as IoError, ErrorKind};

    #[test]
    fn unreachable_api_servers_are_named_with_the_setting_to_check() {
        let refused = kube::Error::Service(Box::new(IoError::other(IoError::from(
            ErrorKind::ConnectionRefused,
        ))));
        assert_eq!(
            Error::api("apply", "Namespace slipway-system", refused).to_string(),
            "apply Namespace slipway-system: the API server refused the connection; check the kubeconfig's `server` and that the cluster is running"
        );
        let untrusted = kube::Error::Service(Box::new(IoError::other(IoError::new(
            ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ))));
        let text = Error::api("list", "nodes", untrusted).to_string();
        assert!(
            text.starts_with(
                "list nodes: the certificate of the API server is not signed by any CA trusted for it; check the cluster's `certificate-authority-data`"
            ),
            "{text}"
        );
        // The client tags transport errors with the server, and the message names it.
        let tagged = kube::Error::Service(Box::new(AtServer {
            server: "https://10.0.0.1:6443/".into(),
            source: Box::new(IoError::other(IoError::from(ErrorKind::ConnectionRefused))),
        }));
        assert_eq!(
            Error::api("list", "nodes", tagged).to_string(),
            "list nodes: the API server https://10.0.0.1:6443/ refused the connection; check the kubeconfig's `server` and that the cluster is running"
        );
        // Anything else keeps kube-rs' words, each cause once.
        let other = kube::Error::Service(Box::new(IoError::other("proxy said no")));
        let text = Error::api("get", "pods", other).to_string();
        assert_eq!(text.matches("proxy said no").count(), 1, "{text}");
        assert!(
            std::error::Error::source(&Error::api(
                "get",
                "pods",
                kube::Error::Service(Box::new(IoError::other("x")))
            ))
            .is_none()
        );
    }
}
