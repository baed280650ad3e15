//! `show ip route vrf NAME` and `show vrf` on `examples/vrf-lite.yml`: one VRF's table in the
//! global table's layout, and the VRFs with their RDs and interfaces.

use nettwin_cli::session::{Session, SessionOptions};
use nettwin_cli::{ModelTwin, Twin};
use std::sync::Arc;

fn twin() -> Arc<dyn Twin> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/vrf-lite.yml");
    let topo = nettwin_model::load_file(std::path::Path::new(path)).expect("vrf-lite loads");
    Arc::new(ModelTwin::with_routing(topo).expect("converges"))
}

/// The output of one command at `node`'s privileged prompt, without the echo and prompt.
fn run(twin: &Arc<dyn Twin>, node: &str, command: &str) -> String {
    let id = twin.view().topology().node_by_name(node).unwrap().id;
    let mut s = Session::new(
        twin.clone(),
        id,
        SessionOptions {
            privileged: true,
            ..Default::default()
        },
    );
    s.start();
    s.feed(b"terminal length 0\r");
    let out =
        String::from_utf8_lossy(&s.feed(format!("{command}\r").as_bytes())).replace("\r\n", "\n");
    let body = out.strip_prefix(&format!("{command}\n")).unwrap_or(&out);
    body.strip_suffix(&format!("{node}#"))
        .unwrap_or(body)
        .to_string()
}

#[test]
fn show_ip_route_vrf_prints_one_vrfs_table() {
    let t = twin();
    let out = run(&t, "r3", "show ip route vrf blue");
    assert!(
        out.starts_with("\nRouting Table: blue\nCodes: L - local"),
        "{out}"
    );
    let body: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Gateway"))
        .collect();
    assert_eq!(body[0], "Gateway of last resort is not set", "{out}");
    // r1's red loopback, leaked into blue on r1, arrives over blue's eBGP; r3's global
    // loopback is not in blue's table.
    assert!(
        out.contains("B        198.18.100.1 [20/0] via 198.18.10.1,"),
        "{out}"
    );
    assert!(
        out.contains("C        198.18.10.0/30 is directly connected, GigabitEthernet0/1"),
        "{out}"
    );
    assert!(!out.contains("198.18.0.3"), "{out}");
    // VRFs reuse 198.18.10.1 on r1: blue's local route names blue's interface.
    let r1 = run(&t, "r1", "show ip route vrf blue");
    assert!(
        r1.contains("L        198.18.10.1/32 is directly connected, GigabitEthernet0/2"),
        "{r1}"
    );
    // The global table does not hold the VRF's routes.
    let global = run(&t, "r3", "show ip route");
    assert!(!global.contains("198.18.100.1"), "{global}");
    assert_eq!(
        run(&t, "r2", "sh ip ro vrf blue"),
        "% IP routing table blue does not exist\n"
    );
}

#[test]
fn show_vrf_lists_rd_protocols_and_interfaces() {
    let t = twin();
    let out = run(&t, "r1", "show vrf");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "  Name                             Default RD            Protocols   Interfaces"
    );
    assert_eq!(
        lines[1],
        "  blue                             65000:2               ipv4        Gi0/2"
    );
    assert_eq!(lines[2], format!("{:69}Gi0/4", ""));
    assert!(
        lines[3].starts_with(
            "  red                              65000:1               ipv4        Gi0/1"
        ),
        "{out}"
    );
    assert_eq!(run(&t, "r2", "show vrf").lines().count(), 2);
}
