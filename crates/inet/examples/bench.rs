//! Timings for docs/benchmarks.md:
//! `cargo run --release --example bench -- [ASES] [TRIALS]` (defaults 80000 and 200).

use std::time::Instant;

use nettwin_inet::bench::{load, synthetic_caida_text, HijackBench};
use nettwin_inet::experiment::{Experiment, ExperimentParams, Shard};
use nettwin_inet::{AttackKind, Defences};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ases: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(80_000);
    let trials: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);

    let t = Instant::now();
    let text = synthetic_caida_text(ases, 1).expect("valid size");
    let gen_s = t.elapsed().as_secs_f64();
    let mut loads = Vec::new();
    let mut graph = None;
    for _ in 0..5 {
        let t = Instant::now();
        let g = load(&text).expect("generated text parses");
        loads.push(t.elapsed().as_secs_f64() * 1e3);
        graph = Some(g);
    }
    let g = graph.expect("loaded");
    loads.sort_by(|a, b| a.total_cmp(b));
    println!(
        "graph: {} ASes, {} links ({} provider-customer, {} peer), {} ranks, CAIDA text {:.1} MB (generated in {:.2} s)",
        g.len(),
        g.link_count(),
        g.provider_customer_link_count(),
        g.peer_link_count(),
        g.rank_count(),
        text.len() as f64 / 1e6,
        gen_s
    );
    println!(
        "load (parse CAIDA text + build): min {:.1} ms, median {:.1} ms over 5",
        loads[0], loads[2]
    );

    for attack in [AttackKind::Prefix, AttackKind::Subprefix] {
        let mut b = HijackBench::new(&g, attack).expect("scenario");
        b.run_once(); // warm-up
        let t = Instant::now();
        let mut captured = 0u64;
        for _ in 0..trials {
            captured += b.run_once().attacker as u64;
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / trials as f64;
        println!(
            "one trial, {attack} hijack, full propagation + data plane, 1 core: {ms:.2} ms ({} ASes captured)",
            captured / trials as u64
        );
    }

    let rov = Defences {
        rov: true,
        ..Defences::none()
    };
    let aspa = Defences {
        aspa: true,
        ..Defences::none()
    };
    for (attack, defences, threads) in [
        (AttackKind::Subprefix, rov, 1),
        (AttackKind::Subprefix, rov, 2),
        (AttackKind::RouteLeak, aspa, 2),
    ] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let params = ExperimentParams::new(attack, defences, vec![50.0], trials, 7);
        let exp = Experiment::new(&g, params).expect("experiment");
        let t = Instant::now();
        let res = pool.install(|| exp.run(Shard::WHOLE, &|_| {}));
        let s = t.elapsed().as_secs_f64();
        println!(
            "experiment ({attack} vs {defences} at 50%, random victim/attacker/adopters), {threads} thread(s): {} trials in {s:.2} s = {:.0} trials/s",
            res.records.len(),
            res.records.len() as f64 / s
        );
    }
}
