//! Media types of manifests, indexes, configs and layers, OCI and Docker.

/// An OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// A Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A Docker manifest list (the Docker form of an index).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// A Docker schema 1 manifest, unsigned. Refused: slipway does not handle schema 1.
pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// A Docker schema 1 manifest, signed. Refused: slipway does not handle schema 1.
pub const DOCKER_MANIFEST_V1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
/// An OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// A Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// An OCI layer, gzip-compressed tar.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// An OCI layer, zstd-compressed tar.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// An OCI layer, uncompressed tar.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// A Docker layer, gzip-compressed tar.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The `Accept` list for fetching a manifest: indexes first, then single-image manifests.
pub const MANIFEST_ACCEPT: &[&str] = &[
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST,
];

/// Returns the media type without parameters (`; charset=utf-8`), trimmed and lowercased.
pub fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Returns whether the media type is an OCI index or a Docker manifest list. Parameters and
/// case are ignored.
pub fn is_index(media_type: &str) -> bool {
    let m = essence(media_type);
    m == OCI_INDEX || m == DOCKER_MANIFEST_LIST
}

/// Returns whether the media type is an OCI image manifest or a Docker schema 2 manifest.
/// Parameters and case are ignored.
pub fn is_manifest(media_type: &str) -> bool {
    let m = essence(media_type);
    m == OCI_MANIFEST || m == DOCKER_MANIFEST
}

/// Returns whether the media type is a Docker schema 1 manifest, which slipway refuses.
pub fn is_schema1(media_type: &str) -> bool {
    let m = essence(media_type);
    m == DOCKER_MANIFEST_V1 || m == DOCKER_MANIFEST_V1_SIGNED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_manifest_and_index_types_ignoring_parameters_and_case() {
        assert!(is_index(OCI_INDEX));
        assert!(is_index(DOCKER_MANIFEST_LIST));
        assert!(is_manifest(OCI_MANIFEST));
        assert!(is_manifest(&format!("{DOCKER_MANIFEST}; charset=utf-8")));
        assert!(is_manifest(&OCI_MANIFEST.to_uppercase()));
        assert!(!is_manifest(OCI_INDEX));
        assert!(!is_index(OCI_CONFIG));
        assert!(!is_manifest(DOCKER_MANIFEST_V1_SIGNED));
        assert!(is_schema1(DOCKER_MANIFEST_V1_SIGNED));
    }

    #[test]
    fn accept_list_has_every_manifest_and_index_type() {
        assert!(
            MANIFEST_ACCEPT
                .iter()
                .all(|m| is_index(m) || is_manifest(m))
        );
        assert_eq!(MANIFEST_ACCEPT.len(), 4);
    }
}
