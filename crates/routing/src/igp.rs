//! Link-state IGP: OSPF (areas, intra-area before inter-area) and IS-IS (level 2), computed the
//! way the protocols do it: a graph of routers and pseudonodes, one shortest-path tree per router
//! (Dijkstra, RFC 2328 section 16.1), equal-cost next hops kept side by side.
//!
//! A multi-access segment with two or more adjacent routers is a transit network represented by a
//! pseudonode (the OSPF network-LSA / IS-IS DIS LSP): routers reach it at their interface cost and
//! it reaches every attached router at cost 0. A segment with one router, or with passive
//! interfaces only, is a stub network.

use crate::config::{IgpIf, RoutingConfig};
use crate::rib::{Entry, NextHop, NodeTable, PrefixTable, Protocol, Target, NO_BGP};
use nettwin_model::{Family, IfRef, Prefix, SegmentKind, Topology};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::{IpAddr, Ipv4Addr};

/// The metric isisd gives a loopback: its default circuit metric (netlab configures none).
pub const ISIS_LOOPBACK_METRIC: u32 = 10;

/// Which IGP to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Igp {
    Ospf,
    Isis,
}

/// One first hop out of the root: the egress interface and, past a directly attached
/// pseudonode or over a point-to-point link, the neighbour's interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Hop {
    iface: u32,
    via: Option<IfRef>,
}

#[derive(Clone, Copy, Debug)]
struct Edge {
    to: u32,
    cost: u32,
    /// For an edge out of a router: its interface index.
    out_iface: u32,
    /// The interface of the router at the far end (none when `to` is a pseudonode).
    nbr: Option<IfRef>,
}

/// The IGP graph of one area.
struct AreaGraph {
    /// Vertices: routers are node indexes `0..nodes`, pseudonodes come after.
    adj: Vec<Vec<Edge>>,
    /// Prefixes attached to each vertex with their cost from it.
    prefixes: Vec<Vec<(Prefix, u32)>>,
    /// Routers that have at least one interface in this area (pseudonodes always true).
    members: Vec<bool>,
    /// How many vertices are routers; the rest are pseudonodes.
    routers: usize,
    /// The highest edge cost (it picks the SPF's queue).
    max_cost: u32,
}

fn ifs(cfg: &RoutingConfig, igp: Igp) -> &[Vec<IgpIf>] {
    match igp {
        Igp::Ospf => &cfg.ospf_if,
        Igp::Isis => &cfg.isis_if,
    }
}

fn speaks(cfg: &RoutingConfig, igp: Igp, node: usize) -> bool {
    match igp {
        Igp::Ospf => cfg.ospf[node].is_some(),
        Igp::Isis => cfg.isis[node].is_some(),
    }
}

fn node_area(cfg: &RoutingConfig, igp: Igp, node: usize) -> Ipv4Addr {
    match igp {
        Igp::Ospf => cfg.ospf[node]
            .as_ref()
            .map(|o| o.area)
            .unwrap_or(Ipv4Addr::UNSPECIFIED),
        Igp::Isis => Ipv4Addr::UNSPECIFIED,
    }
}

/// Whether interface `r` runs the family: an address, or unnumbered IPv4 / link-local-only IPv6.
fn carries(topo: &Topology, r: IfRef, family: Family) -> bool {
    let i = topo.interface(r);
    match family {
        Family::Ipv4 => i.ipv4.is_some() || i.ipv4_unnumbered,
        Family::Ipv6 => i.ipv6.is_some() || i.ipv6_lla,
    }
}

/// The IGP graph of `area`; with `family`, only that family's interfaces and prefixes (OSPFv2
/// and OSPFv3 are separate protocols, each on the interfaces of its family).
fn build_area(
    topo: &Topology,
    cfg: &RoutingConfig,
    igp: Igp,
    area: Ipv4Addr,
    family: Option<Family>,
) -> AreaGraph {
    let of_family = |p: &Prefix| family.is_none_or(|f| p.family() == f);
    let n = topo.nodes.len();
    let settings = ifs(cfg, igp);
    let mut g = AreaGraph {
        adj: vec![Vec::new(); n],
        prefixes: vec![Vec::new(); n],
        members: vec![false; n],
        routers: n,
        max_cost: 0,
    };
    for node in &topo.nodes {
        let i = node.id.index();
        if !speaks(cfg, igp, i) {
            continue;
        }
        if node_area(cfg, igp, i) == area {
            g.members[i] = true;
            // Loopbacks are advertised at cost 0. OSPFv2 advertises a loopback interface as a
            // host route whatever its mask (RFC 2328 9.1, as ospfd does); ospf6d and isisd
            // advertise the prefix as written (a /64 loopback is a /64). Each checked against
            // FRR 8.4 with `nettwin emu verify`.
            for a in [node.loopback.ipv4, node.loopback.ipv6]
                .into_iter()
                .flatten()
            {
                let p = match igp {
                    Igp::Ospf if a.addr.is_ipv4() => Prefix::host(a.addr),
                    _ => a.subnet(),
                };
                // OSPF advertises a loopback at cost 0; IS-IS gives it the default metric like
                // any circuit (10 in isisd, which netlab leaves as it is).
                let cost = match igp {
                    Igp::Ospf => 0,
                    Igp::Isis => ISIS_LOOPBACK_METRIC,
                };
                if of_family(&p) {
                    g.prefixes[i].push((p, cost));
                }
            }
        }
        for (k, iface) in node.interfaces.iter().enumerate() {
            if iface.up && iface.segment.is_some() && settings[i][k].area == area {
                g.members[i] = true;
            }
        }
    }
    for seg in &topo.segments {
        // The IGP interfaces on this segment, in this area, administratively up.
        let attached: Vec<(IfRef, &IgpIf)> = seg
            .members
            .iter()
            .filter(|r| {
                let ni = r.node.index();
                speaks(cfg, igp, ni)
                    && topo.interface(**r).up
                    && settings[ni][r.index as usize].area == area
                    && same_as(topo, seg, r.node)
                    && family.is_none_or(|f| carries(topo, **r, f))
            })
            .map(|r| (*r, &settings[r.node.index()][r.index as usize]))
            .collect();
        let active: Vec<&(IfRef, &IgpIf)> = attached.iter().filter(|(_, s)| !s.passive).collect();
        let subnets: Vec<Prefix> = seg
            .ipv4
            .iter()
            .chain(seg.ipv6.iter())
            .copied()
            .filter(of_family)
            .collect();
        let p2p = seg.kind == SegmentKind::P2p && active.len() == 2;
        if active.len() >= 2 && !p2p {
            // Transit network: a pseudonode.
            let pn = g.adj.len() as u32;
            g.adj.push(Vec::new());
            g.members.push(true);
            g.prefixes.push(subnets.iter().map(|p| (*p, 0)).collect());
            for (r, s) in &active {
                g.adj[r.node.index()].push(Edge {
                    to: pn,
                    cost: s.cost,
                    out_iface: r.index,
                    nbr: None,
                });
                g.adj[pn as usize].push(Edge {
                    to: r.node.0,
                    cost: 0,
                    out_iface: 0,
                    nbr: Some(*r),
                });
            }
            // Passive routers on a transit LAN still advertise it as a stub.
            for (r, s) in attached.iter().filter(|(_, s)| s.passive) {
                for p in &subnets {
                    g.prefixes[r.node.index()].push((*p, s.cost));
                }
            }
            continue;
        }
        if p2p {
            let (a, sa) = active[0];
            let (b, sb) = active[1];
            g.adj[a.node.index()].push(Edge {
                to: b.node.0,
                cost: sa.cost,
                out_iface: a.index,
                nbr: Some(*b),
            });
            g.adj[b.node.index()].push(Edge {
                to: a.node.0,
                cost: sb.cost,
                out_iface: b.index,
                nbr: Some(*a),
            });
        }
        for (r, s) in &attached {
            for p in &subnets {
                g.prefixes[r.node.index()].push((*p, s.cost));
            }
        }
    }
    g.max_cost = g.adj.iter().flatten().map(|e| e.cost).max().unwrap_or(0);
    g
}

/// Whether a node's interface on `seg` belongs to its IGP: not when the segment reaches a
/// router of another AS (an inter-AS link is external; eBGP runs there, as in netlab).
fn same_as(topo: &Topology, seg: &nettwin_model::Segment, node: nettwin_model::NodeId) -> bool {
    let mine = topo.node(node).asn;
    seg.members.iter().all(|m| {
        let other = topo.node(m.node);
        !other.kind.forwards_ip() || other.asn.is_none() || mine.is_none() || other.asn == mine
    })
}

/// A shortest-path tree: the distance to every vertex and its first hops. Vertices share
/// first-hop sets (everything behind one neighbour has that neighbour's set), so a set is
/// stored once and vertices hold its number.
struct Tree {
    dist: Vec<u32>,
    /// Per vertex: its set in `sets`.
    set: Vec<u32>,
    sets: Vec<Vec<Hop>>,
}

impl Tree {
    fn hops(&self, v: usize) -> &[Hop] {
        &self.sets[self.set[v] as usize]
    }
}

/// Shortest-path tree from `root` (Dijkstra, keeping every equal-cost first hop). Link costs
/// are small integers in practice: a bucket queue (Dial's algorithm) then does the work of the
/// binary heap in constant time per vertex.
fn spf(g: &AreaGraph, root: usize) -> Tree {
    if g.max_cost <= 4096 {
        spf_buckets(g, root, g.max_cost)
    } else {
        spf_heap(g, root)
    }
}

fn new_tree(g: &AreaGraph, root: usize) -> Tree {
    let mut t = Tree {
        dist: vec![u32::MAX; g.adj.len()],
        set: vec![0; g.adj.len()],
        sets: vec![Vec::new()],
    };
    t.dist[root] = 0;
    t
}

/// Relaxes the edges of `u`, just settled at distance `d`; `push` queues a vertex whose
/// distance went down. Equal-cost paths add their first hops to the vertex's set.
fn relax(
    g: &AreaGraph,
    t: &mut Tree,
    root: usize,
    u: usize,
    d: u32,
    done: &[bool],
    mut push: impl FnMut(usize, u32),
) {
    // Past a LAN the root sits on, the next hop becomes the router on it (decided per edge).
    let crosses_lan = u != root && t.hops(u).iter().any(|h| h.via.is_none());
    for e in &g.adj[u] {
        let v = e.to as usize;
        if v == root || done[v] {
            continue;
        }
        let nd = d.saturating_add(e.cost);
        if nd > t.dist[v] {
            continue;
        }
        // The first hops `v` gets through `u`.
        let through = if u == root {
            t.sets.push(vec![Hop {
                iface: e.out_iface,
                via: e.nbr,
            }]);
            (t.sets.len() - 1) as u32
        } else if crosses_lan {
            let mapped = t
                .hops(u)
                .iter()
                .map(|h| match h.via {
                    None => Hop {
                        iface: h.iface,
                        via: e.nbr,
                    },
                    Some(_) => *h,
                })
                .collect();
            t.sets.push(mapped);
            (t.sets.len() - 1) as u32
        } else {
            t.set[u]
        };
        if nd < t.dist[v] {
            t.dist[v] = nd;
            t.set[v] = through;
            push(v, nd);
        } else if t.set[v] != through {
            let mut merged = t.hops(v).to_vec();
            for h in &t.sets[through as usize] {
                if !merged.contains(h) {
                    merged.push(*h);
                }
            }
            if merged.len() > t.hops(v).len() {
                t.sets.push(merged);
                t.set[v] = (t.sets.len() - 1) as u32;
            }
        }
    }
}

fn spf_heap(g: &AreaGraph, root: usize) -> Tree {
    let mut t = new_tree(g, root);
    let mut done = vec![false; g.adj.len()];
    // Pseudonodes pop before routers at equal distance: their edges to routers cost 0, so a
    // router's equal-cost hops through a pseudonode must be complete before it is expanded.
    let mut heap = BinaryHeap::new();
    heap.push(Reverse((0u32, 1u8, root as u32)));
    while let Some(Reverse((d, _, u))) = heap.pop() {
        let u = u as usize;
        if done[u] || d > t.dist[u] {
            continue;
        }
        done[u] = true;
        relax(g, &mut t, root, u, d, &done, |v, nd| {
            heap.push(Reverse((nd, u8::from(v < g.routers), v as u32)))
        });
    }
    t
}

/// Dial's algorithm: a ring of `max_cost + 1` buckets holds every queued distance, and each
/// bucket settles its pseudonodes before its routers (as the heap's tie-break does).
fn spf_buckets(g: &AreaGraph, root: usize, max_cost: u32) -> Tree {
    let mut t = new_tree(g, root);
    let mut done = vec![false; g.adj.len()];
    let ring = max_cost as usize + 1;
    let mut pseudo: Vec<Vec<u32>> = vec![Vec::new(); ring];
    let mut routers: Vec<Vec<u32>> = vec![Vec::new(); ring];
    routers[0].push(root as u32);
    let mut queued = 1usize;
    let mut d = 0u32;
    while queued > 0 {
        let b = d as usize % ring;
        while let Some(u) = pseudo[b].pop().or_else(|| routers[b].pop()) {
            queued -= 1;
            let u = u as usize;
            if done[u] || t.dist[u] != d {
                continue;
            }
            done[u] = true;
            relax(g, &mut t, root, u, d, &done, |v, nd| {
                let slot = nd as usize % ring;
                if v < g.routers {
                    routers[slot].push(v as u32);
                } else {
                    pseudo[slot].push(v as u32);
                }
                queued += 1;
            });
        }
        d += 1;
    }
    t
}

/// Best way to each prefix found so far: cost and first hops.
type Reach = BTreeMap<Prefix, (u32, Vec<Hop>)>;

fn offer(reach: &mut Reach, p: Prefix, cost: u32, hops: &[Hop]) {
    match reach.get_mut(&p) {
        Some((c, h)) if *c == cost => {
            for x in hops {
                if !h.contains(x) {
                    h.push(*x);
                }
            }
        }
        Some((c, _)) if *c < cost => {}
        _ => {
            reach.insert(p, (cost, hops.to_vec()));
        }
    }
}

/// Intra-area reachability of one router in one area: prefixes to (cost, hops), and the
/// distance and hops to every router (for inter-area routes through border routers).
struct AreaView {
    prefixes: Reach,
    dist: Vec<u32>,
    hops: Vec<Vec<Hop>>,
}

/// Includes the root's own prefixes (with empty hops): a border router summarises them too.
fn area_view(g: &AreaGraph, root: usize) -> AreaView {
    let tree = spf(g, root);
    let dist = tree.dist.clone();
    let hops: Vec<Vec<Hop>> = (0..g.adj.len()).map(|v| tree.hops(v).to_vec()).collect();
    let mut prefixes = Reach::new();
    for v in 0..g.adj.len() {
        if dist[v] == u32::MAX {
            continue;
        }
        for (p, c) in &g.prefixes[v] {
            offer(&mut prefixes, *p, dist[v].saturating_add(*c), &hops[v]);
        }
    }
    AreaView {
        prefixes,
        dist,
        hops: hops.into_iter().take(g.routers).collect(),
    }
}

/// The prefixes a router reaches by itself (connected subnets of up interfaces, loopbacks).
fn own_prefixes(topo: &Topology, node: usize) -> Vec<Prefix> {
    let n = &topo.nodes[node];
    let mut own: Vec<Prefix> = n
        .interfaces
        .iter()
        .filter(|i| i.up)
        .flat_map(|i| [i.ipv4, i.ipv6])
        .flatten()
        .map(|a| a.subnet())
        .collect();
    own.extend(
        [n.loopback.ipv4, n.loopback.ipv6]
            .into_iter()
            .flatten()
            .flat_map(|a| [Prefix::host(a.addr), a.subnet()]),
    );
    own
}

/// The address a router hands packets to on the neighbour's interface `r`: the interface's own
/// address, or on an unnumbered interface (netlab's `ipv4: true`) the neighbour's loopback
/// address it borrows, which FRR's OSPF and IS-IS then use as the next hop (installed on-link).
/// An IPv6 interface with link-local addresses only is reached at the neighbour's IPv6
/// loopback the same way: nettwin models no link-local addresses.
fn neighbour_address(topo: &Topology, r: IfRef, family: Family) -> Option<IpAddr> {
    let i = topo.interface(r);
    let lo = topo.node(r.node).loopback;
    match family {
        Family::Ipv4 => i
            .ipv4
            .or(lo.ipv4.filter(|_| i.ipv4_unnumbered))
            .map(|a| a.addr),
        Family::Ipv6 => i.ipv6.or(lo.ipv6.filter(|_| i.ipv6_lla)).map(|a| a.addr),
    }
}

/// Turns first hops into next hops for the prefix's address family.
fn next_hops(
    topo: &Topology,
    root: usize,
    family: Family,
    hops: &[Hop],
    max: usize,
) -> Vec<NextHop> {
    let mut out: Vec<NextHop> = hops
        .iter()
        .filter_map(|h| {
            let address = match h.via {
                None => None,
                Some(r) => Some(neighbour_address(topo, r, family)?),
            };
            // The egress interface must carry the family too (unnumbered counts: it borrows
            // the loopback's address).
            let egress = &topo.nodes[root].interfaces[h.iface as usize];
            let has = match family {
                Family::Ipv4 => egress.ipv4.is_some() || egress.ipv4_unnumbered,
                Family::Ipv6 => egress.ipv6.is_some() || egress.ipv6_lla,
            };
            has.then_some(NextHop {
                address,
                interface: h.iface,
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out.truncate(max);
    out
}

/// What an area's vertices advertise, grouped by prefix number: the same for every root, so
/// it is built once per area.
struct Attachments {
    /// (prefix number, family, range in `att`), sorted by prefix number.
    groups: Vec<(u32, Family, u32, u32)>,
    /// (cost from the vertex, vertex).
    att: Vec<(u32, u32)>,
}

fn attachments(g: &AreaGraph, table: &PrefixTable) -> Attachments {
    let mut all: Vec<(u32, u32, u32)> = Vec::new();
    for (v, prefixes) in g.prefixes.iter().enumerate() {
        for (p, c) in prefixes {
            let id = table.id(p).expect("IGP prefixes are in the prefix table");
            all.push((id, *c, v as u32));
        }
    }
    all.sort_unstable();
    let mut out = Attachments {
        groups: Vec::new(),
        att: all.iter().map(|&(_, c, v)| (c, v)).collect(),
    };
    let mut i = 0;
    while i < all.len() {
        let p = all[i].0;
        let start = i;
        while i < all.len() && all[i].0 == p {
            i += 1;
        }
        out.groups
            .push((p, table.prefix(p).family(), start as u32, i as u32));
    }
    out
}

/// Routes of `root` in a single-area network: every prefix at its lowest cost, with the union
/// of the first hops of every vertex that advertises it at that cost.
#[allow(clippy::too_many_arguments)]
fn single_area_routes(
    topo: &Topology,
    g: &AreaGraph,
    attach: &Attachments,
    table: &PrefixTable,
    root: usize,
    protocol: Protocol,
    distance: u8,
    max_paths: usize,
    out: &mut NodeTable,
) {
    const UNSET: u32 = u32::MAX;
    const NONE: u32 = u32::MAX - 1;
    let tree = spf(g, root);
    let dist = &tree.dist;
    let mut own: Vec<u32> = own_prefixes(topo, root)
        .iter()
        .filter_map(|p| table.id(p))
        .collect();
    own.sort_unstable();
    let mut own_at = 0;
    out.entries.reserve(attach.groups.len());
    // A first-hop set's next hops per family, stored on first use: most prefixes hang off one
    // vertex, and most vertices share their set with others.
    let mut per_set: Vec<[u32; 2]> = vec![[UNSET; 2]; tree.sets.len()];
    let mut first: Vec<Hop> = Vec::new();
    for &(p, family, start, end) in &attach.groups {
        let att = &attach.att[start as usize..end as usize];
        let (mut best, mut count, mut best_v) = (u32::MAX, 0, 0usize);
        for &(c, v) in att {
            let v = v as usize;
            if v == root || dist[v] == u32::MAX {
                continue;
            }
            let cost = dist[v].saturating_add(c);
            if cost < best {
                (best, count, best_v) = (cost, 1, v);
            } else if cost == best {
                count += 1;
            }
        }
        if count == 0 {
            continue;
        }
        while own_at < own.len() && own[own_at] < p {
            own_at += 1;
        }
        if own.get(own_at) == Some(&p) {
            continue;
        }
        let set = if count == 1 {
            let slot = &mut per_set[tree.set[best_v] as usize][family as usize];
            if *slot == UNSET {
                let nh = next_hops(topo, root, family, tree.hops(best_v), max_paths);
                *slot = if nh.is_empty() {
                    NONE
                } else {
                    out.hop_set(&nh)
                };
            }
            *slot
        } else {
            first.clear();
            for &(c, v) in att {
                let v = v as usize;
                if v != root && dist[v] != u32::MAX && dist[v].saturating_add(c) == best {
                    for h in tree.hops(v) {
                        if !first.contains(h) {
                            first.push(*h);
                        }
                    }
                }
            }
            let nh = next_hops(topo, root, family, &first, max_paths);
            if nh.is_empty() {
                NONE
            } else {
                out.hop_set(&nh)
            }
        };
        if set == NONE {
            continue;
        }
        out.entries.push(Entry {
            prefix: p,
            metric: best,
            action: set,
            bgp: NO_BGP,
            protocol,
            distance,
        });
    }
}

/// Routes of one IGP for every router that runs it.
pub(crate) fn compute(
    topo: &Topology,
    cfg: &RoutingConfig,
    igp: Igp,
    table: &PrefixTable,
    out: &mut [NodeTable],
) {
    // OSPFv2 and OSPFv3 each see only the interfaces of their family: where an interface
    // carries one family but not the other, each gets its own graph (netlab configures OSPFv3
    // only where an interface has IPv6). IS-IS as FRR runs it by default is single-topology:
    // one graph for both.
    if igp == Igp::Ospf && families_differ(topo) {
        for f in [Family::Ipv4, Family::Ipv6] {
            compute_family(topo, cfg, igp, table, out, Some(f));
        }
    } else {
        compute_family(topo, cfg, igp, table, out, None);
    }
}

/// Whether the network has both families and some interface on a segment lacks one of them.
fn families_differ(topo: &Topology) -> bool {
    let all = |f: Family| {
        topo.segments
            .iter()
            .flat_map(|s| &s.members)
            .filter(|r| carries(topo, **r, f))
            .count()
    };
    let members: usize = topo.segments.iter().map(|s| s.members.len()).sum();
    let (v4, v6) = (all(Family::Ipv4), all(Family::Ipv6));
    v4 > 0 && v6 > 0 && (v4 < members || v6 < members)
}

fn compute_family(
    topo: &Topology,
    cfg: &RoutingConfig,
    igp: Igp,
    table: &PrefixTable,
    out: &mut [NodeTable],
    family: Option<Family>,
) {
    let n = topo.nodes.len();
    let settings = ifs(cfg, igp);
    // Areas in use, backbone first.
    let mut areas: Vec<Ipv4Addr> = Vec::new();
    for (i, node_settings) in settings.iter().enumerate().take(n) {
        if !speaks(cfg, igp, i) {
            continue;
        }
        areas.push(node_area(cfg, igp, i));
        areas.extend(node_settings.iter().map(|s| s.area));
    }
    areas.sort();
    areas.dedup();
    if areas.is_empty() {
        return;
    }
    let graphs: Vec<AreaGraph> = areas
        .iter()
        .map(|a| build_area(topo, cfg, igp, *a, family))
        .collect();
    let (protocol, inter_protocol) = match igp {
        Igp::Ospf => (Protocol::Ospf, Protocol::OspfInterArea),
        Igp::Isis => (Protocol::Isis, Protocol::Isis),
    };
    let max_paths = |r: usize| match igp {
        Igp::Ospf => cfg.ospf[r].as_ref().map(|o| o.maximum_paths).unwrap_or(1),
        Igp::Isis => cfg.isis[r].as_ref().map(|o| o.maximum_paths).unwrap_or(1),
    };
    if graphs.len() == 1 {
        // One area (the common case): no summaries, so each router needs only its own tree.
        let g = &graphs[0];
        let attach = attachments(g, table);
        out.par_iter_mut().enumerate().for_each(|(r, t)| {
            if speaks(cfg, igp, r) {
                single_area_routes(
                    topo,
                    g,
                    &attach,
                    table,
                    r,
                    protocol,
                    cfg.distances.of(protocol),
                    max_paths(r),
                    t,
                );
            }
        });
        return;
    }
    let backbone = areas.iter().position(|a| *a == Ipv4Addr::UNSPECIFIED);

    // Phase 1: every router's intra-area view of every area it is in.
    let views: Vec<Vec<Option<AreaView>>> = (0..n)
        .into_par_iter()
        .map(|r| {
            if !speaks(cfg, igp, r) {
                return Vec::new();
            }
            graphs
                .iter()
                .map(|g| g.members[r].then(|| area_view(g, r)))
                .collect()
        })
        .collect();
    let in_area = |r: usize, a: usize| views[r].get(a).is_some_and(Option::is_some);
    let is_abr = |r: usize| {
        backbone.is_some_and(|b| in_area(r, b))
            && (0..areas.len()).filter(|a| in_area(r, *a)).count() >= 2
    };
    let abrs: Vec<usize> = (0..n).filter(|r| is_abr(*r)).collect();

    // Phase 2: what each border router summarises into each of its areas (RFC 2328 12.4.3):
    // its intra-area routes of its other areas, and into non-backbone areas also the inter-area
    // routes it learned over the backbone.
    let backbone_inter: Vec<Reach> = abrs
        .iter()
        .map(|&b| {
            let mut reach = Reach::new();
            let Some(bb) = backbone else { return reach };
            let view = views[b][bb].as_ref().expect("ABR is in the backbone");
            for &other in abrs.iter().filter(|o| **o != b) {
                if view.dist[other] == u32::MAX {
                    continue;
                }
                for (a, v) in views[other].iter().enumerate() {
                    if a == bb {
                        continue;
                    }
                    if let Some(v) = v {
                        for (p, (c, _)) in &v.prefixes {
                            offer(
                                &mut reach,
                                *p,
                                view.dist[other].saturating_add(*c),
                                &view.hops[other],
                            );
                        }
                    }
                }
            }
            reach
        })
        .collect();
    let summary_cost = |b_idx: usize, into: usize, p: &Prefix| -> Option<u32> {
        let b = abrs[b_idx];
        let mut best: Option<u32> = None;
        for (a, v) in views[b].iter().enumerate() {
            if a == into {
                continue;
            }
            if let Some(v) = v {
                if let Some((c, _)) = v.prefixes.get(p) {
                    best = Some(best.map_or(*c, |x| x.min(*c)));
                }
            }
        }
        if Some(into) != backbone {
            if let Some((c, _)) = backbone_inter[b_idx].get(p) {
                best = Some(best.map_or(*c, |x| x.min(*c)));
            }
        }
        best
    };

    let distance_of = |p: Protocol| cfg.distances.of(p);

    out.par_iter_mut().enumerate().for_each(|(r, routes)| {
        if !speaks(cfg, igp, r) {
            return;
        }
        let own = own_prefixes(topo, r);
        let mut intra = Reach::new();
        for v in views[r].iter().flatten() {
            for (p, (c, h)) in &v.prefixes {
                if !own.contains(p) {
                    offer(&mut intra, *p, *c, h);
                }
            }
        }
        // Inter-area: through border routers reachable in my areas; an ABR looks at
        // backbone summaries only (RFC 2328 16.2).
        let mut inter = Reach::new();
        if !abrs.is_empty() {
            let my_areas: Vec<usize> = (0..areas.len())
                .filter(|a| in_area(r, *a))
                .filter(|a| !is_abr(r) || Some(*a) == backbone)
                .collect();
            let candidates: std::collections::BTreeSet<Prefix> = abrs
                .iter()
                .flat_map(|&b| {
                    views[b]
                        .iter()
                        .flatten()
                        .flat_map(|v| v.prefixes.keys().copied())
                })
                .chain(backbone_inter.iter().flat_map(|m| m.keys().copied()))
                .collect();
            for p in candidates {
                if intra.contains_key(&p) || own.contains(&p) {
                    continue;
                }
                for &a in &my_areas {
                    let view = views[r][a].as_ref().expect("member of the area");
                    for (bi, &b) in abrs.iter().enumerate() {
                        if !in_area(b, a) {
                            continue;
                        }
                        let (to_b, hops) = if b == r {
                            continue;
                        } else {
                            (view.dist[b], &view.hops[b])
                        };
                        if to_b == u32::MAX {
                            continue;
                        }
                        if let Some(c) = summary_cost(bi, a, &p) {
                            offer(&mut inter, p, to_b.saturating_add(c), hops);
                        }
                    }
                }
            }
        }
        for (set, proto) in [(intra, protocol), (inter, inter_protocol)] {
            for (p, (cost, hops)) in set {
                let nh = next_hops(topo, r, p.family(), &hops, max_paths(r));
                if nh.is_empty() {
                    continue;
                }
                let id = table.id(&p).expect("IGP prefixes are in the prefix table");
                routes.push(id, proto, distance_of(proto), cost, Target::Forward(nh));
            }
        }
    });
}

/// One IGP adjacency: the router's interface and the neighbour's interface on the same segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Adjacency {
    pub interface: u32,
    pub neighbor: IfRef,
    /// On a multi-access segment (a pseudonode), where designated routers are elected.
    pub multi_access: bool,
}

/// The adjacencies `node` forms in `igp`, on a topology with operational interface state
/// ([`crate::whatif::apply`]): both ends up, running the protocol, not passive, in the same area
/// and the same AS.
pub fn adjacencies(
    topo: &Topology,
    cfg: &RoutingConfig,
    igp: Igp,
    node: nettwin_model::NodeId,
) -> Vec<Adjacency> {
    let settings = ifs(cfg, igp);
    let active = |r: IfRef| {
        let ni = r.node.index();
        let iface = topo.interface(r);
        speaks(cfg, igp, ni)
            && iface.up
            && !settings[ni][r.index as usize].passive
            && iface
                .segment
                .is_some_and(|s| same_as(topo, topo.segment(s), r.node))
    };
    let mut out = Vec::new();
    for (i, iface) in topo.node(node).interfaces.iter().enumerate() {
        let me = IfRef {
            node,
            index: i as u32,
        };
        let Some(seg) = iface.segment else { continue };
        if !active(me) {
            continue;
        }
        let seg = topo.segment(seg);
        let area = settings[node.index()][i].area;
        let peers: Vec<IfRef> = seg
            .members
            .iter()
            .copied()
            .filter(|m| {
                m.node != node
                    && active(*m)
                    && settings[m.node.index()][m.index as usize].area == area
            })
            .collect();
        let multi_access = !(seg.kind == SegmentKind::P2p && peers.len() == 1);
        out.extend(peers.into_iter().map(|neighbor| Adjacency {
            interface: i as u32,
            neighbor,
            multi_access,
        }));
    }
    out
}
