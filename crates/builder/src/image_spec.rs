//! werf's `imageSpec` applied to a built image's config, as werf's imageSpec stage does
//! (`pkg/build/stage/image_spec.go` and `pkg/image`'s `UpdateConfigFile`).
//!
//! The edited image is the image's final one: a new config on the layers of the target
//! stage, tagged by [`digest`], which covers the target stage's digest and the whole edit,
//! so a changed `imageSpec` gives another final image and the same one finds it again.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use slipway_oci::Digest;
use slipway_werf::{ImageSpecEdit, NamePattern};

/// The labels werf keeps whatever `removeLabels` says: its cleanup needs them. slipway
/// never sets them; an image has them only when its Dockerfile or base does.
pub const ESSENTIAL_WERF_LABELS: [&str; 3] = [
    "werf",
    "werf-stage-content-digest",
    "werf.io/parent-stage-id",
];

/// Variables werf's imageSpec stage always removes (its own commit variables).
const WERF_COMMIT_ENV: [&str; 3] = [
    "WERF_COMMIT_HASH",
    "WERF_COMMIT_TIME_HUMAN",
    "WERF_COMMIT_TIME_UNIX",
];

/// werf's SSH agent socket inside its build containers: an `SSH_AUTH_SOCK` with this value
/// is removed.
const WERF_SSH_AUTH_SOCK: &str = "/.werf/tmp/ssh-auth-sock";

/// The tag of the edited image: a digest of the target stage's digest and the edit.
#[must_use]
pub fn digest(target: &Digest, edit: &ImageSpecEdit) -> Digest {
    let text = format!("slipway imageSpec 1\n{target}\n{}\n", canonical(edit));
    Digest::sha256_of(text.as_bytes())
}

/// Every field of the edit, in a fixed order.
fn canonical(e: &ImageSpecEdit) -> String {
    fn patterns(p: &[NamePattern]) -> Vec<&str> {
        p.iter().map(NamePattern::as_str).collect()
    }
    let health = e.healthcheck.as_ref().map(|h| {
        json!({
            "test": h.test, "interval": h.interval, "timeout": h.timeout,
            "startperiod": h.start_period, "retries": h.retries,
        })
    });
    json!({
        "author": e.author,
        "clearHistory": e.clear_history,
        "keepEssentialWerfLabels": e.keep_essential_werf_labels,
        "clearWerfLabels": e.clear_werf_labels,
        "labels": e.labels,
        "removeLabels": patterns(&e.remove_labels),
        "removeVolumes": e.remove_volumes,
        "removeEnv": patterns(&e.remove_env),
        "clearCmd": e.clear_cmd,
        "clearEntrypoint": e.clear_entrypoint,
        "clearUser": e.clear_user,
        "clearWorkingDir": e.clear_working_dir,
        "volumes": e.volumes,
        "env": e.env,
        "user": e.user,
        "cmd": e.cmd,
        "entrypoint": e.entrypoint,
        "workingDir": e.working_dir,
        "stopSignal": e.stop_signal,
        "expose": e.expose,
        "healthcheck": health,
    })
    .to_string()
}

/// The longest time Go's `time.Duration` holds, in whole seconds.
const MAX_SECONDS: u64 = (i64::MAX / 1_000_000_000) as u64;

/// Checks, before anything is built, what only building would find wrong: the syntax of
/// each `env` value (as BuildKit's word expansion reads it) and the healthcheck times.
///
/// # Errors
/// The key and what is wrong.
pub fn check(edit: &ImageSpecEdit) -> Result<(), String> {
    for (name, value) in &edit.env {
        slipway_dockerfile::expand(value, '\\', &|_| Some("x".to_string()))
            .map_err(|m| format!("imageSpec.config.env.{name}: `{value}`: {m}"))?;
    }
    if let Some(h) = &edit.healthcheck {
        for (key, secs) in [
            ("interval", h.interval),
            ("timeout", h.timeout),
            ("startperiod", h.start_period),
        ] {
            if secs > MAX_SECONDS {
                return Err(format!(
                    "imageSpec.config.healthcheck.{key}: {secs} seconds is more than an image \
                     config holds (at most {MAX_SECONDS})"
                ));
            }
        }
    }
    Ok(())
}

/// Applies `edit` to an image config (the whole config blob, `config` holding `Env`,
/// `Labels` and the rest) as werf's imageSpec stage does. Returns notes to show: labels
/// werf keeps although `removeLabels` names them.
///
/// Go holds labels, volumes and exposed ports in maps: they are written sorted. The
/// environment, which werf rebuilds from a map in random order, keeps the image's order,
/// with new variables appended in name order.
///
/// # Errors
/// An `env` value that does not expand (e.g. `${X:?}` with `X` unset), naming it.
pub fn apply(top: &mut Map<String, Value>, edit: &ImageSpecEdit) -> Result<Vec<String>, String> {
    let mut notes = vec![];
    if let Some(a) = &edit.author {
        top.insert("author".into(), json!(a));
    }
    if edit.clear_history {
        top.remove("history");
    }
    let c = match top.get_mut("config") {
        Some(Value::Object(m)) => m,
        _ => {
            top.insert("config".into(), Value::Object(Map::new()));
            top.get_mut("config")
                .and_then(Value::as_object_mut)
                .expect("just inserted")
        }
    };

    // Labels: the image's, minus removeLabels (but werf's essential ones), plus labels.
    let mut labels: BTreeMap<String, Value> = object(c, "Labels");
    let mut kept = vec![];
    labels.retain(|k, _| {
        if !edit.remove_labels.iter().any(|p| p.matches(k)) {
            return true;
        }
        if ESSENTIAL_WERF_LABELS.contains(&k.as_str()) {
            kept.push(k.clone());
            return true;
        }
        false
    });
    if !kept.is_empty() && !edit.keep_essential_werf_labels {
        notes.push(format!(
            "imageSpec keeps the label{} {} although removeLabels names {}: werf never removes \
             them (set keepEssentialWerfLabels: true to silence this)",
            if kept.len() == 1 { "" } else { "s" },
            kept.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if kept.len() == 1 { "it" } else { "them" }
        ));
    }
    for (k, v) in &edit.labels {
        labels.insert(k.clone(), json!(v));
    }
    put_map(c, "Labels", labels);

    // Env: werf expands new values against the image's environment as it was.
    let base: Vec<String> = c
        .get("Env")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let lookup = |name: &str| {
        base.iter().rev().find_map(|e| match e.split_once('=') {
            Some((k, v)) if k == name => Some(v.to_string()),
            None if e == name => Some(String::new()),
            _ => None,
        })
    };
    let mut env: Vec<(String, String)> = vec![];
    for e in &base {
        // werf keeps only `NAME=VALUE` entries, the last of a name winning.
        if let Some((k, v)) = e.split_once('=') {
            match env.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 = v.to_string(),
                None => env.push((k.to_string(), v.to_string())),
            }
        }
    }
    env.retain(|(k, v)| {
        !(edit.remove_env.iter().any(|p| p.matches(k))
            || WERF_COMMIT_ENV.contains(&k.as_str())
            || (k == "SSH_AUTH_SOCK" && v == WERF_SSH_AUTH_SOCK))
    });
    for (k, v) in &edit.env {
        let value = slipway_dockerfile::expand(v, '\\', &lookup)
            .map_err(|m| format!("imageSpec.config.env.{k}: `{v}`: {m}"))?;
        match env.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = value,
            None => env.push((k.clone(), value)),
        }
    }
    if env.is_empty() {
        c.remove("Env");
    } else {
        let list: Vec<String> = env.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        c.insert("Env".into(), json!(list));
    }

    // Volumes: the image's, minus removeVolumes, plus volumes.
    let mut volumes = object(c, "Volumes");
    for v in &edit.remove_volumes {
        volumes.remove(v);
    }
    for v in &edit.volumes {
        volumes.insert(v.clone(), json!({}));
    }
    put_map(c, "Volumes", volumes);

    // Exposed ports: replaced, as written, when given.
    if let Some(ports) = &edit.expose {
        let map: BTreeMap<String, Value> = ports.iter().map(|p| (p.clone(), json!({}))).collect();
        put_map(c, "ExposedPorts", map);
    }

    if edit.clear_user {
        c.remove("User");
    }
    if let Some(u) = &edit.user {
        c.insert("User".into(), json!(u));
    }
    // ENTRYPOINT without CMD clears CMD, as in a Dockerfile.
    let clear_cmd = edit.clear_cmd || (edit.entrypoint.is_some() && edit.cmd.is_none());
    if clear_cmd {
        c.remove("Cmd");
    }
    if let Some(cmd) = edit.cmd.as_ref().filter(|c| !c.is_empty()) {
        c.insert("Cmd".into(), json!(cmd));
    }
    if edit.clear_entrypoint {
        c.remove("Entrypoint");
    }
    if let Some(ep) = edit.entrypoint.as_ref().filter(|e| !e.is_empty()) {
        c.insert("Entrypoint".into(), json!(ep));
    }
    if edit.clear_working_dir {
        c.remove("WorkingDir");
    }
    if let Some(w) = &edit.working_dir {
        c.insert("WorkingDir".into(), json!(w));
    }
    if let Some(s) = &edit.stop_signal {
        c.insert("StopSignal".into(), json!(s));
    }
    if let Some(h) = &edit.healthcheck {
        let mut m = Map::new();
        if !h.test.is_empty() {
            m.insert("Test".into(), json!(h.test));
        }
        for (key, secs) in [
            ("Interval", h.interval),
            ("Timeout", h.timeout),
            ("StartPeriod", h.start_period),
        ] {
            if secs > 0 {
                m.insert(key.into(), json!(secs.saturating_mul(1_000_000_000)));
            }
        }
        if h.retries > 0 {
            m.insert("Retries".into(), json!(h.retries));
        }
        c.insert("Healthcheck".into(), Value::Object(m));
    }
    Ok(notes)
}

/// A map-valued config field (`Labels`, `Volumes`), sorted; empty when absent.
fn object(c: &Map<String, Value>, key: &str) -> BTreeMap<String, Value> {
    c.get(key)
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Writes a map-valued field, or removes it when empty (Go omits empty maps).
fn put_map(c: &mut Map<String, Value>, key: &str, map: BTreeMap<String, Value>) {
    if map.is_empty() {
        c.remove(key);
    } else {
        c.insert(key.into(), Value::Object(map.into_iter().collect()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_werf::Healthcheck;

    fn pattern(s: &str) -> NamePattern {
        NamePattern::parse(s).unwrap()
    }

    fn base() -> Map<String, Value> {
        json!({
            "architecture": "amd64", "os": "linux", "author": "old",
            "history": [{"created_by": "COPY"}],
            "rootfs": {"type": "layers", "diff_ids": []},
            "config": {
                "Env": ["PATH=/usr/bin", "DEBUG=1", "TEMP_A=x", "KEEP=k", "WERF_COMMIT_HASH=abc",
                        "SSH_AUTH_SOCK=/.werf/tmp/ssh-auth-sock", "NOVALUE"],
                "Labels": {"beta": "1", "org.opencontainers.image.title": "t", "werf": "p", "z": "z"},
                "Volumes": {"/tmp": {}, "/var/log": {}},
                "ExposedPorts": {"80/tcp": {}},
                "User": "root", "Cmd": ["old"], "Entrypoint": ["/old"], "WorkingDir": "/old",
                "StopSignal": "SIGINT",
                "Healthcheck": {"Test": ["NONE"]},
                "OnBuild": ["RUN x"]
            }
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn every_edit_lands_where_werf_puts_it() {
        let edit = ImageSpecEdit {
            author: Some("me".into()),
            clear_history: true,
            labels: BTreeMap::from([
                ("app".into(), "frontend".into()),
                ("z".into(), "new".into()),
            ]),
            remove_labels: vec![
                pattern("beta"),
                pattern("/^org\\.opencontainers\\..*/"),
                pattern("werf"),
            ],
            remove_env: vec![pattern("DEBUG"), pattern("/^TEMP_.*$/")],
            env: BTreeMap::from([
                ("PATH".into(), "${PATH}:/app/bin".into()),
                ("NEW".into(), "\"quoted $KEEP\"".into()),
                ("FROM_REMOVED".into(), "${DEBUG:-none}".into()),
            ]),
            remove_volumes: vec!["/tmp".into()],
            volumes: vec!["/data".into()],
            expose: Some(vec!["8080".into(), "443/tcp".into()]),
            user: Some("node".into()),
            cmd: Some(vec!["serve".into()]),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            working_dir: Some("/app".into()),
            stop_signal: Some("SIGTERM".into()),
            healthcheck: Some(Healthcheck {
                test: vec!["CMD".into(), "true".into()],
                interval: 30,
                timeout: 0,
                start_period: 2,
                retries: 3,
            }),
            ..Default::default()
        };
        let mut top = base();
        let notes = apply(&mut top, &edit).unwrap();
        assert_eq!(top["author"], "me");
        assert!(!top.contains_key("history"));
        let c = &top["config"];
        assert_eq!(
            c["Labels"],
            json!({"app": "frontend", "werf": "p", "z": "new"}),
            "removed, kept (werf's own) and added"
        );
        assert!(
            notes[0].contains("`werf`") && notes[0].contains("keepEssentialWerfLabels"),
            "{notes:?}"
        );
        // Expanded against the image's environment as it was (DEBUG before its removal).
        assert_eq!(
            c["Env"],
            json!([
                "PATH=/usr/bin:/app/bin",
                "KEEP=k",
                "FROM_REMOVED=1",
                "NEW=quoted k"
            ])
        );
        assert_eq!(c["Volumes"], json!({"/data": {}, "/var/log": {}}));
        assert_eq!(
            c["ExposedPorts"],
            json!({"443/tcp": {}, "8080": {}}),
            "replaced, as written"
        );
        assert_eq!(c["User"], "node");
        assert_eq!(c["Cmd"], json!(["serve"]));
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c"]));
        assert_eq!(c["WorkingDir"], "/app");
        assert_eq!(c["StopSignal"], "SIGTERM");
        assert_eq!(
            c["Healthcheck"],
            json!({"Test": ["CMD", "true"], "Interval": 30_000_000_000u64,
                   "StartPeriod": 2_000_000_000u64, "Retries": 3})
        );
        assert_eq!(
            c["OnBuild"],
            json!(["RUN x"]),
            "what imageSpec does not name stays"
        );
        // With keepEssentialWerfLabels, the same edit says nothing.
        let quiet = ImageSpecEdit {
            keep_essential_werf_labels: true,
            ..edit.clone()
        };
        assert!(apply(&mut base(), &quiet).unwrap().is_empty());
    }

    #[test]
    fn clears_and_the_entrypoint_rule_follow_werf() {
        // An entrypoint without cmd clears Cmd.
        let mut top = base();
        let edit = ImageSpecEdit {
            entrypoint: Some(vec!["/e".into()]),
            ..Default::default()
        };
        apply(&mut top, &edit).unwrap();
        assert!(top["config"].get("Cmd").is_none());
        assert_eq!(top["config"]["Entrypoint"], json!(["/e"]));
        // `entrypoint: []` still clears Cmd and leaves Entrypoint.
        let mut top = base();
        apply(
            &mut top,
            &ImageSpecEdit {
                entrypoint: Some(vec![]),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(top["config"].get("Cmd").is_none());
        assert_eq!(top["config"]["Entrypoint"], json!(["/old"]));
        // The clear* keys, and `expose: []`, remove what they name.
        let mut top = base();
        apply(
            &mut top,
            &ImageSpecEdit {
                clear_cmd: true,
                clear_entrypoint: true,
                clear_user: true,
                clear_working_dir: true,
                expose: Some(vec![]),
                remove_volumes: vec!["/tmp".into(), "/var/log".into()],
                remove_labels: vec![pattern("/.*/")],
                remove_env: vec![pattern("/.*/")],
                keep_essential_werf_labels: true,
                ..Default::default()
            },
        )
        .unwrap();
        let c = top["config"].as_object().unwrap();
        for gone in [
            "Cmd",
            "Entrypoint",
            "User",
            "WorkingDir",
            "ExposedPorts",
            "Volumes",
            "Env",
        ] {
            assert!(!c.contains_key(gone), "{gone}: {c:?}");
        }
        assert_eq!(c["Labels"], json!({"werf": "p"}));
        assert_eq!(top["author"], "old", "no author keeps the image's");
        assert!(top.contains_key("history"));
        // A clear and a value: the value wins, as in werf.
        let mut top = base();
        apply(
            &mut top,
            &ImageSpecEdit {
                clear_user: true,
                user: Some("u".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(top["config"]["User"], "u");
    }

    #[test]
    fn the_digest_covers_the_stage_and_every_key() {
        let stage = Digest::sha256_of(b"stage");
        let a = ImageSpecEdit {
            user: Some("a".into()),
            ..Default::default()
        };
        let b = ImageSpecEdit {
            user: Some("b".into()),
            ..Default::default()
        };
        assert_eq!(digest(&stage, &a), digest(&stage, &a.clone()));
        assert_ne!(digest(&stage, &a), digest(&stage, &b));
        assert_ne!(digest(&stage, &a), digest(&Digest::sha256_of(b"other"), &a));
        let h = ImageSpecEdit {
            clear_history: true,
            ..a.clone()
        };
        assert_ne!(digest(&stage, &a), digest(&stage, &h));
        assert_ne!(digest(&stage, &a), stage);
    }

    #[test]
    fn env_values_are_checked_before_the_build() {
        let bad = ImageSpecEdit {
            env: BTreeMap::from([("A".into(), "\"open".into())]),
            ..Default::default()
        };
        let e = check(&bad).unwrap_err();
        assert!(e.contains("imageSpec.config.env.A"), "{e}");
        let unset = ImageSpecEdit {
            env: BTreeMap::from([("A".into(), "${NOPE:?must be set}".into())]),
            ..Default::default()
        };
        check(&unset).unwrap();
        let e = apply(&mut base(), &unset).unwrap_err();
        assert!(e.contains("env.A"), "{e}");
    }
}
