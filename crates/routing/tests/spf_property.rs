//! SPF checked against an independent computation: Floyd-Warshall distances on random graphs,
//! and the ECMP next hops every shortest path allows.

use nettwin_model::{generate::SplitMix64, load_str};
use nettwin_routing::{compute, Action, Protocol};
use proptest::prelude::*;
use std::collections::BTreeSet;

/// A random connected network of `n` routers with random costs, as a topology file, plus the
/// edge list (a, b, cost) in link order.
fn network(n: usize, extra: usize, seed: u64) -> (String, Vec<(usize, usize, u32)>) {
    let mut rng = SplitMix64::new(seed);
    let mut edges = Vec::new();
    for i in 1..n {
        edges.push((rng.below(i as u64) as usize, i, 1 + rng.below(4) as u32));
    }
    for _ in 0..extra {
        let a = rng.below(n as u64) as usize;
        let b = rng.below(n as u64) as usize;
        if a != b {
            edges.push((a.min(b), a.max(b), 1 + rng.below(4) as u32));
        }
    }
    let mut text = String::from("module: [ospf]\nnodes:\n");
    for i in 0..n {
        text.push_str(&format!("  r{i}: {{}}\n"));
    }
    text.push_str("links:\n");
    for (a, b, c) in &edges {
        text.push_str(&format!("  - {{r{a}: {{}}, r{b}: {{}}, cost: {c}}}\n"));
    }
    (text, edges)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 60, ..ProptestConfig::default() })]

    #[test]
    fn spf_matches_floyd_warshall(n in 2usize..14, extra in 0usize..20, seed in any::<u64>()) {
        let (text, edges) = network(n, extra, seed);
        let topo = load_str("random.yml", &text).unwrap();
        let routing = compute(&topo).unwrap();
        const INF: u64 = u64::MAX / 4;
        let mut d = vec![vec![INF; n]; n];
        for (i, row) in d.iter_mut().enumerate() {
            row[i] = 0;
        }
        for &(a, b, c) in &edges {
            d[a][b] = d[a][b].min(u64::from(c));
            d[b][a] = d[b][a].min(u64::from(c));
        }
        for k in 0..n {
            for i in 0..n {
                for j in 0..n {
                    if d[i][k] + d[k][j] < d[i][j] {
                        d[i][j] = d[i][k] + d[k][j];
                    }
                }
            }
        }
        for src in 0..n {
            let node = &topo.nodes[src];
            for dst in (0..n).filter(|x| *x != src) {
                let lo = topo.nodes[dst].loopback.ipv4.unwrap().addr;
                let route = routing.fib(node.id).lookup(lo).unwrap();
                prop_assert_eq!(route.protocol, Protocol::Ospf);
                prop_assert_eq!(u64::from(route.metric), d[src][dst]);
                // Next hops: exactly the neighbours on some shortest path, link by link.
                let mut expected = BTreeSet::new();
                for (li, &(a, b, c)) in edges.iter().enumerate() {
                    for (from, to) in [(a, b), (b, a)] {
                        if from == src && u64::from(c) + d[to][dst] == d[src][dst] {
                            let link = &topo.links[li];
                            let far = link.ends.iter().find(|e| e.node.index() == to).unwrap();
                            expected.insert(topo.interface(*far).ipv4.unwrap().addr);
                        }
                    }
                }
                let Action::Forward { next_hops } = &route.action else { panic!("forward expected") };
                let got: BTreeSet<_> = next_hops.iter().map(|h| h.address.unwrap()).collect();
                prop_assert_eq!(got, expected);
            }
        }
    }
}
