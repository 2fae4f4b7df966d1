//! Turning logical lines into stages and instructions, with BuildKit's rules for each
//! instruction's arguments and flags.

use crate::ast::*;
use crate::expand::unquote;
use crate::lines::*;

/// Parses a Dockerfile.
///
/// Only `ARG` may come before the first `FROM`; those `ARG`s become
/// [`Dockerfile::global_args`]. Words are kept raw: see [`expand`].
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut src = Source::new(text);
    let escape = parse_directives(&src.lines)?;
    let mut df = Dockerfile {
        escape,
        global_args: Vec::new(),
        stages: Vec::new(),
    };
    let mut any = false;
    while let Some(lg) = read_logical(&mut src, escape) {
        any = true;
        let head = split_head(&lg.text, 0, escape);
        if !INSTRUCTIONS.contains(&head.lower.as_str()) {
            return Err(unknown_instruction(&lg, &head));
        }
        if head.lower == "from" {
            let stage = parse_from(&lg, &head, escape, &df.stages)?;
            df.stages.push(stage);
            continue;
        }
        if df.stages.is_empty() && head.lower != "arg" {
            return Err(lg.error(
                head.at,
                format!(
                    "{} comes before the first FROM: only ARG may come before FROM",
                    head.keyword()
                ),
            ));
        }
        let kind = parse_kind(&lg, &head, escape, &mut src)?;
        match df.stages.last_mut() {
            Some(stage) => stage.instructions.push(Instruction {
                line: lg.line,
                kind,
            }),
            None => {
                if let Kind::Arg(decls) = kind {
                    df.global_args.extend(decls);
                }
            }
        }
    }
    if df.stages.is_empty() {
        let message = if any {
            "no FROM instruction: a Dockerfile needs at least one stage"
        } else {
            "the Dockerfile is empty: no FROM instruction"
        };
        // As BuildKit, a file with no instruction is reported at its last line.
        let last = if any { 1 } else { src.lines.len().max(1) };
        return Err(ParseError {
            line: last,
            column: 1,
            message: message.to_string(),
        });
    }
    Ok(df)
}

pub(crate) fn unknown_instruction(lg: &Logical, head: &Head<'_>) -> ParseError {
    let mut message = format!("unknown instruction: {}", head.word);
    let lower = head.lower.as_str();
    if let Some(best) = INSTRUCTIONS
        .iter()
        .filter(|i| **i != lower)
        .min_by_key(|i| edit_distance(i, lower))
        .filter(|i| edit_distance(i, lower) <= 2 && lower.len() >= 3)
    {
        message.push_str(&format!(" (did you mean {}?)", best.to_ascii_uppercase()));
    }
    lg.error(head.at, message)
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

pub(crate) fn is_valid_stage_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

pub(crate) fn parse_from(
    lg: &Logical,
    head: &Head<'_>,
    escape: char,
    stages: &[Stage],
) -> Result<Stage, ParseError> {
    check_flags(lg, head, escape, &[("platform", FlagType::Text)])?;
    let spans = word_spans(head.args, escape);
    let word = |i: usize| &head.args[spans[i].0..spans[i].1];
    let at = |i: usize| head.args_at + spans[i].0;
    let usage = "FROM takes an image and an optional stage name: FROM [--platform=<platform>] <image> [AS <name>]";
    let name = match spans.len() {
        0 => return Err(lg.error(head.at, format!("FROM requires an argument. {usage}"))),
        1 => None,
        3 if word(1).eq_ignore_ascii_case("as") => {
            let name = word(2).to_lowercase();
            if !is_valid_stage_name(&name) {
                return Err(lg.error(
                    at(2),
                    format!(
                        "invalid stage name {:?}: use lowercase letters, digits, '-', '_' and '.', starting with a letter",
                        word(2)
                    ),
                ));
            }
            if let Some(other) = stages.iter().find(|s| s.name.as_deref() == Some(&name)) {
                return Err(lg.error(
                    at(2),
                    format!(
                        "duplicate stage name {name:?}: line {} already names a stage so",
                        other.line
                    ),
                ));
            }
            Some(name)
        }
        2 | 3 => return Err(lg.error(at(1), format!("expected AS after the image. {usage}"))),
        _ => return Err(lg.error(at(3), format!("too many arguments. {usage}"))),
    };
    Ok(Stage {
        index: stages.len(),
        name,
        base: word(0).to_string(),
        platform: head.flag_value("platform"),
        line: lg.line,
        instructions: Vec::new(),
    })
}

/// Lists the flags an instruction takes (`FROM` and `HEALTHCHECK` check their own).
pub(crate) fn flags_taken(lower: &str) -> &'static [(&'static str, FlagType)] {
    match lower {
        "run" => &[
            ("mount", FlagType::Repeated),
            ("network", FlagType::Text),
            ("security", FlagType::Text),
        ],
        "copy" => &[
            ("from", FlagType::Text),
            ("chown", FlagType::Text),
            ("chmod", FlagType::Text),
            ("link", FlagType::Bool),
        ],
        "add" => &[
            ("chown", FlagType::Text),
            ("chmod", FlagType::Text),
            ("link", FlagType::Bool),
        ],
        _ => &[],
    }
}

pub(crate) fn parse_kind(
    lg: &Logical,
    head: &Head<'_>,
    escape: char,
    src: &mut Source<'_>,
) -> Result<Kind, ParseError> {
    let keyword = head.keyword();
    let args = head.args;
    if head.lower != "healthcheck" {
        check_flags(lg, head, escape, flags_taken(&head.lower))?;
    }
    if args.is_empty() {
        return Err(lg.error(head.at, format!("{keyword} requires at least one argument")));
    }
    Ok(match head.lower.as_str() {
        "arg" => {
            let mut decls = Vec::new();
            for (s, e) in word_spans(args, escape) {
                let w = &args[s..e];
                let (name, default) = match w.split_once('=') {
                    Some((n, d)) => (n, Some(d.to_string())),
                    None => (w, None),
                };
                if name.is_empty() {
                    return Err(lg.error(head.args_at + s, "ARG names can not be blank"));
                }
                decls.push(ArgDecl {
                    name: name.to_string(),
                    default,
                });
            }
            Kind::Arg(decls)
        }
        "env" => Kind::Env(parse_pairs(lg, head, escape)?),
        "label" => Kind::Label(parse_pairs(lg, head, escape)?),
        "copy" | "add" => {
            let copy = parse_copy(lg, head, escape, src)?;
            if head.lower == "copy" {
                Kind::Copy(copy)
            } else {
                Kind::Add(copy)
            }
        }
        "run" => {
            let flags = head.flags.iter().map(|f| f.raw.to_string()).collect();
            let (command, heredocs) = match json_strings(args) {
                Some(list) if list.is_empty() => {
                    return Err(lg.error(head.args_at, "RUN requires a command"));
                }
                Some(list) => (Command::Exec(list), Vec::new()),
                None => {
                    let starts = heredoc_starts(args, head.args_at, escape);
                    let heredocs = read_heredocs(lg, starts, src)?;
                    (Command::Shell(args.to_string()), heredocs)
                }
            };
            Kind::Run(Run {
                command,
                heredocs,
                flags,
            })
        }
        "cmd" => Kind::Cmd(command_of(args)),
        "entrypoint" => Kind::Entrypoint(command_of(args)),
        "shell" => match json_strings(args) {
            Some(list) if !list.is_empty() => Kind::Shell(list),
            Some(_) => {
                return Err(lg.error(head.args_at, "SHELL requires at least one argument"));
            }
            None => {
                return Err(lg.error(
                        head.args_at,
                        r#"SHELL requires the arguments to be in JSON form, e.g. SHELL ["/bin/sh", "-c"]"#,
                    ));
            }
        },
        "workdir" => Kind::Workdir(args.to_string()),
        "user" => Kind::User(args.to_string()),
        "stopsignal" => Kind::StopSignal(args.to_string()),
        "maintainer" => Kind::Maintainer(args.to_string()),
        "expose" => Kind::Expose(
            word_spans(args, escape)
                .into_iter()
                .map(|(s, e)| args[s..e].to_string())
                .collect(),
        ),
        "volume" => {
            let list = match json_strings(args) {
                Some(list) => {
                    if list.is_empty() {
                        return Err(lg.error(head.args_at, "VOLUME requires at least one argument"));
                    }
                    if list.iter().any(|v| v.is_empty()) {
                        return Err(lg.error(head.args_at, "VOLUME paths can not be empty strings"));
                    }
                    list
                }
                None => word_spans(args, escape)
                    .into_iter()
                    .map(|(s, e)| args[s..e].to_string())
                    .collect(),
            };
            Kind::Volume(list)
        }
        "healthcheck" => Kind::Healthcheck(parse_healthcheck(lg, head, escape)?),
        "onbuild" => Kind::Onbuild(parse_onbuild(lg, head, escape, src)?),
        other => {
            // Not reachable: FROM is handled by the caller and the rest are listed above.
            return Err(lg.error(head.at, format!("unexpected instruction {other}")));
        }
    })
}

/// Parses `ENV`/`LABEL` arguments: `k=v ...`, or the legacy `k value with spaces`.
pub(crate) fn parse_pairs(
    lg: &Logical,
    head: &Head<'_>,
    escape: char,
) -> Result<Vec<(String, String)>, ParseError> {
    let keyword = head.keyword();
    let args = head.args;
    let spans = word_spans(args, escape);
    let first = &args[spans[0].0..spans[0].1];
    if !first.contains('=') {
        // Legacy form: the name, then everything after the first run of spaces.
        let Some(split) = args.find(char::is_whitespace) else {
            return Err(lg.error(
                head.args_at,
                format!("{keyword} {first}: expected {first}=<value> or {first} <value>"),
            ));
        };
        let value = args[split..].trim_start();
        return Ok(vec![(args[..split].to_string(), value.to_string())]);
    }
    let mut pairs = Vec::new();
    for (s, e) in spans {
        let w = &args[s..e];
        let Some((k, v)) = w.split_once('=') else {
            return Err(lg.error(
                head.args_at + s,
                format!("{keyword}: can't find = in {w:?}; each word must be name=value"),
            ));
        };
        if k.is_empty() {
            return Err(lg.error(
                head.args_at + s,
                format!("{keyword} names can not be blank"),
            ));
        }
        pairs.push((k.to_string(), v.to_string()));
    }
    Ok(pairs)
}

pub(crate) fn parse_copy(
    lg: &Logical,
    head: &Head<'_>,
    escape: char,
    src: &mut Source<'_>,
) -> Result<Copy, ParseError> {
    let keyword = head.keyword();
    let link = head.flag("link").is_some_and(|f| {
        f.value.is_none_or(|v| {
            unquote(v, escape)
                .unwrap_or_default()
                .eq_ignore_ascii_case("true")
        })
    });
    let too_few = || {
        lg.error(
            head.at,
            format!("{keyword} requires at least two arguments: one or more sources, then the destination"),
        )
    };
    let args = head.args;
    let (sources, dest, heredocs, json_form) = match json_strings(args) {
        Some(mut list) => {
            let Some(dest) = list.pop().filter(|_| !list.is_empty()) else {
                return Err(too_few());
            };
            (list, dest, Vec::new(), true)
        }
        None => {
            // BuildKit splits COPY and ADD arguments at blanks only; quotes and escapes
            // are read later, word by word, when the words are expanded.
            let spans = blank_spans(args);
            let Some((&(ds, de), sources)) = spans.split_last().filter(|(_, s)| !s.is_empty())
            else {
                return Err(too_few());
            };
            if heredoc_word(&args[ds..de]).is_some() {
                return Err(lg.error(
                    head.args_at + ds,
                    format!("{keyword} cannot take a heredoc as its destination"),
                ));
            }
            let mut names = Vec::new();
            let mut starts = Vec::new();
            for &(s, e) in sources {
                let w = &args[s..e];
                match heredoc_word(w) {
                    Some((name, expand, strip_tabs)) => {
                        names.push(name.clone());
                        starts.push(HeredocStart {
                            name,
                            expand,
                            strip_tabs,
                            at: head.args_at + s,
                        });
                    }
                    None => names.push(w.to_string()),
                }
            }
            let heredocs = read_heredocs(lg, starts, src)?;
            (names, args[ds..de].to_string(), heredocs, false)
        }
    };
    Ok(Copy {
        sources,
        dest,
        from: head.flag_value("from"),
        chown: head.flag_value("chown"),
        chmod: head.flag_value("chmod"),
        link,
        heredocs,
        json_form,
    })
}

pub(crate) fn parse_healthcheck(
    lg: &Logical,
    head: &Head<'_>,
    escape: char,
) -> Result<Healthcheck, ParseError> {
    let args = head.args;
    let type_end = args.find(char::is_whitespace).unwrap_or(args.len());
    let kind = args[..type_end].to_ascii_uppercase();
    let rest = args[type_end..].trim_start();
    let rest_at = head.args_at + (args.len() - rest.len());
    match kind.as_str() {
        "NONE" => {
            if let Some(f) = head.flags.first() {
                return Err(lg.error(f.at, "HEALTHCHECK NONE takes no flags"));
            }
            if !rest.is_empty() {
                return Err(lg.error(rest_at, "HEALTHCHECK NONE takes no arguments"));
            }
            Ok(Healthcheck::None)
        }
        "CMD" => {
            check_flags(
                lg,
                head,
                escape,
                &[
                    ("interval", FlagType::Text),
                    ("timeout", FlagType::Text),
                    ("start-period", FlagType::Text),
                    ("start-interval", FlagType::Text),
                    ("retries", FlagType::Text),
                ],
            )?;
            let test = command_of(rest);
            if rest.is_empty() || test == Command::Exec(Vec::new()) {
                return Err(lg.error(head.args_at, "missing command after HEALTHCHECK CMD"));
            }
            let value = |name: &str| -> Result<Option<(String, usize)>, ParseError> {
                let Some(f) = head.flag(name) else {
                    return Ok(None);
                };
                let raw = f.value.unwrap_or_default();
                let v =
                    unquote(raw, escape).map_err(|m| lg.error(f.at, format!("--{name}: {m}")))?;
                Ok((!v.is_empty()).then_some((v, f.at)))
            };
            let duration = |name: &str| -> Result<Option<String>, ParseError> {
                let Some((v, at)) = value(name)? else {
                    return Ok(None);
                };
                let nanos = crate::parse_go_duration(&v)
                    .map_err(|m| lg.error(at, format!("HEALTHCHECK --{name}={v}: {m}")))?;
                // BuildKit's rule: zero means the default, anything else at least 1ms.
                if nanos != 0 && nanos < 1_000_000 {
                    return Err(lg.error(
                        at,
                        format!("HEALTHCHECK --{name}={v}: the duration cannot be less than 1ms"),
                    ));
                }
                Ok(Some(v))
            };
            let retries = match value("retries")? {
                None => None,
                Some((v, at)) => Some(
                    v.parse::<u32>()
                        .ok()
                        .filter(|r| i32::try_from(*r).is_ok())
                        .ok_or_else(|| {
                            lg.error(
                                at,
                                format!(
                                    "HEALTHCHECK --retries={v}: expected a count (a whole number, not negative)"
                                ),
                            )
                        })?,
                ),
            };
            Ok(Healthcheck::Check {
                test,
                interval: duration("interval")?,
                timeout: duration("timeout")?,
                start_period: duration("start-period")?,
                start_interval: duration("start-interval")?,
                retries,
            })
        }
        _ => Err(lg.error(
            head.args_at,
            format!(
                "unknown type {:?} in HEALTHCHECK (try CMD or NONE)",
                &args[..type_end]
            ),
        )),
    }
}

pub(crate) fn parse_onbuild(
    lg: &Logical,
    head: &Head<'_>,
    escape: char,
    src: &mut Source<'_>,
) -> Result<String, ParseError> {
    let trigger = split_head(&lg.text, head.args_at, escape);
    match trigger.lower.as_str() {
        "onbuild" => {
            return Err(lg.error(
                trigger.at,
                "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
            ));
        }
        "from" | "maintainer" => {
            return Err(lg.error(
                trigger.at,
                format!("{} isn't allowed as an ONBUILD trigger", trigger.keyword()),
            ));
        }
        t if !INSTRUCTIONS.contains(&t) => return Err(unknown_instruction(lg, &trigger)),
        _ => {}
    }
    let mut text = head.args.to_string();
    if matches!(trigger.lower.as_str(), "run" | "copy" | "add")
        && json_strings(trigger.args).is_none()
    {
        let starts = heredoc_starts(trigger.args, trigger.args_at, escape);
        for h in read_heredocs(lg, starts, src)? {
            text.push('\n');
            text.push_str(&h.content);
            text.push_str(&h.name);
        }
    }
    Ok(text)
}

/// Splits at runs of spaces, tabs, vertical tabs, form feeds and carriage returns, as
/// BuildKit's `parseStringsWhitespaceDelimited` does; returns the byte spans of the words.
pub(crate) fn blank_spans(text: &str) -> Vec<(usize, usize)> {
    let blank = |c: char| matches!(c, ' ' | '\t' | '\x0b' | '\x0c' | '\r');
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (blank(c), start) {
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}
