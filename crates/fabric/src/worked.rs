//! The worked examples of `examples/fabric/` as ready-made inputs.

use crate::spec::{
    gpu_preset, model_preset, Cluster, Ecmp, FabricShape, Job, Plan, Precision, Recompute,
    Schedule, ZeroStage,
};
use crate::FabricError;

/// Four GPUs A1, A2 (node A) and B1, B2 (node B) joined by 200 Gbit/s NICs under one leaf.
pub fn four_gpu_cluster() -> Result<Cluster, FabricError> {
    let mut c = Cluster::new(gpu_preset("a100")?, 2, 2);
    c.name = "two nodes A and B, two A100 each".into();
    c.node_names = vec!["A".into(), "B".into()];
    c.nic_gbps = 200.0;
    c.nodes_per_leaf = 2;
    Ok(c)
}

/// (a) The small MLP (three hidden layers and an output layer) pipelined over A1, A2, B1, B2,
/// one layer per GPU, four micro-batches of 32 samples, GPipe.
pub fn example_a() -> Result<(Job, Cluster, Plan), FabricError> {
    let mut job = Job::new(model_preset("mlp-small")?, 128);
    job.micro_batch = 32;
    let mut plan = Plan::new(&job, 1, 1, 4);
    plan.schedule = Schedule::Gpipe;
    Ok((job, four_gpu_cluster()?, plan))
}

/// (b) The same MLP with data parallelism: every GPU holds the whole network, the eight
/// micro-batches are shared out two per GPU, then the gradients are averaged (all-reduce).
pub fn example_b() -> Result<(Job, Cluster, Plan), FabricError> {
    let mut job = Job::new(model_preset("mlp-small")?, 256);
    job.micro_batch = 32;
    job.overlap_grad_reduce = false;
    let plan = Plan::new(&job, 4, 1, 1);
    Ok((job, four_gpu_cluster()?, plan))
}

/// (c1) A 70B-class dense model on 2,048 H100s (256 nodes, rail-optimized, 400 Gbit/s per
/// GPU, 32 nodes per leaf): TP 8 in a node, PP 4 interleaved, DP 64 with ZeRO-1.
pub fn example_c_dense() -> Result<(Job, Cluster, Plan), FabricError> {
    let mut job = Job::new(model_preset("llama-70b")?, 1024);
    job.zero = ZeroStage(1);
    let cluster = Cluster::new(gpu_preset("h100")?, 8, 256);
    let mut plan = Plan::new(&job, 64, 8, 4);
    plan.schedule = Schedule::Interleaved;
    plan.virtual_stages = 2;
    Ok((job, cluster, plan))
}

/// (c2) A DeepSeek-V3-class MoE on 2,048 H800s as in its report: PP 16, EP 64 (8 nodes),
/// ZeRO-1 DP 128, no TP, FP8 matmuls, activations cached in FP8, BF16 Adam moments, fp32
/// gradients (report section 3.3), no full recomputation, all-to-all hidden under compute,
/// per-flow ECMP to show collisions.
pub fn example_c_moe() -> Result<(Job, Cluster, Plan), FabricError> {
    let mut job = Job::new(model_preset("deepseek-v3")?, 15360);
    job.precision = Precision::Fp8;
    job.activation_precision = Some(Precision::Fp8);
    job.gradient_precision = Some(Precision::Fp32);
    job.moment_precision = Precision::Bf16;
    job.zero = ZeroStage(1);
    job.overlap_moe_alltoall = true;
    let mut cluster = Cluster::new(gpu_preset("h800")?, 8, 256);
    cluster.shape = FabricShape::RailOptimized;
    cluster.ecmp = Ecmp::Expected;
    let mut plan = Plan::new(&job, 128, 1, 16);
    plan.ep = 64;
    // DeepSeek recomputes only RMSNorm and the MLA up-projections; with fused attention the
    // closest level here is selective.
    plan.recompute = Recompute::Selective;
    Ok((job, cluster, plan))
}
