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

/// The routing state of one node.
#[derive(Clone, Debug, Serialize)]
pub struct NodeRouting {
    /// Every candidate route from every source, winners and losers.
    pub rib: Vec<Route>,
    /// The winners, one per prefix.
    #[serde(skip)]
    pub fib: Fib,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgp: Option<BgpRouter>,
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

    /// All candidates for exactly `prefix` at `node`.
    pub fn candidates(&self, id: NodeId, prefix: &Prefix) -> Vec<&Route> {
        self.nodes[id.index()]
            .rib
            .iter()
            .filter(|r| r.prefix == *prefix)
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
    let base: Vec<Fib> = candidates
        .iter()
        .map(|c| Fib::new(rib::select(c)))
        .collect();
    let bgp = bgp::compute(topo, &cfg, &base)?;
    let nodes = candidates
        .into_iter()
        .zip(bgp)
        .zip(base)
        .map(|((mut rib, bgp), base)| {
            if let Some(b) = &bgp {
                rib.extend(bgp::routes(b, &base, &cfg.distances));
            }
            rib.sort_by(|a, b| {
                (a.prefix, a.distance, a.metric).cmp(&(b.prefix, b.distance, b.metric))
            });
            let fib = Fib::new(rib::select(&rib));
            NodeRouting { rib, fib, bgp }
        })
        .collect();
    Ok(Routing { nodes, config: cfg })
}
