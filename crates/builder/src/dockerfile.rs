//! Parses Dockerfiles the way BuildKit reads them, and expands their shell words.
//!
//! [`parse`] handles parser directives (`# escape=`), comments, line continuations,
//! heredocs, the JSON and shell forms, and the flags of every instruction. Words are kept
//! *raw* (quotes, escapes and `$VAR`s as written): [`expand`] turns one into its value once
//! the variables are known, as BuildKit does when it runs the instruction.
//!
//! [`Instruction::normalized`] gives a canonical one-line text of an instruction, for cache
//! digests and image history.

use serde_json::Value;

/// Lists the instructions BuildKit knows, lowercase.
const INSTRUCTIONS: [&str; 18] = [
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// Lists the `COPY`/`ADD` flags BuildKit has that slipway does not implement.
const UNSUPPORTED_COPY_FLAGS: [&str; 4] = ["parents", "exclude", "checksum", "keep-git-dir"];

/// Holds a parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// Names the escape character: `\` unless an `# escape=` directive chose `` ` ``.
    pub escape: char,
    /// Lists the `ARG`s declared before the first `FROM`, in order.
    pub global_args: Vec<ArgDecl>,
    /// Lists the stages (one per `FROM`), in order.
    pub stages: Vec<Stage>,
}

/// Declares one build argument: `name` or `name=default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// Names the argument.
    pub name: String,
    /// Holds the default as a raw word (quotes kept, not expanded), if one was given.
    pub default: Option<String>,
}

/// Describes one build stage: a `FROM` and the instructions up to the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Counts the stage's position in the Dockerfile, from 0.
    pub index: usize,
    /// Names the stage (`AS name`), lowercased.
    pub name: Option<String>,
    /// Holds the raw base word; it may contain `$VAR` / `${VAR}` (expand with the global
    /// args).
    pub base: String,
    /// Holds the raw `--platform=` value.
    pub platform: Option<String>,
    /// Gives the 1-based line of the `FROM`.
    pub line: usize,
    /// Lists the stage's instructions in order.
    pub instructions: Vec<Instruction>,
}

/// Holds one instruction of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Gives the 1-based line the instruction starts on.
    pub line: usize,
    /// Says what the instruction does.
    pub kind: Kind,
}

/// Tells the instructions apart; words are raw (see [`expand`]) unless said otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Declares build arguments (`ARG a b=1`).
    Arg(Vec<ArgDecl>),
    /// Sets environment variables: (name, raw value) pairs.
    Env(Vec<(String, String)>),
    /// Sets labels: (raw key, raw value) pairs.
    Label(Vec<(String, String)>),
    /// Copies files into the image.
    Copy(Copy),
    /// Adds files into the image (`COPY` plus URLs and archives).
    Add(Copy),
    /// Runs a command.
    Run(Run),
    /// Sets the working directory (raw text).
    Workdir(String),
    /// Sets the user (raw text).
    User(String),
    /// Sets the stop signal (raw text).
    StopSignal(String),
    /// Declares ports (raw words).
    Expose(Vec<String>),
    /// Declares volumes (raw words, or the strings of the JSON form).
    Volume(Vec<String>),
    /// Sets the entrypoint.
    Entrypoint(Command),
    /// Sets the default command.
    Cmd(Command),
    /// Sets the shell for shell-form commands (always JSON form).
    Shell(Vec<String>),
    /// Sets or disables the health check.
    Healthcheck(Healthcheck),
    /// Records a trigger for images built on this one: the trigger's text as written
    /// (heredoc bodies appended as BuildKit does: `\n`, body, delimiter).
    Onbuild(String),
    /// Records the deprecated maintainer text.
    Maintainer(String),
}

/// Holds the arguments of a `COPY` or `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Lists the raw source words; a heredoc source appears as its name (see `heredocs`).
    pub sources: Vec<String>,
    /// Holds the raw destination word.
    pub dest: String,
    /// Holds the raw `--from=` value (`COPY` only).
    pub from: Option<String>,
    /// Holds the raw `--chown=` value.
    pub chown: Option<String>,
    /// Holds the raw `--chmod=` value.
    pub chmod: Option<String>,
    /// Tells whether `--link` was given (and not `--link=false`).
    pub link: bool,
    /// Lists the heredoc sources (`COPY <<EOF /file`), in order; each one's name is also in
    /// `sources`.
    pub heredocs: Vec<Heredoc>,
    /// Tells whether the arguments were written as a JSON array.
    pub json_form: bool,
}

/// Holds the arguments of a `RUN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Holds the command; in shell form with heredocs it is the first line (`cat <<EOF`).
    pub command: Command,
    /// Lists the heredocs the command line opens, in order.
    pub heredocs: Vec<Heredoc>,
    /// Lists the raw flags as written, in order (`--mount=...`, `--network=...`,
    /// `--security=...`).
    pub flags: Vec<String>,
}

/// Holds a command in one of its two forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Runs the text with the shell (`RUN apt-get update`); the text is as written, after
    /// line continuations were joined.
    Shell(String),
    /// Runs the program with these arguments (`RUN ["a", "b"]`).
    Exec(Vec<String>),
}

/// Holds one heredoc (`<<EOF` ... `EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// Names the heredoc: its delimiter, with quotes removed.
    pub name: String,
    /// Holds the body: each line followed by `\n`; leading tabs are already removed when
    /// `strip_tabs` is set.
    pub content: String,
    /// Tells whether `$` variables in the body are to be expanded (false when the
    /// delimiter was quoted, as in `<<"EOF"` or `<<'EOF'`).
    pub expand: bool,
    /// Tells whether the heredoc was opened with `<<-` (leading tabs stripped).
    pub strip_tabs: bool,
}

/// Says how a stage checks the health of its containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// Disables any health check inherited from the base image.
    None,
    /// Runs a command to check health.
    Check {
        /// Holds the command to run (shell form means `CMD-SHELL`).
        test: Command,
        /// Holds the `--interval=` duration (Go syntax, e.g. `30s`), unquoted.
        interval: Option<String>,
        /// Holds the `--timeout=` duration, unquoted.
        timeout: Option<String>,
        /// Holds the `--start-period=` duration, unquoted.
        start_period: Option<String>,
        /// Holds the `--start-interval=` duration, unquoted.
        start_interval: Option<String>,
        /// Holds the `--retries=` count.
        retries: Option<u32>,
    },
}

/// Reports why a Dockerfile could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// Gives the 1-based line.
    pub line: usize,
    /// Gives the 1-based column (in characters).
    pub column: usize,
    /// Says what is wrong.
    pub message: String,
}

// ---------------------------------------------------------------------------------------
// Reading lines
// ---------------------------------------------------------------------------------------

/// Hands out the physical lines of the text, one at a time.
struct Source<'a> {
    lines: Vec<&'a str>,
    next: usize,
}

impl<'a> Source<'a> {
    fn new(text: &'a str) -> Source<'a> {
        let mut lines: Vec<&str> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        if text.ends_with('\n') {
            lines.pop();
        }
        Source { lines, next: 0 }
    }

    /// Returns the next line and its 1-based number.
    fn next_line(&mut self) -> Option<(usize, &'a str)> {
        let line = *self.lines.get(self.next)?;
        self.next += 1;
        Some((self.next, line))
    }
}

/// Holds one instruction's text with its continuation lines joined, and where each piece
/// came from (for error positions).
struct Logical {
    text: String,
    /// (offset in `text`, line, column of that offset).
    segments: Vec<(usize, usize, usize)>,
    /// The 1-based line the instruction starts on.
    line: usize,
}

impl Logical {
    fn push(&mut self, part: &str, line: usize, column: usize) {
        self.segments.push((self.text.len(), line, column));
        self.text.push_str(part);
    }

    /// Returns the line and column of a byte offset in `text`.
    fn position(&self, offset: usize) -> (usize, usize) {
        let i = self
            .segments
            .partition_point(|s| s.0 <= offset)
            .saturating_sub(1);
        let (start, line, column) = self.segments[i];
        let offset = offset.clamp(start, self.text.len());
        (line, column + self.text[start..offset].chars().count())
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ParseError {
        let (line, column) = self.position(offset);
        ParseError {
            line,
            column,
            message: message.into(),
        }
    }
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Splits a trailing escape character (and any spaces or tabs after it) off a line; the
/// flag tells whether the line continues.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    match line.trim_end_matches([' ', '\t']).strip_suffix(escape) {
        Some(rest) => (rest, true),
        None => (line, false),
    }
}

/// Reads the next instruction's lines: blank and comment lines are skipped, continued
/// lines joined (comment and blank lines inside a continuation are skipped too).
fn read_logical(src: &mut Source<'_>, escape: char) -> Option<Logical> {
    loop {
        let (number, raw) = src.next_line()?;
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let column = raw[..raw.len() - trimmed.len()].chars().count() + 1;
        let mut logical = Logical {
            text: String::new(),
            segments: Vec::new(),
            line: number,
        };
        let (part, mut continued) = trim_continuation(trimmed, escape);
        logical.push(part, number, column);
        while continued {
            let Some((number, raw)) = src.next_line() else {
                break;
            };
            if raw.trim().is_empty() || is_comment(raw) {
                continue;
            }
            let (part, more) = trim_continuation(raw, escape);
            logical.push(part, number, 1);
            continued = more;
        }
        if logical.text.trim().is_empty() {
            continue;
        }
        return Some(logical);
    }
}

/// Reads the parser directives at the top of the file and returns the escape character.
fn parse_directives(lines: &[&str]) -> Result<char, ParseError> {
    let mut escape = '\\';
    let mut seen: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((key, value, value_at)) = directive(line) else {
            break;
        };
        if !matches!(key.as_str(), "escape" | "syntax" | "check") {
            // An unknown directive is a comment, and ends the directives.
            break;
        }
        let column = line[..value_at].chars().count() + 1;
        if seen.contains(&key) {
            return Err(ParseError {
                line: i + 1,
                column: 1,
                message: format!("only one {key} parser directive can be used"),
            });
        }
        if key == "escape" {
            escape = match value {
                "\\" => '\\',
                "`" => '`',
                _ => {
                    return Err(ParseError {
                        line: i + 1,
                        column,
                        message: format!("invalid escape character {value:?}: it must be ` or \\"),
                    });
                }
            };
        }
        seen.push(key);
    }
    Ok(escape)
}

/// Splits a `# key=value` directive line into its lowercased key, its value and the
/// value's byte offset.
fn directive(line: &str) -> Option<(String, &str, usize)> {
    let body = line.trim_start().strip_prefix('#')?;
    let body = body.trim_start_matches([' ', '\t']);
    let key_len = body
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(body.len());
    let key = &body[..key_len];
    if !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let rest = body[key_len..].trim_start_matches([' ', '\t']);
    let from_value = rest.strip_prefix('=')?.trim_start_matches([' ', '\t']);
    let value_at = line.len() - from_value.len();
    let value = from_value.trim_end_matches([' ', '\t']);
    if value.is_empty() {
        return None;
    }
    Some((key.to_ascii_lowercase(), value, value_at))
}

// ---------------------------------------------------------------------------------------
// Words and flags
// ---------------------------------------------------------------------------------------

/// Splits text into raw words at unquoted, unescaped whitespace, as BuildKit does for
/// `ENV`/`ARG`/`LABEL`; returns byte spans. An unterminated quote runs to the end.
fn word_spans(text: &str, escape: char) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == escape && q == '"' {
                chars.next();
            }
            continue;
        }
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                spans.push((s, i));
            }
            continue;
        }
        if start.is_none() {
            start = Some(i);
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
        } else if c == escape {
            chars.next();
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

/// Holds one `--name[=value]` flag as written.
struct Flag<'a> {
    name: &'a str,
    value: Option<&'a str>,
    raw: &'a str,
    at: usize,
}

/// Holds the parts of an instruction line: keyword, flags and the rest.
struct Head<'a> {
    /// The keyword as written.
    word: &'a str,
    /// The keyword, lowercase.
    lower: String,
    at: usize,
    flags: Vec<Flag<'a>>,
    /// The arguments after the flags, trimmed.
    args: &'a str,
    args_at: usize,
}

impl Head<'_> {
    fn keyword(&self) -> String {
        self.lower.to_ascii_uppercase()
    }

    fn flag(&self, name: &str) -> Option<&Flag<'_>> {
        self.flags.iter().find(|f| f.name == name)
    }

    fn flag_value(&self, name: &str) -> Option<String> {
        self.flag(name).and_then(|f| f.value).map(str::to_string)
    }
}

/// Splits the text at `at` into a keyword, its leading `--flags` (up to a `--` word or
/// the first word not starting with `--`), and the arguments.
fn split_head(text: &str, at: usize, escape: char) -> Head<'_> {
    let at = at + (text[at..].len() - text[at..].trim_start().len());
    let word_end = text[at..]
        .find(char::is_whitespace)
        .map_or(text.len(), |i| at + i);
    let word = &text[at..word_end];
    let rest = &text[word_end..];
    let mut flags = Vec::new();
    let mut args_at = text.len();
    for (s, e) in word_spans(rest, escape) {
        let w = &rest[s..e];
        if !w.starts_with("--") {
            args_at = word_end + s;
            break;
        }
        if w == "--" {
            args_at = word_end + e;
            break;
        }
        let (name, value) = match w[2..].split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (&w[2..], None),
        };
        flags.push(Flag {
            name,
            value,
            raw: w,
            at: word_end + s,
        });
    }
    let tail = &text[args_at..];
    let args_at = args_at + (tail.len() - tail.trim_start().len());
    Head {
        word,
        lower: word.to_ascii_lowercase(),
        at,
        flags,
        args: text[args_at..].trim_end(),
        args_at,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FlagType {
    /// Takes one value.
    Text,
    /// Takes `true`/`false` or no value.
    Bool,
    /// Takes a value and may repeat.
    Repeated,
}

/// Checks an instruction's flags against the ones it takes.
fn check_flags(
    lg: &Logical,
    head: &Head<'_>,
    escape: char,
    allowed: &[(&str, FlagType)],
) -> Result<(), ParseError> {
    let keyword = head.keyword();
    let mut seen: Vec<&str> = Vec::new();
    for f in &head.flags {
        let Some(&(_, kind)) = allowed.iter().find(|(n, _)| *n == f.name) else {
            let message = if matches!(keyword.as_str(), "COPY" | "ADD")
                && UNSUPPORTED_COPY_FLAGS.contains(&f.name)
            {
                format!("{keyword} --{} is not supported by slipway", f.name)
            } else if keyword == "ADD" && f.name == "from" {
                "ADD takes no --from flag (only COPY does)".to_string()
            } else if allowed.is_empty() {
                format!("{keyword} takes no flags, but --{} was given", f.name)
            } else {
                let known: Vec<String> = allowed.iter().map(|(n, _)| format!("--{n}")).collect();
                format!(
                    "unknown flag --{} for {keyword} (it takes {})",
                    f.name,
                    known.join(", ")
                )
            };
            return Err(lg.error(f.at, message));
        };
        if kind != FlagType::Repeated && seen.contains(&f.name) {
            return Err(lg.error(
                f.at,
                format!("{keyword}: flag --{} is given more than once", f.name),
            ));
        }
        seen.push(f.name);
        match (kind, f.value) {
            (FlagType::Text | FlagType::Repeated, None) => {
                return Err(lg.error(
                    f.at,
                    format!(
                        "{keyword}: flag --{0} needs a value (--{0}=<value>)",
                        f.name
                    ),
                ));
            }
            (FlagType::Bool, Some(v)) => {
                let v = unquote(v, escape).unwrap_or_else(|_| v.to_string());
                if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                    return Err(lg.error(
                        f.at,
                        format!(
                            "{keyword}: flag --{} takes true or false, not {v:?}",
                            f.name
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Parses text as a JSON array of strings; anything else is `None`.
fn json_strings(text: &str) -> Option<Vec<String>> {
    if !text.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(text).ok()
}

/// Reads a command in JSON (exec) form, or else shell form.
fn command_of(args: &str) -> Command {
    match json_strings(args) {
        Some(list) => Command::Exec(list),
        None => Command::Shell(args.to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// Heredocs
// ---------------------------------------------------------------------------------------

/// Holds a heredoc opened on an instruction line, before its body is read.
struct HeredocStart {
    name: String,
    expand: bool,
    strip_tabs: bool,
    at: usize,
}

/// Recognizes a heredoc word (`<<EOF`, `<<-EOF`, `<<"EOF"`, `2<<EOF`) as BuildKit does:
/// returns its name, whether its body expands, and whether tabs are stripped.
fn heredoc_word(word: &str) -> Option<(String, bool, bool)> {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix("<<")?;
    let (strip_tabs, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let name = unquote(rest, '\\').ok()?;
    if name.is_empty() {
        return None;
    }
    let quotes = |s: &str| s.chars().filter(|c| matches!(c, '\'' | '"')).count();
    let expand = quotes(&name) == quotes(rest);
    Some((name, expand, strip_tabs))
}

/// Finds the heredocs opened by the words of `text` (at byte offset `base` of the line).
fn heredoc_starts(text: &str, base: usize, escape: char) -> Vec<HeredocStart> {
    word_spans(text, escape)
        .into_iter()
        .filter_map(|(s, e)| {
            heredoc_word(&text[s..e]).map(|(name, expand, strip_tabs)| HeredocStart {
                name,
                expand,
                strip_tabs,
                at: base + s,
            })
        })
        .collect()
}

/// Reads the bodies of heredocs from the lines after the instruction, one after another.
fn read_heredocs(
    lg: &Logical,
    starts: Vec<HeredocStart>,
    src: &mut Source<'_>,
) -> Result<Vec<Heredoc>, ParseError> {
    let mut out = Vec::with_capacity(starts.len());
    for start in starts {
        let mut content = String::new();
        let mut ended = false;
        while let Some((_, raw)) = src.next_line() {
            let line = if start.strip_tabs {
                raw.trim_start_matches('\t')
            } else {
                raw
            };
            if line == start.name {
                ended = true;
                break;
            }
            content.push_str(line);
            content.push('\n');
        }
        if !ended {
            return Err(lg.error(
                start.at,
                format!(
                    "unterminated heredoc: no line {:?} ends the heredoc opened here",
                    start.name
                ),
            ));
        }
        out.push(Heredoc {
            name: start.name,
            content,
            expand: start.expand,
            strip_tabs: start.strip_tabs,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

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
        return Err(ParseError {
            line: 1,
            column: 1,
            message: message.to_string(),
        });
    }
    Ok(df)
}

fn unknown_instruction(lg: &Logical, head: &Head<'_>) -> ParseError {
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

fn edit_distance(a: &str, b: &str) -> usize {
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

fn is_valid_stage_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn parse_from(
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
fn flags_taken(lower: &str) -> &'static [(&'static str, FlagType)] {
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

fn parse_kind(
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
fn parse_pairs(
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

fn parse_copy(
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
            let spans = word_spans(args, escape);
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

fn parse_healthcheck(
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
                let nanos = go_duration(&v)
                    .map_err(|m| lg.error(at, format!("HEALTHCHECK --{name}={v}: {m}")))?;
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

/// Checks a Go duration (`1m30s`, `500ms`, `0`) and returns it in nanoseconds.
fn go_duration(text: &str) -> Result<u128, String> {
    let bad = || "expected a duration such as 30s, 1m30s or 500ms".to_string();
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if !number.contains(|c: char| c.is_ascii_digit()) || number.matches('.').count() > 1 {
            return Err(bad());
        }
        let number: f64 = number.parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    if negative && total > 0.0 {
        return Err("the duration cannot be negative".to_string());
    }
    Ok(total as u128)
}

fn parse_onbuild(
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

// ---------------------------------------------------------------------------------------
// Normalized text
// ---------------------------------------------------------------------------------------

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

fn json_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn json_list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
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
fn word(s: &str, allow_eq: bool) -> String {
    let plain = !s.is_empty()
        && !s.starts_with(['[', '-'])
        && s.chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && (allow_eq || c != '='));
    if plain { s.to_string() } else { json_string(s) }
}

/// Writes free text (a shell command, a path) as is when that cannot be misread, else
/// JSON-encoded.
fn text(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.starts_with(['[', '-', '"'])
        && s.trim() == s
        && !s.chars().any(char::is_control);
    if plain { s.to_string() } else { json_string(s) }
}

fn command_text(c: &Command, force_json: bool) -> String {
    match c {
        Command::Exec(list) => json_list(list),
        Command::Shell(s) if force_json => json_string(s),
        Command::Shell(s) => text(s),
    }
}

fn push_heredocs(out: &mut String, heredocs: &[Heredoc]) {
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

fn push_flag(out: &mut String, name: &str, value: Option<&str>) {
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

// ---------------------------------------------------------------------------------------
// Word expansion
// ---------------------------------------------------------------------------------------

/// Expands one shell word as BuildKit does when it runs an instruction.
///
/// Quotes are removed (`'...'` is literal, `"..."` expands `$` forms and lets the escape
/// character escape `"`, `$` and itself), the escape character makes the next character
/// literal, and variables are substituted: `$VAR`, `${VAR}`, `${VAR:-word}`,
/// `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?message}`, `${VAR?message}`,
/// plus `${VAR#pattern}`, `${VAR##pattern}`, `${VAR%pattern}`, `${VAR%%pattern}`,
/// `${VAR/pattern/text}` and `${VAR//pattern/text}` (patterns take `*` and `?`). An unset
/// variable expands to "". Whitespace is kept: the result is one word.
///
/// Returns the error message on bad syntax (an unterminated quote or `${`, an unknown
/// modifier) or when a `?` form meets an unset (`:?`: or empty) variable.
pub fn expand(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    Lexer::new(word, escape, Some(lookup)).word()
}

/// Removes quotes and escapes from a word without expanding variables.
fn unquote(word: &str, escape: char) -> Result<String, String> {
    Lexer::new(word, escape, None).word()
}

/// Matches one element of a `${VAR#pattern}`-style pattern.
#[derive(Clone, Copy)]
enum Pat {
    /// `*`: any run of characters.
    Any,
    /// `?`: one character.
    One,
    /// A literal character.
    Lit(char),
}

/// Tells whether a pattern matches all of `s`.
fn glob(pattern: &[Pat], s: &[char]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if let Some(&el) = pattern.get(p) {
            match el {
                Pat::Any => {
                    star = Some((p, i));
                    p += 1;
                    continue;
                }
                Pat::One => {
                    p += 1;
                    i += 1;
                    continue;
                }
                Pat::Lit(c) if c == s[i] => {
                    p += 1;
                    i += 1;
                    continue;
                }
                Pat::Lit(_) => {}
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp + 1;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|el| matches!(el, Pat::Any))
}

/// Looks a variable up by name.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    /// Looks variables up; `None` keeps `$` literal (quote removal only).
    vars: Option<Lookup<'a>>,
}

impl<'a> Lexer<'a> {
    fn new(word: &str, escape: char, vars: Option<Lookup<'a>>) -> Lexer<'a> {
        Lexer {
            chars: word.chars().collect(),
            pos: 0,
            escape,
            vars,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn get(&self, name: &str) -> Option<String> {
        self.vars.and_then(|f| f(name))
    }

    /// Processes the whole input.
    fn word(&mut self) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.step(c, &mut out)?;
        }
        Ok(out)
    }

    /// Processes up to (and past) `stop`, which must come.
    fn until(&mut self, stop: char) -> Result<String, String> {
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(format!("syntax error: missing '{stop}'")),
                Some(c) if c == stop => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(c) => self.step(c, &mut out)?,
            }
        }
    }

    /// Processes the unquoted construct starting with `c`.
    fn step(&mut self, c: char, out: &mut String) -> Result<(), String> {
        match c {
            '\'' => out.push_str(&self.single_quoted()?),
            '"' => out.push_str(&self.double_quoted()?),
            '$' if self.vars.is_some() => out.push_str(&self.dollar()?),
            c if c == self.escape => {
                self.pos += 1;
                if let Some(n) = self.bump() {
                    out.push(n);
                }
            }
            c => {
                self.pos += 1;
                out.push(c);
            }
        }
        Ok(())
    }

    fn single_quoted(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err("unterminated single quote: no closing '".to_string()),
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err("unterminated double quote: no closing \"".to_string()),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('$') if self.vars.is_some() => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.pos += 1;
                    if c == self.escape {
                        match self.peek() {
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                out.push(n);
                            }
                            Some(_) => out.push(c),
                            None => {}
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
        }
    }

    /// Reads a variable name: digits, one special character, or letters, digits and `_`.
    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                    name.push(c);
                    self.pos += 1;
                }
            }
            Some(c @ ('@' | '*' | '#' | '?' | '-' | '$' | '!')) => {
                self.pos += 1;
                name.push(c);
            }
            _ => {
                while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
                    name.push(c);
                    self.pos += 1;
                }
            }
        }
        name
    }

    /// Processes a `$` form.
    fn dollar(&mut self) -> Result<String, String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(self.get(&name).unwrap_or_default());
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".to_string()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".to_string()),
            _ => {}
        }
        let name = self.name();
        if name.is_empty() {
            return Err("syntax error: bad substitution".to_string());
        }
        let value = self.get(&name);
        let unset_error = |word: String| {
            let message = if word.is_empty() {
                "is not allowed to be unset".to_string()
            } else {
                word
            };
            format!("{name}: {message}")
        };
        match self.bump() {
            None => Err("syntax error: missing '}'".to_string()),
            Some('}') => Ok(value.unwrap_or_default()),
            Some('-') => {
                let word = self.until('}')?;
                Ok(value.unwrap_or(word))
            }
            Some('+') => {
                let word = self.until('}')?;
                Ok(if value.is_some() { word } else { String::new() })
            }
            Some('?') => {
                let word = self.until('}')?;
                value.ok_or_else(|| unset_error(word))
            }
            Some(':') => {
                let modifier = self.bump();
                if !matches!(modifier, Some('-' | '+' | '?')) {
                    return Err(match modifier {
                        None => "syntax error: missing '}'".to_string(),
                        Some(m) => format!("unsupported modifier (:{m}) in substitution"),
                    });
                }
                let word = self.until('}')?;
                let value = value.unwrap_or_default();
                match modifier {
                    Some('-') => Ok(if value.is_empty() { word } else { value }),
                    Some('+') => Ok(if value.is_empty() { value } else { word }),
                    _ if value.is_empty() => Err(unset_error(word)),
                    _ => Ok(value),
                }
            }
            Some(op @ ('#' | '%')) => {
                let longest = self.peek() == Some(op);
                if longest {
                    self.pos += 1;
                }
                let (pattern, _) = self.pattern(&['}'])?;
                let v: Vec<char> = value.unwrap_or_default().chars().collect();
                let n = v.len();
                let cut: Option<usize> = if op == '#' {
                    let mut ends = (0..=n).collect::<Vec<_>>();
                    if longest {
                        ends.reverse();
                    }
                    ends.into_iter().find(|&i| glob(&pattern, &v[..i]))
                } else {
                    let mut starts = (0..=n).collect::<Vec<_>>();
                    if !longest {
                        starts.reverse();
                    }
                    starts.into_iter().find(|&i| glob(&pattern, &v[i..]))
                };
                Ok(match (op, cut) {
                    ('#', Some(i)) => v[i..].iter().collect(),
                    (_, Some(i)) => v[..i].iter().collect(),
                    (_, None) => v.iter().collect(),
                })
            }
            Some('/') => {
                let all = self.peek() == Some('/');
                if all {
                    self.pos += 1;
                }
                let (pattern, stop) = self.pattern(&['/', '}'])?;
                let replacement = if stop == '/' {
                    self.until('}')?
                } else {
                    String::new()
                };
                let v: Vec<char> = value.unwrap_or_default().chars().collect();
                let mut out = String::new();
                let mut i = 0;
                let mut replaced = false;
                while i < v.len() {
                    let end = if pattern.is_empty() || (replaced && !all) {
                        None
                    } else {
                        (i + 1..=v.len()).rev().find(|&j| glob(&pattern, &v[i..j]))
                    };
                    match end {
                        Some(j) => {
                            out.push_str(&replacement);
                            i = j;
                            replaced = true;
                        }
                        None => {
                            out.push(v[i]);
                            i += 1;
                        }
                    }
                }
                Ok(out)
            }
            Some(c) => Err(format!("unsupported modifier ({c}) in substitution")),
        }
    }

    /// Reads a pattern up to one of `stops`: `*` and `?` are wildcards unless quoted or
    /// escaped. Returns the pattern and the stop character met.
    fn pattern(&mut self, stops: &[char]) -> Result<(Vec<Pat>, char), String> {
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err("syntax error: missing '}'".to_string());
            };
            if stops.contains(&c) {
                self.pos += 1;
                return Ok((out, c));
            }
            match c {
                '\'' => out.extend(self.single_quoted()?.chars().map(Pat::Lit)),
                '"' => out.extend(self.double_quoted()?.chars().map(Pat::Lit)),
                '$' => out.extend(self.dollar()?.chars().map(Pat::Lit)),
                '*' => {
                    self.pos += 1;
                    out.push(Pat::Any);
                }
                '?' => {
                    self.pos += 1;
                    out.push(Pat::One);
                }
                c if c == self.escape => {
                    self.pos += 1;
                    match self.bump() {
                        Some(n) => out.push(Pat::Lit(n)),
                        None => return Err("syntax error: missing '}'".to_string()),
                    }
                }
                c => {
                    self.pos += 1;
                    out.push(Pat::Lit(c));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn df(text: &str) -> Dockerfile {
        parse(text).unwrap_or_else(|e| panic!("parse failed: {e}\n{text}"))
    }

    fn err(text: &str) -> ParseError {
        match parse(text) {
            Ok(d) => panic!("expected an error, got {d:#?}"),
            Err(e) => e,
        }
    }

    /// Parses `FROM scratch` plus `text` and returns the stage's instructions.
    fn body(text: &str) -> Vec<Instruction> {
        df(&format!("FROM scratch\n{text}"))
            .stages
            .remove(0)
            .instructions
    }

    /// Parses `FROM scratch` plus one instruction and returns its kind.
    fn kind(text: &str) -> Kind {
        let mut ins = body(text);
        assert_eq!(ins.len(), 1, "{ins:#?}");
        ins.remove(0).kind
    }

    fn norm(text: &str) -> String {
        let mut ins = body(text);
        assert_eq!(ins.len(), 1, "{ins:#?}");
        ins.remove(0).normalized()
    }

    fn copy_of(text: &str) -> Copy {
        match kind(text) {
            Kind::Copy(c) | Kind::Add(c) => c,
            k => panic!("not a COPY: {k:?}"),
        }
    }

    fn run_of(text: &str) -> Run {
        match kind(text) {
            Kind::Run(r) => r,
            k => panic!("not a RUN: {k:?}"),
        }
    }

    fn shell_run(command: &str) -> Kind {
        Kind::Run(Run {
            command: shell(command),
            heredocs: vec![],
            flags: vec![],
        })
    }

    fn vars(name: &str) -> Option<String> {
        match name {
            "A" => Some("a".into()),
            "EMPTY" => Some(String::new()),
            "SPACE" => Some("x y".into()),
            "FILE" => Some("archive.tar.gz".into()),
            "PATH" => Some("/usr/local/bin:/usr/bin:/bin".into()),
            _ => None,
        }
    }

    fn ex(word: &str) -> Result<String, String> {
        expand(word, '\\', &vars)
    }

    fn shell(s: &str) -> Command {
        Command::Shell(s.into())
    }

    fn exec(items: &[&str]) -> Command {
        Command::Exec(strings(items))
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn decl(name: &str, default: Option<&str>) -> ArgDecl {
        ArgDecl {
            name: name.into(),
            default: default.map(str::to_string),
        }
    }

    // ---- basics -------------------------------------------------------------------------

    #[test]
    fn minimal_dockerfile_has_one_stage() {
        let d = df("FROM alpine:3.20\n");
        assert_eq!(d.escape, '\\');
        assert!(d.global_args.is_empty());
        assert_eq!(
            d.stages,
            vec![Stage {
                index: 0,
                name: None,
                base: "alpine:3.20".into(),
                platform: None,
                line: 1,
                instructions: vec![],
            }]
        );
    }

    #[test]
    fn stages_collect_their_instructions_with_lines() {
        let d = df(
            "# comment\n\nFROM a AS build\nRUN make\n\nFROM b\nCOPY --from=build /out /out\nUSER app\n",
        );
        assert_eq!(d.stages.len(), 2);
        let (s0, s1) = (&d.stages[0], &d.stages[1]);
        assert_eq!(
            (s0.index, s0.name.as_deref(), s0.line),
            (0, Some("build"), 3)
        );
        assert_eq!(s0.instructions.len(), 1);
        assert_eq!(s0.instructions[0].line, 4);
        assert_eq!((s1.index, s1.name.as_deref(), s1.line), (1, None, 6));
        assert_eq!(
            s1.instructions.iter().map(|i| i.line).collect::<Vec<_>>(),
            vec![7, 8]
        );
    }

    #[test]
    fn instruction_names_are_case_insensitive() {
        let d = df("from alpine as Builder\nrUn echo hi\nworkdir /app\n");
        let s = &d.stages[0];
        assert_eq!(s.name.as_deref(), Some("builder"));
        assert_eq!(s.instructions[0].kind, shell_run("echo hi"));
        assert_eq!(s.instructions[1].kind, Kind::Workdir("/app".into()));
    }

    #[test]
    fn crlf_line_endings_and_a_byte_order_mark_are_accepted() {
        let d = df("\u{feff}FROM a\r\nRUN echo \\\r\n  hi\r\nENV A=1\r\n");
        let ins = &d.stages[0].instructions;
        assert_eq!(ins[0].kind, shell_run("echo   hi"));
        assert_eq!(ins[1].kind, Kind::Env(vec![("A".into(), "1".into())]));
    }

    #[test]
    fn file_without_trailing_newline_parses() {
        assert_eq!(kind("RUN true"), shell_run("true"));
    }

    // ---- directives ---------------------------------------------------------------------

    #[test]
    fn escape_directive_switches_to_backtick() {
        let d = df("# escape=`\nFROM mcr.microsoft.com/windows\nRUN dir c:\\ `\n  && echo done\n");
        assert_eq!(d.escape, '`');
        assert_eq!(
            d.stages[0].instructions[0].kind,
            shell_run("dir c:\\   && echo done")
        );
    }

    #[test]
    fn backslash_is_literal_with_backtick_escape() {
        let d = df("# escape=`\nFROM scratch\nWORKDIR C:\\app\\\nUSER me\n");
        let ins = &d.stages[0].instructions;
        // `\` at the end of a line does not continue it.
        assert_eq!(ins[0].kind, Kind::Workdir("C:\\app\\".into()));
        assert_eq!(ins[1].kind, Kind::User("me".into()));
    }

    #[test]
    fn directives_allow_spacing_and_any_case() {
        assert_eq!(df("#ESCAPE = `\nFROM a\n").escape, '`');
        assert_eq!(df("  #\tescape=`  \nFROM a\n").escape, '`');
    }

    #[test]
    fn syntax_and_check_directives_are_ignored() {
        let d = df("# syntax=docker/dockerfile:1.7\n# check=skip=all\n# escape=`\nFROM a\n");
        assert_eq!(d.escape, '`');
    }

    #[test]
    fn directives_stop_at_the_first_other_line() {
        // After a plain comment, a blank line, an instruction or an unknown directive.
        assert_eq!(df("# hello\n# escape=`\nFROM a\n").escape, '\\');
        assert_eq!(df("\n# escape=`\nFROM a\n").escape, '\\');
        assert_eq!(df("FROM a\n# escape=`\n").escape, '\\');
        assert_eq!(df("# unknown=1\n# escape=`\nFROM a\n").escape, '\\');
    }

    #[test]
    fn bad_escape_directive_is_an_error() {
        let e = err("# escape=x\nFROM a\n");
        assert_eq!((e.line, e.column), (1, 10));
        assert!(e.message.contains("invalid escape"), "{}", e.message);
    }

    #[test]
    fn repeated_directive_is_an_error() {
        let e = err("# escape=`\n# escape=\\\nFROM a\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("only one escape"), "{}", e.message);
    }

    // ---- comments and continuations ----------------------------------------------------

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let ins = body("  # indented comment\n\n\t\nRUN a # not a comment\n#last\n");
        assert_eq!(ins.len(), 1);
        assert_eq!(ins[0].line, 5);
        assert_eq!(ins[0].kind, shell_run("a # not a comment"));
    }

    #[test]
    fn continuation_joins_lines() {
        let ins = body("RUN apt-get update && \\\n    apt-get install -y curl\nUSER x\n");
        assert_eq!(ins[0].line, 2);
        assert_eq!(
            ins[0].kind,
            shell_run("apt-get update &&     apt-get install -y curl")
        );
        assert_eq!(ins[1].line, 4);
    }

    #[test]
    fn continuation_allows_whitespace_after_the_escape() {
        assert_eq!(run_of("RUN a \\  \t\nb").command, shell("a b"));
    }

    #[test]
    fn comments_and_blank_lines_inside_a_continuation_are_skipped() {
        let ins = body("RUN a \\\n# comment\n   # indented\n\n   \\\n  b\nUSER u\n");
        assert_eq!(ins.len(), 2);
        assert_eq!(ins[0].kind, shell_run("a      b"));
        assert_eq!(ins[1].line, 8);
    }

    #[test]
    fn continuation_at_end_of_file_ends_the_instruction() {
        assert_eq!(run_of("RUN a \\").command, shell("a"));
    }

    #[test]
    fn escaped_escape_at_end_of_line_still_continues_as_in_buildkit() {
        assert_eq!(run_of("RUN echo \\\\\nx").command, shell("echo \\x"));
    }

    #[test]
    fn flags_and_arguments_can_span_lines() {
        let c = copy_of("COPY \\\n  --chown=1:2 \\\n  --from=base \\\n  a \\\n  /dst/");
        assert_eq!(c.from.as_deref(), Some("base"));
        assert_eq!(c.chown.as_deref(), Some("1:2"));
        assert_eq!(c.sources, strings(&["a"]));
        assert_eq!(c.dest, "/dst/");
    }

    // ---- ARG and FROM -------------------------------------------------------------------

    #[test]
    fn args_before_from_are_global() {
        let d = df("ARG BASE=alpine\nARG TAG\nARG A=1 B\nFROM ${BASE}:$TAG\nARG TAG\n");
        assert_eq!(
            d.global_args,
            vec![
                decl("BASE", Some("alpine")),
                decl("TAG", None),
                decl("A", Some("1")),
                decl("B", None),
            ]
        );
        assert_eq!(d.stages[0].base, "${BASE}:$TAG");
        assert_eq!(
            d.stages[0].instructions[0].kind,
            Kind::Arg(vec![decl("TAG", None)])
        );
    }

    #[test]
    fn arg_defaults_are_raw_words() {
        assert_eq!(
            kind(r#"ARG A="x y" B='$z' C=a\ b D="""#),
            Kind::Arg(vec![
                decl("A", Some(r#""x y""#)),
                decl("B", Some("'$z'")),
                decl("C", Some(r"a\ b")),
                decl("D", Some(r#""""#)),
            ])
        );
    }

    #[test]
    fn blank_arg_name_is_an_error() {
        let e = err("FROM a\nARG =1\n");
        assert_eq!((e.line, e.column), (2, 5));
        assert!(e.message.contains("blank"), "{}", e.message);
    }

    #[test]
    fn only_arg_may_come_before_from() {
        let e = err("ARG A\n  RUN echo\nFROM a\n");
        assert_eq!((e.line, e.column), (2, 3));
        assert!(e.message.starts_with("RUN "), "{}", e.message);
        assert!(e.message.contains("before the first FROM"), "{}", e.message);
        let e = err("env A=1\nFROM a\n");
        assert!(e.message.starts_with("ENV "), "{}", e.message);
    }

    #[test]
    fn from_takes_platform_and_name() {
        let d = df("FROM --platform=$BUILDPLATFORM golang:1.22 AS Build-1.x\n");
        let s = &d.stages[0];
        assert_eq!(s.platform.as_deref(), Some("$BUILDPLATFORM"));
        assert_eq!(s.base, "golang:1.22");
        assert_eq!(s.name.as_deref(), Some("build-1.x"));
    }

    #[test]
    fn from_with_wrong_arguments_is_an_error() {
        let e = err("FROM a b\n");
        assert_eq!((e.line, e.column), (1, 8));
        let e = err("FROM a AS\n");
        assert_eq!(e.column, 8);
        let e = err("FROM a AS b c\n");
        assert_eq!(e.column, 13);
        assert!(e.message.contains("too many"), "{}", e.message);
        let e = err("FROM a FOR b\n");
        assert!(e.message.contains("expected AS"), "{}", e.message);
        let e = err("FROM\n");
        assert_eq!((e.line, e.column), (1, 1));
    }

    #[test]
    fn from_rejects_unknown_flags() {
        let e = err("FROM --plat=x a\n");
        assert_eq!(e.column, 6);
        assert!(e.message.contains("--plat"), "{}", e.message);
        let e = err("FROM --platform a\n");
        assert!(e.message.contains("needs a value"), "{}", e.message);
    }

    #[test]
    fn invalid_stage_names_are_errors() {
        for name in ["1st", "a/b", "a:b", "-x", "$NAME", "ä"] {
            let e = err(&format!("FROM a AS {name}\n"));
            assert_eq!(e.column, 11, "{name}");
            assert!(e.message.contains("invalid stage name"), "{}", e.message);
        }
        for name in ["a", "a-b_c.d", "x1"] {
            df(&format!("FROM a AS {name}\n"));
        }
    }

    #[test]
    fn duplicate_stage_names_are_errors() {
        let e = err("FROM a AS x\nFROM b AS y\nFROM c as X\n");
        assert_eq!((e.line, e.column), (3, 11));
        assert!(
            e.message.contains("duplicate stage name \"x\""),
            "{}",
            e.message
        );
        assert!(e.message.contains("line 1"), "{}", e.message);
    }

    // ---- errors -------------------------------------------------------------------------

    #[test]
    fn unknown_instruction_names_it_with_its_column() {
        let e = err("FROM a\n   RUNN echo\n");
        assert_eq!((e.line, e.column), (2, 4));
        assert!(
            e.message.contains("unknown instruction: RUNN"),
            "{}",
            e.message
        );
        assert!(e.message.contains("did you mean RUN?"), "{}", e.message);
        let e = err("FROM a\nfrobnicate x\n");
        assert_eq!(e.message, "unknown instruction: frobnicate");
    }

    #[test]
    fn unknown_instruction_before_from_is_reported_as_unknown() {
        let e = err("BOGUS x\nFROM a\n");
        assert!(
            e.message.contains("unknown instruction: BOGUS"),
            "{}",
            e.message
        );
    }

    #[test]
    fn instructions_without_arguments_are_errors() {
        for ins in [
            "RUN",
            "CMD",
            "ENTRYPOINT",
            "ENV",
            "LABEL",
            "ARG",
            "COPY",
            "ADD",
            "WORKDIR",
            "USER",
            "EXPOSE",
            "VOLUME",
            "SHELL",
            "HEALTHCHECK",
            "ONBUILD",
            "STOPSIGNAL",
            "MAINTAINER",
        ] {
            let e = err(&format!("FROM a\n  {ins}   \n"));
            assert_eq!((e.line, e.column), (2, 3), "{ins}");
            assert_eq!(e.message, format!("{ins} requires at least one argument"));
        }
    }

    #[test]
    fn empty_file_has_no_from() {
        for text in ["", "\n\n", "# just a comment\n", "ARG A=1\n"] {
            let e = err(text);
            assert_eq!((e.line, e.column), (1, 1));
            assert!(e.message.contains("no FROM instruction"), "{}", e.message);
        }
    }

    #[test]
    fn errors_display_line_and_column() {
        let e = ParseError {
            line: 3,
            column: 7,
            message: "oops".into(),
        };
        assert_eq!(e.to_string(), "line 3, column 7: oops");
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert_eq!(boxed.to_string(), "line 3, column 7: oops");
    }

    #[test]
    fn error_columns_count_characters_on_continuation_lines() {
        let e = err("FROM a\nCOPY --chown=1 \\\n   --bogus=é a b\n");
        assert_eq!((e.line, e.column), (3, 4));
        let e = err("FROM a\nCOPY --from=é --x=1 a b\n");
        assert_eq!((e.line, e.column), (2, 15));
    }

    #[test]
    fn flags_are_refused_where_none_are_taken() {
        for ins in [
            "ENV --x=1 A=1",
            "CMD --help",
            "WORKDIR --x /a",
            "ONBUILD --x RUN a",
        ] {
            let e = err(&format!("FROM a\n{ins}\n"));
            assert!(e.message.contains("takes no flags"), "{ins}: {}", e.message);
        }
    }

    #[test]
    fn double_dash_ends_the_flags() {
        assert_eq!(kind("CMD -- --help"), Kind::Cmd(shell("--help")));
    }

    // ---- RUN, CMD, ENTRYPOINT, SHELL ------------------------------------------------------

    #[test]
    fn run_shell_and_exec_forms() {
        assert_eq!(run_of("RUN echo \"a  b\"").command, shell("echo \"a  b\""));
        assert_eq!(
            run_of(r#"RUN [ "echo", "a b", "\u00e9\"" ]"#).command,
            exec(&["echo", "a b", "é\""])
        );
    }

    #[test]
    fn invalid_json_falls_back_to_shell_form() {
        for text in [
            "[ -f /x ] && echo yes",
            r#"["echo", 1]"#,
            r#"["unterminated"#,
            r#"["a"] trailing"#,
            "['single']",
        ] {
            assert_eq!(
                run_of(&format!("RUN {text}")).command,
                shell(text),
                "{text}"
            );
            assert_eq!(
                kind(&format!("CMD {text}")),
                Kind::Cmd(shell(text)),
                "{text}"
            );
            assert_eq!(
                kind(&format!("ENTRYPOINT {text}")),
                Kind::Entrypoint(shell(text)),
                "{text}"
            );
        }
    }

    #[test]
    fn empty_exec_run_is_an_error_but_empty_cmd_is_not() {
        let e = err("FROM a\nRUN []\n");
        assert!(
            e.message.contains("RUN requires a command"),
            "{}",
            e.message
        );
        assert_eq!(kind("CMD []"), Kind::Cmd(Command::Exec(vec![])));
        assert_eq!(
            kind("ENTRYPOINT []"),
            Kind::Entrypoint(Command::Exec(vec![]))
        );
    }

    #[test]
    fn cmd_and_entrypoint_exec_form() {
        assert_eq!(
            kind(r#"CMD ["nginx", "-g", "daemon off;"]"#),
            Kind::Cmd(exec(&["nginx", "-g", "daemon off;"]))
        );
        assert_eq!(
            kind("ENTRYPOINT [\"/bin/tini\", \"--\"]"),
            Kind::Entrypoint(exec(&["/bin/tini", "--"]))
        );
    }

    #[test]
    fn run_flags_are_kept_raw_in_order() {
        let r = run_of(
            "RUN --mount=type=cache,target=/root/.cache --network=none --mount=type=secret,id=x --security=insecure make",
        );
        assert_eq!(
            r.flags,
            strings(&[
                "--mount=type=cache,target=/root/.cache",
                "--network=none",
                "--mount=type=secret,id=x",
                "--security=insecure",
            ])
        );
        assert_eq!(r.command, shell("make"));
        let r = run_of(r#"RUN --mount="type=bind,source=a b" ls"#);
        assert_eq!(r.flags, strings(&[r#"--mount="type=bind,source=a b""#]));
        assert_eq!(r.command, shell("ls"));
    }

    #[test]
    fn run_rejects_unknown_and_repeated_flags() {
        let e = err("FROM a\nRUN --mount=x --device=y make\n");
        assert_eq!(e.column, 15);
        assert!(
            e.message.contains("unknown flag --device for RUN"),
            "{}",
            e.message
        );
        let e = err("FROM a\nRUN --network=host --network=none make\n");
        assert_eq!(e.column, 20);
        assert!(e.message.contains("more than once"), "{}", e.message);
        let e = err("FROM a\nRUN --mount make\n");
        assert!(e.message.contains("needs a value"), "{}", e.message);
    }

    #[test]
    fn shell_must_be_json() {
        assert_eq!(
            kind(r#"SHELL ["powershell", "-Command"]"#),
            Kind::Shell(strings(&["powershell", "-Command"]))
        );
        let e = err("FROM a\nSHELL /bin/bash -c\n");
        assert_eq!((e.line, e.column), (2, 7));
        assert!(e.message.contains("JSON form"), "{}", e.message);
        let e = err("FROM a\nSHELL []\n");
        assert!(e.message.contains("at least one"), "{}", e.message);
    }

    // ---- ENV, LABEL -----------------------------------------------------------------------

    #[test]
    fn env_key_value_pairs_keep_raw_values() {
        assert_eq!(
            kind(r#"ENV A=1 B="two words" C=three\ words D='$x' E= F=a=b"#),
            Kind::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), r#""two words""#.into()),
                ("C".into(), r"three\ words".into()),
                ("D".into(), "'$x'".into()),
                ("E".into(), "".into()),
                ("F".into(), "a=b".into()),
            ])
        );
    }

    #[test]
    fn env_legacy_form_takes_the_rest_of_the_line() {
        assert_eq!(
            kind("ENV GREETING   hello  big world"),
            Kind::Env(vec![("GREETING".into(), "hello  big world".into())])
        );
        assert_eq!(
            kind("ENV A \"quoted value\""),
            Kind::Env(vec![("A".into(), "\"quoted value\"".into())])
        );
    }

    #[test]
    fn env_errors() {
        let e = err("FROM a\nENV A=1 B\n");
        assert_eq!((e.line, e.column), (2, 9));
        assert!(e.message.contains("can't find ="), "{}", e.message);
        let e = err("FROM a\nENV ONLY\n");
        assert_eq!(e.column, 5);
        let e = err("FROM a\nENV A=1 =2\n");
        assert!(
            e.message.contains("ENV names can not be blank"),
            "{}",
            e.message
        );
    }

    #[test]
    fn env_values_expand_like_buildkit() {
        let Kind::Env(pairs) = kind(r#"ENV A="a b" B=c\ d C='$HOME' D="${X:-def}""#) else {
            panic!("not ENV")
        };
        let values: Vec<String> = pairs
            .iter()
            .map(|(_, v)| expand(v, '\\', &|_| None).unwrap())
            .collect();
        assert_eq!(values, strings(&["a b", "c d", "$HOME", "def"]));
    }

    #[test]
    fn label_pairs_and_legacy_form() {
        assert_eq!(
            kind(r#"LABEL "com.example.vendor"="ACME Inc" version=1.0 description="a \"b\"""#),
            Kind::Label(vec![
                (r#""com.example.vendor""#.into(), r#""ACME Inc""#.into()),
                ("version".into(), "1.0".into()),
                ("description".into(), r#""a \"b\"""#.into()),
            ])
        );
        assert_eq!(
            kind("LABEL maintainer someone else"),
            Kind::Label(vec![("maintainer".into(), "someone else".into())])
        );
    }

    // ---- COPY, ADD ------------------------------------------------------------------------

    #[test]
    fn copy_shell_form_with_flags() {
        let c = copy_of("COPY --from=builder --chown=1000:1000 --chmod=0755 --link a b /dst/");
        assert_eq!(
            c,
            Copy {
                sources: strings(&["a", "b"]),
                dest: "/dst/".into(),
                from: Some("builder".into()),
                chown: Some("1000:1000".into()),
                chmod: Some("0755".into()),
                link: true,
                heredocs: vec![],
                json_form: false,
            }
        );
    }

    #[test]
    fn copy_json_form() {
        let c = copy_of(r#"COPY ["a b", "c", "/dst/"]"#);
        assert_eq!(c.sources, strings(&["a b", "c"]));
        assert_eq!(c.dest, "/dst/");
        assert!(c.json_form);
        // JSON form never opens heredocs.
        let c = copy_of(r#"COPY ["<<EOF", "/dst"]"#);
        assert_eq!(c.sources, strings(&["<<EOF"]));
        assert!(c.heredocs.is_empty());
    }

    #[test]
    fn copy_words_keep_quotes_and_escapes() {
        let c = copy_of(r#"COPY "a b" c\ d $SRC /dst"#);
        assert_eq!(c.sources, strings(&[r#""a b""#, r"c\ d", "$SRC"]));
        assert_eq!(c.dest, "/dst");
    }

    #[test]
    fn copy_link_flag_values() {
        assert!(copy_of("COPY --link=true a b").link);
        assert!(copy_of("COPY --link=TRUE a b").link);
        assert!(!copy_of("COPY --link=false a b").link);
        assert!(!copy_of("COPY a b").link);
        let e = err("FROM a\nCOPY --link=maybe a b\n");
        assert!(e.message.contains("true or false"), "{}", e.message);
    }

    #[test]
    fn copy_flag_values_are_raw() {
        let c = copy_of(r#"COPY --chown="$UID:$GID" --from=${BASE} a b"#);
        assert_eq!(c.chown.as_deref(), Some(r#""$UID:$GID""#));
        assert_eq!(c.from.as_deref(), Some("${BASE}"));
    }

    #[test]
    fn copy_needs_sources_and_a_destination() {
        for text in [
            "COPY a",
            r#"COPY ["a"]"#,
            "ADD a",
            "COPY --from=x a",
            "COPY <<EOF",
        ] {
            let e = err(&format!("FROM a\n{text}\n"));
            assert_eq!((e.line, e.column), (2, 1), "{text}");
            assert!(
                e.message.contains("at least two arguments"),
                "{text}: {}",
                e.message
            );
        }
    }

    #[test]
    fn copy_rejects_buildkit_flags_slipway_lacks() {
        for (ins, flag) in [
            ("COPY", "parents"),
            ("COPY", "exclude=*.md"),
            ("ADD", "checksum=sha256:abc"),
            ("ADD", "keep-git-dir=true"),
            ("ADD", "exclude=x"),
        ] {
            let e = err(&format!("FROM a\n{ins} --{flag} a b\n"));
            let name = flag.split('=').next().unwrap_or_default();
            assert_eq!(
                e.message,
                format!("{ins} --{name} is not supported by slipway")
            );
            assert_eq!(e.column, ins.len() + 2);
        }
    }

    #[test]
    fn copy_rejects_unknown_flags_by_name() {
        let e = err("FROM a\nCOPY --own=1 a b\n");
        assert!(
            e.message.contains("unknown flag --own for COPY"),
            "{}",
            e.message
        );
        let e = err("FROM a\nCOPY --from=a --from=b x y\n");
        assert!(e.message.contains("more than once"), "{}", e.message);
        let e = err("FROM a\nCOPY --chown a b\n");
        assert!(e.message.contains("needs a value"), "{}", e.message);
    }

    #[test]
    fn add_takes_no_from() {
        let e = err("FROM a\nADD --from=x a b\n");
        assert!(e.message.contains("only COPY"), "{}", e.message);
        let Kind::Add(c) = kind("ADD --chown=1 --link https://x/y.tgz /tmp/") else {
            panic!("not ADD")
        };
        assert_eq!(c.sources, strings(&["https://x/y.tgz"]));
        assert_eq!(c.chown.as_deref(), Some("1"));
        assert!(c.link);
    }

    // ---- heredocs -------------------------------------------------------------------------

    #[test]
    fn run_heredoc_body_is_collected() {
        let ins = body("RUN <<EOF\nset -e\nFROM not-an-instruction\n\n# kept\nEOF\nUSER x\n");
        assert_eq!(ins.len(), 2);
        assert_eq!(
            ins[0].kind,
            Kind::Run(Run {
                command: shell("<<EOF"),
                heredocs: vec![Heredoc {
                    name: "EOF".into(),
                    content: "set -e\nFROM not-an-instruction\n\n# kept\n".into(),
                    expand: true,
                    strip_tabs: false,
                }],
                flags: vec![],
            })
        );
        assert_eq!((ins[0].line, ins[1].line), (2, 8));
    }

    #[test]
    fn heredoc_with_dash_strips_leading_tabs() {
        let r = run_of("RUN <<-EOT bash\n\techo a\n\t\t  b\n\tEOT\n");
        assert_eq!(r.command, shell("<<-EOT bash"));
        assert_eq!(r.heredocs[0].content, "echo a\n  b\n");
        assert!(r.heredocs[0].strip_tabs);
        // Without the dash, tabs stay and a tab-indented delimiter does not end it.
        let r = run_of("RUN <<EOT\n\techo\n\tEOT\nEOT\n");
        assert_eq!(r.heredocs[0].content, "\techo\n\tEOT\n");
    }

    #[test]
    fn quoted_heredoc_delimiter_turns_expansion_off() {
        for (word, expand) in [
            ("<<\"EOF\"", false),
            ("<<'EOF'", false),
            ("<<E\"O\"F", false),
            ("<<-'EOF'", false),
            ("<<EOF", true),
            ("2<<EOF", true),
        ] {
            let r = run_of(&format!("RUN cat {word}\n$HOME\nEOF\n"));
            assert_eq!(r.heredocs.len(), 1, "{word}");
            assert_eq!(r.heredocs[0].name, "EOF", "{word}");
            assert_eq!(r.heredocs[0].expand, expand, "{word}");
            assert_eq!(r.heredocs[0].content, "$HOME\n");
        }
    }

    #[test]
    fn several_heredocs_on_one_line_are_read_in_turn() {
        let ins = body("RUN cat <<A > /a && cat <<-'B' > /b\nfirst\nA\n\tsecond\n\tB\nUSER u\n");
        let Kind::Run(r) = &ins[0].kind else {
            panic!("not RUN")
        };
        assert_eq!(r.command, shell("cat <<A > /a && cat <<-'B' > /b"));
        assert_eq!(
            r.heredocs
                .iter()
                .map(|h| (h.name.as_str(), h.content.as_str(), h.expand))
                .collect::<Vec<_>>(),
            vec![("A", "first\n", true), ("B", "second\n", false)]
        );
        assert_eq!(ins[1].kind, Kind::User("u".into()));
    }

    #[test]
    fn here_strings_and_quoted_operators_are_not_heredocs() {
        assert!(run_of("RUN cat <<<word").heredocs.is_empty());
        assert!(run_of("RUN echo '<<EOF'").heredocs.is_empty());
        assert!(run_of("RUN echo \"<<EOF\"").heredocs.is_empty());
        assert!(run_of("RUN a<<EOF").heredocs.is_empty());
        assert!(run_of("RUN [\"cat\", \"<<EOF\"]").heredocs.is_empty());
    }

    #[test]
    fn heredoc_after_a_continued_line() {
        let r = run_of("RUN --network=none cat \\\n  <<EOF\nhi\nEOF\n");
        assert_eq!(r.flags, strings(&["--network=none"]));
        assert_eq!(r.heredocs[0].content, "hi\n");
    }

    #[test]
    fn empty_heredoc_has_empty_content() {
        assert_eq!(run_of("RUN <<EOF\nEOF").heredocs[0].content, "");
    }

    #[test]
    fn copy_heredoc_is_a_named_source() {
        let c = copy_of("COPY --chmod=0644 <<EOF /etc/motd\nhello $USER\nEOF\n");
        assert_eq!(c.sources, strings(&["EOF"]));
        assert_eq!(c.dest, "/etc/motd");
        assert_eq!(c.chmod.as_deref(), Some("0644"));
        assert_eq!(
            c.heredocs,
            vec![Heredoc {
                name: "EOF".into(),
                content: "hello $USER\n".into(),
                expand: true,
                strip_tabs: false,
            }]
        );
        let c = copy_of("COPY a <<one <<\"two\" /dst/\n1\none\n2\ntwo\n");
        assert_eq!(c.sources, strings(&["a", "one", "two"]));
        assert_eq!(c.heredocs.len(), 2);
        assert_eq!(
            (c.heredocs[1].content.as_str(), c.heredocs[1].expand),
            ("2\n", false)
        );
    }

    #[test]
    fn heredoc_as_copy_destination_is_an_error() {
        let e = err("FROM a\nCOPY a <<EOF\nx\nEOF\n");
        assert_eq!((e.line, e.column), (2, 8));
        assert!(e.message.contains("destination"), "{}", e.message);
    }

    #[test]
    fn unterminated_heredoc_reports_where_it_started() {
        let e = err("FROM a\nRUN echo \\\n  && cat <<END\nline\nEND \n");
        assert_eq!((e.line, e.column), (3, 10));
        assert!(e.message.contains("unterminated heredoc"), "{}", e.message);
        assert!(e.message.contains("END"), "{}", e.message);
        let e = err("FROM a\nCOPY <<A <<B /d/\nA\n");
        assert_eq!((e.line, e.column), (2, 10));
    }

    // ---- HEALTHCHECK, EXPOSE, VOLUME, others -------------------------------------------------

    #[test]
    fn healthcheck_none() {
        assert_eq!(
            kind("HEALTHCHECK none"),
            Kind::Healthcheck(Healthcheck::None)
        );
        let e = err("FROM a\nHEALTHCHECK NONE x\n");
        assert_eq!(e.column, 18);
        let e = err("FROM a\nHEALTHCHECK --interval=1s NONE\n");
        assert!(e.message.contains("no flags"), "{}", e.message);
    }

    #[test]
    fn healthcheck_cmd_with_flags() {
        assert_eq!(
            kind(
                "HEALTHCHECK --interval=30s --timeout=\"3s\" --start-period=1m30s --start-interval=500ms --retries=3 \\\n  CMD curl -f http://localhost/ || exit 1"
            ),
            Kind::Healthcheck(Healthcheck::Check {
                test: shell("curl -f http://localhost/ || exit 1"),
                interval: Some("30s".into()),
                timeout: Some("3s".into()),
                start_period: Some("1m30s".into()),
                start_interval: Some("500ms".into()),
                retries: Some(3),
            })
        );
        assert_eq!(
            kind(r#"HEALTHCHECK cmd ["/bin/check", "-q"]"#),
            Kind::Healthcheck(Healthcheck::Check {
                test: exec(&["/bin/check", "-q"]),
                interval: None,
                timeout: None,
                start_period: None,
                start_interval: None,
                retries: None,
            })
        );
    }

    #[test]
    fn healthcheck_errors() {
        let e = err("FROM a\nHEALTHCHECK CMD\n");
        assert!(e.message.contains("missing command"), "{}", e.message);
        let e = err("FROM a\nHEALTHCHECK RUN x\n");
        assert!(e.message.contains("unknown type \"RUN\""), "{}", e.message);
        let e = err("FROM a\nHEALTHCHECK --interval=5 CMD x\n");
        assert_eq!(e.column, 13);
        assert!(e.message.contains("duration"), "{}", e.message);
        let e = err("FROM a\nHEALTHCHECK --timeout=100us CMD x\n");
        assert!(e.message.contains("less than 1ms"), "{}", e.message);
        let e = err("FROM a\nHEALTHCHECK --retries=-1 CMD x\n");
        assert!(e.message.contains("--retries"), "{}", e.message);
        let e = err("FROM a\nHEALTHCHECK --every=1s CMD x\n");
        assert!(e.message.contains("unknown flag --every"), "{}", e.message);
        let e = err("FROM a\nHEALTHCHECK CMD []\n");
        assert!(e.message.contains("missing command"), "{}", e.message);
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("0"), Ok(0));
        assert_eq!(go_duration("1h2m3.5s"), Ok(3_723_500_000_000));
        assert_eq!(go_duration("1.5ms"), Ok(1_500_000));
        assert_eq!(go_duration("2µs"), Ok(2_000));
        assert!(go_duration("").is_err());
        assert!(go_duration("5").is_err());
        assert!(go_duration("5d").is_err());
        assert!(go_duration(".s").is_err());
        assert!(go_duration("-1s").is_err());
    }

    #[test]
    fn expose_and_volume() {
        assert_eq!(
            kind("EXPOSE 80 443/tcp   53/udp $PORT"),
            Kind::Expose(strings(&["80", "443/tcp", "53/udp", "$PORT"]))
        );
        assert_eq!(
            kind("VOLUME /data /logs"),
            Kind::Volume(strings(&["/data", "/logs"]))
        );
        assert_eq!(
            kind(r#"VOLUME ["/data", "/my logs"]"#),
            Kind::Volume(strings(&["/data", "/my logs"]))
        );
        let e = err("FROM a\nVOLUME [\"\"]\n");
        assert!(e.message.contains("empty"), "{}", e.message);
        let e = err("FROM a\nVOLUME []\n");
        assert!(e.message.contains("at least one"), "{}", e.message);
    }

    #[test]
    fn text_instructions_keep_their_text() {
        assert_eq!(
            kind("WORKDIR /my app/$DIR"),
            Kind::Workdir("/my app/$DIR".into())
        );
        assert_eq!(kind("USER 1000:1000"), Kind::User("1000:1000".into()));
        assert_eq!(
            kind("STOPSIGNAL SIGTERM"),
            Kind::StopSignal("SIGTERM".into())
        );
        assert_eq!(
            kind("MAINTAINER Jane <j@example.com>"),
            Kind::Maintainer("Jane <j@example.com>".into())
        );
    }

    #[test]
    fn onbuild_keeps_the_trigger_text() {
        assert_eq!(
            kind("ONBUILD RUN   echo hi"),
            Kind::Onbuild("RUN   echo hi".into())
        );
        assert_eq!(
            kind("onbuild copy --chown=1 . /src"),
            Kind::Onbuild("copy --chown=1 . /src".into())
        );
        let ins = body("ONBUILD RUN <<EOF\necho hi\nEOF\nUSER x\n");
        assert_eq!(ins[0].kind, Kind::Onbuild("RUN <<EOF\necho hi\nEOF".into()));
        assert_eq!(ins[1].kind, Kind::User("x".into()));
    }

    #[test]
    fn onbuild_rejects_bad_triggers() {
        let e = err("FROM a\nONBUILD ONBUILD RUN x\n");
        assert_eq!(e.column, 9);
        assert!(e.message.contains("ONBUILD ONBUILD"), "{}", e.message);
        let e = err("FROM a\nONBUILD from x\n");
        assert!(e.message.contains("FROM isn't allowed"), "{}", e.message);
        let e = err("FROM a\nONBUILD MAINTAINER x\n");
        assert!(
            e.message.contains("MAINTAINER isn't allowed"),
            "{}",
            e.message
        );
        let e = err("FROM a\nONBUILD RUNX x\n");
        assert_eq!(e.column, 9);
        assert!(
            e.message.contains("unknown instruction: RUNX"),
            "{}",
            e.message
        );
    }

    // ---- expand ---------------------------------------------------------------------------

    #[test]
    fn expand_plain_variables() {
        assert_eq!(ex("$A"), Ok("a".into()));
        assert_eq!(ex("${A}"), Ok("a".into()));
        assert_eq!(ex("x$A-y${A}z"), Ok("xa-yaz".into()));
        assert_eq!(ex("$Ab"), Ok("".into()));
        assert_eq!(ex("$UNSET/${UNSET}"), Ok("/".into()));
        assert_eq!(ex("$SPACE"), Ok("x y".into()));
        assert_eq!(ex("$"), Ok("$".into()));
        assert_eq!(ex("a$ b$/"), Ok("a$ b$/".into()));
        assert_eq!(ex("$1x"), Ok("x".into()));
        assert_eq!(ex("$é"), Ok("".into()));
    }

    #[test]
    fn expand_quotes() {
        assert_eq!(ex("'$A'"), Ok("$A".into()));
        assert_eq!(ex("\"$A\""), Ok("a".into()));
        assert_eq!(ex("\"'$A'\""), Ok("'a'".into()));
        assert_eq!(ex("'\"x\"'"), Ok("\"x\"".into()));
        assert_eq!(ex("a'b c'd\"e f\""), Ok("ab cde f".into()));
        assert_eq!(ex("''"), Ok("".into()));
        assert_eq!(ex("'a\\b'"), Ok("a\\b".into()));
    }

    #[test]
    fn expand_escapes() {
        assert_eq!(ex(r"\$A"), Ok("$A".into()));
        assert_eq!(ex(r"a\ b"), Ok("a b".into()));
        assert_eq!(ex(r"\\"), Ok("\\".into()));
        assert_eq!(ex(r"\'x\'"), Ok("'x'".into()));
        assert_eq!(ex(r"trailing\"), Ok("trailing".into()));
        // In double quotes only ", $ and the escape character are escaped.
        assert_eq!(ex(r#""\$A \"q\" \\ \n""#), Ok(r#"$A "q" \ \n"#.into()));
    }

    #[test]
    fn expand_with_backtick_escape() {
        let e = |w: &str| expand(w, '`', &vars);
        assert_eq!(e(r"C:\path\$A"), Ok(r"C:\path\a".into()));
        assert_eq!(e("`$A"), Ok("$A".into()));
        assert_eq!(e("\"`\"`$A\""), Ok("\"$A".into()));
        assert_eq!(e("a` b"), Ok("a b".into()));
    }

    #[test]
    fn expand_defaults_and_alternatives() {
        assert_eq!(ex("${UNSET:-dflt}"), Ok("dflt".into()));
        assert_eq!(ex("${EMPTY:-dflt}"), Ok("dflt".into()));
        assert_eq!(ex("${A:-dflt}"), Ok("a".into()));
        assert_eq!(ex("${UNSET-dflt}"), Ok("dflt".into()));
        assert_eq!(ex("${EMPTY-dflt}"), Ok("".into()));
        assert_eq!(ex("${A-dflt}"), Ok("a".into()));
        assert_eq!(ex("${A:+alt}"), Ok("alt".into()));
        assert_eq!(ex("${EMPTY:+alt}"), Ok("".into()));
        assert_eq!(ex("${UNSET:+alt}"), Ok("".into()));
        assert_eq!(ex("${A+alt}"), Ok("alt".into()));
        assert_eq!(ex("${EMPTY+alt}"), Ok("alt".into()));
        assert_eq!(ex("${UNSET+alt}"), Ok("".into()));
    }

    #[test]
    fn expand_words_in_modifiers_are_processed() {
        assert_eq!(ex("${UNSET:-$A/${A}}"), Ok("a/a".into()));
        assert_eq!(ex("${UNSET:-\"a b\"}"), Ok("a b".into()));
        assert_eq!(ex("${UNSET:-'$A'}"), Ok("$A".into()));
        assert_eq!(ex(r"${UNSET:-\}}"), Ok("}".into()));
        assert_eq!(ex("${UNSET:-${UNSET2:-deep}}"), Ok("deep".into()));
        assert_eq!(ex("\"${UNSET:-x y}\""), Ok("x y".into()));
        assert_eq!(ex("${UNSET:-}"), Ok("".into()));
    }

    #[test]
    fn expand_required_variables() {
        assert_eq!(ex("${A:?need A}"), Ok("a".into()));
        assert_eq!(ex("${EMPTY?need}"), Ok("".into()));
        assert_eq!(ex("${UNSET?need UNSET}"), Err("UNSET: need UNSET".into()));
        assert_eq!(
            ex("${UNSET:?}"),
            Err("UNSET: is not allowed to be unset".into())
        );
        assert_eq!(
            ex("${EMPTY:?must be set}"),
            Err("EMPTY: must be set".into())
        );
        assert_eq!(
            ex("${UNSET?}"),
            Err("UNSET: is not allowed to be unset".into())
        );
    }

    #[test]
    fn expand_pattern_removal_and_replacement() {
        assert_eq!(ex("${FILE#*.}"), Ok("tar.gz".into()));
        assert_eq!(ex("${FILE##*.}"), Ok("gz".into()));
        assert_eq!(ex("${FILE%.*}"), Ok("archive.tar".into()));
        assert_eq!(ex("${FILE%%.*}"), Ok("archive".into()));
        assert_eq!(ex("${FILE#nomatch}"), Ok("archive.tar.gz".into()));
        assert_eq!(ex("${FILE%.t?r.gz}"), Ok("archive".into()));
        assert_eq!(ex("${FILE%\"*\"}"), Ok("archive.tar.gz".into()));
        assert_eq!(
            ex("${PATH/bin/sbin}"),
            Ok("/usr/local/sbin:/usr/bin:/bin".into())
        );
        assert_eq!(
            ex("${PATH//bin/sbin}"),
            Ok("/usr/local/sbin:/usr/sbin:/sbin".into())
        );
        assert_eq!(
            ex("${PATH//:/ }"),
            Ok("/usr/local/bin /usr/bin /bin".into())
        );
        assert_eq!(ex("${FILE/.*}"), Ok("archive".into()));
        assert_eq!(ex("${UNSET#x}"), Ok("".into()));
    }

    #[test]
    fn expand_syntax_errors() {
        for (word, needle) in [
            ("'open", "single quote"),
            ("\"open", "double quote"),
            ("\"a$A", "double quote"),
            ("${A", "missing '}'"),
            ("${", "missing '}'"),
            ("${A:-x", "missing '}'"),
            ("${}", "bad substitution"),
            ("${:-x}", "bad substitution"),
            ("${{A}}", "bad substitution"),
            ("${A:x}", "unsupported modifier"),
            ("${A^}", "unsupported modifier"),
            ("${A/x", "missing '}'"),
        ] {
            let e = ex(word).expect_err(word);
            assert!(e.contains(needle), "{word}: {e}");
        }
    }

    #[test]
    fn unquote_keeps_dollars() {
        assert_eq!(unquote("\"$A\"", '\\'), Ok("$A".into()));
        assert_eq!(unquote("'a b'c\\ d", '\\'), Ok("a bc d".into()));
    }

    #[test]
    fn glob_matching() {
        let g = |pattern: &str, s: &str| {
            let p: Vec<Pat> = pattern
                .chars()
                .map(|c| match c {
                    '*' => Pat::Any,
                    '?' => Pat::One,
                    c => Pat::Lit(c),
                })
                .collect();
            glob(&p, &s.chars().collect::<Vec<_>>())
        };
        assert!(g("", ""));
        assert!(g("*", ""));
        assert!(g("a*c", "abbbc"));
        assert!(g("a*b*c", "axbyc"));
        assert!(!g("a*c", "abcd"));
        assert!(g("?é", "xé"));
        assert!(!g("?", ""));
    }

    // ---- word splitting -------------------------------------------------------------------

    #[test]
    fn word_spans_respect_quotes_and_escapes() {
        let words = |s: &str| -> Vec<String> {
            word_spans(s, '\\')
                .into_iter()
                .map(|(a, b)| s[a..b].to_string())
                .collect()
        };
        assert_eq!(words("  a  b\tc "), strings(&["a", "b", "c"]));
        assert_eq!(
            words(r#"a="x y" b='p q' c=d\ e"#),
            strings(&[r#"a="x y""#, "b='p q'", r"c=d\ e"])
        );
        assert_eq!(words(r#""a \" b" c"#), strings(&[r#""a \" b""#, "c"]));
        assert_eq!(words(r"'a \' b"), strings(&[r"'a \'", "b"]));
        assert_eq!(words("\"open quote"), strings(&["\"open quote"]));
        assert_eq!(words(""), Vec::<String>::new());
    }

    // ---- normalized -----------------------------------------------------------------------

    #[test]
    fn normalized_copy_matches_the_documented_form() {
        assert_eq!(
            norm("COPY --chown=1000:1000   --from=builder a b /dst"),
            r#"COPY --from=builder --chown=1000:1000 ["a","b","/dst"]"#
        );
        assert_eq!(
            norm("copy --link --chmod=755 --from=x a /b"),
            r#"COPY --from=x --chmod=755 --link ["a","/b"]"#
        );
    }

    #[test]
    fn normalized_ignores_layout() {
        let pairs = [
            (
                "COPY --from=a  --chown=1   x   /y",
                "COPY \\\n  --chown=1 \\\n  # note\n  --from=a x \\\n /y",
            ),
            ("ENV A=1 B=2", "env   A=1 \\\n\tB=2   "),
            ("ARG A B=1", "ARG A \\\n B=1"),
            (
                "RUN --network=none --mount=type=cache,target=/c make",
                "RUN --mount=type=cache,target=/c \\\n --network=none make",
            ),
            ("EXPOSE 80 443", "EXPOSE   80 \\\n 443"),
            ("LABEL a=b", "LABEL   a=b  "),
            (
                "HEALTHCHECK --retries=3 --interval=1s CMD x",
                "HEALTHCHECK --interval=1s \\\n --retries=3 CMD x",
            ),
            ("CMD [\"a\",\"b\"]", "CMD [ \"a\" , \\\n \"b\" ]"),
            ("COPY [\"a\",\"b\"]", "COPY [\"a\", \\\n   \"b\"]"),
            ("VOLUME /a", "VOLUME [\"/a\"]"),
            ("RUN x", "RUN \\\nx"),
        ];
        for (a, b) in pairs {
            assert_eq!(norm(a), norm(b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn normalized_examples() {
        assert_eq!(
            norm("ARG A B=1 C= D=\"x y\""),
            r#"ARG A B=1 C="" D="\"x y\"""#
        );
        assert_eq!(norm("ENV PATH=/opt/bin:$PATH"), "ENV PATH=/opt/bin:$PATH");
        assert_eq!(norm("ENV A some value"), r#"ENV A="some value""#);
        assert_eq!(
            norm("RUN apt-get update && apt-get install -y x"),
            "RUN apt-get update && apt-get install -y x"
        );
        assert_eq!(norm(r#"RUN ["a", "b c"]"#), r#"RUN ["a","b c"]"#);
        assert_eq!(
            norm("RUN --mount=type=cache,target=/x make"),
            "RUN --mount=type=cache,target=/x make"
        );
        assert_eq!(
            norm("RUN <<EOF\necho hi\nEOF\n"),
            r#"RUN "<<EOF" <<{"name":"EOF","expand":true,"strip_tabs":false,"content":"echo hi\n"}"#
        );
        assert_eq!(
            norm("COPY <<'X' /f\n$a\nX\n"),
            r#"COPY ["X","/f"] <<{"name":"X","expand":false,"strip_tabs":false,"content":"$a\n"}"#
        );
        assert_eq!(
            norm(r#"COPY ["a b", "/c"]"#),
            r#"COPY ["a b","/c"] (json form)"#
        );
        assert_eq!(norm("WORKDIR /app"), "WORKDIR /app");
        assert_eq!(norm("USER 1:1"), "USER 1:1");
        assert_eq!(norm("EXPOSE 80/tcp"), r#"EXPOSE ["80/tcp"]"#);
        assert_eq!(norm("VOLUME /a /b"), r#"VOLUME ["/a","/b"]"#);
        assert_eq!(
            norm(r#"SHELL ["/bin/bash", "-c"]"#),
            r#"SHELL ["/bin/bash","-c"]"#
        );
        assert_eq!(norm("CMD echo hi"), "CMD echo hi");
        assert_eq!(norm("ENTRYPOINT [\"/x\"]"), r#"ENTRYPOINT ["/x"]"#);
        assert_eq!(norm("HEALTHCHECK NONE"), "HEALTHCHECK NONE");
        assert_eq!(
            norm("HEALTHCHECK --timeout=2s --retries=3 CMD [\"x\"]"),
            r#"HEALTHCHECK --timeout=2s --retries=3 CMD ["x"]"#
        );
        assert_eq!(norm("ONBUILD RUN x"), "ONBUILD RUN x");
        assert_eq!(norm("STOPSIGNAL 9"), "STOPSIGNAL 9");
        assert_eq!(norm("MAINTAINER me"), "MAINTAINER me");
        assert_eq!(norm("LABEL \"a b\"=c"), r#"LABEL "\"a b\""=c"#);
    }

    #[test]
    fn normalized_shell_text_that_could_be_misread_is_json() {
        assert_eq!(norm("CMD -- --help"), r#"CMD "--help""#);
        assert_eq!(norm("RUN [ -f x ]"), r#"RUN "[ -f x ]""#);
        assert_eq!(norm("RUN \"quoted\" arg"), r#"RUN "\"quoted\" arg""#);
        assert_ne!(norm("CMD -- --help"), norm("CMD [\"--help\"]"));
    }

    #[test]
    fn normalized_differs_when_any_field_differs() {
        let texts = [
            "ARG A",
            "ARG A=",
            "ARG A=1",
            "ARG A=1 B",
            "ARG \"A=1\"",
            "ENV A=1",
            "ENV A=2",
            "ENV A=\"1\"",
            "ENV A=1 B=2",
            "ENV A \"1 B=2\"",
            "LABEL A=1",
            "COPY a b",
            "COPY a c",
            "COPY a b c",
            "COPY --from=x a b",
            "COPY --from=y a b",
            "COPY --chown=1 a b",
            "COPY --chmod=1 a b",
            "COPY --link a b",
            "COPY [\"a\", \"b\"]",
            "COPY <<a b\nx\na",
            "COPY <<a b\ny\na",
            "COPY <<'a' b\nx\na",
            "COPY <<-a b\nx\na",
            "COPY --from=\"x --chown=1\" a b",
            "ADD a b",
            "RUN a",
            "RUN a  b",
            "RUN a b",
            "RUN [\"a\"]",
            "RUN \"a\"",
            "RUN --network=none a",
            "RUN --network=host a",
            "RUN --mount=x --mount=y a",
            "RUN --mount=y --mount=x a",
            "RUN --security=insecure a",
            "RUN <<EOF\nx\nEOF",
            "RUN <<EOF\ny\nEOF",
            "RUN <<EOF cat\nx\nEOF",
            "RUN <<-EOF\nx\nEOF",
            "RUN <<\"EOF\"\nx\nEOF",
            "CMD a",
            "CMD [\"a\"]",
            "ENTRYPOINT a",
            "SHELL [\"a\"]",
            "WORKDIR a",
            "WORKDIR \"a\"",
            "USER a",
            "STOPSIGNAL a",
            "MAINTAINER a",
            "ONBUILD RUN a",
            "EXPOSE a",
            "EXPOSE a b",
            "EXPOSE \"a b\"",
            "VOLUME a",
            "HEALTHCHECK NONE",
            "HEALTHCHECK CMD a",
            "HEALTHCHECK CMD [\"a\"]",
            "HEALTHCHECK --interval=1s CMD a",
            "HEALTHCHECK --timeout=1s CMD a",
            "HEALTHCHECK --start-period=1s CMD a",
            "HEALTHCHECK --start-interval=1s CMD a",
            "HEALTHCHECK --retries=1 CMD a",
            "HEALTHCHECK --retries=2 CMD a",
        ];
        let mut seen: Vec<(String, &str)> = Vec::new();
        for t in texts {
            let n = norm(t);
            if let Some((_, other)) = seen.iter().find(|(m, _)| *m == n) {
                panic!("{t:?} and {other:?} both normalize to {n}");
            }
            seen.push((n, t));
        }
    }

    #[test]
    fn normalized_encoding_covers_hand_made_values() {
        let n = |kind: Kind| Instruction { line: 1, kind }.normalized();
        assert_ne!(
            n(Kind::Env(vec![("A=B".into(), "C".into())])),
            n(Kind::Env(vec![("A".into(), "B=C".into())]))
        );
        assert_ne!(
            n(Kind::Env(vec![("A".into(), "1 B=2".into())])),
            n(Kind::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "2".into())
            ]))
        );
        assert_ne!(
            n(Kind::Workdir(String::new())),
            n(Kind::Workdir("\"\"".into()))
        );
        assert_ne!(n(Kind::Cmd(shell("[\"a\"]"))), n(Kind::Cmd(exec(&["a"]))));
        assert_ne!(n(Kind::Workdir(" a".into())), n(Kind::Workdir("a".into())));
        assert_eq!(n(Kind::Workdir("a\nb".into())), r#"WORKDIR "a\nb""#);
    }

    #[test]
    fn normalized_is_one_line() {
        for t in [
            "RUN <<EOF\na\nb\nEOF",
            "COPY <<EOF /x\n\"q\"\nEOF",
            "ONBUILD RUN <<EOF\na\nEOF",
        ] {
            let n = norm(t);
            assert!(!n.contains('\n'), "{n}");
        }
    }

    // ---- a realistic file -----------------------------------------------------------------

    #[test]
    fn realistic_dockerfile() {
        let text = r#"# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
ARG BASE=gcr.io/distroless/static

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -o /out/app ./cmd/app

FROM ${BASE}
COPY --from=build --chown=65532:65532 /out/app /app
COPY <<EOF /etc/app.conf
listen = ":8080"
EOF
USER 65532
EXPOSE 8080
HEALTHCHECK --interval=10s CMD ["/app", "health"]
ENTRYPOINT ["/app"]
"#;
        let d = df(text);
        assert_eq!(d.global_args.len(), 2);
        assert_eq!(d.stages.len(), 2);
        let build = &d.stages[0];
        assert_eq!(build.name.as_deref(), Some("build"));
        assert_eq!(build.platform.as_deref(), Some("$BUILDPLATFORM"));
        assert_eq!(build.base, "golang:${GO_VERSION}");
        assert_eq!(
            build
                .instructions
                .iter()
                .map(|i| (i.line, i.kind.keyword()))
                .collect::<Vec<_>>(),
            vec![
                (6, "WORKDIR"),
                (7, "COPY"),
                (8, "RUN"),
                (10, "COPY"),
                (11, "ARG"),
                (12, "RUN")
            ]
        );
        let last = &d.stages[1];
        assert_eq!(last.base, "${BASE}");
        assert_eq!(
            last.instructions
                .iter()
                .map(|i| (i.line, i.kind.keyword()))
                .collect::<Vec<_>>(),
            vec![
                (17, "COPY"),
                (18, "COPY"),
                (21, "USER"),
                (22, "EXPOSE"),
                (23, "HEALTHCHECK"),
                (24, "ENTRYPOINT")
            ]
        );
        let Kind::Copy(c) = &last.instructions[1].kind else {
            panic!("not COPY")
        };
        assert_eq!(c.heredocs[0].content, "listen = \":8080\"\n");
        let base = expand(&last.base, d.escape, &|k| {
            d.global_args
                .iter()
                .find(|a| a.name == k)
                .and_then(|a| a.default.clone())
        });
        assert_eq!(base, Ok("gcr.io/distroless/static".into()));
    }
}
