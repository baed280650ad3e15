//! MPLS in traces: label stacks hop by hop, TTL handling, ECMP over LSPs, MTU with 4 bytes
//! per label, BGP traffic over the LSP to its next hop, and two platform personalities.

mod common;
use common::*;

use nettwin_dataplane::mtu::Role;
use nettwin_dataplane::trace::{Disposition, LabelOp, Trace};
use nettwin_dataplane::{path_mtu, Net};

fn labnet(text: &str) -> (nettwin_model::Topology, nettwin_routing::Routing) {
    net_of(&nettwin_model::generate::with_benchmark_pools(text))
}

/// Each branch as `node:op[in]->[out]:ttl` per hop (IP TTL after the hop), and its end.
fn stacks(t: &Trace) -> Vec<String> {
    t.paths()
        .iter()
        .map(|(hops, end)| {
            let mut parts: Vec<String> = hops
                .iter()
                .map(|h| {
                    let ttl = h.ttl_out.unwrap_or(h.ttl_in);
                    match &h.labels {
                        Some(l) => format!(
                            "{}:{}{:?}->{:?}:{ttl}",
                            h.node,
                            l.op.name(),
                            l.in_stack,
                            l.out_stack
                        ),
                        None => format!("{}:ip:{ttl}", h.node),
                    }
                })
                .collect();
            parts.push(format!("{} at {}", end.disposition, end.at));
            parts.join(" ")
        })
        .collect()
}

/// pe1 - p1 - p2 - pe2 under OSPF and LDP; x1 (AS 65100) behind pe2 originates
/// 198.18.200.0/24, which pe1 learns over iBGP with next hop pe2's loopback 198.18.0.4.
const CHAIN: &str = "module: [ospf, mpls, bgp]
defaults.platform: PLATFORM
nodes:
  pe1: {asn: 65000}
  p1: {asn: 65000, module: [ospf, mpls]}
  p2: {asn: 65000, module: [ospf, mpls]}
  pe2: {asn: 65000}
  x1: {asn: 65100, module: [bgp], bgp: {originate: [198.18.200.0/24]}}
links:
  - {pe1: {}, p1: {}, mtu: CORE}
  - {p1: {}, p2: {}, mtu: MIDDLE}
  - {p2: {}, pe2: {}, mtu: CORE}
  - pe2-x1
";

fn chain(platform: &str, core: u32, middle: u32) -> String {
    CHAIN
        .replace("PLATFORM", platform)
        .replace("CORE", &core.to_string())
        .replace("MIDDLE", &middle.to_string())
}

#[test]
fn ldp_label_stack_and_ttl_hop_by_hop() {
    let (topo, routing) = labnet(&chain("cisco-xe", 1500, 1500));
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "pe1", "198.18.0.4", 100, false));
    // pe1 pushes p1's label for 198.18.0.4/32 (18), p1 swaps to p2's (18), p2 pops (PHP),
    // pe2 receives plain IP. TTL 64 is copied into the label and back (uniform model): the
    // IP TTL at pe2 is 62, as if the LSRs had been IP hops.
    assert_eq!(
        stacks(&t),
        vec![
            "pe1:push[]->[18]:64 p1:swap[18]->[18]:64 p2:pop[18]->[]:62 pe2:ip:62 delivered at pe2"
        ]
    );
    let hops = &t.paths()[0].0;
    assert_eq!(hops[0].labels.as_ref().unwrap().label_ttl, Some(64));
    assert_eq!(hops[1].labels.as_ref().unwrap().label_ttl, Some(63));
    assert!(hops[0]
        .labels
        .as_ref()
        .unwrap()
        .reason
        .as_ref()
        .unwrap()
        .contains("LDP label"));
    // The same LSP carries BGP traffic: x1's loopback (a BGP route) resolves over pe2's loopback.
    let t = nettwin_dataplane::trace(&net, &probe(&net, "pe1", "198.18.0.5", 100, false));
    assert_eq!(
        stacks(&t),
        vec!["pe1:push[]->[18]:64 p1:swap[18]->[18]:64 p2:pop[18]->[]:62 pe2:ip:61 x1:ip:61 delivered at x1"]
    );
}

#[test]
fn without_ttl_propagation_the_core_is_invisible() {
    let text = chain("cisco-xe", 1500, 1500).replace(
        "module: [ospf, mpls, bgp]",
        "module: [ospf, mpls, bgp]\nmpls.ttl_propagate: false",
    );
    let (topo, routing) = labnet(&text);
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "pe1", "198.18.0.4", 100, false));
    assert_eq!(
        stacks(&t),
        vec![
            "pe1:push[]->[18]:64 p1:swap[18]->[18]:64 p2:pop[18]->[]:64 pe2:ip:64 delivered at pe2"
        ]
    );
    assert_eq!(
        t.paths()[0].0[0].labels.as_ref().unwrap().label_ttl,
        Some(255)
    );
}

/// Junos: LSPs sit in inet.3, used for BGP next hops only, so IGP traffic goes unlabelled and
/// BGP traffic is labelled; Cisco labels both (the previous test).
#[test]
fn junos_labels_bgp_traffic_only() {
    let (topo, routing) = labnet(&chain("junos", 1500, 1500));
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "pe1", "198.18.0.4", 100, false));
    assert_eq!(
        stacks(&t),
        vec!["pe1:ip:64 p1:ip:63 p2:ip:62 pe2:ip:62 delivered at pe2"]
    );
    let t = nettwin_dataplane::trace(&net, &probe(&net, "pe1", "198.18.0.5", 100, false));
    assert_eq!(
        stacks(&t),
        vec!["pe1:push[]->[299778]:64 p1:swap[299778]->[299778]:64 p2:pop[299778]->[]:62 pe2:ip:61 x1:ip:61 delivered at x1"]
    );
}

#[test]
fn ecmp_over_lsps_follows_every_igp_branch() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/mpls-sr.yml"
    ))
    .unwrap();
    let (topo, routing) = net_of(&text);
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.19.0.15", 100, false));
    let s = stacks(&t);
    assert_eq!(s.len(), 2, "{s:#?}");
    assert!(
        s[0].contains(" p2:swap") && s[1].contains(" p3:swap"),
        "{s:#?}"
    );
    assert!(
        s.iter()
            .all(|b| b.contains("p4:pop") && b.ends_with("delivered at h2")),
        "{s:#?}"
    );
    // One branch by flow hash: a single path, still labelled.
    let mut p = probe(&net, "h1", "198.19.0.15", 100, false);
    p.flow_hash = true;
    assert_eq!(stacks(&nettwin_dataplane::trace(&net, &p)).len(), 1);
}

/// A 1500-byte packet plus one label is 1504 on the wire: it fits core links of MTU 1504. Where
/// the middle link is 1502, the LSR p1 cannot forward it: Cisco (RFC 3032) sends ICMP too big
/// with 1498 (the link's MTU less the label), so PMTUD settles on 1498; FRR's kernel drops it
/// silently, a black hole PMTUD still measures at 1498.
#[test]
fn mtu_counts_four_bytes_per_label() {
    let (topo, routing) = labnet(&chain("cisco-xe", 1504, 1504));
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "pe1", "198.18.0.4", 1500, true));
    assert_eq!(t.dispositions(), vec![Disposition::Delivered]);

    let (topo, routing) = labnet(&chain("cisco-xe", 1504, 1502));
    let net = Net::new(&topo, &routing);
    let p = probe(&net, "pe1", "198.18.0.4", 1500, true);
    let t = nettwin_dataplane::trace(&net, &p);
    let (hops, e) = &t.paths()[0];
    assert_eq!(
        hops.last().unwrap().labels.as_ref().unwrap().op,
        LabelOp::Swap
    );
    assert_eq!(
        (e.disposition, e.at.as_str(), e.mtu, e.mtu_role),
        (
            Disposition::DroppedByMtu,
            "p1",
            Some(1498),
            Some(Role::LabelSwitch)
        )
    );
    assert!(
        e.detail
            .starts_with("1500 bytes + 1 label (4 bytes) = 1504 > MTU 1502"),
        "{}",
        e.detail
    );
    let icmp = e.icmp.as_ref().expect("Cisco answers");
    assert_eq!(icmp.mtu, Some(1498));
    let r = path_mtu(&net, &p);
    assert_eq!(r.path_mtu, Some(1498));
    assert!(r.black_holes.is_empty());

    let (topo, routing) = labnet(&chain("frr", 1504, 1502));
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &p);
    let e = t.paths()[0].1;
    assert!(
        e.icmp.is_none() && e.detail.ends_with("dropped silently"),
        "{}",
        e.detail
    );
    let r = path_mtu(&net, &p);
    assert_eq!(r.path_mtu, Some(1498));
    assert_eq!(r.black_holes.len(), 1);
    assert_eq!(r.black_holes[0].limit.role, Role::LabelSwitch);

    // The ingress that pushes sees its link's MTU less the label: 1500 - 4 = 1496.
    let (topo, routing) = labnet(&chain("cisco-xe", 1500, 1500));
    let net = Net::new(&topo, &routing);
    let r = path_mtu(&net, &p);
    assert_eq!(r.path_mtu, Some(1496));
}

/// A 1500-byte packet sent with two labels (an SR SID list: pe2's node SID over explicit null)
/// is 1508 bytes on the core links: it fits a 1508 link, and where p1's next link is 1506 the
/// LSR cannot forward it: Cisco answers ICMP too big with 1498 (1506 less two labels), FRR's
/// kernel drops it silently.
#[test]
fn two_labels_need_1508_on_a_core_link() {
    let text = "module: [isis, sr]
defaults.platform: PLATFORM
nodes: [pe1, p1, p2, pe2]
links:
  - {pe1: {}, p1: {}, mtu: 1508}
  - {p1: {}, p2: {}, mtu: MIDDLE}
  - {p2: {}, pe2: {}, mtu: 1508}
";
    let run = |platform: &str, middle: u32| {
        let (topo, routing) = labnet(
            &text
                .replace("PLATFORM", platform)
                .replace("MIDDLE", &middle.to_string()),
        );
        let net = Net::new(&topo, &routing);
        let p = probe(&net, "pe1", "198.18.0.4", 1500, true);
        nettwin_dataplane::trace_labelled(&net, &p, &[16004, 0])
    };
    let t = run("cisco-xr", 1508);
    assert_eq!(
        stacks(&t),
        vec!["pe1:swap[16004, 0]->[16004, 0]:64 p1:swap[16004, 0]->[16004, 0]:64 p2:pop[16004, 0]->[0]:64 pe2:pop-explicit-null[0]->[]:62 delivered at pe2"]
    );
    let t = run("cisco-xr", 1506);
    let e = t.paths()[0].1;
    assert_eq!(
        (e.disposition, e.at.as_str(), e.mtu, e.mtu_role),
        (
            Disposition::DroppedByMtu,
            "p1",
            Some(1498),
            Some(Role::LabelSwitch)
        )
    );
    assert!(
        e.detail
            .starts_with("1500 bytes + 2 labels (8 bytes) = 1508 > MTU 1506"),
        "{}",
        e.detail
    );
    assert_eq!(e.icmp.as_ref().unwrap().mtu, Some(1498));
    let t = run("frr", 1506);
    let e = t.paths()[0].1;
    assert!(
        e.icmp.is_none() && e.detail.ends_with("dropped silently"),
        "{}",
        e.detail
    );
}
