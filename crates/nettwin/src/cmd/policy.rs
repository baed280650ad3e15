//! `nettwin policy check|matrix|explain|diff|lint`: Kubernetes and Calico network policy from manifests.

use crate::{output, Global};
use anyhow::Context;
use nettwin_policy::matrix::{self, PortProto};
use nettwin_policy::{proto, Cluster, Cni, Decider, DirVerdict, Engine, EvalOptions, LoadError};
use std::io::Read;
use std::path::PathBuf;

/// Network policy from Kubernetes manifests: NetworkPolicy, AdminNetworkPolicy,
/// BaselineAdminNetworkPolicy and Calico's tiered policies, combined as Calico combines them.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  nettwin policy check -f examples/policy/\n  nettwin policy matrix -f examples/policy/ --ports 80,81/TCP\n  nettwin policy explain -f examples/policy/ --from y/a --to x/a --port 80/TCP\n  nettwin policy diff -f examples/policy/cluster.yaml --to-files examples/policy/cluster.yaml examples/policy-diff/deny-all.yaml\n  nettwin policy lint -f examples/policy/cluster.yaml -f examples/policy-lint/\n  kubectl get ns,pods,netpol -A -o yaml | nettwin policy matrix -f -"
)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    Check(CheckArgs),
    Matrix(MatrixArgs),
    Explain(ExplainArgs),
    Diff(DiffArgs),
    Lint(LintArgs),
}

/// The manifests and how to read them.
#[derive(clap::Args)]
struct Input {
    /// Manifest files or directories (read recursively: *.yaml, *.yml, *.json); `-` is stdin.
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<PathBuf>,
    /// Where pods without status.podIPs get addresses.
    #[arg(long, default_value = "10.244.0.0/16")]
    pod_cidr: String,
    /// Whose reading of ipBlock to follow: calico (matches pod addresses) or cilium (does not).
    #[arg(long, value_enum, default_value = "calico")]
    cni: CniArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CniArg {
    Calico,
    Cilium,
}

/// Validate manifests and summarise them (namespaces, pods, policies by kind, tiers).
#[derive(clap::Args)]
struct CheckArgs {
    #[command(flatten)]
    input: Input,
}

/// The truth table, cyclonus style: `.` allowed, `X` denied, one table per port/protocol.
#[derive(clap::Args)]
struct MatrixArgs {
    #[command(flatten)]
    input: Input,
    /// Ports to probe: `80,81/TCP,53/UDP` (number or name, TCP when no protocol). Default:
    /// every container port the destination pods declare.
    #[arg(long)]
    ports: Option<String>,
    /// Only pods of these namespaces (comma-separated).
    #[arg(long)]
    namespaces: Option<String>,
    /// Answer exactly these probes: {"probes":[{"from":"ns/pod","to":"ns/pod","port":80,"protocol":"TCP"}]}.
    /// The exit status is 0 whatever the answers; compare them in CI with `--json`.
    #[arg(long)]
    probes: Option<PathBuf>,
}

/// Every step of one connection: egress at the source and ingress at the destination, tier by
/// tier and rule by rule, and the deciding rule with its file:line.
#[derive(clap::Args)]
struct ExplainArgs {
    #[command(flatten)]
    input: Input,
    /// The client pod, `namespace/name`.
    #[arg(long)]
    from: String,
    /// The server pod, `namespace/name`.
    #[arg(long)]
    to: String,
    /// The destination port: `5432/TCP`, `53/UDP`, or a port name (`http/TCP`).
    #[arg(long)]
    port: String,
}

/// Which flows a change opens or closes: every pair of pods on both sides, on every port,
/// with the deciding rule before and after. Pods on one side only are listed as added or
/// removed. The exit status is 0: it is a report.
#[derive(clap::Args)]
struct DiffArgs {
    /// The manifests before the change (`-f`), read as `policy check` reads them.
    #[command(flatten)]
    input: Input,
    /// The manifests after the change.
    #[arg(long = "to-files", required = true, num_args = 1..)]
    to_files: Vec<PathBuf>,
    /// Ports to compare: `80,81/TCP,53/UDP`. Default: every container port the pods declare.
    #[arg(long)]
    ports: Option<String>,
}

/// Policies that select no pod, selectors naming labels no pod or namespace carries (with
/// did-you-mean), rules an earlier rule of the same policy makes unreachable, and Pass with no
/// later tier. Exit status 1 when there are findings.
#[derive(clap::Args)]
struct LintArgs {
    #[command(flatten)]
    input: Input,
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    match args.cmd {
        Cmd::Check(a) => check(a, g),
        Cmd::Matrix(a) => matrix_cmd(a, g),
        Cmd::Explain(a) => explain(a, g),
        Cmd::Diff(a) => diff_cmd(a, g),
        Cmd::Lint(a) => lint_cmd(a, g),
    }
}

fn bad(msg: impl Into<String>) -> anyhow::Error {
    output::BadInput(format!("error: {}", msg.into())).into()
}

fn load(input: &Input) -> anyhow::Result<(Cluster, EvalOptions)> {
    load_files(input, &input.files)
}

fn load_files(input: &Input, paths: &[PathBuf]) -> anyhow::Result<(Cluster, EvalOptions)> {
    let pod_cidr = input
        .pod_cidr
        .parse()
        .map_err(|e| bad(format!("--pod-cidr: {e}")))?;
    let opts = nettwin_policy::LoadOptions { pod_cidr };
    let mut sources = Vec::new();
    let mut files = Vec::new();
    for f in paths {
        if f.as_os_str() == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read stdin")?;
            let text = String::from_utf8(bytes).map_err(|_| bad("stdin is not UTF-8"))?;
            sources.push(nettwin_policy::Source {
                name: "<stdin>".into(),
                text,
            });
        } else {
            files.push(f.clone());
        }
    }
    let result = nettwin_policy::read_paths(&files).and_then(|mut s| {
        s.append(&mut sources);
        nettwin_policy::load(&s, &opts)
    });
    let cluster = match result {
        Ok(c) => c,
        Err(LoadError::Invalid(bad_files)) => {
            let text: Vec<String> = bad_files
                .iter()
                .map(|f| output::render_diagnostics(&f.diags, &f.text))
                .collect();
            return Err(output::BadInput(text.join("\n")).into());
        }
        Err(e @ LoadError::Io { .. }) => return Err(bad(e.to_string())),
    };
    let cni = match input.cni {
        CniArg::Calico => Cni::Calico,
        CniArg::Cilium => Cni::Cilium,
    };
    Ok((cluster, EvalOptions { cni }))
}

fn check(a: CheckArgs, g: Global) -> anyhow::Result<()> {
    let (c, _) = load(&a.input)?;
    let counts = c.policy_counts();
    if g.json {
        let by_kind: std::collections::BTreeMap<&str, usize> =
            counts.iter().map(|(k, n)| (k.short(), *n)).collect();
        return output::print_json(&serde_json::json!({
            "valid": true,
            "namespaces": c.namespaces.len(),
            "pods": c.pods.len(),
            "network_sets": c.network_sets.len(),
            "policies": by_kind,
            "tiers": c.tiers.iter().map(|t| &t.name).collect::<Vec<_>>(),
            "skipped": c.skipped,
            "host_network_pods": c.host_network_pods,
        }));
    }
    let kinds: Vec<String> = counts
        .iter()
        .map(|(k, n)| format!("{n} {}", k.short()))
        .collect();
    let used_tiers: Vec<&str> = c
        .tiers
        .iter()
        .filter(|t| c.policies.iter().any(|p| p.tier == t.name))
        .map(|t| t.name.as_str())
        .collect();
    println!(
        "ok: {} namespaces, {} pods, {} policies ({}), tiers in use: {}",
        c.namespaces.len(),
        c.pods.len(),
        c.policies.len(),
        if kinds.is_empty() {
            "none".to_string()
        } else {
            kinds.join(", ")
        },
        if used_tiers.is_empty() {
            "none".to_string()
        } else {
            used_tiers.join(" > ")
        }
    );
    if g.verbose > 0 {
        for (k, n) in &c.skipped {
            println!("  skipped {n} {k}");
        }
        if c.host_network_pods > 0 {
            println!(
                "  skipped {} host-network pods (no policy applies to them)",
                c.host_network_pods
            );
        }
        let implicit: Vec<&str> = c
            .namespaces
            .iter()
            .filter(|n| n.implicit)
            .map(|n| n.name.as_str())
            .collect();
        if !implicit.is_empty() {
            println!(
                "  namespaces named but not defined: {}",
                implicit.join(", ")
            );
        }
        let assigned = c.pods.iter().filter(|p| p.assigned_ip).count();
        if assigned > 0 {
            println!("  {assigned} pods got addresses from --pod-cidr");
        }
        for p in &c.policies {
            println!(
                "  tier {:<28} order {:<10} {} ({})",
                p.tier,
                p.order.map_or("none".to_string(), |o| o.to_string()),
                p.label(),
                p.origin
            );
        }
    }
    Ok(())
}

fn selected_pods(c: &Cluster, namespaces: Option<&str>) -> anyhow::Result<Vec<usize>> {
    let Some(list) = namespaces else {
        return Ok((0..c.pods.len()).collect());
    };
    let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
    for n in &wanted {
        if c.namespace(n).is_none() {
            return Err(bad(format!("--namespaces: no namespace `{n}`")));
        }
    }
    Ok((0..c.pods.len())
        .filter(|&i| wanted.contains(&c.pods[i].namespace.as_str()))
        .collect())
}

fn matrix_cmd(a: MatrixArgs, g: Global) -> anyhow::Result<()> {
    let (c, opts) = load(&a.input)?;
    let engine = Engine::new(&c, opts);
    if let Some(path) = &a.probes {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        let probes =
            matrix::parse_probes(&text).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        let results = matrix::answer(&engine, &probes).map_err(bad)?;
        if g.json {
            return output::print_json(&serde_json::json!({ "probes": results }));
        }
        for r in &results {
            let port = match &r.port_name {
                Some(n) => format!("{n}={}", r.port),
                None => r.port.to_string(),
            };
            println!(
                "{} {} -> {} {port}/{}",
                if r.allowed { "allowed" } else { "DENIED " },
                r.from,
                r.to,
                r.protocol
            );
            if !r.allowed {
                for (dir, v) in [("egress", &r.egress), ("ingress", &r.ingress)] {
                    if !v.allowed {
                        println!("    {dir}: {}", v.decider.describe());
                    }
                }
            }
        }
        return Ok(());
    }
    let pods = selected_pods(&c, a.namespaces.as_deref())?;
    if pods.is_empty() {
        return Err(bad("no pods in the manifests (or in --namespaces)"));
    }
    let ports: Vec<PortProto> = match &a.ports {
        Some(s) => matrix::parse_ports(s).map_err(|e| bad(format!("--ports: {e}")))?,
        None => matrix::declared_ports(&c, &pods),
    };
    if ports.is_empty() {
        return Err(bad(
            "the pods declare no container ports: name the ports with --ports",
        ));
    }
    if g.json {
        let mut results = Vec::new();
        for pp in &ports {
            let mut specs = Vec::new();
            for &f in &pods {
                for &t in &pods {
                    if matrix::resolve(&c, t, pp).is_some() {
                        specs.push(matrix::ProbeSpec {
                            from: c.pods[f].id(),
                            to: c.pods[t].id(),
                            port: pp.clone(),
                        });
                    }
                }
            }
            results.extend(matrix::answer(&engine, &specs).map_err(bad)?);
        }
        return output::print_json(&serde_json::json!({ "probes": results }));
    }
    for (i, t) in matrix::tables(&engine, &pods, &ports).iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("{}", t.port);
        let mut rows = vec![std::iter::once("-".to_string())
            .chain(t.pods.iter().map(|&p| c.pods[p].id()))
            .collect::<Vec<_>>()];
        for (r, &from) in t.pods.iter().enumerate() {
            let mut row = vec![c.pods[from].id()];
            row.extend(t.cells[r].iter().map(|cell| match cell {
                Some(true) => ".".to_string(),
                Some(false) => "X".to_string(),
                None => "-".to_string(),
            }));
            rows.push(row);
        }
        print!("{}", output::table(&rows));
    }
    Ok(())
}

fn parse_port_arg(s: &str) -> anyhow::Result<PortProto> {
    let ports = matrix::parse_ports(s).map_err(|e| bad(format!("--port: {e}")))?;
    match ports.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(bad("--port takes one port, e.g. 5432/TCP")),
    }
}

fn explain(a: ExplainArgs, g: Global) -> anyhow::Result<()> {
    let (c, opts) = load(&a.input)?;
    let engine = Engine::new(&c, opts);
    let pp = parse_port_arg(&a.port)?;
    let pod = |id: &str, flag: &str| {
        c.pod(id)
            .ok_or_else(|| bad(format!("{flag}: no pod `{id}` (write it namespace/name)")))
    };
    let (from, to) = (pod(&a.from, "--from")?, pod(&a.to, "--to")?);
    let port = matrix::resolve(&c, to, &pp).ok_or_else(|| {
        bad(format!(
            "--port: pod {} has no {} port named `{}`",
            a.to,
            proto::name(pp.protocol),
            pp.port
        ))
    })?;
    let v = engine.check(
        &nettwin_policy::Probe {
            from,
            to,
            protocol: pp.protocol,
            port,
        },
        true,
    );
    if g.json {
        return output::print_json(&serde_json::json!({
            "from": a.from,
            "to": a.to,
            "port": port,
            "protocol": proto::name(pp.protocol),
            "allowed": v.allowed,
            "egress": v.egress,
            "ingress": v.ingress,
        }));
    }
    let (sp, dp) = (&c.pods[from], &c.pods[to]);
    let ip = |p: &nettwin_policy::Pod| p.ips.first().map(|i| i.to_string()).unwrap_or_default();
    println!(
        "{} ({}) -> {} ({}) port {port}/{}: {}",
        a.from,
        ip(sp),
        a.to,
        ip(dp),
        proto::name(pp.protocol),
        if v.allowed { "ALLOWED" } else { "DENIED" }
    );
    print_direction("egress at", &a.from, &v.egress);
    print_direction("ingress at", &a.to, &v.ingress);
    if v.allowed {
        println!("\nreplies of the connection are allowed (connection tracking)");
    }
    Ok(())
}

fn print_direction(what: &str, pod: &str, v: &DirVerdict) {
    println!("\n{what} {pod}:");
    let mut tier = "";
    for s in &v.steps {
        if s.tier != tier {
            println!("  tier {}", s.tier);
            tier = &s.tier;
        }
        let indent = if s.rule.is_some() { "      " } else { "    " };
        match &s.at {
            Some(at) if s.rule.is_some() => println!("{indent}{} [{at}]", s.text),
            _ => println!("{indent}{}", s.text),
        }
    }
    let verdict = if v.allowed { "allowed" } else { "DENIED" };
    match &v.decider {
        Decider::Rule { .. } => println!("  => {verdict}: {}", v.decider.describe()),
        d => println!("  => {}", d.describe()),
    }
}

fn diff_cmd(a: DiffArgs, g: Global) -> anyhow::Result<()> {
    let (old, opts) = load(&a.input)?;
    let (new, _) = load_files(&a.input, &a.to_files)?;
    let ports = match &a.ports {
        Some(s) => Some(matrix::parse_ports(s).map_err(|e| bad(format!("--ports: {e}")))?),
        None => None,
    };
    let d = nettwin_policy::diff::diff(
        &Engine::new(&old, opts),
        &Engine::new(&new, opts),
        ports.as_deref(),
    );
    if g.json {
        return output::print_json(&d);
    }
    for p in &d.added_pods {
        println!("added pod {p}");
    }
    for p in &d.removed_pods {
        println!("removed pod {p}");
    }
    for f in d.opened.iter().chain(&d.closed) {
        let port = match &f.port_name {
            Some(n) => format!("{n}={}", f.port),
            None => f.port.to_string(),
        };
        println!("{} {} -> {} {port}/{}", f.change, f.from, f.to, f.protocol);
        // The directions that decided the side that denies.
        let denied = if f.after.allowed { &f.before } else { &f.after };
        for (dir, bv, av) in [
            ("egress", &f.before.egress, &f.after.egress),
            ("ingress", &f.before.ingress, &f.after.ingress),
        ] {
            let dv = if dir == "egress" {
                &denied.egress
            } else {
                &denied.ingress
            };
            if dv.allowed && bv.decider == av.decider {
                continue;
            }
            println!("    {dir} before: {}", bv.decider.describe());
            println!("    {dir} after:  {}", av.decider.describe());
        }
    }
    println!(
        "{} opened, {} closed, {} pods added, {} removed ({} flows compared on {})",
        d.opened.len(),
        d.closed.len(),
        d.added_pods.len(),
        d.removed_pods.len(),
        d.flows,
        if d.ports.is_empty() {
            "no ports".to_string()
        } else {
            d.ports.join(", ")
        }
    );
    Ok(())
}

fn lint_cmd(a: LintArgs, g: Global) -> anyhow::Result<()> {
    let (c, _) = load(&a.input)?;
    let findings = nettwin_policy::lint::lint(&c);
    if g.json {
        output::print_json(&serde_json::json!({ "findings": findings }))?;
    } else {
        for f in &findings {
            let kind = serde_json::to_value(&f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let near = f
                .suggestion
                .as_ref()
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            println!(
                "{}:{}: {kind}: {} ({}): {}{near}",
                f.file, f.line, f.policy, f.path, f.message
            );
        }
        println!("{} findings", findings.len());
    }
    if findings.is_empty() {
        Ok(())
    } else {
        Err(output::Failed.into())
    }
}
