//! Traces through TE tunnels: an SR-TE policy's SID list pushed at the head-end (two labels,
//! 8 bytes on the wire), label by label to the tail, and MTU with those labels.

mod common;
use common::*;

use nettwin_dataplane::trace::Disposition;
use nettwin_dataplane::{path_mtu, Net};

/// pe1-p1-pe2 is the IGP path (cost 20); the SR policy to pe2 is pinned to pe1-p3-p4-pe2,
/// where the IGP path to p4 is the policy's: SID list p4's node SID, then pe2's, with
/// autoroute so IP traffic to pe2's loopback (198.18.0.5) takes it.
fn lab(mtu: u32) -> (nettwin_model::Topology, nettwin_routing::Routing) {
    let text = format!(
        "module: [isis, mpls, sr]
defaults.platform: cisco-xr
nodes:
  pe1:
    mpls.te.tunnels.c100: {{type: sr, to: pe2, color: 100, autoroute: true, paths: [{{explicit: [p3, p4]}}]}}
  p1:
  p3:
  p4:
  pe2:
links:
- pe1-p1
- p1-pe2
- {{pe1: {{}}, p3: {{}}, mtu: {mtu}}}
- {{p3: {{}}, p4: {{}}, mtu: {mtu}}}
- p4-pe2
"
    );
    net_of(&nettwin_model::generate::with_benchmark_pools(&text))
}

/// Each hop as `node:op[in]->[out]`.
fn hops(t: &nettwin_dataplane::trace::Trace) -> Vec<String> {
    t.paths()[0]
        .0
        .iter()
        .map(|h| match &h.labels {
            Some(l) => format!(
                "{}:{}{:?}->{:?}",
                h.node,
                l.op.name(),
                l.in_stack,
                l.out_stack
            ),
            None => format!("{}:ip", h.node),
        })
        .collect()
}

#[test]
fn sr_policy_sid_list_hop_by_hop_and_its_mtu() {
    let (topo, routing) = lab(1508);
    let net = Net::new(&topo, &routing);
    let p = probe(&net, "pe1", "198.18.0.5", 1500, true);
    let t = nettwin_dataplane::trace(&net, &p);
    assert_eq!(t.dispositions(), vec![Disposition::Delivered]);
    assert_eq!(
        hops(&t),
        vec![
            "pe1:push[]->[16004, 16005]",
            "p3:pop[16004, 16005]->[16005]",
            "p4:pop[16005]->[]",
            "pe2:ip"
        ]
    );
    // 1500 bytes and two labels are 1508 on pe1-p3: a 1506 link makes the head-end refuse it,
    // reporting 1498 (the link less both labels), and PMTUD settles there.
    let (topo, routing) = lab(1506);
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &p);
    let e = t.paths()[0].1;
    assert_eq!(
        (e.disposition, e.at.as_str()),
        (Disposition::DroppedByMtu, "pe1"),
        "{}",
        e.detail
    );
    assert_eq!(path_mtu(&net, &p).path_mtu, Some(1498));
}

/// `whatif --fail p3-p4` with tunnels: t1 is pinned to p3-p4 with a dynamic secondary, so
/// CSPF moves it to pe1-p1-pe2; t3 has only the pinned path and goes down, and the prefixes
/// it carried by autoroute fall back to LDP over the IGP.
#[test]
fn failing_a_link_reroutes_or_downs_tunnels_and_moves_prefixes() {
    let text = "module: [isis, mpls]
defaults.platform: cisco-xr
nodes:
  pe1:
    mpls.te.tunnels:
      t1: {to: pe2, paths: [{explicit: [p3, p4]}, {dynamic: true}]}
      t3: {to: p4, autoroute: true, paths: [{explicit: [p3, p4]}]}
  p1:
  p3:
  p4:
  pe2:
links: [pe1-p1, p1-pe2, pe1-p3, p3-p4, p4-pe2]
";
    let topo = nettwin_model::load_str(
        "t.yml",
        &nettwin_model::generate::with_benchmark_pools(text),
    )
    .unwrap();
    let sc = nettwin_dataplane::whatif::Scenario {
        links_down: vec![topo.link_by_name("p3-p4").unwrap().id],
        ..Default::default()
    };
    let r = nettwin_dataplane::whatif::whatif(&topo, &sc, Default::default()).unwrap();
    let tunnels: Vec<String> =
        r.te.tunnels
            .iter()
            .map(|t| format!("{} {}: {} => {}", t.head, t.tunnel, t.before, t.after))
            .collect();
    assert_eq!(
        tunnels,
        vec![
            "pe1 t1: up, path option 1: pe1 p3 p4 pe2 => up, path option 2: pe1 p1 pe2",
            "pe1 t3: up, path option 1: pe1 p3 p4 => down: path option 1: strict hop p4: no link from p3 meets the constraints",
        ]
    );
    let moved: Vec<String> =
        r.te.moved
            .iter()
            .map(|m| format!("{} {}: {} => {}", m.node, m.prefix, m.before, m.after))
            .collect();
    assert!(
        moved.contains(&"pe1 198.18.0.4/32: tunnel t3 => ldp LSP to 198.18.0.4/32".to_string()),
        "{moved:#?}"
    );
}
