//! Routing for nettwin: what each router's routing table holds, computed from a validated
//! topology the way real routers would: connected and local routes, static routes (recursive,
//! interface, discard, floating), a link-state IGP (OSPF with areas, IS-IS level 2; SPF with ECMP
//! and LAN pseudonodes) and BGP (eBGP/iBGP, route reflectors, policies, multipath, the full
//! decision process). Every candidate goes into the RIB; the winners by administrative distance
//! go into the FIB, searched by longest-prefix match in a trie.
//!
//! This crate does not forward packets (that is `dataplane`) and prints nothing.

pub mod bgp;
pub mod config;
pub mod explain;
pub mod igp;
pub mod rib;
mod statics;
pub mod whatif;

pub use bgp::{BgpPath, BgpRouter, Community, Origin, Peer, SessionKind, Step};
pub use config::RoutingConfig;
pub use explain::{explain, Explanation};
pub use rib::{Action, BgpAttrs, Distances, Fib, NextHop, Protocol, Route};
pub use whatif::{compute_with, Change};

use nettwin_model::{Diagnostics, NodeId, Prefix, Topology};
use rayon::prelude::*;
use serde::Serialize;

/// Why routing could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// The protocol sections of the topology file have mistakes.
    #[error("{0}")]
    Config(Diagnostics),
    #[error(transparent)]
    Bgp(#[from] bgp::BgpError),
    /// A what-if names something the topology does not have.
    #[error("{0}")]
    UnknownElement(String),
}

/// The routing state of one node. The RIB is the FIB's winners plus the `alternates` that lost
/// to them; keeping them apart avoids a second copy of every installed route.
#[derive(Clone, Debug, Serialize)]
pub struct NodeRouting {
    /// The winners, one per prefix.
    #[serde(skip)]
    pub fib: Fib,
    /// Candidates that are not installed (higher distance or metric), sorted by prefix.
    pub alternates: Vec<Route>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgp: Option<BgpRouter>,
}

impl NodeRouting {
    /// Every candidate, sorted by prefix then preference, with whether it is installed.
    pub fn rib(&self) -> Vec<(&Route, bool)> {
        let mut all: Vec<(&Route, bool)> = self
            .fib
            .routes()
            .iter()
            .map(|r| (r, true))
            .chain(self.alternates.iter().map(|r| (r, false)))
            .collect();
        all.sort_by_key(|(r, installed)| (r.prefix, !*installed, r.distance, r.metric));
        all
    }
}

/// The converged routing state of a whole network.
#[derive(Clone, Debug)]
pub struct Routing {
    pub nodes: Vec<NodeRouting>,
    pub config: RoutingConfig,
}

impl Routing {
    pub fn node(&self, id: NodeId) -> &NodeRouting {
        &self.nodes[id.index()]
    }

    pub fn fib(&self, id: NodeId) -> &Fib {
        &self.nodes[id.index()].fib
    }

    /// All candidates for exactly `prefix` at `node`, the installed one first.
    pub fn candidates(&self, id: NodeId, prefix: &Prefix) -> Vec<&Route> {
        let n = &self.nodes[id.index()];
        let start = n.alternates.partition_point(|r| r.prefix < *prefix);
        n.fib
            .get(prefix)
            .into_iter()
            .chain(
                n.alternates[start..]
                    .iter()
                    .take_while(|r| r.prefix == *prefix),
            )
            .collect()
    }
}

/// Computes every router's RIB and FIB.
pub fn compute(topo: &Topology) -> Result<Routing, RoutingError> {
    compute_with(topo, &[])
}

/// The pipeline, after what-if changes have been applied to `topo` and `cfg`.
pub(crate) fn compute_config(topo: &Topology, cfg: RoutingConfig) -> Result<Routing, RoutingError> {
    let n = topo.nodes.len();
    let mut candidates: Vec<Vec<Route>> = (0..n)
        .map(|i| statics::connected(topo, NodeId(i as u32), &cfg.distances))
        .collect();
    for igp in [igp::Igp::Ospf, igp::Igp::Isis] {
        for (i, routes) in igp::compute(topo, &cfg, igp).into_iter().enumerate() {
            candidates[i].extend(routes);
        }
    }
    for (i, c) in candidates.iter_mut().enumerate() {
        let st = statics::resolve(topo, NodeId(i as u32), c, &cfg.distances);
        c.extend(st);
    }
    let split: Vec<(Fib, Vec<Route>)> = candidates.into_par_iter().map(rib::split).collect();
    let base: Vec<&Fib> = split.iter().map(|(f, _)| f).collect();
    let bgp = bgp::compute(topo, &cfg, &base)?;
    drop(base);
    let nodes = split
        .into_par_iter()
        .zip(bgp)
        .map(|((fib, alternates), bgp)| {
            let extra = match &bgp {
                Some(b) => bgp::routes(b, &fib, &cfg.distances),
                None => Vec::new(),
            };
            if extra.is_empty() {
                return NodeRouting {
                    fib,
                    alternates,
                    bgp,
                };
            }
            let mut all = fib.into_routes();
            all.extend(alternates);
            all.extend(extra);
            let (fib, alternates) = rib::split(all);
            NodeRouting {
                fib,
                alternates,
                bgp,
            }
        })
        .collect();
    Ok(Routing { nodes, config: cfg })
}
