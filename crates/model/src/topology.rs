//! The resolved network: every node, interface, link and IP segment with its addresses assigned.
//!
//! A [`Topology`] is what every other crate reads. It is built only by [`crate::load`], which
//! guarantees the invariants the rest of nettwin relies on: ids are dense indexes, every
//! interface belongs to one link, every routed interface to one segment, addresses are unique and
//! sit inside their segment's subnet, and MTUs are within 68..=65535.

use crate::addr::{IfAddr, Prefix};
use crate::diag::Diagnostics;
use crate::yaml::{self, Span};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// Index of a node in [`Topology::nodes`].
    NodeId
);
id_type!(
    /// Index of a link in [`Topology::links`].
    LinkId
);
id_type!(
    /// Index of an IP segment (one subnet, one broadcast domain) in [`Topology::segments`].
    SegmentId
);

/// One interface: the node it is on and its index in that node's interface list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct IfRef {
    pub node: NodeId,
    pub index: u32,
}

/// What a node is, which decides how it forwards and what it does with oversized packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A router: forwards IP, runs routing protocols, answers with ICMP errors.
    Router,
    /// A Linux bridge: forwards frames inside one broadcast domain, has no IP address.
    Switch,
    /// An end host: does not forward; uses a default route towards a router on its segment.
    Host,
    /// A Linux box with IP forwarding on: routes like a router.
    Linux,
}

impl NodeKind {
    pub const ALL: [(&'static str, NodeKind); 4] = [
        ("router", NodeKind::Router),
        ("switch", NodeKind::Switch),
        ("host", NodeKind::Host),
        ("linux", NodeKind::Linux),
    ];

    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Router => "router",
            NodeKind::Switch => "switch",
            NodeKind::Host => "host",
            NodeKind::Linux => "linux",
        }
    }

    /// Whether the node forwards IP packets between its interfaces.
    pub fn forwards_ip(self) -> bool {
        matches!(self, NodeKind::Router | NodeKind::Linux)
    }

    /// Whether the node has IP addresses at all (a bridge does not).
    pub fn is_ip(self) -> bool {
        !matches!(self, NodeKind::Switch)
    }
}

impl fmt::Display for NodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The vendor personality whose defaults a router follows where standards leave a choice (which
/// prefixes LDP binds, whether IP routes use label-switched paths, TTL propagation). Set with
/// `platform:` on a node, group or `defaults`, else derived from netlab's `device:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    CiscoXr,
    CiscoXe,
    Junos,
    Sros,
    Frr,
}

impl Platform {
    pub const ALL: [(&'static str, Platform); 5] = [
        ("cisco-xr", Platform::CiscoXr),
        ("cisco-xe", Platform::CiscoXe),
        ("junos", Platform::Junos),
        ("sros", Platform::Sros),
        ("frr", Platform::Frr),
    ];

    pub fn name(self) -> &'static str {
        Platform::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| *n)
            .expect("every platform is listed")
    }

    pub fn parse(text: &str) -> Option<Platform> {
        Platform::ALL
            .iter()
            .find(|(n, _)| *n == text)
            .map(|(_, p)| *p)
    }

    /// The platform of a netlab device type (`netsim/devices/*.yml`), for those nettwin has
    /// personalities for.
    pub fn of_device(device: &str) -> Option<Platform> {
        Some(match device {
            "iosxr" | "xr" | "cisco8000v" => Platform::CiscoXr,
            "csr" | "cat8000v" | "iosv" | "ios" | "iol" => Platform::CiscoXe,
            "vmx" | "vptx" | "vsrx" | "junos" | "crpd" | "vjunos-router" | "vjunos-switch" => {
                Platform::Junos
            }
            "sros" | "srsim" => Platform::Sros,
            "frr" => Platform::Frr,
            _ => return None,
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Module configuration (`ospf`, `isis`, `bgp`, `mpls`, `sr`, `policies`) as written in the file.
/// The crates that implement a module decode it; the model only keeps it with its places. A
/// section in `defaults` or a group is shared by every node it applies to, not copied.
pub type ModuleConfig = BTreeMap<String, std::sync::Arc<yaml::Node>>;

/// A node's loopback addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Loopback {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<IfAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<IfAddr>,
}

/// Where a static route sends matching packets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum StaticNextHop {
    /// To a next-hop address, resolved recursively through the routing table, optionally pinned
    /// to an interface.
    Address {
        address: IpAddr,
        #[serde(skip_serializing_if = "Option::is_none")]
        interface: Option<u32>,
    },
    /// Out of an interface, the destination treated as directly connected.
    Interface { interface: u32 },
    /// Dropped silently (`null0`, a blackhole route).
    Discard,
}

/// A static route configured on a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaticRoute {
    pub prefix: Prefix,
    pub next_hop: StaticNextHop,
    /// Administrative distance; 1 unless the route is a floating static.
    pub distance: u8,
    #[serde(skip)]
    pub span: Span,
}

/// One node of the network.
#[derive(Clone, Debug, Serialize)]
pub struct Node {
    pub id: NodeId,
    pub name: String,
    pub kind: NodeKind,
    /// netlab's node id (`id:` in the file, else the lowest free one in node order): loopbacks
    /// and LAN host parts follow it.
    pub node_id: u32,
    /// Whether the file set the id.
    #[serde(skip)]
    pub id_set: bool,
    /// netlab's device type (`device:` or `defaults.device`), kept for platform behaviour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The vendor personality (`platform:`, else from `device`); `None` follows FRR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    pub loopback: Loopback,
    /// The router id (from the file, else the IPv4 loopback), for protocols that need one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router_id: Option<Ipv4Addr>,
    /// Default MTU for this node's interfaces.
    pub mtu: u32,
    pub interfaces: Vec<Interface>,
    #[serde(rename = "static", skip_serializing_if = "Vec::is_empty")]
    pub statics: Vec<StaticRoute>,
    /// For a switch: whether bridge netfilter is on (`br_netfilter` loaded), which lets the
    /// bridge fragment oversized IPv4 packets without DF instead of dropping them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge_netfilter: Option<bool>,
    /// Modules enabled on this node (`module: [ospf, bgp]` and any module section present).
    pub modules: Vec<String>,
    #[serde(skip)]
    pub config: ModuleConfig,
    /// The node's VRFs (netlab's vrf module, VRF-lite): each is its own routing table. Empty
    /// unless an interface or a VRF loopback uses one (netlab removes the others).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vrfs: Vec<Vrf>,
    #[serde(skip)]
    pub span: Span,
}

/// One VRF of a node, with the values netlab's vrf module computes for it (`vrf.py`).
#[derive(Clone, Debug, Serialize)]
pub struct Vrf {
    pub name: String,
    /// netlab's VRF id (`id`, else auto-assigned network-wide from 1).
    pub id: u32,
    /// netlab's `vrfidx`: 100, 101, ... in VRF-id order on this node; the Linux routing table
    /// of the VRF device and FRR's OSPF instance number.
    pub table: u32,
    /// Route distinguisher, `ASN:N` or `IP:N`.
    pub rd: String,
    /// Route targets imported into and exported from this VRF.
    pub import: Vec<String>,
    pub export: Vec<String>,
    /// The VRF's loopback addresses (`loopback: true`, `vrf.loopback`), if any.
    pub loopback: Loopback,
    /// `ospf`, `bgp` and `isis` settings in the VRF definition (global merged with the node's).
    #[serde(skip)]
    pub config: ModuleConfig,
    #[serde(skip)]
    pub span: Span,
}

impl Vrf {
    /// Whether routes leak into or out of this VRF (an import or export other than its RD).
    pub fn leaks(&self) -> bool {
        let own = std::slice::from_ref(&self.rd);
        (!self.import.is_empty() && self.import != own)
            || (!self.export.is_empty() && self.export != own)
    }
}

impl Node {
    /// The index of the VRF called `name` on this node.
    pub fn vrf(&self, name: &str) -> Option<u32> {
        self.vrfs
            .iter()
            .position(|v| v.name == name)
            .map(|i| i as u32)
    }

    /// The interface called `name` (exact), if any.
    pub fn interface(&self, name: &str) -> Option<(u32, &Interface)> {
        self.interfaces
            .iter()
            .enumerate()
            .find(|(_, i)| i.name == name)
            .map(|(i, iface)| (i as u32, iface))
    }
}

/// One interface of a node, attached to exactly one link.
#[derive(Clone, Debug, Serialize)]
pub struct Interface {
    pub name: String,
    pub link: LinkId,
    /// The IP segment the interface is on; `None` for the ports of a switch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<IfAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<IfAddr>,
    /// Unnumbered IPv4 (netlab's `ipv4: true`): the interface borrows the node's loopback
    /// address and carries no subnet of its own.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ipv4_unnumbered: bool,
    /// IPv6 with link-local addresses only (netlab's `ipv6: true`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ipv6_lla: bool,
    pub mtu: u32,
    /// Administrative state: `false` after `shutdown: true` in the file or a change applied by a
    /// what-if or the device CLI. A down interface carries no traffic and no routes.
    pub up: bool,
    /// IGP cost set on this end or its link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<u32>,
    /// Bandwidth in bit/s from the link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<u64>,
    /// The VRF the interface is in (an index into the node's `vrfs`); `None`: the global table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrf: Option<u32>,
    /// 802.1Q (netlab's vlan module): what the interface is in VLAN terms; `None` for an
    /// interface that neither bridges nor tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<VlanIf>,
    #[serde(skip)]
    pub config: ModuleConfig,
}

/// An interface's part in 802.1Q VLANs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum VlanIf {
    /// A port of a VLAN-aware bridge. Untagged frames belong to `pvid` (the access or native
    /// VLAN; none on a trunk without a native VLAN); the `tagged` VLANs cross it with their tag.
    /// The port has no address: the node's presence in a VLAN is its SVI.
    Port {
        #[serde(skip_serializing_if = "Option::is_none")]
        pvid: Option<u16>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tagged: Vec<u16>,
    },
    /// The node's routed interface in the bridged VLAN `vid` (netlab's SVI, `vlanNNNN` on
    /// the node's VLAN-aware bridge). It has no cable: [`Interface::link`] is the link of the
    /// node's first port carrying the VLAN.
    Svi { vid: u16 },
    /// A routed subinterface (`eth1.1001`): frames leave the node's interface `parent` tagged
    /// `vid`. [`Interface::link`] is the parent's link.
    Subif { vid: u16, parent: u32 },
}

impl VlanIf {
    /// The 802.1Q tag a frame of VLAN `vid` carries on the wire out of this interface, or
    /// `None` when it leaves untagged.
    pub fn tag_for(&self, vid: u16) -> Option<u16> {
        match self {
            VlanIf::Port { pvid, .. } if *pvid == Some(vid) => None,
            VlanIf::Port { tagged, .. } => tagged.contains(&vid).then_some(vid),
            VlanIf::Svi { .. } => None,
            VlanIf::Subif { vid: v, .. } => (*v == vid).then_some(vid),
        }
    }

    /// Whether frames of VLAN `vid` cross this bridge port.
    pub fn carries(&self, vid: u16) -> bool {
        match self {
            VlanIf::Port { pvid, tagged } => *pvid == Some(vid) || tagged.contains(&vid),
            _ => false,
        }
    }
}

/// A cable or a shared medium joining interfaces, as written in `links`.
#[derive(Clone, Debug, Serialize)]
pub struct Link {
    pub id: LinkId,
    /// `r1-r2` style name (or the `name` given in the file), unique in the topology.
    pub name: String,
    pub ends: Vec<IfRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<u64>,
    /// One-way latency in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
    /// Packet loss in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    pub segment: SegmentId,
    #[serde(skip)]
    pub config: ModuleConfig,
    #[serde(skip)]
    pub span: Span,
}

/// Whether a segment is a point-to-point link or a shared LAN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentKind {
    P2p,
    Lan,
}

/// One IP subnet and broadcast domain: a point-to-point link, a multi-access link, every link
/// of a group of bridged switches, or one VLAN across its access links and trunks.
#[derive(Clone, Debug, Serialize)]
pub struct Segment {
    pub id: SegmentId,
    pub kind: SegmentKind,
    pub links: Vec<LinkId>,
    /// Switches bridging this segment, if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub switches: Vec<NodeId>,
    /// The IP interfaces on the segment (switch ports excluded).
    pub members: Vec<IfRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Prefix>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Prefix>,
    /// The 802.1Q VLAN id when the segment is a VLAN (netlab's vlan module): its links are
    /// the access links and trunks carrying it, its switches the nodes bridging it, its members
    /// the interfaces of nodes that are not VLAN-aware, SVIs and routed subinterfaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
}

/// A fully resolved network.
#[derive(Clone, Debug, Serialize)]
pub struct Topology {
    pub name: String,
    /// The file it was loaded from, as given.
    pub file: String,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    pub segments: Vec<Segment>,
    /// Top-level module sections, keyed by module name.
    #[serde(skip)]
    pub config: ModuleConfig,
    /// netlab's `validate:` section (the lab's tests) as written, for `nettwin validate`.
    #[serde(skip)]
    pub validate: Option<std::sync::Arc<yaml::Node>>,
    /// What the file says that the model accepts but does not act on (a protocol section without
    /// its module, a module nettwin does not model), each once with its place.
    #[serde(skip)]
    pub warnings: Diagnostics,
    /// netlab settings read and ignored because they only concern how netlab deploys a lab
    /// (`device`, `provider`, `plugin`, ...), each with why; the binary lists them with `-v`.
    #[serde(skip)]
    pub ignored: Vec<crate::load::Ignored>,
    /// Files the topology included (netlab's defaults files), for naming places in them.
    #[serde(skip)]
    pub included_files: Vec<String>,
}

impl Topology {
    /// An empty error list for this topology's file and the files it included.
    pub fn diagnostics(&self) -> Diagnostics {
        let mut d = Diagnostics::new(self.file.clone());
        for f in &self.included_files {
            d.add_file(f.clone());
        }
        d
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn link(&self, id: LinkId) -> &Link {
        &self.links[id.index()]
    }

    pub fn segment(&self, id: SegmentId) -> &Segment {
        &self.segments[id.index()]
    }

    pub fn interface(&self, r: IfRef) -> &Interface {
        &self.nodes[r.node.index()].interfaces[r.index as usize]
    }

    /// The node called `name`.
    pub fn node_by_name(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The link called `name` (as [`Link::name`]).
    pub fn link_by_name(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    /// `node:ifname`, the way interfaces are named in output.
    pub fn if_name(&self, r: IfRef) -> String {
        format!("{}:{}", self.node(r.node).name, self.interface(r).name)
    }

    /// Every prefix the topology defines: loopbacks and segment subnets.
    pub fn prefixes(&self) -> Vec<Prefix> {
        let mut out = Vec::new();
        for n in &self.nodes {
            out.extend(n.loopback.ipv4.map(|a| Prefix::host(a.addr)));
            out.extend(n.loopback.ipv6.map(|a| Prefix::host(a.addr)));
        }
        for s in &self.segments {
            out.extend(s.ipv4);
            out.extend(s.ipv6);
        }
        out
    }

    /// The node and interface that own `addr`, loopbacks included (index `None`).
    pub fn owner_of(&self, addr: IpAddr) -> Option<(NodeId, Option<u32>)> {
        for n in &self.nodes {
            if n.loopback.ipv4.map(|a| a.addr) == Some(addr)
                || n.loopback.ipv6.map(|a| a.addr) == Some(addr)
            {
                return Some((n.id, None));
            }
            for (i, iface) in n.interfaces.iter().enumerate() {
                if iface.ipv4.map(|a| a.addr) == Some(addr)
                    || iface.ipv6.map(|a| a.addr) == Some(addr)
                {
                    return Some((n.id, Some(i as u32)));
                }
            }
        }
        None
    }
}

/// Counts for a one-line description of a topology.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub nodes: usize,
    pub routers: usize,
    pub switches: usize,
    pub hosts: usize,
    pub linux: usize,
    pub links: usize,
    pub segments: usize,
    pub prefixes: usize,
}

impl Topology {
    pub fn summary(&self) -> Summary {
        let count = |k: NodeKind| self.nodes.iter().filter(|n| n.kind == k).count();
        Summary {
            nodes: self.nodes.len(),
            routers: count(NodeKind::Router),
            switches: count(NodeKind::Switch),
            hosts: count(NodeKind::Host),
            linux: count(NodeKind::Linux),
            links: self.links.len(),
            segments: self.segments.len(),
            prefixes: self.prefixes().len(),
        }
    }
}
