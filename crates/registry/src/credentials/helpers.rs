//! Credential helpers (`docker-credential-NAME get`): running one, reading its answer,
//! and keeping its secrets out of every message.

use std::io::{self};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde::{Deserialize, Serialize};

use super::*;

/// Joins a helper's output lines with `; `, keeping only those that cannot carry `secret`. A helper may echo
/// its input in some altered form (a shell's `echo` undoes backslashes), so rather than
/// replacing known forms, a line is left out when it names the `Secret` field or holds any
/// [`SECRET_WINDOW`] characters in a row of the secret or of its base64.
pub(crate) fn scrub(text: &str, secret: Option<&str>) -> String {
    let secret = secret.unwrap_or_default();
    let mut windows = Vec::new();
    for form in [secret.to_string(), STANDARD_NO_PAD.encode(secret)] {
        if form.is_empty() {
            continue;
        }
        let chars: Vec<char> = form.chars().collect();
        if chars.len() <= SECRET_WINDOW {
            windows.push(form);
        } else {
            windows.extend(
                chars
                    .windows(SECRET_WINDOW)
                    .map(|w| w.iter().collect::<String>()),
            );
        }
    }
    let (kept, dropped): (Vec<&str>, Vec<&str>) = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .partition(|line| {
            secret.is_empty()
                || !line.contains("Secret") && !windows.iter().any(|w| line.contains(w.as_str()))
        });
    let mut out = kept.join("; ");
    if !dropped.is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!(
            "({} line(s) left out: they may echo the secret)",
            dropped.len()
        ));
    }
    out
}

/// Cuts a message to [`MAX_MESSAGE`] characters.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// The JSON a helper reads on `store`.
#[derive(Serialize)]
pub(crate) struct HelperCredentials<'a> {
    #[serde(rename = "ServerURL")]
    pub(crate) server_url: &'a str,
    #[serde(rename = "Username")]
    pub(crate) username: &'a str,
    #[serde(rename = "Secret")]
    pub(crate) secret: &'a str,
}

/// The JSON a helper writes on `get`.
#[derive(Deserialize)]
pub(crate) struct HelperReply {
    #[serde(rename = "Username", default)]
    pub(crate) username: String,
    #[serde(rename = "Secret", default)]
    pub(crate) secret: String,
}

/// A helper the docker config names for a host.
pub(crate) struct Helper {
    /// The part after `docker-credential-`.
    pub(crate) name: String,
    /// The setting and file naming it, for messages.
    pub(crate) setting: String,
    pub(crate) source: CredentialSource,
}

impl Helper {
    /// Returns the helper for the host: `credHelpers` (exact key, then normalised), else
    /// `credsStore`. Empty names count as unset, as in docker.
    pub(crate) fn configured(
        config: &Json,
        path: &Path,
        target: &Target,
    ) -> Result<Option<Helper>, Error> {
        if let Some(helpers) = object_field(config, "credHelpers", path, Kind::Docker)? {
            let hit = helpers
                .iter()
                .find(|(k, _)| *k == target.server || *k == target.host)
                .or_else(|| {
                    helpers
                        .iter()
                        .find(|(k, _)| target.matches(k, Kind::Docker))
                });
            if let Some((key, value)) = hit {
                let setting = format!("credHelpers[\"{key}\"]");
                if let Some(name) = helper_name(value, &setting, path)? {
                    return Ok(Some(Helper {
                        setting: format!("{setting} in {}", path.display()),
                        source: CredentialSource::CredHelper(name.clone()),
                        name,
                    }));
                }
            }
        }
        if let Some(value) = config.field("credsStore")
            && let Some(name) = helper_name(value, "credsStore", path)?
        {
            return Ok(Some(Helper {
                setting: format!("credsStore in {}", path.display()),
                source: CredentialSource::CredsStore(name.clone()),
                name,
            }));
        }
        Ok(None)
    }

    pub(crate) fn program(&self) -> String {
        format!("docker-credential-{}", self.name)
    }

    pub(crate) fn run_error(
        &self,
        action: &'static str,
        target: &Target,
        source: io::Error,
    ) -> Error {
        Error::HelperRun {
            program: self.program(),
            action,
            host: target.host.clone(),
            source,
        }
    }
}

/// Reads a helper name; refuses anything that would make `docker-credential-<name>` a path.
pub(crate) fn helper_name(
    value: &Json,
    setting: &str,
    path: &Path,
) -> Result<Option<String>, Error> {
    match value {
        Json::Null => Ok(None),
        Json::String(s) if s.is_empty() => Ok(None),
        Json::String(s) if s.contains(['/', '\\', '\0']) => Err(invalid(
            path,
            Kind::Docker,
            format!("`{setting}` is not a helper name (docker-credential-NAME)"),
        )),
        Json::String(s) => Ok(Some(s.clone())),
        _ => Err(invalid(
            path,
            Kind::Docker,
            format!("`{setting}` is not a string"),
        )),
    }
}
