//! The example labs in `examples/netlab/validate/` run with the results their comments
//! promise: every plugin passes where the lab is built for it and fails where it is broken by
//! design, and what the twin cannot answer is skipped with the reason.

use nettwin_model::NodeId;
use nettwin_validate::{Cli, Report, Selection, Status};
use std::collections::BTreeMap;

fn lab(file: &str) -> nettwin_model::Topology {
    let path = format!(
        "{}/../../examples/netlab/validate/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    nettwin_model::load_file(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// A CLI that answers `show ip bgp summary` with a fixed IOS-like printout.
struct FakeCli;

impl Cli for FakeCli {
    fn run(&self, _node: NodeId, command: &str) -> Result<String, String> {
        match command {
            "show ip bgp summary" => Ok("BGP router identifier 10.0.0.4, local AS number 65101\n\nNeighbor        V           AS MsgRcvd MsgSent   TblVer  InQ OutQ Up/Down  State/PfxRcd\n10.1.0.4        4        65000      14      10        1    0    0 00:00:00        4\n".into()),
            _ => Err("unknown".into()),
        }
    }
}

fn run(file: &str) -> Report {
    let topo = lab(file);
    let routing = nettwin_routing::compute(&topo).expect("routing");
    let tests = nettwin_validate::select(&topo, &Selection::default()).expect("valid tests");
    nettwin_validate::run(&topo, &routing, &tests, Some(&FakeCli))
}

fn statuses(r: &Report) -> BTreeMap<&str, Status> {
    r.tests
        .iter()
        .map(|t| (t.name.as_str(), t.status))
        .collect()
}

fn message<'a>(r: &'a Report, test: &str, node: &str) -> &'a str {
    let t = r.tests.iter().find(|t| t.name == test).expect("test");
    &t.nodes
        .iter()
        .find(|n| n.node == node)
        .expect("node")
        .message
}

fn expect(r: &Report, want: &[(&str, Status)]) {
    let got = statuses(r);
    let want: BTreeMap<&str, Status> = want.iter().copied().collect();
    assert_eq!(got, want, "{r:#?}");
}

#[test]
fn ospf_neighbours_prefixes_routes_and_pings() {
    use Status::*;
    let r = run("ospf.yml");
    expect(
        &r,
        &[
            ("wait", Info),
            ("adj", Pass),
            ("adj_mismatch", Fail),
            ("no_adj", Pass),
            ("lb_intra", Pass),
            ("lb_inter", Pass),
            ("lb_wrong_cost", Fail),
            ("gone", Pass),
            ("rt", Pass),
            ("ping", Pass),
            ("ping_lb", Pass),
            ("vtysh", Skipped),
        ],
    );
    assert_eq!(
        message(&r, "adj_mismatch", "r1"),
        "There is no OSPFv2 neighbor 198.18.0.3 (r1 eth2 - r3 eth2: area mismatch: 0.0.0.0 on r1, 0.0.0.1 on r3)"
    );
    assert_eq!(
        message(&r, "adj", "r3"),
        "OSPFv2 neighbor 198.18.0.2 is in state Full/-"
    );
    assert_eq!(
        message(&r, "lb_inter", "r3"),
        "The prefix 198.18.0.1/32 is in the OSPF topology with cost=20,route type=N IA"
    );
    assert_eq!(
        message(&r, "lb_wrong_cost", "r3"),
        "There is no path to 198.18.0.1/32 in the OSPF topology with cost=42"
    );
    assert_eq!(
        message(&r, "ping", "h1"),
        "Ping to r3 (198.18.0.3) succeeded"
    );
    let c = &r.counts;
    assert_eq!((c.passed, c.failed, c.skipped, c.warnings), (8, 2, 1, 0));
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn bgp_sessions_prefixes_attributes_and_device_commands() {
    use Status::*;
    let r = run("bgp.yml");
    expect(
        &r,
        &[
            ("ibgp", Pass),
            ("ebgp", Pass),
            ("ebgp_v6", Pass),
            ("shut", Fail),
            ("shut_expected", Pass),
            ("evpn", Skipped),
            ("prefix", Pass),
            ("reflect", Pass),
            ("attrs", Pass),
            ("community", Pass),
            ("best", Pass),
            ("wrong_path", Fail),
            ("lb_v6", Pass),
            ("no_x2", Pass),
            ("large", Skipped),
            ("rib", Pass),
            ("ping", Pass),
            ("ping_x2", Pass),
            ("summary", Pass),
            ("frr_json", Skipped),
            ("linux", Skipped),
        ],
    );
    assert_eq!(
        message(&r, "shut", "r2"),
        "The EBGP session with x2 is not established (The neighbor 10.1.0.14 (x2)  is in state Idle (Admin) (expected Established); administratively shut down)"
    );
    assert_eq!(
        message(&r, "reflect", "r2"),
        "The prefix 172.42.42.0/24 is in the BGP table with BGP router ID=10.0.0.1,RR cluster ID=10.0.0.42"
    );
    assert_eq!(
        message(&r, "attrs", "r2"),
        "The prefix 172.42.42.0/24 is in the BGP table with AS path=65101,BGP local preference=150,BGP MED=42"
    );
    assert_eq!(
        message(&r, "wrong_path", "r2"),
        "No path to prefix 172.42.42.0/24 has AS-path 65000 65101 (found 65101)"
    );
    assert_eq!(
        message(&r, "ping_x2", "r1"),
        "Ping to x2 (10.0.0.5) failed as expected (no-route at r1)"
    );
    assert!(message(&r, "frr_json", "x1").starts_with("`show` reads a device's JSON printout"));
    assert!(message(&r, "linux", "r1").contains("written for linux"));
}

#[test]
fn isis_neighbours_levels_prefixes_and_linux_routes() {
    use Status::*;
    let r = run("isis.yml");
    expect(
        &r,
        &[
            ("adj", Pass),
            ("adj_l1", Fail),
            ("passive", Fail),
            ("not_r3", Pass),
            ("pfx", Pass),
            ("pfx_cost", Pass),
            ("pfx_v6", Pass),
            ("pfx_l1", Fail),
            ("ping", Pass),
            ("ping_v6", Pass),
            ("def6", Pass),
            ("route", Pass),
            ("custom", Skipped),
            ("comprehension", Skipped),
        ],
    );
    assert_eq!(
        message(&r, "adj_l1", "r1"),
        "Invalid IS-IS level for neighbor r2: expected L1 found L2"
    );
    assert_eq!(
        message(&r, "passive", "r1"),
        "No IS-IS neighbor with ID r3 (r1 eth2 - r3 eth2: an interface is passive)"
    );
    assert_eq!(
        message(&r, "ping_v6", "h1"),
        "Ping to ipv6 h3 (2001:db8:2:1::5) size 1400 succeeded"
    );
}

#[test]
fn vrf_checks_look_at_one_routing_instance() {
    use Status::*;
    let r = run("vrf.yml");
    expect(
        &r,
        &[
            ("red_adj", Pass),
            // The red link r1-r2 counted in the global table made this fail.
            ("no_global_r2", Pass),
            ("global_adj", Pass),
            ("no_global_r3", Pass),
            ("blue_ospf", Fail),
            ("no_such_vrf", Fail),
            ("blue_session", Pass),
            ("leaked", Pass),
            ("not_global", Fail),
            ("blue_no_bgp_vrf", Fail),
        ],
    );
    assert_eq!(
        message(&r, "red_adj", "r1"),
        "OSPFv2 neighbor 198.18.0.2 is in state Full/-"
    );
    assert_eq!(
        message(&r, "blue_ospf", "r1"),
        "There is no OSPFv2 neighbor 198.18.0.3 (r3 vrf blue does not run OSPF)"
    );
    assert_eq!(
        message(&r, "no_such_vrf", "r2"),
        "There is no OSPFv2 neighbor 198.18.0.1 (r2 has no VRF blue)"
    );
    assert_eq!(
        message(&r, "blue_session", "r3"),
        "Neighbor 198.18.1.5 (r1) is in state Established"
    );
    assert_eq!(
        message(&r, "leaked", "r3"),
        "The prefix 198.18.100.1/32 is in the BGP table with AS path=65001"
    );
    assert_eq!(
        message(&r, "blue_no_bgp_vrf", "r2"),
        "There are no BGP route entries in VRF blue"
    );
}
