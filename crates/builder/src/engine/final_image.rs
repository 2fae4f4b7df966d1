//! An image's final image when werf's `imageSpec` edits its config: the target stage's
//! layers under a new config, as werf's imageSpec stage makes it. It is tagged (in the store
//! and `--repo`) by [`crate::image_spec::digest`], which covers the target stage and the
//! edit, and is what the report, custom tags, `render` and dependent images get.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use slipway_oci::{Descriptor, Digest, Layout, media};
use slipway_registry::{CopyOptions, Sink, Source, copy};
use slipway_werf::{ImageSpec, ImageSpecEdit, WerfConfig};

use crate::BuildError;

use super::{Event, Located, Run, StageStatus, registry_err};

/// The stage label the final image's progress lines carry.
pub(crate) const LABEL: &str = "imageSpec";

/// Returns the edit of `spec` that changes its image: `None` without `imageSpec`, or when
/// it sets only flags about werf's own labels (which slipway does not add).
pub(crate) fn edit_of(spec: &ImageSpec) -> Option<&ImageSpecEdit> {
    spec.image_spec.as_ref().filter(|e| !e.is_noop())
}

/// Checks an image's `imageSpec` where only the build would find it wrong (the syntax of
/// `env` values, healthcheck times): bad input, before anything is built.
pub(crate) fn check(cfg: &WerfConfig, spec: &ImageSpec) -> Result<(), BuildError> {
    match edit_of(spec) {
        Some(edit) => crate::image_spec::check(edit).map_err(|m| {
            BuildError::Usage(format!(
                "{}: image `{}`: {m}",
                cfg.path.display(),
                spec.name
            ))
        }),
        None => Ok(()),
    }
}

impl Run<'_> {
    /// Tells the observer where the final image is, as a stage line labelled `imageSpec`.
    pub(crate) fn final_event(
        &self,
        image: &str,
        digest: &Digest,
        status: StageStatus,
        secs: Option<f64>,
    ) {
        let platform = self
            .several
            .then(|| crate::stage::platform_text(&self.platform));
        self.observer.event(&Event::Stage {
            image,
            platform: platform.as_deref(),
            stage: LABEL,
            digest,
            status,
            seconds: secs,
            backend: matches!(status, StageStatus::Building | StageStatus::Built)
                .then_some("native"),
        });
    }

    /// Makes sure the edited image `tag` of an image whose target stage is `target` (at
    /// `loc`) exists where the build puts images, making it when missing. Returns where it
    /// is and whether this run made it.
    pub(crate) fn final_image(
        &mut self,
        spec: &ImageSpec,
        edit: &ImageSpecEdit,
        target: &Digest,
        loc: &Located,
        tag: &Digest,
    ) -> Result<(Located, bool), BuildError> {
        let started = Instant::now();
        if let Some(found) = self.find(tag)? {
            if found.local && self.opts.repo.is_some() {
                // Made before without --repo: push it, as a stage is.
                self.final_event(&spec.name, tag, StageStatus::Pushing, None);
                self.push(tag)?;
                let secs = started.elapsed().as_secs_f64();
                self.final_event(&spec.name, tag, StageStatus::Pushed, Some(secs));
                return Ok((found, false));
            }
            self.final_event(&spec.name, tag, StageStatus::Cached, Some(0.0));
            return Ok((found, false));
        }
        self.final_event(&spec.name, tag, StageStatus::Building, None);
        let (mut manifest, config) = self.image_json(target, loc)?;
        let Value::Object(mut top) = config else {
            return Err(BuildError::Usage(format!(
                "stage {target}: its image config is not a JSON object"
            )));
        };
        let notes = crate::image_spec::apply(&mut top, edit)
            .map_err(|m| BuildError::Usage(format!("image `{}`: {m}", spec.name)))?;
        for line in &notes {
            self.observer.event(&Event::Log {
                image: &spec.name,
                line,
            });
        }
        let config_bytes = serde_json::to_vec(&Value::Object(top)).expect("JSON");
        let config_digest = Digest::sha256_of(&config_bytes);
        manifest["config"]["digest"] = Value::String(config_digest.to_string());
        manifest["config"]["size"] = Value::from(config_bytes.len() as u64);
        let media_type = manifest
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or(media::OCI_MANIFEST)
            .to_string();
        let manifest_bytes = serde_json::to_vec(&manifest).expect("JSON");
        let desc = Descriptor::new(
            &media_type,
            Digest::sha256_of(&manifest_bytes),
            manifest_bytes.len() as u64,
        );
        let complete_here = self.store.resolve(Some(target.hex())).is_ok();
        if complete_here {
            // The stage's layers are in the store: so is its final image.
            self.store.write_blob(&config_bytes)?;
            self.store.write_blob(&manifest_bytes)?;
            self.store.set_tag(tag.hex(), &desc)?;
            if self.opts.repo.is_some() {
                self.final_event(&spec.name, tag, StageStatus::Pushing, None);
                self.push(tag)?;
            }
        } else {
            // The stage is in --repo only: push the new config and manifest from a layout of
            // their own; the layers are in the repository already. The store gets no tag for
            // an image whose layers it lacks.
            let repo = self.opts.repo.clone().ok_or_else(|| {
                BuildError::Usage(format!(
                    "stage {target} is neither in the store nor in a --repo"
                ))
            })?;
            // A folder inside the temporary one: a layout locks its folder, which the
            // temporary folder's guard holds already.
            let tmp = self.temp_dir("tmp", ".imagespec-")?;
            let layout = Arc::new(Layout::create(&tmp.path().join("layout"))?);
            layout.write_blob(&config_bytes)?;
            layout.write_blob(&manifest_bytes)?;
            layout.set_tag(tag.hex(), &desc)?;
            self.final_event(&spec.name, tag, StageStatus::Pushing, None);
            let reg = self.registry(&repo)?;
            let dst = repo.with_tag(tag.hex());
            self.rt
                .block_on(copy(
                    &Source::Layout(layout, Some(tag.hex().to_string())),
                    &Sink::Registry(reg, dst.clone()),
                    &CopyOptions::default(),
                    self.access.progress(),
                ))
                .map_err(registry_err(&dst))?;
        }
        let secs = started.elapsed().as_secs_f64();
        self.final_event(&spec.name, tag, StageStatus::Built, Some(secs));
        Ok((
            Located {
                manifest: desc.digest,
                local: self.opts.repo.is_none(),
                config: Some(config_digest),
            },
            true,
        ))
    }

    /// Reads the manifest and config of the stage image at `loc`, from the store when it
    /// has them, else from `--repo`.
    fn image_json(&mut self, stage: &Digest, loc: &Located) -> Result<(Value, Value), BuildError> {
        let bytes = self.blob(stage, &loc.manifest, None)?;
        let manifest: Value = serde_json::from_slice(&bytes).map_err(|e| {
            BuildError::Usage(format!("stage {stage}: manifest {}: {e}", loc.manifest))
        })?;
        let desc: Descriptor = serde_json::from_value(manifest["config"].clone()).map_err(|e| {
            BuildError::Usage(format!(
                "stage {stage}: manifest {} is not an image manifest: {e}",
                loc.manifest
            ))
        })?;
        let config = self.blob(stage, &desc.digest, Some(&desc))?;
        let config: Value = serde_json::from_slice(&config).map_err(|e| {
            BuildError::Usage(format!("stage {stage}: image config {}: {e}", desc.digest))
        })?;
        Ok((manifest, config))
    }

    /// Reads a small blob (a manifest when `desc` is `None`, else the blob it describes)
    /// from the store, or from `--repo`.
    pub(crate) fn blob(
        &mut self,
        stage: &Digest,
        digest: &Digest,
        desc: Option<&Descriptor>,
    ) -> Result<Vec<u8>, BuildError> {
        if self.store.has_blob(digest, None) {
            return Ok(self.store.read_blob(digest)?);
        }
        let repo = self.opts.repo.clone().ok_or_else(|| {
            BuildError::Usage(format!(
                "stage {stage}: {digest} is neither in the store nor in a --repo"
            ))
        })?;
        let reg = self.registry(&repo)?;
        let r = repo.with_digest(digest.clone());
        match desc {
            None => {
                let (bytes, _, _) = self
                    .rt
                    .block_on(reg.get_manifest(&r.repository, digest.as_ref()))
                    .map_err(registry_err(&r))?;
                Ok(bytes)
            }
            Some(d) => self
                .rt
                .block_on(Source::Registry(reg, r.clone()).small_blob(d))
                .map_err(registry_err(&r)),
        }
    }
}

impl Run<'_> {
    /// Finds the final image werf's `imageSpec` makes for an image whose target stage is
    /// `target`, when it exists where the build needs it (in `--repo`, or in the store
    /// without one): its tag and where it is. The caller reports it cached.
    pub(crate) fn find_final(
        &mut self,
        spec: &ImageSpec,
        target: &Digest,
    ) -> Result<Option<(Digest, Located)>, BuildError> {
        let Some(edit) = edit_of(spec) else {
            return Ok(None);
        };
        let tag = crate::image_spec::digest(target, edit);
        let repo = self.opts.repo.is_some();
        Ok(self
            .find(&tag)?
            .filter(|l| !l.local || !repo)
            .map(|loc| (tag, loc)))
    }

    /// Reports an image whose target stage is `target` (at `loc`): with werf's
    /// `imageSpec`, its edited final image, made when missing.
    pub(crate) fn finish(
        &mut self,
        spec: &ImageSpec,
        target: &Digest,
        loc: Located,
        rebuilt: bool,
        backend: &str,
        stages: Vec<super::StageReport>,
    ) -> Result<super::ImageReport, BuildError> {
        let (tag, loc, rebuilt) = match edit_of(spec) {
            Some(edit) => {
                let tag = crate::image_spec::digest(target, edit);
                let (loc, made) = self.final_image(spec, edit, target, &loc, &tag)?;
                (tag, loc, rebuilt || made)
            }
            None => (target.clone(), loc, rebuilt),
        };
        let id = self.image_id(&tag, &loc)?;
        Ok(self.image_report(spec, &tag, (&loc.manifest, &id), rebuilt, backend, stages))
    }
}
