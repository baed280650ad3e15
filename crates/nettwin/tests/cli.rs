//! The `nettwin` binary as a user runs it: exit codes, messages, JSON.

mod common;
use common::*;

#[test]
fn check_summarises_a_valid_file() {
    let o = nettwin(&["check", "examples/campus.yml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "examples/campus.yml: ok\ncampus: 10 nodes (5 routers, 1 switch, 4 hosts), 10 links, 7 IP segments, 12 prefixes\n"
    );
}

#[test]
fn check_reports_every_error_with_place_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("nettwin-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.yml");
    std::fs::write(
        &file,
        "nodes:\n  r1: {mtu: 20}\n  r2: {kind: hub}\nlinks:\n  - [r1, r3]\n",
    )
    .unwrap();
    let o = nettwin(&["check", file.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let f = file.display();
    assert!(
        err.contains(&format!(
            "error: {f}:2:13: 20 is out of range 68..=65535 (at `nodes.r1.mtu`)"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("error: {f}:3:14: unknown kind `hub`")),
        "{err}"
    );
    assert!(
        err.contains(&format!("error: {f}:5:10: unknown node `r3` in link")),
        "{err}"
    );
    assert!(
        err.contains("5 |   - [r1, r3]\n  |          ^\n"),
        "snippet with a caret under r3:\n{err}"
    );
    assert!(err.ends_with(&format!("3 errors in {f}\n")), "{err}");
    assert!(stdout(&o).is_empty());
}

#[test]
fn missing_file_exits_2_with_its_name() {
    let o = nettwin(&["check", "no/such/file.yml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("error: cannot read no/such/file.yml: "),
        "{}",
        stderr(&o)
    );
}

#[test]
fn show_json_has_every_assigned_address() {
    let o = nettwin(&["show", "examples/leaf-spine.yml", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let nodes = v["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 14);
    assert_eq!(nodes[0]["name"], "spine1");
    assert_eq!(nodes[0]["asn"], 65000);
    assert_eq!(nodes[0]["loopback"]["ipv4"], "198.18.0.1/32");
    assert_eq!(nodes[0]["loopback"]["ipv6"], "2001:db8::1/128");
    assert_eq!(nodes[0]["interfaces"][0]["ipv4"], "198.19.0.0/31");
    assert_eq!(nodes[0]["interfaces"][0]["mtu"], 9000);
    for n in nodes.iter().filter(|n| n["kind"] == "host") {
        assert!(n["interfaces"][0]["ipv4"].is_string(), "{n}");
    }
}

#[test]
fn show_text_lists_interfaces_with_peers() {
    let o = nettwin(&["show", "examples/campus.yml"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("core1:eth3    198.19.255.2/30  -     1500  core1-isp1     isp1:eth1\n"),
        "{out}"
    );
}

#[test]
fn demo_runs_on_the_built_in_topology() {
    let o = nettwin(&["demo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("isp-dc: 17 nodes"), "{}", stdout(&o));
    let o = nettwin(&["demo", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["switches"], 2);
}

#[test]
fn routes_prints_show_ip_route_style_tables() {
    let o = nettwin(&[
        "routes",
        "examples/isp-dc.yml",
        "--node",
        "leaf1",
        "--prefix",
        "198.18.0.5/32",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // border's loopback is two equal-cost hops away through both spines.
    assert_eq!(
        stdout(&o),
        "leaf1 (router), 1 routes\nO     198.18.0.5/32 [110/2] via 198.19.0.16, eth1\n                            via 198.19.0.20, eth2\n\n"
    );
}

#[test]
fn routes_json_rows_have_the_documented_fields() {
    let o = nettwin(&[
        "routes",
        "examples/isp-dc.yml",
        "--node",
        "pe2",
        "--protocol",
        "bgp",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        assert_eq!(r["node"], "pe2");
        assert!(r["protocol"] == "ebgp" || r["protocol"] == "ibgp", "{r}");
        assert!(r["distance"].is_u64() && r["metric"].is_u64());
        assert!(r["next_hops"][0]["interface"].is_string(), "{r}");
    }
    let lan = rows
        .iter()
        .find(|r| r["prefix"] == "198.18.128.0/24")
        .expect("the web LAN");
    assert_eq!(lan["protocol"], "ibgp");
    assert_eq!(lan["bgp"]["next_hop"], "198.18.0.3");
    assert_eq!(lan["bgp"]["as_path"], serde_json::json!([65100]));
}

#[test]
fn explain_names_the_winner_and_the_reason() {
    let o = nettwin(&[
        "explain",
        "examples/isp-dc.yml",
        "--node",
        "border",
        "--prefix",
        "198.18.0.3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("border 198.18.0.3/32: 1 candidate(s)\n* B     198.18.0.3/32 [20/0] via 198.19.0.8, eth1"), "{out}");
    assert!(out.contains("from pe1      next hop 198.19.0.8"), "{out}");
}

#[test]
fn unknown_node_and_bad_prefix_exit_2() {
    let o = nettwin(&["routes", "examples/isp-dc.yml", "--node", "pe9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no node `pe9` in examples/isp-dc.yml (did you mean `pe1`?)"),
        "{}",
        stderr(&o)
    );
    let o = nettwin(&[
        "explain",
        "examples/isp-dc.yml",
        "--node",
        "pe1",
        "--prefix",
        "198.18.0.1/33",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--prefix"), "{}", stderr(&o));
}

#[test]
fn bgp_config_errors_have_places() {
    let dir = std::env::temp_dir().join(format!("nettwin-bgp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad-bgp.yml");
    std::fs::write(
        &file,
        "module: [bgp]\nnodes:\n  r1: {asn: 65000, bgp: {rr: maybe, originate: [198.18.1.1/24]}}\n",
    )
    .unwrap();
    let o = nettwin(&["routes", file.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(":3:30: expected true or false, found `maybe` (at `nodes.r1.bgp.rr`)"),
        "{err}"
    );
    assert!(
        err.contains(":3:49: invalid prefix: `198.18.1.1/24` has host bits set"),
        "{err}"
    );
}

#[test]
fn bench_cli_runs_concurrent_ssh_clients_against_the_routing_engine() {
    let o = nettwin(&["bench", "cli", "--clients", "3", "--rounds", "1", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["clients"], 3);
    assert_eq!(v["commands_per_client"], 3);
    assert!(v["sessions_per_sec"].as_f64().unwrap() > 0.0);
    // pe1's routing table and BGP summary are not empty.
    assert!(v["output_bytes"].as_u64().unwrap() > 3 * 2000, "{v}");
}
