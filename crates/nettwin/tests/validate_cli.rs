//! `nettwin validate`: netlab's layout, JSON, test/node selection and the exit statuses
//! (0 pass or skipped, 1 a failure, 3 warnings only, 2 a malformed `validate:` section).

mod common;
use common::*;

const OSPF: &str = "examples/netlab/validate/ospf.yml";

#[test]
fn passing_tests_exit_zero_and_print_netlab_style() {
    let o = ok(nettwin(&[
        "validate", OSPF, "adj", "ping", "vtysh", "--node", "r1,h1",
    ]));
    assert_eq!(
        stdout(&o),
        "[adj]     OSPF adjacencies with r2 [ node(s): r1 ]
[PASS]    r1: OSPFv2 neighbor 198.18.0.2 is in state Full/-
[PASS]    Test succeeded (no wait (`ospfv2_adj_p2p` in the lab): the twin converges instantly)

[ping]    End-to-end ping from the host [ node(s): h1 ]
[PASS]    h1: Ping to r3 (198.18.0.3) succeeded
[PASS]    Test succeeded

[vtysh]   FRR's own printout, a shell command the twin does not answer [ node(s): r1 ]
[SKIPPED] r1: `exec: vtysh -c 'show ip ospf neighbor'` is not a device CLI show command nettwin answers

[SUCCESS] Tests passed: 2
[INFO]    One test skipped: the twin cannot answer it (see the reasons above)
"
    );
}

#[test]
fn a_failed_test_exits_one_and_json_lists_every_result() {
    let o = nettwin(&["validate", OSPF]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("[FAIL]          10 tests completed, 2 tests failed\n"));

    let o = nettwin(&["validate", OSPF, "--json", "adj_mismatch|gone"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        v["counts"],
        serde_json::json!({"passed": 1, "failed": 1, "warnings": 0, "skipped": 0})
    );
    assert_eq!(v["tests"][0]["name"], "adj_mismatch");
    assert_eq!(v["tests"][0]["status"], "fail");
    assert_eq!(
        v["tests"][0]["action"],
        "plugin: ospf_neighbor(nodes.r3.ospf.router_id)"
    );
    assert_eq!(v["tests"][0]["nodes"][0]["node"], "r1");
    assert!(v["tests"][0]["nodes"][0]["message"]
        .as_str()
        .unwrap()
        .contains("area mismatch"));
    assert_eq!(v["tests"][1]["nodes"].as_array().unwrap().len(), 2);
}

#[test]
fn warnings_exit_three_and_malformed_sections_exit_two() {
    let dir = TempDir::new("validate");
    let lab = "name: w\nmodule: [ospf]\nnodes: {r1: {}, r2: {}}\nlinks: [r1-r2]\nvalidate:\n";
    let warn = dir.dir().join("warn.yml");
    std::fs::write(
        &warn,
        format!("{lab}  later:\n    nodes: [r1]\n    level: warning\n    plugin: ospf_prefix('192.0.2.0/24')\n"),
    )
    .unwrap();
    let o = nettwin(&["validate", warn.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert!(stdout(&o).contains("[WARNING] One test out of one test generated a warning\n"));

    let bad = dir.dir().join("bad.yml");
    std::fs::write(
        &bad,
        format!("{lab}  t:\n    nodes: [r3]\n    plugin: ping('r2')\n"),
    )
    .unwrap();
    let o = nettwin(&["validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains(
            "bad.yml:7:13: unknown node `r3` (did you mean `r1`?) (at `validate.t.nodes[0]`)"
        ),
        "{e}"
    );
    assert!(e.contains("7 |     nodes: [r3]"), "{e}");

    let none = dir.dir().join("none.yml");
    std::fs::write(&none, "nodes: {r1: {}}\n").unwrap();
    let o = nettwin(&["validate", none.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("the lab has no `validate` section"));
}

#[test]
fn list_shows_the_tests_without_running_them() {
    let o = ok(nettwin(&["validate", OSPF, "--list", "adj.*"]));
    let out = stdout(&o);
    assert!(out.contains("adj_mismatch"), "{out}");
    assert!(!out.contains("lb_intra"), "{out}");
}
