//! Properties of any valid plan: the simulation never deadlocks, a GPU never runs two compute
//! ops at once, every op respects its data dependency, and the totals are consistent.

use nettwin_fabric::schedule::EventKind;
use nettwin_fabric::*;
use proptest::prelude::*;

fn small_moe() -> Model {
    let Model::Transformer(mut t) = megatron_gpt(8, 256, 8) else {
        unreachable!()
    };
    t.seq_len = 256;
    t.vocab = 2000;
    t.moe = Some(Moe {
        experts: 8,
        active_experts: 2,
        shared_experts: 1,
        expert_ffn_hidden: 512,
        dense_layers: 1,
    });
    Model::Transformer(t)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_valid_plan_simulates_consistently(
        tp_log in 0u32..3, pp_log in 0u32..3, ep_log in 0u32..3, mb_log in 0u32..3,
        zero in 0u8..4, sched in 0usize..3, v in 2u32..4, rc in 0usize..3, moe in any::<bool>(),
        overlap in any::<bool>(), shape in any::<bool>(),
    ) {
        let model = if moe { small_moe() } else { megatron_gpt(8, 256, 8) };
        let mut job = Job::new(model, 64);
        job.overlap_grad_reduce = overlap;
        let mut cluster = Cluster::new(gpu_preset("h100").unwrap(), 4, 8);
        cluster.nodes_per_leaf = 2;
        cluster.spine_links_per_leaf = 4;
        if shape { cluster.shape = FabricShape::FatTree; }
        let (tp, pp) = (1u32 << tp_log, 1u32 << pp_log);
        let dp = 32 / (tp * pp);
        let mut plan = Plan::new(&job, dp, tp, pp);
        plan.ep = if moe { 1 << ep_log } else { 1 };
        plan.micro_batch = 1 << mb_log;
        plan.zero = ZeroStage(zero);
        plan.recompute = [Recompute::None, Recompute::Selective, Recompute::Full][rc];
        plan.schedule = [Schedule::Gpipe, Schedule::OneFOneB, Schedule::Interleaved][sched];
        if plan.schedule == Schedule::Interleaved { plan.virtual_stages = v; }
        let ev = Evaluator::new(&job, &cluster).unwrap();
        prop_assume!(ev.check(&plan).is_ok());
        let r = evaluate(&job, &cluster, &plan).unwrap();
        let m = plan.micro_batches(&job) as usize;
        prop_assert!(r.summary.step_time_s > 0.0 && r.summary.step_time_s.is_finite());
        prop_assert!(r.summary.step_time_s >= r.summary.pipeline_time_s);
        prop_assert!((0.0..1.0).contains(&r.summary.bubble_fraction));
        prop_assert!(r.summary.mfu > 0.0 && r.summary.mfu <= r.summary.hfu + 1e-12);
        for t in &r.timelines {
            let mut compute: Vec<_> = t.events.iter().filter(|e| e.lane == 0).collect();
            compute.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
            for w in compute.windows(2) {
                prop_assert!(w[1].start_s >= w[0].end_s - 1e-12, "overlap on {}", t.gpu);
            }
            let f = t.events.iter().filter(|e| e.kind == EventKind::Forward).count();
            let b = t.events.iter().filter(|e| e.kind == EventKind::Backward).count();
            prop_assert_eq!(f, m * plan.virtual_stages as usize);
            prop_assert_eq!(b, f);
        }
        // Forward of micro-batch j on stage s+1 starts after it ends on stage s.
        if plan.virtual_stages == 1 {
            for s in 1..plan.pp as usize {
                for j in 0..m as u32 {
                    let end_prev = r.timelines[s - 1].events.iter()
                        .find(|e| e.kind == EventKind::Forward && e.micro_batch == Some(j)).unwrap().end_s;
                    let start = r.timelines[s].events.iter()
                        .find(|e| e.kind == EventKind::Forward && e.micro_batch == Some(j)).unwrap().start_s;
                    prop_assert!(start >= end_prev);
                }
            }
        }
        // Memory only shrinks with a higher ZeRO stage.
        if zero < 3 {
            let mut p2 = plan.clone();
            p2.zero = ZeroStage(zero + 1);
            prop_assert!(ev.peak_memory(&p2).unwrap() <= ev.peak_memory(&plan).unwrap() + 1e-6);
        }
    }
}
