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
pub use rib::{Action, BgpAttrs, Distances, Fib, NextHop, PrefixTable, Protocol, Route};
pub use whatif::{compute_with, Change};

use nettwin_model::{Diagnostics, NodeId, Prefix, Topology};
use rayon::prelude::*;
use rib::NodeTable;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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
#[derive(Clone, Debug)]
pub struct NodeRouting {
    /// Connected, local, static and IGP candidates, and the next-hop sets of every route.
    pub(crate) table: NodeTable,
    /// Next-hop sets of multipath BGP routes: (class, set), sorted by class.
    pub(crate) bgp_multipath: Vec<(u32, u32)>,
    pub bgp: Option<BgpRouter>,
}

/// The converged routing state of a whole network.
///
/// Routes are stored the way the network shares them: prefixes once for the network, next-hop
/// sets once per router, BGP attributes and BGP decisions once per class of prefixes that every
/// router treats alike. [`Routing::fib`] puts a router's table together on demand.
#[derive(Clone, Debug)]
pub struct Routing {
    pub nodes: Vec<NodeRouting>,
    pub config: RoutingConfig,
    /// Every prefix any router may hold a route for.
    pub prefixes: PrefixTable,
    pub(crate) bgp: bgp::BgpState,
    /// How long each phase of the computation took, in order (for `bench routing`).
    pub phases: Vec<(&'static str, Duration)>,
}

/// Wall-clock time per phase of the computation.
pub(crate) struct Phases {
    last: Instant,
    list: Vec<(&'static str, Duration)>,
}

impl Default for Phases {
    fn default() -> Self {
        Phases {
            last: Instant::now(),
            list: Vec::new(),
        }
    }
}

impl Phases {
    /// Ends the phase that ran since the previous call.
    pub(crate) fn done(&mut self, name: &'static str) {
        let now = Instant::now();
        self.list.push((name, now - self.last));
        self.last = now;
    }
}

impl Routing {
    pub fn node(&self, id: NodeId) -> &NodeRouting {
        &self.nodes[id.index()]
    }

    /// The forwarding table of a node.
    pub fn fib(&self, id: NodeId) -> Fib<'_> {
        let n = &self.nodes[id.index()];
        Fib {
            table: &self.prefixes,
            node: &n.table,
            bgp: Some(rib::BgpView {
                state: &self.bgp,
                router: id.0,
                multipath: &n.bgp_multipath,
                distances: &self.config.distances,
            }),
        }
    }

    /// The node's table without BGP: what BGP resolves next hops through.
    fn base_fib(&self, id: NodeId) -> Fib<'_> {
        Fib {
            table: &self.prefixes,
            node: &self.nodes[id.index()].table,
            bgp: None,
        }
    }

    /// All candidates for exactly `prefix` at `node`, the installed one first.
    pub fn candidates(&self, id: NodeId, prefix: &Prefix) -> Vec<Route<'_>> {
        self.fib(id).candidates(prefix)
    }

    /// Every candidate of a node, sorted by prefix then preference, with whether it is
    /// installed.
    pub fn rib(&self, id: NodeId) -> Vec<(Route<'_>, bool)> {
        self.fib(id).rib()
    }

    /// The BGP paths a node has for `prefix`, best first (empty when BGP does not carry it).
    pub fn bgp_paths(&self, id: NodeId, prefix: &Prefix) -> Vec<BgpPath> {
        let (Some(b), Some(pid)) = (&self.nodes[id.index()].bgp, self.prefixes.id(prefix)) else {
            return Vec::new();
        };
        self.bgp.paths(
            &self.config,
            &b.peers,
            &self.base_fib(id),
            id.index(),
            *prefix,
            pid,
        )
    }

    /// A node's whole BGP table: every prefix it has paths for.
    pub fn bgp_table(&self, id: NodeId) -> BTreeMap<Prefix, Vec<BgpPath>> {
        let mut out = BTreeMap::new();
        if self.nodes[id.index()].bgp.is_none() {
            return out;
        }
        for (pid, class) in self.bgp.class_of.iter().enumerate() {
            if *class == u32::MAX {
                continue;
            }
            let prefix = self.prefixes.prefix(pid as u32);
            let paths = self.bgp_paths(id, &prefix);
            if !paths.is_empty() {
                out.insert(prefix, paths);
            }
        }
        out
    }
}

/// Computes every router's RIB and FIB.
pub fn compute(topo: &Topology) -> Result<Routing, RoutingError> {
    compute_with(topo, &[])
}

/// The pipeline, after what-if changes have been applied to `topo` and `cfg`.
pub(crate) fn compute_config(topo: &Topology, cfg: RoutingConfig) -> Result<Routing, RoutingError> {
    let n = topo.nodes.len();
    let mut phases = Phases::default();
    let mut all: Vec<Prefix> = Vec::new();
    for i in 0..n {
        statics::own_prefixes(topo, NodeId(i as u32), &mut all);
        if let Some(b) = &cfg.bgp[i] {
            all.extend_from_slice(&b.originate);
        }
    }
    let prefixes = PrefixTable::new(all);
    let mut tables: Vec<NodeTable> = (0..n)
        .into_par_iter()
        .map(|i| statics::connected(topo, NodeId(i as u32), &cfg.distances, &prefixes))
        .collect();
    phases.done("prefixes, connected");
    for igp in [igp::Igp::Ospf, igp::Igp::Isis] {
        for (i, t) in igp::compute(topo, &cfg, igp, &prefixes)
            .into_iter()
            .enumerate()
        {
            tables[i].append(t);
        }
    }
    phases.done("igp");
    tables.par_iter_mut().enumerate().for_each(|(i, t)| {
        t.sort();
        let st = statics::resolve(topo, NodeId(i as u32), t, &prefixes, &cfg.distances);
        if !st.entries.is_empty() {
            t.append(st);
            t.sort();
        }
    });
    let base: Vec<Fib> = tables
        .iter()
        .map(|t| Fib {
            table: &prefixes,
            node: t,
            bgp: None,
        })
        .collect();
    phases.done("static");
    let out = bgp::compute(topo, &cfg, &prefixes, &base, &mut phases)?;
    drop(base);
    let nodes = tables
        .into_iter()
        .zip(out.hops)
        .zip(out.multipath)
        .zip(out.routers)
        .map(|(((mut table, hops), bgp_multipath), bgp)| {
            table.append_hops(hops);
            NodeRouting {
                table,
                bgp_multipath,
                bgp,
            }
        })
        .collect();
    phases.done("tables");
    Ok(Routing {
        nodes,
        config: cfg,
        prefixes,
        bgp: out.state,
        phases: phases.list,
    })
}
