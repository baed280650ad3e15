//! The tailnet policy file: decoding (HuJSON tree -> typed policy) and the checks the control
//! plane makes before it accepts a file. Every problem is a [`Diagnostic`] with `file:line:col`;
//! all are collected in one pass.
//!
//! What the control plane refuses, and its wording where a public capture records it, follows
//! Headscale's `hscontrol/policy/v2` validation and its Tailscale SaaS captures (see
//! `docs/mesh.md`).

use crate::hujson;
use nettwin_model::addr::{parse_addr, Prefix};
use nettwin_model::diag::Diagnostics;
use nettwin_model::yaml::{closest, MapReader, Node, Path, Span, Value};
use std::collections::BTreeMap;
use std::fmt;

/// A name for the rules a policy has: which section and index, and where it starts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    pub section: &'static str,
    pub index: usize,
    pub line: u32,
    pub col: u32,
}

impl Origin {
    /// `acls[0]`, `grants[3]`, `ssh[1]`.
    pub fn name(&self) -> String {
        format!("{}[{}]", self.section, self.index)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.section, self.index)
    }
}

/// The autogroups Tailscale defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AutoGroup {
    Member,
    Tagged,
    SelfDevices,
    Internet,
    Admin,
    Owner,
    ItAdmin,
    NetworkAdmin,
    BillingAdmin,
    Auditor,
    NonRoot,
    Shared,
    DangerAll,
}

pub const AUTOGROUPS: &[(&str, AutoGroup)] = &[
    ("autogroup:member", AutoGroup::Member),
    ("autogroup:tagged", AutoGroup::Tagged),
    ("autogroup:self", AutoGroup::SelfDevices),
    ("autogroup:internet", AutoGroup::Internet),
    ("autogroup:admin", AutoGroup::Admin),
    ("autogroup:owner", AutoGroup::Owner),
    ("autogroup:it-admin", AutoGroup::ItAdmin),
    ("autogroup:network-admin", AutoGroup::NetworkAdmin),
    ("autogroup:billing-admin", AutoGroup::BillingAdmin),
    ("autogroup:auditor", AutoGroup::Auditor),
    ("autogroup:nonroot", AutoGroup::NonRoot),
    ("autogroup:shared", AutoGroup::Shared),
    ("autogroup:danger-all", AutoGroup::DangerAll),
];

impl AutoGroup {
    pub fn name(self) -> &'static str {
        AUTOGROUPS.iter().find(|(_, a)| *a == self).unwrap().0
    }

    /// The user role this autogroup stands for, if it is a role group.
    pub fn role(self) -> Option<&'static str> {
        Some(match self {
            AutoGroup::Admin => "admin",
            AutoGroup::Owner => "owner",
            AutoGroup::ItAdmin => "it-admin",
            AutoGroup::NetworkAdmin => "network-admin",
            AutoGroup::BillingAdmin => "billing-admin",
            AutoGroup::Auditor => "auditor",
            _ => return None,
        })
    }
}

/// One entry of a `src`/`dst` list (without ports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Alias {
    /// `*`
    Wildcard,
    /// `alice@example.com` (a user's untagged devices)
    User(String),
    Group(String),
    Tag(String),
    /// A name from `hosts`.
    Host(String),
    /// An IP address or CIDR written in the rule.
    Prefix(Prefix),
    Auto(AutoGroup),
}

impl fmt::Display for Alias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Alias::Wildcard => f.write_str("*"),
            Alias::User(s) | Alias::Group(s) | Alias::Tag(s) | Alias::Host(s) => f.write_str(s),
            Alias::Prefix(p) if p.len() == p.family().max_len() => write!(f, "{}", p.network()),
            Alias::Prefix(p) => write!(f, "{p}"),
            Alias::Auto(a) => f.write_str(a.name()),
        }
    }
}

/// Parses an alias the way the control plane does: an IP or CIDR first, then by prefix.
pub fn parse_alias(s: &str) -> Result<Alias, String> {
    if s == "*" {
        return Ok(Alias::Wildcard);
    }
    if let Some(p) = parse_ip_or_cidr(s) {
        return p.map(Alias::Prefix);
    }
    if s.contains('@') {
        return Ok(Alias::User(s.to_string()));
    }
    if let Some(rest) = s.strip_prefix("group:") {
        if rest.is_empty() {
            return Err(format!("group name missing in `{s}`"));
        }
        return Ok(Alias::Group(s.to_string()));
    }
    if let Some(rest) = s.strip_prefix("tag:") {
        if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(format!(
                "`{s}`: tag names must start with a letter, after 'tag:'"
            ));
        }
        return Ok(Alias::Tag(s.to_string()));
    }
    if s.starts_with("autogroup:") {
        return AUTOGROUPS
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, a)| Alias::Auto(*a))
            .ok_or_else(|| {
                let names: Vec<&str> = AUTOGROUPS.iter().map(|(n, _)| *n).collect();
                match closest(s, &names) {
                    Some(near) => format!("unknown autogroup `{s}` (did you mean `{near}`?)"),
                    None => format!("unknown autogroup `{s}`"),
                }
            });
    }
    if s.is_empty() || s.contains(':') {
        return Err(format!(
            "`{s}` is not a user, group, tag, autogroup, host or IP"
        ));
    }
    Ok(Alias::Host(s.to_string()))
}

/// `Some(..)` when `s` looks like an address (it has a digit and only address characters).
fn parse_ip_or_cidr(s: &str) -> Option<Result<Prefix, String>> {
    let looks = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '/'))
        && (s.contains('.') || s.contains(':'))
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_hexdigit() || c == ':');
    if !looks {
        return None;
    }
    Some(if s.contains('/') {
        s.parse::<Prefix>().map_err(|e| e.to_string())
    } else {
        parse_addr(s).map(Prefix::host).map_err(|e| e.to_string())
    })
}

/// An inclusive port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    pub const ALL: PortRange = PortRange {
        first: 0,
        last: 65535,
    };

    pub fn contains(&self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == PortRange::ALL {
            f.write_str("*")
        } else if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Parses `*`, `22`, `80,443`, `8000-8100` with the control plane's messages.
pub fn parse_ports(s: &str) -> Result<Vec<PortRange>, String> {
    if s == "*" {
        return Ok(vec![PortRange::ALL]);
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let num = |t: &str| -> Result<u16, String> {
            let v: i64 = t
                .parse()
                .map_err(|_| format!("port range \"{s}\": invalid first integer"))?;
            u16::try_from(v).map_err(|_| format!("port range \"{s}\": port number out of range"))
        };
        if let Some((a, b)) = part.split_once('-') {
            if a.is_empty() || b.is_empty() {
                return Err(format!("port range \"{s}\": invalid port range format"));
            }
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                return Err(format!(
                    "port range \"{s}\": invalid port range: first port is greater than last port"
                ));
            }
            out.push(PortRange { first: a, last: b });
        } else {
            let p = num(part)?;
            if p == 0 {
                return Err(format!(
                    "port range \"{s}\": first port must be >0, or use '*' for wildcard"
                ));
            }
            out.push(PortRange { first: p, last: p });
        }
    }
    Ok(out)
}

/// IP protocol numbers a rule admits. `None` is the client's default set: TCP, UDP, ICMP,
/// ICMPv6 (what `wgengine/filter` applies when a rule names none).
pub type Protos = Option<Vec<u8>>;

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const ICMP: u8 = 1;
pub const ICMPV6: u8 = 58;
pub const SCTP: u8 = 132;
pub const DEFAULT_PROTOS: [u8; 4] = [TCP, UDP, ICMP, ICMPV6];

const PROTO_NAMES: &[(&str, u8)] = &[
    ("icmp", 1),
    ("igmp", 2),
    ("ipv4", 4),
    ("ip-in-ip", 4),
    ("tcp", 6),
    ("egp", 8),
    ("igp", 9),
    ("udp", 17),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("ipv6-icmp", 58),
    ("sctp", 132),
    ("fc", 133),
];

/// The name of a protocol number, or the number.
pub fn proto_name(n: u8) -> String {
    PROTO_NAMES
        .iter()
        .find(|(_, v)| *v == n)
        .map(|(s, _)| s.to_string())
        .unwrap_or_else(|| n.to_string())
}

/// Parses a `proto` value: a name or an IANA number 1-255 (no leading zero).
pub fn parse_proto(s: &str) -> Result<u8, String> {
    let l = s.to_ascii_lowercase();
    if let Some((_, n)) = PROTO_NAMES.iter().find(|(n, _)| *n == l) {
        return Ok(*n);
    }
    if l == "*" {
        return Err("proto name \"*\" not known; use protocol number 0-255 or protocol name (icmp, tcp, udp, etc.)".into());
    }
    if l.starts_with('0') {
        return Err(format!(
            "leading 0 not permitted in protocol number: \"{s}\""
        ));
    }
    match l.parse::<u16>() {
        Ok(n) if (1..=255).contains(&n) => Ok(n as u8),
        Ok(n) => Err(format!("protocol number out of range (0-255): {n}")),
        Err(_) => Err(format!(
            "invalid protocol number: \"{s}\" must be a known protocol name or valid protocol number 0-255"
        )),
    }
}

/// One destination of a rule with the ports and protocols it opens.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub alias: Alias,
    pub ports: Vec<PortRange>,
    pub protos: Protos,
    pub span: Span,
}

/// An ACL or a grant, as one shape: sources, and destinations with their ports.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub origin: Origin,
    pub src: Vec<(Alias, Span)>,
    pub targets: Vec<Target>,
    /// Tags of the routers a `via` grant steers through.
    pub via: Vec<String>,
    /// Postures a source device must satisfy (`srcPosture`, or `defaultSrcPosture`).
    pub src_posture: Vec<String>,
    /// Application capabilities (`app`): accepted, not evaluated.
    pub app: Vec<String>,
}

/// A comparison operator in a posture condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    IsSet,
    NotSet,
}

/// A literal in a posture condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
}

/// `node:os == 'macos'`.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub text: String,
    pub attr: String,
    pub op: Op,
    pub values: Vec<Lit>,
}

/// A `ssh` rule.
#[derive(Clone, Debug, PartialEq)]
pub struct SshRule {
    pub origin: Origin,
    pub check: bool,
    pub src: Vec<Alias>,
    pub dst: Vec<Alias>,
    pub users: Vec<String>,
    pub src_posture: Vec<String>,
}

/// A `tests` entry, kept as written: its shape is checked when tests run, as Tailscale does.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyTest {
    pub index: usize,
    pub span: Span,
    pub src: Option<String>,
    pub proto: Option<String>,
    pub accept: Vec<String>,
    pub deny: Vec<String>,
}

/// A `sshTests` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct SshTest {
    pub index: usize,
    pub span: Span,
    pub src: Option<String>,
    pub dst: Vec<String>,
    pub accept: Vec<String>,
    pub deny: Vec<String>,
    pub check: Vec<String>,
}

/// A `nodeAttrs` entry: parsed and its targets checked; attributes are not evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeAttr {
    pub target: Vec<Alias>,
    pub attr: Vec<String>,
}

/// The whole policy file.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub file: String,
    pub groups: BTreeMap<String, Vec<String>>,
    pub tag_owners: BTreeMap<String, Vec<String>>,
    pub hosts: BTreeMap<String, Prefix>,
    /// `None` when the file has no `acls` key (as opposed to `acls: []`).
    pub acls: Option<Vec<Rule>>,
    pub grants: Option<Vec<Rule>>,
    pub postures: BTreeMap<String, Vec<Condition>>,
    pub ssh: Vec<SshRule>,
    pub route_approvers: Vec<(Prefix, Vec<Alias>)>,
    pub exit_approvers: Vec<Alias>,
    pub node_attrs: Vec<NodeAttr>,
    pub tests: Vec<PolicyTest>,
    pub ssh_tests: Vec<SshTest>,
    /// What the file says that nettwin accepts but does not evaluate, one line each.
    pub not_evaluated: Vec<String>,
}

impl Policy {
    /// Every network rule (ACLs and grants) in file order.
    pub fn rules(&self) -> Vec<&Rule> {
        let mut all: Vec<&Rule> = self
            .acls
            .iter()
            .flatten()
            .chain(self.grants.iter().flatten())
            .collect();
        all.sort_by_key(|r| (r.origin.line, r.origin.col));
        all
    }

    /// Neither `acls` nor `grants`: the control plane allows everything.
    pub fn allow_all(&self) -> bool {
        self.acls.is_none() && self.grants.is_none()
    }
}

const TOP_KEYS: &[&str] = &[
    "acls",
    "grants",
    "groups",
    "tagOwners",
    "hosts",
    "postures",
    "defaultSrcPosture",
    "ssh",
    "autoApprovers",
    "nodeAttrs",
    "tests",
    "sshTests",
    "randomizeClientPort",
    "disableIPv4",
    "OneCGNATRoute",
    "derpMap",
];

/// Parses and checks a policy file. `Err` holds every problem, each with its place.
pub fn parse_policy(file: &str, text: &str) -> Result<Policy, Diagnostics> {
    let mut diags = Diagnostics::new(file);
    let root = match hujson::parse(text) {
        Ok(n) => n,
        Err((span, msg)) => {
            diags.error(span, &Path::root(), msg);
            return Err(diags);
        }
    };
    let pol = decode(file, &root, &mut diags);
    if diags.is_empty() {
        Ok(pol)
    } else {
        diags.sort();
        Err(diags)
    }
}

struct Ctx<'d> {
    diags: &'d mut Diagnostics,
}

impl Ctx<'_> {
    fn err(&mut self, span: Span, path: &Path, msg: impl Into<String>) {
        self.diags.error(span, path, msg);
    }

    fn string(&mut self, n: &Node, path: &Path) -> Option<String> {
        match &n.value {
            Value::Scalar { text, quoted: true } => Some(text.clone()),
            _ => {
                self.err(
                    n.span,
                    path,
                    format!("expected a string, found {}", kind(n)),
                );
                None
            }
        }
    }

    fn strings(&mut self, n: &Node, path: &Path) -> Vec<(String, Span)> {
        match &n.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, it)| self.string(it, &path.index(i)).map(|s| (s, it.span)))
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                self.err(n.span, path, format!("expected a list, found {}", kind(n)));
                Vec::new()
            }
        }
    }

    fn list<'a>(&mut self, n: &'a Node, path: &Path) -> &'a [Node] {
        match &n.value {
            Value::Seq(items) => items,
            Value::Null => &[],
            _ => {
                self.err(n.span, path, format!("expected a list, found {}", kind(n)));
                &[]
            }
        }
    }
}

fn kind(n: &Node) -> &'static str {
    match &n.value {
        Value::Scalar { quoted: false, .. } => "a number or boolean",
        _ => n.kind_name(),
    }
}

fn decode(file: &str, root: &Node, diags: &mut Diagnostics) -> Policy {
    let mut pol = Policy {
        file: file.to_string(),
        ..Policy::default()
    };
    let mut cx = Ctx { diags };
    let top = Path::root();
    let Some(mut m) = MapReader::new(root, &top, cx.diags) else {
        return pol;
    };

    // Names first, so rules can be checked against them.
    if let Some(g) = m.take("groups") {
        let path = top.key("groups");
        if let Some(mut gm) = MapReader::new(g, &path, cx.diags) {
            for (k, v) in gm.take_rest() {
                let name = k.as_scalar().unwrap_or_default().to_string();
                let p = path.key(&name);
                if !name.starts_with("group:") {
                    cx.err(
                        k.span,
                        &p,
                        format!("group `{name}` must start with 'group:'"),
                    );
                }
                let mut members = Vec::new();
                for (s, span) in cx.strings(v, &p) {
                    if s.starts_with("group:") {
                        cx.err(
                            span,
                            &p,
                            format!("group members cannot be recursive: `{s}`"),
                        );
                    } else if !s.contains('@') {
                        cx.err(
                            span,
                            &p,
                            format!("group member `{s}` is not a user (username must contain @)"),
                        );
                    } else {
                        members.push(s);
                    }
                }
                pol.groups.insert(name, members);
            }
            gm.finish(&[], cx.diags);
        }
    }
    if let Some(t) = m.take("tagOwners") {
        let path = top.key("tagOwners");
        if let Some(mut tm) = MapReader::new(t, &path, cx.diags) {
            for (k, v) in tm.take_rest() {
                let name = k.as_scalar().unwrap_or_default().to_string();
                let p = path.key(&name);
                match parse_alias(&name) {
                    Ok(Alias::Tag(_)) => {}
                    Ok(_) => cx.err(k.span, &p, format!("tag `{name}` must start with 'tag:'")),
                    Err(e) => cx.err(k.span, &p, format!("tagOwners[\"{name}\"]: {e}")),
                }
                let owners = cx.strings(v, &p).into_iter().map(|(s, _)| s).collect();
                pol.tag_owners.insert(name, owners);
            }
            tm.finish(&[], cx.diags);
        }
    }
    if let Some(h) = m.take("hosts") {
        let path = top.key("hosts");
        if let Some(mut hm) = MapReader::new(h, &path, cx.diags) {
            for (k, v) in hm.take_rest() {
                let name = k.as_scalar().unwrap_or_default().to_string();
                let p = path.key(&name);
                if name.contains('@') || name.contains(':') || name.is_empty() {
                    cx.err(k.span, &p, format!("invalid hostname `{name}`"));
                    continue;
                }
                if let Some(s) = cx.string(v, &p) {
                    match parse_ip_or_cidr(&s) {
                        Some(Ok(pr)) => {
                            pol.hosts.insert(name, pr);
                        }
                        Some(Err(e)) => cx.err(v.span, &p, e),
                        None => cx.err(
                            v.span,
                            &p,
                            format!("hostname contains invalid IP address: `{s}`"),
                        ),
                    }
                }
            }
            hm.finish(&[], cx.diags);
        }
    }
    // Tag owners may name groups and other tags; check them now that all are known.
    for (tag, owners) in &pol.tag_owners {
        for o in owners {
            let ok = if o.starts_with("group:") {
                pol.groups.contains_key(o)
            } else if o.starts_with("tag:") {
                pol.tag_owners.contains_key(o)
            } else {
                o.contains('@') || o.starts_with("autogroup:")
            };
            if !ok {
                let span = t_span(root, "tagOwners", tag);
                cx.err(
                    span,
                    &top.key("tagOwners").key(tag),
                    format!("owner `{o}` of `{tag}` is not defined"),
                );
            }
        }
    }

    if let Some(p) = m.take("postures") {
        let path = top.key("postures");
        if let Some(mut pm) = MapReader::new(p, &path, cx.diags) {
            for (k, v) in pm.take_rest() {
                let name = k.as_scalar().unwrap_or_default().to_string();
                let pp = path.key(&name);
                if !name.starts_with("posture:") {
                    cx.err(
                        k.span,
                        &pp,
                        format!("posture `{name}` must start with 'posture:'"),
                    );
                }
                let mut conds = Vec::new();
                for (s, span) in cx.strings(v, &pp) {
                    match parse_condition(&s) {
                        Ok(c) => conds.push(c),
                        Err(e) => cx.err(span, &pp, e),
                    }
                }
                pol.postures.insert(name, conds);
            }
            pm.finish(&[], cx.diags);
        }
    }
    let mut default_posture = Vec::new();
    if let Some(d) = m.take("defaultSrcPosture") {
        let path = top.key("defaultSrcPosture");
        for (s, span) in cx.strings(d, &path) {
            if !pol.postures.contains_key(&s) {
                cx.err(
                    span,
                    &path,
                    format!("posture `{s}` is not defined in `postures`"),
                );
            }
            default_posture.push(s);
        }
    }

    if let Some(a) = m.take("acls") {
        let path = top.key("acls");
        let mut rules = Vec::new();
        for (i, n) in cx.list(a, &path).iter().enumerate() {
            if let Some(r) = decode_acl(&pol, &mut cx, n, &path.index(i), i, &default_posture) {
                rules.push(r);
            }
        }
        pol.acls = Some(rules);
    }
    if let Some(g) = m.take("grants") {
        let path = top.key("grants");
        let mut rules = Vec::new();
        for (i, n) in cx.list(g, &path).iter().enumerate() {
            if let Some(r) = decode_grant(&mut pol, &mut cx, n, &path.index(i), i, &default_posture)
            {
                rules.push(r);
            }
        }
        pol.grants = Some(rules);
    }
    if let Some(s) = m.take("ssh") {
        let path = top.key("ssh");
        for (i, n) in cx.list(s, &path).iter().enumerate() {
            if let Some(r) = decode_ssh(&pol, &mut cx, n, &path.index(i), i) {
                pol.ssh.push(r);
            }
        }
    }
    if let Some(a) = m.take("autoApprovers") {
        let path = top.key("autoApprovers");
        if let Some(mut am) = MapReader::new(a, &path, cx.diags) {
            if let Some(r) = am.take("routes") {
                let rp = path.key("routes");
                if let Some(mut rm) = MapReader::new(r, &rp, cx.diags) {
                    for (k, v) in rm.take_rest() {
                        let ks = k.as_scalar().unwrap_or_default();
                        let kp = rp.key(ks);
                        let prefix = match ks.parse::<Prefix>() {
                            Ok(p) => p,
                            Err(e) => {
                                cx.err(k.span, &kp, e.to_string());
                                continue;
                            }
                        };
                        let approvers = approver_list(&pol, &mut cx, v, &kp);
                        pol.route_approvers.push((prefix, approvers));
                    }
                    rm.finish(&[], cx.diags);
                }
            }
            if let Some(e) = am.take("exitNode") {
                let ep = path.key("exitNode");
                pol.exit_approvers = approver_list(&pol, &mut cx, e, &ep);
            }
            if am.take("services").is_some() {
                pol.not_evaluated
                    .push("autoApprovers.services: Tailscale services are not modelled".into());
            }
            am.finish(&["routes", "exitNode", "services"], cx.diags);
        }
    }
    if let Some(na) = m.take("nodeAttrs") {
        let path = top.key("nodeAttrs");
        for (i, n) in cx.list(na, &path).iter().enumerate() {
            let p = path.index(i);
            let Some(mut r) = MapReader::new(n, &p, cx.diags) else {
                continue;
            };
            let mut attr = NodeAttr {
                target: Vec::new(),
                attr: Vec::new(),
            };
            if let Some(t) = r.take("target") {
                for (s, span) in cx.strings(t, &p.key("target")) {
                    if let Some(a) =
                        check_alias(&pol, &mut cx, &s, span, &p.key("target"), Side::Src)
                    {
                        attr.target.push(a);
                    }
                }
            } else {
                cx.err(n.span, &p, "nodeAttrs entry needs `target`");
            }
            if let Some(a) = r.take("attr") {
                attr.attr = cx
                    .strings(a, &p.key("attr"))
                    .into_iter()
                    .map(|x| x.0)
                    .collect();
            }
            if r.take("app").is_some() || r.take("ipPool").is_some() {
                pol.not_evaluated
                    .push(format!("nodeAttrs[{i}]: app and ipPool are not evaluated"));
            }
            r.finish(&["target", "attr", "app", "ipPool"], cx.diags);
            if !attr.attr.is_empty() {
                pol.not_evaluated.push(format!(
                    "nodeAttrs[{i}]: attributes {} are parsed, not evaluated",
                    attr.attr.join(", ")
                ));
            }
            pol.node_attrs.push(attr);
        }
    }
    if let Some(t) = m.take("tests") {
        let path = top.key("tests");
        for (i, n) in cx.list(t, &path).iter().enumerate() {
            let p = path.index(i);
            let Some(mut r) = MapReader::new(n, &p, cx.diags) else {
                continue;
            };
            let mut test = PolicyTest {
                index: i,
                span: n.span,
                src: None,
                proto: None,
                accept: Vec::new(),
                deny: Vec::new(),
            };
            if let Some(s) = r.take("src") {
                test.src = cx.string(s, &p.key("src"));
            }
            if let Some(s) = r.take("proto") {
                test.proto = match &s.value {
                    Value::Scalar { text, .. } => Some(text.clone()),
                    _ => cx.string(s, &p.key("proto")),
                };
            }
            if let Some(s) = r.take("accept") {
                test.accept = cx
                    .strings(s, &p.key("accept"))
                    .into_iter()
                    .map(|x| x.0)
                    .collect();
            }
            if let Some(s) = r.take("deny") {
                test.deny = cx
                    .strings(s, &p.key("deny"))
                    .into_iter()
                    .map(|x| x.0)
                    .collect();
            }
            r.finish(&["src", "proto", "accept", "deny"], cx.diags);
            pol.tests.push(test);
        }
    }
    if let Some(t) = m.take("sshTests") {
        let path = top.key("sshTests");
        for (i, n) in cx.list(t, &path).iter().enumerate() {
            let p = path.index(i);
            let Some(mut r) = MapReader::new(n, &p, cx.diags) else {
                continue;
            };
            let mut test = SshTest {
                index: i,
                span: n.span,
                src: None,
                dst: Vec::new(),
                accept: Vec::new(),
                deny: Vec::new(),
                check: Vec::new(),
            };
            if let Some(s) = r.take("src") {
                test.src = cx.string(s, &p.key("src"));
            }
            for (key, slot) in [
                ("dst", &mut test.dst),
                ("accept", &mut test.accept),
                ("deny", &mut test.deny),
                ("check", &mut test.check),
            ] {
                if let Some(s) = r.take(key) {
                    *slot = cx
                        .strings(s, &p.key(key))
                        .into_iter()
                        .map(|x| x.0)
                        .collect();
                }
            }
            r.finish(&["src", "dst", "accept", "deny", "check"], cx.diags);
            pol.ssh_tests.push(test);
        }
    }
    for k in [
        "randomizeClientPort",
        "disableIPv4",
        "OneCGNATRoute",
        "derpMap",
    ] {
        if m.take(k).is_some() {
            pol.not_evaluated
                .push(format!("{k}: accepted, not evaluated"));
        }
    }
    m.finish(TOP_KEYS, cx.diags);
    pol
}

/// The span of `section.key` in the document, for errors found after decoding.
fn t_span(root: &Node, section: &str, key: &str) -> Span {
    root.get(section)
        .and_then(|s| s.as_map())
        .and_then(|m| m.iter().find(|(k, _)| k.as_scalar() == Some(key)))
        .map(|(k, _)| k.span)
        .unwrap_or_default()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Src,
    Dst,
    GrantDst,
    SshSrc,
    SshDst,
    Approver,
}

/// Parses an alias and checks that what it names exists and is allowed on this side.
fn check_alias(
    pol: &Policy,
    cx: &mut Ctx,
    s: &str,
    span: Span,
    path: &Path,
    side: Side,
) -> Option<Alias> {
    let a = match parse_alias(s) {
        Ok(a) => a,
        Err(e) => {
            cx.err(span, path, e);
            return None;
        }
    };
    let bad = |cx: &mut Ctx, msg: String| {
        cx.err(span, path, msg);
    };
    match &a {
        Alias::Group(g) if !pol.groups.contains_key(g) => {
            let names: Vec<&str> = pol.groups.keys().map(|s| s.as_str()).collect();
            let hint = closest(g, &names)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            bad(cx, format!("group not defined in policy: \"{g}\"{hint}"));
            return None;
        }
        Alias::Tag(t) if !pol.tag_owners.contains_key(t) => {
            let names: Vec<&str> = pol.tag_owners.keys().map(|s| s.as_str()).collect();
            let hint = closest(t, &names)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            let msg = match side {
                Side::Src => format!("src=tag not found: \"{t}\"{hint}"),
                Side::Dst | Side::GrantDst => format!("dst=\"{t}\": tag not found{hint}"),
                _ => format!("tag not found: \"{t}\"{hint}"),
            };
            bad(cx, msg);
            return None;
        }
        Alias::Host(h) if !pol.hosts.contains_key(h) => {
            let names: Vec<&str> = pol.hosts.keys().map(|s| s.as_str()).collect();
            let hint = closest(h, &names)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            bad(cx, format!("host not defined in policy: \"{h}\"{hint}"));
            return None;
        }
        Alias::Auto(ag) => {
            let ag = *ag;
            let msg = match side {
                Side::Src | Side::SshSrc if ag == AutoGroup::Internet => {
                    Some("autogroup:internet can only be used in ACL destinations".to_string())
                }
                Side::Src if ag == AutoGroup::SelfDevices => {
                    Some("\"autogroup:self\" not valid on the src side of a rule".to_string())
                }
                Side::SshSrc if ag == AutoGroup::SelfDevices => {
                    Some("\"autogroup:self\" not valid on the src side of a rule".to_string())
                }
                Side::Dst | Side::GrantDst if ag == AutoGroup::DangerAll => {
                    Some("cannot use autogroup:danger-all as a dst".to_string())
                }
                Side::Dst | Side::GrantDst | Side::SshDst | Side::Approver
                    if matches!(ag, AutoGroup::NonRoot | AutoGroup::Shared) =>
                {
                    Some(format!("{} is not valid here", ag.name()))
                }
                Side::SshDst
                    if !matches!(
                        ag,
                        AutoGroup::Member | AutoGroup::Tagged | AutoGroup::SelfDevices
                    ) =>
                {
                    Some(format!(
                        "autogroup not supported for SSH destinations: \"{}\"",
                        ag.name()
                    ))
                }
                Side::Src if ag == AutoGroup::NonRoot => {
                    Some("autogroup:nonroot is only valid in ssh `users`".to_string())
                }
                _ => None,
            };
            if let Some(msg) = msg {
                bad(cx, msg);
                return None;
            }
        }
        Alias::Wildcard if side == Side::SshDst => {
            bad(
                cx,
                "wildcard (*) is not supported as SSH destination".into(),
            );
            return None;
        }
        Alias::Prefix(p) if side == Side::GrantDst && p.is_default() => {
            bad(
                cx,
                format!(
                    "dst \"{p}\": to allow all IP addresses, use \"*\" or \"autogroup:internet\""
                ),
            );
            return None;
        }
        Alias::Host(_) if side == Side::SshDst => {
            bad(
                cx,
                format!("invalid dst \"{s}\": hosts are not valid SSH destinations"),
            );
            return None;
        }
        _ => {}
    }
    Some(a)
}

fn approver_list(pol: &Policy, cx: &mut Ctx, n: &Node, path: &Path) -> Vec<Alias> {
    cx.strings(n, path)
        .into_iter()
        .filter_map(|(s, span)| check_alias(pol, cx, &s, span, path, Side::Approver))
        .collect()
}

/// Splits `host:ports`, with `[v6]:ports` for IPv6.
pub fn split_host_ports(s: &str) -> Result<(String, String), String> {
    let s2;
    let input = if let Some(rest) = s.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| "square brackets are only valid around IPv6 addresses".to_string())?;
        let host = &rest[..close];
        if !matches!(parse_addr(host), Ok(std::net::IpAddr::V6(_))) {
            return Err(format!(
                "square brackets are only valid around IPv6 addresses: \"{host}\""
            ));
        }
        s2 = format!("{host}{}", &rest[close + 1..]);
        s2.as_str()
    } else {
        s
    };
    let i = input
        .rfind(':')
        .ok_or_else(|| format!("`{s}`: hostport must contain a colon"))?;
    if i == 0 || i == input.len() - 1 {
        return Err(format!("`{s}`: hostport must be HOST:PORTS"));
    }
    Ok((input[..i].to_string(), input[i + 1..].to_string()))
}

fn decode_sources(
    pol: &Policy,
    cx: &mut Ctx,
    n: Option<&Node>,
    at: Span,
    path: &Path,
) -> Vec<(Alias, Span)> {
    let p = path.key("src");
    let Some(n) = n else {
        cx.err(at, path, "rule needs `src`");
        return Vec::new();
    };
    cx.strings(n, &p)
        .into_iter()
        .filter_map(|(s, span)| check_alias(pol, cx, &s, span, &p, Side::Src).map(|a| (a, span)))
        .collect()
}

fn posture_list(pol: &Policy, cx: &mut Ctx, n: &Node, path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for (s, span) in cx.strings(n, path) {
        if !pol.postures.contains_key(&s) {
            let names: Vec<&str> = pol.postures.keys().map(|s| s.as_str()).collect();
            let hint = closest(&s, &names)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            cx.err(
                span,
                path,
                format!("posture `{s}` is not defined in `postures`{hint}"),
            );
        } else {
            out.push(s);
        }
    }
    out
}

fn self_sources_ok(src: &[(Alias, Span)], grant: bool) -> bool {
    src.iter().all(|(a, _)| match a {
        Alias::User(_) | Alias::Group(_) => true,
        Alias::Auto(AutoGroup::Member) => true,
        Alias::Wildcard => !grant,
        _ => false,
    })
}

fn decode_acl(
    pol: &Policy,
    cx: &mut Ctx,
    n: &Node,
    path: &Path,
    index: usize,
    default_posture: &[String],
) -> Option<Rule> {
    let mut m = MapReader::new(n, path, cx.diags)?;
    let origin = Origin {
        section: "acls",
        index,
        line: n.span.line,
        col: n.span.col,
    };
    match m.take("action") {
        None => cx.err(n.span, path, "rule needs `action` (\"accept\")"),
        Some(a) => {
            if let Some(s) = cx.string(a, &path.key("action")) {
                if s != "accept" {
                    cx.err(
                        a.span,
                        &path.key("action"),
                        format!("action=\"{s}\" is not supported: rules only add access, the only action is \"accept\""),
                    );
                }
            }
        }
    }
    let mut protos: Protos = None;
    let mut proto_name = String::new();
    if let Some(p) = m.take("proto") {
        if let Some(s) = cx.string(p, &path.key("proto")) {
            match parse_proto(&s) {
                Ok(n) => {
                    protos = Some(vec![n]);
                    proto_name = s;
                }
                Err(e) => cx.err(p.span, &path.key("proto"), e),
            }
        }
    }
    let src = decode_sources(pol, cx, m.take("src"), n.span, path);
    let mut targets = Vec::new();
    match m.take("dst") {
        None => cx.err(n.span, path, "rule needs `dst`"),
        Some(d) => {
            let dp = path.key("dst");
            for (s, span) in cx.strings(d, &dp) {
                let (host, ports) = match split_host_ports(&s) {
                    Ok(x) => x,
                    Err(e) => {
                        cx.err(span, &dp, e);
                        continue;
                    }
                };
                let ports = match parse_ports(&ports) {
                    Ok(p) => p,
                    Err(e) => {
                        cx.err(span, &dp, format!("dst=\"{s}\": {e}"));
                        continue;
                    }
                };
                if let Some(pn) = &protos {
                    if !matches!(pn[0], TCP | UDP | SCTP) && ports != [PortRange::ALL] {
                        cx.err(
                            span,
                            &dp,
                            format!("protocol does not support specific ports: \"{proto_name}\", only \"*\" is allowed"),
                        );
                        continue;
                    }
                }
                if let Some(alias) = check_alias(pol, cx, &host, span, &dp, Side::Dst) {
                    targets.push(Target {
                        alias,
                        ports,
                        protos: protos.clone(),
                        span,
                    });
                }
            }
        }
    }
    let mut src_posture = default_posture.to_vec();
    if let Some(p) = m.take("srcPosture") {
        src_posture = posture_list(pol, cx, p, &path.key("srcPosture"));
    }
    // Keys starting with `#` are comments some editors add; the control plane ignores them.
    for (k, _) in m
        .take_rest()
        .into_iter()
        .filter(|(k, _)| !k.as_scalar().is_some_and(|s| s.starts_with('#')))
    {
        let name = k.as_scalar().unwrap_or_default();
        let allowed = ["action", "src", "dst", "proto", "srcPosture"];
        let mut msg = format!("unknown key `{name}`");
        if let Some(near) = closest(name, &allowed) {
            msg.push_str(&format!(" (did you mean `{near}`?)"));
        }
        cx.err(k.span, &path.key(name), msg);
    }
    if targets
        .iter()
        .any(|t| t.alias == Alias::Auto(AutoGroup::SelfDevices))
        && !self_sources_ok(&src, false)
    {
        cx.err(
            n.span,
            path,
            "autogroup:self can only be used with users, groups, or supported autogroups",
        );
    }
    Some(Rule {
        origin,
        src,
        targets,
        via: Vec::new(),
        src_posture,
        app: Vec::new(),
    })
}

fn decode_grant(
    pol: &mut Policy,
    cx: &mut Ctx,
    n: &Node,
    path: &Path,
    index: usize,
    default_posture: &[String],
) -> Option<Rule> {
    let mut m = MapReader::new(n, path, cx.diags)?;
    let origin = Origin {
        section: "grants",
        index,
        line: n.span.line,
        col: n.span.col,
    };
    let src = decode_sources(pol, cx, m.take("src"), n.span, path);
    let mut dsts = Vec::new();
    match m.take("dst") {
        None => cx.err(n.span, path, "grant needs `dst`"),
        Some(d) => {
            let dp = path.key("dst");
            for (s, span) in cx.strings(d, &dp) {
                if let Some(a) = check_alias(pol, cx, &s, span, &dp, Side::GrantDst) {
                    dsts.push((a, span));
                }
            }
        }
    }
    let mut ips: Vec<(Protos, Vec<PortRange>)> = Vec::new();
    let ip_node = m.take("ip");
    if let Some(ipn) = ip_node {
        let ip = path.key("ip");
        for (s, span) in cx.strings(ipn, &ip) {
            match parse_ip_entry(&s) {
                Ok(x) => ips.push(x),
                Err(e) => cx.err(span, &ip, e),
            }
        }
    }
    let mut app = Vec::new();
    if let Some(a) = m.take("app") {
        let ap = path.key("app");
        if let Some(mut am) = MapReader::new(a, &ap, cx.diags) {
            for (k, _) in am.take_rest() {
                let name = k.as_scalar().unwrap_or_default().to_string();
                if name.contains("://") {
                    cx.err(
                        k.span,
                        &ap.key(&name),
                        "capability name must have the form {domain}/{path}",
                    );
                } else if name.starts_with("tailscale.com/")
                    && !matches!(
                        name.as_str(),
                        "tailscale.com/cap/drive"
                            | "tailscale.com/cap/relay"
                            | "tailscale.com/cap/webui"
                            | "tailscale.com/cap/kubernetes"
                            | "tailscale.com/cap/tsidp"
                            | "tailscale.com/cap/secrets"
                    )
                {
                    cx.err(
                        k.span,
                        &ap.key(&name),
                        "capability name must not be in the tailscale.com domain",
                    );
                }
                app.push(name);
            }
        }
    }
    if ips.is_empty() && app.is_empty() {
        cx.err(n.span, path, "ip and app can not both be empty");
    }
    if !app.is_empty()
        && dsts
            .iter()
            .any(|(a, _)| *a == Alias::Auto(AutoGroup::Internet))
    {
        cx.err(
            n.span,
            path,
            "cannot use app grants with autogroup:internet",
        );
    }
    let mut via = Vec::new();
    if let Some(v) = m.take("via") {
        let vp = path.key("via");
        for (s, span) in cx.strings(v, &vp) {
            if !s.starts_with("tag:") {
                cx.err(span, &vp, "via can only be a tag");
            } else if !pol.tag_owners.contains_key(&s) {
                cx.err(span, &vp, format!("tag \"{s}\" not found"));
            } else {
                via.push(s);
            }
        }
    }
    let mut src_posture = default_posture.to_vec();
    if let Some(p) = m.take("srcPosture") {
        src_posture = posture_list(pol, cx, p, &path.key("srcPosture"));
    }
    m.finish(&["src", "dst", "ip", "app", "via", "srcPosture"], cx.diags);
    let has_self = dsts
        .iter()
        .any(|(a, _)| *a == Alias::Auto(AutoGroup::SelfDevices));
    if has_self && !self_sources_ok(&src, true) {
        cx.err(
            n.span,
            path,
            "autogroup:self can only be used with users, groups, or supported autogroups",
        );
    }
    if !app.is_empty() {
        pol.not_evaluated.push(format!(
            "grants[{index}] (line {}): app capabilities {} are accepted, not evaluated",
            n.span.line,
            app.join(", ")
        ));
    }
    let mut targets = Vec::new();
    for (alias, span) in &dsts {
        for (protos, ports) in &ips {
            targets.push(Target {
                alias: alias.clone(),
                ports: ports.clone(),
                protos: protos.clone(),
                span: *span,
            });
        }
    }
    Some(Rule {
        origin,
        src,
        targets,
        via,
        src_posture,
        app,
    })
}

/// A grant `ip` entry: `*`, `22`, `80-443`, `tcp:443`, `udp:*`, `icmp:*`, `47:*`.
pub fn parse_ip_entry(s: &str) -> Result<(Protos, Vec<PortRange>), String> {
    if s == "*" {
        return Ok((None, vec![PortRange::ALL]));
    }
    let Some((proto, ports)) = s.split_once(':') else {
        return parse_ports(s).map(|p| (None, p));
    };
    if ports.contains(':') {
        return Err(format!(
            "expected only one colon in Internet protocol and port type, got: \"{s}\""
        ));
    }
    let n = parse_proto(proto)?;
    let ports = parse_ports(ports)?;
    if !matches!(n, TCP | UDP | SCTP) && ports != [PortRange::ALL] {
        return Err(format!(
            "protocol does not support specific ports: \"{proto}\", only \"*\" is allowed"
        ));
    }
    Ok((Some(vec![n]), ports))
}

fn decode_ssh(pol: &Policy, cx: &mut Ctx, n: &Node, path: &Path, index: usize) -> Option<SshRule> {
    let mut m = MapReader::new(n, path, cx.diags)?;
    let origin = Origin {
        section: "ssh",
        index,
        line: n.span.line,
        col: n.span.col,
    };
    let mut check = false;
    match m.take("action") {
        None => cx.err(n.span, path, "action must be specified"),
        Some(a) => match cx.string(a, &path.key("action")).as_deref().map(str::trim) {
            Some("accept") => {}
            Some("check") => check = true,
            Some(s) => cx.err(
                a.span,
                &path.key("action"),
                format!("\"{s}\" is not a valid action"),
            ),
            None => {}
        },
    }
    let mut src = Vec::new();
    if let Some(s) = m.take("src") {
        for (x, span) in cx.strings(s, &path.key("src")) {
            if let Some(a) = check_alias(pol, cx, &x, span, &path.key("src"), Side::SshSrc) {
                src.push(a);
            }
        }
    } else {
        cx.err(n.span, path, "ssh rule needs `src`");
    }
    let mut dst = Vec::new();
    if let Some(s) = m.take("dst") {
        for (x, span) in cx.strings(s, &path.key("dst")) {
            if let Some(a) = check_alias(pol, cx, &x, span, &path.key("dst"), Side::SshDst) {
                dst.push(a);
            }
        }
    } else {
        cx.err(n.span, path, "ssh rule needs `dst`");
    }
    let mut users = Vec::new();
    match m.take("users") {
        None => cx.err(n.span, path, "users must be specified"),
        Some(u) => {
            for (x, span) in cx.strings(u, &path.key("users")) {
                if x.is_empty() || x == "*" {
                    cx.err(
                        span,
                        &path.key("users"),
                        format!("user \"{x}\" is not valid"),
                    );
                } else if let Some(rest) = x.strip_prefix("localpart:") {
                    if !rest.starts_with("*@") || rest.len() < 3 {
                        cx.err(
                            span,
                            &path.key("users"),
                            "invalid localpart format, must be localpart:*@<domain>",
                        );
                    }
                    users.push(x);
                } else {
                    users.push(x);
                }
            }
            if users.is_empty() && !cx.diags.is_empty() {
                // already reported
            } else if users.is_empty() {
                cx.err(u.span, &path.key("users"), "users must be specified");
            }
        }
    }
    if let Some(c) = m.take("checkPeriod") {
        if !check {
            cx.err(
                c.span,
                &path.key("checkPeriod"),
                "checkPeriod is only valid with action \"check\"",
            );
        }
    }
    m.take("acceptEnv");
    let mut src_posture = Vec::new();
    if let Some(p) = m.take("srcPosture") {
        src_posture = posture_list(pol, cx, p, &path.key("srcPosture"));
    }
    m.finish(
        &[
            "action",
            "src",
            "dst",
            "users",
            "checkPeriod",
            "acceptEnv",
            "srcPosture",
        ],
        cx.diags,
    );
    // Who may reach whom: tags never reach user-owned devices; a user destination only itself.
    let src_tagged = src
        .iter()
        .any(|a| matches!(a, Alias::Tag(_) | Alias::Auto(AutoGroup::Tagged)));
    let src_users: Vec<&str> = src
        .iter()
        .filter_map(|a| match a {
            Alias::User(u) => Some(u.as_str()),
            _ => None,
        })
        .collect();
    let src_groups = src
        .iter()
        .any(|a| matches!(a, Alias::Group(_) | Alias::Auto(AutoGroup::Member)));
    for d in &dst {
        let msg = match d {
            Alias::User(u) if src_tagged => Some(format!(
                "tags in SSH source cannot access user-owned devices ({u}); use autogroup:tagged or specific tags as destinations instead"
            )),
            Alias::User(u) if src_groups || src_users != [u.as_str()] => Some(format!(
                "user destination requires source to contain only that same user \"{u}\"; use autogroup:self instead for same-user SSH access"
            )),
            Alias::Auto(AutoGroup::SelfDevices) if src_tagged => Some(
                "autogroup:self destination requires source to contain only users or groups, not tags or autogroup:tagged".into(),
            ),
            Alias::Auto(AutoGroup::Member) if src_tagged => {
                Some("tags in SSH source cannot access autogroup:member (user-owned devices)".into())
            }
            _ => None,
        };
        if let Some(msg) = msg {
            cx.err(n.span, path, msg);
        }
    }
    Some(SshRule {
        origin,
        check,
        src,
        dst,
        users,
        src_posture,
    })
}

/// Parses one posture condition: `ATTR OP VALUE`, `ATTR IN ('a', 'b')`, `ATTR IS SET`.
pub fn parse_condition(s: &str) -> Result<Condition, String> {
    let t = s.trim();
    let attr_end = t.find(char::is_whitespace).unwrap_or(t.len());
    let attr = &t[..attr_end];
    let rest = t[attr_end..].trim_start();
    let bad = || format!("posture condition `{s}`: expected ATTRIBUTE OPERATOR VALUE");
    if !attr.contains(':')
        || !(attr.starts_with("node:") || attr.starts_with("custom:") || attr.contains(':'))
    {
        return Err(format!("posture condition `{s}`: attribute `{attr}` needs a namespace such as node: or custom:"));
    }
    let upper = rest.to_ascii_uppercase();
    let (op, vals) = if upper == "IS SET" {
        (Op::IsSet, "")
    } else if upper == "NOT SET" {
        (Op::NotSet, "")
    } else if upper.starts_with("NOT IN") {
        (Op::NotIn, rest[6..].trim())
    } else if upper.starts_with("IN") && rest[2..].trim_start().starts_with('(') {
        (Op::In, rest[2..].trim())
    } else {
        let ops = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        let (sym, op) = ops
            .iter()
            .find(|(sym, _)| rest.starts_with(sym))
            .ok_or_else(bad)?;
        (*op, rest[sym.len()..].trim())
    };
    let values = match op {
        Op::IsSet | Op::NotSet => Vec::new(),
        Op::In | Op::NotIn => {
            let inner = vals
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(bad)?;
            inner
                .split(',')
                .map(|v| parse_lit(v.trim()).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => vec![parse_lit(vals).ok_or_else(bad)?],
    };
    Ok(Condition {
        text: s.to_string(),
        attr: attr.to_string(),
        op,
        values,
    })
}

fn parse_lit(v: &str) -> Option<Lit> {
    if let Some(x) = v
        .strip_prefix('\'')
        .and_then(|x| x.strip_suffix('\''))
        .or_else(|| v.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
    {
        return Some(Lit::Str(x.to_string()));
    }
    match v {
        "true" => Some(Lit::Bool(true)),
        "false" => Some(Lit::Bool(false)),
        _ => v.parse().ok().map(Lit::Num),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(text: &str) -> Vec<String> {
        match parse_policy("p.hujson", text) {
            Ok(_) => Vec::new(),
            Err(d) => d.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn unknown_keys_have_place_and_did_you_mean() {
        let e = errs("{\n  \"acls\": [],\n  \"tagOwner\": {},\n}");
        assert_eq!(
            e,
            vec![
                "p.hujson:3:3: unknown key `tagOwner` (did you mean `tagOwners`?) (at `tagOwner`)"
            ]
        );
        let e =
            errs("{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dts\": [\"*:*\"]}]}");
        assert!(
            e.iter()
                .any(|l| l.contains("unknown key `dts` (did you mean `dst`?)")),
            "{e:?}"
        );
    }

    #[test]
    fn only_accept_adds_access() {
        let e = errs("{\"acls\": [{\"action\": \"deny\", \"src\": [\"*\"], \"dst\": [\"*:*\"]}]}");
        assert!(e[0].contains("action=\"deny\" is not supported"), "{e:?}");
        assert!(e[0].starts_with("p.hujson:1:22:"), "{e:?}");
    }

    #[test]
    fn invalid_grants_say_why() {
        let cases = [
            (
                r#"{"grants": [{"src": ["*"], "dst": ["0.0.0.0/0"], "ip": ["*"]}]}"#,
                "dst \"0.0.0.0/0\": to allow all IP addresses, use \"*\" or \"autogroup:internet\"",
            ),
            (
                r#"{"grants": [{"src": ["*"], "dst": ["::/0"], "ip": ["*"]}]}"#,
                "dst \"::/0\"",
            ),
            (
                r#"{"grants": [{"src": ["*"], "dst": ["*"], "ip": []}]}"#,
                "ip and app can not both be empty",
            ),
            (
                r#"{"grants": [{"src": ["*"], "dst": ["*"], "app": {}}]}"#,
                "ip and app can not both be empty",
            ),
            (
                r#"{"grants": [{"src": ["*"], "dst": ["*"], "ip": ["tcp:0"]}]}"#,
                "first port must be >0, or use '*' for wildcard",
            ),
            (
                r#"{"grants": [{"src": ["*"], "dst": ["*"], "ip": ["icmp"]}]}"#,
                "port range \"icmp\": invalid first integer",
            ),
            (
                r#"{"grants": [{"src": ["*"], "dst": ["autogroup:self"], "ip": ["*"]}]}"#,
                "autogroup:self can only be used with users, groups, or supported autogroups",
            ),
            (
                r#"{"grants": [{"src": ["autogroup:self"], "dst": ["*"], "ip": ["*"]}]}"#,
                "\"autogroup:self\" not valid on the src side of a rule",
            ),
            (
                r#"{"grants": [{"src": ["*"], "dst": ["autogroup:danger-all"], "ip": ["*"]}]}"#,
                "cannot use autogroup:danger-all as a dst",
            ),
            (
                r#"{"grants": [{"src": ["*"], "dst": ["10.0.0.0/8"], "ip": ["*"], "via": ["autogroup:tagged"]}]}"#,
                "via can only be a tag",
            ),
            (
                r#"{"grants": [{"src": ["*"], "dst": ["10.0.0.0/8"], "ip": ["*"], "via": ["tag:nope"]}]}"#,
                "tag \"tag:nope\" not found",
            ),
            (
                r#"{"grants": [{"src": ["*"], "dst": ["autogroup:internet"], "app": {"example.com/cap/x": [{}]}}]}"#,
                "cannot use app grants with autogroup:internet",
            ),
            (
                r#"{"grants": [{"src": ["*"], "dst": ["*"], "app": {"https://tailscale.com/cap/x": [{}]}}]}"#,
                "capability name must have the form {domain}/{path}",
            ),
            (
                r#"{"grants": [{"src": ["tag:nope"], "dst": ["*"], "ip": ["*"]}]}"#,
                "src=tag not found: \"tag:nope\"",
            ),
        ];
        for (text, want) in cases {
            let e = errs(text);
            assert!(e.iter().any(|l| l.contains(want)), "{text}: {e:?}");
        }
    }

    #[test]
    fn self_is_destination_only_and_acl_allows_wildcard_with_self() {
        assert!(errs(
            r#"{"acls": [{"action": "accept", "src": ["*"], "dst": ["autogroup:self:*"]}]}"#
        )
        .is_empty());
        let e = errs(
            r#"{"tagOwners": {"tag:a": []}, "acls": [{"action": "accept", "src": ["tag:a"], "dst": ["autogroup:self:*"]}]}"#,
        );
        assert!(e[0].contains("autogroup:self can only be used"), "{e:?}");
    }

    #[test]
    fn app_is_accepted_and_reported() {
        let p = parse_policy(
            "p",
            r#"{"grants": [{"src": ["*"], "dst": ["*"], "app": {"example.com/cap/x": [{}]}}]}"#,
        )
        .unwrap();
        assert!(p.not_evaluated[0].contains("example.com/cap/x"));
    }

    #[test]
    fn aliases_and_ports() {
        assert_eq!(
            parse_alias("100.64.0.1").unwrap(),
            Alias::Prefix("100.64.0.1/32".parse().unwrap())
        );
        assert_eq!(
            parse_alias("fd7a:115c:a1e0::1").unwrap(),
            Alias::Prefix("fd7a:115c:a1e0::1/128".parse().unwrap())
        );
        assert_eq!(parse_alias("web").unwrap(), Alias::Host("web".into()));
        assert!(parse_alias("autogroup:membr")
            .unwrap_err()
            .contains("did you mean `autogroup:member`"));
        assert_eq!(
            split_host_ports("[fd7a::1]:22").unwrap(),
            ("fd7a::1".into(), "22".into())
        );
        assert_eq!(
            split_host_ports("tag:a:80,443").unwrap(),
            ("tag:a".into(), "80,443".into())
        );
        assert_eq!(
            parse_ports("80,8000-8100").unwrap(),
            vec![
                PortRange {
                    first: 80,
                    last: 80
                },
                PortRange {
                    first: 8000,
                    last: 8100
                }
            ]
        );
        assert!(parse_ports("99999").is_err());
        assert!(parse_ports("0").is_err());
        assert_eq!(
            parse_ip_entry("tcp:443").unwrap(),
            (
                Some(vec![6]),
                vec![PortRange {
                    first: 443,
                    last: 443
                }]
            )
        );
        assert!(parse_ip_entry("icmp:22").is_err());
    }

    #[test]
    fn conditions() {
        let c = parse_condition("node:os IN ('macos', 'linux')").unwrap();
        assert_eq!(c.op, Op::In);
        assert_eq!(c.values.len(), 2);
        assert_eq!(parse_condition("custom:x IS SET").unwrap().op, Op::IsSet);
        assert_eq!(
            parse_condition("node:tsVersion >= '1.60'").unwrap().op,
            Op::Ge
        );
        assert!(parse_condition("nonsense").is_err());
    }
}
