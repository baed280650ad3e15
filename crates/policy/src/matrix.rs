//! Truth tables in cyclonus's layout (one per port and protocol) and probe lists for CI.

use crate::cluster::{proto, Cluster};
use crate::eval::{DirVerdict, Engine, Probe};
use serde::Serialize;

/// A port by number or by name (resolved against each destination pod's container ports).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortRef {
    Number(u16),
    Named(String),
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Named(s) => f.write_str(s),
        }
    }
}

/// A port and protocol to probe: `80/TCP`, `serve-80-udp/UDP`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortProto {
    pub protocol: u8,
    pub port: PortRef,
}

impl std::fmt::Display for PortProto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.port, proto::name(self.protocol))
    }
}

/// `TCP`, `UDP` or `SCTP` (any case).
pub fn parse_protocol(s: &str) -> Result<u8, String> {
    match s.to_ascii_uppercase().as_str() {
        "TCP" => Ok(proto::TCP),
        "UDP" => Ok(proto::UDP),
        "SCTP" => Ok(proto::SCTP),
        _ => Err(format!("protocol `{s}` is not TCP, UDP or SCTP")),
    }
}

fn parse_port(s: &str) -> Result<PortRef, String> {
    if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
        match s.parse::<u16>() {
            Ok(n) if n >= 1 => Ok(PortRef::Number(n)),
            _ => Err(format!("port {s} is out of range 1..65535")),
        }
    } else {
        crate::load::check_port_name(s)?;
        Ok(PortRef::Named(s.to_string()))
    }
}

/// `80,81/TCP,53/UDP`: ports by number or name, each with an optional `/PROTOCOL` (TCP when
/// absent).
pub fn parse_ports(list: &str) -> Result<Vec<PortProto>, String> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (p, pr) = match item.split_once('/') {
            Some((p, pr)) => (p, parse_protocol(pr)?),
            None => (item, proto::TCP),
        };
        let pp = PortProto {
            protocol: pr,
            port: parse_port(p)?,
        };
        if !out.contains(&pp) {
            out.push(pp);
        }
    }
    if out.is_empty() {
        return Err("no ports given".into());
    }
    Ok(out)
}

/// Every container port the given destination pods declare, by protocol then number.
pub fn declared_ports(c: &Cluster, pods: &[usize]) -> Vec<PortProto> {
    let mut v: Vec<PortProto> = pods
        .iter()
        .flat_map(|&i| c.pods[i].ports.iter())
        .map(|p| PortProto {
            protocol: p.protocol,
            port: PortRef::Number(p.port),
        })
        .collect();
    v.sort_by_key(|p| (proto::name(p.protocol), p.port.clone()));
    v.dedup();
    v
}

/// The port number `port` means on pod `pod`, if any.
pub fn resolve(c: &Cluster, pod: usize, port: &PortProto) -> Option<u16> {
    match &port.port {
        PortRef::Number(n) => Some(*n),
        PortRef::Named(name) => c.pods[pod]
            .ports
            .iter()
            .find(|p| p.name.as_deref() == Some(name) && p.protocol == port.protocol)
            .map(|p| p.port),
    }
}

/// One table: `cells[i][j]` is from `pods[i]` to `pods[j]`; `None` when a named port does not
/// exist on the destination.
#[derive(Clone, Debug)]
pub struct Table {
    pub port: PortProto,
    pub pods: Vec<usize>,
    pub cells: Vec<Vec<Option<bool>>>,
}

pub fn tables(e: &Engine<'_>, pods: &[usize], ports: &[PortProto]) -> Vec<Table> {
    ports
        .iter()
        .map(|pp| {
            let cells = pods
                .iter()
                .map(|&from| {
                    pods.iter()
                        .map(|&to| {
                            resolve(e.cluster, to, pp).map(|port| {
                                e.check(
                                    &Probe {
                                        from,
                                        to,
                                        protocol: pp.protocol,
                                        port,
                                    },
                                    false,
                                )
                                .allowed
                            })
                        })
                        .collect()
                })
                .collect();
            Table {
                port: pp.clone(),
                pods: pods.to_vec(),
                cells,
            }
        })
        .collect()
}

/// One answered probe, as `--json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeResult {
    pub from: String,
    pub to: String,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_name: Option<String>,
    pub protocol: String,
    pub allowed: bool,
    pub ingress: DirVerdict,
    pub egress: DirVerdict,
}

/// A probe as asked for: pods by `ns/name`, the port by number or name.
#[derive(Clone, Debug)]
pub struct ProbeSpec {
    pub from: String,
    pub to: String,
    pub port: PortProto,
}

/// Answers the probes; a probe naming a pod or named port that does not exist is an error.
pub fn answer(e: &Engine<'_>, probes: &[ProbeSpec]) -> Result<Vec<ProbeResult>, String> {
    let c = e.cluster;
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        let (Some(from), Some(to)) = (c.pod(&p.from), c.pod(&p.to)) else {
            for id in [&p.from, &p.to] {
                if c.pod(id).is_none() {
                    errs.push(format!("probe {i}: no pod `{id}` (write it ns/name)"));
                }
            }
            continue;
        };
        let Some(port) = resolve(c, to, &p.port) else {
            errs.push(format!(
                "probe {i}: pod {} has no {} port named `{}`",
                p.to,
                proto::name(p.port.protocol),
                p.port.port
            ));
            continue;
        };
        let v = e.check(
            &Probe {
                from,
                to,
                protocol: p.port.protocol,
                port,
            },
            false,
        );
        out.push(ProbeResult {
            from: p.from.clone(),
            to: p.to.clone(),
            port,
            port_name: match &p.port.port {
                PortRef::Named(n) => Some(n.clone()),
                PortRef::Number(_) => None,
            },
            protocol: proto::name(p.port.protocol),
            allowed: v.allowed,
            ingress: v.ingress,
            egress: v.egress,
        });
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs.join("\n"))
    }
}

/// Reads `{"probes":[{"from":"ns/pod","to":"ns/pod","port":80,"protocol":"TCP"}]}`; the
/// port is a number or a name, the protocol TCP when absent.
pub fn parse_probes(text: &str) -> Result<Vec<ProbeSpec>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let list = v
        .get("probes")
        .and_then(|p| p.as_array())
        .ok_or("expected {\"probes\": [...]}")?;
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let s = |k: &str| p.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let (Some(from), Some(to)) = (s("from"), s("to")) else {
            errs.push(format!("probes[{i}]: `from` and `to` are strings ns/pod"));
            continue;
        };
        let protocol = match s("protocol") {
            Some(x) => match parse_protocol(&x) {
                Ok(p) => p,
                Err(e) => {
                    errs.push(format!("probes[{i}].protocol: {e}"));
                    continue;
                }
            },
            None => proto::TCP,
        };
        let port = match p.get("port") {
            Some(serde_json::Value::Number(n)) => match n.as_u64() {
                Some(n @ 1..=65535) => PortRef::Number(n as u16),
                _ => {
                    errs.push(format!("probes[{i}].port: {n} is out of range 1..65535"));
                    continue;
                }
            },
            Some(serde_json::Value::String(name)) => match parse_port(name) {
                Ok(p) => p,
                Err(e) => {
                    errs.push(format!("probes[{i}].port: {e}"));
                    continue;
                }
            },
            _ => {
                errs.push(format!("probes[{i}]: `port` is a number or a port name"));
                continue;
            }
        };
        out.push(ProbeSpec {
            from,
            to,
            port: PortProto { protocol, port },
        });
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_lists() {
        let p = parse_ports("80,81/TCP, 53/udp,serve-80-tcp").unwrap();
        assert_eq!(
            p.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
            ["80/TCP", "81/TCP", "53/UDP", "serve-80-tcp/TCP"]
        );
        assert!(parse_ports("0").is_err());
        assert!(parse_ports("80/ICMP").is_err());
        assert!(parse_ports("").is_err());
    }

    #[test]
    fn probe_files() {
        let p = parse_probes(
            r#"{"probes":[{"from":"x/a","to":"y/b","port":80},{"from":"x/a","to":"y/b","port":"dns","protocol":"UDP"}]}"#,
        )
        .unwrap();
        assert_eq!(p[1].port.to_string(), "dns/UDP");
        let e = parse_probes(r#"{"probes":[{"from":"x/a","port":80}]}"#).unwrap_err();
        assert!(e.contains("probes[0]"), "{e}");
    }
}
