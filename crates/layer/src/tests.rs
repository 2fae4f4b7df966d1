//! The layer crate's tests: writing checked with GNU tar, extraction, whiteouts.

use std::os::unix::fs::MetadataExt;

use super::*;
#[allow(unused_imports)]
use crate::{compress::*, extract::*, write::*};
use slipway_oci::{Descriptor, Digest, Layout, media};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel};
use std::time::{Duration, SystemTime};
use tar::{EntryType, Header};

fn layout() -> (tempfile::TempDir, Layout) {
    let dir = tempfile::tempdir().unwrap();
    let l = Layout::create(&dir.path().join("layout")).unwrap();
    (dir, l)
}

fn entry(path: &str, content: Content, mode: u32) -> LayerEntry {
    LayerEntry {
        path: path.into(),
        content,
        mode,
        uid: 0,
        gid: 0,
        mtime: 1_700_000_000,
    }
}

fn opts(compression: Compression) -> LayerOptions {
    LayerOptions {
        compression,
        ..LayerOptions::default()
    }
}

/// Decompresses a stored layer blob with the plain decoders, independently of
/// extraction.
fn tar_of(l: &Layout, built: &BuiltLayer) -> Vec<u8> {
    let blob = fs::read(l.blob_path(&built.digest)).unwrap();
    let mut tar = Vec::new();
    match built.media_type.as_str() {
        media::OCI_LAYER_GZIP => {
            flate2::read::GzDecoder::new(&blob[..])
                .read_to_end(&mut tar)
                .unwrap();
        }
        media::OCI_LAYER_ZSTD => tar = zstd::decode_all(&blob[..]).unwrap(),
        other => panic!("{other}"),
    }
    tar
}

/// Lists (name, type, mode, uid, gid, mtime, link, data) of a tar.
#[allow(clippy::type_complexity)]
fn list(tar: &[u8]) -> Vec<(String, u8, u32, u64, u64, u64, String, Vec<u8>)> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            let h = e.header().clone();
            let link = e
                .link_name_bytes()
                .map(|b| String::from_utf8(b.into_owned()).unwrap())
                .unwrap_or_default();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            assert!(h.username_bytes().unwrap_or_default().is_empty());
            assert!(h.groupname_bytes().unwrap_or_default().is_empty());
            (
                name,
                h.entry_type().as_byte(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mtime().unwrap(),
                link,
                data,
            )
        })
        .collect()
}

/// A plain, uncompressed tar, built header by header (names are not checked, so it can
/// hold hostile ones).
fn raw_tar(entries: &[(&str, EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, data) in entries {
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_mode(if *kind == EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_size(data.len() as u64);
        h.set_entry_type(*kind);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    out.resize(out.len() + 2 * BLOCK, 0);
    out
}

fn store_tar(l: &Layout, tar: &[u8]) -> Descriptor {
    let d = l.write_blob(tar).unwrap();
    Descriptor::new(media::OCI_LAYER_TAR, d, tar.len() as u64)
}

fn mode_of(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

fn leftovers(l: &Layout) -> Vec<String> {
    fs::read_dir(l.path().join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// A source folder with a few files, a nested one, and a file bigger than a chunk.
fn source_tree(dir: &Path) -> Vec<LayerEntry> {
    fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    fs::write(dir.join("hello.txt"), "hello\n").unwrap();
    fs::write(dir.join("sub/deeper/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    let big: Vec<u8> = (0..3 * CHUNK + 12_345)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    fs::write(dir.join("big.bin"), &big).unwrap();
    vec![
        entry(
            "/app/hello.txt",
            Content::File(dir.join("hello.txt")),
            0o644,
        ),
        entry(
            "/app/bin/run.sh",
            Content::File(dir.join("sub/deeper/run.sh")),
            0o755,
        ),
        entry("/app/big.bin", Content::File(dir.join("big.bin")), 0o600),
        entry("/app/secret", Content::Bytes(b"s3cret".to_vec()), 0o400),
        entry("/app/link", Content::Symlink("hello.txt".into()), 0o777),
        entry("/app/empty", Content::Dir, 0o700),
        entry("/etc/app.conf", Content::Bytes(Vec::new()), 0o644),
    ]
}

#[test]
fn round_trips_files_modes_and_symlinks_with_gzip_and_zstd() {
    for c in [Compression::Gzip, Compression::Zstd] {
        let (dir, l) = layout();
        let src = dir.path().join("src");
        let entries = source_tree(&src);
        let built = write_layer(&l, &entries, &opts(c)).unwrap();
        assert_eq!(built.media_type, c.media_type());
        assert!(l.has_blob(&built.digest, Some(built.size)));
        assert_eq!(built.descriptor().size, built.size);

        let dest = dir.path().join("rootfs");
        extract_layers(&l, &[built.descriptor()], &dest).unwrap();
        let app = dest.join("app");
        assert_eq!(fs::read(app.join("hello.txt")).unwrap(), b"hello\n");
        assert_eq!(
            fs::read(app.join("bin/run.sh")).unwrap(),
            fs::read(src.join("sub/deeper/run.sh")).unwrap()
        );
        assert_eq!(
            fs::read(app.join("big.bin")).unwrap(),
            fs::read(src.join("big.bin")).unwrap()
        );
        assert_eq!(fs::read(app.join("secret")).unwrap(), b"s3cret");
        assert_eq!(fs::read(dest.join("etc/app.conf")).unwrap(), b"");
        assert_eq!(
            fs::read_link(app.join("link")).unwrap(),
            Path::new("hello.txt")
        );
        assert!(app.join("empty").is_dir());
        assert_eq!(mode_of(&app.join("hello.txt")), 0o644);
        assert_eq!(mode_of(&app.join("bin/run.sh")), 0o755);
        assert_eq!(mode_of(&app.join("big.bin")), 0o600);
        assert_eq!(mode_of(&app.join("secret")), 0o400);
        assert_eq!(mode_of(&app.join("empty")), 0o700);
        assert_eq!(mode_of(&app.join("bin")), 0o755, "an added parent");
        let mtime = fs::metadata(app.join("hello.txt")).unwrap().mtime();
        assert_eq!(mtime, 1_700_000_000);
        assert_eq!(fs::metadata(&app).unwrap().mtime(), 1_700_000_000);
        assert!(leftovers(&l).is_empty(), "{:?}", leftovers(&l));
    }
}

#[test]
fn diff_id_and_digest_are_the_hashes_of_the_tar_and_the_blob() {
    for c in [Compression::Gzip, Compression::Zstd] {
        let (dir, l) = layout();
        let entries = source_tree(&dir.path().join("src"));
        let built = write_layer(&l, &entries, &opts(c)).unwrap();
        let blob = fs::read(l.blob_path(&built.digest)).unwrap();
        assert_eq!(Digest::sha256_of(&blob), built.digest);
        assert_eq!(blob.len() as u64, built.size);
        let tar = tar_of(&l, &built);
        assert_eq!(Digest::sha256_of(&tar), built.diff_id, "{c:?}");
        assert_eq!(tar.len() % BLOCK, 0);
        assert!(tar.ends_with(&[0; 2 * BLOCK]));
    }
}

#[test]
fn gzip_blob_is_one_standard_member_that_other_tools_read() {
    let (dir, l) = layout();
    let entries = source_tree(&dir.path().join("src"));
    let built = write_layer(&l, &entries, &opts(Compression::Gzip)).unwrap();
    let blob = fs::read(l.blob_path(&built.digest)).unwrap();
    assert_eq!(&blob[..10], &GZIP_HEADER);
    let mut members = 0;
    let mut rest = &blob[..];
    while !rest.is_empty() {
        let mut d = flate2::bufread::GzDecoder::new(rest);
        io::copy(&mut d, &mut io::sink()).unwrap();
        rest = d.into_inner();
        members += 1;
    }
    assert_eq!(members, 1);
    // GNU tar and gzip agree (scripts/setup installs tar; without it this fails).
    let out = std::process::Command::new("tar")
        .arg("-tzf")
        .arg(l.blob_path(&built.digest))
        .output()
        .expect("GNU tar is needed for this cross-check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = String::from_utf8(out.stdout).unwrap();
    assert!(names.contains("app/bin/run.sh\n"), "{names}");
}

#[test]
fn random_segments_are_stored_and_text_still_compresses() {
    let (_dir, l) = layout();
    // A pseudo-random 300 KiB file between two text files: the chunks mix both kinds.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let random: Vec<u8> = (0..300 << 10)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let text = "the quick brown fox jumps over the lazy dog\n".repeat(10_000);
    let file = |path: &str, bytes: Vec<u8>| LayerEntry {
        path: path.into(),
        content: Content::Bytes(bytes),
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: 0,
    };
    let entries = [
        file("a.txt", text.clone().into_bytes()),
        file("b.bin", random.clone()),
        file("c.txt", text.clone().into_bytes()),
    ];
    for threads in [1, 3] {
        let o = LayerOptions {
            threads,
            ..opts(Compression::Gzip)
        };
        let built = write_layer(&l, &entries, &o).unwrap();
        // Random bytes cost their size, the text almost nothing.
        assert!(
            built.size < random.len() as u64 + (64 << 10),
            "{}",
            built.size
        );
        let out = tempfile::tempdir().unwrap();
        extract_layers(&l, &[built.descriptor()], out.path()).unwrap();
        assert_eq!(fs::read(out.path().join("b.bin")).unwrap(), random);
        assert_eq!(fs::read_to_string(out.path().join("c.txt")).unwrap(), text);
    }
    assert!(looks_incompressible(&random[..64 << 10]));
    assert!(!looks_incompressible(&text.as_bytes()[..64 << 10]));
}

#[test]
fn tar_is_sorted_with_added_parents_and_exactly_the_given_metadata() {
    let (_dir, l) = layout();
    let entries = vec![
        LayerEntry {
            path: "/z/y/file".into(),
            content: Content::Bytes(b"data".to_vec()),
            mode: 0o4755,
            uid: 1000,
            gid: 3_000_000, // more than 7 octal digits
            mtime: 42,
        },
        LayerEntry {
            mtime: 7,
            ..entry("a.b", Content::Dir, 0o750)
        },
        LayerEntry {
            mtime: 9,
            ..entry("./a//c/", Content::Symlink("../z".into()), 0o777)
        },
        LayerEntry {
            mtime: 5,
            ..entry("a/b", Content::Bytes(b"x".to_vec()), 0o644)
        },
    ];
    let built = write_layer(&l, &entries, &opts(Compression::Zstd)).unwrap();
    let listed = list(&tar_of(&l, &built));
    let names: Vec<&str> = listed.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        ["a/", "a.b/", "a/b", "a/c", "z/", "z/y/", "z/y/file"]
    );
    let by = |n: &str| listed.iter().find(|e| e.0 == n).unwrap().clone();
    // An added parent: 0o755, root, the mtime of the first entry below it.
    assert_eq!(
        by("a/"),
        ("a/".into(), b'5', 0o755, 0, 0, 5, "".into(), vec![])
    );
    assert_eq!(by("z/y/").5, 42);
    assert_eq!(by("a.b/").2, 0o750);
    assert_eq!(by("a/c").1, b'2');
    assert_eq!(by("a/c").6, "../z");
    let f = by("z/y/file");
    assert_eq!(
        (f.1, f.2, f.3, f.4, f.5),
        (b'0', 0o4755, 1000, 3_000_000, 42)
    );
    assert_eq!(f.7, b"data");
}

#[test]
fn long_paths_and_link_targets_survive() {
    let (dir, l) = layout();
    let deep = format!("/{}/{}", "d".repeat(120), "f".repeat(150));
    let exact = format!("/{}", "e".repeat(100));
    let target = format!("../{}", "t".repeat(300));
    let entries = vec![
        entry(&deep, Content::Bytes(b"deep".to_vec()), 0o644),
        entry(&exact, Content::Bytes(b"exact".to_vec()), 0o644),
        entry("/l", Content::Symlink(target.clone()), 0o777),
    ];
    let built = write_layer(&l, &entries, &opts(Compression::Gzip)).unwrap();
    let listed = list(&tar_of(&l, &built));
    let names: Vec<&str> = listed.iter().map(|e| e.0.as_str()).collect();
    let dir_name = format!("{}/", "d".repeat(120));
    assert_eq!(
        names,
        [dir_name.as_str(), &deep[1..], &exact[1..], "l"],
        "long names are whole"
    );
    assert_eq!(listed[3].6, target);

    let dest = dir.path().join("root");
    extract_layers(&l, &[built.descriptor()], &dest).unwrap();
    assert_eq!(fs::read(dest.join(&deep[1..])).unwrap(), b"deep");
    assert_eq!(fs::read(dest.join(&exact[1..])).unwrap(), b"exact");
    assert_eq!(fs::read_link(dest.join("l")).unwrap(), Path::new(&target));
}

#[test]
fn same_inputs_give_the_same_blob_whatever_the_disk_says() {
    let base = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for (i, order) in [[0usize, 1, 2], [2, 0, 1]].iter().enumerate() {
        let src = base.path().join(format!("src{i}"));
        fs::create_dir_all(&src).unwrap();
        // Different creation order, times and permissions on disk.
        for &n in order {
            let p = src.join(format!("f{n}"));
            fs::write(&p, format!("content {n}")).unwrap();
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 * (i as u64 + 1));
            File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o600 + i as u32)).unwrap();
        }
        let mut entries: Vec<LayerEntry> = order
            .iter()
            .map(|n| {
                entry(
                    &format!("/d/f{n}"),
                    Content::File(src.join(format!("f{n}"))),
                    0o644,
                )
            })
            .collect();
        entries.push(entry("/d/dup", Content::Bytes(b"old".to_vec()), 0o644));
        entries.push(entry("d/dup", Content::Bytes(b"new".to_vec()), 0o644));
        for c in [Compression::Gzip, Compression::Zstd] {
            for threads in [1, 2, 3] {
                let (_d, l) = layout();
                let o = LayerOptions {
                    compression: c,
                    level: None,
                    threads,
                };
                let built = write_layer(&l, &entries, &o).unwrap();
                results.push(((c, threads), built));
            }
        }
    }
    for c in [Compression::Gzip, Compression::Zstd] {
        let all: Vec<&BuiltLayer> = results
            .iter()
            .filter(|((cc, _), _)| *cc == c)
            .map(|(_, b)| b)
            .collect();
        assert_eq!(all.len(), 6);
        for b in &all {
            assert_eq!(b.digest, all[0].digest, "{c:?}");
            assert_eq!(b.diff_id, all[0].diff_id, "{c:?}");
        }
    }
    // Both compressions hold the same tar, with the duplicate's last version.
    assert_eq!(results[0].1.diff_id, results[3].1.diff_id);
}

#[test]
fn writing_the_same_layer_twice_keeps_one_blob() {
    let (_dir, l) = layout();
    let entries = vec![entry("/x", Content::Bytes(b"x".to_vec()), 0o644)];
    let a = write_layer(&l, &entries, &LayerOptions::default()).unwrap();
    let b = write_layer(&l, &entries, &LayerOptions::default()).unwrap();
    assert_eq!(a, b);
    let files: Vec<_> = fs::read_dir(l.path().join("blobs/sha256"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(a.media_type, media::OCI_LAYER_GZIP);
}

#[test]
fn refuses_bad_entries_and_options_naming_them() {
    let (dir, l) = layout();
    let cases = [
        (entry("../x", Content::Dir, 0o755), "`..`"),
        (entry("/a/../../x", Content::Dir, 0o755), "`..`"),
        (entry("/", Content::Bytes(vec![]), 0o644), "root"),
        (entry("/a\0b", Content::Dir, 0o755), "NUL"),
        (
            entry("/l", Content::Symlink(String::new()), 0o777),
            "target",
        ),
    ];
    for (e, why) in cases {
        let err = write_layer(&l, std::slice::from_ref(&e), &LayerOptions::default()).unwrap_err();
        assert!(matches!(err, LayerError::InvalidEntry { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains(&e.path) && text.contains(why), "{text}");
    }
    let err = write_layer(
        &l,
        &[
            entry("/f", Content::Bytes(vec![]), 0o644),
            entry("/f/g", Content::Bytes(vec![]), 0o644),
        ],
        &LayerOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("parent `f` is not a folder"),
        "{err}"
    );

    let missing = dir.path().join("missing.txt");
    let err = write_layer(
        &l,
        &[entry("/m", Content::File(missing.clone()), 0o644)],
        &LayerOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, LayerError::Source { .. }), "{err}");
    assert!(err.to_string().contains("missing.txt"), "{err}");
    let err = write_layer(
        &l,
        &[entry("/d", Content::File(dir.path().into()), 0o644)],
        &LayerOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, LayerError::Source { .. }), "{err}");

    for (c, level) in [(Compression::Gzip, 10), (Compression::Zstd, 99)] {
        let o = LayerOptions {
            compression: c,
            level: Some(level),
            threads: 2,
        };
        let err = write_layer(&l, &[], &o).unwrap_err();
        assert!(matches!(err, LayerError::InvalidOptions { .. }), "{err}");
    }
    // Nothing half-written is left behind.
    assert!(leftovers(&l).is_empty(), "{:?}", leftovers(&l));
    let blobs = fs::read_dir(l.path().join("blobs/sha256")).unwrap().count();
    assert_eq!(blobs, 0);
}

#[test]
fn a_file_that_changes_size_while_read_is_an_error() {
    // A /proc file says 0 bytes but has content: it "grew".
    let (_dir, l) = layout();
    let status = PathBuf::from("/proc/self/status");
    if status.exists() {
        let err = write_layer(
            &l,
            &[entry("/s", Content::File(status.clone()), 0o644)],
            &LayerOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, LayerError::SourceChanged { expected: 0, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("/proc/self/status"), "{err}");
        assert!(leftovers(&l).is_empty());
    }
    // Shrunk and grown readers, directly.
    let (tx, _rx) = sync_channel(64);
    let (_free_tx, free_rx) = channel();
    let dir = PathBuf::from("/nowhere");
    let mut out = TarStream::new(Chunks::new(tx, free_rx, 64), &dir);
    let short = copy_exact(&mut out, &mut io::Cursor::new(vec![1u8; 10]), 20);
    assert!(matches!(short, Err(CopyFault::Changed(10))), "{short:?}");
    let long = copy_exact(&mut out, &mut io::Cursor::new(vec![1u8; 30]), 20);
    assert!(matches!(long, Err(CopyFault::Changed(21))), "{long:?}");
    assert!(copy_exact(&mut out, &mut io::Cursor::new(vec![1u8; 20]), 20).is_ok());
}

#[test]
fn whiteouts_and_opaque_folders_hide_earlier_layers() {
    let (dir, l) = layout();
    let wh = |p: &str| entry(p, Content::Bytes(Vec::new()), 0o644);
    let file = |p: &str, s: &str| entry(p, Content::Bytes(s.as_bytes().to_vec()), 0o644);
    let one = write_layer(
        &l,
        &[
            file("/a/old", "1"),
            file("/a/sub/deep", "1"),
            file("/a/kept/lower", "1"),
            file("/b/gone", "1"),
            file("/b/stays", "1"),
            file("/c/inside", "1"),
            file("/d/x", "1"),
        ],
        &opts(Compression::Gzip),
    )
    .unwrap();
    let two = write_layer(
        &l,
        &[
            wh("/a/.wh..wh..opq"),
            file("/a/new", "2"),
            file("/a/kept/new", "2"),
            wh("/b/.wh.gone"),
            wh("/.wh.c"),
            wh("/.wh.never-existed"),
            // A whiteout does not hide its own layer's file.
            file("/d/y", "2"),
            wh("/d/.wh.y"),
        ],
        &opts(Compression::Zstd),
    )
    .unwrap();
    let dest = dir.path().join("root");
    extract_layers(&l, &[one.descriptor(), two.descriptor()], &dest).unwrap();
    let names = |p: &str| {
        let mut v: Vec<String> = fs::read_dir(dest.join(p))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("a"), ["kept", "new"]);
    assert_eq!(names("a/kept"), ["new"]);
    assert_eq!(names("b"), ["stays"]);
    assert!(!dest.join("c").exists());
    assert_eq!(names("d"), ["x", "y"]);
    assert_eq!(names(""), ["a", "b", "d"]);

    // The first layer alone still has everything.
    let only = dir.path().join("one");
    extract_layers(&l, &[one.descriptor()], &only).unwrap();
    assert!(only.join("a/old").is_file() && only.join("c/inside").is_file());
}

#[test]
fn an_opaque_marker_after_its_layers_own_entries_keeps_them() {
    let (dir, l) = layout();
    let one = write_layer(
        &l,
        &[
            entry("/a/old", Content::Bytes(b"1".to_vec()), 0o644),
            entry("/a/sub/x", Content::Bytes(b"1".to_vec()), 0o644),
        ],
        &LayerOptions::default(),
    )
    .unwrap();
    // Files of this layer come first; `a/sub` itself is not in the tar.
    let two = store_tar(
        &l,
        &raw_tar(&[
            ("a/new", EntryType::Regular, "", b"2"),
            ("a/sub/y", EntryType::Regular, "", b"2"),
            ("a/.wh..wh..opq", EntryType::Regular, "", b""),
        ]),
    );
    let dest = dir.path().join("root");
    extract_layers(&l, &[one.descriptor(), two], &dest).unwrap();
    let mut names: Vec<String> = Vec::new();
    for p in ["a", "a/sub"] {
        for e in fs::read_dir(dest.join(p)).unwrap() {
            names.push(format!("{p}/{}", e.unwrap().file_name().to_string_lossy()));
        }
    }
    names.sort();
    assert_eq!(names, ["a/new", "a/sub", "a/sub/y"]);
}

#[test]
fn sniff_archive_finds_tars_however_compressed() {
    let (dir, l) = layout();
    let one = [entry("/a", Content::Bytes(b"a".to_vec()), 0o644)];
    let gz = write_layer(&l, &one, &opts(Compression::Gzip)).unwrap();
    let zst = write_layer(&l, &one, &opts(Compression::Zstd)).unwrap();
    let plain = dir.path().join("plain.tar");
    fs::write(&plain, raw_tar(&[("a", EntryType::Regular, "", b"a")])).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        fs::write(&p, bytes).unwrap();
        p
    };
    let mut text_gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    text_gz.write_all(&[b'x'; 2000]).unwrap();
    let text_gz = write("text.gz", &text_gz.finish().unwrap());
    let sniff = |p: &Path| sniff_archive(p).unwrap();
    assert_eq!(sniff(&l.blob_path(&gz.digest)), Some(ArchiveKind::Tar));
    assert_eq!(sniff(&l.blob_path(&zst.digest)), Some(ArchiveKind::Tar));
    assert_eq!(sniff(&plain), Some(ArchiveKind::Tar));
    assert_eq!(sniff(&text_gz), None, "a gzip without a tar is a file");
    assert_eq!(sniff(&write("t.txt", &[b'x'; 600])), None);
    assert_eq!(sniff(&write("empty", b"")), None);
    assert_eq!(
        sniff(&write("a.bz2", b"BZh91AY&SY")),
        Some(ArchiveKind::Other("bzip2"))
    );
    assert_eq!(
        sniff(&write("a.xz", b"\xfd7zXZ\0rest")),
        Some(ArchiveKind::Other("xz"))
    );

    // Unpacking checks the digest the stage was planned with.
    let dest = dir.path().join("out");
    extract_archive(&l.blob_path(&gz.digest), &gz.digest, &dest).unwrap();
    assert_eq!(fs::read(dest.join("a")).unwrap(), b"a");
    let err =
        extract_archive(&l.blob_path(&zst.digest), &gz.digest, &dir.path().join("x")).unwrap_err();
    assert!(matches!(err, LayerError::DigestMismatch { .. }), "{err}");
}

#[test]
fn read_stacked_files_takes_the_top_layer_and_obeys_whiteouts() {
    let (_dir, l) = layout();
    let file = |p: &str, s: &str| entry(p, Content::Bytes(s.as_bytes().to_vec()), 0o644);
    let wh = |p: &str| entry(p, Content::Bytes(Vec::new()), 0o644);
    let layer = |entries: &[LayerEntry], c| write_layer(&l, entries, &opts(c)).unwrap();
    let base = layer(
        &[file("/etc/passwd", "v1"), file("/etc/group", "g1")],
        Compression::Gzip,
    )
    .descriptor();
    let newer = layer(&[file("/etc/passwd", "v2")], Compression::Zstd).descriptor();
    let other = layer(&[file("/srv/x", "x")], Compression::Gzip).descriptor();
    let deleted = layer(&[wh("/etc/.wh.passwd")], Compression::Gzip).descriptor();
    let opaque = layer(&[wh("/etc/.wh..wh..opq")], Compression::Gzip).descriptor();
    let etc_gone = layer(&[wh("/.wh.etc")], Compression::Gzip).descriptor();
    let read =
        |layers: &[Descriptor], p: &str| read_stacked_files(&l, layers, &[p]).unwrap().remove(0);
    let text = |s: Stacked| s.into_bytes().map(|b| String::from_utf8(b).unwrap());
    let stack = [base.clone(), newer.clone(), other.clone()];
    assert_eq!(text(read(&stack, "etc/passwd")).as_deref(), Some("v2"));
    assert_eq!(text(read(&stack, "/etc/group")).as_deref(), Some("g1"));
    assert_eq!(read(&stack, "etc/shadow"), Stacked::Unknown);
    assert_eq!(read(&[], "etc/passwd"), Stacked::Unknown);
    assert_eq!(
        read(&[base.clone(), deleted.clone()], "etc/passwd"),
        Stacked::Hidden
    );
    assert_eq!(
        text(read(&[base.clone(), deleted], "etc/group")).as_deref(),
        Some("g1")
    );
    assert_eq!(
        read(&[base.clone(), opaque.clone()], "etc/group"),
        Stacked::Hidden
    );
    assert_eq!(
        read(&[base.clone(), etc_gone], "etc/passwd"),
        Stacked::Hidden
    );
    // A layer above the whiteout adds it back.
    assert_eq!(
        text(read(&[base.clone(), opaque.clone(), newer], "etc/passwd")).as_deref(),
        Some("v2")
    );
    // Both files in one pass; an upper stack's answer goes over a lower one's.
    let both =
        read_stacked_files(&l, &[base.clone(), other], &["etc/passwd", "etc/group"]).unwrap();
    assert_eq!(
        both,
        [
            Stacked::Found(b"v1".to_vec()),
            Stacked::Found(b"g1".to_vec())
        ]
    );
    let upper = read_stacked_files(&l, &[opaque], &["etc/group"])
        .unwrap()
        .remove(0);
    assert_eq!(upper.clone().over(both[1].clone()), Stacked::Hidden);
    assert_eq!(Stacked::Unknown.over(both[1].clone()), both[1]);

    // A link or a folder at the path is refused, naming the path.
    let linked = store_tar(
        &l,
        &raw_tar(&[("etc/passwd", EntryType::Symlink, "/host/passwd", b"")]),
    );
    let err = read_stacked_files(&l, &[base, linked], &["etc/passwd"]).unwrap_err();
    assert!(matches!(err, LayerError::Corrupt { .. }), "{err}");
    let why = std::error::Error::source(&err).unwrap().to_string();
    assert!(why.contains("etc/passwd is not a regular file"), "{why}");
}

#[test]
fn extracts_archives_made_by_gnu_tar() {
    let (dir, l) = layout();
    let src = dir.path().join("src");
    let long = format!("{}/{}", "n".repeat(90), "m".repeat(90));
    fs::create_dir_all(src.join(&long).parent().unwrap()).unwrap();
    fs::write(src.join(&long), b"long").unwrap();
    fs::hard_link(src.join(&long), src.join("hard")).unwrap();
    std::os::unix::fs::symlink("hard", src.join("soft")).unwrap();
    for format in ["pax", "gnu"] {
        let tgz = dir.path().join(format!("{format}.tgz"));
        let made = std::process::Command::new("tar")
            .args(["-czf", tgz.to_str().unwrap(), "--format", format, "-C"])
            .arg(&src)
            .arg(".")
            .status()
            .expect("GNU tar is needed for this test");
        assert!(made.success(), "tar --format {format} failed");
        let bytes = fs::read(&tgz).unwrap();
        let d = l.write_blob(&bytes).unwrap();
        let desc = Descriptor::new(media::OCI_LAYER_GZIP, d, bytes.len() as u64);
        let dest = dir.path().join(format!("root-{format}"));
        extract_layers(&l, &[desc], &dest).unwrap();
        assert_eq!(fs::read(dest.join(&long)).unwrap(), b"long", "{format}");
        let (a, b) = (
            fs::metadata(dest.join(&long)).unwrap(),
            fs::metadata(dest.join("hard")).unwrap(),
        );
        assert_eq!(a.ino(), b.ino(), "{format}");
        assert_eq!(fs::read_link(dest.join("soft")).unwrap(), Path::new("hard"));
    }
}

#[test]
fn later_layers_replace_files_folders_and_symlinks() {
    let (dir, l) = layout();
    let one = write_layer(
        &l,
        &[
            entry("/p/file-then-dir", Content::Bytes(b"f".to_vec()), 0o644),
            entry("/p/dir-then-file/x", Content::Bytes(b"x".to_vec()), 0o644),
            entry("/p/link", Content::Symlink("/etc/passwd".into()), 0o777),
            entry("/p/ro", Content::Dir, 0o555),
            entry("/p/ro/f", Content::Bytes(b"1".to_vec()), 0o444),
        ],
        &LayerOptions::default(),
    )
    .unwrap();
    let two = write_layer(
        &l,
        &[
            entry("/p/file-then-dir/y", Content::Bytes(b"y".to_vec()), 0o644),
            entry("/p/dir-then-file", Content::Bytes(b"file".to_vec()), 0o644),
            entry("/p/link", Content::Bytes(b"not a link".to_vec()), 0o644),
            entry("/p/ro", Content::Dir, 0o555),
            entry("/p/ro/f", Content::Bytes(b"2".to_vec()), 0o444),
        ],
        &LayerOptions::default(),
    )
    .unwrap();
    let dest = dir.path().join("root");
    extract_layers(&l, &[one.descriptor(), two.descriptor()], &dest).unwrap();
    let p = dest.join("p");
    assert_eq!(fs::read(p.join("file-then-dir/y")).unwrap(), b"y");
    assert_eq!(fs::read(p.join("dir-then-file")).unwrap(), b"file");
    assert!(!fs::symlink_metadata(p.join("link")).unwrap().is_symlink());
    assert_eq!(fs::read(p.join("link")).unwrap(), b"not a link");
    assert_eq!(fs::read(p.join("ro/f")).unwrap(), b"2");
    assert_eq!(mode_of(&p.join("ro")), 0o555, "set once all layers are in");
    fs::set_permissions(p.join("ro"), fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn refuses_entries_escaping_the_destination() {
    let (dir, l) = layout();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (raw_tar(&[("../x", EntryType::Regular, "", b"bad")]), "`..`"),
        (
            raw_tar(&[("a/../../x", EntryType::Regular, "", b"bad")]),
            "`..`",
        ),
        (
            raw_tar(&[
                ("esc", EntryType::Symlink, "../outside", b""),
                ("esc/pwned", EntryType::Regular, "", b"bad"),
            ]),
            "leads out",
        ),
        (
            raw_tar(&[
                ("deep/", EntryType::Directory, "", b""),
                ("deep/esc", EntryType::Symlink, "../../outside", b""),
                ("deep/esc/pwned", EntryType::Regular, "", b"bad"),
            ]),
            "leads out",
        ),
        (
            raw_tar(&[
                ("abs", EntryType::Symlink, outside.to_str().unwrap(), b""),
                ("abs/pwned", EntryType::Regular, "", b"bad"),
            ]),
            "outside the destination",
        ),
        (
            raw_tar(&[
                ("loop", EntryType::Symlink, "loop", b""),
                ("loop/pwned", EntryType::Regular, "", b"bad"),
            ]),
            "symlinks",
        ),
        (
            raw_tar(&[("h", EntryType::Link, "../outside/t", b"")]),
            "hard-link target",
        ),
    ];
    for (i, (tar, why)) in cases.into_iter().enumerate() {
        let desc = store_tar(&l, &tar);
        let dest = dir.path().join(format!("root{i}"));
        let err = extract_layers(&l, &[desc], &dest).unwrap_err();
        assert!(matches!(err, LayerError::UnsafeEntry { .. }), "{i}: {err}");
        let text = err.to_string();
        assert!(text.contains(why), "{i}: {text}");
        assert!(
            text.contains(
                &l.blob_path(&store_tar(&l, &tar).digest)
                    .display()
                    .to_string()
            )
        );
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "{i}");
        assert!(!dir.path().join("x").exists());
    }
    // An absolute entry path lands inside; a symlink staying inside is followed.
    let tar = raw_tar(&[
        ("/abs-file", EntryType::Regular, "", b"in"),
        ("real/", EntryType::Directory, "", b""),
        ("alias", EntryType::Symlink, "./real", b""),
        ("alias/through", EntryType::Regular, "", b"ok"),
        ("a/b/../c", EntryType::Regular, "", b"c"),
    ]);
    let dest = dir.path().join("fine");
    extract_layers(&l, &[store_tar(&l, &tar)], &dest).unwrap();
    assert_eq!(fs::read(dest.join("abs-file")).unwrap(), b"in");
    assert_eq!(fs::read(dest.join("real/through")).unwrap(), b"ok");
    assert_eq!(fs::read(dest.join("a/c")).unwrap(), b"c");
}

/// `cap_net_bind_service=ep` as the kernel stores it (`vfs_cap_data`, revision 2).
const NET_BIND_SERVICE_EP: [u8; 20] = [
    0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// Source files that are hard links of one another stay one file in the layer (the first by
/// name holds the bytes, the others are links to it), and file capabilities travel as the
/// PAX record Docker writes. GNU tar restores both, and so does extraction.
#[test]
fn hard_links_and_file_capabilities_survive_a_layer() {
    let (dir, l) = layout();
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("tool"), b"#!/bin/sh\n").unwrap();
    fs::hard_link(src.join("tool"), src.join("alias")).unwrap();
    fs::write(src.join("ping"), b"ping").unwrap();
    crate::xattr::set_capability(&src.join("ping"), &NET_BIND_SERVICE_EP)
        .expect("setting a file capability needs root, which the tests run as");
    let entries: Vec<LayerEntry> = ["tool", "alias", "ping"]
        .iter()
        .map(|n| entry(&format!("bin/{n}"), Content::File(src.join(n)), 0o755))
        .collect();
    let built = write_layer(&l, &entries, &opts(Compression::Gzip)).unwrap();
    let members = list(&tar_of(&l, &built));
    let find = |n: &str| members.iter().find(|m| m.0 == n).unwrap().clone();
    // `bin/alias` sorts first, so it holds the bytes and `bin/tool` links to it.
    assert_eq!(
        (find("bin/alias").1, find("bin/alias").7),
        (b'0', b"#!/bin/sh\n".to_vec())
    );
    assert_eq!(
        (find("bin/tool").1, find("bin/tool").6),
        (b'1', "bin/alias".to_string())
    );

    // GNU tar, as the oracle: the link is a link, and the capability is restored.
    let by_tar = dir.path().join("by-tar");
    fs::create_dir_all(&by_tar).unwrap();
    let out = std::process::Command::new("tar")
        .args(["--xattrs", "--xattrs-include=security.capability", "-xzpf"])
        .arg(l.blob_path(&built.digest))
        .arg("-C")
        .arg(&by_tar)
        .output()
        .expect("GNU tar is needed for this cross-check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Our own extraction gives the same.
    let by_us = dir.path().join("by-us");
    extract_layers(&l, &[built.descriptor()], &by_us).unwrap();
    for root in [&by_tar, &by_us] {
        let (a, t) = (
            fs::metadata(root.join("bin/alias")).unwrap(),
            fs::metadata(root.join("bin/tool")).unwrap(),
        );
        assert_eq!((a.ino(), a.nlink()), (t.ino(), 2), "{}", root.display());
        assert_eq!(
            crate::xattr::capability(&root.join("bin/ping")).as_deref(),
            Some(&NET_BIND_SERVICE_EP[..]),
            "{}",
            root.display()
        );
        assert_eq!(crate::xattr::capability(&root.join("bin/tool")), None);
    }
}

#[test]
fn hard_links_are_made_and_special_files_skipped() {
    let (dir, l) = layout();
    let tar = raw_tar(&[
        ("bin/", EntryType::Directory, "", b""),
        ("bin/tool", EntryType::Regular, "", b"tool"),
        ("bin/alias", EntryType::Link, "bin/tool", b""),
        ("dev/null", EntryType::Char, "", b""),
        ("fifo", EntryType::Fifo, "", b""),
    ]);
    let dest = dir.path().join("root");
    extract_layers(&l, &[store_tar(&l, &tar)], &dest).unwrap();
    let a = fs::metadata(dest.join("bin/alias")).unwrap();
    let t = fs::metadata(dest.join("bin/tool")).unwrap();
    assert_eq!((a.ino(), a.nlink()), (t.ino(), 2));
    assert!(!dest.join("dev/null").exists() && !dest.join("fifo").exists());

    let tar = raw_tar(&[("h", EntryType::Link, "missing", b"")]);
    let err = extract_layers(&l, &[store_tar(&l, &tar)], &dir.path().join("r2")).unwrap_err();
    assert!(matches!(err, LayerError::Extract { .. }), "{err}");
    assert!(err.to_string().contains("`h`"), "{err}");
}

#[test]
fn damaged_missing_and_unknown_blobs_are_errors() {
    let (dir, l) = layout();
    let entries = source_tree(&dir.path().join("src"));
    for c in [Compression::Gzip, Compression::Zstd] {
        let built = write_layer(&l, &entries, &opts(c)).unwrap();
        let path = l.blob_path(&built.digest);
        let good = fs::read(&path).unwrap();
        for at in [good.len() / 2, good.len() - 3, 20] {
            let mut bad = good.clone();
            bad[at] ^= 0x55;
            fs::write(&path, &bad).unwrap();
            let err = extract_layers(&l, &[built.descriptor()], &dir.path().join("r")).unwrap_err();
            assert!(
                matches!(err, LayerError::DigestMismatch { .. }),
                "{c:?} {at}: {err}"
            );
            assert!(err.to_string().contains(built.digest.hex()), "{err}");
        }
        // Trailing garbage changes the digest too.
        let mut longer = good.clone();
        longer.extend_from_slice(b"junk");
        fs::write(&path, &longer).unwrap();
        let err = extract_layers(&l, &[built.descriptor()], &dir.path().join("r")).unwrap_err();
        assert!(matches!(err, LayerError::DigestMismatch { .. }), "{err}");
        fs::write(&path, &good).unwrap();
    }
    // Right digest, wrong content type.
    let not_gzip = l.write_blob(b"plain text").unwrap();
    let desc = Descriptor::new(media::DOCKER_LAYER_GZIP, not_gzip, 10);
    let err = extract_layers(&l, &[desc], &dir.path().join("r")).unwrap_err();
    assert!(matches!(err, LayerError::Corrupt { .. }), "{err}");

    let missing = Descriptor::new(media::OCI_LAYER_GZIP, Digest::sha256_of(b"no"), 2);
    let err = extract_layers(&l, &[missing], &dir.path().join("r")).unwrap_err();
    assert!(matches!(err, LayerError::Layout(_)), "{err}");

    let odd = Descriptor::new("application/x-rar", Digest::sha256_of(b"no"), 2);
    let err = extract_layers(&l, &[odd], &dir.path().join("r")).unwrap_err();
    assert!(
        matches!(err, LayerError::UnsupportedMediaType { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("application/x-rar"), "{err}");
}

#[test]
fn extracts_docker_gzip_and_plain_tar_layers() {
    let (dir, l) = layout();
    let entries = vec![entry("/f", Content::Bytes(b"gz".to_vec()), 0o644)];
    let built = write_layer(&l, &entries, &LayerOptions::default()).unwrap();
    let docker = Descriptor::new(
        format!("{}; foo=bar", media::DOCKER_LAYER_GZIP),
        built.digest.clone(),
        built.size,
    );
    let plain = store_tar(&l, &raw_tar(&[("g", EntryType::Regular, "", b"tar")]));
    let dest = dir.path().join("root");
    extract_layers(&l, &[docker, plain], &dest).unwrap();
    assert_eq!(fs::read(dest.join("f")).unwrap(), b"gz");
    assert_eq!(fs::read(dest.join("g")).unwrap(), b"tar");
}

/// Measures layer writing and extraction on a big system folder. Run with
/// `cargo test --release -p slipway-builder --lib layer::tests::throughput -- --ignored --nocapture`;
/// `SLIPWAY_BENCH_DIR` picks the folder.
#[test]
#[ignore = "benchmark"]
fn throughput() {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<LayerEntry>, bytes: &mut u64) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(m) = fs::symlink_metadata(&p) else {
                continue;
            };
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let content = if m.is_dir() {
                walk(root, &p, out, bytes);
                Content::Dir
            } else if m.is_symlink() {
                Content::Symlink(fs::read_link(&p).unwrap().to_string_lossy().into_owned())
            } else if m.is_file() && File::open(&p).is_ok() {
                *bytes += m.len();
                Content::File(p.clone())
            } else {
                continue;
            };
            out.push(LayerEntry {
                path: format!("/src/{rel}"),
                content,
                mode: m.mode() & 0o7777,
                uid: 0,
                gid: 0,
                mtime: 0,
            });
        }
    }
    let root = std::env::var_os("SLIPWAY_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/lib/x86_64-linux-gnu".into());
    let mut entries = Vec::new();
    let mut bytes = 0;
    walk(&root, &root, &mut entries, &mut bytes);
    // Warm the page cache.
    for e in &entries {
        if let Content::File(p) = &e.content {
            let _ = io::copy(&mut File::open(p).unwrap(), &mut io::sink());
        }
    }
    /// This process's user and system CPU seconds.
    fn cpu() -> f64 {
        let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or_default();
        let f: Vec<f64> = after
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0.0))
            .collect();
        f.get(11)
            .zip(f.get(12))
            .map_or(0.0, |(u, s)| (u + s) / 100.0)
    }
    let mb = bytes as f64 / 1e6;
    println!("{}: {} entries, {mb:.0} MB", root.display(), entries.len());
    let scratch = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let l = Layout::create(&scratch.path().join("layout")).unwrap();
    for (c, level) in [
        (Compression::Gzip, None),
        (Compression::Zstd, None),
        (Compression::Gzip, Some(6)),
    ] {
        let o = LayerOptions {
            compression: c,
            level,
            threads: 2,
        };
        let (t, c0) = (std::time::Instant::now(), cpu());
        let built = write_layer(&l, &entries, &o).unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "write {c:?} level {:?}: {secs:.2} s, {:.0} MB/s, ratio {:.3}, CPU {:.2} s",
            level.unwrap_or(c.default_level()),
            mb / secs,
            built.size as f64 / bytes as f64,
            cpu() - c0
        );
        let dest = scratch.path().join(format!("x-{c:?}-{level:?}"));
        let (t, c0) = (std::time::Instant::now(), cpu());
        extract_layers(&l, &[built.descriptor()], &dest).unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "extract {c:?}: {secs:.2} s, {:.0} MB/s, CPU {:.2} s",
            mb / secs,
            cpu() - c0
        );
        fs::remove_dir_all(&dest).unwrap();
    }
}
