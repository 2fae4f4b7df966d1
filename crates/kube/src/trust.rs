//! `cluster trust apply` (apply the trust DaemonSet and wait for every node) and the
//! cluster half of `doctor` (the DaemonSet per node, nodes without trust, recent pull
//! failures).

use std::collections::HashSet;
use std::time::Instant;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Event, Node};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde::Serialize;

use crate::apply::{AppliedRef, apply};
use crate::client::Error;
use crate::diagnose::{PullDiagnosis, ca_file_name, diagnose, registry_of};
use crate::track::{
    PodReport, Progress, TrackError, TrackOptions, Waiting, inspect_pods, pod_line, report_pods,
};
use crate::watch::Changes;
use crate::{AGENT_NAME, CHECKSUM_ANNOTATION, TrustManifest};

/// The trust agent on one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeTrust {
    /// The node.
    pub node: String,
    /// The agent pod on it, if any.
    pub pod: Option<String>,
    /// The pod is Ready (`node trust verify` passed) and runs the current bundle.
    pub ready: bool,
    /// The pod's bundle checksum annotation.
    pub bundle_sha256: Option<String>,
    /// The pod carries the bundle checksum asked for (always true when none was asked).
    pub current_bundle: bool,
    /// Waiting containers of the pod.
    pub waiting: Vec<Waiting>,
}

/// Counts of the trust DaemonSet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DaemonSetCounts {
    /// desiredNumberScheduled.
    pub desired: i32,
    /// numberReady.
    pub ready: i32,
    /// updatedNumberScheduled.
    pub updated: i32,
    /// The pod template's bundle checksum.
    pub bundle_sha256: Option<String>,
}

/// The outcome of [`trust_apply`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrustApplyReport {
    /// The objects applied, in order.
    pub applied: Vec<AppliedRef>,
    /// The namespace of the agent.
    pub namespace: String,
    /// The bundle checksum every agent pod now runs.
    pub bundle_sha256: String,
    /// The DaemonSet's counts at the end.
    pub daemonset: DaemonSetCounts,
    /// One entry per node with an agent pod, by node name.
    pub nodes: Vec<NodeTrust>,
}

fn counts(ds: &DaemonSet) -> (DaemonSetCounts, bool) {
    let st = ds.status.clone().unwrap_or_default();
    let c = DaemonSetCounts {
        desired: st.desired_number_scheduled,
        ready: st.number_ready,
        updated: st.updated_number_scheduled.unwrap_or(0),
        bundle_sha256: ds
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(CHECKSUM_ANNOTATION))
            .cloned(),
    };
    let observed = st.observed_generation.unwrap_or(0) >= ds.metadata.generation.unwrap_or(0);
    let done = observed && c.ready == c.desired && c.updated == c.desired;
    (c, done)
}

/// The agent pods of `namespace`, one [`NodeTrust`] each, plus their pod reports.
async fn agents(
    client: &Client,
    namespace: &str,
    checksum: Option<&str>,
    opts: &TrackOptions,
) -> Result<(Vec<NodeTrust>, Vec<PodReport>), Error> {
    let selector = format!("app.kubernetes.io/name={AGENT_NAME}");
    let pods = inspect_pods(client, namespace, &selector, opts).await?;
    let mut nodes = Vec::new();
    let mut reports = Vec::new();
    for (pod, report) in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let sum = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(CHECKSUM_ANNOTATION))
            .cloned();
        let current = checksum.is_none_or(|c| sum.as_deref() == Some(c));
        nodes.push(NodeTrust {
            node: report
                .node
                .clone()
                .unwrap_or_else(|| "(unscheduled)".into()),
            pod: Some(report.name.clone()),
            ready: report.ready && current,
            bundle_sha256: sum,
            current_bundle: current,
            waiting: report.waiting.clone(),
        });
        reports.push(report);
    }
    nodes.sort_by(|a, b| a.node.cmp(&b.node));
    Ok((nodes, reports))
}

/// Names every node of the cluster; `None` when the list is not allowed or fails.
async fn node_names(client: &Client) -> Option<Vec<String>> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .ok()?;
    Some(
        nodes
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect(),
    )
}

/// Adds the chicken-and-egg explanation to a diagnosis of the agent's own image.
fn agent_diagnosis(mut d: PullDiagnosis, m: &TrustManifest) -> PullDiagnosis {
    let agent_registry = registry_of(&m.agent_image);
    let trusted_here = m
        .registries
        .iter()
        .any(|t| t.registry.to_string() == agent_registry);
    if d.image == m.agent_image && trusted_here {
        d.cause = format!(
            "{}; the agent image {} comes from {agent_registry}, the registry this DaemonSet is meant to make trusted, so no node can pull it first",
            d.cause, m.agent_image
        );
        d.fixes.nodes = vec![
            slipway_trust::Fix::check(
                "use an --agent-image from a registry the nodes already trust (a public registry, or one whose CA the nodes have)",
            ),
            slipway_trust::Fix::run_for(
                format!("or trust {agent_registry} by hand on each node first"),
                format!(
                    "slipway node trust install --registry {agent_registry} --ca {}",
                    ca_file_name(&agent_registry)
                ),
            ),
        ];
    }
    d
}

/// Applies `manifest`'s objects, then waits until the DaemonSet has `numberReady ==
/// updatedNumberScheduled == desiredNumberScheduled` and every agent pod carries the
/// manifest's bundle checksum (pods of an older bundle keep it waiting). Reports per node.
///
/// # Errors
/// [`TrackError::PullFailed`] at once when an agent pod cannot pull its image for a reason
/// waiting cannot cure (for the agent's own image from a registry the nodes do not trust
/// yet, the diagnosis explains the chicken-and-egg); [`TrackError::Timeout`] listing the
/// nodes and pods not ready and why; [`TrackError::Kube`] when the API fails.
pub async fn trust_apply<F: FnMut(&Progress)>(
    client: &Client,
    manifest: &TrustManifest,
    opts: &TrackOptions,
    mut on_progress: F,
) -> Result<TrustApplyReport, TrackError> {
    let start = Instant::now();
    let ns = manifest.namespace.clone();
    let applied = apply(client, &manifest.objects(), &ns).await?;
    let checksum = manifest.bundle_checksum();
    let ds_api = Api::<DaemonSet>::namespaced(client.clone(), &ns);
    let subject = format!("DaemonSet {ns}/{AGENT_NAME}");
    let opts = &TrackOptions {
        agent_image: opts
            .agent_image
            .clone()
            .or(Some(manifest.agent_image.clone())),
        ..opts.clone()
    };
    let mut seen = HashSet::new();
    let mut changes = Changes::new(client, vec![ns.clone()], opts.interval);
    loop {
        let ds = ds_api
            .get(AGENT_NAME)
            .await
            .map_err(|e| Error::api("get", subject.clone(), e))?;
        let (c, ds_done) = counts(&ds);
        let (nodes, reports) = agents(client, &ns, Some(&checksum), opts).await?;
        let stale = nodes.iter().filter(|n| !n.current_bundle).count();
        let status = Progress::Status {
            workload: subject.clone(),
            detail: format!(
                "{}/{} ready, {}/{} updated{}",
                c.ready,
                c.desired,
                c.updated,
                c.desired,
                if stale > 0 {
                    format!(", {stale} pod(s) of an older bundle")
                } else {
                    String::new()
                }
            ),
            ready: false,
        };
        if seen.insert(status.to_string()) {
            on_progress(&status);
        }
        report_pods(&reports, &mut seen, &mut on_progress);
        let ready_nodes = nodes.iter().filter(|n| n.ready).count();
        if ds_done && stale == 0 && ready_nodes as i32 >= c.desired {
            return Ok(TrustApplyReport {
                applied,
                namespace: ns,
                bundle_sha256: checksum,
                daemonset: c,
                nodes,
            });
        }
        let diagnoses: Vec<PullDiagnosis> = reports
            .iter()
            .flat_map(|r| r.diagnoses.iter().cloned())
            .map(|d| agent_diagnosis(d, manifest))
            .collect();
        let fatal: Vec<PullDiagnosis> = diagnoses.iter().filter(|d| d.fatal).cloned().collect();
        if !fatal.is_empty() {
            return Err(TrackError::PullFailed { diagnoses: fatal });
        }
        let elapsed = start.elapsed();
        if elapsed >= opts.timeout {
            let mut not_ready = vec![format!(
                "{subject}: {}/{} ready, {}/{} updated",
                c.ready, c.desired, c.updated, c.desired
            )];
            for (n, r) in nodes.iter().zip(&reports) {
                if !n.ready {
                    let line = pod_line(r);
                    not_ready.push(format!(
                        "node {}: {line}{}",
                        n.node,
                        if n.current_bundle {
                            ""
                        } else {
                            " (older bundle)"
                        }
                    ));
                }
            }
            if let Some(all) = node_names(client).await {
                let covered: HashSet<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
                for n in all.iter().filter(|n| !covered.contains(n.as_str())) {
                    not_ready.push(format!("node {n}: no agent pod"));
                }
            }
            return Err(TrackError::Timeout {
                after: opts.timeout,
                not_ready,
                diagnoses,
            });
        }
        changes.wait(opts.timeout - elapsed).await;
    }
}

/// The cluster side of `doctor` for one registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    /// The agent's namespace.
    pub namespace: String,
    /// The trust DaemonSet's counts; `None` when it is not installed.
    pub daemonset: Option<DaemonSetCounts>,
    /// The agent pod per node.
    pub nodes: Vec<NodeTrust>,
    /// Nodes without a ready agent pod of the current template.
    pub nodes_without_trust: Vec<String>,
    /// Recent pull failures (events with reason `Failed` naming the registry), newest first,
    /// that no later pull of the same image by the same pod has superseded.
    pub pull_failures: Vec<PullDiagnosis>,
    /// Pull failures that a later successful pull of the same image by the same pod
    /// superseded (the pod recovered), newest first.
    pub recovered: Vec<PullDiagnosis>,
}

/// How many pull-failure events [`cluster_status`] keeps.
pub const RECENT_PULL_FAILURES: usize = 20;

/// Reads the trust DaemonSet in `namespace` per node, the nodes without a ready agent
/// pod, and recent pull-failure events (any namespace) whose message names `registry`,
/// classified.
///
/// # Errors
/// [`Error::Api`] when the DaemonSet, pods, nodes or events cannot be read.
pub async fn cluster_status(
    client: &Client,
    namespace: &str,
    registry: &str,
) -> Result<ClusterStatus, Error> {
    let ds = Api::<DaemonSet>::namespaced(client.clone(), namespace)
        .get_opt(AGENT_NAME)
        .await
        .map_err(|e| Error::api("get", format!("DaemonSet {namespace}/{AGENT_NAME}"), e))?;
    let counts = ds.as_ref().map(|d| counts(d).0);
    let checksum = counts.as_ref().and_then(|c| c.bundle_sha256.clone());
    let (nodes, _) = if ds.is_some() {
        agents(
            client,
            namespace,
            checksum.as_deref(),
            &TrackOptions::default(),
        )
        .await?
    } else {
        (vec![], vec![])
    };
    let all = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| Error::api("list", "nodes", e))?;
    let ready: HashSet<&str> = nodes
        .iter()
        .filter(|n| n.ready)
        .map(|n| n.node.as_str())
        .collect();
    let nodes_without_trust = all
        .items
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .filter(|n| !ready.contains(n.as_str()))
        .collect();
    let events_of = |reason: &'static str| {
        let api = Api::<Event>::all(client.clone());
        async move {
            api.list(&ListParams::default().fields(&format!("reason={reason}")))
                .await
                .map_err(|e| Error::api("list", format!("events (reason={reason})"), e))
                .map(|l| l.items)
        }
    };
    let mut events = events_of("Failed").await?;
    events.sort_by_key(|e| std::cmp::Reverse(event_time(e)));
    // The last successful pull per (pod uid, image), from the kubelet's `Pulled` events.
    let pulled: Vec<(String, String, Option<Time>)> = events_of("Pulled")
        .await?
        .iter()
        .filter_map(|e| {
            let m = e.message.as_deref()?;
            let image = m
                .strip_prefix("Successfully pulled image \"")
                .or_else(|| m.strip_prefix("Container image \""))?
                .split('"')
                .next()?;
            Some((
                e.involved_object.uid.clone()?,
                image.to_string(),
                event_time(e),
            ))
        })
        .collect();
    let mut pull_failures: Vec<PullDiagnosis> = Vec::new();
    let mut recovered: Vec<PullDiagnosis> = Vec::new();
    for e in events {
        let message = e.message.clone().unwrap_or_default();
        if !message.starts_with("Failed to pull image") || !message.contains(registry) {
            continue;
        }
        let pod = e.involved_object.name.clone().unwrap_or_default();
        if pull_failures
            .iter()
            .chain(&recovered)
            .any(|d| d.pod == pod && d.message == message)
        {
            continue;
        }
        let node = e
            .source
            .as_ref()
            .and_then(|s| s.host.clone())
            .or(e.reporting_instance.clone());
        let ns = e.involved_object.namespace.clone().unwrap_or_default();
        let container = e
            .involved_object
            .field_path
            .as_deref()
            .and_then(|f| f.strip_prefix("spec.containers{"))
            .and_then(|f| f.strip_suffix('}'))
            .map(str::to_string);
        let d = diagnose(
            &ns,
            &pod,
            node.as_deref(),
            container.as_deref(),
            None,
            None,
            &message,
            None,
        );
        let failed_at = event_time(&e);
        let superseded = pulled.iter().any(|(uid, image, at)| {
            Some(uid) == e.involved_object.uid.as_ref() && *image == d.image && *at >= failed_at
        });
        if superseded {
            recovered.push(d);
        } else {
            pull_failures.push(d);
        }
        if pull_failures.len() + recovered.len() == RECENT_PULL_FAILURES {
            break;
        }
    }
    Ok(ClusterStatus {
        namespace: namespace.to_string(),
        daemonset: counts,
        nodes,
        nodes_without_trust,
        pull_failures,
        recovered,
    })
}

/// When an event last happened: `lastTimestamp`, else `eventTime`, else its creation.
fn event_time(e: &Event) -> Option<Time> {
    e.last_timestamp
        .clone()
        .or_else(|| e.event_time.as_ref().map(|t| Time(t.0)))
        .or_else(|| e.metadata.creation_timestamp.clone())
}

/// Removes every taint with key `key` from node `node`, as the trust agent does once the
/// node's runtime trusts the registries (see [`crate::STARTUP_TAINT`]). Returns whether
/// there was one. The change is a merge patch conditioned on the resourceVersion read, so
/// a taint another controller adds meanwhile is never lost; a conflict reads again.
///
/// # Errors
/// [`Error::Api`] when the node cannot be read or patched.
pub async fn release_node_taint(client: &Client, node: &str, key: &str) -> Result<bool, Error> {
    let api = Api::<Node>::all(client.clone());
    let subject = format!("Node {node}");
    let mut attempts = 0;
    loop {
        let n = api
            .get(node)
            .await
            .map_err(|e| Error::api("get", subject.clone(), e))?;
        let taints = n.spec.and_then(|s| s.taints).unwrap_or_default();
        if !taints.iter().any(|t| t.key == key) {
            return Ok(false);
        }
        let keep: Vec<_> = taints.into_iter().filter(|t| t.key != key).collect();
        let patch = serde_json::json!({
            "metadata": { "resourceVersion": n.metadata.resource_version },
            "spec": { "taints": keep },
        });
        match api
            .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 && attempts < 5 => attempts += 1,
            Err(e) => return Err(Error::api("patch", subject, e)),
        }
    }
}
