//! The full result of one scenario (every AS's chosen route per prefix and where its traffic
//! goes), what the collectors saw, and the explanation of one AS's decision.

use serde::{Deserialize, Serialize};

use crate::engine::{
    check_import, dp_from_u8, walk_path, Alerts, DataPlane, Engine, Rejection, Route, Summary,
    FROM_CUSTOMER, FROM_PEER, FROM_PROVIDER, NONE, NO_NH, ORIGIN, RF_NO_EXPORT,
};
use crate::graph::{AsGraph, Relationship};
use crate::prefix::Prefix;
use crate::scenario::{Owner, Prepared, Scenario, ScenarioError, Seed, F_COLLECTOR};

/// How an AS learnt its chosen route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteSource {
    /// The AS announces it itself (origination, forged origin or leak injection).
    Origin,
    Customer,
    Peer,
    Provider,
}

fn source_of(rel: u8) -> RouteSource {
    match rel {
        ORIGIN => RouteSource::Origin,
        FROM_CUSTOMER => RouteSource::Customer,
        FROM_PEER => RouteSource::Peer,
        _ => RouteSource::Provider,
    }
}

/// One AS's chosen route for one prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenRoute {
    pub prefix: Prefix,
    /// The AS path as this AS would export it, this AS first and the origin last.
    pub as_path: Vec<u32>,
    /// The neighbour the route came from; `None` for the announcing AS itself.
    pub received_from: Option<u32>,
    pub relationship: RouteSource,
    /// Whose announcement this is.
    pub owner: Owner,
}

/// One line of the per-AS JSONL output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerAsRecord {
    pub asn: u32,
    /// `None` (JSON null) for an AS that holds no route at all.
    pub prefix: Option<Prefix>,
    /// This AS first, origin last; empty when no route.
    pub as_path: Vec<u32>,
    pub received_from: Option<u32>,
    pub relationship: Option<RouteSource>,
    /// Where traffic from this AS to the attacked address goes (the same on every line of an
    /// AS).
    pub outcome: DataPlane,
}

/// What one collector peer exports to its collector for one prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorObservation {
    pub collector_peer: u32,
    pub prefix: Prefix,
    /// Collector peer first, origin last.
    pub as_path: Vec<u32>,
    pub owner: Owner,
}

/// The result of `propagate`.
pub struct Outcome<'g> {
    graph: &'g AsGraph,
    prepared: Prepared,
    tables: Vec<Vec<Route>>,
    data_plane: Vec<u8>,
    summary: Summary,
}

/// Runs one scenario with full detail.
pub fn propagate<'g>(
    graph: &'g AsGraph,
    scenario: &Scenario,
) -> Result<Outcome<'g>, ScenarioError> {
    let mut prepared = Prepared::new(graph, scenario)?;
    let mut engine = Engine::new(graph);
    let summary = engine.run(&mut prepared);
    Ok(Outcome {
        graph,
        tables: engine.tables[..prepared.prefixes.len()].to_vec(),
        data_plane: std::mem::take(&mut engine.data_plane),
        prepared,
        summary,
    })
}

/// Propagates and returns only the summary counts (no per-AS detail kept).
pub fn summarise(graph: &AsGraph, scenario: &Scenario) -> Result<Summary, ScenarioError> {
    let mut prepared = Prepared::new(graph, scenario)?;
    Ok(Engine::new(graph).run(&mut prepared))
}

impl<'g> Outcome<'g> {
    /// The prefixes in play: index 0 the victim's, index 1 the attacker's more specific if any.
    pub fn prefixes(&self) -> &[Prefix] {
        &self.prepared.prefixes
    }

    pub fn summary(&self) -> Summary {
        self.summary
    }

    pub fn alerts(&self) -> Alerts {
        self.summary.alerts
    }

    fn route_at(&self, k: usize, x: u32) -> Option<ChosenRoute> {
        let t = &self.tables[k];
        let r = t[x as usize];
        if r.rel == NONE {
            return None;
        }
        let mut path = Vec::new();
        walk_path(t, &self.prepared.seeds, x, NO_NH, &mut path);
        Some(ChosenRoute {
            prefix: self.prepared.prefixes[k],
            as_path: path.iter().map(|&i| self.graph.asn(i)).collect(),
            received_from: (r.nh != NO_NH).then(|| self.graph.asn(r.nh)),
            relationship: source_of(r.rel),
            owner: self.prepared.seeds[r.seed as usize].owner,
        })
    }

    /// The route `asn` chose for prefix index `k`.
    pub fn route(&self, asn: u32, k: usize) -> Option<ChosenRoute> {
        let x = self.graph.id(asn)?;
        if k >= self.tables.len() {
            return None;
        }
        self.route_at(k, x)
    }

    /// All routes `asn` holds, one per prefix it has a route for.
    pub fn routes(&self, asn: u32) -> Vec<ChosenRoute> {
        (0..self.tables.len())
            .filter_map(|k| self.route(asn, k))
            .collect()
    }

    /// Where traffic from `asn` to the attacked address goes.
    pub fn data_plane(&self, asn: u32) -> Option<DataPlane> {
        self.graph
            .id(asn)
            .map(|x| dp_from_u8(self.data_plane[x as usize]))
    }

    /// Every AS in ascending ASN order: one record per prefix it holds, or one record with no
    /// prefix if it holds none.
    pub fn records(&self) -> impl Iterator<Item = PerAsRecord> + '_ {
        (0..self.graph.len() as u32).flat_map(move |x| {
            let asn = self.graph.asn(x);
            let outcome = dp_from_u8(self.data_plane[x as usize]);
            let mut out: Vec<PerAsRecord> = (0..self.tables.len())
                .filter_map(|k| self.route_at(k, x))
                .map(|r| PerAsRecord {
                    asn,
                    prefix: Some(r.prefix),
                    as_path: r.as_path,
                    received_from: r.received_from,
                    relationship: Some(r.relationship),
                    outcome,
                })
                .collect();
            if out.is_empty() {
                out.push(PerAsRecord {
                    asn,
                    prefix: None,
                    as_path: Vec::new(),
                    received_from: None,
                    relationship: None,
                    outcome,
                });
            }
            out
        })
    }

    /// What the collector peers export to their collectors.
    pub fn collector_view(&self) -> Vec<CollectorObservation> {
        let mut v = Vec::new();
        for c in 0..self.graph.len() as u32 {
            if self.prepared.flags[c as usize] & F_COLLECTOR == 0 {
                continue;
            }
            for k in 0..self.tables.len() {
                let r = self.tables[k][c as usize];
                let visible = match r.rel {
                    NONE => false,
                    ORIGIN => {
                        let s = &self.prepared.seeds[r.seed as usize];
                        s.targets.is_none() && !s.no_export
                    }
                    _ => r.flags & RF_NO_EXPORT == 0,
                };
                if let (true, Some(route)) = (visible, self.route_at(k, c)) {
                    v.push(CollectorObservation {
                        collector_peer: route.as_path[0],
                        prefix: route.prefix,
                        as_path: route.as_path,
                        owner: route.owner,
                    });
                }
            }
        }
        v
    }

    /// Why `asn` chose what it chose.
    pub fn explain(&self, asn: u32) -> Result<Explanation, ScenarioError> {
        let x = self.graph.id(asn).ok_or(ScenarioError::UnknownAs {
            role: "explained",
            asn,
        })?;
        let mut prefixes = Vec::new();
        for k in 0..self.tables.len() {
            prefixes.push(self.explain_prefix(k, x));
        }
        Ok(Explanation {
            asn,
            outcome: dp_from_u8(self.data_plane[x as usize]),
            prefixes,
        })
    }

    fn explain_prefix(&self, k: usize, x: u32) -> PrefixExplanation {
        let g = self.graph;
        let t = &self.tables[k];
        let seeds: &[Seed] = &self.prepared.seeds;
        let chosen = self.route_at(k, x);
        if t[x as usize].rel == ORIGIN {
            return PrefixExplanation {
                prefix: self.prepared.prefixes[k],
                candidates: Vec::new(),
                chosen,
                rule: DecidingRule::Originated,
            };
        }
        let mut cands: Vec<(u64, Candidate)> = Vec::new();
        let groups: [(&[u32], u8, Relationship); 3] = [
            (g.customers(x), FROM_CUSTOMER, Relationship::Customer),
            (g.peers(x), FROM_PEER, Relationship::Peer),
            (g.providers(x), FROM_PROVIDER, Relationship::Provider),
        ];
        let mut path = Vec::new();
        for (list, class, rel) in groups {
            for &nb in list {
                let r = t[nb as usize];
                let exportable = if class == FROM_PROVIDER {
                    r.rel != NONE
                } else {
                    r.rel >= FROM_CUSTOMER
                };
                if !exportable {
                    continue;
                }
                let offered = if r.rel == ORIGIN {
                    seeds[r.seed as usize]
                        .targets
                        .as_ref()
                        .is_none_or(|t| t.binary_search(&x).is_ok())
                } else {
                    r.flags & RF_NO_EXPORT == 0
                };
                if !offered {
                    continue;
                }
                let verdict = check_import(
                    g,
                    t,
                    seeds,
                    &self.prepared.flags,
                    x,
                    nb,
                    class,
                    r.seed,
                    &mut path,
                );
                let mut full = Vec::new();
                walk_path(t, seeds, nb, NO_NH, &mut full);
                let len = r.len.saturating_add(1);
                let key =
                    ((class as u64) << 48) | ((255 - len as u64) << 32) | (u32::MAX - nb) as u64;
                cands.push((
                    key,
                    Candidate {
                        neighbor: g.asn(nb),
                        relationship: rel,
                        as_path: full.iter().map(|&i| g.asn(i)).collect(),
                        owner: seeds[r.seed as usize].owner,
                        rejected: verdict.err(),
                        chosen: false,
                    },
                ));
            }
        }
        cands.sort_by_key(|c| std::cmp::Reverse(c.0));
        let accepted: Vec<usize> = (0..cands.len())
            .filter(|&i| cands[i].1.rejected.is_none())
            .collect();
        let rule = match accepted.as_slice() {
            [] => DecidingRule::NoCandidate,
            [_] => DecidingRule::OnlyCandidate,
            [a, b, ..] => {
                let (ka, kb) = (cands[*a].0, cands[*b].0);
                if ka >> 48 != kb >> 48 {
                    DecidingRule::Relationship
                } else if (ka >> 32) & 0xFF != (kb >> 32) & 0xFF {
                    DecidingRule::PathLength
                } else {
                    DecidingRule::LowestNeighborAsn
                }
            }
        };
        if let Some(&w) = accepted.first() {
            cands[w].1.chosen = true;
        }
        PrefixExplanation {
            prefix: self.prepared.prefixes[k],
            candidates: cands.into_iter().map(|(_, c)| c).collect(),
            chosen,
            rule,
        }
    }
}

/// Runs the scenario and explains `asn`'s choice.
pub fn explain(
    graph: &AsGraph,
    scenario: &Scenario,
    asn: u32,
) -> Result<Explanation, ScenarioError> {
    propagate(graph, scenario)?.explain(asn)
}

/// The rule that separated the chosen route from the next-best accepted candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecidingRule {
    /// The AS announces the prefix itself.
    Originated,
    /// Nothing acceptable was offered.
    NoCandidate,
    /// Exactly one acceptable candidate.
    OnlyCandidate,
    /// Customer over peer over provider.
    Relationship,
    /// Same relationship, shorter AS path.
    PathLength,
    /// Same relationship and length, lowest neighbour ASN.
    LowestNeighborAsn,
}

/// A route a neighbour offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub neighbor: u32,
    /// What the neighbour is to the explained AS.
    pub relationship: Relationship,
    /// As received: neighbour first, origin last.
    pub as_path: Vec<u32>,
    pub owner: Owner,
    /// `None` when accepted by import policy.
    pub rejected: Option<Rejection>,
    pub chosen: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixExplanation {
    pub prefix: Prefix,
    /// Best first (by preference, whether accepted or not).
    pub candidates: Vec<Candidate>,
    pub chosen: Option<ChosenRoute>,
    pub rule: DecidingRule,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub asn: u32,
    pub outcome: DataPlane,
    pub prefixes: Vec<PrefixExplanation>,
}
