//! Monte Carlo experiments: known limits at 0% and 100% adoption, reproducibility across
//! thread counts and shards, merging, statistics and the plot data.

use std::sync::atomic::{AtomicU64, Ordering};

use nettwin_inet::experiment::{
    mean_ci, outcome_plot_svg, outcome_vs_adoption, rows_to_csv, AdoptionStrategy, Experiment,
    ExperimentParams, ExperimentResult, Metric, Shard,
};
use nettwin_inet::synthetic::{generate, SyntheticParams};
use nettwin_inet::{AsGraph, AttackKind, Defences};

fn graph() -> AsGraph {
    generate(&SyntheticParams::new(400), 11).unwrap()
}

fn params(trials: u32, seed: u64) -> ExperimentParams {
    ExperimentParams::new(
        AttackKind::Subprefix,
        Defences {
            rov: true,
            ..Defences::none()
        },
        vec![0.0, 50.0, 100.0],
        trials,
        seed,
    )
}

fn row(result: &ExperimentResult, adoption: f64, metric: Metric) -> (f64, f64, f64) {
    let r = result
        .rows()
        .into_iter()
        .find(|r| r.adoption == adoption && r.metric == metric)
        .unwrap();
    (r.mean, r.ci_low, r.ci_high)
}

#[test]
fn subprefix_hijack_versus_rov_limits() {
    let g = graph();
    let exp = Experiment::new(&g, params(12, 5)).unwrap();
    let calls = AtomicU64::new(0);
    let res = exp.run(Shard::WHOLE, &|d| {
        calls.fetch_add(d, Ordering::Relaxed);
    });
    assert_eq!(calls.load(Ordering::Relaxed), 12);
    assert_eq!(res.records.len(), 36);
    // No ROV: every AS holds the attacker's more specific and follows it.
    assert_eq!(row(&res, 0.0, Metric::Attacker), (1.0, 1.0, 1.0));
    // Everyone runs ROV: the invalid /24 is dropped by all the attacker's neighbours.
    assert_eq!(row(&res, 100.0, Metric::Attacker), (0.0, 0.0, 0.0));
    assert_eq!(row(&res, 100.0, Metric::Victim), (1.0, 1.0, 1.0));
    let (half, lo, hi) = row(&res, 50.0, Metric::Attacker);
    assert!(half > 0.0 && half < 1.0 && lo <= half && half <= hi);
    // A visible sub-prefix is always detected (the collectors are the best-connected ASes).
    assert_eq!(row(&res, 0.0, Metric::Detected).0, 1.0);
    let csv = rows_to_csv(&res.rows());
    assert!(csv.starts_with(
        "adoption,metric,trials,mean,std_dev,ci_low,ci_high\n0,attacker,12,1.000000,"
    ));
    let series = outcome_vs_adoption(&res.rows(), &[Metric::Attacker]);
    assert_eq!(series[0].points.len(), 3);
    assert_eq!((series[0].points[0].x, series[0].points[0].y), (0.0, 100.0));
    assert!(outcome_plot_svg(&res).contains("<polyline"));
}

#[test]
fn shards_merge_to_the_whole_run_and_threads_do_not_matter() {
    let g = graph();
    let exp = Experiment::new(&g, params(10, 77)).unwrap();
    let whole = exp.run(Shard::WHOLE, &|_| {});
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| exp.run(Shard::WHOLE, &|_| {}));
    assert_eq!(whole, one_thread);
    let parts: Vec<ExperimentResult> = ["2/3", "0/3", "1/3"]
        .iter()
        .map(|s| exp.run(s.parse().unwrap(), &|_| {}))
        .collect();
    assert!(!parts[0].is_complete());
    // Shards round-trip through JSON, as they do between machines.
    let parts: Vec<ExperimentResult> = parts
        .iter()
        .map(|p| serde_json::from_str(&serde_json::to_string(p).unwrap()).unwrap())
        .collect();
    let merged = ExperimentResult::merge(parts.clone()).unwrap();
    assert!(merged.is_complete());
    assert_eq!(merged.records, whole.records);
    assert_eq!(merged.rows(), whole.rows());
    // Twice the same shard, or another experiment: refused.
    assert!(ExperimentResult::merge(vec![parts[0].clone(), parts[0].clone()]).is_err());
    let other = Experiment::new(&g, params(10, 78))
        .unwrap()
        .run("1/3".parse().unwrap(), &|_| {});
    assert!(ExperimentResult::merge(vec![parts[0].clone(), other]).is_err());
    // Another seed gives other trials.
    let again = Experiment::new(&g, params(10, 78))
        .unwrap()
        .run(Shard::WHOLE, &|_| {});
    assert_ne!(again.records, whole.records);
}

#[test]
fn shard_and_level_parsing() {
    assert_eq!(
        "1/4".parse::<Shard>().unwrap(),
        Shard { index: 1, count: 4 }
    );
    for bad in ["4/4", "1/0", "x/2", "3"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
    let g = graph();
    let mut p = params(1, 1);
    p.adoption = vec![120.0];
    assert!(Experiment::new(&g, p).is_err());
}

#[test]
fn confidence_interval_matches_student_t() {
    // 1,2,3,4: mean 2.5, sample sd sqrt(5/3), t(0.975, 3) = 3.182.
    let (m, sd, half) = mean_ci(&[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(m, 2.5);
    assert!((sd - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
    assert!((half - 3.182 * sd / 2.0).abs() < 1e-12);
}

#[test]
fn tier1_and_cone_strategies() {
    let g = graph();
    for strategy in [AdoptionStrategy::TopByCone, AdoptionStrategy::Tier1Only] {
        let mut p = params(6, 3);
        p.attack = AttackKind::Prefix;
        p.strategy = strategy.clone();
        let res = Experiment::new(&g, p).unwrap().run(Shard::WHOLE, &|_| {});
        // ROV at the top of the hierarchy can only help the victim.
        let none = row(&res, 0.0, Metric::Attacker).0;
        let full = row(&res, 100.0, Metric::Attacker).0;
        assert!(full < none, "{strategy:?}: {none} -> {full}");
        if strategy == AdoptionStrategy::TopByCone {
            assert_eq!(full, 0.0);
        }
    }
}
