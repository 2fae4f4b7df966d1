//! werf's `secrets` and `ssh` for `RUN --mount=type=secret` and `RUN --mount=type=ssh`:
//! checked before anything is built, and handed to buildah only for the stages that mount
//! them.
//!
//! A secret's value never enters a stage digest, a layer, the report or a message. An
//! `env:` or `value:` secret is written, when a stage that mounts it is built, into a file
//! of mode 0600 in a private (0700) temporary folder of the store, removed when the image
//! is done, on error too, and on SIGINT or SIGTERM (a later run sweeps what a `kill -9`
//! left). A `src:` file is given to buildah where it is. buildah copies the value into the
//! step's `/run/secrets/ID` for that step only; every line buildah prints has the values
//! masked.

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use slipway_werf::{ImageSpec, SecretSource, WerfConfig};

use crate::BuildError;
use crate::buildah::{BuildSecret, masks_of};

use super::store::StoreTemp;
use super::{Run, io_err};

/// How much of a `src:` file is read to mask its value in buildah's output.
const MASK_READ_LIMIT: u64 = 1 << 20;

/// The secrets of one image as buildah gets them, and the folder holding the files written
/// for `env:` and `value:` secrets (removed when dropped).
pub(crate) struct SecretFiles {
    dir: Option<StoreTemp>,
    pub(crate) list: Vec<BuildSecret>,
    pub(crate) masks: Vec<String>,
}

/// Checks that every secret of `spec` can be read (its variable set, its file there) and
/// that its `ssh:` agent socket exists: bad input, found before anything is built. The
/// messages name the secret's id and where its value would come from, never the value.
pub(crate) fn check(cfg: &WerfConfig, spec: &ImageSpec) -> Result<(), BuildError> {
    for s in &spec.secrets {
        let fail = |why: String| {
            BuildError::Usage(format!(
                "{}: image `{}`: secret `{}`: {why}",
                cfg.path.display(),
                spec.name,
                s.id
            ))
        };
        match &s.source {
            SecretSource::Env(name) => {
                if std::env::var_os(name).is_none() {
                    return Err(fail(format!(
                        "environment variable `{name}` (`env: {name}`) is not set; export it \
                         before the build, or remove the secret"
                    )));
                }
            }
            SecretSource::File(path) => match std::fs::metadata(path) {
                Ok(m) if m.is_file() => {
                    std::fs::File::open(path).map_err(|e| {
                        fail(format!("cannot read its file {}: {e}", path.display()))
                    })?;
                }
                Ok(_) => {
                    return Err(fail(format!(
                        "its file {} (`src:`) is not a regular file",
                        path.display()
                    )));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(fail(format!(
                        "its file {} (`src:`) does not exist (a relative path is taken from \
                         the werf.yaml folder)",
                        path.display()
                    )));
                }
                Err(e) => {
                    return Err(fail(format!(
                        "cannot read its file {}: {e}",
                        path.display()
                    )));
                }
            },
            SecretSource::Value(_) => {}
        }
    }
    if spec.ssh.is_some() {
        ssh_agent(Some(&cfg.path), spec)?;
    }
    Ok(())
}

/// Returns the SSH agent of `spec`'s `ssh:` (its id and socket), checked: `None` without
/// the key. Messages start with `werf_yaml` when given.
pub(crate) fn ssh_agent(
    werf_yaml: Option<&Path>,
    spec: &ImageSpec,
) -> Result<Option<(String, PathBuf)>, BuildError> {
    let Some(agent) = &spec.ssh else {
        return Ok(None);
    };
    let fail = |why: String| {
        let file = werf_yaml.map(|p| format!("{}: ", p.display()));
        BuildError::Usage(format!(
            "{}image `{}`: `ssh: {}`: {why}",
            file.unwrap_or_default(),
            spec.name,
            agent.written
        ))
    };
    let socket = match &agent.socket {
        Some(p) => p.clone(),
        None => std::env::var_os("SSH_AUTH_SOCK")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| {
                fail(
                    "SSH_AUTH_SOCK is not set, so there is no agent to forward: start one \
                     (`eval \"$(ssh-agent)\"; ssh-add KEY`) or give its socket \
                     (`ssh: /path/to/agent.sock`)"
                        .into(),
                )
            })?,
    };
    let socket = std::path::absolute(&socket).unwrap_or(socket);
    match std::fs::metadata(&socket) {
        Ok(m) if m.file_type().is_socket() => Ok(Some((agent.id.clone(), socket))),
        Ok(m) if m.is_file() => Err(fail(format!(
            "{} is a file, not an agent's socket; slipway forwards an SSH agent only: load the \
             key into one (`ssh-add {}`) and give `ssh: default`",
            socket.display(),
            socket.display()
        ))),
        Ok(_) => Err(fail(format!("{} is not a socket", socket.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(fail(format!(
            "the SSH agent socket {} does not exist; is the agent running?",
            socket.display()
        ))),
        Err(e) => Err(fail(format!("cannot use {}: {e}", socket.display()))),
    }
}

/// Returns the agent a stage with `RUN --mount=type=ssh` gets when werf.yaml has no `ssh:`:
/// werf's default, `$SSH_AUTH_SOCK`, when it names a socket; else none (the mount is then
/// empty, as BuildKit leaves it).
pub(crate) fn default_ssh_agent() -> Option<(String, PathBuf)> {
    let socket = PathBuf::from(std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty())?);
    let socket = std::path::absolute(&socket).unwrap_or(socket);
    std::fs::metadata(&socket)
        .is_ok_and(|m| m.file_type().is_socket())
        .then(|| ("default".to_string(), socket))
}

impl Run<'_> {
    /// Makes the secrets of `spec` ready for buildah: a file of mode 0600 for each `env:`
    /// and `value:` secret in a new private folder of the store, and the masks for buildah's
    /// output.
    pub(crate) fn secret_files(&self, spec: &ImageSpec) -> Result<SecretFiles, BuildError> {
        let mut files = SecretFiles {
            dir: None,
            list: vec![],
            masks: vec![],
        };
        for (i, s) in spec.secrets.iter().enumerate() {
            let value: Option<Vec<u8>> = match &s.source {
                SecretSource::Env(name) => {
                    let v = std::env::var_os(name).ok_or_else(|| {
                        BuildError::Usage(format!(
                            "image `{}`: secret `{}`: environment variable `{name}` is not set",
                            spec.name, s.id
                        ))
                    })?;
                    Some(std::os::unix::ffi::OsStringExt::into_vec(v))
                }
                SecretSource::Value(v) => Some(v.expose().as_bytes().to_vec()),
                SecretSource::File(path) => {
                    let mut head = vec![];
                    std::fs::File::open(path)
                        .and_then(|f| f.take(MASK_READ_LIMIT).read_to_end(&mut head))
                        .map_err(io_err(path))?;
                    files.masks.extend(masks_of(&head));
                    files.list.push(BuildSecret {
                        id: s.id.clone(),
                        src: path.clone(),
                    });
                    None
                }
            };
            let Some(value) = value else { continue };
            if files.dir.is_none() {
                // tempfile makes the folder 0700.
                files.dir = Some(self.temp_dir("tmp", "secrets-")?);
            }
            let dir = files.dir.as_ref().expect("made above").path();
            // Named by position: the id is the user's text.
            let file = dir.join(format!("secret-{i}"));
            write_private(&file, &value)?;
            files.masks.extend(masks_of(&value));
            files.list.push(BuildSecret {
                id: s.id.clone(),
                src: file,
            });
        }
        files.masks.sort_by_key(|m| std::cmp::Reverse(m.len()));
        files.masks.dedup();
        Ok(files)
    }
}

/// Writes a new file readable by its owner only, from the moment it exists.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(io_err(path))
}
