//! `nettwin fabric`: size an AI training job on a GPU cluster with `nettwin-fabric`: evaluate
//! one parallel plan, rank every plan, or time the plan search. Only argument parsing and
//! printing live here; every number comes from the library.

use crate::{output, Global};
use anyhow::Context;
use nettwin_fabric::spec::GIB;
use nettwin_fabric::{
    gpu_preset, model_preset, Algorithm, Cluster, FabricError, Job, LoadError, Plan, Precision,
    Recompute, Report, Scenario, Schedule, SearchOptions, ZeroStage,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Size an AI training job on a GPU cluster: memory per GPU, step time, bottleneck links.
///
/// A scenario file (YAML, see examples/fabric/) holds the model, the GPU, the cluster, the
/// training job and optionally a plan or search options. `plan` and `search` also accept
/// presets from flags instead of a file.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    nettwin fabric plan examples/fabric/a-mlp-pipeline.yaml --svg a.svg\n  \
    nettwin fabric plan --model llama-70b --gpu h100 --gpus 1024 --global-batch 1024 --tp 8 --pp 4\n  \
    nettwin fabric search examples/fabric/search-70b-1024-h100.yaml --top 10\n  \
    cargo run --release -p nettwin -- fabric bench")]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    Plan(PlanArgs),
    Search(SearchArgs),
    Bench(BenchArgs),
}

/// Where the job and cluster come from: a scenario file, or presets named by flags.
#[derive(clap::Args)]
struct Source {
    /// Scenario file (YAML): model, gpu, cluster, job and optionally plan / search.
    #[arg(required_unless_present = "model", conflicts_with = "model")]
    file: Option<PathBuf>,
    /// Model preset instead of a file: mlp-small, gpt3-175b, llama-70b, llama3-405b, deepseek-v3.
    #[arg(long, requires_all = ["gpu", "gpus", "global_batch"])]
    model: Option<String>,
    /// GPU preset (with --model): v100, a100, h100, h800, h200, b200.
    #[arg(long, requires = "model")]
    gpu: Option<String>,
    /// Number of GPUs in the cluster (with --model).
    #[arg(long, requires = "model")]
    gpus: Option<u32>,
    /// GPUs per node (with --model).
    #[arg(long, default_value_t = 8, requires = "model")]
    gpus_per_node: u32,
    /// NIC bandwidth per GPU, Gbit/s (with --model; default 400).
    #[arg(long, requires = "model")]
    nic_gbps: Option<f64>,
    /// Samples (sequences) per optimizer step; overrides the file's job.
    #[arg(long)]
    global_batch: Option<u64>,
    /// Matmul precision (fp32, bf16, fp16, fp8); overrides the file's job.
    #[arg(long, value_parser = parse_precision)]
    precision: Option<Precision>,
}

/// Evaluate one parallel plan: step time, MFU, memory per GPU, collectives, busiest links.
///
/// Plan flags override the file's `plan:` (or build one from the job's defaults); when TP, PP or
/// CP change and --dp is not given, DP takes the remaining GPUs.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    nettwin fabric plan examples/fabric/a-mlp-pipeline.yaml\n  \
    nettwin fabric plan examples/fabric/a-mlp-pipeline.yaml --svg a-mlp.svg\n  \
    nettwin fabric plan examples/fabric/c-llama70b-2048-h100.yaml --pp 8 --json\n  \
    nettwin fabric plan --model llama-70b --gpu h100 --gpus 1024 --global-batch 1024 \\\n      \
    --tp 8 --pp 4 --vp 2 --zero 1")]
struct PlanArgs {
    #[command(flatten)]
    source: Source,
    /// Write the per-GPU timeline as an SVG Gantt chart to this file.
    #[arg(long, value_name = "OUT.svg")]
    svg: Option<PathBuf>,
    /// Data-parallel degree (default: the GPUs left over by TP, PP and CP).
    #[arg(long)]
    dp: Option<u32>,
    /// Tensor-parallel degree.
    #[arg(long)]
    tp: Option<u32>,
    /// Pipeline-parallel degree (stages).
    #[arg(long)]
    pp: Option<u32>,
    /// Model chunks per pipeline GPU (interleaved schedule).
    #[arg(long)]
    vp: Option<u32>,
    /// Expert-parallel degree (MoE models; carved out of DP).
    #[arg(long)]
    ep: Option<u32>,
    /// Context-parallel degree.
    #[arg(long)]
    cp: Option<u32>,
    /// Samples per micro-batch.
    #[arg(long)]
    micro_batch: Option<u64>,
    /// ZeRO stage 0-3.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=3))]
    zero: Option<u8>,
    /// Activation recomputation: none, selective, full.
    #[arg(long, value_parser = parse_recompute)]
    recompute: Option<Recompute>,
    /// Pipeline schedule: gpipe, 1f1b, interleaved.
    #[arg(long, value_parser = parse_schedule)]
    schedule: Option<Schedule>,
    /// Collective algorithm: ring, tree, auto.
    #[arg(long, value_parser = parse_algorithm)]
    algorithm: Option<Algorithm>,
}

/// Rank every valid plan by tokens/s.
///
/// Plans vary DP, TP, PP, EP, micro-batch, ZeRO stage, schedule and recomputation (the file's
/// `search:` options); plans that do not fit in GPU memory are left out unless --include-unfit.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    nettwin fabric search examples/fabric/search-70b-1024-h100.yaml --top 5\n  \
    nettwin fabric search --model llama-70b --gpu h100 --gpus 1024 --global-batch 1024 --json")]
struct SearchArgs {
    #[command(flatten)]
    source: Source,
    /// How many plans to list.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Also rank plans that do not fit (after those that do).
    #[arg(long)]
    include_unfit: bool,
}

/// Time the plan search on the built-in benchmark case.
///
/// The case is a 70B-class dense model (Llama-70B shape, 8,192-token sequences, global batch
/// 1,024) on 1,024 H100s. Build with --release.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  cargo run --release -p nettwin -- fabric bench --iterations 5")]
struct BenchArgs {
    /// Timed runs (after one warm-up).
    #[arg(long, default_value_t = 5)]
    iterations: usize,
    /// Simulate every candidate, not only those that fit in memory.
    #[arg(long)]
    all: bool,
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    match args.what {
        What::Plan(a) => plan(a, g),
        What::Search(a) => search(a, g),
        What::Bench(a) => bench(a, g),
    }
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    Precision::parse(s).ok_or_else(|| format!("unknown precision `{s}` (fp32, bf16, fp16, fp8)"))
}

fn parse_recompute(s: &str) -> Result<Recompute, String> {
    Recompute::parse(s)
        .ok_or_else(|| format!("unknown recomputation `{s}` (none, selective, full)"))
}

fn parse_schedule(s: &str) -> Result<Schedule, String> {
    Schedule::parse(s).ok_or_else(|| format!("unknown schedule `{s}` (gpipe, 1f1b, interleaved)"))
}

fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
    match s.to_ascii_lowercase().as_str() {
        "ring" => Ok(Algorithm::Ring),
        "tree" => Ok(Algorithm::Tree),
        "auto" => Ok(Algorithm::Auto),
        _ => Err(format!("unknown algorithm `{s}` (ring, tree, auto)")),
    }
}

/// Input errors from the library (unknown preset, bad field, impossible plan) are the user's to
/// fix: exit 2, naming the file when there is one.
fn fabric_error(e: FabricError, file: Option<&str>) -> anyhow::Error {
    let at = file.map(|f| format!("{f}: ")).unwrap_or_default();
    match e {
        FabricError::Internal(_) => anyhow::Error::new(e),
        e => output::BadInput(format!("error: {at}{e}")).into(),
    }
}

/// Reads a scenario file, rendering every load error with `file:line:col` and a snippet.
fn load_scenario(path: &Path) -> anyhow::Result<Scenario> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| output::BadInput(format!("error: cannot read {name}: {e}")))?;
    match nettwin_fabric::load_str(&name, &text) {
        Ok(s) => Ok(s),
        Err(LoadError::Invalid(d)) => {
            Err(output::BadInput(output::render_diagnostics(&d, &text)).into())
        }
        Err(e @ LoadError::Io { .. }) => Err(output::BadInput(format!("error: {e}")).into()),
    }
}

/// The scenario and the file name it came from (None for presets from flags).
fn scenario(src: &Source) -> anyhow::Result<(Scenario, Option<String>)> {
    let (mut s, file) = match (&src.file, &src.model) {
        (Some(path), _) => (load_scenario(path)?, Some(path.display().to_string())),
        (None, Some(model)) => {
            let bad = |e| fabric_error(e, None);
            let model = model_preset(model).map_err(bad)?;
            let gpu = gpu_preset(src.gpu.as_deref().unwrap_or_default()).map_err(bad)?;
            let gpus = src.gpus.unwrap_or_default();
            let per_node = src.gpus_per_node;
            if per_node == 0 || gpus == 0 || gpus % per_node != 0 {
                return Err(output::BadInput(format!(
                    "error: --gpus {gpus} must be a positive multiple of --gpus-per-node {per_node}"
                ))
                .into());
            }
            let mut cluster = Cluster::new(gpu, per_node, gpus / per_node);
            if let Some(n) = src.nic_gbps {
                cluster.nic_gbps = n;
            }
            let job = Job::new(model, src.global_batch.unwrap_or(1));
            let search = SearchOptions::for_job(&job);
            let s = Scenario {
                job,
                cluster,
                plan: None,
                search,
            };
            (s, None)
        }
        (None, None) => unreachable!("clap requires a file or --model"),
    };
    if let Some(b) = src.global_batch {
        s.job.global_batch = b;
    }
    if let Some(p) = src.precision {
        s.job.precision = p;
    }
    Ok((s, file))
}

/// The file's plan with the flags applied on top.
fn plan_from(a: &PlanArgs, s: &Scenario, file: Option<&str>) -> anyhow::Result<Plan> {
    let degrees_given = [a.dp, a.tp, a.pp, a.cp, a.vp, a.ep]
        .iter()
        .any(Option::is_some);
    let mut plan = match (&s.plan, degrees_given) {
        (Some(p), _) => p.clone(),
        (None, true) => Plan::new(&s.job, 1, 1, 1),
        (None, false) => {
            let what = file
                .map(|f| format!("{f} has no `plan:`"))
                .unwrap_or_else(|| "no plan given".into());
            return Err(output::BadInput(format!(
                "error: {what}; give the split with --tp/--pp (and --dp, --vp, --ep, ...) or use `nettwin fabric search`"
            ))
            .into());
        }
    };
    if let Some(tp) = a.tp {
        plan.tp = tp;
        plan.sequence_parallel = tp > 1;
    }
    if let Some(pp) = a.pp {
        plan.pp = pp;
    }
    if let Some(cp) = a.cp {
        plan.cp = cp;
    }
    match a.dp {
        Some(dp) => plan.dp = dp,
        None if a.tp.is_some() || a.pp.is_some() || a.cp.is_some() || s.plan.is_none() => {
            let gpus = s.cluster.gpus() as u64;
            let other = plan.tp as u64 * plan.pp as u64 * plan.cp as u64;
            if other == 0 || gpus % other != 0 {
                return Err(output::BadInput(format!(
                    "error: tp*pp*cp = {other} does not divide the cluster's {gpus} GPUs"
                ))
                .into());
            }
            plan.dp = (gpus / other) as u32;
        }
        None => {}
    }
    if let Some(v) = a.vp {
        plan.virtual_stages = v;
        if v > 1 && a.schedule.is_none() {
            plan.schedule = Schedule::Interleaved;
        }
    }
    if let Some(sched) = a.schedule {
        plan.schedule = sched;
    }
    if let Some(ep) = a.ep {
        plan.ep = ep;
    }
    if let Some(mb) = a.micro_batch {
        plan.micro_batch = mb;
    }
    if let Some(z) = a.zero {
        plan.zero = ZeroStage(z);
    }
    if let Some(r) = a.recompute {
        plan.recompute = r;
    }
    if let Some(al) = a.algorithm {
        plan.algorithm = al;
    }
    Ok(plan)
}

fn plan(a: PlanArgs, g: Global) -> anyhow::Result<()> {
    let (s, file) = scenario(&a.source)?;
    let plan = plan_from(&a, &s, file.as_deref())?;
    let report = nettwin_fabric::evaluate(&s.job, &s.cluster, &plan)
        .map_err(|e| fabric_error(e, file.as_deref()))?;
    if let Some(out) = &a.svg {
        let title = format!(
            "{} on {}: {}",
            report.model, report.cluster, report.plan_label
        );
        let svg = nettwin_fabric::gantt::render_svg(&title, &report.timelines);
        output::write_atomic(out, svg.as_bytes())?;
    }
    if g.json {
        #[derive(serde::Serialize)]
        struct PlanJson<'a> {
            file: Option<&'a str>,
            svg: Option<String>,
            fit: String,
            #[serde(flatten)]
            report: &'a Report,
        }
        return output::print_json(&PlanJson {
            file: file.as_deref(),
            svg: a.svg.as_ref().map(|p| p.display().to_string()),
            fit: fit_line(&report, &s.cluster),
            report: &report,
        });
    }
    print!("{}", plan_text(&report, &s, g.verbose));
    if let Some(out) = &a.svg {
        println!("\nGantt chart written to {}", out.display());
    }
    Ok(())
}

fn search(a: SearchArgs, g: Global) -> anyhow::Result<()> {
    let (mut s, file) = scenario(&a.source)?;
    if a.include_unfit {
        s.search.include_unfit = true;
    }
    let t = Instant::now();
    let outcome = nettwin_fabric::search_with(&s.job, &s.cluster, &s.search)
        .map_err(|e| fabric_error(e, file.as_deref()))?;
    let elapsed = t.elapsed().as_secs_f64();
    let shown = &outcome.ranked[..a.top.min(outcome.ranked.len())];
    if g.json {
        return output::print_json(&serde_json::json!({
            "file": file,
            "model": s.job.model.name(),
            "cluster": s.cluster.name,
            "gpus": s.cluster.gpus(),
            "candidates": outcome.candidates,
            "fitting": outcome.fitting,
            "ranked_total": outcome.ranked.len(),
            "elapsed_s": elapsed,
            "ranked": shown,
        }));
    }
    println!(
        "{} on {} ({} GPUs), global batch {}",
        s.job.model.name(),
        s.cluster.name,
        s.cluster.gpus(),
        s.job.global_batch
    );
    println!(
        "{} candidate plans, {} fit in {:.1} GiB; searched in {:.3} s",
        outcome.candidates,
        outcome.fitting,
        s.cluster.gpu.memory_bytes / GIB,
        elapsed
    );
    if outcome.ranked.is_empty() {
        println!("no plan fits; try --include-unfit to see the closest ones");
        return Ok(());
    }
    println!(
        "top {} of {} ranked by tokens/s:\n",
        shown.len(),
        outcome.ranked.len()
    );
    let mut rows = vec![[
        "rank",
        "DP",
        "TP",
        "PP",
        "EP",
        "CP",
        "mb",
        "ZeRO",
        "schedule",
        "recompute",
        "step",
        "tokens/s",
        "MFU",
        "bubble",
        "mem/GPU GiB",
        "fits",
    ]
    .map(String::from)
    .to_vec()];
    for r in shown {
        let p = &r.plan;
        rows.push(vec![
            r.rank.to_string(),
            p.dp.to_string(),
            p.tp.to_string(),
            p.pp.to_string(),
            p.ep.to_string(),
            p.cp.to_string(),
            p.micro_batch.to_string(),
            p.zero.0.to_string(),
            schedule_name(p),
            recompute_name(p.recompute).to_string(),
            secs(r.step_time_s),
            group_digits(r.tokens_per_s.round() as u64),
            pct(r.mfu),
            pct(r.bubble_fraction),
            format!("{:.2}", r.peak_memory_bytes / GIB),
            yes_no(r.fits).to_string(),
        ]);
    }
    print!("{}", output::table(&rows));
    Ok(())
}

fn bench(a: BenchArgs, g: Global) -> anyhow::Result<()> {
    let (job, cluster) = nettwin_fabric::search::benchmark_case().context("benchmark case")?;
    let mut opts = SearchOptions::for_job(&job);
    opts.include_unfit = a.all;
    // Warm-up: page in code and let rayon start its threads.
    let first = nettwin_fabric::search_with(&job, &cluster, &opts)?;
    let mut last = None;
    let timing = crate::cmd::bench::time(a.iterations, || {
        last = Some(nettwin_fabric::search_with(&job, &cluster, &opts));
    });
    let out = last.context("no timed run")??;
    anyhow::ensure!(
        out.ranked == first.ranked,
        "search results changed between runs"
    );
    let simulated = out.ranked.len();
    let median_s = timing.median_ms / 1e3;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if g.json {
        return output::print_json(&serde_json::json!({
            "case": format!("{} on {} ({} GPUs), global batch {}", job.model.name(), cluster.name, cluster.gpus(), job.global_batch),
            "mode": if a.all { "all" } else { "fitting" },
            "candidates": out.candidates,
            "fitting": out.fitting,
            "simulated": simulated,
            "threads": threads,
            "timing": timing,
            "candidates_per_s": out.candidates as f64 / median_s,
            "simulated_per_s": simulated as f64 / median_s,
            "best": out.ranked.first().map(|r| &r.label),
        }));
    }
    println!(
        "fabric search: {} on {} ({} GPUs), global batch {}; {} threads",
        job.model.name(),
        cluster.name,
        cluster.gpus(),
        job.global_batch,
        threads
    );
    println!(
        "{} candidates, {} fit, {} simulated ({})",
        out.candidates,
        out.fitting,
        simulated,
        if a.all {
            "every candidate"
        } else {
            "the plans that fit"
        }
    );
    println!(
        "{} runs: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        timing.iterations, timing.min_ms, timing.median_ms, timing.max_ms
    );
    println!(
        "{:.0} candidate plans/s, {:.0} simulated plans/s (median)",
        out.candidates as f64 / median_s,
        simulated as f64 / median_s
    );
    if let Some(best) = out.ranked.first() {
        println!(
            "best: {} at {} tokens/s",
            best.label,
            group_digits(best.tokens_per_s.round() as u64)
        );
    }
    Ok(())
}

// ---- rendering -------------------------------------------------------------------------------

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// A duration in the unit that keeps three significant decimals readable.
fn secs(x: f64) -> String {
    if x >= 1.0 {
        format!("{x:.3} s")
    } else if x >= 1e-3 {
        format!("{:.3} ms", x * 1e3)
    } else {
        format!("{:.3} us", x * 1e6)
    }
}

/// `4198400` -> `4,198,400`.
fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Byte counts the report holds are whole numbers; print them exactly.
fn bytes(x: f64) -> String {
    if x.fract() == 0.0 && (0.0..1e18).contains(&x) {
        group_digits(x as u64)
    } else {
        format!("{x:.0}")
    }
}

/// Exact below 10^15, where the digits still mean something to a reader; scientific above.
fn big_count(x: f64) -> String {
    if x.fract() == 0.0 && (0.0..1e15).contains(&x) {
        group_digits(x as u64)
    } else {
        format!("{x:.4e}")
    }
}

fn schedule_name(p: &Plan) -> String {
    match p.schedule {
        Schedule::Gpipe => "gpipe".into(),
        Schedule::OneFOneB => "1f1b".into(),
        Schedule::Interleaved => format!("interleaved v{}", p.virtual_stages),
    }
}

fn recompute_name(r: Recompute) -> &'static str {
    match r {
        Recompute::None => "none",
        Recompute::Selective => "selective",
        Recompute::Full => "full",
    }
}

/// GPU names, all of them when few, otherwise the first few and the count.
fn gpu_list(names: &[String], max: usize) -> String {
    if names.len() <= max {
        names.join(" ")
    } else {
        format!(
            "{} ... {} ({} GPUs)",
            names[..max - 1].join(" "),
            names[names.len() - 1],
            names.len()
        )
    }
}

/// Whether the plan fits and, if not, which stage overflows by how much and with what.
fn fit_line(r: &Report, cluster: &Cluster) -> String {
    let cap = r.summary.gpu_memory_bytes;
    let Some(worst) = r
        .memory
        .iter()
        .max_by(|a, b| a.memory.total.total_cmp(&b.memory.total))
    else {
        return "no stages".into();
    };
    let m = &worst.memory;
    if r.summary.fits {
        return format!(
            "fits: peak {:.3} GiB per GPU (stage {}) of {:.3} GiB on the {}",
            m.total / GIB,
            worst.stage,
            cap / GIB,
            cluster.gpu.name
        );
    }
    let items = [
        ("activations", m.activations),
        ("optimizer states", m.optimizer_states),
        ("weights", m.weights),
        ("gradients", m.gradients),
        ("recompute buffer", m.recompute_buffer),
    ];
    let (big, big_bytes) = items
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or(("", 0.0));
    let over = r.memory.iter().filter(|s| !s.fits).count();
    format!(
        "does NOT fit: stage {} needs {:.3} GiB per GPU but the {} has {:.3} GiB ({:.3} GiB over; \
         largest item {big} {:.3} GiB); {over} of {} stages overflow",
        worst.stage,
        m.total / GIB,
        cluster.gpu.name,
        cap / GIB,
        (m.total - cap) / GIB,
        big_bytes / GIB,
        r.memory.len()
    )
}

fn plan_text(r: &Report, s: &Scenario, verbose: u8) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let m = &r.summary;
    let _ = writeln!(o, "{} on {}: {}", r.model, r.cluster, r.plan_label);
    let _ = writeln!(o, "\nSummary");
    let summary = vec![
        vec![
            "GPUs".into(),
            format!(
                "{} ({} micro-batches of {} per pipeline per step, global batch {})",
                m.gpus, m.micro_batches, r.plan.micro_batch, s.job.global_batch
            ),
        ],
        vec![
            "step time".into(),
            format!(
                "{} (pipeline {}, bubble {})",
                secs(m.step_time_s),
                secs(m.pipeline_time_s),
                pct(m.bubble_fraction)
            ),
        ],
        vec![
            "throughput".into(),
            format!(
                "{} tokens/s ({:.1} per GPU)",
                group_digits(m.tokens_per_s.round() as u64),
                m.tokens_per_s_per_gpu
            ),
        ],
        vec![
            "MFU".into(),
            format!(
                "{} (HFU {}; {:.1} model, {:.1} hardware TFLOP/s per GPU)",
                pct(m.mfu),
                pct(m.hfu),
                m.model_tflops_per_gpu,
                m.hardware_tflops_per_gpu
            ),
        ],
        vec![
            "model FLOPs/step".into(),
            format!("{} FLOP", big_count(m.model_flops_per_step)),
        ],
        vec![
            "parameters".into(),
            format!(
                "{} (active per token {})",
                group_digits(m.total_params.round() as u64),
                group_digits(m.active_params.round() as u64)
            ),
        ],
        vec!["memory".into(), fit_line(r, &s.cluster)],
    ];
    indent(&mut o, &output::table(&summary));

    let _ = writeln!(o, "\nPlacement");
    let mut rows = vec![vec!["stage".to_string(), "layers".into(), "GPUs".into()]];
    for (stage, gpus) in r.placement.stage_gpus.iter().enumerate() {
        let chunks: Vec<String> = r
            .placement
            .chunks
            .iter()
            .filter(|c| c.stage as usize == stage)
            .map(|c| {
                let (lo, hi) = c.layers;
                let mut t = if lo == hi {
                    format!("{}", lo + 1)
                } else {
                    format!("{}-{}", lo + 1, hi + 1)
                };
                if c.embedding {
                    t = format!("embedding+{t}");
                }
                if c.head {
                    t += "+head";
                }
                t
            })
            .collect();
        rows.push(vec![
            stage.to_string(),
            chunks.join(", "),
            gpu_list(gpus, 4),
        ]);
    }
    indent(&mut o, &output::table(&rows));
    let _ = writeln!(o, "\nGroups");
    let mut rows = vec![vec![
        "kind".to_string(),
        "groups".into(),
        "size".into(),
        "links crossed".into(),
        "first group".into(),
    ]];
    for gs in &r.placement.groups {
        rows.push(vec![
            gs.kind.clone(),
            gs.count.to_string(),
            gs.size.to_string(),
            gs.links
                .iter()
                .map(|l| format!("{l:?}"))
                .collect::<Vec<_>>()
                .join(","),
            gs.examples
                .first()
                .map(|e| gpu_list(e, 8))
                .unwrap_or_default(),
        ]);
    }
    indent(&mut o, &output::table(&rows));

    // Small models (the MLP examples) would show all zeros at three decimals.
    let peak = r.memory.iter().map(|x| x.memory.total).fold(0.0, f64::max);
    let dec = if peak >= GIB { 3 } else { 6 };
    let gib = |x: f64| format!("{:.dec$}", x / GIB);
    let _ = writeln!(o, "\nMemory per GPU (GiB)");
    let mut rows = vec![[
        "stage",
        "weights",
        "gradients",
        "optimizer",
        "activations",
        "per micro-batch",
        "in flight",
        "recompute buf",
        "reserve",
        "total",
        "fits",
    ]
    .map(String::from)
    .to_vec()];
    for st in &r.memory {
        let x = &st.memory;
        rows.push(vec![
            st.stage.to_string(),
            gib(x.weights),
            gib(x.gradients),
            gib(x.optimizer_states),
            gib(x.activations),
            gib(x.activations_per_micro_batch),
            x.in_flight.to_string(),
            gib(x.recompute_buffer),
            gib(x.reserve),
            gib(x.total),
            yes_no(st.fits).into(),
        ]);
    }
    indent(&mut o, &output::table(&rows));

    if !r.layer_memory.is_empty() {
        let _ = writeln!(o, "\nMemory per layer on the GPUs that hold it (bytes)");
        let mut rows = vec![[
            "layer",
            "shape",
            "GPUs",
            "weights",
            "weighted sums",
            "activations",
            "errors",
            "local grads",
            "remote grads",
            "learning rate",
            "weight adjustments",
        ]
        .map(String::from)
        .to_vec()];
        for l in &r.layer_memory {
            rows.push(vec![
                l.layer.to_string(),
                format!("{}x{}", l.inputs, l.outputs),
                gpu_list(&l.gpus, 4),
                bytes(l.weights),
                bytes(l.weighted_sums),
                bytes(l.activations),
                bytes(l.errors),
                bytes(l.local_gradients),
                bytes(l.remote_gradients),
                bytes(l.learning_rate),
                bytes(l.weight_adjustments),
            ]);
        }
        indent(&mut o, &output::table(&rows));
        let _ = writeln!(
            o,
            "  (errors and remote gradients are transient and not in the stage totals)"
        );
    }

    let _ = writeln!(o, "\nCollectives");
    let mut rows = vec![[
        "what",
        "op",
        "GPUs",
        "bytes",
        "per step",
        "time each",
        "total/step",
        "ideal",
        "worst",
    ]
    .map(String::from)
    .to_vec()];
    for c in &r.collectives {
        rows.push(vec![
            c.name.clone(),
            format!("{:?}", c.op),
            c.group_size.to_string(),
            bytes(c.bytes),
            format!("{}", c.per_step),
            secs(c.cost.time_s),
            secs(c.cost.time_s * c.per_step),
            secs(c.cost.time_ideal_s),
            secs(c.cost.time_worst_s),
        ]);
    }
    indent(&mut o, &output::table(&rows));

    let _ = writeln!(o, "\nBusiest links");
    let mut rows = vec![["link", "class", "bytes/step", "effective Gbit/s", "busy"]
        .map(String::from)
        .to_vec()];
    for l in r
        .links
        .busiest
        .iter()
        .take(if verbose > 0 { usize::MAX } else { 5 })
    {
        rows.push(vec![
            l.link.clone(),
            format!("{:?}", l.class),
            bytes(l.bytes_per_step),
            format!("{:.0}", l.bytes_per_s_capacity * 8.0 / 1e9),
            pct(l.utilisation),
        ]);
    }
    indent(&mut o, &output::table(&rows));
    let _ = writeln!(o, "\nTraffic per link class");
    let mut rows = vec![["class", "links", "bytes/step"].map(String::from).to_vec()];
    for t in &r.links.totals {
        rows.push(vec![
            format!("{:?}", t.class),
            t.links.to_string(),
            bytes(t.bytes_per_step),
        ]);
    }
    indent(&mut o, &output::table(&rows));

    let _ = writeln!(
        o,
        "\nECMP on the spine (scenario uses {:?})",
        s.cluster.ecmp
    );
    let rows = vec![
        vec!["ideal".to_string(), secs(r.ecmp.ideal_s)],
        vec!["expected".into(), secs(r.ecmp.expected_s)],
        vec!["worst".into(), secs(r.ecmp.worst_s)],
    ];
    indent(&mut o, &output::table(&rows));

    if verbose > 0 {
        for t in &r.timelines {
            let _ = writeln!(o, "\nTimeline {} (stage {})", t.gpu, t.stage);
            for e in &t.events {
                let _ = writeln!(
                    o,
                    "  {:>14} - {:>14}  {}{:?}{}{}",
                    secs(e.start_s),
                    secs(e.end_s),
                    if e.lane == 0 { "" } else { "  " },
                    e.kind,
                    e.micro_batch
                        .map(|m| format!(" mb{}", m + 1))
                        .unwrap_or_default(),
                    e.chunk.map(|c| format!(" chunk{c}")).unwrap_or_default()
                );
            }
        }
    }
    o
}

fn indent(o: &mut String, block: &str) {
    for line in block.lines() {
        o.push_str("  ");
        o.push_str(line);
        o.push('\n');
    }
}
