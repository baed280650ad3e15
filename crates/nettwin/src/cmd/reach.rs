//! `nettwin reach FILE`: which node reaches which address, and why the failing pairs fail.

use crate::{output, Global};
use nettwin_dataplane::{Net, ReachOptions};
use std::path::PathBuf;

/// All-pairs reachability: every IP node towards every node address (routers' loopbacks, else
/// their interface addresses; hosts' interface addresses), with DF packets of --size bytes.
/// Lists the pairs that fail with the reason and where.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  nettwin reach examples/campus.yml\n  nettwin reach examples/isp-dc.yml --size 1500\n  nettwin reach examples/isp-dc.yml --json"
)]
pub struct Args {
    /// The topology file (YAML).
    file: PathBuf,
    /// IP packet size, sent with DF: pairs whose path cannot carry it fail.
    #[arg(long, default_value_t = 64)]
    size: u32,
    /// Text output lists at most this many failing pairs (JSON lists all).
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    if !(28..=65535).contains(&args.size) {
        return Err(output::BadInput("error: --size must be 28..=65535".into()).into());
    }
    let (topo, routing) = super::trace::load(&args.file)?;
    let net = Net::new(&topo, &routing);
    let r = nettwin_dataplane::reach(
        &net,
        ReachOptions {
            size: args.size,
            ..ReachOptions::default()
        },
    );
    let summary = r.summary();
    let failed = r.failures(&topo);
    if g.json {
        return output::print_json(&serde_json::json!({
            "summary": summary,
            "failed": failed,
        }));
    }
    println!(
        "{} sources x {} destination addresses, {}-byte DF packets: {} pairs, {} delivered, {} failed",
        summary.sources, summary.destinations, args.size, summary.pairs, summary.delivered, summary.failed
    );
    for (d, n) in &summary.by_disposition {
        println!("  {d}: {n}");
    }
    if failed.is_empty() {
        return Ok(());
    }
    let mut rows = vec![vec![
        "from".to_string(),
        "to".into(),
        "node".into(),
        "result".into(),
        "at".into(),
    ]];
    for f in failed.iter().take(args.limit) {
        rows.push(vec![
            f.from.clone(),
            f.to.to_string(),
            f.to_node.clone(),
            format!(
                "{}{}",
                f.disposition.name(),
                if f.partial {
                    " (some ECMP branches)"
                } else {
                    ""
                }
            ),
            f.at.clone(),
        ]);
    }
    print!("\n{}", output::table(&rows));
    if failed.len() > args.limit {
        println!("... {} more (--limit or --json)", failed.len() - args.limit);
    }
    Ok(())
}
