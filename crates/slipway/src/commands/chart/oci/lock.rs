//! A chart's lock file (`Chart.lock`, or `requirements.lock` for `apiVersion: v1`
//! charts): the exact versions its dependencies were resolved to, and a digest of the
//! dependency list it was made for. A lock is used only when that digest is the one of the
//! chart's current list (SHA-256 of the listed entries and the locked entries, encoded as
//! JSON the way Go's `encoding/json` encodes Helm's dependency records), as `helm
//! dependency build` uses it; otherwise it is refused as out of date.

use anyhow::Result;
use serde_json::Value as Json;
use slipway_chart::model::{Dependency, File, Metadata};
use slipway_oci::Digest;

use crate::BadInput;

/// The lock file among a chart's files, as (file name, text): `requirements.lock` when
/// there is one (it is read after `Chart.lock`, so it wins), else `Chart.lock`.
pub(super) fn find(files: &[File]) -> Option<(String, String)> {
    ["requirements.lock", "Chart.lock"].iter().find_map(|name| {
        files.iter().find(|f| f.name == *name).map(|f| {
            (
                f.name.clone(),
                String::from_utf8_lossy(&f.data).into_owned(),
            )
        })
    })
}

/// A parsed lock file.
pub(super) struct Lock {
    /// `digest`.
    digest: String,
    /// `dependencies`, as written: `None` when absent or null; an entry is `None` when
    /// null.
    entries: Option<Vec<Option<Locked>>>,
    /// The locked entries, for pulling.
    pub(super) dependencies: Vec<Dependency>,
}

/// One entry of a lock's `dependencies`, with the fields a dependency record has.
struct Locked {
    name: String,
    version: String,
    repository: String,
    condition: String,
    tags: Vec<String>,
    enabled: bool,
    import_values: Vec<Json>,
    alias: String,
}

impl Lock {
    /// Reads a lock file's YAML.
    ///
    /// # Errors
    /// Text that is not YAML, or fields of the wrong type (bad input).
    pub(super) fn parse(file: &str, text: &str) -> Result<Lock> {
        let bad = |why: String| BadInput(format!("cannot load {file}: {why}"));
        let doc: Json = if text.trim().is_empty() {
            Json::Null
        } else {
            serde_saphyr::from_str(text).map_err(|e| bad(e.to_string()))?
        };
        let field = |v: &Json, key: &str, at: &str| -> Result<String, BadInput> {
            match v.get(key) {
                None | Some(Json::Null) => Ok(String::new()),
                Some(Json::String(s)) => Ok(s.clone()),
                Some(_) => Err(bad(format!("{at}{key} is not a string"))),
            }
        };
        let digest = field(&doc, "digest", "")?;
        let entries = match doc.get("dependencies") {
            None | Some(Json::Null) => None,
            Some(Json::Array(items)) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        if item.is_null() {
                            return Ok(None);
                        }
                        let at = format!("dependencies[{i}].");
                        if !item.is_object() {
                            return Err(bad(format!("dependencies[{i}] is not a map")));
                        }
                        let tags = match item.get("tags") {
                            None | Some(Json::Null) => Vec::new(),
                            Some(Json::Array(t)) => t
                                .iter()
                                .map(|t| match t {
                                    Json::String(s) => Ok(s.clone()),
                                    Json::Null => Ok(String::new()),
                                    _ => Err(bad(format!("{at}tags holds a non-string"))),
                                })
                                .collect::<Result<_, _>>()?,
                            Some(_) => return Err(bad(format!("{at}tags is not a list"))),
                        };
                        Ok(Some(Locked {
                            name: field(item, "name", &at)?,
                            version: field(item, "version", &at)?,
                            repository: field(item, "repository", &at)?,
                            condition: field(item, "condition", &at)?,
                            tags,
                            enabled: match item.get("enabled") {
                                None | Some(Json::Null) => false,
                                Some(Json::Bool(b)) => *b,
                                Some(_) => return Err(bad(format!("{at}enabled is not a bool"))),
                            },
                            import_values: match item.get("import-values") {
                                Some(Json::Array(v)) => v.clone(),
                                None | Some(Json::Null) => Vec::new(),
                                Some(_) => {
                                    return Err(bad(format!("{at}import-values is not a list")));
                                }
                            },
                            alias: field(item, "alias", &at)?,
                        }))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err(bad("dependencies is not a list".into()).into()),
        };
        let dependencies = entries
            .iter()
            .flatten()
            .flatten()
            .map(|l| Dependency {
                name: l.name.clone(),
                version: l.version.clone(),
                repository: l.repository.clone(),
                ..Dependency::default()
            })
            .collect();
        Ok(Lock {
            digest,
            entries,
            dependencies,
        })
    }

    /// Checks that the lock was made for the dependencies `metadata` lists.
    ///
    /// # Errors
    /// A digest that does not match (bad input): the lock is out of date.
    pub(super) fn check(&self, file: &str, metadata: &Metadata) -> Result<()> {
        let listed = metadata
            .dependencies
            .iter()
            .map(listed_json)
            .collect::<Result<Vec<_>>>()?;
        let listed = format!("[{}]", listed.join(","));
        let locked = match &self.entries {
            None => "null".to_string(),
            Some(entries) => {
                let items: Vec<String> = entries
                    .iter()
                    .map(|e| e.as_ref().map_or_else(|| "null".into(), locked_json))
                    .collect();
                format!("[{}]", items.join(","))
            }
        };
        let sum = |text: String| Digest::sha256_of(text.as_bytes()).to_string();
        if sum(format!("[{listed},{locked}]")) == self.digest {
            return Ok(());
        }
        let v1 = metadata.api_version == "v1";
        // Locks of apiVersion v1 charts may be older, digesting the list alone.
        if v1 && sum(format!("{{\"dependencies\":{listed}}}")) == self.digest {
            return Ok(());
        }
        let listed_in = if v1 && file == "requirements.lock" {
            "requirements.yaml"
        } else {
            "Chart.yaml"
        };
        anyhow::bail!(BadInput(format!(
            "the lock file ({file}) is out of sync with the dependencies file ({listed_in}): its digest is not the one of the dependencies listed; update the lock (helm dependency update) or remove it"
        )))
    }
}

/// Fields of a dependency record, in the order Go encodes them.
struct Record<'a> {
    name: &'a str,
    version: &'a str,
    repository: &'a str,
    condition: &'a str,
    tags: Vec<String>,
    enabled: bool,
    import_values: Vec<String>,
    alias: &'a str,
}

impl Record<'_> {
    /// The record as `json.Marshal` writes it: `name` and `repository` always, the others
    /// only when not empty.
    fn json(&self) -> String {
        let mut out = format!("{{\"name\":{}", go_quote(self.name));
        if !self.version.is_empty() {
            out.push_str(&format!(",\"version\":{}", go_quote(self.version)));
        }
        out.push_str(&format!(",\"repository\":{}", go_quote(self.repository)));
        if !self.condition.is_empty() {
            out.push_str(&format!(",\"condition\":{}", go_quote(self.condition)));
        }
        if !self.tags.is_empty() {
            let tags: Vec<String> = self.tags.iter().map(|t| go_quote(t)).collect();
            out.push_str(&format!(",\"tags\":[{}]", tags.join(",")));
        }
        if self.enabled {
            out.push_str(",\"enabled\":true");
        }
        if !self.import_values.is_empty() {
            out.push_str(&format!(
                ",\"import-values\":[{}]",
                self.import_values.join(",")
            ));
        }
        if !self.alias.is_empty() {
            out.push_str(&format!(",\"alias\":{}", go_quote(self.alias)));
        }
        out.push('}');
        out
    }
}

/// A listed dependency's record, its text fields cleaned as the chart loader cleans them
/// (white space made a space, other unprintable characters dropped).
fn listed_json(d: &Dependency) -> Result<String> {
    let (name, version, repository, condition) = (
        sanitize(&d.name),
        sanitize(&d.version),
        sanitize(&d.repository),
        sanitize(&d.condition),
    );
    let import_values = d
        .import_values
        .iter()
        .map(|v| {
            slipway_chart::json::to_json(v)
                .map_err(|e| BadInput(format!("dependency {:?}: import-values: {e}", d.name)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Record {
        name: &name,
        version: &version,
        repository: &repository,
        condition: &condition,
        tags: d.tags.iter().map(|t| sanitize(t)).collect(),
        enabled: d.enabled,
        import_values,
        alias: &d.alias,
    }
    .json())
}

/// A locked entry's record, as written in the lock.
fn locked_json(l: &Locked) -> String {
    Record {
        name: &l.name,
        version: &l.version,
        repository: &l.repository,
        condition: &l.condition,
        tags: l.tags.clone(),
        enabled: l.enabled,
        import_values: l.import_values.iter().map(go_json).collect(),
        alias: &l.alias,
    }
    .json()
}

/// White space becomes a space; other characters that do not print are dropped.
fn sanitize(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control() {
                None
            } else {
                Some(c)
            }
        })
        .collect()
}

/// A string as Go's `encoding/json` quotes it (see `slipway_chart::json::encode_string`).
fn go_quote(text: &str) -> String {
    let mut out = String::new();
    slipway_chart::json::encode_string(&mut out, text);
    out
}

/// A value read from YAML, as Go's `encoding/json` writes it (keys sorted; a whole
/// number without a fraction).
fn go_json(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Json::String(s) => go_quote(s),
        Json::Array(items) => {
            let items: Vec<String> = items.iter().map(go_json).collect();
            format!("[{}]", items.join(","))
        }
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", go_quote(k), go_json(&map[k])))
                .collect();
            format!("{{{}}}", items.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    //! Checked against Go's `encoding/json`, through Helm's `toJson` in the template
    //! oracle.

    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_encoded_as_go_encodes_them() {
        let values = [
            json!(">=1.0 <2 & \"x\" \\ y"),
            json!("a\tb\n\r\u{8}\u{c}\u{1}\u{1f}\u{7f}\u{2028}\u{2029}\u{e9}\u{1F600}"),
            json!(["data", {"parent": "p", "child": "c.d"}, 1, 1.5, 2.0, -3, true, null]),
            json!({"z": {"b": 1, "a": [ "<" ]}, "a": ""}),
        ];
        let questions: Vec<_> = values
            .iter()
            .map(|v| json!({"template": "{{ toJson .v }}", "funcs": "helm", "data": {"v": v}}))
            .collect();
        let answers = slipway_testkit::ask_template_oracle(&questions);
        for (v, answer) in values.iter().zip(&answers) {
            assert_eq!(Some(go_json(v).as_str()), answer["text"].as_str(), "{v}");
        }
    }
}
