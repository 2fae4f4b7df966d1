//! Registry host names: `host[:port]`, as the user, certs.d folders and node configs spell them.

use std::fmt;
use std::net::IpAddr;

use crate::Error;

/// Represents a registry host as `host[:port]`, the key every trust source is looked up by.
///
/// The host part is lowercased. IPv6 literals are written in brackets when a port follows,
/// exactly as Docker and containerd name their `certs.d/<host:port>` folders.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistryHost {
    host: String,
    port: Option<u16>,
}

impl RegistryHost {
    /// Parses `host`, `host:port`, `[v6]:port`, or any of these behind `https://` or `docker://`.
    ///
    /// # Errors
    /// Returns [`Error::InvalidHost`] for empty names, bad ports, paths, and `http://` (which must
    /// be asked for with `--registry-plain-http`, never implied by a URL).
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |why: &str| Error::InvalidHost {
            input: input.to_string(),
            why: why.into(),
        };
        let mut s = input.trim();
        if s.starts_with("http://") {
            return Err(invalid(
                "plain HTTP is never implied by a URL; pass the bare host and --registry-plain-http HOST",
            ));
        }
        for prefix in ["https://", "docker://"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest;
            }
        }
        let s = s.strip_suffix('/').unwrap_or(s);
        if s.is_empty() {
            return Err(invalid("the host is empty"));
        }
        if s.contains('/') {
            return Err(invalid("expected host[:port] without a path"));
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest
                .split_once(']')
                .ok_or_else(|| invalid("unclosed '['"))?;
            h.parse::<std::net::Ipv6Addr>()
                .map_err(|_| invalid("not an IPv6 address in [...]"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| invalid("expected ':' after ']'"))?,
                ),
            };
            (h.to_string(), port)
        } else if s.matches(':').count() > 1 {
            s.parse::<std::net::Ipv6Addr>()
                .map_err(|_| invalid("too many ':'; write IPv6 addresses as [addr]:port"))?;
            (s.to_string(), None)
        } else {
            match s.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (s.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(invalid("the host is empty"));
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || c == '=' || c == ',' || c == '@')
        {
            return Err(invalid(
                "the host contains a character that is not allowed in a host name",
            ));
        }
        let port = match port {
            None => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| invalid("the port must be a number from 1 to 65535"))?,
            ),
        };
        Ok(RegistryHost {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Returns the host name or IP address, without brackets or port.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Returns the explicit port, if one was given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Returns the port to connect to: the explicit one, or 443 (TLS) / 80 (plain HTTP).
    pub fn connect_port(&self, plain_http: bool) -> u16 {
        self.port.unwrap_or(if plain_http { 80 } else { 443 })
    }

    /// Returns the same host without its port, the key a portless flag or config entry uses.
    pub fn without_port(&self) -> RegistryHost {
        RegistryHost {
            host: self.host.clone(),
            port: None,
        }
    }

    /// Tells whether a setting named by this host applies to `host`: the same host and
    /// port, or this host without a port (which covers every port of it).
    pub fn covers(&self, host: &RegistryHost) -> bool {
        self == host || (self.port.is_none() && self.host == host.host)
    }

    /// Returns the host as an IP address, if it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl fmt::Display for RegistryHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v6 = self.host.contains(':');
        match (self.port, v6) {
            (Some(p), true) => write!(f, "[{}]:{p}", self.host),
            (Some(p), false) => write!(f, "{}:{p}", self.host),
            (None, _) => f.write_str(&self.host),
        }
    }
}

impl std::str::FromStr for RegistryHost {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        RegistryHost::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_portless_host_covers_every_port_and_a_port_only_itself() {
        let h = |s: &str| RegistryHost::parse(s).unwrap();
        assert!(h("r.test").covers(&h("r.test:5000")));
        assert!(h("r.test").covers(&h("r.test")));
        assert!(h("r.test:5000").covers(&h("r.test:5000")));
        assert!(!h("r.test:5000").covers(&h("r.test:5001")));
        assert!(!h("r.test:5000").covers(&h("r.test")));
        assert!(!h("r.test").covers(&h("other.test:5000")));
    }

    #[test]
    fn parses_host_port_and_normalizes_case() {
        let h = RegistryHost::parse("Registry.Example:5000").unwrap();
        assert_eq!(h.host(), "registry.example");
        assert_eq!(h.port(), Some(5000));
        assert_eq!(h.to_string(), "registry.example:5000");
    }

    #[test]
    fn strips_https_and_docker_schemes() {
        assert_eq!(
            RegistryHost::parse("https://r.test:443/")
                .unwrap()
                .to_string(),
            "r.test:443"
        );
        assert_eq!(
            RegistryHost::parse("docker://r.test").unwrap().to_string(),
            "r.test"
        );
    }

    #[test]
    fn refuses_http_urls_paths_and_bad_ports() {
        for bad in [
            "http://r.test",
            "r.test/app",
            "r.test:0",
            "r.test:99999",
            "r.test:x",
            "",
            ":5000",
        ] {
            assert!(
                RegistryHost::parse(bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn keeps_ipv6_in_brackets_when_a_port_follows() {
        let h = RegistryHost::parse("[::1]:5000").unwrap();
        assert_eq!(h.host(), "::1");
        assert_eq!(h.to_string(), "[::1]:5000");
        assert!(h.ip().is_some());
        assert_eq!(RegistryHost::parse("::1").unwrap().to_string(), "::1");
    }

    #[test]
    fn defaults_connect_port_by_scheme() {
        let h = RegistryHost::parse("r.test").unwrap();
        assert_eq!(h.connect_port(false), 443);
        assert_eq!(h.connect_port(true), 80);
    }
}
