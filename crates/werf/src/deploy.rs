//! The release and namespace a deploy goes to, as werf chooses them: the `--release` and
//! `--namespace` options win; otherwise the meta document's `deploy.helmRelease` and
//! `deploy.namespace` templates, else `[[ project ]]-[[ env ]]` (`[[ project ]]` without
//! an environment), rendered and then slugged by werf's rules unless `helmReleaseSlug` or
//! `namespaceSlug` is `false`.

/// The meta document's `deploy:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deploy {
    /// `helmChartDir`: the chart folder, relative to the werf.yaml folder (`.helm` when
    /// unset).
    pub helm_chart_dir: Option<String>,
    /// `helmRelease`: the release name template.
    pub helm_release: Option<String>,
    /// `helmReleaseSlug`: whether the rendered release is slugged (default `true`).
    pub helm_release_slug: Option<bool>,
    /// `namespace`: the namespace template.
    pub namespace: Option<String>,
    /// `namespaceSlug`: whether the rendered namespace is slugged (default `true`).
    pub namespace_slug: Option<bool>,
    /// `helmChartConfig.appVersion` (or the older `appVersion`): the chart's appVersion
    /// (`.Chart.AppVersion`) for render and converge, over the chart's own; `None` when
    /// unset or empty.
    pub app_version: Option<String>,
}

/// Why a release or namespace cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {why}")]
pub struct DeployError {
    /// What was being worked out, naming its source (`--namespace`, `deploy.helmRelease`).
    pub what: String,
    /// What is wrong.
    pub why: String,
}

/// What a deploy template may use.
struct Names<'a> {
    project: &'a str,
    env: &'a str,
    /// Only the release template sees the namespace.
    namespace: Option<&'a str>,
}

/// One of the two names werf chooses the same way, from its own settings.
struct Choice<'a> {
    /// The option that wins, as `--namespace` / `--release`.
    flag: &'static str,
    option: Option<&'a str>,
    /// The werf.yaml key with the template, and its template if set.
    key: &'static str,
    template: Option<&'a str>,
    /// The werf.yaml key that turns slugging off, and its value.
    slug_key: &'static str,
    slug: Option<bool>,
    /// What the name is, for messages.
    what: &'static str,
    /// The check a name must pass unslugged, and the slug that makes one pass.
    check: fn(&str) -> Result<(), String>,
    slugged: fn(&str) -> Result<String, String>,
}

/// Chooses a name as werf does: the option, else the template (or werf's default)
/// rendered with `names`, then slugged unless switched off, or checked.
fn choose(c: &Choice<'_>, names: &Names<'_>) -> Result<String, DeployError> {
    if let Some(given) = c.option.filter(|n| !n.is_empty()) {
        (c.check)(given).map_err(|why| DeployError {
            what: format!("{} `{given}`", c.flag),
            why,
        })?;
        return Ok(given.to_string());
    }
    let template = default_template(c.template, names.env);
    let source = source(c.key, c.template.is_some(), &template);
    let rendered = render(&template, names).map_err(|why| DeployError {
        what: source.clone(),
        why,
    })?;
    if rendered.is_empty() {
        return Err(DeployError {
            what: source,
            why: format!("renders empty; {} cannot be empty", c.what),
        });
    }
    if c.slug.unwrap_or(true) {
        return (c.slugged)(&rendered).map_err(|why| DeployError { what: source, why });
    }
    (c.check)(&rendered).map_err(|why| DeployError {
        what: format!("{source} ({}: false)", c.slug_key),
        why: format!("renders `{rendered}`: {why}"),
    })?;
    Ok(rendered)
}

/// Returns the namespace werf would deploy to.
///
/// # Errors
/// An option or rendered name that is not a DNS-1123 label (when not slugged), a template
/// that uses more than `project` and `env`, or a name that renders empty.
pub fn namespace(
    project: &str,
    deploy: &Deploy,
    env: Option<&str>,
    option: Option<&str>,
) -> Result<String, DeployError> {
    let choice = Choice {
        flag: "--namespace",
        option,
        key: "deploy.namespace",
        template: deploy.namespace.as_deref(),
        slug_key: "namespaceSlug",
        slug: deploy.namespace_slug,
        what: "a namespace",
        check: check_namespace,
        slugged: kubernetes_namespace,
    };
    let names = Names {
        project,
        env: env.unwrap_or_default(),
        namespace: None,
    };
    choose(&choice, &names)
}

/// Returns the release werf would deploy, for a deploy into `namespace`.
///
/// # Errors
/// As [`namespace`], with DNS-1123 subdomain rules of at most 53 characters.
pub fn release(
    project: &str,
    deploy: &Deploy,
    env: Option<&str>,
    option: Option<&str>,
    namespace: &str,
) -> Result<String, DeployError> {
    let choice = Choice {
        flag: "--release",
        option,
        key: "deploy.helmRelease",
        template: deploy.helm_release.as_deref(),
        slug_key: "helmReleaseSlug",
        slug: deploy.helm_release_slug,
        what: "a release name",
        check: check_release,
        slugged: helm_release,
    };
    let names = Names {
        project,
        env: env.unwrap_or_default(),
        namespace: Some(namespace),
    };
    choose(&choice, &names)
}

fn default_template(set: Option<&str>, env: &str) -> String {
    match set {
        Some(t) => t.to_string(),
        None if env.is_empty() => "[[ project ]]".into(),
        None => "[[ project ]]-[[ env ]]".into(),
    }
}

fn source(key: &str, set: bool, template: &str) -> String {
    if set {
        format!("werf.yaml `{key}: {template}`")
    } else {
        format!("the default {key} `{template}`")
    }
}

/// Renders a deploy template for `project` and `env`, and with `namespace` as a release
/// template is rendered (`None` for a namespace template).
///
/// # Errors
/// An action other than the names given, or one that is not closed.
pub fn render_template(
    template: &str,
    project: &str,
    env: &str,
    namespace: Option<&str>,
) -> Result<String, String> {
    render(
        template,
        &Names {
            project,
            env,
            namespace,
        },
    )
}

/// Renders a deploy template: text with `[[ project ]]`, `[[ env ]]` and, for the release,
/// `[[ namespace ]]` actions (werf renders these with Go's text/template and `[[ ]]`
/// delimiters; `[[-` and `-]]` trim blanks as Go does). Anything else in an action is
/// refused by name rather than rendered differently from werf.
fn render(template: &str, names: &Names<'_>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find("[[") {
        let mut text = &rest[..open];
        let mut inside = &rest[open + 2..];
        // `[[- ` trims the blanks before the action; it needs a blank after the dash.
        if let Some(after) = inside.strip_prefix('-')
            && after.starts_with([' ', '\t', '\r', '\n'])
        {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            inside = after;
        }
        out.push_str(text);
        let Some(close) = inside.find("]]") else {
            return Err("an action opened with `[[` is never closed with `]]`".into());
        };
        let mut action = &inside[..close];
        rest = &inside[close + 2..];
        // ` -]]` trims the blanks after the action.
        if let Some(before) = action.strip_suffix('-')
            && before.ends_with([' ', '\t', '\r', '\n'])
        {
            action = before;
            rest = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        match action.trim() {
            "project" => out.push_str(names.project),
            "env" => out.push_str(names.env),
            "namespace" if names.namespace.is_some() => {
                out.push_str(names.namespace.unwrap_or_default());
            }
            other => {
                let known = if names.namespace.is_some() {
                    "[[ project ]], [[ env ]] and [[ namespace ]]"
                } else {
                    "[[ project ]] and [[ env ]]"
                };
                return Err(format!(
                    "the action `[[ {other} ]]` is not supported; slipway renders {known} here (werf's other template functions are not implemented yet)"
                ));
            }
        }
    }
    // A lone `]]` is text, as in Go.
    out.push_str(rest);
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// werf's slugs.

const NAMESPACE_MAX: usize = 63;
const RELEASE_MAX: usize = 53;

/// Slugs a namespace as werf does: a valid DNS-1123 label of at most 63 characters stays
/// as it is; anything else becomes its slugified text, cut to fit, a dash and a hash of
/// the original.
///
/// # Errors
/// A name holding letters beyond ASCII (werf transliterates them with a table slipway
/// does not carry).
pub fn kubernetes_namespace(name: &str) -> Result<String, String> {
    if check_namespace(name).is_ok() {
        return Ok(name.to_string());
    }
    slug(name, NAMESPACE_MAX)
}

/// Slugs a release name as werf does: a valid DNS-1123 subdomain of at most 53 characters
/// stays as it is; anything else is slugged as [`kubernetes_namespace`] does, to 53.
///
/// # Errors
/// As [`kubernetes_namespace`].
pub fn helm_release(name: &str) -> Result<String, String> {
    if check_release(name).is_ok() {
        return Ok(name.to_string());
    }
    slug(name, RELEASE_MAX)
}

/// werf's slug of `data` in at most `max` characters: its slugified text cut to leave
/// room, a dash, and the MurmurHash3 of `data` in hex.
///
/// # Errors
/// As [`slugify`].
pub fn slug(data: &str, max: usize) -> Result<String, String> {
    let slugged = slugify(data)?;
    let hash = format!("{:x}", murmur3_32(data.as_bytes()));
    let mut out = String::new();
    if !slugged.is_empty() {
        let keep = max.saturating_sub(hash.len() + 1).min(slugged.len());
        let cropped = &slugged[..keep];
        // werf drops the last character when the cut text *starts* with a dash (which
        // slugified text never does); kept for identical output.
        if cropped.starts_with('-') {
            out.push_str(&cropped[..cropped.len() - 1]);
        } else {
            out.push_str(cropped);
        }
        out.push('-');
    }
    out.push_str(&hash);
    Ok(out)
}

/// werf's slugify: lowercases ASCII letters, keeps digits, turns `&(){}[]-_,.;:=+<>~/`
/// and spaces into dashes, drops other ASCII, and never lets a dash start, end or repeat.
///
/// # Errors
/// A letter beyond ASCII, which werf transliterates with a table slipway does not carry.
pub fn slugify(data: &str) -> Result<String, String> {
    let mut out = String::with_capacity(data.len());
    for c in data.chars() {
        let mapped = match c {
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            '&' | '(' | ')' | '{' | '}' | '[' | ']' | '-' | '_' | ',' | '.' | ';' | ':' | '='
            | '+' | '<' | '>' | '~' | '/' | ' ' => '-',
            c if c.is_ascii() => continue,
            c => {
                return Err(format!(
                    "`{data}` needs a slug, and it holds `{c}`; slipway slugs ASCII names only (werf would transliterate it), so write the name in ASCII"
                ));
            }
        };
        if mapped == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(mapped);
    }
    if out.ends_with('-') {
        out.pop();
    }
    Ok(out)
}

/// MurmurHash3, x86 32-bit variant, seed 0: the hash werf appends to a slug.
#[must_use]
pub fn murmur3_32(data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mix = |mut k: u32| {
        k = k.wrapping_mul(C1);
        k = k.rotate_left(15);
        k.wrapping_mul(C2)
    };
    let mut h: u32 = 0;
    let mut blocks = data.chunks_exact(4);
    for b in &mut blocks {
        h ^= mix(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        h = h.rotate_left(13);
        h = h.wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, &b) in tail.iter().enumerate() {
            k |= u32::from(b) << (8 * i);
        }
        h ^= mix(k);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// Checks a DNS-1123 label (lowercase letters, digits and inner dashes) of at most 63
/// characters, as Kubernetes checks a namespace name.
///
/// # Errors
/// What is wrong with it.
pub fn check_namespace(name: &str) -> Result<(), String> {
    if name.len() > NAMESPACE_MAX {
        return Err(format!(
            "a namespace is at most {NAMESPACE_MAX} characters; this one has {}",
            name.len()
        ));
    }
    if !is_label(name) {
        return Err(
            "a namespace is a DNS-1123 label: lowercase letters, digits and `-`, starting and ending with a letter or digit"
                .into(),
        );
    }
    Ok(())
}

/// Checks a release name: a DNS-1123 subdomain (labels joined by `.`) of at most 53
/// characters, as werf checks it.
///
/// # Errors
/// What is wrong with it.
pub fn check_release(name: &str) -> Result<(), String> {
    if name.len() > RELEASE_MAX {
        return Err(format!(
            "a release name is at most {RELEASE_MAX} characters; this one has {}",
            name.len()
        ));
    }
    if name.is_empty() || !name.split('.').all(is_label) {
        return Err(
            "a release name is a DNS-1123 subdomain: lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit"
                .into(),
        );
    }
    Ok(())
}

fn is_label(s: &str) -> bool {
    let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let b = s.as_bytes();
    !b.is_empty() && ok(b[0]) && ok(b[b.len() - 1]) && b.iter().all(|&c| ok(c) || c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d() -> Deploy {
        Deploy::default()
    }

    #[test]
    fn defaults_are_the_project_and_the_environment() {
        assert_eq!(namespace("demo", &d(), None, None).unwrap(), "demo");
        assert_eq!(
            namespace("demo", &d(), Some("production"), None).unwrap(),
            "demo-production"
        );
        assert_eq!(
            release("demo", &d(), Some("staging"), None, "ns").unwrap(),
            "demo-staging"
        );
        // The options win, and are checked rather than slugged.
        assert_eq!(
            namespace("demo", &d(), Some("x"), Some("given")).unwrap(),
            "given"
        );
        let e = namespace("demo", &d(), None, Some("Bad_NS")).unwrap_err();
        assert!(e.to_string().starts_with("--namespace `Bad_NS`: "), "{e}");
        let e = release("demo", &d(), None, Some(&"r".repeat(54)), "ns").unwrap_err();
        assert!(e.to_string().contains("at most 53"), "{e}");
        assert_eq!(
            release("demo", &d(), None, Some("a.b-c"), "ns").unwrap(),
            "a.b-c"
        );
    }

    #[test]
    fn templates_render_project_env_and_namespace_with_go_trimming() {
        let deploy = Deploy {
            helm_release: Some("[[ namespace ]]-[[project]]-rel".into()),
            namespace: Some("team-[[ env ]]  [[- \" \" ]]".into()),
            ..d()
        };
        assert_eq!(
            release("demo", &deploy, Some("prod"), None, "apps").unwrap(),
            "apps-demo-rel"
        );
        // Anything but the three names is refused by name, never rendered differently.
        let e = namespace("demo", &deploy, Some("prod"), None).unwrap_err();
        assert!(
            e.to_string().contains("`[[ \" \" ]]` is not supported")
                && e.to_string().contains("deploy.namespace"),
            "{e}"
        );
        let trimmed = Deploy {
            namespace: Some("team-[[ env ]] \n [[- env -]]".into()),
            ..d()
        };
        assert_eq!(
            namespace("demo", &trimmed, Some("prod"), None).unwrap(),
            "team-prodprod"
        );
        for (template, says) in [
            // The namespace is not known yet when the namespace is rendered.
            ("[[ namespace ]]", "[[ namespace ]]"),
            ("x-[[ env", "never closed"),
            ("[[ env ]]", "renders empty"),
        ] {
            let deploy = Deploy {
                namespace: Some(template.into()),
                ..d()
            };
            let e = namespace("demo", &deploy, None, None).unwrap_err();
            assert!(e.to_string().contains(says), "{template}: {e}");
        }
    }

    #[test]
    fn names_that_are_not_valid_get_werfs_slug() {
        let hash = |s: &str| format!("{:x}", murmur3_32(s.as_bytes()));
        // Valid names stay as they are.
        assert_eq!(kubernetes_namespace("demo-prod").unwrap(), "demo-prod");
        assert_eq!(helm_release("demo.prod").unwrap(), "demo.prod");
        // A release may hold dots; a namespace may not.
        assert_eq!(
            kubernetes_namespace("demo.prod").unwrap(),
            format!("demo-prod-{}", hash("demo.prod"))
        );
        assert_eq!(
            namespace("My_App", &d(), Some("Prod"), None).unwrap(),
            format!("my-app-prod-{}", hash("My_App-Prod"))
        );
        // Dashes never start, end or repeat; other ASCII punctuation is dropped.
        assert_eq!(slugify("--a__b!!c--").unwrap(), "a-bc");
        assert_eq!(slugify("a / b").unwrap(), "a-b");
        // Long names are cut so that the hash fits in the limit.
        let long = "x".repeat(70);
        let n = kubernetes_namespace(&long).unwrap();
        assert_eq!(n.len(), 63 - 8 + hash(&long).len());
        assert!(n.ends_with(&format!("-{}", hash(&long))));
        let r = helm_release(&long).unwrap();
        assert!(r.len() <= 53 && r.starts_with("xxx"), "{r}");
        // Beyond ASCII, werf transliterates with a table slipway does not carry.
        let e = kubernetes_namespace("café").unwrap_err();
        assert!(e.contains("`é`") && e.contains("ASCII"), "{e}");
        // Without slugging, an invalid rendered name is an error naming the setting.
        let strict = Deploy {
            namespace: Some("[[ project ]]_[[ env ]]".into()),
            namespace_slug: Some(false),
            ..d()
        };
        let e = namespace("demo", &strict, Some("prod"), None).unwrap_err();
        assert!(
            e.to_string().contains("namespaceSlug: false") && e.to_string().contains("demo_prod"),
            "{e}"
        );
    }

    #[test]
    fn murmur3_has_the_published_values() {
        assert_eq!(murmur3_32(b""), 0);
        assert_eq!(murmur3_32(b"hello"), 0x248b_fa47);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog"),
            0x2e4f_f723
        );
    }
}
