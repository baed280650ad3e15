//! The exporter's HTTP endpoints, as blackbox_exporter answers them: `/probe?target=&module=`
//! runs the module (a probe of the file, aimed at `target`) and answers its gauges; `/metrics`
//! answers the latest result of every scheduled probe, each sample labelled with `probe` and
//! the probe's own labels.

use crate::metrics::{exposition, samples, Sample};
use crate::result::ProbeResult;
use crate::spec::{Kind, Probe};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

/// What the endpoints answer from: the probes (modules) and their latest results.
pub struct Exporter {
    pub probes: Vec<Probe>,
    latest: Mutex<BTreeMap<String, ProbeResult>>,
}

impl Exporter {
    pub fn new(probes: Vec<Probe>) -> Arc<Exporter> {
        Arc::new(Exporter {
            probes,
            latest: Mutex::new(BTreeMap::new()),
        })
    }

    /// Keeps `r` as its probe's latest result.
    pub fn record(&self, r: &ProbeResult) {
        if let Ok(mut l) = self.latest.lock() {
            l.insert(r.probe.clone(), r.clone());
        }
    }

    /// `/metrics`: the latest result of each probe.
    pub fn metrics(&self) -> String {
        let latest = self.latest.lock().map(|l| l.clone()).unwrap_or_default();
        let mut all: Vec<Sample> = Vec::new();
        for p in &self.probes {
            let Some(r) = latest.get(&p.name) else {
                continue;
            };
            let mut extra: Vec<(String, String)> = vec![("probe".into(), p.name.clone())];
            extra.extend(p.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            all.extend(samples(r, p.timeout.as_secs_f64(), &extra));
        }
        exposition(&all)
    }

    /// `/probe`: status and body, as blackbox_exporter answers.
    pub async fn probe(&self, query: &str) -> (u16, String) {
        let params = parse_query(query);
        let get = |k: &str| {
            params
                .iter()
                .find(|(pk, _)| pk == k)
                .map(|(_, v)| v.clone())
        };
        let module = get("module").unwrap_or_else(|| "http_2xx".into());
        let Some(probe) = self.probes.iter().find(|p| p.name == module) else {
            return (400, format!("Unknown module \"{module}\"\n"));
        };
        let Some(target) = get("target").filter(|t| !t.is_empty()) else {
            return (400, "Target parameter is missing\n".into());
        };
        let kind = match &probe.kind {
            Kind::Http(_) => {
                let lower = target.to_ascii_lowercase();
                let t = if lower.starts_with("http://") || lower.starts_with("https://") {
                    target
                } else {
                    format!("http://{target}")
                };
                probe.kind.with_target(&t)
            }
            Kind::Transaction(_) => probe.kind.clone(),
            k => k.with_target(&target),
        };
        let r = crate::run::run_with(probe, &kind).await;
        (
            200,
            exposition(&samples(&r, probe.timeout.as_secs_f64(), &[])),
        )
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len()
                && b[i + 1].is_ascii_hexdigit()
                && b[i + 2].is_ascii_hexdigit() =>
            {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Serves `/metrics`, `/probe` and a short index on `listener` until `stop` changes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    exporter: Arc<Exporter>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(_) => continue,
            },
            _ = stop.changed() => return,
        };
        let exporter = exporter.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(
                move |req: http::Request<hyper::body::Incoming>| {
                    let exporter = exporter.clone();
                    async move {
                        let (status, ctype, body) = match req.uri().path() {
                        "/metrics" => (200, "text/plain; version=0.0.4; charset=utf-8", exporter.metrics()),
                        "/probe" => {
                            let (s, b) = exporter.probe(req.uri().query().unwrap_or("")).await;
                            (s, "text/plain; version=0.0.4; charset=utf-8", b)
                        }
                        "/" => (
                            200,
                            "text/plain; charset=utf-8",
                            format!(
                                "nettwin probe exporter\n/metrics  latest result of each probe\n/probe?target=T&module=M  run module M (a probe name) against T\nmodules: {}\n",
                                exporter.probes.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
                            ),
                        ),
                        _ => (404, "text/plain", "not found\n".to_string()),
                    };
                        let mut r = http::Response::new(Full::new(Bytes::from(body)));
                        *r.status_mut() =
                            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
                        r.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static(ctype),
                        );
                        Ok::<_, Infallible>(r)
                    }
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        let q = parse_query("target=http%3A%2F%2Fa%3A1%2Fx&module=web+2&bad=%zz&end=%4");
        assert_eq!(q[0].1, "http://a:1/x");
        assert_eq!(q[1].1, "web 2");
        assert_eq!(q[2].1, "%zz");
        assert_eq!(q[3].1, "%4");
    }
}
