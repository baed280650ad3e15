//! `nettwin demo`: the main job on the built-in example network.

use crate::{output, Global};

/// The embedded default topology: a small ISP with a leaf-spine datacenter behind it.
pub const DEFAULT_TOPOLOGY: &str = include_str!("../../../../examples/isp-dc.yml");
pub const DEFAULT_NAME: &str = "examples/isp-dc.yml (built in)";

/// Run nettwin on its built-in ISP + datacenter example and print what it finds.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  nettwin demo\n  nettwin demo --json")]
pub struct Args {}

pub fn run(_args: Args, g: Global) -> anyhow::Result<()> {
    let topo = output::load_topology_str(DEFAULT_NAME, DEFAULT_TOPOLOGY)?;
    if g.json {
        return output::print_json(&serde_json::json!({
            "topology": topo,
            "summary": topo.summary(),
        }));
    }
    println!("nettwin demo: {}", DEFAULT_NAME);
    println!();
    print!("{}", super::show::render(&topo));
    Ok(())
}
