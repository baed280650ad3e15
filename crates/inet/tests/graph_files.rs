//! AS-relationship parsing, errors, cycles and the synthetic generator.

use nettwin_inet::{
    collectors::{default_collectors, parse_collector_peers},
    synthetic::{generate, SyntheticParams},
    AsGraph, GraphError, Relationship,
};

#[test]
fn serial1_and_serial2_read_the_same_graph() {
    let s1 = "# serial-1\n1|2|-1\n2|3|-1\n1|4|0\n";
    let s2 = "# serial-2\n1|2|-1|bgp\n2|3|-1|mlp\n1|4|0|bgp\n\n";
    let a = AsGraph::parse_caida(s1, "s1").unwrap();
    let b = AsGraph::parse_caida(s2, "s2").unwrap();
    assert_eq!(a.to_caida(), b.to_caida());
    assert_eq!(a.len(), 4);
    assert_eq!(
        (a.provider_customer_link_count(), a.peer_link_count()),
        (2, 1)
    );
    let id = |x| a.id(x).unwrap();
    assert_eq!(a.relationship(id(1), id(2)), Some(Relationship::Customer));
    assert_eq!(a.relationship(id(2), id(1)), Some(Relationship::Provider));
    assert_eq!(a.relationship(id(4), id(1)), Some(Relationship::Peer));
    assert_eq!(a.relationship(id(3), id(1)), None);
    // Ranks: 3 and 4 have no customers, 2 is above 3, 1 above 2.
    assert_eq!(
        [a.rank(id(3)), a.rank(id(4)), a.rank(id(2)), a.rank(id(1))],
        [0, 0, 1, 2]
    );
}

#[test]
fn bad_lines_name_file_line_and_field() {
    let cases = [
        ("1|2|-1\nx|3|-1\n", "f.txt:2: as1: \"x\" is not an AS number"),
        ("1|2|-1\n\n1|3|5\n", "f.txt:3: relationship: \"5\" is neither -1 (provider-customer) nor 0 (peers)"),
        ("1|2\n", "f.txt:1: relationship: missing field"),
        ("1|0|-1\n", "f.txt:1: as2: AS 0 is reserved (RFC 7607)"),
        ("1|2|-1|bgp|extra\n", "f.txt:1: source: too many fields (expected as1|as2|rel or as1|as2|rel|source)"),
        ("7|7|0\n", "f.txt:1: as2: link from AS7 to itself"),
        (
            "# c\n1|2|-1\n2|1|0\n",
            "f.txt:3: relationship: AS2 and AS1 are peers contradicts line 2 (AS1 is a provider of AS2)",
        ),
        ("# only comments\n", "f.txt: no AS links"),
    ];
    for (text, msg) in cases {
        let e = AsGraph::parse_caida(text, "f.txt").unwrap_err();
        assert_eq!(e.to_string(), msg, "{text:?}");
    }
    // Exact duplicates are merged silently.
    let g = AsGraph::parse_caida("1|2|-1\n1|2|-1|bgp\n", "d").unwrap();
    assert_eq!(g.link_count(), 1);
}

#[test]
fn provider_customer_cycles_are_reported() {
    let e = AsGraph::parse_caida("10|20|-1\n20|30|-1\n30|10|-1\n30|40|-1\n5|10|0\n", "c.txt")
        .unwrap_err();
    match &e {
        GraphError::ProviderCycle { cycle, .. } => {
            let mut sorted = cycle.clone();
            sorted.sort();
            assert_eq!(sorted, vec![10, 20, 30]);
            // Each AS is a provider of the next.
            for i in 0..3 {
                let (p, c) = (cycle[i], cycle[(i + 1) % 3]);
                assert!(
                    [(10, 20), (20, 30), (30, 10)].contains(&(p, c)),
                    "{cycle:?}"
                );
            }
        }
        other => panic!("{other}"),
    }
    assert!(e
        .to_string()
        .starts_with("c.txt: provider-customer cycle: AS"));
    // Two ASes each the provider of the other is a contradiction on the same pair.
    assert!(AsGraph::parse_caida("1|2|-1\n2|1|-1\n", "c").is_err());
}

#[test]
fn collector_files() {
    let got =
        parse_collector_peers("# RIS peers\nAS3333\n  174 # Cogent\n\n3333\n", "p.txt").unwrap();
    assert_eq!(got, vec![174, 3333]);
    let e = parse_collector_peers("174\nAS-x\n", "p.txt").unwrap_err();
    assert_eq!(e.to_string(), "p.txt:2: asn: \"AS-x\" is not an AS number");
}

#[test]
fn synthetic_graphs_look_like_the_internet() {
    for (n, seed) in [(100, 1), (2_000, 2), (20_000, 3)] {
        let g = generate(&SyntheticParams::new(n), seed).unwrap();
        assert_eq!(g.len(), n);
        let tier1 = g.tier1s();
        assert!(
            (3..=16).contains(&tier1.len()),
            "{n}: {} tier-1s",
            tier1.len()
        );
        // The tier-1s form a clique.
        for &a in &tier1 {
            for &b in &tier1 {
                if a != b {
                    assert_eq!(g.relationship(a, b), Some(Relationship::Peer));
                }
            }
        }
        // Most ASes are stubs, every non-tier-1 has a provider.
        let stubs = g.edge_ases().len();
        assert!(stubs as f64 > 0.8 * n as f64, "{n}: {stubs} stubs");
        for x in 0..n as u32 {
            assert!(tier1.contains(&x) || !g.providers(x).is_empty());
        }
        // The whole graph is reachable from a tier-1 going down or across: everything is in
        // the tier-1s' combined customer cone.
        let cones = g.customer_cone_sizes();
        assert!(tier1.iter().map(|&t| cones[t as usize]).max().unwrap() as f64 > 0.3 * n as f64);
        // Round trip through the CAIDA text.
        let back = AsGraph::parse_caida(&g.to_caida(), "rt").unwrap();
        assert_eq!(back.to_caida(), g.to_caida());
    }
    // Same seed, same graph; another seed, another graph.
    let a = generate(&SyntheticParams::new(500), 9).unwrap().to_caida();
    assert_eq!(
        a,
        generate(&SyntheticParams::new(500), 9).unwrap().to_caida()
    );
    assert_ne!(
        a,
        generate(&SyntheticParams::new(500), 10).unwrap().to_caida()
    );
    assert!(generate(&SyntheticParams::new(5), 1).is_err());
}

#[test]
fn default_collectors_are_the_best_connected() {
    let g = generate(&SyntheticParams::new(1_000), 4).unwrap();
    let c = default_collectors(&g, 10);
    assert_eq!(c.len(), 10);
    let min_chosen = c.iter().map(|&a| g.degree(g.id(a).unwrap())).min().unwrap();
    let max_other = g
        .asns()
        .iter()
        .filter(|a| !c.contains(a))
        .map(|&a| g.degree(g.id(a).unwrap()))
        .max()
        .unwrap();
    assert!(min_chosen >= max_other);
}
