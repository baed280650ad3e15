//! A [`Twin`] over the topology: routes from the routing engine (connected, static, OSPF,
//! IS-IS, BGP; [`ModelTwin::with_routing`]) or from the topology alone (connected, local and
//! static routes; [`ModelTwin::new`]), and a hop-by-hop forwarding walk for ping and traceroute.

use crate::twin::*;
use nettwin_model::{Family, IfRef, NodeId, Prefix, StaticNextHop, Topology};
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// OSPF neighbours, BGP summary and table per node, and the forwarding engine that answers
/// ping and traceroute, from the routing engine.
struct ProtocolState {
    ospf: Vec<Vec<OspfNeighbor>>,
    bgp: Vec<Option<(BgpSummary, Vec<BgpPath>)>>,
    forwarding: crate::engine::Forwarding,
}

/// The converged state of a [`ModelTwin`] at one moment.
pub struct ModelView {
    topology: Topology,
    /// Per node (dense by node id): the selected IPv4 and IPv6 routes.
    routes: Vec<Vec<(Route, Instant)>>,
    bgp_shutdown: Vec<Vec<IpAddr>>,
    /// Interface costs set with `ip ospf cost` (routing engine only).
    costs: Vec<(IfRef, u32)>,
    /// OSPF neighbours and BGP state, when the routing engine runs.
    engine: Option<ProtocolState>,
    started: Instant,
}

/// Twin backed by the model, optionally with the routing engine. Changes clone the topology, edit it, recompute every node's
/// table and swap the new view in, so readers always see one whole network.
pub struct ModelTwin {
    current: RwLock<Arc<ModelView>>,
    routing: bool,
}

impl ModelTwin {
    /// Connected, local and static routes only, from the topology.
    pub fn new(topology: Topology) -> ModelTwin {
        let now = Instant::now();
        let bgp_shutdown = vec![Vec::new(); topology.nodes.len()];
        let view = ModelView::converge(topology, bgp_shutdown, Vec::new(), false, now, None)
            .expect("the model-only twin cannot fail");
        ModelTwin {
            current: RwLock::new(Arc::new(view)),
            routing: false,
        }
    }

    /// Routes, OSPF neighbours and BGP state from the routing engine; fails when the topology's
    /// protocol configuration does.
    pub fn with_routing(topology: Topology) -> Result<ModelTwin, String> {
        let now = Instant::now();
        let bgp_shutdown = vec![Vec::new(); topology.nodes.len()];
        let view = ModelView::converge(topology, bgp_shutdown, Vec::new(), true, now, None)?;
        Ok(ModelTwin {
            current: RwLock::new(Arc::new(view)),
            routing: true,
        })
    }
}

impl ModelView {
    fn converge(
        topology: Topology,
        bgp_shutdown: Vec<Vec<IpAddr>>,
        costs: Vec<(IfRef, u32)>,
        routing: bool,
        started: Instant,
        previous: Option<&ModelView>,
    ) -> Result<ModelView, String> {
        let now = Instant::now();
        let (mut computed, engine) = if routing {
            let st = crate::engine::converge(&topology, &bgp_shutdown, &costs)?;
            (
                st.routes,
                Some(ProtocolState {
                    ospf: st.ospf,
                    bgp: st.bgp,
                    forwarding: st.forwarding,
                }),
            )
        } else {
            let routes = (0..topology.nodes.len())
                .map(|n| node_routes(&topology, NodeId(n as u32)))
                .collect();
            (routes, None)
        };
        let routes = (0..topology.nodes.len())
            .map(|n| {
                let fresh = std::mem::take(&mut computed[n]);
                // A route that did not change keeps its install time, as on a router.
                fresh
                    .into_iter()
                    .map(|r| {
                        let since = previous
                            .and_then(|p| p.routes[n].iter().find(|(old, _)| *old == r))
                            .map_or(now, |(_, t)| *t);
                        (r, since)
                    })
                    .collect()
            })
            .collect();
        Ok(ModelView {
            topology,
            routes,
            bgp_shutdown,
            costs,
            engine,
            started,
        })
    }

    fn route_table(&self, node: NodeId) -> &[(Route, Instant)] {
        &self.routes[node.index()]
    }

    /// Longest-prefix match in `node`'s table.
    fn lookup(&self, node: NodeId, dst: IpAddr) -> Option<&Route> {
        self.route_table(node)
            .iter()
            .map(|(r, _)| r)
            .filter(|r| r.prefix.contains(dst))
            .max_by_key(|r| r.prefix.len())
    }

    /// Whether `node` owns `dst` on an interface that is up, or on its loopback.
    fn owns(&self, node: NodeId, dst: IpAddr) -> bool {
        let n = self.topology.node(node);
        n.loopback.ipv4.map(|a| a.addr) == Some(dst)
            || n.loopback.ipv6.map(|a| a.addr) == Some(dst)
            || n.interfaces.iter().any(|i| {
                i.up && (i.ipv4.map(|a| a.addr) == Some(dst) || i.ipv6.map(|a| a.addr) == Some(dst))
            })
    }

    /// One forwarding step from `node` towards `dst`: the next node, the address of the
    /// interface it received the packet on, the outgoing interface's address, and the link's
    /// one-way latency.
    fn step(&self, node: NodeId, dst: IpAddr) -> Option<Hop> {
        let route = self.lookup(node, dst)?;
        let nh = route.next_hops.first()?;
        if nh.discard {
            return None;
        }
        let gateway = nh.address.unwrap_or(dst);
        let n = self.topology.node(node);
        // The outgoing interface: named by the route, else the connected subnet of the gateway.
        let out = match &nh.interface {
            Some(name) => n.interface(name).map(|(i, _)| i)?,
            None => {
                let connected = self
                    .lookup(node, gateway)
                    .filter(|r| r.protocol.is_direct())?;
                let name = connected.next_hops.first()?.interface.as_ref()?;
                n.interface(name).map(|(i, _)| i)?
            }
        };
        let out_if = &n.interfaces[out as usize];
        let segment = out_if.segment?;
        let seg = self.topology.segment(segment);
        for m in &seg.members {
            if m.node == node {
                continue;
            }
            let peer = self.topology.interface(*m);
            let addr = match gateway {
                IpAddr::V4(_) => peer.ipv4.map(|a| a.addr),
                IpAddr::V6(_) => peer.ipv6.map(|a| a.addr),
            };
            if peer.up && addr == Some(gateway) {
                let latency = self.topology.link(out_if.link).latency_us.unwrap_or(0);
                return Some(Hop {
                    next: m.node,
                    ingress: gateway,
                    egress_source: out_if.ipv4.map(|a| a.addr),
                    latency_us: latency,
                });
            }
            // A directly connected destination owned by the peer on this segment.
            if peer.up && gateway == dst && self.owns(m.node, dst) {
                let latency = self.topology.link(out_if.link).latency_us.unwrap_or(0);
                return Some(Hop {
                    next: m.node,
                    ingress: addr.unwrap_or(dst),
                    egress_source: out_if.ipv4.map(|a| a.addr),
                    latency_us: latency,
                });
            }
        }
        None
    }

    /// Walks from `from` to `dst`; the hops taken, and whether `dst` was reached.
    fn walk(&self, from: NodeId, dst: IpAddr) -> (Vec<Hop>, bool) {
        let mut hops = Vec::new();
        let mut at = from;
        for _ in 0..64 {
            if self.owns(at, dst) {
                return (hops, true);
            }
            if at != from && !self.topology.node(at).kind.forwards_ip() {
                return (hops, false);
            }
            match self.step(at, dst) {
                Some(h) => {
                    at = h.next;
                    hops.push(h);
                }
                None => return (hops, false),
            }
        }
        (hops, false)
    }
}

struct Hop {
    next: NodeId,
    ingress: IpAddr,
    egress_source: Option<IpAddr>,
    latency_us: u64,
}

fn rtt_ms(forward: &[Hop], back: &[Hop]) -> u32 {
    let us: u64 = forward.iter().chain(back).map(|h| h.latency_us).sum();
    (us / 1000).max(1) as u32
}

/// Connected, local and static routes of one node, best distance per prefix.
pub fn node_routes(topology: &Topology, node: NodeId) -> Vec<Route> {
    let n = topology.node(node);
    let mut candidates: Vec<Route> = Vec::new();
    let direct = |prefix: Prefix, protocol, interface: &str| Route {
        prefix,
        protocol,
        distance: 0,
        metric: 0,
        next_hops: vec![RouteNextHop {
            address: None,
            interface: Some(interface.to_string()),
            discard: false,
        }],
        age: Duration::ZERO,
    };
    for a in [n.loopback.ipv4, n.loopback.ipv6].into_iter().flatten() {
        candidates.push(direct(
            Prefix::host(a.addr),
            RouteProtocol::Connected,
            crate::ifname::LOOPBACK_MODEL_NAME,
        ));
    }
    for (index, iface) in n.interfaces.iter().enumerate() {
        if !line_protocol_up(topology, node, index as u32) {
            continue;
        }
        for a in [iface.ipv4, iface.ipv6].into_iter().flatten() {
            let max = a.family().max_len();
            if a.len < max {
                candidates.push(direct(a.subnet(), RouteProtocol::Connected, &iface.name));
            }
            candidates.push(direct(
                Prefix::host(a.addr),
                RouteProtocol::Local,
                &iface.name,
            ));
        }
    }
    let connected: Vec<Route> = candidates.clone();
    for s in &n.statics {
        let next_hop = match &s.next_hop {
            StaticNextHop::Discard => Some(RouteNextHop {
                address: None,
                interface: None,
                discard: true,
            }),
            StaticNextHop::Interface { interface } => {
                let iface = &n.interfaces[*interface as usize];
                line_protocol_up(topology, node, *interface).then(|| RouteNextHop {
                    address: None,
                    interface: Some(iface.name.clone()),
                    discard: false,
                })
            }
            StaticNextHop::Address { address, interface } => {
                // Resolvable only through a connected subnet (no recursion beyond it here).
                let via = connected.iter().find(|r| {
                    r.protocol == RouteProtocol::Connected
                        && r.prefix.len() < r.prefix.family().max_len()
                        && r.prefix.contains(*address)
                        && match interface {
                            Some(i) => {
                                r.next_hops[0].interface.as_deref()
                                    == Some(n.interfaces[*i as usize].name.as_str())
                            }
                            None => true,
                        }
                });
                via.map(|_| RouteNextHop {
                    address: Some(*address),
                    interface: interface.map(|i| n.interfaces[i as usize].name.clone()),
                    discard: false,
                })
            }
        };
        if let Some(nh) = next_hop {
            candidates.push(Route {
                prefix: s.prefix,
                protocol: RouteProtocol::Static,
                distance: s.distance,
                metric: 0,
                next_hops: vec![nh],
                age: Duration::ZERO,
            });
        }
    }
    // Best distance per prefix; equal-distance statics become equal-cost next hops.
    candidates.sort_by(|a, b| a.prefix.cmp(&b.prefix).then(a.distance.cmp(&b.distance)));
    let mut out: Vec<Route> = Vec::new();
    for r in candidates {
        match out.last_mut() {
            Some(last) if last.prefix == r.prefix => {
                if last.distance == r.distance
                    && last.protocol == r.protocol
                    && !last.next_hops.contains(&r.next_hops[0])
                {
                    last.next_hops.extend(r.next_hops);
                }
            }
            _ => out.push(r),
        }
    }
    out
}

impl TwinView for ModelView {
    fn topology(&self) -> &Topology {
        &self.topology
    }

    fn routes(&self, node: NodeId) -> Vec<Route> {
        self.route_table(node)
            .iter()
            .map(|(r, since)| Route {
                age: since.elapsed(),
                ..r.clone()
            })
            .collect()
    }

    fn vrf_routes(&self, node: NodeId, vrf: &str) -> Option<Vec<Route>> {
        let k = self
            .topology
            .node(node)
            .vrfs
            .iter()
            .position(|v| v.name == vrf)?;
        let Some(e) = &self.engine else {
            return Some(Vec::new());
        };
        let routing = &e.forwarding.routing;
        let inst = routing.instance(node, Some(k as u32));
        // The instance topology: there the VRF's instance owns only its own interfaces and the
        // VRF loopback, so a local route names the interface of this VRF when VRFs reuse an
        // address.
        let topo = routing.instance_topology().unwrap_or(&self.topology);
        // VRF tables keep no install times: their routes are as old as the twin.
        let age = self.started.elapsed();
        Some(
            routing
                .fib(inst)
                .routes()
                .iter()
                .map(|r| Route {
                    age,
                    ..crate::engine::route(topo, inst, r)
                })
                .collect(),
        )
    }

    fn bgp_shutdown_neighbors(&self, node: NodeId) -> Vec<IpAddr> {
        self.bgp_shutdown[node.index()].clone()
    }

    fn ospf_neighbors(&self, node: NodeId) -> Vec<OspfNeighbor> {
        self.engine
            .as_ref()
            .map(|e| e.ospf[node.index()].clone())
            .unwrap_or_default()
    }

    fn bgp_summary(&self, node: NodeId) -> Option<BgpSummary> {
        self.engine
            .as_ref()
            .and_then(|e| e.bgp[node.index()].as_ref().map(|x| x.0.clone()))
    }

    fn bgp_table(&self, node: NodeId) -> Vec<BgpPath> {
        self.engine
            .as_ref()
            .and_then(|e| e.bgp[node.index()].as_ref().map(|x| x.1.clone()))
            .unwrap_or_default()
    }

    fn mpls_forwarding(&self, node: NodeId) -> Option<Vec<crate::twin::MplsForwarding>> {
        let routing = &self.engine.as_ref()?.forwarding.routing;
        crate::engine::mpls_forwarding(&self.topology, routing, node)
    }

    fn te_policies(&self, node: NodeId) -> Option<Vec<crate::twin::TePolicy>> {
        let routing = &self.engine.as_ref()?.forwarding.routing;
        crate::engine::te_policies(&self.topology, routing, node)
    }

    fn ldp_bindings(&self, node: NodeId) -> Option<Vec<crate::twin::LdpLibEntry>> {
        let routing = &self.engine.as_ref()?.forwarding.routing;
        crate::engine::ldp_bindings(&self.topology, routing, node)
    }

    fn ping(&self, node: NodeId, destination: IpAddr, count: u32) -> PingResult {
        if let Some(e) = &self.engine {
            return e.forwarding.ping(node, destination, count);
        }
        let (forward, reached) = self.walk(node, destination);
        let source = forward.first().and_then(|h| h.egress_source).or_else(|| {
            // Pinging one's own address: the source is the destination.
            self.owns(node, destination).then_some(destination)
        });
        let probe = if !reached {
            // A router further on without a route answers with an ICMP unreachable; the
            // source itself without one just times out.
            match forward.last() {
                Some(h) if self.lookup(h.next, destination).is_none() => Probe::Unreachable,
                _ => Probe::Timeout,
            }
        } else {
            match source {
                Some(src) => {
                    let dst_node = forward.last().map_or(node, |h| h.next);
                    let (back, ok) = self.walk(dst_node, src);
                    if ok {
                        Probe::Reply {
                            rtt_ms: rtt_ms(&forward, &back),
                        }
                    } else {
                        Probe::Timeout
                    }
                }
                None => Probe::Timeout,
            }
        };
        PingResult {
            source,
            probes: vec![probe; count as usize],
        }
    }

    fn traceroute(&self, node: NodeId, destination: IpAddr) -> Vec<TraceHop> {
        if let Some(e) = &self.engine {
            return e.forwarding.traceroute(node, destination);
        }
        let (forward, reached) = self.walk(node, destination);
        let mut out = Vec::new();
        let mut one_way = 0u64;
        for h in &forward {
            one_way += h.latency_us;
            out.push(TraceHop {
                address: Some(if self.owns(h.next, destination) {
                    destination
                } else {
                    h.ingress
                }),
                rtt_ms: ((2 * one_way) / 1000).max(1) as u32,
            });
        }
        if !reached {
            out.push(TraceHop {
                address: None,
                rtt_ms: 0,
            });
        }
        out
    }

    fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Twin for ModelTwin {
    fn view(&self) -> Arc<dyn TwinView> {
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        guard.clone()
    }

    fn apply(&self, node: NodeId, change: &Change) -> Result<(), ChangeError> {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        let old: &ModelView = &guard;
        let mut topology = old.topology.clone();
        let mut bgp_shutdown = old.bgp_shutdown.clone();
        let mut costs = old.costs.clone();
        apply_to_topology(&mut topology, &mut bgp_shutdown, node, change)?;
        if let Change::OspfCost { interface, cost } = change {
            let r = IfRef {
                node,
                index: *interface,
            };
            costs.retain(|(x, _)| *x != r);
            costs.extend(cost.map(|c| (r, c)));
        }
        let view = ModelView::converge(
            topology,
            bgp_shutdown,
            costs,
            self.routing,
            old.started,
            Some(old),
        )
        .map_err(ChangeError::Refused)?;
        *guard = Arc::new(view);
        Ok(())
    }
}

fn apply_to_topology(
    topology: &mut Topology,
    bgp_shutdown: &mut [Vec<IpAddr>],
    node: NodeId,
    change: &Change,
) -> Result<(), ChangeError> {
    let n = &mut topology.nodes[node.index()];
    let iface = |n: &mut nettwin_model::Node, i: u32| {
        let len = n.interfaces.len();
        if (i as usize) < len {
            Ok(i as usize)
        } else {
            Err(ChangeError::NoInterface(i))
        }
    };
    match change {
        Change::InterfaceAdmin { interface, up } => {
            let i = iface(n, *interface)?;
            n.interfaces[i].up = *up;
        }
        Change::InterfaceIpv4 { interface, address } => {
            let i = iface(n, *interface)?;
            if let Some(a) = address {
                // IOS refuses an address overlapping another interface of the same router.
                for (j, other) in n.interfaces.iter().enumerate() {
                    if j != i {
                        if let Some(o) = other.ipv4 {
                            if o.subnet().overlaps(&a.subnet()) {
                                return Err(ChangeError::Overlap(
                                    a.subnet().to_string(),
                                    crate::ifname::display_name(&other.name),
                                ));
                            }
                        }
                    }
                }
                if a.family() != Family::Ipv4 {
                    return Err(ChangeError::Refused("Not an IPv4 address".into()));
                }
            }
            n.interfaces[i].ipv4 = *address;
        }
        Change::InterfaceMtu { interface, mtu } => {
            let i = iface(n, *interface)?;
            if !(68..=65535).contains(mtu) {
                return Err(ChangeError::BadMtu(*mtu));
            }
            n.interfaces[i].mtu = *mtu;
        }
        Change::OspfCost { interface, cost } => {
            let i = iface(n, *interface)?;
            n.interfaces[i].cost = *cost;
        }
        Change::StaticRoute {
            prefix,
            next_hop,
            distance,
            add,
        } => {
            let pos = n
                .statics
                .iter()
                .position(|s| s.prefix == *prefix && s.next_hop == *next_hop);
            match (add, pos) {
                (true, Some(p)) => n.statics[p].distance = *distance,
                (true, None) => n.statics.push(nettwin_model::StaticRoute {
                    prefix: *prefix,
                    next_hop: next_hop.clone(),
                    distance: *distance,
                    span: Default::default(),
                }),
                (false, Some(p)) => {
                    n.statics.remove(p);
                }
                (false, None) => return Err(ChangeError::NoSuchRoute),
            }
        }
        Change::BgpNeighborAdmin { neighbor, up } => {
            let list = &mut bgp_shutdown[node.index()];
            list.retain(|a| a != neighbor);
            if !up {
                list.push(*neighbor);
            }
        }
    }
    Ok(())
}
