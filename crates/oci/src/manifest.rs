//! Descriptors, image manifests, indexes (manifest lists), image configs and platforms, in
//! their OCI JSON form. Docker schema 2 manifests and manifest lists share the same shape.
//!
//! Unknown JSON fields are accepted and dropped: slipway never re-serializes a manifest it
//! pulled, it copies the bytes verbatim, so the digest stays the same.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::media::{self, essence, is_index, is_manifest, is_schema1};
use crate::{Digest, Error};

/// Names the system an image runs on: `linux/amd64`, `linux/arm/v7`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    /// The CPU architecture, in Go's `GOARCH` spelling: `amd64`, `arm64`, `arm`.
    pub architecture: String,
    /// The operating system, in Go's `GOOS` spelling: `linux`, `windows`.
    pub os: String,
    /// The CPU variant: `v7` for `arm`, `v8` for `arm64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The operating system version (Windows images).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Required operating system features (Windows images).
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
}

impl Platform {
    /// Parses `os/arch[/variant]`, e.g. `linux/arm64` or `linux/arm/v7`.
    ///
    /// # Errors
    /// [`Error::InvalidPlatform`], naming the input: fewer than two or more than three parts,
    /// an empty part, whitespace, a comma-separated list, or another character that no
    /// platform has.
    pub fn parse(s: &str) -> Result<Platform, Error> {
        let err = |why: &str| Error::InvalidPlatform {
            input: s.into(),
            why: why.into(),
        };
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("it contains whitespace"));
        }
        if s.contains(',') {
            return Err(err("it is a list of platforms; give one platform here"));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-')))
        {
            return Err(err(&format!(
                "`{c}` is not part of a platform (letters, digits, `.`, `_` and `-`)"
            )));
        }
        let parts: Vec<&str> = s.split('/').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(err("it has neither two nor three `/`-separated parts"));
        }
        if parts.iter().any(|p| p.is_empty()) {
            return Err(err("it has an empty part"));
        }
        Ok(Platform {
            os: parts[0].into(),
            architecture: parts[1].into(),
            variant: parts.get(2).map(|v| v.to_string()),
            os_version: None,
            os_features: None,
        })
    }

    /// Returns whether this platform (of an index entry) satisfies `want`: the same OS and
    /// architecture, and the same variant when `want` names one.
    pub fn matches(&self, want: &Platform) -> bool {
        self.os == want.os
            && self.architecture == want.architecture
            && want
                .variant
                .as_ref()
                .is_none_or(|v| self.variant.as_ref() == Some(v))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::parse(s)
    }
}

/// Points at content: its media type, digest and size, plus optional details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type of the content pointed at.
    pub media_type: String,
    /// The digest of the content.
    pub digest: Digest,
    /// The size of the content in bytes.
    pub size: u64,
    /// Other places to fetch the content from (Windows foreign layers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Annotations, e.g. [`crate::REF_NAME_ANNOTATION`] in a layout's `index.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The platform of the manifest pointed at, in an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type of the manifest pointed at, for artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// Creates a descriptor with only the media type, digest and size.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }

    /// Returns the value of an annotation.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// Holds an OCI image manifest or a Docker schema 2 manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's own media type; required by Docker, optional in OCI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// The layers, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (signatures, SBOMs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Holds an OCI image index or a Docker manifest list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// The index's own media type; required by Docker, optional in OCI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests, usually one per platform.
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl ImageIndex {
    /// Creates an empty OCI index, as in a new layout's `index.json`.
    pub fn empty() -> ImageIndex {
        ImageIndex {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.into()),
            manifests: Vec::new(),
            annotations: None,
        }
    }

    /// Returns the first manifest whose platform matches `want`.
    pub fn find_platform(&self, want: &Platform) -> Option<&Descriptor> {
        self.manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(want)))
    }

    /// Returns the platforms the index lists, as `os/arch[/variant]`, in order.
    pub fn platforms(&self) -> Vec<String> {
        self.manifests
            .iter()
            .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
            .collect()
    }
}

/// Holds a parsed manifest: a single image, or an index of them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once per manifest; unboxed variants keep matching and building simple"
)]
pub enum Manifest {
    /// An OCI image manifest or Docker schema 2 manifest.
    Image(ImageManifest),
    /// An OCI image index or Docker manifest list.
    Index(ImageIndex),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    schema_version: Option<serde_json::Value>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<IgnoredAny>,
    #[serde(default)]
    layers: Option<IgnoredAny>,
    #[serde(default)]
    config: Option<IgnoredAny>,
}

#[derive(Clone, Copy)]
enum Kind {
    Image,
    Index,
}

fn kind_of(media_type: &str) -> Option<Kind> {
    if is_index(media_type) {
        Some(Kind::Index)
    } else if is_manifest(media_type) {
        Some(Kind::Image)
    } else {
        None
    }
}

impl Manifest {
    /// Parses manifest or index bytes.
    ///
    /// The kind is decided by `content_type` when it is a known manifest or index type, else
    /// by the JSON `mediaType`, else by whether the JSON has `manifests` (an index) or
    /// `layers`/`config` (an image).
    ///
    /// # Errors
    /// [`Error::InvalidManifest`]: not a JSON object, a Docker schema 1 manifest, a
    /// `schemaVersion` other than 2, neither shape, or JSON that does not fit the shape.
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest, Error> {
        let err = |why: String| Error::InvalidManifest { why };
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| err(format!("it is not a JSON object: {e}")))?;
        if !value.is_object() {
            return Err(err("it is not a JSON object".into()));
        }
        let probe = Probe::deserialize(&value)
            .map_err(|e| err(format!("its top-level fields do not fit: {e}")))?;
        let schema1 = content_type.is_some_and(is_schema1)
            || probe.media_type.as_deref().is_some_and(is_schema1)
            || probe.schema_version.as_ref().and_then(|v| v.as_u64()) == Some(1);
        if schema1 {
            return Err(err(
                "it is a Docker schema 1 manifest, which slipway does not support; push the image \
                 again with a current client, or convert it with `skopeo copy --format v2s2`"
                    .into(),
            ));
        }
        match &probe.schema_version {
            Some(v) if v.as_u64() == Some(2) => {}
            Some(v) => {
                return Err(err(format!(
                    "schemaVersion {v} is not supported; only 2 is"
                )));
            }
            None => return Err(err("it has no schemaVersion".into())),
        }
        let kind = content_type
            .and_then(kind_of)
            .or_else(|| probe.media_type.as_deref().and_then(kind_of))
            .or(if probe.manifests.is_some() {
                Some(Kind::Index)
            } else if probe.layers.is_some() || probe.config.is_some() {
                Some(Kind::Image)
            } else {
                None
            })
            .ok_or_else(|| {
                err(format!(
                    "its type is unknown: content type {}, mediaType {}, and it has neither \
                     `manifests` nor `layers`",
                    content_type.unwrap_or("(none)"),
                    probe.media_type.as_deref().unwrap_or("(none)")
                ))
            })?;
        match kind {
            Kind::Index => ImageIndex::deserialize(&value)
                .map(Manifest::Index)
                .map_err(|e| err(format!("as an image index: {e}"))),
            Kind::Image => ImageManifest::deserialize(&value)
                .map(Manifest::Image)
                .map_err(|e| err(format!("as an image manifest: {e}"))),
        }
    }

    /// Returns the best media type for pushing these bytes: `content_type` when it is a known
    /// type of this kind, else the JSON `mediaType` when it is, else the Docker type when the
    /// content is Docker's (a Docker config, or Docker manifests in a list), else the OCI type.
    pub fn media_type(&self, content_type: Option<&str>) -> String {
        let fits = |m: &&str| match self {
            Manifest::Image(_) => is_manifest(m),
            Manifest::Index(_) => is_index(m),
        };
        let own = match self {
            Manifest::Image(m) => m.media_type.as_deref(),
            Manifest::Index(i) => i.media_type.as_deref(),
        };
        if let Some(m) = content_type.filter(fits).or(own.filter(fits)) {
            return essence(m);
        }
        match self {
            Manifest::Image(m) => {
                if essence(&m.config.media_type) == media::DOCKER_CONFIG {
                    media::DOCKER_MANIFEST
                } else {
                    media::OCI_MANIFEST
                }
            }
            Manifest::Index(i) => {
                if i.manifests
                    .iter()
                    .any(|d| essence(&d.media_type) == media::DOCKER_MANIFEST)
                {
                    media::DOCKER_MANIFEST_LIST
                } else {
                    media::OCI_INDEX
                }
            }
        }
        .to_string()
    }

    /// Returns what this manifest points at: an index's manifests, or an image's config then
    /// layers.
    pub fn children(&self) -> Vec<&Descriptor> {
        match self {
            Manifest::Image(m) => std::iter::once(&m.config).chain(&m.layers).collect(),
            Manifest::Index(i) => i.manifests.iter().collect(),
        }
    }

    /// Returns the image manifest, when this is one.
    pub fn as_image(&self) -> Option<&ImageManifest> {
        match self {
            Manifest::Image(m) => Some(m),
            Manifest::Index(_) => None,
        }
    }

    /// Returns the index, when this is one.
    pub fn as_index(&self) -> Option<&ImageIndex> {
        match self {
            Manifest::Index(i) => Some(i),
            Manifest::Image(_) => None,
        }
    }
}

/// Holds the fields of an image config slipway reads; the rest is ignored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// The CPU architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// The operating system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// The CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// When the image was created, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The uncompressed layer digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<RootFs>,
    /// The runtime config (`Env`, `Entrypoint`, `Cmd`, ...), kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    /// The build history, kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<serde_json::Value>>,
}

impl ImageConfig {
    /// Parses image config bytes.
    ///
    /// # Errors
    /// [`Error::Json`] when the bytes are not a config object.
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, Error> {
        let json_err = |source| Error::Json {
            subject: "image config".into(),
            source,
        };
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(json_err)?;
        if !value.is_object() {
            return Err(json_err(serde::de::Error::custom(
                "an image config must be a JSON object",
            )));
        }
        ImageConfig::deserialize(value).map_err(json_err)
    }

    /// Returns the platform the config names, when it names an OS and an architecture.
    pub fn platform(&self) -> Option<Platform> {
        Some(Platform {
            architecture: self.architecture.clone()?,
            os: self.os.clone()?,
            variant: self.variant.clone(),
            os_version: None,
            os_features: None,
        })
    }
}

/// Holds an image config's `rootfs`: the digests of the uncompressed layers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The sha256 of each uncompressed layer tar, base first.
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn oci_manifest() -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}",
               "config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":10}},
               "layers":[{{"mediaType":"{OCI_LAYER_GZIP}","digest":"{}","size":20,"annotations":{{"a":"b"}}}}],
               "annotations":{{"k":"v"}},"unknownField":[1,2]}}"#,
            d('a'),
            d('b')
        )
    }

    #[test]
    fn parses_platforms_and_displays_them_back() {
        let p = Platform::parse("linux/arm/v7").unwrap();
        assert_eq!((p.os.as_str(), p.architecture.as_str()), ("linux", "arm"));
        assert_eq!(p.variant.as_deref(), Some("v7"));
        assert_eq!(p.to_string(), "linux/arm/v7");
        assert_eq!(
            "linux/amd64".parse::<Platform>().unwrap().to_string(),
            "linux/amd64"
        );
        for bad in [
            "linux",
            "linux/",
            "/amd64",
            "a/b/c/d",
            "linux/amd 64",
            "",
            "linux/amd64,linux/arm64",
            "linux/arm64;x",
        ] {
            let text = Platform::parse(bad).unwrap_err().to_string();
            assert!(text.contains(&format!("`{bad}`")), "{text}");
        }
        // A list is named as one.
        let text = Platform::parse("linux/amd64,linux/arm64")
            .unwrap_err()
            .to_string();
        assert!(text.contains("a list of platforms"), "{text}");
    }

    #[test]
    fn platform_matches_os_and_arch_and_variant_only_when_wanted() {
        let p = |s| Platform::parse(s).unwrap();
        assert!(p("linux/arm/v7").matches(&p("linux/arm")));
        assert!(p("linux/arm/v7").matches(&p("linux/arm/v7")));
        assert!(!p("linux/arm/v6").matches(&p("linux/arm/v7")));
        assert!(!p("linux/arm").matches(&p("linux/arm/v7")));
        assert!(!p("linux/amd64").matches(&p("linux/arm64")));
        assert!(!p("windows/amd64").matches(&p("linux/amd64")));
    }

    #[test]
    fn parses_an_oci_manifest_ignoring_unknown_fields() {
        let m = Manifest::parse(oci_manifest().as_bytes(), None).unwrap();
        let Manifest::Image(image) = &m else {
            panic!("not an image: {m:?}")
        };
        assert_eq!(image.config.media_type, OCI_CONFIG);
        assert_eq!(image.layers[0].size, 20);
        assert_eq!(image.layers[0].annotation("a"), Some("b"));
        assert_eq!(m.media_type(None), OCI_MANIFEST);
        let children: Vec<u64> = m.children().iter().map(|c| c.size).collect();
        assert_eq!(children, [10, 20]);
    }

    #[test]
    fn parses_an_oci_index_with_platforms() {
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[
                {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}},
                {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":2,"platform":{{"architecture":"arm64","os":"linux","variant":"v8","os.features":["x"]}}}}]}}"#,
            d('a'),
            d('b')
        );
        let m = Manifest::parse(json.as_bytes(), Some(OCI_INDEX)).unwrap();
        let index = m.as_index().unwrap();
        let arm = index.manifests[1].platform.as_ref().unwrap();
        assert_eq!(arm.to_string(), "linux/arm64/v8");
        assert_eq!(arm.os_features.as_deref(), Some(&["x".to_string()][..]));
        assert_eq!(m.media_type(None), OCI_INDEX);
        assert_eq!(m.children().len(), 2);
    }

    #[test]
    fn parses_a_docker_v2_manifest_and_keeps_its_media_type() {
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}",
               "config":{{"mediaType":"{DOCKER_CONFIG}","size":1469,"digest":"{}"}},
               "layers":[{{"mediaType":"{DOCKER_LAYER_GZIP}","size":2,"digest":"{}"}}]}}"#,
            d('c'),
            d('e')
        );
        let m = Manifest::parse(json.as_bytes(), Some("application/octet-stream")).unwrap();
        assert!(m.as_image().is_some());
        assert_eq!(
            m.media_type(Some("application/octet-stream")),
            DOCKER_MANIFEST
        );
        // With no mediaType in the JSON, the Docker config type still says it is Docker's.
        let bare = json.replace(&format!(r#""mediaType":"{DOCKER_MANIFEST}","#), "");
        let m = Manifest::parse(bare.as_bytes(), None).unwrap();
        assert_eq!(m.media_type(None), DOCKER_MANIFEST);
    }

    #[test]
    fn parses_a_docker_manifest_list() {
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[
                {{"mediaType":"{DOCKER_MANIFEST}","digest":"{}","size":7,"platform":{{"architecture":"arm","os":"linux","variant":"v7"}}}}]}}"#,
            d('f')
        );
        let m = Manifest::parse(json.as_bytes(), Some(DOCKER_MANIFEST_LIST)).unwrap();
        assert_eq!(
            m.media_type(Some(DOCKER_MANIFEST_LIST)),
            DOCKER_MANIFEST_LIST
        );
        let bare = json.replace(&format!(r#""mediaType":"{DOCKER_MANIFEST_LIST}","#), "");
        let m = Manifest::parse(bare.as_bytes(), None).unwrap();
        assert_eq!(
            m.media_type(None),
            DOCKER_MANIFEST_LIST,
            "inferred from its children"
        );
    }

    #[test]
    fn decides_the_kind_by_content_type_then_media_type_then_shape() {
        let without_type = oci_manifest().replace(&format!(r#""mediaType":"{OCI_MANIFEST}","#), "");
        assert!(
            Manifest::parse(without_type.as_bytes(), None)
                .unwrap()
                .as_image()
                .is_some()
        );
        let err = Manifest::parse(oci_manifest().as_bytes(), Some(OCI_INDEX)).unwrap_err();
        assert!(err.to_string().contains("as an image index"), "{err}");
        let with_charset = format!("{OCI_MANIFEST}; charset=utf-8");
        let m = Manifest::parse(oci_manifest().as_bytes(), Some(&with_charset)).unwrap();
        assert_eq!(m.media_type(Some(&with_charset)), OCI_MANIFEST);
    }

    #[test]
    fn refuses_docker_schema1_manifests_saying_so() {
        let json = r#"{"schemaVersion":1,"name":"a","tag":"1","architecture":"amd64","fsLayers":[],"history":[]}"#;
        for ct in [None, Some(DOCKER_MANIFEST_V1_SIGNED)] {
            let err = Manifest::parse(json.as_bytes(), ct).unwrap_err();
            assert!(matches!(err, Error::InvalidManifest { .. }));
            assert!(err.to_string().contains("schema 1"), "{err}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_manifest() {
        for (bytes, why) in [
            (&b"[1]"[..], "not a JSON object"),
            (b"not json", "not a JSON object"),
            (br#"{"schemaVersion":3,"layers":[]}"#, "schemaVersion 3"),
            (br#"{"layers":[]}"#, "no schemaVersion"),
            (br#"{"schemaVersion":2}"#, "neither"),
            (
                br#"{"schemaVersion":2,"layers":[]}"#,
                "missing field `config`",
            ),
        ] {
            let err = Manifest::parse(bytes, None).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn serializes_descriptors_without_empty_fields() {
        let desc = Descriptor::new(OCI_MANIFEST, Digest::parse(&d('a')).unwrap(), 3);
        assert_eq!(
            serde_json::to_string(&desc).unwrap(),
            format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":3}}"#,
                d('a')
            )
        );
    }

    #[test]
    fn reads_the_fields_of_an_image_config() {
        let json = format!(
            r#"{{"architecture":"arm64","os":"linux","variant":"v8","created":"2024-01-01T00:00:00Z",
               "config":{{"Env":["A=1"]}},"rootfs":{{"type":"layers","diff_ids":["{}"]}},
               "history":[{{"created_by":"x"}}],"os.version":"ignored"}}"#,
            d('a')
        );
        let c = ImageConfig::parse(json.as_bytes()).unwrap();
        assert_eq!(c.platform().unwrap().to_string(), "linux/arm64/v8");
        assert_eq!(c.rootfs.unwrap().diff_ids[0].to_string(), d('a'));
        assert_eq!(c.config.unwrap()["Env"][0], "A=1");
        assert!(ImageConfig::parse(b"[]").is_err());
    }
}
