//! Prints every protocol show command rendered from fixed protocol state (OSPF neighbours,
//! BGP peers and paths, OSPF/IS-IS/BGP routes with equal-cost next hops) over a topology, so
//! the Python tests can parse them with ntc-templates and compare the fields with this input.
//! Usage: `render_samples TOPOLOGY`. The state below is mirrored in tests/python/test_layouts.py.

use nettwin_cli::render;
use nettwin_cli::*;
use nettwin_model::{NodeId, Topology};
use std::net::IpAddr;
use std::time::Duration;

struct Fixed(Topology);

fn ip(s: &str) -> IpAddr {
    s.parse().expect("literal address")
}

fn hop(a: Option<&str>, i: Option<&str>) -> RouteNextHop {
    RouteNextHop {
        address: a.map(ip),
        interface: i.map(str::to_string),
        discard: false,
    }
}

impl TwinView for Fixed {
    fn topology(&self) -> &Topology {
        &self.0
    }
    fn routes(&self, node: NodeId) -> Vec<Route> {
        let r = |p: &str, protocol, distance, metric, next_hops, secs| Route {
            prefix: p.parse().expect("literal prefix"),
            protocol,
            distance,
            metric,
            next_hops,
            age: Duration::from_secs(secs),
        };
        let mut out = nettwin_cli::model_twin::node_routes(&self.0, node);
        out.extend([
            r(
                "10.20.0.0/24",
                RouteProtocol::Ospf,
                110,
                20,
                vec![hop(Some("198.19.0.2"), Some("eth1"))],
                83,
            ),
            r(
                "10.30.0.0/24",
                RouteProtocol::OspfInterArea,
                110,
                30,
                vec![
                    hop(Some("198.19.0.2"), Some("eth1")),
                    hop(Some("198.19.0.6"), Some("eth2")),
                ],
                3600,
            ),
            r(
                "172.16.5.0/24",
                RouteProtocol::IsisL2,
                115,
                20,
                vec![hop(Some("198.19.0.2"), Some("eth1"))],
                59,
            ),
            r(
                "203.0.113.0/24",
                RouteProtocol::Bgp,
                20,
                0,
                vec![hop(Some("198.19.0.2"), None)],
                2 * 86_400 + 3 * 3600,
            ),
        ]);
        out
    }
    fn ospf_neighbors(&self, _node: NodeId) -> Vec<OspfNeighbor> {
        vec![
            OspfNeighbor {
                neighbor_id: "198.18.0.2".parse().unwrap(),
                priority: 0,
                state: "FULL/  -".into(),
                dead_time: Duration::from_secs(33),
                address: "198.19.0.2".parse().unwrap(),
                interface: "eth1".into(),
            },
            OspfNeighbor {
                neighbor_id: "198.18.0.3".parse().unwrap(),
                priority: 1,
                state: "FULL/DR".into(),
                dead_time: Duration::from_secs(38),
                address: "198.19.0.6".parse().unwrap(),
                interface: "eth2".into(),
            },
        ]
    }
    fn bgp_summary(&self, _node: NodeId) -> Option<BgpSummary> {
        Some(BgpSummary {
            router_id: "198.18.0.1".parse().unwrap(),
            local_as: 65000,
            table_version: 7,
            peers: vec![
                BgpPeer {
                    address: ip("198.19.0.2"),
                    remote_as: 65001,
                    messages_received: 120,
                    messages_sent: 118,
                    up_down: Duration::from_secs(3723),
                    prefixes_received: Some(3),
                    state: "Established".into(),
                },
                BgpPeer {
                    address: ip("198.19.0.6"),
                    remote_as: 65002,
                    messages_received: 0,
                    messages_sent: 0,
                    up_down: Duration::ZERO,
                    prefixes_received: None,
                    state: "Idle".into(),
                },
            ],
        })
    }
    fn bgp_table(&self, _node: NodeId) -> Vec<BgpPath> {
        let p =
            |prefix: &str, nh: &str, metric, lp, weight, path: Vec<u32>, best, internal| BgpPath {
                prefix: prefix.parse().unwrap(),
                next_hop: ip(nh),
                metric,
                local_pref: lp,
                weight,
                as_path: path,
                origin: 'i',
                valid: true,
                best,
                internal,
            };
        vec![
            p(
                "10.1.0.0/24",
                "0.0.0.0",
                Some(0),
                None,
                32768,
                vec![],
                true,
                false,
            ),
            p(
                "10.2.0.0/16",
                "198.19.0.2",
                Some(0),
                None,
                0,
                vec![65001, 65010],
                true,
                false,
            ),
            p(
                "10.2.0.0/16",
                "198.19.0.6",
                None,
                None,
                0,
                vec![65002, 65010],
                false,
                false,
            ),
            p(
                "192.168.100.128/25",
                "198.19.0.9",
                Some(10),
                Some(200),
                0,
                vec![],
                true,
                true,
            ),
        ]
    }
    fn ping(&self, _node: NodeId, _d: IpAddr, _c: u32) -> PingResult {
        PingResult {
            source: None,
            probes: vec![
                Probe::Reply { rtt_ms: 3 },
                Probe::Timeout,
                Probe::Reply { rtt_ms: 5 },
                Probe::Unreachable,
                Probe::Reply { rtt_ms: 4 },
            ],
        }
    }
    fn traceroute(&self, _node: NodeId, _d: IpAddr) -> Vec<TraceHop> {
        vec![
            TraceHop {
                address: Some(ip("198.19.0.2")),
                rtt_ms: 1,
            },
            TraceHop {
                address: None,
                rtt_ms: 0,
            },
        ]
    }
    fn uptime(&self) -> Duration {
        Duration::from_secs(9 * 86_400 + 3 * 3600 + 25 * 60)
    }
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: render_samples TOPOLOGY");
        std::process::exit(2);
    };
    let topo = match nettwin_model::load_file(std::path::Path::new(&path)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let v = Fixed(topo);
    let r1 = v.0.node_by_name("r1").expect("topology has r1").id;
    let d = ip("198.18.30.10");
    for (name, text) in [
        (
            "show ip ospf neighbor",
            render::show_ip_ospf_neighbor(&v, r1),
        ),
        ("show ip bgp summary", render::show_ip_bgp_summary(&v, r1)),
        ("show ip bgp", render::show_ip_bgp(&v, r1)),
        ("show ip route", render::show_ip_route(&v, r1)),
        ("show version", render::show_version(&v, r1)),
        ("ping", render::ping(&v.ping(r1, d, 5), d)),
        ("traceroute", render::traceroute(&v.traceroute(r1, d), d)),
    ] {
        println!("=== {name}");
        print!("{text}");
    }
}
