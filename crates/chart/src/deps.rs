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
    sub.metadata.name == req.name && is_compatible_range(&req.version, &sub.metadata.version)
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
/// Whether `version` is a version and `range` a range that holds for it, by the rules of
/// Masterminds/semver (`NewConstraint`, `NewVersion`, `Check`), as Helm checks
/// `kubeVersion` and dependency versions.
pub fn is_compatible_range(range: &str, version: &str) -> bool {
    range
        .parse::<slipway_semver::Constraints>()
        .is_ok_and(|c| c.matches(version))
}

#[cfg(test)]
mod tests {
    use super::is_compatible_range;
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
