//! Probes run for real inside an `emu` run (the topology in network namespaces), next to what
//! the twin predicts for them. Each target node gets a `serve` target on its probed addresses
//! (HTTP on 80, HTTPS on 443, DNS on 53, with a certificate for the node's name and addresses),
//! each vantage node runs its probes, targets named by node are aimed at the address the twin
//! picked, and TLS probes without a `ca_file` trust the targets' generated CAs.
//!
//! A thread enters a namespace with `setns(2)` (which moves only the calling thread) and runs
//! a current-thread tokio runtime there, so every socket it opens lives in that namespace; the
//! ICMP prober runs inline on that thread for the same reason.

use crate::predict::{predict_all, Predicted, Twin};
use crate::result::ProbeResult;
use crate::serve::{start, ServeConfig};
use crate::spec::{Kind, Probe};
use nettwin_dataplane::Net;
use nettwin_model::Topology;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{0}")]
    Emu(#[from] nettwin_emu::EmuError),
    #[error("{0}")]
    Predict(#[from] crate::predict::PredictError),
    #[error("cannot enter namespace {ns}: {source}")]
    Netns { ns: String, source: std::io::Error },
    #[error("target on {node}: {why}")]
    Target { node: String, why: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// One probe: what the twin predicts and what the lab measured.
#[derive(Clone, Debug, Serialize)]
pub struct LabResult {
    pub predicted: Predicted,
    pub measured: ProbeResult,
}

/// Moves the calling thread into network namespace `ns` (`ip netns` names).
fn enter(ns: &str) -> Result<(), LabError> {
    let err = |source| LabError::Netns {
        ns: ns.to_string(),
        source,
    };
    let f = std::fs::File::open(format!("/var/run/netns/{ns}")).map_err(err)?;
    // SAFETY: a valid descriptor of a namespace file; setns only changes this thread.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    Ok(())
}

fn host_url(addr: IpAddr, port: Option<u16>) -> String {
    let h = match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    match port {
        Some(p) => format!("{h}:{p}"),
        None => h,
    }
}

/// The probe's kind aimed at addresses instead of node names; TLS keeps the name for SNI and
/// trusts `ca` unless it has a CA file.
fn retarget(kind: &Kind, net: &Net, ca: &std::path::Path) -> Kind {
    let addr_of = |host: &str| crate::predict::resolve(net, host, host.contains(':'));
    let fix_tls = |t: &mut crate::spec::TlsSpec, host: &str| {
        if t.ca_file.is_none() && !t.insecure_skip_verify {
            t.ca_file = Some(ca.to_path_buf());
        }
        if t.server_name.is_none() && host.parse::<IpAddr>().is_err() {
            t.server_name = Some(host.to_string());
        }
    };
    let mut k = kind.clone();
    match &mut k {
        Kind::Http(h) => {
            if let Ok(u) = crate::http::parse_url(&h.url) {
                if let Some(a) = addr_of(&u.host) {
                    let explicit = u
                        .authority
                        .rsplit_once(':')
                        .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
                    h.url = format!(
                        "{}://{}{}",
                        if u.https { "https" } else { "http" },
                        host_url(a, explicit.then_some(u.port)),
                        u.path_and_query
                    );
                    if !h
                        .headers
                        .iter()
                        .any(|(k, _)| k.eq_ignore_ascii_case("host"))
                    {
                        h.headers.push(("Host".into(), u.authority.clone()));
                    }
                }
                if u.https {
                    fix_tls(&mut h.tls, &u.host);
                }
            }
        }
        Kind::Tcp(t) => {
            if let Some((host, port)) = crate::spec::host_port(&t.target) {
                if let Some(a) = addr_of(&host) {
                    t.target = host_url(a, Some(port));
                }
                if let Some(tls) = &mut t.tls {
                    fix_tls(tls, &host);
                }
            }
        }
        Kind::Dns(d) => {
            let (host, port) = crate::spec::host_port(&d.server).unwrap_or((d.server.clone(), 53));
            if let Some(a) = addr_of(&host) {
                d.server = host_url(a, Some(port));
            }
        }
        Kind::Icmp(i) => {
            if let Some(a) = addr_of(&i.target) {
                i.target = a.to_string();
            }
        }
        Kind::Transaction(steps) => {
            for s in steps {
                s.kind = retarget(&s.kind, net, ca);
            }
        }
    }
    k
}

/// Runs `probes` in emu run `run` of `topo` (each from `from` or its own `from:`), with the
/// twin's prediction beside each.
pub fn run_lab(
    topo: &Topology,
    probes: &[Probe],
    run: &str,
    from: Option<&str>,
) -> Result<Vec<LabResult>, LabError> {
    let state = nettwin_emu::RunState::load(run)?;
    let twin = Twin::new(topo, &[])?;
    let predicted = predict_all(&twin, probes, from)?;
    let net = Net::new(&twin.topo, &twin.routing);
    // Target nodes and the addresses probes aim at, from every step of every prediction.
    let mut targets: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    fn collect(p: &Predicted, net: &Net, out: &mut BTreeMap<String, Vec<IpAddr>>) {
        if let Some(dst) = p.dst {
            if let Some(n) = net.owner_node(dst) {
                let v = out.entry(net.topo.node(n).name.clone()).or_default();
                if !v.contains(&dst) {
                    v.push(dst);
                }
            }
        }
        for s in &p.steps {
            collect(s, net, out);
        }
    }
    for p in &predicted {
        collect(p, &net, &mut targets);
    }
    let dir = std::env::temp_dir().join(format!("nettwin-probe-lab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| LabError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let ca_path = dir.join("ca.pem");
    // One thread per target node, serving until told to stop.
    let mut servers = Vec::new();
    let mut bundle = String::new();
    for (node, addrs) in &targets {
        let ns = state.netns(node)?.to_string();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<String, LabError>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let node_name = node.clone();
        let addrs = addrs.clone();
        let handle = std::thread::spawn(move || {
            let fail = |why: String| LabError::Target {
                node: node_name.clone(),
                why,
            };
            if let Err(e) = enter(&ns) {
                let _ = ready_tx.send(Err(e));
                return;
            }
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(fail(e.to_string())));
                    return;
                }
            };
            rt.block_on(async {
                let mut handles = Vec::new();
                let mut pems = String::new();
                for a in &addrs {
                    let mut c = ServeConfig::new(SocketAddr::new(*a, 80));
                    c.tls_listen = Some(SocketAddr::new(*a, 443));
                    c.dns_port = Some(53);
                    c.cert_names = vec![node_name.clone(), a.to_string()];
                    match start(c).await {
                        Ok(h) => {
                            pems.push_str(&h.ca_pem);
                            handles.push(h);
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(fail(e.to_string())));
                            return;
                        }
                    }
                }
                let _ = ready_tx.send(Ok(pems));
                let _ = stop_rx.await;
                for h in &handles {
                    h.stop();
                }
            });
        });
        match ready_rx.recv() {
            Ok(Ok(pem)) => bundle.push_str(&pem),
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(LabError::Target {
                    node: node.clone(),
                    why: "the server thread ended".into(),
                })
            }
        }
        servers.push((stop_tx, handle));
    }
    std::fs::write(&ca_path, &bundle).map_err(|source| LabError::Write {
        path: ca_path.display().to_string(),
        source,
    })?;
    // Probes grouped by vantage node, each group on a thread in that node's namespace.
    let mut groups: BTreeMap<String, Vec<(usize, Probe)>> = BTreeMap::new();
    for (i, p) in probes.iter().enumerate() {
        let mut p = p.clone();
        p.kind = retarget(&p.kind, &net, &ca_path);
        groups
            .entry(predicted[i].from.clone())
            .or_default()
            .push((i, p));
    }
    let mut measured: Vec<Option<ProbeResult>> = vec![None; probes.len()];
    let mut runners = Vec::new();
    for (node, list) in groups {
        let ns = state.netns(&node)?.to_string();
        runners.push(std::thread::spawn(
            move || -> Result<Vec<(usize, ProbeResult)>, LabError> {
                enter(&ns)?;
                crate::icmp::run_inline_on_this_thread();
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| LabError::Target {
                        node: node.clone(),
                        why: e.to_string(),
                    })?;
                Ok(rt.block_on(async {
                    let mut out = Vec::new();
                    for (i, p) in &list {
                        out.push((*i, crate::run::run_once(p).await));
                    }
                    out
                }))
            },
        ));
    }
    let mut first_err = None;
    for r in runners {
        match r.join() {
            Ok(Ok(list)) => {
                for (i, res) in list {
                    measured[i] = Some(res);
                }
            }
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(_) => {
                first_err.get_or_insert(LabError::Target {
                    node: "vantage".into(),
                    why: "a probe thread panicked".into(),
                });
            }
        }
    }
    for (stop, handle) in servers {
        let _ = stop.send(());
        let _ = handle.join();
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(e) = first_err {
        return Err(e);
    }
    Ok(predicted
        .into_iter()
        .zip(measured)
        .filter_map(|(p, m)| {
            Some(LabResult {
                predicted: p,
                measured: m?,
            })
        })
        .collect())
}
