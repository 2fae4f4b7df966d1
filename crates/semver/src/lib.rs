//! Tag filtering by semantic-version range, as `skopeo sync` does it for
//! `images-by-semver`: the rules of Go's `github.com/Masterminds/semver/v3` v3.4.0, the
//! library skopeo calls (`NewConstraint` for the range, `NewVersion` then `Check` for each
//! tag), written again here in Rust.
//!
//! What it is for: deciding, exactly as skopeo would, which tags of a repository a range
//! such as `>= 1.4, < 2 || ~3.1` selects. What it is not for: sorting versions, or the
//! strict Semantic Versioning 2.0 grammar (the Go library is looser, and so is this).
//!
//! ```
//! use slipway_semver::Constraints;
//! let range: Constraints = ">= 1.4, < 2".parse().unwrap();
//! assert!(range.matches("v1.5"));
//! assert!(!range.matches("1.5.0-rc.1")); // prereleases only when the range names one
//! assert!(!range.matches("latest"));     // tags that are not versions never match
//! ```
//!
//! The rules, in short (`tests/semver.rs` checks them against the Go library itself):
//!
//! - A tag is a version when it is an optional lowercase `v`, one to three dot-separated
//!   numbers (missing ones are 0, leading zeros are allowed, each fits in 64 bits), an
//!   optional `-prerelease` and an optional `+metadata`, both dot-separated identifiers of
//!   `[0-9A-Za-z-]`. A numeric prerelease identifier must not start with 0.
//! - A range is alternatives separated by `||`; each alternative is comparisons that must
//!   all hold, separated by spaces or one comma. A comparison is an operator (`=`, `!=`,
//!   `>`, `<`, `>=`, `=>`, `<=`, `=<`, `~`, `~>`, `^`, or none, which means `=`) and a
//!   version in which a missing or `x`/`X`/`*` part is a wildcard. `A - B` is rewritten to
//!   `>= A, <= B` before anything else.
//! - A prerelease tag matches only alternatives where some comparison names a prerelease.
//! - Wildcards behave per operator: `1.2.x` and `=1.2` are `~1.2`; `>1.2` needs a larger
//!   minor; `<=1.2` allows all of 1.2; `<1.x` is `<1.0.0`; `!=1.x` excludes all of 1.
//!   Carets and tildes follow npm's reading, with the Go library's own exceptions
//!   (`^*` is exactly 0.0.0, `<=*` is 0.0.z, `!=*` excludes only 0.0.0), kept on purpose.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A parsed version range: tags are checked with [`Constraints::matches`].
#[derive(Clone, Debug)]
pub struct Constraints {
    text: String,
    alternatives: Vec<Alternative>,
}

/// Says why a range was refused, in words for the user (without repeating the whole range).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstraintError {
    message: String,
}

impl fmt::Display for ConstraintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConstraintError {}

fn refuse(message: String) -> ConstraintError {
    ConstraintError { message }
}

/// One side of `||`: comparisons that must all hold.
#[derive(Clone, Debug)]
struct Alternative {
    terms: Vec<Term>,
    /// Some comparison names a prerelease, so prerelease tags may match here.
    prereleases: bool,
}

/// One comparison, such as `>= 1.2`.
#[derive(Clone, Debug)]
struct Term {
    op: Op,
    /// The version written, with wildcard and missing parts as 0 and metadata dropped.
    bound: Version,
    wildcard: Wildcard,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// `=` or no operator.
    Equal,
    /// `!=`.
    NotEqual,
    /// `>`.
    Greater,
    /// `<`.
    Less,
    /// `>=` or `=>`.
    AtLeast,
    /// `<=` or `=<`.
    AtMost,
    /// `~` or `~>`.
    Tilde,
    /// `^`.
    Caret,
}

/// The first part of the bound that was a wildcard (`x`, `X`, `*`) or missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wildcard {
    /// `1.2.3`: none.
    None,
    /// `*`, `x.1.2`: everything from the major number on.
    Major,
    /// `1`, `1.x`: the minor number on.
    Minor,
    /// `1.2`, `1.2.*`: the patch number.
    Patch,
}

/// A version as the Go library reads a tag: build metadata plays no part in comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
}

impl Constraints {
    /// True when `tag` reads as a version and one alternative of the range holds for it.
    pub fn matches(&self, tag: &str) -> bool {
        let Some(v) = Version::parse_tag(tag) else {
            return false;
        };
        self.alternatives
            .iter()
            .any(|alt| alt.terms.iter().all(|t| t.allows(&v, alt.prereleases)))
    }
}

impl fmt::Display for Constraints {
    /// Shows the range as it was written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Constraints {
    type Err = ConstraintError;

    /// Reads a range as `semver.NewConstraint` does, refusing what it refuses.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let expanded = expand_hyphen_ranges(text);
        let alternatives = expanded
            .split("||")
            .map(parse_alternative)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Constraints {
            text: text.to_string(),
            alternatives,
        })
    }
}

// ---- characters -------------------------------------------------------------------------

/// The spaces of Go's `\s`: not vertical tab, nothing beyond ASCII.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// What a number of a range's version may be spelled with. The `|` is the Go library's
/// (a stray one in its character class); a lone `|` passes the syntax check and is then
/// refused as not a number, unless it sits in a part a wildcard makes irrelevant.
fn is_range_digit(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'x' | b'X' | b'*' | b'|')
}

/// A character of a prerelease or metadata identifier.
fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn is_op_char(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'<' | b'>' | b'~' | b'^')
}

/// How many bytes from `at` on satisfy `keep`.
fn run(s: &[u8], at: usize, keep: impl Fn(u8) -> bool) -> usize {
    s.get(at..)
        .map_or(0, |rest| rest.iter().take_while(|b| keep(**b)).count())
}

/// Skips `.IDENT` groups from `at` while each has at least one character of `keep`.
fn dotted(s: &[u8], mut at: usize, keep: impl Fn(u8) -> bool + Copy) -> usize {
    while s.get(at) == Some(&b'.') {
        let n = run(s, at + 1, keep);
        if n == 0 {
            break;
        }
        at += 1 + n;
    }
    at
}

/// Reads a range's version from `at`, each part taking as much as it can, and returns
/// where it ends: `v`, numbers (digits or wildcards, at most three), `-prerelease`,
/// `+metadata`. A version written in a range ends here or is not one.
fn scan_range_version(s: &[u8], at: usize) -> Option<usize> {
    let mut i = at + usize::from(s.get(at) == Some(&b'v'));
    let n = run(s, i, is_range_digit);
    if n == 0 {
        return None;
    }
    i += n;
    for _ in 0..2 {
        let n = if s.get(i) == Some(&b'.') {
            run(s, i + 1, is_range_digit)
        } else {
            0
        };
        if n == 0 {
            break;
        }
        i += 1 + n;
    }
    for lead in [b'-', b'+'] {
        if s.get(i) == Some(&lead) {
            let n = run(s, i + 1, is_ident);
            if n > 0 {
                i = dotted(s, i + 1 + n, is_ident);
            }
        }
    }
    Some(i)
}

/// True when all of `word` is one version as a range writes it.
fn is_range_version(word: &str) -> bool {
    scan_range_version(word.as_bytes(), 0) == Some(word.len())
}

// ---- hyphen ranges ----------------------------------------------------------------------

/// Rewrites every `A - B` to `>= A, <= B `, as the Go library does before anything else.
/// It finds them left to right in the whole text (before `||` is split), each taking the
/// spaces around it, then replaces the first place each found text occurs.
fn expand_hyphen_ranges(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut found = vec![];
    let mut at = 0;
    while at < bytes.len() {
        match hyphen_range_at(bytes, at) {
            Some((end, low, high)) => {
                found.push((
                    &text[at..end],
                    format!(">= {}, <= {} ", &text[low.0..low.1], &text[high.0..high.1]),
                ));
                at = end;
            }
            None => at += 1,
        }
    }
    let mut out = text.to_string();
    for (whole, replacement) in found {
        out = out.replacen(whole, &replacement, 1);
    }
    out
}

/// Where a piece of the text starts and ends.
type Span = (usize, usize);

/// A hyphen range starting at `at` (spaces first allowed): its end, with its spaces after,
/// and where its two versions are.
fn hyphen_range_at(s: &[u8], at: usize) -> Option<(usize, Span, Span)> {
    let low_start = at + run(s, at, is_space);
    // The low version reaches the next space, which must exist.
    let low_end = low_start + run(s, low_start, |b| !is_space(b));
    if low_end == low_start || low_end >= s.len() {
        return None;
    }
    if scan_range_version(s, low_start) != Some(low_end) {
        return None;
    }
    let mut i = low_end + run(s, low_end, is_space);
    if s.get(i) != Some(&b'-') {
        return None;
    }
    i += 1;
    let gap = run(s, i, is_space);
    if gap == 0 {
        return None;
    }
    i += gap;
    // The high version is whatever version starts here, as long as it runs.
    let high_end = scan_range_version(s, i)?;
    let end = high_end + run(s, high_end, is_space);
    Some((end, (low_start, low_end), (i, high_end)))
}

// ---- one alternative --------------------------------------------------------------------

/// Reads the comparisons of one side of `||`: each an operator and a version, spaces
/// allowed between them; comparisons separated by spaces or one comma.
fn parse_alternative(part: &str) -> Result<Alternative, ConstraintError> {
    let s = part.as_bytes();
    let word_end = |from: usize| from + run(s, from, |b| !is_space(b) && b != b',');
    let mut terms = vec![];
    let mut i = run(s, 0, is_space);
    loop {
        let end = word_end(i);
        if end == i {
            return Err(refuse(if terms.is_empty() && i == s.len() {
                "no version to compare with (an empty range, or an empty side of `||`)".to_string()
            } else if i == s.len() {
                "nothing follows the last `,`".to_string()
            } else {
                "a `,` has no comparison before it".to_string()
            }));
        }
        let word = &part[i..end];
        let op_len = run(word.as_bytes(), 0, is_op_char);
        let op = parse_op(&word[..op_len]).ok_or_else(|| {
            refuse(format!(
                "`{word}` is not a comparison: operators are =, !=, >, <, >=, <=, ~, ~>, ^"
            ))
        })?;
        let (version, next) = if op_len < word.len() {
            (&word[op_len..], end)
        } else {
            let from = end + run(s, end, is_space);
            let to = word_end(from);
            if to == from {
                return Err(refuse(format!("`{word}` has no version after it")));
            }
            (&part[from..to], to)
        };
        if !is_range_version(version) {
            return Err(refuse(format!(
                "`{version}` is not a version such as 1.2.3, 1.2, 1.x or v1.2.3-rc.1"
            )));
        }
        terms.push(Term::new(op, version)?);
        i = next + run(s, next, is_space);
        if i == s.len() {
            break;
        }
        if s[i] == b',' {
            i += 1;
            i += run(s, i, is_space);
        }
    }
    let prereleases = terms.iter().any(|t| !t.bound.pre.is_empty());
    Ok(Alternative { terms, prereleases })
}

fn parse_op(op: &str) -> Option<Op> {
    Some(match op {
        "" | "=" => Op::Equal,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::AtLeast,
        "<=" | "=<" => Op::AtMost,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        _ => return None,
    })
}

fn is_wild(part: &str) -> bool {
    matches!(part, "x" | "X" | "*")
}

/// A version number: digits only (leading zeros allowed), within 64 bits.
fn number(part: &str) -> Option<u64> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// Refuses a prerelease with a numeric identifier that starts with 0 (`01`).
fn prerelease_ok(pre: &str) -> bool {
    pre.is_empty()
        || pre.split('.').all(|id| {
            !id.is_empty()
                && id.bytes().all(is_ident)
                && !(id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit()))
        })
}

impl Term {
    /// Makes a comparison of a version that [`is_range_version`] accepted.
    fn new(op: Op, written: &str) -> Result<Term, ConstraintError> {
        let text = written.strip_prefix('v').unwrap_or(written);
        let s = text.as_bytes();
        let major_end = run(s, 0, is_range_digit);
        let major = &text[..major_end];
        let mut at = major_end;
        let mut next_part = || {
            if s.get(at) != Some(&b'.') {
                return None;
            }
            let n = run(s, at + 1, is_range_digit);
            let part = &text[at + 1..at + 1 + n];
            at += 1 + n;
            Some(part)
        };
        let minor = next_part();
        let patch = next_part();
        let rest = &text[at..];
        let pre = match rest.strip_prefix('-') {
            Some(p) => p.split('+').next().unwrap_or(""),
            None => "",
        };
        let num = |part: &str| {
            number(part).ok_or_else(|| {
                refuse(if part.bytes().all(|b| b.is_ascii_digit()) {
                    format!("`{written}`: {part} is too large for a version number")
                } else {
                    format!("`{written}`: `{part}` is neither a number nor a wildcard (x, X, *)")
                })
            })
        };
        let (wildcard, major, minor, patch) = if is_wild(major) {
            (Wildcard::Major, 0, 0, 0)
        } else {
            match (minor, patch) {
                (None, _) => (Wildcard::Minor, num(major)?, 0, 0),
                (Some(m), _) if is_wild(m) => (Wildcard::Minor, num(major)?, 0, 0),
                (Some(m), None) => (Wildcard::Patch, num(major)?, num(m)?, 0),
                (Some(m), Some(p)) if is_wild(p) => (Wildcard::Patch, num(major)?, num(m)?, 0),
                (Some(m), Some(p)) => (Wildcard::None, num(major)?, num(m)?, num(p)?),
            }
        };
        if !prerelease_ok(pre) {
            return Err(refuse(format!(
                "`{written}`: a numeric prerelease identifier must not start with 0"
            )));
        }
        Ok(Term {
            op,
            bound: Version {
                major,
                minor,
                patch,
                pre: pre.to_string(),
            },
            wildcard,
        })
    }

    /// Whether `v` passes this comparison; `prereleases` says whether the alternative
    /// lets prerelease versions through at all.
    fn allows(&self, v: &Version, prereleases: bool) -> bool {
        if !v.pre.is_empty() && !prereleases {
            return false;
        }
        let b = &self.bound;
        let w = self.wildcard;
        match self.op {
            Op::Equal if w == Wildcard::None => v.cmp_version(b) == Ordering::Equal,
            Op::Equal | Op::Tilde => tilde(v, b, w),
            Op::NotEqual => not_equal(v, b, w),
            Op::Greater => {
                if w == Wildcard::None || w == Wildcard::Major {
                    // `>*` compares with 0.0.0, as an exact version would.
                    return v.cmp_version(b) == Ordering::Greater;
                }
                match v.major.cmp(&b.major) {
                    Ordering::Greater => true,
                    Ordering::Less => false,
                    // `>1` or `>1.x`: nothing in 1 is greater.
                    Ordering::Equal if w == Wildcard::Minor => false,
                    // `>1.2`: the minor must be larger.
                    Ordering::Equal => v.minor > b.minor,
                }
            }
            // Wildcards play no part: `<1.x` is `<1.0.0`.
            Op::Less => v.cmp_version(b) == Ordering::Less,
            Op::AtLeast => v.cmp_version(b) != Ordering::Less,
            Op::AtMost => {
                if w == Wildcard::None {
                    return v.cmp_version(b) != Ordering::Greater;
                }
                // Only the numbers before the wildcard count: `<=1.2` allows all of 1.2,
                // prereleases too. `<=*` (a bound of 0.0.0) so allows 0.0.z only.
                !(v.major > b.major
                    || (v.major == b.major && v.minor > b.minor && w != Wildcard::Minor))
            }
            Op::Caret => caret(v, b, w),
        }
    }
}

/// `~1.2.3` is `>=1.2.3, <1.3.0`; `~1` and `~1.x` are `>=1.0.0, <2.0.0`; `~0`, `~0.0`
/// and `~0.0.0` compare with 0.0.0 differently: `~0.0.0` and `~*` allow everything.
fn tilde(v: &Version, b: &Version, w: Wildcard) -> bool {
    if v.cmp_version(b) == Ordering::Less {
        return false;
    }
    let zero = b.major == 0 && b.minor == 0 && b.patch == 0;
    if zero && matches!(w, Wildcard::None | Wildcard::Major) {
        return true;
    }
    v.major == b.major && (v.minor == b.minor || w == Wildcard::Minor)
}

/// `^1.2.3` is `>=1.2.3, <2.0.0`; `^0.2.3` is `>=0.2.3, <0.3.0`; `^0.0.3` is exactly
/// 0.0.3 (prereleases aside); `^1.x` is `>=1.0.0, <2.0.0`; `^0.x` is `<1.0.0`; `^0.0`
/// (and `^0.0.x`) is `<0.1.0`. `^*` has a bound of 0.0.0 and nothing fixed, so it is
/// exactly 0.0.0.
fn caret(v: &Version, b: &Version, w: Wildcard) -> bool {
    if v.cmp_version(b) == Ordering::Less {
        return false;
    }
    if b.major > 0 || w == Wildcard::Minor {
        return v.major == b.major;
    }
    if v.major > 0 {
        return false;
    }
    if b.minor > 0 || w == Wildcard::Patch {
        return v.minor == b.minor;
    }
    v.minor == 0 && v.patch == b.patch
}

/// `!=1.2.3` excludes that version; `!=1.x` all of 1; `!=1.2.x` all of 1.2 without a
/// prerelease, or with the bound's own prerelease. `!=*` excludes 0.0.0 only.
fn not_equal(v: &Version, b: &Version, w: Wildcard) -> bool {
    if w == Wildcard::None {
        return v.cmp_version(b) != Ordering::Equal;
    }
    if v.major != b.major {
        return true;
    }
    match w {
        Wildcard::Minor => false,
        Wildcard::Patch => {
            v.minor != b.minor
                || ((!v.pre.is_empty() || !b.pre.is_empty())
                    && compare_prereleases(&v.pre, &b.pre) != Ordering::Equal)
        }
        _ => v.minor != b.minor || v.patch != b.patch || v.cmp_version(b) != Ordering::Equal,
    }
}

impl Version {
    /// Reads a tag as `semver.NewVersion` does (its default, lenient mode), or `None`.
    fn parse_tag(tag: &str) -> Option<Version> {
        let text = tag.strip_prefix('v').unwrap_or(tag);
        let s = text.as_bytes();
        let digits = |at: usize| run(s, at, |b| b.is_ascii_digit());
        let n = digits(0);
        if n == 0 {
            return None;
        }
        let mut numbers = [number(&text[..n])?, 0, 0];
        let mut at = n;
        for slot in &mut numbers[1..] {
            if s.get(at) != Some(&b'.') {
                break;
            }
            let n = digits(at + 1);
            if n == 0 {
                break;
            }
            *slot = number(&text[at + 1..at + 1 + n])?;
            at += 1 + n;
        }
        let rest = &text[at..];
        let (pre, metadata) = match rest.split_once('+') {
            Some((before, after)) => (before, Some(after)),
            None => (rest, None),
        };
        let pre = match pre.strip_prefix('-') {
            Some(p) if !p.is_empty() && prerelease_ok(p) => p,
            None if pre.is_empty() => "",
            _ => return None,
        };
        if let Some(m) = metadata
            && !m
                .split('.')
                .all(|id| !id.is_empty() && id.bytes().all(is_ident))
        {
            return None;
        }
        Some(Version {
            major: numbers[0],
            minor: numbers[1],
            patch: numbers[2],
            pre: pre.to_string(),
        })
    }

    /// Orders by the numbers, then a version without prerelease after one with.
    fn cmp_version(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prereleases(&self.pre, &other.pre),
            })
    }
}

/// Compares prereleases identifier by identifier; a missing identifier is lower, numbers
/// (those that fit 64 bits) are lower than words and compare as numbers, words compare by
/// bytes.
fn compare_prereleases(a: &str, b: &str) -> Ordering {
    let mut a = a.split('.');
    let mut b = b.split('.');
    loop {
        let (x, y) = match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (x, y) => (x.unwrap_or(""), y.unwrap_or("")),
        };
        let order = match (x.is_empty(), y.is_empty()) {
            _ if x == y => Ordering::Equal,
            (true, _) => Ordering::Less,
            (_, true) => Ordering::Greater,
            _ => match (number(x), number(y)) {
                (Some(p), Some(q)) => p.cmp(&q),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => x.cmp(y),
            },
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyphen_ranges_are_rewritten_in_place() {
        assert_eq!(expand_hyphen_ranges("2 - 3"), ">= 2, <= 3 ");
        assert_eq!(
            expand_hyphen_ranges("1.0.0 - 2.0.0 <=2.0.0"),
            ">= 1.0.0, <= 2.0.0 <=2.0.0"
        );
        assert_eq!(expand_hyphen_ranges("2-3"), "2-3");
        assert_eq!(expand_hyphen_ranges("1.2.3.4 - 5"), "1.>= 2.3.4, <= 5 ");
    }

    #[test]
    fn tags_read_loosely() {
        let v = |t: &str| Version::parse_tag(t).map(|v| (v.major, v.minor, v.patch, v.pre));
        assert_eq!(v("v1.2"), Some((1, 2, 0, String::new())));
        assert_eq!(v("01.2.3"), Some((1, 2, 3, String::new())));
        assert_eq!(v("1.2.3-rc.1+b"), Some((1, 2, 3, "rc.1".into())));
        assert_eq!(v("1.2.3-01"), None);
        assert_eq!(v("1.2.3.4"), None);
        assert_eq!(v("V1"), None);
        assert_eq!(v("1+a+b"), None);
        assert_eq!(v("18446744073709551616"), None);
    }

    #[test]
    fn prereleases_order_numbers_before_words() {
        assert_eq!(compare_prereleases("alpha.2", "alpha.10"), Ordering::Less);
        assert_eq!(compare_prereleases("alpha", "alpha.1"), Ordering::Less);
        assert_eq!(compare_prereleases("1", "a"), Ordering::Less);
        assert_eq!(compare_prereleases("beta.-3", "beta.5"), Ordering::Greater);
    }
}
