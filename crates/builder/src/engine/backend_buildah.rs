//! The buildah backend, engine side: a session per image, and one stage built by
//! buildah on bases slipway pulled into the store.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use slipway_oci::{Digest, Layout, Location};
use slipway_registry::{CopyOptions, NoProgress, Sink, Source, copy};

use crate::BuildError;
use crate::buildah::{self, HostAccess};
use crate::stage::{self, Base, ImagePlan, ResolvedImage, StagePlan};
use slipway_dockerfile as dockerfile;
use slipway_glob::{DockerIgnore, EntryKind, plan_copy};
use slipway_werf::ImageSpec;

use super::{Event, Located, Run, io_err, registry_err, stage_deps, step_images};

/// What the buildah builds of one image share: buildah's folder (its storage keeps pulled
/// layers), the link to the store, the build args as buildah gets them, and the Dockerfile.
pub(crate) struct BuildahSession {
    pub(crate) work: super::store::StoreTemp,
    pub(crate) link: buildah::StoreLink,
    pub(crate) args: BTreeMap<String, String>,
    pub(crate) text: String,
    pub(crate) df: dockerfile::Dockerfile,
    /// The context without its `.dockerignore`d files, made for the first stage that
    /// bind-mounts it.
    pub(crate) filtered: std::cell::OnceCell<PathBuf>,
    /// werf's `secrets` as buildah gets them, made for the first stage that mounts one,
    /// and removed with the session.
    pub(crate) secrets: std::cell::OnceCell<super::secrets::SecretFiles>,
}

impl BuildahSession {
    /// Returns the context a stage that bind-mounts it is built with: a copy of the files
    /// `.dockerignore` lets through, which are the files its digest covers. buildah 1.28
    /// mounts the whole folder, ignored files included; BuildKit mounts what it was sent.
    pub(crate) fn context_for_mounts(
        &self,
        context: &Path,
        dockerfile: &Path,
    ) -> Result<&Path, BuildError> {
        if let Some(dir) = self.filtered.get() {
            return Ok(dir);
        }
        let dir = self.work.path().join("context");
        copy_context(context, dockerfile, &dir)?;
        Ok(self.filtered.get_or_init(|| dir))
    }
}

/// Copies the files of `context` that the ignore file of `dockerfile` lets through into the
/// new folder `to`, keeping modes, file mtimes and symbolic links.
pub(crate) fn copy_context(context: &Path, dockerfile: &Path, to: &Path) -> Result<(), BuildError> {
    let ignore = DockerIgnore::for_dockerfile(context, dockerfile)?;
    let entries = plan_copy(context, Some(&ignore), &[".".into()], "/", "/")
        .map_err(|e| BuildError::Usage(format!("build context {}: {e}", context.display())))?;
    std::fs::create_dir(to).map_err(io_err(to))?;
    let mut dirs = vec![];
    for e in entries {
        let rel = e.dest.trim_start_matches('/');
        if rel.is_empty() {
            continue;
        }
        let dest = to.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        match &e.kind {
            EntryKind::Dir => {
                std::fs::create_dir_all(&dest).map_err(io_err(&dest))?;
                dirs.push((dest, e.mode));
            }
            EntryKind::File => {
                std::fs::copy(&e.source, &dest).map_err(io_err(&e.source))?;
                let mtime = std::time::UNIX_EPOCH
                    + std::time::Duration::from_secs(u64::try_from(e.mtime).unwrap_or(0));
                std::fs::File::options()
                    .write(true)
                    .open(&dest)
                    .and_then(|f| f.set_modified(mtime))
                    .map_err(io_err(&dest))?;
            }
            EntryKind::Symlink(target) => {
                std::os::unix::fs::symlink(target, &dest).map_err(io_err(&dest))?;
            }
        }
    }
    // Modes last, so a read-only folder was still writable while it was filled.
    for (dir, mode) in dirs.iter().rev() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(*mode))
            .map_err(io_err(dir))?;
    }
    Ok(())
}

impl Run<'_> {
    /// Makes the folder and the store link the buildah builds of one image share, and the
    /// build args they get: an arg naming an image in the store (a werf dependency built
    /// without --repo) names it through the link.
    pub(crate) fn buildah_session(
        &self,
        args: &BTreeMap<String, String>,
        dockerfile: (String, dockerfile::Dockerfile),
    ) -> Result<BuildahSession, BuildError> {
        let work = self.temp_dir("tmp", "buildah-")?;
        let job = work.path().join("job");
        std::fs::create_dir(&job).map_err(io_err(&job))?;
        // buildah names what it reads through `oci:` after the path, so the store is handed
        // to it through a link whose path is a valid lowercase image name.
        let link = buildah::StoreLink::new(self.store.path())?;
        let args = args
            .iter()
            .map(|(k, v)| {
                let v = match Location::parse(v) {
                    Ok(Location::Layout { path, tag }) if link.links_to(&path) => {
                        let tag = tag.map(|t| format!(":{t}")).unwrap_or_default();
                        format!("oci:{}{tag}", link.path().display())
                    }
                    _ => v.clone(),
                };
                (k.clone(), v)
            })
            .collect();
        let (text, df) = dockerfile;
        Ok(BuildahSession {
            work,
            link,
            args,
            text,
            df,
            filtered: std::cell::OnceCell::new(),
            secrets: std::cell::OnceCell::new(),
        })
    }

    /// Builds one stage with buildah, from a Dockerfile in which the earlier stages it uses
    /// are their images in the store (`oci:LINK:DIGEST`, pulled from `--repo` first when
    /// only there), and stores it under the stage's digest.
    pub(crate) fn build_buildah_stage(
        &mut self,
        spec: &ImageSpec,
        plan: &ImagePlan,
        stage: &StagePlan,
        located: &mut HashMap<usize, Located>,
        session: &BuildahSession,
    ) -> Result<Digest, BuildError> {
        let BuildahSession {
            work,
            link,
            args,
            text,
            df,
            ..
        } = session;
        let mut deps = BTreeMap::new();
        for j in stage_deps(stage) {
            self.ensure_stage_local(plan, j, located)?;
            let tag = plan.stage(j).digest.hex().to_string();
            deps.insert(j, format!("oci:{}:{tag}", link.path().display()));
        }
        // slipway pulls the base into the store through the trust policy (client certificates
        // included), and buildah reads it from there; it pulls only `COPY --from` and
        // `RUN --mount from=` images itself.
        let base = match &stage.base {
            Base::Image(img) => {
                let tag = self.base_in_store(img)?;
                Some(format!("oci:{}:{tag}", link.path().display()))
            }
            _ => None,
        };
        let pulled_by_buildah: Vec<&ResolvedImage> = step_images(stage).collect();
        let hosts = self.buildah_hosts(spec, &pulled_by_buildah, link)?;
        let dockerfile = work.path().join(format!("Dockerfile.{}", stage.index));
        std::fs::write(
            &dockerfile,
            buildah::stage_dockerfile(text, df, stage.index, &deps, base.as_deref()),
        )
        .map_err(io_err(&dockerfile))?;
        let job_dir = work.path().join("job");
        let platform = stage::platform_text(&self.platform);
        // werf's `secrets` and `ssh` go only to a stage whose RUN mounts them.
        let secrets = if stage.mounts_secrets && !spec.secrets.is_empty() {
            if session.secrets.get().is_none() {
                let files = self.secret_files(spec)?;
                let _ = session.secrets.set(files);
            }
            session.secrets.get()
        } else {
            None
        };
        let ssh = match (stage.mounts_ssh, &spec.ssh) {
            (false, _) => None,
            (true, Some(_)) => super::secrets::ssh_agent(None, spec)?,
            (true, None) => {
                let agent = super::secrets::default_ssh_agent();
                if let Some((_, socket)) = &agent {
                    self.observer.event(&Event::Log {
                        image: &spec.name,
                        line: &format!(
                            "RUN --mount=type=ssh gets the SSH agent $SSH_AUTH_SOCK ({}), as \
                             werf gives it without `ssh:`",
                            socket.display()
                        ),
                    });
                }
                agent
            }
        };
        let job = buildah::BuildahJob {
            context: if stage.mounts_context {
                session.context_for_mounts(&spec.context, &spec.dockerfile)?
            } else {
                &spec.context
            },
            dockerfile: &dockerfile,
            args,
            hosts: &hosts,
            platform: Some(&platform),
            // werf's addHost and network matter only where commands run.
            add_hosts: if stage.has_run { &spec.add_hosts } else { &[] },
            network: spec
                .network
                .as_deref()
                .filter(|_| stage.has_run)
                .and_then(|n| super::run_network(n).ok().flatten()),
            secrets: secrets.map_or(&[], |s| s.list.as_slice()),
            ssh: ssh
                .as_ref()
                .map(|(id, socket)| (id.as_str(), socket.as_path())),
            masks: secrets.map_or(&[], |s| s.masks.as_slice()),
            work_dir: &job_dir,
            timestamp: 0,
            processes: &*self.opts.processes,
        };
        let observer = self.observer;
        let name = spec.name.clone();
        let out = buildah::run(&job, &mut |line: &str| {
            observer.event(&Event::Log { image: &name, line });
        })?;
        let out_layout = Arc::new(Layout::open(&out)?);
        let report = self
            .rt
            .block_on(copy(
                &Source::Layout(out_layout, Some("image".into())),
                &Sink::Layout(self.store.clone(), stage.digest.hex().to_string()),
                &CopyOptions::default(),
                Arc::new(NoProgress),
            ))
            .map_err(registry_err(format!("oci:{}", out.display())))?;
        Ok(report.digest)
    }

    /// Collects what buildah needs to trust the registries of `images`; images in the store
    /// need nothing, buildah reads them through `link`.
    pub(crate) fn buildah_hosts(
        &self,
        spec: &ImageSpec,
        images: &[&ResolvedImage],
        link: &buildah::StoreLink,
    ) -> Result<Vec<HostAccess>, BuildError> {
        let mut hosts: Vec<HostAccess> = vec![];
        for img in images {
            match Location::parse(&img.reference)? {
                Location::Registry(r) => {
                    if hosts.iter().any(|h| h.host == r.registry) {
                        continue;
                    }
                    hosts.push(self.access.buildah_host(&r)?);
                }
                Location::Layout { path, .. } if link.links_to(&path) => {}
                Location::Layout { .. } => {
                    return Err(BuildError::Usage(format!(
                        "image `{}`: buildah takes `--from` images only from a registry or this \
                         build's store, not from {}; give it a stage of its own \
                         (`FROM {} AS NAME`, then `--from=NAME`)",
                        spec.name, img.reference, img.reference
                    )));
                }
            }
        }
        Ok(hosts)
    }
}
