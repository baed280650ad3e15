//! The AS-level graph: dense ids ordered by ASN, CSR adjacency per relationship, and the
//! propagation ranks used by the three-phase Gao-Rexford propagation.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// How a neighbour relates to an AS, from that AS's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Relationship {
    /// The neighbour buys transit from this AS.
    Customer,
    /// Settlement-free peer.
    Peer,
    /// The neighbour sells transit to this AS.
    Provider,
}

impl Relationship {
    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::Customer => "customer",
            Relationship::Peer => "peer",
            Relationship::Provider => "provider",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A malformed or contradictory line of an AS-relationship file.
    #[error("{file}:{line}: {field}: {message}")]
    Line {
        file: String,
        line: usize,
        field: &'static str,
        message: String,
    },
    /// Provider-customer links that form a cycle; listed so that each AS is a provider of the
    /// next and the last is a provider of the first.
    #[error("{file}: provider-customer cycle: {}", format_cycle(.cycle))]
    ProviderCycle { file: String, cycle: Vec<u32> },
    #[error("{file}: no AS links")]
    Empty { file: String },
}

fn format_cycle(cycle: &[u32]) -> String {
    let mut s = String::new();
    for asn in cycle {
        let _ = write!(s, "AS{asn} -> ");
    }
    if let Some(first) = cycle.first() {
        let _ = write!(s, "AS{first}");
    }
    s
}

/// One link as read: `a` is the provider of `b` when `peer` is false.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub a: u32,
    pub b: u32,
    pub peer: bool,
    /// Line number in the source file (0 when built in code); used for error messages only.
    pub line: usize,
}

/// An AS-level topology. AS ids are dense `u32` indices in ascending ASN order, so comparing ids
/// compares ASNs (the lowest-neighbour-ASN tie-break needs no lookup).
#[derive(Debug, Clone)]
pub struct AsGraph {
    asns: Vec<u32>,
    prov_off: Vec<u32>,
    prov: Vec<u32>,
    cust_off: Vec<u32>,
    cust: Vec<u32>,
    peer_off: Vec<u32>,
    peer: Vec<u32>,
    rank: Vec<u32>,
    by_rank: Vec<u32>,
    rank_starts: Vec<u32>,
}

fn csr(n: usize, pairs: &mut [(u32, u32)]) -> (Vec<u32>, Vec<u32>) {
    pairs.sort_unstable();
    let mut off = vec![0u32; n + 1];
    for &(a, _) in pairs.iter() {
        off[a as usize + 1] += 1;
    }
    for i in 0..n {
        off[i + 1] += off[i];
    }
    let adj = pairs.iter().map(|&(_, b)| b).collect();
    (off, adj)
}

impl AsGraph {
    /// Reads CAIDA's AS-relationship format (serial-1 `as1|as2|rel` and serial-2
    /// `as1|as2|rel|source`): `-1` means as1 is a provider of as2, `0` means peers. Lines starting
    /// with `#` and blank lines are skipped. Identical duplicate links are merged; a pair listed
    /// with two different relationships is an error naming both lines.
    pub fn parse_caida(text: &str, file_name: &str) -> Result<AsGraph, GraphError> {
        let mut links = Vec::with_capacity(text.len() / 20);
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |field: &'static str, message: String| GraphError::Line {
                file: file_name.to_string(),
                line: line_no,
                field,
                message,
            };
            let mut fields = line.split('|');
            let asn = |field: &'static str, text: Option<&str>| -> Result<u32, GraphError> {
                let t = text
                    .ok_or_else(|| err(field, "missing field".into()))?
                    .trim();
                match t.parse::<u32>() {
                    Ok(0) => Err(err(field, "AS 0 is reserved (RFC 7607)".into())),
                    Ok(v) => Ok(v),
                    Err(_) => Err(err(field, format!("{t:?} is not an AS number"))),
                }
            };
            let a = asn("as1", fields.next())?;
            let b = asn("as2", fields.next())?;
            let rel = fields
                .next()
                .ok_or_else(|| err("relationship", "missing field".into()))?
                .trim();
            let peer = match rel {
                "-1" => false,
                "0" => true,
                other => {
                    return Err(err(
                        "relationship",
                        format!("{other:?} is neither -1 (provider-customer) nor 0 (peers)"),
                    ))
                }
            };
            let _source = fields.next();
            if fields.next().is_some() {
                return Err(err(
                    "source",
                    "too many fields (expected as1|as2|rel or as1|as2|rel|source)".into(),
                ));
            }
            if a == b {
                return Err(err("as2", format!("link from AS{a} to itself")));
            }
            links.push(Link {
                a,
                b,
                peer,
                line: line_no,
            });
        }
        Self::from_links(links, file_name)
    }

    /// Builds a graph from links. The result does not depend on the order of `links` (nor on the
    /// order of the two ends of a peer link).
    pub fn from_links(mut links: Vec<Link>, file_name: &str) -> Result<AsGraph, GraphError> {
        if links.is_empty() {
            return Err(GraphError::Empty {
                file: file_name.to_string(),
            });
        }
        // Normalise each link to its unordered pair, then sort so duplicates are adjacent.
        // Kind: 0 = peer, 1 = lower ASN is the provider, 2 = higher ASN is the provider.
        let kind = |l: &Link| -> u8 {
            if l.peer {
                0
            } else if l.a < l.b {
                1
            } else {
                2
            }
        };
        links.sort_unstable_by_key(|l| (l.a.min(l.b), l.a.max(l.b), kind(l), l.line));
        let mut uniq: Vec<Link> = Vec::with_capacity(links.len());
        for l in links {
            if let Some(prev) = uniq.last() {
                if prev.a.min(prev.b) == l.a.min(l.b) && prev.a.max(prev.b) == l.a.max(l.b) {
                    if kind(prev) != kind(&l) {
                        let describe = |x: &Link| {
                            if x.peer {
                                format!("AS{} and AS{} are peers", x.a, x.b)
                            } else {
                                format!("AS{} is a provider of AS{}", x.a, x.b)
                            }
                        };
                        let (first, second) = if prev.line <= l.line {
                            (prev, &l)
                        } else {
                            (&l, prev)
                        };
                        return Err(GraphError::Line {
                            file: file_name.to_string(),
                            line: second.line.max(first.line),
                            field: "relationship",
                            message: format!(
                                "{} contradicts line {} ({})",
                                describe(second),
                                first.line,
                                describe(first)
                            ),
                        });
                    }
                    continue;
                }
            }
            uniq.push(l);
        }
        let mut asns: Vec<u32> = uniq.iter().flat_map(|l| [l.a, l.b]).collect();
        asns.sort_unstable();
        asns.dedup();
        let n = asns.len();
        let id = |asn: u32| asns.binary_search(&asn).expect("collected above") as u32;
        let mut up = Vec::new(); // (customer, provider)
        let mut down = Vec::new(); // (provider, customer)
        let mut peers = Vec::new();
        for l in &uniq {
            let (a, b) = (id(l.a), id(l.b));
            if l.peer {
                peers.push((a, b));
                peers.push((b, a));
            } else {
                up.push((b, a));
                down.push((a, b));
            }
        }
        let (prov_off, prov) = csr(n, &mut up);
        let (cust_off, cust) = csr(n, &mut down);
        let (peer_off, peer) = csr(n, &mut peers);
        let mut g = AsGraph {
            asns,
            prov_off,
            prov,
            cust_off,
            cust,
            peer_off,
            peer,
            rank: Vec::new(),
            by_rank: Vec::new(),
            rank_starts: Vec::new(),
        };
        g.compute_ranks(file_name)?;
        Ok(g)
    }

    /// Propagation rank: 0 for ASes without customers, otherwise one more than the highest rank
    /// of a customer (Kahn's algorithm on customer-to-provider edges); fails on a cycle.
    fn compute_ranks(&mut self, file_name: &str) -> Result<(), GraphError> {
        let n = self.len();
        let mut pending: Vec<u32> = (0..n)
            .map(|x| self.customers(x as u32).len() as u32)
            .collect();
        let mut rank = vec![0u32; n];
        let mut queue: Vec<u32> = (0..n as u32)
            .filter(|&x| pending[x as usize] == 0)
            .collect();
        let mut head = 0;
        while head < queue.len() {
            let c = queue[head];
            head += 1;
            for &p in self.providers(c) {
                let p = p as usize;
                rank[p] = rank[p].max(rank[c as usize] + 1);
                pending[p] -= 1;
                if pending[p] == 0 {
                    queue.push(p as u32);
                }
            }
        }
        if queue.len() < n {
            // Every AS left has a customer that is also left: walk down customers until an AS
            // repeats, which closes a cycle.
            let start = (0..n).find(|&x| pending[x] > 0).expect("some AS is left");
            let mut seen_at = vec![usize::MAX; n];
            let mut walk = Vec::new();
            let mut x = start;
            while seen_at[x] == usize::MAX {
                seen_at[x] = walk.len();
                walk.push(x);
                x = *self
                    .customers(x as u32)
                    .iter()
                    .find(|&&c| pending[c as usize] > 0)
                    .expect("a left AS has a left customer") as usize;
            }
            let cycle = walk[seen_at[x]..].iter().map(|&i| self.asns[i]).collect();
            return Err(GraphError::ProviderCycle {
                file: file_name.to_string(),
                cycle,
            });
        }
        let max_rank = rank.iter().copied().max().unwrap_or(0) as usize;
        let mut starts = vec![0u32; max_rank + 2];
        for &r in &rank {
            starts[r as usize + 1] += 1;
        }
        for i in 0..=max_rank {
            starts[i + 1] += starts[i];
        }
        let mut fill = starts.clone();
        let mut by_rank = vec![0u32; n];
        for (x, &r) in rank.iter().enumerate() {
            by_rank[fill[r as usize] as usize] = x as u32;
            fill[r as usize] += 1;
        }
        self.rank = rank;
        self.by_rank = by_rank;
        self.rank_starts = starts;
        Ok(())
    }

    /// Number of ASes.
    pub fn len(&self) -> usize {
        self.asns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.asns.is_empty()
    }

    /// Number of distinct links (provider-customer plus peer).
    pub fn link_count(&self) -> usize {
        self.prov.len() + self.peer.len() / 2
    }

    pub fn provider_customer_link_count(&self) -> usize {
        self.prov.len()
    }

    pub fn peer_link_count(&self) -> usize {
        self.peer.len() / 2
    }

    /// The ASN of a dense id.
    pub fn asn(&self, id: u32) -> u32 {
        self.asns[id as usize]
    }

    /// All ASNs in ascending order (index = dense id).
    pub fn asns(&self) -> &[u32] {
        &self.asns
    }

    /// The dense id of an ASN, if the AS is in the graph.
    pub fn id(&self, asn: u32) -> Option<u32> {
        self.asns.binary_search(&asn).ok().map(|i| i as u32)
    }

    pub fn providers(&self, id: u32) -> &[u32] {
        let i = id as usize;
        &self.prov[self.prov_off[i] as usize..self.prov_off[i + 1] as usize]
    }

    pub fn customers(&self, id: u32) -> &[u32] {
        let i = id as usize;
        &self.cust[self.cust_off[i] as usize..self.cust_off[i + 1] as usize]
    }

    pub fn peers(&self, id: u32) -> &[u32] {
        let i = id as usize;
        &self.peer[self.peer_off[i] as usize..self.peer_off[i + 1] as usize]
    }

    pub fn degree(&self, id: u32) -> usize {
        self.providers(id).len() + self.customers(id).len() + self.peers(id).len()
    }

    /// What `other` is to `id`, if they are neighbours.
    pub fn relationship(&self, id: u32, other: u32) -> Option<Relationship> {
        if self.customers(id).binary_search(&other).is_ok() {
            Some(Relationship::Customer)
        } else if self.peers(id).binary_search(&other).is_ok() {
            Some(Relationship::Peer)
        } else if self.providers(id).binary_search(&other).is_ok() {
            Some(Relationship::Provider)
        } else {
            None
        }
    }

    /// Propagation rank (0 = no customers).
    pub fn rank(&self, id: u32) -> u32 {
        self.rank[id as usize]
    }

    /// Number of distinct ranks.
    pub fn rank_count(&self) -> usize {
        self.rank_starts.len() - 1
    }

    /// The ASes of one rank, ascending id.
    pub fn rank_members(&self, rank: usize) -> &[u32] {
        &self.by_rank[self.rank_starts[rank] as usize..self.rank_starts[rank + 1] as usize]
    }

    /// ASes without providers that have customers: the transit-free core ("tier-1s").
    pub fn tier1s(&self) -> Vec<u32> {
        (0..self.len() as u32)
            .filter(|&x| self.providers(x).is_empty() && !self.customers(x).is_empty())
            .collect()
    }

    /// ASes without customers (stubs), the usual victims and attackers of simulations.
    pub fn edge_ases(&self) -> Vec<u32> {
        (0..self.len() as u32)
            .filter(|&x| self.customers(x).is_empty())
            .collect()
    }

    /// Customer-cone size of every AS (the AS itself plus everything reachable by going down
    /// provider-to-customer links).
    pub fn customer_cone_sizes(&self) -> Vec<u32> {
        let n = self.len();
        let mut stamp = vec![u32::MAX; n];
        let mut stack = Vec::new();
        let mut sizes = vec![1u32; n];
        for x in 0..n as u32 {
            if self.customers(x).is_empty() {
                continue;
            }
            let mut count = 0;
            stack.push(x);
            stamp[x as usize] = x;
            while let Some(y) = stack.pop() {
                count += 1;
                for &c in self.customers(y) {
                    if stamp[c as usize] != x {
                        stamp[c as usize] = x;
                        stack.push(c);
                    }
                }
            }
            sizes[x as usize] = count;
        }
        sizes
    }

    /// Writes the graph in CAIDA serial-2 format (`as1|as2|rel|source`), deterministic order.
    pub fn to_caida(&self) -> String {
        let mut s = String::with_capacity(self.link_count() * 22);
        s.push_str("# nettwin AS-relationship file (CAIDA serial-2 format)\n");
        s.push_str("# <provider-as>|<customer-as>|-1|<source>\n# <peer-as>|<peer-as>|0|<source>\n");
        for x in 0..self.len() as u32 {
            for &c in self.customers(x) {
                let _ = writeln!(s, "{}|{}|-1|bgp", self.asn(x), self.asn(c));
            }
        }
        for x in 0..self.len() as u32 {
            for &p in self.peers(x) {
                if x < p {
                    let _ = writeln!(s, "{}|{}|0|bgp", self.asn(x), self.asn(p));
                }
            }
        }
        s
    }
}

/// True when the AS path (first element the receiving side, last the origin) is valley-free in
/// `graph`: read from the origin, zero or more customer-to-provider hops, at most one peer hop,
/// then zero or more provider-to-customer hops. Returns `None` when two consecutive ASes are not
/// neighbours in the graph (a forged or unknown link).
pub fn is_valley_free(graph: &AsGraph, path: &[u32]) -> Option<bool> {
    // 0 = still climbing, 1 = crossed a peer link or started descending.
    let mut descending = false;
    for w in path.windows(2).rev() {
        let (from, to) = (graph.id(w[1])?, graph.id(w[0])?);
        if from == to {
            continue; // prepending
        }
        match graph.relationship(from, to)? {
            Relationship::Provider => {
                if descending {
                    return Some(false);
                }
            }
            Relationship::Peer => {
                if descending {
                    return Some(false);
                }
                descending = true;
            }
            Relationship::Customer => descending = true,
        }
    }
    Some(true)
}
