//! Questions asked of a tailnet: the policy's own `tests` and `sshTests` run as Tailscale runs
//! them, `can` (may this source reach that destination, by which rule), SSH decisions, and the
//! batch queries of `mesh check --queries`.

use crate::policy::{
    parse_alias, parse_ports, parse_proto, split_host_ports, Alias, AutoGroup, PolicyTest, SshTest,
    DEFAULT_PROTOS, ICMP, ICMPV6, SCTP, TCP, UDP,
};
use crate::tailnet::{Decision, Net, Tailnet};
use nettwin_model::addr::{parse_addr, Prefix};
use std::net::IpAddr;

/// One assertion of one `tests` entry.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Assertion {
    pub test: usize,
    pub line: u32,
    pub src: String,
    pub dst: String,
    pub proto: Option<String>,
    /// `accept` or `deny`.
    pub expect: &'static str,
    pub pass: bool,
    /// What happened: the matched rule, or why the entry cannot be run.
    pub detail: String,
    pub rule: Option<String>,
}

/// The outcome of the `tests` and `sshTests` blocks.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TestReport {
    pub pass: bool,
    pub tests: Vec<Assertion>,
    pub ssh_tests: Vec<Assertion>,
}

impl TestReport {
    pub fn failures(&self) -> impl Iterator<Item = &Assertion> {
        self.tests.iter().chain(&self.ssh_tests).filter(|a| !a.pass)
    }
}

impl Tailnet {
    /// Addresses a test source names. Users, groups and tags name their devices' addresses;
    /// hosts and IPs themselves.
    fn source_prefixes(&self, src: &str) -> Result<Vec<Prefix>, String> {
        let a = parse_alias(src)?;
        match &a {
            Alias::Group(g) if !self.policy.groups.contains_key(g) => {
                return Err(format!("group `{g}` is not defined"))
            }
            Alias::Tag(t) if !self.policy.tag_owners.contains_key(t) => {
                return Err(format!("tag `{t}` is not defined in tagOwners"))
            }
            Alias::Host(h) if !self.policy.hosts.contains_key(h) => {
                return Err(format!("host `{h}` is not defined"))
            }
            Alias::Auto(AutoGroup::SelfDevices | AutoGroup::Internet) => {
                return Err(format!("{src} is not a valid source"))
            }
            _ => {}
        }
        let v = self.alias_addrs(&a);
        if v.is_empty() {
            return Err(format!("source `{src}` resolved to no IP addresses"));
        }
        Ok(v)
    }

    fn alias_addrs(&self, a: &Alias) -> Vec<Prefix> {
        match a {
            Alias::Host(h) => self.policy.hosts.get(h).copied().into_iter().collect(),
            Alias::Prefix(p) => vec![*p],
            Alias::Wildcard => crate::tailnet::tailnet_ranges(),
            _ => (0..self.devices.len())
                .filter(|&i| self.device_matches(i, a))
                .flat_map(|i| {
                    let d = &self.devices[i];
                    [
                        Prefix::host(IpAddr::V4(d.ipv4)),
                        Prefix::host(IpAddr::V6(d.ipv6)),
                    ]
                })
                .collect(),
        }
    }

    /// Device membership for identity aliases (users, groups, tags, autogroups, addresses).
    pub fn device_matches(&self, i: usize, a: &Alias) -> bool {
        self.device_in(i, a)
    }

    /// Does any rule let `src` reach `dst` on `port` for one of `protos`? This is the
    /// policy-level answer the `tests` block gets: it does not need a device at the
    /// destination (a `hosts` address outside the tailnet is tested against the rules).
    fn policy_allows(
        &self,
        src: &Prefix,
        dst: &[Prefix],
        port: u16,
        protos: &[u8],
    ) -> Option<usize> {
        if self.policy.allow_all() {
            return Some(usize::MAX);
        }
        let mut best: Option<(u32, u32, usize)> = None;
        for r in &self.rules {
            if !r.src.iter().any(|s| s.overlaps(src)) {
                continue;
            }
            let hit = r.dst.iter().any(|e| {
                let net_ok = match e.net {
                    Net::Any => true,
                    Net::Prefix(p) => dst.iter().any(|d| p.overlaps(d)),
                };
                let ep: &[u8] = e.protos.as_deref().unwrap_or(&DEFAULT_PROTOS);
                net_ok && ep.iter().any(|p| protos.contains(p)) && e.ports.contains(port)
            });
            if hit {
                let o = &self.origins[r.origin];
                if best.is_none_or(|(l, c, _)| (o.line, o.col) < (l, c)) {
                    best = Some((o.line, o.col, r.origin));
                }
            }
        }
        best.map(|b| b.2)
    }

    fn rule_name(&self, origin: usize) -> String {
        if origin == usize::MAX {
            "allow-all".into()
        } else {
            let o = &self.origins[origin];
            format!("{} (line {})", o.name(), o.line)
        }
    }

    /// Checks a test destination's shape (one host, one port) and resolves it.
    fn test_destination(&self, src: &str, dst: &str) -> Result<(Vec<Prefix>, u16), String> {
        let (host, ports) = split_host_ports(dst)?;
        let a = parse_alias(&host)?;
        if a == Alias::Auto(AutoGroup::Internet) {
            return Err("autogroup:internet not valid as a test destination".into());
        }
        let ports = parse_ports(&ports)?;
        if ports.len() != 1 || ports[0].first != ports[0].last {
            return Err("test destination port must be a single port".into());
        }
        if host.contains('/') {
            return Err("test destination must be a single host, not a CIDR range".into());
        }
        let addrs = match &a {
            Alias::Host(h) => match self.policy.hosts.get(h) {
                None => return Err(format!("host `{h}` is not defined")),
                Some(p) if p.len() < p.family().max_len() => {
                    return Err("test destination must be a single host, not a CIDR range".into())
                }
                Some(p) => vec![*p],
            },
            Alias::Wildcard => return Err("test destination must be a single host".into()),
            Alias::Group(_) => return Err(format!("a group (`{host}`) is not a test destination")),
            Alias::User(_) => return Err(format!("a user (`{host}`) is not a test destination")),
            Alias::Tag(t) if !self.policy.tag_owners.contains_key(t) => {
                return Err(format!("tag `{t}` is not defined in tagOwners"))
            }
            Alias::Auto(AutoGroup::SelfDevices) => match parse_alias(src) {
                Ok(u @ Alias::User(_)) => self.alias_addrs(&u),
                _ => {
                    return Err("autogroup:self as a destination needs a user as the source".into())
                }
            },
            a => self.alias_addrs(a),
        };
        if addrs.is_empty() {
            return Err(format!("destination `{dst}` resolved to no IP addresses"));
        }
        Ok((addrs, ports[0].first))
    }

    fn run_test(&self, t: &PolicyTest, out: &mut Vec<Assertion>) {
        let src = t.src.clone().unwrap_or_default();
        let mut push =
            |dst: &str, expect: &'static str, pass: bool, detail: String, rule: Option<String>| {
                out.push(Assertion {
                    test: t.index,
                    line: t.span.line,
                    src: src.clone(),
                    dst: dst.to_string(),
                    proto: t.proto.clone(),
                    expect,
                    pass,
                    detail,
                    rule,
                })
            };
        if t.accept.is_empty() && t.deny.is_empty() {
            push(
                "",
                "accept",
                false,
                "test entry must have at least one of \"accept\" or \"deny\"".into(),
                None,
            );
            return;
        }
        let protos: Vec<u8> = match t.proto.as_deref() {
            None | Some("") => DEFAULT_PROTOS.to_vec(),
            Some(p) => match parse_proto(p) {
                Ok(n) if matches!(n, TCP | UDP | SCTP) => vec![n],
                Ok(_) | Err(_) => {
                    let msg = format!("test protocol must be tcp, udp, sctp, or empty: \"{p}\"");
                    for d in t
                        .accept
                        .iter()
                        .map(|d| (d, "accept"))
                        .chain(t.deny.iter().map(|d| (d, "deny")))
                    {
                        push(d.0, d.1, false, msg.clone(), None);
                    }
                    return;
                }
            },
        };
        let srcs = if src.trim().is_empty() {
            Err("test entry must have a src".to_string())
        } else {
            self.source_prefixes(&src)
        };
        for (dst, expect) in t
            .accept
            .iter()
            .map(|d| (d, "accept"))
            .chain(t.deny.iter().map(|d| (d, "deny")))
        {
            let srcs = match &srcs {
                Ok(s) => s,
                Err(e) => {
                    push(dst, expect, false, e.clone(), None);
                    continue;
                }
            };
            let (dsts, port) = match self.test_destination(&src, dst) {
                Ok(x) => x,
                Err(e) => {
                    push(dst, expect, false, e, None);
                    continue;
                }
            };
            // Every source address must be allowed for the pair to count as allowed.
            let mut rule = None;
            let mut denied_from = None;
            for s in srcs {
                match self.policy_allows(s, &dsts, port, &protos) {
                    Some(o) => rule = rule.or(Some(o)),
                    None => {
                        denied_from = Some(*s);
                        break;
                    }
                }
            }
            let allowed = denied_from.is_none();
            let pass = allowed == (expect == "accept");
            let rule_name = rule.filter(|_| allowed).map(|o| self.rule_name(o));
            let detail = match (allowed, &rule_name, denied_from) {
                (true, Some(r), _) => format!("allowed by {r}"),
                (_, _, Some(s)) => format!("denied: no rule allows {s}"),
                _ => "denied".into(),
            };
            push(dst, expect, pass, detail, rule_name);
        }
    }

    /// Runs the `tests` and `sshTests` blocks.
    pub fn run_tests(&self) -> TestReport {
        let mut rep = TestReport::default();
        for t in &self.policy.tests {
            self.run_test(t, &mut rep.tests);
        }
        for t in &self.policy.ssh_tests {
            self.run_ssh_test(t, &mut rep.ssh_tests);
        }
        rep.pass = rep.tests.iter().chain(&rep.ssh_tests).all(|a| a.pass);
        rep
    }

    /// The SSH action for a login as `user` from device `src` to device `dst`: `check` wins
    /// over `accept` (Tailscale orders check rules first); no rule is `deny`.
    pub fn ssh_decide(&self, src: usize, dst: usize, user: &str) -> (SshResult, Option<String>) {
        let sd = &self.devices[src];
        let dd = &self.devices[dst];
        let mut accept = None;
        for r in &self.policy.ssh {
            if !r.src.iter().any(|a| self.device_matches(src, a)) {
                continue;
            }
            if !r
                .src_posture
                .iter()
                .all(|p| self.posture_failures(src, p).is_empty())
            {
                continue;
            }
            let dst_ok = r.dst.iter().any(|a| match a {
                Alias::Auto(AutoGroup::SelfDevices) => {
                    !dd.is_tagged() && !sd.is_tagged() && dd.user.is_some() && dd.user == sd.user
                }
                a => self.device_matches(dst, a),
            });
            if !dst_ok {
                continue;
            }
            let user_ok = r.users.iter().any(|u| {
                if u == "autogroup:nonroot" {
                    user != "root"
                } else if let Some(domain) = u.strip_prefix("localpart:*@") {
                    sd.user
                        .as_deref()
                        .and_then(|e| e.rsplit_once('@'))
                        .is_some_and(|(local, dom)| {
                            dom.eq_ignore_ascii_case(domain) && local == user
                        })
                } else {
                    u == user
                }
            });
            if !user_ok {
                continue;
            }
            let name = format!("{} (line {})", r.origin.name(), r.origin.line);
            if r.check {
                return (SshResult::Check, Some(name));
            }
            accept.get_or_insert(name);
        }
        match accept {
            Some(n) => (SshResult::Accept, Some(n)),
            None => (SshResult::Deny, None),
        }
    }

    fn ssh_test_devices(&self, s: &str, src_user: Option<&str>) -> Result<Vec<usize>, String> {
        let a = parse_alias(s)
            .map_err(|e| format!("SSH tests dst contains disallowed element \"{s}\": {e}"))?;
        match &a {
            Alias::Auto(AutoGroup::Internet) => {
                return Err(format!("SSH tests dst contains disallowed element \"{s}\""))
            }
            Alias::Prefix(p) if p.len() < p.family().max_len() => {
                return Err(format!("SSH tests dst contains disallowed element \"{s}\""))
            }
            Alias::Tag(t) if !self.policy.tag_owners.contains_key(t) => {
                return Err(format!("SSH tests dst contains unknown tag \"{t}\""))
            }
            Alias::Host(h)
                if self
                    .policy
                    .hosts
                    .get(h)
                    .is_some_and(|p| p.len() < p.family().max_len()) =>
            {
                return Err(format!("SSH tests dst contains disallowed element \"{s}\""))
            }
            _ => {}
        }
        let devs: Vec<usize> = match &a {
            Alias::Auto(AutoGroup::SelfDevices) => (0..self.devices.len())
                .filter(|&i| {
                    !self.devices[i].is_tagged()
                        && self.devices[i].user.as_deref() == src_user
                        && src_user.is_some()
                })
                .collect(),
            a => (0..self.devices.len())
                .filter(|&i| self.device_matches(i, a))
                .collect(),
        };
        if devs.is_empty() {
            return Err(format!("`{s}` names no device"));
        }
        Ok(devs)
    }

    fn run_ssh_test(&self, t: &SshTest, out: &mut Vec<Assertion>) {
        let src = t.src.clone().unwrap_or_default();
        let mut push =
            |dst: &str, expect: &'static str, pass: bool, detail: String, rule: Option<String>| {
                out.push(Assertion {
                    test: t.index,
                    line: t.span.line,
                    src: src.clone(),
                    dst: dst.to_string(),
                    proto: None,
                    expect,
                    pass,
                    detail,
                    rule,
                })
            };
        if src.trim().is_empty() {
            push(
                "",
                "accept",
                false,
                "SSH tests entry must have a non-empty src".into(),
                None,
            );
            return;
        }
        if t.dst.is_empty() {
            push(
                "",
                "accept",
                false,
                "SSH tests entry must have at least one dst".into(),
                None,
            );
            return;
        }
        if t.accept.is_empty() && t.deny.is_empty() && t.check.is_empty() {
            push(
                "",
                "accept",
                false,
                "SSH tests entry must have accept, check or deny".into(),
                None,
            );
            return;
        }
        let src_alias = match parse_alias(&src) {
            Ok(a) => a,
            Err(e) => {
                push("", "accept", false, e, None);
                return;
            }
        };
        let srcs: Vec<usize> = (0..self.devices.len())
            .filter(|&i| self.device_matches(i, &src_alias))
            .collect();
        let src_user = match &src_alias {
            Alias::User(u) => self
                .devices
                .iter()
                .find(|d| {
                    !d.is_tagged()
                        && d.user
                            .as_deref()
                            .is_some_and(|du| du == u || du == u.trim_end_matches('@'))
                })
                .and_then(|d| d.user.clone()),
            _ => None,
        };
        for dst in &t.dst {
            let dsts = match self.ssh_test_devices(dst, src_user.as_deref()) {
                Ok(d) => d,
                Err(e) => {
                    push(dst, "accept", false, e, None);
                    continue;
                }
            };
            let lists: [(&Vec<String>, &'static str); 3] = [
                (&t.accept, "accept"),
                (&t.check, "check"),
                (&t.deny, "deny"),
            ];
            for (users, expect) in lists {
                for user in users {
                    if user.is_empty() {
                        push(dst, expect, false, "empty login user".into(), None);
                        continue;
                    }
                    if srcs.is_empty() {
                        push(
                            dst,
                            expect,
                            false,
                            format!("source `{src}` names no device"),
                            None,
                        );
                        continue;
                    }
                    let mut pass = true;
                    let mut detail = String::new();
                    let mut rule = None;
                    'all: for &s in &srcs {
                        for &d in &dsts {
                            if s == d {
                                continue;
                            }
                            let (res, r) = self.ssh_decide(s, d, user);
                            let ok = match expect {
                                "accept" => res != SshResult::Deny,
                                "check" => res == SshResult::Check,
                                _ => res == SshResult::Deny,
                            };
                            rule = rule.or(r);
                            if !ok {
                                pass = false;
                                detail = format!(
                                    "{} -> {} as {user}: {}",
                                    self.devices[s].name,
                                    self.devices[d].name,
                                    res.name()
                                );
                                break 'all;
                            }
                        }
                    }
                    if pass {
                        detail = format!("{expect} as {user}");
                    }
                    push(&format!("{dst} ({user})"), expect, pass, detail, rule);
                }
            }
        }
    }
}

/// The outcome of an SSH request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SshResult {
    Accept,
    Check,
    Deny,
}

impl SshResult {
    pub fn name(self) -> &'static str {
        match self {
            SshResult::Accept => "accept",
            SshResult::Check => "check",
            SshResult::Deny => "deny",
        }
    }
}

/// Who asks: a device, a user's devices, a tag's devices, or an address.
#[derive(Clone, Debug, PartialEq)]
pub enum Who {
    Devices(Vec<usize>),
    Addr(IpAddr),
}

/// Where to: an address and port, and the protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub addr: IpAddr,
    pub port: u16,
    pub proto: u8,
    pub label: String,
}

/// One `can` answer: overall and per source device.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CanAnswer {
    pub from: String,
    pub to: String,
    pub proto: String,
    pub allowed: bool,
    pub rule: Option<String>,
    pub line: Option<u32>,
    pub per_source: Vec<SourceAnswer>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct SourceAnswer {
    pub source: String,
    pub address: String,
    #[serde(flatten)]
    pub decision: Decision,
}

impl Tailnet {
    /// Resolves `--from`: a node name, a user, a group, a tag, or an IP.
    pub fn who(&self, s: &str) -> Result<Who, String> {
        if let Some(i) = self.device(s) {
            return Ok(Who::Devices(vec![i]));
        }
        if let Ok(a) = parse_addr(s) {
            return Ok(match self.owner_of(a) {
                Some(i) => Who::Devices(vec![i]),
                None => Who::Addr(a),
            });
        }
        let a = parse_alias(s).map_err(|e| format!("`{s}` is not a node, user, tag or IP: {e}"))?;
        if matches!(a, Alias::Host(_)) {
            return Err(format!("no node named `{s}`"));
        }
        let devs: Vec<usize> = (0..self.devices.len())
            .filter(|&i| self.device_matches(i, &a))
            .collect();
        if devs.is_empty() {
            return Err(format!("`{s}` names no device"));
        }
        Ok(Who::Devices(devs))
    }

    /// Resolves `--to`: `NODE`, `NODE:PORT`, `IP:PORT`, `[IPv6]:PORT`, optionally `/proto`.
    pub fn target(&self, s: &str, proto: Option<&str>) -> Result<Target, String> {
        let (body, p2) = match s.rsplit_once('/') {
            Some((b, p)) if parse_proto(p).is_ok() && !p.chars().all(|c| c.is_ascii_digit()) => {
                (b, Some(p))
            }
            _ => (s, None),
        };
        let explicit = match proto.or(p2) {
            Some(p) => Some(parse_proto(p)?),
            None => None,
        };
        let (host, port) = match split_host_ports(body) {
            Ok((h, p)) if self.device(body).is_none() => {
                let port: u16 = p.parse().map_err(|_| format!("`{p}` is not a port"))?;
                (h, port)
            }
            _ => (body.to_string(), 0),
        };
        let addr = match self.device(&host) {
            Some(i) => IpAddr::V4(self.devices[i].ipv4),
            None => {
                parse_addr(&host).map_err(|_| format!("`{host}` is not a node or an IP address"))?
            }
        };
        // Without a port the question is a ping.
        let mut proto = explicit.unwrap_or(if port == 0 { ICMP } else { TCP });
        if proto == ICMP || proto == ICMPV6 {
            proto = icmp_for(addr);
        }
        if port == 0 && matches!(proto, TCP | UDP | SCTP) {
            return Err(format!("`{s}` needs a port (NODE:PORT)"));
        }
        Ok(Target {
            addr,
            port,
            proto,
            label: s.to_string(),
        })
    }

    /// May `from` reach `to`? Every source device must be allowed; the first denial (or the
    /// first allowing rule) is the answer's rule.
    pub fn can(
        &self,
        from: &str,
        who: &Who,
        to: &Target,
        exit_node: Option<usize>,
        ingress: Option<usize>,
    ) -> CanAnswer {
        let v6 = to.addr.is_ipv6();
        let sources: Vec<(String, IpAddr)> = match who {
            Who::Addr(a) => vec![(a.to_string(), *a)],
            Who::Devices(ds) => ds
                .iter()
                .map(|&i| {
                    let d = &self.devices[i];
                    (
                        d.name.clone(),
                        if v6 {
                            IpAddr::V6(d.ipv6)
                        } else {
                            IpAddr::V4(d.ipv4)
                        },
                    )
                })
                .collect(),
        };
        let mut per = Vec::new();
        for (name, addr) in sources {
            let decision = match self.enforcer(addr, to.addr, exit_node, ingress) {
                Ok(at) => self.decide(addr, to.addr, to.port, to.proto, at),
                Err(reason) => Decision {
                    allowed: false,
                    rule: None,
                    line: None,
                    enforced_by: None,
                    reason,
                    failed_postures: Vec::new(),
                },
            };
            per.push(SourceAnswer {
                source: name,
                address: addr.to_string(),
                decision,
            });
        }
        let allowed = per.iter().all(|p| p.decision.allowed);
        let pick = per
            .iter()
            .find(|p| p.decision.allowed != allowed || !allowed)
            .or(per.first());
        CanAnswer {
            from: from.to_string(),
            to: to.label.clone(),
            proto: crate::policy::proto_name(to.proto),
            allowed,
            rule: pick.and_then(|p| p.decision.rule.clone()),
            line: pick.and_then(|p| p.decision.line),
            per_source: per,
        }
    }
}

/// `icmp`/`ipv6-icmp` pick the family's ICMP.
pub fn icmp_for(addr: IpAddr) -> u8 {
    if addr.is_ipv6() {
        ICMPV6
    } else {
        ICMP
    }
}
