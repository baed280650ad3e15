//! MPLS: LDP bindings and PHP, SR prefix SIDs, platform personalities.

mod common;
use common::setup;
use nettwin_model::{Prefix, Topology};
use nettwin_routing::mpls::{Fec, LabelSource, Out};
use nettwin_routing::Routing;

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

/// `show mpls forwarding-table` in short: `IN SOURCE FEC -> OP@NEXTHOP_NODE ...`.
fn lfib(t: &Topology, r: &Routing, node: &str) -> Vec<String> {
    let id = t.node_by_name(node).unwrap().id;
    r.labels.nodes[id.index()]
        .lfib
        .iter()
        .map(|e| {
            let fec = match e.fec {
                Fec::Prefix { prefix } => prefix.to_string(),
                Fec::Adjacency { neighbour, .. } => format!("adj:{}", t.node(neighbour).name),
                Fec::Tunnel { tunnel, .. } => {
                    format!("tunnel:{}", r.tunnels()[tunnel as usize].name)
                }
            };
            let paths: Vec<String> = e
                .paths
                .iter()
                .map(|p| {
                    let op = match p.out {
                        Out::Swap(l) => l.to_string(),
                        Out::Pop => "pop".into(),
                        Out::Untagged => "untagged".into(),
                    };
                    format!(
                        "{op}@{}",
                        p.neighbour.map(|n| t.node(n).name.as_str()).unwrap_or("?")
                    )
                })
                .collect();
            format!(
                "{} {} {} -> {}",
                e.in_label,
                e.source.name(),
                fec,
                paths.join(" ")
            )
        })
        .collect()
}

/// The labels `node` pushes for packets to `prefix`: (source, label per next hop).
fn push(t: &Topology, r: &Routing, node: &str, prefix: &str) -> Option<(LabelSource, Vec<String>)> {
    let id = t.node_by_name(node).unwrap().id;
    let route = r.fib(id).get(&p(prefix))?;
    let imp = r.imposition(id, &route).imposition?;
    Some((
        imp.source,
        imp.paths
            .iter()
            .map(|x| match x.out {
                Out::Swap(l) => format!("{l}@{}", t.node(x.neighbour.unwrap()).name),
                Out::Pop | Out::Untagged => "ip".into(),
            })
            .collect(),
    ))
}

fn reason(t: &Topology, r: &Routing, node: &str, prefix: &str) -> String {
    let id = t.node_by_name(node).unwrap().id;
    let route = r.fib(id).get(&p(prefix)).unwrap();
    r.imposition(id, &route).reason
}

/// Four routers in a row, OSPF and LDP, with an external AS behind pe2 whose prefix pe1 learns
/// over iBGP with pe2's loopback as next hop. Loopbacks 198.18.0.1-4 in node order, links
/// 198.19.0.0/31, .2/31, .4/31.
const CHAIN: &str = "module: [ospf, mpls, bgp]
defaults.platform: PLATFORM
nodes:
  pe1: {asn: 65000}
  p1: {asn: 65000, module: [ospf, mpls]}
  p2: {asn: 65000, module: [ospf, mpls]}
  pe2: {asn: 65000}
  x1: {asn: 65100, module: [bgp], bgp: {originate: [198.18.200.0/24]}}
links: [pe1-p1, p1-p2, p2-pe2, pe2-x1]
";

fn chain(platform: &str) -> (Topology, Routing) {
    setup(&CHAIN.replace("PLATFORM", platform))
}

/// Cisco's LDP (IOS XE): every IGP prefix gets a local label from 16 up, in prefix order; an
/// egress advertises implicit null for its connected prefixes, so the penultimate hop pops
/// (PHP). Followed hop by hop from pe1 to pe2's loopback 198.18.0.4: pe1 pushes p1's label,
/// p1 swaps to p2's, p2 pops because pe2 asked for implicit null.
#[test]
fn ldp_php_on_a_chain_label_by_label() {
    let (t, r) = chain("cisco-xe");
    assert_eq!(
        push(&t, &r, "pe1", "198.18.0.4/32"),
        Some((LabelSource::Ldp, vec!["18@p1".into()]))
    );
    let p1 = lfib(&t, &r, "p1");
    assert!(
        p1.contains(&"18 ldp 198.18.0.4/32 -> 18@p2".to_string()),
        "{p1:#?}"
    );
    let p2 = lfib(&t, &r, "p2");
    assert!(
        p2.contains(&"18 ldp 198.18.0.4/32 -> pop@pe2".to_string()),
        "{p2:#?}"
    );
    // pe2 is the egress: no LFIB entry for its own loopback, implicit null in its bindings.
    let pe2 = t.node_by_name("pe2").unwrap().id;
    let b = r
        .ldp_bindings(pe2)
        .into_iter()
        .find(|b| b.prefix == p("198.18.0.4/32"))
        .unwrap();
    assert_eq!(b.local, Some(3));
    assert_eq!(
        b.remote.len(),
        1,
        "p2 (liberal retention keeps its binding too)"
    );
    assert!(!lfib(&t, &r, "pe2")
        .iter()
        .any(|l| l.contains("198.18.0.4/32")));
    // Cisco binds every IGP prefix, link subnets included; connected ones as implicit null.
    assert_eq!(
        lfib(&t, &r, "p1"),
        vec![
            "16 ldp 198.18.0.1/32 -> pop@pe1",
            "17 ldp 198.18.0.3/32 -> pop@p2",
            "18 ldp 198.18.0.4/32 -> 18@p2",
            "19 ldp 198.19.0.4/31 -> pop@p2",
        ]
    );
    // A BGP route rides the LSP to its next hop (pe2's loopback), Cisco's default.
    assert_eq!(
        push(&t, &r, "pe1", "198.18.200.0/24"),
        Some((LabelSource::Ldp, vec!["18@p1".into()]))
    );
    assert!(reason(&t, &r, "pe1", "198.18.200.0/24")
        .starts_with("BGP next hop 198.18.0.4 resolves over 198.18.0.4/32"));
}

#[test]
fn explicit_null_is_swapped_to_label_0_not_popped() {
    let text = CHAIN.replace("PLATFORM", "cisco-xe").replace(
        "  pe2: {asn: 65000}",
        "  pe2: {asn: 65000, mpls: {ldp: {explicit_null: true}}}",
    );
    let (t, r) = setup(&text);
    assert!(lfib(&t, &r, "p2").contains(&"18 ldp 198.18.0.4/32 -> 0@pe2".to_string()));
}

/// The same network as Junos: LDP binds only loopbacks (egress policy default) and transit
/// routers bind a FEC once downstream has (ordered control); labels come from 299776; IP
/// routes to IGP prefixes are not labelled (LSPs live in inet.3), BGP routes are.
#[test]
fn junos_binds_loopbacks_only_and_labels_only_bgp_traffic() {
    let (t, r) = chain("junos");
    assert_eq!(
        lfib(&t, &r, "p1"),
        vec![
            "299776 ldp 198.18.0.1/32 -> pop@pe1",
            "299777 ldp 198.18.0.3/32 -> pop@p2",
            "299778 ldp 198.18.0.4/32 -> 299778@p2",
        ]
    );
    assert_eq!(push(&t, &r, "pe1", "198.18.0.4/32"), None);
    assert!(reason(&t, &r, "pe1", "198.18.0.4/32").contains("inet.3"));
    assert_eq!(
        push(&t, &r, "pe1", "198.18.200.0/24"),
        Some((LabelSource::Ldp, vec!["299778@p1".into()]))
    );
    // Cisco's personality on the same file binds link subnets too: more labels.
    let (tc, rc) = chain("cisco-xe");
    assert_eq!(lfib(&tc, &rc, "p1").len(), 4);
    assert_eq!(lfib(&t, &r, "p1").len(), 3);
}

/// SR-MPLS, RFC 8660: a prefix SID is a global index; every router's label for it is its own
/// SRGB base plus the index, and a router sends with the next hop's SRGB. p2 has a different
/// SRGB (20000-27999), so p1 swaps 16004 to 20004 and p2 swaps 20004 to... the PHP pop.
#[test]
fn sr_prefix_sid_label_is_srgb_base_plus_index_at_every_hop() {
    let text = "module: [isis, sr]
nodes:
  pe1: {}
  p1: {}
  p2: {sr: {srgb: {start: 20000, size: 8000}}}
  pe2: {sr: {node_sid: {ipv4: 44}}}
links: [pe1-p1, p1-p2, p2-pe2]
";
    let (t, r) = setup(text);
    // Node SIDs follow netlab: node id (+100 for IPv6); pe2's is set explicitly.
    assert_eq!(
        r.labels
            .sids
            .iter()
            .map(|s| (s.prefix.to_string(), s.index))
            .collect::<Vec<_>>(),
        vec![
            ("198.18.0.1/32".to_string(), 1),
            ("198.18.0.2/32".to_string(), 2),
            ("198.18.0.3/32".to_string(), 3),
            ("198.18.0.4/32".to_string(), 44),
        ]
    );
    assert_eq!(
        push(&t, &r, "pe1", "198.18.0.4/32"),
        Some((LabelSource::Sr, vec!["16044@p1".into()]))
    );
    let p1 = lfib(&t, &r, "p1");
    assert!(
        p1.contains(&"16044 sr 198.18.0.4/32 -> 20044@p2".to_string()),
        "{p1:#?}"
    );
    let p2 = lfib(&t, &r, "p2");
    assert!(
        p2.contains(&"20044 sr 198.18.0.4/32 -> pop@pe2".to_string()),
        "{p2:#?}"
    );
    assert!(
        p2.contains(&"20001 sr 198.18.0.1/32 -> 16001@p1".to_string()),
        "{p2:#?}"
    );
    // Adjacency SIDs: one per SR neighbour, popped towards it.
    assert!(
        p1.iter()
            .any(|l| l.contains("sr-adjacency adj:pe1 -> pop@pe1")),
        "{p1:#?}"
    );
}

/// With LDP and SR both present the LDP label is pushed unless `sr_prefer` is set; transit
/// labels are swapped within their own protocol either way.
#[test]
fn sr_prefer_chooses_sr_labels_over_ldp() {
    let text = "module: [isis, mpls, sr]
defaults.platform: cisco-xr
nodes:
  pe1: {}
  p1: {}
  pe2: {}
links: [pe1-p1, p1-pe2]
";
    let (t, r) = setup(text);
    let (src, _) = push(&t, &r, "pe1", "198.18.0.3/32").unwrap();
    assert_eq!(src, LabelSource::Ldp);
    assert!(reason(&t, &r, "pe1", "198.18.0.3/32")
        .contains("LDP is preferred over SR unless sr-prefer"));
    let (t, r) = setup(&text.replace("  pe1: {}", "  pe1: {sr: {sr_prefer: true}}"));
    assert_eq!(
        push(&t, &r, "pe1", "198.18.0.3/32"),
        Some((LabelSource::Sr, vec!["16003@p1".into()]))
    );
}

fn errors(text: &str) -> String {
    let t = nettwin_model::load_str("t.yml", text).unwrap_or_else(|e| panic!("{e}"));
    match nettwin_routing::compute(&t) {
        Err(e) => e.to_string(),
        Ok(_) => String::new(),
    }
}

#[test]
fn bad_mpls_and_sr_settings_are_errors_with_their_place() {
    let e = errors(
        "module: [isis, mpls]\nmpls: {ldp: {explict_null: true}}\nnodes: [a, b]\nlinks: [a-b]\n",
    );
    assert!(e.contains("t.yml:2:14: unknown key `explict_null` (did you mean `explicit_null`?) (at `mpls.ldp.explict_null`)"), "{e}");
    let e = errors("module: [isis, mpls]\nmpls: {vpn: true}\nnodes: [a, b]\nlinks: [a-b]\n");
    assert!(
        e.contains("t.yml:2:13: `mpls.vpn` (BGP/MPLS L3VPN) is not modelled by nettwin yet"),
        "{e}"
    );
    let e = errors(
        "module: [isis, sr]\nnodes:\n  a: {sr: {node_sid: {ipv4: 2}}}\n  b: {}\nlinks: [a-b]\n",
    );
    assert!(e.contains("ipv4 node SID index 2 of b is also a's"), "{e}");
    let e = errors("module: [ospf, sr]\nnodes: [a, b]\nlinks: [a-b]\n");
    assert!(
        e.contains("SR-MPLS on node a uses isis without the isis module"),
        "{e}"
    );
    let e = errors("module: [isis, sr]\nnodes:\n  a: {sr: {srgb: {start: 16000, size: 1}}}\n  b: {}\nlinks: [a-b]\n");
    assert!(
        e.contains("ipv4 node SID index 1 of a is outside its SRGB of 1 labels"),
        "{e}"
    );
}
