//! `.dockerignore` matching and COPY source planning, with Docker's rules.
//!
//! [`DockerIgnore`] reads the patterns the way Docker does (comments, cleaning, `!`
//! exceptions, the last matching pattern wins, a path is excluded when it or a parent
//! matches). [`plan_copy`] turns the sources and destination of a COPY into the sorted
//! list of files, directories and symlinks to put in the layer, without reading file
//! contents.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::hashcache::Stamp;

/// The patterns of a `.dockerignore` file.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
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
            let mut cleaned = clean(p);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            patterns.push(Pattern {
                tokens: compile(&cleaned, true),
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
    fn state_for(&self, rel: &str) -> Vec<bool> {
        if rel.is_empty() {
            return vec![false; self.patterns.len()];
        }
        self.patterns
            .iter()
            .map(|p| p.matches(rel) || parents(rel).any(|parent| p.matches(parent)))
            .collect()
    }

    /// Decides exclusion from per-pattern match state: the last matching pattern wins.
    fn excluded_by(&self, state: &[bool]) -> bool {
        match state.iter().rposition(|m| *m) {
            Some(i) => !self.patterns[i].exclusion,
            None => false,
        }
    }

    /// Tells whether `rel`, a path whose parent has match state `parent`, is excluded.
    fn excluded_below(&self, parent: &[bool], rel: &str) -> bool {
        for (p, m) in self.patterns.iter().zip(parent).rev() {
            if *m || p.matches(rel) {
                return !p.exclusion;
            }
        }
        false
    }

    /// Tells whether an exception pattern could re-include something inside the excluded
    /// folder `rel`, so that the folder must still be walked.
    fn may_reinclude_below(&self, rel: &str) -> bool {
        if !self.has_exceptions {
            return false;
        }
        let mut with_slash = String::with_capacity(rel.len() + 1);
        with_slash.push_str(rel);
        with_slash.push('/');
        self.patterns
            .iter()
            .any(|p| p.exclusion && matches_prefix(&p.tokens, &with_slash))
    }
}

/// Yields the proper parent folders of a relative path: `a`, `a/b` for `a/b/c`.
fn parents(rel: &str) -> impl Iterator<Item = &str> {
    rel.match_indices('/').map(move |(i, _)| &rel[..i])
}

/// Cleans a path lexically like Go's `filepath.Clean` (on Unix).
fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = vec![];
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

// ---------------------------------------------------------------------------------------
// Patterns: Go's filepath.Match syntax plus `**`, compiled to a small token list.

#[derive(Debug, Clone)]
struct Pattern {
    tokens: Vec<Tok>,
    exclusion: bool,
}

impl Pattern {
    fn matches(&self, s: &str) -> bool {
        match_tokens(&self.tokens, s)
    }
}

#[derive(Debug, Clone)]
enum Tok {
    /// Literal text.
    Lit(String),
    /// `*`: any run of characters other than `/`.
    Star,
    /// `?`: one character other than `/`.
    One,
    /// `[...]`: one character (never `/`) in, or with `negated` not in, the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `**/` (or `**` before more pattern): nothing, or anything ending in `/`.
    Dirs,
    /// `**` at the end: anything at all.
    All,
}

/// Compiles a pattern; with `globstar`, `**` spans folders as in `.dockerignore`,
/// otherwise it is just two `*` (as in COPY sources, which Go's filepath.Match reads).
fn compile(p: &str, globstar: bool) -> Vec<Tok> {
    let mut toks: Vec<Tok> = vec![];
    let mut lit = String::new();
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    let flush = |lit: &mut String, toks: &mut Vec<Tok>| {
        if !lit.is_empty() {
            toks.push(Tok::Lit(std::mem::take(lit)));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if globstar && chars.get(i) == Some(&'*') => {
                flush(&mut lit, &mut toks);
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                toks.push(if i == chars.len() {
                    Tok::All
                } else {
                    Tok::Dirs
                });
            }
            '*' => {
                flush(&mut lit, &mut toks);
                if !matches!(toks.last(), Some(Tok::Star)) {
                    toks.push(Tok::Star);
                }
            }
            '?' => {
                flush(&mut lit, &mut toks);
                toks.push(Tok::One);
            }
            '\\' => match chars.get(i) {
                Some(&n) => {
                    lit.push(n);
                    i += 1;
                }
                None => lit.push('\\'),
            },
            '[' => match parse_class(&chars[i..]) {
                Some((tok, used)) => {
                    flush(&mut lit, &mut toks);
                    toks.push(tok);
                    i += used;
                }
                // A malformed class stands for itself.
                None => lit.push('['),
            },
            c => lit.push(c),
        }
    }
    flush(&mut lit, &mut toks);
    toks
}

/// Parses a character class after its `[`; returns the token and the characters used
/// (including the closing `]`).
fn parse_class(chars: &[char]) -> Option<(Tok, usize)> {
    let mut i = 0;
    let negated = matches!(chars.first(), Some('^' | '!'));
    if negated {
        i += 1;
    }
    let mut ranges = vec![];
    let read = |i: &mut usize| -> Option<char> {
        let c = *chars.get(*i)?;
        *i += 1;
        if c == '\\' {
            let n = *chars.get(*i)?;
            *i += 1;
            return Some(n);
        }
        Some(c)
    };
    loop {
        match chars.get(i) {
            None => return None,
            Some(']') if !ranges.is_empty() => {
                return Some((Tok::Class { negated, ranges }, i + 1));
            }
            Some(']' | '-') => return None,
            Some(_) => {}
        }
        let lo = read(&mut i)?;
        let hi = if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            i += 1;
            read(&mut i)?
        } else {
            lo
        };
        if lo > hi {
            return None;
        }
        ranges.push((lo, hi));
    }
}

fn class_has(negated: bool, ranges: &[(char, char)], c: char) -> bool {
    c != '/' && (ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != negated)
}

/// Matches the whole of `s` against the tokens.
fn match_tokens(toks: &[Tok], s: &str) -> bool {
    let Some((first, rest)) = toks.split_first() else {
        return s.is_empty();
    };
    match first {
        Tok::Lit(l) => s
            .strip_prefix(l.as_str())
            .is_some_and(|r| match_tokens(rest, r)),
        Tok::One => one_char(s).is_some_and(|(c, r)| c != '/' && match_tokens(rest, r)),
        Tok::Class { negated, ranges } => one_char(s)
            .is_some_and(|(c, r)| class_has(*negated, ranges, c) && match_tokens(rest, r)),
        Tok::Star => {
            let seg_end = s.find('/').unwrap_or(s.len());
            if rest.is_empty() {
                return seg_end == s.len();
            }
            // Try every split inside the first segment, shortest first.
            s[..seg_end]
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(seg_end))
                .any(|i| match_tokens(rest, &s[i..]))
        }
        Tok::Dirs => {
            match_tokens(rest, s)
                || s.match_indices('/')
                    .any(|(i, _)| match_tokens(rest, &s[i + 1..]))
        }
        Tok::All => true,
    }
}

/// Tells whether some continuation of `s` could match the tokens, i.e. `s` is consumed
/// by a prefix of the pattern.
fn matches_prefix(toks: &[Tok], s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let Some((first, rest)) = toks.split_first() else {
        return false;
    };
    match first {
        Tok::Lit(l) => {
            if s.len() < l.len() {
                l.starts_with(s)
            } else {
                s.strip_prefix(l.as_str())
                    .is_some_and(|r| matches_prefix(rest, r))
            }
        }
        Tok::One => one_char(s).is_some_and(|(c, r)| c != '/' && matches_prefix(rest, r)),
        Tok::Class { negated, ranges } => one_char(s)
            .is_some_and(|(c, r)| class_has(*negated, ranges, c) && matches_prefix(rest, r)),
        Tok::Star => {
            let seg_end = s.find('/').unwrap_or(s.len());
            s.char_indices()
                .map(|(i, _)| i)
                .take_while(|i| *i < seg_end)
                .chain(std::iter::once(seg_end))
                .any(|i| matches_prefix(rest, &s[i..]))
        }
        Tok::Dirs => {
            matches_prefix(rest, s)
                || s.match_indices('/')
                    .any(|(i, _)| matches_prefix(rest, &s[i + 1..]))
        }
        Tok::All => true,
    }
}

fn one_char(s: &str) -> Option<(char, &str)> {
    let c = s.chars().next()?;
    Some((c, &s[c.len_utf8()..]))
}

/// Tells whether a COPY source segment has wildcards (`*`, `?`, `[`), skipping `\`-escaped
/// characters, as Docker does.
fn has_wildcards(s: &str) -> bool {
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if matches!(c, '*' | '?' | '[') {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------------------------------
// COPY planning.

/// What a planned entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory (its contents are separate entries).
    Dir,
    /// A regular file; its bytes are read from [`Entry::source`].
    File,
    /// A symlink, with its target as stored (not followed).
    Symlink(PathBuf),
}

/// One file, directory or symlink a COPY puts in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where it is on disk (absolute when the root is).
    pub source: PathBuf,
    /// Where it goes in the image: absolute, normalized, no trailing `/`.
    pub dest: String,
    /// What it is.
    pub kind: EntryKind,
    /// Its permission bits on disk (`mode & 0o7777`).
    pub mode: u32,
    /// Its size on disk in bytes (0 for directories).
    pub size: u64,
    /// Its modification time on disk, in seconds since the epoch.
    pub mtime: i64,
    /// Its inode, size and times when it was listed: the file-digest cache's key, so that
    /// an unchanged file is neither read nor looked up on disk a second time.
    pub stamp: Stamp,
    /// For a file a source names itself (or a wildcard matches), not one found inside a
    /// folder source: the destination folder an `ADD` unpacks it into when it is an archive.
    pub unpack_dir: Option<String>,
}

/// Why a COPY could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A source matched nothing.
    #[error(
        "{path}: not found{}",
        if *.in_context { " in build context or excluded by .dockerignore" } else { "" }
    )]
    NotFound {
        /// The source as written.
        path: String,
        /// Whether the root is a build context (a `.dockerignore` was given).
        in_context: bool,
    },
    /// A source, or a symlink it goes through, leads outside the root.
    #[error("{path}: leads outside the build context (through `..` or a symlink)")]
    Escape {
        /// The source as written.
        path: String,
    },
    /// A source goes through too many symlinks.
    #[error("{path}: too many levels of symbolic links")]
    SymlinkLoop {
        /// The source as written.
        path: String,
    },
    /// A source is a device, socket or pipe.
    #[error("{path}: not a regular file, directory or symlink")]
    Special {
        /// The source as written.
        path: String,
    },
    /// A file name or symlink target is not UTF-8, so it cannot be put in an image path.
    #[error("{}: the name is not valid UTF-8", .path.display())]
    NotUtf8 {
        /// The path on disk.
        path: PathBuf,
    },
    /// Reading the disk failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The path on disk.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Plans a COPY: the entries that `sources` (relative to `root`, Docker's rules and
/// wildcards) put at `dest` (relative to `workdir` unless absolute), sorted by
/// destination, later sources winning over earlier ones. With `ignore`, excluded paths do
/// not exist.
///
/// # Errors
/// A source that matches nothing, leaves `root`, loops through symlinks or is a special
/// file; names that are not UTF-8; and read failures.
pub fn plan_copy(
    root: &Path,
    ignore: Option<&DockerIgnore>,
    sources: &[String],
    dest: &str,
    workdir: &str,
) -> Result<Vec<Entry>, CopyError> {
    let in_context = ignore.is_some();
    let ignore = ignore.filter(|i| !i.patterns.is_empty());
    let dest_abs = normalize_dest(workdir, dest);
    let dest_is_dir = dest.is_empty()
        || dest.ends_with('/')
        || dest == "."
        || dest == ".."
        || dest.ends_with("/.")
        || dest.ends_with("/..")
        || sources.len() > 1;
    let mut out: Vec<Entry> = vec![];
    for source in sources {
        let wild = has_wildcards(source);
        let segs = clean_source(source)?;
        let found = if wild {
            expand_wildcards(root, &segs, source)?
        } else {
            vec![segs]
        };
        let mut any = false;
        for segs in &found {
            // Name a wildcard's match in errors, not the pattern.
            let matched;
            let shown = if wild {
                matched = segs.join("/");
                &matched
            } else {
                source
            };
            let Some(res) = resolve(root, segs, ignore, shown)? else {
                continue;
            };
            let name = segs.last().map(String::as_str).unwrap_or("");
            if res.meta.is_dir() {
                let state = ignore.map(|i| i.state_for(&res.rel));
                let excluded = match (ignore, &state) {
                    (Some(i), Some(s)) => i.excluded_by(s),
                    _ => false,
                };
                if excluded && !ignore.is_some_and(|i| i.may_reinclude_below(&res.rel)) {
                    continue;
                }
                let before = out.len();
                let mut w = Walker {
                    ignore,
                    out: &mut out,
                    rel: res.rel.clone(),
                    dest: dest_abs.clone(),
                };
                w.walk(&res.abs, state.as_deref())?;
                if excluded && out.len() == before {
                    continue;
                }
                any = true;
            } else if res.meta.is_file() {
                if ignore.is_some_and(|i| i.is_excluded(&res.rel)) {
                    continue;
                }
                let to = if dest_is_dir || wild {
                    join_dest(&dest_abs, name)
                } else {
                    dest_abs.clone()
                };
                let mut e = entry(res.abs, to, EntryKind::File, &res.meta);
                e.unpack_dir = Some(dest_abs.clone());
                out.push(e);
                any = true;
            } else if !wild {
                return Err(CopyError::Special {
                    path: shown.to_string(),
                });
            }
        }
        if !any {
            return Err(CopyError::NotFound {
                path: source.clone(),
                in_context,
            });
        }
    }
    // Sort by destination (stably); among equal destinations keep the last one planned.
    out.sort_by(|a, b| a.dest.cmp(&b.dest));
    let mut planned: Vec<Entry> = Vec::with_capacity(out.len());
    for e in out {
        match planned.last_mut() {
            Some(last) if last.dest == e.dest => *last = e,
            _ => planned.push(e),
        }
    }
    Ok(planned)
}

fn entry(source: PathBuf, dest: String, kind: EntryKind, meta: &fs::Metadata) -> Entry {
    let size = if meta.is_dir() { 0 } else { meta.len() };
    Entry {
        source,
        dest,
        kind,
        mode: meta.mode() & 0o7777,
        size,
        mtime: meta.mtime(),
        stamp: Stamp::of(meta),
        unpack_dir: None,
    }
}

/// Joins `dest` to `workdir` unless absolute, and normalizes it (`.`, `..`, `//`).
fn normalize_dest(workdir: &str, dest: &str) -> String {
    let mut parts: Vec<&str> = vec![];
    let base = if dest.starts_with('/') { "" } else { workdir };
    for seg in base.split('/').chain(dest.split('/')) {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut s = String::with_capacity(dest.len() + workdir.len() + 1);
    for p in parts {
        s.push('/');
        s.push_str(p);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

fn join_dest(dir: &str, name: &str) -> String {
    if name.is_empty() {
        return dir.to_string();
    }
    let mut s = String::with_capacity(dir.len() + name.len() + 1);
    s.push_str(dir);
    if !s.ends_with('/') {
        s.push('/');
    }
    s.push_str(name);
    s
}

/// Splits a source into clean segments; a leading `/` is the root; `..` may not leave it.
fn clean_source(source: &str) -> Result<Vec<String>, CopyError> {
    let mut segs: Vec<String> = vec![];
    for seg in source.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if segs.pop().is_none() {
                    return Err(CopyError::Escape {
                        path: source.to_string(),
                    });
                }
            }
            s => segs.push(s.to_string()),
        }
    }
    Ok(segs)
}

/// Expands the wildcard segments of a source against the directories on disk, in name
/// order. Returns the matched paths (segments, as on disk), whose parents are folders.
fn expand_wildcards(
    root: &Path,
    segs: &[String],
    source: &str,
) -> Result<Vec<Vec<String>>, CopyError> {
    let mut cands: Vec<Vec<String>> = vec![vec![]];
    let mut literal_tail = false;
    for seg in segs {
        if !has_wildcards(seg) {
            let lit = unescape(seg);
            for c in &mut cands {
                c.push(lit.clone());
            }
            literal_tail = true;
            continue;
        }
        literal_tail = false;
        let toks = compile(seg, false);
        let mut next = vec![];
        for c in &cands {
            let Some(dir) = folder_on_the_way(root, c, source)? else {
                continue;
            };
            for name in sorted_names(&dir)? {
                if match_tokens(&toks, &name) {
                    let mut n = c.clone();
                    n.push(name);
                    next.push(n);
                }
            }
        }
        cands = next;
    }
    if literal_tail {
        let mut kept = vec![];
        for c in cands {
            if folder_on_the_way(root, &c[..c.len() - 1], source)?.is_some() {
                kept.push(c);
            }
        }
        cands = kept;
    }
    Ok(cands)
}

/// Resolves a folder that a wildcard source goes through; one that is missing, not a
/// folder, or leads outside the root just matches nothing.
fn folder_on_the_way(
    root: &Path,
    segs: &[String],
    source: &str,
) -> Result<Option<PathBuf>, CopyError> {
    match resolve(root, segs, None, source) {
        Ok(Some(res)) if res.meta.is_dir() => Ok(Some(res.abs)),
        Ok(_) | Err(CopyError::Escape { .. } | CopyError::SymlinkLoop { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes the `\` escapes of a wildcard source's literal segment.
fn unescape(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len());
    let mut chars = seg.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next().unwrap_or('\\'));
        } else {
            out.push(c);
        }
    }
    out
}

fn sorted_names(dir: &Path) -> Result<Vec<String>, CopyError> {
    let rd = fs::read_dir(dir).map_err(|source| CopyError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names = vec![];
    for de in rd {
        let de = de.map_err(|source| CopyError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = de.file_name();
        match name.into_string() {
            Ok(s) => names.push(s),
            Err(_) => return Err(CopyError::NotUtf8 { path: de.path() }),
        }
    }
    names.sort_unstable();
    Ok(names)
}

struct Resolved {
    abs: PathBuf,
    rel: String,
    meta: fs::Metadata,
}

/// Follows a source path under `root`, symlinks included (relative targets may not leave
/// `root`; absolute targets are taken inside `root`, as BuildKit does). Returns `None`
/// when it does not exist, or a symlink on the way is excluded.
fn resolve(
    root: &Path,
    segs: &[String],
    ignore: Option<&DockerIgnore>,
    source: &str,
) -> Result<Option<Resolved>, CopyError> {
    let mut todo: Vec<String> = segs.iter().rev().cloned().collect();
    let mut done: Vec<String> = vec![];
    let mut links = 0;
    let mut meta = None;
    while let Some(seg) = todo.pop() {
        match seg.as_str() {
            "" | "." => continue,
            ".." => {
                if done.pop().is_none() {
                    return Err(CopyError::Escape {
                        path: source.to_string(),
                    });
                }
                meta = None;
                continue;
            }
            _ => {}
        }
        done.push(seg);
        let rel = done.join("/");
        let abs = root.join(&rel);
        let m = match fs::symlink_metadata(&abs) {
            Ok(m) => m,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(None); // missing, or a file used as a folder (ENOTDIR)
            }
            Err(source) => return Err(CopyError::Io { path: abs, source }),
        };
        if m.file_type().is_symlink() {
            if ignore.is_some_and(|i| i.is_excluded(&rel)) {
                return Ok(None);
            }
            links += 1;
            if links > 40 {
                return Err(CopyError::SymlinkLoop {
                    path: source.to_string(),
                });
            }
            let target = fs::read_link(&abs).map_err(|source| CopyError::Io {
                path: abs.clone(),
                source,
            })?;
            done.pop();
            for c in target.components().rev() {
                match c {
                    Component::RootDir | Component::Prefix(_) => {}
                    Component::CurDir => {}
                    Component::ParentDir => todo.push("..".into()),
                    Component::Normal(n) => match n.to_str() {
                        Some(s) => todo.push(s.to_string()),
                        None => return Err(CopyError::NotUtf8 { path: abs }),
                    },
                }
            }
            if target.is_absolute() {
                done.clear();
            }
            meta = None;
            continue;
        }
        if !todo.is_empty() && !m.is_dir() {
            return Ok(None);
        }
        meta = Some(m);
    }
    let rel = done.join("/");
    let abs = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(&rel)
    };
    let meta = match meta {
        Some(m) => m,
        None => match fs::metadata(&abs) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CopyError::Io { path: abs, source }),
        },
    };
    Ok(Some(Resolved { abs, rel, meta }))
}

/// Walks a directory's contents into entries, without following symlinks.
struct Walker<'a> {
    ignore: Option<&'a DockerIgnore>,
    out: &'a mut Vec<Entry>,
    /// The current folder, relative to the root (for `.dockerignore`).
    rel: String,
    /// The current folder's destination in the image.
    dest: String,
}

impl Walker<'_> {
    fn walk(&mut self, dir: &Path, state: Option<&[bool]>) -> Result<(), CopyError> {
        let io_err = |source| CopyError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut children: Vec<(std::ffi::OsString, fs::DirEntry)> = vec![];
        for de in fs::read_dir(dir).map_err(io_err)? {
            let de = de.map_err(io_err)?;
            children.push((de.file_name(), de));
        }
        children.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (name, de) in children {
            let Some(name) = name.to_str() else {
                return Err(CopyError::NotUtf8 { path: de.path() });
            };
            let rel_len = self.rel.len();
            let dest_len = self.dest.len();
            if !self.rel.is_empty() {
                self.rel.push('/');
            }
            self.rel.push_str(name);
            if !self.dest.ends_with('/') {
                self.dest.push('/');
            }
            self.dest.push_str(name);
            let r = self.child(&de, state);
            self.rel.truncate(rel_len);
            self.dest.truncate(dest_len);
            r?;
        }
        Ok(())
    }

    fn child(&mut self, de: &fs::DirEntry, state: Option<&[bool]>) -> Result<(), CopyError> {
        let path = de.path();
        let meta = de.metadata().map_err(|source| CopyError::Io {
            path: path.clone(),
            source,
        })?;
        let ft = meta.file_type();
        if ft.is_dir() {
            let (child_state, excluded) = match (self.ignore, state) {
                (Some(ig), Some(parent)) => {
                    let s: Vec<bool> = ig
                        .patterns
                        .iter()
                        .zip(parent)
                        .map(|(p, m)| *m || p.matches(&self.rel))
                        .collect();
                    let excluded = ig.excluded_by(&s);
                    (Some(s), excluded)
                }
                _ => (None, false),
            };
            if excluded
                && !self
                    .ignore
                    .is_some_and(|ig| ig.may_reinclude_below(&self.rel))
            {
                return Ok(());
            }
            let at = self.out.len();
            self.out.push(entry(
                path.clone(),
                self.dest.clone(),
                EntryKind::Dir,
                &meta,
            ));
            self.walk(&path, child_state.as_deref())?;
            // An excluded folder only appears to hold what an exception brought back.
            if excluded && self.out.len() == at + 1 {
                self.out.pop();
            }
            return Ok(());
        }
        if let (Some(ig), Some(parent)) = (self.ignore, state)
            && ig.excluded_below(parent, &self.rel)
        {
            return Ok(());
        }
        let kind = if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(|source| CopyError::Io {
                path: path.clone(),
                source,
            })?;
            EntryKind::Symlink(target)
        } else if ft.is_file() {
            EntryKind::File
        } else {
            return Ok(()); // sockets, pipes and devices are not copied
        };
        self.out.push(entry(path, self.dest.clone(), kind, &meta));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn excluded(patterns: &str, paths: &[&str]) -> Vec<bool> {
        let ig = DockerIgnore::parse(patterns);
        paths.iter().map(|p| ig.is_excluded(p)).collect()
    }

    #[test]
    fn star_matches_inside_one_folder() {
        assert_eq!(
            excluded("*.md\n", &["README.md", "docs/x.md", "x.md/child", "a.mdx"]),
            [true, false, true, false]
        );
    }

    #[test]
    fn double_star_spans_folders() {
        assert_eq!(
            excluded("**/*.log\n", &["a.log", "x/y/a.log", "x/a.txt", "log"]),
            [true, true, false, false]
        );
        // `dir/**` empties the folder but keeps it.
        assert_eq!(
            excluded("dir/**\n", &["dir", "dir/a", "dir/a/b"]),
            [false, true, true]
        );
        assert_eq!(
            excluded("**\n", &["a", "a/b/c", ".dockerignore"]),
            [true, true, true]
        );
        assert_eq!(
            excluded("a/**/b\n", &["a/b", "a/x/b", "a/x/y/b", "a/xb"]),
            [true, true, true, false]
        );
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let p = "*.log\n!keep.log\n";
        assert_eq!(excluded(p, &["x.log", "keep.log"]), [true, false]);
        let p = "*.txt\n!a.txt\na.txt\n";
        assert_eq!(excluded(p, &["a.txt", "b.txt"]), [true, true]);
        let p = "dir\n!dir/keep\n";
        assert_eq!(
            excluded(p, &["dir", "dir/keep", "dir/keep/x", "dir/other"]),
            [true, false, false, true]
        );
    }

    #[test]
    fn patterns_are_cleaned_like_docker() {
        assert_eq!(
            excluded("dir/\n", &["dir", "dir/x", "dirx"]),
            [true, true, false]
        );
        assert_eq!(
            excluded("/abs\n", &["abs", "sub/abs", "abs/x"]),
            [true, false, true]
        );
        assert_eq!(
            excluded("./a/../b//c/.\n", &["b/c", "a/b/c"]),
            [true, false]
        );
        assert_eq!(excluded("../x\n", &["x"]), [false]);
        // Comments only in the first column; blanks and surrounding spaces ignored.
        assert_eq!(
            excluded(
                "# a comment\n\n   \n  spaced  \n  #x\n",
                &["# a comment", "spaced", "#x"]
            ),
            [false, true, true]
        );
        assert_eq!(
            excluded("\u{feff}bom\r\nnext\r\n", &["bom", "next"]),
            [true, true]
        );
        assert!(DockerIgnore::parse("!\n").patterns.is_empty());
    }

    #[test]
    fn classes_and_escapes() {
        assert_eq!(
            excluded("[a-c]x\n", &["ax", "bx", "cx", "dx", "abx"]),
            [true, true, true, false, false]
        );
        assert_eq!(excluded("[^a]y\n", &["ay", "by"]), [false, true]);
        assert_eq!(excluded("[!a]y\n", &["ay", "by"]), [false, true]);
        assert_eq!(
            excluded("[ab\\]]z\n", &["az", "]z", "cz"]),
            [true, true, false]
        );
        assert_eq!(excluded("?\n", &["a", "ab", "é"]), [true, false, true]);
        // A class never matches the separator.
        assert_eq!(excluded("a[^x]b\n", &["a/b", "acb"]), [false, true]);
        assert_eq!(excluded("\\*star\n", &["*star", "xstar"]), [true, false]);
        assert_eq!(excluded("a\\?\n", &["a?", "ab"]), [true, false]);
        assert_eq!(excluded("\\#hash\n", &["#hash"]), [true]);
        assert_eq!(excluded("\\[x]\n", &["[x]", "x"]), [true, false]);
        // A malformed class is literal.
        assert_eq!(excluded("[oops\n", &["[oops", "o"]), [true, false]);
        // Regex specials are plain characters.
        assert_eq!(
            excluded("a.b+(c)|{d}$\n", &["a.b+(c)|{d}$", "axb+(c)|{d}$"]),
            [true, false]
        );
    }

    #[test]
    fn exceptions_decide_which_excluded_folders_are_walked() {
        let ig = DockerIgnore::parse("dir\n!dir/sub/keep.txt\n");
        assert!(ig.may_reinclude_below("dir"));
        assert!(ig.may_reinclude_below("dir/sub"));
        assert!(!ig.may_reinclude_below("dir/other"));
        assert!(!ig.may_reinclude_below("else"));
        let ig = DockerIgnore::parse("dir\n!**/keep\n");
        assert!(ig.may_reinclude_below("dir/x/y"));
        let ig = DockerIgnore::parse("dir\n!d*/k?ep\n");
        assert!(ig.may_reinclude_below("dir"));
        assert!(!ig.may_reinclude_below("dir/a"));
        assert!(!DockerIgnore::parse("dir\n").may_reinclude_below("dir"));
    }

    #[test]
    fn load_reads_the_context_file_or_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(!DockerIgnore::load(tmp.path()).unwrap().is_excluded("a"));
        fs::write(tmp.path().join(".dockerignore"), "a\n").unwrap();
        assert!(DockerIgnore::load(tmp.path()).unwrap().is_excluded("a"));
        fs::remove_file(tmp.path().join(".dockerignore")).unwrap();
        fs::create_dir(tmp.path().join(".dockerignore")).unwrap();
        let e = DockerIgnore::load(tmp.path()).unwrap_err();
        assert!(e.to_string().contains(".dockerignore"), "{e}");
    }

    /// A context:
    /// a.txt (0644), b.md, run.sh (0755), other/a.txt, docs/guide.md,
    /// src/{main.rs, lib.rs, empty/, nested/deep.txt, link -> ../a.txt},
    /// link -> a.txt, dirlink -> src, abslink -> /a.txt, bad -> ../outside.
    fn context() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        let w = |p: &str, s: &str| {
            let p = r.join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, s).unwrap();
        };
        w("a.txt", "hello");
        w("b.md", "# b");
        w("run.sh", "#!/bin/sh\n");
        w("other/a.txt", "other a");
        w("docs/guide.md", "guide");
        w("src/main.rs", "fn main() {}");
        w("src/lib.rs", "");
        w("src/nested/deep.txt", "deep");
        fs::create_dir(r.join("src/empty")).unwrap();
        fs::set_permissions(r.join("a.txt"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(r.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        symlink("../a.txt", r.join("src/link")).unwrap();
        symlink("a.txt", r.join("link")).unwrap();
        symlink("src", r.join("dirlink")).unwrap();
        symlink("/a.txt", r.join("abslink")).unwrap();
        symlink("../outside", r.join("bad")).unwrap();
        tmp
    }

    fn plan(
        root: &Path,
        ignore: Option<&str>,
        sources: &[&str],
        dest: &str,
        workdir: &str,
    ) -> Result<Vec<Entry>, CopyError> {
        let ig = ignore.map(DockerIgnore::parse);
        let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        plan_copy(root, ig.as_ref(), &sources, dest, workdir)
    }

    fn dests(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.dest.as_str()).collect()
    }

    #[test]
    fn file_to_file_and_to_folder() {
        let ctx = context();
        let r = ctx.path();
        let e = plan(r, None, &["a.txt"], "/x/y.txt", "/").unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].dest, "/x/y.txt");
        assert_eq!(e[0].source, r.join("a.txt"));
        assert_eq!(e[0].kind, EntryKind::File);
        assert_eq!((e[0].mode, e[0].size), (0o644, 5));
        let meta = fs::symlink_metadata(r.join("a.txt")).unwrap();
        assert_eq!(e[0].mtime, meta.mtime());
        let e = plan(r, None, &["run.sh"], "/bin/", "/").unwrap();
        assert_eq!(dests(&e), ["/bin/run.sh"]);
        assert_eq!(e[0].mode, 0o755);
        // A leading `/` on the source is the context root; inner `..` is fine.
        let e = plan(r, None, &["/src/../a.txt"], "/a", "/").unwrap();
        assert_eq!(dests(&e), ["/a"]);
        // Copying into the root folder.
        assert_eq!(
            dests(&plan(r, None, &["a.txt"], "/", "/").unwrap()),
            ["/a.txt"]
        );
    }

    #[test]
    fn folder_copies_its_contents() {
        let ctx = context();
        let r = ctx.path();
        let e = plan(r, None, &["src"], "/app", "/").unwrap();
        assert_eq!(
            dests(&e),
            [
                "/app/empty",
                "/app/lib.rs",
                "/app/link",
                "/app/main.rs",
                "/app/nested",
                "/app/nested/deep.txt"
            ]
        );
        assert_eq!(e[0].kind, EntryKind::Dir);
        assert_eq!(e[0].size, 0);
        assert_eq!(e[2].kind, EntryKind::Symlink(PathBuf::from("../a.txt")));
        assert_eq!(e[2].source, r.join("src/link"));
        assert_eq!(e[5].source, r.join("src/nested/deep.txt"));
        // The same with a trailing slash and the whole context.
        assert_eq!(
            dests(&plan(r, None, &["src/"], "/app/", "/").unwrap()),
            dests(&e)
        );
        let all = plan(r, None, &["."], "/", "/").unwrap();
        assert!(dests(&all).contains(&"/src/nested/deep.txt"));
        assert!(dests(&all).contains(&"/dirlink"));
        assert!(all.windows(2).all(|w| w[0].dest < w[1].dest));
    }

    #[test]
    fn wildcards_make_the_destination_a_folder() {
        let ctx = context();
        let r = ctx.path();
        assert_eq!(
            dests(&plan(r, None, &["*.txt"], "/out", "/").unwrap()),
            ["/out/a.txt"]
        );
        assert_eq!(
            dests(&plan(r, None, &["src/*.rs"], "/out/", "/").unwrap()),
            ["/out/lib.rs", "/out/main.rs"]
        );
        assert_eq!(
            dests(&plan(r, None, &["s?c/ma[h-j]n.rs"], "/o", "/").unwrap()),
            ["/o/main.rs"]
        );
        // A matched folder copies its contents.
        assert_eq!(
            dests(&plan(r, None, &["*/nested"], "/n", "/").unwrap()),
            ["/n/deep.txt"]
        );
        // `**` in a COPY source is just `*`: one folder level.
        assert!(plan(r, None, &["**/deep.txt"], "/n", "/").is_err());
        assert_eq!(
            dests(&plan(r, None, &["**/lib.rs"], "/n", "/").unwrap()),
            ["/n/lib.rs"]
        );
        // Escapes in a wildcard source stand for the character itself.
        fs::write(r.join("src/we*rd.rs"), "").unwrap();
        assert_eq!(
            dests(&plan(r, None, &["s*/we\\*rd.rs"], "/w", "/").unwrap()),
            ["/w/we*rd.rs"]
        );
        assert_eq!(
            dests(&plan(r, None, &["s*c/we\\*rd.rs"], "/w", "/").unwrap()),
            ["/w/we*rd.rs"]
        );
        let e = plan(r, None, &["*.nope"], "/", "/").unwrap_err();
        assert!(matches!(e, CopyError::NotFound { .. }), "{e}");
    }

    #[test]
    fn several_sources_and_later_wins() {
        let ctx = context();
        let r = ctx.path();
        assert_eq!(
            dests(&plan(r, None, &["a.txt", "b.md"], "/d", "/").unwrap()),
            ["/d/a.txt", "/d/b.md"]
        );
        let e = plan(r, None, &["a.txt", "other/a.txt"], "/d/", "/").unwrap();
        assert_eq!(dests(&e), ["/d/a.txt"]);
        assert_eq!(e[0].source, r.join("other/a.txt"));
        let e = plan(r, None, &["other/a.txt", "a.txt"], "/d/", "/").unwrap();
        assert_eq!(e[0].source, r.join("a.txt"));
    }

    #[test]
    fn relative_destinations_join_the_workdir() {
        let ctx = context();
        let r = ctx.path();
        let one = |dest: &str, workdir: &str| {
            plan(r, None, &["a.txt"], dest, workdir).unwrap()[0]
                .dest
                .clone()
        };
        assert_eq!(one("sub/", "/srv"), "/srv/sub/a.txt");
        assert_eq!(one(".", "/srv"), "/srv/a.txt");
        assert_eq!(one("./", "/srv/"), "/srv/a.txt");
        assert_eq!(one("f.txt", "/srv"), "/srv/f.txt");
        assert_eq!(one("../etc/x", "/srv"), "/etc/x");
        assert_eq!(one("/../../x//y", "/srv"), "/x/y");
        assert_eq!(one("..", "/srv/app"), "/srv/a.txt");
    }

    #[test]
    fn missing_and_excluded_sources_are_errors() {
        let ctx = context();
        let r = ctx.path();
        let e = plan(r, Some(""), &["nope.txt"], "/", "/").unwrap_err();
        assert_eq!(
            e.to_string(),
            "nope.txt: not found in build context or excluded by .dockerignore"
        );
        // Without a .dockerignore the root is not a build context (COPY --from).
        let e = plan(r, None, &["nope.txt"], "/", "/").unwrap_err();
        assert_eq!(e.to_string(), "nope.txt: not found");
        let e = plan(r, None, &["a.txt/x"], "/", "/").unwrap_err();
        assert!(matches!(e, CopyError::NotFound { .. }));
        let e = plan(r, Some("*.md\n"), &["b.md"], "/", "/").unwrap_err();
        assert!(e.to_string().contains("b.md"), "{e}");
        assert!(plan(r, Some("docs\n"), &["docs"], "/", "/").is_err());
        assert!(plan(r, Some("docs\n"), &["docs/guide.md"], "/", "/").is_err());
        // Excluded files vanish from wildcard matches and folder walks.
        let e = plan(r, Some("*.md\nbad\n"), &["*"], "/", "/").unwrap();
        assert!(!dests(&e).contains(&"/b.md"));
        assert!(dests(&e).contains(&"/a.txt"));
        let e = plan(r, Some("**/*.md\nsrc/nested\n"), &["."], "/", "/").unwrap();
        let d = dests(&e);
        assert!(d.contains(&"/docs"));
        assert!(
            !d.iter().any(|p| p.ends_with(".md") || p.contains("nested")),
            "{d:?}"
        );
        // An excluded symlink is not followed either.
        assert!(plan(r, Some("link\n"), &["link"], "/", "/").is_err());
    }

    #[test]
    fn exceptions_bring_back_files_inside_excluded_folders() {
        let ctx = context();
        let r = ctx.path();
        let e = plan(r, Some("src\n!src/nested/deep.txt\n"), &["."], "/", "/").unwrap();
        let d: Vec<&str> = dests(&e)
            .into_iter()
            .filter(|p| p.starts_with("/src"))
            .collect();
        assert_eq!(d, ["/src", "/src/nested", "/src/nested/deep.txt"]);
        let e = plan(r, Some("src\n!src/nested/deep.txt\n"), &["src"], "/s", "/").unwrap();
        assert_eq!(dests(&e), ["/s/nested", "/s/nested/deep.txt"]);
        // An excluded folder with nothing brought back stays invisible.
        assert!(plan(r, Some("src\n!src/nope\n"), &["src"], "/s", "/").is_err());
        // Everything excluded but one kind of file.
        let e = plan(r, Some("*\n!**/*.rs\n"), &["."], "/", "/").unwrap();
        assert_eq!(dests(&e), ["/src", "/src/lib.rs", "/src/main.rs"]);
    }

    #[test]
    fn sockets_are_skipped_unless_named() {
        let ctx = context();
        let r = ctx.path();
        let _l = std::os::unix::net::UnixListener::bind(r.join("src/app.sock")).unwrap();
        let e = plan(r, None, &["src"], "/s", "/").unwrap();
        assert!(!dests(&e).contains(&"/s/app.sock"));
        // A wildcard skips it too, so matching only it matches nothing.
        let e = plan(r, None, &["src/*.sock"], "/s", "/").unwrap_err();
        assert!(matches!(e, CopyError::NotFound { .. }), "{e}");
        let e = plan(r, None, &["src/app.sock"], "/s", "/").unwrap_err();
        assert!(matches!(e, CopyError::Special { .. }), "{e}");
    }

    #[test]
    fn dot_dot_may_not_leave_the_root() {
        let ctx = context();
        let r = ctx.path();
        for s in ["../x", "src/../../x", "/.."] {
            let e = plan(r, None, &[s], "/", "/").unwrap_err();
            assert!(matches!(e, CopyError::Escape { .. }), "{s}: {e}");
            assert!(e.to_string().contains(s), "{e}");
        }
    }

    #[test]
    fn symlinks_given_as_sources_are_followed_inside_the_root() {
        let ctx = context();
        let r = ctx.path();
        let e = plan(r, None, &["link"], "/l.txt", "/").unwrap();
        assert_eq!(dests(&e), ["/l.txt"]);
        assert_eq!(
            (&e[0].kind, &e[0].source),
            (&EntryKind::File, &r.join("a.txt"))
        );
        assert_eq!(e[0].size, 5);
        // The name in a folder destination is the link's own name.
        assert_eq!(
            dests(&plan(r, None, &["link"], "/d/", "/").unwrap()),
            ["/d/link"]
        );
        let e = plan(r, None, &["dirlink"], "/app", "/").unwrap();
        assert!(dests(&e).contains(&"/app/main.rs"));
        assert_eq!(
            e.iter().find(|x| x.dest == "/app/main.rs").unwrap().source,
            r.join("src/main.rs")
        );
        // Through a linked folder in the middle of the path.
        assert_eq!(
            dests(&plan(r, None, &["dirlink/lib.rs"], "/x", "/").unwrap()),
            ["/x"]
        );
        // Absolute targets are taken inside the root.
        let e = plan(r, None, &["abslink"], "/x", "/").unwrap();
        assert_eq!(e[0].source, r.join("a.txt"));
        let e = plan(r, None, &["bad"], "/x", "/").unwrap_err();
        assert!(matches!(e, CopyError::Escape { .. }), "{e}");
        // A wildcard's escaping match is named in the error.
        let e = plan(r, None, &["b*"], "/x", "/").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad: leads outside the build context (through `..` or a symlink)"
        );
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        let e = plan(r, None, &["loop1"], "/x", "/").unwrap_err();
        assert!(matches!(e, CopyError::SymlinkLoop { .. }), "{e}");
        // A dangling link given as a source is missing.
        symlink("gone", r.join("dangling")).unwrap();
        assert!(matches!(
            plan(r, None, &["dangling"], "/x", "/").unwrap_err(),
            CopyError::NotFound { .. }
        ));
    }
}
