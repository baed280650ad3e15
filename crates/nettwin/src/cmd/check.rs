//! `nettwin check FILE`: validate a topology and summarise it.

use crate::{output, Global};
use std::path::PathBuf;

/// Validate a topology file and print a short summary.
///
/// Every problem is reported with file:line:col and the offending key; the exit status is 2 when
/// the file has errors.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  nettwin check examples/campus.yml")]
pub struct Args {
    /// The topology file (YAML).
    file: PathBuf,
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    let topo = output::load_topology(&args.file)?;
    let s = topo.summary();
    if g.json {
        return output::print_json(&serde_json::json!({
            "file": topo.file,
            "name": topo.name,
            "valid": true,
            "summary": s,
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
