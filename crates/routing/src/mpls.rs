//! MPLS label switching on top of the converged IGP: LDP label bindings (downstream
//! unsolicited, liberal retention, ordered or independent control by platform), SR-MPLS prefix
//! and adjacency SIDs, the label FIB (in-label to swap/pop per next hop) and label imposition
//! for IP routes, BGP routes resolving over the LSP to their next hop.
//!
//! Labels live beside the routes, not in them: [`crate::NextHop`] and [`crate::Route`] are
//! unchanged, and the dataplane asks [`crate::Routing::lfib`] and
//! [`crate::Routing::imposition`] while it forwards. Every LSP follows the IGP's next hops
//! (ECMP included); traffic-engineered tunnels are not modelled here.

use crate::config::mpls::{LabelNode, LdpEgress};
use crate::rib::{NextHop, Protocol, Route};
use crate::Routing;
use nettwin_model::{Family, NodeId, Platform, Prefix, Topology};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// IPv4 explicit null (RFC 3032): the egress pops it and looks up the IP packet.
pub const EXPLICIT_NULL_V4: u32 = 0;
/// IPv6 explicit null.
pub const EXPLICIT_NULL_V6: u32 = 2;
/// Implicit null: advertised by an egress to ask for penultimate-hop popping; never on a wire.
pub const IMPLICIT_NULL: u32 = 3;
/// Bytes one label stack entry adds to a packet.
pub const LABEL_BYTES: u32 = 4;

/// Where a label came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelSource {
    Ldp,
    /// A prefix SID (SRGB base + index).
    Sr,
    /// An adjacency SID.
    SrAdjacency,
    /// An RSVP-TE LSP's label.
    RsvpTe,
    /// An SR-TE policy's SID list.
    SrTe,
}

impl LabelSource {
    pub fn name(self) -> &'static str {
        match self {
            LabelSource::Ldp => "ldp",
            LabelSource::Sr => "sr",
            LabelSource::SrAdjacency => "sr-adjacency",
            LabelSource::RsvpTe => "rsvp-te",
            LabelSource::SrTe => "sr-te",
        }
    }
}

/// What happens to the top label towards one next hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "op", content = "label", rename_all = "kebab-case")]
pub enum Out {
    /// Replace the label (at the ingress: push it).
    Swap(u32),
    /// Penultimate-hop pop: the next hop advertised implicit null.
    Pop,
    /// The next hop has no label for the FEC: the packet leaves as plain IP ("Untagged" /
    /// "No Label").
    Untagged,
}

/// One way out of a label operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LabelPath {
    pub next_hop: NextHop,
    /// The router the next hop belongs to.
    pub neighbour: Option<NodeId>,
    pub out: Out,
}

/// What an LFIB entry forwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Fec {
    Prefix {
        prefix: Prefix,
    },
    /// An adjacency SID: out of `interface` to `neighbour`.
    Adjacency {
        interface: u32,
        neighbour: NodeId,
    },
    /// A transit RSVP-TE LSP: its head-end and its index in [`crate::Routing::tunnels`].
    Tunnel {
        head: NodeId,
        tunnel: u32,
    },
}

/// One label FIB entry: packets arriving with `in_label` on top.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LfibEntry {
    pub in_label: u32,
    pub source: LabelSource,
    pub fec: Fec,
    pub paths: Vec<LabelPath>,
}

/// An LDP binding as `show mpls ldp bindings` lists it: the router's own label and every
/// label its peers advertised (liberal retention keeps them all).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LdpBinding {
    pub prefix: Prefix,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<u32>,
    /// (peer, label) in peer order.
    pub remote: Vec<(NodeId, u32)>,
}

/// A prefix SID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PrefixSid {
    pub prefix: Prefix,
    pub index: u32,
    pub node: NodeId,
}

/// The label state of one router.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NodeLabels {
    /// The LFIB, sorted by in-label.
    pub lfib: Vec<LfibEntry>,
    /// The router's own LDP bindings, sorted by prefix (its peers' are theirs:
    /// [`Routing::ldp_bindings`] puts the LIB together when asked).
    pub local_bindings: Vec<(Prefix, u32)>,
    /// LDP peers (neighbours over LDP-enabled interfaces), by node id.
    pub ldp_peers: Vec<NodeId>,
    /// Per prefix the router routes over an IGP: the LDP and SR outgoing labels per next hop.
    #[serde(skip)]
    /// The router's own LFIB entry holds the paths where it has one (looked up by its
    /// in-label), so they are stored once.
    pub(crate) ldp_out: HashMap<u32, OutPaths>,
    /// The same for SR; only a SID outside the router's SRGB keeps its paths here.
    #[serde(skip)]
    pub(crate) sr_out: HashMap<u32, OutPaths>,
}

/// Where a router's outgoing labels for a prefix are.
#[derive(Clone, Debug)]
pub(crate) enum OutPaths {
    /// In the LFIB entry with this in-label.
    Lfib(u32),
    /// No LFIB entry (no local binding, or the SID index is outside the router's own SRGB).
    Paths(Vec<LabelPath>),
}

/// Labels of the whole network.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    pub nodes: Vec<NodeLabels>,
    /// Every prefix SID, by prefix.
    pub sids: Vec<PrefixSid>,
}

/// The labels an ingress router pushes for an IP packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Imposition {
    pub source: LabelSource,
    /// The FEC whose LSP carries the packet (the BGP next hop's IGP prefix for BGP routes).
    pub fec: Prefix,
    /// Per next hop of the route: the label to push (`Untagged`/`Pop`: none).
    pub paths: Vec<LabelPath>,
    /// Why this LSP (and this source): which rule and platform default.
    pub reason: String,
    /// A TE tunnel the route is steered into: its name, and the whole stack pushed (top
    /// first) towards the tunnel's first hop, the only path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<u32>,
}

impl Imposition {
    /// The labels pushed towards `hop` (empty when it leaves as IP).
    pub fn push_for(&self, hop: &NextHop) -> Vec<u32> {
        if self.tunnel.is_some() {
            return if self.paths.first().is_some_and(|p| p.next_hop == *hop) {
                self.stack.clone()
            } else {
                Vec::new()
            };
        }
        match self
            .paths
            .iter()
            .find(|p| p.next_hop == *hop)
            .map(|p| p.out)
        {
            Some(Out::Swap(l)) => vec![l],
            _ => Vec::new(),
        }
    }
}

/// Whether a router imposes labels on a route, and why (or why not).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LabelDecision {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imposition: Option<Imposition>,
    pub reason: String,
}

/// Hands out a router's dynamic labels (LDP bindings, adjacency SIDs), skipping its SRGB.
struct Allocator {
    next: u32,
    down: bool,
    srgb: Option<(u32, u32)>,
}

impl Allocator {
    fn take(&mut self) -> u32 {
        loop {
            let l = self.next;
            self.next = if self.down { l - 1 } else { l + 1 };
            let in_srgb = self.srgb.is_some_and(|(s, n)| l >= s && l < s + n);
            if l > 15 && !in_srgb {
                return l;
            }
        }
    }
}

/// Computes every router's labels from its configuration and converged routes.
// Indexes, not iterators: each loop reads the per-router tables of neighbours while writing
// its own router's.
#[allow(clippy::needless_range_loop)]
pub(crate) fn compute(topo: &Topology, routing: &Routing) -> Labels {
    let cfg = &routing.config.labels;
    let n = topo.nodes.len();
    let mut out = Labels {
        nodes: vec![NodeLabels::default(); n],
        sids: Vec::new(),
    };
    if cfg.iter().all(Option::is_none) {
        return out;
    }
    // Interface addresses to (node, interface), to know whose next hop an address is.
    let mut owner: HashMap<IpAddr, (NodeId, u32)> = HashMap::new();
    for node in &topo.nodes {
        for (i, iface) in node.interfaces.iter().enumerate() {
            for a in [iface.ipv4, iface.ipv6].into_iter().flatten() {
                owner.insert(a.addr, (node.id, i as u32));
            }
        }
    }
    let conf = |id: NodeId| cfg.get(id.index()).and_then(Option::as_ref);
    let ldp_on = |id: NodeId, iface: u32| {
        conf(id).is_some_and(|c| c.ldp_if.get(iface as usize).copied().unwrap_or(false))
    };
    // The LDP peer behind a next hop: both ends run LDP on the link.
    let ldp_peer = |id: NodeId, h: &NextHop| -> Option<NodeId> {
        let (nb, nif) = owner.get(&h.address?).copied()?;
        (ldp_on(id, h.interface) && ldp_on(nb, nif)).then_some(nb)
    };
    let neighbour_of = |h: &NextHop| h.address.and_then(|a| owner.get(&a)).map(|x| x.0);

    // Non-BGP routes of every labelled router, with their prefix numbers.
    let pid = |p: &Prefix| {
        routing
            .prefixes
            .id(p)
            .expect("every routed prefix is in the prefix table")
    };
    // Only LDP reads them: an SR-only network skips putting every table together.
    let any_ldp = cfg.iter().flatten().any(|c| c.ldp.is_some());
    let routes: Vec<Vec<(u32, Route)>> = (0..n)
        .map(|i| {
            let id = NodeId(i as u32);
            if conf(id).is_none_or(|c| c.ldp.is_none()) {
                return Vec::new();
            }
            routing
                .base_fib(id)
                .routes()
                .into_iter()
                .map(|r| (pid(&r.prefix), r))
                .collect()
        })
        .collect();

    // LDP: which (router, prefix number) pairs have a local binding, and their labels, dense
    // (a router holds most of the network's prefixes).
    let width = routing.prefixes.len();
    let cell = |i: usize, p: u32| i * width + p as usize;
    let cells = if any_ldp { n * width } else { 0 };
    let mut bound = vec![false; cells];
    let is_egress = |id: NodeId, r: &Route, c: &LabelNode| -> bool {
        let egress = c
            .ldp
            .as_ref()
            .map(|l| l.egress)
            .unwrap_or(LdpEgress::AllIgp);
        match egress {
            LdpEgress::AllIgp => r.protocol == Protocol::Connected,
            LdpEgress::Loopback => {
                r.protocol == Protocol::Connected
                    && topo.node(id).loopback.ipv4.map(|a| Prefix::host(a.addr)) == Some(r.prefix)
            }
        }
    };
    for i in 0..n {
        let id = NodeId(i as u32);
        let Some(c) = conf(id) else { continue };
        if c.ldp.is_none() {
            continue;
        }
        for (p, r) in &routes[i] {
            if r.prefix.family() != Family::Ipv4 || r.protocol == Protocol::Local {
                continue;
            }
            let egress = is_egress(id, r, c);
            let independent = !c.defaults.ldp_ordered
                && r.protocol != Protocol::Connected
                && !r.next_hops().is_empty();
            if egress || independent {
                bound[cell(i, *p)] = true;
            }
        }
    }
    // Ordered control: a transit binding once a downstream peer has one, to a fixed point
    // (at most the network's diameter in rounds).
    loop {
        let mut changed = false;
        for i in 0..n {
            let id = NodeId(i as u32);
            let Some(c) = conf(id) else { continue };
            if c.ldp.is_none() || !c.defaults.ldp_ordered {
                continue;
            }
            for (p, r) in &routes[i] {
                if r.prefix.family() != Family::Ipv4
                    || matches!(r.protocol, Protocol::Local | Protocol::Connected)
                    || bound[cell(i, *p)]
                {
                    continue;
                }
                let downstream = r
                    .next_hops()
                    .iter()
                    .any(|h| ldp_peer(id, h).is_some_and(|nb| bound[cell(nb.index(), *p)]));
                if downstream {
                    bound[cell(i, *p)] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    // Label values: egress prefixes get a null label, the rest dynamic labels in prefix order.
    let mut allocs: Vec<Option<Allocator>> = (0..n)
        .map(|i| {
            conf(NodeId(i as u32)).map(|c| Allocator {
                next: c.defaults.dynamic_base,
                down: c.defaults.dynamic_down,
                srgb: c.sr.as_ref().map(|s| (s.srgb_start, s.srgb_size)),
            })
        })
        .collect();
    const NO_LABEL: u32 = u32::MAX;
    let mut local = vec![NO_LABEL; cells];
    let label_at =
        |local: &[u32], i: usize, p: u32| local.get(cell(i, p)).copied().filter(|l| *l != NO_LABEL);
    for i in 0..n {
        let id = NodeId(i as u32);
        let Some(c) = conf(id) else { continue };
        let Some(ldp) = &c.ldp else { continue };
        for (p, r) in &routes[i] {
            if !bound[cell(i, *p)] {
                continue;
            }
            let label = if r.protocol == Protocol::Connected {
                if ldp.explicit_null {
                    EXPLICIT_NULL_V4
                } else {
                    IMPLICIT_NULL
                }
            } else {
                allocs[i].as_mut().expect("labelled router").take()
            };
            local[cell(i, *p)] = label;
        }
    }
    // Peers, remote bindings and outgoing LDP labels.
    for i in 0..n {
        let id = NodeId(i as u32);
        let Some(c) = conf(id) else { continue };
        if c.ldp.is_none() {
            continue;
        }
        let mut peers: Vec<NodeId> = Vec::new();
        for (ii, iface) in topo.node(id).interfaces.iter().enumerate() {
            if !iface.up || !ldp_on(id, ii as u32) {
                continue;
            }
            let Some(seg) = iface.segment else { continue };
            for m in &topo.segment(seg).members {
                if m.node != id
                    && ldp_on(m.node, m.index)
                    && topo.interface(*m).up
                    && !peers.contains(&m.node)
                {
                    peers.push(m.node);
                }
            }
        }
        peers.sort();
        let mut ldp_out = HashMap::new();
        for (p, r) in &routes[i] {
            if r.prefix.family() != Family::Ipv4
                || r.next_hops().is_empty()
                || r.protocol == Protocol::Connected
            {
                continue;
            }
            let paths: Vec<LabelPath> = r
                .next_hops()
                .iter()
                .map(|h| {
                    let peer = ldp_peer(id, h);
                    let out = match peer.and_then(|nb| label_at(&local, nb.index(), *p)) {
                        Some(IMPLICIT_NULL) => Out::Pop,
                        Some(l) => Out::Swap(l),
                        None => Out::Untagged,
                    };
                    LabelPath {
                        next_hop: *h,
                        neighbour: neighbour_of(h),
                        out,
                    }
                })
                .collect();
            if paths.iter().any(|x| x.out != Out::Untagged) || label_at(&local, i, *p).is_some() {
                ldp_out.insert(*p, paths);
            }
        }
        let nl = &mut out.nodes[i];
        nl.ldp_peers = peers;
        // Prefix numbers are in prefix order, so the bindings come out sorted.
        let own: Vec<(Prefix, u32)> = (0..width as u32)
            .filter_map(|p| label_at(&local, i, p).map(|l| (routing.prefixes.prefix(p), l)))
            .collect();
        let mut ldp_out: HashMap<u32, OutPaths> = ldp_out
            .into_iter()
            .map(|(p, paths)| (p, OutPaths::Paths(paths)))
            .collect();
        for &(prefix, l) in &own {
            if l <= 15 {
                continue;
            }
            let p = pid(&prefix);
            let paths = match ldp_out.insert(p, OutPaths::Lfib(l)) {
                Some(OutPaths::Paths(paths)) => paths,
                _ => {
                    ldp_out.remove(&p);
                    Vec::new()
                }
            };
            nl.lfib.push(LfibEntry {
                in_label: l,
                source: LabelSource::Ldp,
                fec: Fec::Prefix { prefix },
                paths,
            });
        }
        nl.local_bindings = own;
        nl.ldp_out = ldp_out;
    }

    // SR-MPLS: prefix SIDs from node SIDs.
    for (i, c) in cfg.iter().enumerate() {
        let Some(sr) = c.as_ref().and_then(|c| c.sr.as_ref()) else {
            continue;
        };
        let node = &topo.nodes[i];
        for (sid, lo) in [
            (sr.node_sid_v4, node.loopback.ipv4),
            (sr.node_sid_v6, node.loopback.ipv6),
        ] {
            if let (Some(index), Some(a)) = (sid, lo) {
                out.sids.push(PrefixSid {
                    prefix: Prefix::host(a.addr),
                    index,
                    node: node.id,
                });
            }
        }
    }
    out.sids.sort_by_key(|s| s.prefix);
    let srgb = |id: NodeId| {
        conf(id)
            .and_then(|c| c.sr.as_ref())
            .map(|s| (s.srgb_start, s.srgb_size))
    };
    for i in 0..n {
        let id = NodeId(i as u32);
        let Some(c) = conf(id) else { continue };
        let Some((base, size)) = srgb(id) else {
            continue;
        };
        let fib = routing.base_fib(id);
        let mut sr_out = HashMap::new();
        for sid in &out.sids {
            if sid.node == id {
                continue;
            }
            let sid_pid = pid(&sid.prefix);
            let Some(r) = fib.get(&sid.prefix) else {
                continue;
            };
            if !matches!(
                r.protocol,
                Protocol::Ospf | Protocol::OspfInterArea | Protocol::Isis
            ) {
                continue;
            }
            let paths: Vec<LabelPath> = r
                .next_hops()
                .iter()
                .map(|h| {
                    let nb = neighbour_of(h);
                    let out = match nb {
                        // RFC 8660 2.1: the penultimate hop pops a node SID (no explicit-null
                        // flag is modelled).
                        Some(nb) if nb == sid.node => Out::Pop,
                        Some(nb) => match srgb(nb) {
                            // The next hop's SRGB gives the outgoing label (RFC 8660 2.4).
                            Some((nb_base, nb_size)) if sid.index < nb_size => {
                                Out::Swap(nb_base + sid.index)
                            }
                            // SR to LDP stitching where the next hop speaks only LDP
                            // (RFC 8661 section 4.2).
                            _ => match ldp_peer(id, h)
                                .and_then(|nb| label_at(&local, nb.index(), sid_pid))
                            {
                                Some(IMPLICIT_NULL) => Out::Pop,
                                Some(l) => Out::Swap(l),
                                None => Out::Untagged,
                            },
                        },
                        None => Out::Untagged,
                    };
                    LabelPath {
                        next_hop: *h,
                        neighbour: nb,
                        out,
                    }
                })
                .collect();
            if sid.index < size {
                out.nodes[i].lfib.push(LfibEntry {
                    in_label: base + sid.index,
                    source: LabelSource::Sr,
                    fec: Fec::Prefix { prefix: sid.prefix },
                    paths,
                });
                sr_out.insert(sid_pid, OutPaths::Lfib(base + sid.index));
            } else {
                sr_out.insert(sid_pid, OutPaths::Paths(paths));
            }
        }
        // Adjacency SIDs: one per SR neighbour on each interface, from the dynamic range
        // (FRR: its SR local block from 15000).
        let mut adj_alloc = if c.platform == Platform::Frr {
            Allocator {
                next: 15000,
                down: false,
                srgb: None,
            }
        } else {
            allocs[i].take().expect("labelled router")
        };
        for (ii, iface) in topo.node(id).interfaces.iter().enumerate() {
            let Some(seg) = iface.segment.filter(|_| iface.up) else {
                continue;
            };
            for m in &topo.segment(seg).members {
                if m.node == id || srgb(m.node).is_none() || !topo.interface(*m).up {
                    continue;
                }
                let peer_if = topo.interface(*m);
                let Some(addr) = peer_if.ipv4.or(peer_if.ipv6).map(|a| a.addr) else {
                    continue;
                };
                let label = adj_alloc.take();
                out.nodes[i].lfib.push(LfibEntry {
                    in_label: label,
                    source: LabelSource::SrAdjacency,
                    fec: Fec::Adjacency {
                        interface: ii as u32,
                        neighbour: m.node,
                    },
                    paths: vec![LabelPath {
                        next_hop: NextHop {
                            address: Some(addr),
                            interface: ii as u32,
                        },
                        neighbour: Some(m.node),
                        out: Out::Pop,
                    }],
                });
            }
        }
        if c.platform != Platform::Frr {
            allocs[i] = Some(adj_alloc);
        }
        out.nodes[i].sr_out = sr_out;
    }
    for nl in &mut out.nodes {
        nl.lfib.sort_by_key(|e| e.in_label);
    }
    out
}

impl Routing {
    /// The LDP label information base of a router (`show mpls ldp bindings`): its own binding
    /// and every peer's for each prefix, by prefix (liberal retention keeps them all).
    pub fn ldp_bindings(&self, id: NodeId) -> Vec<LdpBinding> {
        let Some(nl) = self.labels.nodes.get(id.index()) else {
            return Vec::new();
        };
        let mut lib: BTreeMap<Prefix, LdpBinding> = BTreeMap::new();
        let new = |prefix: Prefix| LdpBinding {
            prefix,
            local: None,
            remote: Vec::new(),
        };
        for &(p, l) in &nl.local_bindings {
            lib.entry(p).or_insert_with(|| new(p)).local = Some(l);
        }
        for peer in &nl.ldp_peers {
            for &(p, l) in &self.labels.nodes[peer.index()].local_bindings {
                lib.entry(p)
                    .or_insert_with(|| new(p))
                    .remote
                    .push((*peer, l));
            }
        }
        lib.into_values().collect()
    }

    /// The label settings of a router (`None` where neither `mpls` nor `sr` runs).
    pub fn label_config(&self, id: NodeId) -> Option<&LabelNode> {
        self.config.labels.get(id.index()).and_then(Option::as_ref)
    }

    /// The LFIB entry for `label` at `id`.
    pub fn lfib(&self, id: NodeId, label: u32) -> Option<&LfibEntry> {
        let lfib = &self.labels.nodes.get(id.index())?.lfib;
        lfib.binary_search_by_key(&label, |e| e.in_label)
            .ok()
            .map(|i| &lfib[i])
    }

    /// The labels `id` pushes on packets following `route` (one of its FIB routes), with why.
    pub fn imposition(&self, id: NodeId, route: &Route) -> LabelDecision {
        let Some(c) = self.label_config(id) else {
            return LabelDecision {
                imposition: None,
                reason: "the router runs neither mpls nor sr".into(),
            };
        };
        let nl = &self.labels.nodes[id.index()];
        let platform = c.platform;
        let steering = self.steering(id, route);
        if let Some(crate::te::Steering {
            tunnel: Some(i),
            reason,
        }) = &steering
        {
            let t = &self.te.tunnels[*i];
            let hop = t.first_hop.expect("an up tunnel has a first hop");
            let neighbour = t.nodes.get(1).copied();
            let out = match t.stack.first() {
                Some(l) => Out::Swap(*l),
                None => Out::Pop,
            };
            // The tail's loopback (a null-endpoint policy's last router).
            let fec = t
                .nodes
                .last()
                .and_then(|e| self.te_loopback.get(e).copied())
                .unwrap_or(route.prefix);
            return LabelDecision {
                imposition: Some(Imposition {
                    source: match t.kind {
                        crate::config::te::TunnelKind::Rsvp => LabelSource::RsvpTe,
                        crate::config::te::TunnelKind::Sr => LabelSource::SrTe,
                    },
                    fec,
                    paths: vec![LabelPath {
                        next_hop: hop,
                        neighbour,
                        out,
                    }],
                    reason: reason.clone(),
                    tunnel: Some(t.name.clone()),
                    stack: t.stack.clone(),
                }),
                reason: reason.clone(),
            };
        }
        let te_note = steering
            .map(|s| format!("not steered into a tunnel: {}; ", s.reason))
            .unwrap_or_default();
        let decision = self.ldp_sr_imposition(id, route, c, nl, platform);
        LabelDecision {
            reason: format!("{te_note}{}", decision.reason),
            imposition: decision.imposition.map(|mut i| {
                i.reason = format!("{te_note}{}", i.reason);
                i
            }),
        }
    }

    fn ldp_sr_imposition(
        &self,
        id: NodeId,
        route: &Route,
        c: &LabelNode,
        nl: &NodeLabels,
        platform: Platform,
    ) -> LabelDecision {
        let (fec, via) = match route.bgp {
            Some(attrs) => match self.base_fib(id).lookup(attrs.next_hop) {
                Some(r) => (
                    r.prefix,
                    format!("BGP next hop {} resolves over {}", attrs.next_hop, r.prefix),
                ),
                None => {
                    return LabelDecision {
                        imposition: None,
                        reason: format!("BGP next hop {} has no IGP route", attrs.next_hop),
                    }
                }
            },
            None => {
                if !c.defaults.label_igp_routes {
                    return LabelDecision {
                        imposition: None,
                        reason: format!(
                            "{platform} puts LSPs only where BGP next-hop resolution looks (inet.3 style), so IP routes to IGP prefixes are forwarded unlabelled"
                        ),
                    };
                }
                if matches!(route.protocol, Protocol::Connected | Protocol::Local) {
                    return LabelDecision {
                        imposition: None,
                        reason: "a connected prefix is reached without a label".into(),
                    };
                }
                (
                    route.prefix,
                    format!("{platform} forwards IGP prefixes over their LSPs"),
                )
            }
        };
        fn labelled(paths: Option<&Vec<LabelPath>>) -> Option<&Vec<LabelPath>> {
            paths.filter(|p| p.iter().any(|x| matches!(x.out, Out::Swap(_) | Out::Pop)))
        }
        let fec_id = self.prefixes.id(&fec);
        let ldp = labelled(fec_id.and_then(|p| match nl.ldp_out.get(&p)? {
            OutPaths::Lfib(l) => self.lfib(id, *l).map(|e| &e.paths),
            OutPaths::Paths(p) => Some(p),
        }));
        let sr = labelled(fec_id.and_then(|p| match nl.sr_out.get(&p)? {
            OutPaths::Lfib(l) => self.lfib(id, *l).map(|e| &e.paths),
            OutPaths::Paths(p) => Some(p),
        }));
        let prefer_sr = c.sr.as_ref().is_some_and(|s| s.prefer);
        let (source, paths, why) = match (ldp, sr) {
            (Some(_), Some(s)) if prefer_sr => (
                LabelSource::Sr,
                s,
                "SR label (sr-prefer set; LDP label also present)",
            ),
            (Some(l), Some(_)) => (
                LabelSource::Ldp,
                l,
                "LDP label (LDP is preferred over SR unless sr-prefer is set)",
            ),
            (Some(l), None) => (LabelSource::Ldp, l, "LDP label"),
            (None, Some(s)) => (LabelSource::Sr, s, "SR prefix-SID label"),
            (None, None) => {
                return LabelDecision {
                    imposition: None,
                    reason: format!(
                        "{via}, which has no LDP binding or prefix SID from its next hop"
                    ),
                }
            }
        };
        // Only the route's own next hops (a BGP route's are its next hop's IGP next hops).
        let hops = route.next_hops();
        let paths: Vec<LabelPath> = paths
            .iter()
            .filter(|p| hops.is_empty() || hops.contains(&p.next_hop))
            .copied()
            .collect();
        let reason = format!("{via}: {why}");
        LabelDecision {
            imposition: Some(Imposition {
                source,
                fec,
                paths,
                reason: reason.clone(),
                tunnel: None,
                stack: Vec::new(),
            }),
            reason,
        }
    }
}
