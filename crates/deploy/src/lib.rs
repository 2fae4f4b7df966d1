//! The converge pipeline, as one library call: connect to the cluster, build and push (the
//! caller's step, which also renders the manifests), make every node trust the registry
//! (`cluster trust apply`, when the plan says so), create the namespace, server-side apply
//! in dependency order, prune what the release no longer has, and follow the rollout until
//! every workload is ready or a pull fails in a way waiting cannot cure.
//!
//! What it is for: `slipway converge`, whose binary only turns flags into a [`Plan`] and
//! prints the [`Event`]s and the [`Converged`] outcome. What it is not for: deciding trust
//! on the build machine (the caller resolves it into the plan) or building images (the
//! caller's step).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use slipway_kube::{
    AppliedRef, Progress, PruneReport, TrackError, TrackOptions, TrackReport, TrustApplyReport,
    TrustManifest,
};

/// What one converge does, decided before anything is built.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The repository the build pushes to, for messages.
    pub repo: String,
    /// The release: what this converge owns, recorded in `ConfigMap slipway-release-NAME`.
    pub release: String,
    /// The namespace for objects that name none; `None` takes the kubeconfig context's.
    pub namespace: Option<String>,
    /// The kubeconfig file; `None` reads `$KUBECONFIG`, else `~/.kube/config`.
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The kubeconfig context; `None` takes the current one.
    pub kube_context: Option<String>,
    /// The trust DaemonSet to apply first, when the nodes must trust the registry.
    pub trust: Option<TrustManifest>,
    /// How to follow the trust agent and the workloads.
    pub track: TrackOptions,
    /// Delete what the release's previous converge applied and this one does not.
    pub prune: bool,
}

/// What the build step hands over: the images it pushed and the objects to apply.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    /// Image name to the digest-pinned reference nodes pull.
    pub images: BTreeMap<String, String>,
    /// The objects, in the order they were rendered.
    pub objects: Vec<Value>,
    /// The chart's hooks (`helm.sh/hook`), in Helm's order; not part of the release's
    /// objects, so never pruned.
    pub hooks: Vec<Hook>,
}

/// A chart hook: an object applied at a point of the converge, as Helm runs hooks.
#[derive(Clone, Debug)]
pub struct Hook {
    /// The template it came from.
    pub source: String,
    /// When it runs (`pre-install`, `post-install`, `pre-upgrade`, `post-upgrade`, ...).
    pub events: Vec<String>,
    /// `helm.sh/hook-weight`: lower runs first.
    pub weight: i64,
    /// `helm.sh/hook-delete-policy` (`before-hook-creation`, `hook-succeeded`,
    /// `hook-failed`).
    pub delete_policies: Vec<String>,
    /// The object.
    pub object: Value,
}

/// What converge tells its caller while it works.
#[derive(Debug)]
pub enum Event<'a> {
    /// A step begins (`build and push`, `cluster trust apply`, `apply`, `track`).
    Step(String),
    /// Something happened within a step, in words (`applied Deployment app/web`).
    Line(String),
    /// A line of progress from the trust agent or a workload.
    Progress(&'a Progress),
}

/// The outcome of a converge where every workload became ready.
#[derive(Clone, Debug, Serialize)]
pub struct Converged {
    /// The namespace objects without one went to.
    pub namespace: String,
    /// Image name to the reference the nodes pull.
    pub images: BTreeMap<String, String>,
    /// The trust DaemonSet's report, when it was applied.
    pub trust: Option<TrustApplyReport>,
    /// The hooks run, in order.
    pub hooks: Vec<AppliedRef>,
    /// The objects applied, in apply order.
    pub applied: Vec<AppliedRef>,
    /// What pruning deleted and kept.
    pub pruned: PruneReport,
    /// Every workload's rollout.
    pub rollout: TrackReport,
}

/// Why converge stopped. `B` is the build step's own error.
#[derive(Debug, thiserror::Error)]
pub enum Error<B: std::error::Error + 'static> {
    /// The build step failed.
    #[error(transparent)]
    Build(B),
    /// The cluster could not be reached or refused a request.
    #[error(transparent)]
    Kube(#[from] slipway_kube::Error),
    /// The trust agent or a workload did not become ready.
    #[error("{stage}: {error}")]
    Stopped {
        /// `cluster trust apply` or `rollout`.
        stage: &'static str,
        /// What tracking found.
        #[source]
        error: TrackError,
    },
    /// No async runtime could be started.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

fn stopped<B: std::error::Error>(stage: &'static str, error: TrackError) -> Error<B> {
    match error {
        TrackError::Kube(k) => Error::Kube(k),
        error => Error::Stopped { stage, error },
    }
}

/// Runs one converge. See the crate documentation.
///
/// # Errors
/// [`Error::Build`] from the build step; [`Error::Kube`] when the cluster cannot be used
/// (checked before the build runs); [`Error::Stopped`] when the trust agent or a workload
/// is not ready in time or cannot pull.
pub fn converge<B: std::error::Error + 'static>(
    plan: &Plan,
    build: impl FnOnce() -> Result<Manifests, B>,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Converged, Error<B>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let client = rt.block_on(slipway_kube::connect_with(
        plan.kubeconfig.as_deref(),
        plan.kube_context.as_deref(),
    ))?;
    let namespace = plan
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());

    on_event(Event::Step(format!("build and push to {}", plan.repo)));
    let manifests = build().map_err(Error::Build)?;

    let mut trust = None;
    if let Some(m) = &plan.trust {
        let registries: Vec<String> = m
            .registries
            .iter()
            .map(|t| t.registry.to_string())
            .collect();
        on_event(Event::Step(format!(
            "cluster trust apply: every node must trust {}",
            registries.join(", ")
        )));
        let report = rt
            .block_on(slipway_kube::trust_apply(&client, m, &plan.track, |p| {
                on_event(Event::Progress(p))
            }))
            .map_err(|e| stopped("cluster trust apply", e))?;
        on_event(Event::Line(format!(
            "{}/{} nodes trust {}",
            report.nodes.iter().filter(|n| n.ready).count(),
            report.daemonset.desired,
            registries.join(", ")
        )));
        trust = Some(report);
    }

    if rt.block_on(slipway_kube::ensure_namespace(&client, &namespace))? {
        on_event(Event::Line(format!("created Namespace {namespace}")));
    }
    // As Helm: a release never converged before is installed (pre-install and
    // post-install hooks); one with an inventory is upgraded (pre-upgrade, post-upgrade).
    let first = rt
        .block_on(slipway_kube::prune::read_inventory(
            &client,
            &namespace,
            &plan.release,
        ))?
        .is_empty();
    let (pre, post) = if first {
        ("pre-install", "post-install")
    } else {
        ("pre-upgrade", "post-upgrade")
    };
    let mut hooks_run = rt.block_on(run_hooks(
        &client,
        &manifests.hooks,
        pre,
        &namespace,
        &plan.track,
        on_event,
    ))?;

    on_event(Event::Step(format!(
        "apply {} objects to namespace {namespace}",
        manifests.objects.len()
    )));
    let applied = rt.block_on(slipway_kube::apply(&client, &manifests.objects, &namespace))?;
    for r in &applied {
        on_event(Event::Line(format!("applied {r}")));
    }
    let pruned = rt.block_on(slipway_kube::prune(
        &client,
        &namespace,
        &plan.release,
        &applied,
        plan.prune,
    ))?;
    let release = &plan.release;
    for d in &pruned.deleted {
        on_event(Event::Line(format!(
            "deleted {d}: release {release} no longer has it"
        )));
    }
    for k in &pruned.kept {
        let why = if plan.prune {
            "deleting one loses data; delete it yourself if it should go"
        } else {
            "--no-prune"
        };
        on_event(Event::Line(format!(
            "kept {k}: release {release} no longer has it ({why})"
        )));
    }

    on_event(Event::Step("track the rollout".into()));
    let rollout = rt
        .block_on(slipway_kube::track(&client, &applied, &plan.track, |p| {
            on_event(Event::Progress(p))
        }))
        .map_err(|e| stopped("rollout", e))?;
    hooks_run.extend(rt.block_on(run_hooks(
        &client,
        &manifests.hooks,
        post,
        &namespace,
        &plan.track,
        on_event,
    ))?);
    Ok(Converged {
        namespace,
        images: manifests.images,
        trust,
        hooks: hooks_run,
        applied,
        pruned,
        rollout,
    })
}

/// Runs the hooks for `event` as Helm does: by weight (Helm's order within a weight),
/// one at a time; each replaces an earlier object of its name when its delete policy says
/// `before-hook-creation` (the default), is applied, and is followed until ready (a Job
/// until it completes); `hook-succeeded` deletes it afterwards, `hook-failed` when it
/// fails, and a failed hook stops the converge.
async fn run_hooks<B: std::error::Error + 'static>(
    client: &slipway_kube::Client,
    hooks: &[Hook],
    event: &str,
    namespace: &str,
    track: &TrackOptions,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Vec<AppliedRef>, Error<B>> {
    let mut chosen: Vec<&Hook> = hooks
        .iter()
        .filter(|h| h.events.iter().any(|e| e == event))
        .collect();
    if chosen.is_empty() {
        return Ok(vec![]);
    }
    chosen.sort_by_key(|h| h.weight);
    on_event(Event::Step(format!("{event} hooks ({})", chosen.len())));
    let mut done = Vec::new();
    for h in chosen {
        let policy = |p: &str| h.delete_policies.iter().any(|d| d == p);
        let target = slipway_kube::resolve_ref(client, &h.object, namespace).await?;
        if policy("before-hook-creation") && slipway_kube::delete_and_wait(client, &target).await? {
            on_event(Event::Line(format!(
                "deleted {target}: replaced by this {event} hook"
            )));
        }
        let applied =
            slipway_kube::apply(client, std::slice::from_ref(&h.object), namespace).await?;
        on_event(Event::Line(format!(
            "applied {target} ({event} hook, weight {}, from {})",
            h.weight, h.source
        )));
        let result =
            slipway_kube::track(client, &applied, track, |p| on_event(Event::Progress(p))).await;
        match result {
            Ok(_) => {
                if policy("hook-succeeded") {
                    slipway_kube::delete_and_wait(client, &target).await?;
                    on_event(Event::Line(format!("deleted {target}: hook-succeeded")));
                }
                done.push(target);
            }
            Err(e) => {
                if policy("hook-failed") {
                    slipway_kube::delete_and_wait(client, &target).await?;
                }
                return Err(stopped(
                    if event.starts_with("pre") {
                        "pre hook"
                    } else {
                        "post hook"
                    },
                    e,
                ));
            }
        }
    }
    Ok(done)
}
