//! Probes predicted on the twin: each probe's packets follow the twin's forwarding (a flow-hashed
//! trace there and another back, so asymmetric paths count), the round-trip time is the sum of
//! the link latencies both ways, and each phase costs round trips as the protocols do: DNS 1,
//! TCP connect 1, TLS 1.3 1 (TLS 1.2 2), an HTTP request 1 plus the server's time from the
//! file. Loss along both paths gives the chance a round trip loses a packet; a path-MTU black
//! hole smaller than the segments TCP will send (the MSS both ends' interfaces allow) makes a
//! TLS handshake hang (the server's certificate flight never arrives), which the prediction says.
//! Unreachable targets come back with the twin's reason.

use crate::result::Phase;
use crate::spec::{Kind, Probe};
use nettwin_dataplane::{Net, Proto, Trace};
use nettwin_model::{NodeId, Topology};
use nettwin_routing::whatif::Change;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error("{0}")]
    Routing(#[from] nettwin_routing::RoutingError),
    #[error("no node `{name}` in the topology{near}")]
    NoSuchNode { name: String, near: String },
    #[error("probe `{0}` has no vantage point: give --from or `from:` in the probe file")]
    NoVantage(String),
}

/// One direction of a probe's path on the twin.
#[derive(Clone, Debug, Serialize)]
pub struct PathInfo {
    /// Node names, sender first.
    pub nodes: Vec<String>,
    /// Sum of the one-way link latencies, in milliseconds.
    pub latency_ms: f64,
    /// Chance a packet is lost on the way, from the links' `loss`.
    pub loss: f64,
}

/// What the twin predicts for one probe (or one step of a transaction).
#[derive(Clone, Debug, Serialize)]
pub struct Predicted {
    pub probe: String,
    pub kind: &'static str,
    pub target: String,
    pub from: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst: Option<IpAddr>,
    /// Whether the probe would succeed on the twin (reachable, and no hang).
    pub success: bool,
    /// Why it would fail: the twin's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_phase: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Round-trip time in milliseconds.
    pub rtt_ms: f64,
    pub round_trips: f64,
    /// Phases in seconds, named as the probers name them.
    pub phases: Vec<Phase>,
    /// Seconds for the whole probe.
    pub duration: f64,
    /// Chance that at least one packet of the probe is lost (a retransmission, or a failure).
    pub loss: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward: Option<PathInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverse: Option<PathInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Predicted>,
}

/// A probe before and after a change.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub probe: String,
    pub before: Predicted,
    pub after: Predicted,
    /// `unchanged`, `slower`, `faster`, `breaks`, `recovers`, `still failing`.
    pub verdict: &'static str,
    /// After minus before, in milliseconds.
    pub delta_ms: f64,
}

/// The twin, with routing, under some changes.
pub struct Twin {
    pub topo: Topology,
    pub routing: nettwin_routing::Routing,
}

impl Twin {
    pub fn new(topo: &Topology, changes: &[Change]) -> Result<Twin, PredictError> {
        let t = nettwin_routing::whatif::apply(topo, changes)?;
        let routing = nettwin_routing::whatif::compute_with(topo, changes)?;
        Ok(Twin { topo: t, routing })
    }
}

/// A node by name, with a did-you-mean.
pub fn node_id(topo: &Topology, name: &str) -> Result<NodeId, PredictError> {
    topo.node_by_name(name).map(|n| n.id).ok_or_else(|| {
        let names: Vec<&str> = topo.nodes.iter().map(|n| n.name.as_str()).collect();
        PredictError::NoSuchNode {
            name: name.to_string(),
            near: nettwin_model::yaml::closest(name, &names)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default(),
        }
    })
}

/// Predicts every probe from `from` (or each probe's own `from:`).
pub fn predict_all(
    twin: &Twin,
    probes: &[Probe],
    from: Option<&str>,
) -> Result<Vec<Predicted>, PredictError> {
    let net = Net::new(&twin.topo, &twin.routing);
    let mut out = Vec::new();
    for p in probes {
        let vantage = from
            .or(p.from.as_deref())
            .ok_or_else(|| PredictError::NoVantage(p.name.clone()))?;
        let node = node_id(&twin.topo, vantage)?;
        out.push(predict(&net, p, node));
    }
    Ok(out)
}

/// Compares predictions before and after (same probes, same order).
pub fn compare(before: Vec<Predicted>, after: Vec<Predicted>) -> Vec<Comparison> {
    before
        .into_iter()
        .zip(after)
        .map(|(b, a)| {
            let delta_ms = (a.duration - b.duration) * 1e3;
            let verdict = match (b.success, a.success) {
                (true, false) => "breaks",
                (false, true) => "recovers",
                (false, false) => "still failing",
                _ if delta_ms > 0.05 => "slower",
                _ if delta_ms < -0.05 => "faster",
                _ => "unchanged",
            };
            Comparison {
                probe: b.probe.clone(),
                before: b,
                after: a,
                verdict,
                delta_ms,
            }
        })
        .collect()
}

fn host_of(kind: &Kind) -> Option<(String, u16, Proto)> {
    match kind {
        Kind::Http(h) => crate::http::parse_url(&h.url)
            .ok()
            .map(|u| (u.host, u.port, Proto::Tcp)),
        Kind::Tcp(t) => crate::spec::host_port(&t.target).map(|(h, p)| (h, p, Proto::Tcp)),
        Kind::Dns(d) => Some(
            crate::spec::host_port(&d.server)
                .map(|(h, p)| (h, p, Proto::Udp))
                .unwrap_or((d.server.clone(), 53, Proto::Udp)),
        ),
        Kind::Icmp(i) => Some((i.target.clone(), 0, Proto::Icmp)),
        Kind::Transaction(_) => None,
    }
}

/// The address a target host names on the twin: an address, or a node's name.
pub(crate) fn resolve(net: &Net, host: &str, v6: bool) -> Option<IpAddr> {
    if let Ok(a) = host.parse::<IpAddr>() {
        return Some(a);
    }
    let n = net.topo.node_by_name(host)?;
    net.node_address(n.id, v6)
        .or_else(|| net.node_address(n.id, !v6))
}

/// A small DF packet of the flow from `from` (`src`:`sport`) to `dst`:`dport`, one ECMP branch.
fn flow(
    from: NodeId,
    src: IpAddr,
    dst: IpAddr,
    proto: Proto,
    ports: (u16, u16),
) -> nettwin_dataplane::Probe {
    nettwin_dataplane::Probe {
        from,
        src,
        dst,
        proto,
        sport: ports.0,
        dport: ports.1,
        size: 64,
        df: true,
        ttl: nettwin_dataplane::DEFAULT_TTL,
        flow_hash: true,
    }
}

/// One direction: the flow-hashed trace and what it costs.
fn walk(net: &Net, probe: nettwin_dataplane::Probe) -> (Trace, PathInfo) {
    let t = nettwin_dataplane::trace(net, &probe);
    let mut info = PathInfo {
        nodes: Vec::new(),
        latency_ms: 0.0,
        loss: 0.0,
    };
    let mut deliver = 1.0;
    if let Some((hops, _)) = t.paths().into_iter().next() {
        for h in hops {
            info.nodes.push(h.node.clone());
            let mut links = Vec::new();
            if let Some(e) = h.egress_if {
                links.push(net.topo.node(e.node).interfaces[e.index as usize].link);
            }
            if let Some(res) = &h.resolution {
                for b in &res.bridges {
                    if let Some(sw) = net.topo.node_by_name(&b.switch) {
                        if let Some(i) = sw.interfaces.iter().find(|i| {
                            i.name == b.out_port || b.out_port.ends_with(&format!(":{}", i.name))
                        }) {
                            links.push(i.link);
                        }
                    }
                }
            }
            for l in links {
                let link = &net.topo.links[l.0 as usize];
                info.latency_ms += link.latency_us.unwrap_or(0) as f64 / 1e3;
                deliver *= 1.0 - link.loss.unwrap_or(0.0) / 100.0;
            }
        }
    }
    info.loss = 1.0 - deliver;
    (t, info)
}

fn why_not(t: &Trace) -> String {
    match t
        .paths()
        .into_iter()
        .find(|(_, e)| !e.disposition.is_delivered())
    {
        Some((_, e)) => {
            let mut s = format!("{} at {}", e.disposition.name(), e.at);
            if !e.detail.is_empty() {
                s.push_str(&format!(": {}", e.detail));
            }
            s
        }
        None => "no path".into(),
    }
}

/// The largest TCP segment (IP packet) both ends allow: the smaller interface MTU.
fn segment_size(net: &Net, node: NodeId, addr: IpAddr, peer: IpAddr) -> u32 {
    let n = net.topo.node(node);
    let own = net
        .owner_if(addr)
        .map(|i| net.topo.node(i.node).interfaces[i.index as usize].mtu)
        .or_else(|| {
            net.routing.fib(node).lookup(peer).and_then(|r| {
                r.next_hops()
                    .first()
                    .map(|h| n.interfaces[h.interface as usize].mtu)
            })
        });
    own.unwrap_or(1500)
}

/// Predicts one probe from `from`.
pub fn predict(net: &Net, p: &Probe, from: NodeId) -> Predicted {
    let from_name = net.topo.node(from).name.clone();
    let mut pr = Predicted {
        probe: p.name.clone(),
        kind: p.kind.name(),
        target: p.kind.target(),
        from: from_name.clone(),
        dst: None,
        success: true,
        failed_phase: None,
        reason: None,
        rtt_ms: 0.0,
        round_trips: 0.0,
        phases: Vec::new(),
        duration: 0.0,
        loss: 0.0,
        forward: None,
        reverse: None,
        notes: Vec::new(),
        steps: Vec::new(),
    };
    if let Kind::Transaction(steps) = &p.kind {
        let mut not_lost = 1.0;
        for s in steps {
            let sp = Probe {
                name: s.name.clone(),
                kind: s.kind.clone(),
                server_time: s.server_time.unwrap_or(p.server_time),
                ..p.clone()
            };
            let r = predict(net, &sp, from);
            for ph in &r.phases {
                add(&mut pr.phases, ph.name, ph.seconds);
            }
            pr.round_trips += r.round_trips;
            pr.duration += r.duration;
            not_lost *= 1.0 - r.loss;
            if !r.success && pr.success {
                pr.success = false;
                pr.failed_phase = r.failed_phase;
                pr.reason = Some(format!(
                    "step {}: {}",
                    s.name,
                    r.reason.clone().unwrap_or_default()
                ));
            }
            pr.steps.push(r);
        }
        pr.loss = 1.0 - not_lost;
        return pr;
    }
    let Some((host, port, proto)) = host_of(&p.kind) else {
        return pr;
    };
    let v6 = host.contains(':');
    let Some(dst) = resolve(net, &host, v6) else {
        pr.success = false;
        pr.failed_phase = Some("resolve");
        pr.reason = Some(format!(
            "`{host}` is neither an address nor a node of the twin (name targets by node or address)"
        ));
        return pr;
    };
    pr.dst = Some(dst);
    let Some(src) = net.source_address(from, dst) else {
        pr.success = false;
        pr.failed_phase = Some("connect");
        pr.reason = Some(format!("{from_name} has no address to send to {dst} from"));
        return pr;
    };
    let fail_phase = match &p.kind {
        Kind::Icmp(_) => "rtt",
        Kind::Dns(_) => "request",
        _ => "connect",
    };
    let (fwd, fwd_info) = walk(net, flow(from, src, dst, proto, (40000, port)));
    if !fwd.delivered() {
        pr.success = false;
        pr.failed_phase = Some(fail_phase);
        pr.reason = Some(format!("unreachable on the twin: {}", why_not(&fwd)));
        pr.forward = Some(fwd_info);
        return pr;
    }
    let Some(dst_node) = net.owner_node(dst) else {
        pr.success = false;
        pr.failed_phase = Some(fail_phase);
        pr.reason = Some(format!("no node owns {dst}"));
        return pr;
    };
    let (rev, rev_info) = walk(net, flow(dst_node, dst, src, proto, (port, 40000)));
    if !rev.delivered() {
        pr.success = false;
        pr.failed_phase = Some(fail_phase);
        pr.reason = Some(format!("the answer does not come back: {}", why_not(&rev)));
        pr.forward = Some(fwd_info);
        pr.reverse = Some(rev_info);
        return pr;
    }
    let rtt = (fwd_info.latency_ms + rev_info.latency_ms) / 1e3;
    pr.rtt_ms = rtt * 1e3;
    let server = p.server_time.as_secs_f64();
    let mut rts = 0.0;
    let mut phase = |name: &'static str, trips: f64, extra: f64, pr: &mut Predicted| {
        add(&mut pr.phases, name, trips * rtt + extra);
        rts += trips;
    };
    match &p.kind {
        Kind::Icmp(_) => {
            for n in ["resolve", "setup"] {
                phase(n, 0.0, 0.0, &mut pr);
            }
            phase("rtt", 1.0, 0.0, &mut pr);
        }
        Kind::Dns(d) => {
            phase("resolve", 0.0, 0.0, &mut pr);
            phase(
                "connect",
                if d.transport_tcp { 1.0 } else { 0.0 },
                0.0,
                &mut pr,
            );
            phase("request", 1.0, server, &mut pr);
        }
        Kind::Tcp(t) => {
            phase("resolve", 0.0, 0.0, &mut pr);
            phase("connect", 1.0, 0.0, &mut pr);
            if let Some(tls) = &t.tls {
                phase("tls", tls_trips(tls), 0.0, &mut pr);
            }
            let exchanges = t
                .query_response
                .iter()
                .filter(|q| q.expect.is_some())
                .count() as f64;
            if exchanges > 0.0 {
                phase("transfer", exchanges, server, &mut pr);
            }
        }
        Kind::Http(h) => {
            let https = h.url.to_ascii_lowercase().starts_with("https://");
            phase("resolve", 0.0, 0.0, &mut pr);
            phase("connect", 1.0, 0.0, &mut pr);
            phase(
                "tls",
                if https { tls_trips(&h.tls) } else { 0.0 },
                0.0,
                &mut pr,
            );
            phase("processing", 1.0, server, &mut pr);
            phase("transfer", 0.0, 0.0, &mut pr);
        }
        Kind::Transaction(_) => {}
    }
    pr.round_trips = rts;
    pr.duration = pr.phases.iter().map(|p| p.seconds).sum();
    let per_rt_ok = (1.0 - fwd_info.loss) * (1.0 - rev_info.loss);
    pr.loss = 1.0 - per_rt_ok.powf(pr.round_trips.max(1.0));
    if pr.loss > 0.0 {
        pr.notes.push(format!(
            "{:.2}% of runs lose a packet ({} round trips at {:.2}% loss each way)",
            pr.loss * 100.0,
            pr.round_trips,
            fwd_info.loss * 100.0
        ));
    }
    // MTU: TCP sends segments as large as both ends' interfaces allow; a black hole below that
    // size on the way back swallows the server's full-size segments.
    if proto == Proto::Tcp {
        let seg = segment_size(net, from, src, dst).min(segment_size(net, dst_node, dst, src));
        for (dir, from_n, s, d) in [
            ("back from the server", dst_node, dst, src),
            ("towards the server", from, src, dst),
        ] {
            let probe = nettwin_dataplane::Probe {
                from: from_n,
                src: s,
                dst: d,
                proto: Proto::Tcp,
                sport: port,
                dport: 40000,
                size: seg,
                df: true,
                ttl: nettwin_dataplane::DEFAULT_TTL,
                flow_hash: true,
            };
            let report = nettwin_dataplane::path_mtu(net, &probe);
            if let Some(hole) = report.black_holes.iter().find(|b| b.size <= seg) {
                let is_tls = matches!(&p.kind, Kind::Http(h) if h.url.to_ascii_lowercase().starts_with("https://"))
                    || matches!(&p.kind, Kind::Tcp(t) if t.tls.is_some());
                let what = format!(
                    "a path-MTU black hole {dir}: {}-byte segments vanish at {} (MTU {}) and no ICMP reaches the sender",
                    hole.size, hole.limit.interface, hole.limit.mtu
                );
                if is_tls && dir.starts_with("back") {
                    pr.success = false;
                    pr.failed_phase = Some("tls");
                    pr.reason = Some(format!(
                        "{what}; the TLS handshake (the server's certificate flight) hangs"
                    ));
                } else {
                    pr.notes.push(format!(
                        "{what}; transfers larger than {} bytes hang",
                        hole.limit.mtu
                    ));
                }
                break;
            }
        }
    }
    pr.forward = Some(fwd_info);
    pr.reverse = Some(rev_info);
    pr
}

/// Round trips of a full handshake: TLS 1.3 takes one, TLS 1.2 two.
fn tls_trips(t: &crate::spec::TlsSpec) -> f64 {
    if t.max_version_12 {
        2.0
    } else {
        1.0
    }
}

fn add(phases: &mut Vec<Phase>, name: &'static str, seconds: f64) {
    match phases.iter_mut().find(|p| p.name == name) {
        Some(p) => p.seconds += seconds,
        None => phases.push(Phase { name, seconds }),
    }
}
