//! The real data plane probed with `ping -M do` (reached or not, MTU drops, ICMP errors) and
//! compared with the twin's reachability (`nettwin-dataplane`).

use crate::state::RunState;
use crate::{sys, EmuError};
use nettwin_dataplane::{reach, Net, ReachOptions};
use nettwin_model::{NodeId, Topology};
use nettwin_routing::Routing;
use serde::Serialize;
use std::net::IpAddr;

/// The outcome of one real ping.
#[derive(Clone, Debug, Serialize)]
pub struct PingResult {
    pub reached: bool,
    /// What ping said about a failure (`Frag needed`, `Message too long`, `Destination Host
    /// Unreachable`, ...), empty when it got a reply or said nothing (silent loss).
    pub error: String,
}

/// Sends one ping of `size` bytes (IP packet, header included) with DF from namespace `ns`.
pub fn ping(ns: &str, src: Option<IpAddr>, dst: IpAddr, size: u32) -> Result<PingResult, EmuError> {
    let header = if dst.is_ipv4() { 28 } else { 48 };
    let payload = size.saturating_sub(header).to_string();
    let dst_s = dst.to_string();
    let src_s = src.map(|s| s.to_string());
    let mut args = vec![
        "netns", "exec", ns, "ping", "-n", "-c", "1", "-W", "1", "-M", "do", "-s", &payload,
    ];
    if let Some(s) = &src_s {
        args.extend(["-I", s.as_str()]);
    }
    args.push(&dst_s);
    let (status, out, err) = sys::probe("ip", &args)?;
    let text = format!("{out}\n{err}");
    let error = text
        .lines()
        .map(str::trim)
        .find(|l| {
            l.contains("Frag needed")
                || l.contains("too long")
                || l.contains("Packet too big")
                || l.contains("Unreachable")
                || l.contains("Time to live exceeded")
                || l.contains("Time exceeded")
                || l.contains("unreachable")
        })
        .unwrap_or("")
        .to_string();
    Ok(PingResult {
        reached: status == 0,
        error,
    })
}

/// One pair on which the twin and the real network disagree.
#[derive(Clone, Debug, Serialize)]
pub struct ReachDiff {
    pub from: String,
    pub src: IpAddr,
    pub to: IpAddr,
    pub to_node: String,
    /// The twin's outcome: `delivered`, or the disposition of the failing direction.
    pub twin: String,
    pub real: String,
}

/// Twin reachability against real pings between every pair.
#[derive(Clone, Debug, Serialize)]
pub struct ReachReport {
    pub size: u32,
    pub pairs: usize,
    pub agree: usize,
    /// Pairs where only some ECMP branches deliver: one ping cannot tell, so they are skipped.
    pub skipped_partial: usize,
    pub diffs: Vec<ReachDiff>,
}

/// Pings from every IP node to every destination the twin's reachability uses (router
/// loopbacks, host addresses), sourced from the sender's own destination address of the same
/// family so the reply's path is known, and compares with the twin: a ping succeeds when the
/// request reaches the destination and the reply comes back.
pub fn compare_reach(
    topo: &Topology,
    routing: &Routing,
    st: &RunState,
    size: u32,
) -> Result<ReachReport, EmuError> {
    let net = Net::new(topo, routing);
    let r = reach(
        &net,
        ReachOptions {
            size,
            ..ReachOptions::default()
        },
    );
    let src_index = |node: NodeId, v4: bool| {
        r.dests
            .iter()
            .position(|d| d.node == node && d.addr.is_ipv4() == v4)
    };
    let s_of = |node: NodeId| r.sources.iter().position(|s| *s == node);
    struct Job {
        from: NodeId,
        src: IpAddr,
        to: IpAddr,
        to_node: NodeId,
        twin: Result<(), String>,
    }
    let mut jobs = Vec::new();
    let mut skipped = 0;
    for (s, d) in r.pairs() {
        let from = r.sources[s];
        let dest = r.dests[d];
        let Some(back) = src_index(from, dest.addr.is_ipv4()) else {
            continue; // the sender has no address of that family
        };
        let Some(ds) = s_of(dest.node) else { continue };
        let fwd = r.cell(s, d);
        let rev = r.cell(ds, back);
        if fwd.partial || rev.partial {
            skipped += 1;
            continue;
        }
        let twin = if !fwd.disposition.is_delivered() {
            Err(fwd.disposition.name().to_string())
        } else if !rev.disposition.is_delivered() {
            Err(format!("reply {}", rev.disposition.name()))
        } else {
            Ok(())
        };
        jobs.push(Job {
            from,
            src: r.dests[back].addr,
            to: dest.addr,
            to_node: dest.node,
            twin,
        });
    }
    let mut results: Vec<Option<Result<PingResult, EmuError>>> =
        (0..jobs.len()).map(|_| None).collect();
    for (chunk_jobs, chunk_res) in jobs.chunks(32).zip(results.chunks_mut(32)) {
        std::thread::scope(|sc| {
            for (j, slot) in chunk_jobs.iter().zip(chunk_res.iter_mut()) {
                let ns = st.netns(&topo.node(j.from).name).map(str::to_string);
                sc.spawn(move || {
                    *slot = Some(ns.and_then(|ns| ping(&ns, Some(j.src), j.to, size)));
                });
            }
        });
    }
    let mut rep = ReachReport {
        size,
        pairs: jobs.len(),
        agree: 0,
        skipped_partial: skipped,
        diffs: Vec::new(),
    };
    for (j, res) in jobs.iter().zip(results) {
        let p = res.expect("every ping ran")?;
        if p.reached == j.twin.is_ok() {
            rep.agree += 1;
        } else {
            rep.diffs.push(ReachDiff {
                from: topo.node(j.from).name.clone(),
                src: j.src,
                to: j.to,
                to_node: topo.node(j.to_node).name.clone(),
                twin: match &j.twin {
                    Ok(()) => "delivered".into(),
                    Err(e) => e.clone(),
                },
                real: if p.reached {
                    "reply".into()
                } else if p.error.is_empty() {
                    "no reply".into()
                } else {
                    format!("no reply ({})", p.error)
                },
            });
        }
    }
    Ok(rep)
}

/// One host pair whose real traceroute path is not one of the twin's paths.
#[derive(Clone, Debug, Serialize)]
pub struct PathDiff {
    pub from: String,
    pub to: IpAddr,
    /// The twin's paths (ECMP gives several), each as the nodes that answer a traceroute.
    pub twin: Vec<Vec<String>>,
    /// What traceroute showed: node names, `*` for no answer, the address when no node owns it.
    pub real: Vec<String>,
}

/// Twin traces against real traceroutes between every pair of hosts.
#[derive(Clone, Debug, Serialize)]
pub struct PathReport {
    pub pairs: usize,
    pub agree: usize,
    pub diffs: Vec<PathDiff>,
}

/// Runs `traceroute -n -q 1` from namespace `ns`; one entry per TTL: the answering address, or
/// `None` for `*`.
pub fn traceroute(ns: &str, src: IpAddr, dst: IpAddr) -> Result<Vec<Option<IpAddr>>, EmuError> {
    let (s, d) = (src.to_string(), dst.to_string());
    let fam = if dst.is_ipv4() { "-4" } else { "-6" };
    let (_, out, _) = sys::probe(
        "ip",
        &[
            "netns",
            "exec",
            ns,
            "traceroute",
            fam,
            "-n",
            "-q",
            "1",
            "-w",
            "1",
            "-m",
            "16",
            "-s",
            &s,
            &d,
        ],
    )?;
    Ok(out
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.next()?.parse::<u32>().ok()?;
            Some(w.next().and_then(|a| a.parse().ok()))
        })
        .collect())
}

/// For every ordered pair of hosts and each address family both have, the twin's traces (UDP,
/// every ECMP branch) against `traceroute`: the real sequence of answering nodes must be one
/// of the twin's paths (its routers, then the destination).
pub fn compare_paths(
    topo: &Topology,
    routing: &Routing,
    st: &RunState,
) -> Result<PathReport, EmuError> {
    use nettwin_dataplane::{trace, Probe, Proto};
    use nettwin_model::NodeKind;
    let net = Net::new(topo, routing);
    let hosts: Vec<&nettwin_model::Node> = topo
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Host)
        .collect();
    struct Job {
        from: NodeId,
        src: IpAddr,
        dst: IpAddr,
        twin: Vec<Vec<String>>,
    }
    let mut jobs = Vec::new();
    for a in &hosts {
        for b in &hosts {
            if a.id == b.id {
                continue;
            }
            for v6 in [false, true] {
                let pick = |n: &nettwin_model::Node| {
                    n.interfaces
                        .iter()
                        .filter(|i| i.up)
                        .find_map(|i| if v6 { i.ipv6 } else { i.ipv4 })
                        .map(|x| x.addr)
                };
                let (Some(src), Some(dst)) = (pick(a), pick(b)) else {
                    continue;
                };
                let t = trace(
                    &net,
                    &Probe {
                        from: a.id,
                        src,
                        dst,
                        proto: Proto::Udp,
                        sport: 40000,
                        dport: 33434,
                        size: 60,
                        df: false,
                        ttl: nettwin_dataplane::DEFAULT_TTL,
                        flow_hash: false,
                    },
                );
                // Only delivered traces: a failing one ends in stars whose count says nothing.
                if !t.delivered() {
                    continue;
                }
                let mut twin: Vec<Vec<String>> = t
                    .paths()
                    .iter()
                    .map(|(hops, _)| {
                        hops.iter()
                            .skip(1)
                            .filter(|h| h.kind != NodeKind::Switch)
                            .map(|h| h.node.clone())
                            .collect()
                    })
                    .collect();
                twin.sort();
                twin.dedup();
                jobs.push(Job {
                    from: a.id,
                    src,
                    dst,
                    twin,
                });
            }
        }
    }
    let mut results: Vec<Option<Result<Vec<Option<IpAddr>>, EmuError>>> =
        (0..jobs.len()).map(|_| None).collect();
    for (cj, cr) in jobs.chunks(16).zip(results.chunks_mut(16)) {
        std::thread::scope(|sc| {
            for (j, slot) in cj.iter().zip(cr.iter_mut()) {
                let ns = st.netns(&topo.node(j.from).name).map(str::to_string);
                sc.spawn(move || *slot = Some(ns.and_then(|ns| traceroute(&ns, j.src, j.dst))));
            }
        });
    }
    let mut rep = PathReport {
        pairs: jobs.len(),
        agree: 0,
        diffs: Vec::new(),
    };
    for (j, r) in jobs.iter().zip(results) {
        let hops = r.expect("every traceroute ran")?;
        let real: Vec<String> = hops
            .iter()
            .map(|h| match h {
                None => "*".to_string(),
                Some(a) => topo
                    .owner_of(*a)
                    .map(|(n, _)| topo.node(n).name.clone())
                    .unwrap_or_else(|| a.to_string()),
            })
            .collect();
        if j.twin.contains(&real) {
            rep.agree += 1;
        } else {
            rep.diffs.push(PathDiff {
                from: topo.node(j.from).name.clone(),
                to: j.dst,
                twin: j.twin.clone(),
                real,
            });
        }
    }
    Ok(rep)
}
