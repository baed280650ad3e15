//! `nettwin bench`: timing of the engine on generated inputs (release builds only make sense).

use crate::{output, Global};
use std::time::{Duration, Instant};

/// Measure how fast nettwin works on generated inputs. Build with --release.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cargo run --release -- bench load --nodes 10000 --links 20000\n  cargo run --release -- bench routing --fat-tree 16\n  cargo run --release -- bench reach --help\n  cargo run --release -- inet bench\n  cargo run --release -- fabric bench"
)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Parse, resolve and validate a generated topology of random routers.
    Load {
        #[arg(long, default_value_t = 10_000)]
        nodes: usize,
        #[arg(long, default_value_t = 20_000)]
        links: usize,
        #[arg(long, default_value_t = 10)]
        iterations: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Sessions and commands per second of the SSH device CLI with concurrent clients.
    Cli(super::bench_cli::CliBenchArgs),
    /// HTTP probes per second against a local `probe serve` target, CPU per probe and memory
    /// over the run; --blackbox PATH adds blackbox_exporter and nettwin through /probe.
    Probe(super::bench_probe::ProbeBenchArgs),
    /// All-pairs reachability and traces per second on a generated ISP network.
    Reach(super::bench_dataplane::ReachBenchArgs),
    /// Full routing (OSPF + iBGP with two route reflectors) on a generated ISP network, or
    /// OSPF on a k-ary fat-tree with --fat-tree K; also prints the time per phase of the last
    /// run.
    Routing {
        /// Routers (default 2000; 1000 with --sr).
        #[arg(long)]
        routers: Option<usize>,
        /// Prefixes each router originates into BGP.
        #[arg(long, default_value_t = 10)]
        prefixes: usize,
        /// Instead: a k-ary fat-tree (k even), OSPF only.
        #[arg(long)]
        fat_tree: Option<usize>,
        #[arg(long, default_value_t = 3)]
        iterations: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Instead: IS-IS with SR node SIDs, iBGP, and SR-TE policies by CSPF steered by
        /// colour; the timing includes resolving the steering of every head-end's BGP routes.
        #[arg(long, conflicts_with = "fat_tree")]
        sr: bool,
        /// SR-TE policies with --sr.
        #[arg(long, default_value_t = 1000)]
        policies: usize,
        /// Also write the generated topology to this file (to inspect it or rerun it with
        /// other commands).
        #[arg(long, value_name = "FILE")]
        save: Option<std::path::PathBuf>,
    },
}

/// Minimum, median and maximum of repeated timings.
#[derive(serde::Serialize)]
pub struct Timing {
    pub iterations: usize,
    pub min_ms: f64,
    pub median_ms: f64,
    pub max_ms: f64,
}

pub fn time<F: FnMut()>(iterations: usize, mut f: F) -> Timing {
    summarize(
        (0..iterations.max(1))
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

/// Times `f` and keeps its last result; earlier results are dropped outside the timing (like
/// criterion's `iter_with_large_drop`): freeing a network's tables is not computing them.
pub fn time_keep<T, F: FnMut() -> T>(iterations: usize, mut f: F) -> (Timing, T) {
    let mut samples = Vec::new();
    let mut last = None;
    for _ in 0..iterations.max(1) {
        drop(last.take());
        let t = Instant::now();
        let r = f();
        samples.push(t.elapsed());
        last = Some(r);
    }
    (summarize(samples), last.expect("at least one run"))
}

fn summarize(mut samples: Vec<Duration>) -> Timing {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Timing {
        iterations: samples.len(),
        min_ms: ms(samples[0]),
        median_ms: ms(samples[samples.len() / 2]),
        max_ms: ms(samples[samples.len() - 1]),
    }
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    match args.what {
        What::Load {
            nodes,
            links,
            iterations,
            seed,
        } => {
            if nodes < 2 || links + 1 < nodes {
                return Err(output::BadInput(
                    "error: need --nodes >= 2 and --links >= nodes - 1".into(),
                )
                .into());
            }
            let text = nettwin_model::generate::random_routers(nodes, links, seed);
            let mut loaded = None;
            let timing = time(iterations, || {
                loaded = Some(nettwin_model::load_str("generated.yml", &text).map(|t| t.summary()));
            });
            let summary = loaded
                .expect("ran at least once")
                .map_err(|e| anyhow::anyhow!("generated topology is invalid: {e}"))?;
            if g.json {
                return output::print_json(&serde_json::json!({
                    "bench": "load", "nodes": nodes, "links": links, "bytes": text.len(),
                    "summary": summary, "timing": timing,
                }));
            }
            println!(
                "load+validate {nodes} nodes, {links} links ({:.1} MB of YAML): min {:.1} ms, median {:.1} ms, max {:.1} ms over {} runs",
                text.len() as f64 / 1e6, timing.min_ms, timing.median_ms, timing.max_ms, timing.iterations
            );
        }
        What::Reach(a) => return super::bench_dataplane::run_reach_bench(a, g),
        What::Cli(a) => return super::bench_cli::run(a, g),
        What::Probe(a) => return super::bench_probe::run(a, g),
        What::Routing {
            routers,
            prefixes,
            fat_tree,
            iterations,
            seed,
            save,
            sr,
            policies,
        } => {
            let routers = routers.unwrap_or(if sr { 1000 } else { 2000 });
            if sr {
                return bench_sr(routers, policies, iterations, seed, save, g);
            }
            let (label, text) = match fat_tree {
                Some(k) if k >= 2 && k % 2 == 0 => (
                    format!("fat-tree k={k}"),
                    nettwin_model::generate::fat_tree(k),
                ),
                Some(_) => {
                    return Err(
                        output::BadInput("error: --fat-tree needs an even k >= 2".into()).into(),
                    )
                }
                None if routers >= 2 => (
                    format!(
                        "{routers} routers x {prefixes} BGP prefixes, OSPF + 2 route reflectors"
                    ),
                    nettwin_model::generate::isp(routers, prefixes, seed),
                ),
                None => {
                    return Err(
                        output::BadInput("error: --routers must be at least 2".into()).into(),
                    )
                }
            };
            let topo = nettwin_model::load_str("generated.yml", &text)
                .map_err(|e| anyhow::anyhow!("generated topology is invalid: {e}"))?;
            if let Some(path) = save {
                output::write_atomic(&path, text.as_bytes())?;
            }
            let (timing, last) = time_keep(iterations, || {
                nettwin_routing::compute(&topo).expect("generated topology routes")
            });
            // Counted outside the timing: the count puts every FIB together.
            let routes: usize = topo.nodes.iter().map(|n| last.fib(n.id).len()).sum();
            let phases = phases_ms(&last);
            if g.json {
                let phases = phases_json(&phases);
                return output::print_json(&serde_json::json!({
                    "bench": "routing", "network": label, "nodes": topo.nodes.len(), "links": topo.links.len(),
                    "fib_routes": routes, "timing": timing, "last_run_phases": phases,
                }));
            }
            println!(
                "routing {label}: {} nodes, {} links, {routes} FIB routes in all: min {:.1} ms, median {:.1} ms, max {:.1} ms over {} runs",
                topo.nodes.len(), topo.links.len(), timing.min_ms, timing.median_ms, timing.max_ms, timing.iterations
            );
            println!("  last run by phase: {}", phases_text(&phases));
        }
    }
    Ok(())
}

/// `bench routing --sr`: routing, labels and SR-TE policies, then every head-end's BGP routes
/// resolved to their steering (policy or fallback), all inside the timing.
fn bench_sr(
    routers: usize,
    policies: usize,
    iterations: usize,
    seed: u64,
    save: Option<std::path::PathBuf>,
    g: Global,
) -> anyhow::Result<()> {
    if routers < 2 {
        return Err(output::BadInput("error: --routers must be at least 2".into()).into());
    }
    let text = nettwin_model::generate::sr_te(routers, policies, seed);
    let topo = nettwin_model::load_str("generated.yml", &text)
        .map_err(|e| anyhow::anyhow!("generated topology is invalid: {e}"))?;
    if let Some(path) = save {
        output::write_atomic(&path, text.as_bytes())?;
    }
    let heads: Vec<nettwin_model::NodeId> = {
        let mut h: Vec<_> = topo
            .nodes
            .iter()
            .map(|n| n.id)
            .filter(|id| topo.node(*id).config.contains_key("sr"))
            .collect();
        h.sort();
        h
    };
    let (timing, (last, steered, resolved)) = time_keep(iterations, || {
        let r = nettwin_routing::compute(&topo).expect("generated topology routes");
        let (mut steered, mut resolved) = (0usize, 0usize);
        for id in &heads {
            for route in r.fib(*id).routes() {
                if route.bgp.is_none() {
                    continue;
                }
                resolved += 1;
                if r.imposition(*id, &route)
                    .imposition
                    .is_some_and(|i| i.tunnel.is_some())
                {
                    steered += 1;
                }
            }
        }
        (r, steered, resolved)
    });
    let up = last.tunnels().iter().filter(|t| t.is_up()).count();
    let lfib: usize = last.labels.nodes.iter().map(|n| n.lfib.len()).sum();
    let phases = phases_ms(&last);
    if g.json {
        let phases = phases_json(&phases);
        return output::print_json(&serde_json::json!({
            "bench": "routing-sr", "nodes": topo.nodes.len(), "links": topo.links.len(),
            "policies": last.tunnels().len(), "policies_up": up, "lfib_entries": lfib,
            "bgp_routes_resolved": resolved, "steered": steered,
            "timing": timing, "last_run_phases": phases,
        }));
    }
    println!(
        "routing --sr: {} routers, {} links, {} SR-TE policies ({up} up), {lfib} LFIB entries, {resolved} head-end BGP routes resolved ({steered} into policies): min {:.1} ms, median {:.1} ms, max {:.1} ms over {} runs",
        topo.nodes.len(), topo.links.len(), last.tunnels().len(), timing.min_ms, timing.median_ms, timing.max_ms, timing.iterations
    );
    println!("  last run by phase: {}", phases_text(&phases));
    Ok(())
}

/// How long each phase of one routing computation took, in milliseconds.
fn phases_ms(routing: &nettwin_routing::Routing) -> Vec<(&'static str, f64)> {
    routing
        .phases
        .iter()
        .map(|(name, d)| (*name, d.as_secs_f64() * 1e3))
        .collect()
}

fn phases_json(phases: &[(&str, f64)]) -> Vec<serde_json::Value> {
    phases
        .iter()
        .map(|(name, ms)| serde_json::json!({"phase": name, "ms": ms}))
        .collect()
}

fn phases_text(phases: &[(&str, f64)]) -> String {
    let parts: Vec<String> = phases
        .iter()
        .map(|(name, ms)| format!("{name} {ms:.0} ms"))
        .collect();
    parts.join(", ")
}
