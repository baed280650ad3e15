//! `nettwin show FILE`: the resolved model with every assigned address.

use crate::{output, Global};
use nettwin_model::{Topology, VlanIf};
use std::path::PathBuf;

/// Print the resolved topology: nodes, loopbacks, interfaces with their addresses, MTUs and
/// peers, and the IP segments.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  nettwin show examples/campus.yml\n  nettwin show examples/campus.yml --json | jq '.nodes[0].interfaces'"
)]
pub struct Args {
    /// The topology file (YAML).
    file: PathBuf,
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    let topo = output::load_topology(&args.file)?;
    if g.json {
        return output::print_json(&topo);
    }
    print!("{}", render(&topo));
    Ok(())
}

/// The text form of a topology, shared with `demo`.
pub fn render(topo: &Topology) -> String {
    let mut out = format!("{}\n\n", output::summary_line(topo));
    let mut rows = vec![["NODE", "KIND", "ASN", "LOOPBACK", "ROUTER-ID"]
        .map(String::from)
        .to_vec()];
    for n in &topo.nodes {
        let lo: Vec<String> = n
            .loopback
            .ipv4
            .iter()
            .chain(n.loopback.ipv6.iter())
            .map(|a| a.to_string())
            .collect();
        rows.push(vec![
            n.name.clone(),
            n.kind.to_string(),
            n.asn.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
            if lo.is_empty() {
                "-".into()
            } else {
                lo.join(" ")
            },
            n.router_id
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    out.push_str(&output::table(&rows));
    out.push('\n');
    // The VLAN columns only where the lab has VLANs.
    let vlans = topo.segments.iter().any(|s| s.vlan.is_some());
    let keep = |mut row: Vec<String>, col: usize| {
        if !vlans {
            row.remove(col);
        }
        row
    };
    let mut rows = vec![keep(
        ["INTERFACE", "IPV4", "IPV6", "MTU", "VLAN", "LINK", "PEERS"]
            .map(String::from)
            .to_vec(),
        4,
    )];
    for n in &topo.nodes {
        for (i, iface) in n.interfaces.iter().enumerate() {
            let me = nettwin_model::IfRef {
                node: n.id,
                index: i as u32,
            };
            let link = topo.link(iface.link);
            // An SVI or subinterface is on its VLAN segment, not on the cable's ends.
            let virt = matches!(iface.vlan, Some(VlanIf::Svi { .. } | VlanIf::Subif { .. }));
            let peers: Vec<String> = match (virt, iface.segment) {
                (true, Some(s)) => topo
                    .segment(s)
                    .members
                    .iter()
                    .filter(|e| **e != me)
                    .map(|e| topo.if_name(*e))
                    .collect(),
                _ => link
                    .ends
                    .iter()
                    .filter(|e| **e != me)
                    .map(|e| topo.if_name(*e))
                    .collect(),
            };
            let ids = |v: &[u16]| {
                v.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let vlan = match &iface.vlan {
                None => "-".to_string(),
                Some(VlanIf::Port { pvid, tagged }) if tagged.is_empty() => {
                    pvid.map_or("-".into(), |p| format!("access {p}"))
                }
                Some(VlanIf::Port { pvid, tagged }) => match pvid {
                    Some(p) => format!("trunk {} native {p}", ids(tagged)),
                    None => format!("trunk {}", ids(tagged)),
                },
                Some(VlanIf::Svi { vid }) => format!("svi {vid}"),
                Some(VlanIf::Subif { vid, .. }) => format!("tagged {vid}"),
            };
            rows.push(keep(
                vec![
                    topo.if_name(me),
                    iface
                        .ipv4
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "-".into()),
                    iface
                        .ipv6
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "-".into()),
                    iface.mtu.to_string(),
                    vlan,
                    if matches!(iface.vlan, Some(VlanIf::Svi { .. })) {
                        "-".into()
                    } else {
                        link.name.clone()
                    },
                    peers.join(" "),
                ],
                4,
            ));
        }
    }
    out.push_str(&output::table(&rows));
    out.push('\n');
    let mut rows = vec![keep(
        ["SEGMENT", "TYPE", "VLAN", "IPV4", "IPV6", "MEMBERS"]
            .map(String::from)
            .to_vec(),
        2,
    )];
    for s in &topo.segments {
        let mut members: Vec<String> = s.members.iter().map(|m| topo.if_name(*m)).collect();
        members.extend(
            s.switches
                .iter()
                .map(|w| format!("[{}]", topo.node(*w).name)),
        );
        rows.push(keep(
            vec![
                s.id.0.to_string(),
                format!("{:?}", s.kind).to_lowercase(),
                s.vlan.map_or("-".into(), |v| v.to_string()),
                s.ipv4.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                s.ipv6.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                members.join(" "),
            ],
            2,
        ));
    }
    out.push_str(&output::table(&rows));
    if topo.nodes.iter().any(|n| !n.vrfs.is_empty()) {
        out.push('\n');
        out.push_str(&render_vrfs(topo));
    }
    out
}

/// The VRFs of every node (netlab's vrf module), when there are any.
fn render_vrfs(topo: &Topology) -> String {
    let mut rows = vec![[
        "VRF",
        "TABLE",
        "RD",
        "IMPORT",
        "EXPORT",
        "LOOPBACK",
        "INTERFACES",
    ]
    .map(String::from)
    .to_vec()];
    for n in &topo.nodes {
        for (k, v) in n.vrfs.iter().enumerate() {
            let lo: Vec<String> = v
                .loopback
                .ipv4
                .iter()
                .chain(v.loopback.ipv6.iter())
                .map(|a| a.to_string())
                .collect();
            let ifs: Vec<&str> = n
                .interfaces
                .iter()
                .filter(|i| i.vrf == Some(k as u32))
                .map(|i| i.name.as_str())
                .collect();
            let or_dash = |s: String| if s.is_empty() { "-".to_string() } else { s };
            rows.push(vec![
                format!("{}:{}", n.name, v.name),
                v.table.to_string(),
                v.rd.clone(),
                or_dash(v.import.join(",")),
                or_dash(v.export.join(",")),
                or_dash(lo.join(" ")),
                or_dash(ifs.join(" ")),
            ]);
        }
    }
    output::table(&rows)
}
