//! The glob crate's tests: `.dockerignore` and COPY planning against Docker's rules.

use super::*;
use crate::copy::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

fn excluded(patterns: &str, paths: &[&str]) -> Vec<bool> {
    let ig = DockerIgnore::parse(patterns).unwrap();
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
    // Docker refuses a lone `!`, naming the line.
    let e = DockerIgnore::parse("a\n  ! \n").unwrap_err().to_string();
    assert_eq!(
        e,
        ".dockerignore:2: illegal exclusion pattern: \"!\": \"  ! \""
    );
}

#[test]
fn classes_and_escapes() {
    assert_eq!(
        excluded("[a-c]x\n", &["ax", "bx", "cx", "dx", "abx"]),
        [true, true, true, false, false]
    );
    assert_eq!(excluded("[^a]y\n", &["ay", "by"]), [false, true]);
    // Only `^` negates, as in Go: `[!a]` holds `!` and `a`.
    assert_eq!(
        excluded("[!a]y\n", &["ay", "!y", "by"]),
        [true, true, false]
    );
    assert_eq!(
        excluded("[ab\\]]z\n", &["az", "]z", "cz"]),
        [true, true, false]
    );
    assert_eq!(excluded("?\n", &["a", "ab", "é"]), [true, false, true]);
    // patternmatcher hands classes to a regular expression, so one may match `/`.
    assert_eq!(
        excluded("a[^x]b\n", &["a/b", "acb", "axb"]),
        [true, true, false]
    );
    assert_eq!(excluded("\\*star\n", &["*star", "xstar"]), [true, false]);
    assert_eq!(excluded("a\\?\n", &["a?", "ab"]), [true, false]);
    assert_eq!(excluded("\\#hash\n", &["#hash"]), [true]);
    assert_eq!(excluded("\\[x]\n", &["[x]", "x"]), [true, false]);
    // A malformed pattern is refused, as `filepath.Match` refuses it.
    for bad in [
        "[oops", "a[", "[", "[]", "[^]", "[a-]", "[-a]", "x\\", "[z-a]",
    ] {
        let e = DockerIgnore::parse(&format!("ok\n{bad}\n"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(".dockerignore:2: syntax error in pattern: {bad:?}")
        );
        assert!(Pattern::dockerignore(bad).is_err(), "{bad}");
    }
    // COPY wildcards follow `filepath.Match` itself: a reversed range holds nothing.
    assert!(!Pattern::path("[z-a]").unwrap().matches("m"));
    assert!(Pattern::path("[!a]").unwrap().matches("!"));
    assert!(Pattern::path("a[").is_err());
    // Regex specials are plain characters.
    assert_eq!(
        excluded("a.b+(c)|{d}$\n", &["a.b+(c)|{d}$", "axb+(c)|{d}$"]),
        [true, false]
    );
}

#[test]
fn exceptions_decide_which_excluded_folders_are_walked() {
    let ig = DockerIgnore::parse("dir\n!dir/sub/keep.txt\n").unwrap();
    assert!(ig.may_reinclude_below("dir"));
    assert!(ig.may_reinclude_below("dir/sub"));
    assert!(!ig.may_reinclude_below("dir/other"));
    assert!(!ig.may_reinclude_below("else"));
    let ig = DockerIgnore::parse("dir\n!**/keep\n").unwrap();
    assert!(ig.may_reinclude_below("dir/x/y"));
    let ig = DockerIgnore::parse("dir\n!d*/k?ep\n").unwrap();
    assert!(ig.may_reinclude_below("dir"));
    assert!(!ig.may_reinclude_below("dir/a"));
    assert!(
        !DockerIgnore::parse("dir\n")
            .unwrap()
            .may_reinclude_below("dir")
    );
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
    let ig = ignore.map(|t| DockerIgnore::parse(t).unwrap());
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

#[test]
fn shell_patterns_cross_folders_and_path_patterns_do_not() {
    let text = |pattern: &str, s: &str| {
        Pattern::text(pattern.chars().map(|c| match c {
            '*' => Piece::Any,
            '?' => Piece::One,
            c => Piece::Lit(c),
        }))
        .matches(s)
    };
    assert!(text("", ""));
    assert!(text("*", ""));
    assert!(text("a*c", "abbbc"));
    assert!(text("a*b*c", "axbyc"));
    assert!(!text("a*c", "abcd"));
    assert!(text("?é", "xé"));
    assert!(!text("?", ""));
    // `${VAR#*/}` strips through a `/`; a COPY wildcard stops at one.
    assert!(text("*/", "usr/local/"));
    assert!(text("a?c", "a/c"));
    assert!(!Pattern::path("*/").unwrap().matches("usr/local/"));
    assert!(!Pattern::path("a?c").unwrap().matches("a/c"));
    assert!(Pattern::path("a?c").unwrap().matches("abc"));
    assert!(Pattern::dockerignore("**/x").unwrap().matches("a/b/x"));
    assert!(!Pattern::path("**/x").unwrap().matches("a/b/x"));
}
