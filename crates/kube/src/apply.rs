//! Server-side apply of a list of objects, field manager `slipway`, in dependency order.

use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
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

/// (group, kind, plural, namespaced, rank): rank is the apply order.
const KINDS: &[(&str, &str, &str, bool, u8)] = &[
    ("", "Namespace", "namespaces", false, 0),
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        1,
    ),
    ("", "ServiceAccount", "serviceaccounts", true, 2),
    ("", "Secret", "secrets", true, 3),
    ("", "ConfigMap", "configmaps", true, 4),
    ("rbac.authorization.k8s.io", "Role", "roles", true, 5),
    (
        "rbac.authorization.k8s.io",
        "ClusterRole",
        "clusterroles",
        false,
        5,
    ),
    (
        "rbac.authorization.k8s.io",
        "RoleBinding",
        "rolebindings",
        true,
        6,
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        6,
    ),
    ("", "Service", "services", true, 7),
    (
        "",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        8,
    ),
    ("apps", "DaemonSet", "daemonsets", true, 9),
    ("apps", "Deployment", "deployments", true, 9),
    ("apps", "StatefulSet", "statefulsets", true, 9),
    ("batch", "Job", "jobs", true, 9),
    ("batch", "CronJob", "cronjobs", true, 9),
    ("", "PersistentVolume", "persistentvolumes", false, 10),
    ("", "Pod", "pods", true, 10),
    ("", "LimitRange", "limitranges", true, 10),
    ("", "ResourceQuota", "resourcequotas", true, 10),
    ("", "Endpoints", "endpoints", true, 10),
    ("apps", "ReplicaSet", "replicasets", true, 10),
    ("networking.k8s.io", "Ingress", "ingresses", true, 10),
    (
        "networking.k8s.io",
        "IngressClass",
        "ingressclasses",
        false,
        10,
    ),
    (
        "networking.k8s.io",
        "NetworkPolicy",
        "networkpolicies",
        true,
        10,
    ),
    (
        "policy",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        10,
    ),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        10,
    ),
    (
        "scheduling.k8s.io",
        "PriorityClass",
        "priorityclasses",
        false,
        10,
    ),
    (
        "storage.k8s.io",
        "StorageClass",
        "storageclasses",
        false,
        10,
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        10,
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        10,
    ),
];

/// Where an object lives in the API.
#[derive(Clone, Debug)]
struct Resolved {
    resource: ApiResource,
    namespaced: bool,
    rank: u8,
}

fn split_api_version(av: &str) -> (&str, &str) {
    av.split_once('/').unwrap_or(("", av))
}

/// Returns the apply rank of a kind (lower first; custom resources and unknown kinds last).
pub fn apply_rank(kind: &str) -> u8 {
    KINDS
        .iter()
        .find(|k| k.1 == kind)
        .map(|k| k.4)
        .unwrap_or(10)
}

fn resolve(
    obj: &Value,
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
    let found = KINDS
        .iter()
        .find(|k| k.0 == group && k.1 == kind)
        .map(|k| (k.2.to_string(), k.3, k.4))
        .or_else(|| {
            crds.iter()
                .find(|c| c.0 == group && c.1 == kind)
                .map(|c| (c.2.clone(), c.3, 10))
        });
    let Some((plural, namespaced, rank)) = found else {
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
        rank,
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

/// Server-side applies `objects` (field manager `slipway`, conflicts forced) in
/// dependency order: Namespace, CustomResourceDefinition, ServiceAccount, Secret,
/// ConfigMap, Role/ClusterRole, RoleBinding/ClusterRoleBinding, Service,
/// PersistentVolumeClaim, workloads, then everything else; the list's own order is kept
/// within a rank. Namespaced objects without a namespace go to `default_namespace`.
///
/// Every object is checked before the first request, so an unknown kind applies nothing.
///
/// # Errors
/// [`Error::Invalid`] or [`Error::UnknownKind`] before anything is sent; [`Error::Api`]
/// for the first object the server refuses (the ones before it stay applied).
pub async fn apply(
    client: &Client,
    objects: &[Value],
    default_namespace: &str,
) -> Result<Vec<AppliedRef>, Error> {
    let crds = crd_kinds(objects);
    let mut planned = Vec::with_capacity(objects.len());
    for (i, obj) in objects.iter().enumerate() {
        let r = resolve(obj, &crds, i)?;
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
    for (r, namespace, obj) in planned {
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
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
        applied.push(subject);
    }
    Ok(applied)
}
