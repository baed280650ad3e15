//! Neighbour resolution on a segment (ARP for IPv4, ND for IPv6) and the layer-2 path a frame
//! takes through the Linux bridges of the segment.

use crate::Net;
use nettwin_model::{IfRef, NodeId, NodeKind, VlanIf};
use std::collections::VecDeque;
use std::net::IpAddr;

/// One bridge crossed by a frame. A frame sent by the bridge's own SVI enters through the SVI;
/// one for the bridge's SVI leaves through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeCrossing {
    pub switch: NodeId,
    pub in_port: IfRef,
    pub out_port: IfRef,
    /// The 802.1Q tag (VLAN id) of the frame on the wire into `in_port` (`None`: untagged, or
    /// no wire).
    pub in_tag: Option<u16>,
    /// The tag on the wire out of `out_port`.
    pub out_tag: Option<u16>,
}

/// A resolved neighbour: who answered ARP/ND and how the frame gets there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    pub owner: IfRef,
    pub bridges: Vec<BridgeCrossing>,
    /// The 802.1Q tag on the wire out of the egress interface (a routed subinterface's VLAN).
    pub tag: Option<u16>,
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
    /// The interface on `egress`'s segment that answers for `target` as an unnumbered
    /// interface does: one borrowing its node's loopback address (netlab's `ipv4: true`, or
    /// IPv6 with link-local addresses only, which the routing reaches at the IPv6 loopback).
    fn unnumbered_owner(&self, egress: IfRef, target: IpAddr) -> Option<IfRef> {
        let topo = self.topo;
        let seg = topo.segment(topo.interface(egress).segment?);
        seg.members.iter().copied().find(|m| {
            let i = topo.interface(*m);
            let lo = topo.node(m.node).loopback;
            *m != egress
                && match target {
                    IpAddr::V4(_) => i.ipv4_unnumbered && lo.ipv4.is_some_and(|a| a.addr == target),
                    IpAddr::V6(_) => i.ipv6_lla && lo.ipv6.is_some_and(|a| a.addr == target),
                }
        })
    }

    /// Resolves `target` out of `egress`: the interface on the same segment that owns the
    /// address, and the bridges between. Bridges are walked breadth-first over up ports (a
    /// loop-free bridged LAN, or what spanning tree leaves of one, has a single such path).
    ///
    /// On a VLAN segment a frame crosses only the ports that carry its VLAN (access or native
    /// port of the VLAN, trunk tagging it), enters a bridge from the sender's SVI and reaches an
    /// owner's SVI inside its bridge; each crossing records the 802.1Q tag on the wire on either
    /// side.
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
            None => match self.unnumbered_owner(egress, target) {
                Some(o) => o,
                None => return Err(NeighbourFailure::NoOwner),
            },
        };
        if !topo.interface(owner).up {
            return Err(NeighbourFailure::OwnerDown(owner));
        }
        let seg = topo.segment(out.segment.expect("routed interface has a segment"));
        let vid = seg.vlan;
        let is_svi = |r: IfRef| matches!(topo.interface(r).vlan, Some(VlanIf::Svi { .. }));
        let tag = |r: IfRef| {
            let v = vid?;
            topo.interface(r).vlan.as_ref()?.tag_for(v)
        };
        // Whether a frame of the segment is bridged through port `p`, in or out.
        let bridges_through = |p: IfRef| {
            let i = topo.interface(p);
            if !i.up {
                return false;
            }
            match (&i.vlan, vid) {
                (Some(v @ VlanIf::Port { .. }), Some(vid)) => v.carries(vid),
                (None, None) => topo.node(p.node).kind == NodeKind::Switch,
                _ => false,
            }
        };
        // The owner's place: a wire (its link), or the bridge its SVI sits on.
        let owner_wire = (!is_svi(owner)).then(|| topo.interface(owner).link);
        let owner_bridge = is_svi(owner).then_some(owner.node);
        if !is_svi(egress) && owner_wire == Some(out.link) {
            return Ok(Neighbour {
                owner,
                bridges: Vec::new(),
                tag: tag(egress),
            });
        }
        if seg.switches.is_empty() {
            return Err(NeighbourFailure::NoL2Path(owner));
        }
        // Breadth-first over bridge entries: a bridge and the port a frame entered through (an
        // SVI when the frame starts in the bridge), each with the crossing and parent entry that
        // reached the wire it came from.
        type Entry = (NodeId, IfRef, Option<(BridgeCrossing, usize)>);
        let mut came: Vec<Entry> = Vec::new();
        let mut wires: Vec<nettwin_model::LinkId> = Vec::new();
        let mut queue = VecDeque::new();
        let path = |came: &[Entry], mut at: usize, last: Option<BridgeCrossing>| {
            let mut bridges: Vec<BridgeCrossing> = last.into_iter().collect();
            while let Some((c, parent)) = came[at].2 {
                bridges.push(c);
                at = parent;
            }
            bridges.reverse();
            bridges
        };
        // Frames put on the wire of `from`: the bridges they enter there.
        let enter = |from: IfRef,
                     parent: Option<(BridgeCrossing, usize)>,
                     came: &mut Vec<Entry>,
                     queue: &mut VecDeque<usize>| {
            for &port in &topo.link(topo.interface(from).link).ends {
                if port != from && bridges_through(port) {
                    came.push((port.node, port, parent));
                    queue.push_back(came.len() - 1);
                }
            }
        };
        if is_svi(egress) {
            came.push((egress.node, egress, None));
            queue.push_back(0);
        } else {
            wires.push(out.link);
            enter(egress, None, &mut came, &mut queue);
        }
        while let Some(i) = queue.pop_front() {
            let (bridge, in_port, _) = came[i];
            let in_tag = if is_svi(in_port) { None } else { tag(in_port) };
            if owner_bridge == Some(bridge) {
                let last = BridgeCrossing {
                    switch: bridge,
                    in_port,
                    out_port: owner,
                    in_tag,
                    out_tag: None,
                };
                let bridges = path(&came, i, Some(last));
                return Ok(Neighbour {
                    owner,
                    bridges,
                    tag: if is_svi(egress) { None } else { tag(egress) },
                });
            }
            let node = topo.node(bridge);
            for k in 0..node.interfaces.len() {
                let out_port = IfRef {
                    node: bridge,
                    index: k as u32,
                };
                if out_port == in_port || !bridges_through(out_port) {
                    continue;
                }
                let link = topo.interface(out_port).link;
                if wires.contains(&link) {
                    continue;
                }
                wires.push(link);
                let crossing = BridgeCrossing {
                    switch: bridge,
                    in_port,
                    out_port,
                    in_tag,
                    out_tag: tag(out_port),
                };
                if owner_wire == Some(link) && owner != out_port {
                    let bridges = path(&came, i, Some(crossing));
                    return Ok(Neighbour {
                        owner,
                        bridges,
                        tag: if is_svi(egress) { None } else { tag(egress) },
                    });
                }
                enter(out_port, Some((crossing, i)), &mut came, &mut queue);
            }
        }
        Err(NeighbourFailure::NoL2Path(owner))
    }
}
