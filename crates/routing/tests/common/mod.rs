//! Helpers shared by the routing tests: load a topology string and print tables compactly.

#![allow(dead_code)]

use nettwin_model::{load_str, Topology};
use nettwin_routing::{compute, Action, Routing};

pub fn setup(text: &str) -> (Topology, Routing) {
    // The expectations were written for addresses from the benchmarking pools in file order.
    let text = &nettwin_model::generate::with_benchmark_pools(text);
    let topo = load_str("t.yml", text).unwrap_or_else(|e| panic!("{e}"));
    let routing = compute(&topo).unwrap_or_else(|e| panic!("{e}"));
    (topo, routing)
}

/// The node's FIB as lines `CODE PREFIX AD/METRIC via ADDR@IF ...`, for the given protocols.
pub fn fib(topo: &Topology, routing: &Routing, node: &str, codes: &[&str]) -> Vec<String> {
    let n = topo
        .node_by_name(node)
        .unwrap_or_else(|| panic!("no node {node}"));
    routing
        .fib(n.id)
        .routes()
        .iter()
        .filter(|r| codes.is_empty() || codes.contains(&r.protocol.code()))
        .map(|r| {
            let what = match &r.action {
                Action::Receive => "receive".to_string(),
                Action::Discard => "discard".to_string(),
                Action::Forward { next_hops } => next_hops
                    .iter()
                    .map(|h| {
                        let ifname = &n.interfaces[h.interface as usize].name;
                        match h.address {
                            Some(a) => format!("{a}@{ifname}"),
                            None => format!("direct@{ifname}"),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            format!(
                "{} {} {}/{} {}",
                r.protocol.code(),
                r.prefix,
                r.distance,
                r.metric,
                what
            )
        })
        .collect()
}
