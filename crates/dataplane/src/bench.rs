//! Benchmark workloads (timed by `nettwin bench`): all-pairs reachability and trace throughput
//! on a generated ISP network.

use crate::{operational, reach, trace, Net, Probe, Proto, ReachOptions, DEFAULT_TTL};
use nettwin_model::generate::{isp, SplitMix64};
use nettwin_model::NodeId;
use serde::Serialize;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// What one benchmark run measured.
#[derive(Clone, Debug, Serialize)]
pub struct ReachBench {
    pub routers: usize,
    pub prefixes: usize,
    pub routing_ms: f64,
    pub pairs: usize,
    pub delivered: usize,
    /// Every all-pairs run, in milliseconds, sorted.
    pub reach_ms: Vec<f64>,
    /// CPU time (all threads) of every all-pairs run, in milliseconds, sorted; empty where
    /// `/proc/self/stat` is not available.
    pub reach_cpu_ms: Vec<f64>,
    pub traces: usize,
    pub trace_ms: f64,
    pub traces_per_s: f64,
    pub hops_per_trace: f64,
}

/// Generates `isp(routers, prefixes, seed)`, computes routing once, then times all-pairs
/// reachability `iterations` times and `traces` traces of 1500-byte DF UDP packets between
/// random routers' loopbacks (every ECMP branch followed).
pub fn reach_bench(
    routers: usize,
    prefixes: usize,
    seed: u64,
    iterations: usize,
    traces: usize,
) -> Result<ReachBench, crate::DataplaneError> {
    let text = isp(routers, prefixes, seed);
    let loaded = nettwin_model::load_str("generated.yml", &text).map_err(|e| {
        crate::DataplaneError::BadRequest(format!("generated topology is invalid: {e}"))
    })?;
    let t0 = Instant::now();
    let routing = nettwin_routing::compute(&loaded)?;
    let routing_ms = ms(t0.elapsed());
    let topo = operational(&loaded);
    let net = Net::new(&topo, &routing);
    let mut reach_ms = Vec::new();
    let mut reach_cpu_ms = Vec::new();
    let (mut pairs, mut delivered) = (0, 0);
    for _ in 0..iterations.max(1) {
        let c = cpu_ms();
        let t = Instant::now();
        let r = reach(&net, ReachOptions::default());
        reach_ms.push(ms(t.elapsed()));
        if let (Some(a), Some(b)) = (c, cpu_ms()) {
            reach_cpu_ms.push(b - a);
        }
        let s = r.summary();
        (pairs, delivered) = (s.pairs, s.delivered);
    }
    reach_ms.sort_by(f64::total_cmp);
    reach_cpu_ms.sort_by(f64::total_cmp);
    let loopbacks: Vec<(NodeId, IpAddr)> = topo
        .nodes
        .iter()
        .filter_map(|n| n.loopback.ipv4.map(|a| (n.id, a.addr)))
        .collect();
    let mut rng = SplitMix64::new(seed);
    let probes: Vec<Probe> = (0..traces)
        .filter_map(|_| {
            let (from, _) = loopbacks[rng.below(loopbacks.len() as u64) as usize];
            let (_, dst) = loopbacks[rng.below(loopbacks.len() as u64) as usize];
            Some(Probe {
                from,
                src: net.source_address(from, dst)?,
                dst,
                proto: Proto::Udp,
                sport: 49152,
                dport: 53,
                size: 1500,
                df: true,
                ttl: DEFAULT_TTL,
                flow_hash: false,
            })
        })
        .collect();
    let mut hops = 0usize;
    let t1 = Instant::now();
    for p in &probes {
        let t = trace(&net, p);
        hops += t.paths().iter().map(|(h, _)| h.len()).sum::<usize>();
    }
    let trace_ms = ms(t1.elapsed());
    Ok(ReachBench {
        routers,
        prefixes,
        routing_ms,
        pairs,
        delivered,
        reach_ms,
        reach_cpu_ms,
        traces: probes.len(),
        trace_ms,
        traces_per_s: probes.len() as f64 / (trace_ms / 1e3).max(1e-9),
        hops_per_trace: hops as f64 / probes.len().max(1) as f64,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// User plus system CPU time of this process, from `/proc/self/stat` (Linux, 100 ticks/s).
fn cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) * 10.0)
}
