//! The evaluation: the policy applied to the devices as the control plane compiles it. Rules are
//! resolved to address sets once ([`Tailnet::new`]); each device's packet filter keeps the
//! destinations that concern it ([`Tailnet::filter`]); [`Tailnet::decide`] runs one packet
//! through the receiving device's filter as the client (`wgengine/filter`) does.

use crate::nodes::{cgnat, ts_ula, Device, NodesFile};
use crate::policy::{
    Alias, AutoGroup, Condition, Lit, Op, Origin, Policy, PortRange, Protos, DEFAULT_PROTOS, ICMP,
    ICMPV6, SCTP, TCP, UDP,
};
use nettwin_model::addr::{Family, Prefix};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// `prefix` minus `holes`, as the fewest prefixes, in address order.
pub fn subtract(prefix: Prefix, holes: &[Prefix]) -> Vec<Prefix> {
    if holes.iter().any(|h| h.covers(&prefix)) {
        return Vec::new();
    }
    if !holes.iter().any(|h| prefix.covers(h)) {
        return vec![prefix];
    }
    let l = prefix.len() + 1;
    let mut out = subtract(prefix.subnet(l, 0).unwrap(), holes);
    out.extend(subtract(prefix.subnet(l, 1).unwrap(), holes));
    out
}

/// Tailscale's addresses that `*` stands for as a source: 100.64.0.0/10 without
/// 100.115.92.0/23, and fd7a:115c:a1e0::/48.
pub fn tailnet_ranges() -> Vec<Prefix> {
    let mut v = subtract(cgnat(), &["100.115.92.0/23".parse().unwrap()]);
    v.push(ts_ula());
    v
}

/// `autogroup:internet`: all public unicast space (Headscale's `TheInternet`).
pub fn internet() -> Vec<Prefix> {
    let p = |s: &str| s.parse::<Prefix>().unwrap();
    let mut v = subtract(
        p("0.0.0.0/0"),
        &[
            p("10.0.0.0/8"),
            p("172.16.0.0/12"),
            p("192.168.0.0/16"),
            cgnat(),
            p("169.254.0.0/16"),
        ],
    );
    v.extend(subtract(
        p("2000::/3"),
        &[p("fc00::/7"), ts_ula(), p("fe80::/10")],
    ));
    v
}

/// Where a filter entry's destination is: everything (`*`) or a prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    Any,
    Prefix(Prefix),
}

impl Net {
    fn contains(&self, a: IpAddr) -> bool {
        match self {
            Net::Any => true,
            Net::Prefix(p) => p.contains(a),
        }
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Net::Any => f.write_str("*"),
            Net::Prefix(p) if p.len() == p.family().max_len() => write!(f, "{}", p.network()),
            Net::Prefix(p) => write!(f, "{p}"),
        }
    }
}

/// One destination of a compiled rule.
#[derive(Clone, Debug, PartialEq)]
pub struct DstEntry {
    pub net: Net,
    pub ports: PortRange,
    pub protos: Protos,
    /// From `autogroup:internet` (kept only on approved exit nodes).
    pub internet: bool,
}

/// A policy rule resolved to addresses.
#[derive(Clone, Debug)]
pub struct CompiledRule {
    /// Index into [`Tailnet::origins`].
    pub origin: usize,
    pub src: Vec<Prefix>,
    /// The sources before posture filtering, when the rule has a posture (for explanations).
    pub src_without_posture: Option<Vec<Prefix>>,
    pub postures: Vec<String>,
    pub dst: Vec<DstEntry>,
    /// `via` tags: only routers with one of these tags get this rule.
    pub via: Vec<String>,
}

/// One rule of a device's packet filter, as the netmap shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FilterRule {
    pub rule: String,
    pub line: u32,
    #[serde(rename = "SrcIPs")]
    pub src: Vec<String>,
    #[serde(rename = "DstPorts")]
    pub dst: Vec<String>,
    #[serde(rename = "IPProto")]
    pub protos: Vec<u8>,
    #[serde(skip)]
    pub compiled: usize,
    #[serde(skip)]
    pub entries: Vec<usize>,
}

/// A device's view: its filter and the peers it sees.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NodeFilter {
    pub node: String,
    pub addresses: Vec<String>,
    /// Subnet routes this device serves (approved), and whether it is an approved exit node.
    pub routes: Vec<String>,
    pub exit_node: bool,
    pub rules: Vec<FilterRule>,
    pub peers: Vec<Peer>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Peer {
    pub name: String,
    pub allowed_ips: Vec<String>,
}

/// The verdict on one packet.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// The deciding rule, `acls[0]`, and where it is.
    pub rule: Option<String>,
    pub line: Option<u32>,
    /// The device whose filter decided (the destination, its subnet router, or the exit node).
    pub enforced_by: Option<String>,
    pub reason: String,
    /// Posture conditions that kept a rule from applying, by posture name.
    pub failed_postures: Vec<String>,
}

/// The tailnet: policy, devices, route approvals and the compiled rules.
pub struct Tailnet {
    pub policy: Policy,
    pub devices: Vec<Device>,
    pub roles: BTreeMap<String, String>,
    /// Approved subnet routes per device (file + autoApprovers).
    pub approved: Vec<Vec<Prefix>>,
    /// Approved exit node per device (file + autoApprovers.exitNode).
    pub exit: Vec<bool>,
    pub origins: Vec<Origin>,
    pub rules: Vec<CompiledRule>,
    internet: Vec<Prefix>,
}

fn host_prefixes(d: &Device) -> [Prefix; 2] {
    [
        Prefix::host(IpAddr::V4(d.ipv4)),
        Prefix::host(IpAddr::V6(d.ipv6)),
    ]
}

/// What an alias names: devices and plain prefixes.
#[derive(Default)]
struct Resolved {
    devices: Vec<usize>,
    prefixes: Vec<Prefix>,
}

impl Tailnet {
    pub fn new(policy: Policy, nodes: NodesFile) -> Tailnet {
        let mut t = Tailnet {
            policy,
            devices: nodes.devices,
            roles: nodes.roles,
            approved: Vec::new(),
            exit: Vec::new(),
            origins: Vec::new(),
            rules: Vec::new(),
            internet: internet(),
        };
        t.approve();
        t.compile();
        t
    }

    pub fn device(&self, name: &str) -> Option<usize> {
        self.devices.iter().position(|d| d.name == name)
    }

    /// The device owning address `a`.
    pub fn owner_of(&self, a: IpAddr) -> Option<usize> {
        self.devices.iter().position(|d| d.has_addr(a))
    }

    fn user_matches(device_user: &str, alias_user: &str) -> bool {
        device_user == alias_user || device_user == alias_user.trim_end_matches('@')
    }

    /// Does device `i` belong to what `a` names (tags and users; not addresses)?
    pub(crate) fn device_in(&self, i: usize, a: &Alias) -> bool {
        let d = &self.devices[i];
        match a {
            Alias::Wildcard => true,
            Alias::User(u) => {
                !d.is_tagged()
                    && d.user
                        .as_deref()
                        .is_some_and(|du| Self::user_matches(du, u))
            }
            Alias::Group(g) => self
                .policy
                .groups
                .get(g)
                .is_some_and(|m| m.iter().any(|u| self.device_in(i, &Alias::User(u.clone())))),
            Alias::Tag(t) => d.tags.contains(t),
            Alias::Auto(AutoGroup::Member) => !d.is_tagged(),
            Alias::Auto(AutoGroup::Tagged) => d.is_tagged(),
            Alias::Auto(ag) => match ag.role() {
                Some(role) => {
                    !d.is_tagged()
                        && d.user.as_ref().is_some_and(|u| {
                            self.roles
                                .get(u)
                                .is_some_and(|r| r == role || (role == "admin" && r == "owner"))
                        })
                }
                None => false,
            },
            Alias::Host(_) | Alias::Prefix(_) => host_prefixes(d)
                .iter()
                .any(|p| self.alias_prefixes(a).iter().any(|q| q.covers(p))),
        }
    }

    fn alias_prefixes(&self, a: &Alias) -> Vec<Prefix> {
        match a {
            Alias::Host(h) => self.policy.hosts.get(h).copied().into_iter().collect(),
            Alias::Prefix(p) => vec![*p],
            _ => Vec::new(),
        }
    }

    fn approver_matches(&self, i: usize, approvers: &[Alias]) -> bool {
        approvers
            .iter()
            .any(|a| !matches!(a, Alias::Host(_) | Alias::Prefix(_)) && self.device_in(i, a))
    }

    /// Route and exit approvals: the file's, plus what autoApprovers approves. An exit node is
    /// approved only by `exitNode` (0.0.0.0/0 under `routes` approves nothing).
    fn approve(&mut self) {
        for i in 0..self.devices.len() {
            let d = &self.devices[i];
            let mut routes = d.routes.clone();
            for r in &d.advertised_routes {
                if routes.contains(r) {
                    continue;
                }
                let ok = self.policy.route_approvers.iter().any(|(p, who)| {
                    !p.is_default() && p.covers(r) && self.approver_matches(i, who)
                });
                if ok {
                    routes.push(*r);
                }
            }
            let exit = d.exit_node
                || (d.advertises_exit_node
                    && self.approver_matches(i, &self.policy.exit_approvers));
            self.approved.push(routes);
            self.exit.push(exit);
        }
    }

    /// Every approved subnet route in the tailnet, each once, in device order.
    pub fn all_subnet_routes(&self) -> Vec<Prefix> {
        let mut out = Vec::new();
        for r in self.approved.iter().flatten() {
            if !out.contains(r) {
                out.push(*r);
            }
        }
        out
    }

    fn resolve(&self, a: &Alias) -> Resolved {
        let mut r = Resolved::default();
        match a {
            Alias::Wildcard => {
                r.devices = (0..self.devices.len()).collect();
                r.prefixes = tailnet_ranges();
                r.prefixes.extend(self.all_subnet_routes());
            }
            Alias::Host(_) | Alias::Prefix(_) => r.prefixes = self.alias_prefixes(a),
            Alias::Auto(AutoGroup::DangerAll) => {
                r.devices = (0..self.devices.len()).collect();
                r.prefixes = vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()];
            }
            Alias::Auto(AutoGroup::Internet) => r.prefixes = self.internet.clone(),
            _ => {
                r.devices = (0..self.devices.len())
                    .filter(|&i| self.device_in(i, a))
                    .collect()
            }
        }
        r
    }

    /// Does device `i` meet posture `name`? Returns the failing conditions.
    pub fn posture_failures(&self, i: usize, name: &str) -> Vec<String> {
        let Some(conds) = self.policy.postures.get(name) else {
            return vec![format!("{name} is not defined")];
        };
        conds
            .iter()
            .filter(|c| !condition_holds(c, self.devices[i].attrs.get(&c.attr)))
            .map(|c| c.text.clone())
            .collect()
    }

    fn compile(&mut self) {
        let rules: Vec<crate::policy::Rule> = self.policy.rules().into_iter().cloned().collect();
        for rule in &rules {
            let oi = self.origins.len();
            self.origins.push(rule.origin.clone());
            let mut src_devices = Vec::new();
            let mut src_prefixes = Vec::new();
            for (a, _) in &rule.src {
                let r = self.resolve(a);
                src_devices.extend(r.devices);
                src_prefixes.extend(r.prefixes);
            }
            src_devices.sort_unstable();
            src_devices.dedup();
            let wildcard = rule
                .src
                .iter()
                .any(|(a, _)| *a == Alias::Wildcard || *a == Alias::Auto(AutoGroup::DangerAll));
            let build_src = |devs: &[usize], with_prefixes: bool| {
                let mut v: Vec<Prefix> = Vec::new();
                if with_prefixes {
                    v.extend(src_prefixes.iter().copied());
                }
                if !(wildcard && with_prefixes) {
                    for &d in devs {
                        v.extend(host_prefixes(&self.devices[d]));
                    }
                }
                v.sort();
                v.dedup();
                v
            };
            let (src, src_without_posture) = if rule.src_posture.is_empty() {
                (build_src(&src_devices, true), None)
            } else {
                // A posture is a property of a device: only devices that meet it stay sources.
                let ok: Vec<usize> = src_devices
                    .iter()
                    .copied()
                    .filter(|&d| {
                        rule.src_posture
                            .iter()
                            .all(|p| self.posture_failures(d, p).is_empty())
                    })
                    .collect();
                (build_src(&ok, false), Some(build_src(&src_devices, false)))
            };
            let mut normal = Vec::new();
            let mut self_targets = Vec::new();
            for t in &rule.targets {
                let nets: Vec<(Net, bool)> = match &t.alias {
                    Alias::Auto(AutoGroup::SelfDevices) => {
                        self_targets.push(t);
                        continue;
                    }
                    Alias::Wildcard => vec![(Net::Any, false)],
                    Alias::Auto(AutoGroup::Internet) => self
                        .internet
                        .iter()
                        .map(|p| (Net::Prefix(*p), true))
                        .collect(),
                    a => {
                        let r = self.resolve(a);
                        let mut v: Vec<(Net, bool)> = r
                            .prefixes
                            .iter()
                            .map(|p| (Net::Prefix(*p), false))
                            .collect();
                        for d in r.devices {
                            v.extend(
                                host_prefixes(&self.devices[d])
                                    .iter()
                                    .map(|p| (Net::Prefix(*p), false)),
                            );
                        }
                        v
                    }
                };
                for (net, internet) in nets {
                    for ports in &t.ports {
                        normal.push(DstEntry {
                            net,
                            ports: *ports,
                            protos: t.protos.clone(),
                            internet,
                        });
                    }
                }
            }
            if !normal.is_empty() && (!src.is_empty() || src_without_posture.is_some()) {
                self.rules.push(CompiledRule {
                    origin: oi,
                    src: src.clone(),
                    src_without_posture: src_without_posture.clone(),
                    postures: rule.src_posture.clone(),
                    dst: normal,
                    via: rule.via.clone(),
                });
            }
            if !self_targets.is_empty() {
                // autogroup:self: per user, sources narrowed to that user's own untagged
                // devices, destinations those same devices.
                let mut users: Vec<&str> = self
                    .devices
                    .iter()
                    .filter(|d| !d.is_tagged())
                    .filter_map(|d| d.user.as_deref())
                    .collect();
                users.sort_unstable();
                users.dedup();
                for u in users {
                    let own: Vec<usize> = (0..self.devices.len())
                        .filter(|&i| {
                            !self.devices[i].is_tagged()
                                && self.devices[i].user.as_deref() == Some(u)
                        })
                        .collect();
                    let narrow = |set: &[Prefix]| -> Vec<Prefix> {
                        let mut v: Vec<Prefix> = own
                            .iter()
                            .flat_map(|&i| host_prefixes(&self.devices[i]))
                            .filter(|p| set.iter().any(|s| s.covers(p)))
                            .collect();
                        v.sort();
                        v
                    };
                    let s = narrow(&src);
                    let swp = src_without_posture.as_ref().map(|x| narrow(x));
                    if s.is_empty() && swp.as_ref().is_none_or(|x| x.is_empty()) {
                        continue;
                    }
                    let mut dst = Vec::new();
                    for t in &self_targets {
                        for &i in &own {
                            for p in host_prefixes(&self.devices[i]) {
                                for ports in &t.ports {
                                    dst.push(DstEntry {
                                        net: Net::Prefix(p),
                                        ports: *ports,
                                        protos: t.protos.clone(),
                                        internet: false,
                                    });
                                }
                            }
                        }
                    }
                    self.rules.push(CompiledRule {
                        origin: oi,
                        src: s,
                        src_without_posture: swp,
                        postures: rule.src_posture.clone(),
                        dst,
                        via: Vec::new(),
                    });
                }
            }
        }
    }

    fn is_internet(&self, p: &Prefix) -> bool {
        self.internet.iter().any(|i| i.covers(p))
    }

    /// Which entries of compiled rule `r` device `n` receives.
    fn entries_for(&self, n: usize, r: &CompiledRule) -> Vec<usize> {
        let d = &self.devices[n];
        if !r.via.is_empty() && !r.via.iter().any(|t| d.tags.contains(t)) {
            return Vec::new();
        }
        let routes = &self.approved[n];
        r.dst
            .iter()
            .enumerate()
            .filter(|(_, e)| match e.net {
                Net::Any => r.via.is_empty(),
                Net::Prefix(p) => {
                    let own = r.via.is_empty() && d.addrs().iter().any(|a| p.contains(*a));
                    let subnet = routes.iter().any(|s| s.overlaps(&p));
                    let exit =
                        self.exit[n] && (e.internet || (r.via.is_empty() && self.is_internet(&p)));
                    own || subnet || exit
                }
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The packet filter device `n` receives, in rule order, and the peers it sees.
    pub fn filter(&self, n: usize) -> NodeFilter {
        let d = &self.devices[n];
        let mut rules = Vec::new();
        if self.policy.allow_all() {
            rules.push(FilterRule {
                rule: "allow-all (no acls and no grants)".into(),
                line: 0,
                src: vec!["*".into()],
                dst: vec!["*:*".into()],
                protos: Vec::new(),
                compiled: usize::MAX,
                entries: Vec::new(),
            });
        }
        for (ci, r) in self.rules.iter().enumerate() {
            let entries = self.entries_for(n, r);
            if entries.is_empty() || r.src.is_empty() {
                continue;
            }
            let mut protos: Vec<u8> = Vec::new();
            for &e in &entries {
                match &r.dst[e].protos {
                    Some(p) => protos.extend(p),
                    None => protos.extend(DEFAULT_PROTOS),
                }
            }
            protos.sort_unstable();
            protos.dedup();
            let o = &self.origins[r.origin];
            rules.push(FilterRule {
                rule: o.name(),
                line: o.line,
                src: render_set(&r.src),
                dst: entries
                    .iter()
                    .map(|&e| format!("{}:{}", r.dst[e].net, r.dst[e].ports))
                    .collect(),
                protos,
                compiled: ci,
                entries,
            });
        }
        let peers = (0..self.devices.len())
            .filter(|&m| m != n && (self.reaches_any(m, n) || self.reaches_any(n, m)))
            .map(|m| {
                let pd = &self.devices[m];
                let mut allowed = vec![pd.ipv4.to_string() + "/32", pd.ipv6.to_string() + "/128"];
                for r in self.carried_routes(m) {
                    allowed.push(r.to_string());
                }
                if self.exit[m] {
                    allowed.push("0.0.0.0/0 (exit)".into());
                    allowed.push("::/0 (exit)".into());
                }
                Peer {
                    name: pd.name.clone(),
                    allowed_ips: allowed,
                }
            })
            .collect();
        NodeFilter {
            node: d.name.clone(),
            addresses: vec![d.ipv4.to_string(), d.ipv6.to_string()],
            routes: self.approved[n].iter().map(|p| p.to_string()).collect(),
            exit_node: self.exit[n],
            rules,
            peers,
        }
    }

    /// Routes device `m` carries as the primary router (HA: one router per prefix).
    pub fn carried_routes(&self, m: usize) -> Vec<Prefix> {
        self.approved[m]
            .iter()
            .copied()
            .filter(|r| self.primary_for(r) == Some(m))
            .collect()
    }

    /// The primary router of an approved prefix: the device marking it primary, else the first
    /// in the file that has it approved.
    pub fn primary_for(&self, r: &Prefix) -> Option<usize> {
        let has: Vec<usize> = (0..self.devices.len())
            .filter(|&i| self.approved[i].contains(r))
            .collect();
        has.iter()
            .copied()
            .find(|&i| self.devices[i].primary_routes.contains(r))
            .or(has.first().copied())
    }

    /// Can any address of `a` reach any address or route of `b` by some rule (peer visibility)?
    fn reaches_any(&self, a: usize, b: usize) -> bool {
        if self.policy.allow_all() {
            return true;
        }
        let srcs = host_prefixes(&self.devices[a]);
        self.rules.iter().any(|r| {
            r.src.iter().any(|s| srcs.iter().any(|x| s.covers(x)))
                && !self.entries_for(b, r).is_empty()
        })
    }

    /// Runs one packet from `src` to `dst` through device `at`'s filter, as the client does:
    /// the destination must be local to `at` (its address, a route it serves, or the Internet
    /// on an approved exit node); ICMP echo is accepted when any rule covers the two addresses,
    /// whatever its ports and protocols; TCP/UDP/SCTP need the protocol and the port; other
    /// protocols need the protocol and a rule open on all ports.
    pub fn decide(&self, src: IpAddr, dst: IpAddr, port: u16, proto: u8, at: usize) -> Decision {
        let d = &self.devices[at];
        let local = d.has_addr(dst)
            || self.approved[at].iter().any(|r| r.contains(dst))
            || (self.exit[at] && self.internet.iter().any(|p| p.contains(dst)));
        let mut out = Decision {
            allowed: false,
            rule: None,
            line: None,
            enforced_by: Some(d.name.clone()),
            reason: String::new(),
            failed_postures: Vec::new(),
        };
        if !local {
            out.reason = format!("{dst} is not an address of {}, a route it serves, or the Internet on an approved exit node", d.name);
            return out;
        }
        if self.policy.allow_all() {
            out.allowed = true;
            out.reason = "no acls and no grants: everything is allowed".into();
            return out;
        }
        let icmp = proto == ICMP || proto == ICMPV6;
        let entry_ok = |e: &DstEntry| -> bool {
            if !e.net.contains(dst) {
                return false;
            }
            if icmp {
                return true;
            }
            let protos: &[u8] = match &e.protos {
                Some(p) => p,
                None => &DEFAULT_PROTOS,
            };
            if !protos.contains(&proto) {
                return false;
            }
            if matches!(proto, TCP | UDP | SCTP) {
                e.ports.contains(port)
            } else {
                e.ports == PortRange::ALL
            }
        };
        let mut best: Option<(u32, u32, usize)> = None;
        let mut posture_blocked: Vec<(usize, usize)> = Vec::new();
        for (ci, r) in self.rules.iter().enumerate() {
            let entries = self.entries_for(at, r);
            if !entries.iter().any(|&e| entry_ok(&r.dst[e])) {
                continue;
            }
            let o = &self.origins[r.origin];
            if r.src.iter().any(|p| p.contains(src)) {
                if best.is_none_or(|(l, c, _)| (o.line, o.col) < (l, c)) {
                    best = Some((o.line, o.col, ci));
                }
            } else if r
                .src_without_posture
                .as_ref()
                .is_some_and(|s| s.iter().any(|p| p.contains(src)))
            {
                posture_blocked.push((ci, r.origin));
            }
        }
        if let Some((line, _, ci)) = best {
            let o = &self.origins[self.rules[ci].origin];
            out.allowed = true;
            out.rule = Some(o.name());
            out.line = Some(line);
            out.reason = if icmp {
                format!(
                    "{} covers {src} -> {dst} (ICMP is accepted whatever the rule's ports)",
                    o.name()
                )
            } else {
                format!("allowed by {}", o.name())
            };
            return out;
        }
        if let (Some(&(ci, _)), Some(sdev)) = (posture_blocked.first(), self.owner_of(src)) {
            let r = &self.rules[ci];
            for p in &r.postures {
                for c in self.posture_failures(sdev, p) {
                    out.failed_postures.push(format!("{p}: {c}"));
                }
            }
            let o = &self.origins[r.origin];
            out.rule = Some(o.name());
            out.line = Some(o.line);
            out.reason = format!(
                "{} would allow it, but {} fails its posture",
                o.name(),
                self.devices[sdev].name
            );
            return out;
        }
        out.reason = format!("no rule allows {src} -> {dst} {}", proto_port(proto, port));
        out
    }

    /// The device that receives traffic from `src` for `dst` (the owner, the router carrying
    /// the route for this source, or the named exit node), or why none does.
    pub fn enforcer(
        &self,
        src: IpAddr,
        dst: IpAddr,
        exit_node: Option<usize>,
        ingress: Option<usize>,
    ) -> Result<usize, String> {
        if let Some(o) = self.owner_of(dst) {
            return Ok(o);
        }
        // Longest approved route containing dst.
        let mut best: Option<Prefix> = None;
        for r in self.approved.iter().flatten() {
            if r.contains(dst) && best.is_none_or(|b| r.len() > b.len()) {
                best = Some(*r);
            }
        }
        if let Some(route) = best {
            let has: Vec<usize> = (0..self.devices.len())
                .filter(|&i| self.approved[i].contains(&route))
                .collect();
            // A via grant whose sources hold `src` steers this prefix to its tagged routers.
            let mut chosen = None;
            for r in &self.rules {
                if r.via.is_empty() || !r.src.iter().any(|p| p.contains(src)) {
                    continue;
                }
                if !r
                    .dst
                    .iter()
                    .any(|e| matches!(e.net, Net::Prefix(p) if p.overlaps(&route)))
                {
                    continue;
                }
                let routers: Vec<usize> = has
                    .iter()
                    .copied()
                    .filter(|&i| r.via.iter().any(|t| self.devices[i].tags.contains(t)))
                    .collect();
                if let Some(&first) = routers
                    .iter()
                    .find(|&&i| self.devices[i].primary_routes.contains(&route))
                    .or(routers.first())
                {
                    chosen = Some((first, format!("via {}", self.origins[r.origin].name())));
                    break;
                }
            }
            let (router, why) = match chosen {
                Some(c) => c,
                None => (self.primary_for(&route).unwrap(), "primary".to_string()),
            };
            if let Some(ing) = ingress {
                if ing != router {
                    return Err(format!(
                        "{} does not carry {route} for this source ({} does, {why}); an HA standby gets the filter but not the route",
                        self.devices[ing].name, self.devices[router].name
                    ));
                }
            }
            return Ok(router);
        }
        if self.internet.iter().any(|p| p.contains(dst)) {
            return match exit_node {
                Some(e) if self.exit[e] => Ok(e),
                Some(e) => Err(format!("{} is not an approved exit node (approve it with autoApprovers.exitNode or `exit_node: true`); autogroup:internet gives nothing through it", self.devices[e].name)),
                None => Err(format!("{dst} is on the Internet: name an exit node")),
            };
        }
        Err(format!(
            "no route to {dst}: no device has it, no approved subnet route covers it"
        ))
    }

    /// The ordered-pair matrix: for each pair of devices, what the first may open on the
    /// second (over IPv4), from the second's filter.
    pub fn matrix(&self) -> Vec<MatrixEntry> {
        let mut out = Vec::new();
        for b in 0..self.devices.len() {
            for a in 0..self.devices.len() {
                if a == b {
                    continue;
                }
                let allowed = self.open_ports(
                    IpAddr::V4(self.devices[a].ipv4),
                    IpAddr::V4(self.devices[b].ipv4),
                    b,
                );
                if !allowed.is_empty() {
                    out.push(MatrixEntry {
                        from: self.devices[a].name.clone(),
                        to: self.devices[b].name.clone(),
                        allowed,
                    });
                }
            }
        }
        out.sort_by(|x, y| (&x.from, &x.to).cmp(&(&y.from, &y.to)));
        out
    }

    /// What `src` may open on `dst` at device `at`: `tcp:22`, `udp:*`, `icmp`, `gre`.
    pub fn open_ports(&self, src: IpAddr, dst: IpAddr, at: usize) -> Vec<String> {
        if self.policy.allow_all() {
            return vec!["*".into()];
        }
        let mut by_proto: BTreeMap<u8, Vec<PortRange>> = BTreeMap::new();
        let mut any = false;
        for r in &self.rules {
            if !r.src.iter().any(|p| p.contains(src)) {
                continue;
            }
            for e in self.entries_for(at, r) {
                let e = &r.dst[e];
                if !e.net.contains(dst) {
                    continue;
                }
                any = true;
                let protos: Vec<u8> = e.protos.clone().unwrap_or(DEFAULT_PROTOS.to_vec());
                for p in protos {
                    if matches!(p, TCP | UDP | SCTP) {
                        by_proto.entry(p).or_default().push(e.ports);
                    } else if e.ports == PortRange::ALL {
                        by_proto.entry(p).or_default().push(PortRange::ALL);
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (p, mut ranges) in by_proto {
            if p == ICMP || p == ICMPV6 {
                continue;
            }
            let name = crate::policy::proto_name(p);
            if !matches!(p, TCP | UDP | SCTP) {
                out.push(name);
                continue;
            }
            for r in merge_ranges(&mut ranges) {
                out.push(format!("{name}:{r}"));
            }
        }
        if any {
            out.push("icmp".into());
        }
        out
    }
}

/// One row of the matrix.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MatrixEntry {
    pub from: String,
    pub to: String,
    pub allowed: Vec<String>,
}

/// Sorted, merged port ranges (adjacent ranges joined).
pub fn merge_ranges(ranges: &mut [PortRange]) -> Vec<PortRange> {
    ranges.sort();
    let mut out: Vec<PortRange> = Vec::new();
    for r in ranges.iter() {
        match out.last_mut() {
            Some(l) if u32::from(r.first) <= u32::from(l.last) + 1 => l.last = l.last.max(r.last),
            _ => out.push(*r),
        }
    }
    out
}

pub fn proto_port(proto: u8, port: u16) -> String {
    if matches!(proto, TCP | UDP | SCTP) {
        format!("{}:{port}", crate::policy::proto_name(proto))
    } else {
        crate::policy::proto_name(proto)
    }
}

/// Renders an address set as the netmap does: host addresses without a length, and runs of
/// prefixes that make one contiguous range as `first-last`.
pub fn render_set(set: &[Prefix]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < set.len() {
        let p = set[i];
        let last = |q: &Prefix| q.bits() + (q.size() - 1);
        let mut j = i;
        while j + 1 < set.len()
            && set[j + 1].family() == p.family()
            && last(&set[j]).checked_add(1) == Some(set[j + 1].bits())
        {
            j += 1;
        }
        if j > i {
            let end = last(&set[j]);
            let end: IpAddr = match p.family() {
                Family::Ipv4 => std::net::Ipv4Addr::from(end as u32).into(),
                Family::Ipv6 => std::net::Ipv6Addr::from(end).into(),
            };
            out.push(format!("{}-{end}", p.network()));
        } else if p.len() == p.family().max_len() {
            out.push(p.network().to_string());
        } else {
            out.push(p.to_string());
        }
        i = j + 1;
    }
    out
}

fn version_cmp(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    let parse = |s: &str| -> Option<Vec<u64>> {
        s.trim_start_matches('v')
            .split(['.', '-'])
            .take_while(|p| !p.is_empty())
            .map(|p| p.parse().ok())
            .collect()
    };
    let (x, y) = (parse(a)?, parse(b)?);
    let n = x.len().max(y.len());
    let get = |v: &Vec<u64>, i| v.get(i).copied().unwrap_or(0);
    Some(
        (0..n)
            .map(|i| get(&x, i).cmp(&get(&y, i)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal),
    )
}

/// Evaluates one posture condition against a device attribute (absent: only `NOT SET` holds).
pub fn condition_holds(c: &Condition, v: Option<&Lit>) -> bool {
    use std::cmp::Ordering::*;
    match (c.op, v) {
        (Op::IsSet, v) => v.is_some(),
        (Op::NotSet, v) => v.is_none(),
        (_, None) => false,
        (Op::In, Some(v)) => c.values.iter().any(|w| lit_cmp(v, w) == Some(Equal)),
        (Op::NotIn, Some(v)) => !c.values.iter().any(|w| lit_cmp(v, w) == Some(Equal)),
        (op, Some(v)) => {
            let Some(o) = lit_cmp(v, &c.values[0]) else {
                return op == Op::Ne;
            };
            match op {
                Op::Eq => o == Equal,
                Op::Ne => o != Equal,
                Op::Lt => o == Less,
                Op::Le => o != Greater,
                Op::Gt => o == Greater,
                Op::Ge => o != Less,
                _ => false,
            }
        }
    }
}

fn lit_cmp(a: &Lit, b: &Lit) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Lit::Num(x), Lit::Num(y)) => x.partial_cmp(y),
        (Lit::Bool(x), Lit::Bool(y)) => Some(x.cmp(y)),
        (Lit::Str(x), Lit::Str(y)) => version_cmp(x, y).or_else(|| Some(x.cmp(y))),
        (Lit::Str(x), Lit::Num(y)) | (Lit::Num(y), Lit::Str(x)) => {
            x.parse::<f64>().ok().and_then(|x| x.partial_cmp(y))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_source_ranges_render_like_the_netmap() {
        let r = render_set(&tailnet_ranges());
        assert_eq!(
            r,
            vec![
                "100.64.0.0-100.115.91.255",
                "100.115.94.0-100.127.255.255",
                "fd7a:115c:a1e0::/48"
            ]
        );
    }

    #[test]
    fn internet_excludes_private_and_tailnet_space() {
        let i = internet();
        let has = |s: &str| i.iter().any(|p| p.contains(s.parse().unwrap()));
        assert!(has("8.8.8.8") && has("2001:db8::1"));
        assert!(
            !has("10.1.1.1")
                && !has("100.64.0.1")
                && !has("192.168.1.1")
                && !has("fd7a:115c:a1e0::1")
        );
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(
            version_cmp("1.60.1", "1.9"),
            Some(std::cmp::Ordering::Greater)
        );
    }
}
