//! Tests of the parent module.

use super::*;

/// Splits what the trust agent's script quoting joined: words, bare or in single quotes
/// (`'\''` is a quote inside), separated by spaces.
fn sh_words(text: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut started) = (vec![], String::new(), false, false);
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                }
                started = false;
            }
            _ => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

#[test]
fn the_trust_daemonsets_command_lines_parse_with_this_cli() {
    use slipway_kube::{AgentVerb, TrustManifest, Trusted};
    let m = TrustManifest {
        registries: ["registry.internal:5000", "mirror.internal"]
            .iter()
            .map(|h| Trusted {
                registry: RegistryHost::parse(h).unwrap(),
                ca_pem: b"PEM".to_vec(),
            })
            .collect(),
        agent_image: "ghcr.io/example/slipway:0.1".into(),
        namespace: "it's-odd".into(),
        runtime: "containerd".into(),
        system_store: true,
        api_server: None,
    };
    let objects = m.objects();
    let ds = objects.iter().find(|o| o["kind"] == "DaemonSet").unwrap();
    let c = &ds["spec"]["template"]["spec"]["containers"][0];
    let command = c["command"][2].as_str().unwrap();
    let probe = c["readinessProbe"]["exec"]["command"][2].as_str().unwrap();
    let install = command.strip_suffix(" && exec sleep infinity").unwrap();
    for (script, verb) in [(install, AgentVerb::Install), (probe, AgentVerb::Verify)] {
        let calls = m.agent_calls(verb);
        let lines: Vec<&str> = script.split(" && ").collect();
        assert_eq!(lines.len(), calls.len(), "{script}");
        for (line, call) in lines.iter().zip(&calls) {
            let argv = sh_words(line);
            assert_eq!(argv, call.argv(), "{line}");
            // The real parser takes each line, and reads back what the call says.
            let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{line}: {e}"));
            let Command::Node(NodeCommand::Trust(cmd)) = cli.command else {
                panic!("{line}: not node trust");
            };
            let (args, release) = match (cmd, verb) {
                (NodeTrustCommand::Install(i), AgentVerb::Install) => (i.trust, i.release_taint),
                (NodeTrustCommand::Verify(a), AgentVerb::Verify) => (a, None),
                (other, _) => panic!("{line}: {other:?}"),
            };
            assert_eq!(args.registry, call.registry);
            assert_eq!(args.ca.as_deref(), Some(std::path::Path::new(&call.ca)));
            assert_eq!(args.host_root, std::path::Path::new("/host"));
            assert_eq!(args.runtime, RuntimeArg::Containerd);
            assert!(args.system_store);
            assert_eq!(release, call.release_taint);
            if verb == AgentVerb::Install {
                assert_eq!(args.restart_runtime, RestartArg::Never);
            }
        }
    }
    assert_eq!(
        m.agent_calls(AgentVerb::Install)[1]
            .release_taint
            .as_deref(),
        Some(slipway_kube::STARTUP_TAINT)
    );
}

#[test]
fn host_file_needs_an_equals_sign() {
    let err = parse_host_file("registry.test:5000").unwrap_err();
    assert!(err.contains("no `=`"), "{err}");
    let ok = parse_host_file("registry.test:5000=/tmp/ca.crt").unwrap();
    assert_eq!(ok.host.to_string(), "registry.test:5000");
}

#[test]
fn host_pair_needs_cert_and_key() {
    assert!(parse_host_pair("r.test=/c").is_err());
    assert!(parse_host_pair("r.test=/c,").is_err());
    let p = parse_host_pair("r.test=/c,/k").unwrap();
    assert_eq!((p.cert.to_str(), p.key.to_str()), (Some("/c"), Some("/k")));
}

#[test]
fn validities_take_hours_days_and_years() {
    assert_eq!(
        parse_validity("397d").unwrap(),
        Duration::from_secs(397 * 86_400)
    );
    assert_eq!(
        parse_validity("10y").unwrap(),
        Duration::from_secs(3650 * 86_400)
    );
    assert!(parse_validity("10").is_err());
    assert!(parse_validity("0d").is_err());
}

#[test]
fn durations_take_units() {
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
    assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
    assert_eq!(
        parse_duration("1.001s").unwrap(),
        Duration::from_nanos(1_001_000_000)
    );
    assert_eq!(parse_duration("3h").unwrap(), Duration::from_secs(3 * 3600));
    assert!(parse_duration("25h").is_err());
    assert!(parse_duration("0s").is_err());
    assert!(parse_duration("-1s").is_err());
    assert_eq!(
        parse_duration("5d").unwrap_err(),
        "time: unknown unit \"d\" in duration \"5d\""
    );
}

#[test]
fn werf_bool_flags_do_not_swallow_the_subcommand() {
    let cli = Cli::try_parse_from([
        "slipway",
        "--skip-tls-verify-registry",
        "registry",
        "probe",
        "r.test",
    ])
    .unwrap();
    assert_eq!(cli.global.skip_tls_verify_registry, Some(true));
    let cli = Cli::try_parse_from([
        "slipway",
        "--insecure-registry=false",
        "registry",
        "probe",
        "r.test",
    ])
    .unwrap();
    assert_eq!(cli.global.insecure_registry, Some(false));
}

#[test]
fn clap_definition_is_consistent() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}
