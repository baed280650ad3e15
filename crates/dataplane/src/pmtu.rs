//! Path MTU discovery as a host does it (RFC 1191 for IPv4, RFC 8201 for IPv6): send DF
//! packets of the interface MTU, lower the size to the MTU each ICMP too-big reports, until
//! the packet gets through. A too-big packet dropped without an ICMP reaching the sender is a
//! black hole: real PMTUD would stall there; nettwin flags it and, like packetization-layer
//! PMTUD (RFC 4821), keeps probing with the size that fits to report the true path MTU.

use crate::mtu::Role;
use crate::trace::{trace, Disposition};
use crate::{Net, Probe};
use serde::Serialize;

/// The MTU that limits the path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Limit {
    pub node: String,
    /// `node:ifname`.
    pub interface: String,
    pub mtu: u32,
    /// `sender`, `router`, `bridge` or `receiver`.
    pub role: Role,
}

/// A too-big packet dropped with no ICMP reaching the sender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlackHole {
    pub limit: Limit,
    /// The size that vanished.
    pub size: u32,
    pub reason: String,
}

/// One probe of the discovery.
#[derive(Clone, Debug, Serialize)]
pub struct Round {
    pub size: u32,
    pub dispositions: Vec<Disposition>,
    /// What the sender learned (an MTU), if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned: Option<u32>,
    pub note: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PmtuReport {
    pub from: String,
    pub src: std::net::IpAddr,
    pub dst: std::net::IpAddr,
    /// The largest DF packet that gets through on every branch, if any does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limited_by: Option<Limit>,
    pub black_holes: Vec<BlackHole>,
    pub rounds: Vec<Round>,
    /// Why no path MTU could be found (the path itself fails).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Runs path MTU discovery for `probe`'s flow (its size and DF bit are replaced).
pub fn path_mtu(net: &Net, probe: &Probe) -> PmtuReport {
    let topo = net.topo;
    let from = topo.node(probe.from);
    let mut report = PmtuReport {
        from: from.name.clone(),
        src: probe.src,
        dst: probe.dst,
        path_mtu: None,
        limited_by: None,
        black_holes: Vec::new(),
        rounds: Vec::new(),
        error: None,
    };
    // The sender starts from the MTU of the interface its route uses, in the table of the
    // VRF its source address lies in (as the trace looks it up).
    let vrf = crate::trace::source_vrf(from, probe.src);
    let Some(start) = net
        .routing
        .fib_in(probe.from, vrf)
        .lookup(probe.dst)
        .and_then(|r| r.next_hops().first().copied())
    else {
        let t = trace(net, probe);
        report.error = Some(match t.paths().first() {
            Some((_, e)) if e.disposition.is_delivered() => {
                "the destination is the sender itself".to_string()
            }
            Some((_, e)) => format!("{} at {}: {}", e.disposition, e.at, e.detail),
            None => "no path".to_string(),
        });
        return report;
    };
    let iface = &from.interfaces[start.interface as usize];
    let mut size = iface.mtu;
    report.limited_by = Some(Limit {
        node: from.name.clone(),
        interface: format!("{}:{}", from.name, iface.name),
        mtu: iface.mtu,
        role: Role::Source,
    });
    for _ in 0..32 {
        let mut p = probe.clone();
        p.size = size;
        p.df = true;
        let t = trace(net, &p);
        let paths = t.paths();
        let mut dispositions: Vec<Disposition> = paths.iter().map(|(_, e)| e.disposition).collect();
        dispositions.sort();
        dispositions.dedup();
        if paths.iter().all(|(_, e)| e.disposition.is_delivered()) && !paths.is_empty() {
            report.rounds.push(Round {
                size,
                dispositions,
                learned: None,
                note: "delivered".into(),
            });
            report.path_mtu = Some(size);
            return report;
        }
        let mut next: Option<(u32, Limit)> = None;
        let mut notes = Vec::new();
        let mut learned = None;
        for (_, e) in &paths {
            match e.disposition {
                d if d.is_delivered() => {}
                Disposition::DroppedByMtu => {
                    let mtu = e.mtu.expect("MTU drops record the MTU");
                    let limit = Limit {
                        node: e.at.clone(),
                        interface: e.interface.clone().unwrap_or_default(),
                        mtu,
                        role: e.mtu_role.unwrap_or(Role::Router),
                    };
                    let told =
                        e.at_id == probe.from || e.icmp.as_ref().is_some_and(|i| i.reached_source);
                    if told {
                        learned = Some(learned.map_or(mtu, |l: u32| l.min(mtu)));
                        let note = if e.at_id == probe.from {
                            format!("EMSGSIZE at the sender: MTU {mtu}")
                        } else {
                            format!("ICMP too big from {}: MTU {mtu}", e.at)
                        };
                        if !notes.contains(&note) {
                            notes.push(note);
                        }
                    } else {
                        let reason = match &e.icmp {
                            Some(i) => format!(
                                "{} sent ICMP {} but it never reached {}",
                                e.at, i.name, from.name
                            ),
                            None => format!("{} drops it silently: {}", e.at, e.detail),
                        };
                        let note = format!("black hole at {}", limit.interface);
                        if !notes.contains(&note) {
                            notes.push(note);
                        }
                        if !report.black_holes.iter().any(|b| b.limit == limit) {
                            report.black_holes.push(BlackHole {
                                limit: limit.clone(),
                                size,
                                reason,
                            });
                        }
                    }
                    if next.as_ref().is_none_or(|(m, _)| mtu < *m) {
                        next = Some((mtu, limit));
                    }
                }
                d => {
                    report.rounds.push(Round {
                        size,
                        dispositions,
                        learned: None,
                        note: format!("{d} at {}", e.at),
                    });
                    report.error = Some(format!("the path fails: {d} at {}: {}", e.at, e.detail));
                    return report;
                }
            }
        }
        report.rounds.push(Round {
            size,
            dispositions,
            learned,
            note: notes.join("; "),
        });
        match next {
            Some((mtu, limit)) if mtu < size => {
                size = mtu;
                report.limited_by = Some(limit);
            }
            _ => {
                report.error = Some("path MTU discovery made no progress".into());
                return report;
            }
        }
    }
    report.error = Some("path MTU discovery did not converge".into());
    report
}
