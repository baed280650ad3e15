//! `nettwin demo`: the main job on the built-in example network.

use crate::{output, Global};

/// The embedded default topology: a small ISP with a leaf-spine datacenter behind it.
pub const DEFAULT_TOPOLOGY: &str = include_str!("../../../../examples/isp-dc.yml");
pub const DEFAULT_NAME: &str = "examples/isp-dc.yml (built in)";

/// The routers whose tables the demo prints: an ISP edge, a datacenter leaf and a server.
const SHOWN: [&str; 3] = ["pe2", "leaf1", "web1"];

/// Run nettwin on its built-in ISP + datacenter example and print what it finds.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  nettwin demo\n  nettwin demo --json")]
pub struct Args {}

pub fn run(_args: Args, g: Global) -> anyhow::Result<()> {
    let topo = output::load_topology_str(DEFAULT_NAME, DEFAULT_TOPOLOGY)?;
    let routing = super::routes::compute(&topo)?;
    if g.json {
        let tables: Vec<serde_json::Value> = SHOWN
            .iter()
            .filter_map(|n| topo.node_by_name(n))
            .map(|n| serde_json::json!({"node": n.name, "fib": routing.fib(n.id).routes()}))
            .collect();
        let oper = nettwin_dataplane::operational(&topo);
        let traces = nettwin_dataplane::demo_traces(&oper, &routing);
        return output::print_json(&serde_json::json!({
            "topology": topo,
            "summary": topo.summary(),
            "routing": tables,
            "traces": traces,
        }));
    }
    println!("nettwin demo: {DEFAULT_NAME}");
    println!();
    print!("{}", super::show::render(&topo));
    println!();
    println!("Converged routing (connected, OSPF inside each AS, eBGP between them, iBGP inside):");
    println!();
    for name in SHOWN {
        let Some(node) = topo.node_by_name(name) else {
            continue;
        };
        let routes = routing.fib(node.id).routes();
        let v4: Vec<_> = routes
            .iter()
            .filter(|r| r.prefix.family() == nettwin_model::Family::Ipv4)
            .collect();
        println!(
            "{} ({}), {} IPv4 routes (and {} IPv6)",
            node.name,
            node.kind,
            v4.len(),
            routes.len() - v4.len()
        );
        for r in v4 {
            print!("{}", super::routes::render_route(node, r, false));
        }
        println!();
    }
    let pe2 = topo.node_by_name("pe2").map(|n| n.id);
    if let (Some(pe2), Ok(prefix)) = (pe2, "198.18.128.0/24".parse()) {
        let e = nettwin_routing::explain(&routing, &topo, pe2, &prefix);
        if let Some(best) = e.bgp_paths.iter().find(|p| p.best) {
            let path: Vec<String> = best.attrs.as_path.iter().map(u32::to_string).collect();
            println!(
                "Why pe2 reaches the web servers' LAN 198.18.128.0/24 through BGP next hop {} (AS path [{}]): {}",
                best.attrs.next_hop,
                path.join(" "),
                e.candidates.first().map(|c| c.reason.as_str()).unwrap_or("-"),
            );
        }
    }
    println!();
    println!("Packet traces (hop by hop, every ECMP branch, MTU as each device kind handles it):");
    println!();
    let oper = nettwin_dataplane::operational(&topo);
    for t in nettwin_dataplane::demo_traces(&oper, &routing) {
        println!("{}", super::trace::render(&t));
    }
    println!("Try: nettwin routes examples/isp-dc.yml --node border   |   nettwin explain examples/isp-dc.yml --node pe2 --prefix 198.18.0.9");
    println!("     nettwin trace examples/isp-dc.yml --from client1 --to web2 --size 1500 --df   |   nettwin pmtu examples/isp-dc.yml --from client1 --to web2");
    Ok(())
}
