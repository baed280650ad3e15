//! All-pairs reachability. Forwarding depends only on the destination (there are no filters
//! yet), so for each destination address the network's forwarding graph is built once (one FIB
//! lookup and one neighbour resolution per node) and every node's outcome is computed by one
//! memoised depth-first pass over it; all sources then read their answer off that pass. The
//! cost is O(destinations x nodes), not O(pairs x path length), and destinations run in
//! parallel.
//!
//! With VRFs the graph's nodes are routing instances (`r1` and `r1 vrf red`): a packet that
//! enters a router on a VRF interface is looked up in that VRF's table, so each instance has
//! its own decisions. A node is a source once per table (global, then each VRF), and a VRF's
//! loopback (or, without one, its interface addresses) is a destination in that VRF.

use crate::packet::{family_of, min_size};
use crate::trace::Disposition;
use crate::Net;
use nettwin_model::{IfRef, NodeId, NodeKind, Topology};
use nettwin_routing::Action;
use rayon::prelude::*;
use serde::Serialize;
use std::net::IpAddr;

/// The probe every pair is tested with.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ReachOptions {
    /// IP packet size; packets are sent with DF, so a pair whose path cannot carry this size
    /// fails with `dropped-by-mtu`.
    pub size: u32,
    pub ttl: u8,
}

impl Default for ReachOptions {
    fn default() -> Self {
        ReachOptions {
            size: 64,
            ttl: crate::DEFAULT_TTL,
        }
    }
}

/// An address tested as a destination, the node owning it and the VRF it lies in (an index
/// into the node's `vrfs`; `None`: the global table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Dest {
    pub node: NodeId,
    pub addr: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrf: Option<u32>,
}

/// The outcome for one (source, destination) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// The worst outcome over the ECMP branches (the first failing branch's).
    pub disposition: Disposition,
    /// Some branches deliver and some do not.
    pub partial: bool,
    /// Where it failed (the destination node when delivered). For `ttl-exceeded` this is the
    /// sender and for `loop-detected` a node of the loop, since the memo does not keep the
    /// sender's position; `nettwin trace` gives the exact router.
    pub at: NodeId,
    /// A fingerprint of the set of paths taken, to see paths move in what-ifs.
    pub paths: u64,
}

/// The reachability matrix.
#[derive(Clone, Debug)]
pub struct Reach {
    /// The sending nodes, a node once per table it sends from (see `source_vrfs`).
    pub sources: Vec<NodeId>,
    /// Per source: the VRF it sends in (`None`: the global table).
    pub source_vrfs: Vec<Option<u32>>,
    pub dests: Vec<Dest>,
    /// Destination-major: `cells[d * sources.len() + s]`.
    cells: Vec<Cell>,
    pub options: ReachOptions,
}

/// A failing pair, for output.
#[derive(Clone, Debug, Serialize)]
pub struct FailedPair {
    pub from: String,
    pub to: IpAddr,
    pub to_node: String,
    pub disposition: Disposition,
    pub at: String,
    pub partial: bool,
}

/// Counts over the pairs between different nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReachSummary {
    pub sources: usize,
    pub destinations: usize,
    pub pairs: usize,
    pub delivered: usize,
    pub failed: usize,
    /// Failures per disposition name.
    pub by_disposition: std::collections::BTreeMap<&'static str, usize>,
}

impl Reach {
    pub fn cell(&self, s: usize, d: usize) -> Cell {
        self.cells[d * self.sources.len() + s]
    }

    /// Pairs as (source index, destination index), skipping a node towards its own address.
    pub fn pairs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.dests.len()).flat_map(move |d| {
            (0..self.sources.len())
                .filter(move |&s| self.sources[s] != self.dests[d].node)
                .map(move |s| (s, d))
        })
    }

    pub fn summary(&self) -> ReachSummary {
        let mut sum = ReachSummary {
            sources: self.sources.len(),
            destinations: self.dests.len(),
            ..ReachSummary::default()
        };
        for (s, d) in self.pairs() {
            let c = self.cell(s, d);
            sum.pairs += 1;
            if c.disposition.is_delivered() {
                sum.delivered += 1;
            } else {
                sum.failed += 1;
                *sum.by_disposition.entry(c.disposition.name()).or_default() += 1;
            }
        }
        sum
    }

    pub fn failed_pair(&self, topo: &Topology, s: usize, d: usize) -> FailedPair {
        let c = self.cell(s, d);
        FailedPair {
            from: self.source_name(topo, s),
            to: self.dests[d].addr,
            to_node: self.dest_name(topo, d),
            disposition: c.disposition,
            at: topo.node(c.at).name.clone(),
            partial: c.partial,
        }
    }

    /// A source's name: the node's, or `r1 vrf red` for a source in a VRF.
    pub fn source_name(&self, topo: &Topology, s: usize) -> String {
        let n = topo.node(self.sources[s]);
        match self.source_vrfs.get(s).copied().flatten() {
            Some(k) => nettwin_routing::vrf::instance_name(&n.name, &n.vrfs[k as usize].name),
            None => n.name.clone(),
        }
    }

    /// A destination's owner: the node's name, or `r1 vrf red` for an address in a VRF.
    pub fn dest_name(&self, topo: &Topology, d: usize) -> String {
        let Dest { node, vrf, .. } = self.dests[d];
        let n = topo.node(node);
        match vrf {
            Some(k) => nettwin_routing::vrf::instance_name(&n.name, &n.vrfs[k as usize].name),
            None => n.name.clone(),
        }
    }

    /// Every failing pair.
    pub fn failures(&self, topo: &Topology) -> Vec<FailedPair> {
        self.pairs()
            .filter(|&(s, d)| !self.cell(s, d).disposition.is_delivered())
            .map(|(s, d)| self.failed_pair(topo, s, d))
            .collect()
    }
}

/// The addresses nodes are reached by: a node's loopbacks, or every interface address when it
/// has no loopback (hosts, routers without one). Switches have none.
pub fn destinations(topo: &Topology) -> Vec<Dest> {
    let mut out = Vec::new();
    for n in topo.nodes.iter().filter(|n| n.kind.is_ip()) {
        let lo: Vec<IpAddr> = [n.loopback.ipv4, n.loopback.ipv6]
            .into_iter()
            .flatten()
            .map(|a| a.addr)
            .collect();
        if !lo.is_empty() && n.kind != NodeKind::Host {
            out.extend(lo.into_iter().map(|addr| Dest {
                node: n.id,
                addr,
                vrf: None,
            }));
        } else {
            for i in n.interfaces.iter().filter(|i| i.vrf.is_none()) {
                for a in [i.ipv4, i.ipv6].into_iter().flatten() {
                    out.push(Dest {
                        node: n.id,
                        addr: a.addr,
                        vrf: None,
                    });
                }
            }
        }
        // Each VRF by its loopback, or by its interface addresses when it has none.
        for (k, v) in n.vrfs.iter().enumerate() {
            let vrf = Some(k as u32);
            let lo: Vec<IpAddr> = [v.loopback.ipv4, v.loopback.ipv6]
                .into_iter()
                .flatten()
                .map(|a| a.addr)
                .collect();
            if !lo.is_empty() {
                out.extend(lo.into_iter().map(|addr| Dest {
                    node: n.id,
                    addr,
                    vrf,
                }));
                continue;
            }
            for i in n.interfaces.iter().filter(|i| i.vrf == vrf) {
                for a in [i.ipv4, i.ipv6].into_iter().flatten() {
                    out.push(Dest {
                        node: n.id,
                        addr: a.addr,
                        vrf,
                    });
                }
            }
        }
    }
    out
}

/// Computes reachability from every IP node to every destination address.
pub fn reach(net: &Net, options: ReachOptions) -> Reach {
    let topo = net.topo;
    let (sources, source_vrfs): (Vec<NodeId>, Vec<Option<u32>>) = topo
        .nodes
        .iter()
        .filter(|n| n.kind.is_ip())
        .flat_map(|n| {
            std::iter::once((n.id, None)).chain((0..n.vrfs.len() as u32).map(|k| (n.id, Some(k))))
        })
        .unzip();
    let instances: Vec<NodeId> = sources
        .iter()
        .zip(&source_vrfs)
        .map(|(&n, &v)| net.routing.instance(n, v))
        .collect();
    let count = net
        .routing
        .instance_topology()
        .map_or(topo.nodes.len(), |t| t.nodes.len());
    let dests = destinations(topo);
    let mut cells = Vec::with_capacity(dests.len() * sources.len());
    for block in dests.chunks(BLOCK) {
        // Phase 1, node by node (one FIB hot in cache at a time): each node's decision for
        // every destination of the block, next-hop groups shared by the routes that use them.
        let mut order: Vec<u32> = (0..block.len() as u32).collect();
        order.sort_by_key(|&i| addr_key(block[i as usize].addr));
        let tables: Vec<NodeTable> = (0..count)
            .into_par_iter()
            .map(|i| NodeTable::build(net, NodeId(i as u32), block, &order, options))
            .collect();
        // Phase 2, destination by destination: walk the forwarding graph read off the tables.
        let columns: Vec<Vec<Cell>> = (0..block.len())
            .into_par_iter()
            .map_init(Buffers::default, |buf, di| {
                Walk::new(net, &tables, di, options, buf).sources(&instances)
            })
            .collect();
        cells.extend(columns.into_iter().flatten());
    }
    Reach {
        sources,
        source_vrfs,
        dests,
        cells,
        options,
    }
}

/// Where one ECMP branch of a node's decision goes.
#[derive(Clone, Copy, Debug)]
enum Branch {
    End(Disposition, NodeId),
    To(NodeId),
}

/// A node's outcome towards the walk's destination.
#[derive(Clone, Copy, Debug)]
struct Res {
    disposition: Disposition,
    partial: bool,
    at: NodeId,
    /// Routers that forward the packet on the longest branch from here (TTL decrements),
    /// this node included when it forwards.
    hops: u32,
    /// Whether this node itself forwarded (to undo its hop when it is the sender).
    forwarded: bool,
    paths: u64,
}

/// Combines the results of a node's branches. The path fingerprint is order-independent (a
/// sum of mixed child fingerprints), so ECMP order does not matter and nothing is allocated.
#[derive(Default)]
struct Acc {
    fail: Option<(Disposition, NodeId)>,
    ok: bool,
    hops: u32,
    forwarded: bool,
    fp_sum: u64,
}

impl Acc {
    fn add(&mut self, r: Res) {
        if r.disposition.is_delivered() {
            self.ok = true;
            self.hops = self.hops.max(r.hops);
            self.fp_sum = self.fp_sum.wrapping_add(mix(r.paths));
        } else {
            self.fail.get_or_insert((r.disposition, r.at));
            self.ok |= r.partial;
        }
    }

    fn fail(&mut self, d: Disposition, at: NodeId) {
        self.fail.get_or_insert((d, at));
    }

    fn finish(self, node: NodeId) -> Res {
        let paths = mix(mix(u64::from(node.0) ^ 0x9e37_79b9_7f4a_7c15) ^ self.fp_sum);
        let hops = self.hops + u32::from(self.forwarded);
        match self.fail {
            None => Res {
                disposition: Disposition::Delivered,
                partial: false,
                at: node,
                hops,
                forwarded: self.forwarded,
                paths,
            },
            Some((d, at)) => Res {
                disposition: d,
                partial: self.ok,
                at,
                hops,
                forwarded: self.forwarded,
                paths: 0,
            },
        }
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Destinations handled together: phase 1 tables for a block take `BLOCK x nodes x 4` bytes
/// (32 MB at 2,000 nodes). Each block puts every node's FIB together once, so fewer, larger
/// blocks mean less of that work.
const BLOCK: usize = 4096;

/// A decision code with this bit set is a disposition at the node itself (index into
/// [`Disposition::ALL`]); otherwise it indexes the node's next-hop groups.
const TERMINAL: u32 = 1 << 31;

/// One node's decisions for a block of destinations.
struct NodeTable {
    /// Per destination of the block: a decision code.
    codes: Vec<u32>,
    /// Next-hop groups as ranges into `branches`.
    groups: Vec<(u32, u32)>,
    branches: Vec<Branch>,
    /// Whether the node forwards packets for others (a host drops them).
    forwards: bool,
}

impl NodeTable {
    /// `order` lists the block's destinations sorted by address, so the node's FIB (sorted by
    /// prefix) is matched against all of them in one merge-like sweep instead of one trie
    /// lookup each.
    /// `node` is a routing instance (the node itself without VRFs).
    fn build(net: &Net, node: NodeId, block: &[Dest], order: &[u32], o: ReachOptions) -> NodeTable {
        let n = net.topo.node(net.routing.instance_of(node).0);
        let mut t = NodeTable {
            codes: vec![0; block.len()],
            groups: Vec::new(),
            branches: Vec::new(),
            forwards: n.kind.forwards_ip(),
        };
        let terminal = |d: Disposition| {
            TERMINAL
                | Disposition::ALL
                    .iter()
                    .position(|x| *x == d)
                    .expect("listed") as u32
        };
        if !n.kind.is_ip() {
            t.codes.fill(terminal(Disposition::NoRoute));
            return t;
        }
        let fib = net.routing.fib(node);
        let routes = fib.routes();
        // Next-hop sets that all have addresses resolve the same for every destination, and
        // most routes share a few such sets (one per neighbour or ECMP group).
        let mut shared: crate::FastMap<&[nettwin_routing::NextHop], u32> =
            crate::FastMap::default();
        // The sweep: `open` holds the routes seen so far that may still contain later
        // addresses, each covering the next, so its top is the longest match.
        let mut open: Vec<usize> = Vec::new();
        let mut next = 0;
        for &di in order {
            let d = block[di as usize];
            let key = addr_key(d.addr);
            while next < routes.len()
                && (routes[next].prefix.family(), routes[next].prefix.bits()) <= key
            {
                let p = routes[next].prefix;
                while open.last().is_some_and(|&k| !routes[k].prefix.covers(&p)) {
                    open.pop();
                }
                open.push(next);
                next += 1;
            }
            while open
                .last()
                .is_some_and(|&k| !routes[k].prefix.contains(d.addr))
            {
                open.pop();
            }
            let found = open.last().map(|&k| &routes[k]);
            debug_assert!(
                match (found, fib.lookup(d.addr)) {
                    (Some(a), Some(b)) => *a == b,
                    (None, None) => true,
                    _ => false,
                },
                "sweep and trie disagree at {} for {}",
                n.name,
                d.addr
            );
            let code = match found {
                None => terminal(Disposition::NoRoute),
                Some(route) => match route.action {
                    Action::Receive => terminal(Disposition::Delivered),
                    Action::Discard => terminal(Disposition::NullRouted),
                    Action::Forward { next_hops } => {
                        let key = next_hops;
                        let per_dst = next_hops.iter().any(|h| h.address.is_none());
                        match shared.get(&key) {
                            Some(&g) if !per_dst => g,
                            _ => {
                                let size = o.size.max(min_size(family_of(d.addr)));
                                let start = t.branches.len() as u32;
                                for h in next_hops {
                                    let b = branch(net, node, *h, d.addr, size);
                                    t.branches.push(b);
                                }
                                let g = t.groups.len() as u32;
                                t.groups.push((start, next_hops.len() as u32));
                                if !per_dst {
                                    shared.insert(key, g);
                                }
                                g
                            }
                        }
                    }
                },
            };
            t.codes[di as usize] = code;
        }
        t
    }
}

/// An address in the order prefixes sort in: family, then the integer value.
fn addr_key(a: IpAddr) -> (nettwin_model::Family, u128) {
    let p = nettwin_model::Prefix::host(a);
    (p.family(), p.bits())
}

/// Where one next hop of routing instance `inst` takes a packet of `size` bytes: the next
/// instance (the receiving interface's table), or a failure (ARP/ND, an MTU on the egress, a
/// bridge port or the receiving interface).
fn branch(net: &Net, inst: NodeId, h: nettwin_routing::NextHop, dst: IpAddr, size: u32) -> Branch {
    let topo = net.topo;
    let node = net.routing.instance_of(inst).0;
    let eif = IfRef {
        node,
        index: h.interface,
    };
    if size > topo.interface(eif).mtu {
        return Branch::End(Disposition::DroppedByMtu, node);
    }
    match net.resolve(eif, h.address.unwrap_or(dst)) {
        Err(_) => Branch::End(Disposition::UnreachableNeighbour, node),
        Ok(nb) => {
            let small_port = nb.bridges.iter().find(|c| {
                size > topo.interface(c.in_port).mtu || size > topo.interface(c.out_port).mtu
            });
            if let Some(c) = small_port {
                Branch::End(Disposition::DroppedByMtu, c.switch)
            } else if size > topo.interface(nb.owner).mtu {
                Branch::End(Disposition::DroppedByMtu, nb.owner.node)
            } else {
                let vrf = topo.interface(nb.owner).vrf;
                Branch::To(net.routing.instance(nb.owner.node, vrf))
            }
        }
    }
}

/// Per-thread buffers, reused from one destination to the next.
#[derive(Default)]
struct Buffers {
    /// 0 unvisited, 1 on the DFS stack, 2 done.
    state: Vec<u8>,
    res: Vec<Res>,
    /// Branches of the nodes on the DFS stack, as ranges (a stack itself).
    arena: Vec<Branch>,
}

/// One destination's forwarding graph, evaluated lazily and memoised per node.
struct Walk<'n, 'a, 'b> {
    net: &'n Net<'a>,
    tables: &'n [NodeTable],
    /// The destination's index in the block.
    di: usize,
    ttl: u8,
    buf: &'b mut Buffers,
}

impl<'n, 'a, 'b> Walk<'n, 'a, 'b> {
    fn new(
        net: &'n Net<'a>,
        tables: &'n [NodeTable],
        di: usize,
        o: ReachOptions,
        buf: &'b mut Buffers,
    ) -> Self {
        let n = tables.len();
        buf.state.clear();
        buf.state.resize(n, 0);
        buf.res.clear();
        buf.res.resize(n, end_res(Disposition::NoRoute, NodeId(0)));
        buf.arena.clear();
        Walk {
            net,
            tables,
            di,
            ttl: o.ttl,
            buf,
        }
    }

    fn sources(mut self, sources: &[NodeId]) -> Vec<Cell> {
        sources
            .iter()
            .map(|&s| {
                let r = if self.tables[s.index()].forwards {
                    // A router sends as it forwards, minus its own TTL decrement.
                    self.eval(s);
                    let mut r = self.buf.res[s.index()];
                    r.hops -= u32::from(r.forwarded);
                    r
                } else {
                    let mut acc = Acc::default();
                    let start = self.buf.arena.len();
                    self.decide(s, false);
                    let end = self.buf.arena.len();
                    for i in start..end {
                        match self.buf.arena[i] {
                            Branch::End(d, at) => acc.add(end_res(d, at)),
                            Branch::To(c) => {
                                self.eval(c);
                                acc.add(self.buf.res[c.index()]);
                            }
                        }
                    }
                    self.buf.arena.truncate(start);
                    let mut r = acc.finish(s);
                    r.hops = r.hops.saturating_sub(u32::from(r.forwarded));
                    r
                };
                // The k-th router on the way receives TTL ttl-k+1 and must see more than 1 to
                // forward, so at most ttl-1 routers may forward.
                let (disposition, at) =
                    if r.disposition.is_delivered() && r.hops >= u32::from(self.ttl) {
                        (Disposition::TtlExceeded, s)
                    } else {
                        (r.disposition, r.at)
                    };
                Cell {
                    disposition,
                    partial: r.partial,
                    // The router, whichever of its tables the packet was in.
                    at: self.net.routing.instance_of(at).0,
                    paths: r.paths,
                }
            })
            .collect()
    }

    /// Evaluates `root` as a transit node, iteratively (paths can be thousands of hops).
    fn eval(&mut self, root: NodeId) {
        if self.buf.state[root.index()] != 0 {
            return;
        }
        struct Frame {
            node: NodeId,
            /// Where this node's branches start in the arena (truncated back to on pop).
            start: usize,
            /// Next branch to follow and the end of this node's branches in the arena.
            next: usize,
            end: usize,
            acc: Acc,
        }
        let mut stack: Vec<Frame> = Vec::new();
        let push = |w: &mut Self, stack: &mut Vec<Frame>, node: NodeId| {
            w.buf.state[node.index()] = 1;
            let start = w.buf.arena.len();
            w.decide(node, true);
            stack.push(Frame {
                node,
                start,
                next: start,
                end: w.buf.arena.len(),
                acc: Acc::default(),
            });
        };
        push(self, &mut stack, root);
        while let Some(top) = stack.last_mut() {
            if top.next < top.end {
                let b = self.buf.arena[top.next];
                top.next += 1;
                match b {
                    Branch::End(d, at) => top.acc.add(end_res(d, at)),
                    Branch::To(c) => {
                        top.acc.forwarded = true;
                        match self.buf.state[c.index()] {
                            2 => top.acc.add(self.buf.res[c.index()]),
                            1 => top.acc.fail(Disposition::LoopDetected, c),
                            _ => push(self, &mut stack, c),
                        }
                    }
                }
            } else {
                let f = stack.pop().expect("non-empty");
                debug_assert_eq!(f.end, self.buf.arena.len());
                self.buf.arena.truncate(f.start);
                let r = f.acc.finish(f.node);
                self.buf.res[f.node.index()] = r;
                self.buf.state[f.node.index()] = 2;
                if let Some(parent) = stack.last_mut() {
                    parent.acc.add(r);
                }
            }
        }
    }

    /// What `node` does with the packet, read off its table: pushed onto the arena.
    fn decide(&mut self, node: NodeId, transit: bool) {
        let t = &self.tables[node.index()];
        let code = t.codes[self.di];
        let arena = &mut self.buf.arena;
        if code & TERMINAL != 0 {
            let d = Disposition::ALL[(code & !TERMINAL) as usize];
            return arena.push(Branch::End(d, node));
        }
        if transit && !t.forwards {
            return arena.push(Branch::End(Disposition::HostDoesNotForward, node));
        }
        let (start, len) = t.groups[code as usize];
        arena.extend_from_slice(&t.branches[start as usize..(start + len) as usize]);
    }
}

fn end_res(d: Disposition, at: NodeId) -> Res {
    Res {
        disposition: d,
        partial: false,
        at,
        hops: 0,
        forwarded: false,
        paths: if d.is_delivered() {
            mix(u64::from(at.0) ^ 0x9e37_79b9_7f4a_7c15)
        } else {
            0
        },
    }
}
