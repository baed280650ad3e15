//! Mistakes in policies that evaluation alone does not show: policies that select no pod,
//! selectors naming labels nothing carries, rules an earlier rule of the same policy makes
//! unreachable, and `Pass` with no later tier to pass to. Only provable findings are reported.

use crate::cluster::*;
use crate::selector::Expr;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    SelectsNothing,
    UnknownLabel,
    ShadowedRule,
    PassToNothing,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub file: String,
    pub line: u32,
    pub kind: FindingKind,
    pub policy: String,
    pub path: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

/// Every label key and its values that some pod, namespace or network set carries, as
/// endpoint selectors see them (`pcns.` for namespace labels).
fn universe(c: &Cluster) -> BTreeMap<String, BTreeSet<String>> {
    let mut u: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |k: &str, v: &str| {
        u.entry(k.to_string()).or_default().insert(v.to_string());
    };
    for p in &c.pods {
        p.endpoint_labels.iter().for_each(|(k, v)| add(k, v));
    }
    for s in &c.network_sets {
        s.endpoint_labels.iter().for_each(|(k, v)| add(k, v));
    }
    for n in &c.namespaces {
        for (k, v) in &n.labels {
            add(&format!("{NS_PREFIX}{k}"), v);
        }
        add(&format!("{NS_PREFIX}{LABEL_NAME}"), &n.name);
        add(LABEL_NAMESPACE, &n.name);
    }
    u
}

fn atoms<'e>(e: &'e Expr, out: &mut Vec<(&'e str, Vec<&'e str>)>) {
    match e {
        Expr::All | Expr::Global => {}
        Expr::Has(k) | Expr::Contains(k, _) | Expr::StartsWith(k, _) | Expr::EndsWith(k, _) => {
            out.push((k, vec![]))
        }
        Expr::Eq(k, v) | Expr::Ne(k, v) => out.push((k, vec![v.as_str()])),
        Expr::In(k, s) | Expr::NotIn(k, s) => out.push((k, s.iter().map(String::as_str).collect())),
        Expr::Not(e) => atoms(e, out),
        Expr::And(es) | Expr::Or(es) => es.iter().for_each(|e| atoms(e, out)),
    }
}

fn shown(key: &str) -> String {
    if let Some(k) = key.strip_prefix(NS_PREFIX) {
        format!("namespace label `{k}`")
    } else if let Some(k) = key.strip_prefix(SA_PREFIX) {
        format!("service account label `{k}`")
    } else {
        format!("label `{key}`")
    }
}

fn unknown_labels(
    u: &BTreeMap<String, BTreeSet<String>>,
    e: &Expr,
    mut emit: impl FnMut(String, Option<String>),
) {
    let mut v = Vec::new();
    atoms(e, &mut v);
    for (k, vals) in v {
        // Labels the conversion to Calico's form adds itself are not the user's words: a
        // selector that matches nothing because of them is a `selects-nothing` finding.
        if k == LABEL_ORCHESTRATOR || k == LABEL_NAMESPACE {
            continue;
        }
        match u.get(k) {
            None => {
                // Suggest among keys of the same kind (namespace keys for namespace keys).
                let strip = |s: &str| -> (u8, String) {
                    match s.strip_prefix(NS_PREFIX) {
                        Some(r) => (1, r.to_string()),
                        None => match s.strip_prefix(SA_PREFIX) {
                            Some(r) => (2, r.to_string()),
                            None => (0, s.to_string()),
                        },
                    }
                };
                let (kind, bare) = strip(k);
                let cands: Vec<String> = u
                    .keys()
                    .map(|x| strip(x))
                    .filter(|(kd, _)| *kd == kind)
                    .map(|(_, b)| b)
                    .collect();
                let refs: Vec<&str> = cands.iter().map(String::as_str).collect();
                let near = nettwin_model::yaml::closest(&bare, &refs).map(str::to_string);
                emit(
                    format!("no pod or namespace carries the {}", shown(k)),
                    near,
                );
            }
            Some(have) => {
                for val in vals {
                    if !have.contains(val) {
                        let refs: Vec<&str> = have.iter().map(String::as_str).collect();
                        let near = nettwin_model::yaml::closest(val, &refs).map(str::to_string);
                        emit(
                            format!(
                                "no pod or namespace carries the {} with value `{val}`",
                                shown(k)
                            ),
                            near,
                        );
                    }
                }
            }
        }
    }
}

/// Whether `j` can match only packets `i` matches, provably: every field equal except the
/// destination ports, which `i` must cover (or not restrict).
fn covers(i: &Rule, j: &Rule) -> bool {
    let v = |e: &Entity| serde_json::to_value(e).unwrap_or_default();
    let mut idst = i.dst.clone();
    let mut jdst = j.dst.clone();
    let (ip, jp) = (
        std::mem::take(&mut idst.ports),
        std::mem::take(&mut jdst.ports),
    );
    let ports_ok = ip.is_empty()
        || (!jp.is_empty()
            && jp.iter().all(|q| {
                ip.iter().any(|p| match (p, q) {
                    (PortSpec::Range(a, b), PortSpec::Range(c, d)) => a <= c && d <= b,
                    (PortSpec::Named(a), PortSpec::Named(b)) => a == b,
                    _ => false,
                })
            }));
    !i.src.nothing
        && !i.dst.nothing
        && ports_ok
        && i.protocol == j.protocol
        && i.not_protocol == j.not_protocol
        && i.icmp == j.icmp
        && i.not_icmp == j.not_icmp
        && i.ip_version == j.ip_version
        && v(&i.src) == v(&j.src)
        && v(&idst) == v(&jdst)
}

pub fn lint(c: &Cluster) -> Vec<Finding> {
    let u = universe(c);
    let mut out = BTreeSet::new();
    let tier_index = |t: &str| {
        c.tiers
            .iter()
            .position(|x| x.name == t)
            .unwrap_or(usize::MAX)
    };
    for p in &c.policies {
        let finding = |kind, origin: &Origin, path: &str, message: String, suggestion| Finding {
            file: origin.file.clone(),
            line: origin.line,
            kind,
            policy: p.label(),
            path: path.to_string(),
            message,
            suggestion,
        };
        let selected: Vec<&Pod> = c.pods.iter().filter(|e| p.selector.matches(*e)).collect();
        if selected.is_empty() {
            out.insert(finding(
                FindingKind::SelectsNothing,
                &p.origin,
                "spec",
                format!("selects no pod ({})", p.selector),
                None,
            ));
        }
        unknown_labels(&u, &p.selector, |m, s| {
            out.insert(finding(FindingKind::UnknownLabel, &p.origin, "spec", m, s));
        });
        for dir in [Direction::Ingress, Direction::Egress] {
            let rules = p.rules(dir).unwrap_or(&[]);
            for (j, r) in rules.iter().enumerate() {
                for e in [&r.src, &r.dst] {
                    for sel in [&e.selector, &e.not_selector].into_iter().flatten() {
                        unknown_labels(&u, sel, |m, s| {
                            out.insert(finding(
                                FindingKind::UnknownLabel,
                                &r.origin,
                                &r.path,
                                m,
                                s,
                            ));
                        });
                    }
                }
                if let Some((i, by)) = rules[..j]
                    .iter()
                    .enumerate()
                    .find(|(_, i)| i.action != Action::Log && covers(i, r))
                {
                    out.insert(finding(
                        FindingKind::ShadowedRule,
                        &r.origin,
                        &r.path,
                        format!(
                            "{dir} rule {j} ({}) never decides: rule {i} ({}, {}) at {} matches every packet it matches",
                            r.action, by.path, by.action, by.origin
                        ),
                        None,
                    ));
                }
                if r.action == Action::Pass && !selected.is_empty() {
                    let ti = tier_index(&p.tier);
                    let alone: Vec<String> = selected
                        .iter()
                        .filter(|e| {
                            !c.policies.iter().any(|q| {
                                tier_index(&q.tier) > ti
                                    && q.rules(dir).is_some()
                                    && q.selector.matches(**e)
                            })
                        })
                        .map(|e| e.id())
                        .collect();
                    if !alone.is_empty() {
                        let n = alone.len();
                        let mut list = alone.into_iter().take(3).collect::<Vec<_>>().join(", ");
                        if n > 3 {
                            list.push_str(&format!(" and {} more", n - 3));
                        }
                        out.insert(finding(
                            FindingKind::PassToNothing,
                            &r.origin,
                            &r.path,
                            format!("{dir} Pass reaches no later tier that selects {list}: their profile allows, as Allow would"),
                            None,
                        ));
                    }
                }
            }
        }
    }
    out.into_iter().collect()
}
