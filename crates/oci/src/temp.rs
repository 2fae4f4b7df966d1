//! Temporary files of blobs being written: each is locked (`flock`) by the process writing
//! it and listed here while it lives, so that an interrupted run can remove its own
//! ([`remove_live_temp_files`], from a signal handler), and a later run can tell a file
//! whose writer died (unlocked) from one another process is writing (locked).

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The temporary files this process is writing now.
static LIVE: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// A temporary file that leaves the live list when dropped.
#[derive(Debug)]
pub(crate) struct Live(PathBuf);

impl Live {
    /// Lists `path` as one of this process's temporary files.
    pub(crate) fn register(path: &Path) -> Live {
        LIVE.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.to_path_buf());
        Live(path.to_path_buf())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        LIVE.lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.0);
    }
}

/// Removes every temporary file this process is writing now, and returns how many it
/// removed. For a handler of SIGINT or SIGTERM, just before the process exits: the writers
/// never finish, so their files would otherwise stay.
pub fn remove_live_temp_files() -> usize {
    let live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
    live.iter().filter(|p| fs::remove_file(p).is_ok()).count()
}

/// How old a temporary file must be before a sweep may take it: a writer creates its file
/// and locks it at once, so only a file left unlocked for this long is an orphan.
const ORPHAN_AGE: Duration = Duration::from_secs(60);

/// Removes the temporary files (`prefix*`) in `dir` that no process holds: a writer that was
/// killed left them. A file another process is writing is locked, and kept. Returns how many
/// it removed; errors only mean a file stays.
pub(crate) fn sweep(dir: &Path, prefix: &str) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let old = e
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age >= ORPHAN_AGE);
        if !old {
            continue;
        }
        let path = e.path();
        let Ok(f) = File::open(&path) else {
            continue;
        };
        // Held while removing, so a writer cannot take the file over meanwhile.
        if f.try_lock().is_ok() && fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}
