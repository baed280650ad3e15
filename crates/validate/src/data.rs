//! The lab data netlab's plugin arguments refer to (`nodes.r2.loopback.ipv4`,
//! `node.bgp.neighbors`, `nodes.dut.ospf.router_id`), built from the twin in netlab's shapes:
//! addresses as `ADDRESS/LENGTH` strings, interfaces as a list with `ifname` and `neighbors`,
//! BGP neighbours as a list of `{name, as, type, ipv4, ipv6}`, a VRF's in
//! `vrfs.NAME.bgp.neighbors`.

use crate::expr::Value;
use nettwin_model::{NodeKind, Topology};
use nettwin_routing::{Routing, SessionKind};
use std::collections::BTreeMap;

/// Keys of netlab's node data that the twin builds. A reference to another key (
/// `vlans`, `routing`, `vxlan`, ...) names something nettwin does not model, and the test is
/// skipped; a missing key from this list (a node without `ospf`) is a real absence.
pub const MODELLED_KEYS: &[&str] = &[
    "name",
    "role",
    "loopback",
    "interfaces",
    "ifname",
    "ifindex",
    "neighbors",
    "node",
    "ipv4",
    "ipv6",
    "mtu",
    "af",
    "ospf",
    "isis",
    "bgp",
    "router_id",
    "area",
    "as",
    "type",
    "vrfs",
];

fn opt_addr<T: std::fmt::Display>(a: Option<T>) -> Option<Value> {
    a.map(|a| Value::Str(a.to_string()))
}

/// `{ipv4: ..., ipv6: ...}` with the keys that have a value.
fn af_map(ipv4: Option<Value>, ipv6: Option<Value>) -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    if let Some(v) = ipv4 {
        m.insert("ipv4".to_string(), v);
    }
    if let Some(v) = ipv6 {
        m.insert("ipv6".to_string(), v);
    }
    m
}

/// The `nodes` dictionary: every node's data keyed by name.
pub fn nodes(topo: &Topology, routing: &Routing) -> BTreeMap<String, Value> {
    topo.nodes
        .iter()
        .map(|n| {
            let i = n.id.index();
            let mut d = BTreeMap::new();
            d.insert("name".into(), Value::str(&n.name));
            let role = match n.kind {
                NodeKind::Host => "host",
                NodeKind::Switch => "bridge",
                NodeKind::Router | NodeKind::Linux => "router",
            };
            d.insert("role".into(), Value::str(role));
            d.insert("mtu".into(), Value::Int(n.mtu as i64));
            let lb = af_map(opt_addr(n.loopback.ipv4), opt_addr(n.loopback.ipv6));
            if !lb.is_empty() {
                d.insert("loopback".into(), Value::Dict(lb));
            }
            let (mut v4, mut v6) = (n.loopback.ipv4.is_some(), n.loopback.ipv6.is_some());
            let interfaces = n
                .interfaces
                .iter()
                .enumerate()
                .map(|(k, iface)| {
                    v4 |= iface.ipv4.is_some();
                    v6 |= iface.ipv6.is_some();
                    let mut m = af_map(opt_addr(iface.ipv4), opt_addr(iface.ipv6));
                    m.insert("ifname".into(), Value::str(&iface.name));
                    m.insert("ifindex".into(), Value::Int(k as i64 + 1));
                    m.insert("mtu".into(), Value::Int(iface.mtu as i64));
                    let neighbors = match iface.segment {
                        Some(s) => topo
                            .segment(s)
                            .members
                            .iter()
                            .filter(|r| r.node != n.id)
                            .map(|r| {
                                let other = topo.interface(*r);
                                let mut nb = af_map(opt_addr(other.ipv4), opt_addr(other.ipv6));
                                nb.insert("node".into(), Value::str(&topo.node(r.node).name));
                                nb.insert("ifname".into(), Value::str(&other.name));
                                Value::Dict(nb)
                            })
                            .collect(),
                        None => Vec::new(),
                    };
                    m.insert("neighbors".into(), Value::List(neighbors));
                    Value::Dict(m)
                })
                .collect();
            d.insert("interfaces".into(), Value::List(interfaces));
            d.insert(
                "af".into(),
                Value::Dict(af_map(
                    v4.then_some(Value::Bool(true)),
                    v6.then_some(Value::Bool(true)),
                )),
            );
            let rid = n.router_id.map(|r| Value::Str(r.to_string()));
            if let Some(o) = &routing.config.ospf[i] {
                let mut m = BTreeMap::new();
                m.insert("area".to_string(), Value::Str(o.area.to_string()));
                if let Some(r) = &rid {
                    m.insert("router_id".into(), r.clone());
                }
                d.insert("ospf".into(), Value::Dict(m));
            }
            if routing.config.isis[i].is_some() {
                let m = BTreeMap::from([("type".to_string(), Value::str("level-2"))]);
                d.insert("isis".into(), Value::Dict(m));
            }
            if let Some(m) = bgp_data(topo, routing, n.id) {
                d.insert("bgp".into(), Value::Dict(m));
            }
            // netlab's vrf module: `vrfs.NAME.bgp.neighbors` lists the VRF's own sessions.
            if !n.vrfs.is_empty() {
                let vrfs: BTreeMap<String, Value> = n
                    .vrfs
                    .iter()
                    .enumerate()
                    .map(|(k, v)| {
                        let inst = routing.instance(n.id, Some(k as u32));
                        let mut m = BTreeMap::new();
                        if let Some(b) = bgp_data(topo, routing, inst) {
                            m.insert("bgp".to_string(), Value::Dict(b));
                        }
                        (v.name.clone(), Value::Dict(m))
                    })
                    .collect();
                d.insert("vrfs".into(), Value::Dict(vrfs));
            }
            (n.name.clone(), Value::Dict(d))
        })
        .collect()
}

/// A routing instance's `bgp` data (`as`, `router_id`, `neighbors`), `None` without BGP.
fn bgp_data(
    topo: &Topology,
    routing: &Routing,
    id: nettwin_model::NodeId,
) -> Option<BTreeMap<String, Value>> {
    let b = routing.node(id).bgp.as_ref()?;
    let mut m = BTreeMap::new();
    m.insert("as".to_string(), Value::Int(b.asn as i64));
    if let Some(r) = b.router_id {
        m.insert("router_id".into(), Value::Str(r.to_string()));
    }
    // One entry per neighbouring router, with an address per family, as netlab
    // lists them.
    let mut neighbors: Vec<BTreeMap<String, Value>> = Vec::new();
    for p in &b.peers {
        let name = &topo.node(routing.instance_of(p.node).0).name;
        let af = if p.remote_address.is_ipv4() {
            "ipv4"
        } else {
            "ipv6"
        };
        let existing = neighbors.iter_mut().find(|e| {
            e.get("name").and_then(Value::as_str) == Some(name.as_str()) && !e.contains_key(af)
        });
        let entry = match existing {
            Some(e) => e,
            None => {
                let kind = match p.kind {
                    SessionKind::Ebgp => "ebgp",
                    SessionKind::Ibgp => "ibgp",
                };
                neighbors.push(BTreeMap::from([
                    ("name".to_string(), Value::str(name)),
                    ("as".to_string(), Value::Int(p.remote_as as i64)),
                    ("type".to_string(), Value::str(kind)),
                ]));
                neighbors.last_mut().expect("just pushed")
            }
        };
        entry.insert(af.into(), Value::Str(p.remote_address.to_string()));
    }
    m.insert(
        "neighbors".into(),
        Value::List(neighbors.into_iter().map(Value::Dict).collect()),
    );
    Some(m)
}
