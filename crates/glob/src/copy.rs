//! Planning a COPY: the sources (with Docker's wildcards) and the destination of a COPY
//! turned into the sorted files, folders and symlinks to put in the layer, without reading
//! file contents.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use slipway_fs::Stamp;
use slipway_fs::path::{DotDot, segments};

use crate::ignore::DockerIgnore;
use crate::pattern::{Pattern, has_wildcards};

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
    /// A wildcard source is a pattern `filepath.Match` refuses.
    #[error("{source_path}: {why}")]
    Pattern {
        /// The source as written.
        source_path: String,
        /// Go's words for what is wrong.
        why: String,
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
    let dest_abs = slipway_fs::path::join(workdir, dest);
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

pub(crate) fn entry(source: PathBuf, dest: String, kind: EntryKind, meta: &fs::Metadata) -> Entry {
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

pub(crate) fn join_dest(dir: &str, name: &str) -> String {
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
pub(crate) fn clean_source(source: &str) -> Result<Vec<String>, CopyError> {
    segments(source, DotDot::Inside)
        .map(|s| s.into_iter().map(str::to_string).collect())
        .map_err(|_| CopyError::Escape {
            path: source.to_string(),
        })
}

/// Expands the wildcard segments of a source against the directories on disk, in name
/// order. Returns the matched paths (segments, as on disk), whose parents are folders.
pub(crate) fn expand_wildcards(
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
        let pattern = Pattern::path(seg).map_err(|e| CopyError::Pattern {
            source_path: source.to_string(),
            why: e.to_string(),
        })?;
        let mut next = vec![];
        for c in &cands {
            let Some(dir) = folder_on_the_way(root, c, source)? else {
                continue;
            };
            for name in sorted_names(&dir)? {
                if pattern.matches(&name) {
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
pub(crate) fn folder_on_the_way(
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
pub(crate) fn unescape(seg: &str) -> String {
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

pub(crate) fn sorted_names(dir: &Path) -> Result<Vec<String>, CopyError> {
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

pub(crate) struct Resolved {
    pub(crate) abs: PathBuf,
    pub(crate) rel: String,
    pub(crate) meta: fs::Metadata,
}

/// Follows a source path under `root`, symlinks included (relative targets may not leave
/// `root`; absolute targets are taken inside `root`, as BuildKit does). Returns `None`
/// when it does not exist, or a symlink on the way is excluded.
pub(crate) fn resolve(
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
pub(crate) struct Walker<'a> {
    pub(crate) ignore: Option<&'a DockerIgnore>,
    pub(crate) out: &'a mut Vec<Entry>,
    /// The current folder, relative to the root (for `.dockerignore`).
    pub(crate) rel: String,
    /// The current folder's destination in the image.
    pub(crate) dest: String,
}

impl Walker<'_> {
    pub(crate) fn walk(&mut self, dir: &Path, state: Option<&[bool]>) -> Result<(), CopyError> {
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

    pub(crate) fn child(
        &mut self,
        de: &fs::DirEntry,
        state: Option<&[bool]>,
    ) -> Result<(), CopyError> {
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
