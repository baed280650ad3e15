//! Monte Carlo experiments: for each trial, a random victim and attacker among edge ASes and a
//! random adoption order; each trial is run at every adoption percentage (common random
//! numbers, so levels differ only by adoption). Reproducible from the seed whatever the
//! sharding or thread count: trial `t` draws from a stream derived from `(seed, t)` and results
//! are reduced in trial order.

use std::fmt;
use std::str::FromStr;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::collectors::{default_collector_count, default_collectors};
use crate::engine::{Engine, Summary};
use crate::graph::AsGraph;
use crate::plot::{Point, Series};
use crate::prefix::{Prefix, Roa};
use crate::rng::{derive_seed, Rng};
use crate::scenario::{
    default_victim_prefix, AttackKind, Defences, Prepared, Scope, F_ASPA_RECORD, F_ASPA_VERIFY,
    F_COLLECTOR, F_LOCKED, F_PEER_LOCK, F_ROV,
};

/// Which ASes adopt the defence at a given percentage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdoptionStrategy {
    /// Each trial draws a random order; the first p% of ASes adopt (nested across levels).
    Random,
    /// The p% of ASes with the largest customer cones (ties to the lower ASN).
    TopByCone,
    /// The p% of the graph's tier-1s with the largest customer cones (100% = all tier-1s).
    Tier1Only,
    /// The first p% of these ASNs, in the order given (100% = all of them).
    Explicit(Vec<u32>),
}

impl FromStr for AdoptionStrategy {
    type Err = crate::scenario::ParseNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "random" => Ok(AdoptionStrategy::Random),
            "top-cone" | "top-by-cone" | "cone" => Ok(AdoptionStrategy::TopByCone),
            "tier1" | "tier1-only" | "tier-1" => Ok(AdoptionStrategy::Tier1Only),
            _ => Err(crate::scenario::ParseNameError {
                what: "adoption strategy",
                text: s.to_string(),
                expected: "random, top-cone, tier1 (an explicit list comes from a file)",
            }),
        }
    }
}

/// Everything that determines an experiment's numbers (together with the graph).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentParams {
    pub attack: AttackKind,
    pub defences: Defences,
    pub strategy: AdoptionStrategy,
    /// Adoption levels in percent (0 to 100).
    pub adoption: Vec<f64>,
    pub trials: u32,
    pub seed: u64,
    pub scope: Scope,
    /// Collector peers; `None` = the default well-connected selection.
    pub collectors: Option<Vec<u32>>,
    pub victim_prefix: Prefix,
    pub subprefix_len: u8,
    /// Max length of the victim's ROA; `None` = the prefix length (strict ROA).
    pub roa_max_length: Option<u8>,
}

impl ExperimentParams {
    pub fn new(
        attack: AttackKind,
        defences: Defences,
        adoption: Vec<f64>,
        trials: u32,
        seed: u64,
    ) -> Self {
        ExperimentParams {
            attack,
            defences,
            strategy: AdoptionStrategy::Random,
            adoption,
            trials,
            seed,
            scope: Scope::default(),
            collectors: None,
            victim_prefix: default_victim_prefix(),
            subprefix_len: 24,
            roa_max_length: None,
        }
    }
}

/// Part `index` (0-based) of `count` equal parts: trials `t` with `t % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ExperimentError;
    /// `i/n` with `0 <= i < n` (Slurm array and Kubernetes indexed-Job indices are 0-based).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ExperimentError::Shard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExperimentError {
    #[error("shard {0:?} is not i/n with 0 <= i < n")]
    Shard(String),
    #[error("adoption level {0} is outside 0..=100")]
    Adoption(f64),
    #[error("no adoption levels given")]
    NoLevels,
    #[error("{role} AS{asn} is not in the graph")]
    UnknownAs { role: &'static str, asn: u32 },
    #[error("the graph has fewer than two ASes to pick a victim and an attacker from")]
    TooSmall,
    #[error("sub-prefix length /{len} must be longer than the victim prefix {prefix} and at most /{}", .prefix.max_len())]
    BadSubprefix { prefix: Prefix, len: u8 },
    #[error("cannot merge: {0}")]
    Merge(String),
}

/// The graph an experiment ran on, to refuse merging results of different graphs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphInfo {
    pub ases: usize,
    pub links: usize,
}

/// One trial at one adoption level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    pub trial: u32,
    /// Index into `params.adoption`.
    pub level: u32,
    pub victim: u32,
    pub attacker: u32,
    pub summary: Summary,
}

/// The raw, mergeable result of (a shard of) an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentResult {
    pub params: ExperimentParams,
    pub graph: GraphInfo,
    /// Shards included, sorted.
    pub shards: Vec<Shard>,
    /// Sorted by (trial, level).
    pub records: Vec<TrialRecord>,
}

/// What is averaged per adoption level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Share of ASes whose traffic reaches the attacker.
    Attacker,
    /// Share of ASes whose traffic reaches the victim.
    Victim,
    /// Share of ASes without a route.
    Disconnected,
    /// Share of trials in which the monitor raised any alert.
    Detected,
    /// Share of collector peers that show the attacker's route.
    CollectorAttacker,
    /// Attacker share in trials without any alert (0 when detected).
    UndetectedAttacker,
    /// Attacker share minus collector-attacker share.
    StealthGap,
}

impl Metric {
    pub const ALL: [Metric; 7] = [
        Metric::Attacker,
        Metric::Victim,
        Metric::Disconnected,
        Metric::Detected,
        Metric::CollectorAttacker,
        Metric::UndetectedAttacker,
        Metric::StealthGap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Attacker => "attacker",
            Metric::Victim => "victim",
            Metric::Disconnected => "disconnected",
            Metric::Detected => "detected",
            Metric::CollectorAttacker => "collector_attacker",
            Metric::UndetectedAttacker => "undetected_attacker",
            Metric::StealthGap => "stealth_gap",
        }
    }

    pub fn value(self, s: &Summary) -> f64 {
        match self {
            Metric::Attacker => s.attacker_share(),
            Metric::Victim => s.victim_share(),
            Metric::Disconnected => s.disconnected_share(),
            Metric::Detected => s.alerts.any() as u8 as f64,
            Metric::CollectorAttacker => s.collector_attacker_share(),
            Metric::UndetectedAttacker => {
                if s.alerts.any() {
                    0.0
                } else {
                    s.attacker_share()
                }
            }
            Metric::StealthGap => s.stealth_gap(),
        }
    }
}

/// Mean of one metric at one adoption level with a 95% confidence interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub adoption: f64,
    pub metric: Metric,
    pub trials: u32,
    pub mean: f64,
    pub std_dev: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// Two-sided 95% Student-t quantile for `df` degrees of freedom (normal beyond 30).
pub fn t_quantile_95(df: u32) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df as usize - 1],
        _ => 1.96,
    }
}

/// Mean, sample standard deviation and 95% CI half-width of `values`.
pub fn mean_ci(values: &[f64]) -> (f64, f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0, 0.0);
    }
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    (
        mean,
        sd,
        t_quantile_95(n as u32 - 1) * sd / (n as f64).sqrt(),
    )
}

/// A prepared experiment on one graph.
pub struct Experiment<'g> {
    graph: &'g AsGraph,
    params: ExperimentParams,
    base_flags: Vec<u8>,
    edge: Vec<u32>,
    by_cone: Vec<u32>,
    fixed_adopters: Vec<u32>,
    roas: Vec<Roa>,
}

impl<'g> Experiment<'g> {
    pub fn new(graph: &'g AsGraph, params: ExperimentParams) -> Result<Self, ExperimentError> {
        if params.adoption.is_empty() {
            return Err(ExperimentError::NoLevels);
        }
        if let Some(&bad) = params.adoption.iter().find(|a| !(0.0..=100.0).contains(*a)) {
            return Err(ExperimentError::Adoption(bad));
        }
        let needs_sub = matches!(
            params.attack,
            AttackKind::Subprefix | AttackKind::ForgedOriginSubprefix
        );
        if needs_sub && !params.victim_prefix.has_subprefix_len(params.subprefix_len) {
            return Err(ExperimentError::BadSubprefix {
                prefix: params.victim_prefix,
                len: params.subprefix_len,
            });
        }
        let n = graph.len();
        let mut base_flags = vec![0u8; n];
        let collectors = match &params.collectors {
            Some(list) => list.clone(),
            None => default_collectors(graph, default_collector_count(graph)),
        };
        for asn in collectors {
            let x = graph.id(asn).ok_or(ExperimentError::UnknownAs {
                role: "collector",
                asn,
            })?;
            base_flags[x as usize] |= F_COLLECTOR;
        }
        if params.defences.peer_lock {
            for t in graph.tier1s() {
                base_flags[t as usize] |= F_LOCKED;
            }
        }
        let mut edge = graph.edge_ases();
        if edge.len() < 2 {
            edge = (0..n as u32).collect();
        }
        if edge.len() < 2 {
            return Err(ExperimentError::TooSmall);
        }
        let by_cone = if matches!(
            params.strategy,
            AdoptionStrategy::TopByCone | AdoptionStrategy::Tier1Only
        ) {
            let cone = graph.customer_cone_sizes();
            let mut ids: Vec<u32> = (0..n as u32).collect();
            ids.sort_by_key(|&x| (std::cmp::Reverse(cone[x as usize]), x));
            ids
        } else {
            Vec::new()
        };
        let fixed_adopters = match &params.strategy {
            AdoptionStrategy::Tier1Only => {
                let tier1 = graph.tier1s();
                by_cone
                    .iter()
                    .copied()
                    .filter(|x| tier1.binary_search(x).is_ok())
                    .collect()
            }
            AdoptionStrategy::Explicit(list) => list
                .iter()
                .map(|&asn| {
                    graph.id(asn).ok_or(ExperimentError::UnknownAs {
                        role: "adopter",
                        asn,
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => Vec::new(),
        };
        let roas = vec![Roa {
            prefix: params.victim_prefix,
            max_length: params.roa_max_length.unwrap_or(params.victim_prefix.len()),
            asn: 0, // set per trial
        }];
        Ok(Experiment {
            graph,
            params,
            base_flags,
            edge,
            by_cone,
            fixed_adopters,
            roas,
        })
    }

    pub fn params(&self) -> &ExperimentParams {
        &self.params
    }

    /// Trial indices of a shard.
    pub fn trials_of(&self, shard: Shard) -> Vec<u32> {
        (0..self.params.trials)
            .filter(|t| t % shard.count == shard.index)
            .collect()
    }

    /// Runs one trial at every adoption level with a caller-owned engine.
    pub fn run_trial(&self, engine: &mut Engine<'_>, trial: u32) -> Vec<TrialRecord> {
        let g = self.graph;
        let n = g.len();
        let mut rng = Rng::new(derive_seed(self.params.seed, trial as u64));
        let victim = self.edge[rng.below(self.edge.len())];
        let attacker = loop {
            let a = self.edge[rng.below(self.edge.len())];
            if a != victim {
                break a;
            }
        };
        let keys: Vec<f64> = if self.params.strategy == AdoptionStrategy::Random {
            (0..n).map(|_| rng.next_f64()).collect()
        } else {
            Vec::new()
        };
        let mut verify = 0u8;
        if self.params.defences.rov {
            verify |= F_ROV;
        }
        if self.params.defences.aspa {
            verify |= F_ASPA_VERIFY | F_ASPA_RECORD;
        }
        if self.params.defences.peer_lock {
            verify |= F_PEER_LOCK;
        }
        let mut roas = self.roas.clone();
        roas[0].asn = g.asn(victim);
        let mut out = Vec::with_capacity(self.params.adoption.len());
        for (level, &pct) in self.params.adoption.iter().enumerate() {
            let mut flags = self.base_flags.clone();
            if verify != 0 {
                match &self.params.strategy {
                    AdoptionStrategy::Random => {
                        let p = pct / 100.0;
                        for (f, &k) in flags.iter_mut().zip(&keys) {
                            if k < p {
                                *f |= verify;
                            }
                        }
                    }
                    AdoptionStrategy::TopByCone => {
                        let count = ((pct / 100.0) * n as f64).round() as usize;
                        for &x in &self.by_cone[..count.min(n)] {
                            flags[x as usize] |= verify;
                        }
                    }
                    _ => {
                        let list = &self.fixed_adopters;
                        let count = ((pct / 100.0) * list.len() as f64).round() as usize;
                        for &x in &list[..count.min(list.len())] {
                            flags[x as usize] |= verify;
                        }
                    }
                }
            }
            let mut prepared = Prepared::with_flags(
                g,
                self.params.attack,
                victim,
                (self.params.attack != AttackKind::None).then_some(attacker),
                self.params.victim_prefix,
                self.params.subprefix_len,
                roas.clone(),
                self.params.scope.clone(),
                flags,
            );
            let summary = engine.run(&mut prepared);
            out.push(TrialRecord {
                trial,
                level: level as u32,
                victim: g.asn(victim),
                attacker: g.asn(attacker),
                summary,
            });
        }
        out
    }

    /// Runs the trials of `shard` in parallel on the current rayon pool. `progress` is called
    /// with the number of newly finished trials (1 per call), from worker threads.
    pub fn run(&self, shard: Shard, progress: &(dyn Fn(u64) + Sync)) -> ExperimentResult {
        let trials = self.trials_of(shard);
        let per_trial: Vec<Vec<TrialRecord>> = trials
            .par_iter()
            .map_init(
                || Engine::new(self.graph),
                |engine, &t| {
                    let r = self.run_trial(engine, t);
                    progress(1);
                    r
                },
            )
            .collect();
        let mut records: Vec<TrialRecord> = per_trial.into_iter().flatten().collect();
        records.sort_by_key(|r| (r.trial, r.level));
        ExperimentResult {
            params: self.params.clone(),
            graph: GraphInfo {
                ases: self.graph.len(),
                links: self.graph.link_count(),
            },
            shards: vec![shard],
            records,
        }
    }
}

impl ExperimentResult {
    /// True when the shards together cover all trials.
    pub fn is_complete(&self) -> bool {
        let count = self.shards.first().map_or(1, |s| s.count);
        self.shards.len() as u32 == count
    }

    /// Joins shard results of the same experiment; refuses different parameters or graphs,
    /// mixed shard counts and overlapping shards.
    pub fn merge(parts: Vec<ExperimentResult>) -> Result<ExperimentResult, ExperimentError> {
        let mut iter = parts.into_iter();
        let mut acc = iter
            .next()
            .ok_or_else(|| ExperimentError::Merge("no results given".into()))?;
        for part in iter {
            if part.params != acc.params {
                return Err(ExperimentError::Merge(
                    "the results come from different experiment parameters".into(),
                ));
            }
            if part.graph != acc.graph {
                return Err(ExperimentError::Merge(format!(
                    "the results come from different graphs ({} ASes/{} links vs {}/{})",
                    part.graph.ases, part.graph.links, acc.graph.ases, acc.graph.links
                )));
            }
            for s in &part.shards {
                if s.count != acc.shards[0].count {
                    return Err(ExperimentError::Merge(format!(
                        "shard {s} does not split the run in {} parts like the others",
                        acc.shards[0].count
                    )));
                }
                if acc.shards.contains(s) {
                    return Err(ExperimentError::Merge(format!("shard {s} is given twice")));
                }
                acc.shards.push(*s);
            }
            acc.records.extend(part.records);
        }
        acc.shards.sort_by_key(|s| s.index);
        acc.records.sort_by_key(|r| (r.trial, r.level));
        Ok(acc)
    }

    /// Mean and 95% CI of every metric at every adoption level, reduced in trial order.
    pub fn rows(&self) -> Vec<ResultRow> {
        let mut rows = Vec::new();
        for (level, &adoption) in self.params.adoption.iter().enumerate() {
            let summaries: Vec<&Summary> = self
                .records
                .iter()
                .filter(|r| r.level == level as u32)
                .map(|r| &r.summary)
                .collect();
            for metric in Metric::ALL {
                let values: Vec<f64> = summaries.iter().map(|s| metric.value(s)).collect();
                let (mean, sd, half) = mean_ci(&values);
                rows.push(ResultRow {
                    adoption,
                    metric,
                    trials: values.len() as u32,
                    mean,
                    std_dev: sd,
                    ci_low: mean - half,
                    ci_high: mean + half,
                });
            }
        }
        rows
    }
}

/// CSV with header `adoption,metric,trials,mean,std_dev,ci_low,ci_high`.
pub fn rows_to_csv(rows: &[ResultRow]) -> String {
    let mut s = String::from("adoption,metric,trials,mean,std_dev,ci_low,ci_high\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{:.6},{:.6},{:.6},{:.6}\n",
            r.adoption,
            r.metric.name(),
            r.trials,
            r.mean,
            r.std_dev,
            r.ci_low,
            r.ci_high
        ));
    }
    s
}

/// Data points of the "outcome vs adoption" plot: one series per metric in `metrics`, x =
/// adoption percent, y = mean share in percent with its 95% CI band.
pub fn outcome_vs_adoption(rows: &[ResultRow], metrics: &[Metric]) -> Vec<Series> {
    metrics
        .iter()
        .map(|&m| Series {
            name: m.name().to_string(),
            points: rows
                .iter()
                .filter(|r| r.metric == m)
                .map(|r| Point {
                    x: r.adoption,
                    y: 100.0 * r.mean,
                    low: 100.0 * r.ci_low,
                    high: 100.0 * r.ci_high,
                })
                .collect(),
        })
        .collect()
}

/// The metrics the default plot shows.
pub const PLOT_METRICS: [Metric; 4] = [
    Metric::Attacker,
    Metric::Victim,
    Metric::Disconnected,
    Metric::UndetectedAttacker,
];

/// The default SVG of an experiment: outcome shares versus adoption with 95% CI bands.
pub fn outcome_plot_svg(result: &ExperimentResult) -> String {
    let p = &result.params;
    let title = format!(
        "{} hijack, {} ({} trials)",
        p.attack,
        p.defences,
        result.records.len() / p.adoption.len().max(1)
    );
    crate::plot::line_chart_with_bands_svg(
        &title,
        "adoption (%)",
        "ASes (%)",
        &outcome_vs_adoption(&result.rows(), &PLOT_METRICS),
    )
}
