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

/// CSPF (RFC 3209 affinity semantics, Cisco "affinity exclude", Junos "admin-group exclude"):
/// the short path's first link is red, so a tunnel excluding red takes the long path; one
/// including only blue links has none and is down with the reason; a secondary dynamic path
/// without the constraint is used instead when configured.
#[test]
fn cspf_affinity_excludes_links_and_secondary_paths_take_over() {
    let pe1 = "{tunnels: {
        avoid: {to: pe2, affinity: {exclude: [red]}},
        plain: {to: pe2},
        blue: {to: pe2, affinity: {include_any: [blue]}},
        both: {to: pe2, affinity: {include_any: [blue]}, paths: [{dynamic: true}, {explicit: [p1]}]}}}";
    let (t, r) = net("cisco-xr", pe1, "mpls: {te: {affinity: [red]}}");
    let got = tunnels(&t, &r);
    assert_eq!(got[0], "avoid: up option 1 pe1-p3-p4-pe2 [24009]");
    assert!(
        got[1].starts_with(
            "blue: down (path option 1: no path from pe1 to pe2 meets the constraints)"
        ),
        "{got:?}"
    );
    // The explicit secondary through p1 is strict: pe1-p1 is red but not blue either.
    assert!(got[2].starts_with("both: down"), "{got:?}");
    assert!(
        got[3].starts_with("plain: up option 1 pe1-p1-pe2"),
        "{got:?}"
    );
}

/// Bandwidth against reservable bandwidth in order of setup priority (RFC 3209 priorities; the
/// Cisco and Junos guides place higher-priority LSPs first): pe1-p1 can reserve 100 Mbit/s;
/// two 60 Mbit/s tunnels, the priority-0 one gets the short path, the priority-7 one (placed
/// later despite its name sorting first) the long one; a third that fits nowhere is down.
#[test]
fn cspf_reserves_bandwidth_in_setup_priority_order() {
    let pe1 = "{tunnels: {
        a_low: {to: pe2, bandwidth: 60000, priority: 7},
        b_high: {to: pe2, bandwidth: 60000, priority: 0},
        c_big: {to: pe2, bandwidth: 200000, priority: 3, paths: [{explicit: [p1]}]}}}";
    let (t, r) = net("cisco-xr", pe1, "mpls: {te: {bandwidth: 100000}}");
    let got = tunnels(&t, &r);
    assert_eq!(got[0], "b_high: up option 1 pe1-p1-pe2 [24009]");
    assert!(
        got[1].starts_with("c_big: down (path option 1: strict hop p1: no link from pe1 meets"),
        "{got:?}"
    );
    assert_eq!(got[2], "a_low: up option 1 pe1-p3-p4-pe2 [24009]");
}

fn colour_net(co: u8, policies: &str) -> (Topology, Routing) {
    let pe1 = format!(
        "{{tunnels: {{c100: {{type: sr, to: pe2, color: 100, paths: [{{explicit: [p3, p4]}}]}}{policies}}},
          color: [{{prefix: 198.18.201.0/24, color: 100}}, {{prefix: 198.18.202.0/24, color: 200, co: {co}}}]}}"
    );
    net("cisco-xr", &pe1, "")
}

const NULL_200: &str =
    ", n200: {type: sr, to: 0.0.0.0, color: 200, paths: [{explicit: [p1, pe2]}]}";
const P4_200: &str = ", o200: {type: sr, to: p4, color: 200, paths: [{explicit: [p3, p4]}]}";

/// SR-TE automated steering (RFC 9256 section 8.4, Cisco "SR-TE automated steering"): a BGP
/// route with colour 100 and next hop pe2 goes into policy (100, pe2); its SID list is p4's
/// node SID (the IGP path pe1-p3-p4) then pe2's, pushed as two labels. A route whose colour
/// has no policy falls back to its next hop's IGP path (LDP here).
#[test]
fn colour_steering_with_and_without_a_matching_policy() {
    let (t, r) = colour_net(0, "");
    assert_eq!(
        tunnels(&t, &r),
        vec!["c100: up option 1 pe1-p3-p4-pe2 [16004, 16005]"]
    );
    let (imp, why) = steer(&t, &r, "198.18.201.0/24");
    assert_eq!(
        imp,
        Some((LabelSource::SrTe, Some("c100".into()), "p3".into())),
        "{why}"
    );
    assert!(why.contains("automated steering: colour 100 (CO=00) and BGP next hop 198.18.0.5 match SR policy c100"), "{why}");
    let (imp, why) = steer(&t, &r, "198.18.202.0/24");
    assert_eq!(imp, Some((LabelSource::Ldp, None, "p1".into())), "{why}");
    assert!(
        why.contains("colour 200 (CO=00) has no valid SR policy to next hop 198.18.0.5"),
        "{why}"
    );
}

/// The colour-only bits (RFC 9256 section 8.8.1) for a route of colour 200 to pe2 where no
/// (200, pe2) policy exists: CO=00 and CO=11 (treated as 00) fall back to the IGP path; CO=01
/// takes the null-endpoint policy of colour 200; CO=10 takes it too, and without it a colour-200
/// policy to any endpoint (p4), which CO=01 does not.
#[test]
fn colour_only_bits_choose_the_fallback_policy() {
    let case = |co: u8, pols: &str| {
        let (t, r) = colour_net(co, pols);
        let (imp, why) = steer(&t, &r, "198.18.202.0/24");
        (imp.and_then(|i| i.1), why)
    };
    let both = format!("{NULL_200}{P4_200}");
    assert_eq!(case(0, &both).0, None);
    assert_eq!(case(3, &both).0, None);
    let (got, why) = case(1, &both);
    assert_eq!(got.as_deref(), Some("n200"), "{why}");
    assert!(
        why.contains("CO=01: no policy for the next hop; the null-endpoint policy"),
        "{why}"
    );
    assert_eq!(
        case(1, P4_200).0,
        None,
        "CO=01 never takes another endpoint"
    );
    assert_eq!(case(2, &both).0.as_deref(), Some("n200"));
    let (got, why) = case(2, P4_200);
    assert_eq!(got.as_deref(), Some("o200"), "{why}");
    assert!(
        why.contains("a policy of the colour to any endpoint"),
        "{why}"
    );
}

/// On-demand next hop (Cisco "SR-TE on-demand next hop"): a template for colour 300 makes
/// pe1 instantiate a policy to each BGP next hop it sees with that colour, by CSPF with the
/// template's constraints.
#[test]
fn on_demand_next_hop_instantiates_a_policy() {
    let pe1 = "{odn: {300: {affinity: {exclude: [red]}}},
        color: [{prefix: 198.18.201.0/24, color: 300}]}";
    let (t, r) = net("cisco-xr", pe1, "mpls: {te: {affinity: [red]}}");
    assert_eq!(
        tunnels(&t, &r),
        vec!["srte_c_300_ep_pe2: up option 1 pe1-p3-p4-pe2 [16004, 16005]"]
    );
    let (imp, why) = steer(&t, &r, "198.18.201.0/24");
    assert_eq!(imp.and_then(|i| i.1).as_deref(), Some("srte_c_300_ep_pe2"));
    assert!(why.contains("(on-demand next hop)"), "{why}");
    let (imp, _) = steer(&t, &r, "198.18.202.0/24");
    assert_eq!(imp.map(|i| i.0), Some(LabelSource::Ldp), "uncoloured: LDP");
}

fn errors(text: &str) -> String {
    let text = nettwin_model::generate::with_benchmark_pools(text);
    let topo = nettwin_model::load_str("t.yml", &text).unwrap_or_else(|e| panic!("{e}"));
    match nettwin_routing::compute(&topo) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_te_settings_are_errors_with_their_place() {
    let e = errors(&NET.replace("PLATFORM", "cisco-xr").replace("LINK1", "name: x").replace(
        "PE1",
        "{tunnels: {t1: {to: pe9, metrc: te}, t2: {type: sr, to: pe2}, t3: {to: pe2, metric: hops, paths: [{explicit: []}]}}}",
    ));
    for want in [
        "unknown node `pe9` (at `nodes.pe1.mpls.te.tunnels.t1.to`)",
        "unknown key `metrc` (did you mean `metric`?)",
        "SR policy `t2` needs `color`",
        "unknown metric type `hops`: expected igp, te or latency",
        "an explicit path needs at least one hop",
    ] {
        assert!(e.contains(want), "{want}\n{e}");
    }
}
