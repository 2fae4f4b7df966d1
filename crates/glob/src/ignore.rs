//! `.dockerignore`: Docker's reading of the file and its rule that the last matching
//! pattern decides.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::pattern::Pattern;

/// One line of a `.dockerignore`: a pattern, and whether it is a `!` exception.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) pattern: Pattern,
    pub(crate) exclusion: bool,
}

impl Rule {
    pub(crate) fn matches(&self, s: &str) -> bool {
        self.pattern.matches(s)
    }
}

/// The patterns of a `.dockerignore` file.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    pub(crate) patterns: Vec<Rule>,
    has_exceptions: bool,
}

/// Why a `.dockerignore` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    /// The file exists but could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The `.dockerignore` path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl DockerIgnore {
    /// Reads `<context>/.dockerignore`; a missing file ignores nothing.
    ///
    /// # Errors
    /// [`IgnoreError::Read`] when the file exists but cannot be read (bytes that are not
    /// UTF-8 are replaced, not refused).
    pub fn load(context: &Path) -> Result<DockerIgnore, IgnoreError> {
        let path = context.join(".dockerignore");
        match fs::read(&path) {
            Ok(bytes) => Ok(DockerIgnore::parse(&String::from_utf8_lossy(&bytes))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(DockerIgnore::default()),
            Err(source) => Err(IgnoreError::Read { path, source }),
        }
    }

    /// Parses `.dockerignore` text: one pattern a line, `#` comments, `!` exceptions.
    #[must_use]
    pub fn parse(text: &str) -> DockerIgnore {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = vec![];
        for line in text.lines() {
            // As in Docker, only a `#` in the first column starts a comment.
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let exclusion = p.starts_with('!');
            if exclusion {
                p = p[1..].trim();
                if p.is_empty() {
                    continue; // Docker refuses a bare `!`; it can match nothing.
                }
            }
            let mut cleaned = slipway_fs::path::clean(p);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            patterns.push(Rule {
                pattern: Pattern::dockerignore(&cleaned),
                exclusion,
            });
        }
        let has_exceptions = patterns.iter().any(|p| p.exclusion);
        DockerIgnore {
            patterns,
            has_exceptions,
        }
    }

    /// Tells whether `rel` (slash-separated, relative to the context) is excluded: the last
    /// pattern that matches it or one of its parent folders decides.
    #[must_use]
    pub fn is_excluded(&self, rel: &str) -> bool {
        let rel = rel.trim_matches('/');
        if rel.is_empty() || self.patterns.is_empty() {
            return false;
        }
        for p in self.patterns.iter().rev() {
            if p.matches(rel) || parents(rel).any(|parent| p.matches(parent)) {
                return !p.exclusion;
            }
        }
        false
    }

    /// Returns, for each pattern, whether it matches `rel` or one of its parents.
    pub(crate) fn state_for(&self, rel: &str) -> Vec<bool> {
        if rel.is_empty() {
            return vec![false; self.patterns.len()];
        }
        self.patterns
            .iter()
            .map(|p| p.matches(rel) || parents(rel).any(|parent| p.matches(parent)))
            .collect()
    }

    /// Decides exclusion from per-pattern match state: the last matching pattern wins.
    pub(crate) fn excluded_by(&self, state: &[bool]) -> bool {
        match state.iter().rposition(|m| *m) {
            Some(i) => !self.patterns[i].exclusion,
            None => false,
        }
    }

    /// Tells whether `rel`, a path whose parent has match state `parent`, is excluded.
    pub(crate) fn excluded_below(&self, parent: &[bool], rel: &str) -> bool {
        for (p, m) in self.patterns.iter().zip(parent).rev() {
            if *m || p.matches(rel) {
                return !p.exclusion;
            }
        }
        false
    }

    /// Tells whether an exception pattern could re-include something inside the excluded
    /// folder `rel`, so that the folder must still be walked.
    pub(crate) fn may_reinclude_below(&self, rel: &str) -> bool {
        if !self.has_exceptions {
            return false;
        }
        let mut with_slash = String::with_capacity(rel.len() + 1);
        with_slash.push_str(rel);
        with_slash.push('/');
        self.patterns
            .iter()
            .any(|p| p.exclusion && p.pattern.matches_prefix(&with_slash))
    }
}

/// Yields the proper parent folders of a relative path: `a`, `a/b` for `a/b/c`.
pub(crate) fn parents(rel: &str) -> impl Iterator<Item = &str> {
    rel.match_indices('/').map(move |(i, _)| &rel[..i])
}
