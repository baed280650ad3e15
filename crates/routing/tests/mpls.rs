//! MPLS: LDP bindings and PHP, SR prefix SIDs, platform personalities.

mod common;
use common::setup;
use nettwin_model::{Prefix, Topology};
use nettwin_routing::mpls::{Fec, LabelSource, Out};
use nettwin_routing::Routing;

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

/// `show mpls forwarding-table` in short: `IN SOURCE FEC -> OP@NEXTHOP_NODE ...`.
fn lfib(t: &Topology, r: &Routing, node: &str) -> Vec<String> {
    let id = t.node_by_name(node).unwrap().id;
    r.labels.nodes[id.index()]
        .lfib
        .iter()
        .map(|e| {
            let fec = match e.fec {
                Fec::Prefix { prefix } => prefix.to_string(),
                Fec::Adjacency { neighbour, .. } => format!("adj:{}", t.node(neighbour).name),
            };
            let paths: Vec<String> = e
                .paths
                .iter()
                .map(|p| {
                    let op = match p.out {
                        Out::Swap(l) => l.to_string(),
                        Out::Pop => "pop".into(),
                        Out::Untagged => "untagged".into(),
                    };
                    format!("{op}@{}", p.neighbour.map(|n| t.node(n).name.as_str()).unwrap_or("?"))
                })
                .collect();
            format!("{} {} {} -> {}", e.in_label, e.source.name(), fec, paths.join(" "))
        })
        .collect()
}

const CHAIN: &str = "module: [ospf, mpls]
defaults.platform: cisco-xe
nodes: [pe1, p1, p2, pe2]
links: [pe1-p1, p1-p2, p2-pe2]
";

#[test]
fn scratch() {
    let (t, r) = setup(CHAIN);
    for n in ["pe1", "p1", "p2", "pe2"] {
        eprintln!("{n}: {:#?}", lfib(&t, &r, n));
    }
    let _ = (p("198.18.0.1/32"), LabelSource::Ldp);
    panic!();
}
