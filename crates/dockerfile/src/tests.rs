//! The parser's, the expander's and the normalizer's tests.

use crate::ast::*;
use crate::expand::*;
use crate::lines::*;
use crate::parse::*;

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
fn a_syntax_line_naming_another_frontend_is_refused() {
    for ok in [
        "docker/dockerfile:1",
        "docker/dockerfile:1.7",
        "docker/dockerfile:1.7.1",
        "docker/dockerfile:1-labs",
        "docker.io/docker/dockerfile:1",
        "docker/dockerfile",
        "docker/dockerfile-upstream:master",
        "docker/dockerfile:1.7@sha256:0123",
    ] {
        assert_eq!(df(&format!("# syntax={ok}\nFROM a\n")).escape, '\\', "{ok}");
    }
    for bad in [
        "tonistiigi/dockerfile:runmount",
        "docker/dockerfile:2",
        "docker/dockerfile:0.1",
        "registry.example/frontends/custom:1",
        "docker/dockerfile:1.x",
    ] {
        let e = err(&format!("# escape=`\n# syntax={bad}\nFROM a\n"));
        assert_eq!((e.line, e.column), (2, 10), "{bad}");
        assert!(
            e.message
                .starts_with(&format!("# syntax={bad}: slipway reads Dockerfiles itself")),
            "{}",
            e.message
        );
    }
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
fn an_escaped_escape_at_end_of_line_ends_the_line_as_in_buildkit() {
    // BuildKit v0.34 (its trailing-backslash test file): `\\` at the end is an escaped
    // backslash, not a continuation; a lone `\` line continues.
    let d = df("FROM a\nRUN echo \\\\\nRUN y\n");
    assert_eq!(d.stages[0].instructions.len(), 2);
    assert_eq!(run_of("RUN echo \\\n\\\nx").command, shell("echo x"));
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
    // As BuildKit: a file without any instruction is reported at its last line.
    for (text, line) in [
        ("", 1),
        ("\n\n", 2),
        ("# just a comment\n", 1),
        ("ARG A=1\n", 1),
    ] {
        let e = err(text);
        assert_eq!((e.line, e.column), (line, 1), "{text:?}");
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
fn run_takes_buildkits_secret_and_ssh_mounts() {
    let r = run_of(
        "RUN --mount=type=secret,id=tok,target=/root/.tok,required=true,mode=0400 \\\n  \
         --mount=type=ssh,id=default,required cat /root/.tok",
    );
    assert_eq!(
        r.flags,
        strings(&[
            "--mount=type=secret,id=tok,target=/root/.tok,required=true,mode=0400",
            "--mount=type=ssh,id=default,required",
        ])
    );
    assert_eq!(r.command, shell("cat /root/.tok"));
    let r = run_of(r#"RUN --mount=type=ssh ["/bin/sh", "-c", "ssh-add -l"]"#);
    assert_eq!(r.flags, strings(&["--mount=type=ssh"]));
    assert_eq!(r.command, exec(&["/bin/sh", "-c", "ssh-add -l"]));
    // The flags are part of the instruction's text, and so of a stage digest.
    assert_eq!(
        norm("RUN   --mount=type=secret,id=tok  cat /run/secrets/tok"),
        "RUN --mount=type=secret,id=tok cat /run/secrets/tok"
    );
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
fn copy_words_split_at_blanks_only_as_buildkit_splits_them() {
    // Quotes and escapes do not join words here: BuildKit reads them later, per word (a
    // source with a space needs the JSON form).
    let c = copy_of(r#"COPY "a b" c\ d $SRC "e" /dst"#);
    assert_eq!(
        c.sources,
        strings(&[r#""a"#, r#"b""#, r"c\", "d", "$SRC", r#""e""#])
    );
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
