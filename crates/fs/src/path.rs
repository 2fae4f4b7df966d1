//! Paths inside an image and inside a build context, cleaned lexically as Docker, BuildKit
//! and Go clean them: `/`-separated, no `.`, no doubled `/`. What differs between the places
//! that clean is only what `..` may do, so that is the one choice ([`DotDot`]).

/// What a `..` segment may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DotDot {
    /// Step up, and stay at the root when already there (`/..` is `/`), as paths in a
    /// container resolve.
    Clamp,
    /// Step up; stepping above the start is an escape.
    Inside,
    /// Any `..` is refused (paths written into a layer).
    Refuse,
}

/// One part of a path, as [`clean_parts`] sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part<T> {
    /// Nothing (`.`, an empty segment, the root).
    Skip,
    /// `..`.
    Up,
    /// A name.
    Name(T),
}

/// Says that a `..` went where `DotDot` forbids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Escape;

/// Cleans a sequence of path parts: the names left once `.` and empty parts are dropped
/// and each `..` is applied by the rule `dotdot`.
///
/// # Errors
/// [`Escape`] for a `..` that [`DotDot::Inside`] or [`DotDot::Refuse`] forbids.
pub fn clean_parts<T>(
    parts: impl IntoIterator<Item = Part<T>>,
    dotdot: DotDot,
) -> Result<Vec<T>, Escape> {
    let mut out = Vec::new();
    for p in parts {
        match p {
            Part::Skip => {}
            Part::Name(n) => out.push(n),
            Part::Up => match dotdot {
                DotDot::Clamp => {
                    out.pop();
                }
                DotDot::Inside => {
                    out.pop().ok_or(Escape)?;
                }
                DotDot::Refuse => return Err(Escape),
            },
        }
    }
    Ok(out)
}

fn parts(path: &str) -> impl Iterator<Item = Part<&str>> {
    path.split('/').map(|s| match s {
        "" | "." => Part::Skip,
        ".." => Part::Up,
        s => Part::Name(s),
    })
}

/// Returns the names of a `/`-separated path, cleaned by the rule `dotdot`.
///
/// # Errors
/// [`Escape`] for a `..` the rule forbids.
pub fn segments(path: &str, dotdot: DotDot) -> Result<Vec<&str>, Escape> {
    clean_parts(parts(path), dotdot)
}

/// Joins `p` to the folder `base` as `WORKDIR`, `COPY` destinations and Go's `path.Join`
/// on an absolute base do: an absolute `p` replaces `base`, and the result is absolute and
/// clean, with `..` stopping at the root.
pub fn join(base: &str, p: &str) -> String {
    let base = if p.starts_with('/') { "" } else { base };
    let names = clean_parts(parts(base).chain(parts(p)), DotDot::Clamp).unwrap_or_default();
    format!("/{}", names.join("/"))
}

/// Cleans a path exactly as Go's `path.Clean` (and `filepath.Clean` on Unix): a relative
/// path keeps the `..` it cannot resolve, the root absorbs the ones it can, and the empty
/// result is `.`.
pub fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = vec![];
    for part in parts(p) {
        match part {
            Part::Skip => {}
            Part::Name(n) => out.push(n),
            Part::Up => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `cleantests`, the table of Go's own `path.Clean` tests, from the Go toolchain
    /// on this machine: `(input, want)` pairs.
    fn go_clean_table() -> Vec<(String, String)> {
        let go = ["go", "/usr/local/go/bin/go"]
            .into_iter()
            .find(|g| {
                std::process::Command::new(g)
                    .arg("version")
                    .output()
                    .is_ok()
            })
            .expect("Go must be installed: its path.Clean tests are this test's oracle");
        let out = std::process::Command::new(go)
            .args(["env", "GOROOT"])
            .output()
            .expect("go env GOROOT");
        let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let file = std::path::Path::new(&root).join("src/path/path_test.go");
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let start = text
            .find("var cleantests = ")
            .expect("Go's cleantests table");
        let body = &text[start..start + text[start..].find("\n}").expect("its end")];
        body.lines()
            .filter_map(|l| {
                let l = l.trim().strip_prefix('{')?.strip_suffix("},")?;
                let (a, b) = l.split_once(", ")?;
                Some((
                    a.trim_matches('"').to_string(),
                    b.trim_matches('"').to_string(),
                ))
            })
            .collect()
    }

    #[test]
    fn clean_is_gos_path_clean() {
        let table = go_clean_table();
        assert!(table.len() > 20, "Go's table was not read: {table:?}");
        for (input, want) in table {
            assert_eq!(clean(&input), want, "{input:?}");
        }
    }

    #[test]
    fn join_and_segments_apply_their_dotdot_rule() {
        assert_eq!(join("/app", "bin/../etc//x"), "/app/etc/x");
        assert_eq!(join("/app", "/abs/./y"), "/abs/y");
        assert_eq!(join("/", "../../x"), "/x");
        assert_eq!(join("/a", "."), "/a");
        assert_eq!(join("", ""), "/");
        assert_eq!(
            segments("a/./b//c/../d", DotDot::Inside).unwrap(),
            ["a", "b", "d"]
        );
        assert_eq!(segments("a/../../b", DotDot::Inside), Err(Escape));
        assert_eq!(segments("/../x", DotDot::Clamp).unwrap(), ["x"]);
        assert_eq!(segments("a/../b", DotDot::Refuse), Err(Escape));
        assert_eq!(segments("/a/b/", DotDot::Refuse).unwrap(), ["a", "b"]);
    }
}
