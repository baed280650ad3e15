//! `nettwin bench`: timing of the engine on generated inputs (release builds only make sense).

use crate::{output, Global};
use std::time::{Duration, Instant};

/// Measure how fast nettwin works on generated inputs. Build with --release.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  cargo run --release -- bench load --nodes 10000 --links 20000")]
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
    let mut samples: Vec<Duration> = (0..iterations.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
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
    }
    Ok(())
}
