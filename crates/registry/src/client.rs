//! One registry host: HTTP/1.1 over its own TLS trust, authentication, and the
//! distribution-spec endpoints for manifests, blobs and tags.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use slipway_oci::{Digest, MANIFEST_ACCEPT};
use slipway_trust::{HostTrust, RegistryHost, TrustPolicy, Verdict};

use crate::auth::{Challenge, TokenResponse, parse_challenge};
use crate::credentials::Credential;
use crate::error::{Error, host_port, redact};

const USER_AGENT: &str = concat!("slipway/", env!("CARGO_PKG_VERSION"));

/// Says how many times and how long to retry transient failures.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry; doubles each time.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(500),
        }
    }
}

/// Talks to one registry host with the trust resolved for it.
pub struct Registry {
    host: RegistryHost,
    base: Url,
    http: reqwest::Client,
    policy: Arc<TrustPolicy>,
    trust: HostTrust,
    credential: Option<Credential>,
    state: Mutex<AuthState>,
    other_hosts: Mutex<HashMap<String, reqwest::Client>>,
    /// The retry policy for requests and blob transfers.
    pub retry: RetryPolicy,
}

#[derive(Default)]
struct AuthState {
    challenge: Option<Challenge>,
    tokens: HashMap<String, String>,
}

/// Says how a blob reached the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlobOutcome {
    /// It was already there (`HEAD` said 200).
    Existed,
    /// It was mounted from another repository on the same registry.
    Mounted,
    /// It was uploaded.
    Uploaded,
}

pub(crate) fn build_http(trust: &HostTrust) -> Result<reqwest::Client, Error> {
    let mut tls = (*trust.client_config()?).clone();
    // HTTP/1.1 only: Go registries cap an HTTP/2 upload at ~1 MiB per round trip.
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(120))
        .tcp_nodelay(true)
        .pool_max_idle_per_host(16)
        .no_proxy()
        .build()
        .map_err(|source| Error::Transport {
            method: "CONNECT".into(),
            url: trust.host.to_string(),
            error: source,
        })
}

impl Registry {
    /// Prepares a client for `host`. Plain HTTP is used only when the trust says so; with
    /// werf's `--insecure-registry` (HTTPS first), a probe decides.
    ///
    /// # Errors
    /// Trust that cannot be resolved or a TLS configuration rustls refuses.
    pub fn new(
        policy: Arc<TrustPolicy>,
        host: &RegistryHost,
        credential: Option<Credential>,
    ) -> Result<Registry, Error> {
        let trust = policy.resolve(host)?;
        Self::with_trust(policy, trust, credential)
    }

    /// Prepares a client from a trust already resolved for its host (callers that resolve
    /// first, e.g. to announce relaxations, need not resolve twice). `policy` still serves
    /// the other hosts a registry sends it to (token realms, blob redirects).
    ///
    /// # Errors
    /// A TLS configuration rustls refuses.
    pub fn with_trust(
        policy: Arc<TrustPolicy>,
        trust: HostTrust,
        credential: Option<Credential>,
    ) -> Result<Registry, Error> {
        let host = trust.host.clone();
        let plain = match &trust.plain_http {
            None => false,
            Some(p) if !p.https_first => true,
            Some(_) => {
                let r = slipway_trust::probe(
                    &trust,
                    &slipway_trust::ProbeOptions {
                        timeout: Duration::from_secs(5),
                    },
                );
                r.scheme == "http"
            }
        };
        let scheme = if plain { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{host}/")).map_err(|e| Error::Protocol {
            subject: host.to_string(),
            why: e.to_string(),
        })?;
        let http = build_http(&trust)?;
        Ok(Registry {
            host: host.clone(),
            base,
            http,
            policy,
            trust,
            credential,
            state: Mutex::new(AuthState::default()),
            other_hosts: Mutex::new(HashMap::new()),
            retry: RetryPolicy::default(),
        })
    }

    /// Returns the host this client talks to.
    pub fn host(&self) -> &RegistryHost {
        &self.host
    }

    /// Returns whether this client speaks plain HTTP.
    pub fn is_plain_http(&self) -> bool {
        self.base.scheme() == "http"
    }

    fn explicit_plain_http(&self) -> bool {
        self.trust
            .plain_http
            .as_ref()
            .is_some_and(|p| !p.https_first)
    }

    /// Builds a URL on this registry from a path such as `/v2/app/tags/list`.
    pub fn url(&self, path: &str) -> Result<Url, Error> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::Protocol {
                subject: self.host.to_string(),
                why: format!("bad path {path}: {e}"),
            })
    }

    /// Resolves a `Location` header against this registry.
    pub fn location(&self, resp: &Response) -> Result<Url, Error> {
        let loc = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::Protocol {
                subject: redact(resp.url()),
                why: format!("{} without a Location header", resp.status()),
            })?;
        let next = resp.url().join(loc).map_err(|e| Error::Protocol {
            subject: redact(resp.url()),
            why: format!("bad Location: {e}"),
        })?;
        self.refuse_downgrade(resp.url(), &next)?;
        Ok(next)
    }

    /// Refuses to follow `from` (HTTPS) to `next` over plain HTTP, unless `next`'s host was
    /// named plain-HTTP on its own (`--registry-plain-http HOST`): HTTPS is never given up
    /// silently, not by a redirect nor by an upload's `Location`.
    fn refuse_downgrade(&self, from: &Url, next: &Url) -> Result<(), Error> {
        if from.scheme() != "https" || next.scheme() != "http" {
            return Ok(());
        }
        let host_port = match next.port() {
            Some(p) => format!("{}:{p}", next.host_str().unwrap_or("")),
            None => next.host_str().unwrap_or("").to_string(),
        };
        let named = RegistryHost::parse(&host_port)
            .ok()
            .and_then(|h| self.policy.resolve(&h).ok())
            .and_then(|t| t.plain_http)
            .is_some_and(|p| !p.https_first);
        if named {
            return Ok(());
        }
        Err(Error::Protocol {
            subject: redact(from),
            why: format!(
                "it sent slipway from HTTPS to plain HTTP ({}), which is refused: HTTPS is never given up silently; if {host_port} really speaks only HTTP, name it with --registry-plain-http {host_port}",
                redact(next)
            ),
        })
    }

    fn may_send_credentials(&self, url: &Url) -> bool {
        // Credentials never travel over plain HTTP unless this host was explicitly set
        // to plain HTTP, and never to a host other than this registry (token realms are
        // checked separately).
        let same_host = url
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(self.host.host()))
            && url.port_or_known_default() == self.base.port_or_known_default();
        same_host && (url.scheme() == "https" || self.explicit_plain_http())
    }

    pub(crate) fn authorize(
        &self,
        rb: RequestBuilder,
        url: &Url,
        scopes: &[String],
    ) -> RequestBuilder {
        if !self.may_send_credentials(url) {
            return rb;
        }
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &state.challenge {
            Some(Challenge::Bearer { .. }) => match state.tokens.get(&scope_key(scopes)) {
                Some(t) => rb.bearer_auth(t),
                None => rb,
            },
            Some(Challenge::Basic) => match &self.credential {
                Some(Credential::Basic { username, password }) => {
                    rb.basic_auth(username, Some(password))
                }
                _ => rb,
            },
            None => rb,
        }
    }

    /// Sends a request that can be rebuilt (no streaming body), with auth and retries.
    ///
    /// # Errors
    /// Transport errors after the retries, or an auth failure. Error statuses are returned
    /// as responses; see [`Registry::check`].
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        scopes: &[String],
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, Error> {
        let mut attempt = 0;
        let mut authed_once = false;
        loop {
            attempt += 1;
            let rb = build(self.http.request(method.clone(), url.clone()));
            let rb = self.authorize(rb, &url, scopes);
            let result = rb.send().await.map_err(|source| Error::Transport {
                method: method.to_string(),
                url: redact(&url),
                error: source,
            });
            match result {
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED && !authed_once => {
                    authed_once = true;
                    self.handle_challenge(&resp, scopes).await?;
                    attempt -= 1;
                }
                Ok(resp) if is_retryable_status(resp.status()) && attempt < self.retry.attempts => {
                    tokio::time::sleep(self.backoff(attempt, &resp)).await;
                }
                Ok(resp) => return Ok(resp),
                Err(e) if e.is_retryable() && attempt < self.retry.attempts => {
                    tokio::time::sleep(self.retry.backoff * 2u32.pow(attempt - 1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn backoff(&self, attempt: u32, resp: &Response) -> Duration {
        retry_delay(
            resp.headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            attempt,
            self.retry.backoff,
        )
    }

    /// Learns the auth scheme from a 401 and, for Bearer, fetches a token for `scopes`.
    pub(crate) async fn handle_challenge(
        &self,
        resp: &Response,
        scopes: &[String],
    ) -> Result<(), Error> {
        let challenge = resp
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge)
            .ok_or_else(|| Error::Auth {
                host: self.host.to_string(),
                why: "401 without a usable WWW-Authenticate challenge".into(),
            })?;
        match &challenge {
            Challenge::Basic => {
                if !matches!(self.credential, Some(Credential::Basic { .. })) {
                    return Err(Error::Auth {
                        host: self.host.to_string(),
                        why: format!(
                            "the registry asks for credentials; log in with `slipway login {}`",
                            self.host
                        ),
                    });
                }
                if !self.may_send_credentials(resp.url()) {
                    return Err(Error::Auth { host: self.host.to_string(), why: "refusing to send credentials over plain HTTP; only a host given with --registry-plain-http may receive them".into() });
                }
            }
            Challenge::Bearer { realm, service, .. } => {
                let token = self.fetch_token(realm, service.as_deref(), scopes).await?;
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .tokens
                    .insert(scope_key(scopes), token);
            }
        }
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .challenge = Some(challenge);
        Ok(())
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<String, Error> {
        let auth_err = |why: String| Error::Auth {
            host: self.host.to_string(),
            why,
        };
        let mut url =
            Url::parse(realm).map_err(|e| auth_err(format!("bad token realm {realm}: {e}")))?;
        let realm_is_us = url
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(self.host.host()));
        let creds_ok = url.scheme() == "https" || (realm_is_us && self.explicit_plain_http());
        let client = self.client_for(&url)?;
        let resp = match (&self.credential, creds_ok) {
            (Some(Credential::IdentityToken(refresh)), true) => {
                let mut form = vec![
                    ("grant_type", "refresh_token".to_string()),
                    ("refresh_token", refresh.clone()),
                    ("client_id", "slipway".into()),
                ];
                if let Some(s) = service {
                    form.push(("service", s.into()));
                }
                form.push(("scope", scopes.join(" ")));
                let body = form
                    .iter()
                    .map(|(k, v)| format!("{k}={}", urlencode(v)))
                    .collect::<Vec<_>>()
                    .join("&");
                client
                    .post(url.clone())
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
            }
            (cred, ok) => {
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    for s in scopes {
                        q.append_pair("scope", s);
                    }
                }
                let mut rb = client.get(url.clone());
                match cred {
                    Some(Credential::Basic { username, password }) if ok => {
                        rb = rb.basic_auth(username, Some(password))
                    }
                    Some(_) if !ok => {
                        return Err(auth_err(format!(
                            "refusing to send credentials to the plain-HTTP token endpoint {}",
                            redact(&url)
                        )));
                    }
                    _ => {}
                }
                rb.send().await
            }
        }
        .map_err(|source| Error::Transport {
            method: "GET".into(),
            url: redact(&url),
            error: source,
        })?;
        if !resp.status().is_success() {
            let status = resp.status();
            let hint = if self.credential.is_none() {
                format!("; log in with `slipway login {}`", self.host)
            } else {
                String::new()
            };
            return Err(auth_err(format!(
                "the token endpoint {} answered {status}{hint}",
                redact(&url)
            )));
        }
        let body: TokenResponse = resp.json_checked(&url).await?;
        body.into_token()
            .ok_or_else(|| auth_err("the token endpoint returned no token".into()))
    }

    /// Returns a client for another host (token realm, redirect target), with that host's
    /// own trust and never this registry's credentials.
    pub(crate) fn client_for(&self, url: &Url) -> Result<reqwest::Client, Error> {
        let same = url
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(self.host.host()))
            && url.port_or_known_default() == self.base.port_or_known_default();
        if same {
            return Ok(self.http.clone());
        }
        let key = format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let mut map = self.other_hosts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(&key) {
            return Ok(c.clone());
        }
        let host_port = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_string(),
        };
        let host = RegistryHost::parse(&host_port).map_err(slipway_trust::Error::from)?;
        let trust = self.policy.resolve(&host)?;
        let c = build_http(&trust)?;
        map.insert(key, c.clone());
        Ok(c)
    }

    /// Turns an error status into [`Error::Status`], keeping the spec's error codes.
    ///
    /// # Errors
    /// Any non-success status.
    pub async fn check(method: &str, resp: Response) -> Result<Response, Error> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let url = redact(resp.url());
        let plain_host = (resp.url().scheme() == "http").then(|| host_port(resp.url()));
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        let (codes, mut message) = parse_error_body(&body);
        let mut verdict = None;
        // Go's TLS server answers plain HTTP with this 400 and text.
        if let Some(registry) = plain_host
            && status == 400
            && body.windows(12).any(|w| w == b"HTTPS server")
        {
            message = Some(format!(
                "{registry} speaks TLS on this port, and plain HTTP was sent to it"
            ));
            verdict = Some(Verdict::TlsRequired);
        }
        Err(Error::Status {
            method: method.into(),
            url,
            status,
            codes,
            message,
            verdict,
        })
    }

    /// Fetches a manifest, verifying its digest when the reference is a digest (and against
    /// `Docker-Content-Digest` otherwise). Returns the bytes verbatim, the content type and
    /// the digest.
    ///
    /// # Errors
    /// Not found, auth, transport, or a digest mismatch.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<(Vec<u8>, Option<String>, Digest), Error> {
        let resp = self.manifest_request(Method::GET, repo, reference).await?;
        let resp = Self::check("GET", resp).await?;
        let content_type = header_str(resp.headers(), header::CONTENT_TYPE.as_str());
        let header_digest = header_str(resp.headers(), "docker-content-digest");
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| Error::Transport {
                method: "GET".into(),
                url: format!("{}/{repo}:{reference}", self.host),
                error: source,
            })?
            .to_vec();
        let actual = Digest::sha256_of(&bytes);
        let expected = if reference.contains(':') {
            Some(reference.to_string())
        } else {
            header_digest
        };
        if let Some(exp) = expected
            && exp != actual.to_string()
        {
            return Err(Error::DigestMismatch {
                subject: format!("{}/{repo}@{reference}", self.host),
                expected: exp,
                actual: actual.to_string(),
            });
        }
        Ok((bytes, content_type, actual))
    }

    /// Sends `GET` or `HEAD` for a manifest, accepting every manifest type slipway reads.
    async fn manifest_request(
        &self,
        method: Method,
        repo: &str,
        reference: &str,
    ) -> Result<Response, Error> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"))?;
        let accept = MANIFEST_ACCEPT.join(", ");
        self.send(method, url, &pull_scope(repo), |rb| {
            rb.header(header::ACCEPT, accept.as_str())
        })
        .await
    }

    /// Asks which digest a tag (or digest) names in a repository, with `HEAD`: `None` when
    /// the repository or tag does not exist, or when the registry does not say.
    ///
    /// # Errors
    /// Auth or transport errors.
    pub async fn manifest_digest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<Digest>, Error> {
        let resp = self.manifest_request(Method::HEAD, repo, reference).await?;
        match resp.status() {
            s if s.is_success() => Ok(header_str(resp.headers(), "docker-content-digest")
                .and_then(|d| Digest::parse(&d).ok())),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Self::check("HEAD", resp).await.map(|_| None),
        }
    }

    /// Uploads a manifest under a tag or digest.
    ///
    /// # Errors
    /// The registry refused it (e.g. `MANIFEST_BLOB_UNKNOWN`), auth, or transport.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<(), Error> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"))?;
        let body = bytes.to_vec();
        let resp = self
            .send(Method::PUT, url, &push_scope(repo, None), |rb| {
                rb.header(header::CONTENT_TYPE, media_type)
                    .body(body.clone())
            })
            .await?;
        Self::check("PUT", resp).await.map(|_| ())
    }

    /// Asks whether a blob exists in a repository.
    ///
    /// # Errors
    /// Auth or transport errors.
    pub async fn has_blob(
        &self,
        repo: &str,
        digest: &Digest,
        scopes: &[String],
    ) -> Result<bool, Error> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"))?;
        let resp = self.send(Method::HEAD, url, scopes, |rb| rb).await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Self::check("HEAD", resp).await.map(|_| false),
        }
    }

    /// Starts a blob download. Redirects (e.g. to object storage) are followed by hand:
    /// the `Authorization` header is never sent to another host.
    ///
    /// # Errors
    /// Not found, auth, transport, or too many redirects.
    pub async fn get_blob(&self, repo: &str, digest: &Digest) -> Result<Response, Error> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"))?;
        let mut resp = self
            .send(Method::GET, url, &pull_scope(repo), |rb| rb)
            .await?;
        for _ in 0..5 {
            if !resp.status().is_redirection() {
                return Self::check("GET", resp).await;
            }
            let next = self.location(&resp)?;
            let client = self.client_for(&next)?;
            let rb = client.get(next.clone());
            // Same host: keep auth. Another host: the request goes out bare.
            let rb = self.authorize(rb, &next, &pull_scope(repo));
            resp = rb.send().await.map_err(|source| Error::Transport {
                method: "GET".into(),
                url: redact(&next),
                error: source,
            })?;
        }
        Err(Error::Protocol {
            subject: format!("{}/{repo}@{digest}", self.host),
            why: "more than 5 redirects".into(),
        })
    }

    /// Lists a repository's tags, following `Link` pagination.
    ///
    /// # Errors
    /// Not found, auth, or transport.
    pub async fn tags(&self, repo: &str) -> Result<Vec<String>, Error> {
        #[derive(serde::Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut url = self.url(&format!("/v2/{repo}/tags/list"))?;
        let mut all = Vec::new();
        for _ in 0..1000 {
            let resp = self
                .send(Method::GET, url.clone(), &pull_scope(repo), |rb| rb)
                .await?;
            let resp = Self::check("GET", resp).await?;
            let next = header_str(resp.headers(), header::LINK.as_str()).and_then(|l| {
                l.split(';').next().map(|s| {
                    s.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string()
                })
            });
            let page: Tags = resp.json_checked(&url).await?;
            all.extend(page.tags.unwrap_or_default());
            match next {
                Some(n) => {
                    url = url.join(&n).map_err(|e| Error::Protocol {
                        subject: repo.into(),
                        why: format!("bad Link: {e}"),
                    })?
                }
                None => return Ok(all),
            }
        }
        Ok(all)
    }

    /// Checks `GET /v2/` with credentials, as `login` does.
    ///
    /// # Errors
    /// Wrong credentials ([`Error::Auth`]), transport errors.
    pub async fn check_login(&self) -> Result<(), Error> {
        let url = self.url("/v2/")?;
        let resp = self.send(Method::GET, url, &[], |rb| rb).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(Error::Auth {
                host: self.host.to_string(),
                why: "the registry refused these credentials".into(),
            });
        }
        Self::check("GET", resp).await.map(|_| ())
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// Returns the scope to pull from a repository.
pub fn pull_scope(repo: &str) -> Vec<String> {
    vec![format!("repository:{repo}:pull")]
}

/// Returns the scopes to push to `repo`, and to mount from `from`.
pub fn push_scope(repo: &str, from: Option<&str>) -> Vec<String> {
    let mut v = vec![format!("repository:{repo}:pull,push")];
    if let Some(f) = from.filter(|f| *f != repo) {
        v.push(format!("repository:{f}:pull"));
    }
    v
}

fn scope_key(scopes: &[String]) -> String {
    let mut s = scopes.to_vec();
    s.sort();
    s.join(" ")
}

/// How long to wait before attempt `attempt + 1`: the seconds a `Retry-After` header asks
/// for (at most 30), else `backoff` doubled for each attempt made.
fn retry_delay(retry_after: Option<&str>, attempt: u32, backoff: Duration) -> Duration {
    retry_after
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.min(30)))
        .unwrap_or(backoff * 2u32.pow(attempt - 1))
}

fn is_retryable_status(s: StatusCode) -> bool {
    matches!(s.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

fn header_str(h: &HeaderMap<HeaderValue>, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
}

fn parse_error_body(body: &[u8]) -> (Vec<String>, Option<String>) {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(b) => (
            b.errors.iter().map(|e| e.code.clone()).collect(),
            b.errors
                .first()
                .map(|e| e.message.clone())
                .filter(|m| !m.is_empty()),
        ),
        Err(_) => (Vec::new(), None),
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

trait JsonChecked {
    async fn json_checked<T: serde::de::DeserializeOwned>(self, url: &Url) -> Result<T, Error>;
}

impl JsonChecked for Response {
    async fn json_checked<T: serde::de::DeserializeOwned>(self, url: &Url) -> Result<T, Error> {
        let bytes = self.bytes().await.map_err(|source| Error::Transport {
            method: "GET".into(),
            url: redact(url),
            error: source,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
            subject: redact(url),
            why: format!("invalid JSON: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_waits_as_long_as_retry_after_asks_else_backs_off() {
        let base = Duration::from_millis(500);
        assert_eq!(retry_delay(Some("1"), 1, base), Duration::from_secs(1));
        assert_eq!(retry_delay(Some(" 2 "), 2, base), Duration::from_secs(2));
        // A registry asking for minutes is not waited for that long.
        assert_eq!(retry_delay(Some("600"), 1, base), Duration::from_secs(30));
        // Without a usable header, the backoff doubles with each attempt.
        assert_eq!(retry_delay(None, 1, base), base);
        assert_eq!(retry_delay(None, 3, base), base * 4);
        assert_eq!(retry_delay(Some("soon"), 2, base), base * 2);
    }
}
