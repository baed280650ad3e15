//! BGP at router level: sessions derived from the topology, import/export policies, route
//! reflection (RFC 4456), and the best-path decision process (RFC 4271 section 9.1, with the
//! weight and locally-originated steps of common implementations), each comparison explainable.
//!
//! Sessions follow netlab's conventions: eBGP between directly connected routers of different
//! ASes over their interface addresses, iBGP between the loopbacks of all routers of an AS (a
//! full mesh, or client/reflector sessions when the AS has route reflectors). Prefixes are
//! propagated with a worklist until no router changes its best path; the order of work is fixed,
//! so a network with several stable states always lands in the same one.
//!
//! Prefixes that every router treats alike (same originators, same policy prefix-list answers,
//! same session addresses inside them) form a class and are propagated once: the ten prefixes a
//! router originates cost one propagation. The results are kept per class: the candidates every
//! router ended with, and the best path and multipaths of those that learned it from a peer. A
//! router's BGP routes are read off them when its FIB is asked; nothing is copied per router.

use crate::config::{BgpNode, RoutingConfig};
use crate::rib::{
    Action, BgpAttrs, Entry, Fib, NextHop, NodeTable, PrefixTable, Protocol, DISCARD, RECEIVE,
};
use nettwin_model::{Family, NodeId, Prefix, Topology};
use rayon::prelude::*;
use serde::{Serialize, Serializer};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;

/// The ORIGIN attribute; lower is preferred.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

impl Origin {
    /// The code `show ip bgp` prints.
    pub fn code(self) -> char {
        match self {
            Origin::Igp => 'i',
            Origin::Egp => 'e',
            Origin::Incomplete => '?',
        }
    }
}

/// A standard community (RFC 1997), `ASN:VALUE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Community(pub u32);

impl Community {
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Community::NO_EXPORT => f.write_str("no-export"),
            Community::NO_ADVERTISE => f.write_str("no-advertise"),
            Community(v) => write!(f, "{}:{}", v >> 16, v & 0xFFFF),
        }
    }
}

impl FromStr for Community {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "no-export" | "NO_EXPORT" => return Ok(Community::NO_EXPORT),
            "no-advertise" | "NO_ADVERTISE" => return Ok(Community::NO_ADVERTISE),
            _ => {}
        }
        let err = || {
            format!("invalid community `{s}`: write ASN:VALUE (each 0..=65535), no-export or no-advertise")
        };
        let (a, b) = s.split_once(':').ok_or_else(err)?;
        let a: u16 = a.parse().map_err(|_| err())?;
        let b: u16 = b.parse().map_err(|_| err())?;
        Ok(Community(u32::from(a) << 16 | u32::from(b)))
    }
}

impl Serialize for Community {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A prefix-list entry: `198.51.100.0/24`, `198.51.100.0/22 le 24`, `0.0.0.0/0 ge 8 le 24`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixMatch {
    pub prefix: Prefix,
    pub ge: u8,
    pub le: u8,
}

impl PrefixMatch {
    pub fn parse(text: &str) -> Result<PrefixMatch, String> {
        let mut words = text.split_whitespace();
        let prefix: Prefix = words
            .next()
            .ok_or("empty prefix match")?
            .parse()
            .map_err(|e| format!("invalid prefix: {e}"))?;
        let max = prefix.family().max_len();
        let (mut ge, mut le) = (prefix.len(), prefix.len());
        let mut saw_ge = false;
        while let Some(w) = words.next() {
            let v: u8 = words
                .next()
                .and_then(|x| x.parse().ok())
                .filter(|v| *v <= max && *v >= prefix.len())
                .ok_or_else(|| {
                    format!("`{w}` needs a length between {} and {max}", prefix.len())
                })?;
            match w {
                "ge" => {
                    ge = v;
                    saw_ge = true;
                    if le < ge {
                        le = max;
                    }
                }
                "le" => le = v,
                _ => {
                    return Err(format!(
                        "unexpected `{w}` in prefix match: use `ge N` and `le N`"
                    ))
                }
            }
        }
        if saw_ge && le < ge {
            return Err(format!("`ge {ge}` is larger than `le {le}`"));
        }
        Ok(PrefixMatch { prefix, ge, le })
    }

    pub fn matches(&self, p: &Prefix) -> bool {
        self.prefix.covers(p) && p.len() >= self.ge && p.len() <= self.le
    }
}

/// An AS-path regular expression in Cisco's dialect: `_` matches a separator, the start or the
/// end, so `_65200$` means "originated by AS 65200".
#[derive(Clone, Debug)]
pub struct AsPathRegex {
    source: String,
    re: regex::Regex,
}

impl AsPathRegex {
    pub fn new(source: &str) -> Result<AsPathRegex, String> {
        let translated = source.replace('_', "(?:^|$| )");
        let re = regex::Regex::new(&translated)
            .map_err(|e| format!("invalid AS-path regex `{source}`: {e}"))?;
        Ok(AsPathRegex {
            source: source.to_string(),
            re,
        })
    }

    pub fn matches(&self, path: &[u32]) -> bool {
        let text: Vec<String> = path.iter().map(u32::to_string).collect();
        self.re.is_match(&text.join(" "))
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

/// One rule of a policy: if the route matches every `match_*` given, apply the `set_*` and
/// permit or deny it.
#[derive(Clone, Debug)]
pub struct Rule {
    pub match_prefix: Vec<PrefixMatch>,
    pub match_community: Vec<Community>,
    pub match_as_path: Option<AsPathRegex>,
    pub set_local_pref: Option<u32>,
    pub set_med: Option<u32>,
    pub set_weight: Option<u32>,
    pub prepend: u8,
    pub add_community: Vec<Community>,
    pub permit: bool,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            match_prefix: Vec::new(),
            match_community: Vec::new(),
            match_as_path: None,
            set_local_pref: None,
            set_med: None,
            set_weight: None,
            prepend: 0,
            add_community: Vec::new(),
            permit: true,
        }
    }
}

/// An ordered list of rules, like a route-map: the first matching rule decides; a route that
/// matches none is denied.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

impl Policy {
    /// Applies the policy to `path`; `false` means denied.
    fn apply(&self, prefix: &Prefix, path: &mut PathAttrs, asn: u32) -> bool {
        for rule in &self.rules {
            let m = (rule.match_prefix.is_empty()
                || rule.match_prefix.iter().any(|pm| pm.matches(prefix)))
                && rule
                    .match_community
                    .iter()
                    .all(|c| path.communities.contains(c))
                && rule
                    .match_as_path
                    .as_ref()
                    .is_none_or(|re| re.matches(&path.as_path));
            if !m {
                continue;
            }
            if !rule.permit {
                return false;
            }
            if let Some(v) = rule.set_local_pref {
                path.local_pref = v;
            }
            if let Some(v) = rule.set_med {
                path.med = Some(v);
            }
            if let Some(v) = rule.set_weight {
                path.weight = v;
            }
            for _ in 0..rule.prepend {
                path.as_path.insert(0, asn);
            }
            for c in &rule.add_community {
                if !path.communities.contains(c) {
                    path.communities.push(*c);
                }
            }
            path.communities.sort();
            return true;
        }
        false
    }
}

/// The attributes of one BGP path as a router holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathAttrs {
    pub as_path: Vec<u32>,
    pub origin: Origin,
    pub next_hop: IpAddr,
    pub local_pref: u32,
    pub med: Option<u32>,
    pub communities: Vec<Community>,
    pub weight: u32,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
}

/// How two routers talk BGP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionKind {
    Ebgp,
    Ibgp,
}

/// One BGP session between two routers, seen from one of them.
#[derive(Clone, Debug, Serialize)]
pub struct Peer {
    pub node: NodeId,
    pub local_address: IpAddr,
    pub remote_address: IpAddr,
    pub remote_as: u32,
    pub kind: SessionKind,
    /// The peer is my route-reflector client.
    pub rr_client: bool,
    pub established: bool,
    /// Why the session is down, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_reason: Option<String>,
    pub prefixes_received: usize,
}

/// The decision step that made one path better than another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    NextHopUnreachable,
    Weight,
    LocalPref,
    LocallyOriginated,
    AsPathLength,
    Origin,
    Med,
    EbgpOverIbgp,
    IgpMetric,
    RouterId,
    ClusterListLength,
    NeighborAddress,
    OnlyPath,
}

impl Step {
    pub fn describe(self) -> &'static str {
        match self {
            Step::NextHopUnreachable => "the other path's next hop is unreachable",
            Step::Weight => "higher weight",
            Step::LocalPref => "higher local preference",
            Step::LocallyOriginated => "locally originated",
            Step::AsPathLength => "shorter AS path",
            Step::Origin => "lower origin (IGP < EGP < incomplete)",
            Step::Med => "lower MED (same neighbour AS)",
            Step::EbgpOverIbgp => "eBGP path preferred over iBGP",
            Step::IgpMetric => "lower IGP metric to the next hop",
            Step::RouterId => "lower router id (originator id for reflected paths)",
            Step::ClusterListLength => "shorter cluster list",
            Step::NeighborAddress => "lower neighbour address",
            Step::OnlyPath => "the only valid path",
        }
    }
}

/// A path in a router's BGP table, with what it resolved to.
#[derive(Clone, Debug, Serialize)]
pub struct BgpPath {
    pub prefix: Prefix,
    #[serde(serialize_with = "ser_attrs")]
    pub attrs: Arc<PathAttrs>,
    /// Which peer it came from (index into the router's peers), `None` when local.
    pub from: Option<usize>,
    pub from_node: Option<NodeId>,
    pub ebgp: bool,
    pub peer_router_id: Ipv4Addr,
    pub peer_address: Option<IpAddr>,
    /// IGP metric to the next hop; `None` when the next hop is unreachable.
    pub igp_metric: Option<u32>,
    pub best: bool,
    pub multipath: bool,
    /// Why this path lost to the best (the step that decided), or why it won.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<Step>,
}

fn ser_attrs<S: Serializer>(a: &Arc<PathAttrs>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = s.serialize_struct("PathAttrs", 8)?;
    st.serialize_field("as_path", &a.as_path)?;
    st.serialize_field("origin", &a.origin)?;
    st.serialize_field("next_hop", &a.next_hop)?;
    st.serialize_field("local_pref", &a.local_pref)?;
    st.serialize_field("med", &a.med)?;
    st.serialize_field("communities", &a.communities)?;
    st.serialize_field("weight", &a.weight)?;
    st.serialize_field("cluster_list", &a.cluster_list)?;
    st.end()
}

/// What BGP computed for one router.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BgpRouter {
    pub asn: u32,
    pub router_id: Option<Ipv4Addr>,
    pub peers: Vec<Peer>,
}

/// Why BGP could not finish.
#[derive(Debug, thiserror::Error)]
pub enum BgpError {
    #[error("BGP did not converge for {prefix} after {steps} updates (a policy oscillation, e.g. MED or local-preference cycles)")]
    NoConvergence { prefix: Prefix, steps: usize },
}

fn router_id(topo: &Topology, n: NodeId) -> Ipv4Addr {
    if let Some(r) = topo.node(n).router_id {
        return r;
    }
    topo.node(n)
        .interfaces
        .iter()
        .filter_map(|i| match i.ipv4?.addr {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        })
        .max()
        .unwrap_or(Ipv4Addr::UNSPECIFIED)
}

fn family_of(a: IpAddr) -> Family {
    if a.is_ipv4() {
        Family::Ipv4
    } else {
        Family::Ipv6
    }
}

fn unspecified(f: Family) -> IpAddr {
    match f {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// Whether `fib` can forward to `addr` (a route that is not a discard).
fn reachable(fib: &Fib, addr: IpAddr) -> bool {
    fib.lookup(addr)
        .is_some_and(|r| !matches!(r.action, Action::Discard))
}

fn neighbor_cfg(b: &BgpNode, peer: NodeId) -> Option<&crate::config::NeighborConfig> {
    b.neighbors.iter().find(|n| n.peer == Some(peer))
}

/// Sessions of every router, from the topology and the BGP configuration.
fn sessions(topo: &Topology, cfg: &RoutingConfig, base: &[Fib]) -> Vec<Vec<Peer>> {
    let mut peers: Vec<Vec<Peer>> = vec![Vec::new(); topo.nodes.len()];
    let shut = |a: NodeId, b: NodeId| {
        let s = |x: NodeId, y: NodeId| {
            cfg.bgp[x.index()]
                .as_ref()
                .and_then(|c| neighbor_cfg(c, y))
                .is_some_and(|n| n.shutdown)
        };
        s(a, b) || s(b, a)
    };
    let mut add = |a: NodeId,
                   b: NodeId,
                   la: IpAddr,
                   lb: IpAddr,
                   kind: SessionKind,
                   a_is_rr_of_b: bool,
                   b_is_rr_of_a: bool,
                   up: Result<(), String>| {
        let asn = |x: NodeId| cfg.bgp[x.index()].as_ref().map(|c| c.asn).unwrap_or(0);
        let (established, down_reason) = match up {
            Ok(()) if shut(a, b) => (false, Some("administratively shut down".to_string())),
            Ok(()) => (true, None),
            Err(e) => (false, Some(e)),
        };
        peers[a.index()].push(Peer {
            node: b,
            local_address: la,
            remote_address: lb,
            remote_as: asn(b),
            kind,
            rr_client: a_is_rr_of_b,
            established,
            down_reason: down_reason.clone(),
            prefixes_received: 0,
        });
        peers[b.index()].push(Peer {
            node: a,
            local_address: lb,
            remote_address: la,
            remote_as: asn(a),
            kind,
            rr_client: b_is_rr_of_a,
            established,
            down_reason,
            prefixes_received: 0,
        });
    };
    // eBGP over every segment joining routers of different ASes.
    for seg in &topo.segments {
        for (i, ra) in seg.members.iter().enumerate() {
            for rb in &seg.members[i + 1..] {
                let (Some(ca), Some(cb)) = (&cfg.bgp[ra.node.index()], &cfg.bgp[rb.node.index()])
                else {
                    continue;
                };
                if ca.asn == cb.asn || ra.node == rb.node || !ca.ebgp || !cb.ebgp {
                    continue;
                }
                let (ia, ib) = (topo.interface(*ra), topo.interface(*rb));
                for (a, b) in [(ia.ipv4, ib.ipv4), (ia.ipv6, ib.ipv6)] {
                    if let (Some(a), Some(b)) = (a, b) {
                        let up = if ia.up && ib.up {
                            Ok(())
                        } else {
                            Err("interface down".to_string())
                        };
                        add(
                            ra.node,
                            rb.node,
                            a.addr,
                            b.addr,
                            SessionKind::Ebgp,
                            false,
                            false,
                            up,
                        );
                    }
                }
            }
        }
    }
    // iBGP between loopbacks inside each AS.
    let mut by_as: BTreeMap<u32, Vec<NodeId>> = BTreeMap::new();
    for n in &topo.nodes {
        if let Some(c) = cfg.bgp[n.id.index()].as_ref().filter(|c| c.ibgp) {
            by_as.entry(c.asn).or_default().push(n.id);
        }
    }
    for members in by_as.values() {
        let rr = |x: NodeId| {
            cfg.bgp[x.index()]
                .as_ref()
                .is_some_and(|c| c.route_reflector)
        };
        let any_rr = members.iter().any(|m| rr(*m));
        for (i, &a) in members.iter().enumerate() {
            for &b in &members[i + 1..] {
                if any_rr && !rr(a) && !rr(b) {
                    continue;
                }
                let (la, lb) = (topo.node(a).loopback, topo.node(b).loopback);
                for (x, y) in [(la.ipv4, lb.ipv4), (la.ipv6, lb.ipv6)] {
                    let (Some(x), Some(y)) = (x, y) else { continue };
                    let up = if !reachable(&base[a.index()], y.addr) {
                        Err(format!("{} has no route to {}", topo.node(a).name, y.addr))
                    } else if !reachable(&base[b.index()], x.addr) {
                        Err(format!("{} has no route to {}", topo.node(b).name, x.addr))
                    } else {
                        Ok(())
                    };
                    add(
                        a,
                        b,
                        x.addr,
                        y.addr,
                        SessionKind::Ibgp,
                        rr(a) && !rr(b),
                        rr(b) && !rr(a),
                        up,
                    );
                }
            }
        }
    }
    peers
}

/// Locally originated prefixes of a router.
fn originated(topo: &Topology, cfg: &RoutingConfig, n: NodeId) -> Vec<Prefix> {
    let Some(b) = &cfg.bgp[n.index()] else {
        return Vec::new();
    };
    let node = topo.node(n);
    let mut out = b.originate.clone();
    if b.advertise_loopback {
        // With the mask the loopback is written with, as netlab configures and FRR announces.
        out.extend(
            [node.loopback.ipv4, node.loopback.ipv6]
                .into_iter()
                .flatten()
                .map(|a| a.subnet()),
        );
    }
    if b.advertise_stubs {
        for iface in node.interfaces.iter().filter(|i| i.up) {
            let Some(seg) = iface.segment else { continue };
            let seg = topo.segment(seg);
            let alone = seg
                .members
                .iter()
                .all(|m| m.node == n || !topo.node(m.node).kind.forwards_ip());
            if alone {
                out.extend(seg.ipv4.iter().chain(seg.ipv6.iter()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Compares two paths by the decision process; `Less` means `a` is better.
pub(crate) fn compare(a: &PathView, b: &PathView, always_compare_med: bool) -> (Ordering, Step) {
    let (x, y) = (a.attrs, b.attrs);
    let steps: [(Ordering, Step); 11] = [
        (
            b.igp_metric
                .is_none()
                .cmp(&a.igp_metric.is_none())
                .reverse(),
            Step::NextHopUnreachable,
        ),
        (y.weight.cmp(&x.weight), Step::Weight),
        (y.local_pref.cmp(&x.local_pref), Step::LocalPref),
        (
            b.from.is_none().cmp(&a.from.is_none()),
            Step::LocallyOriginated,
        ),
        (x.as_path.len().cmp(&y.as_path.len()), Step::AsPathLength),
        (x.origin.cmp(&y.origin), Step::Origin),
        (
            if always_compare_med || x.as_path.first() == y.as_path.first() {
                x.med.unwrap_or(0).cmp(&y.med.unwrap_or(0))
            } else {
                Ordering::Equal
            },
            Step::Med,
        ),
        (b.ebgp.cmp(&a.ebgp), Step::EbgpOverIbgp),
        (
            a.igp_metric
                .unwrap_or(u32::MAX)
                .cmp(&b.igp_metric.unwrap_or(u32::MAX)),
            Step::IgpMetric,
        ),
        (
            x.originator_id
                .unwrap_or(a.peer_router_id)
                .cmp(&y.originator_id.unwrap_or(b.peer_router_id)),
            Step::RouterId,
        ),
        (
            x.cluster_list.len().cmp(&y.cluster_list.len()),
            Step::ClusterListLength,
        ),
    ];
    for (o, s) in steps {
        if o != Ordering::Equal {
            return (o, s);
        }
    }
    (a.peer_address.cmp(&b.peer_address), Step::NeighborAddress)
}

/// Equal for multipath: the same up to and including the IGP metric, and for eBGP paths the
/// same neighbouring AS.
fn multipath_equal(a: &PathView, b: &PathView, always_compare_med: bool) -> bool {
    let (o, step) = compare(a, b, always_compare_med);
    (o == Ordering::Equal
        || matches!(
            step,
            Step::RouterId | Step::ClusterListLength | Step::NeighborAddress
        ))
        && a.ebgp == b.ebgp
        && (!a.ebgp || a.attrs.as_path.first() == b.attrs.as_path.first())
}

/// `from` of a path the router originates itself.
const LOCAL: u32 = u32::MAX;
/// No value (an unresolved next hop, a missing best path).
const NONE: u32 = u32::MAX;

/// A path as the decision process sees it; borrowed from wherever the path is kept.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PathView<'a> {
    pub attrs: &'a PathAttrs,
    pub from: Option<usize>,
    pub ebgp: bool,
    pub peer_router_id: Ipv4Addr,
    pub peer_address: Option<IpAddr>,
    pub igp_metric: Option<u32>,
}

impl BgpPath {
    pub(crate) fn view(&self) -> PathView<'_> {
        PathView {
            attrs: &self.attrs,
            from: self.from,
            ebgp: self.ebgp,
            peer_router_id: self.peer_router_id,
            peer_address: self.peer_address,
            igp_metric: self.igp_metric,
        }
    }
}

/// Prefixes every router treats alike: the same originators, the same answer from every prefix
/// list of every policy, the same session addresses inside them, and host routes apart from
/// the rest (a host route whose next hop is its own address is inaccessible). BGP runs once per class: the ten prefixes a router originates cost
/// one propagation, not ten.
#[derive(Clone, Debug)]
struct ClassSpec {
    representative: Prefix,
    origins: Vec<NodeId>,
    /// Per origin: the AS path it originates with (empty unless leaked from another VRF).
    paths: Vec<Vec<u32>>,
}

/// How one class ended up at every router.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClassResult {
    /// The path attributes that occur, shared by the paths below.
    attrs: Vec<Arc<PathAttrs>>,
    /// Every router's paths: (router, peer index or [`LOCAL`], attrs index), sorted by router,
    /// then the local path first and peers in order.
    paths: Vec<(u32, u32, u32)>,
    /// Routers whose best path came from a peer: (router, attrs index of the best path, learned
    /// over eBGP, start and length of its forwarding paths in `multipath`).
    best: Vec<(u32, u32, bool, u32, u32)>,
    /// Attrs indexes of the paths packets use: the best and its multipath equals.
    multipath: Vec<u32>,
    /// Per attrs index: the next hop's index in the [`Resolver`], or [`NONE`].
    nh: Vec<u32>,
}

/// BGP's results for the whole network, kept for the FIBs, the BGP tables and `explain`.
#[derive(Clone, Debug, Default)]
pub(crate) struct BgpState {
    /// Per prefix number: its class, or `u32::MAX` when no router originates it.
    pub class_of: Vec<u32>,
    /// Per class: its prefix numbers, sorted.
    pub members: Vec<Vec<u32>>,
    classes: Vec<ClassResult>,
    /// The attributes FIB entries point to (`Entry::bgp`): every class's, one after another.
    pub attrs: Vec<BgpAttrs>,
    /// Per class: where its attributes start in `attrs`.
    offsets: Vec<u32>,
    rid: Vec<Ipv4Addr>,
    resolver: Resolver,
    /// Per router: (class, position in the class's `best`) of every class it has a route from
    /// a peer for. Built the first time a whole table is asked for (computing routes does not
    /// need it).
    by_router: std::sync::OnceLock<Vec<Vec<(u32, u32)>>>,
}

/// What [`compute`] gives back.
pub(crate) struct BgpOutput {
    pub routers: Vec<Option<BgpRouter>>,
    /// Per node: the next-hop sets BGP routes add to the node's table, numbered after the
    /// table's own.
    pub hops: Vec<NodeTable>,
    /// Per node: (class, next-hop set) of its multipath BGP routes, sorted by class.
    pub multipath: Vec<Vec<(u32, u32)>>,
    pub state: BgpState,
}

/// Groups the originated prefixes into classes.
fn classes(
    cfg: &RoutingConfig,
    peers: &[Vec<Peer>],
    table: &PrefixTable,
    origins: BTreeMap<Prefix, Vec<(NodeId, Vec<u32>)>>,
    share: bool,
) -> (Vec<ClassSpec>, Vec<u32>, Vec<Vec<u32>>) {
    // Every prefix list a policy matches on.
    let mut lists: Vec<&[PrefixMatch]> = Vec::new();
    for b in cfg.bgp.iter().flatten() {
        let policies = b.import.iter().chain(b.export.iter()).chain(
            b.neighbors
                .iter()
                .flat_map(|n| n.import.iter().chain(n.export.iter())),
        );
        for p in policies {
            for rule in &p.rules {
                if !rule.match_prefix.is_empty() && !lists.contains(&&rule.match_prefix[..]) {
                    lists.push(&rule.match_prefix);
                }
            }
        }
    }
    // Every address a path's next hop can have: the local addresses of sessions.
    let mut next_hops: Vec<IpAddr> = peers.iter().flatten().map(|p| p.local_address).collect();
    next_hops.sort_unstable();
    next_hops.dedup();
    type Key = (
        Vec<(NodeId, Vec<u32>)>,
        Family,
        Vec<bool>,
        (usize, usize),
        bool,
        Option<u32>,
    );
    let mut index: HashMap<Key, u32> = HashMap::new();
    let mut specs: Vec<ClassSpec> = Vec::new();
    let mut members: Vec<Vec<u32>> = Vec::new();
    let mut class_of = vec![u32::MAX; table.len()];
    for (prefix, orig) in origins {
        let bits: Vec<bool> = lists
            .iter()
            .map(|l| l.iter().any(|m| m.matches(&prefix)))
            .collect();
        let lo = next_hops.partition_point(|a| *a < prefix.network());
        let inside = next_hops[lo..]
            .iter()
            .take_while(|a| prefix.contains(**a))
            .count();
        let range = if inside == 0 {
            (0, 0)
        } else {
            (lo, lo + inside)
        };
        let id = table
            .id(&prefix)
            .expect("originated prefixes are in the prefix table");
        // Without sharing, the prefix itself makes the key unique.
        let alone = (!share).then_some(id);
        // Host routes apart: only a host route can be its own next hop (see `Arena::push`).
        let host = prefix == Prefix::host(prefix.network());
        let key = (orig.clone(), prefix.family(), bits, range, host, alone);
        let class = *index.entry(key).or_insert_with(|| {
            specs.push(ClassSpec {
                representative: prefix,
                origins: orig.iter().map(|o| o.0).collect(),
                paths: orig.into_iter().map(|o| o.1).collect(),
            });
            members.push(Vec::new());
            (specs.len() - 1) as u32
        });
        members[class as usize].push(id);
        class_of[id as usize] = class;
    }
    (specs, class_of, members)
}

/// Runs BGP for every router. `base` are the FIBs without BGP (connected, static, IGP), used to
/// bring up iBGP sessions and to resolve next hops.
pub(crate) fn compute(
    topo: &Topology,
    cfg: &RoutingConfig,
    table: &PrefixTable,
    base: &[Fib],
    share_classes: bool,
    phases: &mut crate::Phases,
) -> Result<BgpOutput, BgpError> {
    let n = topo.nodes.len();
    let mut peers = sessions(topo, cfg, base);
    phases.done("bgp sessions");
    let rid: Vec<Ipv4Addr> = (0..n).map(|i| router_id(topo, NodeId(i as u32))).collect();
    // For each router and peer, the index of the reverse session at the peer.
    let reverse: Vec<Vec<usize>> = (0..n)
        .map(|a| {
            peers[a]
                .iter()
                .map(|p| {
                    peers[p.node.index()]
                        .iter()
                        .position(|q| q.node.index() == a && q.remote_address == p.local_address)
                        .expect("sessions are added in pairs")
                })
                .collect()
        })
        .collect();

    let mut origins: BTreeMap<Prefix, Vec<(NodeId, Vec<u32>)>> = BTreeMap::new();
    for i in 0..n {
        let preset = cfg.bgp[i]
            .as_ref()
            .map_or(&[][..], |b| &b.originate_as_path[..]);
        for p in originated(topo, cfg, NodeId(i as u32)) {
            let path = preset
                .iter()
                .find(|(q, _)| *q == p)
                .map(|(_, a)| a.clone())
                .unwrap_or_default();
            origins.entry(p).or_default().push((NodeId(i as u32), path));
        }
    }
    let (specs, class_of, members) = classes(cfg, &peers, table, origins, share_classes);

    phases.done("bgp prefix classes");
    let (resolver, mut hops) = Resolver::new(&peers, base, table, cfg);
    phases.done("bgp next-hop resolution");
    let ctx = Ctx {
        cfg,
        peers: &peers,
        reverse: &reverse,
        rid: &rid,
        base,
        resolver: &resolver,
    };
    // Classes are independent: propagate them in parallel.
    let results: Vec<ClassResult> = specs
        .par_iter()
        .map_init(
            || Scratch::new(n),
            |scratch, spec| propagate_class(&ctx, scratch, spec),
        )
        .collect::<Result<_, _>>()?;

    phases.done("bgp propagation");
    // Paths received per session, counted per class and added up.
    let zero = || -> Vec<Vec<usize>> { peers.iter().map(|ps| vec![0; ps.len()]).collect() };
    let received = results
        .par_iter()
        .zip(&members)
        .fold(zero, |mut acc, (res, m)| {
            for &(r, from, _) in &res.paths {
                if from != LOCAL {
                    acc[r as usize][from as usize] += m.len();
                }
            }
            acc
        })
        .reduce(zero, |mut a, b| {
            for (x, y) in a.iter_mut().zip(b) {
                for (p, q) in x.iter_mut().zip(y) {
                    *p += q;
                }
            }
            a
        });
    for (a, ps) in peers.iter_mut().enumerate() {
        for (pi, p) in ps.iter_mut().enumerate() {
            p.prefixes_received = received[a][pi];
        }
    }
    let mut offsets: Vec<u32> = Vec::with_capacity(results.len());
    let mut attrs: Vec<BgpAttrs> = Vec::new();
    let mut multipath: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
    for (c, res) in results.iter().enumerate() {
        offsets.push(attrs.len() as u32);
        attrs.extend(res.attrs.iter().map(|a| BgpAttrs {
            as_path: a.as_path.clone(),
            local_pref: a.local_pref,
            med: a.med,
            origin: a.origin,
            communities: a.communities.clone(),
            next_hop: a.next_hop,
        }));
        // A multipath route's next hops are the union of its paths' next hops at the router:
        // a set of its own, made here. Single paths use the resolver's set as they are.
        for &(r, _, _, start, len) in &res.best {
            if len < 2 {
                continue;
            }
            let r = r as usize;
            let offset = base[r].node.set_count();
            let mut union: Vec<NextHop> = Vec::new();
            for m in &res.multipath[start as usize..(start + len) as usize] {
                let nh = res.nh[*m as usize];
                let set = if nh == NONE {
                    NONE
                } else {
                    resolver.action_at(r, nh)
                };
                if set == DISCARD || set == RECEIVE {
                    continue;
                }
                union.extend_from_slice(if set < offset {
                    base[r].node.hops(set)
                } else {
                    hops[r].hops(set - offset)
                });
            }
            union.sort_unstable();
            union.dedup();
            if !union.is_empty() {
                let set = offset + hops[r].hop_set(&union);
                multipath[r].push((c as u32, set));
            }
        }
    }
    phases.done("bgp results");
    let routers = (0..n)
        .map(|i| {
            cfg.bgp[i].as_ref().map(|c| BgpRouter {
                asn: c.asn,
                router_id: Some(rid[i]),
                peers: std::mem::take(&mut peers[i]),
            })
        })
        .collect();
    Ok(BgpOutput {
        routers,
        hops,
        multipath,
        state: BgpState {
            class_of,
            members,
            classes: results,
            attrs,
            offsets,
            rid,
            resolver,
            by_router: std::sync::OnceLock::new(),
        },
    })
}

/// The IGP metric to a next hop through the router's own routes; `None` when it cannot be
/// reached (no route, or a discard).
fn nh_metric(fib: &Fib, nh: IpAddr) -> Option<u32> {
    let e = fib.lookup_entry(nh)?;
    match e.action {
        DISCARD => None,
        RECEIVE => Some(0),
        _ => Some(e.metric),
    }
}

/// Peers that receive the same attributes from a router: session kind, whether the peer is a
/// reflector client, and the local address (the next hop when it is set to self).
type ExportClass = (SessionKind, bool, IpAddr);

/// What every class's propagation needs to read.
struct Ctx<'a> {
    cfg: &'a RoutingConfig,
    peers: &'a [Vec<Peer>],
    reverse: &'a [Vec<usize>],
    rid: &'a [Ipv4Addr],
    base: &'a [Fib<'a>],
    resolver: &'a Resolver,
}

/// Next-hop metrics per router for every address that can be a BGP next hop (the local
/// addresses of sessions), computed once instead of one longest-prefix match per path seen.
#[derive(Clone, Debug, Default)]
struct Resolver {
    index: HashMap<IpAddr, u32>,
    /// Per address, per router: the metric (`u32::MAX` when unreachable) and the action of the
    /// route that reaches it. By address first: one class's paths share a next hop, and the
    /// routers deciding on them read one row.
    by_addr: Vec<Vec<(u32, u32)>>,
}

impl Resolver {
    /// The resolver, and per router the next-hop sets it added (numbered after the router's
    /// own): a next hop on a connected subnet becomes the gateway itself.
    fn new(
        peers: &[Vec<Peer>],
        base: &[Fib],
        table: &PrefixTable,
        cfg: &RoutingConfig,
    ) -> (Resolver, Vec<NodeTable>) {
        let mut addrs: Vec<IpAddr> = peers.iter().flatten().map(|p| p.local_address).collect();
        addrs.sort_unstable();
        addrs.dedup();
        let index = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| (*a, i as u32))
            .collect();
        // The prefixes containing each address are the same at every router: find them once,
        // as positions in one sorted list that each router's (sorted) table is walked along.
        let covering: Vec<Vec<u32>> = addrs.iter().map(|a| table.covering(*a).collect()).collect();
        let mut wanted: Vec<u32> = covering.iter().flatten().copied().collect();
        wanted.sort_unstable();
        wanted.dedup();
        let covering: Vec<Vec<usize>> = covering
            .iter()
            .map(|ids| {
                ids.iter()
                    .map(|id| wanted.binary_search(id).expect("listed"))
                    .collect()
            })
            .collect();
        let (metric, extra): (Vec<Vec<(u32, u32)>>, Vec<NodeTable>) = base
            .par_iter()
            .enumerate()
            .map(|(r, fib)| {
                let mut extra = NodeTable::default();
                if cfg.bgp[r].is_none() {
                    return (Vec::new(), extra);
                }
                // The preferred entry of every wanted prefix (BGP is not in `base`).
                let entries = &fib.node.entries;
                let mut k = 0;
                let present: Vec<Option<&Entry>> = wanted
                    .iter()
                    .map(|&id| {
                        while k < entries.len() && entries[k].prefix < id {
                            k += 1;
                        }
                        entries.get(k).filter(|e| e.prefix == id)
                    })
                    .collect();
                let offset = fib.node.set_count();
                let row = covering
                    .iter()
                    .zip(&addrs)
                    .map(|(ids, addr)| match ids.iter().find_map(|i| present[*i]) {
                        None => (u32::MAX, DISCARD),
                        Some(e) if e.action == DISCARD => (u32::MAX, DISCARD),
                        Some(e) if e.action == RECEIVE => (0, RECEIVE),
                        Some(e) => {
                            let hops = fib.node.hops(e.action);
                            if hops.iter().all(|h| h.address.is_some()) {
                                return (e.metric, e.action);
                            }
                            let mut filled: Vec<NextHop> = hops
                                .iter()
                                .map(|h| NextHop {
                                    address: Some(h.address.unwrap_or(*addr)),
                                    interface: h.interface,
                                })
                                .collect();
                            filled.sort_unstable();
                            (e.metric, offset + extra.hop_set(&filled))
                        }
                    })
                    .collect();
                (row, extra)
            })
            .unzip();
        let n = metric.len();
        let by_addr = (0..addrs.len())
            .into_par_iter()
            .map(|i| {
                (0..n)
                    .map(|r| metric[r].get(i).copied().unwrap_or((u32::MAX, DISCARD)))
                    .collect()
            })
            .collect();
        (Resolver { index, by_addr }, extra)
    }

    fn metric(&self, r: usize, fib: &Fib, addr: IpAddr) -> Option<u32> {
        match self.index.get(&addr) {
            Some(i) => self.metric_at(r, *i),
            None => nh_metric(fib, addr),
        }
    }

    fn metric_at(&self, r: usize, i: u32) -> Option<u32> {
        let (m, _) = self.by_addr[i as usize][r];
        (m != u32::MAX).then_some(m)
    }

    /// The next-hop set (or [`RECEIVE`], [`DISCARD`]) address `i` resolves to at router `r`.
    fn action_at(&self, r: usize, i: u32) -> u32 {
        self.by_addr[i as usize][r].1
    }
}

/// Buffers one worker reuses from class to class.
struct Scratch {
    /// Per router: (peer index or [`LOCAL`], attrs index), local first, then by peer.
    cands: Vec<Vec<(u32, u32)>>,
    best: Vec<Option<(u32, u32)>>,
    queued: Vec<bool>,
    touched: Vec<bool>,
    touched_list: Vec<u32>,
    queue: VecDeque<u32>,
}

impl Scratch {
    fn new(n: usize) -> Scratch {
        Scratch {
            cands: vec![Vec::new(); n],
            best: vec![None; n],
            queued: vec![false; n],
            touched: vec![false; n],
            touched_list: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    fn touch(&mut self, r: usize) {
        if !self.touched[r] {
            self.touched[r] = true;
            self.touched_list.push(r as u32);
        }
    }

    fn enqueue(&mut self, r: usize) {
        if !self.queued[r] {
            self.queued[r] = true;
            self.queue.push_back(r as u32);
        }
    }
}

/// The path attributes of one class, with what the decision needs of each.
struct Arena {
    attrs: Vec<Arc<PathAttrs>>,
    /// The next hop's index in the [`Resolver`], or [`NONE`].
    nh: Vec<u32>,
    /// Whether the class's prefix is the next hop's own host route (`/32`, `/128`).
    inside: Vec<bool>,
}

impl Arena {
    fn push(&mut self, a: Arc<PathAttrs>, prefix: &Prefix, resolver: &Resolver) -> u32 {
        self.nh
            .push(resolver.index.get(&a.next_hop).copied().unwrap_or(NONE));
        self.inside.push(*prefix == Prefix::host(a.next_hop));
        self.attrs.push(a);
        (self.attrs.len() - 1) as u32
    }
}

/// Sort key of a candidate: the local path first, then by peer index.
fn cand_key(from: u32) -> u32 {
    from.wrapping_add(1)
}

/// How router `r` sees path `(from, ai)` of a class.
fn view<'a>(ctx: &Ctx, arena: &'a Arena, r: usize, from: u32, ai: u32) -> PathView<'a> {
    let peer = (from != LOCAL).then(|| &ctx.peers[r][from as usize]);
    let a = ai as usize;
    let igp_metric = if from == LOCAL {
        Some(0)
    } else if arena.inside[a] {
        // A host route whose next hop is its own address would resolve through itself:
        // FRR's next-hop tracking calls it inaccessible, and so do we. A next hop merely inside
        // a shorter prefix (a /24 or /64 loopback advertised with the loopback's address as
        // next hop) resolves through the IGP as usual, as in FRR. Both checked against FRR in
        // namespaces by `nettwin emu verify`.
        None
    } else if arena.nh[a] == NONE {
        nh_metric(&ctx.base[r], arena.attrs[a].next_hop)
    } else {
        ctx.resolver.metric_at(r, arena.nh[a])
    };
    PathView {
        attrs: &arena.attrs[a],
        from: peer.map(|_| from as usize),
        ebgp: peer.is_some_and(|p| p.kind == SessionKind::Ebgp),
        peer_router_id: peer.map(|p| ctx.rid[p.node.index()]).unwrap_or(ctx.rid[r]),
        peer_address: peer.map(|p| p.remote_address),
        igp_metric,
    }
}

/// The decision process: the position and view of the best path, if any has a reachable
/// next hop. Among equals the first stays best.
fn best_path<'a>(
    paths: impl IntoIterator<Item = PathView<'a>>,
    always_compare_med: bool,
) -> Option<(usize, PathView<'a>)> {
    let mut best: Option<(usize, PathView)> = None;
    for (i, v) in paths.into_iter().enumerate() {
        if v.igp_metric.is_none() {
            continue;
        }
        match &best {
            Some((_, b)) if compare(&v, b, always_compare_med).0 != Ordering::Less => {}
            _ => best = Some((i, v)),
        }
    }
    best
}

/// Calls `on` with the position of every path packets use besides the best (at `best`): those
/// equal to it for multipath, in order, up to `maximum_paths` in all.
fn multipaths<'a>(
    paths: impl IntoIterator<Item = PathView<'a>>,
    best: (usize, &PathView),
    conf: &BgpNode,
    mut on: impl FnMut(usize),
) {
    let mut chosen = 1;
    for (i, v) in paths.into_iter().enumerate() {
        if chosen >= conf.maximum_paths {
            return;
        }
        if i != best.0
            && v.igp_metric.is_some()
            && multipath_equal(best.1, &v, conf.always_compare_med)
        {
            on(i);
            chosen += 1;
        }
    }
}

/// The best of a router's candidates, if any has a reachable next hop.
fn decide(ctx: &Ctx, arena: &Arena, r: usize, cands: &[(u32, u32)]) -> Option<(u32, u32)> {
    let acm = ctx.cfg.bgp[r]
        .as_ref()
        .is_some_and(|c| c.always_compare_med);
    let views = cands
        .iter()
        .map(|&(from, ai)| view(ctx, arena, r, from, ai));
    best_path(views, acm).map(|(i, _)| cands[i])
}

/// Propagates one class from its originators until no router changes its best path.
fn propagate_class(
    ctx: &Ctx,
    scratch: &mut Scratch,
    spec: &ClassSpec,
) -> Result<ClassResult, BgpError> {
    let Ctx {
        cfg,
        peers,
        reverse,
        rid,
        resolver,
        ..
    } = *ctx;
    let prefix = &spec.representative;
    let fam = prefix.family();
    let mut arena = Arena {
        attrs: Vec::new(),
        nh: Vec::new(),
        inside: Vec::new(),
    };
    let local = arena.push(
        Arc::new(PathAttrs {
            as_path: Vec::new(),
            origin: Origin::Igp,
            next_hop: unspecified(fam),
            local_pref: 100,
            med: None,
            communities: Vec::new(),
            weight: 32768,
            originator_id: None,
            cluster_list: Vec::new(),
        }),
        prefix,
        resolver,
    );
    for (o, path) in spec.origins.iter().zip(&spec.paths) {
        let local = if path.is_empty() {
            local
        } else {
            let mut attrs = (*arena.attrs[local as usize]).clone();
            attrs.as_path = path.clone();
            arena.push(Arc::new(attrs), prefix, resolver)
        };
        scratch.cands[o.index()].push((LOCAL, local));
        scratch.touch(o.index());
        scratch.enqueue(o.index());
    }
    let n = scratch.cands.len();
    let limit = 64 * (n + 16) * (spec.origins.len() + 1);
    let mut steps = 0usize;
    let mut shared: Vec<(ExportClass, Option<u32>)> = Vec::new();
    let result = loop {
        let Some(r) = scratch.queue.pop_front() else {
            break Ok(());
        };
        let r = r as usize;
        scratch.queued[r] = false;
        steps += 1;
        if steps > limit {
            break Err(BgpError::NoConvergence {
                prefix: *prefix,
                steps,
            });
        }
        let new_best = decide(ctx, &arena, r, &scratch.cands[r]);
        let same = match (new_best, scratch.best[r]) {
            (None, None) => true,
            (Some((f1, a1)), Some((f2, a2))) => {
                f1 == f2 && (a1 == a2 || arena.attrs[a1 as usize] == arena.attrs[a2 as usize])
            }
            _ => false,
        };
        if same {
            continue;
        }
        scratch.best[r] = new_best;
        // Advertise (or withdraw) to every established peer. Peers without settings of their own
        // get the same attributes (a reflector's thousand clients): export once per kind of peer
        // and share the result instead of building it per session.
        shared.clear();
        for (pi, peer) in peers[r].iter().enumerate() {
            if !peer.established || family_of(peer.remote_address) != fam {
                continue;
            }
            let q = peer.node.index();
            let rpi = reverse[r][pi] as u32;
            let out: Option<u32> = match new_best {
                None => None,
                Some((from, _)) if from == pi as u32 => None,
                Some((from, ai)) => {
                    let own_settings = cfg.bgp[r]
                        .as_ref()
                        .and_then(|c| neighbor_cfg(c, peer.node))
                        .is_some();
                    let key = (peer.kind, peer.rr_client, peer.local_address);
                    match shared.iter().find(|(k, _)| *k == key) {
                        Some((_, v)) if !own_settings => *v,
                        _ => {
                            let from = (from != LOCAL).then_some(from as usize);
                            let v = export(
                                cfg,
                                r,
                                &peers[r],
                                from,
                                &arena.attrs[ai as usize],
                                pi,
                                prefix,
                                rid,
                            )
                            .map(|a| arena.push(Arc::new(a), prefix, resolver));
                            if !own_settings {
                                shared.push((key, v));
                            }
                            v
                        }
                    }
                }
            };
            let inb: Option<u32> = out.and_then(|ai| {
                let sent = &arena.attrs[ai as usize];
                match import(cfg, q, &peers[q][rpi as usize], sent, prefix, rid[q])? {
                    Imported::AsSent => Some(ai),
                    Imported::Changed(a) => Some(arena.push(Arc::new(a), prefix, resolver)),
                }
            });
            let cands = &mut scratch.cands[q];
            let pos = cands.binary_search_by_key(&cand_key(rpi), |(f, _)| cand_key(*f));
            let changed = match (inb, pos) {
                (Some(ai), Ok(i)) => {
                    let old = cands[i].1;
                    cands[i].1 = ai;
                    old != ai && arena.attrs[old as usize] != arena.attrs[ai as usize]
                }
                (Some(ai), Err(i)) => {
                    cands.insert(i, (rpi, ai));
                    true
                }
                (None, Ok(i)) => {
                    cands.remove(i);
                    true
                }
                (None, Err(_)) => false,
            };
            if changed {
                scratch.touch(q);
                scratch.enqueue(q);
            }
        }
    };
    // Record every router's final paths, and the forwarding paths of those that use a peer's.
    let mut res = ClassResult::default();
    if result.is_ok() {
        scratch.touched_list.sort_unstable();
        for &r in &scratch.touched_list {
            let r = r as usize;
            let cands = &scratch.cands[r];
            if cands.is_empty() {
                continue;
            }
            res.paths
                .extend(cands.iter().map(|&(from, ai)| (r as u32, from, ai)));
            // Converged: every change to a router's candidates queued it, so the best it last
            // chose still stands (the candidate from that peer may hold an equal copy).
            let Some((bf, _)) = scratch.best[r] else {
                continue;
            };
            let bai = cands
                .iter()
                .find(|c| c.0 == bf)
                .expect("the best path is a candidate")
                .1;
            debug_assert_eq!(decide(ctx, &arena, r, cands).map(|b| b.0), Some(bf));
            if bf == LOCAL {
                continue; // the router originates it and already has a route
            }
            let conf = cfg.bgp[r].as_ref().expect("BGP router");
            let bv = view(ctx, &arena, r, bf, bai);
            let bi = cands.iter().position(|c| c.0 == bf).expect("listed");
            let start = res.multipath.len() as u32;
            res.multipath.push(bai);
            let views = cands
                .iter()
                .map(|&(from, ai)| view(ctx, &arena, r, from, ai));
            multipaths(views, (bi, &bv), conf, |i| res.multipath.push(cands[i].1));
            res.best.push((
                r as u32,
                bai,
                bv.ebgp,
                start,
                res.multipath.len() as u32 - start,
            ));
        }
    }
    // Leave the buffers clean for the next class, also after a failure.
    for &r in &scratch.touched_list {
        let r = r as usize;
        scratch.cands[r].clear();
        scratch.best[r] = None;
        scratch.touched[r] = false;
        scratch.queued[r] = false;
    }
    scratch.touched_list.clear();
    scratch.queue.clear();
    result?;
    res.attrs = arena.attrs;
    res.nh = arena.nh;
    Ok(res)
}

impl BgpState {
    /// Router `r`'s BGP route for a prefix number, if BGP gives it one.
    pub(crate) fn entry(
        &self,
        r: u32,
        prefix: u32,
        multipath: &[(u32, u32)],
        d: &crate::rib::Distances,
    ) -> Option<Entry> {
        let class = *self.class_of.get(prefix as usize)?;
        if class == u32::MAX {
            return None;
        }
        let i = self.classes[class as usize]
            .best
            .binary_search_by_key(&r, |b| b.0)
            .ok()?;
        self.class_entry(r, prefix, class, i as u32, multipath, d)
    }

    /// Router `r`'s route for one prefix of `class`, whose best path is at `i` in the class's
    /// `best` list.
    pub(crate) fn class_entry(
        &self,
        r: u32,
        prefix: u32,
        class: u32,
        i: u32,
        multipath: &[(u32, u32)],
        d: &crate::rib::Distances,
    ) -> Option<Entry> {
        let res = &self.classes[class as usize];
        let (_, best, ebgp, _, len) = res.best[i as usize];
        let action = if len == 1 {
            let nh = res.nh[best as usize];
            debug_assert!(nh != NONE, "next hops are session addresses");
            if nh == NONE {
                return None;
            }
            let a = self.resolver.action_at(r as usize, nh);
            if a == DISCARD || a == RECEIVE {
                return None;
            }
            a
        } else {
            let k = multipath.binary_search_by_key(&class, |m| m.0).ok()?;
            multipath[k].1
        };
        let protocol = if ebgp { Protocol::Ebgp } else { Protocol::Ibgp };
        Some(Entry {
            prefix,
            metric: res.attrs[best as usize].med.unwrap_or(0),
            action,
            bgp: self.offsets[class as usize] + best,
            protocol,
            distance: d.of(protocol),
        })
    }

    /// The classes router `r` has a best path from a peer for.
    pub(crate) fn classes_at(&self, r: u32) -> &[(u32, u32)] {
        let index = self.by_router.get_or_init(|| {
            let mut index: Vec<Vec<(u32, u32)>> = vec![Vec::new(); self.rid.len()];
            for (c, res) in self.classes.iter().enumerate() {
                for (i, b) in res.best.iter().enumerate() {
                    index[b.0 as usize].push((c as u32, i as u32));
                }
            }
            index
        });
        &index[r as usize]
    }

    /// Every path router `r` has for `prefix`, best first, each with the decision step that
    /// separated it from the best: the table `show ip bgp` prints.
    pub(crate) fn paths(
        &self,
        cfg: &RoutingConfig,
        peers: &[Peer],
        base: &Fib,
        r: usize,
        prefix: Prefix,
        id: u32,
    ) -> Vec<BgpPath> {
        let Some(&class) = self.class_of.get(id as usize) else {
            return Vec::new();
        };
        if class == u32::MAX {
            return Vec::new();
        }
        let res = &self.classes[class as usize];
        let start = res.paths.partition_point(|p| (p.0 as usize) < r);
        let mut paths: Vec<BgpPath> = res.paths[start..]
            .iter()
            .take_while(|p| p.0 as usize == r)
            .map(|&(_, from, ai)| {
                let attrs = res.attrs[ai as usize].clone();
                let peer = (from != LOCAL).then(|| &peers[from as usize]);
                let igp_metric = match peer {
                    None => Some(0),
                    Some(_) if prefix.contains(attrs.next_hop) => None,
                    Some(_) => self.resolver.metric(r, base, attrs.next_hop),
                };
                BgpPath {
                    prefix,
                    from: peer.map(|_| from as usize),
                    from_node: peer.map(|p| p.node),
                    ebgp: peer.is_some_and(|p| p.kind == SessionKind::Ebgp),
                    peer_router_id: peer
                        .map(|p| self.rid[p.node.index()])
                        .unwrap_or(self.rid[r]),
                    peer_address: peer.map(|p| p.remote_address),
                    igp_metric,
                    attrs,
                    best: false,
                    multipath: false,
                    decided_by: None,
                }
            })
            .collect();
        let Some(conf) = cfg.bgp[r].as_ref() else {
            return paths;
        };
        let acm = conf.always_compare_med;
        let Some((bi, _)) = best_path(paths.iter().map(BgpPath::view), acm) else {
            return paths;
        };
        let mut multi = vec![false; paths.len()];
        multi[bi] = true;
        let bestp = paths[bi].clone();
        multipaths(
            paths.iter().map(BgpPath::view),
            (bi, &bestp.view()),
            conf,
            |i| multi[i] = true,
        );
        for (i, p) in paths.iter_mut().enumerate() {
            p.best = i == bi;
            p.multipath = multi[i];
            if i != bi {
                p.decided_by = Some(compare(&bestp.view(), &p.view(), acm).1);
            }
        }
        paths.sort_by_key(|p| (!p.best, !p.multipath));
        paths
    }
}

/// What `r` sends to its peer `to` for its best path (learned from `from`), or nothing.
#[allow(clippy::too_many_arguments)]
fn export(
    cfg: &RoutingConfig,
    r: usize,
    peers: &[Peer],
    from: Option<usize>,
    attrs: &Arc<PathAttrs>,
    to: usize,
    prefix: &Prefix,
    rid: &[Ipv4Addr],
) -> Option<PathAttrs> {
    if from == Some(to) {
        return None;
    }
    let conf = cfg.bgp[r].as_ref()?;
    let peer = &peers[to];
    if attrs.communities.contains(&Community::NO_ADVERTISE) {
        return None;
    }
    let learned_ibgp = from.is_some_and(|f| peers[f].kind == SessionKind::Ibgp);
    // Only a reflector passes iBGP routes on: from a client to everyone, from a non-client to
    // clients (RFC 4456 section 6). Decided before copying anything: most iBGP speakers send
    // nothing they learned over iBGP.
    let from_client = from.is_some_and(|f| peers[f].rr_client);
    if peer.kind == SessionKind::Ibgp
        && learned_ibgp
        && (!conf.route_reflector || !(from_client || peer.rr_client))
    {
        return None;
    }
    let mut out = (**attrs).clone();
    match peer.kind {
        SessionKind::Ebgp => {
            if attrs.communities.contains(&Community::NO_EXPORT) {
                return None;
            }
            out.as_path.insert(0, conf.asn);
            out.next_hop = peer.local_address;
            out.local_pref = 100;
            out.med = None;
            out.originator_id = None;
            out.cluster_list.clear();
        }
        SessionKind::Ibgp => {
            if learned_ibgp {
                // The originator is the iBGP speaker that brought the route into the AS.
                let source = from.map(|f| peers[f].node).expect("learned from a peer");
                if out.originator_id.is_none() {
                    out.originator_id = Some(rid[source.index()]);
                }
                out.cluster_list
                    .insert(0, conf.cluster_id.unwrap_or(rid[r]));
            } else if from.is_none() || conf.next_hop_self {
                out.next_hop = peer.local_address;
            }
        }
    }
    out.weight = 0;
    let policy = crate::config::NeighborConfig::default();
    let ncfg = neighbor_cfg(conf, peer.node).unwrap_or(&policy);
    if let Some(p) = ncfg.export.as_ref().or(conf.export.as_ref()) {
        if !p.apply(prefix, &mut out, conf.asn) {
            return None;
        }
    }
    out.weight = 0;
    if peer.kind == SessionKind::Ebgp {
        // LOCAL_PREF is not sent to another AS, whatever an export policy set.
        out.local_pref = 100;
    }
    Some(out)
}

/// What a router keeps of a path it received.
enum Imported {
    /// The attributes as they were sent (the common case: shared, not copied).
    AsSent,
    /// Attributes an import policy or a neighbour weight changed.
    Changed(PathAttrs),
}

/// What router `q` keeps of a path received over `peer`, or nothing (loop or policy).
fn import(
    cfg: &RoutingConfig,
    q: usize,
    peer: &Peer,
    attrs: &PathAttrs,
    prefix: &Prefix,
    my_rid: Ipv4Addr,
) -> Option<Imported> {
    let conf = cfg.bgp[q].as_ref()?;
    match peer.kind {
        SessionKind::Ebgp => {
            if attrs.as_path.contains(&conf.asn) {
                return None;
            }
        }
        SessionKind::Ibgp => {
            if attrs.originator_id == Some(my_rid)
                || attrs
                    .cluster_list
                    .contains(&conf.cluster_id.unwrap_or(my_rid))
            {
                return None;
            }
        }
    }
    let ncfg = neighbor_cfg(conf, peer.node);
    let weight = ncfg.and_then(|n| n.weight).unwrap_or(0);
    let policy = ncfg
        .and_then(|n| n.import.as_ref())
        .or(conf.import.as_ref());
    if policy.is_none() && attrs.weight == weight {
        return Some(Imported::AsSent);
    }
    let mut attrs = attrs.clone();
    attrs.weight = weight;
    if let Some(p) = policy {
        if !p.apply(prefix, &mut attrs, conf.asn) {
            return None;
        }
    }
    Some(Imported::Changed(attrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities_parse_and_print() {
        assert_eq!(
            "65000:100".parse::<Community>().unwrap().to_string(),
            "65000:100"
        );
        assert_eq!(
            "no-export".parse::<Community>().unwrap(),
            Community::NO_EXPORT
        );
        assert!("65536:1".parse::<Community>().is_err());
    }

    #[test]
    fn prefix_lists_with_ge_le() {
        let pm = PrefixMatch::parse("198.51.100.0/22 le 24").unwrap();
        assert!(pm.matches(&"198.51.100.0/22".parse().unwrap()));
        assert!(pm.matches(&"198.51.101.0/24".parse().unwrap()));
        assert!(!pm.matches(&"198.51.101.0/25".parse().unwrap()));
        assert!(!pm.matches(&"198.51.104.0/24".parse().unwrap()));
        let pm = PrefixMatch::parse("0.0.0.0/0 ge 25").unwrap();
        assert!(pm.matches(&"198.51.101.0/25".parse().unwrap()));
        assert!(!pm.matches(&"198.51.101.0/24".parse().unwrap()));
        assert!(PrefixMatch::parse("198.51.100.0/22 le 20").is_err());
    }

    #[test]
    fn as_path_regex_uses_cisco_underscore() {
        let re = AsPathRegex::new("_65200$").unwrap();
        assert!(re.matches(&[65000, 65200]));
        assert!(!re.matches(&[65200, 65000]));
        assert!(!re.matches(&[165200]));
        assert!(AsPathRegex::new("^$").unwrap().matches(&[]));
    }
}
