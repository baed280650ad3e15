//! Which flows a change of manifests opens or closes: every ordered pair of pods present on
//! both sides, on every port, decided before and after, with the deciding rules. Pods present
//! on one side only are reported as added or removed, not as flow changes.

use crate::eval::{DirVerdict, Engine, Probe, Verdict};
use crate::matrix::{resolve, PortProto, PortRef};
use crate::proto;
use serde::Serialize;

/// One side's answer for a flow (the steps left out).
#[derive(Clone, Debug, Serialize)]
pub struct Side {
    pub allowed: bool,
    pub egress: DirVerdict,
    pub ingress: DirVerdict,
}

impl From<Verdict> for Side {
    fn from(v: Verdict) -> Side {
        Side {
            allowed: v.allowed,
            egress: v.egress,
            ingress: v.ingress,
        }
    }
}

/// A flow whose answer changed.
#[derive(Clone, Debug, Serialize)]
pub struct FlowChange {
    pub from: String,
    pub to: String,
    /// The port number on the new side's destination pod.
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_name: Option<String>,
    pub protocol: String,
    /// `opened` (denied before, allowed after) or `closed`.
    pub change: &'static str,
    pub before: Side,
    pub after: Side,
}

/// Everything that changed between two clusters.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Diff {
    /// The ports compared (`80/TCP`).
    pub ports: Vec<String>,
    /// Pods only in the new manifests / only in the old, `ns/name`.
    pub added_pods: Vec<String>,
    pub removed_pods: Vec<String>,
    /// Flows compared (both sides resolved the port).
    pub flows: usize,
    pub opened: Vec<FlowChange>,
    pub closed: Vec<FlowChange>,
}

/// Compares `old` with `new` on `ports`; `None` means every container port the pods common
/// to both sides declare (on either side).
pub fn diff(old: &Engine<'_>, new: &Engine<'_>, ports: Option<&[PortProto]>) -> Diff {
    let (oc, nc) = (old.cluster, new.cluster);
    let mut d = Diff::default();
    // Pods on both sides, as (old index, new index), in the new side's order.
    let mut common = Vec::new();
    for (ni, p) in nc.pods.iter().enumerate() {
        match oc.pod(&p.id()) {
            Some(oi) => common.push((oi, ni)),
            None => d.added_pods.push(p.id()),
        }
    }
    for p in &oc.pods {
        if nc.pod(&p.id()).is_none() {
            d.removed_pods.push(p.id());
        }
    }
    let ports: Vec<PortProto> = match ports {
        Some(p) => p.to_vec(),
        None => {
            let mut v =
                crate::matrix::declared_ports(oc, &common.iter().map(|c| c.0).collect::<Vec<_>>());
            v.extend(crate::matrix::declared_ports(
                nc,
                &common.iter().map(|c| c.1).collect::<Vec<_>>(),
            ));
            v.sort_by_key(|p| (proto::name(p.protocol), p.port.clone()));
            v.dedup();
            v
        }
    };
    d.ports = ports.iter().map(|p| p.to_string()).collect();
    for pp in &ports {
        for &(ofrom, nfrom) in &common {
            for &(oto, nto) in &common {
                if nfrom == nto {
                    continue;
                }
                let (Some(oport), Some(nport)) = (resolve(oc, oto, pp), resolve(nc, nto, pp))
                else {
                    continue;
                };
                d.flows += 1;
                let probe = |from, to, port| Probe {
                    from,
                    to,
                    protocol: pp.protocol,
                    port,
                };
                let before = old.check(&probe(ofrom, oto, oport), false);
                let after = new.check(&probe(nfrom, nto, nport), false);
                if before.allowed == after.allowed {
                    continue;
                }
                let change = FlowChange {
                    from: nc.pods[nfrom].id(),
                    to: nc.pods[nto].id(),
                    port: nport,
                    port_name: match &pp.port {
                        PortRef::Named(n) => Some(n.clone()),
                        PortRef::Number(_) => None,
                    },
                    protocol: proto::name(pp.protocol),
                    change: if after.allowed { "opened" } else { "closed" },
                    before: before.into(),
                    after: after.into(),
                };
                if change.after.allowed {
                    d.opened.push(change);
                } else {
                    d.closed.push(change);
                }
            }
        }
    }
    d
}
