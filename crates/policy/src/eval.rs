//! Deciding a connection, the way felix's endpoint chains do.
//!
//! A connection from pod S to pod D is allowed when S's egress and D's ingress both allow it
//! (replies of an allowed connection are allowed: conntrack). One direction at one endpoint:
//! the tiers in order; in a tier, the policies that apply to the direction and whose selector
//! selects the endpoint, in order; in a policy its rules in order. The first matching rule
//! decides: Allow accepts (later tiers are not consulted), Deny drops, Pass jumps to the next
//! tier, Log records and goes on. When no rule of a tier's selecting policies matched, the
//! tier's default action applies: Deny (the default tier) drops, Pass goes on. A tier with no
//! selecting policy is skipped. After the last tier the namespace's profile allows.

use crate::cluster::*;
use crate::selector::{Expr, Labels};
use serde::Serialize;
use std::net::IpAddr;

/// Which data plane's reading of Kubernetes `ipBlock` to follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cni {
    /// `ipBlock` matches any address in the block, pods' included (`except` carved out).
    #[default]
    Calico,
    /// `ipBlock` never matches a pod's address (Cilium gives pods identities, not CIDRs).
    Cilium,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct EvalOptions {
    pub cni: Cni,
}

/// A connection attempt between two pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Probe {
    pub from: usize,
    pub to: usize,
    pub protocol: u8,
    pub port: u16,
}

/// What decided one direction.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Decider {
    /// A rule matched.
    Rule {
        policy: String,
        kind: PolicyKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        tier: String,
        /// The rule's index among the policy's rules of this direction, as Calico numbers them.
        rule: usize,
        action: Action,
        path: String,
        file: String,
        line: u32,
    },
    /// Policies of the tier selected the endpoint, no rule matched, and the tier's default
    /// action is Deny.
    EndOfTier {
        tier: String,
        /// The selecting policies.
        policies: Vec<String>,
    },
    /// No tier decided: the namespace profile (`kns.NAMESPACE`) allows.
    Profile { profile: String },
    /// A pod reaching itself: the packet never leaves its network namespace.
    Loopback,
    /// The two pods share no address family.
    NoCommonFamily,
}

impl Decider {
    /// One line for people: `knp.default.deny-all (x) ingress rule 0 at file:line`.
    pub fn describe(&self) -> String {
        match self {
            Decider::Rule {
                policy,
                namespace,
                tier,
                rule,
                action,
                path,
                file,
                line,
                ..
            } => {
                let ns = namespace
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                format!(
                    "{action} by {policy}{ns} rule {rule} ({path}) in tier {tier} at {file}:{line}"
                )
            }
            Decider::EndOfTier { tier, policies } => format!(
                "denied at the end of tier {tier}: selected by {} and no rule matched",
                policies.join(", ")
            ),
            Decider::Profile { profile } => {
                format!("allowed by profile {profile}: no policy decided")
            }
            Decider::Loopback => "allowed: a pod reaching itself never leaves its namespace".into(),
            Decider::NoCommonFamily => "no common address family".into(),
        }
    }
}

/// One direction's answer.
#[derive(Clone, Debug, Serialize)]
pub struct DirVerdict {
    pub allowed: bool,
    #[serde(flatten)]
    pub decider: Decider,
    /// Every step taken, when explaining.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
}

/// One step of an explanation.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub tier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    pub text: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub allowed: bool,
    pub egress: DirVerdict,
    pub ingress: DirVerdict,
}

/// The packet as the rules see it.
struct Packet<'a> {
    src: Peer<'a>,
    dst: Peer<'a>,
    protocol: u8,
    port: u16,
}

#[derive(Clone, Copy)]
struct Peer<'a> {
    pod: &'a Pod,
    ip: IpAddr,
}

/// Why a rule did not match (formatted only when explaining).
enum Miss {
    IpVersion(u8),
    Protocol(u8),
    NotProtocol(u8),
    Icmp,
    Side(&'static str, SideMiss),
}

enum SideMiss {
    Nothing,
    Nets,
    IpBlockPod,
    NotNets,
    Selector,
    NotSelector,
    Ports,
    NotPorts,
    SourcePorts,
}

/// The policy engine over one cluster.
pub struct Engine<'c> {
    pub cluster: &'c Cluster,
    pub opts: EvalOptions,
    /// For each tier, the range of `cluster.policies` in it.
    tier_ranges: Vec<(usize, std::ops::Range<usize>)>,
}

impl<'c> Engine<'c> {
    pub fn new(cluster: &'c Cluster, opts: EvalOptions) -> Engine<'c> {
        let mut tier_ranges = Vec::new();
        let mut start = 0;
        for (ti, t) in cluster.tiers.iter().enumerate() {
            let mut end = start;
            while end < cluster.policies.len() && cluster.policies[end].tier == t.name {
                end += 1;
            }
            tier_ranges.push((ti, start..end));
            start = end;
        }
        Engine {
            cluster,
            opts,
            tier_ranges,
        }
    }

    /// Decides `probe`; with `explain`, every step is recorded.
    pub fn check(&self, probe: &Probe, explain: bool) -> Verdict {
        let c = self.cluster;
        let (src, dst) = (&c.pods[probe.from], &c.pods[probe.to]);
        if probe.from == probe.to {
            let v = DirVerdict {
                allowed: true,
                decider: Decider::Loopback,
                steps: Vec::new(),
            };
            return Verdict {
                allowed: true,
                egress: v.clone(),
                ingress: v,
            };
        }
        let Some((sip, dip)) = common_family(src, dst) else {
            let v = DirVerdict {
                allowed: false,
                decider: Decider::NoCommonFamily,
                steps: Vec::new(),
            };
            return Verdict {
                allowed: false,
                egress: v.clone(),
                ingress: v,
            };
        };
        let pkt = Packet {
            src: Peer { pod: src, ip: sip },
            dst: Peer { pod: dst, ip: dip },
            protocol: probe.protocol,
            port: probe.port,
        };
        let egress = self.direction(src, Direction::Egress, &pkt, explain);
        let ingress = self.direction(dst, Direction::Ingress, &pkt, explain);
        Verdict {
            allowed: egress.allowed && ingress.allowed,
            egress,
            ingress,
        }
    }

    fn direction(&self, ep: &Pod, dir: Direction, pkt: &Packet<'_>, explain: bool) -> DirVerdict {
        let c = self.cluster;
        let mut steps = Vec::new();
        for (ti, range) in &self.tier_ranges {
            let tier = &c.tiers[*ti];
            let selecting: Vec<&Policy> = c.policies[range.clone()]
                .iter()
                .filter(|p| p.rules(dir).is_some() && p.selector.matches(ep))
                .collect();
            if selecting.is_empty() {
                if explain {
                    steps.push(Step {
                        tier: tier.name.clone(),
                        policy: None,
                        rule: None,
                        at: None,
                        text: format!("no {dir} policy of tier {} selects {}", tier.name, ep.id()),
                    });
                }
                continue;
            }
            let mut passed = false;
            'policies: for p in &selecting {
                let rules = p.rules(dir).unwrap_or(&[]);
                if explain {
                    steps.push(Step {
                        tier: tier.name.clone(),
                        policy: Some(p.label()),
                        rule: None,
                        at: Some(p.origin.to_string()),
                        text: format!(
                            "{} selects {} ({}; order {})",
                            p.label(),
                            ep.id(),
                            p.selector,
                            p.order.map_or("none".to_string(), |o| o.to_string())
                        ),
                    });
                }
                for (i, r) in rules.iter().enumerate() {
                    match self.rule_matches(r, pkt) {
                        Err(miss) => {
                            if explain {
                                steps.push(Step {
                                    tier: tier.name.clone(),
                                    policy: Some(p.label()),
                                    rule: Some(i),
                                    at: Some(r.origin.to_string()),
                                    text: format!(
                                        "rule {i} ({}, {}) does not match: {}",
                                        r.path,
                                        r.action,
                                        self.miss_text(&miss, r, pkt)
                                    ),
                                });
                            }
                        }
                        Ok(()) => {
                            if explain {
                                steps.push(Step {
                                    tier: tier.name.clone(),
                                    policy: Some(p.label()),
                                    rule: Some(i),
                                    at: Some(r.origin.to_string()),
                                    text: format!("rule {i} ({}) matches: {}", r.path, r.action),
                                });
                            }
                            let decider = || Decider::Rule {
                                policy: p.display.clone(),
                                kind: p.kind,
                                namespace: p.namespace.clone(),
                                tier: tier.name.clone(),
                                rule: i,
                                action: r.action,
                                path: r.path.clone(),
                                file: r.origin.file.clone(),
                                line: r.origin.line,
                            };
                            match r.action {
                                Action::Log => {}
                                Action::Allow => {
                                    return DirVerdict {
                                        allowed: true,
                                        decider: decider(),
                                        steps,
                                    }
                                }
                                Action::Deny => {
                                    return DirVerdict {
                                        allowed: false,
                                        decider: decider(),
                                        steps,
                                    }
                                }
                                Action::Pass => {
                                    passed = true;
                                    break 'policies;
                                }
                            }
                        }
                    }
                }
                if explain {
                    steps.push(Step {
                        tier: tier.name.clone(),
                        policy: Some(p.label()),
                        rule: None,
                        at: None,
                        text: if rules.is_empty() {
                            format!("{} has no {dir} rules", p.label())
                        } else {
                            format!("no rule of {} matched", p.label())
                        },
                    });
                }
            }
            if passed {
                if explain {
                    steps.push(Step {
                        tier: tier.name.clone(),
                        policy: None,
                        rule: None,
                        at: None,
                        text: format!("passed to the tier after {}", tier.name),
                    });
                }
                continue;
            }
            match tier.default_action {
                TierAction::Deny => {
                    return DirVerdict {
                        allowed: false,
                        decider: Decider::EndOfTier {
                            tier: tier.name.clone(),
                            policies: selecting.iter().map(|p| p.label()).collect(),
                        },
                        steps,
                    }
                }
                TierAction::Pass => {
                    if explain {
                        steps.push(Step {
                            tier: tier.name.clone(),
                            policy: None,
                            rule: None,
                            at: None,
                            text: format!("end of tier {}: its default action is Pass", tier.name),
                        });
                    }
                }
            }
        }
        DirVerdict {
            allowed: true,
            decider: Decider::Profile {
                profile: format!("kns.{}", ep.namespace),
            },
            steps,
        }
    }

    fn rule_matches(&self, r: &Rule, pkt: &Packet<'_>) -> Result<(), Miss> {
        let v = if pkt.dst.ip.is_ipv4() { 4 } else { 6 };
        if let Some(want) = r.ip_version {
            if want != v {
                return Err(Miss::IpVersion(want));
            }
        }
        if let Some(p) = r.protocol {
            if p != pkt.protocol {
                return Err(Miss::Protocol(p));
            }
        }
        if let Some(p) = r.not_protocol {
            if p == pkt.protocol {
                return Err(Miss::NotProtocol(p));
            }
        }
        if r.icmp.is_some() && !matches!(pkt.protocol, proto::ICMP | proto::ICMPV6) {
            return Err(Miss::Icmp);
        }
        self.entity_matches(&r.src, pkt.src, None, pkt.protocol)
            .map_err(|m| Miss::Side("source", m))?;
        self.entity_matches(&r.dst, pkt.dst, Some(pkt.port), pkt.protocol)
            .map_err(|m| Miss::Side("destination", m))?;
        Ok(())
    }

    /// Whether `sel` selects the peer: by its labels, or through a network set whose labels it
    /// selects and whose nets hold the peer's address (felix matches IP sets).
    fn selects(&self, sel: &Expr, peer: Peer<'_>) -> bool {
        sel.matches(peer.pod)
            || self.cluster.network_sets.iter().any(|s| {
                s.nets.iter().any(|n| n.contains(peer.ip)) && sel.matches(s as &dyn Labels)
            })
    }

    fn entity_matches(
        &self,
        e: &Entity,
        peer: Peer<'_>,
        port: Option<u16>,
        protocol: u8,
    ) -> Result<(), SideMiss> {
        if e.nothing {
            return Err(SideMiss::Nothing);
        }
        if !e.nets.is_empty() {
            if e.ip_block && self.opts.cni == Cni::Cilium {
                return Err(SideMiss::IpBlockPod);
            }
            if !e.nets.iter().any(|n| n.contains(peer.ip)) {
                return Err(SideMiss::Nets);
            }
        }
        if e.not_nets.iter().any(|n| n.contains(peer.ip)) {
            return Err(SideMiss::NotNets);
        }
        if let Some(sel) = &e.selector {
            if !self.selects(sel, peer) {
                return Err(SideMiss::Selector);
            }
        }
        if let Some(sel) = &e.not_selector {
            if self.selects(sel, peer) {
                return Err(SideMiss::NotSelector);
            }
        }
        let port_in = |spec: &PortSpec, port: u16| match spec {
            PortSpec::Range(a, b) => (*a..=*b).contains(&port),
            PortSpec::Named(n) => peer.pod.ports.iter().any(|cp| {
                cp.name.as_deref() == Some(n) && cp.protocol == protocol && cp.port == port
            }),
        };
        match port {
            Some(port) => {
                if !e.ports.is_empty() && !e.ports.iter().any(|s| port_in(s, port)) {
                    return Err(SideMiss::Ports);
                }
                if e.not_ports.iter().any(|s| port_in(s, port)) {
                    return Err(SideMiss::NotPorts);
                }
            }
            // The source port of a probe is ephemeral and unknown: a source port match fails.
            None if !e.ports.is_empty() => return Err(SideMiss::SourcePorts),
            None => {}
        }
        Ok(())
    }

    fn miss_text(&self, m: &Miss, r: &Rule, pkt: &Packet<'_>) -> String {
        match m {
            Miss::IpVersion(v) => format!("the rule is for IPv{v}"),
            Miss::Protocol(p) => format!(
                "protocol {} is not the rule's {}",
                proto::name(pkt.protocol),
                proto::name(*p)
            ),
            Miss::NotProtocol(p) => format!("the rule excludes protocol {}", proto::name(*p)),
            Miss::Icmp => "the rule matches ICMP types only".into(),
            Miss::Side(side, sm) => {
                let (e, peer) = if *side == "source" {
                    (&r.src, pkt.src)
                } else {
                    (&r.dst, pkt.dst)
                };
                let who = format!("{} {} ({})", side, peer.pod.id(), peer.ip);
                let list = |v: &[nettwin_model::Prefix]| {
                    v.iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let ports = |v: &[PortSpec]| {
                    v.iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                match sm {
                    SideMiss::Nothing => format!("the {side} peer cannot be a pod"),
                    SideMiss::Nets => format!("{who} is not in {}", list(&e.nets)),
                    SideMiss::IpBlockPod => format!(
                        "{who}: with --cni cilium an ipBlock ({}) never matches a pod",
                        list(&e.nets)
                    ),
                    SideMiss::NotNets => format!("{who} is in the excluded {}", list(&e.not_nets)),
                    SideMiss::Selector => format!(
                        "{who} is not selected by {}",
                        e.selector
                            .as_ref()
                            .map(|s| s.to_string())
                            .unwrap_or_default()
                    ),
                    SideMiss::NotSelector => format!(
                        "{who} is selected by the notSelector {}",
                        e.not_selector
                            .as_ref()
                            .map(|s| s.to_string())
                            .unwrap_or_default()
                    ),
                    SideMiss::Ports => format!(
                        "port {}/{} is not in [{}]{}",
                        pkt.port,
                        proto::name(pkt.protocol),
                        ports(&e.ports),
                        if e.ports.iter().any(|p| matches!(p, PortSpec::Named(_))) {
                            format!(
                                " (named ports of {}: {})",
                                peer.pod.id(),
                                named_ports(peer.pod)
                            )
                        } else {
                            String::new()
                        }
                    ),
                    SideMiss::NotPorts => format!(
                        "port {} is in the excluded [{}]",
                        pkt.port,
                        ports(&e.not_ports)
                    ),
                    SideMiss::SourcePorts => {
                        "the rule matches source ports, and a probe's source port is ephemeral"
                            .into()
                    }
                }
            }
        }
    }
}

fn named_ports(p: &Pod) -> String {
    let v: Vec<String> = p
        .ports
        .iter()
        .filter_map(|cp| {
            cp.name
                .as_ref()
                .map(|n| format!("{n}={}/{}", cp.port, proto::name(cp.protocol)))
        })
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The addresses of a connection: IPv4 when both pods have one, else IPv6.
fn common_family(a: &Pod, b: &Pod) -> Option<(IpAddr, IpAddr)> {
    for v4 in [true, false] {
        let x = a.ips.iter().find(|ip| ip.is_ipv4() == v4);
        let y = b.ips.iter().find(|ip| ip.is_ipv4() == v4);
        if let (Some(x), Some(y)) = (x, y) {
            return Some((*x, *y));
        }
    }
    None
}
