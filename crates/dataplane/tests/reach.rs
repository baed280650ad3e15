//! Reachability and what-ifs: the memoised all-pairs computation agrees with tracing each pair,
//! and failure diffs match what the topology implies.

mod common;
use common::*;

use nettwin_dataplane::reach::{destinations, ReachOptions};
use nettwin_dataplane::trace::Disposition;
use nettwin_dataplane::whatif::{self, Scenario};
use nettwin_dataplane::{Net, Probe, Proto};

fn example(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Every pair's reach outcome equals the outcome of tracing that pair on every branch.
fn agrees_with_traces(yaml: &str, size: u32, ttl: u8) {
    let (topo, routing) = net_of(yaml);
    let net = Net::new(&topo, &routing);
    let r = nettwin_dataplane::reach(&net, ReachOptions { size, ttl });
    let mut checked = 0;
    for (s, d) in r.pairs() {
        let dest = r.dests[d];
        let from = r.sources[s];
        let src = match r.source_vrfs[s] {
            None => net.source_address(from, dest.addr),
            // A sender in a VRF sends from the VRF's loopback, else from one of its interfaces
            // (a socket bound to the VRF); an address another VRF reuses names the other.
            Some(k) => {
                let n = topo.node(from);
                let fam = |a: Option<nettwin_model::IfAddr>| {
                    a.map(|a| a.addr)
                        .filter(|a| a.is_ipv4() == dest.addr.is_ipv4())
                };
                let v = &n.vrfs[k as usize];
                [v.loopback.ipv4, v.loopback.ipv6]
                    .into_iter()
                    .find_map(fam)
                    .or_else(|| {
                        n.interfaces
                            .iter()
                            .filter(|i| i.vrf == Some(k))
                            .find_map(|i| fam(i.ipv4).or(fam(i.ipv6)))
                    })
                    .filter(|a| nettwin_dataplane::trace::source_vrf(n, *a) == Some(k))
            }
        };
        let Some(src) = src else {
            continue;
        };
        let p = Probe {
            from,
            src,
            dst: dest.addr,
            proto: Proto::Icmp,
            sport: 0,
            dport: 0,
            size,
            df: true,
            ttl,
            flow_hash: false,
        };
        let t = nettwin_dataplane::trace(&net, &p);
        let c = r.cell(s, d);
        assert_eq!(
            c.disposition.is_delivered(),
            t.delivered(),
            "{} -> {}: reach says {:?}, trace says {:?}",
            topo.node(from).name,
            dest.addr,
            c,
            t.dispositions()
        );
        if !t.delivered() && !c.partial {
            let (_, e) = t
                .paths()
                .into_iter()
                .find(|(_, e)| !e.disposition.is_delivered())
                .unwrap();
            assert_eq!(c.disposition, e.disposition);
            // Where a loop is entered and where TTL runs out depend on the source; the memo
            // names a node of the loop and the sender respectively.
            if !matches!(
                e.disposition,
                Disposition::LoopDetected | Disposition::TtlExceeded
            ) {
                assert_eq!(
                    topo.node(c.at).name,
                    e.at,
                    "{} -> {}",
                    topo.node(from).name,
                    dest.addr
                );
            }
        }
        checked += 1;
    }
    assert!(checked > 0);
}

#[test]
fn reach_agrees_with_traces_on_every_example() {
    for f in ["isp-dc.yml", "campus.yml", "leaf-spine.yml", "vrf-lite.yml"] {
        agrees_with_traces(&example(f), 64, 64);
        agrees_with_traces(&example(f), 1500, 64);
        agrees_with_traces(&example(f), 64, 3);
    }
}

#[test]
fn isp_dc_misses_only_other_ases_router_loopbacks_and_web2_at_full_size() {
    let (topo, routing) = net_of(&example("isp-dc.yml"));
    let net = Net::new(&topo, &routing);
    let r = nettwin_dataplane::reach(&net, ReachOptions::default());
    let sum = r.summary();
    // 15 IP nodes (17 less two switches); every node has an IPv4 and an IPv6 address to reach.
    assert_eq!((sum.sources, sum.destinations), (15, 30));
    assert_eq!(sum.pairs, 15 * 30 - 30);
    // A router's loopback goes into iBGP with itself as next hop, which no router accepts (it
    // would resolve through its own prefix; FRR agrees, see `nettwin emu verify`), so other ASes
    // never learn it: the only failures are router loopbacks seen from outside their AS.
    let asn = |name: &str| topo.node_by_name(name).unwrap().asn;
    let failed = r.failures(&topo);
    assert_eq!(failed.len(), 122);
    for f in &failed {
        assert_eq!(f.disposition.name(), "no-route", "{f:?}");
        let dst = topo.node_by_name(&f.to_node).unwrap();
        assert!(dst.kind.forwards_ip(), "{f:?}");
        assert_ne!(asn(&f.from), dst.asn, "{f:?}");
    }
    // At 1500 bytes with DF, web2 (behind the 1400 bridge port) neither sends nor receives:
    // 56 pairs to or from it die of MTU (6 of them had no route anyway).
    let r = nettwin_dataplane::reach(
        &net,
        ReachOptions {
            size: 1500,
            ttl: 64,
        },
    );
    let failed = r.failures(&topo);
    let mtu: Vec<_> = failed
        .iter()
        .filter(|f| f.disposition.name() == "dropped-by-mtu")
        .collect();
    assert_eq!(mtu.len(), 56);
    assert_eq!(failed.len(), 122 - 6 + 56);
    for f in &mtu {
        assert!(f.from == "web2" || f.to_node == "web2", "{f:?}");
        assert!(f.at == "web2" || f.at == "sw1", "{f:?}");
    }
}

#[test]
fn destinations_are_loopbacks_of_routers_and_addresses_of_hosts() {
    let (topo, _) = net_of(&example("campus.yml"));
    let d = destinations(&topo);
    let names: Vec<&str> = d.iter().map(|x| topo.node(x.node).name.as_str()).collect();
    // Routers core1/core2/dist1/isp1/isp2 have loopbacks; pc1-3 and the printer one address.
    assert_eq!(names.len(), 9);
    assert!(d.iter().all(|x| x.addr.is_ipv4()));
    assert!(!names.contains(&"access1"));
}

const FOUR: &str = "
name: four
module: [ospf]
addressing:
  p2p: {ipv4: 198.19.0.0/24}
nodes:
  r1: {loopback: 198.18.0.1/32}
  r2: {loopback: 198.18.0.2/32}
  r3: {loopback: 198.18.0.3/32}
  r4: {loopback: 198.18.0.4/32}
links:
  - [r1, r2]
  - [r1, r3]
  - [r2, r3]
  - [r3, r4]
";

#[test]
fn whatif_a_redundant_link_moves_paths_and_loses_nothing() {
    let (topo, _) = net_of(FOUR);
    let link = topo.link_by_name("r1-r2").unwrap().id;
    let sc = Scenario {
        links_down: vec![link],
        ..Scenario::default()
    };
    let r = whatif::whatif(&topo, &sc, ReachOptions::default()).unwrap();
    assert_eq!(r.before.pairs, 12);
    assert!(r.lost.is_empty() && r.gained.is_empty());
    // Only r1 <-> r2 change path (now through r3); r1 and r2 reach r3 and r4 as before.
    let mut moved: Vec<(String, String)> = r
        .moved
        .iter()
        .map(|m| (m.from.clone(), m.to_node.clone()))
        .collect();
    moved.sort();
    assert_eq!(
        moved,
        vec![("r1".into(), "r2".into()), ("r2".into(), "r1".into())]
    );
    let at_r1: Vec<_> = r
        .routes
        .changes
        .iter()
        .filter(|c| c.node == "r1" && c.prefix.to_string() == "198.18.0.2/32")
        .collect();
    assert_eq!(at_r1.len(), 1);
    assert_eq!(at_r1[0].change, "changed");
}

#[test]
fn whatif_a_bridge_link_loses_the_pairs_behind_it() {
    let (topo, _) = net_of(FOUR);
    let sc = Scenario {
        links_down: vec![topo.link_by_name("r3-r4").unwrap().id],
        ..Scenario::default()
    };
    let r = whatif::whatif(&topo, &sc, ReachOptions::default()).unwrap();
    // r4 <-> r1, r2, r3 in both directions.
    assert_eq!(r.lost.len(), 6);
    assert!(r.lost.iter().all(|p| p.from == "r4" || p.to_node == "r4"));
    assert!(r.lost.iter().all(|p| p.disposition.name() == "no-route"));
}

#[test]
fn whatif_mtu_change_breaks_full_size_pairs() {
    let (topo, _) = net_of(FOUR);
    let sc = Scenario {
        mtu: vec![(topo.link_by_name("r3-r4").unwrap().id, 1400)],
        ..Scenario::default()
    };
    let r = whatif::whatif(
        &topo,
        &sc,
        ReachOptions {
            size: 1500,
            ttl: 64,
        },
    )
    .unwrap();
    assert_eq!(r.routes.changes.len(), 0, "MTU does not change routes");
    assert_eq!(r.lost.len(), 6);
    assert!(r
        .lost
        .iter()
        .all(|p| p.disposition.name() == "dropped-by-mtu"));
}

#[test]
fn single_failures_rank_the_cut_link_first() {
    let (topo, _) = net_of(FOUR);
    let ranking = whatif::single_failures(&topo, ReachOptions::default()).unwrap();
    assert_eq!(ranking.len(), 4 + 4);
    assert_eq!(
        (
            ranking[0].kind,
            ranking[0].name.as_str(),
            ranking[0].pairs_lost
        ),
        ("link", "r3-r4", 6)
    );
    // r3 down isolates r4 from r1 and r2 (pairs with r3 itself are not counted).
    assert_eq!(
        (
            ranking[1].kind,
            ranking[1].name.as_str(),
            ranking[1].pairs_lost
        ),
        ("node", "r3", 4)
    );
    assert!(ranking[2..].iter().all(|i| i.pairs_lost == 0));
}

/// r1 and r2 point r3's loopback at each other; r3 has no routes back at all.
const LOOPY: &str = "
name: loopy
nodes:
  r1: {loopback: 198.18.0.1/32, static: [{prefix: 198.18.0.3/32, nexthop: 198.19.0.1}]}
  r2: {loopback: 198.18.0.2/32, static: [{prefix: 198.18.0.3/32, nexthop: 198.19.0.0}]}
  r3: {loopback: 198.18.0.3/32}
links:
  - {r1: {ipv4: 198.19.0.0/31}, r2: {ipv4: 198.19.0.1/31}}
  - {r2: {ipv4: 198.19.0.2/31}, r3: {ipv4: 198.19.0.3/31}}
";

#[test]
fn loops_ttl_and_missing_routes_agree_with_traces() {
    agrees_with_traces(LOOPY, 64, 64);
    agrees_with_traces(FOUR, 64, 1);
    agrees_with_traces(FOUR, 64, 2);
    let (topo, routing) = net_of(LOOPY);
    let net = Net::new(&topo, &routing);
    let r = nettwin_dataplane::reach(&net, ReachOptions::default());
    let f = r.failures(&topo);
    let loops: Vec<(&str, &str)> = f
        .iter()
        .filter(|p| p.disposition.name() == "loop-detected")
        .map(|p| (p.from.as_str(), p.to_node.as_str()))
        .collect();
    assert_eq!(loops, vec![("r1", "r3"), ("r2", "r3")]);
    // TTL 1: only directly attached loopbacks are reachable in FOUR (no router may forward).
    let (topo, routing) = net_of(FOUR);
    let net = Net::new(&topo, &routing);
    let r = nettwin_dataplane::reach(&net, ReachOptions { size: 64, ttl: 1 });
    let ttl: Vec<(String, String)> = r
        .failures(&topo)
        .into_iter()
        .map(|p| (p.from, p.to_node))
        .collect();
    let want: Vec<(String, String)> = [("r4", "r1"), ("r4", "r2"), ("r1", "r4"), ("r2", "r4")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let mut got = ttl.clone();
    got.sort();
    let mut w = want.clone();
    w.sort();
    assert_eq!(got, w);
}

#[test]
fn vrf_sources_and_destinations_use_their_tables() {
    let (topo, routing) = net_of(&example("vrf-lite.yml"));
    let net = Net::new(&topo, &routing);
    let r = nettwin_dataplane::reach(&net, ReachOptions::default());
    let names: Vec<String> = (0..r.sources.len())
        .map(|s| r.source_name(&topo, s))
        .collect();
    assert_eq!(
        names,
        [
            "r1",
            "r1 vrf red",
            "r1 vrf blue",
            "r2",
            "r2 vrf red",
            "r3",
            "r3 vrf blue"
        ]
    );
    let at = |from: &str, to: &str| {
        let s = names.iter().position(|n| n == from).unwrap();
        let to: std::net::IpAddr = to.parse().unwrap();
        let d = r.dests.iter().position(|d| d.addr == to).unwrap();
        r.cell(s, d).disposition
    };
    // r2's red loopback is reached from r1's red table over red's OSPF, not from r1's global
    // table (which has no route to it).
    assert_eq!(at("r1 vrf red", "198.18.100.2"), Disposition::Delivered);
    assert_eq!(at("r1", "198.18.100.2"), Disposition::NoRoute);
    // r1's red loopback leaks into blue, so r3's blue table reaches it through r1; red's
    // r2 loopback does not leak (it is an OSPF route of red, and red's BGP is off).
    assert_eq!(at("r3 vrf blue", "198.18.100.1"), Disposition::Delivered);
    assert_eq!(at("r3 vrf blue", "198.18.100.2"), Disposition::NoRoute);
    // A VRF loopback is a destination in its VRF only.
    let d = r
        .dests
        .iter()
        .find(|d| d.addr.to_string() == "198.18.100.1")
        .unwrap();
    assert_eq!(d.vrf, Some(0));
}
