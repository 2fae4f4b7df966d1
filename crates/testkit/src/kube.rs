//! A loopback stand-in for a Kubernetes API server, for the faults a real single-node
//! cluster ([`crate::Cluster`]) cannot show cheaply: several nodes, pods of an older
//! bundle, CRI-O's and dockershim's wordings.
//!
//! [`FakeKube`] answers the few requests
//! kube-rs sends (get, list, server-side apply, delete) from objects held in memory. The test
//! scripts the cluster: it puts nodes, pods and events into the store, sets statuses, and
//! registers hooks that run on every request ("after three polls, mark the DaemonSet
//! ready"). It speaks plain HTTP/1.1 on 127.0.0.1 and records every request in order.
//!
//! It is not an API server: no validation, no watches, no admission, and server-side
//! apply is a merge of the applied top-level fields, not field ownership.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// One request the fake received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeRequest {
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, percent-decoded pairs in order.
    pub query: Vec<(String, String)>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `kind` of the body, for requests that carry an object.
    pub body_kind: Option<String>,
}

impl KubeRequest {
    /// Returns the value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The objects the fake holds, keyed by kind, namespace ("" when cluster-scoped) and name.
#[derive(Debug, Default)]
pub struct KubeStore {
    objects: BTreeMap<(String, String, String), Value>,
    version: u64,
    /// The requests received so far, oldest first.
    pub requests: Vec<KubeRequest>,
}

fn meta_str<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj["metadata"][key].as_str().unwrap_or("")
}

fn now_rfc3339() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl KubeStore {
    fn next_version(&mut self) -> String {
        self.version += 1;
        self.version.to_string()
    }

    /// Stores `obj` as it is (replacing any object with the same kind, namespace and name),
    /// filling in uid, resourceVersion and creationTimestamp when missing.
    ///
    /// # Panics
    /// If `obj` has no `kind` or no `metadata.name`.
    pub fn put(&mut self, mut obj: Value) {
        let kind = obj["kind"].as_str().expect("object has a kind").to_string();
        let name = meta_str(&obj, "name").to_string();
        assert!(!name.is_empty(), "object has a metadata.name");
        let ns = meta_str(&obj, "namespace").to_string();
        let rv = self.next_version();
        let meta = obj["metadata"]
            .as_object_mut()
            .expect("metadata is an object");
        meta.entry("uid")
            .or_insert_with(|| json!(format!("00000000-0000-4000-8000-{rv:0>12}")));
        meta.insert("resourceVersion".into(), json!(rv));
        meta.entry("creationTimestamp")
            .or_insert_with(|| json!(now_rfc3339()));
        self.objects.insert((kind, ns, name), obj);
    }

    /// Returns a copy of one object.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.objects
            .get(&(kind.to_string(), namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Returns every object of `kind` (in every namespace), by namespace then name.
    pub fn all(&self, kind: &str) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((k, _, _), _)| k == kind)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Replaces the `status` of one object.
    ///
    /// # Panics
    /// If the object is not in the store.
    pub fn set_status(&mut self, kind: &str, namespace: &str, name: &str, status: Value) {
        let rv = self.next_version();
        let key = (kind.to_string(), namespace.to_string(), name.to_string());
        let obj = self
            .objects
            .get_mut(&key)
            .unwrap_or_else(|| panic!("no {kind} {namespace}/{name} in the fake"));
        obj["status"] = status;
        obj["metadata"]["resourceVersion"] = json!(rv);
    }

    /// Removes one object; returns whether it was there.
    pub fn delete(&mut self, kind: &str, namespace: &str, name: &str) -> bool {
        self.objects
            .remove(&(kind.to_string(), namespace.to_string(), name.to_string()))
            .is_some()
    }

    /// Server-side apply: creates the object or merges the applied fields into it.
    /// Returns the stored object and whether it was created.
    fn apply(&mut self, mut obj: Value, manager: &str) -> (Value, bool) {
        let kind = obj["kind"].as_str().unwrap_or("").to_string();
        let ns = meta_str(&obj, "namespace").to_string();
        let name = meta_str(&obj, "name").to_string();
        let key = (kind, ns, name);
        let managed = json!([{ "manager": manager, "operation": "Apply", "apiVersion": obj["apiVersion"], "fieldsType": "FieldsV1" }]);
        let created = !self.objects.contains_key(&key);
        let stored = if let Some(old) = self.objects.get(&key) {
            let mut merged = old.clone();
            let spec_changed = old.get("spec") != obj.get("spec") && obj.get("spec").is_some();
            let fields = obj.as_object().cloned().unwrap_or_default();
            for (k, v) in fields {
                match k.as_str() {
                    "status" => {}
                    "metadata" => {
                        for sub in ["labels", "annotations"] {
                            if let Some(m) = v.get(sub).and_then(Value::as_object) {
                                let target = &mut merged["metadata"][sub];
                                if !target.is_object() {
                                    *target = json!({});
                                }
                                for (mk, mv) in m {
                                    target[mk] = mv.clone();
                                }
                            }
                        }
                    }
                    _ => merged[k] = v,
                }
            }
            if spec_changed {
                let g = merged["metadata"]["generation"].as_i64().unwrap_or(1);
                merged["metadata"]["generation"] = json!(g + 1);
            }
            merged["metadata"]["managedFields"] = managed;
            merged
        } else {
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
            obj["metadata"]["generation"] = json!(1);
            obj["metadata"]["managedFields"] = managed;
            if key.0 == "CustomResourceDefinition" {
                // The API server establishes a CRD's names at once; so does the fake.
                obj["status"] =
                    json!({ "conditions": [ { "type": "Established", "status": "True" } ] });
            }
            obj
        };
        self.put(stored);
        (
            self.get(&key.0, &key.1, &key.2).expect("just stored"),
            created,
        )
    }
}

/// A hook run on every request, before it is answered, with the store locked.
pub type KubeHook = Box<dyn FnMut(&mut KubeStore, &KubeRequest) + Send>;

struct Shared {
    store: Mutex<KubeStore>,
    hooks: Mutex<Vec<KubeHook>>,
}

/// A loopback fake of the Kubernetes API; see the module documentation.
pub struct FakeKube {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

/// The resources the fake serves: plural (in request paths), kind, apiVersion, namespaced.
/// Discovery (`GET /api/v1`, `/apis/GROUP/VERSION`) answers from this table and from the
/// CustomResourceDefinitions in the store.
const RESOURCES: &[(&str, &str, &str, bool)] = &[
    ("namespaces", "Namespace", "v1", false),
    ("nodes", "Node", "v1", false),
    ("pods", "Pod", "v1", true),
    ("events", "Event", "v1", true),
    ("configmaps", "ConfigMap", "v1", true),
    ("secrets", "Secret", "v1", true),
    ("serviceaccounts", "ServiceAccount", "v1", true),
    ("services", "Service", "v1", true),
    (
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        "v1",
        true,
    ),
    ("daemonsets", "DaemonSet", "apps/v1", true),
    ("deployments", "Deployment", "apps/v1", true),
    ("statefulsets", "StatefulSet", "apps/v1", true),
    ("replicasets", "ReplicaSet", "apps/v1", true),
    ("jobs", "Job", "batch/v1", true),
    ("cronjobs", "CronJob", "batch/v1", true),
    ("roles", "Role", "rbac.authorization.k8s.io/v1", true),
    (
        "rolebindings",
        "RoleBinding",
        "rbac.authorization.k8s.io/v1",
        true,
    ),
    (
        "clusterroles",
        "ClusterRole",
        "rbac.authorization.k8s.io/v1",
        false,
    ),
    (
        "clusterrolebindings",
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io/v1",
        false,
    ),
    (
        "customresourcedefinitions",
        "CustomResourceDefinition",
        "apiextensions.k8s.io/v1",
        false,
    ),
    ("ingresses", "Ingress", "networking.k8s.io/v1", true),
    (
        "networkpolicies",
        "NetworkPolicy",
        "networking.k8s.io/v1",
        true,
    ),
];

/// Answers a discovery request for `api_version` (an `APIResourceList`), or `None` when the
/// fake serves nothing in it.
fn discovery(store: &KubeStore, api_version: &str) -> Option<Value> {
    let mut resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.2 == api_version)
        .map(|(plural, kind, _, namespaced)| {
            json!({ "name": plural, "singularName": "", "namespaced": namespaced, "kind": kind,
                    "verbs": ["create", "delete", "get", "list", "patch", "update"] })
        })
        .collect();
    for crd in store.all("CustomResourceDefinition") {
        let s = &crd["spec"];
        let group = s["group"].as_str().unwrap_or("");
        let served = s["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|v| format!("{group}/{}", v["name"].as_str().unwrap_or("")) == api_version);
        if served {
            resources.push(json!({
                "name": s["names"]["plural"], "singularName": "",
                "namespaced": s["scope"].as_str() != Some("Cluster"),
                "kind": s["names"]["kind"],
                "verbs": ["create", "delete", "get", "list", "patch", "update"]
            }));
        }
    }
    (!resources.is_empty()).then(|| {
        json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version, "resources": resources })
    })
}

struct Target {
    api_version: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api_version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ((*v).to_string(), rest),
        ["apis", g, v, rest @ ..] => (format!("{g}/{v}"), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, more @ ..] if !more.is_empty() => (Some((*ns).to_string()), more),
        _ => (None, rest),
    };
    match rest {
        [plural] => Some(Target {
            api_version,
            namespace,
            plural: (*plural).to_string(),
            name: None,
        }),
        [plural, name] | [plural, name, "status"] => Some(Target {
            api_version,
            namespace,
            plural: (*plural).to_string(),
            name: Some((*name).to_string()),
        }),
        _ => None,
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn lookup<'a>(obj: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(obj, |v, k| v.get(k))
}

fn as_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Label selector: `k=v`, `k==v`, `k!=v`, `k` (exists), `!k` (does not exist).
fn labels_match(obj: &Value, selector: &str) -> bool {
    let labels = &obj["metadata"]["labels"];
    selector
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .all(|t| {
            let t = t.trim();
            if let Some((k, v)) = t.split_once("!=") {
                labels[k.trim()].as_str() != Some(v.trim())
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                labels[k.trim()].as_str() == Some(v.trim())
            } else if let Some(k) = t.strip_prefix('!') {
                labels.get(k).is_none()
            } else {
                labels.get(t).is_some()
            }
        })
}

/// Field selector: `path=v`, `path==v`, `path!=v` on any dotted path.
fn fields_match(obj: &Value, selector: &str) -> bool {
    selector
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .all(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                as_text(lookup(obj, k.trim())).as_deref() != Some(v.trim())
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                as_text(lookup(obj, k.trim())).as_deref().unwrap_or("") == v.trim()
            } else {
                true
            }
        })
}

/// The API server's answer for an object that is not there.
fn not_found(plural: &str, name: &str) -> (u16, Value) {
    (
        404,
        status_body(404, "NotFound", format!("{plural} \"{name}\" not found")),
    )
}

fn status_body(code: u16, reason: &str, message: String) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code
    })
}

impl FakeKube {
    /// Starts the fake on 127.0.0.1 on a free port.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub fn start() -> FakeKube {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            store: Mutex::new(KubeStore::default()),
            hooks: Mutex::new(Vec::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        FakeKube { addr, shared, stop }
    }

    /// Returns the base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a kubeconfig at `path` whose context `context` points at the fake (with the
    /// default namespace `namespace`), and returns `path`.
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn write_kubeconfig(&self, path: &Path, context: &str, namespace: &str) -> PathBuf {
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {context}\nclusters:\n- name: fake\n  cluster:\n    server: {url}\ncontexts:\n- name: {context}\n  context:\n    cluster: fake\n    user: fake\n    namespace: {namespace}\nusers:\n- name: fake\n  user:\n    token: not-a-secret\n",
            url = self.url()
        );
        std::fs::write(path, text).expect("write kubeconfig");
        path.to_path_buf()
    }

    /// Runs `f` with the store locked.
    ///
    /// # Panics
    /// If a hook panicked while holding the lock.
    pub fn with<R>(&self, f: impl FnOnce(&mut KubeStore) -> R) -> R {
        f(&mut self.shared.store.lock().expect("store lock"))
    }

    /// Stores an object; see [`KubeStore::put`].
    pub fn put(&self, obj: Value) {
        self.with(|s| s.put(obj));
    }

    /// Returns a copy of one object.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.with(|s| s.get(kind, namespace, name))
    }

    /// Replaces the status of one object; see [`KubeStore::set_status`].
    pub fn set_status(&self, kind: &str, namespace: &str, name: &str, status: Value) {
        self.with(|s| s.set_status(kind, namespace, name, status));
    }

    /// Adds a hook run on every request (after it is logged, before it is answered).
    ///
    /// # Panics
    /// If a hook panicked earlier.
    pub fn on_request(&self, hook: impl FnMut(&mut KubeStore, &KubeRequest) + Send + 'static) {
        self.shared
            .hooks
            .lock()
            .expect("hooks lock")
            .push(Box::new(hook));
    }

    /// Returns the requests received so far, oldest first.
    pub fn requests(&self) -> Vec<KubeRequest> {
        self.with(|s| s.requests.clone())
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

struct RawRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<RawRequest> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        r.read_exact(&mut body).ok()?;
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Some(RawRequest {
        method,
        target,
        headers,
        body,
    })
}

fn serve(conn: TcpStream, shared: &Shared) {
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut w = write_half;
    let mut r = BufReader::new(conn);
    while let Some(req) = read_request(&mut r) {
        let (code, body) = answer(shared, &req);
        let text = body.to_string();
        let reason = match code {
            200 => "OK",
            201 => "Created",
            404 => "Not Found",
            405 => "Method Not Allowed",
            415 => "Unsupported Media Type",
            422 => "Unprocessable Entity",
            _ => "Error",
        };
        let head = format!(
            "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            text.len()
        );
        if w.write_all(head.as_bytes()).is_err() || w.write_all(text.as_bytes()).is_err() {
            return;
        }
        let _ = w.flush();
    }
}

fn answer(shared: &Shared, raw: &RawRequest) -> (u16, Value) {
    let (path, query) = raw.target.split_once('?').unwrap_or((&raw.target, ""));
    let query: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let body: Option<Value> = serde_json::from_slice(&raw.body).ok();
    let request = KubeRequest {
        method: raw.method.clone(),
        path: path.to_string(),
        query,
        content_type: raw
            .headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.clone()),
        body_kind: body
            .as_ref()
            .and_then(|b| b["kind"].as_str())
            .map(str::to_string),
    };
    let mut store = shared.store.lock().expect("store lock");
    store.requests.push(request.clone());
    for hook in shared.hooks.lock().expect("hooks lock").iter_mut() {
        hook(&mut store, &request);
    }
    let segs: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let discovered = match segs.as_slice() {
        ["api", v] => Some(discovery(&store, v)),
        ["apis", g, v] => Some(discovery(&store, &format!("{g}/{v}"))),
        _ => None,
    };
    if let Some(list) = discovered {
        return match list {
            Some(l) => (200, l),
            None => (
                404,
                status_body(
                    404,
                    "NotFound",
                    "the server could not find the requested resource".into(),
                ),
            ),
        };
    }
    if request.param("watch").is_some() {
        return (
            405,
            status_body(
                405,
                "MethodNotAllowed",
                "the fake does not serve watches".into(),
            ),
        );
    }
    let Some(target) = parse_path(&request.path) else {
        return (
            404,
            status_body(
                404,
                "NotFound",
                format!(
                    "the server could not find the requested resource ({})",
                    request.path
                ),
            ),
        );
    };
    let kind = RESOURCES
        .iter()
        .find(|r| r.0 == target.plural)
        .map(|r| r.1.to_string())
        .or_else(|| {
            body.as_ref()
                .and_then(|b| b["kind"].as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let ns = target.namespace.clone().unwrap_or_default();
    match (request.method.as_str(), &target.name) {
        ("GET", Some(name)) => match store.get(&kind, &ns, name) {
            Some(obj) => (200, obj),
            None => not_found(&target.plural, name),
        },
        ("GET", None) => {
            let labels = request.param("labelSelector").unwrap_or("").to_string();
            let fields = request.param("fieldSelector").unwrap_or("").to_string();
            let items: Vec<Value> = store
                .all(&kind)
                .into_iter()
                .filter(|o| target.namespace.is_none() || meta_str(o, "namespace") == ns)
                .filter(|o| labels_match(o, &labels) && fields_match(o, &fields))
                .collect();
            let rv = store.version.to_string();
            (
                200,
                json!({
                    "apiVersion": target.api_version,
                    "kind": format!("{kind}List"),
                    "metadata": { "resourceVersion": rv },
                    "items": items
                }),
            )
        }
        ("DELETE", Some(name)) => match store.get(&kind, &ns, name) {
            Some(obj) => {
                store.delete(&kind, &ns, name);
                (200, obj)
            }
            None => not_found(&target.plural, name),
        },
        ("PATCH", Some(name)) => {
            if request.content_type.as_deref() != Some("application/apply-patch+yaml") {
                return (
                    415,
                    status_body(
                        415,
                        "UnsupportedMediaType",
                        "the fake only takes server-side apply patches".into(),
                    ),
                );
            }
            let Some(manager) = request.param("fieldManager").map(str::to_string) else {
                return (
                    422,
                    status_body(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into()),
                );
            };
            let Some(mut obj) = body else {
                return (
                    422,
                    status_body(422, "Invalid", "the body is not JSON".into()),
                );
            };
            if meta_str(&obj, "name") != name {
                return (
                    422,
                    status_body(
                        422,
                        "Invalid",
                        format!("metadata.name does not match the path ({name})"),
                    ),
                );
            }
            if let Some(n) = &target.namespace {
                obj["metadata"]["namespace"] = json!(n);
            }
            let (stored, created) = store.apply(obj, &manager);
            (if created { 201 } else { 200 }, stored)
        }
        // Create: 201 with the stored object, or 409 when it exists, as the API server does.
        ("POST", None) => {
            let Some(mut obj) = body else {
                return (
                    422,
                    status_body(422, "Invalid", "the body is not JSON".into()),
                );
            };
            let name = meta_str(&obj, "name").to_string();
            if name.is_empty() || obj["kind"].as_str() != Some(kind.as_str()) {
                return (
                    422,
                    status_body(
                        422,
                        "Invalid",
                        format!("a {kind} with a metadata.name is expected"),
                    ),
                );
            }
            if let Some(n) = &target.namespace {
                obj["metadata"]["namespace"] = json!(n);
            }
            let ns = meta_str(&obj, "namespace").to_string();
            if store.get(&kind, &ns, &name).is_some() {
                return (
                    409,
                    status_body(
                        409,
                        "AlreadyExists",
                        format!("{} \"{name}\" already exists", target.plural),
                    ),
                );
            }
            store.put(obj);
            (201, store.get(&kind, &ns, &name).unwrap_or_default())
        }
        (m, _) => (
            405,
            status_body(
                405,
                "MethodNotAllowed",
                format!("the fake does not answer {m} {}", request.path),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_selectors() {
        let t = parse_path("/api/v1/namespaces/default/pods/p1").unwrap();
        assert_eq!(
            (t.namespace.as_deref(), t.plural.as_str(), t.name.as_deref()),
            (Some("default"), "pods", Some("p1"))
        );
        let t = parse_path("/api/v1/namespaces/slipway-system").unwrap();
        assert_eq!(
            (t.namespace, t.plural.as_str(), t.name.as_deref()),
            (None, "namespaces", Some("slipway-system"))
        );
        let t = parse_path("/apis/apps/v1/namespaces/x/daemonsets").unwrap();
        assert_eq!((t.api_version.as_str(), t.name), ("apps/v1", None));
        let pod =
            json!({ "metadata": { "labels": { "app": "web" } }, "spec": { "nodeName": "n1" } });
        assert!(
            labels_match(&pod, "app=web")
                && !labels_match(&pod, "app!=web")
                && labels_match(&pod, "app,!tier")
        );
        assert!(fields_match(&pod, "spec.nodeName=n1") && !fields_match(&pod, "spec.nodeName=n2"));
        assert_eq!(percent_decode("app%3Dweb%2Ctier"), "app=web,tier");
    }
}

/// Kubernetes API objects shaped as a real API server returns them, for tests to put into
/// a [`FakeKube`]. Tests deserialize them into `k8s-openapi` types to check the shape.
pub mod fixtures {
    use serde_json::{Value, json};

    /// A Ready node.
    pub fn node(name: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name } },
            "status": { "conditions": [ { "type": "Ready", "status": "True" } ] }
        })
    }

    /// A pod with one container `main` on `node`; `waiting` makes it wait with (reason,
    /// message), else it runs and is Ready.
    pub fn pod(
        ns: &str,
        name: &str,
        labels: Value,
        node: &str,
        image: &str,
        waiting: Option<(&str, &str)>,
        annotations: Value,
    ) -> Value {
        let ready = waiting.is_none();
        let state = match waiting {
            Some((reason, message)) => {
                json!({ "waiting": { "reason": reason, "message": message } })
            }
            None => json!({ "running": { "startedAt": "2026-01-10T10:00:00Z" } }),
        };
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": name, "namespace": ns, "labels": labels, "annotations": annotations },
            "spec": { "nodeName": node, "containers": [ { "name": "main", "image": image } ] },
            "status": {
                "phase": if ready { "Running" } else { "Pending" },
                "conditions": [ { "type": "Ready", "status": if ready { "True" } else { "False" } } ],
                "containerStatuses": [ {
                    "name": "main", "image": image, "imageID": "", "ready": ready,
                    "restartCount": 0, "state": state
                } ]
            }
        })
    }

    /// A kubelet `Failed` event for a pod's container `main`, as a pull failure gives.
    pub fn pull_event(ns: &str, pod: &str, node: &str, message: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": { "name": format!("{pod}.17a1b2c3d4e5f6a7"), "namespace": ns },
            "involvedObject": { "apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": ns, "fieldPath": "spec.containers{main}" },
            "reason": "Failed", "type": "Warning", "message": message,
            "source": { "component": "kubelet", "host": node },
            "count": 3,
            "firstTimestamp": "2026-01-10T10:00:00Z", "lastTimestamp": "2026-01-10T10:01:00Z",
            "reportingComponent": "kubelet", "reportingInstance": node
        })
    }
}
