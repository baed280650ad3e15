//! The physical fabric as dense link arrays, flow routing, and collectives costed on the links.
//!
//! Links (each one direction): GPU->NVSwitch and NVSwitch->GPU per GPU; GPU NIC->leaf and
//! leaf->GPU NIC per GPU; and per leaf one *bundle* up to the spine layer and one down from it,
//! each bundle being `spine_links_per_leaf` parallel links among which ECMP hashes flows.
//! A phase is a set of collectives that run at the same time (e.g. every DP group's
//! all-reduce); its time is the busiest link's bytes over its bandwidth plus per-step latency.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde::Serialize;

use crate::spec::{Algorithm, Cluster, Ecmp, FabricShape};

/// What kind of physical link a link id is.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum LinkClass {
    NvlinkUp,
    NvlinkDown,
    NicUp,
    NicDown,
    LeafToSpine,
    SpineToLeaf,
}

/// Collective operation.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Collective {
    AllReduce,
    ReduceScatter,
    AllGather,
    AllToAll,
    /// Send from each group's first member to its second.
    PointToPoint,
}

/// The cluster prepared for fast costing.
#[derive(Clone, Debug)]
pub struct Fabric {
    pub n: u32,
    pub gpn: u32,
    pub nodes_per_leaf: u32,
    pub rail: bool,
    pub leaves: u32,
    pub spine_links: u32,
    /// Effective bandwidth per link id, bytes/s (a bundle's is the sum of its links).
    pub bw: Vec<f64>,
    pub nvl_lat: f64,
    pub net_lat: f64,
    pub step_overhead: f64,
    pub ecmp: Ecmp,
}

impl Fabric {
    pub fn new(c: &Cluster) -> Fabric {
        let n = c.gpus();
        let gpn = c.gpus_per_node;
        let units = c.nodes.div_ceil(c.nodes_per_leaf);
        let rail = c.shape == FabricShape::RailOptimized;
        let leaves = if rail { units * gpn } else { units };
        let nvl = c.gpu.nvlink_bytes_per_s * c.nvlink_efficiency;
        let nic = c.nic_gbps * 1e9 / 8.0 * c.network_efficiency;
        // A leaf's downlinks: one per node of its unit (rail) or one per GPU of its unit.
        let down_ports = if rail {
            c.nodes_per_leaf as f64
        } else {
            (c.nodes_per_leaf * gpn) as f64
        };
        let bundle = down_ports * nic / c.oversubscription;
        let mut bw = Vec::with_capacity(4 * n as usize + 2 * leaves as usize);
        bw.extend(std::iter::repeat_n(nvl, 2 * n as usize));
        bw.extend(std::iter::repeat_n(nic, 2 * n as usize));
        bw.extend(std::iter::repeat_n(bundle, 2 * leaves as usize));
        Fabric {
            n,
            gpn,
            nodes_per_leaf: c.nodes_per_leaf,
            rail,
            leaves,
            spine_links: c.spine_links_per_leaf,
            bw,
            nvl_lat: c.nvlink_latency_s,
            net_lat: c.link_latency_s,
            step_overhead: c.step_overhead_s,
            ecmp: c.ecmp,
        }
    }

    pub fn links(&self) -> usize {
        self.bw.len()
    }

    pub fn class(&self, link: usize) -> LinkClass {
        let n = self.n as usize;
        match link {
            l if l < n => LinkClass::NvlinkUp,
            l if l < 2 * n => LinkClass::NvlinkDown,
            l if l < 3 * n => LinkClass::NicUp,
            l if l < 4 * n => LinkClass::NicDown,
            l if l < 4 * n + self.leaves as usize => LinkClass::LeafToSpine,
            _ => LinkClass::SpineToLeaf,
        }
    }

    /// Human-readable link name; `gpu` names GPUs.
    pub fn link_name(&self, link: usize, gpu: &dyn Fn(u32) -> String) -> String {
        let n = self.n as usize;
        let leaf_name = |l: usize| {
            if self.rail {
                format!("leaf u{}r{}", l / self.gpn as usize, l % self.gpn as usize)
            } else {
                format!("leaf u{l}")
            }
        };
        match self.class(link) {
            LinkClass::NvlinkUp => format!("{} -> nvswitch", gpu(link as u32)),
            LinkClass::NvlinkDown => format!("nvswitch -> {}", gpu((link - n) as u32)),
            LinkClass::NicUp => format!("{} nic -> leaf", gpu((link - 2 * n) as u32)),
            LinkClass::NicDown => format!("leaf -> {} nic", gpu((link - 3 * n) as u32)),
            LinkClass::LeafToSpine => {
                format!(
                    "{} -> spine (x{})",
                    leaf_name(link - 4 * n),
                    self.spine_links
                )
            }
            LinkClass::SpineToLeaf => format!(
                "spine -> {} (x{})",
                leaf_name(link - 4 * n - self.leaves as usize),
                self.spine_links
            ),
        }
    }

    fn node(&self, g: u32) -> u32 {
        g / self.gpn
    }

    fn leaf_of(&self, g: u32) -> u32 {
        let unit = self.node(g) / self.nodes_per_leaf;
        if self.rail {
            unit * self.gpn + g % self.gpn
        } else {
            unit
        }
    }

    /// Append the links from `src` to `dst` to `path`; returns the path's one-way latency.
    /// Cross-rail traffic in a rail-optimized fabric first moves over NVLink to the GPU on the
    /// destination's rail (NCCL PXN), so it stays under one rail leaf where possible.
    pub fn route(&self, src: u32, dst: u32, path: &mut Vec<u32>) -> f64 {
        let n = self.n;
        if src == dst {
            return 0.0;
        }
        if self.node(src) == self.node(dst) {
            path.push(src);
            path.push(n + dst);
            return self.nvl_lat;
        }
        let mut lat = 0.0;
        let mut sender = src;
        if self.rail && src % self.gpn != dst % self.gpn {
            sender = self.node(src) * self.gpn + dst % self.gpn;
            path.push(src);
            path.push(n + sender);
            lat += self.nvl_lat;
        }
        path.push(2 * n + sender);
        let (ls, ld) = (self.leaf_of(sender), self.leaf_of(dst));
        if ls != ld {
            path.push(4 * n + ls);
            path.push(4 * n + self.leaves + ld);
            lat += 2.0 * self.net_lat;
        }
        path.push(3 * n + dst);
        lat + 2.0 * self.net_lat
    }
}

/// Result of costing one phase.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct PhaseCost {
    /// Time under the cluster's ECMP model (what the step time uses).
    pub time_s: f64,
    pub time_ideal_s: f64,
    pub time_expected_s: f64,
    pub time_worst_s: f64,
    /// Busiest link id and its bytes.
    pub busiest_link: Option<usize>,
    pub busiest_bytes: f64,
}

/// Scratch state for costing phases; reused across phases to avoid allocation.
pub struct Costing<'a> {
    pub fabric: &'a Fabric,
    load: Vec<f64>,
    flows: Vec<u32>,
    touched: Vec<u32>,
    path: Vec<u32>,
    /// Accumulated bytes per link over the step, when recording.
    pub traffic: Option<Vec<f64>>,
}

/// A group of GPUs taking part in a collective and the buffer size in bytes (all-reduce: the
/// vector each GPU holds; reduce-scatter: each GPU's full input; all-gather: each GPU's full
/// output; all-to-all: all bytes a GPU sends, 1/n to each member; point-to-point: the message).
pub struct Group<'g> {
    pub members: &'g [u32],
    pub bytes: f64,
}

impl<'a> Costing<'a> {
    pub fn new(fabric: &'a Fabric, record: bool) -> Costing<'a> {
        Costing {
            fabric,
            load: vec![0.0; fabric.links()],
            flows: vec![0; fabric.links()],
            touched: Vec::new(),
            path: Vec::with_capacity(8),
            traffic: record.then(|| vec![0.0; fabric.links()]),
        }
    }

    fn flow(&mut self, src: u32, dst: u32, bytes: f64) -> f64 {
        if bytes <= 0.0 || src == dst {
            return 0.0;
        }
        self.path.clear();
        let lat = self.fabric.route(src, dst, &mut self.path);
        for &l in &self.path {
            let l = l as usize;
            if self.load[l] == 0.0 {
                self.touched.push(l as u32);
            }
            self.load[l] += bytes;
            self.flows[l] += 1;
        }
        lat
    }

    /// Cost one phase: every group runs `op` at once with `algo`. `repeat` is how many times
    /// the phase happens per step (for the traffic totals).
    pub fn phase(
        &mut self,
        op: Collective,
        algo: Algorithm,
        groups: &[Group],
        repeat: f64,
    ) -> PhaseCost {
        let algo = match (op, algo) {
            (Collective::AllReduce, Algorithm::Auto) => {
                let ring = self.phase(op, Algorithm::Ring, groups, 0.0);
                let tree = self.phase(op, Algorithm::Tree, groups, 0.0);
                if tree.time_s < ring.time_s {
                    Algorithm::Tree
                } else {
                    Algorithm::Ring
                }
            }
            (Collective::AllReduce, a) => a,
            _ => Algorithm::Ring,
        };
        let mut max_lat: f64 = 0.0;
        let mut max_steps: f64 = 0.0;
        for g in groups {
            let n = g.members.len();
            if n < 2 || g.bytes <= 0.0 {
                continue;
            }
            let nf = n as f64;
            let (lat, steps) = match op {
                Collective::PointToPoint => (self.flow(g.members[0], g.members[1], g.bytes), 1.0),
                Collective::AllToAll => {
                    let mut lat: f64 = 0.0;
                    let per = g.bytes / nf;
                    for &a in g.members {
                        for &b in g.members {
                            lat = lat.max(self.flow(a, b, per));
                        }
                    }
                    (lat, 1.0)
                }
                _ if algo == Algorithm::Tree => {
                    // Double binary tree: two trees on opposite orders, each carrying half the
                    // data up (reduce) and down (broadcast).
                    let mut lat: f64 = 0.0;
                    let half = g.bytes / 2.0;
                    for rev in [false, true] {
                        let at = |i: usize| {
                            if rev {
                                g.members[n - 1 - i]
                            } else {
                                g.members[i]
                            }
                        };
                        for i in 1..n {
                            let (c, p) = (at(i), at((i - 1) / 2));
                            lat = lat.max(self.flow(c, p, half));
                            lat = lat.max(self.flow(p, c, half));
                        }
                    }
                    let depth = (nf).log2().ceil();
                    (lat, 2.0 * depth)
                }
                _ => {
                    let (factor, steps) = match op {
                        Collective::AllReduce => (2.0 * (nf - 1.0) / nf, 2.0 * (nf - 1.0)),
                        _ => ((nf - 1.0) / nf, nf - 1.0),
                    };
                    (self.ring(g.members, factor * g.bytes), steps)
                }
            };
            max_lat = max_lat.max(lat);
            max_steps = max_steps.max(steps);
        }
        self.finish(max_steps * (max_lat + self.fabric.step_overhead), repeat)
    }

    /// NCCL-style multi-channel ring: with c group members per node, c rings each carry 1/c of
    /// the data; every ring enters and leaves a node on the same rail, and each uses a
    /// different exit GPU, so all of the group's NICs carry traffic.
    fn ring(&mut self, members: &[u32], hop_bytes: f64) -> f64 {
        let gpn = self.fabric.gpn;
        // Members are sorted by rank; split into per-node runs.
        let mut runs: Vec<&[u32]> = Vec::new();
        let mut start = 0;
        for i in 1..=members.len() {
            if i == members.len() || members[i] / gpn != members[start] / gpn {
                runs.push(&members[start..i]);
                start = i;
            }
        }
        let c = runs.iter().map(|r| r.len()).min().unwrap_or(1).max(1);
        let uniform = runs.iter().all(|r| r.len() == c);
        let mut lat: f64 = 0.0;
        if runs.len() == 1 || !uniform {
            // One node, or ragged placement: a single ring in rank order.
            for i in 0..members.len() {
                let (a, b) = (members[i], members[(i + 1) % members.len()]);
                lat = lat.max(self.flow(a, b, hop_bytes));
            }
            return lat;
        }
        let per = hop_bytes / c as f64;
        let mut order: Vec<u32> = Vec::with_capacity(members.len());
        for ch in 0..c {
            order.clear();
            for (k, run) in runs.iter().enumerate() {
                // Enter at (ch + k) mod c, visit the others, leave at (ch + k + 1) mod c.
                let enter = (ch + k) % c;
                let leave = (enter + 1) % c;
                order.push(run[enter]);
                for j in 0..c {
                    let idx = (enter + 2 + j) % c;
                    if idx != enter && idx != leave {
                        order.push(run[idx]);
                    }
                }
                if leave != enter {
                    order.push(run[leave]);
                }
            }
            for i in 0..order.len() {
                let (a, b) = (order[i], order[(i + 1) % order.len()]);
                lat = lat.max(self.flow(a, b, per));
            }
        }
        lat
    }

    fn finish(&mut self, latency: f64, repeat: f64) -> PhaseCost {
        let fab = self.fabric;
        let bundle_start = 4 * fab.n as usize;
        let s = fab.spine_links as f64;
        let (mut ideal, mut expected, mut worst) = (0.0f64, 0.0f64, 0.0f64);
        let mut busiest = None;
        let mut busiest_bytes = 0.0;
        for &l in &self.touched {
            let l = l as usize;
            let bytes = self.load[l];
            let t = bytes / fab.bw[l];
            if l >= bundle_start {
                let k = self.flows[l];
                ideal = ideal.max(t);
                expected = expected.max(t * expected_max_load(k, fab.spine_links) * s / k as f64);
                worst = worst.max(t * s);
            } else {
                ideal = ideal.max(t);
                expected = expected.max(t);
                worst = worst.max(t);
            }
            if bytes > busiest_bytes {
                busiest_bytes = bytes;
                busiest = Some(l);
            }
            if let Some(tr) = self.traffic.as_mut() {
                tr[l] += bytes * repeat;
            }
            self.load[l] = 0.0;
            self.flows[l] = 0;
        }
        self.touched.clear();
        let pick = match fab.ecmp {
            Ecmp::Ideal => ideal,
            Ecmp::Expected => expected,
            Ecmp::Worst => worst,
        };
        PhaseCost {
            time_s: pick + latency,
            time_ideal_s: ideal + latency,
            time_expected_s: expected + latency,
            time_worst_s: worst + latency,
            busiest_link: busiest,
            busiest_bytes,
        }
    }
}

/// Expected number of flows on the most loaded of `s` links when `k` flows hash uniformly
/// (balls into bins), exact for moderate k, Gaussian approximation beyond.
pub fn expected_max_load(k: u32, s: u32) -> f64 {
    if k == 0 {
        return 0.0;
    }
    if s <= 1 {
        return k as f64;
    }
    static CACHE: OnceLock<Mutex<HashMap<(u32, u32), f64>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(v) = cache.lock().ok().and_then(|c| c.get(&(k, s)).copied()) {
        return v;
    }
    let v = if k > 2000 {
        let mean = k as f64 / s as f64;
        mean + (2.0 * mean * (1.0 - 1.0 / s as f64) * (s as f64).ln()).sqrt()
    } else {
        exact_expected_max(k as usize, s as usize)
    };
    if let Ok(mut c) = cache.lock() {
        c.insert((k, s), v);
    }
    v
}

/// E[max] = sum over t >= 0 of P(max > t); P(max <= t) by placing bins one at a time, each
/// taking a Binomial(remaining, 1/bins_left) share.
fn exact_expected_max(k: usize, s: usize) -> f64 {
    let mut e = 0.0;
    let mut pmf = vec![0.0f64; k + 1];
    for t in 0..k {
        // dp[r] = P(r balls remain and all bins so far hold <= t).
        let mut dp = vec![0.0f64; k + 1];
        dp[k] = 1.0;
        for bin in 0..s {
            let left = (s - bin) as f64;
            let p = 1.0 / left;
            let mut next = vec![0.0f64; k + 1];
            for (r, &w) in dp.iter().enumerate() {
                if w == 0.0 {
                    continue;
                }
                if bin == s - 1 {
                    if r <= t {
                        next[0] += w;
                    }
                    continue;
                }
                // Binomial(r, p) pmf for j = 0..=min(r, t).
                let top = r.min(t);
                pmf[0] = (1.0 - p).powi(r as i32);
                for j in 0..top {
                    pmf[j + 1] = pmf[j] * (r - j) as f64 / (j + 1) as f64 * p / (1.0 - p);
                }
                for (j, &pj) in pmf.iter().enumerate().take(top + 1) {
                    next[r - j] += w * pj;
                }
            }
            dp = next;
        }
        let p_le = dp[0];
        e += 1.0 - p_le;
        if 1.0 - p_le < 1e-12 {
            break;
        }
    }
    e
}
