//! What identifies one version of a file without reading it.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A file's inode, size, modification time and change time (nanoseconds). Tools that
/// restore a modification time cannot restore the change time, so a file rewritten in
/// place gets a new stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The inode number.
    pub ino: u64,
    /// The size in bytes.
    pub size: u64,
    /// The modification time, in nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// The change time, in nanoseconds since the epoch.
    pub ctime_ns: i128,
}

impl Stamp {
    /// Reads the stamp of a file from its metadata.
    pub fn of(meta: &Metadata) -> Stamp {
        Stamp {
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }

    /// Tells whether the file changed within the last `settle_ns` nanoseconds, so that a
    /// later write could share its times.
    pub fn is_recent(&self, settle_ns: i128) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        now - self.mtime_ns.max(self.ctime_ns) < settle_ns
    }
}
