//! Seeded synthetic Internet-like AS graphs: a tier-1 clique, large and regional transit
//! providers attached by preferential attachment, multi-homed stubs, and IXP-style peering.
//! Providers are always created before their customers, so the graph has no provider cycle.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::graph::{AsGraph, GraphError, Link};
use crate::rng::Rng;

/// Shape of a synthetic graph. `SyntheticParams::new(n)` gives Internet-like proportions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticParams {
    pub ases: usize,
    /// Tier-1 clique size; `None` scales with the graph (3 to 16).
    pub tier1: Option<usize>,
    /// Share of large transit providers (customers of tier-1s).
    pub large_transit_share: f64,
    /// Share of regional transit providers.
    pub regional_transit_share: f64,
    /// Share of stubs that peer at an IXP.
    pub peering_stub_share: f64,
    /// Scale factor on the number of peerings each IXP member sets up.
    pub peering_intensity: f64,
}

impl SyntheticParams {
    pub fn new(ases: usize) -> Self {
        SyntheticParams {
            ases,
            tier1: None,
            large_transit_share: 0.01,
            regional_transit_share: 0.12,
            peering_stub_share: 0.3,
            peering_intensity: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntheticError {
    #[error("synthetic graph size {0} is out of range (10 to 1000000 ASes)")]
    Size(usize),
    #[error(transparent)]
    Graph(#[from] GraphError),
}

/// Draws `count` distinct members of `bag` (a list where an AS appears once per unit of weight).
fn draw_distinct(rng: &mut Rng, bag: &[u32], count: usize, out: &mut Vec<u32>) {
    out.clear();
    let mut tries = 0;
    while out.len() < count && tries < count * 20 {
        tries += 1;
        let c = bag[rng.below(bag.len())];
        if !out.contains(&c) {
            out.push(c);
        }
    }
}

pub fn generate(params: &SyntheticParams, seed: u64) -> Result<AsGraph, SyntheticError> {
    let n = params.ases;
    if !(10..=1_000_000).contains(&n) {
        return Err(SyntheticError::Size(n));
    }
    let mut rng = Rng::new(seed);
    let t1 = params
        .tier1
        .unwrap_or(((n as f64).sqrt() / 20.0).round() as usize)
        .clamp(3, 16)
        .min(n / 3);
    let n_large = ((n as f64 * params.large_transit_share).round() as usize).max(2);
    let n_regional = ((n as f64 * params.regional_transit_share).round() as usize).max(2);
    let transit_end = (t1 + n_large + n_regional).min(n - 1);
    let large_end = (t1 + n_large).min(transit_end);

    // Distinct random ASNs so that ASN order (the tie-break) is unrelated to position.
    let asn_space = (n as u32).saturating_mul(5).max(65_000);
    let mut used = HashSet::with_capacity(n);
    let asns: Vec<u32> = (0..n)
        .map(|_| loop {
            let a = 1 + rng.below(asn_space as usize) as u32;
            if used.insert(a) {
                break a;
            }
        })
        .collect();

    let mut pairs: HashSet<(u32, u32)> = HashSet::with_capacity(n * 8);
    let mut links: Vec<Link> = Vec::with_capacity(n * 7);
    let mut add = |a: u32, b: u32, peer: bool, links: &mut Vec<Link>| -> bool {
        if a == b || !pairs.insert((a.min(b), a.max(b))) {
            return false;
        }
        links.push(Link {
            a: asns[a as usize],
            b: asns[b as usize],
            peer,
            line: 0,
        });
        true
    };

    for a in 0..t1 as u32 {
        for b in a + 1..t1 as u32 {
            add(a, b, true, &mut links);
        }
    }
    // Preferential attachment bags: an AS appears once plus once per customer.
    let mut bag_tier1: Vec<u32> = (0..t1 as u32).collect();
    let mut bag_transit: Vec<u32> = (0..t1 as u32).collect();
    let mut chosen = Vec::new();
    for x in t1 as u32..n as u32 {
        let xi = x as usize;
        let (bag, count) = if xi < large_end {
            (&bag_tier1, 1 + rng.below(3))
        } else if xi < transit_end {
            (&bag_transit, 1 + rng.below(3))
        } else {
            let u = rng.next_f64();
            (
                &bag_transit,
                if u < 0.55 {
                    1
                } else if u < 0.9 {
                    2
                } else {
                    3
                },
            )
        };
        draw_distinct(&mut rng, bag, count, &mut chosen);
        for &p in &chosen {
            add(p, x, false, &mut links);
            if (p as usize) < t1 {
                bag_tier1.push(p);
            }
            bag_transit.push(p);
        }
        if xi < transit_end {
            if xi < large_end {
                bag_tier1.push(x);
            }
            bag_transit.push(x);
        }
    }

    // IXP peering: IXP sizes are skewed (a few huge exchanges, many small ones).
    let n_ixps = (n / 400).max(1);
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); n_ixps];
    let mut memberships: Vec<(u32, usize, usize)> = Vec::new(); // (AS, IXP, peerings wanted)
    let pick_ixp = |rng: &mut Rng| {
        let u = rng.next_f64();
        ((n_ixps as f64) * u * u * u) as usize % n_ixps
    };
    let scale = params.peering_intensity;
    for x in t1 as u32..n as u32 {
        let xi = x as usize;
        let (joins, per_ixp) = if xi < large_end {
            (3 + rng.below(4), 32.0)
        } else if xi < transit_end {
            (1 + rng.below(3), 10.0)
        } else if rng.chance(params.peering_stub_share) {
            (1, 5.0)
        } else {
            (0, 0.0)
        };
        for _ in 0..joins {
            let ixp = pick_ixp(&mut rng);
            members[ixp].push(x);
            let want = (per_ixp * scale * (0.5 + rng.next_f64())).round() as usize;
            memberships.push((x, ixp, want));
        }
    }
    for (x, ixp, want) in memberships {
        let m = &members[ixp];
        if m.len() < 2 {
            continue;
        }
        for _ in 0..want.min(m.len() - 1) {
            let y = m[rng.below(m.len())];
            add(x, y, true, &mut links);
        }
    }
    // Isolated ASes cannot occur: every AS past the clique has at least one provider.
    Ok(AsGraph::from_links(links, "synthetic")?)
}
