//! Where an image is: an OCI layout folder (`oci:PATH[:TAG]`) or a registry
//! (`docker://REF`, or a bare `REF`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::{Error, Reference};
use slipway_names::split_tag;

/// Names the source or destination of a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// An OCI image layout folder, with the tag (`org.opencontainers.image.ref.name`) to use.
    Layout {
        /// The layout folder.
        path: PathBuf,
        /// The tag; `None` means "the only manifest" when reading.
        tag: Option<String>,
    },
    /// An image in a registry.
    Registry(Reference),
}

impl Location {
    /// Parses `oci:PATH[:TAG]`, `docker://REF` or a bare `REF`.
    ///
    /// In `oci:PATH:TAG` the tag is the text after the last `:` when that text holds no `/`:
    /// `oci:/tmp/x:v1` is the folder `/tmp/x` with tag `v1`, and `oci:/tmp/x` has no tag.
    ///
    /// # Errors
    /// [`Error::InvalidLocation`] for `oci:` with no path or an empty or blank tag, and for a
    /// bare path such as `./x` (which needs `oci:`); [`Error::Name`] for a
    /// registry reference that does not parse.
    pub fn parse(s: &str) -> Result<Location, Error> {
        let err = |why: String| Error::InvalidLocation {
            input: s.into(),
            why,
        };
        if let Some(rest) = s.strip_prefix("oci:") {
            let (path, tag) = split_tag(rest);
            if path.is_empty() {
                return Err(err("there is no folder after `oci:`".into()));
            }
            if let Some(t) = tag {
                check_layout_tag(t).map_err(|why| err(format!("the tag `{t}` {why}")))?;
            }
            return Ok(Location::Layout {
                path: PathBuf::from(path),
                tag: tag.map(str::to_string),
            });
        }
        if s.starts_with(['/', '.', '~']) {
            return Err(err(format!(
                "it looks like a folder; write `oci:{s}` for an OCI image layout"
            )));
        }
        Ok(Reference::parse(s).map(Location::Registry)?)
    }
}

/// Checks a tag for a layout's `org.opencontainers.image.ref.name`: not empty, no whitespace
/// or control characters.
pub(crate) fn check_layout_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("is empty".into());
    }
    if let Some(c) = tag.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("contains the character {c:?}"));
    }
    Ok(())
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Layout { path, tag } => {
                write!(f, "oci:{}", path.display())?;
                if let Some(t) = tag {
                    write!(f, ":{t}")?;
                }
                Ok(())
            }
            Location::Registry(r) => write!(f, "docker://{r}"),
        }
    }
}

impl FromStr for Location {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Location::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(path: &str, tag: Option<&str>) -> Location {
        Location::Layout {
            path: path.into(),
            tag: tag.map(str::to_string),
        }
    }

    #[test]
    fn parses_layout_locations_taking_the_tag_after_the_last_colon() {
        assert_eq!(
            Location::parse("oci:/tmp/x:v1").unwrap(),
            layout("/tmp/x", Some("v1"))
        );
        assert_eq!(
            Location::parse("oci:/tmp/x").unwrap(),
            layout("/tmp/x", None)
        );
        assert_eq!(
            Location::parse("oci:rel/dir:latest").unwrap(),
            layout("rel/dir", Some("latest"))
        );
        assert_eq!(
            Location::parse("oci:/a:b/c").unwrap(),
            layout("/a:b/c", None),
            "text after the last colon with a slash is part of the path"
        );
        assert_eq!(
            Location::parse("oci:/a:b/c:t").unwrap(),
            layout("/a:b/c", Some("t"))
        );
    }

    #[test]
    fn parses_registry_locations_with_or_without_the_docker_prefix() {
        let want = Location::Registry(Reference::parse("r.test:5000/a:1").unwrap());
        assert_eq!(Location::parse("docker://r.test:5000/a:1").unwrap(), want);
        assert_eq!(Location::parse("r.test:5000/a:1").unwrap(), want);
    }

    #[test]
    fn refuses_malformed_locations_naming_them() {
        for (input, why) in [
            ("oci:", "no folder"),
            ("oci::v1", "no folder"),
            ("oci:/tmp/x:", "is empty"),
            ("./layout", "write `oci:./layout`"),
            ("/tmp/layout", "write `oci:/tmp/layout`"),
        ] {
            let text = Location::parse(input).unwrap_err().to_string();
            assert!(text.contains(&format!("`{input}`")), "{text}");
            assert!(text.contains(why), "{input}: {text}");
        }
        assert!(matches!(
            Location::parse("docker://r.test/A"),
            Err(Error::Name(slipway_names::Error::InvalidReference { .. }))
        ));
    }

    #[test]
    fn displays_a_form_that_parses_back() {
        for s in ["oci:/tmp/x:v1", "oci:/tmp/x", "docker://r.test/a:1"] {
            let l = Location::parse(s).unwrap();
            assert_eq!(l.to_string(), s);
            assert_eq!(Location::parse(&l.to_string()).unwrap(), l);
        }
    }
}
