//! Tests of the parent module.

use std::os::unix::fs::PermissionsExt;

use super::*;

/// A docker credential helper keeping one file per server URL beside itself, logging
/// each call (action and server, never the secret) to `calls.log`.
const FAKE_HELPER: &str = r#"#!/bin/sh
dir=$(dirname "$0")
input=$(cat)
case "$1" in
get|erase) server=$input ;;
store) server=$(printf '%s' "$input" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p') ;;
*) echo "unknown action $1" >&2; exit 2 ;;
esac
echo "$1 $server" >> "$dir/calls.log"
file="$dir/creds/$(printf '%s' "$server" | tr -c 'A-Za-z0-9.-' '_')"
case "$1" in
get) if [ -f "$file" ]; then cat "$file"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store) mkdir -p "$dir/creds" && printf '%s' "$input" > "$file" ;;
erase) if [ -f "$file" ]; then rm "$file"; else echo "credentials not found in native keychain"; exit 1; fi ;;
esac
"#;

/// A helper that fails, echoing what it was given on both outputs.
const ECHO_HELPER: &str = "#!/bin/sh\ninput=$(cat)\necho \"bad input: $input\"\necho \"stderr: $input\" >&2\necho \"keyring is locked\" >&2\nexit 3\n";

struct Fixture {
    dir: tempfile::TempDir,
    store: CredentialStore,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).unwrap();
        for (name, text) in [("fake", FAKE_HELPER), ("echo", ECHO_HELPER)] {
            let path = bin.join(format!("docker-credential-{name}"));
            fs::write(&path, text).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let store = CredentialStore {
            docker_config: Some(dir.path().join("docker/config.json")),
            podman_auth: vec![
                dir.path().join("run/containers/auth.json"),
                dir.path().join("config/containers/auth.json"),
            ],
            helper_dir: Some(bin),
            processes: slipway_proc::Shared::default(),
        };
        Fixture { dir, store }
    }

    fn config_path(&self) -> PathBuf {
        self.store.docker_config.clone().unwrap()
    }

    fn docker(&self, json: &str) {
        write(&self.config_path(), json);
    }

    fn config_text(&self) -> String {
        fs::read_to_string(self.config_path()).unwrap()
    }

    fn config(&self) -> serde_json::Value {
        serde_json::from_str(&self.config_text()).unwrap()
    }

    /// Puts a credential in the fake helper's store, as its `store` would.
    fn helper_has(&self, server: &str, user: &str, secret: &str) {
        let name: String = server
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let json = serde_json::json!({"ServerURL": server, "Username": user, "Secret": secret});
        write(
            &self.dir.path().join("bin/creds").join(name),
            &json.to_string(),
        );
    }

    fn calls(&self) -> String {
        fs::read_to_string(self.dir.path().join("bin/calls.log")).unwrap_or_default()
    }

    fn get(&self, host: &str) -> Option<(Credential, CredentialSource)> {
        self.store.get(host).unwrap()
    }
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn basic(user: &str, password: &str) -> Credential {
    Credential::Basic {
        username: user.into(),
        password: password.into(),
    }
}

fn b64(text: &str) -> String {
    STANDARD.encode(text)
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn reads_base64_auth_from_the_docker_config() {
    let f = Fixture::new();
    f.docker(&format!(
        r#"{{"auths":{{"r.test:5000":{{"auth":"{}"}}}}}}"#,
        b64("alice:s3cr:et")
    ));
    let (cred, source) = f.get("r.test:5000").unwrap();
    assert_eq!(cred, basic("alice", "s3cr:et"));
    assert_eq!(source, CredentialSource::DockerConfig(f.config_path()));
}

#[test]
fn reads_username_and_password_fields() {
    let f = Fixture::new();
    f.docker(r#"{"auths":{"r.test":{"username":"bob","password":"pw"}}}"#);
    assert_eq!(f.get("r.test").unwrap().0, basic("bob", "pw"));
}

#[test]
fn reads_an_identity_token_in_preference_to_its_token_user() {
    let f = Fixture::new();
    f.docker(&format!(
        r#"{{"auths":{{"r.test":{{"auth":"{}","identitytoken":"refresh-1"}}}}}}"#,
        b64("<token>:")
    ));
    assert_eq!(
        f.get("r.test").unwrap().0,
        Credential::IdentityToken("refresh-1".into())
    );
}

#[test]
fn matches_url_keys_by_their_host_and_port() {
    let f = Fixture::new();
    f.docker(&format!(
        r#"{{"auths":{{"https://r.test:5000/v2/":{{"auth":"{}"}},"http://plain.test":{{"auth":"{}"}}}}}}"#,
        b64("a:1"),
        b64("b:2")
    ));
    assert_eq!(f.get("r.test:5000").unwrap().0, basic("a", "1"));
    assert_eq!(f.get("R.Test:5000").unwrap().0, basic("a", "1"));
    assert_eq!(f.get("plain.test").unwrap().0, basic("b", "2"));
    assert!(f.get("r.test").is_none(), "the port is part of the host");
    assert!(f.get("r.test:5001").is_none());
}

#[test]
fn maps_every_docker_hub_name_to_the_index_key() {
    let f = Fixture::new();
    f.docker(&format!(
        r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}}}}}}"#,
        b64("hub:pw")
    ));
    for host in ["docker.io", "registry-1.docker.io", "index.docker.io"] {
        assert_eq!(f.get(host).unwrap().0, basic("hub", "pw"), "{host}");
    }
}

#[test]
fn prefers_the_exact_key_over_a_normalised_one() {
    let f = Fixture::new();
    f.docker(&format!(
        r#"{{"auths":{{"https://r.test":{{"auth":"{}"}},"r.test":{{"auth":"{}"}}}}}}"#,
        b64("old:1"),
        b64("new:2")
    ));
    assert_eq!(f.get("r.test").unwrap().0, basic("new", "2"));
}

#[test]
fn skips_the_empty_entries_docker_writes_for_helpers() {
    let f = Fixture::new();
    f.docker(&format!(
        r#"{{"auths":{{"r.test":{{}},"https://r.test/":{{"auth":"{}"}}}}}}"#,
        b64("u:p")
    ));
    assert_eq!(f.get("r.test").unwrap().0, basic("u", "p"));
}

#[test]
fn cred_helpers_take_precedence_over_auths_and_creds_store() {
    let f = Fixture::new();
    f.docker(&format!(
        r#"{{"auths":{{"r.test":{{"auth":"{}"}}}},"credHelpers":{{"r.test":"fake"}},"credsStore":"missing"}}"#,
        b64("file:pw")
    ));
    f.helper_has("r.test", "helper-user", "helper-pw");
    let (cred, source) = f.get("r.test").unwrap();
    assert_eq!(cred, basic("helper-user", "helper-pw"));
    assert_eq!(source, CredentialSource::CredHelper("fake".into()));
    assert_eq!(f.calls(), "get r.test\n");
}

#[test]
fn creds_store_serves_hosts_no_cred_helper_names() {
    let f = Fixture::new();
    f.docker(r#"{"credHelpers":{"other.test":"missing"},"credsStore":"fake"}"#);
    f.helper_has("r.test:5000", "u", "p");
    let (cred, source) = f.get("r.test:5000").unwrap();
    assert_eq!(cred, basic("u", "p"));
    assert_eq!(source, CredentialSource::CredsStore("fake".into()));
}

#[test]
fn a_helper_token_user_means_an_identity_token() {
    let f = Fixture::new();
    f.docker(r#"{"credsStore":"fake"}"#);
    f.helper_has(HUB_KEY, "<token>", "refresh-2");
    let (cred, _) = f.get("docker.io").unwrap();
    assert_eq!(cred, Credential::IdentityToken("refresh-2".into()));
    assert_eq!(f.calls(), format!("get {HUB_KEY}\n"));
}

#[test]
fn credentials_not_found_from_a_helper_falls_back_to_auths_then_podman() {
    let f = Fixture::new();
    f.docker(&format!(
        r#"{{"credsStore":"fake","auths":{{"r.test":{{"auth":"{}"}}}}}}"#,
        b64("file:pw")
    ));
    let (cred, source) = f.get("r.test").unwrap();
    assert_eq!(cred, basic("file", "pw"));
    assert_eq!(source, CredentialSource::DockerConfig(f.config_path()));
    assert!(f.get("nothing.test").is_none());
    assert_eq!(f.calls(), "get r.test\nget nothing.test\n");
}

#[test]
fn a_missing_helper_is_an_error_naming_it_and_its_setting() {
    let f = Fixture::new();
    f.docker(r#"{"credsStore":"desktop"}"#);
    let err = f.store.get("r.test").unwrap_err().to_string();
    assert!(err.contains("docker-credential-desktop"), "{err}");
    assert!(err.contains("credsStore in"), "{err}");
    assert!(err.contains("config.json"), "{err}");
}

#[test]
fn a_helper_name_that_is_a_path_is_refused() {
    let f = Fixture::new();
    f.docker(r#"{"credHelpers":{"r.test":"../../bin/sh"}}"#);
    let err = f.store.get("r.test").unwrap_err().to_string();
    assert!(err.contains("credHelpers[\"r.test\"]"), "{err}");
}

#[test]
fn a_failing_helper_get_is_an_error_with_its_message() {
    let f = Fixture::new();
    f.docker(r#"{"credsStore":"echo"}"#);
    let err = f.store.get("r.test").unwrap_err();
    assert!(matches!(err, Error::HelperFailed { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("docker-credential-echo get"), "{text}");
    assert!(text.contains("bad input: r.test"), "{text}");
}

#[test]
fn a_helper_answer_that_is_not_json_is_an_error_without_its_text() {
    let f = Fixture::new();
    f.docker(r#"{"credsStore":"fake"}"#);
    write(
        &f.dir.path().join("bin/creds/r.test"),
        r#"{"Username":"u","Secret":"hunter2""#,
    );
    let text = f.store.get("r.test").unwrap_err().to_string();
    assert!(text.contains("docker-credential-fake"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn podman_auth_is_used_when_docker_has_nothing() {
    let f = Fixture::new();
    f.docker(&format!(
        r#"{{"auths":{{"other.test":{{"auth":"{}"}}}}}}"#,
        b64("d:1")
    ));
    let podman = f.store.podman_auth[1].clone();
    write(
        &podman,
        &format!(
            r#"{{"auths":{{"r.test/team":{{"auth":"{}"}},"r.test":{{"auth":"{}"}},"docker.io":{{"auth":"{}"}}}}}}"#,
            b64("scoped:1"),
            b64("p:2"),
            b64("hub:3")
        ),
    );
    let (cred, source) = f.get("r.test").unwrap();
    assert_eq!(cred, basic("p", "2"));
    assert_eq!(source, CredentialSource::PodmanAuth(podman));
    assert_eq!(f.get("registry-1.docker.io").unwrap().0, basic("hub", "3"));
}

#[test]
fn a_podman_namespace_key_does_not_match_the_bare_host() {
    let f = Fixture::new();
    write(
        &f.store.podman_auth[0],
        &format!(
            r#"{{"auths":{{"r.test/team":{{"auth":"{}"}}}}}}"#,
            b64("scoped:1")
        ),
    );
    assert!(f.get("r.test").is_none());
}

#[test]
fn missing_files_mean_no_credential() {
    let f = Fixture::new();
    assert!(f.get("r.test").is_none());
    assert!(CredentialStore::default().get("r.test").unwrap().is_none());
}

#[test]
fn an_empty_config_file_is_an_empty_config() {
    let f = Fixture::new();
    f.docker("\n");
    assert!(f.get("r.test").is_none());
}

#[test]
fn invalid_json_is_an_error_naming_the_file() {
    let f = Fixture::new();
    f.docker(r#"{"auths": {"r.test": {"auth": "c2VjcmV0"}"#);
    let err = f.store.get("r.test").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&f.config_path().display().to_string()),
        "{text}"
    );
    assert!(text.starts_with("docker config"), "{text}");
    assert!(!text.contains("c2VjcmV0"), "{text}");

    let f = Fixture::new();
    write(&f.store.podman_auth[0], "not json");
    let text = f.store.get("r.test").unwrap_err().to_string();
    assert!(
        text.contains(&f.store.podman_auth[0].display().to_string()),
        "{text}"
    );
    assert!(text.starts_with("podman auth file"), "{text}");
}

#[test]
fn a_malformed_auth_field_is_an_error_naming_the_entry_not_its_content() {
    let f = Fixture::new();
    f.docker(&format!(
        r#"{{"auths":{{"r.test":{{"auth":"{}"}}}}}}"#,
        b64("no-colon-secret")
    ));
    let text = f.store.get("r.test").unwrap_err().to_string();
    assert!(text.contains("auths[\"r.test\"].auth"), "{text}");
    assert!(!text.contains("no-colon-secret"), "{text}");
    assert!(!text.contains(&b64("no-colon-secret")), "{text}");
}

#[test]
fn an_empty_host_is_refused() {
    let f = Fixture::new();
    assert!(matches!(f.store.get(" "), Err(Error::InvalidHost { .. })));
}

#[test]
fn store_keeps_every_other_key_in_place_and_writes_mode_0600() {
    let f = Fixture::new();
    f.docker(
        r#"{
  "proxies": {"default": {"httpProxy": "http://proxy:3128"}},
  "auths": {"zeta.test": {"auth": "eg=="}, "alpha.test": {}, "r.test": {"auth": "b2xkOm9sZA==", "identitytoken": "old"}},
  "HttpHeaders": {"User-Agent": "x"},
  "detachKeys": "ctrl-e,e",
  "experimental": 1.5
}"#,
    );
    fs::set_permissions(f.config_path(), fs::Permissions::from_mode(0o644)).unwrap();
    let source = f.store.store("r.test", &basic("alice", "pw")).unwrap();
    assert_eq!(source, CredentialSource::DockerConfig(f.config_path()));

    let text = f.config_text();
    let order = [
        "proxies",
        "auths",
        "zeta.test",
        "alpha.test",
        "r.test",
        "HttpHeaders",
        "detachKeys",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|k| text.find(&format!("\"{k}\"")).unwrap())
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "key order changed:\n{text}"
    );
    let v = f.config();
    assert_eq!(v["proxies"]["default"]["httpProxy"], "http://proxy:3128");
    assert_eq!(v["auths"]["zeta.test"]["auth"], "eg==");
    assert_eq!(v["auths"]["alpha.test"], serde_json::json!({}));
    assert_eq!(
        v["auths"]["r.test"],
        serde_json::json!({"auth": b64("alice:pw")})
    );
    assert_eq!(v["HttpHeaders"]["User-Agent"], "x");
    assert_eq!(v["detachKeys"], "ctrl-e,e");
    assert_eq!(v["experimental"], 1.5);

    assert_eq!(mode(&f.config_path()), 0o600);
    let names: Vec<_> = fs::read_dir(f.config_path().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["config.json"], "a temporary file was left behind");
    assert_eq!(f.get("r.test").unwrap().0, basic("alice", "pw"));
}

#[test]
fn store_creates_the_config_and_its_folder_privately() {
    let f = Fixture::new();
    f.store.store("r.test:5000", &basic("u", "p")).unwrap();
    assert_eq!(mode(f.config_path().parent().unwrap()), 0o700);
    assert_eq!(mode(&f.config_path()), 0o600);
    assert_eq!(
        f.config(),
        serde_json::json!({"auths": {"r.test:5000": {"auth": b64("u:p")}}})
    );
}

#[test]
fn store_writes_docker_hub_under_the_index_key() {
    let f = Fixture::new();
    f.store
        .store("registry-1.docker.io", &basic("u", "p"))
        .unwrap();
    assert_eq!(f.config()["auths"][HUB_KEY]["auth"], b64("u:p"));
    assert_eq!(f.get("docker.io").unwrap().0, basic("u", "p"));
}

#[test]
fn store_writes_an_identity_token_that_reads_back() {
    let f = Fixture::new();
    let token = Credential::IdentityToken("refresh-3".into());
    f.store.store("r.test", &token).unwrap();
    assert_eq!(f.config()["auths"]["r.test"]["identitytoken"], "refresh-3");
    assert_eq!(f.get("r.test").unwrap().0, token);
}

#[test]
fn store_refuses_an_empty_user_name_or_one_with_a_colon() {
    let f = Fixture::new();
    for user in ["a:b", ""] {
        let err = f
            .store
            .store("r.test", &basic(user, "secret-pw"))
            .unwrap_err();
        assert!(matches!(err, Error::Unstorable { .. }), "{err}");
        assert!(!err.to_string().contains("secret-pw"));
    }
    assert!(!f.config_path().exists());
}

#[test]
fn store_leaves_an_invalid_config_untouched() {
    let f = Fixture::new();
    f.docker("{broken");
    assert!(matches!(
        f.store.store("r.test", &basic("u", "p")),
        Err(Error::Invalid { .. })
    ));
    assert_eq!(f.config_text(), "{broken");
}

#[test]
fn store_writes_through_a_symlinked_config() {
    let f = Fixture::new();
    let real = f.dir.path().join("dotfiles/docker.json");
    write(&real, r#"{"auths":{}}"#);
    fs::create_dir_all(f.config_path().parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, f.config_path()).unwrap();
    f.store.store("r.test", &basic("u", "p")).unwrap();
    assert!(
        fs::symlink_metadata(f.config_path())
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(fs::read_to_string(&real).unwrap().contains(&b64("u:p")));
}

#[test]
fn store_uses_the_configured_helper_and_leaves_the_config_alone() {
    let f = Fixture::new();
    let config = r#"{"credsStore":"fake","auths":{}}"#;
    f.docker(config);
    let source = f.store.store("r.test", &basic("u", "p")).unwrap();
    assert_eq!(source, CredentialSource::CredsStore("fake".into()));
    assert_eq!(f.config_text(), config);
    assert_eq!(f.calls(), "store r.test\n");
    assert_eq!(f.get("r.test"), Some((basic("u", "p"), source)));

    let f = Fixture::new();
    f.docker(r#"{"credHelpers":{"r.test":"fake"}}"#);
    let token = Credential::IdentityToken("refresh-4".into());
    let source = f.store.store("r.test", &token).unwrap();
    assert_eq!(source, CredentialSource::CredHelper("fake".into()));
    assert_eq!(f.get("r.test").unwrap().0, token);
}

#[test]
fn a_failing_helper_store_never_shows_the_secret() {
    let f = Fixture::new();
    f.docker(r#"{"credsStore":"echo"}"#);
    let secret = "pa\"ss\\wo rd";
    let err = f.store.store("r.test", &basic("u", secret)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("docker-credential-echo store"), "{text}");
    assert!(text.contains("keyring is locked"), "{text}");
    assert!(text.contains("2 line(s) left out"), "{text}");
    for part in ["pa\"ss", "wo rd", "Secret", &b64(secret)] {
        assert!(!text.contains(part), "{text}");
    }
}

#[test]
fn erase_removes_every_matching_entry_and_reports_whether_one_existed() {
    let f = Fixture::new();
    f.docker(&format!(
        r#"{{"auths":{{"r.test":{{"auth":"{}"}},"https://r.test/v2/":{{}},"keep.test":{{"auth":"{}"}}}},"x":1}}"#,
        b64("u:p"),
        b64("k:p")
    ));
    assert!(f.store.erase("r.test").unwrap());
    let v = f.config();
    assert_eq!(
        v["auths"],
        serde_json::json!({"keep.test": {"auth": b64("k:p")}})
    );
    assert_eq!(v["x"], 1);
    assert_eq!(mode(&f.config_path()), 0o600);
    assert!(f.get("r.test").is_none());
    assert!(!f.store.erase("r.test").unwrap());
    assert!(!Fixture::new().store.erase("r.test").unwrap());
}

#[test]
fn erase_goes_through_the_helper_and_clears_auths_too() {
    let f = Fixture::new();
    f.docker(r#"{"credsStore":"fake","auths":{"r.test":{}}}"#);
    f.helper_has("r.test", "u", "p");
    assert!(f.store.erase("r.test").unwrap());
    assert_eq!(f.config()["auths"], serde_json::json!({}));
    assert!(f.get("r.test").is_none());
    assert!(!f.store.erase("r.test").unwrap());
    assert_eq!(f.calls(), "erase r.test\nget r.test\nerase r.test\n");
}

#[test]
fn debug_and_display_of_a_credential_hide_the_secret() {
    let cred = basic("alice", "hunter2");
    for text in [format!("{cred:?}"), format!("{cred:#?}"), cred.to_string()] {
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("alice"), "{text}");
    }
    let token = Credential::IdentityToken("refresh-5".into());
    for text in [format!("{token:?}"), token.to_string()] {
        assert!(!text.contains("refresh-5"), "{text}");
    }
}

#[test]
fn from_env_follows_docker_and_podman_locations() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| std::ffi::OsString::from(v))
        }
    };
    let s = CredentialStore::from_vars(vars(&[("HOME", "/h"), ("DOCKER_CONFIG", "")]));
    assert_eq!(
        s.docker_config.as_deref(),
        Some(Path::new("/h/.docker/config.json"))
    );
    assert_eq!(
        s.podman_auth,
        [PathBuf::from("/h/.config/containers/auth.json")]
    );
    assert_eq!(s.helper_dir, None);

    let s = CredentialStore::from_vars(vars(&[
        ("HOME", "/h"),
        ("DOCKER_CONFIG", "/d"),
        ("REGISTRY_AUTH_FILE", "/a.json"),
        ("XDG_RUNTIME_DIR", "/run/user/1"),
    ]));
    assert_eq!(
        s.docker_config.as_deref(),
        Some(Path::new("/d/config.json"))
    );
    assert_eq!(
        s.podman_auth,
        [
            PathBuf::from("/a.json"),
            PathBuf::from("/run/user/1/containers/auth.json"),
            PathBuf::from("/h/.config/containers/auth.json"),
        ]
    );

    let s = CredentialStore::from_vars(vars(&[]));
    assert!(s.docker_config.is_none() && s.podman_auth.is_empty());
}

#[test]
fn a_credential_source_displays_without_secrets() {
    assert_eq!(
        CredentialSource::CredsStore("pass".into()).to_string(),
        "credential helper docker-credential-pass (credsStore)"
    );
    assert_eq!(
        CredentialSource::DockerConfig("/h/.docker/config.json".into()).to_string(),
        "docker config /h/.docker/config.json"
    );
}

#[test]
fn a_helper_is_run_through_the_process_seam_with_the_server_on_stdin() {
    use slipway_proc::{Finished, Recorder, Shared};
    let f = Fixture::new();
    std::fs::create_dir_all(f.config_path().parent().unwrap()).unwrap();
    std::fs::write(
        f.config_path(),
        r#"{"credHelpers": {"r.test:5000": "vault"}}"#,
    )
    .unwrap();
    let rec = std::sync::Arc::new(Recorder::new(|inv| {
        Ok(if inv.args == ["get"] {
            Finished::exited(
                0,
                r#"{"ServerURL":"r.test:5000","Username":"u","Secret":"s3cret"}"#,
            )
        } else {
            Finished::exited(1, "")
        })
    }));
    let store = CredentialStore {
        processes: Shared(rec.clone()),
        ..f.store.clone()
    };
    let (cred, _) = store
        .get("r.test:5000")
        .unwrap()
        .expect("the helper's credential");
    assert_eq!(cred, basic("u", "s3cret"));
    let calls = rec.calls();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0]
            .program
            .to_string_lossy()
            .ends_with("/docker-credential-vault"),
        "{:?}",
        calls[0].program
    );
    assert_eq!(calls[0].stdin.as_deref(), Some(&b"r.test:5000"[..]));
}
