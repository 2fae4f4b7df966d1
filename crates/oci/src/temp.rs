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

/// Removes every temporary file (or folder) this process is writing now, and returns how
/// many it removed. For a handler of SIGINT or SIGTERM, just before the process exits: the
/// writers never finish, so their files would otherwise stay.
pub fn remove_live_temp_files() -> usize {
    let live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
    live.iter().filter(|p| remove(p)).count()
}

fn remove(p: &Path) -> bool {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p).is_ok(),
        Ok(_) => fs::remove_file(p).is_ok(),
        Err(_) => false,
    }
}

/// Holds a temporary file or folder of this process: locked (`flock`), so a sweep in
/// another process keeps it, and listed for [`remove_live_temp_files`], until dropped.
#[derive(Debug)]
pub struct TempGuard {
    path: PathBuf,
    _lock: Option<File>,
}

impl TempGuard {
    /// Makes a temporary file or folder with `make` and guards it (`path` says where it
    /// is). The list of live files stays locked while it is made, so an interrupt that
    /// comes in between waits for it to be listed, and removes it. Where the filesystem
    /// has no locks, a sweep's age rule alone protects it.
    pub fn create<T, E>(
        make: impl FnOnce() -> Result<T, E>,
        path: impl FnOnce(&T) -> &Path,
    ) -> Result<(T, TempGuard), E> {
        let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        let made = make()?;
        let path = path(&made).to_path_buf();
        live.insert(path.clone());
        drop(live);
        let lock = File::open(&path).ok().filter(|f| f.lock().is_ok());
        Ok((made, TempGuard { path, _lock: lock }))
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        LIVE.lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.path);
    }
}

/// How old a temporary file must be before a sweep may take it: a writer creates its file
/// and locks it at once, so only a file left unlocked for this long is an orphan.
const ORPHAN_AGE: Duration = Duration::from_secs(60);

/// Removes the temporary files and folders (`prefix*`) in `dir` that no process holds: a
/// run that was killed left them. One another process is using is locked, and kept.
/// Returns how many it removed; errors only mean one stays.
pub fn sweep_temp(dir: &Path, prefix: &str) -> usize {
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
        if f.try_lock().is_ok() && remove(&path) {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_takes_old_unheld_files_and_folders_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - Duration::from_secs(120);
        let make_dir = |name: &str| {
            let p = dir.path().join(name);
            fs::create_dir_all(p.join("inside")).unwrap();
            File::open(&p).unwrap().set_modified(old).unwrap();
            p
        };
        let orphan_dir = make_dir(".x-orphan");
        let held_dir = make_dir(".x-held");
        let (held_dir, guard) =
            TempGuard::create(|| Ok::<_, ()>(held_dir), PathBuf::as_path).unwrap();
        let orphan_file = dir.path().join(".x-file");
        File::create(&orphan_file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let fresh = dir.path().join(".x-fresh");
        File::create(&fresh).unwrap();
        let other = dir.path().join("keep-me");
        File::create(&other).unwrap().set_modified(old).unwrap();

        assert_eq!(sweep_temp(dir.path(), ".x-"), 2);
        assert!(!orphan_dir.exists() && !orphan_file.exists());
        assert!(held_dir.exists(), "a folder another run holds was removed");
        assert!(fresh.exists() && other.exists());
        // Once released, it is an orphan like any other.
        drop(guard);
        assert_eq!(sweep_temp(dir.path(), ".x-held"), 1);
    }
}
