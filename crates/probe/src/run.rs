//! Running probes: one run with its retries and timeout, transactions step by step with
//! captured variables, and the schedule that runs every probe at its interval.

use crate::result::{Outcome, ProbeResult, StepResult};
use crate::spec::{substitute, CaptureFrom, Kind, Probe, Step};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Runs one kind once (a step, or a whole probe that is not a transaction).
async fn run_kind(
    kind: &Kind,
    vars: &BTreeMap<String, String>,
    session: &mut crate::http::Session,
    deadline: tokio::time::Instant,
) -> Outcome {
    let mut out = Outcome::default();
    let sub = |s: &str, out: &mut Outcome| match substitute(s, vars) {
        Ok(v) => Some(v),
        Err(e) => {
            out.fail("resolve", e);
            None
        }
    };
    match kind {
        Kind::Http(spec) => {
            let mut spec = spec.clone();
            let Some(url) = sub(&spec.url, &mut out) else {
                return out;
            };
            spec.url = url;
            for (_, v) in spec.headers.iter_mut() {
                let Some(nv) = sub(v, &mut out) else {
                    return out;
                };
                *v = nv;
            }
            if let Some(b) = &spec.body {
                let Some(nb) = sub(b, &mut out) else {
                    return out;
                };
                spec.body = Some(nb);
            }
            crate::http::probe(&spec, session, deadline, &mut out).await;
        }
        Kind::Dns(spec) => {
            let Some(q) = sub(&spec.qname, &mut out) else {
                return out;
            };
            crate::dns::probe(spec, &q, deadline, &mut out).await;
        }
        Kind::Tcp(spec) => {
            let Some(target) = sub(&spec.target, &mut out) else {
                return out;
            };
            let mut sends = Vec::new();
            for qr in &spec.query_response {
                match &qr.send {
                    None => sends.push(None),
                    Some(s) => {
                        let Some(v) = sub(s, &mut out) else {
                            return out;
                        };
                        sends.push(Some(v));
                    }
                }
            }
            crate::tcp::probe(spec, &target, &sends, deadline, &mut out).await;
        }
        Kind::Icmp(spec) => {
            let Some(t) = sub(&spec.target, &mut out) else {
                return out;
            };
            crate::icmp::probe(spec, &t, deadline, &mut out).await;
        }
        Kind::Transaction(_) => out.fail("resolve", "a transaction cannot be a step"),
    }
    if out.failed_phase.is_some() {
        out.success = false;
    }
    out
}

fn capture(step: &Step, out: &Outcome) -> Result<Vec<(String, String)>, String> {
    let mut got = Vec::new();
    for c in &step.captures {
        let v = match &c.from {
            CaptureFrom::Header(h) => out
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(h))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("no `{h}` header to capture into `{}`", c.var))?,
            CaptureFrom::Json(p) => {
                let v: serde_json::Value = serde_json::from_slice(&out.body)
                    .map_err(|e| format!("body is not JSON, cannot capture `{}`: {e}", c.var))?;
                match p.get(&v) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => {
                        return Err(format!("{} is missing, cannot capture `{}`", p.text, c.var))
                    }
                }
            }
            CaptureFrom::Regex(r) => {
                let body = String::from_utf8_lossy(&out.body);
                let caps = r.captures(&body).ok_or_else(|| {
                    format!(
                        "body does not match {}, cannot capture `{}`",
                        r.as_str(),
                        c.var
                    )
                })?;
                caps.get(1)
                    .or_else(|| caps.get(0))
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default()
            }
        };
        got.push((c.var.clone(), v));
    }
    Ok(got)
}

/// One attempt of `probe`, without retries, with `kind` replacing the probe's own (for
/// `/probe?target=`).
async fn attempt(probe: &Probe, kind: &Kind) -> (Outcome, Vec<StepResult>) {
    let deadline = tokio::time::Instant::now() + probe.timeout;
    let Kind::Transaction(steps) = kind else {
        let mut s = crate::http::Session::default();
        let out =
            tokio::time::timeout_at(deadline, run_kind(kind, &BTreeMap::new(), &mut s, deadline))
                .await
                .unwrap_or_else(|_| {
                    let mut o = Outcome::default();
                    o.fail(
                        "timeout",
                        format!("no result within the timeout of {:?}", probe.timeout),
                    );
                    o
                });
        return (out, Vec::new());
    };
    let start = Instant::now();
    let mut vars = BTreeMap::new();
    let mut session = crate::http::Session::default();
    let mut results = Vec::new();
    let mut total = Outcome {
        success: true,
        ..Outcome::default()
    };
    for step in steps {
        let t = Instant::now();
        let mut out = match tokio::time::timeout_at(
            deadline,
            run_kind(&step.kind, &vars, &mut session, deadline),
        )
        .await
        {
            Ok(o) => o,
            Err(_) => {
                let mut o = Outcome::default();
                o.fail("timeout", "the transaction ran out of time");
                o
            }
        };
        let mut captured = Vec::new();
        if out.failed_phase.is_none() {
            match capture(step, &out) {
                Ok(c) => captured = c,
                Err(e) => out.fail("capture", e),
            }
        }
        for (k, v) in &captured {
            vars.insert(k.clone(), v.clone());
        }
        for p in &out.phases {
            total.add_phase(p.name, p.seconds);
        }
        let ok = out.failed_phase.is_none();
        results.push(StepResult {
            name: step.name.clone(),
            kind: step.kind.name(),
            target: substitute(&step.kind.target(), &vars).unwrap_or_else(|_| step.kind.target()),
            success: ok,
            start: (t - start).as_secs_f64(),
            duration: t.elapsed().as_secs_f64(),
            phases: out.phases.clone(),
            failed_phase: out.failed_phase,
            error: out.error.clone(),
            status: out.status,
            captured,
        });
        if !ok {
            total.success = false;
            total.failed_phase = out.failed_phase;
            total.error = Some(format!(
                "step {}: {}",
                step.name,
                out.error.unwrap_or_default()
            ));
            break;
        }
    }
    (total, results)
}

/// Runs `probe` once, retrying a failed attempt up to `retries` times.
pub async fn run_once(probe: &Probe) -> ProbeResult {
    run_with(probe, &probe.kind).await
}

/// Runs `probe` with another `kind` (the same probe aimed elsewhere).
pub async fn run_with(probe: &Probe, kind: &Kind) -> ProbeResult {
    let time = unix_now();
    let start = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (out, steps) = attempt(probe, kind).await;
        let ok = out.failed_phase.is_none() && (out.success || !steps.is_empty());
        if ok || out.skipped.is_some() || attempts > probe.retries {
            return ProbeResult {
                probe: probe.name.clone(),
                kind: kind.name(),
                target: kind.target(),
                time,
                success: ok && out.skipped.is_none(),
                duration: start.elapsed().as_secs_f64(),
                attempts,
                failed_phase: if ok { None } else { out.failed_phase },
                error: if ok { None } else { out.error },
                skipped: out.skipped,
                phases: out.phases,
                steps,
                metrics: out.metrics,
            };
        }
    }
}

/// Runs every probe at its interval until `stop` says so, sending each result on `tx`. Probes
/// start spread over their first interval, so a file of many probes does not burst.
pub async fn schedule(
    probes: Vec<Probe>,
    tx: tokio::sync::mpsc::Sender<ProbeResult>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let n = probes.len().max(1) as u32;
    let mut tasks = Vec::new();
    for (i, probe) in probes.into_iter().enumerate() {
        let tx = tx.clone();
        let mut stop = stop.clone();
        let offset = probe.interval.min(Duration::from_secs(5)) / n * i as u32;
        tasks.push(tokio::spawn(async move {
            let mut tick =
                tokio::time::interval_at(tokio::time::Instant::now() + offset, probe.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                if *stop.borrow() {
                    return;
                }
                let r = run_once(&probe).await;
                if tx.send(r).await.is_err() {
                    return;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
