//! Every validation error the loader reports, with its exact message and place.

use nettwin_model::{load_str, LoadError};

/// All error lines for `text`, loaded as `t.yml`.
fn errors(text: &str) -> Vec<String> {
    match load_str("t.yml", text) {
        Ok(_) => panic!("expected errors, the topology loaded"),
        Err(LoadError::Invalid(d)) => d.iter().map(|e| e.to_string()).collect(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

fn one_error(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    e.into_iter().next().unwrap()
}

#[test]
fn yaml_syntax_error() {
    let e = one_error("nodes:\n  r1: {kind: router\nlinks: []\n");
    assert!(e.starts_with("t.yml:3:6: YAML syntax error: "), "{e}");
}

#[test]
fn unknown_node_in_link() {
    let e = one_error("nodes: [r1, r2]\nlinks:\n  - [r1, r9]\n");
    assert_eq!(
        e,
        "t.yml:3:10: unknown node `r9` in link (did you mean `r1`?) (at `links[0][1]`)"
    );
}

#[test]
fn unknown_node_in_dict_link_and_string_link() {
    let e = errors("nodes: [r1, r2]\nlinks:\n  - {r1: {}, rx: {}}\n  - r1-r7\n");
    assert_eq!(
        e,
        vec![
            "t.yml:3:14: unknown node or link attribute `rx` (did you mean `r1`?) (at `links[0].rx`)",
            "t.yml:4:5: unknown node `r7` in link `r1-r7` (at `links[1]`)",
        ]
    );
}

#[test]
fn duplicate_address() {
    let e = one_error(
        "nodes: [r1, r2, r3]\nlinks:\n  - {r1: {ipv4: 198.18.9.1/24}, r2: {ipv4: 198.18.9.2/24}, r3: {ipv4: 198.18.9.1/24}}\n",
    );
    assert_eq!(
        e,
        "t.yml:3:71: duplicate address 198.18.9.1: also on r1:eth1 (line 3) (at `links[0].r3.ipv4`)"
    );
}

#[test]
fn duplicate_loopback_and_interface_address() {
    let e = errors(
        "nodes:\n  r1: {loopback: 198.18.7.1/32}\n  r2: {}\nlinks:\n  - {r1: {}, r2: {ipv4: 198.18.7.1/31}}\n",
    );
    assert_eq!(
        e,
        vec![
            "t.yml:5:25: 198.18.7.0/31 overlaps 198.18.7.1/32 set at `nodes.r1.loopback` (line 2) (at `links[0].r2.ipv4`)",
            "t.yml:5:25: duplicate address 198.18.7.1: also on r1 loopback (line 2) (at `links[0].r2.ipv4`)",
        ]
    );
}

#[test]
fn overlapping_subnets() {
    let e = one_error(
        "nodes: [a, b, c]\nlinks:\n  - {a: {ipv4: 198.18.4.1/24}, b: {}}\n  - {b: {}, c: {}, prefix: 198.18.4.128/25}\n",
    );
    assert_eq!(
        e,
        "t.yml:4:28: 198.18.4.128/25 overlaps 198.18.4.0/24 set at `links[0].a.ipv4` (line 3) (at `links[1].prefix`)"
    );
}

#[test]
fn address_outside_link_subnet() {
    let e = one_error(
        "nodes: [a, b]\nlinks:\n  - {a: {ipv4: 198.18.4.1/24}, b: {ipv4: 198.18.5.2/24}}\n",
    );
    assert_eq!(
        e,
        "t.yml:3:42: address 198.18.5.2 is outside the subnet 198.18.4.0/24 of its link (set at `links[0].a.ipv4`) (at `links[0].b.ipv4`)"
    );
    let e = one_error(
        "nodes: [a, b]\nlinks:\n  - {a: {ipv4: 198.18.6.1/24}, b: {}, prefix: 198.18.4.0/24}\n",
    );
    assert_eq!(
        e,
        "t.yml:3:16: address 198.18.6.1 is outside the subnet 198.18.4.0/24 of its link (set at `links[0].prefix`) (at `links[0].a.ipv4`)"
    );
}

#[test]
fn invalid_prefix() {
    let e = errors(
        "nodes:\n  r1:\n    static:\n      - {prefix: 198.18.0.1/24, discard: true}\n      - {prefix: 198.18.0.0/40, discard: true}\n      - {prefix: banana, discard: true}\n",
    );
    assert_eq!(
        e,
        vec![
            "t.yml:4:18: invalid prefix: `198.18.0.1/24` has host bits set; the prefix is 198.18.0.0/24 (at `nodes.r1.static[0].prefix`)",
            "t.yml:5:18: invalid prefix: prefix length in `198.18.0.0/40` must be 0..=32 (at `nodes.r1.static[1].prefix`)",
            "t.yml:6:18: invalid prefix: `banana` is not an IPv4 or IPv6 address (at `nodes.r1.static[2].prefix`)",
        ]
    );
}

#[test]
fn mtu_out_of_range() {
    let e = errors("nodes:\n  r1: {mtu: 67}\n  r2: {}\nlinks:\n  - {r1: {}, r2: {}, mtu: 65536}\n  - {r1: {mtu: 9000}, r2: {mtu: 1500x}}\n");
    assert_eq!(
        e,
        vec![
            "t.yml:2:13: 67 is out of range 68..=65535 (at `nodes.r1.mtu`)",
            "t.yml:5:27: 65536 is out of range 68..=65535 (at `links[0].mtu`)",
            "t.yml:6:33: expected a whole number, found `1500x` (at `links[1].r2.mtu`)",
        ]
    );
}

#[test]
fn unknown_kind() {
    let e = one_error("nodes:\n  r1: {kind: firewall}\n");
    assert_eq!(e, "t.yml:2:14: unknown kind `firewall`; kinds are: router, switch, host, linux (at `nodes.r1.kind`)");
}

#[test]
fn missing_required_fields() {
    assert_eq!(
        one_error("links: []\n"),
        "t.yml:1:1: missing required key `nodes` (or groups with `_auto_create: true` that create nodes)"
    );
    let e = errors(
        "nodes:\n  r1:\n    static: [{nexthop: 198.18.0.1}]\n  r2: {}\nlinks:\n  - interfaces: [{node: r1}, {ifname: eth9}]\n",
    );
    assert_eq!(
        e,
        vec![
            "t.yml:3:14: missing required key `prefix` in static route (at `nodes.r1.static[0]`)",
            "t.yml:6:30: missing required key `node` in link interface (at `links[0].interfaces[1]`)",
        ]
    );
}

#[test]
fn unknown_keys_everywhere() {
    let e = errors("nmae: x\nnodes:\n  r1: {knd: router}\nlinks:\n  - {r1: {mut: 9000}}\n");
    assert_eq!(
        e,
        vec![
            "t.yml:1:1: unknown key `nmae` (did you mean `name`?) (at `nmae`)",
            "t.yml:3:8: unknown key `knd` (did you mean `kind`?) (at `nodes.r1.knd`)",
            "t.yml:5:11: unknown key `mut` (did you mean `mtu`?) (at `links[0].r1.mut`)",
        ]
    );
}

#[test]
fn several_errors_are_all_reported_in_file_order() {
    let e = errors(
        "nodes:\n  r1: {kind: rooter, mtu: 10}\n  r2: {}\nlinks:\n  - [r1, r3]\n  - {r1: {}, r2: {}, mtu: 70000}\n",
    );
    assert_eq!(e.len(), 4, "{e:#?}");
    let places: Vec<&str> = e.iter().map(|l| l.split(": ").next().unwrap()).collect();
    assert_eq!(
        places,
        ["t.yml:2:14", "t.yml:2:27", "t.yml:5:10", "t.yml:6:27"]
    );
}

#[test]
fn static_route_errors() {
    let e = errors(
        "nodes:\n  r1:\n    static:\n      - {prefix: 198.18.0.0/16, interface: eth7}\n      - {prefix: 198.18.0.0/16, nexthop: 2001:db8::1}\n      - {prefix: 198.18.0.0/16}\n  r2: {}\nlinks: [[r1, r2]]\n",
    );
    assert_eq!(
        e,
        vec![
            "t.yml:4:44: node `r1` has no interface `eth7`; its interfaces are: eth1 (at `nodes.r1.static[0].interface`)",
            "t.yml:5:42: next hop 2001:db8::1 is IPv6 but the prefix 198.18.0.0/16 is IPv4 (at `nodes.r1.static[1].nexthop`)",
            "t.yml:6:9: a static route needs `nexthop` and/or `interface`, or `discard: true` (at `nodes.r1.static[2]`)",
        ]
    );
}

#[test]
fn switch_rules() {
    let e = errors("nodes:\n  s1: {kind: switch, loopback: 198.18.0.9/32}\n  h1: {kind: host}\nlinks:\n  - {s1: {ipv4: 198.18.1.1/24}, h1: {}}\n");
    assert_eq!(
        e,
        vec![
            "t.yml:2:32: switch `s1` is a Linux bridge and has no loopback (at `nodes.s1.loopback`)",
            "t.yml:5:6: switch `s1` is a Linux bridge; its ports have no IP address (at `links[0].s1`)",
        ]
    );
}

#[test]
fn duplicate_nodes_and_names() {
    let e = errors("nodes:\n  r1: {}\n  r1: {}\n  9x: {}\n");
    assert_eq!(
        e,
        vec![
            "t.yml:3:3: duplicate node `r1` (at `nodes.r1`)",
            "t.yml:4:3: invalid node name `9x`: use letters, digits, `_` and `-`, starting with a letter, at most 48 characters (at `nodes.9x`)",
        ]
    );
}

#[test]
fn pool_exhaustion_is_an_error_not_a_panic() {
    let e = one_error(
        "addressing:\n  p2p: {ipv4: 198.19.0.0/31, prefix: 31}\nnodes: [a, b, c]\nlinks: [[a, b], [b, c]]\n",
    );
    assert_eq!(
        e,
        "t.yml:4:17: the p2p pool 198.19.0.0/31 has no /31 left for this link; give `addressing.p2p.ipv4` a larger prefix (at `links[1]`)"
    );
}

#[test]
fn io_error_names_the_file() {
    let e = nettwin_model::load_file(std::path::Path::new("/nonexistent/x.yml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot read /nonexistent/x.yml: "),
        "{e}"
    );
}

#[test]
fn unusable_loopbacks_are_refused_with_the_reason() {
    let e = errors(
        "nodes:\n  a: {loopback: 0.0.0.0/0}\n  b: {loopback: 255.255.255.255}\n  c: {loopback: ff02::1}\n  d: {loopback: ::/0}\n  e: {loopback: 127.0.0.5}\n  f: {loopback: {ipv4: 169.254.0.1}}\n  g: {loopback: 198.18.0.9/0}\n",
    );
    assert_eq!(
        e,
        vec![
            "t.yml:2:17: loopback 0.0.0.0/0 is unusable: 0.0.0.0 is the unspecified address (at `nodes.a.loopback`)",
            "t.yml:3:17: loopback 255.255.255.255/32 is unusable: 255.255.255.255 is the limited broadcast address (at `nodes.b.loopback`)",
            "t.yml:4:17: loopback ff02::1/128 is unusable: ff02::1 is in ff00::/8 (multicast) (at `nodes.c.loopback`)",
            "t.yml:5:17: loopback ::/0 is unusable: :: is the unspecified address (at `nodes.d.loopback`)",
            "t.yml:6:17: loopback 127.0.0.5/32 is unusable: 127.0.0.5 is in 127.0.0.0/8 (the host loopback range) (at `nodes.e.loopback`)",
            "t.yml:7:24: loopback 169.254.0.1/32 is unusable: link-local addresses are never routed (at `nodes.f.loopback.ipv4`)",
            "t.yml:8:17: loopback 198.18.0.9/0 is unusable: a /0 subnet is the whole address space (at `nodes.g.loopback`)",
        ]
    );
}

#[test]
fn router_id_zero_is_refused() {
    let e = one_error("nodes:\n  a: {router_id: 0.0.0.0}\n");
    assert_eq!(
        e,
        "t.yml:2:18: router id 0.0.0.0 is not allowed: OSPF and BGP need a non-zero identifier (at `nodes.a.router_id`)"
    );
}

#[test]
fn unusable_interface_addresses_are_refused_with_the_reason() {
    let e = errors(
        "nodes: [a, b]\nlinks:\n  - {a: {ipv4: 198.18.9.1/0}, b: {ipv4: 198.18.9.2/0}}\n  - {a: {ipv4: 224.0.0.5/24}, b: {ipv6: 2001:db8::1/1}}\n  - {a: {ipv4: 198.18.7.0/24}, b: {ipv4: 198.18.7.255/24}}\n  - {a: {}, b: {}, prefix: 0.0.0.0/0}\n",
    );
    assert_eq!(
        e,
        vec![
            "t.yml:3:16: address 198.18.9.1/0 is unusable: a /0 subnet is the whole address space (at `links[0].a.ipv4`)",
            "t.yml:3:41: address 198.18.9.2/0 is unusable: a /0 subnet is the whole address space (at `links[0].b.ipv4`)",
            "t.yml:4:16: address 224.0.0.5/24 is unusable: 224.0.0.5 is in 224.0.0.0/4 (multicast) (at `links[1].a.ipv4`)",
            "t.yml:4:41: address 2001:db8::1/1 is unusable: its subnet ::/1 takes in ::/128 (the unspecified address) (at `links[1].b.ipv6`)",
            "t.yml:5:16: address 198.18.7.0/24 is the network address of 198.18.7.0/24 (at `links[2].a.ipv4`)",
            "t.yml:5:42: address 198.18.7.255/24 is the broadcast address of 198.18.7.0/24 (at `links[2].b.ipv4`)",
            "t.yml:6:28: link prefix 0.0.0.0/0 is unusable: it takes in 0.0.0.0/8 (\"this network\", never assigned) (at `links[3].prefix`)",
        ]
    );
}

#[test]
fn unusable_and_overlapping_pools_are_refused() {
    let e = errors(
        "addressing:\n  loopback: {ipv4: 0.0.0.0/0}\n  p2p: {ipv4: 10.0.0.0/16}\n  lan: {ipv6: ff00::/8}\nnodes: [a]\n",
    );
    assert_eq!(
        e,
        vec![
            "t.yml:2:20: address pool 0.0.0.0/0 takes in 0.0.0.0/8 (\"this network\", never assigned) (at `addressing.loopback.ipv4`)",
            "t.yml:3:15: address pool 10.0.0.0/16 overlaps the loopback pool 10.0.0.0/24; two interfaces would get the same address (at `addressing.p2p.ipv4`)",
            "t.yml:4:15: address pool ff00::/8 takes in ff00::/8 (multicast) (at `addressing.lan.ipv6`)",
        ]
    );
}

#[test]
fn a_pool_inside_a_prefix_the_file_sets_names_both() {
    // The link's /16 takes the whole default loopback pool: the error says so.
    let e = one_error("nodes: [a]\nlinks:\n  - {a: {}, prefix: 10.0.0.0/16}\n");
    assert_eq!(
        e,
        "t.yml:1:9: loopback 10.0.0.1 of node `a` (id 1, from the loopback pool 10.0.0.0/24) lies inside 10.0.0.0/16 set at `links[0].prefix`; give the pool a prefix outside it, or the node an `id` or a `loopback` (at `nodes.a`)"
    );
}

#[test]
fn a_large_ipv6_pool_behind_a_reserved_prefix_is_skipped_not_walked() {
    // The link's /33 holds 2^31 of the pool's /64s; walking them one by one would take minutes.
    let topo = nettwin_model::load_str(
        "t.yml",
        "addressing:\n  p2p: {ipv6: 2001:db8::/32}\nnodes: [a, b, c]\nlinks:\n  - {a: {}, b: {}, prefix: 2001:db8::/33}\n  - [b, c]\n",
    )
    .unwrap();
    let seg = &topo.segments[1];
    assert_eq!(seg.ipv6.unwrap().to_string(), "2001:db8:8000::/64");
}

#[test]
fn interface_names_the_kernel_refuses_are_errors() {
    let e = errors(
        "nodes: [a, b]\nlinks:\n  - interfaces:\n      - {node: a, ifname: all}\n      - {node: b, ifname: lo}\n  - interfaces:\n      - {node: a, ifname: default}\n      - {node: b, ifname: a-very-long-name0}\n  - interfaces:\n      - {node: a, ifname: eth0/1}\n      - {node: b, ifname: 'eth 1'}\n  - interfaces:\n      - {node: a, ifname: 'eth0:1'}\n      - {node: b, ifname: ..}\n",
    );
    assert_eq!(
        e,
        vec![
            "t.yml:4:27: invalid interface name `all`: `all` and `default` name the kernel's per-interface settings of every interface (at `links[0].interfaces[0].ifname`)",
            "t.yml:5:27: invalid interface name `lo`: `lo` is the loopback interface every node already has (at `links[0].interfaces[1].ifname`)",
            "t.yml:7:27: invalid interface name `default`: `all` and `default` name the kernel's per-interface settings of every interface (at `links[1].interfaces[0].ifname`)",
            "t.yml:8:27: invalid interface name `a-very-long-name0`: Linux interface names have at most 15 bytes (at `links[1].interfaces[1].ifname`)",
            "t.yml:10:27: invalid interface name `eth0/1`: Linux interface names have no `/`, `:` or whitespace (at `links[2].interfaces[0].ifname`)",
            "t.yml:11:27: invalid interface name `eth 1`: Linux interface names have no `/`, `:` or whitespace (at `links[2].interfaces[1].ifname`)",
            "t.yml:13:27: invalid interface name `eth0:1`: Linux interface names have no `/`, `:` or whitespace (at `links[3].interfaces[0].ifname`)",
            "t.yml:14:27: invalid interface name `..`: `.` and `..` are not interface names (at `links[3].interfaces[1].ifname`)",
        ]
    );
}
