//! BGP: route reflection, decision process, policies, loop prevention, multipath.

mod common;
use common::{fib, setup};
use nettwin_model::Prefix;
use nettwin_routing::{explain, SessionKind, Step};

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

/// AS 65000: rr reflects for c1, c2, c3 (OSPF inside); c1 peers with x1 (AS 65100), which
/// originates 198.18.200.0/24. Links 198.19.0.0/31.. in order; loopbacks 198.18.0.1.. in order.
const RR: &str = "module: [ospf, bgp]
nodes:
  rr: {asn: 65000, bgp: {rr: true}}
  c1: {asn: 65000}
  c2: {asn: 65000}
  c3: {asn: 65000}
  x1: {asn: 65100, bgp: {originate: [198.18.200.0/24]}}
links:
  - [rr, c1]
  - [rr, c2]
  - [rr, c3]
  - [c1, x1]
";

#[test]
fn route_reflector_reflects_client_routes_with_originator_and_cluster_list() {
    let (t, r) = setup(RR);
    assert_eq!(
        fib(&t, &r, "c1", &["B"]),
        vec![
            "B 198.18.0.5/32 20/0 198.19.0.7@eth2",
            "B 198.18.200.0/24 20/0 198.19.0.7@eth2"
        ]
    );
    // c2 learns it from the reflector, next hop c1's loopback (next-hop-self), resolved by OSPF.
    assert_eq!(
        fib(&t, &r, "c2", &["B"]),
        vec![
            "B 198.18.0.5/32 200/0 198.19.0.2@eth1",
            "B 198.18.200.0/24 200/0 198.19.0.2@eth1"
        ]
    );
    let c2 = t.node_by_name("c2").unwrap().id;
    let paths = &r.bgp_table(c2)[&p("198.18.200.0/24")];
    assert_eq!(
        paths.len(),
        1,
        "one path: clients have no session with each other"
    );
    let a = &paths[0].attrs;
    assert_eq!(a.next_hop.to_string(), "198.18.0.2");
    assert_eq!(a.as_path, vec![65100]);
    assert_eq!(a.originator_id.unwrap().to_string(), "198.18.0.2");
    assert_eq!(
        a.cluster_list
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
        vec!["198.18.0.1"]
    );
    // Sessions: each client peers only with the reflector; the reflector with all three.
    let peers = |n: &str| {
        r.node(t.node_by_name(n).unwrap().id)
            .bgp
            .as_ref()
            .unwrap()
            .peers
            .len()
    };
    assert_eq!(
        (peers("rr"), peers("c1"), peers("c2"), peers("c3")),
        (3, 2, 1, 1)
    );
    // The reflector holds exactly one path (from c1): nothing was reflected back to it.
    let rr = t.node_by_name("rr").unwrap().id;
    assert_eq!(r.bgp_table(rr)[&p("198.18.200.0/24")].len(), 1);
    // Each router advertises its loopback with itself as next hop; elsewhere in the AS that path
    // would resolve through its own prefix, so (as FRR's next-hop tracking) it is inaccessible,
    // never best, and never passed on: x1 learns only c1's own loopback.
    assert_eq!(
        fib(&t, &r, "x1", &["B"]),
        vec!["B 198.18.0.2/32 20/0 198.19.0.6@eth1"]
    );
    let rr_t = r.bgp_table(t.node_by_name("rr").unwrap().id);
    let c3_loopback = &rr_t[&p("198.18.0.4/32")];
    assert_eq!(c3_loopback.len(), 1);
    assert!(c3_loopback[0].igp_metric.is_none() && !c3_loopback[0].best);
    let c1_t = r.bgp_table(t.node_by_name("c1").unwrap().id);
    assert!(
        !c1_t.contains_key(&p("198.18.0.4/32")),
        "not reflected: it was never best"
    );
}

#[test]
fn without_reflectors_ibgp_is_a_full_mesh() {
    let (t, r) = setup(&RR.replace(", bgp: {rr: true}", ""));
    let c2 = t.node_by_name("c2").unwrap().id;
    let b = r.node(c2).bgp.as_ref().unwrap();
    let b_t = r.bgp_table(c2);
    assert_eq!(b.peers.len(), 3);
    assert!(b
        .peers
        .iter()
        .all(|p| p.kind == SessionKind::Ibgp && p.established));
    let path = &b_t[&p("198.18.200.0/24")][0];
    assert_eq!(path.from_node, Some(t.node_by_name("c1").unwrap().id));
    assert!(path.attrs.cluster_list.is_empty());
}

/// r1 (AS 65000) hears 198.18.200.0/24 from x1 and x2 (both AS 65100) with MED 50 and 10.
const TWO_EXITS: &str = "module: [bgp]
nodes:
  r1: {asn: 65000}
  x1: {asn: 65100, bgp: {originate: [198.18.200.0/24], advertise_loopback: false, export: [{set: {med: 50}}]}}
  x2: {asn: 65100, bgp: {originate: [198.18.200.0/24], advertise_loopback: false, export: [{set: {med: 10}}]}}
links:
  - [r1, x1]
  - [r1, x2]
";

#[test]
fn lower_med_from_the_same_neighbour_as_wins() {
    let (t, r) = setup(TWO_EXITS);
    assert_eq!(
        fib(&t, &r, "r1", &["B"]),
        vec!["B 198.18.200.0/24 20/10 198.19.0.3@eth2"]
    );
    let e = explain(
        &r,
        &t,
        t.node_by_name("r1").unwrap().id,
        &p("198.18.200.0/24"),
    );
    assert_eq!(e.bgp_paths.len(), 2);
    assert!(e.bgp_paths[0].best);
    assert_eq!(e.bgp_paths[1].decided_by, Some(Step::Med));
}

#[test]
fn local_preference_beats_med() {
    let text = TWO_EXITS.replace(
        "  r1: {asn: 65000}",
        "  r1: {asn: 65000, bgp: {neighbors: {x1: {import: [{set: {local_pref: 200}}]}}}}",
    );
    let (t, r) = setup(&text);
    assert_eq!(
        fib(&t, &r, "r1", &["B"]),
        vec!["B 198.18.200.0/24 20/50 198.19.0.1@eth1"]
    );
    let e = explain(
        &r,
        &t,
        t.node_by_name("r1").unwrap().id,
        &p("198.18.200.0/24"),
    );
    assert_eq!(e.bgp_paths[0].attrs.local_pref, 200);
    assert_eq!(e.bgp_paths[1].decided_by, Some(Step::LocalPref));
}

#[test]
fn multipath_installs_equal_paths() {
    let text = TWO_EXITS
        .replace(", export: [{set: {med: 50}}]", "")
        .replace(", export: [{set: {med: 10}}]", "")
        .replace(
            "  r1: {asn: 65000}",
            "  r1: {asn: 65000, bgp: {maximum_paths: 2}}",
        );
    let (t, r) = setup(&text);
    assert_eq!(
        fib(&t, &r, "r1", &["B"]),
        vec!["B 198.18.200.0/24 20/0 198.19.0.1@eth1 198.19.0.3@eth2"]
    );
    // Without multipath the tie goes to the lower router id (x1's loopback 198.18.0.2).
    let (t, r) = setup(&text.replace("{maximum_paths: 2}", "{maximum_paths: 1}"));
    assert_eq!(
        fib(&t, &r, "r1", &["B"]),
        vec!["B 198.18.200.0/24 20/0 198.19.0.1@eth1"]
    );
    let e = explain(
        &r,
        &t,
        t.node_by_name("r1").unwrap().id,
        &p("198.18.200.0/24"),
    );
    assert_eq!(e.bgp_paths[1].decided_by, Some(Step::RouterId));
}

#[test]
fn policies_deny_prepend_tag_and_no_export() {
    let text = "module: [bgp]
nodes:
  y1: {asn: 65200, bgp: {advertise_loopback: false}}
  r1:
    asn: 65000
    bgp:
      advertise_loopback: false
      import:
        - {match: {prefix: [198.18.202.0/24]}, action: deny}
        - {action: permit}
  x1:
    asn: 65100
    bgp:
      advertise_loopback: false
      originate: [198.18.200.0/24, 198.18.201.0/24, 198.18.202.0/24]
      export:
        - {match: {prefix: [198.18.201.0/24]}, set: {community: [no-export]}}
        - {set: {prepend: 2, community: [65100:7]}}
links:
  - [y1, r1]
  - [r1, x1]
";
    let (t, r) = setup(text);
    let r1_t = r.bgp_table(t.node_by_name("r1").unwrap().id);
    let prefixes: Vec<String> = r1_t.keys().map(|k| k.to_string()).collect();
    assert_eq!(
        prefixes,
        vec!["198.18.200.0/24", "198.18.201.0/24"],
        "202 denied on import"
    );
    let a200 = &r1_t[&p("198.18.200.0/24")][0].attrs;
    assert_eq!(a200.as_path, vec![65100, 65100, 65100]);
    assert_eq!(
        a200.communities
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
        vec!["65100:7"]
    );
    let a201 = &r1_t[&p("198.18.201.0/24")][0].attrs;
    assert_eq!(a201.as_path, vec![65100]);
    assert_eq!(
        a201.communities
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
        vec!["no-export"]
    );
    // y1 gets 200 (with r1's AS in front) but not the no-export 201.
    let y1_t = r.bgp_table(t.node_by_name("y1").unwrap().id);
    let prefixes: Vec<String> = y1_t.keys().map(|k| k.to_string()).collect();
    assert_eq!(prefixes, vec!["198.18.200.0/24"]);
    assert_eq!(
        y1_t[&p("198.18.200.0/24")][0].attrs.as_path,
        vec![65000, 65100, 65100, 65100]
    );
}

#[test]
fn as_path_loop_prevention_and_session_state() {
    let (t, r) = setup("module: [bgp]\nnodes:\n  r1: {asn: 65000}\n  x1: {asn: 65100, bgp: {advertise_loopback: false}}\n  r2: {asn: 65000, bgp: {advertise_loopback: false}}\nlinks: [[r1, x1], [x1, r2]]\n");
    let x1_t = r.bgp_table(t.node_by_name("x1").unwrap().id);
    assert_eq!(x1_t[&p("198.18.0.1/32")][0].attrs.as_path, vec![65000]);
    let r2 = r
        .node(t.node_by_name("r2").unwrap().id)
        .bgp
        .as_ref()
        .unwrap();
    let r2_t = r.bgp_table(t.node_by_name("r2").unwrap().id);
    assert!(
        r2_t.is_empty(),
        "r2 must reject a path carrying its own AS: {:?}",
        r2_t.keys()
    );
    let ibgp = r2
        .peers
        .iter()
        .find(|p| p.kind == SessionKind::Ibgp)
        .unwrap();
    assert!(!ibgp.established);
    assert_eq!(
        ibgp.down_reason.as_deref(),
        Some("r1 has no route to 198.18.0.3")
    );
}

#[test]
fn session_shutdown_withdraws_routes() {
    let (t, _) = setup(RR);
    let id = |n: &str| t.node_by_name(n).unwrap().id;
    let r = nettwin_routing::compute_with(
        &t,
        &[nettwin_routing::Change::SessionDown(id("c1"), id("x1"))],
    )
    .unwrap();
    assert!(fib(&t, &r, "c2", &["B"])
        .iter()
        .all(|l| !l.contains("198.18.200.0/24")));
    let c1 = r.node(id("c1")).bgp.as_ref().unwrap();
    let down = c1.peers.iter().find(|p| p.node == id("x1")).unwrap();
    assert_eq!(
        down.down_reason.as_deref(),
        Some("administratively shut down")
    );
}

#[test]
fn ebgp_beats_ibgp_and_routes_are_explained_across_protocols() {
    // pe1 and pe2 (AS 65000, OSPF) both peer with x1 (AS 65100); pe1 hears x1's prefix directly
    // (eBGP, distance 20) and via pe2 (iBGP, 200).
    let text = "module: [ospf, bgp]\nnodes:\n  pe1: {asn: 65000}\n  pe2: {asn: 65000}\n  x1: {asn: 65100, bgp: {originate: [198.18.200.0/24]}}\nlinks: [[pe1, pe2], [pe1, x1], [pe2, x1]]\n";
    let (t, r) = setup(text);
    let e = explain(
        &r,
        &t,
        t.node_by_name("pe1").unwrap().id,
        &p("198.18.200.0/24"),
    );
    assert_eq!(e.bgp_paths.len(), 2);
    assert!(e.bgp_paths[0].ebgp && e.bgp_paths[0].best);
    assert_eq!(e.bgp_paths[1].decided_by, Some(Step::EbgpOverIbgp));
    // x1's loopback: pe1 knows it from eBGP only (x1 is not in AS 65000's OSPF).
    let e = explain(
        &r,
        &t,
        t.node_by_name("pe1").unwrap().id,
        &p("198.18.0.3/32"),
    );
    assert_eq!(e.candidates.len(), 1);
    assert!(e.candidates[0].selected);
}

/// Two reflectors serving the same clients; with one cluster id the reflectors drop each other's
/// reflections of their common clients' routes (RFC 4456 section 8), with two they keep them.
const TWO_RRS: &str = "module: [ospf, bgp]
nodes:
  rr1: {asn: 65000, bgp: {rr: true, rr_cluster_id: 198.18.255.1}}
  rr2: {asn: 65000, bgp: {rr: true, rr_cluster_id: 198.18.255.1}}
  c1: {asn: 65000, bgp: {originate: [198.18.200.0/24]}}
  c2: {asn: 65000}
links: [[rr1, c1], [rr2, c1], [rr1, c2], [rr2, c2], [rr1, rr2]]
";

#[test]
fn cluster_id_stops_reflection_loops_between_reflectors() {
    let (t, r) = setup(TWO_RRS);
    let id = |n: &str| t.node_by_name(n).unwrap().id;
    let rr2_t = r.bgp_table(id("rr2"));
    let paths = &rr2_t[&p("198.18.200.0/24")];
    assert_eq!(paths.len(), 1, "{paths:#?}");
    assert_eq!(paths[0].from_node, Some(id("c1")));
    // c2 hears the route from both reflectors.
    let c2_t = r.bgp_table(id("c2"));
    assert_eq!(c2_t[&p("198.18.200.0/24")].len(), 2);

    let (t, r) = setup(&TWO_RRS.replace(
        "rr2: {asn: 65000, bgp: {rr: true, rr_cluster_id: 198.18.255.1}}",
        "rr2: {asn: 65000, bgp: {rr: true, rr_cluster_id: 198.18.255.2}}",
    ));
    let rr2_t = r.bgp_table(t.node_by_name("rr2").unwrap().id);
    let paths = &rr2_t[&p("198.18.200.0/24")];
    assert_eq!(paths.len(), 2, "{paths:#?}");
    assert!(paths[0].best && paths[0].from_node == Some(t.node_by_name("c1").unwrap().id));
    assert_eq!(paths[1].attrs.cluster_list.len(), 1);
    assert_eq!(paths[1].decided_by, Some(Step::ClusterListLength));
}

#[test]
fn policy_example_prefers_the_tagged_primary_and_marks_the_peer_export() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/bgp-policy.yml"
    ))
    .unwrap();
    let (t, r) = setup(&text);
    let id = |n: &str| t.node_by_name(n).unwrap().id;
    // isp2 prefers the copy isp1 tagged with local-pref 150 over its own prepended path.
    let isp2_t = r.bgp_table(id("isp2"));
    let paths = &isp2_t[&p("198.19.0.8/31")];
    assert_eq!(paths[0].from_node, Some(id("isp1")));
    assert_eq!(paths[0].attrs.local_pref, 150);
    assert_eq!(paths[1].attrs.as_path, vec![65010, 65010, 65010]);
    assert_eq!(paths[1].decided_by, Some(Step::LocalPref));
    // peer1 gets the customer's link with MED 50 and the community, but no local-pref.
    let peer1_t = r.bgp_table(id("peer1"));
    let a = &peer1_t[&p("198.19.0.8/31")][0].attrs;
    assert_eq!(a.med, Some(50));
    assert_eq!(a.local_pref, 100);
    assert_eq!(
        a.communities
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
        vec!["65000:100"]
    );
}

/// A loopback written with a mask (netlab writes IPv6 loopbacks as /64s) is connected as a
/// whole on its router; OSPFv2 advertises it as a host route (RFC 2328, as ospfd does); BGP
/// advertises it as written, and an iBGP next hop inside it resolves through the IGP's host
/// route. The same topology agrees with FRR in `frr_agrees_on_loopbacks_written_with_a_mask`.
#[test]
fn loopbacks_are_advertised_with_the_mask_they_are_written_with() {
    let (t, r) = common::setup(
        "module: [ospf, bgp]\nnodes:\n  r1: {asn: 65000}\n  r2: {asn: 65000, loopback: 198.18.42.1/24}\n  x1: {asn: 65001}\nlinks: [r1-r2, r2-x1]\n",
    );
    let r2 = common::fib(&t, &r, "r2", &["C"]);
    assert!(
        r2.contains(&"C 198.18.42.0/24 0/0 receive".to_string()),
        "{r2:?}"
    );
    assert!(
        r2.contains(&"C 198.18.42.1/32 0/0 receive".to_string()),
        "{r2:?}"
    );
    let r1 = common::fib(&t, &r, "r1", &[]);
    assert!(
        r1.iter().any(|l| l.starts_with("O 198.18.42.1/32 110/10 ")),
        "{r1:?}"
    );
    assert!(
        r1.iter().any(|l| l.starts_with("B 198.18.42.0/24 200/0 ")),
        "{r1:?}"
    );
    let x1 = common::fib(&t, &r, "x1", &["B"]);
    assert!(
        x1.iter().any(|l| l.starts_with("B 198.18.42.0/24 20/0 ")),
        "{x1:?}"
    );
    assert!(!x1.iter().any(|l| l.contains("198.18.42.1/32")), "{x1:?}");
}

/// netlab's BGP attributes of links (`advertise`) and link ends (`local_as`,
/// `replace_global_as`) are checked like every other key: unknown keys and wrong types are
/// errors with their place, where they used to be ignored.
#[test]
fn bgp_keys_on_links_and_link_ends_are_checked() {
    let ok = "module: [bgp]\nnodes: {r1: {asn: 65001}, r2: {asn: 65002}}\nlinks:\n- {r1: {bgp: {local_as: 65100, replace_global_as: true}}, r2: {}, bgp: {advertise: false}}\n";
    let topo = nettwin_model::load_str("t.yml", ok).unwrap_or_else(|e| panic!("{e}"));
    nettwin_routing::compute(&topo).unwrap_or_else(|e| panic!("{e}"));
    let bad = "module: [bgp]\nnodes: {r1: {asn: 65001}, r2: {asn: 65002}}\nlinks:\n- {r1: {bgp: {local_ass: 65100}}, r2: {bgp: {replace_global_as: maybe}}, bgp: {advertize: true}}\n";
    let topo = nettwin_model::load_str("t.yml", bad).unwrap_or_else(|e| panic!("{e}"));
    let err = nettwin_routing::compute(&topo).unwrap_err().to_string();
    assert!(
        err.contains("unknown key `local_ass` (did you mean `local_as`?)"),
        "{err}"
    );
    assert!(
        err.contains("unknown key `advertize` (did you mean `advertise`?)"),
        "{err}"
    );
    assert!(err.contains("replace_global_as"), "{err}");
}
