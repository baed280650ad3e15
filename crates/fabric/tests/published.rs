//! Published figures reproduced from the published configurations (within 15%).
//! Sources and the side-by-side numbers are in docs/fabric-validation.md.

use nettwin_fabric::costs::model_costs;
use nettwin_fabric::spec::GIB;
use nettwin_fabric::*;

fn within(model: f64, published: f64, tol: f64) -> bool {
    ((model - published) / published).abs() <= tol
}

/// Selene (DGX A100 80 GB, 8 x 200 Gbit/s HDR InfiniBand per node).
fn selene(nodes: u32) -> Cluster {
    let mut c = Cluster::new(gpu_preset("a100").unwrap(), 8, nodes);
    c.nic_gbps = 200.0;
    c.nodes_per_leaf = 20;
    c
}

/// A row of the table: heads, hidden, layers, TP, PP, GPUs, batch, TFLOP/s/GPU, params (B).
type Row = (u64, u64, u64, u32, u32, u32, u64, f64, f64);

/// Narayanan et al. 2021, Table 1.
const MEGATRON_TABLE1: [Row; 10] = [
    (24, 2304, 24, 1, 1, 32, 512, 137.0, 1.7),
    (32, 3072, 30, 2, 1, 64, 512, 138.0, 3.6),
    (32, 4096, 36, 4, 1, 128, 512, 142.0, 7.5),
    (48, 6144, 40, 8, 1, 256, 1024, 135.0, 18.4),
    (64, 8192, 48, 8, 2, 512, 1536, 138.0, 39.1),
    (80, 10240, 60, 8, 4, 1024, 1792, 140.0, 76.1),
    (96, 12288, 80, 8, 8, 1536, 2304, 148.0, 145.6),
    (128, 16384, 96, 8, 16, 1920, 2160, 155.0, 310.1),
    (128, 20480, 105, 8, 35, 2520, 2520, 163.0, 529.6),
    (160, 25600, 128, 8, 64, 3072, 3072, 163.0, 1008.0),
];

#[test]
fn megatron_table1_parameters_and_throughput() {
    for (heads, h, l, tp, pp, gpus, batch, tflops, params_b) in MEGATRON_TABLE1 {
        let mut job = Job::new(megatron_gpt(l, h, heads), batch);
        // 2021 Megatron-LM: full recomputation, no fused attention, no gradient overlap.
        job.recompute = Recompute::Full;
        job.flash_attention = false;
        job.overlap_grad_reduce = false;
        let mut plan = Plan::new(&job, gpus / (tp * pp), tp, pp);
        plan.sequence_parallel = false;
        let r = evaluate(&job, &selene(gpus / 8), &plan).unwrap();
        // The table rounds parameters to 0.1 B.
        assert!(
            (r.summary.total_params / 1e9 - params_b).abs() < 0.05,
            "{l}x{h}: {}",
            r.summary.total_params
        );
        // The paper's FLOP count includes the recomputed forward: our hardware FLOP/s.
        let ours = r.summary.hardware_tflops_per_gpu;
        assert!(within(ours, tflops, 0.15), "{l}x{h}: {ours:.1} vs {tflops}");
        assert!(r.summary.fits, "{l}x{h} must fit in 80 GB");
    }
}

#[test]
fn zero_paper_7_5b_model_on_64_gpus() {
    // Rajbhandari et al. 2020, Figure 1: Psi = 7.5B, K = 12, Nd = 64:
    // baseline 120 GB, P_os 31.4 GB, P_os+g 16.6 GB, P_os+g+p 1.88 GB.
    let mut job = Job::new(megatron_gpt(36, 4096, 32), 64);
    job.memory_reserve_bytes = 0.0;
    let psi = model_costs(&job.model, job.precision).total_params();
    assert!(within(psi, 7.5e9, 0.01));
    let cluster = Cluster::new(gpu_preset("v100").unwrap(), 8, 8);
    for (z, gb) in [(0u8, 120.0), (1, 31.4), (2, 16.6), (3, 1.88)] {
        let mut plan = Plan::new(&job, 64, 1, 1);
        plan.zero = ZeroStage(z);
        let r = evaluate(&job, &cluster, &plan).unwrap();
        let m = &r.memory[0].memory;
        let states = (m.weights + m.gradients + m.optimizer_states) / 1e9;
        assert!(within(states, gb, 0.15), "ZeRO {z}: {states:.2} GB vs {gb}");
    }
}

/// Meta's H100 cluster as a two-tier model: 3,072-GPU pods (384 nodes) with full bisection,
/// 1:7 oversubscribed between pods, 400 Gbit/s RoCE per GPU.
fn meta_rsc(nodes: u32) -> Cluster {
    let mut c = Cluster::new(gpu_preset("h100").unwrap(), 8, nodes);
    c.shape = FabricShape::FatTree;
    c.nodes_per_leaf = 384;
    c.oversubscription = 7.0;
    c.spine_links_per_leaf = 64;
    c
}

/// The cheapest recomputation that fits in memory, as an operator would choose.
fn cheapest_fit(job: &Job, cluster: &Cluster, plan: &Plan) -> Report {
    for rc in [Recompute::None, Recompute::Selective, Recompute::Full] {
        let mut p = plan.clone();
        p.recompute = rc;
        let r = evaluate(job, cluster, &p).unwrap();
        if r.summary.fits {
            return r;
        }
    }
    panic!("no recomputation level fits");
}

#[test]
fn llama3_405b_tflops_per_gpu() {
    // Dubey et al. 2024 (Llama 3), Table 4: TP 8, PP 16, 16M tokens per batch;
    // 8,192 GPUs (CP 1, DP 64, 8,192-token sequences) -> 430 TFLOP/s/GPU,
    // 16,384 GPUs (CP 1, DP 128, 8,192-token sequences) -> 400,
    // 16,384 GPUs (CP 16, DP 8, 131,072-token sequences) -> 380.
    for (nodes, cp, dp, seq, published) in [
        (1024u32, 1u32, 64u32, 8192u64, 430.0),
        (2048, 1, 128, 8192, 400.0),
        (2048, 16, 8, 131_072, 380.0),
    ] {
        let mut model = model_preset("llama3-405b").unwrap();
        if let Model::Transformer(t) = &mut model {
            t.seq_len = seq;
        }
        let sequences = 16 * 1024 * 1024 / seq;
        let mut job = Job::new(model, sequences);
        job.zero = ZeroStage(1);
        // Llama 3's CP all-gathers K and V before the attention, on the critical path.
        job.overlap_cp_kv = false;
        let mut plan = Plan::new(&job, dp, 8, 16);
        plan.cp = cp;
        plan.schedule = Schedule::Interleaved;
        plan.virtual_stages = 2;
        let r = cheapest_fit(&job, &meta_rsc(nodes), &plan);
        let ours = r.summary.model_tflops_per_gpu;
        assert!(
            within(ours, published, 0.15),
            "{} GPUs, CP {cp}: {ours:.0} vs {published}",
            nodes * 8
        );
    }
}

#[test]
fn llama3_long_context_all_gather_cp_is_exposed() {
    // The same 131K-token row with the K/V exchange hidden under the attention (ring CP) is
    // faster: the all-gather really sits on the critical path in the all-gather model.
    let mut model = model_preset("llama3-405b").unwrap();
    if let Model::Transformer(t) = &mut model {
        t.seq_len = 131_072;
    }
    let mut job = Job::new(model, 128);
    job.zero = ZeroStage(1);
    let mut plan = Plan::new(&job, 8, 8, 16);
    plan.cp = 16;
    plan.schedule = Schedule::Interleaved;
    plan.virtual_stages = 2;
    plan.recompute = Recompute::Full;
    let ring = evaluate(&job, &meta_rsc(2048), &plan).unwrap();
    job.overlap_cp_kv = false;
    let gathered = evaluate(&job, &meta_rsc(2048), &plan).unwrap();
    let kv = gathered
        .collectives
        .iter()
        .find(|c| c.name.starts_with("context-parallel"))
        .expect("CP collective reported");
    // Per layer: forward all-gather, backward re-gather + reduce-scatter, recomputed gather.
    let layers = 126.0 / 16.0;
    let micro_batches = 128.0 / 8.0;
    let extra = (1.0 + 3.0) * layers * micro_batches * kv.cost.time_s;
    let slower = gathered.summary.pipeline_time_s - ring.summary.pipeline_time_s;
    assert!(slower > 0.0);
    // The pipeline lengthens by the exposed time of one stage (plus bubble effects).
    assert!(
        slower > 0.9 * extra && slower < 2.0 * extra,
        "{slower} vs {extra}"
    );
}

#[test]
fn deepseek_v3_parameters_and_throughput() {
    // DeepSeek-AI 2024 (DeepSeek-V3 report): 671B total / 37B active parameters; 180K H800
    // GPU hours per trillion tokens on 2,048 H800s = 1e12 / (180e3 * 3600) tokens/s/GPU.
    let (job, cluster, plan) = worked::example_c_moe().unwrap();
    let costs = model_costs(&job.model, job.precision);
    assert!(within(costs.total_params(), 671e9, 0.01));
    assert!(within(costs.active_params(&job.model), 37e9, 0.03));
    // The published plan, with the report's FP8 activation caching, BF16 moments and fp32
    // gradients, fits in 80 GB without full recomputation.
    assert_eq!(plan.recompute, Recompute::Selective);
    let r = evaluate(&job, &cluster, &plan).unwrap();
    assert!(
        r.summary.fits,
        "peak {:.1} GiB",
        r.summary.peak_memory_bytes / GIB
    );
    let published = 1e12 / (180e3 * 3600.0);
    let ours = r.summary.tokens_per_s_per_gpu;
    assert!(
        within(ours, published, 0.15),
        "{ours:.0} vs {published:.0} tokens/s/GPU"
    );
    // Without those storage formats the same plan does not fit (16-bit activations).
    let mut wide = job.clone();
    wide.activation_precision = None;
    wide.moment_precision = Precision::Fp32;
    let r = evaluate(&wide, &cluster, &plan).unwrap();
    assert!(!r.summary.fits);
}
