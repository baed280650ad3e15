//! `nettwin trace`, `pmtu`, `reach` and `whatif` as a user runs them: exit codes, text, JSON.

mod common;
use common::*;
use std::process::Output;

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("valid JSON")
}

#[test]
fn trace_text_shows_hops_and_the_disposition() {
    let o = nettwin(&[
        "trace",
        "examples/isp-dc.yml",
        "--from",
        "client1",
        "--to",
        "web1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("trace client1 ("), "{out}");
    assert!(out.contains("ce1 in eth2 [ebgp 198.18.128.0/24]"), "{out}");
    assert!(out.contains("via sw1(eth1 1500 -> eth2 1500)"), "{out}");
    assert!(out.contains("branch 2/2:"), "{out}");
    assert_eq!(out.matches("=> DELIVERED at web1").count(), 2, "{out}");
}

#[test]
fn trace_shows_802_1q_tags_on_trunks_and_subinterfaces() {
    let o = nettwin(&["trace", "examples/vlan.yml", "--from", "h1", "--to", "h5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("via s1(eth2 1500 -> eth1[tag 1000] 1500) via s2(eth1[tag 1000] 1500 -> eth4[tag 1000] 1500) via r1(eth1[tag 1000] 1500 -> vlan1000 1500)"),
        "{out}"
    );
    assert!(
        out.contains("out eth2.1001 (mtu 1500) tag 1001 arp"),
        "{out}"
    );
    assert!(out.contains("=> DELIVERED at h5"), "{out}");
    let v = json(&nettwin(&[
        "trace",
        "examples/vlan.yml",
        "--from",
        "h1",
        "--to",
        "h4",
        "--json",
    ]));
    let bridges = &v["branches"][0]["hop"]["resolution"]["bridges"];
    assert_eq!(bridges[0]["out_tag"], 1000, "{v}");
    assert!(
        bridges[0].get("in_tag").is_none(),
        "an access port is untagged: {v}"
    );
}

#[test]
fn trace_json_is_a_tree_with_ends() {
    let v = json(&nettwin(&[
        "trace",
        "examples/isp-dc.yml",
        "--from",
        "client1",
        "--to",
        "web2",
        "--size",
        "1500",
        "--df",
        "--json",
    ]));
    assert_eq!(v["from"], "client1");
    assert_eq!(v["probe"]["size"], 1500);
    let first = &v["branches"][0];
    assert_eq!(first["hop"]["node"], "client1");
    // Walk down the first child of each level to an end.
    let mut n = first;
    while n["end"].is_null() {
        n = &n["next"][0];
    }
    assert_eq!(n["end"]["disposition"], "dropped-by-mtu");
    assert_eq!(n["end"]["at"], "sw1");
    assert_eq!(n["end"]["mtu"], 1400);
}

#[test]
fn trace_flow_hash_gives_one_path() {
    let v = json(&nettwin(&[
        "trace",
        "examples/isp-dc.yml",
        "--from",
        "border",
        "--to",
        "leaf1",
        "--proto",
        "udp",
        "--dport",
        "53",
        "--flow-hash",
        "--json",
    ]));
    assert_eq!(v["branches"].as_array().unwrap().len(), 1);
    assert_eq!(v["probe"]["dport"], 53);
}

#[test]
fn trace_bad_input_exits_2() {
    let o = nettwin(&[
        "trace",
        "examples/isp-dc.yml",
        "--from",
        "clinet1",
        "--to",
        "web1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did you mean `client1`"),
        "{}",
        stderr(&o)
    );
    let o = nettwin(&[
        "trace",
        "examples/isp-dc.yml",
        "--from",
        "sw1",
        "--to",
        "web1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = nettwin(&[
        "trace",
        "examples/isp-dc.yml",
        "--from",
        "client1",
        "--to",
        "web1",
        "--size",
        "10",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = nettwin(&[
        "trace",
        "examples/isp-dc.yml",
        "--from",
        "client1:198.18.0.1",
        "--to",
        "web1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not an address of client1"),
        "{}",
        stderr(&o)
    );
    let o = nettwin(&[
        "trace",
        "examples/isp-dc.yml",
        "--from",
        "client1:198.18.129.2",
        "--to",
        "2001:db8::1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("different families"), "{}", stderr(&o));
    let o = nettwin(&["trace", "no/such.yml", "--from", "a", "--to", "b"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn pmtu_flags_the_black_hole_of_the_demo_network() {
    let o = nettwin(&[
        "pmtu",
        "examples/isp-dc.yml",
        "--from",
        "client1",
        "--to",
        "web2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(": 1400\n"), "{out}");
    assert!(out.contains("BLACK HOLE at sw1:eth3 (MTU 1400)"), "{out}");
    let v = json(&nettwin(&[
        "pmtu",
        "examples/isp-dc.yml",
        "--from",
        "client1",
        "--to",
        "web1",
        "--json",
    ]));
    assert_eq!(v["path_mtu"], 1500);
    assert_eq!(v["black_holes"].as_array().unwrap().len(), 0);
}

#[test]
fn reach_json_summarises_and_lists_failures() {
    let v = json(&nettwin(&["reach", "examples/isp-dc.yml", "--json"]));
    assert_eq!(v["summary"]["pairs"], 420);
    // Loopbacks that routers advertise over iBGP with themselves as next hop are never passed
    // to other ASes (FRR agrees: `nettwin emu verify examples/isp-dc.yml --routes frr`).
    assert_eq!(v["summary"]["failed"], 122);
    assert_eq!(v["summary"]["by_disposition"]["no-route"], 122);
    let v = json(&nettwin(&[
        "reach",
        "examples/isp-dc.yml",
        "--size",
        "1500",
        "--json",
    ]));
    // At 1500 bytes, 56 pairs to or from web2 die at its 1400-byte port or interface; 6 of them
    // had no route anyway, so no-route falls to 116.
    assert_eq!(v["summary"]["failed"], 172);
    assert_eq!(v["summary"]["by_disposition"]["dropped-by-mtu"], 56);
    assert_eq!(v["failed"].as_array().unwrap().len(), 172);
    let o = nettwin(&["reach", "examples/campus.yml"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("no-route"), "{}", stdout(&o));
}

#[test]
fn whatif_diffs_and_ranks() {
    let v = json(&nettwin(&[
        "whatif",
        "examples/isp-dc.yml",
        "--fail",
        "pe1-border",
        "--json",
    ]));
    assert!(!v["lost"].as_array().unwrap().is_empty());
    assert!(v["routes"]["removed"].as_u64().unwrap() > 0);
    let v = json(&nettwin(&[
        "whatif",
        "examples/isp-dc.yml",
        "--all-single-failures",
        "--json",
    ]));
    let ranking = v.as_array().unwrap();
    assert_eq!(ranking[0]["name"], "pe1-border");
    let o = nettwin(&["whatif", "examples/isp-dc.yml", "--mtu", "sw1-web2=1500"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("0 lost, 50 gained"), "{}", stdout(&o));
}

#[test]
fn whatif_bad_input_exits_2() {
    for args in [
        &["whatif", "examples/isp-dc.yml", "--fail", "pe1-p9"][..],
        &["whatif", "examples/isp-dc.yml"][..],
        &["whatif", "examples/isp-dc.yml", "--mtu", "pe1-p1"][..],
        &["whatif", "examples/isp-dc.yml", "--mtu", "pe1-p1=20"][..],
        &[
            "whatif",
            "examples/isp-dc.yml",
            "--all-single-failures",
            "--fail",
            "pe1",
        ][..],
    ] {
        let o = nettwin(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    }
}

/// MPLS from the command line: `routes --labels` (text and JSON), a trace with label stacks,
/// and `explain` naming the label source (examples/mpls-sr.yml, docs/lsp.md).
#[test]
fn labels_in_routes_trace_and_explain() {
    let o = nettwin(&[
        "routes",
        "examples/mpls-sr.yml",
        "--node",
        "pe1",
        "--labels",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("pe1 (cisco-xe, ldp, sr srgb 16000-23999), "),
        "{out}"
    );
    assert!(
        out.contains("Local  Outgoing   Prefix or Tunnel Id"),
        "{out}"
    );
    assert!(out.contains("label imposition:"), "{out}");
    let v = json(&nettwin(&[
        "routes",
        "examples/mpls-sr.yml",
        "--node",
        "pe1",
        "--labels",
        "--json",
    ]));
    let lfib = v["lfib"].as_array().unwrap();
    assert!(lfib
        .iter()
        .any(|e| e["source"] == "sr" && e["in_label"] == 16006));
    let bgp = v["imposition"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["prefix"] == "198.18.0.9/32")
        .expect("x1's loopback, a BGP route, is labelled");
    assert_eq!(bgp["fec"], "198.18.0.2/32");
    assert_eq!(bgp["source"], "ldp");
    assert!(bgp["reason"]
        .as_str()
        .unwrap()
        .starts_with("BGP next hop 198.18.0.2"));

    let o = nettwin(&[
        "trace",
        "examples/mpls-sr.yml",
        "--from",
        "h1",
        "--to",
        "x1",
    ]);
    let out = stdout(&o);
    assert!(out.contains("pe1 in eth2 [ibgp 198.18.0.9/32]"), "{out}");
    assert!(
        out.contains("push -> [24001] label-ttl 63 (ldp 198.18.0.2/32)"),
        "{out}"
    );
    assert!(
        out.contains("labels [24001] pop (ldp 198.18.0.2/32)"),
        "{out}"
    );
    assert_eq!(out.matches("=> DELIVERED at x1").count(), 2, "{out}");

    let o = nettwin(&[
        "explain",
        "examples/mpls-sr.yml",
        "--node",
        "pe1",
        "--prefix",
        "198.18.0.9/32",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("labels: ldp via 198.18.0.2/32: push 24001 out eth1"),
        "{out}"
    );
}

#[test]
fn vrf_tables_and_traces_name_the_table_used() {
    let o = nettwin(&[
        "routes",
        "examples/vrf-lite.yml",
        "--node",
        "r3",
        "--vrf",
        "blue",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("r3 (router), vrf blue (table 100), 4 routes"),
        "{out}"
    );
    assert!(
        out.contains("B     198.18.100.1/32 [20/0] via 198.18.10.1, eth1"),
        "{out}"
    );
    // r3 reaches the red loopback r1 leaked into blue; the lookups happen in blue.
    let o = nettwin(&[
        "trace",
        "examples/vrf-lite.yml",
        "--from",
        "r3",
        "--vrf",
        "blue",
        "--to",
        "198.18.100.1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(" 1  r3 vrf blue [ebgp 198.18.100.1/32]"),
        "{out}"
    );
    assert!(
        out.contains(" 2  r1 vrf blue in eth2 [ebgp 198.18.100.1/32]"),
        "{out}"
    );
    assert!(out.contains("=> DELIVERED at r1"), "{out}");
    let o = nettwin(&[
        "routes",
        "examples/vrf-lite.yml",
        "--node",
        "r2",
        "--vrf",
        "blue",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--vrf blue: r2 has no VRF blue; its VRFs are: red"),
        "{}",
        stderr(&o)
    );
}

/// TE from the command line on examples/mpls-te.yml: `routes --labels` lists the tunnel and
/// its whole SID list, `explain` says which steering rule (colour-only bits) applied, and
/// `whatif --fail` reports tunnels rerouted or down and the prefixes that left them.
#[test]
fn te_tunnels_in_routes_explain_and_whatif() {
    let o = nettwin(&[
        "routes",
        "examples/mpls-te.yml",
        "--node",
        "pe1",
        "--labels",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("198.18.201.0/24  16004/16005  sr-te gold          198.18.0.5/32"),
        "{out}"
    );
    assert!(out.contains("rsvp-te tunnel-te1"), "{out}");
    let o = nettwin(&[
        "explain",
        "examples/mpls-te.yml",
        "--node",
        "pe1",
        "--prefix",
        "198.18.202.0/24",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("match SR policy any200 by CO=01: no policy for the next hop; the null-endpoint policy of the colour"),
        "{out}"
    );
    let o = nettwin(&["whatif", "examples/mpls-te.yml", "--fail", "p3-p4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("  pe1 gold: up, path option 1: pe1 p3 p4 pe2 => down: path option 1: no path from pe1 to pe2 meets the constraints"),
        "{out}"
    );
    assert!(
        out.contains("  pe1 198.18.201.0/24: tunnel gold => ldp LSP to 198.18.0.5/32"),
        "{out}"
    );
    let v = json(&nettwin(&[
        "whatif",
        "examples/mpls-te.yml",
        "--fail",
        "p3-p4",
        "--json",
    ]));
    assert_eq!(v["te"]["tunnels"].as_array().unwrap().len(), 2);
}
