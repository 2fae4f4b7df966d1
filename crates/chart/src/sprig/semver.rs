//! `semver` and `semverCompare`: semantic versions and ranges with the rules of
//! `github.com/Masterminds/semver/v3` (v3.5.0, the version Helm builds with): loose
//! versions (`v1.2` is 1.2.0), ranges with `||`, commas, `-` spans, wildcards, `~` and
//! `^`, and prereleases matched only by ranges that name one.
//!
//! The registry crate has its own copy of these rules for tag filtering; the two cannot
//! share code (chart does not depend on registry), so this one is kept small: it uses the
//! library's own regular expressions.

use std::cmp::Ordering;
use std::rc::Rc;
use std::sync::LazyLock;

use regex::Regex;
use slipway_template::{FuncResult, Object, Value};

use super::args;

/// The Go type `semver` returns.
pub(super) const VERSION_TYPE: &str = "*semver.Version";
/// The Go type `IncPatch` and friends return.
pub(super) const VERSION_VALUE_TYPE: &str = "semver.Version";

const MAX_VERSION_LEN: usize = 256;
const MAX_CONSTRAINT_LEN: usize = 512;
const MAX_CONSTRAINT_GROUPS: usize = 32;

// Go's `\s` is `[\t\n\f\r ]`; written out, as Rust's `\s` is Unicode's.
const SPACE: &str = r"[\t\n\f\r ]";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("a fixed pattern: {e}"))
}

static LOOSE_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$",
    )
});
static CONSTRAINT: LazyLock<Regex> =
    LazyLock::new(|| regex(&format!(r"^{SPACE}*({OPS}){SPACE}*({CV}){SPACE}*$")));
static CONSTRAINT_RANGE: LazyLock<Regex> =
    LazyLock::new(|| regex(&format!(r"{SPACE}*({CV}){SPACE}+-{SPACE}+({CV}){SPACE}*")));
static FIND_CONSTRAINT: LazyLock<Regex> =
    LazyLock::new(|| regex(&format!(r"({OPS}){SPACE}*({CV})")));
static VALID_CONSTRAINT: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^({SPACE}*({OPS}){SPACE}*({CV}){SPACE}*)((?:{SPACE}+|,{SPACE}*)({OPS}){SPACE}*({CV}){SPACE}*)*$"
    ))
});

/// Compiles the patterns now, so that the first `semver` or `semverCompare` does not.
pub(crate) fn prepare() {
    for re in [
        &LOOSE_VERSION,
        &CONSTRAINT,
        &CONSTRAINT_RANGE,
        &FIND_CONSTRAINT,
        &VALID_CONSTRAINT,
    ] {
        LazyLock::force(re);
    }
}

/// A parsed version.
#[derive(Clone, Debug)]
pub(super) struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    metadata: String,
    original: String,
}

fn parse_segment(s: &str) -> Result<u64, String> {
    s.parse::<u64>().map_err(|_| {
        format!(
            "error parsing version segment: strconv.ParseUint: parsing {}: value out of range",
            slipway_template::fmt::quote(s)
        )
    })
}

fn validate_prerelease(p: &str) -> Result<(), String> {
    for part in p.split('.') {
        if part.is_empty() {
            return Err("invalid prerelease string".into());
        }
        if part.bytes().all(|b| b.is_ascii_digit()) {
            if part.len() > 1 && part.starts_with('0') {
                return Err("version segment starts with 0".into());
            }
        } else if !part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("invalid prerelease string".into());
        }
    }
    Ok(())
}

impl Version {
    /// `semver.NewVersion`.
    pub(super) fn parse(v: &str) -> Result<Version, String> {
        if v.len() > MAX_VERSION_LEN {
            return Err(format!(
                "version string is too long (max {MAX_VERSION_LEN} bytes)"
            ));
        }
        let m = LOOSE_VERSION
            .captures(v)
            .ok_or_else(|| "invalid semantic version".to_string())?;
        let group = |i: usize| m.get(i).map_or("", |g| g.as_str());
        let version = Version {
            major: parse_segment(group(1))?,
            minor: match group(2) {
                "" => 0,
                s => parse_segment(&s[1..])?,
            },
            patch: match group(3) {
                "" => 0,
                s => parse_segment(&s[1..])?,
            },
            pre: group(5).to_owned(),
            metadata: group(8).to_owned(),
            original: v.to_owned(),
        };
        if !version.pre.is_empty() {
            validate_prerelease(&version.pre)?;
        }
        Ok(version)
    }

    fn to_text(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }

    fn v_prefix(&self) -> &'static str {
        if self.original.starts_with('v') {
            "v"
        } else {
            ""
        }
    }

    /// `Compare`: by numbers, then prerelease (a release is larger); metadata ignored.
    fn compare(&self, o: &Version) -> Ordering {
        self.major
            .cmp(&o.major)
            .then(self.minor.cmp(&o.minor))
            .then(self.patch.cmp(&o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &o.pre),
            })
    }

    fn bumped(&self, part: u8) -> Result<Version, String> {
        let mut next = self.clone();
        next.metadata.clear();
        next.pre.clear();
        match part {
            0 if !self.pre.is_empty() => {}
            0 => {
                next.patch = self
                    .patch
                    .checked_add(1)
                    .ok_or("patch version increment would overflow uint64")?;
            }
            1 => {
                next.patch = 0;
                next.minor = self
                    .minor
                    .checked_add(1)
                    .ok_or("minor version increment would overflow uint64")?;
            }
            _ => {
                next.patch = 0;
                next.minor = 0;
                next.major = self
                    .major
                    .checked_add(1)
                    .ok_or("major version increment would overflow uint64")?;
            }
        }
        next.original = format!("{}{}", self.v_prefix(), next.to_text());
        Ok(next)
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..pa.len().max(pb.len()) {
        let s = pa.get(i).copied().unwrap_or("");
        let o = pb.get(i).copied().unwrap_or("");
        let d = compare_pre_part(s, o);
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        // Numbers sort before words.
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(x), Ok(y)) => {
            if x > y {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

struct Constraint {
    con: Version,
    op: Op,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

fn improper(c: &str) -> String {
    format!("improper constraint: {}", slipway_template::fmt::quote(c))
}

impl Constraint {
    fn parse(c: &str) -> Result<Constraint, String> {
        let m = CONSTRAINT.captures(c).ok_or_else(|| improper(c))?;
        let group = |i: usize| m.get(i).map_or("", |g| g.as_str());
        let op = match group(1) {
            "" | "=" => Op::TildeOrEqual,
            "!=" => Op::NotEqual,
            ">" => Op::Greater,
            "<" => Op::Less,
            ">=" | "=>" => Op::GreaterEqual,
            "<=" | "=<" => Op::LessEqual,
            "~" | "~>" => Op::Tilde,
            _ => Op::Caret,
        };
        let (major, minor, patch, pre) = (group(3), group(4), group(5), group(6));
        let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
        let ver = if is_x(major) || major.is_empty() {
            dirty = true;
            format!("0.0.0{pre}")
        } else if is_x(minor.trim_start_matches('.')) || minor.is_empty() {
            dirty = true;
            minor_dirty = true;
            format!("{major}.0.0{pre}")
        } else if is_x(patch.trim_start_matches('.')) || patch.is_empty() {
            dirty = true;
            patch_dirty = true;
            format!("{major}{minor}.0{pre}")
        } else {
            group(2).to_owned()
        };
        let con = Version::parse(&ver).map_err(|_| "constraint parser error".to_string())?;
        Ok(Constraint {
            con,
            op,
            minor_dirty,
            patch_dirty,
            dirty,
        })
    }

    fn tilde(&self, v: &Version) -> bool {
        if v.compare(&self.con) == Ordering::Less {
            return false;
        }
        let c = &self.con;
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }

    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let c = &self.con;
        match self.op {
            Op::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        if !v.pre.is_empty() || !c.pre.is_empty() {
                            return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                        }
                        return false;
                    }
                }
                v.compare(c) != Ordering::Equal
            }
            Op::Greater => {
                if !self.dirty {
                    return v.compare(c) == Ordering::Greater;
                }
                if v.major > c.major {
                    true
                } else if v.major < c.major || self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    v.compare(c) == Ordering::Greater
                }
            }
            Op::Less => v.compare(c) == Ordering::Less,
            Op::GreaterEqual => v.compare(c) != Ordering::Less,
            Op::LessEqual => {
                if !self.dirty {
                    return v.compare(c) != Ordering::Greater;
                }
                !(v.major > c.major || v.major == c.major && v.minor > c.minor && !self.minor_dirty)
            }
            Op::Tilde => self.tilde(v),
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.compare(c) == Ordering::Equal
                }
            }
            Op::Caret => {
                if v.compare(c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                c.patch == v.patch
            }
        }
    }
}

/// A parsed range: alternatives of constraints that must all hold.
pub(super) struct Constraints {
    groups: Vec<(Vec<Constraint>, bool)>,
}

/// `A - B` spans written as `>= A, <= B` (with the library's own choice of groups for B).
fn rewrite_range(c: &str) -> String {
    let mut out = c.to_owned();
    for m in CONSTRAINT_RANGE.captures_iter(c) {
        let whole = m.get(0).map_or("", |g| g.as_str());
        let from = m.get(1).map_or("", |g| g.as_str());
        let to = m.get(11).map_or("", |g| g.as_str());
        out = out.replacen(whole, &format!(">= {from}, <= {to} "), 1);
    }
    out
}

impl Constraints {
    /// `semver.NewConstraint`.
    pub(super) fn parse(c: &str) -> Result<Constraints, String> {
        if c.len() > MAX_CONSTRAINT_LEN {
            return Err(format!(
                "constraint string is too long (max {MAX_CONSTRAINT_LEN} bytes)"
            ));
        }
        let c = rewrite_range(c);
        let ors: Vec<&str> = c.split("||").collect();
        if ors.len() > MAX_CONSTRAINT_GROUPS {
            return Err(format!(
                "too many constraint groups (max {MAX_CONSTRAINT_GROUPS})"
            ));
        }
        let mut groups = Vec::new();
        for alternative in ors {
            if !VALID_CONSTRAINT.is_match(alternative) {
                return Err(improper(alternative));
            }
            let mut found: Vec<&str> = FIND_CONSTRAINT
                .find_iter(alternative)
                .map(|m| m.as_str())
                .collect();
            if found.is_empty() {
                found.push(alternative);
            }
            let mut group = Vec::new();
            let mut has_pre = false;
            for s in found {
                let pc = Constraint::parse(s)?;
                has_pre |= !pc.con.pre.is_empty();
                group.push(pc);
            }
            groups.push((group, has_pre));
        }
        Ok(Constraints { groups })
    }

    /// `Check`.
    pub(super) fn check(&self, v: &Version) -> bool {
        self.groups
            .iter()
            .any(|(group, has_pre)| group.iter().all(|c| c.check(v, *has_pre)))
    }
}

/// `semverCompare range version`. The answer depends on the two strings alone, and charts
/// ask the same question in many templates (`.Capabilities.KubeVersion` against a fixed
/// range), so answers are kept for the thread's next calls, up to [`KEPT_COMPARISONS`].
pub(super) fn semver_compare(a: &[Value]) -> FuncResult {
    let constraint = args::string(&a[0]);
    let version = args::string(&a[1]);
    let key = (constraint.to_owned(), version.to_owned());
    if let Some(answer) = COMPARED.with(|kept| kept.borrow().get(&key).cloned()) {
        return answer.map(Value::Bool);
    }
    let answer =
        Constraints::parse(constraint).and_then(|c| Version::parse(version).map(|v| c.check(&v)));
    COMPARED.with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.len() < KEPT_COMPARISONS {
            kept.insert(key, answer.clone());
        }
    });
    answer.map(Value::Bool)
}

/// How many `semverCompare` answers a thread keeps.
const KEPT_COMPARISONS: usize = 256;

thread_local! {
    /// `semverCompare` answers (or errors) by (range, version).
    static COMPARED: std::cell::RefCell<
        slipway_template::hash::FastMap<(String, String), Result<bool, String>>,
    > = std::cell::RefCell::new(Default::default());
}

/// `semver version`: the parsed version, with the library's methods (`.Major`,
/// `.Prerelease`, `.LessThan`, `.IncMinor`...).
pub(super) fn semver(a: &[Value]) -> FuncResult {
    let v = Version::parse(args::string(&a[0]))?;
    Ok(Value::Object(Rc::new(VersionObject {
        version: v,
        pointer: true,
    })))
}

/// A version in a template: the `*semver.Version` `semver` returns, or the
/// `semver.Version` value its `Inc*` and `Set*` methods return (which has no
/// pointer-receiver methods, as in Go).
struct VersionObject {
    version: Version,
    pointer: bool,
}

fn version_value(version: Version, pointer: bool) -> Value {
    Value::Object(Rc::new(VersionObject { version, pointer }))
}

/// A `string` argument of a method (the engine checks only functions' arguments).
fn string_arg(v: &Value) -> Result<&str, String> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(args::wrong_type("string", other)),
    }
}

/// The version an argument holds, for `LessThan` and friends.
fn version_arg(v: &Value) -> Result<Version, String> {
    match v {
        Value::Object(o) if o.type_name() == VERSION_TYPE => Version::parse(&o.display()),
        other => Err(args::wrong_type(VERSION_TYPE, other)),
    }
}

const VALUE_METHODS: &[&str] = &[
    "String",
    "Major",
    "Minor",
    "Patch",
    "Prerelease",
    "Metadata",
    "IncPatch",
    "IncMinor",
    "IncMajor",
    "SetPrerelease",
    "SetMetadata",
];
const POINTER_METHODS: &[&str] = &[
    "Original",
    "LessThan",
    "LessThanEqual",
    "GreaterThan",
    "GreaterThanEqual",
    "Equal",
    "Compare",
];

impl Object for VersionObject {
    fn type_name(&self) -> String {
        if self.pointer {
            VERSION_TYPE.into()
        } else {
            VERSION_VALUE_TYPE.into()
        }
    }

    fn is_method(&self, name: &str) -> bool {
        VALUE_METHODS.contains(&name) || self.pointer && POINTER_METHODS.contains(&name)
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if !self.is_method(name) {
            return None;
        }
        let want = match name {
            "SetPrerelease" | "SetMetadata" | "LessThan" | "LessThanEqual" | "GreaterThan"
            | "GreaterThanEqual" | "Equal" | "Compare" => 1,
            _ => 0,
        };
        if args.len() != want {
            return Some(Err(format!(
                "wrong number of args for {name}: want {want} got {}",
                args.len()
            )));
        }
        let v = &self.version;
        let number = |n: u64| Value::Int(n as i64);
        let result = match name {
            "String" => Ok(Value::from(v.to_text())),
            "Major" => Ok(number(v.major)),
            "Minor" => Ok(number(v.minor)),
            "Patch" => Ok(number(v.patch)),
            "Prerelease" => Ok(Value::str(&v.pre)),
            "Metadata" => Ok(Value::str(&v.metadata)),
            "Original" => Ok(Value::str(&v.original)),
            "IncPatch" => v.bumped(0).map(|n| version_value(n, false)),
            "IncMinor" => v.bumped(1).map(|n| version_value(n, false)),
            "IncMajor" => v.bumped(2).map(|n| version_value(n, false)),
            "SetPrerelease" | "SetMetadata" => string_arg(&args[0]).and_then(|s| {
                let mut next = v.clone();
                if name == "SetPrerelease" {
                    if !s.is_empty() {
                        validate_prerelease(s)?;
                    }
                    next.pre = s.to_owned();
                } else {
                    if !s.is_empty()
                        && s.split('.').any(|p| {
                            p.is_empty()
                                || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        })
                    {
                        return Err("invalid metadata string".into());
                    }
                    next.metadata = s.to_owned();
                }
                next.original = format!("{}{}", v.v_prefix(), next.to_text());
                Ok(version_value(next, false))
            }),
            _ => version_arg(&args[0]).map(|o| {
                let ord = v.compare(&o);
                match name {
                    "LessThan" => Value::Bool(ord == Ordering::Less),
                    "LessThanEqual" => Value::Bool(ord != Ordering::Greater),
                    "GreaterThan" => Value::Bool(ord == Ordering::Greater),
                    "GreaterThanEqual" => Value::Bool(ord != Ordering::Less),
                    "Equal" => Value::Bool(ord == Ordering::Equal),
                    _ => Value::Int(match ord {
                        Ordering::Less => -1,
                        Ordering::Equal => 0,
                        Ordering::Greater => 1,
                    }),
                }
            }),
        };
        Some(result)
    }

    fn display(&self) -> String {
        self.version.to_text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(c: &str, v: &str) -> bool {
        Constraints::parse(c)
            .unwrap()
            .check(&Version::parse(v).unwrap())
    }

    #[test]
    fn matches_ranges_as_the_go_library_does() {
        assert!(check(">= 1.2, < 2", "1.5.0"));
        assert!(!check(">= 1.2, < 2", "1.5.0-rc.1"));
        assert!(check(">= 1.2-0", "1.5.0-rc.1"));
        assert!(check("~1.2", "1.2.9"));
        assert!(!check("~1.2", "1.3.0"));
        assert!(check("^0.2.3", "0.2.9"));
        assert!(!check("^0.2.3", "0.3.0"));
        assert!(check("1.x || >=3", "3.1.0"));
        assert!(check(">=1.21.0-0", "v1.28.3-gke.1"));
        assert!(!check("!=1.x", "1.4.0"));
    }

    #[test]
    fn parses_versions_loosely() {
        assert_eq!(Version::parse("v1.2").unwrap().to_text(), "1.2.0");
        assert_eq!(
            Version::parse("1.2.3-01").unwrap_err(),
            "version segment starts with 0"
        );
        assert_eq!(
            Version::parse("1.2.3.4").unwrap_err(),
            "invalid semantic version"
        );
        assert_eq!(
            Constraints::parse("foo").err().unwrap(),
            "improper constraint: \"foo\""
        );
    }
}
