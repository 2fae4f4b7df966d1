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
        /// The ignore file's path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A line holds a pattern Docker refuses: a malformed one, or a lone `!`.
    #[error("{}{}: {why}: {line_text:?}", .path.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| ".dockerignore".into()), slipway_fs::place(*.line as u64, 0))]
    Pattern {
        /// The ignore file's path, when it was read from one.
        path: Option<PathBuf>,
        /// The line, from 1.
        line: usize,
        /// The line as written.
        line_text: String,
        /// Docker's words for what is wrong.
        why: String,
    },
}

impl DockerIgnore {
    /// Reads `<context>/.dockerignore`; a missing file ignores nothing.
    ///
    /// # Errors
    /// [`IgnoreError::Read`] when the file exists but cannot be read (bytes that are not
    /// UTF-8 are replaced, not refused); [`IgnoreError::Pattern`] for a pattern Docker
    /// refuses.
    pub fn load(context: &Path) -> Result<DockerIgnore, IgnoreError> {
        DockerIgnore::read(&context.join(".dockerignore")).map(Option::unwrap_or_default)
    }

    /// Reads the ignore file BuildKit uses for `dockerfile` in `context`: the
    /// Dockerfile's own `<Dockerfile>.dockerignore` beside it (`Dockerfile.dockerignore`,
    /// `app.Dockerfile.dockerignore`) when there is one, else `<context>/.dockerignore`;
    /// neither ignores nothing.
    ///
    /// # Errors
    /// As [`DockerIgnore::load`], for the file chosen.
    pub fn for_dockerfile(context: &Path, dockerfile: &Path) -> Result<DockerIgnore, IgnoreError> {
        if let Some(name) = dockerfile.file_name() {
            let mut own = name.to_os_string();
            own.push(".dockerignore");
            if let Some(found) = DockerIgnore::read(&dockerfile.with_file_name(own))? {
                return Ok(found);
            }
        }
        DockerIgnore::load(context)
    }

    /// Reads one ignore file; `None` when it does not exist.
    fn read(path: &Path) -> Result<Option<DockerIgnore>, IgnoreError> {
        match fs::read(path) {
            Ok(bytes) => parse_from(&String::from_utf8_lossy(&bytes), Some(path)).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(IgnoreError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Parses `.dockerignore` text as Docker reads it (moby/patternmatcher's `ignorefile`
    /// and `New`): one pattern a line, `#` comments in the first column, `!` exceptions,
    /// each pattern cleaned and made relative.
    ///
    /// # Errors
    /// [`IgnoreError::Pattern`] (without a path) for a lone `!` or a malformed pattern.
    pub fn parse(text: &str) -> Result<DockerIgnore, IgnoreError> {
        parse_from(text, None)
    }

    /// Tells whether `rel` (slash-separated, relative to the context) is excluded: the last
    /// pattern that matches it or one of its parent folders decides. `rel` is taken as
    /// written, as patternmatcher's `MatchesOrParentMatches` takes it.
    #[must_use]
    pub fn is_excluded(&self, rel: &str) -> bool {
        if self.patterns.is_empty() {
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

/// Parses `.dockerignore` text read from `path` (when there is one, to name in errors).
fn parse_from(text: &str, path: Option<&Path>) -> Result<DockerIgnore, IgnoreError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut patterns = vec![];
    for (n, line) in text.lines().enumerate() {
        // As in Docker, only a `#` in the first column starts a comment.
        if line.starts_with('#') {
            continue;
        }
        let mut p = line.trim();
        if p.is_empty() {
            continue;
        }
        let refuse = |why: &str| IgnoreError::Pattern {
            path: path.map(Path::to_path_buf),
            line: n + 1,
            line_text: line.to_string(),
            why: why.to_string(),
        };
        let exclusion = p.starts_with('!');
        if exclusion {
            p = p[1..].trim();
            if p.is_empty() {
                return Err(refuse("illegal exclusion pattern: \"!\""));
            }
        }
        let mut cleaned = slipway_fs::path::clean(p);
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
        let pattern = Pattern::dockerignore(&cleaned).map_err(|e| refuse(&e.to_string()))?;
        patterns.push(Rule { pattern, exclusion });
    }
    let has_exceptions = patterns.iter().any(|p| p.exclusion);
    Ok(DockerIgnore {
        patterns,
        has_exceptions,
    })
}

/// Yields the proper parent folders of a relative path: `a`, `a/b` for `a/b/c`.
pub(crate) fn parents(rel: &str) -> impl Iterator<Item = &str> {
    rel.match_indices('/').map(move |(i, _)| &rel[..i])
}
