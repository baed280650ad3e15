//! Packet traces: a packet followed hop by hop as a tree (one child per ECMP next hop), each
//! branch ending in a [`Disposition`]. ICMP errors a router sends are traced back to the source
//! as their own (possibly failing) trace.

use crate::l2::Neighbour;
use crate::mtu::{self, Oversize, Role};
use crate::packet::{family_of, flow_hash, fragment, header_len, Probe, Proto, DEFAULT_TTL};
use crate::Net;
use nettwin_model::{Family, IfRef, NodeId, NodeKind, Prefix, Topology};
use nettwin_routing::mpls::{LabelSource, Out, EXPLICIT_NULL_V4, EXPLICIT_NULL_V6, LABEL_BYTES};
use nettwin_routing::{Action, NextHop, Protocol, Routing};
use serde::Serialize;
use std::net::IpAddr;

/// Beyond this many branch ends a trace follows one next hop per router (by flow hash) and is
/// marked truncated, so a wide ECMP fabric cannot blow up the tree.
pub const MAX_LEAVES: usize = 1024;

/// How a branch of a trace ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disposition {
    /// Arrived whole at the node owning the destination.
    Delivered,
    /// Arrived at the destination as fragments (reassembled there).
    Fragmented,
    /// A node had no route for the destination.
    NoRoute,
    /// The matching route discards (null0, blackhole).
    NullRouted,
    /// The TTL / hop limit ran out at a router (ICMP time exceeded goes back).
    TtlExceeded,
    /// The packet came back to a node it already passed.
    LoopDetected,
    /// Too big for an MTU on the way and dropped (with or without ICMP, see the end's detail).
    DroppedByMtu,
    /// ARP/ND for the next hop gets no answer: nobody on the segment owns it, or it is down.
    UnreachableNeighbour,
    /// The packet reached an end host that is not its destination; hosts do not forward.
    HostDoesNotForward,
    /// Reserved for packet filters (the policy crate); never produced yet.
    DeniedByPolicy,
}

impl Disposition {
    pub const ALL: [Disposition; 10] = [
        Disposition::Delivered,
        Disposition::Fragmented,
        Disposition::NoRoute,
        Disposition::NullRouted,
        Disposition::TtlExceeded,
        Disposition::LoopDetected,
        Disposition::DroppedByMtu,
        Disposition::UnreachableNeighbour,
        Disposition::HostDoesNotForward,
        Disposition::DeniedByPolicy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Disposition::Delivered => "delivered",
            Disposition::Fragmented => "fragmented",
            Disposition::NoRoute => "no-route",
            Disposition::NullRouted => "null-routed",
            Disposition::TtlExceeded => "ttl-exceeded",
            Disposition::LoopDetected => "loop-detected",
            Disposition::DroppedByMtu => "dropped-by-mtu",
            Disposition::UnreachableNeighbour => "unreachable-neighbour",
            Disposition::HostDoesNotForward => "host-does-not-forward",
            Disposition::DeniedByPolicy => "denied-by-policy",
        }
    }

    /// Whether the packet got to its destination (whole or in fragments).
    pub fn is_delivered(self) -> bool {
        matches!(self, Disposition::Delivered | Disposition::Fragmented)
    }
}

impl std::fmt::Display for Disposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The FIB entry a lookup matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Matched {
    pub prefix: Prefix,
    pub protocol: Protocol,
}

/// One Linux bridge crossed on a LAN, with the MTUs of both ports and, on a VLAN, the 802.1Q
/// tag of the frame on the wire on each side (none on an access port or an SVI).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BridgeHop {
    pub switch: String,
    pub in_port: String,
    pub in_mtu: u32,
    pub out_port: String,
    pub out_mtu: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_tag: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_tag: Option<u16>,
}

/// How the next hop's link-layer address was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// `arp` (IPv4) or `nd` (IPv6).
    pub protocol: &'static str,
    /// The address asked for: the route's next hop, or the destination on a connected route.
    pub target: IpAddr,
    /// The interface that answered, `node:ifname`.
    pub owner: String,
    /// The 802.1Q tag of the frame on the wire out of the egress (a routed subinterface).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<u16>,
    /// The bridges the frame crosses to get there, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bridges: Vec<BridgeHop>,
}

/// A packet split on the way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fragmentation {
    /// The node that fragmented (the sender, a router or a bridge with br_netfilter).
    pub by: String,
    pub mtu: u32,
    /// Number of packets after the split.
    pub fragments: u32,
}

/// What a router did with labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelOp {
    /// An IP packet entered an LSP: the ingress pushed a stack.
    Push,
    Swap,
    /// Penultimate-hop pop (the next hop asked for implicit null).
    Pop,
    /// The next hop has no label: every label removed, the packet leaves as IP.
    Untagged,
    /// Explicit null popped at the egress, the IP packet looked up here.
    PopExplicitNull,
}

impl LabelOp {
    pub fn name(self) -> &'static str {
        match self {
            LabelOp::Push => "push",
            LabelOp::Swap => "swap",
            LabelOp::Pop => "pop",
            LabelOp::Untagged => "untagged",
            LabelOp::PopExplicitNull => "pop-explicit-null",
        }
    }
}

/// The label stack at a hop and the operation on it (stacks top first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LabelHop {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub in_stack: Vec<u32>,
    pub op: LabelOp,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub out_stack: Vec<u32>,
    /// TTL of the top label as it leaves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_ttl: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<LabelSource>,
    /// The FEC of the LSP (an LFIB entry's prefix, or the imposition's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fec: Option<Prefix>,
    /// Why the ingress pushed these labels (which rule and platform default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One node on a branch, with the one egress it uses on this branch.
#[derive(Clone, Debug, Serialize)]
pub struct Hop {
    pub node: String,
    #[serde(skip)]
    pub node_id: NodeId,
    pub kind: NodeKind,
    /// Interface the packet came in on; `None` at the sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<String>,
    /// The VRF whose table the packet is looked up in (the ingress interface's, at the sender
    /// the VRF of the source address); `None`: the global table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrf: Option<String>,
    /// The FIB entry matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<Matched>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<String>,
    #[serde(skip)]
    pub egress_if: Option<IfRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress_mtu: Option<u32>,
    /// Equal-cost next hops the route has, when more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecmp: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    pub ttl_in: u8,
    /// TTL after the decrement (the sender does not decrement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_out: Option<u8>,
    /// Size of the largest packet (or fragment) as it arrives here.
    pub size: u32,
    /// How many packets arrive here (more than one once fragmented).
    pub packets: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fragmented: Vec<Fragmentation>,
    /// MPLS at this hop, when the packet arrives or leaves labelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelHop>,
}

/// An ICMP error sent back towards the source, and what became of it.
#[derive(Clone, Debug, Serialize)]
pub struct IcmpError {
    #[serde(rename = "type")]
    pub icmp_type: u8,
    pub code: u8,
    pub name: &'static str,
    /// The router's address it is sent from.
    pub from: IpAddr,
    /// The MTU it reports (fragmentation needed / packet too big).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Whether every branch of the error's own trace reached the original sender.
    pub reached_source: bool,
    pub trace: Trace,
}

/// How and where a branch ends.
#[derive(Clone, Debug, Serialize)]
pub struct End {
    pub disposition: Disposition,
    /// The node where it ended (a switch or the receiving node for layer-2 drops).
    pub at: String,
    #[serde(skip)]
    pub at_id: NodeId,
    /// The interface whose MTU or state decided it, `node:ifname`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// For MTU drops: which rule of [`mtu::RULES`] applied (sender, router, bridge, receiver).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu_role: Option<Role>,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp: Option<Box<IcmpError>>,
}

/// A hop and what follows it: more hops (several on an ECMP split), or the end of the branch.
#[derive(Clone, Debug, Serialize)]
pub struct TraceNode {
    pub hop: Hop,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<TraceNode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<End>,
}

/// A packet's trace: the roots are the sender's hops (several when the sender itself has ECMP).
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    pub from: String,
    pub probe: Probe,
    pub branches: Vec<TraceNode>,
    /// Some ECMP splits were followed on one branch only (more than [`MAX_LEAVES`] ends).
    pub truncated: bool,
}

impl Trace {
    /// Every root-to-end path: its hops and its end.
    pub fn paths(&self) -> Vec<(Vec<&Hop>, &End)> {
        fn walk<'t>(
            n: &'t TraceNode,
            prefix: &mut Vec<&'t Hop>,
            out: &mut Vec<(Vec<&'t Hop>, &'t End)>,
        ) {
            prefix.push(&n.hop);
            if let Some(e) = &n.end {
                out.push((prefix.clone(), e));
            }
            for c in &n.next {
                walk(c, prefix, out);
            }
            prefix.pop();
        }
        let mut out = Vec::new();
        for b in &self.branches {
            walk(b, &mut Vec::new(), &mut out);
        }
        out
    }

    /// The distinct dispositions of the branches, sorted.
    pub fn dispositions(&self) -> Vec<Disposition> {
        let mut d: Vec<Disposition> = self.paths().iter().map(|(_, e)| e.disposition).collect();
        d.sort();
        d.dedup();
        d
    }

    /// Whether every branch got to the destination.
    pub fn delivered(&self) -> bool {
        let p = self.paths();
        !p.is_empty() && p.iter().all(|(_, e)| e.disposition.is_delivered())
    }
}

/// The ICMP errors nettwin models, as (IPv4 type, code, IPv6 type, code, name).
#[derive(Clone, Copy, Debug)]
enum IcmpKind {
    NetUnreachable,
    HostUnreachable,
    TimeExceeded,
    TooBig(u32),
}

impl IcmpKind {
    fn codes(self, family: Family) -> (u8, u8, &'static str) {
        match (self, family) {
            (IcmpKind::NetUnreachable, Family::Ipv4) => (3, 0, "destination unreachable (network)"),
            (IcmpKind::NetUnreachable, Family::Ipv6) => {
                (1, 0, "destination unreachable (no route)")
            }
            (IcmpKind::HostUnreachable, Family::Ipv4) => (3, 1, "destination unreachable (host)"),
            (IcmpKind::HostUnreachable, Family::Ipv6) => {
                (1, 3, "destination unreachable (address)")
            }
            (IcmpKind::TimeExceeded, Family::Ipv4) => (11, 0, "time exceeded in transit"),
            (IcmpKind::TimeExceeded, Family::Ipv6) => (3, 0, "hop limit exceeded in transit"),
            (IcmpKind::TooBig(_), Family::Ipv4) => (3, 4, "fragmentation needed and DF set"),
            (IcmpKind::TooBig(_), Family::Ipv6) => (2, 0, "packet too big"),
        }
    }
}

struct Ctx<'n, 'a> {
    net: &'n Net<'a>,
    probe: &'n Probe,
    /// This trace is itself an ICMP error: no error is ever sent about it (RFC 1122 3.2.2).
    is_icmp_error: bool,
    leaves: usize,
    truncated: bool,
}

#[derive(Clone)]
struct Pkt {
    /// IP TTL / hop limit.
    ttl: u8,
    /// Sizes of the packet's pieces (one until fragmented).
    frags: Vec<u32>,
    /// MPLS label stack, bottom first: (label, TTL).
    labels: Vec<(u32, u8)>,
}

impl Pkt {
    fn largest(&self) -> u32 {
        self.frags.iter().copied().max().unwrap_or(0)
    }

    /// The largest piece on the wire: the IP packet and 4 bytes per label.
    fn wire(&self) -> u32 {
        self.largest() + LABEL_BYTES * self.labels.len() as u32
    }

    /// Top of the stack first.
    fn stack(&self) -> Vec<u32> {
        self.labels.iter().rev().map(|l| l.0).collect()
    }
}

/// Whether `node` copies TTL between IP and label (uniform model, RFC 3443), for packets it
/// originates (`local`) or forwards.
fn propagates_ttl(routing: &Routing, node: NodeId, local: bool) -> bool {
    routing.label_config(node).is_none_or(|c| {
        if local {
            c.defaults.ttl_propagate_local
        } else {
            c.defaults.ttl_propagate
        }
    })
}

/// Follows `probe` from its sender through the network.
pub fn trace(net: &Net, probe: &Probe) -> Trace {
    run(net, probe, false)
}

/// Follows `probe` sent with a label stack (top first) already on it, as a head-end sends an
/// SR SID list: the sender's own LFIB forwards the top label (its TTL starts at the probe's).
pub fn trace_labelled(net: &Net, probe: &Probe, stack: &[u32]) -> Trace {
    let labels = stack.iter().rev().map(|l| (*l, probe.ttl)).collect();
    run_with(net, probe, false, labels)
}

fn run(net: &Net, probe: &Probe, is_icmp_error: bool) -> Trace {
    run_with(net, probe, is_icmp_error, Vec::new())
}

fn run_with(net: &Net, probe: &Probe, is_icmp_error: bool, labels: Vec<(u32, u8)>) -> Trace {
    let mut ctx = Ctx {
        net,
        probe,
        is_icmp_error,
        leaves: 0,
        truncated: false,
    };
    let pkt = Pkt {
        ttl: probe.ttl,
        frags: vec![probe.size],
        labels,
    };
    let branches = visit(&mut ctx, probe.from, None, pkt, &mut Vec::new());
    Trace {
        from: net.topo.node(probe.from).name.clone(),
        probe: probe.clone(),
        branches,
        truncated: ctx.truncated,
    }
}

fn end(ctx: &mut Ctx, at: NodeId, disposition: Disposition, detail: String) -> End {
    ctx.leaves += 1;
    End {
        disposition,
        at: ctx.net.topo.node(at).name.clone(),
        at_id: at,
        interface: None,
        mtu: None,
        mtu_role: None,
        detail,
        icmp: None,
    }
}

fn leaf(hop: Hop, e: End) -> TraceNode {
    TraceNode {
        hop,
        next: Vec::new(),
        end: Some(e),
    }
}

fn visit(
    ctx: &mut Ctx,
    node: NodeId,
    ingress: Option<u32>,
    mut pkt: Pkt,
    path: &mut Vec<NodeId>,
) -> Vec<TraceNode> {
    let topo = ctx.net.topo;
    let n = topo.node(node);
    let dst = ctx.probe.dst;
    let is_source = ingress.is_none();
    let mut hop = Hop {
        node: n.name.clone(),
        node_id: node,
        kind: n.kind,
        ingress: ingress.map(|i| n.interfaces[i as usize].name.clone()),
        vrf: None,
        route: None,
        egress: None,
        egress_if: None,
        egress_mtu: None,
        ecmp: None,
        next_hop: None,
        resolution: None,
        ttl_in: pkt.ttl,
        ttl_out: None,
        size: pkt.largest(),
        packets: pkt.frags.len() as u32,
        fragmented: Vec::new(),
        labels: None,
    };
    if let Some(pos) = path.iter().position(|p| *p == node) {
        let names: Vec<&str> = path[pos..]
            .iter()
            .chain(std::iter::once(&node))
            .map(|p| topo.node(*p).name.as_str())
            .collect();
        let e = end(
            ctx,
            node,
            Disposition::LoopDetected,
            format!("forwarding loop: {}", names.join(" -> ")),
        );
        return vec![leaf(hop, e)];
    }
    if !pkt.labels.is_empty() {
        let in_stack = pkt.stack();
        // Explicit null on top: this router is the egress; pop it and look at what is below.
        let mut popped = false;
        while let Some(&(l, ttl)) = pkt.labels.last() {
            if l != EXPLICIT_NULL_V4 && l != EXPLICIT_NULL_V6 {
                break;
            }
            pkt.labels.pop();
            popped = true;
            if pkt.labels.is_empty() && propagates_ttl(ctx.net.routing, node, false) {
                pkt.ttl = pkt.ttl.min(ttl);
            }
        }
        if !pkt.labels.is_empty() {
            return switch_label(ctx, node, hop, pkt, path);
        }
        if popped {
            hop.labels = Some(LabelHop {
                in_stack,
                op: LabelOp::PopExplicitNull,
                out_stack: Vec::new(),
                label_ttl: None,
                source: None,
                fec: None,
                reason: None,
            });
            hop.ttl_in = pkt.ttl;
        }
    }
    // A packet is looked up in the table of the VRF it arrived in (VRF-lite).
    let vrf = match ingress {
        Some(i) => n.interfaces[i as usize].vrf,
        None => source_vrf(n, ctx.probe.src),
    };
    hop.vrf = vrf.map(|k| n.vrfs[k as usize].name.clone());
    let Some(route) = ctx.net.routing.fib_in(node, vrf).lookup(dst) else {
        let mut e = end(
            ctx,
            node,
            Disposition::NoRoute,
            format!("no route to {dst}"),
        );
        e.icmp = icmp_error(ctx, node, IcmpKind::NetUnreachable, &pkt);
        return vec![leaf(hop, e)];
    };
    hop.route = Some(Matched {
        prefix: route.prefix,
        protocol: route.protocol,
    });
    let next_hops: &[NextHop] = match route.action {
        Action::Receive => {
            let e = if pkt.frags.len() > 1 {
                end(
                    ctx,
                    node,
                    Disposition::Fragmented,
                    format!(
                        "delivered in {} fragments, reassembled by {}",
                        pkt.frags.len(),
                        n.name
                    ),
                )
            } else {
                end(
                    ctx,
                    node,
                    Disposition::Delivered,
                    format!("delivered to {}", n.name),
                )
            };
            return vec![leaf(hop, e)];
        }
        Action::Discard => {
            let e = end(
                ctx,
                node,
                Disposition::NullRouted,
                format!("{} is a discard route (null0)", route.prefix),
            );
            return vec![leaf(hop, e)];
        }
        Action::Forward { next_hops } => next_hops,
    };
    if !is_source && !n.kind.forwards_ip() {
        let e = end(
            ctx,
            node,
            Disposition::HostDoesNotForward,
            format!(
                "{} is a {} and does not forward packets for {dst}",
                n.name, n.kind
            ),
        );
        return vec![leaf(hop, e)];
    }
    if !is_source && pkt.ttl <= 1 {
        let mut e = end(
            ctx,
            node,
            Disposition::TtlExceeded,
            format!("TTL {} expires at {}", pkt.ttl, n.name),
        );
        e.icmp = icmp_error(ctx, node, IcmpKind::TimeExceeded, &pkt);
        return vec![leaf(hop, e)];
    }
    hop.ttl_out = Some(if is_source { pkt.ttl } else { pkt.ttl - 1 });
    if next_hops.len() > 1 {
        hop.ecmp = Some(next_hops.len());
    }
    let chosen: Vec<NextHop> =
        if next_hops.len() > 1 && (ctx.probe.flow_hash || ctx.leaves >= MAX_LEAVES) {
            if !ctx.probe.flow_hash {
                ctx.truncated = true;
            }
            let i = (flow_hash(ctx.probe, node) % next_hops.len() as u64) as usize;
            vec![next_hops[i]]
        } else {
            next_hops.to_vec()
        };
    // Label imposition: the LSP (LDP or SR) the route or its BGP next hop resolves over.
    let imposition = ctx
        .net
        .routing
        .label_config(node)
        .and_then(|_| ctx.net.routing.imposition(node, &route).imposition);
    // A route steered into a TE tunnel leaves by the tunnel's first hop only.
    let chosen = match imposition.as_ref().filter(|i| i.tunnel.is_some()) {
        Some(imp) => imp.paths.iter().map(|p| p.next_hop).take(1).collect(),
        None => chosen,
    };
    let label_ttl = if propagates_ttl(ctx.net.routing, node, is_source) {
        hop.ttl_out.expect("set above")
    } else {
        255
    };
    path.push(node);
    let out = chosen
        .into_iter()
        .map(|h| {
            let mut hop = hop.clone();
            let mut pkt = pkt.clone();
            if let Some(imp) = &imposition {
                let push = imp.push_for(&h);
                if !push.is_empty() {
                    pkt.labels = push.iter().rev().map(|l| (*l, label_ttl)).collect();
                    hop.labels = Some(LabelHop {
                        in_stack: Vec::new(),
                        op: LabelOp::Push,
                        out_stack: push,
                        label_ttl: Some(label_ttl),
                        source: Some(imp.source),
                        fec: Some(imp.fec),
                        reason: Some(imp.reason.clone()),
                    });
                }
            }
            egress(ctx, node, hop, h, pkt, path)
        })
        .collect();
    path.pop();
    out
}

/// A labelled packet at a label switching router: the top label's LFIB entry decides.
fn switch_label(
    ctx: &mut Ctx,
    node: NodeId,
    mut hop: Hop,
    pkt: Pkt,
    path: &mut Vec<NodeId>,
) -> Vec<TraceNode> {
    let routing = ctx.net.routing;
    let n = ctx.net.topo.node(node);
    let in_stack = pkt.stack();
    let (top, label_ttl) = *pkt.labels.last().expect("labelled");
    let Some(entry) = routing.lfib(node, top) else {
        hop.labels = Some(LabelHop {
            in_stack,
            op: LabelOp::Swap,
            out_stack: Vec::new(),
            label_ttl: None,
            source: None,
            fec: None,
            reason: None,
        });
        let e = end(
            ctx,
            node,
            Disposition::NoRoute,
            format!("{} has no LFIB entry for label {top}: dropped", n.name),
        );
        return vec![leaf(hop, e)];
    };
    let fec = match entry.fec {
        nettwin_routing::mpls::Fec::Prefix { prefix } => Some(prefix),
        nettwin_routing::mpls::Fec::Adjacency { .. }
        | nettwin_routing::mpls::Fec::Tunnel { .. } => None,
    };
    let base = LabelHop {
        in_stack,
        op: LabelOp::Swap,
        out_stack: Vec::new(),
        label_ttl: None,
        source: Some(entry.source),
        fec,
        reason: None,
    };
    if label_ttl <= 1 {
        hop.labels = Some(base);
        let mut e = end(
            ctx,
            node,
            Disposition::TtlExceeded,
            format!("label TTL {label_ttl} expires at {}", n.name),
        );
        // The Linux kernel (FRR) drops it silently (`mpls_forward`); routers send time
        // exceeded (RFC 3032 section 2.3.2).
        let kernel = routing
            .label_config(node)
            .is_some_and(|c| c.defaults.kernel_mpls);
        if !kernel {
            e.icmp = icmp_error(ctx, node, IcmpKind::TimeExceeded, &pkt);
        }
        return vec![leaf(hop, e)];
    }
    let paths = &entry.paths;
    if paths.is_empty() {
        hop.labels = Some(base);
        let e = end(
            ctx,
            node,
            Disposition::NoRoute,
            format!("label {top} at {} has no next hop", n.name),
        );
        return vec![leaf(hop, e)];
    }
    if paths.len() > 1 {
        hop.ecmp = Some(paths.len());
    }
    let chosen: Vec<_> = if paths.len() > 1 && (ctx.probe.flow_hash || ctx.leaves >= MAX_LEAVES) {
        if !ctx.probe.flow_hash {
            ctx.truncated = true;
        }
        let i = (flow_hash(ctx.probe, node) % paths.len() as u64) as usize;
        vec![paths[i]]
    } else {
        paths.clone()
    };
    let propagate = propagates_ttl(routing, node, false);
    // The sender forwards its own stack without spending a hop.
    let spent = u8::from(hop.ingress.is_some());
    path.push(node);
    let out = chosen
        .into_iter()
        .map(|p| {
            let mut hop = hop.clone();
            let mut pkt = pkt.clone();
            let mut lh = base.clone();
            let ttl = label_ttl - spent;
            match p.out {
                Out::Swap(l) => {
                    *pkt.labels.last_mut().expect("labelled") = (l, ttl);
                    lh.op = LabelOp::Swap;
                }
                Out::Pop | Out::Untagged => {
                    if p.out == Out::Pop {
                        pkt.labels.pop();
                        lh.op = LabelOp::Pop;
                    } else {
                        pkt.labels.clear();
                        lh.op = LabelOp::Untagged;
                    }
                    match pkt.labels.last_mut() {
                        // The label below inherits the TTL (RFC 3443 uniform model).
                        Some(below) if propagate => below.1 = below.1.min(ttl),
                        Some(_) => {}
                        None if propagate => pkt.ttl = pkt.ttl.min(ttl),
                        None => {}
                    }
                }
            }
            lh.out_stack = pkt.stack();
            lh.label_ttl = pkt.labels.last().map(|l| l.1);
            hop.labels = Some(lh);
            hop.ttl_out = Some(pkt.ttl);
            egress(ctx, node, hop, p.next_hop, pkt, path)
        })
        .collect();
    path.pop();
    out
}

/// The VRF a sender's packet starts in: that of the interface or VRF loopback holding its
/// source address (a socket bound to the VRF), else the global table.
pub fn source_vrf(n: &nettwin_model::Node, src: IpAddr) -> Option<u32> {
    let has = |a: Option<nettwin_model::IfAddr>| a.is_some_and(|a| a.addr == src);
    n.interfaces
        .iter()
        .find(|i| has(i.ipv4) || has(i.ipv6))
        .and_then(|i| i.vrf)
        .or_else(|| {
            n.vrfs
                .iter()
                .position(|v| has(v.loopback.ipv4) || has(v.loopback.ipv6))
                .map(|k| k as u32)
        })
}

fn egress(
    ctx: &mut Ctx,
    node: NodeId,
    mut hop: Hop,
    h: NextHop,
    mut pkt: Pkt,
    path: &mut Vec<NodeId>,
) -> TraceNode {
    let topo = ctx.net.topo;
    let probe = ctx.probe;
    let family = probe.family();
    let is_source = hop.ingress.is_none();
    let eif = IfRef {
        node,
        index: h.interface,
    };
    let iface = topo.interface(eif);
    hop.egress = Some(iface.name.clone());
    hop.egress_if = Some(eif);
    hop.egress_mtu = Some(iface.mtu);
    let target = h.address.unwrap_or(probe.dst);
    hop.next_hop = Some(target);
    pkt.ttl = hop.ttl_out.expect("set before egress");

    // The IP layer of the sender or router against the egress MTU, less 4 bytes per label
    // it leaves with (an ingress that pushes sees the smaller MTU, RFC 3032 section 3.2).
    let label_bytes = LABEL_BYTES * pkt.labels.len() as u32;
    let ip_mtu = iface.mtu.saturating_sub(label_bytes);
    if pkt.largest() > ip_mtu {
        let switched = !is_source
            && !pkt.labels.is_empty()
            && hop.labels.as_ref().is_some_and(|l| !l.in_stack.is_empty());
        let (role, rule) = if switched {
            let kernel = ctx
                .net
                .routing
                .label_config(node)
                .is_some_and(|c| c.defaults.kernel_mpls);
            (
                Role::LabelSwitch,
                mtu::rule_for_label_switch(family, probe.df, kernel),
            )
        } else if is_source {
            (
                Role::Source,
                mtu::rule_for(Role::Source, family, probe.df, false),
            )
        } else {
            (
                Role::Router,
                mtu::rule_for(Role::Router, family, probe.df, false),
            )
        };
        match rule.action {
            Oversize::Fragment => {
                pkt.frags = fragment(&pkt.frags, ip_mtu, family);
                hop.fragmented.push(Fragmentation {
                    by: hop.node.clone(),
                    mtu: ip_mtu,
                    fragments: pkt.frags.len() as u32,
                });
            }
            action => {
                let size = if label_bytes > 0 {
                    format!(
                        "{} bytes + {} label{} ({label_bytes} bytes) = {}",
                        pkt.largest(),
                        pkt.labels.len(),
                        if pkt.labels.len() == 1 { "" } else { "s" },
                        pkt.wire()
                    )
                } else {
                    format!("{} bytes", pkt.largest())
                };
                let detail = format!(
                    "{size} > MTU {} of {}: {}",
                    iface.mtu,
                    topo.if_name(eif),
                    match action {
                        Oversize::LocalError => "the sender gets EMSGSIZE",
                        Oversize::IcmpTooBig => "dropped, ICMP too big sent to the source",
                        _ => "dropped silently",
                    }
                );
                let mut e = end(ctx, node, Disposition::DroppedByMtu, detail);
                e.interface = Some(topo.if_name(eif));
                e.mtu = Some(ip_mtu);
                e.mtu_role = Some(role);
                if action == Oversize::IcmpTooBig {
                    e.icmp = icmp_error(ctx, node, IcmpKind::TooBig(ip_mtu), &pkt);
                }
                return leaf(hop, e);
            }
        }
    }

    let nb: Neighbour = match ctx.net.resolve(eif, target) {
        Ok(nb) => nb,
        Err(f) => {
            let mut e = end(
                ctx,
                node,
                Disposition::UnreachableNeighbour,
                f.describe(ctx.net, target),
            );
            e.interface = Some(topo.if_name(eif));
            if !is_source {
                e.icmp = icmp_error(ctx, node, IcmpKind::HostUnreachable, &pkt);
            }
            return leaf(hop, e);
        }
    };
    hop.resolution = Some(Resolution {
        protocol: if target.is_ipv4() { "arp" } else { "nd" },
        target,
        owner: topo.if_name(nb.owner),
        tag: nb.tag,
        bridges: nb
            .bridges
            .iter()
            .map(|c| BridgeHop {
                switch: topo.node(c.switch).name.clone(),
                in_port: topo.interface(c.in_port).name.clone(),
                in_mtu: topo.interface(c.in_port).mtu,
                out_port: topo.interface(c.out_port).name.clone(),
                out_mtu: topo.interface(c.out_port).mtu,
                in_tag: c.in_tag,
                out_tag: c.out_tag,
            })
            .collect(),
    });

    // Layer 2: every bridge port the frame enters and leaves, then the receiving interface.
    for c in &nb.bridges {
        if let Some(e) = receive_check(ctx, &pkt, c.in_port) {
            return leaf(hop, e);
        }
        let port = topo.interface(c.out_port);
        if pkt.wire() > port.mtu {
            let sw = topo.node(c.switch);
            let nf = sw.bridge_netfilter.unwrap_or(false);
            let rule = mtu::rule_for(Role::Bridge, family, probe.df, nf);
            if rule.action == Oversize::Fragment {
                pkt.frags = fragment(&pkt.frags, port.mtu, family);
                hop.fragmented.push(Fragmentation {
                    by: sw.name.clone(),
                    mtu: port.mtu,
                    fragments: pkt.frags.len() as u32,
                });
            } else {
                let detail = format!(
                    "{} bytes > MTU {} of bridge port {}: dropped silently (a bridge sends no ICMP{})",
                    pkt.largest(),
                    port.mtu,
                    topo.if_name(c.out_port),
                    if !nf && !probe.df && family == Family::Ipv4 { "; br_netfilter off, so no fragmentation" } else { "" }
                );
                let mut e = end(ctx, c.switch, Disposition::DroppedByMtu, detail);
                e.interface = Some(topo.if_name(c.out_port));
                e.mtu = Some(port.mtu);
                e.mtu_role = Some(Role::Bridge);
                return leaf(hop, e);
            }
        }
    }
    if let Some(e) = receive_check(ctx, &pkt, nb.owner) {
        return leaf(hop, e);
    }
    let next = visit(ctx, nb.owner.node, Some(nb.owner.index), pkt, path);
    TraceNode {
        hop,
        next,
        end: None,
    }
}

/// An interface receiving a frame longer than its own MTU drops it, telling no one.
fn receive_check(ctx: &mut Ctx, pkt: &Pkt, at: IfRef) -> Option<End> {
    let topo = ctx.net.topo;
    let iface = topo.interface(at);
    if pkt.wire() <= iface.mtu {
        return None;
    }
    debug_assert_eq!(
        mtu::rule_for(Role::Receiver, ctx.probe.family(), ctx.probe.df, false).action,
        Oversize::SilentDrop
    );
    let detail = format!(
        "{} bytes > MTU {} of receiving interface {}: dropped silently",
        pkt.wire(),
        iface.mtu,
        topo.if_name(at)
    );
    let mut e = end(ctx, at.node, Disposition::DroppedByMtu, detail);
    e.interface = Some(topo.if_name(at));
    e.mtu = Some(iface.mtu);
    e.mtu_role = Some(Role::Receiver);
    Some(e)
}

/// The ICMP error `node` sends to the probe's source, traced back. None when the packet was
/// itself an ICMP error, or when the node has no address to send from.
fn icmp_error(ctx: &mut Ctx, node: NodeId, kind: IcmpKind, pkt: &Pkt) -> Option<Box<IcmpError>> {
    if ctx.is_icmp_error || node == ctx.probe.from {
        return None;
    }
    let src = ctx.probe.src;
    let from = ctx.net.source_address(node, src)?;
    let family = family_of(src);
    let (icmp_type, code, name) = kind.codes(family);
    // The error quotes as much of the offending packet as fits in 576 bytes (IPv4, RFC 1812
    // 4.3.2.3) or the IPv6 minimum MTU of 1280 (RFC 4443 2.4).
    let quoted = pkt.largest();
    let size = match family {
        Family::Ipv4 => (header_len(family) + 8 + quoted).min(576),
        Family::Ipv6 => (header_len(family) + 8 + quoted).min(1280),
    };
    let back = Probe {
        from: node,
        src: from,
        dst: src,
        proto: Proto::Icmp,
        sport: 0,
        dport: 0,
        size,
        df: false,
        ttl: DEFAULT_TTL,
        flow_hash: true,
    };
    let trace = run(ctx.net, &back, true);
    let reached_source = {
        let p = trace.paths();
        !p.is_empty()
            && p.iter()
                .all(|(_, e)| e.disposition.is_delivered() && e.at_id == ctx.probe.from)
    };
    Some(Box::new(IcmpError {
        icmp_type,
        code,
        name,
        from,
        mtu: match kind {
            IcmpKind::TooBig(m) => Some(m),
            _ => None,
        },
        reached_source,
        trace,
    }))
}

/// A few traces that show what the dataplane does, for `nettwin demo`: on the embedded
/// `isp-dc` default these are a branch client reaching a web server across the ISP, the same
/// with a full-size DF packet to web2 (the MTU black hole at the bridge sw1), and an ECMP trace
/// across the datacenter fabric. Pairs whose nodes are missing are skipped; `topo` must be the
/// operational topology routing was computed on.
pub fn demo_traces(topo: &Topology, routing: &Routing) -> Vec<Trace> {
    let net = Net::new(topo, routing);
    let wanted: [(&str, &str, u32, bool); 3] = [
        ("client1", "web1", 64, false),
        ("client1", "web2", 1500, true),
        ("border", "leaf1", 64, false),
    ];
    let mut out = Vec::new();
    for (from, to, size, df) in wanted {
        let (Some(a), Some(b)) = (topo.node_by_name(from), topo.node_by_name(to)) else {
            continue;
        };
        let Some(dst) = net.node_address(b.id, false) else {
            continue;
        };
        let Some(src) = net.source_address(a.id, dst) else {
            continue;
        };
        out.push(trace(
            &net,
            &Probe {
                from: a.id,
                src,
                dst,
                proto: Proto::Icmp,
                sport: 0,
                dport: 0,
                size,
                df,
                ttl: DEFAULT_TTL,
                flow_hash: false,
            },
        ));
    }
    out
}
