//! Traces on small hand-made topologies: every disposition, with the exact hops a packet takes
//! (worked out by hand from the addresses and static routes below), ECMP trees and the flow hash.

mod common;
use common::*;

use nettwin_dataplane::trace::{Disposition, Trace};
use nettwin_dataplane::{flow_hash, Net, Proto};

/// Each path as `node ingress [prefix] egress nexthop ttl_in>ttl_out`, and its end.
fn paths(t: &Trace) -> Vec<(Vec<String>, Disposition, String)> {
    t.paths()
        .into_iter()
        .map(|(hops, e)| {
            let hops = hops
                .iter()
                .map(|h| {
                    format!(
                        "{} {} [{}] {} {} {}>{}",
                        h.node,
                        h.ingress.as_deref().unwrap_or("-"),
                        h.route.map(|r| r.prefix.to_string()).unwrap_or("-".into()),
                        h.egress.as_deref().unwrap_or("-"),
                        h.next_hop.map(|a| a.to_string()).unwrap_or("-".into()),
                        h.ttl_in,
                        h.ttl_out.map(|t| t.to_string()).unwrap_or("-".into()),
                    )
                })
                .collect();
            (hops, e.disposition, e.at.clone())
        })
        .collect()
}

fn one_path(t: &Trace) -> (Vec<String>, Disposition, String) {
    let mut p = paths(t);
    assert_eq!(p.len(), 1, "{p:#?}");
    p.remove(0)
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// h1 -- r1 ==1400== r2 -- h2, static routes only, plus routes set up to fail in every way.
pub const LINE: &str = "
name: line
nodes:
  h1: {kind: host}
  r1:
    static:
      - {prefix: 198.18.2.0/24, nexthop: 198.19.0.1}
      - {prefix: 198.18.4.0/24, discard: true}
      - {prefix: 198.18.5.0/24, nexthop: 198.19.0.1}
      - {prefix: 198.18.6.0/24, nexthop: 198.18.1.99}
      - {prefix: 198.18.7.0/24, nexthop: 198.19.0.1}
  r2:
    static:
      - {prefix: 198.18.1.0/24, nexthop: 198.19.0.0}
      - {prefix: 198.18.5.0/24, nexthop: 198.19.0.0}
      - {prefix: 198.18.7.0/24, nexthop: 198.18.2.10}
  h2: {kind: host}
links:
  - {h1: {ipv4: 198.18.1.10/24}, r1: {ipv4: 198.18.1.1/24}}
  - {r1: {ipv4: 198.19.0.0/31}, r2: {ipv4: 198.19.0.1/31}, mtu: 1400}
  - {r2: {ipv4: 198.18.2.1/24}, h2: {ipv4: 198.18.2.10/24}}
";

const H1: &str = "h1 - [0.0.0.0/0] eth1 198.18.1.1 64>64";

#[test]
fn delivered_hop_by_hop() {
    let (topo, routing) = net_of(LINE);
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.2.10", 64, false));
    let (hops, d, at) = one_path(&t);
    assert_eq!(
        hops,
        s(&[
            H1,
            "r1 eth1 [198.18.2.0/24] eth2 198.19.0.1 64>63",
            "r2 eth1 [198.18.2.0/24] eth2 198.18.2.10 63>62",
            "h2 eth1 [198.18.2.10/32] - - 62>-",
        ])
    );
    assert_eq!((d, at.as_str()), (Disposition::Delivered, "h2"));
    let last_r = &t.paths()[0].0[2];
    let res = last_r.resolution.as_ref().unwrap();
    assert_eq!((res.protocol, res.owner.as_str()), ("arp", "h2:eth1"));
    assert!(t.delivered());
}

#[test]
fn no_route_sends_net_unreachable_back() {
    let (topo, routing) = net_of(LINE);
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.3.1", 64, false));
    let (hops, d, at) = one_path(&t);
    assert_eq!(hops, s(&[H1, "r1 eth1 [-] - - 64>-"]));
    assert_eq!((d, at.as_str()), (Disposition::NoRoute, "r1"));
    let e = t.paths()[0].1;
    let icmp = e.icmp.as_ref().unwrap();
    assert_eq!((icmp.icmp_type, icmp.code), (3, 0));
    assert_eq!(icmp.from.to_string(), "198.18.1.1");
    assert!(icmp.reached_source);
}

#[test]
fn null_route_drops_silently() {
    let (topo, routing) = net_of(LINE);
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.4.1", 64, false));
    let (hops, d, at) = one_path(&t);
    assert_eq!(hops, s(&[H1, "r1 eth1 [198.18.4.0/24] - - 64>-"]));
    assert_eq!((d, at.as_str()), (Disposition::NullRouted, "r1"));
    assert!(t.paths()[0].1.icmp.is_none());
}

#[test]
fn ttl_exceeded_sends_time_exceeded_along_its_own_path() {
    let (topo, routing) = net_of(LINE);
    let net = Net::new(&topo, &routing);
    let mut p = probe(&net, "h1", "198.18.2.10", 64, false);
    p.ttl = 2;
    let t = nettwin_dataplane::trace(&net, &p);
    let (hops, d, at) = one_path(&t);
    assert_eq!(
        hops,
        s(&[
            "h1 - [0.0.0.0/0] eth1 198.18.1.1 2>2",
            "r1 eth1 [198.18.2.0/24] eth2 198.19.0.1 2>1",
            "r2 eth1 [198.18.2.0/24] - - 1>-",
        ])
    );
    assert_eq!((d, at.as_str()), (Disposition::TtlExceeded, "r2"));
    let icmp = t.paths()[0].1.icmp.as_ref().unwrap();
    assert_eq!((icmp.icmp_type, icmp.code), (11, 0));
    // Sent from r2's address towards h1 (its interface to r1), back through r1.
    assert_eq!(icmp.from.to_string(), "198.19.0.1");
    let (back, d, at) = one_path(&icmp.trace);
    assert_eq!(
        back,
        s(&[
            "r2 - [198.18.1.0/24] eth1 198.19.0.0 64>64",
            "r1 eth2 [198.18.1.0/24] eth1 198.18.1.10 64>63",
            "h1 eth1 [198.18.1.10/32] - - 63>-",
        ])
    );
    assert_eq!((d, at.as_str()), (Disposition::Delivered, "h1"));
}

#[test]
fn loop_is_detected_where_the_packet_comes_back() {
    let (topo, routing) = net_of(LINE);
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.5.1", 64, false));
    let (hops, d, at) = one_path(&t);
    assert_eq!(
        hops,
        s(&[
            H1,
            "r1 eth1 [198.18.5.0/24] eth2 198.19.0.1 64>63",
            "r2 eth1 [198.18.5.0/24] eth1 198.19.0.0 63>62",
            "r1 eth2 [-] - - 62>-",
        ])
    );
    assert_eq!((d, at.as_str()), (Disposition::LoopDetected, "r1"));
    assert!(t.paths()[0].1.detail.contains("r1 -> r2 -> r1"));
}

#[test]
fn arp_failure_is_an_unreachable_neighbour() {
    let (topo, routing) = net_of(LINE);
    let net = Net::new(&topo, &routing);
    // A static next hop nobody on h1's LAN owns.
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.6.1", 64, false));
    let (hops, d, at) = one_path(&t);
    assert_eq!(
        hops,
        s(&[H1, "r1 eth1 [198.18.6.0/24] eth1 198.18.1.99 64>63"])
    );
    assert_eq!((d, at.as_str()), (Disposition::UnreachableNeighbour, "r1"));
    let icmp = t.paths()[0].1.icmp.as_ref().unwrap();
    assert_eq!((icmp.icmp_type, icmp.code), (3, 1));
    // A connected destination with no host behind it.
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.2.99", 64, false));
    let (hops, d, at) = one_path(&t);
    assert_eq!(
        hops.last().unwrap(),
        "r2 eth1 [198.18.2.0/24] eth2 198.18.2.99 63>62"
    );
    assert_eq!((d, at.as_str()), (Disposition::UnreachableNeighbour, "r2"));
}

#[test]
fn a_host_does_not_forward() {
    let (topo, routing) = net_of(LINE);
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.7.1", 64, false));
    let (hops, d, at) = one_path(&t);
    assert_eq!(
        hops,
        s(&[
            H1,
            "r1 eth1 [198.18.7.0/24] eth2 198.19.0.1 64>63",
            "r2 eth1 [198.18.7.0/24] eth2 198.18.2.10 63>62",
            "h2 eth1 [0.0.0.0/0] - - 62>-",
        ])
    );
    assert_eq!((d, at.as_str()), (Disposition::HostDoesNotForward, "h2"));
}

#[test]
fn a_link_shut_at_one_end_is_down_at_both() {
    let yaml = LINE.replace(
        "r2: {ipv4: 198.18.2.1/24}, h2: {ipv4: 198.18.2.10/24}",
        "r2: {ipv4: 198.18.2.1/24}, h2: {ipv4: 198.18.2.10/24, shutdown: true}",
    );
    let (topo, routing) = net_of(&yaml);
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.2.10", 64, false));
    let (hops, d, at) = one_path(&t);
    // r2 lost its connected route with carrier, so the static at r1 takes the packet to r2,
    // which has nothing for it.
    assert_eq!(hops.last().unwrap(), "r2 eth1 [-] - - 63>-");
    assert_eq!((d, at.as_str()), (Disposition::NoRoute, "r2"));
}

/// Two equal-cost static paths from r1 to r4.
const ECMP: &str = "
name: ecmp
nodes:
  h1: {kind: host}
  r1:
    static:
      - {prefix: 198.18.9.0/24, nexthop: 198.19.0.1}
      - {prefix: 198.18.9.0/24, nexthop: 198.19.0.3}
  r2: {static: [{prefix: 198.18.9.0/24, nexthop: 198.19.0.5}, {prefix: 198.18.1.0/24, nexthop: 198.19.0.0}]}
  r3: {static: [{prefix: 198.18.9.0/24, nexthop: 198.19.0.7}, {prefix: 198.18.1.0/24, nexthop: 198.19.0.2}]}
  r4: {static: [{prefix: 198.18.1.0/24, nexthop: 198.19.0.4}]}
  h9: {kind: host}
links:
  - {h1: {ipv4: 198.18.1.10/24}, r1: {ipv4: 198.18.1.1/24}}
  - {r1: {ipv4: 198.19.0.0/31}, r2: {ipv4: 198.19.0.1/31}}
  - {r1: {ipv4: 198.19.0.2/31}, r3: {ipv4: 198.19.0.3/31}}
  - {r2: {ipv4: 198.19.0.4/31}, r4: {ipv4: 198.19.0.5/31}}
  - {r3: {ipv4: 198.19.0.6/31}, r4: {ipv4: 198.19.0.7/31}}
  - {r4: {ipv4: 198.18.9.1/24}, h9: {ipv4: 198.18.9.10/24}}
";

#[test]
fn ecmp_makes_a_tree_with_every_branch() {
    let (topo, routing) = net_of(ECMP);
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.9.10", 64, false));
    assert_eq!(t.branches.len(), 1, "h1 has one way out");
    assert_eq!(t.branches[0].next.len(), 2, "r1 splits in two");
    let p = paths(&t);
    assert_eq!(
        p,
        vec![
            (
                s(&[
                    H1,
                    "r1 eth1 [198.18.9.0/24] eth2 198.19.0.1 64>63",
                    "r2 eth1 [198.18.9.0/24] eth2 198.19.0.5 63>62",
                    "r4 eth1 [198.18.9.0/24] eth3 198.18.9.10 62>61",
                    "h9 eth1 [198.18.9.10/32] - - 61>-",
                ]),
                Disposition::Delivered,
                "h9".to_string()
            ),
            (
                s(&[
                    H1,
                    "r1 eth1 [198.18.9.0/24] eth3 198.19.0.3 64>63",
                    "r3 eth1 [198.18.9.0/24] eth2 198.19.0.7 63>62",
                    "r4 eth2 [198.18.9.0/24] eth3 198.18.9.10 62>61",
                    "h9 eth1 [198.18.9.10/32] - - 61>-",
                ]),
                Disposition::Delivered,
                "h9".to_string()
            ),
        ]
    );
    assert!(t.paths().iter().all(|(h, _)| h[1].ecmp == Some(2)));
}

#[test]
fn flow_hash_picks_one_branch_deterministically() {
    let (topo, routing) = net_of(ECMP);
    let net = Net::new(&topo, &routing);
    let r1 = topo.node_by_name("r1").unwrap().id;
    let mut seen = [false; 2];
    for sport in 1000..1064 {
        let mut p = probe(&net, "h1", "198.18.9.10", 64, false);
        p.proto = Proto::Udp;
        p.sport = sport;
        p.dport = 53;
        p.flow_hash = true;
        let t = nettwin_dataplane::trace(&net, &p);
        let (hops, d, _) = one_path(&t);
        assert_eq!(d, Disposition::Delivered);
        // The documented rule: index = hash % next hops, next hops in FIB order (via r2 first).
        let want = (flow_hash(&p, r1) % 2) as usize;
        seen[want] = true;
        let via = if want == 0 { "r2" } else { "r3" };
        assert!(hops[2].starts_with(via), "sport {sport}: {hops:?}");
        let again = nettwin_dataplane::trace(&net, &p);
        assert_eq!(paths(&again), paths(&t), "same 5-tuple, same branch");
    }
    assert_eq!(seen, [true, true], "64 flows use both branches");
}

#[test]
fn denied_by_policy_is_reserved_and_never_produced() {
    let (topo, routing) = net_of(LINE);
    let net = Net::new(&topo, &routing);
    for to in [
        "198.18.2.10",
        "198.18.3.1",
        "198.18.4.1",
        "198.18.5.1",
        "198.18.6.1",
        "198.18.7.1",
    ] {
        let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", to, 64, false));
        assert!(!t.dispositions().contains(&Disposition::DeniedByPolicy));
    }
    assert_eq!(Disposition::DeniedByPolicy.name(), "denied-by-policy");
}

#[test]
fn demo_traces_show_the_black_hole_of_the_default_example() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/isp-dc.yml"
    ))
    .unwrap();
    let (topo, routing) = net_of(&text);
    let traces = nettwin_dataplane::demo_traces(&topo, &routing);
    assert_eq!(traces.len(), 3);
    assert!(traces[0].delivered());
    let hole = &traces[1];
    assert_eq!(hole.probe.size, 1500);
    for (_, e) in hole.paths() {
        assert_eq!(e.disposition, Disposition::DroppedByMtu);
        assert_eq!(e.at, "sw1");
        assert_eq!(e.interface.as_deref(), Some("sw1:eth3"));
        assert!(e.icmp.is_none(), "a bridge sends no ICMP");
    }
    assert!(
        traces[2].branches.len() == 2,
        "border has two equal paths to leaf1"
    );
}

#[test]
fn fat_tree_trace_has_one_branch_per_core_path() {
    // k=4: from a host to a host in another pod there are (k/2)^2 = 4 equal-cost paths, each
    // host - edge - aggregation - core - aggregation - edge - host.
    let (topo, routing) = net_of(&nettwin_model::generate::fat_tree(4));
    let net = Net::new(&topo, &routing);
    let dst = topo.node_by_name("h1_0").unwrap().interfaces[0]
        .ipv4
        .unwrap()
        .addr;
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h0_0", &dst.to_string(), 64, false));
    let p = t.paths();
    assert_eq!(p.len(), 4);
    assert!(!t.truncated);
    let mut cores: Vec<&str> = Vec::new();
    for (hops, e) in &p {
        assert_eq!(e.disposition, Disposition::Delivered);
        let names: Vec<&str> = hops.iter().map(|h| h.node.as_str()).collect();
        assert_eq!(names.len(), 7, "{names:?}");
        assert_eq!(
            (names[0], names[1], names[5], names[6]),
            ("h0_0", "e0_0", "e1_0", "h1_0")
        );
        assert!(names[2].starts_with("a0_") && names[4].starts_with("a1_"));
        cores.push(names[3]);
    }
    cores.sort();
    assert_eq!(cores, vec!["c0", "c1", "c2", "c3"]);
}

#[test]
fn wide_ecmp_is_truncated_not_exploded() {
    // 11 diamonds in a row: 2^11 = 2048 equal-cost paths from s0 to s11.
    let mut yaml = String::from("name: ladder\nmodule: [ospf]\nnodes:\n");
    for i in 0..=11 {
        yaml.push_str(&format!("  s{i}: {{}}\n"));
    }
    for i in 0..11 {
        yaml.push_str(&format!("  a{i}: {{}}\n  b{i}: {{}}\n"));
    }
    yaml.push_str("links:\n");
    for i in 0..11 {
        let j = i + 1;
        yaml.push_str(&format!(
            "  - [s{i}, a{i}]\n  - [s{i}, b{i}]\n  - [a{i}, s{j}]\n  - [b{i}, s{j}]\n"
        ));
    }
    let (topo, routing) = net_of(&yaml);
    let net = Net::new(&topo, &routing);
    let s11 = topo.node_by_name("s11").unwrap();
    let dst = net.node_address(s11.id, false).unwrap();
    let t = nettwin_dataplane::trace(&net, &probe(&net, "s0", &dst.to_string(), 64, false));
    let p = t.paths();
    assert!(t.truncated);
    assert!(
        p.len() >= nettwin_dataplane::trace::MAX_LEAVES && p.len() < 2048,
        "{}",
        p.len()
    );
    assert!(p
        .iter()
        .all(|(h, e)| e.disposition == Disposition::Delivered && h.len() == 23));
}
