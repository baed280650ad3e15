//! `nettwin pmtu FILE --from A --to B`: path MTU discovery and MTU black holes.

use crate::{output, Global};
use nettwin_dataplane::Net;
use std::path::PathBuf;

/// Discover the path MTU the way a host does (DF probes, lowered on each ICMP too big), name the
/// hop that limits it, and flag black holes: too-big packets dropped with no ICMP reaching the
/// sender.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  nettwin pmtu examples/isp-dc.yml --from client1 --to web2\n  nettwin pmtu examples/isp-dc.yml --from client1 --to web1 --ipv6 --json"
)]
pub struct Args {
    /// The topology file (YAML).
    file: PathBuf,
    #[command(flatten)]
    flow: super::trace::FlowArgs,
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    let (topo, routing) = super::trace::load(&args.file)?;
    let net = Net::new(&topo, &routing);
    let p = super::trace::probe(&net, &args.flow)?;
    let r = nettwin_dataplane::path_mtu(&net, &p);
    if g.json {
        return output::print_json(&r);
    }
    let mut out = format!("path MTU {} ({}) -> {}: ", r.from, r.src, r.dst);
    match (r.path_mtu, &r.error) {
        (Some(m), _) => out.push_str(&format!("{m}\n")),
        (None, Some(e)) => out.push_str(&format!("unknown: {e}\n")),
        (None, None) => out.push_str("unknown\n"),
    }
    if let (Some(_), Some(l)) = (r.path_mtu, &r.limited_by) {
        out.push_str(&format!(
            "limited by {} (MTU {}, {})\n",
            l.interface,
            l.mtu,
            role_name(l.role)
        ));
    }
    for b in &r.black_holes {
        out.push_str(&format!(
            "BLACK HOLE at {} (MTU {}): {}-byte DF packets vanish; {}\n",
            b.limit.interface, b.limit.mtu, b.size, b.reason
        ));
    }
    out.push_str("probes:\n");
    for round in &r.rounds {
        let d: Vec<&str> = round.dispositions.iter().map(|d| d.name()).collect();
        out.push_str(&format!(
            "  {:>5} bytes DF: {}{}\n",
            round.size,
            d.join(", "),
            if round.note.is_empty() || round.note == "delivered" {
                String::new()
            } else {
                format!(" ({})", round.note)
            }
        ));
    }
    print!("{out}");
    Ok(())
}

fn role_name(r: nettwin_dataplane::mtu::Role) -> &'static str {
    use nettwin_dataplane::mtu::Role;
    match r {
        Role::Source => "the sender's own interface",
        Role::Router => "router egress",
        Role::Bridge => "bridge port",
        Role::Receiver => "receiving interface",
        Role::LabelSwitch => "label switching router egress (IP packet plus labels)",
    }
}
