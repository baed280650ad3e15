//! AdminNetworkPolicy / BaselineAdminNetworkPolicy (cases after the network-policy-api
//! conformance suite: priority, Pass to NetworkPolicy, Pass to the baseline) and Calico tiers
//! (order, Pass, end of tier, defaultAction, Log, selectors), on the e2e model.

mod common;

use common::*;
use nettwin_policy::{proto, Decider};

fn anp(name: &str, priority: u32, spec: &str) -> String {
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata:\n  name: {name}\nspec:\n  priority: {priority}\n{spec}\n---\n"
    )
}

fn banp(spec: &str) -> String {
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata:\n  name: default\nspec:\n{spec}\n---\n"
    )
}

fn knp(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{spec}\n---\n"
    )
}

fn gnp(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: {name}\nspec:\n{spec}\n---\n"
    )
}

fn cnp(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{spec}\n---\n"
    )
}

fn tier(name: &str, spec: &str) -> String {
    format!("apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: {name}\nspec:\n{spec}\n---\n")
}

const SUBJECT_X: &str = "  subject:\n    namespaces:\n      matchLabels: {ns: x}";
const FROM_Y: &str = "    from:\n    - namespaces:\n        matchLabels: {ns: y}";

fn rule_policy(d: &Decider) -> &str {
    match d {
        Decider::Rule { policy, .. } => policy,
        d => panic!("not a rule: {d:?}"),
    }
}

#[test]
fn lower_priority_number_wins() {
    let text = anp(
        "deny-y",
        50,
        &format!("{SUBJECT_X}\n  ingress:\n  - action: Deny\n{FROM_Y}"),
    ) + &anp(
        "allow-y",
        60,
        &format!("{SUBJECT_X}\n  ingress:\n  - action: Allow\n{FROM_Y}"),
    );
    let c = cluster(&text);
    let mut want = Reach::new(true);
    want.expect(ns("y"), ns("x"), false);
    check(&c, 80, "TCP", &want);
    let v = verdict(&c, "y/a", "x/a", 80, proto::TCP);
    assert_eq!(
        rule_policy(&v.ingress.decider),
        "kanp.adminnetworkpolicy.deny-y"
    );
    // Priority 40 now comes first.
    let c = cluster(&text.replace("priority: 60", "priority: 40"));
    check(&c, 80, "TCP", &Reach::new(true));
}

#[test]
fn equal_priorities_are_ordered_by_name_as_calico_does() {
    let text = anp(
        "b-deny",
        10,
        &format!("{SUBJECT_X}\n  ingress:\n  - action: Deny\n{FROM_Y}"),
    ) + &anp(
        "a-allow",
        10,
        &format!("{SUBJECT_X}\n  ingress:\n  - action: Allow\n{FROM_Y}"),
    );
    let c = cluster(&text);
    check(&c, 80, "TCP", &Reach::new(true));
}

#[test]
fn admin_allow_overrides_a_network_policy_deny() {
    let text = anp(
        "allow-y",
        10,
        &format!("{SUBJECT_X}\n  ingress:\n  - action: Allow\n{FROM_Y}"),
    ) + &knp(
        "x",
        "deny-all",
        "  podSelector: {}\n  policyTypes: [Ingress]",
    );
    let c = cluster(&text);
    let mut want = Reach::new(true);
    want.expect(ANY, ns("x"), false)
        .expect(ns("y"), ns("x"), true);
    check(&c, 80, "TCP", &want);
}

#[test]
fn pass_hands_over_to_network_policy_then_to_the_baseline() {
    let pass = anp(
        "pass-y",
        10,
        &format!("{SUBJECT_X}\n  ingress:\n  - action: Pass\n{FROM_Y}"),
    );
    let deny_y_baseline = banp(&format!(
        "{SUBJECT_X}\n  ingress:\n  - action: Deny\n{FROM_Y}"
    ));
    let allow_knp = knp(
        "x",
        "allow-y",
        "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {ns: y}",
    );
    // Pass, then the NetworkPolicy allows y (and isolates x from everyone else).
    let c = cluster(&(pass.clone() + &allow_knp + &deny_y_baseline));
    let mut want = Reach::new(true);
    want.expect(ANY, ns("x"), false)
        .expect(ns("y"), ns("x"), true);
    check(&c, 80, "TCP", &want);
    // No NetworkPolicy: the baseline denies.
    let c = cluster(&(pass.clone() + &deny_y_baseline));
    let mut want = Reach::new(true);
    want.expect(ns("y"), ns("x"), false);
    check(&c, 80, "TCP", &want);
    let v = verdict(&c, "y/b", "x/c", 80, proto::TCP);
    assert_eq!(
        rule_policy(&v.ingress.decider),
        "kbanp.baselineadminnetworkpolicy.default"
    );
    // Nothing after the Pass: the profile allows.
    let c = cluster(&pass);
    check(&c, 80, "TCP", &Reach::new(true));
}

#[test]
fn a_network_policy_that_selects_the_pod_hides_the_baseline() {
    // x/a only admits x/b; the baseline would admit y, but the default tier ends in Deny first.
    let text = knp(
        "x",
        "x-a-from-x-b",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels: {pod: b}",
    ) + &banp(&format!("{SUBJECT_X}\n  ingress:\n  - action: Allow\n{FROM_Y}"));
    let c = cluster(&text);
    let mut want = Reach::new(true);
    want.expect(ANY, pod("x", "a"), false)
        .expect(pod("x", "b"), pod("x", "a"), true);
    check(&c, 80, "TCP", &want);
}

#[test]
fn admin_egress_to_networks_ports_and_named_ports() {
    let text = anp(
        "egress",
        5,
        "  subject:\n    pods:\n      namespaceSelector: {matchLabels: {ns: x}}\n      podSelector: {matchLabels: {pod: a}}\n  egress:\n  - action: Allow\n    to:\n    - networks: [10.0.2.0/24]\n    ports:\n    - portNumber: {protocol: TCP, port: 80}\n  - action: Allow\n    to:\n    - pods:\n        namespaceSelector: {matchLabels: {ns: z}}\n        podSelector: {}\n    ports:\n    - namedPort: serve-81-udp\n  - action: Deny\n    to:\n    - namespaces: {}",
    );
    let c = cluster(&text);
    let mut want = Reach::new(true);
    want.expect(pod("x", "a"), ANY, false)
        .expect(pod("x", "a"), ns("y"), true);
    check(&c, 80, "TCP", &want);
    let mut want = Reach::new(true);
    want.expect(pod("x", "a"), ANY, false);
    check(&c, 81, "TCP", &want);
    let mut want = Reach::new(true);
    want.expect(pod("x", "a"), ANY, false)
        .expect(pod("x", "a"), ns("z"), true);
    check(&c, 81, "UDP", &want);
}

#[test]
fn calico_tier_order_pass_and_end_of_tier() {
    // Tier security (order 100) runs before the default tier.
    let sec = tier("security", "  order: 100");
    let deny = gnp(
        "security.deny-y",
        "  tier: security\n  selector: all()\n  ingress:\n  - action: Deny\n    source:\n      namespaceSelector: ns == 'y'",
    );
    let allow_all = knp("x", "allow-all", "  podSelector: {}\n  ingress:\n  - {}");
    // Every pod is selected, so the tier ends in Deny for all but y (denied by the rule).
    let c = cluster(&(sec.clone() + &deny + &allow_all));
    check(&c, 80, "TCP", &Reach::new(false));
    // With a final Pass, the rest goes on to the default tier.
    let deny_then_pass = deny.clone() + "  - action: Pass\n";
    let c = cluster(
        &(sec.clone()
            + &deny_then_pass.replace("---\n  - action: Pass", "  - action: Pass\n---")
            + &allow_all),
    );
    let mut want = Reach::new(true);
    want.expect(ns("y"), ANY, false);
    check(&c, 80, "TCP", &want);
    // The GNP selects every pod and has no other rule: its tier ends in Deny for the rest.
    let c = cluster(
        &(sec.clone()
            + &deny.replace(
                "namespaceSelector: ns == 'y'",
                "namespaceSelector: ns == 'nobody'",
            )),
    );
    let v = verdict(&c, "y/a", "x/a", 80, proto::TCP);
    assert_eq!(
        v.ingress.decider,
        Decider::EndOfTier {
            tier: "security".into(),
            policies: vec!["security.deny-y".into()]
        }
    );
    // Pass instead of Deny: the default tier decides (x admits everyone; z and y are not
    // selected by any default-tier policy, so their profile allows).
    let pass = deny.replace("action: Deny", "action: Pass")
        + &gnp(
            "security.z-rest",
            "  tier: security\n  order: 500\n  selector: all()\n  ingress:\n  - action: Allow",
        );
    let c = cluster(&(sec.clone() + &pass + &allow_all));
    check(&c, 80, "TCP", &Reach::new(true));
    // Tier defaultAction Pass: selected but unmatched traffic falls through.
    let sec_pass = tier("security", "  order: 100\n  defaultAction: Pass");
    let only = gnp(
        "security.only-udp",
        "  tier: security\n  selector: projectcalico.org/namespace == 'x'\n  ingress:\n  - action: Deny\n    protocol: UDP",
    );
    let c = cluster(&(sec_pass + &only));
    check(&c, 80, "TCP", &Reach::new(true));
    let mut want = Reach::new(true);
    want.expect(ANY, ns("x"), false);
    check(&c, 80, "UDP", &want);
    let c = cluster(&(sec + &only));
    check(&c, 80, "TCP", &want);
}

#[test]
fn unordered_policies_come_after_ordered_ones_and_ties_go_by_name() {
    let text = cnp(
        "x",
        "a-unordered-allow",
        "  selector: all()\n  ingress:\n  - action: Allow",
    ) + &cnp(
        "x",
        "z-ordered-deny",
        "  order: 5000\n  selector: all()\n  ingress:\n  - action: Deny",
    );
    let c = cluster(&text);
    let mut want = Reach::new(true);
    want.expect(ANY, ns("x"), false);
    check(&c, 80, "TCP", &want);
    let names: Vec<&str> = c.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["z-ordered-deny", "a-unordered-allow"]);
    // Equal order: by name. The KNP (order 1000) named `m` sorts between `a` and `z`.
    let text = cnp(
        "x",
        "z",
        "  order: 1000\n  selector: all()\n  ingress:\n  - action: Deny",
    ) + &cnp(
        "x",
        "a",
        "  order: 1000\n  selector: all()\n  ingress:\n  - action: Log",
    ) + &knp("x", "m", "  podSelector: {}\n  ingress:\n  - {}");
    let c = cluster(&text);
    let names: Vec<&str> = c.policies.iter().map(|p| p.display.as_str()).collect();
    assert_eq!(names, ["a", "knp.default.m", "z"]);
    // Log does not end evaluation: the KNP's allow decides.
    check(&c, 80, "TCP", &Reach::new(true));
    let v = verdict(&c, "y/a", "x/a", 80, proto::TCP);
    assert_eq!(rule_policy(&v.ingress.decider), "knp.default.m");
    assert!(v
        .ingress
        .steps
        .iter()
        .any(|s| s.text.contains("matches: Log")));
}

#[test]
fn tiers_by_order_then_name_unordered_last() {
    let text = tier("b", "  order: 10")
        + &tier("a", "  order: 10")
        + &tier("late", "")
        + &tier("early", "  order: 1");
    let c = cluster(&text);
    let names: Vec<&str> = c.tiers.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "early",
            "a",
            "b",
            "adminnetworkpolicy",
            "default",
            "baselineadminnetworkpolicy",
            "late"
        ]
    );
}

#[test]
fn not_equal_matches_pods_without_the_label() {
    let c = cluster(&gnp(
        "deny-not-team-red",
        "  selector: pod == 'a'\n  ingress:\n  - action: Deny\n    source:\n      selector: team != 'red'\n  - action: Allow",
    ));
    // Nobody has `team`: every source matches `team != 'red'`.
    let mut want = Reach::new(true);
    want.expect(ANY, pod("x", "a"), false)
        .expect(ANY, pod("y", "a"), false)
        .expect(ANY, pod("z", "a"), false);
    check(&c, 80, "TCP", &want);
}

#[test]
fn rule_selectors_without_namespace_selector() {
    // In a namespaced NetworkPolicy: the policy's namespace only.
    let c = cluster(&cnp(
        "x",
        "from-b",
        "  selector: pod == 'a'\n  ingress:\n  - action: Allow\n    source:\n      selector: pod == 'b'",
    ));
    let mut want = Reach::new(true);
    want.expect(ANY, pod("x", "a"), false)
        .expect(pod("x", "b"), pod("x", "a"), true);
    check(&c, 80, "TCP", &want);
    // In a GlobalNetworkPolicy: every namespace.
    let c = cluster(&gnp(
        "from-b",
        "  selector: pod == 'a' && ns == 'x'\n  ingress:\n  - action: Allow\n    source:\n      selector: pod == 'b'",
    ));
    let mut want = Reach::new(true);
    want.expect(ANY, pod("x", "a"), false)
        .expect(pod("x", "b"), pod("x", "a"), true)
        .expect(pod("y", "b"), pod("x", "a"), true)
        .expect(pod("z", "b"), pod("x", "a"), true);
    // `ns == 'x'` in a policy selector reads the pod's labels: pods have no `ns` label, so
    // nothing is selected (a namespace's labels are `pcns.`-prefixed, for namespaceSelector).
    check(&c, 80, "TCP", &Reach::new(true));
    let c = cluster(&gnp(
        "from-b",
        "  selector: pod == 'a'\n  namespaceSelector: ns == 'x'\n  ingress:\n  - action: Allow\n    source:\n      selector: pod == 'b'",
    ));
    check(&c, 80, "TCP", &want);
}

#[test]
fn network_sets_are_matched_by_address() {
    let text = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: y-range\n  labels: {range: y}\nspec:\n  nets: [10.0.2.0/24]\n---\n"
        .to_string()
        + &gnp(
            "only-from-y-range",
            "  selector: pod == 'a'\n  namespaceSelector: ns == 'x'\n  ingress:\n  - action: Allow\n    source:\n      selector: range == 'y'",
        )
        + &gnp(
            "global-only",
            "  selector: pod == 'b'\n  namespaceSelector: ns == 'x'\n  ingress:\n  - action: Allow\n    source:\n      namespaceSelector: global()",
        );
    let c = cluster(&text);
    let mut want = Reach::new(true);
    // `global()` selects what has no namespace: the global network set, whose nets hold y's
    // pods, so y reaches x/b too (felix matches IP sets, not pods).
    want.expect(ANY, pod("x", "a"), false)
        .expect(ns("y"), pod("x", "a"), true)
        .expect(ANY, pod("x", "b"), false)
        .expect(ns("y"), pod("x", "b"), true);
    check(&c, 80, "TCP", &want);
}

#[test]
fn ports_ranges_protocol_numbers_and_not_ports() {
    let c = cluster(&gnp(
        "ports",
        "  selector: pod == 'a'\n  ingress:\n  - action: Allow\n    protocol: 6\n    destination:\n      ports: ['80:81']\n      notPorts: [81]\n  - action: Allow\n    protocol: UDP\n    destination:\n      ports: [serve-81-udp]",
    ));
    let mut denied = Reach::new(true);
    denied
        .expect(ANY, pod("x", "a"), false)
        .expect(ANY, pod("y", "a"), false)
        .expect(ANY, pod("z", "a"), false);
    check(&c, 80, "TCP", &Reach::new(true));
    check(&c, 81, "TCP", &denied);
    check(&c, 80, "UDP", &denied);
    check(&c, 81, "UDP", &Reach::new(true));
}
