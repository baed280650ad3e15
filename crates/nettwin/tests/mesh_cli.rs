//! `nettwin mesh` as a user runs it, on examples/mesh.

mod common;
use common::*;

const POLICY: &str = "examples/mesh/policy.hujson";
const NODES: &str = "examples/mesh/nodes.yml";
const QUERIES: &str = "examples/mesh/queries.json";

#[test]
fn check_runs_the_example_tests() {
    let o = ok(nettwin(&["mesh", "check", POLICY, "--nodes", NODES]));
    assert!(
        stdout(&o).contains("9 assertions, 9 passed, 0 failed"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn failing_tests_name_the_assertion_and_exit_1() {
    let dir = TempDir::new("mesh-fail");
    let text =
        std::fs::read_to_string(format!("{}/../../{POLICY}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let text = text.replace(
        r#"{"src": "bob@example.com", "deny": ["tag:db:5432"]},"#,
        r#"{"src": "bob@example.com", "accept": ["tag:db:5432", "tag:server:80-90"]},"#,
    );
    std::fs::write(dir.file("p.hujson"), text).unwrap();
    let o = nettwin(&["mesh", "check", &dir.file("p.hujson"), "--nodes", NODES]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("tests[1] bob@example.com -> tag:db:5432: expected accept, denied"),
        "{out}"
    );
    assert!(out.contains("single port"), "{out}");
}

#[test]
fn queries_print_the_issue_json_shape() {
    let o = ok(nettwin(&[
        "mesh",
        "check",
        POLICY,
        "--nodes",
        NODES,
        "--queries",
        QUERIES,
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert!(v["error"].is_null());
    assert_eq!(v["tests"]["pass"], true);
    let allowed: Vec<bool> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["allowed"].as_bool().unwrap())
        .collect();
    assert_eq!(allowed, vec![false, false, true, false, true, false, true]);
    assert_eq!(v["checks"][2]["rule"], "acls[0]");
    assert_eq!(v["ssh_checks"][0]["result"], "check");
    assert_eq!(v["ssh_checks"][2]["result"], "deny");
}

#[test]
fn a_refused_policy_is_invalid_with_the_reason() {
    let dir = TempDir::new("mesh-bad");
    std::fs::write(
        dir.file("p.hujson"),
        "{\n \"grants\": [{\"src\": [\"*\"], \"dst\": [\"0.0.0.0/0\"], \"ip\": [\"*\"]}],\n}\n",
    )
    .unwrap();
    let o = nettwin(&[
        "mesh",
        "check",
        &dir.file("p.hujson"),
        "--nodes",
        NODES,
        "--queries",
        QUERIES,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let e = v["error"].as_str().unwrap();
    assert!(
        e.contains("p.hujson:2:")
            && e.contains("to allow all IP addresses, use \"*\" or \"autogroup:internet\""),
        "{e}"
    );
}

#[test]
fn can_matrix_and_filter() {
    let o = ok(nettwin(&[
        "mesh",
        "can",
        POLICY,
        "--nodes",
        NODES,
        "--from",
        "alice@example.com",
        "--to",
        "db:5432",
    ]));
    let out = stdout(&o);
    assert!(
        out.starts_with("DENIED alice@example.com -> db:5432 (tcp)"),
        "{out}"
    );
    assert!(
        out.contains("posture failed: posture:healthy: node:os IN ('macos', 'linux')"),
        "{out}"
    );
    assert!(out.contains("policy.hujson:31"), "{out}");
    let o = ok(nettwin(&["mesh", "matrix", POLICY, "--nodes", NODES]));
    assert!(
        stdout(&o).contains("web1         db           tcp:5432 icmp"),
        "{}",
        stdout(&o)
    );
    let o = ok(nettwin(&[
        "mesh",
        "filter",
        POLICY,
        "office-gw1",
        "--nodes",
        NODES,
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["rules"][0]["DstPorts"][0], "192.168.10.0/24:*");
    assert_eq!(v["routes"][0], "192.168.10.0/24");
}
