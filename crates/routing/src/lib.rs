//! Routing for nettwin: what each router's routing table holds, computed from a validated
//! topology the way real routers would: connected and local routes, static routes (recursive,
//! interface, discard, floating), a link-state IGP (OSPF with areas, IS-IS level 2; SPF with ECMP
//! and LAN pseudonodes) and BGP (eBGP/iBGP, route reflectors, policies, multipath, the full
//! decision process). Every candidate goes into the RIB; the winners by administrative distance
//! go into the FIB, searched by longest-prefix match in a trie.
//!
//! Storage is shared the way the network shares it: prefixes once for the network (a
//! [`PrefixTable`]), next-hop sets once per router, BGP decisions once per class of prefixes.
//! [`Routing::fib`] gives a router's [`Fib`] as a view over them.
//!
//! This crate does not forward packets (that is `dataplane`) and prints nothing.

pub mod bgp;
pub mod config;
pub mod explain;
pub mod igp;
pub mod mpls;
pub mod rib;
mod statics;
pub mod te;
pub mod vrf;
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
    /// The routing instances when the network has VRFs: nodes past the topology's are VRF
    /// instances (see [`vrf`]).
    pub vrf: Option<std::sync::Arc<vrf::VrfMap>>,
    /// LDP and SR-MPLS labels, beside the routes (`mpls`).
    pub labels: mpls::Labels,
    /// RSVP-TE and SR-TE tunnels (`te`).
    pub te: te::TeState,
    /// Addresses to their routers and routers to their IPv4 loopback /32 (tunnel endpoints).
    pub(crate) te_owner: std::collections::HashMap<std::net::IpAddr, NodeId>,
    pub(crate) te_loopback: std::collections::HashMap<NodeId, Prefix>,
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
    match vrf::split(topo) {
        Some(map) => vrf::compute(topo, cfg, map),
        None => compute_config_classes(topo, cfg, true),
    }
}

/// The pipeline; `share_classes: false` propagates every BGP prefix on its own (what the
/// classes must be indistinguishable from).
fn compute_config_classes(
    topo: &Topology,
    cfg: RoutingConfig,
    share_classes: bool,
) -> Result<Routing, RoutingError> {
    let n = topo.nodes.len();
    let mut phases = Phases::default();
    let mut all: Vec<Prefix> = Vec::new();
    for i in 0..n {
        statics::route_prefixes(topo, NodeId(i as u32), &mut all);
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
        igp::compute(topo, &cfg, igp, &prefixes, &mut tables);
    }
    // Connected, then each IGP: sorted runs the stable sort merges.
    tables.par_iter_mut().for_each(NodeTable::sort);
    phases.done("igp");
    tables.par_iter_mut().enumerate().for_each(|(i, t)| {
        debug_assert!(t
            .entries
            .is_sorted_by_key(|e| (e.prefix, e.distance, e.metric)));
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
    let out = bgp::compute(topo, &cfg, &prefixes, &base, share_classes, &mut phases)?;
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
    let mut routing = Routing {
        nodes,
        config: cfg,
        prefixes,
        bgp: out.state,
        vrf: None,
        labels: mpls::Labels::default(),
        te: te::TeState::default(),
        te_owner: Default::default(),
        te_loopback: Default::default(),
        phases: Vec::new(),
    };
    routing.labels = mpls::compute(topo, &routing);
    phases.done("labels");
    if !routing.config.te.is_empty() {
        routing.te_owner = te::owners(topo);
        routing.te_loopback = topo
            .nodes
            .iter()
            .filter_map(|n| Some((n.id, Prefix::host(n.loopback.ipv4?.addr))))
            .collect();
        let (state, extra) = te::compute(topo, &routing);
        routing.te = state;
        for (nl, extra) in routing.labels.nodes.iter_mut().zip(extra) {
            if !extra.is_empty() {
                nl.lfib.extend(extra);
                nl.lfib.sort_by_key(|e| e.in_label);
            }
        }
        phases.done("te");
    }
    routing.phases = phases.list;
    Ok(routing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nettwin_model::generate::SplitMix64;
    use std::fmt::Write;

    /// A random network of up to five ASes: OSPF inside, eBGP between, some route reflectors,
    /// originated prefixes that overlap, multipath, and policies that match prefix lists.
    fn random_network(seed: u64) -> String {
        let mut rng = SplitMix64::new(seed);
        let n = 6 + rng.below(25) as usize;
        let ases = 1 + rng.below(5);
        let mut out = String::from("name: classes\nmodule: [ospf, bgp]\nnodes:\n");
        for i in 0..n {
            let mut bgp: Vec<String> = Vec::new();
            if rng.below(7) == 0 {
                bgp.push("rr: true".into());
            }
            if rng.below(2) == 0 {
                let k = 1 + rng.below(3);
                let list: Vec<String> = (0..k)
                    .map(|_| format!("198.19.{}.0/24", 64 + rng.below(40)))
                    .collect();
                bgp.push(format!("originate: [{}]", list.join(", ")));
            }
            if rng.below(5) == 0 {
                bgp.push("maximum_paths: 4".into());
            }
            if rng.below(6) == 0 {
                bgp.push(r#"import: [{match: {prefix: ["198.19.64.0/19 le 24"]}, set: {local_pref: 150}}, {action: permit}]"#.into());
            }
            if rng.below(8) == 0 {
                bgp.push(r#"export: [{match: {prefix: ["198.19.72.0/21 le 24"]}, action: deny}, {set: {med: 20}}]"#.into());
            }
            let _ = write!(out, "  r{i}: {{asn: {}", 65000 + rng.below(ases));
            if !bgp.is_empty() {
                let _ = write!(out, ", bgp: {{{}}}", bgp.join(", "));
            }
            out.push_str("}\n");
        }
        let extra = rng.below(n as u64) as usize;
        nettwin_model::generate::mesh_links(&mut out, &mut rng, n, extra, 5, None);
        out
    }

    #[test]
    fn prefix_classes_give_the_same_tables_as_one_prefix_at_a_time() {
        let (mut bgp_routes, mut shared_classes) = (0, 0);
        for seed in 0..60 {
            let text = random_network(seed);
            let topo = nettwin_model::load_str("classes.yml", &text).expect("valid network");
            let cfg = config::decode(&topo).expect("valid config");
            let shared = compute_config_classes(&topo, cfg.clone(), true).unwrap();
            let alone = compute_config_classes(&topo, cfg, false).unwrap();
            shared_classes += shared.bgp.members.iter().filter(|m| m.len() > 1).count();
            assert!(alone.bgp.members.iter().all(|m| m.len() == 1));
            for node in &topo.nodes {
                let a = shared.rib(node.id);
                bgp_routes += a.iter().filter(|(r, _)| r.bgp.is_some()).count();
                assert_eq!(
                    format!("{a:?}"),
                    format!("{:?}", alone.rib(node.id)),
                    "seed {seed}, {}\n{text}",
                    node.name
                );
                assert_eq!(
                    format!("{:?}", shared.bgp_table(node.id)),
                    format!("{:?}", alone.bgp_table(node.id)),
                    "seed {seed}, {}\n{text}",
                    node.name
                );
                assert_eq!(
                    format!("{:?}", shared.node(node.id).bgp),
                    format!("{:?}", alone.node(node.id).bgp),
                    "sessions and received counts, seed {seed}"
                );
            }
        }
        assert!(
            bgp_routes > 1000,
            "the networks exercise BGP ({bgp_routes} routes)"
        );
        assert!(
            shared_classes > 50,
            "classes with several prefixes: {shared_classes}"
        );
    }
}
