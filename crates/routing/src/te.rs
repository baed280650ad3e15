//! Traffic-engineered tunnels on top of the IGP and the SR/LDP labels: CSPF (RFC 3209/RFC
//! 9256 constraints: metric igp/te/latency, affinity include/exclude, bandwidth against each
//! link's reservable bandwidth, tunnels placed in order of setup priority), explicit paths
//! (strict and loose hops) and primary/secondary path options, RSVP-TE labels along the path,
//! SR-TE SID lists (node SIDs where the IGP path is the tunnel's, adjacency SIDs elsewhere),
//! on-demand next-hop instantiation, and steering: which tunnel a route goes into and why
//! (autoroute announce / IGP shortcuts, BGP next-hop resolution through an inet.3-style table
//! or the global table, automated steering by colour and next hop with the colour-only bits
//! of RFC 9256 section 8.8.1).

use crate::config::te::{
    Affinity, ColorRule, ExplicitHop, MetricType, PathOption, TeConfig, TunnelConfig, TunnelKind,
};
use crate::mpls::{Fec, LabelPath, LabelSource, LfibEntry, Out};
use crate::rib::{NextHop, Protocol, Route};
use crate::Routing;
use nettwin_model::{NodeId, Platform, Prefix, Topology};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;

/// One directed TE link: out of `iface` of the owning node to `to`.
#[derive(Clone, Copy, Debug)]
struct Arc {
    iface: u32,
    to: NodeId,
    to_iface: u32,
    igp: u64,
    te: u64,
    latency: u64,
    affinity: u32,
    reservable: Option<u64>,
}

/// Whether a tunnel is up and on which path option.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum TunnelState {
    Up {
        /// Index into the configured path options (0: primary).
        path_option: usize,
    },
    Down {
        reason: String,
    },
}

/// One segment of an SR-TE SID list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Segment {
    /// The node SID of `node` (index), as a label valid where it is read.
    Node {
        node: NodeId,
        index: u32,
        label: u32,
    },
    /// The adjacency SID of `from` towards `to`.
    Adjacency {
        from: NodeId,
        to: NodeId,
        label: u32,
    },
}

/// A computed tunnel.
#[derive(Clone, Debug, Serialize)]
pub struct Tunnel {
    pub name: String,
    pub head: NodeId,
    pub kind: TunnelKind,
    pub endpoint: Option<NodeId>,
    pub color: Option<u32>,
    pub binding_sid: Option<u32>,
    pub bandwidth: u64,
    pub setup_priority: u8,
    pub metric_type: MetricType,
    pub autoroute: bool,
    pub on_demand: bool,
    pub state: TunnelState,
    /// Routers along the path, head first (empty when down).
    pub nodes: Vec<NodeId>,
    /// The path's cost in its metric type.
    pub cost: u64,
    /// SR-TE: the SID list.
    pub segments: Vec<Segment>,
    /// Labels the head pushes, top first (empty for a one-hop LSP: the tail is the next hop).
    pub stack: Vec<u32>,
    /// The head's next hop into the tunnel.
    pub first_hop: Option<NextHop>,
}

impl Tunnel {
    pub fn is_up(&self) -> bool {
        matches!(self.state, TunnelState::Up { .. })
    }
}

/// Every tunnel of the network, in placement order.
#[derive(Clone, Debug, Default)]
pub struct TeState {
    pub tunnels: Vec<Tunnel>,
    /// Per head-end: its tunnels' indexes.
    by_head: HashMap<NodeId, Vec<usize>>,
}

impl TeState {
    pub fn of_head(&self, id: NodeId) -> impl Iterator<Item = &Tunnel> {
        self.by_head
            .get(&id)
            .into_iter()
            .flatten()
            .map(|i| &self.tunnels[*i])
    }
}

/// The TE graph: per node its arcs, only between routers running mpls or sr on both ends.
fn graph(topo: &Topology, routing: &Routing, te: &TeConfig) -> Vec<Vec<Arc>> {
    let cfg = &routing.config;
    let labelled = |id: NodeId| cfg.labels.get(id.index()).is_some_and(Option::is_some);
    let mut out = vec![Vec::new(); topo.nodes.len()];
    for node in &topo.nodes {
        if !labelled(node.id) {
            continue;
        }
        let isis = cfg.isis.get(node.id.index()).is_some_and(Option::is_some);
        for (i, iface) in node.interfaces.iter().enumerate() {
            let Some(seg) = iface.segment.filter(|_| iface.up) else {
                continue;
            };
            let igp_if = if isis {
                cfg.isis_if.get(node.id.index()).and_then(|v| v.get(i))
            } else {
                cfg.ospf_if.get(node.id.index()).and_then(|v| v.get(i))
            };
            let Some(igp) = igp_if.filter(|x| !x.passive).map(|x| u64::from(x.cost)) else {
                continue;
            };
            let lte = te
                .links
                .get(iface.link.index())
                .copied()
                .unwrap_or_default();
            let link = topo.link(iface.link);
            for m in &topo.segment(seg).members {
                if m.node == node.id || !labelled(m.node) || !topo.interface(*m).up {
                    continue;
                }
                out[node.id.index()].push(Arc {
                    iface: i as u32,
                    to: m.node,
                    to_iface: m.index,
                    igp,
                    te: lte.metric.map(u64::from).unwrap_or(igp),
                    latency: link.latency_us.unwrap_or(0),
                    affinity: lte.affinity,
                    reservable: lte.reservable,
                });
            }
        }
    }
    out
}

/// Reserved bandwidth per directed arc (node, arc index).
struct Reservations(Vec<Vec<u64>>);

impl Reservations {
    fn fits(&self, g: &[Vec<Arc>], from: NodeId, a: usize, bw: u64) -> bool {
        match g[from.index()][a].reservable {
            None => true,
            Some(r) => self.0[from.index()][a] + bw <= r,
        }
    }
}

struct Constraints {
    metric: MetricType,
    affinity: Affinity,
    bandwidth: u64,
}

fn weight(a: &Arc, m: MetricType) -> u64 {
    match m {
        MetricType::Igp => a.igp,
        MetricType::Te => a.te,
        MetricType::Latency => a.latency,
    }
}

/// Constrained shortest path from `src` to `dst`: arcs (node, arc index), or `None`. Ties go
/// to the lower node id, so results are deterministic.
fn cspf(
    g: &[Vec<Arc>],
    res: &Reservations,
    c: &Constraints,
    src: NodeId,
    dst: NodeId,
    dist: &mut Vec<u64>,
    prev: &mut Vec<(u32, u32)>,
) -> Option<Vec<(NodeId, usize)>> {
    const NONE: (u32, u32) = (u32::MAX, u32::MAX);
    dist.clear();
    dist.resize(g.len(), u64::MAX);
    prev.clear();
    prev.resize(g.len(), NONE);
    let mut heap = BinaryHeap::new();
    dist[src.index()] = 0;
    heap.push(Reverse((0u64, src.0)));
    while let Some(Reverse((d, u))) = heap.pop() {
        if d > dist[u as usize] {
            continue;
        }
        if u == dst.0 {
            break;
        }
        for (ai, a) in g[u as usize].iter().enumerate() {
            if !c.affinity.admits(a.affinity) || !res.fits(g, NodeId(u), ai, c.bandwidth) {
                continue;
            }
            let nd = d + weight(a, c.metric);
            let v = a.to.index();
            if nd < dist[v] || nd == dist[v] && u < prev[v].0 {
                let better = nd < dist[v];
                dist[v] = nd;
                prev[v] = (u, ai as u32);
                if better {
                    heap.push(Reverse((nd, a.to.0)));
                }
            }
        }
    }
    if dist[dst.index()] == u64::MAX {
        return None;
    }
    let mut path = Vec::new();
    let mut v = dst.0;
    while v != src.0 {
        let (u, ai) = prev[v as usize];
        path.push((NodeId(u), ai as usize));
        v = u;
    }
    path.reverse();
    Some(path)
}

/// The arcs of one path option, or why it cannot be set up.
fn place(
    (g, res): (&[Vec<Arc>], &Reservations),
    c: &Constraints,
    head: NodeId,
    endpoint: Option<NodeId>,
    option: &PathOption,
    topo: &Topology,
    scratch: &mut (Vec<u64>, Vec<(u32, u32)>),
) -> Result<Vec<(NodeId, usize)>, String> {
    let mut hops: Vec<ExplicitHop> = match option {
        PathOption::Dynamic => Vec::new(),
        PathOption::Explicit(h) => h.clone(),
    };
    if let Some(e) = endpoint {
        if hops.last().map(|h| h.node) != Some(e) {
            hops.push(ExplicitHop {
                node: e,
                loose: true,
            });
        }
    }
    let mut at = head;
    let mut out = Vec::new();
    for h in hops {
        if h.node == at {
            continue;
        }
        if h.loose {
            let seg =
                cspf(g, res, c, at, h.node, &mut scratch.0, &mut scratch.1).ok_or_else(|| {
                    format!(
                        "no path from {} to {} meets the constraints",
                        topo.node(at).name,
                        topo.node(h.node).name
                    )
                })?;
            out.extend(seg);
        } else {
            // Strict: a direct link, the cheapest that meets the constraints.
            let best = g[at.index()]
                .iter()
                .enumerate()
                .filter(|(ai, a)| {
                    a.to == h.node
                        && c.affinity.admits(a.affinity)
                        && res.fits(g, at, *ai, c.bandwidth)
                })
                .min_by_key(|(_, a)| weight(a, c.metric))
                .map(|(ai, _)| ai)
                .ok_or_else(|| {
                    format!(
                        "strict hop {}: no link from {} meets the constraints",
                        topo.node(h.node).name,
                        topo.node(at).name
                    )
                })?;
            out.push((at, best));
        }
        at = h.node;
    }
    Ok(out)
}

/// Computes every tunnel: on-demand instances first added, then CSPF in setup-priority order
/// with bandwidth reserved as each tunnel comes up, then labels.
pub(crate) fn compute(topo: &Topology, routing: &Routing) -> (TeState, Vec<Vec<LfibEntry>>) {
    let te = &routing.config.te;
    let n = topo.nodes.len();
    let mut extra: Vec<Vec<LfibEntry>> = vec![Vec::new(); n];
    if te.is_empty() {
        return (TeState::default(), extra);
    }
    let g = graph(topo, routing, te);
    let mut res = Reservations(g.iter().map(|a| vec![0; a.len()]).collect());
    let mut configs: Vec<TunnelConfig> = te.tunnels.clone();
    configs.extend(on_demand(topo, routing, te));
    configs.sort_by(|a, b| {
        (a.setup_priority, a.head, &a.name).cmp(&(b.setup_priority, b.head, &b.name))
    });
    let mut scratch = (Vec::new(), Vec::new());
    let mut out = TeState::default();
    // Next label to try per node for RSVP-TE (from the dynamic range, skipping used ones).
    let mut next_label: Vec<Option<u32>> = vec![None; n];
    for t in &configs {
        let c = Constraints {
            metric: t.metric,
            affinity: t.affinity,
            bandwidth: t.bandwidth,
        };
        let mut state = TunnelState::Down {
            reason: "no path option".into(),
        };
        let mut arcs = Vec::new();
        let mut reasons = Vec::new();
        for (i, opt) in t.paths.iter().enumerate() {
            match place((&g, &res), &c, t.head, t.endpoint, opt, topo, &mut scratch) {
                Ok(p) => {
                    state = TunnelState::Up { path_option: i };
                    arcs = p;
                    break;
                }
                Err(e) => reasons.push(format!("path option {}: {e}", i + 1)),
            }
        }
        if !reasons.is_empty() && !matches!(state, TunnelState::Up { .. }) {
            state = TunnelState::Down {
                reason: reasons.join("; "),
            };
        }
        let mut tun = Tunnel {
            name: t.name.clone(),
            head: t.head,
            kind: t.kind,
            endpoint: t.endpoint,
            color: t.color,
            binding_sid: t.binding_sid,
            bandwidth: t.bandwidth,
            setup_priority: t.setup_priority,
            metric_type: t.metric,
            autoroute: t.autoroute,
            on_demand: t.on_demand,
            state,
            nodes: Vec::new(),
            cost: 0,
            segments: Vec::new(),
            stack: Vec::new(),
            first_hop: None,
        };
        if tun.is_up() {
            for &(u, ai) in &arcs {
                res.0[u.index()][ai] += t.bandwidth;
                tun.cost += weight(&g[u.index()][ai], t.metric);
            }
            tun.nodes.push(t.head);
            tun.nodes
                .extend(arcs.iter().map(|(u, ai)| g[u.index()][*ai].to));
            if let Some(&(u, ai)) = arcs.first() {
                let a = g[u.index()][ai];
                tun.first_hop = Some(NextHop {
                    address: peer_address(topo, a.to, a.to_iface),
                    interface: a.iface,
                });
            }
            match t.kind {
                TunnelKind::Sr => sid_list(topo, routing, &g, &arcs, &mut tun),
                TunnelKind::Rsvp => {
                    let index = out.tunnels.len() as u32;
                    rsvp_labels(
                        topo,
                        routing,
                        &g,
                        &arcs,
                        &mut tun,
                        index,
                        (&mut next_label, &mut extra),
                    )
                }
            }
        }
        out.by_head
            .entry(tun.head)
            .or_default()
            .push(out.tunnels.len());
        out.tunnels.push(tun);
    }
    (out, extra)
}

fn peer_address(topo: &Topology, node: NodeId, iface: u32) -> Option<IpAddr> {
    let i = &topo.node(node).interfaces[iface as usize];
    i.ipv4.or(i.ipv6).map(|a| a.addr)
}

/// Policies from on-demand templates: one per (head, colour, BGP next hop's router) seen in a
/// coloured BGP route with no configured policy of that colour and endpoint.
fn on_demand(topo: &Topology, routing: &Routing, te: &TeConfig) -> Vec<TunnelConfig> {
    let mut out: Vec<TunnelConfig> = Vec::new();
    let owners = owners(topo);
    for t in &te.odn {
        let rules = &te.colors[t.head.index()];
        let mut seen: Vec<NodeId> = Vec::new();
        for r in routing.fib(t.head).routes() {
            let Some(attrs) = r.bgp else { continue };
            if color_of(rules, &r.prefix).map(|c| c.color) != Some(t.color) {
                continue;
            }
            let Some(&e) = owners.get(&attrs.next_hop) else {
                continue;
            };
            let configured = te
                .tunnels
                .iter()
                .any(|x| x.head == t.head && x.color == Some(t.color) && x.endpoint == Some(e));
            if e == t.head || configured || seen.contains(&e) {
                continue;
            }
            seen.push(e);
            out.push(TunnelConfig {
                name: format!("srte_c_{}_ep_{}", t.color, topo.node(e).name),
                head: t.head,
                kind: TunnelKind::Sr,
                endpoint: Some(e),
                color: Some(t.color),
                binding_sid: None,
                bandwidth: t.bandwidth,
                setup_priority: t.setup_priority,
                hold_priority: t.setup_priority,
                metric: t.metric,
                affinity: t.affinity,
                paths: vec![PathOption::Dynamic],
                autoroute: false,
                on_demand: true,
            });
        }
    }
    out
}

/// Loopback addresses to their routers (BGP next hops are loopbacks in iBGP labs).
pub(crate) fn owners(topo: &Topology) -> HashMap<IpAddr, NodeId> {
    let mut m = HashMap::new();
    for n in &topo.nodes {
        for a in [n.loopback.ipv4, n.loopback.ipv6].into_iter().flatten() {
            m.insert(a.addr, n.id);
        }
        for i in &n.interfaces {
            for a in [i.ipv4, i.ipv6].into_iter().flatten() {
                m.entry(a.addr).or_insert(n.id);
            }
        }
    }
    m
}

/// The first colour rule covering `prefix`.
pub(crate) fn color_of<'a>(rules: &'a [ColorRule], prefix: &Prefix) -> Option<&'a ColorRule> {
    rules.iter().find(|r| r.prefix.covers(prefix))
}

/// The SR label `reader` expects for node SID `index` (its own SRGB), if it runs SR.
fn node_label(routing: &Routing, reader: NodeId, index: u32) -> Option<u32> {
    let sr = routing.label_config(reader)?.sr.as_ref()?;
    (index < sr.srgb_size).then_some(sr.srgb_start + index)
}

/// The adjacency SID `from` allocated towards `to` out of `iface`.
fn adj_label(routing: &Routing, from: NodeId, iface: u32, to: NodeId) -> Option<u32> {
    routing
        .labels
        .nodes
        .get(from.index())?
        .lfib
        .iter()
        .find_map(|e| match e.fec {
            Fec::Adjacency {
                interface,
                neighbour,
            } if interface == iface && neighbour == to => Some(e.in_label),
            _ => None,
        })
}

/// Whether the IGP carries packets from `path[0]` to the last node exactly along `path`
/// (every router's route to the last node's loopback has the path's next hop as its only one).
fn igp_follows(
    topo: &Topology,
    routing: &Routing,
    g: &[Vec<Arc>],
    path: &[(NodeId, usize)],
    to: NodeId,
) -> bool {
    let Some(lo) = topo.node(to).loopback.ipv4.map(|a| Prefix::host(a.addr)) else {
        return false;
    };
    path.iter().all(|&(u, ai)| {
        let a = g[u.index()][ai];
        match routing.base_fib(u).get(&lo) {
            Some(r) => {
                let hops = r.next_hops();
                hops.len() == 1
                    && hops[0].interface == a.iface
                    && hops[0].address == peer_address(topo, a.to, a.to_iface)
            }
            None => false,
        }
    })
}

/// The SID list of an SR-TE path: from each point the farthest node whose node SID the IGP
/// carries along the path, else the adjacency SID of the next link (the usual compression a
/// PCE or head-end does); then the labels the head pushes.
fn sid_list(
    topo: &Topology,
    routing: &Routing,
    g: &[Vec<Arc>],
    arcs: &[(NodeId, usize)],
    tun: &mut Tunnel,
) {
    let sid_of = |id: NodeId| -> Option<u32> { routing.label_config(id)?.sr.as_ref()?.node_sid_v4 };
    let mut segs = Vec::new();
    let mut i = 0;
    while i < arcs.len() {
        let from = arcs[i].0;
        let mut best = None;
        for j in (i..arcs.len()).rev() {
            let (u, ai) = arcs[j];
            let to = g[u.index()][ai].to;
            if let Some(index) = sid_of(to) {
                if igp_follows(topo, routing, g, &arcs[i..=j], to) {
                    best = Some((j, to, index));
                    break;
                }
            }
        }
        match best {
            Some((j, to, index)) => {
                segs.push(Segment::Node {
                    node: to,
                    index,
                    label: node_label(routing, from, index).unwrap_or(0),
                });
                i = j + 1;
            }
            None => {
                let (u, ai) = arcs[i];
                let a = g[u.index()][ai];
                segs.push(Segment::Adjacency {
                    from: u,
                    to: a.to,
                    label: adj_label(routing, u, a.iface, a.to).unwrap_or(0),
                });
                i += 1;
            }
        }
    }
    // Labels: each segment is read by the router where it starts (the previous segment's
    // node, which receives the packet after the penultimate hop popped that segment's label).
    // The head resolves the first segment itself: towards its next hop, which pops a node SID
    // of its own neighbour (PHP) and needs nothing for an adjacency SID of the head.
    let mut stack = Vec::new();
    let mut reader = tun.head;
    for (k, s) in segs.iter().enumerate() {
        match *s {
            Segment::Node { node, index, .. } => {
                if k == 0 {
                    let (u, ai) = arcs[0];
                    let nh = g[u.index()][ai].to;
                    if nh != node {
                        if let Some(l) = node_label(routing, nh, index) {
                            stack.push(l);
                        }
                    }
                } else if let Some(l) = node_label(routing, reader, index) {
                    stack.push(l);
                }
                reader = node;
            }
            Segment::Adjacency { to, label, .. } => {
                if k > 0 {
                    stack.push(label);
                }
                reader = to;
            }
        }
    }
    // Segment labels as the reader sees them, for display.
    let mut reader = tun.head;
    for s in &mut segs {
        match s {
            Segment::Node { node, index, label } => {
                *label = node_label(routing, reader, *index).unwrap_or(*label);
                reader = *node;
            }
            Segment::Adjacency { to, .. } => reader = *to,
        }
    }
    tun.segments = segs;
    tun.stack = stack;
}

// Positions, not iterators: each transit router's entry reads the next router's label.
#[allow(clippy::needless_range_loop)]
/// RSVP-TE: each router after the head binds a label for the LSP (the tail implicit null,
/// so the penultimate hop pops), and transit routers get LFIB entries.
fn rsvp_labels(
    topo: &Topology,
    routing: &Routing,
    g: &[Vec<Arc>],
    arcs: &[(NodeId, usize)],
    tun: &mut Tunnel,
    index: u32,
    (next_label, extra): (&mut [Option<u32>], &mut [Vec<LfibEntry>]),
) {
    let len = tun.nodes.len();
    let mut labels = vec![None; len];
    for k in 1..len.saturating_sub(1) {
        let id = tun.nodes[k];
        labels[k] = Some(take_label(
            routing,
            id,
            &mut next_label[id.index()],
            &extra[id.index()],
        ));
    }
    for k in 1..len.saturating_sub(1) {
        let id = tun.nodes[k];
        let (u, ai) = arcs[k];
        debug_assert_eq!(u, id);
        let a = g[u.index()][ai];
        let out = match labels[k + 1] {
            Some(l) => Out::Swap(l),
            None => Out::Pop,
        };
        extra[id.index()].push(LfibEntry {
            in_label: labels[k].expect("transit label"),
            source: LabelSource::RsvpTe,
            fec: Fec::Tunnel {
                head: tun.head,
                tunnel: index,
            },
            paths: vec![LabelPath {
                next_hop: NextHop {
                    address: peer_address(topo, a.to, a.to_iface),
                    interface: a.iface,
                },
                neighbour: Some(a.to),
                out,
            }],
        });
    }
    tun.stack = labels.get(1).copied().flatten().into_iter().collect();
}

/// The lowest free label of `id`'s dynamic range (downwards on SR OS), outside its SRGB and
/// its LFIB.
fn take_label(routing: &Routing, id: NodeId, next: &mut Option<u32>, extra: &[LfibEntry]) -> u32 {
    let Some(c) = routing.label_config(id) else {
        return 16;
    };
    let d = c.defaults;
    let srgb = c.sr.as_ref().map(|s| (s.srgb_start, s.srgb_size));
    let lfib = &routing.labels.nodes[id.index()].lfib;
    let mut l = next.unwrap_or(d.dynamic_base);
    loop {
        let used = lfib.binary_search_by_key(&l, |e| e.in_label).is_ok()
            || extra.iter().any(|e| e.in_label == l)
            || srgb.is_some_and(|(s, n)| l >= s && l < s + n)
            || l <= 15;
        let cur = l;
        l = if d.dynamic_down { l - 1 } else { l + 1 };
        if !used {
            *next = Some(l);
            return cur;
        }
    }
}

/// Why a route is or is not steered into a tunnel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Steering {
    /// Index into [`TeState::tunnels`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<usize>,
    pub reason: String,
}

/// Whether the head inherits LSPs into BGP next-hop resolution without autoroute: Junos and
/// SR OS put RSVP LSPs in the table BGP resolves over (inet.3 / tunnel table); Cisco and FRR
/// resolve in the global RIB, where only autoroute puts tunnels.
pub fn bgp_uses_lsp_table(p: Platform) -> bool {
    matches!(p, Platform::Junos | Platform::Sros)
}

impl Routing {
    /// Every tunnel with its path, labels and state.
    pub fn tunnels(&self) -> &[Tunnel] {
        &self.te.tunnels
    }

    /// Whether `id` steers `route` into one of its tunnels, by which rule; `None` when the
    /// router has no tunnels (or the route is connected).
    pub fn steering(&self, id: NodeId, route: &Route) -> Option<Steering> {
        let mine: &[usize] = self.te.by_head.get(&id)?;
        let c = self.label_config(id)?;
        let platform = c.platform;
        let up = |i: &usize| self.te.tunnels[*i].is_up();
        let name = |i: usize| self.te.tunnels[i].name.clone();
        let owner = |a: IpAddr| self.te_owner.get(&a).copied();
        if let Some(attrs) = route.bgp {
            let n = owner(attrs.next_hop);
            let mut notes = Vec::new();
            if let Some(rule) = color_of(&self.config.te.colors[id.index()], &route.prefix) {
                let (col, co) = (rule.color, rule.co);
                let sr = |pred: &dyn Fn(&Tunnel) -> bool| -> Option<usize> {
                    let mut m: Vec<usize> = mine
                        .iter()
                        .copied()
                        .filter(|i| {
                            let t = &self.te.tunnels[*i];
                            t.kind == TunnelKind::Sr && t.is_up() && t.color == Some(col) && pred(t)
                        })
                        .collect();
                    m.sort_by_key(|i| self.te.tunnels[*i].endpoint);
                    m.first().copied()
                };
                // RFC 9256 section 8.8.1: CO=11 is treated as CO=00.
                let exact = sr(&|t| n.is_some() && t.endpoint == n);
                let null_ep = || sr(&|t| t.endpoint.is_none());
                let any_ep = || sr(&|t| t.endpoint.is_some());
                let hit = match co {
                    1 => exact.map(|i| (i, "colour and next hop")).or_else(|| {
                        null_ep().map(|i| (i, "CO=01: no policy for the next hop; the null-endpoint policy of the colour"))
                    }),
                    2 => exact
                        .map(|i| (i, "colour and next hop"))
                        .or_else(|| null_ep().map(|i| (i, "CO=10: no policy for the next hop; the null-endpoint policy of the colour")))
                        .or_else(|| any_ep().map(|i| (i, "CO=10: no policy for the next hop or null endpoint; a policy of the colour to any endpoint"))),
                    _ => exact.map(|i| (i, "colour and next hop")),
                };
                if let Some((i, why)) = hit {
                    let t = &self.te.tunnels[i];
                    return Some(Steering {
                        tunnel: Some(i),
                        reason: format!(
                            "automated steering: colour {col} (CO={co:02b}) and BGP next hop {} match SR policy {}{} by {why}",
                            attrs.next_hop,
                            t.name,
                            if t.on_demand { " (on-demand next hop)" } else { "" }
                        ),
                    });
                }
                notes.push(format!(
                    "colour {col} (CO={co:02b}) has no valid SR policy to next hop {}, so the route falls back to the next hop's IGP path",
                    attrs.next_hop
                ));
            }
            // BGP next-hop resolution.
            let to_n: Vec<usize> = mine
                .iter()
                .copied()
                .filter(|i| {
                    let t = &self.te.tunnels[*i];
                    t.kind == TunnelKind::Rsvp && n.is_some() && t.endpoint == n
                })
                .collect();
            if let Some(&i) = to_n.iter().find(|i| up(i)) {
                if bgp_uses_lsp_table(platform) {
                    return Some(Steering {
                        tunnel: Some(i),
                        reason: format!(
                            "{}BGP next hop {} resolves in the LSP table (inet.3 style, {platform} default): RSVP-TE LSP {} to it is preferred over LDP",
                            prefix_notes(&notes), attrs.next_hop, name(i)
                        ),
                    });
                }
            }
            // Global table: the next hop's IGP route, steered or not.
            if let Some(r) = self.base_fib(id).lookup(attrs.next_hop) {
                if let Some(s) = self.autoroute(id, mine, &r, platform) {
                    if let Some(i) = s.tunnel {
                        return Some(Steering {
                            tunnel: Some(i),
                            reason: format!(
                                "{}BGP next hop {} resolves in the global table over {}, which {}",
                                prefix_notes(&notes),
                                attrs.next_hop,
                                r.prefix,
                                s.reason
                            ),
                        });
                    }
                }
            }
            let why = match to_n.first() {
                Some(&i) if !up(&i) => format!("tunnel {} to the next hop is down", name(i)),
                Some(&i) => format!(
                    "tunnel {} ends at the next hop but {platform} resolves BGP next hops in the global table, where only autoroute announce puts tunnels",
                    name(i)
                ),
                None => "no tunnel ends at the BGP next hop".to_string(),
            };
            return Some(Steering {
                tunnel: None,
                reason: format!("{}{why}", prefix_notes(&notes)),
            });
        }
        if matches!(route.protocol, Protocol::Connected | Protocol::Local) {
            return None;
        }
        self.autoroute(id, mine, route, platform)
    }

    /// Autoroute announce / IGP shortcuts: an IGP prefix goes into an autoroute tunnel whose
    /// tail lies on the IGP's shortest path to it (the tail's own prefixes and those behind
    /// it); the tunnel with the farthest tail wins.
    fn autoroute(
        &self,
        id: NodeId,
        mine: &[usize],
        route: &Route,
        platform: Platform,
    ) -> Option<Steering> {
        let mut best: Option<(u32, usize)> = None;
        let mut any = false;
        for &i in mine {
            let t = &self.te.tunnels[i];
            if !t.autoroute {
                continue;
            }
            any = true;
            let Some(e) = t.endpoint else { continue };
            if !t.is_up() {
                continue;
            }
            let Some(lo) = self.te_loopback.get(&e).copied() else {
                continue;
            };
            let Some(to_tail) = self.base_fib(id).get(&lo) else {
                continue;
            };
            let behind = match self.base_fib(e).get(&route.prefix) {
                Some(r) if matches!(r.protocol, Protocol::Connected) => 0,
                Some(r) if r.bgp.is_none() && !r.next_hops().is_empty() => r.metric,
                _ => continue,
            };
            if to_tail.metric.saturating_add(behind) == route.metric
                && best.is_none_or(|(d, _)| to_tail.metric > d)
            {
                best = Some((to_tail.metric, i));
            }
        }
        let rule = match platform {
            Platform::Junos | Platform::Sros => "IGP shortcuts",
            _ => "autoroute announce",
        };
        match best {
            Some((_, i)) => Some(Steering {
                tunnel: Some(i),
                reason: format!(
                    "{rule} on tunnel {} (its tail {} is on the IGP path to {})",
                    self.te.tunnels[i].name,
                    self.te.tunnels[i]
                        .endpoint
                        .and_then(|e| self.te_loopback.get(&e))
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    route.prefix
                ),
            }),
            None if any => Some(Steering {
                tunnel: None,
                reason: format!("no {rule} tunnel's tail is on the IGP path to {}", route.prefix),
            }),
            None => Some(Steering {
                tunnel: None,
                reason: format!(
                    "no tunnel has autoroute announce ({platform} default: off), so IGP routes stay on the IGP path"
                ),
            }),
        }
    }
}

fn prefix_notes(notes: &[String]) -> String {
    notes.iter().map(|n| format!("{n}; ")).collect()
}

/// A tunnel whose state or path differs between two computations (a what-if).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TunnelChange {
    pub head: String,
    pub tunnel: String,
    pub before: String,
    pub after: String,
}

/// A prefix a head-end forwards differently: into another tunnel, out of one, or into one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SteeringChange {
    pub node: String,
    pub prefix: Prefix,
    pub before: String,
    pub after: String,
}

/// What a what-if did to tunnels and to the prefixes steered into them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TeDiff {
    pub tunnels: Vec<TunnelChange>,
    pub moved: Vec<SteeringChange>,
}

impl TeDiff {
    pub fn is_empty(&self) -> bool {
        self.tunnels.is_empty() && self.moved.is_empty()
    }
}

fn describe(topo: &Topology, t: &Tunnel) -> String {
    match &t.state {
        TunnelState::Up { path_option } => {
            let path: Vec<&str> = t
                .nodes
                .iter()
                .map(|n| topo.node(*n).name.as_str())
                .collect();
            format!("up, path option {}: {}", path_option + 1, path.join(" "))
        }
        TunnelState::Down { reason } => format!("down: {reason}"),
    }
}

/// How `id` forwards `route` in label terms: the tunnel, else the label source, else IP.
fn carried_by(routing: &Routing, id: NodeId, route: &Route) -> String {
    match routing.imposition(id, route).imposition {
        Some(i) => match i.tunnel {
            Some(t) => format!("tunnel {t}"),
            None => format!("{} LSP to {}", i.source.name(), i.fec),
        },
        None => "IP (no labels)".into(),
    }
}

/// Tunnels rerouted or down, and prefixes that moved in or out of tunnels, between `before`
/// and `after` (the same topology with elements failed: node ids are the same).
pub fn diff(topo: &Topology, before: &Routing, after: &Routing) -> TeDiff {
    let mut out = TeDiff::default();
    let key = |t: &Tunnel| (t.head, t.name.clone());
    let mut heads: Vec<NodeId> = Vec::new();
    for t in &before.te.tunnels {
        heads.push(t.head);
        let now = after.te.tunnels.iter().find(|x| key(x) == key(t));
        let (b, a) = (
            describe(topo, t),
            now.map(|x| describe(topo, x))
                .unwrap_or_else(|| "gone".into()),
        );
        if b != a {
            out.tunnels.push(TunnelChange {
                head: topo.node(t.head).name.clone(),
                tunnel: t.name.clone(),
                before: b,
                after: a,
            });
        }
    }
    for t in &after.te.tunnels {
        heads.push(t.head);
        if !before.te.tunnels.iter().any(|x| key(x) == key(t)) {
            out.tunnels.push(TunnelChange {
                head: topo.node(t.head).name.clone(),
                tunnel: t.name.clone(),
                before: "absent".into(),
                after: describe(topo, t),
            });
        }
    }
    heads.sort();
    heads.dedup();
    for id in heads {
        let (fb, fa) = (before.fib(id), after.fib(id));
        let mut prefixes: Vec<Prefix> = fb.routes().iter().map(|r| r.prefix).collect();
        prefixes.extend(fa.routes().iter().map(|r| r.prefix));
        prefixes.sort();
        prefixes.dedup();
        for p in prefixes {
            let b = fb.get(&p).map(|r| carried_by(before, id, &r));
            let a = fa.get(&p).map(|r| carried_by(after, id, &r));
            let tunnel_involved =
                |s: &Option<String>| s.as_deref().is_some_and(|x| x.starts_with("tunnel "));
            if b != a && (tunnel_involved(&b) || tunnel_involved(&a)) {
                out.moved.push(SteeringChange {
                    node: topo.node(id).name.clone(),
                    prefix: p,
                    before: b.unwrap_or_else(|| "no route".into()),
                    after: a.unwrap_or_else(|| "no route".into()),
                });
            }
        }
    }
    out
}
