//! Image references (`registry/repository[:tag][@digest]`), parsed with Docker's rules.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Digest, Error};

/// The registry a reference names when it names none.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The tag a reference gets when it has neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";
const MAX_TAG_LEN: usize = 128;
const MAX_NAME_LEN: usize = 255;

/// Splits an image name (`[registry/]repository...`) by Docker's rule: the first path
/// component is the registry when it contains `.` or `:` or is `localhost`; otherwise the
/// registry is `docker.io` and the whole name is the repository.
pub fn split_registry(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => (DOCKER_HUB, name),
    }
}

/// Returns the registry `host[:port]` an image reference pulls from, by Docker's rule
/// (see [`split_registry`]): `docker.io` for `alpine:3`, `r.test:5000` for
/// `r.test:5000/app@sha256:...`. `docker://` in front is ignored, and `index.docker.io`
/// is `docker.io`.
pub fn registry_of(image: &str) -> String {
    let text = image.strip_prefix("docker://").unwrap_or(image);
    match split_registry(text).0 {
        "index.docker.io" => DOCKER_HUB.to_string(),
        r => r.to_string(),
    }
}

/// Names an image in a registry, fully normalized.
///
/// `alpine` becomes `docker.io/library/alpine:latest`. A reference may hold both a tag and a
/// digest (`r.test/a:1@sha256:...`); then the digest is what gets pulled.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The registry host, with its port when one was given: `docker.io`, `r.test:5000`.
    pub registry: String,
    /// The repository inside the registry: `library/alpine`, `team/app`.
    pub repository: String,
    /// The tag; `latest` when the text had neither a tag nor a digest.
    pub tag: Option<String>,
    /// The digest, when the text had one.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference with Docker's rules.
    ///
    /// An optional leading `docker://` is stripped. The first path component is the registry
    /// when it contains `.` or `:` or is `localhost`; otherwise the registry is `docker.io`,
    /// where a one-component repository gets `library/` in front. The tag defaults to
    /// `latest` only when there is no digest.
    ///
    /// # Errors
    /// [`Error::InvalidReference`], naming the input: empty text, an uppercase or malformed
    /// repository, a malformed tag (at most 128 of `A-Za-z0-9_.-`, not starting with `.` or
    /// `-`), a malformed digest, or a malformed registry host.
    pub fn parse(s: &str) -> Result<Reference, Error> {
        let err = |why: String| Error::InvalidReference {
            input: s.into(),
            why,
        };
        let text = s.strip_prefix("docker://").unwrap_or(s);
        if text.is_empty() {
            return Err(err("the reference is empty".into()));
        }
        if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(format!("it contains the character {c:?}")));
        }
        let (name_tag, digest) = match text.split_once('@') {
            Some((name_tag, d)) => {
                let digest = Digest::parse(d).map_err(|e| match e {
                    Error::InvalidDigest { why, .. } => err(format!("the digest `{d}`: {why}")),
                    other => err(other.to_string()),
                })?;
                (name_tag, Some(digest))
            }
            None => (text, None),
        };
        let (name, tag) = split_tag(name_tag);
        if let Some(t) = tag {
            check_tag(t).map_err(|why| err(format!("the tag `{t}` {why}")))?;
        }
        if name.is_empty() {
            return Err(err("there is no repository name".into()));
        }
        let (registry, repository) = split_registry(name);
        let repository = repository.to_string();
        check_registry(registry).map_err(|why| err(format!("the registry `{registry}` {why}")))?;
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        check_repository(&repository)
            .map_err(|why| err(format!("the repository `{repository}` {why}")))?;
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(err(format!(
                "the name is longer than {MAX_NAME_LEN} characters"
            )));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            registry: registry.to_string(),
            repository,
            tag,
            digest,
        })
    }

    /// Returns the host to send registry API requests to: `registry-1.docker.io` for
    /// `docker.io`, else the registry itself.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// Returns what goes in `/v2/<repository>/manifests/<here>`: the digest when there is one,
    /// else the tag (`latest` when neither is set).
    pub fn reference_str(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// Returns `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Returns the same repository with this tag and no digest, so that
    /// [`Reference::reference_str`] names the tag. The tag is not validated; use
    /// [`Reference::parse`] for text from users.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// Returns the same reference pinned to this digest; the tag, if any, is kept.
    pub fn with_digest(&self, d: Digest) -> Reference {
        Reference {
            digest: Some(d),
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Reference::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Splits `name[:tag]`: the tag is the text after the last `:` when it holds no `/` (so
/// `host:5000/app` has no tag).
pub fn split_tag(s: &str) -> (&str, Option<&str>) {
    match s.rfind(':') {
        Some(i) if !s[i + 1..].contains('/') => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    }
}

/// Checks a Docker tag: 1 to 128 of `A-Za-z0-9_.-`, not starting with `.` or `-`.
///
/// # Errors
/// What is wrong with it, to follow "the tag `TAG`".
pub fn check_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("is empty".into());
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(format!(
            "is {} characters long, the limit is {MAX_TAG_LEN}",
            tag.len()
        ));
    }
    if tag.starts_with(['.', '-']) {
        return Err("must not start with `.` or `-`".into());
    }
    if let Some(c) = tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!("contains `{c}`; tags may hold only A-Za-z0-9_.-"));
    }
    Ok(())
}

/// Checks a repository: `/`-separated components of lowercase alphanumerics joined by one
/// `.`, one or two `_`, or any number of `-`.
fn check_repository(repo: &str) -> Result<(), String> {
    if repo.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("must be lowercase".into());
    }
    for component in repo.split('/') {
        if component.is_empty() {
            return Err("has an empty path component".into());
        }
        if let Some(c) = component
            .chars()
            .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
        {
            return Err(format!(
                "contains `{c}`; a repository may hold only a-z 0-9 . _ - and /"
            ));
        }
        let alnum = |c: char| c.is_ascii_alphanumeric();
        if !component.starts_with(alnum) || !component.ends_with(alnum) {
            return Err(format!(
                "has the component `{component}`, which must start and end with a letter or digit"
            ));
        }
        for sep in component.split(alnum).filter(|s| !s.is_empty()) {
            let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-');
            if !ok {
                return Err(format!(
                    "has `{sep}` in `{component}`; separators are one `.`, one or two `_`, or dashes"
                ));
            }
        }
    }
    Ok(())
}

/// Checks a registry host: a DNS name or IPv4 address, or a bracketed IPv6 address, with an
/// optional numeric port.
fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err("has `[` without `]`".into());
        };
        if v6.is_empty() || !v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err("has a malformed IPv6 address".into());
        }
        match after {
            "" => (None, None),
            p => match p.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Err("has text after `]` that is not `:PORT`".into()),
            },
        }
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        if host.is_empty() {
            return Err("has no host name".into());
        }
        if let Some(c) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-')))
        {
            return Err(format!("contains `{c}`, which a host name cannot"));
        }
    }
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err(format!(
            "has the port `{port}`, which is not a number up to 65535"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn parts(s: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (
            r.registry,
            r.repository,
            r.tag,
            r.digest.map(|d| d.to_string()),
        )
    }

    #[test]
    fn the_registry_of_an_image_follows_dockers_rule() {
        for (image, registry) in [
            ("alpine", "docker.io"),
            ("alpine:3.20", "docker.io"),
            ("team/app:1", "docker.io"),
            ("localhost/app", "localhost"),
            ("localhost:5000/app", "localhost:5000"),
            (
                "registry.internal:5000/team/app@sha256:abc",
                "registry.internal:5000",
            ),
            ("r.test/a", "r.test"),
            ("[::1]:5000/a", "[::1]:5000"),
            ("docker://index.docker.io/library/alpine", "docker.io"),
        ] {
            assert_eq!(registry_of(image), registry, "{image}");
        }
    }

    #[test]
    fn parses_references_with_dockers_rules() {
        let with_digest = format!("r.test/a@{D}");
        let with_both = format!("r.test/a:t@{D}");
        // input, registry, repository, tag, digest
        type Row<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);
        let table: &[Row] = &[
            (
                "alpine",
                "docker.io",
                "library/alpine",
                Some("latest"),
                None,
            ),
            (
                "library/alpine",
                "docker.io",
                "library/alpine",
                Some("latest"),
                None,
            ),
            (
                "docker.io/alpine:3",
                "docker.io",
                "library/alpine",
                Some("3"),
                None,
            ),
            (
                "index.docker.io/user/app",
                "docker.io",
                "user/app",
                Some("latest"),
                None,
            ),
            ("user/app:1", "docker.io", "user/app", Some("1"), None),
            (
                "docker://user/app:1",
                "docker.io",
                "user/app",
                Some("1"),
                None,
            ),
            ("localhost/app", "localhost", "app", Some("latest"), None),
            (
                "localhost:5000/app",
                "localhost:5000",
                "app",
                Some("latest"),
                None,
            ),
            ("r.test:5000/a/b:1", "r.test:5000", "a/b", Some("1"), None),
            ("r.test/a/b/c", "r.test", "a/b/c", Some("latest"), None),
            (
                "127.0.0.1:5000/x_y__z-w--v.u",
                "127.0.0.1:5000",
                "x_y__z-w--v.u",
                Some("latest"),
                None,
            ),
            (
                "[::1]:5000/app:v1.2-rc_3",
                "[::1]:5000",
                "app",
                Some("v1.2-rc_3"),
                None,
            ),
            (&with_digest, "r.test", "a", None, Some(D)),
            (&with_both, "r.test", "a", Some("t"), Some(D)),
        ];
        for (input, registry, repository, tag, digest) in table {
            assert_eq!(
                parts(input),
                (
                    registry.to_string(),
                    repository.to_string(),
                    tag.map(str::to_string),
                    digest.map(str::to_string)
                ),
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_malformed_references_saying_why() {
        let long_tag = format!("r.test/a:{}", "t".repeat(129));
        let table: &[(&str, &str)] = &[
            ("", "empty"),
            ("docker://", "empty"),
            ("r.test/User/app", "must be lowercase"),
            ("Alpine", "must be lowercase"),
            ("r.test/a:-bad", "must not start with"),
            ("r.test/a:.bad", "must not start with"),
            ("r.test/a:b+c", "contains `+`"),
            ("r.test/a:", "is empty"),
            (&long_tag, "129 characters"),
            ("r.test/a@sha256:abc", "the digest `sha256:abc`"),
            ("r.test/a@latest", "the digest `latest`"),
            ("r.test/a b", "' '"),
            ("r.test//a", "empty path component"),
            ("r.test/a..b", "separators"),
            ("r.test/-a", "start and end"),
            ("r.test:99999/a", "port"),
            ("r_x.test/a", "host name"),
            (":5000/a", "no host name"),
        ];
        for (input, why) in table {
            let err = Reference::parse(input).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, Error::InvalidReference { .. }), "{text}");
            assert!(text.contains(&format!("`{input}`")), "{input}: {text}");
            assert!(text.contains(why), "{input}: {text}");
        }
    }

    #[test]
    fn displays_the_normalized_form_which_parses_back() {
        for input in [
            "alpine".to_string(),
            "r.test:5000/a/b:1".into(),
            format!("r.test/a:t@{D}"),
            format!("r.test/a@{D}"),
        ] {
            let r = Reference::parse(&input).unwrap();
            assert_eq!(Reference::parse(&r.to_string()).unwrap(), r, "{input}");
        }
        assert_eq!(
            Reference::parse("alpine").unwrap().to_string(),
            "docker.io/library/alpine:latest"
        );
    }

    #[test]
    fn api_host_maps_docker_hub_to_its_api_server() {
        assert_eq!(
            Reference::parse("alpine").unwrap().api_host(),
            "registry-1.docker.io"
        );
        assert_eq!(
            Reference::parse("r.test:5000/a").unwrap().api_host(),
            "r.test:5000"
        );
    }

    #[test]
    fn reference_str_prefers_the_digest_over_the_tag() {
        let r = Reference::parse(&format!("r.test/a:t@{D}")).unwrap();
        assert_eq!(r.reference_str(), D);
        assert_eq!(Reference::parse("r.test/a:t").unwrap().reference_str(), "t");
    }

    #[test]
    fn with_tag_drops_the_digest_and_with_digest_keeps_the_tag() {
        let d = Digest::parse(D).unwrap();
        let r = Reference::parse("r.test/a:1")
            .unwrap()
            .with_digest(d.clone());
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.digest.as_ref(), Some(&d));
        let t = r.with_tag("2");
        assert_eq!(t.reference_str(), "2");
        assert_eq!(t.to_string(), "r.test/a:2");
    }

    #[test]
    fn round_trips_through_json_as_a_string() {
        let r = Reference::parse("r.test/a:1").unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, "\"r.test/a:1\"");
        assert_eq!(serde_json::from_str::<Reference>(&json).unwrap(), r);
    }
}
