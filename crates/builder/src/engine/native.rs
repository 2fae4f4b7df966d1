//! The native backend: COPY/ADD layers written by slipway itself, `--chown` names looked
//! up in the stage's own account files, and the image config edited in place.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use slipway_oci::{Descriptor, Digest, ImageManifest, media};

use crate::BuildError;
use crate::stage::{Action, Base, Chown, EPOCH, FromSource, ImagePlan, StagePlan, Step};
use slipway_glob::{EntryKind, plan_copy};
use slipway_layer::{self as layer, Content, LayerEntry, LayerOptions, Stacked};

use super::{Located, Run};

/// The bytes of `/etc/passwd` and `/etc/group`, each when the image has it.
pub(crate) type AccountFiles = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The files `--chown` names are looked up in.
pub(crate) const ACCOUNT_FILES: [&str; 2] = ["etc/passwd", "etc/group"];

/// Reads a cached account-files record; `None` when missing or not as written.
pub(crate) fn read_accounts(file: &Path, count: usize) -> Option<Vec<Stacked>> {
    let bytes = std::fs::read(file).ok()?;
    serde_json::from_slice::<Vec<Stacked>>(&bytes)
        .ok()
        .filter(|v| v.len() == count)
}

/// Writes a cache record whole. Failing only costs a re-read next time.
pub(crate) fn write_accounts(file: &Path, found: &[Stacked]) {
    let (Some(dir), Ok(json)) = (file.parent(), serde_json::to_vec(found)) else {
        return;
    };
    if std::fs::create_dir_all(dir).is_ok() {
        let _ = slipway_oci::write_file_atomic(file, &json);
    }
}

/// Turns a file found on disk (in an extracted stage or an unpacked archive) into a layer
/// entry. Without an owner, it keeps the one it has on disk: extraction sets the image's
/// owners when slipway runs as root, as BuildKit keeps them.
pub(crate) fn disk_entry(
    e: slipway_glob::Entry,
    owner: Option<(u64, u64)>,
    chmod: Option<u32>,
    mtime: u64,
) -> LayerEntry {
    let (uid, gid) = owner.unwrap_or_else(|| {
        std::fs::symlink_metadata(&e.source)
            .map(|m| (u64::from(m.uid()), u64::from(m.gid())))
            .unwrap_or((0, 0))
    });
    LayerEntry {
        path: e.dest,
        mode: chmod.unwrap_or(e.mode),
        uid,
        gid,
        mtime,
        content: match e.kind {
            EntryKind::Dir => Content::Dir,
            EntryKind::File => Content::File(e.source),
            EntryKind::Symlink(t) => Content::Symlink(t.to_string_lossy().into()),
        },
    }
}

impl Run<'_> {
    /// Returns the ids a `--chown` gives, looking names up in the `/etc/passwd` and
    /// `/etc/group` of the stage as built so far (its base's layers and its own).
    pub(crate) fn owner(
        &mut self,
        chown: &Chown,
        layers: &[Descriptor],
        s: &StagePlan,
        step: &Step,
    ) -> Result<(u64, u64), BuildError> {
        if let Some(ids) = chown.numeric() {
            return Ok(ids);
        }
        let (passwd, group) = self.account_files(layers)?;
        chown
            .resolve(passwd.as_deref(), group.as_deref())
            .map_err(|m| {
                BuildError::Usage(format!(
                    "stage {}, line {}: {}: {m}",
                    s.label(),
                    step.line,
                    step.text
                ))
            })
    }

    /// Reads `/etc/passwd` and `/etc/group` from a layer stack in one pass. A stack that
    /// grows the one read last (a stage's next `COPY --chown`) has only its new layers
    /// read, and a stack read by an earlier build is taken from the store's cache
    /// (`STORE/cache/accounts/`, keyed by the layer digests), so a big base is read once.
    pub(crate) fn account_files(
        &mut self,
        layers: &[Descriptor],
    ) -> Result<AccountFiles, BuildError> {
        let digests: Vec<Digest> = layers.iter().map(|l| l.digest.clone()).collect();
        let found = match self.accounts.take() {
            Some((d, found)) if d == digests => found,
            earlier => {
                let cache = self.accounts_cache_file(&digests);
                match read_accounts(&cache, ACCOUNT_FILES.len()) {
                    Some(found) => found,
                    None => {
                        let found = self.read_account_layers(layers, earlier)?;
                        write_accounts(&cache, &found);
                        found
                    }
                }
            }
        };
        self.accounts = Some((digests, found.clone()));
        let mut files = found.into_iter().map(Stacked::into_bytes);
        Ok((files.next().flatten(), files.next().flatten()))
    }

    /// Reads the account files from the layers, only those above `earlier`'s stack when
    /// this stack grows it.
    pub(crate) fn read_account_layers(
        &self,
        layers: &[Descriptor],
        earlier: Option<(Vec<Digest>, Vec<Stacked>)>,
    ) -> Result<Vec<Stacked>, BuildError> {
        let (below, known) = match earlier {
            Some((d, found)) if layers.iter().map(|l| &l.digest).take(d.len()).eq(&d) => {
                (found, d.len())
            }
            _ => (vec![Stacked::Unknown; ACCOUNT_FILES.len()], 0),
        };
        let above = layer::read_stacked_files(&self.store, &layers[known..], &ACCOUNT_FILES)?;
        Ok(above
            .into_iter()
            .zip(below)
            .map(|(a, b)| a.over(b))
            .collect())
    }

    /// Names the cache file of a layer stack's account files.
    pub(crate) fn accounts_cache_file(&self, digests: &[Digest]) -> PathBuf {
        let key: String = digests.iter().map(|d| format!("{d}\n")).collect();
        self.store
            .path()
            .join("cache/accounts")
            .join(Digest::sha256_of(key.as_bytes()).hex())
    }

    /// Builds one stage natively into the store, tagged by its digest.
    pub(crate) fn build_native(
        &mut self,
        plan: &ImagePlan,
        s: &StagePlan,
        located: &mut HashMap<usize, Located>,
    ) -> Result<Digest, BuildError> {
        let (mut layers, base_config) = match &s.base {
            Base::Scratch => (vec![], None),
            Base::Stage(i) => {
                let m = self.ensure_stage_local(plan, *i, located)?;
                let (m, c) = self.read_image(&m)?;
                (m.layers, Some(c))
            }
            Base::Image(img) => {
                self.ensure_image_local(img)?;
                (img.layers.clone(), Some(img.config.clone()))
            }
        };
        for l in &mut layers {
            if l.media_type == media::DOCKER_LAYER_GZIP {
                l.media_type = media::OCI_LAYER_GZIP.into();
            }
        }
        let mut top: Map<String, Value> = match base_config {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for k in ["container", "container_config", "docker_version", "config"] {
            top.remove(k);
        }
        let mut diff_ids: Vec<Value> = top
            .get("rootfs")
            .and_then(|r| r.get("diff_ids"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut history: Vec<Value> = top
            .get("history")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let layer_opts = LayerOptions {
            compression: self.opts.format.compression,
            level: self.opts.format.level,
            threads: self.opts.threads,
        };
        for step in &s.steps {
            // Folders of unpacked archives, which the layer reads from; removed after it.
            let mut unpacked: Vec<super::store::StoreTemp> = vec![];
            let entries = match &step.action {
                Action::Config => None,
                Action::Run { .. } => {
                    return Err(BuildError::Usage(format!(
                        "stage {}: RUN needs the buildah backend",
                        s.label()
                    )));
                }
                Action::Layer {
                    entries,
                    unpack,
                    chown,
                } => {
                    let mut entries = entries.clone();
                    for u in unpack {
                        let tmp = self.temp_dir("tmp", ".unpack-")?;
                        let at = |e: &dyn std::fmt::Display| {
                            BuildError::Usage(format!(
                                "stage {}, line {}: unpacking {}: {e}",
                                s.label(),
                                step.line,
                                u.archive.display()
                            ))
                        };
                        layer::extract_archive(&u.archive, &u.digest, tmp.path())
                            .map_err(|e| at(&e))?;
                        let into = format!("{}/", u.into.trim_end_matches('/'));
                        let planned = plan_copy(tmp.path(), None, &[".".into()], &into, "/")
                            .map_err(|e| at(&e))?;
                        // The archive's own times are part of its digest, so they stay.
                        entries.extend(planned.into_iter().map(|e| {
                            let mtime = e.mtime.max(0) as u64;
                            disk_entry(e, None, None, mtime)
                        }));
                        unpacked.push(tmp);
                    }
                    if let Some(chown) = chown {
                        let (uid, gid) = self.owner(chown, &layers, s, step)?;
                        for e in &mut entries {
                            (e.uid, e.gid) = (uid, gid);
                        }
                    }
                    Some(entries)
                }
                Action::CopyFrom {
                    from,
                    sources,
                    dest,
                    workdir,
                    owner,
                    chmod,
                } => {
                    let manifest = match &**from {
                        FromSource::Stage(i) => self.ensure_stage_local(plan, *i, located)?,
                        FromSource::Image(img) => {
                            self.ensure_image_local(img)?;
                            img.manifest_digest.clone()
                        }
                    };
                    let owner = match owner {
                        Some(chown) => Some(self.owner(chown, &layers, s, step)?),
                        None => None,
                    };
                    let root = self.rootfs(&manifest)?;
                    let dest = if sources.len() > 1 && !dest.ends_with('/') {
                        format!("{dest}/")
                    } else {
                        dest.clone()
                    };
                    let planned = plan_copy(&root, None, sources, &dest, workdir).map_err(|e| {
                        BuildError::Usage(format!(
                            "stage {}: {} (copying from {})",
                            s.label(),
                            e,
                            match &**from {
                                FromSource::Stage(i) => format!("stage {}", plan.stage(*i).label()),
                                FromSource::Image(img) => img.reference.clone(),
                            }
                        ))
                    })?;
                    Some(
                        planned
                            .into_iter()
                            .map(|e| disk_entry(e, owner, *chmod, 0))
                            .collect(),
                    )
                }
            };
            let mut h = Map::new();
            h.insert("created".into(), json!(EPOCH));
            h.insert("created_by".into(), json!(step.text));
            h.insert("comment".into(), json!("slipway"));
            match entries {
                Some(entries) => {
                    let built = layer::write_layer(&self.store, &entries, &layer_opts)?;
                    diff_ids.push(json!(built.diff_id));
                    layers.push(built.descriptor());
                }
                None => {
                    h.insert("empty_layer".into(), json!(true));
                }
            }
            history.push(Value::Object(h));
        }
        let p = &self.platform;
        if !top.contains_key("architecture") {
            top.insert("architecture".into(), json!(p.architecture));
        }
        if !top.contains_key("os") {
            top.insert("os".into(), json!(p.os));
        }
        if let (Some(v), false) = (&p.variant, top.contains_key("variant")) {
            top.insert("variant".into(), json!(v));
        }
        top.insert("created".into(), json!(EPOCH));
        if let Some(a) = &s.author {
            top.insert("author".into(), json!(a));
        }
        top.insert("config".into(), Value::Object(s.config.clone()));
        top.insert(
            "rootfs".into(),
            json!({"type": "layers", "diff_ids": diff_ids}),
        );
        top.insert("history".into(), Value::Array(history));
        let config_bytes = serde_json::to_vec(&Value::Object(top)).expect("JSON");
        let config_digest = self.store.write_blob(&config_bytes)?;
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.into()),
            config: Descriptor::new(media::OCI_CONFIG, config_digest, config_bytes.len() as u64),
            layers,
            subject: None,
            annotations: None,
        };
        let bytes = serde_json::to_vec(&manifest).expect("JSON");
        let digest = self.store.write_blob(&bytes)?;
        self.store.set_tag(
            s.digest.hex(),
            &Descriptor::new(media::OCI_MANIFEST, digest.clone(), bytes.len() as u64),
        )?;
        Ok(digest)
    }
}
