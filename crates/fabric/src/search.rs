//! Enumerate every valid (DP, TP, PP, EP, micro-batch, ZeRO, schedule) plan and rank them.

use rayon::prelude::*;
use serde::Serialize;

use crate::evaluate::Evaluator;
use crate::spec::{Algorithm, Cluster, Job, Model, Plan, Recompute, Schedule, ZeroStage};
use crate::FabricError;

/// What the search varies. Defaults: TP up to a node, every pipeline depth that splits the
/// layers, EP over the powers of two that divide DP and the experts, micro-batches 1/2/4/8,
/// ZeRO 0-3, GPipe, 1F1B and interleaved with 2 and 4 chunks, the job's recomputation.
#[derive(Clone, Debug, Serialize)]
pub struct SearchOptions {
    pub micro_batches: Vec<u64>,
    pub zero_stages: Vec<u8>,
    pub schedules: Vec<Schedule>,
    pub virtual_stages: Vec<u32>,
    pub recompute: Vec<Recompute>,
    pub context_parallel: Vec<u32>,
    pub max_tp: Option<u32>,
    pub algorithm: Algorithm,
    /// Keep plans that do not fit in GPU memory in the ranking (after those that fit).
    pub include_unfit: bool,
}

impl SearchOptions {
    pub fn for_job(job: &Job) -> SearchOptions {
        SearchOptions {
            micro_batches: vec![1, 2, 4, 8],
            zero_stages: vec![0, 1, 2, 3],
            schedules: vec![Schedule::Gpipe, Schedule::OneFOneB, Schedule::Interleaved],
            virtual_stages: vec![2, 4],
            recompute: vec![job.recompute],
            context_parallel: vec![1],
            max_tp: None,
            algorithm: Algorithm::Ring,
            include_unfit: false,
        }
    }
}

/// One evaluated plan.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RankedPlan {
    pub rank: usize,
    pub plan: Plan,
    pub label: String,
    pub step_time_s: f64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    pub bubble_fraction: f64,
    pub peak_memory_bytes: f64,
    pub fits: bool,
}

/// Search totals and the ranking (best first).
#[derive(Clone, Debug, Serialize)]
pub struct SearchOutcome {
    /// Plans generated (all satisfy the divisibility rules).
    pub candidates: usize,
    /// Plans that fit in GPU memory.
    pub fitting: usize,
    pub ranked: Vec<RankedPlan>,
}

/// Rank every valid plan with default options; plans that do not fit are left out.
pub fn search(job: &Job, cluster: &Cluster) -> Result<Vec<RankedPlan>, FabricError> {
    Ok(search_with(job, cluster, &SearchOptions::for_job(job))?.ranked)
}

fn divisors(n: u64) -> Vec<u64> {
    (1..=n).filter(|d| n % d == 0).collect()
}

/// All plans the options allow that pass [`Evaluator::check`].
pub fn candidates(ev: &Evaluator, opts: &SearchOptions) -> Vec<Plan> {
    let job = ev.job;
    let n = ev.cluster.gpus() as u64;
    let (heads, experts, mlp) = match &job.model {
        Model::Transformer(t) => (
            t.attention.heads(),
            t.moe.as_ref().map(|m| m.experts),
            false,
        ),
        Model::Mlp(_) => (1, None, true),
    };
    let max_tp = opts.max_tp.unwrap_or(ev.cluster.gpus_per_node) as u64;
    let mut out = Vec::new();
    let tps: Vec<u64> = if mlp {
        vec![1]
    } else {
        (0..)
            .map(|i| 1u64 << i)
            .take_while(|&t| t <= max_tp && t <= heads && t <= n)
            .collect()
    };
    let cps: Vec<u64> = if mlp {
        vec![1]
    } else {
        opts.context_parallel.iter().map(|&c| c as u64).collect()
    };
    for &tp in &tps {
        for &cp in &cps {
            if n % (tp * cp) != 0 {
                continue;
            }
            for pp in divisors(n / (tp * cp)) {
                let dp = n / (tp * cp * pp);
                let eps: Vec<u64> = match experts {
                    Some(e) => divisors(dp)
                        .into_iter()
                        .filter(|x| x.is_power_of_two() && e % x == 0)
                        .collect(),
                    None => vec![1],
                };
                for &ep in &eps {
                    for &mb in &opts.micro_batches {
                        for &z in &opts.zero_stages {
                            for &rc in &opts.recompute {
                                for &sched in &opts.schedules {
                                    let vs: &[u32] = if sched == Schedule::Interleaved {
                                        &opts.virtual_stages
                                    } else {
                                        &[1]
                                    };
                                    for &v in vs {
                                        let plan = Plan {
                                            dp: dp as u32,
                                            tp: tp as u32,
                                            pp: pp as u32,
                                            virtual_stages: v,
                                            ep: ep as u32,
                                            cp: cp as u32,
                                            sequence_parallel: tp > 1,
                                            micro_batch: mb,
                                            zero: ZeroStage(z),
                                            recompute: rc,
                                            schedule: sched,
                                            algorithm: opts.algorithm,
                                        };
                                        // GPipe and 1F1B coincide without a pipeline.
                                        if pp == 1 && sched != Schedule::OneFOneB {
                                            continue;
                                        }
                                        if ev.check(&plan).is_ok() {
                                            out.push(plan);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// Rank plans by tokens/s (fitting plans first), in parallel.
pub fn search_with(
    job: &Job,
    cluster: &Cluster,
    opts: &SearchOptions,
) -> Result<SearchOutcome, FabricError> {
    let ev = Evaluator::new(job, cluster)?;
    let plans = candidates(&ev, opts);
    let results: Vec<Result<Option<RankedPlan>, FabricError>> = plans
        .par_iter()
        .map(|plan| {
            let mem = ev.peak_memory(plan)?;
            let fits = mem <= cluster.gpu.memory_bytes;
            if !fits && !opts.include_unfit {
                return Ok(None);
            }
            let q = ev.quick(plan)?;
            Ok(Some(RankedPlan {
                rank: 0,
                plan: plan.clone(),
                label: plan.label(),
                step_time_s: q.step_time_s,
                tokens_per_s: q.tokens_per_s,
                mfu: q.mfu,
                bubble_fraction: q.bubble_fraction,
                peak_memory_bytes: q.peak_memory_bytes,
                fits: q.fits,
            }))
        })
        .collect();
    let mut ranked = Vec::new();
    for r in results {
        if let Some(p) = r? {
            ranked.push(p);
        }
    }
    let fitting = ranked.iter().filter(|p| p.fits).count();
    ranked.sort_by(|a, b| {
        b.fits
            .cmp(&a.fits)
            .then(b.tokens_per_s.total_cmp(&a.tokens_per_s))
            .then(a.label.cmp(&b.label))
    });
    for (i, p) in ranked.iter_mut().enumerate() {
        p.rank = i + 1;
    }
    Ok(SearchOutcome {
        candidates: plans.len(),
        fitting,
        ranked,
    })
}

/// The benchmark case of the issue: a 70B-class dense model (Llama-70B shape, 8,192-token
/// sequences, 1,024-sequence global batch) on 1,024 H100s (128 nodes, rail-optimized,
/// 400 Gbit/s per GPU).
pub fn benchmark_case() -> Result<(Job, Cluster), FabricError> {
    let job = Job::new(crate::spec::model_preset("llama-70b")?, 1024);
    let cluster = Cluster::new(crate::spec::gpu_preset("h100")?, 8, 128);
    Ok((job, cluster))
}
