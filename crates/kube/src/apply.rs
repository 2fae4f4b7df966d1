//! Server-side apply of a list of objects, field manager `slipway`, in dependency order.

use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use std::collections::HashMap;

use kube::core::{ApiResource, GroupVersion, GroupVersionKind};
use kube::discovery::Scope;
use serde::Serialize;
use serde_json::Value;

use crate::client::Error;

/// The field manager every apply uses.
pub const FIELD_MANAGER: &str = "slipway";

/// Names one object that was applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppliedRef {
    /// `v1`, `apps/v1`, ...
    pub api_version: String,
    /// The kind.
    pub kind: String,
    /// The namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
    /// `metadata.generation` after the apply, when the server sets one.
    pub generation: Option<i64>,
    /// The resource's plural in API paths (`deployments`).
    #[serde(skip)]
    pub plural: String,
}

impl std::fmt::Display for AppliedRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// (group, kind, rank): the apply order of the kinds that depend on one another; every
/// other kind (custom resources included) comes last, at rank 10. Where a kind lives in
/// the API is never read from here: API discovery says.
const ORDER: &[(&str, &str, u8)] = &[
    ("", "Namespace", 0),
    ("apiextensions.k8s.io", "CustomResourceDefinition", 1),
    ("", "ServiceAccount", 2),
    ("", "Secret", 3),
    ("", "ConfigMap", 4),
    ("rbac.authorization.k8s.io", "Role", 5),
    ("rbac.authorization.k8s.io", "ClusterRole", 5),
    ("rbac.authorization.k8s.io", "RoleBinding", 6),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", 6),
    ("", "Service", 7),
    ("", "PersistentVolumeClaim", 8),
    ("apps", "DaemonSet", 9),
    ("apps", "Deployment", 9),
    ("apps", "StatefulSet", 9),
    ("batch", "Job", 9),
    ("batch", "CronJob", 9),
];

/// Where an object lives in the API.
#[derive(Clone, Debug)]
struct Resolved {
    resource: ApiResource,
    namespaced: bool,
    rank: u8,
    /// Its kind is defined by a CustomResourceDefinition of the same list, which must be
    /// established before the object can be applied.
    by_crd_in_list: bool,
}

fn split_api_version(av: &str) -> (&str, &str) {
    av.split_once('/').unwrap_or(("", av))
}

/// Returns the apply rank of a kind (lower first; custom resources and unknown kinds last).
pub fn apply_rank(kind: &str) -> u8 {
    ORDER
        .iter()
        .find(|k| k.1 == kind)
        .map(|k| k.2)
        .unwrap_or(10)
}

/// The kinds the API server serves, by apiVersion: (kind, plural, namespaced).
type Served = HashMap<String, Vec<(String, String, bool)>>;

/// Asks the API server which kinds each apiVersion of `objects` serves: one discovery
/// request per distinct apiVersion, as kubectl's REST mapper does. An apiVersion the
/// server does not serve maps to no kinds.
async fn discover(client: &Client, objects: &[Value]) -> Result<Served, Error> {
    let mut served = Served::new();
    for obj in objects {
        let Some(av) = obj["apiVersion"].as_str().filter(|s| !s.is_empty()) else {
            continue;
        };
        if served.contains_key(av) {
            continue;
        }
        let (group, version) = split_api_version(av);
        let gv = GroupVersion::gv(group, version);
        let kinds = match kube::discovery::pinned_group(client, &gv).await {
            Ok(g) => g
                .versioned_resources(version)
                .into_iter()
                .map(|(r, caps)| (r.kind, r.plural, caps.scope == Scope::Namespaced))
                .collect(),
            Err(kube::Error::Api(s)) if s.code == 404 => vec![],
            Err(e) => return Err(Error::api("discover", format!("apiVersion {av}"), e)),
        };
        served.insert(av.to_string(), kinds);
    }
    Ok(served)
}

fn resolve(
    obj: &Value,
    served: &Served,
    crds: &[(String, String, String, bool)],
    index: usize,
) -> Result<Resolved, Error> {
    let kind = obj["kind"].as_str().unwrap_or("");
    let api_version = obj["apiVersion"].as_str().unwrap_or("");
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    for (value, field) in [
        (kind, "kind"),
        (api_version, "apiVersion"),
        (name, "metadata.name"),
    ] {
        if value.is_empty() {
            return Err(Error::Invalid {
                index,
                kind: if kind.is_empty() {
                    "?".into()
                } else {
                    kind.into()
                },
                field,
            });
        }
    }
    let (group, version) = split_api_version(api_version);
    let found = served
        .get(api_version)
        .and_then(|kinds| kinds.iter().find(|k| k.0 == kind))
        .map(|k| (k.1.clone(), k.2, false))
        .or_else(|| {
            crds.iter()
                .find(|c| c.0 == group && c.1 == kind)
                .map(|c| (c.2.clone(), c.3, true))
        });
    let Some((plural, namespaced, by_crd_in_list)) = found else {
        return Err(Error::UnknownKind {
            kind: kind.into(),
            api_version: api_version.into(),
            name: name.into(),
        });
    };
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Ok(Resolved {
        resource: ApiResource::from_gvk_with_plural(&gvk, &plural),
        namespaced,
        rank: apply_rank(kind),
        by_crd_in_list,
    })
}

/// Custom resource kinds defined by CustomResourceDefinitions in the list:
/// (group, kind, plural, namespaced).
fn crd_kinds(objects: &[Value]) -> Vec<(String, String, String, bool)> {
    objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .filter_map(|o| {
            let s = &o["spec"];
            Some((
                s["group"].as_str()?.to_string(),
                s["names"]["kind"].as_str()?.to_string(),
                s["names"]["plural"].as_str()?.to_string(),
                s["scope"].as_str() != Some("Cluster"),
            ))
        })
        .collect()
}

/// Waits until the CustomResourceDefinitions `names` are `Established`, so that the
/// custom resources they define can be applied (the API server needs a moment after the
/// CRD is created).
async fn wait_established(client: &Client, names: &[String]) -> Result<(), Error> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for name in names {
        loop {
            let crd = api
                .get(name)
                .await
                .map_err(|e| Error::api("get", format!("CustomResourceDefinition {name}"), e))?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established || std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// Server-side applies `objects` (field manager `slipway`, conflicts forced) in
/// dependency order: Namespace, CustomResourceDefinition, ServiceAccount, Secret,
/// ConfigMap, Role/ClusterRole, RoleBinding/ClusterRoleBinding, Service,
/// PersistentVolumeClaim, workloads, then everything else; the list's own order is kept
/// within a rank. Namespaced objects without a namespace go to `default_namespace`.
///
/// Each kind is found by API discovery, so any kind the server serves applies, custom
/// resources of CRDs installed earlier included; a custom resource whose CRD is in the same
/// list is applied once that CRD is established. Every object is resolved before the first
/// write, so an unknown kind applies nothing.
///
/// # Errors
/// [`Error::Invalid`] or [`Error::UnknownKind`] before anything is written; [`Error::Api`]
/// when discovery fails, or for the first object the server refuses (the ones before it
/// stay applied).
pub async fn apply(
    client: &Client,
    objects: &[Value],
    default_namespace: &str,
) -> Result<Vec<AppliedRef>, Error> {
    let crds = crd_kinds(objects);
    let served = discover(client, objects).await?;
    let mut planned = Vec::with_capacity(objects.len());
    for (i, obj) in objects.iter().enumerate() {
        let r = resolve(obj, &served, &crds, i)?;
        let mut obj = obj.clone();
        let namespace = if r.namespaced {
            let ns = obj["metadata"]["namespace"]
                .as_str()
                .filter(|s| !s.is_empty())
                .unwrap_or(default_namespace)
                .to_string();
            obj["metadata"]["namespace"] = Value::String(ns.clone());
            Some(ns)
        } else {
            None
        };
        planned.push((r, namespace, obj));
    }
    planned.sort_by_key(|(r, _, _)| r.rank);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut applied = Vec::with_capacity(planned.len());
    let mut new_crds: Vec<String> = Vec::new();
    for (r, namespace, obj) in planned {
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        if r.by_crd_in_list && !new_crds.is_empty() {
            wait_established(client, &std::mem::take(&mut new_crds)).await?;
        }
        let api: Api<DynamicObject> = match &namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &r.resource),
            None => Api::all_with(client.clone(), &r.resource),
        };
        let mut subject = AppliedRef {
            api_version: r.resource.api_version.clone(),
            kind: r.resource.kind.clone(),
            namespace,
            name,
            generation: None,
            plural: r.resource.plural.clone(),
        };
        let out = api
            .patch(&subject.name, &params, &Patch::Apply(&obj))
            .await
            .map_err(|e| Error::api("apply", subject.to_string(), e))?;
        subject.generation = out.metadata.generation;
        if subject.kind == "CustomResourceDefinition" {
            new_crds.push(subject.name.clone());
        }
        applied.push(subject);
    }
    Ok(applied)
}

/// Creates namespace `name` unless it exists, as werf does for a release's namespace.
/// Returns whether this call created it. The namespace is created, not applied, so it is
/// not part of what a release owns and prunes.
///
/// # Errors
/// [`Error::Api`] when the namespace cannot be read or created.
pub async fn ensure_namespace(client: &Client, name: &str) -> Result<bool, Error> {
    use k8s_openapi::api::core::v1::Namespace;
    let api = Api::<Namespace>::all(client.clone());
    let subject = format!("Namespace {name}");
    if api
        .get_opt(name)
        .await
        .map_err(|e| Error::api("get", subject.clone(), e))?
        .is_some()
    {
        return Ok(false);
    }
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": name }
    }))
    .expect("a Namespace object");
    let params = kube::api::PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    match api.create(&params, &ns).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(Error::api("create", subject, e)),
    }
}

/// Deletes the object `applied` names (foreground: its dependents, such as a Job's pods,
/// go first) and waits until it is gone, for at most 60 seconds. Returns whether it
/// existed. What Helm does with a hook's `before-hook-creation`, `hook-succeeded` and
/// `hook-failed` delete policies.
///
/// # Errors
/// [`Error::Api`] when the server refuses the delete or the read.
pub async fn delete_and_wait(client: &Client, applied: &AppliedRef) -> Result<bool, Error> {
    let resource = kube::api::ApiResource {
        group: applied
            .api_version
            .split_once('/')
            .map_or(String::new(), |(g, _)| g.to_string()),
        version: applied
            .api_version
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string(),
        api_version: applied.api_version.clone(),
        kind: applied.kind.clone(),
        plural: applied.plural.clone(),
    };
    let api: Api<DynamicObject> = match &applied.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    match api
        .delete(&applied.name, &kube::api::DeleteParams::foreground())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(false),
        Err(e) => return Err(Error::api("delete", applied.to_string(), e)),
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        match api.get_opt(&applied.name).await {
            Ok(None) => return Ok(true),
            Ok(Some(_)) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            Err(e) => return Err(Error::api("read", applied.to_string(), e)),
        }
    }
    Ok(true)
}

/// Names the object `obj` would be applied as (kind found by API discovery, namespace
/// defaulted to `default_namespace` for namespaced kinds), without writing anything.
///
/// # Errors
/// As [`apply`] before its first write.
pub async fn resolve_ref(
    client: &Client,
    obj: &Value,
    default_namespace: &str,
) -> Result<AppliedRef, Error> {
    let served = discover(client, std::slice::from_ref(obj)).await?;
    let r = resolve(obj, &served, &[], 0)?;
    let namespace = r.namespaced.then(|| {
        obj["metadata"]["namespace"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or(default_namespace)
            .to_string()
    });
    Ok(AppliedRef {
        api_version: r.resource.api_version.clone(),
        kind: r.resource.kind.clone(),
        namespace,
        name: obj["metadata"]["name"].as_str().unwrap_or("").to_string(),
        generation: None,
        plural: r.resource.plural.clone(),
    })
}
