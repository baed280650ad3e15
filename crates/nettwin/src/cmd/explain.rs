//! `nettwin explain FILE --node R --prefix P`: why a router chose its route.

use crate::{output, Global};
use nettwin_model::Prefix;
use std::path::PathBuf;

/// Explain a router's choice for one prefix: every candidate from every protocol, which one won
/// and why, and for BGP each path with the decision step that set it apart from the best.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  nettwin explain examples/isp-dc.yml --node pe2 --prefix 198.18.0.5/32"
)]
pub struct Args {
    /// The topology file (YAML).
    file: PathBuf,
    #[arg(long)]
    node: String,
    /// A prefix (A.B.C.D/N) or an address (its longest-matching route is explained).
    #[arg(long)]
    prefix: String,
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    let (topo, routing) = super::routes::load_routing(&args.file)?;
    let id = super::routes::node_id(&topo, &args.node)?;
    let prefix: Prefix = match super::routes::parse_prefix_or_addr(&args.prefix)? {
        (Some(p), _) => p,
        (None, Some(a)) => match routing.fib(id).lookup(a) {
            Some(r) => r.prefix,
            None => {
                return Err(
                    output::BadInput(format!("error: {} has no route to {a}", args.node)).into(),
                )
            }
        },
        (None, None) => unreachable!("one of prefix or address is returned"),
    };
    let e = nettwin_routing::explain(&routing, &topo, id, &prefix);
    // Which label source (LDP, SR) the installed route is pushed into, and why.
    let labels = routing.label_config(id).and_then(|_| {
        let r = routing.fib(id).get(&prefix)?;
        Some(routing.imposition(id, &r))
    });
    if g.json {
        #[derive(serde::Serialize)]
        struct WithLabels<'a> {
            #[serde(flatten)]
            explanation: &'a nettwin_routing::Explanation<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            labels: Option<nettwin_routing::mpls::LabelDecision>,
        }
        return output::print_json(&WithLabels {
            explanation: &e,
            labels,
        });
    }
    let node = topo.node(id);
    if e.candidates.is_empty() {
        println!("{} has no route for {prefix}", node.name);
        if let Some(r) = &e.longest_match {
            println!(
                "packets to {} follow the longest match instead:",
                prefix.network()
            );
            print!("{}", super::routes::render_route(node, r, false));
        }
        return Ok(());
    }
    println!(
        "{} {prefix}: {} candidate(s)",
        node.name,
        e.candidates.len()
    );
    for c in &e.candidates {
        let mark = if c.selected { "*" } else { " " };
        print!(
            "{mark} {}",
            super::routes::render_route(node, &c.route, false)
        );
        println!(
            "    {}: {}",
            if c.selected { "selected" } else { "rejected" },
            c.reason
        );
    }
    if let Some(d) = &labels {
        match &d.imposition {
            Some(imp) => {
                let pushes: Vec<String> = imp
                    .paths
                    .iter()
                    .map(|p| {
                        let ifname = &node.interfaces[p.next_hop.interface as usize].name;
                        match p.out {
                            nettwin_routing::mpls::Out::Swap(l) => format!("push {l} out {ifname}"),
                            _ => format!("no label out {ifname}"),
                        }
                    })
                    .collect();
                println!(
                    "labels: {} via {}: {}\n    {}",
                    imp.source.name(),
                    imp.fec,
                    pushes.join(", "),
                    d.reason
                );
            }
            None => println!("labels: none: {}", d.reason),
        }
    }
    if !e.bgp_paths.is_empty() {
        println!("\nBGP paths (best first):");
        for p in &e.bgp_paths {
            let path: Vec<String> = p.attrs.as_path.iter().map(u32::to_string).collect();
            let from = p
                .from_node
                .map(|n| topo.node(n).name.clone())
                .unwrap_or_else(|| "local".into());
            let status = if p.best {
                "best".to_string()
            } else if p.multipath {
                "multipath".to_string()
            } else {
                format!(
                    "lost: {}",
                    p.decided_by.map(|s| s.describe()).unwrap_or("-")
                )
            };
            println!(
                "  from {from:<8} next hop {:<16} lp {:<4} med {:<4} as-path [{}] origin {} igp {}  -> {status}",
                p.attrs.next_hop,
                p.attrs.local_pref,
                p.attrs.med.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
                path.join(" "),
                p.attrs.origin.code(),
                p.igp_metric.map(|m| m.to_string()).unwrap_or_else(|| "unreachable".into()),
            );
        }
    }
    Ok(())
}
