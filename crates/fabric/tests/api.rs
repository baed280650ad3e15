//! Search ranking, Gantt rendering, JSON output and input errors.

use nettwin_fabric::search::{search_with, SearchOptions};
use nettwin_fabric::*;

#[test]
fn search_ranks_fitting_valid_plans_by_throughput() {
    let (job, cluster) = search::benchmark_case().unwrap();
    let out = search_with(&job, &cluster, &SearchOptions::for_job(&job)).unwrap();
    assert!(
        out.candidates > 1000,
        "thousands of plans: {}",
        out.candidates
    );
    assert!(!out.ranked.is_empty());
    assert_eq!(out.fitting, out.ranked.len());
    let ev = Evaluator::new(&job, &cluster).unwrap();
    for w in out.ranked.windows(2) {
        assert!(w[0].tokens_per_s >= w[1].tokens_per_s);
    }
    let mut labels: Vec<_> = out.ranked.iter().map(|p| p.label.clone()).collect();
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len(), out.ranked.len(), "plans are unique");
    for p in out.ranked.iter().take(20) {
        assert!(p.fits && p.peak_memory_bytes <= cluster.gpu.memory_bytes);
        assert!(ev.check(&p.plan).is_ok());
        assert_eq!(p.plan.world(), 1024);
    }
    // The search's fast path agrees with the full evaluation.
    let best = &out.ranked[0];
    let full = evaluate(&job, &cluster, &best.plan).unwrap();
    assert!((full.summary.tokens_per_s - best.tokens_per_s).abs() < 1e-6 * best.tokens_per_s);
    assert_eq!(full.summary.step_time_s, best.step_time_s);
}

#[test]
fn search_finds_expert_parallel_plans_for_moe() {
    let mut job = Job::new(model_preset("deepseek-v3").unwrap(), 4096);
    job.recompute = Recompute::Full;
    let cluster = Cluster::new(gpu_preset("h800").unwrap(), 8, 256);
    let mut opts = SearchOptions::for_job(&job);
    opts.include_unfit = true;
    opts.micro_batches = vec![1];
    opts.zero_stages = vec![1];
    let out = search_with(&job, &cluster, &opts).unwrap();
    assert!(out.ranked.iter().any(|p| p.plan.ep > 1));
    assert!(out.ranked.iter().all(|p| p.plan.dp % p.plan.ep == 0));
}

#[test]
fn gantt_has_one_bar_per_event_and_names_gpus() {
    let (job, cluster, plan) = worked::example_a().unwrap();
    let r = evaluate(&job, &cluster, &plan).unwrap();
    let svg = gantt::render_svg("example <a>", &r.timelines);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    let events: usize = r.timelines.iter().map(|t| t.events.len()).sum();
    // Legend adds 7 rectangles.
    assert_eq!(svg.matches("<rect").count(), events + 7);
    for name in ["A1", "A2", "B1", "B2"] {
        assert!(svg.contains(&format!(">{name} (stage")));
    }
    assert!(svg.contains("example &lt;a&gt;"));
    // Each GPU runs 4 forwards and 4 backwards.
    for t in &r.timelines {
        let f = t
            .events
            .iter()
            .filter(|e| e.kind == schedule::EventKind::Forward)
            .count();
        let b = t
            .events
            .iter()
            .filter(|e| e.kind == schedule::EventKind::Backward)
            .count();
        assert_eq!((f, b), (4, 4));
        for e in &t.events {
            assert!(e.end_s >= e.start_s && e.end_s <= r.summary.step_time_s + 1e-12);
        }
    }
}

#[test]
fn report_serialises_to_json() {
    let (job, cluster, plan) = worked::example_b().unwrap();
    let r = evaluate(&job, &cluster, &plan).unwrap();
    let v: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(v["summary"]["gpus"], 4);
    assert!(v["memory"][0]["memory"]["weights"].as_f64().unwrap() > 0.0);
    assert_eq!(v["plan"]["schedule"], "one_f_one_b");
}

#[test]
fn bad_plans_and_presets_are_errors_not_panics() {
    let (job, cluster, mut plan) = worked::example_a().unwrap();
    plan.dp = 2;
    let e = evaluate(&job, &cluster, &plan).unwrap_err();
    assert!(matches!(e, FabricError::InvalidPlan { .. }), "{e}");
    assert!(e.to_string().contains("cluster has 4 GPUs"));
    let (job, cluster, mut plan) = worked::example_a().unwrap();
    plan.micro_batch = 3;
    assert!(evaluate(&job, &cluster, &plan)
        .unwrap_err()
        .to_string()
        .contains("not a multiple"));
    let (job, cluster, mut plan) = worked::example_a().unwrap();
    plan.tp = 2;
    plan.pp = 2;
    assert!(evaluate(&job, &cluster, &plan).is_err());
    let e = gpu_preset("h1000").unwrap_err();
    assert!(e.to_string().contains("h100"), "{e}");
    assert!(model_preset("gpt5").is_err());
    let (job, cluster, mut plan) = worked::example_c_dense().unwrap();
    plan.virtual_stages = 1;
    plan.schedule = Schedule::Interleaved;
    assert!(evaluate(&job, &cluster, &plan)
        .unwrap_err()
        .to_string()
        .contains("virtual_stages >= 2"));
    plan.schedule = Schedule::OneFOneB;
    plan.ep = 2;
    assert!(evaluate(&job, &cluster, &plan)
        .unwrap_err()
        .to_string()
        .contains("MoE"));
    let mut c2 = cluster.clone();
    c2.oversubscription = 0.5;
    assert!(matches!(
        evaluate(&job, &c2, &plan),
        Err(FabricError::InvalidInput { .. })
    ));
}

#[test]
fn placement_names_layers_and_groups() {
    let (job, cluster, plan) = worked::example_a().unwrap();
    let r = evaluate(&job, &cluster, &plan).unwrap();
    let layers: Vec<_> = r.placement.chunks.iter().map(|c| c.layers).collect();
    assert_eq!(layers, vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
    assert_eq!(
        r.placement.stage_gpus,
        vec![vec!["A1"], vec!["A2"], vec!["B1"], vec!["B2"]]
    );
    let pipe = r
        .placement
        .groups
        .iter()
        .find(|g| g.kind == "pipeline")
        .unwrap();
    assert_eq!(pipe.examples[0], vec!["A1", "A2", "B1", "B2"]);
    // Llama 3 style uneven split: 126 layers on 16 stages, short stages at both ends.
    let ranges = evaluate::layer_ranges(126, 16);
    assert_eq!(ranges[0], (0, 7));
    assert_eq!(ranges[15].1 - ranges[15].0, 7);
    assert!(ranges[1..15].iter().all(|r| r.1 - r.0 == 8));
}
