//! Helm's engine: every template of a chart and its subcharts parsed into one set, in
//! Helm's order, then each non-partial template run on its own chart's scope, with
//! Helm's functions (`include`, `tpl`, `required`, `fail`, `lookup`, the YAML, JSON and
//! TOML ones) and objects (`.Files`, `.Capabilities`, `.Template`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use slipway_template::{
    Arity, Error as TemplateError, Funcs, MissingKey, Object, ParseAhead, Template, Type, Value,
};

use crate::manifests::HeadReader;
use crate::model::{Chart, File};

/// The Kubernetes version templates see when none is given (Helm v4.3.2's default).
pub const DEFAULT_KUBE_VERSION: &str = "v1.37.0";

/// The API versions templates see by default: the group versions Helm v4.3.2 knows from
/// its Kubernetes client, in its order.
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "lifecycle.k8s.io/v1alpha1",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template does not parse, or running one failed; the message is worded as Helm
    /// words it (`parse error at (FILE:LINE): ...`, `execution error at (FILE:LINE:COL):
    /// ...`).
    #[error("{0}")]
    Template(String),
    /// The chart uses something slipway does not do; exit 2, never wrong output.
    #[error("{what} is not supported by slipway (at {position})")]
    Unsupported {
        /// What.
        what: String,
        /// `FILE:LINE:COL`.
        position: String,
    },
}

/// `.Capabilities.KubeVersion`.
pub struct KubeVersion {
    /// As given (`v1.30.0`, `v1.33.4-gke.1`).
    pub version: String,
    /// `v` + major.minor.patch.
    pub normalized: String,
    /// The major number.
    pub major: String,
    /// The minor number.
    pub minor: String,
}

impl KubeVersion {
    /// Reads a version as Kubernetes' `ParseGeneric` does (`1.30`, `v1.30.1`, `1.30.1-x`).
    pub fn parse(text: &str) -> Result<KubeVersion, String> {
        let bad = || format!("could not parse {text:?} as version");
        let body = text.strip_prefix('v').unwrap_or(text);
        let core_end = body
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(body.len());
        let core = &body[..core_end];
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        let nums: Vec<u64> = parts
            .iter()
            .map(|p| p.parse::<u64>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        if parts.iter().any(|p| p.len() > 1 && p.starts_with('0')) {
            return Err(bad());
        }
        let patch = nums.get(2).copied().unwrap_or(0);
        let version = if text.starts_with('v') {
            text.to_owned()
        } else {
            format!("v{text}")
        };
        Ok(KubeVersion {
            version,
            normalized: format!("v{}.{}.{patch}", nums[0], nums[1]),
            major: nums[0].to_string(),
            minor: nums[1].to_string(),
        })
    }
}

impl Object for KubeVersion {
    fn type_name(&self) -> String {
        "common.KubeVersion".into()
    }
    fn get(&self, name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        Some(Ok(Value::str(match name {
            "Version" => &self.version,
            "Major" => &self.major,
            "Minor" => &self.minor,
            "GitVersion" => &self.version,
            "String" => &self.normalized,
            _ => return None,
        })))
    }
    fn is_method(&self, name: &str) -> bool {
        matches!(name, "GitVersion" | "String")
    }
    fn display(&self) -> String {
        self.normalized.clone()
    }
}

/// `.Capabilities.APIVersions`: a list with a `Has` method.
pub struct VersionSet(pub Vec<String>);

impl Object for VersionSet {
    fn type_name(&self) -> String {
        "common.VersionSet".into()
    }
    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "Has" => Some(match args {
                [Value::String(s)] => Ok(Value::Bool(self.0.iter().any(|v| **v == **s))),
                [other] => Err(format!(
                    "wrong type for value; expected string; got {}",
                    other.type_name()
                )),
                _ => Err(format!(
                    "wrong number of args for Has: want 1 got {}",
                    args.len()
                )),
            }),
            _ => None,
        }
    }
    fn is_method(&self, name: &str) -> bool {
        name == "Has"
    }
    fn display(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
}

/// `.Capabilities`.
pub struct Capabilities {
    /// `.Capabilities.KubeVersion`.
    pub kube_version: Rc<KubeVersion>,
    /// `.Capabilities.APIVersions`.
    pub api_versions: Rc<VersionSet>,
}

impl Capabilities {
    /// The capabilities `helm template` gives: a Kubernetes version (Helm's default when
    /// `None`) and the default API versions plus `extra`.
    pub fn new(kube_version: Option<&str>, extra: &[String]) -> Result<Capabilities, String> {
        let kube = KubeVersion::parse(kube_version.unwrap_or(DEFAULT_KUBE_VERSION))?;
        let mut apis: Vec<String> = DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect();
        apis.extend(extra.iter().cloned());
        Ok(Capabilities {
            kube_version: Rc::new(kube),
            api_versions: Rc::new(VersionSet(apis)),
        })
    }
}

impl Object for Capabilities {
    fn type_name(&self) -> String {
        "*common.Capabilities".into()
    }
    fn get(&self, name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        Some(Ok(match name {
            "KubeVersion" => Value::Object(self.kube_version.clone()),
            "APIVersions" => Value::Object(self.api_versions.clone()),
            "HelmVersion" => {
                let mut m = BTreeMap::new();
                m.insert("Version".into(), Value::str("v4.3.2"));
                m.insert("GitCommit".into(), Value::str(""));
                m.insert("GitTreeState".into(), Value::str(""));
                m.insert("GoVersion".into(), Value::str(""));
                m.insert("KubeClientVersion".into(), Value::str("v1.37"));
                Value::map(m)
            }
            _ => return None,
        }))
    }
    fn display(&self) -> String {
        format!(
            "&{{{{{} {} {} {}}} {} {{v4.3.2    v1.37}}}}",
            self.kube_version.version,
            self.kube_version.normalized,
            self.kube_version.major,
            self.kube_version.minor,
            self.api_versions.display()
        )
    }
}

/// `.Files`: the chart's non-template files, with Helm's methods.
pub struct Files(pub BTreeMap<String, Rc<[u8]>>);

impl Files {
    /// The files of a chart, as Helm's `newFiles` collects them.
    pub fn of(files: &[File]) -> Files {
        Files(
            files
                .iter()
                .map(|f| (f.name.clone(), Rc::from(f.data.as_slice())))
                .collect(),
        )
    }

    fn as_yaml(&self, encode: impl Fn(&[u8]) -> String) -> Result<Value, String> {
        let mut m = BTreeMap::new();
        for (k, v) in &self.0 {
            let base = k.rsplit('/').next().unwrap_or(k).to_owned();
            m.insert(base, Value::from(encode(v)));
        }
        Ok(Value::from(
            crate::yaml::to_yaml(&Value::map(m)).unwrap_or_default(),
        ))
    }
}

impl Object for Files {
    fn type_name(&self) -> String {
        "engine.files".into()
    }
    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let arg = |i: usize| -> Result<String, String> {
            match args.get(i) {
                Some(Value::String(s)) => Ok(s.to_string()),
                Some(other) => Err(format!(
                    "wrong type for value; expected string; got {}",
                    other.type_name()
                )),
                None => Err(format!("wrong number of args for {name}: want 1 got 0")),
            }
        };
        let r = match name {
            "GetBytes" => arg(0).map(|n| {
                Value::Bytes(self.0.get(&n).cloned().unwrap_or_else(|| Rc::from(&[][..])))
            }),
            "Get" => arg(0).map(|n| {
                Value::from(
                    String::from_utf8_lossy(self.0.get(&n).map_or(&[][..], |v| v)).into_owned(),
                )
            }),
            "Glob" => arg(0).map(|p| {
                let g = crate::files_glob::Glob::new(&p)
                    .unwrap_or_else(|_| crate::files_glob::Glob::new("**").expect("** compiles"));
                Value::Object(Rc::new(Files(
                    self.0
                        .iter()
                        .filter(|(n, _)| g.matches(n))
                        .map(|(n, d)| (n.clone(), d.clone()))
                        .collect(),
                )))
            }),
            "Lines" => arg(0).map(|p| match self.0.get(&p) {
                None => Value::list(Vec::new()),
                Some(d) => {
                    let mut s = String::from_utf8_lossy(d).into_owned();
                    if s.ends_with('\n') {
                        s.pop();
                    }
                    Value::list(s.split('\n').map(Value::str).collect())
                }
            }),
            "AsConfig" => self.as_yaml(|v| String::from_utf8_lossy(v).into_owned()),
            "AsSecrets" => self.as_yaml(crate::files_glob::base64),
            _ => {
                // `files` is a Go map type: any other name is a key.
                return Some(Ok(match self.0.get(name) {
                    Some(d) => Value::Bytes(d.clone()),
                    None => Value::Nil,
                }));
            }
        };
        Some(r)
    }
    fn is_method(&self, name: &str) -> bool {
        matches!(
            name,
            "GetBytes" | "Get" | "Glob" | "Lines" | "AsConfig" | "AsSecrets"
        )
    }
    fn entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(
            self.0
                .iter()
                .map(|(k, v)| (Value::str(k), Value::Bytes(v.clone())))
                .collect(),
        )
    }
    fn display(&self) -> String {
        let inner: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| {
                let bytes: Vec<String> = v.iter().map(|b| b.to_string()).collect();
                format!("{k}:[{}]", bytes.join(" "))
            })
            .collect();
        format!("map[{}]", inner.join(" "))
    }
}

/// One template to run: its path, text, and the scope (`.`) of its chart.
struct Renderable {
    text: String,
    scope: Value,
    base_path: String,
}

/// Every template of `chart` and its subcharts, keyed by `CHART/templates/FILE`
/// (`CHART/charts/SUB/templates/FILE` for subcharts), with each chart's scope:
/// Helm's `allTemplates`. `top` is the map `to_render_values` built for the root.
fn all_templates(chart: &Chart, top: &Value, out: &mut BTreeMap<String, Renderable>) -> Value {
    let get = |k: &str| match top {
        Value::Map(m) => m.borrow().get(k).cloned().unwrap_or(Value::Nil),
        _ => Value::Nil,
    };
    let subcharts = Value::empty_map();
    let mut next = BTreeMap::new();
    next.insert("Chart".to_owned(), chart_metadata(chart));
    next.insert(
        "Files".to_owned(),
        Value::Object(Rc::new(Files::of(&chart.files))),
    );
    next.insert("Release".to_owned(), get("Release"));
    next.insert("Capabilities".to_owned(), get("Capabilities"));
    next.insert("Subcharts".to_owned(), subcharts.clone());
    let values = if chart.parents.is_empty() {
        get("Values")
    } else {
        match get("Values") {
            Value::Map(m) => match m.borrow().get(&chart.metadata.name) {
                Some(v @ Value::Map(_)) => v.clone(),
                _ => Value::empty_map(),
            },
            _ => Value::empty_map(),
        }
    };
    next.insert("Values".to_owned(), values);
    let next = Value::map(next);
    for sub in &chart.dependencies {
        let scope = all_templates(sub, &next, out);
        if let Value::Map(m) = &subcharts {
            m.borrow_mut().insert(sub.metadata.name.clone(), scope);
        }
    }
    let prefix = chart.full_path();
    for t in &chart.templates {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        if chart.is_library() && !base.starts_with('_') {
            continue;
        }
        out.insert(
            format!("{prefix}/{}", t.name),
            Renderable {
                text: crate::model::text_of(&t.data),
                scope: next.clone(),
                base_path: format!("{prefix}/templates"),
            },
        );
    }
    next
}

/// `.Chart`: the metadata as a map keyed by Go field names, plus `IsRoot`, as Helm v4
/// builds it.
pub fn chart_metadata(chart: &Chart) -> Value {
    let md = &chart.metadata;
    let strs = |v: &[String]| Value::list(v.iter().map(Value::str).collect());
    let mut m = BTreeMap::new();
    m.insert("Name".into(), Value::str(&md.name));
    m.insert("Home".into(), Value::str(&md.home));
    m.insert("Sources".into(), strs(&md.sources));
    m.insert("Version".into(), Value::str(&md.version));
    m.insert("Description".into(), Value::str(&md.description));
    m.insert("Keywords".into(), strs(&md.keywords));
    m.insert(
        "Maintainers".into(),
        Value::list(
            md.maintainers
                .iter()
                .map(|x| {
                    let mut mm = BTreeMap::new();
                    mm.insert("Name".into(), Value::str(&x.name));
                    mm.insert("Email".into(), Value::str(&x.email));
                    mm.insert("URL".into(), Value::str(&x.url));
                    Value::map(mm)
                })
                .collect(),
        ),
    );
    m.insert("Icon".into(), Value::str(&md.icon));
    m.insert("APIVersion".into(), Value::str(&md.api_version));
    m.insert("Condition".into(), Value::str(&md.condition));
    m.insert("Tags".into(), Value::str(&md.tags));
    m.insert("AppVersion".into(), Value::str(&md.app_version));
    m.insert("Deprecated".into(), Value::Bool(md.deprecated));
    m.insert(
        "Annotations".into(),
        Value::map(
            md.annotations
                .iter()
                .map(|(k, v)| (k.clone(), Value::str(v)))
                .collect(),
        ),
    );
    m.insert("KubeVersion".into(), Value::str(&md.kube_version));
    m.insert(
        "Dependencies".into(),
        Value::list(
            md.dependencies
                .iter()
                .map(|d| {
                    let mut dm = BTreeMap::new();
                    dm.insert("Name".into(), Value::str(&d.name));
                    dm.insert("Version".into(), Value::str(&d.version));
                    dm.insert("Repository".into(), Value::str(&d.repository));
                    dm.insert("Condition".into(), Value::str(&d.condition));
                    dm.insert("Tags".into(), strs(&d.tags));
                    dm.insert("Enabled".into(), Value::Bool(d.enabled));
                    dm.insert("ImportValues".into(), Value::list(d.import_values.clone()));
                    dm.insert("Alias".into(), Value::str(&d.alias));
                    Value::map(dm)
                })
                .collect(),
        ),
    );
    m.insert("Type".into(), Value::str(&md.chart_type));
    m.insert("IsRoot".into(), Value::Bool(chart.parents.is_empty()));
    Value::map(m)
}

/// Helm's sort for parsing: deeper paths first, then names in reverse order, so the
/// root chart's definitions (parsed last) win.
fn parse_order(names: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then_with(|| b.cmp(a))
    });
    v
}

const WARN_START: &str = "HELM_ERR_START";
const WARN_END: &str = "HELM_ERR_END";

/// Every function a Helm template has: Go's, sprig's (without `env`/`expandenv`) and
/// Helm's own. `include` and `tpl` are added per render.
pub fn helm_funcs() -> Funcs {
    let mut f = Funcs::builtins();
    crate::sprig::register(&mut f);
    crate::helm_funcs::register(&mut f);
    f.add_plain("required", Arity::Exact(2), |a| match &a[1] {
        Value::Nil => Err(format!(
            "{WARN_START}{}{WARN_END}",
            a[0].as_str().unwrap_or("")
        )),
        Value::String(s) if s.is_empty() => Err(format!(
            "{WARN_START}{}{WARN_END}",
            a[0].as_str().unwrap_or("")
        )),
        v => Ok(v.clone()),
    });
    f.typed("required", &[Type::String, Type::Any], None);
    f.add_plain("fail", Arity::Exact(1), |a| {
        Err(format!(
            "{WARN_START}{}{WARN_END}",
            a[0].as_str().unwrap_or("")
        ))
    });
    f.typed("fail", &[Type::String], None);
    f.add_plain("lookup", Arity::Exact(4), |_| Ok(Value::empty_map()));
    f.typed(
        "lookup",
        &[Type::String, Type::String, Type::String, Type::String],
        None,
    );
    f.add_plain("getHostByName", Arity::Exact(1), |_| Ok(Value::str("")));
    f.typed("getHostByName", &[Type::String], None);
    f
}

/// Renders every template of `chart` (values already coalesced into `top`, the map
/// `to_render_values` built): Helm's `engine.Render`. Returns each rendered template's
/// text by path, partials (`_*`) left out, `<no value>` removed.
pub fn render(chart: &Chart, top: &Value) -> Result<BTreeMap<String, String>, RenderError> {
    render_leaving(chart, top, false)
}

/// [`render`], leaving the template set and each template's values unfreed with `exiting`
/// (see [`crate::helm::Request::exiting`]).
pub(crate) fn render_leaving(
    chart: &Chart,
    top: &Value,
    exiting: bool,
) -> Result<BTreeMap<String, String>, RenderError> {
    let mut templates = BTreeMap::new();
    all_templates(chart, top, &mut templates);
    let mut set = template_set();
    let names: Vec<&String> = templates.keys().collect();
    let order = parse_order(&names);
    let texts: Vec<(&str, &str)> = order
        .iter()
        .map(|name| (name.as_str(), templates[name].text.as_str()))
        .collect();
    let (parsed, heads) = match PARSE_AHEAD.with(|ahead| ahead.borrow_mut().take()) {
        // The parsing thread reads the heads of the documents once it is done parsing.
        Some((ahead, heads)) => (set.parse_all_ahead(&texts, ahead), heads),
        None => (set.parse_all(&texts), crate::manifests::HeadReader::start()),
    };
    parsed.map_err(|(i, e)| parse_error(&order[i], e))?;
    let mut rendered = BTreeMap::new();
    // The documents are read for sorting on another thread as they come.
    for name in &order {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.starts_with('_') {
            continue;
        }
        let r = &templates[name];
        if let Value::Map(m) = &r.scope {
            let mut t = BTreeMap::new();
            t.insert("Name".to_owned(), Value::str(name));
            t.insert("BasePath".to_owned(), Value::str(&r.base_path));
            m.borrow_mut().insert("Template".to_owned(), Value::map(t));
        }
        let out = set.execute(name, &r.scope).map_err(exec_error)?;
        let out = without_no_value(out);
        heads.file(name, &out);
        rendered.insert(name.clone(), out);
    }
    heads.hand_over();
    if exiting {
        std::mem::forget(set);
        std::mem::forget(templates);
    }
    Ok(rendered)
}

thread_local! {
    /// The templates [`parse_ahead`] started parsing for this thread's next render, and
    /// the reader of rendered documents' heads that the same thread becomes afterwards.
    static PARSE_AHEAD: RefCell<Option<(ParseAhead, HeadReader)>> = const { RefCell::new(None) };
}

/// Starts parsing a chart's templates on another thread, given as (path as the render
/// names it, text); the next [`render`] on this thread takes the trees whose path and
/// text it renders instead of parsing them again. The chart loader calls this as soon as
/// it has the files, so that parsing overlaps with reading values. The thread then reads
/// the heads of the rendered documents (one thread for both: starting and ending threads
/// costs more than it saves here, on virtual machines most of all).
pub(crate) fn parse_ahead(texts: Vec<(String, String)>) {
    let (heads, read_heads) = HeadReader::deferred();
    // Compiling the semantic-version patterns is the slowest first call a template can
    // make. It is done once the texts are parsed, so that it overlaps with rendering
    // instead of holding the render up: a render that gets to `semverCompare` first waits
    // for it, as it would have waited for the parse.
    let semver = texts.iter().any(|(_, text)| text.contains("semver"));
    let ahead = ParseAhead::start(
        template_set,
        move || {
            if semver {
                crate::sprig::prepare_semver();
            }
            read_heads();
        },
        texts,
    );
    PARSE_AHEAD.with(|slot| *slot.borrow_mut() = Some((ahead, heads)));
}

/// The template set every render uses: [`helm_funcs`] plus `include` and `tpl`, with
/// `missingkey=zero`.
fn template_set() -> Template {
    let mut funcs = helm_funcs();
    let included: Rc<RefCell<slipway_template::hash::FastMap<String, usize>>> = Rc::default();
    {
        let included = included.clone();
        funcs.add("include", Arity::Exact(2), move |call, a| {
            let name = a[0].as_str().unwrap_or("");
            let leave = || {
                if let Some(c) = included.borrow_mut().get_mut(name) {
                    *c -= 1;
                }
            };
            let count = {
                let mut m = included.borrow_mut();
                match m.get_mut(name) {
                    Some(c) => {
                        *c += 1;
                        *c
                    }
                    None => {
                        m.insert(name.to_owned(), 1);
                        1
                    }
                }
            };
            if count > 1001 {
                leave();
                return Err(format!(
                    "rendering template has a nested reference name: {name}: unable to execute template"
                ));
            }
            let r = call.include(name, a[1].clone());
            leave();
            r.map(Value::from)
        });
        funcs.typed("include", &[Type::String, Type::Any], None);
    }
    funcs.add("tpl", Arity::Exact(2), |call, a| {
        let text = a[0].as_str().unwrap_or("").to_owned();
        match call.tpl("gotpl", &text, a[1].clone()) {
            Ok(out) => Ok(Value::from(out.replace("<no value>", ""))),
            Err(e) if e.starts_with("template: gotpl:") && !e.contains("executing") => {
                Err(format!(
                    "cannot parse template {}: {e}",
                    slipway_template::fmt::quote(&text)
                ))
            }
            Err(e) => Err(format!(
                "error during tpl function execution for {}: {e}",
                slipway_template::fmt::quote(&text)
            )),
        }
    });
    funcs.typed("tpl", &[Type::String, Type::Any], None);

    let mut set = Template::new(funcs);
    set.missing_key(MissingKey::Zero);
    set
}

/// A rendered text without Go's `<no value>` marks, as Helm removes them (found with a
/// vectorised search, since most texts have none).
fn without_no_value(out: String) -> String {
    const MARK: &str = "<no value>";
    if memchr::memmem::find(out.as_bytes(), MARK.as_bytes()).is_some() {
        out.replace(MARK, "")
    } else {
        out
    }
}

fn unsupported(e: TemplateError) -> Result<RenderError, TemplateError> {
    match e {
        TemplateError::Unsupported { what, position } => {
            Ok(RenderError::Unsupported { what, position })
        }
        other => Err(other),
    }
}

/// Helm's `cleanupParseError`.
fn parse_error(file: &str, e: TemplateError) -> RenderError {
    let e = match unsupported(e) {
        Ok(r) => return r,
        Err(e) => e.to_string(),
    };
    let tokens: Vec<&str> = e.split(": ").collect();
    if tokens.len() == 1 {
        return RenderError::Template(format!("parse error in ({file}): {e}"));
    }
    RenderError::Template(format!(
        "parse error at ({}): {}",
        tokens[1],
        tokens[tokens.len() - 1]
    ))
}

/// Helm's `reformatExecErrorMsg`.
fn exec_error(e: TemplateError) -> RenderError {
    let e = match unsupported(e) {
        Ok(r) => return r,
        Err(e) => e.to_string(),
    };
    let tokens: Vec<&str> = e.splitn(3, ": ").collect();
    if tokens.len() != 3 {
        return RenderError::Template(e);
    }
    if let (Some(start), Some(end)) = (tokens[2].find(WARN_START), tokens[2].rfind(WARN_END))
        && start + WARN_START.len() <= end
    {
        return RenderError::Template(format!(
            "execution error at ({}): {}",
            tokens[1],
            &tokens[2][start + WARN_START.len()..end]
        ));
    }
    // The chain Go unwraps: each "error calling NAME: " that wraps another template
    // error is one more level; a level that is not a template error leaves the message
    // as it is.
    let mut levels = Vec::new();
    let mut rest = e.as_str();
    loop {
        let Some(level) = traceable(rest) else {
            return RenderError::Template(e.clone());
        };
        if levels.last() != Some(&level) {
            levels.push(level);
        }
        match rest.find(": error calling ") {
            Some(i) => {
                let after = &rest[i + ": error calling ".len()..];
                match after.find(": ") {
                    Some(j) => rest = &after[j + 2..],
                    None => break,
                }
                if !rest.starts_with("template: ") {
                    return RenderError::Template(e.clone());
                }
            }
            None => break,
        }
    }
    let mut out = String::new();
    for (location, function, message) in &levels {
        if !location.is_empty() {
            out.push_str(&format!("{location}\n  "));
        }
        if !function.is_empty() {
            out.push_str(&format!("{function}\n    "));
        }
        if !message.is_empty() {
            out.push_str(&format!("{message}\n"));
        }
    }
    RenderError::Template(out.trim().to_owned())
}

/// Helm's `parseTemplateExecErrorString`: (location, executed function, message).
fn traceable(s: &str) -> Option<(String, String, String)> {
    let remainder = s.strip_prefix("template: ")?;
    if remainder.starts_with("no template ") {
        return Some((String::new(), String::new(), s.to_owned()));
    }
    let cut = |m: &str| match m.find(" template:") {
        Some(i) => m[..i].to_owned(),
        None => m.to_owned(),
    };
    if let Some((location, after)) = remainder.split_once(": executing ")
        && let Some(after) = after.strip_prefix('"')
        && let Some(q) = after.find('"')
    {
        let function = &after[..q];
        if let Some(after_at) = after[q + 1..].strip_prefix(" at <")
            && let Some((node, msg)) = after_at.split_once(">: ")
        {
            return Some((
                location.to_owned(),
                format!("executing \"{function}\" at <{node}>:"),
                cut(msg),
            ));
        }
    }
    let sep = remainder.rfind(": ")?;
    Some((
        remainder[..sep].to_owned(),
        String::new(),
        cut(&remainder[sep + 2..]),
    ))
}
