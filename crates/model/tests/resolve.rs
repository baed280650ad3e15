//! What the loader builds from valid files: addresses, segments, MTUs, inheritance.

use nettwin_model::*;

/// nettwin's former default pools, handed out in file order: the tests below are about how
/// addresses are assigned, not about netlab's default pools (see `netlab_addressing.rs`).
const POOLS: &str = "addressing:\n  loopback: {ipv4: 198.18.0.0/18}\n  p2p: {ipv4: 198.19.0.0/16, prefix: 31, allocation: sequential}\n  lan: {ipv4: 198.18.128.0/17, prefix: 24, allocation: sequential}\n";

fn load(text: &str) -> Topology {
    let text = if text.contains("addressing:") {
        text.to_string()
    } else {
        format!("{POOLS}{text}")
    };
    match load_str("t.yml", &text) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

fn addr4(t: &Topology, node: &str, ifname: &str) -> String {
    let n = t.node_by_name(node).unwrap();
    n.interface(ifname).unwrap().1.ipv4.unwrap().to_string()
}

#[test]
fn automatic_addresses_follow_file_order() {
    let t = load("nodes: [r1, r2, r3]\nlinks: [[r1, r2], r2-r3]\n");
    assert_eq!(
        t.node_by_name("r1")
            .unwrap()
            .loopback
            .ipv4
            .unwrap()
            .to_string(),
        "198.18.0.1/32"
    );
    assert_eq!(
        t.node_by_name("r3")
            .unwrap()
            .loopback
            .ipv4
            .unwrap()
            .to_string(),
        "198.18.0.3/32"
    );
    assert_eq!(addr4(&t, "r1", "eth1"), "198.19.0.0/31");
    assert_eq!(addr4(&t, "r2", "eth1"), "198.19.0.1/31");
    assert_eq!(addr4(&t, "r2", "eth2"), "198.19.0.2/31");
    assert_eq!(addr4(&t, "r3", "eth1"), "198.19.0.3/31");
    assert_eq!(t.links[1].name, "r2-r3");
    assert_eq!(
        t.node_by_name("r2").unwrap().router_id.unwrap().to_string(),
        "198.18.0.2"
    );
}

#[test]
fn pools_skip_addresses_written_in_the_file() {
    let t = load(
        "nodes:\n  r1: {loopback: 198.18.0.9/32}\n  r2: {}\n  r3: {}\nlinks:\n  - {r1: {}, r2: {}}\n  - {r2: {ipv4: 198.19.0.1/31}, r3: {}}\n",
    );
    // Loopbacks follow the node id (netlab), whatever the file sets on other nodes.
    assert_eq!(
        t.node_by_name("r2")
            .unwrap()
            .loopback
            .ipv4
            .unwrap()
            .to_string(),
        "198.18.0.2/32"
    );
    assert_eq!(
        t.node_by_name("r3")
            .unwrap()
            .loopback
            .ipv4
            .unwrap()
            .to_string(),
        "198.18.0.3/32"
    );
    // The second link's subnet 198.19.0.0/31 was written in the file, so the first link skips it
    // (netlab would hand it out twice). The second link still takes the pool's next subnet, and
    // r3 its address there, as netlab gives it whatever r2's written address is.
    assert_eq!(addr4(&t, "r1", "eth1"), "198.19.0.2/31");
    assert_eq!(addr4(&t, "r2", "eth2"), "198.19.0.1/31");
    assert_eq!(addr4(&t, "r3", "eth1"), "198.19.0.5/31");
}

#[test]
fn switches_join_their_links_into_one_lan() {
    let t = load(
        "nodes:\n  r1: {}\n  s1: {kind: switch}\n  s2: {kind: switch}\n  h1: {kind: host}\n  h2: {kind: host}\nlinks:\n  - [r1, s1]\n  - [s1, h1]\n  - [s1, s2]\n  - {s2: {}, h2: {}, mtu: 1400}\n",
    );
    assert_eq!(t.segments.len(), 1, "{:#?}", t.segments);
    let seg = &t.segments[0];
    assert_eq!(seg.kind, SegmentKind::Lan);
    assert_eq!(seg.ipv4.unwrap().to_string(), "198.18.128.0/24");
    assert_eq!(seg.links.len(), 4);
    let names: Vec<String> = seg.members.iter().map(|m| t.if_name(*m)).collect();
    assert_eq!(names, ["r1:eth1", "h1:eth1", "h2:eth1"]);
    assert_eq!(addr4(&t, "h2", "eth1"), "198.18.128.3/24");
    assert!(t
        .node_by_name("s1")
        .unwrap()
        .interfaces
        .iter()
        .all(|i| i.segment.is_none() && i.ipv4.is_none()));
    // Per-port MTU: the link to h2 is 1400 on both of its ends, the rest stays 1500.
    assert_eq!(
        t.node_by_name("s2")
            .unwrap()
            .interface("eth2")
            .unwrap()
            .1
            .mtu,
        1400
    );
    assert_eq!(
        t.node_by_name("h2")
            .unwrap()
            .interface("eth1")
            .unwrap()
            .1
            .mtu,
        1400
    );
    assert_eq!(
        t.node_by_name("s1")
            .unwrap()
            .interface("eth1")
            .unwrap()
            .1
            .mtu,
        1500
    );
    assert_eq!(t.node_by_name("s1").unwrap().bridge_netfilter, Some(true));
}

#[test]
fn multi_node_link_is_a_lan_and_stub_links_work() {
    let t = load("nodes: [a, b, c]\nlinks:\n  - [a, b, c]\n  - [a]\n");
    assert_eq!(t.segments[0].kind, SegmentKind::Lan);
    assert_eq!(addr4(&t, "c", "eth1"), "198.18.128.3/24");
    assert_eq!(t.segments[1].kind, SegmentKind::Lan);
    assert_eq!(addr4(&t, "a", "eth2"), "198.18.129.1/24");
}

#[test]
fn mtu_precedence_end_over_link_over_node_over_defaults() {
    let t = load(
        "defaults: {mtu: 9000}\nnodes:\n  a: {mtu: 4000}\n  b: {}\n  c: {}\nlinks:\n  - [a, b]\n  - {b: {mtu: 1280}, c: {}, mtu: 1500}\n",
    );
    assert_eq!(t.node_by_name("a").unwrap().interfaces[0].mtu, 4000);
    assert_eq!(t.node_by_name("b").unwrap().interfaces[0].mtu, 9000);
    assert_eq!(t.node_by_name("b").unwrap().interfaces[1].mtu, 1280);
    assert_eq!(t.node_by_name("c").unwrap().interfaces[0].mtu, 1500);
}

#[test]
fn groups_and_defaults_apply_with_node_values_winning() {
    let t = load(
        "defaults: {asn: 64999}\ngroups:\n  core: {members: [a, b], asn: 65000}\n  edge: {members: [b], asn: 65001, kind: linux}\nnodes:\n  a: {}\n  b: {}\n  c: {asn: 65002}\n  d: {}\n",
    );
    let asn = |n: &str| t.node_by_name(n).unwrap().asn.unwrap();
    assert_eq!(asn("a"), 65000);
    // netlab applies groups in name order (child groups first) and the first that sets an
    // attribute wins: `core` before `edge`.
    assert_eq!(asn("b"), 65000, "the group first in name order wins");
    assert_eq!(asn("c"), 65002);
    assert_eq!(asn("d"), 64999);
    assert_eq!(t.node_by_name("b").unwrap().kind, NodeKind::Linux);
}

#[test]
fn link_forms_and_interface_names() {
    let t = load(
        "nodes: [a, b]\nlinks:\n  - interfaces:\n      - {node: a, ifname: swp1, ipv4: 198.18.9.1/30}\n      - {node: b, ipv4: 198.18.9.2/30}\n    bandwidth: 10G\n    latency: 2ms\n  - {a: {}, b: {ifname: eth1}, name: backup}\n",
    );
    let a = t.node_by_name("a").unwrap();
    assert_eq!(a.interfaces[0].name, "swp1");
    assert_eq!(a.interfaces[1].name, "eth1");
    let b = t.node_by_name("b").unwrap();
    // `eth1` was taken explicitly by the second link, so the first link's end became eth2.
    assert_eq!(b.interfaces[0].name, "eth2");
    assert_eq!(b.interfaces[1].name, "eth1");
    assert_eq!(t.links[0].bandwidth, Some(10_000_000_000));
    assert_eq!(t.links[0].latency_us, Some(2000));
    assert_eq!(t.links[1].name, "backup");
    assert_eq!(t.segments[0].ipv4.unwrap().to_string(), "198.18.9.0/30");
}

#[test]
fn ipv6_pools_give_dual_stack() {
    let t = load(
        "addressing:\n  loopback: {ipv6: 2001:db8::/48}\n  p2p: {ipv4: 198.19.0.0/16, prefix: 31, ipv6: 2001:db8:1::/48}\nnodes: [a, b]\nlinks: [[a, b]]\n",
    );
    let a = t.node_by_name("a").unwrap();
    // netlab's IPv6 loopback: the id-th /64 of the pool, host 1.
    assert_eq!(a.loopback.ipv6.unwrap().to_string(), "2001:db8:0:1::1/64");
    assert_eq!(
        a.interfaces[0].ipv6.unwrap().to_string(),
        "2001:db8:1::1/64"
    );
    assert_eq!(
        t.node_by_name("b").unwrap().interfaces[0]
            .ipv6
            .unwrap()
            .to_string(),
        "2001:db8:1::2/64"
    );
    assert_eq!(a.interfaces[0].ipv4.unwrap().to_string(), "198.19.0.0/31");
}

#[test]
fn static_routes_resolve_interfaces() {
    let t = load(
        "nodes:\n  a:\n    static:\n      - {prefix: 0.0.0.0/0, nexthop: 198.19.0.1}\n      - {prefix: 198.18.64.0/24, interface: eth1, distance: 200}\n      - {prefix: 198.18.65.0/24, discard: true}\n  b: {}\nlinks: [[a, b]]\n",
    );
    let s = &t.node_by_name("a").unwrap().statics;
    assert_eq!(s.len(), 3);
    assert_eq!(
        s[0].next_hop,
        StaticNextHop::Address {
            address: "198.19.0.1".parse().unwrap(),
            interface: None
        }
    );
    assert_eq!(s[1].next_hop, StaticNextHop::Interface { interface: 0 });
    assert_eq!(s[1].distance, 200);
    assert_eq!(s[2].next_hop, StaticNextHop::Discard);
}

#[test]
fn every_example_loads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml") {
            load_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(
        n >= 3,
        "expected at least three example topologies, found {n}"
    );
}

#[test]
fn readme_topology_example_loads() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme.find("```yaml\n").expect("README has a yaml example") + 8;
    let end = start + readme[start..].find("```").unwrap();
    let t = load(&readme[start..end]);
    assert_eq!(t.name, "campus");
    assert_eq!(t.node_by_name("core2").unwrap().asn, Some(65000));
    assert_eq!(
        t.node_by_name("core2")
            .unwrap()
            .interface("eth9")
            .unwrap()
            .1
            .ipv4
            .unwrap()
            .to_string(),
        "198.18.9.1/30"
    );
    assert_eq!(t.links[3].bandwidth, Some(100_000_000_000));
    assert_eq!(
        t.links[0].bandwidth,
        Some(10_000_000_000),
        "from defaults.link"
    );
}
