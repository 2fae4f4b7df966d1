//! Patterns: Go's `filepath.Match` syntax, plus `**` across folders as `.dockerignore`
//! reads it, compiled to a small token list.

/// A compiled pattern. Which characters `*`, `?` and classes may match depends on where the
/// pattern comes from: in a path (`.dockerignore`, COPY) they never match `/`; in a
/// shell pattern (`${VAR#pattern}`) they match anything.
#[derive(Debug, Clone)]
pub struct Pattern {
    toks: Vec<Tok>,
    /// `*`, `?` and classes stop at `/`.
    paths: bool,
}

/// One piece of a shell pattern, as a Dockerfile's word lexer reads it (quoted characters
/// are literal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// `*`: any run of characters.
    Any,
    /// `?`: one character.
    One,
    /// A literal character.
    Lit(char),
}

impl Pattern {
    /// Compiles a path pattern with Go's `filepath.Match` syntax, as COPY wildcards are
    /// read: `**` is two `*`.
    pub fn path(p: &str) -> Pattern {
        Pattern {
            toks: compile(p, false),
            paths: true,
        }
    }

    /// Compiles a `.dockerignore` pattern (already cleaned): `filepath.Match` syntax, where
    /// `**` spans folders.
    pub fn dockerignore(p: &str) -> Pattern {
        Pattern {
            toks: compile(p, true),
            paths: true,
        }
    }

    /// Builds a shell pattern, where `*` and `?` match any character, `/` included.
    pub fn text(pieces: impl IntoIterator<Item = Piece>) -> Pattern {
        let mut toks: Vec<Tok> = vec![];
        for piece in pieces {
            match (piece, toks.last_mut()) {
                (Piece::Lit(c), Some(Tok::Lit(l))) => l.push(c),
                (Piece::Lit(c), _) => toks.push(Tok::Lit(c.to_string())),
                (Piece::Any, Some(Tok::Star)) => {}
                (Piece::Any, _) => toks.push(Tok::Star),
                (Piece::One, _) => toks.push(Tok::One),
            }
        }
        Pattern { toks, paths: false }
    }

    /// Tells whether the pattern matches all of `s`.
    pub fn matches(&self, s: &str) -> bool {
        match_tokens(&self.toks, s, self.paths)
    }

    /// Tells whether some continuation of `s` could match: `s` is consumed by a prefix of
    /// the pattern (to know whether a folder must be walked).
    pub fn matches_prefix(&self, s: &str) -> bool {
        matches_prefix(&self.toks, s, self.paths)
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

fn class_has(negated: bool, ranges: &[(char, char)], c: char, paths: bool) -> bool {
    !(paths && c == '/') && (ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != negated)
}

/// Where a `*` may stop: the end of the first folder name in a path, anywhere in text.
fn star_end(s: &str, paths: bool) -> usize {
    if paths {
        s.find('/').unwrap_or(s.len())
    } else {
        s.len()
    }
}

/// Matches the whole of `s` against the tokens.
fn match_tokens(toks: &[Tok], s: &str, paths: bool) -> bool {
    let Some((first, rest)) = toks.split_first() else {
        return s.is_empty();
    };
    match first {
        Tok::Lit(l) => s
            .strip_prefix(l.as_str())
            .is_some_and(|r| match_tokens(rest, r, paths)),
        Tok::One => {
            one_char(s).is_some_and(|(c, r)| !(paths && c == '/') && match_tokens(rest, r, paths))
        }
        Tok::Class { negated, ranges } => one_char(s).is_some_and(|(c, r)| {
            class_has(*negated, ranges, c, paths) && match_tokens(rest, r, paths)
        }),
        Tok::Star => {
            let seg_end = star_end(s, paths);
            if rest.is_empty() {
                return seg_end == s.len();
            }
            // Try every split inside the first segment, shortest first.
            s[..seg_end]
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(seg_end))
                .any(|i| match_tokens(rest, &s[i..], paths))
        }
        Tok::Dirs => {
            match_tokens(rest, s, paths)
                || s.match_indices('/')
                    .any(|(i, _)| match_tokens(rest, &s[i + 1..], paths))
        }
        Tok::All => true,
    }
}

/// Tells whether some continuation of `s` could match the tokens, i.e. `s` is consumed
/// by a prefix of the pattern.
fn matches_prefix(toks: &[Tok], s: &str, paths: bool) -> bool {
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
                    .is_some_and(|r| matches_prefix(rest, r, paths))
            }
        }
        Tok::One => {
            one_char(s).is_some_and(|(c, r)| !(paths && c == '/') && matches_prefix(rest, r, paths))
        }
        Tok::Class { negated, ranges } => one_char(s).is_some_and(|(c, r)| {
            class_has(*negated, ranges, c, paths) && matches_prefix(rest, r, paths)
        }),
        Tok::Star => {
            let seg_end = star_end(s, paths);
            s.char_indices()
                .map(|(i, _)| i)
                .take_while(|i| *i < seg_end)
                .chain(std::iter::once(seg_end))
                .any(|i| matches_prefix(rest, &s[i..], paths))
        }
        Tok::Dirs => {
            matches_prefix(rest, s, paths)
                || s.match_indices('/')
                    .any(|(i, _)| matches_prefix(rest, &s[i + 1..], paths))
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
pub fn has_wildcards(s: &str) -> bool {
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
