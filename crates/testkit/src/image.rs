//! Writes small OCI image layouts at test time, for pushing to a test registry.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// Media type of an OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of an OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of a gzip-compressed OCI layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// An OCI image layout on disk, as written by [`oci_layout`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageLayout {
    /// The layout folder (holds `oci-layout`, `index.json` and `blobs/sha256/`).
    pub dir: PathBuf,
    /// The tag, stored as the manifest's `org.opencontainers.image.ref.name` annotation.
    pub tag: String,
    /// The manifest's digest, `sha256:<64 hex>`: what a registry reports after a push that
    /// kept the manifest as it is.
    pub manifest_digest: String,
    /// The config blob's digest, `sha256:...`.
    pub config_digest: String,
    /// The (first) gzip layer blob's digest, `sha256:...`.
    pub layer_digest: String,
    /// Every layer blob's digest, in order.
    pub layer_digests: Vec<String>,
    /// The digest of the (first) uncompressed layer tar (the config's `rootfs.diff_ids[0]`).
    pub diff_id: String,
}

impl ImageLayout {
    /// Returns the reference skopeo and other containers/image tools accept:
    /// `oci:DIR:TAG`.
    pub fn reference(&self) -> String {
        format!("oci:{}:{}", self.dir.display(), self.tag)
    }
}

/// Returns `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in d.as_ref() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Quotes `s` as a JSON string.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn write_file(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
    }
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Writes `bytes` as a blob of the layout and returns its digest.
fn write_blob(dir: &Path, bytes: &[u8]) -> String {
    let digest = sha256_digest(bytes);
    let hex = digest.trim_start_matches("sha256:");
    write_file(&dir.join("blobs").join("sha256").join(hex), bytes);
    digest
}

/// Builds the uncompressed layer tar with GNU tar, reproducibly (sorted names, mtime 0,
/// owner root), and returns `(tar, tar.gz)`.
fn layer(files: &[(&str, &[u8])]) -> (Vec<u8>, Vec<u8>) {
    let work = tempfile::tempdir().expect("temp dir");
    let root = work.path().join("root");
    std::fs::create_dir(&root).expect("create layer root");
    let mut top = Vec::new();
    for (name, bytes) in files {
        let rel = Path::new(name);
        assert!(
            !name.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_))),
            "oci_layout: file name {name:?} must be a relative path without `.` or `..`"
        );
        write_file(&root.join(rel), bytes);
        let first = rel.components().next().expect("non-empty path");
        let first = first.as_os_str().to_owned();
        if !top.contains(&first) {
            top.push(first);
        }
    }
    top.sort();
    let tar_file = work.path().join("layer.tar");
    let mut cmd = Command::new("tar");
    cmd.args([
        "--sort=name",
        "--mtime=@0",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "-cf",
    ])
    .arg(&tar_file)
    .arg("-C")
    .arg(&root);
    if top.is_empty() {
        // tar refuses to create an empty archive from no names, but not from an empty list.
        cmd.args(["-T", "/dev/null"]);
    } else {
        cmd.arg("--").args(&top);
    }
    let out = cmd
        .output()
        .expect("the tar CLI must be installed (Debian package tar)");
    assert!(
        out.status.success(),
        "tar failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let tar = std::fs::read(&tar_file).expect("read layer.tar");
    // -n: no name or time stamp in the gzip header, so the same files give the same digest.
    let out = Command::new("gzip")
        .args(["-n", "-c"])
        .arg(&tar_file)
        .output()
        .expect("the gzip CLI must be installed (Debian package gzip)");
    assert!(
        out.status.success(),
        "gzip failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (tar, out.stdout)
}

/// Writes an OCI image layout in `dir` (created if missing) holding one linux/amd64 image
/// tagged `tag`: one gzip layer with `files` (`(path in the image, content)`; paths are
/// relative, parent folders are made), an OCI config whose `rootfs.diff_ids` names the
/// uncompressed layer, and an OCI manifest. `index.json` is (re)written with this one
/// manifest, annotated `org.opencontainers.image.ref.name = tag`.
///
/// The output is reproducible: the same files and tag give the same digests.
/// `skopeo copy oci:DIR:TAG docker://...` accepts it (see [`ImageLayout::reference`]).
///
/// # Panics
/// When a path is absolute or holds `.`/`..`, when a file cannot be written, or when the
/// `tar` or `gzip` CLI is missing or fails.
pub fn oci_layout(dir: &Path, tag: &str, files: &[(&str, &[u8])]) -> ImageLayout {
    oci_layout_layers(dir, tag, &[files])
}

/// Like [`oci_layout`], with one gzip layer per entry of `layers`, in order. Images made
/// with the same first entries share those layer blobs, as images on one base do.
///
/// # Panics
/// As [`oci_layout`], and when `layers` is empty.
pub fn oci_layout_layers(dir: &Path, tag: &str, layers: &[&[(&str, &[u8])]]) -> ImageLayout {
    assert!(
        !tag.is_empty() && !tag.contains(':'),
        "oci_layout: tag {tag:?} must be non-empty and hold no ':'"
    );
    assert!(!layers.is_empty(), "oci_layout: an image needs a layer");
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let mut diff_ids = Vec::new();
    let mut layer_digests = Vec::new();
    let mut descriptors = Vec::new();
    for files in layers {
        let (tar, gz) = layer(files);
        diff_ids.push(sha256_digest(&tar));
        let digest = write_blob(dir, &gz);
        descriptors.push(format!(
            "{{\"mediaType\":\"{OCI_LAYER_GZIP}\",\"digest\":\"{digest}\",\"size\":{}}}",
            gz.len()
        ));
        layer_digests.push(digest);
    }
    let diff_id = diff_ids[0].clone();
    let layer_digest = layer_digests[0].clone();
    let history = vec![
        "{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"slipway-testkit oci_layout\"}";
        layers.len()
    ];

    let config = format!(
        concat!(
            "{{\"created\":\"1970-01-01T00:00:00Z\",\"architecture\":\"amd64\",\"os\":\"linux\",",
            "\"config\":{{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"]}},",
            "\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{diff_ids}]}},",
            "\"history\":[{history}]}}"
        ),
        diff_ids = diff_ids
            .iter()
            .map(|d| format!("\"{d}\""))
            .collect::<Vec<_>>()
            .join(","),
        history = history.join(","),
    );
    let config_digest = write_blob(dir, config.as_bytes());

    let manifest = format!(
        concat!(
            "{{\"schemaVersion\":2,\"mediaType\":\"{mt}\",",
            "\"config\":{{\"mediaType\":\"{cmt}\",\"digest\":\"{cd}\",\"size\":{cs}}},",
            "\"layers\":[{layers}]}}"
        ),
        mt = OCI_MANIFEST,
        cmt = OCI_CONFIG,
        cd = config_digest,
        cs = config.len(),
        layers = descriptors.join(","),
    );
    let manifest_digest = write_blob(dir, manifest.as_bytes());

    let index = format!(
        concat!(
            "{{\"schemaVersion\":2,\"mediaType\":\"{imt}\",\"manifests\":[",
            "{{\"mediaType\":\"{mt}\",\"digest\":\"{md}\",\"size\":{ms},",
            "\"platform\":{{\"architecture\":\"amd64\",\"os\":\"linux\"}},",
            "\"annotations\":{{\"org.opencontainers.image.ref.name\":{tag}}}}}]}}"
        ),
        imt = OCI_INDEX,
        mt = OCI_MANIFEST,
        md = manifest_digest,
        ms = manifest.len(),
        tag = json_string(tag),
    );
    write_file(&dir.join("index.json"), index.as_bytes());
    write_file(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    );

    ImageLayout {
        dir: dir.to_path_buf(),
        tag: tag.to_string(),
        manifest_digest,
        config_digest,
        layer_digest,
        layer_digests,
        diff_id,
    }
}
