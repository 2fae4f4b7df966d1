//! Stage planning's tests.

use super::*;
use crate::stage::config::*;
use serde_json::{Value, json};
use slipway_dockerfile::Instruction;

/// Resolves every image to a fixed manifest digest and config.
struct Fixed {
    digest: Digest,
    config: Value,
}

impl Resolve for Fixed {
    fn resolve(&mut self, reference: &str) -> Result<ResolvedImage, BuildError> {
        Ok(ResolvedImage {
            reference: reference.into(),
            manifest_digest: self.digest.clone(),
            config: self.config.clone(),
            layers: vec![],
        })
    }
}

fn base(tag: &str) -> Fixed {
    Fixed {
        digest: Digest::sha256_of(tag.as_bytes()),
        config: json!({"config": {"Env": ["PATH=/usr/bin"], "Cmd": ["sh"], "WorkingDir": "/home"}}),
    }
}

fn plan_text(
    text: &str,
    args: &[(&str, &str)],
    resolver: &mut dyn Resolve,
) -> Result<ImagePlan, BuildError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a\n").unwrap();
    plan_in(dir.path(), text, args, resolver)
}

/// Plans `text` with `context` as the build context.
fn plan_in(
    context: &Path,
    text: &str,
    args: &[(&str, &str)],
    resolver: &mut dyn Resolve,
) -> Result<ImagePlan, BuildError> {
    plan_werf(context, text, args, None, &[], resolver)
}

/// Plans `text` with werf's `cacheVersion` and `addHost` settings.
fn plan_werf(
    context: &Path,
    text: &str,
    args: &[(&str, &str)],
    cache_version: Option<&str>,
    add_hosts: &[String],
    resolver: &mut dyn Resolve,
) -> Result<ImagePlan, BuildError> {
    let df = dockerfile::parse(text).unwrap();
    let args: BTreeMap<String, String> = args
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let platform = Platform::parse("linux/amd64").unwrap();
    plan(
        &df,
        &PlanInput {
            dockerfile_path: Path::new("/ctx/Dockerfile"),
            context,
            ignore: &DockerIgnore::default(),
            target: None,
            args: &args,
            platform: &platform,
            build_platform: &platform,
            format: &LayerFormat::default(),
            hashes: &HashCache::default(),
            cache_version,
            add_hosts,
        },
        resolver,
    )
}

fn digests(p: &ImagePlan) -> Vec<String> {
    p.stages
        .iter()
        .map(|s| s.digest.hex().to_string())
        .collect()
}

const TWO: &str =
    "FROM r.test/base:1 AS one\nARG V=1\nCOPY a.txt /a\n\nFROM scratch\nCOPY --from=one /a /b\n";

#[test]
fn layout_of_the_text_does_not_change_digests_but_instructions_do() {
    let a = plan_text(TWO, &[], &mut base("1")).unwrap();
    let spaced = "# comment\nFROM r.test/base:1 AS one\nARG   V=1\nCOPY  a.txt \\\n  /a\nFROM scratch\nCOPY --from=one /a /b\n";
    assert_eq!(
        digests(&a),
        digests(&plan_text(spaced, &[], &mut base("1")).unwrap())
    );
    let changed = TWO.replace("/a /b", "/a /c");
    let b = plan_text(&changed, &[], &mut base("1")).unwrap();
    assert_eq!(
        digests(&a)[0],
        digests(&b)[0],
        "the first stage did not change"
    );
    assert_ne!(digests(&a)[1], digests(&b)[1]);
}

#[test]
fn a_moved_base_tag_or_a_build_arg_changes_the_stages_that_depend_on_it() {
    let a = plan_text(TWO, &[], &mut base("1")).unwrap();
    let moved = plan_text(TWO, &[], &mut base("2")).unwrap();
    assert_ne!(digests(&a)[0], digests(&moved)[0]);
    assert_ne!(
        digests(&a)[1],
        digests(&moved)[1],
        "the stage copying from it too"
    );
    let arg = plan_text(TWO, &[("V", "2")], &mut base("1")).unwrap();
    assert_eq!(
        digests(&a),
        digests(&arg),
        "stage one declares V but never uses it, and has no RUN"
    );
    let uses = TWO.replace("COPY a.txt /a", "LABEL v=${V}\nCOPY a.txt /a");
    let (one, two) = (
        plan_text(&uses, &[], &mut base("1")).unwrap(),
        plan_text(&uses, &[("V", "2")], &mut base("1")).unwrap(),
    );
    assert_ne!(digests(&one)[0], digests(&two)[0], "a LABEL names V");
    let runs = TWO.replace("COPY a.txt /a", "RUN true\nCOPY a.txt /a");
    let (one, two) = (
        plan_text(&runs, &[], &mut base("1")).unwrap(),
        plan_text(&runs, &[("V", "2")], &mut base("1")).unwrap(),
    );
    assert_ne!(digests(&one)[0], digests(&two)[0], "a RUN sees every arg");
    let unused = plan_text(TWO, &[("OTHER", "x")], &mut base("1")).unwrap();
    assert_eq!(
        digests(&a),
        digests(&unused),
        "an arg no stage declares changes nothing"
    );
}

#[test]
fn run_mounts_from_stages_and_images_are_dependencies() {
    let text = "FROM r.test/base:1 AS tools\nCOPY a.txt /a\n\
                FROM scratch AS unused\n\
                FROM r.test/base:1\n\
                RUN --mount=type=bind,from=tools,target=/t \
                    --mount=\"type=bind,target=/i,from=r.test/img:2\" cat /t/a\n";
    let p = plan_text(text, &[], &mut base("1")).unwrap();
    let indices: Vec<usize> = p.stages.iter().map(|s| s.index).collect();
    assert_eq!(
        indices,
        [0, 2],
        "the mounted stage is needed, the unused one is not"
    );
    let Action::Run { mounts } = &p.target().steps[0].action else {
        panic!("a RUN");
    };
    assert!(matches!(mounts[0], FromSource::Stage(0)), "{mounts:?}");
    assert!(
        matches!(&mounts[1], FromSource::Image(i) if i.reference == "r.test/img:2"),
        "{mounts:?}"
    );
    // A change to the mounted stage changes the stage that mounts it.
    let changed = text.replace("COPY a.txt /a", "COPY a.txt /b");
    let q = plan_text(&changed, &[], &mut base("1")).unwrap();
    assert_ne!(digests(&p)[1], digests(&q)[1]);
    // A mount without `from` (the context, a cache) adds no dependency.
    let cache =
        "FROM r.test/base:1 AS tools\nFROM r.test/base:1\nRUN --mount=type=cache,target=/c make\n";
    let p = plan_text(cache, &[], &mut base("1")).unwrap();
    assert_eq!(p.stages.len(), 1);
    let err = plan_text(
        "FROM r.test/base:1\nRUN --mount=type=bind,from=nosuch,target=/n ls\n",
        &[],
        &mut base("1"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("RUN --mount from=nosuch: there is no stage"),
        "{err}"
    );
    let err = plan_text(
        "FROM r.test/base:1\nFROM r.test/base:1\nRUN --mount=from=0,target=/n ls\n",
        &[],
        &mut base("1"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("by stage name only"), "{err}");
}

#[test]
fn a_bind_mount_of_the_context_puts_its_files_in_the_digest() {
    let text = "FROM r.test/base:1\nRUN --mount=type=bind,source=a.txt,target=/a cat /a\n";
    let dir = tempfile::tempdir().unwrap();
    let plan_with = |content: &str| {
        std::fs::write(dir.path().join("a.txt"), content).unwrap();
        digests(&plan_in(dir.path(), text, &[], &mut base("1")).unwrap())
    };
    let one = plan_with("one\n");
    assert_eq!(one, plan_with("one\n"));
    assert_ne!(one, plan_with("two\n"), "the mounted file changed");
    // A cache mount is not content.
    let cache = "FROM r.test/base:1\nRUN --mount=type=cache,target=/c make\n";
    let plain = "FROM r.test/base:1\nRUN make\n";
    let (c, p) = (
        plan_text(cache, &[], &mut base("1")).unwrap(),
        plan_text(plain, &[], &mut base("1")).unwrap(),
    );
    assert_ne!(digests(&c), digests(&p), "the flag itself is in the text");
    let missing = plan_text(
        "FROM r.test/base:1\nRUN --mount=type=bind,source=nope,target=/n ls\n",
        &[],
        &mut base("1"),
    )
    .unwrap_err()
    .to_string();
    assert!(missing.contains("RUN --mount source=nope"), "{missing}");
}

#[test]
fn mount_specs_read_type_from_and_source() {
    let df = dockerfile::parse(
        "FROM a\nRUN --mount=type=cache,target=/c --mount=\"from=b,src=x y,target=/t\" --mount=target=/ctx true\n",
    )
    .unwrap();
    let Kind::Run(r) = &df.stages[0].instructions[0].kind else {
        panic!("a RUN");
    };
    let specs = mount_specs(r);
    assert_eq!(specs[0].kind, "cache");
    assert_eq!(
        (
            specs[1].kind.as_str(),
            specs[1].from.as_deref(),
            specs[1].source.as_deref()
        ),
        ("bind", Some("b"), Some("x y"))
    );
    assert_eq!(
        (specs[2].from.as_deref(), specs[2].source.as_deref()),
        (None, None)
    );
}

#[test]
fn mount_fields_split_outside_quotes() {
    assert_eq!(
        split_fields(r#"type=bind,"source=a,b",from=x"#),
        ["type=bind", "source=a,b", "from=x"]
    );
}

#[test]
fn names_var_finds_whole_names_in_both_forms() {
    let df =
        dockerfile::parse("FROM scratch\nLABEL a=$VERSION b=${TAG:-x}\nENV P=$PATHX\n").unwrap();
    let ins: Vec<String> = df.stages[0]
        .instructions
        .iter()
        .map(Instruction::normalized)
        .collect();
    let ins = &ins;
    assert!(names_var(ins, "VERSION") && names_var(ins, "TAG") && names_var(ins, "PATHX"));
    assert!(!names_var(ins, "PATH") && !names_var(ins, "VERS") && !names_var(ins, "X"));
}

#[test]
fn config_follows_docker_rules() {
    let text = "FROM r.test/base:1\nENV A=1 B=${A}x\nENV C=${A}y\nWORKDIR app\nSHELL [\"/bin/bash\", \"-c\"]\nENTRYPOINT run me\nEXPOSE 80 53/udp\n";
    let p = plan_text(text, &[], &mut base("1")).unwrap();
    let c = &p.target().config;
    // As in Docker, one ENV sees the values from before it: B does not see A.
    assert_eq!(c["Env"], json!(["PATH=/usr/bin", "A=1", "B=x", "C=1y"]));
    assert_eq!(c["WorkingDir"], "/home/app");
    assert_eq!(c["Entrypoint"], json!(["/bin/bash", "-c", "run me"]));
    assert!(c.get("Cmd").is_none(), "ENTRYPOINT resets an inherited CMD");
    assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
    // A variable set again keeps its first place (the inherited PATH too), and the config
    // holds the last value.
    let again = "FROM r.test/base:1\nENV A=1\nENV B=2\nENV A=3 PATH=/bin:$PATH\n";
    let p = plan_text(again, &[], &mut base("1")).unwrap();
    assert_eq!(
        p.target().config["Env"],
        json!(["PATH=/bin:/usr/bin", "A=3", "B=2"])
    );
    // Without an ENV, the inherited environment is left as the base has it.
    let none = plan_text("FROM r.test/base:1\nLABEL a=b\n", &[], &mut base("1")).unwrap();
    assert_eq!(none.target().config["Env"], json!(["PATH=/usr/bin"]));
}

#[test]
fn copy_from_through_a_stage_arg_finds_its_stage() {
    let text = "FROM scratch AS a\nCOPY a.txt /a\nFROM scratch AS b\nCOPY a.txt /b\n\
                FROM scratch\nARG SRC=b\nCOPY --from=${SRC} /b /x\n";
    let p = plan_text(text, &[], &mut base("1")).unwrap();
    let Action::CopyFrom { from, .. } = &p.target().steps[1].action else {
        panic!("not a COPY --from")
    };
    assert!(matches!(**from, FromSource::Stage(1)));
    let q = plan_text(text, &[("SRC", "a")], &mut base("1")).unwrap();
    assert!(
        matches!(&q.target().steps[1].action, Action::CopyFrom { from, .. } if matches!(**from, FromSource::Stage(0)))
    );
    assert_ne!(p.target().digest, q.target().digest);
}

#[test]
fn copy_from_names_only_earlier_stages() {
    let err = plan_text(
        "FROM scratch AS a\nFROM scratch\nCOPY --from=nosuch /x /y\n",
        &[],
        &mut base("1"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("line 3") && err.contains("`nosuch`") && err.contains("a (0)"),
        "{err}"
    );
    let err = plan_text(
        "FROM scratch AS first\nCOPY --from=later /x /y\nFROM scratch AS later\nFROM first\n",
        &[],
        &mut base("1"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("comes later"), "{err}");
    let err = plan_text("FROM scratch\nCOPY missing.txt /m\n", &[], &mut base("1"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing.txt") && err.contains("not found"),
        "{err}"
    );
}

#[test]
fn paths_join_like_workdir() {
    assert_eq!(slipway_fs::path::join("/", "app"), "/app");
    assert_eq!(slipway_fs::path::join("/app", "../srv/./x/"), "/srv/x");
    assert_eq!(slipway_fs::path::join("/app", "/etc"), "/etc");
}

#[test]
fn go_durations_parse() {
    assert_eq!(parse_duration("30s").unwrap(), 30_000_000_000);
    assert_eq!(parse_duration("1m30s").unwrap(), 90_000_000_000);
    assert_eq!(parse_duration("500ms").unwrap(), 500_000_000);
    assert_eq!(parse_duration("1.5h").unwrap(), 5_400_000_000_000);
    assert_eq!(parse_duration("1.001s").unwrap(), 1_001_000_000);
    assert_eq!(parse_duration("+30s").unwrap(), 30_000_000_000);
    assert!(parse_duration("10").is_err());
    assert!(parse_duration("5 days").is_err());
}

#[test]
fn chown_names_resolve_as_buildkit_does() {
    let passwd = b"root:x:0:0:root:/root:/bin/sh\n# note\n\
                   node:x:1000:1001::/home/node:/bin/sh\n\
                   nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n";
    let group = b"root:x:0:\nstaff:x:50:node\nnode:x:1001:\n";
    let r = |s: &str| Chown::parse(s).unwrap().resolve(Some(passwd), Some(group));
    // A name alone takes the user's primary group.
    assert_eq!(r("node"), Ok((1000, 1001)));
    assert_eq!(r("node:staff"), Ok((1000, 50)));
    assert_eq!(r("1000:staff"), Ok((1000, 50)));
    assert_eq!(r("nonroot:7"), Ok((65532, 7)));
    assert_eq!(r("5"), Ok((5, 5)));
    assert!(
        r("nobody")
            .unwrap_err()
            .contains("no `nobody` in the image's /etc/passwd")
    );
    assert!(
        r("node:wheel")
            .unwrap_err()
            .contains("no `wheel` in the image's /etc/group")
    );
    // Without the files, names fail and numbers do not need them.
    let bare = |s: &str| Chown::parse(s).unwrap().resolve(None, None);
    assert!(bare("app").unwrap_err().contains("no /etc/passwd"));
    assert!(bare("1:app").unwrap_err().contains("no /etc/group"));
    assert_eq!(bare("root"), Ok((0, 0)));
    assert_eq!(bare("5:6"), Ok((5, 6)));
}

#[test]
fn chown_and_chmod_values() {
    let ids = |s: &str| Chown::parse(s).unwrap().numeric();
    assert_eq!(ids("1000:2000"), Some((1000, 2000)));
    assert_eq!(ids("33"), Some((33, 33)));
    assert_eq!(ids("root:root"), Some((0, 0)));
    assert_eq!(ids("www-data"), None);
    assert_eq!(ids("1000:staff"), None);
    for bad in ["", ":1", "1:", "app:"] {
        assert!(
            Chown::parse(bad).unwrap_err().contains("USER:GROUP"),
            "{bad}"
        );
    }
    // Ids are 32-bit: GNU tar cannot extract a layer with a larger one.
    assert_eq!(ids("4294967295:0"), Some((4_294_967_295, 0)));
    for bad in ["1:99999999999", "4294967296", "99999999999999999999999:1"] {
        let e = Chown::parse(bad).unwrap_err();
        assert!(e.contains("is not a valid user or group id"), "{bad}: {e}");
        assert!(e.starts_with(&format!("--chown={bad}: ")), "{e}");
    }
    assert!(super::config::check_user("4294967295:4294967295").is_ok());
    assert!(super::config::check_user("app:staff").is_ok());
    assert!(
        super::config::check_user("1000:4294967296")
            .unwrap_err()
            .contains("USER 1000:4294967296: 4294967296 is not a valid")
    );
    assert_eq!(parse_chmod("0755").unwrap(), 0o755);
    assert!(parse_chmod("rwx").is_err());
    assert!(parse_chmod("17777").is_err());
}

#[test]
fn heredoc_bodies_substitute_variables() {
    let look = |n: &str| (n == "NAME").then(|| "world".to_string());
    assert_eq!(
        substitute("hi $NAME, ${NAME}! \\$NAME $NOPE.\n", &look),
        "hi world, world! $NAME .\n"
    );
}

/// werf's `cacheVersion`: every stage digest of the image holds it, so a new value rebuilds
/// everything and the same value finds the same stages; unset is the digest without it.
#[test]
fn the_cache_version_is_part_of_every_stage_digest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a\n").unwrap();
    let with = |v: Option<&str>| {
        digests(&plan_werf(dir.path(), TWO, &[], v, &[], &mut base("1")).unwrap())
    };
    let none = with(None);
    let v1 = with(Some("v1"));
    assert_eq!(none, digests(&plan_text(TWO, &[], &mut base("1")).unwrap()));
    assert_eq!(v1, with(Some("v1")), "the same value, the same digests");
    let v2 = with(Some("v2"));
    for i in 0..2 {
        assert_ne!(none[i], v1[i], "stage {i}: setting it rebuilds");
        assert_ne!(v1[i], v2[i], "stage {i}: changing it rebuilds");
    }
    // A stage from scratch with nothing but config changes too: every stage counts it.
    let scratch = "FROM scratch\nLABEL a=b\n";
    let plan = |v| digests(&plan_werf(dir.path(), scratch, &[], v, &[], &mut base("1")).unwrap());
    assert_ne!(plan(None), plan(Some("x")));
}

/// werf's `addHost`: the entries are part of the digest of a stage with `RUN` (whose
/// commands read `/etc/hosts`) and so of the stages built on it; a stage without `RUN` does
/// not change.
#[test]
fn add_hosts_are_part_of_the_digest_of_stages_with_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a\n").unwrap();
    let text = "FROM r.test/base:1 AS tools\nCOPY a.txt /a\n\
                FROM tools AS built\nRUN make\n\
                FROM scratch\nCOPY --from=built /out /out\n";
    let with = |hosts: &[&str]| {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        digests(&plan_werf(dir.path(), text, &[], None, &hosts, &mut base("1")).unwrap())
    };
    let none = with(&[]);
    let one = with(&["registry.internal:10.0.0.5"]);
    assert_eq!(one, with(&["registry.internal:10.0.0.5"]));
    assert_eq!(none[0], one[0], "the stage without RUN does not change");
    assert_ne!(none[1], one[1], "the RUN stage does");
    assert_ne!(none[2], one[2], "and the stage copying from it");
    let other = with(&["registry.internal:10.0.0.6"]);
    assert_ne!(one[1], other[1], "another address rebuilds");
    let two = with(&["a:1.1.1.1", "b:2.2.2.2"]);
    let swapped = with(&["b:2.2.2.2", "a:1.1.1.1"]);
    assert_ne!(
        two[1], swapped[1],
        "order counts: the first entry for a name wins"
    );
}

#[test]
fn secret_and_ssh_mounts_are_marked_and_only_their_text_is_in_the_digest() {
    let text = "FROM r.test/base:1 AS deps\n\
        RUN --mount=type=secret,id=tok --mount=type=ssh true\n\
        FROM deps AS app\nRUN --mount=TYPE=Secret,id=other true\nFROM app AS last\nRUN true\n\
        FROM scratch\nCOPY --from=last /a /a\n";
    let p = plan_text(text, &[], &mut base("1")).unwrap();
    let marks: Vec<(bool, bool, bool)> = p
        .stages
        .iter()
        .map(|s| (s.mounts_secrets, s.mounts_ssh, s.needs_buildah()))
        .collect();
    assert_eq!(
        marks,
        [
            (true, true, true),
            (true, false, true),
            (false, false, true),
            (false, false, false)
        ]
    );
    // The id a RUN mounts is part of its text, and so of the digest.
    let other = text.replace("id=tok", "id=tok2");
    let q = plan_text(&other, &[], &mut base("1")).unwrap();
    assert_ne!(digests(&p)[0], digests(&q)[0]);
    assert_ne!(
        digests(&p)[3],
        digests(&q)[3],
        "built on it, through --from"
    );
}
