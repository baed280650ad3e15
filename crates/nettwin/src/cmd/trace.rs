//! `nettwin trace FILE --from NODE --to ADDR|NODE`: a packet followed hop by hop.

use crate::{output, Global};
use nettwin_dataplane::trace::{Trace, TraceNode};
use nettwin_dataplane::{Net, Probe, Proto};
use nettwin_model::Topology;
use std::path::PathBuf;

/// Follow a packet through the network: each hop's ingress and egress interface, the FIB entry
/// it matched, ARP/ND and the bridges crossed on LANs, TTL, every ECMP branch, MTU behaviour,
/// and how each branch ends (ICMP errors are traced back to the sender).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  nettwin trace examples/isp-dc.yml --from client1 --to web1\n  nettwin trace examples/isp-dc.yml --from client1 --to web2 --size 1500 --df\n  nettwin trace examples/isp-dc.yml --from border --to leaf1 --proto tcp --dport 443 --flow-hash\n\nDispositions: delivered, fragmented, no-route, null-routed, ttl-exceeded, loop-detected,\ndropped-by-mtu, unreachable-neighbour, host-does-not-forward (denied-by-policy is reserved).\n--flow-hash: FNV-1a 64 over src, dst, protocol, sport, dport and the router's id; branch = hash % next hops."
)]
pub struct Args {
    /// The topology file (YAML).
    file: PathBuf,
    #[command(flatten)]
    flow: FlowArgs,
}

/// The packet: who sends it where, and what it looks like.
#[derive(clap::Args, Clone)]
pub struct FlowArgs {
    /// Sending node, optionally with the source address: NODE or NODE:ADDR.
    #[arg(long)]
    pub from: String,
    /// Destination address, or a node (its loopback, else its first interface address).
    #[arg(long)]
    pub to: String,
    /// With --to NODE, use its IPv6 address.
    #[arg(long)]
    pub ipv6: bool,
    /// icmp, tcp or udp.
    #[arg(long, default_value = "icmp")]
    pub proto: String,
    #[arg(long, default_value_t = 49152)]
    pub sport: u16,
    #[arg(long, default_value_t = 0)]
    pub dport: u16,
    /// IP packet size in bytes, header included (`ping -s 1472` is 1500).
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    /// Set Don't Fragment (IPv6: the sender does not fragment either).
    #[arg(long)]
    pub df: bool,
    /// Initial TTL / hop limit.
    #[arg(long, default_value_t = nettwin_dataplane::DEFAULT_TTL)]
    pub ttl: u8,
    /// Follow one ECMP branch chosen from the 5-tuple instead of all of them.
    #[arg(long)]
    pub flow_hash: bool,
    /// Send from this VRF of the sending node (its source address is in the VRF, so the first
    /// lookup uses the VRF's table).
    #[arg(long)]
    pub vrf: Option<String>,
}

fn bad(msg: String) -> anyhow::Error {
    output::BadInput(format!("error: {msg}")).into()
}

/// Turns the flow arguments into a probe, with clear errors for anything that does not fit.
pub fn probe(net: &Net, f: &FlowArgs) -> anyhow::Result<Probe> {
    let topo = net.topo;
    let (from_name, from_addr) = match f.from.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (f.from.as_str(), None),
    };
    let from = super::routes::node_id(topo, from_name)?;
    if !topo.node(from).kind.is_ip() {
        return Err(bad(format!(
            "--from {from_name}: a switch has no IP address and sends no packets"
        )));
    }
    let dst = match nettwin_model::addr::parse_addr(&f.to) {
        Ok(a) => a,
        Err(_) => {
            let id = super::routes::node_id(topo, &f.to)?;
            net.node_address(id, f.ipv6).ok_or_else(|| {
                bad(format!(
                    "--to {}: node has no {} address",
                    f.to,
                    if f.ipv6 { "IPv6" } else { "IPv4" }
                ))
            })?
        }
    };
    let vrf = match &f.vrf {
        Some(name) => Some(vrf_index(topo, from, name)?),
        None => None,
    };
    let src = match from_addr {
        None if vrf.is_some() => vrf_source(net, from, vrf, dst).ok_or_else(|| {
            bad(format!(
                "--vrf {}: {from_name} has no {} address in the VRF",
                f.vrf.as_deref().unwrap_or_default(),
                if dst.is_ipv4() { "IPv4" } else { "IPv6" }
            ))
        })?,
        Some(a) => {
            let a = nettwin_model::addr::parse_addr(a).map_err(|e| bad(format!("--from: {e}")))?;
            if net.owner_node(a) != Some(from) {
                return Err(bad(format!("--from: {a} is not an address of {from_name}")));
            }
            a
        }
        None => net.source_address(from, dst).ok_or_else(|| {
            bad(format!(
                "--from {from_name}: node has no {} address",
                if dst.is_ipv4() { "IPv4" } else { "IPv6" }
            ))
        })?,
    };
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(bad(format!(
            "source {src} and destination {dst} are different families"
        )));
    }
    let proto = Proto::parse(&f.proto)
        .ok_or_else(|| bad(format!("--proto {}: use icmp, tcp or udp", f.proto)))?;
    let min = nettwin_dataplane::packet::min_size(nettwin_dataplane::packet::family_of(dst));
    if f.size < min || f.size > 65535 {
        return Err(bad(format!("--size {} must be {min}..=65535", f.size)));
    }
    if f.ttl == 0 {
        return Err(bad("--ttl must be at least 1".into()));
    }
    Ok(Probe {
        from,
        src,
        dst,
        proto,
        sport: if proto == Proto::Icmp { 0 } else { f.sport },
        dport: if proto == Proto::Icmp { 0 } else { f.dport },
        size: f.size,
        df: f.df,
        ttl: f.ttl,
        flow_hash: f.flow_hash,
    })
}

/// The index of VRF `name` on a node, or an error naming the VRFs it has.
pub fn vrf_index(topo: &Topology, node: nettwin_model::NodeId, name: &str) -> anyhow::Result<u32> {
    let n = topo.node(node);
    n.vrf(name).ok_or_else(|| {
        let names: Vec<&str> = n.vrfs.iter().map(|v| v.name.as_str()).collect();
        bad(if names.is_empty() {
            format!("--vrf {name}: {} has no VRFs", n.name)
        } else {
            format!(
                "--vrf {name}: {} has no VRF {name}; its VRFs are: {}",
                n.name,
                names.join(", ")
            )
        })
    })
}

/// A source address in VRF `vrf` of `node` towards `dst`: the egress interface's on the VRF's
/// route, else the VRF loopback, else any interface of the VRF.
fn vrf_source(
    net: &Net,
    node: nettwin_model::NodeId,
    vrf: Option<u32>,
    dst: std::net::IpAddr,
) -> Option<std::net::IpAddr> {
    let n = net.topo.node(node);
    let fam = |a: Option<nettwin_model::IfAddr>| {
        a.map(|a| a.addr).filter(|a| a.is_ipv4() == dst.is_ipv4())
    };
    let of = |i: &nettwin_model::Interface| fam(i.ipv4).or(fam(i.ipv6));
    let k = vrf?;
    let via_route = net
        .routing
        .fib_in(node, vrf)
        .lookup(dst)
        .and_then(|r| r.next_hops().first().copied())
        .map(|h| &n.interfaces[h.interface as usize])
        .filter(|i| i.vrf == vrf)
        .and_then(of);
    let lb = n.vrfs[k as usize].loopback;
    via_route
        .or_else(|| fam(lb.ipv4).or(fam(lb.ipv6)))
        .or_else(|| n.interfaces.iter().filter(|i| i.vrf == vrf).find_map(of))
}

/// Loads the file and returns the operational topology with its routing.
pub fn load(file: &std::path::Path) -> anyhow::Result<(Topology, nettwin_routing::Routing)> {
    let (topo, routing) = super::routes::load_routing(file)?;
    Ok((nettwin_dataplane::operational(&topo), routing))
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    let (topo, routing) = load(&args.file)?;
    let net = Net::new(&topo, &routing);
    let p = probe(&net, &args.flow)?;
    let t = nettwin_dataplane::trace(&net, &p);
    if g.json {
        return output::print_json(&t);
    }
    print!("{}", render(&t));
    Ok(())
}

/// The trace as indented text, one line per hop, branches indented under an ECMP split.
pub fn render(t: &Trace) -> String {
    let p = &t.probe;
    let mut out = format!(
        "trace {} ({}) -> {}: {}{}, {} bytes{}, TTL {}{}\n",
        t.from,
        p.src,
        p.dst,
        p.proto.name(),
        if p.dport > 0 {
            format!(" dport {}", p.dport)
        } else {
            String::new()
        },
        p.size,
        if p.df { " DF" } else { "" },
        p.ttl,
        if p.flow_hash {
            ", one ECMP branch by flow hash"
        } else {
            ""
        }
    );
    render_nodes(&t.branches, 1, "", &mut out);
    if t.truncated {
        out.push_str("(truncated: too many ECMP branches, some splits followed one branch)\n");
    }
    out
}

fn render_nodes(nodes: &[TraceNode], num: usize, indent: &str, out: &mut String) {
    if nodes.len() == 1 {
        render_node(&nodes[0], num, indent, out);
        return;
    }
    for (k, n) in nodes.iter().enumerate() {
        out.push_str(&format!("{indent}  branch {}/{}:\n", k + 1, nodes.len()));
        render_node(n, num, &format!("{indent}    "), out);
    }
}

fn render_node(n: &TraceNode, num: usize, indent: &str, out: &mut String) {
    let h = &n.hop;
    let mut line = format!("{indent}{num:>2}  {}", h.node);
    if let Some(v) = &h.vrf {
        line.push_str(&format!(" vrf {v}"));
    }
    if let Some(i) = &h.ingress {
        line.push_str(&format!(" in {i}"));
    }
    if let Some(r) = &h.route {
        line.push_str(&format!(" [{} {}]", r.protocol.name(), r.prefix));
    }
    if let Some(e) = &h.egress {
        line.push_str(&format!(" out {e} (mtu {})", h.egress_mtu.unwrap_or(0)));
        if let Some(k) = h.ecmp {
            line.push_str(&format!(" ecmp {k}"));
        }
    }
    if let Some(res) = &h.resolution {
        if let Some(t) = res.tag {
            line.push_str(&format!(" tag {t}"));
        }
        line.push_str(&format!(
            " {} {} is {}",
            res.protocol, res.target, res.owner
        ));
        // 802.1Q tags on the wire: `eth1[tag 20]` is a trunk port the frame crosses tagged.
        let port = |name: &str, tag: Option<u16>| match tag {
            Some(t) => format!("{name}[tag {t}]"),
            None => name.to_string(),
        };
        for b in &res.bridges {
            line.push_str(&format!(
                " via {}({} {} -> {} {})",
                b.switch,
                port(&b.in_port, b.in_tag),
                b.in_mtu,
                port(&b.out_port, b.out_tag),
                b.out_mtu
            ));
        }
    } else if let Some(nh) = h.next_hop {
        line.push_str(&format!(" next hop {nh}"));
    }
    match h.ttl_out {
        Some(o) => line.push_str(&format!(" ttl {}->{o}", h.ttl_in)),
        None => line.push_str(&format!(" ttl {}", h.ttl_in)),
    }
    line.push_str(&format!(" {}B", h.size));
    if h.packets > 1 {
        line.push_str(&format!(" x{}", h.packets));
    }
    if let Some(l) = &h.labels {
        line.push_str(&super::labels::describe_hop(l));
    }
    out.push_str(&line);
    out.push('\n');
    for f in &h.fragmented {
        out.push_str(&format!(
            "{indent}      fragmented by {} to MTU {}: {} packets\n",
            f.by, f.mtu, f.fragments
        ));
    }
    if let Some(e) = &n.end {
        out.push_str(&format!(
            "{indent}    => {} at {}: {}\n",
            e.disposition.name().to_uppercase(),
            e.at,
            e.detail
        ));
        if let Some(i) = &e.icmp {
            out.push_str(&format!(
                "{indent}    <= ICMP {} (type {} code {}{}) from {}: {}\n",
                i.name,
                i.icmp_type,
                i.code,
                i.mtu.map(|m| format!(", mtu {m}")).unwrap_or_default(),
                i.from,
                if i.reached_source {
                    "reaches the sender"
                } else {
                    "LOST on the way back"
                }
            ));
            render_nodes(&i.trace.branches, 1, &format!("{indent}       "), out);
        }
    }
    if !n.next.is_empty() {
        render_nodes(&n.next, num + 1, indent, out);
    }
}
