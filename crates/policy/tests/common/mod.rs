//! The Kubernetes e2e network-policy model, written from its published description
//! (test/e2e/network/netpol/model.go): namespaces x, y, z labelled `ns: NAME`, pods a, b, c
//! labelled `pod: NAME`, each serving ports 80 and 81 on TCP and UDP with ports named
//! `serve-PORT-PROTO`. Addresses are fixed here (10.0.1.1 is x/a, 10.0.2.3 is y/c, ...) so that
//! ipBlock cases can name them.

#![allow(dead_code)]

use nettwin_policy::{proto, Cluster, Engine, EvalOptions, LoadOptions, Probe};
use std::collections::BTreeMap;

pub const NAMESPACES: [&str; 3] = ["x", "y", "z"];
pub const PODS: [&str; 3] = ["a", "b", "c"];

pub fn ip(ns: &str, pod: &str) -> String {
    let n = NAMESPACES.iter().position(|x| *x == ns).unwrap() + 1;
    let p = PODS.iter().position(|x| *x == pod).unwrap() + 1;
    format!("10.0.{n}.{p}")
}

pub fn base() -> String {
    let mut s = String::new();
    for ns in NAMESPACES {
        s.push_str(&format!(
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels:\n    ns: {ns}\n"
        ));
        for pod in PODS {
            s.push_str(&format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\n  namespace: {ns}\n  labels:\n    pod: {pod}\nspec:\n  containers:\n"
            ));
            for port in [80, 81] {
                for proto in ["TCP", "UDP"] {
                    let l = proto.to_lowercase();
                    s.push_str(&format!(
                        "  - name: cont-{port}-{l}\n    ports:\n    - containerPort: {port}\n      name: serve-{port}-{l}\n      protocol: {proto}\n"
                    ));
                }
            }
            s.push_str(&format!("status:\n  podIPs:\n  - ip: {}\n", ip(ns, pod)));
        }
    }
    s
}

pub fn cluster(policies: &str) -> Cluster {
    let text = format!("{}---\n{policies}", base());
    match nettwin_policy::load_str("t.yaml", &text, &LoadOptions::default()) {
        Ok(c) => c,
        Err(nettwin_policy::LoadError::Invalid(files)) => {
            panic!(
                "{}",
                files
                    .iter()
                    .map(|f| f.diags.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        }
        Err(e) => panic!("{e}"),
    }
}

/// e2e's Reachability: every pair starts allowed; `expect` narrows by namespace and pod.
#[derive(Clone, Debug, PartialEq)]
pub struct Reach(pub BTreeMap<(String, String), bool>);

/// `None` matches any namespace or pod, as e2e's `Peer{}`.
pub type Peer<'a> = (Option<&'a str>, Option<&'a str>);
pub const ANY: Peer<'static> = (None, None);

pub fn ns(n: &str) -> Peer<'_> {
    (Some(n), None)
}

pub fn pod<'a>(n: &'a str, p: &'a str) -> Peer<'a> {
    (Some(n), Some(p))
}

impl Reach {
    pub fn new(default: bool) -> Reach {
        let mut m = BTreeMap::new();
        for a in all_pods() {
            for b in all_pods() {
                m.insert((a.clone(), b.clone()), default);
            }
        }
        Reach(m)
    }

    pub fn expect(&mut self, from: Peer<'_>, to: Peer<'_>, v: bool) -> &mut Reach {
        let hit = |id: &str, p: Peer<'_>| {
            let (n, q) = id.split_once('/').unwrap();
            p.0.is_none_or(|x| x == n) && p.1.is_none_or(|x| x == q)
        };
        for ((a, b), cell) in self.0.iter_mut() {
            if hit(a, from) && hit(b, to) {
                *cell = v;
            }
        }
        self
    }
}

pub fn all_pods() -> Vec<String> {
    let mut v = Vec::new();
    for n in NAMESPACES {
        for p in PODS {
            v.push(format!("{n}/{p}"));
        }
    }
    v
}

/// The twin's answer for every pair on one port, loopback left out as the e2e suite does.
pub fn matrix(c: &Cluster, opts: EvalOptions, port: u16, protocol: &str) -> Reach {
    let protocol = match protocol {
        "TCP" => proto::TCP,
        "UDP" => proto::UDP,
        "SCTP" => proto::SCTP,
        _ => panic!("{protocol}"),
    };
    let e = Engine::new(c, opts);
    let mut m = BTreeMap::new();
    for a in all_pods() {
        for b in all_pods() {
            let (fa, fb) = (c.pod(&a).unwrap(), c.pod(&b).unwrap());
            let v = e.check(
                &Probe {
                    from: fa,
                    to: fb,
                    protocol,
                    port,
                },
                false,
            );
            m.insert((a.clone(), b.clone()), v.allowed);
        }
    }
    Reach(m)
}

/// Compares, ignoring loopback, and prints the differing cells.
pub fn check(c: &Cluster, port: u16, protocol: &str, want: &Reach) {
    check_with(c, EvalOptions::default(), port, protocol, want);
}

pub fn check_with(c: &Cluster, opts: EvalOptions, port: u16, protocol: &str, want: &Reach) {
    let got = matrix(c, opts, port, protocol);
    let mut diffs = Vec::new();
    for ((a, b), w) in &want.0 {
        if a == b {
            continue;
        }
        let g = got.0[&(a.clone(), b.clone())];
        if g != *w {
            diffs.push(format!("{a} -> {b}: want {w}, got {g}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "port {port}/{protocol}:\n{}",
        diffs.join("\n")
    );
}

/// The deciding rule of both directions, for one pair.
pub fn verdict(
    c: &Cluster,
    from: &str,
    to: &str,
    port: u16,
    protocol: u8,
) -> nettwin_policy::Verdict {
    let e = Engine::new(c, EvalOptions::default());
    e.check(
        &Probe {
            from: c.pod(from).unwrap(),
            to: c.pod(to).unwrap(),
            protocol,
            port,
        },
        true,
    )
}
