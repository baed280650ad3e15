//! Forwarding for nettwin: what happens to a packet, hop by hop, on a converged network.
//!
//! Owns packet traces (a tree of hops over every ECMP branch, or one branch by flow hash), the
//! MTU behaviour of each device kind ([`mtu::RULES`]), ICMP errors and their own path back, path
//! MTU discovery with black-hole detection ([`pmtu`]), all-pairs reachability computed once per
//! destination over its forwarding graph ([`reach`]), and failure what-ifs with diffs and
//! single-failure rankings ([`whatif`]).
//!
//! It reads a [`Topology`] with operational interface state (see [`operational`]) and the
//! [`Routing`] computed on it; it does not compute routes (that is `nettwin-routing`), does not
//! model packet filters yet (`denied-by-policy` is reserved for the policy crate) and prints
//! nothing.

pub mod bench;
pub mod l2;
pub mod mtu;
pub mod packet;
pub mod pmtu;
pub mod reach;
pub mod trace;
pub mod whatif;

pub use packet::{flow_hash, Probe, Proto, DEFAULT_TTL};
pub use pmtu::{path_mtu, PmtuReport};
pub use reach::{reach, Reach, ReachOptions};
pub use trace::{demo_traces, trace, trace_labelled, Disposition, End, Hop, Trace, TraceNode};

use nettwin_model::{IfRef, NodeId, Topology};
use nettwin_routing::Routing;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

/// The Firefox/rustc multiply-rotate hash: addresses are not attacker-chosen here, and SipHash
/// dominated the per-hop neighbour lookups.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Why a dataplane question cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error("{0}")]
    Routing(#[from] nettwin_routing::RoutingError),
    /// A node, link or address the question names is not usable.
    #[error("{0}")]
    BadRequest(String),
}

/// The topology with interface state as it operates: a cable with one end shut is down at both
/// ends. Traces must run on this, with routing computed from the same state.
pub fn operational(topo: &Topology) -> Topology {
    nettwin_routing::whatif::apply(topo, &[]).expect("no changes cannot name a missing element")
}

/// A topology and its routing, with the address indexes forwarding needs.
pub struct Net<'a> {
    pub topo: &'a Topology,
    pub routing: &'a Routing,
    /// Interface addresses to the interface holding them (what ARP/ND answers for).
    if_owner: FastMap<IpAddr, IfRef>,
    /// Every address of a node, loopbacks included.
    node_owner: FastMap<IpAddr, NodeId>,
}

impl<'a> Net<'a> {
    pub fn new(topo: &'a Topology, routing: &'a Routing) -> Net<'a> {
        let mut if_owner = FastMap::default();
        let mut node_owner = FastMap::default();
        for n in &topo.nodes {
            for a in [n.loopback.ipv4, n.loopback.ipv6].into_iter().flatten() {
                node_owner.insert(a.addr, n.id);
            }
            for (i, iface) in n.interfaces.iter().enumerate() {
                for a in [iface.ipv4, iface.ipv6].into_iter().flatten() {
                    if_owner.insert(
                        a.addr,
                        IfRef {
                            node: n.id,
                            index: i as u32,
                        },
                    );
                    node_owner.insert(a.addr, n.id);
                }
            }
        }
        Net {
            topo,
            routing,
            if_owner,
            node_owner,
        }
    }

    /// The interface configured with `addr`.
    pub fn owner_if(&self, addr: IpAddr) -> Option<IfRef> {
        self.if_owner.get(&addr).copied()
    }

    /// The node owning `addr` (interface or loopback).
    pub fn owner_node(&self, addr: IpAddr) -> Option<NodeId> {
        self.node_owner.get(&addr).copied()
    }

    /// The address `node` sends from towards `dst`: the address of the egress interface the
    /// route picks (Linux source address selection), else a loopback, else any address.
    pub fn source_address(&self, node: NodeId, dst: IpAddr) -> Option<IpAddr> {
        let n = self.topo.node(node);
        let pick = |a: Option<nettwin_model::IfAddr>| a.map(|a| a.addr);
        let of_family = |iface: &nettwin_model::Interface| {
            if dst.is_ipv4() {
                pick(iface.ipv4)
            } else {
                pick(iface.ipv6)
            }
        };
        if let Some(r) = self.routing.fib(node).lookup(dst) {
            if let Some(h) = r.next_hops().first() {
                if let Some(a) = of_family(&n.interfaces[h.interface as usize]) {
                    return Some(a);
                }
            }
        }
        let lo = if dst.is_ipv4() {
            pick(n.loopback.ipv4)
        } else {
            pick(n.loopback.ipv6)
        };
        lo.or_else(|| n.interfaces.iter().filter(|i| i.up).find_map(of_family))
            .or_else(|| n.interfaces.iter().find_map(of_family))
    }

    /// The address a node is known by: IPv4 loopback, else its first interface address (IPv4
    /// preferred), for `--to NODE`.
    pub fn node_address(&self, node: NodeId, ipv6: bool) -> Option<IpAddr> {
        let n = self.topo.node(node);
        let (lo, pick): (_, fn(&nettwin_model::Interface) -> Option<IpAddr>) = if ipv6 {
            (n.loopback.ipv6, |i| i.ipv6.map(|a| a.addr))
        } else {
            (n.loopback.ipv4, |i| i.ipv4.map(|a| a.addr))
        };
        lo.map(|a| a.addr)
            .or_else(|| n.interfaces.iter().filter(|i| i.up).find_map(pick))
            .or_else(|| n.interfaces.iter().find_map(pick))
    }
}
