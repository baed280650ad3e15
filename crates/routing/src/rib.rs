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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Action<'a> {
    /// Send it out of one of these (all equal cost; ECMP when more than one).
    Forward { next_hops: &'a [NextHop] },
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

/// A route: a prefix, where it came from, how much it costs and what to do with packets. It
/// borrows its next hops and BGP attributes from the [`crate::Routing`] it was read from: a
/// network of thousands of routers shares them instead of keeping a copy per route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Route<'a> {
    pub prefix: Prefix,
    pub protocol: Protocol,
    pub distance: u8,
    pub metric: u32,
    pub action: Action<'a>,
    /// For BGP routes, the attributes of the best path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgp: Option<&'a BgpAttrs>,
}

impl<'a> Route<'a> {
    pub fn next_hops(&self) -> &'a [NextHop] {
        match self.action {
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

/// Every prefix some router of the network may hold a route for, numbered in prefix order, with
/// one trie for longest-prefix match. Routers keep prefix numbers, not prefixes, and a lookup
/// walks the one trie instead of a trie per router.
#[derive(Clone, Debug, Default)]
pub struct PrefixTable {
    prefixes: Vec<Prefix>,
    v4: prefix_trie::PrefixMap<V4Key, u32>,
    v6: prefix_trie::PrefixMap<V6Key, u32>,
}

/// The numbers of the prefixes that contain an address, the longest first.
pub(crate) struct Covering {
    ids: [u32; 129],
    len: usize,
}

impl Iterator for Covering {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        self.len = self.len.checked_sub(1)?;
        Some(self.ids[self.len])
    }
}

impl PrefixTable {
    pub fn new(prefixes: impl IntoIterator<Item = Prefix>) -> PrefixTable {
        let mut prefixes: Vec<Prefix> = prefixes.into_iter().collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        let mut t = PrefixTable {
            prefixes,
            ..PrefixTable::default()
        };
        for (i, p) in t.prefixes.iter().enumerate() {
            match p.family() {
                Family::Ipv4 => {
                    t.v4.insert(V4Key(p.bits() as u32, p.len()), i as u32);
                }
                Family::Ipv6 => {
                    t.v6.insert(V6Key(p.bits(), p.len()), i as u32);
                }
            }
        }
        t
    }

    pub fn len(&self) -> usize {
        self.prefixes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    pub fn prefix(&self, id: u32) -> Prefix {
        self.prefixes[id as usize]
    }

    pub fn id(&self, p: &Prefix) -> Option<u32> {
        self.prefixes.binary_search(p).ok().map(|i| i as u32)
    }

    /// The prefixes that contain `addr`, longest first.
    pub(crate) fn covering(&self, addr: IpAddr) -> Covering {
        let mut c = Covering {
            ids: [0; 129],
            len: 0,
        };
        let mut push = |id: &u32| {
            c.ids[c.len] = *id;
            c.len += 1;
        };
        match addr {
            IpAddr::V4(a) => self
                .v4
                .cover_values(&V4Key(u32::from(a), 32))
                .for_each(&mut push),
            IpAddr::V6(a) => self
                .v6
                .cover_values(&V6Key(u128::from(a), 128))
                .for_each(&mut push),
        }
        c
    }
}

/// `Entry::action` for a route delivered to the router itself.
pub(crate) const RECEIVE: u32 = u32::MAX;
/// `Entry::action` for a discard route.
pub(crate) const DISCARD: u32 = u32::MAX - 1;
/// `Entry::bgp` of a route that did not come from BGP.
pub(crate) const NO_BGP: u32 = u32::MAX;

/// One route as a router stores it: numbers instead of the prefix, the next-hop set and the BGP
/// attributes, which live once in shared tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The prefix number in the [`PrefixTable`] (for BGP routes: the prefix class).
    pub prefix: u32,
    pub metric: u32,
    /// A next-hop set of the node's table, or [`RECEIVE`] or [`DISCARD`].
    pub action: u32,
    /// Index in the network's BGP attributes, or [`NO_BGP`].
    pub bgp: u32,
    pub protocol: Protocol,
    pub distance: u8,
}

/// What to do with packets, before next hops are stored in a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Forward(Vec<NextHop>),
    Receive,
    Discard,
}

/// The routes of one router that did not come from BGP (connected, local, static, IGP), every
/// candidate sorted by prefix and preference, and the next-hop sets its routes point to.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeTable {
    pub entries: Vec<Entry>,
    flat: Vec<NextHop>,
    sets: Vec<(u32, u32)>,
}

impl NodeTable {
    /// Stores a set of next hops and gives its number.
    pub fn hop_set(&mut self, hops: &[NextHop]) -> u32 {
        let id = self.sets.len() as u32;
        self.sets.push((self.flat.len() as u32, hops.len() as u32));
        self.flat.extend_from_slice(hops);
        id
    }

    /// How many next-hop sets the table holds; the next one stored gets this number.
    pub fn set_count(&self) -> u32 {
        self.sets.len() as u32
    }

    /// Takes in another table's next-hop sets, numbered from [`NodeTable::set_count`] on.
    pub fn append_hops(&mut self, other: NodeTable) {
        let flat_offset = self.flat.len() as u32;
        self.flat.extend(other.flat);
        self.sets
            .extend(other.sets.into_iter().map(|(s, l)| (s + flat_offset, l)));
    }

    pub fn hops(&self, set: u32) -> &[NextHop] {
        let (start, len) = self.sets[set as usize];
        &self.flat[start as usize..(start + len) as usize]
    }

    pub fn action(&self, a: u32) -> Action<'_> {
        match a {
            RECEIVE => Action::Receive,
            DISCARD => Action::Discard,
            set => Action::Forward {
                next_hops: self.hops(set),
            },
        }
    }

    pub fn push(&mut self, prefix: u32, protocol: Protocol, distance: u8, metric: u32, t: Target) {
        let action = match t {
            Target::Forward(h) => self.hop_set(&h),
            Target::Receive => RECEIVE,
            Target::Discard => DISCARD,
        };
        self.entries.push(Entry {
            prefix,
            metric,
            action,
            bgp: NO_BGP,
            protocol,
            distance,
        });
    }

    /// Takes in another table's routes, renumbering its next-hop sets.
    pub fn append(&mut self, mut other: NodeTable) {
        let offset = self.set_count();
        let entries = std::mem::take(&mut other.entries);
        self.append_hops(other);
        self.entries.extend(entries.into_iter().map(|mut e| {
            if e.action < DISCARD {
                e.action += offset;
            }
            e
        }));
    }

    /// Sorts candidates by prefix, then distance, then metric; among equals the one added first
    /// stays first. Tables are built from sorted runs (connected, each IGP), which the stable
    /// sort merges in linear time.
    pub fn sort(&mut self) {
        self.entries
            .sort_by_key(|e| (e.prefix, e.distance, e.metric));
    }

    /// Every candidate for one prefix, the preferred first.
    pub fn all(&self, prefix: u32) -> &[Entry] {
        let start = self.entries.partition_point(|e| e.prefix < prefix);
        let end = start
            + self.entries[start..]
                .iter()
                .take_while(|e| e.prefix == prefix)
                .count();
        &self.entries[start..end]
    }

    pub fn first(&self, prefix: u32) -> Option<&Entry> {
        let i = self.entries.partition_point(|e| e.prefix < prefix);
        self.entries.get(i).filter(|e| e.prefix == prefix)
    }
}

/// The BGP side of one router's table: its routes are read off the network's BGP results
/// (one decision per class of prefixes) when asked for, not stored per prefix.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BgpView<'a> {
    pub state: &'a crate::bgp::BgpState,
    pub router: u32,
    /// Next-hop sets of the router's multipath BGP routes: (class, set), sorted by class.
    pub multipath: &'a [(u32, u32)],
    pub distances: &'a Distances,
}

impl BgpView<'_> {
    fn entry(&self, prefix: u32) -> Option<Entry> {
        self.state
            .entry(self.router, prefix, self.multipath, self.distances)
    }
}

/// The forwarding table of one router: the best route per prefix, searchable by longest match.
/// A view into [`crate::Routing`]; it is cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct Fib<'a> {
    pub(crate) table: &'a PrefixTable,
    pub(crate) node: &'a NodeTable,
    pub(crate) bgp: Option<BgpView<'a>>,
}

impl<'a> Fib<'a> {
    /// The route an entry stands for (`Entry::prefix` is its prefix number).
    fn route(&self, e: Entry) -> Route<'a> {
        Route {
            prefix: self.table.prefix(e.prefix),
            protocol: e.protocol,
            distance: e.distance,
            metric: e.metric,
            action: self.node.action(e.action),
            bgp: match (e.bgp, self.bgp) {
                (NO_BGP, _) | (_, None) => None,
                (i, Some(b)) => Some(&b.state.attrs[i as usize]),
            },
        }
    }

    /// The installed entry for a prefix number: the lowest distance, then metric; a BGP route
    /// must be strictly better to beat a route of the router's own.
    pub(crate) fn winner(&self, prefix: u32) -> Option<Entry> {
        let local = self.node.first(prefix).copied();
        let bgp = self.bgp.and_then(|b| b.entry(prefix));
        match (local, bgp) {
            (Some(l), Some(b)) if (b.distance, b.metric) < (l.distance, l.metric) => Some(b),
            (Some(l), _) => Some(l),
            (None, b) => b,
        }
    }

    /// The route a packet to `addr` follows: the longest prefix that contains it.
    pub fn lookup(&self, addr: IpAddr) -> Option<Route<'a>> {
        self.lookup_entry(addr).map(|e| self.route(e))
    }

    /// The installed entry a packet to `addr` follows.
    pub(crate) fn lookup_entry(&self, addr: IpAddr) -> Option<Entry> {
        self.table.covering(addr).find_map(|id| self.winner(id))
    }

    /// The route for exactly `prefix`.
    pub fn get(&self, prefix: &Prefix) -> Option<Route<'a>> {
        let id = self.table.id(prefix)?;
        self.winner(id).map(|e| self.route(e))
    }

    /// The router's BGP routes, one per prefix, sorted by prefix number.
    fn bgp_entries(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        if let Some(b) = self.bgp {
            for &(class, i) in b.state.classes_at(b.router) {
                let members = &b.state.members[class as usize];
                // Every member of a class has the same route.
                let e =
                    b.state
                        .class_entry(b.router, members[0], class, i, b.multipath, b.distances);
                if let Some(e) = e {
                    out.extend(members.iter().map(|&m| Entry { prefix: m, ..e }));
                }
            }
            out.sort_unstable_by_key(|e| e.prefix);
        }
        out
    }

    /// The installed entry of every prefix, in prefix order: one pass along the router's own
    /// (sorted) candidates and its BGP routes.
    fn installed(&self) -> Vec<Entry> {
        let bgp = self.bgp_entries();
        let own = &self.node.entries;
        let mut out = Vec::with_capacity(own.len() + bgp.len());
        let (mut i, mut j) = (0, 0);
        while i < own.len() || j < bgp.len() {
            let p = match (own.get(i), bgp.get(j)) {
                (Some(l), Some(b)) => l.prefix.min(b.prefix),
                (Some(l), None) => l.prefix,
                (None, Some(b)) => b.prefix,
                (None, None) => unreachable!(),
            };
            let local = own.get(i).filter(|e| e.prefix == p).copied();
            while own.get(i).is_some_and(|e| e.prefix == p) {
                i += 1;
            }
            let remote = bgp.get(j).filter(|e| e.prefix == p).copied();
            if remote.is_some() {
                j += 1;
            }
            out.push(match (local, remote) {
                (Some(l), Some(b)) if (b.distance, b.metric) < (l.distance, l.metric) => b,
                (Some(l), _) => l,
                (None, Some(b)) => b,
                (None, None) => unreachable!(),
            });
        }
        out
    }

    /// Every installed route, sorted by prefix.
    pub fn routes(&self) -> Vec<Route<'a>> {
        self.installed()
            .into_iter()
            .map(|e| self.route(e))
            .collect()
    }

    /// How many prefixes have an installed route.
    pub fn len(&self) -> usize {
        self.installed().len()
    }

    pub fn is_empty(&self) -> bool {
        self.node.entries.is_empty() && self.bgp_entries().is_empty()
    }

    /// Every candidate for exactly `prefix`, the installed one first, then by preference.
    pub fn candidates(&self, prefix: &Prefix) -> Vec<Route<'a>> {
        let Some(id) = self.table.id(prefix) else {
            return Vec::new();
        };
        let mut all: Vec<Entry> = self.node.all(id).to_vec();
        let bgp = self.bgp.and_then(|b| b.entry(id));
        match (bgp, all.first()) {
            // BGP won: it goes first, the router's own routes follow in their order.
            (Some(b), Some(l)) if (b.distance, b.metric) < (l.distance, l.metric) => {
                all.insert(0, b)
            }
            (Some(b), _) => {
                // Among equals, the router's own route keeps its place before BGP.
                let at = all.partition_point(|e| (e.distance, e.metric) <= (b.distance, b.metric));
                all.insert(at, b);
            }
            (None, _) => {}
        }
        all.into_iter().map(|e| self.route(e)).collect()
    }

    /// Every candidate of every prefix, sorted by prefix then preference, each with whether it
    /// is installed.
    pub fn rib(&self) -> Vec<(Route<'a>, bool)> {
        let mut out = Vec::new();
        for id in self.installed().iter().map(|e| e.prefix) {
            let prefix = self.table.prefix(id);
            for (i, r) in self.candidates(&prefix).into_iter().enumerate() {
                out.push((r, i == 0));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins_and_skips_prefixes_the_router_lacks() {
        let table = PrefixTable::new([
            p("0.0.0.0/0"),
            p("198.18.0.0/15"),
            p("198.18.4.0/24"),
            p("198.18.4.0/25"),
            p("198.18.4.7/32"),
            p("2001:db8::/32"),
        ]);
        let mut node = NodeTable::default();
        let id = |s: &str| table.id(&p(s)).unwrap();
        let d = Distances::default();
        node.push(
            id("0.0.0.0/0"),
            Protocol::Static,
            d.static_,
            0,
            Target::Discard,
        );
        node.push(
            id("198.18.0.0/15"),
            Protocol::Ospf,
            d.ospf,
            5,
            Target::Discard,
        );
        node.push(
            id("198.18.4.0/24"),
            Protocol::Connected,
            0,
            0,
            Target::Receive,
        );
        node.push(id("198.18.4.7/32"), Protocol::Local, 0, 0, Target::Receive);
        node.push(
            id("2001:db8::/32"),
            Protocol::Static,
            d.static_,
            0,
            Target::Discard,
        );
        node.sort();
        let fib = Fib {
            table: &table,
            node: &node,
            bgp: None,
        };
        let hit = |a: &str| fib.lookup(a.parse().unwrap()).map(|r| r.prefix.to_string());
        assert_eq!(hit("198.18.4.7").as_deref(), Some("198.18.4.7/32"));
        // 198.18.4.0/25 is in the network's table but not this router's.
        assert_eq!(hit("198.18.4.8").as_deref(), Some("198.18.4.0/24"));
        assert_eq!(hit("198.19.0.1").as_deref(), Some("198.18.0.0/15"));
        assert_eq!(hit("203.0.113.1").as_deref(), Some("0.0.0.0/0"));
        assert_eq!(hit("2001:db8:1::1").as_deref(), Some("2001:db8::/32"));
        assert_eq!(hit("2001:db9::1"), None);
        assert_eq!(fib.len(), 5);
    }

    #[test]
    fn lowest_distance_then_metric_is_installed() {
        let table = PrefixTable::new([p("198.18.0.0/24")]);
        let hop = |i: u32| {
            Target::Forward(vec![NextHop {
                address: None,
                interface: i,
            }])
        };
        let mut node = NodeTable::default();
        node.push(0, Protocol::Ospf, 110, 20, hop(1));
        node.push(0, Protocol::Static, 1, 0, hop(3));
        node.push(0, Protocol::Ospf, 110, 10, hop(2));
        node.sort();
        let fib = Fib {
            table: &table,
            node: &node,
            bgp: None,
        };
        let order: Vec<(Protocol, u32, u32)> = fib
            .candidates(&p("198.18.0.0/24"))
            .iter()
            .map(|r| (r.protocol, r.metric, r.next_hops()[0].interface))
            .collect();
        assert_eq!(
            order,
            vec![
                (Protocol::Static, 0, 3),
                (Protocol::Ospf, 10, 2),
                (Protocol::Ospf, 20, 1)
            ]
        );
        assert_eq!(
            fib.get(&p("198.18.0.0/24")).unwrap().protocol,
            Protocol::Static
        );
    }
}
