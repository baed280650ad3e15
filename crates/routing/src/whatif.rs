//! What-if: routing after changes (links or nodes down, cost changes, BGP sessions down).
//!
//! Every change is applied to a copy of the topology and configuration and the whole network is
//! recomputed; that is always correct, and at the sizes nettwin targets it is fast enough to
//! sweep every single failure.

use crate::config::NeighborConfig;
use crate::{compute_config, config, Routing, RoutingError};
use nettwin_model::{IfRef, LinkId, NodeId, Topology};

/// One change to the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    LinkDown(LinkId),
    NodeDown(NodeId),
    /// Set the IGP cost of both ends of a link (OSPF and IS-IS).
    LinkCost(LinkId, u32),
    /// Set the IGP cost of one interface (`ip ospf cost` on a device).
    InterfaceCost(IfRef, u32),
    /// Shut the BGP sessions between two routers.
    SessionDown(NodeId, NodeId),
}

/// The topology with the interface-level changes applied.
pub fn apply(topo: &Topology, changes: &[Change]) -> Result<Topology, RoutingError> {
    let mut t = topo.clone();
    for c in changes {
        match *c {
            Change::LinkDown(l) => {
                let link = t
                    .links
                    .get(l.index())
                    .ok_or_else(|| RoutingError::UnknownElement(format!("no link {}", l.0)))?
                    .clone();
                for e in &link.ends {
                    t.nodes[e.node.index()].interfaces[e.index as usize].up = false;
                }
            }
            Change::NodeDown(n) => {
                let node = t
                    .nodes
                    .get_mut(n.index())
                    .ok_or_else(|| RoutingError::UnknownElement(format!("no node {}", n.0)))?;
                for i in &mut node.interfaces {
                    i.up = false;
                }
            }
            Change::LinkCost(..) | Change::InterfaceCost(..) | Change::SessionDown(..) => {}
        }
    }
    // A cable with one end shut is down at both ends (the far end loses carrier); on a shared
    // medium the other stations stay up.
    for link in &t.links {
        if link.ends.len() == 2 && link.ends.iter().any(|e| !t.interface(*e).up) {
            for e in link.ends.clone() {
                t.nodes[e.node.index()].interfaces[e.index as usize].up = false;
            }
        }
    }
    Ok(t)
}

/// Computes routing after `changes`.
pub fn compute_with(topo: &Topology, changes: &[Change]) -> Result<Routing, RoutingError> {
    let t = apply(topo, changes)?;
    let mut cfg = config::decode(&t).map_err(RoutingError::Config)?;
    for c in changes {
        match *c {
            Change::LinkCost(l, cost) => {
                let link = t
                    .links
                    .get(l.index())
                    .ok_or_else(|| RoutingError::UnknownElement(format!("no link {}", l.0)))?;
                for e in &link.ends {
                    cfg.ospf_if[e.node.index()][e.index as usize].cost = cost.min(65535);
                    cfg.isis_if[e.node.index()][e.index as usize].cost = cost;
                }
            }
            Change::SessionDown(a, b) => {
                for (x, y) in [(a, b), (b, a)] {
                    if let Some(bgp) = cfg.bgp.get_mut(x.index()).and_then(Option::as_mut) {
                        match bgp.neighbors.iter_mut().find(|n| n.peer == Some(y)) {
                            Some(n) => n.shutdown = true,
                            None => bgp.neighbors.push(NeighborConfig {
                                peer: Some(y),
                                shutdown: true,
                                ..NeighborConfig::default()
                            }),
                        }
                    }
                }
            }
            Change::InterfaceCost(r, cost) => {
                let known = cfg
                    .ospf_if
                    .get(r.node.index())
                    .is_some_and(|ifs| (r.index as usize) < ifs.len());
                if !known {
                    return Err(RoutingError::UnknownElement(format!(
                        "no interface {} on node {}",
                        r.index, r.node.0
                    )));
                }
                cfg.ospf_if[r.node.index()][r.index as usize].cost = cost.min(65535);
                cfg.isis_if[r.node.index()][r.index as usize].cost = cost;
            }
            Change::LinkDown(_) | Change::NodeDown(_) => {}
        }
    }
    compute_config(&t, cfg)
}
