//! Kubernetes NetworkPolicy on the e2e model: cases chosen from the e2e suite
//! (test/e2e/network/netpol/network_policy.go), each written from what the case establishes.

mod common;

use common::*;
use nettwin_policy::{proto, Cni, Decider, EvalOptions};

fn knp(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{spec}\n---\n"
    )
}

#[test]
fn default_deny_ingress() {
    let c = cluster(&knp(
        "x",
        "deny-ingress",
        "  podSelector: {}\n  policyTypes: [Ingress]",
    ));
    let mut want = Reach::new(true);
    want.expect(ANY, ns("x"), false);
    check(&c, 80, "TCP", &want);
    // The deciding rule: the end of the default tier, selected by the policy.
    let v = verdict(&c, "y/a", "x/b", 80, proto::TCP);
    assert_eq!(
        v.ingress.decider,
        Decider::EndOfTier {
            tier: "default".into(),
            policies: vec!["knp.default.deny-ingress (x)".into()]
        }
    );
    assert!(matches!(v.egress.decider, Decider::Profile { .. }));
}

#[test]
fn default_deny_all() {
    let c = cluster(&knp(
        "x",
        "deny-all",
        "  podSelector: {}\n  policyTypes: [Ingress, Egress]",
    ));
    let mut want = Reach::new(true);
    want.expect(ANY, ns("x"), false).expect(ns("x"), ANY, false);
    check(&c, 80, "TCP", &want);
}

#[test]
fn allow_from_pods_in_the_same_namespace_by_pod_selector() {
    let c = cluster(&knp(
        "x",
        "x-a-allows-x-b",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels: {pod: b}",
    ));
    let mut want = Reach::new(true);
    want.expect(ANY, pod("x", "a"), false)
        .expect(pod("x", "b"), pod("x", "a"), true);
    check(&c, 80, "TCP", &want);
    let v = verdict(&c, "x/b", "x/a", 80, proto::TCP);
    match &v.ingress.decider {
        Decider::Rule {
            policy, path, line, ..
        } => {
            assert_eq!(policy, "knp.default.x-a-allows-x-b");
            assert_eq!(path, "spec.ingress[0].from[0]");
            assert!(*line > 1);
        }
        d => panic!("{d:?}"),
    }
}

#[test]
fn allow_only_from_another_namespace_by_namespace_selector() {
    let c = cluster(&knp(
        "x",
        "allow-client-a-via-ns-selector",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: y",
    ));
    let mut want = Reach::new(true);
    want.expect(ns("x"), pod("x", "a"), false)
        .expect(ns("z"), pod("x", "a"), false);
    check(&c, 80, "TCP", &want);
}

#[test]
fn empty_namespace_selector_means_every_namespace() {
    let c = cluster(&knp(
        "x",
        "allow-from-another-ns",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - namespaceSelector: {}",
    ));
    check(&c, 80, "TCP", &Reach::new(true));
}

#[test]
fn pod_selector_or_namespace_selector() {
    // Two peers: either matches.
    let c = cluster(&knp(
        "x",
        "allow-ns-y-match-selector",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchExpressions:\n        - {key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}\n    - podSelector:\n        matchLabels: {pod: b}",
    ));
    let mut want = Reach::new(true);
    want.expect(pod("x", "a"), pod("x", "a"), false)
        .expect(pod("x", "c"), pod("x", "a"), false);
    check(&c, 80, "TCP", &want);
}

#[test]
fn pod_selector_and_namespace_selector() {
    // One peer with both: both must match.
    let c = cluster(&knp(
        "x",
        "allow-ns-y-podselector-and-nsselector",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchExpressions:\n        - {key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}\n      podSelector:\n        matchLabels: {pod: b}",
    ));
    let mut want = Reach::new(true);
    want.expect(ANY, pod("x", "a"), false)
        .expect(pod("y", "b"), pod("x", "a"), true)
        .expect(pod("z", "b"), pod("x", "a"), true);
    check(&c, 80, "TCP", &want);
}

#[test]
fn deny_ingress_from_other_namespaces() {
    let c = cluster(&knp(
        "x",
        "deny-empty-policy",
        "  podSelector: {}\n  ingress:\n  - from:\n    - podSelector: {}",
    ));
    let mut want = Reach::new(true);
    want.expect(ns("y"), ns("x"), false)
        .expect(ns("z"), ns("x"), false);
    check(&c, 80, "TCP", &want);
}

#[test]
fn ingress_and_egress_together() {
    let c = cluster(&knp(
        "x",
        "allow-client-a-via-pod-selector",
        "  podSelector:\n    matchLabels: {pod: a}\n  policyTypes: [Egress, Ingress]\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels: {pod: b}\n  egress:\n  - ports:\n    - port: 80",
    ));
    let mut want80 = Reach::new(true);
    want80
        .expect(ANY, pod("x", "a"), false)
        .expect(pod("x", "b"), pod("x", "a"), true);
    check(&c, 80, "TCP", &want80);
    let mut want81 = want80.clone();
    want81.expect(pod("x", "a"), ANY, false);
    check(&c, 81, "TCP", &want81);
}

#[test]
fn egress_denied_on_the_client_even_when_the_server_allows() {
    let policies = knp(
        "x",
        "allow-to-ns-y-pod-a",
        "  podSelector:\n    matchLabels: {pod: a}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: y\n      podSelector:\n        matchLabels: {pod: a}",
    ) + &knp(
        "y",
        "allow-from-xa-on-ya",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: x\n      podSelector:\n        matchLabels: {pod: a}",
    ) + &knp(
        "y",
        "allow-from-xa-on-yb",
        "  podSelector:\n    matchLabels: {pod: b}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: x\n      podSelector:\n        matchLabels: {pod: a}",
    );
    let c = cluster(&policies);
    let mut want = Reach::new(true);
    want.expect(pod("x", "a"), ANY, false)
        .expect(ANY, pod("y", "a"), false)
        .expect(pod("x", "a"), pod("y", "a"), true)
        .expect(ANY, pod("y", "b"), false);
    check(&c, 80, "TCP", &want);
}

#[test]
fn protocol_only_port_allows_every_port_of_that_protocol() {
    let c = cluster(&knp(
        "x",
        "allow-tcp",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - ports:\n    - protocol: TCP",
    ));
    check(&c, 80, "TCP", &Reach::new(true));
    check(&c, 81, "TCP", &Reach::new(true));
    let mut want = Reach::new(true);
    want.expect(ANY, pod("x", "a"), false);
    check(&c, 80, "UDP", &want);
}

#[test]
fn a_udp_only_rule_still_isolates_the_pod_for_tcp() {
    let c = cluster(&knp(
        "x",
        "allow-udp-80",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - ports:\n    - protocol: UDP\n      port: 80",
    ));
    check(&c, 80, "UDP", &Reach::new(true));
    let mut want = Reach::new(true);
    want.expect(ANY, pod("x", "a"), false);
    check(&c, 80, "TCP", &want);
    check(&c, 81, "UDP", &want);
    let sctp = cluster(&knp(
        "x",
        "allow-sctp",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - ports:\n    - protocol: SCTP",
    ));
    check(&sctp, 80, "TCP", &want);
}

#[test]
fn named_port_allows_only_that_port() {
    let c = cluster(&knp(
        "x",
        "allow-all-on-named-81",
        "  podSelector: {}\n  ingress:\n  - ports:\n    - port: serve-81-tcp",
    ));
    check(&c, 81, "TCP", &Reach::new(true));
    let mut want = Reach::new(true);
    want.expect(ANY, ns("x"), false);
    check(&c, 80, "TCP", &want);
}

#[test]
fn a_named_port_needs_the_rules_protocol() {
    // `port: serve-80-udp` without a protocol is TCP: no TCP port has that name.
    let c = cluster(&knp(
        "x",
        "named-udp-as-tcp",
        "  podSelector: {}\n  ingress:\n  - ports:\n    - port: serve-80-udp",
    ));
    let mut want = Reach::new(true);
    want.expect(ANY, ns("x"), false);
    check(&c, 80, "UDP", &want);
    check(&c, 80, "TCP", &want);
    let c = cluster(&knp(
        "x",
        "named-udp",
        "  podSelector: {}\n  ingress:\n  - ports:\n    - port: serve-80-udp\n      protocol: UDP",
    ));
    check(&c, 80, "UDP", &Reach::new(true));
    check(&c, 80, "TCP", &want);
}

#[test]
fn end_port_allows_a_range() {
    let c = cluster(&knp(
        "x",
        "allow-80-81",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - ports:\n    - port: 80\n      endPort: 81\n      protocol: TCP",
    ));
    check(&c, 80, "TCP", &Reach::new(true));
    check(&c, 81, "TCP", &Reach::new(true));
    let mut want = Reach::new(true);
    want.expect(ANY, pod("x", "a"), false);
    check(&c, 82, "TCP", &want);
}

#[test]
fn egress_to_a_cidr_with_except() {
    // x/a may reach 10.0.2.0/24 (namespace y) except y/b.
    let c = cluster(&knp(
        "x",
        "allow-client-a-via-cidr-egress-rule",
        "  podSelector:\n    matchLabels: {pod: a}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 10.0.2.0/24\n        except: [10.0.2.2/32]",
    ));
    let mut want = Reach::new(true);
    want.expect(pod("x", "a"), ANY, false)
        .expect(pod("x", "a"), pod("y", "a"), true)
        .expect(pod("x", "a"), pod("y", "c"), true);
    check(&c, 80, "TCP", &want);
}

#[test]
fn ip_block_matches_pod_addresses_with_calico_but_not_with_cilium() {
    let c = cluster(&knp(
        "x",
        "allow-from-y-cidr",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - ipBlock:\n        cidr: 10.0.2.0/24",
    ));
    let mut want = Reach::new(true);
    want.expect(ANY, pod("x", "a"), false)
        .expect(ns("y"), pod("x", "a"), true);
    check(&c, 80, "TCP", &want);
    let mut cilium = Reach::new(true);
    cilium.expect(ANY, pod("x", "a"), false);
    check_with(&c, EvalOptions { cni: Cni::Cilium }, 80, "TCP", &cilium);
}

#[test]
fn policy_types_are_inferred_as_the_api_server_does() {
    // Egress rules without policyTypes: Ingress and Egress.
    let c = cluster(&knp(
        "x",
        "egress-rules",
        "  podSelector:\n    matchLabels: {pod: a}\n  egress:\n  - ports:\n    - port: 81",
    ));
    let mut want = Reach::new(true);
    want.expect(ANY, pod("x", "a"), false)
        .expect(pod("x", "a"), ANY, false);
    check(&c, 80, "TCP", &want);
    // An empty egress list without policyTypes: Ingress only.
    let c = cluster(&knp(
        "x",
        "empty-egress",
        "  podSelector:\n    matchLabels: {pod: a}\n  egress: []",
    ));
    let mut want = Reach::new(true);
    want.expect(ANY, pod("x", "a"), false);
    check(&c, 80, "TCP", &want);
}

#[test]
fn not_in_selects_pods_without_the_label() {
    let c = cluster(&knp(
        "x",
        "from-not-b",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - podSelector:\n        matchExpressions:\n        - {key: team, operator: NotIn, values: [blue]}",
    ));
    // No pod carries `team`: all of x's pods match; other namespaces do not (own namespace).
    let mut want = Reach::new(true);
    want.expect(ANY, pod("x", "a"), false)
        .expect(ns("x"), pod("x", "a"), true);
    check(&c, 80, "TCP", &want);
}

#[test]
fn workloads_expand_into_pods() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 3\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: c\n        ports:\n        - {containerPort: 8080, name: http}\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: shop}\nspec:\n  replicas: 2\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: c}]}\n---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: kube-system}\nspec:\n  template:\n    metadata: {labels: {app: agent}}\n    spec: {containers: [{name: c}]}\n";
    let c = nettwin_policy::load_str("w.yaml", text, &Default::default()).unwrap();
    let ids: Vec<String> = c.pods.iter().map(|p| p.id()).collect();
    assert_eq!(
        ids,
        [
            "kube-system/agent-0",
            "shop/db-0",
            "shop/db-1",
            "shop/web-0",
            "shop/web-1",
            "shop/web-2"
        ]
    );
    let web = &c.pods[c.pod("shop/web-1").unwrap()];
    assert_eq!(web.labels["app"], "web");
    assert_eq!(web.ports[0].name.as_deref(), Some("http"));
    assert!(web.assigned_ip);
    assert!("10.244.0.0/16"
        .parse::<nettwin_model::Prefix>()
        .unwrap()
        .contains(web.ips[0]));
    // Deterministic, distinct addresses.
    let again = nettwin_policy::load_str("w.yaml", text, &Default::default()).unwrap();
    assert_eq!(
        c.pods.iter().map(|p| p.ips.clone()).collect::<Vec<_>>(),
        again.pods.iter().map(|p| p.ips.clone()).collect::<Vec<_>>()
    );
    let mut ips: Vec<_> = c.pods.iter().map(|p| p.ips[0]).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 6);
    // Implicit namespaces carry their name label.
    assert_eq!(
        c.namespace("shop").unwrap().labels["kubernetes.io/metadata.name"],
        "shop"
    );
    assert!(c.namespace("shop").unwrap().implicit);
}

#[test]
fn lists_json_and_other_kinds() {
    let text = r#"{"apiVersion": "v1", "kind": "List", "items": [
      {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n", "labels": {"a": "b"}}},
      {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},
      {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    ]}"#;
    let c = nettwin_policy::load_str("l.json", text, &Default::default()).unwrap();
    assert_eq!(c.pods.len(), 1);
    assert_eq!(c.skipped["ConfigMap"], 1);
    assert_eq!(c.skipped["Service"], 1);
}
