//! Reading a Dockerfile's text: physical and logical lines, parser directives, comments,
//! continuation lines, words and flags, and heredocs.

use crate::ast::*;
use crate::expand::unquote;

/// Hands out the physical lines of the text, one at a time.
pub(crate) struct Source<'a> {
    pub(crate) lines: Vec<&'a str>,
    pub(crate) next: usize,
}

impl<'a> Source<'a> {
    pub(crate) fn new(text: &'a str) -> Source<'a> {
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
    pub(crate) fn next_line(&mut self) -> Option<(usize, &'a str)> {
        let line = *self.lines.get(self.next)?;
        self.next += 1;
        Some((self.next, line))
    }
}

/// Holds one instruction's text with its continuation lines joined, and where each piece
/// came from (for error positions).
pub(crate) struct Logical {
    pub(crate) text: String,
    /// (offset in `text`, line, column of that offset).
    pub(crate) segments: Vec<(usize, usize, usize)>,
    /// The 1-based line the instruction starts on.
    pub(crate) line: usize,
}

impl Logical {
    pub(crate) fn push(&mut self, part: &str, line: usize, column: usize) {
        self.segments.push((self.text.len(), line, column));
        self.text.push_str(part);
    }

    /// Returns the line and column of a byte offset in `text`.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let i = self
            .segments
            .partition_point(|s| s.0 <= offset)
            .saturating_sub(1);
        let (start, line, column) = self.segments[i];
        let offset = offset.clamp(start, self.text.len());
        (line, column + self.text[start..offset].chars().count())
    }

    pub(crate) fn error(&self, offset: usize, message: impl Into<String>) -> ParseError {
        let (line, column) = self.position(offset);
        ParseError {
            line,
            column,
            message: message.into(),
        }
    }
}

pub(crate) fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Splits a trailing escape character (and any spaces or tabs after it) off a line; the
/// flag tells whether the line continues.
pub(crate) fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    // BuildKit's rule: the escape character at the end continues the line unless another
    // escape character comes right before it (`a\\` ends there), or it stands alone.
    match line.trim_end_matches([' ', '\t']).strip_suffix(escape) {
        Some(rest) if rest.is_empty() || !rest.ends_with(escape) => (rest, true),
        _ => (line, false),
    }
}

/// Reads the next instruction's lines: blank and comment lines are skipped, continued
/// lines joined (comment and blank lines inside a continuation are skipped too).
pub(crate) fn read_logical(src: &mut Source<'_>, escape: char) -> Option<Logical> {
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
pub(crate) fn parse_directives(lines: &[&str]) -> Result<char, ParseError> {
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
        if key == "syntax" && !honoured_frontend(value) {
            return Err(ParseError {
                line: i + 1,
                column,
                message: format!(
                    "# syntax={value}: slipway reads Dockerfiles itself, with the docker/dockerfile 1.x syntax, and cannot run the frontend this line names; remove the line (or name docker/dockerfile:1) if the file is plain Dockerfile syntax, or build this image with BuildKit"
                ),
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

/// Tells whether a `# syntax=` value names the frontend slipway implements: BuildKit's
/// `docker/dockerfile` (or `-upstream`) image at a 1.x version, a channel (`latest`,
/// `labs`, `experimental`), or no tag, from Docker Hub, pinned by digest or not.
fn honoured_frontend(value: &str) -> bool {
    let image = value.split('@').next().unwrap_or(value).trim();
    let image = image.strip_prefix("docker.io/").unwrap_or(image);
    let (name, tag) = image.split_once(':').unwrap_or((image, "latest"));
    if !matches!(name, "docker/dockerfile" | "docker/dockerfile-upstream") {
        return false;
    }
    let tag = tag.strip_suffix("-labs").unwrap_or(tag);
    if matches!(tag, "latest" | "labs" | "experimental" | "master") {
        return true;
    }
    let mut parts = tag.split('.');
    parts.next() == Some("1")
        && parts.clone().count() <= 2
        && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Splits a `# key=value` directive line into its lowercased key, its value and the
/// value's byte offset.
pub(crate) fn directive(line: &str) -> Option<(String, &str, usize)> {
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
pub(crate) fn word_spans(text: &str, escape: char) -> Vec<(usize, usize)> {
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
pub(crate) struct Flag<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: Option<&'a str>,
    pub(crate) raw: &'a str,
    pub(crate) at: usize,
}

/// Holds the parts of an instruction line: keyword, flags and the rest.
pub(crate) struct Head<'a> {
    /// The keyword as written.
    pub(crate) word: &'a str,
    /// The keyword, lowercase.
    pub(crate) lower: String,
    pub(crate) at: usize,
    pub(crate) flags: Vec<Flag<'a>>,
    /// The arguments after the flags, trimmed.
    pub(crate) args: &'a str,
    pub(crate) args_at: usize,
}

impl Head<'_> {
    pub(crate) fn keyword(&self) -> String {
        self.lower.to_ascii_uppercase()
    }

    pub(crate) fn flag(&self, name: &str) -> Option<&Flag<'_>> {
        self.flags.iter().find(|f| f.name == name)
    }

    pub(crate) fn flag_value(&self, name: &str) -> Option<String> {
        self.flag(name).and_then(|f| f.value).map(str::to_string)
    }
}

/// Splits the text at `at` into a keyword, its leading `--flags` (up to a `--` word or
/// the first word not starting with `--`), and the arguments.
pub(crate) fn split_head(text: &str, at: usize, escape: char) -> Head<'_> {
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
pub(crate) enum FlagType {
    /// Takes one value.
    Text,
    /// Takes `true`/`false` or no value.
    Bool,
    /// Takes a value and may repeat.
    Repeated,
}

/// Checks an instruction's flags against the ones it takes.
pub(crate) fn check_flags(
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
pub(crate) fn json_strings(text: &str) -> Option<Vec<String>> {
    if !text.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(text).ok()
}

/// Reads a command in JSON (exec) form, or else shell form.
pub(crate) fn command_of(args: &str) -> Command {
    match json_strings(args) {
        Some(list) => Command::Exec(list),
        None => Command::Shell(args.to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// Heredocs
// ---------------------------------------------------------------------------------------

/// Holds a heredoc opened on an instruction line, before its body is read.
pub(crate) struct HeredocStart {
    pub(crate) name: String,
    pub(crate) expand: bool,
    pub(crate) strip_tabs: bool,
    pub(crate) at: usize,
}

/// Recognizes a heredoc word (`<<EOF`, `<<-EOF`, `<<"EOF"`, `2<<EOF`) as BuildKit does:
/// returns its name, whether its body expands, and whether tabs are stripped.
pub(crate) fn heredoc_word(word: &str) -> Option<(String, bool, bool)> {
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
pub(crate) fn heredoc_starts(text: &str, base: usize, escape: char) -> Vec<HeredocStart> {
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
pub(crate) fn read_heredocs(
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
