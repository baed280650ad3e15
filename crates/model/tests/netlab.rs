//! netlab's topology format read as netlab reads it. Expected addresses are what `netlab create`
//! (networklab 2.x) writes for the same labs.

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

fn if4(t: &Topology, node: &str, i: usize) -> String {
    let n = t.node_by_name(node).unwrap();
    n.interfaces[i]
        .ipv4
        .map(|a| a.to_string())
        .unwrap_or_default()
}

fn if6(t: &Topology, node: &str, i: usize) -> String {
    let n = t.node_by_name(node).unwrap();
    n.interfaces[i]
        .ipv6
        .map(|a| a.to_string())
        .unwrap_or_default()
}

fn lo(t: &Topology, node: &str) -> (String, String) {
    let l = t.node_by_name(node).unwrap().loopback;
    (
        l.ipv4.map(|a| a.to_string()).unwrap_or_default(),
        l.ipv6.map(|a| a.to_string()).unwrap_or_default(),
    )
}

/// The lab of `netlab create` run 1: p2p ends sorted by name, LAN host parts from node ids, a
/// router-to-host link is a LAN, a stub link, an unnumbered link, IPv6 loopbacks as netlab
/// writes them.
const LAB1: &str = "defaults.device: frr
provider: clab
nodes: { b: , a: , h: {device: linux} }
addressing.loopback.ipv6: 2001:db8::/48
addressing.p2p.ipv6: 2001:db8:1::/48
links:
- b-a
- a-h
- [a, b, h]
- a:
- b:
  a:
  prefix: {ipv4: true}
";

#[test]
fn addresses_are_netlabs() {
    let t = load(LAB1);
    assert_eq!(
        lo(&t, "b"),
        ("10.0.0.1/32".into(), "2001:db8:0:1::1/64".into())
    );
    assert_eq!(
        lo(&t, "a"),
        ("10.0.0.2/32".into(), "2001:db8:0:2::1/64".into())
    );
    assert_eq!(lo(&t, "h"), (String::new(), String::new()));
    assert_eq!(t.node_by_name("h").unwrap().kind, NodeKind::Host);
    assert_eq!(
        t.node_by_name("h").unwrap().device.as_deref(),
        Some("linux")
    );
    // b-a: `a` sorts first and gets .1.
    assert_eq!(if4(&t, "a", 0), "10.1.0.1/30");
    assert_eq!(if6(&t, "a", 0), "2001:db8:1::1/64");
    assert_eq!(if4(&t, "b", 0), "10.1.0.2/30");
    assert_eq!(if6(&t, "b", 0), "2001:db8:1::2/64");
    // a-h is a LAN (a host is on it): host parts are node ids.
    assert_eq!(t.segments[1].kind, SegmentKind::Lan);
    assert_eq!(if4(&t, "a", 1), "172.16.0.2/24");
    assert_eq!(if4(&t, "h", 0), "172.16.0.3/24");
    assert_eq!(if4(&t, "b", 1), "172.16.1.1/24");
    assert_eq!(if4(&t, "a", 2), "172.16.1.2/24");
    assert_eq!(if4(&t, "h", 1), "172.16.1.3/24");
    // The stub link.
    assert_eq!(if4(&t, "a", 3), "172.16.2.2/24");
    // Unnumbered IPv4, and no IPv6 since the link's prefix names no IPv6 subnet.
    let a = t.node_by_name("a").unwrap();
    assert!(a.interfaces[4].ipv4_unnumbered);
    assert_eq!(a.interfaces[4].ipv4, None);
    assert_eq!(a.interfaces[4].ipv6, None);
}

#[test]
fn groups_apply_in_netlabs_order_and_host_numbers_work() {
    // `netlab create` run 2: `core` wins over `edge` (name order), `zz` over its parent `aa`.
    let t = load(
        "module: [bgp]
groups:
  edge: {members: [b], bgp.as: 65001}
  core: {members: [a, b], bgp.as: 65000}
  zz: {members: [c], bgp.as: 65009}
  aa: {members: [zz], bgp.as: 65008}
nodes: [a, b, c]
links:
- a:
  b:
  c:
    ipv4: 7
- a:
  b:
    ipv4: 10.1.0.2/30
",
    );
    let asn = |n: &str| t.node_by_name(n).unwrap().asn.unwrap();
    assert_eq!((asn("a"), asn("b"), asn("c")), (65000, 65000, 65009));
    assert_eq!(if4(&t, "a", 0), "172.16.0.1/24");
    assert_eq!(if4(&t, "c", 0), "172.16.0.7/24");
    assert_eq!(if4(&t, "a", 1), "10.1.0.1/30");
    assert_eq!(if4(&t, "b", 1), "10.1.0.2/30");
}

#[test]
fn node_lists_ids_auto_created_members_and_dotted_keys() {
    let t = load(
        "nodes:
- name: r1
  id: 5
  bgp.as: 65100
- r2
groups:
  _auto_create: true
  hosts: {members: [h1], role: host}
links: [r1-r2, r1-h1]
",
    );
    let r1 = t.node_by_name("r1").unwrap();
    assert_eq!((r1.node_id, r1.asn), (5, Some(65100)));
    assert_eq!(t.node_by_name("r2").unwrap().node_id, 1);
    let h1 = t.node_by_name("h1").unwrap();
    assert_eq!((h1.node_id, h1.kind), (2, NodeKind::Host));
    assert_eq!(lo(&t, "r1").0, "10.0.0.5/32");
    assert_eq!(if4(&t, "r1", 1), "172.16.0.5/24");
    assert_eq!(if4(&t, "h1", 0), "172.16.0.2/24");
}

#[test]
fn custom_pools_and_pool_on_links() {
    let t = load(
        "addressing:
  core: {ipv4: 192.168.0.0/16, prefix: 28}
  lan: {ipv4: 172.20.0.0/16}
nodes: [a, b]
links:
- {a: {}, b: {}, pool: core}
- {a: {}, b: {}, pool: core}
- [a, b]
",
    );
    assert_eq!(if4(&t, "a", 0), "192.168.0.1/28");
    assert_eq!(if4(&t, "b", 1), "192.168.0.18/28");
    assert_eq!(if4(&t, "a", 2), "10.1.0.1/30");
}

#[test]
fn deployment_keys_are_read_and_listed() {
    let t = load(
        "provider: clab
plugin: [fix_mtu]
message: hello
defaults.device: eos
nodes:
  r1: {device: frr, clab.image: x}
  r2:
links: [r1-r2]
",
    );
    let paths: Vec<&str> = t.ignored.iter().map(|i| i.path.as_str()).collect();
    for p in [
        "provider",
        "plugin",
        "message",
        "defaults.device",
        "nodes.r1.device",
        "nodes.r1.clab",
    ] {
        assert!(paths.contains(&p), "{p} not in {paths:?}");
    }
    assert_eq!(t.node_by_name("r1").unwrap().device.as_deref(), Some("frr"));
    assert_eq!(t.node_by_name("r2").unwrap().device.as_deref(), Some("eos"));
}

#[test]
fn an_unmodelled_module_is_one_error() {
    let e = errors(
        "module: [vxlan, ospf]
vxlan: {}
nodes: {a: {vxlan: {}}, b: }
links:
- {a: {vxlan: {}}, b: {vxlan: {}}}
",
    );
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].starts_with("t.yml:1:10: `vxlan` is not modelled by nettwin yet: it needs netlab's vxlan module (VXLAN) (and 4 other places)"), "{}", e[0]);
}

#[test]
fn a_dotted_key_and_its_nested_form_must_agree() {
    let e = errors("nodes:\n  r1: {bgp.as: 1, bgp: {as: 2}}\n");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].contains("`nodes.r1.bgp.as` is set twice"), "{}", e[0]);
}

#[test]
fn defaults_files_beside_the_lab_are_read() {
    let dir = std::env::temp_dir().join(format!("nettwin-netlab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("topology-defaults.yml"),
        "addressing.lan.ipv4: 172.30.0.0/16\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("extra.yml"),
        "addressing:\n  lan:\n    ipv4: 172.31.0.0/16\n  p2p: {ipv4: bad}\n",
    )
    .unwrap();
    std::fs::write(dir.join("lab.yml"), "nodes: [a]\nlinks: [[a]]\n").unwrap();
    let t = load_file(&dir.join("lab.yml")).unwrap();
    assert_eq!(if4(&t, "a", 0), "172.30.0.1/24");
    // An earlier source wins; errors in an included file name that file.
    std::fs::write(
        dir.join("lab.yml"),
        "defaults.sources.extra: [extra.yml]\nnodes: [a]\nlinks: [[a]]\n",
    )
    .unwrap();
    let e = match load_file(&dir.join("lab.yml")) {
        Err(LoadError::Invalid(d)) => d.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].contains("extra.yml:4:"), "{}", e[0]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn yaml_1_1_booleans_groups_without_nodes_and_addresses_without_a_length() {
    // Checked with `netlab create` (networklab 26.10): `True` is a boolean, groups alone
    // create the nodes, `type: lan` does not change the pool (two routers take a p2p subnet),
    // and an address without a length takes the link's.
    let t = load(
        "groups:
  _auto_create: True
  routers: {members: [r1, r2]}
links:
- r1:
  r2:
  type: lan
- r1:
    ipv4: 192.168.5.5
  r2:
  prefix: {ipv4: 192.168.5.0/29, ipv6: True}
",
    );
    assert_eq!(t.nodes.len(), 2);
    assert_eq!(t.segments[0].kind, SegmentKind::Lan);
    assert_eq!(if4(&t, "r1", 0), "10.1.0.1/30");
    assert_eq!(if4(&t, "r2", 0), "10.1.0.2/30");
    assert_eq!(if4(&t, "r1", 1), "192.168.5.5/29");
    assert_eq!(if4(&t, "r2", 1), "192.168.5.2/29");
    assert!(t.node_by_name("r2").unwrap().interfaces[1].ipv6_lla);
    let e = errors("links: [{a: {ipv4: 10.0.0.1}}]\nnodes: [a]\naddressing.stub.ipv4: false\naddressing.lan.ipv4: false\n");
    assert!(e[0].contains("has no prefix length"), "{e:#?}");
}

#[test]
fn named_prefixes() {
    // `netlab create`: a pool-based named prefix takes its subnet before any link does.
    let t = load(
        "prefix:
  shared: {pool: lan}
  fixed: {ipv4: 192.168.42.0/24, allocation: sequential}
  p: {pool: p2p}
nodes: [a, b]
links:
- [a, b]
- {a: {}, b: {}, prefix: fixed}
- {a: {}, prefix: shared}
- {a: {}, b: {}, prefix: p}
",
    );
    assert_eq!(if4(&t, "a", 0), "10.1.0.5/30");
    assert_eq!(if4(&t, "b", 1), "192.168.42.2/24");
    assert_eq!(if4(&t, "a", 2), "172.16.0.1/24");
    assert_eq!(if4(&t, "a", 3), "10.1.0.1/30");
}

#[test]
fn link_groups_expand_in_place() {
    // `netlab create`: the group's members take its place, each with the group's attributes
    // under its own (the third member's `pool` wins over the group's).
    let t = load(
        "addressing.core: {ipv4: 10.20.0.0/16, prefix: 29}
nodes: [s1, s2, s3]
links:
- s1-s2
- group: core_links
  pool: core
  members:
  - s1-s3
  - [s2, s3]
  - {s1: {}, s2: {}, pool: p2p}
- s2-s3
",
    );
    let names: Vec<&str> = t.links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert_eq!(if4(&t, "s1", 0), "10.1.0.1/30");
    assert_eq!(if4(&t, "s1", 1), "10.20.0.1/29");
    assert_eq!(if4(&t, "s2", 1), "10.20.0.9/29");
    assert_eq!(if4(&t, "s1", 2), "10.1.0.5/30");
    assert_eq!(if4(&t, "s3", 2), "10.1.0.10/30");
    let e = errors("nodes: [a, b]\nlinks:\n- group: g\n  pool: core\n");
    assert!(e[0].contains("a link group needs `members`"), "{e:#?}");
}

#[test]
fn default_groups_merge_with_the_labs() {
    // `netlab create`: the lab's group keeps its members and settings, a default-only group's
    // members outside the lab are dropped, and only its own `_auto_create` creates nodes.
    let t = load(
        "module: [bgp]
defaults.groups:
  spines: {members: [s1, s9], bgp.as: 65000}
  leaves: {members: [l1], bgp.as: 65100}
  extra: {_auto_create: true, members: [x1], bgp.as: 65300}
groups:
  _auto_create: true
  leaves: {members: [l1, l2], bgp.as: 65200}
nodes: [s1, l1, l2]
links: [s1-l1, s1-l2, x1-s1]
",
    );
    let asn = |n: &str| t.node_by_name(n).unwrap().asn;
    assert_eq!(asn("s1"), Some(65000));
    assert_eq!((asn("l1"), asn("l2")), (Some(65200), Some(65200)));
    assert_eq!(asn("x1"), Some(65300));
    assert!(t.node_by_name("s9").is_none());
    assert_eq!(t.nodes.len(), 4);
}

#[test]
fn regular_expression_and_set_members() {
    // `netlab create`: `~` members match whole node names, `[...]` sets as in `fnmatch`.
    let t = load(
        "module: [bgp]
bgp.as: 65000
groups:
  first: {members: ['~[ce]1'], bgp.as: 65001}
  second: {members: ['e[!1]'], bgp.as: 65002}
nodes: [c1, c2, e1, e2, ce1x]
",
    );
    let asn = |n: &str| t.node_by_name(n).unwrap().asn.unwrap();
    assert_eq!(
        [asn("c1"), asn("c2"), asn("e1"), asn("e2"), asn("ce1x")],
        [65001, 65000, 65001, 65002, 65000]
    );
    let e = errors("groups:\n  g: {members: ['~x('], bgp.as: 1}\nnodes: [a]\n");
    assert!(e[0].contains("invalid regular expression `x(`"), "{e:#?}");
}
