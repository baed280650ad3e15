//! Evaluate one plan: placement, memory per GPU, per-op times, pipeline simulation, gradient
//! synchronisation, step time, throughput, MFU and link traffic.

use serde::Serialize;

use crate::costs::{model_costs, BlockCost, BlockKind, ModelCosts};
use crate::net::{Collective, Costing, Fabric, Group, LinkClass, PhaseCost};
use crate::schedule::{peak_in_flight, simulate, stage_ops, Event, EventKind, StageTimes};
use crate::spec::{Cluster, Job, Model, Optimizer, Plan, Recompute, Schedule};
use crate::FabricError;

/// Memory one GPU of a pipeline stage holds, in bytes.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MemoryItems {
    pub weights: f64,
    pub gradients: f64,
    pub optimizer_states: f64,
    /// Stored activations of one micro-batch (all chunks of the stage).
    pub activations_per_micro_batch: f64,
    /// Peak (micro-batch, chunk) activation sets alive at once under the schedule.
    pub in_flight: u32,
    pub activations: f64,
    /// Working set of the layer being recomputed / back-propagated.
    pub recompute_buffer: f64,
    pub reserve: f64,
    pub total: f64,
}

/// A pipeline stage: its layers and its memory.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StageMemory {
    pub stage: u32,
    pub memory: MemoryItems,
    pub fits: bool,
}

/// Per-layer memory of an MLP layer on the GPU that holds it (worked example items), bytes.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LayerMemory {
    pub layer: u32,
    pub stage: u32,
    pub gpus: Vec<String>,
    pub inputs: u64,
    pub outputs: u64,
    pub weights: f64,
    pub weighted_sums: f64,
    pub activations: f64,
    pub errors: f64,
    pub local_gradients: f64,
    pub remote_gradients: f64,
    pub learning_rate: f64,
    pub weight_adjustments: f64,
}

/// Which layers a virtual stage runs.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ChunkPlacement {
    pub virtual_stage: u32,
    pub stage: u32,
    pub chunk: u32,
    /// First and last model layer (0-based, inclusive).
    pub layers: (u64, u64),
    pub embedding: bool,
    pub head: bool,
}

/// A family of communicator groups of one kind.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GroupSet {
    pub kind: String,
    pub size: u32,
    pub count: u32,
    /// Up to four example groups, as GPU names.
    pub examples: Vec<Vec<String>>,
    /// Physical link classes the example groups' traffic crosses.
    pub links: Vec<LinkClass>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Placement {
    pub chunks: Vec<ChunkPlacement>,
    /// GPUs of each pipeline stage (all run the same timeline).
    pub stage_gpus: Vec<Vec<String>>,
    pub groups: Vec<GroupSet>,
}

/// Cost of one kind of collective in the step.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CollectiveReport {
    pub name: String,
    pub op: Collective,
    pub group_size: u32,
    pub bytes: f64,
    pub per_step: f64,
    pub cost: PhaseCost,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LinkLoad {
    pub link: String,
    pub class: LinkClass,
    pub bytes_per_step: f64,
    pub bytes_per_s_capacity: f64,
    /// Time the link needs for its bytes, as a fraction of the step time.
    pub utilisation: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ClassTotal {
    pub class: LinkClass,
    pub links: u32,
    pub bytes_per_step: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LinkReport {
    pub busiest: Vec<LinkLoad>,
    pub totals: Vec<ClassTotal>,
}

/// Timeline of one GPU (every GPU of a pipeline stage shares it).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GpuTimeline {
    pub stage: u32,
    pub gpu: String,
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    pub gpus: u32,
    pub micro_batches: u64,
    pub step_time_s: f64,
    /// Pipeline part of the step (first forward to last backward).
    pub pipeline_time_s: f64,
    pub bubble_fraction: f64,
    pub tokens_per_s: f64,
    pub tokens_per_s_per_gpu: f64,
    pub model_flops_per_step: f64,
    pub model_tflops_per_gpu: f64,
    /// Model FLOPs utilisation (no recomputation counted).
    pub mfu: f64,
    /// Hardware FLOPs utilisation (recomputation counted).
    pub hfu: f64,
    pub hardware_tflops_per_gpu: f64,
    pub total_params: f64,
    pub active_params: f64,
    pub peak_memory_bytes: f64,
    pub gpu_memory_bytes: f64,
    pub fits: bool,
}

/// Step time under each ECMP model, to show how much hashing on the spine matters.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EcmpSensitivity {
    pub ideal_s: f64,
    pub expected_s: f64,
    pub worst_s: f64,
}

/// Everything `evaluate` finds about a plan.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    pub model: String,
    pub cluster: String,
    pub plan: Plan,
    pub plan_label: String,
    pub summary: Summary,
    pub placement: Placement,
    pub memory: Vec<StageMemory>,
    pub layer_memory: Vec<LayerMemory>,
    pub timelines: Vec<GpuTimeline>,
    pub collectives: Vec<CollectiveReport>,
    pub links: LinkReport,
    pub ecmp: EcmpSensitivity,
}

/// Split `layers` into `chunks` contiguous ranges `[lo, hi)`. When they do not divide evenly
/// the short chunks go to the ends of the pipeline (first, last, second, ...), which also hold
/// the embedding and the output head (as Llama 3 did with 126 layers on 16 stages).
pub fn layer_ranges(layers: usize, chunks: usize) -> Vec<(usize, usize)> {
    let base = layers / chunks;
    let rem = layers % chunks;
    let mut sizes = vec![base + 1; chunks];
    if rem == 0 {
        sizes.iter_mut().for_each(|x| *x = base);
    } else {
        for i in 0..chunks - rem {
            let k = if i % 2 == 0 {
                i / 2
            } else {
                chunks - 1 - i / 2
            };
            sizes[k] = base;
        }
    }
    let mut lo = 0;
    sizes
        .into_iter()
        .map(|n| {
            let r = (lo, lo + n);
            lo += n;
            r
        })
        .collect()
}

/// Compact result used by search.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Quick {
    pub step_time_s: f64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    pub bubble_fraction: f64,
    pub peak_memory_bytes: f64,
    pub fits: bool,
}

/// A job on a cluster, prepared once so many plans can be evaluated cheaply.
pub struct Evaluator<'a> {
    pub job: &'a Job,
    pub cluster: &'a Cluster,
    pub costs: ModelCosts,
    pub fabric: Fabric,
}

/// Evaluate one plan in full detail.
pub fn evaluate(job: &Job, cluster: &Cluster, plan: &Plan) -> Result<Report, FabricError> {
    Evaluator::new(job, cluster)?.report(plan)
}

/// Per virtual stage aggregates.
#[derive(Clone, Default)]
struct Chunk {
    params_dense: f64,
    params_expert: f64,
    fwd: f64,
    bwd: f64,
    act_mb: f64,
    recompute_buf: f64,
    hw_flops_tok: f64,
    tp_ar_fwd: f64,
    moe_layers: f64,
    layers: f64,
}

struct Detail {
    record: bool,
}

struct Outcome {
    quick: Quick,
    summary: Option<Summary>,
    memory: Vec<StageMemory>,
    timelines: Vec<Vec<Event>>,
    collectives: Vec<CollectiveReport>,
    traffic: Option<Vec<f64>>,
}

impl<'a> Evaluator<'a> {
    pub fn new(job: &'a Job, cluster: &'a Cluster) -> Result<Evaluator<'a>, FabricError> {
        job.model.validate()?;
        cluster.validate()?;
        if job.global_batch == 0 || job.micro_batch == 0 {
            return Err(FabricError::InvalidInput {
                field: "job.global_batch".into(),
                reason: "global_batch and micro_batch must be positive".into(),
            });
        }
        let peak = cluster.gpu.peak(job.precision);
        if !peak.is_finite() || peak <= 0.0 {
            return Err(FabricError::InvalidInput {
                field: "gpu.peak".into(),
                reason: format!("the GPU has no peak FLOP/s for {:?}", job.precision),
            });
        }
        Ok(Evaluator {
            job,
            cluster,
            costs: model_costs(&job.model, job.precision),
            fabric: Fabric::new(cluster),
        })
    }

    /// Check that the plan can run this job on this cluster.
    pub fn check(&self, plan: &Plan) -> Result<(), FabricError> {
        let bad = |reason: String| {
            Err(FabricError::InvalidPlan {
                plan: plan.label(),
                reason,
            })
        };
        let job = self.job;
        if plan.dp == 0
            || plan.tp == 0
            || plan.pp == 0
            || plan.ep == 0
            || plan.cp == 0
            || plan.virtual_stages == 0
        {
            return bad("parallel degrees must be positive".into());
        }
        if plan.micro_batch == 0 {
            return bad("micro_batch must be positive".into());
        }
        if plan.world() != self.cluster.gpus() as u64 {
            return bad(format!(
                "dp*tp*pp*cp = {} but the cluster has {} GPUs",
                plan.world(),
                self.cluster.gpus()
            ));
        }
        let Some(per_step) = (plan.dp as u64).checked_mul(plan.micro_batch) else {
            return bad(format!(
                "dp*micro_batch = {} x {} overflows",
                plan.dp, plan.micro_batch
            ));
        };
        if job.global_batch % per_step != 0 {
            return bad(format!(
                "global batch {} is not a multiple of dp*micro_batch = {}",
                job.global_batch,
                plan.dp as u64 * plan.micro_batch
            ));
        }
        let layers = job.model.pipeline_layers();
        let vs = plan.pp as u64 * plan.virtual_stages as u64;
        if layers < vs {
            return bad(format!(
                "{layers} layers cannot fill pp*v = {vs} pipeline chunks"
            ));
        }
        let m = plan.micro_batches(job);
        if m > crate::spec::MAX_MICRO_BATCHES {
            return bad(format!(
                "{m} micro-batches per step is more than the {} nettwin schedules",
                crate::spec::MAX_MICRO_BATCHES
            ));
        }
        let events = m.saturating_mul(vs);
        if events > crate::spec::MAX_SCHEDULE_EVENTS {
            return bad(format!(
                "{m} micro-batches x {vs} pipeline chunks is more than the {} schedule events nettwin simulates",
                crate::spec::MAX_SCHEDULE_EVENTS
            ));
        }
        match plan.schedule {
            Schedule::Interleaved => {
                if plan.virtual_stages < 2 || plan.pp < 2 {
                    return bad("interleaved schedule needs pp >= 2 and virtual_stages >= 2".into());
                }
                if m % plan.pp as u64 != 0 {
                    return bad(format!(
                        "interleaving needs micro-batches ({m}) divisible by pp"
                    ));
                }
            }
            _ if plan.virtual_stages != 1 => {
                return bad("virtual_stages > 1 needs the interleaved schedule".into());
            }
            _ => {}
        }
        if plan.zero.0 > 3 {
            return bad("ZeRO stage must be 0..=3".into());
        }
        match &job.model {
            Model::Mlp(_) => {
                if plan.tp != 1 || plan.cp != 1 || plan.ep != 1 {
                    return bad("an MLP supports only data and pipeline parallelism".into());
                }
            }
            Model::Transformer(t) => {
                if t.attention.heads() % plan.tp as u64 != 0 {
                    return bad(format!(
                        "{} heads do not split over tp = {}",
                        t.attention.heads(),
                        plan.tp
                    ));
                }
                if t.seq_len % plan.cp as u64 != 0 {
                    return bad(format!(
                        "sequence {} does not split over cp = {}",
                        t.seq_len, plan.cp
                    ));
                }
                match &t.moe {
                    None if plan.ep != 1 => {
                        return bad("expert parallelism needs an MoE model".into())
                    }
                    Some(moe) => {
                        if plan.dp % plan.ep != 0 {
                            return bad(format!("ep = {} must divide dp = {}", plan.ep, plan.dp));
                        }
                        if moe.experts % plan.ep as u64 != 0 {
                            return bad(format!(
                                "{} experts do not split over ep = {}",
                                moe.experts, plan.ep
                            ));
                        }
                    }
                    None => {}
                }
            }
        }
        Ok(())
    }

    /// Fast evaluation for search: no timeline, no link traffic.
    pub fn quick(&self, plan: &Plan) -> Result<Quick, FabricError> {
        self.check(plan)?;
        Ok(self.run(plan, &Detail { record: false })?.quick)
    }

    /// Memory per stage only (cheap; used by search to skip plans that cannot fit).
    pub fn peak_memory(&self, plan: &Plan) -> Result<f64, FabricError> {
        self.check(plan)?;
        let chunks = self.chunks(plan);
        Ok(self
            .stage_memory(plan, &chunks)
            .iter()
            .map(|s| s.memory.total)
            .fold(0.0, f64::max))
    }

    /// Full report for one plan.
    pub fn report(&self, plan: &Plan) -> Result<Report, FabricError> {
        self.check(plan)?;
        let out = self.run(plan, &Detail { record: true })?;
        let mut ecmp = EcmpSensitivity {
            ideal_s: 0.0,
            expected_s: 0.0,
            worst_s: 0.0,
        };
        for (model, slot) in [
            (crate::spec::Ecmp::Ideal, &mut ecmp.ideal_s),
            (crate::spec::Ecmp::Expected, &mut ecmp.expected_s),
            (crate::spec::Ecmp::Worst, &mut ecmp.worst_s),
        ] {
            let mut c = self.cluster.clone();
            c.ecmp = model;
            let e = Evaluator {
                job: self.job,
                cluster: &c,
                costs: self.costs.clone(),
                fabric: Fabric::new(&c),
            };
            *slot = e.run(plan, &Detail { record: false })?.quick.step_time_s;
        }
        let summary = out
            .summary
            .clone()
            .ok_or_else(|| FabricError::Internal("no summary".into()))?;
        let placement = self.placement(plan);
        let timelines = out
            .timelines
            .into_iter()
            .enumerate()
            .map(|(s, events)| GpuTimeline {
                stage: s as u32,
                gpu: placement.stage_gpus[s].first().cloned().unwrap_or_default(),
                events,
            })
            .collect();
        let links = self.link_report(out.traffic.as_deref().unwrap_or(&[]), summary.step_time_s);
        Ok(Report {
            model: self.job.model.name().to_string(),
            cluster: self.cluster.name.clone(),
            plan: plan.clone(),
            plan_label: plan.label(),
            layer_memory: self.layer_memory(plan, &out.memory),
            summary,
            placement,
            memory: out.memory,
            timelines,
            collectives: out.collectives,
            links,
            ecmp,
        })
    }

    fn rank(plan: &Plan, t: u32, c: u32, d: u32, s: u32) -> u32 {
        t + plan.tp * (c + plan.cp * (d + plan.dp * s))
    }

    /// Aggregate blocks into virtual stages and compute their op times (compute only; comm
    /// added later).
    fn chunks(&self, plan: &Plan) -> Vec<Chunk> {
        let job = self.job;
        let gpu = &self.cluster.gpu;
        let vs = (plan.pp * plan.virtual_stages) as usize;
        let ranges = layer_ranges(self.costs.layers.len(), vs);
        let tokens = (plan.micro_batch * job.model.seq_len()) as f64 / plan.cp as f64;
        let tp = plan.tp as f64;
        let rep_div = if plan.sequence_parallel { tp } else { 1.0 };
        let peak = gpu.peak(job.precision) * gpu.matmul_efficiency;
        let hbm = gpu.hbm_bytes_per_s;
        let ep_tp = plan.ep as f64 * tp;
        let act_scale = job.activation_scale();
        (0..vs)
            .map(|k| {
                let mut ch = Chunk::default();
                let (lo, hi) = ranges[k];
                let mut blocks: Vec<&BlockCost> = Vec::with_capacity(hi - lo + 2);
                if k == 0 {
                    blocks.push(&self.costs.pre);
                }
                blocks.extend(self.costs.layers[lo..hi].iter());
                if k == vs - 1 {
                    blocks.push(&self.costs.post);
                }
                for b in blocks {
                    ch.params_dense += b.params_tp / tp + b.params_rep;
                    ch.params_expert += b.params_expert / ep_tp;
                    // Fused causal attention kernels skip the masked half of the score matrix;
                    // unfused attention computes all of it.
                    let attn_done = if job.flash_attention { 0.5 } else { 1.0 } * b.attn_fwd_tok;
                    let mm = (b.flops_fwd_tok + attn_done) * tokens / tp;
                    let stored = b.act_rep_tok / rep_div + b.act_split_tok / tp;
                    let core = if job.flash_attention {
                        0.0
                    } else {
                        b.act_core_tok / tp
                    };
                    // Non-matmul kernels stream every stored activation once in and once out.
                    let elem = if b.kind == BlockKind::Embedding {
                        0.0
                    } else {
                        2.0 * (stored + core) * tokens / hbm
                    };
                    let f = mm / peak + elem;
                    let is_layer = matches!(
                        b.kind,
                        BlockKind::Transformer | BlockKind::MoeTransformer | BlockKind::Dense
                    );
                    let recompute = match (plan.recompute, is_layer) {
                        (Recompute::Full, true) => f,
                        (Recompute::Selective, true) => attn_done * tokens / tp / peak,
                        _ => 0.0,
                    };
                    ch.fwd += f;
                    ch.bwd += 2.0 * f + recompute;
                    ch.hw_flops_tok += 3.0 * (b.flops_fwd_tok + b.attn_fwd_tok)
                        + match (plan.recompute, is_layer) {
                            (Recompute::Full, true) => b.flops_fwd_tok + b.attn_fwd_tok,
                            (Recompute::Selective, true) => b.attn_fwd_tok,
                            _ => 0.0,
                        };
                    // Cached layer activations may be stored in a narrower format than they
                    // are computed in (FP8 caching); the time above streams them at 16 bits.
                    let store = if is_layer { act_scale } else { 1.0 };
                    let full_act = (stored + core) * store;
                    let kept = match (plan.recompute, is_layer) {
                        (Recompute::Full, true) => b.input_tok / rep_div * store,
                        (Recompute::Selective, true) => stored * store,
                        _ => full_act,
                    };
                    ch.act_mb += kept * tokens;
                    if is_layer && plan.recompute != Recompute::None {
                        ch.recompute_buf = ch.recompute_buf.max(full_act * tokens);
                    }
                    if is_layer && b.tp_allreduces > 0 {
                        ch.tp_ar_fwd += b.tp_allreduces as f64;
                    }
                    if b.alltoall_tok > 0.0 {
                        ch.moe_layers += 1.0;
                    }
                    if is_layer {
                        ch.layers += 1.0;
                    }
                }
                ch
            })
            .collect()
    }

    fn stage_chunks(plan: &Plan, s: u32) -> impl Iterator<Item = usize> {
        let p = plan.pp;
        (0..plan.virtual_stages).map(move |c| (c * p + s) as usize)
    }

    fn stage_memory(&self, plan: &Plan, chunks: &[Chunk]) -> Vec<StageMemory> {
        let job = self.job;
        let eb = job.precision.element_bytes();
        let k_opt = job.optimizer_state_bytes();
        let grad_b = job.gradient_precision.map_or(eb, |p| p.storage_bytes());
        let dp = plan.dp as f64;
        let edp = (plan.dp / plan.ep.max(1)) as f64;
        let m = plan.micro_batches(job) as u32;
        let tied_copy = match &job.model {
            Model::Transformer(t) if t.tied_embeddings && plan.pp > 1 => {
                self.costs.pre.params_tp / plan.tp as f64
            }
            _ => 0.0,
        };
        (0..plan.pp)
            .map(|s| {
                let mut dense = 0.0;
                let mut expert = 0.0;
                let mut act = 0.0;
                let mut buf: f64 = 0.0;
                for k in Self::stage_chunks(plan, s) {
                    dense += chunks[k].params_dense;
                    expert += chunks[k].params_expert;
                    act += chunks[k].act_mb;
                    buf = buf.max(chunks[k].recompute_buf);
                }
                if s == plan.pp - 1 {
                    dense += tied_copy;
                }
                let shard = |z: u8| {
                    if plan.zero.0 >= z {
                        dense / dp + expert / edp
                    } else {
                        dense + expert
                    }
                };
                let ops = stage_ops(plan.schedule, plan.pp, plan.virtual_stages, m, s);
                let in_flight = peak_in_flight(&ops);
                let weights = shard(3) * eb;
                let gradients = shard(2) * grad_b;
                let optimizer_states = shard(1) * k_opt;
                let per_set = act / plan.virtual_stages as f64;
                let activations = per_set * in_flight as f64;
                let reserve = job.memory_reserve_bytes;
                let total = weights + gradients + optimizer_states + activations + buf + reserve;
                StageMemory {
                    stage: s,
                    memory: MemoryItems {
                        weights,
                        gradients,
                        optimizer_states,
                        activations_per_micro_batch: act,
                        in_flight,
                        activations,
                        recompute_buffer: buf,
                        reserve,
                        total,
                    },
                    fits: total <= self.cluster.gpu.memory_bytes,
                }
            })
            .collect()
    }

    fn run(&self, plan: &Plan, detail: &Detail) -> Result<Outcome, FabricError> {
        let job = self.job;
        let p = plan.pp;
        let v = plan.virtual_stages;
        let m = plan.micro_batches(job);
        let (tp, cp, dp, ep) = (plan.tp, plan.cp, plan.dp, plan.ep);
        let eb = job.precision.element_bytes();
        let mut chunks = self.chunks(plan);
        let memory = self.stage_memory(plan, &chunks);
        let mut costing = Costing::new(&self.fabric, detail.record);
        let mut collectives: Vec<CollectiveReport> = Vec::new();
        let tokens = (plan.micro_batch * job.model.seq_len()) as f64 / cp as f64;
        let hidden_tok = self
            .costs
            .layers
            .first()
            .map(|b| b.hidden_tok)
            .unwrap_or(0.0);
        let layers_per_stage = self.costs.layers.len() as f64 / p as f64;
        let mut report = |name: &str, op, size: u32, bytes: f64, per_step: f64, cost: PhaseCost| {
            if detail.record {
                collectives.push(CollectiveReport {
                    name: name.to_string(),
                    op,
                    group_size: size,
                    bytes,
                    per_step,
                    cost,
                });
            }
        };
        let mut members: Vec<u32> = Vec::new();
        let groups_of = |members: &mut Vec<u32>, outer: &mut dyn FnMut(&mut Vec<u32>)| {
            members.clear();
            outer(members);
        };

        // Tensor parallel all-reduces of the hidden state, all TP groups at once.
        let recompute_full = plan.recompute == Recompute::Full;
        if tp > 1 {
            groups_of(&mut members, &mut |mem| {
                for s in 0..p {
                    for d in 0..dp {
                        for c in 0..cp {
                            for t in 0..tp {
                                mem.push(Self::rank(plan, t, c, d, s));
                            }
                        }
                    }
                }
            });
            let bytes = hidden_tok * tokens;
            let groups: Vec<Group> = members
                .chunks(tp as usize)
                .map(|g| Group { members: g, bytes })
                .collect();
            let per_layer = if recompute_full { 6.0 } else { 4.0 };
            let per_step = per_layer * layers_per_stage * m as f64;
            let cost = costing.phase(Collective::AllReduce, plan.algorithm, &groups, per_step);
            report(
                "tensor-parallel all-reduce",
                Collective::AllReduce,
                tp,
                bytes,
                per_step,
                cost,
            );
            for ch in chunks.iter_mut() {
                let n = ch.tp_ar_fwd;
                ch.fwd += n * cost.time_s;
                ch.bwd += n * cost.time_s * if recompute_full { 2.0 } else { 1.0 };
            }
        }

        // Context parallel exchange of keys and values, hidden under the attention core.
        if cp > 1 {
            groups_of(&mut members, &mut |mem| {
                for s in 0..p {
                    for d in 0..dp {
                        for t in 0..tp {
                            for c in 0..cp {
                                mem.push(Self::rank(plan, t, c, d, s));
                            }
                        }
                    }
                }
            });
            let kv_tok = self.costs.layers.first().map(|b| b.kv_tok).unwrap_or(0.0);
            let bytes = kv_tok * tokens * cp as f64 / tp as f64;
            let groups: Vec<Group> = members
                .chunks(cp as usize)
                .map(|g| Group { members: g, bytes })
                .collect();
            let per_step = if recompute_full { 4.0 } else { 3.0 } * layers_per_stage * m as f64;
            let cost = costing.phase(Collective::AllGather, plan.algorithm, &groups, per_step);
            report(
                "context-parallel KV all-gather",
                Collective::AllGather,
                cp,
                bytes,
                per_step,
                cost,
            );
            let attn_tok = self
                .costs
                .layers
                .first()
                .map(|b| b.attn_fwd_tok)
                .unwrap_or(0.0);
            let gpu = &self.cluster.gpu;
            let causal = if job.flash_attention { 0.5 } else { 1.0 };
            let attn_time = causal * attn_tok * tokens
                / tp as f64
                / (gpu.peak(job.precision) * gpu.matmul_efficiency);
            // Ring exchange hides under the attention core; all-gather based CP (Llama 3)
            // gathers K, V before the attention and reduce-scatters dK, dV after it, exposed.
            let exposed = if job.overlap_cp_kv {
                (cost.time_s - attn_time).max(0.0)
            } else {
                cost.time_s
            };
            // Backward: all-gather K, V again and reduce-scatter dK, dV; full recomputation
            // reruns the forward's all-gather too.
            let bwd_collectives = if recompute_full { 3.0 } else { 2.0 };
            for ch in chunks.iter_mut() {
                ch.fwd += ch.layers * exposed;
                ch.bwd += ch.layers * bwd_collectives * exposed;
            }
        }

        // MoE dispatch and combine all-to-alls over each EP group.
        let moe_layers: f64 = chunks.iter().map(|c| c.moe_layers).sum();
        if ep > 1 && moe_layers > 0.0 {
            groups_of(&mut members, &mut |mem| {
                for s in 0..p {
                    for x in 0..dp / ep {
                        for c in 0..cp {
                            for t in 0..tp {
                                for e in 0..ep {
                                    mem.push(Self::rank(plan, t, c, x * ep + e, s));
                                }
                            }
                        }
                    }
                }
            });
            let a2a_tok = self
                .costs
                .layers
                .iter()
                .map(|b| b.alltoall_tok)
                .fold(0.0, f64::max);
            let bytes = a2a_tok * tokens / tp as f64;
            let groups: Vec<Group> = members
                .chunks(ep as usize)
                .map(|g| Group { members: g, bytes })
                .collect();
            let per_layer = if recompute_full { 6.0 } else { 4.0 };
            let per_step = per_layer * moe_layers / p as f64 * m as f64;
            let cost = costing.phase(Collective::AllToAll, plan.algorithm, &groups, per_step);
            report(
                "expert-parallel all-to-all",
                Collective::AllToAll,
                ep,
                bytes,
                per_step,
                cost,
            );
            for ch in chunks.iter_mut() {
                let f = 2.0 * ch.moe_layers * cost.time_s;
                let b = f * if recompute_full { 2.0 } else { 1.0 };
                if job.overlap_moe_alltoall {
                    ch.fwd = ch.fwd.max(f);
                    ch.bwd = ch.bwd.max(b);
                } else {
                    ch.fwd += f;
                    ch.bwd += b;
                }
            }
        }

        // Pipeline sends between consecutive virtual stages (activations forward, gradients
        // backward), every replica's pair at once; scatter/gather over TP shrinks them by tp.
        let vs = (p * v) as usize;
        let mut p2p = vec![0.0; vs.max(1)];
        if p > 1 {
            let bytes = hidden_tok * tokens / tp as f64;
            let mut pair_cost: Vec<Option<PhaseCost>> = vec![None; p as usize];
            for (k, slot) in p2p.iter_mut().enumerate().take(vs - 1) {
                let (a, b) = ((k as u32) % p, (k as u32 + 1) % p);
                let cost = match pair_cost[a as usize] {
                    Some(c) => {
                        if detail.record {
                            // Count the traffic of this repeat of the same boundary.
                            self.pair_phase(plan, &mut costing, a, b, bytes, m as f64);
                        }
                        c
                    }
                    None => {
                        let c = self.pair_phase(plan, &mut costing, a, b, bytes, m as f64);
                        pair_cost[a as usize] = Some(c);
                        report(
                            &format!("pipeline send stage {a} <-> {b}"),
                            Collective::PointToPoint,
                            2,
                            bytes,
                            m as f64,
                            c,
                        );
                        c
                    }
                };
                *slot = cost.time_s;
            }
        }

        // Data-parallel gradient and parameter traffic, per stage.
        let zero = plan.zero.0;
        let mut grad_sync = vec![0.0f64; p as usize];
        let mut param_gather = vec![0.0f64; p as usize];
        let mut per_mb_ag = vec![0.0f64; p as usize];
        let mut per_mb_rs = vec![0.0f64; p as usize];
        if dp > 1 {
            for s in 0..p {
                let (mut dense, mut expert) = (0.0, 0.0);
                for k in Self::stage_chunks(plan, s) {
                    dense += chunks[k].params_dense;
                    expert += chunks[k].params_expert;
                }
                let dense_b = dense * eb;
                let expert_b = expert * eb;
                let mut cost_of = |op: Collective, per_step: f64, name: &str| -> f64 {
                    let mut t = 0.0;
                    for (bytes, expert_group) in [(dense_b, false), (expert_b, true)] {
                        if bytes <= 0.0 {
                            continue;
                        }
                        let size = if expert_group { dp / ep } else { dp };
                        if size < 2 {
                            continue;
                        }
                        members.clear();
                        for c in 0..cp {
                            for tt in 0..tp {
                                if expert_group {
                                    for e in 0..ep {
                                        for x in 0..size {
                                            members.push(Self::rank(plan, tt, c, x * ep + e, s));
                                        }
                                    }
                                } else {
                                    for d in 0..dp {
                                        members.push(Self::rank(plan, tt, c, d, s));
                                    }
                                }
                            }
                        }
                        let groups: Vec<Group> = members
                            .chunks(size as usize)
                            .map(|g| Group { members: g, bytes })
                            .collect();
                        let cost = costing.phase(op, plan.algorithm, &groups, per_step);
                        if s == 0 || s == p - 1 {
                            let label = format!(
                                "{} {} stage {s}",
                                name,
                                if expert_group { "(experts)" } else { "(dense)" }
                            );
                            report(&label, op, size, bytes, per_step, cost);
                        }
                        t += cost.time_s;
                    }
                    t
                };
                let mf = m as f64;
                match zero {
                    0 => {
                        grad_sync[s as usize] =
                            cost_of(Collective::AllReduce, 1.0, "gradient all-reduce")
                    }
                    1 => {
                        grad_sync[s as usize] =
                            cost_of(Collective::ReduceScatter, 1.0, "gradient reduce-scatter");
                        param_gather[s as usize] =
                            cost_of(Collective::AllGather, 1.0, "parameter all-gather");
                    }
                    2 => {
                        per_mb_rs[s as usize] =
                            cost_of(Collective::ReduceScatter, mf, "gradient reduce-scatter");
                        param_gather[s as usize] =
                            cost_of(Collective::AllGather, 1.0, "parameter all-gather");
                    }
                    _ => {
                        per_mb_rs[s as usize] =
                            cost_of(Collective::ReduceScatter, mf, "gradient reduce-scatter");
                        per_mb_ag[s as usize] =
                            cost_of(Collective::AllGather, 2.0 * mf, "parameter all-gather");
                    }
                }
            }
        }
        // ZeRO-2/3 communication runs per micro-batch, prefetched under each op.
        for s in 0..p {
            for k in Self::stage_chunks(plan, s) {
                let share = 1.0 / v as f64;
                let ag = per_mb_ag[s as usize] * share;
                let rs = per_mb_rs[s as usize] * share;
                chunks[k].fwd = chunks[k].fwd.max(ag);
                chunks[k].bwd = chunks[k].bwd.max(ag + rs);
            }
        }

        let times = StageTimes {
            fwd: chunks.iter().map(|c| c.fwd).collect(),
            bwd: chunks.iter().map(|c| c.bwd).collect(),
            p2p,
        };
        let run = simulate(plan.schedule, p, v, m as u32, &times, detail.record)?;
        let mut events = run.events.unwrap_or_default();

        // After the pipeline drains: gradient sync (overlapped with the last backward of each
        // chunk if enabled), optimizer step, then the ZeRO-1/2 parameter all-gather.
        let gpu = &self.cluster.gpu;
        let k_opt = job.optimizer_state_bytes();
        let mut step: f64 = 0.0;
        for s in 0..p as usize {
            let stage_end = run.stage_end[s];
            let mut comm_free: f64 = 0.0;
            let mut order: Vec<usize> = (0..v as usize).collect();
            order.sort_by(|a, b| run.last_bwd[s][*a].1.total_cmp(&run.last_bwd[s][*b].1));
            if grad_sync[s] > 0.0 {
                for c in order {
                    let (lb_start, _) = run.last_bwd[s][c];
                    let ready = if job.overlap_grad_reduce {
                        lb_start
                    } else {
                        stage_end
                    };
                    let start = comm_free.max(ready);
                    comm_free = start + grad_sync[s] / v as f64;
                    if let Some(ev) = events.get_mut(s) {
                        ev.push(Event {
                            kind: EventKind::GradSync,
                            start_s: start,
                            end_s: comm_free,
                            micro_batch: None,
                            chunk: (v > 1).then_some(c as u32),
                            lane: 1,
                        });
                    }
                }
            }
            let opt_start = stage_end.max(comm_free);
            let (mut dense, mut expert) = (0.0, 0.0);
            for k in Self::stage_chunks(plan, s as u32) {
                dense += chunks[k].params_dense;
                expert += chunks[k].params_expert;
            }
            let shard = if zero >= 1 {
                dense / dp as f64 + expert / (dp / ep) as f64
            } else {
                dense + expert
            };
            let opt_bytes = shard * (k_opt + 2.0 * eb) * 2.0;
            let opt_end = opt_start + opt_bytes / gpu.hbm_bytes_per_s;
            let end = opt_end + param_gather[s];
            if let Some(ev) = events.get_mut(s) {
                ev.push(Event {
                    kind: EventKind::Optimizer,
                    start_s: opt_start,
                    end_s: opt_end,
                    micro_batch: None,
                    chunk: None,
                    lane: 0,
                });
                if param_gather[s] > 0.0 {
                    ev.push(Event {
                        kind: EventKind::ParamGather,
                        start_s: opt_end,
                        end_s: end,
                        micro_batch: None,
                        chunk: None,
                        lane: 1,
                    });
                }
            }
            step = step.max(end);
        }
        for ev in events.iter_mut() {
            ev.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        }

        let makespan = run.makespan;
        let bubble = if makespan > 0.0 {
            run.busy.iter().map(|b| 1.0 - b / makespan).sum::<f64>() / p as f64
        } else {
            0.0
        };
        let tokens_step = job.tokens_per_step();
        let n = self.cluster.gpus() as f64;
        let peak = gpu.peak(job.precision);
        let model_flops = tokens_step * self.costs.model_flops_per_token();
        let hw_flops_tok: f64 = {
            // Hardware FLOPs per token summed over virtual stages (per token of the full model).
            chunks.iter().map(|c| c.hw_flops_tok).sum()
        };
        let hw_flops = tokens_step * hw_flops_tok;
        let mfu = model_flops / (step * n * peak);
        let peak_mem = memory.iter().map(|s| s.memory.total).fold(0.0, f64::max);
        let fits = memory.iter().all(|s| s.fits);
        let quick = Quick {
            step_time_s: step,
            tokens_per_s: tokens_step / step,
            mfu,
            bubble_fraction: bubble,
            peak_memory_bytes: peak_mem,
            fits,
        };
        let summary = detail.record.then(|| Summary {
            gpus: self.cluster.gpus(),
            micro_batches: m,
            step_time_s: step,
            pipeline_time_s: makespan,
            bubble_fraction: bubble,
            tokens_per_s: tokens_step / step,
            tokens_per_s_per_gpu: tokens_step / step / n,
            model_flops_per_step: model_flops,
            model_tflops_per_gpu: model_flops / step / n / 1e12,
            mfu,
            hfu: hw_flops / (step * n * peak),
            hardware_tflops_per_gpu: hw_flops / step / n / 1e12,
            total_params: self.costs.total_params(),
            active_params: self.costs.active_params(&job.model),
            peak_memory_bytes: peak_mem,
            gpu_memory_bytes: gpu.memory_bytes,
            fits,
        });
        Ok(Outcome {
            quick,
            summary,
            memory,
            timelines: events,
            collectives,
            traffic: costing.traffic.take(),
        })
    }

    /// All replicas' sends from stage a to stage b at once (and the gradients back).
    fn pair_phase(
        &self,
        plan: &Plan,
        costing: &mut Costing,
        a: u32,
        b: u32,
        bytes: f64,
        repeat: f64,
    ) -> PhaseCost {
        let mut pairs: Vec<u32> = Vec::with_capacity(4 * (plan.dp * plan.tp * plan.cp) as usize);
        for d in 0..plan.dp {
            for c in 0..plan.cp {
                for t in 0..plan.tp {
                    let (x, y) = (Self::rank(plan, t, c, d, a), Self::rank(plan, t, c, d, b));
                    // Activations go forward while gradients come back (1F1B steady state).
                    pairs.extend_from_slice(&[x, y, y, x]);
                }
            }
        }
        let groups: Vec<Group> = pairs
            .chunks(2)
            .map(|g| Group { members: g, bytes })
            .collect();
        costing.phase(Collective::PointToPoint, plan.algorithm, &groups, repeat)
    }

    fn placement(&self, plan: &Plan) -> Placement {
        let name = |g: u32| self.cluster.gpu_name(g);
        let vs = plan.pp * plan.virtual_stages;
        let ranges = layer_ranges(self.costs.layers.len(), vs as usize);
        let chunks = (0..vs)
            .map(|k| ChunkPlacement {
                virtual_stage: k,
                stage: k % plan.pp,
                chunk: k / plan.pp,
                layers: (ranges[k as usize].0 as u64, ranges[k as usize].1 as u64 - 1),
                embedding: k == 0,
                head: k == vs - 1,
            })
            .collect();
        let stage_gpus = (0..plan.pp)
            .map(|s| {
                let mut v = Vec::new();
                for d in 0..plan.dp {
                    for c in 0..plan.cp {
                        for t in 0..plan.tp {
                            v.push(name(Self::rank(plan, t, c, d, s)));
                        }
                    }
                }
                v
            })
            .collect();
        let mut groups = Vec::new();
        let mut add = |kind: &str, size: u32, count: u32, make: &dyn Fn(u32) -> Vec<u32>| {
            if size < 2 {
                return;
            }
            let mut classes = Vec::new();
            let mut path = Vec::new();
            let examples: Vec<Vec<u32>> = (0..count.min(4)).map(make).collect();
            for g in &examples {
                for i in 0..g.len() {
                    path.clear();
                    self.fabric.route(g[i], g[(i + 1) % g.len()], &mut path);
                    for &l in &path {
                        let c = self.fabric.class(l as usize);
                        if !classes.contains(&c) {
                            classes.push(c);
                        }
                    }
                }
            }
            classes.sort();
            groups.push(GroupSet {
                kind: kind.to_string(),
                size,
                count,
                examples: examples
                    .iter()
                    .map(|g| g.iter().map(|&x| name(x)).collect())
                    .collect(),
                links: classes,
            });
        };
        let (tp, cp, dp, pp, ep) = (plan.tp, plan.cp, plan.dp, plan.pp, plan.ep);
        // Examples enumerate groups in rank order of their first member.
        add("tensor", tp, cp * dp * pp, &|i| {
            let (c, d, s) = (i % cp, (i / cp) % dp, i / (cp * dp));
            (0..tp).map(|t| Self::rank(plan, t, c, d, s)).collect()
        });
        add("context", cp, tp * dp * pp, &|i| {
            let (t, d, s) = (i % tp, (i / tp) % dp, i / (tp * dp));
            (0..cp).map(|c| Self::rank(plan, t, c, d, s)).collect()
        });
        add("data", dp, tp * cp * pp, &|i| {
            let (t, c, s) = (i % tp, (i / tp) % cp, i / (tp * cp));
            (0..dp).map(|d| Self::rank(plan, t, c, d, s)).collect()
        });
        add("expert", ep, tp * cp * pp * (dp / ep), &|i| {
            let (t, c, x, s) = (
                i % tp,
                (i / tp) % cp,
                (i / (tp * cp)) % (dp / ep),
                i / (tp * cp * (dp / ep)),
            );
            (0..ep)
                .map(|e| Self::rank(plan, t, c, x * ep + e, s))
                .collect()
        });
        add("pipeline", pp, tp * cp * dp, &|i| {
            let (t, c, d) = (i % tp, (i / tp) % cp, i / (tp * cp));
            (0..pp).map(|s| Self::rank(plan, t, c, d, s)).collect()
        });
        Placement {
            chunks,
            stage_gpus,
            groups,
        }
    }

    fn layer_memory(&self, plan: &Plan, memory: &[StageMemory]) -> Vec<LayerMemory> {
        let Model::Mlp(mlp) = &self.job.model else {
            return Vec::new();
        };
        let eb = self.job.precision.element_bytes();
        let mut widths = vec![mlp.inputs];
        widths.extend(&mlp.hidden);
        widths.push(mlp.outputs);
        let ranges = layer_ranges(widths.len() - 1, plan.pp as usize);
        let b = plan.micro_batch as f64;
        let adjust = match self.job.optimizer {
            Optimizer::Sgd => 0.0,
            _ => self.job.optimizer_state_bytes(),
        };
        widths
            .windows(2)
            .enumerate()
            .map(|(l, w)| {
                let stage = ranges.iter().position(|r| l >= r.0 && l < r.1).unwrap_or(0) as u32;
                let in_flight = memory[stage as usize].memory.in_flight as f64;
                let params = (w[0] * w[1] + w[1]) as f64;
                let gpus = (0..plan.dp)
                    .map(|d| self.cluster.gpu_name(Self::rank(plan, 0, 0, d, stage)))
                    .collect();
                LayerMemory {
                    layer: l as u32 + 1,
                    stage,
                    gpus,
                    inputs: w[0],
                    outputs: w[1],
                    weights: params * eb,
                    weighted_sums: in_flight * b * w[1] as f64 * eb,
                    activations: in_flight * b * w[1] as f64 * eb,
                    errors: b * w[1] as f64 * eb,
                    local_gradients: params * eb,
                    remote_gradients: if plan.dp > 1 { params * eb } else { 0.0 },
                    learning_rate: eb,
                    weight_adjustments: params * adjust,
                }
            })
            .collect()
    }

    fn link_report(&self, traffic: &[f64], step: f64) -> LinkReport {
        let name = |g: u32| self.cluster.gpu_name(g);
        let mut idx: Vec<usize> = (0..traffic.len()).filter(|&l| traffic[l] > 0.0).collect();
        idx.sort_by(|&a, &b| {
            let ua = traffic[a] / self.fabric.bw[a];
            let ub = traffic[b] / self.fabric.bw[b];
            ub.total_cmp(&ua).then(a.cmp(&b))
        });
        let busiest = idx
            .iter()
            .take(10)
            .map(|&l| LinkLoad {
                link: self.fabric.link_name(l, &name),
                class: self.fabric.class(l),
                bytes_per_step: traffic[l],
                bytes_per_s_capacity: self.fabric.bw[l],
                utilisation: traffic[l] / self.fabric.bw[l] / step,
            })
            .collect();
        let mut totals: Vec<ClassTotal> = Vec::new();
        for (l, &t) in traffic.iter().enumerate() {
            let class = self.fabric.class(l);
            match totals.iter_mut().find(|c| c.class == class) {
                Some(c) => {
                    c.links += 1;
                    c.bytes_per_step += t;
                }
                None => totals.push(ClassTotal {
                    class,
                    links: 1,
                    bytes_per_step: t,
                }),
            }
        }
        LinkReport { busiest, totals }
    }
}
