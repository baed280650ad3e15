//! Mistakes in manifests: every one reported, each with file:line:col and its key path.

use nettwin_policy::{load_str, LoadError, LoadOptions};

fn errors(text: &str) -> Vec<String> {
    match load_str("m.yaml", text, &LoadOptions::default()) {
        Err(LoadError::Invalid(files)) => files
            .iter()
            .flat_map(|f| f.diags.iter().map(|d| d.to_string()))
            .collect(),
        Ok(_) => panic!("loaded"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn every_mistake_in_one_run() {
    let text = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: bad
  namespace: x
spec:
  podSelecter: {}
  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.0/8
        except: [192.168.0.0/16]
      podSelector: {}
    ports:
    - port: 80
      endPort: 79
    - port: Http
    - protocol: ICMP
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: g
spec:
  selector: app == 'web' && tier = 'db'
  order: high
  ingress:
  - action: Accept
    destination:
      ports: [80]
";
    let e = errors(text);
    let want = [
        "m.yaml:7:3: unknown key `podSelecter` (did you mean `podSelector`?) (at `spec.podSelecter`)",
        "m.yaml:10:7: `ipBlock` cannot be combined with `podSelector` or `namespaceSelector` (at `spec.ingress[0].from[0]`)",
        "m.yaml:16:16: `endPort` 79 is below `port` 80 (at `spec.ingress[0].ports[0].endPort`)",
        "m.yaml:17:13: `Http` is not a port name: 1-15 lowercase letters, digits and `-`, with at least one letter (at `spec.ingress[0].ports[1].port`)",
        "m.yaml:18:17: protocol `ICMP` is not TCP, UDP or SCTP (at `spec.ingress[0].ports[2].protocol`)",
        "m.yaml:25:34: bad selector: expected `==`\n    app == 'web' && tier = 'db'\n                         ^ (at `spec.selector`)",
        "m.yaml:26:10: expected a number, found `high` (at `spec.order`)",
        "m.yaml:28:13: action is Allow, Deny, Pass or Log (at `spec.ingress[0].action`)",
        "m.yaml:30:14: ports need the rule's protocol to be TCP, UDP, SCTP or UDPLite (at `spec.ingress[0].destination.ports`)",
    ];
    assert_eq!(e, want, "{}", e.join("\n"));
}

#[test]
fn objects_across_documents() {
    let text = "\
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: n}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: n}
---
apiVersion: v1
kind: Pod
metadata: {name: q, namespace: n}
status: {podIP: 10.0.0.1}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: g}
spec: {tier: missing}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: other}
spec: {subject: {namespaces: {}}}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: a}
spec:
  priority: 1001
  subject: {namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}
  ingress:
  - action: Pass
    from: []
";
    let e = errors(text);
    let want = [
        "m.yaml:8:18: Pod `n/p` is defined twice; first at m.yaml:3",
        "m.yaml:12:18: pod IP 10.0.0.1 is also the IP of pod n/p",
        "m.yaml:17:18: tier `missing` is not defined; add a projectcalico.org/v3 Tier named `missing` (at `spec.tier`)",
        "m.yaml:22:18: a BaselineAdminNetworkPolicy must be named `default` (there is one per cluster) (at `metadata.name`)",
        "m.yaml:29:13: 1001 is out of range 0..=1000 (at `spec.priority`)",
        "m.yaml:30:13: set only one of `namespaces` and `pods` (at `spec.subject`)",
        "m.yaml:33:11: `from` needs at least one peer (at `spec.ingress[0].from`)",
    ];
    let e: Vec<String> = e.into_iter().map(|s| s.replace(" (at ``)", "")).collect();
    let want: Vec<String> = want.iter().map(|s| s.replace(" (at ``)", "")).collect();
    assert_eq!(e, want, "{}", e.join("\n"));
}

#[test]
fn yaml_syntax_errors_have_a_place() {
    let e = errors("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("m.yaml:4:1: YAML syntax error"), "{e:?}");
}
