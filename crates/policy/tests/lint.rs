//! `lint`: each finding kind on a fixture, and none on a clean cluster.

use nettwin_policy::lint::{lint, FindingKind};
use nettwin_policy::{load, read_paths, Cluster, LoadOptions};
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
fn every_kind_of_finding_with_its_place() {
    let c = cluster(&[
        "examples/policy/cluster.yaml",
        "examples/policy-lint/mistakes.yaml",
    ]);
    let f = lint(&c);
    let got: Vec<String> = f
        .iter()
        .map(|f| {
            format!(
                "{}:{} {:?} {} {}{}",
                f.file.rsplit('/').next().unwrap(),
                f.line,
                f.kind,
                f.policy,
                f.message,
                f.suggestion
                    .as_ref()
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let text = got.join("\n");
    let has = |kind: FindingKind, needle: &str| {
        assert!(
            f.iter()
                .any(|x| x.kind == kind && x.message.contains(needle)),
            "{kind:?} {needle}\n{text}"
        )
    };
    has(FindingKind::SelectsNothing, "selects no pod");
    assert!(
        text.contains("SelectsNothing knp.default.cache-ingress (shop)"),
        "{text}"
    );
    has(FindingKind::UnknownLabel, "namespace label `tema`");
    assert!(
        text.contains("namespace label `tema` (did you mean `team`?)"),
        "{text}"
    );
    has(
        FindingKind::UnknownLabel,
        "label `app` with value `frontnd`",
    );
    assert!(
        text.contains("value `frontnd` (did you mean `frontend`?)"),
        "{text}"
    );
    has(
        FindingKind::ShadowedRule,
        "ingress rule 1 (Allow) never decides: rule 0",
    );
    has(FindingKind::PassToNothing, "monitoring/prometheus");
    // The cache policy's selector names app=cache, which no pod carries, too.
    has(FindingKind::UnknownLabel, "value `cache`");
    // Places: the shadowed rule is the second from: peer of db-shadow, line 34.
    assert!(text.contains("mistakes.yaml:34 ShadowedRule"), "{text}");
    // Nothing else: the misspelt selectors do not also count as shadowing.
    assert_eq!(
        f.iter()
            .filter(|x| x.kind == FindingKind::ShadowedRule)
            .count(),
        1,
        "{text}"
    );
}

#[test]
fn the_rule_order_matters_for_shadowing_and_broader_later_is_fine() {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a, labels: {app: x}}\nspec: {containers: [{name: c}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n, namespace: a}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: x}}}]\n    ports: [{port: 80}]\n  - from: [{podSelector: {matchLabels: {app: x}}}]\n    ports: [{port: 80, endPort: 90}]\n";
    let c = nettwin_policy::load_str("t.yaml", text, &LoadOptions::default()).unwrap();
    assert!(lint(&c).is_empty(), "{:?}", lint(&c));
}

#[test]
fn the_example_has_no_findings_but_its_pass() {
    let c = cluster(&["examples/policy/"]);
    let f = lint(&c);
    assert!(
        f.iter().all(|x| x.kind == FindingKind::PassToNothing),
        "{f:#?}"
    );
}

/// Policies linted without any pod: the labels Calico's conversion adds itself
/// (`projectcalico.org/orchestrator`, `projectcalico.org/namespace`) are never reported as
/// unknown; what the user wrote still is.
#[test]
fn labels_the_conversion_adds_are_not_reported() {
    let c = cluster(&["examples/policy-lint/mistakes.yaml"]);
    let f = lint(&c);
    assert!(
        f.iter()
            .filter(|f| f.kind == FindingKind::UnknownLabel)
            .all(|f| !f.message.contains("projectcalico.org/")),
        "{:#?}",
        f.iter().map(|f| &f.message).collect::<Vec<_>>()
    );
    assert!(f
        .iter()
        .any(|f| f.kind == FindingKind::UnknownLabel && f.message.contains("`tema`")));
}
