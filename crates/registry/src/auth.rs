//! `WWW-Authenticate` challenges and bearer tokens (the distribution token flow).

use std::collections::BTreeMap;

/// Holds a parsed `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="..."`.
    Basic,
    /// `Bearer realm="...",service="...",scope="..."`.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The `service` parameter to pass back.
        service: Option<String>,
        /// The scope the registry asked for, if any.
        scope: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value.
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let params = parse_params(rest);
    if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic)
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        })
    } else {
        None
    }
}

fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s.trim();
    while let Some((k, after)) = rest.split_once('=') {
        let after = after.trim_start();
        let (v, tail) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        out.insert(k.trim().to_ascii_lowercase(), v.to_string());
        rest = tail.trim_start_matches([',', ' ']);
    }
    out
}

/// Holds the answer of a token endpoint.
#[derive(Debug, serde::Deserialize)]
pub struct TokenResponse {
    /// The bearer token (`token`, or `access_token` from OAuth2 endpoints).
    #[serde(default)]
    pub token: Option<String>,
    /// OAuth2 name of the same token.
    #[serde(default)]
    pub access_token: Option<String>,
}

impl TokenResponse {
    /// Returns the token, whichever field carried it.
    pub fn into_token(self) -> Option<String> {
        self.token.or(self.access_token).filter(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_with_quoted_commas() {
        let c = parse_challenge(r#"Bearer realm="https://auth.test/token",service="registry.test",scope="repository:a/b:pull,push""#).unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.test/token".into(),
                service: Some("registry.test".into()),
                scope: Some("repository:a/b:pull,push".into())
            }
        );
    }

    #[test]
    fn parses_basic_and_ignores_unknown_schemes() {
        assert_eq!(
            parse_challenge(r#"Basic realm="x""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }
}
