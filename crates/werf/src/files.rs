//! The project files a templated `werf.yaml` may read: `.Files.Get`, `.Files.Glob`,
//! `.Files.Exists` and `.Files.IsDir`, and the walk that finds the template directory's
//! `**/*.tmpl` files.
//!
//! Paths are relative to the project folder (the `werf.yaml` folder). slipway reads the
//! files on disk, committed or not, which is what werf does with `--loose-giterminism`:
//! no `werf-giterminism.yaml` allow-list is consulted.
//!
//! Globs match as werf's path matcher does: the literal leading folders of the pattern
//! name the folder to walk, and a file below it matches when its path relative to that
//! folder matches the rest of the pattern (with `**` for any number of folders, `*`, `?`,
//! `[...]` and `{a,b}`), or lies below a folder that does: `conf/*` takes every file
//! under `conf`, at any depth. `.git` is never entered.

use slipway_template::{Object, Value};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// `.Files`: the project folder, read on demand.
pub(crate) struct Files {
    /// The project folder, absolute.
    pub(crate) root: PathBuf,
}

/// The error werf gives for a path that is missing (or leaves the project folder).
fn not_found(rel: &str) -> String {
    format!(
        "the file {} not found in the project directory",
        go_quote(rel)
    )
}

fn go_quote(s: &str) -> String {
    slipway_template::fmt::quote(s)
}

/// Cleans `rel` as Go's `filepath.Join(root, rel)` would, relative to the root: `None`
/// when it climbs out of it.
fn clean_relative(rel: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

impl Files {
    /// The file or folder `rel` names, symlinks followed, when it exists inside the
    /// project folder.
    fn resolve(&self, rel: &str) -> Option<(PathBuf, std::fs::Metadata)> {
        let clean = clean_relative(rel)?;
        let path = self.root.join(clean);
        let meta = std::fs::metadata(&path).ok()?;
        let real = std::fs::canonicalize(&path).ok()?;
        let root = std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
        real.starts_with(&root).then_some((path, meta))
    }

    /// `.Files.Get`: the file's text.
    pub(crate) fn get(&self, rel: &str) -> Result<String, String> {
        let wrap = |e: String| format!("{{{{ .Files.Get {} }}}}: {e}", go_quote(rel));
        match self.resolve(rel) {
            Some((path, meta)) if meta.is_file() => std::fs::read(&path)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| {
                    wrap(format!(
                        "unable to read file {}: {e}",
                        go_quote(&path.display().to_string())
                    ))
                }),
            _ => Err(wrap(not_found(rel))),
        }
    }

    /// `.Files.Exists`: a file or folder is there.
    pub(crate) fn exists(&self, rel: &str) -> bool {
        self.resolve(rel).is_some()
    }

    /// `.Files.IsDir`: a folder is there.
    pub(crate) fn is_dir(&self, rel: &str) -> bool {
        self.resolve(rel).is_some_and(|(_, m)| m.is_dir())
    }

    /// `.Files.Glob`: every matching file's text by its project-relative path.
    pub(crate) fn glob(&self, pattern: &str) -> Result<BTreeMap<String, String>, String> {
        let wrap = |e: String| format!("{{{{ .Files.Glob {} }}}}: {e}", go_quote(pattern));
        let paths = list(&self.root, "", pattern).map_err(wrap)?;
        if paths.is_empty() {
            return Err(wrap("no matches found".to_owned()));
        }
        let mut out = BTreeMap::new();
        for rel in paths {
            let path = self.root.join(&rel);
            let data = std::fs::read(&path).map_err(|e| {
                wrap(format!(
                    "unable to read file {}: {e}",
                    go_quote(&path.display().to_string())
                ))
            })?;
            out.insert(rel, String::from_utf8_lossy(&data).into_owned());
        }
        Ok(out)
    }
}

impl Object for Files {
    fn type_name(&self) -> String {
        "config.files".into()
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if !self.is_method(name) {
            return None;
        }
        let arg = match args {
            [Value::String(s)] => s.to_string(),
            [other] => {
                return Some(Err(format!(
                    "wrong type for value; expected string; got {}",
                    other.type_name()
                )));
            }
            _ => {
                return Some(Err(format!(
                    "wrong number of args for {name}: want 1 got {}",
                    args.len()
                )));
            }
        };
        Some(match name {
            "Get" => self.get(&arg).map(Value::from),
            "Exists" => Ok(Value::Bool(self.exists(&arg))),
            "IsDir" => Ok(Value::Bool(self.is_dir(&arg))),
            _ => self
                .glob(&arg)
                .map(|m| Value::map(m.into_iter().map(|(k, v)| (k, Value::from(v))).collect())),
        })
    }

    fn is_method(&self, name: &str) -> bool {
        matches!(name, "Get" | "Glob" | "Exists" | "IsDir")
    }

    fn display(&self) -> String {
        "{}".into()
    }
}

// ---------------------------------------------------------------------------------------
// Listing files by a glob, as werf's file reader lists them.

/// The files under `root/dir` that `pattern` matches, as paths relative to `root/dir`
/// with `/` separators, in walk order (names sorted in each folder, as Go's
/// `filepath.Walk`).
pub(crate) fn list(root: &Path, dir: &str, pattern: &str) -> Result<Vec<String>, String> {
    let (prefix, rest) = split_literal_prefix(pattern);
    let base_rel = join(dir, &prefix);
    let base = root.join(&base_rel);
    let mut out = Vec::new();
    let Ok(meta) = std::fs::metadata(&base) else {
        return Ok(out);
    };
    let strip = |p: &str| -> String {
        if dir.is_empty() {
            p.to_owned()
        } else {
            p.strip_prefix(dir)
                .map_or(p, |s| s.trim_start_matches('/'))
                .to_owned()
        }
    };
    if meta.is_file() {
        if rest.is_empty() && Path::new(&base_rel).file_name() != Some(".git".as_ref()) {
            out.push(strip(&base_rel));
        }
        return Ok(out);
    }
    let matcher = Matcher::new(&rest);
    let root_real = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    walk(&root_real, &base, "", &mut |rel_in_base: &str| {
        if matcher.matches(rel_in_base) {
            out.push(strip(&join(&base_rel, rel_in_base)));
        }
    })?;
    Ok(out)
}

/// Go's `filepath.Join` for relative slash paths.
fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}/{b}"),
    }
}

/// Splits a pattern into its leading folders without pattern characters and the rest,
/// both cleaned.
fn split_literal_prefix(pattern: &str) -> (String, String) {
    let parts: Vec<&str> = pattern
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let n = parts
        .iter()
        .position(|p| p.contains(['*', '?', '[', '{', '\\']))
        .unwrap_or(parts.len());
    (parts[..n].join("/"), parts[n..].join("/"))
}

/// Walks `dir` (relative path `rel` below the walk's base) depth-first, names sorted,
/// following symlinks that stay inside `root`, skipping `.git`.
fn walk(root: &Path, dir: &Path, rel: &str, found: &mut dyn FnMut(&str)) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut names: Vec<std::ffi::OsString> = entries
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    for name in names {
        if name == ".git" {
            continue;
        }
        let path = dir.join(&name);
        let child = join(rel, &name.to_string_lossy());
        let Ok(lmeta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let meta = if lmeta.file_type().is_symlink() {
            let real = std::fs::canonicalize(&path).map_err(|_| not_found(&child))?;
            if !real.starts_with(root) {
                return Err(not_found(&real.display().to_string()));
            }
            std::fs::metadata(&path).map_err(|e| e.to_string())?
        } else {
            lmeta
        };
        if meta.is_dir() {
            walk(root, &path, &child, found)?;
        } else {
            found(&child);
        }
    }
    Ok(())
}

/// werf's include matcher for one glob: the glob itself, the glob with its trailing
/// all-star parts removed, and that with `/**/*` added (so a folder's name takes all it
/// holds).
struct Matcher {
    candidates: Vec<Vec<String>>,
}

impl Matcher {
    fn new(glob: &str) -> Matcher {
        let trimmed = trim_trailing_stars(glob);
        let below = join(&trimmed, "**/*");
        let mut candidates = Vec::new();
        for g in [glob.to_owned(), trimmed, below] {
            candidates.push(expand_braces(&g));
        }
        Matcher { candidates }
    }

    fn matches(&self, path: &str) -> bool {
        self.candidates
            .iter()
            .flatten()
            .any(|p| !p.is_empty() && path_match(p, path))
    }
}

/// Drops trailing parts made only of `*` (werf's `SafeTrimGlobsAndSlashesFromPath`).
fn trim_trailing_stars(glob: &str) -> String {
    let mut parts: Vec<&str> = glob.split('/').filter(|p| !p.is_empty()).collect();
    while parts
        .last()
        .is_some_and(|p| p.trim_end_matches('*').is_empty())
    {
        parts.pop();
    }
    parts.join("/")
}

/// Expands `{a,b}` alternatives (nested too) into plain patterns; `\` escapes a brace
/// or comma.
fn expand_braces(pattern: &str) -> Vec<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut open = None;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '{' => {
                open = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let Some(start) = open else {
        return vec![pattern.to_owned()];
    };
    // Find the matching close brace and the top-level commas.
    let mut depth = 0;
    let mut commas = vec![];
    let mut end = None;
    let mut j = start;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 1,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = Some(j);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(j),
            _ => {}
        }
        j += 1;
    }
    let Some(end) = end else {
        // An unclosed brace matches nothing, as doublestar reports a bad pattern.
        return vec![];
    };
    let head: String = chars[..start].iter().collect();
    let tail: String = chars[end + 1..].iter().collect();
    let mut bounds = vec![start];
    bounds.extend(&commas);
    bounds.push(end);
    let mut out = vec![];
    for w in bounds.windows(2) {
        let alt: String = chars[w[0] + 1..w[1]].iter().collect();
        for p in expand_braces(&format!("{head}{alt}{tail}")) {
            out.push(p);
        }
    }
    out
}

/// doublestar's `PathMatch` for a pattern without braces: `**` as a whole part matches
/// any number of folders.
fn path_match(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let name: Vec<&str> = path.split('/').collect();
    match_parts(&pat, &name)
}

fn match_parts(pat: &[&str], name: &[&str]) -> bool {
    match pat.split_first() {
        None => name.is_empty(),
        Some((&"**", rest)) => (0..=name.len()).any(|k| match_parts(rest, &name[k..])),
        Some((p, rest)) => match name.split_first() {
            Some((n, nrest)) => match_part(p, n) && match_parts(rest, nrest),
            None => false,
        },
    }
}

/// One path part against one pattern part: `*`, `?`, `[...]` (with `!` or `^` to
/// negate, and ranges), `\` escapes.
fn match_part(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_chars(&p, &n)
}

fn match_chars(p: &[char], n: &[char]) -> bool {
    let Some((&c, prest)) = p.split_first() else {
        return n.is_empty();
    };
    match c {
        '*' => (0..=n.len()).any(|k| match_chars(prest, &n[k..])),
        '?' => !n.is_empty() && match_chars(prest, &n[1..]),
        '[' => {
            let Some((&ch, nrest)) = n.split_first() else {
                return false;
            };
            match class(prest, ch) {
                Some((ok, after)) => ok && match_chars(after, nrest),
                None => false,
            }
        }
        '\\' => match prest.split_first() {
            Some((&lit, after)) => n.first() == Some(&lit) && match_chars(after, &n[1..]),
            None => false,
        },
        _ => n.first() == Some(&c) && match_chars(prest, &n[1..]),
    }
}

/// Reads a character class after its `[`: whether `ch` is in it, and the pattern after
/// its `]`. `None` when the class is not closed.
fn class(p: &[char], ch: char) -> Option<(bool, &[char])> {
    let mut i = 0;
    let negate = matches!(p.first(), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let c = *p.get(i)?;
        if c == ']' && !first {
            return Some((hit != negate, &p[i + 1..]));
        }
        first = false;
        let lo = if c == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            c
        };
        i += 1;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|&c| c != ']') {
            let mut hi = p[i + 1];
            i += 2;
            if hi == '\\' {
                hi = *p.get(i)?;
                i += 1;
            }
            hit |= lo <= ch && ch <= hi;
        } else {
            hit |= lo == ch;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doublestar_parts() {
        assert!(path_match("**/*.tmpl", "a.tmpl"));
        assert!(path_match("**/*.tmpl", "x/y/a.tmpl"));
        assert!(!path_match("*.tmpl", "x/a.tmpl"));
        assert!(path_match("a/[b-d]?/*.yaml", "a/cz/v.yaml"));
        assert!(!path_match("a/[!b-d]?/*.yaml", "a/cz/v.yaml"));
        assert!(path_match("\\*", "*"));
        assert!(!path_match("\\*", "x"));
        assert_eq!(
            expand_braces("m/*/{Dockerfile,werf.inc.yaml}"),
            ["m/*/Dockerfile", "m/*/werf.inc.yaml"]
        );
        assert_eq!(expand_braces("{a,{b,c}d}"), ["a", "bd", "cd"]);
    }

    #[test]
    fn werf_matcher_takes_folders_whole() {
        let m = Matcher::new("*");
        assert!(m.matches("a/b/c"));
        let m = Matcher::new("conf");
        assert!(m.matches("conf/x/y.yaml"));
        assert!(!m.matches("other/x"));
        let m = Matcher::new("*.yaml");
        assert!(m.matches("a.yaml"));
        assert!(m.matches("d.yaml/inner"));
        assert!(!m.matches("d/a.yaml"));
        assert_eq!(
            split_literal_prefix("./conf/app/*.yaml"),
            ("conf/app".into(), "*.yaml".into())
        );
    }
}
