//! Deciding when FRR has converged.
//!
//! A count of quiet polls is not enough: OSPF's default timers hold a changed router-LSA back
//! for 5 s (MinLSInterval) and drop a new instance that arrives within 1 s of the last one
//! (MinLSArrival), so a half-built network can sit unchanged for several seconds and then move
//! again. The generated configurations make those timers lab-fast (see `frr::configs`), and
//! convergence is judged from the protocols themselves:
//!
//! 1. every adjacency and session the twin expects is in its final state: OSPF neighbours Full
//!    (or 2-Way between two DROthers on a LAN), IS-IS adjacencies Up, BGP sessions Established;
//! 2. no SPF run is scheduled on any router;
//! 3. nothing has moved for [`QUIET`] since the last change anywhere: selected routes, neighbour
//!    states, LSDB sizes and checksums, SPF and LSP-generation counters, BGP prefix counts.
//!
//! When the routes equal the twin's and (1) and (2) hold, it returns at once. An adjacency that
//! never comes (an MTU mismatch stuck in ExStart) is reported, not waited for forever: once
//! everything else has been still for [`STUCK`], `wait` returns and names it, and verify shows
//! the differences it causes. On timeout the error says what never came.

use crate::compare::{twin_routes, RealRoute};
use crate::frr::{self, LinkLocals};
use crate::state::RunState;
use crate::{sys, EmuError};
use nettwin_model::{Interface, Node, NodeId, Topology};
use nettwin_routing::Routing;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long everything must be still before routes that differ from the twin's are taken as
/// FRR's answer. Covers the SPF hold time (500 ms at most), BGP's update coalescing (1 s) and
/// zebra's route processing, with room for a loaded machine.
pub const QUIET: Duration = Duration::from_secs(4);

/// How long everything else must be still before a missing adjacency is taken as one that will
/// never come up.
pub const STUCK: Duration = Duration::from_secs(30);

/// Time between polls.
const POLL: Duration = Duration::from_millis(500);

/// What a finished wait found.
#[derive(Clone, Debug, Default)]
pub struct Converged {
    pub after: Duration,
    /// Adjacencies and sessions the twin expects that FRR never brought up.
    pub never_up: Vec<String>,
}

/// The protocols whose adjacencies are awaited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Proto {
    Ospf2,
    Ospf3,
    Isis,
}

impl Proto {
    fn label(self) -> &'static str {
        match self {
            Proto::Ospf2 => "OSPFv2",
            Proto::Ospf3 => "OSPFv3",
            Proto::Isis => "IS-IS",
        }
    }
}

/// What one router's daemons say at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
struct RouterView {
    routes: Vec<RealRoute>,
    /// Adjacencies in their final state, per protocol.
    done: BTreeMap<Proto, usize>,
    /// BGP sessions Established, by neighbour address.
    established: BTreeSet<IpAddr>,
    /// What moves while a protocol is still at work (neighbour states, LSDB sums, SPF counts,
    /// BGP prefix counts), in a fixed order.
    progress: Vec<String>,
    /// Protocols with an SPF run scheduled.
    spf_pending: Vec<&'static str>,
    /// A summary of each link-state database (per protocol and flooding scope) that is the same
    /// on every router once flooding is over.
    lsdb: BTreeMap<(Proto, String), String>,
}

/// What the twin expects of one router.
struct Expected<'a> {
    node: &'a Node,
    daemons: Vec<&'static str>,
    adjacencies: BTreeMap<Proto, usize>,
    bgp: BTreeSet<IpAddr>,
    routes: Vec<RealRoute>,
}

/// Two routers the twin expects to be adjacent, in one flooding scope (an OSPF area, IS-IS
/// level 2).
type Pair = (String, NodeId, NodeId);

/// How many neighbours each router of a protocol should reach: the other routers running it on
/// its active interfaces (same area for OSPF, the address family present on both ends); and
/// the adjacent pairs.
fn expected_adjacencies(
    topo: &Topology,
    routing: &Routing,
    proto: Proto,
) -> (BTreeMap<NodeId, usize>, Vec<Pair>) {
    let cfg = &routing.config;
    let runs = |id: NodeId| match proto {
        Proto::Ospf2 | Proto::Ospf3 => cfg.ospf[id.index()].is_some(),
        Proto::Isis => cfg.isis[id.index()].is_some(),
    };
    let settings = |id: NodeId, k: usize| match proto {
        Proto::Ospf2 | Proto::Ospf3 => &cfg.ospf_if[id.index()][k],
        Proto::Isis => &cfg.isis_if[id.index()][k],
    };
    let family = |i: &Interface| match proto {
        Proto::Ospf2 => i.ipv4.is_some(),
        Proto::Ospf3 => i.ipv6.is_some(),
        Proto::Isis => i.ipv4.is_some() || i.ipv6.is_some(),
    };
    let mut out = BTreeMap::new();
    let mut pairs = Vec::new();
    for n in topo.nodes.iter().filter(|n| runs(n.id)) {
        let mut count = 0;
        for (k, iface) in n.interfaces.iter().enumerate() {
            let Some(seg) = iface.segment.map(|s| topo.segment(s)) else {
                continue;
            };
            let mine = settings(n.id, k);
            if !iface.up || mine.passive || !family(iface) || !frr::same_as(topo, seg, n) {
                continue;
            }
            let scope = match proto {
                Proto::Isis => "level-2".to_string(),
                _ => mine.area.to_string(),
            };
            let peers: Vec<NodeId> = seg
                .members
                .iter()
                .filter(|m| {
                    let other = topo.interface(**m);
                    let theirs = settings(m.node, m.index as usize);
                    m.node != n.id
                        && runs(m.node)
                        && other.up
                        && family(other)
                        && !theirs.passive
                        && (proto == Proto::Isis || theirs.area == mine.area)
                        && frr::same_as(topo, seg, topo.node(m.node))
                })
                .map(|m| m.node)
                .collect();
            count += peers.len();
            pairs.extend(peers.into_iter().map(|p| (scope.clone(), n.id, p)));
        }
        out.insert(n.id, count);
    }
    (out, pairs)
}

/// Routers whose link-state databases must be identical once flooding is over: those joined by
/// expected adjacencies within one flooding scope (a partitioned area has one group per part).
fn flooding_groups(pairs: &[Pair]) -> Vec<(String, Vec<NodeId>)> {
    let mut groups: BTreeMap<String, Vec<BTreeSet<NodeId>>> = BTreeMap::new();
    for (scope, a, b) in pairs {
        let sets = groups.entry(scope.clone()).or_default();
        let hit: Vec<usize> = (0..sets.len())
            .filter(|&i| sets[i].contains(a) || sets[i].contains(b))
            .collect();
        let mut merged: BTreeSet<NodeId> = [*a, *b].into();
        for &i in hit.iter().rev() {
            merged.extend(sets.swap_remove(i));
        }
        sets.push(merged);
    }
    let mut out: Vec<(String, Vec<NodeId>)> = groups
        .into_iter()
        .flat_map(|(scope, sets)| {
            sets.into_iter()
                .map(move |s| (scope.clone(), s.into_iter().collect()))
        })
        .collect();
    out.sort();
    out
}

fn str_at<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// OSPFv2 neighbours in their final state, and every neighbour's state for the progress list.
/// `ifaces` is `show ip ospf interface json` (the router's own role per interface).
fn ospf2_neighbours(nbrs: &Value, ifaces: &Value, progress: &mut Vec<String>) -> usize {
    let own = |ifname: &str| {
        ifaces
            .get("interfaces")
            .and_then(|i| i.get(ifname))
            .map(|i| str_at(i, "state"))
            .unwrap_or("")
    };
    let mut done = 0;
    for (rid, list) in nbrs
        .get("neighbors")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for nb in list.as_array().into_iter().flatten() {
            let state = str_at(nb, "nbrState");
            // "eth1:198.19.0.1": the interface, then its address.
            let ifname = str_at(nb, "ifaceName").split(':').next().unwrap_or("");
            let (phase, role) = state.split_once('/').unwrap_or((state, ""));
            if phase == "Full"
                || (phase == "2-Way" && role == "DROther" && own(ifname) == "DROther")
            {
                done += 1;
            }
            progress.push(format!("ospf {rid}@{ifname} {state} {}", own(ifname)));
        }
    }
    done
}

/// OSPFv3 neighbours in their final state (`show ipv6 ospf6 neighbor json`: `state` is the
/// neighbour's, `ifState` its role, `interfaceState` this router's role on the link).
fn ospf3_neighbours(nbrs: &Value, progress: &mut Vec<String>) -> usize {
    let mut done = 0;
    for nb in nbrs
        .get("neighbors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (state, role, own) = (
            str_at(nb, "state"),
            str_at(nb, "ifState"),
            str_at(nb, "interfaceState"),
        );
        if state == "Full" || (state == "Twoway" && role == "DROther" && own == "DROther") {
            done += 1;
        }
        progress.push(format!(
            "ospf6 {}@{} {state}/{role} {own}",
            str_at(nb, "neighborId"),
            str_at(nb, "interfaceName")
        ));
    }
    done
}

/// IS-IS adjacencies Up, from the text of `show isis neighbor` (8.4's JSON lists only one
/// adjacency per LAN circuit).
fn isis_neighbours(text: &str, progress: &mut Vec<String>) -> usize {
    let mut done = 0;
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // System Id, Interface, Level, State, Holdtime, SNPA.
        if cols.len() < 4 || cols[0] == "System" || cols[0] == "Area" {
            continue;
        }
        if cols[3] == "Up" {
            done += 1;
        }
        progress.push(format!("isis {}@{} {}", cols[0], cols[1], cols[3]));
    }
    done
}

/// Numbers that change when an LSDB or an SPF result changes (OSPFv2 `show ip ospf json`):
/// per area, the count and checksum sum of each LSA type. Whether an SPF run is scheduled.
fn ospf2_sums(
    v: &Value,
    progress: &mut Vec<String>,
    lsdb: &mut BTreeMap<(Proto, String), String>,
) -> bool {
    let mut sums = vec![v
        .get("lsaExternalChecksum")
        .map(Value::to_string)
        .unwrap_or_default()];
    for (area, a) in v
        .get("areas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let mut db = Vec::new();
        for (k, x) in a.as_object().into_iter().flatten() {
            if k.starts_with("lsa") {
                db.push(format!("{k}={x}"));
            }
        }
        if let Some(x) = a.get("spfExecutedCounter") {
            sums.push(format!("{area}.spf={x}"));
        }
        sums.push(format!("{area}: {}", db.join(" ")));
        lsdb.insert((Proto::Ospf2, area.clone()), db.join(" "));
    }
    progress.push(format!("ospf lsdb {}", sums.join(" ")));
    v.get("spfTimerDueInMsecs").is_some()
}

/// The same for OSPFv3 (`show ipv6 ospf6 json`), which has counts but no checksums.
fn ospf3_sums(
    v: &Value,
    progress: &mut Vec<String>,
    lsdb: &mut BTreeMap<(Proto, String), String>,
) -> bool {
    let mut sums = vec![
        str_at(v, "spfLastExecutedReason").to_string(),
        v.get("numberOfAsScopedLsa")
            .map(Value::to_string)
            .unwrap_or_default(),
    ];
    for (area, a) in v
        .get("areas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        // Not `spfLastExecutedSecs`: it is the time since the last run and grows every second.
        for k in ["numberOfAreaScopedLsa", "lsaStatistics"] {
            if let Some(x) = a.get(k) {
                sums.push(format!("{area}.{k}={x}"));
            }
        }
        let db: Vec<String> = ["numberOfAreaScopedLsa", "lsaStatistics"]
            .iter()
            .filter_map(|k| a.get(*k).map(|x| format!("{k}={x}")))
            .collect();
        lsdb.insert((Proto::Ospf3, area.clone()), db.join(" "));
    }
    progress.push(format!("ospf6 lsdb {}", sums.join(" ")));
    v.get("spfTimerActive").and_then(Value::as_bool) == Some(true)
}

/// IS-IS SPF and LSP generation counters (`show isis summary json`); whether an SPF is pending.
fn isis_sums(v: &Value, progress: &mut Vec<String>) -> bool {
    let mut pending = false;
    let mut sums = Vec::new();
    for a in v
        .get("areas")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for l in a
            .get("levels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let spf = str_at(l, "spf");
            pending |= !spf.is_empty() && spf != "no pending";
            for k in ["lsp0-regenerated", "lsp-purged", "last-run-count"] {
                if let Some(x) = l.get(k) {
                    sums.push(format!("{k}={x}"));
                }
            }
        }
    }
    progress.push(format!("isis {}", sums.join(" ")));
    pending
}

/// IS-IS's level-2 database from the text of `show isis database` (8.4's JSON lists one LSP):
/// every LSP's id, sequence number and checksum. Own LSPs are marked `*` on the owner only, so
/// the mark is left out.
fn isis_database(text: &str) -> String {
    let mut lsps: Vec<String> = text
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let id = cols.first()?;
            if !id.contains(".") || !id.contains('-') {
                return None;
            }
            let hex: Vec<&&str> = cols.iter().filter(|c| c.starts_with("0x")).collect();
            Some(format!("{id} {} {}", hex.first()?, hex.get(1)?))
        })
        .collect();
    lsps.sort();
    lsps.join(", ")
}

/// BGP sessions and prefix counts per address family (`show bgp summary json`).
fn bgp_summary(v: &Value, established: &mut BTreeSet<IpAddr>, progress: &mut Vec<String>) {
    for (af, s) in v.as_object().into_iter().flatten() {
        for (peer, p) in s
            .get("peers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let state = str_at(p, "state");
            if state == "Established" {
                if let Ok(a) = peer.parse() {
                    established.insert(a);
                }
            }
            progress.push(format!(
                "bgp {af} {peer} {state} {} {}",
                p.get("pfxRcd").map(Value::to_string).unwrap_or_default(),
                p.get("pfxSnt").map(Value::to_string).unwrap_or_default()
            ));
        }
    }
}

/// Reads everything convergence depends on from one router: one vtysh call for the JSON
/// commands, one more for IS-IS's neighbour text.
fn observe(ns: &str, daemons: &[&'static str], lls: &LinkLocals) -> RouterView {
    let mut view = RouterView::default();
    let mut cmds = vec!["show ip route json", "show ipv6 route json"];
    let ospf2 = daemons.contains(&"ospfd");
    let ospf3 = daemons.contains(&"ospf6d");
    let isis = daemons.contains(&"isisd");
    let bgp = daemons.contains(&"bgpd");
    if ospf2 {
        cmds.extend([
            "show ip ospf json",
            "show ip ospf interface json",
            "show ip ospf neighbor json",
        ]);
    }
    if ospf3 {
        cmds.extend(["show ipv6 ospf6 json", "show ipv6 ospf6 neighbor json"]);
    }
    if isis {
        cmds.push("show isis summary json");
    }
    if bgp {
        cmds.push("show bgp summary json");
    }
    // A daemon not answering yet gives text instead of JSON: the view stays empty and the
    // next poll asks again.
    let Ok(docs) = frr::vtysh_json(ns, &cmds) else {
        return view;
    };
    if docs.len() != cmds.len() {
        return view;
    }
    let mut it = docs.iter();
    let mut next = || it.next().expect("one document per command");
    for d in [next(), next()] {
        view.routes.extend(frr::parse_routes(d, lls));
    }
    view.routes.sort();
    if ospf2 {
        let (general, ifaces, nbrs) = (next(), next(), next());
        if ospf2_sums(general, &mut view.progress, &mut view.lsdb) {
            view.spf_pending.push("OSPFv2");
        }
        let done = ospf2_neighbours(nbrs, ifaces, &mut view.progress);
        view.done.insert(Proto::Ospf2, done);
    }
    if ospf3 {
        let (general, nbrs) = (next(), next());
        if ospf3_sums(general, &mut view.progress, &mut view.lsdb) {
            view.spf_pending.push("OSPFv3");
        }
        view.done
            .insert(Proto::Ospf3, ospf3_neighbours(nbrs, &mut view.progress));
    }
    if isis {
        if isis_sums(next(), &mut view.progress) {
            view.spf_pending.push("IS-IS");
        }
        let text = sys::run(
            "vtysh",
            &[
                "-N",
                ns,
                "-c",
                "show isis neighbor",
                "-c",
                "show isis database",
            ],
        )
        .unwrap_or_default();
        let (neighbours, database) = text
            .split_once("link-state database")
            .unwrap_or((&text, ""));
        view.done
            .insert(Proto::Isis, isis_neighbours(neighbours, &mut view.progress));
        view.lsdb
            .insert((Proto::Isis, "level-2".into()), isis_database(database));
    }
    if bgp {
        bgp_summary(next(), &mut view.established, &mut view.progress);
    }
    view
}

/// Waits until FRR has converged (see the module documentation).
pub fn wait(
    topo: &Topology,
    routing: &Routing,
    st: &RunState,
    timeout: Duration,
) -> Result<Converged, EmuError> {
    let mut by_proto: Vec<(Proto, BTreeMap<NodeId, usize>)> = Vec::new();
    // Per protocol: flooding scope and the routers that must hold the same database.
    let mut groups: Vec<(Proto, String, Vec<NodeId>)> = Vec::new();
    for p in [Proto::Ospf2, Proto::Ospf3, Proto::Isis] {
        let (counts, pairs) = expected_adjacencies(topo, routing, p);
        by_proto.push((p, counts));
        groups.extend(
            flooding_groups(&pairs)
                .into_iter()
                .map(|(scope, members)| (p, scope, members)),
        );
    }
    let expected: Vec<Expected> = topo
        .nodes
        .iter()
        .filter(|n| frr::runs_frr(n))
        .map(|n| {
            let daemons: Vec<&'static str> = frr::configs(topo, routing, n.id)
                .into_iter()
                .map(|(d, _)| d)
                .collect();
            let adjacencies = by_proto
                .iter()
                .filter(|(p, _)| match p {
                    Proto::Ospf2 => daemons.contains(&"ospfd"),
                    Proto::Ospf3 => daemons.contains(&"ospf6d"),
                    Proto::Isis => daemons.contains(&"isisd"),
                })
                .filter_map(|(p, m)| Some((*p, *m.get(&n.id)?)))
                .filter(|(_, c)| *c > 0)
                .collect();
            let bgp = routing
                .node(n.id)
                .bgp
                .as_ref()
                .map(|b| {
                    b.peers
                        .iter()
                        .filter(|p| p.established)
                        .map(|p| p.remote_address)
                        .collect()
                })
                .unwrap_or_default();
            let mut routes = twin_routes(topo, routing, n.id);
            routes.sort();
            Expected {
                node: n,
                daemons,
                adjacencies,
                bgp,
                routes,
            }
        })
        .collect();
    let t0 = Instant::now();
    let mut prev: Vec<RouterView> = Vec::new();
    let mut last_change = t0;
    loop {
        let lls = frr::link_locals(topo, st)?;
        let mut views = Vec::with_capacity(expected.len());
        for e in &expected {
            views.push(observe(st.netns(&e.node.name)?, &e.daemons, &lls));
        }
        let now = Instant::now();
        if views != prev {
            last_change = now;
        }
        let mut missing = Vec::new();
        let mut pending = Vec::new();
        let mut same_as_twin = true;
        for (e, v) in expected.iter().zip(&views) {
            for (p, want) in &e.adjacencies {
                let have = v.done.get(p).copied().unwrap_or(0);
                if have < *want {
                    missing.push(format!(
                        "{}: {have} of {want} {} adjacencies",
                        e.node.name,
                        p.label()
                    ));
                }
            }
            for a in e.bgp.difference(&v.established) {
                missing.push(format!(
                    "{}: BGP session to {a} not Established",
                    e.node.name
                ));
            }
            for p in &v.spf_pending {
                pending.push(format!("{}: {p} SPF scheduled", e.node.name));
            }
            same_as_twin &= v.routes == e.routes;
        }
        // Flooding is over when the routers of each group hold the same database.
        let view_of: BTreeMap<NodeId, &RouterView> = expected
            .iter()
            .zip(&views)
            .map(|(e, v)| (e.node.id, v))
            .collect();
        for (p, scope, members) in &groups {
            let dbs: Vec<(NodeId, Option<&String>)> = members
                .iter()
                .filter_map(|id| Some((*id, view_of.get(id)?.lsdb.get(&(*p, scope.clone())))))
                .collect();
            if let Some((first, db)) = dbs.first() {
                if let Some((other, _)) = dbs.iter().find(|(_, d)| d != db) {
                    pending.push(format!(
                        "{} {scope}: databases of {} and {} differ",
                        p.label(),
                        topo.node(*first).name,
                        topo.node(*other).name
                    ));
                }
            }
        }
        let quiet = now - last_change;
        let settled = pending.is_empty() && quiet >= QUIET;
        if missing.is_empty() && pending.is_empty() && (same_as_twin || settled) {
            return Ok(Converged {
                after: t0.elapsed(),
                never_up: Vec::new(),
            });
        }
        if (!missing.is_empty() || !pending.is_empty()) && quiet >= STUCK {
            missing.extend(pending);
            return Ok(Converged {
                after: t0.elapsed(),
                never_up: missing,
            });
        }
        if t0.elapsed() > timeout {
            let mut detail = missing;
            detail.extend(pending);
            if detail.is_empty() {
                let moving: Vec<&str> = expected
                    .iter()
                    .zip(views.iter().zip(&prev))
                    .filter(|(_, (v, p))| v != p)
                    .map(|(e, _)| e.node.name.as_str())
                    .collect();
                detail.push(format!("still changing on {}", moving.join(", ")));
            }
            let more = detail.len().saturating_sub(12);
            detail.truncate(12);
            if more > 0 {
                detail.push(format!("and {more} more"));
            }
            return Err(EmuError::NotConverged {
                seconds: timeout.as_secs(),
                detail: detail.join("; "),
            });
        }
        prev = views;
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ospf2_two_way_is_final_only_between_drothers() {
        let ifaces: Value = serde_json::from_str(
            r#"{"interfaces":{"eth1":{"state":"DROther"},"eth2":{"state":"Waiting"},"eth3":{"state":"Point-To-Point"}}}"#,
        )
        .unwrap();
        let nbrs: Value = serde_json::from_str(
            r#"{"neighbors":{
              "198.18.0.2":[{"nbrState":"2-Way/DROther","ifaceName":"eth1:198.18.128.1"}],
              "198.18.0.3":[{"nbrState":"Full/DR","ifaceName":"eth1:198.18.128.1"}],
              "198.18.0.4":[{"nbrState":"2-Way/DROther","ifaceName":"eth2:198.18.129.1"}],
              "198.18.0.5":[{"nbrState":"2-Way/-","ifaceName":"eth3:198.19.0.1"}],
              "198.18.0.6":[{"nbrState":"ExStart/-","ifaceName":"eth3:198.19.0.1"}]}}"#,
        )
        .unwrap();
        let mut progress = Vec::new();
        // A DROther with a DROther (final) and the DR (Full); a router still Waiting, and a
        // point-to-point neighbour in 2-Way or ExStart are on their way.
        assert_eq!(ospf2_neighbours(&nbrs, &ifaces, &mut progress), 2);
        assert_eq!(progress.len(), 5);
    }

    #[test]
    fn ospf3_two_way_is_final_only_between_drothers() {
        let nbrs: Value = serde_json::from_str(
            r#"{"neighbors":[
              {"neighborId":"198.18.0.2","state":"Twoway","ifState":"DROther","interfaceName":"eth1","interfaceState":"DROther"},
              {"neighborId":"198.18.0.3","state":"Twoway","ifState":"DROther","interfaceName":"eth2","interfaceState":"Waiting"},
              {"neighborId":"198.18.0.4","state":"Full","ifState":"PointToPoint","interfaceName":"eth3","interfaceState":"PointToPoint"},
              {"neighborId":"198.18.0.5","state":"Loading","ifState":"PointToPoint","interfaceName":"eth4","interfaceState":"PointToPoint"}]}"#,
        )
        .unwrap();
        assert_eq!(ospf3_neighbours(&nbrs, &mut Vec::new()), 2);
    }

    #[test]
    fn isis_adjacencies_are_read_from_the_text_table() {
        // FRR 8.4's `show isis neighbor` on a router with a p2p link and a LAN of three.
        let text = "Area nt:\n  System Id           Interface   L  State        Holdtime SNPA\n p1                  eth1        2  Up            10       2020.2020.2020\n p4                  eth3        2  Up            9        4e32.3a9e.16b9\n p5                  eth3        2  Initializing  10       1a3b.eecf.e45f\n";
        let mut progress = Vec::new();
        assert_eq!(isis_neighbours(text, &mut progress), 2);
        assert_eq!(progress.len(), 3);
    }

    #[test]
    fn isis_database_leaves_out_the_own_mark() {
        let on_p5 = "IS-IS Level-2 link-state database:\nLSP ID                  PduLen  SeqNumber   Chksum  Holdtime  ATT/P/OL\np1.00-00                  222   0x00000002  0xcd8e    1165    0/0/0\np5.00-00             *    153   0x00000003  0x979f    1179    0/0/0\n    2 LSPs\n";
        let on_p1 = "IS-IS Level-2 link-state database:\nLSP ID                  PduLen  SeqNumber   Chksum  Holdtime  ATT/P/OL\np1.00-00             *    222   0x00000002  0xcd8e    1100    0/0/0\np5.00-00                  153   0x00000003  0x979f    1002    0/0/0\n    2 LSPs\n";
        assert_eq!(isis_database(on_p5), isis_database(on_p1));
        assert_eq!(
            isis_database(on_p5),
            "p1.00-00 0x00000002 0xcd8e, p5.00-00 0x00000003 0x979f"
        );
    }

    #[test]
    fn flooding_groups_follow_partitions_and_scopes() {
        let n = NodeId;
        let pairs = vec![
            ("0.0.0.0".to_string(), n(0), n(1)),
            ("0.0.0.0".to_string(), n(2), n(3)),
            ("0.0.0.0".to_string(), n(1), n(0)),
            ("0.0.0.1".to_string(), n(1), n(2)),
        ];
        let g = flooding_groups(&pairs);
        assert_eq!(
            g,
            vec![
                ("0.0.0.0".to_string(), vec![n(0), n(1)]),
                ("0.0.0.0".to_string(), vec![n(2), n(3)]),
                ("0.0.0.1".to_string(), vec![n(1), n(2)]),
            ]
        );
    }

    #[test]
    fn pending_spf_is_seen() {
        let v2: Value = serde_json::from_str(
            r#"{"spfTimerDueInMsecs":40,"areas":{"0.0.0.0":{"lsaNumber":4}}}"#,
        )
        .unwrap();
        assert!(ospf2_sums(&v2, &mut Vec::new(), &mut BTreeMap::new()));
        let v3: Value = serde_json::from_str(r#"{"spfTimerActive":false,"areas":{}}"#).unwrap();
        assert!(!ospf3_sums(&v3, &mut Vec::new(), &mut BTreeMap::new()));
        let isis: Value = serde_json::from_str(
            r#"{"areas":[{"levels":[{"id":2,"spf":"pending","last-run-count":3}]}]}"#,
        )
        .unwrap();
        assert!(isis_sums(&isis, &mut Vec::new()));
    }
}
