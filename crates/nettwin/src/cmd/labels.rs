//! `nettwin routes FILE --labels`: each router's label FIB (`show mpls forwarding-table`) and
//! the labels it pushes on IP routes, and the label part of a trace hop.

use crate::{output, Global};
use nettwin_dataplane::trace::LabelHop;
use nettwin_model::{NodeId, Prefix, Topology};
use nettwin_routing::mpls::{Fec, LabelPath, LabelSource, Out};
use nettwin_routing::Routing;
use std::net::IpAddr;

/// One LFIB path or imposition path as JSON.
#[derive(serde::Serialize)]
struct PathRow {
    /// `swap`, `pop` or `untagged` (for an imposition, `swap` means push).
    op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<u32>,
    interface: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_hop: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    neighbour: Option<String>,
}

#[derive(serde::Serialize)]
struct LfibRow {
    node: String,
    in_label: u32,
    source: LabelSource,
    /// The prefix, or `adjacency:NEIGHBOUR` for an adjacency SID.
    fec: String,
    paths: Vec<PathRow>,
}

#[derive(serde::Serialize)]
struct PushRow {
    node: String,
    prefix: Prefix,
    source: LabelSource,
    /// The FEC whose LSP is used (the BGP next hop's prefix for a BGP route).
    fec: Prefix,
    paths: Vec<PathRow>,
    /// The TE tunnel the route is steered into, and the whole stack it pushes (top first).
    #[serde(skip_serializing_if = "Option::is_none")]
    tunnel: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stack: Vec<u32>,
    reason: String,
}

#[derive(serde::Serialize)]
struct Json {
    lfib: Vec<LfibRow>,
    imposition: Vec<PushRow>,
}

fn path_row(topo: &Topology, node: NodeId, p: &LabelPath) -> PathRow {
    let (op, label) = match p.out {
        Out::Swap(l) => ("swap", Some(l)),
        Out::Pop => ("pop", None),
        Out::Untagged => ("untagged", None),
    };
    PathRow {
        op,
        label,
        interface: topo.node(node).interfaces[p.next_hop.interface as usize]
            .name
            .clone(),
        next_hop: p.next_hop.address,
        neighbour: p.neighbour.map(|n| topo.node(n).name.clone()),
    }
}

/// The outgoing-label column as IOS writes it.
fn outgoing(out: Out) -> String {
    match out {
        Out::Swap(l) => l.to_string(),
        Out::Pop => "Pop Label".into(),
        Out::Untagged => "No Label".into(),
    }
}

pub fn print(
    topo: &Topology,
    routing: &Routing,
    nodes: &[NodeId],
    want_prefix: Option<Prefix>,
    want_addr: Option<IpAddr>,
    g: Global,
) -> anyhow::Result<()> {
    let mut json = Json {
        lfib: Vec::new(),
        imposition: Vec::new(),
    };
    let mut text = String::new();
    for &id in nodes {
        let node = topo.node(id);
        let Some(cfg) = routing.label_config(id) else {
            continue;
        };
        let fib = routing.fib(id);
        let hit = want_addr.and_then(|a| fib.lookup(a).map(|r| r.prefix));
        let keep = |p: Option<Prefix>| match (want_prefix, want_addr) {
            (Some(w), _) => p == Some(w),
            (_, Some(_)) => p.is_some() && p == hit,
            _ => true,
        };
        let lfib = &routing.labels.nodes[id.index()].lfib;
        let mut rows = vec![vec![
            "Local".to_string(),
            "Outgoing".into(),
            "Prefix or Tunnel Id".into(),
            "Source".into(),
            "Interface".into(),
            "Next Hop".into(),
        ]];
        for e in lfib {
            let (fec, prefix) = match e.fec {
                Fec::Prefix { prefix } => (prefix.to_string(), Some(prefix)),
                Fec::Adjacency { neighbour, .. } => {
                    (format!("SR Adj {}", topo.node(neighbour).name), None)
                }
                Fec::Tunnel { head, tunnel } => (
                    format!(
                        "{} {}",
                        topo.node(head).name,
                        routing.tunnels()[tunnel as usize].name
                    ),
                    None,
                ),
            };
            if !keep(prefix) {
                continue;
            }
            for (i, p) in e.paths.iter().enumerate() {
                rows.push(vec![
                    if i == 0 {
                        e.in_label.to_string()
                    } else {
                        String::new()
                    },
                    outgoing(p.out),
                    fec.clone(),
                    e.source.name().into(),
                    node.interfaces[p.next_hop.interface as usize].name.clone(),
                    p.next_hop
                        .address
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                ]);
            }
            json.lfib.push(LfibRow {
                node: node.name.clone(),
                in_label: e.in_label,
                source: e.source,
                fec: match e.fec {
                    Fec::Prefix { prefix } => prefix.to_string(),
                    Fec::Adjacency { neighbour, .. } => {
                        format!("adjacency:{}", topo.node(neighbour).name)
                    }
                    Fec::Tunnel { head, tunnel } => format!(
                        "tunnel:{}:{}",
                        topo.node(head).name,
                        routing.tunnels()[tunnel as usize].name
                    ),
                },
                paths: e.paths.iter().map(|p| path_row(topo, id, p)).collect(),
            });
        }
        let mut push_rows = vec![vec![
            "Prefix".to_string(),
            "Push".into(),
            "Source".into(),
            "Via FEC".into(),
            "Interface".into(),
            "Next Hop".into(),
        ]];
        for r in fib.routes() {
            if !keep(Some(r.prefix)) {
                continue;
            }
            let Some(imp) = routing.imposition(id, &r).imposition else {
                continue;
            };
            for p in &imp.paths {
                push_rows.push(vec![
                    r.prefix.to_string(),
                    match (p.out, &imp.tunnel) {
                        // A tunnel pushes its whole stack (top first).
                        (_, Some(_)) if !imp.stack.is_empty() => imp
                            .stack
                            .iter()
                            .map(|l| l.to_string())
                            .collect::<Vec<_>>()
                            .join("/"),
                        (Out::Swap(l), _) => l.to_string(),
                        _ => "-".into(),
                    },
                    match &imp.tunnel {
                        Some(t) => format!("{} {t}", imp.source.name()),
                        None => imp.source.name().into(),
                    },
                    imp.fec.to_string(),
                    node.interfaces[p.next_hop.interface as usize].name.clone(),
                    p.next_hop
                        .address
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                ]);
            }
            json.imposition.push(PushRow {
                node: node.name.clone(),
                prefix: r.prefix,
                source: imp.source,
                fec: imp.fec,
                paths: imp.paths.iter().map(|p| path_row(topo, id, p)).collect(),
                tunnel: imp.tunnel.clone(),
                stack: imp.stack.clone(),
                reason: imp.reason.clone(),
            });
        }
        if !g.json {
            let mut what = Vec::new();
            if cfg.ldp.is_some() {
                what.push("ldp".to_string());
            }
            if let Some(sr) = &cfg.sr {
                what.push(format!(
                    "sr srgb {}-{}",
                    sr.srgb_start,
                    sr.srgb_start + sr.srgb_size - 1
                ));
            }
            text.push_str(&format!(
                "{} ({}, {}), {} labels\n",
                node.name,
                cfg.platform,
                what.join(", "),
                lfib.len()
            ));
            text.push_str(&output::table(&rows));
            if push_rows.len() > 1 {
                text.push_str("label imposition:\n");
                text.push_str(&output::table(&push_rows));
            }
            text.push('\n');
        }
    }
    if g.json {
        return output::print_json(&json);
    }
    if text.is_empty() {
        text.push_str("no router runs mpls or sr\n");
    }
    print!("{text}");
    Ok(())
}

/// ` push [18] (ldp 198.18.0.4/32)` style text for a trace hop.
pub fn describe_hop(l: &LabelHop) -> String {
    let stack = |s: &[u32]| {
        let v: Vec<String> = s.iter().map(u32::to_string).collect();
        format!("[{}]", v.join(" "))
    };
    let mut out = String::new();
    if !l.in_stack.is_empty() {
        out.push_str(&format!(" labels {}", stack(&l.in_stack)));
    }
    out.push_str(&format!(" {}", l.op.name()));
    if !l.out_stack.is_empty() {
        out.push_str(&format!(" -> {}", stack(&l.out_stack)));
    }
    if let Some(t) = l.label_ttl {
        out.push_str(&format!(" label-ttl {t}"));
    }
    match (l.source, l.fec) {
        (Some(s), Some(f)) => out.push_str(&format!(" ({} {f})", s.name())),
        (Some(s), None) => out.push_str(&format!(" ({})", s.name())),
        _ => {}
    }
    out
}
