//! Routes, the RIB (every candidate from every protocol) and the FIB (the winners, with a trie
//! for longest-prefix match).

use nettwin_model::{Family, Prefix};
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// Where a route came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// A subnet on one of the router's own interfaces.
    Connected,
    /// The router's own address (a /32 or /128 delivered locally).
    Local,
    Static,
    /// OSPF, a route inside the router's area.
    Ospf,
    /// OSPF, a route from another area through an area border router.
    OspfInterArea,
    /// IS-IS level 2.
    Isis,
    Ebgp,
    Ibgp,
}

impl Protocol {
    /// The code `show ip route` prints in its first column.
    pub fn code(self) -> &'static str {
        match self {
            Protocol::Connected => "C",
            Protocol::Local => "L",
            Protocol::Static => "S",
            Protocol::Ospf => "O",
            Protocol::OspfInterArea => "O IA",
            Protocol::Isis => "i L2",
            Protocol::Ebgp | Protocol::Ibgp => "B",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Connected => "connected",
            Protocol::Local => "local",
            Protocol::Static => "static",
            Protocol::Ospf => "ospf",
            Protocol::OspfInterArea => "ospf-inter-area",
            Protocol::Isis => "isis",
            Protocol::Ebgp => "ebgp",
            Protocol::Ibgp => "ibgp",
        }
    }

    /// Parses the names accepted by `--protocol` (`bgp` covers both eBGP and iBGP).
    pub fn matches_name(self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.name() == name
            || (name == "bgp" && matches!(self, Protocol::Ebgp | Protocol::Ibgp))
            || (name == "ospf" && self == Protocol::OspfInterArea)
            || (name == "is-is" && self == Protocol::Isis)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Administrative distances: which protocol's route wins for the same prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Distances {
    pub connected: u8,
    pub static_: u8,
    pub ebgp: u8,
    pub ospf: u8,
    pub isis: u8,
    pub ibgp: u8,
}

impl Default for Distances {
    /// Cisco's and FRR's defaults.
    fn default() -> Self {
        Distances {
            connected: 0,
            static_: 1,
            ebgp: 20,
            ospf: 110,
            isis: 115,
            ibgp: 200,
        }
    }
}

impl Distances {
    pub fn of(&self, p: Protocol) -> u8 {
        match p {
            Protocol::Connected | Protocol::Local => self.connected,
            Protocol::Static => self.static_,
            Protocol::Ospf | Protocol::OspfInterArea => self.ospf,
            Protocol::Isis => self.isis,
            Protocol::Ebgp => self.ebgp,
            Protocol::Ibgp => self.ibgp,
        }
    }
}

/// One way out for a forwarded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NextHop {
    /// The neighbour to hand the packet to; `None` when the destination itself is on the link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// Index of the egress interface in the node's interface list.
    pub interface: u32,
}

/// What the router does with a packet matching a route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Action {
    /// Send it out of one of these (all equal cost; ECMP when more than one).
    Forward { next_hops: Vec<NextHop> },
    /// Deliver it to the router itself.
    Receive,
    /// Drop it silently (`null0`).
    Discard,
}

/// BGP attributes of a route that came from BGP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BgpAttrs {
    pub as_path: Vec<u32>,
    pub local_pref: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    pub origin: crate::bgp::Origin,
    pub communities: Vec<crate::bgp::Community>,
    /// The BGP next hop as advertised, before recursive resolution.
    pub next_hop: IpAddr,
}

/// A route: a prefix, where it came from, how much it costs and what to do with packets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route {
    pub prefix: Prefix,
    pub protocol: Protocol,
    pub distance: u8,
    pub metric: u32,
    pub action: Action,
    /// For BGP routes, the attributes of the best path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgp: Option<BgpAttrs>,
}

impl Route {
    pub fn next_hops(&self) -> &[NextHop] {
        match &self.action {
            Action::Forward { next_hops } => next_hops,
            _ => &[],
        }
    }
}

/// prefix-trie keys for the two families; the trie wants one fixed-width integer per map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct V4Key(u32, u8);
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct V6Key(u128, u8);

impl prefix_trie::Prefix for V4Key {
    type R = u32;
    fn repr(&self) -> u32 {
        self.0
    }
    fn prefix_len(&self) -> u8 {
        self.1
    }
    fn from_repr_len(repr: u32, len: u8) -> Self {
        V4Key(repr, len)
    }
}

impl prefix_trie::Prefix for V6Key {
    type R = u128;
    fn repr(&self) -> u128 {
        self.0
    }
    fn prefix_len(&self) -> u8 {
        self.1
    }
    fn from_repr_len(repr: u128, len: u8) -> Self {
        V6Key(repr, len)
    }
}

/// The forwarding table of one router: the best route per prefix, searchable by longest match.
#[derive(Clone, Debug, Default)]
pub struct Fib {
    routes: Vec<Route>,
    v4: prefix_trie::PrefixMap<V4Key, u32>,
    v6: prefix_trie::PrefixMap<V6Key, u32>,
}

impl Fib {
    /// Builds the table from winning routes (at most one per prefix).
    pub fn new(mut routes: Vec<Route>) -> Fib {
        if !routes.is_sorted_by_key(|r| r.prefix) {
            routes.sort_by_key(|r| r.prefix);
        }
        let mut fib = Fib {
            routes,
            ..Fib::default()
        };
        for (i, r) in fib.routes.iter().enumerate() {
            match r.prefix.family() {
                Family::Ipv4 => {
                    fib.v4
                        .insert(V4Key(r.prefix.bits() as u32, r.prefix.len()), i as u32);
                }
                Family::Ipv6 => {
                    fib.v6
                        .insert(V6Key(r.prefix.bits(), r.prefix.len()), i as u32);
                }
            }
        }
        fib
    }

    /// Gives the routes back (sorted by prefix).
    pub fn into_routes(self) -> Vec<Route> {
        self.routes
    }

    /// Every route, sorted by prefix.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route a packet to `addr` follows: the longest prefix that contains it.
    pub fn lookup(&self, addr: IpAddr) -> Option<&Route> {
        let i = match addr {
            IpAddr::V4(a) => self.v4.get_lpm(&V4Key(u32::from(a), 32))?.1,
            IpAddr::V6(a) => self.v6.get_lpm(&V6Key(u128::from(a), 128))?.1,
        };
        Some(&self.routes[*i as usize])
    }

    /// The route for exactly `prefix`.
    pub fn get(&self, prefix: &Prefix) -> Option<&Route> {
        self.routes
            .binary_search_by(|r| r.prefix.cmp(prefix))
            .ok()
            .map(|i| &self.routes[i])
    }
}

/// Picks the winner per prefix among candidates: lowest distance, then lowest metric. Candidates
/// of the same protocol with the same distance and metric were already merged by the protocol.
pub(crate) fn select(candidates: &[Route]) -> Vec<Route> {
    let mut order: Vec<&Route> = candidates.iter().collect();
    order.sort_by_key(|r| (r.prefix, r.distance, r.metric));
    let mut out: Vec<Route> = Vec::with_capacity(order.len());
    for r in order {
        if out.last().is_none_or(|l| l.prefix != r.prefix) {
            out.push(r.clone());
        }
    }
    out
}

/// Splits candidates into the FIB (best per prefix) and the alternates that lost.
pub(crate) fn split(mut candidates: Vec<Route>) -> (Fib, Vec<Route>) {
    candidates.sort_by_key(|r| (r.prefix, r.distance, r.metric));
    let mut winners: Vec<Route> = Vec::with_capacity(candidates.len());
    let mut alternates = Vec::new();
    for r in candidates {
        if winners.last().is_some_and(|w| w.prefix == r.prefix) {
            alternates.push(r);
        } else {
            winners.push(r);
        }
    }
    (Fib::new(winners), alternates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(p: &str, protocol: Protocol) -> Route {
        Route {
            prefix: p.parse().unwrap(),
            protocol,
            distance: Distances::default().of(protocol),
            metric: 0,
            action: Action::Discard,
            bgp: None,
        }
    }

    #[test]
    fn longest_prefix_wins() {
        let fib = Fib::new(vec![
            route("0.0.0.0/0", Protocol::Static),
            route("198.18.0.0/15", Protocol::Ospf),
            route("198.18.4.0/24", Protocol::Connected),
            route("198.18.4.7/32", Protocol::Local),
            route("2001:db8::/32", Protocol::Static),
        ]);
        let hit = |a: &str| fib.lookup(a.parse().unwrap()).map(|r| r.prefix.to_string());
        assert_eq!(hit("198.18.4.7").as_deref(), Some("198.18.4.7/32"));
        assert_eq!(hit("198.18.4.8").as_deref(), Some("198.18.4.0/24"));
        assert_eq!(hit("198.19.0.1").as_deref(), Some("198.18.0.0/15"));
        assert_eq!(hit("203.0.113.1").as_deref(), Some("0.0.0.0/0"));
        assert_eq!(hit("2001:db8:1::1").as_deref(), Some("2001:db8::/32"));
        assert_eq!(hit("2001:db9::1"), None);
    }

    #[test]
    fn lowest_distance_then_metric_is_selected() {
        let mut a = route("198.18.0.0/24", Protocol::Ospf);
        a.metric = 20;
        let mut b = route("198.18.0.0/24", Protocol::Ospf);
        b.metric = 10;
        let c = route("198.18.0.0/24", Protocol::Ibgp);
        let d = route("198.18.0.0/24", Protocol::Ebgp);
        let won = select(&[a, b.clone(), c]);
        assert_eq!(won, vec![b]);
        assert_eq!(
            select(&[route("198.18.0.0/24", Protocol::Ospf), d.clone()]),
            vec![d]
        );
    }
}
