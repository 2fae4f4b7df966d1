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
        self.check_platform_of(reference, &config)?;
        Ok(ResolvedImage {
            reference: reference.to_string(),
            manifest_digest: digest,
            config,
            layers: manifest.layers,
        })
    }

    /// Refuses an image whose config names another platform than the one built for: an
    /// image of another architecture is never built on, or copied from, silently. A config
    /// naming no platform, or no variant, is taken as it is.
    fn check_platform_of(&self, reference: &str, config: &Value) -> Result<(), BuildError> {
        let field = |k: &str| config.get(k).and_then(Value::as_str);
        let (Some(os), Some(arch)) = (field("os"), field("architecture")) else {
            return Ok(());
        };
        let have = super::platforms::normalize(&slipway_oci::Platform {
            architecture: arch.into(),
            os: os.into(),
            variant: field("variant").map(str::to_string),
            os_version: None,
            os_features: None,
        });
        let want = &self.platform;
        let same = have.os == want.os
            && have.architecture == want.architecture
            && (field("variant").is_none()
                || want.variant.is_none()
                || have.variant == want.variant);
        if same {
            return Ok(());
        }
        let (have, want) = (stage::platform_text(&have), stage::platform_text(want));
        Err(BuildError::Usage(format!(
            "{reference}: the image is for {have} (its config says so), and this build is for \
             {want}; use an image (or an index) that has {want}, or build for {have}"
        )))
    }

    pub(crate) fn pick(
        &self,
        index: &slipway_oci::ImageIndex,
        reference: &str,
    ) -> Result<Descriptor, BuildError> {
        index.find_platform(&self.platform).cloned().ok_or_else(|| {
            BuildError::Usage(format!(
                "{reference} has no image for {}; it has: {}",
                stage::platform_text(&self.platform),
                index.platforms().join(", ")
            ))
        })
    }
}

impl Resolve for Run<'_> {
    fn resolve(&mut self, reference: &str) -> Result<ResolvedImage, BuildError> {
        let key = (stage::platform_text(&self.platform), reference.to_string());
        if let Some(r) = self.resolved.get(&key) {
            return Ok(r.clone());
        }
        let r = self.resolve_uncached(reference)?;
        self.resolved.insert(key, r.clone());
        Ok(r)
    }
}
