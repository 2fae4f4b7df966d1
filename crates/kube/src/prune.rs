//! What a release applied, recorded in a ConfigMap (its inventory), and the removal of the
//! objects a later converge of the same release no longer has.
//!
//! The inventory is `ConfigMap slipway-release-RELEASE` in the release's namespace; its
//! `objects` key holds the applied objects as JSON. A prune deletes what the previous
//! inventory lists and the new apply does not, except the kinds whose deletion destroys
//! data or everything inside them ([`KEPT_KINDS`]), which it reports instead.

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::apply::{AppliedRef, FIELD_MANAGER};
use crate::client::Error;

/// The inventory ConfigMap's name is this prefix and the release name.
pub const INVENTORY_PREFIX: &str = "slipway-release-";

/// Kinds a prune leaves in place, reporting them: deleting a Namespace deletes everything
/// in it, a CustomResourceDefinition every custom resource of its kind, and a
/// PersistentVolumeClaim (usually) its volume's data.
pub const KEPT_KINDS: &[&str] = &[
    "Namespace",
    "CustomResourceDefinition",
    "PersistentVolumeClaim",
];

/// One object of a release, as its inventory records it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Owned {
    /// `v1`, `apps/v1`, ...
    pub api_version: String,
    /// The kind.
    pub kind: String,
    /// The plural in API paths.
    pub plural: String,
    /// The namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl Owned {
    /// The API group: an object that moved from `v1beta1` to `v1` is the same object.
    fn group(&self) -> &str {
        self.api_version
            .split_once('/')
            .map_or("", |(group, _)| group)
    }

    fn same_object(&self, other: &Owned) -> bool {
        self.group() == other.group()
            && self.kind == other.kind
            && self.namespace == other.namespace
            && self.name == other.name
    }
}

impl From<&AppliedRef> for Owned {
    fn from(r: &AppliedRef) -> Owned {
        Owned {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            plural: r.plural.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        }
    }
}

impl std::fmt::Display for Owned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// What a prune did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Objects deleted (or found already gone), as `Kind namespace/name`.
    pub deleted: Vec<String>,
    /// Objects of [`KEPT_KINDS`] the release no longer has, left in place.
    pub kept: Vec<String>,
}

/// Checks a release name: it becomes part of a ConfigMap name.
///
/// # Errors
/// A message naming the rule the name breaks.
pub fn check_release_name(release: &str) -> Result<(), String> {
    let ok_chars = release
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ends_ok = release
        .bytes()
        .next()
        .zip(release.bytes().last())
        .is_some_and(|(a, z)| a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric());
    if ok_chars && ends_ok && release.len() <= 200 {
        Ok(())
    } else {
        Err(format!(
            "release name `{release}`: use at most 200 lowercase letters, digits, `-` and `.`, \
             starting and ending with a letter or digit"
        ))
    }
}

fn inventory_api(client: &Client, namespace: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("", "v1", "ConfigMap");
    Api::namespaced_with(
        client.clone(),
        namespace,
        &ApiResource::from_gvk_with_plural(&gvk, "configmaps"),
    )
}

/// Reads a release's inventory; empty when the release was never converged.
///
/// # Errors
/// [`Error::Api`] for a failed read, or an inventory whose `objects` is not the JSON
/// slipway writes.
pub async fn read_inventory(
    client: &Client,
    namespace: &str,
    release: &str,
) -> Result<Vec<Owned>, Error> {
    let name = format!("{INVENTORY_PREFIX}{release}");
    let subject = format!("ConfigMap {namespace}/{name}");
    let Some(cm) = inventory_api(client, namespace)
        .get_opt(&name)
        .await
        .map_err(|e| Error::api("read", subject.clone(), e))?
    else {
        return Ok(vec![]);
    };
    let text = cm.data["data"]["objects"].as_str().unwrap_or("[]");
    serde_json::from_str(text).map_err(|e| Error::Inventory {
        subject,
        why: e.to_string(),
    })
}

/// Writes a release's inventory (server-side apply, field manager `slipway`).
///
/// # Errors
/// [`Error::Api`] when the server refuses it.
pub async fn write_inventory(
    client: &Client,
    namespace: &str,
    release: &str,
    objects: &[Owned],
) -> Result<(), Error> {
    let name = format!("{INVENTORY_PREFIX}{release}");
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/managed-by": FIELD_MANAGER,
                "slipway.dev/release": release,
            },
        },
        "data": { "objects": serde_json::to_string(objects).expect("JSON") },
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    inventory_api(client, namespace)
        .patch(&name, &params, &Patch::Apply(&cm))
        .await
        .map_err(|e| Error::api("apply", format!("ConfigMap {namespace}/{name}"), e))?;
    Ok(())
}

/// Deletes the objects the release's previous inventory lists and `applied` does not
/// (background propagation; one already gone counts as deleted), keeps [`KEPT_KINDS`],
/// and records `applied` as the new inventory. With `delete` false, every such object is
/// kept and stays recorded.
///
/// The inventory is first widened to what was there plus what was applied, so a prune that
/// stops half-way is finished by the next converge, and an object applied now is never
/// forgotten.
///
/// # Errors
/// [`Error::Api`] for the first read, write or deletion the server refuses.
pub async fn prune(
    client: &Client,
    namespace: &str,
    release: &str,
    applied: &[AppliedRef],
    delete: bool,
) -> Result<PruneReport, Error> {
    let before = read_inventory(client, namespace, release).await?;
    let now: Vec<Owned> = applied.iter().map(Owned::from).collect();
    let stale: Vec<Owned> = before
        .into_iter()
        .filter(|o| !now.iter().any(|n| n.same_object(o)))
        .collect();
    let mut report = PruneReport::default();
    if !stale.is_empty() || !delete {
        let mut both = now.clone();
        both.extend(stale.iter().cloned());
        write_inventory(client, namespace, release, &both).await?;
    }
    if !delete {
        report.kept = stale.iter().map(ToString::to_string).collect();
        return Ok(report);
    }
    for o in &stale {
        if KEPT_KINDS.contains(&o.kind.as_str()) {
            report.kept.push(o.to_string());
            continue;
        }
        let (group, version) = o
            .api_version
            .split_once('/')
            .unwrap_or(("", &o.api_version));
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(group, version, &o.kind),
            &o.plural,
        );
        let api: Api<DynamicObject> = match &o.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        match api.delete(&o.name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(Error::api("delete", o.to_string(), e)),
        }
        report.deleted.push(o.to_string());
    }
    write_inventory(client, namespace, release, &now).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_must_fit_a_configmap_name() {
        for ok in ["hello", "app-production", "a", "v1.2", "x9"] {
            assert!(check_release_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Hello", "-app", "app-", "a_b", "a/b", &"x".repeat(201)] {
            let e = check_release_name(bad).unwrap_err();
            assert!(e.contains("lowercase letters"), "{bad}: {e}");
        }
    }

    #[test]
    fn an_object_is_the_same_across_api_versions_of_its_group() {
        let o = |av: &str, kind: &str, ns: Option<&str>, name: &str| Owned {
            api_version: av.into(),
            kind: kind.into(),
            plural: String::new(),
            namespace: ns.map(str::to_string),
            name: name.into(),
        };
        let a = o("autoscaling/v2", "HorizontalPodAutoscaler", Some("x"), "h");
        assert!(a.same_object(&o(
            "autoscaling/v1",
            "HorizontalPodAutoscaler",
            Some("x"),
            "h"
        )));
        assert!(!a.same_object(&o(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            Some("y"),
            "h"
        )));
        assert!(!a.same_object(&o("v1", "HorizontalPodAutoscaler", Some("x"), "h")));
        assert_eq!(a.to_string(), "HorizontalPodAutoscaler x/h");
    }
}
