//! `converge` (build, push, trust on every node, apply, track) and `doctor` (one registry,
//! both stages).

use std::io::Write;

use anyhow::{Context, Result, bail};
use serde_json::json;
use slipway_kube::{Progress, TrackError, TrackOptions, TrustManifest, Trusted};
use slipway_trust::{HostTrust, ProbeOptions, RegistryHost, Verdict};

use crate::ExitCode;
use crate::cli::{ConvergeArgs, DoctorArgs, GlobalArgs, KubeconfigArgs, Output, RenderArgs};
use crate::settings::Settings;

/// The CA bundle the nodes need for `--repo`'s registry: its private CAs and pinned
/// certificates, or `None` when the system roots suffice (or trust is switched off).
fn private_bundle(trust: &HostTrust, host: &RegistryHost) -> Option<Vec<u8>> {
    if trust.skip_verify.is_some() || trust.plain_http.is_some() {
        eprintln!(
            "warning: registry {host} is used without verification here; the nodes need the same \
             exception, which converge does not make: slipway node trust install --registry {host} --insecure"
        );
        return None;
    }
    let certs = trust.host_pems();
    (!certs.is_empty()).then(|| certs.concat().into_bytes())
}

/// The kubeconfig file to read, as werf picks it: --kube-config (or $WERF_KUBE_CONFIG),
/// else $WERF_KUBECONFIG; `None` leaves it to $KUBECONFIG, else ~/.kube/config.
fn kubeconfig(k: &KubeconfigArgs) -> Option<std::path::PathBuf> {
    k.kube_config.clone().or_else(|| {
        std::env::var_os("WERF_KUBECONFIG")
            .filter(|v| !v.is_empty())
            .map(Into::into)
    })
}

/// Prints what tracking reports, on stderr, for people.
fn progress(output: Output) -> impl FnMut(&Progress) {
    let mut printer = crate::fixes::ProgressPrinter::new("  ");
    move |p: &Progress| {
        if output == Output::Human {
            printer.print(p);
        }
    }
}

/// Returns the namespace and release werf would deploy to (see
/// [`slipway_werf::deploy::namespace`]), the release also checked against slipway's own
/// rule for inventory names. `render` checks its flags through this too.
///
/// # Errors
/// Bad input: a name or template werf would refuse, or a release the inventory cannot hold.
pub(crate) fn werf_target(
    config: &slipway_werf::WerfConfig,
    env: Option<&str>,
    namespace: Option<&str>,
    release: Option<&str>,
) -> Result<(String, String)> {
    let env = env.filter(|e| !e.is_empty());
    let bad = |e: slipway_werf::deploy::DeployError| crate::BadInput(e.to_string());
    let namespace =
        slipway_werf::deploy::namespace(&config.project, &config.deploy, env, namespace)
            .map_err(bad)?;
    let release =
        slipway_werf::deploy::release(&config.project, &config.deploy, env, release, &namespace)
            .map_err(bad)?;
    slipway_kube::prune::check_release_name(&release)
        .map_err(|m| crate::BadInput(format!("release `{release}`: {m}")))?;
    Ok((namespace, release))
}

/// Runs `slipway converge`.
///
/// # Errors
/// Bad input (exit 2) before anything is built or applied; build, API and tracking failures.
pub fn run(
    settings: &Settings,
    global: &GlobalArgs,
    a: &ConvergeArgs,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let output = global.output;
    super::build::refuse_werf_flags(&a.build, Some(&a.deploy))?;
    let Some(repo) = global.repo.as_deref() else {
        bail!(crate::BadInput(
            "converge needs --repo (or WERF_REPO): the nodes pull the images from a registry"
                .into()
        ));
    };
    let reference =
        slipway_oci::Reference::parse(repo).with_context(|| format!("--repo {repo}"))?;
    // The nodes pull the images from --final-repo when it is given, else from --repo.
    let pulled = super::build::other_repos(&a.build, Some(&reference))?
        .final_repo
        .unwrap_or_else(|| reference.clone());
    let host = RegistryHost::parse(pulled.api_host())?;
    // The release and namespace werf would deploy to: the options, else werf.yaml's
    // deploy templates, else PROJECT[-ENV], slugged by werf's rules.
    let config = super::build::load_config_for(&a.build, a.env.as_deref())?;
    // Custom tags are checked here too, so that a bad one stops converge before the cluster
    // is asked anything.
    super::tags::CustomTags::from_flags(
        &a.build,
        a.deploy.use_custom_tag.as_deref(),
        Some(&reference),
        &config,
    )?;
    let (namespace, release) = werf_target(
        &config,
        a.env.as_deref(),
        a.namespace.as_deref(),
        a.release.as_deref(),
    )?;
    // Resolved once, so each relaxation of it is announced once.
    let host_trust = settings.trust_for(&host)?;
    let verified_here = host_trust.skip_verify.is_none() && host_trust.plain_http.is_none();
    if host_trust.identity.is_some() && !a.skip_cluster_trust {
        bail!(crate::BadInput(format!(
            "{}; then converge with --skip-cluster-trust",
            super::cluster::mtls_refusal(&host, "converge")
        )));
    }
    // Check what can be checked before building: the trust the nodes will need.
    let bundle = if a.skip_cluster_trust {
        None
    } else {
        private_bundle(&host_trust, &host)
    };
    if bundle.is_some() && a.agent_image.is_none() {
        bail!(crate::BadInput(format!(
            "registry {host} is trusted here through a private CA or a pinned certificate, so the \
             nodes must trust it too: give --agent-image IMAGE (an image with slipway, from a \
             registry the nodes already trust) to run cluster trust apply, or \
             --skip-cluster-trust when the nodes are set up already"
        )));
    }
    let track = TrackOptions {
        interval: a.poll_interval,
        timeout: a.timeout,
        agent_image: a.agent_image.clone(),
        // The build pushes the images to that registry through this machine's verified
        // trust.
        trusted_here: if verified_here {
            vec![host.to_string()]
        } else {
            vec![]
        },
    };
    let trust = match (bundle, &a.agent_image) {
        (Some(ca_pem), Some(agent_image)) => Some(TrustManifest {
            registries: vec![Trusted {
                registry: host.clone(),
                ca_pem,
            }],
            agent_image: agent_image.clone(),
            namespace: a.trust_namespace.clone(),
            runtime: super::cluster::runtime_name(a.runtime),
            system_store: a.system_store,
            api_server: a.agent_api_server.clone(),
        }),
        _ => None,
    };
    let plan = slipway_deploy::Plan {
        repo: repo.to_string(),
        release: release.clone(),
        namespace: Some(namespace.clone()),
        kubeconfig: kubeconfig(&a.kube),
        kube_context: a.kube.kube_context.clone(),
        trust,
        track,
        prune: !a.no_prune,
    };
    let build = || {
        super::render::render(
            settings,
            global,
            &RenderArgs {
                build: a.build.clone(),
                manifests: a.manifests.clone(),
                out: None,
                deploy: a.deploy.clone(),
                // The names chosen above, so templates see the release and namespace the
                // objects go to.
                target: crate::cli::RenderTargetArgs {
                    namespace: Some(namespace.clone()),
                    release: Some(release.clone()),
                    env: a.env.clone(),
                    kube: Default::default(),
                },
            },
        )
        .map(|r| slipway_deploy::Manifests {
            objects: r.values(),
            hooks: r
                .hooks
                .iter()
                .map(|h| slipway_deploy::Hook {
                    source: h.source.clone(),
                    events: h.events.clone(),
                    weight: h.weight,
                    delete_policies: h.delete_policies.clone(),
                    object: h.object.clone(),
                })
                .collect(),
            images: r.images,
        })
        .map_err(BuildFailed)
    };
    let mut show = progress(output);
    let mut on_event = |e: slipway_deploy::Event<'_>| match e {
        slipway_deploy::Event::Step(s) => eprintln!("== {s}"),
        slipway_deploy::Event::Line(l) => eprintln!("  {l}"),
        slipway_deploy::Event::Progress(p) => show(p),
    };
    let done = match slipway_deploy::converge(&plan, build, &mut on_event) {
        Ok(done) => done,
        Err(slipway_deploy::Error::Build(BuildFailed(e))) => return Err(e),
        Err(slipway_deploy::Error::Stopped { stage, error }) => {
            return failed(output, out, stage, error);
        }
        // Handed back whole, so that a kubeconfig that cannot be used is bad input (exit 2):
        // the pipeline's transparent wrapper would hide it from the exit code.
        Err(slipway_deploy::Error::Kube(e)) => return Err(e.into()),
        Err(e) => return Err(e.into()),
    };
    super::emit(
        output,
        out,
        &json!({
            "ready": true,
            "images": done.images,
            "trust": done.trust,
            "release": release,
            "hooks": done.hooks.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "applied": done.applied.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "pruned": done.pruned,
            "rollout": done.rollout,
        }),
        |out| {
            for (name, image) in &done.images {
                writeln!(out, "image {name}: {image}")?;
            }
            let hooks = match done.hooks.len() {
                0 => String::new(),
                n => format!(" ({n} hook{} run)", if n == 1 { "" } else { "s" }),
            };
            writeln!(
                out,
                "{} objects applied{hooks}; every workload is ready",
                done.applied.len()
            )
        },
    )?;
    Ok(ExitCode::Ok)
}

/// The build step's error, carried through the deploy pipeline and handed back whole (so
/// its exit code is the build's).
#[derive(Debug)]
struct BuildFailed(anyhow::Error);

impl std::fmt::Display for BuildFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for BuildFailed {}

/// Reports a tracking failure: the diagnosis on stderr (or in JSON), exit code 3.
fn failed(output: Output, out: &mut dyn Write, stage: &str, e: TrackError) -> Result<ExitCode> {
    if let TrackError::Kube(k) = e {
        return Err(k.into());
    }
    let diagnoses = match &e {
        TrackError::PullFailed { diagnoses } | TrackError::Timeout { diagnoses, .. } => {
            diagnoses.clone()
        }
        _ => vec![],
    };
    let fixes = crate::fixes::of_track_error(&e);
    eprint!(
        "error: {stage}: {e}\n{}",
        crate::fixes::lines(&fixes, "  ", true)
    );
    if output == Output::Json {
        super::write_json(
            out,
            &json!({
                "ready": false,
                "stage": stage,
                "error": e.to_string(),
                "diagnoses": diagnoses,
                "fixes": fixes,
                "exit_code": ExitCode::Failed as i32,
            }),
        )?;
    }
    Ok(ExitCode::Failed)
}

/// Runs `slipway doctor`.
///
/// # Errors
/// Bad trust input for the registry, or output failures. Problems found (an unreachable
/// cluster included) are reported, with exit code 1.
pub fn run_doctor(
    settings: &dyn Fn() -> Result<Settings>,
    output: Output,
    a: &DoctorArgs,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let mut problems = 0usize;
    let mut doc = serde_json::Map::new();
    let mut text = String::new();

    if let Some(message) = &a.explain {
        let d = slipway_kube::diagnose("-", "-", None, None, None, None, message, None);
        if d.verdict != Verdict::Ok {
            problems += 1;
        }
        text.push_str(&format!("explain    {}: {}\n", d.verdict, d.cause));
        text.push_str(&format!(
            "           registry {}{}\n",
            d.registry,
            d.runtime
                .map(|r| format!(", written by {r}"))
                .unwrap_or_default()
        ));
        text.push_str(&crate::fixes::lines(&d.fixes, "  ", true));
        doc.insert("explain".into(), serde_json::to_value(&d)?);
    }

    if let Some(host) = &a.registry {
        let settings = settings()?;
        let trust = settings.trust_for(host)?;
        let report = slipway_trust::probe(&trust, &ProbeOptions { timeout: a.timeout });
        if report.verdict != Verdict::Ok {
            problems += 1;
        }
        let mut buf = Vec::new();
        super::probe::print_human(&report, &mut buf)?;
        text.push_str("== build side (this machine)\n");
        text.push_str(&String::from_utf8_lossy(&buf));
        doc.insert("build".into(), serde_json::to_value(&report)?);

        if !a.no_cluster {
            text.push_str("== cluster side\n");
            let registry = host.to_string();
            let status = super::runtime()?.block_on(async {
                let client = slipway_kube::connect_with(
                    kubeconfig(&a.kube).as_deref(),
                    a.kube.kube_context.as_deref(),
                )
                .await?;
                slipway_kube::cluster_status(&client, &a.trust_namespace, &registry).await
            });
            // A kubeconfig that is missing or malformed is bad input, not a problem found.
            if let Err(e @ slipway_kube::Error::Kubeconfig { .. }) = status {
                return Err(anyhow::Error::new(e).context(
                    "doctor checks the cluster too: fix the kubeconfig (--kube-config, KUBECONFIG, --kube-context), or pass --no-cluster",
                ));
            }
            match status {
                Ok(s) => {
                    match &s.daemonset {
                        Some(d) => text.push_str(&format!(
                            "trust agent  {}/{} ready, {} up to date (namespace {})\n",
                            d.ready, d.desired, d.updated, s.namespace
                        )),
                        None => {
                            problems += 1;
                            text.push_str(&format!(
                                "trust agent  not installed in namespace {}: slipway cluster trust apply --trust {registry}=CA_FILE --agent-image IMAGE\n",
                                s.namespace
                            ));
                        }
                    }
                    for n in &s.nodes {
                        text.push_str(&format!(
                            "node {}: {}\n",
                            n.node,
                            if n.ready {
                                "trust agent ready"
                            } else {
                                "trust agent NOT ready"
                            }
                        ));
                    }
                    if !s.nodes_without_trust.is_empty() {
                        problems += 1;
                        text.push_str(&format!(
                            "nodes without trust: {}\n",
                            s.nodes_without_trust.join(", ")
                        ));
                    }
                    for d in &s.recovered {
                        text.push_str(&format!(
                            "recovered: pod {}/{} pulled {} after failing ({})\n",
                            d.namespace, d.pod, d.image, d.verdict
                        ));
                    }
                    if s.pull_failures.is_empty() {
                        text.push_str(&format!("no recent pull failures name {registry}\n"));
                    } else {
                        problems += 1;
                        text.push_str("recent pull failures:\n");
                        for d in &s.pull_failures {
                            text.push_str(&crate::fixes::diagnosis(d, "  "));
                        }
                    }
                    doc.insert("cluster".into(), serde_json::to_value(&s)?);
                }
                Err(e) => {
                    problems += 1;
                    text.push_str(&format!(
                        "not checked: {e:#}\n(use --kube-config, --kube-context, KUBECONFIG, or --no-cluster)\n"
                    ));
                    doc.insert("cluster".into(), json!({ "error": format!("{e:#}") }));
                }
            }
        }
    }
    doc.insert("problems".into(), json!(problems));
    super::emit(output, out, &doc, |out| out.write_all(text.as_bytes()))?;
    Ok(if problems == 0 {
        ExitCode::Ok
    } else {
        ExitCode::CheckFailed
    })
}
