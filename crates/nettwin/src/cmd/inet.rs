//! `nettwin inet ...`: AS-level BGP hijack simulation over CAIDA AS-relationship graphs (the
//! `nettwin-inet` crate, model in docs/inet.md). Monte Carlo experiments with sharding, one
//! scenario inspected AS by AS, one AS's route choice explained, and timings. This module only
//! reads files, calls the library and writes what it returns.

use crate::{output, Global};
use nettwin_inet::experiment::{
    outcome_plot_svg, rows_to_csv, AdoptionStrategy, Experiment, ExperimentError, ExperimentParams,
    ExperimentResult, Metric, ResultRow, Shard,
};
use nettwin_inet::{
    bench, collectors, explain, parse_roas, propagate, synthetic, AsGraph, AttackKind,
    DecidingRule, Defences, Explanation, Owner, Prefix, Rejection, Scenario, ScenarioError, Scope,
};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

const AFTER_HELP: &str = "\
Examples:
  nettwin inet run --synthetic 20000 --attack subprefix --defense rov --adoption 0,10,...,100 --trials 1000 --seed 7 --out results/
  nettwin inet run --graph 20240101.as-rel2.txt --attack prefix --shard 3/16 --out shards/
  nettwin inet merge shards/shard-*-of-16.json --out results/
  nettwin inet run --graph examples/inet/ten-as.txt --victim 6 --attacker 9 --attack subprefix --defense rov --adopters examples/inet/adopters.txt --collectors examples/inet/collectors.txt --per-as routes.jsonl
  nettwin inet route --graph examples/inet/ten-as.txt --victim 6 --attacker 9 --attack subprefix --as 10
  cargo run --release -p nettwin -- inet bench --synthetic 80000 --trials 200

The model (attacks, defences, collectors, output fields) is described in docs/inet.md.";

/// Internet-scale BGP hijack simulation on AS-relationship graphs (CAIDA format).
#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    // Boxed: the run flags are large and `Args` sits in the binary's command enum.
    #[command(subcommand)]
    what: Box<What>,
}

#[derive(clap::Subcommand)]
enum What {
    Run(RunArgs),
    Merge(MergeArgs),
    Route(RouteArgs),
    Bench(BenchArgs),
}

/// Where the AS graph comes from.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("graph_source").required(true).args(["graph", "synthetic"])))]
struct GraphArgs {
    /// CAIDA AS-relationship file (`as1|as2|-1` provider-customer, `as1|as2|0` peers; serial-1
    /// or serial-2).
    #[arg(long, value_name = "FILE")]
    graph: Option<PathBuf>,
    /// Generate a reproducible Internet-like graph of N ASes instead (10 to 1000000).
    #[arg(long, value_name = "N")]
    synthetic: Option<usize>,
    /// Seed of the synthetic graph and of the experiment's random draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// What is announced and who defends, common to experiments and single scenarios.
#[derive(clap::Args)]
struct AttackArgs {
    /// none, prefix, subprefix, forged-origin, forged-origin-subprefix or route-leak.
    #[arg(long, value_name = "KIND")]
    attack: String,
    /// Defences the adopting ASes run: none, rov, aspa, peerlock, combined with + (rov+aspa).
    #[arg(long, value_name = "D", default_value = "none")]
    defense: String,
    /// How the attacker hides its announcement: all, no-export, avoid-collectors,
    /// neighbors:ASN,ASN, combined with + (avoid-collectors+no-export).
    #[arg(long, value_name = "SCOPE", default_value = "all")]
    stealth: String,
    /// Collector peers, one ASN per line (default: the best-connected n/20 ASes, at most 400).
    /// ASNs missing from the graph are dropped with a warning.
    #[arg(long, value_name = "FILE")]
    collectors: Option<PathBuf>,
    /// The victim's prefix.
    #[arg(long, value_name = "PREFIX", default_value = "10.0.0.0/16")]
    prefix: String,
    /// Length of the attacker's more specific in sub-prefix attacks.
    #[arg(long, value_name = "LEN", default_value_t = 24)]
    subprefix_len: u8,
}

/// The ASes of one scenario.
#[derive(clap::Args)]
struct OneScenarioArgs {
    /// The AS that owns and announces the prefix (single scenario).
    #[arg(long, value_name = "ASN")]
    victim: Option<u32>,
    /// The AS that attacks (single scenario; not needed with --attack none).
    #[arg(long, value_name = "ASN")]
    attacker: Option<u32>,
    /// ASes that run --defense: one ASN per line. In an experiment, the first p% of this list
    /// (in file order) adopt at p% adoption.
    #[arg(long, value_name = "FILE")]
    adopters: Option<PathBuf>,
    /// ROAs as validators export them (`ASN,IP Prefix,Max Length[,Trust Anchor]`); default: one
    /// ROA for the victim's prefix, max length = its length (single scenario).
    #[arg(long, value_name = "FILE")]
    roas: Option<PathBuf>,
}

/// Run a Monte Carlo experiment (outcome vs adoption), or one scenario with --victim.
///
/// Experiment: for each trial a random victim and attacker among ASes without customers and, for
/// random adoption, a random adoption order; each trial runs at every adoption level. Trials run
/// in parallel and are reproducible from --seed whatever the thread count or sharding. Writes
/// into --out: results.csv (adoption,metric,trials,mean,std_dev,ci_low,ci_high), results.json
/// (parameters, per-trial counts and the rows) and results.svg (outcome vs adoption with 95%
/// confidence bands). With --shard i/n only trials t with t % n == i run and the shard file
/// shard-i-of-n.json is written instead, for `nettwin inet merge`.
///
/// Single scenario (--victim given): runs it once, prints what the data plane and the
/// collectors saw, and with --per-as writes one JSON line per AS and prefix it holds.
#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
struct RunArgs {
    #[command(flatten)]
    graph: GraphArgs,
    #[command(flatten)]
    attack: AttackArgs,
    #[command(flatten)]
    one: OneScenarioArgs,
    /// Adoption levels in percent: a comma list, `...` continues the step of the two values
    /// before it up to the value after it [default: 0,10,...,100 with a defence, else 0].
    #[arg(long, value_name = "LIST")]
    adoption: Option<String>,
    /// Who adopts at p%: random (nested random sets), top-cone (largest customer cones), tier1
    /// [default: random].
    #[arg(long, value_name = "STRATEGY")]
    adoption_strategy: Option<String>,
    /// Number of trials (each run at every adoption level) [default: 100].
    #[arg(long, value_name = "N")]
    trials: Option<u32>,
    /// Run only part i of n (0-based, as Slurm array and Kubernetes indexed-Job indices are).
    #[arg(long, value_name = "i/n")]
    shard: Option<String>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Directory for the result files, created if missing [default: the current directory].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write one JSON line per AS and prefix it holds (single scenario).
    #[arg(long, value_name = "FILE.jsonl")]
    per_as: Option<PathBuf>,
}

/// Join the shard files of a sharded experiment.
///
/// Writes results.csv, results.json and results.svg as the unsharded run would (the same CSV
/// byte for byte). Refuses shards of different runs, a shard given twice, or a missing shard.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  nettwin inet run --synthetic 5000 --attack prefix --trials 200 --shard 0/2 --out shards/\n  nettwin inet run --synthetic 5000 --attack prefix --trials 200 --shard 1/2 --out shards/\n  nettwin inet merge shards/shard-0-of-2.json shards/shard-1-of-2.json --out results/"
)]
struct MergeArgs {
    /// Shard files written by `nettwin inet run --shard i/n`.
    #[arg(required = true, value_name = "SHARD")]
    shards: Vec<PathBuf>,
    /// Directory for the result files (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
}

/// Explain one AS's route choice: its candidates and the deciding rule.
///
/// Runs one scenario (same flags as `run --victim`) and lists, per prefix, the routes the AS's
/// neighbours offered it, best first, whether import policy accepted each, and the rule that
/// picked the winner.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  nettwin inet route --graph examples/inet/ten-as.txt --victim 6 --attacker 9 --attack subprefix --defense rov --adopters examples/inet/adopters.txt --as 10\n\nRules, in order: originated (the AS announces the prefix), relationship (customer over peer over\nprovider), path-length (shorter AS path), lowest-neighbor-asn; only-candidate and no-candidate\nwhen there was nothing to compare."
)]
struct RouteArgs {
    #[command(flatten)]
    graph: GraphArgs,
    #[command(flatten)]
    attack: AttackArgs,
    #[command(flatten)]
    one: OneScenarioArgs,
    /// The AS whose choice is explained.
    #[arg(long = "as", value_name = "ASN")]
    asn: u32,
}

/// Time graph loading, one trial on one core, and experiment throughput on 1 and all cores.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  cargo run --release -p nettwin -- inet bench --synthetic 80000 --trials 200"
)]
struct BenchArgs {
    /// Size of the synthetic graph (written as CAIDA text, then parsed back: the load timed).
    #[arg(long, value_name = "N", default_value_t = 80_000)]
    synthetic: usize,
    /// Trials per timing.
    #[arg(long, value_name = "N", default_value_t = 200)]
    trials: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Threads of the "all cores" measurement (default: the number of cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    match *args.what {
        What::Run(a) => {
            if a.one.victim.is_some() || a.per_as.is_some() {
                run_one(a, g)
            } else {
                run_experiment(a, g)
            }
        }
        What::Merge(a) => merge(a, g),
        What::Route(a) => route(a, g),
        What::Bench(a) => run_bench(a, g),
    }
}

/// More threads than this many per core only add scheduling and memory (each has its stack
/// and per-trial state), never speed.
const MAX_THREADS_PER_CORE: usize = 8;

/// `--threads`: all cores by default; 1 up to [`MAX_THREADS_PER_CORE`] times the cores.
fn worker_threads(asked: Option<usize>) -> anyhow::Result<usize> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let max = cores * MAX_THREADS_PER_CORE;
    match asked {
        None => Ok(cores),
        Some(0) => Err(bad("--threads: need at least 1 thread")),
        Some(n) if n > max => Err(bad(format!(
            "--threads {n}: at most {max} ({MAX_THREADS_PER_CORE} per core on this machine's {cores} cores)"
        ))),
        Some(n) => Ok(n),
    }
}

fn bad(msg: impl std::fmt::Display) -> anyhow::Error {
    output::BadInput(format!("error: {msg}")).into()
}

fn read_input(path: &Path, flag: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| bad(format!("cannot read {} ({flag}): {e}", path.display())))
}

fn parse_flag<T: std::str::FromStr>(flag: &str, text: &str) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| bad(format!("{flag}: {e}")))
}

/// The loaded graph and a one-line description of where it came from.
struct LoadedGraph {
    graph: AsGraph,
    source: String,
}

fn load_graph(a: &GraphArgs) -> anyhow::Result<LoadedGraph> {
    let (graph, source) = match (&a.graph, a.synthetic) {
        (Some(path), _) => {
            let name = path.display().to_string();
            let text = read_input(path, "--graph")?;
            (AsGraph::parse_caida(&text, &name).map_err(bad)?, name)
        }
        (None, Some(n)) => (
            synthetic::generate(&synthetic::SyntheticParams::new(n), a.seed)
                .map_err(|e| bad(format!("--synthetic: {e}")))?,
            format!("synthetic {n} ASes, seed {}", a.seed),
        ),
        (None, None) => return Err(bad("give --graph FILE or --synthetic N")),
    };
    Ok(LoadedGraph { graph, source })
}

/// An ASN list file in file order (first occurrence kept), with each ASN's line number.
fn read_asn_list(path: &Path, flag: &str) -> anyhow::Result<Vec<(u32, usize)>> {
    let name = path.display().to_string();
    let text = read_input(path, flag)?;
    // The library validates (and reports file:line); the order it discards matters for
    // explicit adoption lists, so it is recovered here from the validated text.
    collectors::parse_asn_list(&text, &name).map_err(bad)?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let t = raw.split('#').next().unwrap_or("").trim();
        let t = t
            .strip_prefix("AS")
            .or_else(|| t.strip_prefix("as"))
            .unwrap_or(t);
        if let Ok(asn) = t.parse::<u32>() {
            if seen.insert(asn) {
                out.push((asn, i + 1));
            }
        }
    }
    Ok(out)
}

/// Collector peers from --collectors (unknown ASNs dropped with a warning), else `None`.
fn read_collectors(a: &AttackArgs, graph: &AsGraph) -> anyhow::Result<Option<Vec<u32>>> {
    let Some(path) = &a.collectors else {
        return Ok(None);
    };
    let mut asns: Vec<u32> = read_asn_list(path, "--collectors")?
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    let missing = collectors::retain_known(graph, &mut asns);
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|a| format!("AS{a}")).collect();
        eprintln!(
            "warning: {}: {} collector peer(s) not in the graph, ignored: {}",
            path.display(),
            missing.len(),
            list.join(" ")
        );
    }
    Ok(Some(asns))
}

/// Adopters from --adopters, in file order; every ASN must be in the graph.
fn read_adopters(path: &Path, graph: &AsGraph) -> anyhow::Result<Vec<u32>> {
    let list = read_asn_list(path, "--adopters")?;
    if let Some((asn, line)) = list.iter().find(|(a, _)| graph.id(*a).is_none()) {
        return Err(bad(format!(
            "{}:{line}: adopter AS{asn} is not in the graph",
            path.display()
        )));
    }
    Ok(list.into_iter().map(|(a, _)| a).collect())
}

/// Attack, defences, scope and prefixes parsed from their flags.
struct Common {
    attack: AttackKind,
    defences: Defences,
    scope: Scope,
    prefix: Prefix,
    subprefix_len: u8,
}

fn parse_common(a: &AttackArgs) -> anyhow::Result<Common> {
    Ok(Common {
        attack: parse_flag("--attack", &a.attack)?,
        defences: parse_flag("--defense", &a.defense)?,
        scope: parse_flag("--stealth", &a.stealth)?,
        prefix: parse_flag("--prefix", &a.prefix)?,
        subprefix_len: a.subprefix_len,
    })
}

/// `0,10,...,100`: a comma list in which `...` continues the step of the two values before it
/// up to the value after it. Levels must increase.
fn parse_adoption(text: &str) -> Result<Vec<f64>, String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let num = |p: &str| -> Result<f64, String> {
        p.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{p:?} is not a percentage"))
    };
    let mut out: Vec<f64> = Vec::new();
    let mut i = 0;
    while i < parts.len() {
        if parts[i] == "..." {
            let (a, b) = match out.as_slice() {
                [.., a, b] => (*a, *b),
                _ => return Err("`...` needs two values before it (e.g. 0,10,...,100)".into()),
            };
            let end = num(parts
                .get(i + 1)
                .ok_or("`...` needs an end value after it (e.g. 0,10,...,100)")?)?;
            let step = b - a;
            if step <= 0.0 || end < b {
                return Err(format!("`{a},{b},...,{end}` does not count up to {end}"));
            }
            let mut k = 2.0;
            loop {
                let v = a + k * step;
                if v > end + 1e-9 * step {
                    break;
                }
                out.push(v);
                k += 1.0;
            }
            if (out[out.len() - 1] - end).abs() > 1e-9 * step {
                return Err(format!(
                    "{end} is not a multiple of the step {step} from {a}"
                ));
            }
            i += 2;
            continue;
        }
        out.push(num(parts[i])?);
        i += 1;
    }
    if out.windows(2).any(|w| w[1] <= w[0]) {
        return Err("levels must increase".into());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Experiments
// ---------------------------------------------------------------------------------------------

/// What `run` writes and `merge` reads: the library's mergeable result, where the graph came
/// from, and (in results.json) the reduced rows.
#[derive(serde::Serialize)]
struct ResultsFile<'a> {
    graph_source: &'a str,
    #[serde(flatten)]
    result: &'a ExperimentResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<&'a [ResultRow]>,
}

/// The readable part of a results or shard file (`rows` is ignored: recomputed).
#[derive(serde::Deserialize)]
struct ResultsFileIn {
    #[serde(default)]
    graph_source: String,
    #[serde(flatten)]
    result: ExperimentResult,
}

fn experiment_error(e: ExperimentError) -> anyhow::Error {
    match e {
        ExperimentError::Adoption(_) | ExperimentError::NoLevels => bad(format!("--adoption: {e}")),
        ExperimentError::UnknownAs {
            role: "adopter", ..
        } => bad(format!("--adopters: {e}")),
        ExperimentError::UnknownAs { .. } => bad(format!("--collectors: {e}")),
        ExperimentError::BadSubprefix { .. } => bad(format!("--subprefix-len: {e}")),
        ExperimentError::Shard(_) => bad(format!("--shard: {e}")),
        _ => bad(e),
    }
}

fn run_experiment(a: RunArgs, g: Global) -> anyhow::Result<()> {
    for (given, flag) in [
        (a.one.attacker.is_some(), "--attacker"),
        (a.one.roas.is_some(), "--roas"),
    ] {
        if given {
            return Err(bad(format!(
                "{flag} is for a single scenario: give --victim ASN too (experiments draw victims and attackers at random)"
            )));
        }
    }
    let c = parse_common(&a.attack)?;
    if c.defences.is_none() && (a.one.adopters.is_some() || a.adoption_strategy.is_some()) {
        return Err(bad(
            "--adopters and --adoption-strategy need --defense D (what the adopters run)",
        ));
    }
    let adoption = match &a.adoption {
        Some(text) => parse_adoption(text).map_err(|e| bad(format!("--adoption: {e}")))?,
        None if c.defences.is_none() => vec![0.0],
        None => parse_adoption("0,10,...,100").expect("valid default"),
    };
    let trials = a.trials.unwrap_or(100);
    if trials == 0 {
        return Err(bad("--trials: need at least 1 trial"));
    }
    let shard = match &a.shard {
        Some(s) => parse_flag::<Shard>("--shard", s)?,
        None => Shard::WHOLE,
    };
    let loaded = load_graph(&a.graph)?;
    let graph = &loaded.graph;
    let strategy =
        match (&a.one.adopters, &a.adoption_strategy) {
            (Some(_), Some(_)) => return Err(bad(
                "--adopters and --adoption-strategy exclude each other (the list is the strategy)",
            )),
            (Some(path), None) => AdoptionStrategy::Explicit(read_adopters(path, graph)?),
            (None, Some(s)) => parse_flag("--adoption-strategy", s)?,
            (None, None) => AdoptionStrategy::Random,
        };
    let mut params = ExperimentParams::new(c.attack, c.defences, adoption, trials, a.graph.seed);
    params.strategy = strategy;
    params.scope = c.scope;
    params.collectors = read_collectors(&a.attack, graph)?;
    params.victim_prefix = c.prefix;
    params.subprefix_len = c.subprefix_len;
    let exp = Experiment::new(graph, params).map_err(experiment_error)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(worker_threads(a.threads)?)
        .build()?;
    let todo = exp.trials_of(shard).len() as u64;
    let bar = progress_bar(todo, g);
    let started = Instant::now();
    let result = pool.install(|| exp.run(shard, &|n| bar.inc(n)));
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let out = a.out.unwrap_or_else(|| PathBuf::from("."));
    if shard != Shard::WHOLE {
        std::fs::create_dir_all(&out)
            .map_err(|e| bad(format!("cannot create --out {}: {e}", out.display())))?;
        let file = out.join(shard_file_name(shard));
        let json = serde_json::to_vec(&ResultsFile {
            graph_source: &loaded.source,
            result: &result,
            rows: None,
        })?;
        output::write_atomic(&file, &json)?;
        if g.json {
            return output::print_json(&serde_json::json!({
                "shard": shard.to_string(), "trials": todo, "seconds": secs,
                "file": file.display().to_string(),
            }));
        }
        println!(
            "shard {shard}: {todo} of {trials} trials on {} in {secs:.1} s, written to {}",
            loaded.source,
            file.display()
        );
        println!(
            "join all {} shards with: nettwin inet merge SHARD... --out DIR",
            shard.count
        );
        return Ok(());
    }
    finish_results(&result, &loaded.source, &out, g, Some(secs))
}

fn shard_file_name(s: Shard) -> String {
    format!("shard-{}-of-{}.json", s.index, s.count)
}

fn progress_bar(len: u64, g: Global) -> indicatif::ProgressBar {
    if g.json || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {pos}/{len} trials, eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Writes results.csv, results.json and results.svg into `out` and prints the table.
fn finish_results(
    result: &ExperimentResult,
    source: &str,
    out: &Path,
    g: Global,
    secs: Option<f64>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)
        .map_err(|e| bad(format!("cannot create --out {}: {e}", out.display())))?;
    let rows = result.rows();
    let csv = out.join("results.csv");
    let json = out.join("results.json");
    let svg = out.join("results.svg");
    output::write_atomic(&csv, rows_to_csv(&rows).as_bytes())?;
    output::write_atomic(
        &json,
        &serde_json::to_vec(&ResultsFile {
            graph_source: source,
            result,
            rows: Some(&rows),
        })?,
    )?;
    output::write_atomic(&svg, outcome_plot_svg(result).as_bytes())?;
    let p = &result.params;
    let trials = result.records.len() / p.adoption.len().max(1);
    if g.json {
        return output::print_json(&serde_json::json!({
            "graph": {"source": source, "ases": result.graph.ases, "links": result.graph.links},
            "attack": p.attack, "defense": p.defences.to_string(), "strategy": p.strategy,
            "trials": trials, "seed": p.seed, "seconds": secs,
            "files": {"csv": csv.display().to_string(), "json": json.display().to_string(),
                      "svg": svg.display().to_string()},
            "rows": rows,
        }));
    }
    println!(
        "{} hijack vs {} ({} adoption), {trials} trials, seed {}, on {} ({} ASes, {} links){}",
        p.attack,
        p.defences,
        strategy_name(&p.strategy),
        p.seed,
        source,
        result.graph.ases,
        result.graph.links,
        secs.map_or(String::new(), |s| format!(", {s:.1} s"))
    );
    print!("{}", results_table(&rows));
    println!(
        "% of ASes (victim and attacker excluded), mean +- 95% CI half-width; detected: % of trials with a monitor alert"
    );
    println!(
        "written: {}, {}, {}",
        csv.display(),
        json.display(),
        svg.display()
    );
    Ok(())
}

fn strategy_name(s: &AdoptionStrategy) -> String {
    match s {
        AdoptionStrategy::Random => "random".into(),
        AdoptionStrategy::TopByCone => "top-cone".into(),
        AdoptionStrategy::Tier1Only => "tier1".into(),
        AdoptionStrategy::Explicit(l) => format!("list of {}", l.len()),
    }
}

fn results_table(rows: &[ResultRow]) -> String {
    const SHOWN: [Metric; 5] = [
        Metric::Attacker,
        Metric::Victim,
        Metric::Disconnected,
        Metric::Detected,
        Metric::UndetectedAttacker,
    ];
    let mut table = vec![{
        let mut h = vec!["adoption".to_string(), "trials".to_string()];
        h.extend(SHOWN.iter().map(|m| m.name().to_string()));
        h
    }];
    let mut levels: Vec<f64> = rows.iter().map(|r| r.adoption).collect();
    levels.dedup();
    for level in levels {
        let at: Vec<&ResultRow> = rows.iter().filter(|r| r.adoption == level).collect();
        let mut line = vec![
            format!("{level}%"),
            at.first().map_or(0, |r| r.trials).to_string(),
        ];
        for m in SHOWN {
            line.push(match at.iter().find(|r| r.metric == m) {
                Some(r) => format!(
                    "{:.1} +- {:.1}",
                    100.0 * r.mean,
                    100.0 * (r.ci_high - r.mean)
                ),
                None => "-".into(),
            });
        }
        table.push(line);
    }
    output::table(&table)
}

fn merge(a: MergeArgs, g: Global) -> anyhow::Result<()> {
    let mut parts = Vec::new();
    let mut source = String::new();
    for path in &a.shards {
        let text = read_input(path, "shard file")?;
        let f: ResultsFileIn = serde_json::from_str(&text).map_err(|e| {
            bad(format!(
                "{}: not a shard file of `nettwin inet run --shard`: {e}",
                path.display()
            ))
        })?;
        if source.is_empty() {
            source = f.graph_source;
        }
        parts.push(f.result);
    }
    let merged = ExperimentResult::merge(parts).map_err(bad)?;
    if !merged.is_complete() {
        let count = merged.shards[0].count;
        let missing: Vec<String> = (0..count)
            .filter(|i| !merged.shards.iter().any(|s| s.index == *i))
            .map(|i| format!("{i}/{count}"))
            .collect();
        return Err(bad(format!(
            "shard(s) {} missing: the run is split in {count} parts",
            missing.join(", ")
        )));
    }
    finish_results(&merged, &source, &a.out, g, None)
}

// ---------------------------------------------------------------------------------------------
// One scenario
// ---------------------------------------------------------------------------------------------

fn build_scenario(
    loaded: &LoadedGraph,
    attack: &AttackArgs,
    one: &OneScenarioArgs,
) -> anyhow::Result<Scenario> {
    let graph = &loaded.graph;
    let c = parse_common(attack)?;
    let victim = one
        .victim
        .ok_or_else(|| bad("--victim ASN is needed to run one scenario"))?;
    let attacker = match (one.attacker, c.attack) {
        (Some(a), _) => a,
        (None, AttackKind::None) => 0,
        (None, k) => return Err(bad(format!("--attack {k} needs --attacker ASN"))),
    };
    let mut sc = Scenario::new(c.attack, victim, attacker).with_scope(c.scope);
    sc.victim_prefix = c.prefix;
    sc.subprefix_len = c.subprefix_len;
    match (&one.adopters, c.defences.is_none()) {
        (Some(path), false) => sc = sc.with_defences(c.defences, read_adopters(path, graph)?),
        (None, false) => {
            return Err(bad(format!(
                "--defense {} needs --adopters FILE (the ASes that run it)",
                c.defences
            )))
        }
        (Some(_), true) => return Err(bad("--adopters needs --defense D (what they run)")),
        (None, true) => {}
    }
    if let Some(path) = &one.roas {
        let text = read_input(path, "--roas")?;
        sc.roas = Some(parse_roas(&text, &path.display().to_string()).map_err(bad)?);
    }
    sc.collectors = match read_collectors(attack, graph)? {
        Some(list) => list,
        None => collectors::default_collectors(graph, collectors::default_collector_count(graph)),
    };
    Ok(sc)
}

fn scenario_error(e: ScenarioError, source: &str) -> anyhow::Error {
    match e {
        ScenarioError::UnknownAs { role, asn } if role == "victim" || role == "attacker" => {
            bad(format!("--{role}: AS{asn} is not in the graph ({source})"))
        }
        ScenarioError::UnknownAs {
            role: "explained",
            asn,
        } => bad(format!("--as: AS{asn} is not in the graph ({source})")),
        ScenarioError::SameAs(_) => bad(format!("--attacker: {e}")),
        ScenarioError::BadSubprefix { .. } => bad(format!("--subprefix-len: {e}")),
        _ => bad(e),
    }
}

fn run_one(a: RunArgs, g: Global) -> anyhow::Result<()> {
    for (given, flag) in [
        (a.adoption.is_some(), "--adoption"),
        (a.adoption_strategy.is_some(), "--adoption-strategy"),
        (a.trials.is_some(), "--trials"),
        (a.shard.is_some(), "--shard"),
        (a.out.is_some(), "--out"),
        (a.threads.is_some(), "--threads"),
    ] {
        if given {
            return Err(bad(format!(
                "{flag} is for experiments; a single scenario (--victim/--per-as) runs once"
            )));
        }
    }
    let loaded = load_graph(&a.graph)?;
    let graph = &loaded.graph;
    let sc = build_scenario(&loaded, &a.attack, &a.one)?;
    let outcome = propagate(graph, &sc).map_err(|e| scenario_error(e, &loaded.source))?;
    let mut lines = 0usize;
    if let Some(path) = &a.per_as {
        let mut text = String::new();
        for r in outcome.records() {
            text.push_str(&serde_json::to_string(&r)?);
            text.push('\n');
            lines += 1;
        }
        output::write_atomic(path, text.as_bytes())?;
    }
    let s = outcome.summary();
    let alerts = outcome.alerts();
    let view = outcome.collector_view();
    let prefixes = outcome.prefixes();
    let alert_names: Vec<&str> = [
        (alerts.origin_change, "origin_change"),
        (alerts.new_subprefix, "new_subprefix"),
        (alerts.new_upstream, "new_upstream"),
        (alerts.path_valley, "path_valley"),
    ]
    .into_iter()
    .filter_map(|(on, n)| on.then_some(n))
    .collect();
    if g.json {
        return output::print_json(&serde_json::json!({
            "graph": {"source": loaded.source, "ases": graph.len(), "links": graph.link_count()},
            "scenario": sc,
            "prefixes": prefixes,
            "summary": s,
            "shares": {
                "attacker": s.attacker_share(), "victim": s.victim_share(),
                "disconnected": s.disconnected_share(),
                "collector_attacker": s.collector_attacker_share(),
            },
            "alert": alerts.any(),
            "stealth_gap": s.stealth_gap(),
            "collector_view": view,
            "per_as": a.per_as.as_ref().map(|p| serde_json::json!({
                "file": p.display().to_string(), "lines": lines,
            })),
        }));
    }
    println!(
        "graph: {}, {} ASes, {} links",
        loaded.source,
        graph.len(),
        graph.link_count()
    );
    let announced = match sc.attack {
        AttackKind::None => "no attack".to_string(),
        k => format!(
            "{k} by AS{} ({})",
            sc.attacker,
            prefixes.get(1).unwrap_or(&prefixes[0])
        ),
    };
    println!(
        "scenario: AS{} announces {}; {announced}; defence {} at {} AS(es); {} collector peer(s)",
        sc.victim,
        prefixes[0],
        sc.defences,
        sc.adopters.len(),
        sc.collectors.len()
    );
    let address = prefixes.iter().max_by_key(|p| p.len()).map(|p| p.network());
    let pct = |n: u32| 100.0 * n as f64 / s.counted.max(1) as f64;
    println!(
        "traffic to {} from {} AS(es) (victim and attacker excluded):",
        address.map_or(String::new(), |a| a.to_string()),
        s.counted
    );
    print!(
        "{}",
        output::table(&[
            vec!["  reaches".into(), "ASes".into(), "share".into()],
            vec![
                "  attacker".into(),
                s.attacker.to_string(),
                format!("{:.1}%", pct(s.attacker))
            ],
            vec![
                "  victim".into(),
                s.victim.to_string(),
                format!("{:.1}%", pct(s.victim))
            ],
            vec![
                "  nothing".into(),
                s.disconnected.to_string(),
                format!("{:.1}%", pct(s.disconnected))
            ],
        ])
    );
    println!(
        "collectors: {} of {} peer(s) show the attacker's route ({:.1}%)",
        s.collectors_seeing_attacker,
        s.collectors,
        100.0 * s.collector_attacker_share()
    );
    for o in view
        .iter()
        .filter(|o| g.verbose > 0 || o.owner == Owner::Attacker)
    {
        println!(
            "  AS{:<8} {:<18} {}  ({})",
            o.collector_peer,
            o.prefix.to_string(),
            path_text(&o.as_path),
            owner_name(o.owner)
        );
    }
    if alerts.any() {
        println!("monitor: ALERT ({})", alert_names.join(", "));
    } else {
        println!("monitor: no alert");
    }
    println!(
        "stealth gap: {:.1} points (traffic captured {:.1}% - collector peers showing it {:.1}%)",
        100.0 * s.stealth_gap(),
        100.0 * s.attacker_share(),
        100.0 * s.collector_attacker_share()
    );
    if let Some(p) = &a.per_as {
        println!("per-AS routes: {} ({lines} lines)", p.display());
    }
    Ok(())
}

fn path_text(path: &[u32]) -> String {
    path.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn owner_name(o: Owner) -> &'static str {
    match o {
        Owner::Victim => "victim",
        Owner::Attacker => "attacker",
    }
}

fn rule_name(r: DecidingRule) -> (&'static str, &'static str) {
    match r {
        DecidingRule::Originated => ("originated", "the AS announces this prefix itself"),
        DecidingRule::NoCandidate => ("no-candidate", "no neighbour offered an acceptable route"),
        DecidingRule::OnlyCandidate => ("only-candidate", "one acceptable route was offered"),
        DecidingRule::Relationship => (
            "relationship",
            "customer routes beat peer routes beat provider routes",
        ),
        DecidingRule::PathLength => ("path-length", "same relationship, shorter AS path"),
        DecidingRule::LowestNeighborAsn => (
            "lowest-neighbor-asn",
            "same relationship and path length, lowest neighbour ASN",
        ),
    }
}

fn rejection_name(r: Rejection) -> &'static str {
    match r {
        Rejection::Loop => "rejected: loop (own ASN on the path)",
        Rejection::RovInvalid => "rejected: rov-invalid",
        Rejection::AspaInvalid => "rejected: aspa-invalid",
        Rejection::PeerLock => "rejected: peer-lock",
    }
}

fn route(a: RouteArgs, g: Global) -> anyhow::Result<()> {
    let loaded = load_graph(&a.graph)?;
    let sc = build_scenario(&loaded, &a.attack, &a.one)?;
    let ex: Explanation =
        explain(&loaded.graph, &sc, a.asn).map_err(|e| scenario_error(e, &loaded.source))?;
    if g.json {
        return output::print_json(&ex);
    }
    let outcome = serde_json::to_value(ex.outcome)?;
    println!(
        "AS{}: traffic to the attacked address reaches the {}",
        ex.asn,
        outcome.as_str().unwrap_or("?")
    );
    for p in &ex.prefixes {
        let (rule, why) = rule_name(p.rule);
        match &p.chosen {
            Some(c) => println!(
                "{}: chose {} ({}, {}), decided by {rule}: {why}",
                p.prefix,
                path_text(&c.as_path),
                c.received_from
                    .map_or("own announcement".to_string(), |n| format!("from AS{n}")),
                owner_name(c.owner)
            ),
            None => println!("{}: no route, decided by {rule}: {why}", p.prefix),
        }
        if p.candidates.is_empty() {
            continue;
        }
        let mut rows = vec![vec![
            "   neighbor".to_string(),
            "relationship".into(),
            "as path".into(),
            "origin".into(),
            "import".into(),
        ]];
        for cand in &p.candidates {
            rows.push(vec![
                format!(
                    "{} AS{}",
                    if cand.chosen { " *" } else { "  " },
                    cand.neighbor
                ),
                cand.relationship.as_str().into(),
                path_text(&cand.as_path),
                owner_name(cand.owner).into(),
                cand.rejected.map_or("accepted", rejection_name).into(),
            ]);
        }
        print!("{}", output::table(&rows));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Benchmark
// ---------------------------------------------------------------------------------------------

fn run_bench(a: BenchArgs, g: Global) -> anyhow::Result<()> {
    if a.trials == 0 {
        return Err(bad("--trials: need at least 1 trial"));
    }
    let cores = worker_threads(a.threads)?;
    let text = bench::synthetic_caida_text(a.synthetic, a.seed)
        .map_err(|e| bad(format!("--synthetic: {e}")))?;
    let mut graph = None;
    let load = crate::cmd::bench::time(5, || graph = Some(bench::load(&text)));
    let graph = graph.expect("loaded at least once")?;

    let mut per_trial = Vec::new();
    for attack in [AttackKind::Prefix, AttackKind::Subprefix] {
        let mut b = bench::HijackBench::new(&graph, attack)?;
        b.run_once();
        let cpu0 = cpu_seconds("thread-self");
        let timing = crate::cmd::bench::time(a.trials as usize, || {
            b.run_once();
        });
        let cpu_ms = per_trial_ms(cpu0, cpu_seconds("thread-self"), a.trials);
        per_trial.push((attack, timing, cpu_ms));
    }

    let rov = Defences {
        rov: true,
        ..Defences::none()
    };
    let mut throughput = Vec::new();
    let mut thread_counts = vec![1];
    if cores > 1 {
        thread_counts.push(cores);
    }
    for threads in thread_counts {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        let params =
            ExperimentParams::new(AttackKind::Subprefix, rov, vec![50.0], a.trials, a.seed);
        let exp = Experiment::new(&graph, params).map_err(experiment_error)?;
        let cpu0 = cpu_seconds("self");
        let t = Instant::now();
        let res = pool.install(|| exp.run(Shard::WHOLE, &|_| {}));
        let s = t.elapsed().as_secs_f64();
        let cpu_ms = per_trial_ms(cpu0, cpu_seconds("self"), a.trials);
        throughput.push((threads, res.records.len() as f64 / s, cpu_ms));
    }

    if g.json {
        return output::print_json(&serde_json::json!({
            "bench": "inet",
            "graph": {
                "ases": graph.len(), "links": graph.link_count(),
                "provider_customer_links": graph.provider_customer_link_count(),
                "peer_links": graph.peer_link_count(), "ranks": graph.rank_count(),
                "caida_bytes": text.len(), "seed": a.seed,
            },
            "load": load,
            "trial_one_core": per_trial.iter().map(|(k, t, cpu)| serde_json::json!({
                "attack": k, "timing": t, "cpu_ms_per_trial": cpu,
            })).collect::<Vec<_>>(),
            "experiment": throughput.iter().map(|(th, tps, cpu)| serde_json::json!({
                "attack": "subprefix", "defense": "rov", "adoption": 50.0,
                "threads": th, "trials": a.trials, "trials_per_second": tps,
                "cpu_ms_per_trial": cpu,
            })).collect::<Vec<_>>(),
            "load_average": load_average(),
        }));
    }
    println!(
        "graph: {} ASes, {} links ({} provider-customer, {} peer), {} ranks, CAIDA text {:.1} MB",
        graph.len(),
        graph.link_count(),
        graph.provider_customer_link_count(),
        graph.peer_link_count(),
        graph.rank_count(),
        text.len() as f64 / 1e6
    );
    println!(
        "load (parse CAIDA text, build CSR and ranks): min {:.1} ms, median {:.1} ms over {} runs",
        load.min_ms, load.median_ms, load.iterations
    );
    let cpu = |c: &Option<f64>| c.map_or(String::new(), |ms| format!(", {ms:.2} ms CPU"));
    for (attack, t, c) in &per_trial {
        println!(
            "one {attack} hijack trial, 1 core: median {:.2} ms, min {:.2} ms over {} runs{}",
            t.median_ms,
            t.min_ms,
            t.iterations,
            cpu(c)
        );
    }
    for (threads, tps, c) in &throughput {
        println!(
            "experiment, subprefix vs rov at 50% random adoption, {threads} thread(s): {tps:.0} trials/s over {} trials{} per trial",
            a.trials,
            cpu(c)
        );
    }
    if let Some(l) = load_average() {
        println!("load average while measuring (1/5/15 min): {l}");
    }
    Ok(())
}

/// User + system CPU seconds of this thread (`thread-self`) or process (`self`), from Linux's
/// /proc (clock ticks of 1/100 s); `None` elsewhere. Wall time on a shared machine counts the
/// other jobs' time too; CPU time does not.
fn cpu_seconds(which: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{which}/stat")).ok()?;
    // Fields after the parenthesised command name, starting with field 3 (state); utime and
    // stime are fields 14 and 15.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn per_trial_ms(before: Option<f64>, after: Option<f64>, trials: u32) -> Option<f64> {
    Some((after? - before?) * 1e3 / trials as f64)
}

fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::parse_adoption;

    #[test]
    fn adoption_lists_expand_ellipses() {
        assert_eq!(
            parse_adoption("0,10,...,100").unwrap(),
            (0..=10).map(|i| 10.0 * i as f64).collect::<Vec<_>>()
        );
        assert_eq!(
            parse_adoption("0, 5, 25,50,...,100").unwrap(),
            vec![0.0, 5.0, 25.0, 50.0, 75.0, 100.0]
        );
        assert_eq!(parse_adoption("50").unwrap(), vec![50.0]);
        assert!(parse_adoption("0,...,100").is_err());
        assert!(parse_adoption("0,10,...,95").is_err());
        assert!(parse_adoption("0,ten").is_err());
        assert!(parse_adoption("10,5").is_err());
        assert!(parse_adoption("0,10,...").is_err());
    }
}
