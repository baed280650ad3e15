//! BGP at router level: sessions derived from the topology, import/export policies, route
//! reflection (RFC 4456), and the best-path decision process (RFC 4271 section 9.1, with the
//! weight and locally-originated steps of common implementations), each comparison explainable.
//!
//! Sessions follow netlab's conventions: eBGP between directly connected routers of different
//! ASes over their interface addresses, iBGP between the loopbacks of all routers of an AS (a
//! full mesh, or client/reflector sessions when the AS has route reflectors). Prefixes are
//! propagated one at a time with a worklist until no router changes its best path; the order of
//! work is fixed, so a network with several stable states always lands in the same one.

use crate::config::{BgpNode, RoutingConfig};
use crate::rib::{Action, BgpAttrs, Fib, NextHop, Protocol, Route};
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
    /// Every path per prefix, best first.
    pub table: BTreeMap<Prefix, Vec<BgpPath>>,
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
fn sessions(topo: &Topology, cfg: &RoutingConfig, base: &[&Fib]) -> Vec<Vec<Peer>> {
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
                if ca.asn == cb.asn || ra.node == rb.node {
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
        if let Some(c) = &cfg.bgp[n.id.index()] {
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
                    let up = if !reachable(base[a.index()], y.addr) {
                        Err(format!("{} has no route to {}", topo.node(a).name, y.addr))
                    } else if !reachable(base[b.index()], x.addr) {
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
        out.extend(
            [node.loopback.ipv4, node.loopback.ipv6]
                .into_iter()
                .flatten()
                .map(|a| Prefix::host(a.addr)),
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
pub(crate) fn compare(a: &BgpPath, b: &BgpPath, always_compare_med: bool) -> (Ordering, Step) {
    let (x, y) = (&*a.attrs, &*b.attrs);
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
fn multipath_equal(a: &BgpPath, b: &BgpPath, always_compare_med: bool) -> bool {
    let (o, step) = compare(a, b, always_compare_med);
    (o == Ordering::Equal
        || matches!(
            step,
            Step::RouterId | Step::ClusterListLength | Step::NeighborAddress
        ))
        && a.ebgp == b.ebgp
        && (!a.ebgp || a.attrs.as_path.first() == b.attrs.as_path.first())
}

/// Runs BGP for every router. `base` are the FIBs without BGP (connected, static, IGP), used to
/// bring up iBGP sessions and to resolve next hops.
pub fn compute(
    topo: &Topology,
    cfg: &RoutingConfig,
    base: &[&Fib],
) -> Result<Vec<Option<BgpRouter>>, BgpError> {
    let n = topo.nodes.len();
    let mut peers = sessions(topo, cfg, base);
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

    let mut origins: BTreeMap<Prefix, Vec<NodeId>> = BTreeMap::new();
    for i in 0..n {
        for p in originated(topo, cfg, NodeId(i as u32)) {
            origins.entry(p).or_default().push(NodeId(i as u32));
        }
    }

    let resolver = Resolver::new(&peers, base, cfg);
    let ctx = Ctx {
        cfg,
        peers: &peers,
        reverse: &reverse,
        rid: &rid,
        base,
        resolver: &resolver,
    };
    // Prefixes are independent: propagate them in parallel, then gather per router.
    let origins: Vec<(Prefix, Vec<NodeId>)> = origins.into_iter().collect();
    let results: Vec<Vec<(usize, Vec<BgpPath>)>> = origins
        .par_iter()
        .map(|(prefix, orig)| propagate_prefix(&ctx, n, prefix, orig))
        .collect::<Result<_, _>>()?;
    let mut tables: Vec<BTreeMap<Prefix, Vec<BgpPath>>> = vec![BTreeMap::new(); n];
    let mut received: Vec<Vec<usize>> = peers.iter().map(|ps| vec![0; ps.len()]).collect();
    for ((prefix, _), per_router) in origins.iter().zip(results) {
        for (r, paths) in per_router {
            for p in &paths {
                if let Some(pi) = p.from {
                    received[r][pi] += 1;
                }
            }
            tables[r].insert(*prefix, paths);
        }
    }

    for (a, ps) in peers.iter_mut().enumerate() {
        for (pi, p) in ps.iter_mut().enumerate() {
            p.prefixes_received = received[a][pi];
        }
    }
    Ok((0..n)
        .map(|i| {
            cfg.bgp[i].as_ref().map(|c| BgpRouter {
                asn: c.asn,
                router_id: Some(rid[i]),
                peers: std::mem::take(&mut peers[i]),
                table: std::mem::take(&mut tables[i]),
            })
        })
        .collect())
}

/// Peers that receive the same attributes from a router: session kind, whether the peer is a
/// reflector client, and the local address (the next hop when it is set to self).
type ExportClass = (SessionKind, bool, IpAddr);

/// What every prefix's propagation needs to read.
struct Ctx<'a> {
    cfg: &'a RoutingConfig,
    peers: &'a [Vec<Peer>],
    reverse: &'a [Vec<usize>],
    rid: &'a [Ipv4Addr],
    base: &'a [&'a Fib],
    resolver: &'a Resolver,
}

/// Next-hop metrics per router for every address that can be a BGP next hop (the local
/// addresses of sessions), computed once instead of one longest-prefix match per path seen.
struct Resolver {
    index: HashMap<IpAddr, usize>,
    metric: Vec<Vec<Option<u32>>>,
}

impl Resolver {
    fn new(peers: &[Vec<Peer>], base: &[&Fib], cfg: &RoutingConfig) -> Resolver {
        let mut index: HashMap<IpAddr, usize> = HashMap::new();
        for ps in peers {
            for p in ps {
                let next = index.len();
                index.entry(p.local_address).or_insert(next);
            }
        }
        let mut addrs = vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED); index.len()];
        for (a, i) in &index {
            addrs[*i] = *a;
        }
        let metric = base
            .par_iter()
            .enumerate()
            .map(|(r, fib)| {
                if cfg.bgp[r].is_none() {
                    return Vec::new();
                }
                addrs
                    .iter()
                    .map(|a| resolve(fib, *a).map(|(m, _)| m))
                    .collect()
            })
            .collect();
        Resolver { index, metric }
    }

    fn metric(&self, r: usize, fib: &Fib, addr: IpAddr) -> Option<u32> {
        match self.index.get(&addr) {
            Some(i) => self.metric[r][*i],
            None => resolve(fib, addr).map(|(m, _)| m),
        }
    }
}

/// Propagates one prefix from its originators until no router changes its best path, and
/// returns every router's paths for it.
fn propagate_prefix(
    ctx: &Ctx,
    n: usize,
    prefix: &Prefix,
    orig: &[NodeId],
) -> Result<Vec<(usize, Vec<BgpPath>)>, BgpError> {
    let Ctx {
        cfg,
        peers,
        reverse,
        rid,
        base,
        resolver,
    } = *ctx;
    let fam = prefix.family();
    // Candidate paths per router: (peer index or None for local) -> path.
    let mut cands: Vec<BTreeMap<Option<usize>, Arc<PathAttrs>>> = vec![BTreeMap::new(); n];
    let mut best: Vec<Option<(Option<usize>, Arc<PathAttrs>)>> = vec![None; n];
    let mut queue: VecDeque<usize> = VecDeque::new();
    let mut queued = vec![false; n];
    for o in orig {
        cands[o.index()].insert(
            None,
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
        );
        queue.push_back(o.index());
        queued[o.index()] = true;
    }
    let limit = 64 * (n + 16) * (orig.len() + 1);
    let mut steps = 0usize;
    while let Some(r) = queue.pop_front() {
        queued[r] = false;
        steps += 1;
        if steps > limit {
            return Err(BgpError::NoConvergence {
                prefix: *prefix,
                steps,
            });
        }
        let conf = cfg.bgp[r].as_ref().expect("only BGP routers are queued");
        let paths = evaluate(r, &peers[r], rid, &cands[r], base[r], resolver, prefix);
        let new_best = choose(&paths, conf.always_compare_med)
            .map(|i| (paths[i].from, paths[i].attrs.clone()));
        if new_best == best[r] {
            continue;
        }
        best[r] = new_best;
        // Advertise (or withdraw) to every established peer. Peers without settings of their own
        // get the same attributes (a reflector's thousand clients): export once per kind of peer
        // and share the result instead of building it per session.
        let mut shared: Vec<(ExportClass, Option<Arc<PathAttrs>>)> = Vec::new();
        for (pi, peer) in peers[r].iter().enumerate() {
            if !peer.established || family_of(peer.remote_address) != fam {
                continue;
            }
            let q = peer.node.index();
            let rpi = reverse[r][pi];
            let out: Option<Arc<PathAttrs>> = match &best[r] {
                None => None,
                Some((from, _)) if *from == Some(pi) => None,
                Some((from, attrs)) => {
                    let own_settings = cfg.bgp[r]
                        .as_ref()
                        .and_then(|c| neighbor_cfg(c, peer.node))
                        .is_some();
                    let key = (peer.kind, peer.rr_client, peer.local_address);
                    match shared.iter().find(|(k, _)| *k == key) {
                        Some((_, v)) if !own_settings => v.clone(),
                        _ => {
                            let v = export(cfg, r, &peers[r], *from, attrs, pi, prefix, rid)
                                .map(Arc::new);
                            if !own_settings {
                                shared.push((key, v.clone()));
                            }
                            v
                        }
                    }
                }
            };
            let inb = out.and_then(|attrs| import(cfg, q, &peers[q][rpi], attrs, prefix, rid[q]));
            let changed = match inb {
                Some(a) => match cands[q].insert(Some(rpi), a.clone()) {
                    None => true,
                    Some(old) => !Arc::ptr_eq(&old, &a) && *old != *a,
                },
                None => cands[q].remove(&Some(rpi)).is_some(),
            };
            if changed && !queued[q] {
                queued[q] = true;
                queue.push_back(q);
            }
        }
    }
    // Record the final table of every router that has paths.
    let mut out = Vec::new();
    for r in 0..n {
        if cands[r].is_empty() {
            continue;
        }
        let conf = cfg.bgp[r].as_ref().expect("BGP router");
        let mut paths = evaluate(r, &peers[r], rid, &cands[r], base[r], resolver, prefix);
        if let Some(bi) = choose(&paths, conf.always_compare_med) {
            let bestp = paths[bi].clone();
            let mut chosen = 1;
            for (i, p) in paths.iter_mut().enumerate() {
                if i == bi {
                    p.best = true;
                    p.multipath = true;
                    p.decided_by = None;
                    continue;
                }
                let (_, step) = compare(&bestp, p, conf.always_compare_med);
                p.decided_by = Some(step);
                if chosen < conf.maximum_paths
                    && p.igp_metric.is_some()
                    && multipath_equal(&bestp, p, conf.always_compare_med)
                {
                    p.multipath = true;
                    chosen += 1;
                }
            }
            paths.sort_by_key(|p| (!p.best, !p.multipath));
        }
        out.push((r, paths));
    }
    Ok(out)
}

/// Turns a router's candidates into table entries with next-hop resolution.
fn evaluate(
    r: usize,
    peers: &[Peer],
    rid: &[Ipv4Addr],
    cands: &BTreeMap<Option<usize>, Arc<PathAttrs>>,
    fib: &Fib,
    resolver: &Resolver,
    prefix: &Prefix,
) -> Vec<BgpPath> {
    cands
        .iter()
        .map(|(from, attrs)| {
            let peer = from.map(|i| &peers[i]);
            let igp_metric = match from {
                None => Some(0),
                // A next hop inside the path's own prefix would resolve through the route being
                // decided: FRR's next-hop tracking calls it inaccessible, and so do we (checked
                // against FRR in namespaces by `nettwin emu verify`).
                Some(_) if prefix.contains(attrs.next_hop) => None,
                Some(_) => resolver.metric(r, fib, attrs.next_hop),
            };
            BgpPath {
                prefix: *prefix,
                attrs: attrs.clone(),
                from: *from,
                from_node: peer.map(|p| p.node),
                ebgp: peer.is_some_and(|p| p.kind == SessionKind::Ebgp),
                peer_router_id: peer.map(|p| rid[p.node.index()]).unwrap_or(rid[r]),
                peer_address: peer.map(|p| p.remote_address),
                igp_metric,
                best: false,
                multipath: false,
                decided_by: None,
            }
        })
        .collect()
}

/// The best path's index, if any path has a reachable next hop.
fn choose(paths: &[BgpPath], always_compare_med: bool) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, p) in paths.iter().enumerate() {
        if p.igp_metric.is_none() {
            continue;
        }
        best = match best {
            None => Some(i),
            Some(b) if compare(p, &paths[b], always_compare_med).0 == Ordering::Less => Some(i),
            keep => keep,
        };
    }
    best
}

/// Recursive next-hop resolution through the FIB: the IGP metric and the real next hops.
pub(crate) fn resolve(fib: &Fib, nh: IpAddr) -> Option<(u32, Vec<NextHop>)> {
    let route = fib.lookup(nh)?;
    match &route.action {
        Action::Forward { next_hops } => Some((
            route.metric,
            next_hops
                .iter()
                .map(|h| NextHop {
                    address: Some(h.address.unwrap_or(nh)),
                    interface: h.interface,
                })
                .collect(),
        )),
        Action::Receive => Some((0, Vec::new())),
        Action::Discard => None,
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
                // Only a reflector passes iBGP routes on: from a client to everyone, from a
                // non-client to clients (RFC 4456 section 6).
                let from_client = from.is_some_and(|f| peers[f].rr_client);
                if !conf.route_reflector || !(from_client || peer.rr_client) {
                    return None;
                }
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

/// What router `q` keeps of a path received over `peer`, or nothing (loop or policy). The
/// attributes are shared unless an import policy or a neighbour weight changes them.
fn import(
    cfg: &RoutingConfig,
    q: usize,
    peer: &Peer,
    attrs: Arc<PathAttrs>,
    prefix: &Prefix,
    my_rid: Ipv4Addr,
) -> Option<Arc<PathAttrs>> {
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
        return Some(attrs);
    }
    let mut attrs = (*attrs).clone();
    attrs.weight = weight;
    if let Some(p) = policy {
        if !p.apply(prefix, &mut attrs, conf.asn) {
            return None;
        }
    }
    Some(Arc::new(attrs))
}

/// RIB routes from the BGP tables: the best path's attributes, next hops of all multipaths.
pub fn routes(bgp: &BgpRouter, fib: &Fib, distances: &crate::rib::Distances) -> Vec<Route> {
    let mut out = Vec::with_capacity(bgp.table.len());
    // Thousands of prefixes share a handful of BGP next hops: resolve each once.
    let mut resolved: HashMap<IpAddr, Option<(u32, Vec<NextHop>)>> = HashMap::new();
    for (prefix, paths) in &bgp.table {
        let Some(best) = paths.iter().find(|p| p.best) else {
            continue;
        };
        if best.from.is_none() {
            continue; // locally originated: the router already has it
        }
        let mut next_hops: Vec<NextHop> = Vec::new();
        for p in paths.iter().filter(|p| p.multipath) {
            let hops = resolved
                .entry(p.attrs.next_hop)
                .or_insert_with(|| resolve(fib, p.attrs.next_hop));
            if let Some((_, hops)) = hops {
                next_hops.extend(hops.iter().copied());
            }
        }
        next_hops.sort_unstable();
        next_hops.dedup();
        if next_hops.is_empty() {
            continue;
        }
        let protocol = if best.ebgp {
            Protocol::Ebgp
        } else {
            Protocol::Ibgp
        };
        out.push(Route {
            prefix: *prefix,
            protocol,
            distance: distances.of(protocol),
            metric: best.attrs.med.unwrap_or(0),
            action: Action::Forward { next_hops },
            bgp: Some(BgpAttrs {
                as_path: best.attrs.as_path.clone(),
                local_pref: best.attrs.local_pref,
                med: best.attrs.med,
                origin: best.attrs.origin,
                communities: best.attrs.communities.clone(),
                next_hop: best.attrs.next_hop,
            }),
        });
    }
    out
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
