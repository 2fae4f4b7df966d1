//! Base resolution: an image reference turned into its manifest digest, config and
//! platform, through the trust policy, once per build.

use serde_json::Value;
use slipway_oci::{Descriptor, Layout, Location, Manifest};
use slipway_registry::Source;

use crate::BuildError;
use crate::stage::{self, Resolve, ResolvedImage};

use super::{Run, registry_err};

impl Run<'_> {
    pub(crate) fn resolve_uncached(
        &mut self,
        reference: &str,
    ) -> Result<ResolvedImage, BuildError> {
        let loc = Location::parse(reference).map_err(|e| BuildError::Usage(e.to_string()))?;
        let not_image = || BuildError::Usage(format!("{reference}: not an image manifest"));
        let (manifest, digest, config_bytes) = match loc {
            Location::Layout { path, tag } => {
                let layout = Layout::open(&path)?;
                let mut desc = layout.resolve(tag.as_deref())?;
                let mut m =
                    Manifest::parse(&layout.read_blob(&desc.digest)?, Some(&desc.media_type))?;
                if let Some(index) = m.as_index() {
                    desc = self.pick(index, reference)?;
                    m = Manifest::parse(&layout.read_blob(&desc.digest)?, Some(&desc.media_type))?;
                }
                let m = m.as_image().cloned().ok_or_else(not_image)?;
                let config = layout.read_blob(&m.config.digest)?;
                (m, desc.digest, config)
            }
            Location::Registry(r) => {
                let reg = self.registry(&r)?;
                let get = |rt: &tokio::runtime::Runtime, at: String| {
                    let (bytes, ct, digest) = rt
                        .block_on(reg.get_manifest(&r.repository, &at))
                        .map_err(registry_err(&r))?;
                    Ok::<_, BuildError>((Manifest::parse(&bytes, ct.as_deref())?, digest))
                };
                let (mut m, mut digest) = get(&self.rt, r.reference_str())?;
                if let Some(index) = m.as_index() {
                    let d = self.pick(index, reference)?;
                    (m, digest) = get(&self.rt, d.digest.to_string())?;
                }
                let m = m.as_image().cloned().ok_or_else(not_image)?;
                let config = if self.store.has_blob(&m.config.digest, Some(m.config.size)) {
                    self.store.read_blob(&m.config.digest)?
                } else {
                    let src = Source::Registry(reg.clone(), r.clone());
                    let b = self
                        .rt
                        .block_on(src.small_blob(&m.config))
                        .map_err(registry_err(&r))?;
                    self.store.write_blob(&b)?;
                    b
                };
                (m, digest, config)
            }
        };
        let config: Value = serde_json::from_slice(&config_bytes).map_err(|e| {
            BuildError::Usage(format!("{reference}: its image config is not JSON: {e}"))
        })?;
        Ok(ResolvedImage {
            reference: reference.to_string(),
            manifest_digest: digest,
            config,
            layers: manifest.layers,
        })
    }

    pub(crate) fn pick(
        &self,
        index: &slipway_oci::ImageIndex,
        reference: &str,
    ) -> Result<Descriptor, BuildError> {
        index
            .find_platform(&self.opts.platform)
            .cloned()
            .ok_or_else(|| {
                BuildError::Usage(format!(
                    "{reference} has no image for {}; it has: {}",
                    stage::platform_text(&self.opts.platform),
                    index.platforms().join(", ")
                ))
            })
    }
}

impl Resolve for Run<'_> {
    fn resolve(&mut self, reference: &str) -> Result<ResolvedImage, BuildError> {
        if let Some(r) = self.resolved.get(reference) {
            return Ok(r.clone());
        }
        let r = self.resolve_uncached(reference)?;
        self.resolved.insert(reference.to_string(), r.clone());
        Ok(r)
    }
}
