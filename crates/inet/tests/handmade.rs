//! Hand-made graphs with every AS's expected route worked out by hand (Gao-Rexford reasoning
//! written in the comments), for each attack and defence.
//!
//! Graph G (8 ASes), used throughout:
//!
//! ```text
//!          1 ===== 2            tier-1s, peers
//!         / \     / \
//!        3   \   /   5          3 and 5 peer (3 ===== 5)
//!       / \   \ /   /
//!      6   7---4   /            4 is a customer of 1 and 2
//!          (7 is a customer of 3 and 4)
//!                8              8 is a customer of 4 and 5
//! ```
//!
//! Provider->customer: 1>3, 1>4, 2>4, 2>5, 3>6, 3>7, 4>7, 4>8, 5>8. Peers: 1=2, 3=5.
//! The victim is AS6 (prefix 10.0.0.0/16, ROA max length 16 unless said otherwise).

use std::collections::BTreeMap;

use nettwin_inet::{
    aspa::{self, AspaState, Direction},
    propagate, AsGraph, AttackKind, DataPlane, DecidingRule, Defences, Outcome, Prefix, Rejection,
    Roa, RouteSource, Scenario, Scope, Targets,
};

const G: &str = "\
# provider|customer|-1 and peer|peer|0
1|3|-1
1|4|-1
2|4|-1
2|5|-1
3|6|-1
3|7|-1
4|7|-1
4|8|-1
5|8|-1
1|2|0
3|5|0
";

fn graph() -> AsGraph {
    AsGraph::parse_caida(G, "g.txt").unwrap()
}

/// Every AS's chosen path for prefix index `k` (ASes without a route are absent).
fn paths(o: &Outcome, g: &AsGraph, k: usize) -> BTreeMap<u32, Vec<u32>> {
    g.asns()
        .iter()
        .filter_map(|&a| o.route(a, k).map(|r| (a, r.as_path)))
        .collect()
}

fn expect(list: &[&[u32]]) -> BTreeMap<u32, Vec<u32>> {
    list.iter().map(|p| (p[0], p.to_vec())).collect()
}

fn dp(o: &Outcome, g: &AsGraph) -> BTreeMap<u32, DataPlane> {
    g.asns()
        .iter()
        .map(|&a| (a, o.data_plane(a).unwrap()))
        .collect()
}

fn attacker_ases(o: &Outcome, g: &AsGraph) -> Vec<u32> {
    dp(o, g)
        .into_iter()
        .filter(|(_, d)| *d == DataPlane::Attacker)
        .map(|(a, _)| a)
        .collect()
}

#[test]
fn legitimate_announcement_follows_gao_rexford() {
    let g = graph();
    let o = propagate(&g, &Scenario::new(AttackKind::None, 6, 8)).unwrap();
    // 3 learns from its customer 6; 1 from its customer 3; 2 only from its peer 1 (its customers
    // 4 and 5 have no customer route to export up); 5 from its peer 3; 4 from providers 1
    // (length 3) and 2 (length 4): 1; 7 from providers 3 (len 2) and 4 (len 4): 3; 8 from
    // providers 4 (len 4) and 5 (len 3): 5.
    assert_eq!(
        paths(&o, &g, 0),
        expect(&[
            &[1, 3, 6],
            &[2, 1, 3, 6],
            &[3, 6],
            &[4, 1, 3, 6],
            &[5, 3, 6],
            &[6],
            &[7, 3, 6],
            &[8, 5, 3, 6],
        ])
    );
    let r2 = o.route(2, 0).unwrap();
    assert_eq!(r2.relationship, RouteSource::Peer);
    assert_eq!(r2.received_from, Some(1));
    assert_eq!(o.route(4, 0).unwrap().relationship, RouteSource::Provider);
    assert_eq!(o.route(1, 0).unwrap().relationship, RouteSource::Customer);
    assert_eq!(o.route(6, 0).unwrap().relationship, RouteSource::Origin);
    assert_eq!(o.route(6, 0).unwrap().received_from, None);
    assert!(dp(&o, &g).values().all(|d| *d == DataPlane::Victim));
    let s = o.summary();
    assert_eq!((s.counted, s.victim, s.attacker), (7, 7, 0));
}

#[test]
fn prefix_hijack_with_lowest_asn_tie_breaks() {
    let g = graph();
    let o = propagate(&g, &Scenario::new(AttackKind::Prefix, 6, 8)).unwrap();
    // Up: 4 and 5 get [x,8] from customer 8; 1 has customers 3 [3,6] and 4 [4,8], same length:
    // lowest neighbour ASN 3 wins; 2 has customers 4 [4,8] and 5 [5,8]: 4 wins.
    // Down: 7 has providers 3 [3,6] and 4 [4,8], same length: 3 wins.
    assert_eq!(
        paths(&o, &g, 0),
        expect(&[
            &[1, 3, 6],
            &[2, 4, 8],
            &[3, 6],
            &[4, 8],
            &[5, 8],
            &[6],
            &[7, 3, 6],
            &[8],
        ])
    );
    assert_eq!(attacker_ases(&o, &g), vec![2, 4, 5, 8]);
    let s = o.summary();
    assert_eq!(
        (s.counted, s.victim, s.attacker, s.disconnected),
        (6, 3, 3, 0)
    );
    // The explanation of AS1 names the tie-break.
    let e = o.explain(1).unwrap();
    let p = &e.prefixes[0];
    assert_eq!(p.rule, DecidingRule::LowestNeighborAsn);
    let names: Vec<(u32, bool)> = p
        .candidates
        .iter()
        .map(|c| (c.neighbor, c.chosen))
        .collect();
    // Candidates best first: customers 3 and 4 (length 2), then peer 2 with [2,4,8].
    assert_eq!(names, vec![(3, true), (4, false), (2, false)]);
    assert_eq!(p.candidates[2].as_path, vec![2, 4, 8]);
    assert_eq!(
        o.explain(7).unwrap().prefixes[0].rule,
        DecidingRule::LowestNeighborAsn
    );
    assert_eq!(
        o.explain(8).unwrap().prefixes[0].rule,
        DecidingRule::Originated
    );
}

#[test]
fn explanations_name_path_length_relationship_and_single_candidates() {
    let g = graph();
    let o = propagate(&g, &Scenario::new(AttackKind::None, 6, 8)).unwrap();
    // 8: providers 5 [5,3,6] and 4 [4,1,3,6]: shorter path.
    assert_eq!(
        o.explain(8).unwrap().prefixes[0].rule,
        DecidingRule::PathLength
    );
    // 2: its customers export nothing up, peer 1 is the only offer.
    let e2 = o.explain(2).unwrap();
    assert_eq!(e2.prefixes[0].rule, DecidingRule::OnlyCandidate);
    assert_eq!(e2.prefixes[0].candidates.len(), 1);
    // 4: providers 1 and 2 offer, no customer or peer route: path length.
    assert_eq!(
        o.explain(4).unwrap().prefixes[0].rule,
        DecidingRule::PathLength
    );
    // 5: peer 3 [3,6] against provider 2 [2,1,3,6]: relationship.
    assert_eq!(
        o.explain(5).unwrap().prefixes[0].rule,
        DecidingRule::Relationship
    );
    assert!(o.explain(99).is_err());
}

#[test]
fn subprefix_hijack_captures_everyone_and_rov_stops_it() {
    let g = graph();
    let sc = Scenario::new(AttackKind::Subprefix, 6, 8);
    let o = propagate(&g, &sc).unwrap();
    let sub: Prefix = "10.0.0.0/24".parse().unwrap();
    assert_eq!(o.prefixes()[1], sub);
    // /16: the legitimate routes (8 keeps its own legitimate /16 route too).
    assert_eq!(o.route(8, 0).unwrap().as_path, vec![8, 5, 3, 6]);
    // /24 from 8: up 4 [4,8], 5 [5,8], 1 from customer 4, 2 from customers 4/5 (tie: 4);
    // across: 3 from peer 5; down: 7 from 4 (len 2) over 3 (len 3); 6 from provider 3.
    assert_eq!(
        paths(&o, &g, 1),
        expect(&[
            &[1, 4, 8],
            &[2, 4, 8],
            &[3, 5, 8],
            &[4, 8],
            &[5, 8],
            &[6, 3, 5, 8],
            &[7, 4, 8],
            &[8],
        ])
    );
    // Longest match: everyone but the victim sends to the attacker.
    assert_eq!(o.summary().attacker, 6);

    // ROV everywhere but the attacker: the /24 is RPKI-invalid (ROA max length 16) and dies at
    // 4 and 5; only 8 holds it.
    let adopters = vec![1, 2, 3, 4, 5, 6, 7];
    let rov = propagate(
        &g,
        &sc.clone().with_defences(
            Defences {
                rov: true,
                ..Defences::none()
            },
            adopters,
        ),
    )
    .unwrap();
    assert_eq!(paths(&rov, &g, 1), expect(&[&[8]]));
    assert_eq!(rov.summary().victim, 6);
    assert_eq!(
        rov.explain(4).unwrap().prefixes[1].candidates[0].rejected,
        Some(Rejection::RovInvalid)
    );
}

#[test]
fn partial_rov_leaves_collateral_damage_through_non_adopting_next_hops() {
    let g = graph();
    let sc = Scenario::new(AttackKind::Subprefix, 6, 8).with_defences(
        Defences {
            rov: true,
            ..Defences::none()
        },
        vec![4],
    );
    let o = propagate(&g, &sc).unwrap();
    // /24: 4 drops it. 5 [5,8]; 1 has no customer route; 2 from customer 5; across: 1 from
    // peer 2, 3 from peer 5; down: 4 rejects both providers' invalid routes; 7 from 3; 6 from 3.
    assert_eq!(
        paths(&o, &g, 1),
        expect(&[
            &[1, 2, 5, 8],
            &[2, 5, 8],
            &[3, 5, 8],
            &[5, 8],
            &[6, 3, 5, 8],
            &[7, 3, 5, 8],
            &[8],
        ])
    );
    // 4 holds only the /16 via 1, but 1 forwards the /24 traffic to the attacker.
    assert_eq!(o.route(4, 1), None);
    assert_eq!(o.route(4, 0).unwrap().as_path, vec![4, 1, 3, 6]);
    assert_eq!(o.data_plane(4), Some(DataPlane::Attacker));
    assert_eq!(o.summary().attacker, 6);
}

#[test]
fn forged_origin_subprefix_rov_depends_on_max_length() {
    let g = graph();
    let all = vec![1, 2, 3, 4, 5, 6, 7];
    let base = Scenario::new(AttackKind::ForgedOriginSubprefix, 6, 8).with_defences(
        Defences {
            rov: true,
            ..Defences::none()
        },
        all,
    );
    // Strict ROA (max length 16): the /24 with origin 6 is too long, Invalid, dropped.
    let strict = propagate(&g, &base).unwrap();
    assert_eq!(paths(&strict, &g, 1), expect(&[&[8, 6]]));
    assert_eq!(strict.summary().attacker, 0);
    // Loose ROA (max length 24): the forged route is Valid and ROV does nothing.
    let mut loose = base.clone();
    loose.roas = Some(vec![Roa {
        prefix: "10.0.0.0/16".parse().unwrap(),
        max_length: 24,
        asn: 6,
    }]);
    let o = propagate(&g, &loose).unwrap();
    // /24 path [8,6]: 4 [4,8,6], 5 [5,8,6], 1 from 4, 2 from 4 (tie with 5), 3 from peer 5,
    // 7 from 4 (len 3 < 4), 6 refuses it (its own ASN is on the path: loop).
    assert_eq!(
        paths(&o, &g, 1),
        expect(&[
            &[1, 4, 8, 6],
            &[2, 4, 8, 6],
            &[3, 5, 8, 6],
            &[4, 8, 6],
            &[5, 8, 6],
            &[7, 4, 8, 6],
            &[8, 6],
        ])
    );
    assert_eq!(o.summary().attacker, 6);
    let e6 = o.explain(6).unwrap();
    assert!(e6.prefixes[1]
        .candidates
        .iter()
        .all(|c| c.rejected == Some(Rejection::Loop)));
    assert_eq!(e6.prefixes[1].rule, DecidingRule::NoCandidate);
}

#[test]
fn aspa_verification_valid_invalid_unknown() {
    let g = graph();
    let id = |a: u32| g.id(a).unwrap();
    let ids = |p: &[u32]| p.iter().map(|&a| id(a)).collect::<Vec<_>>();
    let all = |_: u32| true;
    let only = |set: &'static [u32]| {
        let g = graph();
        move |x: u32| set.contains(&g.asn(x))
    };
    // Upstream: 1 receives [3,6] from customer 3; 6 attests provider 3.
    assert_eq!(
        aspa::verify(&g, &all, &ids(&[3, 6]), Direction::Upstream),
        AspaState::Valid
    );
    // 6 without a record: Unknown.
    assert_eq!(
        aspa::verify(&g, &only(&[3]), &ids(&[3, 6]), Direction::Upstream),
        AspaState::Unknown
    );
    // Forged origin [8,6]: 6 attests only 3, so hop(6,8) is not provider+: Invalid.
    assert_eq!(
        aspa::verify(&g, &only(&[6]), &ids(&[8, 6]), Direction::Upstream),
        AspaState::Invalid
    );
    // 7 leaks its provider route [3,6] to provider 4: hop(3,7) is not provider+ (3 attests 1).
    assert_eq!(
        aspa::verify(&g, &all, &ids(&[7, 3, 6]), Direction::Upstream),
        AspaState::Invalid
    );
    assert_eq!(
        aspa::verify(&g, &only(&[6, 7]), &ids(&[7, 3, 6]), Direction::Upstream),
        AspaState::Unknown
    );
    // Downstream: 8 receives [5,3,6] from provider 5: up-ramp 6->3 (2), down-ramp 5 (1), a
    // peer hop in between: 2 + 1 >= 3, Valid.
    assert_eq!(
        aspa::verify(&g, &all, &ids(&[5, 3, 6]), Direction::Downstream),
        AspaState::Valid
    );
    // 8 receives the leaked [4,7,3,6] from provider 4: ramps 2 + 1 < 4: Invalid.
    assert_eq!(
        aspa::verify(&g, &all, &ids(&[4, 7, 3, 6]), Direction::Downstream),
        AspaState::Invalid
    );
    // With records only at 6 and 7: max ramps cover it, proven ramps (2 + 1) do not: Unknown.
    assert_eq!(
        aspa::verify(
            &g,
            &only(&[6, 7]),
            &ids(&[4, 7, 3, 6]),
            Direction::Downstream
        ),
        AspaState::Unknown
    );
    // 7 receives [4,1,3,6] from its provider 4: up 6->3->1, down 1->4: Valid.
    assert_eq!(
        aspa::verify(&g, &all, &ids(&[4, 1, 3, 6]), Direction::Downstream),
        AspaState::Valid
    );
    // Prepending is collapsed before verification.
    assert_eq!(
        aspa::verify(&g, &all, &ids(&[3, 6, 6, 6]), Direction::Upstream),
        AspaState::Valid
    );
}

#[test]
fn aspa_stops_forged_origin_only_when_the_victim_attests() {
    let g = graph();
    let aspa = Defences {
        aspa: true,
        ..Defences::none()
    };
    let mut sc = Scenario::new(AttackKind::ForgedOrigin, 6, 8).with_defences(aspa, vec![4, 5]);
    sc.aspa_records = Some(vec![6]);
    let o = propagate(&g, &sc).unwrap();
    // 4 and 5 drop [8,6] (Invalid); the legitimate routes win everywhere else; 4 then learns
    // from providers 1 [1,3,6] and 2 [2,1,3,6].
    assert_eq!(
        paths(&o, &g, 0),
        expect(&[
            &[1, 3, 6],
            &[2, 1, 3, 6],
            &[3, 6],
            &[4, 1, 3, 6],
            &[5, 3, 6],
            &[6],
            &[7, 3, 6],
            &[8, 6],
        ])
    );
    assert_eq!(o.summary().attacker, 0);
    assert_eq!(
        o.explain(5).unwrap().prefixes[0]
            .candidates
            .iter()
            .find(|c| c.neighbor == 8)
            .unwrap()
            .rejected,
        Some(Rejection::AspaInvalid)
    );
    // The victim publishes nothing: Unknown, accepted. 4 [4,8,6], 5 [5,8,6]; 1 keeps [1,3,6]
    // (3 < 4 hops); 2 picks customer 4 over 5 (tie); 7 prefers 3 (length 3 vs 4).
    sc.aspa_records = Some(vec![4, 5]);
    let o = propagate(&g, &sc).unwrap();
    assert_eq!(o.route(2, 0).unwrap().as_path, vec![2, 4, 8, 6]);
    assert_eq!(o.route(7, 0).unwrap().as_path, vec![7, 3, 6]);
    assert_eq!(attacker_ases(&o, &g), vec![2, 4, 5, 8]);
}

#[test]
fn route_leak_propagates_and_aspa_or_peer_lock_stop_it() {
    let g = graph();
    // 7 learns [7,3,6] from provider 3 and leaks it to providers 3 and 4. 3 refuses (loop); 4
    // takes it as a customer route [4,7,3,6]; 1 keeps [1,3,6] (shorter); 2 takes it from
    // customer 4 [2,4,7,3,6]; 5 from peer 3; 8 prefers 5 (4 ASes vs 5).
    let sc = Scenario::new(AttackKind::RouteLeak, 6, 7).with_collectors(vec![2]);
    let o = propagate(&g, &sc).unwrap();
    assert_eq!(
        paths(&o, &g, 0),
        expect(&[
            &[1, 3, 6],
            &[2, 4, 7, 3, 6],
            &[3, 6],
            &[4, 7, 3, 6],
            &[5, 3, 6],
            &[6],
            &[7, 3, 6],
            &[8, 5, 3, 6],
        ])
    );
    assert_eq!(attacker_ases(&o, &g), vec![2, 4, 7]);
    let s = o.summary();
    assert_eq!((s.counted, s.attacker, s.victim), (6, 2, 4));
    // The collector at 2 sees a valley (6 up to 3, down to 7, up to 4): the leak is detected,
    // while origin and upstream look legitimate.
    assert!(s.alerts.path_valley);
    assert!(!s.alerts.origin_change && !s.alerts.new_upstream && !s.alerts.new_subprefix);
    assert_eq!(
        o.explain(4).unwrap().prefixes[0].rule,
        DecidingRule::Relationship
    );

    // ASPA at 4, everyone attests: 4 drops the leak and falls back to provider 1.
    let mut aspa = sc.clone().with_defences(
        Defences {
            aspa: true,
            ..Defences::none()
        },
        vec![4],
    );
    aspa.aspa_records = Some(g.asns().to_vec());
    let o = propagate(&g, &aspa).unwrap();
    assert_eq!(o.route(4, 0).unwrap().as_path, vec![4, 1, 3, 6]);
    assert_eq!(o.route(2, 0).unwrap().as_path, vec![2, 1, 3, 6]);
    assert_eq!(o.summary().attacker, 0);
}

#[test]
fn peer_lock_drops_a_leak_carrying_a_tier1() {
    let g = graph();
    // 4 leaks [4,1,3,6] (from provider 1) to everyone. 1 refuses (loop); 2 takes it from
    // customer 4; 7 prefers 3 (3 hops vs 5); 8 prefers 5 (4 vs 5).
    let sc = Scenario::new(AttackKind::RouteLeak, 6, 4);
    let o = propagate(&g, &sc).unwrap();
    assert_eq!(o.route(2, 0).unwrap().as_path, vec![2, 4, 1, 3, 6]);
    assert_eq!(o.route(7, 0).unwrap().as_path, vec![7, 3, 6]);
    assert_eq!(o.route(8, 0).unwrap().as_path, vec![8, 5, 3, 6]);
    assert_eq!(attacker_ases(&o, &g), vec![2, 4]);
    // Peer-lock at 2 (tier-1s 1 and 2 are locked): a customer route through 1 is refused; 2
    // falls back to its peer 1.
    let locked = sc.with_defences(
        Defences {
            peer_lock: true,
            ..Defences::none()
        },
        vec![2],
    );
    let o = propagate(&g, &locked).unwrap();
    assert_eq!(o.route(2, 0).unwrap().as_path, vec![2, 1, 3, 6]);
    assert_eq!(o.summary().attacker, 0);
    let e = o.explain(2).unwrap();
    let c4 = e.prefixes[0]
        .candidates
        .iter()
        .find(|c| c.neighbor == 4)
        .unwrap();
    assert_eq!(c4.rejected, Some(Rejection::PeerLock));
}

#[test]
fn no_export_hijack_is_invisible_to_collectors() {
    let g = graph();
    let collectors = vec![1, 2, 4];
    let loud = Scenario::new(AttackKind::Prefix, 6, 8).with_collectors(collectors.clone());
    let o = propagate(&g, &loud).unwrap();
    // Unscoped: 2 exports [2,4,8] to its collector: origin change.
    assert!(o.summary().alerts.origin_change);
    assert_eq!(o.summary().collectors_seeing_attacker, 2); // 2 and 4

    let quiet = loud.with_scope(Scope {
        targets: Targets::All,
        no_export: true,
    });
    let o = propagate(&g, &quiet).unwrap();
    // 4 and 5 keep [x,8] tagged NO_EXPORT and pass it to nobody: 1 keeps [1,3,6], 2 has no
    // customer route and takes peer 1's, 7 only hears 3.
    assert_eq!(
        paths(&o, &g, 0),
        expect(&[
            &[1, 3, 6],
            &[2, 1, 3, 6],
            &[3, 6],
            &[4, 8],
            &[5, 8],
            &[6],
            &[7, 3, 6],
            &[8],
        ])
    );
    assert_eq!(attacker_ases(&o, &g), vec![4, 5, 8]);
    let s = o.summary();
    assert_eq!(s.attacker, 2);
    // 4 holds the attacker's route but may not export it to the collector either.
    assert_eq!(s.collectors_seeing_attacker, 0);
    assert!(!s.alerts.any());
    assert!(s.stealth_gap() > 0.0);
    assert!(o.collector_view().iter().all(|c| c.collector_peer != 4));
}

#[test]
fn hijack_sent_only_to_chosen_neighbours() {
    let g = graph();
    for scope in [
        Scope {
            targets: Targets::Only(vec![5]),
            no_export: false,
        },
        Scope {
            targets: Targets::NonCollectors,
            no_export: false,
        },
    ] {
        let sc = Scenario::new(AttackKind::Prefix, 6, 8)
            .with_scope(scope)
            .with_collectors(vec![4]);
        let o = propagate(&g, &sc).unwrap();
        // Only 5 hears [8]: 5 [5,8], 2 from customer 5, 1 keeps [1,3,6]; 4 has providers 1 and
        // 2 with 3-hop paths: tie, 1 wins; 7 from 3.
        assert_eq!(
            paths(&o, &g, 0),
            expect(&[
                &[1, 3, 6],
                &[2, 5, 8],
                &[3, 6],
                &[4, 1, 3, 6],
                &[5, 8],
                &[6],
                &[7, 3, 6],
                &[8],
            ])
        );
        assert_eq!(attacker_ases(&o, &g), vec![2, 5, 8]);
        // The only collector peer (4) routes to the victim: nothing to see.
        assert!(!o.summary().alerts.any());
    }
}

#[test]
fn forged_origin_raises_new_upstream_and_subprefix_alerts() {
    let g = graph();
    let o = propagate(
        &g,
        &Scenario::new(AttackKind::ForgedOrigin, 6, 8).with_collectors(vec![2]),
    )
    .unwrap();
    // 2 sees [2,4,8,6]: origin is the victim, but 8 is not a neighbour of 6.
    let a = o.summary().alerts;
    assert!(a.new_upstream && !a.origin_change && !a.new_subprefix);
    let o = propagate(
        &g,
        &Scenario::new(AttackKind::Subprefix, 6, 8).with_collectors(vec![2]),
    )
    .unwrap();
    let a = o.summary().alerts;
    assert!(a.new_subprefix && a.origin_change);
}

#[test]
fn per_as_records_cover_every_as() {
    let g = graph();
    let o = propagate(&g, &Scenario::new(AttackKind::Subprefix, 6, 8)).unwrap();
    let recs: Vec<_> = o.records().collect();
    // Every AS holds both the /16 and the /24 (the victim's /24 comes from 3): 8 + 8 records.
    assert_eq!(recs.len(), 16);
    let line = serde_json::to_string(&recs[0]).unwrap();
    assert_eq!(
        line,
        r#"{"asn":1,"prefix":"10.0.0.0/16","as_path":[1,3,6],"received_from":3,"relationship":"customer","outcome":"attacker"}"#
    );
}
