//! The MTU situations of the issue, as real devices behave: a router with a smaller next link
//! (ICMP back, PMTU 1400), a Linux bridge with one small port (silent drop, black hole), a jumbo
//! link between two 1500 links (and a mismatched one), and IPv6 (routers never fragment).

mod common;
use common::*;

use nettwin_dataplane::mtu::Role;
use nettwin_dataplane::trace::{Disposition, Trace};
use nettwin_dataplane::{path_mtu, Net, Probe};

/// The single end of a trace without ECMP.
fn the_end(t: &Trace) -> &nettwin_dataplane::End {
    let p = t.paths();
    assert_eq!(p.len(), 1);
    p[0].1
}

const ROUTED: &str = "
name: routed
nodes:
  h1: {kind: host}
  r1: {static: [{prefix: 198.18.2.0/24, nexthop: 198.19.0.1}]}
  r2: {static: [{prefix: 198.18.1.0/24, nexthop: 198.19.0.0}]}
  h2: {kind: host}
links:
  - {h1: {ipv4: 198.18.1.10/24}, r1: {ipv4: 198.18.1.1/24}}
  - {r1: {ipv4: 198.19.0.0/31}, r2: {ipv4: 198.19.0.1/31}, mtu: MIDDLE}
  - {r2: {ipv4: 198.18.2.1/24}, h2: {ipv4: 198.18.2.10/24}}
";

#[test]
fn router_with_a_1400_next_link_sends_frag_needed_and_pmtu_is_1400() {
    let (topo, routing) = net_of(&ROUTED.replace("MIDDLE", "1400"));
    let net = Net::new(&topo, &routing);
    let p = probe(&net, "h1", "198.18.2.10", 1500, true);
    let t = nettwin_dataplane::trace(&net, &p);
    let e = the_end(&t);
    assert_eq!(
        (e.disposition, e.at.as_str()),
        (Disposition::DroppedByMtu, "r1")
    );
    assert_eq!(
        (e.interface.as_deref(), e.mtu),
        (Some("r1:eth2"), Some(1400))
    );
    let icmp = e.icmp.as_ref().expect("a router answers");
    assert_eq!((icmp.icmp_type, icmp.code, icmp.mtu), (3, 4, Some(1400)));
    assert!(icmp.reached_source);
    // The error quotes what fits in 576 bytes.
    assert_eq!(icmp.trace.probe.size, 576);

    let r = path_mtu(&net, &p);
    assert_eq!(r.path_mtu, Some(1400));
    let l = r.limited_by.unwrap();
    assert_eq!(
        (l.interface.as_str(), l.mtu, l.role),
        ("r1:eth2", 1400, Role::Router)
    );
    assert!(r.black_holes.is_empty());
    let sizes: Vec<(u32, Option<u32>)> = r.rounds.iter().map(|x| (x.size, x.learned)).collect();
    assert_eq!(sizes, vec![(1500, Some(1400)), (1400, None)]);

    // Without DF the router fragments: 1480 data bytes in 1376 + 104.
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.2.10", 1500, false));
    let e = the_end(&t);
    assert_eq!(
        (e.disposition, e.at.as_str()),
        (Disposition::Fragmented, "h2")
    );
    let last = *t.paths()[0].0.last().unwrap();
    assert_eq!((last.size, last.packets), (1396, 2));
}

#[test]
fn the_sender_refuses_a_df_packet_over_its_own_mtu_and_fragments_without_df() {
    let (topo, routing) = net_of(&ROUTED.replace("MIDDLE", "1500"));
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.2.10", 2000, true));
    let e = the_end(&t);
    assert_eq!(
        (e.disposition, e.at.as_str(), e.mtu),
        (Disposition::DroppedByMtu, "h1", Some(1500))
    );
    assert_eq!(e.mtu_role, Some(Role::Source));
    assert!(e.icmp.is_none() && e.detail.contains("EMSGSIZE"));
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.2.10", 2000, false));
    let e = the_end(&t);
    assert_eq!(e.disposition, Disposition::Fragmented);
    assert_eq!(t.paths()[0].0[0].fragmented[0].fragments, 2);
}

const BRIDGED: &str = "
name: bridged
nodes:
  h1: {kind: host}
  r1: {}
  sw: {kind: switch, bridge_netfilter: NF}
  h2: {kind: host}
links:
  - {h1: {ipv4: 198.18.1.10/24}, r1: {ipv4: 198.18.1.1/24}}
  - {r1: {ipv4: 198.18.2.1/24}, sw: {}}
  - {sw: {mtu: 1400}, h2: {ipv4: 198.18.2.10/24}}
";

#[test]
fn bridge_port_at_1400_drops_silently_and_pmtud_flags_the_black_hole() {
    let (topo, routing) = net_of(&BRIDGED.replace("NF", "false"));
    let net = Net::new(&topo, &routing);
    let p = probe(&net, "h1", "198.18.2.10", 1500, true);
    let t = nettwin_dataplane::trace(&net, &p);
    let e = the_end(&t);
    assert_eq!(
        (e.disposition, e.at.as_str()),
        (Disposition::DroppedByMtu, "sw")
    );
    assert_eq!(
        (e.interface.as_deref(), e.mtu),
        (Some("sw:eth2"), Some(1400))
    );
    assert!(
        e.icmp.is_none(),
        "a bridge has no address to send ICMP from"
    );
    let r1 = t.paths()[0].0[1];
    let res = r1.resolution.as_ref().unwrap();
    assert_eq!(res.owner, "h2:eth1");
    assert_eq!(res.bridges.len(), 1);
    assert_eq!(
        (
            res.bridges[0].in_port.as_str(),
            res.bridges[0].in_mtu,
            res.bridges[0].out_port.as_str(),
            res.bridges[0].out_mtu
        ),
        ("eth1", 1500, "eth2", 1400)
    );

    let r = path_mtu(&net, &p);
    assert_eq!(r.path_mtu, Some(1400));
    assert_eq!(r.black_holes.len(), 1);
    let b = &r.black_holes[0];
    assert_eq!(
        (b.limit.interface.as_str(), b.limit.role, b.size),
        ("sw:eth2", Role::Bridge, 1500)
    );
    // The sender never learned anything: no round has a learned MTU.
    assert!(r.rounds.iter().all(|x| x.learned.is_none()));

    // Without DF and without br_netfilter: still dropped.
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.2.10", 1500, false));
    assert_eq!(the_end(&t).disposition, Disposition::DroppedByMtu);
}

#[test]
fn bridge_with_br_netfilter_fragments_ipv4_without_df() {
    let (topo, routing) = net_of(&BRIDGED.replace("NF", "true"));
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.2.10", 1500, false));
    let e = the_end(&t);
    assert_eq!(
        (e.disposition, e.at.as_str()),
        (Disposition::Fragmented, "h2")
    );
    let frag = &t.paths()[0].0[1].fragmented;
    assert_eq!(frag.len(), 1);
    assert_eq!(
        (frag[0].by.as_str(), frag[0].mtu, frag[0].fragments),
        ("sw", 1400, 2)
    );
    // DF still means drop.
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.18.2.10", 1500, true));
    assert_eq!(the_end(&t).disposition, Disposition::DroppedByMtu);
}

#[test]
fn jumbo_link_between_two_1500_links() {
    let (topo, routing) = net_of(&ROUTED.replace("MIDDLE", "9000"));
    let net = Net::new(&topo, &routing);
    // Host to host: the sender's own 1500 is the limit.
    let r = path_mtu(&net, &probe(&net, "h1", "198.18.2.10", 64, false));
    assert_eq!(r.path_mtu, Some(1500));
    let l = r.limited_by.unwrap();
    assert_eq!((l.interface.as_str(), l.role), ("h1:eth1", Role::Source));
    // r1 sends 9000 onto the jumbo link; r2 cannot forward it onto 1500 and says so.
    let p = probe(&net, "r1", "198.18.2.10", 9000, true);
    let t = nettwin_dataplane::trace(&net, &p);
    let e = the_end(&t);
    assert_eq!(
        (e.disposition, e.at.as_str(), e.mtu),
        (Disposition::DroppedByMtu, "r2", Some(1500))
    );
    assert!(e.icmp.as_ref().unwrap().reached_source);
    let r = path_mtu(&net, &p);
    assert_eq!(r.path_mtu, Some(1500));
    assert_eq!(r.limited_by.unwrap().interface, "r2:eth2");
    assert!(r.black_holes.is_empty());
    let sizes: Vec<u32> = r.rounds.iter().map(|x| x.size).collect();
    assert_eq!(sizes, vec![9000, 1500]);
}

#[test]
fn jumbo_mismatch_is_a_black_hole_at_the_receiving_interface() {
    let yaml = ROUTED.replace(
        "{r1: {ipv4: 198.19.0.0/31}, r2: {ipv4: 198.19.0.1/31}, mtu: MIDDLE}",
        "{r1: {ipv4: 198.19.0.0/31, mtu: 9000}, r2: {ipv4: 198.19.0.1/31}}",
    );
    let (topo, routing) = net_of(&yaml);
    let net = Net::new(&topo, &routing);
    let p = probe(&net, "r1", "198.18.2.10", 9000, true);
    let t = nettwin_dataplane::trace(&net, &p);
    let e = the_end(&t);
    assert_eq!(
        (e.disposition, e.at.as_str()),
        (Disposition::DroppedByMtu, "r2")
    );
    assert_eq!(
        (e.interface.as_deref(), e.mtu_role),
        (Some("r2:eth1"), Some(Role::Receiver))
    );
    assert!(e.icmp.is_none());
    // Without DF too: the receiver cannot take the frame at all.
    let t = nettwin_dataplane::trace(&net, &probe(&net, "r1", "198.18.2.10", 9000, false));
    assert_eq!(the_end(&t).disposition, Disposition::DroppedByMtu);
    let r = path_mtu(&net, &p);
    assert_eq!(r.path_mtu, Some(1500));
    assert_eq!(r.black_holes.len(), 1);
    assert_eq!(r.black_holes[0].limit.interface, "r2:eth1");
}

const ROUTED6: &str = "
name: routed6
nodes:
  h1: {kind: host}
  r1: {static: [{prefix: \"2001:db8:2::/64\", nexthop: \"2001:db8:ff::2\"}]}
  r2: {static: [{prefix: \"2001:db8:1::/64\", nexthop: \"2001:db8:ff::1\"}]}
  h2: {kind: host}
links:
  - {h1: {ipv6: \"2001:db8:1::10/64\"}, r1: {ipv6: \"2001:db8:1::1/64\"}}
  - {r1: {ipv6: \"2001:db8:ff::1/64\"}, r2: {ipv6: \"2001:db8:ff::2/64\"}, mtu: 1400}
  - {r2: {ipv6: \"2001:db8:2::1/64\"}, h2: {ipv6: \"2001:db8:2::10/64\"}}
";

#[test]
fn ipv6_routers_never_fragment() {
    let (topo, routing) = net_of(ROUTED6);
    let net = Net::new(&topo, &routing);
    // No DF bit in IPv6: r1 still sends Packet Too Big instead of fragmenting.
    let p = probe(&net, "h1", "2001:db8:2::10", 1500, false);
    let t = nettwin_dataplane::trace(&net, &p);
    let e = the_end(&t);
    assert_eq!(
        (e.disposition, e.at.as_str()),
        (Disposition::DroppedByMtu, "r1")
    );
    let icmp = e.icmp.as_ref().unwrap();
    assert_eq!((icmp.icmp_type, icmp.code, icmp.mtu), (2, 0, Some(1400)));
    assert_eq!(icmp.from.to_string(), "2001:db8:1::1");
    assert!(icmp.reached_source);
    // The source may fragment (2000 -> 1496 + 560), but r1 then refuses the 1496-byte fragment.
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "2001:db8:2::10", 2000, false));
    let p0 = &t.paths()[0];
    assert_eq!(p0.0[0].fragmented[0].fragments, 2);
    assert_eq!(p0.0[1].size, 1496);
    assert_eq!(p0.1.disposition, Disposition::DroppedByMtu);
    assert_eq!(p0.1.icmp.as_ref().unwrap().icmp_type, 2);
    let r = path_mtu(&net, &p);
    assert_eq!(r.path_mtu, Some(1400));
    assert!(r.black_holes.is_empty());
}

#[test]
fn a_lost_icmp_makes_a_black_hole_too() {
    // r2 has no route back to h1's LAN, so its Packet Too Big never arrives.
    let yaml = ROUTED.replace("MIDDLE", "9000").replace(
        "  r2: {static: [{prefix: 198.18.1.0/24, nexthop: 198.19.0.0}]}",
        "  r2: {}",
    );
    let (topo, routing) = net_of(&yaml);
    let net = Net::new(&topo, &routing);
    // r1 sends 9000 bytes from its LAN address; r2 cannot route the error back to it.
    let r1 = topo.node_by_name("r1").unwrap().id;
    let probe = Probe {
        src: "198.18.1.1".parse().unwrap(),
        ..probe(&net, "r1", "198.18.2.10", 9000, true)
    };
    assert_eq!(probe.from, r1);
    let t = nettwin_dataplane::trace(&net, &probe);
    let e = the_end(&t);
    assert_eq!(
        (e.disposition, e.at.as_str()),
        (Disposition::DroppedByMtu, "r2")
    );
    let icmp = e.icmp.as_ref().unwrap();
    assert!(!icmp.reached_source);
    assert_eq!(icmp.trace.paths()[0].1.disposition, Disposition::NoRoute);
    let r = path_mtu(&net, &probe);
    assert_eq!(r.path_mtu, Some(1500));
    assert_eq!(r.black_holes.len(), 1);
    assert!(
        r.black_holes[0].reason.contains("never reached"),
        "{}",
        r.black_holes[0].reason
    );
}

#[test]
fn pmtu_from_a_vrf_starts_from_the_vrfs_route() {
    // r3 reaches r1's red loopback only in VRF blue (red's loopback leaks into blue on r1);
    // its global table has no route, so the sender's first size must come from blue's.
    let text = std::fs::read_to_string(format!(
        "{}/../../examples/vrf-lite.yml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace(
        "  vrf: blue\n  prefix: 198.18.10.0/30        # the same",
        "  vrf: blue\n  mtu: 1400\n  prefix: 198.18.10.0/30        # the same",
    );
    assert!(text.contains("mtu: 1400"));
    let (topo, routing) = net_of(&text);
    let net = Net::new(&topo, &routing);
    let r3 = topo.node_by_name("r3").unwrap();
    let blue = r3
        .interfaces
        .iter()
        .find(|i| i.vrf.is_some())
        .and_then(|i| i.ipv4)
        .unwrap()
        .addr;
    let mut p = probe(&net, "r1", "198.18.100.1", 64, true);
    p.from = r3.id;
    p.src = blue;
    let r = path_mtu(&net, &p);
    assert_eq!(r.error, None);
    assert_eq!(r.path_mtu, Some(1400));
    let l = r.limited_by.unwrap();
    assert_eq!((l.interface.as_str(), l.role), ("r3:eth1", Role::Source));
}
