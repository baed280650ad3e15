//! The points of Tailscale's semantics that are easy to get wrong, each pinned by a fixture
//! written from Tailscale's documentation and the control-plane answers Headscale's policy
//! tests record (see docs/mesh.md for the source of each rule).

use nettwin_access::check::Who;
use nettwin_access::policy::{ICMP, TCP, UDP};
use nettwin_access::{load, Tailnet};

const NODES: &str = r#"
- {name: alice-laptop, user: alice@example.com, os: macos, posture: {"node:tsVersion": "1.62.0"}}
- {name: alice-phone, user: alice@example.com, os: ios}
- {name: bob-laptop, user: bob@example.com, os: linux, posture: {"node:tsVersion": "1.40.0"}}
- {name: server, user: null, tags: ["tag:server"]}
- {name: router1, user: null, tags: ["tag:router"], routes: [10.1.0.0/24]}
- {name: router2, user: null, tags: ["tag:router"], routes: [10.1.0.0/24], primary_routes: [10.1.0.0/24]}
- {name: exit1, user: null, tags: ["tag:exit"], advertised_routes: [0.0.0.0/0, "::/0"]}
- {name: ra, user: null, tags: ["tag:ra"], routes: [10.44.0.0/16]}
- {name: rb, user: null, tags: ["tag:rb"], routes: [10.44.0.0/16]}
"#;

const HEAD: &str = r#"
  "groups": {"group:eng": ["alice@example.com"], "group:ops": ["bob@example.com"]},
  "tagOwners": {"tag:server": [], "tag:router": [], "tag:exit": [], "tag:ra": [], "tag:rb": []},
  "hosts": {"lan": "10.1.0.0/24", "printer": "10.1.0.7", "outside": "100.100.0.9"},
"#;

fn net(body: &str) -> Tailnet {
    let text = format!("{{{HEAD}{body}}}");
    match load("policy.hujson", &text, "nodes.yml", NODES) {
        Ok(t) => t,
        Err(e) => panic!("{e}\n{text}"),
    }
}

fn can(t: &Tailnet, from: &str, to: &str, proto: u8) -> nettwin_access::CanAnswer {
    let who = t.who(from).unwrap();
    let tg = t
        .target(to, Some(&nettwin_access::policy::proto_name(proto)))
        .unwrap();
    t.can(from, &who, &tg, None, None)
}

fn filter_srcs(t: &Tailnet, node: &str) -> Vec<String> {
    t.filter(t.device(node).unwrap())
        .rules
        .iter()
        .flat_map(|r| r.src.clone())
        .collect()
}

#[test]
fn no_acls_and_no_grants_allow_everything() {
    let t = net(r#""ssh": []"#);
    assert!(can(&t, "bob-laptop", "server:22", TCP).allowed);
    assert!(can(&t, "server", "alice-laptop:5432", UDP).allowed);
}

#[test]
fn empty_grants_without_acls_deny_everything() {
    let t = net(r#""grants": []"#);
    let a = can(&t, "bob-laptop", "server:22", TCP);
    assert!(!a.allowed);
    assert!(t.filter(t.device("server").unwrap()).rules.is_empty());
    let t = net(r#""acls": []"#);
    assert!(!can(&t, "bob-laptop", "server:22", TCP).allowed);
}

#[test]
fn wildcard_source_is_tailnet_plus_approved_subnets_never_exit_routes() {
    let t = net(r#""acls": [{"action": "accept", "src": ["*"], "dst": ["tag:server:22"]}]"#);
    let srcs = filter_srcs(&t, "server");
    assert_eq!(
        srcs,
        vec![
            "10.1.0.0/24",
            "10.44.0.0/16",
            "100.64.0.0-100.115.91.255",
            "100.115.94.0-100.127.255.255",
            "fd7a:115c:a1e0::/48"
        ]
    );
    assert!(!srcs.iter().any(|s| s.contains("0.0.0.0/0")));
    // A host behind the subnet router is a source; an Internet address is not.
    let lan = t.who("10.1.0.9").unwrap();
    let to = t.target("server:22", None).unwrap();
    assert!(t.can("10.1.0.9", &lan, &to, None, None).allowed);
    let out = t.who("8.8.8.8").unwrap();
    assert!(!t.can("8.8.8.8", &out, &to, None, None).allowed);
}

#[test]
fn tag_sources_exclude_the_routes_tagged_routers_serve() {
    let t =
        net(r#""acls": [{"action": "accept", "src": ["tag:router"], "dst": ["tag:server:*"]}]"#);
    let srcs = filter_srcs(&t, "server");
    assert!(!srcs.iter().any(|s| s.starts_with("10.")), "{srcs:?}");
    assert_eq!(
        srcs,
        vec![
            "100.64.0.5-100.64.0.6",
            "fd7a:115c:a1e0::5-fd7a:115c:a1e0::6"
        ]
    );
    let lan = t.who("10.1.0.9").unwrap();
    assert!(
        !t.can(
            "10.1.0.9",
            &lan,
            &t.target("server:22", None).unwrap(),
            None,
            None
        )
        .allowed
    );
}

#[test]
fn autogroup_member_excludes_tagged_devices() {
    let t = net(r#""acls": [{"action": "accept", "src": ["autogroup:member"], "dst": ["*:*"]}]"#);
    assert!(can(&t, "bob-laptop", "alice-laptop:22", TCP).allowed);
    let a = can(&t, "server", "alice-laptop:22", TCP);
    assert!(!a.allowed, "{a:?}");
}

#[test]
fn autogroup_self_reaches_only_the_users_own_devices() {
    let t = net(
        r#""acls": [{"action": "accept", "src": ["autogroup:member"], "dst": ["autogroup:self:*"]}]"#,
    );
    assert!(can(&t, "alice-laptop", "alice-phone:22", TCP).allowed);
    assert!(!can(&t, "bob-laptop", "alice-phone:22", TCP).allowed);
    assert!(!can(&t, "server", "alice-phone:22", TCP).allowed);
    let bad = load(
        "p",
        r#"{"acls": [{"action": "accept", "src": ["autogroup:self"], "dst": ["*:*"]}]}"#,
        "n.yml",
        NODES,
    );
    assert!(bad
        .err()
        .unwrap()
        .to_string()
        .contains("not valid on the src side"));
}

#[test]
fn ping_is_accepted_when_any_rule_covers_the_addresses_but_tests_refuse_icmp() {
    let t = net(
        r#""acls": [{"action": "accept", "src": ["group:ops"], "dst": ["tag:server:443"], "proto": "tcp"}],
           "tests": [{"src": "bob@example.com", "proto": "icmp", "accept": ["tag:server:443"]}]"#,
    );
    let p = can(&t, "bob-laptop", "server", ICMP);
    assert!(p.allowed, "{p:?}");
    assert_eq!(p.rule.as_deref(), Some("acls[0]"));
    assert!(!can(&t, "bob-laptop", "server:80", TCP).allowed);
    let rep = t.run_tests();
    assert!(!rep.pass);
    assert!(rep.tests[0]
        .detail
        .contains("test protocol must be tcp, udp, sctp, or empty"));
}

#[test]
fn a_test_needs_one_host_and_one_port() {
    let t = net(
        r#""acls": [{"action": "accept", "src": ["group:ops"], "dst": ["tag:server:*", "lan:*", "outside:*"]}],
           "tests": [{"src": "bob@example.com", "accept": [
             "tag:server:80-90", "tag:server:80,443", "tag:server:*", "10.1.0.0/24:22", "lan:22",
             "100.64.0.4/32:22", "autogroup:internet:443", "tag:server:22", "printer:22", "outside:22"]}]"#,
    );
    let rep = t.run_tests();
    let by: Vec<(String, bool)> = rep.tests.iter().map(|a| (a.dst.clone(), a.pass)).collect();
    for (dst, pass) in &by[..7] {
        assert!(!pass, "{dst} should fail the test: {by:?}");
    }
    for (dst, pass) in &by[7..] {
        assert!(pass, "{dst} should pass: {rep:?}");
    }
    assert!(rep.tests[0].detail.contains("single port"));
    assert!(rep.tests[3].detail.contains("not a CIDR range"));
}

#[test]
fn tests_report_the_rule_and_every_source_device_must_be_allowed() {
    let t = net(
        r#""acls": [{"action": "accept", "src": ["alice-laptop-ip"], "dst": ["tag:server:22"]},
                    {"action": "accept", "src": ["group:ops"], "dst": ["tag:server:22"]}],
           "tests": [{"src": "bob@example.com", "accept": ["tag:server:22"], "deny": ["tag:server:23"]},
                     {"src": "alice@example.com", "accept": ["tag:server:22"]}]"#
            .replace("alice-laptop-ip", "100.64.0.1")
            .as_str(),
    );
    let rep = t.run_tests();
    assert!(rep.tests[0].pass && rep.tests[1].pass);
    assert_eq!(rep.tests[0].rule.as_deref(), Some("acls[1] (line 6)"));
    // alice has two devices; only the laptop is allowed: the assertion fails.
    assert!(!rep.tests[2].pass, "{:?}", rep.tests[2]);
}

#[test]
fn exit_nodes_are_approved_by_exit_node_approvers_only() {
    let body = |approvers: &str| {
        format!(
            r#""acls": [{{"action": "accept", "src": ["autogroup:member"], "dst": ["autogroup:internet:*"]}}],
               "autoApprovers": {approvers}"#
        )
    };
    let unapproved = net(&body(
        r#"{"routes": {"0.0.0.0/0": ["tag:exit"], "::/0": ["tag:exit"]}}"#,
    ));
    let e = unapproved.device("exit1").unwrap();
    assert!(!unapproved.exit[e]);
    assert!(
        unapproved.filter(e).rules.is_empty(),
        "autogroup:internet gives nothing while the exit is unapproved"
    );
    let who = unapproved.who("bob-laptop").unwrap();
    let to = unapproved.target("8.8.8.8:443", None).unwrap();
    let a = unapproved.can("bob-laptop", &who, &to, Some(e), None);
    assert!(!a.allowed);
    assert!(a.per_source[0]
        .decision
        .reason
        .contains("not an approved exit node"));

    let approved = net(&body(r#"{"exitNode": ["tag:exit"]}"#));
    assert!(approved.exit[e]);
    assert!(approved.can("bob-laptop", &who, &to, Some(e), None).allowed);
    assert!(!approved.filter(e).rules.is_empty());
    // The exit node is not a subnet router for tailnet addresses: members still need a rule.
    assert!(!can(&approved, "bob-laptop", "server:22", TCP).allowed);
}

#[test]
fn subnet_routes_are_enforced_on_the_router_and_ha_routers_both_get_the_filter() {
    let t = net(r#""acls": [{"action": "accept", "src": ["group:eng"], "dst": ["lan:443"]}]"#);
    for r in ["router1", "router2"] {
        let f = t.filter(t.device(r).unwrap());
        assert_eq!(f.rules.len(), 1, "{r} gets the filter");
        assert_eq!(f.rules[0].dst, vec!["10.1.0.0/24:443"]);
    }
    assert!(t.filter(t.device("server").unwrap()).rules.is_empty());
    let r2 = t.device("router2").unwrap();
    assert_eq!(t.carried_routes(r2), vec!["10.1.0.0/24".parse().unwrap()]);
    assert!(t.carried_routes(t.device("router1").unwrap()).is_empty());
    let who = t.who("alice-laptop").unwrap();
    let to = t.target("10.1.0.7:443", None).unwrap();
    let a = t.can("alice-laptop", &who, &to, None, None);
    assert!(a.allowed);
    assert_eq!(
        a.per_source[0].decision.enforced_by.as_deref(),
        Some("router2")
    );
    let standby = t.can("alice-laptop", &who, &to, None, t.device("router1"));
    assert!(!standby.allowed);
    assert!(standby.per_source[0].decision.reason.contains("HA standby"));
    assert!(
        !t.can("bob-laptop", &t.who("bob-laptop").unwrap(), &to, None, None)
            .allowed
    );
}

#[test]
fn via_grants_steer_the_same_prefix_to_different_routers_per_source() {
    let t = net(r#""grants": [
            {"src": ["group:eng"], "dst": ["10.44.0.0/16"], "ip": ["*"], "via": ["tag:ra"]},
            {"src": ["group:ops"], "dst": ["10.44.0.0/16"], "ip": ["tcp:22"], "via": ["tag:rb"]}]"#);
    let to = t.target("10.44.1.1:22", None).unwrap();
    let a = t.can(
        "alice-laptop",
        &t.who("alice-laptop").unwrap(),
        &to,
        None,
        None,
    );
    assert!(a.allowed);
    assert_eq!(a.per_source[0].decision.enforced_by.as_deref(), Some("ra"));
    let b = t.can("bob-laptop", &t.who("bob-laptop").unwrap(), &to, None, None);
    assert!(b.allowed);
    assert_eq!(b.per_source[0].decision.enforced_by.as_deref(), Some("rb"));
    // Each router's filter holds only its own grant's sources.
    let fa = t.filter(t.device("ra").unwrap());
    assert_eq!(fa.rules.len(), 1);
    assert_eq!(fa.rules[0].rule, "grants[0]");
    let fb = t.filter(t.device("rb").unwrap());
    assert_eq!(fb.rules[0].rule, "grants[1]");
}

#[test]
fn deciding_rule_is_named_with_its_line() {
    let t = net(r#""acls": [
             {"action": "accept", "src": ["group:eng"], "dst": ["tag:server:22"]},
             {"action": "accept", "src": ["autogroup:member"], "dst": ["tag:server:22,80"]}]"#);
    let a = can(&t, "alice-laptop", "server:22", TCP);
    assert_eq!((a.rule.as_deref(), a.line), (Some("acls[0]"), Some(6)));
    let b = can(&t, "bob-laptop", "server:80", TCP);
    assert_eq!((b.rule.as_deref(), b.line), (Some("acls[1]"), Some(7)));
}

#[test]
fn failed_posture_conditions_are_named() {
    let t = net(
        r#""postures": {"posture:recent": ["node:tsVersion >= '1.60'", "node:os IN ('macos', 'linux')"]},
           "grants": [{"src": ["autogroup:member"], "dst": ["tag:server"], "ip": ["tcp:22"], "srcPosture": ["posture:recent"]}]"#,
    );
    assert!(can(&t, "alice-laptop", "server:22", TCP).allowed);
    let b = can(&t, "bob-laptop", "server:22", TCP);
    assert!(!b.allowed);
    assert_eq!(
        b.per_source[0].decision.failed_postures,
        vec!["posture:recent: node:tsVersion >= '1.60'"]
    );
    let phone = can(&t, "alice-phone", "server:22", TCP);
    assert_eq!(phone.per_source[0].decision.failed_postures.len(), 2);
}

#[test]
fn ssh_tests_ignore_network_rules_and_check_wins() {
    let t = net(
        r#""acls": [{"action": "accept", "src": ["tag:router"], "dst": ["tag:server:80"]}],
           "ssh": [{"action": "accept", "src": ["group:eng"], "dst": ["tag:server"], "users": ["root", "autogroup:nonroot"]},
                   {"action": "check", "src": ["group:eng"], "dst": ["tag:server"], "users": ["root"]},
                   {"action": "accept", "src": ["autogroup:member"], "dst": ["autogroup:self"], "users": ["localpart:*@example.com"]}],
           "sshTests": [{"src": "alice@example.com", "dst": ["tag:server"], "accept": ["ubuntu", "root"], "check": ["root"]},
                        {"src": "bob@example.com", "dst": ["tag:server"], "deny": ["root"]},
                        {"src": "bob@example.com", "dst": ["bob@example.com"], "accept": ["bob"], "deny": ["alice"]},
                        {"src": "bob@example.com", "dst": ["alice@example.com"], "deny": ["bob"]}]"#,
    );
    let rep = t.run_tests();
    assert!(rep.pass, "{rep:#?}");
    let (r, rule) = t.ssh_decide(
        t.device("alice-laptop").unwrap(),
        t.device("server").unwrap(),
        "root",
    );
    assert_eq!(r, nettwin_access::SshResult::Check);
    assert_eq!(rule.as_deref(), Some("ssh[1] (line 7)"));
}

#[test]
fn queries_answer_in_the_issue_shape() {
    let t = net(
        r#""acls": [{"action": "accept", "src": ["group:eng"], "dst": ["tag:server:22", "lan:*"]}]"#,
    );
    let q = nettwin_access::query::parse_queries(
        "q.json",
        r#"{"checks": [{"src": "alice@example.com", "dst": "server:22", "proto": "tcp"},
                       {"src": "bob-laptop", "dst": "100.64.0.4:22", "proto": "tcp"},
                       {"src": "alice-laptop", "dst": "10.1.0.7:80", "proto": "tcp", "ingress": "router1"},
                       {"src": "alice-laptop", "dst": "server:0", "proto": "icmp"}],
           "ssh_checks": [{"src": "alice-laptop", "dst": "server", "ssh_user": "root"}], "run_tests": true}"#,
    )
    .unwrap();
    let ans: Vec<bool> = q.checks.iter().map(|c| t.answer(c).allowed).collect();
    assert_eq!(ans, vec![true, false, false, true]);
    assert_eq!(t.answer(&q.checks[0]).rule.as_deref(), Some("acls[0]"));
    assert_eq!(
        t.answer_ssh(&q.ssh_checks[0]).result,
        nettwin_access::SshResult::Deny
    );
    let _ = Who::Addr("1.1.1.1".parse().unwrap());
}
