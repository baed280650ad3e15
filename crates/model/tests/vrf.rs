//! netlab's vrf module: the labs of netlab's own transformation tests
//! (`tests/topology/input/vrf*.yml`), with the values `tests/topology/expected/vrf*.yml` pin.

use nettwin_model::*;

fn load(text: &str) -> Topology {
    load_str("t.yml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn errors(text: &str) -> Vec<String> {
    match load_str("t.yml", text) {
        Ok(_) => panic!("expected errors"),
        Err(LoadError::Invalid(d)) => d.iter().map(|x| x.to_string()).collect(),
        Err(e) => panic!("{e}"),
    }
}

/// (name, id, table, rd, import, export, loopback) of a node's VRFs, in the node's order.
fn vrfs(t: &Topology, node: &str) -> Vec<(String, u32, u32, String, String, String, String)> {
    t.node_by_name(node)
        .unwrap()
        .vrfs
        .iter()
        .map(|v| {
            (
                v.name.clone(),
                v.id,
                v.table,
                v.rd.clone(),
                v.import.join(" "),
                v.export.join(" "),
                v.loopback.ipv4.map(|a| a.to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

fn if_vrf(t: &Topology, node: &str) -> Vec<(String, Option<String>)> {
    let n = t.node_by_name(node).unwrap();
    n.interfaces
        .iter()
        .map(|i| {
            (
                i.ipv4.map(|a| a.to_string()).unwrap_or_default(),
                i.vrf.map(|v| n.vrfs[v as usize].name.clone()),
            )
        })
        .collect()
}

fn v(
    name: &str,
    id: u32,
    table: u32,
    rd: &str,
    import: &str,
    export: &str,
    lb: &str,
) -> (String, u32, u32, String, String, String, String) {
    (
        name.into(),
        id,
        table,
        rd.into(),
        import.into(),
        export.into(),
        lb.into(),
    )
}

/// netlab's `tests/topology/input/vrf.yml`, as written.
const VRF: &str = "defaults.device: none
provider: clab

module: [vrf, bgp, ospf]
bgp.as: 65000

defaults.ospf.warnings.inactive: False

vrfs:
  red:
  blue:

nodes:
  r1:
    vrf.loopback: true
  r2:
    bgp.as: 65001
    vrfs:
      green:
      red:
        rd:
      black:
        import: '65303:3'
        loopback:
          ipv4: 10.0.0.1
  r3:
    module: [vrf, ospf]
    vrfs:
      yellow:
        rd: 1
      orange:
        rd: '65101:2'
        export: []
        loopback:

links:
- r1:
    vrf: red
  r2:
  prefix:
    ipv4: 10.42.1.0/24
    ipv6: 2001:db8:cafe::/64
- r1:
    vrf: blue
  r3:
- r3:
    vrf: yellow
- r2:
    vrf: black
";

#[test]
fn ids_rds_route_targets_tables_and_loopbacks_are_netlabs() {
    let t = load(VRF);
    // `rd: 1` on r3 takes 65000:1 first, so the global red gets id 2 (expected/vrf.yml).
    assert_eq!(
        vrfs(&t, "r1"),
        vec![
            v(
                "red",
                2,
                100,
                "65000:2",
                "65000:2",
                "65000:2",
                "10.2.0.1/32"
            ),
            v(
                "blue",
                3,
                101,
                "65000:3",
                "65000:3",
                "65000:3",
                "10.2.0.2/32"
            ),
        ]
    );
    assert_eq!(
        vrfs(&t, "r2"),
        vec![
            v("green", 4, 101, "65001:4", "65001:4", "65001:4", ""),
            v("red", 2, 100, "65000:2", "65000:2", "65000:2", ""),
            v(
                "black",
                5,
                102,
                "65001:5",
                "65303:3",
                "65001:5",
                "10.0.0.1/32"
            ),
        ]
    );
    assert_eq!(
        vrfs(&t, "r3"),
        vec![
            v("yellow", 6, 100, "65000:1", "65000:1", "65000:1", ""),
            v("orange", 7, 101, "65101:2", "65101:2", "", ""),
        ]
    );
    assert_eq!(
        if_vrf(&t, "r1"),
        vec![
            ("10.42.1.1/24".into(), Some("red".into())),
            ("10.1.0.1/30".into(), Some("blue".into()))
        ]
    );
    // The far ends of VRF-lite links stay in the global table.
    assert_eq!(
        if_vrf(&t, "r3"),
        vec![
            ("10.1.0.2/30".into(), None),
            ("172.16.0.3/24".into(), Some("yellow".into()))
        ]
    );
    assert!(t.node_by_name("r2").unwrap().vrfs[2].leaks());
    assert!(!t.node_by_name("r1").unwrap().vrfs[0].leaks());
}

#[test]
fn vrf_links_are_appended_after_the_others() {
    // netlab's vrf-links.yml without its `type: loopback` links (nettwin has no loopback links).
    let t = load(
        "module: [vrf, bgp, ospf]
bgp.as: 65000
vrfs:
  red:
    links:
    - r1-r2
    - r2-r3
  blue:
    links:
    - r1-r3
nodes: [r1, r2, r3]
",
    );
    assert_eq!(
        if_vrf(&t, "r1"),
        vec![
            ("10.1.0.1/30".into(), Some("red".into())),
            ("10.1.0.9/30".into(), Some("blue".into()))
        ]
    );
    assert_eq!(
        if_vrf(&t, "r2"),
        vec![
            ("10.1.0.2/30".into(), Some("red".into())),
            ("10.1.0.5/30".into(), Some("red".into()))
        ]
    );
    assert_eq!(vrfs(&t, "r3")[0].0, "red");
}

#[test]
fn node_vrfs_with_only_loopbacks_are_kept() {
    // netlab's vrf-loopback.yml.
    let t = load(
        "defaults:
  device: eos
module: [vrf]
vrfs:
  red:
  blue:
vrf.loopback: true
nodes:
  r1:
    vrfs:
      red:
      blue:
",
    );
    assert_eq!(
        vrfs(&t, "r1"),
        vec![
            v(
                "red",
                1,
                100,
                "65000:1",
                "65000:1",
                "65000:1",
                "10.2.0.1/32"
            ),
            v(
                "blue",
                2,
                101,
                "65000:2",
                "65000:2",
                "65000:2",
                "10.2.0.2/32"
            ),
        ]
    );
}

#[test]
fn a_global_vrf_without_interfaces_on_a_node_is_not_there() {
    let t = load(
        "module: [vrf]\nvrfs: {red: , blue: }\nnodes: [r1, r2]\nlinks:\n- {r1: {vrf: red}, r2: }\n",
    );
    assert_eq!(vrfs(&t, "r1").len(), 1);
    assert!(t.node_by_name("r2").unwrap().vrfs.is_empty());
}

#[test]
fn route_targets_by_vrf_name_and_integer() {
    // The common-services example of netlab's docs/module/vrf.md.
    let t = load(
        "module: [vrf]
vrf.as: 65100
vrfs:
  red: {import: [red, common], export: [red]}
  blue: {import: [blue, common], export: [blue]}
  common: {import: [common, red, blue], export: [common], rd: 7}
nodes: [r1]
links:
- {r1: {vrf: red}}
- {r1: {vrf: blue}}
- {r1: {vrf: common}}
",
    );
    assert_eq!(
        vrfs(&t, "r1"),
        vec![
            v("red", 1, 100, "65100:1", "65100:1 65100:7", "65100:1", ""),
            v("blue", 2, 101, "65100:2", "65100:2 65100:7", "65100:2", ""),
            v(
                "common",
                3,
                102,
                "65100:7",
                "65100:7 65100:1 65100:2",
                "65100:7",
                ""
            ),
        ]
    );
}

#[test]
fn mistakes_are_named_with_their_place() {
    let e = errors("module: [vrf]\nvrfs: {red: }\nnodes: [r1]\nlinks:\n- {r1: {vrf: rde}}\n");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].contains("t.yml:5:14: VRF rde used on an interface in r1 is not defined in the node or globally (did you mean `red`?)"),
        "{}",
        e[0]
    );
    let e = errors("module: [vrf]\nvrfs: {mgmt: , red: {rd: 'x:y', imports: [1]}}\nnodes: [r1]\n");
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(e[0].contains("VRF name `mgmt` is reserved"), "{}", e[0]);
    assert!(e[1].contains("(x:y) is not in N:N format"), "{}", e[1]);
    assert!(
        e[2].contains("unknown VRF attribute `imports` (did you mean `import`?)"),
        "{}",
        e[2]
    );
    let e = errors("module: [ospf]\nvrfs: {red: }\nnodes: [r1]\nlinks: [{r1: {vrf: red}}]\n");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].contains("node r1 uses VRFs but does not run netlab's vrf module"),
        "{}",
        e[0]
    );
    let e = errors("module: [vrf, bgp]\nbgp: {as: 1, vpnv4: true}\nvrfs: {red: }\nnodes: [r1]\n");
    assert!(
        e[0].contains("MPLS/VPN is not modelled by nettwin"),
        "{e:#?}"
    );
}

#[test]
fn a_links_vrf_reaches_only_nodes_running_the_vrf_module() {
    // netlab's docs: a host on a VRF link keeps its interface in its global table.
    let t = load(
        "module: [vrf]\nvrfs: {red: }\nnodes: {r1: , h1: {device: linux}}\nlinks:\n- {r1: , h1: , vrf: red}\n",
    );
    assert_eq!(if_vrf(&t, "r1")[0].1.as_deref(), Some("red"));
    assert_eq!(if_vrf(&t, "h1")[0].1, None);
    assert!(t.node_by_name("h1").unwrap().vrfs.is_empty());
}
