//! Neighbour resolution on a segment (ARP for IPv4, ND for IPv6) and the layer-2 path a frame
//! takes through the Linux bridges of the segment.

use crate::Net;
use nettwin_model::{IfRef, NodeId, NodeKind};
use std::collections::VecDeque;
use std::net::IpAddr;

/// One bridge crossed by a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeCrossing {
    pub switch: NodeId,
    pub in_port: IfRef,
    pub out_port: IfRef,
}

/// A resolved neighbour: who answered ARP/ND and how the frame gets there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    pub owner: IfRef,
    pub bridges: Vec<BridgeCrossing>,
}

/// Why ARP/ND got no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NeighbourFailure {
    EgressDown,
    /// No interface on the segment owns the address.
    NoOwner,
    /// The owner's interface is down.
    OwnerDown(IfRef),
    /// The bridges do not connect the two (a port down on the way).
    NoL2Path(IfRef),
}

impl NeighbourFailure {
    pub fn describe(&self, net: &Net, target: IpAddr) -> String {
        let arp = if target.is_ipv4() { "ARP" } else { "ND" };
        match self {
            NeighbourFailure::EgressDown => format!("{arp} for {target}: egress interface is down"),
            NeighbourFailure::NoOwner => {
                format!("{arp} for {target}: no interface on the segment owns it")
            }
            NeighbourFailure::OwnerDown(r) => {
                format!("{arp} for {target}: owner {} is down", net.topo.if_name(*r))
            }
            NeighbourFailure::NoL2Path(r) => format!(
                "{arp} for {target}: no bridge path to {} (a port is down)",
                net.topo.if_name(*r)
            ),
        }
    }
}

impl Net<'_> {
    /// Resolves `target` out of `egress`: the interface on the same segment that owns the
    /// address, and the bridges between. Bridges are walked breadth-first over up ports (a
    /// loop-free bridged LAN, or what spanning tree leaves of one, has a single such path).
    pub fn resolve(&self, egress: IfRef, target: IpAddr) -> Result<Neighbour, NeighbourFailure> {
        let topo = self.topo;
        let out = topo.interface(egress);
        if !out.up {
            return Err(NeighbourFailure::EgressDown);
        }
        let on_segment = |o: &IfRef| {
            topo.interface(*o).segment.is_some() && topo.interface(*o).segment == out.segment
        };
        // VRFs may reuse an address on other segments: look on this segment when the index
        // names an interface elsewhere.
        let owner = match self.owner_if(target).filter(on_segment).or_else(|| {
            let seg = topo.segment(out.segment?);
            seg.members.iter().copied().find(|m| {
                let i = topo.interface(*m);
                [i.ipv4, i.ipv6]
                    .into_iter()
                    .flatten()
                    .any(|a| a.addr == target)
            })
        }) {
            Some(o) => o,
            None => return Err(NeighbourFailure::NoOwner),
        };
        if !topo.interface(owner).up {
            return Err(NeighbourFailure::OwnerDown(owner));
        }
        let start = out.link;
        let goal = topo.interface(owner).link;
        if start == goal {
            return Ok(Neighbour {
                owner,
                bridges: Vec::new(),
            });
        }
        // Breadth-first over links; a link is entered through a bridge port pair.
        let seg = topo.segment(out.segment.expect("routed interface has a segment"));
        if seg.switches.is_empty() {
            return Err(NeighbourFailure::NoL2Path(owner));
        }
        // Each entry: a link reached, and the crossing plus parent entry that reached it.
        type Entry = (nettwin_model::LinkId, Option<(BridgeCrossing, usize)>);
        let mut came: Vec<Entry> = vec![(start, None)];
        let mut queue = VecDeque::from([0usize]);
        while let Some(i) = queue.pop_front() {
            let link = came[i].0;
            for &port in &topo.link(link).ends {
                let node = topo.node(port.node);
                if node.kind != NodeKind::Switch || !topo.interface(port).up {
                    continue;
                }
                for (k, p) in node.interfaces.iter().enumerate() {
                    let out_port = IfRef {
                        node: port.node,
                        index: k as u32,
                    };
                    if out_port == port || !p.up || came.iter().any(|(l, _)| *l == p.link) {
                        continue;
                    }
                    let crossing = BridgeCrossing {
                        switch: port.node,
                        in_port: port,
                        out_port,
                    };
                    came.push((p.link, Some((crossing, i))));
                    if p.link == goal {
                        let mut bridges = Vec::new();
                        let mut at = came.len() - 1;
                        while let Some((c, parent)) = came[at].1 {
                            bridges.push(c);
                            at = parent;
                        }
                        bridges.reverse();
                        return Ok(Neighbour { owner, bridges });
                    }
                    queue.push_back(came.len() - 1);
                }
            }
        }
        Err(NeighbourFailure::NoL2Path(owner))
    }
}
