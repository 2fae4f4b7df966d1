//! `werf.yaml` rendered as a Go template before it is read. What is plain text/template
//! and sprig (variables, `set`, `range`, `define`/`include`, `tpl`, parse and run errors
//! with their places) is checked against Go itself through `scripts/tmpl-oracle`; werf's
//! own functions (`env` with its default, `required`, `.Files`, the template directory,
//! `.Commit`) are checked against the behaviour werf's config parser has.

use serde_json::{Value, json};
use slipway_testkit::ask_template_oracle;
use slipway_werf::{ConfigError, TemplateOptions, parse_with, templating};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A project folder with a Dockerfile.
struct Project {
    tmp: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        Project { tmp }
    }

    fn file(&self, rel: &str, text: &str) -> &Project {
        let p = self.tmp.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
        self
    }

    fn werf(&self) -> PathBuf {
        self.tmp.path().join("werf.yaml")
    }

    fn render(&self, text: &str, opts: &TemplateOptions) -> Result<String, ConfigError> {
        templating::render(text, &self.werf(), opts)
    }
}

/// Options whose `env` sees only `vars`.
fn env(vars: &[(&str, &str)]) -> TemplateOptions {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    TemplateOptions {
        env: "production".into(),
        lookup_env: Arc::new(move |name| vars.get(name).cloned()),
        ..TemplateOptions::default()
    }
}

/// Go's answer for `template` parsed as `werfConfig` with the `funcs` table, run on
/// `data`.
fn go(template: &str, data: &Value, funcs: &str) -> Value {
    let answers = ask_template_oracle(&[json!({
        "template": template,
        "name": "werfConfig",
        "data": data,
        "funcs": funcs,
    })]);
    answers[0].clone()
}

/// Go's error text with the template's name replaced by the file, as slipway reports it.
fn go_error_at(answer: &Value, file: &Path) -> String {
    let e = answer["error"]
        .as_str()
        .unwrap_or_else(|| panic!("Go rendered it: {answer}"));
    e.replace("template: werfConfig:", &format!("{}:", file.display()))
        .replace("HELM_ERR_START", "")
        .replace("HELM_ERR_END", "")
}

/// Partials whose text outside their `define`s is empty, so Go gives the same output
/// whether they are a separate file of the set or appended to `werf.yaml`.
const PARTIALS: &str = r#"{{ define "image" -}}
image: {{ .name }}
dockerfile: Dockerfile
args:
  BASE: {{ .base }}
  INDEX: "{{ .index }}"
{{- end }}
{{- define "project" }}{{ .Project | default "demo" }}{{ end -}}
"#;

const WERF_YAML: &str = r#"{{ $_ := set . "Base" "alpine:3.20" }}
{{- $_ := set . "Images" (list "api" "worker" "cron") -}}
project: {{ include "project" . }}
configVersion: 1
build:
  cacheVersion: {{ tpl "{{ .Env }}-{{ len .Images }}" . | quote }}
{{- range $i, $name := .Images }}
---
{{ include "image" (dict "name" $name "base" $.Base "index" $i) }}
{{- end }}
"#;

#[test]
fn partials_set_range_include_and_tpl_render_as_go_renders_them() {
    let p = Project::new();
    p.file(".werf/partials.tmpl", PARTIALS);
    let opts = env(&[]);
    let ours = p.render(WERF_YAML, &opts).unwrap();
    // In Go's set, the partial's definitions are in the same set; appended to the text
    // they are too, and add no text of their own.
    let answer = go(
        &format!("{WERF_YAML}{PARTIALS}"),
        &json!({"Env": "production"}),
        "helm",
    );
    assert_eq!(
        Some(ours.as_str()),
        answer["text"].as_str(),
        "Go answered {answer}"
    );

    let config = parse_with(WERF_YAML, &p.werf(), &opts).unwrap();
    let names: Vec<&str> = config.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["api", "worker", "cron"]);
    assert_eq!(config.project, "demo");
    assert_eq!(config.cache_version.as_deref(), Some("production-3"));
    for (i, image) in config.images.iter().enumerate() {
        assert_eq!(image.args["BASE"], "alpine:3.20");
        assert_eq!(image.args["INDEX"], i.to_string());
    }
}

#[test]
fn template_files_are_found_anywhere_below_the_template_directory() {
    let p = Project::new();
    p.file(".werf/a/b/deep.tmpl", r#"{{ define "deep" }}deep{{ end }}"#)
        .file(".werf/whole.tmpl", "image: whole-{{ .Env }}")
        .file(
            ".werf/notes.txt",
            r#"{{ define "deep" }}not a template file{{ end }}"#,
        )
        .file("elsewhere/x.tmpl", r#"{{ define "x" }}x{{ end }}"#)
        .file("custom/c.tmpl", r#"{{ define "deep" }}custom{{ end }}"#);
    let opts = env(&[]);
    let out = p
        .render(
            r#"{{ include "deep" . }} {{ include "whole.tmpl" . }}"#,
            &opts,
        )
        .unwrap();
    assert_eq!(out, "deep image: whole-production");
    let e = p.render(r#"{{ include "x" . }}"#, &opts).unwrap_err();
    assert!(e.to_string().contains(r#"no template "x""#), "{e}");
    let custom = TemplateOptions {
        templates_dir: Some("custom".into()),
        ..env(&[])
    };
    assert_eq!(
        p.render(r#"{{ include "deep" . }}"#, &custom).unwrap(),
        "custom"
    );
}

#[test]
fn env_reads_a_variable_or_its_default_as_werf_does() {
    let p = Project::new();
    let opts = env(&[("SET_ONE", "v1"), ("EMPTY", "")]);
    let cases = [
        (r#"{{ env "SET_ONE" }}"#, "v1"),
        (r#"{{ env "SET_ONE" "d" }}"#, "v1"),
        // Unset and no default: empty (werf with loose giterminism; slipway has none).
        (r#"[{{ env "UNSET_ONE" }}]"#, "[]"),
        (r#"{{ env "UNSET_ONE" "fallback" }}"#, "fallback"),
        // Set but empty: the default wins.
        (r#"{{ env "EMPTY" "d" }}"#, "d"),
        (r#"[{{ env "EMPTY" }}]"#, "[]"),
        (r#"{{ .Env }}"#, "production"),
    ];
    for (text, want) in cases {
        assert_eq!(p.render(text, &opts).unwrap(), want, "{text}");
    }
    let e = p
        .render(r#"{{ env "SET_ONE" "a" "b" }}"#, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("error calling env: more than 1 optional argument prohibited"),
        "{e}"
    );
    // werf removes expandenv from sprig's table.
    let e = p.render(r#"{{ expandenv "$HOME" }}"#, &opts).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            r#"{}:1: function "expandenv" not defined"#,
            p.werf().display()
        )
    );
}

#[test]
fn required_fails_with_the_file_line_and_message() {
    let p = Project::new();
    let opts = env(&[]);
    // The place and the node text are Go's.
    let text = "project: demo\nconfigVersion: 1\n---\nimage: {{ required \"REGISTRY must be set\" .Registry }}\n";
    let e = parse_with(text, &p.werf(), &opts).unwrap_err();
    assert!(matches!(e, ConfigError::Template { .. }), "{e:?}");
    let answer = go(text, &json!({}), "helm");
    assert_eq!(e.to_string(), go_error_at(&answer, &p.werf()));
    assert!(
        e.to_string()
            .starts_with(&format!("{}:4:", p.werf().display()))
    );

    // With werf's env: an unset variable is empty, which required refuses.
    let text = "project: demo\nconfigVersion: 1\n---\nimage: app\nargs:\n  R: {{ required \"REGISTRY must be set\" (env \"REGISTRY\") }}\n";
    let e = parse_with(text, &p.werf(), &opts).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}:6:8: ", p.werf().display())),
        "{e}"
    );
    assert!(
        e.ends_with("error calling required: REGISTRY must be set"),
        "{e}"
    );
    let ok = parse_with(text, &p.werf(), &env(&[("REGISTRY", "r")])).unwrap();
    assert_eq!(ok.images[0].args["R"], "r");
}

#[test]
fn unknown_functions_and_bad_syntax_are_errors_at_their_line_as_go_reports_them() {
    let p = Project::new();
    let opts = env(&[]);
    for text in [
        "project: demo\nconfigVersion: 1\n---\nimage: {{ nosuch \"x\" }}\n",
        "project: demo\n{{ if true }}\nconfigVersion: 1\n",
        "project: {{ .Env.x }}\n",
        "a: {{ index .Env 20 }}",
    ] {
        let e = p.render(text, &opts).unwrap_err();
        assert!(matches!(e, ConfigError::Template { .. }), "{e:?}");
        let answer = go(text, &json!({"Env": "production"}), "sprig");
        assert_eq!(e.to_string(), go_error_at(&answer, &p.werf()), "{text}");
    }
    let e = p
        .render("a\nb: {{ nosuch \"x\" }}\n", &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains(":2: function \"nosuch\" not defined"), "{e}");
}

#[test]
fn errors_inside_template_files_name_the_file() {
    let p = Project::new();
    p.file(
        ".werf/parts/bad.tmpl",
        "{{ define \"bad\" }}\nimage: {{ required \"name needed\" .name }}\n{{ end }}",
    );
    let e = p
        .render("{{ include \"bad\" (dict) }}\n", &env(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("{}:1:3: ", p.werf().display())),
        "{e}"
    );
    let partial = Path::new(".werf/parts/bad.tmpl");
    let inner = format!(
        "{}:2:10: executing \"bad\" at <required",
        p.werf().parent().unwrap().join(partial).display()
    );
    assert!(e.contains(&inner), "{e} lacks {inner}");
    assert!(e.ends_with("error calling required: name needed"), "{e}");

    p.file(".werf/broken.tmpl", "ok\n{{ end }}\n");
    let e = p.render("x", &env(&[])).unwrap_err().to_string();
    let broken = p.werf().parent().unwrap().join(".werf/broken.tmpl");
    assert_eq!(e, format!("{}:2: unexpected {{{{end}}}}", broken.display()));
}

#[test]
fn files_are_read_from_the_project_folder() {
    let p = Project::new();
    p.file("version.txt", "1.2.3\n")
        .file("conf/a.yaml", "a: 1\n")
        .file("conf/sub/b.yaml", "b: 2\n")
        .file("conf/c.txt", "c")
        .file("modules/m1/images/x/Dockerfile", "FROM x\n")
        .file("modules/m1/images/x/werf.inc.yaml", "inc\n")
        .file("modules/m1/images/x/other", "no\n");
    let opts = env(&[]);
    let cases = [
        (r#"{{ .Files.Get "version.txt" | trim }}"#, "1.2.3"),
        (
            r#"{{ .Files.Get "./conf/../version.txt" | trim }}"#,
            "1.2.3",
        ),
        (
            r#"{{ .Files.Exists "conf" }} {{ .Files.Exists "conf/a.yaml" }} {{ .Files.Exists "nope" }}"#,
            "true true false",
        ),
        (
            r#"{{ .Files.IsDir "conf" }} {{ .Files.IsDir "conf/a.yaml" }} {{ .Files.IsDir "nope" }}"#,
            "true false false",
        ),
        (
            r#"{{ range $p, $c := .Files.Glob "conf/*.yaml" }}{{ $p }}={{ $c | trim }};{{ end }}"#,
            "conf/a.yaml=a: 1;",
        ),
        (
            r#"{{ range $p, $_ := .Files.Glob "conf/**/*.yaml" }}{{ $p }};{{ end }}"#,
            "conf/a.yaml;conf/sub/b.yaml;",
        ),
        // A folder's name, or `*` after it, takes everything below it.
        (
            r#"{{ range $p, $_ := .Files.Glob "conf/*" }}{{ $p }};{{ end }}"#,
            "conf/a.yaml;conf/c.txt;conf/sub/b.yaml;",
        ),
        (
            r#"{{ range $p, $_ := .Files.Glob "modules/*/images/*/{Dockerfile,werf.inc.yaml}" }}{{ base $p }};{{ end }}"#,
            "Dockerfile;werf.inc.yaml;",
        ),
        (
            r#"{{ $v := .Files.Get "conf/sub/b.yaml" | fromYaml }}{{ $v.b }}"#,
            "2",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(p.render(text, &opts).unwrap(), want, "{text}");
    }
    let missing = p
        .render("x: {{ .Files.Get \"missing.txt\" }}", &opts)
        .unwrap_err()
        .to_string();
    assert!(
        missing.ends_with(
            r#"error calling Get: {{ .Files.Get "missing.txt" }}: the file "missing.txt" not found in the project directory"#
        ),
        "{missing}"
    );
    let none = p
        .render(r#"{{ .Files.Glob "nothing/*" }}"#, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        none.ends_with(r#"error calling Glob: {{ .Files.Glob "nothing/*" }}: no matches found"#),
        "{none}"
    );
    // A path that climbs out of the project folder is not in it.
    let outside = p
        .render(r#"{{ .Files.Get "../etc/passwd" }}"#, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        outside.contains("not found in the project directory"),
        "{outside}"
    );
}

#[test]
fn commit_fields_are_refused_by_name() {
    let p = Project::new();
    let e = p
        .render(
            "project: demo\ncacheVersion: {{ .Commit.Hash }}\n",
            &env(&[]),
        )
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&format!("{}:2:", p.werf().display())), "{e}");
    assert!(
        e.contains(".Commit.Hash is not supported by slipway"),
        "{e}"
    );
}
