//! Runs the dataplane benchmark without the CLI: `cargo run --release -p nettwin-dataplane
//! --example reach_bench -- ROUTERS [PREFIXES] [ITERATIONS] [TRACES]`. `nettwin bench` runs the
//! same workload.

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let get = |i: usize, d: usize| args.get(i).copied().unwrap_or(d);
    let r =
        nettwin_dataplane::bench::reach_bench(get(0, 2000), get(1, 1), 1, get(2, 3), get(3, 2000))
            .expect("benchmark runs");
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
}
