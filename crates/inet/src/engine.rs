//! The propagation engine: three-phase Gao-Rexford propagation (up to providers in rank order,
//! once across peers, down to customers in reverse rank order) over compact per-AS route
//! records, then hop-by-hop longest-match forwarding. Buffers are reused between runs.

use serde::{Deserialize, Serialize};

use crate::aspa::{self, AspaState, Direction};
use crate::graph::{is_valley_free, AsGraph};
use crate::scenario::{
    AttackKind, Owner, Prepared, Seed, F_ASPA_RECORD, F_ASPA_VERIFY, F_COLLECTOR, F_LOCKED,
    F_PEER_LOCK, F_ROV,
};

// Route classes, ordered by Gao-Rexford preference (higher is better).
pub(crate) const NONE: u8 = 0;
pub(crate) const FROM_PROVIDER: u8 = 1;
pub(crate) const FROM_PEER: u8 = 2;
pub(crate) const FROM_CUSTOMER: u8 = 3;
pub(crate) const ORIGIN: u8 = 4;

pub(crate) const NO_NH: u32 = u32::MAX;
/// The route was received tagged NO_EXPORT: keep it, pass it to nobody.
pub(crate) const RF_NO_EXPORT: u8 = 1;

/// One AS's best route for one prefix, 8 bytes. The AS path is implicit: it is `nh`'s path with
/// `nh` in front, down to the seed whose explicit path ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    pub nh: u32,
    pub len: u8,
    pub rel: u8,
    pub seed: u8,
    pub flags: u8,
}

pub(crate) const EMPTY: Route = Route {
    nh: NO_NH,
    len: 0,
    rel: NONE,
    seed: 0,
    flags: 0,
};

impl Route {
    /// Preference as one integer: class, then shorter path, then lower neighbour id (= lower
    /// ASN, since ids are in ASN order).
    #[inline]
    fn key(&self) -> u64 {
        ((self.rel as u64) << 48) | ((255 - self.len as u64) << 32) | (u32::MAX - self.nh) as u64
    }
}

/// Why an AS refused a neighbour's route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rejection {
    /// The AS's own ASN is already on the path.
    Loop,
    /// ROV adopter, RPKI-invalid origin or length.
    RovInvalid,
    /// ASPA adopter, path verification Invalid.
    AspaInvalid,
    /// Peer-lock adopter, a locked AS appears behind a customer or peer.
    PeerLock,
}

/// Where traffic from an AS to the attacked address ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataPlane {
    Victim,
    Attacker,
    Disconnected,
}

/// What an ARTEMIS/BGPalerter-style monitor of the victim's prefix would alert on, judged from
/// the collectors' view. The monitor knows the victim's prefix, its origin ASN and its real
/// neighbours, and the AS relationships.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alerts {
    /// A route for the prefix or a more specific with an origin other than the victim.
    pub origin_change: bool,
    /// A more specific of the victim's prefix that the victim does not announce.
    pub new_subprefix: bool,
    /// The victim as origin behind an AS that is not one of its neighbours (forged origin).
    pub new_upstream: bool,
    /// A path that is not valley-free under the known relationships (a route leak).
    pub path_valley: bool,
}

impl Alerts {
    pub fn any(&self) -> bool {
        self.origin_change || self.new_subprefix || self.new_upstream || self.path_valley
    }
}

/// Counts of one run; the cheap result an experiment keeps per trial.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// ASes counted: all but the victim and the attacker.
    pub counted: u32,
    /// Counted ASes whose traffic to the attacked address reaches the attacker.
    pub attacker: u32,
    pub victim: u32,
    pub disconnected: u32,
    /// Collector peers in the graph.
    pub collectors: u32,
    /// Collector peers that export to their collector a route originated or leaked by the
    /// attacker (for any of the prefixes).
    pub collectors_seeing_attacker: u32,
    pub alerts: Alerts,
}

impl Summary {
    pub fn attacker_share(&self) -> f64 {
        share(self.attacker, self.counted)
    }
    pub fn victim_share(&self) -> f64 {
        share(self.victim, self.counted)
    }
    pub fn disconnected_share(&self) -> f64 {
        share(self.disconnected, self.counted)
    }
    /// Share of collector peers that show the attacker's route.
    pub fn collector_attacker_share(&self) -> f64 {
        share(self.collectors_seeing_attacker, self.collectors)
    }
    /// Data-plane capture minus what the collectors show: the stealthiness of the attack.
    pub fn stealth_gap(&self) -> f64 {
        self.attacker_share() - self.collector_attacker_share()
    }
}

fn share(a: u32, b: u32) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// What a neighbour's route looks like when offered to `to`, if it is offered at all: `Some`
/// with the flags the receiver stores.
#[inline]
fn offered(r: &Route, to: u32, seeds: &[Seed]) -> Option<u8> {
    if r.rel == ORIGIN {
        let s = &seeds[r.seed as usize];
        if let Some(t) = &s.targets {
            t.binary_search(&to).ok()?;
        }
        Some(if s.no_export { RF_NO_EXPORT } else { 0 })
    } else if r.flags & RF_NO_EXPORT != 0 {
        None
    } else {
        Some(0)
    }
}

/// Writes `from`'s AS path (dense ids, `from` first, origin last) into `out`; returns false if
/// `avoid` is on it.
#[inline]
pub(crate) fn walk_path(
    table: &[Route],
    seeds: &[Seed],
    from: u32,
    avoid: u32,
    out: &mut Vec<u32>,
) -> bool {
    out.clear();
    let mut y = from;
    loop {
        if y == avoid {
            return false;
        }
        let r = table[y as usize];
        if r.rel == ORIGIN {
            for &z in &seeds[r.seed as usize].path {
                if z == avoid {
                    return false;
                }
                out.push(z);
            }
            return true;
        }
        out.push(y);
        if r.nh == NO_NH || out.len() > 1024 {
            return true; // unreachable for well-formed tables; guards against a bad chain
        }
        y = r.nh;
    }
}

/// Import policy of `x` for a route from neighbour `from`. `path` receives `from`'s path.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn check_import(
    g: &AsGraph,
    table: &[Route],
    seeds: &[Seed],
    flags: &[u8],
    x: u32,
    from: u32,
    class: u8,
    seed: u8,
    path: &mut Vec<u32>,
) -> Result<(), Rejection> {
    if !walk_path(table, seeds, from, x, path) {
        return Err(Rejection::Loop);
    }
    let f = flags[x as usize];
    if f & F_ROV != 0 && seeds[seed as usize].rov_invalid {
        return Err(Rejection::RovInvalid);
    }
    if f & F_PEER_LOCK != 0
        && class != FROM_PROVIDER
        && path
            .iter()
            .any(|&z| z != from && flags[z as usize] & F_LOCKED != 0)
    {
        return Err(Rejection::PeerLock);
    }
    if f & F_ASPA_VERIFY != 0 {
        let dir = if class == FROM_PROVIDER {
            Direction::Downstream
        } else {
            Direction::Upstream
        };
        let has_record = |a: u32| flags[a as usize] & F_ASPA_RECORD != 0;
        if aspa::verify(g, &has_record, path, dir) == AspaState::Invalid {
            return Err(Rejection::AspaInvalid);
        }
    }
    Ok(())
}

/// Runs the three phases for the seeds of prefix `k`.
fn propagate_prefix(
    g: &AsGraph,
    table: &mut Vec<Route>,
    seeds: &[Seed],
    k: usize,
    flags: &[u8],
    path: &mut Vec<u32>,
) {
    let n = g.len();
    table.clear();
    table.resize(n, EMPTY);
    for (i, s) in seeds.iter().enumerate() {
        if s.prefix == k {
            table[s.at as usize] = Route {
                nh: NO_NH,
                len: s.path.len().min(255) as u8,
                rel: ORIGIN,
                seed: i as u8,
                flags: 0,
            };
        }
    }
    // Phase 1, up: ranks ascending, each AS pulls from its customers, whose routes are final.
    for rank in 1..g.rank_count() {
        for &x in g.rank_members(rank) {
            pull(
                g,
                table,
                seeds,
                flags,
                x,
                g.customers(x),
                FROM_CUSTOMER,
                path,
            );
        }
    }
    // Phase 2, across: one round over peers; only customer and origin routes cross.
    for x in 0..n as u32 {
        if table[x as usize].rel < FROM_CUSTOMER {
            pull(g, table, seeds, flags, x, g.peers(x), FROM_PEER, path);
        }
    }
    // Phase 3, down: ranks descending, each AS pulls from its providers (final by then).
    for rank in (0..g.rank_count().saturating_sub(1)).rev() {
        for &x in g.rank_members(rank) {
            if table[x as usize].rel < FROM_PEER {
                pull(
                    g,
                    table,
                    seeds,
                    flags,
                    x,
                    g.providers(x),
                    FROM_PROVIDER,
                    path,
                );
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn pull(
    g: &AsGraph,
    table: &mut [Route],
    seeds: &[Seed],
    flags: &[u8],
    x: u32,
    neighbours: &[u32],
    class: u8,
    path: &mut Vec<u32>,
) {
    let mut best = table[x as usize];
    if best.rel == ORIGIN {
        return;
    }
    let mut best_key = best.key();
    for &nb in neighbours {
        let r = table[nb as usize];
        // Export policy: to providers and peers only customer routes and own originations; to
        // customers everything.
        let exportable = if class == FROM_PROVIDER {
            r.rel != NONE
        } else {
            r.rel >= FROM_CUSTOMER
        };
        if !exportable {
            continue;
        }
        let Some(rf) = offered(&r, x, seeds) else {
            continue;
        };
        let cand = Route {
            nh: nb,
            len: r.len.saturating_add(1),
            rel: class,
            seed: r.seed,
            flags: rf,
        };
        let key = cand.key();
        if key > best_key
            && check_import(g, table, seeds, flags, x, nb, class, r.seed, path).is_ok()
        {
            best = cand;
            best_key = key;
        }
    }
    table[x as usize] = best;
}

/// Reusable propagation state for one graph. One engine per thread.
pub struct Engine<'g> {
    g: &'g AsGraph,
    pub(crate) tables: Vec<Vec<Route>>,
    pub(crate) data_plane: Vec<u8>,
    path: Vec<u32>,
    stack: Vec<u32>,
}

const DP_UNKNOWN: u8 = 0;
const DP_VICTIM: u8 = 1;
const DP_ATTACKER: u8 = 2;
const DP_DISCONNECTED: u8 = 3;

pub(crate) fn dp_from_u8(v: u8) -> DataPlane {
    match v {
        DP_VICTIM => DataPlane::Victim,
        DP_ATTACKER => DataPlane::Attacker,
        _ => DataPlane::Disconnected,
    }
}

impl<'g> Engine<'g> {
    pub fn new(g: &'g AsGraph) -> Self {
        Engine {
            g,
            tables: Vec::new(),
            data_plane: Vec::new(),
            path: Vec::new(),
            stack: Vec::new(),
        }
    }

    pub fn graph(&self) -> &'g AsGraph {
        self.g
    }

    /// Propagates every prefix of `p`, computes the data plane and returns the summary. For a
    /// route leak this first propagates the legitimate route to learn what the leaker leaks.
    pub(crate) fn run(&mut self, p: &mut Prepared) -> Summary {
        let g = self.g;
        while self.tables.len() < p.prefixes.len() {
            self.tables.push(Vec::new());
        }
        if p.attack == AttackKind::RouteLeak {
            p.seeds.retain(|s| s.owner == Owner::Victim);
            if let Some(a) = p.attacker {
                propagate_prefix(
                    g,
                    &mut self.tables[0],
                    &p.seeds,
                    0,
                    &p.flags,
                    &mut self.path,
                );
                let r = self.tables[0][a as usize];
                if r.rel == FROM_PEER || r.rel == FROM_PROVIDER {
                    let mut leaked = Vec::new();
                    walk_path(&self.tables[0], &p.seeds, a, NO_NH, &mut leaked);
                    p.push_seed(g, 0, a, leaked, Owner::Attacker, true);
                }
            }
        }
        for k in 0..p.prefixes.len() {
            propagate_prefix(
                g,
                &mut self.tables[k],
                &p.seeds,
                k,
                &p.flags,
                &mut self.path,
            );
        }
        self.compute_data_plane(p);
        self.summarise(p)
    }

    /// Hop-by-hop forwarding towards the first address of the most specific prefix: each AS
    /// uses the longest prefix it holds a route for and hands the packet to that route's next
    /// hop. Memoised, so the whole pass is O(ASes).
    fn compute_data_plane(&mut self, p: &Prepared) {
        let n = self.g.len();
        self.data_plane.clear();
        self.data_plane.resize(n, DP_UNKNOWN);
        self.data_plane[p.victim as usize] = DP_VICTIM;
        if let Some(a) = p.attacker {
            if p.seeds.iter().any(|s| s.owner == Owner::Attacker) {
                self.data_plane[a as usize] = DP_ATTACKER;
            }
        }
        // Prefixes from most to least specific (all cover the attacked address).
        let mut order: Vec<usize> = (0..p.prefixes.len()).collect();
        order.sort_by_key(|&k| std::cmp::Reverse(p.prefixes[k].len()));
        for x in 0..n as u32 {
            if self.data_plane[x as usize] != DP_UNKNOWN {
                continue;
            }
            self.stack.clear();
            let mut y = x;
            let verdict = loop {
                let d = self.data_plane[y as usize];
                if d != DP_UNKNOWN {
                    break d;
                }
                if self.stack.len() > n {
                    break DP_DISCONNECTED;
                }
                let next = order.iter().find_map(|&k| {
                    let r = self.tables[k][y as usize];
                    (r.rel != NONE).then_some(r)
                });
                match next {
                    None => break DP_DISCONNECTED,
                    Some(r) if r.rel == ORIGIN => {
                        break match p.seeds[r.seed as usize].owner {
                            Owner::Victim => DP_VICTIM,
                            Owner::Attacker => DP_ATTACKER,
                        }
                    }
                    Some(r) => {
                        self.stack.push(y);
                        y = r.nh;
                    }
                }
            };
            self.data_plane[x as usize] = verdict;
            for &s in &self.stack {
                self.data_plane[s as usize] = verdict;
            }
        }
    }

    /// Is the route `r` of collector peer `c` exported to its collector session?
    fn visible_to_collector(r: &Route, seeds: &[Seed]) -> bool {
        match r.rel {
            NONE => false,
            ORIGIN => {
                let s = &seeds[r.seed as usize];
                s.targets.is_none() && !s.no_export
            }
            _ => r.flags & RF_NO_EXPORT == 0,
        }
    }

    fn summarise(&mut self, p: &Prepared) -> Summary {
        let g = self.g;
        let mut s = Summary::default();
        for (x, &d) in self.data_plane.iter().enumerate() {
            let x = x as u32;
            if x == p.victim || Some(x) == p.attacker {
                continue;
            }
            s.counted += 1;
            match d {
                DP_VICTIM => s.victim += 1,
                DP_ATTACKER => s.attacker += 1,
                _ => s.disconnected += 1,
            }
        }
        let victim_asn = g.asn(p.victim);
        for c in 0..g.len() as u32 {
            if p.flags[c as usize] & F_COLLECTOR == 0 {
                continue;
            }
            s.collectors += 1;
            let mut sees_attacker = false;
            for (k, prefix) in p.prefixes.iter().enumerate() {
                let r = self.tables[k][c as usize];
                if !Self::visible_to_collector(&r, &p.seeds) {
                    continue;
                }
                if p.seeds[r.seed as usize].owner == Owner::Attacker {
                    sees_attacker = true;
                }
                walk_path(&self.tables[k], &p.seeds, c, NO_NH, &mut self.path);
                judge(
                    g,
                    &self.path,
                    prefix,
                    &p.victim_prefix,
                    victim_asn,
                    &mut s.alerts,
                );
            }
            if sees_attacker {
                s.collectors_seeing_attacker += 1;
            }
        }
        s
    }
}

/// Applies the monitor's rules to one observed (prefix, path); `path` holds dense ids, the
/// collector peer first and the origin last.
pub(crate) fn judge(
    g: &AsGraph,
    path: &[u32],
    prefix: &crate::prefix::Prefix,
    victim_prefix: &crate::prefix::Prefix,
    victim_asn: u32,
    alerts: &mut Alerts,
) {
    let Some(&origin) = path.last() else { return };
    if g.asn(origin) != victim_asn {
        alerts.origin_change = true;
    }
    if prefix.len() > victim_prefix.len() {
        alerts.new_subprefix = true;
    }
    if g.asn(origin) == victim_asn && path.len() >= 2 {
        let upstream = path[path.len() - 2];
        if upstream != origin && g.relationship(origin, upstream).is_none() {
            alerts.new_upstream = true;
        }
    }
    let asns: Vec<u32> = path.iter().map(|&i| g.asn(i)).collect();
    if is_valley_free(g, &asns) == Some(false) {
        alerts.path_valley = true;
    }
}
