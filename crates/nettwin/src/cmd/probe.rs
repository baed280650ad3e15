//! `nettwin probe`: synthetic transactions with `nettwin-probe`: run a probe file (once or on
//! its schedule, with a blackbox_exporter-compatible `/metrics` and `/probe`, SLO alerts to a
//! file and a webhook), serve a target, predict the probes on the twin. Only argument parsing
//! and printing live here.

use crate::output::{self, BadInput, Failed};
use crate::Global;
use anyhow::Context;
use nettwin_probe::predict::{self, Predicted, Twin};
use nettwin_probe::serve::ServeConfig;
use nettwin_probe::slo::{AlertEvent, Tracker};
use nettwin_probe::{ProbeFile, ProbeResult};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Synthetic transactions: DNS/TCP/TLS/HTTP/ICMP probes with blackbox_exporter's phases and
/// metrics, SLO burn-rate alerts, a target server, and predictions on the twin.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    nettwin probe serve --listen 127.0.0.1:8080 --ca-out /tmp/probe-ca.pem\n  \
    nettwin probe run examples/probe/probes.yml --once\n  \
    nettwin probe run examples/probe/probes.yml --listen 127.0.0.1:9115 --out results.jsonl\n  \
    nettwin probe predict examples/isp-dc.yml examples/probe/isp-dc.yml --from client1 --fail pe2-p1\n  \
    nettwin probe check examples/probe/probes.yml")]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    Run(RunArgs),
    Serve(ServeArgs),
    Predict(PredictArgs),
    Check(CheckArgs),
}

/// Run the probes of a file: once (--once), or each at its interval until stopped.
#[derive(clap::Args)]
struct RunArgs {
    /// The probe file (YAML with a `probes:` list).
    file: PathBuf,
    /// Run every probe once and exit: status 0 when all succeeded, 1 otherwise.
    #[arg(long)]
    once: bool,
    /// Serve /metrics and /probe?target=&module= here, as blackbox_exporter (e.g. 127.0.0.1:9115).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Append every result as a JSON line to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Append alert events (SLO burn rates) as JSON lines to this file.
    #[arg(long)]
    alerts: Option<PathBuf>,
    /// Stop after this long (e.g. 30s, 10m); runs until interrupted otherwise.
    #[arg(long, value_parser = duration)]
    duration: Option<Duration>,
    /// Run every probe once inside this `nettwin emu` run (root), against `probe serve` targets
    /// started on the target nodes, and print measured and predicted side by side.
    #[arg(long, value_name = "RUN")]
    emu: Option<String>,
    /// With --emu: the vantage node (else each probe's `from:`).
    #[arg(long, requires = "emu")]
    from: Option<String>,
}

/// A target for probes: HTTP/1.1 and HTTP/2, HTTPS with a generated certificate, DNS over UDP.
#[derive(clap::Args)]
struct ServeArgs {
    /// HTTP on this address and port (TCP), DNS on the same port over UDP.
    #[arg(long)]
    listen: SocketAddr,
    /// HTTPS here (default: the next port); `none` for no HTTPS.
    #[arg(long)]
    tls_listen: Option<String>,
    /// Write the generated CA certificate (PEM) here, for probes' `ca_file`.
    #[arg(long)]
    ca_out: Option<PathBuf>,
    /// Names and addresses in the certificate (repeat); localhost, probe.test, 127.0.0.1, ::1 by default.
    #[arg(long = "cert-name")]
    cert_names: Vec<String>,
    /// Days until the certificate expires.
    #[arg(long, default_value_t = 90)]
    cert_days: u32,
    /// Offer only TLS 1.2.
    #[arg(long)]
    tls12_only: bool,
    /// Delay every HTTP answer (e.g. 50ms).
    #[arg(long, value_parser = duration)]
    delay: Option<Duration>,
    /// Delay every DNS answer.
    #[arg(long, value_parser = duration)]
    dns_delay: Option<Duration>,
    /// Answer every Nth HTTP request with 503.
    #[arg(long, default_value_t = 0)]
    fail_every: u64,
    /// An extra DNS record NAME=ADDRESS (A or AAAA); repeat.
    #[arg(long = "record")]
    records: Vec<String>,
    /// Serve no DNS.
    #[arg(long)]
    no_dns: bool,
}

/// Predict the probes on the twin: paths both ways, RTT from link latencies, phases as round
/// trips, MTU black holes; with --fail, before and after.
#[derive(clap::Args)]
struct PredictArgs {
    /// The topology file.
    topology: PathBuf,
    /// The probe file.
    file: PathBuf,
    /// The node the probes run from (else each probe's `from:`).
    #[arg(long)]
    from: Option<String>,
    /// A link or node to fail; repeat for more. Shows which probes break or slow down.
    #[arg(long)]
    fail: Vec<String>,
}

/// Check a probe file and list its probes.
#[derive(clap::Args)]
struct CheckArgs {
    file: PathBuf,
}

fn duration(s: &str) -> Result<Duration, String> {
    nettwin_probe::spec::parse_duration(s)
        .ok_or_else(|| format!("`{s}` is not a duration (500ms, 10s, 5m)"))
}

pub fn run(args: Args, g: Global) -> anyhow::Result<()> {
    if !matches!(args.what, What::Check(_) | What::Predict(_)) {
        // main() restores SIGPIPE's default for `| head`; a server writing to a peer that has
        // gone (hyper writes with writev, which has no MSG_NOSIGNAL) must get EPIPE instead.
        // SAFETY: setting one signal's disposition; no handler runs.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
    }
    match args.what {
        What::Run(a) => run_probes(a, g),
        What::Serve(a) => serve(a, g),
        What::Predict(a) => predict_cmd(a, g),
        What::Check(a) => check(a, g),
    }
}

fn load(path: &Path) -> anyhow::Result<ProbeFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BadInput(format!("error: cannot read {}: {e}", path.display())))?;
    nettwin_probe::parse(&path.display().to_string(), &text)
        .map_err(|d| BadInput(output::render_diagnostics(&d, &text)).into())
}

fn check(a: CheckArgs, g: Global) -> anyhow::Result<()> {
    let f = load(&a.file)?;
    if g.json {
        let list: Vec<serde_json::Value> = f
            .probes
            .iter()
            .map(|p| {
                serde_json::json!({"name": p.name, "kind": p.kind.name(), "target": p.kind.target(),
                "interval": p.interval.as_secs_f64(), "timeout": p.timeout.as_secs_f64(), "slo": p.slo.is_some()})
            })
            .collect();
        return output::print_json(&list);
    }
    let mut rows = vec![vec![
        "probe".to_string(),
        "kind".into(),
        "target".into(),
        "interval".into(),
        "timeout".into(),
        "slo".into(),
    ]];
    for p in &f.probes {
        rows.push(vec![
            p.name.clone(),
            p.kind.name().into(),
            p.kind.target(),
            format!("{:?}", p.interval),
            format!("{:?}", p.timeout),
            if p.slo.is_some() {
                "yes".into()
            } else {
                "-".into()
            },
        ]);
    }
    print!("{}", output::table(&rows));
    println!("{} probes, ok", f.probes.len());
    Ok(())
}

fn ms(s: f64) -> String {
    format!("{:.1}", s * 1e3)
}

/// One line of the live table.
fn live_line(r: &ProbeResult) -> String {
    let status = match (&r.skipped, r.success) {
        (Some(_), _) => "skip",
        (None, true) => "ok",
        (None, false) => "FAIL",
    };
    let phases: Vec<String> = r
        .phases
        .iter()
        .filter(|p| p.seconds > 0.0)
        .map(|p| format!("{} {}", p.name, ms(p.seconds)))
        .collect();
    let mut line = format!(
        "{:<5} {:<16} {:<11} {:>8} ms  {}",
        status,
        r.probe,
        r.kind,
        ms(r.duration),
        phases.join(", ")
    );
    if let Some(e) = r.skipped.as_ref().or(r.error.as_ref()) {
        line.push_str(&format!("  [{}] {e}", r.failed_phase.unwrap_or("")));
    }
    line
}

/// A transaction's steps as a waterfall: one bar per step, placed at its start.
fn waterfall(r: &ProbeResult) -> String {
    let total = r
        .steps
        .iter()
        .map(|s| s.start + s.duration)
        .fold(0.0, f64::max)
        .max(1e-9);
    let width = 40.0;
    let mut out = String::new();
    for s in &r.steps {
        let lead = ((s.start / total) * width).round() as usize;
        let len = (((s.duration / total) * width).round() as usize).max(1);
        out.push_str(&format!(
            "    {:<12} {}{} {:>8} ms {}{}\n",
            s.name,
            " ".repeat(lead),
            "#".repeat(len.min(40usize.saturating_sub(lead).max(1))),
            ms(s.duration),
            if s.success { "ok" } else { "FAIL" },
            s.error
                .as_ref()
                .map(|e| format!(" {e}"))
                .unwrap_or_default()
        ));
    }
    out
}

fn append(path: &Path, line: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    writeln!(f, "{line}").with_context(|| format!("cannot write {}", path.display()))
}

fn run_probes(a: RunArgs, g: Global) -> anyhow::Result<()> {
    let file = load(&a.file)?;
    if let Some(run) = &a.emu {
        return lab(&file, run, a.from.as_deref(), g);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let exporter = nettwin_probe::exporter::Exporter::new(file.probes.clone());
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        if let Some(addr) = a.listen {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| BadInput(format!("error: cannot listen on {addr}: {e}")))?;
            eprintln!("serving /metrics and /probe on http://{}", l.local_addr()?);
            tokio::spawn(nettwin_probe::exporter::serve(l, exporter.clone(), stop_rx.clone()));
        }
        let mut trackers: Vec<Option<Tracker>> = file.probes.iter().map(Tracker::new).collect();
        let webhook = file.webhook.clone();
        let mut handle = |r: &ProbeResult| -> anyhow::Result<Vec<AlertEvent>> {
            exporter.record(r);
            let line = serde_json::to_string(r)?;
            if let Some(out) = &a.out {
                append(out, &line)?;
            }
            if g.json {
                println!("{line}");
            } else {
                println!("{}", live_line(r));
                if !r.steps.is_empty() {
                    print!("{}", waterfall(r));
                }
            }
            let _ = std::io::stdout().flush();
            let mut events = Vec::new();
            if let Some(i) = file.probes.iter().position(|p| p.name == r.probe) {
                if let Some(t) = trackers[i].as_mut() {
                    if r.skipped.is_none() {
                        events = t.record(r.time, r.success, r.duration);
                    }
                }
            }
            Ok(events)
        };
        let deliver = |events: Vec<AlertEvent>| -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
            let mut posts = Vec::new();
            for e in events {
                let line = serde_json::to_string(&e)?;
                if let Some(path) = &a.alerts {
                    append(path, &line)?;
                }
                if !g.json {
                    eprintln!("alert {}: {} {} {} (burn {:.1}x over {}s and {:.1}x over {}s, threshold {}x)",
                        e.state, e.probe, e.slo, e.severity, e.burn_rate_long, e.long_window_seconds,
                        e.burn_rate_short, e.short_window_seconds, e.burn_rate_threshold);
                }
                if let Some(url) = webhook.clone() {
                    posts.push(tokio::spawn(async move {
                        if let Err(err) = nettwin_probe::http::post_json(&url, line, Duration::from_secs(5)).await {
                            eprintln!("warning: webhook {url}: {err}");
                        }
                    }));
                }
            }
            Ok(posts)
        };
        if a.once {
            let mut set = tokio::task::JoinSet::new();
            for p in file.probes.clone() {
                set.spawn(async move { nettwin_probe::run::run_once(&p).await });
            }
            let mut results = Vec::new();
            while let Some(r) = set.join_next().await {
                results.push(r?);
            }
            // File order, whatever order they finished in.
            results.sort_by_key(|r| file.probes.iter().position(|p| p.name == r.probe));
            let mut posts = Vec::new();
            for r in &results {
                let ev = handle(r)?;
                posts.extend(deliver(ev)?);
            }
            for p in posts {
                let _ = p.await;
            }
            let failed = results.iter().filter(|r| !r.success && r.skipped.is_none()).count();
            if !g.json {
                println!("{} probes: {} ok, {} failed, {} skipped", results.len(),
                    results.iter().filter(|r| r.success).count(), failed,
                    results.iter().filter(|r| r.skipped.is_some()).count());
            }
            let _ = stop_tx.send(true);
            return if failed > 0 { Err(Failed.into()) } else { Ok(()) };
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let sched = tokio::spawn(nettwin_probe::run::schedule(file.probes.clone(), tx, stop_rx.clone()));
        let deadline = a.duration.map(|d| tokio::time::Instant::now() + d);
        let mut pending = Vec::new();
        loop {
            let next = async {
                match deadline {
                    Some(d) => tokio::time::timeout_at(d, rx.recv()).await.ok().flatten(),
                    None => rx.recv().await,
                }
            };
            let Some(r) = next.await else { break };
            let ev = handle(&r)?;
            // Webhooks are posted in the background; the schedule does not wait for them.
            pending.retain(|p: &tokio::task::JoinHandle<()>| !p.is_finished());
            pending.extend(deliver(ev)?);
        }
        let _ = stop_tx.send(true);
        let _ = sched.await;
        // Alerts already decided are delivered before exiting (each POST has its own timeout).
        for p in pending {
            let _ = p.await;
        }
        Ok(())
    })
}

fn lab(file: &ProbeFile, run: &str, from: Option<&str>, g: Global) -> anyhow::Result<()> {
    if !nettwin_emu::is_root() {
        return Err(BadInput(
            "error: probe run --emu needs root (it enters the run's network namespaces)".into(),
        )
        .into());
    }
    let state = nettwin_emu::RunState::load(run).map_err(|e| BadInput(format!("error: {e}")))?;
    let topo = output::load_topology(Path::new(&state.file))?;
    if let Some(f) = from {
        predict::node_id(&topo, f).map_err(|e| BadInput(format!("error: {e}")))?;
    }
    let results =
        nettwin_probe::lab::run_lab(&topo, &file.probes, run, from).map_err(|e| match e {
            nettwin_probe::lab::LabError::Predict(p) => BadInput(format!("error: {p}")).into(),
            e => anyhow::anyhow!(e),
        })?;
    if g.json {
        return output::print_json(&results);
    }
    let mut rows = vec![vec![
        "probe".to_string(),
        "from".into(),
        "to".into(),
        "predicted".into(),
        "measured".into(),
        "predicted ms".into(),
        "measured ms".into(),
        "measured phases".into(),
    ]];
    let verdict = |ok: bool, skipped: bool, phase: Option<&str>| {
        if skipped {
            "skip".to_string()
        } else if ok {
            "ok".into()
        } else {
            format!("FAIL ({})", phase.unwrap_or(""))
        }
    };
    for r in &results {
        let (p, m) = (&r.predicted, &r.measured);
        rows.push(vec![
            p.probe.clone(),
            p.from.clone(),
            p.dst.map_or(p.target.clone(), |d| d.to_string()),
            verdict(p.success, false, p.failed_phase),
            verdict(m.success, m.skipped.is_some(), m.failed_phase),
            ms(p.duration),
            ms(m.duration),
            m.phases
                .iter()
                .filter(|x| x.seconds > 0.0)
                .map(|x| format!("{} {}", x.name, ms(x.seconds)))
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    print!("{}", output::table(&rows));
    for r in &results {
        if let Some(e) = r.measured.error.as_ref().or(r.measured.skipped.as_ref()) {
            println!("{}: measured: {e}", r.measured.probe);
        }
        if let Some(why) = &r.predicted.reason {
            println!("{}: predicted: {why}", r.predicted.probe);
        }
    }
    let disagree = results
        .iter()
        .filter(|r| r.measured.skipped.is_none() && r.measured.success != r.predicted.success)
        .count();
    if disagree > 0 {
        println!("{disagree} probe(s) where the lab and the twin disagree on success");
        return Err(Failed.into());
    }
    Ok(())
}

fn serve(a: ServeArgs, g: Global) -> anyhow::Result<()> {
    let mut c = ServeConfig::new(a.listen);
    c.tls_listen = match a.tls_listen.as_deref() {
        None => c.tls_listen,
        Some("none") => None,
        Some(s) => Some(
            s.parse()
                .map_err(|_| BadInput(format!("error: --tls-listen {s}: not ADDR:PORT or none")))?,
        ),
    };
    if !a.cert_names.is_empty() {
        c.cert_names = a.cert_names.clone();
    }
    c.cert_days = a.cert_days;
    c.tls12_only = a.tls12_only;
    c.delay = a.delay.unwrap_or_default();
    c.dns_delay = a.dns_delay.unwrap_or_default();
    c.fail_every = a.fail_every;
    c.dns = !a.no_dns;
    for r in &a.records {
        let (n, ip) = r
            .split_once('=')
            .and_then(|(n, ip)| Some((n.to_string(), ip.parse().ok()?)))
            .ok_or_else(|| BadInput(format!("error: --record {r}: write it as NAME=ADDRESS")))?;
        c.records.push((n, ip));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let h = nettwin_probe::serve::start(c).await.map_err(|e| BadInput(format!("error: {e}")))?;
        if let Some(p) = &a.ca_out {
            output::write_atomic(p, h.ca_pem.as_bytes())?;
        }
        if g.json {
            println!("{}", serde_json::json!({"http": h.http.to_string(), "https": h.https.map(|a| a.to_string()),
                "dns": h.dns.map(|a| a.to_string()), "ca": a.ca_out}));
        } else {
            println!("http  http://{}/", h.http);
            if let Some(s) = h.https {
                println!("https https://{s}/");
            }
            if let Some(d) = h.dns {
                println!("dns   {d} (udp), zone {}", nettwin_probe::serve::ZONE);
            }
            if let Some(p) = &a.ca_out {
                println!("ca    {}", p.display());
            }
        }
        let _ = std::io::stdout().flush();
        for t in h.tasks {
            let _ = t.await;
        }
        Ok(())
    })
}

fn changes(
    topo: &nettwin_model::Topology,
    fail: &[String],
) -> anyhow::Result<Vec<nettwin_routing::whatif::Change>> {
    use super::whatif::{failed_element, FailedElement};
    use nettwin_routing::whatif::Change;
    fail.iter()
        .map(|name| {
            Ok(match failed_element(topo, name)? {
                FailedElement::Link(l) => Change::LinkDown(l),
                FailedElement::Node(n) => Change::NodeDown(n),
            })
        })
        .collect()
}

fn phase_text(p: &Predicted) -> String {
    p.phases
        .iter()
        .filter(|ph| ph.seconds > 0.0)
        .map(|ph| format!("{} {}", ph.name, ms(ph.seconds)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn predict_cmd(a: PredictArgs, g: Global) -> anyhow::Result<()> {
    let topo = output::load_topology(&a.topology)?;
    super::routes::compute(&topo)?;
    let file = load(&a.file)?;
    let err =
        |e: predict::PredictError| -> anyhow::Error { BadInput(format!("error: {e}")).into() };
    if let Some(f) = &a.from {
        predict::node_id(&topo, f).map_err(err)?;
    }
    let base = Twin::new(&topo, &[]).map_err(err)?;
    let before = predict::predict_all(&base, &file.probes, a.from.as_deref()).map_err(err)?;
    if a.fail.is_empty() {
        if g.json {
            return output::print_json(&before);
        }
        let mut rows = vec![vec![
            "probe".to_string(),
            "kind".into(),
            "from".into(),
            "to".into(),
            "result".into(),
            "rtt ms".into(),
            "trips".into(),
            "total ms".into(),
            "phases".into(),
        ]];
        for p in &before {
            rows.push(vec![
                p.probe.clone(),
                p.kind.into(),
                p.from.clone(),
                p.dst.map_or(p.target.clone(), |d| d.to_string()),
                if p.success {
                    "ok".into()
                } else {
                    format!("FAIL ({})", p.failed_phase.unwrap_or(""))
                },
                format!("{:.1}", p.rtt_ms),
                format!("{}", p.round_trips),
                ms(p.duration),
                phase_text(p),
            ]);
        }
        print!("{}", output::table(&rows));
        for p in &before {
            if let Some(r) = &p.reason {
                println!("{}: {r}", p.probe);
            }
            for n in &p.notes {
                println!("{}: note: {n}", p.probe);
            }
            if let (Some(f), Some(r)) = (&p.forward, &p.reverse) {
                if g.verbose > 0 {
                    println!(
                        "{}: path {} / back {}",
                        p.probe,
                        f.nodes.join(" > "),
                        r.nodes.join(" > ")
                    );
                }
            }
        }
        return Ok(());
    }
    let ch = changes(&topo, &a.fail)?;
    let failed = Twin::new(&topo, &ch).map_err(err)?;
    let after = predict::predict_all(&failed, &file.probes, a.from.as_deref()).map_err(err)?;
    let cmp = predict::compare(before, after);
    if g.json {
        return output::print_json(&cmp);
    }
    let mut rows = vec![vec![
        "probe".to_string(),
        "before ms".into(),
        "after ms".into(),
        "change".into(),
        "verdict".into(),
    ]];
    for c in &cmp {
        let show = |p: &Predicted| {
            if p.success {
                ms(p.duration)
            } else {
                format!("FAIL ({})", p.failed_phase.unwrap_or(""))
            }
        };
        rows.push(vec![
            c.probe.clone(),
            show(&c.before),
            show(&c.after),
            if c.before.success && c.after.success {
                format!("{:+.1} ms", c.delta_ms)
            } else {
                "-".into()
            },
            c.verdict.into(),
        ]);
    }
    println!("with {} failed:", a.fail.join(", "));
    print!("{}", output::table(&rows));
    for c in &cmp {
        if let Some(r) = &c.after.reason {
            if c.verdict != "unchanged" {
                println!("{}: {r}", c.probe);
            }
        }
    }
    Ok(())
}
