//! `nettwin policy`: check, matrix (text, JSON, probes), explain, and bad input.

mod common;
use common::*;

#[test]
fn check_summarises_the_example() {
    let o = nettwin(&["policy", "check", "-f", "examples/policy/", "-v"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("ok: 2 namespaces, 5 pods, 5 policies (3 knp, 1 anp, 1 calico-gnp), tiers in use: security > adminnetworkpolicy > default\n"), "{out}");
    assert!(out.contains("skipped 1 ConfigMap"), "{out}");
}

#[test]
fn matrix_is_cyclonus_style() {
    let o = nettwin(&[
        "policy",
        "matrix",
        "-f",
        "examples/policy",
        "--ports",
        "5432",
        "--namespaces",
        "shop",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "5432/TCP\n\
-                shop/api-0  shop/db-0  shop/frontend-0  shop/frontend-1\n\
shop/api-0       .           .          X                X\n\
shop/db-0        X           .          X                X\n\
shop/frontend-0  X           X          .                X\n\
shop/frontend-1  X           X          X                .\n"
    );
}

#[test]
fn probes_file_answers_exactly_those_with_the_deciding_rules() {
    let dir = std::env::temp_dir().join(format!("nettwin-policy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let probes = dir.join("probes.json");
    std::fs::write(
        &probes,
        r#"{"probes":[{"from":"shop/frontend-0","to":"shop/api-0","port":"http","protocol":"TCP"},
                     {"from":"monitoring/prometheus","to":"shop/db-0","port":5432}]}"#,
    )
    .unwrap();
    let o = nettwin(&[
        "policy",
        "matrix",
        "-f",
        "examples/policy",
        "--probes",
        probes.to_str().unwrap(),
        "--json",
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let p = v["probes"].as_array().unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p[0]["allowed"], true);
    assert_eq!(p[0]["port"], 8080);
    assert_eq!(p[0]["ingress"]["policy"], "knp.default.api-from-frontend");
    assert_eq!(p[1]["allowed"], false);
    assert_eq!(p[1]["ingress"]["by"], "rule");
    assert_eq!(p[1]["ingress"]["tier"], "security");
    assert_eq!(p[1]["ingress"]["action"], "Deny");
    assert_eq!(p[1]["ingress"]["file"], "examples/policy/policies.yaml");
    assert_eq!(p[1]["egress"]["by"], "profile");
}

#[test]
fn explain_walks_both_directions() {
    let o = nettwin(&[
        "policy",
        "explain",
        "-f",
        "examples/policy",
        "--from",
        "monitoring/prometheus",
        "--to",
        "shop/api-0",
        "--port",
        "metrics/TCP",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("port 9090/TCP: ALLOWED"), "{out}");
    assert!(out.contains("egress at monitoring/prometheus:"), "{out}");
    assert!(out.contains("ingress at shop/api-0:"), "{out}");
    assert!(
        out.contains("=> allowed: Allow by kanp.adminnetworkpolicy.monitoring rule 0 (spec.ingress[0].from[0]) in tier adminnetworkpolicy at examples/policy/policies.yaml:"),
        "{out}"
    );
    assert!(
        out.contains("replies of the connection are allowed"),
        "{out}"
    );
}

#[test]
fn bad_manifests_exit_2_with_every_error() {
    let dir = std::env::temp_dir().join(format!("nettwin-policy-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bad.yaml"),
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  selector: app == 'web' && tier = 'db'\n  ingres: []\n",
    )
    .unwrap();
    let o = nettwin(&["policy", "check", "-f", dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("bad.yaml:5:34: bad selector: expected `==`\n    app == 'web' && tier = 'db'\n                         ^"), "{err}");
    assert!(
        err.contains("bad.yaml:6:3: unknown key `ingres` (did you mean `ingress`?)"),
        "{err}"
    );
    assert!(
        err.ends_with("2 errors in ") || err.contains("2 errors in"),
        "{err}"
    );
    let o = nettwin(&[
        "policy",
        "explain",
        "-f",
        "examples/policy",
        "--from",
        "shop/nope",
        "--to",
        "shop/db-0",
        "--port",
        "5432",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--from: no pod `shop/nope`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn diff_reports_a_narrowed_rule_with_the_rule_before_and_after() {
    let o = nettwin(&[
        "policy",
        "diff",
        "-f",
        "examples/policy/cluster.yaml",
        "-f",
        "examples/policy-diff/api-old.yaml",
        "--to-files",
        "examples/policy/cluster.yaml",
        "examples/policy-diff/api-new.yaml",
        "--ports",
        "8080,9090",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("closed shop/frontend-0 -> shop/api-0 9090/TCP\n    ingress before: Allow by knp.default.api-ingress (shop) rule 0 (spec.ingress[0].from[0]) in tier default at examples/policy-diff/api-old.yaml:9\n    ingress after:  denied at the end of tier default"), "{out}");
    assert!(!out.contains("8080/TCP\n"), "{out}");
    assert!(out.ends_with("0 opened, 2 closed, 0 pods added, 0 removed (40 flows compared on 8080/TCP, 9090/TCP)\n"), "{out}");
}

#[test]
fn diff_json_of_a_deny_all_added_and_pods_on_one_side() {
    let o = nettwin(&[
        "policy",
        "diff",
        "-f",
        "examples/policy/cluster.yaml",
        "--to-files",
        "examples/policy-diff/deny-all.yaml",
        "examples/policy/cluster.yaml",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["opened"].as_array().unwrap().len(), 0);
    let closed = v["closed"].as_array().unwrap();
    assert!(!closed.is_empty());
    assert_eq!(closed[0]["change"], "closed");
    assert_eq!(closed[0]["before"]["ingress"]["by"], "profile");
    assert_eq!(closed[0]["after"]["ingress"]["by"], "end-of-tier");

    // Reverse, and against the full example: pods of the workload-free side are added.
    let o = nettwin(&[
        "policy",
        "diff",
        "-f",
        "examples/policy-diff/deny-all.yaml",
        "--to-files",
        "examples/policy/cluster.yaml",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["added_pods"].as_array().unwrap().len(), 5, "{v}");
    assert_eq!(v["closed"].as_array().unwrap().len(), 0);
    assert_eq!(v["opened"].as_array().unwrap().len(), 0);
}

#[test]
fn lint_lists_each_finding_with_its_place_and_exits_1() {
    let o = nettwin(&[
        "policy",
        "lint",
        "-f",
        "examples/policy/cluster.yaml",
        "-f",
        "examples/policy-lint/",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "examples/policy-lint/mistakes.yaml:5: selects-nothing: knp.default.cache-ingress (shop) (spec): selects no pod",
        "examples/policy-lint/mistakes.yaml:18: unknown-label: knp.default.api-typos (shop) (spec.ingress[0].from[0]): no pod or namespace carries the namespace label `tema` (did you mean `team`?)",
        "examples/policy-lint/mistakes.yaml:20: unknown-label: knp.default.api-typos (shop) (spec.ingress[1].from[0]): no pod or namespace carries the label `app` with value `frontnd` (did you mean `frontend`?)",
        "examples/policy-lint/mistakes.yaml:34: shadowed-rule: knp.default.db-shadow (shop) (spec.ingress[1].from[0]): ingress rule 1 (Allow) never decides: rule 0",
        "examples/policy-lint/mistakes.yaml:53: pass-to-nothing: platform.to-owners (spec.egress[0]): egress Pass reaches no later tier that selects monitoring/prometheus",
    ] {
        assert!(out.contains(needle), "{needle}\n{out}");
    }
    assert!(out.ends_with("6 findings\n"), "{out}");
}

#[test]
fn lint_json_and_a_clean_cluster_exits_0() {
    let o = nettwin(&[
        "policy",
        "lint",
        "-f",
        "examples/policy/cluster.yaml",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);
    let o = nettwin(&[
        "policy",
        "lint",
        "-f",
        "examples/policy/cluster.yaml",
        "-f",
        "examples/policy-lint/mistakes.yaml",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let kinds: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    for k in [
        "selects-nothing",
        "unknown-label",
        "shadowed-rule",
        "pass-to-nothing",
    ] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
}
