//! `nettwin routes FILE`: every router's routing table, like `show ip route`.

use crate::{output, Global};
use anyhow::Context;
use nettwin_model::{Prefix, Topology};
use nettwin_routing::{Action, Protocol, Route, Routing};
use std::path::PathBuf;

/// Print the converged routing tables (the FIB: the best route per prefix).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  nettwin routes examples/isp-dc.yml --node pe1\n  nettwin routes examples/isp-dc.yml --protocol bgp\n  nettwin routes examples/isp-dc.yml --node leaf1 --prefix 198.18.0.1 --json\n\nCodes: C connected, L local, S static, O OSPF, O IA OSPF inter-area, i L2 IS-IS level 2, B BGP"
)]
pub struct Args {
    /// The topology file (YAML).
    file: PathBuf,
    /// Only this node.
    #[arg(long)]
    node: Option<String>,
    /// Only routes for this prefix, or the route an address matches (longest prefix).
    #[arg(long)]
    prefix: Option<String>,
    /// Only routes of this protocol (connected, local, static, ospf, isis, bgp, ebgp, ibgp).
    #[arg(long)]
    protocol: Option<String>,
    /// Show every candidate in the RIB, not only the winners.
    #[arg(long)]
    all: bool,
    /// The table of this VRF instead of the global table (nodes without it are skipped unless
    /// named with --node).
    #[arg(long)]
    vrf: Option<String>,
    /// Show the label FIB and label imposition instead (`show mpls forwarding-table`).
    #[arg(long)]
    labels: bool,
}

/// One JSON row.
#[derive(serde::Serialize)]
struct Row<'a> {
    node: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    vrf: Option<&'a str>,
    prefix: Prefix,
    protocol: Protocol,
    distance: u8,
    metric: u32,
    action: &'static str,
    next_hops: Vec<HopRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bgp: Option<&'a nettwin_routing::BgpAttrs>,
    selected: bool,
}

#[derive(serde::Serialize)]
struct HopRow {
    address: Option<std::net::IpAddr>,
    interface: String,
    /// The egress interface's VRF when it is not the table's (a leaked route).
    #[serde(skip_serializing_if = "Option::is_none")]
    vrf: Option<String>,
}

pub fn load_routing(file: &std::path::Path) -> anyhow::Result<(Topology, Routing)> {
    let topo = output::load_topology(file)?;
    let routing = compute(&topo)?;
    Ok((topo, routing))
}

/// Routing with configuration errors rendered like topology errors.
pub fn compute(topo: &Topology) -> anyhow::Result<Routing> {
    match nettwin_routing::compute(topo) {
        Ok(r) => Ok(r),
        Err(nettwin_routing::RoutingError::Config(d)) => Err(config_errors(topo, &d)),
        Err(e) => Err(e).context("routing failed"),
    }
}

/// Decodes the protocol sections the way [`compute`] does (the routing crate's own entry point
/// for it), without computing routes: what `check` runs, so that it refuses every file a
/// routing command refuses, with the same messages.
pub fn validate(topo: &Topology) -> anyhow::Result<()> {
    nettwin_routing::config::decode(topo)
        .map(drop)
        .map_err(|d| config_errors(topo, &d))
}

fn config_errors(topo: &Topology, d: &nettwin_model::Diagnostics) -> anyhow::Error {
    let text = std::fs::read(&topo.file).unwrap_or_default();
    let text = if text.is_empty() && topo.file.ends_with("(built in)") {
        super::demo::DEFAULT_TOPOLOGY.to_string()
    } else {
        String::from_utf8_lossy(&text).into_owned()
    };
    output::BadInput(output::render_diagnostics(d, &text)).into()
}

pub fn node_id(topo: &Topology, name: &str) -> anyhow::Result<nettwin_model::NodeId> {
    match topo.node_by_name(name) {
        Some(n) => Ok(n.id),
        None => {
            let names: Vec<&str> = topo.nodes.iter().map(|n| n.name.as_str()).collect();
            let near = nettwin_model::yaml::closest(name, &names)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            Err(output::BadInput(format!("error: no node `{name}` in {}{near}", topo.file)).into())
        }
    }
}

pub fn parse_prefix_or_addr(
    text: &str,
) -> anyhow::Result<(Option<Prefix>, Option<std::net::IpAddr>)> {
    if text.contains('/') {
        let p: Prefix = text
            .parse()
            .map_err(|e| output::BadInput(format!("error: --prefix: {e}")))?;
        Ok((Some(p), None))
    } else {
        let a = nettwin_model::addr::parse_addr(text)
            .map_err(|e| output::BadInput(format!("error: --prefix: {e}")))?;
        Ok((None, Some(a)))
    }
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    let (topo, routing) = load_routing(&args.file)?;
    let nodes: Vec<nettwin_model::NodeId> = match &args.node {
        Some(n) => vec![node_id(&topo, n)?],
        None => topo
            .nodes
            .iter()
            .filter(|n| n.kind.is_ip())
            .map(|n| n.id)
            .collect(),
    };
    let (want_prefix, want_addr) = match &args.prefix {
        Some(p) => parse_prefix_or_addr(p)?,
        None => (None, None),
    };
    if let Some(p) = &args.protocol {
        let known = [
            "connected",
            "local",
            "static",
            "ospf",
            "ospf-inter-area",
            "isis",
            "is-is",
            "bgp",
            "ebgp",
            "ibgp",
        ];
        if !known.contains(&p.to_ascii_lowercase().as_str()) {
            return Err(output::BadInput(format!(
                "error: unknown protocol `{p}`; use one of: {}",
                known.join(", ")
            ))
            .into());
        }
    }
    if args.labels {
        return super::labels::print(&topo, &routing, &nodes, want_prefix, want_addr, g);
    }
    let mut rows = Vec::new();
    let mut text = String::new();
    for id in nodes {
        let node = topo.node(id);
        let vrf = match &args.vrf {
            Some(name) if args.node.is_some() => Some(super::trace::vrf_index(&topo, id, name)?),
            Some(name) => match node.vrf(name) {
                Some(k) => Some(k),
                None => continue,
            },
            None => None,
        };
        let inst = routing.instance(id, vrf);
        let fib = routing.fib(inst);
        let mut routes: Vec<(Route, bool)> = if args.all {
            routing.rib(inst)
        } else {
            fib.routes().into_iter().map(|r| (r, true)).collect()
        };
        if let Some(a) = want_addr {
            let hit = fib.lookup(a).map(|r| r.prefix);
            routes.retain(|(r, _)| Some(r.prefix) == hit);
        }
        if let Some(p) = want_prefix {
            routes.retain(|(r, _)| r.prefix == p);
        }
        if let Some(p) = &args.protocol {
            routes.retain(|(r, _)| r.protocol.matches_name(p));
        }
        if g.json {
            for (r, selected) in routes {
                rows.push(Row {
                    node: &node.name,
                    vrf: vrf.map(|k| node.vrfs[k as usize].name.as_str()),
                    prefix: r.prefix,
                    protocol: r.protocol,
                    distance: r.distance,
                    metric: r.metric,
                    action: match r.action {
                        Action::Forward { .. } => "forward",
                        Action::Receive => "receive",
                        Action::Discard => "discard",
                    },
                    next_hops: r
                        .next_hops()
                        .iter()
                        .map(|h| HopRow {
                            address: h.address,
                            interface: node.interfaces[h.interface as usize].name.clone(),
                            vrf: nettwin_routing::vrf::hop_vrf(&topo, id, vrf, h)
                                .map(str::to_string),
                        })
                        .collect(),
                    bgp: r.bgp,
                    selected,
                });
            }
        } else {
            let table = match vrf {
                Some(k) => format!(
                    ", vrf {} (table {})",
                    node.vrfs[k as usize].name, node.vrfs[k as usize].table
                ),
                None => String::new(),
            };
            text.push_str(&format!(
                "{} ({}){table}, {} routes\n",
                node.name,
                node.kind,
                routes.len()
            ));
            for (r, selected) in routes {
                text.push_str(&render_route_in(node, vrf, &r, args.all && !selected));
            }
            if vrf.is_none() && !node.vrfs.is_empty() {
                let names: Vec<&str> = node.vrfs.iter().map(|v| v.name.as_str()).collect();
                text.push_str(&format!("  VRFs (see --vrf): {}\n", names.join(", ")));
            }
            text.push('\n');
        }
    }
    if g.json {
        return output::print_json(&rows);
    }
    print!("{text}");
    Ok(())
}

/// One route in `show ip route` style; `loser` marks a RIB candidate that is not installed.
pub fn render_route(node: &nettwin_model::Node, r: &Route, loser: bool) -> String {
    render_route_in(node, None, r, loser)
}

/// One route of VRF `vrf`'s table (`None`: global); an egress interface in another VRF (a
/// leaked route) is marked with its VRF, as FRR writes `eth1 (vrf red)`.
pub fn render_route_in(
    node: &nettwin_model::Node,
    vrf: Option<u32>,
    r: &Route,
    loser: bool,
) -> String {
    let code = format!("{}{}", if loser { "  " } else { "" }, r.protocol.code());
    let head = format!("{code:<6}{}", r.prefix);
    let ifname = |i: u32| {
        let iface = &node.interfaces[i as usize];
        match iface.vrf {
            v if v == vrf => iface.name.clone(),
            Some(k) => format!("{} (vrf {})", iface.name, node.vrfs[k as usize].name),
            None => format!("{} (vrf default)", iface.name),
        }
    };
    match r.action {
        Action::Receive => format!(
            "{head} is local ({})\n",
            if r.protocol == Protocol::Connected {
                "loopback"
            } else {
                "own address"
            }
        ),
        Action::Discard => format!(
            "{head} [{}/{}] is a discard route (null0)\n",
            r.distance, r.metric
        ),
        Action::Forward { next_hops } => {
            let mut out = String::new();
            for (i, h) in next_hops.iter().enumerate() {
                let lead = if i == 0 {
                    match h.address {
                        None => format!("{head} is directly connected, {}", ifname(h.interface)),
                        Some(a) => format!(
                            "{head} [{}/{}] via {a}, {}",
                            r.distance,
                            r.metric,
                            ifname(h.interface)
                        ),
                    }
                } else {
                    let pad = " ".repeat(
                        head.chars().count() + format!(" [{}/{}]", r.distance, r.metric).len(),
                    );
                    match h.address {
                        None => format!("{pad} directly, {}", ifname(h.interface)),
                        Some(a) => format!("{pad} via {a}, {}", ifname(h.interface)),
                    }
                };
                out.push_str(&lead);
                if i == 0 {
                    if let Some(b) = &r.bgp {
                        let path: Vec<String> = b.as_path.iter().map(u32::to_string).collect();
                        out.push_str(&format!(
                            "  (bgp next hop {}, as-path [{}])",
                            b.next_hop,
                            path.join(" ")
                        ));
                    }
                }
                out.push('\n');
            }
            out
        }
    }
}
