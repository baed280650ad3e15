//! Traces over VLANs: frames cross only ports of their VLAN, trunks carry them tagged, SVIs
//! route between VLANs, routed subinterfaces tag their frames.

mod common;

use common::{net_of, probe};
use nettwin_dataplane::trace::BridgeHop;
use nettwin_dataplane::{Disposition, Net};

fn example() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/vlan.yml"
    ))
    .unwrap()
}

/// Each hop's node, and the bridges its ARP/ND crossed as `switch:in[tag]>out[tag]`.
fn hops(t: &nettwin_dataplane::Trace) -> Vec<(String, Vec<String>, Option<u16>)> {
    let (path, _) = t.paths().into_iter().next().unwrap();
    path.iter()
        .map(|h| {
            let port = |p: &str, tag: Option<u16>| match tag {
                Some(t) => format!("{p}[{t}]"),
                None => p.to_string(),
            };
            let bridges = h
                .resolution
                .as_ref()
                .map(|r| {
                    r.bridges
                        .iter()
                        .map(|b: &BridgeHop| {
                            format!(
                                "{}:{}>{}",
                                b.switch,
                                port(&b.in_port, b.in_tag),
                                port(&b.out_port, b.out_tag)
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            (
                h.node.clone(),
                bridges,
                h.resolution.as_ref().and_then(|r| r.tag),
            )
        })
        .collect()
}

#[test]
fn same_vlan_crosses_the_trunk_tagged() {
    let (topo, routing) = net_of(&example());
    let net = Net::new(&topo, &routing);
    // h1 and h3 are in red (1000), on two switches joined by the trunk.
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.19.0.7", 64, false));
    assert!(t.delivered());
    let h = hops(&t);
    assert_eq!(
        h[0].1,
        ["s1:eth2>eth1[1000]", "s2:eth1[1000]>eth2"],
        "access port untagged, trunk tagged 1000"
    );
    assert_eq!(h.len(), 2, "no router between hosts of one VLAN");
}

#[test]
fn inter_vlan_traffic_is_routed_by_the_svi() {
    let (topo, routing) = net_of(&example());
    let net = Net::new(&topo, &routing);
    // h1 (red) to h4 (blue): up to r1's vlan1000 tagged 1000, out of vlan20 tagged 20.
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.19.1.8", 64, false));
    assert!(t.delivered());
    let h = hops(&t);
    let nodes: Vec<&str> = h.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(nodes, ["h1", "r1", "h4"]);
    assert_eq!(
        h[0].1,
        [
            "s1:eth2>eth1[1000]",
            "s2:eth1[1000]>eth4[1000]",
            "r1:eth1[1000]>vlan1000"
        ]
    );
    assert_eq!(h[1].1, ["r1:vlan20>eth1[20]", "s2:eth4[20]>eth3"]);
    // Beyond the SVI, a routed subinterface tags its frames itself.
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", "198.19.2.9", 64, false));
    assert!(t.delivered());
    let h = hops(&t);
    assert_eq!(h[1].0, "r1");
    assert_eq!(h[1].2, Some(1001), "r1 out eth2.1001 tagged 1001");
    assert!(
        h[1].1.is_empty(),
        "subinterface to subinterface: one wire, no bridge"
    );
}

#[test]
fn a_vlan_never_leaks_onto_a_trunk_that_does_not_carry_it() {
    // The trunk carries blue only: h1 and h3 share red's subnet but no layer-2 path.
    let lab = "defaults.device: frr
vlans: {red: {}, blue: {}}
nodes:
  s1: {module: [vlan]}
  s2: {module: [vlan]}
  h1: {device: linux}
  h3: {device: linux}
links:
- {s1: {}, s2: {}, vlan.trunk: [blue]}
- {h1: {}, s1: {vlan.access: red}}
- {h3: {}, s2: {vlan.access: red}}
";
    let (topo, routing) = net_of(lab);
    let net = Net::new(&topo, &routing);
    let h3 = topo.node_by_name("h3").unwrap().interfaces[0].ipv4.unwrap();
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", &h3.addr.to_string(), 64, false));
    let (_, end) = t.paths().into_iter().next().unwrap();
    assert_eq!(end.disposition, Disposition::UnreachableNeighbour);
    assert!(
        end.detail.contains("no bridge path to h3:eth1"),
        "{}",
        end.detail
    );
    // Carrying red as well, the same frame gets there tagged.
    let lab = lab.replace("vlan.trunk: [blue]", "vlan.trunk: [blue, red]");
    let (topo, routing) = net_of(&lab);
    let net = Net::new(&topo, &routing);
    let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", &h3.addr.to_string(), 64, false));
    assert!(t.delivered());
    assert_eq!(hops(&t)[0].1, ["s1:eth2>eth1[1000]", "s2:eth1[1000]>eth2"]);
}

#[test]
fn the_tag_does_not_count_against_the_mtu() {
    // Linux carries the tag outside the MTU (docs/mtu.md): a 1500-byte DF packet crosses
    // 1500-byte trunks and subinterfaces.
    let (topo, routing) = net_of(&example());
    let net = Net::new(&topo, &routing);
    for to in ["198.19.0.7", "198.19.1.8", "198.19.2.9"] {
        let t = nettwin_dataplane::trace(&net, &probe(&net, "h1", to, 1500, true));
        assert!(t.delivered(), "h1 -> {to}");
    }
}
