//! The one seam through which slipway runs other programs: buildah for `RUN` stages,
//! `kill` and `systemctl` for runtimes that must reload, credential helpers for logins.
//! Code that runs a program describes it as an [`Invocation`] and hands it to a
//! [`Processes`]: [`Host`] runs it for real; [`Recorder`] keeps it and answers as the test
//! says, so the decision to run a program, and with what, is tested without the program.
//! In the manner of youki's syscall trait.
//!
//! ```
//! use slipway_proc::{Finished, Invocation, Processes, Recorder};
//! let fake = Recorder::new(|inv| Ok(Finished::exited(0, format!("ran {}", inv.text()))));
//! let out = fake.run(&Invocation::new("kill").args(["-HUP", "42"]))?;
//! assert_eq!(out.stdout, b"ran kill -HUP 42");
//! assert_eq!(fake.calls()[0].text(), "kill -HUP 42");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A program to run: what, with which arguments, environment, folder and input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The program (a name looked up on `PATH`, or a path).
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Environment changes: set (`Some`) or remove (`None`).
    pub env: Vec<(OsString, Option<OsString>)>,
    /// Start from an empty environment.
    pub env_clear: bool,
    /// The working folder.
    pub cwd: Option<PathBuf>,
    /// Bytes written to its standard input (else it reads nothing).
    pub stdin: Option<Vec<u8>>,
    /// Kill it after this long.
    pub timeout: Option<Duration>,
}

impl Invocation {
    /// Describes running `program`.
    pub fn new(program: impl AsRef<OsStr>) -> Invocation {
        Invocation {
            program: program.as_ref().to_owned(),
            ..Invocation::default()
        }
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Invocation {
        self.args.push(a.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Invocation {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable.
    #[must_use]
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Invocation {
        self.env
            .push((k.as_ref().to_owned(), Some(v.as_ref().to_owned())));
        self
    }

    /// Removes an environment variable.
    #[must_use]
    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Invocation {
        self.env.push((k.as_ref().to_owned(), None));
        self
    }

    /// Starts from an empty environment.
    #[must_use]
    pub fn env_clear(mut self) -> Invocation {
        self.env_clear = true;
        self
    }

    /// Runs in `dir`.
    #[must_use]
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Invocation {
        self.cwd = Some(dir.into());
        self
    }

    /// Writes `bytes` to its standard input.
    #[must_use]
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Invocation {
        self.stdin = Some(bytes.into());
        self
    }

    /// Kills it after `d`.
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Invocation {
        self.timeout = Some(d);
        self
    }

    /// Returns the command line as one text, arguments separated by spaces (for messages
    /// and tests; not for a shell).
    pub fn text(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        if self.env_clear {
            c.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        c
    }
}

/// How a program ended, and what it printed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Finished {
    /// The exit code; `None` when a signal ended it (or the timeout killed it).
    pub code: Option<i32>,
    /// Its standard output (empty when it was streamed).
    pub stdout: Vec<u8>,
    /// Its standard error (empty when it was streamed).
    pub stderr: Vec<u8>,
    /// The timeout killed it.
    pub timed_out: bool,
}

impl Finished {
    /// A program that exited with `code`, having printed `stdout`.
    pub fn exited(code: i32, stdout: impl Into<Vec<u8>>) -> Finished {
        Finished {
            code: Some(code),
            stdout: stdout.into(),
            ..Finished::default()
        }
    }

    /// Tells whether it exited with 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Describes how it ended: `exit status 2`, `killed by a signal`, `timed out`.
    pub fn describe(&self) -> String {
        match (self.code, self.timed_out) {
            (_, true) => "timed out".into(),
            (Some(c), _) => format!("exit status {c}"),
            (None, _) => "killed by a signal".into(),
        }
    }
}

/// Runs programs. See the crate documentation.
pub trait Processes: Send + Sync {
    /// Runs `inv` to its end and captures what it printed.
    ///
    /// # Errors
    /// When it cannot be started (`NotFound` when the program does not exist).
    fn run(&self, inv: &Invocation) -> io::Result<Finished>;

    /// Runs `inv` to its end with standard output and error merged, handing each line to
    /// `on_line` as it comes (the returned [`Finished`] holds no output).
    ///
    /// # Errors
    /// As [`Processes::run`].
    fn run_lines(&self, inv: &Invocation, on_line: &mut dyn FnMut(&str)) -> io::Result<Finished>;
}

/// A shared [`Processes`], [`Host`] by default: the field a struct holds when it runs
/// programs and should be testable.
#[derive(Clone)]
pub struct Shared(pub std::sync::Arc<dyn Processes>);

impl Default for Shared {
    fn default() -> Shared {
        Shared(std::sync::Arc::new(Host))
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Processes")
    }
}

impl std::ops::Deref for Shared {
    type Target = dyn Processes;
    fn deref(&self) -> &(dyn Processes + 'static) {
        &*self.0
    }
}

/// Runs programs on this machine.
#[derive(Clone, Copy, Debug, Default)]
pub struct Host;

/// Spawns, retrying while the program file is busy: a script just written by one thread can
/// be held open for writing by a child another thread is forking (ETXTBSY).
fn spawn(cmd: &mut Command) -> io::Result<Child> {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy && tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(25));
            }
            other => return other,
        }
    }
}

/// Waits for `child`, killing it when `timeout` passes; returns its code and whether it
/// timed out.
fn wait(child: &mut Child, timeout: Option<Duration>) -> io::Result<(Option<i32>, bool)> {
    let Some(limit) = timeout else {
        return Ok((child.wait()?.code(), false));
    };
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status.code(), false));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok((None, true));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Processes for Host {
    fn run(&self, inv: &Invocation) -> io::Result<Finished> {
        let mut cmd = inv.command();
        cmd.stdin(if inv.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = spawn(&mut cmd)?;
        let stdin = child.stdin.take();
        let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
        // Input is written, and both outputs read, on threads of their own, so that no
        // pipe fills while the program waits for another.
        let (written, stdout, stderr, ended) = std::thread::scope(|s| {
            let writer = s.spawn(move || match (stdin, &inv.stdin) {
                (Some(mut pipe), Some(bytes)) => pipe.write_all(bytes),
                _ => Ok(()),
            });
            let read = |r: Option<&mut dyn io::Read>| {
                let mut buf = Vec::new();
                if let Some(r) = r {
                    let _ = r.read_to_end(&mut buf);
                }
                buf
            };
            let o = s.spawn(move || read(out.as_mut().map(|r| r as &mut dyn io::Read)));
            let e = s.spawn(move || read(err.as_mut().map(|r| r as &mut dyn io::Read)));
            let ended = wait(&mut child, inv.timeout);
            (
                writer.join(),
                o.join().unwrap_or_default(),
                e.join().unwrap_or_default(),
                ended,
            )
        });
        let (code, timed_out) = ended?;
        match written {
            Ok(Ok(())) => {}
            // A program may exit without reading its input; its exit status tells the rest.
            Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(io::Error::other("the input writer panicked")),
        }
        Ok(Finished {
            code,
            stdout,
            stderr,
            timed_out,
        })
    }

    fn run_lines(&self, inv: &Invocation, on_line: &mut dyn FnMut(&str)) -> io::Result<Finished> {
        let mut cmd = inv.command();
        let (reader, writer) = io::pipe()?;
        cmd.stdin(Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer);
        let mut child = spawn(&mut cmd)?;
        // The Command holds the pipe's write ends; drop them to see the end of the output.
        drop(cmd);
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&buf);
            on_line(text.trim_end_matches(['\n', '\r']));
        }
        let (code, timed_out) = wait(&mut child, inv.timeout)?;
        Ok(Finished {
            code,
            timed_out,
            ..Finished::default()
        })
    }
}

type Reply = dyn Fn(&Invocation) -> io::Result<Finished> + Send + Sync;

/// Records every invocation and answers with the test's function instead of running
/// anything. For [`Processes::run_lines`], the answer's stdout is handed over line by line.
pub struct Recorder {
    calls: Mutex<Vec<Invocation>>,
    reply: Box<Reply>,
}

impl Recorder {
    /// A recorder that answers each invocation with `reply(invocation)`.
    pub fn new(
        reply: impl Fn(&Invocation) -> io::Result<Finished> + Send + Sync + 'static,
    ) -> Recorder {
        Recorder {
            calls: Mutex::new(Vec::new()),
            reply: Box::new(reply),
        }
    }

    /// Returns the invocations so far, oldest first.
    pub fn calls(&self) -> Vec<Invocation> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Returns the command lines so far ([`Invocation::text`]).
    pub fn texts(&self) -> Vec<String> {
        self.calls().iter().map(Invocation::text).collect()
    }

    fn record(&self, inv: &Invocation) -> io::Result<Finished> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(inv.clone());
        (self.reply)(inv)
    }
}

impl Processes for Recorder {
    fn run(&self, inv: &Invocation) -> io::Result<Finished> {
        self.record(inv)
    }

    fn run_lines(&self, inv: &Invocation, on_line: &mut dyn FnMut(&str)) -> io::Result<Finished> {
        let mut f = self.record(inv)?;
        for line in String::from_utf8_lossy(&f.stdout).lines() {
            on_line(line);
        }
        f.stdout.clear();
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_runs_programs_with_input_output_timeouts_and_lines() {
        let out = Host
            .run(
                &Invocation::new("sh")
                    .args(["-c", "read x; echo got $x; echo err >&2; exit 3"])
                    .stdin("hi\n"),
            )
            .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, b"got hi\n");
        assert_eq!(out.stderr, b"err\n");
        assert!(!out.success());
        assert_eq!(out.describe(), "exit status 3");

        let slow = Host
            .run(
                &Invocation::new("sleep")
                    .arg("5")
                    .timeout(Duration::from_millis(100)),
            )
            .unwrap();
        assert!(slow.timed_out && !slow.success(), "{slow:?}");

        let mut lines = vec![];
        let f = Host
            .run_lines(
                &Invocation::new("sh")
                    .args(["-c", "echo one; echo two >&2"])
                    .env("X", "1"),
                &mut |l| lines.push(l.to_string()),
            )
            .unwrap();
        assert!(f.success());
        lines.sort();
        assert_eq!(lines, ["one", "two"]);

        let missing = Host
            .run(&Invocation::new("/nonexistent/program"))
            .unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn the_recorder_keeps_calls_and_streams_its_answer() {
        let r = Recorder::new(|inv| {
            Ok(if inv.program == "buildah" {
                Finished::exited(0, "STEP 1\nSTEP 2\n")
            } else {
                Finished::exited(1, "")
            })
        });
        let mut lines = vec![];
        let f = r
            .run_lines(&Invocation::new("buildah").arg("build"), &mut |l| {
                lines.push(l.to_string())
            })
            .unwrap();
        assert!(f.success() && f.stdout.is_empty());
        assert_eq!(lines, ["STEP 1", "STEP 2"]);
        assert!(!r.run(&Invocation::new("systemctl")).unwrap().success());
        assert_eq!(r.texts(), ["buildah build", "systemctl"]);
    }
}
