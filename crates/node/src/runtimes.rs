//! What each runtime and OS trust store needs on disk, as planned [`Change`]s.

use std::path::{Path, PathBuf};

use serde::Serialize;
use toml_edit::{Array, DocumentMut, Item, Table, value};

use crate::plan::Change;
use crate::{Error, HostFs, Request};

/// Names a place on the node that decides whether a registry is trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// containerd's CRI plugin (`certs.d/<host>/hosts.toml`).
    Containerd,
    /// Docker Engine (`/etc/docker/certs.d`, `daemon.json`).
    Docker,
    /// CRI-O, podman, buildah, skopeo (`/etc/containers/certs.d`, `registries.conf.d`).
    Crio,
    /// The OS trust store.
    OsStore,
}

impl Runtime {
    /// Returns the name used in output.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::Docker => "docker",
            Runtime::Crio => "crio",
            Runtime::OsStore => "os-store",
        }
    }
}

/// What a plan for one runtime found besides file changes.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Effects {
    /// Runtimes that must restart for the change to apply, with the reason.
    pub restart: Vec<String>,
    /// Live reloads to send (e.g. SIGHUP to dockerd).
    pub reload: Vec<String>,
    /// Commands to run after writing (e.g. `update-ca-certificates`).
    pub commands: Vec<Vec<String>>,
    /// Remarks.
    pub notes: Vec<String>,
    /// The certs.d-style folder whose files decide the runtime's TLS, for `verify`.
    pub trust_dir: Option<PathBuf>,
}

const CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";
const CONTAINERD_CERTS: &str = "/etc/containerd/certs.d";

/// Writes the CA and client pair into a certs.d-style folder.
fn material(
    fs: &HostFs,
    dir: &Path,
    req: &Request,
    for_: &'static str,
    out: &mut Vec<Change>,
) -> Result<(), Error> {
    if let Some(ca) = &req.ca_pem {
        out.extend(Change::write(
            fs,
            &dir.join("ca.crt"),
            ca.clone(),
            0o644,
            for_,
        )?);
    }
    if let Some((cert, key)) = &req.client {
        out.extend(Change::write(
            fs,
            &dir.join("client.cert"),
            cert.clone(),
            0o644,
            for_,
        )?);
        out.extend(Change::write(
            fs,
            &dir.join("client.key"),
            key.clone(),
            0o600,
            for_,
        )?);
    }
    Ok(())
}

/// Plans containerd: `config_path` in config.toml (enabled if unset), and
/// `<config_path>/<host>/hosts.toml` with `ca.crt` beside it.
pub fn containerd(fs: &HostFs, req: &Request, out: &mut Vec<Change>) -> Result<Effects, Error> {
    let mut fx = Effects::default();
    let config = Path::new(CONTAINERD_CONFIG);
    // No config.toml: start from an empty version 2 file, which then gets config_path.
    let text = match fs.read(config)? {
        None => "version = 2\n".to_string(),
        Some(bytes) => String::from_utf8(bytes).map_err(|_| Error::BadConfig {
            path: config.into(),
            format: "TOML",
            why: "not UTF-8".into(),
        })?,
    };
    let mut doc: DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| Error::BadConfig {
                path: config.into(),
                format: "TOML",
                why: e.to_string(),
            })?;
    let version = doc.get("version").and_then(Item::as_integer).unwrap_or(1);
    let plugin = match version {
        1 => "cri",
        2 => "io.containerd.grpc.v1.cri",
        _ => "io.containerd.cri.v1.images",
    };
    let registry = doc
        .get("plugins")
        .and_then(|p| p.get(plugin))
        .and_then(|c| c.get("registry"));
    // containerd 1.7+ refuses config_path together with the legacy forms.
    let legacy_mirrors = registry
        .and_then(|r| r.get("mirrors"))
        .is_some_and(|m| m.as_table_like().is_some_and(|t| !t.is_empty()));
    let legacy_tls = registry
        .and_then(|r| r.get("configs"))
        .and_then(Item::as_table_like)
        .is_some_and(|t| t.iter().any(|(_, v)| v.get("tls").is_some()));
    let current = registry
        .and_then(|r| r.get("config_path"))
        .and_then(Item::as_str)
        .unwrap_or("")
        .to_string();
    // Which edit config.toml needs, if any; every edit needs a containerd restart.
    let (certs_root, edit) = if legacy_mirrors || legacy_tls {
        if !req.migrate_legacy {
            return Err(Error::Refused {
                path: config.into(),
                why: format!(
                    "has legacy `plugins.\"{plugin}\".registry.mirrors` or `configs.<host>.tls`, which containerd refuses next to `config_path`; pass --migrate-legacy to move them into certs.d/<host>/hosts.toml, or do it by hand"
                ),
            });
        }
        let migrated = migrate_legacy(fs, &mut doc, plugin, config, out)?;
        fx.notes.push(format!(
            "migrated legacy registry settings to hosts.toml for: {}",
            migrated.join(", ")
        ));
        (
            PathBuf::from(CONTAINERD_CERTS),
            Some("legacy registry settings moved to certs.d, config_path enabled"),
        )
    } else if current.is_empty() {
        registry_table(&mut doc, plugin, config)?["config_path"] = value(CONTAINERD_CERTS);
        if version == 1 {
            fx.notes.push(
                "config.toml has no `version`, so containerd reads it as version 1 (`plugins.cri`)"
                    .into(),
            );
        }
        (PathBuf::from(CONTAINERD_CERTS), Some("config_path enabled"))
    } else {
        let first = current
            .split(':')
            .next()
            .unwrap_or(CONTAINERD_CERTS)
            .to_string();
        if current.contains(':') {
            fx.notes.push(format!(
                "config_path `{current}` lists several folders; containerd 2.1-2.3's transfer service does not split it, so slipway writes to the first, {first}"
            ));
        }
        (PathBuf::from(first), None)
    };
    if let Some(why) = edit {
        out.extend(Change::write(
            fs,
            config,
            doc.to_string().into_bytes(),
            0o644,
            "containerd",
        )?);
        fx.restart.push(format!(
            "containerd: config.toml changed ({why}); containerd has no reload and SIGHUP kills it"
        ));
    }
    let dir = certs_root.join(req.registry.to_string());
    material(fs, &dir, req, "containerd", out)?;
    out.extend(Change::write(
        fs,
        &dir.join("hosts.toml"),
        hosts_toml(&dir, req).into_bytes(),
        0o644,
        "containerd",
    )?);
    fx.trust_dir = Some(certs_root);
    Ok(fx)
}

/// A legacy `configs.<host>.tls` entry: CA file, client pair, skip-verify.
type LegacyTls = (Option<String>, Option<(String, String)>, bool);

/// Moves `registry.mirrors` and `registry.configs.<host>.tls` into hosts.toml files under
/// /etc/containerd/certs.d, removes them from the document, and sets `config_path`.
/// `configs.<host>.auth` stays (containerd allows it next to `config_path`).
fn migrate_legacy(
    fs: &HostFs,
    doc: &mut DocumentMut,
    plugin: &str,
    config: &Path,
    out: &mut Vec<Change>,
) -> Result<Vec<String>, Error> {
    let reg = registry_table(doc, plugin, config)?;
    let mut tls: std::collections::BTreeMap<String, LegacyTls> = Default::default();
    if let Some(configs) = reg.get_mut("configs").and_then(Item::as_table_like_mut) {
        for (host, entry) in configs.iter_mut() {
            let Some(t) = entry.get("tls") else { continue };
            let s = |k: &str| t.get(k).and_then(Item::as_str).map(str::to_string);
            let client = s("cert_file").zip(s("key_file"));
            tls.insert(
                host.get().to_string(),
                (
                    s("ca_file"),
                    client,
                    t.get("insecure_skip_verify")
                        .and_then(Item::as_bool)
                        .unwrap_or(false),
                ),
            );
            if let Some(e) = entry.as_table_like_mut() {
                e.remove("tls");
            }
        }
        let empty: Vec<String> = configs
            .iter()
            .filter(|(_, v)| v.as_table_like().is_some_and(|t| t.is_empty()))
            .map(|(k, _)| k.to_string())
            .collect();
        for k in empty {
            configs.remove(&k);
        }
    }
    if reg
        .get("configs")
        .and_then(Item::as_table_like)
        .is_some_and(|t| t.is_empty())
    {
        reg.remove("configs");
    }
    let mut mirrors: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    if let Some(m) = reg.remove("mirrors")
        && let Some(m) = m.as_table_like()
    {
        for (host, entry) in m.iter() {
            let eps = entry
                .get("endpoint")
                .and_then(Item::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            mirrors.insert(host.to_string(), eps);
        }
    }
    reg["config_path"] = value(CONTAINERD_CERTS);
    let mut hosts: std::collections::BTreeSet<String> = mirrors.keys().cloned().collect();
    hosts.extend(tls.keys().cloned());
    for host in &hosts {
        let server = if host == "docker.io" {
            "https://registry-1.docker.io".to_string()
        } else {
            format!("https://{host}")
        };
        let mut file = DocumentMut::new();
        file["server"] = value(server.clone());
        let endpoints = mirrors
            .get(host)
            .cloned()
            .unwrap_or_else(|| vec![server.clone()]);
        let mut table = Table::new();
        table.set_implicit(true);
        for ep in endpoints {
            let ep_host = ep
                .split("://")
                .nth(1)
                .unwrap_or(&ep)
                .trim_end_matches('/')
                .to_string();
            let mut h = Table::new();
            let mut caps = Array::new();
            for c in ["pull", "resolve"] {
                caps.push(c);
            }
            if !mirrors.contains_key(host) {
                caps.push("push");
            }
            h["capabilities"] = value(caps);
            if let Some((ca, client, skip)) = tls.get(&ep_host).or(tls.get(host)) {
                if let Some(ca) = ca {
                    let mut a = Array::new();
                    a.push(ca.as_str());
                    h["ca"] = value(a);
                }
                if let Some((c, k)) = client {
                    let mut pair = Array::new();
                    pair.push(c.as_str());
                    pair.push(k.as_str());
                    let mut all = Array::new();
                    all.push(pair);
                    h["client"] = value(all);
                }
                if *skip {
                    h["skip_verify"] = value(true);
                }
            }
            table.insert(&ep, Item::Table(h));
        }
        file.insert("host", Item::Table(table));
        let path = PathBuf::from(CONTAINERD_CERTS)
            .join(host)
            .join("hosts.toml");
        let text =
            format!("# Migrated by slipway from config.toml's legacy registry settings.\n{file}");
        out.extend(Change::write(
            fs,
            &path,
            text.into_bytes(),
            0o644,
            "containerd",
        )?);
    }
    Ok(hosts.into_iter().collect())
}

/// Returns `plugins.<plugin>.registry`, creating the tables (not inline ones) if missing.
fn registry_table<'d>(
    doc: &'d mut DocumentMut,
    plugin: &str,
    config: &Path,
) -> Result<&'d mut Table, Error> {
    let plugins = doc
        .entry("plugins")
        .or_insert_with(implicit_table)
        .as_table_mut()
        .ok_or_else(|| bad(config, "`plugins` is not a table"))?;
    let cri = plugins
        .entry(plugin)
        .or_insert_with(implicit_table)
        .as_table_mut()
        .ok_or_else(|| bad(config, "the CRI plugin entry is not a table"))?;
    cri.entry("registry")
        .or_insert(toml_edit::table())
        .as_table_mut()
        .ok_or_else(|| bad(config, "`registry` is not a table"))
}

fn implicit_table() -> Item {
    let mut t = Table::new();
    t.set_implicit(true);
    Item::Table(t)
}

fn bad(path: &Path, why: &str) -> Error {
    Error::BadConfig {
        path: path.into(),
        format: "TOML",
        why: why.into(),
    }
}

/// Builds hosts.toml: a `server`, one `[host."https://..."]` table (containerd <= 1.7.31
/// rejects a file without one), capabilities only from pull/resolve/push ("referrers"
/// makes containerd < 2.2 reject the whole file), and `ca` as a list.
pub fn hosts_toml(dir: &Path, req: &Request) -> String {
    let url = format!("https://{}", req.registry);
    let mut doc = DocumentMut::new();
    doc["server"] = value(url.clone());
    let mut host = Table::new();
    let mut caps = Array::new();
    for c in ["pull", "resolve", "push"] {
        caps.push(c);
    }
    host["capabilities"] = value(caps);
    if req.ca_pem.is_some() {
        let mut ca = Array::new();
        ca.push(dir.join("ca.crt").display().to_string());
        doc["ca"] = value(ca.clone());
        host["ca"] = value(ca);
    }
    if req.client.is_some() {
        let mut pair = Array::new();
        pair.push(dir.join("client.cert").display().to_string());
        pair.push(dir.join("client.key").display().to_string());
        let mut client = Array::new();
        client.push(pair);
        host["client"] = value(client);
    }
    if req.insecure {
        doc["skip_verify"] = value(true);
        host["skip_verify"] = value(true);
    }
    let mut hosts = Table::new();
    hosts.set_implicit(true);
    hosts.insert(&url, Item::Table(host));
    doc.insert("host", Item::Table(hosts));
    format!(
        "# Written by slipway node trust install; edits are overwritten on the next install.\n{doc}"
    )
}

/// Plans Docker: `/etc/docker/certs.d/<host>/`; with `--insecure`, `insecure-registries` in
/// daemon.json (every other key kept) and a SIGHUP, which reloads that key live.
pub fn docker(fs: &HostFs, req: &Request, out: &mut Vec<Change>) -> Result<Effects, Error> {
    let mut fx = Effects::default();
    let dir = PathBuf::from("/etc/docker/certs.d").join(req.registry.to_string());
    material(fs, &dir, req, "docker", out)?;
    if req.insecure {
        let path = Path::new("/etc/docker/daemon.json");
        let mut doc: serde_json::Value = match fs.read(path)? {
            None => serde_json::json!({}),
            Some(b) => serde_json::from_slice(&b).map_err(|e| Error::BadConfig {
                path: path.into(),
                format: "JSON",
                why: e.to_string(),
            })?,
        };
        let obj = doc.as_object_mut().ok_or_else(|| Error::BadConfig {
            path: path.into(),
            format: "JSON",
            why: "the top level is not an object".into(),
        })?;
        let list = obj
            .entry("insecure-registries")
            .or_insert_with(|| serde_json::json!([]));
        let arr = list.as_array_mut().ok_or_else(|| Error::BadConfig {
            path: path.into(),
            format: "JSON",
            why: "`insecure-registries` is not a list".into(),
        })?;
        let host = serde_json::Value::from(req.registry.to_string());
        if !arr.contains(&host) {
            arr.push(host);
        }
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        text.push('\n');
        if let Some(c) = Change::write(fs, path, text.into_bytes(), 0o644, "docker")? {
            out.push(c);
            fx.reload.push("docker: SIGHUP dockerd (`systemctl reload docker`) to apply insecure-registries live; no restart".into());
        }
        fx.notes
            .push("Docker does not read certs.d for a registry it treats as insecure".into());
    }
    fx.trust_dir = Some(PathBuf::from("/etc/docker/certs.d"));
    Ok(fx)
}

/// Plans CRI-O/podman: `/etc/containers/certs.d/<host>/`; with `--insecure`, a
/// `registries.conf.d` drop-in (CRI-O reloads it on SIGHUP).
pub fn crio(fs: &HostFs, req: &Request, out: &mut Vec<Change>) -> Result<Effects, Error> {
    let mut fx = Effects::default();
    let dir = PathBuf::from("/etc/containers/certs.d").join(req.registry.to_string());
    material(fs, &dir, req, "crio", out)?;
    if fs.exists(&PathBuf::from("/etc/docker/certs.d").join(req.registry.to_string())) {
        fx.notes.push(format!("/etc/containers/certs.d/{0} now hides /etc/docker/certs.d/{0} from CRI-O and podman (only the first folder found is used)", req.registry));
    }
    if req.insecure {
        let name = format!(
            "/etc/containers/registries.conf.d/50-slipway-{}.conf",
            req.registry.to_string().replace([':', '[', ']'], "_")
        );
        let text = format!(
            "# Written by slipway node trust install --insecure.\n[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
            req.registry
        );
        if let Some(c) = Change::write(fs, Path::new(&name), text.into_bytes(), 0o644, "crio")? {
            out.push(c);
            fx.reload.push(
                "crio: SIGHUP crio (`systemctl reload crio`) to reload registries.conf.d".into(),
            );
        }
    }
    fx.trust_dir = Some(PathBuf::from("/etc/containers/certs.d"));
    Ok(fx)
}

/// Describes where a distro family keeps added CAs and how it rebuilds its bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OsStore {
    /// The family, e.g. `debian`.
    pub family: &'static str,
    /// The anchors folder.
    pub dir: &'static str,
    /// The refresh command.
    pub refresh: &'static [&'static str],
}

/// Detects the distro family from os-release `ID`, then `ID_LIKE` in order.
///
/// # Errors
/// No os-release, or a family slipway does not know.
pub fn detect_os(fs: &HostFs) -> Result<OsStore, Error> {
    let text = fs.read(Path::new("/etc/os-release"))?.or(fs.read(Path::new("/usr/lib/os-release"))?).ok_or_else(|| Error::Request("no /etc/os-release or /usr/lib/os-release under the host root: cannot tell the distro's trust store".into()))?;
    let text = String::from_utf8_lossy(&text);
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| {
                v.trim()
                    .trim_matches('"')
                    .trim_matches('\'')
                    .to_ascii_lowercase()
            })
    };
    let mut ids: Vec<String> = field("ID").into_iter().collect();
    ids.extend(
        field("ID_LIKE")
            .map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    for id in &ids {
        let store = match id.as_str() {
            "debian" | "ubuntu" | "alpine" => OsStore {
                family: "debian",
                dir: "/usr/local/share/ca-certificates",
                refresh: &["update-ca-certificates"],
            },
            "rhel" | "fedora" | "centos" | "rocky" | "almalinux" | "amzn" | "ol" => OsStore {
                family: "rhel",
                dir: "/etc/pki/ca-trust/source/anchors",
                refresh: &["update-ca-trust", "extract"],
            },
            "suse" | "sles" | "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" => OsStore {
                family: "suse",
                dir: "/etc/pki/trust/anchors",
                refresh: &["update-ca-certificates"],
            },
            "arch" => OsStore {
                family: "arch",
                dir: "/etc/ca-certificates/trust-source/anchors",
                refresh: &["update-ca-trust"],
            },
            _ => continue,
        };
        return Ok(store);
    }
    Err(Error::Request(format!(
        "unknown distro (os-release ID/ID_LIKE: {}); no OS trust store change made",
        ids.join(" ")
    )))
}

/// Plans the OS trust store: one PEM file per certificate (Debian's update-ca-certificates
/// wants exactly that), then the family's refresh command. Go runtimes cache system roots,
/// so the runtimes must restart.
pub fn os_store(fs: &HostFs, req: &Request, out: &mut Vec<Change>) -> Result<Effects, Error> {
    let mut fx = Effects::default();
    let store = detect_os(fs)?;
    let Some(ca) = &req.ca_pem else {
        return Err(Error::Request("--system-store needs --ca".into()));
    };
    let certs = slipway_trust::parse_certificates(ca, Path::new("--ca"), "CA")?;
    let base = format!(
        "slipway-{}",
        req.registry.to_string().replace([':', '[', ']'], "_")
    );
    let before = out.len();
    for (i, der) in certs.iter().enumerate() {
        let name = if certs.len() == 1 {
            format!("{base}.crt")
        } else {
            format!("{base}-{i}.crt")
        };
        out.extend(Change::write(
            fs,
            &Path::new(store.dir).join(name),
            slipway_trust::certificate_pem(der).into_bytes(),
            0o644,
            "os-store",
        )?);
    }
    if out.len() > before {
        fx.commands
            .push(store.refresh.iter().map(|s| s.to_string()).collect());
        fx.restart.push(format!("containerd/dockerd/crio: Go loads the system roots once per process, so the {} trust store change applies after a runtime restart", store.family));
    }
    fx.notes
        .push(format!("OS trust store: {} ({})", store.family, store.dir));
    Ok(fx)
}
