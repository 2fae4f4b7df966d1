//! The canonical one-line text of an instruction, behind every stage digest and in image
//! history.

use serde_json::Value;

use crate::ast::*;

impl Kind {
    /// Returns the instruction's keyword, uppercase (`COPY`, `RUN`, ...).
    pub fn keyword(&self) -> &'static str {
        match self {
            Kind::Arg(_) => "ARG",
            Kind::Env(_) => "ENV",
            Kind::Label(_) => "LABEL",
            Kind::Copy(_) => "COPY",
            Kind::Add(_) => "ADD",
            Kind::Run(_) => "RUN",
            Kind::Workdir(_) => "WORKDIR",
            Kind::User(_) => "USER",
            Kind::StopSignal(_) => "STOPSIGNAL",
            Kind::Expose(_) => "EXPOSE",
            Kind::Volume(_) => "VOLUME",
            Kind::Entrypoint(_) => "ENTRYPOINT",
            Kind::Cmd(_) => "CMD",
            Kind::Shell(_) => "SHELL",
            Kind::Healthcheck(_) => "HEALTHCHECK",
            Kind::Onbuild(_) => "ONBUILD",
            Kind::Maintainer(_) => "MAINTAINER",
        }
    }
}

pub(crate) fn json_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

pub(crate) fn json_list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    Value::Array(
        items
            .into_iter()
            .map(|s| Value::String(s.clone()))
            .collect(),
    )
    .to_string()
}

/// Writes a word as is when that cannot be misread (no whitespace, control characters or
/// double quotes; no leading `[` or `-`; `=` only when `allow_eq`), else JSON-encoded.
pub(crate) fn word(s: &str, allow_eq: bool) -> String {
    let plain = !s.is_empty()
        && !s.starts_with(['[', '-'])
        && s.chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && (allow_eq || c != '='));
    if plain { s.to_string() } else { json_string(s) }
}

/// Writes free text (a shell command, a path) as is when that cannot be misread, else
/// JSON-encoded.
pub(crate) fn text(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.starts_with(['[', '-', '"'])
        && s.trim() == s
        && !s.chars().any(char::is_control);
    if plain { s.to_string() } else { json_string(s) }
}

pub(crate) fn command_text(c: &Command, force_json: bool) -> String {
    match c {
        Command::Exec(list) => json_list(list),
        Command::Shell(s) if force_json => json_string(s),
        Command::Shell(s) => text(s),
    }
}

pub(crate) fn push_heredocs(out: &mut String, heredocs: &[Heredoc]) {
    for h in heredocs {
        out.push_str(&format!(
            " <<{{\"name\":{},\"expand\":{},\"strip_tabs\":{},\"content\":{}}}",
            json_string(&h.name),
            h.expand,
            h.strip_tabs,
            json_string(&h.content)
        ));
    }
}

pub(crate) fn push_flag(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        out.push_str(&format!(" --{name}={}", word(v, true)));
    }
}

impl Instruction {
    /// Returns a canonical one-line text of the instruction.
    ///
    /// Every field is included: flags in a fixed order (`RUN` flags sorted by name, repeated
    /// ones in their order), lists as JSON arrays, heredoc bodies as JSON objects; a value
    /// that could be misread is JSON-encoded. How the source was laid out (spacing between
    /// words, flag order, line continuations) does not show, while any difference in a field
    /// does. For example `COPY --from=builder --chown=1000:1000 ["a","b","/dst"]`.
    pub fn normalized(&self) -> String {
        let mut out = String::from(self.kind.keyword());
        match &self.kind {
            Kind::Arg(decls) => {
                for d in decls {
                    out.push(' ');
                    out.push_str(&word(&d.name, false));
                    if let Some(v) = &d.default {
                        out.push('=');
                        out.push_str(&word(v, true));
                    }
                }
            }
            Kind::Env(pairs) | Kind::Label(pairs) => {
                for (k, v) in pairs {
                    out.push_str(&format!(" {}={}", word(k, false), word(v, true)));
                }
            }
            Kind::Copy(c) | Kind::Add(c) => {
                push_flag(&mut out, "from", c.from.as_deref());
                push_flag(&mut out, "chown", c.chown.as_deref());
                push_flag(&mut out, "chmod", c.chmod.as_deref());
                if c.link {
                    out.push_str(" --link");
                }
                out.push(' ');
                out.push_str(&json_list(c.sources.iter().chain([&c.dest])));
                if c.json_form {
                    out.push_str(" (json form)");
                }
                push_heredocs(&mut out, &c.heredocs);
            }
            Kind::Run(r) => {
                let mut flags: Vec<(&str, Option<&str>)> = r
                    .flags
                    .iter()
                    .map(|f| {
                        let f = f.strip_prefix("--").unwrap_or(f);
                        match f.split_once('=') {
                            Some((n, v)) => (n, Some(v)),
                            None => (f, None),
                        }
                    })
                    .collect();
                flags.sort_by(|a, b| a.0.cmp(b.0));
                for (name, value) in flags {
                    out.push_str(" --");
                    out.push_str(&word(name, false));
                    if let Some(v) = value {
                        out.push('=');
                        out.push_str(&word(v, true));
                    }
                }
                out.push(' ');
                out.push_str(&command_text(&r.command, !r.heredocs.is_empty()));
                push_heredocs(&mut out, &r.heredocs);
            }
            Kind::Workdir(s)
            | Kind::User(s)
            | Kind::StopSignal(s)
            | Kind::Onbuild(s)
            | Kind::Maintainer(s) => {
                out.push(' ');
                out.push_str(&text(s));
            }
            Kind::Expose(list) | Kind::Volume(list) | Kind::Shell(list) => {
                out.push(' ');
                out.push_str(&json_list(list));
            }
            Kind::Entrypoint(c) | Kind::Cmd(c) => {
                out.push(' ');
                out.push_str(&command_text(c, false));
            }
            Kind::Healthcheck(Healthcheck::None) => out.push_str(" NONE"),
            Kind::Healthcheck(Healthcheck::Check {
                test,
                interval,
                timeout,
                start_period,
                start_interval,
                retries,
            }) => {
                push_flag(&mut out, "interval", interval.as_deref());
                push_flag(&mut out, "timeout", timeout.as_deref());
                push_flag(&mut out, "start-period", start_period.as_deref());
                push_flag(&mut out, "start-interval", start_interval.as_deref());
                if let Some(r) = retries {
                    out.push_str(&format!(" --retries={r}"));
                }
                out.push_str(" CMD ");
                out.push_str(&command_text(test, false));
            }
        }
        out
    }
}
