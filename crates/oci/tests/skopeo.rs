//! Interoperability with the real `skopeo` (Go, containers/image): it copies a layout this
//! crate wrote, and this crate reads and tags the layout skopeo wrote.
//!
//! Needs `skopeo`, `tar` and `gzip` (installed by `scripts/setup`); fails loudly without them.

use std::fs;
use std::path::Path;
use std::process::Command;

use slipway_oci::{
    Descriptor, Digest, ImageConfig, Layout, Manifest, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST,
    REF_NAME_ANNOTATION,
};

fn run(cmd: &mut Command) -> Vec<u8> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown} ({e}); install it with scripts/setup"));
    assert!(
        out.status.success(),
        "{shown} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn skopeo(args: &[&str]) -> Vec<u8> {
    run(Command::new("skopeo").arg("--insecure-policy").args(args))
}

/// Builds a gzipped tar holding one file; returns (tar.gz bytes, diff_id).
fn layer(dir: &Path) -> (Vec<u8>, Digest) {
    let root = dir.join("rootfs");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("hello.txt"), "hello from slipway\n").unwrap();
    let tar = dir.join("layer.tar");
    run(Command::new("tar")
        .args(["--owner=0", "--group=0", "--numeric-owner", "--mtime=@0"])
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg("hello.txt"));
    let diff_id = Digest::sha256_of(&fs::read(&tar).unwrap());
    let gz = run(Command::new("gzip").args(["-n", "-c"]).arg(&tar));
    (gz, diff_id)
}

/// Writes a one-layer linux/amd64 image into a new layout at `path`, tagged `tag`; returns the
/// manifest descriptor.
fn write_image(work: &Path, path: &Path, tag: &str) -> Descriptor {
    let (gz, diff_id) = layer(work);
    let layout = Layout::create(path).unwrap();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["/hello.txt"]}},"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}},"history":[{{"created_by":"slipway-oci test"}}]}}"#
    );
    let config_digest = layout.write_blob(config.as_bytes()).unwrap();
    let layer_digest = layout.write_blob(&gz).unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"{OCI_LAYER_GZIP}","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        gz.len()
    );
    let digest = layout.write_blob(manifest.as_bytes()).unwrap();
    let desc = Descriptor::new(OCI_MANIFEST, digest, manifest.len() as u64);
    layout.set_tag(tag, &desc).unwrap();
    desc
}

/// Reads the image a layout has under `tag`, checking every blob against its digest.
fn read_image(layout: &Layout, tag: &str) -> (Descriptor, Manifest) {
    let desc = layout.resolve(Some(tag)).unwrap();
    let bytes = layout.read_blob(&desc.digest).unwrap();
    let manifest = Manifest::parse(&bytes, Some(&desc.media_type)).unwrap();
    for child in manifest.children() {
        assert!(
            layout.has_blob(&child.digest, Some(child.size)),
            "{}",
            child.digest
        );
        layout.read_blob(&child.digest).unwrap();
    }
    (desc, manifest)
}

#[test]
fn skopeo_copies_a_layout_we_wrote_and_we_read_and_tag_the_one_it_wrote() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let dst = work.path().join("dst");
    let ours = write_image(work.path(), &src, "v1");

    // skopeo reads our layout and writes its own.
    let raw = skopeo(&["inspect", "--raw", &format!("oci:{}:v1", src.display())]);
    assert_eq!(Digest::sha256_of(&raw), ours.digest);
    skopeo(&[
        "copy",
        "--quiet",
        &format!("oci:{}:v1", src.display()),
        &format!("oci:{}:v2", dst.display()),
    ]);

    // We read skopeo's layout: the same image, every blob verified.
    let theirs = Layout::open(&dst).unwrap();
    assert_eq!(theirs.tags().unwrap(), ["v2"]);
    let (desc, manifest) = read_image(&theirs, "v2");
    assert_eq!(desc.media_type, OCI_MANIFEST);
    assert_eq!(
        desc.digest, ours.digest,
        "skopeo keeps an OCI manifest byte for byte"
    );
    assert_eq!(theirs.resolve(None).unwrap().digest, desc.digest);
    let image = manifest.as_image().unwrap();
    assert_eq!(image.layers[0].media_type, OCI_LAYER_GZIP);
    let config = ImageConfig::parse(&theirs.read_blob(&image.config.digest).unwrap()).unwrap();
    assert_eq!(config.platform().unwrap().to_string(), "linux/amd64");

    // We tag skopeo's layout, and skopeo reads both tags from the index.json we rewrote.
    theirs.set_tag("v3", &desc).unwrap();
    theirs.set_tag("v2", &desc).unwrap();
    assert_eq!(theirs.tags().unwrap(), ["v2", "v3"]);
    for tag in ["v2", "v3"] {
        let raw = skopeo(&["inspect", "--raw", &format!("oci:{}:{tag}", dst.display())]);
        assert_eq!(Digest::sha256_of(&raw), ours.digest, "{tag}");
    }
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(dst.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][1]["annotations"][REF_NAME_ANNOTATION],
        "v3"
    );

    // skopeo adds a second image to our layout; we keep seeing both.
    skopeo(&[
        "copy",
        "--quiet",
        &format!("oci:{}:v3", dst.display()),
        &format!("oci:{}:again", src.display()),
    ]);
    let src_layout = Layout::open(&src).unwrap();
    assert_eq!(src_layout.tags().unwrap(), ["v1", "again"]);
    read_image(&src_layout, "again");
}
