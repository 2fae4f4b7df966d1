//! `werf.yaml` as a Go template, rendered the way werf renders it before the YAML is read.
//!
//! The template set is named `werfConfig`. The template directory's files (`.werf` in the
//! project folder, or the folder given; every `**/*.tmpl` file below it, in walk order)
//! are parsed into the same set first, each under its path inside that folder, so their
//! `define`s can be `include`d from `werf.yaml` and a file can be included whole by its
//! path (`{{ include "artifact/app.tmpl" . }}`). `werf.yaml` is parsed last, so its own
//! definitions win.
//!
//! The functions are Go's, sprig's (without `expandenv`), and werf's: `env` (with an
//! optional default), `include`, `tpl`, `required`, `fromYaml`, and the debug helpers
//! `include_debug`, `tpl_debug` (as `include` and `tpl`), `printf_debug` and `dump_debug`
//! (which print nothing). The data (`.`) is a map holding `.Env` (the `--env` value),
//! `.Files` (`Get`, `Glob`, `Exists`, `IsDir`) and `.Commit`, whose fields need the git
//! commit and are refused by name: slipway reads no git history. Missing map keys print
//! `<no value>`, Go's default, as werf leaves that option alone.
//!
//! werf's giterminism is not applied: files are read from disk, committed or not, and
//! `env` reads any variable (an unset one without a default is empty), which is what werf
//! does with `--loose-giterminism`.

use crate::ConfigError;
use crate::files::{self, Files};
use slipway_template::{Arity, Call, Funcs, Object, Template, Type, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

/// The name werf gives the template set (and `werf.yaml`'s own template).
const ROOT: &str = "werfConfig";

/// Reads an environment variable: `None` when it is not set.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What rendering `werf.yaml` needs besides its text.
#[derive(Clone)]
pub struct TemplateOptions {
    /// `.Env`: the environment name (`--env`); empty when not given, as in werf.
    pub env: String,
    /// The template directory (`--config-templates-dir`), relative to the project folder
    /// unless absolute; `.werf` when `None`.
    pub templates_dir: Option<PathBuf>,
    /// How `env` reads a variable: the process environment by default; tests inject
    /// their own.
    pub lookup_env: EnvLookup,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        TemplateOptions {
            env: String::new(),
            templates_dir: None,
            lookup_env: Arc::new(|name| {
                std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
            }),
        }
    }
}

impl fmt::Debug for TemplateOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateOptions")
            .field("env", &self.env)
            .field("templates_dir", &self.templates_dir)
            .finish_non_exhaustive()
    }
}

/// Adds sprig's functions. One place, so the table werf.yaml sees follows sprig's.
fn add_sprig(funcs: &mut Funcs) {
    slipway_chart::sprig::register(funcs);
}

/// The function table a `werf.yaml` template sees: Go's builtins, sprig's without
/// `expandenv`, and werf's own, with `env` reading through `lookup`.
pub fn werf_funcs(lookup: EnvLookup) -> Funcs {
    let mut sprig = Funcs::builtins();
    add_sprig(&mut sprig);
    // werf deletes expandenv from sprig's table: calling it is "not defined".
    let mut f = Funcs::default();
    for name in sprig.names() {
        if name == "expandenv" {
            continue;
        }
        let func = sprig.get(name).expect("listed").clone();
        if let Some(what) = &func.unsupported {
            f.refuse(name, what);
            continue;
        }
        let body = func.body.clone();
        f.add(name, func.arity, move |call, args| body(call, args));
        f.typed(name, &func.params.0, func.params.1);
    }

    f.add_plain("env", Arity::AtLeast(1), move |a| {
        if a.len() > 2 {
            return Err("more than 1 optional argument prohibited".into());
        }
        let name = slipway_template::fmt::sprint(&a[..1]);
        let fallback = a.get(1).map(|v| v.as_str().unwrap_or_default().to_owned());
        Ok(Value::from(match (lookup(&name), fallback) {
            (None, Some(d)) => d,
            (None, None) => String::new(),
            (Some(v), Some(d)) if v.is_empty() => d,
            (Some(v), _) => v,
        }))
    });
    f.typed("env", &[Type::Any], Some(Type::String));

    let include = |call: &mut Call<'_>, a: &[Value]| -> Result<Value, String> {
        let name = a[0].as_str().unwrap_or_default();
        call.include(name, a[1].clone()).map(Value::from)
    };
    f.add("include", Arity::Exact(2), include);
    f.typed("include", &[Type::String, Type::Any], None);
    f.add("include_debug", Arity::Exact(2), include);
    f.typed("include_debug", &[Type::String, Type::Any], None);

    let tpl = |call: &mut Call<'_>, a: &[Value]| -> Result<Value, String> {
        let text = a[0].as_str().unwrap_or_default();
        call.tpl(&tpl_name(text), text, a[1].clone())
            .map(Value::from)
    };
    f.add("tpl", Arity::Exact(2), tpl);
    f.typed("tpl", &[Type::String, Type::Any], None);
    f.add("tpl_debug", Arity::Exact(2), tpl);
    f.typed("tpl_debug", &[Type::String, Type::Any], None);

    f.add_plain("required", Arity::Exact(2), |a| match &a[1] {
        Value::Nil => Err(a[0].as_str().unwrap_or_default().to_owned()),
        Value::String(s) if s.is_empty() => Err(a[0].as_str().unwrap_or_default().to_owned()),
        v => Ok(v.clone()),
    });
    f.typed("required", &[Type::String, Type::Any], None);

    f.add_plain("fromYaml", Arity::Exact(1), |a| {
        from_yaml(a[0].as_str().unwrap_or_default())
    });
    f.typed("fromYaml", &[Type::String], None);

    f.add_plain("printf_debug", Arity::AtLeast(1), |_| Ok(Value::str("")));
    f.typed("printf_debug", &[Type::String], Some(Type::Any));
    f.add_plain("dump_debug", Arity::Exact(1), |_| Ok(Value::str("")));
    f
}

/// The name werf gives a `tpl` text: `tpl-` and the Adler-32 checksum of the text.
fn tpl_name(text: &str) -> String {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in text.as_bytes() {
        a = (a + u32::from(byte)) % MOD;
        b = (b + a) % MOD;
    }
    format!("tpl-{}", (b << 16) | a)
}

/// werf's `fromYaml`: a YAML mapping decoded into a map (empty text gives an empty map).
fn from_yaml(text: &str) -> Result<Value, String> {
    let node: Option<crate::documents::Node> =
        serde_saphyr::from_str(text).map_err(|e| format!("yaml: {e}"))?;
    match node {
        None | Some(crate::documents::Node::Null) => Ok(Value::empty_map()),
        Some(n @ crate::documents::Node::Map(_)) => Ok(node_value(&n)),
        Some(other) => Err(format!(
            "yaml: unmarshal errors:\n  cannot unmarshal {} into map[string]interface {{}}",
            other.what()
        )),
    }
}

fn node_value(n: &crate::documents::Node) -> Value {
    use crate::documents::Node;
    match n {
        Node::Null => Value::Nil,
        Node::Bool(b) => Value::Bool(*b),
        Node::Int(i) => i64::try_from(*i).map_or(Value::Float(*i as f64), Value::Int),
        Node::Float(x) => Value::Float(*x),
        Node::Str(s) => Value::str(s),
        Node::Seq(items) => Value::list(items.iter().map(|x| node_value(&x.value)).collect()),
        Node::Map(entries) => Value::map(
            entries
                .iter()
                .map(|(k, v)| (k.value.clone(), node_value(&v.value)))
                .collect(),
        ),
    }
}

/// `.Commit`: its fields need the git commit, which slipway does not read.
struct Commit;

impl Object for Commit {
    fn type_name(&self) -> String {
        "map[string]interface {}".into()
    }

    fn get(&self, name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        Some(match name {
            "Hash" | "Date" => Err(format!(
                ".Commit.{name} is not supported by slipway: it reads files from disk and no git \
                 commit; pass the value in a variable and read it with `env`"
            )),
            _ => Ok(Value::Nil),
        })
    }

    fn display(&self) -> String {
        "map[Date:<not read> Hash:<not read>]".into()
    }
}

/// A template of the set and the file it came from, for messages.
struct Source {
    name: String,
    shown: String,
}

/// Renders `text` (the `werf.yaml` at `path`, whose folder is the project folder) as werf
/// does: the template directory's files and `werf.yaml` in one set, werf's functions, and
/// `.Env`, `.Files` and `.Commit` as the data.
///
/// # Errors
/// [`ConfigError::Read`] when a template file cannot be read, and
/// [`ConfigError::Template`] when a template does not parse, fails while running, or
/// calls something slipway does not do; the message starts with the file and line.
pub fn render(text: &str, path: &Path, opts: &TemplateOptions) -> Result<String, ConfigError> {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let project = match abs.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let shown_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::new(),
    };
    let templates_dir = opts
        .templates_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(".werf"));
    let mut sources = vec![Source {
        name: ROOT.to_owned(),
        shown: path.display().to_string(),
    }];
    let mut set = Template::new(werf_funcs(opts.lookup_env.clone()));
    let dir_text = templates_dir.to_string_lossy().into_owned();
    let names =
        files::list(&project, dir_text.trim_end_matches('/'), "**/*.tmpl").map_err(|message| {
            ConfigError::Template {
                path: project.join(&templates_dir),
                message: format!(
                    "{}: unable to read werf config templates: {message}",
                    shown_dir.join(&templates_dir).display()
                ),
            }
        })?;
    let mut partials = Vec::with_capacity(names.len());
    for name in names {
        let file = project.join(&templates_dir).join(&name);
        let data = std::fs::read(&file).map_err(|source| ConfigError::Read {
            path: file.clone(),
            source,
        })?;
        sources.push(Source {
            name: name.clone(),
            shown: shown_dir
                .join(&templates_dir)
                .join(&name)
                .display()
                .to_string(),
        });
        partials.push((name, String::from_utf8_lossy(&data).into_owned()));
    }
    for (name, text) in &partials {
        set.parse(name, text).map_err(|e| describe(e, &sources))?;
    }
    set.parse(ROOT, text).map_err(|e| describe(e, &sources))?;

    let mut data = BTreeMap::new();
    data.insert("Env".to_owned(), Value::str(&opts.env));
    data.insert(
        "Files".to_owned(),
        Value::Object(Rc::new(Files {
            root: project.clone(),
        })),
    );
    data.insert("Commit".to_owned(), Value::Object(Rc::new(Commit)));
    set.execute(ROOT, &Value::map(data))
        .map_err(|e| describe(e, &sources))
}

/// Turns an engine error into a [`ConfigError::Template`] whose message starts with the
/// file (`werf.yaml:12:5: ...`, `.werf/partials.tmpl:3:8: ...`) instead of the template's
/// name in the set.
fn describe(e: slipway_template::Error, sources: &[Source]) -> ConfigError {
    let rename = |text: &str| -> String {
        let mut out = text.to_owned();
        for s in sources {
            out = out.replace(&format!("template: {}:", s.name), &format!("{}:", s.shown));
        }
        out
    };
    let message = match e {
        slipway_template::Error::Unsupported { what, position } => {
            format!(
                "{}: {what} is not supported by slipway",
                rename(&format!("template: {position}"))
            )
        }
        slipway_template::Error::Parse(m) | slipway_template::Error::Exec(m) => rename(&m),
    };
    let at = sources
        .iter()
        .find(|s| message.starts_with(&format!("{}:", s.shown)));
    match at {
        Some(s) => ConfigError::Template {
            path: PathBuf::from(&s.shown),
            message,
        },
        None => {
            let root = &sources[0].shown;
            let message = format!("{root}: {}", message.trim_start_matches("template: "));
            ConfigError::Template {
                path: PathBuf::from(root),
                message,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpl_names_are_adler32() {
        // zlib's Adler-32 of "Wikipedia" is 0x11E60398.
        assert_eq!(tpl_name("Wikipedia"), format!("tpl-{}", 0x11E6_0398u32));
        assert_eq!(tpl_name(""), "tpl-1");
    }
}
