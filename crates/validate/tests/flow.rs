//! How tests run (netlab's `validate` semantics): the checks on the section, waits, failure
//! barriers, warnings, selection, and what happens to arguments the twin cannot evaluate.

use nettwin_validate::{Report, Selection, Status, ValidateError};

const LAB: &str = "name: flow\nmodule: [ospf]\nnodes: {r1: {}, r2: {}}\nlinks: [r1-r2]\n";

fn topo(validate: &str) -> nettwin_model::Topology {
    nettwin_model::load_str("flow.yml", &format!("{LAB}validate:\n{validate}")).expect("loads")
}

fn run_sel(validate: &str, sel: &Selection) -> Result<Report, ValidateError> {
    let t = topo(validate);
    let routing = nettwin_routing::compute(&t).expect("routing");
    let tests = nettwin_validate::select(&t, sel)?;
    Ok(nettwin_validate::run(&t, &routing, &tests, None))
}

fn run(validate: &str) -> Report {
    run_sel(validate, &Selection::default()).expect("valid tests")
}

fn errors(validate: &str) -> Vec<String> {
    match run_sel(validate, &Selection::default()) {
        Err(ValidateError::Malformed(d)) => d.iter().map(|d| d.to_string()).collect(),
        other => panic!("expected errors, got {other:?}"),
    }
}

#[test]
fn a_malformed_section_is_reported_with_every_place() {
    let e = errors(
        "  a: {nodes: [r1]}\n  b: {show: x, nodes: [r1]}\n  c: {plugin: 'ping(\"r2\")'}\n  d: {nodes: [r9], plugin: x()}\n  e: {nodes: [r1], plugin: x(), exec: y}\n  f: {wait: 1, level: error, colour: red}\n  g: {valid: x, nodes: [r1]}\n  h: {wait: 1.5}\n",
    );
    assert_eq!(
        e,
        [
            "flow.yml:6:3: test `a` should have wait, show, exec, config, plugin, or suzieq option (at `validate.a`)",
            "flow.yml:7:3: test `b` has a `show` option but no `valid` option (at `validate.b`)",
            "flow.yml:8:3: test `c` must specify the nodes to execute the test on (at `validate.c`)",
            "flow.yml:9:15: unknown node `r9` (did you mean `r1`?) (at `validate.d.nodes[0]`)",
            "flow.yml:10:3: you cannot use exec,plugin in test `e`: use only one action per test (at `validate.e`)",
            "flow.yml:11:23: `level` can only be `warning` (at `validate.f.level`)",
            "flow.yml:11:30: unknown key `colour`; expected one of: description, fail, pass, wait, wait_msg, nodes, devices, exec, show, config, valid, suzieq, plugin, stop_on_error, level (at `validate.f.colour`)",
            "flow.yml:12:3: test `g` should have wait, show, exec, config, plugin, or suzieq option (at `validate.g`)",
            "flow.yml:13:13: `wait` is a number of seconds or the name of a `defaults.const.validate` constant (at `validate.h.wait`)",
        ]
    );
    assert!(matches!(
        run_sel("  []\n", &Selection::default()),
        Err(ValidateError::Malformed(_))
    ));
    let t = nettwin_model::load_str("flow.yml", LAB).unwrap();
    assert!(matches!(
        nettwin_validate::select(&t, &Selection::default()),
        Err(ValidateError::NoTests(_))
    ));
}

#[test]
fn waits_are_instant_and_a_barrier_stops_after_a_failure() {
    let r = run("  w: {wait: 30, wait_msg: settle}\n  bad: {nodes: [r1], plugin: \"ospf_neighbor('10.9.9.9')\"}\n  barrier: {wait: 0, stop_on_error: true}\n  never: {nodes: [r1], plugin: \"ping('r2')\"}\n");
    let names: Vec<(&str, Status)> = r
        .tests
        .iter()
        .map(|t| (t.name.as_str(), t.status))
        .collect();
    assert_eq!(
        names,
        [
            ("w", Status::Info),
            ("bad", Status::Fail),
            ("barrier", Status::Info)
        ]
    );
    assert_eq!(
        r.tests[0].message,
        "no wait (30 s in the lab): the twin converges instantly"
    );
    assert_eq!(
        r.stopped.as_deref(),
        Some("Validation failed due to previous errors")
    );
    assert_eq!(r.exit_code(), 1);

    // A passing run goes through the barrier.
    let r = run("  ok: {nodes: [r1], plugin: \"ping('r2')\"}\n  barrier: {wait: 0, stop_on_error: true, pass: all good}\n  more: {nodes: [r2], plugin: \"ping('r1')\"}\n");
    assert_eq!(r.tests.len(), 3);
    assert_eq!(r.tests[1].message, "all good");
    assert_eq!(r.exit_code(), 0);

    // A failed mandatory test stops the run.
    let r = run("  m: {nodes: [r1], stop_on_error: true, plugin: \"ping('10.99.0.1')\"}\n  next: {nodes: [r1], plugin: \"ping('r2')\"}\n");
    assert_eq!(r.tests.len(), 1);
    assert_eq!(
        r.stopped.as_deref(),
        Some("Mandatory test `m` failed, validation stopped")
    );
}

#[test]
fn warnings_skips_and_pass_fail_messages() {
    let r = run(concat!(
        "  warn: {nodes: [r1], level: warning, fail: not yet, plugin: \"ospf_prefix('192.0.2.0/24')\"}\n",
        "  cfg: {nodes: [r1], config: shut}\n",
        "  sq: {suzieq: bgp show}\n",
        "  ok: {nodes: [r1, r2], pass: both see each other, plugin: 'ospf_neighbor(nodes.r2.ospf.router_id if node.name == \"r1\" else nodes.r1.ospf.router_id)'}\n",
    ));
    let st: Vec<Status> = r.tests.iter().map(|t| t.status).collect();
    assert_eq!(
        st,
        [
            Status::Warning,
            Status::Skipped,
            Status::Skipped,
            Status::Pass
        ]
    );
    assert_eq!(
        r.tests[0].nodes[0].message,
        "not yet (The prefix 192.0.2.0/24 is not in the OSPF topology)"
    );
    assert_eq!(r.tests[3].message, "both see each other");
    assert_eq!(r.exit_code(), 3, "warnings only: netlab's status 3");
    assert_eq!(
        (r.counts.passed, r.counts.warnings, r.counts.skipped),
        (1, 1, 2)
    );
}

#[test]
fn arguments_the_twin_cannot_evaluate_skip_and_wrong_ones_fail() {
    let r = run(concat!(
        "  vrf: {nodes: [r1], plugin: ping(nodes.r2.vlans.red.ipv4)}\n",
        "  named: {nodes: [r1], plugin: bgp_prefix(prefix.beacon.ipv4)}\n",
        "  nobgp: {nodes: [r1], plugin: \"bgp_neighbor(node.bgp.neighbors,'r2')\"}\n",
        "  kw: {nodes: [r1], plugin: \"ping('r2',colour='red')\"}\n",
        "  chk: {nodes: [r1], plugin: \"ospf_prefix(nodes.r2.loopback.ipv4,foo=1)\"}\n",
        "  idx: {nodes: [r1], plugin: 'ping(nodes.r2.interfaces[5].ipv4)'}\n",
        "  syntax: {nodes: [r1], plugin: \"ping('r2'\"}\n",
        "  rid: {nodes: [r1], plugin: \"ospf_neighbor('r2')\"}\n",
    ));
    let got: Vec<(Status, &str)> = r
        .tests
        .iter()
        .map(|t| (t.status, t.nodes[0].message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                Status::Skipped,
                "ping(): `nodes.r2.vlans` refers to lab data nettwin does not model"
            ),
            (
                Status::Skipped,
                "bgp_prefix(): `prefix` refers to lab data nettwin does not keep"
            ),
            (Status::Fail, "bgp_neighbor(): node has no `bgp`"),
            (
                Status::Fail,
                "ping() got an unexpected keyword argument `colour`"
            ),
            (Status::Fail, "Invalid prefix check foo"),
            (
                Status::Fail,
                "ping(): nodes.r2.interfaces has no element 5 (it has 1)"
            ),
            (
                Status::Fail,
                "plugin: syntax error: expected `)` at the end"
            ),
            (
                Status::Fail,
                "OSPF router ID r2 is not a valid IPv4 address"
            ),
        ]
    );
}

#[test]
fn tests_and_nodes_are_selected_like_netlab() {
    let v = "  p1: {nodes: [r1, r2], plugin: \"ping('r1')\"}\n  p2: {nodes: [r2], plugin: \"ping('r1')\"}\n  q: {nodes: [r1], plugin: \"ping('r2')\"}\n";
    let sel = |tests: &[&str], nodes: &[&str]| Selection {
        tests: tests.iter().map(|s| s.to_string()).collect(),
        nodes: nodes.iter().map(|s| s.to_string()).collect(),
    };
    let r = run_sel(v, &sel(&["p.*"], &["r1"])).unwrap();
    let got: Vec<(&str, Vec<&str>)> = r
        .tests
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.nodes.iter().map(|n| n.node.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(got, [("p1", vec!["r1"])]);
    for (tests, nodes, msg) in [
        (
            vec!["zz"],
            vec![],
            "Invalid test name or regex expression zz",
        ),
        (vec![], vec!["r7"], "Invalid node name r7"),
    ] {
        match run_sel(v, &sel(&tests, &nodes)) {
            Err(ValidateError::Selection(m)) => assert_eq!(m, msg),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn two_drothers_on_a_lan_stay_in_two_way() {
    // Router ids 10.0.0.1..4: r4 is the DR, r3 the backup, r1 and r2 DROthers.
    let lab = "name: lan\nmodule: [ospf]\nnodes:\n  r1: {router_id: 10.0.0.1}\n  r2: {router_id: 10.0.0.2}\n  r3: {router_id: 10.0.0.3}\n  r4: {router_id: 10.0.0.4}\n  sw: {kind: switch}\nlinks: [r1-sw, r2-sw, r3-sw, r4-sw]\nvalidate:\n  dr: {nodes: [r1], plugin: \"ospf_neighbor('10.0.0.4')\"}\n  bdr: {nodes: [r1], plugin: \"ospf_neighbor('10.0.0.3')\"}\n  other: {nodes: [r1], plugin: \"ospf_neighbor('10.0.0.2')\"}\n";
    let t = nettwin_model::load_str("lan.yml", lab).expect("loads");
    let routing = nettwin_routing::compute(&t).expect("routing");
    let tests = nettwin_validate::select(&t, &Selection::default()).unwrap();
    let r = nettwin_validate::run(&t, &routing, &tests, None);
    let got: Vec<(Status, &str)> = r
        .tests
        .iter()
        .map(|t| (t.status, t.nodes[0].message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Status::Pass, "OSPFv2 neighbor 10.0.0.4 is in state Full/DR"),
            (
                Status::Pass,
                "OSPFv2 neighbor 10.0.0.3 is in state Full/Backup"
            ),
            (
                Status::Fail,
                "OSPFv2 neighbor 10.0.0.2 is in state 2-Way/DROther"
            ),
        ]
    );
}
