//! Random small networks of every node kind, protocol mix and link shape: routing and
//! forwarding never panic, and basic invariants hold (a node's own addresses are received
//! locally; every trace ends; reach agrees with tracing).

mod common;
use common::*;
use nettwin_dataplane::{reach, Net, ReachOptions};
use nettwin_model::generate::SplitMix64;
use nettwin_routing::Action;
use proptest::prelude::*;

/// A random but valid topology file.
fn network(seed: u64) -> String {
    let mut rng = SplitMix64::new(seed);
    let n = 2 + rng.below(9) as usize;
    let kinds = ["router", "router", "router", "linux", "host", "switch"];
    let mut out = String::from("addressing:\n  loopback: {ipv4: 198.18.0.0/24, ipv6: '2001:db8::/56', prefix6: 128}\n  p2p: {ipv6: '2001:db8:1::/48'}\n  lan: {ipv6: '2001:db8:2::/48'}\nnodes:\n");
    for i in 0..n {
        let kind = kinds[rng.below(kinds.len() as u64) as usize];
        out.push_str(&format!("  n{i}:\n    kind: {kind}\n"));
        if kind == "router" || kind == "linux" {
            let asn = 65000 + rng.below(3);
            out.push_str(&format!("    asn: {asn}\n"));
            let mut modules = Vec::new();
            for m in ["ospf", "isis", "bgp"] {
                if rng.below(2) == 0 {
                    modules.push(m);
                }
            }
            out.push_str(&format!("    module: [{}]\n", modules.join(", ")));
            if modules.contains(&"bgp") && rng.below(3) == 0 {
                out.push_str("    bgp: {rr: true, maximum_paths: 2}\n");
            }
            if rng.below(3) == 0 {
                out.push_str(&format!(
                    "    static:\n      - {{prefix: 198.19.{}.0/24, nexthop: 198.18.0.{}}}\n      - {{prefix: 198.19.200.0/24, discard: true, distance: {}}}\n",
                    rng.below(250),
                    1 + rng.below(n as u64),
                    1 + rng.below(250)
                ));
            }
        }
    }
    out.push_str("links:\n");
    for _ in 0..(1 + rng.below(2 * n as u64)) {
        let size = 1 + rng.below(3) as usize;
        let mut ends: Vec<usize> = (0..size).map(|_| rng.below(n as u64) as usize).collect();
        ends.sort();
        ends.dedup();
        let body: Vec<String> = ends
            .iter()
            .map(|e| {
                let shut = if rng.below(8) == 0 {
                    "shutdown: true"
                } else {
                    ""
                };
                format!("n{e}: {{{shut}}}")
            })
            .collect();
        let mtu = [1500, 1400, 9000][rng.below(3) as usize];
        out.push_str(&format!(
            "  - {{{}, mtu: {mtu}, cost: {}}}\n",
            body.join(", "),
            1 + rng.below(20)
        ));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn routing_and_forwarding_never_panic(seed in any::<u64>()) {
        let text = network(seed);
        if let Err(e) = nettwin_model::load_str("random.yml", &text) {
            panic!("{e}\n{text}");
        }
        let (topo, routing) = net_of(&text);
        for node in &topo.nodes {
            for a in [node.loopback.ipv4, node.loopback.ipv6].into_iter().flatten() {
                let r = routing.fib(node.id).lookup(a.addr);
                prop_assert!(matches!(r.map(|r| r.action), Some(Action::Receive)), "{} {}\n{}", node.name, a, text);
            }
        }
        let net = Net::new(&topo, &routing);
        for size in [64, 1500] {
            let r = reach(&net, ReachOptions { size, ttl: 64 });
            let s = r.summary();
            prop_assert_eq!(s.delivered + s.failed, s.pairs);
        }
        // Every node traces towards every loopback and the trace ends.
        for from in topo.nodes.iter().filter(|n| n.kind.is_ip()) {
            for to in topo.nodes.iter().filter_map(|n| n.loopback.ipv4) {
                if net.source_address(from.id, to.addr).is_none() {
                    continue;
                }
                let t = nettwin_dataplane::trace(&net, &probe(&net, &from.name, &to.addr.to_string(), 1500, true));
                prop_assert!(!t.paths().is_empty());
            }
        }
    }
}
