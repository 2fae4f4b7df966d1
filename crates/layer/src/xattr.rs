//! The one extended attribute image layers carry: `security.capability` (file
//! capabilities, as `setcap` writes them). Docker and containerd write only this one into
//! layer tars, as a PAX `SCHILY.xattr.security.capability` record, and set it when they
//! unpack; slipway does the same.

use std::io;
use std::path::Path;

/// The attribute's name.
pub const CAPABILITY: &str = "security.capability";

/// The PAX record key that carries it in a tar.
pub(crate) const CAPABILITY_PAX: &str = "SCHILY.xattr.security.capability";

/// Reads the file capabilities of `path` (not following a symlink); `None` when it has
/// none, or the filesystem keeps no extended attributes.
pub fn capability(path: &Path) -> Option<Vec<u8>> {
    let len = rustix::fs::lgetxattr_query(path, CAPABILITY).ok()?;
    let mut buf = vec![0u8; len];
    let n = rustix::fs::lgetxattr(path, CAPABILITY, &mut buf[..]).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Sets the file capabilities of `path` (not following a symlink). Needs
/// `CAP_SETFCAP`, as root has.
///
/// # Errors
/// The system's error, e.g. `EPERM` without the privilege.
pub fn set_capability(path: &Path, value: &[u8]) -> io::Result<()> {
    rustix::fs::lsetxattr(path, CAPABILITY, value, rustix::fs::XattrFlags::empty())
        .map_err(io::Error::from)
}
