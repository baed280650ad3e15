//! `nettwin whatif FILE --fail LINK|NODE ... [--mtu LINK=N]`: what a failure changes.

use crate::{output, Global};
use nettwin_dataplane::whatif::{self, Scenario};
use nettwin_dataplane::ReachOptions;
use nettwin_model::Topology;
use std::path::PathBuf;

/// Fail links or nodes (or change link MTUs) and see what changes: routes, pairs lost and
/// gained, paths moved. --all-single-failures ranks every link and node by the pairs its
/// failure alone breaks.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  nettwin whatif examples/isp-dc.yml --fail pe1-p1\n  nettwin whatif examples/isp-dc.yml --fail spine1 --fail pe2-ce1\n  nettwin whatif examples/isp-dc.yml --mtu leaf1-sw1=1400 --size 1500\n  nettwin whatif examples/campus.yml --all-single-failures"
)]
pub struct Args {
    /// The topology file (YAML).
    file: PathBuf,
    /// A link (by its name, e.g. pe1-p1) or a node to fail; repeat for more.
    #[arg(long)]
    fail: Vec<String>,
    /// Set a link's MTU (both ends): LINK=N; repeat for more.
    #[arg(long)]
    mtu: Vec<String>,
    /// Rank every single link and node failure by the pairs it breaks.
    #[arg(long)]
    all_single_failures: bool,
    /// Size of the DF test packets (default 64, or 1500 when --mtu is given).
    #[arg(long)]
    size: Option<u32>,
    /// Text output lists at most this many items per section.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

fn bad(msg: String) -> anyhow::Error {
    output::BadInput(format!("error: {msg}")).into()
}

/// What a `--fail NAME` takes down: a link or a node, named as in the topology file.
pub(crate) enum FailedElement {
    Link(nettwin_model::LinkId),
    Node(nettwin_model::NodeId),
}

/// Resolves a `--fail` argument; a name that is both a link and a node, or neither, is an error
/// (the latter with the closest name). `whatif` and `probe predict` read `--fail` the same way.
pub(crate) fn failed_element(topo: &Topology, name: &str) -> anyhow::Result<FailedElement> {
    match (topo.link_by_name(name), topo.node_by_name(name)) {
        (Some(_), Some(_)) => Err(bad(format!(
            "--fail {name}: both a link and a node are called that"
        ))),
        (Some(l), None) => Ok(FailedElement::Link(l.id)),
        (None, Some(n)) => Ok(FailedElement::Node(n.id)),
        (None, None) => {
            let mut names: Vec<&str> = topo.links.iter().map(|l| l.name.as_str()).collect();
            names.extend(topo.nodes.iter().map(|n| n.name.as_str()));
            let near = nettwin_model::yaml::closest(name, &names)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            Err(bad(format!(
                "--fail {name}: no such link or node in {}{near}",
                topo.file
            )))
        }
    }
}

fn scenario(topo: &Topology, args: &Args) -> anyhow::Result<Scenario> {
    let mut sc = Scenario::default();
    for name in &args.fail {
        match failed_element(topo, name)? {
            FailedElement::Link(l) => sc.links_down.push(l),
            FailedElement::Node(n) => sc.nodes_down.push(n),
        }
    }
    for m in &args.mtu {
        let (link, value) = m
            .split_once('=')
            .ok_or_else(|| bad(format!("--mtu {m}: write it as LINK=N")))?;
        let l = topo
            .link_by_name(link)
            .ok_or_else(|| bad(format!("--mtu {m}: no link `{link}` in {}", topo.file)))?;
        let v: u32 = value
            .parse()
            .ok()
            .filter(|v| (68..=65535).contains(v))
            .ok_or_else(|| bad(format!("--mtu {m}: the MTU must be 68..=65535")))?;
        sc.mtu.push((l.id, v));
    }
    Ok(sc)
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    let topo = output::load_topology(&args.file)?;
    // Surface configuration errors the way `routes` does.
    super::routes::compute(&topo)?;
    let sc = scenario(&topo, &args)?;
    let size = args
        .size
        .unwrap_or(if sc.mtu.is_empty() { 64 } else { 1500 });
    if !(28..=65535).contains(&size) {
        return Err(bad("--size must be 28..=65535".into()));
    }
    let options = ReachOptions {
        size,
        ..ReachOptions::default()
    };
    if args.all_single_failures {
        if !args.fail.is_empty() || !args.mtu.is_empty() {
            return Err(bad("--all-single-failures takes no --fail or --mtu".into()));
        }
        let ranking = whatif::single_failures(&topo, options)?;
        if g.json {
            return output::print_json(&ranking);
        }
        let mut rows = vec![vec![
            "rank".to_string(),
            "failed".into(),
            "kind".into(),
            "pairs lost".into(),
            "paths moved".into(),
        ]];
        for (i, r) in ranking.iter().take(args.limit).enumerate() {
            rows.push(vec![
                (i + 1).to_string(),
                r.name.clone(),
                r.kind.to_string(),
                r.pairs_lost.to_string(),
                r.paths_moved.to_string(),
            ]);
        }
        print!("{}", output::table(&rows));
        if ranking.len() > args.limit {
            println!(
                "... {} more (--limit or --json)",
                ranking.len() - args.limit
            );
        }
        return Ok(());
    }
    if sc.links_down.is_empty() && sc.nodes_down.is_empty() && sc.mtu.is_empty() {
        return Err(bad(
            "say what changes: --fail LINK|NODE, --mtu LINK=N or --all-single-failures".into(),
        ));
    }
    let r = whatif::whatif(&topo, &sc, options)?;
    if g.json {
        return output::print_json(&r);
    }
    let rd = &r.routes;
    println!(
        "routes: {} nodes changed, {} added, {} removed, {} changed",
        rd.nodes_changed, rd.added, rd.removed, rd.changed
    );
    for c in rd.changes.iter().take(args.limit) {
        println!(
            "  {} {} {}: {}{}",
            c.node,
            c.change,
            c.prefix,
            c.before.as_deref().unwrap_or("-"),
            c.after
                .as_deref()
                .map(|a| format!(" => {a}"))
                .unwrap_or_default()
        );
    }
    if rd.changes.len() > args.limit {
        println!("  ... {} more", rd.changes.len() - args.limit);
    }
    println!(
        "reachability ({size}-byte DF): {} of {} pairs before, {} of {} after; {} lost, {} gained, {} paths moved",
        r.before.delivered,
        r.before.pairs,
        r.after.delivered,
        r.after.pairs,
        r.lost.len(),
        r.gained.len(),
        r.moved.len()
    );
    if r.lost_with_failed_nodes > 0 {
        println!(
            "  (and {} pairs from or to the failed nodes)",
            r.lost_with_failed_nodes
        );
    }
    for (title, list) in [("lost", &r.lost), ("gained", &r.gained)] {
        for f in list.iter().take(args.limit) {
            println!(
                "  {title}: {} -> {} ({}){}",
                f.from,
                f.to,
                f.to_node,
                if title == "lost" {
                    format!(": {} at {}", f.disposition, f.at)
                } else {
                    String::new()
                }
            );
        }
        if list.len() > args.limit {
            println!("  ... {} more {title}", list.len() - args.limit);
        }
    }
    for m in r.moved.iter().take(args.limit) {
        println!("  moved: {} -> {} ({})", m.from, m.to, m.to_node);
    }
    if r.moved.len() > args.limit {
        println!("  ... {} more moved", r.moved.len() - args.limit);
    }
    if !r.te.is_empty() {
        println!(
            "TE: {} tunnels changed, {} prefixes moved in or out of tunnels",
            r.te.tunnels.len(),
            r.te.moved.len()
        );
        for t in &r.te.tunnels {
            println!("  {} {}: {} => {}", t.head, t.tunnel, t.before, t.after);
        }
        for m in r.te.moved.iter().take(args.limit) {
            println!("  {} {}: {} => {}", m.node, m.prefix, m.before, m.after);
        }
        if r.te.moved.len() > args.limit {
            println!("  ... {} more", r.te.moved.len() - args.limit);
        }
    }
    Ok(())
}
