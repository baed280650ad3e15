//! OSPF and IS-IS: exact routing tables on hand-made topologies.

mod common;
use common::{fib, setup};
use nettwin_routing::{compute_with, Change};

/// r1-r2, r1-r3, r2-r4, r3-r4, every link cost 10. Links get 198.19.0.(2k)/31 in file order,
/// the first end .2k; loopbacks 198.18.0.N/32 in node order.
const SQUARE: &str = "module: [ospf]\nnodes: [r1, r2, r3, r4]\nlinks:\n  - {r1: {}, r2: {}, cost: 10}\n  - {r1: {}, r3: {}, cost: 10}\n  - {r2: {}, r4: {}, cost: 10}\n  - {r3: {}, r4: {}, cost: 10}\n";

#[test]
fn ospf_square_has_ecmp_to_the_far_corner() {
    let (t, r) = setup(SQUARE);
    assert_eq!(
        fib(&t, &r, "r1", &[]),
        vec![
            "C 198.18.0.1/32 0/0 receive",
            "O 198.18.0.2/32 110/10 198.19.0.1@eth1",
            "O 198.18.0.3/32 110/10 198.19.0.3@eth2",
            "O 198.18.0.4/32 110/20 198.19.0.1@eth1 198.19.0.3@eth2",
            "C 198.19.0.0/31 0/0 direct@eth1",
            "L 198.19.0.0/32 0/0 receive",
            "C 198.19.0.2/31 0/0 direct@eth2",
            "L 198.19.0.2/32 0/0 receive",
            "O 198.19.0.4/31 110/20 198.19.0.1@eth1",
            "O 198.19.0.6/31 110/20 198.19.0.3@eth2",
        ]
    );
}

#[test]
fn maximum_paths_limits_ecmp() {
    let text = SQUARE.replace(
        "module: [ospf]\n",
        "module: [ospf]\nospf: {maximum_paths: 1}\n",
    );
    let (t, r) = setup(&text);
    assert_eq!(
        fib(&t, &r, "r1", &["O"])[2],
        "O 198.18.0.4/32 110/20 198.19.0.1@eth1"
    );
}

#[test]
fn cost_change_and_link_failure_what_if() {
    let (t, _) = setup(SQUARE);
    let r = compute_with(&t, &[Change::LinkCost(nettwin_model::LinkId(0), 5)]).unwrap();
    assert_eq!(
        fib(&t, &r, "r1", &["O"])[2],
        "O 198.18.0.4/32 110/15 198.19.0.1@eth1"
    );
    // One direction only: r1's side of r1-r2 at 5 changes r1's view, not r2's.
    let r1_eth1 = nettwin_model::IfRef {
        node: nettwin_model::NodeId(0),
        index: 0,
    };
    let r = compute_with(&t, &[Change::InterfaceCost(r1_eth1, 5)]).unwrap();
    assert_eq!(
        fib(&t, &r, "r1", &["O"])[2],
        "O 198.18.0.4/32 110/15 198.19.0.1@eth1"
    );
    assert!(fib(&t, &r, "r4", &["O"])
        .contains(&"O 198.18.0.1/32 110/20 198.19.0.4@eth1 198.19.0.6@eth2".to_string()));
    let r = compute_with(&t, &[Change::LinkDown(nettwin_model::LinkId(0))]).unwrap();
    let lines = fib(&t, &r, "r1", &["O"]);
    assert!(
        lines.contains(&"O 198.18.0.2/32 110/30 198.19.0.3@eth2".to_string()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"O 198.18.0.4/32 110/20 198.19.0.3@eth2".to_string()),
        "{lines:#?}"
    );
    let r = compute_with(&t, &[Change::NodeDown(nettwin_model::NodeId(3))]).unwrap();
    assert!(fib(&t, &r, "r1", &["O"])
        .iter()
        .all(|l| !l.contains("198.18.0.4/32")));
}

/// r1, r2, r3 on one switch (a transit LAN, pseudonode), r3-r4 point-to-point at cost 5.
const LAN: &str = "module: [ospf]\nnodes:\n  r1: {}\n  r2: {}\n  r3: {}\n  r4: {}\n  s1: {kind: switch}\nlinks:\n  - [r1, s1]\n  - [r2, s1]\n  - [r3, s1]\n  - {r3: {}, r4: {}, cost: 5}\n";

#[test]
fn lan_through_a_switch_is_a_pseudonode() {
    let (t, r) = setup(LAN);
    assert_eq!(
        fib(&t, &r, "r1", &["O"]),
        vec![
            "O 198.18.0.2/32 110/10 198.18.128.2@eth1",
            "O 198.18.0.3/32 110/10 198.18.128.3@eth1",
            "O 198.18.0.4/32 110/15 198.18.128.3@eth1",
            "O 198.19.0.0/31 110/15 198.18.128.3@eth1",
        ]
    );
    assert_eq!(
        fib(&t, &r, "r4", &["O"]),
        vec![
            "O 198.18.0.1/32 110/15 198.19.0.0@eth1",
            "O 198.18.0.2/32 110/15 198.19.0.0@eth1",
            "O 198.18.0.3/32 110/5 198.19.0.0@eth1",
            "O 198.18.128.0/24 110/15 198.19.0.0@eth1",
        ]
    );
}

#[test]
fn passive_interface_advertises_without_adjacency() {
    let text = LAN.replace(
        "  - [r1, s1]\n",
        "  - {r1: {ospf: {passive: true}}, s1: {}}\n",
    );
    let (t, r) = setup(&text);
    // r1 forms no adjacency: it learns nothing, but r4 still reaches the LAN through r3.
    assert_eq!(fib(&t, &r, "r1", &["O"]), Vec::<String>::new());
    assert!(
        fib(&t, &r, "r4", &["O"]).contains(&"O 198.18.128.0/24 110/15 198.19.0.0@eth1".to_string())
    );
    assert!(!fib(&t, &r, "r4", &["O"])
        .iter()
        .any(|l| l.contains("198.18.0.1/32")));
}

/// r1 (area 1) - r2 (ABR) - r3 (backbone) - r4 (ABR) - r5 (area 2), all links cost 10.
const AREAS: &str = "module: [ospf]\nnodes:\n  r1: {ospf: {area: 1}}\n  r2: {}\n  r3: {}\n  r4: {}\n  r5: {ospf: {area: 2}}\nlinks:\n  - {r1: {}, r2: {}, ospf: {area: 1}, cost: 10}\n  - {r2: {}, r3: {}, cost: 10}\n  - {r3: {}, r4: {}, cost: 10}\n  - {r4: {}, r5: {}, ospf: {area: 2}, cost: 10}\n";

#[test]
fn ospf_inter_area_routes_go_through_border_routers() {
    let (t, r) = setup(AREAS);
    assert_eq!(
        fib(&t, &r, "r1", &["O", "O IA"]),
        vec![
            "O IA 198.18.0.2/32 110/10 198.19.0.1@eth1",
            "O IA 198.18.0.3/32 110/20 198.19.0.1@eth1",
            "O IA 198.18.0.4/32 110/30 198.19.0.1@eth1",
            "O IA 198.18.0.5/32 110/40 198.19.0.1@eth1",
            "O IA 198.19.0.2/31 110/20 198.19.0.1@eth1",
            "O IA 198.19.0.4/31 110/30 198.19.0.1@eth1",
            "O IA 198.19.0.6/31 110/40 198.19.0.1@eth1",
        ]
    );
    let r2 = fib(&t, &r, "r2", &["O", "O IA"]);
    assert!(
        r2.contains(&"O 198.18.0.1/32 110/10 198.19.0.0@eth1".to_string()),
        "{r2:#?}"
    );
    assert!(
        r2.contains(&"O IA 198.18.0.5/32 110/30 198.19.0.3@eth2".to_string()),
        "{r2:#?}"
    );
    let r3 = fib(&t, &r, "r3", &["O", "O IA"]);
    assert!(
        r3.contains(&"O IA 198.18.0.1/32 110/20 198.19.0.2@eth1".to_string()),
        "{r3:#?}"
    );
}

#[test]
fn intra_area_wins_over_a_cheaper_inter_area_path() {
    // r1 and r2 in area 1 joined by an expensive area-1 link, and each also reaching the
    // backbone; r1's route to r2's area-1 subnet must stay intra-area.
    let text = "module: [ospf]\nnodes:\n  r1: {}\n  r2: {}\n  r3: {}\nlinks:\n  - {r1: {}, r2: {}, ospf: {area: 1, cost: 100}}\n  - {r1: {}, r3: {}, cost: 1}\n  - {r3: {}, r2: {}, cost: 1}\n  - {r2: {}, h: {}, ospf: {area: 1}, type: p2p, pool: p2p}\n".replace("  r3: {}\n", "  r3: {}\n  h: {kind: host}\n");
    let (t, r) = setup(&text);
    let lines = fib(&t, &r, "r1", &["O", "O IA"]);
    // The host link behind r2 (198.19.0.6/31) is in area 1: intra-area through the cost-100
    // link (100 + 10) beats the inter-area path over the backbone (1 + 1 + 10).
    assert!(
        lines.contains(&"O 198.19.0.6/31 110/110 198.19.0.1@eth1".to_string()),
        "{lines:#?}"
    );
}

#[test]
fn isis_uses_its_own_distance_and_default_metric() {
    let text = SQUARE
        .replace("module: [ospf]", "module: [isis]")
        .replace(", cost: 10", "");
    let (t, r) = setup(&text);
    // Two circuits at isisd's default metric 10, plus r4's loopback at 10 (isisd gives the
    // loopback circuit the default metric too; netlab sets none).
    assert_eq!(
        fib(&t, &r, "r1", &["i L2"])[2],
        "i L2 198.18.0.4/32 115/30 198.19.0.1@eth1 198.19.0.3@eth2"
    );
}

#[test]
fn ospf_cost_from_bandwidth_and_reference() {
    let text = "module: [ospf]\nospf: {reference_bandwidth: 100G}\nnodes: [a, b, c]\nlinks:\n  - {a: {}, b: {}, bandwidth: 10G}\n  - {b: {}, c: {}, bandwidth: 100G}\n";
    let (t, r) = setup(text);
    // 100G/10G = 10 and 100G/100G = 1.
    assert!(
        fib(&t, &r, "a", &["O"]).contains(&"O 198.18.0.3/32 110/11 198.19.0.1@eth1".to_string())
    );
}

#[test]
fn ipv6_routes_follow_the_same_tree() {
    let text = SQUARE.replace("module: [ospf]\n", "module: [ospf]\naddressing:\n  loopback: {ipv6: \"2001:db8::/56\", prefix6: 128}\n  p2p: {ipv6: \"2001:db8:1::/48\"}\n");
    let (t, r) = setup(&text);
    let lines = fib(&t, &r, "r1", &["O"]);
    assert!(
        lines.contains(
            &"O 2001:db8::4/128 110/20 2001:db8:1::2@eth1 2001:db8:1:1::2@eth2".to_string()
        ),
        "{lines:#?}"
    );
}

/// An unnumbered link (netlab's `unnumbered: true`) carries the adjacency: the next hop is the
/// neighbour's loopback address it borrows, as FRR's OSPF and IS-IS install it (on-link).
#[test]
fn unnumbered_links_route_via_the_neighbours_loopback() {
    for m in ["ospf", "isis"] {
        let text = SQUARE
            .replace("module: [ospf]", &format!("module: [{m}]"))
            .replace(
                "{r1: {}, r2: {}, cost: 10}",
                "{r1: {}, r2: {}, cost: 10, unnumbered: true}",
            );
        let (t, r) = setup(&text);
        let r1 = fib(&t, &r, "r1", &["O", "i L2"]);
        let code = if m == "ospf" { "O" } else { "i L2" };
        let metric = if m == "ospf" { "110/10" } else { "115/20" };
        assert!(
            r1.contains(&format!("{code} 198.18.0.2/32 {metric} 198.18.0.2@eth1")),
            "{m}: {r1:#?}"
        );
    }
}

/// OSPFv2 and OSPFv3 each run on the interfaces of their family: an IPv4-only link on the
/// shortest path carries IPv4 only, and IPv6 goes around it (checked against FRR in
/// `frr_agrees_when_a_link_carries_one_family`). IS-IS stays single-topology.
#[test]
fn ospf_routes_each_family_on_its_own_links() {
    let text = "module: [ospf]
addressing:
  loopback: {ipv4: 198.18.0.0/24, ipv6: '2001:db8::/48'}
  p2p: {ipv4: 198.19.0.0/24, prefix: 31, allocation: sequential, ipv6: '2001:db8:1::/48'}
  v4only: {ipv4: 198.19.1.0/24, prefix: 31, allocation: sequential}
nodes: [r1, r2, r3, r4]
links:
- {r1: {}, r2: {}, pool: v4only}
- r1-r3
- r2-r4
- r3-r4
";
    let (t, r) = setup(text);
    let r1 = fib(&t, &r, "r1", &["O"]);
    assert!(
        r1.contains(&"O 198.18.0.2/32 110/10 198.19.1.1@eth1".to_string()),
        "{r1:#?}"
    );
    assert!(
        r1.contains(&"O 2001:db8:0:2::/64 110/30 2001:db8:1::2@eth2".to_string()),
        "{r1:#?}"
    );
    let (t, r) = setup(&text.replace("module: [ospf]", "module: [isis]"));
    let r1 = fib(&t, &r, "r1", &["i L2"]);
    assert!(!r1.iter().any(|l| l.contains("2001:db8:0:2::")), "{r1:#?}");
}
