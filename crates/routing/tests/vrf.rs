//! VRF-lite: one routing table per (router, VRF), OSPF and eBGP per VRF, and leaking between
//! the VRFs of one router by route targets (`examples/vrf-lite.yml`).

use nettwin_model::{load_file, Topology};
use nettwin_routing::{compute, Action, Routing};

fn lab() -> (Topology, Routing) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/vrf-lite.yml");
    let topo = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let r = compute(&topo).unwrap_or_else(|e| panic!("{e}"));
    (topo, r)
}

/// `CODE PREFIX via` lines of one VRF's table (`None`: global), connected and local left out.
fn table(topo: &Topology, r: &Routing, node: &str, vrf: Option<&str>) -> Vec<String> {
    let n = topo.node_by_name(node).unwrap();
    let k = vrf.map(|v| n.vrf(v).unwrap());
    r.fib_in(n.id, k)
        .routes()
        .iter()
        .filter(|x| !matches!(x.protocol.code(), "C" | "L"))
        .map(|x| {
            let via = match x.action {
                Action::Receive => "receive".to_string(),
                Action::Discard => "discard".to_string(),
                Action::Forward { next_hops } => next_hops
                    .iter()
                    .map(|h| {
                        let i = &n.interfaces[h.interface as usize];
                        let vrf = i.vrf.map_or("global", |v| n.vrfs[v as usize].name.as_str());
                        format!(
                            "{}@{}({vrf})",
                            h.address.map(|a| a.to_string()).unwrap_or("direct".into()),
                            i.name
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            format!("{} {} {via}", x.protocol.code(), x.prefix)
        })
        .collect()
}

#[test]
fn each_vrf_has_its_own_table_and_protocols() {
    let (t, r) = lab();
    // red runs OSPF only: r2's red loopback, not blue's or the global table's routes.
    assert_eq!(
        table(&t, &r, "r1", Some("red")),
        vec!["O 198.18.100.2/32 198.18.10.2@eth1(red)"]
    );
    assert_eq!(
        table(&t, &r, "r2", Some("red")),
        vec![
            "O 198.18.20.0/24 198.18.10.1@eth1(red)",
            "O 198.18.100.1/32 198.18.10.1@eth1(red)"
        ]
    );
    // blue runs eBGP only; r1's red loopback leaked from red is received locally.
    assert_eq!(
        table(&t, &r, "r1", Some("blue")),
        vec!["B 198.18.100.1/32 receive"]
    );
    // r3 learns r1's blue stub LAN and the leaked prefix over eBGP in blue.
    assert_eq!(
        table(&t, &r, "r3", Some("blue")),
        vec![
            "B 198.18.20.0/24 198.18.10.1@eth1(blue)",
            "B 198.18.100.1/32 198.18.10.1@eth1(blue)"
        ]
    );
    // The global table knows nothing of the VRFs.
    let global = table(&t, &r, "r1", None);
    assert!(
        global
            .iter()
            .all(|l| !l.contains("198.18.10.") && !l.contains("198.18.20.")),
        "{global:?}"
    );
    assert!(
        global.iter().any(|l| l.starts_with("O 198.18.0.2/32")),
        "{global:?}"
    );
}

#[test]
fn the_overlapping_subnet_is_connected_in_both_vrfs() {
    let (t, r) = lab();
    let n = t.node_by_name("r1").unwrap();
    for vrf in ["red", "blue"] {
        let k = n.vrf(vrf);
        let route = r
            .fib_in(n.id, k)
            .lookup("198.18.10.2".parse().unwrap())
            .unwrap();
        let hop = route.next_hops()[0];
        assert_eq!(n.interfaces[hop.interface as usize].vrf, k, "{vrf}");
    }
}

#[test]
fn a_vrfs_ospf_routes_are_announced_by_its_bgp_and_vrf_lite_ends_can_be_global() {
    // r1's VRF red runs OSPF with r2 (one AS) and eBGP with r3, whose end is in r3's global
    // table (VRF-lite): netlab redistributes red's OSPF routes into red's BGP.
    let text = "module: [vrf, ospf, bgp]
addressing:
  loopback: {ipv4: 198.18.0.0/24}
  router_id: {ipv4: 198.18.0.0/24}
  p2p: {ipv4: 198.18.1.0/24}
  lan: {ipv4: 198.18.2.0/24}
vrfs:
  red:
nodes:
  r1: {bgp.as: 65001}
  r2: {bgp.as: 65001, vrfs: {red: {loopback: 198.18.100.2}}}
  r3: {bgp.as: 65003}
links:
- {r1: , r2: , vrf: red}
- {r1: {vrf: red}, r3: }
";
    let topo = nettwin_model::load_str("t.yml", text).unwrap_or_else(|e| panic!("{e}"));
    let r = compute(&topo).unwrap_or_else(|e| panic!("{e}"));
    // r3's global loopback reaches r1's red table over the eBGP session in red.
    assert_eq!(
        table(&topo, &r, "r1", Some("red")),
        vec![
            "B 198.18.0.3/32 198.18.1.6@eth2(red)",
            "O 198.18.100.2/32 198.18.1.2@eth1(red)"
        ]
    );
    let r3 = table(&topo, &r, "r3", None);
    assert!(
        r3.contains(&"B 198.18.100.2/32 198.18.1.5@eth1(global)".to_string()),
        "{r3:?}"
    );
    // r1's global table has neither.
    let g = table(&topo, &r, "r1", None);
    assert!(
        g.iter()
            .all(|l| !l.contains("198.18.100.2") && !l.contains("198.18.0.3/32")),
        "{g:?}"
    );
}

#[test]
fn a_leaked_bgp_route_keeps_its_as_path_from_the_source_vrf() {
    // r1's red has eBGP with r2 (AS 65002), blue eBGP with r3 (AS 65003), and blue imports red.
    // FRR's vpn_leak_to_vrf_update copies the path's attributes into blue (the source VRF's AS
    // is prepended only when the VRFs' ASes differ, never here), so blue announces r2's
    // loopback to r3 as 65001 65002.
    let text = "module: [vrf, bgp]
addressing:
  loopback: {ipv4: 198.18.0.0/24}
  router_id: {ipv4: 198.18.0.0/24}
  p2p: {ipv4: 198.18.1.0/24}
vrfs:
  red:
  blue:
nodes:
  r1: {bgp.as: 65001, vrfs: {blue: {import: [blue, red]}}}
  r2: {bgp.as: 65002, vrfs: {red: {loopback: 198.18.100.2}}}
  r3: {bgp.as: 65003}
links:
- {r1: , r2: , vrf: red}
- {r1: , r3: , vrf: blue}
";
    let topo = nettwin_model::load_str("t.yml", text).unwrap_or_else(|e| panic!("{e}"));
    let r = compute(&topo).unwrap_or_else(|e| panic!("{e}"));
    let path_at = |node: &str, vrf: &str| {
        let n = topo.node_by_name(node).unwrap();
        let id = r.instance(n.id, n.vrf(vrf));
        let p: nettwin_model::Prefix = "198.18.100.2/32".parse().unwrap();
        r.bgp_paths(id, &p)
            .into_iter()
            .find(|b| b.best)
            .map(|b| b.attrs.as_path.clone())
    };
    assert_eq!(path_at("r1", "red"), Some(vec![65002]));
    // The leaked copy in r1's blue BGP table has red's path, not an empty one.
    assert_eq!(path_at("r1", "blue"), Some(vec![65002]));
    assert_eq!(path_at("r3", "blue"), Some(vec![65001, 65002]));
}
