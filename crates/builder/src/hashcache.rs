//! Remembers the SHA-256 of context files between builds, so a rebuild reads only the files
//! that changed.
//!
//! An entry is trusted only while the file's inode, size, modification time and change
//! time (both in nanoseconds) are what they were when it was hashed. The change time cannot
//! be set by tools that restore modification times, so a file rewritten in place with its
//! old mtime is hashed again. Files changed in the last two seconds are not remembered, so
//! a write landing in the same clock tick as the hash is never missed.
//!
//! The cache lives in the store, one file per build context
//! (`cache/file-digests/<hash of the context's path>`), one line per context file, so a
//! build reads only its own contexts' entries however many projects share the store. A
//! build rewrites a context's file (by a rename) when it added to it or did not look up
//! some of its entries: those files are gone, ignored or no longer copied, and are dropped.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use slipway_fs::Stamp;
use slipway_oci::Digest;

/// How many entries one context's file keeps at most.
const MAX_ENTRIES: usize = 500_000;
/// How long a file must have been left alone before its digest is remembered.
const SETTLE_NS: i128 = 2_000_000_000;

impl Default for HashCache {
    /// An empty cache that is never saved.
    fn default() -> Self {
        HashCache {
            store: None,
            roots: vec![],
            settle_ns: SETTLE_NS,
            known: HashMap::new(),
            added: Mutex::new(vec![]),
        }
    }
}

/// One remembered digest, and whether this build used it.
#[derive(Debug)]
struct Known {
    stamp: Stamp,
    digest: Digest,
    used: AtomicBool,
    /// Computed by this build, not read from the file.
    fresh: bool,
}

impl Known {
    /// A record read from the file (`fresh` false), or computed by this build, which
    /// counts as used.
    fn new(stamp: Stamp, digest: Digest, fresh: bool) -> Known {
        Known {
            stamp,
            digest,
            used: AtomicBool::new(fresh),
            fresh,
        }
    }
}

/// The remembered digests, shared by the threads that hash.
#[derive(Debug)]
pub struct HashCache {
    /// The store's cache folder; `None` for a cache that is never saved.
    store: Option<PathBuf>,
    /// The contexts loaded, each with its file.
    roots: Vec<(PathBuf, PathBuf)>,
    settle_ns: i128,
    /// Keyed by the path's bytes, which hash faster than a `Path`'s components.
    known: HashMap<OsString, Known>,
    added: Mutex<Vec<(PathBuf, Stamp, Digest)>>,
}

/// The file of one context's entries in a store's cache folder.
fn context_file(cache: &Path, root: &Path) -> PathBuf {
    let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let key = Digest::sha256_of(root.as_os_str().as_encoded_bytes());
    cache.join("file-digests").join(&key.hex()[..32])
}

impl HashCache {
    /// Loads the entries of these build contexts from a store; a missing or unreadable
    /// file is an empty cache (it only saves work, so damage costs a rehash, never a wrong
    /// digest: every entry is checked against the file's current stamp).
    pub fn load(store: &Path, contexts: &[PathBuf]) -> HashCache {
        let cache = store.join("cache");
        let mut known = HashMap::new();
        let mut roots: Vec<(PathBuf, PathBuf)> = vec![];
        for root in contexts {
            if roots.iter().any(|(r, _)| r == root) {
                continue;
            }
            let file = context_file(&cache, root);
            if let Ok(text) = fs::read_to_string(&file) {
                for line in text.lines() {
                    if let Some((path, (stamp, digest))) = parse_line(line) {
                        known.insert(path.into_os_string(), Known::new(stamp, digest, false));
                    }
                }
            }
            roots.push((root.clone(), file));
        }
        HashCache {
            store: Some(cache),
            roots,
            settle_ns: SETTLE_NS,
            known,
            added: Mutex::new(vec![]),
        }
    }

    /// Returns the remembered digest of a file, if its stamp still matches.
    pub fn get(&self, path: &Path, stamp: &Stamp) -> Option<Digest> {
        match self.known.get(path.as_os_str()) {
            Some(k) if k.stamp == *stamp => {
                k.used.store(true, Ordering::Relaxed);
                Some(k.digest.clone())
            }
            _ => None,
        }
    }

    /// Remembers a digest just computed.
    pub fn put(&self, path: &Path, stamp: Stamp, digest: Digest) {
        if stamp.is_recent(self.settle_ns) {
            return;
        }
        self.added
            .lock()
            .expect("hash cache lock")
            .push((path.to_path_buf(), stamp, digest));
    }

    /// Writes back each context's file that this build changed: the entries it used or
    /// added under that context. Failures are ignored: the cache only saves work.
    pub fn save(self) {
        let Some(cache) = self.store else { return };
        let added = self.added.into_inner().unwrap_or_default();
        let mut known = self.known;
        for (p, stamp, digest) in added {
            known.insert(p.into_os_string(), Known::new(stamp, digest, true));
        }
        for (root, file) in &self.roots {
            let root = root.as_os_str();
            let (mut under, mut fresh) = (0, false);
            let mut kept: Vec<(&OsStr, &Known)> = vec![];
            for (p, k) in &known {
                if is_under(root, p) {
                    under += 1;
                    fresh |= k.fresh;
                    if k.used.load(Ordering::Relaxed) {
                        kept.push((p, k));
                    }
                }
            }
            // Nothing new, and every record used or none (no stage copied from this
            // context): the file stays as it is.
            if !fresh && (kept.len() == under || kept.is_empty()) {
                continue;
            }
            let mut out = String::new();
            for (p, k) in kept.into_iter().take(MAX_ENTRIES) {
                let Some(text) = p.to_str().filter(|t| !t.contains('\n')) else {
                    continue;
                };
                let s = &k.stamp;
                out.push_str(&format!(
                    "{} {} {} {} {} {text}\n",
                    s.ino,
                    s.size,
                    s.mtime_ns,
                    s.ctime_ns,
                    k.digest.hex()
                ));
            }
            let Some(dir) = file.parent() else { continue };
            if fs::create_dir_all(dir).is_ok() {
                let _ = slipway_oci::write_file_atomic(file, out.as_bytes());
            }
        }
        // The single file of earlier versions.
        let _ = fs::remove_file(cache.join("file-hashes"));
    }
}

/// Tells whether `path` lies in the folder `root`, comparing bytes.
fn is_under(root: &OsStr, path: &OsStr) -> bool {
    let (r, p) = (root.as_bytes(), path.as_bytes());
    let r = r.strip_suffix(b"/").unwrap_or(r);
    p.strip_prefix(r)
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'/' || r.is_empty())
}

fn parse_line(line: &str) -> Option<(PathBuf, (Stamp, Digest))> {
    let mut parts = line.splitn(6, ' ');
    let ino = parts.next()?.parse().ok()?;
    let size = parts.next()?.parse().ok()?;
    let mtime_ns = parts.next()?.parse().ok()?;
    let ctime_ns = parts.next()?.parse().ok()?;
    let digest = Digest::parse(&format!("sha256:{}", parts.next()?)).ok()?;
    let path = PathBuf::from(parts.next()?);
    Some((
        path,
        (
            Stamp {
                ino,
                size,
                mtime_ns,
                ctime_ns,
            },
            digest,
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn old_file(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        let f = fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
            .unwrap();
        p
    }

    #[test]
    fn entries_survive_a_save_and_die_with_any_change_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let f = old_file(dir.path(), "a.txt", "one");
        let stamp = Stamp::of(&fs::metadata(&f).unwrap());
        let d = Digest::sha256_of(b"one");
        let ctx = [dir.path().to_path_buf()];
        let mut cache = HashCache::load(&store, &ctx);
        cache.settle_ns = 0; // the test cannot age a file's change time
        assert_eq!(cache.get(&f, &stamp), None);
        cache.put(&f, stamp, d.clone());
        cache.save();

        let cache = HashCache::load(&store, &ctx);
        assert_eq!(
            cache.get(&f, &Stamp::of(&fs::metadata(&f).unwrap())),
            Some(d)
        );
        // Rewritten with the same size and the old mtime: the change time still differs.
        let mtime = fs::metadata(&f).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&f, "two").unwrap();
        fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(cache.get(&f, &Stamp::of(&fs::metadata(&f).unwrap())), None);
    }

    #[test]
    fn recently_changed_files_and_damaged_lines_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let f = dir.path().join("fresh.txt");
        fs::write(&f, "x").unwrap();
        let stamp = Stamp::of(&fs::metadata(&f).unwrap());
        let ctx = [dir.path().to_path_buf()];
        let cache = HashCache::load(&store, &ctx);
        cache.put(&f, stamp, Digest::sha256_of(b"x"));
        cache.save();
        assert_eq!(HashCache::load(&store, &ctx).get(&f, &stamp), None);

        let file = context_file(&store.join("cache"), dir.path());
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(&file, "garbage\n1 2 3 4 nothex /x\n").unwrap();
        assert!(HashCache::load(&store, &ctx).known.is_empty());
    }

    #[test]
    fn is_under_compares_whole_path_components() {
        let u = |r: &str, p: &str| is_under(OsStr::new(r), OsStr::new(p));
        assert!(u("/a/b", "/a/b/x") && u("/a/b/", "/a/b/x") && u("/a/b", "/a/b"));
        assert!(!u("/a/b", "/a/bc/x") && !u("/a/b", "/a") && !u("/a/b", "/x/a/b"));
        assert!(u("/", "/etc/x") && u(".", "./x"));
    }

    #[test]
    fn each_context_keeps_its_own_file_and_drops_what_a_build_did_not_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        let files = [
            old_file(&a, "1", "a1"),
            old_file(&a, "2", "a2"),
            old_file(&b, "1", "b1"),
        ];
        let stamp = |f: &Path| Stamp::of(&fs::metadata(f).unwrap());
        let both = [a.clone(), b.clone()];
        let mut cache = HashCache::load(&store, &both);
        cache.settle_ns = 0;
        for f in &files {
            cache.put(
                f,
                stamp(f),
                Digest::sha256_of(f.as_os_str().as_encoded_bytes()),
            );
        }
        cache.save();
        let lines = |root: &Path| {
            fs::read_to_string(context_file(&store.join("cache"), root))
                .unwrap()
                .lines()
                .count()
        };
        assert_eq!((lines(&a), lines(&b)), (2, 1));

        // A build of context a alone that looks up only a/1: a/2 is dropped, b is untouched.
        let cache = HashCache::load(&store, std::slice::from_ref(&a));
        assert_eq!(cache.known.len(), 2, "only a's file is read");
        assert!(cache.get(&files[0], &stamp(&files[0])).is_some());
        cache.save();
        assert_eq!((lines(&a), lines(&b)), (1, 1));
        let cache = HashCache::load(&store, &both);
        assert!(cache.get(&files[0], &stamp(&files[0])).is_some());
        assert!(cache.get(&files[1], &stamp(&files[1])).is_none());
        assert!(cache.get(&files[2], &stamp(&files[2])).is_some());

        // A build that uses every entry it has rewrites nothing.
        let before = fs::metadata(context_file(&store.join("cache"), &a))
            .unwrap()
            .modified()
            .unwrap();
        let cache = HashCache::load(&store, std::slice::from_ref(&a));
        assert!(cache.get(&files[0], &stamp(&files[0])).is_some());
        std::thread::sleep(std::time::Duration::from_millis(20));
        cache.save();
        let after = fs::metadata(context_file(&store.join("cache"), &a))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after);
    }
}
