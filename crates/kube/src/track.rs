//! Following workloads to readiness, with their pods' waiting reasons and events, and
//! stopping at once on a pull failure that waiting cannot cure.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Client;
use kube::api::{Api, ListParams};
use serde::Serialize;

use crate::apply::AppliedRef;
use crate::client::Error;
use crate::diagnose::{PULL_REASONS, PullDiagnosis, diagnose};
use crate::watch::Changes;

/// How to track.
#[derive(Clone, Debug)]
pub struct TrackOptions {
    /// Time between polls, when the API server cannot be watched.
    pub interval: Duration,
    /// Give up after this long.
    pub timeout: Duration,
    /// The trust agent's image, named in the `cluster trust apply` fix.
    pub agent_image: Option<String>,
    /// Registries this machine already trusts on purpose (it just pushed to them): a trust
    /// failure there is the nodes' alone, so no build-machine fix is offered for it.
    pub trusted_here: Vec<String>,
}

impl Default for TrackOptions {
    fn default() -> Self {
        TrackOptions {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(300),
            agent_image: None,
            trusted_here: vec![],
        }
    }
}

/// One container that is waiting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Waiting {
    /// The container.
    pub container: String,
    /// The waiting reason (`ErrImagePull`, `ContainerCreating`, ...).
    pub reason: String,
    /// The message, if any.
    pub message: Option<String>,
}

/// What was seen of one pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PodReport {
    /// The pod.
    pub name: String,
    /// Its node, once scheduled.
    pub node: Option<String>,
    /// The Ready condition is True.
    pub ready: bool,
    /// Containers (init containers included) that are waiting.
    pub waiting: Vec<Waiting>,
    /// Warning events of the pod, `reason: message`.
    pub events: Vec<String>,
    /// Pull failures, classified.
    pub diagnoses: Vec<PullDiagnosis>,
}

/// What was seen of one workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkloadReport {
    /// The workload.
    pub workload: AppliedRef,
    /// It reached readiness (for a Job: completion).
    pub ready: bool,
    /// Counts in words, e.g. `2/3 available`.
    pub detail: String,
    /// Its pods, as last seen while it was not ready.
    pub pods: Vec<PodReport>,
}

/// The outcome of [`track`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TrackReport {
    /// One entry per tracked workload.
    pub workloads: Vec<WorkloadReport>,
}

/// One line of progress, for the CLI to print; each distinct line is reported once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Progress {
    /// A workload's counts changed.
    Status {
        /// The workload, e.g. `Deployment default/web`.
        workload: String,
        /// Counts in words.
        detail: String,
        /// It is ready.
        ready: bool,
    },
    /// A container is waiting.
    Waiting {
        /// The pod.
        pod: String,
        /// Its node.
        node: Option<String>,
        /// The container and why it waits.
        waiting: Waiting,
    },
    /// A warning event of a pod.
    Event {
        /// The pod.
        pod: String,
        /// `reason: message`.
        text: String,
    },
    /// A pull failure, classified.
    Diagnosis(PullDiagnosis),
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Progress::Status {
                workload,
                detail,
                ready,
            } => write!(
                f,
                "{workload}: {detail}{}",
                if *ready { " (ready)" } else { "" }
            ),
            Progress::Waiting { pod, node, waiting } => write!(
                f,
                "pod {pod} on {}: {} waiting: {}{}",
                node.as_deref().unwrap_or("(unscheduled)"),
                waiting.container,
                waiting.reason,
                waiting
                    .message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
            Progress::Event { pod, text } => write!(f, "pod {pod}: event {text}"),
            Progress::Diagnosis(d) => write!(f, "{d}"),
        }
    }
}

/// Why tracking did not end with everything ready.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackError {
    /// A pod cannot pull its image, and waiting will not change that.
    #[error("image pull failed and will not recover:\n{}", lines(diagnoses))]
    PullFailed {
        /// The classified failures.
        diagnoses: Vec<PullDiagnosis>,
    },
    /// A Job failed.
    #[error("{workload} failed: {reason}")]
    WorkloadFailed {
        /// The workload.
        workload: String,
        /// The Failed condition's reason and message.
        reason: String,
    },
    /// Not ready in time.
    #[error("not ready after {}s:\n{}{}", after.as_secs_f64(), not_ready.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"), if diagnoses.is_empty() { String::new() } else { format!("\n{}", lines(diagnoses)) })]
    Timeout {
        /// The timeout.
        after: Duration,
        /// What was not ready, one line each (workloads, nodes, pods and their reasons).
        not_ready: Vec<String>,
        /// Pull failures seen (recoverable ones: waiting did not help).
        diagnoses: Vec<PullDiagnosis>,
    },
    /// The API could not be used.
    #[error(transparent)]
    Kube(#[from] Error),
}

fn lines(d: &[PullDiagnosis]) -> String {
    d.iter()
        .map(|d| format!("  {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Returns whether `r` is a kind [`track`] follows.
pub fn is_workload(r: &AppliedRef) -> bool {
    matches!(
        (r.api_version.as_str(), r.kind.as_str()),
        ("apps/v1", "Deployment" | "StatefulSet" | "DaemonSet") | ("batch/v1", "Job")
    )
}

/// Turns a label selector into the `labelSelector` query form.
pub fn selector_string(s: &LabelSelector) -> String {
    let mut terms: Vec<String> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in s.match_expressions.iter().flatten() {
        let vals = e.values.clone().unwrap_or_default().join(",");
        terms.push(match e.operator.as_str() {
            "In" => format!("{} in ({vals})", e.key),
            "NotIn" => format!("{} notin ({vals})", e.key),
            "DoesNotExist" => format!("!{}", e.key),
            _ => e.key.clone(),
        });
    }
    terms.join(",")
}

/// A workload's rollout state, by `kubectl rollout status`'s rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "message", rename_all = "kebab-case")]
pub enum RolloutStatus {
    /// Rolled out (a Job: complete), with kubectl's words.
    Ready(String),
    /// Not yet, with kubectl's words for what it waits for.
    Waiting(String),
    /// It will not roll out without a change: a Deployment past its progress deadline, a
    /// failed Job, or a strategy kubectl cannot follow.
    Failed(String),
}

impl RolloutStatus {
    fn from(ready: bool, text: String) -> RolloutStatus {
        if ready {
            RolloutStatus::Ready(text)
        } else {
            RolloutStatus::Waiting(text)
        }
    }
}

/// Says what `kubectl rollout status --watch=false` says of a Deployment.
fn deployment_status(d: &Deployment) -> RolloutStatus {
    let name = d.metadata.name.as_deref().unwrap_or_default();
    let st = d.status.clone().unwrap_or_default();
    if d.metadata.generation.unwrap_or(0) > st.observed_generation.unwrap_or(0) {
        return RolloutStatus::Waiting(
            "Waiting for deployment spec update to be observed...".into(),
        );
    }
    let timed_out = st.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    if timed_out {
        return RolloutStatus::Failed(format!(
            "deployment {name:?} exceeded its progress deadline"
        ));
    }
    let updated = st.updated_replicas.unwrap_or(0);
    let replicas = st.replicas.unwrap_or(0);
    let available = st.available_replicas.unwrap_or(0);
    if let Some(want) = d.spec.as_ref().and_then(|s| s.replicas)
        && updated < want
    {
        return RolloutStatus::Waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {updated} out of {want} new replicas have been updated..."
        ));
    }
    if replicas > updated {
        return RolloutStatus::Waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...",
            replicas - updated
        ));
    }
    if available < updated {
        return RolloutStatus::Waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    RolloutStatus::Ready(format!("deployment {name:?} successfully rolled out"))
}

/// Says what `kubectl rollout status --watch=false` says of a DaemonSet.
fn daemonset_status(d: &DaemonSet) -> RolloutStatus {
    let name = d.metadata.name.as_deref().unwrap_or_default();
    let strategy = d
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.clone())
        .unwrap_or_else(|| "RollingUpdate".into());
    if strategy != "RollingUpdate" {
        return RolloutStatus::Failed(
            "rollout status is only available for RollingUpdate strategy type".into(),
        );
    }
    let st = d.status.clone().unwrap_or_default();
    if d.metadata.generation.unwrap_or(0) > st.observed_generation.unwrap_or(0) {
        return RolloutStatus::Waiting(
            "Waiting for daemon set spec update to be observed...".into(),
        );
    }
    let (want, updated) = (
        st.desired_number_scheduled,
        st.updated_number_scheduled.unwrap_or(0),
    );
    let available = st.number_available.unwrap_or(0);
    if updated < want {
        return RolloutStatus::Waiting(format!(
            "Waiting for daemon set {name:?} rollout to finish: {updated} out of {want} new pods have been updated..."
        ));
    }
    if available < want {
        return RolloutStatus::Waiting(format!(
            "Waiting for daemon set {name:?} rollout to finish: {available} of {want} updated pods are available..."
        ));
    }
    RolloutStatus::Ready(format!("daemon set {name:?} successfully rolled out"))
}

/// Says what `kubectl rollout status --watch=false` says of a StatefulSet.
fn statefulset_status(s: &StatefulSet) -> RolloutStatus {
    let spec = s.spec.clone().unwrap_or_default();
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    if strategy.type_.as_deref().unwrap_or("RollingUpdate") != "RollingUpdate" {
        return RolloutStatus::Failed(
            "rollout status is only available for RollingUpdate strategy type".into(),
        );
    }
    let st = s.status.clone().unwrap_or_default();
    let observed = st.observed_generation.unwrap_or(0);
    if observed == 0 || s.metadata.generation.unwrap_or(0) > observed {
        return RolloutStatus::Waiting(
            "Waiting for statefulset spec update to be observed...".into(),
        );
    }
    let ready = st.ready_replicas.unwrap_or(0);
    if let Some(want) = spec.replicas
        && ready < want
    {
        return RolloutStatus::Waiting(format!("Waiting for {} pods to be ready...", want - ready));
    }
    let updated = st.updated_replicas.unwrap_or(0);
    if let Some(rolling) = strategy.rolling_update {
        if let (Some(want), Some(partition)) = (spec.replicas, rolling.partition)
            && updated < want - partition
        {
            return RolloutStatus::Waiting(format!(
                "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                want - partition
            ));
        }
        return RolloutStatus::Ready(format!(
            "partitioned roll out complete: {updated} new pods have been updated..."
        ));
    }
    let (update, current) = (
        st.update_revision.unwrap_or_default(),
        st.current_revision.unwrap_or_default(),
    );
    if update != current {
        return RolloutStatus::Waiting(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update}..."
        ));
    }
    RolloutStatus::Ready(format!(
        "statefulset rolling update complete {} pods at revision {current}...",
        st.current_replicas.unwrap_or(0)
    ))
}

/// Says whether a Job completed (`succeeded >= completions`) or failed (a `Failed`
/// condition); kubectl has no rollout status for Jobs.
fn job_status(j: &Job) -> RolloutStatus {
    let want = j.spec.as_ref().and_then(|s| s.completions).unwrap_or(1);
    let st = j.status.clone().unwrap_or_default();
    if let Some(c) = st
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Failed" && c.status == "True")
    {
        return RolloutStatus::Failed(format!(
            "{}: {}",
            c.reason.as_deref().unwrap_or("Failed"),
            c.message.as_deref().unwrap_or("")
        ));
    }
    let done = st.succeeded.unwrap_or(0);
    RolloutStatus::from(done >= want, format!("{done}/{want} succeeded"))
}

/// Reads one workload and says where its rollout is, by `kubectl rollout status`'s rules
/// (Jobs: complete or failed), with its pod selector.
async fn check(client: &Client, r: &AppliedRef) -> Result<(RolloutStatus, String), Error> {
    let ns = r.namespace.as_deref().unwrap_or("default");
    let get_err = |e| Error::api("get", r.to_string(), e);
    match r.kind.as_str() {
        "Deployment" => {
            let d = Api::<Deployment>::namespaced(client.clone(), ns)
                .get(&r.name)
                .await
                .map_err(get_err)?;
            let selector = d
                .spec
                .as_ref()
                .map(|s| selector_string(&s.selector))
                .unwrap_or_default();
            Ok((deployment_status(&d), selector))
        }
        "StatefulSet" => {
            let s = Api::<StatefulSet>::namespaced(client.clone(), ns)
                .get(&r.name)
                .await
                .map_err(get_err)?;
            let selector = s
                .spec
                .as_ref()
                .map(|s| selector_string(&s.selector))
                .unwrap_or_default();
            Ok((statefulset_status(&s), selector))
        }
        "DaemonSet" => {
            let d = Api::<DaemonSet>::namespaced(client.clone(), ns)
                .get(&r.name)
                .await
                .map_err(get_err)?;
            let selector = d
                .spec
                .as_ref()
                .map(|s| selector_string(&s.selector))
                .unwrap_or_default();
            Ok((daemonset_status(&d), selector))
        }
        _ => {
            let j = Api::<Job>::namespaced(client.clone(), ns)
                .get(&r.name)
                .await
                .map_err(get_err)?;
            let selector = j
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .map(selector_string)
                .unwrap_or_else(|| format!("job-name={}", r.name));
            Ok((job_status(&j), selector))
        }
    }
}

/// Says where one workload's rollout is, as `kubectl rollout status --watch=false` would
/// (Jobs: complete or failed).
///
/// # Errors
/// [`Error::Api`] when the workload cannot be read.
pub async fn rollout_status(client: &Client, r: &AppliedRef) -> Result<RolloutStatus, Error> {
    Ok(check(client, r).await?.0)
}

/// Lists a namespace's pods matching `selector` and reports on each: readiness, waiting
/// containers, warning events (for pods that are not ready) and classified pull failures.
pub(crate) async fn inspect_pods(
    client: &Client,
    namespace: &str,
    selector: &str,
    opts: &TrackOptions,
) -> Result<Vec<(Pod, PodReport)>, Error> {
    let agent_image = opts.agent_image.as_deref();
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| Error::api("list", format!("pods in {namespace} ({selector})"), e))?;
    let events_api = Api::<Event>::namespaced(client.clone(), namespace);
    let mut out = Vec::new();
    for pod in pods.items {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let spec = pod.spec.clone().unwrap_or_default();
        let node = spec.node_name.clone();
        let status = pod.status.clone().unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        let mut report = PodReport {
            name: name.clone(),
            node: node.clone(),
            ready,
            waiting: vec![],
            events: vec![],
            diagnoses: vec![],
        };
        let mut pulls = Vec::new();
        for cs in status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten())
        {
            let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
                continue;
            };
            let reason = w.reason.clone().unwrap_or_default();
            if PULL_REASONS.contains(&reason.as_str()) {
                pulls.push((
                    cs.name.clone(),
                    cs.image.clone(),
                    reason.clone(),
                    w.message.clone(),
                ));
            }
            report.waiting.push(Waiting {
                container: cs.name.clone(),
                reason,
                message: w.message.clone(),
            });
        }
        let mut failed_events: Vec<String> = Vec::new();
        if !ready {
            let mut evs = events_api
                .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
                .await
                .map_err(|e| Error::api("list", format!("events of pod {namespace}/{name}"), e))?
                .items;
            // Newest first.
            evs.sort_by_key(|e| {
                std::cmp::Reverse(
                    e.last_timestamp
                        .as_ref()
                        .map(|t| t.0)
                        .or(e.event_time.as_ref().map(|t| t.0))
                        .or(e.metadata.creation_timestamp.as_ref().map(|t| t.0)),
                )
            });
            for e in evs {
                if e.type_.as_deref() == Some("Normal") {
                    continue;
                }
                let reason = e.reason.unwrap_or_default();
                let message = e.message.unwrap_or_default();
                if reason == "Failed" && message.starts_with("Failed to pull image") {
                    failed_events.push(message.clone());
                }
                report.events.push(format!("{reason}: {message}"));
            }
        }
        for (container, image, reason, message) in pulls {
            let quoted = format!("\"{image}\"");
            let mut candidates: Vec<String> = failed_events
                .iter()
                .filter(|m| m.contains(&quoted))
                .cloned()
                .collect();
            candidates.extend(message);
            let d = candidates
                .iter()
                .map(|m| {
                    diagnose(
                        namespace,
                        &name,
                        node.as_deref(),
                        Some(&container),
                        Some(&image),
                        Some(&reason),
                        m,
                        agent_image,
                    )
                })
                .find(|d| d.verdict != slipway_trust::Verdict::Other);
            let d = d.unwrap_or_else(|| {
                let m = candidates
                    .first()
                    .cloned()
                    .unwrap_or_else(|| reason.clone());
                diagnose(
                    namespace,
                    &name,
                    node.as_deref(),
                    Some(&container),
                    Some(&image),
                    Some(&reason),
                    &m,
                    agent_image,
                )
            });
            report.diagnoses.push(trusted_here(d, &opts.trusted_here));
        }
        out.push((pod, report));
    }
    Ok(out)
}

/// Replaces the build-machine fixes of a trust failure at a registry this machine already
/// trusts with a line that says so.
fn trusted_here(mut d: PullDiagnosis, trusted: &[String]) -> PullDiagnosis {
    let trust_verdict = matches!(
        d.verdict,
        slipway_trust::Verdict::UnknownAuthority | slipway_trust::Verdict::ClientCertRequired
    );
    if trust_verdict && trusted.contains(&d.registry) {
        d.fixes.build_machine = vec![slipway_trust::Fix::Nothing {
            reason: format!(
                "this machine already trusts {} on purpose; only the nodes need the fix",
                d.registry
            ),
        }];
    }
    d
}

/// Emits the progress lines of `pods` not reported before.
pub(crate) fn report_pods(
    pods: &[PodReport],
    seen: &mut HashSet<String>,
    on_progress: &mut dyn FnMut(&Progress),
) {
    for p in pods {
        let mut items: Vec<Progress> = p
            .waiting
            .iter()
            .map(|w| Progress::Waiting {
                pod: p.name.clone(),
                node: p.node.clone(),
                waiting: w.clone(),
            })
            .collect();
        items.extend(p.events.iter().map(|t| Progress::Event {
            pod: p.name.clone(),
            text: t.clone(),
        }));
        items.extend(p.diagnoses.iter().cloned().map(Progress::Diagnosis));
        for item in items {
            if seen.insert(item.to_string()) {
                on_progress(&item);
            }
        }
    }
}

/// Follows the Deployments, StatefulSets, DaemonSets and Jobs among `applied` until all
/// are ready (Jobs: complete), reporting progress lines through `on_progress`.
///
/// Readiness is `kubectl rollout status`'s ([`rollout_status`]): for a Deployment, the
/// spec observed, every replica updated, no old replica left, every updated one available;
/// a Deployment past its progress deadline fails. Jobs: `succeeded >= completions`. Other
/// kinds are not followed. Changes are seen by watching the namespaces' workloads, pods
/// and events (everything is read again at least every 10 s), or by polling every
/// `opts.interval` when the API server cannot be watched.
///
/// # Errors
/// [`TrackError::PullFailed`] as soon as a pod's pull failure is one waiting cannot cure
/// (a TLS/trust verdict, unauthorized, not found, or an invalid image name);
/// [`TrackError::WorkloadFailed`] for a failed Job or a Deployment past its deadline;
/// [`TrackError::Timeout`] after `opts.timeout`; [`TrackError::Kube`] when the API fails.
pub async fn track<F: FnMut(&Progress)>(
    client: &Client,
    applied: &[AppliedRef],
    opts: &TrackOptions,
    mut on_progress: F,
) -> Result<TrackReport, TrackError> {
    let start = Instant::now();
    let mut reports: Vec<WorkloadReport> = applied
        .iter()
        .filter(|r| is_workload(r))
        .map(|r| WorkloadReport {
            workload: r.clone(),
            ready: false,
            detail: String::new(),
            pods: vec![],
        })
        .collect();
    let mut seen = HashSet::new();
    let mut namespaces: Vec<String> = reports
        .iter()
        .map(|w| {
            w.workload
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into())
        })
        .collect();
    namespaces.sort();
    namespaces.dedup();
    let mut changes = Changes::new(client, namespaces, opts.interval);
    loop {
        let mut fatal = Vec::new();
        for w in reports.iter_mut().filter(|w| !w.ready) {
            let (state, selector) = check(client, &w.workload).await?;
            let (detail, ready) = match state {
                RolloutStatus::Ready(d) => (d, true),
                RolloutStatus::Waiting(d) => (d, false),
                RolloutStatus::Failed(why) => {
                    return Err(TrackError::WorkloadFailed {
                        workload: w.workload.to_string(),
                        reason: why,
                    });
                }
            };
            let status = Progress::Status {
                workload: w.workload.to_string(),
                detail: detail.clone(),
                ready,
            };
            if seen.insert(status.to_string()) {
                on_progress(&status);
            }
            w.detail = detail;
            w.ready = ready;
            if !ready {
                let ns = w.workload.namespace.as_deref().unwrap_or("default");
                let pods = inspect_pods(client, ns, &selector, opts).await?;
                w.pods = pods.into_iter().map(|(_, r)| r).collect();
                report_pods(&w.pods, &mut seen, &mut on_progress);
                fatal.extend(
                    w.pods
                        .iter()
                        .flat_map(|p| p.diagnoses.iter())
                        .filter(|d| d.fatal)
                        .cloned(),
                );
            }
        }
        if !fatal.is_empty() {
            return Err(TrackError::PullFailed { diagnoses: fatal });
        }
        if reports.iter().all(|w| w.ready) {
            return Ok(TrackReport { workloads: reports });
        }
        let elapsed = start.elapsed();
        if elapsed >= opts.timeout {
            let mut not_ready = Vec::new();
            let mut diagnoses = Vec::new();
            for w in reports.iter().filter(|w| !w.ready) {
                not_ready.push(format!("{}: {}", w.workload, w.detail));
                for p in &w.pods {
                    if !p.ready {
                        not_ready.push(format!("  {}", pod_line(p)));
                    }
                    diagnoses.extend(p.diagnoses.iter().cloned());
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

/// One line for a pod that is not ready: node, name and waiting reasons.
pub(crate) fn pod_line(p: &PodReport) -> String {
    let reasons: Vec<String> = p
        .waiting
        .iter()
        .map(|w| format!("{} {}", w.container, w.reason))
        .collect();
    format!(
        "pod {} on {}: not ready{}",
        p.name,
        p.node.as_deref().unwrap_or("(unscheduled)"),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        }
    )
}
