//! `nettwin check FILE`: validate a topology and summarise it.

use crate::{output, Global};
use std::path::PathBuf;

/// Validate a topology file and print a short summary.
///
/// Runs every validation the other commands run (the topology and the protocol sections). Every
/// problem is reported with file:line:col and the offending key; the exit status is 2 when the
/// file has errors. Warnings (settings that change nothing) go to stderr and do not change the
/// exit status.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  nettwin check examples/campus.yml")]
pub struct Args {
    /// The topology file (YAML).
    file: PathBuf,
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    let topo = output::load_topology(&args.file)?;
    // The protocol sections are decoded by the routing crate, not the loader; a file is only
    // valid when every command would accept it.
    super::routes::validate(&topo)?;
    let s = topo.summary();
    if g.json {
        return output::print_json(&serde_json::json!({
            "file": topo.file,
            "name": topo.name,
            "valid": true,
            "summary": s,
            "warnings": topo.warnings.iter().collect::<Vec<_>>(),
        }));
    }
    println!("{}: ok", topo.file);
    println!("{}", output::summary_line(&topo));
    if g.verbose > 0 {
        for seg in &topo.segments {
            let nets: Vec<String> = seg
                .ipv4
                .iter()
                .chain(seg.ipv6.iter())
                .map(|p| p.to_string())
                .collect();
            println!(
                "  segment {:>4}  {:?}  {}",
                seg.id.0,
                seg.kind,
                nets.join(" ")
            );
        }
    }
    Ok(())
}
