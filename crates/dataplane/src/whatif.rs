//! Failure what-ifs: routing and reachability before and after links or nodes fail or link MTUs
//! change, as a diff (routes, pairs lost, pairs gained, paths moved), and a ranking of every
//! single link and node failure by the pairs it breaks.

use crate::reach::{reach, FailedPair, Reach, ReachOptions, ReachSummary};
use crate::{DataplaneError, Net};
use nettwin_model::{LinkId, NodeId, Prefix, Topology};
use nettwin_routing::{Change, Route, Routing};
use rayon::prelude::*;
use serde::Serialize;

/// What is failed or changed.
#[derive(Clone, Debug, Default)]
pub struct Scenario {
    pub links_down: Vec<LinkId>,
    pub nodes_down: Vec<NodeId>,
    /// New MTU for both ends of a link.
    pub mtu: Vec<(LinkId, u32)>,
}

impl Scenario {
    fn changes(&self) -> Vec<Change> {
        self.links_down
            .iter()
            .map(|l| Change::LinkDown(*l))
            .chain(self.nodes_down.iter().map(|n| Change::NodeDown(*n)))
            .collect()
    }
}

/// The network in one state: operational topology, routing on it, reachability.
pub struct State {
    pub topo: Topology,
    pub routing: Routing,
    pub reach: Reach,
}

/// Computes the state after `scenario` (the empty scenario gives the base state).
pub fn state(
    topo: &Topology,
    scenario: &Scenario,
    options: ReachOptions,
) -> Result<State, DataplaneError> {
    let mut t = topo.clone();
    for &(l, mtu) in &scenario.mtu {
        let link = t
            .links
            .get(l.index())
            .ok_or_else(|| DataplaneError::BadRequest(format!("no link {}", l.0)))?
            .clone();
        for e in link.ends {
            t.nodes[e.node.index()].interfaces[e.index as usize].mtu = mtu;
        }
    }
    let changes = scenario.changes();
    let routing = nettwin_routing::compute_with(&t, &changes)?;
    let topo = nettwin_routing::whatif::apply(&t, &changes)?;
    let reach = reach(&Net::new(&topo, &routing), options);
    Ok(State {
        topo,
        routing,
        reach,
    })
}

/// A route that appeared, disappeared or changed at a node.
#[derive(Clone, Debug, Serialize)]
pub struct RouteChange {
    pub node: String,
    pub prefix: Prefix,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RouteDiff {
    pub nodes_changed: usize,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    /// Every change, node by node.
    pub changes: Vec<RouteChange>,
}

/// A pair whose paths moved (delivered before and after, by different paths).
#[derive(Clone, Debug, Serialize)]
pub struct Moved {
    pub from: String,
    pub to: std::net::IpAddr,
    pub to_node: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct WhatifReport {
    pub routes: RouteDiff,
    pub before: ReachSummary,
    pub after: ReachSummary,
    /// Pairs that worked and now fail (pairs of failed nodes themselves excluded).
    pub lost: Vec<FailedPair>,
    /// Pairs that failed and now work.
    pub gained: Vec<FailedPair>,
    /// Pairs from or to a failed node, which fail by definition.
    pub lost_with_failed_nodes: usize,
    pub moved: Vec<Moved>,
    /// TE tunnels rerouted by CSPF or down, and prefixes moved in or out of tunnels.
    #[serde(skip_serializing_if = "nettwin_routing::te::TeDiff::is_empty")]
    pub te: nettwin_routing::te::TeDiff,
}

fn describe(topo: &Topology, node: NodeId, r: &Route) -> String {
    let n = topo.node(node);
    let hops: Vec<String> = r
        .next_hops()
        .iter()
        .map(|h| {
            let ifn = &n.interfaces[h.interface as usize].name;
            match h.address {
                Some(a) => format!("via {a} {ifn}"),
                None => format!("direct {ifn}"),
            }
        })
        .collect();
    let what = match r.action {
        nettwin_routing::Action::Receive => "local".to_string(),
        nettwin_routing::Action::Discard => "discard".to_string(),
        nettwin_routing::Action::Forward { .. } => hops.join(", "),
    };
    format!("{} {}/{} {what}", r.protocol, r.distance, r.metric)
}

/// Differences between two routings of the same nodes.
pub fn route_diff(before: &State, after: &State) -> RouteDiff {
    let mut d = RouteDiff::default();
    for n in before.topo.nodes.iter().filter(|n| n.kind.is_ip()) {
        let mut touched = false;
        // The global table, then each VRF's (`r1 vrf red`).
        for vrf in std::iter::once(None).chain((0..n.vrfs.len() as u32).map(Some)) {
            let a = before.routing.fib_in(n.id, vrf).routes();
            let b = after.routing.fib_in(n.id, vrf).routes();
            let name = match vrf {
                Some(k) => nettwin_routing::vrf::instance_name(&n.name, &n.vrfs[k as usize].name),
                None => n.name.clone(),
            };
            let (mut i, mut j) = (0, 0);
            let mut push = |c: RouteChange| {
                touched = true;
                d.changes.push(c)
            };
            while i < a.len() || j < b.len() {
                // Both tables are sorted by prefix: walk them side by side.
                let order = match (a.get(i), b.get(j)) {
                    (Some(x), Some(y)) => x.prefix.cmp(&y.prefix),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => break,
                };
                match order {
                    std::cmp::Ordering::Equal => {
                        if a[i].action != b[j].action
                            || a[i].protocol != b[j].protocol
                            || a[i].metric != b[j].metric
                        {
                            push(RouteChange {
                                node: name.clone(),
                                prefix: a[i].prefix,
                                change: "changed",
                                before: Some(describe(&before.topo, n.id, &a[i])),
                                after: Some(describe(&after.topo, n.id, &b[j])),
                            });
                        }
                        i += 1;
                        j += 1;
                    }
                    std::cmp::Ordering::Less => {
                        push(RouteChange {
                            node: name.clone(),
                            prefix: a[i].prefix,
                            change: "removed",
                            before: Some(describe(&before.topo, n.id, &a[i])),
                            after: None,
                        });
                        i += 1;
                    }
                    std::cmp::Ordering::Greater => {
                        push(RouteChange {
                            node: name.clone(),
                            prefix: b[j].prefix,
                            change: "added",
                            before: None,
                            after: Some(describe(&after.topo, n.id, &b[j])),
                        });
                        j += 1;
                    }
                }
            }
        }
        if touched {
            d.nodes_changed += 1;
        }
    }
    for c in &d.changes {
        match c.change {
            "added" => d.added += 1,
            "removed" => d.removed += 1,
            _ => d.changed += 1,
        }
    }
    d
}

/// Compares the base state with the state after `scenario`.
pub fn whatif(
    topo: &Topology,
    scenario: &Scenario,
    options: ReachOptions,
) -> Result<WhatifReport, DataplaneError> {
    let (before, after) = rayon::join(
        || state(topo, &Scenario::default(), options),
        || state(topo, scenario, options),
    );
    let (before, after) = (before?, after?);
    Ok(compare(&before, &after, &scenario.nodes_down))
}

/// The diff between two states of the same topology.
pub fn compare(before: &State, after: &State, failed_nodes: &[NodeId]) -> WhatifReport {
    let (rb, ra) = (&before.reach, &after.reach);
    let mut report = WhatifReport {
        routes: route_diff(before, after),
        before: rb.summary(),
        after: ra.summary(),
        lost: Vec::new(),
        gained: Vec::new(),
        lost_with_failed_nodes: 0,
        moved: Vec::new(),
        te: nettwin_routing::te::diff(&before.topo, &before.routing, &after.routing),
    };
    for (s, d) in rb.pairs() {
        let (cb, ca) = (rb.cell(s, d), ra.cell(s, d));
        let (ob, oa) = (cb.disposition.is_delivered(), ca.disposition.is_delivered());
        let involves_failed =
            failed_nodes.contains(&rb.sources[s]) || failed_nodes.contains(&rb.dests[d].node);
        if ob && !oa {
            if involves_failed {
                report.lost_with_failed_nodes += 1;
            } else {
                report.lost.push(ra.failed_pair(&after.topo, s, d));
            }
        } else if !ob && oa {
            report.gained.push(rb.failed_pair(&before.topo, s, d));
        } else if ob && oa && cb.paths != ca.paths {
            report.moved.push(Moved {
                from: rb.source_name(&before.topo, s),
                to: rb.dests[d].addr,
                to_node: rb.dest_name(&before.topo, d),
            });
        }
    }
    report
}

/// One element's failure and the pairs it breaks.
#[derive(Clone, Debug, Serialize)]
pub struct Impact {
    /// `link` or `node`.
    pub kind: &'static str,
    pub name: String,
    /// Pairs between surviving nodes that worked before and fail after.
    pub pairs_lost: usize,
    pub pairs_gained: usize,
    pub paths_moved: usize,
}

/// Fails every link and every node alone, in parallel, and ranks them by pairs lost (then
/// paths moved, then name).
pub fn single_failures(
    topo: &Topology,
    options: ReachOptions,
) -> Result<Vec<Impact>, DataplaneError> {
    let base = state(topo, &Scenario::default(), options)?;
    let mut scenarios: Vec<(&'static str, String, Scenario)> = Vec::new();
    for l in &topo.links {
        scenarios.push((
            "link",
            l.name.clone(),
            Scenario {
                links_down: vec![l.id],
                ..Scenario::default()
            },
        ));
    }
    for n in &topo.nodes {
        scenarios.push((
            "node",
            n.name.clone(),
            Scenario {
                nodes_down: vec![n.id],
                ..Scenario::default()
            },
        ));
    }
    let mut out = scenarios
        .into_par_iter()
        .map(|(kind, name, sc)| {
            let after = state(topo, &sc, options)?;
            let r = compare(&base, &after, &sc.nodes_down);
            Ok(Impact {
                kind,
                name,
                pairs_lost: r.lost.len(),
                pairs_gained: r.gained.len(),
                paths_moved: r.moved.len(),
            })
        })
        .collect::<Result<Vec<Impact>, DataplaneError>>()?;
    out.sort_by(|a, b| {
        b.pairs_lost
            .cmp(&a.pairs_lost)
            .then(b.paths_moved.cmp(&a.paths_moved))
            .then(a.kind.cmp(b.kind))
            .then(a.name.cmp(&b.name))
    });
    Ok(out)
}
