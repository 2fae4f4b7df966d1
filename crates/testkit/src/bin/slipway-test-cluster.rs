//! Starts the test kit's single-node Kubernetes cluster for a person (`scripts/cluster up`)
//! and leaves it running; `DIR/down.sh` (`scripts/cluster down`) stops it.
//!
//! Usage: `slipway-test-cluster up --dir DIR --slipway PATH [--name NAME]... [--taint T]...`

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: slipway-test-cluster up --dir DIR --slipway PATH [--name NAME]... [--taint KEY=VALUE:EFFECT]...";
    if args.next().as_deref() != Some("up") {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    let (mut dir, mut slipway, mut names, mut taints) = (None, None, vec![], vec![]);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("{a} needs a value\n{usage}");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--dir" => dir = Some(PathBuf::from(value())),
            "--slipway" => slipway = Some(PathBuf::from(value())),
            "--name" => names.push(value()),
            "--taint" => taints.push(value()),
            _ => {
                eprintln!("unknown argument {a}\n{usage}");
                std::process::exit(2);
            }
        }
    }
    let (Some(dir), Some(slipway)) = (dir, slipway) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    if dir.join("pids/kube-apiserver").exists() {
        eprintln!(
            "a cluster already runs in {}: stop it first (scripts/cluster down)",
            dir.display()
        );
        std::process::exit(2);
    }
    let mut b = slipway_testkit::Cluster::builder(&slipway).dir(&dir);
    for n in &names {
        b = b.name(n);
    }
    for t in &taints {
        b = b.register_with_taint(t);
    }
    let cluster = b.start();
    println!("API server: {}", cluster.api_server());
    println!(
        "node {} is Ready; it resolves registry.test{} to 127.0.0.1",
        cluster.node_name(),
        names.iter().map(|n| format!(", {n}")).collect::<String>()
    );
    println!("logs: {}/logs; stop: scripts/cluster down", dir.display());
    println!("KUBECONFIG={}", cluster.kubeconfig().display());
    println!("AGENT_IMAGE={}", cluster.agent_image().unwrap_or_default());
    cluster.detach();
}
