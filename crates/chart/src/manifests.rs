//! What becomes of a chart's rendered templates: split into documents, sorted into
//! resources and hooks in install order, and printed the way `helm template` prints them.
//!
//! The input is the map the template engine returns, from a template's path
//! (`CHART/templates/x.yaml`, `CHART/charts/SUB/templates/y.yaml`) to its rendered text.
//! From it:
//!
//! - [`sort_manifests`] splits every file into documents (on lines that start with `---`),
//!   drops partials (`_*` files), `NOTES.txt` and blank documents, reads each document's
//!   head (`apiVersion`, `kind`, `metadata.name`, `metadata.annotations`), tells hooks
//!   (the `helm.sh/hook` annotation) from plain resources, and orders both by kind
//!   ([`INSTALL_ORDER`], unknown kinds last and alphabetically, ties in file order);
//! - [`render_resources`] builds the release manifest text (CRDs first when asked);
//! - [`print_template`] (or [`format_template`] from a [`Rendered`]) gives the exact text
//!   `helm template` prints, with `--include-crds`, `--no-hooks`, `--skip-tests` and
//!   `--show-only` (and, for a dry-run install's manifest, `--hide-secret`).
//!
//! A document's head is read as Helm reads it: YAML 1.1 scalars (so `yes` is a bool and
//! `0x10` an integer), numbers and bools turned into strings where a string is expected,
//! JSON-style field names matched without regard to case, and the same error texts when a
//! document is not valid YAML or a field has the wrong shape.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::yaml::Yv;
use serde_json::{Value as Json, json};
use slipway_template::fmt::{format_float, quote};

/// The order in which resources are installed, by kind. Kinds not listed come after all of
/// these, sorted by name.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The annotation that makes a document a hook.
pub const HOOK_ANNOTATION: &str = "helm.sh/hook";
/// The annotation that gives a hook its weight.
pub const HOOK_WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
/// The annotation that lists when a hook's resource is deleted.
pub const HOOK_DELETE_ANNOTATION: &str = "helm.sh/hook-delete-policy";
/// The annotation that lists when a hook's logs are copied back.
pub const HOOK_OUTPUT_LOG_ANNOTATION: &str = "helm.sh/hook-output-log-policy";

/// The file name suffix of a chart's notes, which are never resources.
const NOTES_SUFFIX: &str = "NOTES.txt";

/// Why rendered files could not become a release, or what `--show-only` did not find.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// A document is not valid YAML, or its head has the wrong shape.
    #[error("YAML parse error on {path}: {detail}")]
    Yaml {
        /// The template the document came from.
        path: String,
        /// What the YAML reader said.
        detail: String,
    },
    /// A [`ManifestError::Yaml`] as `helm template` reports it, with its hint to debug.
    #[error("{0}\n\nUse --debug flag to render out invalid YAML")]
    Invalid(Box<ManifestError>),
    /// A `--show-only` pattern matched no printed document.
    #[error("could not find template {0} in chart")]
    ShowOnlyNotFound(String),
}

/// What a document's head says: its `apiVersion`, `kind`, and `metadata` name and
/// annotations, as Helm reads them. Everything else in the document is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    /// `apiVersion`, or empty.
    pub api_version: String,
    /// `kind`, or empty.
    pub kind: String,
    /// `metadata`, when the document has a mapping (or empty mapping) there.
    pub metadata: Option<HeadMetadata>,
}

/// The `metadata` part of a [`Head`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadMetadata {
    /// `metadata.name`, or empty.
    pub name: String,
    /// `metadata.annotations`, when present and not null.
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Head {
    /// The annotations, if any.
    pub fn annotations(&self) -> Option<&BTreeMap<String, String>> {
        self.metadata.as_ref()?.annotations.as_ref()
    }
}

/// One resource document that is not a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The template it came from (`CHART/templates/x.yaml`).
    pub name: String,
    /// The document's text, without leading white space.
    pub content: String,
    /// Its head.
    pub head: Head,
}

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookEvent {
    /// `pre-install`.
    PreInstall,
    /// `post-install`.
    PostInstall,
    /// `pre-delete`.
    PreDelete,
    /// `post-delete`.
    PostDelete,
    /// `pre-upgrade`.
    PreUpgrade,
    /// `post-upgrade`.
    PostUpgrade,
    /// `pre-rollback`.
    PreRollback,
    /// `post-rollback`.
    PostRollback,
    /// `test` (also written `test-success`).
    Test,
}

impl HookEvent {
    /// The event's name as annotations and releases spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreInstall => "pre-install",
            HookEvent::PostInstall => "post-install",
            HookEvent::PreDelete => "pre-delete",
            HookEvent::PostDelete => "post-delete",
            HookEvent::PreUpgrade => "pre-upgrade",
            HookEvent::PostUpgrade => "post-upgrade",
            HookEvent::PreRollback => "pre-rollback",
            HookEvent::PostRollback => "post-rollback",
            HookEvent::Test => "test",
        }
    }

    /// Reads an event name as written in a `helm.sh/hook` annotation, already trimmed and
    /// lower-cased; `test-success` is the old name of `test`.
    pub fn parse(name: &str) -> Option<HookEvent> {
        Some(match name {
            "pre-install" => HookEvent::PreInstall,
            "post-install" => HookEvent::PostInstall,
            "pre-delete" => HookEvent::PreDelete,
            "post-delete" => HookEvent::PostDelete,
            "pre-upgrade" => HookEvent::PreUpgrade,
            "post-upgrade" => HookEvent::PostUpgrade,
            "pre-rollback" => HookEvent::PreRollback,
            "post-rollback" => HookEvent::PostRollback,
            "test" | "test-success" => HookEvent::Test,
            _ => return None,
        })
    }
}

/// A document annotated `helm.sh/hook`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// `metadata.name`.
    pub name: String,
    /// `kind`.
    pub kind: String,
    /// The template it came from (`CHART/templates/x.yaml`).
    pub path: String,
    /// The document's text, without leading white space.
    pub manifest: String,
    /// When it runs, in the annotation's order.
    pub events: Vec<HookEvent>,
    /// `helm.sh/hook-weight` as an integer; 0 when absent or not an integer.
    pub weight: i64,
    /// `helm.sh/hook-delete-policy`, split on commas, trimmed and lower-cased.
    pub delete_policies: Vec<String>,
    /// `helm.sh/hook-output-log-policy`, split on commas, trimmed and lower-cased.
    pub output_log_policies: Vec<String>,
}

impl Hook {
    /// Whether the hook is a test (`--skip-tests` leaves these out).
    pub fn is_test(&self) -> bool {
        self.events.contains(&HookEvent::Test)
    }

    /// The hook as a release records it in JSON: `name`, `kind`, `path`, `manifest`,
    /// `events`, `last_run`, `weight`, `delete_policies`, `output_log_policies`, in that
    /// order, empty fields left out (`last_run` is always `{"phase": ""}` before a run).
    pub fn to_json(&self) -> Json {
        let mut m = serde_json::Map::new();
        for (key, value) in [
            ("name", &self.name),
            ("kind", &self.kind),
            ("path", &self.path),
            ("manifest", &self.manifest),
        ] {
            if !value.is_empty() {
                m.insert(key.into(), json!(value));
            }
        }
        if !self.events.is_empty() {
            let events: Vec<&str> = self.events.iter().map(|e| e.as_str()).collect();
            m.insert("events".into(), json!(events));
        }
        m.insert("last_run".into(), json!({"phase": ""}));
        if self.weight != 0 {
            m.insert("weight".into(), json!(self.weight));
        }
        if !self.delete_policies.is_empty() {
            m.insert("delete_policies".into(), json!(self.delete_policies));
        }
        if !self.output_log_policies.is_empty() {
            m.insert(
                "output_log_policies".into(),
                json!(self.output_log_policies),
            );
        }
        Json::Object(m)
    }
}

/// A file of a chart's (or a subchart's) `crds/` folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrdFile {
    /// Its path from the top chart, as printed: `CHART/crds/x.yaml`,
    /// `CHART/charts/SUB/crds/y.yaml`.
    pub filename: String,
    /// Its text, printed as it is.
    pub data: String,
}

/// Whether a file of a `crds/` folder holds resources: it ends in `.yaml`, `.yml` or
/// `.json`, in any case. Only those are CRD files.
pub fn is_manifest_file(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    match base.rfind('.') {
        Some(dot) => {
            let ext = &base[dot..];
            [".yaml", ".yml", ".json"]
                .iter()
                .any(|e| e.eq_ignore_ascii_case(ext))
        }
        None => false,
    }
}

/// The options of `helm template` that shape its output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateOptions {
    /// `--include-crds`: print the CRD files first.
    pub include_crds: bool,
    /// `--no-hooks`: leave hooks out.
    pub no_hooks: bool,
    /// `--skip-tests`: leave test hooks out.
    pub skip_tests: bool,
    /// `--hide-secret` (of a dry-run install; `helm template` has no such flag): write `v1`
    /// Secrets (not hooks) in the manifest as a comment that says they are hidden.
    pub hide_secret: bool,
    /// `--show-only`: print only the documents whose source (`templates/x.yaml`, the chart
    /// name left out) matches one of these shell patterns, pattern by pattern.
    pub show_only: Vec<String>,
}

/// What a chart's rendered files become in a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The release's manifest: the CRD files when asked, then every resource in install
    /// order, each as `---\n# Source: PATH\nTEXT\n`.
    pub manifest: String,
    /// The hooks, in install order of their kinds.
    pub hooks: Vec<Hook>,
    /// The resources, in install order.
    pub manifests: Vec<Manifest>,
}

/// Splits a stream of YAML documents as Helm does: on every `---` (and the blanks and tabs
/// after it) that starts a line, even with text after it on the line. Leading white space is
/// dropped from every document and blank documents are left out; the rest keep their
/// order.
pub fn split_manifests(text: &str) -> Vec<String> {
    let text = text.trim_start();
    let mut docs = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    // The lines that start with `---`: the first line, and those after a line break
    // followed by `---` (found with a vectorised search rather than line by line).
    let first = text.starts_with("---").then_some(0);
    let later = memchr::memmem::find_iter(bytes, b"\n---").map(|i| i + 1);
    for line in first.into_iter().chain(later) {
        let mut end = line + 3;
        while end < bytes.len() && (bytes[end] == b' ' || bytes[end] == b'\t') {
            end += 1;
        }
        push_doc(&mut docs, &text[start..line]);
        start = end;
    }
    push_doc(&mut docs, &text[start..]);
    docs
}

fn push_doc(docs: &mut Vec<String>, doc: &str) {
    if !doc.trim().is_empty() {
        docs.push(doc.trim_start().to_string());
    }
}

/// Reads a document's head as Helm does, or says why the document is not valid YAML (the
/// text that follows `YAML parse error on PATH: `).
pub fn parse_head(doc: &str) -> Result<Head, String> {
    let value = crate::yaml::decode_first(doc)
        .map_err(|e| format!("error converting YAML to JSON: {e}"))?
        .unwrap_or(Yv::Null);
    let json = if converts_cleanly(&value) {
        // Nothing can fail on the way to JSON: only the head's fields need converting.
        to_json(&value, Some(Target::Head), true)
            .map_err(|e| format!("error converting YAML to JSON: {e}"))?
    } else {
        let json = to_json(&value, Some(Target::Head), false)
            .map_err(|e| format!("error converting YAML to JSON: {e}"))?;
        check_marshal(&json).map_err(|e| format!("error converting YAML to JSON: {e}"))?;
        json
    };
    decode_head(&json).map_err(|e| format!("error unmarshaling JSON: while decoding JSON: {e}"))
}

/// Splits rendered files into hooks and resources and sorts both by kind, as Helm does
/// before installing. Files are read in path order, documents in file order; partials
/// (`_*`), `NOTES.txt` files and blank files are skipped. A document whose hook annotation
/// names an unknown event is left out altogether. `api_versions` is accepted for parity with
/// Helm's signature; the sorting does not use it.
pub fn sort_manifests(
    files: &BTreeMap<String, String>,
    _api_versions: &[String],
) -> Result<(Vec<Hook>, Vec<Manifest>), ManifestError> {
    let mut hooks = Vec::new();
    let mut manifests = Vec::new();
    let mut docs = Vec::new();
    for (path, content) in files {
        let base = path.rsplit('/').next().unwrap_or(path);
        if path.ends_with(NOTES_SUFFIX) || base.starts_with('_') || content.trim().is_empty() {
            continue;
        }
        docs.extend(split_manifests(content).into_iter().map(|doc| (path, doc)));
    }
    let heads = parse_heads(&docs);
    for ((path, doc), head) in docs.into_iter().zip(heads) {
        let head = head.map_err(|detail| ManifestError::Yaml {
            path: path.clone(),
            detail,
        })?;
        let Some(annotations) = head.annotations().filter(|a| !a.is_empty()) else {
            manifests.push(Manifest {
                name: path.clone(),
                content: doc,
                head,
            });
            continue;
        };
        let Some(events) = annotations.get(HOOK_ANNOTATION) else {
            manifests.push(Manifest {
                name: path.clone(),
                content: doc,
                head,
            });
            continue;
        };
        let Some(events) = events
            .split(',')
            .map(|e| HookEvent::parse(&e.trim().to_lowercase()))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let list = |name: &str| -> Vec<String> {
            annotations
                .get(name)
                .map(|v| v.split(',').map(|p| p.trim().to_lowercase()).collect())
                .unwrap_or_default()
        };
        let weight = annotations
            .get(HOOK_WEIGHT_ANNOTATION)
            .and_then(|w| w.parse::<i64>().ok())
            .unwrap_or(0);
        hooks.push(Hook {
            name: head
                .metadata
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_default(),
            kind: head.kind.clone(),
            path: path.clone(),
            manifest: doc,
            events,
            weight,
            delete_policies: list(HOOK_DELETE_ANNOTATION),
            output_log_policies: list(HOOK_OUTPUT_LOG_ANNOTATION),
        });
    }
    hooks.sort_by(|a, b| kind_rank(&a.kind).cmp(&kind_rank(&b.kind)));
    manifests.sort_by(|a, b| kind_rank(&a.head.kind).cmp(&kind_rank(&b.head.kind)));
    Ok((hooks, manifests))
}

/// [`parse_head`] of each document, in order: those a [`HeadReader`] of this thread read
/// ahead are taken from it; many others are read on two threads (the reading is most of
/// what sorting costs).
fn parse_heads(docs: &[(&String, String)]) -> Vec<Result<Head, String>> {
    /// Below this much text a second thread costs more than it saves.
    const PARALLEL_BYTES: usize = 32 * 1024;
    if let Some(reader) = READ_AHEAD.with(|r| r.borrow_mut().take()) {
        let mut ahead = reader.finish();
        return docs
            .iter()
            .map(|(_, doc)| ahead.remove(doc).unwrap_or_else(|| parse_head(doc)))
            .collect();
    }
    let total: usize = docs.iter().map(|(_, d)| d.len()).sum();
    let parallel = total >= PARALLEL_BYTES;
    let read = |part: &[(&String, String)]| -> Vec<Result<Head, String>> {
        part.iter().map(|(_, doc)| parse_head(doc)).collect()
    };
    if !parallel {
        return read(docs);
    }
    // Split where half the text is on each side.
    let mut split = 0;
    let mut seen = 0;
    while split < docs.len() && seen * 2 < total {
        seen += docs[split].1.len();
        split += 1;
    }
    let (first, second) = docs.split_at(split);
    std::thread::scope(|scope| {
        let other = std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn_scoped(scope, || read(second));
        let mut heads = read(first);
        match other.map(|other| other.join()) {
            Ok(Ok(rest)) => heads.extend(rest),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            // No thread: this one reads the rest too.
            Err(_) => heads.extend(read(second)),
        }
        heads
    })
}

/// Reads the heads of rendered files on another thread while the rest are still being
/// rendered; [`sort_manifests`] on the same thread then takes them instead of reading the
/// documents again (see [`HeadReader::hand_over`]). A head is a function of its
/// document's text alone, so one read ahead is the one `sort_manifests` would read.
pub(crate) struct HeadReader {
    files: Option<std::sync::mpsc::Sender<String>>,
    /// The files not read yet: the reading loop takes them one at a time, and so does
    /// [`HeadReader::finish`] once no more come, so that both threads read the last ones.
    unread: std::sync::Arc<std::sync::Mutex<std::sync::mpsc::Receiver<String>>>,
    /// Where the reading loop's heads come back, once no file is left.
    heads: std::sync::mpsc::Receiver<HeadsRead>,
}

/// Heads read ahead, by document text.
type HeadsRead = slipway_template::hash::FastMap<String, Result<Head, String>>;

thread_local! {
    /// The reader [`HeadReader::hand_over`] left for this thread's next sort.
    static READ_AHEAD: std::cell::RefCell<Option<HeadReader>> = const {
        std::cell::RefCell::new(None)
    };
}

impl HeadReader {
    /// A reader with a thread of its own (when none can be started, [`HeadReader::finish`]
    /// reads every file itself).
    pub(crate) fn start() -> HeadReader {
        let (reader, read) = HeadReader::deferred();
        let _ = std::thread::Builder::new()
            .name("manifest heads".into())
            .stack_size(8 << 20)
            .spawn(read);
        reader
    }

    /// A reader, and its reading loop for a thread the caller already has (one that
    /// finished other work, as starting and ending threads costs more than it saves
    /// here). If the loop is never run, [`HeadReader::finish`] reads every file itself.
    pub(crate) fn deferred() -> (HeadReader, impl FnOnce() + Send + 'static) {
        let (files, rx) = std::sync::mpsc::channel::<String>();
        let unread = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let (done, heads) = std::sync::mpsc::channel::<HeadsRead>();
        let theirs = unread.clone();
        let read = move || {
            let mut heads = HeadsRead::default();
            loop {
                let next = match theirs.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => break,
                };
                let Ok(content) = next else { break };
                read_heads(&mut heads, &content);
            }
            let _ = done.send(heads);
        };
        (
            HeadReader {
                files: Some(files),
                unread,
                heads,
            },
            read,
        )
    }

    /// Reads the documents of a rendered file (at `path`), as [`sort_manifests`] will.
    pub(crate) fn file(&self, path: &str, content: &str) {
        let base = path.rsplit('/').next().unwrap_or(path);
        if path.ends_with(NOTES_SUFFIX) || base.starts_with('_') || content.trim().is_empty() {
            return;
        }
        if let Some(files) = &self.files {
            let _ = files.send(content.to_owned());
        }
    }

    /// Leaves the reader for the next [`sort_manifests`] on this thread. It is given no
    /// more files: its thread ends once it has read those it has.
    pub(crate) fn hand_over(mut self) {
        self.files = None;
        READ_AHEAD.with(|r| *r.borrow_mut() = Some(self));
    }

    /// Every head, once all were read: this thread reads files the reading loop has not
    /// reached (all of them when the loop never ran), while the loop finishes its own.
    fn finish(mut self) -> HeadsRead {
        self.files = None;
        let mut mine = HeadsRead::default();
        loop {
            let next = match self.unread.lock() {
                Ok(rx) => rx.try_recv(),
                Err(_) => break,
            };
            let Ok(content) = next else { break };
            read_heads(&mut mine, &content);
        }
        let mut heads = self.heads.recv().unwrap_or_default();
        heads.extend(mine);
        heads
    }
}

/// Reads the head of each document of a rendered file into `heads` (once per text).
fn read_heads(heads: &mut HeadsRead, content: &str) {
    for doc in split_manifests(content) {
        if let std::collections::hash_map::Entry::Vacant(slot) = heads.entry(doc) {
            let head = parse_head(slot.key());
            slot.insert(head);
        }
    }
}

/// The sort key of a kind: listed kinds by their place, then the others by name.
fn kind_rank(kind: &str) -> (usize, &str) {
    match INSTALL_ORDER.iter().position(|k| *k == kind) {
        Some(i) => (i, ""),
        None => (INSTALL_ORDER.len(), kind),
    }
}

/// The chart's notes: the top chart's `templates/NOTES.txt` (`chart_name` is the top
/// chart's name), or with `sub_notes` every rendered `NOTES.txt`, in path order, joined by
/// newlines. (With `sub_notes`, Helm joins them in no fixed order.)
pub fn notes(files: &BTreeMap<String, String>, chart_name: &str, sub_notes: bool) -> String {
    let top = format!("{chart_name}/templates/{NOTES_SUFFIX}");
    let mut out = String::new();
    for (path, text) in files {
        if path.ends_with(NOTES_SUFFIX) && (sub_notes || *path == top) {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(text);
        }
    }
    out
}

/// Builds a release from rendered files: [`sort_manifests`], then the manifest text (the
/// CRD files first with `include_crds`, `v1` Secrets hidden with `hide_secret`; the other
/// options are not used here). `crds` are the chart's CRD files in the chart's order (the
/// top chart's, then each subchart's).
pub fn render_resources(
    files: &BTreeMap<String, String>,
    crds: &[CrdFile],
    api_versions: &[String],
    options: &TemplateOptions,
) -> Result<Rendered, ManifestError> {
    let (hooks, manifests) = sort_manifests(files, api_versions)?;
    let crds: &[CrdFile] = if options.include_crds { crds } else { &[] };
    // Sized once: the text is as long as the documents and their headers.
    let header = "---\n# Source: \n\n".len();
    let size = crds
        .iter()
        .map(|c| header + c.filename.len() + c.data.len())
        .chain(
            manifests
                .iter()
                .map(|m| header + m.name.len() + m.content.len()),
        )
        .sum();
    let mut manifest = String::with_capacity(size);
    for crd in crds {
        let _ = write!(manifest, "---\n# Source: {}\n{}\n", crd.filename, crd.data);
    }
    for m in &manifests {
        if options.hide_secret && m.head.kind == "Secret" && m.head.api_version == "v1" {
            let _ = write!(
                manifest,
                "---\n# Source: {}\n# HIDDEN: The Secret output has been suppressed\n",
                m.name
            );
        } else {
            let _ = write!(manifest, "---\n# Source: {}\n{}\n", m.name, m.content);
        }
    }
    Ok(Rendered {
        manifest,
        hooks,
        manifests,
    })
}

/// The text `helm template` prints on standard output for rendered files: the release
/// manifest (trimmed, then a newline), the hooks unless `no_hooks` (tests unless
/// `skip_tests`), each as `---\n# Source: PATH\nTEXT\n`; with `show_only`, only the
/// matching documents, each as `---\nDOC\n`.
///
/// # Errors
/// [`ManifestError::Invalid`] when a document is not valid YAML (`helm template` prints
/// nothing then), [`ManifestError::ShowOnlyNotFound`] for the first `show_only` pattern
/// that matches nothing.
pub fn print_template(
    files: &BTreeMap<String, String>,
    crds: &[CrdFile],
    api_versions: &[String],
    options: &TemplateOptions,
) -> Result<String, ManifestError> {
    let rendered = render_resources(files, crds, api_versions, options)
        .map_err(|e| ManifestError::Invalid(Box::new(e)))?;
    format_template(rendered, options)
}

/// The printing half of [`print_template`], for a release already built with
/// [`render_resources`].
///
/// # Errors
/// [`ManifestError::ShowOnlyNotFound`] for the first `show_only` pattern that matches
/// nothing.
pub fn format_template(
    rendered: Rendered,
    options: &TemplateOptions,
) -> Result<String, ManifestError> {
    // The manifest, trimmed where it is: it is most of the output, and is not copied.
    let Rendered {
        manifest: mut out,
        hooks,
        ..
    } = rendered;
    out.truncate(out.trim_end().len());
    out.drain(..out.len() - out.trim_start().len());
    out.push('\n');
    if !options.no_hooks {
        for hook in &hooks {
            if options.skip_tests && hook.is_test() {
                continue;
            }
            let _ = write!(out, "---\n# Source: {}\n{}\n", hook.path, hook.manifest);
        }
    }
    if options.show_only.is_empty() {
        return Ok(out);
    }
    let docs = split_manifests(&out);
    let mut shown = String::new();
    for pattern in &options.show_only {
        let mut found = false;
        for doc in &docs {
            let Some(source) = source_in_chart(doc) else {
                continue;
            };
            if path_match(pattern, source) {
                let _ = write!(shown, "---\n{doc}\n");
                found = true;
            }
        }
        if !found {
            return Err(ManifestError::ShowOnlyNotFound(pattern.clone()));
        }
    }
    Ok(shown)
}

/// The first `# Source: CHART/REST` in a document (`CHART` holding no `/`, possibly over
/// several lines), giving `REST` up to the end of its line.
fn source_in_chart(doc: &str) -> Option<&str> {
    const MARK: &str = "# Source: ";
    let mut from = 0;
    while let Some(i) = doc[from..].find(MARK) {
        let after = from + i + MARK.len();
        let rest = &doc[after..];
        if let Some(slash) = rest.find('/')
            && slash > 0
        {
            let tail = &rest[slash + 1..];
            let line = tail.split('\n').next().unwrap_or("");
            if !line.is_empty() {
                return Some(line);
            }
        }
        from = from + i + 1;
    }
    None
}

// ---------------------------------------------------------------------------------------
// Shell patterns, as Go's filepath.Match reads them on Unix
// ---------------------------------------------------------------------------------------

/// Whether `name` matches the shell pattern: `*` is any run of characters but `/`, `?` one
/// character but `/`, `[...]` a class (`^` negates, `a-z` ranges, `\` escapes). A malformed
/// pattern matches nothing.
fn path_match(pattern: &str, name: &str) -> bool {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'chunks: while !pattern.is_empty() {
        let (star, chunk, rest) = next_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing star takes whatever is left, as long as it stays in one segment.
            return !name.contains(&b'/');
        }
        match match_chunk(chunk, name) {
            Err(()) => return false,
            Ok(Some(left)) if left.is_empty() || !pattern.is_empty() => {
                name = left;
                continue;
            }
            Ok(_) => {}
        }
        if star {
            // Let the star take one more character at a time, never a separator.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                match match_chunk(chunk, &name[i + 1..]) {
                    Err(()) => return false,
                    Ok(Some(left)) => {
                        if pattern.is_empty() && !left.is_empty() {
                            i += 1;
                            continue;
                        }
                        name = left;
                        continue 'chunks;
                    }
                    Ok(None) => {}
                }
                i += 1;
            }
        }
        return false;
    }
    name.is_empty()
}

/// Splits off the leading stars of a pattern and the literal part up to the next star that
/// is not inside a class.
fn next_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut p = pattern;
    let mut star = false;
    while let [b'*', rest @ ..] = p {
        star = true;
        p = rest;
    }
    let mut in_class = false;
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'\\' if i + 1 < p.len() => i += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'*' if !in_class => return (star, &p[..i], &p[i..]),
            _ => {}
        }
        i += 1;
    }
    (star, p, &[])
}

/// Matches a star-free chunk at the start of `s`: the rest of `s` when it matches, `None`
/// when not, an error when the chunk is malformed (checked to its end even after a miss).
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> Result<Option<&'a [u8]>, ()> {
    let mut failed = false;
    while let Some(&c) = chunk.first() {
        failed = failed || s.is_empty();
        match c {
            b'[' => {
                let mut r = None;
                if !failed {
                    let (ch, n) = first_char(s);
                    r = Some(ch);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = class_char(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.first() == Some(&b'-') {
                        let (h, rest) = class_char(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if let Some(r) = r {
                        matched = matched || (lo <= r && r <= hi);
                    }
                    ranges += 1;
                }
                failed = failed || matched == negated;
            }
            b'?' => {
                if !failed {
                    failed = s[0] == b'/';
                    let (_, n) = first_char(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                let mut lit = c;
                if c == b'\\' {
                    chunk = &chunk[1..];
                    match chunk.first() {
                        Some(&e) => lit = e,
                        None => return Err(()),
                    }
                }
                if !failed {
                    failed = lit != s[0];
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok(if failed { None } else { Some(s) })
}

/// One character of a class, unescaped; the class must go on after it.
fn class_char(chunk: &[u8]) -> Result<(char, &[u8]), ()> {
    let mut c = chunk;
    match c.first() {
        None | Some(b'-') | Some(b']') => return Err(()),
        Some(b'\\') => {
            c = &c[1..];
            if c.is_empty() {
                return Err(());
            }
        }
        _ => {}
    }
    let (ch, n) = first_char(c);
    let rest = &c[n..];
    if rest.is_empty() {
        return Err(());
    }
    Ok((ch, rest))
}

/// The first character of valid UTF-8 bytes and its length.
fn first_char(s: &[u8]) -> (char, usize) {
    let n = match s[0] {
        b if b < 0x80 => 1,
        b if b >= 0xF0 => 4,
        b if b >= 0xE0 => 3,
        _ => 2,
    }
    .min(s.len());
    let ch = std::str::from_utf8(&s[..n])
        .ok()
        .and_then(|t| t.chars().next())
        .unwrap_or('\u{FFFD}');
    (ch, n)
}

// ---------------------------------------------------------------------------------------
// YAML documents as Helm's YAML reader sees them
// ---------------------------------------------------------------------------------------

/// A value in Go syntax, as `%#v` prints it (`top`: not inside a collection).
fn go_syntax(v: &Yv, top: bool) -> String {
    match v {
        Yv::Null if top => "<nil>".into(),
        Yv::Null => "interface {}(nil)".into(),
        Yv::Bool(b) => b.to_string(),
        Yv::Int(i) => i.to_string(),
        Yv::Uint(u) => format!("0x{u:x}"),
        Yv::Float(f) => format_float(*f),
        Yv::Str(s) => quote(s),
        Yv::Seq(items) => {
            let items: Vec<String> = items.iter().map(|i| go_syntax(i, false)).collect();
            format!("[]interface {{}}{{{}}}", items.join(", "))
        }
        Yv::Map(m) => {
            let mut entries: Vec<&(Yv, Yv)> = m.iter().collect();
            entries.sort_by(|a, b| key_order(&a.0, &b.0));
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", go_syntax(k, false), go_syntax(v, false)))
                .collect();
            format!(
                "map[interface {{}}]interface {{}}{{{}}}",
                entries.join(", ")
            )
        }
    }
}

/// The order `%v` prints map keys in: by type, then by value.
fn key_order(a: &Yv, b: &Yv) -> std::cmp::Ordering {
    fn rank(v: &Yv) -> u8 {
        match v {
            Yv::Null => 0,
            Yv::Bool(_) => 1,
            Yv::Int(_) => 2,
            Yv::Uint(_) => 3,
            Yv::Float(_) => 4,
            Yv::Str(_) => 5,
            Yv::Seq(_) => 6,
            Yv::Map(_) => 7,
        }
    }
    match (a, b) {
        (Yv::Bool(x), Yv::Bool(y)) => x.cmp(y),
        (Yv::Int(x), Yv::Int(y)) => x.cmp(y),
        (Yv::Uint(x), Yv::Uint(y)) => x.cmp(y),
        (Yv::Float(x), Yv::Float(y)) => x.total_cmp(y),
        (Yv::Str(x), Yv::Str(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// What a value is read into, where that changes how it is converted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The head itself.
    Head,
    /// Its `metadata`.
    Metadata,
    /// A string field or annotation value: numbers and bools become their text.
    Str,
    /// The annotations.
    StrMap,
}

/// A JSON value, objects with their keys sorted as Go writes them.
#[derive(Debug)]
enum J {
    Null,
    Bool,
    Number(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(BTreeMap<String, J>),
}

const HEAD_FIELDS: &[(&str, Target)] = &[
    ("apiVersion", Target::Str),
    ("kind", Target::Str),
    ("metadata", Target::Metadata),
];
const METADATA_FIELDS: &[(&str, Target)] =
    &[("name", Target::Str), ("annotations", Target::StrMap)];

/// The field a JSON key sets: the one spelled the same, else one spelled the same but for
/// case.
fn field<'a>(key: &str, fields: &'a [(&'a str, Target)]) -> Option<&'a (&'a str, Target)> {
    fields
        .iter()
        .find(|(name, _)| *name == key)
        .or_else(|| fields.iter().find(|(name, _)| fold_eq(name, key)))
}

/// Whether `key` equals the ASCII field name `name` but for case (the Kelvin sign folds to
/// `k` and the long s to `s`, as Unicode has it).
fn fold_eq(name: &str, key: &str) -> bool {
    let mut k = key.chars();
    for n in name.chars() {
        let Some(c) = k.next() else { return false };
        let c = match c {
            '\u{212A}' => 'k',
            '\u{017F}' => 's',
            c => c.to_ascii_lowercase(),
        };
        if c != n.to_ascii_lowercase() {
            return false;
        }
    }
    k.next().is_none()
}

/// Converts a YAML value to JSON as Helm's YAML library does, reading it into `target`:
/// map keys become strings, and scalars meant for a string become their text.
///
/// With `head_only`, the entries of the head and of its metadata that are not fields of
/// theirs are left out (the head is all that is read of the JSON).
fn to_json(v: &Yv, target: Option<Target>, head_only: bool) -> Result<J, String> {
    Ok(match v {
        Yv::Map(m) => {
            let mut out = BTreeMap::new();
            for (k, val) in m {
                let key: std::borrow::Cow<'_, str> = match k {
                    Yv::Str(s) => s.into(),
                    Yv::Int(i) => i.to_string().into(),
                    Yv::Float(f) => match format_float32(*f).as_str() {
                        "+Inf" => ".inf".into(),
                        "-Inf" => "-.inf".into(),
                        "NaN" => ".nan".into(),
                        s => s.to_string().into(),
                    },
                    Yv::Bool(b) => b.to_string().into(),
                    other => {
                        let ty = match other {
                            Yv::Null => "%!s(<nil>)",
                            Yv::Uint(_) => "uint64",
                            Yv::Seq(_) => "[]interface {}",
                            _ => "map[interface {}]interface {}",
                        };
                        return Err(format!(
                            "unsupported map key of type: {ty}, key: {}, value: {}",
                            go_syntax(other, true),
                            go_syntax(val, true)
                        ));
                    }
                };
                let sub = match target {
                    Some(Target::Head) => field(&key, HEAD_FIELDS).map(|f| f.1),
                    Some(Target::Metadata) => field(&key, METADATA_FIELDS).map(|f| f.1),
                    Some(Target::StrMap) => Some(Target::Str),
                    _ => None,
                };
                if head_only
                    && sub.is_none()
                    && matches!(target, Some(Target::Head | Target::Metadata))
                {
                    continue;
                }
                out.insert(key.into_owned(), to_json(val, sub, head_only)?);
            }
            J::Obj(out)
        }
        Yv::Seq(items) => J::Arr(
            items
                .iter()
                .map(|i| to_json(i, None, head_only))
                .collect::<Result<_, _>>()?,
        ),
        Yv::Null => J::Null,
        Yv::Str(s) => J::Str(s.clone()),
        Yv::Bool(b) if target == Some(Target::Str) => J::Str(b.to_string()),
        Yv::Int(i) if target == Some(Target::Str) => J::Str(i.to_string()),
        Yv::Uint(u) if target == Some(Target::Str) => J::Str(u.to_string()),
        Yv::Float(f) if target == Some(Target::Str) => J::Str(format_float32(*f)),
        Yv::Bool(_) => J::Bool,
        Yv::Int(_) | Yv::Uint(_) => J::Number(0.0),
        Yv::Float(f) => J::Number(*f),
    })
}

/// Whether [`to_json`] and [`check_marshal`] cannot fail on `v`: every map key is one JSON
/// can have, and no float is NaN or infinite.
fn converts_cleanly(v: &Yv) -> bool {
    match v {
        Yv::Float(f) => f.is_finite(),
        Yv::Seq(items) => items.iter().all(converts_cleanly),
        Yv::Map(entries) => entries.iter().all(|(k, v)| {
            matches!(k, Yv::Str(_) | Yv::Int(_) | Yv::Float(_) | Yv::Bool(_)) && converts_cleanly(v)
        }),
        _ => true,
    }
}

/// Go refuses to write NaN and infinities as JSON.
fn check_marshal(j: &J) -> Result<(), String> {
    match j {
        J::Number(f) if !f.is_finite() => {
            Err(format!("json: unsupported value: {}", format_float(*f)))
        }
        J::Arr(items) => items.iter().try_for_each(check_marshal),
        J::Obj(m) => m.values().try_for_each(check_marshal),
        _ => Ok(()),
    }
}

fn json_kind(j: &J) -> &'static str {
    match j {
        J::Null => "null",
        J::Bool => "bool",
        J::Number(_) => "number",
        J::Str(_) => "string",
        J::Arr(_) => "array",
        J::Obj(_) => "object",
    }
}

const METADATA_TYPE: &str = r#"struct { Name string "json:\"name\""; Annotations map[string]string "json:\"annotations\"" }"#;

fn field_error(j: &J, strukt: &str, field: &str, ty: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field {strukt}.{field} of type {ty}",
        json_kind(j)
    )
}

/// Reads the head out of the JSON, as Go's JSON decoder fills Helm's head struct; the
/// first misfit in key order is the error.
fn decode_head(j: &J) -> Result<Head, String> {
    let mut head = Head::default();
    let fields = match j {
        J::Null => return Ok(head),
        J::Obj(fields) => fields,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type util.SimpleHead",
                json_kind(other)
            ));
        }
    };
    for (key, value) in fields {
        let Some((name, _)) = field(key, HEAD_FIELDS) else {
            continue;
        };
        match *name {
            "apiVersion" | "kind" => {
                let slot = if *name == "kind" {
                    &mut head.kind
                } else {
                    &mut head.api_version
                };
                match value {
                    J::Null => {}
                    J::Str(s) => *slot = s.clone(),
                    other => return Err(field_error(other, "SimpleHead", name, "string")),
                }
            }
            _ => match value {
                J::Null => head.metadata = None,
                J::Obj(meta) => {
                    let m = head.metadata.get_or_insert_with(Default::default);
                    decode_metadata(meta, m)?;
                }
                other => return Err(field_error(other, "SimpleHead", "metadata", METADATA_TYPE)),
            },
        }
    }
    Ok(head)
}

fn decode_metadata(fields: &BTreeMap<String, J>, m: &mut HeadMetadata) -> Result<(), String> {
    for (key, value) in fields {
        let Some((name, _)) = field(key, METADATA_FIELDS) else {
            continue;
        };
        if *name == "name" {
            match value {
                J::Null => {}
                J::Str(s) => m.name = s.clone(),
                other => return Err(field_error(other, "", "metadata.name", "string")),
            }
            continue;
        }
        match value {
            J::Null => m.annotations = None,
            J::Obj(entries) => {
                let annotations = m.annotations.get_or_insert_with(Default::default);
                for (k, v) in entries {
                    match v {
                        J::Null => {
                            annotations.insert(k.clone(), String::new());
                        }
                        J::Str(s) => {
                            annotations.insert(k.clone(), s.clone());
                        }
                        other => {
                            return Err(field_error(other, "", "metadata.annotations", "string"));
                        }
                    }
                }
            }
            other => {
                return Err(field_error(
                    other,
                    "",
                    "metadata.annotations",
                    "map[string]string",
                ));
            }
        }
    }
    Ok(())
}

/// `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest text that reads back as the same
/// 32-bit float, in exponent form when the exponent is below -4 or at least 6.
fn format_float32(f: f64) -> String {
    let x = f as f32;
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0");
    }
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let nd = digits.len() as i32;
    if !(-4..6).contains(&exp) {
        let mut out = format!("{sign}{}", &digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let (es, ea) = if exp < 0 { ('-', -exp) } else { ('+', exp) };
        let _ = write!(out, "e{es}{ea:02}");
        return out;
    }
    let dp = exp + 1;
    if dp <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-dp) as usize))
    } else if dp >= nd {
        format!("{sign}{digits}{}", "0".repeat((dp - nd) as usize))
    } else {
        format!(
            "{sign}{}.{}",
            &digits[..dp as usize],
            &digits[dp as usize..]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_order_and_drops_blank_documents() {
        let docs = split_manifests("\n---\na: 1\n---   \n\n--- # c\nb: 2\n---c: 3\n----\n");
        assert_eq!(docs, ["a: 1\n", "# c\nb: 2\n", "c: 3\n", "-\n"]);
    }

    #[test]
    fn float32_text() {
        for (f, want) in [
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.0, "-2"),
            (1e39, "+Inf"),
        ] {
            assert_eq!(format_float32(f), want, "{f}");
        }
    }

    #[test]
    fn patterns() {
        assert!(path_match("templates/*.yaml", "templates/a.yaml"));
        assert!(!path_match("templates/*", "templates/x/a.yaml"));
        assert!(path_match("templates/[a-c].yaml", "templates/b.yaml"));
        assert!(!path_match("templates/[^a-c].yaml", "templates/b.yaml"));
        assert!(!path_match("templates/[", "templates/["));
        assert!(path_match("*/a?yaml", "templates/a.yaml"));
    }
}
