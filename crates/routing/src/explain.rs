//! Why a router chose the route it did for a prefix.

use crate::bgp::{BgpPath, Step};
use crate::rib::Route;
use crate::Routing;
use nettwin_model::{NodeId, Prefix};
use serde::Serialize;

/// One candidate route and how it fared.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate<'a> {
    pub route: Route<'a>,
    pub selected: bool,
    /// Why it lost (or, for the winner, why it won).
    pub reason: String,
}

/// Everything a router knows about one prefix.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation<'a> {
    pub node: String,
    pub prefix: Prefix,
    pub candidates: Vec<Candidate<'a>>,
    /// The BGP paths for the prefix with the decision step that separated each from the best.
    pub bgp_paths: Vec<BgpPath>,
    /// For a prefix the router has no route for: the route a packet would follow instead.
    pub longest_match: Option<Route<'a>>,
}

/// Explains `node`'s choice for exactly `prefix`.
pub fn explain<'a>(
    routing: &'a Routing,
    topo: &nettwin_model::Topology,
    node: NodeId,
    prefix: &Prefix,
) -> Explanation<'a> {
    let fib = routing.fib(node);
    let cands = fib.candidates(prefix);
    let winner = fib.get(prefix);
    let candidates = cands
        .iter()
        .enumerate()
        .map(|(i, r)| {
            // The installed route, when there is one, comes first.
            let selected = i == 0 && winner.is_some();
            let reason = match winner {
                Some(w) if selected => {
                    if cands.len() == 1 {
                        "the only candidate".to_string()
                    } else {
                        format!(
                            "lowest administrative distance ({}) then metric ({})",
                            w.distance, w.metric
                        )
                    }
                }
                Some(w) if r.distance > w.distance => format!(
                    "administrative distance {} is higher than {} of {}",
                    r.distance, w.distance, w.protocol
                ),
                Some(w) if r.distance == w.distance && r.metric > w.metric => {
                    format!("metric {} is higher than {}", r.metric, w.metric)
                }
                Some(_) => "an equal candidate was installed first".to_string(),
                None => "not installed".to_string(),
            };
            Candidate {
                route: *r,
                selected,
                reason,
            }
        })
        .collect();
    let bgp_paths = routing.bgp_paths(node, prefix);
    let longest_match = if winner.is_none() {
        fib.lookup(prefix.network())
    } else {
        None
    };
    Explanation {
        node: topo.node(node).name.clone(),
        prefix: *prefix,
        candidates,
        bgp_paths,
        longest_match,
    }
}

impl Step {
    /// The winning path's reason against a loser decided at this step.
    pub fn as_reason(self) -> &'static str {
        self.describe()
    }
}
