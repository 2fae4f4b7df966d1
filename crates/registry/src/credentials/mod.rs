//! Registry credentials, read and stored the way docker and podman do.
//!
//! Reading tries, for one host: the credential helper the docker `config.json` names for it
//! (`credHelpers[host]`, else `credsStore`), then that file's `auths`, then the `auths` of
//! podman's `auth.json` files in order. Storing follows `docker login`: a configured helper
//! gets the secret; otherwise `config.json` does, written atomically with mode 0600 and with
//! every other key kept, in its place.
//!
//! Secrets never reach `Debug`, `Display` or an error message: errors name the file, the
//! entry or the helper, and the output of a helper that was given a secret is redacted.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod helpers;
use helpers::*;

/// The key docker uses for Docker Hub in `auths`, and the server URL it gives helpers.
const HUB_KEY: &str = "https://index.docker.io/v1/";
/// The name Docker Hub's host names normalise to.
const HUB_HOST: &str = "docker.io";
/// The user name docker pairs with an identity token.
const TOKEN_USER: &str = "<token>";
/// How a helper says it holds nothing for a server (docker's full text continues with
/// " in native keychain").
const NOT_FOUND: &str = "credentials not found";
/// The most of a helper's output an error quotes.
const MAX_MESSAGE: usize = 400;
/// How many characters in a row of a secret make a helper's output line suspect.
const SECRET_WINDOW: usize = 4;

/// A credential for one registry host. Its `Debug` and `Display` never print secrets.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (or an access token used as a password).
    Basic {
        /// The user name.
        username: String,
        /// The password. Never printed.
        password: String,
    },
    /// A docker `identitytoken`: a refresh token to exchange at the registry's token
    /// endpoint. Never printed.
    IdentityToken(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Credential::IdentityToken(_) => {
                f.debug_tuple("IdentityToken").field(&"<redacted>").finish()
            }
        }
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => write!(f, "user `{username}` with a password"),
            Credential::IdentityToken(_) => f.write_str("an identity token"),
        }
    }
}

/// Where a credential came from, for messages. Never holds the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// The `auths` of a docker `config.json`.
    DockerConfig(PathBuf),
    /// The helper `credHelpers` names for the host, e.g. `pass` for
    /// `docker-credential-pass`.
    CredHelper(String),
    /// The helper `credsStore` names for every host.
    CredsStore(String),
    /// The `auths` of a podman `auth.json`.
    PodmanAuth(PathBuf),
    /// `configs.HOST.auth` of a k3s-format registries.yaml (`--registries-config`).
    RegistriesConfig(PathBuf),
    /// Given on the command line or by the caller.
    Explicit,
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::DockerConfig(p) => write!(f, "docker config {}", p.display()),
            CredentialSource::CredHelper(n) => {
                write!(f, "credential helper docker-credential-{n} (credHelpers)")
            }
            CredentialSource::CredsStore(n) => {
                write!(f, "credential helper docker-credential-{n} (credsStore)")
            }
            CredentialSource::PodmanAuth(p) => write!(f, "podman auth file {}", p.display()),
            CredentialSource::RegistriesConfig(p) => {
                write!(f, "registries config {}", p.display())
            }
            CredentialSource::Explicit => f.write_str("explicit credentials"),
        }
    }
}

/// Represents an error that can occur while reading or storing credentials. Every variant
/// names its file or helper; none carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The host asked for is empty or not `host[:port]`.
    #[error("invalid registry host `{host}` for credentials: {why}")]
    InvalidHost {
        /// What the caller passed.
        host: String,
        /// Why it was refused.
        why: String,
    },
    /// No docker config location is known, so there is nowhere to store a credential.
    #[error("no docker config file to store credentials in: set DOCKER_CONFIG or HOME")]
    NoDockerConfig,
    /// A credential file exists but could not be read.
    #[error("cannot read {what} {}", path.display())]
    Read {
        /// `docker config` or `podman auth file`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A credential file is not valid JSON, or not in the docker/podman shape.
    #[error("{what} {} is not valid: {why}", path.display())]
    Invalid {
        /// `docker config` or `podman auth file`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key but never a value.
        why: String,
    },
    /// The docker config could not be written; the old file, if any, is unchanged.
    #[error("cannot write docker config {}: {step}", path.display())]
    Write {
        /// The config file.
        path: PathBuf,
        /// What was being done.
        step: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The credential cannot be written in the docker config format.
    #[error("cannot store the credential for {host} in docker config {}: {why}", path.display())]
    Unstorable {
        /// The registry.
        host: String,
        /// The config file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// A configured credential helper is not installed.
    #[error("credential helper {program}, named by {setting}, was not found in {searched}")]
    HelperNotFound {
        /// The program, e.g. `docker-credential-pass`.
        program: String,
        /// The setting that names it, with its file.
        setting: String,
        /// Where it was looked for: `PATH` or a folder.
        searched: String,
    },
    /// A credential helper could not be started or talked to.
    #[error("cannot run credential helper `{program} {action}` for {host}")]
    HelperRun {
        /// The program.
        program: String,
        /// `get`, `store` or `erase`.
        action: &'static str,
        /// The registry.
        host: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A credential helper failed. The message is its output, with any secret it was given
    /// redacted.
    #[error("credential helper `{program} {action}` for {host} failed ({status}){}",
        if message.is_empty() { String::new() } else { format!(": {message}") })]
    HelperFailed {
        /// The program.
        program: String,
        /// `get`, `store` or `erase`.
        action: &'static str,
        /// The registry.
        host: String,
        /// How it exited.
        status: String,
        /// What it printed, shortened and redacted.
        message: String,
    },
    /// A credential helper answered with something other than the expected JSON.
    #[error("credential helper `{program} {action}` for {host}: {why}")]
    HelperOutput {
        /// The program.
        program: String,
        /// `get`, `store` or `erase`.
        action: &'static str,
        /// The registry.
        host: String,
        /// What is wrong, never quoting the answer.
        why: String,
    },
}

/// Locations to read credentials from and store them in. [`CredentialStore::from_env`]
/// fills them like docker and podman do; tests set them explicitly.
#[derive(Clone, Debug, Default)]
pub struct CredentialStore {
    /// The docker `config.json` file (not its folder).
    pub docker_config: Option<PathBuf>,
    /// Podman `auth.json` files, read in order after the docker config.
    pub podman_auth: Vec<PathBuf>,
    /// The folder holding `docker-credential-<name>` helpers; `None` searches `PATH`.
    pub helper_dir: Option<PathBuf>,
    /// How helpers are run ([`slipway_proc::Host`] unless a test records them).
    pub processes: slipway_proc::Shared,
}

impl CredentialStore {
    /// Returns the locations docker and podman use, from the environment.
    ///
    /// docker: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`. podman, in
    /// order: `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`, then
    /// `containers/auth.json` under `$XDG_CONFIG_HOME`, else under `$HOME/.config`. Unset or
    /// empty variables are skipped. Helpers are searched in `PATH`.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var_os(name))
    }

    fn from_vars(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = var("HOME");
        let docker_config = var("DOCKER_CONFIG")
            .or_else(|| home.as_ref().map(|h| h.join(".docker")))
            .map(|d| d.join("config.json"));
        let mut podman_auth = Vec::new();
        podman_auth.extend(var("REGISTRY_AUTH_FILE"));
        podman_auth.extend(var("XDG_RUNTIME_DIR").map(|d| d.join("containers/auth.json")));
        podman_auth.extend(
            var("XDG_CONFIG_HOME")
                .or_else(|| home.map(|h| h.join(".config")))
                .map(|d| d.join("containers/auth.json")),
        );
        CredentialStore {
            docker_config,
            podman_auth,
            helper_dir: None,
            processes: slipway_proc::Shared::default(),
        }
    }

    /// Finds the credential for `host` (`host[:port]`), with where it came from.
    ///
    /// Tries the helper the docker config names for the host (`credHelpers[host]`, else
    /// `credsStore`), then its `auths`, then each podman auth file's `auths`. Keys in
    /// `auths` match when they normalise to the host: `host:port`, `https://host:port/v2/`,
    /// `http://host`, and for Docker Hub `https://index.docker.io/v1/`. Entries with no
    /// credential (docker writes `{}` when a helper holds the secret) are skipped.
    ///
    /// # Errors
    /// A file that exists but cannot be read, is not JSON or has a malformed entry for the
    /// host; a configured helper that is missing, fails, or answers with something other
    /// than its JSON. A missing file or a helper's "credentials not found" is not an error.
    pub fn get(&self, host: &str) -> Result<Option<(Credential, CredentialSource)>, Error> {
        let target = Target::parse(host)?;
        if let Some(path) = &self.docker_config
            && let Some(config) = read_file(path, Kind::Docker)?
        {
            if let Some(helper) = Helper::configured(&config, path, &target)?
                && let Some(cred) = self.helper_get(&helper, &target)?
            {
                return Ok(Some((cred, helper.source)));
            }
            if let Some(cred) = find_in_auths(&config, path, Kind::Docker, &target)? {
                return Ok(Some((cred, CredentialSource::DockerConfig(path.clone()))));
            }
        }
        for path in &self.podman_auth {
            if let Some(auth) = read_file(path, Kind::Podman)?
                && let Some(cred) = find_in_auths(&auth, path, Kind::Podman, &target)?
            {
                return Ok(Some((cred, CredentialSource::PodmanAuth(path.clone()))));
            }
        }
        Ok(None)
    }

    /// Stores a credential for `host` like `docker login`, and returns where it went.
    ///
    /// When the docker config names a helper for the host (`credHelpers[host]`, else
    /// `credsStore`), runs `docker-credential-<name> store`; an identity token is stored
    /// with the user name `<token>`. Otherwise sets `auths[host]` to `{"auth":
    /// base64(user:password)}` in the docker config, creating it (and its folder, mode
    /// 0700) when missing, keeping every other key in its place, and replacing the file
    /// atomically with mode 0600. Docker Hub is stored under `https://index.docker.io/v1/`.
    ///
    /// # Errors
    /// No docker config location, an unreadable or invalid config (left untouched), an empty
    /// user name or one containing `:` (which the `auth` field cannot carry), a failing
    /// helper, or an I/O error while writing.
    pub fn store(&self, host: &str, cred: &Credential) -> Result<CredentialSource, Error> {
        let target = Target::parse(host)?;
        let path = self.docker_config.as_ref().ok_or(Error::NoDockerConfig)?;
        let config = read_file(path, Kind::Docker)?;
        if let Some(config) = &config
            && let Some(helper) = Helper::configured(config, path, &target)?
        {
            let (username, secret) = match cred {
                Credential::Basic { username, password } => (username.as_str(), password.as_str()),
                Credential::IdentityToken(token) => (TOKEN_USER, token.as_str()),
            };
            let input = serde_json::to_vec(&HelperCredentials {
                server_url: &target.server,
                username,
                secret,
            })
            .map_err(|e| helper.run_error("store", &target, io::Error::other(e)))?;
            self.run_helper(&helper, "store", &input, &target, Some(secret), false)?;
            return Ok(helper.source);
        }
        let auth = match cred {
            Credential::Basic { username, .. } if username.is_empty() || username.contains(':') => {
                return Err(Error::Unstorable {
                    host: target.host.clone(),
                    path: path.clone(),
                    why: "the `auth` field cannot carry an empty user name or one with `:`".into(),
                });
            }
            Credential::Basic { username, password } => vec![(
                "auth".to_string(),
                Json::String(STANDARD.encode(format!("{username}:{password}"))),
            )],
            Credential::IdentityToken(token) => vec![
                (
                    "auth".to_string(),
                    Json::String(STANDARD.encode(format!("{TOKEN_USER}:"))),
                ),
                ("identitytoken".to_string(), Json::String(token.clone())),
            ],
        };
        let mut config = config.unwrap_or(Json::Object(Vec::new()));
        let fields = config.fields_mut().ok_or_else(|| not_object(path))?;
        let auths = match fields.iter().position(|(k, _)| k == "auths") {
            Some(i) => {
                if matches!(fields[i].1, Json::Null) {
                    fields[i].1 = Json::Object(Vec::new());
                }
                &mut fields[i].1
            }
            None => {
                fields.push(("auths".to_string(), Json::Object(Vec::new())));
                &mut fields.last_mut().expect("just pushed").1
            }
        };
        let auths = auths
            .fields_mut()
            .ok_or_else(|| invalid(path, Kind::Docker, "`auths` is not an object".into()))?;
        match auths.iter_mut().find(|(k, _)| *k == target.server) {
            Some(entry) => entry.1 = Json::Object(auth),
            None => auths.push((target.server.clone(), Json::Object(auth))),
        }
        write_config(path, &config)?;
        Ok(CredentialSource::DockerConfig(path.clone()))
    }

    /// Removes the credential for `host` like `docker logout`, and returns whether one
    /// existed.
    ///
    /// Runs the configured helper's `erase` (if any), then removes every `auths` entry of
    /// the docker config that normalises to the host, rewriting the file only when one was
    /// there. Podman auth files are left alone.
    ///
    /// # Errors
    /// As [`CredentialStore::store`].
    pub fn erase(&self, host: &str) -> Result<bool, Error> {
        let target = Target::parse(host)?;
        let Some(path) = &self.docker_config else {
            return Ok(false);
        };
        let Some(mut config) = read_file(path, Kind::Docker)? else {
            return Ok(false);
        };
        let mut existed = false;
        if let Some(helper) = Helper::configured(&config, path, &target)? {
            existed = self
                .run_helper(
                    &helper,
                    "erase",
                    target.server.as_bytes(),
                    &target,
                    None,
                    true,
                )?
                .is_some();
        }
        object_field(&config, "auths", path, Kind::Docker)?;
        let Some(auths) = config.field_mut("auths").and_then(Json::fields_mut) else {
            return Ok(existed);
        };
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(auths)
            .into_iter()
            .partition(|(k, _)| target.matches(k, Kind::Docker));
        *auths = kept;
        if gone.is_empty() {
            return Ok(existed);
        }
        existed |= gone.iter().any(|(k, v)| {
            // A malformed entry counts as one: it is removed all the same.
            !matches!(decode_entry(k, v, path, Kind::Docker), Ok(None))
        });
        write_config(path, &config)?;
        Ok(existed)
    }

    fn helper_get(&self, helper: &Helper, target: &Target) -> Result<Option<Credential>, Error> {
        let Some(stdout) =
            self.run_helper(helper, "get", target.server.as_bytes(), target, None, true)?
        else {
            return Ok(None);
        };
        let reply: HelperReply = serde_json::from_slice(&stdout).map_err(|e| {
            // serde's message may quote a value, and the value may be the secret.
            let what = if e.is_data() {
                "a field has the wrong type"
            } else {
                "it is not JSON"
            };
            Error::HelperOutput {
                program: helper.program(),
                action: "get",
                host: target.host.clone(),
                why: format!(
                    "its answer is not {{\"ServerURL\", \"Username\", \"Secret\"}}: {what} (line {} column {})",
                    e.line(),
                    e.column()
                ),
            }
        })?;
        Ok(match (reply.username, reply.secret) {
            (_, secret) if secret.is_empty() => None,
            (user, secret) if user == TOKEN_USER => Some(Credential::IdentityToken(secret)),
            (username, password) => Some(Credential::Basic { username, password }),
        })
    }

    /// Runs `docker-credential-<name> <action>` with `input` on stdin. Returns its stdout,
    /// or `None` when it says "credentials not found" and `not_found_ok`. `secret` is what
    /// `input` carries that must not appear in an error.
    fn run_helper(
        &self,
        helper: &Helper,
        action: &'static str,
        input: &[u8],
        target: &Target,
        secret: Option<&str>,
        not_found_ok: bool,
    ) -> Result<Option<Vec<u8>>, Error> {
        let program = helper.program();
        let path = match &self.helper_dir {
            Some(dir) => dir.join(&program),
            None => PathBuf::from(&program),
        };
        let inv = slipway_proc::Invocation::new(&path)
            .arg(action)
            .stdin(input);
        let output = self.processes.run(&inv).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                Error::HelperNotFound {
                    program: program.clone(),
                    setting: helper.setting.clone(),
                    searched: match &self.helper_dir {
                        Some(dir) => dir.display().to_string(),
                        None => "PATH".into(),
                    },
                }
            } else {
                helper.run_error(action, target, source)
            }
        })?;
        if output.success() {
            return Ok(Some(output.stdout));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said_not_found = [stdout.trim(), stderr.trim()]
            .iter()
            .any(|t| t.to_ascii_lowercase().starts_with(NOT_FOUND));
        if said_not_found && not_found_ok {
            return Ok(None);
        }
        let message = [stdout.trim(), stderr.trim()]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        Err(Error::HelperFailed {
            program,
            action,
            host: target.host.clone(),
            status: output.describe(),
            message: shorten(scrub(&message, secret).trim()),
        })
    }
}

/// The kind of a credential file, which decides how its keys normalise.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A docker `config.json`: every key is cut at its first `/`.
    Docker,
    /// A podman `auth.json`: only URL keys are cut; `host/namespace` keys are scoped to a
    /// namespace and do not match a bare host.
    Podman,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Docker => "docker config",
            Kind::Podman => "podman auth file",
        }
    }
}

/// The host asked for, normalised, and the key docker stores it under.
struct Target {
    /// `host[:port]`, lowercased; `docker.io` for every Docker Hub name.
    host: String,
    /// The `auths` key and helper server URL: the host, or [`HUB_KEY`].
    server: String,
}

impl Target {
    fn parse(input: &str) -> Result<Target, Error> {
        let bad = |why: &str| Error::InvalidHost {
            host: input.to_string(),
            why: why.to_string(),
        };
        let host = normalise_key(input.trim(), Kind::Docker).unwrap_or_default();
        if host.is_empty() {
            return Err(bad("it is empty"));
        }
        if host.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains a space or control character"));
        }
        let server = if host == HUB_HOST {
            HUB_KEY.to_string()
        } else {
            host.clone()
        };
        Ok(Target { host, server })
    }

    fn matches(&self, key: &str, kind: Kind) -> bool {
        key == self.server || normalise_key(key, kind).is_some_and(|k| k == self.host)
    }
}

/// Normalises an `auths` key to `host[:port]` like docker's `ConvertToHostname` and
/// podman's `normalizeAuthFileKey`. Returns `None` for a podman namespace-scoped key.
fn normalise_key(key: &str, kind: Kind) -> Option<String> {
    let host = match key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
    {
        Some(rest) => rest.split('/').next().unwrap_or_default(),
        None if kind == Kind::Docker => key.split('/').next().unwrap_or_default(),
        None if key.contains('/') => return None,
        None => key,
    };
    let host = host.to_ascii_lowercase();
    Some(match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => HUB_HOST.to_string(),
        _ => host,
    })
}

/// Finds the host's credential in a file's `auths`: the exact key first, then any key that
/// normalises to the host; entries without a credential are skipped.
fn find_in_auths(
    file: &Json,
    path: &Path,
    kind: Kind,
    target: &Target,
) -> Result<Option<Credential>, Error> {
    let Some(auths) = object_field(file, "auths", path, kind)? else {
        return Ok(None);
    };
    let exact = auths
        .iter()
        .filter(|(k, _)| *k == target.server || *k == target.host);
    let normalised = auths.iter().filter(|(k, _)| target.matches(k, kind));
    for (key, entry) in exact.chain(normalised) {
        if let Some(cred) = decode_entry(key, entry, path, kind)? {
            return Ok(Some(cred));
        }
    }
    Ok(None)
}

/// Reads `configs.<key>.auth` of a k3s-format registries.yaml at `path`, as containerd does:
/// `identity_token`, else `auth` (base64 `user:password`), else `username`/`password`.
/// Returns `None` for an entry without any.
///
/// # Errors
/// [`Error::Invalid`] naming the file and key, for an `auth` that does not decode.
pub fn from_registries_config(
    auth: &slipway_trust::Auth,
    path: &Path,
    key: &str,
) -> Result<Option<Credential>, Error> {
    let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    if let Some(token) = given(&auth.identity_token) {
        return Ok(Some(Credential::IdentityToken(token)));
    }
    if let Some(b64) = given(&auth.auth) {
        let (username, password) = decode_basic(&b64).map_err(|why| Error::Invalid {
            what: "registries config",
            path: path.to_path_buf(),
            why: format!("configs.\"{key}\".auth.auth {why}"),
        })?;
        return Ok(Some(Credential::Basic { username, password }));
    }
    Ok(given(&auth.username).map(|username| Credential::Basic {
        username,
        password: auth.password.clone().unwrap_or_default(),
    }))
}

/// Decodes a docker `auth` value: base64 `user:password`; the error says what is wrong.
fn decode_basic(auth: &str) -> Result<(String, String), String> {
    let auth = auth.trim();
    let decoded = STANDARD
        .decode(auth)
        .or_else(|_| STANDARD_NO_PAD.decode(auth))
        .map_err(|_| "is not base64".to_string())?;
    let decoded =
        String::from_utf8(decoded).map_err(|_| "does not decode to UTF-8 text".to_string())?;
    let Some((username, password)) = decoded.split_once(':') else {
        return Err("does not decode to `user:password`".into());
    };
    if username.is_empty() {
        return Err("holds an empty user name".into());
    }
    Ok((
        username.to_string(),
        password.trim_matches('\0').to_string(),
    ))
}

/// Decodes one `auths` entry: `identitytoken`, else `auth` (base64 `user:password`), else
/// `username`/`password`. Returns `None` for an entry without any.
fn decode_entry(
    key: &str,
    entry: &Json,
    path: &Path,
    kind: Kind,
) -> Result<Option<Credential>, Error> {
    let bad = |why: String| invalid(path, kind, format!("auths[\"{key}\"]{why}"));
    let Json::Object(_) = entry else {
        return Err(bad(" is not an object".into()));
    };
    let text = |name: &str| match entry.field(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(bad(format!(".{name} is not a string"))),
    };
    if let Some(token) = text("identitytoken")? {
        return Ok(Some(Credential::IdentityToken(token.to_string())));
    }
    if let Some(auth) = text("auth")? {
        let (username, password) = decode_basic(auth).map_err(|why| bad(format!(".auth {why}")))?;
        return Ok(Some(Credential::Basic { username, password }));
    }
    if let Some(username) = text("username")? {
        return Ok(Some(Credential::Basic {
            username: username.to_string(),
            password: text("password")?.unwrap_or_default().to_string(),
        }));
    }
    Ok(None)
}

fn invalid(path: &Path, kind: Kind, why: String) -> Error {
    Error::Invalid {
        what: kind.label(),
        path: path.to_path_buf(),
        why,
    }
}

fn not_object(path: &Path) -> Error {
    invalid(
        path,
        Kind::Docker,
        "the top level is not a JSON object".into(),
    )
}

/// Returns a top-level object field; absent or `null` is `None`, anything else an error.
fn object_field<'a>(
    file: &'a Json,
    name: &str,
    path: &Path,
    kind: Kind,
) -> Result<Option<&'a [(String, Json)]>, Error> {
    match file.field(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Object(fields)) => Ok(Some(fields)),
        Some(_) => Err(invalid(path, kind, format!("`{name}` is not an object"))),
    }
}

/// Reads a credential file. A missing file is `None`; an empty one is `{}`, as in docker.
fn read_file(path: &Path, kind: Kind) -> Result<Option<Json>, Error> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Read {
                what: kind.label(),
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(Json::Object(Vec::new())));
    }
    let json: Json = serde_json::from_slice(&bytes).map_err(|e| {
        // Syntax messages never quote the text; other kinds might, so only place them.
        let why = if e.is_syntax() || e.is_eof() {
            format!("not JSON: {e}")
        } else {
            format!("not JSON (line {} column {})", e.line(), e.column())
        };
        invalid(path, kind, why)
    })?;
    if !matches!(json, Json::Object(_)) {
        return Err(invalid(
            path,
            kind,
            "the top level is not a JSON object".into(),
        ));
    }
    Ok(Some(json))
}

/// Writes the docker config atomically: a 0600 temp file in the same folder, synced, then
/// renamed over the file (over a symlink's target, keeping the link). The folder is created
/// with mode 0700 when missing. An existing file's owner is kept when possible.
fn write_config(path: &Path, config: &Json) -> Result<(), Error> {
    let fail = |step: &'static str| {
        move |source: io::Error| Error::Write {
            path: path.to_path_buf(),
            step,
            source,
        }
    };
    let target = resolve_symlink(path);
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&dir).map_err(fail("creating its folder"))?;

    let mut text = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut text,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    config
        .serialize(&mut ser)
        .map_err(|e| fail("encoding JSON")(io::Error::other(e)))?;
    text.push(b'\n');

    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.json".into());
    let prefix = format!(".{name}.");
    let opts = slipway_fs::WriteOptions {
        mode: 0o600,
        prefix: &prefix,
        suffix: ".tmp",
        sync_dir: true,
    };
    let staged = slipway_fs::stage(&target, &text, &opts)
        .map_err(|e| fail("writing a temporary file beside it")(e.source))?;
    #[cfg(unix)]
    keep_owner(&target, staged.file());
    staged
        .commit()
        .map_err(|e| fail("renaming the temporary file over it")(e.source))?;
    Ok(())
}

/// Returns the file a symlink points to (so the link survives the rename), else `path`.
fn resolve_symlink(path: &Path) -> PathBuf {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path).unwrap_or_else(|_| {
            // A dangling link: write where it points.
            match fs::read_link(path) {
                Ok(to) if to.is_relative() => path.parent().unwrap_or(Path::new("")).join(to),
                Ok(to) => to,
                Err(_) => path.to_path_buf(),
            }
        }),
        _ => path.to_path_buf(),
    }
}

/// Gives the new file the old file's owner, as docker does, so `sudo` with a user's HOME
/// does not leave a root-owned config behind. Best effort: only root may give files away.
#[cfg(unix)]
fn keep_owner(old: &Path, new: &fs::File) {
    use std::os::unix::fs::MetadataExt;
    if let (Ok(old), Ok(cur)) = (fs::metadata(old), new.metadata())
        && (old.uid(), old.gid()) != (cur.uid(), cur.gid())
    {
        let _ = std::os::unix::fs::fchown(new, Some(old.uid()), Some(old.gid()));
    }
}

/// A JSON value whose objects keep their key order, so a rewritten config keeps its layout
/// (`serde_json::Value` sorts keys unless its `preserve_order` feature is on). It has no
/// `Debug`: it holds secrets.
#[derive(Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn field(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    fn field_mut(&mut self, name: &str) -> Option<&mut Json> {
        self.fields_mut()?
            .iter_mut()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    fn fields_mut(&mut self) -> Option<&mut Vec<(String, Json)>> {
        match self {
            Json::Object(fields) => Some(fields),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        Json::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut fields: Vec<(String, Json)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            // A repeated key keeps its first place and its last value, as Go's decoder does.
            match fields.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => fields.push((key, value)),
            }
        }
        Ok(Json::Object(fields))
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(v) => s.serialize_str(v),
            Json::Array(items) => items.serialize(s),
            Json::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests;
