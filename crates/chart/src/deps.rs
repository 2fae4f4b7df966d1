//! Subcharts: which of a chart's dependencies are rendered, under which name, and which
//! of their values they hand up to their parent, decided before rendering as Helm
//! decides it.
//!
//! For each chart that lists dependencies (in `Chart.yaml`, or `requirements.yaml` for
//! `apiVersion: v1` charts), from the root down:
//!
//! - each listed dependency takes the first chart under `charts/` with its name whose
//!   version is in the listed range, copied, and renamed to its `alias` when it has one
//!   (the same chart can so be used twice); charts under `charts/` that no entry takes
//!   stay as they are;
//! - every dependency starts enabled; `tags` then decide (disabled only when some tag is
//!   `false` under `.Values.tags` and none is `true`), then `condition`: the first of its
//!   comma-separated values paths that holds a bool decides (paths that hold anything
//!   else are passed over);
//! - disabled dependencies are dropped, with the charts of their name.
//!
//! Then, from the deepest charts up, each `import-values` entry copies a table of the
//! subchart's values into the parent's defaults (the parent's own values win): a string
//! `NAME` imports `exports.NAME` of the child into the parent's top level, a map `{child:
//! PATH, parent: PATH}` imports the child's table at `PATH` to the parent's `PATH` (`.`
//! being the top level).

use std::collections::HashSet;

use slipway_template::Value;

use crate::model::{Chart, Dependency};
use crate::values::{self, ValuesError};

/// Why a chart's dependencies cannot be processed, worded as Helm words it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DepsError {
    /// Dependencies the root chart lists but has no chart for under `charts/`, by name.
    #[error(
        "an error occurred while checking for chart dependencies. You may need to run 'helm dependency build' to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
        .0.join(", ")
    )]
    Missing(Vec<String>),
    /// The values could not be put together (a subchart's values key holds a non-map).
    #[error("chart dependencies processing failed: {0}")]
    Values(#[source] ValuesError),
}

/// Checks that every dependency the chart lists has a chart of its name under `charts/`,
/// as Helm checks the chart it is asked to render (not its subcharts).
///
/// # Errors
/// [`DepsError::Missing`] with the names that have none, in the listed order.
pub fn check_dependencies(chart: &Chart) -> Result<(), DepsError> {
    let missing: Vec<String> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|req| {
            !chart
                .dependencies
                .iter()
                .any(|sub| sub.metadata.name == req.name)
        })
        .map(|req| req.name.clone())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(DepsError::Missing(missing))
    }
}

/// Processes `chart`'s dependencies for rendering with the user's `values` (see the
/// module documentation): [`check_dependencies`] on the root, then enabling, aliasing and
/// dropping subcharts all the way down, then `import-values` from the bottom up, which
/// rewrites each parent's default values. Afterwards every chart's `parents` names the
/// charts above it by their (aliased) names, and each kept dependency entry has the name
/// it renders under, `enabled` set, and its `import-values` as `{child, parent}` maps.
///
/// # Errors
/// [`DepsError::Missing`] from the check, or [`DepsError::Values`] when values cannot
/// be put together.
pub fn process_dependencies(chart: &mut Chart, values: &Value) -> Result<(), DepsError> {
    if !chart.metadata.dependencies.is_empty() {
        check_dependencies(chart)?;
    }
    process_enabled(chart, values, "").map_err(DepsError::Values)?;
    process_import_values(chart).map_err(DepsError::Values)?;
    let parents = chart.parents.clone();
    set_parents(chart, &parents);
    Ok(())
}

/// Helm's `processDependencyEnabled` for one chart and, recursively, its kept subcharts.
/// `values` are what the chart's values are coalesced with: the user's values for the
/// root, the parent's coalesced values below it; `path` is where the chart's own values
/// are inside them (`sub.` for a subchart).
fn process_enabled(chart: &mut Chart, values: &Value, path: &str) -> Result<(), ValuesError> {
    if chart.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let found = std::mem::take(&mut chart.dependencies);
    let reqs = &mut chart.metadata.dependencies;
    // Charts no entry asks for stay, in front.
    let mut subcharts: Vec<Chart> = found
        .iter()
        .filter(|sub| !reqs.iter().any(|req| takes(req, sub)))
        .cloned()
        .collect();
    for req in reqs.iter_mut() {
        if let Some(sub) = found.iter().find(|sub| takes(req, sub)) {
            let mut copy = sub.clone();
            if !req.alias.is_empty() {
                copy.metadata.name = req.alias.clone();
            }
            subcharts.push(copy);
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
    }
    chart.dependencies = subcharts;
    for req in &mut chart.metadata.dependencies {
        req.enabled = true;
    }
    let coalesced = values::coalesce_values(chart, values)?;
    apply_tags(&mut chart.metadata.dependencies, &coalesced);
    apply_conditions(&mut chart.metadata.dependencies, &coalesced, path);
    let disabled: HashSet<String> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|req| !req.enabled)
        .map(|req| req.name.clone())
        .collect();
    chart
        .dependencies
        .retain(|sub| !disabled.contains(&sub.metadata.name));
    chart
        .metadata
        .dependencies
        .retain(|req| !disabled.contains(&req.name));
    for sub in &mut chart.dependencies {
        let sub_path = format!("{path}{}.", sub.metadata.name);
        process_enabled(sub, &coalesced, &sub_path)?;
    }
    Ok(())
}

/// Whether the dependency entry `req` is served by the chart `sub`: the same name, and a
/// version in the entry's range.
fn takes(req: &Dependency, sub: &Chart) -> bool {
    sub.metadata.name == req.name
        && semver::is_compatible_range(&req.version, &sub.metadata.version)
}

/// `tags`: an entry with some tag `false` and none `true` under the values' `tags` table
/// is disabled, any other enabled. Nothing changes when there is no `tags` table.
fn apply_tags(reqs: &mut [Dependency], values: &Value) {
    let Some(Value::Map(tags)) = values::table(values, "tags") else {
        return;
    };
    let tags = tags.borrow();
    for req in reqs {
        let (mut any_true, mut any_false) = (false, false);
        for tag in &req.tags {
            match tags.get(tag) {
                Some(Value::Bool(true)) => any_true = true,
                Some(Value::Bool(false)) => any_false = true,
                // Helm warns about a tag that is not a bool, and passes it over.
                _ => {}
            }
        }
        req.enabled = any_true || !any_false;
    }
}

/// `condition`: the first of the entry's comma-separated paths (under `path`) that holds
/// a bool decides.
fn apply_conditions(reqs: &mut [Dependency], values: &Value, path: &str) {
    for req in reqs {
        for condition in req.condition.trim().split(',') {
            if condition.is_empty() {
                continue;
            }
            // Helm warns about a path that holds something other than a bool.
            if let Ok(Value::Bool(b)) = values::path_value(values, &format!("{path}{condition}")) {
                req.enabled = b;
                break;
            }
        }
    }
}

/// Helm's `processDependencyImportValues` with merging (as `template`, `install` and
/// `upgrade` run it): subcharts first, then the chart itself.
fn process_import_values(chart: &mut Chart) -> Result<(), ValuesError> {
    for sub in &mut chart.dependencies {
        process_import_values(sub)?;
    }
    if chart.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let merged = values::merge_values(chart, &Value::Nil)?;
    let mut imported = Value::empty_map();
    for req in &mut chart.metadata.dependencies {
        let mut normalized = Vec::new();
        for entry in &req.import_values {
            let (child, parent) = match entry {
                Value::Map(m) => {
                    let field = |k: &str| {
                        slipway_template::fmt::display(
                            &m.borrow().get(k).cloned().unwrap_or_default(),
                        )
                    };
                    (field("child"), field("parent"))
                }
                Value::String(s) => (format!("exports.{s}"), ".".to_string()),
                // Helm passes over entries of other types.
                _ => continue,
            };
            normalized.push(Value::map(
                [
                    ("child".to_string(), Value::str(&child)),
                    ("parent".to_string(), Value::str(&parent)),
                ]
                .into(),
            ));
            // Helm warns about a child table that is not there.
            let Some(table) = values::table(&merged, &format!("{}.{child}", req.name)) else {
                continue;
            };
            let table = match &table {
                Value::Map(m) if m.borrow().is_empty() => Value::empty_map(),
                _ => table,
            };
            let data = if matches!(entry, Value::Map(_)) {
                path_to_map(&parent, table)
            } else {
                table
            };
            imported = values::merge_tables(&imported, &data);
        }
        req.import_values = normalized;
    }
    // The chart's own values win over what it imports.
    chart.values = values::merge_tables(&merged.deep_copy(), &imported);
    Ok(())
}

/// `data` nested under the dotted `path` (`.` is `data` itself).
fn path_to_map(path: &str, data: Value) -> Value {
    if path == "." {
        return data;
    }
    path.rsplit('.').fold(data, |inner, key| {
        Value::map([(key.to_string(), inner)].into())
    })
}

/// Sets each subchart's `parents` below a chart whose own parents are `parents`.
fn set_parents(chart: &mut Chart, parents: &[String]) {
    chart.parents = parents.to_vec();
    let mut below = parents.to_vec();
    below.push(chart.metadata.name.clone());
    for sub in &mut chart.dependencies {
        set_parents(sub, &below);
    }
}

/// Version ranges as Helm checks a dependency's `version` against a subchart's
/// (`IsCompatibleRange`, on github.com/Masterminds/semver/v3): `NewConstraint` on the
/// range, `NewVersion` on the version, then `Check`; a range or version either refuses
/// makes them incompatible. The rules are those `slipway_registry::semver` documents and
/// tests (the same library); this copy only answers yes or no.
/// Whether `version` meets the range `range` (Masterminds semver rules).
pub use semver::is_compatible_range;

mod semver {
    use std::cmp::Ordering;

    /// Whether `version` is a version and `range` a range that holds for it.
    pub fn is_compatible_range(range: &str, version: &str) -> bool {
        let Some(v) = Version::parse(version) else {
            return false;
        };
        let Some(alternatives) = parse_range(range) else {
            return false;
        };
        alternatives
            .iter()
            .any(|alt| alt.terms.iter().all(|t| t.allows(&v, alt.prereleases)))
    }

    struct Alternative {
        terms: Vec<Term>,
        prereleases: bool,
    }

    struct Term {
        op: Op,
        bound: Version,
        wildcard: Wildcard,
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Op {
        Equal,
        NotEqual,
        Greater,
        Less,
        AtLeast,
        AtMost,
        Tilde,
        Caret,
    }

    /// The first part of a range's version that is a wildcard or missing.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Wildcard {
        None,
        Major,
        Minor,
        Patch,
    }

    struct Version {
        major: u64,
        minor: u64,
        patch: u64,
        pre: String,
    }

    fn is_space(b: u8) -> bool {
        matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
    }

    /// The library's character class for a range's numbers, stray `|` included.
    fn is_range_digit(b: u8) -> bool {
        b.is_ascii_digit() || matches!(b, b'x' | b'X' | b'*' | b'|')
    }

    fn is_ident(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b == b'-'
    }

    fn is_op_char(b: u8) -> bool {
        matches!(b, b'=' | b'!' | b'<' | b'>' | b'~' | b'^')
    }

    fn run(s: &[u8], at: usize, keep: impl Fn(u8) -> bool) -> usize {
        s.get(at..)
            .map_or(0, |rest| rest.iter().take_while(|b| keep(**b)).count())
    }

    fn dotted(s: &[u8], mut at: usize) -> usize {
        while s.get(at) == Some(&b'.') {
            let n = run(s, at + 1, is_ident);
            if n == 0 {
                break;
            }
            at += 1 + n;
        }
        at
    }

    /// Where a range's version starting at `at` ends (each part as long as it can be).
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
                    i = dotted(s, i + 1 + n);
                }
            }
        }
        Some(i)
    }

    /// Rewrites each `A - B` to `>= A, <= B `, as the library does first.
    fn expand_hyphen_ranges(text: &str) -> String {
        let s = text.as_bytes();
        let mut found = vec![];
        let mut at = 0;
        while at < s.len() {
            match hyphen_range_at(s, at) {
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

    type Span = (usize, usize);

    fn hyphen_range_at(s: &[u8], at: usize) -> Option<(usize, Span, Span)> {
        let low_start = at + run(s, at, is_space);
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
        let high_end = scan_range_version(s, i)?;
        let end = high_end + run(s, high_end, is_space);
        Some((end, (low_start, low_end), (i, high_end)))
    }

    fn parse_range(text: &str) -> Option<Vec<Alternative>> {
        expand_hyphen_ranges(text)
            .split("||")
            .map(parse_alternative)
            .collect()
    }

    fn parse_alternative(part: &str) -> Option<Alternative> {
        let s = part.as_bytes();
        let word_end = |from: usize| from + run(s, from, |b| !is_space(b) && b != b',');
        let mut terms = vec![];
        let mut i = run(s, 0, is_space);
        loop {
            let end = word_end(i);
            if end == i {
                return None;
            }
            let word = &part[i..end];
            let op_len = run(word.as_bytes(), 0, is_op_char);
            let op = parse_op(&word[..op_len])?;
            let (version, next) = if op_len < word.len() {
                (&word[op_len..], end)
            } else {
                let from = end + run(s, end, is_space);
                let to = word_end(from);
                if to == from {
                    return None;
                }
                (&part[from..to], to)
            };
            if scan_range_version(version.as_bytes(), 0) != Some(version.len()) {
                return None;
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
        Some(Alternative { terms, prereleases })
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

    fn number(part: &str) -> Option<u64> {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    }

    fn prerelease_ok(pre: &str) -> bool {
        pre.is_empty()
            || pre.split('.').all(|id| {
                !id.is_empty()
                    && id.bytes().all(is_ident)
                    && !(id.len() > 1
                        && id.starts_with('0')
                        && id.bytes().all(|b| b.is_ascii_digit()))
            })
    }

    impl Term {
        fn new(op: Op, written: &str) -> Option<Term> {
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
            let (wildcard, major, minor, patch) = if is_wild(major) {
                (Wildcard::Major, 0, 0, 0)
            } else {
                match (minor, patch) {
                    (None, _) => (Wildcard::Minor, number(major)?, 0, 0),
                    (Some(m), _) if is_wild(m) => (Wildcard::Minor, number(major)?, 0, 0),
                    (Some(m), None) => (Wildcard::Patch, number(major)?, number(m)?, 0),
                    (Some(m), Some(p)) if is_wild(p) => {
                        (Wildcard::Patch, number(major)?, number(m)?, 0)
                    }
                    (Some(m), Some(p)) => (Wildcard::None, number(major)?, number(m)?, number(p)?),
                }
            };
            if !prerelease_ok(pre) {
                return None;
            }
            Some(Term {
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

        fn allows(&self, v: &Version, prereleases: bool) -> bool {
            if !v.pre.is_empty() && !prereleases {
                return false;
            }
            let b = &self.bound;
            let w = self.wildcard;
            match self.op {
                Op::Equal if w == Wildcard::None => v.cmp(b) == Ordering::Equal,
                Op::Equal | Op::Tilde => tilde(v, b, w),
                Op::NotEqual => not_equal(v, b, w),
                Op::Greater => {
                    if w == Wildcard::None || w == Wildcard::Major {
                        return v.cmp(b) == Ordering::Greater;
                    }
                    match v.major.cmp(&b.major) {
                        Ordering::Greater => true,
                        Ordering::Less => false,
                        Ordering::Equal if w == Wildcard::Minor => false,
                        Ordering::Equal => v.minor > b.minor,
                    }
                }
                Op::Less => v.cmp(b) == Ordering::Less,
                Op::AtLeast => v.cmp(b) != Ordering::Less,
                Op::AtMost => {
                    if w == Wildcard::None {
                        return v.cmp(b) != Ordering::Greater;
                    }
                    !(v.major > b.major
                        || (v.major == b.major && v.minor > b.minor && w != Wildcard::Minor))
                }
                Op::Caret => caret(v, b, w),
            }
        }
    }

    fn tilde(v: &Version, b: &Version, w: Wildcard) -> bool {
        if v.cmp(b) == Ordering::Less {
            return false;
        }
        let zero = b.major == 0 && b.minor == 0 && b.patch == 0;
        if zero && matches!(w, Wildcard::None | Wildcard::Major) {
            return true;
        }
        v.major == b.major && (v.minor == b.minor || w == Wildcard::Minor)
    }

    fn caret(v: &Version, b: &Version, w: Wildcard) -> bool {
        if v.cmp(b) == Ordering::Less {
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

    fn not_equal(v: &Version, b: &Version, w: Wildcard) -> bool {
        if w == Wildcard::None {
            return v.cmp(b) != Ordering::Equal;
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
            _ => v.minor != b.minor || v.patch != b.patch || v.cmp(b) != Ordering::Equal,
        }
    }

    impl Version {
        /// `semver.NewVersion` (its lenient mode), or `None` where it fails.
        fn parse(text: &str) -> Option<Version> {
            if text.len() > 256 {
                return None;
            }
            let text = text.strip_prefix('v').unwrap_or(text);
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

        fn cmp(&self, other: &Version) -> Ordering {
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
}

#[cfg(test)]
mod tests {
    use super::semver::is_compatible_range;
    use serde_json::json;
    use slipway_testkit::ask_template_oracle;

    /// Helm's `IsCompatibleRange` is `NewConstraint(range).Check(NewVersion(version))`,
    /// false when either fails: exactly what sprig's `semverCompare` computes (with an
    /// error instead of false) on the same library, so the oracle answers through it.
    #[test]
    fn version_ranges_match_the_go_library() {
        let ranges = [
            "1.2.3",
            "=1.2.3",
            "v1.2.3",
            "1.2",
            "1",
            "1.x",
            "1.2.x",
            "*",
            "x",
            "",
            " ",
            "~1.2.0",
            "~1.2",
            "~1",
            "~>1.2.3",
            "~0.0.0",
            "^1.2",
            "^1.2.3",
            "^0.2.3",
            "^0.0.3",
            "^0.x",
            "^*",
            ">1.2",
            ">1.2.3",
            ">=1.2.3",
            "=>1.2.3",
            "<2",
            "<=1.2",
            "=<1.2.3",
            "!=1.2.3",
            "!=1.x",
            ">=1.0.0 <2.0.0",
            ">=1.0.0, <2.0.0",
            "1.0.0 - 2.0.0",
            "1 - 2",
            "1.2.3 || 2.x",
            ">=1.2.3-0",
            "1.2.3-rc.1",
            ">=1.2.3-alpha <1.2.4",
            "~1.2.3-beta",
            "1.2.3+build",
            "bad",
            ">= 1.2",
            ">=1.2,,<2",
            "1.2.3.4",
            "01.2.3",
            "1.2.3-01",
            "||",
            "1.x || >=3",
            "^0.0",
            "<=*",
            "!=*",
            ">*",
            "x.1.2",
            "1.|",
        ];
        let versions = [
            "1.2.3",
            "1.2.0",
            "1.2.4",
            "1.3.0",
            "2.0.0",
            "0.0.3",
            "0.2.5",
            "0.0.0",
            "1.2.3-rc.1",
            "1.2.4-alpha",
            "v1.2.3",
            "1.2",
            "1",
            "01.2.3",
            "1.2.3.4",
            "",
            "1.2.3+meta",
            "1.2.3-01",
            "3.0.0",
            "0.1.0",
            "V1.2.3",
            "1.2.3-",
        ];
        let mut cases = vec![];
        let mut questions = vec![];
        for r in ranges {
            for v in versions {
                cases.push((r, v));
                questions.push(json!({
                    "template": format!("{{{{ semverCompare `{r}` `{v}` }}}}"),
                    "funcs": "sprig",
                }));
            }
        }
        let answers = ask_template_oracle(&questions);
        let mut wrong = vec![];
        for ((r, v), a) in cases.iter().zip(&answers) {
            let go = a.get("text").and_then(|t| t.as_str()) == Some("true");
            if a.get("error").is_none() && a.get("text").is_none() {
                panic!("unexpected answer for {r:?} {v:?}: {a}");
            }
            if is_compatible_range(r, v) != go {
                wrong.push(format!("{r:?} on {v:?}: Go says {go}"));
            }
        }
        assert!(wrong.is_empty(), "differ from Go:\n{}", wrong.join("\n"));
        assert!(answers.iter().any(|a| a["text"] == "true"));
        assert!(answers.iter().any(|a| a["text"] == "false"));
    }
}
