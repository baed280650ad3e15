//! What the CLI reads from and changes in the simulated network.
//!
//! The CLI never computes routes itself: it asks a [`Twin`] for a consistent [`TwinView`]
//! (one converged state of the whole network) per command, and hands configuration changes to
//! [`Twin::apply`], which re-converges the network before the next view is taken. The routing
//! engine provides the full implementation; [`crate::ModelTwin`] covers what the model alone
//! can answer (connected, local and static routes).

use nettwin_model::{IfAddr, NodeId, Prefix, Topology};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

/// Where a route came from, with IOS's one- or two-letter code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteProtocol {
    Connected,
    Local,
    Static,
    Ospf,
    OspfInterArea,
    OspfExternal1,
    OspfExternal2,
    IsisL1,
    IsisL2,
    Bgp,
}

impl RouteProtocol {
    /// The code in the first columns of `show ip route` (`C`, `O IA`, `i L2`, ...).
    pub fn code(self) -> &'static str {
        match self {
            RouteProtocol::Connected => "C",
            RouteProtocol::Local => "L",
            RouteProtocol::Static => "S",
            RouteProtocol::Ospf => "O",
            RouteProtocol::OspfInterArea => "O IA",
            RouteProtocol::OspfExternal1 => "O E1",
            RouteProtocol::OspfExternal2 => "O E2",
            RouteProtocol::IsisL1 => "i L1",
            RouteProtocol::IsisL2 => "i L2",
            RouteProtocol::Bgp => "B",
        }
    }

    /// Connected and local routes print as `is directly connected`, without distance/metric.
    pub fn is_direct(self) -> bool {
        matches!(self, RouteProtocol::Connected | RouteProtocol::Local)
    }
}

/// One next hop of a route. Both absent means a discard route (`Null0`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteNextHop {
    pub address: Option<IpAddr>,
    /// The outgoing interface as the model names it (`eth1`), `None` for a recursive next hop.
    pub interface: Option<String>,
    /// True for a blackhole route.
    pub discard: bool,
}

/// One entry of a node's routing table (the selected route for a prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub prefix: Prefix,
    pub protocol: RouteProtocol,
    pub distance: u8,
    pub metric: u32,
    pub next_hops: Vec<RouteNextHop>,
    /// Time since the route was installed.
    pub age: Duration,
}

/// One OSPF adjacency as `show ip ospf neighbor` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OspfNeighbor {
    pub neighbor_id: Ipv4Addr,
    pub priority: u8,
    /// `FULL/  -`, `FULL/DR`, `INIT/DROTHER`, ...
    pub state: String,
    pub dead_time: Duration,
    pub address: Ipv4Addr,
    /// Local interface, model name.
    pub interface: String,
}

/// One BGP peer row of `show ip bgp summary`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpPeer {
    pub address: IpAddr,
    pub remote_as: u32,
    pub messages_received: u64,
    pub messages_sent: u64,
    pub up_down: Duration,
    /// `Some(n)` when established with `n` prefixes received, else the state name
    /// (`Idle`, `Idle (Admin)`, `Active`, ...).
    pub prefixes_received: Option<u32>,
    pub state: String,
}

/// The header and peers of `show ip bgp summary`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpSummary {
    pub router_id: Ipv4Addr,
    pub local_as: u32,
    pub table_version: u64,
    pub peers: Vec<BgpPeer>,
}

/// One path of `show ip bgp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpPath {
    pub prefix: Prefix,
    pub next_hop: IpAddr,
    pub metric: Option<u32>,
    pub local_pref: Option<u32>,
    pub weight: u32,
    pub as_path: Vec<u32>,
    /// `i`, `e` or `?`.
    pub origin: char,
    pub valid: bool,
    pub best: bool,
    pub internal: bool,
}

/// The answer to one echo request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Reply { rtt_ms: u32 },
    Timeout,
    Unreachable,
}

/// The result of `ping`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingResult {
    /// The source address the echo requests carried, if the node had a route.
    pub source: Option<IpAddr>,
    pub probes: Vec<Probe>,
}

/// One hop of `traceroute`: the address that answered (`None` prints `*`) and the round trip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceHop {
    pub address: Option<IpAddr>,
    pub rtt_ms: u32,
}

/// The outgoing label of a `show mpls forwarding-table` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MplsOutgoing {
    Label(u32),
    /// `Pop Label`: penultimate-hop pop.
    Pop,
    /// `No Label`: the next hop has no binding; the packet leaves as IP.
    NoLabel,
}

/// One line of `show mpls forwarding-table`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MplsForwarding {
    pub local: u32,
    pub outgoing: MplsOutgoing,
    /// The prefix, or `SR Adj` for an adjacency SID.
    pub fec: String,
    /// Model interface name (`eth1`).
    pub interface: String,
    pub next_hop: Option<IpAddr>,
}

/// One SR-TE policy of `show segment-routing traffic-eng policy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TePolicy {
    pub name: String,
    pub color: u32,
    /// `None`: the null endpoint.
    pub endpoint: Option<IpAddr>,
    pub up: bool,
    /// The active path option, or why the policy is down.
    pub detail: String,
    pub on_demand: bool,
    pub metric_type: String,
    pub cost: u64,
    pub binding_sid: Option<u32>,
    /// (label, what the SID is).
    pub segments: Vec<(u32, String)>,
}

/// One LIB entry of `show mpls ldp bindings`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdpLibEntry {
    pub prefix: Prefix,
    pub local: Option<u32>,
    /// (peer LSR id, label).
    pub remote: Vec<(Ipv4Addr, u32)>,
}

/// One consistent, converged state of the whole network.
pub trait TwinView: Send + Sync {
    fn topology(&self) -> &Topology;
    /// The selected routes of `node`, both families, in any order.
    fn routes(&self, node: NodeId) -> Vec<Route>;
    fn ospf_neighbors(&self, _node: NodeId) -> Vec<OspfNeighbor> {
        Vec::new()
    }
    /// `None` when BGP does not run on the node.
    fn bgp_summary(&self, _node: NodeId) -> Option<BgpSummary> {
        None
    }
    fn bgp_table(&self, _node: NodeId) -> Vec<BgpPath> {
        Vec::new()
    }
    /// BGP neighbours administratively shut on `node` (for `show running-config`).
    fn bgp_shutdown_neighbors(&self, _node: NodeId) -> Vec<IpAddr> {
        Vec::new()
    }
    /// The selected routes of `node`'s VRF `vrf` (by name); `None` when the node has no such
    /// VRF.
    fn vrf_routes(&self, _node: NodeId, _vrf: &str) -> Option<Vec<Route>> {
        None
    }
    /// The label FIB; `None` when neither MPLS nor SR runs on the node.
    fn mpls_forwarding(&self, _node: NodeId) -> Option<Vec<MplsForwarding>> {
        None
    }
    /// SR-TE policies headed at the node; `None` when SR does not run on it.
    fn te_policies(&self, _node: NodeId) -> Option<Vec<TePolicy>> {
        None
    }
    /// The LDP label information base; `None` when LDP does not run on the node.
    fn ldp_bindings(&self, _node: NodeId) -> Option<Vec<LdpLibEntry>> {
        None
    }
    fn ping(&self, node: NodeId, destination: IpAddr, count: u32) -> PingResult;
    fn traceroute(&self, node: NodeId, destination: IpAddr) -> Vec<TraceHop>;
    /// Time since the twin started (for `show version`).
    fn uptime(&self) -> Duration;
}

/// A configuration change typed at a device, applied to the whole twin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// `shutdown` / `no shutdown` on an interface (index into the node's interfaces).
    InterfaceAdmin {
        interface: u32,
        up: bool,
    },
    /// `ip address A M` (`Some`) or `no ip address` (`None`).
    InterfaceIpv4 {
        interface: u32,
        address: Option<IfAddr>,
    },
    InterfaceMtu {
        interface: u32,
        mtu: u32,
    },
    /// `ip ospf cost N` (`Some`) or `no ip ospf cost`.
    OspfCost {
        interface: u32,
        cost: Option<u32>,
    },
    /// `ip route P M NEXTHOP [distance]` (`add`) or its `no` form.
    StaticRoute {
        prefix: Prefix,
        next_hop: nettwin_model::StaticNextHop,
        distance: u8,
        add: bool,
    },
    /// `neighbor A shutdown` / `no neighbor A shutdown` under `router bgp`.
    BgpNeighborAdmin {
        neighbor: IpAddr,
        up: bool,
    },
}

/// Why a change was refused; the CLI prints it as a `%` message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("% Invalid interface index {0}")]
    NoInterface(u32),
    #[error("% {0} overlaps with {1}")]
    Overlap(String, String),
    #[error("% Invalid MTU {0} (allowed 68-65535)")]
    BadMtu(u32),
    #[error("% No matching route to delete")]
    NoSuchRoute,
    #[error("% {0}")]
    Refused(String),
}

/// The network the CLI serves: hands out consistent views and applies changes.
pub trait Twin: Send + Sync {
    /// The current converged state; a command reads everything from one view.
    fn view(&self) -> Arc<dyn TwinView>;
    /// Applies a change made on `node` and re-converges the whole network before returning,
    /// so the next [`Twin::view`] on any device reflects it.
    fn apply(&self, node: NodeId, change: &Change) -> Result<(), ChangeError>;
}

/// Whether an interface's line protocol is up: administratively up, and some other end of its
/// link is up too (a cable whose far end is shut carries no signal).
pub fn line_protocol_up(topology: &Topology, node: NodeId, index: u32) -> bool {
    let iface = &topology.node(node).interfaces[index as usize];
    if !iface.up {
        return false;
    }
    topology
        .link(iface.link)
        .ends
        .iter()
        .any(|e| !(e.node == node && e.index == index) && topology.interface(*e).up)
}
