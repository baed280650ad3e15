//! The kernel as control plane: the twin's FIB installed as kernel routes, and the kernel's
//! tables read back (`ip -j route`).

use crate::compare::{ignored_prefix, parse_dst, protocol_name, RealRoute};
use crate::{sys, EmuError};
use nettwin_model::{NodeId, Topology};
use nettwin_routing::{Action, Protocol, Routing};
use serde_json::Value;
use std::collections::BTreeSet;

/// The `ip route` lines that install a node's FIB. Connected and local routes are left to the
/// kernel, which makes them from the addresses; every other route carries its protocol as the
/// kernel's `proto` (static, ospf, isis, bgp), ECMP as a multipath route, discard as blackhole.
pub fn route_lines(topo: &Topology, routing: &Routing, node: NodeId) -> Vec<String> {
    let mut out = table_lines(topo, routing, node, None);
    for (k, v) in topo.node(node).vrfs.iter().enumerate() {
        out.extend(table_lines(topo, routing, node, Some((k as u32, v.table))));
    }
    out
}

/// The lines of one table: the global one, or VRF `k`'s kernel table.
fn table_lines(
    topo: &Topology,
    routing: &Routing,
    node: NodeId,
    vrf: Option<(u32, u32)>,
) -> Vec<String> {
    let n = topo.node(node);
    let mut out = Vec::new();
    let table = vrf.map(|(_, t)| format!(" table {t}")).unwrap_or_default();
    for r in routing.fib_in(node, vrf.map(|(k, _)| k)).routes() {
        if matches!(r.protocol, Protocol::Connected | Protocol::Local) {
            continue;
        }
        let proto = protocol_name(r.protocol);
        match r.action {
            Action::Receive => {}
            Action::Discard => out.push(format!(
                "route add blackhole {} proto {proto}{table}",
                r.prefix
            )),
            Action::Forward { next_hops } => {
                let hop = |h: &nettwin_routing::NextHop| {
                    let i = &n.interfaces[h.interface as usize];
                    let dev = &i.name;
                    // Out of an unnumbered interface the neighbour's borrowed loopback address
                    // is in no subnet of the interface: the kernel needs `onlink`.
                    let mine = if h.address.is_some_and(|a| a.is_ipv4()) {
                        i.ipv4
                    } else {
                        i.ipv6
                    };
                    let onlink = match (h.address, mine) {
                        (Some(a), Some(m)) => !m.subnet().contains(a),
                        (Some(_), None) => true,
                        _ => false,
                    };
                    match h.address {
                        Some(a) if onlink => format!("via {a} dev {dev} onlink"),
                        Some(a) => format!("via {a} dev {dev}"),
                        None => format!("dev {dev}"),
                    }
                };
                let mut line = format!("route add {} proto {proto}{table}", r.prefix);
                if let [one] = next_hops {
                    line.push(' ');
                    line.push_str(&hop(one));
                } else {
                    for h in next_hops {
                        line.push_str(" nexthop ");
                        line.push_str(&hop(h));
                    }
                }
                out.push(line);
            }
        }
    }
    out
}

/// Installs the twin's FIB of `node` in namespace `ns`.
pub fn install(topo: &Topology, routing: &Routing, node: NodeId, ns: &str) -> Result<(), EmuError> {
    sys::ip_batch(ns, &route_lines(topo, routing, node))
}

fn hop_of(v: &Value) -> Option<(Option<std::net::IpAddr>, String)> {
    let dev = v.get("dev")?.as_str()?.to_string();
    let gw = v
        .get("gateway")
        .and_then(Value::as_str)
        .and_then(|g| g.parse().ok());
    Some((gw, dev))
}

/// Parses `ip -j route show` output into normal form.
pub fn parse_routes(json: &str, v6: bool, command: &str) -> Result<Vec<RealRoute>, EmuError> {
    let v: Value = serde_json::from_str(json).map_err(|e| EmuError::Parse {
        command: command.to_string(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for r in v.as_array().into_iter().flatten() {
        let Some(prefix) = r
            .get("dst")
            .and_then(Value::as_str)
            .and_then(|d| parse_dst(d, v6))
        else {
            continue;
        };
        if ignored_prefix(&prefix) {
            continue;
        }
        let kind = r.get("type").and_then(Value::as_str).unwrap_or("unicast");
        // A VRF's table also holds the kernel's local and broadcast routes of its interfaces.
        if matches!(kind, "local" | "broadcast" | "anycast" | "multicast") {
            continue;
        }
        let protocol = match r.get("protocol").and_then(Value::as_str) {
            Some("kernel") | None => "connected".to_string(),
            Some("boot") => "static".to_string(),
            Some("ospf6") => "ospf".to_string(),
            Some(p) => p.to_string(),
        };
        let discard = matches!(kind, "blackhole" | "unreachable" | "prohibit");
        let mut next_hops = BTreeSet::new();
        if !discard {
            match r.get("nexthops").and_then(Value::as_array) {
                Some(list) => next_hops.extend(list.iter().filter_map(hop_of)),
                None => next_hops.extend(hop_of(r)),
            }
        }
        if protocol == "connected" && next_hops.iter().all(|(_, d)| is_loopback_dev(d)) {
            continue;
        }
        out.push(RealRoute {
            prefix,
            protocol,
            discard,
            next_hops,
        });
    }
    Ok(out)
}

/// The kernel's main routing table in namespace `ns`, both families.
pub fn read(ns: &str) -> Result<Vec<RealRoute>, EmuError> {
    read_table(ns, "main")
}

/// One kernel table (`main`, or a VRF's number) in namespace `ns`, both families.
pub fn read_table(ns: &str, table: &str) -> Result<Vec<RealRoute>, EmuError> {
    let mut out = Vec::new();
    for (fam, v6) in [("-4", false), ("-6", true)] {
        let json = sys::ip_ns(ns, &["-j", fam, "route", "show", "table", table])?;
        out.extend(parse_routes(
            &json,
            v6,
            &format!("ip -n {ns} -j {fam} route show table {table}"),
        )?);
    }
    Ok(out)
}

/// `lo`, or a VRF loopback dummy (`lo10001`): routes out of them are the router's own.
pub fn is_loopback_dev(d: &str) -> bool {
    d == "lo"
        || d.strip_prefix("lo")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_json_routes_are_normalised() {
        let json = r#"[
 {"dst":"default","gateway":"198.19.255.1","dev":"eth3","protocol":"static","flags":[]},
 {"dst":"198.18.0.2","protocol":"ospf","flags":[],"nexthops":[{"gateway":"198.19.0.1","dev":"eth1","weight":1,"flags":[]},{"gateway":"198.19.0.3","dev":"eth2","weight":1,"flags":[]}]},
 {"type":"blackhole","dst":"198.18.200.0/24","protocol":"static","flags":[]},
 {"dst":"198.19.0.0/31","dev":"eth1","protocol":"kernel","scope":"link","prefsrc":"198.19.0.0","flags":[]}
]"#;
        let r = parse_routes(json, false, "ip").unwrap();
        let text: Vec<String> = r.iter().map(|x| format!("{} {x}", x.prefix)).collect();
        assert_eq!(
            text,
            [
                "0.0.0.0/0 static via 198.19.255.1 eth3",
                "198.18.0.2/32 ospf via 198.19.0.1 eth1, via 198.19.0.3 eth2",
                "198.18.200.0/24 static blackhole",
                "198.19.0.0/31 connected dev eth1",
            ]
        );
        let v6 = r#"[{"dst":"fe80::/64","dev":"eth1","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},
 {"dst":"2001:db8:1::/64","dev":"eth1","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}]"#;
        let r = parse_routes(v6, true, "ip").unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].to_string(), "connected dev eth1");
    }
}
