//! The store and `--repo`: finding a stage by its digest, pushing it, and bringing
//! stages, bases and root file systems into the local store.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use slipway_oci::{
    Descriptor, Digest, ImageManifest, Layout, Location, Manifest, Reference, media,
};
use slipway_registry::{CopyOptions, Sink, Source, copy};

use crate::BuildError;
use crate::stage::{ImagePlan, ResolvedImage};
use slipway_layer::{self as layer};

use super::{Located, Run, base_tag, io_err, is_not_found, registry_err};

impl Run<'_> {
    /// Finds a stage: in `--repo` when there is one, else (or then) in the store. A stage
    /// missing from `--repo` but found in a cache or secondary repository is copied into
    /// `--repo` first ([`Run::find_stage`]).
    pub(crate) fn find(&mut self, digest: &Digest) -> Result<Option<Located>, BuildError> {
        Ok(self.find_stage(digest)?.map(|(loc, _)| loc))
    }

    /// Finds a stage as [`Run::find`] does, and says whether it was copied into `--repo`
    /// from a cache or secondary repository on the way. With `--repo`, it is looked up
    /// there, then in each cache repository, then in each secondary one (in the order
    /// given), then in the store.
    pub(crate) fn find_stage(
        &mut self,
        digest: &Digest,
    ) -> Result<Option<(Located, bool)>, BuildError> {
        if let Some(repo) = self.opts.repo.clone() {
            if let Some(loc) = self.find_in(&repo, digest)? {
                return Ok(Some((loc, false)));
            }
            let others: Vec<Reference> = self
                .opts
                .cache_repos
                .iter()
                .chain(&self.opts.secondary_repos)
                .cloned()
                .collect();
            for other in others {
                if let Some(loc) = self.find_in(&other, digest)? {
                    // --repo must hold every stage of the images it names: copy it there,
                    // reading the other repository only.
                    self.copy_between(&other, &repo, digest)?;
                    return Ok(Some((loc, true)));
                }
            }
        }
        match self.store.resolve(Some(digest.hex())) {
            Ok(d) => Ok(Some((
                Located {
                    manifest: d.digest,
                    local: true,
                    config: None,
                },
                false,
            ))),
            Err(slipway_oci::Error::TagNotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Looks a stage up in one repository by its tag.
    fn find_in(
        &mut self,
        repo: &Reference,
        digest: &Digest,
    ) -> Result<Option<Located>, BuildError> {
        let reg = self.registry(repo)?;
        let r = repo.with_tag(digest.hex());
        match self
            .rt
            .block_on(reg.get_manifest(&r.repository, digest.hex()))
        {
            Ok((bytes, content_type, d)) => Ok(Some(Located {
                manifest: d,
                local: false,
                config: config_of(&bytes, content_type.as_deref()),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(registry_err(&r)(e)),
        }
    }

    /// Copies a stage from one repository to another under the same tag, manifest byte for
    /// byte (blobs the destination has are not sent again).
    fn copy_between(
        &mut self,
        from: &Reference,
        to: &Reference,
        digest: &Digest,
    ) -> Result<(), BuildError> {
        let (src_reg, dst_reg) = (self.registry(from)?, self.registry(to)?);
        let (src, dst) = (from.with_tag(digest.hex()), to.with_tag(digest.hex()));
        self.rt
            .block_on(copy(
                &Source::Registry(src_reg, src),
                &Sink::Registry(dst_reg, dst.clone()),
                &CopyOptions::default(),
                self.access.progress(),
            ))
            .map_err(registry_err(&dst))?;
        Ok(())
    }

    /// Pushes a stage from the store to `--repo`.
    pub(crate) fn push(&mut self, digest: &Digest) -> Result<(), BuildError> {
        let Some(repo) = self.opts.repo.clone() else {
            return Ok(());
        };
        let reg = self.registry(&repo)?;
        let dst = repo.with_tag(digest.hex());
        let src = Source::Layout(self.store.clone(), Some(digest.hex().to_string()));
        self.rt
            .block_on(copy(
                &src,
                &Sink::Registry(reg, dst.clone()),
                &CopyOptions::default(),
                self.access.progress(),
            ))
            .map_err(registry_err(&dst))?;
        // A stage pushed to --repo goes to every cache repository too.
        for cache in self.opts.cache_repos.clone() {
            self.push_to_cache(&cache, digest)?;
        }
        Ok(())
    }

    /// Pushes a stage from the store to a cache repository.
    fn push_to_cache(&mut self, cache: &Reference, digest: &Digest) -> Result<(), BuildError> {
        let reg = self.registry(cache)?;
        let dst = cache.with_tag(digest.hex());
        let src = Source::Layout(self.store.clone(), Some(digest.hex().to_string()));
        self.rt
            .block_on(copy(
                &src,
                &Sink::Registry(reg, dst.clone()),
                &CopyOptions::default(),
                self.access.progress(),
            ))
            .map_err(registry_err(&dst))?;
        Ok(())
    }

    /// Makes sure a stage's image is in the store (pulling it from `--repo` if needed).
    pub(crate) fn ensure_stage_local(
        &mut self,
        plan: &ImagePlan,
        index: usize,
        located: &mut HashMap<usize, Located>,
    ) -> Result<Digest, BuildError> {
        let digest = plan.stage(index).digest.clone();
        let loc = match located.get(&index) {
            Some(l) => l.clone(),
            None => self.find(&digest)?.ok_or_else(|| {
                BuildError::Usage(format!(
                    "stage {index} ({digest}) is neither built nor found"
                ))
            })?,
        };
        if !loc.local && self.store.resolve(Some(digest.hex())).is_err() {
            let repo = self
                .opts
                .repo
                .clone()
                .expect("remote stages come from --repo");
            // Pulled from the first cache repository that has it, else from --repo; the
            // caches that lack it get it afterwards.
            let mut from = repo;
            let mut lacking = vec![];
            for cache in self.opts.cache_repos.clone() {
                if self.find_in(&cache, &digest)?.is_some() {
                    from = cache;
                    break;
                }
                lacking.push(cache);
            }
            let reg = self.registry(&from)?;
            let src = from.with_tag(digest.hex());
            self.rt
                .block_on(copy(
                    &Source::Registry(reg, src.clone()),
                    &Sink::Layout(self.store.clone(), digest.hex().to_string()),
                    &CopyOptions::default(),
                    self.access.progress(),
                ))
                .map_err(registry_err(&src))?;
            for cache in lacking {
                self.push_to_cache(&cache, &digest)?;
            }
        }
        located.insert(
            index,
            Located {
                manifest: loc.manifest.clone(),
                local: true,
                config: loc.config.clone(),
            },
        );
        Ok(loc.manifest)
    }

    /// Returns a stage's image ID, the digest of its config: from the manifest read when the
    /// stage was found, else from the store, else from `--repo`.
    pub(crate) fn image_id(&mut self, stage: &Digest, loc: &Located) -> Result<Digest, BuildError> {
        if let Some(c) = &loc.config {
            return Ok(c.clone());
        }
        let (bytes, content_type, subject) = if self.store.has_blob(&loc.manifest, None) {
            (
                self.store.read_blob(&loc.manifest)?,
                None,
                format!("oci:{}@{}", self.store_path.display(), loc.manifest),
            )
        } else {
            let repo = self.opts.repo.clone().ok_or_else(|| {
                BuildError::Usage(format!(
                    "stage {stage}: its manifest {} is neither in the store nor in a --repo",
                    loc.manifest
                ))
            })?;
            let reg = self.registry(&repo)?;
            let r = repo.with_digest(loc.manifest.clone());
            let (bytes, ct, _) = self
                .rt
                .block_on(reg.get_manifest(&r.repository, loc.manifest.as_ref()))
                .map_err(registry_err(&r))?;
            (bytes, ct, r.to_string())
        };
        config_of(&bytes, content_type.as_deref()).ok_or_else(|| {
            BuildError::Usage(format!(
                "{subject}: the manifest of stage {stage} is not an image manifest"
            ))
        })
    }

    /// Makes sure a base image's blobs are in the store.
    pub(crate) fn ensure_image_local(&mut self, img: &ResolvedImage) -> Result<(), BuildError> {
        let all_there = self.store.has_blob(&img.manifest_digest, None)
            && img
                .layers
                .iter()
                .all(|l| self.store.has_blob(&l.digest, Some(l.size)));
        if all_there {
            return Ok(());
        }
        let tag = base_tag(img);
        let src = match Location::parse(&img.reference)? {
            Location::Layout { path, tag } => Source::Layout(Arc::new(Layout::open(&path)?), tag),
            Location::Registry(r) => {
                let reg = self.registry(&r)?;
                Source::Registry(reg, r.with_digest(img.manifest_digest.clone()))
            }
        };
        self.rt
            .block_on(copy(
                &src,
                &Sink::Layout(self.store.clone(), tag),
                &CopyOptions {
                    platform: Some(self.platform.clone()),
                    jobs: 4,
                },
                self.access.progress(),
            ))
            .map_err(registry_err(&img.reference))?;
        Ok(())
    }

    /// Puts a base image in the store for buildah, tagged `base-<manifest hex>`, and returns
    /// the tag, so that buildah never contacts a registry for it. buildah's OCI layout reader
    /// sees only OCI manifests, so a Docker schema 2 base is tagged as its OCI equivalent:
    /// the same config and layers, under OCI media types.
    pub(crate) fn base_in_store(&mut self, img: &ResolvedImage) -> Result<String, BuildError> {
        self.ensure_image_local(img)?;
        let tag = base_tag(img);
        // The tag is missing when the blobs came with a stage built on the base, and names
        // the Docker manifest right after a pull.
        if let Ok(d) = self.store.resolve(Some(&tag))
            && d.media_type == media::OCI_MANIFEST
        {
            return Ok(tag);
        }
        let bytes = self.store.read_blob(&img.manifest_digest)?;
        let parsed = Manifest::parse(&bytes, None)?;
        let media_type = parsed.media_type(None);
        let desc = match parsed.as_image() {
            Some(m) if media_type == media::DOCKER_MANIFEST => {
                let mut m = m.clone();
                m.media_type = Some(media::OCI_MANIFEST.into());
                if m.config.media_type == media::DOCKER_CONFIG {
                    m.config.media_type = media::OCI_CONFIG.into();
                }
                for l in &mut m.layers {
                    if l.media_type == media::DOCKER_LAYER_GZIP {
                        l.media_type = media::OCI_LAYER_GZIP.into();
                    }
                }
                let oci = serde_json::to_vec(&m)
                    .map_err(|e| BuildError::Usage(format!("base image {}: {e}", img.reference)))?;
                let digest = self.store.write_blob(&oci)?;
                Descriptor::new(media::OCI_MANIFEST, digest, oci.len() as u64)
            }
            _ => Descriptor::new(media_type, img.manifest_digest.clone(), bytes.len() as u64),
        };
        self.store.set_tag(&tag, &desc)?;
        Ok(tag)
    }

    /// Reads an image manifest and its config from the store.
    pub(crate) fn read_image(
        &self,
        manifest: &Digest,
    ) -> Result<(ImageManifest, Value), BuildError> {
        let bytes = self.store.read_blob(manifest)?;
        let m = Manifest::parse(&bytes, None)?;
        let m = m.as_image().cloned().ok_or_else(|| {
            BuildError::Usage(format!("{manifest} in the store is an index, not an image"))
        })?;
        let config: Value = serde_json::from_slice(&self.store.read_blob(&m.config.digest)?)
            .map_err(|e| BuildError::Usage(format!("image config {}: {e}", m.config.digest)))?;
        Ok((m, config))
    }

    /// Makes a temporary folder in a folder of the store (removed when dropped).
    pub(crate) fn temp_dir(&self, folder: &str, prefix: &str) -> Result<StoreTemp, BuildError> {
        let parent = self.store_path.join(folder);
        std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        let (dir, guard) = slipway_oci::TempGuard::create(
            || tempfile::Builder::new().prefix(prefix).tempdir_in(&parent),
            tempfile::TempDir::path,
        )
        .map_err(io_err(&parent))?;
        Ok(StoreTemp {
            guard: Some(guard),
            dir,
        })
    }

    /// Returns the extracted root file system of an image in the store.
    pub(crate) fn rootfs(&self, manifest: &Digest) -> Result<PathBuf, BuildError> {
        let dir = self.store_path.join("rootfs").join(manifest.hex());
        if dir.is_dir() {
            return Ok(dir);
        }
        let (m, _) = self.read_image(manifest)?;
        let tmp = self.temp_dir("rootfs", ".extract-")?;
        layer::extract_layers(&self.store, &m.layers, tmp.path())?;
        let tmp = tmp.keep();
        std::fs::rename(&tmp, &dir).map_err(io_err(&dir))?;
        Ok(dir)
    }
}

/// A temporary folder in the store (an extraction, an unpacked archive, a buildah job):
/// removed when dropped, and held while it lives so that an interrupted run removes it and
/// a later run's sweep ([`sweep_store`]) keeps it.
#[derive(Debug)]
pub(crate) struct StoreTemp {
    dir: tempfile::TempDir,
    guard: Option<slipway_oci::TempGuard>,
}

impl StoreTemp {
    pub(crate) fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Keeps the folder: it is no longer temporary.
    pub(crate) fn keep(mut self) -> PathBuf {
        self.guard = None;
        self.dir.keep()
    }
}

/// Returns the config digest of an image manifest; `None` for anything else.
pub(crate) fn config_of(bytes: &[u8], content_type: Option<&str>) -> Option<Digest> {
    Manifest::parse(bytes, content_type)
        .ok()?
        .as_image()
        .map(|m| m.config.digest.clone())
}

/// Removes the temporary folders a killed build left in the store: its `tmp` folder and
/// unfinished extractions. One another build is using is locked, and kept.
pub(crate) fn sweep_store(store: &std::path::Path) {
    slipway_oci::sweep_temp(&store.join("tmp"), "");
    slipway_oci::sweep_temp(&store.join("rootfs"), ".extract-");
}
