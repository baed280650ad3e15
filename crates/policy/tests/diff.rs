//! `diff`: flows opened and closed between two sets of manifests, on the example cluster.

use nettwin_policy::diff::diff;
use nettwin_policy::{load, read_paths, Cluster, Engine, EvalOptions, LoadOptions};
use std::path::PathBuf;

fn cluster(files: &[&str]) -> Cluster {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let paths: Vec<PathBuf> = files.iter().map(|f| root.join(f)).collect();
    let sources = read_paths(&paths).unwrap();
    match load(&sources, &LoadOptions::default()) {
        Ok(c) => c,
        Err(e) => panic!("{e:?}"),
    }
}

#[test]
fn adding_a_deny_all_closes_every_ingress_flow_into_the_namespace() {
    let old = cluster(&["examples/policy/cluster.yaml"]);
    let new = cluster(&[
        "examples/policy/cluster.yaml",
        "examples/policy-diff/deny-all.yaml",
    ]);
    let (eo, en) = (
        Engine::new(&old, EvalOptions::default()),
        Engine::new(&new, EvalOptions::default()),
    );
    let d = diff(&eo, &en, None);
    assert!(d.opened.is_empty());
    assert!(d.added_pods.is_empty() && d.removed_pods.is_empty());
    assert!(!d.closed.is_empty());
    for f in &d.closed {
        assert!(f.to.starts_with("shop/"), "{f:?}");
        assert!(f.before.allowed && !f.after.allowed);
        // Before: the profile; after: the end of the default tier, naming the new policy.
        let before = serde_json::to_value(&f.before.ingress).unwrap();
        assert_eq!(before["by"], "profile");
        let after = serde_json::to_value(&f.after.ingress).unwrap();
        assert_eq!(after["by"], "end-of-tier", "{after}");
        assert!(after["policies"][0]
            .as_str()
            .unwrap()
            .contains("knp.default.deny-all-ingress"));
    }
    // monitoring/prometheus -> shop/db-0 on 5432 is one of them; nothing into monitoring.
    assert!(d
        .closed
        .iter()
        .any(|f| f.from == "monitoring/prometheus" && f.to == "shop/db-0" && f.port == 5432));
    // Every pair of distinct shop-destined pods on every declared port.
    let dests = 4; // frontend-0, frontend-1, api-0, db-0
    let ports = d.ports.len();
    assert_eq!(d.closed.len(), dests * 4 * ports, "{:?}", d.ports);
}

#[test]
fn narrowing_a_rule_closes_only_the_ports_it_drops_with_both_deciding_rules() {
    let old = cluster(&[
        "examples/policy/cluster.yaml",
        "examples/policy-diff/api-old.yaml",
    ]);
    let new = cluster(&[
        "examples/policy/cluster.yaml",
        "examples/policy-diff/api-new.yaml",
    ]);
    let (eo, en) = (
        Engine::new(&old, EvalOptions::default()),
        Engine::new(&new, EvalOptions::default()),
    );
    let ports = nettwin_policy::matrix::parse_ports("8080,9090").unwrap();
    let d = diff(&eo, &en, Some(&ports));
    assert!(d.opened.is_empty());
    let closed: Vec<String> = d
        .closed
        .iter()
        .map(|f| format!("{} -> {} {}/{}", f.from, f.to, f.port, f.protocol))
        .collect();
    assert_eq!(
        closed,
        [
            "shop/frontend-0 -> shop/api-0 9090/TCP",
            "shop/frontend-1 -> shop/api-0 9090/TCP"
        ]
    );
    let before = serde_json::to_value(&d.closed[0].before.ingress).unwrap();
    assert_eq!(before["by"], "rule");
    assert_eq!(before["policy"], "knp.default.api-ingress");
    assert!(before["file"].as_str().unwrap().ends_with("api-old.yaml"));
    let after = serde_json::to_value(&d.closed[0].after.ingress).unwrap();
    assert_eq!(after["by"], "end-of-tier");
}

#[test]
fn pods_on_one_side_only_are_added_or_removed_not_flows() {
    let old = cluster(&["examples/policy/cluster.yaml"]);
    let mut new = old.clone();
    let gone = new.pods.remove(0).id();
    let (eo, en) = (
        Engine::new(&old, EvalOptions::default()),
        Engine::new(&new, EvalOptions::default()),
    );
    let d = diff(&eo, &en, None);
    assert_eq!(d.removed_pods, [gone]);
    assert!(d.added_pods.is_empty());
    assert!(d.opened.is_empty() && d.closed.is_empty());
    let back = diff(&en, &eo, None);
    assert_eq!(back.added_pods, d.removed_pods);
}
