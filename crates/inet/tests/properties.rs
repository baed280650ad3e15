//! Properties on random graphs: chosen paths are loop-free and valley-free, each AS's route is
//! the best its neighbours' final routes offer it (a stable state), and the outcome does not
//! depend on the order the links were read in.

use proptest::prelude::*;

use nettwin_inet::{
    is_valley_free, propagate,
    synthetic::{generate, SyntheticParams},
    AsGraph, AttackKind, Defences, Scenario,
};

/// A random small graph: providers always have a lower index than customers (no cycles), plus
/// random peerings; ASNs are scattered so ASN order differs from creation order.
fn random_caida(n: usize, seed: u64) -> String {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let asn = |i: usize| (i as u32 * 7919) % 10_007 + 1;
    let mut text = String::new();
    let mut pairs = std::collections::HashSet::new();
    for c in 1..n {
        let k = 1 + (next() % 3) as usize;
        for _ in 0..k {
            let p = (next() % c as u64) as usize;
            if pairs.insert((p.min(c), p.max(c))) {
                text.push_str(&format!("{}|{}|-1\n", asn(p), asn(c)));
            }
        }
    }
    for _ in 0..n {
        let a = (next() % n as u64) as usize;
        let b = (next() % n as u64) as usize;
        if a != b && pairs.insert((a.min(b), a.max(b))) {
            text.push_str(&format!("{}|{}|0\n", asn(a), asn(b)));
        }
    }
    text
}

fn attack_of(i: u8) -> AttackKind {
    [
        AttackKind::None,
        AttackKind::Prefix,
        AttackKind::Subprefix,
        AttackKind::ForgedOrigin,
        AttackKind::ForgedOriginSubprefix,
    ][i as usize % 5]
}

fn check_paths(g: &AsGraph, sc: &Scenario) -> Result<(), TestCaseError> {
    let o = propagate(g, sc).unwrap();
    for &asn in g.asns() {
        for r in o.routes(asn) {
            let p = &r.as_path;
            let mut sorted = p.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), p.len(), "loop in {:?}", p);
            // A forged origin adds one fake last hop; the real part must be valley-free.
            let real = if r.owner == nettwin_inet::Owner::Attacker
                && matches!(
                    sc.attack,
                    AttackKind::ForgedOrigin | AttackKind::ForgedOriginSubprefix
                ) {
                &p[..p.len() - 1]
            } else {
                &p[..]
            };
            prop_assert_eq!(is_valley_free(g, real), Some(true), "valley in {:?}", p);
            // Stable state: the path continues the neighbour's own chosen path.
            if let Some(nh) = r.received_from {
                let k = o.prefixes().iter().position(|x| *x == r.prefix).unwrap();
                let theirs = o.route(nh, k).unwrap().as_path;
                prop_assert_eq!(&p[1..], &theirs[..]);
            }
        }
        // The three-phase result equals a per-AS best choice over what neighbours offer.
        let e = o.explain(asn).unwrap();
        for (k, pe) in e.prefixes.iter().enumerate() {
            let chosen = pe.candidates.iter().find(|c| c.chosen).map(|c| c.neighbor);
            let held = o.route(asn, k).and_then(|r| r.received_from);
            prop_assert_eq!(chosen, held, "AS{} prefix {}", asn, k);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn paths_are_loop_free_valley_free_and_stable(
        n in 6usize..60, seed in any::<u64>(), attack in 0u8..5,
        v in any::<u16>(), a in any::<u16>(), defence in 0u8..8, adopt in any::<u64>(),
    ) {
        let g = AsGraph::parse_caida(&random_caida(n, seed), "random").unwrap();
        let asns = g.asns();
        let victim = asns[v as usize % asns.len()];
        let attacker = asns[a as usize % asns.len()];
        prop_assume!(victim != attacker);
        let defences = Defences { rov: defence & 1 != 0, aspa: defence & 2 != 0, peer_lock: defence & 4 != 0 };
        let adopters: Vec<u32> = asns.iter().enumerate().filter(|(i, _)| adopt >> (i % 64) & 1 == 1).map(|(_, &a)| a).collect();
        let sc = Scenario::new(attack_of(attack), victim, attacker).with_defences(defences, adopters);
        check_paths(&g, &sc)?;
    }

    #[test]
    fn synthetic_graphs_give_valley_free_paths(n in 30usize..400, seed in any::<u64>(), attack in 0u8..5) {
        let g = generate(&SyntheticParams::new(n), seed).unwrap();
        let edge = g.edge_ases();
        let victim = g.asn(edge[seed as usize % edge.len()]);
        let attacker = g.asn(edge[(seed >> 20) as usize % edge.len()]);
        prop_assume!(victim != attacker);
        check_paths(&g, &Scenario::new(attack_of(attack), victim, attacker))?;
    }

    #[test]
    fn outcome_does_not_depend_on_link_order(
        n in 6usize..80, seed in any::<u64>(), shuffle in any::<u64>(), attack in 0u8..5,
    ) {
        let text = random_caida(n, seed);
        // Shuffle the lines and swap the ends of peer links.
        let mut lines: Vec<String> = text.lines().map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            if f[2] == "0" && shuffle & 1 == 1 { format!("{}|{}|0", f[1], f[0]) } else { l.to_string() }
        }).collect();
        let mut s = shuffle | 1;
        for i in (1..lines.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            lines.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let g1 = AsGraph::parse_caida(&text, "a").unwrap();
        let g2 = AsGraph::parse_caida(&lines.join("\n"), "b").unwrap();
        let asns = g1.asns();
        let sc = Scenario::new(attack_of(attack), asns[0], asns[asns.len() - 1]);
        let r1: Vec<_> = propagate(&g1, &sc).unwrap().records().collect();
        let r2: Vec<_> = propagate(&g2, &sc).unwrap().records().collect();
        prop_assert_eq!(r1, r2);
    }
}

/// An independent, naive BGP: synchronous rounds in which every AS re-picks its best route from
/// its neighbours' routes of the previous round, until nothing changes. Returns ASN -> path.
fn naive_bgp(
    g: &AsGraph,
    origins: &[(u32, Vec<u32>)],
) -> std::collections::BTreeMap<u32, Vec<u32>> {
    use nettwin_inet::Relationship;
    use std::collections::BTreeMap;
    // class: 4 origin, 3 customer, 2 peer, 1 provider
    let mut state: BTreeMap<u32, (u8, Vec<u32>)> = origins
        .iter()
        .map(|(a, p)| (*a, (4u8, p.clone())))
        .collect();
    for _round in 0..200 {
        let mut next = BTreeMap::new();
        for &x in g.asns() {
            if let Some(o) = origins.iter().find(|(a, _)| *a == x) {
                next.insert(x, (4, o.1.clone()));
                continue;
            }
            let xi = g.id(x).unwrap();
            let mut best: Option<(u8, usize, u32, Vec<u32>)> = None;
            for &ni in g
                .customers(xi)
                .iter()
                .chain(g.peers(xi))
                .chain(g.providers(xi))
            {
                let n = g.asn(ni);
                let Some((class, path)) = state.get(&n) else {
                    continue;
                };
                let rel = g.relationship(xi, ni).unwrap();
                // n exports to x if the route is n's own or from n's customer, or x is n's customer.
                let x_is_customer_of_n = rel == Relationship::Provider;
                if !(*class >= 3 || x_is_customer_of_n) || path.contains(&x) {
                    continue;
                }
                let my_class = match rel {
                    Relationship::Customer => 3,
                    Relationship::Peer => 2,
                    Relationship::Provider => 1,
                };
                let mut p = vec![x];
                p.extend(path);
                let better = match &best {
                    None => true,
                    Some((c, l, nb, _)) => {
                        (my_class, std::cmp::Reverse(p.len()), std::cmp::Reverse(n))
                            > (*c, std::cmp::Reverse(*l), std::cmp::Reverse(*nb))
                    }
                };
                if better {
                    best = Some((my_class, p.len(), n, p));
                }
            }
            if let Some((c, _, _, p)) = best {
                next.insert(x, (c, p));
            }
        }
        if next == state {
            break;
        }
        state = next;
    }
    state.into_iter().map(|(a, (_, p))| (a, p)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The three-phase result equals the fixpoint of a naive round-based BGP simulation.
    #[test]
    fn three_phases_match_naive_bgp(n in 6usize..50, seed in any::<u64>(), forged in any::<bool>()) {
        let g = AsGraph::parse_caida(&random_caida(n, seed), "random").unwrap();
        let asns = g.asns();
        let (victim, attacker) = (asns[(seed >> 8) as usize % asns.len()], asns[(seed >> 24) as usize % asns.len()]);
        prop_assume!(victim != attacker);
        let attack = if forged { AttackKind::ForgedOrigin } else { AttackKind::Prefix };
        let o = propagate(&g, &Scenario::new(attack, victim, attacker)).unwrap();
        let got: std::collections::BTreeMap<u32, Vec<u32>> = asns
            .iter()
            .filter_map(|&a| o.route(a, 0).map(|r| (a, r.as_path)))
            .collect();
        let attacker_path = if forged { vec![attacker, victim] } else { vec![attacker] };
        let want = naive_bgp(&g, &[(victim, vec![victim]), (attacker, attacker_path)]);
        prop_assert_eq!(got, want);
    }
}
