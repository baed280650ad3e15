//! The routing engine behind the device CLI: routes, OSPF neighbours and BGP state computed by
//! `nettwin-routing`, translated into what the show commands print.

use crate::twin::*;
use nettwin_model::{IfRef, NodeId, Topology};
use nettwin_routing::igp::{adjacencies, Igp};
use nettwin_routing::{Action, Change as RoutingChange, Protocol, Routing};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Everything the engine computed for one converged state.
pub(crate) struct EngineState {
    pub routes: Vec<Vec<Route>>,
    pub ospf: Vec<Vec<OspfNeighbor>>,
    pub bgp: Vec<Option<(BgpSummary, Vec<BgpPath>)>>,
    pub forwarding: Forwarding,
}

fn protocol(p: Protocol) -> RouteProtocol {
    match p {
        Protocol::Connected => RouteProtocol::Connected,
        Protocol::Local => RouteProtocol::Local,
        Protocol::Static => RouteProtocol::Static,
        Protocol::Ospf => RouteProtocol::Ospf,
        Protocol::OspfInterArea => RouteProtocol::OspfInterArea,
        Protocol::Isis => RouteProtocol::IsisL2,
        Protocol::Ebgp | Protocol::Ibgp => RouteProtocol::Bgp,
    }
}

/// The interface that holds `addr` on `node` (model name), the loopback included.
fn owning_interface(topo: &Topology, node: NodeId, addr: IpAddr) -> String {
    let n = topo.node(node);
    n.interfaces
        .iter()
        .find(|i| i.ipv4.map(|a| a.addr) == Some(addr) || i.ipv6.map(|a| a.addr) == Some(addr))
        .map(|i| i.name.clone())
        .unwrap_or_else(|| crate::ifname::LOOPBACK_MODEL_NAME.to_string())
}

pub(crate) fn route(topo: &Topology, node: NodeId, r: &nettwin_routing::Route) -> Route {
    let n = topo.node(node);
    let next_hops = match r.action {
        Action::Forward { next_hops } => next_hops
            .iter()
            .map(|h| RouteNextHop {
                address: h.address,
                interface: Some(n.interfaces[h.interface as usize].name.clone()),
                discard: false,
            })
            .collect(),
        Action::Receive => vec![RouteNextHop {
            address: None,
            interface: Some(owning_interface(topo, node, r.prefix.network())),
            discard: false,
        }],
        Action::Discard => vec![RouteNextHop {
            address: None,
            interface: None,
            discard: true,
        }],
    };
    Route {
        prefix: r.prefix,
        protocol: protocol(r.protocol),
        distance: r.distance,
        metric: r.metric,
        next_hops,
        age: Duration::ZERO,
    }
}

fn router_id(topo: &Topology, node: NodeId) -> Ipv4Addr {
    topo.node(node).router_id.unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// OSPF neighbours as `show ip ospf neighbor` lists them; on a multi-access segment the
/// designated router is the highest router id and the backup the next (all priorities 1).
fn ospf_neighbors(oper: &Topology, routing: &Routing, node: NodeId) -> Vec<OspfNeighbor> {
    let adj = adjacencies(oper, &routing.config, Igp::Ospf, node);
    let mut out = Vec::new();
    for a in &adj {
        let Some(IpAddr::V4(address)) = oper.interface(a.neighbor).ipv4.map(|x| x.addr) else {
            continue;
        };
        let role = if a.multi_access {
            // Everyone adjacent on this interface, plus me: highest id is DR, next BDR.
            let mut ids: Vec<Ipv4Addr> = adj
                .iter()
                .filter(|b| b.interface == a.interface)
                .map(|b| router_id(oper, b.neighbor.node))
                .collect();
            ids.push(router_id(oper, node));
            ids.sort_unstable_by(|x, y| y.cmp(x));
            let me = router_id(oper, node);
            let them = router_id(oper, a.neighbor.node);
            let role_of = |id: Ipv4Addr| match ids.iter().position(|x| *x == id) {
                Some(0) => "DR",
                Some(1) => "BDR",
                _ => "DROTHER",
            };
            let full = role_of(me) != "DROTHER" || role_of(them) != "DROTHER";
            format!("{}/{}", if full { "FULL" } else { "2WAY" }, role_of(them))
        } else {
            "FULL/  -".to_string()
        };
        out.push(OspfNeighbor {
            neighbor_id: router_id(oper, a.neighbor.node),
            priority: if a.multi_access { 1 } else { 0 },
            state: role,
            dead_time: Duration::from_secs(35),
            address,
            interface: oper.node(node).interfaces[a.interface as usize]
                .name
                .clone(),
        });
    }
    out
}

fn bgp_state(routing: &Routing, node: NodeId) -> Option<(BgpSummary, Vec<BgpPath>)> {
    let b = routing.node(node).bgp.as_ref()?;
    let peers = b
        .peers
        .iter()
        .map(|p| {
            let state = match (&p.down_reason, p.established) {
                (_, true) => "Established".to_string(),
                (Some(r), false) if r.contains("administratively") => "Idle (Admin)".to_string(),
                _ => "Active".to_string(),
            };
            BgpPeer {
                address: p.remote_address,
                remote_as: p.remote_as,
                messages_received: if p.established {
                    10 + p.prefixes_received as u64
                } else {
                    0
                },
                messages_sent: if p.established { 10 } else { 0 },
                up_down: Duration::ZERO,
                prefixes_received: p.established.then_some(p.prefixes_received as u32),
                state,
            }
        })
        .collect();
    let bgp_table = routing.bgp_table(node);
    let table = bgp_table
        .iter()
        .flat_map(|(prefix, paths)| {
            paths.iter().map(move |p| {
                let local = p.from.is_none();
                let internal = !local && !p.ebgp;
                BgpPath {
                    prefix: *prefix,
                    next_hop: if local {
                        match prefix.family() {
                            nettwin_model::Family::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                            nettwin_model::Family::Ipv6 => {
                                IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
                            }
                        }
                    } else {
                        p.attrs.next_hop
                    },
                    metric: p.attrs.med.or(local.then_some(0)),
                    local_pref: internal.then_some(p.attrs.local_pref),
                    weight: p.attrs.weight,
                    as_path: p.attrs.as_path.clone(),
                    origin: p.attrs.origin.code(),
                    valid: p.igp_metric.is_some(),
                    best: p.best,
                    internal,
                }
            })
        })
        .collect();
    Some((
        BgpSummary {
            router_id: b.router_id.unwrap_or(Ipv4Addr::UNSPECIFIED),
            local_as: b.asn,
            table_version: 1 + bgp_table.len() as u64,
            peers,
        },
        table,
    ))
}

/// Runs the routing engine on `topology` with the CLI's extra state: BGP neighbours shut by
/// address on each node, and interface costs set with `ip ospf cost`.
pub(crate) fn converge(
    topology: &Topology,
    bgp_shutdown: &[Vec<IpAddr>],
    costs: &[(IfRef, u32)],
) -> Result<EngineState, String> {
    let mut changes: Vec<RoutingChange> = costs
        .iter()
        .map(|(r, c)| RoutingChange::InterfaceCost(*r, *c))
        .collect();
    for (n, list) in bgp_shutdown.iter().enumerate() {
        for addr in list {
            if let Some((peer, _)) = topology.owner_of(*addr) {
                changes.push(RoutingChange::SessionDown(NodeId(n as u32), peer));
            }
        }
    }
    let routing = nettwin_routing::compute_with(topology, &changes).map_err(|e| e.to_string())?;
    let oper = nettwin_routing::whatif::apply(topology, &[]).map_err(|e| e.to_string())?;
    let ids: Vec<NodeId> = topology.nodes.iter().map(|n| n.id).collect();
    let routes = ids
        .iter()
        .map(|id| {
            routing
                .fib(*id)
                .routes()
                .iter()
                .map(|r| {
                    let mut out = route(topology, *id, r);
                    // Autoroute: IOS lists the tunnel interface as the next hop.
                    if r.bgp.is_none() {
                        if let Some(t) = routing
                            .steering(*id, r)
                            .and_then(|s| s.tunnel)
                            .map(|i| &routing.tunnels()[i])
                        {
                            out.next_hops = vec![RouteNextHop {
                                address: None,
                                interface: Some(tunnel_interface(&t.name)),
                                discard: false,
                            }];
                        }
                    }
                    out
                })
                .collect()
        })
        .collect();
    let ospf = ids
        .iter()
        .map(|id| ospf_neighbors(&oper, &routing, *id))
        .collect();
    let bgp = ids.iter().map(|id| bgp_state(&routing, *id)).collect();
    Ok(EngineState {
        routes,
        ospf,
        bgp,
        forwarding: Forwarding { oper, routing },
    })
}

/// The forwarding engine's view: the operational topology and the converged routing.
pub(crate) struct Forwarding {
    pub oper: Topology,
    pub routing: Routing,
}

impl Forwarding {
    fn probe(from: NodeId, src: IpAddr, dst: IpAddr, ttl: u8) -> nettwin_dataplane::Probe {
        nettwin_dataplane::Probe {
            from,
            src,
            dst,
            proto: nettwin_dataplane::Proto::Icmp,
            sport: 0,
            dport: 0,
            // IOS sends 100-byte echoes by default.
            size: 100,
            df: false,
            ttl,
            // One deterministic path per flow, as a real packet takes.
            flow_hash: true,
        }
    }

    /// One-way latency of the links a path crosses, in microseconds.
    fn latency_us(&self, hops: &[&nettwin_dataplane::Hop]) -> u64 {
        hops.iter()
            .filter_map(|h| h.egress_if)
            .map(|r| {
                self.oper
                    .link(self.oper.interface(r).link)
                    .latency_us
                    .unwrap_or(0)
            })
            .sum()
    }

    /// `ping`: an echo request traced to the destination and its reply traced back.
    pub(crate) fn ping(&self, node: NodeId, dst: IpAddr, count: u32) -> PingResult {
        let net = nettwin_dataplane::Net::new(&self.oper, &self.routing);
        let Some(src) = net.source_address(node, dst) else {
            return PingResult {
                source: None,
                probes: vec![Probe::Unreachable; count as usize],
            };
        };
        let out = nettwin_dataplane::trace(&net, &Self::probe(node, src, dst, 64));
        let paths = out.paths();
        let probe = match paths.first() {
            Some((hops, end)) if end.disposition.is_delivered() => {
                let back = nettwin_dataplane::trace(&net, &Self::probe(end.at_id, dst, src, 64));
                match back.paths().first() {
                    Some((bhops, bend)) if bend.disposition.is_delivered() => Probe::Reply {
                        rtt_ms: ((self.latency_us(hops) + self.latency_us(bhops)) / 1000).max(1)
                            as u32,
                    },
                    _ => Probe::Timeout,
                }
            }
            // A router that has no route (or a discard route) answers with an unreachable.
            Some((hops, end))
                if matches!(
                    end.disposition,
                    nettwin_dataplane::Disposition::NoRoute
                        | nettwin_dataplane::Disposition::NullRouted
                ) && hops.len() > 1 =>
            {
                Probe::Unreachable
            }
            _ => Probe::Timeout,
        };
        PingResult {
            source: Some(src),
            probes: vec![probe; count as usize],
        }
    }

    /// `traceroute`: the router at each TTL answers from the interface the probe came in on.
    pub(crate) fn traceroute(&self, node: NodeId, dst: IpAddr) -> Vec<TraceHop> {
        let net = nettwin_dataplane::Net::new(&self.oper, &self.routing);
        let Some(src) = net.source_address(node, dst) else {
            return vec![TraceHop {
                address: None,
                rtt_ms: 0,
            }];
        };
        let t = nettwin_dataplane::trace(&net, &Self::probe(node, src, dst, 64));
        let paths = t.paths();
        let Some((hops, end)) = paths.first() else {
            return vec![TraceHop {
                address: None,
                rtt_ms: 0,
            }];
        };
        let mut out = Vec::new();
        for (i, h) in hops.iter().enumerate().skip(1) {
            let owned_dst = i + 1 == hops.len() && end.disposition.is_delivered();
            let address = if owned_dst {
                Some(dst)
            } else {
                h.ingress.as_ref().and_then(|name| {
                    let iface = self.oper.node(h.node_id).interface(name)?.1;
                    match dst {
                        IpAddr::V4(_) => iface.ipv4,
                        IpAddr::V6(_) => iface.ipv6,
                    }
                    .map(|a| a.addr)
                })
            };
            let one_way = self.latency_us(&hops[..i]);
            out.push(TraceHop {
                address,
                rtt_ms: ((2 * one_way) / 1000).max(1) as u32,
            });
        }
        if !end.disposition.is_delivered() {
            out.push(TraceHop {
                address: None,
                rtt_ms: 0,
            });
        }
        out
    }
}

/// A tunnel's interface name: IOS names TE tunnels `TunnelN`; a tunnel named `tunnel-te1`,
/// `Tunnel1` or `1` keeps its number, any other name is used as it is.
fn tunnel_interface(name: &str) -> String {
    let digits = name.trim_start_matches(|c: char| !c.is_ascii_digit());
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        format!("Tunnel{digits}")
    } else {
        name.to_string()
    }
}

/// The SR-TE policies headed at `node`, for `show segment-routing traffic-eng policy`.
pub(crate) fn te_policies(
    topo: &Topology,
    routing: &Routing,
    node: NodeId,
) -> Option<Vec<crate::twin::TePolicy>> {
    use nettwin_routing::config::te::TunnelKind;
    use nettwin_routing::te::{Segment, TunnelState};
    let c = routing.label_config(node)?;
    c.sr.as_ref()?;
    let loopback = |id: NodeId| {
        topo.node(id).loopback.ipv4.map(|a| {
            IpAddr::V4(match a.addr {
                IpAddr::V4(v) => v,
                IpAddr::V6(_) => std::net::Ipv4Addr::UNSPECIFIED,
            })
        })
    };
    Some(
        routing
            .tunnels()
            .iter()
            .filter(|t| t.head == node && t.kind == TunnelKind::Sr)
            .map(|t| crate::twin::TePolicy {
                name: t.name.clone(),
                color: t.color.unwrap_or(0),
                endpoint: t.endpoint.and_then(loopback),
                up: t.is_up(),
                detail: match &t.state {
                    TunnelState::Up { path_option } => format!("path option {}", path_option + 1),
                    TunnelState::Down { reason } => reason.clone(),
                },
                on_demand: t.on_demand,
                metric_type: t.metric_type.name().to_string(),
                cost: t.cost,
                binding_sid: t.binding_sid,
                segments: t
                    .segments
                    .iter()
                    .map(|s| match *s {
                        Segment::Node { node, label, .. } => (
                            label,
                            format!(
                                "Prefix-SID, {}",
                                loopback(node).map(|a| a.to_string()).unwrap_or_default()
                            ),
                        ),
                        Segment::Adjacency { from, to, label } => (
                            label,
                            format!(
                                "Adjacency-SID, {} -> {}",
                                topo.node(from).name,
                                topo.node(to).name
                            ),
                        ),
                    })
                    .collect(),
            })
            .collect(),
    )
}

/// The label FIB of `node` as `show mpls forwarding-table` lists it.
pub(crate) fn mpls_forwarding(
    topo: &Topology,
    routing: &Routing,
    node: NodeId,
) -> Option<Vec<crate::twin::MplsForwarding>> {
    use crate::twin::{MplsForwarding, MplsOutgoing};
    use nettwin_routing::mpls::{Fec, Out};
    routing.label_config(node)?;
    let n = topo.node(node);
    let mut out = Vec::new();
    for e in &routing.labels.nodes[node.index()].lfib {
        let fec = match e.fec {
            Fec::Prefix { prefix } => prefix.to_string(),
            Fec::Adjacency { .. } => "SR Adj".to_string(),
            Fec::Tunnel { head, tunnel } => format!(
                "{} {}",
                topo.node(head).name,
                routing.tunnels()[tunnel as usize].name
            ),
        };
        for p in &e.paths {
            out.push(MplsForwarding {
                local: e.in_label,
                outgoing: match p.out {
                    Out::Swap(l) => MplsOutgoing::Label(l),
                    Out::Pop => MplsOutgoing::Pop,
                    Out::Untagged => MplsOutgoing::NoLabel,
                },
                fec: fec.clone(),
                interface: n.interfaces[p.next_hop.interface as usize].name.clone(),
                next_hop: p.next_hop.address,
            });
        }
    }
    Some(out)
}

/// The LDP LIB of `node`, peers named by their LDP router id (the IPv4 loopback).
pub(crate) fn ldp_bindings(
    topo: &Topology,
    routing: &Routing,
    node: NodeId,
) -> Option<Vec<crate::twin::LdpLibEntry>> {
    routing.label_config(node)?.ldp.as_ref()?;
    Some(
        routing
            .ldp_bindings(node)
            .iter()
            .map(|b| crate::twin::LdpLibEntry {
                prefix: b.prefix,
                local: b.local,
                remote: b
                    .remote
                    .iter()
                    .map(|(peer, l)| (router_id(topo, *peer), *l))
                    .collect(),
            })
            .collect(),
    )
}
