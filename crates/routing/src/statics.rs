//! Connected, local and static routes, and the default route of end hosts.

use crate::rib::{Action, Distances, Fib, NextHop, NodeTable, PrefixTable, Protocol, Target};
use nettwin_model::{Family, NodeId, NodeKind, Prefix, StaticNextHop, Topology};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Connected subnets of up interfaces, the router's own addresses (local), and loopbacks.
pub fn connected(topo: &Topology, id: NodeId, d: &Distances, table: &PrefixTable) -> NodeTable {
    let node = topo.node(id);
    let mut out = NodeTable::default();
    let num = |p: Prefix| table.id(&p).expect("own prefixes are in the prefix table");
    for a in [node.loopback.ipv4, node.loopback.ipv6]
        .into_iter()
        .flatten()
    {
        // A loopback written with a mask (a /24) is connected as a whole, as Linux makes every
        // address of a prefix on `lo` local; the address itself is received either way.
        let host = Prefix::host(a.addr);
        out.push(
            num(host),
            Protocol::Connected,
            d.connected,
            0,
            Target::Receive,
        );
        if a.subnet() != host {
            out.push(
                num(a.subnet()),
                Protocol::Connected,
                d.connected,
                0,
                Target::Receive,
            );
        }
    }
    for (i, iface) in node.interfaces.iter().enumerate() {
        if !iface.up {
            continue;
        }
        for a in [iface.ipv4, iface.ipv6].into_iter().flatten() {
            let subnet = a.subnet();
            if subnet.len() < a.family().max_len() {
                out.push(
                    num(subnet),
                    Protocol::Connected,
                    d.connected,
                    0,
                    Target::Forward(vec![NextHop {
                        address: None,
                        interface: i as u32,
                    }]),
                );
            }
            out.push(
                num(Prefix::host(a.addr)),
                Protocol::Local,
                d.connected,
                0,
                Target::Receive,
            );
        }
    }
    out
}

/// Every prefix a node's connected, local and static routes can be for.
pub fn route_prefixes(topo: &Topology, id: NodeId, out: &mut Vec<Prefix>) {
    let node = topo.node(id);
    for a in [node.loopback.ipv4, node.loopback.ipv6]
        .into_iter()
        .flatten()
    {
        out.push(Prefix::host(a.addr));
        if a.subnet() != Prefix::host(a.addr) {
            out.push(a.subnet());
        }
    }
    for iface in &node.interfaces {
        for a in [iface.ipv4, iface.ipv6].into_iter().flatten() {
            out.push(a.subnet());
            out.push(Prefix::host(a.addr));
        }
    }
    out.extend(node.statics.iter().map(|s| s.prefix));
    if node.kind == NodeKind::Host {
        out.push(Prefix::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0));
        out.push(Prefix::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0));
    }
}

/// A static route to resolve: prefix, distance and where it points.
struct Wanted {
    prefix: Prefix,
    distance: u8,
    target: StaticNextHop,
}

/// The statics a node wants: its configured ones, and for a host without a default route of a
/// family, a default route to the first router on its segment (what DHCP or netlab would give).
fn wanted(topo: &Topology, id: NodeId, d: &Distances) -> Vec<Wanted> {
    let node = topo.node(id);
    let mut out: Vec<Wanted> = node
        .statics
        .iter()
        .map(|s| Wanted {
            prefix: s.prefix,
            distance: if s.distance == 1 {
                d.static_
            } else {
                s.distance
            },
            target: s.next_hop.clone(),
        })
        .collect();
    if node.kind == NodeKind::Host {
        for fam in [Family::Ipv4, Family::Ipv6] {
            if node
                .statics
                .iter()
                .any(|s| s.prefix.is_default() && s.prefix.family() == fam)
            {
                continue;
            }
            let gateway = node.interfaces.iter().filter(|i| i.up).find_map(|i| {
                let seg = topo.segment(i.segment?);
                seg.members.iter().find_map(|m| {
                    let peer = topo.node(m.node);
                    let pi = topo.interface(*m);
                    if !peer.kind.forwards_ip() || !pi.up {
                        return None;
                    }
                    match fam {
                        Family::Ipv4 => pi.ipv4,
                        Family::Ipv6 => pi.ipv6,
                    }
                    .map(|a| a.addr)
                })
            });
            if let Some(gw) = gateway {
                let zero = match fam {
                    Family::Ipv4 => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                    Family::Ipv6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                };
                out.push(Wanted {
                    prefix: Prefix::new(zero, 0),
                    distance: d.static_,
                    target: StaticNextHop::Address {
                        address: gw,
                        interface: None,
                    },
                });
            }
        }
    }
    out
}

/// Resolves static routes against the node's other routes (`base`, sorted). Next hops are
/// resolved recursively (a static may resolve through another static); a static whose next hop
/// cannot be reached is not installed, which is what lets a floating static take over.
pub fn resolve(
    topo: &Topology,
    id: NodeId,
    base: &NodeTable,
    table: &PrefixTable,
    d: &Distances,
) -> NodeTable {
    let node = topo.node(id);
    let wanted = wanted(topo, id, d);
    let mut resolved = NodeTable::default();
    if wanted.is_empty() {
        return resolved;
    }
    // Two rounds: the second lets statics resolve through statics found in the first.
    let recursive = wanted
        .iter()
        .any(|w| matches!(w.target, StaticNextHop::Address { .. }));
    for round in 0..2 {
        if round == 1 && (!recursive || resolved.entries.is_empty()) {
            break;
        }
        let mut pool = base.clone();
        pool.append(resolved);
        pool.sort();
        let fib = Fib {
            table,
            node: &pool,
            bgp: None,
        };
        let mut merged: BTreeMap<(Prefix, u8), Target> = BTreeMap::new();
        for w in &wanted {
            let target = match &w.target {
                StaticNextHop::Discard => Some(Target::Discard),
                StaticNextHop::Interface { interface } => {
                    node.interfaces[*interface as usize].up.then(|| {
                        Target::Forward(vec![NextHop {
                            address: None,
                            interface: *interface,
                        }])
                    })
                }
                StaticNextHop::Address { address, interface } => {
                    via(&fib, *address, *interface, node).map(Target::Forward)
                }
            };
            let Some(target) = target else { continue };
            match merged.get_mut(&(w.prefix, w.distance)) {
                Some(existing) => {
                    // Equal statics for one prefix are ECMP.
                    if let (Target::Forward(a), Target::Forward(b)) = (existing, target) {
                        for h in b {
                            if !a.contains(&h) {
                                a.push(h);
                            }
                        }
                        a.sort();
                    }
                }
                None => {
                    merged.insert((w.prefix, w.distance), target);
                }
            }
        }
        resolved = NodeTable::default();
        for ((prefix, distance), target) in merged {
            let num = table
                .id(&prefix)
                .expect("static prefixes are in the prefix table");
            resolved.push(num, Protocol::Static, distance, 0, target);
        }
    }
    resolved
}

/// Next hops that reach `address`, out of `pinned` when given.
fn via(
    fib: &Fib,
    address: IpAddr,
    pinned: Option<u32>,
    node: &nettwin_model::Node,
) -> Option<Vec<NextHop>> {
    if let Some(i) = pinned {
        let iface = &node.interfaces[i as usize];
        let on_link = [iface.ipv4, iface.ipv6]
            .into_iter()
            .flatten()
            .any(|a| a.subnet().contains(address));
        if iface.up && on_link {
            return Some(vec![NextHop {
                address: Some(address),
                interface: i,
            }]);
        }
    }
    let route = fib.lookup(address)?;
    let hops: Vec<NextHop> = match route.action {
        Action::Forward { next_hops } => next_hops
            .iter()
            .filter(|h| pinned.is_none_or(|p| p == h.interface))
            .map(|h| NextHop {
                address: Some(h.address.unwrap_or(address)),
                interface: h.interface,
            })
            .collect(),
        _ => Vec::new(),
    };
    (!hops.is_empty()).then_some(hops)
}
