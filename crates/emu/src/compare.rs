//! Routing tables in one normal form, so the twin's FIB, the kernel's tables and FRR's
//! selected routes can be compared entry by entry.
//!
//! Normalisation (see docs/emu.md): the router's own addresses (the twin's `local` routes and
//! receive routes for loopbacks, the kernel's `local` table, FRR's connected routes on `lo`) are
//! left out; IPv6 link-local prefixes and multicast are left out; protocols are named as
//! `connected`, `static`, `ospf` (OSPFv2, OSPFv3 and inter-area alike), `isis`, `bgp` (eBGP and
//! iBGP alike, as the kernel and FRR do not tell them apart); IPv6 next hops given as
//! link-local addresses are replaced by the global address of the same neighbour interface.
//! Metrics are not compared (OSPFv3 adds the loopback's interface cost where the twin uses 0).

use nettwin_model::{NodeId, Prefix, Topology};
use nettwin_routing::{Action, Protocol, Routing};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

/// One next hop: the neighbour's address (none for a directly connected destination) and the
/// egress interface name.
pub type Hop = (Option<IpAddr>, String);

/// A route in normal form.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RealRoute {
    pub prefix: Prefix,
    pub protocol: String,
    pub discard: bool,
    pub next_hops: BTreeSet<Hop>,
}

impl fmt::Display for RealRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.protocol)?;
        if self.discard {
            return f.write_str(" blackhole");
        }
        for (i, (a, dev)) in self.next_hops.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            match a {
                Some(a) => write!(f, "via {a} {dev}")?,
                None => write!(f, "dev {dev}")?,
            }
        }
        Ok(())
    }
}

/// The protocol name used for comparison.
pub fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Connected | Protocol::Local => "connected",
        Protocol::Static => "static",
        Protocol::Ospf | Protocol::OspfInterArea => "ospf",
        Protocol::Isis => "isis",
        Protocol::Ebgp | Protocol::Ibgp => "bgp",
    }
}

/// Prefixes never compared: IPv6 link-local and multicast.
pub fn ignored_prefix(p: &Prefix) -> bool {
    let ll: Prefix = "fe80::/10".parse().expect("valid");
    let mc: Prefix = "ff00::/8".parse().expect("valid");
    ll.covers(p) || mc.covers(p)
}

/// The twin's FIB of a node in normal form.
pub fn twin_routes(topo: &Topology, routing: &Routing, node: NodeId) -> Vec<RealRoute> {
    twin_routes_in(topo, routing, node, node)
}

/// The twin's FIB of routing instance `inst` (a VRF of `node`, or `node` itself) in normal form;
/// next hops are named by `node`'s interfaces, which every instance of it shares.
pub fn twin_routes_in(
    topo: &Topology,
    routing: &Routing,
    node: NodeId,
    inst: NodeId,
) -> Vec<RealRoute> {
    let n = topo.node(node);
    routing
        .fib(inst)
        .routes()
        .iter()
        .filter(|r| r.protocol != Protocol::Local && !ignored_prefix(&r.prefix))
        .filter_map(|r| {
            let (discard, next_hops) = match r.action {
                Action::Receive => return None,
                Action::Discard => (true, BTreeSet::new()),
                Action::Forward { next_hops } => (
                    false,
                    next_hops
                        .iter()
                        .map(|h| (h.address, n.interfaces[h.interface as usize].name.clone()))
                        .collect(),
                ),
            };
            Some(RealRoute {
                prefix: r.prefix,
                protocol: protocol_name(r.protocol).to_string(),
                discard,
                next_hops,
            })
        })
        .collect()
}

/// One prefix on which the twin and the real network disagree.
#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    pub prefix: Prefix,
    /// The twin's route, `None` when the twin has no route for the prefix.
    pub twin: Option<String>,
    /// The real route, `None` when the real network has none.
    pub real: Option<String>,
}

/// The comparison of one node's tables.
#[derive(Clone, Debug, Serialize)]
pub struct NodeReport {
    pub node: String,
    /// Where the real table came from: `kernel` or `frr`.
    pub source: String,
    pub agree: usize,
    pub diffs: Vec<Diff>,
}

/// Compares two tables prefix by prefix.
pub fn compare(node: &str, source: &str, twin: &[RealRoute], real: &[RealRoute]) -> NodeReport {
    let t: BTreeMap<Prefix, &RealRoute> = twin.iter().map(|r| (r.prefix, r)).collect();
    let r: BTreeMap<Prefix, &RealRoute> = real.iter().map(|r| (r.prefix, r)).collect();
    let prefixes: BTreeSet<Prefix> = t.keys().chain(r.keys()).copied().collect();
    let mut rep = NodeReport {
        node: node.to_string(),
        source: source.to_string(),
        agree: 0,
        diffs: Vec::new(),
    };
    for p in prefixes {
        match (t.get(&p), r.get(&p)) {
            (Some(a), Some(b)) if a == b => rep.agree += 1,
            (a, b) => rep.diffs.push(Diff {
                prefix: p,
                twin: a.map(|x| x.to_string()),
                real: b.map(|x| x.to_string()),
            }),
        }
    }
    rep
}

/// Parses a destination as `ip -j route` or vtysh print it (`default`, a bare address for a
/// host route, or ADDRESS/LEN).
pub fn parse_dst(dst: &str, v6: bool) -> Option<Prefix> {
    if dst == "default" {
        return Some(
            if v6 { "::/0" } else { "0.0.0.0/0" }
                .parse()
                .expect("valid"),
        );
    }
    if dst.contains('/') {
        return dst.parse().ok();
    }
    dst.parse::<IpAddr>().ok().map(Prefix::host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(p: &str, proto: &str, hops: &[(&str, &str)]) -> RealRoute {
        RealRoute {
            prefix: p.parse().unwrap(),
            protocol: proto.into(),
            discard: false,
            next_hops: hops
                .iter()
                .map(|(a, d)| ((!a.is_empty()).then(|| a.parse().unwrap()), d.to_string()))
                .collect(),
        }
    }

    #[test]
    fn differences_name_the_prefix_and_both_sides() {
        let twin = [
            route(
                "198.18.1.0/24",
                "ospf",
                &[("198.19.0.1", "eth1"), ("198.19.0.3", "eth2")],
            ),
            route("198.18.2.0/24", "bgp", &[("198.19.0.1", "eth1")]),
            route("198.18.3.0/24", "connected", &[("", "eth3")]),
        ];
        let real = [
            route("198.18.1.0/24", "ospf", &[("198.19.0.1", "eth1")]),
            route("198.18.3.0/24", "connected", &[("", "eth3")]),
            route("198.18.4.0/24", "static", &[("198.19.0.1", "eth1")]),
        ];
        let rep = compare("r1", "frr", &twin, &real);
        assert_eq!(rep.agree, 1);
        let d: Vec<String> = rep
            .diffs
            .iter()
            .map(|d| format!("{} | {:?} | {:?}", d.prefix, d.twin, d.real))
            .collect();
        assert_eq!(
            d,
            [
                "198.18.1.0/24 | Some(\"ospf via 198.19.0.1 eth1, via 198.19.0.3 eth2\") | Some(\"ospf via 198.19.0.1 eth1\")",
                "198.18.2.0/24 | Some(\"bgp via 198.19.0.1 eth1\") | None",
                "198.18.4.0/24 | None | Some(\"static via 198.19.0.1 eth1\")",
            ]
        );
    }

    #[test]
    fn destinations_parse_like_ip_prints_them() {
        assert_eq!(
            parse_dst("default", false).unwrap().to_string(),
            "0.0.0.0/0"
        );
        assert_eq!(parse_dst("default", true).unwrap().to_string(), "::/0");
        assert_eq!(
            parse_dst("198.18.0.1", false).unwrap().to_string(),
            "198.18.0.1/32"
        );
        assert_eq!(
            parse_dst("2001:db8::/64", true).unwrap().to_string(),
            "2001:db8::/64"
        );
        assert!(ignored_prefix(&"fe80::/64".parse().unwrap()));
        assert!(!ignored_prefix(&"2001:db8::/64".parse().unwrap()));
    }
}
