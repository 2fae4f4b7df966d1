//! A plan is the list of file changes an install or remove would make. It is computed
//! first (and printed as a diff with `--dry-run`), then applied file by file, each write
//! atomic, each edited file backed up first.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Error, HostFs};

/// Names one change to one file.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// The node path.
    pub path: PathBuf,
    /// `create`, `update` or `remove`.
    pub action: &'static str,
    /// Which runtime or store it is for.
    pub for_: &'static str,
    /// File mode for writes.
    #[serde(skip)]
    pub mode: u32,
    /// The content before (`None`: the file does not exist).
    #[serde(skip)]
    pub before: Option<Vec<u8>>,
    /// The content after (`None`: the file is removed).
    #[serde(skip)]
    pub after: Option<Vec<u8>>,
}

impl Change {
    /// Plans writing `after` to `path`, or nothing when the file already holds exactly that.
    pub fn write(
        fs: &HostFs,
        path: &Path,
        after: Vec<u8>,
        mode: u32,
        for_: &'static str,
    ) -> Result<Option<Change>, Error> {
        let before = fs.read(path)?;
        if before.as_deref() == Some(after.as_slice()) {
            return Ok(None);
        }
        let action = if before.is_some() { "update" } else { "create" };
        Ok(Some(Change {
            path: path.into(),
            action,
            for_,
            mode,
            before,
            after: Some(after),
        }))
    }

    /// Returns a line diff of this change, as `--dry-run` prints it.
    pub fn diff(&self) -> String {
        let text = |b: &Option<Vec<u8>>| {
            b.as_ref()
                .map(|b| String::from_utf8_lossy(b).to_string())
                .unwrap_or_default()
        };
        let (old, new) = (text(&self.before), text(&self.after));
        let mut out = format!(
            "--- {}{}\n+++ {}{}\n",
            self.path.display(),
            if self.before.is_none() {
                " (absent)"
            } else {
                ""
            },
            self.path.display(),
            if self.after.is_none() {
                " (removed)"
            } else {
                ""
            }
        );
        out.push_str(&line_diff(&old, &new));
        out
    }
}

/// A minimal line diff (longest common subsequence); config files are small.
fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!(" {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_marks_added_and_removed_lines() {
        let d = line_diff("a\nb\nc\n", "a\nB\nc\nd\n");
        assert_eq!(d, " a\n+B\n-b\n c\n+d\n");
    }
}
