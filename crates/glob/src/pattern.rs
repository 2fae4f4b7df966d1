//! Patterns: Go's `filepath.Match` syntax for COPY wildcards, and `.dockerignore` patterns
//! exactly as moby/patternmatcher reads them, compiled to a small token list.

/// A compiled pattern. Which characters `*` and `?` may match depends on where the pattern
/// comes from: in a path (`.dockerignore`, COPY) they never match `/`; in a shell pattern
/// (`${VAR#pattern}`) they match anything.
#[derive(Debug, Clone)]
pub struct Pattern {
    toks: Vec<Tok>,
    /// `*` and `?` stop at `/`.
    paths: bool,
    /// How a `.dockerignore` pattern decides a match, as patternmatcher compiles it. `None`
    /// for COPY and shell patterns, which the tokens decide.
    docker: Option<DockerMatch>,
}

/// Why a pattern was refused. The text is Go's (`filepath.ErrBadPattern`), which Docker and
/// BuildKit print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern")]
pub struct PatternError;

/// patternmatcher's four ways to match: a pattern without wildcards is compared as it is, one
/// that only ends in `**` is a prefix, one that only starts with `**` a suffix, and any
/// other becomes a regular expression.
#[derive(Debug, Clone)]
enum DockerMatch {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Regex(regex::Regex),
}

impl DockerMatch {
    fn matches(&self, path: &str) -> bool {
        match self {
            DockerMatch::Exact(p) => path == p,
            DockerMatch::Prefix(p) => path.starts_with(p.as_str()),
            DockerMatch::Suffix(sfx) => {
                path.ends_with(sfx.as_str())
                    || sfx.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            DockerMatch::Regex(re) => re.is_match(path),
        }
    }

    /// Compiles a cleaned pattern as patternmatcher v0.6 does: `*` and `?` stop at `/`,
    /// `**` spans folders, `.+()|{}$` are escaped, and everything else (classes, `\`
    /// escapes, `^`) is handed to the regular expression as written.
    fn compile(p: &str) -> Result<DockerMatch, PatternError> {
        #[derive(PartialEq)]
        enum Kind {
            Exact,
            Prefix,
            Suffix,
            Regex,
        }
        let chars: Vec<char> = p.chars().collect();
        let mut re = String::from("^");
        let mut kind = Kind::Exact;
        let mut i = 0;
        let mut first = true;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' if chars.get(i) == Some(&'*') => {
                    i += 1;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    if i == chars.len() {
                        if kind == Kind::Exact {
                            kind = Kind::Prefix;
                        } else {
                            re.push_str(".*");
                            kind = Kind::Regex;
                        }
                    } else {
                        re.push_str("(.*/)?");
                        kind = Kind::Regex;
                    }
                    if first {
                        kind = Kind::Suffix;
                    }
                }
                '*' => {
                    re.push_str("[^/]*");
                    kind = Kind::Regex;
                }
                '?' => {
                    re.push_str("[^/]");
                    kind = Kind::Regex;
                }
                '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                    re.push('\\');
                    re.push(c);
                }
                '\\' => match chars.get(i) {
                    Some(&n) => {
                        re.push('\\');
                        re.push(n);
                        i += 1;
                        kind = Kind::Regex;
                    }
                    None => re.push('\\'),
                },
                '[' | ']' => {
                    re.push(c);
                    kind = Kind::Regex;
                }
                c => re.push(c),
            }
            first = false;
        }
        Ok(match kind {
            Kind::Exact => DockerMatch::Exact(p.to_string()),
            Kind::Prefix => DockerMatch::Prefix(p[..p.len() - 2].to_string()),
            Kind::Suffix => DockerMatch::Suffix(p[2..].to_string()),
            Kind::Regex => {
                re.push('$');
                DockerMatch::Regex(regex::Regex::new(&re).map_err(|_| PatternError)?)
            }
        })
    }
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
    /// read: `**` is two `*`, only `^` negates a class, and `\\` escapes.
    ///
    /// # Errors
    /// [`PatternError`] where `filepath.Match` reports `ErrBadPattern`: an unclosed or empty
    /// class, a class range with a missing end, a trailing `\\`.
    pub fn path(p: &str) -> Result<Pattern, PatternError> {
        Ok(Pattern {
            toks: compile(p, false)?,
            paths: true,
            docker: None,
        })
    }

    /// Compiles a `.dockerignore` pattern (already cleaned) as moby/patternmatcher does: its
    /// syntax must be valid for `filepath.Match`, and it then matches as the regular
    /// expression patternmatcher makes of it (so a class may match `/`, and only `^`
    /// negates one).
    ///
    /// # Errors
    /// [`PatternError`] for syntax `filepath.Match` refuses, or a regular expression that
    /// does not compile (`[z-a]`).
    pub fn dockerignore(p: &str) -> Result<Pattern, PatternError> {
        Ok(Pattern {
            toks: compile(p, true)?,
            paths: true,
            docker: Some(DockerMatch::compile(p)?),
        })
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
        Pattern {
            toks,
            paths: false,
            docker: None,
        }
    }

    /// Tells whether the pattern matches all of `s`.
    pub fn matches(&self, s: &str) -> bool {
        match &self.docker {
            Some(d) => d.matches(s),
            None => match_tokens(&self.toks, s, self.paths),
        }
    }

    /// Tells whether some continuation of `s` could match: `s` is consumed by a prefix of
    /// the pattern (to know whether a folder must be walked). For a `.dockerignore`
    /// pattern the tokens answer, generously: walking a folder in vain costs time, not
    /// correctness, since each file found is then asked with [`Pattern::matches`].
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
    /// `[...]`: one character in, or with `negated` not in, the ranges.
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
fn compile(p: &str, globstar: bool) -> Result<Vec<Tok>, PatternError> {
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
            '\\' => {
                lit.push(*chars.get(i).ok_or(PatternError)?);
                i += 1;
            }
            '[' => {
                let (tok, used) = parse_class(&chars[i..])?;
                flush(&mut lit, &mut toks);
                toks.push(tok);
                i += used;
            }
            c => lit.push(c),
        }
    }
    flush(&mut lit, &mut toks);
    Ok(toks)
}

/// Parses a character class after its `[`, as Go's `filepath.Match` does; returns the token
/// and the characters used (including the closing `]`). Only `^` negates: `[!a]` holds `!`
/// and `a`. A range whose ends are reversed is allowed and holds nothing.
fn parse_class(chars: &[char]) -> Result<(Tok, usize), PatternError> {
    let mut i = 0;
    let negated = chars.first() == Some(&'^');
    if negated {
        i += 1;
    }
    // One class character, `\\`-escaped or not; Go's getEsc. Something must follow it.
    let read = |i: &mut usize| -> Result<char, PatternError> {
        let mut c = *chars.get(*i).ok_or(PatternError)?;
        if c == '-' || c == ']' {
            return Err(PatternError);
        }
        *i += 1;
        if c == '\\' {
            c = *chars.get(*i).ok_or(PatternError)?;
            *i += 1;
        }
        if *i >= chars.len() {
            return Err(PatternError);
        }
        Ok(c)
    };
    let mut ranges = vec![];
    loop {
        if chars.get(i) == Some(&']') && !ranges.is_empty() {
            return Ok((Tok::Class { negated, ranges }, i + 1));
        }
        let lo = read(&mut i)?;
        let hi = if chars.get(i) == Some(&'-') {
            i += 1;
            read(&mut i)?
        } else {
            lo
        };
        ranges.push((lo, hi));
    }
}

fn class_has(negated: bool, ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != negated
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
        Tok::Class { negated, ranges } => one_char(s)
            .is_some_and(|(c, r)| class_has(*negated, ranges, c) && match_tokens(rest, r, paths)),
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
        Tok::Class { negated, ranges } => one_char(s)
            .is_some_and(|(c, r)| class_has(*negated, ranges, c) && matches_prefix(rest, r, paths)),
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
