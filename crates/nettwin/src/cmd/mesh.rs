//! `nettwin mesh`: tailnet policy files evaluated offline with `nettwin-access`: run the file's
//! tests, answer `can`, print the access matrix and a device's packet filter. Only argument
//! parsing and printing live here.

use crate::output::{self, BadInput, Failed};
use crate::Global;
use anyhow::Context;
use nettwin_access::query::{parse_queries, Queries};
use nettwin_access::{parse_nodes, parse_policy, Tailnet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Mesh VPN access: a Tailscale policy file (HuJSON) and a nodes file, evaluated as the control
/// plane compiles them.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    nettwin mesh check examples/mesh/policy.hujson --nodes examples/mesh/nodes.yml\n  \
    nettwin mesh check examples/mesh/policy.hujson --nodes examples/mesh/nodes.yml --queries examples/mesh/queries.json --json\n  \
    nettwin mesh can examples/mesh/policy.hujson --nodes examples/mesh/nodes.yml --from alice@example.com --to db:5432\n  \
    nettwin mesh matrix examples/mesh/policy.hujson --nodes examples/mesh/nodes.yml\n  \
    nettwin mesh filter examples/mesh/policy.hujson db --nodes examples/mesh/nodes.yml")]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    Check(CheckArgs),
    Can(CanArgs),
    Matrix(MatrixArgs),
    Filter(FilterArgs),
}

#[derive(clap::Args)]
struct Files {
    /// The tailnet policy file (HuJSON).
    policy: PathBuf,
    /// The nodes file (YAML or JSON list of devices).
    #[arg(long)]
    nodes: PathBuf,
}

/// Run the policy's `tests` and `sshTests` as Tailscale does (exit 1 on a failure), or answer a
/// batch of queries (`--queries FILE`, `-` for stdin).
#[derive(clap::Args)]
struct CheckArgs {
    #[command(flatten)]
    files: Files,
    /// Queries file: {"checks":[...],"ssh_checks":[...],"run_tests":true}; `-` reads stdin.
    #[arg(long)]
    queries: Option<String>,
}

/// May a user, device, tag or address reach a device or address? Names the deciding rule.
#[derive(clap::Args)]
struct CanArgs {
    #[command(flatten)]
    files: Files,
    /// alice@example.com, a node name, tag:x, group:x or an IP.
    #[arg(long)]
    from: String,
    /// NODE (ping), NODE:PORT, IP:PORT or [IPv6]:PORT, optionally /proto (tcp, udp, icmp, ...).
    #[arg(long)]
    to: String,
    /// Protocol (default tcp; icmp for NODE without a port).
    #[arg(long)]
    proto: Option<String>,
    /// The exit node to use for an Internet destination.
    #[arg(long)]
    exit_node: Option<String>,
    /// The subnet router the traffic enters through.
    #[arg(long)]
    ingress: Option<String>,
}

/// Who reaches whom, on which ports (over IPv4; ICMP when any rule covers the pair).
#[derive(clap::Args)]
struct MatrixArgs {
    #[command(flatten)]
    files: Files,
}

/// The packet filter a device receives (source prefixes, destination ports) and its peers.
#[derive(clap::Args)]
struct FilterArgs {
    /// The tailnet policy file (HuJSON).
    policy: PathBuf,
    /// The device.
    node: String,
    /// The nodes file.
    #[arg(long)]
    nodes: PathBuf,
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    match args.what {
        What::Check(a) => check(a, g),
        What::Can(a) => can(a, g),
        What::Matrix(a) => matrix(a, g),
        What::Filter(a) => filter(a, g),
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Loads both files; a refused policy comes back as `Err((rendered, plain))` for `check` to
/// report (rendered with source lines for people, one `file:line:col: message` a line for JSON).
fn load(files: &Files) -> anyhow::Result<Result<Tailnet, (String, String)>> {
    let ptext = read(&files.policy)?;
    let ntext = read(&files.nodes)?;
    let nodes = parse_nodes(&files.nodes.display().to_string(), &ntext)
        .map_err(|d| BadInput(output::render_diagnostics(&d, &ntext)))?;
    Ok(
        match parse_policy(&files.policy.display().to_string(), &ptext) {
            Ok(p) => Ok(Tailnet::new(p, nodes)),
            Err(d) => Err((output::render_diagnostics(&d, &ptext), d.to_string())),
        },
    )
}

fn load_ok(files: &Files) -> anyhow::Result<Tailnet> {
    load(files)?.map_err(|e| BadInput(e.0).into())
}

fn notes(t: &Tailnet) {
    for n in &t.policy.not_evaluated {
        eprintln!("note: {n}");
    }
}

fn check(a: CheckArgs, g: Global) -> anyhow::Result<()> {
    let queries: Option<Queries> = match &a.queries {
        None => None,
        Some(q) => {
            let text = if q == "-" {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                s
            } else {
                read(Path::new(q))?
            };
            let name = if q == "-" { "<stdin>" } else { q.as_str() };
            Some(parse_queries(name, &text).map_err(|e| BadInput(e.to_string()))?)
        }
    };
    let tailnet = load(&a.files)?;
    let t = match tailnet {
        Ok(t) => t,
        Err((rendered, plain)) => {
            if g.json {
                output::print_json(&serde_json::json!({
                    "valid": false,
                    "error": plain,
                    "tests": {"pass": false},
                    "checks": [],
                    "ssh_checks": [],
                }))?;
            } else {
                eprintln!("{rendered}");
                eprintln!("the control plane would refuse this policy");
            }
            return Err(Failed.into());
        }
    };
    let run_tests = queries.as_ref().is_none_or(|q| q.run_tests);
    let report = run_tests.then(|| t.run_tests());
    let tests_pass = report.as_ref().is_none_or(|r| r.pass);
    if let Some(q) = &queries {
        let checks: Vec<_> = q.checks.iter().map(|c| t.answer(c)).collect();
        let ssh: Vec<_> = q.ssh_checks.iter().map(|c| t.answer_ssh(c)).collect();
        if g.json {
            let failures: Vec<_> = report.iter().flat_map(|r| r.failures()).collect();
            output::print_json(&serde_json::json!({
                "valid": true,
                "error": null,
                "tests": {"pass": tests_pass, "run": run_tests, "failures": failures},
                "checks": checks,
                "ssh_checks": ssh,
                "not_evaluated": t.policy.not_evaluated,
            }))?;
        } else {
            notes(&t);
            for c in &checks {
                println!(
                    "{} {} -> {} {}: {}",
                    if c.allowed { "ALLOW" } else { "DENY " },
                    c.query.src,
                    c.query.dst,
                    c.query.proto,
                    c.reason
                );
            }
            for s in &ssh {
                println!(
                    "SSH {} {} -> {} as {}{}",
                    s.result.name(),
                    s.query.src,
                    s.query.dst,
                    s.query.ssh_user,
                    s.rule
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
            }
            if let Some(r) = &report {
                print_report(&t, r);
            }
        }
        return if tests_pass {
            Ok(())
        } else {
            Err(Failed.into())
        };
    }
    let r = report.unwrap_or_default();
    if g.json {
        output::print_json(&serde_json::json!({
            "valid": true,
            "error": null,
            "tests": r,
            "not_evaluated": t.policy.not_evaluated,
        }))?;
    } else {
        notes(&t);
        print_report(&t, &r);
    }
    if r.pass {
        Ok(())
    } else {
        Err(Failed.into())
    }
}

fn print_report(t: &Tailnet, r: &nettwin_access::TestReport) {
    let file = &t.policy.file;
    for a in r.failures() {
        let kind = if r.tests.iter().any(|x| std::ptr::eq(x, a)) {
            "tests"
        } else {
            "sshTests"
        };
        println!(
            "FAIL {file}:{}: {kind}[{}] {} -> {}{}: expected {}, {}",
            a.line,
            a.test,
            a.src,
            a.dst,
            a.proto
                .as_ref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default(),
            a.expect,
            a.detail
        );
    }
    let total = r.tests.len() + r.ssh_tests.len();
    let failed = r.failures().count();
    println!(
        "{} assertions, {} passed, {} failed{}",
        total,
        total - failed,
        failed,
        if failed > 0 {
            ": the control plane would refuse this policy (test(s) failed)"
        } else {
            ""
        }
    );
}

fn can(a: CanArgs, g: Global) -> anyhow::Result<()> {
    let t = load_ok(&a.files)?;
    let who = t.who(&a.from).map_err(BadInput)?;
    let target = t.target(&a.to, a.proto.as_deref()).map_err(BadInput)?;
    let dev = |n: &Option<String>| -> anyhow::Result<Option<usize>> {
        match n {
            None => Ok(None),
            Some(n) => Ok(Some(
                t.device(n)
                    .ok_or_else(|| BadInput(format!("no node named `{n}`")))?,
            )),
        }
    };
    let ans = t.can(&a.from, &who, &target, dev(&a.exit_node)?, dev(&a.ingress)?);
    if g.json {
        return output::print_json(&ans);
    }
    notes(&t);
    let file = &t.policy.file;
    println!(
        "{} {} -> {} ({})",
        if ans.allowed { "ALLOWED" } else { "DENIED" },
        ans.from,
        ans.to,
        ans.proto
    );
    for p in &ans.per_source {
        let d = &p.decision;
        let at = d.line.map(|l| format!(" ({file}:{l})")).unwrap_or_default();
        let via = d
            .enforced_by
            .as_ref()
            .map(|e| format!(" [filter of {e}]"))
            .unwrap_or_default();
        println!("  {} {}: {}{at}{via}", p.source, p.address, d.reason);
        for f in &d.failed_postures {
            println!("    posture failed: {f}");
        }
    }
    Ok(())
}

fn matrix(a: MatrixArgs, g: Global) -> anyhow::Result<()> {
    let t = load_ok(&a.files)?;
    let m = t.matrix();
    if g.json {
        return output::print_json(&m);
    }
    notes(&t);
    let mut rows = vec![vec!["FROM".to_string(), "TO".into(), "ALLOWED".into()]];
    for e in &m {
        rows.push(vec![e.from.clone(), e.to.clone(), e.allowed.join(" ")]);
    }
    print!("{}", output::table(&rows));
    println!(
        "{} of {} ordered pairs reach each other",
        m.len(),
        t.devices.len() * t.devices.len().saturating_sub(1)
    );
    Ok(())
}

fn filter(a: FilterArgs, g: Global) -> anyhow::Result<()> {
    let files = Files {
        policy: a.policy,
        nodes: a.nodes,
    };
    let t = load_ok(&files)?;
    let n = t
        .device(&a.node)
        .ok_or_else(|| BadInput(format!("no node named `{}`", a.node)))?;
    let f = t.filter(n);
    if g.json {
        return output::print_json(&f);
    }
    notes(&t);
    println!("{} ({})", f.node, f.addresses.join(", "));
    if !f.routes.is_empty() {
        println!("serves routes: {}", f.routes.join(", "));
    }
    if f.exit_node {
        println!("approved exit node");
    }
    println!("packet filter ({} rules):", f.rules.len());
    for r in &f.rules {
        let protos: Vec<String> = r
            .protos
            .iter()
            .map(|p| nettwin_access::policy::proto_name(*p))
            .collect();
        println!(
            "  {} (line {}) proto {}",
            r.rule,
            r.line,
            if protos.is_empty() {
                "default".into()
            } else {
                protos.join(",")
            }
        );
        println!("    SrcIPs:   {}", r.src.join(", "));
        println!("    DstPorts: {}", r.dst.join(", "));
    }
    println!("peers ({}):", f.peers.len());
    for p in &f.peers {
        println!("  {}: {}", p.name, p.allowed_ips.join(", "));
    }
    Ok(())
}
