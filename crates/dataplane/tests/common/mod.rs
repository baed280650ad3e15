//! Helpers shared by the dataplane tests: a topology string to an operational network with
//! routing, and a probe from a node to an address.

#![allow(dead_code)]

use nettwin_dataplane::{operational, Net, Probe, Proto};
use nettwin_model::Topology;
use nettwin_routing::Routing;
use std::net::IpAddr;

/// The topology with operational interface state, and its routing.
pub fn net_of(yaml: &str) -> (Topology, Routing) {
    let t = nettwin_model::load_str("test.yml", yaml).expect("topology loads");
    let routing = nettwin_routing::compute(&t).expect("routing computes");
    (operational(&t), routing)
}

/// An ICMP echo of `size` bytes from node `from` to address `to`, sourced as the node would.
pub fn probe(net: &Net, from: &str, to: &str, size: u32, df: bool) -> Probe {
    let from = net.topo.node_by_name(from).unwrap().id;
    let dst: IpAddr = to.parse().unwrap();
    Probe {
        from,
        src: net.source_address(from, dst).unwrap(),
        dst,
        proto: Proto::Icmp,
        sport: 0,
        dport: 0,
        size,
        df,
        ttl: 64,
        flow_hash: false,
    }
}
