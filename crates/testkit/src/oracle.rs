//! The Go programs slipway's tests compare with: tools built by `scripts/go-tools` and
//! cached by version, and `scripts/oracle`, which answers pattern and duration questions
//! with the Go code Docker, BuildKit and werf run, and `scripts/tmpl-oracle`, which answers
//! template, fmt, values and `--set` questions with text/template, sprig and Helm's code.
//! Also reads Go test tables (upstream modules' and the Go toolchain's) at test time, as
//! cases.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

/// Returns the folder of a tool `scripts/go-tools` builds (`kubernetes`, `helm`, `crane`,
/// `oracle`, `tmpl-oracle`), building it first when it is not cached.
///
/// # Panics
/// When the build fails: the tests that need it must not pass without it.
pub fn go_tool(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(dir) = built.get(name) {
        return dir.clone();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/go-tools");
    let status = Command::new(&script)
        .arg(name)
        .status()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(
        status.success(),
        "{} {name} failed: Go (>= 1.24) and the Go module proxy are needed",
        script.display()
    );
    let out = Command::new(&script)
        .args(["path", name])
        .output()
        .expect("scripts/go-tools path");
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    built.insert(name.to_string(), dir.clone());
    dir
}

/// Asks `scripts/oracle` every question at once and returns its answers, in order. The
/// questions are documented in `scripts/oracle/main.go`.
///
/// # Panics
/// When the oracle cannot be built or run.
pub fn ask_oracle(questions: &[Value]) -> Vec<Value> {
    ask("oracle", questions)
}

/// Asks `scripts/tmpl-oracle` every question at once and returns its answers, in order:
/// text/template, sprig and Helm's template functions, `fmt.Sprintf`, Helm's values files
/// and `--set` lines, and the Go toolchain's own template test tables run on given data.
/// The questions are documented in `scripts/tmpl-oracle/main.go`.
///
/// # Panics
/// When Go is missing, or the oracle cannot be built or run.
pub fn ask_template_oracle(questions: &[Value]) -> Vec<Value> {
    ask("tmpl-oracle", questions)
}

/// Runs the oracle program `tool` (built by `scripts/go-tools tool`) on `questions`.
fn ask(tool: &str, questions: &[Value]) -> Vec<Value> {
    let program = go_tool(tool).join(tool);
    let mut child = Command::new(&program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!(questions).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{} failed ({})",
        program.display(),
        out.status
    );
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{} answered something that is not JSON: {e}",
            program.display()
        )
    });
    assert_eq!(answers.len(), questions.len(), "one answer per question");
    answers
}

/// Reads a test file the oracle's build copied from an upstream Go module
/// (`patternmatcher_test.go`).
pub fn oracle_upstream(file: &str) -> String {
    let path = go_tool("oracle").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs `go ARGS` (from `PATH`, else `/usr/local/go/bin`) in `dir` and returns its standard
/// output, trimmed.
///
/// # Panics
/// When Go is missing or the command fails.
pub fn go_output(dir: &Path, args: &[&str]) -> String {
    let run = |bin: &str| Command::new(bin).args(args).current_dir(dir).output();
    let out = run("go")
        .or_else(|_| run("/usr/local/go/bin/go"))
        .expect("go: Go is needed");
    assert!(
        out.status.success(),
        "go {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Reads a file of the Go toolchain's own sources, such as `time/time_test.go`.
pub fn go_source(rel: &str) -> String {
    let path = PathBuf::from(go_output(Path::new("."), &["env", "GOROOT"]))
        .join("src")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Reads a Go string literal (interpreted or raw) at the start of `s`, after spaces;
/// returns it and the rest. Handles the escapes test tables use.
pub fn go_string(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    if let Some(raw) = s.strip_prefix('`') {
        let end = raw.find('`')?;
        return Some((raw[..end].to_string(), &raw[end + 1..]));
    }
    let body = s.strip_prefix('"')?;
    let mut chars = body.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'x' => {
                        let hex: String = [chars.next()?.1, chars.next()?.1].iter().collect();
                        char::from(u8::from_str_radix(&hex, 16).ok()?)
                    }
                    other => other,
                });
            }
            c => out.push(c),
        }
    }
    None
}

/// Returns the lines of the Go composite literal that opens on the line containing
/// `start`, up to its closing `}` line: one table row per line, as test tables are written.
pub fn go_table_rows<'a>(source: &'a str, start: &str) -> Vec<&'a str> {
    let at = source
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} is not in the Go source"));
    source[at..]
        .lines()
        .skip(1)
        .map(str::trim)
        .take_while(|l| *l != "}" && *l != "},")
        .filter(|l| l.starts_with('{'))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_strings_read_escapes_and_raw_strings() {
        assert_eq!(
            super::go_string(r#" "a\"b\\c\x41", rest"#),
            Some(("a\"b\\cA".to_string(), ", rest"))
        );
        assert_eq!(
            super::go_string("`a\\b` x"),
            Some(("a\\b".to_string(), " x"))
        );
        assert_eq!(super::go_string("nope"), None);
    }
}
