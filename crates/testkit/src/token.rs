//! A token server for Distribution's `auth: token`, as Harbor, GitLab and hosted
//! registries run one: it takes Basic credentials (`GET realm?service=&scope=`) or a
//! refresh token (the OAuth2 `POST` docker's identity tokens use), and answers with a JWT
//! signed by a key whose certificate is Distribution's `rootcertbundle`. It records every
//! request, so tests can see which credentials reached it and which scopes were asked.

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::ServerCert;

/// One request the token server got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The scopes asked for (`repository:app:pull,push`).
    pub scopes: Vec<String>,
    /// The user of a Basic `Authorization` header, if one came.
    pub basic_user: Option<String>,
    /// The OAuth2 `grant_type` of a `POST`.
    pub grant_type: Option<String>,
    /// Whether the answer was a token (false: 401).
    pub granted: bool,
}

/// Where a registry sends clients for tokens, and how it checks them.
#[derive(Clone, Debug)]
pub struct TokenAuth {
    /// `https://localhost:PORT/token`.
    pub realm: String,
    /// The `service` (the tokens' audience).
    pub service: String,
    /// The tokens' issuer.
    pub issuer: String,
    /// The signer's certificate, which the registry trusts.
    pub rootcertbundle: PathBuf,
}

/// A running token server; it stops with the test process.
pub struct TokenServer {
    port: u16,
    auth: TokenAuth,
    seen: Arc<Mutex<Vec<TokenRequest>>>,
    _dir: tempfile::TempDir,
}

struct Signer {
    key: aws_lc_rs::signature::EcdsaKeyPair,
    cert_der: Vec<u8>,
}

impl TokenServer {
    /// Starts a token server on 127.0.0.1 that serves HTTPS with `cert` (for `localhost`),
    /// knows the `users` (name, password) and the `refresh_tokens` (token, user), and grants
    /// whatever a known user asks for.
    ///
    /// # Panics
    /// When the key, certificate or socket cannot be made.
    pub fn start(
        cert: &ServerCert,
        users: &[(&str, &str)],
        refresh_tokens: &[(&str, &str)],
    ) -> TokenServer {
        let dir = tempfile::tempdir().expect("token server folder");
        let key = rcgen::KeyPair::generate().expect("signing key");
        let signer_cert = rcgen::CertificateParams::new(vec!["slipway-test-token-signer".into()])
            .expect("params")
            .self_signed(&key)
            .expect("signer certificate");
        let rootcertbundle = dir.path().join("token-signer.pem");
        std::fs::write(&rootcertbundle, signer_cert.pem()).expect("write rootcertbundle");
        let signer = Arc::new(Signer {
            key: aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &key.serialize_der(),
            )
            .expect("ES256 key"),
            cert_der: signer_cert.der().to_vec(),
        });
        let tls = Arc::new(crate::tls_server_config(cert));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let auth = TokenAuth {
            realm: format!("https://localhost:{port}/token"),
            service: "slipway-test-registry".into(),
            issuer: "slipway-test-token-issuer".into(),
            rootcertbundle,
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let users: HashMap<String, String> = users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        let refresh: HashMap<String, String> = refresh_tokens
            .iter()
            .map(|(t, u)| (t.to_string(), u.to_string()))
            .collect();
        let state = Arc::new(Shared {
            users,
            refresh,
            auth: auth.clone(),
            signer,
            seen: seen.clone(),
        });
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (tls, state) = (tls.clone(), state.clone());
                std::thread::spawn(move || {
                    let Ok(session) = rustls::ServerConnection::new(tls) else {
                        return;
                    };
                    let stream = rustls::StreamOwned::new(session, conn);
                    serve(stream, &state);
                });
            }
        });
        TokenServer {
            port,
            auth,
            seen,
            _dir: dir,
        }
    }

    /// What a registry needs to send clients here and check the tokens.
    pub fn auth(&self) -> &TokenAuth {
        &self.auth
    }

    /// Returns the port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns every request so far, in order.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// What every connection of the server reads.
struct Shared {
    users: HashMap<String, String>,
    refresh: HashMap<String, String>,
    auth: TokenAuth,
    signer: Arc<Signer>,
    seen: Arc<Mutex<Vec<TokenRequest>>>,
}

/// Answers the requests of one connection.
fn serve<S: Read + Write>(stream: S, shared: &Shared) {
    let Shared {
        users,
        refresh,
        auth,
        signer,
        seen,
    } = shared;
    let mut reader = BufReader::new(stream);
    while let Some(req) = crate::read_request(&mut reader) {
        let header = |name: &str| req.header(name);
        let (method, target, body) = (req.method.clone(), req.target.clone(), req.body.clone());
        let query = target.split_once('?').map_or("", |(_, q)| q).to_string();
        let form = |text: &str| -> Vec<(String, String)> {
            text.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (unescape(k), unescape(v)))
                .collect()
        };
        let basic_user = header("authorization")
            .and_then(|v| v.strip_prefix("Basic ").map(str::to_string))
            .and_then(|b| STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|up| {
                up.split_once(':')
                    .map(|(u, p)| (u.to_string(), p.to_string()))
            });
        let (user, scopes, grant_type) = if method == "POST" {
            let f = form(&String::from_utf8_lossy(&body));
            let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let scopes: Vec<String> = get("scope")
                .unwrap_or_default()
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let user = match get("grant_type").as_deref() {
                Some("refresh_token") => {
                    get("refresh_token").and_then(|t| refresh.get(&t).cloned())
                }
                Some("password") => {
                    get("username").filter(|u| users.get(u) == get("password").as_ref())
                }
                _ => None,
            };
            (user, scopes, get("grant_type"))
        } else {
            let f = form(&query);
            let scopes = f
                .iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.clone())
                .collect();
            let user = basic_user
                .as_ref()
                .filter(|(u, p)| users.get(u) == Some(p))
                .map(|(u, _)| u.clone());
            (user, scopes, None)
        };
        seen.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(TokenRequest {
                method: method.clone(),
                scopes: scopes.clone(),
                basic_user: basic_user.map(|(u, _)| u),
                grant_type,
                granted: user.is_some(),
            });
        let (status, answer) = match user {
            Some(user) => {
                let token = sign(signer, auth, &user, &scopes);
                (
                    "200 OK",
                    json!({ "token": token, "access_token": token, "expires_in": 300 }),
                )
            }
            None => ("401 Unauthorized", json!({ "details": "bad credentials" })),
        };
        let body = answer.to_string();
        let out = reader.get_mut();
        let _ = write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = out.flush();
    }
}

/// Decodes `application/x-www-form-urlencoded` text.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Makes an ES256 JWT for `user`, granting every action of `scopes`, with the signer's
/// certificate in `x5c`.
fn sign(signer: &Signer, auth: &TokenAuth, user: &str, scopes: &[String]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let access: Vec<Value> = scopes
        .iter()
        .filter_map(|s| {
            let mut parts = s.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(json!({ "type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>() }))
        })
        .collect();
    let header =
        json!({ "typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&signer.cert_der)] });
    let claims = json!({
        "iss": auth.issuer, "sub": user, "aud": auth.service,
        "exp": now + 300, "nbf": now - 10, "iat": now,
        "jti": format!("{now}-{}", scopes.len()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let sig = signer
        .key
        .sign(&rng, signing_input.as_bytes())
        .expect("sign");
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

/// Returns Distribution's `auth:` section for `auth`.
pub(crate) fn registry_section(auth: &TokenAuth) -> String {
    format!(
        "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
        auth.realm,
        auth.service,
        auth.issuer,
        auth.rootcertbundle.display()
    )
}
