//! Remembers the SHA-256 of context files between builds, so a rebuild reads only the files
//! that changed.
//!
//! An entry is trusted only while the file's inode, size, modification time and change
//! time (both in nanoseconds) are what they were when it was hashed. The change time cannot
//! be set by tools that restore modification times, so a file rewritten in place with its
//! old mtime is hashed again. Files changed in the last two seconds are not remembered, so
//! a write landing in the same clock tick as the hash is never missed.
//!
//! The cache lives in the store (`cache/file-hashes`), one line per file, and is replaced
//! by a rename when a build added to it.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use slipway_oci::Digest;

/// How many entries the file keeps at most.
const MAX_ENTRIES: usize = 500_000;
/// How long a file must have been left alone before its digest is remembered.
const SETTLE_NS: i128 = 2_000_000_000;

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stamp {
    /// Reads the stamp of a file.
    pub fn of(meta: &fs::Metadata) -> Stamp {
        Stamp {
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }

    /// Tells whether the file changed within `settle_ns`, so that a later write could
    /// share its times.
    fn is_recent(&self, settle_ns: i128) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        now - self.mtime_ns.max(self.ctime_ns) < settle_ns
    }
}

impl Default for HashCache {
    /// An empty cache that is never saved.
    fn default() -> Self {
        HashCache {
            file: None,
            settle_ns: SETTLE_NS,
            known: HashMap::new(),
            added: Mutex::new(vec![]),
        }
    }
}

/// The remembered digests, shared by the threads that hash.
#[derive(Debug)]
pub struct HashCache {
    file: Option<PathBuf>,
    settle_ns: i128,
    known: HashMap<PathBuf, (Stamp, Digest)>,
    added: Mutex<Vec<(PathBuf, Stamp, Digest)>>,
}

impl HashCache {
    /// Loads the cache of a store; a missing or unreadable file is an empty cache (it only
    /// saves work, so damage costs a rehash, never a wrong digest: every entry is checked
    /// against the file's current stamp).
    pub fn load(store: &Path) -> HashCache {
        let file = store.join("cache").join("file-hashes");
        let mut known = HashMap::new();
        if let Ok(text) = fs::read_to_string(&file) {
            for line in text.lines() {
                if let Some((path, entry)) = parse_line(line) {
                    known.insert(path, entry);
                }
            }
        }
        HashCache {
            file: Some(file),
            settle_ns: SETTLE_NS,
            known,
            added: Mutex::new(vec![]),
        }
    }

    /// Returns the remembered digest of a file, if its stamp still matches.
    pub fn get(&self, path: &Path, stamp: &Stamp) -> Option<Digest> {
        match self.known.get(path) {
            Some((s, d)) if s == stamp => Some(d.clone()),
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

    /// Writes the cache back when this build added to it. Failures are ignored: the cache
    /// only saves work.
    pub fn save(self) {
        let Some(file) = self.file else { return };
        let added = self.added.into_inner().unwrap_or_default();
        if added.is_empty() {
            return;
        }
        let mut known = self.known;
        for (p, s, d) in added {
            known.insert(p, (s, d));
        }
        let mut out = String::new();
        for (p, (s, d)) in known.iter().take(MAX_ENTRIES) {
            let Some(text) = p.to_str().filter(|t| !t.contains('\n')) else {
                continue;
            };
            out.push_str(&format!(
                "{} {} {} {} {} {text}\n",
                s.ino,
                s.size,
                s.mtime_ns,
                s.ctime_ns,
                d.hex()
            ));
        }
        let Some(dir) = file.parent() else { return };
        if fs::create_dir_all(dir).is_err() {
            return;
        }
        let _ = slipway_oci::write_file_atomic(&file, out.as_bytes());
    }
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
        f.set_modified(SystemTime::now() - std::time::Duration::from_secs(60))
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
        let mut cache = HashCache::load(&store);
        cache.settle_ns = 0; // the test cannot age a file's change time
        assert_eq!(cache.get(&f, &stamp), None);
        cache.put(&f, stamp, d.clone());
        cache.save();

        let cache = HashCache::load(&store);
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
        let cache = HashCache::load(&store);
        cache.put(&f, stamp, Digest::sha256_of(b"x"));
        cache.save();
        assert_eq!(HashCache::load(&store).get(&f, &stamp), None);

        fs::create_dir_all(store.join("cache")).unwrap();
        fs::write(
            store.join("cache/file-hashes"),
            "garbage\n1 2 3 4 nothex /x\n",
        )
        .unwrap();
        assert!(HashCache::load(&store).known.is_empty());
    }
}
