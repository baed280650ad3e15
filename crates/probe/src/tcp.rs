//! The tcp prober (and `tls`, which is tcp with TLS from the start), following
//! blackbox_exporter's `ProbeTCP` and `probeQueryResponses`: connect, optionally handshake, then
//! for each `query_response` read lines until one matches `expect` and send `send` with the
//! match's groups expanded. Phases `resolve`, `connect` (and `tls`) are kept for the table;
//! blackbox_exporter exports none for tcp.

use crate::result::Outcome;
use crate::spec::TcpSpec;
use std::net::SocketAddr;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Runs the tcp prober against `target` (already substituted); `sends` are the `send` lines
/// after variable substitution, one per `query_response` entry.
pub async fn probe(
    spec: &TcpSpec,
    target: &str,
    sends: &[Option<String>],
    deadline: tokio::time::Instant,
    out: &mut Outcome,
) {
    let Some((host, port)) = crate::spec::host_port(target) else {
        out.fail("resolve", format!("target `{target}` is not host:port"));
        return;
    };
    let Some((ip, lookup)) = crate::net::choose(&host, spec.ip, out).await else {
        return;
    };
    out.add_phase("resolve", lookup);
    let sa = SocketAddr::new(ip, port);
    let t = Instant::now();
    let tcp = match tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(sa)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            out.add_phase("connect", t.elapsed().as_secs_f64());
            out.fail("connect", format!("connect to {sa}: {e}"));
            return;
        }
        Err(_) => {
            out.add_phase("connect", t.elapsed().as_secs_f64());
            out.fail("connect", format!("connect to {sa}: timed out"));
            return;
        }
    };
    out.add_phase("connect", t.elapsed().as_secs_f64());
    let stream: Box<dyn Io> = match &spec.tls {
        None => Box::new(tcp),
        Some(tls) => {
            let t = Instant::now();
            let r =
                tokio::time::timeout_at(deadline, crate::tls::connect(tcp, tls, &host, &[])).await;
            out.add_phase("tls", t.elapsed().as_secs_f64());
            match r {
                Ok(Ok((s, info))) => {
                    crate::tls::record(&info, tls, false, out);
                    Box::new(s)
                }
                Ok(Err(e)) => {
                    out.fail("tls", e);
                    return;
                }
                Err(_) => {
                    out.fail("tls", "TLS handshake timed out");
                    return;
                }
            }
        }
    };
    out.gauge(
        "probe_failed_due_to_regex",
        "Indicates if probe failed due to regex",
        0.0,
    );
    out.gauge(
        "probe_failed_due_to_bytes",
        "Indicates if probe failed due to bytes",
        0.0,
    );
    if out.failed_phase.is_some() {
        return;
    }
    let t = Instant::now();
    let r = tokio::time::timeout_at(deadline, converse(stream, spec, sends, out)).await;
    if !spec.query_response.is_empty() {
        out.add_phase("transfer", t.elapsed().as_secs_f64());
    }
    match r {
        Ok(true) => out.success = true,
        Ok(false) => {}
        Err(_) => out.fail("transfer", "timed out waiting for the expected line"),
    }
}

async fn converse(
    stream: Box<dyn Io>,
    spec: &TcpSpec,
    sends: &[Option<String>],
    out: &mut Outcome,
) -> bool {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    for (i, qr) in spec.query_response.iter().enumerate() {
        let mut send = sends.get(i).cloned().flatten();
        if let Some(re) = &qr.expect {
            let mut matched = None;
            loop {
                line.clear();
                match reader.read_line(&mut line).await {
                    Ok(0) => break,
                    Ok(_) => {
                        let l = line.trim_end_matches(['\r', '\n']);
                        if let Some(c) = re.captures(l) {
                            if let Some(s) = &send {
                                let mut expanded = String::new();
                                c.expand(s, &mut expanded);
                                send = Some(expanded);
                            }
                            matched = Some(());
                            break;
                        }
                    }
                    Err(e) => {
                        out.fail("transfer", format!("reading: {e}"));
                        return false;
                    }
                }
            }
            if matched.is_none() {
                out.set_metric("probe_failed_due_to_regex", 1.0);
                out.fail("validate", format!("no line matched {}", re.as_str()));
                return false;
            }
        }
        if let Some(s) = send {
            let w = reader.get_mut();
            if let Err(e) = w.write_all(format!("{s}\n").as_bytes()).await {
                out.fail("transfer", format!("sending: {e}"));
                return false;
            }
            let _ = w.flush().await;
        }
    }
    true
}
