//! Dataplane benchmarks, for `nettwin bench`: all-pairs reachability and traces per second on a
//! generated ISP network (`nettwin_model::generate::isp`).

use crate::{output, Global};

/// All-pairs reachability and trace throughput on a generated ISP network.
#[derive(clap::Args)]
pub struct ReachBenchArgs {
    #[arg(long, default_value_t = 2000)]
    pub routers: usize,
    /// Prefixes each router originates into BGP.
    #[arg(long, default_value_t = 1)]
    pub prefixes: usize,
    /// Repetitions of the all-pairs run.
    #[arg(long, default_value_t = 3)]
    pub iterations: usize,
    /// Traces (random router to random loopback, every ECMP branch) to time.
    #[arg(long, default_value_t = 2000)]
    pub traces: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

// Wired under `nettwin bench` by the lead.
pub fn run_reach_bench(args: ReachBenchArgs, g: Global) -> anyhow::Result<()> {
    if args.routers < 2 {
        return Err(output::BadInput("error: need --routers >= 2".into()).into());
    }
    let r = nettwin_dataplane::bench::reach_bench(
        args.routers,
        args.prefixes,
        args.seed,
        args.iterations,
        args.traces,
    )?;
    if g.json {
        return output::print_json(&r);
    }
    let n = r.reach_ms.len();
    println!(
        "isp {} routers ({} prefixes each): routing {:.0} ms (once); all-pairs reach {} pairs ({} delivered): min {:.1} ms, median {:.1} ms, max {:.1} ms over {n} runs",
        r.routers, r.prefixes, r.routing_ms, r.pairs, r.delivered, r.reach_ms[0], r.reach_ms[n / 2], r.reach_ms[n - 1]
    );
    println!(
        "traces (every ECMP branch, 1500 B DF UDP): {} in {:.1} ms = {:.0} traces/s, {:.1} hops per trace",
        r.traces, r.trace_ms, r.traces_per_s, r.hops_per_trace
    );
    Ok(())
}
