//! VRF-lite: one routing instance per (node, VRF), and route leaking between the VRFs of one
//! router by route targets, as netlab configures FRR (`templates/vrf/frr.bgp.j2`).
//!
//! The engine runs unchanged on an *instance topology*: node `i` of the topology keeps id `i`
//! and is the global instance; every VRF of a node becomes one more node after them, named
//! `r1 vrf red`. Every instance has the node's whole interface list, with the interfaces of other
//! instances blanked (down, no address, no segment), so an interface index means the same
//! interface in every instance and in the real topology; links and segments name the instance
//! that owns each end. OSPF, BGP, static and connected routes then run per instance exactly as
//! they run per node.
//!
//! Leaking follows FRR's VRF-to-VPN-to-VRF leaking inside one router (`export vpn`,
//! `import vpn`, `rt vpn import/export`): what is in VRF A's BGP table (its `network`s — the
//! VRF loopback —, connected subnets and OSPF routes when netlab redistributes them, and BGP
//! routes learned from A's neighbours; never routes A itself imported) is copied into every
//! other VRF B of the router whose import route targets meet A's export route targets, with A's
//! next hops (so packets leave through A's interfaces) at eBGP distance. B's BGP then announces
//! the leaked prefixes to B's own neighbours (a second pass where B originates them), as it
//! announces the VRF's OSPF routes (netlab's `redistribute ospf` in the VRF's BGP).

use crate::config::RoutingConfig;
use crate::rib::{Action, NextHop, Protocol, Target};
use crate::{compute_config_classes, Routing, RoutingError};
use nettwin_model::{IfRef, Loopback, Node, NodeId, Prefix, Topology};
use std::sync::Arc;

/// Which routing instance each node of the instance topology is.
#[derive(Clone, Debug)]
pub struct VrfMap {
    /// Per instance: the real node and the VRF (an index into its `vrfs`; `None`: global).
    pub of: Vec<(NodeId, Option<u32>)>,
    /// Per real node, per VRF: the instance.
    pub by_node: Vec<Vec<NodeId>>,
    /// The instance topology the routes were computed on (names like `r1 vrf red`).
    pub topo: Arc<Topology>,
    /// Per instance: the prefixes leaked into it from the router's other VRFs.
    pub leaked: Vec<Vec<Prefix>>,
}

/// The name of a VRF instance node.
pub fn instance_name(node: &str, vrf: &str) -> String {
    format!("{node} vrf {vrf}")
}

/// Whether a VRF's section `m` (`ospf`, `bgp`) is `false` (netlab's routing blocks).
fn blocked(v: &nettwin_model::Vrf, m: &str) -> bool {
    v.config
        .get(m)
        .and_then(|x| x.as_scalar())
        .is_some_and(|t| t == "false")
}

/// The instance topology, or `None` when no node has a VRF.
pub(crate) fn split(topo: &Topology) -> Option<VrfMap> {
    if topo.nodes.iter().all(|n| n.vrfs.is_empty()) {
        return None;
    }
    let n = topo.nodes.len();
    let mut t = topo.clone();
    let mut of: Vec<(NodeId, Option<u32>)> = (0..n).map(|i| (NodeId(i as u32), None)).collect();
    let mut by_node: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    let blank = |iface: &mut nettwin_model::Interface| {
        iface.up = false;
        iface.ipv4 = None;
        iface.ipv6 = None;
        iface.ipv4_unnumbered = false;
        iface.ipv6_lla = false;
        iface.segment = None;
    };
    for node in &topo.nodes {
        for (k, v) in node.vrfs.iter().enumerate() {
            let id = NodeId(t.nodes.len() as u32);
            let mut inst: Node = node.clone();
            inst.id = id;
            inst.name = instance_name(&node.name, &v.name);
            inst.loopback = v.loopback;
            inst.vrfs = Vec::new();
            // IS-IS stays in the global table (netlab removes VRF interfaces from IS-IS).
            inst.modules
                .retain(|m| m != "isis" && !(m == "ospf" && blocked(v, "ospf")) && m != "vrf");
            inst.statics.retain(|s| static_in(node, s, Some(k as u32)));
            for iface in &mut inst.interfaces {
                if iface.vrf != Some(k as u32) {
                    blank(iface);
                }
                iface.vrf = None;
            }
            if let Some(ospf) = v.config.get("ospf").filter(|o| o.as_map().is_some()) {
                let mut sec = (**ospf).clone();
                if let Some(base) = node.config.get("ospf") {
                    nettwin_model::netlab::fill(&mut sec, (**base).clone());
                }
                inst.config.insert("ospf".into(), Arc::new(sec));
            }
            t.nodes.push(inst);
            of.push((node.id, Some(k as u32)));
            by_node[node.id.index()].push(id);
        }
        if !node.vrfs.is_empty() {
            let g = &mut t.nodes[node.id.index()];
            g.statics.retain(|s| static_in(node, s, None));
            for iface in &mut g.interfaces {
                if iface.vrf.is_some() {
                    blank(iface);
                }
            }
        }
    }
    // Links and segments name the instance that owns each end.
    let owner = |r: IfRef| -> IfRef {
        let iface = topo.interface(r);
        match iface.vrf {
            Some(k) => IfRef {
                node: by_node[r.node.index()][k as usize],
                index: r.index,
            },
            None => r,
        }
    };
    for l in &mut t.links {
        for e in &mut l.ends {
            *e = owner(*e);
        }
    }
    for s in &mut t.segments {
        for m in &mut s.members {
            *m = owner(*m);
        }
    }
    let count = t.nodes.len();
    Some(VrfMap {
        of,
        by_node,
        topo: Arc::new(t),
        leaked: vec![Vec::new(); count],
    })
}

/// Whether a static route belongs to VRF `vrf` of `node`: one out of (or pinned to) an
/// interface belongs to that interface's table; the others to the global table.
fn static_in(node: &Node, s: &nettwin_model::StaticRoute, vrf: Option<u32>) -> bool {
    use nettwin_model::StaticNextHop as H;
    let iface = match s.next_hop {
        H::Interface { interface } => Some(interface),
        H::Address { interface, .. } => interface,
        H::Discard => None,
    };
    iface.and_then(|i| node.interfaces[i as usize].vrf) == vrf
}

/// The routing configuration of the instances: the global instances keep the node's; a VRF
/// instance runs the node's OSPF unless the VRF blocks it, and BGP (eBGP only, netlab's VRF
/// BGP) when the node runs BGP, originating what netlab puts in the VRF's BGP table.
fn derive(map: &VrfMap, real: &Topology, cfg: &RoutingConfig) -> RoutingConfig {
    let mut out = cfg.clone();
    let t = &map.topo;
    for (i, &(node, vrf)) in map.of.iter().enumerate().skip(real.nodes.len()) {
        let k = vrf.expect("VRF instance");
        let v = &real.node(node).vrfs[k as usize];
        let inst = &t.nodes[i];
        let ospf = inst
            .modules
            .iter()
            .any(|m| m == "ospf")
            .then(|| cfg.ospf[node.index()].clone())
            .flatten();
        out.ospf.push(ospf);
        out.isis.push(None);
        out.ospf_if.push(cfg.ospf_if[node.index()].clone());
        out.isis_if.push(cfg.isis_if[node.index()].clone());
        let bgp = cfg.bgp[node.index()].clone().map(|mut b| {
            b.ibgp = false;
            b.ebgp = !blocked(v, "bgp");
            b.originate = vrf_originate(inst, v);
            b.advertise_loopback = false;
            b.advertise_stubs = false;
            b.neighbors.clear();
            b
        });
        out.bgp.push(bgp);
    }
    out
}

/// What netlab's VRF BGP instance announces: the VRF loopback (`network`), and the connected
/// subnets (`redistribute connected`) unless the VRF blocks BGP.
fn vrf_originate(inst: &Node, v: &nettwin_model::Vrf) -> Vec<Prefix> {
    let mut out: Vec<Prefix> = lb_prefixes(&v.loopback);
    if !blocked(v, "bgp") {
        for iface in inst.interfaces.iter().filter(|i| i.up) {
            out.extend(
                [iface.ipv4, iface.ipv6]
                    .into_iter()
                    .flatten()
                    .map(|a| a.subnet()),
            );
        }
    }
    out.sort();
    out.dedup();
    out
}

fn lb_prefixes(lb: &Loopback) -> Vec<Prefix> {
    [lb.ipv4, lb.ipv6]
        .into_iter()
        .flatten()
        .map(|a| a.subnet())
        .collect()
}

/// One leaked route: into which instance, the prefix number, and what to do with packets.
struct Leak {
    into: NodeId,
    prefix: Prefix,
    target: Target,
    /// The AS path of A's best BGP path (empty for A's own prefixes).
    as_path: Vec<u32>,
}

/// Whether VRF `a` exports into VRF `b` (an export route target of `a` is an import of `b`).
fn exports_to(a: &nettwin_model::Vrf, b: &nettwin_model::Vrf) -> bool {
    a.export.iter().any(|rt| b.import.contains(rt))
}

/// The routes of VRF A's BGP table, as they sit in A's forwarding table.
fn leaks(map: &VrfMap, real: &Topology, cfg: &RoutingConfig, r: &Routing) -> Vec<Leak> {
    let mut out = Vec::new();
    for node in &real.nodes {
        let has_bgp = cfg.bgp[node.id.index()].is_some() || node.vrfs.iter().any(|v| v.leaks());
        if !has_bgp {
            continue;
        }
        for (ka, a) in node.vrfs.iter().enumerate() {
            let targets: Vec<NodeId> = node
                .vrfs
                .iter()
                .enumerate()
                .filter(|(kb, b)| *kb != ka && exports_to(a, b))
                .map(|(kb, _)| map.by_node[node.id.index()][kb])
                .collect();
            if targets.is_empty() {
                continue;
            }
            let ia = map.by_node[node.id.index()][ka];
            let inst = &map.topo.nodes[ia.index()];
            let mut table: Vec<Prefix> = lb_prefixes(&a.loopback);
            let fib = r.fib(ia);
            let redistributes = !blocked(a, "bgp");
            let runs_ospf = inst.modules.iter().any(|m| m == "ospf");
            for route in fib.routes() {
                let take = match route.protocol {
                    Protocol::Ebgp | Protocol::Ibgp => route.bgp.is_some(),
                    Protocol::Connected => redistributes,
                    Protocol::Ospf | Protocol::OspfInterArea => redistributes && runs_ospf,
                    _ => false,
                };
                if take {
                    table.push(route.prefix);
                }
            }
            table.sort();
            table.dedup();
            for p in table {
                let Some(route) = fib.get(&p) else { continue };
                let target = match route.action {
                    Action::Forward { next_hops } => Target::Forward(next_hops.to_vec()),
                    Action::Receive => Target::Receive,
                    Action::Discard => Target::Discard,
                };
                let as_path = r
                    .bgp_paths(ia, &p)
                    .into_iter()
                    .find(|b| b.best)
                    .map(|b| b.attrs.as_path.clone())
                    .unwrap_or_default();
                for &into in &targets {
                    out.push(Leak {
                        into,
                        prefix: p,
                        target: target.clone(),
                        as_path: as_path.clone(),
                    });
                }
            }
        }
    }
    out
}

/// OSPF routes of VRF instances that run OSPF and BGP (BGP not blocked): what netlab's
/// `redistribute ospf` in the VRF's BGP announces.
fn redistributed_ospf(
    map: &VrfMap,
    real: &Topology,
    icfg: &RoutingConfig,
    r: &Routing,
) -> Vec<(NodeId, Prefix)> {
    let mut out = Vec::new();
    for (i, &(node, vrf)) in map.of.iter().enumerate().skip(real.nodes.len()) {
        let v = &real.node(node).vrfs[vrf.expect("VRF instance") as usize];
        let id = NodeId(i as u32);
        if blocked(v, "bgp") || icfg.bgp[i].is_none() || icfg.ospf[i].is_none() {
            continue;
        }
        for route in r.fib(id).routes() {
            if matches!(route.protocol, Protocol::Ospf | Protocol::OspfInterArea) {
                out.push((id, route.prefix));
            }
        }
    }
    out
}

/// The pipeline on the instance topology, with leaking.
pub(crate) fn compute(
    real: &Topology,
    cfg: RoutingConfig,
    mut map: VrfMap,
) -> Result<Routing, RoutingError> {
    let icfg = derive(&map, real, &cfg);
    let first = compute_config_classes(&map.topo, icfg.clone(), true)?;
    let leaked = leaks(&map, real, &cfg, &first);
    // netlab redistributes a VRF's OSPF routes into its BGP (`bgp.import: ospf`) unless the
    // VRF blocks BGP: the VRF's BGP announces them to its eBGP peers.
    let mut extra: Vec<(NodeId, Prefix, Vec<u32>)> = redistributed_ospf(&map, real, &icfg, &first)
        .into_iter()
        .map(|(n, p)| (n, p, Vec::new()))
        .collect();
    extra.extend(leaked.iter().map(|l| (l.into, l.prefix, l.as_path.clone())));
    let mut r = if extra.is_empty() {
        first
    } else {
        // B's BGP announces what it imported to its own neighbours.
        let mut again = icfg;
        for (into, prefix, as_path) in extra {
            if let Some(b) = again.bgp[into.index()].as_mut() {
                if !b.originate.contains(&prefix) {
                    b.originate.push(prefix);
                    b.originate.sort();
                    if !as_path.is_empty() {
                        b.originate_as_path.push((prefix, as_path));
                    }
                }
            }
        }
        drop(first);
        compute_config_classes(&map.topo, again, true)?
    };
    let ebgp = r.config.distances.ebgp;
    for l in &leaked {
        let list = &mut map.leaked[l.into.index()];
        if !list.contains(&l.prefix) {
            list.push(l.prefix);
        }
    }
    for l in leaked {
        let Some(pid) = r.prefixes.id(&l.prefix) else {
            continue;
        };
        let t = &mut r.nodes[l.into.index()].table;
        t.push(pid, Protocol::Ebgp, ebgp, 0, l.target);
        t.sort();
    }
    r.vrf = Some(Arc::new(map));
    Ok(r)
}

impl Routing {
    /// The routing instance of `node` for VRF `vrf` (`None`: the global table).
    pub fn instance(&self, node: NodeId, vrf: Option<u32>) -> NodeId {
        match (vrf, &self.vrf) {
            (Some(k), Some(m)) => m.by_node[node.index()]
                .get(k as usize)
                .copied()
                .unwrap_or(node),
            _ => node,
        }
    }

    /// The forwarding table of `node`'s VRF `vrf` (`None`: the global table).
    pub fn fib_in(&self, node: NodeId, vrf: Option<u32>) -> crate::rib::Fib<'_> {
        self.fib(self.instance(node, vrf))
    }

    /// The table a packet arriving on interface `index` of `node` is looked up in.
    pub fn ingress_fib(
        &self,
        topo: &Topology,
        node: NodeId,
        index: Option<u32>,
    ) -> crate::rib::Fib<'_> {
        let vrf = index.and_then(|i| topo.node(node).interfaces.get(i as usize)?.vrf);
        self.fib_in(node, vrf)
    }

    /// The prefixes leaked into a routing instance from its router's other VRFs.
    pub fn leaked(&self, id: NodeId) -> &[Prefix] {
        self.vrf
            .as_ref()
            .and_then(|m| m.leaked.get(id.index()))
            .map_or(&[], Vec::as_slice)
    }

    /// The real node and VRF of a routing instance.
    pub fn instance_of(&self, id: NodeId) -> (NodeId, Option<u32>) {
        match &self.vrf {
            Some(m) => m.of.get(id.index()).copied().unwrap_or((id, None)),
            None => (id, None),
        }
    }

    /// The name of a routing instance: the node's, or `r1 vrf red`.
    pub fn instance_name(&self, topo: &Topology, id: NodeId) -> String {
        let (n, v) = self.instance_of(id);
        match v {
            Some(k) => instance_name(&topo.node(n).name, &topo.node(n).vrfs[k as usize].name),
            None => topo.node(n).name.clone(),
        }
    }

    /// The instance topology when the network has VRFs (every node id a route or a BGP peer
    /// names is valid in it).
    pub fn instance_topology(&self) -> Option<&Topology> {
        self.vrf.as_ref().map(|m| &*m.topo)
    }
}

/// Whether an egress interface of a leaked route lies in another VRF than the table's: `(vrf
/// name)` for display.
pub fn hop_vrf<'t>(
    topo: &'t Topology,
    node: NodeId,
    table_vrf: Option<u32>,
    hop: &NextHop,
) -> Option<&'t str> {
    let n = topo.node(node);
    let v = n.interfaces.get(hop.interface as usize)?.vrf;
    if v == table_vrf {
        return None;
    }
    Some(match v {
        Some(k) => n.vrfs[k as usize].name.as_str(),
        None => "default",
    })
}
