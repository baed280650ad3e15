//! `cargo run --release --example bench_search [repeats]`: time `search` on the benchmark case.
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let (job, cluster) = nettwin_fabric::search::benchmark_case()?;
    let mut opts = nettwin_fabric::SearchOptions::for_job(&job);
    // `all`: simulate every candidate, including those that do not fit in memory.
    opts.include_unfit = std::env::args().nth(2).as_deref() == Some("all");
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeats {
        let t = Instant::now();
        let out = nettwin_fabric::search::search_with(&job, &cluster, &opts)?;
        times.push(t.elapsed().as_secs_f64());
        last = Some(out);
    }
    let out = last.ok_or("no repeats")?;
    times.sort_by(f64::total_cmp);
    println!(
        "candidates {} fitting {} threads {} best-of-{} {:.3} s median {:.3} s ({:.0} plans/s)",
        out.candidates,
        out.fitting,
        rayon::current_num_threads(),
        repeats,
        times[0],
        times[times.len() / 2],
        out.candidates as f64 / times[times.len() / 2]
    );
    for p in out.ranked.iter().take(5) {
        println!(
            "#{} {} {:.0} tok/s mfu {:.3} mem {:.1} GiB",
            p.rank,
            p.label,
            p.tokens_per_s,
            p.mfu,
            p.peak_memory_bytes / (1u64 << 30) as f64
        );
    }
    Ok(())
}
