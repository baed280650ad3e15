//! `nettwin bench probe`: HTTP probes per second against a local `probe serve` target from one
//! process, with CPU per probe and resident memory sampled over the run; with `--blackbox`, the
//! same load through blackbox_exporter's `/probe` and through nettwin's, side by side (CPU per
//! probe of each exporter process).

use crate::output;
use crate::Global;
use anyhow::Context;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(clap::Args)]
pub struct ProbeBenchArgs {
    /// Probes per second to aim for.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// How long to run (e.g. 60s, 10m).
    #[arg(long, default_value = "60s", value_parser = dur)]
    duration: Duration,
    /// Also drive blackbox_exporter (this binary) and `nettwin probe run --listen` through
    /// `/probe` at the same rate, for CPU per probe side by side.
    #[arg(long)]
    blackbox: Option<std::path::PathBuf>,
    /// Seconds between memory samples.
    #[arg(long, default_value_t = 10)]
    sample_every: u64,
}

fn dur(s: &str) -> Result<Duration, String> {
    nettwin_probe::spec::parse_duration(s).ok_or_else(|| format!("`{s}` is not a duration"))
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_port(addr: SocketAddr) -> anyhow::Result<()> {
    let end = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > end {
            anyhow::bail!("nothing listens on {addr} after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// User + system CPU seconds of a process, from /proc.
fn cpu_of(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map_or("", |r| r.1);
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// Resident memory of a process in MiB.
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|s| s.split(' ').nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |pages| pages * 4096.0 / (1 << 20) as f64)
}

#[derive(serde::Serialize)]
struct Run {
    what: String,
    seconds: f64,
    probes: u64,
    failed: u64,
    per_second: f64,
    cpu_seconds: f64,
    cpu_us_per_probe: f64,
    p50_ms: f64,
    p99_ms: f64,
    rss_mib: Vec<f64>,
}

/// Milliseconds in 1,000 log-spaced buckets from 1 us to 100 s (1.9% wide each).
struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; 1000],
            total: 0,
        }
    }
}

impl Histogram {
    const LO: f64 = 1e-3;
    const DECADES: f64 = 8.0;

    fn add(&mut self, ms: f64) {
        let x = (ms.max(Self::LO) / Self::LO).log10() / Self::DECADES * 1000.0;
        let i = (x as usize).min(999);
        self.counts[i] += 1;
        self.total += 1;
    }

    fn quantile(&self, q: f64) -> f64 {
        let want = (self.total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want.max(1) {
                return Self::LO * 10f64.powf((i as f64 + 0.5) / 1000.0 * Self::DECADES);
            }
        }
        0.0
    }
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

pub fn run(a: ProbeBenchArgs, g: Global) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; benchmark with --release");
    }
    let exe = std::env::current_exe()?;
    let dir = std::env::temp_dir().join(format!("nettwin-bench-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let _target = Kill(
        Command::new(&exe)
            .args([
                "probe",
                "serve",
                "--listen",
                &http.to_string(),
                "--tls-listen",
                "none",
                "--no-dns",
            ])
            .stdout(Stdio::null())
            .spawn()
            .context("starting probe serve")?,
    );
    wait_port(http)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut runs = Vec::new();
    // 1. In process: the scheduler runs `rate` probes a second (100 probes, each at rate/100).
    let n = 100u32;
    let interval = Duration::from_secs_f64(f64::from(n) / f64::from(a.rate.max(1)));
    let text = (0..n)
        .map(|i| format!("- {{name: p{i}, kind: http, url: \"http://{http}/\", interval: {}ms, timeout: 2s}}\n", interval.as_millis()))
        .collect::<String>();
    let file = nettwin_probe::parse("bench.yml", &format!("probes:\n{text}"))
        .map_err(|d| anyhow::anyhow!("{d}"))?;
    let me = std::process::id();
    runs.push(rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let sched = tokio::spawn(nettwin_probe::run::schedule(
            file.probes.clone(),
            tx,
            stop_rx,
        ));
        let cpu0 = cpu_of(me);
        let start = Instant::now();
        let end = tokio::time::Instant::now() + a.duration;
        let mut next_sample = Instant::now();
        let (mut probes, mut failed) = (0u64, 0u64);
        // A fixed histogram, not a list of samples: memory must stay flat over a long run.
        let mut hist = Histogram::default();
        let mut rss = Vec::new();
        while let Ok(Some(r)) = tokio::time::timeout_at(end, rx.recv()).await {
            probes += 1;
            failed += u64::from(!r.success);
            hist.add(r.duration * 1e3);
            if Instant::now() >= next_sample {
                rss.push(rss_mib(me));
                next_sample += Duration::from_secs(a.sample_every);
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let cpu = cpu_of(me) - cpu0;
        rss.push(rss_mib(me));
        let _ = stop_tx.send(true);
        let _ = sched.await;
        Run {
            what: "nettwin, in process (scheduler)".into(),
            seconds,
            probes,
            failed,
            per_second: probes as f64 / seconds,
            cpu_seconds: cpu,
            cpu_us_per_probe: cpu / probes.max(1) as f64 * 1e6,
            p50_ms: hist.quantile(0.5),
            p99_ms: hist.quantile(0.99),
            rss_mib: rss,
        }
    }));
    // 2. Side by side through /probe.
    if let Some(bb) = &a.blackbox {
        let bb_conf = dir.join("blackbox.yml");
        std::fs::write(&bb_conf, "modules:\n  web:\n    prober: http\n    timeout: 2s\n    http: {preferred_ip_protocol: ip4}\n")?;
        let ours_conf = dir.join("probes.yml");
        std::fs::write(&ours_conf, format!("probes:\n- {{name: web, kind: http, url: \"http://{http}/\", interval: 24h, timeout: 2s, ip_protocol: ip4}}\n"))?;
        let bb_addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let ours_addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let exporters = [
            (
                "blackbox_exporter /probe".to_string(),
                Kill(
                    Command::new(bb)
                        .arg(format!("--config.file={}", bb_conf.display()))
                        .arg(format!("--web.listen-address={bb_addr}"))
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .with_context(|| format!("starting {}", bb.display()))?,
                ),
                bb_addr,
            ),
            (
                "nettwin probe run /probe".to_string(),
                Kill(
                    Command::new(&exe)
                        .args(["probe", "run", "--listen", &ours_addr.to_string()])
                        .arg(&ours_conf)
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()?,
                ),
                ours_addr,
            ),
        ];
        for (what, child, addr) in &exporters {
            wait_port(*addr)?;
            let pid = child.0.id();
            let path = format!("/probe?module=web&target=http://{http}/");
            runs.push(rt.block_on(drive(
                what,
                *addr,
                path,
                pid,
                a.rate,
                a.duration,
                a.sample_every,
            )));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if g.json {
        return output::print_json(&runs);
    }
    let mut rows = vec![vec![
        "run".to_string(),
        "probes/s".into(),
        "failed".into(),
        "CPU us/probe".into(),
        "p50 ms".into(),
        "p99 ms".into(),
        "RSS MiB (samples)".into(),
    ]];
    for r in &runs {
        rows.push(vec![
            r.what.clone(),
            format!("{:.0}", r.per_second),
            r.failed.to_string(),
            format!("{:.0}", r.cpu_us_per_probe),
            format!("{:.2}", r.p50_ms),
            format!("{:.2}", r.p99_ms),
            r.rss_mib
                .iter()
                .map(|m| format!("{m:.1}"))
                .collect::<Vec<_>>()
                .join(" "),
        ]);
    }
    print!("{}", output::table(&rows));
    if runs.len() == 3 && runs[2].cpu_us_per_probe > 0.0 {
        println!(
            "CPU per probe, blackbox_exporter / nettwin (both through /probe): {:.2}",
            runs[1].cpu_us_per_probe / runs[2].cpu_us_per_probe
        );
    }
    Ok(())
}

/// `rate` GETs of `path` a second to an exporter for `duration`, one connection each (as
/// Prometheus scrapes do without keep-alive); CPU and memory of process `pid`.
async fn drive(
    what: &str,
    addr: SocketAddr,
    path: String,
    pid: u32,
    rate: u32,
    duration: Duration,
    sample_every: u64,
) -> Run {
    let cpu0 = cpu_of(pid);
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(bool, f64)>();
    let mut rss = Vec::new();
    let mut next_sample = Instant::now();
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(512));
    while start.elapsed() < duration {
        tick.tick().await;
        if Instant::now() >= next_sample {
            rss.push(rss_mib(pid));
            next_sample += Duration::from_secs(sample_every);
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            let _ = tx.send((false, 0.0));
            continue;
        };
        let tx = tx.clone();
        let path = path.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let ok = async {
                let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
                s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
                    .await
                    .ok()?;
                let mut buf = Vec::new();
                s.read_to_end(&mut buf).await.ok()?;
                let text = String::from_utf8_lossy(&buf);
                Some(text.starts_with("HTTP/1.") && text.contains("\nprobe_success 1"))
            };
            let ok = tokio::time::timeout(Duration::from_secs(5), ok)
                .await
                .ok()
                .flatten()
                .unwrap_or(false);
            let _ = tx.send((ok, t.elapsed().as_secs_f64() * 1e3));
            drop(permit);
        });
    }
    drop(tx);
    let mut durations = Vec::new();
    let (mut probes, mut failed) = (0u64, 0u64);
    while let Some((ok, ms)) = rx.recv().await {
        probes += 1;
        failed += u64::from(!ok);
        durations.push(ms);
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_of(pid) - cpu0;
    rss.push(rss_mib(pid));
    Run {
        what: what.to_string(),
        seconds,
        probes,
        failed,
        per_second: probes as f64 / seconds,
        cpu_seconds: cpu,
        cpu_us_per_probe: cpu / probes.max(1) as f64 * 1e6,
        p50_ms: pct(&mut durations, 0.5),
        p99_ms: pct(&mut durations, 0.99),
        rss_mib: rss,
    }
}
