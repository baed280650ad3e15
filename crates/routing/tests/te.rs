//! Traffic engineering: CSPF with constraints, RSVP-TE labels, SR-TE SID lists and steering
//! per platform, worked from vendor documentation (the topology is the one each example
//! describes: a short path pe1-p1-pe2 and a long one pe1-p3-p4-pe2, iBGP between the PEs).

mod common;
use common::setup;
use nettwin_model::{Prefix, Topology};
use nettwin_routing::mpls::LabelSource;
use nettwin_routing::te::TunnelState;
use nettwin_routing::Routing;

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

/// pe1 and pe2 with two paths between them: pe1-p1-pe2 (IGP cost 20) and pe1-p3-p4-pe2 (30).
/// pe2 originates 198.18.201.0/24 and 198.18.202.0/24 into iBGP (next hop: its loopback).
/// Loopbacks 198.18.0.1-5 in node order (pe1, p1, p3, p4, pe2). `PE1` is pe1's TE section,
/// `LINKS` extra link attributes.
const NET: &str = "module: [isis, mpls, sr, bgp]
defaults.platform: PLATFORM
nodes:
  pe1:
    asn: 65000
    mpls: {te: PE1}
  p1: {asn: 65000, module: [isis, mpls, sr]}
  p3: {asn: 65000, module: [isis, mpls, sr]}
  p4: {asn: 65000, module: [isis, mpls, sr]}
  pe2: {asn: 65000, bgp: {originate: [198.18.201.0/24, 198.18.202.0/24]}}
links:
- {pe1: {}, p1: {}, LINK1}
- p1-pe2
- pe1-p3
- p3-p4
- p4-pe2
";

fn net(platform: &str, pe1: &str, link1: &str) -> (Topology, Routing) {
    let link1 = if link1.is_empty() {
        "name: pe1-p1".to_string()
    } else {
        link1.to_string()
    };
    setup(
        &NET.replace("PLATFORM", platform)
            .replace("PE1", pe1)
            .replace("LINK1", &link1),
    )
}

/// `name: state path [stack]` of every tunnel.
fn tunnels(t: &Topology, r: &Routing) -> Vec<String> {
    r.tunnels()
        .iter()
        .map(|x| {
            let path: Vec<&str> = x.nodes.iter().map(|n| t.node(*n).name.as_str()).collect();
            match &x.state {
                TunnelState::Up { path_option } => format!(
                    "{}: up option {} {} {:?}",
                    x.name,
                    path_option + 1,
                    path.join("-"),
                    x.stack
                ),
                TunnelState::Down { reason } => format!("{}: down ({reason})", x.name),
            }
        })
        .collect()
}

/// (source, tunnel, first-hop router) of what pe1 pushes for `prefix`, and the reason.
fn steer(
    t: &Topology,
    r: &Routing,
    prefix: &str,
) -> (Option<(LabelSource, Option<String>, String)>, String) {
    let id = t.node_by_name("pe1").unwrap().id;
    let route = r.fib(id).get(&p(prefix)).unwrap();
    let d = r.imposition(id, &route);
    let imp = d.imposition.map(|i| {
        let nb = i.paths[0]
            .neighbour
            .map(|n| t.node(n).name.clone())
            .unwrap_or_default();
        (i.source, i.tunnel, nb)
    });
    (imp, d.reason)
}

const RSVP_LONG: &str = "{tunnels: {t1: {to: pe2, paths: [{explicit: [p3, p4]}]}}}";
const RSVP_LONG_AUTOROUTE: &str =
    "{tunnels: {t1: {to: pe2, autoroute: true, paths: [{explicit: [p3, p4]}]}}}";

/// Cisco (IOS XR MPLS-TE configuration guide, "autoroute announce"): a TE tunnel carries
/// nothing until autoroute announce (or a static route) puts it in the RIB; BGP next hops
/// resolve in the global table, so pe2's BGP routes keep LDP over the IGP path via p1.
/// Junos (MPLS Applications guide, "inet.3"): an RSVP LSP is installed in inet.3 and BGP
/// resolves next hops there first, so the same BGP routes go into the LSP via p3 while IGP
/// routes stay unlabelled in inet.0.
#[test]
fn cisco_needs_autoroute_where_junos_resolves_bgp_over_inet3() {
    let (t, r) = net("cisco-xr", RSVP_LONG, "");
    assert_eq!(
        tunnels(&t, &r),
        vec!["t1: up option 1 pe1-p3-p4-pe2 [24009]"]
    );
    let (imp, why) = steer(&t, &r, "198.18.201.0/24");
    assert_eq!(imp, Some((LabelSource::Ldp, None, "p1".into())), "{why}");
    assert!(
        why.contains("global table, where only autoroute announce puts tunnels"),
        "{why}"
    );
    let (imp, _) = steer(&t, &r, "198.18.0.5/32");
    assert_eq!(imp.map(|x| x.0), Some(LabelSource::Ldp));

    let (t, r) = net("junos", RSVP_LONG, "");
    let (imp, why) = steer(&t, &r, "198.18.201.0/24");
    assert_eq!(
        imp,
        Some((LabelSource::RsvpTe, Some("t1".into()), "p3".into())),
        "{why}"
    );
    assert!(why.contains("inet.3"), "{why}");
    // IP traffic to pe2's loopback is not BGP: Junos leaves it unlabelled in inet.0.
    let (imp, _) = steer(&t, &r, "198.18.0.5/32");
    assert_eq!(imp, None);

    // With autoroute announce Cisco steers pe2's loopback and, through it, the BGP routes.
    let (t, r) = net("cisco-xr", RSVP_LONG_AUTOROUTE, "");
    let (imp, why) = steer(&t, &r, "198.18.0.5/32");
    assert_eq!(
        imp,
        Some((LabelSource::RsvpTe, Some("t1".into()), "p3".into())),
        "{why}"
    );
    assert!(why.contains("autoroute announce on tunnel t1"), "{why}");
    let (imp, why) = steer(&t, &r, "198.18.202.0/24");
    assert_eq!(imp.map(|x| x.0), Some(LabelSource::RsvpTe));
    assert!(
        why.contains("resolves in the global table over 198.18.0.5/32"),
        "{why}"
    );
    // Prefixes not behind the tail (p1's loopback) stay on LDP.
    let (imp, _) = steer(&t, &r, "198.18.0.2/32");
    assert_eq!(imp.map(|x| x.0), Some(LabelSource::Ldp));
}
