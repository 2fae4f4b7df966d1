//! `base`, `dir`, `clean`, `ext`, `isAbs`: Go's `path` functions, slash-separated and
//! purely lexical. The `os*` variants are Go's `path/filepath` on Linux, which gives the
//! same answers.

use slipway_template::{FuncResult, Value};

use super::args;

/// `path.Clean`: the shortest equivalent path (no `.`, no `x/..`, no repeated `/`).
pub(super) fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|&l| l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `path.Base`: the last element, trailing slashes ignored.
fn base_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    match trimmed.rfind('/') {
        Some(i) => trimmed[i + 1..].to_owned(),
        None => trimmed.to_owned(),
    }
}

/// `path.Dir`: all but the last element, cleaned.
fn dir_path(p: &str) -> String {
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    clean_path(dir)
}

/// `path.Ext`: from the last dot of the last element, or "".
fn ext_path(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        match c {
            '/' => break,
            '.' => return p[i..].to_owned(),
            _ => {}
        }
    }
    String::new()
}

/// `base p` (and `osBase`).
pub(super) fn base(a: &[Value]) -> FuncResult {
    Ok(Value::from(base_path(args::string(&a[0]))))
}

/// `dir p` (and `osDir`).
pub(super) fn dir(a: &[Value]) -> FuncResult {
    Ok(Value::from(dir_path(args::string(&a[0]))))
}

/// `clean p` (and `osClean`).
pub(super) fn clean(a: &[Value]) -> FuncResult {
    Ok(Value::from(clean_path(args::string(&a[0]))))
}

/// `ext p` (and `osExt`).
pub(super) fn ext(a: &[Value]) -> FuncResult {
    Ok(Value::from(ext_path(args::string(&a[0]))))
}

/// `isAbs p` (and `osIsAbs`).
pub(super) fn is_abs(a: &[Value]) -> FuncResult {
    Ok(Value::Bool(args::string(&a[0]).starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Go's path package answers.
    #[test]
    fn works_as_go_path_does() {
        for (p, clean, base, dir, ext) in [
            ("", ".", ".", ".", ""),
            ("/", "/", "/", "/", ""),
            ("a/b/../c/./d/", "a/c/d", "d", "a/b/../c/./d", ""),
            ("/../a", "/a", "a", "/..", ""),
            ("../../x", "../../x", "x", "../..", ""),
            ("a/..", ".", "..", "a", "."),
            (
                "dir/file.tar.gz",
                "dir/file.tar.gz",
                "file.tar.gz",
                "dir",
                ".gz",
            ),
            ("//a//b//", "/a/b", "b", "/a/b", ""),
            ("a.b/c", "a.b/c", "c", "a.b", ""),
        ] {
            assert_eq!(clean_path(p), clean, "clean {p:?}");
            assert_eq!(base_path(p), base, "base {p:?}");
            assert_eq!(dir_path(p), clean_path(dir), "dir {p:?}");
            assert_eq!(ext_path(p), ext, "ext {p:?}");
        }
    }
}
