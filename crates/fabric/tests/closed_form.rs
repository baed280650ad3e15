//! Memory, FLOPs, communication volumes and bubble fractions against closed forms worked by
//! hand for small cases.

use nettwin_fabric::costs::model_costs;
use nettwin_fabric::net::LinkClass;
use nettwin_fabric::*;

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-30)
}

/// One node of `gpus` GPUs whose communication costs nothing, so schedules show pure bubbles.
fn free_comm_node(gpus: u32) -> Cluster {
    let mut g = gpu_preset("a100").unwrap();
    g.nvlink_bytes_per_s = 1e30;
    let mut c = Cluster::new(g, gpus, 1);
    c.nvlink_latency_s = 0.0;
    c.link_latency_s = 0.0;
    c.step_overhead_s = 0.0;
    c
}

fn mlp(layers: usize, width: u64) -> Model {
    Model::Mlp(Mlp {
        name: "uniform".into(),
        inputs: width,
        hidden: vec![width; layers - 1],
        outputs: width,
    })
}

fn gpt(l: u64, h: u64, heads: u64, s: u64, v: u64) -> Model {
    let Model::Transformer(mut t) = megatron_gpt(l, h, heads) else {
        unreachable!()
    };
    t.seq_len = s;
    t.vocab = v;
    Model::Transformer(t)
}

#[test]
fn mlp_example_a_memory_items_by_hand() {
    let (job, cluster, plan) = worked::example_a().unwrap();
    let r = evaluate(&job, &cluster, &plan).unwrap();
    // Layer: 1024x1024 weights + 1024 biases = 1,049,600 fp32 numbers = 4,198,400 bytes.
    let params = 1024.0 * 1024.0 + 1024.0;
    assert_eq!(r.layer_memory.len(), 4);
    for (i, l) in r.layer_memory.iter().enumerate() {
        assert_eq!(l.stage, i as u32);
        assert_eq!(l.gpus, vec![["A1", "A2", "B1", "B2"][i].to_string()]);
        assert_eq!(l.weights, params * 4.0);
        assert_eq!(l.local_gradients, params * 4.0);
        // SGD with momentum keeps one fp32 adjustment per weight.
        assert_eq!(l.weight_adjustments, params * 4.0);
        assert_eq!(l.remote_gradients, 0.0, "no data parallelism in (a)");
        assert_eq!(l.learning_rate, 4.0);
        // GPipe: all 4 micro-batches of 32 samples in flight, 1024 fp32 values each.
        assert_eq!(l.weighted_sums, 4.0 * 32.0 * 1024.0 * 4.0);
        assert_eq!(l.activations, 4.0 * 32.0 * 1024.0 * 4.0);
        assert_eq!(l.errors, 32.0 * 1024.0 * 4.0);
    }
    // Stage memory: weights + gradients + momentum, and z and a for 4 micro-batches; stage 0
    // also keeps the input samples.
    let m0 = &r.memory[0].memory;
    assert_eq!(
        m0.weights + m0.gradients + m0.optimizer_states,
        3.0 * params * 4.0
    );
    assert_eq!(m0.in_flight, 4);
    assert_eq!(m0.activations, 4.0 * 32.0 * (2.0 * 1024.0 + 1024.0) * 4.0);
    assert_eq!(
        r.memory[3].memory.activations,
        4.0 * 32.0 * 2.0 * 1024.0 * 4.0
    );
    // FLOPs: 3 passes x 2 FLOPs per MAC x 4 layers x 1024^2 MACs x 128 samples.
    assert_eq!(
        r.summary.model_flops_per_step,
        3.0 * 2.0 * 4.0 * 1024.0 * 1024.0 * 128.0
    );
}

#[test]
fn mlp_example_b_has_remote_gradients_and_gradient_averaging() {
    let (job, cluster, plan) = worked::example_b().unwrap();
    let r = evaluate(&job, &cluster, &plan).unwrap();
    let params = 1024.0 * 1024.0 + 1024.0;
    for l in &r.layer_memory {
        assert_eq!(l.gpus.len(), 4);
        assert_eq!(l.remote_gradients, params * 4.0);
    }
    let sync: Vec<_> = r.timelines[0]
        .events
        .iter()
        .filter(|e| e.kind == schedule::EventKind::GradSync)
        .collect();
    assert_eq!(sync.len(), 1, "one gradient averaging step per step");
    // Without overlap it starts after the last backward.
    let last_b = r.timelines[0]
        .events
        .iter()
        .filter(|e| e.kind == schedule::EventKind::Backward)
        .map(|e| e.end_s)
        .fold(0.0, f64::max);
    assert!(sync[0].start_s >= last_b);
    let fwd = r.timelines[0]
        .events
        .iter()
        .filter(|e| e.kind == schedule::EventKind::Forward)
        .count();
    assert_eq!(fwd, 2, "eight micro-batches over four GPUs is two each");
}

#[test]
fn ring_all_reduce_volume_and_time_by_hand() {
    // Example (b): 4 GPUs on 2 nodes, gradient S = 4 layers x 1,049,600 x 4 bytes.
    let (job, cluster, plan) = worked::example_b().unwrap();
    let r = evaluate(&job, &cluster, &plan).unwrap();
    let s = 4.0 * (1024.0 * 1024.0 + 1024.0) * 4.0;
    let n = 4.0;
    let total: f64 = r
        .links
        .totals
        .iter()
        .filter(|c| matches!(c.class, LinkClass::NvlinkUp | LinkClass::NicUp))
        .map(|c| c.bytes_per_step)
        .sum();
    // Every GPU sends 2(n-1)/n * S in a ring all-reduce.
    assert!(close(total, n * 2.0 * (n - 1.0) / n * s, 1e-12), "{total}");
    // Two rings (one per GPU of a node), each leaving a node on a different NIC: each NIC
    // carries half of 2(n-1)/n * S.
    let nic: Vec<_> = r
        .links
        .busiest
        .iter()
        .filter(|l| l.class == LinkClass::NicUp)
        .collect();
    assert_eq!(nic.len(), 4);
    for l in &nic {
        assert!(close(
            l.bytes_per_step,
            2.0 * (n - 1.0) / n * s / 2.0,
            1e-12
        ));
    }
    // Time: NIC bytes at 200 Gbit/s x 0.9, plus 2(n-1) steps of (2 switch hops + overhead).
    let ar = r
        .collectives
        .iter()
        .find(|c| c.name.starts_with("gradient all-reduce"))
        .unwrap();
    let expect = 0.75 * s / (200e9 / 8.0 * 0.9) + 6.0 * (2.0e-6 + 3.0e-6);
    assert!(
        close(ar.cost.time_s, expect, 1e-9),
        "{} vs {expect}",
        ar.cost.time_s
    );
}

#[test]
fn pipeline_send_volume_by_hand() {
    // Example (a): each boundary moves 4 micro-batches x 32 samples x 1024 fp32 forward and
    // as many gradients backward. A1-A2 and B1-B2 are NVLink, A2-B1 crosses the NICs. A2 and
    // B1 sit on different rails, so each crossing first hops over NVLink to the sender's
    // same-rail peer (PXN): A2 -> A1 -> B1 and B1 -> B2 -> A2.
    let (job, cluster, plan) = worked::example_a().unwrap();
    let r = evaluate(&job, &cluster, &plan).unwrap();
    let msg = 32.0 * 1024.0 * 4.0;
    let class = |c: LinkClass| {
        r.links
            .totals
            .iter()
            .find(|t| t.class == c)
            .map(|t| t.bytes_per_step)
            .unwrap_or(0.0)
    };
    assert_eq!(class(LinkClass::NvlinkUp), (2.0 * 2.0 + 2.0) * 4.0 * msg);
    assert_eq!(class(LinkClass::NicUp), 2.0 * 4.0 * msg);
    assert_eq!(class(LinkClass::LeafToSpine), 0.0);
}

#[test]
fn transformer_params_and_flops_match_megatron_formulas() {
    let (l, h, heads, s, v) = (4u64, 256u64, 8u64, 128u64, 1000u64);
    let model = gpt(l, h, heads, s, v);
    let costs = model_costs(&model, Precision::Bf16);
    let (lf, hf, sf, vf) = (l as f64, h as f64, s as f64, v as f64);
    // Narayanan et al. 2021: P = 12 l h^2 (1 + 13/(12h) + (V+s)/(12 l h)), plus the final norm.
    let p = 12.0 * lf * hf * hf + 13.0 * lf * hf + (vf + sf) * hf + 2.0 * hf;
    assert_eq!(costs.total_params(), p);
    // Model FLOPs per token without recomputation: 72 l h^2 (1 + s/(6h) + V/(12 l h)).
    let f = 72.0 * lf * hf * hf * (1.0 + sf / (6.0 * hf) + vf / (12.0 * lf * hf));
    assert!(close(costs.model_flops_per_token(), f, 1e-12));
}

#[test]
fn transformer_activation_memory_matches_korthikanti() {
    let (l, h, heads, s, v) = (4u64, 256u64, 8u64, 128u64, 1000u64);
    let (hf, sf, af) = (h as f64, s as f64, heads as f64);
    let b = 2.0;
    let t = 2.0;
    let mut job = Job::new(gpt(l, h, heads, s, v), 8);
    job.micro_batch = 2;
    job.flash_attention = false;
    job.memory_reserve_bytes = 0.0;
    let cluster = free_comm_node(4);
    let per_layer = |sp: bool, rc: Recompute| {
        let mut plan = Plan::new(&job, 1, 2, 2);
        plan.sequence_parallel = sp;
        plan.recompute = rc;
        let r = evaluate(&job, &cluster, &plan).unwrap();
        // Stage 0 holds the embedding (no stored activations) and 2 layers.
        r.memory[0].memory.activations_per_micro_batch / 2.0
    };
    let sbh = sf * b * hf;
    // Tensor parallel without SP: sbh (10 + 24/t + 5as/(ht)).
    assert!(close(
        per_layer(false, Recompute::None),
        sbh * (10.0 + 24.0 / t + 5.0 * af * sf / (hf * t)),
        1e-12
    ));
    // With SP: sbh (34/t + 5as/(ht)).
    assert!(close(
        per_layer(true, Recompute::None),
        sbh * (34.0 / t + 5.0 * af * sf / (hf * t)),
        1e-12
    ));
    // Selective recomputation drops the attention core: sbh 34/t.
    assert!(close(
        per_layer(true, Recompute::Selective),
        sbh * 34.0 / t,
        1e-12
    ));
    // Full recomputation keeps the layer input only: 2sbh/t with SP.
    assert!(close(
        per_layer(true, Recompute::Full),
        2.0 * sbh / t,
        1e-12
    ));
}

#[test]
fn zero_stages_shard_model_states_as_in_the_paper() {
    // Psi parameters, mixed-precision Adam (K = 12), Nd = 64.
    let job = {
        let mut j = Job::new(megatron_gpt(36, 4096, 32), 64);
        j.memory_reserve_bytes = 0.0;
        j
    };
    let psi = model_costs(&job.model, job.precision).total_params();
    let cluster = Cluster::new(gpu_preset("a100").unwrap(), 8, 8);
    let nd = 64.0;
    for (z, expect) in [
        (0u8, 16.0 * psi),
        (1, 4.0 * psi + 12.0 * psi / nd),
        (2, 2.0 * psi + 14.0 * psi / nd),
        (3, 16.0 * psi / nd),
    ] {
        let mut plan = Plan::new(&job, 64, 1, 1);
        plan.zero = ZeroStage(z);
        let r = evaluate(&job, &cluster, &plan).unwrap();
        let m = &r.memory[0].memory;
        let states = m.weights + m.gradients + m.optimizer_states;
        assert!(
            close(states, expect, 1e-12),
            "zero {z}: {states} vs {expect}"
        );
    }
}

#[test]
fn bubble_fraction_gpipe_and_1f1b() {
    let cluster = free_comm_node(4);
    for sched in [Schedule::Gpipe, Schedule::OneFOneB] {
        for m in [1u64, 4, 8, 16] {
            let mut job = Job::new(mlp(4, 256), m * 8);
            job.micro_batch = 8;
            let mut plan = Plan::new(&job, 1, 1, 4);
            plan.schedule = sched;
            let r = evaluate(&job, &cluster, &plan).unwrap();
            let p = 4.0;
            let expect = (p - 1.0) / (m as f64 + p - 1.0);
            assert!(
                close(r.summary.bubble_fraction, expect, 1e-9),
                "{sched:?} m={m}: {} vs {expect}",
                r.summary.bubble_fraction
            );
        }
    }
}

#[test]
fn bubble_fraction_interleaved() {
    let cluster = free_comm_node(4);
    for (v, m) in [(2u32, 4u64), (2, 8), (4, 8), (2, 16)] {
        let mut job = Job::new(mlp(16, 256), m * 8);
        job.micro_batch = 8;
        let mut plan = Plan::new(&job, 1, 1, 4);
        plan.schedule = Schedule::Interleaved;
        plan.virtual_stages = v;
        let r = evaluate(&job, &cluster, &plan).unwrap();
        let p = 4.0;
        let expect = (p - 1.0) / (v as f64 * m as f64 + p - 1.0);
        assert!(
            close(r.summary.bubble_fraction, expect, 1e-9),
            "v={v} m={m}: {} vs {expect}",
            r.summary.bubble_fraction
        );
    }
}

#[test]
fn in_flight_micro_batches_per_schedule() {
    use nettwin_fabric::schedule::{peak_in_flight, stage_ops};
    let (p, m) = (4u32, 8u32);
    for s in 0..p {
        assert_eq!(peak_in_flight(&stage_ops(Schedule::Gpipe, p, 1, m, s)), m);
        assert_eq!(
            peak_in_flight(&stage_ops(Schedule::OneFOneB, p, 1, m, s)),
            p - s
        );
    }
    // Interleaved stage 0 holds 2(p-1) + (v-1)p + 1 chunk activation sets, i.e. Megatron's
    // p(1 + (p-1)/(pv)) micro-batches' worth of the whole stage.
    let v = 2;
    let chunks = peak_in_flight(&stage_ops(Schedule::Interleaved, p, v, m, 0));
    assert_eq!(chunks, 2 * (p - 1) + (v - 1) * p + 1);
    let stage_equiv = chunks as f64 / v as f64;
    assert!(close(
        stage_equiv,
        p as f64 * (1.0 + (p as f64 - 1.0) / (p as f64 * v as f64)),
        1e-12
    ));
}

#[test]
fn every_schedule_runs_each_micro_batch_once_per_chunk() {
    use nettwin_fabric::schedule::stage_ops;
    for (sched, v) in [
        (Schedule::Gpipe, 1),
        (Schedule::OneFOneB, 1),
        (Schedule::Interleaved, 2),
        (Schedule::Interleaved, 3),
    ] {
        for s in 0..4 {
            let ops = stage_ops(sched, 4, v, 8, s);
            assert_eq!(ops.len(), 2 * 8 * v as usize);
            for mb in 0..8 {
                for c in 0..v {
                    for b in [false, true] {
                        let n = ops
                            .iter()
                            .filter(|o| o.micro_batch == mb && o.chunk == c && o.backward == b)
                            .count();
                        assert_eq!(n, 1, "{sched:?} v={v} s={s} mb={mb} c={c} b={b}");
                    }
                }
            }
        }
    }
}

#[test]
fn recomputation_costs_one_extra_forward() {
    let cluster = free_comm_node(1);
    let mut job = Job::new(gpt(2, 256, 8, 128, 1000), 4);
    job.memory_reserve_bytes = 0.0;
    let base = evaluate(&job, &cluster, &Plan::new(&job, 1, 1, 1)).unwrap();
    let mut plan = Plan::new(&job, 1, 1, 1);
    plan.recompute = Recompute::Full;
    let full = evaluate(&job, &cluster, &plan).unwrap();
    // Same model FLOPs; hardware FLOPs add one forward of the layers (not of the head).
    assert_eq!(
        base.summary.model_flops_per_step,
        full.summary.model_flops_per_step
    );
    assert!(full.summary.step_time_s > base.summary.step_time_s);
    let costs = model_costs(&job.model, job.precision);
    let layer_fwd: f64 = costs
        .layers
        .iter()
        .map(|b| b.flops_fwd_tok + b.attn_fwd_tok)
        .sum();
    let extra = full.summary.hardware_tflops_per_gpu * full.summary.step_time_s * 1e12
        - base.summary.hardware_tflops_per_gpu * base.summary.step_time_s * 1e12;
    assert!(close(extra, layer_fwd * job.tokens_per_step(), 1e-9));
}

#[test]
fn storage_formats_scale_memory_items_exactly() {
    // Psi parameters, ZeRO-1 over Nd = 64: fp32 gradients 4 Psi; Adam with BF16 moments
    // K = 4 (fp32 master) + 2 + 2 = 8; FP8-cached activations are half the 16-bit count,
    // except the fp32 logits of the output head.
    let mut job = Job::new(megatron_gpt(36, 4096, 32), 64);
    job.memory_reserve_bytes = 0.0;
    job.zero = ZeroStage(1);
    let psi = model_costs(&job.model, job.precision).total_params();
    let cluster = Cluster::new(gpu_preset("a100").unwrap(), 8, 8);
    let plan = Plan::new(&job, 64, 1, 1);
    let base = evaluate(&job, &cluster, &plan).unwrap().memory[0]
        .memory
        .clone();
    let mut narrow = job.clone();
    narrow.gradient_precision = Some(Precision::Fp32);
    narrow.moment_precision = Precision::Bf16;
    narrow.activation_precision = Some(Precision::Fp8);
    let r = evaluate(&narrow, &cluster, &plan).unwrap();
    let m = &r.memory[0].memory;
    assert!(close(m.gradients, 4.0 * psi, 1e-12));
    assert!(close(m.optimizer_states, 8.0 * psi / 64.0, 1e-12));
    assert!(close(m.weights, base.weights, 1e-12));
    let tokens = 2048.0;
    let logits = 4.0 * 51200.0 * tokens;
    assert!(close(
        m.activations_per_micro_batch - logits,
        (base.activations_per_micro_batch - logits) / 2.0,
        1e-12
    ));
    // Storage formats change memory, not time.
    let t0 = evaluate(&job, &cluster, &plan)
        .unwrap()
        .summary
        .pipeline_time_s;
    assert!(close(r.summary.pipeline_time_s, t0, 1e-12));
}
