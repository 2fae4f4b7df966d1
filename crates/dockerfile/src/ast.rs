//! What a parsed Dockerfile holds: stages, instructions and their flags, words kept raw.

/// Lists the instructions BuildKit knows, lowercase.
pub(crate) const INSTRUCTIONS: [&str; 18] = [
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
pub(crate) const UNSUPPORTED_COPY_FLAGS: [&str; 4] =
    ["parents", "exclude", "checksum", "keep-git-dir"];

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
